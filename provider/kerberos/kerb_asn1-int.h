/*
 * provider/kerberos/kerb_asn1-int.h - what kerb_asn1.c (AP exchange,
 * KRB-ERROR, KRB-CRED) and kerb_asn1_kdc.c (the KDC exchanges) share, and
 * the KDC side of the AS and TGS exchanges for tests.
 *
 * The field readers take the next "[n] TYPE" element of a SEQUENCE's
 * contents, decode it into the caller's variables or views, and advance;
 * they allocate nothing (base/der.h) and return the first error.  The
 * encoder helpers prepend one "[n] TYPE" field to a reverse writer whose
 * error is sticky.  They are static inline so that both codec files get
 * the same strict rules (NUL-free KerberosStrings, bounded name
 * components, whole-list checks of HostAddresses and AuthorizationData,
 * trailing extensions skipped only after a depth-bounded check) without
 * growing the provider's exported surface.
 *
 * The second part declares codecs hsmssp does not need as an initiator:
 * the KDC-REQ and PA-ENC-TS-ENC decoders and the KDC-REP, EncKDCRepPart,
 * METHOD-DATA and ETYPE-INFO2 encoders.  The unit tests use them for round
 * trips, fuzz_krb_parse to re-encode what it decoded, and the MIT oracle
 * to read hsmssp's own requests; a KDC proxy could use them later.  They
 * follow the contract of kerb_asn1.h.
 */
#ifndef HSMSSP_KERB_ASN1_INT_H
#define HSMSSP_KERB_ASN1_INT_H

#include <string.h>

#include "provider/kerberos/kerb_asn1.h"

/* Returns the first failure of a step (decoders have nothing to free). */
#define CHECK(expr)                                                       \
    do {                                                                  \
        hsmssp_err check_ret_ = (expr);                                   \
        if (check_ret_ != HSMSSP_OK)                                      \
            return check_ret_;                                            \
    } while (0)

/* ---- field readers ------------------------------------------------------ */

static inline hsmssp_err
get_int32(base_der *in, unsigned n, int32_t *out)
{
    base_der v;
    int64_t x;

    CHECK(base_der_get_field(in, n, BASE_DER_INTEGER, &v));
    CHECK(base_der_int(v, INT32_MIN, INT32_MAX, &x));
    *out = (int32_t)x;
    return HSMSSP_OK;
}

/* A field that must hold one exact small integer (pvno, msg-type). */
static inline hsmssp_err
expect_int(base_der *in, unsigned n, int32_t want, const char *what)
{
    int32_t v;

    CHECK(get_int32(in, n, &v));
    if (v != want)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "%s is %d, expected %d", what,
                        (int)v, (int)want);
    return HSMSSP_OK;
}

static inline hsmssp_err
get_time(base_der *in, unsigned n, int64_t *out)
{
    base_der v;

    CHECK(base_der_get_field(in, n, BASE_DER_GENERALIZED_TIME, &v));
    return base_der_ktime(v, out);
}

static inline hsmssp_err
get_time_opt(base_der *in, unsigned n, int64_t *out, bool *present)
{
    base_der v;

    *out = 0;
    CHECK(base_der_get_field_opt(in, n, BASE_DER_GENERALIZED_TIME, &v,
                                 present));
    return *present ? base_der_ktime(v, out) : HSMSSP_OK;
}

/* Microseconds ::= INTEGER (0..999999). */
static inline hsmssp_err
get_usec(base_der *in, unsigned n, int32_t *out)
{
    base_der v;
    int64_t x;

    CHECK(base_der_get_field(in, n, BASE_DER_INTEGER, &v));
    CHECK(base_der_int(v, 0, 999999, &x));
    *out = (int32_t)x;
    return HSMSSP_OK;
}

static inline hsmssp_err
get_flags(base_der *in, unsigned n, uint32_t *out)
{
    base_der v;

    CHECK(base_der_get_field(in, n, BASE_DER_BIT_STRING, &v));
    return base_der_flags32(v, out);
}

/* KerberosString / Realm: GeneralString restricted to IA5 in practice;
 * we accept any octets but no NUL, which would truncate a C string made
 * from it later. */
static inline hsmssp_err
check_string(base_der s)
{
    if (memchr(s.p, 0, s.len) != NULL)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "NUL in a KerberosString");
    return HSMSSP_OK;
}

static inline hsmssp_err
get_string(base_der *in, unsigned n, base_der *out)
{
    CHECK(base_der_get_field(in, n, BASE_DER_GENERAL_STRING, out));
    return check_string(*out);
}

static inline hsmssp_err
get_string_opt(base_der *in, unsigned n, base_der *out, bool *present)
{
    CHECK(base_der_get_field_opt(in, n, BASE_DER_GENERAL_STRING, out,
                                 present));
    return *present ? check_string(*out) : HSMSSP_OK;
}

/* AuthorizationData and HostAddresses share one shape:
 * SEQUENCE OF SEQUENCE { [0] Int32, [1] OCTET STRING }.  Checked whole at
 * decode time, as MIT does, so that a malformed element is refused even
 * when nothing reads it later. */
static inline hsmssp_err
check_typed_octets_list(base_der list)
{
    base_der one, v;
    int32_t t;

    while (list.len > 0) {
        CHECK(base_der_get(&list, BASE_DER_SEQUENCE, &one, NULL));
        CHECK(get_int32(&one, 0, &t));
        CHECK(base_der_get_field(&one, 1, BASE_DER_OCTET_STRING, &v));
        CHECK(base_der_end(&one));
    }
    return HSMSSP_OK;
}

/* PrincipalName ::= SEQUENCE { name-type [0] Int32,
 *                              name-string [1] SEQUENCE OF KerberosString } */
static inline hsmssp_err
dec_principal_seq(base_der seq, kerb_principal *p)
{
    base_der list, s;

    memset(p, 0, sizeof(*p));
    CHECK(get_int32(&seq, 0, &p->type));
    CHECK(base_der_get_field(&seq, 1, BASE_DER_SEQUENCE, &list));
    CHECK(base_der_end(&seq));
    while (list.len > 0) {
        if (p->n == KERB_MAX_COMPONENTS)
            return BASE_ERR(HSMSSP_ERR_LIMIT,
                            "principal name has more than %d components",
                            KERB_MAX_COMPONENTS);
        CHECK(base_der_get(&list, BASE_DER_GENERAL_STRING, &s, NULL));
        CHECK(check_string(s));
        p->comp[p->n++] = s;
    }
    if (p->n == 0)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "principal name is empty");
    return HSMSSP_OK;
}

static inline hsmssp_err
get_principal(base_der *in, unsigned n, kerb_principal *p)
{
    base_der seq;

    CHECK(base_der_get_field(in, n, BASE_DER_SEQUENCE, &seq));
    return dec_principal_seq(seq, p);
}

static inline hsmssp_err
get_principal_opt(base_der *in, unsigned n, kerb_principal *p, bool *present)
{
    base_der seq;

    memset(p, 0, sizeof(*p));
    CHECK(base_der_get_field_opt(in, n, BASE_DER_SEQUENCE, &seq, present));
    return *present ? dec_principal_seq(seq, p) : HSMSSP_OK;
}

/* EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL,
 *                              cipher [2] OCTET STRING } */
static inline hsmssp_err
dec_enc_data_seq(base_der seq, kerb_enc_data *ed)
{
    base_der v;

    memset(ed, 0, sizeof(*ed));
    CHECK(get_int32(&seq, 0, &ed->etype));
    CHECK(base_der_get_field_opt(&seq, 1, BASE_DER_INTEGER, &v,
                                 &ed->has_kvno));
    if (ed->has_kvno)
        CHECK(base_der_uint32(v, &ed->kvno));
    CHECK(base_der_get_field(&seq, 2, BASE_DER_OCTET_STRING, &ed->cipher));
    return base_der_end(&seq);
}

static inline hsmssp_err
get_enc_data(base_der *in, unsigned n, kerb_enc_data *ed)
{
    base_der seq;

    CHECK(base_der_get_field(in, n, BASE_DER_SEQUENCE, &seq));
    return dec_enc_data_seq(seq, ed);
}

/* EncryptionKey ::= SEQUENCE { keytype [0] Int32,
 *                              keyvalue [1] OCTET STRING } */
static inline hsmssp_err
dec_key_seq(base_der seq, kerb_key *k)
{
    memset(k, 0, sizeof(*k));
    CHECK(get_int32(&seq, 0, &k->etype));
    CHECK(base_der_get_field(&seq, 1, BASE_DER_OCTET_STRING, &k->value));
    return base_der_end(&seq);
}

static inline hsmssp_err
get_key(base_der *in, unsigned n, kerb_key *k)
{
    base_der seq;

    CHECK(base_der_get_field(in, n, BASE_DER_SEQUENCE, &seq));
    return dec_key_seq(seq, k);
}

/* Skips context fields numbered above last that a later revision of a
 * type may append, after checking they are well-formed DER of bounded
 * depth; anything else left over is an error. */
static inline hsmssp_err
skip_extensions(base_der *in, unsigned last)
{
    unsigned tag;
    base_der content;

    while (in->len > 0) {
        int t = base_der_peek(in);

        if (t < 0 || (t & 0xe0) != 0xa0 || (unsigned)(t & 0x1f) <= last)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "unexpected element (tag 0x%02x)",
                            t < 0 ? 0xff : (unsigned)t);
        CHECK(base_der_get_any(in, &tag, &content, NULL));
        CHECK(base_der_check(content, KERB_ASN1_MAX_DEPTH));
        last = tag & 0x1fu;
    }
    return HSMSSP_OK;
}

/* The ticket inside a field: [n] Ticket, whose contents are the whole
 * [APPLICATION 1] element. */
static inline hsmssp_err
get_ticket(base_der *in, unsigned n, kerb_ticket *t)
{
    base_der wrap, whole;
    unsigned tag;

    CHECK(base_der_get(in, BASE_DER_CTX(n), &wrap, NULL));
    CHECK(base_der_get_any(&wrap, &tag, NULL, &whole));
    CHECK(base_der_end(&wrap));
    return kerb_dec_ticket(whole, t);
}

/* ---- encoder helpers --------------------------------------------------- */

/* Wraps everything written since mark m in [n]. */
static inline void
wrap_field(base_der_w *w, size_t m, unsigned n)
{
    base_der_w_wrap(w, BASE_DER_CTX(n), base_der_w_len(w) - m);
}

static inline void
w_int_field(base_der_w *w, unsigned n, int64_t v)
{
    size_t m = base_der_w_len(w);

    base_der_w_int(w, v);
    wrap_field(w, m, n);
}

static inline void
w_prim_field(base_der_w *w, unsigned n, unsigned tag, const void *p,
             size_t len)
{
    size_t m = base_der_w_len(w);

    base_der_w_prim(w, tag, p, len);
    wrap_field(w, m, n);
}

static inline void
w_time_field(base_der_w *w, unsigned n, int64_t t)
{
    size_t m = base_der_w_len(w);

    base_der_w_ktime(w, t);
    wrap_field(w, m, n);
}

/* Closes [APPLICATION app] SEQUENCE around everything since mark m. */
static inline void
wrap_app(base_der_w *w, size_t m, unsigned app)
{
    base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m);
    base_der_w_wrap(w, BASE_DER_APP(app), base_der_w_len(w) - m);
}

/* ---- the KDC side (tests, fuzzing, oracle) ---------------------------- */

/* A decoded KDC-REQ: req's pointers (padata, etypes, additional) point
 * into the arrays beside it, so the struct must not be copied or moved
 * after kerb_dec_kdc_req() filled it.  Views point into the input. */
typedef struct kerb_kdc_req_dec {
    kerb_kdc_req req;
    kerb_pa_data padata[KERB_MAX_PADATA];
    int32_t etypes[KERB_MAX_ETYPES];
    base_der additional[KERB_MAX_CRED_TICKETS];
    base_der body;      /* KDC-REQ-BODY's whole encoding (the TGS-REQ
                           checksum's input) */
    bool has_addresses; /* addresses [9]: checked, not interpreted */
    base_der addresses; /* contents of the HostAddresses SEQUENCE OF */
    bool has_ext;       /* unknown fields past [11] were skipped */
} kerb_kdc_req_dec;

/* AS-REQ ([APPLICATION 10]) or TGS-REQ ([APPLICATION 12]); the msg-type
 * field must match the tag.  Refuses an empty padata or etype list (RFC
 * 4120 sec. 5.4.1 "not empty"; a KDC cannot answer without an etype), and
 * more than KERB_MAX_PADATA PA-DATA, KERB_MAX_ETYPES etypes or
 * KERB_MAX_CRED_TICKETS additional tickets (HSMSSP_ERR_LIMIT). */
hsmssp_err kerb_dec_kdc_req(base_der in, kerb_kdc_req_dec *out) BASE_WUR;

/* PA-ENC-TS-ENC (the plaintext of PA-ENC-TIMESTAMP); *has_usec_out false
 * and *usec_out 0 when pausec is absent. */
hsmssp_err kerb_dec_pa_enc_ts(base_der in, int64_t *patimestamp_out,
                              bool *has_usec_out, int32_t *usec_out) BASE_WUR;

/* METHOD-DATA: SEQUENCE OF PA-DATA, n entries (n may be 0). */
void kerb_enc_padata_seq(base_der_w *w, const kerb_pa_data *pa, size_t n);

/* ETYPE-INFO2: n >= 1 entries (n == 0 sets INVALID_ARGUMENT in *w). */
void kerb_enc_etype_info2(base_der_w *w, const kerb_etype_info2 *e, size_t n);

/* AS-REP or TGS-REP as r->msg_type says (11 or 13; anything else sets
 * INVALID_ARGUMENT in *w); padata written when r->n_padata > 0; the
 * ticket is copied from r->ticket.whole. */
void kerb_enc_kdc_rep(base_der_w *w, const kerb_kdc_rep *r);

/* EncASRepPart (app 25) or EncTGSRepPart (app 26; anything else sets
 * INVALID_ARGUMENT in *w).  last_req and caddr are the contents of their
 * SEQUENCE OFs and enc_padata the whole SEQUENCE OF PA-DATA, as the
 * decoder returns them. */
void kerb_enc_enc_kdc_rep_part(base_der_w *w, const kerb_enc_kdc_rep_part *e,
                               unsigned app);

#endif
