/*
 * hsm/krbsw.h - Kerberos cryptography on the host, with OpenSSL 3.
 *
 * Three users:
 *  - the engine, for work on public data (n-fold of usage constants, the
 *    CTS block reorder, MD5 of a message before an on-token HMAC) and for
 *    the strategies whose level is H(import) (per-usage keys of etypes
 *    19/20 derived at import on tokens without an SP800-108 KDF) or H(op)
 *    (RC4-HMAC on tokens without RC4, only when policy allows it);
 *  - the test suite, as the software reference that token results are
 *    compared with, and for the known-answer tests;
 *  - later, keytabs/ (string-to-key at import).
 *
 * OpenSSL is reached through a private OSSL_LIB_CTX with the default and
 * legacy providers loaded (MD4 and RC4 live in legacy), so hsmssp never
 * changes the application's default library context.
 *
 * Every function that produces key material writes it into a base_secret
 * (locked, wiped on free).  Keys passed in are plain pointers to bytes the
 * caller keeps in its own base_secret.  No function logs.
 */
#ifndef HSMSSP_HSM_KRBSW_H
#define HSMSSP_HSM_KRBSW_H

#include "base/base.h"
#include "base/secmem.h"

/* Creates the private library context (idempotent, thread-safe).  Every
 * other function calls it; calling it first only moves the cost. */
hsmssp_err krbsw_init(void) BASE_WUR;

/* RFC 3961 sec. 5.1 n-fold of inlen bytes into outlen bytes. */
void krbsw_nfold(const uint8_t *in, size_t inlen, uint8_t *out,
                 size_t outlen);

/* Per-usage derivation constant roles (RFC 3961 sec. 5.3 / RFC 8009). */
#define KRBSW_ROLE_KC 0x99 /* checksum key */
#define KRBSW_ROLE_KE 0xAA /* encryption key */
#define KRBSW_ROLE_KI 0x55 /* integrity key */

/* Length in bytes of the per-usage key of this role for the etype:
 * aes-sha1: all = key length; 19: Ke 16, Ki 16, Kc 16; 20: Ke 32, Ki 24,
 * Kc 24; 0 for etype 23 or an unknown etype. */
size_t krbsw_derived_len(int32_t etype, uint8_t role);

/* RFC 3961 DK(key, constant) for AES (DR by AES-CBC of n-fold(constant)
 * to the key length, then random-to-key = identity). */
hsmssp_err krbsw_dk_aes(const uint8_t *key, size_t keylen,
                        const uint8_t *constant, size_t clen,
                        base_secret **out) BASE_WUR;

/* RFC 8009 sec. 3 KDF-HMAC-SHA2(key, label, k): SHA-256 for etype 19,
 * SHA-384 for etype 20; outbits a multiple of 8. */
hsmssp_err krbsw_kdf_hmac_sha2(int32_t etype, const uint8_t *key,
                               size_t keylen, const uint8_t *label,
                               size_t label_len, size_t outbits,
                               base_secret **out) BASE_WUR;

/* The per-usage key of (usage, role) for etypes 17-20: DK with
 * usage (4 bytes big-endian) || role for aes-sha1, KDF-HMAC-SHA2 with the
 * same label for aes-sha2; length krbsw_derived_len(). */
hsmssp_err krbsw_derive(int32_t etype, const uint8_t *key, int32_t usage,
                        uint8_t role, base_secret **out) BASE_WUR;

/* AES-CBC-CTS as Kerberos uses it (RFC 3962 sec. 5: CBC with the last two
 * blocks swapped, CS3; a one-block input is plain CBC).  len >= 16.
 * ivec (16 bytes) is the input cipher state and receives the output state
 * (the second-to-last ciphertext block as RFC 3962 defines); NULL means
 * zero in, nothing out. */
hsmssp_err krbsw_cts_encrypt(const uint8_t *key, size_t keylen,
                             uint8_t *ivec, const uint8_t *in, size_t len,
                             uint8_t *out) BASE_WUR;
hsmssp_err krbsw_cts_decrypt(const uint8_t *key, size_t keylen,
                             uint8_t *ivec, const uint8_t *in, size_t len,
                             uint8_t *out) BASE_WUR;

/* HMAC with digest "MD5", "SHA1", "SHA256" or "SHA384"; out needs the
 * digest size; *out_len gets it. */
hsmssp_err krbsw_hmac(const char *digest, const uint8_t *key, size_t keylen,
                      const uint8_t *data, size_t len, uint8_t *out,
                      size_t *out_len) BASE_WUR;

/* Plain digests ("MD4", "MD5", "SHA1", "SHA256", "SHA384"). */
hsmssp_err krbsw_digest(const char *digest, const uint8_t *data, size_t len,
                        uint8_t *out, size_t *out_len) BASE_WUR;

/* RC4 of len bytes (in may equal out). */
hsmssp_err krbsw_rc4(const uint8_t *key, size_t keylen, const uint8_t *in,
                     size_t len, uint8_t *out) BASE_WUR;

/* Host random bytes (for confounders and generated keys). */
hsmssp_err krbsw_random(uint8_t *out, size_t n) BASE_WUR;

/* RFC 4757 key usage translation (3 -> 8, 23 -> 13, others unchanged). */
int32_t krbsw_rc4_usage(int32_t usage);

/* ---- whole RFC 3961 operations with raw keys (software reference) --- */

/* Confounder length (16 for AES, 8 for RC4) and total overhead. */
size_t krbsw_confounder_len(int32_t etype);
hsmssp_err krbsw_enc_len(int32_t etype, size_t plain_len, size_t *out)
    BASE_WUR;
size_t krbsw_cksum_len(int32_t etype);

/* encrypt: confounder NULL means random.  out needs krbsw_enc_len().
 * For aes-sha1 the integrity check is HMAC-SHA1-96(Ki, conf||plain); for
 * RFC 8009 it is HMAC-SHA256-128/SHA384-192(Ki, IV||ciphertext); for
 * RC4-HMAC it is RFC 4757 sec. 5 (checksum || RC4(K3, conf||plain)). */
hsmssp_err krbsw_encrypt(int32_t etype, const uint8_t *key, int32_t usage,
                         const uint8_t *confounder, const uint8_t *in,
                         size_t in_len, uint8_t *out, size_t *out_len)
    BASE_WUR;

/* decrypt: out gets the plaintext without confounder; integrity failure
 * gives HSMSSP_ERR_INTEGRITY, impossible lengths
 * HSMSSP_ERR_BAD_CIPHERTEXT. */
hsmssp_err krbsw_decrypt(int32_t etype, const uint8_t *key, int32_t usage,
                         const uint8_t *in, size_t in_len, uint8_t *out,
                         size_t *out_len) BASE_WUR;

/* The etype's mandatory checksum (hmac-sha1-96-aes128/256, RFC 8009
 * hmac-sha256-128-aes128 / hmac-sha384-192-aes256, RFC 4757 -138
 * HMAC-MD5 with Ksign = HMAC(K, "signaturekey\0")). */
hsmssp_err krbsw_checksum(int32_t etype, const uint8_t *key, int32_t usage,
                          const uint8_t *in, size_t in_len, uint8_t *out,
                          size_t *out_len) BASE_WUR;

/* RFC 3961 sec. 3 string-to-key: PBKDF2 (RFC 3962, iterations default
 * 4096 when params is NULL; params is the 4-byte big-endian count) for
 * 17/18, PBKDF2-HMAC-SHA256/384 + KDF (RFC 8009, default 32768) for 19/20,
 * MD4(UTF-16LE(password)) for 23 (password must be UTF-8). */
hsmssp_err krbsw_string_to_key(int32_t etype, const char *password,
                               size_t pwlen, const uint8_t *salt,
                               size_t saltlen, const uint8_t *params,
                               size_t params_len, base_secret **out)
    BASE_WUR;

/* RFC 3961 PRF (RFC 3962 sec. 4 for aes-sha1, RFC 8009 sec. 5 for
 * aes-sha2, RFC 4757 for rc4: HMAC-SHA1(K, in)).  out_len bytes: 16 for
 * aes-sha1, 32 for 19, 48 for 20, 20 for 23. */
hsmssp_err krbsw_prf(int32_t etype, const uint8_t *key, const uint8_t *in,
                     size_t in_len, uint8_t *out, size_t *out_len) BASE_WUR;

#endif
