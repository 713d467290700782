/*
 * provider/kerberos/kerb_keystore.c - the labeling scheme of Kerberos
 * keys on the token and the operations on it (kerb_keystore.h).
 *
 * The CKA_ID carries everything a lookup needs, in binary so that an
 * exact C_FindObjects match finds one key without reading labels; the
 * principal's length is explicit so that a per-usage object's ID (the
 * key's ID plus five bytes) can never parse as a key of another name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/kerberos/kerb_keystore.h"

static const uint8_t id_magic[5] = {'k', 'r', 'b', '5', 0x01};

hsmssp_err
kerb_ks_make_id(const char *principal, uint32_t kvno, int32_t etype,
                uint8_t *id, size_t cap, size_t *len_out)
{
    size_t n = principal != NULL ? strlen(principal) : 0;

    *len_out = 0;
    if (n == 0 || n > KERB_KS_MAX_PRINCIPAL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "principal name of %zu bytes (1..%d allowed)", n,
                        KERB_KS_MAX_PRINCIPAL);
    if (cap < 15 + n)
        return BASE_ERR0(HSMSSP_ERR_BUFFER_TOO_SMALL);
    memcpy(id, id_magic, 5);
    base_store_be32(id + 5, (uint32_t)etype);
    base_store_be32(id + 9, kvno);
    id[13] = (uint8_t)(n >> 8);
    id[14] = (uint8_t)n;
    memcpy(id + 15, principal, n);
    *len_out = 15 + n;
    return HSMSSP_OK;
}

bool
kerb_ks_parse_id(const uint8_t *id, size_t len, kerb_ks_entry *out)
{
    size_t n;

    memset(out, 0, sizeof(*out));
    if (len < 16 || memcmp(id, id_magic, 5) != 0)
        return false;
    n = ((size_t)id[13] << 8) | id[14];
    /* Exact length: a per-usage object's ID is five bytes longer. */
    if (n == 0 || n > KERB_KS_MAX_PRINCIPAL || len != 15 + n ||
        memchr(id + 15, 0, n) != NULL)
        return false;
    out->etype = (int32_t)base_load_be32(id + 5);
    out->kvno = base_load_be32(id + 9);
    memcpy(out->principal, id + 15, n);
    out->principal[n] = '\0';
    return true;
}

void
kerb_ks_label(const kerb_ks_entry *e, char *label, size_t cap)
{
    const char *name = hsm_etype_name(e->etype);

    if (name != NULL)
        (void)snprintf(label, cap, "%s kvno %u %s", e->principal,
                       (unsigned)e->kvno, name);
    else
        (void)snprintf(label, cap, "%s kvno %u etype %d", e->principal,
                       (unsigned)e->kvno, (int)e->etype);
}

typedef struct list_state {
    const char *principal;
    kerb_ks_entry *v;
    size_t n, cap;
    hsmssp_err err;
} list_state;

static bool
list_one(void *arg, const uint8_t *id, size_t id_len, const char *label)
{
    list_state *st = arg;
    kerb_ks_entry e;

    (void)label;
    if (!kerb_ks_parse_id(id, id_len, &e))
        return true;
    if (st->principal != NULL && strcmp(st->principal, e.principal) != 0)
        return true;
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        kerb_ks_entry *v = realloc(st->v, cap * sizeof(*v));

        if (v == NULL) {
            st->err = BASE_ERR0(HSMSSP_ERR_NOMEM);
            return false;
        }
        st->v = v;
        st->cap = cap;
    }
    st->v[st->n++] = e;
    return true;
}

static int
entry_cmp(const void *a, const void *b)
{
    const kerb_ks_entry *x = a, *y = b;
    int c = strcmp(x->principal, y->principal);

    if (c != 0)
        return c;
    if (x->kvno != y->kvno)
        return x->kvno > y->kvno ? -1 : 1;
    return (x->etype > y->etype) - (x->etype < y->etype);
}

hsmssp_err
kerb_ks_list(hsm_token *tok, const char *principal,
             kerb_ks_entry **entries_out, size_t *n_out)
{
    list_state st = {.principal = principal};
    hsmssp_err ret;

    *entries_out = NULL;
    *n_out = 0;
    ret = hsm_key_list(tok, id_magic, sizeof(id_magic), false,
                       KERB_KS_MAX_OBJECTS, list_one, &st);
    if (ret == HSMSSP_OK)
        ret = st.err;
    if (ret != HSMSSP_OK) {
        free(st.v);
        return ret;
    }
    if (st.n > 1)
        qsort(st.v, st.n, sizeof(*st.v), entry_cmp);
    *entries_out = st.v;
    *n_out = st.n;
    return HSMSSP_OK;
}

hsmssp_err
kerb_ks_find(hsm_token *tok, const kerb_ks_entry *e, hsm_key **key_out)
{
    uint8_t id[KERB_KS_ID_MAX];
    size_t id_len;
    hsmssp_err ret;

    *key_out = NULL;
    ret = kerb_ks_make_id(e->principal, e->kvno, e->etype, id, sizeof(id),
                          &id_len);
    if (ret != HSMSSP_OK)
        return ret;
    ret = hsm_key_find(tok, e->etype, id, id_len, key_out);
    if (ret == HSMSSP_ERR_KEY_NOT_FOUND)
        return BASE_ERR(HSMSSP_ERR_KEY_NOT_FOUND, "%s kvno %u %s",
                        e->principal, (unsigned)e->kvno,
                        hsm_etype_name(e->etype) ? hsm_etype_name(e->etype)
                                                 : "unknown enctype");
    return ret;
}

hsmssp_err
kerb_ks_import(hsm_token *tok, const kerb_ks_entry *e, const base_secret *key,
               bool persistent, bool replace, hsm_key **key_out)
{
    uint8_t id[KERB_KS_ID_MAX];
    char label[320];
    size_t id_len;
    hsm_key *old = NULL, *k = NULL;
    hsm_key_spec spec;
    hsmssp_err ret;

    if (key_out != NULL)
        *key_out = NULL;
    ret = kerb_ks_make_id(e->principal, e->kvno, e->etype, id, sizeof(id),
                          &id_len);
    if (ret != HSMSSP_OK)
        return ret;
    kerb_ks_label(e, label, sizeof(label));
    if (persistent) {
        /* Duplicates would make lookups ambiguous: refuse, or remove the
         * old objects first when asked to replace them. */
        ret = hsm_key_find(tok, e->etype, id, id_len, &old);
        if (ret == HSMSSP_OK) {
            if (!replace) {
                hsm_key_free(old);
                return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                                "%s is already on the token (use "
                                "--replace)",
                                label);
            }
            ret = hsm_key_destroy(old);
            if (ret != HSMSSP_OK)
                return ret;
        } else if (ret != HSMSSP_ERR_KEY_NOT_FOUND) {
            return ret;
        }
    }
    memset(&spec, 0, sizeof(spec));
    spec.etype = e->etype;
    spec.key_class = HSM_KEY_LONG_TERM;
    spec.persistent = persistent;
    spec.id = id;
    spec.id_len = id_len;
    spec.label = label;
    ret = hsm_key_import(tok, &spec, key, &k);
    if (ret != HSMSSP_OK)
        return ret;
    if (key_out != NULL)
        *key_out = k;
    else
        hsm_key_free(k);
    return HSMSSP_OK;
}

hsmssp_err
kerb_ks_remove(hsm_token *tok, const char *principal, int64_t kvno,
               size_t *n_out)
{
    kerb_ks_entry *v = NULL;
    size_t n = 0, removed = 0;
    hsm_key *k = NULL;
    hsmssp_err ret;

    *n_out = 0;
    ret = kerb_ks_list(tok, principal, &v, &n);
    for (size_t i = 0; ret == HSMSSP_OK && i < n; i++) {
        if (kvno >= 0 && v[i].kvno != (uint64_t)kvno)
            continue;
        ret = kerb_ks_find(tok, &v[i], &k);
        if (ret == HSMSSP_OK)
            ret = hsm_key_destroy(k);
        if (ret == HSMSSP_OK)
            removed++;
    }
    free(v);
    *n_out = removed;
    if (ret == HSMSSP_OK && removed == 0)
        return BASE_ERR(HSMSSP_ERR_KEY_NOT_FOUND, "no key of %s%s",
                        principal, kvno >= 0 ? " with that kvno" : "");
    return ret;
}
