/*
 * hsm/krbsw.c - Kerberos cryptography on the host with OpenSSL 3 (see
 * krbsw.h for the contract).
 *
 * Everything goes through one private OSSL_LIB_CTX with the "default" and
 * "legacy" providers, created once (pthread_once).  The application's own
 * default context is never touched, so an application that configured
 * OpenSSL differently (FIPS, a custom openssl.cnf) keeps its setup, and we
 * keep MD4 and RC4, which live in the legacy provider.
 *
 * The enctypes are rows of one table (etypes[]); the code below branches
 * on the row's family (aes-sha1 of RFC 3962, aes-sha2 of RFC 8009, RC4-HMAC
 * of RFC 4757), never on raw numbers.
 *
 * Secrets: every key this file computes (per-usage keys, RC4-HMAC K1/K3 and
 * Ksign, PBKDF2 output, the UTF-16 password) lives in a base_secret and is
 * freed, hence wiped, on every path.  Small stack buffers that held
 * plaintext or key-dependent blocks are wiped with base_memzero before the
 * function returns.  Integrity checks compare with base_ct_equal.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "hsm/krbsw.h"

#define AES_BLOCK 16
#define MAX_MD 64 /* largest digest we use is SHA-384 (48) */

/* ------------------------------------------------------------------ */
/* The enctype table                                                    */
/* ------------------------------------------------------------------ */

typedef enum krb_family {
    FAM_AES_SHA1, /* RFC 3962: DK, HMAC-SHA1-96 over the plaintext */
    FAM_AES_SHA2, /* RFC 8009: KDF-HMAC-SHA2, HMAC over IV|ciphertext */
    FAM_RC4       /* RFC 4757: RC4 + HMAC-MD5, no per-usage DK */
} krb_family;

typedef struct krb_etype {
    int32_t etype;
    const char *name; /* RFC name; RFC 8009 also uses it as PBKDF2 salt */
    krb_family family;
    size_t keylen;      /* protocol key length */
    size_t ke_len;      /* Ke length (encryption key) */
    size_t ki_len;      /* Ki and Kc length (integrity / checksum keys) */
    size_t cksum_len;   /* truncated HMAC length (h in RFC 3961) */
    size_t conf_len;    /* confounder length */
    size_t prf_len;     /* RFC 3961 PRF output length */
    const char *mac;    /* HMAC digest of integrity and checksum */
    const char *kdf_md; /* PBKDF2 digest (and RFC 8009 KDF digest) */
    uint32_t s2k_iter;  /* default PBKDF2 iteration count */
} krb_etype;

/*
 * One row per supported enctype.  DES, DES3 and the RC4 export variant
 * (24) are absent on purpose: RFC 6649 and RFC 8429 deprecate them, and the
 * engine has no token strategy for them.  RC4-HMAC (23) stays because
 * Active Directory still issues it; policy decides whether it may run.
 */
static const krb_etype etypes[] = {
    /* RFC 3962: 4096 iterations by default (sec. 4). */
    {17, "aes128-cts-hmac-sha1-96", FAM_AES_SHA1, 16, 16, 16, 12, 16, 16,
     "SHA1", "SHA1", 4096},
    {18, "aes256-cts-hmac-sha1-96", FAM_AES_SHA1, 32, 32, 32, 12, 16, 16,
     "SHA1", "SHA1", 4096},
    /* RFC 8009 sec. 4/5: 32768 iterations by default; Ki/Kc are as long as
     * the truncated HMAC (128 / 192 bits). */
    {19, "aes128-cts-hmac-sha256-128", FAM_AES_SHA2, 16, 16, 16, 16, 16, 32,
     "SHA256", "SHA256", 32768},
    {20, "aes256-cts-hmac-sha384-192", FAM_AES_SHA2, 32, 32, 24, 24, 16, 48,
     "SHA384", "SHA384", 32768},
    /* RFC 4757: 16-octet key, 8-octet confounder, 16-octet HMAC-MD5.  The
     * PRF is HMAC-SHA1 (20 octets), as MIT and Heimdal compute it. */
    {23, "arcfour-hmac", FAM_RC4, 16, 0, 0, 16, 8, 20, "MD5", NULL, 0},
};

/* Linear lookup: five rows, and a predictable order for tests. */
static const krb_etype *
find_etype(int32_t etype)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(etypes); i++)
        if (etypes[i].etype == etype)
            return &etypes[i];
    return NULL;
}

static hsmssp_err
need_etype(int32_t etype, const krb_etype **out)
{
    *out = find_etype(etype);
    if (*out == NULL)
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE, "enctype %d", (int)etype);
    return HSMSSP_OK;
}

/* ------------------------------------------------------------------ */
/* The private library context                                          */
/* ------------------------------------------------------------------ */

/* Digests we fetch once.  MD4 may be missing when the legacy provider is
 * not installed; only RC4-HMAC string-to-key needs it, and it then fails
 * with a clear message instead of the whole module failing. */
static const char *const md_names[] = {"MD4", "MD5", "SHA1", "SHA256",
                                       "SHA384"};

static struct {
    pthread_once_t once;
    hsmssp_err err;
    OSSL_LIB_CTX *libctx;
    OSSL_PROVIDER *prov_default;
    OSSL_PROVIDER *prov_legacy;
    EVP_CIPHER *aes128_cbc, *aes256_cbc, *aes128_ecb, *aes256_ecb;
    EVP_CIPHER *rc4; /* NULL without the legacy provider */
    EVP_MAC *hmac;
    EVP_KDF *pbkdf2;
    EVP_MD *md[BASE_ARRAY_LEN(md_names)];
} g = {.once = PTHREAD_ONCE_INIT};

/*
 * Runs once.  The fetched algorithm objects are immutable and OpenSSL
 * allows sharing them between threads; per-call state lives in contexts
 * created by each call.  The objects are kept for the life of the process
 * (reachable from g, so LeakSanitizer does not count them).
 */
static void
init_once(void)
{
    g.err = HSMSSP_ERR_CRYPTO;
    g.libctx = OSSL_LIB_CTX_new();
    if (g.libctx == NULL)
        return;
    g.prov_default = OSSL_PROVIDER_load(g.libctx, "default");
    if (g.prov_default == NULL)
        return;
    /* Legacy is best effort: RC4 and MD4 report their absence on use. */
    g.prov_legacy = OSSL_PROVIDER_load(g.libctx, "legacy");

    g.aes128_cbc = EVP_CIPHER_fetch(g.libctx, "AES-128-CBC", NULL);
    g.aes256_cbc = EVP_CIPHER_fetch(g.libctx, "AES-256-CBC", NULL);
    g.aes128_ecb = EVP_CIPHER_fetch(g.libctx, "AES-128-ECB", NULL);
    g.aes256_ecb = EVP_CIPHER_fetch(g.libctx, "AES-256-ECB", NULL);
    g.hmac = EVP_MAC_fetch(g.libctx, "HMAC", NULL);
    g.pbkdf2 = EVP_KDF_fetch(g.libctx, "PBKDF2", NULL);
    if (g.aes128_cbc == NULL || g.aes256_cbc == NULL || g.aes128_ecb == NULL ||
        g.aes256_ecb == NULL || g.hmac == NULL || g.pbkdf2 == NULL)
        return;
    if (g.prov_legacy != NULL)
        g.rc4 = EVP_CIPHER_fetch(g.libctx, "RC4", NULL);
    for (size_t i = 0; i < BASE_ARRAY_LEN(md_names); i++) {
        g.md[i] = EVP_MD_fetch(g.libctx, md_names[i], NULL);
        /* Everything but MD4 comes from the default provider. */
        if (g.md[i] == NULL && strcmp(md_names[i], "MD4") != 0)
            return;
    }
    g.err = HSMSSP_OK;
}

hsmssp_err
krbsw_init(void)
{
    if (pthread_once(&g.once, init_once) != 0)
        return BASE_ERR(HSMSSP_ERR_INTERNAL, "pthread_once failed");
    if (g.err != HSMSSP_OK)
        return BASE_ERR(g.err, "OpenSSL library context or providers "
                               "unavailable");
    return HSMSSP_OK;
}

/* The fetched digest of that name, or NULL (unknown name or provider). */
static EVP_MD *
get_md(const char *name)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(md_names); i++)
        if (name != NULL && strcmp(md_names[i], name) == 0)
            return g.md[i];
    return NULL;
}

/* AES-CBC or AES-ECB for a 16- or 32-octet key. */
static hsmssp_err
aes_cipher(size_t keylen, bool ecb, EVP_CIPHER **out)
{
    *out = NULL;
    if (keylen == 16)
        *out = ecb ? g.aes128_ecb : g.aes128_cbc;
    else if (keylen == 32)
        *out = ecb ? g.aes256_ecb : g.aes256_cbc;
    else
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "AES key length %zu",
                        keylen);
    return HSMSSP_OK;
}

/* EVP_*Update take an int length; feed large inputs in chunks so a 16 MiB
 * or larger message never overflows it.  Block-aligned chunk size keeps
 * CBC without padding exact. */
#define EVP_CHUNK ((size_t)1 << 30)

static hsmssp_err
cipher_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
    while (len > 0) {
        size_t n = len < EVP_CHUNK ? len : EVP_CHUNK;
        int outl = 0;

        if (EVP_CipherUpdate(ctx, out, &outl, in, (int)n) != 1 ||
            (size_t)outl != n)
            return BASE_ERR(HSMSSP_ERR_CRYPTO, "cipher update failed");
        in += n;
        out += n;
        len -= n;
    }
    return HSMSSP_OK;
}

/* A cipher context with padding off, ready to encrypt (enc=1) or decrypt
 * (enc=0) with key and, for CBC, iv. */
static hsmssp_err
cipher_ctx(const EVP_CIPHER *cipher, int enc, const uint8_t *key,
           const uint8_t *iv, EVP_CIPHER_CTX **out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    hsmssp_err ret = HSMSSP_OK;

    *out = NULL;
    if (ctx == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    if (EVP_CipherInit_ex2(ctx, cipher, key, iv, enc, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
        ret = BASE_ERR(HSMSSP_ERR_CRYPTO, "cipher init failed");
        goto cleanup;
    }
    *out = ctx;
    ctx = NULL;
cleanup:
    EVP_CIPHER_CTX_free(ctx);
    return ret;
}

/* ------------------------------------------------------------------ */
/* HMAC and digests                                                     */
/* ------------------------------------------------------------------ */

/* Starts an HMAC.  OpenSSL wants a non-NULL key pointer even for an empty
 * key (RFC 2104 allows one), hence the static byte. */
static hsmssp_err
mac_start(const char *digest, const uint8_t *key, size_t keylen,
          EVP_MAC_CTX **out)
{
    static const uint8_t empty = 0;
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    hsmssp_err ret;

    *out = NULL;
    ret = krbsw_init();
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (get_md(digest) == NULL || strcmp(digest, "MD4") == 0) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "HMAC digest %s",
                       digest != NULL ? digest : "(null)");
        goto cleanup;
    }
    ctx = EVP_MAC_CTX_new(g.hmac);
    if (ctx == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, key != NULL ? key : &empty, keylen, params) != 1) {
        ret = BASE_ERR(HSMSSP_ERR_CRYPTO, "HMAC-%s init failed", digest);
        goto cleanup;
    }
    *out = ctx;
    ctx = NULL;
cleanup:
    EVP_MAC_CTX_free(ctx);
    return ret;
}

static hsmssp_err
mac_update(EVP_MAC_CTX *ctx, const uint8_t *data, size_t len)
{
    if (len > 0 && EVP_MAC_update(ctx, data, len) != 1)
        return BASE_ERR(HSMSSP_ERR_CRYPTO, "HMAC update failed");
    return HSMSSP_OK;
}

static hsmssp_err
mac_finish(EVP_MAC_CTX *ctx, uint8_t *out, size_t *out_len)
{
    size_t n = 0;

    if (EVP_MAC_final(ctx, out, &n, MAX_MD) != 1)
        return BASE_ERR(HSMSSP_ERR_CRYPTO, "HMAC final failed");
    *out_len = n;
    return HSMSSP_OK;
}

/* HMAC over the concatenation of two pieces, the shape of every Kerberos
 * MAC here (confounder|plaintext, IV|ciphertext, T|data). */
static hsmssp_err
hmac2(const char *digest, const uint8_t *key, size_t keylen, const uint8_t *a,
      size_t alen, const uint8_t *b, size_t blen, uint8_t *out,
      size_t *out_len)
{
    EVP_MAC_CTX *ctx = NULL;
    hsmssp_err ret;

    ret = mac_start(digest, key, keylen, &ctx);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = mac_update(ctx, a, alen);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = mac_update(ctx, b, blen);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = mac_finish(ctx, out, out_len);
cleanup:
    EVP_MAC_CTX_free(ctx);
    return ret;
}

hsmssp_err
krbsw_hmac(const char *digest, const uint8_t *key, size_t keylen,
           const uint8_t *data, size_t len, uint8_t *out, size_t *out_len)
{
    *out_len = 0;
    return hmac2(digest, key, keylen, data, len, NULL, 0, out, out_len);
}

hsmssp_err
krbsw_digest(const char *digest, const uint8_t *data, size_t len, uint8_t *out,
             size_t *out_len)
{
    EVP_MD_CTX *ctx = NULL;
    EVP_MD *md;
    unsigned int n = 0;
    hsmssp_err ret;

    *out_len = 0;
    ret = krbsw_init();
    if (ret != HSMSSP_OK)
        goto cleanup;
    md = get_md(digest);
    if (md == NULL) {
        /* A known name whose provider is missing is an environment
         * problem, not a caller error: say which. */
        ret = (digest != NULL && strcmp(digest, "MD4") == 0)
                  ? BASE_ERR(HSMSSP_ERR_CRYPTO,
                             "MD4 needs the OpenSSL legacy provider")
                  : BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "digest %s",
                             digest != NULL ? digest : "(null)");
        goto cleanup;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    if (EVP_DigestInit_ex2(ctx, md, NULL) != 1 ||
        (len > 0 && EVP_DigestUpdate(ctx, data, len) != 1) ||
        EVP_DigestFinal_ex(ctx, out, &n) != 1) {
        ret = BASE_ERR(HSMSSP_ERR_CRYPTO, "%s failed", digest);
        goto cleanup;
    }
    *out_len = n;
cleanup:
    EVP_MD_CTX_free(ctx);
    return ret;
}

/* ------------------------------------------------------------------ */
/* RC4 and random                                                       */
/* ------------------------------------------------------------------ */

/* An RC4 stream context keyed with key (any length 1..256). */
static hsmssp_err
rc4_start(const uint8_t *key, size_t keylen, EVP_CIPHER_CTX **out)
{
    EVP_CIPHER_CTX *ctx = NULL;
    hsmssp_err ret;

    *out = NULL;
    ret = krbsw_init();
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (g.rc4 == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_CRYPTO,
                       "RC4 needs the OpenSSL legacy provider");
        goto cleanup;
    }
    if (keylen == 0 || keylen > 256) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "RC4 key length %zu",
                       keylen);
        goto cleanup;
    }
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    /* The key length must be set before the key: RC4's default is 16. */
    if (EVP_CipherInit_ex2(ctx, g.rc4, NULL, NULL, 1, NULL) != 1 ||
        EVP_CIPHER_CTX_set_key_length(ctx, (int)keylen) != 1 ||
        EVP_CipherInit_ex2(ctx, NULL, key, NULL, 1, NULL) != 1) {
        ret = BASE_ERR(HSMSSP_ERR_CRYPTO, "RC4 init failed");
        goto cleanup;
    }
    *out = ctx;
    ctx = NULL;
cleanup:
    EVP_CIPHER_CTX_free(ctx);
    return ret;
}

hsmssp_err
krbsw_rc4(const uint8_t *key, size_t keylen, const uint8_t *in, size_t len,
          uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = NULL;
    hsmssp_err ret;

    ret = rc4_start(key, keylen, &ctx);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = cipher_update(ctx, out, in, len);
cleanup:
    EVP_CIPHER_CTX_free(ctx);
    return ret;
}

hsmssp_err
krbsw_random(uint8_t *out, size_t n)
{
    hsmssp_err ret = krbsw_init();

    if (ret != HSMSSP_OK || n == 0)
        return ret;
    /* The DRBG of our own context, seeded from the OS; strength 256. */
    if (RAND_bytes_ex(g.libctx, out, n, 256) != 1)
        return BASE_ERR(HSMSSP_ERR_RANDOM, "RAND_bytes_ex failed");
    return HSMSSP_OK;
}

/* ------------------------------------------------------------------ */
/* n-fold, DK, KDF-HMAC-SHA2                                            */
/* ------------------------------------------------------------------ */

static size_t
gcd(size_t a, size_t b)
{
    while (b != 0) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Bit i (0 = most significant bit of in[0]) of the nbits-bit string in
 * rotated right by rot bits. */
static unsigned
rotated_bit(const uint8_t *in, size_t nbits, size_t rot, size_t i)
{
    size_t src = (i + nbits - rot % nbits) % nbits;
    return (in[src / 8] >> (7 - src % 8)) & 1u;
}

/*
 * RFC 3961 sec. 5.1: replicate the input to the least common multiple of
 * the two lengths, each successive copy rotated right by 13 more bits,
 * cut the result into outlen-byte pieces and add them with one's-
 * complement (end-around carry) addition.  Written for clarity over speed:
 * the inputs are usage constants and passwords, a few dozen octets.
 */
void
krbsw_nfold(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
    size_t lcm, nbits;

    if (outlen == 0)
        return;
    memset(out, 0, outlen);
    if (inlen == 0)
        return;
    lcm = inlen / gcd(inlen, outlen) * outlen;
    nbits = inlen * 8;
    /* Walk the lcm-byte stream one output-sized piece at a time. */
    for (size_t piece = 0; piece < lcm / outlen; piece++) {
        unsigned carry = 0;

        /* Big-endian addition, least significant byte first. */
        for (size_t j = outlen; j-- > 0;) {
            size_t pos = piece * outlen + j; /* byte index in the stream */
            size_t copy = pos / inlen;       /* which rotated copy */
            size_t off = (pos % inlen) * 8;  /* bit offset in that copy */
            unsigned byte = 0;

            for (size_t b = 0; b < 8; b++)
                byte =
                    (byte << 1) | rotated_bit(in, nbits, 13 * copy, off + b);
            carry += out[j] + byte;
            out[j] = (uint8_t)carry;
            carry >>= 8;
        }
        /* End-around carry: adding it can carry again only when the sum
         * wrapped to all zeros, which the loop handles. */
        while (carry != 0) {
            for (size_t j = outlen; j-- > 0 && carry != 0;) {
                carry += out[j];
                out[j] = (uint8_t)carry;
                carry >>= 8;
            }
        }
    }
}

/* One AES block of key encrypted with no chaining (E with zero IV on one
 * block, which is what RFC 3962 CTS reduces to for one block). */
static hsmssp_err
aes_block(const uint8_t *key, size_t keylen, const uint8_t in[AES_BLOCK],
          uint8_t out[AES_BLOCK])
{
    EVP_CIPHER_CTX *ctx = NULL;
    EVP_CIPHER *cipher;
    hsmssp_err ret;

    ret = aes_cipher(keylen, true, &cipher);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = cipher_ctx(cipher, 1, key, NULL, &ctx);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = cipher_update(ctx, out, in, AES_BLOCK);
cleanup:
    EVP_CIPHER_CTX_free(ctx);
    return ret;
}

/*
 * RFC 3961 sec. 5.1 DK(Key, Constant) = random-to-key(DR(Key, Constant)),
 * DR = k-truncate(K1 | K2 | ...), K1 = E(Key, n-fold(Constant)),
 * Ki+1 = E(Key, Ki).  For AES (RFC 3962 sec. 6) the constant is folded to
 * the 128-bit block, E is one AES block, and random-to-key is identity.
 */
hsmssp_err
krbsw_dk_aes(const uint8_t *key, size_t keylen, const uint8_t *constant,
             size_t clen, base_secret **out)
{
    base_secret *dk = NULL;
    uint8_t block[AES_BLOCK];
    hsmssp_err ret;

    *out = NULL;
    ret = krbsw_init();
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (keylen != 16 && keylen != 32) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "AES key length %zu",
                       keylen);
        goto cleanup;
    }
    ret = base_secret_new(keylen, keylen, &dk);
    if (ret != HSMSSP_OK)
        goto cleanup;
    krbsw_nfold(constant, clen, block, AES_BLOCK);
    for (size_t done = 0; done < keylen; done += AES_BLOCK) {
        /* Each block's output is the next block's input. */
        ret = aes_block(key, keylen, block, block);
        if (ret != HSMSSP_OK)
            goto cleanup;
        memcpy(dk->data + done, block, AES_BLOCK);
    }
    *out = dk;
    dk = NULL;
cleanup:
    base_memzero(block, sizeof(block));
    base_secret_free(dk);
    return ret;
}

/*
 * RFC 8009 sec. 3: KDF-HMAC-SHA2(key, label, [context,] k) = k-truncate(K1)
 * with K1 = HMAC-SHA-256/384(key, i | label | 0x00 | context | k), i = 1
 * and k the output length in bits, both 32-bit big-endian: NIST SP800-108
 * counter mode.  We loop over i for generality (every Kerberos use fits in
 * one HMAC output).  context is empty for key derivation and is the PRF
 * input for the RFC 8009 sec. 5 PRF.
 */
static hsmssp_err
kdf_hmac_sha2(const char *md, const uint8_t *key, size_t keylen,
              const uint8_t *label, size_t label_len, const uint8_t *context,
              size_t context_len, size_t outbits, base_secret **out)
{
    static const uint8_t zero = 0;
    base_secret *k = NULL;
    EVP_MAC_CTX *ctx = NULL;
    uint8_t kbe[4], ibe[4], block[MAX_MD];
    size_t outlen = outbits / 8, done = 0, n = 0;
    hsmssp_err ret = HSMSSP_OK;

    *out = NULL;
    if (outbits == 0 || outbits % 8 != 0 || outbits > UINT32_MAX) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "KDF length %zu bits",
                       outbits);
        goto cleanup;
    }
    ret = base_secret_new(outlen, outlen, &k);
    if (ret != HSMSSP_OK)
        goto cleanup;
    base_store_be32(kbe, (uint32_t)outbits);
    for (uint32_t i = 1; done < outlen; i++) {
        base_store_be32(ibe, i);
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
        ret = mac_start(md, key, keylen, &ctx);
        if (ret == HSMSSP_OK)
            ret = mac_update(ctx, ibe, 4);
        if (ret == HSMSSP_OK)
            ret = mac_update(ctx, label, label_len);
        if (ret == HSMSSP_OK)
            ret = mac_update(ctx, &zero, 1);
        if (ret == HSMSSP_OK)
            ret = mac_update(ctx, context, context_len);
        if (ret == HSMSSP_OK)
            ret = mac_update(ctx, kbe, 4);
        if (ret == HSMSSP_OK)
            ret = mac_finish(ctx, block, &n);
        if (ret != HSMSSP_OK)
            goto cleanup;
        if (n > outlen - done)
            n = outlen - done; /* k-truncate: the leftmost bits */
        memcpy(k->data + done, block, n);
        done += n;
    }
    *out = k;
    k = NULL;
cleanup:
    base_memzero(block, sizeof(block));
    EVP_MAC_CTX_free(ctx);
    base_secret_free(k);
    return ret;
}

hsmssp_err
krbsw_kdf_hmac_sha2(int32_t etype, const uint8_t *key, size_t keylen,
                    const uint8_t *label, size_t label_len, size_t outbits,
                    base_secret **out)
{
    const krb_etype *et;
    hsmssp_err ret;

    *out = NULL;
    ret = need_etype(etype, &et);
    if (ret != HSMSSP_OK)
        return ret;
    if (et->family != FAM_AES_SHA2)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "KDF-HMAC-SHA2 is for etypes 19 and 20, not %d",
                        (int)etype);
    return kdf_hmac_sha2(et->mac, key, keylen, label, label_len, NULL, 0,
                         outbits, out);
}

size_t
krbsw_derived_len(int32_t etype, uint8_t role)
{
    const krb_etype *et = find_etype(etype);

    if (et == NULL || et->family == FAM_RC4)
        return 0;
    switch (role) {
    case KRBSW_ROLE_KE:
        return et->ke_len;
    case KRBSW_ROLE_KI:
    case KRBSW_ROLE_KC:
        return et->ki_len;
    default:
        return 0;
    }
}

hsmssp_err
krbsw_derive(int32_t etype, const uint8_t *key, int32_t usage, uint8_t role,
             base_secret **out)
{
    const krb_etype *et;
    uint8_t label[5];
    size_t len;
    hsmssp_err ret;

    *out = NULL;
    ret = need_etype(etype, &et);
    if (ret != HSMSSP_OK)
        return ret;
    len = krbsw_derived_len(etype, role);
    if (len == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "no per-usage key of role 0x%02x for enctype %d", role,
                        (int)etype);
    /* RFC 3961 sec. 5.3 / RFC 8009 sec. 5: the well-known constant is the
     * usage as 32-bit big-endian followed by the role octet. */
    base_store_be32(label, (uint32_t)usage);
    label[4] = role;
    if (et->family == FAM_AES_SHA1)
        return krbsw_dk_aes(key, et->keylen, label, sizeof(label), out);
    return kdf_hmac_sha2(et->mac, key, et->keylen, label, sizeof(label), NULL,
                         0, len * 8, out);
}

/* ------------------------------------------------------------------ */
/* AES-CBC-CTS (RFC 3962 sec. 5)                                        */
/* ------------------------------------------------------------------ */

/*
 * RFC 3962 sec. 5: CBC over the zero-padded plaintext, then the last two
 * ciphertext blocks swapped and the (now final) block truncated to the
 * length of the last plaintext block: CBC-CS3 in NIST SP800-38A-add terms.
 * One block is plain CBC.  The output cipher state is the last full block
 * the CBC chain produced (C_n before the swap = the second-to-last output
 * block), which RFC 3962 and MIT use as the next IV.
 *
 * Implementation: one EVP CBC context (padding off) streams the first n-2
 * blocks straight from in to out; the last two are staged in a 32-octet
 * buffer so in may equal out.
 */
hsmssp_err
krbsw_cts_encrypt(const uint8_t *key, size_t keylen, uint8_t *ivec,
                  const uint8_t *in, size_t len, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = NULL;
    EVP_CIPHER *cipher;
    uint8_t iv[AES_BLOCK] = {0}, buf[2 * AES_BLOCK];
    size_t head, tail;
    hsmssp_err ret;

    ret = krbsw_init();
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (len < AES_BLOCK) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "CTS input of %zu octets (minimum 16)", len);
        goto cleanup;
    }
    ret = aes_cipher(keylen, false, &cipher);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (ivec != NULL)
        memcpy(iv, ivec, AES_BLOCK);
    ret = cipher_ctx(cipher, 1, key, iv, &ctx);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (len == AES_BLOCK) {
        ret = cipher_update(ctx, out, in, AES_BLOCK);
        if (ret == HSMSSP_OK && ivec != NULL)
            memcpy(ivec, out, AES_BLOCK);
        goto cleanup;
    }
    /* n = ceil(len / 16) >= 2 blocks; the last has tail octets (1..16). */
    tail = len - ((len - 1) / AES_BLOCK) * AES_BLOCK;
    head = len - tail - AES_BLOCK; /* octets in blocks 1..n-2 */
    ret = cipher_update(ctx, out, in, head);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memset(buf, 0, sizeof(buf));
    memcpy(buf, in + head, AES_BLOCK + tail); /* P_n-1 | P_n | zero pad */
    ret = cipher_update(ctx, buf, buf, sizeof(buf)); /* C_n-1 | C_n */
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(out + head, buf + AES_BLOCK, AES_BLOCK); /* C_n first ... */
    memcpy(out + head + AES_BLOCK, buf, tail);      /* ... C_n-1 cut */
    if (ivec != NULL)
        memcpy(ivec, buf + AES_BLOCK, AES_BLOCK);
cleanup:
    base_memzero(buf, sizeof(buf));
    base_memzero(iv, sizeof(iv));
    EVP_CIPHER_CTX_free(ctx);
    return ret;
}

/*
 * The inverse.  With output blocks C_1..C_n-2, X = C_n, Y = C_n-1 cut to
 * tail octets: D = AES-Decrypt(X) = (P_n | 0...) XOR C_n-1, so the missing
 * octets of C_n-1 are D[tail..16) (the zero padding let them through) and
 * P_n = D[0..tail) XOR Y.  Then C_n-1 = Y | D[tail..16) continues the CBC
 * chain to give P_n-1.  The next cipher state is X = C_n, as in
 * encryption.
 */
hsmssp_err
krbsw_cts_decrypt(const uint8_t *key, size_t keylen, uint8_t *ivec,
                  const uint8_t *in, size_t len, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = NULL, *ecb = NULL;
    EVP_CIPHER *cipher, *ecb_cipher;
    uint8_t iv[AES_BLOCK] = {0}, x[AES_BLOCK], cprev[AES_BLOCK];
    uint8_t d[AES_BLOCK], p[AES_BLOCK];
    size_t head, tail;
    hsmssp_err ret;

    ret = krbsw_init();
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (len < AES_BLOCK) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "CTS input of %zu octets (minimum 16)", len);
        goto cleanup;
    }
    ret = aes_cipher(keylen, false, &cipher);
    if (ret == HSMSSP_OK)
        ret = aes_cipher(keylen, true, &ecb_cipher);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (ivec != NULL)
        memcpy(iv, ivec, AES_BLOCK);
    ret = cipher_ctx(cipher, 0, key, iv, &ctx);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (len == AES_BLOCK) {
        memcpy(x, in, AES_BLOCK); /* kept before out may overwrite in */
        ret = cipher_update(ctx, out, in, AES_BLOCK);
        if (ret == HSMSSP_OK && ivec != NULL)
            memcpy(ivec, x, AES_BLOCK);
        goto cleanup;
    }
    tail = len - ((len - 1) / AES_BLOCK) * AES_BLOCK;
    head = len - tail - AES_BLOCK;
    memcpy(x, in + head, AES_BLOCK);
    memcpy(cprev, in + head + AES_BLOCK, tail);
    ret = cipher_update(ctx, out, in, head);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = cipher_ctx(ecb_cipher, 0, key, NULL, &ecb);
    if (ret == HSMSSP_OK)
        ret = cipher_update(ecb, d, x, AES_BLOCK);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(cprev + tail, d + tail, AES_BLOCK - tail);
    ret = cipher_update(ctx, p, cprev, AES_BLOCK); /* P_n-1 */
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(out + head, p, AES_BLOCK);
    for (size_t i = 0; i < tail; i++)
        out[head + AES_BLOCK + i] = (uint8_t)(d[i] ^ cprev[i]);
    if (ivec != NULL)
        memcpy(ivec, x, AES_BLOCK);
cleanup:
    base_memzero(d, sizeof(d));
    base_memzero(p, sizeof(p));
    base_memzero(iv, sizeof(iv));
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_CTX_free(ecb);
    return ret;
}

/* ------------------------------------------------------------------ */
/* Whole RFC 3961 operations                                            */
/* ------------------------------------------------------------------ */

int32_t
krbsw_rc4_usage(int32_t usage)
{
    /* RFC 4757 sec. 3: Windows numbers the AS-REP encrypted part 8 (as
     * the TGS-REP one) and the KRB-ERROR checksum 13 (RFC 4120 says 23). */
    switch (usage) {
    case 3:
        return 8;
    case 23:
        return 13;
    default:
        return usage;
    }
}

size_t
krbsw_confounder_len(int32_t etype)
{
    const krb_etype *et = find_etype(etype);
    return et != NULL ? et->conf_len : 0;
}

size_t
krbsw_cksum_len(int32_t etype)
{
    const krb_etype *et = find_etype(etype);
    return et != NULL ? et->cksum_len : 0;
}

hsmssp_err
krbsw_enc_len(int32_t etype, size_t plain_len, size_t *out)
{
    const krb_etype *et;
    size_t over;
    hsmssp_err ret;

    *out = 0;
    ret = need_etype(etype, &et);
    if (ret != HSMSSP_OK)
        return ret;
    /* Confounder plus checksum, for every family: RC4-HMAC puts its
     * checksum first, the AES enctypes last. */
    over = et->conf_len + et->cksum_len;
    if (plain_len > SIZE_MAX - over)
        return BASE_ERR(HSMSSP_ERR_INPUT_TOO_LARGE, "%zu octets", plain_len);
    *out = plain_len + over;
    return HSMSSP_OK;
}

/* RFC 4757 sec. 5: T is the (translated) usage, 32-bit little-endian. */
static void
rc4_t(int32_t usage, uint8_t t[4])
{
    uint32_t u = (uint32_t)krbsw_rc4_usage(usage);

    t[0] = (uint8_t)u;
    t[1] = (uint8_t)(u >> 8);
    t[2] = (uint8_t)(u >> 16);
    t[3] = (uint8_t)(u >> 24);
}

/* A 16-octet HMAC-MD5 into a new secret: the RFC 4757 key steps. */
static hsmssp_err
hmac_md5_key(const uint8_t *key, size_t keylen, const uint8_t *data,
             size_t len, base_secret **out)
{
    base_secret *k = NULL;
    uint8_t buf[MAX_MD];
    size_t n = 0;
    hsmssp_err ret;

    *out = NULL;
    ret = hmac2("MD5", key, keylen, data, len, NULL, 0, buf, &n);
    if (ret == HSMSSP_OK)
        ret = base_secret_from(buf, n, &k);
    if (ret != HSMSSP_OK)
        goto cleanup;
    *out = k;
    k = NULL;
cleanup:
    base_memzero(buf, sizeof(buf));
    base_secret_free(k);
    return ret;
}

/*
 * RFC 4757 sec. 5 (non-export):
 *   K1 = K2 = HMAC-MD5(K, T)
 *   checksum = HMAC-MD5(K2, confounder | plaintext)
 *   K3 = HMAC-MD5(K1, checksum)
 *   ciphertext = checksum | RC4(K3, confounder | plaintext)
 */
static hsmssp_err
rc4_encrypt(const krb_etype *et, const uint8_t *key, int32_t usage,
            const uint8_t *conf, const uint8_t *in, size_t in_len,
            uint8_t *out)
{
    base_secret *k1 = NULL, *k3 = NULL;
    EVP_CIPHER_CTX *rc4 = NULL;
    uint8_t t[4];
    size_t n = 0;
    hsmssp_err ret;

    rc4_t(usage, t);
    ret = hmac_md5_key(key, et->keylen, t, sizeof(t), &k1);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = hmac2("MD5", k1->data, k1->len, conf, et->conf_len, in, in_len, out,
                &n);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = hmac_md5_key(k1->data, k1->len, out, et->cksum_len, &k3);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* One RC4 stream over confounder then plaintext. */
    ret = rc4_start(k3->data, k3->len, &rc4);
    if (ret == HSMSSP_OK)
        ret = cipher_update(rc4, out + et->cksum_len, conf, et->conf_len);
    if (ret == HSMSSP_OK)
        ret =
            cipher_update(rc4, out + et->cksum_len + et->conf_len, in, in_len);
cleanup:
    EVP_CIPHER_CTX_free(rc4);
    base_secret_free(k1);
    base_secret_free(k3);
    return ret;
}

/* The inverse; the plaintext is written to out, then wiped again if the
 * checksum does not verify (MAC-then-encrypt: it cannot be checked
 * first). */
static hsmssp_err
rc4_decrypt(const krb_etype *et, const uint8_t *key, int32_t usage,
            const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
    base_secret *k1 = NULL, *k3 = NULL;
    EVP_CIPHER_CTX *rc4 = NULL;
    uint8_t t[4], conf[8], mac[MAX_MD];
    size_t hdr = et->cksum_len + et->conf_len, plen = 0, n = 0;
    hsmssp_err ret;

    if (in_len < hdr) {
        ret = BASE_ERR(HSMSSP_ERR_BAD_CIPHERTEXT,
                       "%zu octets, RC4-HMAC needs at least %zu", in_len, hdr);
        goto cleanup;
    }
    plen = in_len - hdr;
    rc4_t(usage, t);
    ret = hmac_md5_key(key, et->keylen, t, sizeof(t), &k1);
    if (ret == HSMSSP_OK)
        ret = hmac_md5_key(k1->data, k1->len, in, et->cksum_len, &k3);
    if (ret == HSMSSP_OK)
        ret = rc4_start(k3->data, k3->len, &rc4);
    if (ret == HSMSSP_OK)
        ret = cipher_update(rc4, conf, in + et->cksum_len, et->conf_len);
    if (ret == HSMSSP_OK)
        ret = cipher_update(rc4, out, in + hdr, plen);
    if (ret == HSMSSP_OK)
        ret = hmac2("MD5", k1->data, k1->len, conf, et->conf_len, out, plen,
                    mac, &n);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (!base_ct_equal(mac, in, et->cksum_len)) {
        ret = BASE_ERR0(HSMSSP_ERR_INTEGRITY);
        goto cleanup;
    }
    *out_len = plen;
cleanup:
    if (ret != HSMSSP_OK && plen > 0)
        base_memzero(out, plen);
    base_memzero(conf, sizeof(conf));
    EVP_CIPHER_CTX_free(rc4);
    base_secret_free(k1);
    base_secret_free(k3);
    return ret;
}

/*
 * AES-CTS of confounder | plaintext with the zero initial cipher state,
 * without copying the plaintext into a staging buffer: when the plaintext
 * is longer than one block, the confounder is CBC-encrypted on its own and
 * the plaintext is CTS-encrypted with the confounder's ciphertext block as
 * IV, which is the same computation (CTS only touches the last two
 * blocks).  Shorter plaintexts (total <= 32 octets) are staged in 32 stack
 * octets, wiped after.
 */
static hsmssp_err
aes_conf_encrypt(const uint8_t *ke, size_t kelen, const uint8_t *conf,
                 const uint8_t *in, size_t in_len, uint8_t *out)
{
    uint8_t iv[AES_BLOCK] = {0}, buf[2 * AES_BLOCK];
    hsmssp_err ret;

    if (in_len > AES_BLOCK) {
        ret = krbsw_cts_encrypt(ke, kelen, iv, conf, AES_BLOCK, out);
        if (ret == HSMSSP_OK)
            ret =
                krbsw_cts_encrypt(ke, kelen, iv, in, in_len, out + AES_BLOCK);
        goto cleanup;
    }
    memcpy(buf, conf, AES_BLOCK);
    if (in_len > 0)
        memcpy(buf + AES_BLOCK, in, in_len);
    ret = krbsw_cts_encrypt(ke, kelen, NULL, buf, AES_BLOCK + in_len, out);
cleanup:
    base_memzero(buf, sizeof(buf));
    return ret;
}

/* The inverse: the confounder goes to conf, the rest to out. */
static hsmssp_err
aes_conf_decrypt(const uint8_t *ke, size_t kelen, const uint8_t *in,
                 size_t plen, uint8_t conf[AES_BLOCK], uint8_t *out)
{
    uint8_t iv[AES_BLOCK] = {0}, buf[2 * AES_BLOCK];
    hsmssp_err ret;

    if (plen > AES_BLOCK) {
        ret = krbsw_cts_decrypt(ke, kelen, iv, in, AES_BLOCK, conf);
        if (ret == HSMSSP_OK)
            ret = krbsw_cts_decrypt(ke, kelen, iv, in + AES_BLOCK, plen, out);
        goto cleanup;
    }
    ret = krbsw_cts_decrypt(ke, kelen, NULL, in, AES_BLOCK + plen, buf);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(conf, buf, AES_BLOCK);
    if (plen > 0)
        memcpy(out, buf + AES_BLOCK, plen);
cleanup:
    base_memzero(buf, sizeof(buf));
    return ret;
}

/* The MAC input of the AES families: RFC 3962 (sec. 6, via RFC 3961 sec.
 * 5.3) MACs the plaintext conf | data with Ki; RFC 8009 sec. 5 MACs the
 * cipher state (16 zero octets here) | ciphertext. */
static hsmssp_err
aes_mac(const krb_etype *et, const uint8_t *ki, const uint8_t *a, size_t alen,
        const uint8_t *b, size_t blen, uint8_t *mac)
{
    size_t n = 0;
    return hmac2(et->mac, ki, et->ki_len, a, alen, b, blen, mac, &n);
}

hsmssp_err
krbsw_encrypt(int32_t etype, const uint8_t *key, int32_t usage,
              const uint8_t *confounder, const uint8_t *in, size_t in_len,
              uint8_t *out, size_t *out_len)
{
    static const uint8_t zero_iv[AES_BLOCK] = {0};
    const krb_etype *et;
    base_secret *ke = NULL, *ki = NULL;
    uint8_t conf[AES_BLOCK], mac[MAX_MD];
    size_t total = 0;
    hsmssp_err ret;

    *out_len = 0;
    ret = need_etype(etype, &et);
    if (ret == HSMSSP_OK)
        ret = krbsw_enc_len(etype, in_len, &total);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (confounder != NULL)
        memcpy(conf, confounder, et->conf_len);
    else if ((ret = krbsw_random(conf, et->conf_len)) != HSMSSP_OK)
        goto cleanup;

    if (et->family == FAM_RC4) {
        ret = rc4_encrypt(et, key, usage, conf, in, in_len, out);
        goto done;
    }
    ret = krbsw_derive(etype, key, usage, KRBSW_ROLE_KE, &ke);
    if (ret == HSMSSP_OK)
        ret = krbsw_derive(etype, key, usage, KRBSW_ROLE_KI, &ki);
    if (ret == HSMSSP_OK)
        ret = aes_conf_encrypt(ke->data, ke->len, conf, in, in_len, out);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (et->family == FAM_AES_SHA1)
        ret = aes_mac(et, ki->data, conf, AES_BLOCK, in, in_len, mac);
    else
        ret = aes_mac(et, ki->data, zero_iv, AES_BLOCK, out,
                      AES_BLOCK + in_len, mac);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* h = the leftmost cksum_len octets (HMAC-SHA1-96, -SHA256-128,
     * -SHA384-192). */
    memcpy(out + AES_BLOCK + in_len, mac, et->cksum_len);
done:
    if (ret == HSMSSP_OK)
        *out_len = total;
cleanup:
    /* A failed encryption leaves no partial ciphertext behind. */
    if (ret != HSMSSP_OK && total > 0)
        base_memzero(out, total);
    base_memzero(conf, sizeof(conf));
    base_secret_free(ke);
    base_secret_free(ki);
    return ret;
}

hsmssp_err
krbsw_decrypt(int32_t etype, const uint8_t *key, int32_t usage,
              const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
    static const uint8_t zero_iv[AES_BLOCK] = {0};
    const krb_etype *et;
    base_secret *ke = NULL, *ki = NULL;
    uint8_t conf[AES_BLOCK], mac[MAX_MD];
    size_t clen, plen = 0;
    bool wrote = false;
    hsmssp_err ret;

    *out_len = 0;
    ret = need_etype(etype, &et);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (et->family == FAM_RC4) {
        ret = rc4_decrypt(et, key, usage, in, in_len, out, out_len);
        goto cleanup;
    }
    if (in_len < AES_BLOCK + et->cksum_len) {
        ret = BASE_ERR(HSMSSP_ERR_BAD_CIPHERTEXT,
                       "%zu octets, enctype %d needs at least %zu", in_len,
                       (int)etype, AES_BLOCK + et->cksum_len);
        goto cleanup;
    }
    clen = in_len - et->cksum_len;
    plen = clen - AES_BLOCK;
    ret = krbsw_derive(etype, key, usage, KRBSW_ROLE_KE, &ke);
    if (ret == HSMSSP_OK)
        ret = krbsw_derive(etype, key, usage, KRBSW_ROLE_KI, &ki);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (et->family == FAM_AES_SHA2) {
        /* RFC 8009 is encrypt-then-MAC: check before decrypting, so a
         * forged message never reaches the cipher. */
        ret = aes_mac(et, ki->data, zero_iv, AES_BLOCK, in, clen, mac);
        if (ret != HSMSSP_OK)
            goto cleanup;
        if (!base_ct_equal(mac, in + clen, et->cksum_len)) {
            ret = BASE_ERR0(HSMSSP_ERR_INTEGRITY);
            goto cleanup;
        }
    }
    wrote = true;
    ret = aes_conf_decrypt(ke->data, ke->len, in, plen, conf, out);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (et->family == FAM_AES_SHA1) {
        ret = aes_mac(et, ki->data, conf, AES_BLOCK, out, plen, mac);
        if (ret != HSMSSP_OK)
            goto cleanup;
        if (!base_ct_equal(mac, in + clen, et->cksum_len)) {
            ret = BASE_ERR0(HSMSSP_ERR_INTEGRITY);
            goto cleanup;
        }
    }
    *out_len = plen;
cleanup:
    /* Never leave the plaintext of a forged message in the caller's
     * buffer. */
    if (ret != HSMSSP_OK && wrote && plen > 0)
        base_memzero(out, plen);
    base_memzero(conf, sizeof(conf));
    base_secret_free(ke);
    base_secret_free(ki);
    return ret;
}

/* MD5(a | b), the inner hash of the RFC 4757 checksum. */
static hsmssp_err
md5_2(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
      uint8_t out[16])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    hsmssp_err ret = HSMSSP_OK;

    if (ctx == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    if (EVP_DigestInit_ex2(ctx, get_md("MD5"), NULL) != 1 ||
        EVP_DigestUpdate(ctx, a, alen) != 1 ||
        (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
        EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != 16)
        ret = BASE_ERR(HSMSSP_ERR_CRYPTO, "MD5 failed");
cleanup:
    EVP_MD_CTX_free(ctx);
    return ret;
}

hsmssp_err
krbsw_checksum(int32_t etype, const uint8_t *key, int32_t usage,
               const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
    static const uint8_t sigkey[] = "signaturekey"; /* with its NUL */
    const krb_etype *et;
    base_secret *kc = NULL;
    uint8_t mac[MAX_MD], md5[MAX_MD], t[4];
    size_t n = 0;
    hsmssp_err ret;

    *out_len = 0;
    ret = need_etype(etype, &et);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (et->family == FAM_RC4) {
        /* RFC 4757 sec. 4 (checksum type -138, hmac-md5):
         * Ksign = HMAC-MD5(K, "signaturekey\0"),
         * tmp = MD5(T | data), checksum = HMAC-MD5(Ksign, tmp). */
        ret = hmac_md5_key(key, et->keylen, sigkey, sizeof(sigkey), &kc);
        if (ret != HSMSSP_OK)
            goto cleanup;
        rc4_t(usage, t);
        ret = md5_2(t, sizeof(t), in, in_len, md5);
        if (ret == HSMSSP_OK)
            ret = hmac2("MD5", kc->data, kc->len, md5, 16, NULL, 0, mac, &n);
    } else {
        /* RFC 3962 sec. 6 / RFC 8009 sec. 5: HMAC(Kc, data) truncated. */
        ret = krbsw_derive(etype, key, usage, KRBSW_ROLE_KC, &kc);
        if (ret == HSMSSP_OK)
            ret = hmac2(et->mac, kc->data, kc->len, in, in_len, NULL, 0, mac,
                        &n);
    }
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(out, mac, et->cksum_len);
    *out_len = et->cksum_len;
cleanup:
    base_secret_free(kc);
    return ret;
}

/* ------------------------------------------------------------------ */
/* String-to-key                                                        */
/* ------------------------------------------------------------------ */

/* PBKDF2 (RFC 8018 sec. 5.2) with HMAC-digest into a new secret.  The
 * "pkcs5" flag turns off OpenSSL's SP800-132 lower bounds (salt >= 16
 * octets, >= 1000 iterations), which Kerberos salts and the RFC 3962 test
 * vectors (1 and 2 iterations) do not meet. */
static hsmssp_err
pbkdf2(const char *digest, const char *password, size_t pwlen,
       const uint8_t *salt, size_t saltlen, uint32_t iter, size_t outlen,
       base_secret **out)
{
    static const uint8_t empty = 0;
    EVP_KDF_CTX *kctx = NULL;
    base_secret *k = NULL;
    OSSL_PARAM params[6];
    unsigned int iter_u = iter;
    int pkcs5 = 1;
    hsmssp_err ret;

    *out = NULL;
    ret = base_secret_new(outlen, outlen, &k);
    if (ret != HSMSSP_OK)
        goto cleanup;
    kctx = EVP_KDF_CTX_new(g.pbkdf2);
    if (kctx == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    params[0] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_PASSWORD, pwlen > 0 ? (void *)password : (void *)&empty,
        pwlen);
    params[1] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, saltlen > 0 ? (void *)salt : (void *)&empty,
        saltlen);
    params[2] = OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iter_u);
    params[3] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                 (char *)digest, 0);
    params[4] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5);
    params[5] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, k->data, outlen, params) != 1) {
        ret = BASE_ERR(HSMSSP_ERR_CRYPTO, "PBKDF2-HMAC-%s failed", digest);
        goto cleanup;
    }
    *out = k;
    k = NULL;
cleanup:
    EVP_KDF_CTX_free(kctx);
    base_secret_free(k);
    return ret;
}

/*
 * UTF-8 to UTF-16LE for RFC 4757 sec. 4 (the NT hash).  Rejects malformed
 * UTF-8 (overlong forms, surrogates, > U+10FFFF): hashing a replacement
 * character instead would give a key that matches no other
 * implementation.  dst has room for 2 * len octets, always enough (each
 * UTF-8 octet gives at most two UTF-16 octets).
 */
static hsmssp_err
utf8_to_utf16le(const uint8_t *s, size_t len, uint8_t *dst, size_t *dlen)
{
    size_t i = 0, o = 0;

    while (i < len) {
        uint32_t c = s[i], min;
        size_t extra;

        if (c < 0x80) {
            extra = 0;
            min = 0;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1;
            c &= 0x1F;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            c &= 0x0F;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            c &= 0x07;
            min = 0x10000;
        } else {
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "password is not valid UTF-8");
        }
        if (extra > len - i - 1)
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "password is not valid UTF-8");
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                                "password is not valid UTF-8");
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "password is not valid UTF-8");
        i += extra + 1;
        if (c >= 0x10000) {
            /* A surrogate pair. */
            uint32_t v = c - 0x10000, hi = 0xD800 | (v >> 10),
                     lo = 0xDC00 | (v & 0x3FF);
            dst[o++] = (uint8_t)hi;
            dst[o++] = (uint8_t)(hi >> 8);
            dst[o++] = (uint8_t)lo;
            dst[o++] = (uint8_t)(lo >> 8);
        } else {
            dst[o++] = (uint8_t)c;
            dst[o++] = (uint8_t)(c >> 8);
        }
    }
    *dlen = o;
    return HSMSSP_OK;
}

/* MIT krb5's bound on PBKDF2 iterations (2^24): a larger count from a
 * KDC's ETYPE-INFO2 would let it make us spin for minutes. */
#define S2K_MAX_ITER 0x1000000u

hsmssp_err
krbsw_string_to_key(int32_t etype, const char *password, size_t pwlen,
                    const uint8_t *salt, size_t saltlen, const uint8_t *params,
                    size_t params_len, base_secret **out)
{
    static const uint8_t kerberos[] = {'k', 'e', 'r', 'b', 'e', 'r', 'o', 's'};
    const krb_etype *et;
    base_secret *tmp = NULL, *key = NULL, *saltp = NULL;
    uint8_t digest[MAX_MD];
    uint32_t iter;
    size_t namelen, n = 0;
    hsmssp_err ret;

    *out = NULL;
    ret = need_etype(etype, &et);
    if (ret == HSMSSP_OK)
        ret = krbsw_init();
    if (ret != HSMSSP_OK)
        goto cleanup;

    if (et->family == FAM_RC4) {
        /* RFC 4757 sec. 4: K = MD4(UNICODE(password)); no salt, no
         * parameters. */
        ret = base_secret_new(0, pwlen * 2, &tmp);
        if (ret == HSMSSP_OK)
            ret = utf8_to_utf16le((const uint8_t *)password, pwlen, tmp->data,
                                  &tmp->len);
        if (ret == HSMSSP_OK)
            ret = krbsw_digest("MD4", tmp->data, tmp->len, digest, &n);
        if (ret == HSMSSP_OK)
            ret = base_secret_from(digest, n, &key);
        goto done;
    }

    iter = et->s2k_iter;
    if (params != NULL) {
        /* RFC 3962 sec. 4 / RFC 8009 sec. 4: four octets, big-endian. */
        if (params_len != 4) {
            ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                           "s2kparams of %zu octets (expected 4)", params_len);
            goto cleanup;
        }
        iter = base_load_be32(params);
        if (iter == 0 || iter > S2K_MAX_ITER) {
            ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                           "PBKDF2 iteration count %u out of range 1..%u",
                           iter, S2K_MAX_ITER);
            goto cleanup;
        }
    }

    if (et->family == FAM_AES_SHA1) {
        /* RFC 3962 sec. 4: tkey = random-to-key(PBKDF2-HMAC-SHA1(password,
         * salt, iter, keylen)); key = DK(tkey, "kerberos"). */
        ret = pbkdf2(et->kdf_md, password, pwlen, salt, saltlen, iter,
                     et->keylen, &tmp);
        if (ret == HSMSSP_OK)
            ret = krbsw_dk_aes(tmp->data, tmp->len, kerberos, sizeof(kerberos),
                               &key);
        goto done;
    }

    /* RFC 8009 sec. 4: saltp = enctype-name | 0x00 | salt;
     * tkey = PBKDF2-HMAC-SHA2(password, saltp, iter, keylen);
     * key = KDF-HMAC-SHA2(tkey, "kerberos", keylen * 8).  saltp is not
     * secret, but a base_secret is the bounded buffer we have. */
    namelen = strlen(et->name);
    if (saltlen > SIZE_MAX - namelen - 1) {
        ret = BASE_ERR(HSMSSP_ERR_INPUT_TOO_LARGE, "salt of %zu octets",
                       saltlen);
        goto cleanup;
    }
    ret =
        base_secret_new(namelen + 1 + saltlen, namelen + 1 + saltlen, &saltp);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(saltp->data, et->name, namelen);
    saltp->data[namelen] = 0;
    if (saltlen > 0)
        memcpy(saltp->data + namelen + 1, salt, saltlen);
    ret = pbkdf2(et->kdf_md, password, pwlen, saltp->data, saltp->len, iter,
                 et->keylen, &tmp);
    if (ret == HSMSSP_OK)
        ret = kdf_hmac_sha2(et->mac, tmp->data, tmp->len, kerberos,
                            sizeof(kerberos), NULL, 0, et->keylen * 8, &key);
done:
    if (ret != HSMSSP_OK)
        goto cleanup;
    *out = key;
    key = NULL;
cleanup:
    base_memzero(digest, sizeof(digest));
    base_secret_free(tmp);
    base_secret_free(key);
    base_secret_free(saltp);
    return ret;
}

/* ------------------------------------------------------------------ */
/* PRF                                                                  */
/* ------------------------------------------------------------------ */

hsmssp_err
krbsw_prf(int32_t etype, const uint8_t *key, const uint8_t *in, size_t in_len,
          uint8_t *out, size_t *out_len)
{
    static const uint8_t prf_label[] = {'p', 'r', 'f'};
    const krb_etype *et;
    base_secret *dk = NULL;
    uint8_t tmp[MAX_MD];
    size_t n = 0;
    hsmssp_err ret;

    *out_len = 0;
    ret = need_etype(etype, &et);
    if (ret != HSMSSP_OK)
        goto cleanup;
    switch (et->family) {
    case FAM_AES_SHA1:
        /* RFC 3962 sec. 6: tmp1 = SHA-1(input) truncated to a multiple of
         * the block size (16), PRF = E(DK(key, "prf"), tmp2) with the zero
         * initial cipher state: one AES-CBC block. */
        ret = krbsw_digest("SHA1", in, in_len, tmp, &n);
        if (ret == HSMSSP_OK)
            ret = krbsw_dk_aes(key, et->keylen, prf_label, sizeof(prf_label),
                               &dk);
        if (ret == HSMSSP_OK)
            ret = krbsw_cts_encrypt(dk->data, dk->len, NULL, tmp, AES_BLOCK,
                                    out);
        break;
    case FAM_AES_SHA2:
        /* RFC 8009 sec. 5: PRF = KDF-HMAC-SHA2(key, "prf", input, 256 or
         * 384 bits): the input is the KDF context. */
        ret =
            kdf_hmac_sha2(et->mac, key, et->keylen, prf_label,
                          sizeof(prf_label), in, in_len, et->prf_len * 8, &dk);
        if (ret == HSMSSP_OK)
            memcpy(out, dk->data, et->prf_len);
        break;
    case FAM_RC4:
        /* HMAC-SHA1(key, input), the arcfour-hmac PRF as MIT krb5 and
         * Heimdal compute it, so GSS pseudo-random outputs match theirs. */
        ret = hmac2("SHA1", key, et->keylen, in, in_len, NULL, 0, out, &n);
        break;
    }
    if (ret != HSMSSP_OK)
        goto cleanup;
    *out_len = et->prf_len;
cleanup:
    base_memzero(tmp, sizeof(tmp));
    base_secret_free(dk);
    return ret;
}
