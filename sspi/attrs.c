/*
 * sspi/attrs.c - QueryContextAttributesA: the provider's context facts
 * (prov_ctx_info, prov_authz) in the Windows structures.
 *
 * Strings and blocks handed out are malloc'ed for FreeContextBuffer.
 * SECPKG_ATTR_SESSION_KEY is refused by design: session keys live on the
 * token and no API returns key bytes (DESIGN sec. 2).
 */
#include <stdlib.h>
#include <string.h>

#include "sspi/sspi-int.h"

/* ---- SECPKG_ATTR_HSMSSP_AUTHZ: one allocation ------------------------ */

typedef struct packer {
    uint8_t *base;
    size_t cap, off;
} packer;

static size_t
str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static size_t
sids_size(const prov_sid *v, size_t n)
{
    size_t t = n * sizeof(HSMSSP_SID_AND_ATTRIBUTES);

    for (size_t i = 0; i < n; i++)
        t += str_size(v[i].sid);
    return t;
}

static void *
take(packer *p, size_t n, size_t align)
{
    void *r;

    p->off = (p->off + align - 1) / align * align;
    r = p->base + p->off;
    p->off += n;
    return r;
}

static SEC_CHAR *
put_str(packer *p, const char *s)
{
    size_t n = str_size(s);
    SEC_CHAR *d;

    if (n == 0)
        return NULL;
    d = take(p, n, 1);
    memcpy(d, s, n);
    return d;
}

static PHSMSSP_SID_AND_ATTRIBUTES
put_sids(packer *p, const prov_sid *v, size_t n)
{
    PHSMSSP_SID_AND_ATTRIBUTES a;

    if (n == 0)
        return NULL;
    a = take(p, n * sizeof(*a), sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        a[i].sSid = put_str(p, v[i].sid);
        a[i].Attributes = v[i].attributes;
    }
    return a;
}

static hsmssp_err
pack_authz(const prov_authz *z, PHSMSSP_AUTHZ_INFO_A *out)
{
    const char *strs[] = {z->client_name,       z->upn,
                          z->dns_domain,        z->effective_name,
                          z->full_name,         z->logon_server,
                          z->logon_domain_name, z->logon_domain_sid,
                          z->user_sid,          z->primary_group_sid,
                          z->resource_domain_sid};
    size_t total = sizeof(HSMSSP_AUTHZ_INFO_A) + 4 * sizeof(void *);
    PHSMSSP_AUTHZ_INFO_A info;
    packer p;

    for (size_t i = 0; i < BASE_ARRAY_LEN(strs); i++)
        total += str_size(strs[i]);
    total += sids_size(z->groups, z->n_groups) +
             sids_size(z->extra_sids, z->n_extra_sids) +
             sids_size(z->resource_groups, z->n_resource_groups);
    p.base = calloc(1, total);
    if (p.base == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    p.cap = total;
    p.off = 0;
    info = take(&p, sizeof(*info), sizeof(void *));
    info->fHasPac = z->has_pac;
    info->fHasLogonInfo = z->has_logon_info;
    info->fHasUpnDnsInfo = z->has_upn_dns_info;
    info->UserFlags = z->user_flags;
    info->cGroups = (ULONG)z->n_groups;
    info->pGroups = put_sids(&p, z->groups, z->n_groups);
    info->cExtraSids = (ULONG)z->n_extra_sids;
    info->pExtraSids = put_sids(&p, z->extra_sids, z->n_extra_sids);
    info->cResourceGroups = (ULONG)z->n_resource_groups;
    info->pResourceGroups =
        put_sids(&p, z->resource_groups, z->n_resource_groups);
    info->sClientName = put_str(&p, z->client_name);
    info->sUpn = put_str(&p, z->upn);
    info->sDnsDomainName = put_str(&p, z->dns_domain);
    info->sEffectiveName = put_str(&p, z->effective_name);
    info->sFullName = put_str(&p, z->full_name);
    info->sLogonServer = put_str(&p, z->logon_server);
    info->sLogonDomainName = put_str(&p, z->logon_domain_name);
    info->sLogonDomainSid = put_str(&p, z->logon_domain_sid);
    info->sUserSid = put_str(&p, z->user_sid);
    info->sPrimaryGroupSid = put_str(&p, z->primary_group_sid);
    info->sResourceDomainSid = put_str(&p, z->resource_domain_sid);
    *out = info;
    return HSMSSP_OK;
}

/* ---- the attributes --------------------------------------------------- */

SECURITY_STATUS
sspi_query_context(sspi_slot *s, ULONG attr, void *buf)
{
    prov_ctx_info ci;
    prov_authz z;
    hsmssp_err ret;

    if (attr == SECPKG_ATTR_SESSION_KEY) {
        (void)BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                       "session keys stay on the token; no API returns "
                       "key bytes");
        return SEC_E_UNSUPPORTED_FUNCTION;
    }
    if (attr == SECPKG_ATTR_PACKAGE_INFO) {
        PSecPkgContext_PackageInfoA pi = buf;

        ret = sspi_pkg_info(s->pkg, &pi->PackageInfo);
        return ret == HSMSSP_OK ? SEC_E_OK : sspi_status(ret);
    }
    if (!s->established) {
        (void)BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                       "security context is not established");
        return SEC_E_INVALID_HANDLE;
    }
    ret = s->pkg->info(s->obj, &ci);
    if (ret != HSMSSP_OK)
        return sspi_status(ret);
    switch (attr) {
    case SECPKG_ATTR_SIZES: {
        PSecPkgContext_Sizes z2 = buf;

        z2->cbMaxToken = ci.max_token;
        z2->cbMaxSignature = ci.max_signature;
        z2->cbBlockSize = ci.block_size;
        z2->cbSecurityTrailer = ci.security_trailer;
        return SEC_E_OK;
    }
    case SECPKG_ATTR_STREAM_SIZES: {
        PSecPkgContext_StreamSizes z2 = buf;

        z2->cbHeader = ci.stream_header;
        z2->cbTrailer = ci.stream_trailer;
        z2->cbMaximumMessage = ci.stream_max_message;
        z2->cBuffers = 4;
        z2->cbBlockSize = ci.block_size;
        return SEC_E_OK;
    }
    case SECPKG_ATTR_NAMES: {
        PSecPkgContext_NamesA n = buf;

        /* The client's name, on both sides (as Windows Kerberos). */
        n->sUserName = sspi_strdup(ci.client);
        return n->sUserName ? SEC_E_OK : SEC_E_INSUFFICIENT_MEMORY;
    }
    case SECPKG_ATTR_NATIVE_NAMES: {
        PSecPkgContext_NativeNamesA n = buf;

        n->sClientName = sspi_strdup(ci.client);
        n->sServerName = sspi_strdup(ci.server);
        if (n->sClientName == NULL || n->sServerName == NULL) {
            free(n->sClientName);
            free(n->sServerName);
            n->sClientName = n->sServerName = NULL;
            return SEC_E_INSUFFICIENT_MEMORY;
        }
        return SEC_E_OK;
    }
    case SECPKG_ATTR_AUTHORITY: {
        PSecPkgContext_AuthorityA a = buf;
        const char *at = strrchr(ci.client, '@');

        a->sAuthorityName = sspi_strdup(at ? at + 1 : "");
        return a->sAuthorityName ? SEC_E_OK : SEC_E_INSUFFICIENT_MEMORY;
    }
    case SECPKG_ATTR_LIFESPAN: {
        PSecPkgContext_Lifespan l = buf;

        sspi_timestamp(ci.start, &l->tsStart);
        sspi_timestamp(ci.expiry, &l->tsExpiry);
        return SEC_E_OK;
    }
    case SECPKG_ATTR_FLAGS: {
        PSecPkgContext_Flags f = buf;

        f->Flags = s->ret_flags;
        return SEC_E_OK;
    }
    case SECPKG_ATTR_KEY_INFO: {
        PSecPkgContext_KeyInfoA k = buf;

        /* Algorithm names and numbers; never the key. */
        k->sSignatureAlgorithmName = sspi_strdup(ci.sig_alg_name);
        k->sEncryptAlgorithmName = sspi_strdup(ci.enc_alg_name);
        k->KeySize = ci.key_bits;
        k->SignatureAlgorithm = (ULONG)ci.sig_alg;
        k->EncryptAlgorithm = (ULONG)ci.enc_alg;
        if (k->sSignatureAlgorithmName == NULL ||
            k->sEncryptAlgorithmName == NULL) {
            free(k->sSignatureAlgorithmName);
            free(k->sEncryptAlgorithmName);
            k->sSignatureAlgorithmName = k->sEncryptAlgorithmName = NULL;
            return SEC_E_INSUFFICIENT_MEMORY;
        }
        return SEC_E_OK;
    }
    case SECPKG_ATTR_HSMSSP_AUTHZ: {
        PSecPkgContext_HsmsspAuthzA a = buf;

        a->pInfo = NULL;
        if (s->pkg->authz == NULL)
            return sspi_status(BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                                        "%s has no authorization data",
                                        s->pkg->name));
        ret = s->pkg->authz(s->obj, &z);
        if (ret == HSMSSP_OK)
            ret = pack_authz(&z, &a->pInfo);
        return ret == HSMSSP_OK ? SEC_E_OK : sspi_status(ret);
    }
    default:
        (void)BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                       "context attribute %u is not available",
                       (unsigned)attr);
        return SEC_E_UNSUPPORTED_FUNCTION;
    }
}
