/*
 * tools/account_cmd.c - `hsmssp account import`: an account's long-term
 * keys made from its password, once, and put on the token.
 *
 * String-to-key is the one moment an account's key exists on the host
 * (level H(import), docs/key-exposure.md): the password is read into a
 * secure buffer, each key is derived into one with the salt and
 * s2kparams the KDC announces for that enctype (ETYPE-INFO2, asked with
 * an AS-REQ that carries no key), checked against the KDC with an AS
 * exchange run on the token (which also tells the kvno), and stored on
 * the token under the key store's names; every buffer is wiped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "hsmssp/errors.h"
#include "provider/kerberos/kerb-int.h"
#include "provider/provider.h"
#include "tools/cli.h"

#define MAX_PASSWORD 1024

const char cli_account_help[] =
    "usage: hsmssp account import [--config FILE] [--salt SALT]\n"
    "                             [--kvno N] [--no-verify] [--replace]\n"
    "                             [--quiet] PRINCIPAL\n"
    "\n"
    "Reads PRINCIPAL's password from standard input (one line), makes its\n"
    "keys for every enctype the policy permits and the token runs, with\n"
    "the salt and parameters the KDC announces (--salt overrides the\n"
    "salt), checks each key with an AS exchange on the token, and stores\n"
    "the keys on the token with the kvno the KDC reports (--kvno\n"
    "overrides it).  --no-verify skips the KDC entirely: then --kvno is\n"
    "required and the salt is --salt or the default (realm + name).\n"
    "The password and the keys exist on the host only during this\n"
    "command, in locked memory that is wiped.\n"
    "\n"
    "exit codes: 0 imported, 1 failure (wrong password: the KDC refuses\n"
    "the pre-authentication), 2 usage, 9 keys already there (use\n"
    "--replace), 12 the token cannot store keys.\n";

/* One line from stdin into a secure buffer, without echo on a terminal. */
static int
read_password(base_secret **out)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) == 1;
    base_secret *s = NULL;
    size_t n = 0;
    ssize_t r;
    uint8_t ch;

    *out = NULL;
    if (base_secret_new(0, MAX_PASSWORD + 1, &s) != HSMSSP_OK)
        return -1;
    if (tty) {
        fprintf(stderr, "Password: ");
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            tty = false;
        }
    }
    /* Byte by byte, so that nothing past the line is consumed. */
    while ((r = read(STDIN_FILENO, &ch, 1)) == 1 && ch != '\n') {
        if (n == MAX_PASSWORD) {
            n = MAX_PASSWORD + 1;
            break;
        }
        s->data[n++] = ch;
    }
    base_memzero(&ch, sizeof(ch));
    if (tty) {
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (r < 0 || n == 0 || n > MAX_PASSWORD) {
        base_secret_free(s);
        fprintf(stderr, "hsmssp: account import: %s\n",
                n > MAX_PASSWORD ? "password longer than 1024 bytes"
                                 : "no password on standard input");
        return -1;
    }
    if (n > 0 && s->data[n - 1] == '\r')
        n--;
    s->len = n;
    *out = s;
    return 0;
}

typedef struct acct_key {
    int32_t etype;
    base_secret *bytes;
    kerb_as_info info;
} acct_key;

/* Checks one key with an AS exchange offering only its enctype; *kvno
 * gets the reply's kvno. */
static hsmssp_err
verify_key(prov_env *env, hsm_token *tok, const char *client,
           const acct_key *k, uint32_t *kvno, bool *has_kvno)
{
    hsm_key_spec spec;
    kerb_lt_key lt;
    kerb_as_keys keys;
    kerb_as_info info;
    kerb_tkt *t = NULL;
    hsmssp_err ret;

    kerb_key_spec(&spec, k->etype, KERB_JOB_PASSWORD);
    memset(&lt, 0, sizeof(lt));
    lt.etype = k->etype;
    ret = hsm_key_import(tok, &spec, k->bytes, &lt.key);
    if (ret != HSMSSP_OK)
        return ret;
    memset(&keys, 0, sizeof(keys));
    keys.keys = &lt;
    keys.n_keys = 1;
    keys.cap_keys = 1;
    ret = kerb_as_exchange(env, tok, client, NULL, &keys, NULL, &info, &t);
    if (ret == HSMSSP_OK && info.has_kvno) {
        *kvno = info.kvno;
        *has_kvno = true;
    } else if (ret == HSMSSP_OK) {
        /* MIT's AS-REP does not name the key's version.  A ticket for the
         * account itself does (in its enc-part): ask for one with the new
         * TGT.  KDCs that refuse (accounts without an SPN) leave the kvno
         * to --kvno. */
        kerb_tkt *self = NULL;
        kerb_ticket tk;

        if (kerb_tgs_exchange(env, t, client, 0, NULL, NULL, NULL, &self) ==
                HSMSSP_OK &&
            kerb_dec_ticket(base_der_view(self->ticket, self->ticket_len),
                            &tk) == HSMSSP_OK &&
            tk.enc.has_kvno && tk.enc.etype == k->etype) {
            *kvno = tk.enc.kvno;
            *has_kvno = true;
        }
        kerb_tkt_unref(self);
    }
    kerb_tkt_unref(t);
    hsm_key_free(lt.key);
    return ret;
}

static int
account_import(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"salt", required_argument, NULL, 's'},
        {"kvno", required_argument, NULL, 'k'},
        {"no-verify", no_argument, NULL, 'V'},
        {"replace", no_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *salt = NULL;
    bool verify = true, replace = false, quiet = false, have_kvno = false;
    long long kvno_opt = 0;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    const prov_config *cfg;
    char *client = NULL, *end;
    base_secret *pw = NULL;
    acct_key keys[PROV_MAX_ENCTYPES];
    size_t n = 0, imported = 0, exists = 0;
    uint32_t kvno = 0;
    hsmssp_err ret = HSMSSP_OK;
    int c, rc = CLI_EXIT_OK;

    memset(keys, 0, sizeof(keys));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 's':
            salt = optarg;
            break;
        case 'k':
            kvno_opt = strtoll(optarg, &end, 10);
            if (*end != '\0' || kvno_opt < 0 || kvno_opt > 0xffffffffLL)
                return cli_usage_error("account", "bad kvno '%s'", optarg);
            have_kvno = true;
            break;
        case 'V':
            verify = false;
            break;
        case 'r':
            replace = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(cli_account_help, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("account", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("account", "give exactly one PRINCIPAL");
    if (!verify && !have_kvno)
        return cli_usage_error("account", "--no-verify needs --kvno");
    ret = prov_env_open(config, &env);
    if (ret != HSMSSP_OK)
        return cli_fail(ret, "configuration");
    cfg = prov_env_config(env);
    ret = prov_env_token(env, &tok);
    if (ret == HSMSSP_OK)
        ret = kerb_name_canon_env(env, argv[optind], &client);
    if (ret != HSMSSP_OK) {
        rc = cli_fail(ret, "account import");
        goto cleanup;
    }
    if (!hsm_token_persistent(tok)) {
        fprintf(stderr, "hsmssp: account import: the token cannot store "
                        "keys (NSS softoken without a database?)\n");
        rc = CLI_EXIT_KT_NO_STORAGE;
        goto cleanup;
    }
    if (read_password(&pw) != 0) {
        rc = CLI_EXIT_FAILURE;
        goto cleanup;
    }

    /* The salts: asked of the KDC per enctype (an account without a key
     * of some enctype is skipped), or given. */
    for (size_t i = 0; i < cfg->n_permitted_enctypes; i++) {
        int32_t e = cfg->permitted_enctypes[i];
        acct_key *k = &keys[n];

        if (!kerb_etype_runs(tok, e))
            continue;
        k->etype = e;
        if (verify) {
            ret = kerb_as_probe(env, client, e, &k->info);
            if (ret == HSMSSP_ERR_KDC_ETYPE) {
                if (!quiet)
                    printf("%s has no %s key at the KDC: skipped\n", client,
                           hsm_etype_name(e));
                continue;
            }
            if (ret != HSMSSP_OK) {
                rc = cli_fail(ret, "asking the KDC for the salt");
                goto cleanup;
            }
        }
        if (salt != NULL) {
            if (strlen(salt) >= sizeof(k->info.salt)) {
                rc = cli_usage_error("account", "salt too long");
                goto cleanup;
            }
            memcpy(k->info.salt, salt, strlen(salt) + 1);
        } else if (!verify) {
            ret = kerb_default_salt(client, k->info.salt,
                                    sizeof(k->info.salt));
            if (ret != HSMSSP_OK) {
                rc = cli_fail(ret, "default salt");
                goto cleanup;
            }
        }
        ret = kerb_check_s2kparams(e, k->info.s2kparams,
                                   k->info.s2kparams_len);
        if (ret != HSMSSP_OK) {
            rc = cli_fail(ret, "the KDC's string-to-key parameters");
            goto cleanup;
        }
        ret = hsm_string_to_key(e, (const char *)pw->data, pw->len,
                                (const uint8_t *)k->info.salt,
                                strlen(k->info.salt),
                                k->info.s2kparams_len ? k->info.s2kparams
                                                      : NULL,
                                k->info.s2kparams_len, &k->bytes);
        if (ret != HSMSSP_OK) {
            rc = cli_fail(ret, "string-to-key");
            goto cleanup;
        }
        n++;
    }
    /* The password is not needed any more. */
    base_secret_free(pw);
    pw = NULL;
    if (n == 0) {
        fprintf(stderr, "hsmssp: account import: no enctype both permitted "
                        "by the policy and held by the account\n");
        rc = CLI_EXIT_FAILURE;
        goto cleanup;
    }
    if (verify) {
        for (size_t i = 0; i < n; i++) {
            uint32_t v = 0;
            bool hv = false;

            ret = verify_key(env, tok, client, &keys[i], &v, &hv);
            if (ret != HSMSSP_OK) {
                rc = cli_fail(ret, "checking the key with the KDC");
                goto cleanup;
            }
            if (hv && kvno == 0)
                kvno = v;
            else if (hv && v != kvno)
                fprintf(stderr, "hsmssp: account import: the KDC reports "
                                "kvno %u for %s, %u for others\n",
                        (unsigned)v, hsm_etype_name(keys[i].etype),
                        (unsigned)kvno);
        }
    }
    if (have_kvno) {
        kvno = (uint32_t)kvno_opt;
    } else if (kvno == 0) {
        fprintf(stderr, "hsmssp: account import: the KDC did not tell the "
                        "key version; give it with --kvno\n");
        rc = CLI_EXIT_FAILURE;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        kerb_ks_entry e;

        memset(&e, 0, sizeof(e));
        memcpy(e.principal, client, strlen(client) + 1);
        e.kvno = kvno;
        e.etype = keys[i].etype;
        ret = kerb_ks_import(tok, &e, keys[i].bytes, true, replace, NULL);
        if (ret == HSMSSP_ERR_INVALID_ARGUMENT && !replace) {
            exists++;
            fprintf(stderr, "hsmssp: account import: %s kvno %u %s: %s\n",
                    client, (unsigned)kvno, hsm_etype_name(e.etype),
                    hsmssp_last_error_detail());
            continue;
        }
        if (ret != HSMSSP_OK) {
            rc = cli_fail(ret, "storing the key");
            goto cleanup;
        }
        imported++;
        if (!quiet)
            printf("%s kvno %u %s imported (salt \"%s\"%s)\n", client,
                   (unsigned)kvno, hsm_etype_name(e.etype),
                   keys[i].info.salt,
                   verify ? ", checked with the KDC" : "");
    }
    if (imported == 0 && exists > 0)
        rc = CLI_EXIT_KT_EXISTS;
cleanup:
    for (size_t i = 0; i < n; i++)
        base_secret_free(keys[i].bytes);
    base_secret_free(pw);
    free(client);
    prov_env_unref(env);
    return rc;
}

int
cli_account_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "import") == 0)
        return account_import(argc - 1, argv + 1);
    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs(cli_account_help, stdout);
        return CLI_EXIT_OK;
    }
    return cli_usage_error("account", "the subcommand is 'import'");
}
