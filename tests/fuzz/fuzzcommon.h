/*
 * tests/fuzz/fuzzcommon.h - what the Kerberos decryption fuzz targets
 * (fuzz_krb_decrypt.c, fuzz_token_decrypt.c) and the seed generator
 * (seedgen.c) agree on: the layout of an input, the fixed keys, and the
 * invariant-check macro.
 *
 * Input layout.  Byte 0 is the selector:
 *   bits 0-3  etype index, taken modulo 5 into {17, 18, 19, 20, 23}
 *   bits 4-6  usage index into fuzz_usage() (8 RFC 4120/4121 usages)
 *   bit  7    mode: 0 = "ciphertext", 1 = "synthesised"
 * In ciphertext mode bytes 1.. are a ciphertext handed to the decrypt
 * function as is.  Random bytes almost never pass the integrity check, so
 * the synthesised mode reaches the success path too: bytes 1-2 are a
 * big-endian tamper word t, bytes 3.. a plaintext.  The target encrypts
 * the plaintext under the fixed key with the fixed confounder, then, when
 * t != 0, flips bit (t & 7) of byte (t >> 3) mod the ciphertext length,
 * and decrypts: an untouched ciphertext must decrypt to the plaintext, a
 * touched one must fail the integrity check.
 *
 * Keys.  One fixed key per etype, a public byte pattern: fuzzing looks for
 * parser and length bugs, not key secrecy.  Test code holds the bytes in a
 * base_secret anyway, as every key in this project is held.
 */
#ifndef HSMSSP_FUZZCOMMON_H
#define HSMSSP_FUZZCOMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_N_ETYPES 5
#define FUZZ_N_USAGES 8
#define FUZZ_MODE_SYNTH 0x80u
#define FUZZ_SYNTH_HDR 3 /* selector + tamper word */
#define FUZZ_FILL 0xA5u  /* output buffers are pre-filled with this */
#define FUZZ_MAX_KEY 32

/* The etype of index i (0..4). */
static inline int32_t
fuzz_etype_at(size_t i)
{
    static const int32_t etypes[FUZZ_N_ETYPES] = {17, 18, 19, 20, 23};
    return etypes[i % FUZZ_N_ETYPES];
}

/* The usage of index i (0..7): long-term key usages (2, 3), the
 * authenticator (11), AP-REP (12), TGS (7) and the GSS wrap usages (22,
 * 24); 1 is the PA-ENC-TIMESTAMP usage.  RC4 translates 3 to 8. */
static inline int32_t
fuzz_usage_at(size_t i)
{
    static const int32_t usages[FUZZ_N_USAGES] = {1, 2, 3, 7, 11, 12, 22, 24};
    return usages[i % FUZZ_N_USAGES];
}

static inline size_t
fuzz_sel_etype_index(uint8_t sel)
{
    return (size_t)(sel & 0x0fu) % FUZZ_N_ETYPES;
}

static inline size_t
fuzz_sel_usage_index(uint8_t sel)
{
    return (size_t)((sel >> 4) & 0x07u);
}

/* The selector byte for (etype index, usage index, mode). */
static inline uint8_t
fuzz_selector(size_t etype_index, size_t usage_index, bool synth)
{
    return (uint8_t)((etype_index & 0x0fu) | ((usage_index & 7u) << 4) |
                     (synth ? FUZZ_MODE_SYNTH : 0u));
}

/* The fixed key bytes of an etype (len = the etype's key length). */
static inline void
fuzz_key_bytes(int32_t etype, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)((uint32_t)etype * 7u + (uint32_t)i * 13u + 1u);
}

/* The fixed confounder of the synthesised mode (16 bytes; RC4 uses 8). */
static inline void
fuzz_confounder(uint8_t out[16])
{
    for (size_t i = 0; i < 16; i++)
        out[i] = (uint8_t)(0xC0u + i);
}

/* Applies the tamper word t to ct[0..len): see the layout above.  Returns
 * true when a bit was flipped. */
static inline bool
fuzz_tamper(uint8_t *ct, size_t len, unsigned t)
{
    if (t == 0 || len == 0)
        return false;
    ct[(t >> 3) % len] ^= (uint8_t)(1u << (t & 7u));
    return true;
}

/* An invariant of the code under test does not hold: say which and abort,
 * which libFuzzer reports as a crash and saves the input, and which fails
 * the ctest replay. */
#define FUZZ_CHECK(cond, ...)                                              \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: invariant '%s' broken: ", __FILE__,    \
                    __LINE__, #cond);                                      \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* True when every byte of buf is 0 or FUZZ_FILL: a failed decryption
 * left no plaintext behind (it either never wrote or wiped what it
 * wrote). */
static inline bool
fuzz_no_residue(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != 0 && buf[i] != FUZZ_FILL)
            return false;
    return true;
}

#endif
