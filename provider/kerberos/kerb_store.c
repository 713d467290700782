/*
 * provider/kerberos/kerb_store.c - TGTs kept for other processes
 * (`hsmssp kinit`, `klist`, `kdestroy`).
 *
 * A stored TGT has two halves that must come and go together:
 *   - the ticket file (kerb_tktfile.h): the Ticket and its public
 *     metadata, in a 0600 file of a 0700 directory; it holds no key;
 *   - the session key: a persistent token object (CKA_TOKEN, sensitive,
 *     non-extractable, labelled "TGT <client> for <server> until <time>")
 *     whose CKA_ID the file records and which encodes an upper bound of
 *     the ticket's end time.
 * Order of operations, so that a crash leaves at worst an expired object
 * a later sweep removes, never a file pointing nowhere:
 *   kinit:    import the new key object, write the file (atomic rename),
 *             then destroy the object of the ticket it replaced;
 *   destroy:  remove the file, then the object;
 *   load:     an expired ticket (or one whose object is gone) is removed
 *             on sight.
 * Every kinit and kdestroy also sweeps the token's stored-TGT objects
 * whose encoded end time has passed (files deleted by hand, crashes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/kerberos/kerb-int.h"

/* Objects examined by one sweep, at most. */
#define SWEEP_MAX_OBJECTS 65536

static int64_t
now_s(void)
{
    return prov_now_us() / 1000000;
}

/* Whether the entry was stored with this token (label and serial). */
static bool
same_token(hsm_token *tok, const kerb_tktfile_entry *e)
{
    hsm_token_ident id;

    hsm_token_identity(tok, &id);
    return strcmp(id.label, e->token_label) == 0 &&
           strcmp(id.serial, e->token_serial) == 0;
}

/* IDs collected by a walk of the token's stored-TGT objects. */
typedef struct id_list {
    int64_t before; /* sweep: keep the IDs whose end time is before this */
    const uint8_t *prefix; /* or: every ID starting with it */
    size_t prefix_len;
    size_t n, cap;
    uint8_t (*ids)[KERB_TKTFILE_MAX_KEY_ID];
    size_t *lens;
} id_list;

static bool
collect(void *argp, const uint8_t *id, size_t id_len, const char *label)
{
    id_list *l = argp;
    int64_t end = 0;

    (void)label;
    if (id_len > KERB_TKTFILE_MAX_KEY_ID || id_len < KERB_TKTFILE_KEY_ID_LEN)
        return true;
    if (l->prefix != NULL) {
        if (id_len < l->prefix_len || memcmp(id, l->prefix, l->prefix_len))
            return true;
    } else if (!kerb_tktfile_key_id_endtime(id, KERB_TKTFILE_KEY_ID_LEN,
                                            &end) ||
               end >= l->before) {
        /* A stored TGT's key is the 32-byte ID, its per-usage objects
         * (etypes 19/20 on some tokens) that ID plus usage and role: all
         * judged by the first 32 bytes. */
        return true;
    }
    if (l->n < l->cap) {
        memcpy(l->ids[l->n], id, id_len);
        l->lens[l->n++] = id_len;
    }
    return true;
}

/* Destroys the objects of the IDs the walk selected (the key and its
 * per-usage objects, whatever its enctype); *n_out counts the keys. */
static hsmssp_err
destroy_listed(hsm_token *tok, id_list *l, size_t *n_out)
{
    hsmssp_err ret;

    *n_out = 0;
    l->cap = 1024;
    l->ids = calloc(l->cap, sizeof(*l->ids));
    l->lens = calloc(l->cap, sizeof(*l->lens));
    if (l->ids == NULL || l->lens == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    ret = hsm_key_list(tok, (const uint8_t *)KERB_TKTFILE_ID_PREFIX,
                       KERB_TKTFILE_ID_PREFIX_LEN, false, SWEEP_MAX_OBJECTS,
                       collect, l);
    for (size_t i = 0; ret == HSMSSP_OK && i < l->n; i++) {
        size_t gone = 0;

        ret = hsm_object_destroy_id(tok, l->ids[i], l->lens[i], &gone);
        if (l->lens[i] == KERB_TKTFILE_KEY_ID_LEN)
            *n_out += gone;
    }
cleanup:
    free(l->ids);
    free(l->lens);
    return ret;
}

/* Destroys the stored key with this CKA_ID and its per-usage objects. */
static hsmssp_err
destroy_object(hsm_token *tok, const uint8_t *id, size_t id_len)
{
    id_list l;
    size_t n = 0;

    memset(&l, 0, sizeof(l));
    l.prefix = id;
    l.prefix_len = id_len;
    return destroy_listed(tok, &l, &n);
}

/* ---- sweeping --------------------------------------------------------- */

/* A key object is swept a day after the end time its ID names: a token
 * shared by hosts whose clocks disagree (a fast one, a VM resumed from a
 * snapshot) must not lose valid TGTs, and an expired session key is
 * harmless for a while. */
#define SWEEP_GRACE 86400

/* Removes every stored-TGT object whose encoded end time (plus the grace
 * period) has passed, with its per-usage objects. */
static hsmssp_err
sweep(hsm_token *tok, size_t *n_out)
{
    id_list l;
    hsmssp_err ret;

    memset(&l, 0, sizeof(l));
    l.before = now_s() - SWEEP_GRACE;
    ret = destroy_listed(tok, &l, n_out);
    if (*n_out > 0)
        base_log(HSMSSP_LOG_INFO, "kerberos",
                 "removed %zu expired stored TGT key(s) from the token",
                 *n_out);
    return ret;
}

/* ---- load ------------------------------------------------------------- */

static hsmssp_err
ticket_dir(prov_env *env, bool create, char **dir_out)
{
    return kerb_tktfile_dir(prov_env_config(env)->ticket_dir, create,
                            dir_out);
}

/* Removes a stored ticket: file first, then its object. */
static hsmssp_err
remove_entry(hsm_token *tok, const char *path, const kerb_tktfile_entry *e)
{
    hsmssp_err ret = kerb_tktfile_remove(path);

    if (ret == HSMSSP_OK && same_token(tok, e))
        ret = destroy_object(tok, e->key_id, e->key_id_len);
    return ret;
}

/* Removes the file at path only if it still names the key e names: a
 * kinit in another process may have replaced it since it was read. */
static void
remove_if_unchanged(hsm_token *tok, const char *path,
                    const kerb_tktfile_entry *e, bool with_object)
{
    kerb_tktfile_entry now;

    memset(&now, 0, sizeof(now));
    if (kerb_tktfile_read(path, &now) == HSMSSP_OK &&
        now.key_id_len == e->key_id_len &&
        memcmp(now.key_id, e->key_id, e->key_id_len) == 0) {
        if (with_object)
            (void)remove_entry(tok, path, e);
        else if (kerb_tktfile_remove(path) != HSMSSP_OK)
            base_log(HSMSSP_LOG_WARNING, "kerberos", "cannot remove %s: %s",
                     path, hsmssp_last_error_detail());
    }
    kerb_tktfile_entry_clear(&now);
}

hsmssp_err
kerb_store_load(prov_env *env, hsm_token *tok, const char *client,
                char **path_out, kerb_tkt **tgt_out)
{
    kerb_tktfile_entry e;
    char *dir = NULL, *path = NULL;
    kerb_tkt *t = NULL;
    hsmssp_err ret;

    if (path_out != NULL)
        *path_out = NULL;
    *tgt_out = NULL;
    memset(&e, 0, sizeof(e));
    ret = ticket_dir(env, false, &dir);
    if (ret == HSMSSP_OK)
        ret = kerb_tktfile_path(dir, client, &path);
    if (ret == HSMSSP_OK)
        ret = kerb_tktfile_load(dir, client, &e);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (!same_token(tok, &e)) {
        ret = BASE_ERR(HSMSSP_ERR_NO_TICKET,
                       "the stored TGT of %s belongs to token '%s' (serial "
                       "%s)",
                       client, e.token_label, e.token_serial);
        goto cleanup;
    }
    if (e.endtime <= now_s()) {
        remove_if_unchanged(tok, path, &e, true);
        ret = BASE_ERR(HSMSSP_ERR_NO_TICKET,
                       "the stored TGT of %s had expired and was removed",
                       client);
        goto cleanup;
    }
    ret = kerb_tkt_alloc(base_der_view(e.ticket, e.ticket_len), &t);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = hsm_key_find(tok, e.key_etype, e.key_id, e.key_id_len, &t->key);
    if (ret == HSMSSP_ERR_KEY_NOT_FOUND) {
        remove_if_unchanged(tok, path, &e, false);
        ret = BASE_ERR(HSMSSP_ERR_NO_TICKET,
                       "the stored TGT of %s had lost its key on the token "
                       "and was removed",
                       client);
    }
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(t->client, e.client, sizeof(t->client));
    memcpy(t->server, e.server, sizeof(t->server));
    t->flags = e.flags;
    t->authtime = e.authtime;
    t->starttime = e.starttime;
    t->endtime = e.endtime;
    t->renew_till = e.renew_till;
    t->etype = e.key_etype;
    memcpy(t->key_id, e.key_id, e.key_id_len);
    t->key_id_len = e.key_id_len;
    if (!kerb_tkt_is_tgt(t, NULL, NULL)) {
        ret = BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                       "the stored ticket of %s is for %s, not a TGT",
                       client, e.server);
        goto cleanup;
    }
    *tgt_out = t;
    t = NULL;
    if (path_out != NULL) {
        *path_out = path;
        path = NULL;
    }
cleanup:
    kerb_tkt_unref(t);
    kerb_tktfile_entry_clear(&e);
    free(dir);
    free(path);
    return ret;
}

/* ---- kinit ------------------------------------------------------------ */

hsmssp_err
kerb_store_kinit(prov_env *env, hsm_token *tok, const char *client,
                 char **path_out, kerb_tkt **tgt_out)
{
    const prov_config *cfg = prov_env_config(env);
    kerb_lt_key lt[KERB_MAX_LT_KEYS];
    size_t n_lt = 0, swept = 0;
    kerb_as_keys keys;
    kerb_import_opts imp;
    kerb_tktfile_entry e, old;
    hsm_token_ident ident;
    uint8_t id[KERB_TKTFILE_MAX_KEY_ID];
    size_t id_len = 0;
    char label[KERB_TKTFILE_KEY_LABEL_MAX];
    char *dir = NULL, *path = NULL;
    bool have_old = false;
    kerb_tkt *t = NULL;
    int64_t bound;
    hsmssp_err ret;

    *path_out = NULL;
    *tgt_out = NULL;
    memset(&e, 0, sizeof(e));
    memset(&old, 0, sizeof(old));
    hsm_token_identity(tok, &ident);
    if (!hsm_token_persistent(tok))
        return BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                        "token '%s' cannot store objects (NSS softoken "
                        "without a database?): a stored TGT needs its "
                        "session key kept on the token; acquire the "
                        "credential in the process that uses it instead",
                        ident.label);
    ret = kerb_lt_load(env, tok, client, lt, KERB_MAX_LT_KEYS, &n_lt);
    if (ret != HSMSSP_OK)
        return ret;
    if (n_lt == 0) {
        ret = BASE_ERR(HSMSSP_ERR_KEY_NOT_FOUND,
                       "no key of %s on token '%s' (import it with "
                       "'hsmssp keytab import' or 'hsmssp account import')",
                       client, ident.label);
        goto cleanup;
    }
    ret = ticket_dir(env, true, &dir);
    if (ret == HSMSSP_OK)
        ret = kerb_tktfile_path(dir, client, &path);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = kerb_tktfile_load(dir, client, &old);
    if (ret == HSMSSP_OK)
        have_old = true;
    else if (ret != HSMSSP_ERR_NO_TICKET)
        goto cleanup;

    /* The object's ID carries an upper bound of the end time (the KDC
     * never exceeds the requested lifetime), so a sweep can remove it even
     * if the file is lost. */
    bound = now_s() + cfg->ticket_lifetime + cfg->clock_skew;
    ret = kerb_tktfile_make_key_id(bound, id, sizeof(id), &id_len);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memset(&e, 0, sizeof(e));
    (void)snprintf(e.client, sizeof(e.client), "%s", client);
    {
        char realm[KERB_KS_MAX_PRINCIPAL + 1];

        kerb_name_realm(client, realm);
        /* The label's server; the ticket's own name replaces it in the
         * file.  Realms longer than 120 bytes are cut in the label only. */
        (void)snprintf(e.server, sizeof(e.server), "krbtgt/%.120s@%.120s",
                       realm, realm);
    }
    e.endtime = bound;
    kerb_tktfile_key_label(&e, label, sizeof(label));
    memset(&imp, 0, sizeof(imp));
    imp.persistent = true;
    imp.id = id;
    imp.id_len = id_len;
    imp.label = label;
    memset(&keys, 0, sizeof(keys));
    keys.keys = lt;
    keys.n_keys = n_lt;
    keys.cap_keys = KERB_MAX_LT_KEYS;
    ret = kerb_as_exchange(env, tok, client, NULL, &keys, &imp, NULL, &t);
    if (ret != HSMSSP_OK)
        goto cleanup;

    memcpy(e.client, t->client, sizeof(e.client));
    memcpy(e.server, t->server, sizeof(e.server));
    e.flags = t->flags;
    e.authtime = t->authtime;
    e.starttime = t->starttime;
    e.endtime = t->endtime;
    e.renew_till = t->renew_till;
    e.key_etype = t->etype;
    memcpy(e.key_id, id, id_len);
    e.key_id_len = id_len;
    (void)snprintf(e.token_label, sizeof(e.token_label), "%s", ident.label);
    (void)snprintf(e.token_serial, sizeof(e.token_serial), "%s",
                   ident.serial);
    e.ticket = t->ticket;
    e.ticket_len = t->ticket_len;
    ret = kerb_tktfile_write(path, &e);
    e.ticket = NULL; /* the ticket's, not the entry's */
    if (ret != HSMSSP_OK) {
        /* No file, so no object either. */
        kerb_tkt *gone = t;

        t = NULL;
        (void)destroy_object(tok, id, id_len);
        kerb_tkt_unref(gone);
        goto cleanup;
    }
    if (have_old && same_token(tok, &old) &&
        (old.key_id_len != id_len || memcmp(old.key_id, id, id_len) != 0))
        (void)destroy_object(tok, old.key_id, old.key_id_len);
    (void)sweep(tok, &swept);
    base_log(HSMSSP_LOG_INFO, "kerberos",
             "stored the TGT of %s in %s (key on token '%s')", client, path,
             ident.label);
    *tgt_out = t;
    t = NULL;
    *path_out = path;
    path = NULL;
cleanup:
    kerb_lt_free(lt, n_lt);
    kerb_tkt_unref(t);
    kerb_tktfile_entry_clear(&old);
    free(dir);
    free(path);
    return ret;
}

/* ---- kdestroy --------------------------------------------------------- */

typedef struct destroy_arg {
    hsm_token *tok;
    size_t n;
    hsmssp_err ret;
} destroy_arg;

static bool
destroy_visit(void *argp, const char *path, const kerb_tktfile_entry *e,
              hsmssp_err why, const char *reason)
{
    destroy_arg *a = argp;
    hsmssp_err ret;

    (void)why;
    (void)reason;
    if (e == NULL)
        return true; /* not a ticket file of ours: left alone */
    ret = remove_entry(a->tok, path, e);
    if (ret == HSMSSP_OK)
        a->n++;
    else if (a->ret == HSMSSP_OK)
        a->ret = ret;
    return true;
}

hsmssp_err
kerb_store_destroy(prov_env *env, hsm_token *tok, const char *client,
                   size_t *n_out)
{
    kerb_tktfile_entry e;
    destroy_arg a;
    char *dir = NULL, *path = NULL;
    size_t swept = 0;
    hsmssp_err ret;

    *n_out = 0;
    memset(&e, 0, sizeof(e));
    ret = ticket_dir(env, false, &dir);
    if (ret == HSMSSP_ERR_NO_TICKET)
        ret = HSMSSP_OK; /* no directory: nothing stored */
    else if (ret != HSMSSP_OK)
        return ret;
    if (dir != NULL && client != NULL) {
        ret = kerb_tktfile_path(dir, client, &path);
        if (ret == HSMSSP_OK)
            ret = kerb_tktfile_load(dir, client, &e);
        if (ret == HSMSSP_OK) {
            ret = remove_entry(tok, path, &e);
            if (ret == HSMSSP_OK)
                *n_out = 1;
        } else if (ret == HSMSSP_ERR_NO_TICKET) {
            ret = HSMSSP_OK;
        }
    } else if (dir != NULL) {
        memset(&a, 0, sizeof(a));
        a.tok = tok;
        ret = kerb_tktfile_list(dir, destroy_visit, &a);
        if (ret == HSMSSP_OK)
            ret = a.ret;
        *n_out = a.n;
    }
    if (ret == HSMSSP_OK)
        ret = sweep(tok, &swept);
    kerb_tktfile_entry_clear(&e);
    free(dir);
    free(path);
    return ret;
}

/* ---- klist ------------------------------------------------------------ */

typedef struct list_arg {
    hsm_token *tok;
    kerb_store_fn fn;
    void *arg;
    int64_t now;
    bool stopped;
} list_arg;

static bool
list_visit(void *argp, const char *path, const kerb_tktfile_entry *e,
           hsmssp_err why, const char *reason)
{
    list_arg *a = argp;
    kerb_store_item it;

    (void)why;
    memset(&it, 0, sizeof(it));
    it.path = path;
    it.e = e;
    if (e == NULL) {
        it.problem = reason;
    } else {
        hsm_key *k = NULL;

        it.expired = e->endtime <= a->now;
        it.other_token = !same_token(a->tok, e);
        if (!it.other_token &&
            hsm_key_find(a->tok, e->key_etype, e->key_id, e->key_id_len,
                         &k) == HSMSSP_OK) {
            it.key_present = true;
            hsm_key_free(k);
        }
    }
    if (!a->fn(a->arg, &it))
        a->stopped = true;
    return !a->stopped;
}

hsmssp_err
kerb_store_list(prov_env *env, hsm_token *tok, kerb_store_fn fn, void *arg)
{
    list_arg a;
    char *dir = NULL;
    hsmssp_err ret;

    ret = ticket_dir(env, false, &dir);
    if (ret != HSMSSP_OK)
        return ret;
    memset(&a, 0, sizeof(a));
    a.tok = tok;
    a.fn = fn;
    a.arg = arg;
    a.now = now_s();
    ret = kerb_tktfile_list(dir, list_visit, &a);
    if (ret == HSMSSP_ERR_NO_TICKET)
        ret = HSMSSP_OK; /* no directory yet: nothing stored */
    free(dir);
    return ret;
}
