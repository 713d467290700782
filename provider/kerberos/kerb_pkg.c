/*
 * provider/kerberos/kerb_pkg.c - the Kerberos package's entry in the
 * package table and the context facts QueryContextAttributes reports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/kerberos/kerb-int.h"

/* Checksum type names as MIT prints them (RFC 3961 registry names). */
static const char *
cksum_name(int32_t cksumtype)
{
    switch (cksumtype) {
    case 15:
        return "hmac-sha1-96-aes128";
    case 16:
        return "hmac-sha1-96-aes256";
    case 19:
        return "hmac-sha256-128-aes128";
    case 20:
        return "hmac-sha384-192-aes256";
    case -138:
        return "hmac-md5-arcfour";
    default:
        return "unknown";
    }
}

static hsmssp_err
kerb_info(void *p, prov_ctx_info *out)
{
    kerb_ctx *c = p;

    memset(out, 0, sizeof(*out));
    if (!c->established)
        return BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                        "security context is not established");
    out->max_token = kerb_package.max_token;
    kerb_msg_sizes(c, &out->max_signature, &out->security_trailer,
                   &out->block_size);
    /* Stream mode: the whole Wrap token precedes the data's end; the
     * header is the trailer Windows-style layouts put in TOKEN. */
    out->stream_header = out->security_trailer;
    out->stream_trailer = 0;
    out->stream_max_message = 64u * 1024u * 1024u;
    memcpy(out->client, c->client, sizeof(out->client));
    memcpy(out->server, c->server, sizeof(out->server));
    out->start = c->starttime;
    out->expiry = c->endtime;
    out->flags = c->flags;
    out->initiator = c->initiator;
    out->enc_alg = c->etype;
    out->sig_alg = hsm_krb_cksumtype(c->etype);
    (void)snprintf(out->enc_alg_name, sizeof(out->enc_alg_name), "%s",
                   hsm_etype_name(c->etype) ? hsm_etype_name(c->etype)
                                            : "unknown");
    (void)snprintf(out->sig_alg_name, sizeof(out->sig_alg_name), "%s",
                   cksum_name(out->sig_alg));
    out->key_bits = (uint32_t)(hsm_etype_keylen(c->etype) * 8);
    return HSMSSP_OK;
}

static hsmssp_err
kerb_authz(void *p, prov_authz *out)
{
    kerb_ctx *c = p;
    const kerb_pac_info *pi = c->pac;

    memset(out, 0, sizeof(*out));
    if (!c->established)
        return BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                        "security context is not established");
    if (pi == NULL)
        return HSMSSP_OK;
    /* Views into the context's PAC; kerb_pac_sid is prov_sid. */
    out->has_pac = true;
    out->client_name = pi->client_name;
    out->has_upn_dns_info = pi->has_upn_dns_info;
    out->upn = pi->upn;
    out->dns_domain = pi->dns_domain;
    out->has_logon_info = pi->has_logon_info;
    out->effective_name = pi->effective_name;
    out->full_name = pi->full_name;
    out->logon_server = pi->logon_server;
    out->logon_domain_name = pi->logon_domain_name;
    out->logon_domain_sid = pi->logon_domain_sid;
    out->user_sid = pi->user_sid;
    out->primary_group_sid = pi->primary_group_sid;
    out->user_flags = pi->user_flags;
    out->groups = pi->groups;
    out->n_groups = pi->n_groups;
    out->extra_sids = pi->extra_sids;
    out->n_extra_sids = pi->n_extra_sids;
    out->resource_domain_sid = pi->resource_domain_sid;
    out->resource_groups = pi->resource_groups;
    out->n_resource_groups = pi->n_resource_groups;
    return HSMSSP_OK;
}

static void
kerb_ctx_free_v(void *ctx)
{
    kerb_ctx_free(ctx);
}

/* HsmsspPurgeTicketCacheA: the principal as acquisitions name it
 * ("svcacct" is svcacct@DEFAULT.REALM). */
static hsmssp_err
kerb_purge_tickets(prov_env *env, const char *principal)
{
    char *client = NULL;
    hsmssp_err ret;

    if (principal == NULL) {
        kerb_shared_tgt_purge(env, NULL);
        return HSMSSP_OK;
    }
    ret = kerb_name_canon_env(env, principal, &client);
    if (ret != HSMSSP_OK)
        return ret;
    kerb_shared_tgt_purge(env, client);
    free(client);
    return HSMSSP_OK;
}

const prov_package kerb_package = {
    .name = "Kerberos",
    .comment = "Kerberos 5 (RFC 4120/4121) with keys on a PKCS#11 token",
    .caps = PROV_CAP_INTEGRITY | PROV_CAP_PRIVACY | PROV_CAP_TOKEN_ONLY |
            PROV_CAP_CONNECTION | PROV_CAP_EXTENDED_ERROR |
            PROV_CAP_IMPERSONATION | PROV_CAP_MUTUAL_AUTH |
            PROV_CAP_DELEGATION | PROV_CAP_GSS_COMPATIBLE |
            PROV_CAP_NEGOTIABLE | PROV_CAP_READONLY_WITH_CHECKSUM |
            PROV_CAP_LOGON,
    .version = 1,
    .rpcid = 16, /* RPC_C_AUTHN_GSS_KERBEROS */
    .max_token = 48000,
    .acquire = kerb_acquire,
    .cred_free = kerb_cred_free,
    .cred_name = kerb_cred_name,
    .accept = kerb_accept,
    .init = kerb_init,
    .ctx_free = kerb_ctx_free_v,
    .acquire_delegated = kerb_acquire_delegated,
    .purge_tickets = kerb_purge_tickets,
    .info = kerb_info,
    .authz = kerb_authz,
    .local_name = kerb_local_name,
    .wrap = kerb_msg_wrap,
    .unwrap = kerb_msg_unwrap,
    .get_mic = kerb_msg_get_mic,
    .verify_mic = kerb_msg_verify_mic,
};
