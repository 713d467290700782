/*
 * provider/kerberos/kerb_rc4.c - RFC 4757 sec. 7 per-message tokens, for
 * contexts whose key is arcfour-hmac (etype 23).  Deprecated (RFC 8429)
 * and refused unless permitted_enctypes lists it; on tokens without RC4
 * (SoftHSM2) the engine needs H(op), which policy must also allow.
 *
 * Token formats (each framed as an RFC 2743 InitialContextToken with the
 * Kerberos OID, as RFC 1964 frames per-message tokens):
 *   MIC  (24 bytes): 01 01 | SGN_ALG 11 00 | ff ff ff ff | SND_SEQ (8) |
 *                    SGN_CKSUM (8)
 *   Wrap (32 bytes): 02 01 | SGN_ALG 11 00 | SEAL_ALG 10 00 or ff ff |
 *                    ff ff | SND_SEQ (8) | SGN_CKSUM (8) | Confounder (8),
 *                    followed by the data and one byte of padding (01).
 * SGN_CKSUM = first 8 bytes of the -138 checksum (key usage 15 for MIC, 13
 * for Wrap) over the first 8 header bytes, the confounder (Wrap) and the
 * data; SND_SEQ = RC4 under a key derived from the checksum of the
 * sequence number (big-endian, 32 bits) and the direction (00000000 from
 * the initiator, ffffffff from the acceptor); the confounder, data and
 * padding of a sealed Wrap are RC4 under a key derived from the sequence
 * number.  The engine performs both RC4 steps with the key on the token
 * (hsm_rc4_gss_seq, hsm_rc4_gss_crypt).
 *
 * SSPI layouts as Windows: EncryptMessage TOKEN (framing + 32-byte
 * header) + DATA (in place) + PADDING (1 byte); DecryptMessage TOKEN +
 * DATA [+ PADDING] or STREAM + DATA; MakeSignature TOKEN (the framed MIC
 * token) + DATA.
 */
#include <stdlib.h>
#include <string.h>

#include "provider/kerberos/kerb-int.h"

#define RC4_MIC_LEN 24
#define RC4_WRAP_LEN 32
#define USAGE_MIC 15
#define USAGE_WRAP 13
/* Framing around a body: 0x60, up to 4 length octets, the OID element. */
#define FRAME_MAX (1 + 5 + 2 + 9)

static const uint8_t sgn_alg_id[2] = {0x11, 0x00};

/* Length of the framing for a body of n bytes (the OID element counts in
 * the framed length). */
static size_t
frame_len(size_t n)
{
    size_t inner = 11 + n;

    return 1 + (inner < 0x80 ? 1 : inner <= 0xff ? 2 : inner <= 0xffff ? 3
                                                                         : 4) +
           11;
}

/* Writes the framing for a body of n bytes at out; returns its length. */
static size_t
put_frame(uint8_t *out, size_t n)
{
    size_t inner = 11 + n, o = 0;

    out[o++] = 0x60;
    if (inner < 0x80) {
        out[o++] = (uint8_t)inner;
    } else if (inner <= 0xff) {
        out[o++] = 0x81;
        out[o++] = (uint8_t)inner;
    } else if (inner <= 0xffff) {
        out[o++] = 0x82;
        out[o++] = (uint8_t)(inner >> 8);
        out[o++] = (uint8_t)inner;
    } else {
        out[o++] = 0x83;
        out[o++] = (uint8_t)(inner >> 16);
        out[o++] = (uint8_t)(inner >> 8);
        out[o++] = (uint8_t)inner;
    }
    out[o++] = 0x06;
    out[o++] = 9;
    memcpy(out + o, kerb_oid_krb5, 9);
    return o + 9;
}

/* Splits a framed token: *body_out its bytes after the framing, which
 * declares n_total bytes (body + OID) in all; the token may be followed
 * by nothing else. */
static hsmssp_err
get_frame(const uint8_t *tok, size_t len, size_t *hdr_len_out,
          size_t *declared_out)
{
    base_der in = base_der_view(tok, len), oid;
    size_t dl = 0, i;

    if (len < 2 || tok[0] != 0x60)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "RC4 token lacks its GSS framing");
    /* The framing length covers data that may sit in other buffers, so
     * read it by hand rather than as a complete DER element. */
    if (tok[1] < 0x80) {
        dl = tok[1];
        i = 2;
    } else {
        size_t nl = tok[1] & 0x7f;

        if (nl == 0 || nl > 4 || len < 2 + nl)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "bad RC4 token framing");
        for (i = 0; i < nl; i++)
            dl = (dl << 8) | tok[2 + i];
        i = 2 + nl;
    }
    in = base_der_view(tok + i, len - i);
    if (base_der_get(&in, BASE_DER_OID, &oid, NULL) != HSMSSP_OK ||
        !kerb_gss_is_krb5_oid(oid))
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "RC4 token is not for Kerberos");
    *hdr_len_out = i + 11;
    *declared_out = dl;
    return HSMSSP_OK;
}

static void
seq_plain(const kerb_ctx *c, uint64_t seq, uint8_t out[8])
{
    base_store_be32(out, (uint32_t)seq);
    memset(out + 4, c->initiator ? 0x00 : 0xff, 4);
}

/* The checksum of header8 || [conf] || data: the -138 checksum with the
 * RFC 4757 usage, cut to 8 bytes. */
static hsmssp_err
rc4_cksum(kerb_ctx *c, int32_t usage, const uint8_t *buf, size_t len,
          uint8_t out[8])
{
    uint8_t full[64];
    size_t n = 0;
    hsmssp_err ret;

    ret = hsm_krb_checksum(c->key, usage, buf, len, full, sizeof(full), &n);
    if (ret == HSMSSP_OK)
        memcpy(out, full, 8);
    return ret;
}

/* Decrypts SND_SEQ, checks the direction, returns the number. */
static hsmssp_err
open_seq(kerb_ctx *c, const uint8_t cks[8], const uint8_t snd[8],
         uint64_t *seq_out)
{
    uint8_t plain[8];
    uint8_t want = c->initiator ? 0xff : 0x00;
    hsmssp_err ret;

    ret = hsm_rc4_gss_seq(c->key, cks, snd, plain);
    if (ret != HSMSSP_OK)
        return ret;
    for (int i = 4; i < 8; i++)
        if (plain[i] != want)
            return BASE_ERR(HSMSSP_ERR_INTEGRITY,
                            "RC4 token's direction or sequence is wrong");
    *seq_out = base_load_be32(plain);
    return HSMSSP_OK;
}

/* Gathers the selected buffers after prefix bytes into a new buffer with
 * extra room at the end; *len_out = prefix + data. */
static hsmssp_err
gather_new(const prov_buf *bufs, size_t n, bool (*pick)(const prov_buf *),
           size_t prefix, size_t extra, uint8_t **out, size_t *len_out)
{
    size_t t = 0, o;
    uint8_t *b;

    for (size_t i = 0; i < n; i++)
        if (pick(&bufs[i])) {
            if (bufs[i].len > 64u * 1024 * 1024 - t)
                return BASE_ERR(HSMSSP_ERR_INPUT_TOO_LARGE,
                                "message too long");
            t += bufs[i].len;
        }
    b = malloc(prefix + t + extra + 1);
    if (b == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    o = prefix;
    for (size_t i = 0; i < n; i++)
        if (pick(&bufs[i]) && bufs[i].len > 0) {
            memcpy(b + o, bufs[i].p, bufs[i].len);
            o += bufs[i].len;
        }
    *out = b;
    *len_out = o;
    return HSMSSP_OK;
}

static void
scatter_from(const uint8_t *src, prov_buf *bufs, size_t n,
             bool (*pick)(const prov_buf *))
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++)
        if (pick(&bufs[i]) && bufs[i].len > 0) {
            memcpy(bufs[i].p, src + o, bufs[i].len);
            o += bufs[i].len;
        }
}

/* ---- MIC ------------------------------------------------------------ */

hsmssp_err
kerb_rc4_get_mic(kerb_ctx *c, prov_buf *bufs, size_t n, prov_buf *tok)
{
    uint8_t *buf = NULL, body[RC4_MIC_LEN], sp[8];
    size_t len = 0, fl = frame_len(RC4_MIC_LEN);
    hsmssp_err ret;

    if (tok->len < fl + RC4_MIC_LEN)
        return BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL,
                        "TOKEN buffer holds %zu bytes, the signature %zu",
                        tok->len, fl + RC4_MIC_LEN);
    memcpy(body, (const uint8_t[]){0x01, 0x01}, 2);
    memcpy(body + 2, sgn_alg_id, 2);
    memset(body + 4, 0xff, 4);
    ret = gather_new(bufs, n, kerb_msg_is_data, 8, 0, &buf, &len);
    if (ret != HSMSSP_OK)
        return ret;
    memcpy(buf, body, 8);
    ret = rc4_cksum(c, USAGE_MIC, buf, len, body + 16);
    seq_plain(c, kerb_msg_next_send_seq(c), sp);
    if (ret == HSMSSP_OK)
        ret = hsm_rc4_gss_seq(c->key, body + 16, sp, body + 8);
    if (ret == HSMSSP_OK) {
        size_t o = put_frame(tok->p, RC4_MIC_LEN);

        memcpy(tok->p + o, body, RC4_MIC_LEN);
        tok->len = o + RC4_MIC_LEN;
    }
    kerb_msg_free_wiped(buf, len);
    return ret;
}

hsmssp_err
kerb_rc4_verify_mic(kerb_ctx *c, prov_buf *bufs, size_t n, prov_buf *tok)
{
    uint8_t *buf = NULL, mine[8];
    const uint8_t *body;
    size_t hl = 0, declared = 0, len = 0;
    uint64_t seq = 0;
    hsmssp_err ret;

    ret = get_frame(tok->p, tok->len, &hl, &declared);
    if (ret != HSMSSP_OK)
        return ret;
    if (tok->len != hl + RC4_MIC_LEN || declared != 11 + RC4_MIC_LEN)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "RC4 MIC token of %zu bytes",
                        tok->len);
    body = tok->p + hl;
    if (body[0] != 0x01 || body[1] != 0x01 ||
        memcmp(body + 2, sgn_alg_id, 2) != 0 || body[4] != 0xff ||
        body[5] != 0xff || body[6] != 0xff || body[7] != 0xff)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "not an RC4 MIC token");
    ret = gather_new(bufs, n, kerb_msg_is_data, 8, 0, &buf, &len);
    if (ret != HSMSSP_OK)
        return ret;
    memcpy(buf, body, 8);
    ret = rc4_cksum(c, USAGE_MIC, buf, len, mine);
    if (ret == HSMSSP_OK && !base_ct_equal(mine, body + 16, 8))
        ret = BASE_ERR(HSMSSP_ERR_INTEGRITY, "RC4 MIC does not verify");
    if (ret == HSMSSP_OK)
        ret = open_seq(c, body + 16, body + 8, &seq);
    kerb_msg_free_wiped(buf, len);
    if (ret == HSMSSP_OK)
        ret = kerb_msg_check_seq(c, seq);
    return ret;
}

/* ---- Wrap ----------------------------------------------------------- */

hsmssp_err
kerb_rc4_wrap(kerb_ctx *c, bool conf, prov_buf *bufs, size_t n,
              prov_buf *tok, prov_buf *pad)
{
    uint8_t *buf = NULL, sp[8], hdr[RC4_WRAP_LEN];
    size_t len = 0, dlen, fl, o;
    uint64_t seq;
    hsmssp_err ret;

    if (conf && (c->flags & PROV_F_CONF) == 0)
        return BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                        "confidentiality was not negotiated");
    if (pad == NULL || pad->len < 1)
        return BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL,
                        "arcfour-hmac needs a PADDING buffer of 1 byte "
                        "(cbBlockSize)");
    /* buf = header8 || confounder || data || pad. */
    ret = gather_new(bufs, n, kerb_msg_is_encrypted, 16, 1, &buf, &len);
    if (ret != HSMSSP_OK)
        return ret;
    dlen = len - 16;
    fl = frame_len(RC4_WRAP_LEN + dlen + 1);
    if (tok->len < fl + RC4_WRAP_LEN) {
        ret = BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL,
                       "TOKEN buffer holds %zu bytes, the header %zu",
                       tok->len, fl + RC4_WRAP_LEN);
        goto cleanup;
    }
    if (n > 0) {
        for (size_t i = 0; i < n; i++)
            if (kerb_msg_is_data(&bufs[i]) && !kerb_msg_is_encrypted(&bufs[i])) {
                ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                               "arcfour-hmac tokens have no signed-only "
                               "data");
                goto cleanup;
            }
    }
    buf[len++] = 0x01; /* RFC 1964 padding to the 1-byte block */
    memcpy(hdr, (const uint8_t[]){0x02, 0x01}, 2);
    memcpy(hdr + 2, sgn_alg_id, 2);
    if (conf) {
        hdr[4] = 0x10;
        hdr[5] = 0x00;
    } else {
        hdr[4] = hdr[5] = 0xff;
    }
    hdr[6] = hdr[7] = 0xff;
    memcpy(buf, hdr, 8);
    ret = hsm_random(buf + 8, 8);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = rc4_cksum(c, USAGE_WRAP, buf, len, hdr + 16);
    if (ret != HSMSSP_OK)
        goto cleanup;
    seq = kerb_msg_next_send_seq(c);
    seq_plain(c, seq, sp);
    if (conf)
        ret = hsm_rc4_gss_crypt(c->key, sp, buf + 8, len - 8);
    if (ret == HSMSSP_OK)
        ret = hsm_rc4_gss_seq(c->key, hdr + 16, sp, hdr + 8);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(hdr + 24, buf + 8, 8);
    o = put_frame(tok->p, RC4_WRAP_LEN + dlen + 1);
    memcpy(tok->p + o, hdr, RC4_WRAP_LEN);
    tok->len = o + RC4_WRAP_LEN;
    scatter_from(buf + 16, bufs, n, kerb_msg_is_encrypted);
    pad->p[0] = buf[len - 1];
    pad->len = 1;
cleanup:
    kerb_msg_free_wiped(buf, len + 1);
    return ret;
}

/* Opens a whole Wrap token held in t[0..tlen) (framing included) in
 * place: *plain and *plen give the message inside t. */
static hsmssp_err
open_wrap(kerb_ctx *c, uint8_t *t, size_t tlen, uint8_t **plain,
          size_t *plen, bool *conf_out)
{
    size_t hl = 0, declared = 0, blen;
    uint8_t *body, cks[8], mine[8], sp[8], padv;
    uint64_t seq = 0;
    bool conf;
    hsmssp_err ret;

    ret = get_frame(t, tlen, &hl, &declared);
    if (ret != HSMSSP_OK)
        return ret;
    if (declared != tlen - hl + 11 || tlen < hl + RC4_WRAP_LEN + 1)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "RC4 Wrap token length does not match its framing");
    body = t + hl;
    blen = tlen - hl;
    if (body[0] != 0x02 || body[1] != 0x01 ||
        memcmp(body + 2, sgn_alg_id, 2) != 0 || body[6] != 0xff ||
        body[7] != 0xff)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "not an RC4 Wrap token");
    if (body[4] == 0x10 && body[5] == 0x00)
        conf = true;
    else if (body[4] == 0xff && body[5] == 0xff)
        conf = false;
    else
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "RC4 Wrap SEAL_ALG unknown");
    *conf_out = conf;
    memcpy(cks, body + 16, 8);
    ret = open_seq(c, cks, body + 8, &seq);
    if (ret != HSMSSP_OK)
        return ret;
    /* The sealing key depends on the sequence number's 4 bytes. */
    base_store_be32(sp, (uint32_t)seq);
    memset(sp + 4, c->initiator ? 0xff : 0x00, 4);
    /* Make the checksum input contiguous: header8 || conf || data. */
    memmove(body + 8, body + 24, blen - 24);
    /* Now body = header8 || confounder || data || padding, blen - 16
     * bytes: the sealed part is the last blen - 24. */
    if (conf) {
        ret = hsm_rc4_gss_crypt(c->key, sp, body + 8, blen - 24);
        if (ret != HSMSSP_OK)
            return ret;
    }
    ret = rc4_cksum(c, USAGE_WRAP, body, blen - 16, mine);
    if (ret != HSMSSP_OK)
        return ret;
    if (!base_ct_equal(mine, cks, 8))
        return BASE_ERR(HSMSSP_ERR_INTEGRITY,
                        "RC4 Wrap token does not verify");
    padv = body[blen - 16 - 1];
    if (padv < 1 || padv > 8 || padv > blen - 32)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "bad RC4 Wrap padding");
    for (size_t i = 0; i < padv; i++)
        if (body[blen - 16 - 1 - i] != padv)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "bad RC4 Wrap padding");
    *plain = body + 16;
    *plen = blen - 32 - padv;
    return kerb_msg_check_seq(c, seq);
}

hsmssp_err
kerb_rc4_unwrap(kerb_ctx *c, prov_buf *bufs, size_t n, prov_buf *tok,
                prov_buf *stream, bool *conf_out)
{
    uint8_t *t = NULL, *plain = NULL;
    size_t tlen = 0, plen = 0, dlen = 0, padlen = 0;
    prov_buf *data = NULL, *pad = NULL;
    hsmssp_err ret;

    for (size_t i = 0; i < n; i++) {
        if (bufs[i].type == PROV_BUF_DATA && data == NULL)
            data = &bufs[i];
        if (bufs[i].type == PROV_BUF_PADDING)
            pad = &bufs[i];
    }
    if ((tok == NULL) == (stream == NULL))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "DecryptMessage needs a TOKEN or a STREAM buffer");
    if (stream != NULL) {
        /* RC4 tokens are decrypted before their checksum can be checked:
         * open a copy, so that a refused token leaves no unauthenticated
         * plaintext in the caller's buffer. */
        t = malloc(stream->len > 0 ? stream->len : 1);
        if (t == NULL)
            return BASE_ERR0(HSMSSP_ERR_NOMEM);
        memcpy(t, stream->p, stream->len);
        ret = open_wrap(c, t, stream->len, &plain, &plen, conf_out);
        if (ret == HSMSSP_OK) {
            size_t off = (size_t)(plain - t);

            memcpy(stream->p + off, plain, plen);
            if (data != NULL) {
                data->p = stream->p + off;
                data->len = plen;
            }
        }
        kerb_msg_free_wiped(t, stream->len > 0 ? stream->len : 1);
        return ret;
    }
    /* TOKEN + DATA [+ PADDING]: reassemble, open, write back. */
    for (size_t i = 0; i < n; i++)
        if (kerb_msg_is_encrypted(&bufs[i]))
            dlen += bufs[i].len;
    padlen = pad != NULL ? pad->len : 0;
    tlen = tok->len + dlen + padlen;
    t = malloc(tlen > 0 ? tlen : 1);
    if (t == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    memcpy(t, tok->p, tok->len);
    {
        size_t o = tok->len;

        for (size_t i = 0; i < n; i++)
            if (kerb_msg_is_encrypted(&bufs[i]) && bufs[i].len > 0) {
                memcpy(t + o, bufs[i].p, bufs[i].len);
                o += bufs[i].len;
            }
        if (padlen > 0)
            memcpy(t + o, pad->p, padlen);
    }
    ret = open_wrap(c, t, tlen, &plain, &plen, conf_out);
    if (ret == HSMSSP_OK && plen > dlen)
        ret = BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                       "DATA buffers hold %zu bytes, the message %zu", dlen,
                       plen);
    if (ret == HSMSSP_OK) {
        size_t o = 0;

        for (size_t i = 0; i < n && o < plen; i++)
            if (kerb_msg_is_encrypted(&bufs[i])) {
                size_t k = bufs[i].len < plen - o ? bufs[i].len : plen - o;

                memcpy(bufs[i].p, plain + o, k);
                bufs[i].len = k;
                o += k;
            }
        if (pad != NULL)
            pad->len = 0;
    }
    kerb_msg_free_wiped(t, tlen > 0 ? tlen : 1);
    return ret;
}
