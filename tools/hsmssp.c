/*
 * tools/hsmssp.c - the `hsmssp` command: finds the subcommand in one
 * table and hands it the rest of the command line.
 *
 * Later issues add keytab, server and client as rows of the same table;
 * nothing else here needs to change for them.
 */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

#ifndef HSMSSP_VERSION
#define HSMSSP_VERSION "unknown"
#endif

static int help_main(int argc, char **argv);
static int version_main(int argc, char **argv);

/* One row per subcommand.  hidden rows work but are left out of the
 * overview (`key` is a developer tool for the demo and tests; operators
 * provision keys with `hsmssp keytab` once it exists). */
static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *help; /* long help, NULL: the summary is all */
    bool hidden;
} commands[] = {
    {"probe", cli_probe_main,
     "show a token's identity and what runs on the token", cli_probe_help,
     false},
    {"key", cli_key_main, "import a raw key and test it (development)",
     cli_key_help, true},
    {"keytab", cli_keytab_main,
     "import MIT keytabs into the token; list and remove keys",
     cli_keytab_help, false},
    {"server", cli_server_main,
     "accept Kerberos logins with the keys on the token (gss-sample "
     "protocol)",
     cli_server_help, false},
    {"client", cli_client_main,
     "log into a Kerberos service with the client's key on the token "
     "(gss-sample protocol)",
     cli_client_help, false},
    {"account", cli_account_main,
     "make an account's keys from its password and store them on the "
     "token",
     cli_account_help, false},
    {"kinit", cli_kinit_main,
     "get a TGT for an account whose key is on the token and keep it",
     cli_kinit_help, false},
    {"klist", cli_klist_main, "list the TGTs kinit stored", cli_klist_help,
     false},
    {"kdestroy", cli_kdestroy_main, "remove stored TGTs and their keys",
     cli_kdestroy_help, false},
    {"help", help_main, "show help for a command", NULL, false},
    {"--version", version_main, "print the version", NULL, true},
    {"version", version_main, "print the version", NULL, false},
};

/* Exact match only: no prefix abbreviations, because a later command
 * (keytab, kinit) could make an abbreviation that used to be unique
 * ambiguous, and a script that relied on it would suddenly run something
 * else. */
static const struct command *
find_command(const char *name)
{
    size_t i;

    for (i = 0; i < BASE_ARRAY_LEN(commands); i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

/* The overview is generated from the table, so a new command shows up
 * in it without anyone remembering to edit a help text. */
static void
overview(FILE *out)
{
    size_t i;

    fputs("usage: hsmssp <command> [options]\n\n"
          "hsmssp keeps Kerberos and NTLM keys in a PKCS#11 token and\n"
          "performs their cryptography there.\n\ncommands:\n",
          out);
    for (i = 0; i < BASE_ARRAY_LEN(commands); i++) {
        if (!commands[i].hidden)
            fprintf(out, "  %-10s %s\n", commands[i].name,
                    commands[i].summary);
    }
    fputs("\n'hsmssp help <command>' shows a command's options and exit "
          "codes.\n",
          out);
}

/* `hsmssp help probe` and `hsmssp probe --help` print the same text
 * (the command's help string), so the two cannot drift apart. */
static int
help_main(int argc, char **argv)
{
    const struct command *c;

    if (argc < 2) {
        overview(stdout);
        return CLI_EXIT_OK;
    }
    c = find_command(argv[1]);
    if (c == NULL)
        return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
    if (c->help != NULL)
        fputs(c->help, stdout);
    else
        printf("hsmssp %s: %s\n", c->name, c->summary);
    return CLI_EXIT_OK;
}

static int
version_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("hsmssp %s\n", HSMSSP_VERSION);
    return CLI_EXIT_OK;
}

/* No command is a usage error (exit 2, overview on stderr) rather than
 * the overview on stdout with success: a script that lost its arguments
 * must not look as if it had succeeded. */
int
main(int argc, char **argv)
{
    const struct command *c;

    if (argc < 2) {
        overview(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        overview(stdout);
        return CLI_EXIT_OK;
    }
    c = find_command(argv[1]);
    if (c == NULL)
        return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
    return c->run(argc - 1, argv + 1);
}
