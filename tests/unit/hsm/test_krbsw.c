/*
 * tests/unit/hsm/test_krbsw.c - properties of the software Kerberos
 * crypto (hsm/krbsw.c) beyond the published vectors (tests/kat):
 * round trips on random keys at the awkward lengths, n-fold and CTS
 * against deliberately naive reference implementations written here from
 * the RFC text, the size table, and the error contract.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hsm/krbsw.h"
#include "testutil.h"

static const int32_t all_etypes[] = {17, 18, 19, 20, 23};
static const size_t lengths[] = {0,  1,  15, 16,   17,   31,
                                 32, 33, 48, 1025, 65536};

static size_t
keylen_of(int32_t etype)
{
    return (etype == 18 || etype == 20) ? 32 : 16;
}

/* A random protocol key in a secret buffer. */
static base_secret *
random_key(int32_t etype)
{
    base_secret *k = NULL;

    TU_OK(base_secret_new(keylen_of(etype), keylen_of(etype), &k));
    TU_OK(krbsw_random(k->data, k->len));
    return k;
}

/* ---- sizes ------------------------------------------------------------ */

static void
test_sizes(void **state)
{
    /* etype, confounder, checksum, Ke, Ki/Kc, PRF length */
    static const struct {
        int32_t et;
        size_t conf, cksum, ke, ki, prf;
    } rows[] = {
        {17, 16, 12, 16, 16, 16}, {18, 16, 12, 32, 32, 16},
        {19, 16, 16, 16, 16, 32}, {20, 16, 24, 32, 24, 48},
        {23, 8, 16, 0, 0, 20},
    };
    size_t n = 0;

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(rows); i++) {
        base_secret *k = random_key(rows[i].et);
        uint8_t out[64];
        size_t plen = 0;

        assert_int_equal(krbsw_confounder_len(rows[i].et), rows[i].conf);
        assert_int_equal(krbsw_cksum_len(rows[i].et), rows[i].cksum);
        assert_int_equal(krbsw_derived_len(rows[i].et, KRBSW_ROLE_KE),
                         rows[i].ke);
        assert_int_equal(krbsw_derived_len(rows[i].et, KRBSW_ROLE_KI),
                         rows[i].ki);
        assert_int_equal(krbsw_derived_len(rows[i].et, KRBSW_ROLE_KC),
                         rows[i].ki);
        assert_int_equal(krbsw_derived_len(rows[i].et, 0x42), 0);
        TU_OK(krbsw_enc_len(rows[i].et, 100, &n));
        assert_int_equal(n, 100 + rows[i].conf + rows[i].cksum);
        TU_OK(krbsw_prf(rows[i].et, k->data, (const uint8_t *)"x", 1, out,
                        &plen));
        assert_int_equal(plen, rows[i].prf);
        base_secret_free(k);
    }
    assert_int_equal(krbsw_cksum_len(16), 0);
    assert_int_equal(krbsw_derived_len(24, KRBSW_ROLE_KE), 0);
    TU_ERR(krbsw_enc_len(18, SIZE_MAX - 4, &n), HSMSSP_ERR_INPUT_TOO_LARGE);
    /* RFC 4757 sec. 3 usage translation. */
    assert_int_equal(krbsw_rc4_usage(3), 8);
    assert_int_equal(krbsw_rc4_usage(23), 13);
    assert_int_equal(krbsw_rc4_usage(7), 7);
    assert_int_equal(krbsw_rc4_usage(1024), 1024);
}

/* ---- round trips ------------------------------------------------------ */

static void
round_trip(int32_t et, size_t len)
{
    base_secret *k = random_key(et);
    size_t clen = 0, n = 0, n2 = 0, plen = 0;
    uint8_t *plain, *ct, *ct2, *back;
    uint8_t ck[64], ck2[64];

    TU_OK(krbsw_enc_len(et, len, &clen));
    plain = malloc(len + 1);
    ct = malloc(clen);
    ct2 = malloc(clen);
    back = malloc(len + 1);
    assert_true(plain && ct && ct2 && back);
    tu_fill(plain, len, (uint32_t)(len * 31 + (size_t)et));

    TU_OK(krbsw_encrypt(et, k->data, 7, NULL, plain, len, ct, &n));
    assert_int_equal(n, clen);
    TU_OK(krbsw_decrypt(et, k->data, 7, ct, clen, back, &plen));
    assert_int_equal(plen, len);
    if (len > 0)
        assert_memory_equal(back, plain, len);
    /* A random confounder: the same message encrypts differently. */
    TU_OK(krbsw_encrypt(et, k->data, 7, NULL, plain, len, ct2, &n));
    assert_memory_not_equal(ct, ct2, clen);

    /* One bit flipped (first, middle and last octet): the integrity check
     * fails and no plaintext is left behind in the caller's buffer. */
    for (int w = 0; w < 3; w++) {
        size_t pos = w == 0 ? 0 : (w == 1 ? clen / 2 : clen - 1);

        ct[pos] ^= 0x10;
        memset(back, 0xEE, len + 1);
        TU_ERR(krbsw_decrypt(et, k->data, 7, ct, clen, back, &plen),
               HSMSSP_ERR_INTEGRITY);
        assert_int_equal(plen, 0);
        for (size_t i = 0; i < len; i++)
            if (back[i] != 0 && back[i] != 0xEE)
                fail_msg("plaintext octet %zu left after failure", i);
        ct[pos] ^= 0x10;
    }
    /* Another usage's key must not open it. */
    TU_ERR(krbsw_decrypt(et, k->data, 8, ct, clen, back, &plen),
           HSMSSP_ERR_INTEGRITY);

    /* Checksums: deterministic, usage-dependent, data-dependent. */
    TU_OK(krbsw_checksum(et, k->data, 7, plain, len, ck, &n));
    assert_int_equal(n, krbsw_cksum_len(et));
    TU_OK(krbsw_checksum(et, k->data, 7, plain, len, ck2, &n2));
    assert_memory_equal(ck, ck2, n);
    TU_OK(krbsw_checksum(et, k->data, 9, plain, len, ck2, &n2));
    assert_memory_not_equal(ck, ck2, n);
    if (len > 0) {
        plain[len - 1] ^= 1;
        TU_OK(krbsw_checksum(et, k->data, 7, plain, len, ck2, &n2));
        assert_memory_not_equal(ck, ck2, n);
    }
    free(plain);
    free(ct);
    free(ct2);
    free(back);
    base_secret_free(k);
}

static void
test_round_trips(void **state)
{
    size_t count = 0;

    (void)state;
    for (size_t e = 0; e < BASE_ARRAY_LEN(all_etypes); e++)
        for (size_t l = 0; l < BASE_ARRAY_LEN(lengths); l++) {
            round_trip(all_etypes[e], lengths[l]);
            count++;
        }
    assert_int_equal(count, 55);
}

/* 16 MiB in one call: no int overflow in the EVP length, no staging copy
 * of the message. */
static void
test_large(void **state)
{
    (void)state;
    round_trip(18, (size_t)16 << 20);
    round_trip(20, (size_t)16 << 20);
    round_trip(23, (size_t)16 << 20);
}

/* A confounder given by the caller is used as is: the same inputs give
 * the same ciphertext (the KATs rely on it to reproduce vectors). */
static void
test_fixed_confounder(void **state)
{
    uint8_t conf[16], msg[40], a[128], b[128];
    size_t na = 0, nb = 0;

    (void)state;
    tu_fill(conf, sizeof(conf), 1);
    tu_fill(msg, sizeof(msg), 2);
    for (size_t e = 0; e < BASE_ARRAY_LEN(all_etypes); e++) {
        base_secret *k = random_key(all_etypes[e]);

        TU_OK(krbsw_encrypt(all_etypes[e], k->data, 3, conf, msg, sizeof(msg),
                            a, &na));
        TU_OK(krbsw_encrypt(all_etypes[e], k->data, 3, conf, msg, sizeof(msg),
                            b, &nb));
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na);
        base_secret_free(k);
    }
}

/* ---- n-fold ------------------------------------------------------------ */

/*
 * Naive n-fold from the RFC 3961 sec. 5.1 text: build the whole lcm-bit
 * string of rotated copies bit by bit, then add the n-bit pieces as big
 * numbers in an array of 32-bit words and fold the overflow back in at the
 * end (one's-complement addition).
 */
static void
nfold_naive(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
    size_t inbits = inlen * 8, outbits = outlen * 8, a = inbits, b = outbits;
    size_t lcm, pieces;
    uint8_t *bits;
    uint32_t *acc; /* one word per output octet, big-endian order */

    while (b != 0) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    lcm = inbits / a * outbits;
    bits = malloc(lcm);
    acc = calloc(outlen, sizeof(*acc));
    assert_true(bits && acc);
    for (size_t i = 0; i < lcm; i++) {
        size_t copy = i / inbits, j = i % inbits;
        /* Copy number copy is rotated right by 13 * copy bits: its bit j
         * is the input's bit j - 13 * copy (mod inbits). */
        size_t src = (j + inbits * 13 * (copy + 1) - 13 * copy) % inbits;
        bits[i] = (in[src / 8] >> (7 - src % 8)) & 1;
    }
    pieces = lcm / outbits;
    for (size_t p = 0; p < pieces; p++)
        for (size_t o = 0; o < outlen; o++) {
            uint32_t v = 0;
            for (size_t k = 0; k < 8; k++)
                v = (v << 1) | bits[p * outbits + o * 8 + k];
            acc[o] += v;
        }
    /* Normalize with end-around carry until every word is one octet. */
    for (;;) {
        uint32_t carry = 0;
        bool big = false;

        for (size_t o = outlen; o-- > 0;) {
            acc[o] += carry;
            carry = acc[o] >> 8;
            acc[o] &= 0xFF;
        }
        acc[outlen - 1] += carry;
        for (size_t o = 0; o < outlen; o++)
            big |= acc[o] > 0xFF;
        if (!big)
            break;
    }
    for (size_t o = 0; o < outlen; o++)
        out[o] = (uint8_t)acc[o];
    free(bits);
    free(acc);
}

static void
test_nfold(void **state)
{
    uint8_t in[64], a[64], b[64];
    size_t cases = 0;

    (void)state;
    /* Against the naive version, for every pair of lengths 1..40 and
     * three inputs each (all zero bits, all one bits, pseudo-random). */
    for (size_t il = 1; il <= 40; il++)
        for (size_t ol = 1; ol <= 40; ol++)
            for (uint32_t seed = 0; seed < 3; seed++) {
                if (seed == 0)
                    memset(in, 0, il);
                else if (seed == 1)
                    memset(in, 0xFF, il);
                else
                    tu_fill(in, il, (uint32_t)(il * 64 + ol));
                krbsw_nfold(in, il, a, ol);
                nfold_naive(in, il, b, ol);
                if (memcmp(a, b, ol) != 0)
                    fail_msg("n-fold %zu -> %zu octets differs", il, ol);
                cases++;
            }
    assert_int_equal(cases, 40 * 40 * 3);

    /* Equal lengths: one unrotated copy, the identity. */
    for (size_t l = 1; l <= 64; l++) {
        tu_fill(in, l, (uint32_t)l);
        krbsw_nfold(in, l, a, l);
        assert_memory_equal(a, in, l);
    }
    /* One's-complement corner: x + ~x is all ones ("negative zero"),
     * with no end-around carry; in = x | ~x folded to |x| octets. */
    tu_fill(in, 8, 99);
    for (size_t i = 0; i < 8; i++)
        in[8 + i] = (uint8_t)~in[i];
    krbsw_nfold(in, 16, a, 8);
    nfold_naive(in, 16, b, 8);
    assert_memory_equal(a, b, 8);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(a[i], 0xFF);
    /* Zero-length output writes nothing; zero-length input gives zeros. */
    memset(a, 0x5A, 8);
    krbsw_nfold(in, 8, a, 0);
    assert_int_equal(a[0], 0x5A);
    krbsw_nfold(in, 0, a, 8);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(a[i], 0);
}

/* ---- CTS against a naive reference ------------------------------------ */

/* One raw AES block from OpenSSL's default context: deliberately not
 * krbsw's path. */
static void
aes_ecb(const uint8_t *key, size_t keylen, int enc, const uint8_t in[16],
        uint8_t out[16])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;

    assert_non_null(ctx);
    assert_int_equal(
        EVP_CipherInit_ex(ctx,
                          keylen == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb(),
                          NULL, key, NULL, enc),
        1);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    assert_int_equal(EVP_CipherUpdate(ctx, out, &n, in, 16), 1);
    assert_int_equal(n, 16);
    EVP_CIPHER_CTX_free(ctx);
}

/*
 * RFC 3962 sec. 5 literally: CBC block by block over the zero-padded
 * input; if more than one block, swap the last two ciphertext blocks and
 * drop the padding length from the end.  next_iv = the last CBC block.
 */
static void
cts_naive(const uint8_t *key, size_t keylen, const uint8_t iv[16],
          const uint8_t *in, size_t len, uint8_t *out, uint8_t next[16])
{
    size_t nb = (len + 15) / 16;
    uint8_t *cbc = calloc(nb, 16), chain[16], blk[16];

    assert_non_null(cbc);
    memcpy(chain, iv, 16);
    for (size_t i = 0; i < nb; i++) {
        memset(blk, 0, 16);
        memcpy(blk, in + i * 16, (i + 1) * 16 <= len ? 16 : len - i * 16);
        for (size_t j = 0; j < 16; j++)
            blk[j] ^= chain[j];
        aes_ecb(key, keylen, 1, blk, cbc + i * 16);
        memcpy(chain, cbc + i * 16, 16);
    }
    memcpy(next, chain, 16);
    if (nb > 1) {
        memcpy(blk, cbc + (nb - 2) * 16, 16);
        memcpy(cbc + (nb - 2) * 16, cbc + (nb - 1) * 16, 16);
        memcpy(cbc + (nb - 1) * 16, blk, 16);
    }
    memcpy(out, cbc, len);
    free(cbc);
}

static void
test_cts(void **state)
{
    uint8_t key[32], iv[16], st[16], st2[16], ref_next[16];
    uint8_t in[200], ref[200], got[200], back[200];
    size_t cases = 0;

    (void)state;
    for (size_t keylen = 16; keylen <= 32; keylen += 16)
        for (size_t len = 16; len <= 150; len++) {
            tu_fill(key, keylen, (uint32_t)len);
            tu_fill(iv, 16, (uint32_t)len + 1000);
            tu_fill(in, len, (uint32_t)len + 2000);
            cts_naive(key, keylen, iv, in, len, ref, ref_next);

            memcpy(st, iv, 16);
            TU_OK(krbsw_cts_encrypt(key, keylen, st, in, len, got));
            if (memcmp(got, ref, len) != 0)
                fail_msg("CTS encrypt differs, key %zu, len %zu", keylen, len);
            assert_memory_equal(st, ref_next, 16);
            memcpy(st2, iv, 16);
            TU_OK(krbsw_cts_decrypt(key, keylen, st2, got, len, back));
            assert_memory_equal(back, in, len);
            assert_memory_equal(st2, ref_next, 16);
            /* In place both ways. */
            memcpy(got, in, len);
            TU_OK(krbsw_cts_encrypt(key, keylen, NULL, got, len, got));
            memcpy(st, iv, 16);
            TU_OK(krbsw_cts_decrypt(key, keylen, NULL, got, len, got));
            assert_memory_equal(got, in, len);
            cases++;
        }
    assert_int_equal(cases, 2 * 135);

    /* Chaining: two calls with the carried cipher state equal one CBC
     * pass over the first part followed by CTS of the second, which is
     * how krbsw_encrypt splits confounder and message. */
    tu_fill(key, 16, 5);
    tu_fill(in, 64, 6);
    memset(iv, 0, 16);
    cts_naive(key, 16, iv, in, 64, ref, ref_next);
    memset(st, 0, 16);
    TU_OK(krbsw_cts_encrypt(key, 16, st, in, 16, got));
    TU_OK(krbsw_cts_encrypt(key, 16, st, in + 16, 48, got + 16));
    assert_memory_equal(got, ref, 64);
    assert_memory_equal(st, ref_next, 16);

    /* Too short and bad key sizes. */
    TU_ERR(krbsw_cts_encrypt(key, 16, NULL, in, 15, got),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(krbsw_cts_decrypt(key, 16, NULL, in, 0, got),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(krbsw_cts_encrypt(key, 24, NULL, in, 32, got),
           HSMSSP_ERR_INVALID_ARGUMENT);
}

/* ---- primitives and errors ------------------------------------------- */

static void
test_primitives(void **state)
{
    /* RFC 1320 A.5 and RFC 1321 A.5 "abc". */
    static const uint8_t md4_abc[16] = {0xa4, 0x48, 0x01, 0x7a, 0xaf, 0x21,
                                        0xd8, 0x52, 0x5f, 0xc1, 0x0a, 0xe8,
                                        0x7a, 0xa6, 0x72, 0x9d};
    static const uint8_t md5_abc[16] = {0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2,
                                        0x4f, 0xb0, 0xd6, 0x96, 0x3f, 0x7d,
                                        0x28, 0xe1, 0x7f, 0x72};
    /* RFC 2202 test case 2: HMAC-MD5("Jefe", "what do ya want for
     * nothing?"). */
    static const uint8_t hmac_md5_2[16] = {0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0,
                                           0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31,
                                           0x0a, 0x5d, 0xb7, 0x38};
    /* RFC 6229: RC4 key 0102030405, keystream octets 0..15. */
    static const uint8_t rc4_ks[16] = {0xb2, 0x39, 0x63, 0x05, 0xf0, 0x3d,
                                       0xc0, 0x27, 0xcc, 0xc3, 0x52, 0x4a,
                                       0x0a, 0x11, 0x18, 0xa8};
    static const uint8_t rc4_key[5] = {1, 2, 3, 4, 5};
    const char *jefe = "what do ya want for nothing?";
    uint8_t out[64], zero[16] = {0}, r1[32], r2[32];
    size_t n = 0;

    (void)state;
    TU_OK(krbsw_init());
    TU_OK(krbsw_digest("MD4", (const uint8_t *)"abc", 3, out, &n));
    assert_int_equal(n, 16);
    assert_memory_equal(out, md4_abc, 16);
    TU_OK(krbsw_digest("MD5", (const uint8_t *)"abc", 3, out, &n));
    assert_memory_equal(out, md5_abc, 16);
    TU_OK(krbsw_digest("SHA384", NULL, 0, out, &n));
    assert_int_equal(n, 48);
    TU_OK(krbsw_hmac("MD5", (const uint8_t *)"Jefe", 4, (const uint8_t *)jefe,
                     strlen(jefe), out, &n));
    assert_memory_equal(out, hmac_md5_2, 16);
    TU_OK(krbsw_hmac("SHA256", NULL, 0, NULL, 0, out, &n));
    assert_int_equal(n, 32);
    TU_OK(krbsw_rc4(rc4_key, sizeof(rc4_key), zero, 16, out));
    assert_memory_equal(out, rc4_ks, 16);
    TU_ERR(krbsw_digest("SHA3-256", (const uint8_t *)"a", 1, out, &n),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(krbsw_hmac("MD4", zero, 16, zero, 1, out, &n),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(krbsw_rc4(rc4_key, 0, zero, 16, out), HSMSSP_ERR_INVALID_ARGUMENT);
    /* Random: two draws differ. */
    TU_OK(krbsw_random(r1, sizeof(r1)));
    TU_OK(krbsw_random(r2, sizeof(r2)));
    assert_memory_not_equal(r1, r2, sizeof(r1));
    TU_OK(krbsw_random(r1, 0));
}

static void
test_errors(void **state)
{
    base_secret *k = random_key(18), *out = NULL;
    uint8_t buf[256], params[4];
    size_t n = 0;

    (void)state;
    /* Unknown enctypes, including the retired ones. */
    static const int32_t bad[] = {0, 1, 3, 16, 24, 25, 26, -128, 1000};
    for (size_t i = 0; i < BASE_ARRAY_LEN(bad); i++) {
        TU_ERR(krbsw_encrypt(bad[i], k->data, 1, NULL, buf, 1, buf, &n),
               HSMSSP_ERR_UNKNOWN_ENCTYPE);
        TU_ERR(krbsw_decrypt(bad[i], k->data, 1, buf, 64, buf, &n),
               HSMSSP_ERR_UNKNOWN_ENCTYPE);
        TU_ERR(krbsw_checksum(bad[i], k->data, 1, buf, 1, buf, &n),
               HSMSSP_ERR_UNKNOWN_ENCTYPE);
        TU_ERR(krbsw_prf(bad[i], k->data, buf, 1, buf, &n),
               HSMSSP_ERR_UNKNOWN_ENCTYPE);
        TU_ERR(krbsw_string_to_key(bad[i], "pw", 2, NULL, 0, NULL, 0, &out),
               HSMSSP_ERR_UNKNOWN_ENCTYPE);
        assert_null(out);
    }
    /* No per-usage keys for RC4, no unknown roles. */
    TU_ERR(krbsw_derive(23, k->data, 1, KRBSW_ROLE_KE, &out),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(krbsw_derive(18, k->data, 1, 0x42, &out),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(krbsw_kdf_hmac_sha2(18, k->data, 32, buf, 5, 128, &out),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(krbsw_kdf_hmac_sha2(19, k->data, 16, buf, 5, 0, &out),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(krbsw_kdf_hmac_sha2(19, k->data, 16, buf, 5, 12, &out),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(krbsw_dk_aes(k->data, 24, buf, 5, &out),
           HSMSSP_ERR_INVALID_ARGUMENT);
    assert_null(out);
    /* Output longer than one HMAC block uses counter i = 2 (SP800-108);
     * no Kerberos use needs it, so only its length is checked. */
    TU_OK(krbsw_kdf_hmac_sha2(19, k->data, 16, buf, 5, 512, &out));
    assert_int_equal(out->len, 64);
    base_secret_free(out);
    out = NULL;

    /* String-to-key parameters: four octets, 1..2^24 iterations. */
    TU_ERR(krbsw_string_to_key(17, "pw", 2, buf, 3, params, 3, &out),
           HSMSSP_ERR_INVALID_ARGUMENT);
    base_store_be32(params, 0);
    TU_ERR(krbsw_string_to_key(17, "pw", 2, buf, 3, params, 4, &out),
           HSMSSP_ERR_INVALID_ARGUMENT);
    base_store_be32(params, 0x1000001);
    TU_ERR(krbsw_string_to_key(19, "pw", 2, buf, 3, params, 4, &out),
           HSMSSP_ERR_INVALID_ARGUMENT);
    assert_null(out);
    /* Default iteration count 4096 for aes-sha1 (RFC 3962 sec. 4). */
    {
        base_secret *a = NULL, *b = NULL;
        base_store_be32(params, 4096);
        TU_OK(krbsw_string_to_key(17, "pw", 2, (const uint8_t *)"S", 1, NULL,
                                  0, &a));
        TU_OK(krbsw_string_to_key(17, "pw", 2, (const uint8_t *)"S", 1, params,
                                  4, &b));
        assert_memory_equal(a->data, b->data, 16);
        base_secret_free(a);
        base_secret_free(b);
    }

    /* Too-short ciphertexts: a clear error, for every length. */
    for (size_t e = 0; e < BASE_ARRAY_LEN(all_etypes); e++) {
        size_t min = krbsw_confounder_len(all_etypes[e]) +
                     krbsw_cksum_len(all_etypes[e]);
        for (size_t l = 0; l < min; l++)
            TU_ERR(krbsw_decrypt(all_etypes[e], k->data, 1, buf, l, buf, &n),
                   HSMSSP_ERR_BAD_CIPHERTEXT);
        /* Exactly the minimum is an empty message whose check fails. */
        memset(buf, 0, min);
        TU_ERR(krbsw_decrypt(all_etypes[e], k->data, 1, buf, min, buf, &n),
               HSMSSP_ERR_INTEGRITY);
    }
    base_secret_free(k);
}

/* RFC 4757 string-to-key: MD4 over UTF-16LE, surrogate pairs included,
 * malformed UTF-8 refused. */
static void
test_rc4_s2k(void **state)
{
    /* U+00E9 U+20AC U+1D11E as UTF-8 and as UTF-16LE. */
    static const char utf8[] = "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e";
    static const uint8_t utf16[] = {0xe9, 0x00, 0xac, 0x20,
                                    0x34, 0xd8, 0x1e, 0xdd};
    static const char *const bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xed\xa0\x80",     /* UTF-8 encoded surrogate */
        "\xf4\x90\x80\x80", /* > U+10FFFF */
        "\xe2\x82",         /* truncated */
        "\x80",             /* lone continuation */
        "\xff",
    };
    base_secret *k = NULL;
    uint8_t md[16];
    size_t n = 0;

    (void)state;
    TU_OK(krbsw_string_to_key(23, utf8, strlen(utf8), NULL, 0, NULL, 0, &k));
    TU_OK(krbsw_digest("MD4", utf16, sizeof(utf16), md, &n));
    assert_int_equal(k->len, 16);
    assert_memory_equal(k->data, md, 16);
    base_secret_free(k);
    k = NULL;
    for (size_t i = 0; i < BASE_ARRAY_LEN(bad); i++) {
        TU_ERR(krbsw_string_to_key(23, bad[i], strlen(bad[i]), NULL, 0, NULL,
                                   0, &k),
               HSMSSP_ERR_INVALID_ARGUMENT);
        assert_null(k);
    }
    /* The empty password is valid: MD4 of nothing. */
    TU_OK(krbsw_string_to_key(23, "", 0, NULL, 0, NULL, 0, &k));
    TU_OK(krbsw_digest("MD4", NULL, 0, md, &n));
    assert_memory_equal(k->data, md, 16);
    base_secret_free(k);
}

/* ---- threads ------------------------------------------------------------ */

/* No cmocka asserts here: cmocka's failure path is not thread-safe, so
 * a thread reports failure through its return value. */
static void *
thread_main(void *arg)
{
    int32_t et = *(const int32_t *)arg;
    uint8_t key[32], msg[700], ct[800], back[800];
    size_t n = 0, m = 0, clen = 0;
    void *failed = (void *)1;

    for (size_t len = 0; len < sizeof(msg); len += 37) {
        if (krbsw_random(key, sizeof(key)) != HSMSSP_OK)
            return failed;
        tu_fill(msg, len, (uint32_t)len);
        if (krbsw_enc_len(et, len, &clen) != HSMSSP_OK ||
            krbsw_encrypt(et, key, 5, NULL, msg, len, ct, &n) != HSMSSP_OK ||
            n != clen ||
            krbsw_decrypt(et, key, 5, ct, n, back, &m) != HSMSSP_OK ||
            m != len || (len > 0 && memcmp(back, msg, len) != 0))
            return failed;
    }
    return NULL;
}

/* Several threads race to the first call (pthread_once) and then share
 * the fetched algorithms. */
static void
test_threads(void **state)
{
    pthread_t th[BASE_ARRAY_LEN(all_etypes)];

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(all_etypes); i++)
        assert_int_equal(
            pthread_create(&th[i], NULL, thread_main, (void *)&all_etypes[i]),
            0);
    for (size_t i = 0; i < BASE_ARRAY_LEN(all_etypes); i++) {
        void *res = NULL;
        assert_int_equal(pthread_join(th[i], &res), 0);
        if (res != NULL)
            fail_msg("thread for etype %d failed", (int)all_etypes[i]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        /* First, so that init runs under concurrency. */
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_fixed_confounder),
        cmocka_unit_test(test_nfold),
        cmocka_unit_test(test_cts),
        cmocka_unit_test(test_primitives),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_rc4_s2k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
