/*
 * tools/key_cmd.c - `hsmssp key`: a developer tool that imports a raw
 * Kerberos key into a token and checks that the token can use it.
 *
 * Operators will provision keys with `hsmssp keytab` (a later issue); this
 * command exists so that `make demo` and scripts can put a freshly
 * generated key on a throw-away token and see the engine work with it.
 *
 * Key bytes: import-raw reads them from standard input with read(2)
 * straight into a base_secret (stdio would leave a copy in its unlocked
 * buffer), hands them to hsm_key_import() and wipes them.  They never
 * appear on the command line, in the environment, in a message or in
 * the output.  docs/key-exposure.md lists this path.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"

const char cli_key_help[] =
    "usage: hsmssp key import-raw TOKEN-OPTIONS --etype N --id HEX\n"
    "                             [--label L] < keyfile\n"
    "       hsmssp key test TOKEN-OPTIONS --etype N (--id HEX | --uri URI)\n"
    "\n"
    "Development tool (the demo uses it).  import-raw reads the raw key\n"
    "bytes (exactly the enctype's key length: 16 for etypes 17/19, 32 for\n"
    "18/20, 16 for 23) from standard input, which must not be a terminal,\n"
    "and stores them as a persistent, sensitive, non-extractable token\n"
    "object with CKA_ID HEX.  test finds that key (by CKA_ID, or by an\n"
    "RFC 7512 URI such as 'pkcs11:object=LABEL' or 'pkcs11:id=%01%02',\n"
    "which must match exactly one secret key of the token) and runs an\n"
    "encrypt, decrypt, tamper check and checksum round trip on the token.\n"
    "\n"
    "TOKEN-OPTIONS: --module PATH|NAME [--token URI] [--init-args STR]\n"
    "               [--pin-file FILE] [--allow-host-op krb,ntlm]\n"
    "               (as for 'hsmssp probe')\n"
    "--etype N      enctype number (17, 18, 19, 20, 23) or name\n"
    "               (aes256-cts-hmac-sha1-96 ...)\n"
    "\n"
    "exit codes: as for 'hsmssp probe' (0 ok, 1 failure, 2 usage, 3 module,\n"
    "4 no token, 5 wrong PIN, 6 PIN locked, 7 other PIN problem), and\n"
    "8 when a round trip of 'key test' does not verify.\n";

/* The enctypes the engine knows; hsm_etype_name() gives their names. */
static const int32_t known_etypes[] = {
    HSM_ETYPE_AES128_SHA1, HSM_ETYPE_AES256_SHA1, HSM_ETYPE_AES128_SHA256,
    HSM_ETYPE_AES256_SHA384, HSM_ETYPE_RC4_HMAC};

#define KEY_ID_MAX 64

/* Options of both key subcommands. */
typedef struct key_opts {
    cli_token_opts tok;
    int32_t etype;
    uint8_t id[KEY_ID_MAX];
    size_t id_len;
    const char *label;
    const char *uri; /* key test --uri: the key's PKCS#11 URI */
} key_opts;

/* Accepts the number or the name of an enctype, but only those the
 * engine implements: an unknown number must fail here, at the command
 * line, not after the key bytes have been read. */
static bool
parse_etype(const char *s, int32_t *out)
{
    size_t i;
    char *end = NULL;
    long v;

    *out = 0;
    errno = 0;
    v = strtol(s, &end, 10);
    for (i = 0; i < BASE_ARRAY_LEN(known_etypes); i++) {
        const char *name = hsm_etype_name(known_etypes[i]);

        if ((errno == 0 && end != s && *end == '\0' &&
             v == known_etypes[i]) ||
            (name != NULL && strcmp(name, s) == 0)) {
            *out = known_etypes[i];
            return true;
        }
    }
    return false;
}

/* Parses the options after "import-raw"/"test"; returns CLI_EXIT_OK,
 * CLI_EXIT_USAGE (message printed), or -1 when --help was asked for and
 * printed (the caller then exits 0 without doing anything). */
static int
parse_key_opts(int argc, char **argv, const char *cmd, bool want_label,
               key_opts *o)
{
    static const struct option longopts[] = {
        CLI_TOKEN_LONGOPTS,
        {"etype", required_argument, NULL, 'e'},
        {"id", required_argument, NULL, 'i'},
        {"label", required_argument, NULL, 'l'},
        {"uri", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        int t = cli_token_option(&o->tok, c, optarg, "key");

        if (t < 0)
            return CLI_EXIT_USAGE;
        if (t > 0)
            continue;
        switch (c) {
        case 'e':
            if (!parse_etype(optarg, &o->etype))
                return cli_usage_error("key", "%s: unknown enctype '%s'",
                                       cmd, optarg);
            break;
        case 'i':
            if (!cli_parse_hex(optarg, o->id, sizeof(o->id), &o->id_len))
                return cli_usage_error("key",
                                       "%s: --id wants 1 to %d bytes of hex",
                                       cmd, KEY_ID_MAX);
            break;
        case 'l':
            if (!want_label)
                return cli_usage_error("key", "%s takes no --label", cmd);
            o->label = optarg;
            break;
        case 'u':
            /* import-raw names the key it creates by --id (and --label);
             * a URI only selects keys that exist. */
            if (want_label)
                return cli_usage_error("key", "%s takes no --uri", cmd);
            o->uri = optarg;
            break;
        case 'h':
            fputs(cli_key_help, stdout);
            return -1;
        default:
            return cli_usage_error("key", "%s: unknown or incomplete option "
                                          "'%s'",
                                   cmd, argv[optind - 1]);
        }
    }
    /* A stray argument is refused: the key comes from standard input
     * only, and a key file named on the command line would otherwise be
     * silently ignored while stdin (perhaps a terminal) is read. */
    if (optind < argc)
        return cli_usage_error("key", "%s: unexpected argument '%s'", cmd,
                               argv[optind]);
    if (o->id_len > 0 && o->uri != NULL)
        return cli_usage_error("key", "%s takes --id or --uri, not both",
                               cmd);
    if (o->tok.module == NULL || o->etype == 0 ||
        (o->id_len == 0 && o->uri == NULL))
        return cli_usage_error("key", "%s needs --module, --etype and %s",
                               cmd, want_label ? "--id" : "--id or --uri");
    return CLI_EXIT_OK;
}

/* Reads exactly want bytes from fd 0 into key->data; one byte more, or
 * fewer, is an error (a truncated or hex-encoded file must not become a
 * different key).  read(2), not stdio: stdio would copy the key into its
 * own unlocked buffer that nobody wipes. */
static hsmssp_err
read_key_stdin(base_secret *key, size_t want)
{
    size_t got = 0;

    if (isatty(0))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "standard input is a terminal; redirect the key "
                        "file (< keyfile)");
    while (got <= want) {
        ssize_t r = read(0, key->data + got, key->cap - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "reading standard input: %s", strerror(errno));
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got != want)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "standard input holds %s%zu bytes, the enctype "
                        "needs exactly %zu raw bytes",
                        got > want ? "more than " : "", got > want ? want : got,
                        want);
    key->len = want;
    return HSMSSP_OK;
}

/* Prints the CKA_ID back as hex.  The id is not secret: it is the name
 * by which later processes find the key (hsm_key_find). */
static void
print_id(const key_opts *o)
{
    size_t i;

    for (i = 0; i < o->id_len; i++)
        printf("%02x", o->id[i]);
}

/* Order matters: the key is read before the token is opened, so a bad
 * key file fails without touching the token, and the secret is freed
 * right after the import call, before anything is printed, so it lives
 * for as short a time as the flow allows.  The imported key is a
 * persistent object (spec.persistent): the point of the command is that
 * another process finds it later. */
static int
import_raw_main(int argc, char **argv)
{
    key_opts o;
    hsm_token *tok = NULL;
    hsm_key *key = NULL;
    base_secret *bytes = NULL;
    hsm_key_spec spec;
    hsmssp_err err;
    size_t keylen;
    int ret;

    ret = parse_key_opts(argc, argv, "import-raw", true, &o);
    if (ret != CLI_EXIT_OK)
        return ret < 0 ? CLI_EXIT_OK : ret;
    keylen = hsm_etype_keylen(o.etype);

    /* One spare byte of capacity lets read_key_stdin() notice an input
     * longer than the key. */
    err = base_secret_new(0, keylen + 1, &bytes);
    if (err != HSMSSP_OK) {
        ret = cli_fail(err, "import-raw");
        goto cleanup;
    }
    err = read_key_stdin(bytes, keylen);
    if (err != HSMSSP_OK) {
        ret = cli_fail(err, "import-raw");
        goto cleanup;
    }
    ret = cli_token_open(&o.tok, &tok);
    if (ret != CLI_EXIT_OK)
        goto cleanup;

    memset(&spec, 0, sizeof(spec));
    spec.etype = o.etype;
    spec.key_class = HSM_KEY_LONG_TERM;
    spec.persistent = true;
    spec.id = o.id;
    spec.id_len = o.id_len;
    spec.label = o.label;
    err = hsm_key_import(tok, &spec, bytes, &key);
    /* The token has its copy (or the import failed): ours goes now, not
     * at exit, so it does not outlive the one call that needed it. */
    base_secret_free(bytes);
    bytes = NULL;
    if (err != HSMSSP_OK) {
        ret = cli_fail(err, "import-raw");
        goto cleanup;
    }
    printf("imported %s (etype %d) as a persistent token key, id ",
           hsm_etype_name(o.etype), (int)o.etype);
    print_id(&o);
    printf(", label '%s'\n", o.label != NULL ? o.label : "");
    ret = CLI_EXIT_OK;

cleanup:
    base_secret_free(bytes);
    hsm_key_free(key);
    hsm_token_close(tok);
    return ret;
}

/* The checks of `key test`, in order.  Each prints one line; the first
 * failure stops the run. */
static int
key_test_run(hsm_token *tok, hsm_key *key, int32_t etype)
{
    /* Usage 2 (ticket encryption) and 17 (application checksum) are in
     * the default long-term set that every strategy provisions at import
     * (hsm.h), so the test works for host-derived strategies too. */
    const int32_t enc_usage = HSM_USAGE_KDC_REP_TICKET;
    const int32_t ck_usage = HSM_USAGE_APP_DATA_CKSUM;
    uint8_t msg[96], ct[256], pt[256], ck[64];
    size_t msg_len, ct_len = 0, pt_len = 0, ck_len = 0;
    uint64_t calls;
    hsmssp_err err;
    int ret = CLI_EXIT_FAILURE;

    msg_len = (size_t)snprintf((char *)msg, sizeof(msg),
                               "hsmssp key test, etype %d, at %lld",
                               (int)etype, (long long)time(NULL));

    /* The call counts printed with each step are the engine's cost model
     * made visible: a derived key is created on first use of a usage and
     * cached, so a second run of the same step costs fewer calls. */
    calls = hsm_token_call_count(tok);
    err = hsm_krb_encrypt(key, enc_usage, msg, msg_len, ct, sizeof(ct),
                          &ct_len);
    if (err != HSMSSP_OK) {
        ret = cli_fail(err, "encrypt");
        goto cleanup;
    }
    printf("  encrypt   %3zu bytes -> %3zu bytes   %2llu PKCS#11 calls\n",
           msg_len, ct_len,
           (unsigned long long)(hsm_token_call_count(tok) - calls));

    calls = hsm_token_call_count(tok);
    err = hsm_krb_decrypt(key, enc_usage, ct, ct_len, pt, sizeof(pt),
                          &pt_len);
    if (err != HSMSSP_OK) {
        ret = cli_fail(err, "decrypt");
        goto cleanup;
    }
    if (pt_len != msg_len || memcmp(pt, msg, msg_len) != 0) {
        fputs("hsmssp: decrypt: plaintext differs from the message\n",
              stderr);
        ret = CLI_EXIT_INTEGRITY;
        goto cleanup;
    }
    printf("  decrypt   %3zu bytes -> %3zu bytes   %2llu PKCS#11 calls, "
           "plaintext matches\n",
           ct_len, pt_len,
           (unsigned long long)(hsm_token_call_count(tok) - calls));

    /* A flipped bit in the middle of the ciphertext must be caught by the
     * integrity check, which proves the check runs at all. */
    ct[ct_len / 2] ^= 0x01;
    err = hsm_krb_decrypt(key, enc_usage, ct, ct_len, pt, sizeof(pt),
                          &pt_len);
    if (err != HSMSSP_ERR_INTEGRITY) {
        fprintf(stderr, "hsmssp: tampered ciphertext gave %s, expected "
                        "an integrity failure\n",
                hsmssp_err_name(err));
        ret = CLI_EXIT_INTEGRITY;
        goto cleanup;
    }
    printf("  tamper    one flipped bit            rejected "
           "(integrity check failed)\n");

    /* Checksums use another derived key (Kc) than encryption (Ke, Ki), so
     * this step exercises a second derivation path of the strategy. */
    calls = hsm_token_call_count(tok);
    err = hsm_krb_checksum(key, ck_usage, msg, msg_len, ck, sizeof(ck),
                           &ck_len);
    if (err == HSMSSP_OK)
        err = hsm_krb_checksum_verify(key, ck_usage, msg, msg_len, ck,
                                      ck_len);
    if (err != HSMSSP_OK) {
        ret = cli_fail(err, "checksum");
        goto cleanup;
    }
    printf("  checksum  type %d, %zu bytes           %2llu PKCS#11 calls "
           "(make + verify)\n",
           (int)hsm_krb_cksumtype(etype), ck_len,
           (unsigned long long)(hsm_token_call_count(tok) - calls));
    /* And the verify must be able to say no, or the step above proves
     * nothing. */
    msg[0] ^= 0x01;
    err = hsm_krb_checksum_verify(key, ck_usage, msg, msg_len, ck, ck_len);
    if (err != HSMSSP_ERR_INTEGRITY) {
        fprintf(stderr, "hsmssp: checksum over an altered message gave "
                        "%s, expected an integrity failure\n",
                hsmssp_err_name(err));
        ret = CLI_EXIT_INTEGRITY;
        goto cleanup;
    }
    printf("  verify    altered message            rejected\n");
    ret = CLI_EXIT_OK;

cleanup:
    return ret;
}

/* `key test` runs in a process that never saw the key bytes: it finds
 * the key by CKA_ID, which is the situation of every real user of the
 * token, and shows that the stored objects suffice. */
static int
test_main(int argc, char **argv)
{
    key_opts o;
    hsm_token *tok = NULL;
    hsm_key *key = NULL;
    hsmssp_err err;
    int ret;

    ret = parse_key_opts(argc, argv, "test", false, &o);
    if (ret != CLI_EXIT_OK)
        return ret < 0 ? CLI_EXIT_OK : ret;
    ret = cli_token_open(&o.tok, &tok);
    if (ret != CLI_EXIT_OK)
        goto cleanup;
    /* The URI is not printed back: it may carry a pin-value. */
    if (o.uri != NULL)
        err = hsm_key_find_uri(tok, o.etype, o.uri, &key);
    else
        err = hsm_key_find(tok, o.etype, o.id, o.id_len, &key);
    if (err != HSMSSP_OK) {
        ret = cli_fail(err, "test");
        goto cleanup;
    }
    if (o.uri != NULL) {
        printf("key selected by --uri");
    } else {
        printf("key ");
        print_id(&o);
    }
    printf(" (%s) found on the token\n", hsm_etype_name(o.etype));
    ret = key_test_run(tok, key, o.etype);
    if (ret == CLI_EXIT_OK)
        printf("OK\n");

cleanup:
    hsm_key_free(key);
    hsm_token_close(tok);
    return ret;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} key_commands[] = {
    {"import-raw", import_raw_main},
    {"test", test_main},
};

/* `key` has subcommands of its own, looked up in key_commands like the
 * top-level table. */
int
cli_key_main(int argc, char **argv)
{
    size_t i;

    if (argc < 2)
        return cli_usage_error("key", "key needs a subcommand (import-raw, "
                                      "test)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(cli_key_help, stdout);
        return CLI_EXIT_OK;
    }
    for (i = 0; i < BASE_ARRAY_LEN(key_commands); i++) {
        if (strcmp(key_commands[i].name, argv[1]) == 0)
            return key_commands[i].run(argc - 1, argv + 1);
    }
    return cli_usage_error("key", "unknown key subcommand '%s'", argv[1]);
}
