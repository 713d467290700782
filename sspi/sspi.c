/*
 * sspi/sspi.c - the SSPI entry points (include/hsmssp/sspi.h).
 *
 * Each function checks its arguments and handles, translates the Windows
 * structures into the provider's (provider/provider.h), calls the
 * package, and translates the result back: the status through the one
 * table of status.c, flags through its flag tables.  Every failure leaves
 * a one-line reason readable with hsmssp_last_error_detail(), and never a
 * half-made handle: a context that failed to establish is freed before
 * the call returns.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "provider/local_user.h"
#include "sspi/sspi-int.h"

/* Bound on the buffers of one SecBufferDesc. */
#define MAX_BUFFERS 32

static SECURITY_STATUS
fail(hsmssp_err err)
{
    return sspi_status(err);
}

static SECURITY_STATUS
bad_handle(void)
{
    /* sspi_handle_get() recorded why. */
    return SEC_E_INVALID_HANDLE;
}

static const prov_package *
find_package(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < prov_n_packages; i++)
        if (strcasecmp(prov_packages[i]->name, name) == 0)
            return prov_packages[i];
    return NULL;
}

SEC_CHAR *
sspi_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    SEC_CHAR *p = malloc(n);

    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

hsmssp_err
sspi_pkg_info(const prov_package *pkg, PSecPkgInfoA *out)
{
    size_t nl = strlen(pkg->name) + 1, cl = strlen(pkg->comment) + 1;
    PSecPkgInfoA pi = malloc(sizeof(*pi) + nl + cl);

    *out = NULL;
    if (pi == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    pi->fCapabilities = sspi_caps(pkg->caps);
    pi->wVersion = pkg->version;
    pi->wRPCID = pkg->rpcid;
    pi->cbMaxToken = pkg->max_token;
    pi->Name = (SEC_CHAR *)(pi + 1);
    pi->Comment = pi->Name + nl;
    memcpy(pi->Name, pkg->name, nl);
    memcpy(pi->Comment, pkg->comment, cl);
    *out = pi;
    return HSMSSP_OK;
}

/* ---- packages -------------------------------------------------------- */

SECURITY_STATUS SEC_ENTRY
EnumerateSecurityPackagesA(ULONG *pcPackages, PSecPkgInfoA *ppPackageInfo)
{
    size_t total = 0, off;
    PSecPkgInfoA v;
    char *str;

    if (pcPackages == NULL || ppPackageInfo == NULL)
        return fail(BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "NULL output"));
    *pcPackages = 0;
    *ppPackageInfo = NULL;
    /* One allocation: the array, then the strings. */
    for (size_t i = 0; i < prov_n_packages; i++)
        total += strlen(prov_packages[i]->name) + 1 +
                 strlen(prov_packages[i]->comment) + 1;
    v = malloc(prov_n_packages * sizeof(*v) + total);
    if (v == NULL)
        return fail(BASE_ERR0(HSMSSP_ERR_NOMEM));
    str = (char *)(v + prov_n_packages);
    off = 0;
    for (size_t i = 0; i < prov_n_packages; i++) {
        const prov_package *p = prov_packages[i];
        size_t nl = strlen(p->name) + 1, cl = strlen(p->comment) + 1;

        v[i].fCapabilities = sspi_caps(p->caps);
        v[i].wVersion = p->version;
        v[i].wRPCID = p->rpcid;
        v[i].cbMaxToken = p->max_token;
        v[i].Name = str + off;
        memcpy(str + off, p->name, nl);
        off += nl;
        v[i].Comment = str + off;
        memcpy(str + off, p->comment, cl);
        off += cl;
    }
    *pcPackages = (ULONG)prov_n_packages;
    *ppPackageInfo = v;
    return SEC_E_OK;
}

SECURITY_STATUS SEC_ENTRY
QuerySecurityPackageInfoA(LPSTR pszPackageName, PSecPkgInfoA *ppPackageInfo)
{
    const prov_package *pkg;
    hsmssp_err ret;

    if (ppPackageInfo == NULL)
        return fail(BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "NULL output"));
    *ppPackageInfo = NULL;
    pkg = find_package(pszPackageName);
    if (pkg == NULL) {
        (void)BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no package named %s",
                       pszPackageName ? pszPackageName : "(null)");
        return SEC_E_SECPKG_NOT_FOUND;
    }
    ret = sspi_pkg_info(pkg, ppPackageInfo);
    return ret == HSMSSP_OK ? SEC_E_OK : fail(ret);
}

SECURITY_STATUS SEC_ENTRY
FreeContextBuffer(PVOID pvContextBuffer)
{
    free(pvContextBuffer);
    return SEC_E_OK;
}

/* The context this thread impersonates (ImpersonateSecurityContext),
 * whose delegated TGT an outbound AcquireCredentialsHandle without a
 * principal uses, as on Windows. */
static __thread SecHandle impersonated;
static __thread bool impersonating;

/* Makes a credential handle from a context's delegated TGT. */
static hsmssp_err
delegated_cred(sspi_slot *xs, PCredHandle phCredential, int64_t *expiry)
{
    void *cred = NULL;
    hsmssp_err ret;

    if (!xs->established || xs->initiator ||
        xs->pkg->acquire_delegated == NULL)
        return BASE_ERR(HSMSSP_ERR_NO_TICKET,
                        "only an established acceptor context holds "
                        "delegated credentials");
    ret = xs->pkg->acquire_delegated(xs->obj, &cred, expiry);
    if (ret == HSMSSP_OK) {
        ret = sspi_handle_new(SSPI_CRED, xs->pkg, cred, phCredential);
        if (ret != HSMSSP_OK)
            xs->pkg->cred_free(cred);
    }
    return ret;
}

/* ---- credentials ------------------------------------------------------ */

SECURITY_STATUS SEC_ENTRY
AcquireCredentialsHandleA(LPSTR pszPrincipal, LPSTR pszPackage,
                          ULONG fCredentialUse, void *pvLogonId,
                          void *pAuthData, SEC_GET_KEY_FN pGetKeyFn,
                          void *pvGetKeyArgument, PCredHandle phCredential,
                          PTimeStamp ptsExpiry)
{
    const prov_package *pkg;
    prov_identity id, *idp = NULL;
    prov_env *env = NULL;
    void *cred = NULL;
    int64_t expiry = 0;
    unsigned use = 0;
    hsmssp_err ret;

    (void)pvLogonId;
    if (phCredential == NULL)
        return fail(BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                             "phCredential is NULL"));
    SecInvalidateHandle(phCredential);
    if (pGetKeyFn != NULL || pvGetKeyArgument != NULL)
        return fail(BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                             "pGetKeyFn is not supported: keys stay on "
                             "the token"));
    pkg = find_package(pszPackage);
    if (pkg == NULL) {
        (void)BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no package named %s",
                       pszPackage ? pszPackage : "(null)");
        return SEC_E_SECPKG_NOT_FOUND;
    }
    if (fCredentialUse & SECPKG_CRED_INBOUND)
        use |= PROV_CRED_INBOUND;
    if (fCredentialUse & SECPKG_CRED_OUTBOUND)
        use |= PROV_CRED_OUTBOUND;
    if (use == 0)
        return fail(BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                             "fCredentialUse names neither INBOUND nor "
                             "OUTBOUND"));
    if (pAuthData != NULL) {
        const SEC_WINNT_AUTH_IDENTITY_A *ai = pAuthData;

        if (ai->Flags != SEC_WINNT_AUTH_IDENTITY_ANSI)
            return fail(BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                                 "only SEC_WINNT_AUTH_IDENTITY_ANSI "
                                 "(UTF-8) identities are supported"));
        memset(&id, 0, sizeof(id));
        id.user = (const char *)ai->User;
        id.user_len = ai->UserLength;
        id.domain = (const char *)ai->Domain;
        id.domain_len = ai->DomainLength;
        id.password = (const char *)ai->Password;
        id.password_len = ai->PasswordLength;
        idp = &id;
    }
    if (use == PROV_CRED_OUTBOUND && pszPrincipal == NULL && idp == NULL &&
        impersonating) {
        /* Windows: a thread impersonating a client acts with that
         * client's (delegated) credentials. */
        sspi_slot *xs = sspi_handle_get(&impersonated, SSPI_CTX, false);

        if (xs != NULL && xs->pkg == pkg) {
            ret = delegated_cred(xs, phCredential, &expiry);
            sspi_handle_put(xs);
            if (ret != HSMSSP_OK)
                return fail(ret);
            sspi_timestamp(expiry, ptsExpiry);
            return SEC_E_OK;
        }
        sspi_handle_put(xs);
        /* Never the process's own credentials in the client's stead. */
        return fail(BASE_ERR(HSMSSP_ERR_NO_TICKET,
                             "the thread impersonates a context that is "
                             "gone or of another package: no delegated "
                             "credential to use"));
    }
    ret = sspi_runtime_env(&env);
    if (ret == HSMSSP_OK)
        ret = pkg->acquire(env, pszPrincipal, use, idp, &cred, &expiry);
    prov_env_unref(env);
    if (ret == HSMSSP_OK) {
        ret = sspi_handle_new(SSPI_CRED, pkg, cred, phCredential);
        if (ret != HSMSSP_OK)
            pkg->cred_free(cred);
    }
    if (ret != HSMSSP_OK)
        return fail(ret);
    sspi_timestamp(expiry, ptsExpiry);
    return SEC_E_OK;
}

SECURITY_STATUS SEC_ENTRY
FreeCredentialsHandle(PCredHandle phCredential)
{
    sspi_slot *s = sspi_handle_get(phCredential, SSPI_CRED, true);

    if (s == NULL)
        return bad_handle();
    sspi_handle_kill(s);
    sspi_handle_put(s);
    SecInvalidateHandle(phCredential);
    return SEC_E_OK;
}

SECURITY_STATUS SEC_ENTRY
QueryCredentialsAttributesA(PCredHandle phCredential, ULONG ulAttribute,
                            void *pBuffer)
{
    sspi_slot *s = sspi_handle_get(phCredential, SSPI_CRED, false);
    char *name = NULL;
    hsmssp_err ret;

    if (s == NULL)
        return bad_handle();
    if (pBuffer == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "pBuffer is NULL");
    } else if (ulAttribute != SECPKG_CRED_ATTR_NAMES) {
        ret = BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                       "credential attribute %u is not available (only "
                       "SECPKG_CRED_ATTR_NAMES)",
                       (unsigned)ulAttribute);
    } else if (s->pkg->cred_name == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                       "the %s package names no credentials", s->pkg->name);
    } else {
        ret = s->pkg->cred_name(s->obj, &name);
    }
    if (ret == HSMSSP_OK) {
        SecPkgCredentials_NamesA *n = pBuffer;

        /* FreeContextBuffer frees with free(): the name is handed over
         * as it is. */
        n->sUserName = name;
        name = NULL;
    }
    free(name);
    sspi_handle_put(s);
    return ret == HSMSSP_OK ? SEC_E_OK : fail(ret);
}

/* ---- buffers ---------------------------------------------------------- */

static SecBuffer *
find_buffer(PSecBufferDesc d, ULONG type)
{
    if (d == NULL || d->pBuffers == NULL)
        return NULL;
    for (ULONG i = 0; i < d->cBuffers && i < MAX_BUFFERS; i++)
        if ((d->pBuffers[i].BufferType & ~SECBUFFER_ATTRMASK) == type)
            return &d->pBuffers[i];
    return NULL;
}

static hsmssp_err
check_desc(PSecBufferDesc d, bool required)
{
    if (d == NULL)
        return required ? BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                                   "no buffer description given")
                        : HSMSSP_OK;
    if (d->ulVersion != SECBUFFER_VERSION)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "SecBufferDesc version %u",
                        (unsigned)d->ulVersion);
    if (d->cBuffers > MAX_BUFFERS || (d->cBuffers > 0 && d->pBuffers == NULL))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "SecBufferDesc with %u buffers (at most %d)",
                        (unsigned)d->cBuffers, MAX_BUFFERS);
    for (ULONG i = 0; i < d->cBuffers; i++)
        if (d->pBuffers[i].cbBuffer > 0 && d->pBuffers[i].pvBuffer == NULL)
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "buffer %u has a size but no memory",
                            (unsigned)i);
    return HSMSSP_OK;
}

/* SEC_CHANNEL_BINDINGS: offsets are relative to the structure, which
 * occupies the start of the buffer. */
static hsmssp_err
read_bindings(const SecBuffer *b, prov_cb *cb)
{
    const SEC_CHANNEL_BINDINGS *scb = b->pvBuffer;
    const uint8_t *base = b->pvBuffer;
    size_t n = b->cbBuffer;

    memset(cb, 0, sizeof(*cb));
    if (n < sizeof(*scb))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "channel bindings buffer shorter than "
                        "SEC_CHANNEL_BINDINGS");
#define FIELD_OK(off, len)                                                \
    ((len) == 0 || ((size_t)(off) <= n && (size_t)(len) <= n - (off)))
    if (!FIELD_OK(scb->dwInitiatorOffset, scb->cbInitiatorLength) ||
        !FIELD_OK(scb->dwAcceptorOffset, scb->cbAcceptorLength) ||
        !FIELD_OK(scb->dwApplicationDataOffset, scb->cbApplicationDataLength))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "channel bindings field outside its buffer");
#undef FIELD_OK
    cb->initiator_addrtype = scb->dwInitiatorAddrType;
    cb->initiator_address = base + scb->dwInitiatorOffset;
    cb->initiator_address_len = scb->cbInitiatorLength;
    cb->acceptor_addrtype = scb->dwAcceptorAddrType;
    cb->acceptor_address = base + scb->dwAcceptorOffset;
    cb->acceptor_address_len = scb->cbAcceptorLength;
    cb->application_data = base + scb->dwApplicationDataOffset;
    cb->application_data_len = scb->cbApplicationDataLength;
    return HSMSSP_OK;
}

/* Hands a token to the caller: allocated with ALLOCATE_MEMORY, else
 * copied into the caller's TOKEN buffer. */
static hsmssp_err
deliver_token(PSecBufferDesc out, bool allocate, const uint8_t *tok,
              size_t len)
{
    SecBuffer *b = find_buffer(out, SECBUFFER_TOKEN);

    if (b == NULL)
        return len == 0 ? HSMSSP_OK
                        : BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                                   "no output TOKEN buffer for a %zu-byte "
                                   "token",
                                   len);
    if (allocate) {
        b->pvBuffer = NULL;
        b->cbBuffer = 0;
        if (len == 0)
            return HSMSSP_OK;
        b->pvBuffer = malloc(len);
        if (b->pvBuffer == NULL)
            return BASE_ERR0(HSMSSP_ERR_NOMEM);
        memcpy(b->pvBuffer, tok, len);
        b->cbBuffer = (ULONG)len;
        return HSMSSP_OK;
    }
    if (len > b->cbBuffer)
        return BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL,
                        "output TOKEN buffer holds %u bytes, the token %zu "
                        "(use ASC_REQ_ALLOCATE_MEMORY or cbMaxToken)",
                        (unsigned)b->cbBuffer, len);
    if (len > 0)
        memcpy(b->pvBuffer, tok, len);
    b->cbBuffer = (ULONG)len;
    return HSMSSP_OK;
}

/* ---- contexts --------------------------------------------------------- */

SECURITY_STATUS SEC_ENTRY
AcceptSecurityContext(PCredHandle phCredential, PCtxtHandle phContext,
                      PSecBufferDesc pInput, ULONG fContextReq,
                      ULONG TargetDataRep, PCtxtHandle phNewContext,
                      PSecBufferDesc pOutput, ULONG *pfContextAttr,
                      PTimeStamp ptsExpiry)
{
    sspi_slot *cs = NULL, *xs = NULL;
    SecBuffer *tb, *cbb;
    prov_cb cb;
    prov_step step;
    void *ctx = NULL;
    bool fresh;
    hsmssp_err ret, dret;
    SECURITY_STATUS st;

    (void)TargetDataRep;
    if (pfContextAttr != NULL)
        *pfContextAttr = 0;
    cs = sspi_handle_get(phCredential, SSPI_CRED, false);
    if (cs == NULL)
        return bad_handle();
    fresh = phContext == NULL || !SecIsValidHandle(phContext);
    if (!fresh) {
        xs = sspi_handle_get(phContext, SSPI_CTX, false);
        if (xs == NULL) {
            sspi_handle_put(cs);
            return bad_handle();
        }
        ctx = xs->obj;
    } else if (phNewContext == NULL) {
        sspi_handle_put(cs);
        return fail(BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                             "phNewContext is NULL"));
    }
    memset(&step, 0, sizeof(step));
    ret = check_desc(pInput, true);
    if (ret == HSMSSP_OK)
        ret = check_desc(pOutput, false);
    if (ret != HSMSSP_OK)
        goto out;
    tb = find_buffer(pInput, SECBUFFER_TOKEN);
    if (tb == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no input TOKEN buffer");
        goto out;
    }
    cbb = find_buffer(pInput, SECBUFFER_CHANNEL_BINDINGS);
    if (cbb != NULL) {
        ret = read_bindings(cbb, &cb);
        if (ret != HSMSSP_OK)
            goto out;
        step.cb = &cb;
    }
    step.in_token = tb->pvBuffer;
    step.in_len = tb->cbBuffer;
    step.req_flags = sspi_asc_req_to_prov(fContextReq);
    ret = cs->pkg->accept(cs->obj, &ctx, &step);
    /* The token goes out on success and with a KRB-ERROR on failure. */
    dret = deliver_token(pOutput, (fContextReq & ASC_REQ_ALLOCATE_MEMORY) != 0,
                         step.out_token, step.out_len);
    if (ret == HSMSSP_OK)
        ret = dret;
    if (ret == HSMSSP_OK && fresh) {
        ret = sspi_handle_new(SSPI_CTX, cs->pkg, ctx, phNewContext);
        if (ret == HSMSSP_OK) {
            ctx = NULL;
            xs = sspi_handle_get(phNewContext, SSPI_CTX, false);
        }
    }
    if (ret == HSMSSP_OK && xs != NULL) {
        xs->initiator = false;
        xs->established = !step.continue_needed;
        xs->req_flags = fContextReq;
        xs->ret_flags = sspi_prov_to_asc_ret(step.ret_flags) |
                        ((fContextReq & ASC_REQ_ALLOCATE_MEMORY)
                             ? ASC_RET_ALLOCATED_MEMORY
                             : 0);
        if (pfContextAttr != NULL)
            *pfContextAttr = xs->ret_flags;
        sspi_timestamp(step.expiry, ptsExpiry);
    }
out:
    prov_free_token(step.out_token);
    /* A context that failed to come into being is freed here, never
     * returned half-made. */
    if (fresh && ctx != NULL)
        cs->pkg->ctx_free(ctx);
    if (fresh && ret != HSMSSP_OK && phNewContext != NULL)
        SecInvalidateHandle(phNewContext);
    sspi_handle_put(xs);
    sspi_handle_put(cs);
    if (ret != HSMSSP_OK)
        return fail(ret);
    st = step.continue_needed ? SEC_I_CONTINUE_NEEDED : SEC_E_OK;
    return st;
}

SECURITY_STATUS SEC_ENTRY
InitializeSecurityContextA(PCredHandle phCredential, PCtxtHandle phContext,
                           SEC_CHAR *pszTargetName, ULONG fContextReq,
                           ULONG Reserved1, ULONG TargetDataRep,
                           PSecBufferDesc pInput, ULONG Reserved2,
                           PCtxtHandle phNewContext, PSecBufferDesc pOutput,
                           ULONG *pfContextAttr, PTimeStamp ptsExpiry)
{
    sspi_slot *cs = NULL, *xs = NULL;
    SecBuffer *tb = NULL, *cbb = NULL;
    prov_cb cb;
    prov_step step;
    void *ctx = NULL;
    bool fresh;
    bool allocate = (fContextReq & ISC_REQ_ALLOCATE_MEMORY) != 0;
    hsmssp_err ret, dret;

    (void)Reserved1;
    (void)Reserved2;
    (void)TargetDataRep;
    if (pfContextAttr != NULL)
        *pfContextAttr = 0;
    cs = sspi_handle_get(phCredential, SSPI_CRED, false);
    if (cs == NULL)
        return bad_handle();
    fresh = phContext == NULL || !SecIsValidHandle(phContext);
    if (!fresh) {
        xs = sspi_handle_get(phContext, SSPI_CTX, false);
        if (xs == NULL) {
            sspi_handle_put(cs);
            return bad_handle();
        }
        ctx = xs->obj;
    } else if (phNewContext == NULL) {
        sspi_handle_put(cs);
        return fail(BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                             "phNewContext is NULL"));
    }
    memset(&step, 0, sizeof(step));
    ret = check_desc(pInput, !fresh);
    if (ret == HSMSSP_OK)
        ret = check_desc(pOutput, false);
    if (ret != HSMSSP_OK)
        goto out;
    if (cs->pkg->init == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                       "the %s package has no initiator", cs->pkg->name);
        goto out;
    }
    if (!fresh && (xs->pkg != cs->pkg || !xs->initiator)) {
        ret = BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                       "phContext is not an initiator context of this "
                       "package");
        goto out;
    }
    if (pInput != NULL) {
        tb = find_buffer(pInput, SECBUFFER_TOKEN);
        cbb = find_buffer(pInput, SECBUFFER_CHANNEL_BINDINGS);
    }
    if (!fresh && tb == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "no input TOKEN buffer for the reply");
        goto out;
    }
    if (cbb != NULL) {
        ret = read_bindings(cbb, &cb);
        if (ret != HSMSSP_OK)
            goto out;
        step.cb = &cb;
    }
    if (tb != NULL && !fresh) {
        step.in_token = tb->pvBuffer;
        step.in_len = tb->cbBuffer;
    }
    step.target = pszTargetName;
    step.req_flags = sspi_isc_req_to_prov(fContextReq);
    ret = cs->pkg->init(cs->obj, &ctx, &step);
    dret = deliver_token(pOutput, allocate, step.out_token, step.out_len);
    if (ret == HSMSSP_OK)
        ret = dret;
    if (ret == HSMSSP_OK && fresh) {
        ret = sspi_handle_new(SSPI_CTX, cs->pkg, ctx, phNewContext);
        if (ret == HSMSSP_OK) {
            ctx = NULL;
            xs = sspi_handle_get(phNewContext, SSPI_CTX, false);
        }
    } else if (ret == HSMSSP_OK && phNewContext != NULL &&
               phNewContext != phContext) {
        *phNewContext = *phContext;
    }
    if (ret == HSMSSP_OK && xs != NULL) {
        xs->initiator = true;
        xs->established = !step.continue_needed;
        xs->req_flags = fContextReq;
        xs->ret_flags = sspi_prov_to_isc_ret(step.ret_flags) |
                        (allocate ? ISC_RET_ALLOCATED_MEMORY : 0);
        if (pfContextAttr != NULL)
            *pfContextAttr = xs->ret_flags;
        sspi_timestamp(step.expiry, ptsExpiry);
    }
out:
    prov_free_token(step.out_token);
    if (fresh && ctx != NULL)
        cs->pkg->ctx_free(ctx);
    if (fresh && ret != HSMSSP_OK && phNewContext != NULL)
        SecInvalidateHandle(phNewContext);
    sspi_handle_put(xs);
    sspi_handle_put(cs);
    if (ret != HSMSSP_OK)
        return fail(ret);
    return step.continue_needed ? SEC_I_CONTINUE_NEEDED : SEC_E_OK;
}

SECURITY_STATUS SEC_ENTRY
CompleteAuthToken(PCtxtHandle phContext, PSecBufferDesc pToken)
{
    sspi_slot *s = sspi_handle_get(phContext, SSPI_CTX, false);

    (void)pToken;
    if (s == NULL)
        return bad_handle();
    sspi_handle_put(s);
    /* No package here returns SEC_I_COMPLETE_NEEDED: there is nothing to
     * complete, which Windows reports as success as well. */
    return SEC_E_OK;
}

SECURITY_STATUS SEC_ENTRY
DeleteSecurityContext(PCtxtHandle phContext)
{
    /* Allowed in a fork child too, to release the parent's memory. */
    sspi_slot *s = sspi_handle_get(phContext, SSPI_CTX, true);

    if (s == NULL)
        return bad_handle();
    sspi_handle_kill(s);
    sspi_handle_put(s);
    SecInvalidateHandle(phContext);
    return SEC_E_OK;
}

SECURITY_STATUS SEC_ENTRY
ApplyControlToken(PCtxtHandle phContext, PSecBufferDesc pInput)
{
    sspi_slot *s = sspi_handle_get(phContext, SSPI_CTX, false);

    (void)pInput;
    if (s == NULL)
        return bad_handle();
    sspi_handle_put(s);
    return fail(BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                         "no control tokens exist for these packages"));
}

SECURITY_STATUS SEC_ENTRY
QueryContextAttributesA(PCtxtHandle phContext, ULONG ulAttribute,
                        void *pBuffer)
{
    sspi_slot *s = sspi_handle_get(phContext, SSPI_CTX, false);
    SECURITY_STATUS st;

    if (s == NULL)
        return bad_handle();
    if (pBuffer == NULL)
        st = fail(BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "pBuffer is NULL"));
    else
        st = sspi_query_context(s, ulAttribute, pBuffer);
    sspi_handle_put(s);
    return st;
}

SECURITY_STATUS SEC_ENTRY
SetContextAttributesA(PCtxtHandle phContext, ULONG ulAttribute,
                      void *pBuffer, ULONG cbBuffer)
{
    sspi_slot *s = sspi_handle_get(phContext, SSPI_CTX, false);

    (void)ulAttribute;
    (void)pBuffer;
    (void)cbBuffer;
    if (s == NULL)
        return bad_handle();
    sspi_handle_put(s);
    return fail(BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                         "no context attribute can be set"));
}

/* ---- impersonation ---------------------------------------------------- */

SECURITY_STATUS SEC_ENTRY
ImpersonateSecurityContext(PCtxtHandle phContext)
{
    sspi_slot *s = sspi_handle_get(phContext, SSPI_CTX, false);
    prov_local_user *u = NULL;
    char *name = NULL;
    hsmssp_err ret;

    if (s == NULL)
        return bad_handle();
    if (!s->established || s->pkg->local_name == NULL)
        ret = BASE_ERR(HSMSSP_ERR_NO_IMPERSONATION,
                       "context cannot be impersonated");
    else
        ret = s->pkg->local_name(s->obj, &name);
    if (ret == HSMSSP_OK)
        ret = prov_local_user_lookup(name, &u);
    if (ret == HSMSSP_OK)
        ret = prov_impersonate(u);
    if (ret == HSMSSP_OK) {
        impersonated = *phContext;
        impersonating = true;
    }
    prov_local_user_free(u);
    free(name);
    sspi_handle_put(s);
    return ret == HSMSSP_OK ? SEC_E_OK : fail(ret);
}

SECURITY_STATUS SEC_ENTRY
RevertSecurityContext(PCtxtHandle phContext)
{
    sspi_slot *s = sspi_handle_get(phContext, SSPI_CTX, false);
    hsmssp_err ret;

    if (s == NULL)
        return bad_handle();
    ret = prov_revert();
    if (ret == HSMSSP_OK)
        impersonating = false;
    sspi_handle_put(s);
    return ret == HSMSSP_OK ? SEC_E_OK : fail(ret);
}

/* ---- per-message ------------------------------------------------------ */

typedef enum msg_op { OP_SIGN, OP_VERIFY, OP_SEAL, OP_UNSEAL } msg_op;

/* Translates the message buffers, runs op, writes sizes and pointers
 * back. */
static SECURITY_STATUS
message(PCtxtHandle phContext, PSecBufferDesc msg, msg_op op, bool conf,
        bool *conf_out)
{
    sspi_slot *s;
    prov_buf pb[MAX_BUFFERS];
    hsmssp_err ret;

    s = sspi_handle_get(phContext, SSPI_CTX, false);
    if (s == NULL)
        return bad_handle();
    ret = check_desc(msg, true);
    if (ret == HSMSSP_OK && !s->established)
        ret = BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                       "security context is not established");
    if (ret != HSMSSP_OK)
        goto out;
    for (ULONG i = 0; i < msg->cBuffers; i++) {
        SecBuffer *b = &msg->pBuffers[i];
        ULONG type = b->BufferType & ~SECBUFFER_ATTRMASK;

        pb[i].p = b->pvBuffer;
        pb[i].len = b->cbBuffer;
        pb[i].flags = 0;
        if (b->BufferType & SECBUFFER_READONLY)
            pb[i].flags |= PROV_BUF_READONLY;
        if (b->BufferType & SECBUFFER_READONLY_WITH_CHECKSUM)
            pb[i].flags |= PROV_BUF_READONLY_WITH_CHECKSUM;
        switch (type) {
        case SECBUFFER_DATA:
            pb[i].type = PROV_BUF_DATA;
            break;
        case SECBUFFER_TOKEN:
            pb[i].type = PROV_BUF_TOKEN;
            break;
        case SECBUFFER_PADDING:
            pb[i].type = PROV_BUF_PADDING;
            break;
        case SECBUFFER_STREAM:
            pb[i].type = PROV_BUF_STREAM;
            break;
        case SECBUFFER_EMPTY:
            pb[i].type = PROV_BUF_EMPTY;
            break;
        default:
            pb[i].type = PROV_BUF_OTHER;
            break;
        }
    }
    switch (op) {
    case OP_SIGN:
        ret = s->pkg->get_mic(s->obj, pb, msg->cBuffers);
        break;
    case OP_VERIFY:
        ret = s->pkg->verify_mic(s->obj, pb, msg->cBuffers);
        break;
    case OP_SEAL:
        ret = s->pkg->wrap(s->obj, conf, pb, msg->cBuffers);
        break;
    case OP_UNSEAL:
        ret = s->pkg->unwrap(s->obj, pb, msg->cBuffers, conf_out);
        break;
    }
    if (ret == HSMSSP_OK) {
        for (ULONG i = 0; i < msg->cBuffers; i++) {
            msg->pBuffers[i].pvBuffer = pb[i].p;
            msg->pBuffers[i].cbBuffer = (ULONG)pb[i].len;
        }
    }
out:
    sspi_handle_put(s);
    return ret == HSMSSP_OK ? SEC_E_OK : fail(ret);
}

SECURITY_STATUS SEC_ENTRY
MakeSignature(PCtxtHandle phContext, ULONG fQOP, PSecBufferDesc pMessage,
              ULONG MessageSeqNo)
{
    (void)MessageSeqNo;
    if (fQOP != 0)
        return fail(BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                             "quality of protection %#x", (unsigned)fQOP));
    return message(phContext, pMessage, OP_SIGN, false, NULL);
}

SECURITY_STATUS SEC_ENTRY
VerifySignature(PCtxtHandle phContext, PSecBufferDesc pMessage,
                ULONG MessageSeqNo, ULONG *pfQOP)
{
    (void)MessageSeqNo;
    if (pfQOP != NULL)
        *pfQOP = 0;
    return message(phContext, pMessage, OP_VERIFY, false, NULL);
}

SECURITY_STATUS SEC_ENTRY
EncryptMessage(PCtxtHandle phContext, ULONG fQOP, PSecBufferDesc pMessage,
               ULONG MessageSeqNo)
{
    (void)MessageSeqNo;
    if (fQOP != 0 && fQOP != SECQOP_WRAP_NO_ENCRYPT) {
        (void)BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                       "quality of protection %#x", (unsigned)fQOP);
        return SEC_E_QOP_NOT_SUPPORTED;
    }
    return message(phContext, pMessage, OP_SEAL, fQOP == 0, NULL);
}

SECURITY_STATUS SEC_ENTRY
DecryptMessage(PCtxtHandle phContext, PSecBufferDesc pMessage,
               ULONG MessageSeqNo, ULONG *pfQOP)
{
    bool conf = false;
    SECURITY_STATUS st;

    (void)MessageSeqNo;
    if (pfQOP != NULL)
        *pfQOP = 0;
    st = message(phContext, pMessage, OP_UNSEAL, false, &conf);
    if (st == SEC_E_OK && pfQOP != NULL && !conf)
        *pfQOP = SECQOP_WRAP_NO_ENCRYPT;
    return st;
}

/* ---- what this platform does not have --------------------------------- */

SECURITY_STATUS SEC_ENTRY
ExportSecurityContext(PCtxtHandle phContext, ULONG fFlags,
                      PSecBuffer pPackedContext, void **pToken)
{
    sspi_slot *s = sspi_handle_get(phContext, SSPI_CTX, false);

    (void)fFlags;
    if (pPackedContext != NULL) {
        pPackedContext->pvBuffer = NULL;
        pPackedContext->cbBuffer = 0;
    }
    if (pToken != NULL)
        *pToken = NULL;
    if (s == NULL)
        return bad_handle();
    sspi_handle_put(s);
    /* A context's keys are session objects of this process's token
     * session; no blob can carry them to another process (DESIGN sec. 2:
     * export never carries keys). */
    return fail(BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                         "contexts cannot be exported: their keys are "
                         "session objects of this process's token "
                         "session"));
}

SECURITY_STATUS SEC_ENTRY
ImportSecurityContextA(LPSTR pszPackage, PSecBuffer pPackedContext,
                       void *Token, PCtxtHandle phContext)
{
    (void)pszPackage;
    (void)pPackedContext;
    (void)Token;
    if (phContext != NULL)
        SecInvalidateHandle(phContext);
    return fail(BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                         "contexts cannot be imported (see "
                         "ExportSecurityContext)"));
}

SECURITY_STATUS SEC_ENTRY
QuerySecurityContextToken(PCtxtHandle phContext, void **Token)
{
    sspi_slot *s = sspi_handle_get(phContext, SSPI_CTX, false);

    if (Token != NULL)
        *Token = NULL;
    if (s == NULL)
        return bad_handle();
    sspi_handle_put(s);
    return fail(BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                         "Linux has no access tokens; use "
                         "ImpersonateSecurityContext"));
}

/* ---- the function table ----------------------------------------------- */

static SecurityFunctionTableA table = {
    .dwVersion = SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION,
    .EnumerateSecurityPackagesA = EnumerateSecurityPackagesA,
    .QueryCredentialsAttributesA = QueryCredentialsAttributesA,
    .AcquireCredentialsHandleA = AcquireCredentialsHandleA,
    .FreeCredentialsHandle = FreeCredentialsHandle,
    .InitializeSecurityContextA = InitializeSecurityContextA,
    .AcceptSecurityContext = AcceptSecurityContext,
    .CompleteAuthToken = CompleteAuthToken,
    .DeleteSecurityContext = DeleteSecurityContext,
    .ApplyControlToken = ApplyControlToken,
    .QueryContextAttributesA = QueryContextAttributesA,
    .ImpersonateSecurityContext = ImpersonateSecurityContext,
    .RevertSecurityContext = RevertSecurityContext,
    .MakeSignature = MakeSignature,
    .VerifySignature = VerifySignature,
    .FreeContextBuffer = FreeContextBuffer,
    .QuerySecurityPackageInfoA = QuerySecurityPackageInfoA,
    .ExportSecurityContext = ExportSecurityContext,
    .ImportSecurityContextA = ImportSecurityContextA,
    .QuerySecurityContextToken = QuerySecurityContextToken,
    .EncryptMessage = EncryptMessage,
    .DecryptMessage = DecryptMessage,
    .SetContextAttributesA = SetContextAttributesA,
};

PSecurityFunctionTableA SEC_ENTRY
InitSecurityInterfaceA(void)
{
    return &table;
}

SECURITY_STATUS SEC_ENTRY
HsmsspAcquireDelegatedCredentialsA(PCtxtHandle phContext,
                                   PCredHandle phCredential,
                                   PTimeStamp ptsExpiry)
{
    sspi_slot *xs;
    int64_t expiry = 0;
    hsmssp_err ret;

    if (phCredential == NULL)
        return fail(BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                             "phCredential is NULL"));
    SecInvalidateHandle(phCredential);
    xs = sspi_handle_get(phContext, SSPI_CTX, false);
    if (xs == NULL)
        return bad_handle();
    ret = delegated_cred(xs, phCredential, &expiry);
    sspi_handle_put(xs);
    if (ret != HSMSSP_OK)
        return fail(ret);
    sspi_timestamp(expiry, ptsExpiry);
    return SEC_E_OK;
}

SECURITY_STATUS SEC_ENTRY
HsmsspPurgeTicketCacheA(LPSTR pszPackage, LPSTR pszPrincipal)
{
    const prov_package *pkg = find_package(pszPackage);
    prov_env *env = NULL;
    hsmssp_err ret;

    if (pkg == NULL) {
        (void)BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no package named %s",
                       pszPackage ? pszPackage : "(null)");
        return SEC_E_SECPKG_NOT_FOUND;
    }
    if (pkg->purge_tickets == NULL)
        return SEC_E_OK; /* it keeps nothing to purge */
    ret = sspi_runtime_env(&env);
    if (ret == HSMSSP_OK)
        ret = pkg->purge_tickets(env, pszPrincipal);
    prov_env_unref(env);
    return ret == HSMSSP_OK ? SEC_E_OK : fail(ret);
}

SECURITY_STATUS SEC_ENTRY
HsmsspConfigureA(const char *pszConfigFile)
{
    hsmssp_err ret = sspi_runtime_configure(pszConfigFile);

    return ret == HSMSSP_OK ? SEC_E_OK : fail(ret);
}
