/*
 * hsm/engine.c - the Kerberos enctype engine: RFC 3961 encrypt, decrypt
 * and checksum with keys that stay on the token.
 *
 * One table row per enctype (etypes[] below) holds what the RFCs fix: key
 * and confounder lengths, the integrity check, the checksum type, the HMAC
 * mechanism.  How a given token computes each piece is the token's plan
 * (hsm_etype_plan, chosen by probe.c from what the token showed it can
 * do); this file runs the plans:
 *
 *   derivation  DK by AES_{ECB,CBC}_ENCRYPT_DATA (RFC 3961 sec. 5.1,
 *               RFC 3962), RFC 8009 KDF by the SP800-108 counter KDF, the
 *               RFC 4757 HMAC-MD5 derivations by the SP800-108 feedback
 *               KDF, or per-usage objects stored at import (H(import));
 *   cipher      AES-CTS (CS3) composed from one CBC call and a host block
 *               reorder (decrypt: one ECB block + one CBC call), or the
 *               token's CKM_AES_CTS with the reorder when it is CS1;
 *               RC4 by CKM_RC4;
 *   integrity   HMAC by C_Sign on the token; the truncation and the
 *               constant-time comparison are on the host (a MAC is public).
 *
 * Cost model (DESIGN sec. 3): each PKCS#11 Init+Op pair costs ~6-9 us on
 * SoftHSM2 and C_DeriveKey ~30 us, so per-usage keys are cached per
 * (key, usage, role) in the token's bounded cache, and an operation uses
 * at most 2 Init+Op pairs to encrypt and 3 to decrypt.
 *
 * The engine never falls back to host crypto with a long-term or derived
 * key on its own: a plan at level H(op) runs only when policy allows it
 * (check_plan), and otherwise the caller gets an error naming the missing
 * mechanism.
 *
 * Recovery: every operation borrows a session first (which detects fork
 * and reconnects), then checks that the key's handles belong to the
 * token's current generation.  A persistent key is looked up again by its
 * CKA_ID; a session key whose objects died fails with HSMSSP_ERR_KEY_GONE
 * (or HSMSSP_ERR_FORKED in a fork child).  An operation that hits a
 * session-loss error asks the token layer to recover and runs once more.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsm/hsm-int.h"
#include "hsm/krbsw.h"

/* Largest message the engine accepts (bounded work per call). */
#define HSM_MAX_MESSAGE ((size_t)256 * 1024 * 1024)

/* Cache role values beyond RFC 3961's 0x99/0xAA/0x55. */
#define ROLE_RC4_K1 HSM_ROLE_RC4_K1
#define ROLE_RC4_KSIGN HSM_ROLE_RC4_KSIGN

typedef struct etype_info {
    int32_t etype;
    const char *name;
    size_t keylen;
    size_t conf_len;  /* confounder */
    size_t mac_len;   /* integrity check in a ciphertext */
    int32_t cksumtype;
    size_t cksum_len;
    CK_MECHANISM_TYPE hmac;
    size_t hmac_full; /* untruncated HMAC output */
} etype_info;

/*
 * The enctypes hsmssp supports.  Order is preference order for later
 * negotiation.  DES and DES3 are absent on purpose (RFC 6649, RFC 8429).
 */
static const etype_info etypes[] = {
    /* RFC 8009: the current enctypes, SHA-2 based; SSF 256. */
    {HSM_ETYPE_AES256_SHA384, "aes256-cts-hmac-sha384-192", 32, 16, 24, 20,
     24, CKM_SHA384_HMAC, 48},
    /* RFC 8009, 128-bit variant; SSF 128. */
    {HSM_ETYPE_AES128_SHA256, "aes128-cts-hmac-sha256-128", 16, 16, 16, 19,
     16, CKM_SHA256_HMAC, 32},
    /* RFC 3962: what MIT and AD use by default today; SSF 256. */
    {HSM_ETYPE_AES256_SHA1, "aes256-cts-hmac-sha1-96", 32, 16, 12, 16, 12,
     CKM_SHA_1_HMAC, 20},
    /* RFC 3962, 128-bit variant; SSF 128. */
    {HSM_ETYPE_AES128_SHA1, "aes128-cts-hmac-sha1-96", 16, 16, 12, 15, 12,
     CKM_SHA_1_HMAC, 20},
    /* RFC 4757 RC4-HMAC: deprecated (RFC 8429), weak (RC4 biases, unsalted
     * MD4 key), kept for interoperability with old Windows peers only and
     * refused by default wherever it would run on the host. */
    {HSM_ETYPE_RC4_HMAC, "arcfour-hmac", 16, 8, 16, -138, 16, CKM_MD5_HMAC,
     16},
};

static const etype_info *
find_etype(int32_t etype)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(etypes); i++)
        if (etypes[i].etype == etype)
            return &etypes[i];
    return NULL;
}

const char *
hsm_etype_name(int32_t etype)
{
    const etype_info *e = find_etype(etype);
    return e ? e->name : NULL;
}

size_t
hsm_etype_keylen(int32_t etype)
{
    const etype_info *e = find_etype(etype);
    return e ? e->keylen : 0;
}

hsmssp_err
hsm_krb_enc_len(int32_t etype, size_t plain_len, size_t *out)
{
    const etype_info *e = find_etype(etype);

    *out = 0;
    if (e == NULL)
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE, "enctype %d", (int)etype);
    if (plain_len > HSM_MAX_MESSAGE)
        return BASE_ERR(HSMSSP_ERR_INPUT_TOO_LARGE, "%zu bytes", plain_len);
    *out = e->conf_len + plain_len + e->mac_len;
    return HSMSSP_OK;
}

hsmssp_err
hsm_krb_cksum_len(int32_t etype, size_t *out)
{
    const etype_info *e = find_etype(etype);

    *out = 0;
    if (e == NULL)
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE, "enctype %d", (int)etype);
    *out = e->cksum_len;
    return HSMSSP_OK;
}

int32_t
hsm_krb_cksumtype(int32_t etype)
{
    const etype_info *e = find_etype(etype);
    return e ? e->cksumtype : 0;
}

/* ---- scratch memory ------------------------------------------------- */

/*
 * Each operation needs a working buffer (the zero-padded plaintext, the
 * reordered ciphertext).  Plaintexts may carry keys (an EncAPRepPart with
 * a subkey), so the buffer is secure memory; to avoid a locked allocation
 * per call, each thread keeps one that grows as needed and is wiped after
 * every use.  Buffers above SCRATCH_KEEP are allocated per call.
 */
#define SCRATCH_KEEP ((size_t)256 * 1024)

static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static pthread_key_t scratch_key;

static void
scratch_free(void *p)
{
    base_secret_free(p);
}

static void
scratch_init(void)
{
    (void)pthread_key_create(&scratch_key, scratch_free);
}

typedef struct scratch {
    base_secret *s;
    bool owned; /* per-call allocation, freed by scratch_done */
    size_t used;
} scratch;

static hsmssp_err
scratch_get(size_t n, scratch *sc)
{
    base_secret *s;
    hsmssp_err ret;

    memset(sc, 0, sizeof(*sc));
    pthread_once(&scratch_once, scratch_init);
    if (n > SCRATCH_KEEP) {
        ret = base_secret_new(n, n, &sc->s);
        sc->owned = true;
        sc->used = n;
        return ret;
    }
    s = pthread_getspecific(scratch_key);
    if (s == NULL) {
        ret = base_secret_new(0, SCRATCH_KEEP < 4096 ? SCRATCH_KEEP : 4096,
                              &s);
        if (ret != HSMSSP_OK)
            return ret;
        (void)pthread_setspecific(scratch_key, s);
    }
    if (s->cap < n) {
        ret = base_secret_resize(s, n);
        if (ret != HSMSSP_OK)
            return ret;
    }
    sc->s = s;
    sc->used = n;
    return HSMSSP_OK;
}

static void
scratch_done(scratch *sc)
{
    if (sc->s == NULL)
        return;
    if (sc->owned) {
        base_secret_free(sc->s);
    } else {
        base_memzero(sc->s->data, sc->used);
    }
    memset(sc, 0, sizeof(*sc));
}

/* ---- derived keys --------------------------------------------------- */

/* A derived key in use: its handle, and whether the cache holds it
 * (pinned) or the caller must destroy it after use. */
typedef struct dkey {
    CK_OBJECT_HANDLE obj;
    hsm_cache_entry *entry; /* pinned cache entry, or NULL */
    bool temporary;         /* destroy after use */
} dkey;

static void
dkey_release(hsm_token *tok, dkey *d)
{
    if (d->entry != NULL) {
        pthread_mutex_lock(&tok->cache_lock);
        if (d->entry->pins > 0)
            d->entry->pins--;
        pthread_mutex_unlock(&tok->cache_lock);
    } else if (d->temporary) {
        hsm_obj_destroy(tok, d->obj);
    }
    memset(d, 0, sizeof(*d));
}

/* The RFC 3961/8009 label of a per-usage key: usage (32 bits big-endian)
 * followed by the role octet. */
static void
usage_label(int32_t usage, uint8_t role, uint8_t label[5])
{
    base_store_be32(label, (uint32_t)usage);
    label[4] = role;
}

size_t
hsm_ke_mechs(const hsm_etype_plan *plan, CK_MECHANISM_TYPE *out)
{
    /* cts_encrypt/cts_decrypt below: the composed path is one CBC call
     * (plus one ECB block to decrypt); the native paths call AES_CTS for
     * two blocks or more and plain CBC for a single block. */
    if (plan->cts == HSM_CTS_NATIVE_CS1 || plan->cts == HSM_CTS_NATIVE_CS3) {
        out[0] = CKM_AES_CTS;
        out[1] = CKM_AES_CBC;
        return 2;
    }
    out[0] = CKM_AES_CBC;
    out[1] = CKM_AES_ECB;
    return 2;
}

/* Derives (usage, role) on the token under the plan.  Returns the new
 * object; the caller caches or destroys it.  Its CKA_ALLOWED_MECHANISMS:
 * Ke the plan's CTS path (hsm_ke_mechs), Ki and Kc the etype's HMAC. */
static hsmssp_err
derive_on_token(hsm_key *key, const etype_info *ei,
                const hsm_etype_plan *plan, int32_t usage, uint8_t role,
                CK_OBJECT_HANDLE *obj_out)
{
    CK_MECHANISM_TYPE ke_mechs[HSM_KE_MECHS_MAX];
    hsm_token *tok = key->tok;
    uint8_t label[5], data[32];
    CK_MECHANISM mech;
    CK_MECHANISM_TYPE mac_mechs[1] = {ei->hmac};
    hsm_obj_tmpl t;
    size_t vlen;
    hsmssp_err ret;

    memset(&t, 0, sizeof(t));
    memset(data, 0, sizeof(data));
    t.priv = false; /* session object: visible to this process only */
    if (role == KRBSW_ROLE_KE) {
        t.key_type = CKK_AES;
        t.encrypt = t.decrypt = true;
        t.mechs = ke_mechs;
        t.n_mechs = hsm_ke_mechs(plan, ke_mechs);
        vlen = krbsw_derived_len(ei->etype, role);
    } else {
        t.key_type = CKK_GENERIC_SECRET;
        t.sign = true;
        t.mechs = mac_mechs;
        t.n_mechs = 1;
        vlen = krbsw_derived_len(ei->etype, role);
    }
    usage_label(usage, role, label);

    switch (plan->derive) {
    case HSM_DERIVE_DK_ECB: {
        /* aes128: DK = E_K(nfold(label, 128)).  For an HMAC key below the
         * token's minimum, derive from nfold || Z instead: the second
         * block encrypts to E_K(D_K(0)) = 0^16, so the first mac_keylen
         * bytes are Ki || 0^4, an equivalent HMAC key. */
        CK_KEY_DERIVATION_STRING_DATA p;
        krbsw_nfold(label, sizeof(label), data, 16);
        p.pData = data;
        p.ulLen = 16;
        if (role != KRBSW_ROLE_KE && plan->mac_keylen > vlen) {
            memcpy(data + 16, key->z, 16);
            p.ulLen = 32;
            vlen = plan->mac_keylen;
        }
        mech = (CK_MECHANISM){CKM_AES_ECB_ENCRYPT_DATA, &p, sizeof(p)};
        ret = hsm_obj_derive(tok, &mech, key->base, &t, vlen, obj_out);
        break;
    }
    case HSM_DERIVE_DK_CBC: {
        /* aes256: DK = E(nfold) || E(E(nfold)) = CBC_0(nfold || 0^16). */
        CK_AES_CBC_ENCRYPT_DATA_PARAMS p;
        memset(&p, 0, sizeof(p));
        krbsw_nfold(label, sizeof(label), data, 16);
        p.pData = data;
        p.length = 32;
        mech = (CK_MECHANISM){CKM_AES_CBC_ENCRYPT_DATA, &p, sizeof(p)};
        ret = hsm_obj_derive(tok, &mech, key->base, &t, vlen, obj_out);
        break;
    }
    case HSM_DERIVE_KDF_COUNTER: {
        /* RFC 8009 sec. 3: K1 = HMAC(key, i=1 (32 bits BE) | label | 0x00
         * | k (32 bits BE)), k-truncated: SP800-108 counter mode with the
         * counter first and the length last. */
        hsm_sp800_108_counter_format cf = {CK_FALSE, 32};
        hsm_sp800_108_dkm_length_format lf = {
            CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, CK_FALSE, 32};
        uint8_t lab0[6];
        hsm_prf_data_param dp[3];
        hsm_sp800_108_kdf_params kp;
        memcpy(lab0, label, 5);
        lab0[5] = 0;
        dp[0] = (hsm_prf_data_param){CK_SP800_108_ITERATION_VARIABLE, &cf,
                                     sizeof(cf)};
        dp[1] = (hsm_prf_data_param){CK_SP800_108_BYTE_ARRAY, lab0,
                                     sizeof(lab0)};
        dp[2] = (hsm_prf_data_param){CK_SP800_108_DKM_LENGTH, &lf,
                                     sizeof(lf)};
        memset(&kp, 0, sizeof(kp));
        kp.prfType = ei->hmac;
        kp.ulNumberOfDataParams = 3;
        kp.pDataParams = dp;
        mech = (CK_MECHANISM){CKM_SP800_108_COUNTER_KDF, &kp, sizeof(kp)};
        ret = hsm_obj_derive(tok, &mech, key->base, &t, vlen, obj_out);
        break;
    }
    default:
        ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "no token derivation for %s",
                       ei->name);
        break;
    }
    base_memzero(data, sizeof(data));
    return ret;
}

/* What a key made by derive_hmac_md5_key() is for. */
typedef enum md5_key_use {
    MD5_KEY_K1,    /* HMAC-MD5 checksum, and the KDF base of K3 */
    MD5_KEY_KSIGN, /* HMAC-MD5 of the -138 checksum only */
    MD5_KEY_K3     /* RC4 encryption or decryption of one message */
} md5_key_use;

/* HMAC-MD5(base, msg) as a new key object by the SP800-108 feedback KDF
 * with an empty IV: one iteration computes PRF(K, IV || msg) = HMAC(K,
 * msg) (DESIGN sec. 8).  CKK_GENERIC_SECRET for K1 and Ksign, CKK_RC4 for
 * the RC4 key K3; CKA_ALLOWED_MECHANISMS and the usage flags are exactly
 * what the RC4-HMAC functions below do with each. */
static hsmssp_err
derive_hmac_md5_key(hsm_token *tok, CK_OBJECT_HANDLE base, const uint8_t *msg,
                    size_t len, md5_key_use use, CK_OBJECT_HANDLE *out)
{
    static const CK_MECHANISM_TYPE k1_mechs[] = {
        CKM_MD5_HMAC, CKM_SP800_108_FEEDBACK_KDF};
    static const CK_MECHANISM_TYPE rc4_mechs[] = {CKM_RC4};
    hsm_prf_data_param dp[2] = {
        {CK_SP800_108_ITERATION_VARIABLE, NULL, 0},
        {CK_SP800_108_BYTE_ARRAY, (void *)msg, len}};
    hsm_sp800_108_feedback_kdf_params kp;
    CK_MECHANISM mech = {CKM_SP800_108_FEEDBACK_KDF, &kp, sizeof(kp)};
    hsm_obj_tmpl t;

    memset(&kp, 0, sizeof(kp));
    kp.prfType = CKM_MD5_HMAC;
    kp.ulNumberOfDataParams = 2;
    kp.pDataParams = dp;
    memset(&t, 0, sizeof(t));
    if (use == MD5_KEY_K3) {
        t.key_type = CKK_RC4;
        t.encrypt = t.decrypt = true;
        t.mechs = rc4_mechs;
        t.n_mechs = 1;
    } else {
        t.key_type = CKK_GENERIC_SECRET;
        t.sign = true;
        t.derive = use == MD5_KEY_K1;
        t.mechs = k1_mechs;
        t.n_mechs = use == MD5_KEY_K1 ? 2 : 1;
    }
    return hsm_obj_derive(tok, &mech, base, &t, 16, out);
}

/* The per-usage key (usage, role) of key: a stored H(import) object, a
 * cached object, or a fresh derivation that is cached. */
/* A derived object a session key owns for (usage, role), or
 * CK_INVALID_HANDLE. */
static CK_OBJECT_HANDLE
own_find(hsm_key *key, int32_t usage, uint8_t role)
{
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;

    pthread_mutex_lock(&key->lock);
    for (size_t i = 0; i < key->n_own; i++)
        if (key->own[i].usage == usage && key->own[i].role == role)
            obj = key->own[i].obj;
    pthread_mutex_unlock(&key->lock);
    return obj;
}

/* Keeps a freshly derived object with its session key; another thread
 * may have derived the same one meanwhile (keep theirs), and a full table
 * makes the object a one-use temporary. */
static hsmssp_err
own_insert(hsm_key *key, int32_t usage, uint8_t role, CK_OBJECT_HANDLE obj,
           dkey *d)
{
    CK_OBJECT_HANDLE theirs = CK_INVALID_HANDLE;
    bool kept = false;

    pthread_mutex_lock(&key->lock);
    for (size_t i = 0; i < key->n_own; i++)
        if (key->own[i].usage == usage && key->own[i].role == role)
            theirs = key->own[i].obj;
    if (theirs == CK_INVALID_HANDLE && key->n_own < HSM_OWN_MAX) {
        key->own[key->n_own++] = (hsm_stored_usage){usage, role, obj};
        kept = true;
    }
    pthread_mutex_unlock(&key->lock);
    if (theirs != CK_INVALID_HANDLE) {
        hsm_obj_destroy(key->tok, obj);
        d->obj = theirs;
    } else {
        d->obj = obj;
        d->temporary = !kept;
    }
    return HSMSSP_OK;
}

/* The object stored beside the key at import with (usage, role), or
 * CK_INVALID_HANDLE. */
static CK_OBJECT_HANDLE
stored_obj(hsm_key *key, int32_t usage, uint8_t role)
{
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;

    /* key->stored may be replaced by a refresh in another thread. */
    pthread_mutex_lock(&key->lock);
    for (size_t i = 0; i < key->n_stored; i++)
        if (key->stored[i].usage == usage && key->stored[i].role == role)
            obj = key->stored[i].obj;
    pthread_mutex_unlock(&key->lock);
    return obj;
}

static hsmssp_err
get_dkey(hsm_key *key, const etype_info *ei, const hsm_etype_plan *plan,
         int32_t usage, uint8_t role, dkey *d)
{
    hsm_token *tok = key->tok;
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE, evict = CK_INVALID_HANDLE;
    hsm_cache_entry *e;
    uint64_t gen = key->gen;
    hsmssp_err ret;

    memset(d, 0, sizeof(*d));
    if (plan->derive == HSM_DERIVE_HOST_IMPORT) {
        /* key->stored may be replaced by a refresh in another thread. */
        pthread_mutex_lock(&key->lock);
        for (size_t i = 0; i < key->n_stored; i++) {
            if (key->stored[i].usage == usage && key->stored[i].role == role)
                d->obj = key->stored[i].obj;
        }
        pthread_mutex_unlock(&key->lock);
        if (d->obj != CK_INVALID_HANDLE)
            return HSMSSP_OK;
        return BASE_ERR(HSMSSP_ERR_MECHANISM_MISSING,
                        "%s key usage %d was not derived at import, and the "
                        "token lacks CKM_SP800_108_COUNTER_KDF to derive it "
                        "now; re-import the key with that usage",
                        ei->name, (int)usage);
    }

    if (key->key_class == HSM_KEY_SESSION && !key->persistent) {
        /* A session key owns its derived objects (hsm-int.h). */
        obj = own_find(key, usage, role);
        if (obj != CK_INVALID_HANDLE) {
            d->obj = obj;
            return HSMSSP_OK;
        }
    } else {
        pthread_mutex_lock(&tok->cache_lock);
        e = hsm_cache_find_unlocked(&tok->cache, key->serial, usage, role,
                                    gen);
        pthread_mutex_unlock(&tok->cache_lock);
        if (e != NULL) {
            d->entry = e;
            d->obj = e->obj;
            return HSMSSP_OK;
        }
    }

    if (plan->derive == HSM_DERIVE_FEEDBACK_MD5 && role == HSM_ROLE_RC4_KC0) {
        /* RFC 4757 7.3: HMAC-MD5(Klocal, 0^4), the per-key part of the
         * sealing key, from the Klocal object stored at import. */
        static const uint8_t zero4[4];
        CK_OBJECT_HANDLE kl = stored_obj(key, 0, HSM_ROLE_RC4_KLOCAL);

        if (kl == CK_INVALID_HANDLE)
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "arcfour-hmac key was not imported as a session "
                            "key: it cannot seal GSS messages");
        ret = derive_hmac_md5_key(tok, kl, zero4, 4, MD5_KEY_K1, &obj);
    } else if (plan->derive == HSM_DERIVE_FEEDBACK_MD5) {
        uint8_t msg[16];
        size_t n;
        if (role == ROLE_RC4_KSIGN) {
            memcpy(msg, "signaturekey", 13); /* with its NUL */
            n = 13;
        } else {
            /* RFC 4757 sec. 5: the usage as 4 bytes little-endian. */
            uint32_t u = (uint32_t)usage;
            msg[0] = (uint8_t)u;
            msg[1] = (uint8_t)(u >> 8);
            msg[2] = (uint8_t)(u >> 16);
            msg[3] = (uint8_t)(u >> 24);
            n = 4;
        }
        ret = derive_hmac_md5_key(tok, key->base, msg, n,
                                  role == ROLE_RC4_KSIGN ? MD5_KEY_KSIGN
                                                         : MD5_KEY_K1,
                                  &obj);
    } else {
        ret = derive_on_token(key, ei, plan, usage, role, &obj);
    }
    if (ret != HSMSSP_OK)
        return ret;

    if (key->key_class == HSM_KEY_SESSION && !key->persistent)
        return own_insert(key, usage, role, obj, d);
    pthread_mutex_lock(&tok->cache_lock);
    e = hsm_cache_find_unlocked(&tok->cache, key->serial, usage, role, gen);
    if (e == NULL)
        e = hsm_cache_insert_unlocked(&tok->cache, key->serial, usage, role, gen,
                                  obj, &evict);
    else
        evict = obj; /* another thread won the race: keep its object */
    pthread_mutex_unlock(&tok->cache_lock);
    if (evict != CK_INVALID_HANDLE)
        hsm_obj_destroy(tok, evict);
    if (e == NULL) {
        /* Every slot is in use by a running operation: use the object
         * once and destroy it. */
        d->obj = obj;
        d->temporary = true;
    } else {
        d->entry = e;
        d->obj = e->obj;
    }
    return HSMSSP_OK;
}

/* ---- single PKCS#11 operations -------------------------------------- */

static hsmssp_err
p11_encrypt(hsm_token *tok, hsm_sess *s, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
            const uint8_t *in, size_t len, uint8_t *out, size_t cap,
            const char *what)
{
    CK_ULONG olen = cap;
    CK_RV rv = P11(tok, C_EncryptInit, s->h, m, k);
    if (rv == CKR_OK)
        rv = P11(tok, C_Encrypt, s->h, (CK_BYTE_PTR)in, len, out, &olen);
    if (rv == CKR_OK && olen != len)
        return BASE_ERR(HSMSSP_ERR_TOKEN_FAILURE, "%s returned %lu of %zu "
                        "bytes", what, (unsigned long)olen, len);
    return hsm_rv(rv, what);
}

static hsmssp_err
p11_decrypt(hsm_token *tok, hsm_sess *s, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
            const uint8_t *in, size_t len, uint8_t *out, size_t cap,
            const char *what)
{
    CK_ULONG olen = cap;
    CK_RV rv = P11(tok, C_DecryptInit, s->h, m, k);
    if (rv == CKR_OK)
        rv = P11(tok, C_Decrypt, s->h, (CK_BYTE_PTR)in, len, out, &olen);
    if (rv == CKR_OK && olen != len)
        return BASE_ERR(HSMSSP_ERR_TOKEN_FAILURE, "%s returned %lu of %zu "
                        "bytes", what, (unsigned long)olen, len);
    return hsm_rv(rv, what);
}

/* HMAC on the token; out gets the full MAC (64 bytes suffice). */
static hsmssp_err
p11_hmac(hsm_token *tok, hsm_sess *s, CK_MECHANISM_TYPE mt,
         CK_OBJECT_HANDLE k, const uint8_t *in, size_t len, uint8_t out[64],
         size_t *out_len)
{
    static const uint8_t none[1];
    CK_MECHANISM m = {mt, NULL, 0};
    CK_ULONG olen = 64;
    CK_RV rv = P11(tok, C_SignInit, s->h, &m, k);
    /* SoftHSM2 answers CKR_ARGUMENTS_BAD to a NULL pointer even for 0
     * bytes. */
    if (in == NULL)
        in = none;
    if (rv == CKR_OK)
        rv = P11(tok, C_Sign, s->h, (CK_BYTE_PTR)in, len, out, &olen);
    *out_len = olen;
    return hsm_rv(rv, "C_Sign(HMAC)");
}

/* Builds buf[0..prefix) || (buf[prefix..prefix+len) with the sign-only
 * pieces inserted at their offsets) in a new secure buffer: the HMAC
 * input of an operation with READONLY_WITH_CHECKSUM data (RFC 3961 "sign
 * only" iovs, in the order MIT's krb5_c_encrypt_iov uses). */
static hsmssp_err
so_input(const uint8_t *buf, size_t prefix, size_t len,
         const hsm_signonly *so, size_t n_so, base_secret **out)
{
    size_t total = prefix + len, o, from = 0;
    base_secret *b = NULL;
    hsmssp_err ret;

    *out = NULL;
    for (size_t i = 0; i < n_so; i++) {
        if (so[i].at > len || so[i].at < from || so[i].len > HSM_MAX_MESSAGE)
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "sign-only piece out of order or range");
        from = so[i].at;
        total += so[i].len;
    }
    ret = base_secret_new(total, total > 0 ? total : 1, &b);
    if (ret != HSMSSP_OK)
        return ret;
    memcpy(b->data, buf, prefix);
    o = prefix;
    from = 0;
    for (size_t i = 0; i < n_so; i++) {
        memcpy(b->data + o, buf + prefix + from, so[i].at - from);
        o += so[i].at - from;
        from = so[i].at;
        if (so[i].len > 0)
            memcpy(b->data + o, so[i].p, so[i].len);
        o += so[i].len;
    }
    memcpy(b->data + o, buf + prefix + from, len - from);
    *out = b;
    return HSMSSP_OK;
}

/* p11_hmac() over buf[0..prefix+len) with sign-only pieces in the last
 * len bytes (none: the buffer as it is). */
static hsmssp_err
p11_hmac_so(hsm_token *tok, hsm_sess *s, CK_MECHANISM_TYPE mt,
            CK_OBJECT_HANDLE k, const uint8_t *buf, size_t prefix,
            size_t len, const hsm_signonly *so, size_t n_so,
            uint8_t out[64], size_t *out_len)
{
    base_secret *b = NULL;
    hsmssp_err ret;

    if (n_so == 0)
        return p11_hmac(tok, s, mt, k, buf, prefix + len, out, out_len);
    ret = so_input(buf, prefix, len, so, n_so, &b);
    if (ret == HSMSSP_OK)
        ret = p11_hmac(tok, s, mt, k, b->data, b->len, out, out_len);
    base_secret_free(b);
    return ret;
}

/* The same on the host, for the RC4 H(op) plan. */
static hsmssp_err
host_hmac_so(const uint8_t *key, const uint8_t *buf, size_t prefix,
             size_t len, const hsm_signonly *so, size_t n_so,
             uint8_t out[64], size_t *out_len)
{
    base_secret *b = NULL;
    hsmssp_err ret;

    if (n_so == 0)
        return krbsw_hmac("MD5", key, 16, buf, prefix + len, out, out_len);
    ret = so_input(buf, prefix, len, so, n_so, &b);
    if (ret == HSMSSP_OK)
        ret = krbsw_hmac("MD5", key, 16, b->data, b->len, out, out_len);
    base_secret_free(b);
    return ret;
}

/* ---- AES-CTS (CS3) on the token ------------------------------------- */

/*
 * Encrypts L >= 16 bytes of p (zero-padded in place to N = 16 * ceil(L/16)
 * bytes, so p must hold N bytes) into out[0..L) in Kerberos order, with
 * the initial vector iv0 (RFC 3962 sec. 5; RFC 4121 and every RFC 3961
 * use here start from the zero cipher state, the RFC 3962 appendix B
 * vectors too; hsm_test_cts passes others).  work must hold N bytes.
 */
static hsmssp_err
cts_encrypt(hsm_token *tok, hsm_sess *s, const hsm_etype_plan *plan,
            CK_OBJECT_HANDLE ke, const uint8_t iv0[16], uint8_t *p,
            size_t L, uint8_t *work, uint8_t *out)
{
    uint8_t iv[16];
    CK_MECHANISM cbc = {CKM_AES_CBC, iv, sizeof(iv)};
    size_t n = (L + 15) / 16, N = n * 16, d = L - (n - 1) * 16;
    hsmssp_err ret;

    memcpy(iv, iv0, sizeof(iv));
    if (n >= 2 && plan->cts != HSM_CTS_COMPOSED) {
        CK_MECHANISM cts = {CKM_AES_CTS, iv, sizeof(iv)};
        ret = p11_encrypt(tok, s, &cts, ke, p, L, work, N,
                          "C_Encrypt(CKM_AES_CTS)");
        if (ret != HSMSSP_OK)
            return ret;
        if (plan->cts == HSM_CTS_NATIVE_CS3) {
            memcpy(out, work, L);
            return HSMSSP_OK;
        }
        /* CS1 ends C(n-1)* || Cn; Kerberos (CS3) sends Cn || C(n-1)*. */
        memcpy(out, work, L - 16 - d);
        memcpy(out + L - 16 - d, work + L - 16, 16);
        memcpy(out + L - d, work + L - 16 - d, d);
        return HSMSSP_OK;
    }

    memset(p + L, 0, N - L);
    ret = p11_encrypt(tok, s, &cbc, ke, p, N, work, N,
                      "C_Encrypt(CKM_AES_CBC)");
    if (ret != HSMSSP_OK)
        return ret;
    if (n == 1) {
        memcpy(out, work, 16);
        return HSMSSP_OK;
    }
    /* CBC of the zero-padded input equals CTS up to the order and the
     * truncation of the last two blocks: C1..C(n-2) || Cn || C(n-1)[0..d). */
    memcpy(out, work, (n - 2) * 16);
    memcpy(out + (n - 2) * 16, work + (n - 1) * 16, 16);
    memcpy(out + (n - 1) * 16, work + (n - 2) * 16, d);
    return HSMSSP_OK;
}

/* hsm_rv() for a call of a multi-part CBC decryption.  Every error ends
 * the operation except CKR_BUFFER_TOO_SMALL, which leaves it active: the
 * sizes given are never too small for unpadded CBC, so a token that says
 * so is faulty, and the error is a token failure, whose session is closed
 * rather than pooled with an operation still active. */
static hsmssp_err
cbc_rv(CK_RV rv, const char *what)
{
    if (rv == CKR_BUFFER_TOO_SMALL)
        return BASE_ERR(HSMSSP_ERR_TOKEN_FAILURE,
                        "%s: the token asked for more room than unpadded CBC "
                        "needs",
                        what);
    return hsm_rv(rv, what);
}

/*
 * Decrypts L >= 16 bytes of c (Kerberos CS3 order) into out[0..L) with
 * the initial vector iv0.  work must hold 16 * ceil(L/16) bytes.
 */
static hsmssp_err
cts_decrypt(hsm_token *tok, hsm_sess *s, const hsm_etype_plan *plan,
            CK_OBJECT_HANDLE ke, const uint8_t iv0[16], const uint8_t *c,
            size_t L, uint8_t *work, uint8_t *out)
{
    uint8_t iv[16], z[16];
    CK_MECHANISM cbc = {CKM_AES_CBC, iv, sizeof(iv)};
    CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
    size_t n = (L + 15) / 16, d = L - (n - 1) * 16;
    hsmssp_err ret;

    memcpy(iv, iv0, sizeof(iv));
    if (n == 1)
        return p11_decrypt(tok, s, &cbc, ke, c, 16, out, 16,
                           "C_Decrypt(CKM_AES_CBC)");
    if (plan->cts != HSM_CTS_COMPOSED) {
        CK_MECHANISM cts = {CKM_AES_CTS, iv, sizeof(iv)};
        const uint8_t *src = c;
        if (plan->cts == HSM_CTS_NATIVE_CS1) {
            memcpy(work, c, L - 16 - d);
            memcpy(work + L - 16 - d, c + L - d, d);
            memcpy(work + L - 16, c + L - 16 - d, 16);
            src = work;
        }
        return p11_decrypt(tok, s, &cts, ke, src, L, out, L,
                           "C_Decrypt(CKM_AES_CTS)");
    }

    if (d == 16) {
        /* Whole blocks: CS3 only swapped the last two, so swapping them
         * back leaves plain CBC ciphertext: one call. */
        memcpy(work, c, (n - 2) * 16);
        memcpy(work + (n - 2) * 16, c + L - 16, 16);
        memcpy(work + (n - 1) * 16, c + L - 32, 16);
        return p11_decrypt(tok, s, &cbc, ke, work, L, out, L,
                           "C_Decrypt(CKM_AES_CBC)");
    }
    /* Composed (DESIGN sec. 8): tail = the final d bytes, Cn = the 16
     * before them.  Z = D(Cn) = (Pn || 0) xor C(n-1), so C(n-1) =
     * tail || Z[d..16) and Pn = Z[0..d) xor tail.  One CBC operation from
     * the zero IV does both steps: its first update, Cn alone, gives
     * D(Cn) xor 0 = Z; the second, C1..C(n-2) || C(n-1), is plain CBC
     * except that its first block was chained to Cn instead of iv0, and
     * Cn is public, so the host XORs that back.  One C_DecryptInit fewer
     * than ECB and then CBC (about 30,000 instructions on SoftHSM2).  A
     * token that holds the first block back instead of returning Z at
     * once gets the two operations. */
    {
        const uint8_t *tail = c + L - d;
        static const uint8_t zero[16];
        CK_MECHANISM cbc0 = {CKM_AES_CBC, (CK_VOID_PTR)zero, sizeof(zero)};
        size_t body = (n - 1) * 16;
        CK_ULONG olen = sizeof(z), got;
        uint8_t cn[16]; /* public; copied: out may overlap c */
        CK_RV rv;

        memcpy(cn, c + L - d - 16, sizeof(cn));
        rv = P11(tok, C_DecryptInit, s->h, &cbc0, ke);
        if (rv == CKR_OK)
            rv = P11(tok, C_DecryptUpdate, s->h, cn, 16, z, &olen);
        if (rv != CKR_OK) {
            ret = cbc_rv(rv, "C_DecryptUpdate(CKM_AES_CBC)");
            goto cleanup;
        }
        if (olen == 16) {
            memcpy(work, c, (n - 2) * 16);
            memcpy(work + (n - 2) * 16, tail, d);
            memcpy(work + (n - 2) * 16 + d, z + d, 16 - d);
            olen = body;
            rv = P11(tok, C_DecryptUpdate, s->h, work, body, out, &olen);
            got = olen;
            if (rv == CKR_OK && got <= body) {
                olen = body - got;
                rv = P11(tok, C_DecryptFinal, s->h, out + got, &olen);
                got += olen;
            }
            ret = cbc_rv(rv, "C_DecryptUpdate(CKM_AES_CBC)");
            if (ret == HSMSSP_OK && got != body)
                ret = BASE_ERR(HSMSSP_ERR_TOKEN_FAILURE,
                               "CBC decryption returned %lu of %zu bytes",
                               (unsigned long)got, body);
            if (ret != HSMSSP_OK)
                goto cleanup;
            for (size_t i = 0; i < 16; i++)
                out[i] ^= cn[i] ^ iv0[i];
        } else {
            /* The token kept Cn: end that operation (what it returns is
             * D(Cn) as well, which is wiped), then ECB and CBC apart. */
            olen = sizeof(z);
            rv = P11(tok, C_DecryptFinal, s->h, z, &olen);
            if (rv != CKR_OK) {
                ret = cbc_rv(rv, "C_DecryptFinal(CKM_AES_CBC)");
                goto cleanup;
            }
            ret = p11_decrypt(tok, s, &ecb, ke, cn, 16, z, sizeof(z),
                              "C_Decrypt(CKM_AES_ECB)");
            if (ret != HSMSSP_OK)
                goto cleanup;
            memcpy(work, c, (n - 2) * 16);
            memcpy(work + (n - 2) * 16, tail, d);
            memcpy(work + (n - 2) * 16 + d, z + d, 16 - d);
            ret = p11_decrypt(tok, s, &cbc, ke, work, body, out, body,
                              "C_Decrypt(CKM_AES_CBC)");
            if (ret != HSMSSP_OK)
                goto cleanup;
        }
        for (size_t i = 0; i < d; i++)
            out[(n - 1) * 16 + i] = z[i] ^ tail[i];
    }
cleanup:
    base_memzero(z, sizeof(z));
    return ret;
}

/* ---- AES enctypes (RFC 3962, RFC 8009) ------------------------------ */

/* Every Kerberos use of CTS here starts from the zero cipher state. */
static const uint8_t zero_iv[16];

static bool
is_sha2(const etype_info *ei)
{
    return ei->etype == HSM_ETYPE_AES128_SHA256 ||
           ei->etype == HSM_ETYPE_AES256_SHA384;
}

static hsmssp_err
aes_encrypt(hsm_key *key, hsm_sess *s, const etype_info *ei,
            const hsm_etype_plan *plan, int32_t usage, const uint8_t *conf,
            const uint8_t *in, size_t in_len, const hsm_signonly *so,
            size_t n_so, uint8_t *out)
{
    hsm_token *tok = key->tok;
    size_t L = 16 + in_len, N = (L + 15) / 16 * 16, maclen;
    uint8_t mac[64];
    dkey ke = {0}, ki = {0};
    scratch sc = {0};
    uint8_t *p, *work;
    hsmssp_err ret;

    /* scratch: [16 zero bytes][N: plaintext][N: cipher work] */
    ret = scratch_get(16 + 2 * N, &sc);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memset(sc.s->data, 0, 16);
    p = sc.s->data + 16;
    work = p + N;
    memcpy(p, conf, 16);
    if (in_len > 0)
        memcpy(p + 16, in, in_len);

    ret = get_dkey(key, ei, plan, usage, KRBSW_ROLE_KE, &ke);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = get_dkey(key, ei, plan, usage, KRBSW_ROLE_KI, &ki);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = cts_encrypt(tok, s, plan, ke.obj, zero_iv, p, L, work, out);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (is_sha2(ei)) {
        /* RFC 8009 sec. 5: HMAC over IV (zero) || C, encrypt-then-MAC;
         * sign-only data sits among the ciphertext of the message. */
        memcpy(p, out, L);
        ret = p11_hmac_so(tok, s, ei->hmac, ki.obj, sc.s->data, 32, L - 16,
                          so, n_so, mac, &maclen);
    } else {
        /* RFC 3961 sec. 5.3: HMAC over confounder || plaintext. */
        ret = p11_hmac_so(tok, s, ei->hmac, ki.obj, p, 16, L - 16, so, n_so,
                          mac, &maclen);
    }
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (maclen < ei->mac_len) {
        ret = BASE_ERR(HSMSSP_ERR_TOKEN_FAILURE, "short HMAC from token");
        goto cleanup;
    }
    memcpy(out + L, mac, ei->mac_len);
cleanup:
    dkey_release(tok, &ke);
    dkey_release(tok, &ki);
    scratch_done(&sc);
    return ret;
}

static hsmssp_err
aes_decrypt(hsm_key *key, hsm_sess *s, const etype_info *ei,
            const hsm_etype_plan *plan, int32_t usage, const uint8_t *in,
            size_t in_len, const hsm_signonly *so, size_t n_so,
            uint8_t *out, size_t *out_len)
{
    hsm_token *tok = key->tok;
    size_t L = in_len - ei->mac_len, N = (L + 15) / 16 * 16, maclen;
    uint8_t mac[64];
    dkey ke = {0}, ki = {0};
    scratch sc = {0};
    hsmssp_err ret;

    ret = scratch_get(16 + N, &sc);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = get_dkey(key, ei, plan, usage, KRBSW_ROLE_KI, &ki);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (is_sha2(ei)) {
        /* Encrypt-then-MAC: check before decrypting anything. */
        memset(sc.s->data, 0, 16);
        memcpy(sc.s->data + 16, in, L);
        ret = p11_hmac_so(tok, s, ei->hmac, ki.obj, sc.s->data, 32, L - 16,
                          so, n_so, mac, &maclen);
        if (ret != HSMSSP_OK)
            goto cleanup;
        if (maclen < ei->mac_len ||
            !base_ct_equal(mac, in + L, ei->mac_len)) {
            ret = BASE_ERR(HSMSSP_ERR_INTEGRITY, "%s ciphertext, usage %d",
                           ei->name, (int)usage);
            goto cleanup;
        }
    }
    ret = get_dkey(key, ei, plan, usage, KRBSW_ROLE_KE, &ke);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = cts_decrypt(tok, s, plan, ke.obj, zero_iv, in, L, sc.s->data, out);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (!is_sha2(ei)) {
        ret = p11_hmac_so(tok, s, ei->hmac, ki.obj, out, 16, L - 16, so,
                          n_so, mac, &maclen);
        if (ret != HSMSSP_OK)
            goto cleanup;
        if (maclen < ei->mac_len ||
            !base_ct_equal(mac, in + L, ei->mac_len)) {
            ret = BASE_ERR(HSMSSP_ERR_INTEGRITY, "%s ciphertext, usage %d",
                           ei->name, (int)usage);
            goto cleanup;
        }
    }
    /* Drop the confounder. */
    memmove(out, out + 16, L - 16);
    base_memzero(out + L - 16, 16);
    *out_len = L - 16;
cleanup:
    dkey_release(tok, &ke);
    dkey_release(tok, &ki);
    scratch_done(&sc);
    return ret;
}

static hsmssp_err
aes_checksum(hsm_key *key, hsm_sess *s, const etype_info *ei,
             const hsm_etype_plan *plan, int32_t usage, const uint8_t *in,
             size_t in_len, uint8_t out[64])
{
    dkey kc = {0};
    size_t maclen;
    hsmssp_err ret;

    ret = get_dkey(key, ei, plan, usage, KRBSW_ROLE_KC, &kc);
    if (ret == HSMSSP_OK)
        ret = p11_hmac(key->tok, s, ei->hmac, kc.obj, in, in_len, out,
                       &maclen);
    if (ret == HSMSSP_OK && maclen < ei->cksum_len)
        ret = BASE_ERR(HSMSSP_ERR_TOKEN_FAILURE, "short HMAC from token");
    dkey_release(key->tok, &kc);
    return ret;
}

/* ---- RC4-HMAC (RFC 4757) -------------------------------------------- */

static void
store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* H(op) plan: K1 = HMAC-MD5(K, msg) by C_Sign with the long-term key on
 * the token; the result is a derived key on the host, in a base_secret.
 * Runs only when policy allows H(op) for Kerberos. */
static hsmssp_err
rc4_host_k1(hsm_key *key, hsm_sess *s, const uint8_t *msg, size_t len,
            base_secret **k1_out)
{
    uint8_t mac[64];
    size_t maclen = 0;
    hsmssp_err ret;

    *k1_out = NULL;
    ret = p11_hmac(key->tok, s, CKM_MD5_HMAC, key->base, msg, len, mac,
                   &maclen);
    if (ret == HSMSSP_OK)
        ret = base_secret_from(mac, 16, k1_out);
    base_memzero(mac, sizeof(mac));
    return ret;
}

static hsmssp_err
rc4_encrypt(hsm_key *key, hsm_sess *s, const hsm_etype_plan *plan,
            int32_t usage, const uint8_t *conf, const uint8_t *in,
            size_t in_len, const hsm_signonly *so, size_t n_so,
            uint8_t *out)
{
    hsm_token *tok = key->tok;
    size_t L = 8 + in_len, maclen;
    uint8_t ul[4], cksum[64];
    CK_MECHANISM rc4 = {CKM_RC4, NULL, 0};
    CK_OBJECT_HANDLE k3 = CK_INVALID_HANDLE;
    base_secret *k1 = NULL, *k3h = NULL;
    dkey dk1 = {0};
    scratch sc = {0};
    hsmssp_err ret;

    store_le32(ul, (uint32_t)krbsw_rc4_usage(usage));
    ret = scratch_get(L, &sc);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(sc.s->data, conf, 8);
    if (in_len > 0)
        memcpy(sc.s->data + 8, in, in_len);

    if (plan->derive == HSM_DERIVE_FEEDBACK_MD5) {
        /* All on the token: K1 cached per usage, checksum by C_Sign, K3 =
         * HMAC(K1, checksum) derived per message, RC4 by C_Encrypt. */
        ret = get_dkey(key, find_etype(HSM_ETYPE_RC4_HMAC), plan,
                       krbsw_rc4_usage(usage), ROLE_RC4_K1, &dk1);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = p11_hmac_so(tok, s, CKM_MD5_HMAC, dk1.obj, sc.s->data, 8,
                          L - 8, so, n_so, cksum, &maclen);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = derive_hmac_md5_key(tok, dk1.obj, cksum, 16, MD5_KEY_K3, &k3);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = p11_encrypt(tok, s, &rc4, k3, sc.s->data, L, out + 16, L,
                          "C_Encrypt(CKM_RC4)");
        if (ret != HSMSSP_OK)
            goto cleanup;
    } else {
        size_t k3len;
        ret = rc4_host_k1(key, s, ul, 4, &k1);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = host_hmac_so(k1->data, sc.s->data, 8, L - 8, so, n_so, cksum,
                           &maclen);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = base_secret_new(16, 64, &k3h);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = krbsw_hmac("MD5", k1->data, 16, cksum, 16, k3h->data, &k3len);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = krbsw_rc4(k3h->data, 16, sc.s->data, L, out + 16);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    memcpy(out, cksum, 16);
cleanup:
    if (k3 != CK_INVALID_HANDLE)
        hsm_obj_destroy(tok, k3);
    dkey_release(tok, &dk1);
    base_secret_free(k1);
    base_secret_free(k3h);
    scratch_done(&sc);
    return ret;
}

static hsmssp_err
rc4_decrypt(hsm_key *key, hsm_sess *s, const hsm_etype_plan *plan,
            int32_t usage, const uint8_t *in, size_t in_len,
            const hsm_signonly *so, size_t n_so, uint8_t *out,
            size_t *out_len)
{
    hsm_token *tok = key->tok;
    size_t L = in_len - 16, maclen;
    uint8_t ul[4], mac[64];
    CK_MECHANISM rc4 = {CKM_RC4, NULL, 0};
    CK_OBJECT_HANDLE k3 = CK_INVALID_HANDLE;
    base_secret *k1 = NULL, *k3h = NULL;
    dkey dk1 = {0};
    hsmssp_err ret;

    store_le32(ul, (uint32_t)krbsw_rc4_usage(usage));
    if (plan->derive == HSM_DERIVE_FEEDBACK_MD5) {
        ret = get_dkey(key, find_etype(HSM_ETYPE_RC4_HMAC), plan,
                       krbsw_rc4_usage(usage), ROLE_RC4_K1, &dk1);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = derive_hmac_md5_key(tok, dk1.obj, in, 16, MD5_KEY_K3, &k3);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = p11_decrypt(tok, s, &rc4, k3, in + 16, L, out, L,
                          "C_Decrypt(CKM_RC4)");
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = p11_hmac_so(tok, s, CKM_MD5_HMAC, dk1.obj, out, 8, L - 8, so,
                          n_so, mac, &maclen);
        if (ret != HSMSSP_OK)
            goto cleanup;
    } else {
        size_t k3len;
        ret = rc4_host_k1(key, s, ul, 4, &k1);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = base_secret_new(16, 64, &k3h);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = krbsw_hmac("MD5", k1->data, 16, in, 16, k3h->data, &k3len);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = krbsw_rc4(k3h->data, 16, in + 16, L, out);
        if (ret != HSMSSP_OK)
            goto cleanup;
        ret = host_hmac_so(k1->data, out, 8, L - 8, so, n_so, mac, &maclen);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    if (!base_ct_equal(mac, in, 16)) {
        ret = BASE_ERR(HSMSSP_ERR_INTEGRITY, "arcfour-hmac ciphertext, "
                       "usage %d", (int)usage);
        goto cleanup;
    }
    memmove(out, out + 8, L - 8);
    base_memzero(out + L - 8, 8);
    *out_len = L - 8;
cleanup:
    if (k3 != CK_INVALID_HANDLE)
        hsm_obj_destroy(tok, k3);
    dkey_release(tok, &dk1);
    base_secret_free(k1);
    base_secret_free(k3h);
    return ret;
}

/* Checksum type -138 (RFC 4757 sec. 4, as MIT implements it): Ksign =
 * HMAC-MD5(K, "signaturekey\0"), tmp = MD5(usage LE || data), checksum =
 * HMAC-MD5(Ksign, tmp).  The MD5 of the data is public and runs on the
 * host. */
static hsmssp_err
rc4_checksum(hsm_key *key, hsm_sess *s, const hsm_etype_plan *plan,
             int32_t usage, const uint8_t *in, size_t in_len, uint8_t out[64])
{
    hsm_token *tok = key->tok;
    uint8_t tmp[64];
    size_t tlen, maclen;
    base_secret *ksign = NULL;
    dkey dks = {0};
    scratch sc = {0};
    hsmssp_err ret;

    ret = scratch_get(4 + in_len, &sc);
    if (ret != HSMSSP_OK)
        goto cleanup;
    store_le32(sc.s->data, (uint32_t)krbsw_rc4_usage(usage));
    if (in_len > 0)
        memcpy(sc.s->data + 4, in, in_len);
    ret = krbsw_digest("MD5", sc.s->data, 4 + in_len, tmp, &tlen);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (plan->derive == HSM_DERIVE_FEEDBACK_MD5) {
        ret = get_dkey(key, find_etype(HSM_ETYPE_RC4_HMAC), plan, 0,
                       ROLE_RC4_KSIGN, &dks);
        if (ret == HSMSSP_OK)
            ret = p11_hmac(tok, s, CKM_MD5_HMAC, dks.obj, tmp, tlen, out,
                           &maclen);
    } else {
        ret = rc4_host_k1(key, s, (const uint8_t *)"signaturekey", 13,
                          &ksign);
        if (ret == HSMSSP_OK)
            ret = krbsw_hmac("MD5", ksign->data, 16, tmp, tlen, out,
                             &maclen);
    }
cleanup:
    dkey_release(tok, &dks);
    base_secret_free(ksign);
    scratch_done(&sc);
    return ret;
}

/* RFC 4757 sec. 7 GSS token keys, used for one RC4 pass over in:
 *   seq:   Kseq   = HMAC(HMAC(K, 0^4), checksum8)       (SND_SEQ)
 *   crypt: Kcrypt = HMAC(HMAC(Klocal, 0^4), seqnum4)    (confounder+data)
 * The first HMAC of each is a cached per-key object; the second is a
 * one-message key, derived and destroyed here.  On tokens without the
 * feedback KDF or RC4 (the H(op) plan) the HMACs run by C_Sign with K or
 * Klocal on the token and the rest on the host, as rc4_encrypt does. */
static hsmssp_err
rc4_gss(hsm_key *key, hsm_sess *s, const hsm_etype_plan *plan, bool seq,
        const uint8_t *msg, const uint8_t *in, size_t len, uint8_t *out)
{
    static const uint8_t zero4[4];
    hsm_token *tok = key->tok;
    const etype_info *ei = find_etype(HSM_ETYPE_RC4_HMAC);
    CK_MECHANISM rc4 = {CKM_RC4, NULL, 0};
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
    size_t mlen = seq ? 8 : 4, n;
    base_secret *k0 = NULL, *kx = NULL;
    dkey d0 = {0};
    hsmssp_err ret;

    if (plan->derive == HSM_DERIVE_FEEDBACK_MD5) {
        ret = get_dkey(key, ei, plan, 0,
                       seq ? ROLE_RC4_K1 : HSM_ROLE_RC4_KC0, &d0);
        if (ret == HSMSSP_OK)
            ret = derive_hmac_md5_key(tok, d0.obj, msg, mlen, MD5_KEY_K3,
                                      &k);
        if (ret == HSMSSP_OK)
            ret = p11_encrypt(tok, s, &rc4, k, in, len, out, len,
                              "C_Encrypt(CKM_RC4)");
    } else {
        if (seq) {
            ret = rc4_host_k1(key, s, zero4, 4, &k0);
        } else {
            CK_OBJECT_HANDLE kl = stored_obj(key, 0, HSM_ROLE_RC4_KLOCAL);
            uint8_t mac[64];
            size_t maclen = 0;

            if (kl == CK_INVALID_HANDLE)
                return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                                "arcfour-hmac key was not imported as a "
                                "session key: it cannot seal GSS messages");
            ret = p11_hmac(tok, s, CKM_MD5_HMAC, kl, zero4, 4, mac, &maclen);
            if (ret == HSMSSP_OK)
                ret = base_secret_from(mac, 16, &k0);
            base_memzero(mac, sizeof(mac));
        }
        if (ret == HSMSSP_OK)
            ret = base_secret_new(16, 64, &kx);
        if (ret == HSMSSP_OK)
            ret = krbsw_hmac("MD5", k0->data, 16, msg, mlen, kx->data, &n);
        if (ret == HSMSSP_OK)
            ret = krbsw_rc4(kx->data, 16, in, len, out);
    }
    if (k != CK_INVALID_HANDLE)
        hsm_obj_destroy(tok, k);
    dkey_release(tok, &d0);
    base_secret_free(k0);
    base_secret_free(kx);
    return ret;
}

/* ---- the public operations ------------------------------------------ */

/* Checks the plan, and after fork or recovery brings the key's handles to
 * the token's current generation (persistent keys) or reports that its
 * objects are gone (session keys). */
static hsmssp_err
key_ready(hsm_key *key, const etype_info **ei_out,
          const hsm_etype_plan **plan_out)
{
    hsm_token *tok = key->tok;
    const hsm_etype_plan *plan = hsm_plan(tok, key->etype);
    uint64_t gen = hsm_token_generation(tok);
    hsmssp_err ret = HSMSSP_OK;

    *ei_out = find_etype(key->etype);
    *plan_out = plan;
    if (*ei_out == NULL || plan == NULL)
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE, "enctype %d",
                        (int)key->etype);
    if (plan->level == HSM_LEVEL_NONE)
        return BASE_ERR(HSMSSP_ERR_MECHANISM_MISSING,
                        "%s: the token lacks %s", (*ei_out)->name,
                        plan->missing ? plan->missing : "a mechanism");
    if (!plan->allowed)
        return BASE_ERR(HSMSSP_ERR_POLICY_HOST_OP,
                        "%s would run on the host on every use because the "
                        "token lacks %s; policy forbids H(op)",
                        (*ei_out)->name,
                        plan->missing ? plan->missing : "a mechanism");

    pthread_mutex_lock(&key->lock);
    if (key->pid != getpid() && !key->persistent) {
        ret = BASE_ERR(HSMSSP_ERR_FORKED, "%s session key made before "
                       "fork()", (*ei_out)->name);
    } else if (key->gen != gen || key->pid != getpid()) {
        if (key->persistent) {
            ret = hsm_key_refresh_unlocked(key);
            if (ret == HSMSSP_OK)
                key->pid = getpid();
        } else {
            ret = BASE_ERR(HSMSSP_ERR_KEY_GONE,
                           "%s session key lost with its PKCS#11 session "
                           "(token reconnected)", (*ei_out)->name);
        }
    }
    pthread_mutex_unlock(&key->lock);
    return ret;
}

typedef enum op_kind {
    OP_ENCRYPT,
    OP_DECRYPT,
    OP_CKSUM,
    OP_RC4_SEQ,  /* RFC 4757 SND_SEQ: conf = the 8-byte checksum */
    OP_RC4_CRYPT /* RFC 4757 sealing: conf = the 4-byte sequence number */
} op_kind;

typedef struct op_args {
    op_kind kind;
    int32_t usage;
    const uint8_t *conf;
    const uint8_t *in;
    size_t in_len;
    uint8_t *out;
    size_t *out_len;
    const hsm_signonly *so; /* sign-only pieces (encrypt, decrypt) */
    size_t n_so;
} op_args;

static hsmssp_err
run_once(hsm_key *key, op_args *a, uint64_t *gen_out)
{
    hsm_token *tok = key->tok;
    const etype_info *ei;
    const hsm_etype_plan *plan;
    hsm_sess *s = NULL;
    hsmssp_err ret;

    /* Borrowing a session first detects fork() and lets the token layer
     * re-initialise, so key_ready() sees the generation that counts. */
    ret = hsm_session_get(tok, &s);
    if (ret != HSMSSP_OK)
        return ret;
    *gen_out = s->gen;
    ret = key_ready(key, &ei, &plan);
    if (ret != HSMSSP_OK)
        goto cleanup;
    switch (a->kind) {
    case OP_ENCRYPT:
        if (ei->etype == HSM_ETYPE_RC4_HMAC)
            ret = rc4_encrypt(key, s, plan, a->usage, a->conf, a->in,
                              a->in_len, a->so, a->n_so, a->out);
        else
            ret = aes_encrypt(key, s, ei, plan, a->usage, a->conf, a->in,
                              a->in_len, a->so, a->n_so, a->out);
        if (ret == HSMSSP_OK)
            *a->out_len = ei->conf_len + a->in_len + ei->mac_len;
        break;
    case OP_DECRYPT:
        if (ei->etype == HSM_ETYPE_RC4_HMAC)
            ret = rc4_decrypt(key, s, plan, a->usage, a->in, a->in_len,
                              a->so, a->n_so, a->out, a->out_len);
        else
            ret = aes_decrypt(key, s, ei, plan, a->usage, a->in, a->in_len,
                              a->so, a->n_so, a->out, a->out_len);
        break;
    case OP_RC4_SEQ:
    case OP_RC4_CRYPT:
        if (ei->etype != HSM_ETYPE_RC4_HMAC) {
            ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                           "RFC 4757 token keys need an arcfour-hmac key");
            break;
        }
        ret = rc4_gss(key, s, plan, a->kind == OP_RC4_SEQ, a->conf, a->in,
                      a->in_len, a->out);
        break;
    case OP_CKSUM:
        if (ei->etype == HSM_ETYPE_RC4_HMAC)
            ret = rc4_checksum(key, s, plan, a->usage, a->in, a->in_len,
                               a->out);
        else
            ret = aes_checksum(key, s, ei, plan, a->usage, a->in, a->in_len,
                               a->out);
        if (ret == HSMSSP_OK)
            *a->out_len = ei->cksum_len;
        break;
    }
cleanup:
    /* A session whose token call failed may still have an operation
     * active (SoftHSM2 keeps one after CKR_ARGUMENTS_BAD): never pool it. */
    hsm_session_put(tok, s,
                    ret != HSMSSP_OK &&
                        (hsmssp_err_category_of(ret) == HSMSSP_CAT_TOKEN ||
                         hsmssp_err_category_of(ret) == HSMSSP_CAT_INTERNAL));
    return ret;
}

/* Runs an operation; after a session-loss error, recovers the token and
 * runs it once more. */
static hsmssp_err
run(hsm_key *key, op_args *a)
{
    uint64_t gen = 0;
    hsmssp_err ret = run_once(key, a, &gen);

    if (ret != HSMSSP_OK && hsm_err_needs_recovery(ret)) {
        hsmssp_err rec = hsm_token_recover(key->tok, gen);
        if (rec != HSMSSP_OK)
            return rec;
        ret = run_once(key, a, &gen);
    }
    return ret;
}

static hsmssp_err
check_common(hsm_key *key, const uint8_t *in, size_t in_len,
             const etype_info **ei_out)
{
    if (key == NULL || (in == NULL && in_len > 0))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "NULL argument");
    if (in_len > HSM_MAX_MESSAGE)
        return BASE_ERR(HSMSSP_ERR_INPUT_TOO_LARGE, "%zu bytes (limit %zu)",
                        in_len, HSM_MAX_MESSAGE);
    *ei_out = find_etype(key->etype);
    if (*ei_out == NULL)
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE, "enctype %d",
                        (int)key->etype);
    return HSMSSP_OK;
}

static hsmssp_err
encrypt_with(hsm_key *key, int32_t usage, const uint8_t *confounder,
             const uint8_t *in, size_t in_len, const hsm_signonly *so,
             size_t n_so, uint8_t *out, size_t out_cap, size_t *out_len)
{
    const etype_info *ei;
    op_args a;
    hsmssp_err ret;

    *out_len = 0;
    ret = check_common(key, in, in_len, &ei);
    if (ret != HSMSSP_OK)
        return ret;
    if (confounder == NULL || out == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "NULL argument");
    if (out_cap < ei->conf_len + in_len + ei->mac_len)
        return BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL, "need %zu bytes",
                        ei->conf_len + in_len + ei->mac_len);
    a = (op_args){OP_ENCRYPT, usage, confounder, in, in_len, out, out_len,
                  so, n_so};
    ret = run(key, &a);
    if (ret != HSMSSP_OK) {
        base_memzero(out, ei->conf_len + in_len + ei->mac_len);
        *out_len = 0;
    }
    return ret;
}

hsmssp_err
hsm_krb_encrypt_with_confounder(hsm_key *key, int32_t usage,
                                const uint8_t *confounder, const uint8_t *in,
                                size_t in_len, uint8_t *out, size_t out_cap,
                                size_t *out_len)
{
    return encrypt_with(key, usage, confounder, in, in_len, NULL, 0, out,
                        out_cap, out_len);
}

hsmssp_err
hsm_krb_encrypt_so(hsm_key *key, int32_t usage, const uint8_t *in,
                   size_t in_len, const hsm_signonly *so, size_t n_so,
                   uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint8_t conf[16];
    const etype_info *ei;
    hsmssp_err ret;

    *out_len = 0;
    ret = check_common(key, in, in_len, &ei);
    if (ret != HSMSSP_OK)
        return ret;
    if (n_so > 0 && so == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "NULL argument");
    /* The confounder is random, public once sent, and never reused. */
    ret = krbsw_random(conf, ei->conf_len);
    if (ret == HSMSSP_OK)
        ret = encrypt_with(key, usage, conf, in, in_len, so, n_so, out,
                           out_cap, out_len);
    base_memzero(conf, sizeof(conf));
    return ret;
}

hsmssp_err
hsm_krb_encrypt(hsm_key *key, int32_t usage, const uint8_t *in,
                size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    return hsm_krb_encrypt_so(key, usage, in, in_len, NULL, 0, out, out_cap,
                              out_len);
}

hsmssp_err
hsm_krb_decrypt(hsm_key *key, int32_t usage, const uint8_t *in,
                size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    return hsm_krb_decrypt_so(key, usage, in, in_len, NULL, 0, out, out_cap,
                              out_len);
}

hsmssp_err
hsm_krb_decrypt_so(hsm_key *key, int32_t usage, const uint8_t *in,
                   size_t in_len, const hsm_signonly *so, size_t n_so,
                   uint8_t *out, size_t out_cap, size_t *out_len)
{
    const etype_info *ei;
    op_args a;
    hsmssp_err ret;

    *out_len = 0;
    ret = check_common(key, in, in_len, &ei);
    if (ret != HSMSSP_OK)
        return ret;
    if (in_len < ei->conf_len + ei->mac_len ||
        (ei->etype != HSM_ETYPE_RC4_HMAC && in_len < 16 + ei->mac_len))
        return BASE_ERR(HSMSSP_ERR_BAD_CIPHERTEXT,
                        "%s ciphertext of %zu bytes is shorter than its "
                        "confounder and checksum",
                        ei->name, in_len);
    if (out == NULL || out_cap < in_len)
        return BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL,
                        "decrypt needs an output buffer of %zu bytes",
                        in_len);
    if (n_so > 0 && so == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "NULL argument");
    a = (op_args){OP_DECRYPT, usage, NULL, in, in_len, out, out_len, so,
                  n_so};
    ret = run(key, &a);
    if (ret != HSMSSP_OK) {
        base_memzero(out, in_len);
        *out_len = 0;
    }
    return ret;
}

hsmssp_err
hsm_krb_checksum(hsm_key *key, int32_t usage, const uint8_t *in,
                 size_t in_len, uint8_t *out, size_t out_cap,
                 size_t *out_len)
{
    const etype_info *ei;
    uint8_t full[64];
    size_t n = 0;
    op_args a;
    hsmssp_err ret;

    *out_len = 0;
    ret = check_common(key, in, in_len, &ei);
    if (ret != HSMSSP_OK)
        return ret;
    if (out == NULL || out_cap < ei->cksum_len)
        return BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL, "need %zu bytes",
                        ei->cksum_len);
    a = (op_args){OP_CKSUM, usage, NULL, in, in_len, full, &n, NULL, 0};
    ret = run(key, &a);
    if (ret == HSMSSP_OK) {
        memcpy(out, full, ei->cksum_len);
        *out_len = ei->cksum_len;
    }
    return ret;
}

hsmssp_err
hsm_krb_checksum_verify(hsm_key *key, int32_t usage, const uint8_t *in,
                        size_t in_len, const uint8_t *cksum,
                        size_t cksum_len)
{
    const etype_info *ei;
    uint8_t mine[64];
    size_t n = 0;
    hsmssp_err ret;

    ret = check_common(key, in, in_len, &ei);
    if (ret != HSMSSP_OK)
        return ret;
    if (cksum == NULL || cksum_len != ei->cksum_len)
        return BASE_ERR(HSMSSP_ERR_INTEGRITY,
                        "%s checksum of %zu bytes (expected %zu)", ei->name,
                        cksum_len, ei->cksum_len);
    ret = hsm_krb_checksum(key, usage, in, in_len, mine, sizeof(mine), &n);
    if (ret != HSMSSP_OK)
        return ret;
    if (!base_ct_equal(mine, cksum, ei->cksum_len))
        return BASE_ERR(HSMSSP_ERR_INTEGRITY, "%s checksum, usage %d",
                        ei->name, (int)usage);
    return HSMSSP_OK;
}

/* ---- test hook (hsm-int.h) ------------------------------------------ */

/* Runs the plan's CTS path exactly as aes_encrypt/aes_decrypt do, with a
 * Ke-shaped session object made from the caller's raw AES key (the
 * RFC 3962 appendix B vectors are raw AES keys, not Kerberos base keys,
 * and a base key's CKA_ALLOWED_MECHANISMS rightly exclude the ciphers). */
hsmssp_err
hsm_test_cts(hsm_token *tok, int32_t etype, const base_secret *key,
             bool encrypt, const uint8_t iv[16], const uint8_t *in,
             size_t len, uint8_t *out)
{
    const hsm_etype_plan *plan = hsm_plan(tok, etype);
    CK_MECHANISM_TYPE mechs[HSM_KE_MECHS_MAX];
    CK_OBJECT_HANDLE ke = CK_INVALID_HANDLE;
    size_t N = (len + 15) / 16 * 16;
    hsm_sess *s = NULL;
    scratch sc = {0};
    hsm_obj_tmpl t;
    hsmssp_err ret;

    if (plan == NULL || plan->cts == HSM_CTS_NONE || len < 16 ||
        (etype != HSM_ETYPE_AES128_SHA1 && etype != HSM_ETYPE_AES256_SHA1 &&
         etype != HSM_ETYPE_AES128_SHA256 &&
         etype != HSM_ETYPE_AES256_SHA384))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "no CTS for etype %d and %zu bytes", (int)etype, len);
    memset(&t, 0, sizeof(t));
    t.key_type = CKK_AES;
    t.encrypt = t.decrypt = true;
    t.mechs = mechs;
    t.n_mechs = hsm_ke_mechs(plan, mechs);
    ret = hsm_obj_create(tok, &t, key->data, key->len, &ke);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = scratch_get(2 * N, &sc);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = hsm_session_get(tok, &s);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (encrypt) {
        memcpy(sc.s->data, in, len);
        ret = cts_encrypt(tok, s, plan, ke, iv, sc.s->data, len,
                          sc.s->data + N, out);
    } else {
        ret = cts_decrypt(tok, s, plan, ke, iv, in, len, sc.s->data, out);
    }
cleanup:
    hsm_session_put(tok, s, ret != HSMSSP_OK);
    hsm_obj_destroy(tok, ke);
    scratch_done(&sc);
    return ret;
}

/* ---- RFC 4757 GSS token keys (hsm.h) ------------------------------- */

hsmssp_err
hsm_rc4_gss_seq(hsm_key *key, const uint8_t cksum[8], const uint8_t in[8],
                uint8_t out[8])
{
    op_args a;

    if (key == NULL || cksum == NULL || in == NULL || out == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "NULL argument");
    a = (op_args){OP_RC4_SEQ, 0, cksum, in, 8, out, NULL, NULL, 0};
    return run(key, &a);
}

hsmssp_err
hsm_rc4_gss_crypt(hsm_key *key, const uint8_t seq_plain[8], uint8_t *data,
                  size_t len)
{
    scratch sc = {0};
    op_args a;
    hsmssp_err ret;

    if (key == NULL || seq_plain == NULL || (data == NULL && len > 0))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "NULL argument");
    if (len > HSM_MAX_MESSAGE)
        return BASE_ERR(HSMSSP_ERR_INPUT_TOO_LARGE, "%zu bytes", len);
    if (len == 0)
        return HSMSSP_OK;
    /* RC4 is a stream cipher; the module gets separate input and output
     * buffers (in-place is not promised by PKCS#11). */
    ret = scratch_get(len, &sc);
    if (ret != HSMSSP_OK)
        return ret;
    memcpy(sc.s->data, data, len);
    a = (op_args){OP_RC4_CRYPT, 0, seq_plain, sc.s->data, len, data, NULL,
                  NULL, 0};
    ret = run(key, &a);
    scratch_done(&sc);
    return ret;
}
