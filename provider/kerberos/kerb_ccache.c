/*
 * provider/kerberos/kerb_ccache.c - a TGT from an MIT credential cache
 * (FILE:, DIR:, KEYRING:, KCM:, through libkrb5).
 *
 * What this path protects, and what it does not (docs/key-exposure.md):
 * the ccache holds the TGT session key at rest, written there by kinit;
 * hsmssp cannot change that.  What it changes is the process: the key is
 * read once, imported into the token at acquire time, and libkrb5's copy
 * wiped, so a later memory disclosure in this process finds no key.  The
 * cache's other tickets are not imported (their keys stay in the file
 * and never enter this process); service tickets come from the KDC with
 * the TGT on the token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <krb5.h>

#include "provider/kerberos/kerb-int.h"


/* One line for a libkrb5 failure, with its message. */
static hsmssp_err
krb_fail(krb5_context kc, krb5_error_code code, hsmssp_err err,
         const char *what)
{
    const char *m = krb5_get_error_message(kc, code);
    hsmssp_err ret = BASE_ERR(err, "%s: %s", what, m ? m : "libkrb5 error");

    krb5_free_error_message(kc, m);
    return ret;
}

hsmssp_err
kerb_ccache_load(prov_env *env, hsm_token *tok, const char *name,
                 const char *principal, int64_t newer_than, char **name_out,
                 kerb_tkt **tgt_out)
{
    const prov_config *cfg = prov_env_config(env);
    krb5_context kc = NULL;
    krb5_ccache cc = NULL;
    krb5_principal want = NULL, client = NULL, tgs = NULL;
    krb5_creds mcreds, creds;
    bool have_creds = false;
    char *cname = NULL, *full = NULL;
    kerb_tkt *t = NULL;
    hsm_key_spec spec;
    base_secret kv;
    krb5_error_code code;
    hsmssp_err ret = HSMSSP_OK;

    *name_out = NULL;
    *tgt_out = NULL;
    memset(&mcreds, 0, sizeof(mcreds));
    memset(&creds, 0, sizeof(creds));
    code = krb5_init_context(&kc);
    if (code != 0)
        return BASE_ERR(HSMSSP_ERR_CONFIG,
                        "cannot read the Kerberos configuration");
    if (principal != NULL) {
        /* In a collection (DIR:, KEYRING:, KCM:) the principal picks the
         * cache; a single cache must hold that principal. */
        code = krb5_parse_name(kc, principal, &want);
        if (code != 0) {
            ret = krb_fail(kc, code, HSMSSP_ERR_INVALID_ARGUMENT, principal);
            goto cleanup;
        }
    }
    if (name != NULL)
        code = krb5_cc_resolve(kc, name, &cc);
    else if (want != NULL)
        code = krb5_cc_cache_match(kc, want, &cc);
    else
        code = krb5_cc_default(kc, &cc);
    if (code != 0) {
        ret = krb_fail(kc, code, HSMSSP_ERR_NO_TICKET,
                       principal ? "no credential cache for the principal"
                                 : "no credential cache");
        goto cleanup;
    }
    code = krb5_cc_get_principal(kc, cc, &client);
    if (code != 0) {
        ret = krb_fail(kc, code, HSMSSP_ERR_NO_TICKET,
                       "credential cache has no principal (run kinit)");
        goto cleanup;
    }
    if (want != NULL && !krb5_principal_compare(kc, want, client)) {
        ret = BASE_ERR(HSMSSP_ERR_NO_TICKET,
                       "credential cache holds another principal than %s",
                       principal);
        goto cleanup;
    }
    code = krb5_unparse_name(kc, client, &cname);
    if (code == 0)
        code = krb5_cc_get_full_name(kc, cc, &full);
    if (code == 0)
        code = krb5_build_principal_ext(
            kc, &tgs, client->realm.length, client->realm.data, 6, "krbtgt",
            client->realm.length, client->realm.data, 0);
    if (code != 0) {
        ret = krb_fail(kc, code, HSMSSP_ERR_NOMEM, "credential cache");
        goto cleanup;
    }
    if (strlen(cname) > KERB_KS_MAX_PRINCIPAL) {
        ret = BASE_ERR(HSMSSP_ERR_LIMIT, "principal name too long");
        goto cleanup;
    }
    mcreds.client = client;
    mcreds.server = tgs;
    code = krb5_cc_retrieve_cred(kc, cc, 0, &mcreds, &creds);
    if (code != 0) {
        ret = krb_fail(kc, code, HSMSSP_ERR_NO_TICKET,
                       "no TGT in the credential cache");
        goto cleanup;
    }
    have_creds = true;
    if ((int64_t)(uint32_t)creds.times.endtime <=
        prov_now_us() / 1000000 - cfg->clock_skew) {
        ret = BASE_ERR(HSMSSP_ERR_NO_TICKET,
                       "the TGT of %s in %s has expired (run kinit)", cname,
                       full);
        goto cleanup;
    }
    if (newer_than != 0 && (int64_t)(uint32_t)creds.times.endtime <=
                               newer_than) {
        ret = BASE_ERR(HSMSSP_ERR_NO_TICKET,
                       "%s holds no newer TGT of %s", full, cname);
        goto cleanup;
    }
    if (!kerb_etype_permitted(cfg, creds.keyblock.enctype)) {
        ret = BASE_ERR(HSMSSP_ERR_POLICY_ENCTYPE,
                       "the TGT session key in %s is of enctype %d, which "
                       "permitted_enctypes does not list",
                       full, (int)creds.keyblock.enctype);
        goto cleanup;
    }
    if (hsm_etype_keylen(creds.keyblock.enctype) == 0 ||
        hsm_etype_keylen(creds.keyblock.enctype) != creds.keyblock.length) {
        ret = BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE,
                       "the TGT session key in %s has enctype %d", full,
                       (int)creds.keyblock.enctype);
        goto cleanup;
    }

    ret = kerb_tkt_alloc(base_der_view(creds.ticket.data,
                                       creds.ticket.length),
                         &t);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(t->client, cname, strlen(cname) + 1);
    (void)snprintf(t->server, sizeof(t->server), "krbtgt/%.*s@%.*s",
                   (int)client->realm.length, client->realm.data,
                   (int)client->realm.length, client->realm.data);
    t->flags = creds.ticket_flags;
    /* krb5_timestamp is a signed 32-bit field that MIT reads as
     * unsigned (dates past 2038). */
    t->authtime = (uint32_t)creds.times.authtime;
    t->starttime = creds.times.starttime ? (uint32_t)creds.times.starttime
                                         : t->authtime;
    t->endtime = (uint32_t)creds.times.endtime;
    t->renew_till = (uint32_t)creds.times.renew_till;
    t->etype = creds.keyblock.enctype;

    /* The one moment the key is here: import, then wipe libkrb5's copy
     * (krb5_free_cred_contents frees it without clearing on every
     * version, so clear it first). */
    kerb_key_spec(&spec, t->etype, KERB_JOB_TGT);
    kv.data = creds.keyblock.contents;
    kv.len = creds.keyblock.length;
    kv.cap = creds.keyblock.length;
    ret = hsm_key_import(tok, &spec, &kv, &t->key);
    if (ret != HSMSSP_OK)
        goto cleanup;
    *name_out = strdup(full);
    if (*name_out == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    *tgt_out = t;
    t = NULL;
    base_log(HSMSSP_LOG_INFO, "kerberos",
             "TGT of %s taken from %s; its session key is now on the token",
             cname, full);
cleanup:
    if (have_creds) {
        if (creds.keyblock.contents != NULL)
            base_memzero(creds.keyblock.contents, creds.keyblock.length);
        krb5_free_cred_contents(kc, &creds);
    }
    kerb_tkt_unref(t);
    if (full != NULL)
        krb5_free_string(kc, full);
    if (cname != NULL)
        krb5_free_unparsed_name(kc, cname);
    krb5_free_principal(kc, tgs);
    krb5_free_principal(kc, client);
    krb5_free_principal(kc, want);
    if (cc != NULL)
        krb5_cc_close(kc, cc);
    krb5_free_context(kc);
    return ret;
}
