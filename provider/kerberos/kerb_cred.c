/*
 * provider/kerberos/kerb_cred.c - Kerberos credentials: which service
 * keys an acceptor may use, found on the token through the key store
 * (kerb_keystore.h) or registered by this process as session objects;
 * the package's per-env state; principal names.
 *
 * Keys are opened lazily: a credential for "any principal" on a token
 * with many keys pays for the keys tickets actually name, not for all of
 * them at acquire time.  Opening a key (C_FindObjects and attribute
 * reads) happens once per credential and key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <krb5.h>

#include "provider/kerberos/kerb-int.h"
#include "provider/kerberos/kerb_rcache.h"

/* ---- package state ------------------------------------------------------ */

static void
state_destroy(void *p)
{
    kerb_state *st = p;

    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n_session_keys; i++)
        hsm_key_free(st->session_keys[i].key);
    free(st->session_keys);
    for (size_t i = 0; i < st->n_lt_lists; i++)
        free(st->lt_lists[i].v);
    for (size_t i = 0; i < st->n_shared_tgts; i++)
        kerb_tkt_unref(st->shared_tgts[i].tgt);
    kerb_rcache_close(st->rcache);
    free(st->default_realm);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static hsmssp_err
state_make(prov_env *env, void **out)
{
    kerb_state *st = calloc(1, sizeof(*st));

    (void)env;
    *out = NULL;
    if (st == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    pthread_mutex_init(&st->lock, NULL);
    *out = st;
    return HSMSSP_OK;
}

hsmssp_err
kerb_state_get(prov_env *env, kerb_state **st_out)
{
    return prov_env_state(env, &kerb_package, state_make, state_destroy,
                          (void **)st_out);
}

hsmssp_err
kerb_register_session_key(prov_env *env, const kerb_ks_entry *e,
                          hsm_key *key)
{
    kerb_state *st = NULL;
    kerb_cred_key *v;
    hsmssp_err ret;

    ret = kerb_state_get(env, &st);
    if (ret != HSMSSP_OK)
        return ret;
    pthread_mutex_lock(&st->lock);
    v = realloc(st->session_keys,
                (st->n_session_keys + 1) * sizeof(*st->session_keys));
    if (v == NULL) {
        pthread_mutex_unlock(&st->lock);
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    st->session_keys = v;
    v[st->n_session_keys].e = *e;
    v[st->n_session_keys].key = key;
    v[st->n_session_keys].borrowed = true;
    st->n_session_keys++;
    pthread_mutex_unlock(&st->lock);
    return HSMSSP_OK;
}

hsmssp_err
kerb_rcache_for(prov_env *env, kerb_rcache **rc_out)
{
    const prov_config *cfg = prov_env_config(env);
    kerb_state *st = NULL;
    hsmssp_err ret;

    *rc_out = NULL;
    ret = kerb_state_get(env, &st);
    if (ret != HSMSSP_OK)
        return ret;
    if (cfg->rcache_path == NULL)
        return HSMSSP_OK; /* disabled by configuration */
    pthread_mutex_lock(&st->lock);
    if (st->rcache == NULL)
        ret = kerb_rcache_open(cfg->rcache_path, cfg->rcache_max_entries,
                               &st->rcache);
    *rc_out = st->rcache;
    pthread_mutex_unlock(&st->lock);
    return ret;
}

/* ---- names ------------------------------------------------------------- */

hsmssp_err
kerb_default_realm(prov_env *env, const char **realm_out)
{
    kerb_state *st = NULL;
    krb5_context kc = NULL;
    char *r = NULL;
    hsmssp_err ret;

    *realm_out = NULL;
    ret = kerb_state_get(env, &st);
    if (ret != HSMSSP_OK)
        return ret;
    pthread_mutex_lock(&st->lock);
    if (st->default_realm == NULL) {
        if (krb5_init_context(&kc) != 0) {
            ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                           "cannot read the Kerberos configuration "
                           "(KRB5_CONFIG)");
        } else if (krb5_get_default_realm(kc, &r) != 0) {
            ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                           "no default_realm in the Kerberos "
                           "configuration; give names with a realm");
        } else {
            st->default_realm = strdup(r);
            if (st->default_realm == NULL)
                ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        }
        if (r != NULL)
            krb5_free_default_realm(kc, r);
        if (kc != NULL)
            krb5_free_context(kc);
    }
    *realm_out = st->default_realm;
    pthread_mutex_unlock(&st->lock);
    return ret;
}

/* True when s is all upper case letters, digits and punctuation, as realm
 * names conventionally are (host names are case-insensitive and written
 * in lower case). */
static bool
looks_like_realm(const char *s)
{
    bool alpha = false;

    for (; *s; s++) {
        if (*s >= 'a' && *s <= 'z')
            return false;
        if (*s >= 'A' && *s <= 'Z')
            alpha = true;
    }
    return alpha;
}

/* The realm [domain_realm] maps the host of "service@host" or
 * "svc/host" to, into out ("" when no rule names it). */
static void
host_realm(const char *name, const char *at, char *out, size_t cap)
{
    char host[256];
    const char *h = at != NULL ? at + 1 : strchr(name, '/') + 1;
    const char *end = h + strcspn(h, "/@");
    krb5_context kc = NULL;
    char **realms = NULL;

    out[0] = '\0';
    if ((size_t)(end - h) >= sizeof(host) || end == h)
        return;
    memcpy(host, h, (size_t)(end - h));
    host[end - h] = '\0';
    if (krb5_init_context(&kc) != 0)
        return;
    if (krb5_get_host_realm(kc, host, &realms) == 0 && realms != NULL &&
        realms[0] != NULL && realms[0][0] != '\0' &&
        strlen(realms[0]) < cap)
        memcpy(out, realms[0], strlen(realms[0]) + 1);
    if (realms != NULL)
        krb5_free_host_realm(kc, realms);
    krb5_free_context(kc);
}

hsmssp_err
kerb_name_canon_env(prov_env *env, const char *name, char **out)
{
    char hrealm[KERB_KS_MAX_PRINCIPAL + 1] = "";
    const char *at, *realm = NULL;
    size_t n;
    hsmssp_err ret;

    *out = NULL;
    if (name == NULL || *name == '\0' || strlen(name) > KERB_KS_MAX_PRINCIPAL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "principal name empty or too long");
    at = strrchr(name, '@');
    /* "svc/host@REALM" or "user@REALM": already a principal. */
    if (at != NULL && (strchr(name, '/') != NULL || looks_like_realm(at + 1))) {
        *out = strdup(name);
        return *out ? HSMSSP_OK : BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    /* The realm of a host-based name comes from [domain_realm] (as MIT's
     * krb5_sname_to_principal); anything else, or a host no rule maps,
     * gets the default realm. */
    if (at != NULL || strchr(name, '/') != NULL)
        host_realm(name, at, hrealm, sizeof(hrealm));
    if (hrealm[0] != '\0') {
        realm = hrealm;
    } else {
        ret = kerb_default_realm(env, &realm);
        if (ret != HSMSSP_OK)
            return ret;
    }
    n = strlen(name) + strlen(realm) + 2;
    *out = malloc(n);
    if (*out == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    if (at != NULL) {
        /* GSS host-based service "service@host" -> "service/host@REALM". */
        (void)snprintf(*out, n, "%.*s/%s@%s", (int)(at - name), name, at + 1,
                       realm);
    } else {
        (void)snprintf(*out, n, "%s@%s", name, realm);
    }
    return HSMSSP_OK;
}

/* ---- credentials ------------------------------------------------------- */

void
kerb_cred_free(void *p)
{
    kerb_cred *c = p;

    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_keys; i++)
        if (!c->keys[i].borrowed)
            hsm_key_free(c->keys[i].key);
    free(c->keys);
    kerb_out_free(c->out);
    free(c->principal);
    pthread_mutex_destroy(&c->lock);
    prov_env_unref(c->env);
    free(c);
}

static hsmssp_err
add_key(kerb_cred *c, const kerb_ks_entry *e, hsm_key *key, bool borrowed)
{
    kerb_cred_key *v = realloc(c->keys, (c->n_keys + 1) * sizeof(*v));

    if (v == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    c->keys = v;
    v[c->n_keys].e = *e;
    v[c->n_keys].key = key;
    v[c->n_keys].borrowed = borrowed;
    c->n_keys++;
    return HSMSSP_OK;
}

hsmssp_err
kerb_acquire(prov_env *env, const char *principal, unsigned use,
             const prov_identity *id, void **cred_out, int64_t *expiry_out)
{
    kerb_cred *c = NULL;
    kerb_state *st = NULL;
    kerb_ks_entry *v = NULL;
    size_t n = 0;
    int64_t out_expiry = 0;
    hsmssp_err ret;

    *cred_out = NULL;
    *expiry_out = 0;
    if (id != NULL && (use & PROV_CRED_OUTBOUND) == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "an identity with a password serves outbound "
                        "credentials only");
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    pthread_mutex_init(&c->lock, NULL);
    prov_env_ref(env);
    c->env = env;
    c->use = use;
    c->pid = getpid();
    ret = prov_env_token(env, &c->tok);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (use & PROV_CRED_OUTBOUND) {
        ret = kerb_out_acquire(c, principal, id, &out_expiry);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    if ((use & PROV_CRED_INBOUND) == 0) {
        *expiry_out = out_expiry;
        *cred_out = c;
        c = NULL;
        goto cleanup;
    }
    if (principal != NULL) {
        ret = kerb_name_canon_env(env, principal, &c->principal);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    /* Persistent keys on the token ... */
    ret = kerb_ks_list(c->tok, c->principal, &v, &n);
    for (size_t i = 0; ret == HSMSSP_OK && i < n; i++)
        ret = add_key(c, &v[i], NULL, false);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* ... and those this process imported into session objects. */
    ret = kerb_state_get(env, &st);
    if (ret != HSMSSP_OK)
        goto cleanup;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; ret == HSMSSP_OK && i < st->n_session_keys; i++)
        if (c->principal == NULL ||
            strcmp(c->principal, st->session_keys[i].e.principal) == 0)
            ret = add_key(c, &st->session_keys[i].e,
                          st->session_keys[i].key, true);
    pthread_mutex_unlock(&st->lock);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (c->n_keys == 0) {
        ret = BASE_ERR(HSMSSP_ERR_KEY_NOT_FOUND,
                       "no Kerberos service key%s%s on the token (import "
                       "one with 'hsmssp keytab import')",
                       c->principal ? " for " : "",
                       c->principal ? c->principal : "");
        goto cleanup;
    }
    /* Service keys do not expire; the contexts do, with their tickets.
     * A credential for both directions ends with its TGT. */
    *expiry_out = (use & PROV_CRED_OUTBOUND) ? out_expiry : INT64_MAX;
    *cred_out = c;
    c = NULL;
cleanup:
    free(v);
    kerb_cred_free(c);
    return ret;
}

hsmssp_err
kerb_cred_name(void *p, char **name_out)
{
    kerb_cred *c = p;
    const char *n = c->out != NULL ? c->out->client : c->principal;

    *name_out = NULL;
    if (n == NULL)
        return BASE_ERR(HSMSSP_ERR_UNSUPPORTED,
                        "the credential stands for every service key on "
                        "the token, not one principal");
    *name_out = strdup(n);
    return *name_out != NULL ? HSMSSP_OK : BASE_ERR0(HSMSSP_ERR_NOMEM);
}

/* Opens a candidate's key on first use. */
static hsmssp_err
load_key_unlocked(kerb_cred *c, kerb_cred_key *ck)
{
    if (ck->key != NULL)
        return HSMSSP_OK;
    return kerb_ks_find(c->tok, &ck->e, &ck->key);
}

hsmssp_err
kerb_cred_keys_for(kerb_cred *c, const char *server, int32_t etype,
                   bool has_kvno, uint32_t kvno, size_t max, hsm_key **keys,
                   size_t *n_out)
{
    const char *ename = hsm_etype_name(etype);
    bool principal_known = false;
    size_t n = 0;
    hsmssp_err ret = HSMSSP_OK;

    *n_out = 0;
    if (ename == NULL)
        ename = "an unknown enctype";
    if (c->principal != NULL && strcmp(c->principal, server) != 0)
        return BASE_ERR(HSMSSP_ERR_WRONG_PRINCIPAL,
                        "ticket is for %s, the credential for %s", server,
                        c->principal);
    pthread_mutex_lock(&c->lock);
    /* Pass 0: the ticket's own principal, kvno and enctype (any kvno when
     * the ticket names none).  Pass 1, for a credential of any principal:
     * every other key of that enctype, as MIT's acceptor does with
     * GSS_C_NO_NAME (aliases, kvno skew), up to the bound. */
    for (int pass = 0; pass < 2 && ret == HSMSSP_OK; pass++) {
        if (pass == 1 && c->principal != NULL)
            break;
        for (size_t i = 0; i < c->n_keys && n < max; i++) {
            kerb_cred_key *ck = &c->keys[i];
            bool same = strcmp(ck->e.principal, server) == 0;
            bool exact = same && ck->e.etype == etype &&
                         (!has_kvno || ck->e.kvno == kvno);

            principal_known |= same;
            if (pass == 0 ? !exact : (exact || ck->e.etype != etype))
                continue;
            ret = load_key_unlocked(c, ck);
            if (ret == HSMSSP_ERR_KEY_NOT_FOUND && pass == 1) {
                /* Another principal's key removed from the token since
                 * the credential was acquired: it is no candidate, and the
                 * ticket's own keys (pass 0) still are. */
                ret = HSMSSP_OK;
                continue;
            }
            if (ret != HSMSSP_OK)
                break;
            keys[n++] = ck->key;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (ret != HSMSSP_OK)
        return ret;
    if (n == 0 && !principal_known)
        return BASE_ERR(HSMSSP_ERR_WRONG_PRINCIPAL,
                        "no key for %s on the token (ticket kvno %u, %s)",
                        server, (unsigned)kvno, ename);
    if (n == 0) {
        if (has_kvno)
            return BASE_ERR(HSMSSP_ERR_NO_KEY,
                            "no key for %s with kvno %u and %s on the "
                            "token",
                            server, (unsigned)kvno, ename);
        return BASE_ERR(HSMSSP_ERR_NO_KEY,
                        "no %s key for %s on the token", ename, server);
    }
    *n_out = n;
    return HSMSSP_OK;
}

/* ---- local accounts ---------------------------------------------------- */

hsmssp_err
kerb_local_name(void *p, char **name_out)
{
    kerb_ctx *ctx = p;
    krb5_context kc = NULL;
    krb5_principal pr = NULL;
    char buf[256];
    hsmssp_err ret = HSMSSP_OK;

    *name_out = NULL;
    if (!ctx->established || ctx->initiator)
        return BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                        "impersonation needs an established acceptor "
                        "context");
    if (krb5_init_context(&kc) != 0)
        return BASE_ERR(HSMSSP_ERR_CONFIG,
                        "cannot read the Kerberos configuration");
    if (krb5_parse_name(kc, ctx->client, &pr) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_NO_IMPERSONATION,
                       "client name %s cannot be parsed", ctx->client);
    } else if (krb5_aname_to_localname(kc, pr, sizeof(buf), buf) != 0) {
        /* auth_to_local found no mapping (or a mapping too long). */
        ret = BASE_ERR(HSMSSP_ERR_NO_IMPERSONATION,
                       "%s maps to no local account (krb5.conf "
                       "auth_to_local)",
                       ctx->client);
    } else {
        *name_out = strdup(buf);
        if (*name_out == NULL)
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    if (pr != NULL)
        krb5_free_principal(kc, pr);
    krb5_free_context(kc);
    return ret;
}
