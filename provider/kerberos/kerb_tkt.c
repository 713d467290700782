/*
 * provider/kerberos/kerb_tkt.c - tickets an initiator holds, and the
 * meaning of a KRB-ERROR.
 *
 * A kerb_tkt is immutable once made, so the only shared state is its
 * reference count: a credential's cache and every context still building
 * an AP-REQ with the ticket hold one each, and the last one releases the
 * session key's token objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/kerberos/kerb-int.h"

hsmssp_err
kerb_tkt_alloc(base_der ticket, kerb_tkt **tkt_out)
{
    kerb_tkt *t;

    *tkt_out = NULL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    t->refs = 1;
    t->ticket = malloc(ticket.len ? ticket.len : 1);
    if (t->ticket == NULL) {
        free(t);
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    if (ticket.len > 0)
        memcpy(t->ticket, ticket.p, ticket.len);
    t->ticket_len = ticket.len;
    *tkt_out = t;
    return HSMSSP_OK;
}

hsmssp_err
kerb_tkt_new(base_der ticket, const kerb_enc_kdc_rep_part *ep,
             const char *client, hsm_key *key, kerb_tkt **tkt_out)
{
    kerb_tkt *t = NULL;
    hsmssp_err ret;

    *tkt_out = NULL;
    if (strlen(client) > KERB_KS_MAX_PRINCIPAL) {
        ret = BASE_ERR(HSMSSP_ERR_LIMIT, "client name too long");
        goto cleanup;
    }
    ret = kerb_tkt_alloc(ticket, &t);
    if (ret != HSMSSP_OK)
        goto cleanup;
    memcpy(t->client, client, strlen(client) + 1);
    ret = kerb_principal_unparse(&ep->sname, ep->srealm, t->server,
                                 sizeof(t->server));
    if (ret != HSMSSP_OK)
        goto cleanup;
    t->flags = ep->flags;
    t->authtime = ep->authtime;
    t->starttime = ep->has_starttime ? ep->starttime : ep->authtime;
    t->endtime = ep->endtime;
    t->renew_till = ep->has_renew_till ? ep->renew_till : 0;
    t->etype = ep->key.etype;
    t->key = key;
    key = NULL;
    *tkt_out = t;
    t = NULL;
cleanup:
    hsm_key_free(key);
    kerb_tkt_unref(t);
    return ret;
}

kerb_tkt *
kerb_tkt_ref(kerb_tkt *t)
{
    if (t != NULL)
        __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
    return t;
}

void
kerb_tkt_unref(kerb_tkt *t)
{
    if (t == NULL || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    /* A persistent key (stored TGT) stays on the token: the store owns
     * its lifetime; hsm_key_free() only drops this process's handle. */
    hsm_key_free(t->key);
    free(t->ticket);
    free(t);
}

/* Index of the '@' that starts the realm: the last one not escaped by a
 * backslash (kerb_principal_unparse escapes '@' inside components). */
static const char *
realm_at(const char *s)
{
    const char *at = NULL;

    for (const char *p = s; *p; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
            continue;
        }
        if (*p == '@')
            at = p;
    }
    return at;
}

void
kerb_name_realm(const char *principal, char *out)
{
    const char *at = realm_at(principal);
    size_t n = at ? strlen(at + 1) : 0;

    if (n > KERB_KS_MAX_PRINCIPAL)
        n = KERB_KS_MAX_PRINCIPAL;
    if (n > 0)
        memcpy(out, at + 1, n);
    out[n] = '\0';
}

bool
kerb_tkt_is_tgt(const kerb_tkt *t, char *instance_out, char *realm_out)
{
    char storage[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_principal p;
    base_der realm;

    if (kerb_principal_parse(t->server, KERB_NT_SRV_INST, storage, &p,
                             &realm) != HSMSSP_OK)
        return false;
    if (p.n != 2 || !base_der_eq(p.comp[0], base_der_view("krbtgt", 6)))
        return false;
    if (instance_out != NULL) {
        memcpy(instance_out, p.comp[1].p, p.comp[1].len);
        instance_out[p.comp[1].len] = '\0';
    }
    if (realm_out != NULL) {
        memcpy(realm_out, realm.p, realm.len);
        realm_out[realm.len] = '\0';
    }
    return true;
}

/* ---- small shared helpers ------------------------------------------- */

static const int32_t tgt_usages[] = {HSM_USAGE_TGS_REQ_AUTH_CKSUM,
                                     HSM_USAGE_TGS_REQ_AUTH,
                                     HSM_USAGE_TGS_REP_ENCPART_SESSKEY};
static const int32_t ticket_usages[] = {HSM_USAGE_AP_REQ_AUTH,
                                        HSM_USAGE_AP_REP_ENCPART,
                                        HSM_USAGE_KRB_CRED_ENCPART};
static const int32_t context_usages[] = {
    HSM_USAGE_ACCEPTOR_SEAL, HSM_USAGE_ACCEPTOR_SIGN,
    HSM_USAGE_INITIATOR_SEAL, HSM_USAGE_INITIATOR_SIGN};
static const int32_t password_usages[] = {HSM_USAGE_AS_REQ_PA_ENC_TS,
                                          HSM_USAGE_AS_REP_ENCPART};

void
kerb_import_opts_apply(hsm_key_spec *spec, const kerb_import_opts *imp)
{
    if (imp == NULL || !imp->persistent)
        return;
    spec->persistent = true;
    spec->id = imp->id;
    spec->id_len = imp->id_len;
    spec->label = imp->label;
}

hsmssp_err
kerb_rep_decrypt(hsm_key *key, int32_t usage, const kerb_kdc_rep *rep,
                 base_secret **plain_out, kerb_enc_kdc_rep_part *ep)
{
    size_t plen = 0;
    unsigned app = 0;
    hsmssp_err ret;

    ret = base_secret_new(0, rep->enc.cipher.len ? rep->enc.cipher.len : 1,
                          plain_out);
    if (ret != HSMSSP_OK)
        return ret;
    ret = hsm_krb_decrypt(key, usage, rep->enc.cipher.p, rep->enc.cipher.len,
                          (*plain_out)->data, (*plain_out)->cap, &plen);
    if (ret != HSMSSP_OK)
        return ret;
    (*plain_out)->len = plen;
    return kerb_dec_enc_kdc_rep_part(
        base_der_view((*plain_out)->data, plen), ep, &app);
}

hsmssp_err
kerb_rep_check(const prov_config *cfg, const char *peer,
               const kerb_kdc_rep *rep, const kerb_enc_kdc_rep_part *ep,
               int64_t now)
{
    if (!kerb_principal_eq(&rep->ticket.sname, &ep->sname) ||
        !base_der_eq(rep->ticket.realm, ep->srealm))
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s sent a ticket whose clear-text server differs",
                        peer);
    if (ep->endtime <= now - cfg->clock_skew)
        return BASE_ERR(HSMSSP_ERR_TICKET_EXPIRED,
                        "%s issued a ticket that has already expired", peer);
    if (hsm_etype_keylen(ep->key.etype) == 0 ||
        hsm_etype_keylen(ep->key.etype) != ep->key.value.len)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "%s sent a session key of enctype %d and %zu bytes",
                        peer, (int)ep->key.etype, ep->key.value.len);
    if (!kerb_etype_permitted(cfg, ep->key.etype))
        return BASE_ERR(HSMSSP_ERR_POLICY_ENCTYPE,
                        "%s chose %s for the session key, which "
                        "permitted_enctypes does not list",
                        peer, hsm_etype_name(ep->key.etype));
    return HSMSSP_OK;
}

void
kerb_key_spec(hsm_key_spec *spec, int32_t etype, kerb_key_job job)
{
    memset(spec, 0, sizeof(*spec));
    spec->etype = etype;
    spec->key_class = HSM_KEY_SESSION;
    spec->roles_by_usage = true;
    switch (job) {
    case KERB_JOB_TGT:
        spec->usages = tgt_usages;
        spec->n_usages = BASE_ARRAY_LEN(tgt_usages);
        break;
    case KERB_JOB_TICKET:
        spec->usages = ticket_usages;
        spec->n_usages = BASE_ARRAY_LEN(ticket_usages);
        break;
    case KERB_JOB_CONTEXT:
        spec->usages = context_usages;
        spec->n_usages = BASE_ARRAY_LEN(context_usages);
        break;
    case KERB_JOB_PASSWORD:
        spec->key_class = HSM_KEY_LONG_TERM;
        spec->usages = password_usages;
        spec->n_usages = BASE_ARRAY_LEN(password_usages);
        break;
    }
}

base_secret
kerb_key_view(const kerb_key *k)
{
    base_secret s;

    s.data = (uint8_t *)k->value.p;
    s.len = k->value.len;
    s.cap = k->value.len;
    return s;
}

bool
kerb_etype_permitted(const prov_config *cfg, int32_t etype)
{
    for (size_t i = 0; i < cfg->n_permitted_enctypes; i++)
        if (cfg->permitted_enctypes[i] == etype)
            return true;
    return false;
}

bool
kerb_etype_runs(hsm_token *tok, int32_t etype)
{
    size_t n = 0;
    const hsm_strategy_row *rows = hsm_token_strategies(tok, &n);

    for (size_t i = 0; i < n; i++)
        if (rows[i].etype == etype)
            return rows[i].allowed && rows[i].level != HSM_LEVEL_NONE;
    return false;
}

hsmssp_err
kerb_seal(hsm_key *key, int32_t usage, base_der plain, uint8_t **cipher_out,
          kerb_enc_data *ed_out)
{
    int32_t etype = hsm_key_etype(key);
    size_t cap = 0, len = 0;
    uint8_t *c;
    hsmssp_err ret;

    *cipher_out = NULL;
    memset(ed_out, 0, sizeof(*ed_out));
    ret = hsm_krb_enc_len(etype, plain.len, &cap);
    if (ret != HSMSSP_OK)
        return ret;
    c = malloc(cap);
    if (c == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    ret = hsm_krb_encrypt(key, usage, plain.p, plain.len, c, cap, &len);
    if (ret != HSMSSP_OK) {
        free(c);
        return ret;
    }
    ed_out->etype = etype;
    ed_out->cipher = base_der_view(c, len);
    *cipher_out = c;
    return HSMSSP_OK;
}

const char *
kerb_detail_tail(hsmssp_err code)
{
    const char *d = hsmssp_last_error_detail();
    const char *m = hsmssp_err_message(code);
    size_t n = strlen(m);

    if (strncmp(d, m, n) == 0 && d[n] == ':')
        d += n + 1 + (d[n + 1] == ' ');
    return d;
}

void
kerb_cb_from_prov(const prov_cb *in, kerb_cb *out)
{
    memset(out, 0, sizeof(*out));
    out->initiator_addrtype = in->initiator_addrtype;
    out->initiator_address =
        base_der_view(in->initiator_address, in->initiator_address_len);
    out->acceptor_addrtype = in->acceptor_addrtype;
    out->acceptor_address =
        base_der_view(in->acceptor_address, in->acceptor_address_len);
    out->application_data =
        base_der_view(in->application_data, in->application_data_len);
}

/* ---- KRB-ERROR ------------------------------------------------------- */

/* What each code means to a caller, and the hsmssp error it becomes. */
static hsmssp_err
code_to_err(int32_t code)
{
    switch (code) {
    case KERB_KDC_ERR_C_PRINCIPAL_UNKNOWN:
        return HSMSSP_ERR_CLIENT_UNKNOWN;
    case KERB_KDC_ERR_S_PRINCIPAL_UNKNOWN:
        return HSMSSP_ERR_PRINCIPAL_UNKNOWN;
    case KERB_KDC_ERR_PREAUTH_FAILED:
    case KERB_AP_ERR_BAD_INTEGRITY: /* old KDCs: wrong key, no preauth */
        return HSMSSP_ERR_PREAUTH_FAILED;
    case KERB_AP_ERR_SKEW:
        return HSMSSP_ERR_CLOCK_SKEW;
    case KERB_KDC_ERR_ETYPE_NOSUPP:
        return HSMSSP_ERR_KDC_ETYPE;
    case KERB_AP_ERR_TKT_EXPIRED:
        return HSMSSP_ERR_TICKET_EXPIRED;
    case KERB_AP_ERR_TKT_NYV:
        return HSMSSP_ERR_TICKET_NOT_YET_VALID;
    case KERB_AP_ERR_REPEAT:
        return HSMSSP_ERR_REPLAY;
    case KERB_AP_ERR_NOT_US:
        return HSMSSP_ERR_WRONG_PRINCIPAL;
    case KERB_AP_ERR_BADKEYVER:
    case KERB_AP_ERR_NOKEY:
        return HSMSSP_ERR_NO_KEY;
    case KERB_AP_ERR_MODIFIED:
        return HSMSSP_ERR_INTEGRITY;
    case KERB_AP_ERR_BADMATCH:
        return HSMSSP_ERR_INTEGRITY;
    default:
        return HSMSSP_ERR_PEER_ERROR;
    }
}

static const char *
code_name(int32_t code)
{
    switch (code) {
    case KERB_KDC_ERR_C_PRINCIPAL_UNKNOWN:
        return "client not found in the Kerberos database";
    case KERB_KDC_ERR_S_PRINCIPAL_UNKNOWN:
        return "server not found in the Kerberos database";
    case KERB_KDC_ERR_POLICY:
        return "KDC policy rejects the request";
    case KERB_KDC_ERR_BADOPTION:
        return "KDC cannot accommodate the requested option";
    case KERB_KDC_ERR_ETYPE_NOSUPP:
        return "no encryption type in common";
    case KERB_KDC_ERR_CLIENT_REVOKED:
        return "client's credentials have been revoked";
    case KERB_KDC_ERR_KEY_EXPIRED:
        return "password has expired";
    case KERB_KDC_ERR_PREAUTH_FAILED:
        return "pre-authentication failed (wrong key or password)";
    case KERB_KDC_ERR_PREAUTH_REQUIRED:
        return "pre-authentication required";
    case KERB_KDC_ERR_WRONG_REALM:
        return "wrong realm";
    case KERB_AP_ERR_BAD_INTEGRITY:
        return "integrity check failed (wrong key)";
    case KERB_AP_ERR_TKT_EXPIRED:
        return "ticket expired";
    case KERB_AP_ERR_TKT_NYV:
        return "ticket not yet valid";
    case KERB_AP_ERR_REPEAT:
        return "request is a replay";
    case KERB_AP_ERR_NOT_US:
        return "the ticket is not for us";
    case KERB_AP_ERR_BADMATCH:
        return "ticket and authenticator do not match";
    case KERB_AP_ERR_SKEW:
        return "clock skew too great";
    case KERB_AP_ERR_MODIFIED:
        return "message stream modified (channel bindings or checksum)";
    case KERB_AP_ERR_BADKEYVER:
        return "no key of the ticket's version";
    case KERB_AP_ERR_NOKEY:
        return "service key not available";
    case KERB_AP_ERR_INAPP_CKSUM:
        return "inappropriate checksum";
    case KERB_ERR_GENERIC:
        return "generic error";
    default:
        return "error";
    }
}

hsmssp_err
kerb_error_to_err(base_der msg, const char *peer, int32_t *code_out)
{
    kerb_error e;
    char etext[128];
    size_t n = 0;
    hsmssp_err ret;

    if (code_out != NULL)
        *code_out = 0;
    ret = kerb_dec_error(msg, &e);
    if (ret != HSMSSP_OK)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "%s sent a malformed KRB-ERROR",
                        peer);
    if (code_out != NULL)
        *code_out = e.code;
    /* e-text is the peer's free text: shown bounded, printable only. */
    if (e.has_etext) {
        for (size_t i = 0; i < e.etext.len && n + 1 < sizeof(etext); i++) {
            uint8_t c = e.etext.p[i];

            etext[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        }
    }
    etext[n] = '\0';
    return BASE_ERR(code_to_err(e.code), "%s answered KRB-ERROR %d (%s)%s%s",
                    peer, (int)e.code, code_name(e.code), n ? ": " : "",
                    etext);
}
