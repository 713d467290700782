/*
 * tests/fuzz/initreply.h - the input layout of fuzz_init_reply (the
 * replies an initiator reads: AS-REP, TGS-REP and KRB-ERROR from a KDC,
 * AP-REP and KRB-ERROR from an acceptor), shared by the target and the
 * seed writer (initseed.c).
 *
 * The fuzzer cannot make ciphertext that decrypts, so it supplies the
 * plaintext of an encrypted part and the target encrypts it: a "spliced"
 * record is prefix || E(key, plaintext) || suffix, where prefix and suffix
 * are the reply's bytes around the EncryptedData's cipher octets (their
 * DER lengths are the fuzzer's business; a seed made from a real reply
 * has them right) and key is the fixed key of the record's enctype
 * (fuzz_key_bytes(), fuzzcommon.h), which the target has imported as
 * every key the initiator holds: the account's long-term keys, the TGT's
 * and the service ticket's session keys.  A real reply whose session keys
 * are overwritten with those bytes therefore decrypts, chains (a referral
 * TGT's key opens the next reply) and reaches the checks after
 * decryption.
 *
 * The clock and the host's random numbers are part of the input (the
 * target substitutes prov_now_us() and hsm_random() at link time), so a
 * recorded reply's nonce and times are valid again when replayed, and
 * every run of an input is the same run.
 *
 * Layout:
 *   byte 0      selector
 *               bits 0-1  mode (enum ir_mode)
 *               bit  2    IR_SEL_A: AS: no kerb_as_info; TGS: the new key
 *                         handed back (a forwarded TGT, key_out); AP: ask
 *                         for delegation (a TGS exchange for the
 *                         forwarded TGT comes first)
 *               bit  3    IR_SEL_B: TGS: referrals accepted
 *                         (referral_out); AP: no replay/sequence
 *                         detection asked
 *               bits 4-7  enctype index (modulo IR_N_ETYPES) of the key
 *                         the exchange starts with: the TGT's session key
 *                         (TGS, SVC, and AP's delegation) and the service
 *                         ticket's (AP); AS offers every enctype
 *   bytes 1-8   the clock: microseconds since 1970, big-endian
 *   bytes 9-12  what hsm_random() returns, repeated (the AS and TGS nonce
 *               is these bytes read as a little-endian uint32 & 0x7fffffff)
 *   then        client name: 1 byte length, bytes (AS: the client; TGS,
 *               SVC, AP: the TGT's client)
 *               server name: 1 byte length, bytes (AS: the server, empty
 *               for krbtgt/REALM; TGS, SVC: the server asked for; AP: the
 *               target name)
 *   then        records until the end of the input:
 *                 IR_REC_RAW     u16 length, the reply's bytes
 *                 IR_REC_SPLICE  1 byte enctype index, u16 prefix length,
 *                                prefix, u16 plaintext length, plaintext,
 *                                u16 suffix length, suffix
 *               (u16 big-endian; another kind byte ends the records).
 * In AP mode the first record is the acceptor's reply and the others the
 * KDC's; in the other modes every record is a KDC reply, handed out one
 * per request in order, as the transport would (a reply it would refuse,
 * or a RESPONSE_TOO_BIG error, counts as no answer and the next record
 * answers instead).  Key usages follow the mode: 3 (AS-REP) in AS mode, 8
 * (TGS-REP) for KDC replies otherwise, 12 (AP-REP) for the acceptor's.
 */
#ifndef HSMSSP_INITREPLY_H
#define HSMSSP_INITREPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IR_REALM "HSMSSP.TEST"
#define IR_HDR 13
#define IR_N_ETYPES 5
#define IR_MAX_RECORDS 8

enum ir_mode {
    IR_AS = 0,  /* kerb_as_exchange: the account's keys on the token */
    IR_TGS = 1, /* kerb_tgs_exchange with a TGT */
    IR_AP = 2,  /* kerb_init: the AP-REQ, then the reply */
    IR_SVC = 3  /* kerb_out_service_ticket: TGS exchanges and referrals */
};

#define IR_SEL_A 0x04u
#define IR_SEL_B 0x08u

enum ir_rec { IR_REC_RAW = 0, IR_REC_SPLICE = 1 };

static inline int32_t
ir_etype_at(size_t i)
{
    static const int32_t etypes[IR_N_ETYPES] = {18, 17, 20, 19, 23};
    return etypes[i % IR_N_ETYPES];
}

/* The index of an enctype in ir_etype_at(), or IR_N_ETYPES. */
static inline size_t
ir_etype_index(int32_t etype)
{
    for (size_t i = 0; i < IR_N_ETYPES; i++)
        if (ir_etype_at(i) == etype)
            return i;
    return IR_N_ETYPES;
}

static inline uint8_t
ir_selector(enum ir_mode mode, size_t etype_index, bool a, bool b)
{
    return (uint8_t)(((unsigned)mode & 3u) | (a ? IR_SEL_A : 0u) |
                     (b ? IR_SEL_B : 0u) | ((etype_index & 15u) << 4));
}

/* ---- writing inputs (the seed writer) ---------------------------- */

typedef struct ir_buf {
    uint8_t data[65536];
    size_t len;
    bool overflow;
} ir_buf;

static inline void
ir_put(ir_buf *b, const void *p, size_t n)
{
    if (n > sizeof(b->data) - b->len) {
        b->overflow = true;
        return;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void
ir_put_u16(ir_buf *b, size_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    if (v > 0xffff)
        b->overflow = true;
    ir_put(b, x, 2);
}

/* Selector, clock, random bytes and the two names. */
static inline void
ir_put_header(ir_buf *b, uint8_t selector, int64_t clock_us,
              const uint8_t random4[4], const char *client, const char *server)
{
    uint8_t c[8];
    uint8_t l;

    b->len = 0;
    b->overflow = false;
    ir_put(b, &selector, 1);
    for (int i = 0; i < 8; i++)
        c[i] = (uint8_t)((uint64_t)clock_us >> (56 - 8 * i));
    ir_put(b, c, 8);
    ir_put(b, random4, 4);
    l = (uint8_t)strlen(client);
    ir_put(b, &l, 1);
    ir_put(b, client, l);
    l = (uint8_t)strlen(server);
    ir_put(b, &l, 1);
    ir_put(b, server, l);
}

static inline void
ir_put_raw(ir_buf *b, const uint8_t *rep, size_t n)
{
    uint8_t k = IR_REC_RAW;

    ir_put(b, &k, 1);
    ir_put_u16(b, n);
    ir_put(b, rep, n);
}

/* A reply whose cipher octets rep[cipher_off .. cipher_off + cipher_len)
 * are to be replaced by E(key of etype_index, plain). */
static inline void
ir_put_splice(ir_buf *b, size_t etype_index, const uint8_t *rep, size_t n,
              size_t cipher_off, size_t cipher_len, const uint8_t *plain,
              size_t plain_len)
{
    uint8_t k = IR_REC_SPLICE, e = (uint8_t)etype_index;

    ir_put(b, &k, 1);
    ir_put(b, &e, 1);
    ir_put_u16(b, cipher_off);
    ir_put(b, rep, cipher_off);
    ir_put_u16(b, plain_len);
    ir_put(b, plain, plain_len);
    ir_put_u16(b, n - cipher_off - cipher_len);
    ir_put(b, rep + cipher_off + cipher_len, n - cipher_off - cipher_len);
}

/* The nonce an input's random bytes give (kerb_as.c, kerb_tgs.c). */
static inline void
ir_random_for_nonce(uint32_t nonce, uint8_t out[4])
{
    out[0] = (uint8_t)nonce;
    out[1] = (uint8_t)(nonce >> 8);
    out[2] = (uint8_t)(nonce >> 16);
    out[3] = (uint8_t)(nonce >> 24);
}

#endif
