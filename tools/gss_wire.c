/*
 * tools/gss_wire.c - the gss-sample wire protocol and its client side
 * (tools/gss_wire.h), written against the SSPI function table only, the
 * way a Windows SSPI client is.
 *
 * A sealed message goes out as one GSS Wrap token: EncryptMessage lays
 * it out in TOKEN, DATA and PADDING buffers, and the three concatenated
 * are the RFC 4121 (or RFC 4757) token that MIT's gss_unwrap takes, as
 * with Windows.  The server's MIC comes back as a GSS MIC token and is
 * checked with VerifySignature over the plaintext.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/base.h"
#include "hsmssp/errors.h"
#include "tools/gss_wire.h"

int
gss_read_all(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;

    while (n > 0) {
        ssize_t r = read(fd, p, n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int
gss_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;

    while (n > 0) {
        ssize_t r = write(fd, p, n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int
gss_recv_token(int fd, uint8_t *flags, uint8_t **data, size_t *len)
{
    uint8_t h[5];
    uint32_t n;

    *data = NULL;
    *len = 0;
    if (gss_read_all(fd, h, 5) != 0)
        return -1;
    *flags = h[0];
    n = base_load_be32(h + 1);
    if (n > GSS_MAX_WIRE_TOKEN)
        return -1;
    if (n == 0)
        return 0;
    *data = malloc(n);
    if (*data == NULL)
        return -1;
    if (gss_read_all(fd, *data, n) != 0) {
        free(*data);
        *data = NULL;
        return -1;
    }
    *len = n;
    return 0;
}

int
gss_send_token(int fd, uint8_t flags, const void *data, size_t len)
{
    uint8_t h[5];

    if (len > GSS_MAX_WIRE_TOKEN)
        return -1;
    h[0] = flags;
    base_store_be32(h + 1, (uint32_t)len);
    if (gss_write_all(fd, h, 5) != 0)
        return -1;
    return len > 0 ? gss_write_all(fd, data, len) : 0;
}

int
gss_connect(const char *host, uint16_t port)
{
    struct addrinfo hints, *res = NULL, *ai;
    char ps[8];
    int fd = -1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    (void)snprintf(ps, sizeof(ps), "%u", (unsigned)port);
    rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "hsmssp: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        fprintf(stderr, "hsmssp: cannot connect to %s port %u: %s\n", host,
                (unsigned)port, strerror(errno));
    freeaddrinfo(res);
    return fd;
}

SEC_CHANNEL_BINDINGS *
gss_make_bindings(const char *app, size_t *len_out)
{
    size_t n = strlen(app);
    SEC_CHANNEL_BINDINGS *cb = calloc(1, sizeof(*cb) + n);

    if (cb == NULL)
        return NULL;
    cb->cbApplicationDataLength = (ULONG)n;
    cb->dwApplicationDataOffset = sizeof(*cb);
    memcpy((uint8_t *)cb + sizeof(*cb), app, n);
    *len_out = sizeof(*cb) + n;
    return cb;
}

/* One line for a failed SSPI call. */
static void
report(const gss_client_opts *o, const char *what, SECURITY_STATUS st)
{
    fprintf(stderr, "%s: %s: 0x%08x: %s\n", o->prefix ? o->prefix : "hsmssp",
            what, (unsigned)st, hsmssp_last_error_detail());
}

static void
say(const gss_client_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(const gss_client_opts *o, const char *fmt, ...)
{
    va_list ap;

    if (o->out == NULL)
        return;
    va_start(ap, fmt);
    vfprintf(o->out, fmt, ap);
    va_end(ap);
    fflush(o->out);
}

/* The context: CONTEXT tokens out and in until established. */
static int
establish(PSecurityFunctionTableA t, CredHandle *cred, int fd,
          const char *service, const gss_client_opts *o, CtxtHandle *ctx,
          bool *have_ctx, ULONG *attrs)
{
    ULONG req = ISC_REQ_CONFIDENTIALITY | ISC_REQ_INTEGRITY |
                ISC_REQ_ALLOCATE_MEMORY | ISC_REQ_EXTENDED_ERROR |
                (o->mutual ? ISC_REQ_MUTUAL_AUTH : 0) |
                (o->replay ? ISC_REQ_REPLAY_DETECT : 0) |
                (o->seq ? ISC_REQ_SEQUENCE_DETECT : 0) |
                (o->delegate ? ISC_REQ_DELEGATE : 0);
    SECURITY_STATUS st = SEC_I_CONTINUE_NEEDED;
    uint8_t flags, *in = NULL;
    size_t in_len = 0;

    if (gss_send_token(fd, GSS_TOKEN_NOOP | GSS_TOKEN_CONTEXT_NEXT, NULL,
                       0) != 0)
        return -1;
    while (st == SEC_I_CONTINUE_NEEDED) {
        SecBuffer ib[2], ob = {0, SECBUFFER_TOKEN, NULL};
        SecBufferDesc id = {SECBUFFER_VERSION, 0, ib},
                      od = {SECBUFFER_VERSION, 1, &ob};
        TimeStamp exp;
        bool said;

        if (*have_ctx) {
            ib[id.cBuffers++] = (SecBuffer){(ULONG)in_len, SECBUFFER_TOKEN,
                                            in};
        }
        if (o->cb != NULL)
            ib[id.cBuffers++] = (SecBuffer){(ULONG)o->cb_len,
                                            SECBUFFER_CHANNEL_BINDINGS,
                                            (void *)o->cb};
        st = t->InitializeSecurityContextA(
            cred, *have_ctx ? ctx : NULL, (SEC_CHAR *)service, req, 0,
            SECURITY_NATIVE_DREP, id.cBuffers ? &id : NULL, 0, ctx, &od,
            attrs, &exp);
        free(in);
        in = NULL;
        if (st != SEC_E_OK && st != SEC_I_CONTINUE_NEEDED) {
            report(o, "InitializeSecurityContext", st);
            if (ob.pvBuffer != NULL)
                t->FreeContextBuffer(ob.pvBuffer);
            return -1;
        }
        *have_ctx = true;
        said = ob.cbBuffer > 0 || st == SEC_I_CONTINUE_NEEDED;
        if (ob.cbBuffer > 0) {
            int w;

            say(o, "Sending init_sec_context token (size=%u)...",
                (unsigned)ob.cbBuffer);
            w = gss_send_token(fd, GSS_TOKEN_CONTEXT, ob.pvBuffer,
                               ob.cbBuffer);
            t->FreeContextBuffer(ob.pvBuffer);
            if (w != 0)
                return -1;
        }
        if (st == SEC_I_CONTINUE_NEEDED) {
            say(o, "continue needed...");
            if (gss_recv_token(fd, &flags, &in, &in_len) != 0 ||
                !(flags & GSS_TOKEN_CONTEXT)) {
                free(in);
                fprintf(stderr, "%s: the server sent no context token\n",
                        o->prefix ? o->prefix : "hsmssp");
                return -1;
            }
        }
        if (said)
            say(o, "\n");
    }
    return 0;
}

/* Sends one DATA token and handles the server's answer. */
static int
send_message(PSecurityFunctionTableA t, CtxtHandle *ctx, int fd,
             const uint8_t *msg, size_t len, const gss_client_opts *o)
{
    SecPkgContext_Sizes sz;
    uint8_t flags = GSS_TOKEN_DATA, *wire = NULL, *data = NULL, *in = NULL;
    size_t wlen = len, in_len = 0;
    SECURITY_STATUS st;
    int rc = -1;

    st = t->QueryContextAttributesA(ctx, SECPKG_ATTR_SIZES, &sz);
    if (st != SEC_E_OK) {
        report(o, "QueryContextAttributes(SIZES)", st);
        return -1;
    }
    if (o->wrap) {
        SecBuffer b[3];
        SecBufferDesc d = {SECBUFFER_VERSION, 3, b};

        /* TOKEN | DATA | PADDING in one allocation, encrypted in place:
         * their concatenation is the Wrap token. */
        wire = malloc(sz.cbSecurityTrailer + len + sz.cbBlockSize + 1);
        data = malloc(len + 1);
        if (wire == NULL || data == NULL)
            goto cleanup;
        memcpy(data, msg, len);
        b[0] = (SecBuffer){sz.cbSecurityTrailer, SECBUFFER_TOKEN, wire};
        b[1] = (SecBuffer){(ULONG)len, SECBUFFER_DATA, data};
        b[2] = (SecBuffer){sz.cbBlockSize, SECBUFFER_PADDING,
                           wire + sz.cbSecurityTrailer};
        st = t->EncryptMessage(ctx, o->encrypt ? 0 : SECQOP_WRAP_NO_ENCRYPT,
                               &d, 0);
        if (st != SEC_E_OK) {
            report(o, "EncryptMessage", st);
            goto cleanup;
        }
        {
            size_t n0 = b[0].cbBuffer, n1 = b[1].cbBuffer,
                   n2 = b[2].cbBuffer;
            uint8_t pad[64];

            if (n2 > sizeof(pad))
                goto cleanup;
            memcpy(pad, b[2].pvBuffer, n2);
            memcpy(wire + n0, data, n1);
            memcpy(wire + n0 + n1, pad, n2);
            wlen = n0 + n1 + n2;
        }
        flags |= GSS_TOKEN_WRAPPED;
        if (o->encrypt)
            flags |= GSS_TOKEN_ENCRYPTED;
    }
    if (o->mic)
        flags |= GSS_TOKEN_SEND_MIC;
    if (gss_send_token(fd, flags, o->wrap ? wire : msg, wlen) != 0)
        goto cleanup;
    if (gss_recv_token(fd, &flags, &in, &in_len) != 0) {
        fprintf(stderr, "%s: no answer from the server\n",
                o->prefix ? o->prefix : "hsmssp");
        goto cleanup;
    }
    if (!o->mic) {
        if (!(flags & GSS_TOKEN_NOOP)) {
            fprintf(stderr, "%s: the server answered 0x%02x, not NOOP\n",
                    o->prefix ? o->prefix : "hsmssp", flags);
            goto cleanup;
        }
        say(o, "Response received.\n");
        rc = 0;
        goto cleanup;
    }
    if (!(flags & GSS_TOKEN_MIC)) {
        fprintf(stderr, "%s: the server sent no MIC (flags 0x%02x)\n",
                o->prefix ? o->prefix : "hsmssp", flags);
        goto cleanup;
    }
    {
        SecBuffer b[2] = {{(ULONG)len, SECBUFFER_DATA, (void *)msg},
                          {(ULONG)in_len, SECBUFFER_TOKEN, in}};
        SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
        ULONG qop = 0;

        st = t->VerifySignature(ctx, &d, 0, &qop);
        if (st != SEC_E_OK) {
            report(o, "VerifySignature", st);
            goto cleanup;
        }
    }
    say(o, "Signature verified.\n");
    rc = 0;
cleanup:
    free(wire);
    free(data);
    free(in);
    return rc;
}

int
gss_client_run(PSecurityFunctionTableA t, CredHandle *cred, const char *host,
               uint16_t port, const char *service, const uint8_t *msg,
               size_t len, const gss_client_opts *o, ULONG *ret_flags_out)
{
    CtxtHandle ctx;
    SecPkgContext_NamesA names = {NULL};
    bool have_ctx = false;
    ULONG attrs = 0;
    int fd, rc = 1;

    if (ret_flags_out != NULL)
        *ret_flags_out = 0;
    SecInvalidateHandle(&ctx);
    fd = gss_connect(host, port);
    if (fd < 0)
        return 1;
    if (establish(t, cred, fd, service, o, &ctx, &have_ctx, &attrs) != 0)
        goto done;
    if (ret_flags_out != NULL)
        *ret_flags_out = attrs;
    if (t->QueryContextAttributesA(&ctx, SECPKG_ATTR_NAMES, &names) ==
        SEC_E_OK) {
        say(o, "\"%s\" to \"%s\", flags 0x%x (%s%s%s%s), locally initiated, "
               "open\n",
            names.sUserName, service, (unsigned)attrs,
            (attrs & ISC_RET_MUTUAL_AUTH) ? "mutual " : "",
            (attrs & ISC_RET_DELEGATE) ? "delegated " : "",
            (attrs & ISC_RET_SEQUENCE_DETECT) ? "sequence " : "",
            (attrs & ISC_RET_REPLAY_DETECT) ? "replay" : "");
        t->FreeContextBuffer(names.sUserName);
    }
    for (unsigned i = 0; i < (o->count ? o->count : 1); i++)
        if (send_message(t, &ctx, fd, msg, len, o) != 0)
            goto done;
    if (gss_send_token(fd, GSS_TOKEN_NOOP, NULL, 0) != 0)
        goto done;
    rc = 0;
done:
    if (have_ctx)
        t->DeleteSecurityContext(&ctx);
    close(fd);
    return rc;
}
