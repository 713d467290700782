/*
 * provider/kerberos/kerb_gss.h - the GSS-API framing of the Kerberos
 * mechanism: RFC 2743 sec. 3.1 initial-context-token framing, the RFC 4121
 * sec. 4.1 token identifiers, the authenticator checksum of type 0x8003
 * and the channel-bindings hash that goes into it.
 *
 * Everything here is public data; no key is handled.  Parsers return
 * views into their input (base/der.h).
 */
#ifndef HSMSSP_KERB_GSS_H
#define HSMSSP_KERB_GSS_H

#include "base/der.h"

/* DER contents (no tag/length) of the mechanism OIDs. */
extern const uint8_t kerb_oid_krb5[9];    /* 1.2.840.113554.1.2.2 */
extern const uint8_t kerb_oid_krb5_ms[9]; /* 1.2.840.48018.1.2.2 */

/* Two-byte token identifiers that follow the OID (RFC 4121 sec. 4.1). */
#define KERB_TOK_AP_REQ 0x0100u
#define KERB_TOK_AP_REP 0x0200u
#define KERB_TOK_ERROR 0x0300u

/* GSS context flags carried in the 0x8003 checksum (RFC 2744, RFC 4121
 * sec. 4.1.1.1). */
#define KERB_GSS_DELEG 0x0001u
#define KERB_GSS_MUTUAL 0x0002u
#define KERB_GSS_REPLAY 0x0004u
#define KERB_GSS_SEQUENCE 0x0008u
#define KERB_GSS_CONF 0x0010u
#define KERB_GSS_INTEG 0x0020u
#define KERB_GSS_ANON 0x0040u
#define KERB_GSS_PROT_READY 0x0080u
#define KERB_GSS_TRANS 0x0100u
#define KERB_GSS_DCE_STYLE 0x1000u
#define KERB_GSS_IDENTIFY 0x2000u
#define KERB_GSS_EXTENDED_ERROR 0x4000u

#define KERB_CKSUM_GSSAPI 0x8003

/* Splits an RFC 2743 InitialContextToken 0x60 len { OID, inner } into
 * the OID contents and the inner bytes; the token must be exactly one
 * such element.  HSMSSP_ERR_BAD_TOKEN otherwise. */
hsmssp_err kerb_gss_unframe(base_der token, base_der *oid_out,
                            base_der *inner_out) BASE_WUR;

/* True for the Kerberos OID or Microsoft's legacy spelling of it. */
bool kerb_gss_is_krb5_oid(base_der oid);

/* Reads the 2-byte identifier at the front of inner into *tok_id_out and
 * returns the message after it in *msg_out. */
hsmssp_err kerb_gss_tok_id(base_der inner, unsigned *tok_id_out,
                           base_der *msg_out) BASE_WUR;

/* Prepends the framing to the message already in *w: the token
 * identifier, then 0x60 len { krb5 OID, ... }. */
void kerb_gss_frame(base_der_w *w, unsigned tok_id);

/* Channel bindings (RFC 2744 gss_channel_bindings_struct, which SSPI's
 * SEC_CHANNEL_BINDINGS carries too). */
typedef struct kerb_cb {
    uint32_t initiator_addrtype;
    base_der initiator_address;
    uint32_t acceptor_addrtype;
    base_der acceptor_address;
    base_der application_data;
} kerb_cb;

/* RFC 4121 sec. 4.1.1.2: MD5 over the little-endian length-prefixed
 * fields.  out gets 16 bytes. */
hsmssp_err kerb_gss_cb_hash(const kerb_cb *cb, uint8_t out[16]) BASE_WUR;

/* The 0x8003 checksum value (RFC 4121 sec. 4.1.1). */
typedef struct kerb_gss_cksum {
    uint8_t bnd[16];
    uint32_t flags;
    bool has_deleg;
    base_der deleg; /* KRB-CRED, when KERB_GSS_DELEG and present */
    base_der exts;  /* any bytes after the known fields */
} kerb_gss_cksum;

hsmssp_err kerb_gss_cksum_parse(base_der value, kerb_gss_cksum *out)
    BASE_WUR;

/* Writes the checksum value into out (cap >= 24 + 4 + deleg_len);
 * deleg may be NULL.  *len_out gets its length. */
hsmssp_err kerb_gss_cksum_build(const uint8_t bnd[16], uint32_t flags,
                                const uint8_t *deleg, size_t deleg_len,
                                uint8_t *out, size_t cap, size_t *len_out)
    BASE_WUR;

#endif
