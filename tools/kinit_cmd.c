/*
 * tools/kinit_cmd.c - `hsmssp kinit`, `hsmssp klist`, `hsmssp kdestroy`:
 * TGTs of HSM-backed accounts, kept for other processes without a session
 * key on disk (provider/kerberos/kerb_store.c, docs/kinit-store.md).
 *
 * They read the hsmssp configuration file like every SSPI caller does
 * (--config, else $HSMSSP_CONFIG, else /etc/hsmssp/hsmssp.conf): the
 * token, the enctype policy, the ticket directory.  Nothing they print is
 * secret: ticket files hold none, and the key objects are named by their
 * labels.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmssp/errors.h"
#include "provider/kerberos/kerb-int.h"
#include "provider/provider.h"
#include "tools/cli.h"

const char cli_kinit_help[] =
    "usage: hsmssp kinit [--config FILE] [--quiet] PRINCIPAL\n"
    "\n"
    "Gets a TGT for PRINCIPAL, whose long-term key is on the token (see\n"
    "'hsmssp keytab import' and 'hsmssp account import'), and keeps it for\n"
    "other processes: the ticket in a file (mode 0600, directory 0700;\n"
    "docs/kinit-store.md), its session key as a token object that never\n"
    "leaves the token.  A TGT stored earlier for PRINCIPAL is replaced.\n"
    "Tokens that cannot store objects (NSS softoken without a database)\n"
    "cannot keep TGTs.\n"
    "\n"
    "exit codes: 0 stored, 1 failure (the reason on stderr), 2 usage,\n"
    "3-7 token problems as for the other commands.\n";

const char cli_klist_help[] =
    "usage: hsmssp klist [--config FILE]\n"
    "\n"
    "Lists the TGTs 'hsmssp kinit' stored for this user: client, server,\n"
    "validity, flags, session key enctype, and whether the key object is\n"
    "on the token.\n"
    "\n"
    "exit codes: 0 at least one valid TGT, 1 none (or a failure), 2 usage.\n";

const char cli_kdestroy_help[] =
    "usage: hsmssp kdestroy [--config FILE] [--quiet] [PRINCIPAL | --all]\n"
    "\n"
    "Removes the stored TGT of PRINCIPAL (or every stored TGT with --all):\n"
    "the ticket file and the session key's token object.  Expired key\n"
    "objects left by removed files are swept too.\n"
    "\n"
    "exit codes: 0 done (also when there was nothing), 1 failure, 2 usage.\n";

typedef struct common {
    const char *config;
    bool quiet;
    bool all;
} common;

/* Options shared by the three commands; returns the index of the first
 * operand or -1 (usage error printed) / -2 (help printed). */
static int
parse(const char *cmd, const char *help, int argc, char **argv, common *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'a':
            if (strcmp(cmd, "kdestroy") != 0)
                return cli_usage_error(cmd, "unknown option"), -1;
            o->all = true;
            break;
        case 'h':
            fputs(help, stdout);
            return -2;
        default:
            (void)cli_usage_error(cmd, "unknown option");
            return -1;
        }
    }
    return optind;
}

/* The env and its token, from the configuration file. */
static int
open_env(const common *o, prov_env **env, hsm_token **tok)
{
    hsmssp_err ret;

    *env = NULL;
    *tok = NULL;
    ret = prov_env_open(o->config, env);
    if (ret != HSMSSP_OK)
        return cli_fail(ret, "configuration");
    ret = prov_env_token(*env, tok);
    if (ret != HSMSSP_OK) {
        prov_env_unref(*env);
        *env = NULL;
        return cli_fail(ret, "token");
    }
    return CLI_EXIT_OK;
}

static void
fmt_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
        (void)snprintf(buf, cap, "-");
        return;
    }
    (void)strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* s with control characters shown as '?': names come from the KDC (and
 * partly from the wire in clear text) and must not drive the terminal. */
static const char *
shown(const char *s, char *buf, size_t cap)
{
    size_t n = 0;

    for (; *s && n + 1 < cap; s++)
        buf[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    buf[n] = '\0';
    return buf;
}

/* MIT klist's flag letters for the flags a TGT carries. */
static void
fmt_flags(uint32_t f, char *buf)
{
    size_t n = 0;

    if (f & KERB_TKT_FORWARDABLE)
        buf[n++] = 'F';
    if (f & KERB_TKT_FORWARDED)
        buf[n++] = 'f';
    if (f & KERB_TKT_PROXIABLE)
        buf[n++] = 'P';
    if (f & KERB_TKT_RENEWABLE)
        buf[n++] = 'R';
    if (f & KERB_TKT_INITIAL)
        buf[n++] = 'I';
    if (f & KERB_TKT_PRE_AUTHENT)
        buf[n++] = 'A';
    if (f & KERB_TKT_OK_AS_DELEGATE)
        buf[n++] = 'O';
    buf[n] = '\0';
}

int
cli_kinit_main(int argc, char **argv)
{
    common o;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    kerb_tkt *t = NULL;
    char *client = NULL, *path = NULL, until[32];
    hsm_token_ident id;
    hsmssp_err ret;
    int i, rc;

    i = parse("kinit", cli_kinit_help, argc, argv, &o);
    if (i < 0)
        return i == -2 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (i != argc - 1)
        return cli_usage_error("kinit", "give exactly one PRINCIPAL");
    rc = open_env(&o, &env, &tok);
    if (rc != CLI_EXIT_OK)
        return rc;
    ret = kerb_name_canon_env(env, argv[i], &client);
    if (ret == HSMSSP_OK)
        ret = kerb_store_kinit(env, tok, client, &path, &t);
    if (ret != HSMSSP_OK) {
        rc = cli_fail(ret, "kinit");
        goto cleanup;
    }
    if (!o.quiet) {
        hsm_token_identity(tok, &id);
        fmt_time(t->endtime, until, sizeof(until));
        char cbuf[KERB_KS_MAX_PRINCIPAL + 1], sbuf[KERB_KS_MAX_PRINCIPAL + 1];

        printf("TGT of %s for %s stored in %s\n",
               shown(t->client, cbuf, sizeof(cbuf)),
               shown(t->server, sbuf, sizeof(sbuf)), path);
        printf("session key (%s) on token '%s', valid until %s\n",
               hsm_etype_name(t->etype), id.label, until);
    }
cleanup:
    kerb_tkt_unref(t);
    free(client);
    free(path);
    prov_env_unref(env);
    return rc;
}

typedef struct klist_arg {
    size_t valid;
    size_t shown;
} klist_arg;

static bool
klist_visit(void *argp, const kerb_store_item *it)
{
    klist_arg *a = argp;
    char start[32], end[32], renew[32], flags[16];
    char cbuf[KERB_KS_MAX_PRINCIPAL + 1], sbuf[KERB_KS_MAX_PRINCIPAL + 1];
    const char *state;

    if (a->shown++ == 0)
        printf("%-20s  %-20s  %-5s  %-24s  %-s\n", "valid from",
               "expires", "flags", "session key", "client / server");
    if (it->e == NULL) {
        printf("%s: unreadable: %s\n", it->path, it->problem);
        return true;
    }
    fmt_time(it->e->starttime, start, sizeof(start));
    fmt_time(it->e->endtime, end, sizeof(end));
    fmt_flags(it->e->flags, flags);
    state = it->expired       ? "  (expired)"
            : it->other_token ? "  (key on another token)"
            : !it->key_present ? "  (key missing from the token)"
                               : "";
    printf("%-20s  %-20s  %-5s  %-24s  %s / %s%s\n", start, end, flags,
           hsm_etype_name(it->e->key_etype)
               ? hsm_etype_name(it->e->key_etype)
               : "?",
           shown(it->e->client, cbuf, sizeof(cbuf)),
           shown(it->e->server, sbuf, sizeof(sbuf)), state);
    if (it->e->renew_till != 0) {
        fmt_time(it->e->renew_till, renew, sizeof(renew));
        printf("%-20s  renew until %s\n", "", renew);
    }
    if (!it->expired && !it->other_token && it->key_present)
        a->valid++;
    return true;
}

int
cli_klist_main(int argc, char **argv)
{
    common o;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    klist_arg a = {0, 0};
    hsmssp_err ret;
    int i, rc;

    i = parse("klist", cli_klist_help, argc, argv, &o);
    if (i < 0)
        return i == -2 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (i != argc)
        return cli_usage_error("klist", "no operands expected");
    rc = open_env(&o, &env, &tok);
    if (rc != CLI_EXIT_OK)
        return rc;
    ret = kerb_store_list(env, tok, klist_visit, &a);
    if (ret != HSMSSP_OK)
        rc = cli_fail(ret, "klist");
    else if (a.shown == 0)
        printf("no stored TGTs (hsmssp kinit PRINCIPAL stores one)\n");
    if (rc == CLI_EXIT_OK && a.valid == 0)
        rc = CLI_EXIT_FAILURE;
    prov_env_unref(env);
    return rc;
}

int
cli_kdestroy_main(int argc, char **argv)
{
    common o;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    char *client = NULL;
    size_t n = 0;
    hsmssp_err ret = HSMSSP_OK;
    int i, rc;

    i = parse("kdestroy", cli_kdestroy_help, argc, argv, &o);
    if (i < 0)
        return i == -2 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (o.all ? i != argc : i != argc - 1)
        return cli_usage_error("kdestroy", "give one PRINCIPAL or --all");
    rc = open_env(&o, &env, &tok);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!o.all)
        ret = kerb_name_canon_env(env, argv[i], &client);
    if (ret == HSMSSP_OK)
        ret = kerb_store_destroy(env, tok, client, &n);
    if (ret != HSMSSP_OK)
        rc = cli_fail(ret, "kdestroy");
    else if (!o.quiet)
        printf("%zu stored TGT(s) removed\n", n);
    free(client);
    prov_env_unref(env);
    return rc;
}
