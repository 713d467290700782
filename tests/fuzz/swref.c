/*
 * tests/fuzz/swref.c - the software side of the Kerberos decryption fuzz
 * targets: fixed keys, krbsw_decrypt() run under its invariants, and the
 * synthesised-input mode (see fuzzcommon.h for the input layout).
 *
 * The invariants checked on every krbsw_decrypt() call:
 *  - the result is HSMSSP_OK, HSMSSP_ERR_BAD_CIPHERTEXT or
 *    HSMSSP_ERR_INTEGRITY, and BAD_CIPHERTEXT exactly when the input is
 *    shorter than the enctype's overhead (confounder + checksum): every
 *    longer input is a well-formed ciphertext whose check must be run;
 *  - on failure the output buffer holds no plaintext (only zeros or the
 *    fill byte it had before the call);
 *  - on success the plaintext length is input length - overhead, and an
 *    independent opening of the ciphertext (the cipher alone, built from
 *    krbsw's primitives: per-usage key + CTS, or RFC 4757's key steps +
 *    RC4) gives the same plaintext and the confounder; re-encrypting the
 *    plaintext with that confounder through krbsw_encrypt() must give back
 *    the input byte for byte.  A decrypt that accepts anything other than
 *    what encrypt produces fails here.
 */
#include <string.h>

#include "fuzzcommon.h"
#include "hsm/hsm.h"
#include "hsm/krbsw.h"
#include "swref.h"

/* Fixed keys, one per etype index; created by fuzz_sw_init(). */
static base_secret *sw_keys[FUZZ_N_ETYPES];

static void
sw_free_keys(void)
{
    for (size_t i = 0; i < FUZZ_N_ETYPES; i++) {
        base_secret_free(sw_keys[i]);
        sw_keys[i] = NULL;
    }
}

void
fuzz_sw_init(void)
{
    hsmssp_err ret = krbsw_init();

    FUZZ_CHECK(ret == HSMSSP_OK, "krbsw_init: %s", hsmssp_err_name(ret));
    for (size_t i = 0; i < FUZZ_N_ETYPES; i++) {
        int32_t etype = fuzz_etype_at(i);
        size_t keylen = hsm_etype_keylen(etype);

        FUZZ_CHECK(keylen > 0 && keylen <= FUZZ_MAX_KEY, "etype %d",
                   (int)etype);
        ret = base_secret_new(keylen, keylen, &sw_keys[i]);
        FUZZ_CHECK(ret == HSMSSP_OK, "base_secret_new: %s",
                   hsmssp_err_name(ret));
        fuzz_key_bytes(etype, sw_keys[i]->data, keylen);
    }
    /* Registered once; the keys live until exit, as a fuzz run's do. */
    atexit(sw_free_keys);
}

const base_secret *
fuzz_sw_key(size_t etype_index)
{
    return sw_keys[etype_index % FUZZ_N_ETYPES];
}

/*
 * Opens ct[0..len) with the cipher alone, without the integrity check,
 * from krbsw's primitives: conf_out gets the confounder (16 or 8 bytes),
 * plain_out (len bytes of room) the plaintext, *plen_out its length.
 * Needs len >= overhead.
 */
static hsmssp_err
sw_open(int32_t etype, const uint8_t *key, int32_t usage, const uint8_t *ct,
        size_t len, uint8_t conf_out[16], uint8_t *plain_out,
        size_t *plen_out)
{
    size_t cksum = krbsw_cksum_len(etype);
    size_t conf_len = krbsw_confounder_len(etype);
    base_secret *ke = NULL, *work = NULL;
    size_t n = 0;
    hsmssp_err ret;

    *plen_out = 0;
    /* One secure buffer for every intermediate: the RC4 keys (K1 at 0,
     * K3 at 16) and the opened confounder||plaintext at 64. */
    ret = base_secret_new(64 + len, 64 + len, &work);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (etype == HSM_ETYPE_RC4_HMAC) {
        /* RFC 4757 sec. 5: K1 = HMAC-MD5(K, T), K3 = HMAC-MD5(K1,
         * checksum), and the body after the checksum is RC4(K3,
         * confounder || plaintext). */
        uint32_t t = (uint32_t)krbsw_rc4_usage(usage);
        uint8_t tb[4] = {(uint8_t)t, (uint8_t)(t >> 8), (uint8_t)(t >> 16),
                         (uint8_t)(t >> 24)};

        ret = krbsw_hmac("MD5", key, 16, tb, sizeof(tb), work->data, &n);
        if (ret == HSMSSP_OK)
            ret = krbsw_hmac("MD5", work->data, 16, ct, cksum,
                             work->data + 16, &n);
        if (ret == HSMSSP_OK)
            ret = krbsw_rc4(work->data + 16, 16, ct + cksum, len - cksum,
                            work->data + 64);
    } else {
        /* RFC 3961/3962/8009: the body before the checksum is
         * AES-CTS(Ke, iv 0, confounder || plaintext). */
        ret = krbsw_derive(etype, key, usage, KRBSW_ROLE_KE, &ke);
        if (ret == HSMSSP_OK)
            ret = krbsw_cts_decrypt(ke->data, ke->len, NULL, ct, len - cksum,
                                    work->data + 64);
    }
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(conf_out, work->data + 64, conf_len);
    *plen_out = len - cksum - conf_len;
    memcpy(plain_out, work->data + 64 + conf_len, *plen_out);
cleanup:
    base_secret_free(ke);
    base_secret_free(work);
    return ret;
}

hsmssp_err
fuzz_sw_decrypt_checked(size_t etype_index, size_t usage_index,
                        const uint8_t *ct, size_t len, uint8_t *out,
                        size_t *out_len)
{
    int32_t etype = fuzz_etype_at(etype_index);
    int32_t usage = fuzz_usage_at(usage_index);
    const uint8_t *key = fuzz_sw_key(etype_index)->data;
    size_t over = 0, plen = 0, re_len = 0;
    uint8_t conf[16];
    uint8_t *ref = NULL, *re = NULL;
    hsmssp_err ret, r2;

    r2 = krbsw_enc_len(etype, 0, &over);
    FUZZ_CHECK(r2 == HSMSSP_OK, "krbsw_enc_len: %s", hsmssp_err_name(r2));
    memset(out, FUZZ_FILL, len);
    *out_len = 0;
    ret = krbsw_decrypt(etype, key, usage, ct, len, out, out_len);
    if (ret != HSMSSP_OK) {
        FUZZ_CHECK(ret == (len < over ? HSMSSP_ERR_BAD_CIPHERTEXT
                                      : HSMSSP_ERR_INTEGRITY),
                   "etype %d usage %d, %zu bytes: %s (%s)", (int)etype,
                   (int)usage, len, hsmssp_err_name(ret),
                   hsmssp_last_error_detail());
        FUZZ_CHECK(*out_len == 0, "out_len %zu after failure", *out_len);
        FUZZ_CHECK(fuzz_no_residue(out, len),
                   "etype %d: plaintext left behind after %s", (int)etype,
                   hsmssp_err_name(ret));
        return ret;
    }

    /* Success: the length, the independent opening, the round trip. */
    FUZZ_CHECK(len >= over && *out_len == len - over,
               "etype %d: %zu bytes in, %zu out, overhead %zu", (int)etype,
               len, *out_len, over);
    ref = malloc(len + 1);
    re = malloc(len + 1);
    FUZZ_CHECK(ref != NULL && re != NULL, "out of memory");
    r2 = sw_open(etype, key, usage, ct, len, conf, ref, &plen);
    FUZZ_CHECK(r2 == HSMSSP_OK, "sw_open: %s", hsmssp_err_name(r2));
    FUZZ_CHECK(plen == *out_len && memcmp(ref, out, plen) == 0,
               "etype %d: decrypt and the bare cipher disagree", (int)etype);
    r2 = krbsw_encrypt(etype, key, usage, conf, out, *out_len, re, &re_len);
    FUZZ_CHECK(r2 == HSMSSP_OK, "krbsw_encrypt: %s", hsmssp_err_name(r2));
    FUZZ_CHECK(re_len == len && memcmp(re, ct, len) == 0,
               "etype %d usage %d: re-encryption of an accepted %zu-byte "
               "ciphertext differs", (int)etype, (int)usage, len);
    free(ref);
    free(re);
    return ret;
}

bool
fuzz_synth_ciphertext(const uint8_t *data, size_t size, uint8_t **ct_out,
                      size_t *len_out, bool *tampered_out)
{
    size_t ei = fuzz_sel_etype_index(data[0]);
    size_t ui = fuzz_sel_usage_index(data[0]);
    int32_t etype = fuzz_etype_at(ei);
    const uint8_t *plain = data + FUZZ_SYNTH_HDR;
    size_t plen, clen = 0, got = 0;
    unsigned t;
    uint8_t conf[16];
    uint8_t *ct;
    hsmssp_err ret;

    *ct_out = NULL;
    *len_out = 0;
    *tampered_out = false;
    if (size < FUZZ_SYNTH_HDR || (data[0] & FUZZ_MODE_SYNTH) == 0)
        return false;
    plen = size - FUZZ_SYNTH_HDR;
    t = ((unsigned)data[1] << 8) | data[2];
    ret = krbsw_enc_len(etype, plen, &clen);
    FUZZ_CHECK(ret == HSMSSP_OK, "krbsw_enc_len: %s", hsmssp_err_name(ret));
    ct = malloc(clen);
    FUZZ_CHECK(ct != NULL, "out of memory");
    fuzz_confounder(conf);
    ret = krbsw_encrypt(etype, fuzz_sw_key(ei)->data, fuzz_usage_at(ui),
                        conf, plain, plen, ct, &got);
    FUZZ_CHECK(ret == HSMSSP_OK && got == clen,
               "krbsw_encrypt etype %d, %zu bytes: %s", (int)etype, plen,
               hsmssp_err_name(ret));
    *tampered_out = fuzz_tamper(ct, clen, t);
    *ct_out = ct;
    *len_out = clen;
    return true;
}
