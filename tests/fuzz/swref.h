/*
 * tests/fuzz/swref.h - the software reference shared by the Kerberos
 * decryption fuzz targets (swref.c): krbsw under fixed keys, with every
 * invariant of a decryption checked (see swref.c), and the synthesised
 * inputs of fuzzcommon.h.  Every check that fails aborts (FUZZ_CHECK).
 */
#ifndef HSMSSP_FUZZ_SWREF_H
#define HSMSSP_FUZZ_SWREF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/secmem.h"

/* Initialises krbsw and creates the fixed key of every etype (freed at
 * exit).  Call once, before anything below. */
void fuzz_sw_init(void);

/* The fixed key of etype index i, owned by this module. */
const base_secret *fuzz_sw_key(size_t etype_index);

/* krbsw_decrypt() of ct[0..len) under the fixed key, etype and usage of
 * the indexes, into out (len bytes of room; filled with FUZZ_FILL first),
 * with the invariants of swref.c checked.  Returns krbsw's result; on
 * success *out_len is the plaintext length. */
hsmssp_err fuzz_sw_decrypt_checked(size_t etype_index, size_t usage_index,
                                   const uint8_t *ct, size_t len,
                                   uint8_t *out, size_t *out_len);

/* For a synthesised-mode input (selector bit 7 set, at least 3 bytes):
 * encrypts the plaintext with krbsw under the fixed key and confounder,
 * applies the tamper word, and returns true with *ct_out (malloc'ed: the
 * caller frees it), *len_out and *tampered_out set.  Returns false, with
 * nothing allocated, for a ciphertext-mode input or one too short. */
bool fuzz_synth_ciphertext(const uint8_t *data, size_t size, uint8_t **ct_out,
                           size_t *len_out, bool *tampered_out);

#endif
