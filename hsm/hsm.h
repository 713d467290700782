/*
 * hsm/hsm.h - the token layer: what provider/, keytabs/ and tools/ may call.
 *
 * An hsm_token is one PKCS#11 token of one loaded module: the module, the
 * login state, a pool of sessions, one owner session that creates every
 * session object, the capability probe's result (a strategy per enctype
 * and per NTLM step) and a bounded cache of per-usage derived keys.
 *
 * An hsm_key is a Kerberos key that lives on the token: the caller holds
 * the hsm_key, never the key bytes.  Keys enter the token through
 * hsm_key_import() (the one place where key bytes cross from the host) and
 * are then used through the engine functions below, which perform the
 * RFC 3961 operations (encrypt, decrypt, checksum) with per-usage keys
 * derived on the token.
 *
 * Nothing in this header exposes PKCS#11 types: p11-kit and pkcs11.h
 * appear only inside hsm/.
 *
 * Thread safety: every function may be called from any thread.  An hsm_key
 * may be used by several threads at once.  hsm_key_free() and
 * hsm_token_close() must not race with uses of the same object.
 *
 * fork(): PKCS#11 state is invalid in a child.  The first call in a child
 * re-initialises the module, opens new sessions and logs in again; keys
 * whose objects were session objects of the parent fail with
 * HSMSSP_ERR_FORKED, keys stored on the token are found again.
 */
#ifndef HSMSSP_HSM_H
#define HSMSSP_HSM_H

#include "base/base.h"
#include "base/secmem.h"

typedef struct hsm_token hsm_token;
typedef struct hsm_key hsm_key;

/* ---- policy --------------------------------------------------------- */

/* Bits of hsm_config.policy.  By default no operation may run at level
 * H(op) (host crypto with key material on every use). */
#define HSM_POLICY_ALLOW_HOST_OP_KRB 0x1u  /* H(op) for Kerberos enctypes */
#define HSM_POLICY_ALLOW_HOST_OP_NTLM 0x2u /* H(op) for NTLM steps */

/* ---- opening a token ------------------------------------------------ */

typedef struct hsm_config {
    /* Module: a path ("/usr/lib/softhsm/libsofthsm2.so") or the name of a
     * module registered with p11-kit ("softhsm2").  Required. */
    const char *module;
    /* RFC 7512 PKCS#11 URI selecting the token ("pkcs11:token=hsmssp"),
     * possibly with pin-value or pin-source.  NULL: the first token that
     * has one of the module's slots. */
    const char *token_uri;
    /* C_Initialize pReserved string.  NULL: automatic (NSS softoken gets
     * its no-database string, see DESIGN sec. 3). */
    const char *init_args;
    /* File holding the user PIN, used when the URI names none.  Read
     * verbatim: a trailing newline is part of the PIN. */
    const char *pin_file;
    /* HSM_POLICY_* bits. */
    unsigned policy;
    /* Upper bound on cached derived-key objects; 0 means the default
     * (HSM_CACHE_DEFAULT). */
    size_t cache_max;
} hsm_config;

#define HSM_CACHE_DEFAULT 1024u

/* Loads the module, finds the token, opens the owner session, logs in
 * when the token needs it, and probes the token's capabilities.  On
 * failure *tok_out is NULL and the error tells which step failed:
 * HSMSSP_ERR_MODULE_LOAD, _MODULE_INIT, _NO_TOKEN, _PIN_INCORRECT,
 * _PIN_LOCKED, _PIN_UNAVAILABLE, _FILE_PERMS ... */
hsmssp_err hsm_token_open(const hsm_config *cfg, hsm_token **tok_out)
    BASE_WUR;

/* Destroys the derived-key cache, closes every session, finalises the
 * module and wipes the retained PIN.  NULL is a no-op.  Keys of this
 * token must have been freed. */
void hsm_token_close(hsm_token *tok);

/* Identity of the token, for `hsmssp probe`.  Strings are NUL-terminated
 * and trimmed of PKCS#11 space padding. */
typedef struct hsm_token_ident {
    char module_path[512];
    char library_description[33];
    char library_manufacturer[33];
    unsigned library_version_major, library_version_minor;
    unsigned cryptoki_major, cryptoki_minor;
    char slot_description[65];
    char label[33];
    char manufacturer[33];
    char model[17];
    char serial[17];
    bool login_required;
    bool persistent_objects; /* CKA_TOKEN=TRUE objects can be created */
} hsm_token_ident;

/* Fills *out.  Never fails once the token is open. */
void hsm_token_identity(hsm_token *tok, hsm_token_ident *out);

/* Counter of PKCS#11 calls made through this token (every C_* function
 * except C_GetFunctionList), for benchmarks: calls made by the calling
 * thread since the token was opened. */
uint64_t hsm_token_call_count(hsm_token *tok);

/* ---- capabilities and strategies ------------------------------------ */

/* Protection level of one operation (DESIGN sec. 3). */
typedef enum hsm_level {
    HSM_LEVEL_T = 0,         /* on the token */
    HSM_LEVEL_H_IMPORT = 1,  /* host only at import (long-term keys) */
    HSM_LEVEL_H_ARRIVAL = 2, /* class S key on the host at arrival only */
    HSM_LEVEL_H_OP = 3,      /* host on every use */
    HSM_LEVEL_NONE = 4       /* cannot be done at all with this token */
} hsm_level;

/* Changes the HSM_POLICY_* bits and recomputes the plans from the probe's
 * results (no new PKCS#11 calls).  Must not race with operations on the
 * token's keys. */
void hsm_token_set_policy(hsm_token *tok, unsigned policy);

/* "T", "H(import)", "H(arrival)", "H(op)", "none". */
const char *hsm_level_name(hsm_level level);

/* One row of the probe table: an enctype's or an NTLM step's strategy. */
typedef struct hsm_strategy_row {
    const char *name;       /* "aes256-cts-hmac-sha1-96", "NTProofStr" */
    int32_t etype;          /* enctype number, 0 for NTLM rows */
    const char *strategy;   /* short name of the chosen strategy */
    const char *mechanisms; /* PKCS#11 mechanisms used, comma-separated */
    hsm_level level;        /* worst level over the row's operations */
    bool allowed;           /* false when policy refuses the level */
    const char *missing;    /* mechanism whose absence forced the level,
                               or NULL */
} hsm_strategy_row;

/* The probe's table: the five enctype rows (17, 18, 19, 20, 23) then the
 * NTLMv2 steps (NTOWFv2, NTProofStr, SessionBaseKey, KeyExchange,
 * SignKey, SealKey, Seal).  Owned by the token; *n_out gets the count. */
const hsm_strategy_row *hsm_token_strategies(hsm_token *tok, size_t *n_out);

/* Mechanism facts the probe found by trial, for the probe's JSON output
 * and for tests. */
typedef struct hsm_caps {
    bool aes_ecb, aes_cbc, aes_cts;
    int aes_cts_order; /* 0 unknown/absent, 1 CS1 (NIST), 3 CS3 (Kerberos) */
    bool aes_ecb_encrypt_data, aes_cbc_encrypt_data;
    bool derive_generic_secret; /* *_ENCRYPT_DATA into CKK_GENERIC_SECRET */
    /* Smallest HMAC key (bytes) accepted in trial; 0 = mechanism absent. */
    unsigned hmac_min_md5, hmac_min_sha1, hmac_min_sha256, hmac_min_sha384;
    bool kdf_counter_sha256, kdf_counter_sha384; /* SP800-108 counter */
    bool kdf_feedback_md5, kdf_feedback_sha1;    /* SP800-108 feedback */
    bool rc4;
    bool md5_key_derivation, concatenate_base_and_data;
    bool rc4_unwrap; /* C_UnwrapKey with CKM_RC4 into a secret key */
    bool random;     /* C_GenerateRandom works */
    bool allowed_mechanisms; /* the token stores CKA_ALLOWED_MECHANISMS */
    bool private_session_objects; /* CKA_PRIVATE=TRUE session objects */
} hsm_caps;

const hsm_caps *hsm_token_caps(hsm_token *tok);

/* ---- keys ----------------------------------------------------------- */

/* Enctype numbers (RFC 3961 sec. 8, RFC 3962, RFC 8009, RFC 4757). */
#define HSM_ETYPE_AES128_SHA1 17
#define HSM_ETYPE_AES256_SHA1 18
#define HSM_ETYPE_AES128_SHA256 19
#define HSM_ETYPE_AES256_SHA384 20
#define HSM_ETYPE_RC4_HMAC 23

/* Key usage numbers of RFC 4120 sec. 7.5.1 and RFC 4121 sec. 2 that the
 * protocol code uses with long-term and session keys. */
#define HSM_USAGE_AS_REQ_PA_ENC_TS 1
#define HSM_USAGE_KDC_REP_TICKET 2
#define HSM_USAGE_AS_REP_ENCPART 3
#define HSM_USAGE_TGS_REQ_AD_SESSKEY 4
#define HSM_USAGE_TGS_REQ_AUTH_CKSUM 6
#define HSM_USAGE_TGS_REQ_AUTH 7
#define HSM_USAGE_TGS_REP_ENCPART_SESSKEY 8
#define HSM_USAGE_TGS_REP_ENCPART_SUBKEY 9
#define HSM_USAGE_AP_REQ_AUTH_CKSUM 10
#define HSM_USAGE_AP_REQ_AUTH 11
#define HSM_USAGE_AP_REP_ENCPART 12
#define HSM_USAGE_KRB_CRED_ENCPART 14
#define HSM_USAGE_APP_DATA_CKSUM 17 /* also the PAC checksum usage */
#define HSM_USAGE_ACCEPTOR_SEAL 22
#define HSM_USAGE_ACCEPTOR_SIGN 23
#define HSM_USAGE_INITIATOR_SEAL 24
#define HSM_USAGE_INITIATOR_SIGN 25

/* What the key is, which decides where it may live and how long. */
typedef enum hsm_key_class {
    HSM_KEY_LONG_TERM = 0, /* class L: service and account keys */
    HSM_KEY_SESSION = 1    /* class S: ticket session keys, subkeys */
} hsm_key_class;

typedef struct hsm_key_spec {
    int32_t etype;
    hsm_key_class key_class;
    /* true: CKA_TOKEN=TRUE (survives the process); false: a session
     * object of the owner session (tests, class S keys). */
    bool persistent;
    /* CKA_ID and CKA_LABEL for persistent keys (optional otherwise).  The
     * per-usage objects made at import get CKA_ID = id || usage (4 bytes
     * big-endian) || role byte ('e', 'i', 'c') and the same label with
     * "/u<usage><role>" appended. */
    const uint8_t *id;
    size_t id_len;
    const char *label;
    /* Usages whose per-usage keys a host-derivation strategy (etypes
     * 19/20 on tokens without an SP800-108 KDF) must create at import,
     * since the key bytes exist only during this call.  Ignored by
     * strategies that derive on the token.  NULL/0: a default set by key
     * class (long-term: 1, 2, 3, 17; session: 4, 6-12, 14, 17, 22-25). */
    const int32_t *usages;
    size_t n_usages;
    /* With usages named: create, per usage, only the roles the protocol
     * code uses with it (checksum usages Kc; the RFC 4121 seal usages Ke,
     * Ki and Kc; every other usage Ke and Ki), as the default sets do,
     * instead of every role.  Callers that know their key's job (a TGT's,
     * a context subkey's) save objects and import time. */
    bool roles_by_usage;
} hsm_key_spec;

/* Creates the key on the token from the bytes in key (which must have
 * the enctype's key length) as a sensitive, non-extractable object with
 * minimal CKA_ALLOWED_MECHANISMS; runs the strategy's import-time work
 * (etype 17: Z = D_K(0^16); host-derived per-usage keys).  The caller
 * still owns and wipes key.  *key_out is NULL on failure, and every
 * object created before the failure has been destroyed. */
hsmssp_err hsm_key_import(hsm_token *tok, const hsm_key_spec *spec,
                          const base_secret *key, hsm_key **key_out)
    BASE_WUR;

/* Finds a persistent key made earlier by hsm_key_import() (in this or
 * another process) by its CKA_ID and enctype. */
hsmssp_err hsm_key_find(hsm_token *tok, int32_t etype, const uint8_t *id,
                        size_t id_len, hsm_key **key_out) BASE_WUR;

/* Finds a persistent key by an RFC 7512 PKCS#11 URI (p11-kit's parser,
 * P11_KIT_URI_FOR_OBJECT_ON_TOKEN_AND_MODULE): its object attributes
 * id= (CKA_ID), object= (CKA_LABEL) and type= (CKA_CLASS) select among
 * the token's CKA_TOKEN secret-key objects (the search is always
 * constrained to CKO_SECRET_KEY: a type= other than secret-key matches
 * nothing), and its module, slot and token attributes must match the
 * open token (HSMSSP_ERR_NO_TOKEN otherwise).  Exactly one object must
 * match: none gives HSMSSP_ERR_KEY_NOT_FOUND, several
 * HSMSSP_ERR_INVALID_ARGUMENT ("URI matches N objects").  The object
 * found becomes the key as hsm_key_find() would make it (its CKA_ID
 * names its per-usage objects).  PIN attributes (pin-value, pin-source)
 * are ignored, a pin-value wiped from the parser's copy: the token is
 * logged in already.  The URI is never logged or put in an error
 * detail.  A malformed URI, or one with attributes p11-kit does not
 * know, gives HSMSSP_ERR_BAD_URI. */
hsmssp_err hsm_key_find_uri(hsm_token *tok, int32_t etype, const char *uri,
                            hsm_key **key_out) BASE_WUR;

/* Releases the handle: destroys the key's session objects and its cached
 * derived keys; persistent objects stay on the token.  NULL is a no-op. */
void hsm_key_free(hsm_key *key);

/* Removes a persistent key and its per-usage objects from the token, then
 * frees the handle. */
hsmssp_err hsm_key_destroy(hsm_key *key) BASE_WUR;

int32_t hsm_key_etype(const hsm_key *key);

/* The token the key lives on. */
hsm_token *hsm_key_token(const hsm_key *key);

/* Every PKCS#11 object handle this key currently owns (base key, stored
 * per-usage keys, cached derived keys), for the sensitivity test.  Writes
 * up to max handles as unsigned long; returns the total count. */
size_t hsm_key_objects(hsm_key *key, unsigned long *handles, size_t max);

/* Reads CKA_SENSITIVE, CKA_EXTRACTABLE and tries CKA_VALUE of an object;
 * *value_rv_out gets the CK_RV of the CKA_VALUE read.  For tests. */
hsmssp_err hsm_object_check(hsm_token *tok, unsigned long handle,
                            bool *sensitive_out, bool *extractable_out,
                            unsigned long *value_rv_out) BASE_WUR;

/* ---- the enctype engine (RFC 3961 operations on the token) ---------- */

/* Name of an enctype ("aes256-cts-hmac-sha1-96"), NULL if unknown. */
const char *hsm_etype_name(int32_t etype);

/* Key length in bytes of an enctype, 0 if unknown. */
size_t hsm_etype_keylen(int32_t etype);

/* Ciphertext length for a plaintext of plain_len bytes. */
hsmssp_err hsm_krb_enc_len(int32_t etype, size_t plain_len, size_t *out)
    BASE_WUR;

/* Length of checksums made by the etype's mandatory checksum type. */
hsmssp_err hsm_krb_cksum_len(int32_t etype, size_t *out) BASE_WUR;

/* The etype's mandatory checksum type number (RFC 3961 sec. 4, RFC 8009,
 * RFC 4757: 15, 16, 19, 20, -138). */
int32_t hsm_krb_cksumtype(int32_t etype);

/* RFC 3961 encrypt: a random confounder, then the enctype's cipher and
 * integrity check over (confounder || in).  out needs hsm_krb_enc_len()
 * bytes; *out_len gets the length written. */
hsmssp_err hsm_krb_encrypt(hsm_key *key, int32_t usage, const uint8_t *in,
                           size_t in_len, uint8_t *out, size_t out_cap,
                           size_t *out_len) BASE_WUR;

/* The same with a caller-chosen confounder (known-answer tests). */
hsmssp_err hsm_krb_encrypt_with_confounder(hsm_key *key, int32_t usage,
                                           const uint8_t *confounder,
                                           const uint8_t *in, size_t in_len,
                                           uint8_t *out, size_t out_cap,
                                           size_t *out_len) BASE_WUR;

/* A piece of message that the integrity check covers but the cipher does
 * not (SSPI's READONLY_WITH_CHECKSUM buffers; RFC 3961 "sign only" data
 * as MIT's krb5_c_encrypt_iov takes it): it sits at byte offset `at` of
 * the encrypted plaintext (not counting the confounder).  Pieces come in
 * non-decreasing `at` order, each at most in_len. */
typedef struct hsm_signonly {
    size_t at;
    const uint8_t *p;
    size_t len;
} hsm_signonly;

/* hsm_krb_encrypt() with sign-only pieces: the ciphertext is that of in
 * alone; the integrity check covers in with the pieces in place, in the
 * order each enctype's profile defines (aes-sha1 and RC4: the plaintext;
 * RFC 8009: the IV and ciphertext). */
hsmssp_err hsm_krb_encrypt_so(hsm_key *key, int32_t usage, const uint8_t *in,
                              size_t in_len, const hsm_signonly *so,
                              size_t n_so, uint8_t *out, size_t out_cap,
                              size_t *out_len) BASE_WUR;

/* The matching decrypt: in is the ciphertext, the pieces what the sender
 * signed beside it. */
hsmssp_err hsm_krb_decrypt_so(hsm_key *key, int32_t usage, const uint8_t *in,
                              size_t in_len, const hsm_signonly *so,
                              size_t n_so, uint8_t *out, size_t out_cap,
                              size_t *out_len) BASE_WUR;

/* RFC 3961 decrypt: checks the integrity, writes the plaintext without
 * confounder to out (out_cap >= in_len is always enough).  Fails with
 * HSMSSP_ERR_BAD_CIPHERTEXT for impossible lengths and
 * HSMSSP_ERR_INTEGRITY when the check does not match; on failure out is
 * wiped. */
hsmssp_err hsm_krb_decrypt(hsm_key *key, int32_t usage, const uint8_t *in,
                           size_t in_len, uint8_t *out, size_t out_cap,
                           size_t *out_len) BASE_WUR;

/* Keyed checksum of the etype's mandatory type over in. */
hsmssp_err hsm_krb_checksum(hsm_key *key, int32_t usage, const uint8_t *in,
                            size_t in_len, uint8_t *out, size_t out_cap,
                            size_t *out_len) BASE_WUR;

/* Verifies a checksum in constant time: HSMSSP_OK or
 * HSMSSP_ERR_INTEGRITY. */
hsmssp_err hsm_krb_checksum_verify(hsm_key *key, int32_t usage,
                                   const uint8_t *in, size_t in_len,
                                   const uint8_t *cksum, size_t cksum_len)
    BASE_WUR;

/* RFC 4757 sec. 7 GSS tokens of arcfour-hmac session keys.
 * hsm_rc4_gss_seq: out = RC4(Kseq, in), Kseq = HMAC-MD5(HMAC-MD5(K, 0^4),
 * cksum) (the SND_SEQ field; the same call seals and opens it).
 * hsm_rc4_gss_crypt: data = RC4(Kcrypt, data) in place, Kcrypt =
 * HMAC-MD5(HMAC-MD5(Klocal, 0^4), first 4 bytes of seq_plain), Klocal =
 * K xor F0 (stored at import for session keys only).  Level as the
 * etype 23 plan: T with the feedback KDF and CKM_RC4, else H(op), which
 * policy must allow. */
hsmssp_err hsm_rc4_gss_seq(hsm_key *key, const uint8_t cksum[8],
                           const uint8_t in[8], uint8_t out[8]) BASE_WUR;
hsmssp_err hsm_rc4_gss_crypt(hsm_key *key, const uint8_t seq_plain[8],
                             uint8_t *data, size_t len) BASE_WUR;

/* Number of derived-key objects in the token's cache, for tests. */
size_t hsm_token_cache_size(hsm_token *tok);

/* ---- enumeration ---------------------------------------------------- */

/* Called once per secret-key object whose CKA_ID starts with the prefix:
 * its CKA_ID and CKA_LABEL (NUL-terminated, "" when absent).  Return
 * false to stop the walk. */
typedef bool (*hsm_id_fn)(void *arg, const uint8_t *id, size_t id_len,
                          const char *label);

/* Walks the persistent (CKA_TOKEN=TRUE) and, when session is true, this
 * process's session secret-key objects of the token, visiting those whose
 * CKA_ID starts with prefix (prefix_len 0: all).  At most max_objects
 * objects are examined (HSMSSP_ERR_LIMIT beyond), so a crowded token
 * cannot make a caller loop without bound. */
hsmssp_err hsm_key_list(hsm_token *tok, const uint8_t *prefix,
                        size_t prefix_len, bool session, size_t max_objects,
                        hsm_id_fn fn, void *arg) BASE_WUR;

/* Destroys every persistent secret-key object whose CKA_ID is exactly id
 * (at most 16 per call: IDs are meant to be unique); *n_out gets how
 * many.  For cleaning up objects whose key cannot be opened as an
 * hsm_key (its enctype unknown, or only some of its per-usage objects
 * left); other callers use hsm_key_destroy(). */
hsmssp_err hsm_object_destroy_id(hsm_token *tok, const uint8_t *id,
                                 size_t id_len, size_t *n_out) BASE_WUR;

/* Whether keys can be stored on the token (CKA_TOKEN=TRUE objects). */
bool hsm_token_persistent(hsm_token *tok);

/* ---- host-side helpers (public data, randomness) -------------------- */

/* Digest of public data ("MD5", "SHA1", "SHA256", "SHA384") with the
 * project's private OpenSSL context; out needs the digest size. */
hsmssp_err hsm_digest(const char *name, const uint8_t *in, size_t len,
                      uint8_t *out, size_t *out_len) BASE_WUR;

/* n random bytes from the host's CSPRNG (OpenSSL's DRBG, seeded by the
 * kernel), for confounders, nonces, sequence numbers and subkeys. */
hsmssp_err hsm_random(uint8_t *out, size_t n) BASE_WUR;

/* ---- the arrival window (DESIGN sec. 2, class S keys) --------------- */

/* A session key (ticket session key, authenticator or AP-REP subkey,
 * delegated TGT key) arrives inside a message that must be decrypted and
 * parsed on the host, so its bytes are on the host anyway.  While they
 * are, the provider may use them on the host to open the authenticator
 * and build the AP-REP (level H(arrival)); then the key is imported with
 * hsm_key_import() and its bytes wiped.  These two calls are that use:
 * RFC 3961 encrypt and decrypt with key bytes the caller holds in a
 * base_secret.  They refuse long-term keys by construction (there is no
 * way to get long-term key bytes back from the token). */

/* Decrypts in with the key for usage; *plain_out is a new base_secret
 * holding the plaintext (confounder removed).  HSMSSP_ERR_INTEGRITY /
 * HSMSSP_ERR_BAD_CIPHERTEXT as hsm_krb_decrypt(). */
hsmssp_err hsm_arrival_decrypt(int32_t etype, const base_secret *key,
                               int32_t usage, const uint8_t *in,
                               size_t in_len, base_secret **plain_out)
    BASE_WUR;

/* Encrypts in (out needs hsm_krb_enc_len() bytes). */
hsmssp_err hsm_arrival_encrypt(int32_t etype, const base_secret *key,
                               int32_t usage, const uint8_t *in,
                               size_t in_len, uint8_t *out, size_t out_cap,
                               size_t *out_len) BASE_WUR;

/* Fresh random key of the etype's length in a new base_secret (for
 * subkeys: generated on the host, used in the arrival window, imported,
 * wiped). */
hsmssp_err hsm_arrival_random_key(int32_t etype, base_secret **key_out)
    BASE_WUR;

/* ---- string-to-key (level H(import)) ------------------------------- */

/* RFC 3961 string-to-key of a password (UTF-8) for an account key: the
 * one moment a long-term key exists on the host, after which the caller
 * imports *key_out (hsm_key_import, or kerb_ks_import) and frees it.
 * Salt and s2kparams come from the KDC's ETYPE-INFO2 (params NULL: the
 * enctype's default iteration count; counts above 2^24 are refused, so
 * a KDC cannot make this spin).  Etype 23 ignores salt and params. */
hsmssp_err hsm_string_to_key(int32_t etype, const char *password,
                             size_t pwlen, const uint8_t *salt,
                             size_t saltlen, const uint8_t *params,
                             size_t params_len, base_secret **key_out)
    BASE_WUR;

#endif
