/*
 * tools/keytab_cmd.c - `hsmssp keytab import|list|remove`: Kerberos
 * service keys from MIT keytabs onto the token, and the key store seen
 * from the command line.
 *
 * The work is in keytabs/ (kt_import, kt_remove_source) and in the key
 * store (provider/kerberos/kerb_keystore.h); this file parses options,
 * merges them with an optional configuration file, prints one line per
 * entry and turns the outcome into the documented exit codes (9 to 12
 * are this command's, docs/cli.md).
 *
 * Key bytes never pass through here: kt_import() reads the keytab itself,
 * and what comes back are names, levels and outcomes.
 *
 * There is no --session option: session objects die with the process
 * that made them, so a one-shot command would import keys only to destroy
 * them when it exits.  Tokens without storage (NSS softoken without a
 * database) take keys in the process that uses them: `hsmssp server
 * --import-keytab`.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keytabs/keytabs.h"
#include "provider/config.h"
#include "tools/cli.h"

const char cli_keytab_help[] =
    "usage: hsmssp keytab import TOKEN-OPTIONS [--replace] [--remove-source]\n"
    "                            [--json] FILE|-\n"
    "       hsmssp keytab list   TOKEN-OPTIONS [--principal P] [--json]\n"
    "       hsmssp keytab remove TOKEN-OPTIONS --principal P [--kvno N]\n"
    "\n"
    "import reads an MIT keytab (FILE, or standard input for '-': a pipe\n"
    "is copied into memory first, never to disk) and stores every key on\n"
    "the token as a sensitive, non-extractable object named\n"
    "'<principal> kvno <N> <enctype>' (docs/keystore.md).  One line per\n"
    "entry: the key, its protection level on this token and what happened:\n"
    "imported, replaced, exists (use --replace), skipped: reason (an\n"
    "enctype hsmssp does not implement), failed: reason (policy, token).\n"
    "  --replace        replace keys already on the token\n"
    "  --remove-source  delete FILE once every entry is on the token\n"
    "                   (not with '-'; the file is kept otherwise)\n"
    "list prints the keys on the token (sorted by principal, newest kvno\n"
    "first) with their levels; remove deletes a principal's keys (every\n"
    "kvno, or only --kvno N).  Principals are given in full, with realm.\n"
    "\n"
    "TOKEN-OPTIONS: --module PATH|NAME [--token URI] [--init-args STR]\n"
    "               [--pin-file FILE] [--allow-host-op krb,ntlm]\n"
    "               (as for 'hsmssp probe'), or --config FILE: an hsmssp\n"
    "               configuration file whose [token] module, uri,\n"
    "               pin_file, init_args and [policy] allow_host_op, mlock\n"
    "               apply; options given on the command line win.\n"
    "\n"
    "exit codes: 0 success (import: every entry of a supported enctype is\n"
    "  on the token), 1 other failure, 2 usage, 3 module, 4 no token,\n"
    "  5 wrong PIN, 6 PIN locked, 7 other PIN problem (as for probe),\n"
    "  9 import: some keys were already on the token (and nothing failed)\n"
    " 10 import: some entry was not imported (refused by policy, token\n"
    "    error, malformed; with --remove-source also a skipped enctype,\n"
    "    and the file is kept)\n"
    " 11 import: the keytab cannot be read (missing, not a keytab,\n"
    "    truncated, damaged, empty); nothing was imported\n"
    " 12 import: the token cannot store keys (no persistent objects)\n";

/* Which options a subcommand takes. */
#define OPT_REPLACE 0x01u
#define OPT_REMOVE_SOURCE 0x02u
#define OPT_JSON 0x04u
#define OPT_PRINCIPAL 0x08u
#define OPT_KVNO 0x10u

typedef struct kt_cli_opts {
    cli_token_opts tok;
    bool policy_given; /* --allow-host-op was given (beats the config) */
    const char *config;
    bool replace, remove_source, json;
    const char *principal;
    bool kvno_given;
    uint32_t kvno;
    const char *file;
} kt_cli_opts;

/* A kvno is 32 bits unsigned (RFC 4120 UInt32); digits only, so that
 * "-1" or "2x" is a usage error instead of a surprising number. */
static bool
parse_kvno(const char *s, uint32_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Parses the options after the subcommand's name (argv[0]); allowed is a
 * mask of OPT_*, want_file whether one FILE operand is required.
 * Returns CLI_EXIT_OK, CLI_EXIT_USAGE (printed), or -1 after --help.
 * Options may come before or after FILE (getopt permutes), which is how
 * operators type `keytab import kt --module ...`. */
static int
parse_opts(int argc, char **argv, unsigned allowed, bool want_file,
           kt_cli_opts *o)
{
    static const struct option longopts[] = {
        CLI_TOKEN_LONGOPTS,
        {"config", required_argument, NULL, 'C'},
        {"replace", no_argument, NULL, 'r'},
        {"remove-source", no_argument, NULL, 'R'},
        {"json", no_argument, NULL, 'j'},
        {"principal", required_argument, NULL, 'P'},
        {"kvno", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
    unsigned need = 0;
    int c, li = -1;

    memset(o, 0, sizeof(*o));
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, &li)) != -1) {
        int t = cli_token_option(&o->tok, c, optarg, "keytab");

        if (t < 0)
            return CLI_EXIT_USAGE;
        if (t > 0) {
            if (c == 'a')
                o->policy_given = true;
            continue;
        }
        switch (c) {
        case 'C':
            o->config = optarg;
            continue;
        case 'h':
            fputs(cli_keytab_help, stdout);
            return -1;
        case 'r':
            need = OPT_REPLACE;
            o->replace = true;
            break;
        case 'R':
            need = OPT_REMOVE_SOURCE;
            o->remove_source = true;
            break;
        case 'j':
            need = OPT_JSON;
            o->json = true;
            break;
        case 'P':
            need = OPT_PRINCIPAL;
            o->principal = optarg;
            break;
        case 'k':
            need = OPT_KVNO;
            if (!parse_kvno(optarg, &o->kvno))
                return cli_usage_error("keytab",
                                       "%s: --kvno wants a number from 0 "
                                       "to %u, not '%s'",
                                       cmd, UINT32_MAX, optarg);
            o->kvno_given = true;
            break;
        default:
            return cli_usage_error("keytab",
                                   "%s: unknown or incomplete option '%s'",
                                   cmd, argv[optind - 1]);
        }
        /* Named from the table: argv[optind - 1] may be the option's
         * argument ("--principal P") rather than the option. */
        if ((allowed & need) == 0)
            return cli_usage_error("keytab", "%s takes no --%s", cmd,
                                   li >= 0 ? longopts[li].name
                                           : "such option");
    }
    if (want_file) {
        if (optind >= argc)
            return cli_usage_error("keytab",
                                   "%s needs a keytab FILE, or '-' for "
                                   "standard input",
                                   cmd);
        o->file = argv[optind++];
    }
    if (optind < argc)
        return cli_usage_error("keytab", "%s: unexpected argument '%s'", cmd,
                               argv[optind]);
    if (o->tok.module == NULL && o->config == NULL)
        return cli_usage_error("keytab", "%s needs --module or --config", cmd);
    return CLI_EXIT_OK;
}

/* Opens the token from the options, filling what they leave out from the
 * configuration file when --config names one.  The configuration stays
 * alive in *cfg_out until the token is closed (the token reads pin_file
 * at every login).  Its mlock policy applies to the secrets this command
 * allocates from then on: the keys read from the keytab among them. */
static int
open_token(const kt_cli_opts *o, prov_config **cfg_out, hsm_token **tok_out)
{
    cli_token_opts t = o->tok;
    prov_config *cfg = NULL;
    hsmssp_err err;

    *cfg_out = NULL;
    *tok_out = NULL;
    if (o->config != NULL) {
        err = prov_config_load(o->config, false, &cfg);
        if (err != HSMSSP_OK)
            return cli_fail(err, "--config");
        if (t.module == NULL)
            t.module = cfg->module;
        if (t.token_uri == NULL)
            t.token_uri = cfg->token_uri;
        if (t.pin_file == NULL)
            t.pin_file = cfg->pin_file;
        if (t.init_args == NULL)
            t.init_args = cfg->init_args;
        if (!o->policy_given)
            t.policy = cfg->host_op_policy;
        base_secmem_set_policy((base_mlock_policy)cfg->mlock_policy);
        *cfg_out = cfg;
    }
    if (t.module == NULL)
        return cli_usage_error("keytab",
                               "no module: give --module, or [token] module "
                               "in %s",
                               o->config);
    return cli_token_open(&t, tok_out);
}

/* ---- import ------------------------------------------------------------ */

typedef struct import_counts {
    size_t imported, replaced, exists, skipped, failed;
} import_counts;

/* True when an earlier entry has the same principal, kvno and enctype:
 * its KT_EXISTS is then about the keytab, not the token. */
static bool
dup_in_keytab(const kt_result *r, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (r[j].e.kvno == r[i].e.kvno && r[j].e.etype == r[i].e.etype &&
            strcmp(r[j].e.principal, r[i].e.principal) == 0)
            return true;
    return false;
}

/* The level column: "-" where there is none (skipped enctypes), and
 * " refused" after a level the policy forbids, as `hsmssp probe` marks
 * it. */
static void
level_text(hsm_level level, bool allowed, bool none, char *buf, size_t cap)
{
    if (none)
        (void)snprintf(buf, cap, "-");
    else
        (void)snprintf(buf, cap, "%s%s", hsm_level_name(level),
                       allowed ? "" : " refused");
}

/* One line per entry: "<principal> kvno <N> <enctype>  [<level>]
 * <outcome>".  For the enctypes hsmssp implements the first three fields
 * are exactly the key's CKA_LABEL, so the output can be compared with
 * `keytab list` and pkcs11-tool. */
static void
print_entry_text(const kt_result *r, size_t i)
{
    char level[32];

    level_text(r[i].level, r[i].allowed, r[i].status == KT_SKIPPED, level,
               sizeof(level));
    printf("%s kvno %u %s  [%s]  ", r[i].e.principal, (unsigned)r[i].e.kvno,
           r[i].enctype, level);
    switch (r[i].status) {
    case KT_IMPORTED:
    case KT_REPLACED:
        printf("%s\n", kt_status_name(r[i].status));
        break;
    case KT_EXISTS:
        if (dup_in_keytab(r, i))
            printf("exists (twice in the keytab: the first is kept)\n");
        else
            printf("exists (use --replace)\n");
        break;
    default:
        /* The engine's policy text names the missing mechanism; the
         * option that allows the level is this command's to name. */
        printf("%s: %s%s\n", kt_status_name(r[i].status), r[i].detail,
               r[i].err == HSMSSP_ERR_POLICY_HOST_OP ? " (--allow-host-op krb)"
                                                     : "");
    }
}

static void
print_import_json(const char *file, const kt_result *r, size_t n,
                  const import_counts *c, bool removed)
{
    cli_json j;

    cli_json_init(&j, stdout);
    cli_json_begin_object(&j);
    cli_json_kv_string(&j, "source", file);
    cli_json_key(&j, "entries");
    cli_json_begin_array(&j);
    for (size_t i = 0; i < n; i++) {
        cli_json_begin_object(&j);
        cli_json_kv_string(&j, "principal", r[i].e.principal);
        cli_json_kv_int(&j, "kvno", (long long)r[i].e.kvno);
        cli_json_kv_int(&j, "etype", (long long)r[i].e.etype);
        cli_json_kv_string(&j, "enctype", r[i].enctype);
        cli_json_kv_string(
            &j, "level",
            r[i].status == KT_SKIPPED ? NULL : hsm_level_name(r[i].level));
        cli_json_kv_bool(&j, "allowed", r[i].allowed);
        cli_json_kv_string(&j, "status", kt_status_name(r[i].status));
        cli_json_kv_string(&j, "detail",
                           r[i].detail[0] != '\0' ? r[i].detail : NULL);
        cli_json_end_object(&j);
    }
    cli_json_end_array(&j);
    cli_json_kv_int(&j, "imported", (long long)c->imported);
    cli_json_kv_int(&j, "replaced", (long long)c->replaced);
    cli_json_kv_int(&j, "exists", (long long)c->exists);
    cli_json_kv_int(&j, "skipped", (long long)c->skipped);
    cli_json_kv_int(&j, "failed", (long long)c->failed);
    cli_json_kv_bool(&j, "removed", removed);
    cli_json_end_object(&j);
}

/* Exit codes of a failed kt_import() call: the token's lack of storage
 * and memory have their own meaning; everything else is about the keytab
 * (nothing was imported). */
static int
import_fail_code(hsmssp_err err)
{
    if (err == HSMSSP_ERR_TOKEN_READONLY)
        return CLI_EXIT_KT_NO_STORAGE;
    if (err == HSMSSP_ERR_NOMEM)
        return CLI_EXIT_FAILURE;
    return CLI_EXIT_KT_UNREADABLE;
}

/* The order: options, a --remove-source that could never be honoured
 * (refused before anything is read, not discovered after the import),
 * the token and its storage, the import, the report, and the removal
 * last, once every key is known to be on the token. */
static int
import_main(int argc, char **argv)
{
    kt_cli_opts o;
    prov_config *cfg = NULL;
    hsm_token *tok = NULL;
    kt_result *r = NULL;
    size_t n = 0;
    kt_import_opts io;
    import_counts c;
    hsm_token_ident ident;
    struct stat st;
    bool removed = false;
    hsmssp_err err;
    int ret;

    ret = parse_opts(argc, argv, OPT_REPLACE | OPT_REMOVE_SOURCE | OPT_JSON,
                     true, &o);
    if (ret != CLI_EXIT_OK)
        return ret < 0 ? CLI_EXIT_OK : ret;
    if (o.remove_source) {
        if (strcmp(o.file, "-") == 0)
            return cli_usage_error("keytab",
                                   "import: --remove-source needs a FILE; "
                                   "standard input has none to remove");
        if (lstat(o.file, &st) == 0 && !S_ISREG(st.st_mode))
            return cli_usage_error("keytab",
                                   "import: --remove-source: %s is %s; "
                                   "name the keytab file itself",
                                   o.file,
                                   S_ISLNK(st.st_mode) ? "a symbolic link"
                                                       : "not a regular file");
    }
    ret = open_token(&o, &cfg, &tok);
    if (ret != CLI_EXIT_OK)
        goto cleanup;
    /* Said in the command's words before the library's check, which
     * cannot know about the server's option. */
    if (!hsm_token_persistent(tok)) {
        hsm_token_identity(tok, &ident);
        fprintf(stderr,
                "hsmssp: keytab import: token '%s' cannot store keys (it "
                "has no persistent objects: NSS softoken without a "
                "database keeps session objects only, which would vanish "
                "when this command exits); use a token with storage, or "
                "import into the process that uses the keys with 'hsmssp "
                "server --import-keytab'\n",
                ident.label);
        ret = CLI_EXIT_KT_NO_STORAGE;
        goto cleanup;
    }

    memset(&io, 0, sizeof(io));
    io.persistent = true;
    io.replace = o.replace;
    err = kt_import(tok, o.file, &io, &r, &n);
    if (err != HSMSSP_OK) {
        (void)cli_fail(err, "keytab import");
        ret = import_fail_code(err);
        goto cleanup;
    }

    memset(&c, 0, sizeof(c));
    for (size_t i = 0; i < n; i++) {
        switch (r[i].status) {
        case KT_IMPORTED:
            c.imported++;
            break;
        case KT_REPLACED:
            c.replaced++;
            break;
        case KT_EXISTS:
            c.exists++;
            break;
        case KT_SKIPPED:
            c.skipped++;
            break;
        default:
            c.failed++;
        }
        if (!o.json)
            print_entry_text(r, i);
    }

    /* Exit code: a failure outweighs an existing key, which outweighs a
     * skipped enctype (harmless on its own: hsmssp could never use that
     * key, but it keeps the file under --remove-source). */
    if (c.failed > 0) {
        fprintf(stderr,
                "hsmssp: keytab import: %zu of %zu entries were "
                "not imported%s%s\n",
                c.failed, n, o.remove_source ? "; kept " : "",
                o.remove_source ? o.file : "");
        ret = CLI_EXIT_KT_PARTIAL;
    } else if (c.exists > 0) {
        fprintf(stderr,
                "hsmssp: keytab import: %zu of %zu entries were "
                "already on the token or twice in the keytab (use "
                "--replace)%s%s\n",
                c.exists, n, o.remove_source ? "; kept " : "",
                o.remove_source ? o.file : "");
        ret = CLI_EXIT_KT_EXISTS;
    } else if (o.remove_source) {
        err = kt_remove_source(o.file, r, n);
        if (err == HSMSSP_OK) {
            removed = true;
            ret = CLI_EXIT_OK;
        } else {
            (void)cli_fail(err, "keytab import");
            ret = c.skipped > 0 ? CLI_EXIT_KT_PARTIAL : CLI_EXIT_FAILURE;
        }
    } else {
        ret = CLI_EXIT_OK;
    }
    if (o.json) {
        print_import_json(o.file, r, n, &c, removed);
    } else {
        printf("%zu entries: %zu imported, %zu replaced, %zu already there, "
               "%zu skipped, %zu failed\n",
               n, c.imported, c.replaced, c.exists, c.skipped, c.failed);
        if (removed)
            printf("removed %s\n", o.file);
    }

cleanup:
    kt_results_free(r, n);
    hsm_token_close(tok);
    prov_config_free(cfg);
    return ret;
}

/* ---- list -------------------------------------------------------------- */

/* The level of an enctype on this token, as import reports it. */
static const hsm_strategy_row *
row_of(hsm_token *tok, int32_t etype)
{
    size_t n = 0;
    const hsm_strategy_row *rows = hsm_token_strategies(tok, &n);

    for (size_t i = 0; i < n; i++)
        if (rows[i].etype != 0 && rows[i].etype == etype)
            return &rows[i];
    return NULL;
}

static int
list_main(int argc, char **argv)
{
    kt_cli_opts o;
    prov_config *cfg = NULL;
    hsm_token *tok = NULL;
    kerb_ks_entry *v = NULL;
    size_t n = 0;
    hsm_token_ident ident;
    char label[320];
    hsmssp_err err;
    cli_json j;
    int ret;

    ret = parse_opts(argc, argv, OPT_PRINCIPAL | OPT_JSON, false, &o);
    if (ret != CLI_EXIT_OK)
        return ret < 0 ? CLI_EXIT_OK : ret;
    ret = open_token(&o, &cfg, &tok);
    if (ret != CLI_EXIT_OK)
        goto cleanup;
    err = kerb_ks_list(tok, o.principal, &v, &n);
    if (err != HSMSSP_OK) {
        ret = cli_fail(err, "keytab list");
        goto cleanup;
    }
    hsm_token_identity(tok, &ident);
    if (o.json) {
        cli_json_init(&j, stdout);
        cli_json_begin_object(&j);
        cli_json_kv_string(&j, "token", ident.label);
        cli_json_key(&j, "keys");
        cli_json_begin_array(&j);
    }
    for (size_t i = 0; i < n; i++) {
        const hsm_strategy_row *row = row_of(tok, v[i].etype);
        bool allowed = row != NULL && row->allowed;
        char level[32];

        level_text(row ? row->level : HSM_LEVEL_NONE, allowed, false, level,
                   sizeof(level));

        kerb_ks_label(&v[i], label, sizeof(label));
        if (o.json) {
            cli_json_begin_object(&j);
            cli_json_kv_string(&j, "principal", v[i].principal);
            cli_json_kv_int(&j, "kvno", (long long)v[i].kvno);
            cli_json_kv_int(&j, "etype", (long long)v[i].etype);
            cli_json_kv_string(&j, "enctype", hsm_etype_name(v[i].etype));
            cli_json_kv_string(&j, "label", label);
            cli_json_kv_string(
                &j, "level",
                hsm_level_name(row ? row->level : HSM_LEVEL_NONE));
            cli_json_kv_bool(&j, "allowed", allowed);
            cli_json_end_object(&j);
        } else {
            printf("%s  [%s]\n", label, level);
        }
    }
    if (o.json) {
        cli_json_end_array(&j);
        cli_json_end_object(&j);
    } else if (n == 0) {
        /* On stderr: a script counting lines of stdout gets 0. */
        fprintf(stderr, "hsmssp: no Kerberos keys%s%s on token '%s'\n",
                o.principal ? " of " : "", o.principal ? o.principal : "",
                ident.label);
    }
    ret = CLI_EXIT_OK;

cleanup:
    free(v);
    hsm_token_close(tok);
    prov_config_free(cfg);
    return ret;
}

/* ---- remove ------------------------------------------------------------ */

static int
remove_main(int argc, char **argv)
{
    kt_cli_opts o;
    prov_config *cfg = NULL;
    hsm_token *tok = NULL;
    size_t n = 0;
    hsmssp_err err;
    int ret;

    ret = parse_opts(argc, argv, OPT_PRINCIPAL | OPT_KVNO, false, &o);
    if (ret != CLI_EXIT_OK)
        return ret < 0 ? CLI_EXIT_OK : ret;
    if (o.principal == NULL)
        return cli_usage_error("keytab", "remove needs --principal");
    ret = open_token(&o, &cfg, &tok);
    if (ret != CLI_EXIT_OK)
        goto cleanup;
    err = kerb_ks_remove(tok, o.principal, o.kvno_given ? (int64_t)o.kvno : -1,
                         &n);
    if (err != HSMSSP_OK) {
        ret = cli_fail(err, "keytab remove");
        goto cleanup;
    }
    if (o.kvno_given)
        printf("removed %zu key%s of %s kvno %u\n", n, n == 1 ? "" : "s",
               o.principal, (unsigned)o.kvno);
    else
        printf("removed %zu key%s of %s\n", n, n == 1 ? "" : "s", o.principal);
    ret = CLI_EXIT_OK;

cleanup:
    hsm_token_close(tok);
    prov_config_free(cfg);
    return ret;
}

/* ---- dispatch ---------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} subcommands[] = {
    {"import", import_main},
    {"list", list_main},
    {"remove", remove_main},
};

int
cli_keytab_main(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("keytab", "keytab needs a subcommand: "
                                         "import, list or remove");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(cli_keytab_help, stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < BASE_ARRAY_LEN(subcommands); i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    return cli_usage_error("keytab", "unknown keytab subcommand '%s'",
                           argv[1]);
}
