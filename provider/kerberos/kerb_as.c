/*
 * provider/kerberos/kerb_as.c - the AS exchange (RFC 4120 sec. 3.1) for
 * an account whose long-term key is on the token.
 *
 * The path of the keys:
 *   - The long-term key never leaves the token: the PA-ENC-TIMESTAMP is
 *     encrypted on it (usage 1) and the AS-REP's enc-part decrypted on it
 *     (usage 3) into a base_secret.
 *   - A password (explicit identity, `hsmssp account import`) becomes a
 *     key once, on the host, with the salt the KDC announces
 *     (hsm_string_to_key, level H(import)); the key is imported at once
 *     and its bytes wiped.  The password itself is the caller's.
 *   - The TGT session key is a view into the decrypted EncASRepPart (a
 *     base_secret): it is imported into the token before this file
 *     returns and the plaintext wiped, on success and on failure.
 *
 * The conversation is MIT's: an AS-REQ without pre-authentication; on
 * KDC_ERR_PREAUTH_REQUIRED, the METHOD-DATA's ETYPE-INFO2 names the
 * enctype, salt and s2kparams, and a second AS-REQ carries
 * PA-ENC-TIMESTAMP.  A KDC that does not require pre-authentication
 * answers the first request; its reply's ETYPE-INFO2 (or the default
 * salt) then serves a password.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/kerberos/kerb-int.h"
#include "provider/kerberos/kerb_kdc.h"

/* Requests and replies are built in ordinary heap buffers of this size
 * (an AS-REQ is a few hundred bytes; the bound is generous). */
#define REQ_CAP 4096

typedef struct as_state {
    prov_env *env;
    hsm_token *tok;
    const prov_config *cfg;
    kerb_as_keys *keys;
    const kerb_import_opts *imp;
    kerb_as_info *info;

    char ctext[KERB_KS_MAX_PRINCIPAL + 1]; /* the client's name */
    char cstore[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_principal cname;
    base_der crealm;
    char realm[KERB_KS_MAX_PRINCIPAL + 1];
    char server[KERB_KS_MAX_PRINCIPAL + 1];
    char sstore[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_principal sname;
    base_der srealm;

    int32_t etypes[KERB_MAX_ETYPES];
    size_t n_etypes;
    uint32_t nonce;

    /* What the KDC said about the client's keys (copied out of the
     * reply that carried it). */
    bool have_hint;
    int32_t hint_etype;
    bool hint_has_salt;
    char hint_salt[512];
    size_t hint_salt_len;
    uint8_t hint_params[16];
    size_t hint_params_len;

    uint8_t *rep;
    size_t rep_len;
    base_secret *plain; /* EncASRepPart: holds the TGT session key */
} as_state;

static kerb_lt_key *
key_for(as_state *st, int32_t etype)
{
    for (size_t i = 0; i < st->keys->n_keys; i++)
        if (st->keys->keys[i].etype == etype)
            return &st->keys->keys[i];
    return NULL;
}

/* The enctypes offered, in preference order: the account's keys, or for
 * a password every permitted enctype the token can run. */
static hsmssp_err
choose_etypes(as_state *st)
{
    st->n_etypes = 0;
    if (st->keys->password == NULL) {
        for (size_t i = 0; i < st->keys->n_keys; i++)
            if (st->n_etypes < KERB_MAX_ETYPES &&
                kerb_etype_permitted(st->cfg, st->keys->keys[i].etype))
                st->etypes[st->n_etypes++] = st->keys->keys[i].etype;
    } else {
        for (size_t i = 0; i < st->cfg->n_permitted_enctypes; i++) {
            int32_t e = st->cfg->permitted_enctypes[i];

            if (st->n_etypes < KERB_MAX_ETYPES && kerb_etype_runs(st->tok, e))
                st->etypes[st->n_etypes++] = e;
        }
    }
    if (st->n_etypes == 0)
        return BASE_ERR(HSMSSP_ERR_POLICY_ENCTYPE,
                        "no key of %s in an enctype that permitted_enctypes "
                        "lists",
                        st->ctext);
    return HSMSSP_OK;
}

/* ---- the KDC's hints (ETYPE-INFO2) ----------------------------------- */

/* Keeps the first ETYPE-INFO2 entry whose enctype was offered. */
static hsmssp_err
take_etype_info2(as_state *st, const kerb_pa_data *pa, size_t n)
{
    kerb_etype_info2 info[KERB_MAX_ETYPES];
    size_t ni = 0;
    hsmssp_err ret;

    for (size_t i = 0; i < n; i++) {
        if (pa[i].type != KERB_PA_ETYPE_INFO2)
            continue;
        ret = kerb_dec_etype_info2(pa[i].value, info, KERB_MAX_ETYPES, &ni);
        if (ret != HSMSSP_OK)
            return ret;
        for (size_t j = 0; j < ni; j++) {
            bool offered = false;

            for (size_t k = 0; k < st->n_etypes; k++)
                offered |= st->etypes[k] == info[j].etype;
            if (!offered)
                continue;
            if (info[j].has_salt &&
                info[j].salt.len >= sizeof(st->hint_salt))
                return BASE_ERR(HSMSSP_ERR_LIMIT,
                                "KDC announces a salt of %zu bytes",
                                info[j].salt.len);
            if (info[j].has_s2kparams &&
                info[j].s2kparams.len > sizeof(st->hint_params))
                return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                                "KDC announces s2kparams of %zu bytes",
                                info[j].s2kparams.len);
            st->have_hint = true;
            st->hint_etype = info[j].etype;
            st->hint_has_salt = info[j].has_salt;
            st->hint_salt_len = info[j].has_salt ? info[j].salt.len : 0;
            if (st->hint_salt_len > 0)
                memcpy(st->hint_salt, info[j].salt.p, st->hint_salt_len);
            st->hint_salt[st->hint_salt_len] = '\0';
            st->hint_params_len =
                info[j].has_s2kparams ? info[j].s2kparams.len : 0;
            if (st->hint_params_len > 0)
                memcpy(st->hint_params, info[j].s2kparams.p,
                       st->hint_params_len);
            return HSMSSP_OK;
        }
    }
    return HSMSSP_OK;
}

/* RFC 4120 sec. 4: the default salt is the realm followed by the name's
 * components, concatenated. */
static hsmssp_err
salt_of(const kerb_principal *p, base_der realm, char *out, size_t cap,
        size_t *len_out)
{
    size_t n = realm.len;

    if (n >= cap)
        return BASE_ERR(HSMSSP_ERR_LIMIT, "salt too long");
    memcpy(out, realm.p, n);
    for (size_t i = 0; i < p->n; i++) {
        if (p->comp[i].len >= cap - n)
            return BASE_ERR(HSMSSP_ERR_LIMIT, "salt too long");
        memcpy(out + n, p->comp[i].p, p->comp[i].len);
        n += p->comp[i].len;
    }
    out[n] = '\0';
    *len_out = n;
    return HSMSSP_OK;
}

static hsmssp_err
default_salt(as_state *st, char *out, size_t cap, size_t *len_out)
{
    return salt_of(&st->cname, st->crealm, out, cap, len_out);
}

hsmssp_err
kerb_default_salt(const char *client, char *out, size_t cap)
{
    char store[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_principal p;
    base_der realm;
    size_t n = 0;
    hsmssp_err ret;

    if (strlen(client) > KERB_KS_MAX_PRINCIPAL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "name too long");
    ret = kerb_principal_parse(client, KERB_NT_PRINCIPAL, store, &p, &realm);
    if (ret != HSMSSP_OK)
        return ret;
    return salt_of(&p, realm, out, cap, &n);
}

hsmssp_err
kerb_check_s2kparams(int32_t etype, const uint8_t *params, size_t len)
{
    uint32_t iter, dflt;

    if (params == NULL || len == 0)
        return HSMSSP_OK;
    if (etype == HSM_ETYPE_AES128_SHA1 || etype == HSM_ETYPE_AES256_SHA1)
        dflt = 4096; /* RFC 3962 */
    else if (etype == HSM_ETYPE_AES128_SHA256 ||
             etype == HSM_ETYPE_AES256_SHA384)
        dflt = 32768; /* RFC 8009 */
    else
        return HSMSSP_OK; /* rc4 takes none */
    if (len != 4)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "s2kparams of %zu bytes for %s", len,
                        hsm_etype_name(etype));
    iter = base_load_be32(params);
    if (iter < dflt)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "the KDC asks for %u PBKDF2 iterations for %s, fewer "
                        "than the enctype's default %u: refused (the hint "
                        "is not authenticated, and would make the password "
                        "cheaper to guess)",
                        (unsigned)iter, hsm_etype_name(etype),
                        (unsigned)dflt);
    return HSMSSP_OK;
}

/* The password's key for etype, made with the announced (or overriding,
 * or default) salt and imported into a session object; added to keys. */
static hsmssp_err
password_key(as_state *st, int32_t etype, kerb_lt_key **out)
{
    kerb_as_keys *k = st->keys;
    char salt[512];
    size_t salt_len = 0;
    const uint8_t *params = NULL;
    size_t params_len = 0;
    base_secret *bytes = NULL;
    hsm_key_spec spec;
    hsm_key *key = NULL;
    hsmssp_err ret;

    *out = key_for(st, etype);
    if (*out != NULL)
        return HSMSSP_OK;
    if (k->n_keys >= k->cap_keys)
        return BASE_ERR(HSMSSP_ERR_LIMIT, "too many password keys");
    if (k->salt != NULL) {
        salt_len = strlen(k->salt);
        if (salt_len >= sizeof(salt))
            return BASE_ERR(HSMSSP_ERR_LIMIT, "salt too long");
        memcpy(salt, k->salt, salt_len + 1);
    } else if (st->have_hint && st->hint_etype == etype &&
               st->hint_has_salt) {
        salt_len = st->hint_salt_len;
        memcpy(salt, st->hint_salt, salt_len + 1);
    } else {
        ret = default_salt(st, salt, sizeof(salt), &salt_len);
        if (ret != HSMSSP_OK)
            return ret;
    }
    if (st->have_hint && st->hint_etype == etype && st->hint_params_len) {
        params = st->hint_params;
        params_len = st->hint_params_len;
    }
    ret = kerb_check_s2kparams(etype, params, params_len);
    if (ret != HSMSSP_OK)
        return ret;
    ret = hsm_string_to_key(etype, (const char *)k->password->data,
                            k->password->len, (const uint8_t *)salt,
                            salt_len, params, params_len, &bytes);
    if (ret != HSMSSP_OK)
        return ret;
    kerb_key_spec(&spec, etype, KERB_JOB_PASSWORD);
    ret = hsm_key_import(st->tok, &spec, bytes, &key);
    base_secret_free(bytes);
    if (ret != HSMSSP_OK)
        return ret;
    k->keys[k->n_keys].etype = etype;
    k->keys[k->n_keys].kvno = 0;
    k->keys[k->n_keys].key = key;
    *out = &k->keys[k->n_keys++];
    if (st->info != NULL) {
        memcpy(st->info->salt, salt, salt_len + 1);
        memcpy(st->info->s2kparams, params ? params : st->hint_params,
               params_len);
        st->info->s2kparams_len = params_len;
    }
    return HSMSSP_OK;
}

/* ---- the request ----------------------------------------------------- */

/* PA-ENC-TIMESTAMP: PA-ENC-TS-ENC encrypted on the token, usage 1. */
static hsmssp_err
make_enc_ts(const kerb_lt_key *k, uint8_t *out, size_t cap,
            base_der *pa_out)
{
    uint8_t ts[64], cipher[256];
    base_der_w w;
    base_der tsv;
    kerb_enc_data ed;
    int64_t now = prov_now_us();
    size_t clen = 0;
    hsmssp_err ret;

    base_der_w_init(&w, ts, sizeof(ts));
    kerb_enc_pa_enc_ts(&w, now / 1000000, (int32_t)(now % 1000000));
    ret = base_der_w_finish(&w, &tsv);
    if (ret == HSMSSP_OK)
        ret = hsm_krb_encrypt(k->key, HSM_USAGE_AS_REQ_PA_ENC_TS, tsv.p,
                              tsv.len, cipher, sizeof(cipher), &clen);
    if (ret != HSMSSP_OK)
        return ret;
    memset(&ed, 0, sizeof(ed));
    ed.etype = k->etype;
    ed.cipher = base_der_view(cipher, clen);
    base_der_w_init(&w, out, cap);
    kerb_enc_enc_data(&w, &ed);
    return base_der_w_finish(&w, pa_out);
}

static hsmssp_err
build_req(as_state *st, const kerb_lt_key *preauth, uint8_t *buf,
          size_t cap, base_der *req_out)
{
    uint8_t pabuf[512], bodybuf[2048];
    kerb_pa_data pa[1];
    kerb_kdc_req r;
    base_der_w w;
    base_der body;
    int64_t now = prov_now_us() / 1000000;
    hsmssp_err ret;

    memset(&r, 0, sizeof(r));
    r.msg_type = KERB_MSG_AS_REQ;
    if (preauth != NULL) {
        ret = make_enc_ts(preauth, pabuf, sizeof(pabuf), &pa[0].value);
        if (ret != HSMSSP_OK)
            return ret;
        pa[0].type = KERB_PA_ENC_TIMESTAMP;
        r.padata = pa;
        r.n_padata = 1;
    }
    /* Forwardable, so that delegation is possible where policy allows
     * it; renewable when the configuration asks for a renew lifetime. */
    /* No CANONICALIZE: the AS-REP's client name is outside its encrypted
     * part, so a name the KDC changed could not be told from one an
     * attacker changed (RFC 6806 needs FAST or PA-REQ-ENC-PA-REP for
     * that); the reply must name the client asked for. */
    r.kdc_options = KERB_KDC_OPT_FORWARDABLE;
    r.has_cname = true;
    r.cname = st->cname;
    r.realm = st->crealm;
    r.has_sname = true;
    r.sname = st->sname;
    r.till = now + st->cfg->ticket_lifetime;
    if (st->cfg->renew_lifetime > 0) {
        r.kdc_options |= KERB_KDC_OPT_RENEWABLE;
        r.has_rtime = true;
        r.rtime = now + st->cfg->renew_lifetime;
    }
    r.nonce = st->nonce;
    r.etypes = st->etypes;
    r.n_etypes = st->n_etypes;
    base_der_w_init(&w, bodybuf, sizeof(bodybuf));
    kerb_enc_kdc_req_body(&w, &r);
    ret = base_der_w_finish(&w, &body);
    if (ret != HSMSSP_OK)
        return ret;
    base_der_w_init(&w, buf, cap);
    kerb_enc_kdc_req(&w, &r, body);
    return base_der_w_finish(&w, req_out);
}

static hsmssp_err
send_req(as_state *st, base_der req)
{
    kerb_kdc_cfg kc;

    free(st->rep);
    st->rep = NULL;
    st->rep_len = 0;
    kerb_kdc_cfg_init(&kc, st->cfg);
    return kerb_kdc_send(st->realm, req.p, req.len, &kc, &st->rep,
                         &st->rep_len);
}

/* ---- the reply ------------------------------------------------------- */

static hsmssp_err
open_reply(as_state *st, kerb_tkt **tkt_out)
{
    char peer[KERB_KS_MAX_PRINCIPAL + 16];
    char client[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_kdc_rep rep;
    kerb_enc_kdc_rep_part ep;
    kerb_lt_key *k;
    hsm_key_spec spec;
    hsm_key *skey = NULL;
    base_secret kv;
    int64_t now = prov_now_us() / 1000000;
    hsmssp_err ret;

    (void)snprintf(peer, sizeof(peer), "KDC for %s", st->realm);
    ret = kerb_dec_kdc_rep(base_der_view(st->rep, st->rep_len), &rep);
    if (ret != HSMSSP_OK)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "%s sent a malformed AS-REP",
                        peer);
    if (rep.msg_type != KERB_MSG_AS_REP)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s answered an AS-REQ with message type %d", peer,
                        (int)rep.msg_type);
    if (!kerb_principal_eq(&rep.cname, &st->cname) ||
        !base_der_eq(rep.crealm, st->crealm))
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s answered for another client than %s", peer,
                        st->ctext);
    ret = kerb_principal_unparse(&rep.cname, rep.crealm, client,
                                 sizeof(client));
    if (ret != HSMSSP_OK)
        return ret;
    ret = take_etype_info2(st, rep.padata, rep.n_padata);
    if (ret != HSMSSP_OK)
        return ret;
    if (st->keys->password != NULL) {
        bool offered = false;

        for (size_t i = 0; i < st->n_etypes; i++)
            offered |= st->etypes[i] == rep.enc.etype;
        if (!offered)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "%s encrypted the AS-REP in enctype %d, which "
                            "was not offered",
                            peer, (int)rep.enc.etype);
        ret = password_key(st, rep.enc.etype, &k);
        if (ret != HSMSSP_OK)
            return ret;
    } else {
        k = key_for(st, rep.enc.etype);
        if (k == NULL)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "%s encrypted the AS-REP in enctype %d, for "
                            "which %s has no key here",
                            peer, (int)rep.enc.etype, st->ctext);
    }
    ret = kerb_rep_decrypt(k->key, HSM_USAGE_AS_REP_ENCPART, &rep,
                           &st->plain, &ep);
    if (ret == HSMSSP_ERR_INTEGRITY)
        return BASE_ERR(HSMSSP_ERR_PREAUTH_FAILED,
                        "the AS-REP for %s does not decrypt with its %s key "
                        "(wrong key or password)",
                        st->ctext, hsm_etype_name(k->etype));
    if (ret != HSMSSP_OK)
        return ret;
    /* The checks that bind the reply to this request (RFC 4120 sec.
     * 3.1.5): the nonce, the server asked for, a sane lifetime. */
    if (ep.nonce != st->nonce)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s answered with another request's nonce", peer);
    if (!kerb_principal_eq(&ep.sname, &st->sname) ||
        !base_der_eq(ep.srealm, st->srealm))
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s issued a ticket for another server than %s",
                        peer, st->server);
    ret = kerb_rep_check(st->cfg, peer, &rep, &ep, now);
    if (ret != HSMSSP_OK)
        return ret;

    /* Arrival: the session key goes into the token now. */
    kerb_key_spec(&spec, ep.key.etype, KERB_JOB_TGT);
    kerb_import_opts_apply(&spec, st->imp);
    kv = kerb_key_view(&ep.key);
    ret = hsm_key_import(st->tok, &spec, &kv, &skey);
    if (ret != HSMSSP_OK)
        return ret;
    ret = kerb_tkt_new(rep.ticket.whole, &ep, client, skey, tkt_out);
    if (ret != HSMSSP_OK)
        return ret;
    if (spec.persistent) {
        memcpy((*tkt_out)->key_id, spec.id, spec.id_len);
        (*tkt_out)->key_id_len = spec.id_len;
    }
    if (st->info != NULL) {
        st->info->etype = k->etype;
        st->info->has_kvno = rep.enc.has_kvno;
        st->info->kvno = rep.enc.kvno;
        if (st->info->salt[0] == '\0' && st->have_hint &&
            st->hint_has_salt && st->hint_etype == k->etype)
            memcpy(st->info->salt, st->hint_salt, st->hint_salt_len + 1);
    }
    return HSMSSP_OK;
}

/* A KRB-ERROR: PREAUTH_REQUIRED gives the hint and asks for another
 * round (*again); anything else is the answer. */
static hsmssp_err
handle_error(as_state *st, bool sent_preauth, bool *again)
{
    char peer[KERB_KS_MAX_PRINCIPAL + 16];
    kerb_error e;
    kerb_pa_data pa[KERB_MAX_PADATA];
    size_t n = 0;
    int32_t code = 0;
    hsmssp_err ret;

    *again = false;
    (void)snprintf(peer, sizeof(peer), "KDC for %s", st->realm);
    ret = kerb_dec_error(base_der_view(st->rep, st->rep_len), &e);
    if (ret != HSMSSP_OK)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "%s sent a malformed KRB-ERROR",
                        peer);
    if (e.code == KERB_KDC_ERR_PREAUTH_REQUIRED && !sent_preauth) {
        if (e.has_edata) {
            ret = kerb_dec_padata_seq(e.edata, pa, KERB_MAX_PADATA, &n);
            if (ret == HSMSSP_OK)
                ret = take_etype_info2(st, pa, n);
            if (ret != HSMSSP_OK)
                return ret;
        }
        *again = true;
        return HSMSSP_OK;
    }
    ret = kerb_error_to_err(base_der_view(st->rep, st->rep_len), peer, &code);
    (void)code;
    return ret;
}

/* The enctype to pre-authenticate with: the KDC's choice when it named
 * one we have, else our first. */
static hsmssp_err
preauth_key(as_state *st, kerb_lt_key **out)
{
    int32_t etype = st->have_hint ? st->hint_etype : st->etypes[0];

    if (st->keys->password != NULL)
        return password_key(st, etype, out);
    *out = key_for(st, etype);
    if (*out == NULL)
        return BASE_ERR(HSMSSP_ERR_KDC_ETYPE,
                        "the KDC wants %s pre-authentication, and %s has no "
                        "key of that enctype here",
                        hsm_etype_name(etype), st->ctext);
    return HSMSSP_OK;
}

static hsmssp_err
names(as_state *st, const char *client, const char *server)
{
    hsmssp_err ret;

    if (strlen(client) > KERB_KS_MAX_PRINCIPAL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "client name too long");
    ret = kerb_principal_parse(client, KERB_NT_PRINCIPAL, st->cstore,
                               &st->cname, &st->crealm);
    if (ret != HSMSSP_OK)
        return ret;
    if (st->crealm.len == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "client name %s has no realm", client);
    memcpy(st->realm, st->crealm.p, st->crealm.len);
    st->realm[st->crealm.len] = '\0';
    memcpy(st->ctext, client, strlen(client) + 1);
    if (server == NULL) {
        if (snprintf(st->server, sizeof(st->server), "krbtgt/%s@%s",
                     st->realm, st->realm) >= (int)sizeof(st->server))
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "realm too long");
    } else {
        if (strlen(server) >= sizeof(st->server))
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "server name too long");
        memcpy(st->server, server, strlen(server) + 1);
    }
    ret = kerb_principal_parse(st->server, KERB_NT_SRV_INST, st->sstore,
                               &st->sname, &st->srealm);
    if (ret == HSMSSP_OK && st->srealm.len == 0)
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "server name %s has no realm", st->server);
    return ret;
}

hsmssp_err
kerb_as_exchange(prov_env *env, hsm_token *tok, const char *client,
                 const char *server, kerb_as_keys *keys,
                 const kerb_import_opts *imp, kerb_as_info *info,
                 kerb_tkt **tkt_out)
{
    as_state st;
    uint8_t *buf = NULL;
    base_der req;
    kerb_lt_key *pk = NULL;
    bool again = false;
    hsmssp_err ret;

    *tkt_out = NULL;
    memset(&st, 0, sizeof(st));
    st.env = env;
    st.tok = tok;
    st.cfg = prov_env_config(env);
    st.keys = keys;
    st.imp = imp;
    st.info = info;
    if (info != NULL)
        memset(info, 0, sizeof(*info));
    ret = names(&st, client, server);
    if (ret == HSMSSP_OK)
        ret = choose_etypes(&st);
    if (ret == HSMSSP_OK)
        ret = hsm_random((uint8_t *)&st.nonce, sizeof(st.nonce));
    if (ret != HSMSSP_OK)
        goto cleanup;
    st.nonce &= 0x7fffffffu; /* MIT and Windows keep nonces positive */
    buf = malloc(REQ_CAP);
    if (buf == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    /* Round 1 without pre-authentication; round 2 with it, when the KDC
     * asked.  A KDC asking twice is refused rather than looped with. */
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            ret = preauth_key(&st, &pk);
            if (ret != HSMSSP_OK)
                goto cleanup;
        }
        ret = build_req(&st, pk, buf, REQ_CAP, &req);
        if (ret == HSMSSP_OK)
            ret = send_req(&st, req);
        if (ret != HSMSSP_OK)
            goto cleanup;
        if (st.rep_len > 0 && st.rep[0] == BASE_DER_APP(KERB_MSG_ERROR)) {
            ret = handle_error(&st, pk != NULL, &again);
            if (ret != HSMSSP_OK)
                goto cleanup;
            if (again)
                continue;
        }
        ret = open_reply(&st, tkt_out);
        goto cleanup;
    }
    ret = BASE_ERR(HSMSSP_ERR_PREAUTH_FAILED,
                   "the KDC for %s asked for pre-authentication twice",
                   st.realm);
cleanup:
    if (ret != HSMSSP_OK)
        base_log(HSMSSP_LOG_INFO, "kerberos", "AS exchange for %s: %s",
                 client, hsmssp_last_error_detail());
    base_secret_free(st.plain);
    free(st.rep);
    free(buf);
    return ret;
}

/* ---- salt discovery (account import) ------------------------------------ */

hsmssp_err
kerb_as_probe(prov_env *env, const char *client, int32_t etype,
              kerb_as_info *info)
{
    as_state st;
    kerb_as_keys none;
    uint8_t *buf = NULL;
    base_der req;
    kerb_kdc_rep rep;
    kerb_pa_data pa[KERB_MAX_PADATA];
    kerb_error e;
    size_t n = 0, salt_len = 0;
    hsmssp_err ret;

    memset(&st, 0, sizeof(st));
    memset(&none, 0, sizeof(none));
    memset(info, 0, sizeof(*info));
    st.env = env;
    st.cfg = prov_env_config(env);
    st.keys = &none;
    st.etypes[0] = etype;
    st.n_etypes = 1;
    ret = names(&st, client, NULL);
    if (ret == HSMSSP_OK && hsm_etype_keylen(etype) == 0)
        ret = BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE, "enctype %d",
                       (int)etype);
    if (ret == HSMSSP_OK)
        ret = hsm_random((uint8_t *)&st.nonce, sizeof(st.nonce));
    if (ret != HSMSSP_OK)
        return ret;
    st.nonce &= 0x7fffffffu;
    buf = malloc(REQ_CAP);
    if (buf == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    /* One enctype per request: MIT's KDC names only the best of those
     * offered in its ETYPE-INFO2. */
    ret = build_req(&st, NULL, buf, REQ_CAP, &req);
    if (ret == HSMSSP_OK)
        ret = send_req(&st, req);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (st.rep_len > 0 && st.rep[0] == BASE_DER_APP(KERB_MSG_ERROR)) {
        ret = kerb_dec_error(base_der_view(st.rep, st.rep_len), &e);
        if (ret != HSMSSP_OK)
            goto cleanup;
        if (e.code != KERB_KDC_ERR_PREAUTH_REQUIRED) {
            char peer[KERB_KS_MAX_PRINCIPAL + 16];

            (void)snprintf(peer, sizeof(peer), "KDC for %s", st.realm);
            ret = kerb_error_to_err(base_der_view(st.rep, st.rep_len), peer,
                                    NULL);
            goto cleanup;
        }
        info->has_kvno = false;
        if (e.has_edata)
            ret = kerb_dec_padata_seq(e.edata, pa, KERB_MAX_PADATA, &n);
        if (ret == HSMSSP_OK)
            ret = take_etype_info2(&st, pa, n);
    } else {
        /* No pre-authentication required: the AS-REP's padata may
         * carry the hint, and its enc-part names the kvno. */
        ret = kerb_dec_kdc_rep(base_der_view(st.rep, st.rep_len), &rep);
        if (ret == HSMSSP_OK)
            ret = take_etype_info2(&st, rep.padata, rep.n_padata);
        if (ret == HSMSSP_OK) {
            info->has_kvno = rep.enc.has_kvno;
            info->kvno = rep.enc.kvno;
        }
    }
    if (ret != HSMSSP_OK)
        goto cleanup;
    info->etype = etype;
    if (st.have_hint && st.hint_etype == etype && st.hint_has_salt) {
        memcpy(info->salt, st.hint_salt, st.hint_salt_len + 1);
    } else {
        ret = default_salt(&st, info->salt, sizeof(info->salt), &salt_len);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    if (st.have_hint && st.hint_etype == etype && st.hint_params_len) {
        memcpy(info->s2kparams, st.hint_params, st.hint_params_len);
        info->s2kparams_len = st.hint_params_len;
    }
cleanup:
    free(st.rep);
    free(buf);
    return ret;
}
