/*
 * hsm/import.c - key objects: creation, derivation and destruction of
 * secret-key objects, and the import, lookup and release of hsm_keys.
 *
 * This file is one of the two places where long-term key bytes exist in
 * host memory (the other is keytabs/, later): hsm_key_import() receives
 * them in the caller's base_secret, hands them to C_CreateObject and, for
 * strategies at level H(import), derives the per-usage keys on the host in
 * base_secrets that are wiped before it returns.  docs/key-exposure.md
 * lists these places.
 *
 * Object attributes.  Every object is CKA_SENSITIVE=TRUE and
 * CKA_EXTRACTABLE=FALSE: the template type has no field to ask otherwise,
 * and derive templates carry both explicitly because SoftHSM2 2.6.1 and
 * NSS let a sensitive base key derive an extractable key and ignore
 * CKA_DERIVE_TEMPLATE (DESIGN sec. 8).  CKA_ALLOWED_MECHANISMS lists only
 * what the strategy uses, when the token stores that attribute.
 *
 * Long-term keys are private (CKA_PRIVATE=TRUE) where the token has a
 * login; derived per-usage session objects are CKA_PRIVATE=FALSE: a
 * session object is visible only inside this process anyway, and
 * non-private objects are ~2.5 us cheaper per use on SoftHSM2 (DESIGN
 * sec. 3).
 *
 * Naming of persistent objects (DESIGN sec. 4): the caller's CKA_ID and
 * CKA_LABEL for the key; the per-usage objects of an H(import) strategy
 * get CKA_ID = id || usage (4 bytes big-endian) || role ('e', 'i', 'c')
 * and CKA_LABEL = label "/u<usage><role>", so that a PKCS#11 URI and
 * pkcs11-tool address the same objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/uri.h>

#include "hsm/hsm-int.h"
#include "hsm/krbsw.h"

#define MAX_ATTRS 20

static CK_BBOOL ck_true = CK_TRUE;
static CK_BBOOL ck_false = CK_FALSE;
static CK_OBJECT_CLASS class_secret = CKO_SECRET_KEY;

#define BOOL_ATTR(type, b)                                                 \
    (CK_ATTRIBUTE)                                                         \
    {                                                                      \
        (type), (b) ? &ck_true : &ck_false, sizeof(CK_BBOOL)               \
    }

/* Fills attrs from the template; returns the count.  key_type and
 * value_len point into storage the caller keeps alive for the call. */
static CK_ULONG
build_template(hsm_token *tok, const hsm_obj_tmpl *t, CK_KEY_TYPE *key_type,
               CK_ULONG *value_len, CK_ATTRIBUTE *a)
{
    CK_ULONG n = 0;

    a[n++] = (CK_ATTRIBUTE){CKA_CLASS, &class_secret, sizeof(class_secret)};
    *key_type = t->key_type;
    a[n++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, key_type, sizeof(*key_type)};
    a[n++] = BOOL_ATTR(CKA_TOKEN, t->token);
    a[n++] = BOOL_ATTR(CKA_PRIVATE,
                       t->priv && (t->token ||
                                   tok->caps.private_session_objects));
    a[n++] = BOOL_ATTR(CKA_SENSITIVE, true);
    a[n++] = BOOL_ATTR(CKA_EXTRACTABLE, false);
    a[n++] = BOOL_ATTR(CKA_ENCRYPT, t->encrypt);
    a[n++] = BOOL_ATTR(CKA_DECRYPT, t->decrypt);
    a[n++] = BOOL_ATTR(CKA_SIGN, t->sign);
    a[n++] = BOOL_ATTR(CKA_DERIVE, t->derive);
    a[n++] = BOOL_ATTR(CKA_WRAP, false);
    a[n++] = BOOL_ATTR(CKA_UNWRAP, t->unwrap);
    /* CKA_MODIFIABLE=FALSE freezes a created object's attributes (the
     * key cannot be made extractable later); SoftHSM2 refuses it in derive
     * templates (CKR_ATTRIBUTE_READ_ONLY), where it is not needed: derived
     * objects are session objects that no one else can reach. */
    if (value_len == NULL)
        a[n++] = BOOL_ATTR(CKA_MODIFIABLE, false);
    if (value_len != NULL && *value_len > 0)
        a[n++] = (CK_ATTRIBUTE){CKA_VALUE_LEN, value_len, sizeof(*value_len)};
    if (t->n_mechs > 0 && tok->caps.allowed_mechanisms)
        a[n++] = (CK_ATTRIBUTE){CKA_ALLOWED_MECHANISMS, (void *)t->mechs,
                                t->n_mechs * sizeof(CK_MECHANISM_TYPE)};
    if (t->id_len > 0)
        a[n++] = (CK_ATTRIBUTE){CKA_ID, (void *)t->id, t->id_len};
    if (t->label != NULL)
        a[n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)t->label,
                                strlen(t->label)};
    return n;
}

hsmssp_err
hsm_obj_create(hsm_token *tok, const hsm_obj_tmpl *t, const uint8_t *value,
               size_t len, CK_OBJECT_HANDLE *obj_out)
{
    CK_ATTRIBUTE a[MAX_ATTRS];
    CK_KEY_TYPE kt;
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    CK_ULONG n;
    uint64_t gen;
    hsmssp_err ret;
    CK_RV rv;

    *obj_out = CK_INVALID_HANDLE;
    ret = hsm_owner_acquire(tok, &h, &gen);
    if (ret != HSMSSP_OK)
        return ret;
    n = build_template(tok, t, &kt, NULL, a);
    a[n++] = (CK_ATTRIBUTE){CKA_VALUE, (void *)value, len};
    rv = P11(tok, C_CreateObject, h, a, n, &obj);
    hsm_owner_release(tok);
    if (rv != CKR_OK)
        return hsm_rv(rv, "C_CreateObject(secret key)");
    *obj_out = obj;
    return HSMSSP_OK;
}

hsmssp_err
hsm_obj_derive(hsm_token *tok, CK_MECHANISM *mech, CK_OBJECT_HANDLE base,
               const hsm_obj_tmpl *t, size_t value_len,
               CK_OBJECT_HANDLE *obj_out)
{
    CK_ATTRIBUTE a[MAX_ATTRS];
    CK_KEY_TYPE kt;
    CK_ULONG vl = value_len;
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    CK_ULONG n;
    uint64_t gen;
    hsmssp_err ret;
    CK_RV rv;

    *obj_out = CK_INVALID_HANDLE;
    ret = hsm_owner_acquire(tok, &h, &gen);
    if (ret != HSMSSP_OK)
        return ret;
    n = build_template(tok, t, &kt, &vl, a);
    rv = P11(tok, C_DeriveKey, h, mech, base, a, n, &obj);
    hsm_owner_release(tok);
    if (rv != CKR_OK) {
        char what[64];
        snprintf(what, sizeof(what), "C_DeriveKey(mechanism 0x%lx)",
                 (unsigned long)mech->mechanism);
        return hsm_rv(rv, what);
    }
    *obj_out = obj;
    return HSMSSP_OK;
}

void
hsm_obj_destroy(hsm_token *tok, CK_OBJECT_HANDLE obj)
{
    CK_SESSION_HANDLE h;
    uint64_t gen;

    if (obj == CK_INVALID_HANDLE)
        return;
    if (hsm_owner_acquire(tok, &h, &gen) != HSMSSP_OK)
        return;
    (void)P11(tok, C_DestroyObject, h, obj);
    hsm_owner_release(tok);
}

/* ---- per-etype object shapes ---------------------------------------- */

static bool needs_z(const hsm_etype_plan *plan);

/* The long-term/base key template of an etype under its plan.
 * CKA_ALLOWED_MECHANISMS is exactly what the plan does with the base key
 * on this token, so that a compromised host process cannot use the key
 * for anything else (e.g. plain AES-ECB encryption as a Kerberos key
 * oracle):
 *   17  AES_ECB_ENCRYPT_DATA (DK), plus AES_ECB decrypt only where Ki is
 *       zero-padded through Z = D_K(0^16) (needs_z);
 *   18  AES_CBC_ENCRYPT_DATA (DK over two chained blocks);
 *   19/20  SP800_108_COUNTER_KDF: the T plan's derivation; under the
 *       H(import) plan the stored base key is never used, and the KDF is
 *       the one mechanism it may ever serve (a re-derivation on a token
 *       that gains the KDF; CKA_MODIFIABLE=FALSE rules out widening it
 *       later);
 *   23  SP800_108_FEEDBACK_KDF (T plan: K1 and Ksign derived on the
 *       token) or MD5_HMAC by C_Sign (H(op) plan), never both. */
static void
base_template(const hsm_etype_plan *plan, const hsm_key_spec *spec,
              hsm_obj_tmpl *t, CK_MECHANISM_TYPE mechs[2])
{
    memset(t, 0, sizeof(*t));
    t->token = spec->persistent;
    /* Long-term and persistent keys are private (they need the login).  A
     * class S session object is visible to this process's sessions only
     * whatever CKA_PRIVATE says, and a non-private one costs less per use
     * on SoftHSM2 (DESIGN sec. 3), as for the derived objects. */
    t->priv = spec->persistent || spec->key_class == HSM_KEY_LONG_TERM;
    t->id = spec->id;
    t->id_len = spec->id_len;
    t->label = spec->label;
    t->mechs = mechs;
    switch (plan->etype) {
    case HSM_ETYPE_AES128_SHA1:
        t->key_type = CKK_AES;
        t->derive = true;
        mechs[t->n_mechs++] = CKM_AES_ECB_ENCRYPT_DATA;
        if (needs_z(plan)) {
            t->decrypt = true;
            mechs[t->n_mechs++] = CKM_AES_ECB;
        }
        break;
    case HSM_ETYPE_AES256_SHA1:
        t->key_type = CKK_AES;
        t->derive = true;
        mechs[t->n_mechs++] = CKM_AES_CBC_ENCRYPT_DATA;
        break;
    case HSM_ETYPE_AES128_SHA256:
    case HSM_ETYPE_AES256_SHA384:
        t->key_type = CKK_GENERIC_SECRET;
        t->derive = true;
        mechs[t->n_mechs++] = CKM_SP800_108_COUNTER_KDF;
        break;
    default:
        t->key_type = CKK_GENERIC_SECRET;
        if (plan->derive == HSM_DERIVE_FEEDBACK_MD5) {
            t->derive = true;
            mechs[t->n_mechs++] = CKM_SP800_108_FEEDBACK_KDF;
        } else {
            t->sign = true;
            mechs[t->n_mechs++] = CKM_MD5_HMAC;
        }
        break;
    }
}

/* Which roles a usage needs: checksum-only usages take Kc, encryption
 * usages Ke and Ki, and the RFC 4121 seal usages all three (Wrap without
 * confidentiality is a checksum under the seal usage). */
static unsigned
usage_roles(int32_t usage)
{
    enum { KE = 1, KI = 2, KC = 4 };
    switch (usage) {
    case HSM_USAGE_TGS_REQ_AUTH_CKSUM:
    case HSM_USAGE_AP_REQ_AUTH_CKSUM:
    case HSM_USAGE_APP_DATA_CKSUM:
    case HSM_USAGE_ACCEPTOR_SIGN:
    case HSM_USAGE_INITIATOR_SIGN:
        return KC;
    case HSM_USAGE_ACCEPTOR_SEAL:
    case HSM_USAGE_INITIATOR_SEAL:
        return KE | KI | KC;
    default:
        return KE | KI;
    }
}

static const int32_t default_lt_usages[] = {
    HSM_USAGE_AS_REQ_PA_ENC_TS, HSM_USAGE_KDC_REP_TICKET,
    HSM_USAGE_AS_REP_ENCPART, HSM_USAGE_APP_DATA_CKSUM};
static const int32_t default_session_usages[] = {
    HSM_USAGE_TGS_REQ_AD_SESSKEY,      HSM_USAGE_TGS_REQ_AUTH_CKSUM,
    HSM_USAGE_TGS_REQ_AUTH,            HSM_USAGE_TGS_REP_ENCPART_SESSKEY,
    HSM_USAGE_TGS_REP_ENCPART_SUBKEY,  HSM_USAGE_AP_REQ_AUTH_CKSUM,
    HSM_USAGE_AP_REQ_AUTH,             HSM_USAGE_AP_REP_ENCPART,
    HSM_USAGE_KRB_CRED_ENCPART,        HSM_USAGE_APP_DATA_CKSUM,
    HSM_USAGE_ACCEPTOR_SEAL,           HSM_USAGE_ACCEPTOR_SIGN,
    HSM_USAGE_INITIATOR_SEAL,          HSM_USAGE_INITIATOR_SIGN};

/* Derives one per-usage key on the host and stores it as an object: the
 * H(import) strategy for RFC 8009 keys on tokens without an SP800-108 KDF.
 * The derived bytes live in a base_secret wiped before return. */
static hsmssp_err
store_host_derived(hsm_token *tok, const hsm_etype_plan *plan,
                   const hsm_key_spec *spec, const base_secret *key,
                   int32_t usage, uint8_t role, CK_OBJECT_HANDLE *obj_out)
{
    static const CK_MECHANISM_TYPE sha256_mechs[] = {CKM_SHA256_HMAC};
    static const CK_MECHANISM_TYPE sha384_mechs[] = {CKM_SHA384_HMAC};
    base_secret *dk = NULL, *padded = NULL;
    CK_MECHANISM_TYPE ke_mechs[HSM_KE_MECHS_MAX];
    uint8_t id[HSM_ID_MAX + 5];
    char label[160];
    char rc = role == KRBSW_ROLE_KE ? 'e' : role == KRBSW_ROLE_KI ? 'i' : 'c';
    hsm_obj_tmpl t;
    hsmssp_err ret;

    memset(&t, 0, sizeof(t));
    ret = krbsw_derive(plan->etype, key->data, usage, role, &dk);
    if (ret != HSMSSP_OK)
        goto cleanup;
    t.token = spec->persistent;
    t.priv = true;
    if (spec->id_len > 0) {
        memcpy(id, spec->id, spec->id_len);
        base_store_be32(id + spec->id_len, (uint32_t)usage);
        id[spec->id_len + 4] = (uint8_t)rc;
        t.id = id;
        t.id_len = spec->id_len + 5;
    }
    if (spec->label != NULL) {
        snprintf(label, sizeof(label), "%s/u%d%c", spec->label, (int)usage,
                 rc);
        t.label = label;
    }
    if (role == KRBSW_ROLE_KE) {
        t.key_type = CKK_AES;
        t.encrypt = t.decrypt = true;
        t.mechs = ke_mechs;
        t.n_mechs = hsm_ke_mechs(plan, ke_mechs);
        ret = hsm_obj_create(tok, &t, dk->data, dk->len, obj_out);
    } else {
        /* HMAC keys shorter than the token's minimum are zero-padded:
         * HMAC(K) = HMAC(K || 0...) for keys below the block size. */
        size_t n = plan->mac_keylen > dk->len ? plan->mac_keylen : dk->len;
        t.key_type = CKK_GENERIC_SECRET;
        t.sign = true;
        t.mechs = plan->etype == HSM_ETYPE_AES128_SHA256 ? sha256_mechs
                                                         : sha384_mechs;
        t.n_mechs = 1;
        ret = base_secret_new(n, n, &padded);
        if (ret != HSMSSP_OK)
            goto cleanup;
        memcpy(padded->data, dk->data, dk->len);
        ret = hsm_obj_create(tok, &t, padded->data, padded->len, obj_out);
    }
cleanup:
    base_secret_free(dk);
    base_secret_free(padded);
    return ret;
}

/* Z = D_K(0^16) for the aes128 zero-pad derivation of Ki (DESIGN sec. 8):
 * ECB_ENCRYPT_DATA(K, nfold || Z) then gives Ki || E_K(Z)[0..4) =
 * Ki || 0^4, a 20-byte HMAC-SHA1 key equivalent to Ki.  Z is no key
 * material, but it is a verifier for password guesses like any
 * ciphertext, so it is kept in the key structure only. */
static hsmssp_err
compute_z(hsm_key *key)
{
    hsm_token *tok = key->tok;
    CK_MECHANISM mech = {CKM_AES_ECB, NULL, 0};
    uint8_t zero[16] = {0};
    CK_ULONG zlen = sizeof(key->z);
    hsm_sess *s = NULL;
    hsmssp_err ret;
    CK_RV rv;

    ret = hsm_session_get(tok, &s);
    if (ret != HSMSSP_OK)
        return ret;
    rv = P11(tok, C_DecryptInit, s->h, &mech, key->base);
    if (rv == CKR_OK)
        rv = P11(tok, C_Decrypt, s->h, zero, sizeof(zero), key->z, &zlen);
    hsm_session_put(tok, s, rv != CKR_OK);
    if (rv != CKR_OK)
        return hsm_rv(rv, "C_Decrypt(CKM_AES_ECB) for Z");
    key->have_z = true;
    return HSMSSP_OK;
}

static bool
needs_z(const hsm_etype_plan *plan)
{
    return plan->etype == HSM_ETYPE_AES128_SHA1 && plan->mac_keylen > 16;
}

static hsmssp_err
key_new(hsm_token *tok, const hsm_key_spec *spec, hsm_key **out)
{
    hsm_key *k = calloc(1, sizeof(*k));

    *out = NULL;
    if (k == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    if (spec->id_len > HSM_ID_MAX) {
        free(k);
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "CKA_ID longer than %d",
                        HSM_ID_MAX);
    }
    k->tok = tok;
    k->etype = spec->etype;
    k->key_class = spec->key_class;
    k->persistent = spec->persistent;
    if (spec->id_len > 0)
        memcpy(k->id, spec->id, spec->id_len);
    k->id_len = spec->id_len;
    k->base = CK_INVALID_HANDLE;
    k->pid = getpid();
    k->gen = hsm_token_generation(tok);
    pthread_mutex_lock(&tok->cache_lock);
    k->serial = tok->next_key_serial++;
    pthread_mutex_unlock(&tok->cache_lock);
    pthread_mutex_init(&k->lock, NULL);
    *out = k;
    return HSMSSP_OK;
}

/* Destroys the key's session objects (or all of them when all is set),
 * its cached derived keys, and the structure. */
static void
key_release(hsm_key *key, bool all)
{
    hsm_token *tok = key->tok;
    uint64_t cur_gen = hsm_token_generation(tok);
    bool same_process = key->pid == getpid() && key->gen == cur_gen;
    hsm_cache *c = &tok->cache;
    CK_OBJECT_HANDLE doomed[32];
    size_t n_doomed;

    /* Cached derived keys of this key: destroy the objects of the current
     * generation, forget the others (their session is gone).  Objects are
     * collected under cache_lock and destroyed after it is released: the
     * owner session lock comes first in the locking order.  A fixed batch
     * on the stack, repeated until no entry of the key is left, so that
     * no allocation failure can make an entry vanish from the cache while
     * its object stays on the token. */
    do {
        n_doomed = 0;
        pthread_mutex_lock(&tok->cache_lock);
        for (size_t i = 0; i < c->cap && n_doomed < BASE_ARRAY_LEN(doomed);
             i++) {
            hsm_cache_entry *e = &c->slots[i];
            if (!e->used || e->key_serial != key->serial)
                continue;
            if (same_process && e->gen == cur_gen)
                doomed[n_doomed++] = e->obj;
            memset(e, 0, sizeof(*e));
            c->count--;
        }
        pthread_mutex_unlock(&tok->cache_lock);
        for (size_t i = 0; i < n_doomed; i++)
            hsm_obj_destroy(tok, doomed[i]);
    } while (n_doomed == BASE_ARRAY_LEN(doomed));

    if (same_process) {
        for (size_t i = 0; i < key->n_own; i++)
            hsm_obj_destroy(tok, key->own[i].obj);
    }
    if (same_process && (all || !key->persistent)) {
        for (size_t i = 0; i < key->n_stored; i++)
            hsm_obj_destroy(tok, key->stored[i].obj);
        hsm_obj_destroy(tok, key->base);
    }
    free(key->stored);
    base_memzero(key->z, sizeof(key->z));
    pthread_mutex_destroy(&key->lock);
    free(key);
}

const hsm_etype_plan *
hsm_plan(const hsm_token *tok, int32_t etype)
{
    for (size_t i = 0; i < HSM_N_ETYPES; i++)
        if (tok->plans[i].etype == etype && etype != 0)
            return &tok->plans[i];
    return NULL;
}

/* Refuses a plan the token cannot run or policy forbids, naming the
 * missing mechanism, so the administrator knows what the token lacks. */
static hsmssp_err
check_plan(const hsm_etype_plan *plan, int32_t etype)
{
    if (plan == NULL)
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE, "enctype %d", (int)etype);
    if (plan->level == HSM_LEVEL_NONE)
        return BASE_ERR(HSMSSP_ERR_MECHANISM_MISSING,
                        "%s: the token lacks %s", hsm_etype_name(etype),
                        plan->missing ? plan->missing : "a mechanism");
    if (!plan->allowed)
        return BASE_ERR(HSMSSP_ERR_POLICY_HOST_OP,
                        "%s would run on the host on every use because the "
                        "token lacks %s; allow H(op) for Kerberos in the "
                        "policy to permit it",
                        hsm_etype_name(etype),
                        plan->missing ? plan->missing : "a mechanism");
    return HSMSSP_OK;
}

/* For lookups: the enctype must be one the engine knows, but a key whose
 * plan the policy refuses (or the token cannot run) is still found, so
 * that it can be listed and removed.  Every use goes through the
 * engine's own check (key_ready in engine.c), which refuses it there,
 * naming the missing mechanism. */
static hsmssp_err
check_known(const hsm_etype_plan *plan, int32_t etype)
{
    if (plan == NULL)
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE, "enctype %d", (int)etype);
    return HSMSSP_OK;
}

/* RFC 4757 sec. 7.3 seals GSS Wrap tokens with keys derived from
 * Klocal = K xor 0xF0..F0.  Neither SoftHSM2 nor NSS softoken offers an
 * XOR derivation usable here, and the session key's bytes are on the host
 * now anyway (its arrival window, DESIGN sec. 2): so Klocal is made here
 * and stored beside the key, as H(arrival).  Only session keys get it:
 * long-term arcfour keys never protect GSS messages. */
static hsmssp_err
store_rc4_klocal(hsm_token *tok, const hsm_etype_plan *plan,
                 const base_secret *keybytes, hsm_key *key)
{
    static const CK_MECHANISM_TYPE kdf_mechs[] = {CKM_SP800_108_FEEDBACK_KDF};
    static const CK_MECHANISM_TYPE hmac_mechs[] = {CKM_MD5_HMAC};
    base_secret *kl = NULL;
    hsm_stored_usage *v;
    hsm_obj_tmpl t;
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    hsmssp_err ret;

    ret = base_secret_from(keybytes->data, keybytes->len, &kl);
    if (ret != HSMSSP_OK)
        return ret;
    for (size_t i = 0; i < kl->len; i++)
        kl->data[i] ^= 0xf0;
    memset(&t, 0, sizeof(t));
    t.key_type = CKK_GENERIC_SECRET;
    /* On the token's KDF plan Klocal is the base of a derivation; on the
     * H(op) plan it signs (HMAC-MD5 by C_Sign). */
    if (plan->derive == HSM_DERIVE_FEEDBACK_MD5) {
        t.derive = true;
        t.mechs = kdf_mechs;
    } else {
        t.sign = true;
        t.mechs = hmac_mechs;
    }
    t.n_mechs = 1;
    ret = hsm_obj_create(tok, &t, kl->data, kl->len, &obj);
    base_secret_free(kl);
    if (ret != HSMSSP_OK)
        return ret;
    v = realloc(key->stored, (key->n_stored + 1) * sizeof(*v));
    if (v == NULL) {
        hsm_obj_destroy(tok, obj);
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    key->stored = v;
    v[key->n_stored].usage = 0;
    v[key->n_stored].role = HSM_ROLE_RC4_KLOCAL;
    v[key->n_stored].obj = obj;
    key->n_stored++;
    return HSMSSP_OK;
}

hsmssp_err
hsm_key_import(hsm_token *tok, const hsm_key_spec *spec,
               const base_secret *keybytes, hsm_key **key_out)
{
    const hsm_etype_plan *plan;
    hsm_key *key = NULL;
    hsm_obj_tmpl t;
    CK_MECHANISM_TYPE base_mechs[2];
    hsmssp_err ret;

    *key_out = NULL;
    if (tok == NULL || spec == NULL || keybytes == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "NULL argument");
    plan = hsm_plan(tok, spec->etype);
    ret = check_plan(plan, spec->etype);
    if (ret != HSMSSP_OK)
        return ret;
    if (keybytes->len != hsm_etype_keylen(spec->etype))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "%s key must be %zu bytes, got %zu",
                        hsm_etype_name(spec->etype),
                        hsm_etype_keylen(spec->etype), keybytes->len);
    if (spec->persistent && !tok->ident.persistent_objects)
        return BASE_ERR(HSMSSP_ERR_TOKEN_READONLY,
                        "token '%s' cannot store persistent objects (NSS "
                        "softoken without a database keeps session objects "
                        "only)",
                        tok->ident.label);

    ret = key_new(tok, spec, &key);
    if (ret != HSMSSP_OK)
        goto cleanup;
    base_template(plan, spec, &t, base_mechs);
    ret = hsm_obj_create(tok, &t, keybytes->data, keybytes->len, &key->base);
    if (ret != HSMSSP_OK)
        goto cleanup;

    if (plan->derive == HSM_DERIVE_HOST_IMPORT) {
        const int32_t *usages = spec->usages;
        size_t n = spec->n_usages;
        static const uint8_t roles[3] = {KRBSW_ROLE_KE, KRBSW_ROLE_KI,
                                         KRBSW_ROLE_KC};
        if (usages == NULL || n == 0) {
            bool lt = spec->key_class == HSM_KEY_LONG_TERM;
            usages = lt ? default_lt_usages : default_session_usages;
            n = lt ? BASE_ARRAY_LEN(default_lt_usages)
                   : BASE_ARRAY_LEN(default_session_usages);
        }
        key->stored = calloc(n * 3, sizeof(*key->stored));
        if (key->stored == NULL) {
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
            goto cleanup;
        }
        for (size_t i = 0; i < n; i++) {
            /* Usages the caller names get every role: the caller knows
             * it needs them, and there is no second chance later. */
            unsigned want = spec->usages != NULL && !spec->roles_by_usage
                                ? 7u
                                : usage_roles(usages[i]);
            for (size_t r = 0; r < 3; r++) {
                hsm_stored_usage *su = &key->stored[key->n_stored];
                if (!(want & (1u << r)))
                    continue;
                ret = store_host_derived(tok, plan, spec, keybytes,
                                         usages[i], roles[r], &su->obj);
                if (ret != HSMSSP_OK)
                    goto cleanup;
                su->usage = usages[i];
                su->role = roles[r];
                key->n_stored++;
            }
        }
    }
    if (spec->etype == HSM_ETYPE_RC4_HMAC &&
        spec->key_class == HSM_KEY_SESSION) {
        ret = store_rc4_klocal(tok, plan, keybytes, key);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    if (needs_z(plan)) {
        ret = compute_z(key);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    *key_out = key;
    key = NULL;
cleanup:
    if (key != NULL)
        key_release(key, true); /* no partial state on the token */
    return ret;
}

/* Finds the handles of one object by class and CKA_ID in a pooled
 * session.  Returns HSMSSP_ERR_KEY_NOT_FOUND when there is none. */
static hsmssp_err
find_by_id(hsm_token *tok, const uint8_t *id, size_t id_len,
           CK_OBJECT_HANDLE *obj_out)
{
    CK_ATTRIBUTE a[] = {
        {CKA_CLASS, &class_secret, sizeof(class_secret)},
        {CKA_TOKEN, &ck_true, sizeof(ck_true)},
        {CKA_ID, (void *)id, id_len},
    };
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    CK_ULONG count = 0;
    hsm_sess *s = NULL;
    hsmssp_err ret;
    CK_RV rv;

    *obj_out = CK_INVALID_HANDLE;
    ret = hsm_session_get(tok, &s);
    if (ret != HSMSSP_OK)
        return ret;
    rv = P11(tok, C_FindObjectsInit, s->h, a, BASE_ARRAY_LEN(a));
    if (rv == CKR_OK) {
        rv = P11(tok, C_FindObjects, s->h, &obj, 1, &count);
        CK_RV rv2 = P11(tok, C_FindObjectsFinal, s->h);
        if (rv == CKR_OK)
            rv = rv2;
    }
    hsm_session_put(tok, s, rv != CKR_OK);
    if (rv != CKR_OK)
        return hsm_rv(rv, "C_FindObjects");
    if (count == 0)
        return BASE_ERR0(HSMSSP_ERR_KEY_NOT_FOUND);
    *obj_out = obj;
    return HSMSSP_OK;
}

/* Finds the stored per-usage objects of an H(import) key: every secret
 * key object whose CKA_ID is id || usage(4) || role(1). */
static hsmssp_err
find_stored(hsm_key *key)
{
    hsm_token *tok = key->tok;
    CK_ATTRIBUTE a[] = {
        {CKA_CLASS, &class_secret, sizeof(class_secret)},
        {CKA_TOKEN, &ck_true, sizeof(ck_true)},
    };
    CK_OBJECT_HANDLE objs[64];
    CK_ULONG count = 0;
    hsm_sess *s = NULL;
    hsmssp_err ret;
    CK_RV rv;
    size_t cap = 0;

    ret = hsm_session_get(tok, &s);
    if (ret != HSMSSP_OK)
        return ret;
    free(key->stored);
    key->stored = NULL;
    key->n_stored = 0;
    rv = P11(tok, C_FindObjectsInit, s->h, a, BASE_ARRAY_LEN(a));
    while (rv == CKR_OK) {
        rv = P11(tok, C_FindObjects, s->h, objs, BASE_ARRAY_LEN(objs),
                 &count);
        if (rv != CKR_OK || count == 0)
            break;
        for (CK_ULONG i = 0; i < count; i++) {
            uint8_t id[HSM_ID_MAX + 5];
            CK_ATTRIBUTE ia = {CKA_ID, id, sizeof(id)};
            uint8_t rc;
            if (P11(tok, C_GetAttributeValue, s->h, objs[i], &ia, 1) !=
                    CKR_OK ||
                ia.ulValueLen != key->id_len + 5 ||
                memcmp(id, key->id, key->id_len) != 0)
                continue;
            rc = id[key->id_len + 4];
            if (rc != 'e' && rc != 'i' && rc != 'c')
                continue;
            if (key->n_stored == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                hsm_stored_usage *ns =
                    realloc(key->stored, ncap * sizeof(*ns));
                if (ns == NULL) {
                    rv = CKR_HOST_MEMORY;
                    break;
                }
                key->stored = ns;
                cap = ncap;
            }
            key->stored[key->n_stored++] = (hsm_stored_usage){
                .usage = (int32_t)base_load_be32(id + key->id_len),
                .role = rc == 'e'   ? KRBSW_ROLE_KE
                        : rc == 'i' ? KRBSW_ROLE_KI
                                    : KRBSW_ROLE_KC,
                .obj = objs[i]};
        }
    }
    {
        CK_RV rv2 = P11(tok, C_FindObjectsFinal, s->h);
        if (rv == CKR_OK)
            rv = rv2;
    }
    hsm_session_put(tok, s, rv != CKR_OK);
    if (rv != CKR_OK)
        return hsm_rv(rv, "C_FindObjects(per-usage keys)");
    return HSMSSP_OK;
}

/* What a key needs besides its base object, once key->base is known:
 * the stored per-usage objects of an H(import) plan and Z. */
static hsmssp_err
key_load_rest(hsm_key *key)
{
    const hsm_etype_plan *plan = hsm_plan(key->tok, key->etype);
    hsmssp_err ret = HSMSSP_OK;

    key->gen = hsm_token_generation(key->tok);
    if (plan->derive == HSM_DERIVE_HOST_IMPORT) {
        ret = find_stored(key);
        if (ret != HSMSSP_OK)
            return ret;
    }
    if (needs_z(plan) && !key->have_z)
        ret = compute_z(key);
    return ret;
}

hsmssp_err
hsm_key_refresh_unlocked(hsm_key *key)
{
    hsmssp_err ret;

    ret = find_by_id(key->tok, key->id, key->id_len, &key->base);
    if (ret != HSMSSP_OK)
        return ret;
    return key_load_rest(key);
}

/* The key type hsm_key_import() gives an etype's base object. */
static CK_KEY_TYPE
base_key_type(int32_t etype)
{
    return etype == HSM_ETYPE_AES128_SHA1 || etype == HSM_ETYPE_AES256_SHA1
               ? CKK_AES
               : CKK_GENERIC_SECRET;
}

/* Runs the search of hsm_key_find_uri in a pooled session: counts every
 * match (up to a bound that is plenty to say "several") and reads the
 * CKA_ID and CKA_KEY_TYPE of the first. */
static hsmssp_err
find_uri_objects(hsm_token *tok, CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl,
                 CK_OBJECT_HANDLE *first_out, size_t *count_out,
                 uint8_t *id, size_t *id_len, CK_KEY_TYPE *kt_out)
{
    CK_OBJECT_HANDLE objs[16];
    CK_ULONG got = 0;
    hsm_sess *s = NULL;
    bool inited;
    hsmssp_err ret;
    CK_RV rv, rv2;

    *first_out = CK_INVALID_HANDLE;
    *count_out = 0;
    ret = hsm_session_get(tok, &s);
    if (ret != HSMSSP_OK)
        return ret;
    rv = P11(tok, C_FindObjectsInit, s->h, tmpl, n_tmpl);
    inited = rv == CKR_OK;
    while (rv == CKR_OK && *count_out < 1024) {
        rv = P11(tok, C_FindObjects, s->h, objs, BASE_ARRAY_LEN(objs), &got);
        if (rv != CKR_OK || got == 0)
            break;
        if (*count_out == 0)
            *first_out = objs[0];
        *count_out += got;
    }
    if (inited) {
        rv2 = P11(tok, C_FindObjectsFinal, s->h);
        if (rv == CKR_OK)
            rv = rv2;
    }
    if (rv == CKR_OK && *count_out == 1) {
        CK_ATTRIBUTE a[] = {
            {CKA_ID, id, HSM_ID_MAX},
            {CKA_KEY_TYPE, kt_out, sizeof(*kt_out)},
        };
        rv = P11(tok, C_GetAttributeValue, s->h, *first_out, a,
                 BASE_ARRAY_LEN(a));
        /* An id longer than we keep cannot name per-usage objects: the
         * caller refuses it by its length. */
        if (rv == CKR_BUFFER_TOO_SMALL) {
            rv = CKR_OK;
            a[0].ulValueLen = HSM_ID_MAX + 1;
        }
        *id_len = a[0].ulValueLen;
    }
    hsm_session_put(tok, s, rv != CKR_OK);
    if (rv != CKR_OK)
        return hsm_rv(rv, "C_FindObjects(key URI)");
    return HSMSSP_OK;
}

hsmssp_err
hsm_key_find_uri(hsm_token *tok, int32_t etype, const char *uri_text,
                 hsm_key **key_out)
{
    const hsm_etype_plan *plan;
    P11KitUri *uri = NULL;
    CK_ATTRIBUTE tmpl[4], *a;
    CK_ULONG n_tmpl = 0;
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
    hsm_key_spec spec;
    hsm_key *key = NULL;
    uint8_t id[HSM_ID_MAX];
    size_t count = 0, id_len = 0;
    const char *pv;
    hsmssp_err ret;
    int r;

    *key_out = NULL;
    if (tok == NULL || uri_text == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no key URI");
    plan = hsm_plan(tok, etype);
    ret = check_known(plan, etype);
    if (ret != HSMSSP_OK)
        return ret;
    uri = p11_kit_uri_new();
    if (uri == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    /* FOR_SLOT as for token URIs (token.c uri_parse): without it p11-kit
     * files slot attributes as unrecognised. */
    r = p11_kit_uri_parse(uri_text,
                          P11_KIT_URI_FOR_OBJECT_ON_TOKEN_AND_MODULE |
                              P11_KIT_URI_FOR_SLOT,
                          uri);
    /* A pin-value is of no use here (the token is logged in); p11-kit
     * frees its decoded copy without wiping, so wipe it now. */
    pv = p11_kit_uri_get_pin_value(uri);
    if (pv != NULL) {
        base_memzero((char *)pv, strlen(pv));
        p11_kit_uri_set_pin_value(uri, NULL);
    }
    if (r != P11_KIT_URI_OK) {
        /* The text is not echoed: it might carry a pin-value. */
        ret = BASE_ERR(HSMSSP_ERR_BAD_URI, "key URI: %s",
                       p11_kit_uri_message(r));
        goto cleanup;
    }
    if (p11_kit_uri_any_unrecognized(uri)) {
        ret = BASE_ERR(HSMSSP_ERR_BAD_URI, "the key URI has attributes "
                       "that cannot be matched");
        goto cleanup;
    }
    ret = hsm_token_uri_matches(tok, uri);
    if (ret != HSMSSP_OK)
        goto cleanup;

    /* The object part: CKA_CLASS always secret key (a URI asking for
     * another class matches nothing), CKA_TOKEN (keys found by URI are
     * persistent ones), then id= and object= as given.  p11-kit keeps
     * the attribute values alive until p11_kit_uri_free. */
    tmpl[n_tmpl++] = (CK_ATTRIBUTE){CKA_CLASS, &class_secret,
                                    sizeof(class_secret)};
    tmpl[n_tmpl++] = (CK_ATTRIBUTE){CKA_TOKEN, &ck_true, sizeof(ck_true)};
    a = p11_kit_uri_get_attribute(uri, CKA_CLASS);
    if (a != NULL && (a->ulValueLen != sizeof(CK_OBJECT_CLASS) ||
                      *(CK_OBJECT_CLASS *)a->pValue != CKO_SECRET_KEY)) {
        ret = BASE_ERR(HSMSSP_ERR_KEY_NOT_FOUND,
                       "the key URI asks for an object type other than "
                       "secret-key");
        goto cleanup;
    }
    if ((a = p11_kit_uri_get_attribute(uri, CKA_ID)) != NULL)
        tmpl[n_tmpl++] = *a;
    if ((a = p11_kit_uri_get_attribute(uri, CKA_LABEL)) != NULL)
        tmpl[n_tmpl++] = *a;

    ret = find_uri_objects(tok, tmpl, n_tmpl, &obj, &count, id, &id_len,
                           &kt);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (count == 0) {
        ret = BASE_ERR(HSMSSP_ERR_KEY_NOT_FOUND,
                       "no secret key on token '%s' matches the URI",
                       tok->ident.label);
        goto cleanup;
    }
    if (count > 1) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "URI matches %zu objects on token '%s'; add id= or "
                       "object= to name one",
                       count, tok->ident.label);
        goto cleanup;
    }
    if (id_len == 0 || id_len > HSM_ID_MAX) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "the key found has %s CKA_ID (1 to %d bytes are "
                       "needed to find its objects again)",
                       id_len == 0 ? "no" : "too long a", HSM_ID_MAX);
        goto cleanup;
    }
    if (kt != base_key_type(etype)) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "the key found has CKA_KEY_TYPE 0x%lx, not the one "
                       "%s keys are stored with",
                       (unsigned long)kt, hsm_etype_name(etype));
        goto cleanup;
    }

    memset(&spec, 0, sizeof(spec));
    spec.etype = etype;
    spec.persistent = true;
    spec.id = id;
    spec.id_len = id_len;
    ret = key_new(tok, &spec, &key);
    if (ret != HSMSSP_OK)
        goto cleanup;
    key->base = obj;
    ret = key_load_rest(key);
    if (ret != HSMSSP_OK)
        goto cleanup;
    *key_out = key;
    key = NULL;

cleanup:
    if (key != NULL)
        key_release(key, false);
    p11_kit_uri_free(uri);
    return ret;
}

hsmssp_err
hsm_key_find(hsm_token *tok, int32_t etype, const uint8_t *id,
             size_t id_len, hsm_key **key_out)
{
    const hsm_etype_plan *plan;
    hsm_key_spec spec;
    hsm_key *key = NULL;
    hsmssp_err ret;

    *key_out = NULL;
    if (tok == NULL || id == NULL || id_len == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no CKA_ID to find");
    plan = hsm_plan(tok, etype);
    ret = check_known(plan, etype);
    if (ret != HSMSSP_OK)
        return ret;
    memset(&spec, 0, sizeof(spec));
    spec.etype = etype;
    spec.persistent = true;
    spec.id = id;
    spec.id_len = id_len;
    ret = key_new(tok, &spec, &key);
    if (ret != HSMSSP_OK)
        return ret;
    ret = hsm_key_refresh_unlocked(key);
    if (ret != HSMSSP_OK)
        goto cleanup;
    *key_out = key;
    key = NULL;
cleanup:
    if (key != NULL)
        key_release(key, false);
    return ret;
}

void
hsm_key_free(hsm_key *key)
{
    if (key != NULL)
        key_release(key, false);
}

hsmssp_err
hsm_key_destroy(hsm_key *key)
{
    if (key == NULL)
        return HSMSSP_OK;
    if (key->pid != getpid() && !key->persistent)
        return BASE_ERR0(HSMSSP_ERR_FORKED);
    /* After a recovery or fork the handles are stale: look the persistent
     * objects up again so that they, not dead handles, are destroyed. */
    if (key->persistent && (key->pid != getpid() ||
                            key->gen != hsm_token_generation(key->tok))) {
        hsmssp_err ret = hsm_key_refresh_unlocked(key);
        if (ret != HSMSSP_OK)
            return ret;
        key->pid = getpid();
    }
    key_release(key, true);
    return HSMSSP_OK;
}

int32_t
hsm_key_etype(const hsm_key *key)
{
    return key->etype;
}

hsm_token *
hsm_key_token(const hsm_key *key)
{
    return key->tok;
}

size_t
hsm_key_objects(hsm_key *key, unsigned long *handles, size_t max)
{
    hsm_token *tok = key->tok;
    size_t n = 0;

#define PUT(h)                                                             \
    do {                                                                   \
        if (n < max)                                                       \
            handles[n] = (unsigned long)(h);                               \
        n++;                                                               \
    } while (0)
    pthread_mutex_lock(&key->lock);
    PUT(key->base);
    for (size_t i = 0; i < key->n_stored; i++)
        PUT(key->stored[i].obj);
    for (size_t i = 0; i < key->n_own; i++)
        PUT(key->own[i].obj);
    pthread_mutex_unlock(&key->lock);
    pthread_mutex_lock(&tok->cache_lock);
    for (size_t i = 0; i < tok->cache.cap; i++) {
        hsm_cache_entry *e = &tok->cache.slots[i];
        if (e->used && e->key_serial == key->serial)
            PUT(e->obj);
    }
    pthread_mutex_unlock(&tok->cache_lock);
#undef PUT
    return n;
}
