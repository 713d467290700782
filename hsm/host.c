/*
 * hsm/host.c - what the token layer offers beyond the engine: object
 * enumeration for key stores, host digests and randomness for public
 * data, and the arrival-window operations on class S keys (hsm/hsm.h).
 *
 * The arrival-window calls are thin on purpose: they are the software
 * reference (hsm/krbsw.c) applied to key bytes the caller already holds
 * in a base_secret.  They exist as hsm/ calls, rather than the provider
 * using OpenSSL itself, so that every place where key bytes meet host
 * cryptography is in this folder and listed in docs/key-exposure.md.
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/hsm-int.h"
#include "hsm/krbsw.h"

static CK_OBJECT_CLASS class_secret = CKO_SECRET_KEY;

bool
hsm_token_persistent(hsm_token *tok)
{
    return tok->ident.persistent_objects;
}

/* Reads CKA_ID and CKA_LABEL of obj into id (cap HSM_ID_MAX + 8) and
 * label (cap 256, NUL-terminated).  Objects whose attributes do not fit
 * are reported with an empty id, so callers skip them. */
static CK_RV
read_id_label(hsm_token *tok, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
              uint8_t *id, size_t *id_len, char *label)
{
    CK_ATTRIBUTE a[2] = {{CKA_ID, NULL, 0}, {CKA_LABEL, NULL, 0}};
    CK_RV rv;

    *id_len = 0;
    label[0] = '\0';
    rv = P11(tok, C_GetAttributeValue, h, obj, a, 2);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID)
        return rv;
    if (a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION ||
        a[0].ulValueLen > HSM_ID_MAX + 8)
        a[0].ulValueLen = 0;
    if (a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION ||
        a[1].ulValueLen > 255)
        a[1].ulValueLen = 0;
    a[0].pValue = id;
    a[1].pValue = label;
    rv = P11(tok, C_GetAttributeValue, h, obj, a, 2);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID)
        return rv;
    if (a[0].ulValueLen != CK_UNAVAILABLE_INFORMATION)
        *id_len = a[0].ulValueLen;
    if (a[1].ulValueLen != CK_UNAVAILABLE_INFORMATION)
        label[a[1].ulValueLen] = '\0';
    return CKR_OK;
}

/* One pass over the objects of one CKA_TOKEN value. */
static hsmssp_err
list_pass(hsm_token *tok, hsm_sess *s, bool token_objects,
          const uint8_t *prefix, size_t prefix_len, size_t *seen,
          size_t max_objects, hsm_id_fn fn, void *arg, bool *stop)
{
    CK_BBOOL tv = token_objects ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &class_secret, sizeof(class_secret)},
        {CKA_TOKEN, &tv, sizeof(tv)},
    };
    CK_OBJECT_HANDLE objs[32];
    CK_ULONG count = 0;
    uint8_t id[HSM_ID_MAX + 8];
    char label[256];
    size_t id_len;
    hsmssp_err ret = HSMSSP_OK;
    CK_RV rv;

    rv = P11(tok, C_FindObjectsInit, s->h, t, BASE_ARRAY_LEN(t));
    if (rv != CKR_OK)
        return hsm_rv(rv, "C_FindObjectsInit");
    /* Attributes are read while the search is active: PKCS#11 allows
     * C_GetAttributeValue on a session with a find in progress, and a
     * second pass would be needed otherwise. */
    while (!*stop) {
        rv = P11(tok, C_FindObjects, s->h, objs, BASE_ARRAY_LEN(objs),
                 &count);
        if (rv != CKR_OK || count == 0)
            break;
        for (CK_ULONG i = 0; i < count && !*stop; i++) {
            if (++*seen > max_objects) {
                ret = BASE_ERR(HSMSSP_ERR_LIMIT,
                               "token holds more than %zu secret keys",
                               max_objects);
                *stop = true;
                break;
            }
            rv = read_id_label(tok, s->h, objs[i], id, &id_len, label);
            if (rv == CKR_OBJECT_HANDLE_INVALID)
                continue; /* destroyed by someone else meanwhile */
            if (rv != CKR_OK)
                break;
            if (id_len < prefix_len ||
                (prefix_len > 0 && memcmp(id, prefix, prefix_len) != 0))
                continue;
            if (!fn(arg, id, id_len, label))
                *stop = true;
        }
        if (rv != CKR_OK)
            break;
    }
    {
        CK_RV rv2 = P11(tok, C_FindObjectsFinal, s->h);
        if (rv == CKR_OK)
            rv = rv2;
    }
    if (ret == HSMSSP_OK && rv != CKR_OK)
        ret = hsm_rv(rv, "C_FindObjects");
    return ret;
}

hsmssp_err
hsm_key_list(hsm_token *tok, const uint8_t *prefix, size_t prefix_len,
             bool session, size_t max_objects, hsm_id_fn fn, void *arg)
{
    hsm_sess *s = NULL;
    size_t seen = 0;
    bool stop = false;
    hsmssp_err ret;

    if (tok == NULL || fn == NULL || (prefix == NULL && prefix_len > 0))
        return BASE_ERR0(HSMSSP_ERR_INVALID_ARGUMENT);
    ret = hsm_session_get(tok, &s);
    if (ret != HSMSSP_OK)
        return ret;
    if (tok->ident.persistent_objects)
        ret = list_pass(tok, s, true, prefix, prefix_len, &seen, max_objects,
                        fn, arg, &stop);
    if (ret == HSMSSP_OK && session && !stop)
        ret = list_pass(tok, s, false, prefix, prefix_len, &seen,
                        max_objects, fn, arg, &stop);
    hsm_session_put(tok, s,
                    ret != HSMSSP_OK &&
                        hsmssp_err_category_of(ret) == HSMSSP_CAT_TOKEN);
    return ret;
}

hsmssp_err
hsm_digest(const char *name, const uint8_t *in, size_t len, uint8_t *out,
           size_t *out_len)
{
    return krbsw_digest(name, in, len, out, out_len);
}

hsmssp_err
hsm_random(uint8_t *out, size_t n)
{
    return krbsw_random(out, n);
}

/* The arrival window uses the enctypes the engine knows, with the key
 * length the enctype fixes: a wrong length is a protocol error (a peer
 * sent a malformed key), not a usage error. */
static hsmssp_err
check_arrival_key(int32_t etype, const base_secret *key)
{
    size_t kl = hsm_etype_keylen(etype);

    if (kl == 0)
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE, "enctype %d",
                        (int)etype);
    if (key == NULL || key->len != kl)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s key of %zu bytes, expected %zu",
                        hsm_etype_name(etype), key ? key->len : 0, kl);
    return HSMSSP_OK;
}

hsmssp_err
hsm_arrival_decrypt(int32_t etype, const base_secret *key, int32_t usage,
                    const uint8_t *in, size_t in_len,
                    base_secret **plain_out)
{
    base_secret *plain = NULL;
    size_t n = 0;
    hsmssp_err ret;

    *plain_out = NULL;
    ret = check_arrival_key(etype, key);
    if (ret != HSMSSP_OK)
        return ret;
    /* The plaintext is never longer than the ciphertext. */
    ret = base_secret_new(0, in_len > 0 ? in_len : 1, &plain);
    if (ret != HSMSSP_OK)
        return ret;
    ret = krbsw_decrypt(etype, key->data, usage, in, in_len, plain->data,
                        &n);
    if (ret != HSMSSP_OK) {
        base_secret_free(plain);
        return ret;
    }
    plain->len = n;
    *plain_out = plain;
    return HSMSSP_OK;
}

hsmssp_err
hsm_arrival_encrypt(int32_t etype, const base_secret *key, int32_t usage,
                    const uint8_t *in, size_t in_len, uint8_t *out,
                    size_t out_cap, size_t *out_len)
{
    size_t need;
    hsmssp_err ret;

    *out_len = 0;
    ret = check_arrival_key(etype, key);
    if (ret == HSMSSP_OK)
        ret = krbsw_enc_len(etype, in_len, &need);
    if (ret != HSMSSP_OK)
        return ret;
    if (out_cap < need)
        return BASE_ERR0(HSMSSP_ERR_BUFFER_TOO_SMALL);
    return krbsw_encrypt(etype, key->data, usage, NULL, in, in_len, out,
                         out_len);
}

hsmssp_err
hsm_arrival_random_key(int32_t etype, base_secret **key_out)
{
    size_t kl = hsm_etype_keylen(etype);
    base_secret *k = NULL;
    hsmssp_err ret;

    *key_out = NULL;
    if (kl == 0)
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE, "enctype %d",
                        (int)etype);
    ret = base_secret_new(kl, kl, &k);
    if (ret == HSMSSP_OK)
        ret = krbsw_random(k->data, kl);
    if (ret != HSMSSP_OK) {
        base_secret_free(k);
        return ret;
    }
    *key_out = k;
    return HSMSSP_OK;
}

hsmssp_err
hsm_string_to_key(int32_t etype, const char *password, size_t pwlen,
                  const uint8_t *salt, size_t saltlen, const uint8_t *params,
                  size_t params_len, base_secret **key_out)
{
    *key_out = NULL;
    if (password == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no password");
    return krbsw_string_to_key(etype, password, pwlen, salt, saltlen, params,
                               params_len, key_out);
}

hsmssp_err
hsm_object_destroy_id(hsm_token *tok, const uint8_t *id, size_t id_len,
                      size_t *n_out)
{
    static CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE a[] = {
        {CKA_CLASS, &class_secret, sizeof(class_secret)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_ID, (void *)id, id_len},
    };
    CK_OBJECT_HANDLE objs[16];
    CK_ULONG count = 0;
    hsm_sess *s = NULL;
    hsmssp_err ret;
    CK_RV rv;

    *n_out = 0;
    if (id == NULL || id_len == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no CKA_ID given");
    ret = hsm_session_get(tok, &s);
    if (ret != HSMSSP_OK)
        return ret;
    /* Collect first, destroy after C_FindObjectsFinal: destroying during
     * a search is undefined for some tokens. */
    rv = P11(tok, C_FindObjectsInit, s->h, a, BASE_ARRAY_LEN(a));
    if (rv == CKR_OK) {
        CK_RV rv2;

        rv = P11(tok, C_FindObjects, s->h, objs, BASE_ARRAY_LEN(objs),
                 &count);
        rv2 = P11(tok, C_FindObjectsFinal, s->h);
        if (rv == CKR_OK)
            rv = rv2;
    }
    hsm_session_put(tok, s, rv != CKR_OK);
    if (rv != CKR_OK)
        return hsm_rv(rv, "C_FindObjects");
    for (CK_ULONG i = 0; i < count; i++)
        hsm_obj_destroy(tok, objs[i]);
    *n_out = count;
    return HSMSSP_OK;
}
