/*
 * tools/cli_session.c - keys imported into this process's token session
 * (`hsmssp server --import-keytab`, `hsmssp client --import-keytab`), for
 * tokens that cannot store keys, such as NSS softoken without a
 * database.  This is provisioning, not SSPI: the keys are registered with
 * the SSPI runtime's env, where credentials acquired later find them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "keytabs/keytabs.h"
#include "provider/kerberos/kerb-int.h"
#include "sspi/sspi-int.h"
#include "tools/cli.h"

int
cli_import_keytab_session(const char *path, bool quiet, const char *who)
{
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    kt_import_opts o = {.persistent = false, .keep_keys = true};
    kt_result *r = NULL;
    size_t n = 0, ok = 0;
    hsmssp_err ret;

    ret = sspi_runtime_env(&env);
    if (ret == HSMSSP_OK)
        ret = prov_env_token(env, &tok);
    if (ret == HSMSSP_OK)
        ret = kt_import(tok, path, &o, &r, &n);
    if (ret != HSMSSP_OK) {
        prov_env_unref(env);
        return cli_fail(ret, "importing the keytab");
    }
    for (size_t i = 0; i < n; i++) {
        if (r[i].err != HSMSSP_OK) {
            fprintf(stderr, "%s: %s kvno %u: %s\n", who,
                    r[i].e.principal, (unsigned)r[i].e.kvno, r[i].detail);
            continue;
        }
        ret = kerb_register_session_key(env, &r[i].e, r[i].key);
        if (ret != HSMSSP_OK) {
            kt_results_free(r, n);
            prov_env_unref(env);
            return cli_fail(ret, "registering a key");
        }
        r[i].key = NULL; /* the env owns it now */
        ok++;
        if (!quiet)
            printf("Imported %s kvno %u %s into the token session\n",
                   r[i].e.principal, (unsigned)r[i].e.kvno,
                   hsm_etype_name(r[i].e.etype));
    }
    kt_results_free(r, n);
    prov_env_unref(env);
    if (ok == 0) {
        fprintf(stderr, "%s: no key of %s could be imported\n", who,
                path);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

