/*
 * tools/client_cmd.c - `hsmssp client`: MIT's gss-client, with the
 * client's keys on the token.
 *
 * The credential is an outbound Kerberos credential
 * (AcquireCredentialsHandleA, SECPKG_CRED_OUTBOUND): an account whose
 * long-term key is on the token (AS exchange on the token, or the TGT
 * `hsmssp kinit` stored), a credential cache (KRB5CCNAME), or, with
 * --password-file, an explicit identity whose password-derived key goes
 * straight into the token.  Then, per message, as gss-client does: the
 * message wrapped (sealed unless --no-encrypt) and sent, the server's MIC
 * over it verified.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/secmem.h"
#include "hsmssp/errors.h"
#include "hsmssp/sspi.h"
#include "tools/cli.h"
#include "tools/gss_wire.h"

const char cli_client_help[] =
    "usage: hsmssp client [options] HOST SERVICE MESSAGE\n"
    "\n"
    "Logs into SERVICE on HOST with Kerberos and sends MESSAGE, speaking\n"
    "MIT's gss-sample protocol (gss-server, hsmssp server).  SERVICE is\n"
    "service@host (host@www.example.com) or an SPN (host/www.example.com,\n"
    "optionally @REALM).\n"
    "\n"
    "options:\n"
    "  --port N             TCP port (default 4444)\n"
    "  --credential PRINC   the client principal (default: the credential\n"
    "                       cache's); its key on the token, a TGT stored by\n"
    "                       'hsmssp kinit', or a credential cache\n"
    "  --password-file F    log in as --credential with the password in F\n"
    "                       (the key made from it goes into the token)\n"
    "  --no-mutual          do not ask for mutual authentication\n"
    "  --seq                ask for sequence detection\n"
    "  --no-replay          do not ask for replay detection\n"
    "  --delegate           ask to delegate (forward) the TGT; policy and\n"
    "                       the KDC's ok-as-delegate flag decide\n"
    "  --no-wrap            send the message in the clear\n"
    "  --no-encrypt         wrap without confidentiality\n"
    "  --no-mic             do not ask for the server's MIC\n"
    "  --count N            send the message N times (default 1)\n"
    "  --cb-app-data STR    channel bindings with STR as application data\n"
    "  --config FILE        hsmssp configuration file (else $HSMSSP_CONFIG)\n"
    "  --import-keytab FILE import FILE's keys into session objects first\n"
    "                       (for tokens that cannot store keys)\n"
    "  --quiet              print nothing but errors\n"
    "\n"
    "exit codes: 0 every message went through, 1 a step failed, 2 usage.\n";

/* Reads the password file into a secure buffer (one trailing newline
 * dropped).  The file must not be readable by group or others. */
static int
read_password(const char *path, base_secret **out)
{
    struct stat sb;
    base_secret *s = NULL;
    ssize_t r;
    size_t n = 0;
    int fd;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "hsmssp client: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0 ||
        sb.st_size > 1024) {
        fprintf(stderr,
                "hsmssp client: %s must be a file of at most 1024 bytes "
                "that only its owner can read (mode %o)\n",
                path, (unsigned)(sb.st_mode & 07777));
        close(fd);
        return -1;
    }
    if (base_secret_new(0, 1025, &s) != HSMSSP_OK) {
        close(fd);
        return -1;
    }
    while ((r = read(fd, s->data + n, 1025 - n)) > 0)
        n += (size_t)r;
    close(fd);
    if (r < 0 || n > 1024) {
        base_secret_free(s);
        fprintf(stderr, "hsmssp client: cannot read %s\n", path);
        return -1;
    }
    if (n > 0 && s->data[n - 1] == '\n')
        n--;
    s->len = n;
    *out = s;
    return 0;
}

int
cli_client_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'P'},
        {"credential", required_argument, NULL, 'C'},
        {"password-file", required_argument, NULL, 'w'},
        {"no-mutual", no_argument, NULL, 'M'},
        {"seq", no_argument, NULL, 's'},
        {"no-replay", no_argument, NULL, 'R'},
        {"delegate", no_argument, NULL, 'd'},
        {"no-wrap", no_argument, NULL, 'W'},
        {"no-encrypt", no_argument, NULL, 'E'},
        {"no-mic", no_argument, NULL, 'm'},
        {"count", required_argument, NULL, 'n'},
        {"cb-app-data", required_argument, NULL, 'B'},
        {"config", required_argument, NULL, 'c'},
        {"import-keytab", required_argument, NULL, 'k'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    gss_client_opts o = {.mutual = true,
                         .replay = true,
                         .wrap = true,
                         .encrypt = true,
                         .mic = true,
                         .count = 1,
                         .out = stdout,
                         .prefix = "hsmssp client"};
    const char *principal = NULL, *pwfile = NULL, *config = NULL;
    const char *cb_app = NULL, *keytab = NULL;
    PSecurityFunctionTableA t;
    SEC_CHANNEL_BINDINGS *cb = NULL;
    SEC_WINNT_AUTH_IDENTITY_A ai;
    base_secret *pw = NULL;
    CredHandle cred;
    TimeStamp exp;
    SECURITY_STATUS st;
    long port = 4444, count;
    char *end;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'P':
            port = strtol(optarg, &end, 10);
            if (*end != '\0' || port < 1 || port > 65535)
                return cli_usage_error("client", "bad port '%s'", optarg);
            break;
        case 'C':
            principal = optarg;
            break;
        case 'w':
            pwfile = optarg;
            break;
        case 'M':
            o.mutual = false;
            break;
        case 's':
            o.seq = true;
            break;
        case 'R':
            o.replay = false;
            break;
        case 'd':
            o.delegate = true;
            break;
        case 'W':
            o.wrap = false;
            break;
        case 'E':
            o.encrypt = false;
            break;
        case 'm':
            o.mic = false;
            break;
        case 'n':
            count = strtol(optarg, &end, 10);
            if (*end != '\0' || count < 1 || count > 1000000)
                return cli_usage_error("client", "bad count '%s'", optarg);
            o.count = (unsigned)count;
            break;
        case 'B':
            cb_app = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'k':
            keytab = optarg;
            break;
        case 'q':
            o.out = NULL;
            break;
        case 'h':
            fputs(cli_client_help, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("client", "unknown option");
        }
    }
    if (optind != argc - 3)
        return cli_usage_error("client", "give HOST SERVICE MESSAGE");
    if (pwfile != NULL && principal == NULL)
        return cli_usage_error("client",
                               "--password-file needs --credential");
    signal(SIGPIPE, SIG_IGN);
    t = InitSecurityInterfaceA();
    if (config != NULL) {
        st = HsmsspConfigureA(config);
        if (st != SEC_E_OK) {
            fprintf(stderr, "hsmssp client: configuration: 0x%08x: %s\n",
                    (unsigned)st, hsmssp_last_error_detail());
            return CLI_EXIT_FAILURE;
        }
    }
    if (keytab != NULL) {
        rc = cli_import_keytab_session(keytab, o.out == NULL,
                                       "hsmssp client");
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    if (cb_app != NULL) {
        cb = gss_make_bindings(cb_app, &o.cb_len);
        if (cb == NULL)
            return CLI_EXIT_FAILURE;
        o.cb = cb;
    }
    memset(&ai, 0, sizeof(ai));
    if (pwfile != NULL) {
        if (read_password(pwfile, &pw) != 0) {
            free(cb);
            return CLI_EXIT_FAILURE;
        }
        ai.User = (unsigned char *)principal;
        ai.UserLength = (ULONG)strlen(principal);
        ai.Password = pw->data;
        ai.PasswordLength = (ULONG)pw->len;
        ai.Flags = SEC_WINNT_AUTH_IDENTITY_ANSI;
    }
    st = t->AcquireCredentialsHandleA(
        pwfile ? NULL : (SEC_CHAR *)principal, MICROSOFT_KERBEROS_NAME_A,
        SECPKG_CRED_OUTBOUND, NULL, pwfile ? &ai : NULL, NULL, NULL, &cred,
        &exp);
    base_secret_free(pw); /* the key is on the token now */
    if (st != SEC_E_OK) {
        fprintf(stderr, "hsmssp client: AcquireCredentialsHandle: 0x%08x: "
                        "%s\n",
                (unsigned)st, hsmssp_last_error_detail());
        free(cb);
        return CLI_EXIT_FAILURE;
    }
    rc = gss_client_run(t, &cred, argv[optind], (uint16_t)port,
                        argv[optind + 1], (const uint8_t *)argv[optind + 2],
                        strlen(argv[optind + 2]), &o, NULL);
    t->FreeCredentialsHandle(&cred);
    free(cb);
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
