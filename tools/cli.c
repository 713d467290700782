/*
 * tools/cli.c - error reporting, token options and the JSON writer that
 * the subcommands of `hsmssp` share.
 */
#include <stdarg.h>
#include <string.h>

#include "tools/cli.h"

/* hsmssp_err -> exit code.  Only the failures an operator must tell apart
 * without reading the message get their own code; the rest are 1.  The
 * grouping follows what the operator does next: 3 fix the module path or
 * its install, 4 fix the URI, 5 retype the PIN (and mind the newline of a
 * PIN file), 6 unlock with the SO PIN, 7 fix how the PIN is supplied. */
static const struct {
    hsmssp_err err;
    int code;
} exit_table[] = {
    {HSMSSP_OK, CLI_EXIT_OK},
    {HSMSSP_ERR_MODULE_LOAD, CLI_EXIT_MODULE},
    {HSMSSP_ERR_MODULE_INIT, CLI_EXIT_MODULE},
    {HSMSSP_ERR_NO_TOKEN, CLI_EXIT_NO_TOKEN},
    {HSMSSP_ERR_PIN_INCORRECT, CLI_EXIT_PIN_WRONG},
    {HSMSSP_ERR_PIN_LOCKED, CLI_EXIT_PIN_LOCKED},
    {HSMSSP_ERR_PIN_EXPIRED, CLI_EXIT_PIN_OTHER},
    {HSMSSP_ERR_PIN_INVALID, CLI_EXIT_PIN_OTHER},
    {HSMSSP_ERR_PIN_UNAVAILABLE, CLI_EXIT_PIN_OTHER},
    {HSMSSP_ERR_FILE_PERMS, CLI_EXIT_PIN_OTHER},
    {HSMSSP_ERR_INTEGRITY, CLI_EXIT_INTEGRITY},
};

/* Linear lookup, as for every table of the project (STYLE sec. 5): the
 * table is tiny, and its order then carries no meaning that an edit could
 * break. */
int
cli_exit_code(hsmssp_err err)
{
    size_t i;

    for (i = 0; i < BASE_ARRAY_LEN(exit_table); i++) {
        if (exit_table[i].err == err)
            return exit_table[i].code;
    }
    return CLI_EXIT_FAILURE;
}

/* Why the detail and not the message alone: the detail names the
 * module path, the token label or the PIN file that failed, which is what
 * an operator needs to act.  Why the fallback: a caller may pass an err
 * that was not raised through BASE_ERR (a code returned by a table), and
 * then the recorded detail belongs to some older failure and would
 * mislead. */
int
cli_fail(hsmssp_err err, const char *what)
{
    /* The detail line already starts with the code's message ("PIN
     * incorrect: ..."), so the code's name would only repeat it; it is
     * kept for bug reports in the trace file, not here. */
    const char *detail = hsmssp_last_error_detail();

    if (hsmssp_last_error() != err || detail[0] == '\0')
        detail = hsmssp_err_message(err);
    if (what != NULL)
        fprintf(stderr, "hsmssp: %s: %s\n", what, detail);
    else
        fprintf(stderr, "hsmssp: %s\n", detail);
    return cli_exit_code(err);
}

/* Usage errors say where the help is rather than printing it: the help
 * runs to a screen, and the rule is one line per failure on stderr so that
 * scripts can log it verbatim. */
int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fputs("hsmssp: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'hsmssp help%s%s')\n", cmd ? " " : "",
            cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

/* Words of --allow-host-op.  "all" exists so that a script need not
 * change when a later package (negotiate) adds a bit. */
static const struct {
    const char *word;
    unsigned bits;
} policy_words[] = {
    {"krb", HSM_POLICY_ALLOW_HOST_OP_KRB},
    {"kerberos", HSM_POLICY_ALLOW_HOST_OP_KRB},
    {"ntlm", HSM_POLICY_ALLOW_HOST_OP_NTLM},
    {"all", HSM_POLICY_ALLOW_HOST_OP_KRB | HSM_POLICY_ALLOW_HOST_OP_NTLM},
    {"none", 0},
};

/* Strict: an unknown word is an error, not ignored, because a typo in a
 * security policy ("--allow-host-op ntml") must not silently leave the
 * operator believing something is allowed (or, worse, that a later
 * version's stricter word was honoured).  Empty items ("krb,,ntlm") are
 * tolerated: they cannot change the meaning. */
bool
cli_parse_policy(const char *list, unsigned *policy_out)
{
    const char *p = list;
    unsigned bits = 0;

    *policy_out = 0;
    while (*p != '\0') {
        size_t n = strcspn(p, ","), i;
        bool found = false;

        for (i = 0; i < BASE_ARRAY_LEN(policy_words); i++) {
            if (strlen(policy_words[i].word) == n &&
                strncmp(policy_words[i].word, p, n) == 0) {
                bits |= policy_words[i].bits;
                found = true;
                break;
            }
        }
        if (!found)
            return false;
        p += n;
        if (*p == ',')
            p++;
    }
    *policy_out = bits;
    return true;
}

/* The token options are shared so that every subcommand that reaches a
 * token spells them, and validates them, the same way; a subcommand's own
 * getopt loop calls this first and handles only what is left. */
int
cli_token_option(cli_token_opts *o, int c, const char *arg, const char *cmd)
{
    switch (c) {
    case 'm':
        o->module = arg;
        return 1;
    case 't':
        o->token_uri = arg;
        return 1;
    case 'I':
        o->init_args = arg;
        return 1;
    case 'p':
        o->pin_file = arg;
        return 1;
    case 'a':
        if (!cli_parse_policy(arg, &o->policy)) {
            cli_usage_error(cmd,
                            "--allow-host-op: unknown word in '%s' (krb, "
                            "ntlm, all, none)",
                            arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

/* hsm_config is filled field by field from the options, with the cache
 * size left at its default: the command opens a token for one short run,
 * so the cache bound does not matter here.  The PIN itself never passes
 * through this file: the URI's pin-value and the PIN file are handed to
 * the token layer, which keeps them in secure memory (docs/key-exposure.md
 * entry 4). */
int
cli_token_open(const cli_token_opts *o, hsm_token **tok_out)
{
    hsm_config cfg;
    hsmssp_err err;

    *tok_out = NULL;
    memset(&cfg, 0, sizeof(cfg));
    cfg.module = o->module;
    cfg.token_uri = o->token_uri;
    cfg.init_args = o->init_args;
    cfg.pin_file = o->pin_file;
    cfg.policy = o->policy;
    err = hsm_token_open(&cfg, tok_out);
    if (err != HSMSSP_OK)
        return cli_fail(err, NULL);
    return CLI_EXIT_OK;
}

/* CKA_IDs are given in hex on the command line, as pkcs11-tool and
 * PKCS#11 URIs (id=%01%02) show them.  Hand-written rather than sscanf so
 * that a stray character is an error instead of an early stop. */
static int
hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* An odd length is refused rather than padded: "abc" could mean 0abc or
 * abc0, and a CKA_ID that silently differs from what the user typed would
 * make the key impossible to find later. */
bool
cli_parse_hex(const char *hex, uint8_t *out, size_t cap, size_t *len_out)
{
    size_t n = strlen(hex), i;

    *len_out = 0;
    if (n == 0 || n % 2 != 0 || n / 2 > cap)
        return false;
    for (i = 0; i < n / 2; i++) {
        int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len_out = n / 2;
    return true;
}

/* ---- JSON ------------------------------------------------------------ */

void
cli_json_init(cli_json *j, FILE *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
}

/* Called before every value and every key: writes the comma that
 * separates it from its predecessor at this level.  A value right after
 * its key needs none. */
static void
json_sep(cli_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0 && j->depth <= CLI_JSON_DEPTH) {
        if (j->need_comma[j->depth - 1])
            fputc(',', j->out);
        j->need_comma[j->depth - 1] = true;
    }
}

/* Opening a container is a value in its parent (so it takes the parent's
 * separator) and starts a new level that has written nothing yet. */
static void
json_open(cli_json *j, char c)
{
    json_sep(j);
    fputc(c, j->out);
    if (j->depth < CLI_JSON_DEPTH)
        j->need_comma[j->depth] = false;
    j->depth++;
}

/* The outermost close ends the document with a newline, so that the
 * output is one line a shell `read` or a line-oriented tool can take. */
static void
json_close(cli_json *j, char c)
{
    if (j->depth > 0)
        j->depth--;
    fputc(c, j->out);
    if (j->depth == 0)
        fputc('\n', j->out);
}

void
cli_json_begin_object(cli_json *j)
{
    json_open(j, '{');
}

void
cli_json_end_object(cli_json *j)
{
    json_close(j, '}');
}

void
cli_json_begin_array(cli_json *j)
{
    json_open(j, '[');
}

void
cli_json_end_array(cli_json *j)
{
    json_close(j, ']');
}

/* RFC 8259 sec. 7: '"', '\\' and U+0000..U+001F must be escaped; DEL and
 * bytes >= 0x80 may pass.  Token fields are meant to be printable ASCII
 * but a module may put anything in them, so control bytes are escaped
 * rather than trusted. */
static void
json_write_string(FILE *out, const char *s)
{
    const unsigned char *p;

    fputc('"', out);
    for (p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

/* A key is written like a value (it takes the separator); the value that
 * follows must not take another, hence after_key. */
void
cli_json_key(cli_json *j, const char *key)
{
    json_sep(j);
    json_write_string(j->out, key);
    fputc(':', j->out);
    j->after_key = true;
}

void
cli_json_string(cli_json *j, const char *s)
{
    json_sep(j);
    if (s == NULL)
        fputs("null", j->out);
    else
        json_write_string(j->out, s);
}

void
cli_json_int(cli_json *j, long long v)
{
    json_sep(j);
    fprintf(j->out, "%lld", v);
}

void
cli_json_bool(cli_json *j, bool v)
{
    json_sep(j);
    fputs(v ? "true" : "false", j->out);
}

void
cli_json_null(cli_json *j)
{
    json_sep(j);
    fputs("null", j->out);
}

void
cli_json_kv_string(cli_json *j, const char *key, const char *s)
{
    cli_json_key(j, key);
    cli_json_string(j, s);
}

void
cli_json_kv_int(cli_json *j, const char *key, long long v)
{
    cli_json_key(j, key);
    cli_json_int(j, v);
}

void
cli_json_kv_bool(cli_json *j, const char *key, bool v)
{
    cli_json_key(j, key);
    cli_json_bool(j, v);
}
