/*
 * provider/kerberos/kerb_gss.c - RFC 2743 framing, RFC 4121 token
 * identifiers, the 0x8003 authenticator checksum and the channel-bindings
 * hash (contract in kerb_gss.h).
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/hsm.h"
#include "provider/kerberos/kerb_gss.h"

const uint8_t kerb_oid_krb5[9] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                  0x12, 0x01, 0x02, 0x02};
/* Windows 2000 sent the Kerberos OID with a mistyped arc (48018 instead
 * of 113554); SPNEGO peers still offer it, so both name the mechanism. */
const uint8_t kerb_oid_krb5_ms[9] = {0x2a, 0x86, 0x48, 0x82, 0xf7,
                                     0x12, 0x01, 0x02, 0x02};

hsmssp_err
kerb_gss_unframe(base_der token, base_der *oid_out, base_der *inner_out)
{
    base_der body;
    hsmssp_err ret;

    memset(oid_out, 0, sizeof(*oid_out));
    memset(inner_out, 0, sizeof(*inner_out));
    /* [APPLICATION 0] IMPLICIT SEQUENCE { thisMech OID, innerToken ANY }:
     * the inner token is raw bytes after the OID, not a DER element. */
    if (base_der_peek(&token) != (int)BASE_DER_APP(0))
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "not a GSS-API initial context token");
    ret = base_der_get(&token, BASE_DER_APP(0), &body, NULL);
    if (ret == HSMSSP_OK)
        ret = base_der_end(&token);
    if (ret == HSMSSP_OK)
        ret = base_der_get(&body, BASE_DER_OID, oid_out, NULL);
    if (ret != HSMSSP_OK)
        return ret;
    *inner_out = body;
    return HSMSSP_OK;
}

bool
kerb_gss_is_krb5_oid(base_der oid)
{
    return base_der_eq(oid, base_der_view(kerb_oid_krb5, 9)) ||
           base_der_eq(oid, base_der_view(kerb_oid_krb5_ms, 9));
}

hsmssp_err
kerb_gss_tok_id(base_der inner, unsigned *tok_id_out, base_der *msg_out)
{
    *tok_id_out = 0;
    memset(msg_out, 0, sizeof(*msg_out));
    if (inner.len < 2)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "Kerberos token shorter than its identifier");
    *tok_id_out = ((unsigned)inner.p[0] << 8) | inner.p[1];
    *msg_out = base_der_view(inner.p + 2, inner.len - 2);
    return HSMSSP_OK;
}

void
kerb_gss_frame(base_der_w *w, unsigned tok_id)
{
    uint8_t id[2] = {(uint8_t)(tok_id >> 8), (uint8_t)tok_id};

    /* The framing covers everything in the writer: the message, its
     * identifier and the OID. */
    base_der_w_raw(w, id, 2);
    base_der_w_prim(w, BASE_DER_OID, kerb_oid_krb5, sizeof(kerb_oid_krb5));
    base_der_w_wrap(w, BASE_DER_APP(0), base_der_w_len(w));
}

static void
put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

hsmssp_err
kerb_gss_cb_hash(const kerb_cb *cb, uint8_t out[16])
{
    /* The bindings are hashed as a flat little-endian serialization:
     * addrtype, length, bytes for each address, then length, bytes of the
     * application data.  Build it in one buffer: none of it is secret. */
    size_t n = 5 * 4 + cb->initiator_address.len +
               cb->acceptor_address.len + cb->application_data.len;
    uint8_t *buf, *p;
    size_t out_len;
    hsmssp_err ret;

    if (n > BASE_DER_MAX_LEN)
        return BASE_ERR(HSMSSP_ERR_LIMIT, "channel bindings too large");
    buf = malloc(n);
    if (buf == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    p = buf;
    put_le32(p, cb->initiator_addrtype);
    put_le32(p + 4, (uint32_t)cb->initiator_address.len);
    p += 8;
    if (cb->initiator_address.len > 0)
        memcpy(p, cb->initiator_address.p, cb->initiator_address.len);
    p += cb->initiator_address.len;
    put_le32(p, cb->acceptor_addrtype);
    put_le32(p + 4, (uint32_t)cb->acceptor_address.len);
    p += 8;
    if (cb->acceptor_address.len > 0)
        memcpy(p, cb->acceptor_address.p, cb->acceptor_address.len);
    p += cb->acceptor_address.len;
    put_le32(p, (uint32_t)cb->application_data.len);
    p += 4;
    if (cb->application_data.len > 0)
        memcpy(p, cb->application_data.p, cb->application_data.len);
    ret = hsm_digest("MD5", buf, n, out, &out_len);
    free(buf);
    return ret;
}

hsmssp_err
kerb_gss_cksum_parse(base_der v, kerb_gss_cksum *c)
{
    size_t off;
    uint32_t dlgth;

    memset(c, 0, sizeof(*c));
    /* Lgth (4, LE, always 16) || Bnd (16) || Flags (4, LE)
     *   [ || DlgOpt (2, LE, 1) || Dlgth (2, LE) || Deleg ] [ || Exts ] */
    if (v.len < 24)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "GSS checksum shorter than 24 bytes");
    if (get_le32(v.p) != 16)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "GSS checksum binding length is not 16");
    memcpy(c->bnd, v.p + 4, 16);
    c->flags = get_le32(v.p + 20);
    off = 24;
    /* Delegation is present only with the DELEG flag; MIT sends the flag
     * without the fields when it could not forward, so absence is fine. */
    if ((c->flags & KERB_GSS_DELEG) && v.len >= off + 4) {
        if (v.p[off] != 1 || v.p[off + 1] != 0)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "GSS checksum delegation option is not 1");
        dlgth = (uint32_t)v.p[off + 2] | ((uint32_t)v.p[off + 3] << 8);
        off += 4;
        if (dlgth > v.len - off)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "GSS checksum delegation truncated");
        c->has_deleg = true;
        c->deleg = base_der_view(v.p + off, dlgth);
        off += dlgth;
    }
    c->exts = base_der_view(v.p + off, v.len - off);
    return HSMSSP_OK;
}

hsmssp_err
kerb_gss_cksum_build(const uint8_t bnd[16], uint32_t flags,
                     const uint8_t *deleg, size_t deleg_len, uint8_t *out,
                     size_t cap, size_t *len_out)
{
    size_t n = 24 + (deleg != NULL ? 4 + deleg_len : 0);

    *len_out = 0;
    if (deleg_len > 0xffff)
        return BASE_ERR(HSMSSP_ERR_LIMIT,
                        "delegated credential over 65535 bytes");
    if (cap < n)
        return BASE_ERR0(HSMSSP_ERR_BUFFER_TOO_SMALL);
    put_le32(out, 16);
    memcpy(out + 4, bnd, 16);
    put_le32(out + 20, flags | (deleg != NULL ? KERB_GSS_DELEG : 0));
    if (deleg != NULL) {
        out[24] = 1;
        out[25] = 0;
        out[26] = (uint8_t)deleg_len;
        out[27] = (uint8_t)(deleg_len >> 8);
        memcpy(out + 28, deleg, deleg_len);
    }
    *len_out = n;
    return HSMSSP_OK;
}
