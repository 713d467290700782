/*
 * tools/server_cmd.c - `hsmssp server`: a Kerberos server whose service
 * keys stay on the token, speaking MIT's gss-sample protocol (DESIGN
 * sec. 5) so that MIT's gss-client (and any GSS client) can log in.
 *
 * It is written against the public SSPI interface only - the function
 * table from InitSecurityInterfaceA, AcceptSecurityContext,
 * DecryptMessage, MakeSignature, QueryContextAttributesA - the way a
 * Windows SSPI server is, so it doubles as the reference for porting one.
 * The one exception is --import-keytab, which loads a keytab into session
 * objects of this process's token session (for tokens such as NSS
 * softoken without a database, which cannot store keys): that step is
 * provisioning, not SSPI.
 *
 * Per connection, as MIT's gss-server does:
 *   1. a NOOP token, with CONTEXT_NEXT when a context follows;
 *   2. CONTEXT tokens in, AcceptSecurityContext, CONTEXT tokens out (also
 *      the KRB-ERROR token of a failed attempt);
 *   3. DATA tokens: unwrapped with DecryptMessage (STREAM + DATA) when
 *      flagged WRAPPED, printed, answered with a MIC over the plaintext
 *      (MakeSignature) when flagged SEND_MIC, else with an empty NOOP;
 *   4. a NOOP token ends the connection.
 * Each connection runs in its own thread; contexts are never shared.
 *
 * With --forward HOST:PORT SERVICE the server is also a client: it asks
 * for delegation (ASC_REQ_DELEGATE), and each message it receives is
 * relayed to SERVICE at HOST:PORT over a context made with the client's
 * delegated TGT (HsmsspAcquireDelegatedCredentialsA, then the same client
 * conversation as `hsmssp client`, tools/gss_wire.h).  That is the
 * double-hop a web front end does towards a database on its user's
 * behalf; the TGT's session key stays on this process's token.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hsmssp/sspi.h"
#include "keytabs/keytabs.h"
#include "provider/kerberos/kerb-int.h"
#include "sspi/sspi-int.h"
#include "tools/cli.h"
#include "tools/gss_wire.h"

#define MAX_THREADS 32

const char cli_server_help[] =
    "usage: hsmssp server [options] NAME\n"
    "\n"
    "Accepts Kerberos logins with the service keys on the token and\n"
    "answers MIT's gss-client (gss-sample protocol): each message is\n"
    "unwrapped and printed, and a MIC over it is sent back.\n"
    "\n"
    "NAME is the service principal (HTTP/www.example.com@REALM, or\n"
    "without realm for the default one), MIT's service@host form\n"
    "(HTTP@www.example.com), or '*' for any service key on the token.\n"
    "\n"
    "options:\n"
    "  --port N            TCP port (default 4444)\n"
    "  --bind ADDR         address to listen on (default 127.0.0.1)\n"
    "  --once              serve one connection, then exit\n"
    "  --config FILE       hsmssp configuration file (else $HSMSSP_CONFIG)\n"
    "  --import-keytab FILE\n"
    "                      import FILE's keys into session objects first\n"
    "                      (for tokens that cannot store keys)\n"
    "  --no-replay         do not ask for replay detection\n"
    "  --cb-app-data STR   channel bindings with STR as application data\n"
    "                      (checked against the client's, docs/config.md\n"
    "                      [policy] channel_bindings)\n"
    "  --forward HOST:PORT SERVICE\n"
    "                      ask clients to delegate, and relay each message\n"
    "                      to SERVICE (service@host or an SPN) at\n"
    "                      HOST:PORT, logged in as the client with its\n"
    "                      delegated TGT; a client that did not delegate\n"
    "                      is refused (its connection fails)\n"
    "  --quiet             print nothing but errors\n"
    "\n"
    "exit codes: 0 served, 1 a connection failed (with --once) or the\n"
    "credential could not be acquired, 2 usage.\n";

typedef struct server {
    PSecurityFunctionTableA t;
    CredHandle cred;
    ULONG asc_flags;
    SEC_CHANNEL_BINDINGS *cb; /* NULL: none */
    size_t cb_len;
    bool quiet;
    const char *fwd_host;    /* --forward: NULL when not forwarding, */
    uint16_t fwd_port;       /* else fwd_host_buf */
    const char *fwd_service; /* points into argv */
    char fwd_host_buf[256];
    pthread_mutex_t out_lock; /* one line at a time on stdout */
    pthread_mutex_t n_lock;
    pthread_cond_t n_cond;
    unsigned n_threads;
} server;

typedef struct conn {
    server *srv;
    int fd;
    int result;    /* 0 served */
    bool detached; /* the serving thread frees the struct */
    char *client;  /* the client's principal (malloc'ed), NULL unknown */
    ULONG attrs;   /* ASC_RET flags of the established context */
    /* --forward: the outbound credential from the client's delegated
     * TGT, acquired at the first message and used for every relay of
     * this connection, so that its service ticket is fetched once. */
    CredHandle fwd_cred;
    bool have_fwd_cred;
} conn;

static void
say(server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(server *srv, const char *fmt, ...)
{
    va_list ap;

    if (srv->quiet)
        return;
    pthread_mutex_lock(&srv->out_lock);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    pthread_mutex_unlock(&srv->out_lock);
}

/* One-line report of a failed SSPI call. */
static void
report(server *srv, const char *what, SECURITY_STATUS st)
{
    pthread_mutex_lock(&srv->out_lock);
    fprintf(stderr, "hsmssp server: %s: 0x%08x: %s\n", what, (unsigned)st,
            hsmssp_last_error_detail());
    pthread_mutex_unlock(&srv->out_lock);
}

/* Steps 1 and 2: a context from the client's tokens.  0 on success. */
static int
establish(conn *c, CtxtHandle *ctx)
{
    server *srv = c->srv;
    uint8_t flags, *in = NULL;
    size_t len;
    SECURITY_STATUS st = SEC_I_CONTINUE_NEEDED;
    bool have_ctx = false;

    if (gss_recv_token(c->fd, &flags, &in, &len) != 0)
        return -1;
    free(in);
    if (!(flags & GSS_TOKEN_NOOP) || !(flags & GSS_TOKEN_CONTEXT_NEXT)) {
        fprintf(stderr, "hsmssp server: client did not announce a "
                        "context\n");
        return -1;
    }
    while (st == SEC_I_CONTINUE_NEEDED) {
        SecBuffer ib = {0, SECBUFFER_TOKEN, NULL}, ob = {0, SECBUFFER_TOKEN,
                                                         NULL};
        SecBuffer ibs[2];
        SecBufferDesc id = {SECBUFFER_VERSION, 1, ibs},
                      od = {SECBUFFER_VERSION, 1, &ob};
        ULONG attrs = 0;
        TimeStamp exp;

        if (gss_recv_token(c->fd, &flags, &in, &len) != 0)
            return -1;
        if (!(flags & GSS_TOKEN_CONTEXT)) {
            free(in);
            fprintf(stderr, "hsmssp server: expected a context token\n");
            return -1;
        }
        ib.pvBuffer = in;
        ib.cbBuffer = (ULONG)len;
        ibs[0] = ib;
        if (srv->cb != NULL) {
            ibs[1] = (SecBuffer){(ULONG)srv->cb_len,
                                 SECBUFFER_CHANNEL_BINDINGS, srv->cb};
            id.cBuffers = 2;
        }
        st = srv->t->AcceptSecurityContext(
            &srv->cred, have_ctx ? ctx : NULL, &id, srv->asc_flags,
            SECURITY_NATIVE_DREP, ctx, &od, &attrs, &exp);
        free(in);
        /* The reply goes out whatever the status: after a failure it is
         * the KRB-ERROR token that tells the client why. */
        if (ob.cbBuffer > 0) {
            int w = gss_send_token(c->fd, GSS_TOKEN_CONTEXT, ob.pvBuffer,
                               ob.cbBuffer);

            srv->t->FreeContextBuffer(ob.pvBuffer);
            if (w != 0)
                st = SEC_E_INTERNAL_ERROR;
        }
        if (st != SEC_E_OK && st != SEC_I_CONTINUE_NEEDED) {
            report(srv, "AcceptSecurityContext", st);
            return -1;
        }
        have_ctx = true;
        c->attrs = attrs;
    }
    return 0;
}

static void
print_client(conn *c, CtxtHandle *ctx)
{
    server *srv = c->srv;
    SecPkgContext_NamesA names = {NULL};
    SecPkgContext_KeyInfoA ki;
    SECURITY_STATUS st;

    st = srv->t->QueryContextAttributesA(ctx, SECPKG_ATTR_NAMES, &names);
    if (st != SEC_E_OK) {
        report(srv, "QueryContextAttributes(NAMES)", st);
        return;
    }
    memset(&ki, 0, sizeof(ki));
    st = srv->t->QueryContextAttributesA(ctx, SECPKG_ATTR_KEY_INFO, &ki);
    if (st == SEC_E_OK) {
        say(srv, "Accepted connection: \"%s\" (%s)\n", names.sUserName,
            ki.sEncryptAlgorithmName);
        srv->t->FreeContextBuffer(ki.sEncryptAlgorithmName);
        srv->t->FreeContextBuffer(ki.sSignatureAlgorithmName);
    } else {
        say(srv, "Accepted connection: \"%s\"\n", names.sUserName);
    }
    /* What the context grants, as gss-server lists its context flags:
     * whether the client asked for mutual authentication, and whether
     * it delegated a TGT that was kept (only asked for with --forward).
     * Replay and sequence detection are on when either side asks, so
     * here they also reflect this server's own request. */
    say(srv, "Context flags:%s%s%s%s%s%s\n",
        (c->attrs & ASC_RET_DELEGATE) ? " delegate" : "",
        (c->attrs & ASC_RET_MUTUAL_AUTH) ? " mutual" : "",
        (c->attrs & ASC_RET_REPLAY_DETECT) ? " replay" : "",
        (c->attrs & ASC_RET_SEQUENCE_DETECT) ? " sequence" : "",
        (c->attrs & ASC_RET_CONFIDENTIALITY) ? " confidentiality" : "",
        (c->attrs & ASC_RET_INTEGRITY) ? " integrity" : "");
    /* Kept for the --forward lines; a failed copy only loses the name. */
    c->client = strdup(names.sUserName);
    srv->t->FreeContextBuffer(names.sUserName);
}

/* Prints a received message the way gss-server does: as text when it is
 * printable, else in hex. */
static void
print_message(server *srv, const uint8_t *p, size_t n)
{
    bool text = true;

    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            text = false;
    pthread_mutex_lock(&srv->out_lock);
    if (!srv->quiet) {
        if (text) {
            printf("Received message: \"%.*s\"\n", (int)n, (const char *)p);
        } else {
            printf("Received message (%zu bytes):", n);
            for (size_t i = 0; i < n; i++)
                printf(" %02x", p[i]);
            printf("\n");
        }
        fflush(stdout);
    }
    pthread_mutex_unlock(&srv->out_lock);
}

/* --forward: logs into srv->fwd_service as the client, with the TGT it
 * delegated to ctx, and relays the message with the protection the
 * client used (sealed, integrity-only or clear; a MIC asked back and
 * verified when the client asked for one).  0 when the relay went
 * through.  A context without a delegated TGT fails here with one line:
 * there is nobody to act as. */
static int
forward(conn *c, CtxtHandle *ctx, uint8_t flags, const uint8_t *msg,
        size_t len)
{
    server *srv = c->srv;
    const char *who = c->client != NULL ? c->client : "the client";
    gss_client_opts o = {.mutual = true,
                         .replay = true,
                         .wrap = (flags & GSS_TOKEN_WRAPPED) != 0,
                         .encrypt = (flags & GSS_TOKEN_ENCRYPTED) != 0,
                         .mic = (flags & GSS_TOKEN_SEND_MIC) != 0,
                         .count = 1,
                         .out = NULL,
                         .prefix = "hsmssp server: --forward"};
    SECURITY_STATUS st;
    TimeStamp exp;
    int rc;

    if (!c->have_fwd_cred) {
        st = HsmsspAcquireDelegatedCredentialsA(ctx, &c->fwd_cred, &exp);
        if (st != SEC_E_OK) {
            pthread_mutex_lock(&srv->out_lock);
            fprintf(stderr,
                    "hsmssp server: --forward: %s did not delegate a "
                    "TGT, so the message cannot be forwarded to %s: "
                    "0x%08x: %s\n",
                    who, srv->fwd_service, (unsigned)st,
                    hsmssp_last_error_detail());
            pthread_mutex_unlock(&srv->out_lock);
            return -1;
        }
        c->have_fwd_cred = true;
    }
    /* gss_client_run prints its own line on failure (stderr, prefixed);
     * it is not under out_lock, which at worst interleaves two error
     * lines of concurrent connections. */
    rc = gss_client_run(srv->t, &c->fwd_cred, srv->fwd_host, srv->fwd_port,
                        srv->fwd_service, msg, len, &o, NULL);
    if (rc != 0) {
        pthread_mutex_lock(&srv->out_lock);
        fprintf(stderr,
                "hsmssp server: --forward: relaying %s's message to %s at "
                "%s:%u failed\n",
                who, srv->fwd_service, srv->fwd_host, (unsigned)srv->fwd_port);
        pthread_mutex_unlock(&srv->out_lock);
        return -1;
    }
    say(srv, "Forwarded message to %s as %s\n", srv->fwd_service, who);
    return 0;
}

/* Step 3: one DATA token.  0 on success. */
static int
handle_data(conn *c, CtxtHandle *ctx, uint8_t flags, uint8_t *in,
            size_t len)
{
    server *srv = c->srv;
    SecPkgContext_Sizes sizes;
    uint8_t *msg = in, *sig = NULL;
    size_t mlen = len;
    SECURITY_STATUS st;
    int ret = -1;

    if (flags & GSS_TOKEN_WRAPPED) {
        SecBuffer b[2] = {{(ULONG)len, SECBUFFER_STREAM, in},
                          {0, SECBUFFER_DATA, NULL}};
        SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
        ULONG qop = 0;

        st = srv->t->DecryptMessage(ctx, &d, 0, &qop);
        if (st != SEC_E_OK) {
            report(srv, "DecryptMessage", st);
            return -1;
        }
        msg = b[1].pvBuffer;
        mlen = b[1].cbBuffer;
        if ((flags & GSS_TOKEN_ENCRYPTED) && qop == SECQOP_WRAP_NO_ENCRYPT)
            say(srv, "Warning!  Message not encrypted.\n");
    }
    print_message(srv, msg, mlen);
    /* The relay comes before the answer: the client learns of a failed
     * forward by the connection failing, as MIT's tools fail. */
    if (srv->fwd_host != NULL && forward(c, ctx, flags, msg, mlen) != 0)
        return -1;
    if (!(flags & GSS_TOKEN_SEND_MIC))
        return gss_send_token(c->fd, GSS_TOKEN_NOOP, NULL, 0);
    st = srv->t->QueryContextAttributesA(ctx, SECPKG_ATTR_SIZES, &sizes);
    if (st != SEC_E_OK) {
        report(srv, "QueryContextAttributes(SIZES)", st);
        return -1;
    }
    sig = malloc(sizes.cbMaxSignature);
    if (sig == NULL)
        return -1;
    {
        SecBuffer b[2] = {{(ULONG)mlen, SECBUFFER_DATA, msg},
                          {sizes.cbMaxSignature, SECBUFFER_TOKEN, sig}};
        SecBufferDesc d = {SECBUFFER_VERSION, 2, b};

        st = srv->t->MakeSignature(ctx, 0, &d, 0);
        if (st != SEC_E_OK)
            report(srv, "MakeSignature", st);
        else
            ret = gss_send_token(c->fd, GSS_TOKEN_MIC, sig, b[1].cbBuffer);
    }
    free(sig);
    return ret;
}

/* Parses --forward's HOST:PORT (the host may be a bracketed IPv6
 * address) into srv.  0, or -1 when malformed. */
static int
parse_forward(server *srv, const char *arg)
{
    const char *colon = strrchr(arg, ':'), *h = arg;
    size_t hlen;
    char *end;
    long port;

    if (colon == NULL || colon == arg)
        return -1;
    hlen = (size_t)(colon - arg);
    if (arg[0] == '[') {
        if (hlen < 3 || arg[hlen - 1] != ']')
            return -1;
        h = arg + 1;
        hlen -= 2;
    }
    if (hlen >= sizeof(srv->fwd_host_buf))
        return -1;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
        return -1;
    memcpy(srv->fwd_host_buf, h, hlen);
    srv->fwd_host_buf[hlen] = '\0';
    srv->fwd_host = srv->fwd_host_buf;
    srv->fwd_port = (uint16_t)port;
    return 0;
}

static void *
serve(void *arg)
{
    conn *c = arg;
    server *srv = c->srv;
    CtxtHandle ctx;
    uint8_t flags, *in = NULL;
    size_t len;
    bool have_ctx = false;

    SecInvalidateHandle(&ctx);
    c->result = 1;
    if (establish(c, &ctx) != 0)
        goto out;
    have_ctx = true;
    print_client(c, &ctx);
    for (;;) {
        if (gss_recv_token(c->fd, &flags, &in, &len) != 0) {
            fprintf(stderr, "hsmssp server: connection lost\n");
            goto out;
        }
        if (flags & GSS_TOKEN_NOOP)
            break;
        if (!(flags & GSS_TOKEN_DATA)) {
            fprintf(stderr, "hsmssp server: unexpected token 0x%02x\n",
                    flags);
            goto out;
        }
        if (handle_data(c, &ctx, flags, in, len) != 0)
            goto out;
        free(in);
        in = NULL;
    }
    c->result = 0;
out:
    free(in);
    if (c->have_fwd_cred)
        srv->t->FreeCredentialsHandle(&c->fwd_cred);
    if (have_ctx)
        srv->t->DeleteSecurityContext(&ctx);
    free(c->client);
    close(c->fd);
    if (c->detached) {
        free(c);
        pthread_mutex_lock(&srv->n_lock);
        srv->n_threads--;
        pthread_cond_broadcast(&srv->n_cond);
        pthread_mutex_unlock(&srv->n_lock);
    }
    return NULL;
}

int
cli_server_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'P'},
        {"bind", required_argument, NULL, 'b'},
        {"once", no_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'c'},
        {"import-keytab", required_argument, NULL, 'k'},
        {"no-replay", no_argument, NULL, 'R'},
        {"cb-app-data", required_argument, NULL, 'B'},
        {"forward", required_argument, NULL, 'F'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *bind_addr = "127.0.0.1", *config = NULL, *keytab = NULL;
    const char *cb_app = NULL;
    char *name;
    long port = 4444;
    bool once = false, replay = true;
    server srv;
    struct sockaddr_in sa;
    TimeStamp exp;
    SECURITY_STATUS st;
    int c, lfd = -1, one = 1, rc = CLI_EXIT_OK;

    memset(&srv, 0, sizeof(srv));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'P': {
            char *end;

            port = strtol(optarg, &end, 10);
            if (*end != '\0' || port < 1 || port > 65535)
                return cli_usage_error("server", "bad port '%s'", optarg);
            break;
        }
        case 'b':
            bind_addr = optarg;
            break;
        case 'o':
            once = true;
            break;
        case 'c':
            config = optarg;
            break;
        case 'k':
            keytab = optarg;
            break;
        case 'R':
            replay = false;
            break;
        case 'B':
            cb_app = optarg;
            break;
        case 'F':
            /* Two arguments: HOST:PORT here, SERVICE the next word.
             * Taking it by moving optind is safe with glibc's argument
             * permutation: the word counts as part of this option. */
            if (optind >= argc)
                return cli_usage_error("server",
                                       "--forward needs HOST:PORT SERVICE");
            if (parse_forward(&srv, optarg) != 0)
                return cli_usage_error("server", "bad --forward '%s'", optarg);
            srv.fwd_service = argv[optind++];
            break;
        case 'q':
            srv.quiet = true;
            break;
        case 'h':
            fputs(cli_server_help, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("server", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("server", "give exactly one service NAME");
    name = strcmp(argv[optind], "*") == 0 ? NULL : argv[optind];
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1)
        return cli_usage_error("server", "bad address '%s'", bind_addr);

    if (cb_app != NULL) {
        srv.cb = gss_make_bindings(cb_app, &srv.cb_len);
        if (srv.cb == NULL)
            return CLI_EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);
    srv.t = InitSecurityInterfaceA();
    if (config != NULL) {
        st = HsmsspConfigureA(config);
        if (st != SEC_E_OK) {
            report(&srv, "configuration", st);
            free(srv.cb);
            return CLI_EXIT_FAILURE;
        }
    }
    if (keytab != NULL) {
        rc = cli_import_keytab_session(keytab, srv.quiet, "hsmssp server");
        if (rc != CLI_EXIT_OK) {
            free(srv.cb);
            return rc;
        }
    }
    st = srv.t->AcquireCredentialsHandleA(name, MICROSOFT_KERBEROS_NAME_A,
                                          SECPKG_CRED_INBOUND, NULL, NULL,
                                          NULL, NULL, &srv.cred, &exp);
    if (st != SEC_E_OK) {
        report(&srv, "AcquireCredentialsHandle", st);
        free(srv.cb);
        return CLI_EXIT_FAILURE;
    }
    srv.asc_flags = ASC_REQ_MUTUAL_AUTH | ASC_REQ_SEQUENCE_DETECT |
                    ASC_REQ_CONFIDENTIALITY | ASC_REQ_INTEGRITY |
                    ASC_REQ_EXTENDED_ERROR | ASC_REQ_ALLOCATE_MEMORY |
                    ASC_REQ_CONNECTION |
                    (replay ? ASC_REQ_REPLAY_DETECT : 0) |
                    (srv.fwd_host != NULL ? ASC_REQ_DELEGATE : 0);
    pthread_mutex_init(&srv.out_lock, NULL);
    pthread_mutex_init(&srv.n_lock, NULL);
    pthread_cond_init(&srv.n_cond, NULL);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(lfd, 16) != 0) {
        fprintf(stderr, "hsmssp server: cannot listen on %s:%ld: %s\n",
                bind_addr, port, strerror(errno));
        rc = CLI_EXIT_FAILURE;
        goto done;
    }
    say(&srv, "hsmssp server listening on %s:%ld\n", bind_addr, port);
    if (srv.fwd_host != NULL)
        say(&srv, "forwarding messages to %s at %s:%u\n", srv.fwd_service,
            srv.fwd_host, (unsigned)srv.fwd_port);
    for (;;) {
        conn *cn;
        pthread_t th;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf(stderr, "hsmssp server: accept: %s\n", strerror(errno));
            rc = CLI_EXIT_FAILURE;
            break;
        }
        cn = calloc(1, sizeof(*cn));
        if (cn == NULL) {
            close(fd);
            continue;
        }
        cn->srv = &srv;
        cn->fd = fd;
        if (once) {
            serve(cn);
            rc = cn->result == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
            free(cn);
            break;
        }
        pthread_mutex_lock(&srv.n_lock);
        while (srv.n_threads >= MAX_THREADS)
            pthread_cond_wait(&srv.n_cond, &srv.n_lock);
        srv.n_threads++;
        pthread_mutex_unlock(&srv.n_lock);
        cn->detached = true;
        if (pthread_create(&th, NULL, serve, cn) != 0) {
            close(fd);
            free(cn);
            pthread_mutex_lock(&srv.n_lock);
            srv.n_threads--;
            pthread_mutex_unlock(&srv.n_lock);
            continue;
        }
        pthread_detach(th);
    }
done:
    if (lfd >= 0)
        close(lfd);
    /* Wait for connections still being served. */
    pthread_mutex_lock(&srv.n_lock);
    while (srv.n_threads > 0)
        pthread_cond_wait(&srv.n_cond, &srv.n_lock);
    pthread_mutex_unlock(&srv.n_lock);
    srv.t->FreeCredentialsHandle(&srv.cred);
    free(srv.cb);
    return rc;
}
