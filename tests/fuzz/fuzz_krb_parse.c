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
 *
 * The KDC exchanges (kerb_asn1_kdc.c, issue #4) add the initiator's
 * hostile inputs: AS-REP and TGS-REP, the METHOD-DATA of a KRB-ERROR's
 * e-data and the ETYPE-INFO2 inside it or inside a reply's padata (each
 * followed into the next as the initiator will), EncASRepPart and
 * EncTGSRepPart "as if decrypted", plus the KDC-REQ and PA-ENC-TS-ENC
 * that hsmssp writes.  Each is re-encoded (kerb_asn1-int.h has the KDC
 * side's encoders) and must decode to the same fields, and to the same
 * bytes unless a tolerance applies (extensions, the other spelling of a
 * nonce or kvno >= 2^31, KerberosFlags longer than 32 bits, HostAddresses
 * in a KDC-REQ, a missing pausec).  KRB-CRED and EncKrbCredPart of the
 * shape hsmssp writes (one ticket, one KrbCredInfo) are re-encoded too.
 * METHOD-DATA and ETYPE-INFO2 are also decoded with a small bound: the
 * bound turns a valid input into LIMIT or keeps it entry for entry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "krbparse.h"
#include "provider/kerberos/kerb_asn1-int.h"
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
static void do_padata(base_der in);
static void do_etype_info2(base_der in);

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
    /* The initiator reads e-data as METHOD-DATA (PREAUTH_REQUIRED). */
    if (e.has_edata)
        do_padata(e.edata);
    buf = writer(&w, in.len);
    kerb_enc_error(&w, &e);
    out = finish(&w, "KRB-ERROR");
    ret = kerb_dec_error(out, &e2);
    FUZZ_CHECK(ret == HSMSSP_OK && error_eq(&e, &e2),
               "re-encoded KRB-ERROR decodes to other fields");
    check_same_bytes(in, out, top_fields(in, 0, &unused) > 12, "KRB-ERROR");
    free(buf);
}

static bool
big_kvno(const kerb_enc_data *e)
{
    return e->has_kvno && e->kvno >= 0x80000000u;
}

static void
do_cred(base_der in)
{
    kerb_krb_cred c, c2;
    base_der_w w;
    base_der out, unused;
    uint8_t *buf;
    hsmssp_err ret = kerb_dec_cred(in, &c);

    check_err(ret, "kerb_dec_cred");
    if (ret != HSMSSP_OK)
        return;
    FUZZ_CHECK(c.n_tickets <= KERB_MAX_CRED_TICKETS, "%zu tickets",
               c.n_tickets);
    for (size_t i = 0; i < c.n_tickets; i++)
        check_ticket(&c.tickets[i]);
    check_enc_data(&c.enc);
    if (c.n_tickets != 1)
        return; /* kerb_enc_krb_cred writes the one-ticket form only */
    buf = writer(&w, in.len);
    kerb_enc_krb_cred(&w, c.tickets[0].whole, &c.enc);
    out = finish(&w, "KRB-CRED");
    ret = kerb_dec_cred(out, &c2);
    FUZZ_CHECK(ret == HSMSSP_OK && c2.n_tickets == 1 &&
                   base_der_eq(c2.tickets[0].whole, c.tickets[0].whole) &&
                   enc_data_eq(&c2.enc, &c.enc),
               "re-encoded KRB-CRED decodes to other fields");
    check_same_bytes(in, out,
                     top_fields(in, 0, &unused) > 3 || big_kvno(&c.enc),
                     "KRB-CRED");
    free(buf);
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

static bool
opt_time_eq(bool ha, int64_t a, bool hb, int64_t b)
{
    return ha == hb && a == b;
}

static bool
cred_info_eq(const kerb_cred_info *a, const kerb_cred_info *b)
{
    return key_eq(&a->key, &b->key) && a->has_prealm == b->has_prealm &&
           base_der_eq(a->prealm, b->prealm) && a->has_pname == b->has_pname &&
           (!a->has_pname || principal_eq(&a->pname, &b->pname)) &&
           a->has_flags == b->has_flags && a->flags == b->flags &&
           opt_time_eq(a->has_authtime, a->authtime, b->has_authtime,
                       b->authtime) &&
           opt_time_eq(a->has_starttime, a->starttime, b->has_starttime,
                       b->starttime) &&
           opt_time_eq(a->has_endtime, a->endtime, b->has_endtime,
                       b->endtime) &&
           opt_time_eq(a->has_renew_till, a->renew_till, b->has_renew_till,
                       b->renew_till) &&
           a->has_srealm == b->has_srealm &&
           base_der_eq(a->srealm, b->srealm) && a->has_sname == b->has_sname &&
           (!a->has_sname || principal_eq(&a->sname, &b->sname));
}

/* The largest context tag of the first element of the SEQUENCE OF in
 * field [0] of an [APPLICATION n] message (the first KrbCredInfo), and
 * whether its flags [3] are other than exactly 32 bits. */
static unsigned
first_info_fields(base_der in, bool *odd_flags)
{
    base_der list, one, wrap, v;
    unsigned tag, max = 0;

    *odd_flags = false;
    (void)top_fields(in, 0, &list);
    if (base_der_get(&list, BASE_DER_SEQUENCE, &one, NULL) != HSMSSP_OK)
        return 0;
    while (one.len > 0 &&
           base_der_get_any(&one, &tag, &wrap, NULL) == HSMSSP_OK) {
        if ((tag & 0x1fu) > max)
            max = tag & 0x1fu;
        if ((tag & 0x1fu) == 3 &&
            base_der_get_any(&wrap, &tag, &v, NULL) == HSMSSP_OK)
            *odd_flags = v.len != 5 || v.p[0] != 0;
    }
    return max;
}

/* EncKrbCredPart in the shape kerb_enc_enc_cred_part writes: one
 * KrbCredInfo, no nonce, usec exactly when timestamp. */
static void
reencode_enc_cred(base_der in, const kerb_enc_cred_part *p)
{
    kerb_enc_cred_part p2;
    base_der_w w;
    base_der out, unused;
    uint8_t *buf;
    bool odd_flags;
    unsigned info_max;
    hsmssp_err ret;

    if (p->n_info != 1 || p->has_nonce || p->has_timestamp != p->has_usec)
        return;
    buf = writer(&w, in.len);
    kerb_enc_enc_cred_part(&w, &p->info[0], p->has_timestamp, p->timestamp,
                           p->usec);
    out = finish(&w, "EncKrbCredPart");
    ret = kerb_dec_enc_cred_part(out, &p2);
    FUZZ_CHECK(ret == HSMSSP_OK && p2.n_info == 1 &&
                   cred_info_eq(&p->info[0], &p2.info[0]) && !p2.has_nonce &&
                   p2.has_timestamp == p->has_timestamp &&
                   p2.timestamp == p->timestamp && p2.usec == p->usec,
               "re-encoded EncKrbCredPart decodes to other fields");
    /* Tolerated: addresses, extensions, caddr in the KrbCredInfo. */
    info_max = first_info_fields(in, &odd_flags);
    check_same_bytes(
        in, out, top_fields(in, 0, &unused) > 3 || info_max > 9 || odd_flags,
        "EncKrbCredPart");
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
    reencode_enc_cred(in, &p);
}

/* ---- the KDC exchanges ------------------------------------------------- */

static bool
pa_eq(const kerb_pa_data *a, const kerb_pa_data *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].type != b[i].type || !base_der_eq(a[i].value, b[i].value))
            return false;
    return true;
}

/* The value of field [n] of a SEQUENCE's contents (the element inside
 * the [n]), or an empty view. */
static base_der
field_value(base_der seq, unsigned n)
{
    base_der wrap, v;
    unsigned tag;

    while (seq.len > 0 &&
           base_der_get_any(&seq, &tag, &wrap, NULL) == HSMSSP_OK)
        if (tag == BASE_DER_CTX(n) &&
            base_der_get_any(&wrap, &tag, &v, NULL) == HSMSSP_OK)
            return v;
    return base_der_view(NULL, 0);
}

/* The contents of the SEQUENCE of [APPLICATION n] SEQUENCE, or of a bare
 * SEQUENCE; empty when in is neither. */
static base_der
seq_contents(base_der in)
{
    base_der rest = in, inner = in, c;
    unsigned tag;

    if (in.len > 0 && (in.p[0] & 0xe0) == 0x60 &&
        base_der_get_any(&rest, &tag, &inner, NULL) != HSMSSP_OK)
        return base_der_view(NULL, 0);
    if (base_der_get(&inner, BASE_DER_SEQUENCE, &c, NULL) != HSMSSP_OK)
        return base_der_view(NULL, 0);
    return c;
}

/* The largest context tag number among the fields of seq's contents. */
static unsigned
max_field(base_der seq)
{
    unsigned tag, max = 0;

    while (seq.len > 0 &&
           base_der_get_any(&seq, &tag, NULL, NULL) == HSMSSP_OK)
        if ((tag & 0x1fu) > max)
            max = tag & 0x1fu;
    return max;
}

/* KerberosFlags other than exactly 32 bits (re-encoded as 32). */
static bool
odd_flags(base_der v)
{
    return v.len != 5 || v.p[0] != 0;
}

/* A UInt32 field spelled other than as the Int32 the encoders write:
 * positive from 2^31 on. */
static bool
positive_big(base_der v)
{
    return v.len == 5 && v.p[0] == 0;
}

static void
do_padata(base_der in)
{
    kerb_pa_data few[4], many[KERB_MAX_PADATA];
    size_t n_few = 99, n_many = 99;
    base_der_w w;
    base_der out;
    uint8_t *buf;
    hsmssp_err r1, r2;

    r1 = kerb_dec_padata_seq(in, few, BASE_ARRAY_LEN(few), &n_few);
    r2 = kerb_dec_padata_seq(in, many, BASE_ARRAY_LEN(many), &n_many);
    check_err(r1, "kerb_dec_padata_seq");
    check_err(r2, "kerb_dec_padata_seq");
    FUZZ_CHECK(r1 == HSMSSP_OK || n_few == 0, "n_out set on failure");
    /* The bound only adds LIMIT, and only past it. */
    if (r2 == HSMSSP_OK)
        FUZZ_CHECK((n_many <= 4 && r1 == HSMSSP_OK && n_few == n_many &&
                    pa_eq(few, many, n_few)) ||
                       (n_many > 4 && r1 == HSMSSP_ERR_LIMIT),
                   "METHOD-DATA under a bound: %s, %zu of %zu",
                   hsmssp_err_name(r1), n_few, n_many);
    else
        FUZZ_CHECK(r1 != HSMSSP_OK, "valid only under the smaller bound");
    if (r2 != HSMSSP_OK)
        return;
    for (size_t i = 0; i < n_many; i++)
        IN(many[i].value);
    /* No optional part and no extension: the same bytes again. */
    buf = writer(&w, in.len);
    kerb_enc_padata_seq(&w, many, n_many);
    out = finish(&w, "METHOD-DATA");
    check_same_bytes(in, out, false, "METHOD-DATA");
    free(buf);
    /* What the initiator does next with a PREAUTH_REQUIRED error. */
    for (size_t i = 0; i < n_many; i++)
        if (many[i].type == KERB_PA_ETYPE_INFO2)
            do_etype_info2(many[i].value);
}

static void
do_etype_info2(base_der in)
{
    kerb_etype_info2 few[2], many[KERB_MAX_ETYPES];
    size_t n_few = 99, n_many = 99;
    base_der_w w;
    base_der out;
    uint8_t *buf;
    hsmssp_err r1, r2;

    r1 = kerb_dec_etype_info2(in, few, BASE_ARRAY_LEN(few), &n_few);
    r2 = kerb_dec_etype_info2(in, many, BASE_ARRAY_LEN(many), &n_many);
    check_err(r1, "kerb_dec_etype_info2");
    check_err(r2, "kerb_dec_etype_info2");
    FUZZ_CHECK(r1 == HSMSSP_OK || n_few == 0, "n_out set on failure");
    if (r2 == HSMSSP_OK)
        FUZZ_CHECK((n_many <= 2 && r1 == HSMSSP_OK && n_few == n_many &&
                    memcmp(few, many, n_few * sizeof(few[0])) == 0) ||
                       (n_many > 2 && r1 == HSMSSP_ERR_LIMIT),
                   "ETYPE-INFO2 under a bound: %s, %zu of %zu",
                   hsmssp_err_name(r1), n_few, n_many);
    else
        FUZZ_CHECK(r1 != HSMSSP_OK, "valid only under the smaller bound");
    if (r2 != HSMSSP_OK)
        return;
    FUZZ_CHECK(n_many >= 1, "empty ETYPE-INFO2 accepted");
    for (size_t i = 0; i < n_many; i++) {
        FUZZ_CHECK(many[i].has_salt || many[i].salt.len == 0, "salt");
        check_kstring(many[i].salt);
        IN(many[i].s2kparams);
        FUZZ_CHECK(many[i].has_s2kparams || many[i].s2kparams.len == 0,
                   "s2kparams");
    }
    buf = writer(&w, in.len);
    kerb_enc_etype_info2(&w, many, n_many);
    out = finish(&w, "ETYPE-INFO2");
    check_same_bytes(in, out, false, "ETYPE-INFO2");
    free(buf);
}

static bool
kdc_req_eq(const kerb_kdc_req *a, const kerb_kdc_req *b)
{
    bool same =
        a->msg_type == b->msg_type && a->n_padata == b->n_padata &&
        pa_eq(a->padata, b->padata, a->n_padata) &&
        a->kdc_options == b->kdc_options && a->has_cname == b->has_cname &&
        (!a->has_cname || principal_eq(&a->cname, &b->cname)) &&
        base_der_eq(a->realm, b->realm) && a->has_sname == b->has_sname &&
        (!a->has_sname || principal_eq(&a->sname, &b->sname)) &&
        opt_time_eq(a->has_from, a->from, b->has_from, b->from) &&
        a->till == b->till &&
        opt_time_eq(a->has_rtime, a->rtime, b->has_rtime, b->rtime) &&
        a->nonce == b->nonce && a->n_etypes == b->n_etypes &&
        memcmp(a->etypes, b->etypes, a->n_etypes * sizeof(a->etypes[0])) ==
            0 &&
        a->has_authz == b->has_authz &&
        (!a->has_authz || enc_data_eq(&a->enc_authz, &b->enc_authz)) &&
        a->n_additional == b->n_additional;

    for (size_t i = 0; same && i < a->n_additional; i++)
        same = base_der_eq(a->additional[i], b->additional[i]);
    return same;
}

static void
do_kdc_req(base_der in)
{
    static kerb_kdc_req_dec d, d2;
    const kerb_kdc_req *r = &d.req;
    base_der_w w, wb;
    base_der out, body, body_seq;
    uint8_t *buf, *bbuf;
    bool tolerated;
    hsmssp_err ret = kerb_dec_kdc_req(in, &d);

    check_err(ret, "kerb_dec_kdc_req");
    if (ret != HSMSSP_OK)
        return;
    FUZZ_CHECK(r->msg_type == KERB_MSG_AS_REQ ||
                   r->msg_type == KERB_MSG_TGS_REQ,
               "msg-type %d", (int)r->msg_type);
    FUZZ_CHECK(r->padata == d.padata && r->etypes == d.etypes &&
                   r->additional == d.additional,
               "KDC-REQ pointers outside the decoded struct");
    FUZZ_CHECK(r->n_padata <= KERB_MAX_PADATA && r->n_etypes >= 1 &&
                   r->n_etypes <= KERB_MAX_ETYPES &&
                   r->n_additional <= KERB_MAX_CRED_TICKETS,
               "KDC-REQ counts %zu %zu %zu", r->n_padata, r->n_etypes,
               r->n_additional);
    IN(d.body);
    check_kstring(r->realm);
    if (r->has_cname)
        check_principal(&r->cname, r->realm, true);
    if (r->has_sname)
        check_principal(&r->sname, r->realm, true);
    check_time(r->till);
    FUZZ_CHECK(r->has_from || r->from == 0, "from");
    FUZZ_CHECK(r->has_rtime || r->rtime == 0, "rtime");
    if (r->has_authz)
        check_enc_data(&r->enc_authz);
    if (d.has_addresses)
        IN(d.addresses);
    for (size_t i = 0; i < r->n_padata; i++) {
        IN(r->padata[i].value);
        /* A KDC parses PA-TGS-REQ as an AP-REQ. */
        if (r->padata[i].type == KERB_PA_TGS_REQ)
            do_ap_req(r->padata[i].value);
    }
    for (size_t i = 0; i < r->n_additional; i++)
        do_ticket(r->additional[i]);
    /* Re-encoding: the body first, the message around it. */
    bbuf = writer(&wb, d.body.len);
    kerb_enc_kdc_req_body(&wb, r);
    body = finish(&wb, "KDC-REQ-BODY");
    buf = writer(&w, in.len);
    kerb_enc_kdc_req(&w, r, body);
    out = finish(&w, "KDC-REQ");
    ret = kerb_dec_kdc_req(out, &d2);
    FUZZ_CHECK(ret == HSMSSP_OK && kdc_req_eq(r, &d2.req) &&
                   base_der_eq(d2.body, body),
               "re-encoded KDC-REQ decodes to other fields");
    body_seq = seq_contents(d.body);
    tolerated = d.has_addresses || d.has_ext ||
                odd_flags(field_value(body_seq, 0)) ||
                positive_big(field_value(body_seq, 7)) ||
                (r->has_authz && big_kvno(&r->enc_authz));
    check_same_bytes(d.body, body, tolerated, "KDC-REQ-BODY");
    check_same_bytes(in, out, tolerated || max_field(seq_contents(in)) > 4,
                     "KDC-REQ");
    free(buf);
    free(bbuf);
}

static void
do_pa_enc_ts(base_der in)
{
    int64_t ts, ts2;
    int32_t us, us2;
    bool has, has2;
    base_der_w w;
    base_der out;
    uint8_t *buf;
    hsmssp_err ret = kerb_dec_pa_enc_ts(in, &ts, &has, &us);

    check_err(ret, "kerb_dec_pa_enc_ts");
    if (ret != HSMSSP_OK) {
        FUZZ_CHECK(ts == 0 && !has && us == 0, "outputs set on failure");
        return;
    }
    check_time(ts);
    FUZZ_CHECK(us >= 0 && us <= 999999 && (has || us == 0), "pausec %d",
               (int)us);
    buf = writer(&w, in.len);
    kerb_enc_pa_enc_ts(&w, ts, us);
    out = finish(&w, "PA-ENC-TS-ENC");
    ret = kerb_dec_pa_enc_ts(out, &ts2, &has2, &us2);
    FUZZ_CHECK(ret == HSMSSP_OK && ts2 == ts && has2 && us2 == us,
               "re-encoded PA-ENC-TS-ENC decodes to other fields");
    /* Tolerated: extensions, and the pausec the encoder always adds. */
    check_same_bytes(in, out, !has || max_field(seq_contents(in)) > 1,
                     "PA-ENC-TS-ENC");
    free(buf);
}

static bool
kdc_rep_eq(const kerb_kdc_rep *a, const kerb_kdc_rep *b)
{
    return a->msg_type == b->msg_type && a->n_padata == b->n_padata &&
           pa_eq(a->padata, b->padata, a->n_padata) &&
           base_der_eq(a->crealm, b->crealm) &&
           principal_eq(&a->cname, &b->cname) &&
           base_der_eq(a->ticket.whole, b->ticket.whole) &&
           enc_data_eq(&a->enc, &b->enc);
}

static void
do_kdc_rep(base_der in)
{
    static kerb_kdc_rep r, r2;
    base_der_w w;
    base_der out, unused;
    uint8_t *buf;
    hsmssp_err ret = kerb_dec_kdc_rep(in, &r);

    check_err(ret, "kerb_dec_kdc_rep");
    if (ret != HSMSSP_OK)
        return;
    FUZZ_CHECK(r.msg_type == KERB_MSG_AS_REP || r.msg_type == KERB_MSG_TGS_REP,
               "msg-type %d", (int)r.msg_type);
    FUZZ_CHECK(r.n_padata <= KERB_MAX_PADATA, "%zu padata", r.n_padata);
    check_kstring(r.crealm);
    check_principal(&r.cname, r.crealm, true);
    check_ticket(&r.ticket);
    do_ticket(r.ticket.whole);
    check_enc_data(&r.enc);
    for (size_t i = 0; i < r.n_padata; i++) {
        IN(r.padata[i].value);
        if (r.padata[i].type == KERB_PA_ETYPE_INFO2)
            do_etype_info2(r.padata[i].value);
    }
    buf = writer(&w, in.len);
    kerb_enc_kdc_rep(&w, &r);
    out = finish(&w, "KDC-REP");
    ret = kerb_dec_kdc_rep(out, &r2);
    FUZZ_CHECK(ret == HSMSSP_OK && kdc_rep_eq(&r, &r2),
               "re-encoded KDC-REP decodes to other fields");
    check_same_bytes(in, out,
                     top_fields(in, 0, &unused) > 6 || big_kvno(&r.enc),
                     "KDC-REP");
    free(buf);
}

static bool
enc_kdc_rep_eq(const kerb_enc_kdc_rep_part *a, const kerb_enc_kdc_rep_part *b)
{
    return key_eq(&a->key, &b->key) && base_der_eq(a->last_req, b->last_req) &&
           a->nonce == b->nonce &&
           opt_time_eq(a->has_key_expiration, a->key_expiration,
                       b->has_key_expiration, b->key_expiration) &&
           a->flags == b->flags && a->authtime == b->authtime &&
           opt_time_eq(a->has_starttime, a->starttime, b->has_starttime,
                       b->starttime) &&
           a->endtime == b->endtime &&
           opt_time_eq(a->has_renew_till, a->renew_till, b->has_renew_till,
                       b->renew_till) &&
           base_der_eq(a->srealm, b->srealm) &&
           principal_eq(&a->sname, &b->sname) &&
           a->has_caddr == b->has_caddr && base_der_eq(a->caddr, b->caddr) &&
           a->has_enc_padata == b->has_enc_padata &&
           base_der_eq(a->enc_padata, b->enc_padata);
}

static void
do_enc_kdc_rep(base_der in)
{
    static kerb_enc_kdc_rep_part e, e2;
    kerb_pa_data pa[KERB_MAX_PADATA];
    size_t n;
    unsigned app = 99, app2;
    base_der_w w;
    base_der out, seq;
    uint8_t *buf;
    hsmssp_err ret = kerb_dec_enc_kdc_rep_part(in, &e, &app);

    check_err(ret, "kerb_dec_enc_kdc_rep_part");
    if (ret != HSMSSP_OK) {
        FUZZ_CHECK(app == 0, "app_out set on failure");
        return;
    }
    FUZZ_CHECK(app == 25 || app == 26, "app %u", app);
    check_key(&e.key);
    IN(e.last_req);
    check_time(e.authtime);
    check_time(e.endtime);
    FUZZ_CHECK(e.has_starttime || e.starttime == 0, "starttime");
    FUZZ_CHECK(e.has_renew_till || e.renew_till == 0, "renew-till");
    FUZZ_CHECK(e.has_key_expiration || e.key_expiration == 0, "key-exp");
    check_kstring(e.srealm);
    check_principal(&e.sname, e.srealm, true);
    if (e.has_caddr) {
        IN(e.caddr);
        FUZZ_CHECK(base_der_check(e.caddr, 3) == HSMSSP_OK, "caddr");
    }
    if (e.has_enc_padata) {
        /* Checked at decode: kerb_dec_padata_seq takes it as is. */
        IN(e.enc_padata);
        ret = kerb_dec_padata_seq(e.enc_padata, pa, KERB_MAX_PADATA, &n);
        FUZZ_CHECK(ret == HSMSSP_OK, "encrypted-pa-data: %s",
                   hsmssp_err_name(ret));
        do_padata(e.enc_padata);
    }
    buf = writer(&w, in.len);
    kerb_enc_enc_kdc_rep_part(&w, &e, app);
    out = finish(&w, "EncKDCRepPart");
    ret = kerb_dec_enc_kdc_rep_part(out, &e2, &app2);
    FUZZ_CHECK(ret == HSMSSP_OK && app2 == app && enc_kdc_rep_eq(&e, &e2),
               "re-encoded EncKDCRepPart decodes to other fields");
    seq = seq_contents(in);
    check_same_bytes(in, out,
                     max_field(seq) > 12 || odd_flags(field_value(seq, 4)) ||
                         positive_big(field_value(seq, 2)),
                     "EncKDCRepPart");
    free(buf);
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
    case KP_KDC_REQ:
        do_kdc_req(in);
        break;
    case KP_KDC_REP:
        do_kdc_rep(in);
        break;
    case KP_ENC_KDC_REP:
        do_enc_kdc_rep(in);
        break;
    case KP_PADATA:
        do_padata(in);
        break;
    case KP_ETYPE_INFO2:
        do_etype_info2(in);
        break;
    case KP_PA_ENC_TS:
        do_pa_enc_ts(in);
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
