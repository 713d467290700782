/*
 * tools/probe_cmd.c - `hsmssp probe`: what a token is and what hsmssp can
 * do with it without its keys leaving it.
 *
 * The token layer does all the work when the token is opened (mechanism
 * list plus one trial operation per path, DESIGN sec. 3); this file only
 * prints the result: the token's identity, one row per enctype and per
 * NTLMv2 step with its strategy, mechanisms and protection level, whether
 * the configured policy lets that level run, and the raw facts the trials
 * found.  The JSON form carries the same data for scripts and tests.
 */
#include <getopt.h>
#include <stddef.h>
#include <string.h>

#include "tools/cli.h"

const char cli_probe_help[] =
    "usage: hsmssp probe --module PATH|NAME [--token URI] [--init-args STR]\n"
    "                    [--pin-file FILE] [--allow-host-op krb,ntlm]"
    " [--json]\n"
    "\n"
    "Opens a PKCS#11 token, logs in when it needs it, probes its mechanisms\n"
    "and prints, for every Kerberos enctype and NTLMv2 step, how hsmssp\n"
    "would perform it and where the key material is:\n"
    "  T           on the token; key bytes never on the host\n"
    "  H(import)   on the host only while a long-term key is imported\n"
    "  H(arrival)  a session key on the host only while it arrives\n"
    "  H(op)       on the host at every use (refused unless allowed)\n"
    "\n"
    "options:\n"
    "  --module PATH|NAME   module file, or a p11-kit module name\n"
    "  --token URI          RFC 7512 URI of the token (pkcs11:token=...),\n"
    "                       may carry pin-value= or pin-source=\n"
    "  --init-args STR      C_Initialize reserved string (NSS softoken gets\n"
    "                       its no-database string automatically)\n"
    "  --pin-file FILE      user PIN, read verbatim: a trailing newline is\n"
    "                       part of the PIN; must not be group/other\n"
    "                       readable\n"
    "  --allow-host-op LIST policy: allow H(op) for krb, ntlm (or all)\n"
    "  --json               machine-readable output\n"
    "\n"
    "exit codes:\n"
    "  0 success            1 other failure      2 usage error\n"
    "  3 module cannot be loaded or initialised\n"
    "  4 no token matches the URI\n"
    "  5 PIN incorrect      6 PIN locked\n"
    "  7 other PIN problem (expired, invalid form, none given, PIN file\n"
    "    readable by group or others)\n";

/* The trial facts of hsm_caps, by name, so text and JSON output walk one
 * table instead of repeating every field twice.  kind 'b' is a bool,
 * 'u' an unsigned, 'i' an int. */
static const struct cap_field {
    const char *name;
    size_t offset;
    char kind;
} cap_fields[] = {
#define CAP(field, kind) {#field, offsetof(hsm_caps, field), kind}
    CAP(aes_ecb, 'b'),
    CAP(aes_cbc, 'b'),
    CAP(aes_cts, 'b'),
    CAP(aes_cts_order, 'i'),
    CAP(aes_ecb_encrypt_data, 'b'),
    CAP(aes_cbc_encrypt_data, 'b'),
    CAP(derive_generic_secret, 'b'),
    CAP(hmac_min_md5, 'u'),
    CAP(hmac_min_sha1, 'u'),
    CAP(hmac_min_sha256, 'u'),
    CAP(hmac_min_sha384, 'u'),
    CAP(kdf_counter_sha256, 'b'),
    CAP(kdf_counter_sha384, 'b'),
    CAP(kdf_feedback_md5, 'b'),
    CAP(kdf_feedback_sha1, 'b'),
    CAP(rc4, 'b'),
    CAP(md5_key_derivation, 'b'),
    CAP(concatenate_base_and_data, 'b'),
    CAP(rc4_unwrap, 'b'),
    CAP(random, 'b'),
#undef CAP
};

/* Reads one field through its offset.  The casts go through void * so
 * that the access has the field's real type (no aliasing of a bool as an
 * int): offsetof gives the position, kind gives the type. */
static long long
cap_value(const hsm_caps *caps, const struct cap_field *f)
{
    const char *base = (const char *)caps + f->offset;

    switch (f->kind) {
    case 'b':
        return *(const bool *)(const void *)base ? 1 : 0;
    case 'u':
        return *(const unsigned *)(const void *)base;
    default:
        return *(const int *)(const void *)base;
    }
}

/* Splits a row's mechanism string into items: the row keeps them as one
 * comma-separated string, and an item may carry a parenthesised note
 * with commas of its own ("CKM_AES_CTS(CS1, reordered)"), so commas
 * inside parentheses do not split.  Copies the next item, trimmed, into
 * buf (cut to cap - 1 bytes) and advances *cursor; false at the end.
 * *cursor NULL is an empty list. */
static bool
next_mechanism(const char **cursor, char *buf, size_t cap)
{
    const char *p = *cursor;
    size_t n = 0;
    int depth = 0;

    if (p == NULL)
        return false;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0') {
            *cursor = p;
            return false;
        }
        n = 0;
        for (; *p != '\0' && (depth > 0 || *p != ','); p++) {
            if (*p == '(')
                depth++;
            else if (*p == ')' && depth > 0)
                depth--;
            if (n + 1 < cap)
                buf[n++] = *p;
        }
        while (n > 0 && buf[n - 1] == ' ')
            n--;
        buf[n] = '\0';
        *cursor = p;
        if (n > 0)
            return true;
    }
}

/* Prints "<indent>label: item, item, ..." wrapped before column 79, each
 * continuation aligned under the first item. */
static void
print_wrapped_list(int indent, const char *label, const char *list)
{
    char item[128];
    int col, start;
    bool first = true;

    col = printf("%*s%s:", indent, "", label);
    start = col + 1;
    while (next_mechanism(&list, item, sizeof(item))) {
        int len = (int)strlen(item) + (first ? 1 : 2);

        if (!first && col + len > 78) {
            printf(",\n%*s", start, "");
            col = start;
            len -= 2;
        } else if (!first) {
            fputs(", ", stdout);
        } else {
            fputc(' ', stdout);
        }
        fputs(item, stdout);
        col += len;
        first = false;
    }
    fputc('\n', stdout);
}

/* Which policy bit governs a row: enctype rows belong to Kerberos, rows
 * with etype 0 to NTLM. */
static const char *
row_policy_word(const hsm_strategy_row *r)
{
    return r->etype != 0 ? "krb" : "ntlm";
}

/* The JSON document (docs/cli.md has its shape).  Field names are the
 * structure's own names, so that a reader of hsm/hsm.h and a reader of
 * the JSON talk about the same thing; the test script and any monitoring
 * built on it depend on them, so they are stable. */
static void
print_json(hsm_token *tok, const hsm_token_ident *id, unsigned policy)
{
    const hsm_strategy_row *rows;
    const hsm_caps *caps = hsm_token_caps(tok);
    size_t n = 0, i, k;
    cli_json j;

    rows = hsm_token_strategies(tok, &n);
    cli_json_init(&j, stdout);
    cli_json_begin_object(&j);

    cli_json_key(&j, "token");
    cli_json_begin_object(&j);
    cli_json_kv_string(&j, "module_path", id->module_path);
    cli_json_kv_string(&j, "library_description", id->library_description);
    cli_json_kv_string(&j, "library_manufacturer",
                       id->library_manufacturer);
    cli_json_kv_int(&j, "library_version_major", id->library_version_major);
    cli_json_kv_int(&j, "library_version_minor", id->library_version_minor);
    cli_json_kv_int(&j, "cryptoki_major", id->cryptoki_major);
    cli_json_kv_int(&j, "cryptoki_minor", id->cryptoki_minor);
    cli_json_kv_string(&j, "slot_description", id->slot_description);
    cli_json_kv_string(&j, "label", id->label);
    cli_json_kv_string(&j, "manufacturer", id->manufacturer);
    cli_json_kv_string(&j, "model", id->model);
    cli_json_kv_string(&j, "serial", id->serial);
    cli_json_kv_bool(&j, "login_required", id->login_required);
    cli_json_kv_bool(&j, "persistent_objects", id->persistent_objects);
    cli_json_end_object(&j);

    cli_json_key(&j, "policy");
    cli_json_begin_object(&j);
    cli_json_kv_bool(&j, "allow_host_op_krb",
                     (policy & HSM_POLICY_ALLOW_HOST_OP_KRB) != 0);
    cli_json_kv_bool(&j, "allow_host_op_ntlm",
                     (policy & HSM_POLICY_ALLOW_HOST_OP_NTLM) != 0);
    cli_json_end_object(&j);

    cli_json_key(&j, "caps");
    cli_json_begin_object(&j);
    for (k = 0; k < BASE_ARRAY_LEN(cap_fields); k++) {
        if (cap_fields[k].kind == 'b')
            cli_json_kv_bool(&j, cap_fields[k].name,
                             cap_value(caps, &cap_fields[k]) != 0);
        else
            cli_json_kv_int(&j, cap_fields[k].name,
                            cap_value(caps, &cap_fields[k]));
    }
    cli_json_end_object(&j);

    cli_json_key(&j, "rows");
    cli_json_begin_array(&j);
    for (i = 0; i < n; i++) {
        const hsm_strategy_row *r = &rows[i];
        const char *m = r->mechanisms;
        char name[128];

        cli_json_begin_object(&j);
        cli_json_kv_string(&j, "name", r->name);
        cli_json_kv_string(&j, "kind", r->etype != 0 ? "kerberos" : "ntlm");
        cli_json_kv_int(&j, "etype", r->etype);
        cli_json_kv_string(&j, "strategy", r->strategy);
        /* The row keeps its mechanisms as one comma-separated string;
         * scripts want a list. */
        cli_json_key(&j, "mechanisms");
        cli_json_begin_array(&j);
        while (next_mechanism(&m, name, sizeof(name)))
            cli_json_string(&j, name);
        cli_json_end_array(&j);
        cli_json_kv_string(&j, "level", hsm_level_name(r->level));
        cli_json_kv_bool(&j, "allowed", r->allowed);
        cli_json_kv_string(&j, "missing", r->missing);
        cli_json_end_object(&j);
    }
    cli_json_end_array(&j);
    cli_json_end_object(&j);
}

/* The human table.  One header line per row with the facts an operator
 * decides on (level, policy), and the long strategy and mechanism texts
 * on indented lines under it, so the table stays within 79 columns
 * whatever the token reports.  A refused row says which option would
 * allow it, and which mechanism a better token would need. */
static void
print_text(hsm_token *tok, const hsm_token_ident *id, unsigned policy)
{
    const hsm_strategy_row *rows;
    const hsm_caps *caps = hsm_token_caps(tok);
    size_t n = 0, i, k;
    int col;

    rows = hsm_token_strategies(tok, &n);
    printf("Module    %s\n", id->module_path);
    printf("Library   %s %u.%u (%s), PKCS#11 %u.%u\n",
           id->library_description, id->library_version_major,
           id->library_version_minor, id->library_manufacturer,
           id->cryptoki_major, id->cryptoki_minor);
    printf("Slot      %s\n", id->slot_description);
    printf("Token     %s (%s %s, serial %s)\n", id->label, id->manufacturer,
           id->model, id->serial);
    printf("Login     %s; persistent objects %s\n",
           id->login_required ? "required" : "not required",
           id->persistent_objects ? "supported" : "not supported");
    printf("Policy    H(op) for Kerberos %s, for NTLM %s\n",
           (policy & HSM_POLICY_ALLOW_HOST_OP_KRB) ? "allowed" : "refused",
           (policy & HSM_POLICY_ALLOW_HOST_OP_NTLM) ? "allowed"
                                                     : "refused");

    /* Facts from the trial operations, on wrapped lines.  Only true facts
     * are listed: the absent ones are what the rows' "missing" lines
     * explain where it matters, and a list of twenty "no"s would bury the
     * few that decide the strategies. */
    fputs("Trials   ", stdout);
    col = 9;
    for (k = 0; k < BASE_ARRAY_LEN(cap_fields); k++) {
        long long v = cap_value(caps, &cap_fields[k]);
        char item[64];
        int len;

        if (cap_fields[k].kind == 'b') {
            if (v == 0)
                continue;
            len = snprintf(item, sizeof(item), " %s", cap_fields[k].name);
        } else {
            if (v == 0)
                continue;
            len = snprintf(item, sizeof(item), " %s=%lld",
                           cap_fields[k].name, v);
        }
        if (col + len > 78) {
            fputs("\n         ", stdout);
            col = 9;
        }
        fputs(item, stdout);
        col += len;
    }
    fputs("\n\n", stdout);

    printf("%-28s %5s  %-10s  %s\n", "OPERATION", "ETYPE", "LEVEL",
           "POLICY");
    for (i = 0; i < n; i++) {
        const hsm_strategy_row *r = &rows[i];
        char etype[16] = "-";

        if (r->etype != 0)
            snprintf(etype, sizeof(etype), "%d", (int)r->etype);
        printf("%-28s %5s  %-10s  %s\n", r->name, etype,
               hsm_level_name(r->level), r->allowed ? "allowed" : "REFUSED");
        if (r->strategy != NULL)
            printf("    %s\n", r->strategy);
        if (r->mechanisms != NULL && r->mechanisms[0] != '\0')
            print_wrapped_list(4, "mechanisms", r->mechanisms);
        if (r->missing != NULL)
            printf("    missing: %s%s%s\n", r->missing,
                   r->allowed ? "" : "; allow with --allow-host-op ",
                   r->allowed ? "" : row_policy_word(r));
    }
    fputs("\nT = on the token; H(import) = host only at import; "
          "H(arrival) = session key\non the host while it arrives; "
          "H(op) = host at every use; none = impossible.\n",
          stdout);
}

/* Opening the token runs the probe; there is no separate "probe" call,
 * since the strategies the engine will use are exactly the ones chosen at
 * open.  What is printed is therefore what a server with the same options
 * would do, not a separate estimate. */
int
cli_probe_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_TOKEN_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_token_opts o;
    hsm_token *tok = NULL;
    hsm_token_ident id;
    bool json = false;
    int ret = CLI_EXIT_OK, c;

    memset(&o, 0, sizeof(o));
    optind = 0; /* glibc: full re-initialisation of getopt */
    opterr = 0; /* our own one-line message instead of getopt's */
    while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        int t = cli_token_option(&o, c, optarg, "probe");

        if (t < 0)
            return CLI_EXIT_USAGE;
        if (t > 0)
            continue;
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(cli_probe_help, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("probe", "unknown or incomplete option "
                                            "'%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("probe", "unexpected argument '%s'",
                               argv[optind]);
    if (o.module == NULL)
        return cli_usage_error("probe", "--module is required");

    /* Errors from here on are token errors: cli_token_open() has printed
     * the one line and chosen the exit code (module 3, token 4, PIN 5-7).
     * Nothing is printed on stdout before the token is open, so a failing
     * probe never leaves half a table or half a JSON document behind for
     * a script to misparse. */
    ret = cli_token_open(&o, &tok);
    if (ret != CLI_EXIT_OK)
        goto cleanup;
    hsm_token_identity(tok, &id);
    if (json)
        print_json(tok, &id, o.policy);
    else
        print_text(tok, &id, o.policy);
    /* A full disk or a closed pipe must not exit 0: a script that stored
     * the JSON would otherwise read a truncated document as a result. */
    if (fflush(stdout) != 0) {
        fputs("hsmssp: cannot write the output\n", stderr);
        ret = CLI_EXIT_FAILURE;
    }

cleanup:
    hsm_token_close(tok);
    return ret;
}
