/*
 * hsm/probe.c - what can this token do?  The capability probe and the
 * choice of a plan per enctype and per NTLM step.
 *
 * A mechanism list is not enough (DESIGN sec. 3): SoftHSM2 lists HMAC but
 * refuses keys below 16/20/28/32/48/64 bytes only when one tries; p11-kit
 * remoting lists mechanisms whose parameters it then drops; NSS's
 * CKM_AES_CTS is the NIST CS1 order, not Kerberos's.  So every path the
 * engine may take is tried once, with throw-away keys made from known
 * bytes, and its result is compared with the software reference
 * (hsm/krbsw.c).  A derived key is never read back: the trial encrypts a
 * zero block with it on the token and compares that with the host's
 * encryption under the expected key.  A path whose trial fails or gives a
 * wrong answer is treated as absent, and the log says so.
 *
 * Trial keys are sensitive, non-extractable session objects like every
 * other object, and are destroyed at once.  The probe costs about 40
 * PKCS#11 operations (~1-2 ms on SoftHSM2) at token open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/hsm-int.h"
#include "hsm/krbsw.h"

typedef struct probe {
    hsm_token *tok;
    hsm_sess *s;
    CK_MECHANISM_TYPE *mechs;
    CK_ULONG n_mechs;
} probe;

static bool
listed(const probe *p, CK_MECHANISM_TYPE m)
{
    for (CK_ULONG i = 0; i < p->n_mechs; i++)
        if (p->mechs[i] == m)
            return true;
    return false;
}

/* A throw-away key from known bytes. */
static CK_OBJECT_HANDLE
trial_key(probe *p, CK_KEY_TYPE kt, const uint8_t *v, size_t len)
{
    hsm_obj_tmpl t;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    memset(&t, 0, sizeof(t));
    t.key_type = kt;
    t.encrypt = t.decrypt = t.sign = t.derive = true;
    t.unwrap = kt == CKK_RC4;
    if (hsm_obj_create(p->tok, &t, v, len, &h) != HSMSSP_OK)
        return CK_INVALID_HANDLE;
    return h;
}

/* One-shot encryption of len bytes on the token; true when it worked. */
static bool
trial_encrypt(probe *p, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
              const uint8_t *in, size_t len, uint8_t *out)
{
    CK_ULONG olen = len;
    CK_RV rv;

    if (k == CK_INVALID_HANDLE)
        return false;
    rv = P11(p->tok, C_EncryptInit, p->s->h, m, k);
    if (rv != CKR_OK)
        return false;
    rv = P11(p->tok, C_Encrypt, p->s->h, (CK_BYTE_PTR)in, len, out, &olen);
    return rv == CKR_OK && olen == len;
}

/* AES-ECB of one block on the host (CTS of one block is plain CBC with a
 * zero IV, which is ECB). */
static bool
host_aes_block(const uint8_t *key, size_t keylen, const uint8_t in[16],
               uint8_t out[16])
{
    return krbsw_cts_encrypt(key, keylen, NULL, in, 16, out) == HSMSSP_OK;
}

/* Is the derived AES key k the key `expect` (keylen bytes)?  Compares
 * E_k(0^16) on the token with the host's. */
static bool
same_aes_key(probe *p, CK_OBJECT_HANDLE k, const uint8_t *expect,
             size_t keylen)
{
    uint8_t zero[16] = {0}, a[16], b[16];
    CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};

    return trial_encrypt(p, &ecb, k, zero, 16, a) &&
           host_aes_block(expect, keylen, zero, b) && memcmp(a, b, 16) == 0;
}

/* HMAC with the token key k over "probe"; compares with the host using
 * the key bytes expect. */
static bool
same_hmac(probe *p, CK_MECHANISM_TYPE mt, const char *digest,
          CK_OBJECT_HANDLE k, const uint8_t *expect, size_t keylen)
{
    static const uint8_t msg[] = "hsmssp probe";
    CK_MECHANISM m = {mt, NULL, 0};
    uint8_t a[64], b[64];
    CK_ULONG alen = sizeof(a);
    size_t blen = 0;

    if (k == CK_INVALID_HANDLE ||
        P11(p->tok, C_SignInit, p->s->h, &m, k) != CKR_OK ||
        P11(p->tok, C_Sign, p->s->h, (CK_BYTE_PTR)msg, sizeof(msg), a,
            &alen) != CKR_OK)
        return false;
    if (krbsw_hmac(digest, expect, keylen, msg, sizeof(msg), b, &blen) !=
        HSMSSP_OK)
        return false;
    return alen == blen && memcmp(a, b, blen) == 0;
}

static CK_OBJECT_HANDLE
trial_derive(probe *p, CK_MECHANISM *m, CK_OBJECT_HANDLE base,
             CK_KEY_TYPE kt, size_t len)
{
    hsm_obj_tmpl t;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    if (base == CK_INVALID_HANDLE)
        return CK_INVALID_HANDLE;
    memset(&t, 0, sizeof(t));
    t.key_type = kt;
    t.encrypt = t.decrypt = t.sign = t.derive = true;
    if (hsm_obj_derive(p->tok, m, base, &t, len, &h) != HSMSSP_OK)
        return CK_INVALID_HANDLE;
    return h;
}

static void
drop(probe *p, CK_OBJECT_HANDLE *h)
{
    if (*h != CK_INVALID_HANDLE)
        hsm_obj_destroy(p->tok, *h);
    *h = CK_INVALID_HANDLE;
}

/* Known, non-secret trial key bytes. */
static const uint8_t kbytes[64] = {
    0x70, 0x72, 0x6f, 0x62, 0x65, 0x20, 0x6b, 0x65, 0x79, 0x20, 0x30, 0x31,
    0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64,
    0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70,
    0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x41, 0x42,
    0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e,
    0x4f, 0x50, 0x51, 0x52};

/* Which attributes the token accepts on secret keys. */
static void
probe_attributes(probe *p)
{
    static CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    static CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    static CK_KEY_TYPE kt = CKK_AES;
    CK_MECHANISM_TYPE m[1] = {CKM_AES_ECB};
    hsm_token *tok = p->tok;
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
    uint64_t gen;
    CK_ATTRIBUTE a[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &f, sizeof(f)},
        {CKA_SENSITIVE, &t, sizeof(t)},
        {CKA_EXTRACTABLE, &f, sizeof(f)},
        {CKA_ENCRYPT, &t, sizeof(t)},
        {CKA_VALUE, (void *)kbytes, 16},
        {CKA_PRIVATE, &t, sizeof(t)},
        {CKA_ALLOWED_MECHANISMS, m, sizeof(m)},
    };

    if (hsm_owner_acquire(tok, &h, &gen) != HSMSSP_OK)
        return;
    /* CKA_ALLOWED_MECHANISMS (v2.40) on a non-private object. */
    if (P11(tok, C_CreateObject, h, a, 7, &o) == CKR_OK)
        (void)P11(tok, C_DestroyObject, h, o);
    a[7] = a[8];
    tok->caps.allowed_mechanisms =
        P11(tok, C_CreateObject, h, a, 8, &o) == CKR_OK;
    if (tok->caps.allowed_mechanisms)
        (void)P11(tok, C_DestroyObject, h, o);
    /* Private session objects need a logged-in user on most tokens. */
    a[7] = (CK_ATTRIBUTE){CKA_PRIVATE, &t, sizeof(t)};
    tok->caps.private_session_objects =
        P11(tok, C_CreateObject, h, a, 8, &o) == CKR_OK;
    if (tok->caps.private_session_objects)
        (void)P11(tok, C_DestroyObject, h, o);
    hsm_owner_release(tok);
}

static void
probe_aes(probe *p)
{
    hsm_caps *c = &p->tok->caps;
    CK_OBJECT_HANDLE k16 = CK_INVALID_HANDLE, k32 = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE d = CK_INVALID_HANDLE;
    uint8_t zero[32] = {0}, a[48], b[48], iv[16] = {0};
    CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
    CK_MECHANISM cbc = {CKM_AES_CBC, iv, sizeof(iv)};
    uint8_t label[5] = {0, 0, 0, 2, KRBSW_ROLE_KE}, nf[32];
    base_secret *want = NULL;

    k16 = trial_key(p, CKK_AES, kbytes, 16);
    k32 = trial_key(p, CKK_AES, kbytes, 32);
    c->aes_ecb = trial_encrypt(p, &ecb, k16, zero, 16, a) &&
                 host_aes_block(kbytes, 16, zero, b) && !memcmp(a, b, 16);
    c->aes_cbc = trial_encrypt(p, &cbc, k16, zero, 32, a) &&
                 krbsw_cts_encrypt(kbytes, 16, NULL, zero, 16, b) ==
                     HSMSSP_OK &&
                 !memcmp(a, b, 16);

    /* aes128 DK by ECB_ENCRYPT_DATA, checked against krbsw_derive. */
    krbsw_nfold(label, 5, nf, 16);
    if (listed(p, CKM_AES_ECB_ENCRYPT_DATA) &&
        krbsw_derive(HSM_ETYPE_AES128_SHA1, kbytes, 2, KRBSW_ROLE_KE,
                     &want) == HSMSSP_OK) {
        CK_KEY_DERIVATION_STRING_DATA sd = {nf, 16};
        CK_MECHANISM m = {CKM_AES_ECB_ENCRYPT_DATA, &sd, sizeof(sd)};
        d = trial_derive(p, &m, k16, CKK_AES, 16);
        c->aes_ecb_encrypt_data = same_aes_key(p, d, want->data, 16);
        drop(p, &d);
        /* Into a generic secret of 20 bytes from 32 bytes of data: the
         * etype 17 zero-pad derivation needs exactly this. */
        memset(nf + 16, 0, 16);
        sd.ulLen = 32;
        d = trial_derive(p, &m, k16, CKK_GENERIC_SECRET, 20);
        c->derive_generic_secret = d != CK_INVALID_HANDLE;
        drop(p, &d);
    }
    base_secret_free(want);
    want = NULL;

    /* aes256 DK by CBC_ENCRYPT_DATA over nfold || 0^16 with IV 0. */
    krbsw_nfold(label, 5, nf, 16);
    memset(nf + 16, 0, 16);
    if (listed(p, CKM_AES_CBC_ENCRYPT_DATA) &&
        krbsw_derive(HSM_ETYPE_AES256_SHA1, kbytes, 2, KRBSW_ROLE_KE,
                     &want) == HSMSSP_OK) {
        CK_AES_CBC_ENCRYPT_DATA_PARAMS cp;
        CK_MECHANISM m = {CKM_AES_CBC_ENCRYPT_DATA, &cp, sizeof(cp)};
        memset(&cp, 0, sizeof(cp));
        cp.pData = nf;
        cp.length = 32;
        d = trial_derive(p, &m, k32, CKK_AES, 32);
        c->aes_cbc_encrypt_data = same_aes_key(p, d, want->data, 32);
        drop(p, &d);
    }
    base_secret_free(want);

    /* CKM_AES_CTS and its block order: compare 32- and 17-byte outputs
     * with the host's CS3 (Kerberos) and the CS1 rearrangement. */
    if (listed(p, CKM_AES_CTS)) {
        CK_MECHANISM cts = {CKM_AES_CTS, iv, sizeof(iv)};
        uint8_t in[32], cs3[32];
        bool ok32, ok17;
        memcpy(in, kbytes + 8, 32);
        ok32 = trial_encrypt(p, &cts, k16, in, 32, a) &&
               krbsw_cts_encrypt(kbytes, 16, NULL, in, 32, cs3) == HSMSSP_OK;
        c->aes_cts = ok32;
        if (ok32) {
            bool is_cs3_32 = memcmp(a, cs3, 32) == 0;
            /* CS1 leaves full blocks in CBC order: cs3 with the last two
             * blocks swapped back. */
            bool is_cs1_32 = memcmp(a, cs3 + 16, 16) == 0 &&
                             memcmp(a + 16, cs3, 16) == 0;
            ok17 = trial_encrypt(p, &cts, k16, in, 17, b) &&
                   krbsw_cts_encrypt(kbytes, 16, NULL, in, 17, cs3) ==
                       HSMSSP_OK;
            if (ok17 && is_cs3_32 && memcmp(b, cs3, 17) == 0)
                c->aes_cts_order = 3;
            else if (ok17 && is_cs1_32 && memcmp(b, cs3 + 16, 1) == 0 &&
                     memcmp(b + 1, cs3, 16) == 0)
                c->aes_cts_order = 1;
        }
    }
    drop(p, &k16);
    drop(p, &k32);
}

/* Smallest HMAC key size the token accepts for mechanism mt, checked
 * against the host; 0 when HMAC with mt does not work at all. */
static unsigned
probe_hmac_min(probe *p, CK_MECHANISM_TYPE mt, const char *digest)
{
    static const unsigned sizes[] = {16, 20, 24, 28, 32, 48, 64};

    if (!listed(p, mt))
        return 0;
    for (size_t i = 0; i < BASE_ARRAY_LEN(sizes); i++) {
        CK_OBJECT_HANDLE k =
            trial_key(p, CKK_GENERIC_SECRET, kbytes, sizes[i]);
        bool ok = same_hmac(p, mt, digest, k, kbytes, sizes[i]);
        drop(p, &k);
        if (ok)
            return sizes[i];
    }
    return 0;
}

/* The RFC 8009 KDF as SP800-108 counter mode, checked against krbsw. */
static bool
probe_kdf_counter(probe *p, int32_t etype, CK_MECHANISM_TYPE prf)
{
    hsm_sp800_108_counter_format cf = {CK_FALSE, 32};
    hsm_sp800_108_dkm_length_format lf = {CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
                                          CK_FALSE, 32};
    uint8_t lab0[6] = {0, 0, 0, 2, KRBSW_ROLE_KE, 0};
    hsm_prf_data_param dp[3] = {
        {CK_SP800_108_ITERATION_VARIABLE, &cf, sizeof(cf)},
        {CK_SP800_108_BYTE_ARRAY, lab0, sizeof(lab0)},
        {CK_SP800_108_DKM_LENGTH, &lf, sizeof(lf)}};
    hsm_sp800_108_kdf_params kp = {prf, 3, dp, 0, NULL};
    CK_MECHANISM m = {CKM_SP800_108_COUNTER_KDF, &kp, sizeof(kp)};
    size_t keylen = etype == HSM_ETYPE_AES128_SHA256 ? 16 : 32;
    CK_OBJECT_HANDLE base, d;
    base_secret *want = NULL;
    bool ok = false;

    if (!listed(p, CKM_SP800_108_COUNTER_KDF))
        return false;
    if (krbsw_derive(etype, kbytes, 2, KRBSW_ROLE_KE, &want) != HSMSSP_OK)
        return false;
    base = trial_key(p, CKK_GENERIC_SECRET, kbytes, keylen);
    d = trial_derive(p, &m, base, CKK_AES, keylen);
    ok = same_aes_key(p, d, want->data, keylen);
    drop(p, &d);
    drop(p, &base);
    base_secret_free(want);
    return ok;
}

/* HMAC(K, m) as a key by SP800-108 feedback mode with an empty IV. */
static bool
probe_kdf_feedback(probe *p, CK_MECHANISM_TYPE prf, const char *digest)
{
    static const uint8_t msg[4] = {2, 0, 0, 0};
    hsm_prf_data_param dp[2] = {{CK_SP800_108_ITERATION_VARIABLE, NULL, 0},
                                {CK_SP800_108_BYTE_ARRAY, (void *)msg, 4}};
    hsm_sp800_108_feedback_kdf_params kp = {prf, 2, dp, 0, NULL, 0, NULL};
    CK_MECHANISM m = {CKM_SP800_108_FEEDBACK_KDF, &kp, sizeof(kp)};
    uint8_t want[64];
    size_t wlen = 0;
    CK_OBJECT_HANDLE base, d;
    bool ok;

    if (!listed(p, CKM_SP800_108_FEEDBACK_KDF))
        return false;
    if (krbsw_hmac(digest, kbytes, 16, msg, 4, want, &wlen) != HSMSSP_OK)
        return false;
    base = trial_key(p, CKK_GENERIC_SECRET, kbytes, 16);
    d = trial_derive(p, &m, base, CKK_AES, 16);
    ok = same_aes_key(p, d, want, 16);
    drop(p, &d);
    drop(p, &base);
    return ok;
}

static void
probe_rc4_and_ntlm(probe *p)
{
    hsm_caps *c = &p->tok->caps;
    CK_MECHANISM rc4 = {CKM_RC4, NULL, 0};
    uint8_t in[16], a[16], b[16];
    CK_OBJECT_HANDLE k, d;

    memcpy(in, kbytes + 20, 16);
    if (listed(p, CKM_RC4)) {
        k = trial_key(p, CKK_RC4, kbytes, 16);
        c->rc4 = trial_encrypt(p, &rc4, k, in, 16, a) &&
                 krbsw_rc4(kbytes, 16, in, 16, b) == HSMSSP_OK &&
                 memcmp(a, b, 16) == 0;
        /* NTLM key exchange: RC4-unwrap an encrypted session key into a
         * secret-key object (MS-NLMP 3.4.5.3 ExportedSessionKey). */
        if (c->rc4) {
            CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
            CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
            CK_BBOOL t = CK_TRUE, f = CK_FALSE;
            CK_ULONG vl = 16;
            CK_ATTRIBUTE tmpl[] = {
                {CKA_CLASS, &cls, sizeof(cls)},
                {CKA_KEY_TYPE, &kt, sizeof(kt)},
                {CKA_TOKEN, &f, sizeof(f)},
                {CKA_SENSITIVE, &t, sizeof(t)},
                {CKA_EXTRACTABLE, &f, sizeof(f)},
                {CKA_SIGN, &t, sizeof(t)},
                {CKA_VALUE_LEN, &vl, sizeof(vl)}};
            CK_SESSION_HANDLE h;
            uint64_t gen;
            d = CK_INVALID_HANDLE;
            if (hsm_owner_acquire(p->tok, &h, &gen) == HSMSSP_OK) {
                c->rc4_unwrap = P11(p->tok, C_UnwrapKey, h, &rc4, k, a, 16,
                                    tmpl, BASE_ARRAY_LEN(tmpl),
                                    &d) == CKR_OK;
                hsm_owner_release(p->tok);
            }
            /* The unwrapped key must be the plaintext `in`. */
            if (c->rc4_unwrap)
                c->rc4_unwrap = same_hmac(p, CKM_MD5_HMAC, "MD5", d, in, 16);
            drop(p, &d);
        }
        drop(p, &k);
    }

    /* NTLM sign/seal keys: MD5(key || magic) = CONCATENATE_BASE_AND_DATA
     * then MD5_KEY_DERIVATION (MS-NLMP 3.4.5.2). */
    if (listed(p, CKM_CONCATENATE_BASE_AND_DATA) &&
        listed(p, CKM_MD5_KEY_DERIVATION)) {
        CK_KEY_DERIVATION_STRING_DATA sd = {(CK_BYTE_PTR)in, 16};
        CK_MECHANISM cat = {CKM_CONCATENATE_BASE_AND_DATA, &sd, sizeof(sd)};
        CK_MECHANISM md5 = {CKM_MD5_KEY_DERIVATION, NULL, 0};
        CK_OBJECT_HANDLE both, sk;
        uint8_t cat_bytes[32], want[64];
        size_t wlen = 0;
        k = trial_key(p, CKK_GENERIC_SECRET, kbytes, 16);
        both = trial_derive(p, &cat, k, CKK_GENERIC_SECRET, 32);
        c->concatenate_base_and_data = both != CK_INVALID_HANDLE;
        sk = trial_derive(p, &md5, both, CKK_GENERIC_SECRET, 16);
        memcpy(cat_bytes, kbytes, 16);
        memcpy(cat_bytes + 16, in, 16);
        c->md5_key_derivation =
            krbsw_digest("MD5", cat_bytes, 32, want, &wlen) == HSMSSP_OK &&
            same_hmac(p, CKM_MD5_HMAC, "MD5", sk, want, 16);
        drop(p, &sk);
        drop(p, &both);
        drop(p, &k);
    }
}

/* ---- plans and the probe table -------------------------------------- */

static void
set_row(hsm_token *tok, const char *name, int32_t etype, const char *strat,
        const char *mechs, hsm_level level, bool allowed, const char *missing)
{
    size_t i = tok->n_rows++;
    hsm_strategy_row *r = &tok->rows[i];

    snprintf(tok->row_strategy[i], sizeof(tok->row_strategy[i]), "%s",
             strat);
    snprintf(tok->row_mechs[i], sizeof(tok->row_mechs[i]), "%s", mechs);
    r->name = name;
    r->etype = etype;
    r->strategy = tok->row_strategy[i];
    r->mechanisms = tok->row_mechs[i];
    r->level = level;
    r->allowed = allowed;
    r->missing = missing;
}

/* The CTS part of an AES plan, with its mechanism text. */
static hsm_cts_kind
pick_cts(const hsm_caps *c, const char **mechs_out)
{
    if (c->aes_cts && c->aes_cts_order == 3) {
        *mechs_out = "CKM_AES_CTS";
        return HSM_CTS_NATIVE_CS3;
    }
    if (c->aes_cts && c->aes_cts_order == 1 && c->aes_cbc) {
        *mechs_out = "CKM_AES_CTS(CS1, reordered),CKM_AES_CBC";
        return HSM_CTS_NATIVE_CS1;
    }
    *mechs_out = "CKM_AES_CBC,CKM_AES_ECB";
    return HSM_CTS_COMPOSED;
}

static void
plan_etypes(hsm_token *tok)
{
    const hsm_caps *c = &tok->caps;
    bool host_ok = (tok->policy & HSM_POLICY_ALLOW_HOST_OP_KRB) != 0;
    const char *cts_mechs;
    hsm_cts_kind cts = pick_cts(c, &cts_mechs);
    bool aes = c->aes_ecb && c->aes_cbc;
    char m[224];

    for (size_t i = 0; i < HSM_N_ETYPES; i++)
        memset(&tok->plans[i], 0, sizeof(tok->plans[i]));

    /* etype 17: DK by ECB_ENCRYPT_DATA.  Ki is 16 bytes; where HMAC-SHA1
     * needs 20, derive Ki || 0^4 from nfold || Z (DESIGN sec. 3). */
    {
        hsm_etype_plan *pl = &tok->plans[0];
        pl->etype = HSM_ETYPE_AES128_SHA1;
        pl->cts = cts;
        pl->derive = HSM_DERIVE_DK_ECB;
        pl->level = HSM_LEVEL_T;
        pl->mac_keylen = c->hmac_min_sha1 > 16 ? c->hmac_min_sha1 : 0;
        if (!aes)
            pl->missing = c->aes_ecb ? "CKM_AES_CBC" : "CKM_AES_ECB";
        else if (!c->aes_ecb_encrypt_data)
            pl->missing = "CKM_AES_ECB_ENCRYPT_DATA";
        else if (c->hmac_min_sha1 == 0)
            pl->missing = "CKM_SHA_1_HMAC";
        else if (pl->mac_keylen > 20 ||
                 (pl->mac_keylen > 16 && !c->derive_generic_secret))
            pl->missing = "CKM_SHA_1_HMAC with 16-byte keys";
        if (pl->missing != NULL) {
            pl->level = HSM_LEVEL_NONE;
            pl->derive = HSM_DERIVE_NONE;
        }
        pl->allowed = pl->level != HSM_LEVEL_NONE;
        snprintf(m, sizeof(m), "CKM_AES_ECB_ENCRYPT_DATA,%s,CKM_SHA_1_HMAC",
                 cts_mechs);
        set_row(tok, "aes128-cts-hmac-sha1-96", pl->etype,
                pl->mac_keylen ? "DK on token (Ki zero-padded via Z), CTS, "
                                 "HMAC on token"
                               : "DK on token, CTS, HMAC on token",
                m, pl->level, pl->allowed, pl->missing);
    }
    /* etype 18: DK by CBC_ENCRYPT_DATA (two chained blocks). */
    {
        hsm_etype_plan *pl = &tok->plans[1];
        pl->etype = HSM_ETYPE_AES256_SHA1;
        pl->cts = cts;
        pl->derive = HSM_DERIVE_DK_CBC;
        pl->level = HSM_LEVEL_T;
        if (!aes)
            pl->missing = c->aes_ecb ? "CKM_AES_CBC" : "CKM_AES_ECB";
        else if (!c->aes_cbc_encrypt_data)
            pl->missing = "CKM_AES_CBC_ENCRYPT_DATA";
        else if (c->hmac_min_sha1 == 0 || c->hmac_min_sha1 > 32)
            pl->missing = "CKM_SHA_1_HMAC";
        if (pl->missing != NULL) {
            pl->level = HSM_LEVEL_NONE;
            pl->derive = HSM_DERIVE_NONE;
        }
        pl->allowed = pl->level != HSM_LEVEL_NONE;
        snprintf(m, sizeof(m), "CKM_AES_CBC_ENCRYPT_DATA,%s,CKM_SHA_1_HMAC",
                 cts_mechs);
        set_row(tok, "aes256-cts-hmac-sha1-96", pl->etype,
                "DK on token, CTS, HMAC on token", m, pl->level, pl->allowed,
                pl->missing);
    }
    /* etypes 19/20: the RFC 8009 KDF is SP800-108 counter mode; without
     * it the per-usage keys are derived on the host at import and the
     * long-term key bytes are gone when the import returns. */
    for (int i = 0; i < 2; i++) {
        hsm_etype_plan *pl = &tok->plans[2 + i];
        bool kdf = i == 0 ? c->kdf_counter_sha256 : c->kdf_counter_sha384;
        unsigned hmin = i == 0 ? c->hmac_min_sha256 : c->hmac_min_sha384;
        const char *hm = i == 0 ? "CKM_SHA256_HMAC" : "CKM_SHA384_HMAC";
        size_t ki_len = i == 0 ? 16 : 24;
        pl->etype = i == 0 ? HSM_ETYPE_AES128_SHA256 : HSM_ETYPE_AES256_SHA384;
        pl->cts = cts;
        pl->mac_keylen = hmin > ki_len ? hmin : 0;
        if (kdf) {
            pl->derive = HSM_DERIVE_KDF_COUNTER;
            pl->level = HSM_LEVEL_T;
            snprintf(m, sizeof(m), "CKM_SP800_108_COUNTER_KDF(%s),%s,%s", hm,
                     cts_mechs, hm);
        } else {
            pl->derive = HSM_DERIVE_HOST_IMPORT;
            pl->level = HSM_LEVEL_H_IMPORT;
            pl->missing = "CKM_SP800_108_COUNTER_KDF";
            snprintf(m, sizeof(m), "host KDF at import,%s,%s", cts_mechs,
                     hm);
        }
        if (!aes || hmin == 0 || hmin > 64) {
            pl->missing = !aes ? "CKM_AES_CBC" : hm;
            pl->level = HSM_LEVEL_NONE;
            pl->derive = HSM_DERIVE_NONE;
        }
        pl->allowed = pl->level != HSM_LEVEL_NONE;
        set_row(tok, hsm_etype_name(pl->etype), pl->etype,
                kdf ? "KDF on token, CTS, HMAC on token"
                    : "per-usage keys derived on host at import, then CTS "
                      "and HMAC on token",
                m, pl->level, pl->allowed, pl->missing);
    }
    /* etype 23: K1/K3 are HMAC-MD5 outputs used as keys: the feedback KDF
     * makes them on the token and CKM_RC4 encrypts; without both, K1 comes
     * out of the token by C_Sign and the rest runs on the host (H(op)). */
    {
        hsm_etype_plan *pl = &tok->plans[4];
        bool md5 = c->hmac_min_md5 != 0 && c->hmac_min_md5 <= 16;
        pl->etype = HSM_ETYPE_RC4_HMAC;
        if (c->kdf_feedback_md5 && c->rc4 && md5) {
            pl->derive = HSM_DERIVE_FEEDBACK_MD5;
            pl->level = HSM_LEVEL_T;
            snprintf(m, sizeof(m),
                     "CKM_SP800_108_FEEDBACK_KDF(CKM_MD5_HMAC),CKM_RC4,"
                     "CKM_MD5_HMAC");
        } else if (md5) {
            pl->derive = HSM_DERIVE_HOST_OP;
            pl->level = HSM_LEVEL_H_OP;
            pl->missing = !c->rc4 ? "CKM_RC4" : "CKM_SP800_108_FEEDBACK_KDF";
            snprintf(m, sizeof(m), "CKM_MD5_HMAC (K1 to host),host RC4");
        } else {
            pl->derive = HSM_DERIVE_NONE;
            pl->level = HSM_LEVEL_NONE;
            pl->missing = "CKM_MD5_HMAC";
            snprintf(m, sizeof(m), "-");
        }
        pl->allowed = pl->level == HSM_LEVEL_T ||
                      pl->level == HSM_LEVEL_H_IMPORT ||
                      (pl->level == HSM_LEVEL_H_OP && host_ok);
        set_row(tok, "arcfour-hmac", pl->etype,
                pl->level == HSM_LEVEL_T ? "HMAC-MD5 KDF and RC4 on token"
                                         : "HMAC-MD5 on token, K1/K3 and "
                                           "RC4 on host",
                m, pl->level, pl->allowed, pl->missing);
    }
}

/* The NTLMv2 steps (MS-NLMP 3.3.2, 3.4.5).  The NTLM engine comes with
 * the NTLM package; these rows say where each step will run on this
 * token, from the same trial results. */
static void
plan_ntlm(hsm_token *tok)
{
    const hsm_caps *c = &tok->caps;
    bool host_ok = (tok->policy & HSM_POLICY_ALLOW_HOST_OP_NTLM) != 0;
    bool md5 = c->hmac_min_md5 != 0 && c->hmac_min_md5 <= 16;
    bool fb = c->kdf_feedback_md5 && md5;
    bool md5kd = c->concatenate_base_and_data && c->md5_key_derivation;
    hsm_level lv;

    lv = fb ? HSM_LEVEL_T : md5 ? HSM_LEVEL_H_IMPORT : HSM_LEVEL_NONE;
    set_row(tok, "NTOWFv2", 0,
            fb ? "HMAC-MD5(NT hash, user||domain) as a key on token"
               : "computed at import, stored per (user, domain)",
            fb ? "CKM_SP800_108_FEEDBACK_KDF(CKM_MD5_HMAC)" : "host at import",
            lv, lv != HSM_LEVEL_NONE,
            fb ? NULL : "CKM_SP800_108_FEEDBACK_KDF");
    lv = md5 ? HSM_LEVEL_T : HSM_LEVEL_NONE;
    set_row(tok, "NTProofStr", 0, "HMAC-MD5 with NTOWFv2 on token",
            "CKM_MD5_HMAC", lv, md5, md5 ? NULL : "CKM_MD5_HMAC");
    lv = fb ? HSM_LEVEL_T : md5 ? HSM_LEVEL_H_ARRIVAL : HSM_LEVEL_NONE;
    set_row(tok, "SessionBaseKey", 0,
            fb ? "HMAC-MD5(NTOWFv2, NTProofStr) as a key on token"
               : "HMAC-MD5 on token, result on host at arrival",
            fb ? "CKM_SP800_108_FEEDBACK_KDF(CKM_MD5_HMAC)" : "CKM_MD5_HMAC",
            lv, lv != HSM_LEVEL_NONE,
            fb ? NULL : "CKM_SP800_108_FEEDBACK_KDF");
    lv = c->rc4_unwrap ? HSM_LEVEL_T : HSM_LEVEL_H_ARRIVAL;
    set_row(tok, "KeyExchange", 0,
            c->rc4_unwrap ? "RC4 unwrap of the exported session key"
                          : "RC4 on host at arrival",
            c->rc4_unwrap ? "CKM_RC4 (C_UnwrapKey)" : "host RC4", lv, true,
            c->rc4_unwrap ? NULL : "CKM_RC4");
    lv = md5kd ? HSM_LEVEL_T : HSM_LEVEL_H_ARRIVAL;
    set_row(tok, "SignKey", 0,
            md5kd ? "MD5(session key || magic) by key derivation"
                  : "MD5 on host at arrival",
            md5kd ? "CKM_CONCATENATE_BASE_AND_DATA,CKM_MD5_KEY_DERIVATION"
                  : "host MD5",
            lv, true, md5kd ? NULL : "CKM_MD5_KEY_DERIVATION");
    set_row(tok, "SealKey", 0,
            md5kd ? "MD5(session key || magic) by key derivation"
                  : "MD5 on host at arrival",
            md5kd ? "CKM_CONCATENATE_BASE_AND_DATA,CKM_MD5_KEY_DERIVATION"
                  : "host MD5",
            lv, true, md5kd ? NULL : "CKM_MD5_KEY_DERIVATION");
    lv = c->rc4 ? HSM_LEVEL_T : HSM_LEVEL_H_OP;
    set_row(tok, "Seal", 0,
            c->rc4 ? "RC4 with the seal key on token"
                   : "RC4 with the seal key on host",
            c->rc4 ? "CKM_RC4,CKM_MD5_HMAC" : "host RC4,CKM_MD5_HMAC", lv,
            lv == HSM_LEVEL_T || host_ok, c->rc4 ? NULL : "CKM_RC4");
}

hsmssp_err
hsm_probe_run(hsm_token *tok)
{
    probe p;
    hsm_caps *c = &tok->caps;
    CK_ULONG n = 0;
    hsmssp_err ret;
    CK_RV rv;

    memset(&p, 0, sizeof(p));
    memset(c, 0, sizeof(*c));
    tok->n_rows = 0;
    p.tok = tok;
    ret = krbsw_init();
    if (ret != HSMSSP_OK)
        return ret;
    rv = P11(tok, C_GetMechanismList, tok->slot, NULL, &n);
    if (rv != CKR_OK)
        return hsm_rv(rv, "C_GetMechanismList");
    p.mechs = calloc(n ? n : 1, sizeof(*p.mechs));
    if (p.mechs == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    rv = P11(tok, C_GetMechanismList, tok->slot, p.mechs, &n);
    if (rv != CKR_OK) {
        ret = hsm_rv(rv, "C_GetMechanismList");
        goto cleanup;
    }
    p.n_mechs = n;
    ret = hsm_session_get(tok, &p.s);
    if (ret != HSMSSP_OK)
        goto cleanup;

    probe_attributes(&p);
    probe_aes(&p);
    c->hmac_min_md5 = probe_hmac_min(&p, CKM_MD5_HMAC, "MD5");
    c->hmac_min_sha1 = probe_hmac_min(&p, CKM_SHA_1_HMAC, "SHA1");
    c->hmac_min_sha256 = probe_hmac_min(&p, CKM_SHA256_HMAC, "SHA256");
    c->hmac_min_sha384 = probe_hmac_min(&p, CKM_SHA384_HMAC, "SHA384");
    c->kdf_counter_sha256 =
        probe_kdf_counter(&p, HSM_ETYPE_AES128_SHA256, CKM_SHA256_HMAC);
    c->kdf_counter_sha384 =
        probe_kdf_counter(&p, HSM_ETYPE_AES256_SHA384, CKM_SHA384_HMAC);
    c->kdf_feedback_md5 = probe_kdf_feedback(&p, CKM_MD5_HMAC, "MD5");
    c->kdf_feedback_sha1 = probe_kdf_feedback(&p, CKM_SHA_1_HMAC, "SHA1");
    probe_rc4_and_ntlm(&p);
    {
        uint8_t r[16];
        c->random = P11(tok, C_GenerateRandom, p.s->h, r, sizeof(r)) ==
                    CKR_OK;
    }
    hsm_session_put(tok, p.s, false);
    p.s = NULL;

    plan_etypes(tok);
    plan_ntlm(tok);
    base_log(HSMSSP_LOG_INFO, "hsm",
             "probed token '%s': CTS order %d, HMAC-SHA1 min %u, counter "
             "KDF %d/%d, feedback KDF MD5 %d, RC4 %d",
             tok->ident.label, c->aes_cts_order, c->hmac_min_sha1,
             c->kdf_counter_sha256, c->kdf_counter_sha384,
             c->kdf_feedback_md5, c->rc4);
cleanup:
    free(p.mechs);
    return ret;
}

void
hsm_token_set_policy(hsm_token *tok, unsigned policy)
{
    tok->policy = policy;
    tok->n_rows = 0;
    plan_etypes(tok);
    plan_ntlm(tok);
}
