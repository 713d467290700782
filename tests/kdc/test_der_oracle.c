/*
 * tests/kdc/test_der_oracle.c - differential test of hsmssp's Kerberos
 * decoders (provider/kerberos/kerb_asn1.c, on base/der.c) against
 * libkrb5's own, on real messages and on the fuzz corpus.
 *
 * The oracle: MIT exports decode_krb5_ap_req, decode_krb5_ticket,
 * decode_krb5_enc_tkt_part, decode_krb5_authenticator,
 * decode_krb5_ap_rep, decode_krb5_ap_rep_enc_part, decode_krb5_error,
 * decode_krb5_cred and decode_krb5_enc_cred_part from libkrb5.so without
 * publishing them; they are declared below with the prototypes of MIT's
 * k5-int.h, as are krb5_decrypt_tkt_part and the krb5_free_* functions
 * krb5.h lacks.  Only this
 * test links them (DESIGN sec. 5).
 *
 * Real messages, from the test realm (tests/common/realm-setup.sh):
 *  - AP-REQs from MIT's gss_init_sec_context for each enctype (services
 *    e17, e18, e19, e20, e23), with and without delegation;
 *  - their EncTicketPart, decrypted with the keytab key (krb5_c_decrypt;
 *    also cross-checked against krb5_decrypt_tkt_part), their
 *    Authenticator, decrypted with the session key, the 0x8003 checksum's
 *    KRB-CRED and its EncKrbCredPart;
 *  - AP-REPs from hsmssp's acceptor (AcceptSecurityContext on NSS
 *    softoken) and from MIT's (gss_accept_sec_context with the keytab),
 *    with their EncAPRepPart; MIT's initiator accepts hsmssp's AP-REP;
 *  - KRB-ERRORs from both acceptors (a replayed AP-REQ; a ticket for
 *    another service; a corrupted authenticator).
 * Each is decoded by both, which must both accept it, and compared field
 * by field: pvno/msg-type (implied by acceptance), options, realms,
 * principal components and name types, etypes, kvnos, ciphertext bytes,
 * times, flags, keys, checksums, sequence numbers, subkeys, addresses,
 * authorization-data entries, KRB-CRED tickets and KrbCredInfo fields.
 *
 * The corpus: every input of tests/fuzz/corpus/fuzz_krb_parse (and of the
 * directories in HSMSSP_ORACLE_CORPUS, colon-separated: a fuzzer's grown
 * corpus) is routed as fuzz_krb_parse routes it (krbparse.h); whenever
 * hsmssp's decoder accepts an input, MIT's must accept it too with equal
 * fields: hsmssp is stricter, never more lenient.  The counts of inputs
 * each accepted are printed per message type.  One difference is
 * counted apart (n_kvno_rfc below, docs/fuzzing.md): a kvno >= 2^31,
 * valid in RFC 4120 but refused by MIT 1.20.
 *
 *   test_der_oracle                   the cmocka cases (label kdc)
 *   test_der_oracle --write-seeds DIR writes the fuzz_krb_parse seeds
 *                                     (tests/fuzz/make-kerb-seeds.sh):
 *                                     key bytes in plaintexts are
 *                                     overwritten with KP_KEY_FILL
 */
#include <dirent.h>
#include <errno.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fuzz/krbparse.h"
#include "hsmssp/sspi.h"
#include "provider/kerberos/kerb-int.h"
#include "sspi/sspi-int.h"
#include "testutil.h"

/* ---- MIT's unpublished decoders (prototypes of MIT's k5-int.h) ------ */

krb5_error_code decode_krb5_ap_req(const krb5_data *, krb5_ap_req **);
krb5_error_code decode_krb5_ticket(const krb5_data *, krb5_ticket **);
krb5_error_code decode_krb5_enc_tkt_part(const krb5_data *,
                                         krb5_enc_tkt_part **);
krb5_error_code decode_krb5_authenticator(const krb5_data *,
                                          krb5_authenticator **);
krb5_error_code decode_krb5_ap_rep(const krb5_data *, krb5_ap_rep **);
krb5_error_code decode_krb5_ap_rep_enc_part(const krb5_data *,
                                            krb5_ap_rep_enc_part **);
krb5_error_code decode_krb5_error(const krb5_data *, krb5_error **);
krb5_error_code decode_krb5_cred(const krb5_data *, krb5_cred **);
krb5_error_code decode_krb5_enc_cred_part(const krb5_data *,
                                          krb5_cred_enc_part **);
/* Decrypts ticket->enc_part with key into ticket->enc_part2. */
krb5_error_code krb5_decrypt_tkt_part(krb5_context, const krb5_keyblock *,
                                      krb5_ticket *);
void KRB5_CALLCONV krb5_free_ap_req(krb5_context, krb5_ap_req *);
void KRB5_CALLCONV krb5_free_ap_rep(krb5_context, krb5_ap_rep *);
void KRB5_CALLCONV krb5_free_enc_tkt_part(krb5_context, krb5_enc_tkt_part *);
void KRB5_CALLCONV krb5_free_cred(krb5_context, krb5_cred *);
/* Frees the contents only (MIT kfree.c); the struct is free()d after. */
void KRB5_CALLCONV krb5_free_cred_enc_part(krb5_context, krb5_cred_enc_part *);

static krb5_context kc;
static char realm_dir[512];
static char work[600];
static const char *seed_dir; /* --write-seeds DIR */
static unsigned n_seeds;
static bool seeded_etypes;

#define REALM "HSMSSP.TEST"

static const int32_t all_etypes[] = {17, 18, 19, 20, 23};

/* ---- field comparison ------------------------------------------------- */

/* The first difference found, for the failure message. */
static char why[512];

#define EXPECT(cond, ...)                                                     \
    do {                                                                      \
        if (!(cond)) {                                                        \
            snprintf(why, sizeof(why), __VA_ARGS__);                          \
            return false;                                                     \
        }                                                                     \
    } while (0)

static bool
bytes_eq(base_der v, const void *p, size_t n)
{
    return v.len == n && (n == 0 || memcmp(v.p, p, n) == 0);
}

static bool
data_eq(base_der v, const krb5_data *d)
{
    return bytes_eq(v, d->data, d->length);
}

/* MIT keeps KerberosTime in 32 bits (unsigned from 1.17 on): compare
 * modulo 2^32. */
static bool
time_eq(int64_t t, krb5_timestamp m)
{
    return (uint32_t)t == (uint32_t)m;
}

static bool
cmp_princ(const char *what, const kerb_principal *p, base_der realm,
          krb5_const_principal m)
{
    EXPECT(m != NULL, "%s: MIT has no principal", what);
    EXPECT(m->type == p->type, "%s: name type %d / MIT %d", what, (int)p->type,
           (int)m->type);
    EXPECT((size_t)m->length == p->n, "%s: %zu components / MIT %d", what,
           p->n, (int)m->length);
    for (size_t i = 0; i < p->n; i++)
        EXPECT(data_eq(p->comp[i], &m->data[i]), "%s: component %zu", what, i);
    EXPECT(data_eq(realm, &m->realm), "%s: realm", what);
    return true;
}

static bool
cmp_enc(const char *what, const kerb_enc_data *e, const krb5_enc_data *m)
{
    EXPECT(m->enctype == e->etype, "%s: etype %d / MIT %d", what,
           (int)e->etype, (int)m->enctype);
    EXPECT(m->kvno == (e->has_kvno ? e->kvno : 0), "%s: kvno %u / MIT %u",
           what, (unsigned)e->kvno, (unsigned)m->kvno);
    EXPECT(data_eq(e->cipher, &m->ciphertext), "%s: cipher bytes", what);
    return true;
}

static bool
cmp_key(const char *what, const kerb_key *k, const krb5_keyblock *m)
{
    EXPECT(m != NULL, "%s: MIT has no key", what);
    EXPECT(m->enctype == k->etype, "%s: key etype", what);
    EXPECT(bytes_eq(k->value, m->contents, m->length), "%s: key bytes", what);
    return true;
}

/* AuthorizationData contents (hsmssp) against MIT's array. */
static bool
cmp_authz(const char *what, bool has, base_der authz, krb5_authdata *const *m)
{
    base_der iter = authz, data;
    int32_t type;
    bool done = false;
    size_t i = 0;

    for (; has; i++) {
        EXPECT(kerb_authz_next(&iter, &type, &data, &done) == HSMSSP_OK,
               "%s: hsmssp cannot iterate", what);
        if (done)
            break;
        EXPECT(m != NULL && m[i] != NULL, "%s: MIT has %zu entries", what, i);
        EXPECT(m[i]->ad_type == type &&
                   bytes_eq(data, m[i]->contents, m[i]->length),
               "%s: entry %zu (type %d / MIT %d)", what, i, (int)type,
               (int)m[i]->ad_type);
    }
    EXPECT(m == NULL || m[i] == NULL, "%s: MIT has more entries (%zu)", what,
           i);
    return true;
}

/* HostAddresses contents: SEQUENCE OF { addr-type [0] Int32,
 * address [1] OCTET STRING }. */
static bool
cmp_addrs(const char *what, bool has, base_der addrs, krb5_address *const *m)
{
    base_der iter = addrs, one, v;
    int64_t type;
    size_t i = 0;

    for (; has && iter.len > 0; i++) {
        EXPECT(base_der_get(&iter, BASE_DER_SEQUENCE, &one, NULL) ==
                       HSMSSP_OK &&
                   base_der_get_field(&one, 0, BASE_DER_INTEGER, &v) ==
                       HSMSSP_OK &&
                   base_der_int(v, INT32_MIN, INT32_MAX, &type) == HSMSSP_OK &&
                   base_der_get_field(&one, 1, BASE_DER_OCTET_STRING, &v) ==
                       HSMSSP_OK,
               "%s: address %zu unreadable", what, i);
        EXPECT(m != NULL && m[i] != NULL, "%s: MIT lacks address %zu", what,
               i);
        EXPECT(m[i]->addrtype == type &&
                   bytes_eq(v, m[i]->contents, m[i]->length),
               "%s: address %zu", what, i);
    }
    EXPECT(m == NULL || m[i] == NULL, "%s: MIT has more addresses", what);
    return true;
}

static bool
cmp_ticket(const char *what, const kerb_ticket *t, const krb5_ticket *m)
{
    EXPECT(m != NULL, "%s: no ticket", what);
    return cmp_princ("ticket sname", &t->sname, t->realm, m->server) &&
           cmp_enc("ticket enc-part", &t->enc, &m->enc_part);
}

static bool
cmp_ap_req(const kerb_ap_req *r, const krb5_ap_req *m)
{
    EXPECT((uint32_t)m->ap_options == r->options, "ap-options %08x / MIT %08x",
           (unsigned)r->options, (unsigned)m->ap_options);
    return cmp_ticket("ticket", &r->ticket, m->ticket) &&
           cmp_enc("authenticator", &r->auth, &m->authenticator);
}

static bool
cmp_enc_tkt(const kerb_enc_ticket_part *e, const krb5_enc_tkt_part *m)
{
    EXPECT((uint32_t)m->flags == e->flags, "flags %08x / MIT %08x",
           (unsigned)e->flags, (unsigned)m->flags);
    if (!cmp_key("session key", &e->key, m->session) ||
        !cmp_princ("cname", &e->cname, e->crealm, m->client))
        return false;
    EXPECT(m->transited.tr_type == (krb5_octet)e->transited_type &&
               data_eq(e->transited, &m->transited.tr_contents),
           "transited");
    EXPECT(time_eq(e->authtime, m->times.authtime), "authtime");
    EXPECT(time_eq(e->has_starttime ? e->starttime : 0, m->times.starttime),
           "starttime");
    EXPECT(time_eq(e->endtime, m->times.endtime), "endtime");
    EXPECT(time_eq(e->has_renew_till ? e->renew_till : 0, m->times.renew_till),
           "renew-till");
    return cmp_addrs("caddr", e->has_caddr, e->caddr, m->caddrs) &&
           cmp_authz("ticket authorization-data", e->has_authz, e->authz,
                     m->authorization_data);
}

static bool
cmp_auth(const kerb_authenticator *a, const krb5_authenticator *m)
{
    if (!cmp_princ("cname", &a->cname, a->crealm, m->client))
        return false;
    EXPECT(a->has_cksum == (m->checksum != NULL), "checksum presence");
    if (a->has_cksum)
        EXPECT(m->checksum->checksum_type == a->cksum.type &&
                   bytes_eq(a->cksum.value, m->checksum->contents,
                            m->checksum->length),
               "checksum (type %d / MIT %d)", (int)a->cksum.type,
               (int)m->checksum->checksum_type);
    EXPECT(m->cusec == a->cusec, "cusec");
    EXPECT(time_eq(a->ctime, m->ctime), "ctime");
    EXPECT(a->has_subkey == (m->subkey != NULL), "subkey presence");
    if (a->has_subkey && !cmp_key("subkey", &a->subkey, m->subkey))
        return false;
    EXPECT(m->seq_number == (a->has_seq ? a->seq : 0), "seq-number");
    return cmp_authz("authenticator authorization-data", a->has_authz,
                     a->authz, m->authorization_data);
}

static bool
cmp_enc_ap_rep(const kerb_enc_ap_rep_part *e, const krb5_ap_rep_enc_part *m)
{
    EXPECT(time_eq(e->ctime, m->ctime), "ctime");
    EXPECT(m->cusec == e->cusec, "cusec");
    EXPECT(e->has_subkey == (m->subkey != NULL), "subkey presence");
    if (e->has_subkey && !cmp_key("subkey", &e->subkey, m->subkey))
        return false;
    EXPECT(m->seq_number == (e->has_seq ? e->seq : 0), "seq-number");
    return true;
}

static bool
cmp_error(const kerb_error *e, const krb5_error *m)
{
    EXPECT(time_eq(e->has_ctime ? e->ctime : 0, m->ctime), "ctime");
    EXPECT(m->cusec == (e->has_cusec ? e->cusec : 0), "cusec");
    EXPECT(time_eq(e->stime, m->stime), "stime");
    EXPECT(m->susec == e->susec, "susec");
    EXPECT((int64_t)m->error == e->code, "error-code %d / MIT %u",
           (int)e->code, (unsigned)m->error);
    if (e->has_cname) {
        if (!cmp_princ("cname", &e->cname, e->crealm, m->client))
            return false;
    } else {
        EXPECT(m->client == NULL, "MIT has a client name");
    }
    if (!cmp_princ("sname", &e->sname, e->realm, m->server))
        return false;
    EXPECT(data_eq(e->etext, &m->text), "e-text");
    EXPECT(data_eq(e->edata, &m->e_data), "e-data");
    return true;
}

static bool
cmp_cred(const kerb_krb_cred *c, const krb5_cred *m)
{
    size_t i = 0;

    for (; i < c->n_tickets; i++) {
        EXPECT(m->tickets != NULL && m->tickets[i] != NULL,
               "MIT lacks ticket %zu", i);
        if (!cmp_ticket("KRB-CRED ticket", &c->tickets[i], m->tickets[i]))
            return false;
    }
    EXPECT(m->tickets == NULL || m->tickets[i] == NULL,
           "MIT has more tickets");
    return cmp_enc("KRB-CRED enc-part", &c->enc, &m->enc_part);
}

static bool
cmp_cred_info(const kerb_cred_info *i, const krb5_cred_info *m)
{
    if (!cmp_key("KrbCredInfo key", &i->key, m->session))
        return false;
    if (i->has_pname) {
        if (!cmp_princ("pname", &i->pname, i->prealm, m->client))
            return false;
    }
    if (i->has_sname) {
        if (!cmp_princ("sname", &i->sname, i->srealm, m->server))
            return false;
    }
    EXPECT((uint32_t)m->flags == (i->has_flags ? i->flags : 0), "flags");
    EXPECT(time_eq(i->has_authtime ? i->authtime : 0, m->times.authtime),
           "authtime");
    EXPECT(time_eq(i->has_starttime ? i->starttime : 0, m->times.starttime),
           "starttime");
    EXPECT(time_eq(i->has_endtime ? i->endtime : 0, m->times.endtime),
           "endtime");
    EXPECT(time_eq(i->has_renew_till ? i->renew_till : 0, m->times.renew_till),
           "renew-till");
    return true;
}

static bool
cmp_enc_cred(const kerb_enc_cred_part *p, const krb5_cred_enc_part *m)
{
    size_t i = 0;

    for (; i < p->n_info; i++) {
        EXPECT(m->ticket_info != NULL && m->ticket_info[i] != NULL,
               "MIT lacks KrbCredInfo %zu", i);
        if (!cmp_cred_info(&p->info[i], m->ticket_info[i]))
            return false;
    }
    EXPECT(m->ticket_info == NULL || m->ticket_info[i] == NULL,
           "MIT has more KrbCredInfo");
    EXPECT((uint32_t)m->nonce == (p->has_nonce ? p->nonce : 0), "nonce");
    EXPECT(time_eq(p->has_timestamp ? p->timestamp : 0, m->timestamp),
           "timestamp");
    EXPECT(m->usec == (p->has_usec ? p->usec : 0), "usec");
    return true;
}

/* ---- one input through both decoders --------------------------------- */

typedef struct pair_stats {
    unsigned tried, hs_ok, mit_ok, both;
} pair_stats;

static pair_stats stats[KP_N];
static unsigned n_lenient; /* hsmssp accepted, MIT refused or differed */

/* One documented difference is not counted as leniency: RFC 4120 makes
 * a kvno a UInt32 (0..2^32-1), and hsmssp reads it so; MIT 1.20 reads it
 * as an Int32 (it refuses 0x0080000000..0x00ffffffff, accepting the
 * negative spellings of the same numbers, which hsmssp accepts too).
 * An input MIT refuses only for that is counted here. */
static unsigned n_kvno_rfc;

static bool
big_kvno(const kerb_enc_data *e)
{
    return e->has_kvno && e->kvno >= 0x80000000u;
}


/* Decodes in as message kind k with both; returns whether hsmssp
 * accepted, *mit_ok_out whether MIT did, and on a disagreement (hsmssp
 * accepts, MIT refuses or reads other fields) prints it and counts it in
 * n_lenient. */
static bool
pair(enum kp_sel k, base_der in, const char *label, bool *mit_ok_out)
{
    krb5_data d = {KV5M_DATA, (unsigned int)in.len, (char *)in.p};
    bool hs = false, mit = false, same = true, big = false;
    krb5_error_code mc;

    why[0] = '\0';
    switch (k) {
    case KP_AP_REQ: {
        kerb_ap_req h;
        krb5_ap_req *m = NULL;

        hs = kerb_dec_ap_req(in, &h) == HSMSSP_OK;
        big = hs && (big_kvno(&h.ticket.enc) || big_kvno(&h.auth));
        mit = (mc = decode_krb5_ap_req(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_ap_req(&h, m);
        krb5_free_ap_req(kc, m);
        break;
    }
    case KP_TICKET: {
        kerb_ticket h;
        krb5_ticket *m = NULL;

        hs = kerb_dec_ticket(in, &h) == HSMSSP_OK;
        big = hs && big_kvno(&h.enc);
        mit = (mc = decode_krb5_ticket(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_ticket("Ticket", &h, m);
        krb5_free_ticket(kc, m);
        break;
    }
    case KP_ENC_TKT: {
        kerb_enc_ticket_part h;
        krb5_enc_tkt_part *m = NULL;

        hs = kerb_dec_enc_ticket_part(in, &h) == HSMSSP_OK;
        mit = (mc = decode_krb5_enc_tkt_part(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_enc_tkt(&h, m);
        krb5_free_enc_tkt_part(kc, m);
        break;
    }
    case KP_AUTH: {
        kerb_authenticator h;
        krb5_authenticator *m = NULL;

        hs = kerb_dec_authenticator(in, &h) == HSMSSP_OK;
        mit = (mc = decode_krb5_authenticator(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_auth(&h, m);
        krb5_free_authenticator(kc, m);
        break;
    }
    case KP_AP_REP: {
        kerb_ap_rep h;
        krb5_ap_rep *m = NULL;

        hs = kerb_dec_ap_rep(in, &h) == HSMSSP_OK;
        big = hs && big_kvno(&h.enc);
        mit = (mc = decode_krb5_ap_rep(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_enc("AP-REP enc-part", &h.enc, &m->enc_part);
        krb5_free_ap_rep(kc, m);
        break;
    }
    case KP_ENC_AP_REP: {
        kerb_enc_ap_rep_part h;
        krb5_ap_rep_enc_part *m = NULL;

        hs = kerb_dec_enc_ap_rep_part(in, &h) == HSMSSP_OK;
        mit = (mc = decode_krb5_ap_rep_enc_part(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_enc_ap_rep(&h, m);
        krb5_free_ap_rep_enc_part(kc, m);
        break;
    }
    case KP_ERROR: {
        kerb_error h;
        krb5_error *m = NULL;

        hs = kerb_dec_error(in, &h) == HSMSSP_OK;
        mit = (mc = decode_krb5_error(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_error(&h, m);
        krb5_free_error(kc, m);
        break;
    }
    case KP_CRED: {
        kerb_krb_cred h;
        krb5_cred *m = NULL;

        hs = kerb_dec_cred(in, &h) == HSMSSP_OK;
        big = hs && big_kvno(&h.enc);
        for (size_t i = 0; hs && i < h.n_tickets; i++)
            big = big || big_kvno(&h.tickets[i].enc);
        mit = (mc = decode_krb5_cred(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_cred(&h, m);
        krb5_free_cred(kc, m);
        break;
    }
    case KP_ENC_CRED: {
        kerb_enc_cred_part h;
        krb5_cred_enc_part *m = NULL;

        hs = kerb_dec_enc_cred_part(in, &h) == HSMSSP_OK;
        mit = (mc = decode_krb5_enc_cred_part(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_enc_cred(&h, m);
        krb5_free_cred_enc_part(kc, m);
        free(m);
        break;
    }
    default:
        fail_msg("pair: no MIT decoder for %s", kp_name(k));
    }
    (void)mc;
    stats[k].tried++;
    stats[k].hs_ok += hs;
    stats[k].mit_ok += mit;
    stats[k].both += hs && mit;
    if (hs && !mit && big) {
        n_kvno_rfc++;
    } else if (hs && (!mit || !same)) {
        n_lenient++;
        print_message("  %s as %s: hsmssp accepts, MIT %s%s\n", label,
                      kp_name(k), mit ? "reads other fields: " : "refuses",
                      mit ? why : "");
    }
    if (mit_ok_out != NULL)
        *mit_ok_out = mit;
    return hs;
}

/* Both must accept a genuine message, with equal fields. */
static void
pair_must(enum kp_sel k, base_der in, const char *label)
{
    unsigned before = n_lenient;
    bool mit = false, hs = pair(k, in, label, &mit);

    if (!hs || !mit || n_lenient != before)
        fail_msg("%s (%s): hsmssp %s (%s), MIT %s %s", label, kp_name(k),
                 hs ? "accepts" : "refuses",
                 hs ? "" : hsmssp_last_error_detail(),
                 mit ? "accepts" : "refuses", why);
}

/* ---- seeds ------------------------------------------------------------ */

/* Writes sel || p[0..len) to seed_dir/name (write mode only). */
static void
seed(const char *name, enum kp_sel sel, const void *p, size_t len)
{
    char path[4096];
    uint8_t s = (uint8_t)sel;
    FILE *f;

    if (seed_dir == NULL)
        return;
    snprintf(path, sizeof(path), "%s/%s", seed_dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(&s, 1, 1, f) != 1 ||
        (len > 0 && fwrite(p, 1, len, f) != len) || fclose(f) != 0)
        fail_msg("%s: %s", path, strerror(errno));
    n_seeds++;
}

static void
fill(base_der v)
{
    if (v.len > 0)
        memset((uint8_t *)v.p, KP_KEY_FILL, v.len);
}

/* A plaintext seed with its key fields overwritten: decoded by hsmssp in
 * a copy, whose key views are then filled. */
static void
seed_plain(const char *name, enum kp_sel sel, base_der in)
{
    uint8_t *copy;
    base_der c;

    if (seed_dir == NULL)
        return;
    copy = malloc(in.len + 1);
    assert_non_null(copy);
    memcpy(copy, in.p, in.len);
    c = base_der_view(copy, in.len);
    if (sel == KP_ENC_TKT) {
        kerb_enc_ticket_part e;

        TU_OK(kerb_dec_enc_ticket_part(c, &e));
        fill(e.key.value);
    } else if (sel == KP_AUTH) {
        kerb_authenticator a;

        TU_OK(kerb_dec_authenticator(c, &a));
        if (a.has_subkey)
            fill(a.subkey.value);
    } else if (sel == KP_ENC_AP_REP) {
        kerb_enc_ap_rep_part e;

        TU_OK(kerb_dec_enc_ap_rep_part(c, &e));
        if (e.has_subkey)
            fill(e.subkey.value);
    } else if (sel == KP_ENC_CRED) {
        kerb_enc_cred_part p;

        TU_OK(kerb_dec_enc_cred_part(c, &p));
        for (size_t i = 0; i < p.n_info; i++)
            fill(p.info[i].key.value);
    }
    seed(name, sel, copy, in.len);
    free(copy);
}

/* ---- realm, MIT side -------------------------------------------------- */

static void
realm_setup(void)
{
    const char *envf = getenv("HSMSSP_REALM_ENV");
    char buf[1200], *d;

    if (envf == NULL || access(envf, R_OK) != 0)
        tu_skip("the test realm is missing (HSMSSP_REALM_ENV)");
    snprintf(buf, sizeof(buf), "%s", envf);
    d = dirname(buf);
    snprintf(realm_dir, sizeof(realm_dir), "%s", d);
    snprintf(work, sizeof(work), "%s/oracle.%ld", tu_work_dir(),
             (long)getpid());
    mkdir(work, 0700);
    snprintf(buf, sizeof(buf), "%s/krb5.conf", realm_dir);
    setenv("KRB5_CONFIG", buf, 1);
    snprintf(buf, sizeof(buf), "FILE:%s/alice.cc", work);
    setenv("KRB5CCNAME", buf, 1);
    snprintf(buf, sizeof(buf), "FILE:%s/none.keytab", work);
    setenv("KRB5_KTNAME", buf, 1);
    setenv("KRB5_CLIENT_KTNAME", buf, 1);
    setenv("KRB5RCACHEDIR", work, 1);
    snprintf(buf, sizeof(buf),
             "kinit -f -k -t %s/alice.keytab alice@" REALM " >/dev/null",
             realm_dir);
    if (system(buf) != 0)
        tu_skip("kinit for alice failed");
    if (krb5_init_context(&kc) != 0)
        tu_skip("krb5_init_context failed");
}

static void
gss_fail(const char *what, OM_uint32 maj, OM_uint32 min)
{
    OM_uint32 m2, ctx = 0;
    gss_buffer_desc b1 = {0}, b2 = {0};

    gss_display_status(&m2, maj, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &b1);
    ctx = 0;
    gss_display_status(&m2, min, GSS_C_MECH_CODE, GSS_C_NO_OID, &ctx, &b2);
    fail_msg("%s: %.*s / %.*s", what, (int)b1.length, (char *)b1.value,
             (int)b2.length, (char *)b2.value);
}

static gss_name_t
svc_name(int32_t etype)
{
    char s[64];
    gss_buffer_desc nb;
    gss_name_t name;
    OM_uint32 maj, min;

    snprintf(s, sizeof(s), "e%d@localhost", (int)etype);
    nb.value = s;
    nb.length = strlen(s);
    maj = gss_import_name(&min, &nb, GSS_C_NT_HOSTBASED_SERVICE, &name);
    if (GSS_ERROR(maj))
        gss_fail("gss_import_name", maj, min);
    return name;
}

/* MIT's initial context token for service eNN; *g keeps the context. */
static void
mit_init(int32_t etype, OM_uint32 flags, gss_ctx_id_t *g, gss_buffer_desc *out)
{
    gss_name_t name = svc_name(etype);
    OM_uint32 maj, min;

    *g = GSS_C_NO_CONTEXT;
    maj = gss_init_sec_context(
        &min, GSS_C_NO_CREDENTIAL, g, name, (gss_OID)gss_mech_krb5, flags, 0,
        GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, out, NULL, NULL);
    gss_release_name(&min, &name);
    if (GSS_ERROR(maj))
        gss_fail("gss_init_sec_context", maj, min);
}

/* The message inside an initial context token, checking the token id. */
static base_der
unframe(const void *tok, size_t len, unsigned want_id)
{
    base_der oid, inner, msg;
    unsigned id = 0;

    TU_OK(kerb_gss_unframe(base_der_view(tok, len), &oid, &inner));
    assert_true(kerb_gss_is_krb5_oid(oid));
    TU_OK(kerb_gss_tok_id(inner, &id, &msg));
    assert_int_equal(id, want_id);
    return msg;
}

/* The keytab key of eNN/localhost for (kvno, etype). */
static krb5_keyblock *
kt_key(int32_t etype, krb5_kvno kvno)
{
    char path[700], princ[64];
    krb5_keytab kt;
    krb5_principal p;
    krb5_keytab_entry ent;
    krb5_keyblock *out = NULL;

    snprintf(path, sizeof(path), "FILE:%s/e%d.keytab", realm_dir, (int)etype);
    snprintf(princ, sizeof(princ), "e%d/localhost@" REALM, (int)etype);
    assert_int_equal(krb5_kt_resolve(kc, path, &kt), 0);
    assert_int_equal(krb5_parse_name(kc, princ, &p), 0);
    assert_int_equal(krb5_kt_get_entry(kc, kt, p, kvno, etype, &ent), 0);
    assert_int_equal(krb5_copy_keyblock(kc, &ent.key, &out), 0);
    krb5_free_keytab_entry_contents(kc, &ent);
    krb5_free_principal(kc, p);
    krb5_kt_close(kc, kt);
    return out;
}

/* krb5_c_decrypt into a new krb5_data (free with krb5_free_data_contents);
 * returns MIT's code. */
static krb5_error_code
mit_decrypt(const krb5_keyblock *key, krb5_keyusage usage,
            const krb5_enc_data *in, krb5_data *out)
{
    krb5_error_code ret;

    out->magic = KV5M_DATA;
    out->length = in->ciphertext.length;
    out->data = malloc(out->length + 1);
    assert_non_null(out->data);
    ret = krb5_c_decrypt(kc, key, usage, NULL, in, out);
    if (ret != 0) {
        free(out->data);
        out->data = NULL;
        out->length = 0;
    }
    return ret;
}

static base_der
view_of(const krb5_data *d)
{
    return base_der_view(d->data, d->length);
}

/* ---- hsmssp acceptor --------------------------------------------------- */

/* An SSPI runtime on NSS softoken with every eNN service key imported as
 * session objects, all enctypes permitted, the replay cache in work/. */
static void
hsmssp_runtime(void)
{
    static unsigned n;
    hsm_config hc;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    char path[700], buf[4096];
    FILE *f;

    tu_token_config(TU_NSS, 0, &hc);
    snprintf(path, sizeof(path), "%s/hsmssp-%u.conf", work, n);
    f = fopen(path, "w");
    assert_non_null(f);
    fchmod(fileno(f), 0600);
    snprintf(buf, sizeof(buf),
             "[token]\n    module = %s\n    uri = %s\n"
             "[policy]\n    permitted_enctypes = DEFAULT arcfour-hmac\n"
             "[kerberos]\n    rcache = %s/rcache-%u\n",
             hc.module, hc.token_uri, work, n);
    n++;
    fputs(buf, f);
    fclose(f);
    assert_int_equal(HsmsspConfigureA(path), SEC_E_OK);
    TU_OK(sspi_runtime_env(&env));
    TU_OK(prov_env_token(env, &tok));
    for (size_t i = 0; i < BASE_ARRAY_LEN(all_etypes); i++) {
        kerb_ks_entry e;
        krb5_keyblock *k = kt_key(all_etypes[i], 0);
        base_secret *s = NULL;
        hsm_key *key = NULL;

        memset(&e, 0, sizeof(e));
        snprintf(e.principal, sizeof(e.principal), "e%d/localhost@" REALM,
                 (int)all_etypes[i]);
        e.kvno = 1;
        e.etype = all_etypes[i];
        TU_OK(base_secret_from(k->contents, k->length, &s));
        krb5_free_keyblock(kc, k);
        TU_OK(kerb_ks_import(tok, &e, s, false, true, &key));
        base_secret_free(s);
        TU_OK(kerb_register_session_key(env, &e, key));
    }
    prov_env_unref(env);
}

static void
acquire(const char *principal, CredHandle *cred)
{
    TimeStamp exp;
    SECURITY_STATUS st;

    st = AcquireCredentialsHandleA((LPSTR)principal, "Kerberos",
                                   SECPKG_CRED_INBOUND, NULL, NULL, NULL, NULL,
                                   cred, &exp);
    if (st != SEC_E_OK)
        fail_msg("AcquireCredentialsHandle: 0x%08x %s", (unsigned)st,
                 hsmssp_last_error_detail());
}

/* AcceptSecurityContext on tok; the output token (AP-REP or KRB-ERROR)
 * in *out (FreeContextBuffer), the context deleted. */
static SECURITY_STATUS
hsmssp_accept(CredHandle *cred, const void *tok, size_t len, ULONG req,
              void **out, size_t *out_len)
{
    SecBuffer ib = {(ULONG)len, SECBUFFER_TOKEN, (void *)tok};
    SecBuffer ob = {0, SECBUFFER_TOKEN, NULL};
    SecBufferDesc id = {SECBUFFER_VERSION, 1, &ib},
                  od = {SECBUFFER_VERSION, 1, &ob};
    CtxtHandle ctx;
    TimeStamp exp;
    ULONG attrs = 0;
    SECURITY_STATUS st;

    SecInvalidateHandle(&ctx);
    st = AcceptSecurityContext(cred, NULL, &id,
                               req | ASC_REQ_ALLOCATE_MEMORY |
                                   ASC_REQ_EXTENDED_ERROR,
                               SECURITY_NATIVE_DREP, &ctx, &od, &attrs, &exp);
    if (SecIsValidHandle(&ctx))
        DeleteSecurityContext(&ctx);
    *out = ob.pvBuffer;
    *out_len = ob.cbBuffer;
    return st;
}

static const ULONG asc_req = ASC_REQ_MUTUAL_AUTH | ASC_REQ_REPLAY_DETECT |
                             ASC_REQ_SEQUENCE_DETECT |
                             ASC_REQ_CONFIDENTIALITY | ASC_REQ_INTEGRITY;

static const OM_uint32 gss_flags = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG |
                                   GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG |
                                   GSS_C_INTEG_FLAG;

/* ---- MIT acceptor ------------------------------------------------------ */

static gss_cred_id_t
mit_acceptor_cred(int32_t etype)
{
    char kt[700];
    gss_key_value_element_desc el = {"keytab", kt};
    gss_key_value_set_desc store = {1, &el};
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    OM_uint32 maj, min;

    snprintf(kt, sizeof(kt), "FILE:%s/e%d.keytab", realm_dir, (int)etype);
    maj = gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                                GSS_C_NO_OID_SET, GSS_C_ACCEPT, &store, &cred,
                                NULL, NULL);
    if (GSS_ERROR(maj))
        gss_fail("gss_acquire_cred_from", maj, min);
    return cred;
}

/* gss_accept_sec_context on tok; returns the major status and the output
 * token (gss_release_buffer). */
static OM_uint32
mit_accept(gss_cred_id_t cred, const void *tok, size_t len,
           gss_buffer_desc *out)
{
    gss_buffer_desc in = {len, (void *)tok};
    gss_ctx_id_t g = GSS_C_NO_CONTEXT;
    OM_uint32 maj, min;

    out->length = 0;
    out->value = NULL;
    maj =
        gss_accept_sec_context(&min, &g, cred, &in, GSS_C_NO_CHANNEL_BINDINGS,
                               NULL, NULL, out, NULL, NULL, NULL);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    return maj;
}

/* ---- the captured messages --------------------------------------------- */

/* What one MIT AP-REQ opened up: the decoded AP-REQ and the session key
 * (MIT's decode of the decrypted EncTicketPart). */
typedef struct opened {
    krb5_ap_req *req;
    krb5_enc_tkt_part *tkt;
    krb5_authenticator *auth;
} opened;

static void
opened_free(opened *o)
{
    krb5_free_ap_req(kc, o->req);
    krb5_free_enc_tkt_part(kc, o->tkt);
    krb5_free_authenticator(kc, o->auth);
    memset(o, 0, sizeof(*o));
}

/* The delegated KRB-CRED of a 0x8003 checksum and its EncKrbCredPart. */
static void
check_delegation(int32_t etype, base_der cksum, const opened *o, bool full)
{
    kerb_gss_cksum ck;
    krb5_data d, plain = {0};
    krb5_cred *mc = NULL;
    base_der enc;
    char label[96];

    TU_OK(kerb_gss_cksum_parse(cksum, &ck));
    assert_true(ck.has_deleg);
    snprintf(label, sizeof(label), "KRB-CRED e%d", (int)etype);
    pair_must(KP_CRED, ck.deleg, label);
    d = (krb5_data){KV5M_DATA, (unsigned int)ck.deleg.len, (char *)ck.deleg.p};
    assert_int_equal(decode_krb5_cred(&d, &mc), 0);
    if (mc->enc_part.enctype == 0) {
        enc = view_of(&mc->enc_part.ciphertext);
    } else {
        /* The ticket's session key (usage 14), else the subkey, as
         * kerb_accept.c tries them. */
        if (mit_decrypt(o->tkt->session, 14, &mc->enc_part, &plain) != 0)
            assert_int_equal(
                mit_decrypt(o->auth->subkey, 14, &mc->enc_part, &plain), 0);
        enc = view_of(&plain);
    }
    snprintf(label, sizeof(label), "EncKrbCredPart e%d", (int)etype);
    pair_must(KP_ENC_CRED, enc, label);
    if (full) {
        snprintf(label, sizeof(label), "krb-cred-mit-e%d", (int)etype);
        seed(label, KP_CRED, ck.deleg.p, ck.deleg.len);
        snprintf(label, sizeof(label), "enc-cred-mit-e%d", (int)etype);
        seed_plain(label, KP_ENC_CRED, enc);
    }
    krb5_free_data_contents(kc, &plain);
    krb5_free_cred(kc, mc);
}

/* Opens an MIT AP-REQ: compares it, its Ticket, EncTicketPart and
 * Authenticator in both decoders, and writes their seeds. */
static void
open_ap_req(int32_t etype, const gss_buffer_desc *tok, bool deleg, bool full,
            opened *o)
{
    base_der msg = unframe(tok->value, tok->length, KERB_TOK_AP_REQ);
    krb5_data d = {KV5M_DATA, (unsigned int)msg.len, (char *)msg.p};
    krb5_data tplain = {0}, aplain = {0};
    krb5_keyblock *key;
    kerb_ap_req hreq;
    kerb_enc_ticket_part htkt;
    kerb_authenticator hauth;
    const char *dl = deleg ? "-deleg" : "";
    char label[96];

    memset(o, 0, sizeof(*o));
    snprintf(label, sizeof(label), "AP-REQ e%d%s", (int)etype, dl);
    pair_must(KP_AP_REQ, msg, label);
    TU_OK(kerb_dec_ap_req(msg, &hreq));
    pair_must(KP_TICKET, hreq.ticket.whole, label);
    assert_int_equal(decode_krb5_ap_req(&d, &o->req), 0);
    assert_int_equal(o->req->ticket->enc_part.enctype, etype);

    /* EncTicketPart with the keytab key, compared in both decoders, and
     * MIT's own krb5_decrypt_tkt_part() against hsmssp's reading. */
    key = kt_key(etype, o->req->ticket->enc_part.kvno);
    assert_int_equal(mit_decrypt(key, 2, &o->req->ticket->enc_part, &tplain),
                     0);
    snprintf(label, sizeof(label), "EncTicketPart e%d%s", (int)etype, dl);
    pair_must(KP_ENC_TKT, view_of(&tplain), label);
    TU_OK(kerb_dec_enc_ticket_part(view_of(&tplain), &htkt));
    assert_int_equal(krb5_decrypt_tkt_part(kc, key, o->req->ticket), 0);
    if (!cmp_enc_tkt(&htkt, o->req->ticket->enc_part2))
        fail_msg("krb5_decrypt_tkt_part differs: %s", why);
    assert_int_equal(decode_krb5_enc_tkt_part(&tplain, &o->tkt), 0);
    krb5_free_keyblock(kc, key);

    /* Authenticator with the session key. */
    assert_int_equal(
        mit_decrypt(o->tkt->session, 11, &o->req->authenticator, &aplain), 0);
    snprintf(label, sizeof(label), "Authenticator e%d%s", (int)etype, dl);
    pair_must(KP_AUTH, view_of(&aplain), label);
    TU_OK(kerb_dec_authenticator(view_of(&aplain), &hauth));
    assert_int_equal(decode_krb5_authenticator(&aplain, &o->auth), 0);
    assert_true(hauth.has_cksum);
    assert_int_equal(hauth.cksum.type, KERB_CKSUM_GSSAPI);

    /* Seeds: every enctype's token and plaintexts; the delegation and
     * checksum shapes for the "full" enctypes; the rest for e18 only. */
    if (!deleg || full) {
        snprintf(label, sizeof(label), "gss-ap-req-mit-e%d%s", (int)etype, dl);
        seed(label, KP_GSS, tok->value, tok->length);
    }
    if (!deleg) {
        snprintf(label, sizeof(label), "enc-tkt-mit-e%d", (int)etype);
        seed_plain(label, KP_ENC_TKT, view_of(&tplain));
        snprintf(label, sizeof(label), "auth-mit-e%d", (int)etype);
        seed_plain(label, KP_AUTH, view_of(&aplain));
    }
    if (full) {
        snprintf(label, sizeof(label), "cksum-8003-mit-e%d%s", (int)etype, dl);
        seed(label, KP_CKSUM, hauth.cksum.value.p, hauth.cksum.value.len);
    }
    if (!deleg && etype == 18) {
        seed("ap-req-mit-e18", KP_AP_REQ, msg.p, msg.len);
        seed("all-ap-req-mit-e18", KP_ALL, msg.p, msg.len);
        seed("ticket-mit-e18", KP_TICKET, hreq.ticket.whole.p,
             hreq.ticket.whole.len);
        assert_true(htkt.has_authz);
        seed("authz-ticket-e18", KP_AUTHZ, htkt.authz.p, htkt.authz.len);
    }
    /* MIT adds an RFC 4537 EtypeList only when the session key is not
     * its first choice (not for e18): seed the first one seen. */
    if (!deleg && hauth.has_authz && !seeded_etypes) {
        base_der el;
        bool found = false;

        seed("authz-auth-mit", KP_AUTHZ, hauth.authz.p, hauth.authz.len);
        TU_OK(kerb_authz_find(hauth.authz, KERB_AD_ETYPE_NEGOTIATION, &el,
                              &found, NULL));
        if (found)
            seed("etypes-mit", KP_ETYPES, el.p, el.len);
        seeded_etypes = true;
    }
    if (deleg)
        check_delegation(etype, hauth.cksum.value, o, full);
    krb5_free_data_contents(kc, &tplain);
    krb5_free_data_contents(kc, &aplain);
}

/* An AP-REP token (either acceptor's): compared, its EncAPRepPart
 * decrypted with the session key and compared; seeds. */
static void
check_ap_rep(int32_t etype, const char *who, const void *tok, size_t len,
             const opened *o, bool full)
{
    base_der msg = unframe(tok, len, KERB_TOK_AP_REP);
    krb5_data d = {KV5M_DATA, (unsigned int)msg.len, (char *)msg.p};
    krb5_data plain = {0};
    krb5_ap_rep *m = NULL;
    kerb_enc_ap_rep_part e;
    char label[96];

    snprintf(label, sizeof(label), "AP-REP %s e%d", who, (int)etype);
    pair_must(KP_AP_REP, msg, label);
    assert_int_equal(decode_krb5_ap_rep(&d, &m), 0);
    assert_int_equal(mit_decrypt(o->tkt->session, 12, &m->enc_part, &plain),
                     0);
    snprintf(label, sizeof(label), "EncAPRepPart %s e%d", who, (int)etype);
    pair_must(KP_ENC_AP_REP, view_of(&plain), label);
    /* What the initiator reads back: its own ctime and cusec. */
    TU_OK(kerb_dec_enc_ap_rep_part(view_of(&plain), &e));
    assert_true(time_eq(e.ctime, o->auth->ctime));
    assert_int_equal(e.cusec, o->auth->cusec);
    assert_true(e.has_subkey);
    if (full) {
        snprintf(label, sizeof(label), "gss-ap-rep-%s-e%d", who, (int)etype);
        seed(label, KP_GSS, tok, len);
        snprintf(label, sizeof(label), "enc-ap-rep-%s-e%d", who, (int)etype);
        seed_plain(label, KP_ENC_AP_REP, view_of(&plain));
        if (etype == 18) {
            snprintf(label, sizeof(label), "ap-rep-%s-e%d", who, (int)etype);
            seed(label, KP_AP_REP, msg.p, msg.len);
        }
    }
    krb5_free_data_contents(kc, &plain);
    krb5_free_ap_rep(kc, m);
}

/* A KRB-ERROR token: compared; its code must be want (0: any). */
static void
check_error(const char *name, const void *tok, size_t len, int32_t want)
{
    base_der msg = unframe(tok, len, KERB_TOK_ERROR);
    kerb_error e;

    pair_must(KP_ERROR, msg, name);
    TU_OK(kerb_dec_error(msg, &e));
    if (want != 0 && e.code != want)
        fail_msg("%s: error code %d, expected %d", name, (int)e.code,
                 (int)want);
    seed(name, KP_GSS, tok, len);
}

/* One enctype: AP-REQs with and without delegation, both acceptors'
 * AP-REPs, MIT's initiator completing on hsmssp's. */
static void
run_etype(int32_t etype, CredHandle *cred)
{
    bool full = etype == 18 || etype == 23;
    gss_cred_id_t mcred = mit_acceptor_cred(etype);
    gss_buffer_desc tok = {0}, out = {0};
    gss_ctx_id_t g;
    OM_uint32 maj, min;
    opened o;
    void *rep = NULL;
    size_t rep_len = 0;
    char label[96];

    /* With delegation: the KRB-CRED path. */
    mit_init(etype, gss_flags | GSS_C_DELEG_FLAG, &g, &tok);
    open_ap_req(etype, &tok, true, full, &o);
    opened_free(&o);
    gss_release_buffer(&min, &tok);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);

    mit_init(etype, gss_flags, &g, &tok);
    open_ap_req(etype, &tok, false, full, &o);
    /* hsmssp's acceptor; MIT's initiator must take its AP-REP. */
    assert_int_equal(
        hsmssp_accept(cred, tok.value, tok.length, asc_req, &rep, &rep_len),
        SEC_E_OK);
    check_ap_rep(etype, "hsmssp", rep, rep_len, &o, true);
    {
        gss_name_t name = svc_name(etype);
        gss_buffer_desc in = {rep_len, rep}, t2 = {0};

        maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &g, name,
                                   (gss_OID)gss_mech_krb5, gss_flags, 0,
                                   GSS_C_NO_CHANNEL_BINDINGS, &in, NULL, &t2,
                                   NULL, NULL);
        gss_release_name(&min, &name);
        if (maj != GSS_S_COMPLETE)
            gss_fail("MIT initiator on hsmssp's AP-REP", maj, min);
        gss_release_buffer(&min, &t2);
    }
    FreeContextBuffer(rep);
    /* MIT's acceptor on the same AP-REQ (its own replay cache). */
    maj = mit_accept(mcred, tok.value, tok.length, &out);
    if (maj != GSS_S_COMPLETE)
        gss_fail("gss_accept_sec_context", maj, 0);
    check_ap_rep(etype, "mit", out.value, out.length, &o, full);
    gss_release_buffer(&min, &out);

    /* Replays: both acceptors answer with KRB_AP_ERR_REPEAT. */
    if (full) {
        assert_int_equal(hsmssp_accept(cred, tok.value, tok.length, asc_req,
                                       &rep, &rep_len),
                         SEC_E_INVALID_TOKEN);
        snprintf(label, sizeof(label), "gss-krb-error-hsmssp-repeat-e%d",
                 (int)etype);
        check_error(label, rep, rep_len, KERB_AP_ERR_REPEAT);
        FreeContextBuffer(rep);
        maj = mit_accept(mcred, tok.value, tok.length, &out);
        assert_true(GSS_ERROR(maj));
        assert_true(out.length > 0);
        snprintf(label, sizeof(label), "gss-krb-error-mit-repeat-e%d",
                 (int)etype);
        check_error(label, out.value, out.length, KERB_AP_ERR_REPEAT);
        gss_release_buffer(&min, &out);
    }
    opened_free(&o);
    gss_release_buffer(&min, &tok);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    gss_release_cred(&min, &mcred);
}

static void
test_captured(void **state)
{
    CredHandle cred;

    (void)state;
    hsmssp_runtime();
    acquire(NULL, &cred);
    for (size_t i = 0; i < BASE_ARRAY_LEN(all_etypes); i++)
        run_etype(all_etypes[i], &cred);
    FreeCredentialsHandle(&cred);
}

/* KRB-ERRORs for other failures: a ticket for another service (hsmssp:
 * KRB_AP_ERR_NOT_US; MIT: whatever its keytab lookup gives), and a
 * corrupted authenticator (KRB_AP_ERR_BAD_INTEGRITY). */
static void
test_errors(void **state)
{
    CredHandle cred;
    gss_cred_id_t mcred;
    gss_buffer_desc tok = {0}, out = {0};
    gss_ctx_id_t g;
    OM_uint32 maj, min;
    void *rep = NULL;
    size_t rep_len = 0;
    uint8_t *bad;

    (void)state;
    hsmssp_runtime();
    acquire("e18/localhost@" REALM, &cred);
    mcred = mit_acceptor_cred(18);
    mit_init(17, gss_flags, &g, &tok);
    assert_int_not_equal(
        hsmssp_accept(&cred, tok.value, tok.length, asc_req, &rep, &rep_len),
        SEC_E_OK);
    check_error("gss-krb-error-hsmssp-not-us", rep, rep_len,
                KERB_AP_ERR_NOT_US);
    FreeContextBuffer(rep);
    maj = mit_accept(mcred, tok.value, tok.length, &out);
    assert_true(GSS_ERROR(maj));
    if (out.length > 0)
        check_error("gss-krb-error-mit-wrong-service", out.value, out.length,
                    0);
    gss_release_buffer(&min, &out);
    gss_release_buffer(&min, &tok);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);

    /* The authenticator's ciphertext ends the token: flip its last byte. */
    mit_init(18, gss_flags, &g, &tok);
    bad = malloc(tok.length);
    assert_non_null(bad);
    memcpy(bad, tok.value, tok.length);
    bad[tok.length - 1] ^= 0x01;
    assert_int_not_equal(
        hsmssp_accept(&cred, bad, tok.length, asc_req, &rep, &rep_len),
        SEC_E_OK);
    check_error("gss-krb-error-hsmssp-bad-integrity", rep, rep_len,
                KERB_AP_ERR_BAD_INTEGRITY);
    FreeContextBuffer(rep);
    maj = mit_accept(mcred, bad, tok.length, &out);
    assert_true(GSS_ERROR(maj));
    if (out.length > 0)
        check_error("gss-krb-error-mit-bad-integrity", out.value, out.length,
                    KERB_AP_ERR_BAD_INTEGRITY);
    gss_release_buffer(&min, &out);
    free(bad);
    gss_release_buffer(&min, &tok);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    gss_release_cred(&min, &mcred);
    FreeCredentialsHandle(&cred);
}

/* Messages hsmssp's encoders write with every optional field (and none),
 * as MIT must read them; also the seeds' shapes no acceptor sends. */
static void
test_synthetic(void **state)
{
    static const uint8_t key[32] = {1, 2, 3};
    static const uint8_t cipher[40] = {9, 8, 7};
    static const uint8_t authz[] = {0x30, 0x0b, 0xa0, 0x03, 0x02, 0x01, 0x01,
                                    0xa1, 0x04, 0x04, 0x02, 0xca, 0xfe};
    uint8_t buf[1024];
    base_der_w w;
    base_der out;
    kerb_error e;
    kerb_authenticator a;
    kerb_enc_data ed = {18, true, 0xfffffffeu, base_der_view(cipher, 40)};
    char storage[64];
    base_der realm;

    (void)state;
    memset(&e, 0, sizeof(e));
    e.has_ctime = e.has_cusec = e.has_crealm = e.has_cname = true;
    e.has_etext = e.has_edata = true;
    e.ctime = 1700000000;
    e.cusec = 999999;
    e.stime = 4102444799; /* 2099-12-31 23:59:59 */
    e.susec = 0;
    e.code = KERB_AP_ERR_SKEW;
    e.crealm = base_der_view(REALM, strlen(REALM));
    TU_OK(kerb_principal_parse("alice/admin", KERB_NT_PRINCIPAL, storage,
                               &e.cname, &realm));
    e.realm = e.crealm;
    e.sname = e.cname;
    e.etext = base_der_view("clock skew too great", 20);
    e.edata = base_der_view(cipher, 5);
    base_der_w_init(&w, buf, sizeof(buf));
    kerb_enc_error(&w, &e);
    TU_OK(base_der_w_finish(&w, &out));
    pair_must(KP_ERROR, out, "KRB-ERROR, every field");
    seed("krb-error-synth-full", KP_ERROR, out.p, out.len);

    memset(&a, 0, sizeof(a));
    a.crealm = e.crealm;
    a.cname = e.cname;
    a.has_cksum = a.has_subkey = a.has_seq = a.has_authz = true;
    a.cksum.type = 16;
    a.cksum.value = base_der_view(cipher, 12);
    a.cusec = 1;
    a.ctime = 0;
    a.subkey.etype = 18;
    a.subkey.value = base_der_view(key, 32);
    a.seq = 0xffffffffu;
    a.authz = base_der_view(authz, sizeof(authz));
    base_der_w_init(&w, buf, sizeof(buf));
    kerb_enc_authenticator(&w, &a);
    TU_OK(base_der_w_finish(&w, &out));
    pair_must(KP_AUTH, out, "Authenticator, every field");
    seed("auth-synth-full", KP_AUTH, out.p, out.len);

    base_der_w_init(&w, buf, sizeof(buf));
    kerb_enc_enc_ap_rep_part(&w, 1700000000, 5, 0, NULL, 0, false, 0);
    TU_OK(base_der_w_finish(&w, &out));
    pair_must(KP_ENC_AP_REP, out, "EncAPRepPart, no subkey or seq");
    seed("enc-ap-rep-synth-min", KP_ENC_AP_REP, out.p, out.len);

    base_der_w_init(&w, buf, sizeof(buf));
    kerb_enc_ap_rep(&w, &ed);
    TU_OK(base_der_w_finish(&w, &out));
    /* kvno 2^32-2 (RFC 4120's UInt32): MIT 1.20 refuses it, the one
     * documented difference; 2^31-2 both accept. */
    {
        unsigned before = n_kvno_rfc;
        bool mit = true;

        assert_true(pair(KP_AP_REP, out, "AP-REP, kvno 2^32-2", &mit));
        assert_false(mit);
        assert_int_equal(n_kvno_rfc, before + 1);
    }
    seed("ap-rep-synth-kvno-2e32", KP_AP_REP, out.p, out.len);
    ed.kvno = 0x7ffffffeu;
    base_der_w_init(&w, buf, sizeof(buf));
    kerb_enc_ap_rep(&w, &ed);
    TU_OK(base_der_w_finish(&w, &out));
    pair_must(KP_AP_REP, out, "AP-REP, kvno 2^31-2");
    /* base_der_check with depth bound 4 on the same bytes. */
    memmove(buf + 1, out.p, out.len);
    buf[0] = 4;
    seed("der-synth-ap-rep", KP_DER, buf, out.len + 1);
}

/* ---- the corpus -------------------------------------------------------- */

/* Routes one corpus input as fuzz_krb_parse does (krbparse.h) to every
 * decoder pair it reaches. */
static void
oracle_input(const uint8_t *data, size_t size, const char *label)
{
    enum kp_sel sel;
    base_der in, oid, inner, msg;
    unsigned id = 0;
    kerb_gss_cksum ck;

    if (size == 0)
        return;
    sel = kp_selector(data[0]);
    in = base_der_view(data + 1, size - 1);
    if (sel == KP_ALL || sel == KP_GSS) {
        if (kerb_gss_unframe(in, &oid, &inner) == HSMSSP_OK &&
            kerb_gss_tok_id(inner, &id, &msg) == HSMSSP_OK) {
            if (id == KERB_TOK_AP_REQ)
                (void)pair(KP_AP_REQ, msg, label, NULL);
            else if (id == KERB_TOK_AP_REP)
                (void)pair(KP_AP_REP, msg, label, NULL);
            else if (id == KERB_TOK_ERROR)
                (void)pair(KP_ERROR, msg, label, NULL);
        }
    }
    if ((sel == KP_ALL || sel == KP_CKSUM) &&
        kerb_gss_cksum_parse(in, &ck) == HSMSSP_OK && ck.has_deleg)
        (void)pair(KP_CRED, ck.deleg, label, NULL);
    for (int k = KP_AP_REQ; k <= KP_ENC_CRED; k++)
        if (sel == KP_ALL || sel == (enum kp_sel)k)
            (void)pair((enum kp_sel)k, in, label, NULL);
}

static int
visible(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Every file of dir; returns how many. */
static size_t
oracle_dir(const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, visible, alphasort);
    size_t files = 0;

    if (n < 0)
        fail_msg("%s: %s", dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        char path[4096];
        uint8_t *buf;
        struct stat st;
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            (f = fopen(path, "rb")) != NULL) {
            buf = malloc((size_t)st.st_size + 1);
            assert_non_null(buf);
            if (fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
                oracle_input(buf, (size_t)st.st_size, names[i]->d_name);
                files++;
            }
            fclose(f);
            free(buf);
        }
        free(names[i]);
    }
    free(names);
    return files;
}

static void
print_stats(const char *title)
{
    print_message("%s\n  %-12s %8s %8s %8s %8s\n", title, "message", "inputs",
                  "hsmssp", "MIT", "both");
    for (int k = 0; k < KP_N; k++) {
        if (stats[k].tried == 0)
            continue;
        print_message("  %-12s %8u %8u %8u %8u\n", kp_name((enum kp_sel)k),
                      stats[k].tried, stats[k].hs_ok, stats[k].mit_ok,
                      stats[k].both);
    }
    print_message("  hsmssp more lenient than MIT: %u\n", n_lenient);
    print_message("  refused by MIT for an RFC-valid kvno >= 2^31 only: "
                  "%u\n",
                  n_kvno_rfc);
}

static void
test_corpus(void **state)
{
    const char *vec = getenv("HSMSSP_VECTORS"), *extra;
    char dir[4096];
    size_t files;
    unsigned both = 0;

    (void)state;
    memset(stats, 0, sizeof(stats));
    n_lenient = n_kvno_rfc = 0;
    assert_non_null(vec);
    snprintf(dir, sizeof(dir), "%s/../fuzz/corpus/fuzz_krb_parse", vec);
    files = oracle_dir(dir);
    extra = getenv("HSMSSP_ORACLE_CORPUS");
    if (extra != NULL && *extra != '\0') {
        char *list = strdup(extra), *save = NULL;

        assert_non_null(list);
        for (char *d = strtok_r(list, ":", &save); d != NULL;
             d = strtok_r(NULL, ":", &save))
            files += oracle_dir(d);
        free(list);
    }
    print_message("corpus: %zu inputs\n", files);
    print_stats("hsmssp's and MIT's decoders on the fuzz corpus:");
    for (int k = 0; k < KP_N; k++)
        both += stats[k].both;
    /* A corpus that reaches no decoder would prove nothing. */
    assert_true(files >= 20);
    assert_true(both >= 20);
    assert_int_equal(n_lenient, 0);
}

static int
reset_stats(void **state)
{
    (void)state;
    memset(stats, 0, sizeof(stats));
    n_lenient = n_kvno_rfc = 0;
    return 0;
}

static int
show_stats(void **state)
{
    (void)state;
    print_stats("hsmssp's and MIT's decoders on the captured messages:");
    return 0;
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest captured[] = {
        cmocka_unit_test(test_captured),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_synthetic),
    };
    const struct CMUnitTest corpus[] = {
        cmocka_unit_test(test_corpus),
    };
    int rc;

    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        seed_dir = argv[2];
    else if (argc != 1) {
        fprintf(stderr, "usage: %s [--write-seeds DIR]\n", argv[0]);
        return 2;
    }
    realm_setup();
    rc = cmocka_run_group_tests_name("captured", captured, reset_stats,
                                     show_stats);
    if (seed_dir != NULL)
        printf("wrote %u seeds to %s\n", n_seeds, seed_dir);
    else
        rc |= cmocka_run_group_tests_name("corpus", corpus, NULL, NULL);
    krb5_free_context(kc);
    return rc;
}
