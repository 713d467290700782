/*
 * provider/kerberos/kerb_out.c - outbound credentials: where the TGT
 * comes from, keeping it fresh, and the per-credential cache of service
 * tickets.
 *
 * Sources, in the order AcquireCredentialsHandle tries them:
 *   1. an explicit identity (user, domain, password): the password
 *      becomes a key for the enctype and salt the KDC names, that key is
 *      imported into a session object and the AS exchange runs with it;
 *   2. for a named principal whose long-term key is on the token: a TGT
 *      stored by `hsmssp kinit` when a valid one exists, else an AS
 *      exchange now;
 *   3. a TGT stored by `hsmssp kinit` (its key removed since);
 *   4. an MIT credential cache holding the principal (or, with no name,
 *      the default cache and its principal).
 * A credential built from a delegated TGT (kerb_acquire_delegated) is a
 * fifth source that cannot refresh.
 *
 * Locking: out->lock guards tgt and the ticket cache.  The TGT refresh
 * runs under the lock (network I/O included) so that many threads
 * finding an old TGT cause one AS exchange, not many; service-ticket
 * TGS exchanges run without it, and the cache insert dedupes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provider/kerberos/kerb-int.h"

/* A TGT is refreshed when it has less than this left (or the clock skew,
 * if larger).  A cached service ticket is handed out while it has more
 * than the clock skew left (an acceptor whose clock is ahead by up to the
 * skew still takes it). */
#define REFRESH_MARGIN 300

static int64_t
now_s(void)
{
    return prov_now_us() / 1000000;
}

static int64_t
margin(const prov_config *cfg)
{
    return cfg->clock_skew > REFRESH_MARGIN ? cfg->clock_skew
                                             : REFRESH_MARGIN;
}

void
kerb_out_free(kerb_out *o)
{
    if (o == NULL)
        return;
    kerb_tkt_unref(o->tgt);
    for (size_t i = 0; i < o->n_cache; i++)
        kerb_tkt_unref(o->cache[i].t);
    kerb_lt_free(o->lt, o->n_lt);
    free(o->ccache);
    free(o->store_path);
    pthread_mutex_destroy(&o->lock);
    pthread_mutex_destroy(&o->refresh_lock);
    base_memzero(o, sizeof(*o));
    free(o);
}

static hsmssp_err
out_new(kerb_cred *c)
{
    kerb_out *o = calloc(1, sizeof(*o));

    if (o == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    pthread_mutex_init(&o->lock, NULL);
    pthread_mutex_init(&o->refresh_lock, NULL);
    c->out = o;
    return HSMSSP_OK;
}

static hsmssp_err
set_client(kerb_out *o, const char *client)
{
    if (strlen(client) > KERB_KS_MAX_PRINCIPAL)
        return BASE_ERR(HSMSSP_ERR_LIMIT, "principal name too long");
    memcpy(o->client, client, strlen(client) + 1);
    kerb_name_realm(client, o->realm);
    if (o->realm[0] == '\0')
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "principal %s has no realm", client);
    return HSMSSP_OK;
}

/* ---- the account's keys on the token ---------------------------------- */

void
kerb_lt_free(kerb_lt_key *lt, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!lt[i].borrowed)
            hsm_key_free(lt[i].key);
        lt[i].key = NULL;
    }
}

/* The newest session-object key of etype the env holds for client. */
static bool
session_key_for(kerb_state *st, const char *client, int32_t etype,
                kerb_lt_key *out)
{
    bool found = false;

    for (size_t i = 0; i < st->n_session_keys; i++) {
        const kerb_cred_key *k = &st->session_keys[i];

        if (k->e.etype != etype || strcmp(k->e.principal, client) != 0)
            continue;
        if (!found || k->e.kvno > out->kvno) {
            out->etype = etype;
            out->kvno = k->e.kvno;
            out->key = k->key;
            out->borrowed = true;
            found = true;
        }
    }
    return found;
}

/* The env's kept list of client's keys on tok: a copy in *v_out (n
 * entries) when one younger than KERB_LT_LIST_TTL is there, else a new
 * listing, which is kept when it has keys (the oldest kept list makes
 * room).  fresh: list again whatever is kept. */
static hsmssp_err
lt_list(kerb_state *st, hsm_token *tok, const char *client, bool fresh,
        kerb_ks_entry **v_out, size_t *n_out)
{
    int64_t now = now_s();
    kerb_ks_entry *v = NULL, *keep = NULL;
    size_t n = 0, slot;
    uint64_t seq;
    hsmssp_err ret;

    *v_out = NULL;
    *n_out = 0;
    pthread_mutex_lock(&st->lock);
    seq = ++st->lt_seq;
    for (size_t i = 0; i < st->n_lt_lists && !fresh; i++) {
        if (st->lt_lists[i].tok != (const void *)tok ||
            strcmp(st->lt_lists[i].client, client) != 0 ||
            now - st->lt_lists[i].at >= KERB_LT_LIST_TTL ||
            now < st->lt_lists[i].at)
            continue;
        n = st->lt_lists[i].n;
        v = malloc(n * sizeof(*v));
        if (v != NULL)
            memcpy(v, st->lt_lists[i].v, n * sizeof(*v));
        pthread_mutex_unlock(&st->lock);
        if (v == NULL)
            return BASE_ERR0(HSMSSP_ERR_NOMEM);
        *v_out = v;
        *n_out = n;
        return HSMSSP_OK;
    }
    pthread_mutex_unlock(&st->lock);

    ret = kerb_ks_list(tok, client, &v, &n);
    if (ret != HSMSSP_OK)
        return ret;
    if (n > 0 && strlen(client) < sizeof(st->lt_lists[0].client))
        keep = malloc(n * sizeof(*keep));
    pthread_mutex_lock(&st->lock);
    /* This account's old list, else a free slot, else the oldest. */
    slot = st->n_lt_lists;
    for (size_t i = 0; i < st->n_lt_lists; i++) {
        if (st->lt_lists[i].tok == (const void *)tok &&
            strcmp(st->lt_lists[i].client, client) == 0) {
            slot = i;
            break;
        }
    }
    if (slot < st->n_lt_lists && st->lt_lists[slot].seq > seq) {
        /* A listing that started after this one was kept meanwhile (a
         * refusal listed again while this one ran): it stays. */
        pthread_mutex_unlock(&st->lock);
        free(keep);
        *v_out = v;
        *n_out = n;
        return HSMSSP_OK;
    }
    if (slot == st->n_lt_lists && slot == KERB_LT_LISTS) {
        slot = 0;
        for (size_t i = 1; i < st->n_lt_lists; i++)
            if (st->lt_lists[i].at < st->lt_lists[slot].at)
                slot = i;
    }
    if (slot < st->n_lt_lists) {
        /* Replaced, or dropped when the new listing is not kept. */
        free(st->lt_lists[slot].v);
        st->lt_lists[slot] = st->lt_lists[--st->n_lt_lists];
        slot = st->n_lt_lists;
    }
    if (keep != NULL) {
        memcpy(keep, v, n * sizeof(*keep));
        st->lt_lists[slot].tok = tok;
        snprintf(st->lt_lists[slot].client,
                 sizeof(st->lt_lists[slot].client), "%s", client);
        st->lt_lists[slot].v = keep;
        st->lt_lists[slot].n = n;
        st->lt_lists[slot].at = now;
        st->lt_lists[slot].seq = seq;
        st->n_lt_lists++;
    }
    pthread_mutex_unlock(&st->lock);
    *v_out = v;
    *n_out = n;
    return HSMSSP_OK;
}

static hsmssp_err
lt_load(prov_env *env, hsm_token *tok, const char *client, bool fresh,
        kerb_lt_key *lt, size_t max, size_t *n_out)
{
    const prov_config *cfg = prov_env_config(env);
    kerb_state *st = NULL;
    kerb_ks_entry *v = NULL;
    size_t n = 0, k = 0, total = 0;
    hsmssp_err ret;

    *n_out = 0;
    ret = kerb_state_get(env, &st);
    if (ret == HSMSSP_OK)
        ret = lt_list(st, tok, client, fresh, &v, &n);
    if (ret != HSMSSP_OK)
        return ret;
    total = n;
    for (size_t p = 0; p < cfg->n_permitted_enctypes && ret == HSMSSP_OK &&
                       k < max;
         p++) {
        int32_t etype = cfg->permitted_enctypes[p];
        bool done = false;

        /* The key store's list is sorted by kvno descending: the first of
         * an enctype is its newest. */
        for (size_t i = 0; i < n && !done; i++) {
            if (v[i].etype != etype)
                continue;
            memset(&lt[k], 0, sizeof(lt[k]));
            ret = kerb_ks_find(tok, &v[i], &lt[k].key);
            if (ret != HSMSSP_OK)
                break;
            lt[k].etype = etype;
            lt[k].kvno = v[i].kvno;
            k++;
            done = true;
        }
        if (!done && ret == HSMSSP_OK) {
            pthread_mutex_lock(&st->lock);
            memset(&lt[k], 0, sizeof(lt[k]));
            if (session_key_for(st, client, etype, &lt[k])) {
                k++;
                total++;
            }
            pthread_mutex_unlock(&st->lock);
        }
    }
    if (ret == HSMSSP_OK && total > 0 && k == 0)
        ret = BASE_ERR(HSMSSP_ERR_POLICY_ENCTYPE,
                       "%s has keys on the token, none in an enctype that "
                       "permitted_enctypes lists",
                       client);
    if (ret != HSMSSP_OK) {
        kerb_lt_free(lt, k);
        k = 0;
    }
    *n_out = k;
    free(v);
    return ret;
}

hsmssp_err
kerb_lt_load(prov_env *env, hsm_token *tok, const char *client,
             kerb_lt_key *lt, size_t max, size_t *n_out)
{
    hsmssp_err ret = lt_load(env, tok, client, false, lt, max, n_out);

    /* A kept list naming a key that has left the token since: list
     * again. */
    if (ret == HSMSSP_ERR_KEY_NOT_FOUND)
        ret = lt_load(env, tok, client, true, lt, max, n_out);
    return ret;
}

hsmssp_err
kerb_lt_load_fresh(prov_env *env, hsm_token *tok, const char *client,
                   kerb_lt_key *lt, size_t max, size_t *n_out)
{
    return lt_load(env, tok, client, true, lt, max, n_out);
}

/* Opens the client's keys on the token; *found_out false when there are
 * none (not an error: other sources may serve). */
static hsmssp_err
load_token_keys(kerb_cred *c, bool *found_out)
{
    kerb_out *o = c->out;
    hsmssp_err ret;

    ret = kerb_lt_load(c->env, c->tok, o->client, o->lt, KERB_MAX_LT_KEYS,
                       &o->n_lt);
    *found_out = o->n_lt > 0;
    return ret;
}

static hsmssp_err
as_with_keys(kerb_cred *c, kerb_tkt **tgt_out)
{
    kerb_out *o = c->out;
    kerb_as_keys keys;

    memset(&keys, 0, sizeof(keys));
    keys.keys = o->lt;
    keys.n_keys = o->n_lt;
    keys.cap_keys = KERB_MAX_LT_KEYS;
    return kerb_as_exchange(c->env, c->tok, o->client, NULL, &keys, NULL,
                            NULL, tgt_out);
}

/* ---- TGTs shared between credentials ----------------------------------- */

/* The entry of (tok, this process, client) in st; caller holds st->lock. */
static size_t
shared_find_locked(kerb_state *st, const kerb_cred *c, const char *client)
{
    pid_t pid = getpid();

    for (size_t i = 0; i < st->n_shared_tgts; i++)
        if (st->shared_tgts[i].tok == (const void *)c->tok &&
            st->shared_tgts[i].pid == pid &&
            strcmp(st->shared_tgts[i].client, client) == 0)
            return i;
    return st->n_shared_tgts;
}

/* The env's shared TGT of the credential's account when it is fresh (more
 * than the refresh margin left) and, if newer_than is given, ends after
 * it; referenced.  NULL otherwise. */
static kerb_tkt *
shared_tgt_get(kerb_cred *c, const kerb_tkt *newer_than)
{
    const prov_config *cfg = prov_env_config(c->env);
    kerb_state *st = NULL;
    kerb_tkt *t = NULL;
    size_t i;

    if (kerb_state_get(c->env, &st) != HSMSSP_OK) {
        base_err_clear();
        return NULL;
    }
    pthread_mutex_lock(&st->lock);
    i = shared_find_locked(st, c, c->out->client);
    if (i < st->n_shared_tgts) {
        kerb_tkt *e = st->shared_tgts[i].tgt;

        if (e->endtime - now_s() > margin(cfg) &&
            (newer_than == NULL || e->endtime > newer_than->endtime))
            t = kerb_tkt_ref(e);
    }
    pthread_mutex_unlock(&st->lock);
    return t;
}

/* Offers t (a TGT the credential just got from the KDC) to the env: it
 * replaces the account's shared TGT unless that one ends later.  The
 * least recently got entry makes room. */
static void
shared_tgt_put(kerb_cred *c, kerb_tkt *t)
{
    kerb_state *st = NULL;
    kerb_tkt *gone[KERB_SHARED_TGTS + 1];
    size_t i, n_gone = 0;
    int64_t now = now_s();
    pid_t pid = getpid();

    if (kerb_state_get(c->env, &st) != HSMSSP_OK) {
        base_err_clear();
        return;
    }
    pthread_mutex_lock(&st->lock);
    i = shared_find_locked(st, c, c->out->client);
    if (i < st->n_shared_tgts) {
        if (st->shared_tgts[i].tgt->endtime > t->endtime) {
            pthread_mutex_unlock(&st->lock);
            return;
        }
        gone[n_gone++] = st->shared_tgts[i].tgt;
        st->shared_tgts[i] = st->shared_tgts[--st->n_shared_tgts];
    }
    /* Expired TGTs, and those of a parent process (their session keys
     * died with its token session), go; then the oldest offered makes
     * room. */
    for (size_t k = 0; k < st->n_shared_tgts;) {
        if (st->shared_tgts[k].tgt->endtime <= now ||
            st->shared_tgts[k].pid != pid) {
            gone[n_gone++] = st->shared_tgts[k].tgt;
            st->shared_tgts[k] = st->shared_tgts[--st->n_shared_tgts];
        } else {
            k++;
        }
    }
    if (st->n_shared_tgts == KERB_SHARED_TGTS) {
        size_t o = 0;

        for (size_t k = 1; k < st->n_shared_tgts; k++)
            if (st->shared_tgts[k].got < st->shared_tgts[o].got)
                o = k;
        gone[n_gone++] = st->shared_tgts[o].tgt;
        st->shared_tgts[o] = st->shared_tgts[--st->n_shared_tgts];
    }
    i = st->n_shared_tgts++;
    st->shared_tgts[i].tok = c->tok;
    st->shared_tgts[i].pid = pid;
    snprintf(st->shared_tgts[i].client, sizeof(st->shared_tgts[i].client),
             "%s", c->out->client);
    st->shared_tgts[i].tgt = kerb_tkt_ref(t);
    st->shared_tgts[i].got = now;
    pthread_mutex_unlock(&st->lock);
    /* Session keys are destroyed outside the lock. */
    for (size_t k = 0; k < n_gone; k++)
        kerb_tkt_unref(gone[k]);
}

/* Takes t out of the env's shared TGTs if it is there (its key has left
 * the token). */
static void
shared_tgt_drop(kerb_cred *c, const kerb_tkt *t)
{
    kerb_state *st = NULL;
    kerb_tkt *old = NULL;

    if (kerb_state_get(c->env, &st) != HSMSSP_OK) {
        base_err_clear();
        return;
    }
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->n_shared_tgts; i++) {
        if (st->shared_tgts[i].tgt == t) {
            old = st->shared_tgts[i].tgt;
            st->shared_tgts[i] = st->shared_tgts[--st->n_shared_tgts];
            break;
        }
    }
    pthread_mutex_unlock(&st->lock);
    kerb_tkt_unref(old);
}

void
kerb_shared_tgt_purge(prov_env *env, const char *client)
{
    kerb_state *st = NULL;
    kerb_tkt *gone[KERB_SHARED_TGTS];
    size_t n = 0, w = 0;

    if (kerb_state_get(env, &st) != HSMSSP_OK) {
        base_err_clear();
        return;
    }
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->n_shared_tgts; i++) {
        if (client == NULL || strcmp(st->shared_tgts[i].client, client) == 0)
            gone[n++] = st->shared_tgts[i].tgt;
        else
            st->shared_tgts[w++] = st->shared_tgts[i];
    }
    st->n_shared_tgts = w;
    pthread_mutex_unlock(&st->lock);
    /* The session keys are destroyed outside the lock. */
    for (size_t i = 0; i < n; i++)
        kerb_tkt_unref(gone[i]);
}

/* ---- acquire ---------------------------------------------------------- */

/* "user", "user@REALM" or user + domain (the realm, upper-cased as
 * Windows does for Kerberos). */
static hsmssp_err
identity_principal(prov_env *env, const prov_identity *id, char **out)
{
    char name[KERB_KS_MAX_PRINCIPAL + 1], *at;
    size_t n = 0;

    *out = NULL;
    if (id->user == NULL || id->user_len == 0 ||
        id->user_len + id->domain_len + 1 > KERB_KS_MAX_PRINCIPAL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "identity without a user name, or too long");
    if (memchr(id->user, '\0', id->user_len) != NULL ||
        (id->domain != NULL &&
         memchr(id->domain, '\0', id->domain_len) != NULL))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "identity with a NUL inside a name");
    memcpy(name, id->user, id->user_len);
    n = id->user_len;
    name[n] = '\0';
    at = strrchr(name, '@');
    if (at != NULL) {
        /* A UPN, user@dns.domain: the realm is the domain, upper-cased
         * as Windows does; never a host-based service name. */
        for (char *p = at + 1; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 32);
        *out = strdup(name);
        return *out != NULL ? HSMSSP_OK : BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    if (id->domain != NULL && id->domain_len > 0) {
        name[n++] = '@';
        for (size_t i = 0; i < id->domain_len; i++) {
            char ch = id->domain[i];

            name[n++] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
        }
        name[n] = '\0';
        *out = strdup(name);
        return *out != NULL ? HSMSSP_OK : BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    return kerb_name_canon_env(env, name, out);
}

static hsmssp_err
acquire_password(kerb_cred *c, const prov_identity *id)
{
    kerb_out *o = c->out;
    base_secret *pw = NULL;
    kerb_as_keys keys;
    char *client = NULL;
    hsmssp_err ret;

    ret = identity_principal(c->env, id, &client);
    if (ret == HSMSSP_OK)
        ret = set_client(o, client);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (id->password == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "identity for %s without a password", client);
        goto cleanup;
    }
    /* The password lives in a secure buffer for the exchange only. */
    ret = base_secret_from(id->password, id->password_len, &pw);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memset(&keys, 0, sizeof(keys));
    keys.keys = o->lt;
    keys.cap_keys = KERB_MAX_LT_KEYS;
    keys.password = pw;
    ret = kerb_as_exchange(c->env, c->tok, o->client, NULL, &keys, NULL,
                           NULL, &o->tgt);
    o->n_lt = keys.n_keys; /* the keys made from it, kept for refresh */
    if (ret == HSMSSP_OK)
        o->src = KERB_SRC_PASSWORD;
cleanup:
    base_secret_free(pw);
    free(client);
    return ret;
}

static hsmssp_err as_fresh_keys(kerb_cred *c, kerb_tkt **out);

hsmssp_err
kerb_out_acquire(kerb_cred *c, const char *principal, const prov_identity *id,
                 int64_t *expiry_out)
{
    kerb_out *o;
    char *client = NULL, *path = NULL, store_why[256] = "";
    bool have_keys = false;
    hsmssp_err ret;

    *expiry_out = 0;
    ret = out_new(c);
    if (ret != HSMSSP_OK)
        return ret;
    o = c->out;
    if (id != NULL) {
        ret = acquire_password(c, id);
        goto done;
    }
    if (principal == NULL) {
        /* No name: the default credential cache decides who we are. */
        ret = kerb_ccache_load(c->env, c->tok, NULL, NULL, 0, &o->ccache,
                               &o->tgt);
        if (ret == HSMSSP_OK)
            ret = set_client(o, o->tgt->client);
        if (ret == HSMSSP_OK)
            o->src = KERB_SRC_CCACHE;
        goto done;
    }
    ret = kerb_name_canon_env(c->env, principal, &client);
    if (ret == HSMSSP_OK)
        ret = set_client(o, client);
    if (ret == HSMSSP_OK)
        ret = load_token_keys(c, &have_keys);
    if (ret != HSMSSP_OK)
        goto done;
    /* A stored TGT saves an AS exchange; with the key on the token it can
     * always be replaced by a fresh one. */
    ret = kerb_store_load(c->env, c->tok, o->client, &path, &o->tgt);
    if (ret == HSMSSP_OK) {
        o->store_path = path;
        path = NULL;
        o->src = have_keys ? KERB_SRC_TOKEN_KEY : KERB_SRC_STORE;
        goto done;
    }
    /* Whatever is wrong with the ticket store (nothing there, a file of
     * the wrong owner, a squatted directory in /tmp) must not keep an
     * account whose key is on the token from logging in: it is noted and
     * the other sources are tried. */
    (void)snprintf(store_why, sizeof(store_why), "%s",
                   kerb_detail_tail(ret));
    if (ret != HSMSSP_ERR_NO_TICKET)
        base_log(HSMSSP_LOG_WARNING, "kerberos",
                 "stored TGT of %s not usable: %s", o->client,
                 hsmssp_last_error_detail());
    if (have_keys) {
        /* Another credential of this process may hold a fresh TGT. */
        o->src = KERB_SRC_TOKEN_KEY;
        o->tgt = shared_tgt_get(c, NULL);
        if (o->tgt != NULL) {
            ret = HSMSSP_OK;
            goto done;
        }
        ret = as_fresh_keys(c, &o->tgt);
        if (ret == HSMSSP_OK)
            shared_tgt_put(c, o->tgt);
        goto done;
    }
    ret = kerb_ccache_load(c->env, c->tok, NULL, o->client, 0, &o->ccache,
                           &o->tgt);
    if (ret == HSMSSP_OK) {
        o->src = KERB_SRC_CCACHE;
    } else if (ret == HSMSSP_ERR_NO_TICKET) {
        /* The stored TGT's own story (expired and removed, on another
         * token) is the useful part when there was one. */
        ret = BASE_ERR(HSMSSP_ERR_NO_TICKET,
                       "no key on the token, usable stored TGT or credential "
                       "cache for %s (import its key with 'hsmssp keytab "
                       "import' or 'hsmssp account import', or run "
                       "kinit)%s%s",
                       o->client, strstr(store_why, "no ticket for") ? ""
                                  : "; ",
                       strstr(store_why, "no ticket for") ? "" : store_why);
    }
done:
    if (ret == HSMSSP_OK) {
        *expiry_out = o->tgt->endtime;
        base_log(HSMSSP_LOG_INFO, "kerberos",
                 "outbound credential for %s (TGT until %lld)", o->client,
                 (long long)o->tgt->endtime);
    }
    free(client);
    free(path);
    return ret;
}

/* ---- delegated credentials -------------------------------------------- */

hsmssp_err
kerb_acquire_delegated(void *ctxp, void **cred_out, int64_t *expiry_out)
{
    kerb_ctx *ctx = ctxp;
    kerb_cred *c = NULL;
    hsmssp_err ret;

    *cred_out = NULL;
    *expiry_out = 0;
    if (ctx->initiator || !ctx->established || ctx->deleg == NULL)
        return BASE_ERR(HSMSSP_ERR_NO_TICKET,
                        "the context holds no delegated credential (the "
                        "client did not delegate, or ASC_REQ_DELEGATE was "
                        "not asked)");
    if (ctx->pid != getpid())
        return BASE_ERR(HSMSSP_ERR_FORKED,
                        "security context was made before fork()");
    if (ctx->deleg->endtime <= now_s())
        return BASE_ERR(HSMSSP_ERR_NO_TICKET,
                        "the delegated TGT of %s has expired",
                        ctx->deleg->client);
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    pthread_mutex_init(&c->lock, NULL);
    prov_env_ref(ctx->env);
    c->env = ctx->env;
    c->tok = ctx->tok;
    c->use = PROV_CRED_OUTBOUND;
    c->pid = getpid();
    ret = out_new(c);
    if (ret == HSMSSP_OK)
        ret = set_client(c->out, ctx->deleg->client);
    if (ret != HSMSSP_OK) {
        kerb_cred_free(c);
        return ret;
    }
    c->out->src = KERB_SRC_DELEGATED;
    c->out->tgt = kerb_tkt_ref(ctx->deleg);
    *expiry_out = ctx->deleg->endtime;
    *cred_out = c;
    return HSMSSP_OK;
}

/* ---- keeping the TGT fresh -------------------------------------------- */

/* After a failed refresh with an old TGT still usable, the next attempt
 * waits this long: a KDC that is down must not make every call pay its
 * timeouts. */
#define REFRESH_BACKOFF 30

/* Whether an error says that a key's token object is gone (the token was
 * re-initialised, another process replaced the key): the source can give
 * a new one. */
static bool
key_gone(hsmssp_err err)
{
    return err == HSMSSP_ERR_KEY_GONE || err == HSMSSP_ERR_KEY_NOT_FOUND;
}

/* Renews a renewable TGT at its KDC (RFC 4120 sec. 2.3). */
static hsmssp_err
renew(kerb_cred *c, const kerb_tkt *old, kerb_tkt **out)
{
    return kerb_tgs_exchange(c->env, old, old->server,
                             KERB_KDC_OPT_RENEW | KERB_KDC_OPT_RENEWABLE,
                             NULL, NULL, NULL, out);
}

/* An AS exchange with the account's keys; keys gone from the token
 * (rotated by another process) are looked up again once. */
static hsmssp_err
as_fresh_keys(kerb_cred *c, kerb_tkt **out)
{
    kerb_out *o = c->out;
    hsmssp_err ret;

    struct {
        int32_t etype;
        uint32_t kvno;
    } was[KERB_MAX_LT_KEYS];
    size_t n_was = o->n_lt;
    bool refused;
    char why[512];

    ret = as_with_keys(c, out);
    /* Keys gone, or refused by the KDC (a newer kvno imported since they
     * were opened, after a rotation): the token is listed again. */
    refused = ret == HSMSSP_ERR_PREAUTH_FAILED;
    if ((!key_gone(ret) && !refused) || o->src != KERB_SRC_TOKEN_KEY)
        return ret;
    (void)snprintf(why, sizeof(why), "%s", kerb_detail_tail(ret));
    for (size_t i = 0; i < n_was; i++) {
        was[i].etype = o->lt[i].etype;
        was[i].kvno = o->lt[i].kvno;
    }
    kerb_lt_free(o->lt, o->n_lt);
    o->n_lt = 0;
    ret = kerb_lt_load_fresh(c->env, c->tok, o->client, o->lt,
                             KERB_MAX_LT_KEYS, &o->n_lt);
    if (ret == HSMSSP_OK && o->n_lt == 0)
        ret = BASE_ERR(HSMSSP_ERR_KEY_NOT_FOUND,
                       "the keys of %s left the token", o->client);
    if (ret == HSMSSP_OK && refused) {
        /* Asking again is worth a failed pre-authentication counted
         * against the account only when a key the KDC may have refused
         * changed: one of the enctypes offered before now has another
         * kvno, or is gone (the KDC picks among those; an enctype added
         * since is one it did not prefer). */
        bool changed = false;

        for (size_t i = 0; i < n_was && !changed; i++) {
            bool found = false;

            for (size_t j = 0; j < o->n_lt; j++) {
                if (o->lt[j].etype != was[i].etype)
                    continue;
                found = true;
                changed = o->lt[j].kvno != was[i].kvno;
            }
            changed = changed || !found;
        }
        if (!changed)
            return BASE_ERR(HSMSSP_ERR_PREAUTH_FAILED, "%s", why);
    }
    if (ret == HSMSSP_OK)
        ret = as_with_keys(c, out);
    return ret;
}

/* A new TGT from the credential's source (old: the current one, or NULL
 * when there is none or its key is gone).  Runs without out->lock: the
 * caller holds refresh_lock, so o->lt and o->src are its alone. */
static hsmssp_err
fetch_tgt(kerb_cred *c, const kerb_tkt *old, kerb_tkt **t_out)
{
    const prov_config *cfg = prov_env_config(c->env);
    kerb_out *o = c->out;
    kerb_tkt *t = NULL;
    char *name = NULL;
    int64_t now = now_s();
    hsmssp_err ret;

    *t_out = NULL;
    if (old != NULL && (old->flags & KERB_TKT_RENEWABLE) &&
        old->renew_till > now + cfg->clock_skew && old->endtime > now) {
        ret = renew(c, old, t_out);
        if (ret == HSMSSP_OK) {
            if (o->src == KERB_SRC_TOKEN_KEY)
                shared_tgt_put(c, *t_out);
            return ret;
        }
        base_log(HSMSSP_LOG_INFO, "kerberos",
                 "renewal of the TGT of %s failed (%s); trying its source",
                 o->client, hsmssp_last_error_detail());
    }
    switch (o->src) {
    case KERB_SRC_TOKEN_KEY:
        /* Another credential of this process may have refreshed the
         * account's TGT already. */
        t = shared_tgt_get(c, old);
        if (t != NULL) {
            *t_out = t;
            return HSMSSP_OK;
        }
        /* Another process may have stored a newer TGT (hsmssp kinit from
         * cron): cheaper than an AS exchange. */
        if (kerb_store_load(c->env, c->tok, o->client, NULL, &t) ==
                HSMSSP_OK &&
            t->endtime - now > margin(cfg) &&
            (old == NULL || t->endtime > old->endtime)) {
            *t_out = t;
            return HSMSSP_OK;
        }
        kerb_tkt_unref(t);
        t = NULL;
        ret = as_fresh_keys(c, &t);
        if (ret == HSMSSP_OK)
            shared_tgt_put(c, t);
        break;
    case KERB_SRC_PASSWORD:
        ret = as_with_keys(c, &t);
        break;
    case KERB_SRC_STORE:
        ret = kerb_store_load(c->env, c->tok, o->client, NULL, &t);
        break;
    case KERB_SRC_CCACHE:
        /* Only a newer TGT is taken: the same one would be imported into
         * the token again for nothing. */
        ret = kerb_ccache_load(c->env, c->tok, o->ccache, o->client,
                               old != NULL ? old->endtime : 0, &name, &t);
        free(name);
        break;
    default:
        ret = BASE_ERR(HSMSSP_ERR_NO_TICKET,
                       "the delegated TGT of %s expires and cannot be "
                       "refreshed",
                       o->client);
        break;
    }
    if (ret == HSMSSP_OK && t->endtime <= now) {
        kerb_tkt_unref(t);
        return BASE_ERR(HSMSSP_ERR_NO_TICKET,
                        "the TGT of %s has expired (run kinit)", o->client);
    }
    if (ret == HSMSSP_OK)
        *t_out = t;
    return ret;
}

/* A TGT the caller may use now without asking the KDC. */
static bool
tgt_fresh(const prov_config *cfg, const kerb_out *o, int64_t now)
{
    return o->tgt != NULL && !o->tgt_dead &&
           o->tgt->endtime - now > margin(cfg);
}

hsmssp_err
kerb_out_tgt(kerb_cred *c, kerb_tkt **tgt_out)
{
    const prov_config *cfg = prov_env_config(c->env);
    kerb_out *o = c->out;
    kerb_tkt *old = NULL, *t = NULL;
    int64_t now = now_s();
    bool usable;
    hsmssp_err ret;

    *tgt_out = NULL;
    if (o == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "an outbound credential is needed");
    pthread_mutex_lock(&o->lock);
    usable = o->tgt != NULL && !o->tgt_dead &&
             o->tgt->endtime > now + cfg->clock_skew;
    if (tgt_fresh(cfg, o, now) || (usable && now < o->retry_after)) {
        *tgt_out = kerb_tkt_ref(o->tgt);
        pthread_mutex_unlock(&o->lock);
        return HSMSSP_OK;
    }
    pthread_mutex_unlock(&o->lock);

    /* One refresh at a time, without holding the lock that cache hits and
     * other services' lookups need. */
    pthread_mutex_lock(&o->refresh_lock);
    pthread_mutex_lock(&o->lock);
    now = now_s();
    if (tgt_fresh(cfg, o, now)) {
        /* Another thread refreshed it meanwhile. */
        *tgt_out = kerb_tkt_ref(o->tgt);
        pthread_mutex_unlock(&o->lock);
        pthread_mutex_unlock(&o->refresh_lock);
        return HSMSSP_OK;
    }
    if (!o->tgt_dead)
        old = kerb_tkt_ref(o->tgt);
    pthread_mutex_unlock(&o->lock);

    ret = fetch_tgt(c, old, &t);

    pthread_mutex_lock(&o->lock);
    if (ret == HSMSSP_OK) {
        kerb_tkt_unref(o->tgt);
        o->tgt = t;
        o->tgt_dead = false;
        o->retry_after = 0;
        base_log(HSMSSP_LOG_INFO, "kerberos",
                 "TGT of %s refreshed, until %lld", o->client,
                 (long long)t->endtime);
    } else if (o->tgt != NULL && !o->tgt_dead &&
               o->tgt->endtime > now + cfg->clock_skew) {
        /* An old TGT still valid a little longer is better than none;
         * the next attempt waits a while. */
        base_log(HSMSSP_LOG_WARNING, "kerberos",
                 "refresh of the TGT of %s failed, the old one serves "
                 "until %lld: %s",
                 o->client, (long long)o->tgt->endtime,
                 hsmssp_last_error_detail());
        o->retry_after = now + REFRESH_BACKOFF;
        ret = HSMSSP_OK;
    }
    if (ret == HSMSSP_OK)
        *tgt_out = kerb_tkt_ref(o->tgt);
    pthread_mutex_unlock(&o->lock);
    pthread_mutex_unlock(&o->refresh_lock);
    kerb_tkt_unref(old);
    return ret;
}

void
kerb_out_forget(kerb_cred *c, const kerb_tkt *t)
{
    kerb_out *o = c->out;
    size_t w = 0;

    if (o == NULL || t == NULL)
        return;
    shared_tgt_drop(c, t);
    pthread_mutex_lock(&o->lock);
    if (o->tgt == t)
        o->tgt_dead = true;
    for (size_t i = 0; i < o->n_cache; i++) {
        if (o->cache[i].t == t)
            kerb_tkt_unref(o->cache[i].t);
        else
            o->cache[w++] = o->cache[i];
    }
    o->n_cache = w;
    pthread_mutex_unlock(&o->lock);
    base_log(HSMSSP_LOG_INFO, "kerberos",
             "the key of the ticket for %s is gone from the token; the "
             "ticket is dropped",
             t->server);
}

/* ---- the ticket cache ------------------------------------------------- */

static kerb_tkt *
cache_find(kerb_cred *c, const char *name)
{
    const prov_config *cfg = prov_env_config(c->env);
    kerb_out *o = c->out;
    kerb_tkt *t = NULL;
    int64_t now = now_s();

    pthread_mutex_lock(&o->lock);
    for (size_t i = 0; i < o->n_cache; i++) {
        kerb_tkt *e = o->cache[i].t;

        if (strcmp(o->cache[i].name, name) == 0 &&
            e->endtime - now > cfg->clock_skew &&
            e->starttime <= now + cfg->clock_skew) {
            t = kerb_tkt_ref(e);
            break;
        }
    }
    pthread_mutex_unlock(&o->lock);
    return t;
}

/* Caches t under name (the name it was asked for).  Expired entries and
 * an older one of the same name go first; when full, the entry ending
 * soonest makes room. */
static void
cache_put(kerb_cred *c, const char *name, kerb_tkt *t)
{
    kerb_out *o = c->out;
    int64_t now = now_s();
    size_t i, w = 0, victim = 0;

    if (strlen(name) > KERB_KS_MAX_PRINCIPAL)
        return; /* not cacheable; the caller still has its ticket */
    pthread_mutex_lock(&o->lock);
    for (i = 0; i < o->n_cache; i++) {
        if (o->cache[i].t->endtime <= now ||
            strcmp(o->cache[i].name, name) == 0)
            kerb_tkt_unref(o->cache[i].t);
        else
            o->cache[w++] = o->cache[i];
    }
    o->n_cache = w;
    if (o->n_cache == KERB_MAX_CACHED_TICKETS) {
        for (i = 1; i < o->n_cache; i++)
            if (o->cache[i].t->endtime < o->cache[victim].t->endtime)
                victim = i;
        kerb_tkt_unref(o->cache[victim].t);
        o->cache[victim] = o->cache[--o->n_cache];
    }
    memcpy(o->cache[o->n_cache].name, name, strlen(name) + 1);
    o->cache[o->n_cache++].t = kerb_tkt_ref(t);
    pthread_mutex_unlock(&o->lock);
}

/* "krbtgt/TO@FROM" into out. */
static hsmssp_err
tgs_name(const char *to, const char *from, char *out, size_t cap)
{
    if (snprintf(out, cap, "krbtgt/%s@%s", to, from) >= (int)cap)
        return BASE_ERR(HSMSSP_ERR_LIMIT, "realm names too long");
    return HSMSSP_OK;
}

/* Whether realm was visited on this path already (a referral loop). */
static bool
visited(char seen[][KERB_KS_MAX_PRINCIPAL + 1], size_t n, const char *realm)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(seen[i], realm) == 0)
            return true;
    return false;
}

static hsmssp_err service_ticket_once(kerb_cred *c, const char *server,
                                      kerb_tkt **tkt_out);

hsmssp_err
kerb_out_service_ticket(kerb_cred *c, const char *server, kerb_tkt **tkt_out)
{
    hsmssp_err ret = service_ticket_once(c, server, tkt_out);

    /* A TGT whose key left the token was dropped: once more, with a new
     * one from the credential's source. */
    if (key_gone(ret))
        ret = service_ticket_once(c, server, tkt_out);
    return ret;
}

static hsmssp_err
service_ticket_once(kerb_cred *c, const char *server, kerb_tkt **tkt_out)
{
    char target[KERB_KS_MAX_PRINCIPAL + 1], at[KERB_KS_MAX_PRINCIPAL + 1];
    char want[2 * KERB_KS_MAX_PRINCIPAL + 16];
    char seen[KERB_MAX_REFERRALS + 2][KERB_KS_MAX_PRINCIPAL + 1];
    size_t n_seen = 0;
    kerb_tkt *cur = NULL, *t = NULL;
    bool referral = false;
    hsmssp_err ret;

    *tkt_out = NULL;
    t = cache_find(c, server);
    if (t != NULL) {
        *tkt_out = t;
        return HSMSSP_OK;
    }
    kerb_name_realm(server, target);
    if (target[0] == '\0')
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "service name %s has no realm", server);
    ret = kerb_out_tgt(c, &cur);
    if (ret != HSMSSP_OK)
        return ret;
    for (int hop = 0;; hop++) {
        if (!kerb_tkt_is_tgt(cur, at, NULL)) {
            ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "%s is not a TGT",
                           cur->server);
            goto cleanup;
        }
        if (hop > KERB_MAX_REFERRALS || visited(seen, n_seen, at)) {
            ret = BASE_ERR(HSMSSP_ERR_REFERRAL,
                           "no path to the realm of %s within %d referrals "
                           "(at %s)",
                           server, KERB_MAX_REFERRALS, at);
            goto cleanup;
        }
        memcpy(seen[n_seen++], at, strlen(at) + 1);
        if (strcmp(at, target) == 0) {
            /* In the service's realm: ask for the service itself.  With
             * CANONICALIZE the KDC may answer with a referral TGT to the
             * realm that really holds it (RFC 6806), which becomes the
             * target. */
            ret = kerb_tgs_exchange(c->env, cur, server,
                                    KERB_KDC_OPT_CANONICALIZE, NULL, NULL,
                                    &referral, &t);
            if (key_gone(ret))
                kerb_out_forget(c, cur);
            if (ret != HSMSSP_OK)
                goto cleanup;
            if (referral && !kerb_tkt_is_tgt(t, target, NULL)) {
                ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "bad referral");
                goto cleanup;
            }
            if (!referral)
                cache_put(c, server, t);
        } else {
            /* Another realm: a cross-realm TGT first, which the KDC may
             * answer with one for an intermediate realm. */
            ret = tgs_name(target, at, want, sizeof(want));
            if (ret != HSMSSP_OK)
                goto cleanup;
            t = cache_find(c, want);
            if (t == NULL) {
                ret = kerb_tgs_exchange(c->env, cur, want,
                                        KERB_KDC_OPT_CANONICALIZE, NULL,
                                        NULL, &referral, &t);
                if (key_gone(ret))
                    kerb_out_forget(c, cur);
                if (ret != HSMSSP_OK)
                    goto cleanup;
                cache_put(c, want, t);
            }
            referral = true; /* a TGT to go on with, either way */
        }
        if (!referral) {
            *tkt_out = t;
            t = NULL;
            break;
        }
        kerb_tkt_unref(cur);
        cur = t;
        t = NULL;
    }
cleanup:
    kerb_tkt_unref(cur);
    kerb_tkt_unref(t);
    return ret;
}

/* ---- target names ----------------------------------------------------- */

hsmssp_err
kerb_out_target(kerb_cred *c, const char *target, char *out)
{
    kerb_out *o = c->out;
    char *canon = NULL;
    size_t i;
    hsmssp_err ret;

    if (strlen(target) > KERB_KS_MAX_PRINCIPAL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "target name too long");
    pthread_mutex_lock(&o->lock);
    for (i = 0; i < o->n_names; i++) {
        if (strcmp(o->names[i].raw, target) == 0) {
            memcpy(out, o->names[i].canon, strlen(o->names[i].canon) + 1);
            pthread_mutex_unlock(&o->lock);
            return HSMSSP_OK;
        }
    }
    pthread_mutex_unlock(&o->lock);
    ret = kerb_name_canon_env(c->env, target, &canon);
    if (ret != HSMSSP_OK)
        return ret;
    if (strlen(canon) > KERB_KS_MAX_PRINCIPAL) {
        free(canon);
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "target name too long");
    }
    memcpy(out, canon, strlen(canon) + 1);
    /* A ring: the oldest name makes room. */
    pthread_mutex_lock(&o->lock);
    i = o->n_names < KERB_MAX_CACHED_TICKETS ? o->n_names++ : o->next_name;
    o->next_name = (i + 1) % KERB_MAX_CACHED_TICKETS;
    memcpy(o->names[i].raw, target, strlen(target) + 1);
    memcpy(o->names[i].canon, canon, strlen(canon) + 1);
    pthread_mutex_unlock(&o->lock);
    free(canon);
    return HSMSSP_OK;
}
