/*
 * provider/kerberos/kerb_init.c - InitializeSecurityContext for
 * Kerberos: the RFC 4121 initial context token (AP-REQ) out, the AP-REP
 * (or the acceptor's KRB-ERROR) in.
 *
 * The path of the keys (DESIGN sec. 2):
 *   - The service ticket's session key is on the token (kerb_tgs.c put
 *     it there at arrival): the authenticator is encrypted with it there
 *     (usage 11), and so is the delegated KRB-CRED (usage 14), and the
 *     AP-REP decrypted (usage 12).
 *   - The initiator subkey is generated on the host in a base_secret,
 *     because it travels inside the authenticator: the authenticator's
 *     encoding is built in a base_secret, encrypted on the token, and the
 *     subkey imported into the token; then both buffers are wiped.
 *   - The acceptor subkey arrives in the AP-REP, decrypted on the token
 *     into a base_secret, imported at once, wiped.
 *   - Delegation is the one place where a TGT session key is meant to
 *     leave: a fresh forwarded TGT's key (never imported) goes into the
 *     EncKrbCredPart, encrypted on the token for the service, and is
 *     wiped.  It happens only when policy allows it (allow_delegation)
 *     and the KDC marked the service ok-as-delegate (or policy ignores
 *     that flag); otherwise ISC_RET_DELEGATE is simply not granted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provider/kerberos/kerb-int.h"

/* Room for everything in an authenticator but the delegated KRB-CRED. */
#define AUTH_CAP 2048

typedef struct init_state {
    kerb_cred *cred;
    kerb_ctx *ctx;
    const prov_config *cfg;
    char server[KERB_KS_MAX_PRINCIPAL + 1];
    uint32_t gss_flags;
    uint8_t *krb_cred; /* KRB-CRED for the checksum (public ciphertext) */
    size_t krb_cred_len;
    base_secret *subkey;
    base_secret *auth_plain;
    base_secret *fwd_key;  /* forwarded TGT key, on its way out */
    base_secret *cred_plain;
    base_secret *rep_plain;
} init_state;

/* ---- delegation --------------------------------------------------------- */

/* Whether a forwarded TGT may go to this service, with the reason when
 * not (logged; the caller sees the flag withheld). */
static bool
may_delegate(init_state *st, const kerb_tkt *svc, const kerb_tkt *tgt,
             const char **why)
{
    if (!st->cfg->allow_delegation) {
        *why = "policy does not allow delegation (allow_delegation)";
        return false;
    }
    if ((svc->flags & KERB_TKT_OK_AS_DELEGATE) == 0 &&
        !st->cfg->ignore_ok_as_delegate) {
        *why = "the KDC did not mark the service ok-as-delegate";
        return false;
    }
    if ((tgt->flags & KERB_TKT_FORWARDABLE) == 0) {
        *why = "the TGT is not forwardable";
        return false;
    }
    return true;
}

/* KRB-CRED holding a fresh forwarded TGT, EncKrbCredPart encrypted in
 * the service ticket's session key (as MIT and Windows do). */
static hsmssp_err
make_krb_cred(init_state *st, const kerb_tkt *svc, const kerb_tkt *tgt)
{
    char pstore[KERB_KS_MAX_PRINCIPAL + 1], sstore[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_tkt *fwd = NULL;
    kerb_cred_info ci;
    kerb_enc_data ed;
    base_der_w w;
    base_der enc, outv;
    uint8_t *cipher = NULL, *out = NULL;
    size_t ocap;
    uint32_t opts = KERB_KDC_OPT_FORWARDED | KERB_KDC_OPT_FORWARDABLE;
    int64_t now = prov_now_us();
    hsmssp_err ret;

    if (tgt->flags & KERB_TKT_RENEWABLE)
        opts |= KERB_KDC_OPT_RENEWABLE;
    ret = kerb_tgs_exchange(st->ctx->env, tgt, tgt->server, opts, NULL,
                            &st->fwd_key, NULL, &fwd);
    if (ret != HSMSSP_OK)
        return ret;
    memset(&ci, 0, sizeof(ci));
    ci.key.etype = fwd->etype;
    ci.key.value = base_der_view(st->fwd_key->data, st->fwd_key->len);
    ret = kerb_principal_parse(fwd->client, KERB_NT_PRINCIPAL, pstore,
                               &ci.pname, &ci.prealm);
    if (ret == HSMSSP_OK)
        ret = kerb_principal_parse(fwd->server, KERB_NT_SRV_INST, sstore,
                                   &ci.sname, &ci.srealm);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ci.has_prealm = ci.has_pname = ci.has_flags = ci.has_authtime = true;
    ci.has_starttime = ci.has_endtime = ci.has_srealm = ci.has_sname = true;
    ci.flags = fwd->flags;
    ci.authtime = fwd->authtime;
    ci.starttime = fwd->starttime;
    ci.endtime = fwd->endtime;
    ci.has_renew_till = fwd->renew_till != 0;
    ci.renew_till = fwd->renew_till;
    /* The plaintext carries the key: built in a secure buffer. */
    ret = base_secret_new(0, 1024, &st->cred_plain);
    if (ret != HSMSSP_OK)
        goto cleanup;
    base_der_w_init(&w, st->cred_plain->data, st->cred_plain->cap);
    kerb_enc_enc_cred_part(&w, &ci, true, now / 1000000,
                           (int32_t)(now % 1000000));
    ret = base_der_w_finish(&w, &enc);
    if (ret == HSMSSP_OK)
        ret = kerb_seal(svc->key, HSM_USAGE_KRB_CRED_ENCPART, enc, &cipher,
                        &ed);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ocap = ed.cipher.len + fwd->ticket_len + 64;
    out = malloc(ocap);
    if (out == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    base_der_w_init(&w, out, ocap);
    kerb_enc_krb_cred(&w, base_der_view(fwd->ticket, fwd->ticket_len), &ed);
    ret = base_der_w_finish(&w, &outv);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memmove(out, outv.p, outv.len);
    st->krb_cred = out;
    st->krb_cred_len = outv.len;
    out = NULL;
cleanup:
    /* The forwarded TGT's key exists nowhere after this. */
    base_secret_free(st->fwd_key);
    st->fwd_key = NULL;
    base_secret_free(st->cred_plain);
    st->cred_plain = NULL;
    kerb_tkt_unref(fwd);
    free(cipher);
    free(out);
    return ret;
}

static hsmssp_err
maybe_delegate(init_state *st, const kerb_tkt *svc)
{
    kerb_tkt *tgt = NULL;
    const char *why = NULL;
    hsmssp_err ret;

    ret = kerb_out_tgt(st->cred, &tgt);
    if (ret != HSMSSP_OK) {
        base_log(HSMSSP_LOG_INFO, "kerberos",
                 "delegation to %s not granted: no TGT to forward (%s)",
                 svc->server, hsmssp_last_error_detail());
        return ret == HSMSSP_ERR_NOMEM ? ret : HSMSSP_OK;
    }
    if (!may_delegate(st, svc, tgt, &why)) {
        base_log(HSMSSP_LOG_INFO, "kerberos",
                 "delegation to %s not granted: %s", svc->server, why);
        kerb_tkt_unref(tgt);
        return HSMSSP_OK;
    }
    ret = make_krb_cred(st, svc, tgt);
    kerb_tkt_unref(tgt);
    if (ret == HSMSSP_OK) {
        st->gss_flags |= KERB_GSS_DELEG;
        st->ctx->flags |= PROV_F_DELEGATE;
    } else if (ret != HSMSSP_ERR_NOMEM) {
        /* As MIT's initiator: a forwarded TGT the KDC will not give (an
         * account not allowed to forward, a KDC hiccup) costs the
         * delegation, not the login; ISC_RET_DELEGATE says so. */
        base_log(HSMSSP_LOG_INFO, "kerberos",
                 "delegation to %s not granted: no forwarded TGT (%s)",
                 svc->server, hsmssp_last_error_detail());
        ret = HSMSSP_OK;
    }
    return ret;
}

/* ---- the AP-REQ ---------------------------------------------------------- */

/* AD-IF-RELEVANT { AD-ETYPE-NEGOTIATION { permitted enctypes } } (RFC
 * 4537): lets the acceptor choose a stronger subkey than the ticket's
 * session key.  Written as the contents of AuthorizationData. */
static hsmssp_err
etype_negotiation(const prov_config *cfg, uint8_t *buf, size_t cap,
                  base_der *out)
{
    base_der_w w;
    size_t m0, m1, m2;

    base_der_w_init(&w, buf, cap);
    m0 = base_der_w_len(&w);
    /* Inner AuthorizationData: one element of type 129. */
    m1 = base_der_w_len(&w);
    for (size_t i = cfg->n_permitted_enctypes; i-- > 0;)
        base_der_w_int(&w, cfg->permitted_enctypes[i]);
    base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - m1);
    base_der_w_wrap(&w, BASE_DER_OCTET_STRING, base_der_w_len(&w) - m1);
    base_der_w_wrap(&w, BASE_DER_CTX(1), base_der_w_len(&w) - m1);
    m2 = base_der_w_len(&w);
    base_der_w_int(&w, KERB_AD_ETYPE_NEGOTIATION);
    base_der_w_wrap(&w, BASE_DER_CTX(0), base_der_w_len(&w) - m2);
    base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - m1);
    base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - m1);
    /* Outer element: AD-IF-RELEVANT around it. */
    base_der_w_wrap(&w, BASE_DER_OCTET_STRING, base_der_w_len(&w) - m0);
    base_der_w_wrap(&w, BASE_DER_CTX(1), base_der_w_len(&w) - m0);
    m2 = base_der_w_len(&w);
    base_der_w_int(&w, KERB_AD_IF_RELEVANT);
    base_der_w_wrap(&w, BASE_DER_CTX(0), base_der_w_len(&w) - m2);
    base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - m0);
    return base_der_w_finish(&w, out);
}

/* The authenticator's time, in microseconds, never the same twice in
 * this process (as MIT's krb5_us_timeofday): the AP-REP's echo of it is
 * what binds the reply to this context, so two contexts made in the same
 * microsecond on one cached ticket must not be able to take each other's
 * reply. */
static int64_t
unique_us(void)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t last;
    int64_t now = prov_now_us();

    pthread_mutex_lock(&lock);
    if (now <= last)
        now = last + 1;
    last = now;
    pthread_mutex_unlock(&lock);
    return now;
}

static uint32_t
gss_flags_for(uint32_t req)
{
    uint32_t g = 0;

    if (req & PROV_F_MUTUAL)
        g |= KERB_GSS_MUTUAL;
    if (req & PROV_F_REPLAY)
        g |= KERB_GSS_REPLAY;
    if (req & PROV_F_SEQUENCE)
        g |= KERB_GSS_SEQUENCE;
    if (req & PROV_F_CONF)
        g |= KERB_GSS_CONF | KERB_GSS_INTEG;
    if (req & PROV_F_INTEG)
        g |= KERB_GSS_INTEG;
    if (req & PROV_F_IDENTIFY)
        g |= KERB_GSS_IDENTIFY;
    if (req & PROV_F_EXTENDED_ERROR)
        g |= KERB_GSS_EXTENDED_ERROR;
    return g;
}

static hsmssp_err
build_ap_req(init_state *st, prov_step *step)
{
    kerb_ctx *c = st->ctx;
    const kerb_tkt *t = c->tkt;
    static const uint8_t zero[16];
    uint8_t bnd[16], adbuf[256], *ck = NULL, *cipher = NULL, *out = NULL;
    char cstore[KERB_KS_MAX_PRINCIPAL + 1];
    size_t cklen = 0, ckcap, ocap;
    kerb_authenticator a;
    kerb_enc_data ed;
    kerb_cb cb;
    base_der_w w;
    base_der av, tokv, ad;
    bool mutual = (step->req_flags & PROV_F_MUTUAL) != 0;
    hsmssp_err ret;

    /* The 0x8003 checksum: channel bindings, flags, KRB-CRED. */
    memcpy(bnd, zero, sizeof(bnd));
    if (step->cb != NULL) {
        kerb_cb_from_prov(step->cb, &cb);
        ret = kerb_gss_cb_hash(&cb, bnd);
        if (ret != HSMSSP_OK)
            return ret;
    }
    ckcap = 28 + st->krb_cred_len;
    ck = malloc(ckcap);
    if (ck == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    ret = kerb_gss_cksum_build(bnd, st->gss_flags, st->krb_cred,
                               st->krb_cred_len, ck, ckcap, &cklen);
    if (ret != HSMSSP_OK)
        goto cleanup;

    /* The subkey, made on the host: it must travel in the
     * authenticator. */
    ret = hsm_arrival_random_key(t->etype, &st->subkey);
    if (ret == HSMSSP_OK)
        ret = hsm_random((uint8_t *)&c->init_seq, sizeof(c->init_seq));
    if (ret != HSMSSP_OK)
        goto cleanup;
    c->init_seq &= 0x3fffffffu; /* as MIT: far from 32-bit wrap */
    {
        int64_t now = unique_us();

        c->ctime = now / 1000000;
        c->cusec = (int32_t)(now % 1000000);
    }
    memset(&a, 0, sizeof(a));
    ret = kerb_principal_parse(t->client, KERB_NT_PRINCIPAL, cstore,
                               &a.cname, &a.crealm);
    if (ret != HSMSSP_OK)
        goto cleanup;
    a.has_cksum = true;
    a.cksum.type = KERB_CKSUM_GSSAPI;
    a.cksum.value = base_der_view(ck, cklen);
    a.ctime = c->ctime;
    a.cusec = c->cusec;
    a.has_subkey = true;
    a.subkey.etype = t->etype;
    a.subkey.value = base_der_view(st->subkey->data, st->subkey->len);
    a.has_seq = true;
    a.seq = c->init_seq;
    if (mutual && st->cfg->n_permitted_enctypes > 0) {
        ret = etype_negotiation(st->cfg, adbuf, sizeof(adbuf), &ad);
        if (ret != HSMSSP_OK)
            goto cleanup;
        a.has_authz = true;
        a.authz = ad;
    }
    ret = base_secret_new(0, AUTH_CAP + cklen, &st->auth_plain);
    if (ret != HSMSSP_OK)
        goto cleanup;
    base_der_w_init(&w, st->auth_plain->data, st->auth_plain->cap);
    kerb_enc_authenticator(&w, &a);
    ret = base_der_w_finish(&w, &av);
    if (ret == HSMSSP_OK)
        ret = kerb_seal(t->key, HSM_USAGE_AP_REQ_AUTH, av, &cipher, &ed);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ocap = ed.cipher.len + t->ticket_len + 128;
    out = malloc(ocap);
    if (out == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    base_der_w_init(&w, out, ocap);
    kerb_enc_ap_req(&w, mutual ? KERB_AP_OPT_MUTUAL_REQUIRED : 0,
                    base_der_view(t->ticket, t->ticket_len), &ed);
    kerb_gss_frame(&w, KERB_TOK_AP_REQ);
    ret = base_der_w_finish(&w, &tokv);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memmove(out, tokv.p, tokv.len);
    step->out_token = out;
    step->out_len = tokv.len;
    out = NULL;
cleanup:
    free(ck);
    free(cipher);
    free(out);
    return ret;
}

/* The initiator subkey goes into the token as the context's message key
 * (until an acceptor subkey replaces it). */
static hsmssp_err
import_subkey(init_state *st)
{
    hsm_key_spec spec;
    hsmssp_err ret;

    kerb_key_spec(&spec, st->ctx->tkt->etype, KERB_JOB_CONTEXT);
    ret = hsm_key_import(st->ctx->tok, &spec, st->subkey, &st->ctx->key);
    if (ret == HSMSSP_OK)
        st->ctx->etype = spec.etype;
    return ret;
}

static void
finish(kerb_ctx *c, uint32_t req, uint64_t recv_base, prov_step *step)
{
    c->flags |= PROV_F_INTEG;
    if (req & PROV_F_CONF)
        c->flags |= PROV_F_CONF;
    if (req & PROV_F_REPLAY)
        c->flags |= PROV_F_REPLAY;
    if (req & PROV_F_SEQUENCE)
        c->flags |= PROV_F_SEQUENCE;
    if (req & PROV_F_IDENTIFY)
        c->flags |= PROV_F_IDENTIFY;
    if (req & PROV_F_CONNECTION)
        c->flags |= PROV_F_CONNECTION;
    if (req & PROV_F_EXTENDED_ERROR)
        c->flags |= PROV_F_EXTENDED_ERROR;
    kerb_seq_init(&c->recv, recv_base, (c->flags & PROV_F_REPLAY) != 0,
                  (c->flags & PROV_F_SEQUENCE) != 0,
                  c->etype != HSM_ETYPE_RC4_HMAC);
    c->established = true;
    /* The service ticket's key is needed no more. */
    kerb_tkt_unref(c->tkt);
    c->tkt = NULL;
    step->ret_flags = c->flags;
    step->expiry = c->endtime;
    step->continue_needed = false;
}

static hsmssp_err
init_first(init_state *st, prov_step *step)
{
    kerb_ctx *c = st->ctx;
    hsmssp_err ret;

    if (step->target == NULL || step->target[0] == '\0')
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "no target name (pszTargetName)");
    ret = kerb_out_target(st->cred, step->target, st->server);
    if (ret != HSMSSP_OK)
        return ret;
    ret = kerb_out_service_ticket(st->cred, st->server, &c->tkt);
    if (ret != HSMSSP_OK)
        return ret;
    if (!kerb_etype_permitted(st->cfg, c->tkt->etype))
        return BASE_ERR(HSMSSP_ERR_POLICY_ENCTYPE,
                        "the ticket for %s has a %s session key, which "
                        "permitted_enctypes does not list",
                        st->server, hsm_etype_name(c->tkt->etype));
    memcpy(c->client, c->tkt->client, strlen(c->tkt->client) + 1);
    memcpy(c->server, c->tkt->server, strlen(c->tkt->server) + 1);
    c->authtime = c->tkt->authtime;
    c->starttime = c->tkt->starttime;
    c->endtime = c->tkt->endtime;

    /* What the AP-REQ announces is what the context will have: a second
     * call's flags do not change it. */
    c->init_req = step->req_flags;
    st->gss_flags = gss_flags_for(step->req_flags);
    if (step->req_flags & PROV_F_DELEGATE) {
        ret = maybe_delegate(st, c->tkt);
        if (ret != HSMSSP_OK)
            return ret;
    }
    ret = build_ap_req(st, step);
    if (ret == HSMSSP_ERR_KEY_GONE || ret == HSMSSP_ERR_KEY_NOT_FOUND) {
        /* The cached ticket's key left the token (token reset): drop the
         * ticket and build the AP-REQ once more with a new one. */
        kerb_out_forget(st->cred, c->tkt);
        kerb_tkt_unref(c->tkt);
        c->tkt = NULL;
        base_secret_free(st->subkey);
        st->subkey = NULL;
        base_secret_free(st->auth_plain);
        st->auth_plain = NULL;
        ret = kerb_out_service_ticket(st->cred, st->server, &c->tkt);
        if (ret == HSMSSP_OK)
            ret = build_ap_req(st, step);
    }
    if (ret == HSMSSP_OK)
        ret = import_subkey(st);
    if (ret != HSMSSP_OK)
        return ret;
    c->send_seq = c->init_seq;
    if (step->req_flags & PROV_F_MUTUAL) {
        /* The AP-REP comes next; keep the ticket for it. */
        step->ret_flags = c->flags;
        step->expiry = c->endtime;
        step->continue_needed = true;
        return HSMSSP_OK;
    }
    /* Without an AP-REP the acceptor numbers its messages from ours
     * (RFC 4121 sec. 4.2.6.2, MIT). */
    finish(c, step->req_flags, c->init_seq, step);
    return HSMSSP_OK;
}

/* ---- the AP-REP ---------------------------------------------------------- */

static hsmssp_err
init_second(init_state *st, prov_step *step)
{
    kerb_ctx *c = st->ctx;
    base_der tok = base_der_view(step->in_token, step->in_len);
    base_der oid, inner, msg;
    unsigned tok_id;
    kerb_ap_rep rep;
    kerb_enc_ap_rep_part ep;
    size_t plen = 0;
    hsmssp_err ret;

    if (c->tkt == NULL)
        return BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                        "the context expects no reply");
    if (step->in_len == 0)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "no input token: the acceptor's reply is expected");
    if (step->in_len > st->cfg->max_token_size)
        return BASE_ERR(HSMSSP_ERR_LIMIT,
                        "input token of %zu bytes (max_token_size %zu)",
                        step->in_len, st->cfg->max_token_size);
    ret = kerb_gss_unframe(tok, &oid, &inner);
    if (ret != HSMSSP_OK)
        return ret;
    if (!kerb_gss_is_krb5_oid(oid))
        return BASE_ERR(HSMSSP_ERR_WRONG_MECH,
                        "reply token is not for Kerberos");
    ret = kerb_gss_tok_id(inner, &tok_id, &msg);
    if (ret == HSMSSP_OK)
        ret = base_der_check(msg, st->cfg->max_der_depth);
    if (ret != HSMSSP_OK)
        return ret;
    if (tok_id == KERB_TOK_ERROR)
        return kerb_error_to_err(msg, "the acceptor", NULL);
    if (tok_id != KERB_TOK_AP_REP)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "expected an AP-REP, got token id 0x%04x", tok_id);
    ret = kerb_dec_ap_rep(msg, &rep);
    if (ret != HSMSSP_OK)
        return ret;
    if (rep.enc.etype != c->tkt->etype)
        return BASE_ERR(HSMSSP_ERR_MUTUAL_FAILED,
                        "AP-REP in enctype %d, the session key is %s",
                        (int)rep.enc.etype, hsm_etype_name(c->tkt->etype));
    ret = base_secret_new(0, rep.enc.cipher.len ? rep.enc.cipher.len : 1,
                          &st->rep_plain);
    if (ret != HSMSSP_OK)
        return ret;
    ret = hsm_krb_decrypt(c->tkt->key, HSM_USAGE_AP_REP_ENCPART,
                          rep.enc.cipher.p, rep.enc.cipher.len,
                          st->rep_plain->data, st->rep_plain->cap, &plen);
    if (ret == HSMSSP_ERR_INTEGRITY || ret == HSMSSP_ERR_BAD_CIPHERTEXT)
        return BASE_ERR(HSMSSP_ERR_MUTUAL_FAILED,
                        "the AP-REP does not decrypt with the session key "
                        "of the ticket for %s",
                        c->server);
    if (ret != HSMSSP_OK)
        return ret;
    st->rep_plain->len = plen;
    ret = kerb_dec_enc_ap_rep_part(base_der_view(st->rep_plain->data, plen),
                                   &ep);
    if (ret != HSMSSP_OK)
        return ret;
    /* RFC 4120 sec. 3.2.5: the acceptor proves itself by echoing the
     * authenticator's time, which only a holder of the session key can
     * read. */
    if (ep.ctime != c->ctime || ep.cusec != c->cusec)
        return BASE_ERR(HSMSSP_ERR_MUTUAL_FAILED,
                        "the AP-REP echoes another time than the "
                        "authenticator's");
    if (ep.has_subkey) {
        hsm_key_spec spec;
        hsm_key *k = NULL;
        base_secret kv;

        if (hsm_etype_keylen(ep.subkey.etype) == 0 ||
            hsm_etype_keylen(ep.subkey.etype) != ep.subkey.value.len)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "acceptor subkey of enctype %d and %zu bytes",
                            (int)ep.subkey.etype, ep.subkey.value.len);
        if (!kerb_etype_permitted(st->cfg, ep.subkey.etype))
            return BASE_ERR(HSMSSP_ERR_POLICY_ENCTYPE,
                            "the acceptor chose %s, which "
                            "permitted_enctypes does not list",
                            hsm_etype_name(ep.subkey.etype));
        kerb_key_spec(&spec, ep.subkey.etype, KERB_JOB_CONTEXT);
        kv.data = (uint8_t *)ep.subkey.value.p;
        kv.len = kv.cap = ep.subkey.value.len;
        ret = hsm_key_import(c->tok, &spec, &kv, &k);
        if (ret != HSMSSP_OK)
            return ret;
        hsm_key_free(c->key);
        c->key = k;
        c->etype = spec.etype;
        c->acceptor_subkey = true;
    }
    c->flags |= PROV_F_MUTUAL;
    finish(c, c->init_req, ep.has_seq ? ep.seq : 0, step);
    return HSMSSP_OK;
}

static void
state_release(init_state *st)
{
    base_secret_free(st->subkey);
    base_secret_free(st->auth_plain);
    base_secret_free(st->fwd_key);
    base_secret_free(st->cred_plain);
    base_secret_free(st->rep_plain);
    free(st->krb_cred);
}

hsmssp_err
kerb_init(void *credp, void **ctxp, prov_step *step)
{
    kerb_cred *cred = credp;
    init_state st;
    bool first = *ctxp == NULL;
    hsmssp_err ret;

    step->out_token = NULL;
    step->out_len = 0;
    step->ret_flags = 0;
    step->continue_needed = false;
    if (cred == NULL || cred->out == NULL ||
        (cred->use & PROV_CRED_OUTBOUND) == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "an outbound credential is needed to initiate");
    if (cred->pid != getpid())
        return BASE_ERR(HSMSSP_ERR_FORKED,
                        "credential was acquired before fork()");
    memset(&st, 0, sizeof(st));
    st.cred = cred;
    st.cfg = prov_env_config(cred->env);
    if (first) {
        ret = kerb_ctx_new(cred->env, cred->tok, true, &st.ctx);
        if (ret != HSMSSP_OK)
            return ret;
        *ctxp = st.ctx;
        ret = init_first(&st, step);
    } else {
        st.ctx = *ctxp;
        if (!st.ctx->initiator || st.ctx->established)
            ret = BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                           "the context is %s",
                           st.ctx->initiator ? "already established"
                                             : "an acceptor's");
        else if (st.ctx->pid != getpid())
            ret = BASE_ERR(HSMSSP_ERR_FORKED,
                           "security context was made before fork()");
        else
            ret = init_second(&st, step);
        /* A refused reply leaves the context as it was: still waiting,
         * unusable for messages, and nothing imported from the reply. */
    }
    if (ret != HSMSSP_OK) {
        base_log(HSMSSP_LOG_INFO, "kerberos",
                 "context from %s to %s not established: %s",
                 cred->out->client,
                 st.ctx && st.ctx->server[0] ? st.ctx->server
                 : step->target              ? step->target
                                             : "(no target)",
                 hsmssp_last_error_detail());
        free(step->out_token);
        step->out_token = NULL;
        step->out_len = 0;
    } else if (!step->continue_needed) {
        base_log(HSMSSP_LOG_INFO, "kerberos",
                 "%s authenticated to %s (%s%s)", st.ctx->client,
                 st.ctx->server, hsm_etype_name(st.ctx->etype),
                 (st.ctx->flags & PROV_F_MUTUAL) ? ", mutual" : "");
    }
    state_release(&st);
    return ret;
}
