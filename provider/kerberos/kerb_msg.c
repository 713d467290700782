/*
 * provider/kerberos/kerb_msg.c - per-message protection with RFC 4121
 * tokens: MIC (TOK_ID 04 04) and Wrap (05 04) with and without
 * confidentiality, in the Windows buffer layouts; the receive window for
 * replay and sequence detection; context lifetime.
 *
 * Every cryptographic step is one engine call on the context's key,
 * which lives on the token (hsm_krb_encrypt / decrypt / checksum /
 * checksum_verify): this file only lays bytes out.
 *
 * Layouts (what Windows Kerberos produces, so Windows-style callers and
 * GSS peers interoperate):
 *   EncryptMessage, conf:  TOKEN = header || last (16 + mac) bytes of the
 *     ciphertext || first 16 bytes (the encrypted confounder); DATA = the
 *     rest of the ciphertext, in place; PADDING = 0 bytes.  TOKEN || DATA
 *     is exactly the RFC 4121 Wrap token with RRC = 16 + mac (28 for the
 *     aes-sha1 enctypes, as Windows sends).
 *   EncryptMessage, no conf: TOKEN = header || checksum (RRC = EC =
 *     checksum length), DATA unchanged.
 *   DecryptMessage: TOKEN + DATA (any split of the token, any RRC: GSS
 *     peers such as MIT send RRC 0), or STREAM (the whole token) + DATA,
 *     where DATA is set to point at the plaintext inside STREAM.
 *   MakeSignature / VerifySignature: TOKEN = MIC token, DATA = message.
 * DATA buffers flagged READONLY are neither protected nor touched;
 * READONLY_WITH_CHECKSUM buffers are signed but not encrypted.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provider/kerberos/kerb-int.h"

#define TOK_MIC 0x0404u
#define TOK_WRAP 0x0504u
#define FLAG_SENT_BY_ACCEPTOR 0x01u
#define FLAG_SEALED 0x02u
#define FLAG_ACCEPTOR_SUBKEY 0x04u
#define HDR 16
/* Bound on the buffers of one call (sspi/ allows as many). */
#define KERB_MSG_MAX_BUFS 32

/* Upper bound on one message (the engine's own limit is larger): keeps
 * the scratch allocations bounded whatever buffer sizes a caller passes. */
#define MAX_MESSAGE (64u * 1024u * 1024u)

/* ---- receive window ------------------------------------------------- */

void
kerb_seq_init(kerb_seqstate *s, uint64_t base, bool do_replay,
              bool do_sequence, bool wide)
{
    memset(s, 0, sizeof(*s));
    s->base = base;
    s->do_replay = do_replay;
    s->do_sequence = do_sequence;
    s->wide = wide;
}

hsmssp_err
kerb_seq_check(kerb_seqstate *s, uint64_t seqnum)
{
    uint64_t mask = s->wide ? UINT64_MAX : 0xffffffffu;
    uint64_t rel, ahead, behind, bit;

    if (!s->do_replay && !s->do_sequence)
        return HSMSSP_OK;
    /* Work relative to the first number, modulo the width, so a peer
     * whose numbers wrap keeps working. */
    rel = (seqnum - s->base) & mask;
    if (rel == s->next) {
        s->map = (s->map << 1) | 1;
        s->next = (s->next + 1) & mask;
        return HSMSSP_OK;
    }
    ahead = (rel - s->next) & mask;
    behind = (s->next - rel) & mask; /* 1: the last number received */
    if (ahead < behind) {
        /* A gap: messages were lost or are late. */
        s->map = ahead + 1 >= 64 ? 1 : (s->map << (ahead + 1)) | 1;
        s->next = (rel + 1) & mask;
        if (s->do_sequence)
            return BASE_ERR(HSMSSP_ERR_OUT_OF_SEQUENCE,
                            "gap of %llu message(s) before sequence number "
                            "%llu",
                            (unsigned long long)ahead,
                            (unsigned long long)seqnum);
        return HSMSSP_OK;
    }
    if (behind > 64) {
        if (s->do_replay)
            return BASE_ERR(HSMSSP_ERR_DUPLICATE,
                            "sequence number %llu is older than the replay "
                            "window",
                            (unsigned long long)seqnum);
        return s->do_sequence
                   ? BASE_ERR(HSMSSP_ERR_OUT_OF_SEQUENCE,
                              "sequence number %llu arrived late",
                              (unsigned long long)seqnum)
                   : HSMSSP_OK;
    }
    bit = 1ull << (behind - 1);
    if (s->map & bit) {
        if (s->do_replay)
            return BASE_ERR(HSMSSP_ERR_DUPLICATE,
                            "sequence number %llu seen before",
                            (unsigned long long)seqnum);
        return s->do_sequence
                   ? BASE_ERR(HSMSSP_ERR_OUT_OF_SEQUENCE,
                              "sequence number %llu repeated",
                              (unsigned long long)seqnum)
                   : HSMSSP_OK;
    }
    s->map |= bit;
    if (s->do_sequence)
        return BASE_ERR(HSMSSP_ERR_OUT_OF_SEQUENCE,
                        "sequence number %llu arrived after a later one",
                        (unsigned long long)seqnum);
    return HSMSSP_OK;
}

/* ---- contexts ------------------------------------------------------- */

hsmssp_err
kerb_ctx_new(prov_env *env, hsm_token *tok, bool initiator,
             kerb_ctx **ctx_out)
{
    kerb_ctx *c = calloc(1, sizeof(*c));

    *ctx_out = NULL;
    if (c == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    prov_env_ref(env);
    c->env = env;
    c->tok = tok;
    c->initiator = initiator;
    c->pid = getpid();
    pthread_mutex_init(&c->send_lock, NULL);
    pthread_mutex_init(&c->recv_lock, NULL);
    *ctx_out = c;
    return HSMSSP_OK;
}

void
kerb_ctx_free(kerb_ctx *c)
{
    if (c == NULL)
        return;
    /* After fork() the session objects belong to the parent's sessions:
     * hsm_key_free() knows and only releases host memory. */
    hsm_key_free(c->key);
    kerb_tkt_unref(c->deleg);
    kerb_tkt_unref(c->tkt);
    kerb_pac_info_free(c->pac);
    pthread_mutex_destroy(&c->send_lock);
    pthread_mutex_destroy(&c->recv_lock);
    prov_env_unref(c->env);
    base_memzero(c, sizeof(*c));
    free(c);
}

hsmssp_err
kerb_ctx_usable(kerb_ctx *c)
{
    if (c->pid != getpid())
        return BASE_ERR(HSMSSP_ERR_FORKED,
                        "security context was made before fork()");
    if (!c->established || c->key == NULL)
        return BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                        "security context is not established");
    if (prov_now_us() / 1000000 > c->endtime)
        return BASE_ERR(HSMSSP_ERR_CONTEXT_EXPIRED,
                        "the ticket of this context expired");
    return HSMSSP_OK;
}

void
kerb_msg_sizes(const kerb_ctx *c, uint32_t *max_signature,
               uint32_t *security_trailer, uint32_t *block_size)
{
    size_t ck = 0;

    if (c->etype == HSM_ETYPE_RC4_HMAC) {
        /* RFC 4757: a framed 24-byte MIC token; a Wrap token's framing
         * (up to 5 length octets) and 32-byte header; 1-byte padding. */
        *max_signature = 2 + 11 + 24;
        *security_trailer = 1 + 5 + 11 + 32;
        *block_size = 1;
        return;
    }
    if (hsm_krb_cksum_len(c->etype, &ck) != HSMSSP_OK)
        ck = 0;
    /* MIC: header + checksum.  Wrap with confidentiality: header +
     * confounder + encrypted header copy + integrity check (the check is
     * the checksum's length for every AES enctype). */
    *max_signature = (uint32_t)(HDR + ck);
    *security_trailer = (uint32_t)(HDR + 16 + HDR + ck);
    *block_size = 1;
}

/* ---- buffers --------------------------------------------------------- */

bool
kerb_msg_is_data(const prov_buf *b)
{
    return b->type == PROV_BUF_DATA && (b->flags & PROV_BUF_READONLY) == 0;
}

bool
kerb_msg_is_encrypted(const prov_buf *b)
{
    return kerb_msg_is_data(b) && (b->flags & PROV_BUF_READONLY_WITH_CHECKSUM) == 0;
}

/* The one buffer of a type; NULL when absent, error when repeated. */
static hsmssp_err
find_one(prov_buf *bufs, size_t n, prov_buf_type type, prov_buf **out)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (bufs[i].type != type)
            continue;
        if (*out != NULL)
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "more than one buffer of the same type");
        *out = &bufs[i];
    }
    return HSMSSP_OK;
}

/* Total length of the buffers selected by pick. */
static hsmssp_err
total_len(const prov_buf *bufs, size_t n, bool (*pick)(const prov_buf *),
          size_t *len_out)
{
    size_t t = 0;

    for (size_t i = 0; i < n; i++) {
        if (!pick(&bufs[i]))
            continue;
        if (bufs[i].len > MAX_MESSAGE - t)
            return BASE_ERR(HSMSSP_ERR_INPUT_TOO_LARGE,
                            "message longer than %u bytes", MAX_MESSAGE);
        t += bufs[i].len;
    }
    *len_out = t;
    return HSMSSP_OK;
}

/* Copies the selected buffers, in order, to dst. */
static size_t
gather(uint8_t *dst, const prov_buf *bufs, size_t n,
       bool (*pick)(const prov_buf *))
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (!pick(&bufs[i]) || bufs[i].len == 0)
            continue;
        memcpy(dst + o, bufs[i].p, bufs[i].len);
        o += bufs[i].len;
    }
    return o;
}

/* Copies src back over the selected buffers, in order. */
static void
scatter(const uint8_t *src, prov_buf *bufs, size_t n,
        bool (*pick)(const prov_buf *))
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (!pick(&bufs[i]) || bufs[i].len == 0)
            continue;
        memcpy(bufs[i].p, src + o, bufs[i].len);
        o += bufs[i].len;
    }
}

/* Rotates buf left by r bytes (r < n), undoing a sender's RRC. */
static hsmssp_err
rotate_left(uint8_t *buf, size_t n, size_t r)
{
    uint8_t *tmp;

    if (n == 0 || r % n == 0)
        return HSMSSP_OK;
    r %= n;
    tmp = malloc(r);
    if (tmp == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    memcpy(tmp, buf, r);
    memmove(buf, buf + r, n - r);
    memcpy(buf + n - r, tmp, r);
    free(tmp);
    return HSMSSP_OK;
}

void
kerb_msg_free_wiped(uint8_t *p, size_t n)
{
    if (p != NULL) {
        base_memzero(p, n);
        free(p);
    }
}

/* ---- headers ------------------------------------------------------- */

static int32_t
usage_sign(bool sender_is_acceptor)
{
    return sender_is_acceptor ? HSM_USAGE_ACCEPTOR_SIGN
                              : HSM_USAGE_INITIATOR_SIGN;
}

static int32_t
usage_seal(bool sender_is_acceptor)
{
    return sender_is_acceptor ? HSM_USAGE_ACCEPTOR_SEAL
                              : HSM_USAGE_INITIATOR_SEAL;
}

static uint8_t
send_flags(const kerb_ctx *c)
{
    return (uint8_t)((c->initiator ? 0 : FLAG_SENT_BY_ACCEPTOR) |
                     (c->acceptor_subkey ? FLAG_ACCEPTOR_SUBKEY : 0));
}

static void
put_seq(uint8_t *p, uint64_t seq)
{
    base_store_be32(p, (uint32_t)(seq >> 32));
    base_store_be32(p + 4, (uint32_t)seq);
}

static uint64_t
get_seq(const uint8_t *p)
{
    return ((uint64_t)base_load_be32(p) << 32) | base_load_be32(p + 4);
}

uint64_t
kerb_msg_next_send_seq(kerb_ctx *c)
{
    uint64_t s;

    pthread_mutex_lock(&c->send_lock);
    s = c->send_seq++;
    pthread_mutex_unlock(&c->send_lock);
    return s;
}

/* Checks the direction and subkey flags of a received token. */
static hsmssp_err
check_recv_flags(const kerb_ctx *c, uint8_t flags)
{
    bool from_acceptor = (flags & FLAG_SENT_BY_ACCEPTOR) != 0;

    if (from_acceptor != c->initiator)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "token was sent in the other direction (a "
                        "reflection)");
    /* A token under the acceptor's subkey must say so, and only then:
     * the flag tells which key the peer used. */
    if (((flags & FLAG_ACCEPTOR_SUBKEY) != 0) != c->acceptor_subkey)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "token's AcceptorSubkey flag does not match the "
                        "context's key");
    return HSMSSP_OK;
}

hsmssp_err
kerb_msg_check_seq(kerb_ctx *c, uint64_t seq)
{
    hsmssp_err ret;

    pthread_mutex_lock(&c->recv_lock);
    ret = kerb_seq_check(&c->recv, seq);
    pthread_mutex_unlock(&c->recv_lock);
    return ret;
}

/* ---- MIC ------------------------------------------------------------ */

hsmssp_err
kerb_msg_get_mic(void *p, prov_buf *bufs, size_t n)
{
    kerb_ctx *c = p;
    prov_buf *tok = NULL;
    uint8_t *scratch = NULL;
    size_t dlen = 0, ck = 0, ck_len = 0;
    hsmssp_err ret;

    ret = kerb_ctx_usable(c);
    if (ret == HSMSSP_OK)
        ret = find_one(bufs, n, PROV_BUF_TOKEN, &tok);
    if (ret == HSMSSP_OK && tok == NULL)
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no TOKEN buffer");
    if (ret == HSMSSP_OK && c->etype == HSM_ETYPE_RC4_HMAC)
        return kerb_rc4_get_mic(c, bufs, n, tok);
    if (ret == HSMSSP_OK)
        ret = hsm_krb_cksum_len(c->etype, &ck);
    if (ret == HSMSSP_OK && tok->len < HDR + ck)
        ret = BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL,
                       "TOKEN buffer holds %zu bytes, the signature %zu",
                       tok->len, HDR + ck);
    if (ret == HSMSSP_OK)
        ret = total_len(bufs, n, kerb_msg_is_data, &dlen);
    if (ret != HSMSSP_OK)
        return ret;
    /* Checksum input: the message, then the header (RFC 4121 4.2.4). */
    scratch = malloc(dlen + HDR);
    if (scratch == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    gather(scratch, bufs, n, kerb_msg_is_data);
    tok->p[0] = 0x04;
    tok->p[1] = 0x04;
    tok->p[2] = send_flags(c);
    memset(tok->p + 3, 0xff, 5);
    put_seq(tok->p + 8, kerb_msg_next_send_seq(c));
    memcpy(scratch + dlen, tok->p, HDR);
    ret = hsm_krb_checksum(c->key, usage_sign(!c->initiator), scratch,
                           dlen + HDR, tok->p + HDR, tok->len - HDR,
                           &ck_len);
    if (ret == HSMSSP_OK)
        tok->len = HDR + ck_len;
    kerb_msg_free_wiped(scratch, dlen + HDR);
    return ret;
}

hsmssp_err
kerb_msg_verify_mic(void *p, prov_buf *bufs, size_t n)
{
    kerb_ctx *c = p;
    prov_buf *tok = NULL;
    uint8_t *scratch = NULL;
    size_t dlen = 0, ck = 0;
    hsmssp_err ret;

    ret = kerb_ctx_usable(c);
    if (ret == HSMSSP_OK)
        ret = find_one(bufs, n, PROV_BUF_TOKEN, &tok);
    if (ret == HSMSSP_OK && tok == NULL)
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no TOKEN buffer");
    if (ret == HSMSSP_OK && c->etype == HSM_ETYPE_RC4_HMAC)
        return kerb_rc4_verify_mic(c, bufs, n, tok);
    if (ret == HSMSSP_OK)
        ret = hsm_krb_cksum_len(c->etype, &ck);
    if (ret != HSMSSP_OK)
        return ret;
    if (tok->len != HDR + ck)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "MIC token of %zu bytes, expected %zu", tok->len,
                        HDR + ck);
    if (tok->p[0] != 0x04 || tok->p[1] != 0x04)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "not a MIC token");
    for (int i = 3; i < 8; i++)
        if (tok->p[i] != 0xff)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "bad MIC token filler");
    ret = check_recv_flags(c, tok->p[2]);
    if (ret == HSMSSP_OK)
        ret = total_len(bufs, n, kerb_msg_is_data, &dlen);
    if (ret != HSMSSP_OK)
        return ret;
    scratch = malloc(dlen + HDR);
    if (scratch == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    gather(scratch, bufs, n, kerb_msg_is_data);
    memcpy(scratch + dlen, tok->p, HDR);
    ret = hsm_krb_checksum_verify(c->key, usage_sign(c->initiator), scratch,
                                  dlen + HDR, tok->p + HDR, ck);
    kerb_msg_free_wiped(scratch, dlen + HDR);
    /* The window moves only for authentic tokens. */
    if (ret == HSMSSP_OK)
        ret = kerb_msg_check_seq(c, get_seq(tok->p + 8));
    return ret;
}

/* ---- Wrap ----------------------------------------------------------- */

static void
wrap_header(const kerb_ctx *c, bool conf, uint16_t ec, uint16_t rrc,
            uint64_t seq, uint8_t h[HDR])
{
    h[0] = 0x05;
    h[1] = 0x04;
    h[2] = (uint8_t)(send_flags(c) | (conf ? FLAG_SEALED : 0));
    h[3] = 0xff;
    h[4] = (uint8_t)(ec >> 8);
    h[5] = (uint8_t)ec;
    h[6] = (uint8_t)(rrc >> 8);
    h[7] = (uint8_t)rrc;
    put_seq(h + 8, seq);
}

/* The sign-only pieces of a message: READONLY_WITH_CHECKSUM buffers at
 * their offsets in the encrypted data (the bytes of kerb_msg_is_encrypted
 * buffers before them).  *n_out 0 when there are none. */
static void
signonly_pieces(const prov_buf *bufs, size_t n, hsm_signonly *so,
                size_t *n_out)
{
    size_t at = 0, k = 0;

    for (size_t i = 0; i < n; i++) {
        if (kerb_msg_is_encrypted(&bufs[i]))
            at += bufs[i].len;
        else if (kerb_msg_is_data(&bufs[i]))
            so[k++] = (hsm_signonly){at, bufs[i].p, bufs[i].len};
    }
    *n_out = k;
}

static hsmssp_err
wrap_conf(kerb_ctx *c, prov_buf *bufs, size_t n, prov_buf *tok)
{
    uint8_t h[HDR], *plain = NULL, *ct = NULL;
    size_t dlen = 0, ck = 0, ct_cap = 0, ct_len = 0, tail, n_so = 0;
    hsm_signonly so[KERB_MSG_MAX_BUFS];
    hsmssp_err ret;

    ret = hsm_krb_cksum_len(c->etype, &ck);
    if (ret == HSMSSP_OK)
        ret = total_len(bufs, n, kerb_msg_is_encrypted, &dlen);
    if (ret != HSMSSP_OK)
        return ret;
    tail = HDR + ck; /* encrypted header copy + integrity check */
    if (tok->len < HDR + tail + 16)
        return BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL,
                        "TOKEN buffer holds %zu bytes, the trailer %zu",
                        tok->len, HDR + tail + 16);
    ret = hsm_krb_enc_len(c->etype, dlen + HDR, &ct_cap);
    if (ret != HSMSSP_OK)
        return ret;
    plain = malloc(dlen + HDR);
    ct = malloc(ct_cap);
    if (plain == NULL || ct == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    /* EC = 0: CTS needs no padding.  The copy of the header inside the
     * encryption has RRC 0 (RFC 4121 sec. 4.2.4). */
    wrap_header(c, true, 0, 0, kerb_msg_next_send_seq(c), h);
    gather(plain, bufs, n, kerb_msg_is_encrypted);
    memcpy(plain + dlen, h, HDR);
    /* Signed-only buffers join the integrity check, not the cipher. */
    signonly_pieces(bufs, n, so, &n_so);
    ret = hsm_krb_encrypt_so(c->key, usage_seal(!c->initiator), plain,
                             dlen + HDR, so, n_so, ct, ct_cap, &ct_len);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* ct = E(confounder) 16 || E(data) dlen || E(header) 16 || check ck.
     * Rotate right by tail so the TOKEN buffer holds everything but the
     * data. */
    wrap_header(c, true, 0, (uint16_t)tail, get_seq(h + 8), tok->p);
    memcpy(tok->p + HDR, ct + 16 + dlen, tail);
    memcpy(tok->p + HDR + tail, ct, 16);
    tok->len = HDR + tail + 16;
    scatter(ct + 16, bufs, n, kerb_msg_is_encrypted);
cleanup:
    kerb_msg_free_wiped(plain, dlen + HDR);
    kerb_msg_free_wiped(ct, ct_cap);
    return ret;
}

static hsmssp_err
wrap_integ(kerb_ctx *c, prov_buf *bufs, size_t n, prov_buf *tok)
{
    uint8_t h0[HDR], *scratch = NULL;
    size_t dlen = 0, ck = 0, ck_len = 0;
    uint64_t seq;
    hsmssp_err ret;

    ret = hsm_krb_cksum_len(c->etype, &ck);
    if (ret == HSMSSP_OK)
        ret = total_len(bufs, n, kerb_msg_is_data, &dlen);
    if (ret != HSMSSP_OK)
        return ret;
    if (tok->len < HDR + ck)
        return BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL,
                        "TOKEN buffer holds %zu bytes, needs %zu", tok->len,
                        HDR + ck);
    scratch = malloc(dlen + HDR);
    if (scratch == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    /* The checksum covers the data and the header with EC and RRC zero;
     * the token carries EC = RRC = checksum length, so that the checksum
     * rotates in front of the data into the TOKEN buffer. */
    seq = kerb_msg_next_send_seq(c);
    wrap_header(c, false, 0, 0, seq, h0);
    gather(scratch, bufs, n, kerb_msg_is_data);
    memcpy(scratch + dlen, h0, HDR);
    /* Wrap tokens use the SEAL key usage with or without confidentiality
     * (RFC 4121 sec. 2; MIT picks the usage by token type). */
    ret = hsm_krb_checksum(c->key, usage_seal(!c->initiator), scratch,
                           dlen + HDR, tok->p + HDR, tok->len - HDR,
                           &ck_len);
    if (ret == HSMSSP_OK) {
        wrap_header(c, false, (uint16_t)ck_len, (uint16_t)ck_len, seq,
                    tok->p);
        tok->len = HDR + ck_len;
    }
    kerb_msg_free_wiped(scratch, dlen + HDR);
    return ret;
}

hsmssp_err
kerb_msg_wrap(void *p, bool conf, prov_buf *bufs, size_t n)
{
    kerb_ctx *c = p;
    prov_buf *tok = NULL, *pad = NULL;
    hsmssp_err ret;

    if (n > KERB_MSG_MAX_BUFS)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "more than %d buffers", KERB_MSG_MAX_BUFS);
    ret = kerb_ctx_usable(c);
    if (ret == HSMSSP_OK)
        ret = find_one(bufs, n, PROV_BUF_TOKEN, &tok);
    if (ret == HSMSSP_OK)
        ret = find_one(bufs, n, PROV_BUF_PADDING, &pad);
    if (ret == HSMSSP_OK && tok == NULL)
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no TOKEN buffer");
    if (ret == HSMSSP_OK && c->etype == HSM_ETYPE_RC4_HMAC)
        return kerb_rc4_wrap(c, conf, bufs, n, tok, pad);
    if (ret != HSMSSP_OK)
        return ret;
    if (conf && (c->flags & PROV_F_CONF) == 0)
        return BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                        "confidentiality was not negotiated");
    ret = conf ? wrap_conf(c, bufs, n, tok) : wrap_integ(c, bufs, n, tok);
    if (ret == HSMSSP_OK && pad != NULL)
        pad->len = 0; /* CTS needs no padding */
    return ret;
}

/* Builds data (len bytes) with the sign-only pieces in place, then tail
 * (tlen bytes), in a new buffer: the checksum input of a Wrap token
 * without confidentiality. */
static hsmssp_err
with_pieces(const uint8_t *data, size_t len, const hsm_signonly *so,
            size_t n_so, const uint8_t *tail, size_t tlen, uint8_t **out,
            size_t *out_len)
{
    size_t total = len + tlen, o = 0, from = 0;
    uint8_t *b;

    for (size_t i = 0; i < n_so; i++)
        total += so[i].len;
    b = malloc(total > 0 ? total : 1);
    if (b == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    for (size_t i = 0; i < n_so; i++) {
        memcpy(b + o, data + from, so[i].at - from);
        o += so[i].at - from;
        from = so[i].at;
        if (so[i].len > 0)
            memcpy(b + o, so[i].p, so[i].len);
        o += so[i].len;
    }
    memcpy(b + o, data + from, len - from);
    o += len - from;
    memcpy(b + o, tail, tlen);
    *out = b;
    *out_len = total;
    return HSMSSP_OK;
}

/* Parses and checks a Wrap token in tbuf[0..tlen) (its body is
 * un-rotated in place), writes the plaintext's position in tbuf to
 * *plain and its length to *plen.  so: sign-only pieces the sender
 * protected beside the token (TOKEN + DATA layouts only). */
static hsmssp_err
unwrap_token(kerb_ctx *c, uint8_t *tbuf, size_t tlen, const hsm_signonly *so,
             size_t n_so, uint8_t **plain, size_t *plen, bool *conf_out)
{
    uint8_t *body = tbuf + HDR, h0[HDR], *pt = NULL, *ckin = NULL;
    size_t blen, ck = 0, ptlen = 0, ckin_len = 0;
    uint16_t ec, rrc;
    bool conf;
    hsmssp_err ret;

    *plain = NULL;
    *plen = 0;
    if (tlen < HDR)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "Wrap token truncated");
    if (tbuf[0] != 0x05 || tbuf[1] != 0x04)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "not a Wrap token");
    if (tbuf[3] != 0xff)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "bad Wrap token filler");
    ret = check_recv_flags(c, tbuf[2]);
    if (ret != HSMSSP_OK)
        return ret;
    conf = (tbuf[2] & FLAG_SEALED) != 0;
    *conf_out = conf;
    ec = (uint16_t)((tbuf[4] << 8) | tbuf[5]);
    rrc = (uint16_t)((tbuf[6] << 8) | tbuf[7]);
    blen = tlen - HDR;
    ret = rotate_left(body, blen, rrc);
    if (ret == HSMSSP_OK)
        ret = hsm_krb_cksum_len(c->etype, &ck);
    if (ret != HSMSSP_OK)
        return ret;
    {
        /* The longest message the token can carry: without
         * confidentiality the body less its checksum; sealed, the body
         * less confounder, encrypted header and integrity check. */
        size_t over = conf ? 16 + HDR + ck : ck;
        size_t max_msg = blen >= over ? blen - over : 0;

        for (size_t i = 0; i < n_so; i++)
            if (so[i].at > max_msg)
                return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                                "signed-only buffer beyond the message");
    }
    if (!conf) {
        /* body = data || checksum, EC = the checksum's length; the
         * checksum covers data (with any sign-only pieces) || header with
         * EC and RRC zero. */
        if (ec != ck || blen < ck)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "Wrap token without confidentiality has EC %u, "
                            "expected %zu",
                            ec, ck);
        memcpy(h0, tbuf, HDR);
        memset(h0 + 4, 0, 4);
        ret = with_pieces(body, blen - ck, so, n_so, h0, HDR, &ckin,
                          &ckin_len);
        if (ret == HSMSSP_OK)
            ret = hsm_krb_checksum_verify(c->key, usage_seal(c->initiator),
                                          ckin, ckin_len, body + blen - ck,
                                          ck);
        kerb_msg_free_wiped(ckin, ckin_len);
        if (ret != HSMSSP_OK)
            return ret;
        *plain = body;
        *plen = blen - ck;
        return kerb_msg_check_seq(c, get_seq(tbuf + 8));
    }
    pt = malloc(blen > 0 ? blen : 1);
    if (pt == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    ret = hsm_krb_decrypt_so(c->key, usage_seal(c->initiator), body, blen,
                             so, n_so, pt, blen, &ptlen);
    if (ret == HSMSSP_OK && ptlen < (size_t)HDR + ec)
        ret = BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                       "Wrap token shorter than its EC and header");
    /* The encrypted copy of the header must match the one in clear (all
     * but RRC, which the sender sets after encrypting). */
    if (ret == HSMSSP_OK) {
        const uint8_t *hc = pt + ptlen - HDR;

        if (memcmp(hc, tbuf, 6) != 0 || memcmp(hc + 8, tbuf + 8, 8) != 0)
            ret = BASE_ERR(HSMSSP_ERR_INTEGRITY,
                           "Wrap token header differs from its encrypted "
                           "copy");
    }
    if (ret == HSMSSP_OK) {
        *plen = ptlen - HDR - ec;
        memcpy(body, pt, *plen);
        *plain = body;
    }
    kerb_msg_free_wiped(pt, blen > 0 ? blen : 1);
    if (ret != HSMSSP_OK)
        return ret;
    return kerb_msg_check_seq(c, get_seq(tbuf + 8));
}

hsmssp_err
kerb_msg_unwrap(void *p, prov_buf *bufs, size_t n, bool *conf_out)
{
    kerb_ctx *c = p;
    prov_buf *tok = NULL, *stream = NULL, *data = NULL;
    uint8_t *tbuf = NULL, *plain = NULL;
    size_t tlen = 0, dlen = 0, plen = 0, n_so = 0;
    hsm_signonly so[KERB_MSG_MAX_BUFS];
    hsmssp_err ret;

    *conf_out = false;
    if (n > KERB_MSG_MAX_BUFS)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "more than %d buffers", KERB_MSG_MAX_BUFS);
    ret = kerb_ctx_usable(c);
    if (ret == HSMSSP_OK)
        ret = find_one(bufs, n, PROV_BUF_TOKEN, &tok);
    if (ret == HSMSSP_OK)
        ret = find_one(bufs, n, PROV_BUF_STREAM, &stream);
    if (ret != HSMSSP_OK)
        return ret;
    if (c->etype == HSM_ETYPE_RC4_HMAC)
        return kerb_rc4_unwrap(c, bufs, n, tok, stream, conf_out);
    if ((tok == NULL) == (stream == NULL))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "DecryptMessage needs a TOKEN or a STREAM buffer");
    if (stream != NULL) {
        /* STREAM + DATA: the plaintext is left inside the stream buffer
         * and the DATA buffer made to point at it. */
        ret = find_one(bufs, n, PROV_BUF_DATA, &data);
        if (ret != HSMSSP_OK)
            return ret;
        ret = unwrap_token(c, stream->p, stream->len, NULL, 0, &plain,
                           &plen, conf_out);
        if (ret == HSMSSP_OK && data != NULL) {
            data->p = plain;
            data->len = plen;
        }
        return ret;
    }
    /* TOKEN + DATA: reassemble the token, unwrap, put the plaintext into
     * the DATA buffers. */
    ret = total_len(bufs, n, kerb_msg_is_encrypted, &dlen);
    if (ret != HSMSSP_OK)
        return ret;
    tlen = tok->len + dlen;
    tbuf = malloc(tlen > 0 ? tlen : 1);
    if (tbuf == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    memcpy(tbuf, tok->p, tok->len);
    gather(tbuf + tok->len, bufs, n, kerb_msg_is_encrypted);
    signonly_pieces(bufs, n, so, &n_so);
    ret = unwrap_token(c, tbuf, tlen, so, n_so, &plain, &plen, conf_out);
    if (ret == HSMSSP_OK && plen != dlen)
        ret = BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                       "DATA buffers hold %zu bytes, the message %zu (split "
                       "the token at the security trailer)",
                       dlen, plen);
    if (ret == HSMSSP_OK)
        scatter(plain, bufs, n, kerb_msg_is_encrypted);
    kerb_msg_free_wiped(tbuf, tlen > 0 ? tlen : 1);
    return ret;
}
