/*
 * tests/fuzz/fuzz_krb_decrypt.c - libFuzzer target for krbsw_decrypt(),
 * the host-side RFC 3961 decryption (hsm/krbsw.h) of etypes 17, 18, 19, 20
 * and 23.
 *
 * Why: krbsw_decrypt() parses attacker-controlled ciphertexts (tickets,
 * authenticators, GSS wrap tokens reach it in the software reference path
 * and in H(op) strategies), so every length and every byte pattern must
 * give either the plaintext of a genuine ciphertext or a clean error,
 * never a crash, an over-read, or a plaintext of a forged message.
 *
 * Input: fuzzcommon.h.  In ciphertext mode the rest of the input is
 * decrypted as is; in synthesised mode a plaintext is encrypted, maybe
 * tampered with, and decrypted, so the success path is fuzzed too.  The
 * invariants are checked by fuzz_sw_decrypt_checked() (swref.c); this
 * file adds the synthesised mode's: an untouched ciphertext decrypts to
 * its plaintext, a touched one fails the integrity check.
 */
#include <string.h>

#include "fuzzcommon.h"
#include "hsm/hsm.h"
#include "swref.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_sw_init();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t ei, ui, len, out_len = 0;
    const uint8_t *ct;
    uint8_t *synth = NULL, *out;
    bool tampered = false;
    hsmssp_err ret;

    /* The empty input selects nothing: it must merely not crash. */
    if (size == 0)
        return 0;
    ei = fuzz_sel_etype_index(data[0]);
    ui = fuzz_sel_usage_index(data[0]);
    if (fuzz_synth_ciphertext(data, size, &synth, &len, &tampered)) {
        ct = synth;
    } else {
        ct = data + 1;
        len = size - 1;
    }
    /* Exactly len bytes (1 for an empty input, malloc(0) may be NULL), so
     * that ASan sees any write past the ciphertext length. */
    out = malloc(len ? len : 1);
    FUZZ_CHECK(out != NULL, "out of memory");
    ret = fuzz_sw_decrypt_checked(ei, ui, ct, len, out, &out_len);
    if (synth != NULL) {
        if (tampered) {
            FUZZ_CHECK(ret == HSMSSP_ERR_INTEGRITY,
                       "etype %d: a tampered ciphertext gave %s",
                       (int)fuzz_etype_at(ei), hsmssp_err_name(ret));
        } else {
            FUZZ_CHECK(ret == HSMSSP_OK, "etype %d: genuine ciphertext: %s",
                       (int)fuzz_etype_at(ei), hsmssp_err_name(ret));
            FUZZ_CHECK(out_len == size - FUZZ_SYNTH_HDR &&
                           memcmp(out, data + FUZZ_SYNTH_HDR, out_len) == 0,
                       "etype %d: round trip changed the plaintext",
                       (int)fuzz_etype_at(ei));
        }
    }
    free(out);
    free(synth);
    return 0;
}
