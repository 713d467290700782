/*
 * provider/kerberos/kerb_asn1_kdc.c - the messages of the AS and TGS
 * exchanges (RFC 4120 sec. 5.4, RFC 6806 sec. 11), PA-ENC-TIMESTAMP,
 * METHOD-DATA and ETYPE-INFO2 (sec. 5.2.7), and the KRB-CRED an initiator
 * sends when it delegates (sec. 5.8).  Contract in kerb_asn1.h; the KDC
 * side, which only tests use, in kerb_asn1-int.h.
 *
 * Same rules as kerb_asn1.c, whose field readers this file shares
 * (kerb_asn1-int.h): zero-copy strict DER, fields read in the order of the
 * ASN.1 module so that each function can be checked against the comment
 * above it, required fields required, counts bounded (HSMSSP_ERR_LIMIT
 * past KERB_MAX_PADATA, KERB_MAX_ETYPES, KERB_MAX_CRED_TICKETS or the
 * caller's max), KerberosStrings NUL-free, HostAddresses and LastReq
 * checked whole, and unknown context fields past the last known one
 * skipped only after a depth-bounded well-formedness check.
 *
 * The EncKDCRepPart is the one key-bearing plaintext here: it is decrypted
 * on the token into a base_secret and parsed in place, so its key is a
 * view into locked memory and no byte of it is copied.
 *
 * Where the RFC and the implementations disagree:
 *  - nonce is a UInt32 in RFC 4120, but MIT, Heimdal and Windows read and
 *    write it as an Int32.  The decoders accept both spellings (as
 *    base_der_uint32 does for sequence numbers); the encoders write a
 *    nonce >= 2^31 as its negative Int32 spelling, which every one of
 *    them reads back to the same 32 bits, where the positive spelling
 *    would make MIT's KDC refuse the request (ASN1_OVERFLOW).  Initiators
 *    should pick nonces below 2^31 anyway, as MIT does.
 *  - MIT's KDC tags the enc-part of an AS-REP [APPLICATION 26]
 *    (EncTGSRepPart) as well as 25 (DESIGN sec. 5): both are accepted for
 *    either reply, and the tag is reported so that callers can log it.
 *  - RFC 4120 marks padata, additional-tickets and ETYPE-INFO2 "not
 *    empty" (or SIZE (1..MAX)); MIT and Heimdal omit empty lists, and the
 *    decoders refuse them.  An empty etype list in a KDC-REQ is valid
 *    ASN.1, but no KDC can choose a key from it: the encoder refuses to
 *    write one and the (test-side) decoder to read one.  METHOD-DATA in a
 *    KRB-ERROR's e-data and RFC 6806's encrypted-pa-data may be empty.
 */
#include <string.h>

#include "provider/kerberos/kerb_asn1-int.h"
#include "provider/kerberos/kerb_asn1.h"

/* ---- readers --------------------------------------------------------- */

/* A required UInt32 (the nonce), in either spelling (see above). */
static hsmssp_err
get_uint32(base_der *in, unsigned n, uint32_t *out)
{
    base_der v;

    *out = 0;
    CHECK(base_der_get_field(in, n, BASE_DER_INTEGER, &v));
    return base_der_uint32(v, out);
}

/* Opens [APPLICATION a] or [APPLICATION b] SEQUENCE { ... }, which must be
 * all of in; *app_out tells which tag it was. */
static hsmssp_err
open_either(base_der in, unsigned a, unsigned b, unsigned *app_out,
            base_der *seq_out, const char *what)
{
    base_der body;
    int t = base_der_peek(&in);
    unsigned app;

    *app_out = 0;
    if (t == (int)BASE_DER_APP(a))
        app = a;
    else if (t == (int)BASE_DER_APP(b))
        app = b;
    else
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "not a %s", what);
    CHECK(base_der_get(&in, BASE_DER_APP(app), &body, NULL));
    CHECK(base_der_end(&in));
    CHECK(base_der_get(&body, BASE_DER_SEQUENCE, seq_out, NULL));
    CHECK(base_der_end(&body));
    *app_out = app;
    return HSMSSP_OK;
}

/* PA-DATA ::= SEQUENCE { padata-type [1] Int32,
 *                        padata-value [2] OCTET STRING }
 * (the context tags start at 1, as they have since RFC 1510: an easy
 * slip for an encoder, which the unit tests pin down). */
static hsmssp_err
dec_pa_data_seq(base_der seq, kerb_pa_data *pa)
{
    memset(pa, 0, sizeof(*pa));
    CHECK(get_int32(&seq, 1, &pa->type));
    CHECK(base_der_get_field(&seq, 2, BASE_DER_OCTET_STRING, &pa->value));
    return base_der_end(&seq);
}

/* The contents of a SEQUENCE OF PA-DATA into out[0..max): more entries
 * than max is HSMSSP_ERR_LIMIT rather than a silent cut, because the one
 * a caller looks for (ETYPE-INFO2, say) may come last. */
static hsmssp_err
dec_padata_list(base_der list, kerb_pa_data *out, size_t max, size_t *n_out)
{
    base_der one;
    size_t n = 0;

    *n_out = 0;
    while (list.len > 0) {
        if (n == max)
            return BASE_ERR(HSMSSP_ERR_LIMIT, "more than %zu PA-DATA elements",
                            max);
        CHECK(base_der_get(&list, BASE_DER_SEQUENCE, &one, NULL));
        CHECK(dec_pa_data_seq(one, &out[n++]));
    }
    *n_out = n;
    return HSMSSP_OK;
}

/* The optional "padata [n] SEQUENCE OF PA-DATA -- NOTE: not empty" of
 * KDC-REQ and KDC-REP. */
static hsmssp_err
get_padata_opt(base_der *in, unsigned n, kerb_pa_data *out, size_t *n_out)
{
    base_der list;
    bool present;

    *n_out = 0;
    CHECK(base_der_get_field_opt(in, n, BASE_DER_SEQUENCE, &list, &present));
    if (!present)
        return HSMSSP_OK;
    /* MIT and Heimdal leave the field out rather than send it empty, so
     * an empty list is either a broken peer or a probe for leniency. */
    if (list.len == 0)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "empty padata");
    return dec_padata_list(list, out, KERB_MAX_PADATA, n_out);
}

/* METHOD-DATA ::= SEQUENCE OF PA-DATA (a KRB-ERROR's e-data for
 * KDC_ERR_PREAUTH_REQUIRED and _FAILED, RFC 4120 sec. 5.9.1). */
hsmssp_err
kerb_dec_padata_seq(base_der in, kerb_pa_data *out, size_t max, size_t *n_out)
{
    base_der list;

    /* e-data is an OCTET STRING holding the whole DER element: nothing
     * may follow it, as in a message. */
    *n_out = 0;
    CHECK(base_der_get(&in, BASE_DER_SEQUENCE, &list, NULL));
    CHECK(base_der_end(&in));
    return dec_padata_list(list, out, max, n_out);
}

/* ETYPE-INFO2 ::= SEQUENCE SIZE (1..MAX) OF ETYPE-INFO2-ENTRY
 * ETYPE-INFO2-ENTRY ::= SEQUENCE { etype [0] Int32,
 *     salt [1] KerberosString OPTIONAL, s2kparams [2] OCTET STRING
 *     OPTIONAL }
 * The salt feeds string-to-key at import, as a C string in MIT's API and
 * ours: a NUL in it would silently shorten it, so it is refused like
 * every KerberosString.  The entries are not extensible (no "..." in the
 * module), so nothing may follow s2kparams. */
hsmssp_err
kerb_dec_etype_info2(base_der in, kerb_etype_info2 *out, size_t max,
                     size_t *n_out)
{
    base_der list, one;
    size_t n = 0;

    *n_out = 0;
    CHECK(base_der_get(&in, BASE_DER_SEQUENCE, &list, NULL));
    CHECK(base_der_end(&in));
    if (list.len == 0)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "empty ETYPE-INFO2");
    while (list.len > 0) {
        kerb_etype_info2 *e;

        if (n == max)
            return BASE_ERR(HSMSSP_ERR_LIMIT,
                            "more than %zu ETYPE-INFO2 entries", max);
        e = &out[n++];
        memset(e, 0, sizeof(*e));
        CHECK(base_der_get(&list, BASE_DER_SEQUENCE, &one, NULL));
        CHECK(get_int32(&one, 0, &e->etype));
        CHECK(get_string_opt(&one, 1, &e->salt, &e->has_salt));
        CHECK(base_der_get_field_opt(&one, 2, BASE_DER_OCTET_STRING,
                                     &e->s2kparams, &e->has_s2kparams));
        CHECK(base_der_end(&one));
    }
    *n_out = n;
    return HSMSSP_OK;
}

/* KDC-REP ::= SEQUENCE { pvno [0] INTEGER (5),
 *     msg-type [1] INTEGER (11 -- AS -- | 13 -- TGS --),
 *     padata [2] SEQUENCE OF PA-DATA OPTIONAL -- NOTE: not empty --,
 *     crealm [3] Realm, cname [4] PrincipalName, ticket [5] Ticket,
 *     enc-part [6] EncryptedData }
 * AS-REP ::= [APPLICATION 11] KDC-REP, TGS-REP ::= [APPLICATION 13].
 * MIT's own decoder does not check msg-type against the tag (its
 * caller does); this one does, so a reply cannot claim to be the other
 * kind. */
hsmssp_err
kerb_dec_kdc_rep(base_der in, kerb_kdc_rep *r)
{
    base_der seq;
    unsigned app;

    memset(r, 0, sizeof(*r));
    /* The reply comes from the network before any key is used: every
     * field is checked here, and r->ticket.whole is the exact encoding
     * the initiator stores and later copies into AP-REQs and TGS-REQs. */
    CHECK(open_either(in, KERB_MSG_AS_REP, KERB_MSG_TGS_REP, &app, &seq,
                      "KDC-REP"));
    CHECK(expect_int(&seq, 0, KERB_PVNO, "pvno"));
    CHECK(expect_int(&seq, 1, (int32_t)app, "msg-type"));
    CHECK(get_padata_opt(&seq, 2, r->padata, &r->n_padata));
    CHECK(get_string(&seq, 3, &r->crealm));
    CHECK(get_principal(&seq, 4, &r->cname));
    CHECK(get_ticket(&seq, 5, &r->ticket));
    CHECK(get_enc_data(&seq, 6, &r->enc));
    CHECK(skip_extensions(&seq, 6));
    r->msg_type = (int32_t)app;
    return HSMSSP_OK;
}

/* LastReq ::= SEQUENCE OF SEQUENCE { lr-type [0] Int32,
 *                                    lr-value [1] KerberosTime }
 * Checked whole although nothing reads it yet (password expiry hints), so
 * that a malformed entry is refused as MIT refuses it. */
static hsmssp_err
check_last_req(base_der list)
{
    base_der one;
    int32_t type;
    int64_t t;

    while (list.len > 0) {
        CHECK(base_der_get(&list, BASE_DER_SEQUENCE, &one, NULL));
        CHECK(get_int32(&one, 0, &type));
        CHECK(get_time(&one, 1, &t));
        CHECK(base_der_end(&one));
    }
    return HSMSSP_OK;
}

/* EncKDCRepPart ::= SEQUENCE { key [0] EncryptionKey,
 *     last-req [1] LastReq, nonce [2] UInt32,
 *     key-expiration [3] KerberosTime OPTIONAL, flags [4] TicketFlags,
 *     authtime [5] KerberosTime, starttime [6] KerberosTime OPTIONAL,
 *     endtime [7] KerberosTime, renew-till [8] KerberosTime OPTIONAL,
 *     srealm [9] Realm, sname [10] PrincipalName,
 *     caddr [11] HostAddresses OPTIONAL,
 *     encrypted-pa-data [12] SEQUENCE OF PA-DATA OPTIONAL -- RFC 6806 }
 * EncASRepPart ::= [APPLICATION 25], EncTGSRepPart ::= [APPLICATION 26].
 * enc_padata is the whole SEQUENCE OF element (what kerb_dec_padata_seq
 * takes), checked here for shape and count. */
hsmssp_err
kerb_dec_enc_kdc_rep_part(base_der in, kerb_enc_kdc_rep_part *e,
                          unsigned *app_out)
{
    base_der seq, wrap, list;
    kerb_pa_data scratch[KERB_MAX_PADATA];
    size_t n_pa;
    unsigned app;

    *app_out = 0;
    memset(e, 0, sizeof(*e));
    /* Either tag for either reply: MIT writes 26 for both (its encoder's
     * comment says "for backwards compatibility").  Which reply this is
     * follows from the KDC-REP that carried it, not from this tag. */
    CHECK(open_either(in, 25, 26, &app, &seq, "EncKDCRepPart"));
    /* A view into the caller's base_secret: the session key is never
     * copied, the caller imports it into the token and wipes the input. */
    CHECK(get_key(&seq, 0, &e->key));
    CHECK(base_der_get_field(&seq, 1, BASE_DER_SEQUENCE, &e->last_req));
    CHECK(check_last_req(e->last_req));
    CHECK(get_uint32(&seq, 2, &e->nonce));
    CHECK(get_time_opt(&seq, 3, &e->key_expiration, &e->has_key_expiration));
    CHECK(get_flags(&seq, 4, &e->flags));
    CHECK(get_time(&seq, 5, &e->authtime));
    CHECK(get_time_opt(&seq, 6, &e->starttime, &e->has_starttime));
    CHECK(get_time(&seq, 7, &e->endtime));
    CHECK(get_time_opt(&seq, 8, &e->renew_till, &e->has_renew_till));
    CHECK(get_string(&seq, 9, &e->srealm));
    CHECK(get_principal(&seq, 10, &e->sname));
    CHECK(base_der_get_field_opt(&seq, 11, BASE_DER_SEQUENCE, &e->caddr,
                                 &e->has_caddr));
    if (e->has_caddr)
        CHECK(check_typed_octets_list(e->caddr));
    CHECK(base_der_get_opt(&seq, BASE_DER_CTX(12), &wrap, &e->has_enc_padata));
    /* Kept whole (not as contents, unlike caddr) so that the caller can
     * hand it to kerb_dec_padata_seq; checked here so that a view the
     * decoder returns is never malformed (RFC 6806 sec. 11: the client
     * verifies PA-REQ-ENC-PA-REP in it against its request). */
    if (e->has_enc_padata) {
        CHECK(base_der_get(&wrap, BASE_DER_SEQUENCE, &list, &e->enc_padata));
        CHECK(base_der_end(&wrap));
        CHECK(dec_padata_list(list, scratch, KERB_MAX_PADATA, &n_pa));
    }
    CHECK(skip_extensions(&seq, 12));
    *app_out = app;
    return HSMSSP_OK;
}

/* PA-ENC-TS-ENC ::= SEQUENCE { patimestamp [0] KerberosTime,
 *                              pausec [1] Microseconds OPTIONAL } */
hsmssp_err
kerb_dec_pa_enc_ts(base_der in, int64_t *patimestamp_out, bool *has_usec_out,
                   int32_t *usec_out)
{
    base_der seq;
    int64_t ts;
    int32_t usec = 0;
    bool has_usec = false;

    *patimestamp_out = 0;
    *has_usec_out = false;
    *usec_out = 0;
    CHECK(base_der_get(&in, BASE_DER_SEQUENCE, &seq, NULL));
    CHECK(base_der_end(&in));
    CHECK(get_time(&seq, 0, &ts));
    /* An optional Microseconds has no get_*_opt helper: peek, then read
     * it with the range check (0..999999). */
    if (base_der_peek(&seq) == (int)BASE_DER_CTX(1)) {
        has_usec = true;
        CHECK(get_usec(&seq, 1, &usec));
    }
    CHECK(skip_extensions(&seq, 1));
    *patimestamp_out = ts;
    *has_usec_out = has_usec;
    *usec_out = usec;
    return HSMSSP_OK;
}

/* KDC-REQ-BODY ::= SEQUENCE { kdc-options [0] KDCOptions,
 *     cname [1] PrincipalName OPTIONAL -- AS-REQ only --,
 *     realm [2] Realm -- server's realm --,
 *     sname [3] PrincipalName OPTIONAL, from [4] KerberosTime OPTIONAL,
 *     till [5] KerberosTime, rtime [6] KerberosTime OPTIONAL,
 *     nonce [7] UInt32, etype [8] SEQUENCE OF Int32 -- in preference
 *     order --, addresses [9] HostAddresses OPTIONAL,
 *     enc-authorization-data [10] EncryptedData OPTIONAL,
 *     additional-tickets [11] SEQUENCE OF Ticket OPTIONAL
 *                                        -- NOTE: not empty -- } */
static hsmssp_err
dec_req_body(base_der seq, kerb_kdc_req_dec *d)
{
    kerb_kdc_req *r = &d->req;
    base_der list, v, whole;
    bool present;
    unsigned tag;
    int64_t x;
    kerb_ticket t;

    CHECK(get_flags(&seq, 0, &r->kdc_options));
    CHECK(get_principal_opt(&seq, 1, &r->cname, &r->has_cname));
    CHECK(get_string(&seq, 2, &r->realm));
    CHECK(get_principal_opt(&seq, 3, &r->sname, &r->has_sname));
    CHECK(get_time_opt(&seq, 4, &r->from, &r->has_from));
    CHECK(get_time(&seq, 5, &r->till));
    CHECK(get_time_opt(&seq, 6, &r->rtime, &r->has_rtime));
    CHECK(get_uint32(&seq, 7, &r->nonce));
    /* Kept in order: the KDC picks the first etype it supports (RFC 4120
     * sec. 3.1.3), so the order is the client's preference. */
    CHECK(base_der_get_field(&seq, 8, BASE_DER_SEQUENCE, &list));
    if (list.len == 0)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "empty etype list");
    while (list.len > 0) {
        if (r->n_etypes == KERB_MAX_ETYPES)
            return BASE_ERR(HSMSSP_ERR_LIMIT, "more than %d etypes",
                            KERB_MAX_ETYPES);
        CHECK(base_der_get(&list, BASE_DER_INTEGER, &v, NULL));
        CHECK(base_der_int(v, INT32_MIN, INT32_MAX, &x));
        d->etypes[r->n_etypes++] = (int32_t)x;
    }
    CHECK(base_der_get_field_opt(&seq, 9, BASE_DER_SEQUENCE, &d->addresses,
                                 &d->has_addresses));
    if (d->has_addresses)
        CHECK(check_typed_octets_list(d->addresses));
    CHECK(base_der_get_field_opt(&seq, 10, BASE_DER_SEQUENCE, &v,
                                 &r->has_authz));
    if (r->has_authz)
        CHECK(dec_enc_data_seq(v, &r->enc_authz));
    CHECK(
        base_der_get_field_opt(&seq, 11, BASE_DER_SEQUENCE, &list, &present));
    if (present && list.len == 0)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "empty additional-tickets");
    /* Each additional ticket (user-to-user, S4U2Proxy evidence) must be
     * a whole Ticket; its encoding is kept for re-encoding as is. */
    while (present && list.len > 0) {
        if (r->n_additional == KERB_MAX_CRED_TICKETS)
            return BASE_ERR(HSMSSP_ERR_LIMIT,
                            "more than %d additional tickets",
                            KERB_MAX_CRED_TICKETS);
        CHECK(base_der_get_any(&list, &tag, NULL, &whole));
        CHECK(kerb_dec_ticket(whole, &t));
        d->additional[r->n_additional++] = whole;
    }
    /* MIT's KDC-REQ-BODY may grow fields past [11] (DESIGN sec. 5). */
    d->has_ext = seq.len > 0;
    return skip_extensions(&seq, 11);
}

/* KDC-REQ ::= SEQUENCE { pvno [1] INTEGER (5),
 *     msg-type [2] INTEGER (10 -- AS -- | 12 -- TGS --),
 *     padata [3] SEQUENCE OF PA-DATA OPTIONAL -- NOTE: not empty --,
 *     req-body [4] KDC-REQ-BODY }
 * (tags from 1, as in PA-DATA).  AS-REQ ::= [APPLICATION 10] KDC-REQ,
 * TGS-REQ ::= [APPLICATION 12] KDC-REQ. */
hsmssp_err
kerb_dec_kdc_req(base_der in, kerb_kdc_req_dec *d)
{
    base_der seq, wrap, body;
    unsigned app;
    size_t n_pa;

    memset(d, 0, sizeof(*d));
    d->req.padata = d->padata;
    d->req.etypes = d->etypes;
    d->req.additional = d->additional;
    CHECK(open_either(in, KERB_MSG_AS_REQ, KERB_MSG_TGS_REQ, &app, &seq,
                      "KDC-REQ"));
    CHECK(expect_int(&seq, 1, KERB_PVNO, "pvno"));
    CHECK(expect_int(&seq, 2, (int32_t)app, "msg-type"));
    CHECK(get_padata_opt(&seq, 3, d->padata, &n_pa));
    d->req.n_padata = n_pa;
    /* The body's whole encoding is what a TGS-REQ's PA-TGS-REQ checksum
     * covers (RFC 4120 sec. 7.5.1, usage 6), so a KDC verifies it against
     * these bytes, never against a re-encoding. */
    CHECK(base_der_get(&seq, BASE_DER_CTX(4), &wrap, NULL));
    CHECK(base_der_get(&wrap, BASE_DER_SEQUENCE, &body, &d->body));
    CHECK(base_der_end(&wrap));
    CHECK(dec_req_body(body, d));
    CHECK(skip_extensions(&seq, 4));
    d->req.msg_type = (int32_t)app;
    return HSMSSP_OK;
}

/* ---- encoders -------------------------------------------------------- */

/* Records a caller error in the writer (sticky, like its own errors), so
 * that encoders stay straight lines checked once at base_der_w_finish. */
static void
w_fail(base_der_w *w, const char *what)
{
    if (w->err == HSMSSP_OK)
        w->err = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "%s", what);
}

/* A UInt32 written as the Int32 with the same 32 bits (see the top of the
 * file); computed without an implementation-defined conversion. */
static int64_t
as_int32(uint32_t v)
{
    return v > INT32_MAX ? (int64_t)v - 4294967296LL : (int64_t)v;
}

/* PrincipalName as field [n]. */
static void
w_principal_field(base_der_w *w, unsigned n, const kerb_principal *p)
{
    size_t m = base_der_w_len(w);

    kerb_enc_principal(w, p);
    wrap_field(w, m, n);
}

/* An element already encoded (a Ticket, a KDC-REQ-BODY) as field [n]. */
static void
w_raw_field(base_der_w *w, unsigned n, base_der whole)
{
    size_t m = base_der_w_len(w);

    base_der_w_raw(w, whole.p, whole.len);
    wrap_field(w, m, n);
}

/* SEQUENCE OF around raw contents (caddr, LastReq) as field [n]. */
static void
w_seq_field(base_der_w *w, unsigned n, base_der contents)
{
    size_t m = base_der_w_len(w);

    base_der_w_raw(w, contents.p, contents.len);
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m);
    wrap_field(w, m, n);
}

/* METHOD-DATA (also the padata of KDC-REQ and KDC-REP, wrapped by the
 * caller): the entries last to first, each SEQUENCE { [1] type, [2]
 * value }, then the SEQUENCE OF around them all. */
void
kerb_enc_padata_seq(base_der_w *w, const kerb_pa_data *pa, size_t n)
{
    size_t m = base_der_w_len(w), me;

    for (size_t i = n; i > 0; i--) {
        me = base_der_w_len(w);
        w_prim_field(w, 2, BASE_DER_OCTET_STRING, pa[i - 1].value.p,
                     pa[i - 1].value.len);
        w_int_field(w, 1, pa[i - 1].type);
        base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - me);
    }
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m);
}

/* ETYPE-INFO2, as a KDC announces the salt and s2kparams of each key;
 * the optional fields are written as the has_ flags say, so an empty
 * salt and an absent one stay distinct (MIT's KRB5_ETYPE_NO_SALT). */
void
kerb_enc_etype_info2(base_der_w *w, const kerb_etype_info2 *e, size_t n)
{
    size_t m = base_der_w_len(w), me;

    if (n == 0) {
        w_fail(w, "ETYPE-INFO2 needs at least one entry");
        return;
    }
    for (size_t i = n; i > 0; i--) {
        const kerb_etype_info2 *x = &e[i - 1];

        me = base_der_w_len(w);
        if (x->has_s2kparams)
            w_prim_field(w, 2, BASE_DER_OCTET_STRING, x->s2kparams.p,
                         x->s2kparams.len);
        if (x->has_salt)
            w_prim_field(w, 1, BASE_DER_GENERAL_STRING, x->salt.p,
                         x->salt.len);
        w_int_field(w, 0, x->etype);
        base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - me);
    }
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m);
}

/* KDC-REQ-BODY, fields [11] down to [0].  addresses [9] is never written:
 * hsmssp asks for address-less tickets, as MIT does by default
 * (noaddresses = true) and as NAT makes necessary. */
void
kerb_enc_kdc_req_body(base_der_w *w, const kerb_kdc_req *r)
{
    size_t m = base_der_w_len(w), mf;

    if (r->n_etypes == 0) {
        w_fail(w, "KDC-REQ-BODY needs at least one etype");
        return;
    }
    if (r->n_additional > 0) {
        mf = base_der_w_len(w);
        for (size_t i = r->n_additional; i > 0; i--)
            base_der_w_raw(w, r->additional[i - 1].p,
                           r->additional[i - 1].len);
        base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - mf);
        wrap_field(w, mf, 11);
    }
    if (r->has_authz) {
        mf = base_der_w_len(w);
        kerb_enc_enc_data(w, &r->enc_authz);
        wrap_field(w, mf, 10);
    }
    /* etype [8]: bare INTEGERs, in the caller's preference order. */
    mf = base_der_w_len(w);
    for (size_t i = r->n_etypes; i > 0; i--)
        base_der_w_int(w, r->etypes[i - 1]);
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - mf);
    wrap_field(w, mf, 8);
    w_int_field(w, 7, as_int32(r->nonce));
    if (r->has_rtime)
        w_time_field(w, 6, r->rtime);
    /* till is required; MIT writes 19700101000000Z for "as long as the
     * KDC allows", a caller may do the same with till = 0. */
    w_time_field(w, 5, r->till);
    if (r->has_from)
        w_time_field(w, 4, r->from);
    if (r->has_sname)
        w_principal_field(w, 3, &r->sname);
    w_prim_field(w, 2, BASE_DER_GENERAL_STRING, r->realm.p, r->realm.len);
    if (r->has_cname)
        w_principal_field(w, 1, &r->cname);
    mf = base_der_w_len(w);
    base_der_w_flags32(w, r->kdc_options);
    wrap_field(w, mf, 0);
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m);
}

/* The message around a body the caller encoded first: a TGS-REQ's
 * PA-TGS-REQ authenticator checksums exactly those bytes, so the body is
 * encoded once and copied here, never re-encoded. */
void
kerb_enc_kdc_req(base_der_w *w, const kerb_kdc_req *r, base_der body)
{
    size_t m = base_der_w_len(w), mf;

    if (r->msg_type != KERB_MSG_AS_REQ && r->msg_type != KERB_MSG_TGS_REQ) {
        w_fail(w, "KDC-REQ msg-type is neither AS-REQ nor TGS-REQ");
        return;
    }
    w_raw_field(w, 4, body);
    if (r->n_padata > 0) {
        mf = base_der_w_len(w);
        kerb_enc_padata_seq(w, r->padata, r->n_padata);
        wrap_field(w, mf, 3);
    }
    w_int_field(w, 2, r->msg_type);
    w_int_field(w, 1, KERB_PVNO);
    wrap_app(w, m, (unsigned)r->msg_type);
}

/* pausec is always written: the KDC's replay check (RFC 4120 sec.
 * 5.2.7.2) is finer with it, and MIT sends it too (omitting only 0). */
void
kerb_enc_pa_enc_ts(base_der_w *w, int64_t patimestamp, int32_t pausec)
{
    size_t m = base_der_w_len(w);

    if (pausec < 0 || pausec > 999999) {
        w_fail(w, "pausec outside 0..999999");
        return;
    }
    w_int_field(w, 1, pausec);
    w_time_field(w, 0, patimestamp);
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m);
}

/* The KDC's side of kerb_dec_kdc_rep (kerb_asn1-int.h); the Ticket is
 * copied from its encoding, never re-encoded. */
void
kerb_enc_kdc_rep(base_der_w *w, const kerb_kdc_rep *r)
{
    size_t m = base_der_w_len(w), mf;

    if (r->msg_type != KERB_MSG_AS_REP && r->msg_type != KERB_MSG_TGS_REP) {
        w_fail(w, "KDC-REP msg-type is neither AS-REP nor TGS-REP");
        return;
    }
    mf = base_der_w_len(w);
    kerb_enc_enc_data(w, &r->enc);
    wrap_field(w, mf, 6);
    w_raw_field(w, 5, r->ticket.whole);
    w_principal_field(w, 4, &r->cname);
    w_prim_field(w, 3, BASE_DER_GENERAL_STRING, r->crealm.p, r->crealm.len);
    if (r->n_padata > 0) {
        mf = base_der_w_len(w);
        kerb_enc_padata_seq(w, r->padata, r->n_padata);
        wrap_field(w, mf, 2);
    }
    w_int_field(w, 1, r->msg_type);
    w_int_field(w, 0, KERB_PVNO);
    wrap_app(w, m, (unsigned)r->msg_type);
}

/* The KDC's side of kerb_dec_enc_kdc_rep_part: the plaintext carries
 * the session key, so *w should be over a base_secret. */
void
kerb_enc_enc_kdc_rep_part(base_der_w *w, const kerb_enc_kdc_rep_part *e,
                          unsigned app)
{
    size_t m = base_der_w_len(w), mf;

    if (app != 25 && app != 26) {
        w_fail(w, "EncKDCRepPart is [APPLICATION 25] or [APPLICATION 26]");
        return;
    }
    if (e->has_enc_padata)
        w_raw_field(w, 12, e->enc_padata);
    if (e->has_caddr)
        w_seq_field(w, 11, e->caddr);
    w_principal_field(w, 10, &e->sname);
    w_prim_field(w, 9, BASE_DER_GENERAL_STRING, e->srealm.p, e->srealm.len);
    if (e->has_renew_till)
        w_time_field(w, 8, e->renew_till);
    w_time_field(w, 7, e->endtime);
    if (e->has_starttime)
        w_time_field(w, 6, e->starttime);
    w_time_field(w, 5, e->authtime);
    mf = base_der_w_len(w);
    base_der_w_flags32(w, e->flags);
    wrap_field(w, mf, 4);
    if (e->has_key_expiration)
        w_time_field(w, 3, e->key_expiration);
    w_int_field(w, 2, as_int32(e->nonce));
    w_seq_field(w, 1, e->last_req);
    mf = base_der_w_len(w);
    kerb_enc_key(w, e->key.etype, e->key.value.p, e->key.value.len);
    wrap_field(w, mf, 0);
    wrap_app(w, m, app);
}

/* KRB-CRED ::= [APPLICATION 22] SEQUENCE { pvno [0] INTEGER (5),
 *     msg-type [1] INTEGER (22), tickets [2] SEQUENCE OF Ticket,
 *     enc-part [3] EncryptedData -- EncKrbCredPart -- }
 * with the one forwarded TGT. */
void
kerb_enc_krb_cred(base_der_w *w, base_der ticket, const kerb_enc_data *enc)
{
    size_t m = base_der_w_len(w), mf;

    mf = base_der_w_len(w);
    kerb_enc_enc_data(w, enc);
    wrap_field(w, mf, 3);
    w_seq_field(w, 2, ticket);
    w_int_field(w, 1, KERB_MSG_CRED);
    w_int_field(w, 0, KERB_PVNO);
    wrap_app(w, m, KERB_MSG_CRED);
}

/* KrbCredInfo ::= SEQUENCE { key [0] EncryptionKey,
 *     prealm [1] Realm OPTIONAL, pname [2] PrincipalName OPTIONAL,
 *     flags [3] TicketFlags OPTIONAL, authtime [4] KerberosTime OPTIONAL,
 *     starttime [5] ..., endtime [6] ..., renew-till [7] ... OPTIONAL,
 *     srealm [8] Realm OPTIONAL, sname [9] PrincipalName OPTIONAL,
 *     caddr [10] HostAddresses OPTIONAL }
 * Written as the has_* flags say; caddr never (address-less tickets). */
static void
enc_cred_info(base_der_w *w, const kerb_cred_info *i)
{
    size_t m = base_der_w_len(w), mf;

    if (i->has_sname)
        w_principal_field(w, 9, &i->sname);
    if (i->has_srealm)
        w_prim_field(w, 8, BASE_DER_GENERAL_STRING, i->srealm.p,
                     i->srealm.len);
    if (i->has_renew_till)
        w_time_field(w, 7, i->renew_till);
    if (i->has_endtime)
        w_time_field(w, 6, i->endtime);
    if (i->has_starttime)
        w_time_field(w, 5, i->starttime);
    if (i->has_authtime)
        w_time_field(w, 4, i->authtime);
    if (i->has_flags) {
        mf = base_der_w_len(w);
        base_der_w_flags32(w, i->flags);
        wrap_field(w, mf, 3);
    }
    if (i->has_pname)
        w_principal_field(w, 2, &i->pname);
    if (i->has_prealm)
        w_prim_field(w, 1, BASE_DER_GENERAL_STRING, i->prealm.p,
                     i->prealm.len);
    mf = base_der_w_len(w);
    kerb_enc_key(w, i->key.etype, i->key.value.p, i->key.value.len);
    wrap_field(w, mf, 0);
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m);
}

/* EncKrbCredPart ::= [APPLICATION 29] SEQUENCE {
 *     ticket-info [0] SEQUENCE OF KrbCredInfo, nonce [1] UInt32 OPTIONAL,
 *     timestamp [2] KerberosTime OPTIONAL, usec [3] Microseconds OPTIONAL,
 *     s-address [4] HostAddress OPTIONAL,
 *     r-address [5] HostAddress OPTIONAL }
 * One KrbCredInfo; no nonce (GSS delegation has no KRB-CRED request to
 * echo); timestamp and usec together or not at all, as MIT writes them.
 * The output carries the session key: point *w at a base_secret. */
void
kerb_enc_enc_cred_part(base_der_w *w, const kerb_cred_info *info,
                       bool has_timestamp, int64_t timestamp, int32_t usec)
{
    size_t m = base_der_w_len(w), mf;

    /* timestamp and usec let the receiver refuse a replayed KRB-CRED
     * (RFC 4120 sec. 3.6.2); MIT's receiver does not require them, but
     * sends them, and so does hsmssp when it delegates. */
    if (has_timestamp) {
        if (usec < 0 || usec > 999999) {
            w_fail(w, "usec outside 0..999999");
            return;
        }
        w_int_field(w, 3, usec);
        w_time_field(w, 2, timestamp);
    }
    mf = base_der_w_len(w);
    enc_cred_info(w, info);
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - mf);
    wrap_field(w, mf, 0);
    wrap_app(w, m, 29);
}

/* ---- realms ---------------------------------------------------------- */

/* Realm names are case-sensitive (RFC 4120 sec. 6.1) and compared as
 * octets, as MIT's krb5_realm_compare does.  XXX: Active Directory
 * treats its realm case-insensitively and may answer a referral in
 * another case; compare what the KDC itself returned, not user input. */
bool
kerb_realm_eq(base_der a, const char *b)
{
    return b != NULL && base_der_eq_str(a, b);
}
