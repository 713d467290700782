/*
 * provider/kerberos/kerb_asn1.c - RFC 4120 message decoders and encoders
 * (contract in kerb_asn1.h).
 *
 * Decoders read each SEQUENCE field by field in the order RFC 4120 sec. 5
 * gives, so the code mirrors the ASN.1 module and a reviewer can check
 * one against the other.  They have no resources to release, so a failed
 * step simply returns (CHECK, kerb_asn1-int.h); the views already stored
 * in *out are harmless (they point into the caller's buffer) and callers
 * never use *out after a failure.  The field readers and encoder helpers
 * shared with kerb_asn1_kdc.c (the KDC exchanges) live in kerb_asn1-int.h.
 *
 * Encoders prepend (base/der.h), so each writes its fields from the last
 * to the first.  The writer's error is sticky and checked by the caller
 * at base_der_w_finish().
 */
#include <string.h>

#include "provider/kerberos/kerb_asn1-int.h"
#include "provider/kerberos/kerb_asn1.h"

/* ---- field readers (the others: kerb_asn1-int.h) --------------------- */

static hsmssp_err
get_key_opt(base_der *in, unsigned n, kerb_key *k, bool *present)
{
    base_der seq;

    memset(k, 0, sizeof(*k));
    CHECK(base_der_get_field_opt(in, n, BASE_DER_SEQUENCE, &seq, present));
    return *present ? dec_key_seq(seq, k) : HSMSSP_OK;
}

static hsmssp_err
get_uint32_opt(base_der *in, unsigned n, uint32_t *out, bool *present)
{
    base_der v;

    *out = 0;
    CHECK(base_der_get_field_opt(in, n, BASE_DER_INTEGER, &v, present));
    return *present ? base_der_uint32(v, out) : HSMSSP_OK;
}

/* Opens [APPLICATION app] SEQUENCE { ... } and returns the sequence's
 * contents; the application element must be all of in. */
static hsmssp_err
open_app(base_der in, unsigned app, base_der *seq_out, const char *what)
{
    base_der body;

    if (base_der_peek(&in) != (int)BASE_DER_APP(app))
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "not a %s", what);
    CHECK(base_der_get(&in, BASE_DER_APP(app), &body, NULL));
    CHECK(base_der_end(&in));
    CHECK(base_der_get(&body, BASE_DER_SEQUENCE, seq_out, NULL));
    return base_der_end(&body);
}

/* ---- messages -------------------------------------------------------- */

/* Ticket ::= [APPLICATION 1] SEQUENCE { tkt-vno [0] INTEGER (5),
 *     realm [1] Realm, sname [2] PrincipalName, enc-part [3] EncryptedData } */
hsmssp_err
kerb_dec_ticket(base_der in, kerb_ticket *t)
{
    base_der seq;

    memset(t, 0, sizeof(*t));
    t->whole = in;
    CHECK(open_app(in, 1, &seq, "Ticket"));
    CHECK(expect_int(&seq, 0, KERB_PVNO, "tkt-vno"));
    CHECK(get_string(&seq, 1, &t->realm));
    CHECK(get_principal(&seq, 2, &t->sname));
    CHECK(get_enc_data(&seq, 3, &t->enc));
    return skip_extensions(&seq, 3);
}

/* AP-REQ ::= [APPLICATION 14] SEQUENCE { pvno [0], msg-type [1],
 *     ap-options [2] APOptions, ticket [3] Ticket,
 *     authenticator [4] EncryptedData } */
hsmssp_err
kerb_dec_ap_req(base_der in, kerb_ap_req *r)
{
    base_der seq;

    memset(r, 0, sizeof(*r));
    CHECK(open_app(in, KERB_MSG_AP_REQ, &seq, "KRB_AP_REQ"));
    CHECK(expect_int(&seq, 0, KERB_PVNO, "pvno"));
    CHECK(expect_int(&seq, 1, KERB_MSG_AP_REQ, "msg-type"));
    CHECK(get_flags(&seq, 2, &r->options));
    CHECK(get_ticket(&seq, 3, &r->ticket));
    CHECK(get_enc_data(&seq, 4, &r->auth));
    return skip_extensions(&seq, 4);
}

/* EncTicketPart ::= [APPLICATION 3] SEQUENCE { flags [0], key [1],
 *     crealm [2], cname [3], transited [4] TransitedEncoding,
 *     authtime [5], starttime [6] OPTIONAL, endtime [7],
 *     renew-till [8] OPTIONAL, caddr [9] HostAddresses OPTIONAL,
 *     authorization-data [10] AuthorizationData OPTIONAL } */
hsmssp_err
kerb_dec_enc_ticket_part(base_der in, kerb_enc_ticket_part *e)
{
    base_der seq, tr;

    memset(e, 0, sizeof(*e));
    CHECK(open_app(in, 3, &seq, "EncTicketPart"));
    CHECK(get_flags(&seq, 0, &e->flags));
    CHECK(get_key(&seq, 1, &e->key));
    CHECK(get_string(&seq, 2, &e->crealm));
    CHECK(get_principal(&seq, 3, &e->cname));
    CHECK(base_der_get_field(&seq, 4, BASE_DER_SEQUENCE, &tr));
    CHECK(get_int32(&tr, 0, &e->transited_type));
    CHECK(base_der_get_field(&tr, 1, BASE_DER_OCTET_STRING, &e->transited));
    CHECK(base_der_end(&tr));
    CHECK(get_time(&seq, 5, &e->authtime));
    CHECK(get_time_opt(&seq, 6, &e->starttime, &e->has_starttime));
    CHECK(get_time(&seq, 7, &e->endtime));
    CHECK(get_time_opt(&seq, 8, &e->renew_till, &e->has_renew_till));
    CHECK(base_der_get_field_opt(&seq, 9, BASE_DER_SEQUENCE, &e->caddr,
                                 &e->has_caddr));
    if (e->has_caddr)
        CHECK(check_typed_octets_list(e->caddr));
    CHECK(base_der_get_field_opt(&seq, 10, BASE_DER_SEQUENCE, &e->authz,
                                 &e->has_authz));
    if (e->has_authz)
        CHECK(check_typed_octets_list(e->authz));
    return skip_extensions(&seq, 10);
}

/* Authenticator ::= [APPLICATION 2] SEQUENCE { authenticator-vno [0],
 *     crealm [1], cname [2], cksum [3] Checksum OPTIONAL, cusec [4],
 *     ctime [5], subkey [6] OPTIONAL, seq-number [7] UInt32 OPTIONAL,
 *     authorization-data [8] OPTIONAL } */
hsmssp_err
kerb_dec_authenticator(base_der in, kerb_authenticator *a)
{
    base_der seq, ck;

    memset(a, 0, sizeof(*a));
    CHECK(open_app(in, 2, &seq, "Authenticator"));
    CHECK(expect_int(&seq, 0, KERB_PVNO, "authenticator-vno"));
    CHECK(get_string(&seq, 1, &a->crealm));
    CHECK(get_principal(&seq, 2, &a->cname));
    CHECK(base_der_get_field_opt(&seq, 3, BASE_DER_SEQUENCE, &ck,
                                 &a->has_cksum));
    if (a->has_cksum) {
        CHECK(get_int32(&ck, 0, &a->cksum.type));
        CHECK(base_der_get_field(&ck, 1, BASE_DER_OCTET_STRING,
                                 &a->cksum.value));
        CHECK(base_der_end(&ck));
    }
    CHECK(get_usec(&seq, 4, &a->cusec));
    CHECK(get_time(&seq, 5, &a->ctime));
    CHECK(get_key_opt(&seq, 6, &a->subkey, &a->has_subkey));
    CHECK(get_uint32_opt(&seq, 7, &a->seq, &a->has_seq));
    CHECK(base_der_get_field_opt(&seq, 8, BASE_DER_SEQUENCE, &a->authz,
                                 &a->has_authz));
    if (a->has_authz)
        CHECK(check_typed_octets_list(a->authz));
    return skip_extensions(&seq, 8);
}

/* AP-REP ::= [APPLICATION 15] SEQUENCE { pvno [0], msg-type [1],
 *     enc-part [2] EncryptedData } */
hsmssp_err
kerb_dec_ap_rep(base_der in, kerb_ap_rep *r)
{
    base_der seq;

    memset(r, 0, sizeof(*r));
    CHECK(open_app(in, KERB_MSG_AP_REP, &seq, "KRB_AP_REP"));
    CHECK(expect_int(&seq, 0, KERB_PVNO, "pvno"));
    CHECK(expect_int(&seq, 1, KERB_MSG_AP_REP, "msg-type"));
    CHECK(get_enc_data(&seq, 2, &r->enc));
    return skip_extensions(&seq, 2);
}

/* EncAPRepPart ::= [APPLICATION 27] SEQUENCE { ctime [0], cusec [1],
 *     subkey [2] OPTIONAL, seq-number [3] OPTIONAL } */
hsmssp_err
kerb_dec_enc_ap_rep_part(base_der in, kerb_enc_ap_rep_part *e)
{
    base_der seq;

    memset(e, 0, sizeof(*e));
    CHECK(open_app(in, 27, &seq, "EncAPRepPart"));
    CHECK(get_time(&seq, 0, &e->ctime));
    CHECK(get_usec(&seq, 1, &e->cusec));
    CHECK(get_key_opt(&seq, 2, &e->subkey, &e->has_subkey));
    CHECK(get_uint32_opt(&seq, 3, &e->seq, &e->has_seq));
    return skip_extensions(&seq, 3);
}

/* KRB-ERROR ::= [APPLICATION 30] SEQUENCE { pvno [0], msg-type [1],
 *     ctime [2] OPTIONAL, cusec [3] OPTIONAL, stime [4], susec [5],
 *     error-code [6], crealm [7] OPTIONAL, cname [8] OPTIONAL,
 *     realm [9], sname [10], e-text [11] OPTIONAL,
 *     e-data [12] OPTIONAL } */
hsmssp_err
kerb_dec_error(base_der in, kerb_error *e)
{
    base_der seq, v;

    memset(e, 0, sizeof(*e));
    CHECK(open_app(in, KERB_MSG_ERROR, &seq, "KRB_ERROR"));
    CHECK(expect_int(&seq, 0, KERB_PVNO, "pvno"));
    CHECK(expect_int(&seq, 1, KERB_MSG_ERROR, "msg-type"));
    CHECK(get_time_opt(&seq, 2, &e->ctime, &e->has_ctime));
    if (base_der_peek(&seq) == (int)BASE_DER_CTX(3)) {
        e->has_cusec = true;
        CHECK(get_usec(&seq, 3, &e->cusec));
    }
    CHECK(get_time(&seq, 4, &e->stime));
    CHECK(get_usec(&seq, 5, &e->susec));
    CHECK(get_int32(&seq, 6, &e->code));
    CHECK(get_string_opt(&seq, 7, &e->crealm, &e->has_crealm));
    CHECK(get_principal_opt(&seq, 8, &e->cname, &e->has_cname));
    CHECK(get_string(&seq, 9, &e->realm));
    CHECK(get_principal(&seq, 10, &e->sname));
    CHECK(get_string_opt(&seq, 11, &e->etext, &e->has_etext));
    CHECK(base_der_get_field_opt(&seq, 12, BASE_DER_OCTET_STRING, &v,
                                 &e->has_edata));
    if (e->has_edata)
        e->edata = v;
    return skip_extensions(&seq, 12);
}

/* KRB-CRED ::= [APPLICATION 22] SEQUENCE { pvno [0], msg-type [1],
 *     tickets [2] SEQUENCE OF Ticket, enc-part [3] EncryptedData } */
hsmssp_err
kerb_dec_cred(base_der in, kerb_krb_cred *c)
{
    base_der seq, list, whole;
    unsigned tag;

    memset(c, 0, sizeof(*c));
    CHECK(open_app(in, KERB_MSG_CRED, &seq, "KRB_CRED"));
    CHECK(expect_int(&seq, 0, KERB_PVNO, "pvno"));
    CHECK(expect_int(&seq, 1, KERB_MSG_CRED, "msg-type"));
    CHECK(base_der_get_field(&seq, 2, BASE_DER_SEQUENCE, &list));
    while (list.len > 0) {
        if (c->n_tickets == KERB_MAX_CRED_TICKETS)
            return BASE_ERR(HSMSSP_ERR_LIMIT,
                            "KRB-CRED carries more than %d tickets",
                            KERB_MAX_CRED_TICKETS);
        CHECK(base_der_get_any(&list, &tag, NULL, &whole));
        CHECK(kerb_dec_ticket(whole, &c->tickets[c->n_tickets++]));
    }
    CHECK(get_enc_data(&seq, 3, &c->enc));
    return skip_extensions(&seq, 3);
}

/* KrbCredInfo ::= SEQUENCE { key [0], prealm [1] OPTIONAL,
 *     pname [2] OPTIONAL, flags [3] OPTIONAL, authtime [4] OPTIONAL,
 *     starttime [5] OPTIONAL, endtime [6] OPTIONAL,
 *     renew-till [7] OPTIONAL, srealm [8] OPTIONAL, sname [9] OPTIONAL,
 *     caddr [10] OPTIONAL } */
static hsmssp_err
dec_cred_info(base_der seq, kerb_cred_info *i)
{
    base_der v;
    bool has_caddr;

    memset(i, 0, sizeof(*i));
    CHECK(get_key(&seq, 0, &i->key));
    CHECK(get_string_opt(&seq, 1, &i->prealm, &i->has_prealm));
    CHECK(get_principal_opt(&seq, 2, &i->pname, &i->has_pname));
    CHECK(base_der_get_field_opt(&seq, 3, BASE_DER_BIT_STRING, &v,
                                 &i->has_flags));
    if (i->has_flags)
        CHECK(base_der_flags32(v, &i->flags));
    CHECK(get_time_opt(&seq, 4, &i->authtime, &i->has_authtime));
    CHECK(get_time_opt(&seq, 5, &i->starttime, &i->has_starttime));
    CHECK(get_time_opt(&seq, 6, &i->endtime, &i->has_endtime));
    CHECK(get_time_opt(&seq, 7, &i->renew_till, &i->has_renew_till));
    CHECK(get_string_opt(&seq, 8, &i->srealm, &i->has_srealm));
    CHECK(get_principal_opt(&seq, 9, &i->sname, &i->has_sname));
    CHECK(base_der_get_field_opt(&seq, 10, BASE_DER_SEQUENCE, &v,
                                 &has_caddr));
    if (has_caddr)
        CHECK(check_typed_octets_list(v));
    return skip_extensions(&seq, 10);
}

/* EncKrbCredPart ::= [APPLICATION 29] SEQUENCE {
 *     ticket-info [0] SEQUENCE OF KrbCredInfo, nonce [1] OPTIONAL,
 *     timestamp [2] OPTIONAL, usec [3] OPTIONAL,
 *     s-address [4] OPTIONAL, r-address [5] OPTIONAL } */
hsmssp_err
kerb_dec_enc_cred_part(base_der in, kerb_enc_cred_part *p)
{
    base_der seq, list, one, v;
    bool present;

    memset(p, 0, sizeof(*p));
    CHECK(open_app(in, 29, &seq, "EncKrbCredPart"));
    CHECK(base_der_get_field(&seq, 0, BASE_DER_SEQUENCE, &list));
    while (list.len > 0) {
        if (p->n_info == KERB_MAX_CRED_TICKETS)
            return BASE_ERR(HSMSSP_ERR_LIMIT,
                            "KRB-CRED carries more than %d tickets",
                            KERB_MAX_CRED_TICKETS);
        CHECK(base_der_get(&list, BASE_DER_SEQUENCE, &one, NULL));
        CHECK(dec_cred_info(one, &p->info[p->n_info++]));
    }
    CHECK(get_uint32_opt(&seq, 1, &p->nonce, &p->has_nonce));
    CHECK(get_time_opt(&seq, 2, &p->timestamp, &p->has_timestamp));
    if (base_der_peek(&seq) == (int)BASE_DER_CTX(3)) {
        p->has_usec = true;
        CHECK(get_usec(&seq, 3, &p->usec));
    }
    /* s-address, r-address: one HostAddress each. */
    for (unsigned f = 4; f <= 5; f++) {
        CHECK(base_der_get_field_opt(&seq, f, BASE_DER_SEQUENCE, &v,
                                     &present));
        if (present) {
            int32_t t;
            base_der a;

            CHECK(get_int32(&v, 0, &t));
            CHECK(base_der_get_field(&v, 1, BASE_DER_OCTET_STRING, &a));
            CHECK(base_der_end(&v));
        }
    }
    return skip_extensions(&seq, 5);
}

/* ---- authorization data --------------------------------------------- */

/* AuthorizationData ::= SEQUENCE OF SEQUENCE { ad-type [0] Int32,
 *     ad-data [1] OCTET STRING } */
hsmssp_err
kerb_authz_next(base_der *iter, int32_t *type_out, base_der *data_out,
                bool *done_out)
{
    base_der one;

    *done_out = iter->len == 0;
    if (*done_out)
        return HSMSSP_OK;
    CHECK(base_der_get(iter, BASE_DER_SEQUENCE, &one, NULL));
    CHECK(get_int32(&one, 0, type_out));
    CHECK(base_der_get_field(&one, 1, BASE_DER_OCTET_STRING, data_out));
    return base_der_end(&one);
}

hsmssp_err
kerb_authz_find(base_der authz, int32_t want, base_der *data_out,
                bool *found_out, size_t *count_out)
{
    base_der iter = authz, data, inner, iter2, d2;
    int32_t type, t2;
    bool done, done2;
    size_t count = 0;

    *found_out = false;
    memset(data_out, 0, sizeof(*data_out));
    for (;;) {
        CHECK(kerb_authz_next(&iter, &type, &data, &done));
        if (done)
            break;
        if (type == want) {
            if (count++ == 0)
                *data_out = data;
            continue;
        }
        if (type != KERB_AD_IF_RELEVANT)
            continue;
        /* AD-IF-RELEVANT ::= AuthorizationData, DER inside the octets. */
        iter2 = data;
        CHECK(base_der_get(&iter2, BASE_DER_SEQUENCE, &inner, NULL));
        CHECK(base_der_end(&iter2));
        for (;;) {
            CHECK(kerb_authz_next(&inner, &t2, &d2, &done2));
            if (done2)
                break;
            if (t2 == want && count++ == 0)
                *data_out = d2;
        }
    }
    *found_out = count > 0;
    if (count_out != NULL)
        *count_out = count;
    return HSMSSP_OK;
}

hsmssp_err
kerb_dec_etype_list(base_der in, int32_t *etypes, size_t max, size_t *n_out)
{
    base_der list, v;
    int64_t x;

    *n_out = 0;
    CHECK(base_der_get(&in, BASE_DER_SEQUENCE, &list, NULL));
    CHECK(base_der_end(&in));
    while (list.len > 0) {
        CHECK(base_der_get(&list, BASE_DER_INTEGER, &v, NULL));
        CHECK(base_der_int(v, INT32_MIN, INT32_MAX, &x));
        /* Keep the first max entries (the client's preference order);
         * the rest is still parsed for well-formedness. */
        if (*n_out < max)
            etypes[(*n_out)++] = (int32_t)x;
    }
    return HSMSSP_OK;
}

/* ---- encoders -------------------------------------------------------- */

void
kerb_enc_principal(base_der_w *w, const kerb_principal *p)
{
    size_t m = base_der_w_len(w), m1;

    m1 = base_der_w_len(w);
    for (size_t i = p->n; i > 0; i--)
        base_der_w_prim(w, BASE_DER_GENERAL_STRING, p->comp[i - 1].p,
                        p->comp[i - 1].len);
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m1);
    wrap_field(w, m1, 1);
    w_int_field(w, 0, p->type);
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m);
}

void
kerb_enc_enc_data(base_der_w *w, const kerb_enc_data *ed)
{
    size_t m = base_der_w_len(w);

    w_prim_field(w, 2, BASE_DER_OCTET_STRING, ed->cipher.p, ed->cipher.len);
    if (ed->has_kvno)
        w_int_field(w, 1, ed->kvno);
    w_int_field(w, 0, ed->etype);
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m);
}

void
kerb_enc_key(base_der_w *w, int32_t etype, const uint8_t *key, size_t len)
{
    size_t m = base_der_w_len(w);

    w_prim_field(w, 1, BASE_DER_OCTET_STRING, key, len);
    w_int_field(w, 0, etype);
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m);
}

void
kerb_enc_ap_rep(base_der_w *w, const kerb_enc_data *enc)
{
    size_t m = base_der_w_len(w), mf;

    mf = base_der_w_len(w);
    kerb_enc_enc_data(w, enc);
    wrap_field(w, mf, 2);
    w_int_field(w, 1, KERB_MSG_AP_REP);
    w_int_field(w, 0, KERB_PVNO);
    wrap_app(w, m, KERB_MSG_AP_REP);
}

void
kerb_enc_enc_ap_rep_part(base_der_w *w, int64_t ctime, int32_t cusec,
                         int32_t subkey_etype, const uint8_t *subkey,
                         size_t subkey_len, bool has_seq, uint32_t seq)
{
    size_t m = base_der_w_len(w), mf;

    if (has_seq)
        w_int_field(w, 3, seq);
    if (subkey != NULL) {
        mf = base_der_w_len(w);
        kerb_enc_key(w, subkey_etype, subkey, subkey_len);
        wrap_field(w, mf, 2);
    }
    w_int_field(w, 1, cusec);
    w_time_field(w, 0, ctime);
    wrap_app(w, m, 27);
}

void
kerb_enc_error(base_der_w *w, const kerb_error *e)
{
    size_t m = base_der_w_len(w), mf;

    if (e->has_edata)
        w_prim_field(w, 12, BASE_DER_OCTET_STRING, e->edata.p, e->edata.len);
    if (e->has_etext)
        w_prim_field(w, 11, BASE_DER_GENERAL_STRING, e->etext.p,
                     e->etext.len);
    mf = base_der_w_len(w);
    kerb_enc_principal(w, &e->sname);
    wrap_field(w, mf, 10);
    w_prim_field(w, 9, BASE_DER_GENERAL_STRING, e->realm.p, e->realm.len);
    if (e->has_cname) {
        mf = base_der_w_len(w);
        kerb_enc_principal(w, &e->cname);
        wrap_field(w, mf, 8);
    }
    if (e->has_crealm)
        w_prim_field(w, 7, BASE_DER_GENERAL_STRING, e->crealm.p,
                     e->crealm.len);
    w_int_field(w, 6, e->code);
    w_int_field(w, 5, e->susec);
    w_time_field(w, 4, e->stime);
    if (e->has_cusec)
        w_int_field(w, 3, e->cusec);
    if (e->has_ctime)
        w_time_field(w, 2, e->ctime);
    w_int_field(w, 1, KERB_MSG_ERROR);
    w_int_field(w, 0, KERB_PVNO);
    wrap_app(w, m, KERB_MSG_ERROR);
}

void
kerb_enc_ap_req(base_der_w *w, uint32_t options, base_der ticket,
                const kerb_enc_data *auth)
{
    size_t m = base_der_w_len(w), mf;

    mf = base_der_w_len(w);
    kerb_enc_enc_data(w, auth);
    wrap_field(w, mf, 4);
    mf = base_der_w_len(w);
    base_der_w_raw(w, ticket.p, ticket.len);
    wrap_field(w, mf, 3);
    mf = base_der_w_len(w);
    base_der_w_flags32(w, options);
    wrap_field(w, mf, 2);
    w_int_field(w, 1, KERB_MSG_AP_REQ);
    w_int_field(w, 0, KERB_PVNO);
    wrap_app(w, m, KERB_MSG_AP_REQ);
}

void
kerb_enc_authenticator(base_der_w *w, const kerb_authenticator *a)
{
    size_t m = base_der_w_len(w), mf;

    if (a->has_authz) {
        mf = base_der_w_len(w);
        base_der_w_raw(w, a->authz.p, a->authz.len);
        base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - mf);
        wrap_field(w, mf, 8);
    }
    if (a->has_seq)
        w_int_field(w, 7, a->seq);
    if (a->has_subkey) {
        mf = base_der_w_len(w);
        kerb_enc_key(w, a->subkey.etype, a->subkey.value.p,
                     a->subkey.value.len);
        wrap_field(w, mf, 6);
    }
    w_time_field(w, 5, a->ctime);
    w_int_field(w, 4, a->cusec);
    if (a->has_cksum) {
        mf = base_der_w_len(w);
        w_prim_field(w, 1, BASE_DER_OCTET_STRING, a->cksum.value.p,
                     a->cksum.value.len);
        w_int_field(w, 0, a->cksum.type);
        base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - mf);
        wrap_field(w, mf, 3);
    }
    mf = base_der_w_len(w);
    kerb_enc_principal(w, &a->cname);
    wrap_field(w, mf, 2);
    w_prim_field(w, 1, BASE_DER_GENERAL_STRING, a->crealm.p, a->crealm.len);
    w_int_field(w, 0, KERB_PVNO);
    wrap_app(w, m, 2);
}

/* ---- principals ------------------------------------------------------ */

/* Appends c to buf, escaped as MIT's krb5_unparse_name does. */
static bool
put_escaped(char *buf, size_t cap, size_t *pos, uint8_t c, bool is_realm)
{
    char esc = 0;

    switch (c) {
    case '/':
        esc = is_realm ? 0 : '/';
        break;
    case '@':
    case '\\':
        esc = (char)c;
        break;
    case '\n':
        esc = 'n';
        break;
    case '\t':
        esc = 't';
        break;
    case '\b':
        esc = 'b';
        break;
    default:
        break;
    }
    if (*pos + (esc ? 2 : 1) >= cap)
        return false;
    if (esc) {
        buf[(*pos)++] = '\\';
        buf[(*pos)++] = esc;
    } else {
        buf[(*pos)++] = (char)c;
    }
    return true;
}

hsmssp_err
kerb_principal_unparse(const kerb_principal *p, base_der realm, char *buf,
                       size_t cap)
{
    size_t pos = 0;

    if (cap == 0)
        return BASE_ERR0(HSMSSP_ERR_BUFFER_TOO_SMALL);
    buf[0] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        if (i > 0) {
            if (pos + 1 >= cap)
                goto small;
            buf[pos++] = '/';
        }
        for (size_t j = 0; j < p->comp[i].len; j++)
            if (!put_escaped(buf, cap, &pos, p->comp[i].p[j], false))
                goto small;
    }
    if (realm.len > 0) {
        if (pos + 1 >= cap)
            goto small;
        buf[pos++] = '@';
        for (size_t j = 0; j < realm.len; j++)
            if (!put_escaped(buf, cap, &pos, realm.p[j], true))
                goto small;
    }
    buf[pos] = '\0';
    return HSMSSP_OK;
small:
    buf[0] = '\0';
    return BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL,
                    "principal name longer than %zu bytes", cap - 1);
}

hsmssp_err
kerb_principal_parse(const char *text, int32_t type, char *storage,
                     kerb_principal *p, base_der *realm_out)
{
    size_t o = 0, start = 0;
    bool in_realm = false;

    memset(p, 0, sizeof(*p));
    *realm_out = base_der_view(storage, 0);
    p->type = type;
    for (const char *s = text;; s++) {
        char c = *s;

        if (c == '\\') {
            s++;
            switch (*s) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'b':
                c = '\b';
                break;
            case '0':
                return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                                "NUL in a principal name");
            case '\0':
                return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                                "principal name ends with '\\'");
            default:
                c = *s;
                break;
            }
            storage[o++] = c;
            continue;
        }
        if (c == '\0' || (!in_realm && (c == '/' || c == '@'))) {
            if (in_realm) {
                *realm_out = base_der_view(storage + start, o - start);
                break;
            }
            if (p->n == KERB_MAX_COMPONENTS)
                return BASE_ERR(HSMSSP_ERR_LIMIT,
                                "principal name has more than %d components",
                                KERB_MAX_COMPONENTS);
            p->comp[p->n++] = base_der_view(storage + start, o - start);
            start = o;
            if (c == '\0')
                break;
            if (c == '@')
                in_realm = true;
            continue;
        }
        if (in_realm && c == '@')
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "unescaped '@' in a realm");
        storage[o++] = c;
    }
    if (p->n == 0 || p->comp[0].len == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "empty principal name");
    return HSMSSP_OK;
}

bool
kerb_principal_eq(const kerb_principal *a, const kerb_principal *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!base_der_eq(a->comp[i], b->comp[i]))
            return false;
    return true;
}
