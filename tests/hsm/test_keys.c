/*
 * tests/hsm/test_keys.c - what the objects of a key look like and how
 * keys are found, on SoftHSM2 and NSS softoken:
 *
 * - CKA_ALLOWED_MECHANISMS and the usage flags of every object kind the
 *   project creates (base key per etype and plan, Ke, Ki, Kc, the
 *   RC4-HMAC K1 and Ksign, the stored per-usage keys of H(import)), read
 *   back from the token and compared with exactly what the token's plan
 *   uses;
 * - hsm_key_find_uri(): by id=, by object= label, ambiguous, none,
 *   another token, another object type, PIN attributes, malformed URIs;
 * - the RFC 3962 aes-cbc-cts vectors through the engine's CTS paths on
 *   the tokens (SoftHSM2: CBC + ECB composed; NSS softoken: CKM_AES_CTS
 *   in CS1 order, reordered), both directions, plus random IVs and
 *   lengths against the software reference.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "hsm/hsm-int.h"
#include "hsm/krbsw.h"

/* The RC4-HMAC cache roles of hsm/engine.c. */
#define ROLE_RC4_K1 0x01
#define ROLE_RC4_KSIGN 0x02

static hsm_token *toks[2];

static hsm_token *
tok_of(tu_token_kind kind)
{
    if (toks[kind] == NULL)
        toks[kind] = tu_token_open(kind, 0);
    return toks[kind];
}

static int
teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        hsm_token_close(toks[i]);
        toks[i] = NULL;
    }
    return 0;
}

static hsm_key *
import(hsm_token *tok, int32_t etype, bool persistent, const char *id,
       const char *label, uint32_t seed)
{
    hsm_key_spec spec;
    base_secret *kb = NULL;
    hsm_key *key = NULL;
    size_t len = hsm_etype_keylen(etype);

    memset(&spec, 0, sizeof(spec));
    spec.etype = etype;
    spec.key_class = HSM_KEY_LONG_TERM;
    spec.persistent = persistent;
    if (id != NULL) {
        spec.id = (const uint8_t *)id;
        spec.id_len = strlen(id);
    }
    spec.label = label;
    TU_OK(base_secret_new(len, len, &kb));
    tu_fill(kb->data, len, seed);
    TU_OK(hsm_key_import(tok, &spec, kb, &key));
    base_secret_free(kb);
    return key;
}

/* ---- CKA_ALLOWED_MECHANISMS ------------------------------------------ */

typedef struct obj_attrs {
    CK_MECHANISM_TYPE mechs[16];
    size_t n_mechs;
    bool have_mechs; /* the token returned the attribute */
    CK_BBOOL encrypt, decrypt, sign, derive;
} obj_attrs;

static void
read_attrs(hsm_token *tok, CK_OBJECT_HANDLE h, obj_attrs *o)
{
    hsm_sess *s = NULL;
    CK_ATTRIBUTE flags[] = {
        {CKA_ENCRYPT, &o->encrypt, sizeof(CK_BBOOL)},
        {CKA_DECRYPT, &o->decrypt, sizeof(CK_BBOOL)},
        {CKA_SIGN, &o->sign, sizeof(CK_BBOOL)},
        {CKA_DERIVE, &o->derive, sizeof(CK_BBOOL)},
    };
    CK_ATTRIBUTE m = {CKA_ALLOWED_MECHANISMS, o->mechs, sizeof(o->mechs)};
    CK_RV rv;

    memset(o, 0, sizeof(*o));
    TU_OK(hsm_session_get(tok, &s));
    rv = tok->fl->C_GetAttributeValue(s->h, h, flags, BASE_ARRAY_LEN(flags));
    assert_int_equal(rv, CKR_OK);
    rv = tok->fl->C_GetAttributeValue(s->h, h, &m, 1);
    hsm_session_put(tok, s, false);
    o->have_mechs = rv == CKR_OK && m.ulValueLen != (CK_ULONG)-1;
    if (o->have_mechs)
        o->n_mechs = m.ulValueLen / sizeof(CK_MECHANISM_TYPE);
}

/* Flags of an expected object: E encrypt, D decrypt, S sign, V derive. */
static void
expect_obj(hsm_token *tok, CK_OBJECT_HANDLE h, const char *what,
           const char *flags, const CK_MECHANISM_TYPE *want, size_t n_want)
{
    obj_attrs o;

    read_attrs(tok, h, &o);
    if ((o.encrypt == CK_TRUE) != (strchr(flags, 'E') != NULL) ||
        (o.decrypt == CK_TRUE) != (strchr(flags, 'D') != NULL) ||
        (o.sign == CK_TRUE) != (strchr(flags, 'S') != NULL) ||
        (o.derive == CK_TRUE) != (strchr(flags, 'V') != NULL))
        fail_msg("%s on %s: flags E%d D%d S%d V%d, want %s", what,
                 tok->ident.label, o.encrypt, o.decrypt, o.sign, o.derive,
                 flags);
    if (!tok->caps.allowed_mechanisms)
        return; /* the token does not keep the attribute */
    if (!o.have_mechs)
        fail_msg("%s on %s: no CKA_ALLOWED_MECHANISMS", what,
                 tok->ident.label);
    /* The same set: same size, every wanted one present. */
    if (o.n_mechs != n_want)
        fail_msg("%s on %s: %zu allowed mechanisms, want %zu", what,
                 tok->ident.label, o.n_mechs, n_want);
    for (size_t i = 0; i < n_want; i++) {
        bool found = false;
        for (size_t j = 0; j < o.n_mechs; j++)
            found |= o.mechs[j] == want[i];
        if (!found)
            fail_msg("%s on %s: mechanism 0x%lx not allowed", what,
                     tok->ident.label, (unsigned long)want[i]);
    }
}

static CK_MECHANISM_TYPE
hmac_of(int32_t etype)
{
    switch (etype) {
    case HSM_ETYPE_AES128_SHA256:
        return CKM_SHA256_HMAC;
    case HSM_ETYPE_AES256_SHA384:
        return CKM_SHA384_HMAC;
    case HSM_ETYPE_RC4_HMAC:
        return CKM_MD5_HMAC;
    default:
        return CKM_SHA_1_HMAC;
    }
}

/* Checks every object of a key after an encrypt, decrypt and checksum
 * made it derive (or use) its per-usage keys. */
static int
check_key_objects(hsm_token *tok, hsm_key *key)
{
    const hsm_etype_plan *plan = hsm_plan(tok, key->etype);
    int32_t etype = key->etype;
    CK_MECHANISM_TYPE ke[2], base[2], mac[2];
    size_t n_base = 0;
    const char *base_flags = "V";
    int checked = 0;

    /* Ke: the CTS path of this token only. */
    if (plan->cts == HSM_CTS_COMPOSED) {
        ke[0] = CKM_AES_CBC;
        ke[1] = CKM_AES_ECB;
    } else {
        ke[0] = CKM_AES_CTS;
        ke[1] = CKM_AES_CBC;
    }
    switch (etype) {
    case HSM_ETYPE_AES128_SHA1:
        base[n_base++] = CKM_AES_ECB_ENCRYPT_DATA;
        if (plan->mac_keylen > 16) { /* Z = D_K(0^16) */
            base[n_base++] = CKM_AES_ECB;
            base_flags = "DV";
        }
        break;
    case HSM_ETYPE_AES256_SHA1:
        base[n_base++] = CKM_AES_CBC_ENCRYPT_DATA;
        break;
    case HSM_ETYPE_AES128_SHA256:
    case HSM_ETYPE_AES256_SHA384:
        base[n_base++] = CKM_SP800_108_COUNTER_KDF;
        break;
    default:
        if (plan->derive == HSM_DERIVE_FEEDBACK_MD5) {
            base[n_base++] = CKM_SP800_108_FEEDBACK_KDF;
        } else {
            base[n_base++] = CKM_MD5_HMAC;
            base_flags = "S";
        }
        break;
    }
    expect_obj(tok, key->base, "base key", base_flags, base, n_base);
    checked++;

    mac[0] = hmac_of(etype);
    for (size_t i = 0; i < key->n_stored; i++) {
        hsm_stored_usage *su = &key->stored[i];
        if (su->role == KRBSW_ROLE_KE)
            expect_obj(tok, su->obj, "stored Ke", "ED", ke, 2);
        else
            expect_obj(tok, su->obj, "stored Ki/Kc", "S", mac, 1);
        checked++;
    }
    for (size_t i = 0; i < tok->cache.cap; i++) {
        hsm_cache_entry *e = &tok->cache.slots[i];
        if (!e->used || e->key_serial != key->serial)
            continue;
        switch (e->role) {
        case KRBSW_ROLE_KE:
            expect_obj(tok, e->obj, "derived Ke", "ED", ke, 2);
            break;
        case ROLE_RC4_K1:
            mac[1] = CKM_SP800_108_FEEDBACK_KDF;
            expect_obj(tok, e->obj, "RC4 K1", "SV", mac, 2);
            break;
        case ROLE_RC4_KSIGN:
            expect_obj(tok, e->obj, "RC4 Ksign", "S", mac, 1);
            break;
        default:
            expect_obj(tok, e->obj, "derived Ki/Kc", "S", mac, 1);
            break;
        }
        checked++;
    }
    return checked;
}

static void
allowed_on(tu_token_kind kind)
{
    static const int32_t et[] = {17, 18, 19, 20, 23};
    hsm_token *tok = tok_of(kind);
    uint8_t msg[40], ct[128], pt[128], ck[64];
    size_t clen, plen, cklen;
    int objects = 0;

    if (kind == TU_SOFTHSM)
        assert_true(tok->caps.allowed_mechanisms);
    /* etype 23 runs on SoftHSM2 only at H(op). */
    hsm_token_set_policy(tok, HSM_POLICY_ALLOW_HOST_OP_KRB);
    tu_fill(msg, sizeof(msg), 3);
    for (size_t e = 0; e < BASE_ARRAY_LEN(et); e++) {
        hsm_key *key = import(tok, et[e], false, NULL, NULL, 70 + (uint32_t)e);
        TU_OK(hsm_krb_encrypt(key, 2, msg, sizeof(msg), ct, sizeof(ct),
                              &clen));
        TU_OK(hsm_krb_decrypt(key, 2, ct, clen, pt, sizeof(pt), &plen));
        TU_OK(hsm_krb_checksum(key, 17, msg, sizeof(msg), ck, sizeof(ck),
                               &cklen));
        objects += check_key_objects(tok, key);
        hsm_key_free(key);
    }
    hsm_token_set_policy(tok, 0);
    print_message("%s: %d objects checked (CKA_ALLOWED_MECHANISMS %s)\n",
                  tu_token_name(kind), objects,
                  tok->caps.allowed_mechanisms ? "stored" : "not kept");
    /* 5 base keys; 17/18 and RFC 8009 (derived or stored) each have
     * Ke, Ki (usage 2) and Kc (usage 17). */
    assert_true(objects >= 5 + 4 * 3);
}

static void
test_allowed_mechanisms_softhsm(void **state)
{
    (void)state;
    allowed_on(TU_SOFTHSM);
    /* SoftHSM2's plans: composed CTS, host-derived RFC 8009 keys, and
     * the H(op) RC4 plan whose base key only signs. */
    assert_int_equal(hsm_plan(tok_of(TU_SOFTHSM), 18)->cts,
                     HSM_CTS_COMPOSED);
    assert_int_equal(hsm_plan(tok_of(TU_SOFTHSM), 19)->derive,
                     HSM_DERIVE_HOST_IMPORT);
    assert_int_equal(hsm_plan(tok_of(TU_SOFTHSM), 23)->derive,
                     HSM_DERIVE_HOST_OP);
}

static void
test_allowed_mechanisms_nss(void **state)
{
    (void)state;
    allowed_on(TU_NSS);
}

/* A persistent key's objects carry the same lists: the stored per-usage
 * keys of an H(import) import on SoftHSM2, found again by CKA_ID. */
static void
test_allowed_mechanisms_persistent(void **state)
{
    hsm_token *tok = tok_of(TU_SOFTHSM);
    char id[64];
    hsm_key *key, *found = NULL;

    (void)state;
    for (int32_t etype = 17; etype <= 20; etype++) {
        snprintf(id, sizeof(id), "allowed-%ld-%d", (long)getpid(),
                 (int)etype);
        key = import(tok, etype, true, id, id, 90 + (uint32_t)etype);
        hsm_key_free(key);
        TU_OK(hsm_key_find(tok, etype, (const uint8_t *)id, strlen(id),
                           &found));
        assert_int_equal(check_key_objects(tok, found),
                         etype >= 19 ? 8 : 1);
        TU_OK(hsm_key_destroy(found));
    }
}

/* ---- hsm_key_find_uri ------------------------------------------------- */

/* Percent-encodes bytes for an id= attribute. */
static void
pct(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p != '\0' && o + 4 < cap; p++)
        o += (size_t)snprintf(out + o, cap - o, "%%%02x",
                              (unsigned char)*p);
    out[o] = '\0';
}

/* Encrypts with one key and decrypts with the other: the same key. */
static void
same_key(hsm_key *a, hsm_key *b)
{
    uint8_t msg[33], ct[128], pt[128];
    size_t clen, plen;

    tu_fill(msg, sizeof(msg), 11);
    TU_OK(hsm_krb_encrypt(a, 3, msg, sizeof(msg), ct, sizeof(ct), &clen));
    TU_OK(hsm_krb_decrypt(b, 3, ct, clen, pt, sizeof(pt), &plen));
    assert_int_equal(plen, sizeof(msg));
    assert_memory_equal(pt, msg, sizeof(msg));
}

static void
test_find_uri(void **state)
{
    hsm_token *tok = tok_of(TU_SOFTHSM);
    char ida[64], idb[64], idc[64], idh[64], la[96], ldup[96], lh[96];
    char uri[512], enc[256];
    hsm_key *a, *b, *c, *h, *f = NULL;
    long me = (long)getpid();

    (void)state;
    snprintf(ida, sizeof(ida), "uri-a-%ld", me);
    snprintf(idb, sizeof(idb), "uri-b-%ld", me);
    snprintf(idc, sizeof(idc), "uri-c-%ld", me);
    snprintf(idh, sizeof(idh), "uri-h-%ld", me);
    snprintf(la, sizeof(la), "uri test %ld a", me);
    snprintf(ldup, sizeof(ldup), "uri test %ld dup", me);
    snprintf(lh, sizeof(lh), "uri test %ld h", me);
    a = import(tok, 18, true, ida, la, 1);
    b = import(tok, 18, true, idb, ldup, 2);
    c = import(tok, 18, true, idc, ldup, 3);
    h = import(tok, 19, true, idh, lh, 4); /* H(import): 8 objects */

    /* By id=. */
    pct(ida, enc, sizeof(enc));
    snprintf(uri, sizeof(uri), "pkcs11:id=%s", enc);
    TU_OK(hsm_key_find_uri(tok, 18, uri, &f));
    same_key(a, f);
    same_key(f, a);
    hsm_key_free(f);
    /* By object= (the label; spaces percent-encoded), with the token
     * named and the type given. */
    snprintf(uri, sizeof(uri),
             "pkcs11:token=%s;object=uri%%20test%%20%ld%%20a;type=secret-key",
             TU_SOFTHSM_TOKEN, me);
    TU_OK(hsm_key_find_uri(tok, 18, uri, &f));
    same_key(a, f);
    hsm_key_free(f);
    /* id= and object= together narrow to one of the duplicates. */
    pct(idc, enc, sizeof(enc));
    snprintf(uri, sizeof(uri), "pkcs11:object=uri%%20test%%20%ld%%20dup;id=%s",
             me, enc);
    TU_OK(hsm_key_find_uri(tok, 18, uri, &f));
    same_key(c, f);
    hsm_key_free(f);
    /* The label alone of two keys: ambiguous, with the count. */
    f = (hsm_key *)1;
    snprintf(uri, sizeof(uri), "pkcs11:object=uri%%20test%%20%ld%%20dup", me);
    TU_ERR(hsm_key_find_uri(tok, 18, uri, &f), HSMSSP_ERR_INVALID_ARGUMENT);
    assert_null(f);
    assert_non_null(strstr(hsmssp_last_error_detail(),
                           "URI matches 2 objects"));
    /* None. */
    snprintf(uri, sizeof(uri), "pkcs11:object=uri%%20test%%20%ld%%20none",
             me);
    TU_ERR(hsm_key_find_uri(tok, 18, uri, &f), HSMSSP_ERR_KEY_NOT_FOUND);
    /* Another object type matches nothing. */
    snprintf(uri, sizeof(uri),
             "pkcs11:object=uri%%20test%%20%ld%%20a;type=private", me);
    TU_ERR(hsm_key_find_uri(tok, 18, uri, &f), HSMSSP_ERR_KEY_NOT_FOUND);
    /* Another token, another module. */
    snprintf(uri, sizeof(uri),
             "pkcs11:token=not-%s;object=uri%%20test%%20%ld%%20a",
             TU_SOFTHSM_TOKEN, me);
    TU_ERR(hsm_key_find_uri(tok, 18, uri, &f), HSMSSP_ERR_NO_TOKEN);
    snprintf(uri, sizeof(uri),
             "pkcs11:library-manufacturer=Nobody;object=uri%%20test%%20%ld"
             "%%20a",
             me);
    TU_ERR(hsm_key_find_uri(tok, 18, uri, &f), HSMSSP_ERR_NO_TOKEN);
    /* The wrong etype for the object found. */
    snprintf(uri, sizeof(uri), "pkcs11:object=uri%%20test%%20%ld%%20a", me);
    TU_ERR(hsm_key_find_uri(tok, 19, uri, &f), HSMSSP_ERR_INVALID_ARGUMENT);
    /* PIN attributes are ignored and never reach a message. */
    snprintf(uri, sizeof(uri),
             "pkcs11:object=uri%%20test%%20%ld%%20a?pin-value=77665544", me);
    TU_OK(hsm_key_find_uri(tok, 18, uri, &f));
    hsm_key_free(f);
    snprintf(uri, sizeof(uri),
             "pkcs11:object=uri%%20test%%20%ld%%20none?pin-value=77665544",
             me);
    TU_ERR(hsm_key_find_uri(tok, 18, uri, &f), HSMSSP_ERR_KEY_NOT_FOUND);
    assert_null(strstr(hsmssp_last_error_detail(), "77665544"));
    /* Malformed and unknown. */
    TU_ERR(hsm_key_find_uri(tok, 18, "http://x/?pin-value=77665544", &f),
           HSMSSP_ERR_BAD_URI);
    assert_null(strstr(hsmssp_last_error_detail(), "77665544"));
    TU_ERR(hsm_key_find_uri(tok, 18, "pkcs11:flavour=vanilla", &f),
           HSMSSP_ERR_BAD_URI);
    TU_ERR(hsm_key_find_uri(tok, 18, NULL, &f), HSMSSP_ERR_INVALID_ARGUMENT);

    /* An H(import) key: the label names the base key only, and the key
     * found brings its stored per-usage objects along. */
    snprintf(uri, sizeof(uri), "pkcs11:object=uri%%20test%%20%ld%%20h", me);
    TU_OK(hsm_key_find_uri(tok, 19, uri, &f));
    assert_int_equal(f->n_stored, 7);
    same_key(h, f);
    same_key(f, h);
    hsm_key_free(f);

    TU_OK(hsm_key_destroy(a));
    TU_OK(hsm_key_destroy(b));
    TU_OK(hsm_key_destroy(c));
    TU_OK(hsm_key_destroy(h));
    snprintf(uri, sizeof(uri), "pkcs11:object=uri%%20test%%20%ld%%20a", me);
    TU_ERR(hsm_key_find_uri(tok, 18, uri, &f), HSMSSP_ERR_KEY_NOT_FOUND);
}

/* ---- RFC 3962 CTS vectors on the tokens ------------------------------- */

static void
cts_on(tu_token_kind kind)
{
    hsm_token *tok = tok_of(kind);
    json_t *j = tu_vectors("rfc3962.json");
    json_t *cases = json_object_get(j, "cases"), *c;
    size_t i;
    int vectors = 0, random_cases = 0;

    json_array_foreach(cases, i, c)
    {
        const char *k = json_string_value(json_object_get(c, "kind"));
        size_t klen, ivlen, inlen, outlen;
        uint8_t *key, *iv, *in, *out, got[128];
        base_secret *ks = NULL;
        int32_t etype;

        if (k == NULL || strcmp(k, "aes-cbc-cts") != 0)
            continue;
        key = tu_json_hex(c, "key", &klen);
        iv = tu_json_hex(c, "iv", &ivlen);
        in = tu_json_hex(c, "input", &inlen);
        out = tu_json_hex(c, "output", &outlen);
        assert_true(key && iv && in && out);
        assert_int_equal(ivlen, 16);
        assert_int_equal(inlen, outlen);
        assert_true(inlen <= sizeof(got));
        etype = klen == 16 ? HSM_ETYPE_AES128_SHA1 : HSM_ETYPE_AES256_SHA1;
        TU_OK(base_secret_from(key, klen, &ks));
        TU_OK(hsm_test_cts(tok, etype, ks, true, iv, in, inlen, got));
        assert_memory_equal(got, out, outlen);
        memset(got, 0, sizeof(got));
        TU_OK(hsm_test_cts(tok, etype, ks, false, iv, out, outlen, got));
        assert_memory_equal(got, in, inlen);
        base_secret_free(ks);
        free(key);
        free(iv);
        free(in);
        free(out);
        vectors++;
    }
    json_decref(j);
    assert_int_equal(vectors, 6);

    /* Random keys, IVs and lengths (one to five blocks) against the
     * software reference, for both key sizes. */
    for (int32_t etype = 17; etype <= 18; etype++) {
        size_t klen = hsm_etype_keylen(etype);
        for (size_t len = 16; len <= 80; len += 7) {
            uint8_t key[32], iv[16], ivc[16], in[80], want[80], got[80];
            base_secret *ks = NULL;
            tu_fill(key, sizeof(key), (uint32_t)(len * 3 + (size_t)etype));
            tu_fill(iv, sizeof(iv), (uint32_t)len);
            tu_fill(in, sizeof(in), (uint32_t)len + 1000);
            memcpy(ivc, iv, 16);
            TU_OK(krbsw_cts_encrypt(key, klen, ivc, in, len, want));
            TU_OK(base_secret_from(key, klen, &ks));
            TU_OK(hsm_test_cts(tok, etype, ks, true, iv, in, len, got));
            assert_memory_equal(got, want, len);
            TU_OK(hsm_test_cts(tok, etype, ks, false, iv, want, len, got));
            assert_memory_equal(got, in, len);
            base_secret_free(ks);
            random_cases++;
        }
    }
    print_message("%s: %d RFC 3962 vectors and %d random cases through %s\n",
                  tu_token_name(kind), vectors, random_cases,
                  hsm_plan(tok, 18)->cts == HSM_CTS_COMPOSED
                      ? "CTS composed from CBC and ECB"
                      : "CKM_AES_CTS");
}

static void
test_cts_vectors_softhsm(void **state)
{
    (void)state;
    /* SoftHSM2 2.6.1 has no CKM_AES_CTS: the composed path. */
    assert_int_equal(hsm_plan(tok_of(TU_SOFTHSM), 17)->cts,
                     HSM_CTS_COMPOSED);
    cts_on(TU_SOFTHSM);
}

static void
test_cts_vectors_nss(void **state)
{
    (void)state;
    /* NSS softoken's CKM_AES_CTS is CS1: the reordering path. */
    assert_int_equal(hsm_plan(tok_of(TU_NSS), 17)->cts, HSM_CTS_NATIVE_CS1);
    cts_on(TU_NSS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_mechanisms_softhsm),
        cmocka_unit_test(test_allowed_mechanisms_nss),
        cmocka_unit_test(test_allowed_mechanisms_persistent),
        cmocka_unit_test(test_find_uri),
        cmocka_unit_test(test_cts_vectors_softhsm),
        cmocka_unit_test(test_cts_vectors_nss),
    };
    /* As in test_token.c: keep NSS softoken mapped so that LeakSanitizer
     * does not report its process-lifetime allocations. */
    (void)dlopen(TU_NSS_MODULE, RTLD_NOW | RTLD_NODELETE);
    return cmocka_run_group_tests(tests, NULL, teardown);
}
