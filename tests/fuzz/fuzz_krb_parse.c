/*
 * tests/fuzz/fuzz_krb_parse.c - libFuzzer target over every Kerberos
 * parser an attacker reaches before a key is used, plus the plaintext
 * decoders "as if decrypted": base/der.c and provider/kerberos/
 * kerb_asn1.c, kerb_gss.c.
 *
 * Why: an AcceptSecurityContext caller hands hsmssp whatever a network
 * peer sent.  The RFC 2743 framing, the AP-REQ with its Ticket, and the
 * KRB-CRED in a delegation checksum are parsed from hostile bytes; the
 * EncTicketPart, Authenticator, EncAPRepPart and EncKrbCredPart are
 * parsed after an integrity check, but a peer holding a session key (any
 * client) controls their bytes too.  Each must give a result or a clean
 * error for every byte string, never a crash, an over-read or a view
 * outside its input.
 *
 * Input: krbparse.h (byte 0 selects the parser).  Invariants checked on
 * every input, beyond "no crash, no leak, no undefined behaviour":
 *  - every result is OK, BAD_TOKEN or LIMIT (unparse: BUFFER_TOO_SMALL);
 *  - every view a decoder returns lies inside the input;
 *  - KerberosStrings the decoders promise to check hold no NUL; name
 *    component counts and microseconds are within their bounds; times
 *    are not before 1970;
 *  - decoded principals unparse within the exact buffer size (one byte
 *    less gives BUFFER_TOO_SMALL and an empty string) and parse back to
 *    the same components and realm;
 *  - re-encoding: AP-REQ, AP-REP, KRB-ERROR, EncAPRepPart and
 *    Authenticator are encoded again from what was decoded; the result
 *    decodes to the same fields, and equals the input byte for byte
 *    unless the input used one of the documented tolerances (extension
 *    fields past the last known one, a negative UInt32, KerberosFlags
 *    longer than 32 bits);
 *  - framing: a token with the standard OID re-frames to itself; the
 *    0x8003 checksum without extensions rebuilds to itself;
 *  - AuthorizationData: kerb_authz_find succeeds only where iteration
 *    does, and counts at least the top-level matches;
 *  - base_der_check: a result at one depth bound is consistent with the
 *    result at the largest bound.
 *
 * Every KerberosString the decoders return, the realms of KRB-ERROR and
 * KrbCredInfo included, is NUL-free (kerb_asn1.c get_string_opt; the
 * first fuzz runs found those realms unchecked, the seeds
 * regress-krb-error-nul-crealm and regress-enc-cred-nul-prealm keep them).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "krbparse.h"
#include "provider/kerberos/kerb_asn1.h"
#include "provider/kerberos/kerb_gss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The current parser input: every view must lie inside it. */
static base_der kp_in;

/* ---- generic checks -------------------------------------------------- */

static bool
inside(base_der outer, base_der v)
{
    uintptr_t o = (uintptr_t)outer.p, p = (uintptr_t)v.p;

    if (v.p == NULL)
        return v.len == 0;
    return p >= o && v.len <= outer.len && p - o <= outer.len - v.len;
}

#define IN(v)                                                                 \
    FUZZ_CHECK(inside(kp_in, (v)), "view %s (%zu bytes) outside the input",   \
               #v, (size_t)(v).len)

/* A decoder's result: OK or one of the parse errors. */
static void
check_err(hsmssp_err ret, const char *what)
{
    FUZZ_CHECK(ret == HSMSSP_OK || ret == HSMSSP_ERR_BAD_TOKEN ||
                   ret == HSMSSP_ERR_LIMIT,
               "%s: unexpected %s (%s)", what, hsmssp_err_name(ret),
               hsmssp_last_error_detail());
}

static bool
has_nul(base_der s)
{
    return s.len > 0 && memchr(s.p, 0, s.len) != NULL;
}

/* A KerberosString the decoder has checked (get_string in kerb_asn1.c). */
static void
check_kstring(base_der s)
{
    IN(s);
    FUZZ_CHECK(!has_nul(s), "NUL in a checked KerberosString");
}

static void
check_time(int64_t t)
{
    FUZZ_CHECK(t >= 0, "KerberosTime %lld before 1970", (long long)t);
}

/* Unparses p@realm: the exact size works, one byte less does not, and the
 * text parses back to the same name.  realm_checked: the decoder
 * promised a NUL-free realm. */
static void
check_principal(const kerb_principal *p, base_der realm, bool realm_checked)
{
    size_t cap = 2, n;
    char *text, *storage;
    kerb_principal back;
    base_der back_realm;
    hsmssp_err ret;

    FUZZ_CHECK(p->n >= 1 && p->n <= KERB_MAX_COMPONENTS, "%zu name components",
               p->n);
    for (size_t i = 0; i < p->n; i++) {
        check_kstring(p->comp[i]);
        cap += 2 * p->comp[i].len + 1;
    }
    IN(realm);
    if (realm_checked)
        FUZZ_CHECK(!has_nul(realm), "NUL in a checked realm");
    else
        FUZZ_CHECK(!has_nul(realm), "NUL in a realm");
    if (has_nul(realm))
        return; /* unparse would cut the text short: see above */
    cap += 2 * realm.len;
    text = malloc(cap);
    FUZZ_CHECK(text != NULL, "out of memory");
    ret = kerb_principal_unparse(p, realm, text, cap);
    FUZZ_CHECK(ret == HSMSSP_OK, "unparse into %zu bytes: %s", cap,
               hsmssp_err_name(ret));
    n = strlen(text);
    FUZZ_CHECK(n < cap, "unparse overran");
    /* The exact size fits; one byte less is refused and leaves "". */
    storage = malloc(n + 1);
    FUZZ_CHECK(storage != NULL, "out of memory");
    ret = kerb_principal_unparse(p, realm, storage, n + 1);
    FUZZ_CHECK(ret == HSMSSP_OK && strcmp(storage, text) == 0,
               "unparse into the exact size: %s", hsmssp_err_name(ret));
    if (n > 0) {
        ret = kerb_principal_unparse(p, realm, storage, n);
        FUZZ_CHECK(ret == HSMSSP_ERR_BUFFER_TOO_SMALL && storage[0] == '\0',
                   "unparse into one byte too few: %s", hsmssp_err_name(ret));
    }
    /* Round trip: parse refuses only an empty first component. */
    ret = kerb_principal_parse(text, p->type, storage, &back, &back_realm);
    if (p->comp[0].len == 0) {
        FUZZ_CHECK(ret != HSMSSP_OK, "empty first component parsed");
    } else {
        FUZZ_CHECK(ret == HSMSSP_OK, "unparsed name does not parse: %s",
                   hsmssp_last_error_detail());
        FUZZ_CHECK(kerb_principal_eq(p, &back) && back.type == p->type &&
                       base_der_eq(realm, back_realm),
                   "name changed in an unparse/parse round trip");
    }
    free(storage);
    free(text);
}

static void
check_enc_data(const kerb_enc_data *ed)
{
    IN(ed->cipher);
    FUZZ_CHECK(ed->has_kvno || ed->kvno == 0, "kvno without has_kvno");
}

static void
check_key(const kerb_key *k)
{
    IN(k->value);
}

static bool
key_eq(const kerb_key *a, const kerb_key *b)
{
    return a->etype == b->etype && base_der_eq(a->value, b->value);
}

static bool
enc_data_eq(const kerb_enc_data *a, const kerb_enc_data *b)
{
    return a->etype == b->etype && a->has_kvno == b->has_kvno &&
           a->kvno == b->kvno && base_der_eq(a->cipher, b->cipher);
}

static bool
principal_eq(const kerb_principal *a, const kerb_principal *b)
{
    return a->type == b->type && kerb_principal_eq(a, b);
}

/* ---- re-encoding ------------------------------------------------------ */

/* The top-level fields of [APPLICATION n] SEQUENCE { ... } in in (which
 * decoded): the largest context tag number, and the contents of the
 * element inside field want (empty view when absent). */
static unsigned
top_fields(base_der in, unsigned want, base_der *field_out)
{
    base_der body, seq, wrap;
    unsigned tag, max = 0;

    *field_out = base_der_view(NULL, 0);
    if (base_der_get_any(&in, &tag, &body, NULL) != HSMSSP_OK ||
        base_der_get(&body, BASE_DER_SEQUENCE, &seq, NULL) != HSMSSP_OK)
        return 0;
    while (seq.len > 0) {
        if (base_der_get_any(&seq, &tag, &wrap, NULL) != HSMSSP_OK)
            break;
        if ((tag & 0x1fu) > max)
            max = tag & 0x1fu;
        if ((tag & 0x1fu) == want &&
            base_der_get_any(&wrap, &tag, field_out, NULL) != HSMSSP_OK)
            *field_out = base_der_view(NULL, 0);
    }
    return max;
}

/* A writer over a fresh buffer with room for a re-encoding: a negative
 * UInt32 grows by one octet, which may lengthen a few headers. */
static uint8_t *
writer(base_der_w *w, size_t in_len)
{
    uint8_t *buf = malloc(in_len + 64);

    FUZZ_CHECK(buf != NULL, "out of memory");
    base_der_w_init(w, buf, in_len + 64);
    return buf;
}

static base_der
finish(const base_der_w *w, const char *what)
{
    base_der out;
    hsmssp_err ret = base_der_w_finish(w, &out);

    FUZZ_CHECK(ret == HSMSSP_OK, "re-encoding %s: %s (%s)", what,
               hsmssp_err_name(ret), hsmssp_last_error_detail());
    return out;
}

/* The re-encoding differs from the input: acceptable only for a
 * documented tolerance of the decoder. */
static void
check_same_bytes(base_der in, base_der out, bool tolerated, const char *what)
{
    FUZZ_CHECK(base_der_eq(in, out) || tolerated,
               "%s re-encodes to different bytes (%zu -> %zu) without a "
               "tolerated reason",
               what, in.len, out.len);
}

/* ---- the parsers ------------------------------------------------------ */

static void do_cred(base_der in);
static void do_authz(base_der in);

static void
check_ticket(const kerb_ticket *t)
{
    IN(t->whole);
    check_kstring(t->realm);
    check_principal(&t->sname, t->realm, true);
    check_enc_data(&t->enc);
}

static void
do_ticket(base_der in)
{
    kerb_ticket t, t2;
    hsmssp_err ret = kerb_dec_ticket(in, &t);

    check_err(ret, "kerb_dec_ticket");
    if (ret != HSMSSP_OK)
        return;
    FUZZ_CHECK(t.whole.p == in.p && t.whole.len == in.len,
               "Ticket.whole is not the whole input");
    check_ticket(&t);
    /* Decoding is a function of the bytes alone. */
    ret = kerb_dec_ticket(t.whole, &t2);
    FUZZ_CHECK(ret == HSMSSP_OK && base_der_eq(t.realm, t2.realm) &&
                   principal_eq(&t.sname, &t2.sname) &&
                   enc_data_eq(&t.enc, &t2.enc),
               "Ticket decodes differently the second time");
}

static void
do_ap_req(base_der in)
{
    kerb_ap_req r, r2;
    base_der_w w;
    base_der out, opts;
    uint8_t *buf;
    bool tolerated;
    hsmssp_err ret = kerb_dec_ap_req(in, &r);

    check_err(ret, "kerb_dec_ap_req");
    if (ret != HSMSSP_OK)
        return;
    check_ticket(&r.ticket);
    check_enc_data(&r.auth);
    /* The ticket inside decodes on its own to the same fields (the
     * acceptor keeps Ticket.whole, e.g. for a delegated TGT). */
    do_ticket(r.ticket.whole);
    buf = writer(&w, in.len);
    kerb_enc_ap_req(&w, r.options, r.ticket.whole, &r.auth);
    out = finish(&w, "AP-REQ");
    ret = kerb_dec_ap_req(out, &r2);
    FUZZ_CHECK(ret == HSMSSP_OK && r2.options == r.options &&
                   base_der_eq(r2.ticket.whole, r.ticket.whole) &&
                   enc_data_eq(&r2.auth, &r.auth),
               "re-encoded AP-REQ decodes to other fields");
    tolerated = top_fields(in, 2, &opts) > 4 ||
                (r.auth.has_kvno && r.auth.kvno >= 0x80000000u) ||
                opts.len != 5 || opts.p[0] != 0;
    check_same_bytes(in, out, tolerated, "AP-REQ");
    free(buf);
}

static void
do_ap_rep(base_der in)
{
    kerb_ap_rep r, r2;
    base_der_w w;
    base_der out, unused;
    uint8_t *buf;
    hsmssp_err ret = kerb_dec_ap_rep(in, &r);

    check_err(ret, "kerb_dec_ap_rep");
    if (ret != HSMSSP_OK)
        return;
    check_enc_data(&r.enc);
    buf = writer(&w, in.len);
    kerb_enc_ap_rep(&w, &r.enc);
    out = finish(&w, "AP-REP");
    ret = kerb_dec_ap_rep(out, &r2);
    FUZZ_CHECK(ret == HSMSSP_OK && enc_data_eq(&r.enc, &r2.enc),
               "re-encoded AP-REP decodes to other fields");
    check_same_bytes(in, out,
                     top_fields(in, 0, &unused) > 2 ||
                         (r.enc.has_kvno && r.enc.kvno >= 0x80000000u),
                     "AP-REP");
    free(buf);
}

static bool
error_eq(const kerb_error *a, const kerb_error *b)
{
    return a->has_ctime == b->has_ctime && a->ctime == b->ctime &&
           a->has_cusec == b->has_cusec && a->cusec == b->cusec &&
           a->stime == b->stime && a->susec == b->susec &&
           a->code == b->code && a->has_crealm == b->has_crealm &&
           base_der_eq(a->crealm, b->crealm) && a->has_cname == b->has_cname &&
           (!a->has_cname || principal_eq(&a->cname, &b->cname)) &&
           base_der_eq(a->realm, b->realm) &&
           principal_eq(&a->sname, &b->sname) &&
           a->has_etext == b->has_etext && base_der_eq(a->etext, b->etext) &&
           a->has_edata == b->has_edata && base_der_eq(a->edata, b->edata);
}

static void
do_error(base_der in)
{
    kerb_error e, e2;
    base_der_w w;
    base_der out, unused;
    uint8_t *buf;
    hsmssp_err ret = kerb_dec_error(in, &e);

    check_err(ret, "kerb_dec_error");
    if (ret != HSMSSP_OK)
        return;
    FUZZ_CHECK(e.susec >= 0 && e.susec <= 999999 &&
                   (!e.has_cusec || (e.cusec >= 0 && e.cusec <= 999999)),
               "microseconds out of range");
    check_time(e.stime);
    if (e.has_ctime)
        check_time(e.ctime);
    check_kstring(e.realm);
    check_principal(&e.sname, e.realm, true);
    IN(e.crealm);
    if (e.has_cname)
        check_principal(&e.cname, e.crealm, false);
    IN(e.etext);
    IN(e.edata);
    buf = writer(&w, in.len);
    kerb_enc_error(&w, &e);
    out = finish(&w, "KRB-ERROR");
    ret = kerb_dec_error(out, &e2);
    FUZZ_CHECK(ret == HSMSSP_OK && error_eq(&e, &e2),
               "re-encoded KRB-ERROR decodes to other fields");
    check_same_bytes(in, out, top_fields(in, 0, &unused) > 12, "KRB-ERROR");
    free(buf);
}

static void
do_cred(base_der in)
{
    kerb_krb_cred c;
    hsmssp_err ret = kerb_dec_cred(in, &c);

    check_err(ret, "kerb_dec_cred");
    if (ret != HSMSSP_OK)
        return;
    FUZZ_CHECK(c.n_tickets <= KERB_MAX_CRED_TICKETS, "%zu tickets",
               c.n_tickets);
    for (size_t i = 0; i < c.n_tickets; i++)
        check_ticket(&c.tickets[i]);
    check_enc_data(&c.enc);
}

static void
do_etypes(base_der in)
{
    int32_t few[4], many[64];
    size_t n_few = 0, n_many = 0;
    hsmssp_err r1, r2;

    r1 = kerb_dec_etype_list(in, few, BASE_ARRAY_LEN(few), &n_few);
    check_err(r1, "kerb_dec_etype_list");
    r2 = kerb_dec_etype_list(in, many, BASE_ARRAY_LEN(many), &n_many);
    /* The bound only cuts the output; validity does not depend on it. */
    FUZZ_CHECK(r1 == r2, "EtypeList validity depends on the bound");
    if (r1 != HSMSSP_OK)
        return;
    FUZZ_CHECK(n_few == (n_many < 4 ? n_many : 4) &&
                   memcmp(few, many, n_few * sizeof(few[0])) == 0,
               "EtypeList cut badly: %zu of %zu", n_few, n_many);
}

/* One kerb_authz_find() against plain iteration. */
static void
authz_find_one(base_der authz, int32_t want)
{
    base_der data, iter = authz, d;
    bool found = true, done = false;
    size_t count = 99, top = 0;
    int32_t type;
    hsmssp_err ret, it = HSMSSP_OK;

    ret = kerb_authz_find(authz, want, &data, &found, &count);
    check_err(ret, "kerb_authz_find");
    while (it == HSMSSP_OK) {
        it = kerb_authz_next(&iter, &type, &d, &done);
        check_err(it, "kerb_authz_next");
        if (it != HSMSSP_OK || done)
            break;
        IN(d);
        if (type == want)
            top++;
    }
    if (ret != HSMSSP_OK)
        return;
    FUZZ_CHECK(it == HSMSSP_OK, "find succeeded where iteration fails");
    FUZZ_CHECK(found == (count > 0) && count >= top,
               "find: found %d, count %zu, %zu at the top level", found, count,
               top);
    if (found) {
        IN(data);
        if (want == KERB_AD_ETYPE_NEGOTIATION)
            do_etypes(data);
    }
}

static void
do_authz(base_der in)
{
    authz_find_one(in, KERB_AD_WIN2K_PAC);
    authz_find_one(in, KERB_AD_ETYPE_NEGOTIATION);
    authz_find_one(in, KERB_AD_IF_RELEVANT);
    /* A type the input chooses, so rarer types are counted too. */
    authz_find_one(in, in.len > 0 ? (int32_t)in.p[in.len - 1] : 0);
}

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void
do_cksum(base_der in)
{
    kerb_gss_cksum c;
    uint8_t *buf;
    size_t n = 0;
    hsmssp_err ret = kerb_gss_cksum_parse(in, &c);

    FUZZ_CHECK(ret == HSMSSP_OK || ret == HSMSSP_ERR_BAD_TOKEN,
               "kerb_gss_cksum_parse: %s", hsmssp_err_name(ret));
    if (ret != HSMSSP_OK)
        return;
    FUZZ_CHECK(in.len >= 24 && memcmp(c.bnd, in.p + 4, 16) == 0 &&
                   c.flags == le32(in.p + 20),
               "checksum fields misread");
    FUZZ_CHECK(!c.has_deleg || (c.flags & KERB_GSS_DELEG),
               "delegation without the DELEG flag");
    IN(c.deleg);
    IN(c.exts);
    FUZZ_CHECK(c.exts.p + c.exts.len == in.p + in.len,
               "extensions do not end the checksum");
    if (c.exts.len == 0) {
        /* Without extensions the value is exactly what build writes. */
        buf = malloc(in.len);
        FUZZ_CHECK(buf != NULL, "out of memory");
        /* (The DELEG flag without the fields is what MIT sends when it
         * could not forward: build keeps the flag as given.) */
        ret = kerb_gss_cksum_build(c.bnd, c.flags,
                                   c.has_deleg ? c.deleg.p : NULL, c.deleg.len,
                                   buf, in.len, &n);
        FUZZ_CHECK(ret == HSMSSP_OK && n == in.len &&
                       memcmp(buf, in.p, n) == 0,
                   "0x8003 checksum does not rebuild to itself");
        free(buf);
    }
    if (c.has_deleg)
        do_cred(c.deleg);
}

static void
do_enc_tkt(base_der in)
{
    kerb_enc_ticket_part e;
    hsmssp_err ret = kerb_dec_enc_ticket_part(in, &e);

    check_err(ret, "kerb_dec_enc_ticket_part");
    if (ret != HSMSSP_OK)
        return;
    check_key(&e.key);
    check_kstring(e.crealm);
    check_principal(&e.cname, e.crealm, true);
    IN(e.transited);
    check_time(e.authtime);
    check_time(e.endtime);
    FUZZ_CHECK(e.has_starttime || e.starttime == 0, "starttime");
    FUZZ_CHECK(e.has_renew_till || e.renew_till == 0, "renew-till");
    if (e.has_caddr) {
        IN(e.caddr);
        FUZZ_CHECK(base_der_check(e.caddr, 3) == HSMSSP_OK, "caddr");
    }
    if (e.has_authz) {
        IN(e.authz);
        do_authz(e.authz);
    }
}

static bool
auth_eq(const kerb_authenticator *a, const kerb_authenticator *b)
{
    return base_der_eq(a->crealm, b->crealm) &&
           principal_eq(&a->cname, &b->cname) &&
           a->has_cksum == b->has_cksum && a->cksum.type == b->cksum.type &&
           base_der_eq(a->cksum.value, b->cksum.value) &&
           a->cusec == b->cusec && a->ctime == b->ctime &&
           a->has_subkey == b->has_subkey &&
           (!a->has_subkey || key_eq(&a->subkey, &b->subkey)) &&
           a->has_seq == b->has_seq && a->seq == b->seq &&
           a->has_authz == b->has_authz && base_der_eq(a->authz, b->authz);
}

static void
do_auth(base_der in)
{
    kerb_authenticator a, a2;
    base_der_w w;
    base_der out, unused;
    uint8_t *buf;
    hsmssp_err ret = kerb_dec_authenticator(in, &a);

    check_err(ret, "kerb_dec_authenticator");
    if (ret != HSMSSP_OK)
        return;
    check_kstring(a.crealm);
    check_principal(&a.cname, a.crealm, true);
    FUZZ_CHECK(a.cusec >= 0 && a.cusec <= 999999, "cusec %d", (int)a.cusec);
    check_time(a.ctime);
    if (a.has_cksum) {
        IN(a.cksum.value);
        /* The acceptor parses the 0x8003 value next. */
        if (a.cksum.type == KERB_CKSUM_GSSAPI)
            do_cksum(a.cksum.value);
    }
    if (a.has_subkey)
        check_key(&a.subkey);
    if (a.has_authz) {
        IN(a.authz);
        do_authz(a.authz);
    }
    buf = writer(&w, in.len);
    kerb_enc_authenticator(&w, &a);
    out = finish(&w, "Authenticator");
    ret = kerb_dec_authenticator(out, &a2);
    FUZZ_CHECK(ret == HSMSSP_OK && auth_eq(&a, &a2),
               "re-encoded Authenticator decodes to other fields");
    check_same_bytes(in, out,
                     top_fields(in, 0, &unused) > 8 ||
                         (a.has_seq && a.seq >= 0x80000000u),
                     "Authenticator");
    free(buf);
}

static void
do_enc_ap_rep(base_der in)
{
    kerb_enc_ap_rep_part e, e2;
    base_der_w w;
    base_der out, unused;
    uint8_t *buf;
    hsmssp_err ret = kerb_dec_enc_ap_rep_part(in, &e);

    check_err(ret, "kerb_dec_enc_ap_rep_part");
    if (ret != HSMSSP_OK)
        return;
    check_time(e.ctime);
    FUZZ_CHECK(e.cusec >= 0 && e.cusec <= 999999, "cusec");
    if (e.has_subkey)
        check_key(&e.subkey);
    buf = writer(&w, in.len);
    kerb_enc_enc_ap_rep_part(&w, e.ctime, e.cusec, e.subkey.etype,
                             e.has_subkey ? e.subkey.value.p : NULL,
                             e.subkey.value.len, e.has_seq, e.seq);
    out = finish(&w, "EncAPRepPart");
    ret = kerb_dec_enc_ap_rep_part(out, &e2);
    FUZZ_CHECK(ret == HSMSSP_OK && e.ctime == e2.ctime &&
                   e.cusec == e2.cusec && e.has_subkey == e2.has_subkey &&
                   (!e.has_subkey || key_eq(&e.subkey, &e2.subkey)) &&
                   e.has_seq == e2.has_seq && e.seq == e2.seq,
               "re-encoded EncAPRepPart decodes to other fields");
    check_same_bytes(in, out,
                     top_fields(in, 0, &unused) > 3 ||
                         (e.has_seq && e.seq >= 0x80000000u),
                     "EncAPRepPart");
    free(buf);
}

static void
do_enc_cred(base_der in)
{
    kerb_enc_cred_part p;
    hsmssp_err ret = kerb_dec_enc_cred_part(in, &p);

    check_err(ret, "kerb_dec_enc_cred_part");
    if (ret != HSMSSP_OK)
        return;
    FUZZ_CHECK(p.n_info <= KERB_MAX_CRED_TICKETS, "%zu entries", p.n_info);
    FUZZ_CHECK(!p.has_usec || (p.usec >= 0 && p.usec <= 999999), "usec");
    for (size_t i = 0; i < p.n_info; i++) {
        const kerb_cred_info *ci = &p.info[i];

        check_key(&ci->key);
        IN(ci->prealm);
        IN(ci->srealm);
        FUZZ_CHECK(!has_nul(ci->prealm) && !has_nul(ci->srealm),
                   "NUL in a credential's realm");
        /* What take_delegation() does with the names. */
        if (ci->has_pname)
            check_principal(&ci->pname, ci->prealm, false);
        if (ci->has_sname)
            check_principal(&ci->sname, ci->srealm, false);
        FUZZ_CHECK(ci->has_authtime || ci->authtime == 0, "authtime");
        if (ci->has_endtime)
            check_time(ci->endtime);
    }
}

static void
do_gss(base_der in)
{
    base_der oid, inner, msg, out;
    base_der_w w;
    unsigned id = 0;
    uint8_t *buf;
    hsmssp_err ret = kerb_gss_unframe(in, &oid, &inner);

    FUZZ_CHECK(ret == HSMSSP_OK || ret == HSMSSP_ERR_BAD_TOKEN,
               "kerb_gss_unframe: %s", hsmssp_err_name(ret));
    if (ret != HSMSSP_OK)
        return;
    IN(oid);
    IN(inner);
    FUZZ_CHECK(inner.p + inner.len == in.p + in.len,
               "the inner token does not end the input");
    FUZZ_CHECK(kerb_gss_is_krb5_oid(oid) ==
                   (base_der_eq(oid, base_der_view(kerb_oid_krb5, 9)) ||
                    base_der_eq(oid, base_der_view(kerb_oid_krb5_ms, 9))),
               "OID test");
    ret = kerb_gss_tok_id(inner, &id, &msg);
    FUZZ_CHECK((ret == HSMSSP_OK) == (inner.len >= 2),
               "token id of %zu bytes: %s", inner.len, hsmssp_err_name(ret));
    if (ret != HSMSSP_OK)
        return;
    IN(msg);
    FUZZ_CHECK(msg.len == inner.len - 2 &&
                   id == ((unsigned)inner.p[0] << 8 | inner.p[1]),
               "token id misread");
    if (base_der_eq(oid, base_der_view(kerb_oid_krb5, 9))) {
        /* The acceptor's own framing of the same message is the input. */
        buf = writer(&w, in.len);
        base_der_w_raw(&w, msg.p, msg.len);
        kerb_gss_frame(&w, id);
        out = finish(&w, "GSS framing");
        FUZZ_CHECK(base_der_eq(in, out), "framing does not round-trip");
        free(buf);
    }
    switch (id) {
    case KERB_TOK_AP_REQ:
        do_ap_req(msg);
        break;
    case KERB_TOK_AP_REP:
        do_ap_rep(msg);
        break;
    case KERB_TOK_ERROR:
        do_error(msg);
        break;
    default:
        break;
    }
}

static void
do_der(base_der in)
{
    unsigned depth;
    hsmssp_err at_d, at_max;

    if (in.len == 0)
        return;
    depth = in.p[0] % 66u; /* 65 tests the clamp to 64 */
    in = base_der_view(in.p + 1, in.len - 1);
    at_d = base_der_check(in, depth);
    at_max = base_der_check(in, 64);
    check_err(at_d, "base_der_check");
    check_err(at_max, "base_der_check");
    /* A smaller bound can only add a LIMIT failure. */
    FUZZ_CHECK(at_d != HSMSSP_OK || at_max == HSMSSP_OK,
               "valid at depth %u, invalid at 64", depth);
    FUZZ_CHECK(at_max != HSMSSP_ERR_BAD_TOKEN || at_d != HSMSSP_OK,
               "malformed at 64, valid at depth %u", depth);
    FUZZ_CHECK(at_d != HSMSSP_ERR_LIMIT || depth < 64,
               "LIMIT at the largest bound");
}

static void
run(enum kp_sel sel, base_der in)
{
    kp_in = in;
    switch (sel) {
    case KP_ALL:
        for (int s = KP_ALL + 1; s < KP_N; s++)
            if (s != KP_DER)
                run((enum kp_sel)s, in);
        break;
    case KP_GSS:
        do_gss(in);
        break;
    case KP_AP_REQ:
        do_ap_req(in);
        break;
    case KP_AP_REP:
        do_ap_rep(in);
        break;
    case KP_ERROR:
        do_error(in);
        break;
    case KP_CRED:
        do_cred(in);
        break;
    case KP_TICKET:
        do_ticket(in);
        break;
    case KP_ENC_TKT:
        do_enc_tkt(in);
        break;
    case KP_AUTH:
        do_auth(in);
        break;
    case KP_ENC_AP_REP:
        do_enc_ap_rep(in);
        break;
    case KP_ENC_CRED:
        do_enc_cred(in);
        break;
    case KP_CKSUM:
        do_cksum(in);
        break;
    case KP_AUTHZ:
        do_authz(in);
        break;
    case KP_ETYPES:
        do_etypes(in);
        break;
    case KP_DER:
        do_der(in);
        break;
    case KP_N:
        break;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    run(kp_selector(data[0]), base_der_view(data + 1, size - 1));
    return 0;
}
