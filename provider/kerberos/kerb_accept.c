/*
 * provider/kerberos/kerb_accept.c - AcceptSecurityContext for Kerberos:
 * RFC 4121 initial context token in, AP-REP (or KRB-ERROR) out.
 *
 * The path of the keys (DESIGN sec. 2):
 *   1. The ticket is decrypted on the token with the service key
 *      (hsm_krb_decrypt): the long-term key never leaves the token.  The
 *      EncTicketPart lands in a base_secret and is parsed in place.
 *   2. Arrival window: the ticket's session key is a view into that
 *      secret.  With it, on the host, the authenticator is decrypted
 *      (into another base_secret, parsed in place), the delegated
 *      KRB-CRED opened, and the AP-REP built and encrypted.  The acceptor
 *      subkey is generated on the host into a base_secret for the AP-REP.
 *   3. The one key the context needs afterwards (acceptor subkey, else
 *      the initiator's subkey, else the session key) is imported into the
 *      token as a session object, and every secret buffer is wiped and
 *      freed before this function returns, on success and on failure.
 * From then on the context holds only the hsm_key handle.
 *
 * Checks, in the order MIT's krb5_rd_req and gss_accept_sec_context make
 * them: framing and token id, ticket key lookup (principal, kvno,
 * enctype), ticket integrity, authenticator integrity, client names equal,
 * clock skew, ticket times, replay cache, enctype policy, the 0x8003
 * checksum and channel bindings, PAC.  Each failure has its hsmssp_err
 * (mapped to SEC_E_* by sspi/) and one line of detail; after an AP-REQ
 * that parsed, and with PROV_F_EXTENDED_ERROR, a KRB-ERROR token is
 * returned too.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provider/kerberos/kerb-int.h"
#include "provider/kerberos/kerb_rcache.h"

/* Bounds: how many service keys one ticket may be tried with comes from
 * the configuration (max_kvnos_tried, at most this). */
#define MAX_CANDIDATES 64

/* Everything one accept call holds; released in one place. */
typedef struct accept_state {
    kerb_cred *cred;
    kerb_ctx *ctx;
    const prov_config *cfg;
    int64_t now_us;
    kerb_ap_req req;
    char server[KERB_KS_MAX_PRINCIPAL + 1];
    hsm_key *svc_key;           /* borrowed from the credential */
    base_secret *tkt_plain;     /* EncTicketPart (holds the session key) */
    kerb_enc_ticket_part tkt;
    base_secret *auth_plain;    /* Authenticator (may hold a subkey) */
    kerb_authenticator auth;
    base_secret *acc_subkey;    /* generated acceptor subkey */
    int32_t acc_subkey_etype;
    base_secret *cred_plain;    /* EncKrbCredPart (delegated TGT key) */
    kerb_gss_cksum gck;
    uint32_t gss_flags;
    bool parsed;                /* AP-REQ parsed: KRB-ERROR possible */
    int32_t krb_error;          /* KRB-ERROR code for a failure */
} accept_state;

static hsmssp_err
check_etype(const prov_config *cfg, int32_t etype, const char *what)
{
    if (hsm_etype_keylen(etype) == 0)
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE, "%s uses enctype %d",
                        what, (int)etype);
    if (!kerb_etype_permitted(cfg, etype))
        return BASE_ERR(HSMSSP_ERR_POLICY_ENCTYPE,
                        "%s uses %s, which permitted_enctypes does not list",
                        what, hsm_etype_name(etype));
    return HSMSSP_OK;
}

/* ---- step 1: the ticket --------------------------------------------- */

static hsmssp_err
decrypt_ticket(accept_state *st)
{
    const kerb_ticket *t = &st->req.ticket;
    hsm_key *cands[MAX_CANDIDATES];
    size_t n = 0, max = st->cfg->max_kvnos_tried, plen = 0;
    hsmssp_err ret;

    if (max == 0 || max > MAX_CANDIDATES)
        max = MAX_CANDIDATES;
    ret = kerb_principal_unparse(&t->sname, t->realm, st->server,
                                 sizeof(st->server));
    if (ret != HSMSSP_OK)
        return ret;
    ret = check_etype(st->cfg, t->enc.etype, "the ticket");
    if (ret != HSMSSP_OK) {
        st->krb_error = KERB_KDC_ERR_ETYPE_NOSUPP;
        return ret;
    }
    ret = kerb_cred_keys_for(st->cred, st->server, t->enc.etype,
                             t->enc.has_kvno, t->enc.kvno, max, cands, &n);
    if (ret != HSMSSP_OK) {
        st->krb_error = ret == HSMSSP_ERR_WRONG_PRINCIPAL
                            ? KERB_AP_ERR_NOT_US
                        : t->enc.has_kvno ? KERB_AP_ERR_BADKEYVER
                                          : KERB_AP_ERR_NOKEY;
        return ret;
    }
    ret = base_secret_new(0, t->enc.cipher.len > 0 ? t->enc.cipher.len : 1,
                          &st->tkt_plain);
    if (ret != HSMSSP_OK)
        return ret;
    /* Candidates in order: the exact key first.  An integrity failure
     * moves on to the next; any other error (token gone ...) stops. */
    ret = BASE_ERR0(HSMSSP_ERR_INTEGRITY);
    for (size_t i = 0; i < n; i++) {
        ret = hsm_krb_decrypt(cands[i], HSM_USAGE_KDC_REP_TICKET,
                              t->enc.cipher.p, t->enc.cipher.len,
                              st->tkt_plain->data, st->tkt_plain->cap,
                              &plen);
        if (ret != HSMSSP_ERR_INTEGRITY) {
            st->svc_key = cands[i];
            break;
        }
    }
    if (ret == HSMSSP_ERR_INTEGRITY) {
        st->krb_error = KERB_AP_ERR_BAD_INTEGRITY;
        return BASE_ERR(HSMSSP_ERR_INTEGRITY,
                        "ticket for %s (kvno %u, %s) does not decrypt with "
                        "the %zu key(s) tried",
                        st->server, (unsigned)t->enc.kvno,
                        hsm_etype_name(t->enc.etype), n);
    }
    if (ret != HSMSSP_OK)
        return ret;
    st->tkt_plain->len = plen;
    ret = kerb_dec_enc_ticket_part(
        base_der_view(st->tkt_plain->data, plen), &st->tkt);
    if (ret != HSMSSP_OK)
        return ret;
    if (hsm_etype_keylen(st->tkt.key.etype) != st->tkt.key.value.len) {
        st->krb_error = KERB_AP_ERR_BAD_INTEGRITY;
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "ticket session key of enctype %d has %zu bytes",
                        (int)st->tkt.key.etype, st->tkt.key.value.len);
    }
    ret = check_etype(st->cfg, st->tkt.key.etype, "the session key");
    if (ret != HSMSSP_OK)
        st->krb_error = KERB_KDC_ERR_ETYPE_NOSUPP;
    return ret;
}

/* ---- step 2: the authenticator and the checks ------------------------ */

static hsmssp_err
decrypt_authenticator(accept_state *st)
{
    base_secret skey = kerb_key_view(&st->tkt.key);
    hsmssp_err ret;

    /* The authenticator must be in the session key's enctype (MIT's
     * krb5_rd_req checks it too): the etype field is not covered by any
     * checksum, so a peer must not be able to make it say anything. */
    if (st->req.auth.etype != st->tkt.key.etype) {
        st->krb_error = KERB_AP_ERR_BAD_INTEGRITY;
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "authenticator in enctype %d, session key %s",
                        (int)st->req.auth.etype,
                        hsm_etype_name(st->tkt.key.etype));
    }
    ret = hsm_arrival_decrypt(st->tkt.key.etype, &skey,
                              HSM_USAGE_AP_REQ_AUTH, st->req.auth.cipher.p,
                              st->req.auth.cipher.len, &st->auth_plain);
    if (ret == HSMSSP_ERR_INTEGRITY) {
        st->krb_error = KERB_AP_ERR_BAD_INTEGRITY;
        return BASE_ERR(HSMSSP_ERR_INTEGRITY,
                        "authenticator does not decrypt with the ticket's "
                        "session key");
    }
    if (ret != HSMSSP_OK)
        return ret;
    ret = kerb_dec_authenticator(
        base_der_view(st->auth_plain->data, st->auth_plain->len), &st->auth);
    if (ret != HSMSSP_OK)
        return ret;
    if (st->auth.has_subkey) {
        if (hsm_etype_keylen(st->auth.subkey.etype) !=
            st->auth.subkey.value.len)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "authenticator subkey of enctype %d has %zu "
                            "bytes",
                            (int)st->auth.subkey.etype,
                            st->auth.subkey.value.len);
        ret = check_etype(st->cfg, st->auth.subkey.etype,
                          "the initiator's subkey");
        if (ret != HSMSSP_OK)
            st->krb_error = KERB_KDC_ERR_ETYPE_NOSUPP;
    }
    return ret;
}

static hsmssp_err
check_names_and_times(accept_state *st)
{
    int64_t now = st->now_us / 1000000, skew = st->cfg->clock_skew;
    int64_t start = st->tkt.has_starttime ? st->tkt.starttime
                                          : st->tkt.authtime;

    /* RFC 4120 sec. 3.2.3: the authenticator names the ticket's client. */
    if (!base_der_eq(st->auth.crealm, st->tkt.crealm) ||
        !kerb_principal_eq(&st->auth.cname, &st->tkt.cname)) {
        st->krb_error = KERB_AP_ERR_BADMATCH;
        return BASE_ERR(HSMSSP_ERR_INTEGRITY,
                        "authenticator and ticket name different clients");
    }
    if (st->auth.ctime > now + skew || st->auth.ctime < now - skew) {
        st->krb_error = KERB_AP_ERR_SKEW;
        return BASE_ERR(HSMSSP_ERR_CLOCK_SKEW,
                        "client clock differs by %lld s (limit %lld s)",
                        (long long)(st->auth.ctime - now), (long long)skew);
    }
    if (st->tkt.flags & KERB_TKT_INVALID) {
        st->krb_error = KERB_AP_ERR_TKT_NYV;
        return BASE_ERR(HSMSSP_ERR_TICKET_NOT_YET_VALID,
                        "ticket is marked invalid (postdated, not "
                        "validated)");
    }
    if (start - skew > now) {
        st->krb_error = KERB_AP_ERR_TKT_NYV;
        return BASE_ERR(HSMSSP_ERR_TICKET_NOT_YET_VALID,
                        "ticket valid from %lld s in the future",
                        (long long)(start - now));
    }
    if (now - skew > st->tkt.endtime) {
        st->krb_error = KERB_AP_ERR_TKT_EXPIRED;
        return BASE_ERR(HSMSSP_ERR_TICKET_EXPIRED,
                        "ticket expired %lld s ago",
                        (long long)(now - st->tkt.endtime));
    }
    return HSMSSP_OK;
}

static hsmssp_err
check_replay(accept_state *st, prov_step *step)
{
    kerb_rcache *rc = NULL;
    uint8_t *buf = NULL, tag[64];
    size_t n, tlen = 0;
    hsmssp_err ret;

    if ((step->req_flags & PROV_F_REPLAY) == 0)
        return HSMSSP_OK;
    ret = kerb_rcache_for(st->ctx->env, &rc);
    if (ret != HSMSSP_OK || rc == NULL)
        return ret;
    /* The tag names this authenticator for this service: a hash of the
     * server principal and the authenticator ciphertext (which is unique
     * per authenticator: fresh confounder). */
    n = strlen(st->server) + 1 + st->req.auth.cipher.len;
    buf = malloc(n);
    if (buf == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    memcpy(buf, st->server, strlen(st->server) + 1);
    memcpy(buf + strlen(st->server) + 1, st->req.auth.cipher.p,
           st->req.auth.cipher.len);
    ret = hsm_digest("SHA256", buf, n, tag, &tlen);
    free(buf);
    if (ret != HSMSSP_OK)
        return ret;
    ret = kerb_rcache_check_store(rc, tag, st->now_us / 1000000,
                                  st->auth.ctime + st->cfg->clock_skew);
    if (ret == HSMSSP_ERR_REPLAY) {
        st->krb_error = KERB_AP_ERR_REPEAT;
        return BASE_ERR(HSMSSP_ERR_REPLAY,
                        "authenticator from %s already seen (replay)",
                        st->ctx->client);
    }
    return ret;
}

/* The 0x8003 checksum (RFC 4121 sec. 4.1.1) and the channel bindings. */
static hsmssp_err
check_gss_checksum(accept_state *st, prov_step *step)
{
    static const uint8_t zero[16];
    uint8_t want[16];
    kerb_cb cb;
    hsmssp_err ret;
    bool client_has;

    if (!st->auth.has_cksum || st->auth.cksum.type != KERB_CKSUM_GSSAPI) {
        st->krb_error = KERB_AP_ERR_INAPP_CKSUM;
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "authenticator lacks the GSS-API checksum (0x8003)");
    }
    ret = kerb_gss_cksum_parse(st->auth.cksum.value, &st->gck);
    if (ret != HSMSSP_OK)
        return ret;
    st->gss_flags = st->gck.flags;
    client_has = !base_ct_equal(st->gck.bnd, zero, 16);
    switch (st->cfg->channel_bindings) {
    case PROV_CB_NEVER:
        return HSMSSP_OK; /* bindings are not checked at all */
    case PROV_CB_REQUIRED:
        if (step->cb == NULL)
            return BASE_ERR(HSMSSP_ERR_POLICY_BINDINGS,
                            "the server passed no channel bindings");
        if (!client_has) {
            st->krb_error = KERB_AP_ERR_MODIFIED;
            return BASE_ERR(HSMSSP_ERR_BAD_BINDINGS,
                            "client sent no channel bindings; policy "
                            "requires them");
        }
        break;
    case PROV_CB_ALLOWED:
        /* A client without bindings (all zero) is accepted, as MIT and
         * Windows do by default; so is a server without them. */
        if (step->cb == NULL || !client_has)
            return HSMSSP_OK;
        break;
    }
    kerb_cb_from_prov(step->cb, &cb);
    ret = kerb_gss_cb_hash(&cb, want);
    if (ret != HSMSSP_OK)
        return ret;
    if (!base_ct_equal(want, st->gck.bnd, 16)) {
        st->krb_error = KERB_AP_ERR_MODIFIED;
        return BASE_ERR(HSMSSP_ERR_BAD_BINDINGS,
                        "client's channel bindings differ from the "
                        "server's");
    }
    return HSMSSP_OK;
}

/* ---- PAC ------------------------------------------------------------ */

typedef struct pac_verify_arg {
    hsm_key *key;
} pac_verify_arg;

/* The PAC's server signature is a keyed checksum with the service key,
 * key usage 17, of the service key's own checksum type: computed on the
 * token. */
static hsmssp_err
pac_verify_cb(void *arg, int32_t cksumtype, const uint8_t *data, size_t len,
              const uint8_t *cksum, size_t cksum_len)
{
    pac_verify_arg *a = arg;

    if (cksumtype != hsm_krb_cksumtype(hsm_key_etype(a->key)))
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_CKSUMTYPE,
                        "PAC server checksum of type %d with a %s service "
                        "key",
                        (int)cksumtype, hsm_etype_name(hsm_key_etype(a->key)));
    return hsm_krb_checksum_verify(a->key, HSM_USAGE_APP_DATA_CKSUM, data,
                                   len, cksum, cksum_len);
}

static hsmssp_err
check_pac(accept_state *st)
{
    char cname[KERB_KS_MAX_PRINCIPAL + 1], crealm[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_pac_ticket_facts facts;
    pac_verify_arg arg = {st->svc_key};
    base_der pac;
    bool found = false;
    size_t count = 0;
    hsmssp_err ret;

    if (!st->tkt.has_authz)
        return HSMSSP_OK;
    ret = kerb_authz_find(st->tkt.authz, KERB_AD_WIN2K_PAC, &pac, &found,
                          &count);
    if (ret != HSMSSP_OK || !found)
        return ret;
    if (count > 1)
        return BASE_ERR(HSMSSP_ERR_BAD_PAC, "ticket carries %zu PACs",
                        count);
    ret = kerb_principal_unparse(&st->tkt.cname, base_der_view("", 0),
                                 cname, sizeof(cname));
    if (ret != HSMSSP_OK)
        return ret;
    if (st->tkt.crealm.len >= sizeof(crealm))
        return BASE_ERR(HSMSSP_ERR_LIMIT, "client realm too long");
    memcpy(crealm, st->tkt.crealm.p, st->tkt.crealm.len);
    crealm[st->tkt.crealm.len] = '\0';
    facts.client_name = cname;
    facts.client_realm = crealm;
    facts.authtime = st->tkt.authtime;
    ret = kerb_pac_verify(pac.p, pac.len, &facts, pac_verify_cb, &arg,
                          &st->ctx->pac);
    if (ret == HSMSSP_ERR_INTEGRITY)
        st->krb_error = KERB_AP_ERR_MODIFIED;
    return ret;
}

/* ---- delegation ------------------------------------------------------ */

static hsmssp_err
take_delegation(accept_state *st, prov_step *step)
{
    kerb_krb_cred msg;
    kerb_enc_cred_part ecp;
    kerb_tkt *d = NULL;
    kerb_cred_info *ci;
    base_secret skey = kerb_key_view(&st->tkt.key);
    hsm_key_spec spec;
    base_secret kv;
    char name[KERB_KS_MAX_PRINCIPAL + 1];
    hsmssp_err ret;

    if (!st->gck.has_deleg)
        return HSMSSP_OK;
    /* Without ASC_REQ_DELEGATE the credential is not wanted: it is
     * dropped, and its plaintext (holding a TGT session key) is never
     * decrypted, so no copy of that key ever exists here. */
    if ((step->req_flags & PROV_F_DELEGATE) == 0)
        return HSMSSP_OK;
    memset(&msg, 0, sizeof(msg));
    ret = kerb_dec_cred(st->gck.deleg, &msg);
    if (ret != HSMSSP_OK)
        return ret;
    if (msg.n_tickets != 1)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "delegated KRB-CRED carries %zu tickets",
                        msg.n_tickets);
    if (msg.enc.etype == 0) {
        /* Unencrypted EncKrbCredPart (MIT sends it so inside the
         * encrypted authenticator when it has no key to use): copy it into
         * a secret buffer, since it carries the TGT session key. */
        ret = base_secret_from(msg.enc.cipher.p, msg.enc.cipher.len,
                               &st->cred_plain);
    } else {
        /* KRB-CRED is encrypted in the ticket session key (usage 14);
         * some initiators use their subkey. */
        ret = hsm_arrival_decrypt(msg.enc.etype, &skey,
                                  HSM_USAGE_KRB_CRED_ENCPART,
                                  msg.enc.cipher.p, msg.enc.cipher.len,
                                  &st->cred_plain);
        if (ret == HSMSSP_ERR_INTEGRITY && st->auth.has_subkey) {
            base_secret sub = kerb_key_view(&st->auth.subkey);

            ret = hsm_arrival_decrypt(msg.enc.etype, &sub,
                                      HSM_USAGE_KRB_CRED_ENCPART,
                                      msg.enc.cipher.p,
                                      msg.enc.cipher.len, &st->cred_plain);
        }
    }
    if (ret != HSMSSP_OK)
        return ret;
    ret = kerb_dec_enc_cred_part(
        base_der_view(st->cred_plain->data, st->cred_plain->len), &ecp);
    if (ret != HSMSSP_OK)
        return ret;
    if (ecp.n_info != 1)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "delegated credential has %zu entries", ecp.n_info);
    ci = &ecp.info[0];
    if (hsm_etype_keylen(ci->key.etype) != ci->key.value.len)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "delegated TGT key of enctype %d has %zu bytes",
                        (int)ci->key.etype, ci->key.value.len);
    if (strlen(st->ctx->client) > KERB_KS_MAX_PRINCIPAL)
        return BASE_ERR(HSMSSP_ERR_LIMIT, "client name too long");
    ret = kerb_tkt_alloc(msg.tickets[0].whole, &d);
    if (ret != HSMSSP_OK)
        return ret;
    /* The delegated TGT must be the authenticated client's own: a peer
     * must not be able to make this context act for someone else. */
    memcpy(d->client, st->ctx->client, strlen(st->ctx->client) + 1);
    if (ci->has_pname && ci->has_prealm) {
        ret = kerb_principal_unparse(&ci->pname, ci->prealm, name,
                                     sizeof(name));
        if (ret != HSMSSP_OK)
            goto cleanup;
        if (strcmp(name, st->ctx->client) != 0) {
            ret = BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                           "delegated TGT is for %s, the client is %s", name,
                           st->ctx->client);
            goto cleanup;
        }
    }
    /* The server: from the KrbCredInfo, else the ticket's clear text. */
    if (ci->has_sname && ci->has_srealm)
        ret = kerb_principal_unparse(&ci->sname, ci->srealm, d->server,
                                     sizeof(d->server));
    else
        ret = kerb_principal_unparse(&msg.tickets[0].sname,
                                     msg.tickets[0].realm, d->server,
                                     sizeof(d->server));
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (!kerb_tkt_is_tgt(d, NULL, NULL)) {
        ret = BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                       "delegated ticket is for %s, not a TGT", d->server);
        goto cleanup;
    }
    d->flags = ci->has_flags ? ci->flags : 0;
    d->authtime = ci->has_authtime ? ci->authtime : st->tkt.authtime;
    d->starttime = ci->has_starttime ? ci->starttime : d->authtime;
    d->endtime = ci->has_endtime ? ci->endtime : st->tkt.endtime;
    d->renew_till = ci->has_renew_till ? ci->renew_till : 0;
    d->etype = ci->key.etype;
    /* The TGT session key goes into the token now, with the usages a TGT
     * serves (an outbound credential may be made from it); the plaintext
     * holding it is wiped when this accept call ends. */
    kerb_key_spec(&spec, ci->key.etype, KERB_JOB_TGT);
    kv = kerb_key_view(&ci->key);
    ret = hsm_key_import(st->ctx->tok, &spec, &kv, &d->key);
    if (ret != HSMSSP_OK)
        goto cleanup;
    st->ctx->deleg = d;
    d = NULL;
    st->ctx->flags |= PROV_F_DELEGATE;
cleanup:
    kerb_tkt_unref(d);
    return ret;
}

/* ---- step 3: AP-REP, keys, flags ------------------------------------ */

/* The acceptor subkey's enctype: the first of the client's RFC 4537 list
 * (AD-ETYPE-NEGOTIATION in the authenticator) that policy permits and
 * the token can run; else the initiator subkey's (or session key's)
 * enctype. */
static hsmssp_err
choose_subkey_etype(accept_state *st, int32_t *etype_out)
{
    int32_t list[16];
    size_t n = 0;
    base_der data;
    bool found = false;
    hsmssp_err ret;

    *etype_out = st->auth.has_subkey ? st->auth.subkey.etype
                                     : st->tkt.key.etype;
    if (!st->auth.has_authz)
        return HSMSSP_OK;
    ret = kerb_authz_find(st->auth.authz, KERB_AD_ETYPE_NEGOTIATION, &data,
                          &found, NULL);
    if (ret == HSMSSP_OK && found)
        ret = kerb_dec_etype_list(data, list, BASE_ARRAY_LEN(list), &n);
    if (ret != HSMSSP_OK)
        return ret;
    for (size_t i = 0; i < n; i++) {
        if (!kerb_etype_permitted(st->cfg, list[i]) ||
            hsm_etype_keylen(list[i]) == 0)
            continue;
        /* The token must be able to use it as the policy allows. */
        if (!kerb_etype_runs(st->ctx->tok, list[i]))
            continue;
        *etype_out = list[i];
        return HSMSSP_OK;
    }
    return HSMSSP_OK;
}

static hsmssp_err
build_ap_rep(accept_state *st, uint32_t seq, prov_step *step)
{
    base_secret skey = kerb_key_view(&st->tkt.key);
    base_secret *plain = NULL;
    uint8_t *cipher = NULL, *out = NULL;
    size_t clen = 0, ccap = 0, ocap;
    base_der_w w;
    base_der enc, tokv;
    kerb_enc_data ed;
    hsmssp_err ret;

    ret = choose_subkey_etype(st, &st->acc_subkey_etype);
    if (ret == HSMSSP_OK)
        ret = hsm_arrival_random_key(st->acc_subkey_etype, &st->acc_subkey);
    /* EncAPRepPart carries the subkey: encoded inside a secret buffer. */
    if (ret == HSMSSP_OK)
        ret = base_secret_new(0, 256, &plain);
    if (ret != HSMSSP_OK)
        goto cleanup;
    base_der_w_init(&w, plain->data, plain->cap);
    kerb_enc_enc_ap_rep_part(&w, st->auth.ctime, st->auth.cusec,
                             st->acc_subkey_etype, st->acc_subkey->data,
                             st->acc_subkey->len, true, seq);
    ret = base_der_w_finish(&w, &enc);
    if (ret == HSMSSP_OK)
        ret = hsm_krb_enc_len(st->tkt.key.etype, enc.len, &ccap);
    if (ret != HSMSSP_OK)
        goto cleanup;
    cipher = malloc(ccap);
    if (cipher == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    ret = hsm_arrival_encrypt(st->tkt.key.etype, &skey,
                              HSM_USAGE_AP_REP_ENCPART, enc.p, enc.len,
                              cipher, ccap, &clen);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memset(&ed, 0, sizeof(ed));
    ed.etype = st->tkt.key.etype;
    ed.cipher = base_der_view(cipher, clen);
    ocap = clen + 64;
    out = malloc(ocap);
    if (out == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    base_der_w_init(&w, out, ocap);
    kerb_enc_ap_rep(&w, &ed);
    kerb_gss_frame(&w, KERB_TOK_AP_REP);
    ret = base_der_w_finish(&w, &tokv);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memmove(out, tokv.p, tokv.len);
    step->out_token = out;
    step->out_len = tokv.len;
    out = NULL;
cleanup:
    base_secret_free(plain);
    free(cipher);
    free(out);
    return ret;
}

/* Imports the context's message key: the acceptor subkey, else the
 * initiator's subkey, else the ticket session key. */
static hsmssp_err
import_message_key(accept_state *st)
{
    kerb_ctx *c = st->ctx;
    hsm_key_spec spec;
    base_secret view, *k;
    int32_t etype;
    hsmssp_err ret;

    if (st->acc_subkey != NULL) {
        etype = st->acc_subkey_etype;
        k = st->acc_subkey;
        c->acceptor_subkey = true;
    } else if (st->auth.has_subkey) {
        etype = st->auth.subkey.etype;
        view = kerb_key_view(&st->auth.subkey);
        k = &view;
    } else {
        etype = st->tkt.key.etype;
        view = kerb_key_view(&st->tkt.key);
        k = &view;
    }
    /* Whichever it is, from now on it only seals and signs messages. */
    kerb_key_spec(&spec, etype, KERB_JOB_CONTEXT);
    ret = hsm_key_import(c->tok, &spec, k, &c->key);
    if (ret == HSMSSP_OK)
        c->etype = spec.etype;
    return ret;
}

/* A KRB-ERROR token for a failure after the AP-REQ parsed. */
static void
build_error(accept_state *st, prov_step *step)
{
    kerb_error e;
    uint8_t *out = NULL;
    base_der_w w;
    base_der tokv;
    int64_t now = st->now_us;

    memset(&e, 0, sizeof(e));
    e.stime = now / 1000000;
    e.susec = (int32_t)(now % 1000000);
    e.code = st->krb_error ? st->krb_error : KERB_ERR_GENERIC;
    e.realm = st->req.ticket.realm;
    e.sname = st->req.ticket.sname;
    if (st->auth_plain != NULL && e.code == KERB_AP_ERR_SKEW) {
        /* With the client's time echoed, the client can correct. */
        e.has_ctime = e.has_cusec = true;
        e.ctime = st->auth.ctime;
        e.cusec = st->auth.cusec;
    }
    out = malloc(1024);
    if (out == NULL)
        return;
    base_der_w_init(&w, out, 1024);
    kerb_enc_error(&w, &e);
    kerb_gss_frame(&w, KERB_TOK_ERROR);
    if (base_der_w_finish(&w, &tokv) != HSMSSP_OK) {
        free(out);
        return;
    }
    memmove(out, tokv.p, tokv.len);
    step->out_token = out;
    step->out_len = tokv.len;
}

static void
state_release(accept_state *st)
{
    base_secret_free(st->tkt_plain);
    base_secret_free(st->auth_plain);
    base_secret_free(st->acc_subkey);
    base_secret_free(st->cred_plain);
    base_memzero(&st->tkt, sizeof(st->tkt));
    base_memzero(&st->auth, sizeof(st->auth));
}

static hsmssp_err
accept_token(accept_state *st, prov_step *step)
{
    kerb_ctx *c = st->ctx;
    base_der oid, inner, msg;
    unsigned tok_id;
    uint32_t seq = 0, want;
    hsmssp_err ret;

    if (step->in_len == 0)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "empty input token");
    if (step->in_len > st->cfg->max_token_size)
        return BASE_ERR(HSMSSP_ERR_LIMIT,
                        "input token of %zu bytes (max_token_size %zu)",
                        step->in_len, st->cfg->max_token_size);
    ret = base_der_check(base_der_view(step->in_token, step->in_len), 1);
    if (ret != HSMSSP_OK && ret != HSMSSP_ERR_LIMIT)
        return ret;
    ret = kerb_gss_unframe(base_der_view(step->in_token, step->in_len), &oid,
                           &inner);
    if (ret != HSMSSP_OK)
        return ret;
    if (!kerb_gss_is_krb5_oid(oid))
        return BASE_ERR(HSMSSP_ERR_WRONG_MECH,
                        "initial token is not for Kerberos");
    ret = kerb_gss_tok_id(inner, &tok_id, &msg);
    if (ret != HSMSSP_OK)
        return ret;
    if (tok_id != KERB_TOK_AP_REQ)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "expected an AP-REQ, got token id 0x%04x", tok_id);
    ret = base_der_check(msg, st->cfg->max_der_depth);
    if (ret != HSMSSP_OK)
        return ret;
    ret = kerb_dec_ap_req(msg, &st->req);
    if (ret != HSMSSP_OK)
        return ret;
    st->parsed = true;
    if (st->req.options & KERB_AP_OPT_USE_SESSION_KEY) {
        st->krb_error = KERB_AP_ERR_MSG_TYPE;
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "user-to-user tickets are not accepted");
    }

    ret = decrypt_ticket(st);
    if (ret == HSMSSP_OK)
        ret = decrypt_authenticator(st);
    if (ret != HSMSSP_OK)
        return ret;
    ret = kerb_principal_unparse(&st->tkt.cname, st->tkt.crealm, c->client,
                                 sizeof(c->client));
    if (ret != HSMSSP_OK)
        return ret;
    memcpy(c->server, st->server, strlen(st->server) + 1);
    ret = check_names_and_times(st);
    if (ret == HSMSSP_OK)
        ret = check_gss_checksum(st, step);
    if (ret == HSMSSP_OK)
        ret = check_replay(st, step);
    if (ret == HSMSSP_OK)
        ret = check_pac(st);
    if (ret == HSMSSP_OK)
        ret = take_delegation(st, step);
    if (ret != HSMSSP_OK)
        return ret;

    c->authtime = st->tkt.authtime;
    c->starttime = st->tkt.has_starttime ? st->tkt.starttime
                                         : st->tkt.authtime;
    c->endtime = st->tkt.endtime;
    /* Mutual authentication when the AP options or the GSS flags ask. */
    if ((st->req.options & KERB_AP_OPT_MUTUAL_REQUIRED) ||
        (st->gss_flags & KERB_GSS_MUTUAL)) {
        ret = hsm_random((uint8_t *)&seq, sizeof(seq));
        if (ret != HSMSSP_OK)
            return ret;
        /* MIT keeps the initial number below 2^30 so that 32-bit peers
         * never wrap early. */
        seq &= 0x3fffffffu;
        ret = build_ap_rep(st, seq, step);
        if (ret != HSMSSP_OK)
            return ret;
        c->flags |= PROV_F_MUTUAL;
        c->send_seq = seq;
    } else {
        /* RFC 4121 sec. 4.2.6.2 / MIT: without an AP-REP the acceptor
         * starts from the initiator's number. */
        c->send_seq = st->auth.has_seq ? st->auth.seq : 0;
    }
    ret = import_message_key(st);
    if (ret != HSMSSP_OK)
        return ret;

    /* Flags in force: what the client asked for (GSS flags in the
     * checksum) plus what the server asked for detection-wise; integrity
     * always, confidentiality when the client asked. */
    want = st->gss_flags;
    c->flags |= PROV_F_INTEG;
    if (want & KERB_GSS_CONF)
        c->flags |= PROV_F_CONF;
    if ((want & KERB_GSS_REPLAY) || (step->req_flags & PROV_F_REPLAY))
        c->flags |= PROV_F_REPLAY;
    if ((want & KERB_GSS_SEQUENCE) || (step->req_flags & PROV_F_SEQUENCE))
        c->flags |= PROV_F_SEQUENCE;
    if (want & KERB_GSS_IDENTIFY)
        c->flags |= PROV_F_IDENTIFY;
    if (step->req_flags & PROV_F_CONNECTION)
        c->flags |= PROV_F_CONNECTION;
    /* RFC 4121 numbers messages with 64 bits, RFC 4757 (arcfour-hmac
     * message keys) with 32: the window wraps where the peer's does. */
    kerb_seq_init(&c->recv, st->auth.has_seq ? st->auth.seq : 0,
                  (c->flags & PROV_F_REPLAY) != 0,
                  (c->flags & PROV_F_SEQUENCE) != 0,
                  c->etype != HSM_ETYPE_RC4_HMAC);
    c->established = true;
    step->ret_flags = c->flags;
    step->expiry = c->endtime;
    step->continue_needed = false;
    return HSMSSP_OK;
}

hsmssp_err
kerb_accept(void *credp, void **ctxp, prov_step *step)
{
    kerb_cred *cred = credp;
    accept_state st;
    hsmssp_err ret;

    step->out_token = NULL;
    step->out_len = 0;
    step->ret_flags = 0;
    step->continue_needed = false;
    if (cred == NULL || (cred->use & PROV_CRED_INBOUND) == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "an inbound credential is needed to accept");
    if (*ctxp != NULL)
        return BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                        "Kerberos contexts are established in one step");
    if (cred->pid != getpid())
        return BASE_ERR(HSMSSP_ERR_FORKED,
                        "credential was acquired before fork()");
    memset(&st, 0, sizeof(st));
    st.cred = cred;
    st.cfg = prov_env_config(cred->env);
    st.now_us = prov_now_us();
    ret = kerb_ctx_new(cred->env, cred->tok, false, &st.ctx);
    if (ret != HSMSSP_OK)
        return ret;
    *ctxp = st.ctx;
    ret = accept_token(&st, step);
    if (ret != HSMSSP_OK) {
        hsmssp_err saved = ret;

        if (st.parsed && (step->req_flags & PROV_F_EXTENDED_ERROR))
            build_error(&st, step);
        base_log(HSMSSP_LOG_INFO, "kerberos",
                 "authentication of %s to %s refused: %s",
                 st.ctx->client[0] ? st.ctx->client : "(unknown client)",
                 st.server[0] ? st.server : "(unknown service)",
                 hsmssp_last_error_detail());
        /* Restore the error the caller must see (logging may not raise,
         * but keep the contract explicit). */
        ret = saved;
    } else {
        base_log(HSMSSP_LOG_INFO, "kerberos",
                 "%s authenticated to %s (%s)", st.ctx->client, st.server,
                 hsm_etype_name(st.ctx->etype));
    }
    state_release(&st);
    return ret;
}
