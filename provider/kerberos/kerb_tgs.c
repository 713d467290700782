/*
 * provider/kerberos/kerb_tgs.c - the TGS exchange (RFC 4120 sec. 3.3)
 * with a TGT whose session key is on the token.
 *
 * The request's PA-TGS-REQ is an AP-REQ: the TGT and an authenticator
 * whose checksum covers the KDC-REQ-BODY.  Both the checksum (usage 6)
 * and the authenticator's encryption (usage 7) run on the token with the
 * TGT session key, and so does the decryption of the reply's enc-part
 * (usage 8).  The new session key is imported at arrival, or, for a
 * forwarded TGT that is about to go into a KRB-CRED, handed back in a
 * base_secret that the caller wipes once the KRB-CRED is encrypted.
 *
 * The request goes to the KDC of the realm the TGT is for (its name's
 * instance, krbtgt/INSTANCE@ISSUER), and names the server in that realm;
 * getting there across realms, and following referrals, is the caller's
 * loop (kerb_out.c), which this file supports by telling a referral TGT
 * apart from the ticket asked for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/kerberos/kerb-int.h"
#include "provider/kerberos/kerb_kdc.h"

/* A TGS-REQ without its TGT is a few hundred bytes; this bounds the rest
 * generously (the TGT's own size is added per request). */
#define REQ_CAP 8192


typedef struct tgs_state {
    const prov_config *cfg;
    const kerb_tkt *tgt;
    char kdc_realm[KERB_KS_MAX_PRINCIPAL + 1];
    char sstore[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_principal sname;
    base_der srealm_given; /* the realm written in server (unused) */
    char cstore[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_principal cname;
    base_der crealm;
    uint32_t nonce;
    uint8_t *rep;
    size_t rep_len;
    base_secret *plain; /* EncTGSRepPart: holds the new session key */
} tgs_state;

/* The PA-TGS-REQ: AP-REQ { TGT, authenticator with a checksum of the
 * body }, built into out. */
static hsmssp_err
make_pa_tgs_req(tgs_state *st, base_der body, uint8_t *out, size_t cap,
                base_der *pa_out)
{
    uint8_t cksum[64], abuf[1024], *cipher = NULL;
    size_t cklen = 0;
    kerb_authenticator a;
    kerb_enc_data ed;
    base_der_w w;
    base_der av;
    int64_t now = prov_now_us();
    hsmssp_err ret;

    ret = hsm_krb_checksum(st->tgt->key, HSM_USAGE_TGS_REQ_AUTH_CKSUM, body.p,
                           body.len, cksum, sizeof(cksum), &cklen);
    if (ret != HSMSSP_OK)
        return ret;
    memset(&a, 0, sizeof(a));
    a.crealm = st->crealm;
    a.cname = st->cname;
    a.has_cksum = true;
    a.cksum.type = hsm_krb_cksumtype(st->tgt->etype);
    a.cksum.value = base_der_view(cksum, cklen);
    a.ctime = now / 1000000;
    a.cusec = (int32_t)(now % 1000000);
    /* No subkey: the reply comes back in the TGT session key, which is
     * on the token; a subkey would have to exist on the host. */
    base_der_w_init(&w, abuf, sizeof(abuf));
    kerb_enc_authenticator(&w, &a);
    ret = base_der_w_finish(&w, &av);
    if (ret == HSMSSP_OK)
        ret = kerb_seal(st->tgt->key, HSM_USAGE_TGS_REQ_AUTH, av, &cipher,
                        &ed);
    if (ret != HSMSSP_OK)
        goto cleanup;
    base_der_w_init(&w, out, cap);
    kerb_enc_ap_req(&w, 0, base_der_view(st->tgt->ticket,
                                         st->tgt->ticket_len),
                    &ed);
    ret = base_der_w_finish(&w, pa_out);
cleanup:
    free(cipher);
    return ret;
}

static hsmssp_err
build_req(tgs_state *st, uint32_t options, uint8_t *buf, size_t cap,
          base_der *req_out)
{
    uint8_t *pabuf = NULL, bodybuf[2048];
    kerb_pa_data pa[1];
    kerb_kdc_req r;
    base_der_w w;
    base_der body;
    int32_t etypes[PROV_MAX_ENCTYPES];
    size_t n = 0, pacap;
    hsmssp_err ret;

    /* The enctypes this token can use as the policy allows: a session key
     * of another would only fail later, at its first use. */
    for (size_t i = 0; i < st->cfg->n_permitted_enctypes; i++)
        if (kerb_etype_runs(hsm_key_token(st->tgt->key),
                            st->cfg->permitted_enctypes[i]))
            etypes[n++] = st->cfg->permitted_enctypes[i];
    if (n == 0)
        return BASE_ERR(HSMSSP_ERR_POLICY_ENCTYPE,
                        "the token runs none of the permitted enctypes");
    memset(&r, 0, sizeof(r));
    r.msg_type = KERB_MSG_TGS_REQ;
    r.kdc_options = options;
    r.realm = base_der_view(st->kdc_realm, strlen(st->kdc_realm));
    r.has_sname = true;
    r.sname = st->sname;
    /* A ticket cannot outlive the TGT it comes from; a renewal asks for
     * a new lifetime, within the renewable one. */
    r.till = st->tgt->endtime;
    if (options & KERB_KDC_OPT_RENEW) {
        int64_t want = prov_now_us() / 1000000 + st->cfg->ticket_lifetime;

        r.till = want < st->tgt->renew_till ? want : st->tgt->renew_till;
    }
    if ((options & KERB_KDC_OPT_RENEWABLE) && st->tgt->renew_till > 0) {
        r.has_rtime = true;
        r.rtime = st->tgt->renew_till;
    }
    r.nonce = st->nonce;
    r.etypes = etypes;
    r.n_etypes = n;
    base_der_w_init(&w, bodybuf, sizeof(bodybuf));
    kerb_enc_kdc_req_body(&w, &r);
    ret = base_der_w_finish(&w, &body);
    if (ret != HSMSSP_OK)
        return ret;
    pacap = st->tgt->ticket_len + 2048;
    pabuf = malloc(pacap);
    if (pabuf == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    ret = make_pa_tgs_req(st, body, pabuf, pacap, &pa[0].value);
    if (ret != HSMSSP_OK)
        goto cleanup;
    pa[0].type = KERB_PA_TGS_REQ;
    r.padata = pa;
    r.n_padata = 1;
    base_der_w_init(&w, buf, cap);
    kerb_enc_kdc_req(&w, &r, body);
    ret = base_der_w_finish(&w, req_out);
cleanup:
    free(pabuf);
    return ret;
}

/* Is sname krbtgt/X for a realm X other than the KDC's own?  That is a
 * referral (or a step of a cross-realm path). */
static bool
is_referral(const kerb_principal *sname, const char *kdc_realm)
{
    return sname->n == 2 &&
           base_der_eq(sname->comp[0], base_der_view("krbtgt", 6)) &&
           !base_der_eq(sname->comp[1],
                        base_der_view(kdc_realm, strlen(kdc_realm)));
}

static hsmssp_err
open_reply(tgs_state *st, const kerb_import_opts *imp, base_secret **key_out,
           bool *referral_out, kerb_tkt **tkt_out)
{
    char peer[KERB_KS_MAX_PRINCIPAL + 16];
    kerb_kdc_rep rep;
    kerb_enc_kdc_rep_part ep;
    bool referral = false;
    hsm_key_spec spec;
    hsm_key *skey = NULL;
    base_secret kv;
    int64_t now = prov_now_us() / 1000000;
    hsmssp_err ret;

    (void)snprintf(peer, sizeof(peer), "KDC for %s", st->kdc_realm);
    ret = kerb_dec_kdc_rep(base_der_view(st->rep, st->rep_len), &rep);
    if (ret != HSMSSP_OK)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "%s sent a malformed TGS-REP",
                        peer);
    if (rep.msg_type != KERB_MSG_TGS_REP)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s answered a TGS-REQ with message type %d", peer,
                        (int)rep.msg_type);
    if (!kerb_principal_eq(&rep.cname, &st->cname) ||
        !base_der_eq(rep.crealm, st->crealm))
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s issued a ticket for another client than %s",
                        peer, st->tgt->client);
    if (rep.enc.etype != st->tgt->etype)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s encrypted the TGS-REP in enctype %d, the TGT "
                        "session key is %s",
                        peer, (int)rep.enc.etype,
                        hsm_etype_name(st->tgt->etype));
    ret = kerb_rep_decrypt(st->tgt->key, HSM_USAGE_TGS_REP_ENCPART_SESSKEY,
                           &rep, &st->plain, &ep);
    if (ret == HSMSSP_ERR_INTEGRITY)
        return BASE_ERR(HSMSSP_ERR_INTEGRITY,
                        "the TGS-REP from %s does not decrypt with the TGT "
                        "session key",
                        peer);
    if (ret != HSMSSP_OK)
        return ret;
    if (ep.nonce != st->nonce)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s answered with another request's nonce", peer);
    /* The server: the one asked for in the KDC's realm, or a referral TGT
     * (accepted only when we asked for something else). */
    if (!base_der_eq(ep.srealm,
                     base_der_view(st->kdc_realm, strlen(st->kdc_realm))))
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s issued a ticket in another realm", peer);
    if (!kerb_principal_eq(&ep.sname, &st->sname)) {
        if (!is_referral(&ep.sname, st->kdc_realm) || referral_out == NULL)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "%s issued a ticket for another server than "
                            "asked",
                            peer);
        referral = true;
    }
    ret = kerb_rep_check(st->cfg, peer, &rep, &ep, now);
    if (ret != HSMSSP_OK)
        return ret;

    if (key_out != NULL) {
        /* A forwarded TGT: its key is not imported here but travels in
         * the caller's KRB-CRED. */
        ret = base_secret_from(ep.key.value.p, ep.key.value.len, key_out);
    } else {
        /* A TGT (referral, cross-realm, renewed) serves TGS exchanges;
         * a service ticket's key the AP exchange and the KRB-CRED. */
        kerb_key_spec(&spec, ep.key.etype,
                      ep.sname.n == 2 &&
                              base_der_eq(ep.sname.comp[0],
                                          base_der_view("krbtgt", 6))
                          ? KERB_JOB_TGT
                          : KERB_JOB_TICKET);
        kerb_import_opts_apply(&spec, imp);
        kv = kerb_key_view(&ep.key);
        ret = hsm_key_import(hsm_key_token(st->tgt->key), &spec, &kv,
                             &skey);
    }
    if (ret != HSMSSP_OK)
        return ret;
    ret = kerb_tkt_new(rep.ticket.whole, &ep, st->tgt->client, skey,
                       tkt_out);
    if (ret != HSMSSP_OK) {
        if (key_out != NULL) {
            base_secret_free(*key_out);
            *key_out = NULL;
        }
        return ret;
    }
    (*tkt_out)->etype = ep.key.etype;
    if (referral_out != NULL)
        *referral_out = referral;
    return HSMSSP_OK;
}

hsmssp_err
kerb_tgs_exchange(prov_env *env, const kerb_tkt *tgt, const char *server,
                  uint32_t kdc_options, const kerb_import_opts *imp,
                  base_secret **key_out, bool *referral_out,
                  kerb_tkt **tkt_out)
{
    tgs_state st;
    uint8_t *buf = NULL;
    size_t reqcap;
    base_der req, ignored;
    kerb_kdc_cfg kc;
    char peer[KERB_KS_MAX_PRINCIPAL + 16];
    hsmssp_err ret;

    *tkt_out = NULL;
    if (key_out != NULL)
        *key_out = NULL;
    if (referral_out != NULL)
        *referral_out = false;
    memset(&st, 0, sizeof(st));
    st.cfg = prov_env_config(env);
    st.tgt = tgt;
    if (tgt->key == NULL || !kerb_tkt_is_tgt(tgt, st.kdc_realm, NULL))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "%s is not a TGT with a key", tgt->server);
    if (strlen(server) > KERB_KS_MAX_PRINCIPAL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "server name too long");
    ret = kerb_principal_parse(server, KERB_NT_SRV_INST, st.sstore,
                               &st.sname, &ignored);
    /* A two-part service name other than a TGS is host-based (MIT's
     * gss_import_name of service@host does the same): KDCs use the type
     * to decide on host-based referrals. */
    if (ret == HSMSSP_OK && st.sname.n == 2 &&
        !base_der_eq(st.sname.comp[0], base_der_view("krbtgt", 6)))
        st.sname.type = KERB_NT_SRV_HST;
    if (ret == HSMSSP_OK)
        ret = kerb_principal_parse(tgt->client, KERB_NT_PRINCIPAL,
                                   st.cstore, &st.cname, &st.crealm);
    if (ret == HSMSSP_OK)
        ret = hsm_random((uint8_t *)&st.nonce, sizeof(st.nonce));
    if (ret != HSMSSP_OK)
        return ret;
    st.nonce &= 0x7fffffffu;
    /* The request carries the TGT: room for it and everything else. */
    reqcap = REQ_CAP + tgt->ticket_len;
    buf = malloc(reqcap);
    if (buf == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    ret = build_req(&st, kdc_options, buf, reqcap, &req);
    if (ret != HSMSSP_OK)
        goto cleanup;
    kerb_kdc_cfg_init(&kc, st.cfg);
    ret = kerb_kdc_send(st.kdc_realm, req.p, req.len, &kc, &st.rep,
                        &st.rep_len);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (st.rep_len > 0 && st.rep[0] == BASE_DER_APP(KERB_MSG_ERROR)) {
        (void)snprintf(peer, sizeof(peer), "KDC for %s", st.kdc_realm);
        ret = kerb_error_to_err(base_der_view(st.rep, st.rep_len), peer,
                                NULL);
        if (ret == HSMSSP_ERR_KDC_ETYPE) {
            /* The usual cause is the policy, not the KDC: say what was
             * offered (an rc4-only service, say, with rc4 not listed). */
            char list[160] = "", detail[256];
            size_t n = 0;

            for (size_t i = 0; i < st.cfg->n_permitted_enctypes; i++)
                n += (size_t)snprintf(
                    list + n, n < sizeof(list) ? sizeof(list) - n : 0,
                    "%s%s", i ? " " : "",
                    hsm_etype_name(st.cfg->permitted_enctypes[i]));
            (void)snprintf(detail, sizeof(detail), "%s",
                           kerb_detail_tail(HSMSSP_ERR_KDC_ETYPE));
            ret = BASE_ERR(HSMSSP_ERR_KDC_ETYPE,
                           "%s; hsmssp offered [policy] permitted_enctypes "
                           "= %s",
                           detail, list);
        }
        goto cleanup;
    }
    ret = open_reply(&st, imp, key_out, referral_out, tkt_out);
cleanup:
    if (ret != HSMSSP_OK)
        base_log(HSMSSP_LOG_INFO, "kerberos", "TGS exchange for %s: %s",
                 server, hsmssp_last_error_detail());
    base_secret_free(st.plain);
    free(st.rep);
    free(buf);
    return ret;
}
