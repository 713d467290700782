/*
 * tools/cli.h - what the subcommands of the `hsmssp` command share.
 *
 * The command is a thin shell over hsm/: each subcommand parses its
 * options, calls the token layer and turns the hsmssp_err it gets back
 * into one line on stderr and a documented exit code.  Nothing here
 * touches PKCS#11 directly, and no secret ever reaches stdout or stderr:
 * messages come from hsmssp_last_error_detail(), which the layers below
 * keep free of PINs and key bytes.
 *
 * Exit codes are part of the command's interface (docs/cli.md): scripts
 * tell "module missing" from "wrong PIN" by the number alone, so a code
 * keeps its meaning for ever.
 */
#ifndef HSMSSP_TOOLS_CLI_H
#define HSMSSP_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <getopt.h>
#include <stdio.h>

#include "hsm/hsm.h"

/* ---- exit codes ------------------------------------------------------ */

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1   /* anything not listed below */
#define CLI_EXIT_USAGE 2     /* bad command line */
#define CLI_EXIT_MODULE 3    /* module not loadable or not initialisable */
#define CLI_EXIT_NO_TOKEN 4  /* no token matches the URI */
#define CLI_EXIT_PIN_WRONG 5 /* PIN incorrect */
#define CLI_EXIT_PIN_LOCKED 6
#define CLI_EXIT_PIN_OTHER 7 /* expired, invalid form, none, file perms */
#define CLI_EXIT_INTEGRITY 8 /* `key test`: a round trip did not verify */
/* `keytab import` (tools/keytab_cmd.c sets these itself: they describe a
 * whole run, not one hsmssp_err). */
#define CLI_EXIT_KT_EXISTS 9      /* keys already on the token, no failure */
#define CLI_EXIT_KT_PARTIAL 10    /* an entry was not imported */
#define CLI_EXIT_KT_UNREADABLE 11 /* the keytab cannot be read */
#define CLI_EXIT_KT_NO_STORAGE 12 /* the token cannot store keys */

/* The exit code for an error of the layers below (table in cli.c);
 * CLI_EXIT_OK for HSMSSP_OK, CLI_EXIT_FAILURE for unlisted codes. */
int cli_exit_code(hsmssp_err err);

/* Prints "hsmssp: <what>: <last error detail>" (or without <what> when it
 * is NULL) on stderr and returns cli_exit_code(err).  Call it right after
 * the failing call: the detail is per thread and the next failure
 * overwrites it. */
int cli_fail(hsmssp_err err, const char *what);

/* Prints "hsmssp: <message>" and a pointer to the help on stderr; returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- token options shared by probe and key ------------------------- */

/* Options every token-using subcommand takes.  The strings point into
 * argv; nothing here is a secret except what a pin-value in the URI
 * holds, and that stays in argv where the user put it (docs/cli.md says
 * to prefer --pin-file or pin-source). */
typedef struct cli_token_opts {
    const char *module;
    const char *token_uri;
    const char *init_args;
    const char *pin_file;
    unsigned policy; /* HSM_POLICY_* from --allow-host-op */
} cli_token_opts;

/* The getopt_long rows of the token options, for a subcommand's own
 * option table; their values are the characters cli_token_option()
 * handles. */
#define CLI_TOKEN_LONGOPTS                                                 \
    {"module", required_argument, NULL, 'm'},                              \
        {"token", required_argument, NULL, 't'},                           \
        {"init-args", required_argument, NULL, 'I'},                       \
        {"pin-file", required_argument, NULL, 'p'},                        \
        {"allow-host-op", required_argument, NULL, 'a'}

/* Handles one getopt_long result c with argument arg if it is a token
 * option: returns 1 when handled, 0 when c is not a token option, and -1
 * (after printing the usage error for cmd) when its value is bad. */
int cli_token_option(cli_token_opts *o, int c, const char *arg,
                     const char *cmd);

/* Parses the value of --allow-host-op ("krb", "ntlm", "krb,ntlm", "all",
 * "none") into HSM_POLICY_* bits.  false on an unknown word. */
bool cli_parse_policy(const char *list, unsigned *policy_out);

/* Opens the token the options describe.  On failure prints the one-line
 * error and returns its exit code; *tok_out is NULL then. */
int cli_token_open(const cli_token_opts *o, hsm_token **tok_out);

/* Parses a hex string (even length, upper or lower case) into out, at
 * most cap bytes.  false on bad input. */
bool cli_parse_hex(const char *hex, uint8_t *out, size_t cap,
                   size_t *len_out);

/* ---- a tiny JSON writer ---------------------------------------------- */

/* Writes syntactically valid JSON to a stream without building a tree:
 * it remembers, per nesting level, whether a separator is due.  Strings
 * are escaped per RFC 8259 sec. 7 (quote, backslash, control characters
 * as \uXXXX; other bytes pass through, since every string we print is
 * ASCII from the token's padded fields or our own tables).  Nesting
 * deeper than CLI_JSON_DEPTH is a programming error and is ignored. */
#define CLI_JSON_DEPTH 16

typedef struct cli_json {
    FILE *out;
    int depth;
    bool need_comma[CLI_JSON_DEPTH];
    bool after_key; /* a key was written: the value needs no comma */
} cli_json;

void cli_json_init(cli_json *j, FILE *out);
void cli_json_begin_object(cli_json *j);
void cli_json_end_object(cli_json *j);
void cli_json_begin_array(cli_json *j);
void cli_json_end_array(cli_json *j);
/* Writes "key": inside an object; the next call writes the value. */
void cli_json_key(cli_json *j, const char *key);
/* NULL writes null. */
void cli_json_string(cli_json *j, const char *s);
void cli_json_int(cli_json *j, long long v);
void cli_json_bool(cli_json *j, bool v);
void cli_json_null(cli_json *j);
/* Shorthands for "key": value. */
void cli_json_kv_string(cli_json *j, const char *key, const char *s);
void cli_json_kv_int(cli_json *j, const char *key, long long v);
void cli_json_kv_bool(cli_json *j, const char *key, bool v);

/* ---- keys in this process's token session (cli_session.c) ---------- */

/* Imports a keytab's keys into session objects of the SSPI runtime's
 * token and registers them, so that credentials acquired afterwards
 * (inbound or outbound) use them.  Prints one line per key unless quiet,
 * failures prefixed with who.  Returns a CLI_EXIT_* code. */
int cli_import_keytab_session(const char *path, bool quiet, const char *who);

/* ---- subcommands ----------------------------------------------------- */

/* Each takes the arguments after its own name (argv[0] is the
 * subcommand's name) and returns an exit code. */
int cli_probe_main(int argc, char **argv);
int cli_key_main(int argc, char **argv);
int cli_keytab_main(int argc, char **argv);
int cli_server_main(int argc, char **argv);
int cli_client_main(int argc, char **argv);
int cli_kinit_main(int argc, char **argv);
int cli_account_main(int argc, char **argv);
int cli_klist_main(int argc, char **argv);
int cli_kdestroy_main(int argc, char **argv);

/* Help texts, printed by `hsmssp help <cmd>` and `hsmssp <cmd> --help`. */
extern const char cli_probe_help[];
extern const char cli_key_help[];
extern const char cli_keytab_help[];
extern const char cli_server_help[];
extern const char cli_client_help[];
extern const char cli_kinit_help[];
extern const char cli_account_help[];
extern const char cli_klist_help[];
extern const char cli_kdestroy_help[];

#endif
