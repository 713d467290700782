/*
 * tests/fuzz/msgctx.h - established Kerberos contexts for the per-message
 * fuzz target (fuzz_msg_tokens.c) and its seed generator (msgseed.c).
 *
 * One NSS softoken (no database, the same token both programs open) holds
 * one fixed session key per etype; a context is built directly from a key
 * (kerb_ctx_new + fields that AcceptSecurityContext would set), never by
 * a handshake, so that a token made by an initiator context in the seed
 * generator verifies in an acceptor context of the fuzz target.  The
 * keys are public byte patterns (fuzz_key_bytes(), fuzzcommon.h): fuzzing
 * looks for parser bugs, not for key secrecy.
 *
 * Input layout of fuzz_msg_tokens (MT_HDR bytes, then the token bytes):
 *   byte 0  bits 0-1  etype index into {18, 17, 20, 23} (mt_etype_at)
 *           bits 2-3  operation (enum mt_mode)
 *           bit  4    the context uses an acceptor subkey (tokens must
 *                     carry the AcceptorSubkey flag; RFC 4121 only)
 *           bit  5    no replay/sequence detection in the context
 *           bits 6-7  MT_PIECES: bytes of the end that form a PADDING
 *                     buffer (RFC 4757 senders add one)
 *   bytes 1-2  a: where the TOKEN buffer ends (big-endian, modulo the
 *              length + 1)
 *   bytes 3-4  b: MT_PIECES: length of the first DATA buffer (modulo)
 *   byte 5     c: MT_PIECES: length of the READONLY_WITH_CHECKSUM buffer
 *              that follows it (modulo)
 * Sequence numbers: an acceptor's receive window starts at
 * mt_seq_base(etype), and seed tokens are made with that first number.
 * Ownership: mt_open() makes everything; mt_close() releases it; contexts
 * from mt_ctx_new() are freed with mt_ctx_free() (the key stays).
 */
#ifndef HSMSSP_MSGCTX_H
#define HSMSSP_MSGCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provider/kerberos/kerb-int.h"

#define MT_N_ETYPES 4
#define MT_HDR 6

enum mt_mode {
    MT_STREAM = 0, /* DecryptMessage STREAM + DATA */
    MT_TOKEN_DATA, /* DecryptMessage TOKEN + DATA */
    MT_MIC,        /* VerifySignature TOKEN + DATA */
    MT_PIECES      /* TOKEN + DATA + sign-only DATA + DATA [+ PADDING] */
};

#define MT_SEL_SUBKEY 0x10u
#define MT_SEL_NOSEQ 0x20u

static inline int32_t
mt_etype_at(size_t i)
{
    static const int32_t etypes[MT_N_ETYPES] = {18, 17, 20, 23};
    return etypes[i % MT_N_ETYPES];
}

/* First sequence number of both directions: near the 32-bit boundary,
 * below 2^31 for RFC 4757 (whose numbers are 32 bits on the wire). */
static inline uint64_t
mt_seq_base(int32_t etype)
{
    return etype == 23 ? 0x7ffffff0u : 0xfffffff0u;
}

static inline uint8_t
mt_selector(size_t ei, enum mt_mode mode, bool subkey, bool noseq,
            unsigned pad)
{
    return (uint8_t)((ei & 3u) | ((unsigned)mode << 2) |
                     (subkey ? MT_SEL_SUBKEY : 0u) |
                     (noseq ? MT_SEL_NOSEQ : 0u) | ((pad & 3u) << 6));
}

/* Opens NSS softoken through a prov_env and imports the fixed keys.
 * HSMSSP_ERR_MODULE_LOAD when NSS softoken is not installed. */
hsmssp_err mt_open(void);
void mt_close(void);

/* A new established context on the key of etype index ei, as initiator
 * or acceptor, with or without the acceptor-subkey flag and with or
 * without replay/sequence detection; window and send counter at
 * mt_seq_base(). */
kerb_ctx *mt_ctx_new(size_t ei, bool initiator, bool subkey, bool noseq);

/* Puts a context back to its state of mt_ctx_new() (send counter and
 * receive window). */
void mt_ctx_reset(kerb_ctx *c, bool noseq);

void mt_ctx_free(kerb_ctx *c);

/* The buffers of one call, split from an input as the layout above says:
 * each a heap copy of exactly its bytes (so ASan sees any over-read),
 * orig[i] the input bytes it was copied from, own[i] the copy (the call
 * may repoint b[i].p, as DecryptMessage does with STREAM + DATA). */
typedef struct mt_call {
    prov_buf b[6];
    const uint8_t *orig[6];
    uint8_t *own[6];
    size_t n;
} mt_call;

/* The fields of a selector byte. */
typedef struct mt_sel {
    size_t ei;
    enum mt_mode mode;
    bool subkey, noseq;
    unsigned pad;
} mt_sel;

mt_sel mt_parse_sel(uint8_t sel);

/* Splits in[MT_HDR..size) (size >= MT_HDR) into c's buffers. */
void mt_layout(mt_call *c, const uint8_t *in, size_t size);

/* kerb_msg_verify_mic (MT_MIC) or kerb_msg_unwrap on c's buffers. */
hsmssp_err mt_run(kerb_ctx *k, enum mt_mode mode, mt_call *c, bool *conf_out);

void mt_call_release(mt_call *c);

#endif
