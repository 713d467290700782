/*
 * tests/unit/header/windows_style.c - SSPI code written the Windows way,
 * compiled (never linked, never run) against include/hsmssp/sspi.h.
 *
 * This is what a port looks like: the Windows original differs only in its
 * includes (<windows.h>, SECURITY_WIN32, <sspi.h>).  tests/CMakeLists.txt
 * compiles it with -Wall -Wextra -Wpedantic -Werror, as C and, when a C++
 * compiler is present, as C++ (the extern "C" guards), so that a header
 * change that breaks Windows-style callers fails the suite; and once more
 * with -DUNICODE, which must stop at the header's refusal.
 *
 * It covers a client (AcquireCredentialsHandleA, the
 * InitializeSecurityContextA loop), a server (AcceptSecurityContext with
 * channel bindings, QueryContextAttributesA), per-message protection
 * (EncryptMessage with TOKEN + DATA + PADDING, DecryptMessage with
 * STREAM + DATA, MakeSignature / VerifySignature, sized from
 * SECPKG_ATTR_SIZES), FreeContextBuffer, and the same calls through the
 * table from InitSecurityInterfaceA.  The code is valid C and C++: casts
 * where C++ needs them, no designated initializers.
 *
 * Only the printf formats differ from typical Windows code: ULONG is 32
 * bits here, so it is printed through a cast to unsigned long with %lu.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hsmssp/sspi.h>

#define MAX_TOKEN 48000

/* The program's transport, defined elsewhere: whole tokens or messages,
 * length-prefixed on the wire.  0 on success. */
int io_send(void *io, const void *data, ULONG len);
int io_recv(void *io, void *data, ULONG cap, ULONG *len_out);

SECURITY_STATUS client_connect(void *io, const char *spn, PCredHandle cred,
                               PCtxtHandle ctx);
SECURITY_STATUS server_accept(void *io, const unsigned char *cb_data,
                              ULONG cb_len, PCredHandle cred, PCtxtHandle ctx);
SECURITY_STATUS seal_and_send(void *io, PCtxtHandle ctx, const char *text);
SECURITY_STATUS receive_and_open(void *io, PCtxtHandle ctx, char *out,
                                 ULONG cap);
SECURITY_STATUS sign_and_verify(PCtxtHandle ctx, void *data, ULONG len);
int list_packages_via_table(void);

static const char *
status_text(SECURITY_STATUS ss)
{
    switch (ss) {
    case SEC_E_OK:
        return "ok";
    case SEC_I_CONTINUE_NEEDED:
        return "continue needed";
    case SEC_I_COMPLETE_NEEDED:
    case SEC_I_COMPLETE_AND_CONTINUE:
        return "complete needed";
    case SEC_E_INVALID_TOKEN:
        return "invalid token";
    case SEC_E_LOGON_DENIED:
        return "logon denied";
    case SEC_E_MESSAGE_ALTERED:
        return "message altered";
    case SEC_E_OUT_OF_SEQUENCE:
        return "out of sequence";
    case SEC_E_BAD_BINDINGS:
        return "channel bindings mismatch";
    case SEC_E_TARGET_UNKNOWN:
        return "unknown target";
    default:
        return FAILED(ss) ? "error" : "information";
    }
}

/* Client: acquire default outbound credentials for Negotiate and run the
 * handshake until SEC_E_OK. */
SECURITY_STATUS
client_connect(void *io, const char *spn, PCredHandle cred, PCtxtHandle ctx)
{
    SECURITY_STATUS ss;
    TimeStamp expiry;
    ULONG attrs = 0;
    ULONG req = ISC_REQ_MUTUAL_AUTH | ISC_REQ_CONFIDENTIALITY |
                ISC_REQ_INTEGRITY | ISC_REQ_REPLAY_DETECT |
                ISC_REQ_SEQUENCE_DETECT | ISC_REQ_ALLOCATE_MEMORY |
                ISC_REQ_CONNECTION;
    SecBuffer in_buf, out_buf;
    SecBufferDesc in_desc, out_desc;
    unsigned char *in_token;
    ULONG in_len = 0;
    int first = 1;

    SecInvalidateHandle(cred);
    SecInvalidateHandle(ctx);
    in_token = (unsigned char *)malloc(MAX_TOKEN);
    if (in_token == NULL)
        return SEC_E_INSUFFICIENT_MEMORY;

    ss = AcquireCredentialsHandleA(NULL, (LPSTR)NEGOSSP_NAME_A,
                                   SECPKG_CRED_OUTBOUND, NULL, NULL, NULL,
                                   NULL, cred, &expiry);
    if (ss != SEC_E_OK) {
        fprintf(stderr, "AcquireCredentialsHandleA: %s (0x%08lx)\n",
                status_text(ss), (unsigned long)(ULONG)ss);
        free(in_token);
        return ss;
    }

    for (;;) {
        out_buf.cbBuffer = 0;
        out_buf.BufferType = SECBUFFER_TOKEN;
        out_buf.pvBuffer = NULL;
        out_desc.ulVersion = SECBUFFER_VERSION;
        out_desc.cBuffers = 1;
        out_desc.pBuffers = &out_buf;

        in_buf.cbBuffer = in_len;
        in_buf.BufferType = SECBUFFER_TOKEN;
        in_buf.pvBuffer = in_token;
        in_desc.ulVersion = SECBUFFER_VERSION;
        in_desc.cBuffers = 1;
        in_desc.pBuffers = &in_buf;

        ss = InitializeSecurityContextA(
            cred, first ? NULL : ctx, (SEC_CHAR *)spn, req, 0,
            SECURITY_NATIVE_DREP, first ? NULL : &in_desc, 0, ctx, &out_desc,
            &attrs, &expiry);
        first = 0;
        if (FAILED(ss))
            break;
        if (ss == SEC_I_COMPLETE_NEEDED || ss == SEC_I_COMPLETE_AND_CONTINUE) {
            SECURITY_STATUS cs = CompleteAuthToken(ctx, &out_desc);
            if (cs != SEC_E_OK) {
                ss = cs;
                break;
            }
        }
        if (out_buf.cbBuffer != 0 && out_buf.pvBuffer != NULL) {
            int rc = io_send(io, out_buf.pvBuffer, out_buf.cbBuffer);
            FreeContextBuffer(out_buf.pvBuffer);
            if (rc != 0) {
                ss = SEC_E_INTERNAL_ERROR;
                break;
            }
        }
        if (ss == SEC_E_OK)
            break;
        if (io_recv(io, in_token, MAX_TOKEN, &in_len) != 0) {
            ss = SEC_E_INTERNAL_ERROR;
            break;
        }
    }
    free(in_token);

    if (ss == SEC_E_OK && !(attrs & ISC_RET_MUTUAL_AUTH))
        ss = SEC_E_MUTUAL_AUTH_FAILED;
    if (ss != SEC_E_OK) {
        fprintf(stderr, "InitializeSecurityContextA: %s\n", status_text(ss));
        if (SecIsValidHandle(ctx))
            DeleteSecurityContext(ctx);
        FreeCredentialsHandle(cred);
        SecInvalidateHandle(ctx);
        SecInvalidateHandle(cred);
    }
    return ss;
}

/* Server: Kerberos with a password-less default credential, channel
 * bindings from the TLS layer (cb_data, "tls-server-end-point:..."). */
SECURITY_STATUS
server_accept(void *io, const unsigned char *cb_data, ULONG cb_len,
              PCredHandle cred, PCtxtHandle ctx)
{
    SECURITY_STATUS ss;
    TimeStamp expiry;
    ULONG attrs = 0;
    ULONG req = ASC_REQ_MUTUAL_AUTH | ASC_REQ_CONFIDENTIALITY |
                ASC_REQ_INTEGRITY | ASC_REQ_REPLAY_DETECT |
                ASC_REQ_SEQUENCE_DETECT | ASC_REQ_ALLOCATE_MEMORY |
                ASC_REQ_EXTENDED_ERROR | ASC_REQ_CONNECTION;
    SecBuffer in_bufs[2], out_buf;
    SecBufferDesc in_desc, out_desc;
    unsigned char *token, *bindings;
    ULONG token_len = 0;
    SEC_CHANNEL_BINDINGS *cb;
    int have_ctx = 0;
    SecPkgContext_NamesA names;
    SecPkgContext_Lifespan life;
    SecPkgContext_NegotiationInfoA nego;

    SecInvalidateHandle(ctx);
    token = (unsigned char *)malloc(MAX_TOKEN);
    bindings = (unsigned char *)calloc(1, sizeof(*cb) + cb_len);
    if (token == NULL || bindings == NULL) {
        free(token);
        free(bindings);
        return SEC_E_INSUFFICIENT_MEMORY;
    }
    cb = (SEC_CHANNEL_BINDINGS *)bindings;
    cb->cbApplicationDataLength = cb_len;
    cb->dwApplicationDataOffset = (ULONG)sizeof(*cb);
    memcpy(bindings + sizeof(*cb), cb_data, cb_len);

    ss = AcquireCredentialsHandleA(NULL, (LPSTR)MICROSOFT_KERBEROS_NAME_A,
                                   SECPKG_CRED_INBOUND, NULL, NULL, NULL, NULL,
                                   cred, &expiry);
    if (ss != SEC_E_OK)
        goto done;

    do {
        if (io_recv(io, token, MAX_TOKEN, &token_len) != 0) {
            ss = SEC_E_INTERNAL_ERROR;
            break;
        }
        in_bufs[0].cbBuffer = token_len;
        in_bufs[0].BufferType = SECBUFFER_TOKEN;
        in_bufs[0].pvBuffer = token;
        in_bufs[1].cbBuffer = (ULONG)(sizeof(*cb) + cb_len);
        in_bufs[1].BufferType = SECBUFFER_CHANNEL_BINDINGS;
        in_bufs[1].pvBuffer = bindings;
        in_desc.ulVersion = SECBUFFER_VERSION;
        in_desc.cBuffers = 2;
        in_desc.pBuffers = in_bufs;

        out_buf.cbBuffer = 0;
        out_buf.BufferType = SECBUFFER_TOKEN;
        out_buf.pvBuffer = NULL;
        out_desc.ulVersion = SECBUFFER_VERSION;
        out_desc.cBuffers = 1;
        out_desc.pBuffers = &out_buf;

        ss = AcceptSecurityContext(cred, have_ctx ? ctx : NULL, &in_desc, req,
                                   SECURITY_NATIVE_DREP, ctx, &out_desc,
                                   &attrs, &expiry);
        if (SEC_SUCCESS(ss))
            have_ctx = 1;
        if (out_buf.cbBuffer != 0) {
            /* With ASC_REQ_EXTENDED_ERROR even a failure may carry a
             * token (a KRB-ERROR) for the client. */
            (void)io_send(io, out_buf.pvBuffer, out_buf.cbBuffer);
            FreeContextBuffer(out_buf.pvBuffer);
        }
    } while (ss == SEC_I_CONTINUE_NEEDED);
    if (ss != SEC_E_OK)
        goto done;

    if (QueryContextAttributesA(ctx, SECPKG_ATTR_NAMES, &names) == SEC_E_OK) {
        printf("client: %s\n", names.sUserName);
        FreeContextBuffer(names.sUserName);
    }
    if (QueryContextAttributes(ctx, SECPKG_ATTR_LIFESPAN, &life) == SEC_E_OK)
        printf("expires: %lu:%lu\n", (unsigned long)life.tsExpiry.HighPart,
               (unsigned long)life.tsExpiry.LowPart);
    if (QueryContextAttributesA(ctx, SECPKG_ATTR_NEGOTIATION_INFO, &nego) ==
        SEC_E_OK) {
        if (nego.NegotiationState == SECPKG_NEGOTIATION_COMPLETE)
            printf("package: %s\n", nego.PackageInfo->Name);
        FreeContextBuffer(nego.PackageInfo);
    }
    if (ImpersonateSecurityContext(ctx) == SEC_E_OK)
        RevertSecurityContext(ctx);

done:
    if (ss != SEC_E_OK) {
        fprintf(stderr, "accept: %s\n", status_text(ss));
        if (have_ctx)
            DeleteSecurityContext(ctx);
        if (SecIsValidHandle(cred))
            FreeCredentialsHandle(cred);
    }
    free(token);
    free(bindings);
    return ss;
}

/* Kerberos-style sealing: TOKEN (security trailer) + DATA + PADDING, then
 * all three sent back to back. */
SECURITY_STATUS
seal_and_send(void *io, PCtxtHandle ctx, const char *text)
{
    SecPkgContext_Sizes sizes;
    SecBuffer bufs[3];
    SecBufferDesc desc;
    ULONG len = (ULONG)strlen(text);
    unsigned char *msg;
    SECURITY_STATUS ss;
    ULONG total;

    ss = QueryContextAttributesA(ctx, SECPKG_ATTR_SIZES, &sizes);
    if (ss != SEC_E_OK)
        return ss;
    msg = (unsigned char *)malloc(sizes.cbSecurityTrailer + len +
                                  sizes.cbBlockSize);
    if (msg == NULL)
        return SEC_E_INSUFFICIENT_MEMORY;
    memcpy(msg + sizes.cbSecurityTrailer, text, len);

    bufs[0].BufferType = SECBUFFER_TOKEN;
    bufs[0].cbBuffer = sizes.cbSecurityTrailer;
    bufs[0].pvBuffer = msg;
    bufs[1].BufferType = SECBUFFER_DATA;
    bufs[1].cbBuffer = len;
    bufs[1].pvBuffer = msg + sizes.cbSecurityTrailer;
    bufs[2].BufferType = SECBUFFER_PADDING;
    bufs[2].cbBuffer = sizes.cbBlockSize;
    bufs[2].pvBuffer = msg + sizes.cbSecurityTrailer + len;
    desc.ulVersion = SECBUFFER_VERSION;
    desc.cBuffers = 3;
    desc.pBuffers = bufs;

    ss = EncryptMessage(ctx, 0, &desc, 0);
    if (ss == SEC_E_OK) {
        /* The package may use fewer bytes than it reserved: close the
         * gaps before sending. */
        memmove(msg + bufs[0].cbBuffer, bufs[1].pvBuffer, bufs[1].cbBuffer);
        memmove(msg + bufs[0].cbBuffer + bufs[1].cbBuffer, bufs[2].pvBuffer,
                bufs[2].cbBuffer);
        total = bufs[0].cbBuffer + bufs[1].cbBuffer + bufs[2].cbBuffer;
        if (io_send(io, msg, total) != 0)
            ss = SEC_E_INTERNAL_ERROR;
    }
    free(msg);
    return ss;
}

/* The receiving side does not know where the token ends: it hands the
 * whole message over as STREAM and gets the plaintext back as DATA. */
SECURITY_STATUS
receive_and_open(void *io, PCtxtHandle ctx, char *out, ULONG cap)
{
    unsigned char wire[MAX_TOKEN];
    ULONG wire_len = 0;
    SecBuffer bufs[2];
    SecBufferDesc desc;
    ULONG qop = 0;
    SECURITY_STATUS ss;

    if (io_recv(io, wire, sizeof(wire), &wire_len) != 0)
        return SEC_E_INTERNAL_ERROR;
    bufs[0].BufferType = SECBUFFER_STREAM;
    bufs[0].cbBuffer = wire_len;
    bufs[0].pvBuffer = wire;
    bufs[1].BufferType = SECBUFFER_DATA;
    bufs[1].cbBuffer = 0;
    bufs[1].pvBuffer = NULL;
    desc.ulVersion = SECBUFFER_VERSION;
    desc.cBuffers = 2;
    desc.pBuffers = bufs;

    ss = DecryptMessage(ctx, &desc, 0, &qop);
    if (ss != SEC_E_OK)
        return ss;
    if (qop & SECQOP_WRAP_NO_ENCRYPT)
        fprintf(stderr, "warning: message was not encrypted\n");
    if (bufs[1].cbBuffer >= cap)
        return SEC_E_BUFFER_TOO_SMALL;
    memcpy(out, bufs[1].pvBuffer, bufs[1].cbBuffer);
    out[bufs[1].cbBuffer] = '\0';
    return SEC_E_OK;
}

/* Integrity only: a detached signature over the data. */
SECURITY_STATUS
sign_and_verify(PCtxtHandle ctx, void *data, ULONG len)
{
    SecPkgContext_Sizes sizes;
    SecBuffer bufs[2];
    SecBufferDesc desc;
    unsigned char *sig;
    ULONG qop = 0;
    SECURITY_STATUS ss;

    ss = QueryContextAttributesA(ctx, SECPKG_ATTR_SIZES, &sizes);
    if (ss != SEC_E_OK)
        return ss;
    sig = (unsigned char *)malloc(sizes.cbMaxSignature);
    if (sig == NULL)
        return SEC_E_INSUFFICIENT_MEMORY;
    bufs[0].BufferType = SECBUFFER_DATA | SECBUFFER_READONLY;
    bufs[0].cbBuffer = len;
    bufs[0].pvBuffer = data;
    bufs[1].BufferType = SECBUFFER_TOKEN;
    bufs[1].cbBuffer = sizes.cbMaxSignature;
    bufs[1].pvBuffer = sig;
    desc.ulVersion = SECBUFFER_VERSION;
    desc.cBuffers = 2;
    desc.pBuffers = bufs;

    ss = MakeSignature(ctx, 0, &desc, 0);
    if (ss == SEC_E_OK)
        ss = VerifySignature(ctx, &desc, 0, &qop);
    free(sig);
    return ss;
}

/* The same calls through the dispatch table, the way code that loads an
 * SSP at run time makes them. */
int
list_packages_via_table(void)
{
    PSecurityFunctionTableA table = InitSecurityInterfaceA();
    INIT_SECURITY_INTERFACE_A init = InitSecurityInterfaceA;
    PSecPkgInfoA pkgs = NULL;
    SecPkgInfo *info = NULL;
    ULONG count = 0, i;
    CredHandle cred;
    CtxtHandle ctx;
    TimeStamp expiry;
    SEC_WINNT_AUTH_IDENTITY id;
    SecBuffer bufs[2];
    SecBufferDesc desc;
    char user[] = "alice", domain[] = "EXAMPLE.COM", password[] = "secret";
    char payload[] = "hello";
    unsigned char trailer[64];
    ULONG qop = 0;

    if (table == NULL || table != init() ||
        table->dwVersion < SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION)
        return -1;
    printf("entry point: %s\n", SECURITY_ENTRYPOINT);

    if (table->EnumerateSecurityPackagesA(&count, &pkgs) != SEC_E_OK)
        return -1;
    for (i = 0; i < count; i++)
        printf("%-10s rpc %u max token %lu%s%s\n", pkgs[i].Name,
               (unsigned)pkgs[i].wRPCID, (unsigned long)pkgs[i].cbMaxToken,
               (pkgs[i].fCapabilities & SECPKG_FLAG_PRIVACY) ? " privacy" : "",
               (pkgs[i].fCapabilities & SECPKG_FLAG_MUTUAL_AUTH) ? " mutual"
                                                                 : "");
    table->FreeContextBuffer(pkgs);

    if (QuerySecurityPackageInfo((LPSTR)NTLMSP_NAME_A, &info) == SEC_E_OK) {
        printf("NTLM comment: %s\n", info->Comment);
        FreeContextBuffer(info);
    }

    /* Explicit credentials, as a Windows NTLM client passes them. */
    memset(&id, 0, sizeof(id));
    id.User = (unsigned char *)user;
    id.UserLength = (ULONG)strlen(user);
    id.Domain = (unsigned char *)domain;
    id.DomainLength = (ULONG)strlen(domain);
    id.Password = (unsigned char *)password;
    id.PasswordLength = (ULONG)strlen(password);
    id.Flags = SEC_WINNT_AUTH_IDENTITY_ANSI;
    if (table->AcquireCredentialsHandleA(NULL, (LPSTR)NTLMSP_NAME_A,
                                         SECPKG_CRED_OUTBOUND, NULL, &id, NULL,
                                         NULL, &cred, &expiry) != SEC_E_OK)
        return -1;
    memset(password, 0, sizeof(password));

    SecInvalidateHandle(&ctx);
    /* ... handshake via table->InitializeSecurityContextA ... */
    bufs[0].BufferType = SECBUFFER_TOKEN;
    bufs[0].cbBuffer = sizeof(trailer);
    bufs[0].pvBuffer = trailer;
    bufs[1].BufferType = SECBUFFER_DATA;
    bufs[1].cbBuffer = (ULONG)strlen(payload);
    bufs[1].pvBuffer = payload;
    desc.ulVersion = SECBUFFER_VERSION;
    desc.cBuffers = 2;
    desc.pBuffers = bufs;
    if (SecIsValidHandle(&ctx) &&
        table->EncryptMessage(&ctx, 0, &desc, 0) == SEC_E_OK)
        (void)table->DecryptMessage(&ctx, &desc, 0, &qop);

    if (table->QueryContextAttributesExA == NULL)
        printf("QueryContextAttributesExA not provided\n");
    if (SecIsValidHandle(&ctx))
        table->DeleteSecurityContext(&ctx);
    /* The Windows A table spells this slot without the s. */
    table->FreeCredentialHandle(&cred);
    return 0;
}
