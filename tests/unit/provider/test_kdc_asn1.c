/*
 * tests/unit/provider/test_kdc_asn1.c - the codecs of the AS and TGS
 * exchanges and of delegation (provider/kerberos/kerb_asn1_kdc.c):
 *  - round trips, encoder to decoder, of every type in its fullest and
 *    its smallest form: AS-REQ, TGS-REQ (and the KDC-REQ-BODY a TGS-REQ
 *    checksums), PA-ENC-TS-ENC, METHOD-DATA, ETYPE-INFO2, AS-REP, TGS-REP,
 *    EncASRepPart and EncTGSRepPart (both tags, the tag reported),
 *    KRB-CRED and EncKrbCredPart; decoding again and re-encoding what was
 *    decoded gives the same bytes;
 *  - boundaries: empty lists (padata and additional-tickets "not
 *    empty", ETYPE-INFO2 SIZE (1..MAX), no KDC-REQ without an etype, but
 *    METHOD-DATA may be empty), the count bounds (KERB_MAX_PADATA,
 *    KERB_MAX_ETYPES, the caller's max), nonces on both sides of 2^31 in
 *    both spellings, microseconds at 0 and 999999 and just outside;
 *  - strictness, one change at a time to a valid message: pvno,
 *    msg-type against the tag, field order, missing required fields,
 *    unknown fields before the last known one, well-formed and malformed
 *    trailing extensions, trailing bytes, NULs in KerberosStrings, the
 *    shapes of LastReq, HostAddresses, PA-DATA (tags 1 and 2) and
 *    ETYPE-INFO2 entries, other application tags;
 *  - truncation at every length (on exact-size heap copies, so an
 *    over-read is an ASan error) and every byte of every message changed
 *    to each of a few values: the decoders answer OK, BAD_TOKEN or LIMIT,
 *    and whatever they accept re-encodes to something they read back to
 *    the same fields;
 *  - kerb_realm_eq.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/kerberos/kerb_asn1-int.h"
#include "provider/kerberos/kerb_asn1.h"
#include "testutil.h"

#define REALM "HSMSSP.TEST"

/* ---- fixtures ---------------------------------------------------------- */

/* Names parsed once; their components point into the storages. */
static char st_alice[64], st_tgt[64], st_svc[64], st_long[128];
static kerb_principal alice, krbtgt, svc, eight;
static base_der realm;

static uint8_t cipher_a[48], cipher_b[97], keybytes[32], s2k[4];

static int
setup(void **state)
{
    base_der r;

    (void)state;
    realm = base_der_view(REALM, strlen(REALM));
    TU_OK(kerb_principal_parse("alice", KERB_NT_PRINCIPAL, st_alice, &alice,
                               &r));
    TU_OK(kerb_principal_parse("krbtgt/" REALM, KERB_NT_SRV_INST, st_tgt,
                               &krbtgt, &r));
    TU_OK(kerb_principal_parse("e18/localhost", KERB_NT_SRV_HST, st_svc, &svc,
                               &r));
    /* KERB_MAX_COMPONENTS components. */
    TU_OK(kerb_principal_parse("a/b/c/d/e/f/g/h", KERB_NT_PRINCIPAL, st_long,
                               &eight, &r));
    assert_int_equal(eight.n, KERB_MAX_COMPONENTS);
    tu_fill(cipher_a, sizeof(cipher_a), 1);
    tu_fill(cipher_b, sizeof(cipher_b), 2);
    tu_fill(keybytes, sizeof(keybytes), 3);
    s2k[0] = 0;
    s2k[1] = 0;
    s2k[2] = 0x10;
    s2k[3] = 0;
    return 0;
}

/* An encoding in a buffer of its own. */
typedef struct enc {
    uint8_t buf[8192];
    base_der der;
} enc;

/* ENCODE(&e, calls using &W): runs the encoder calls on a fresh writer
 * over e's buffer and asserts success. */
#define ENCODE(e, ...)                                                        \
    do {                                                                      \
        enc *e_ = (e);                                                        \
        base_der_w W;                                                         \
        base_der_w_init(&W, e_->buf, sizeof(e_->buf));                        \
        __VA_ARGS__;                                                          \
        TU_OK(base_der_w_finish(&W, &e_->der));                               \
    } while (0)

/* The same for an encoder call that must fail with code. */
#define ENCODE_ERR(code, ...)                                                 \
    do {                                                                      \
        static uint8_t b_[4096];                                              \
        base_der_w W;                                                         \
        base_der o_;                                                          \
        base_der_w_init(&W, b_, sizeof(b_));                                  \
        __VA_ARGS__;                                                          \
        TU_ERR(base_der_w_finish(&W, &o_), code);                             \
    } while (0)

static bool
inside(base_der outer, base_der v)
{
    return v.len == 0 ||
           (v.p >= outer.p && v.p + v.len <= outer.p + outer.len);
}

static void
assert_view(base_der got, const void *want, size_t len)
{
    assert_int_equal(got.len, len);
    if (len > 0)
        assert_memory_equal(got.p, want, len);
}

static void
assert_princ(const kerb_principal *a, const kerb_principal *b)
{
    assert_int_equal(a->type, b->type);
    assert_true(kerb_principal_eq(a, b));
}

static void
assert_enc_data(const kerb_enc_data *a, const kerb_enc_data *b)
{
    assert_int_equal(a->etype, b->etype);
    assert_int_equal(a->has_kvno, b->has_kvno);
    assert_int_equal(a->kvno, b->kvno);
    assert_true(base_der_eq(a->cipher, b->cipher));
}

/* A Ticket for sname with the given enc-part, as a KDC writes it. */
static void
make_ticket(enc *t, const kerb_principal *sname, const kerb_enc_data *ed)
{
    ENCODE(t, {
        size_t m = 0, mf;

        mf = base_der_w_len(&W);
        kerb_enc_enc_data(&W, ed);
        wrap_field(&W, mf, 3);
        mf = base_der_w_len(&W);
        kerb_enc_principal(&W, sname);
        wrap_field(&W, mf, 2);
        w_prim_field(&W, 1, BASE_DER_GENERAL_STRING, realm.p, realm.len);
        w_int_field(&W, 0, KERB_PVNO);
        wrap_app(&W, m, 1);
    });
}

/* ---- splicing: a message as its list of top-level fields ------------- */

/* The fields of [APPLICATION app] SEQUENCE { ... } (app 0: a bare
 * SEQUENCE), each as its whole encoding. */
typedef struct parts {
    unsigned app;
    size_t n;
    base_der f[20];
} parts;

static void
split(base_der msg, parts *p)
{
    base_der body = msg, seq;
    unsigned tag;

    memset(p, 0, sizeof(*p));
    if ((msg.p[0] & 0xe0) == 0x60) {
        p->app = msg.p[0] & 0x1fu;
        assert_int_equal(base_der_get_any(&msg, &tag, &body, NULL), 0);
    }
    assert_int_equal(base_der_get(&body, BASE_DER_SEQUENCE, &seq, NULL), 0);
    while (seq.len > 0) {
        assert_true(p->n < BASE_ARRAY_LEN(p->f));
        assert_int_equal(base_der_get_any(&seq, &tag, NULL, &p->f[p->n]), 0);
        p->n++;
    }
}

static void
join(const parts *p, enc *out)
{
    ENCODE(out, {
        for (size_t i = p->n; i > 0; i--)
            base_der_w_raw(&W, p->f[i - 1].p, p->f[i - 1].len);
        base_der_w_wrap(&W, BASE_DER_SEQUENCE, base_der_w_len(&W));
        if (p->app != 0)
            base_der_w_wrap(&W, BASE_DER_APP(p->app), base_der_w_len(&W));
    });
}

/* Fields made by hand live in this arena (reset per test). */
static uint8_t arena[65536];
static size_t arena_used;

static int
reset_arena(void **state)
{
    (void)state;
    arena_used = 0;
    return 0;
}

/* [n] { tag p[0..len) } */
static base_der
fld(unsigned n, unsigned tag, const void *p, size_t len)
{
    enc *e = malloc(sizeof(*e));
    base_der out;

    assert_non_null(e);
    ENCODE(e, w_prim_field(&W, n, tag, p, len));
    assert_true(arena_used + e->der.len <= sizeof(arena));
    memcpy(arena + arena_used, e->der.p, e->der.len);
    out = base_der_view(arena + arena_used, e->der.len);
    arena_used += e->der.len;
    free(e);
    return out;
}

/* [n] { INTEGER v } */
static base_der
fld_int(unsigned n, int64_t v)
{
    enc *e = malloc(sizeof(*e));
    base_der out;

    assert_non_null(e);
    ENCODE(e, w_int_field(&W, n, v));
    memcpy(arena + arena_used, e->der.p, e->der.len);
    out = base_der_view(arena + arena_used, e->der.len);
    arena_used += e->der.len;
    free(e);
    return out;
}

/* [n] { whole } for an element already encoded. */
static base_der
fld_wrap(unsigned n, base_der whole)
{
    enc *e = malloc(sizeof(*e));
    base_der out;

    assert_non_null(e);
    ENCODE(e, {
        base_der_w_raw(&W, whole.p, whole.len);
        wrap_field(&W, 0, n);
    });
    memcpy(arena + arena_used, e->der.p, e->der.len);
    out = base_der_view(arena + arena_used, e->der.len);
    arena_used += e->der.len;
    free(e);
    return out;
}

/* A copy of v in the arena. */
static base_der
to_arena(base_der v)
{
    base_der out;

    assert_true(arena_used + v.len <= sizeof(arena));
    memcpy(arena + arena_used, v.p, v.len);
    out = base_der_view(arena + arena_used, v.len);
    arena_used += v.len;
    return out;
}

/* The list (a SEQUENCE OF, split) with element i replaced by the
 * SEQUENCE whose fields are e. */
static void
replace_elem(const parts *list, size_t i, const parts *e, enc *out)
{
    static enc one;
    parts l = *list;

    join(e, &one);
    l.f[i] = to_arena(one.der);
    join(&l, out);
}

/* Index of field [n] in p (fails when absent). */
static size_t
idx(const parts *p, unsigned n)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->f[i].p[0] == BASE_DER_CTX(n))
            return i;
    fail_msg("no field [%u]", n);
    return 0;
}

static void
put(parts *p, size_t at, base_der f)
{
    assert_true(p->n < BASE_ARRAY_LEN(p->f) && at <= p->n);
    memmove(&p->f[at + 1], &p->f[at], (p->n - at) * sizeof(p->f[0]));
    p->f[at] = f;
    p->n++;
}

static void
drop(parts *p, size_t at)
{
    memmove(&p->f[at], &p->f[at + 1], (p->n - at - 1) * sizeof(p->f[0]));
    p->n--;
}

/* ---- decoder dispatch (for the sweeps) -------------------------------- */

typedef enum kind {
    K_KDC_REQ,
    K_PA_ENC_TS,
    K_PADATA,
    K_ETYPE_INFO2,
    K_KDC_REP,
    K_ENC_KDC_REP,
    K_CRED,
    K_ENC_CRED
} kind;

/* Decodes in as k; when it is accepted, re-encodes what was decoded and
 * checks that the re-encoding is accepted with the same fields. */
static hsmssp_err
dec_and_reencode(kind k, base_der in)
{
    static kerb_kdc_req_dec d, d2;
    static kerb_kdc_rep r, r2;
    static kerb_enc_kdc_rep_part e, e2;
    static kerb_pa_data pa[KERB_MAX_PADATA], pa2[KERB_MAX_PADATA];
    static kerb_etype_info2 ei[KERB_MAX_ETYPES], ei2[KERB_MAX_ETYPES];
    static kerb_krb_cred c, c2;
    static kerb_enc_cred_part cp, cp2;
    enc *x = malloc(sizeof(*x)), *body = malloc(sizeof(*body));
    hsmssp_err ret = HSMSSP_OK;
    size_t n = 0, n2 = 0;
    unsigned app = 0, app2 = 0;
    int64_t ts = 0, ts2 = 0;
    int32_t us = 0, us2 = 0;
    bool hu = false, hu2 = false;

    assert_non_null(x);
    assert_non_null(body);
    switch (k) {
    case K_KDC_REQ:
        ret = kerb_dec_kdc_req(in, &d);
        if (ret != HSMSSP_OK)
            break;
        ENCODE(body, kerb_enc_kdc_req_body(&W, &d.req));
        ENCODE(x, kerb_enc_kdc_req(&W, &d.req, body->der));
        TU_OK(kerb_dec_kdc_req(x->der, &d2));
        assert_int_equal(d2.req.msg_type, d.req.msg_type);
        assert_int_equal(d2.req.n_padata, d.req.n_padata);
        assert_int_equal(d2.req.nonce, d.req.nonce);
        assert_int_equal(d2.req.n_etypes, d.req.n_etypes);
        assert_int_equal(d2.req.n_additional, d.req.n_additional);
        assert_true(base_der_eq(d2.req.realm, d.req.realm));
        break;
    case K_PA_ENC_TS:
        ret = kerb_dec_pa_enc_ts(in, &ts, &hu, &us);
        if (ret != HSMSSP_OK)
            break;
        ENCODE(x, kerb_enc_pa_enc_ts(&W, ts, us));
        TU_OK(kerb_dec_pa_enc_ts(x->der, &ts2, &hu2, &us2));
        assert_true(ts2 == ts && us2 == us && hu2);
        break;
    case K_PADATA:
        ret = kerb_dec_padata_seq(in, pa, KERB_MAX_PADATA, &n);
        if (ret != HSMSSP_OK)
            break;
        ENCODE(x, kerb_enc_padata_seq(&W, pa, n));
        TU_OK(kerb_dec_padata_seq(x->der, pa2, KERB_MAX_PADATA, &n2));
        assert_int_equal(n2, n);
        /* A PA-DATA has no optional part: the bytes are the same. */
        assert_true(base_der_eq(x->der, in));
        break;
    case K_ETYPE_INFO2:
        ret = kerb_dec_etype_info2(in, ei, KERB_MAX_ETYPES, &n);
        if (ret != HSMSSP_OK)
            break;
        ENCODE(x, kerb_enc_etype_info2(&W, ei, n));
        TU_OK(kerb_dec_etype_info2(x->der, ei2, KERB_MAX_ETYPES, &n2));
        assert_int_equal(n2, n);
        assert_true(base_der_eq(x->der, in));
        break;
    case K_KDC_REP:
        ret = kerb_dec_kdc_rep(in, &r);
        if (ret != HSMSSP_OK)
            break;
        ENCODE(x, kerb_enc_kdc_rep(&W, &r));
        TU_OK(kerb_dec_kdc_rep(x->der, &r2));
        assert_int_equal(r2.msg_type, r.msg_type);
        assert_int_equal(r2.n_padata, r.n_padata);
        assert_true(base_der_eq(r2.ticket.whole, r.ticket.whole));
        assert_enc_data(&r2.enc, &r.enc);
        break;
    case K_ENC_KDC_REP:
        ret = kerb_dec_enc_kdc_rep_part(in, &e, &app);
        if (ret != HSMSSP_OK)
            break;
        ENCODE(x, kerb_enc_enc_kdc_rep_part(&W, &e, app));
        TU_OK(kerb_dec_enc_kdc_rep_part(x->der, &e2, &app2));
        assert_int_equal(app2, app);
        assert_int_equal(e2.nonce, e.nonce);
        assert_true(base_der_eq(e2.key.value, e.key.value));
        assert_true(base_der_eq(e2.last_req, e.last_req));
        assert_true(base_der_eq(e2.enc_padata, e.enc_padata));
        break;
    case K_CRED:
        ret = kerb_dec_cred(in, &c);
        if (ret != HSMSSP_OK || c.n_tickets != 1)
            break;
        ENCODE(x, kerb_enc_krb_cred(&W, c.tickets[0].whole, &c.enc));
        TU_OK(kerb_dec_cred(x->der, &c2));
        assert_true(base_der_eq(c2.tickets[0].whole, c.tickets[0].whole));
        assert_enc_data(&c2.enc, &c.enc);
        break;
    case K_ENC_CRED:
        ret = kerb_dec_enc_cred_part(in, &cp);
        if (ret != HSMSSP_OK || cp.n_info != 1)
            break;
        ENCODE(x, kerb_enc_enc_cred_part(&W, &cp.info[0], cp.has_timestamp,
                                         cp.timestamp, cp.usec));
        TU_OK(kerb_dec_enc_cred_part(x->der, &cp2));
        assert_true(base_der_eq(cp2.info[0].key.value, cp.info[0].key.value));
        assert_int_equal(cp2.has_timestamp, cp.has_timestamp);
        break;
    }
    free(x);
    free(body);
    return ret;
}

/* ---- samples ------------------------------------------------------------ */

static enc tkt1, tkt2;
static kerb_enc_data ed_a = {18, true, 2, {NULL, 0}};
static kerb_enc_data ed_b = {17, false, 0, {NULL, 0}};
static const int32_t etypes5[] = {18, 17, 20, 19, 23};

static void
make_tickets(void)
{
    ed_a.cipher = base_der_view(cipher_a, sizeof(cipher_a));
    ed_b.cipher = base_der_view(cipher_b, sizeof(cipher_b));
    make_ticket(&tkt1, &krbtgt, &ed_a);
    make_ticket(&tkt2, &svc, &ed_b);
}

/* An AS-REQ with every field hsmssp writes (full) or the fewest. */
static void
sample_as_req(kerb_kdc_req *r, kerb_pa_data pa[2], bool full)
{
    static const uint8_t pac_req[] = {0x30, 0x05, 0xa0, 0x03,
                                      0x01, 0x01, 0xff};

    memset(r, 0, sizeof(*r));
    r->msg_type = KERB_MSG_AS_REQ;
    r->kdc_options = KERB_KDC_OPT_FORWARDABLE | KERB_KDC_OPT_RENEWABLE_OK |
                     KERB_KDC_OPT_CANONICALIZE;
    r->has_cname = true;
    r->cname = alice;
    r->realm = realm;
    r->has_sname = true;
    r->sname = krbtgt;
    r->till = 1700036000;
    r->nonce = 0x12345678u;
    r->etypes = etypes5;
    r->n_etypes = 5;
    if (full) {
        pa[0].type = KERB_PA_ENC_TIMESTAMP;
        pa[0].value = base_der_view(cipher_a, 20);
        pa[1].type = KERB_PA_PAC_REQUEST;
        pa[1].value = base_der_view(pac_req, sizeof(pac_req));
        r->padata = pa;
        r->n_padata = 2;
        r->has_from = true;
        r->from = 1700000000;
        r->has_rtime = true;
        r->rtime = 1700086400;
        r->has_authz = true;
        r->enc_authz = ed_b;
    }
}

static void
encode_req(const kerb_kdc_req *r, enc *body, enc *msg)
{
    ENCODE(body, kerb_enc_kdc_req_body(&W, r));
    ENCODE(msg, kerb_enc_kdc_req(&W, r, body->der));
}

/* ---- KDC-REQ ----------------------------------------------------------- */

static void
check_req_eq(const kerb_kdc_req *a, const kerb_kdc_req_dec *d)
{
    const kerb_kdc_req *b = &d->req;

    assert_int_equal(b->msg_type, a->msg_type);
    assert_int_equal(b->n_padata, a->n_padata);
    for (size_t i = 0; i < a->n_padata; i++) {
        assert_int_equal(b->padata[i].type, a->padata[i].type);
        assert_true(base_der_eq(b->padata[i].value, a->padata[i].value));
    }
    assert_int_equal(b->kdc_options, a->kdc_options);
    assert_int_equal(b->has_cname, a->has_cname);
    if (a->has_cname)
        assert_princ(&b->cname, &a->cname);
    assert_true(base_der_eq(b->realm, a->realm));
    assert_int_equal(b->has_sname, a->has_sname);
    if (a->has_sname)
        assert_princ(&b->sname, &a->sname);
    assert_int_equal(b->has_from, a->has_from);
    assert_int_equal(b->from, a->has_from ? a->from : 0);
    assert_int_equal(b->till, a->till);
    assert_int_equal(b->has_rtime, a->has_rtime);
    assert_int_equal(b->rtime, a->has_rtime ? a->rtime : 0);
    assert_int_equal(b->nonce, a->nonce);
    assert_int_equal(b->n_etypes, a->n_etypes);
    assert_memory_equal(b->etypes, a->etypes, a->n_etypes * sizeof(int32_t));
    assert_int_equal(b->has_authz, a->has_authz);
    if (a->has_authz)
        assert_enc_data(&b->enc_authz, &a->enc_authz);
    assert_int_equal(b->n_additional, a->n_additional);
    for (size_t i = 0; i < a->n_additional; i++)
        assert_true(base_der_eq(b->additional[i], a->additional[i]));
    assert_false(d->has_addresses);
    assert_false(d->has_ext);
}

static void
test_kdc_req_roundtrip(void **state)
{
    kerb_pa_data pa[2];
    kerb_kdc_req r;
    base_der ad[2];
    static kerb_kdc_req_dec d;
    static enc body, msg, again;

    (void)state;
    make_tickets();
    for (int full = 0; full <= 1; full++) {
        for (int tgs = 0; tgs <= 1; tgs++) {
            sample_as_req(&r, pa, full);
            if (tgs) {
                r.msg_type = KERB_MSG_TGS_REQ;
                r.has_cname = false;
                r.sname = svc;
                if (full) {
                    ad[0] = tkt1.der;
                    ad[1] = tkt2.der;
                    r.additional = ad;
                    r.n_additional = 2;
                }
            }
            encode_req(&r, &body, &msg);
            assert_int_equal(msg.der.p[0], BASE_DER_APP(r.msg_type));
            TU_OK(kerb_dec_kdc_req(msg.der, &d));
            check_req_eq(&r, &d);
            /* The body view is the exact body encoding, inside msg. */
            assert_true(base_der_eq(d.body, body.der));
            assert_true(inside(msg.der, d.body));
            /* Re-encoding from the decoded struct: the same bytes. */
            encode_req(&d.req, &body, &again);
            assert_true(base_der_eq(again.der, msg.der));
            assert_int_equal(dec_and_reencode(K_KDC_REQ, msg.der), 0);
        }
    }
}

/* nonce is a UInt32 written as an Int32 (kerb_asn1_kdc.c): values from
 * 2^31 on go out negative and come back as the same 32 bits; the
 * positive spelling is read too. */
static void
test_kdc_req_nonce(void **state)
{
    static const uint32_t nonces[] = {0,           1,           0x7fffffffu,
                                      0x80000000u, 0xfffffffeu, 0xffffffffu};
    kerb_pa_data pa[2];
    kerb_kdc_req r;
    static kerb_kdc_req_dec d;
    static enc body, msg, alt;
    parts p, b;

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(nonces); i++) {
        sample_as_req(&r, pa, false);
        r.nonce = nonces[i];
        encode_req(&r, &body, &msg);
        TU_OK(kerb_dec_kdc_req(msg.der, &d));
        assert_int_equal(d.req.nonce, nonces[i]);
        split(body.der, &b);
        {
            base_der nf = b.f[idx(&b, 7)];
            /* [7] { INTEGER }: at most 4 content octets, sign as Int32. */
            assert_true(nf.p[3] <= 4);
            assert_int_equal((nf.p[4] & 0x80) != 0, nonces[i] >= 0x80000000u);
        }
        /* The positive (RFC) spelling decodes to the same nonce. */
        b.f[idx(&b, 7)] = fld_int(7, (int64_t)nonces[i]);
        join(&b, &alt);
        split(msg.der, &p);
        p.f[idx(&p, 4)] = fld_wrap(4, alt.der);
        join(&p, &alt);
        TU_OK(kerb_dec_kdc_req(alt.der, &d));
        assert_int_equal(d.req.nonce, nonces[i]);
    }
    /* Beyond 32 bits, either way. */
    sample_as_req(&r, pa, false);
    encode_req(&r, &body, &msg);
    split(body.der, &b);
    b.f[idx(&b, 7)] = fld_int(7, 0x100000000LL);
    join(&b, &alt);
    split(msg.der, &p);
    p.f[idx(&p, 4)] = fld_wrap(4, alt.der);
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    b.f[idx(&b, 7)] = fld_int(7, -0x80000001LL);
    join(&b, &alt);
    p.f[idx(&p, 4)] = fld_wrap(4, alt.der);
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
}

/* Rebuilds msg with its body's fields replaced by b. */
static void
with_body(const enc *msg, const parts *b, enc *out)
{
    static enc nb;
    parts p;

    join(b, &nb);
    split(msg->der, &p);
    p.f[idx(&p, 4)] = fld_wrap(4, nb.der);
    join(&p, out);
}

static void
test_kdc_req_limits(void **state)
{
    int32_t many[KERB_MAX_ETYPES + 1];
    kerb_pa_data pa[KERB_MAX_PADATA + 1];
    base_der ad[KERB_MAX_CRED_TICKETS + 1];
    kerb_kdc_req r;
    static kerb_kdc_req_dec d;
    static enc body, msg, alt;
    parts b;

    (void)state;
    make_tickets();
    for (size_t i = 0; i < BASE_ARRAY_LEN(many); i++)
        many[i] = (int32_t)i - 1;
    for (size_t i = 0; i < BASE_ARRAY_LEN(pa); i++) {
        pa[i].type = (int32_t)i;
        pa[i].value = base_der_view(cipher_a, i);
    }
    for (size_t i = 0; i < BASE_ARRAY_LEN(ad); i++)
        ad[i] = tkt1.der;

    /* Exactly at each bound: accepted. */
    sample_as_req(&r, pa, false);
    r.etypes = many;
    r.n_etypes = KERB_MAX_ETYPES;
    r.padata = pa;
    r.n_padata = KERB_MAX_PADATA;
    r.additional = ad;
    r.n_additional = KERB_MAX_CRED_TICKETS;
    encode_req(&r, &body, &msg);
    TU_OK(kerb_dec_kdc_req(msg.der, &d));
    check_req_eq(&r, &d);
    /* One past each: LIMIT. */
    r.n_etypes++;
    encode_req(&r, &body, &msg);
    TU_ERR(kerb_dec_kdc_req(msg.der, &d), HSMSSP_ERR_LIMIT);
    r.n_etypes--;
    r.n_padata++;
    encode_req(&r, &body, &msg);
    TU_ERR(kerb_dec_kdc_req(msg.der, &d), HSMSSP_ERR_LIMIT);
    r.n_padata--;
    r.n_additional++;
    encode_req(&r, &body, &msg);
    TU_ERR(kerb_dec_kdc_req(msg.der, &d), HSMSSP_ERR_LIMIT);

    /* Empty lists: the encoder refuses no etype; the decoder refuses an
     * empty etype list, padata and additional-tickets. */
    sample_as_req(&r, pa, false);
    r.n_etypes = 0;
    ENCODE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, kerb_enc_kdc_req_body(&W, &r));
    r.n_etypes = 1;
    encode_req(&r, &body, &msg);
    split(body.der, &b);
    b.f[idx(&b, 8)] = fld(8, BASE_DER_SEQUENCE, NULL, 0);
    with_body(&msg, &b, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    split(body.der, &b);
    put(&b, b.n, fld(11, BASE_DER_SEQUENCE, NULL, 0));
    with_body(&msg, &b, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    {
        parts p;

        split(msg.der, &p);
        put(&p, 2, fld(3, BASE_DER_SEQUENCE, NULL, 0));
        join(&p, &alt);
        TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    }
    /* msg-type outside AS-REQ/TGS-REQ: the encoder refuses. */
    r.msg_type = KERB_MSG_AS_REP;
    ENCODE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
               kerb_enc_kdc_req(&W, &r, body.der));
}

static void
test_kdc_req_strict(void **state)
{
    /* HostAddresses: one HostAddress { [0] 2, [1] 7f 00 }, and one
     * without its address. */
    static const uint8_t addrs[] = {0x30, 0x0d, 0x30, 0x0b, 0xa0,
                                    0x03, 0x02, 0x01, 0x02, 0xa1,
                                    0x04, 0x04, 0x02, 0x7f, 0x00};
    static const uint8_t bad_addrs[] = {0x30, 0x07, 0x30, 0x05, 0xa0,
                                        0x03, 0x02, 0x01, 0x02};
    kerb_pa_data pa[2];
    kerb_kdc_req r;
    static kerb_kdc_req_dec d;
    static enc body, msg, alt;
    parts p, b;

    (void)state;
    sample_as_req(&r, pa, true);
    encode_req(&r, &body, &msg);

    /* pvno, msg-type against the tag. */
    split(msg.der, &p);
    p.f[0] = fld_int(1, 4);
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    split(msg.der, &p);
    p.f[1] = fld_int(2, KERB_MSG_TGS_REQ);
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* Other application tags, and a bare SEQUENCE. */
    split(msg.der, &p);
    p.app = KERB_MSG_AS_REP;
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    p.app = 0;
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* Missing req-body; fields swapped. */
    split(msg.der, &p);
    drop(&p, idx(&p, 4));
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    split(msg.der, &p);
    {
        base_der t = p.f[2];

        p.f[2] = p.f[3];
        p.f[3] = t;
    }
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* A trailing extension is skipped, also inside the body (MIT's
     * [12]); an unknown field before a known one is not. */
    split(msg.der, &p);
    put(&p, p.n, fld_int(9, 1));
    join(&p, &alt);
    TU_OK(kerb_dec_kdc_req(alt.der, &d));
    check_req_eq(&r, &d);
    split(body.der, &b);
    put(&b, b.n, fld(12, BASE_DER_OCTET_STRING, "x", 1));
    with_body(&msg, &b, &alt);
    TU_OK(kerb_dec_kdc_req(alt.der, &d));
    assert_true(d.has_ext);
    split(body.der, &b);
    put(&b, idx(&b, 8), fld_int(12, 0));
    with_body(&msg, &b, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* A malformed extension (not DER inside) is refused. */
    split(body.der, &b);
    put(&b, b.n, fld(12, BASE_DER_SEQUENCE, "\x02\x05\x01", 3));
    with_body(&msg, &b, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* Trailing bytes after the message. */
    memcpy(alt.buf, msg.der.p, msg.der.len);
    alt.buf[msg.der.len] = 0;
    TU_ERR(kerb_dec_kdc_req(base_der_view(alt.buf, msg.der.len + 1), &d),
           HSMSSP_ERR_BAD_TOKEN);
    /* NUL in the realm; in a name component. */
    split(body.der, &b);
    b.f[idx(&b, 2)] = fld(2, BASE_DER_GENERAL_STRING, "HSMSSP\0TEST", 11);
    with_body(&msg, &b, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    {
        kerb_principal bad = alice;

        bad.comp[0] = base_der_view("al\0ce", 5);
        r.cname = bad;
        encode_req(&r, &body, &alt);
        TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
        /* KERB_MAX_COMPONENTS components: the most a name may have. */
        r.cname = eight;
        encode_req(&r, &body, &alt);
        TU_OK(kerb_dec_kdc_req(alt.der, &d));
        r.cname = alice;
    }
    /* addresses [9]: checked whole, reported, not re-encoded. */
    encode_req(&r, &body, &msg);
    split(body.der, &b);
    put(&b, idx(&b, 10), fld_wrap(9, base_der_view(addrs, sizeof(addrs))));
    with_body(&msg, &b, &alt);
    TU_OK(kerb_dec_kdc_req(alt.der, &d));
    assert_true(d.has_addresses);
    assert_view(d.addresses, addrs + 2, sizeof(addrs) - 2);
    b.f[idx(&b, 9)] = fld_wrap(9, base_der_view(bad_addrs, sizeof(bad_addrs)));
    with_body(&msg, &b, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* An additional ticket that is not a Ticket. */
    split(body.der, &b);
    put(&b, b.n, fld_wrap(11, base_der_view("\x30\x03\x02\x01\x05", 5)));
    with_body(&msg, &b, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* till is required; from is optional. */
    split(body.der, &b);
    drop(&b, idx(&b, 5));
    with_body(&msg, &b, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* KerberosTime with fractional seconds. */
    split(body.der, &b);
    b.f[idx(&b, 5)] =
        fld(5, BASE_DER_GENERALIZED_TIME, "20231114221320.5Z", 17);
    with_body(&msg, &b, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* KDCOptions shorter than 32 bits. */
    split(body.der, &b);
    b.f[0] = fld(0, BASE_DER_BIT_STRING, "\x00\x40\x81\x00", 4);
    with_body(&msg, &b, &alt);
    TU_ERR(kerb_dec_kdc_req(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
}

/* ---- PA-ENC-TS-ENC -------------------------------------------------- */

static void
test_pa_enc_ts(void **state)
{
    static const int32_t usecs[] = {0, 1, 500000, 999999};
    static enc m, alt;
    int64_t ts;
    int32_t us;
    bool has;
    parts p;

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(usecs); i++) {
        ENCODE(&m, kerb_enc_pa_enc_ts(&W, 1700000000 + (int64_t)i, usecs[i]));
        TU_OK(kerb_dec_pa_enc_ts(m.der, &ts, &has, &us));
        assert_int_equal(ts, 1700000000 + (int64_t)i);
        assert_true(has);
        assert_int_equal(us, usecs[i]);
        assert_int_equal(dec_and_reencode(K_PA_ENC_TS, m.der), 0);
    }
    ENCODE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
               kerb_enc_pa_enc_ts(&W, 1700000000, 1000000));
    ENCODE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
               kerb_enc_pa_enc_ts(&W, 1700000000, -1));
    ENCODE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, kerb_enc_pa_enc_ts(&W, -1, 0));
    /* pausec absent. */
    split(m.der, &p);
    drop(&p, 1);
    join(&p, &alt);
    TU_OK(kerb_dec_pa_enc_ts(alt.der, &ts, &has, &us));
    assert_false(has);
    assert_int_equal(us, 0);
    /* Out of range, wrong order, extensions, missing timestamp. */
    split(m.der, &p);
    p.f[1] = fld_int(1, 1000000);
    join(&p, &alt);
    TU_ERR(kerb_dec_pa_enc_ts(alt.der, &ts, &has, &us), HSMSSP_ERR_BAD_TOKEN);
    assert_int_equal(ts, 0);
    p.f[1] = fld_int(1, -1);
    join(&p, &alt);
    TU_ERR(kerb_dec_pa_enc_ts(alt.der, &ts, &has, &us), HSMSSP_ERR_BAD_TOKEN);
    split(m.der, &p);
    put(&p, p.n, fld_int(2, 7));
    join(&p, &alt);
    TU_OK(kerb_dec_pa_enc_ts(alt.der, &ts, &has, &us));
    split(m.der, &p);
    drop(&p, 0);
    join(&p, &alt);
    TU_ERR(kerb_dec_pa_enc_ts(alt.der, &ts, &has, &us), HSMSSP_ERR_BAD_TOKEN);
    split(m.der, &p);
    p.app = 1;
    join(&p, &alt);
    TU_ERR(kerb_dec_pa_enc_ts(alt.der, &ts, &has, &us), HSMSSP_ERR_BAD_TOKEN);
}

/* ---- METHOD-DATA --------------------------------------------------- */

static void
test_padata_seq(void **state)
{
    kerb_pa_data pa[KERB_MAX_PADATA + 1], out[KERB_MAX_PADATA + 1];
    static enc m, alt;
    size_t n = 99;
    parts p, e;

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(pa); i++) {
        pa[i].type = i == 3 ? -150 : (int32_t)(i * 37);
        pa[i].value = base_der_view(cipher_b, i * 5);
    }
    /* 0, 1 and KERB_MAX_PADATA entries. */
    for (size_t k = 0; k <= KERB_MAX_PADATA; k += (k == 0 ? 1 : 15)) {
        ENCODE(&m, kerb_enc_padata_seq(&W, pa, k));
        TU_OK(kerb_dec_padata_seq(m.der, out, KERB_MAX_PADATA, &n));
        assert_int_equal(n, k);
        for (size_t i = 0; i < k; i++) {
            assert_int_equal(out[i].type, pa[i].type);
            assert_true(base_der_eq(out[i].value, pa[i].value));
            assert_true(inside(m.der, out[i].value));
        }
        assert_int_equal(dec_and_reencode(K_PADATA, m.der), 0);
    }
    /* More than max: LIMIT, whatever max is, and *n_out stays 0. */
    ENCODE(&m, kerb_enc_padata_seq(&W, pa, KERB_MAX_PADATA + 1));
    TU_ERR(kerb_dec_padata_seq(m.der, out, KERB_MAX_PADATA, &n),
           HSMSSP_ERR_LIMIT);
    assert_int_equal(n, 0);
    ENCODE(&m, kerb_enc_padata_seq(&W, pa, 3));
    TU_ERR(kerb_dec_padata_seq(m.der, out, 2, &n), HSMSSP_ERR_LIMIT);
    TU_OK(kerb_dec_padata_seq(m.der, out, 3, &n));
    /* PA-DATA's tags are 1 and 2: 0 and 1 are refused. */
    split(m.der, &p);
    split(p.f[1], &e);
    e.f[0] = fld_int(0, 2);
    e.f[1] = fld(1, BASE_DER_OCTET_STRING, "ab", 2);
    replace_elem(&p, 1, &e, &alt);
    TU_ERR(kerb_dec_padata_seq(alt.der, out, KERB_MAX_PADATA, &n),
           HSMSSP_ERR_BAD_TOKEN);
    /* The unchanged list is fine (the check above is about the tags). */
    split(p.f[1], &e);
    replace_elem(&p, 1, &e, &alt);
    TU_OK(kerb_dec_padata_seq(alt.der, out, KERB_MAX_PADATA, &n));
    /* No extension inside a PA-DATA (not an extensible type); the value
     * is an OCTET STRING; both fields are required. */
    put(&e, 2, fld_int(3, 0));
    replace_elem(&p, 1, &e, &alt);
    TU_ERR(kerb_dec_padata_seq(alt.der, out, 4, &n), HSMSSP_ERR_BAD_TOKEN);
    split(p.f[1], &e);
    e.f[1] = fld(2, BASE_DER_GENERAL_STRING, "ab", 2);
    replace_elem(&p, 1, &e, &alt);
    TU_ERR(kerb_dec_padata_seq(alt.der, out, 4, &n), HSMSSP_ERR_BAD_TOKEN);
    for (size_t f = 0; f < 2; f++) {
        split(p.f[1], &e);
        drop(&e, f);
        replace_elem(&p, 1, &e, &alt);
        TU_ERR(kerb_dec_padata_seq(alt.der, out, 4, &n), HSMSSP_ERR_BAD_TOKEN);
    }
    /* Nothing after the SEQUENCE OF. */
    ENCODE(&m, kerb_enc_padata_seq(&W, pa, 1));
    memcpy(alt.buf, m.der.p, m.der.len);
    alt.buf[m.der.len] = 0x30;
    alt.buf[m.der.len + 1] = 0;
    TU_ERR(
        kerb_dec_padata_seq(base_der_view(alt.buf, m.der.len + 2), out, 4, &n),
        HSMSSP_ERR_BAD_TOKEN);
}

/* ---- ETYPE-INFO2 ----------------------------------------------------- */

static void
test_etype_info2(void **state)
{
    kerb_etype_info2 in[KERB_MAX_ETYPES + 1], out[KERB_MAX_ETYPES + 1];
    static enc m, alt;
    size_t n = 99;
    parts p, e;

    (void)state;
    memset(in, 0, sizeof(in));
    for (size_t i = 0; i < BASE_ARRAY_LEN(in); i++) {
        in[i].etype = etypes5[i % 5];
        in[i].has_salt = i % 3 != 1;
        in[i].salt = i == 2 ? base_der_view("", 0)
                            : base_der_view("HSMSSP.TESTalice", 16);
        in[i].has_s2kparams = i % 2 == 1;
        in[i].s2kparams = base_der_view(s2k, sizeof(s2k));
    }
    for (size_t k = 1; k <= KERB_MAX_ETYPES; k += (k < 4 ? 1 : 12)) {
        ENCODE(&m, kerb_enc_etype_info2(&W, in, k));
        TU_OK(kerb_dec_etype_info2(m.der, out, KERB_MAX_ETYPES, &n));
        assert_int_equal(n, k);
        for (size_t i = 0; i < k; i++) {
            assert_int_equal(out[i].etype, in[i].etype);
            assert_int_equal(out[i].has_salt, in[i].has_salt);
            if (in[i].has_salt)
                assert_true(base_der_eq(out[i].salt, in[i].salt));
            else
                assert_int_equal(out[i].salt.len, 0);
            assert_int_equal(out[i].has_s2kparams, in[i].has_s2kparams);
            if (in[i].has_s2kparams)
                assert_view(out[i].s2kparams, s2k, sizeof(s2k));
        }
        assert_int_equal(dec_and_reencode(K_ETYPE_INFO2, m.der), 0);
    }
    /* SIZE (1..MAX): the encoder and the decoder refuse none. */
    ENCODE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, kerb_enc_etype_info2(&W, in, 0));
    ENCODE(&alt, base_der_w_wrap(&W, BASE_DER_SEQUENCE, 0));
    TU_ERR(kerb_dec_etype_info2(alt.der, out, 4, &n), HSMSSP_ERR_BAD_TOKEN);
    assert_int_equal(n, 0);
    /* More than max. */
    ENCODE(&m, kerb_enc_etype_info2(&W, in, KERB_MAX_ETYPES + 1));
    TU_ERR(kerb_dec_etype_info2(m.der, out, KERB_MAX_ETYPES, &n),
           HSMSSP_ERR_LIMIT);
    ENCODE(&m, kerb_enc_etype_info2(&W, in, 3));
    TU_ERR(kerb_dec_etype_info2(m.der, out, 2, &n), HSMSSP_ERR_LIMIT);
    /* The salt: NUL-free, a GeneralString (not an OCTET STRING). */
    in[0].salt = base_der_view("HSMSSP\0alice", 12);
    ENCODE(&m, kerb_enc_etype_info2(&W, in, 1));
    TU_ERR(kerb_dec_etype_info2(m.der, out, 4, &n), HSMSSP_ERR_BAD_TOKEN);
    /* Entry 3 has all three fields (i % 3 == 0, i % 2 == 1). */
    in[0].salt = base_der_view("HSMSSP.TESTalice", 16);
    ENCODE(&m, kerb_enc_etype_info2(&W, in, 4));
    split(m.der, &p);
    split(p.f[3], &e);
    assert_int_equal(e.n, 3);
    replace_elem(&p, 3, &e, &alt);
    TU_OK(kerb_dec_etype_info2(alt.der, out, 4, &n));
    e.f[1] = fld(1, BASE_DER_OCTET_STRING, "salt", 4);
    replace_elem(&p, 3, &e, &alt);
    TU_ERR(kerb_dec_etype_info2(alt.der, out, 4, &n), HSMSSP_ERR_BAD_TOKEN);
    /* No field after s2kparams; etype required; s2kparams before salt. */
    split(p.f[3], &e);
    put(&e, e.n, fld_int(3, 1));
    replace_elem(&p, 3, &e, &alt);
    TU_ERR(kerb_dec_etype_info2(alt.der, out, 4, &n), HSMSSP_ERR_BAD_TOKEN);
    split(p.f[3], &e);
    drop(&e, 0);
    replace_elem(&p, 3, &e, &alt);
    TU_ERR(kerb_dec_etype_info2(alt.der, out, 4, &n), HSMSSP_ERR_BAD_TOKEN);
    split(p.f[3], &e);
    {
        base_der t = e.f[1];

        e.f[1] = e.f[2];
        e.f[2] = t;
    }
    replace_elem(&p, 3, &e, &alt);
    TU_ERR(kerb_dec_etype_info2(alt.der, out, 4, &n), HSMSSP_ERR_BAD_TOKEN);
    /* An entry with only a salt or only s2kparams is fine (0, 1). */
    TU_OK(kerb_dec_etype_info2(m.der, out, 4, &n));
    assert_true(out[0].has_salt && !out[0].has_s2kparams);
    assert_true(!out[1].has_salt && out[1].has_s2kparams);
}

/* ---- KDC-REP ---------------------------------------------------------- */

static void
sample_rep(kerb_kdc_rep *r, int32_t msg_type, size_t n_padata)
{
    memset(r, 0, sizeof(*r));
    r->msg_type = msg_type;
    for (size_t i = 0; i < n_padata && i < KERB_MAX_PADATA; i++) {
        r->padata[i].type = i == 0 ? KERB_PA_ETYPE_INFO2 : (int32_t)(100 + i);
        r->padata[i].value = base_der_view(cipher_a, i + 1);
    }
    r->n_padata = n_padata;
    r->crealm = realm;
    r->cname = alice;
    TU_OK(kerb_dec_ticket(msg_type == KERB_MSG_AS_REP ? tkt1.der : tkt2.der,
                          &r->ticket));
    r->enc = ed_b;
}

static void
check_rep_eq(const kerb_kdc_rep *a, const kerb_kdc_rep *b, base_der in)
{
    assert_int_equal(b->msg_type, a->msg_type);
    assert_int_equal(b->n_padata, a->n_padata);
    for (size_t i = 0; i < a->n_padata; i++) {
        assert_int_equal(b->padata[i].type, a->padata[i].type);
        assert_true(base_der_eq(b->padata[i].value, a->padata[i].value));
        assert_true(inside(in, b->padata[i].value));
    }
    assert_true(base_der_eq(b->crealm, a->crealm));
    assert_princ(&b->cname, &a->cname);
    assert_true(base_der_eq(b->ticket.whole, a->ticket.whole));
    assert_true(inside(in, b->ticket.whole));
    assert_princ(&b->ticket.sname, &a->ticket.sname);
    assert_enc_data(&b->enc, &a->enc);
}

static void
test_kdc_rep_roundtrip(void **state)
{
    static const int32_t types[] = {KERB_MSG_AS_REP, KERB_MSG_TGS_REP};
    static const size_t npa[] = {0, 1, KERB_MAX_PADATA};
    static kerb_kdc_rep r, d;
    static enc m, again;

    (void)state;
    make_tickets();
    for (size_t t = 0; t < 2; t++) {
        for (size_t k = 0; k < BASE_ARRAY_LEN(npa); k++) {
            sample_rep(&r, types[t], npa[k]);
            ENCODE(&m, kerb_enc_kdc_rep(&W, &r));
            assert_int_equal(m.der.p[0], BASE_DER_APP(types[t]));
            TU_OK(kerb_dec_kdc_rep(m.der, &d));
            check_rep_eq(&r, &d, m.der);
            ENCODE(&again, kerb_enc_kdc_rep(&W, &d));
            assert_true(base_der_eq(again.der, m.der));
            assert_int_equal(dec_and_reencode(K_KDC_REP, m.der), 0);
        }
    }
    r.msg_type = KERB_MSG_AS_REQ;
    ENCODE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, kerb_enc_kdc_rep(&W, &r));
}

static void
test_kdc_rep_strict(void **state)
{
    static kerb_kdc_rep r, d;
    static enc m, alt;
    parts p;

    (void)state;
    make_tickets();
    sample_rep(&r, KERB_MSG_AS_REP, 2);
    ENCODE(&m, kerb_enc_kdc_rep(&W, &r));
    /* msg-type must match the tag, both ways; pvno 5. */
    split(m.der, &p);
    p.f[1] = fld_int(1, KERB_MSG_TGS_REP);
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    p.app = KERB_MSG_TGS_REP;
    join(&p, &alt);
    TU_OK(kerb_dec_kdc_rep(alt.der, &d));
    assert_int_equal(d.msg_type, KERB_MSG_TGS_REP);
    p.f[1] = fld_int(1, KERB_MSG_AS_REP);
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    split(m.der, &p);
    p.f[0] = fld_int(0, 4);
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* Other application tags (AP-REP, KRB-ERROR, EncASRepPart). */
    for (unsigned app = 1; app <= 30; app++) {
        if (app == KERB_MSG_AS_REP || app == KERB_MSG_TGS_REP)
            continue;
        split(m.der, &p);
        p.app = app;
        join(&p, &alt);
        TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    }
    /* padata: not empty; more than KERB_MAX_PADATA is LIMIT. */
    split(m.der, &p);
    p.f[2] = fld(2, BASE_DER_SEQUENCE, NULL, 0);
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    sample_rep(&r, KERB_MSG_AS_REP, KERB_MAX_PADATA);
    ENCODE(&alt, {
        /* KERB_MAX_PADATA + 1 entries need a list longer than r has. */
        kerb_pa_data more[KERB_MAX_PADATA + 1];
        size_t mm = base_der_w_len(&W), mf;

        memcpy(more, r.padata, sizeof(r.padata));
        more[KERB_MAX_PADATA] = r.padata[0];
        mf = base_der_w_len(&W);
        kerb_enc_enc_data(&W, &r.enc);
        wrap_field(&W, mf, 6);
        mf = base_der_w_len(&W);
        base_der_w_raw(&W, r.ticket.whole.p, r.ticket.whole.len);
        wrap_field(&W, mf, 5);
        mf = base_der_w_len(&W);
        kerb_enc_principal(&W, &r.cname);
        wrap_field(&W, mf, 4);
        w_prim_field(&W, 3, BASE_DER_GENERAL_STRING, realm.p, realm.len);
        mf = base_der_w_len(&W);
        kerb_enc_padata_seq(&W, more, KERB_MAX_PADATA + 1);
        wrap_field(&W, mf, 2);
        w_int_field(&W, 1, KERB_MSG_AS_REP);
        w_int_field(&W, 0, KERB_PVNO);
        wrap_app(&W, mm, KERB_MSG_AS_REP);
    });
    TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_LIMIT);
    /* Required fields; order; a Ticket that is not one; NUL in crealm;
     * extensions after [6] only. */
    sample_rep(&r, KERB_MSG_AS_REP, 1);
    ENCODE(&m, kerb_enc_kdc_rep(&W, &r));
    for (unsigned f = 3; f <= 6; f++) {
        split(m.der, &p);
        drop(&p, idx(&p, f));
        join(&p, &alt);
        TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    }
    split(m.der, &p);
    {
        size_t i3 = idx(&p, 3), i4 = idx(&p, 4);
        base_der t = p.f[i3];

        p.f[i3] = p.f[i4];
        p.f[i4] = t;
    }
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* [APPLICATION 1] around something that is not a Ticket's SEQUENCE. */
    split(m.der, &p);
    p.f[idx(&p, 5)] =
        fld_wrap(5, base_der_view("\x61\x05\x02\x03\x01\x00\x01", 7));
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    split(m.der, &p);
    p.f[idx(&p, 3)] = fld(3, BASE_DER_GENERAL_STRING, "A\0B", 3);
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    split(m.der, &p);
    put(&p, p.n, fld_int(7, 0));
    put(&p, p.n, fld(30, BASE_DER_SEQUENCE, NULL, 0));
    join(&p, &alt);
    TU_OK(kerb_dec_kdc_rep(alt.der, &d));
    check_rep_eq(&r, &d, alt.der);
    split(m.der, &p);
    put(&p, p.n, fld_int(6, 0));
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    split(m.der, &p);
    put(&p, p.n, fld(8, BASE_DER_INTEGER, NULL, 0));
    put(&p, p.n, fld_int(7, 0));
    join(&p, &alt);
    TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_BAD_TOKEN);
    /* A cname of KERB_MAX_COMPONENTS + 1 components: LIMIT. */
    {
        /* Rebuild cname [4] from the components above. */
        static enc name;
        size_t mm;

        ENCODE(&name, {
            mm = base_der_w_len(&W);
            for (size_t i = 0; i <= KERB_MAX_COMPONENTS; i++)
                base_der_w_prim(&W, BASE_DER_GENERAL_STRING, "x", 1);
            base_der_w_wrap(&W, BASE_DER_SEQUENCE, base_der_w_len(&W) - mm);
            wrap_field(&W, mm, 1);
            w_int_field(&W, 0, 1);
            base_der_w_wrap(&W, BASE_DER_SEQUENCE, base_der_w_len(&W) - mm);
        });
        split(m.der, &p);
        p.f[idx(&p, 4)] = fld_wrap(4, name.der);
        join(&p, &alt);
        TU_ERR(kerb_dec_kdc_rep(alt.der, &d), HSMSSP_ERR_LIMIT);
    }
}

/* ---- EncKDCRepPart ----------------------------------------------------- */

static const uint8_t last_req1[] = {0x30, 0x18, 0xa0, 0x03, 0x02, 0x01, 0x00,
                                    0xa1, 0x11, 0x18, 0x0f, '2',  '0',  '2',
                                    '3',  '1',  '1',  '1',  '4',  '2',  '2',
                                    '1',  '3',  '2',  '0',  'Z'};
static const uint8_t caddr1[] = {0x30, 0x0d, 0xa0, 0x03, 0x02,
                                 0x01, 0x02, 0xa1, 0x06, 0x04,
                                 0x04, 0x7f, 0x00, 0x00, 0x01};

static void
sample_enc_part(kerb_enc_kdc_rep_part *e, bool full, enc *encpa)
{
    kerb_pa_data pa = {149, {NULL, 0}};

    memset(e, 0, sizeof(*e));
    e->key.etype = 18;
    e->key.value = base_der_view(keybytes, 32);
    e->last_req = base_der_view(last_req1, sizeof(last_req1));
    e->nonce = 0x7ffffff0u;
    e->flags = KERB_TKT_FORWARDABLE | KERB_TKT_INITIAL | KERB_TKT_PRE_AUTHENT;
    e->authtime = 1700000000;
    e->endtime = 1700036000;
    e->srealm = realm;
    e->sname = krbtgt;
    if (full) {
        e->has_key_expiration = true;
        e->key_expiration = 1800000000;
        e->has_starttime = true;
        e->starttime = 1700000001;
        e->has_renew_till = true;
        e->renew_till = 1700086400;
        e->flags |= KERB_TKT_RENEWABLE;
        e->has_caddr = true;
        e->caddr = base_der_view(caddr1, sizeof(caddr1));
        pa.value = base_der_view(cipher_a, 12);
        ENCODE(encpa, kerb_enc_padata_seq(&W, &pa, 1));
        e->has_enc_padata = true;
        e->enc_padata = encpa->der;
    }
}

static void
check_enc_part_eq(const kerb_enc_kdc_rep_part *a,
                  const kerb_enc_kdc_rep_part *b, base_der in)
{
    assert_int_equal(b->key.etype, a->key.etype);
    assert_true(base_der_eq(b->key.value, a->key.value));
    /* The key is a view into the (secure) input, never a copy. */
    assert_true(inside(in, b->key.value));
    assert_true(base_der_eq(b->last_req, a->last_req));
    assert_int_equal(b->nonce, a->nonce);
    assert_int_equal(b->has_key_expiration, a->has_key_expiration);
    assert_int_equal(b->key_expiration, a->key_expiration);
    assert_int_equal(b->flags, a->flags);
    assert_int_equal(b->authtime, a->authtime);
    assert_int_equal(b->has_starttime, a->has_starttime);
    assert_int_equal(b->starttime, a->starttime);
    assert_int_equal(b->endtime, a->endtime);
    assert_int_equal(b->has_renew_till, a->has_renew_till);
    assert_int_equal(b->renew_till, a->renew_till);
    assert_true(base_der_eq(b->srealm, a->srealm));
    assert_princ(&b->sname, &a->sname);
    assert_int_equal(b->has_caddr, a->has_caddr);
    assert_true(base_der_eq(b->caddr, a->caddr));
    assert_int_equal(b->has_enc_padata, a->has_enc_padata);
    assert_true(base_der_eq(b->enc_padata, a->enc_padata));
}

static void
test_enc_kdc_rep_part(void **state)
{
    static kerb_enc_kdc_rep_part e, d;
    static enc m, again, encpa;
    kerb_pa_data pa[2];
    size_t n;
    unsigned app;

    (void)state;
    for (int full = 0; full <= 1; full++) {
        for (unsigned a = 25; a <= 26; a++) {
            sample_enc_part(&e, full, &encpa);
            ENCODE(&m, kerb_enc_enc_kdc_rep_part(&W, &e, a));
            assert_int_equal(m.der.p[0], BASE_DER_APP(a));
            app = 0;
            TU_OK(kerb_dec_enc_kdc_rep_part(m.der, &d, &app));
            assert_int_equal(app, a);
            check_enc_part_eq(&e, &d, m.der);
            ENCODE(&again, kerb_enc_enc_kdc_rep_part(&W, &d, app));
            assert_true(base_der_eq(again.der, m.der));
            assert_int_equal(dec_and_reencode(K_ENC_KDC_REP, m.der), 0);
            if (full) {
                /* encrypted-pa-data feeds kerb_dec_padata_seq as is. */
                TU_OK(kerb_dec_padata_seq(d.enc_padata, pa, 2, &n));
                assert_int_equal(n, 1);
                assert_int_equal(pa[0].type, 149);
            }
        }
    }
    ENCODE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
               kerb_enc_enc_kdc_rep_part(&W, &e, 27));
    /* Nonces across 2^31. */
    e.nonce = 0x80000001u;
    ENCODE(&m, kerb_enc_enc_kdc_rep_part(&W, &e, 25));
    TU_OK(kerb_dec_enc_kdc_rep_part(m.der, &d, &app));
    assert_int_equal(d.nonce, 0x80000001u);
}

static void
test_enc_kdc_rep_part_strict(void **state)
{
    static const uint8_t bad_lr[] = {0x30, 0x0a, 0xa0, 0x03, 0x02, 0x01,
                                     0x00, 0xa1, 0x03, 0x02, 0x01, 0x00};
    static kerb_enc_kdc_rep_part e, d;
    static enc m, alt, encpa;
    unsigned app = 99;
    parts p;

    (void)state;
    sample_enc_part(&e, true, &encpa);
    ENCODE(&m, kerb_enc_enc_kdc_rep_part(&W, &e, 25));
    /* Other tags: EncAPRepPart (27), EncTicketPart (3), a bare SEQUENCE. */
    split(m.der, &p);
    for (unsigned a = 0; a <= 30; a++) {
        if (a == 25 || a == 26)
            continue;
        p.app = a;
        join(&p, &alt);
        TU_ERR(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app),
               HSMSSP_ERR_BAD_TOKEN);
        assert_int_equal(app, 0);
    }
    /* Each required field. */
    static const unsigned req[] = {0, 1, 2, 4, 5, 7, 9, 10};
    for (size_t i = 0; i < BASE_ARRAY_LEN(req); i++) {
        split(m.der, &p);
        drop(&p, idx(&p, req[i]));
        join(&p, &alt);
        TU_ERR(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app),
               HSMSSP_ERR_BAD_TOKEN);
    }
    /* Each optional field may go. */
    static const unsigned opt[] = {3, 6, 8, 11, 12};
    for (size_t i = 0; i < BASE_ARRAY_LEN(opt); i++) {
        split(m.der, &p);
        drop(&p, idx(&p, opt[i]));
        join(&p, &alt);
        TU_OK(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app));
    }
    /* LastReq entries are checked; an empty LastReq is read. */
    split(m.der, &p);
    p.f[1] = fld_wrap(1, base_der_view(bad_lr, sizeof(bad_lr)));
    join(&p, &alt);
    TU_ERR(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app), HSMSSP_ERR_BAD_TOKEN);
    p.f[1] = fld(1, BASE_DER_SEQUENCE, NULL, 0);
    join(&p, &alt);
    TU_OK(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app));
    assert_int_equal(d.last_req.len, 0);
    /* HostAddresses: a HostAddress without its address is refused. */
    split(m.der, &p);
    p.f[idx(&p, 11)] =
        fld(11, BASE_DER_SEQUENCE, "\x30\x05\xa0\x03\x02\x01\x02", 7);
    join(&p, &alt);
    TU_ERR(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app), HSMSSP_ERR_BAD_TOKEN);
    /* encrypted-pa-data: PA-DATA shape, its count bound, an empty one. */
    split(m.der, &p);
    p.f[idx(&p, 12)] =
        fld(12, BASE_DER_SEQUENCE, "\x30\x05\xa1\x03\x02\x01\x02", 7);
    join(&p, &alt);
    TU_ERR(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app), HSMSSP_ERR_BAD_TOKEN);
    p.f[idx(&p, 12)] = fld(12, BASE_DER_SEQUENCE, NULL, 0);
    join(&p, &alt);
    TU_OK(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app));
    assert_true(d.has_enc_padata);
    assert_int_equal(d.enc_padata.len, 2);
    {
        kerb_pa_data many[KERB_MAX_PADATA + 1];
        static enc list;

        for (size_t i = 0; i < BASE_ARRAY_LEN(many); i++) {
            many[i].type = 1;
            many[i].value = base_der_view(NULL, 0);
        }
        ENCODE(&list, kerb_enc_padata_seq(&W, many, KERB_MAX_PADATA + 1));
        p.f[idx(&p, 12)] = fld_wrap(12, list.der);
        join(&p, &alt);
        TU_ERR(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app), HSMSSP_ERR_LIMIT);
    }
    /* Extensions after [12] are skipped; [12] twice is not. */
    split(m.der, &p);
    put(&p, p.n, fld_int(13, 0));
    join(&p, &alt);
    TU_OK(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app));
    check_enc_part_eq(&e, &d, alt.der);
    split(m.der, &p);
    put(&p, p.n, p.f[idx(&p, 12)]);
    join(&p, &alt);
    TU_ERR(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app), HSMSSP_ERR_BAD_TOKEN);
    /* NUL in srealm; a key that is not an EncryptionKey. */
    split(m.der, &p);
    p.f[idx(&p, 9)] = fld(9, BASE_DER_GENERAL_STRING, "R\0", 2);
    join(&p, &alt);
    TU_ERR(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app), HSMSSP_ERR_BAD_TOKEN);
    split(m.der, &p);
    p.f[0] = fld(0, BASE_DER_OCTET_STRING, keybytes, 32);
    join(&p, &alt);
    TU_ERR(kerb_dec_enc_kdc_rep_part(alt.der, &d, &app), HSMSSP_ERR_BAD_TOKEN);
}

/* ---- KRB-CRED, EncKrbCredPart ---------------------------------------- */

static void
test_krb_cred(void **state)
{
    static kerb_krb_cred c;
    static kerb_enc_cred_part cp;
    static enc m, again;
    kerb_cred_info ci;

    (void)state;
    make_tickets();
    ENCODE(&m, kerb_enc_krb_cred(&W, tkt1.der, &ed_b));
    TU_OK(kerb_dec_cred(m.der, &c));
    assert_int_equal(c.n_tickets, 1);
    assert_true(base_der_eq(c.tickets[0].whole, tkt1.der));
    assert_princ(&c.tickets[0].sname, &krbtgt);
    assert_enc_data(&c.enc, &ed_b);
    assert_int_equal(dec_and_reencode(K_CRED, m.der), 0);

    /* Every KrbCredInfo field, then none but the key; with and without
     * a timestamp. */
    for (int full = 1; full >= 0; full--) {
        for (int ts = 0; ts <= 1; ts++) {
            memset(&ci, 0, sizeof(ci));
            ci.key.etype = 18;
            ci.key.value = base_der_view(keybytes, 32);
            if (full) {
                ci.has_prealm = ci.has_pname = ci.has_flags = true;
                ci.has_authtime = ci.has_starttime = ci.has_endtime = true;
                ci.has_renew_till = ci.has_srealm = ci.has_sname = true;
                ci.prealm = realm;
                ci.pname = alice;
                ci.flags = KERB_TKT_FORWARDED | KERB_TKT_FORWARDABLE;
                ci.authtime = 1700000000;
                ci.starttime = 1700000001;
                ci.endtime = 1700036000;
                ci.renew_till = 1700086400;
                ci.srealm = realm;
                ci.sname = krbtgt;
            }
            ENCODE(&m, kerb_enc_enc_cred_part(&W, &ci, ts, 1700000123,
                                              ts ? 999999 : 0));
            TU_OK(kerb_dec_enc_cred_part(m.der, &cp));
            assert_int_equal(cp.n_info, 1);
            assert_int_equal(cp.info[0].key.etype, 18);
            assert_view(cp.info[0].key.value, keybytes, 32);
            assert_true(inside(m.der, cp.info[0].key.value));
            assert_int_equal(cp.info[0].has_pname, full);
            assert_int_equal(cp.info[0].has_sname, full);
            assert_int_equal(cp.info[0].has_renew_till, full);
            if (full) {
                assert_true(base_der_eq(cp.info[0].prealm, realm));
                assert_princ(&cp.info[0].pname, &alice);
                assert_princ(&cp.info[0].sname, &krbtgt);
                assert_int_equal(cp.info[0].flags, ci.flags);
                assert_int_equal(cp.info[0].starttime, ci.starttime);
                assert_int_equal(cp.info[0].renew_till, ci.renew_till);
            }
            assert_false(cp.has_nonce);
            assert_int_equal(cp.has_timestamp, ts);
            assert_int_equal(cp.has_usec, ts);
            if (ts) {
                assert_int_equal(cp.timestamp, 1700000123);
                assert_int_equal(cp.usec, 999999);
            }
            ENCODE(&again,
                   kerb_enc_enc_cred_part(&W, &cp.info[0], cp.has_timestamp,
                                          cp.timestamp, cp.usec));
            assert_true(base_der_eq(again.der, m.der));
            assert_int_equal(dec_and_reencode(K_ENC_CRED, m.der), 0);
        }
    }
    ENCODE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
               kerb_enc_enc_cred_part(&W, &ci, true, 1700000000, 1000000));
}

/* ---- sweeps ------------------------------------------------------------ */

typedef struct sample {
    const char *name;
    kind k;
    enc e;
} sample;

static sample *samples;
static size_t n_samples;

/* Every message of the round-trip tests, in one table. */
static void
make_samples(void)
{
    static kerb_kdc_rep r;
    static kerb_enc_kdc_rep_part ep;
    static enc body, encpa;
    kerb_pa_data pa[2];
    kerb_etype_info2 ei[2];
    kerb_kdc_req q;
    kerb_cred_info ci;
    base_der ad[1];
    size_t i = 0;

    make_tickets();
    n_samples = 12;
    samples = calloc(n_samples, sizeof(*samples));
    assert_non_null(samples);
    sample_as_req(&q, pa, true);
    samples[i] = (sample){"AS-REQ", K_KDC_REQ, {{0}, {0}}};
    encode_req(&q, &body, &samples[i++].e);
    q.msg_type = KERB_MSG_TGS_REQ;
    ad[0] = tkt2.der;
    q.additional = ad;
    q.n_additional = 1;
    samples[i] = (sample){"TGS-REQ", K_KDC_REQ, {{0}, {0}}};
    encode_req(&q, &body, &samples[i++].e);
    samples[i] = (sample){"PA-ENC-TS-ENC", K_PA_ENC_TS, {{0}, {0}}};
    ENCODE(&samples[i++].e, kerb_enc_pa_enc_ts(&W, 1700000000, 123456));
    samples[i] = (sample){"METHOD-DATA", K_PADATA, {{0}, {0}}};
    ENCODE(&samples[i++].e, kerb_enc_padata_seq(&W, pa, 2));
    memset(ei, 0, sizeof(ei));
    ei[0].etype = 18;
    ei[0].has_salt = true;
    ei[0].salt = base_der_view("HSMSSP.TESTalice", 16);
    ei[1].etype = 20;
    ei[1].has_s2kparams = true;
    ei[1].s2kparams = base_der_view(s2k, sizeof(s2k));
    samples[i] = (sample){"ETYPE-INFO2", K_ETYPE_INFO2, {{0}, {0}}};
    ENCODE(&samples[i++].e, kerb_enc_etype_info2(&W, ei, 2));
    sample_rep(&r, KERB_MSG_AS_REP, 2);
    samples[i] = (sample){"AS-REP", K_KDC_REP, {{0}, {0}}};
    ENCODE(&samples[i++].e, kerb_enc_kdc_rep(&W, &r));
    sample_rep(&r, KERB_MSG_TGS_REP, 0);
    samples[i] = (sample){"TGS-REP", K_KDC_REP, {{0}, {0}}};
    ENCODE(&samples[i++].e, kerb_enc_kdc_rep(&W, &r));
    sample_enc_part(&ep, true, &encpa);
    samples[i] = (sample){"EncASRepPart", K_ENC_KDC_REP, {{0}, {0}}};
    ENCODE(&samples[i++].e, kerb_enc_enc_kdc_rep_part(&W, &ep, 25));
    sample_enc_part(&ep, false, &encpa);
    samples[i] = (sample){"EncTGSRepPart", K_ENC_KDC_REP, {{0}, {0}}};
    ENCODE(&samples[i++].e, kerb_enc_enc_kdc_rep_part(&W, &ep, 26));
    samples[i] = (sample){"KRB-CRED", K_CRED, {{0}, {0}}};
    ENCODE(&samples[i++].e, kerb_enc_krb_cred(&W, tkt1.der, &ed_a));
    memset(&ci, 0, sizeof(ci));
    ci.key.etype = 17;
    ci.key.value = base_der_view(keybytes, 16);
    ci.has_pname = ci.has_prealm = ci.has_endtime = true;
    ci.pname = alice;
    ci.prealm = realm;
    ci.endtime = 1700036000;
    samples[i] = (sample){"EncKrbCredPart", K_ENC_CRED, {{0}, {0}}};
    ENCODE(&samples[i++].e, kerb_enc_enc_cred_part(&W, &ci, true, 17, 1));
    samples[i] =
        (sample){"EncKrbCredPart (no timestamp)", K_ENC_CRED, {{0}, {0}}};
    ENCODE(&samples[i++].e, kerb_enc_enc_cred_part(&W, &ci, false, 0, 0));
    assert_int_equal(i, n_samples);
}

/* Every prefix of every sample, on a heap copy of exactly that size, is
 * refused (the outer element no longer fits), as is the message with one
 * byte appended. */
static void
test_truncation(void **state)
{
    size_t total = 0;

    (void)state;
    make_samples();
    for (size_t s = 0; s < n_samples; s++) {
        base_der der = samples[s].e.der;

        TU_OK(dec_and_reencode(samples[s].k, der));
        for (size_t len = 0; len < der.len; len++) {
            uint8_t *copy = malloc(len ? len : 1);
            hsmssp_err ret;

            assert_non_null(copy);
            memcpy(copy, der.p, len);
            ret = dec_and_reencode(samples[s].k, base_der_view(copy, len));
            if (ret != HSMSSP_ERR_BAD_TOKEN)
                fail_msg("%s cut to %zu of %zu bytes: %s", samples[s].name,
                         len, der.len, hsmssp_err_name(ret));
            free(copy);
            total++;
        }
        {
            uint8_t *copy = malloc(der.len + 1);

            assert_non_null(copy);
            memcpy(copy, der.p, der.len);
            copy[der.len] = 0;
            TU_ERR(dec_and_reencode(samples[s].k,
                                    base_der_view(copy, der.len + 1)),
                   HSMSSP_ERR_BAD_TOKEN);
            free(copy);
        }
    }
    print_message("%zu truncations of %zu messages refused\n", total,
                  n_samples);
    free(samples);
}

/* Every byte of every sample set to each of a few values: the decoder
 * answers OK, BAD_TOKEN or LIMIT, and what it accepts re-encodes to the
 * same fields (dec_and_reencode asserts that). */
static void
test_mutations(void **state)
{
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    size_t ok = 0, refused = 0;

    (void)state;
    make_samples();
    for (size_t s = 0; s < n_samples; s++) {
        base_der der = samples[s].e.der;
        uint8_t *copy = malloc(der.len);

        assert_non_null(copy);
        for (size_t pos = 0; pos < der.len; pos++) {
            for (size_t v = 0; v < BASE_ARRAY_LEN(values) + 1; v++) {
                hsmssp_err ret;

                memcpy(copy, der.p, der.len);
                /* The last variant flips the lowest bit. */
                copy[pos] = v < BASE_ARRAY_LEN(values)
                                ? values[v]
                                : (uint8_t)(der.p[pos] ^ 1);
                if (copy[pos] == der.p[pos])
                    continue;
                ret = dec_and_reencode(samples[s].k,
                                       base_der_view(copy, der.len));
                if (ret != HSMSSP_OK && ret != HSMSSP_ERR_BAD_TOKEN &&
                    ret != HSMSSP_ERR_LIMIT)
                    fail_msg("%s byte %zu: %s", samples[s].name, pos,
                             hsmssp_err_name(ret));
                if (ret == HSMSSP_OK)
                    ok++;
                else
                    refused++;
            }
        }
        free(copy);
    }
    print_message("mutations: %zu accepted (and re-encoded), %zu refused\n",
                  ok, refused);
    /* Changes inside values (cipher bytes, key bytes) stay valid; changes
     * to structure do not: both kinds must occur. */
    assert_true(ok > 100);
    assert_true(refused > 1000);
    free(samples);
}

/* ---- realms ------------------------------------------------------------- */

static void
test_realm_eq(void **state)
{
    (void)state;
    assert_true(kerb_realm_eq(realm, REALM));
    assert_false(kerb_realm_eq(realm, "hsmssp.test"));
    assert_false(kerb_realm_eq(realm, "HSMSSP.TES"));
    assert_false(kerb_realm_eq(realm, REALM "."));
    assert_false(kerb_realm_eq(realm, ""));
    assert_false(kerb_realm_eq(realm, NULL));
    assert_true(kerb_realm_eq(base_der_view(NULL, 0), ""));
    assert_false(kerb_realm_eq(base_der_view("A\0B", 3), "A"));
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup(f, reset_arena)
    const struct CMUnitTest tests[] = {
        T(test_kdc_req_roundtrip),
        T(test_kdc_req_nonce),
        T(test_kdc_req_limits),
        T(test_kdc_req_strict),
        T(test_pa_enc_ts),
        T(test_padata_seq),
        T(test_etype_info2),
        T(test_kdc_rep_roundtrip),
        T(test_kdc_rep_strict),
        T(test_enc_kdc_rep_part),
        T(test_enc_kdc_rep_part_strict),
        T(test_krb_cred),
        T(test_truncation),
        T(test_mutations),
        T(test_realm_eq),
    };
#undef T
    return cmocka_run_group_tests(tests, setup, NULL);
}
