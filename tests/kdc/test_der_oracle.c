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
 * The KDC exchanges (issue #4, provider/kerberos/kerb_asn1_kdc.c), with
 * MIT's encode_krb5_as_req, _tgs_req, _pa_enc_ts, _cred and
 * _enc_cred_part and decode_krb5_as_req, _tgs_req, _as_rep, _tgs_rep,
 * _enc_kdc_rep_part, _etype_info2, _padata_sequence and _pa_enc_ts:
 *  - hsmssp's encodings (AS-REQ and TGS-REQ with every field and with
 *    the fewest, PA-ENC-TS-ENC, KRB-CRED, EncKrbCredPart) are decoded by
 *    both to the same fields, and MIT's encoder, given MIT's decoding,
 *    writes the same bytes back (DER has one encoding per value);
 *  - real exchanges with the realm's KDC, over UDP and TCP, from requests
 *    that hsmssp's encoders write: AS-REQs for alice (no preauth needed:
 *    the AS-REP carries ETYPE-INFO2 in its padata) with and without
 *    PA-ENC-TIMESTAMP, enc-parts decrypted with alice's keytab key (usage
 *    3); a TGS-REQ with the TGT (PA-TGS-REQ authenticator checksummed
 *    with usage 6, encrypted with usage 7), its TGS-REP's enc-part
 *    decrypted with the TGT session key (usage 8); for a principal this
 *    test adds with requires_preauth and salt type "special" (a random
 *    salt), the KDC_ERR_PREAUTH_REQUIRED error, its METHOD-DATA and
 *    ETYPE-INFO2 for three enctypes, string-to-key from the decoded salt
 *    and s2kparams, and a wrong key's KDC_ERR_PREAUTH_FAILED; an unknown
 *    client's KDC_ERR_C_PRINCIPAL_UNKNOWN.  Every reply is decoded by
 *    both and compared field by field (the EncKDCRepPart tag with MIT's
 *    msg_type), and a KRB-CRED for the TGT built as hsmssp delegates.
 * A nonce >= 2^31 in its positive (RFC 4120 UInt32) spelling is, like a
 * big kvno, counted apart: MIT 1.20 reads nonces as Int32.
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
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../fuzz/krbparse.h"
#include "hsmssp/sspi.h"
#include "kdcutil.h"
#include "provider/kerberos/kerb-int.h"
#include "provider/kerberos/kerb_asn1-int.h"
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

/* The KDC exchanges.  krb5_kdc_req, krb5_kdc_rep, krb5_enc_kdc_rep_part
 * and krb5_pa_data are in <krb5.h>; these two structures are in MIT's
 * k5-int.h only (1.20: src/include/k5-int.h), declared here as there. */
typedef struct _krb5_etype_info_entry {
    krb5_magic magic;
    krb5_enctype etype;
    unsigned int length; /* KRB5_ETYPE_NO_SALT: no salt */
    krb5_octet *salt;
    krb5_data s2kparams;
} krb5_etype_info_entry;
#define KRB5_ETYPE_NO_SALT VALID_UINT_BITS

typedef struct _krb5_pa_enc_ts {
    krb5_timestamp patimestamp;
    krb5_int32 pausec;
} krb5_pa_enc_ts;

krb5_error_code encode_krb5_as_req(const krb5_kdc_req *, krb5_data **);
krb5_error_code encode_krb5_tgs_req(const krb5_kdc_req *, krb5_data **);
krb5_error_code decode_krb5_as_req(const krb5_data *, krb5_kdc_req **);
krb5_error_code decode_krb5_tgs_req(const krb5_data *, krb5_kdc_req **);
krb5_error_code decode_krb5_as_rep(const krb5_data *, krb5_kdc_rep **);
krb5_error_code decode_krb5_tgs_rep(const krb5_data *, krb5_kdc_rep **);
krb5_error_code decode_krb5_enc_kdc_rep_part(const krb5_data *,
                                             krb5_enc_kdc_rep_part **);
krb5_error_code decode_krb5_etype_info2(const krb5_data *,
                                        krb5_etype_info_entry ***);
krb5_error_code decode_krb5_padata_sequence(const krb5_data *,
                                            krb5_pa_data ***);
krb5_error_code encode_krb5_pa_enc_ts(const krb5_pa_enc_ts *, krb5_data **);
krb5_error_code decode_krb5_pa_enc_ts(const krb5_data *, krb5_pa_enc_ts **);
krb5_error_code encode_krb5_cred(const krb5_cred *, krb5_data **);
krb5_error_code encode_krb5_enc_cred_part(const krb5_cred_enc_part *,
                                          krb5_data **);
void KRB5_CALLCONV krb5_free_kdc_req(krb5_context, krb5_kdc_req *);
void KRB5_CALLCONV krb5_free_kdc_rep(krb5_context, krb5_kdc_rep *);
void KRB5_CALLCONV krb5_free_enc_kdc_rep_part(krb5_context,
                                              krb5_enc_kdc_rep_part *);
void KRB5_CALLCONV krb5_free_pa_data(krb5_context, krb5_pa_data **);
void krb5_free_etype_info(krb5_context, krb5_etype_info_entry **);
void krb5_free_pa_enc_ts(krb5_context, krb5_pa_enc_ts *);

static krb5_context kc;
static const char *realm_dir, *work; /* ku_realm(), ku_work() */
static const char *seed_dir; /* --write-seeds DIR */
static unsigned n_seeds;
static bool seeded_etypes;

#define REALM KU_REALM

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

/* PA-DATA entries (hsmssp's array) against MIT's NULL-terminated one. */
static bool
cmp_padata(const char *what, const kerb_pa_data *h, size_t n,
           krb5_pa_data *const *m)
{
    size_t i = 0;

    for (; i < n; i++) {
        EXPECT(m != NULL && m[i] != NULL, "%s: MIT lacks PA-DATA %zu", what,
               i);
        EXPECT(m[i]->pa_type == h[i].type &&
                   bytes_eq(h[i].value, m[i]->contents, m[i]->length),
               "%s: PA-DATA %zu (type %d / MIT %d)", what, i, (int)h[i].type,
               (int)m[i]->pa_type);
    }
    EXPECT(m == NULL || m[i] == NULL, "%s: MIT has more PA-DATA", what);
    return true;
}

static bool
cmp_kdc_req(const kerb_kdc_req_dec *d, const krb5_kdc_req *m)
{
    const kerb_kdc_req *r = &d->req;
    size_t i = 0;

    EXPECT((int64_t)m->msg_type == r->msg_type, "msg-type %d / MIT %d",
           (int)r->msg_type, (int)m->msg_type);
    if (!cmp_padata("KDC-REQ padata", r->padata, r->n_padata, m->padata))
        return false;
    EXPECT((uint32_t)m->kdc_options == r->kdc_options,
           "kdc-options %08x / MIT %08x", (unsigned)r->kdc_options,
           (unsigned)m->kdc_options);
    /* MIT puts the one realm field into both principals. */
    EXPECT(r->has_cname == (m->client != NULL), "cname presence");
    if (r->has_cname && !cmp_princ("cname", &r->cname, r->realm, m->client))
        return false;
    EXPECT(r->has_sname == (m->server != NULL), "sname presence");
    if (r->has_sname && !cmp_princ("sname", &r->sname, r->realm, m->server))
        return false;
    EXPECT(time_eq(r->has_from ? r->from : 0, m->from), "from");
    EXPECT(time_eq(r->till, m->till), "till");
    EXPECT(time_eq(r->has_rtime ? r->rtime : 0, m->rtime), "rtime");
    EXPECT((uint32_t)m->nonce == r->nonce, "nonce %u / MIT %u",
           (unsigned)r->nonce, (unsigned)m->nonce);
    EXPECT(m->nktypes >= 0 && (size_t)m->nktypes == r->n_etypes,
           "%zu etypes / MIT %d", r->n_etypes, m->nktypes);
    for (i = 0; i < r->n_etypes; i++)
        EXPECT(m->ktype[i] == r->etypes[i], "etype %zu", i);
    if (!cmp_addrs("addresses", d->has_addresses, d->addresses, m->addresses))
        return false;
    EXPECT(r->has_authz == (m->authorization_data.ciphertext.data != NULL),
           "enc-authorization-data presence");
    if (r->has_authz && !cmp_enc("enc-authorization-data", &r->enc_authz,
                                 &m->authorization_data))
        return false;
    for (i = 0; i < r->n_additional; i++) {
        kerb_ticket t;

        EXPECT(m->second_ticket != NULL && m->second_ticket[i] != NULL,
               "MIT lacks additional ticket %zu", i);
        EXPECT(kerb_dec_ticket(r->additional[i], &t) == HSMSSP_OK,
               "additional ticket %zu", i);
        if (!cmp_ticket("additional ticket", &t, m->second_ticket[i]))
            return false;
    }
    EXPECT(m->second_ticket == NULL || m->second_ticket[i] == NULL,
           "MIT has more additional tickets");
    return true;
}

static bool
cmp_kdc_rep(const kerb_kdc_rep *r, const krb5_kdc_rep *m)
{
    EXPECT((int64_t)m->msg_type == r->msg_type, "msg-type %d / MIT %d",
           (int)r->msg_type, (int)m->msg_type);
    return cmp_padata("KDC-REP padata", r->padata, r->n_padata, m->padata) &&
           cmp_princ("cname", &r->cname, r->crealm, m->client) &&
           cmp_ticket("KDC-REP ticket", &r->ticket, m->ticket) &&
           cmp_enc("KDC-REP enc-part", &r->enc, &m->enc_part);
}

/* LastReq contents against MIT's array. */
static bool
cmp_last_req(base_der list, krb5_last_req_entry *const *m)
{
    base_der one, v;
    int64_t type, t;
    size_t i = 0;

    for (; list.len > 0; i++) {
        EXPECT(
            base_der_get(&list, BASE_DER_SEQUENCE, &one, NULL) == HSMSSP_OK &&
                base_der_get_field(&one, 0, BASE_DER_INTEGER, &v) ==
                    HSMSSP_OK &&
                base_der_int(v, INT32_MIN, INT32_MAX, &type) == HSMSSP_OK &&
                base_der_get_field(&one, 1, BASE_DER_GENERALIZED_TIME, &v) ==
                    HSMSSP_OK &&
                base_der_ktime(v, &t) == HSMSSP_OK,
            "last-req %zu unreadable", i);
        EXPECT(m != NULL && m[i] != NULL, "MIT lacks last-req %zu", i);
        EXPECT(m[i]->lr_type == type && time_eq(t, m[i]->value),
               "last-req %zu (type %d / MIT %d)", i, (int)type,
               (int)m[i]->lr_type);
    }
    EXPECT(m == NULL || m[i] == NULL, "MIT has more last-req entries");
    return true;
}

static bool
cmp_enc_kdc_rep(const kerb_enc_kdc_rep_part *e, unsigned app,
                const krb5_enc_kdc_rep_part *m)
{
    kerb_pa_data pa[KERB_MAX_PADATA];
    size_t n = 0;

    EXPECT(m->msg_type == (app == 25 ? (krb5_msgtype)KRB5_AS_REP
                                     : (krb5_msgtype)KRB5_TGS_REP),
           "[APPLICATION %u] / MIT msg_type %d", app, (int)m->msg_type);
    if (!cmp_key("session key", &e->key, m->session) ||
        !cmp_last_req(e->last_req, m->last_req))
        return false;
    EXPECT((uint32_t)m->nonce == e->nonce, "nonce %u / MIT %u",
           (unsigned)e->nonce, (unsigned)m->nonce);
    EXPECT(time_eq(e->has_key_expiration ? e->key_expiration : 0, m->key_exp),
           "key-expiration");
    EXPECT((uint32_t)m->flags == e->flags, "flags %08x / MIT %08x",
           (unsigned)e->flags, (unsigned)m->flags);
    EXPECT(time_eq(e->authtime, m->times.authtime), "authtime");
    /* MIT fills an absent starttime with authtime. */
    EXPECT(time_eq(e->has_starttime ? e->starttime : e->authtime,
                   m->times.starttime),
           "starttime");
    EXPECT(time_eq(e->endtime, m->times.endtime), "endtime");
    EXPECT(time_eq(e->has_renew_till ? e->renew_till : 0, m->times.renew_till),
           "renew-till");
    if (!cmp_princ("sname", &e->sname, e->srealm, m->server) ||
        !cmp_addrs("caddr", e->has_caddr, e->caddr, m->caddrs))
        return false;
    if (e->has_enc_padata)
        EXPECT(kerb_dec_padata_seq(e->enc_padata, pa, KERB_MAX_PADATA, &n) ==
                   HSMSSP_OK,
               "encrypted-pa-data unreadable");
    else
        EXPECT(m->enc_padata == NULL, "MIT has encrypted-pa-data");
    return cmp_padata("encrypted-pa-data", pa, n, m->enc_padata);
}

static bool
cmp_etype_info2(const kerb_etype_info2 *h, size_t n,
                krb5_etype_info_entry *const *m)
{
    size_t i = 0;

    for (; i < n; i++) {
        EXPECT(m != NULL && m[i] != NULL, "MIT lacks entry %zu", i);
        EXPECT(m[i]->etype == h[i].etype, "entry %zu: etype %d / MIT %d", i,
               (int)h[i].etype, (int)m[i]->etype);
        EXPECT(h[i].has_salt == (m[i]->length != KRB5_ETYPE_NO_SALT),
               "entry %zu: salt presence", i);
        if (h[i].has_salt)
            EXPECT(bytes_eq(h[i].salt, m[i]->salt, m[i]->length),
                   "entry %zu: salt", i);
        /* MIT keeps an absent s2kparams as an empty one. */
        EXPECT(data_eq(h[i].s2kparams, &m[i]->s2kparams),
               "entry %zu: s2kparams", i);
    }
    EXPECT(m == NULL || m[i] == NULL, "MIT has more entries");
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

/* The same for a nonce (KDC-REQ, EncKDCRepPart): UInt32 in RFC 4120, an
 * Int32 to MIT 1.20. */
static unsigned n_nonce_rfc;

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
    bool hs = false, mit = false, same = true, big = false, bign = false;
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
    case KP_KDC_REQ: {
        static kerb_kdc_req_dec h;
        krb5_kdc_req *m = NULL;
        bool tgs = in.len > 0 && in.p[0] == BASE_DER_APP(KERB_MSG_TGS_REQ);

        hs = kerb_dec_kdc_req(in, &h) == HSMSSP_OK;
        bign = hs && h.req.nonce >= 0x80000000u;
        big = hs && h.req.has_authz && big_kvno(&h.req.enc_authz);
        for (size_t i = 0; hs && i < h.req.n_additional; i++) {
            kerb_ticket t;

            big = big ||
                  (kerb_dec_ticket(h.req.additional[i], &t) == HSMSSP_OK &&
                   big_kvno(&t.enc));
        }
        mc = tgs ? decode_krb5_tgs_req(&d, &m) : decode_krb5_as_req(&d, &m);
        mit = mc == 0;
        if (hs && mit)
            same = cmp_kdc_req(&h, m);
        krb5_free_kdc_req(kc, m);
        break;
    }
    case KP_KDC_REP: {
        static kerb_kdc_rep h;
        krb5_kdc_rep *m = NULL;
        bool tgs = in.len > 0 && in.p[0] == BASE_DER_APP(KERB_MSG_TGS_REP);

        hs = kerb_dec_kdc_rep(in, &h) == HSMSSP_OK;
        big = hs && (big_kvno(&h.enc) || big_kvno(&h.ticket.enc));
        mc = tgs ? decode_krb5_tgs_rep(&d, &m) : decode_krb5_as_rep(&d, &m);
        mit = mc == 0;
        if (hs && mit)
            same = cmp_kdc_rep(&h, m);
        krb5_free_kdc_rep(kc, m);
        break;
    }
    case KP_ENC_KDC_REP: {
        static kerb_enc_kdc_rep_part h;
        krb5_enc_kdc_rep_part *m = NULL;
        unsigned app = 0;

        hs = kerb_dec_enc_kdc_rep_part(in, &h, &app) == HSMSSP_OK;
        bign = hs && h.nonce >= 0x80000000u;
        mit = (mc = decode_krb5_enc_kdc_rep_part(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_enc_kdc_rep(&h, app, m);
        krb5_free_enc_kdc_rep_part(kc, m);
        break;
    }
    case KP_PADATA: {
        kerb_pa_data h[KERB_MAX_PADATA];
        krb5_pa_data **m = NULL;
        size_t n = 0;

        hs = kerb_dec_padata_seq(in, h, KERB_MAX_PADATA, &n) == HSMSSP_OK;
        mit = (mc = decode_krb5_padata_sequence(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_padata("METHOD-DATA", h, n, m);
        krb5_free_pa_data(kc, m);
        break;
    }
    case KP_ETYPE_INFO2: {
        kerb_etype_info2 h[KERB_MAX_ETYPES];
        krb5_etype_info_entry **m = NULL;
        size_t n = 0;

        hs = kerb_dec_etype_info2(in, h, KERB_MAX_ETYPES, &n) == HSMSSP_OK;
        mit = (mc = decode_krb5_etype_info2(&d, &m)) == 0;
        if (hs && mit)
            same = cmp_etype_info2(h, n, m);
        krb5_free_etype_info(kc, m);
        break;
    }
    case KP_PA_ENC_TS: {
        krb5_pa_enc_ts *m = NULL;
        int64_t ts = 0;
        int32_t us = 0;
        bool has = false;

        hs = kerb_dec_pa_enc_ts(in, &ts, &has, &us) == HSMSSP_OK;
        mit = (mc = decode_krb5_pa_enc_ts(&d, &m)) == 0;
        if (hs && mit) {
            same = time_eq(ts, m->patimestamp) && m->pausec == us;
            if (!same)
                snprintf(why, sizeof(why), "patimestamp or pausec");
        }
        krb5_free_pa_enc_ts(kc, m);
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
    } else if (hs && !mit && bign) {
        n_nonce_rfc++;
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
    } else if (sel == KP_ENC_KDC_REP) {
        kerb_enc_kdc_rep_part e;
        unsigned app;

        TU_OK(kerb_dec_enc_kdc_rep_part(c, &e, &app));
        fill(e.key.value);
    }
    seed(name, sel, copy, in.len);
    free(copy);
}

/* ---- realm, MIT side -------------------------------------------------- */

static void
realm_setup(void)
{
    realm_dir = ku_realm();
    work = ku_work("oracle", NULL);
    /* Forwardable: the delegation cases carry alice's TGT in a
     * KRB-CRED. */
    if (!ku_kinit("alice", "alice.cc", true))
        tu_skip("kinit for alice failed");
    if (krb5_init_context(&kc) != 0)
        tu_skip("krb5_init_context failed");
}

/* The service name eNN@localhost. */
static gss_name_t
svc_name(int32_t etype)
{
    char s[16];

    snprintf(s, sizeof(s), "e%d", (int)etype);
    return ku_gss_service(s);
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
        ku_gss_fail("gss_init_sec_context", maj, min);
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
    char name[16], princ[64];

    snprintf(name, sizeof(name), "e%d", (int)etype);
    snprintf(princ, sizeof(princ), "e%d/localhost@" REALM, (int)etype);
    return ku_keytab_key(kc, name, princ, kvno, etype);
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
    prov_env *env = NULL;
    hsm_token *tok = NULL;

    ku_configure(TU_NSS,
                 "[policy]\n    permitted_enctypes = DEFAULT arcfour-hmac\n"
                 "[kerberos]\n    rcache = %s/rcache-%u\n",
                 work, n);
    n++;
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

/* MIT's acceptor credential for eNN/localhost. */
static gss_cred_id_t
mit_acceptor_cred(int32_t etype)
{
    char name[16];

    snprintf(name, sizeof(name), "e%d", (int)etype);
    return ku_mit_acceptor(name);
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
            ku_gss_fail("MIT initiator on hsmssp's AP-REP", maj, min);
        gss_release_buffer(&min, &t2);
    }
    FreeContextBuffer(rep);
    /* MIT's acceptor on the same AP-REQ (its own replay cache). */
    maj = mit_accept(mcred, tok.value, tok.length, &out);
    if (maj != GSS_S_COMPLETE)
        ku_gss_fail("gss_accept_sec_context", maj, 0);
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
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &cred);
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
    ku_acquire("e18/localhost@" REALM, SECPKG_CRED_INBOUND, &cred);
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

/* ---- the KDC exchanges: helpers ----------------------------------------- */

/* An encoding in a buffer of its own. */
typedef struct wbuf {
    uint8_t b[16384];
    base_der der;
} wbuf;

static void
wbuf_init(wbuf *o, base_der_w *w)
{
    base_der_w_init(w, o->b, sizeof(o->b));
}

static void
wbuf_done(wbuf *o, const base_der_w *w)
{
    TU_OK(base_der_w_finish(w, &o->der));
}

/* MIT decodes in as k and encodes its decoding again: DER has one
 * encoding per value, so the bytes must be hsmssp's. */
static void
mit_same_bytes(enum kp_sel k, base_der in, const char *label)
{
    krb5_data d = {KV5M_DATA, (unsigned int)in.len, (char *)in.p};
    krb5_data *out = NULL;
    krb5_error_code ret = 0;

    switch (k) {
    case KP_KDC_REQ: {
        krb5_kdc_req *m = NULL;

        if (in.p[0] == BASE_DER_APP(KERB_MSG_TGS_REQ)) {
            assert_int_equal(decode_krb5_tgs_req(&d, &m), 0);
            ret = encode_krb5_tgs_req(m, &out);
        } else {
            assert_int_equal(decode_krb5_as_req(&d, &m), 0);
            ret = encode_krb5_as_req(m, &out);
        }
        krb5_free_kdc_req(kc, m);
        break;
    }
    case KP_PA_ENC_TS: {
        krb5_pa_enc_ts *m = NULL;

        assert_int_equal(decode_krb5_pa_enc_ts(&d, &m), 0);
        ret = encode_krb5_pa_enc_ts(m, &out);
        krb5_free_pa_enc_ts(kc, m);
        break;
    }
    case KP_CRED: {
        krb5_cred *m = NULL;

        assert_int_equal(decode_krb5_cred(&d, &m), 0);
        ret = encode_krb5_cred(m, &out);
        krb5_free_cred(kc, m);
        break;
    }
    case KP_ENC_CRED: {
        krb5_cred_enc_part *m = NULL;

        assert_int_equal(decode_krb5_enc_cred_part(&d, &m), 0);
        ret = encode_krb5_enc_cred_part(m, &out);
        krb5_free_cred_enc_part(kc, m);
        free(m);
        break;
    }
    default:
        fail_msg("mit_same_bytes: no MIT encoder for %s", kp_name(k));
    }
    if (ret != 0)
        fail_msg("%s: MIT cannot encode its decoding (%d)", label, (int)ret);
    if (!bytes_eq(in, out->data, out->length))
        fail_msg("%s: MIT encodes the same %s in %u bytes, hsmssp in %zu, "
                 "or with other bytes",
                 label, kp_name(k), out->length, in.len);
    krb5_free_data(kc, out);
}

/* Both decoders agree on an encoding of hsmssp's, and MIT writes it back
 * byte for byte. */
static void
both_read_ours(enum kp_sel k, base_der in, const char *label)
{
    pair_must(k, in, label);
    mit_same_bytes(k, in, label);
}

/* A Ticket as a KDC writes it, for the synthetic messages. */
static void
make_ticket(wbuf *o, const kerb_principal *sname, const kerb_enc_data *ed)
{
    base_der_w w;
    size_t mf;

    wbuf_init(o, &w);
    mf = base_der_w_len(&w);
    kerb_enc_enc_data(&w, ed);
    wrap_field(&w, mf, 3);
    mf = base_der_w_len(&w);
    kerb_enc_principal(&w, sname);
    wrap_field(&w, mf, 2);
    w_prim_field(&w, 1, BASE_DER_GENERAL_STRING, REALM, strlen(REALM));
    w_int_field(&w, 0, KERB_PVNO);
    wrap_app(&w, 0, 1);
    wbuf_done(o, &w);
}

/* in with its top-level field [n] (of [APPLICATION a] SEQUENCE) replaced
 * by repl, a whole "[n] ..." encoding. */
static void
replace_field(base_der in, unsigned n, base_der repl, wbuf *o)
{
    base_der body, seq, f[16];
    unsigned tag, app = in.p[0];
    size_t k = 0;
    base_der_w w;

    assert_int_equal(base_der_get_any(&in, &tag, &body, NULL), 0);
    assert_int_equal(base_der_get(&body, BASE_DER_SEQUENCE, &seq, NULL), 0);
    while (seq.len > 0 && k < BASE_ARRAY_LEN(f)) {
        assert_int_equal(base_der_get_any(&seq, &tag, NULL, &f[k]), 0);
        if (tag == BASE_DER_CTX(n))
            f[k] = repl;
        k++;
    }
    wbuf_init(o, &w);
    for (size_t i = k; i > 0; i--)
        base_der_w_raw(&w, f[i - 1].p, f[i - 1].len);
    base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w));
    base_der_w_wrap(&w, app, base_der_w_len(&w));
    wbuf_done(o, &w);
}

/* ---- hsmssp's encodings, read by MIT ------------------------------------ */

static char st_alice[64], st_tgt[64], st_svc[64];
static kerb_principal p_alice, p_tgt, p_svc;

static void
names(void)
{
    base_der r;

    TU_OK(kerb_principal_parse("alice", KERB_NT_PRINCIPAL, st_alice, &p_alice,
                               &r));
    TU_OK(kerb_principal_parse("krbtgt/" REALM, KERB_NT_SRV_INST, st_tgt,
                               &p_tgt, &r));
    TU_OK(kerb_principal_parse("e18/localhost", KERB_NT_SRV_HST, st_svc,
                               &p_svc, &r));
}

/* Every field of every message hsmssp's encoders write (and the KDC side
 * kerb_asn1-int.h adds), through both decoders; hsmssp's requests and
 * delegation messages also through MIT's encoders. */
static void
test_kdc_synthetic(void **state)
{
    static const uint8_t cipher[64] = {7, 6, 5, 4, 3, 2, 1};
    static const uint8_t key[32] = {0x11, 0x22, 0x33};
    static const uint8_t s2k[4] = {0, 0, 0x10, 0};
    static const uint8_t addrs[] = {0x30, 0x0d, 0xa0, 0x03, 0x02,
                                    0x01, 0x02, 0xa1, 0x06, 0x04,
                                    0x04, 0x7f, 0x00, 0x00, 0x01};
    static const uint8_t last_req[] = {
        0x30, 0x18, 0xa0, 0x03, 0x02, 0x01, 0x00, 0xa1, 0x11,
        0x18, 0x0f, '2',  '0',  '2',  '3',  '1',  '1',  '1',
        '4',  '2',  '2',  '1',  '3',  '2',  '0',  'Z'};
    static const int32_t etypes[] = {18, 17, 20, 19, 23, -133};
    static wbuf t1, t2, body, msg, x;
    kerb_enc_data ed1 = {18, true, 3, base_der_view(cipher, 64)};
    kerb_enc_data ed2 = {23, false, 0, base_der_view(cipher, 33)};
    kerb_pa_data pa[3];
    kerb_etype_info2 ei[3];
    base_der ad[2];
    kerb_kdc_req r;
    static kerb_kdc_rep rep;
    static kerb_enc_kdc_rep_part ep;
    kerb_cred_info ci;
    base_der_w w;

    (void)state;
    names();
    make_ticket(&t1, &p_tgt, &ed1);
    make_ticket(&t2, &p_svc, &ed2);
    ad[0] = t1.der;
    ad[1] = t2.der;
    pa[0] = (kerb_pa_data){KERB_PA_ENC_TIMESTAMP, base_der_view(cipher, 52)};
    pa[1] = (kerb_pa_data){KERB_PA_PAC_REQUEST,
                           base_der_view("\x30\x05\xa0\x03\x01\x01\xff", 7)};
    pa[2] = (kerb_pa_data){KERB_PA_ETYPE_INFO2, base_der_view(NULL, 0)};

    /* AS-REQ and TGS-REQ with every field, then with the fewest. */
    memset(&r, 0, sizeof(r));
    r.msg_type = KERB_MSG_AS_REQ;
    r.padata = pa;
    r.n_padata = 2;
    r.kdc_options = KERB_KDC_OPT_FORWARDABLE | KERB_KDC_OPT_RENEWABLE_OK |
                    KERB_KDC_OPT_CANONICALIZE;
    r.has_cname = r.has_sname = r.has_from = r.has_rtime = true;
    r.cname = p_alice;
    r.realm = base_der_view(REALM, strlen(REALM));
    r.sname = p_tgt;
    r.from = 1700000000;
    r.till = 1700036000;
    r.rtime = 1700086400;
    /* >= 2^31: written as the negative Int32 MIT reads and writes. */
    r.nonce = 0xfedcba98u;
    r.etypes = etypes;
    r.n_etypes = BASE_ARRAY_LEN(etypes);
    r.has_authz = true;
    r.enc_authz = ed2;
    for (int tgs = 0; tgs <= 1; tgs++) {
        if (tgs) {
            r.msg_type = KERB_MSG_TGS_REQ;
            r.has_cname = false;
            r.sname = p_svc;
            r.additional = ad;
            r.n_additional = 2;
        }
        wbuf_init(&body, &w);
        kerb_enc_kdc_req_body(&w, &r);
        wbuf_done(&body, &w);
        wbuf_init(&msg, &w);
        kerb_enc_kdc_req(&w, &r, body.der);
        wbuf_done(&msg, &w);
        both_read_ours(KP_KDC_REQ, msg.der,
                       tgs ? "TGS-REQ, every field" : "AS-REQ, every field");
        seed(tgs ? "tgs-req-synth-full" : "as-req-synth-full", KP_KDC_REQ,
             msg.der.p, msg.der.len);
    }
    memset(&r, 0, sizeof(r));
    r.msg_type = KERB_MSG_AS_REQ;
    r.realm = base_der_view(REALM, strlen(REALM));
    r.has_sname = true;
    r.sname = p_tgt;
    r.till = 0;
    r.etypes = etypes;
    r.n_etypes = 1;
    wbuf_init(&body, &w);
    kerb_enc_kdc_req_body(&w, &r);
    wbuf_done(&body, &w);
    wbuf_init(&msg, &w);
    kerb_enc_kdc_req(&w, &r, body.der);
    wbuf_done(&msg, &w);
    both_read_ours(KP_KDC_REQ, msg.der, "AS-REQ, fewest fields");

    /* PA-ENC-TS-ENC (MIT omits a pausec of 0, so not 0 here). */
    wbuf_init(&x, &w);
    kerb_enc_pa_enc_ts(&w, 1700000000, 999999);
    wbuf_done(&x, &w);
    both_read_ours(KP_PA_ENC_TS, x.der, "PA-ENC-TS-ENC");
    seed("pa-enc-ts-synth", KP_PA_ENC_TS, x.der.p, x.der.len);

    /* KRB-CRED; EncKrbCredPart with every KrbCredInfo field. */
    wbuf_init(&x, &w);
    kerb_enc_krb_cred(&w, t1.der, &ed1);
    wbuf_done(&x, &w);
    both_read_ours(KP_CRED, x.der, "KRB-CRED");
    seed("krb-cred-hsmssp-synth", KP_CRED, x.der.p, x.der.len);
    memset(&ci, 0, sizeof(ci));
    ci.key.etype = 18;
    ci.key.value = base_der_view(key, 32);
    ci.has_prealm = ci.has_pname = ci.has_flags = ci.has_authtime = true;
    ci.has_starttime = ci.has_endtime = ci.has_renew_till = true;
    ci.has_srealm = ci.has_sname = true;
    ci.prealm = ci.srealm = base_der_view(REALM, strlen(REALM));
    ci.pname = p_alice;
    ci.sname = p_tgt;
    ci.flags = KERB_TKT_FORWARDED | KERB_TKT_FORWARDABLE | KERB_TKT_RENEWABLE;
    ci.authtime = 1700000000;
    ci.starttime = 1700000001;
    ci.endtime = 1700036000;
    ci.renew_till = 1700086400;
    wbuf_init(&x, &w);
    kerb_enc_enc_cred_part(&w, &ci, true, 1700000002, 17);
    wbuf_done(&x, &w);
    both_read_ours(KP_ENC_CRED, x.der, "EncKrbCredPart, every field");
    seed_plain("enc-cred-hsmssp-synth", KP_ENC_CRED, x.der);

    /* The KDC side: METHOD-DATA, ETYPE-INFO2, AS-REP, EncKDCRepPart. */
    wbuf_init(&x, &w);
    kerb_enc_padata_seq(&w, pa, 3);
    wbuf_done(&x, &w);
    pair_must(KP_PADATA, x.der, "METHOD-DATA");
    seed("method-data-synth", KP_PADATA, x.der.p, x.der.len);
    memset(ei, 0, sizeof(ei));
    ei[0] = (kerb_etype_info2){
        18, true, base_der_view("HSMSSP.TESTalice", 16), false, {NULL, 0}};
    ei[1] =
        (kerb_etype_info2){20, false, {NULL, 0}, true, base_der_view(s2k, 4)};
    ei[2] = (kerb_etype_info2){23, true, base_der_view("", 0), true,
                               base_der_view(NULL, 0)};
    wbuf_init(&x, &w);
    kerb_enc_etype_info2(&w, ei, 3);
    wbuf_done(&x, &w);
    pair_must(KP_ETYPE_INFO2, x.der, "ETYPE-INFO2, every shape");
    seed("etype-info2-synth", KP_ETYPE_INFO2, x.der.p, x.der.len);
    memset(&rep, 0, sizeof(rep));
    rep.msg_type = KERB_MSG_AS_REP;
    rep.padata[0] = (kerb_pa_data){KERB_PA_ETYPE_INFO2, x.der};
    rep.padata[1] = pa[1];
    rep.n_padata = 2;
    rep.crealm = base_der_view(REALM, strlen(REALM));
    rep.cname = p_alice;
    TU_OK(kerb_dec_ticket(t1.der, &rep.ticket));
    rep.enc = ed1;
    wbuf_init(&msg, &w);
    kerb_enc_kdc_rep(&w, &rep);
    wbuf_done(&msg, &w);
    pair_must(KP_KDC_REP, msg.der, "AS-REP, every field");
    seed("as-rep-synth-full", KP_KDC_REP, msg.der.p, msg.der.len);

    memset(&ep, 0, sizeof(ep));
    ep.key.etype = 18;
    ep.key.value = base_der_view(key, 32);
    ep.last_req = base_der_view(last_req, sizeof(last_req));
    ep.nonce = 0x7ffffffeu;
    ep.has_key_expiration = ep.has_starttime = ep.has_renew_till = true;
    ep.key_expiration = 1800000000;
    ep.flags = KERB_TKT_INITIAL | KERB_TKT_RENEWABLE | KERB_TKT_PRE_AUTHENT;
    ep.authtime = 1700000000;
    ep.starttime = 1700000001;
    ep.endtime = 1700036000;
    ep.renew_till = 1700086400;
    ep.srealm = base_der_view(REALM, strlen(REALM));
    ep.sname = p_tgt;
    /* HostAddresses contents: one HostAddress. */
    ep.has_caddr = true;
    ep.caddr = base_der_view(addrs, sizeof(addrs));
    ep.has_enc_padata = true;
    wbuf_init(&body, &w);
    kerb_enc_padata_seq(&w, pa + 1, 1);
    wbuf_done(&body, &w);
    ep.enc_padata = body.der;
    for (unsigned app = 25; app <= 26; app++) {
        wbuf_init(&x, &w);
        kerb_enc_enc_kdc_rep_part(&w, &ep, app);
        wbuf_done(&x, &w);
        pair_must(KP_ENC_KDC_REP, x.der,
                  app == 25 ? "EncASRepPart, every field"
                            : "EncTGSRepPart, every field");
    }
    seed_plain("enc-kdc-rep-synth-full", KP_ENC_KDC_REP, x.der);

    /* The RFC spelling of a nonce >= 2^31: hsmssp reads it, MIT 1.20
     * does not (counted apart, like a big kvno). */
    {
        unsigned before = n_nonce_rfc;
        bool mit = true;
        static wbuf f, y;

        wbuf_init(&f, &w);
        w_int_field(&w, 2, 0x80000001LL);
        wbuf_done(&f, &w);
        replace_field(x.der, 2, f.der, &y);
        assert_true(
            pair(KP_ENC_KDC_REP, y.der, "EncKDCRepPart, nonce 2^31+1", &mit));
        assert_false(mit);
        assert_int_equal(n_nonce_rfc, before + 1);
        seed_plain("enc-kdc-rep-synth-nonce-2e31", KP_ENC_KDC_REP, y.der);
    }
}

/* ---- exchanges with the realm's KDC ------------------------------------- */

static int kdc_port;

static void
kdc_port_init(void)
{
    const char *env = getenv("HSMSSP_KDC_PORT");
    char path[700];
    FILE *f;

    if (env != NULL && *env != '\0') {
        kdc_port = atoi(env);
    } else {
        /* realm-setup.sh writes the port beside env.sh. */
        snprintf(path, sizeof(path), "%s/kdc.port", realm_dir);
        f = fopen(path, "r");
        assert_non_null(f);
        assert_int_equal(fscanf(f, "%d", &kdc_port), 1);
        fclose(f);
    }
    assert_true(kdc_port > 0 && kdc_port < 65536);
}

/* Reads or writes exactly n bytes (TCP). */
static void
io_all(int fd, void *p, size_t n, bool write_it)
{
    uint8_t *b = p;

    while (n > 0) {
        ssize_t k = write_it ? write(fd, b, n) : read(fd, b, n);

        if (k <= 0)
            fail_msg("KDC TCP %s: %s", write_it ? "write" : "read",
                     k == 0 ? "closed" : strerror(errno));
        b += k;
        n -= (size_t)k;
    }
}

/* Sends req to the realm's KDC on 127.0.0.1 over UDP (three tries) or
 * TCP (RFC 4120 sec. 7.2.2: a 4-octet big-endian length first); returns
 * the reply, malloc'ed. */
static uint8_t *
kdc_send(bool tcp, base_der req, size_t *len_out)
{
    struct sockaddr_in sa;
    struct timeval tv = {5, 0};
    uint8_t *buf = malloc(65536), hdr[4];
    ssize_t n = -1;
    int fd;

    assert_non_null(buf);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)kdc_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)),
                     0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        fail_msg("connect to the KDC (port %d): %s", kdc_port,
                 strerror(errno));
    if (tcp) {
        base_store_be32(hdr, (uint32_t)req.len);
        io_all(fd, hdr, 4, true);
        io_all(fd, (void *)req.p, req.len, true);
        io_all(fd, hdr, 4, false);
        n = (ssize_t)base_load_be32(hdr);
        assert_true(n > 0 && n <= 65536);
        io_all(fd, buf, (size_t)n, false);
    } else {
        for (int tries = 0; tries < 3 && n <= 0; tries++) {
            assert_int_equal(send(fd, req.p, req.len, 0), (ssize_t)req.len);
            n = recv(fd, buf, 65536, 0);
        }
        if (n <= 0)
            fail_msg("no answer from the KDC over UDP: %s", strerror(errno));
    }
    close(fd);
    *len_out = (size_t)n;
    return buf;
}

/* The long-term key of a realm user from its keytab. */
static krb5_keyblock *
user_key(const char *user, krb5_enctype etype)
{
    char princ[64];

    snprintf(princ, sizeof(princ), "%s@" REALM, user);
    return ku_keytab_key(kc, user, princ, 0, etype);
}

/* krb5_c_encrypt of plain into an EncryptedData (cipher in *store,
 * malloc'ed). */
static kerb_enc_data
encrypt_with(const krb5_keyblock *key, krb5_keyusage usage, base_der plain,
             uint8_t **store)
{
    krb5_data in = {KV5M_DATA, (unsigned int)plain.len, (char *)plain.p};
    krb5_enc_data out;
    size_t len = 0;
    kerb_enc_data ed;

    assert_int_equal(krb5_c_encrypt_length(kc, key->enctype, plain.len, &len),
                     0);
    *store = malloc(len);
    assert_non_null(*store);
    memset(&out, 0, sizeof(out));
    out.ciphertext.length = (unsigned int)len;
    out.ciphertext.data = (char *)*store;
    assert_int_equal(krb5_c_encrypt(kc, key, usage, NULL, &in, &out), 0);
    memset(&ed, 0, sizeof(ed));
    ed.etype = key->enctype;
    ed.cipher = base_der_view(*store, out.ciphertext.length);
    return ed;
}

/* A KDC-REQ as hsmssp's initiator will write it: body, then message. */
static void
build_req(kerb_kdc_req *r, wbuf *body, wbuf *msg)
{
    base_der_w w;

    wbuf_init(body, &w);
    kerb_enc_kdc_req_body(&w, r);
    wbuf_done(body, &w);
    wbuf_init(msg, &w);
    kerb_enc_kdc_req(&w, r, body->der);
    wbuf_done(msg, &w);
}

/* An AS-REQ for user with the given etypes and padata. */
static void
as_req(kerb_kdc_req *r, const kerb_principal *user, const int32_t *etypes,
       size_t n_etypes, const kerb_pa_data *pa, size_t n_pa, uint32_t nonce)
{
    memset(r, 0, sizeof(*r));
    r->msg_type = KERB_MSG_AS_REQ;
    r->padata = pa;
    r->n_padata = n_pa;
    r->kdc_options = KERB_KDC_OPT_FORWARDABLE | KERB_KDC_OPT_RENEWABLE_OK;
    r->has_cname = true;
    r->cname = *user;
    r->realm = base_der_view(REALM, strlen(REALM));
    r->has_sname = true;
    r->sname = p_tgt;
    r->till = (int64_t)time(NULL) + 3600;
    r->nonce = nonce;
    r->etypes = etypes;
    r->n_etypes = n_etypes;
}

/* A random nonce below 2^31, as MIT and hsmssp pick them. */
static uint32_t
new_nonce(void)
{
    static uint32_t x;

    if (x == 0)
        x = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
    x = x * 1103515245u + 12345u;
    return x & 0x7fffffffu;
}

/* What one AS or TGS exchange gave: the reply (owned) and, for a
 * KDC-REP, its decrypted enc-part (krb5_free_data_contents). */
typedef struct reply {
    uint8_t *buf;
    base_der der;
    bool is_error;
    kerb_error err;
    kerb_kdc_rep rep;
    krb5_data plain;
    kerb_enc_kdc_rep_part part;
    unsigned app;
} reply;

static void
reply_free(reply *x)
{
    krb5_free_data_contents(kc, &x->plain);
    free(x->buf);
    memset(x, 0, sizeof(*x));
}

/* Sends an hsmssp-encoded request after both decoders (and MIT's
 * encoder) agreed on it; compares the answer in both decoders: a
 * KRB-ERROR with its METHOD-DATA and ETYPE-INFO2, or a KDC-REP whose
 * enc-part key (usage) opens, with its EncKDCRepPart and padata. */
static void
exchange(const char *label, base_der req, bool tcp, const krb5_keyblock *key,
         krb5_keyusage usage, reply *x)
{
    char l2[160];
    size_t len = 0;

    memset(x, 0, sizeof(*x));
    both_read_ours(KP_KDC_REQ, req, label);
    x->buf = kdc_send(tcp, req, &len);
    x->der = base_der_view(x->buf, len);
    x->is_error = x->buf[0] == BASE_DER_APP(KERB_MSG_ERROR);
    if (x->is_error) {
        snprintf(l2, sizeof(l2), "%s: KRB-ERROR", label);
        pair_must(KP_ERROR, x->der, l2);
        TU_OK(kerb_dec_error(x->der, &x->err));
        if (x->err.has_edata &&
            (x->err.code == KERB_KDC_ERR_PREAUTH_REQUIRED ||
             x->err.code == KERB_KDC_ERR_PREAUTH_FAILED)) {
            kerb_pa_data pa[KERB_MAX_PADATA];
            size_t n = 0;

            snprintf(l2, sizeof(l2), "%s: METHOD-DATA", label);
            pair_must(KP_PADATA, x->err.edata, l2);
            TU_OK(kerb_dec_padata_seq(x->err.edata, pa, KERB_MAX_PADATA, &n));
            for (size_t i = 0; i < n; i++)
                if (pa[i].type == KERB_PA_ETYPE_INFO2) {
                    snprintf(l2, sizeof(l2), "%s: ETYPE-INFO2", label);
                    pair_must(KP_ETYPE_INFO2, pa[i].value, l2);
                }
        }
        return;
    }
    if (key == NULL)
        fail_msg("%s: the KDC answered without the KRB-ERROR expected", label);
    snprintf(l2, sizeof(l2), "%s: reply", label);
    pair_must(KP_KDC_REP, x->der, l2);
    TU_OK(kerb_dec_kdc_rep(x->der, &x->rep));
    for (size_t i = 0; i < x->rep.n_padata; i++)
        if (x->rep.padata[i].type == KERB_PA_ETYPE_INFO2) {
            snprintf(l2, sizeof(l2), "%s: reply's ETYPE-INFO2", label);
            pair_must(KP_ETYPE_INFO2, x->rep.padata[i].value, l2);
        }
    {
        krb5_enc_data ed;

        memset(&ed, 0, sizeof(ed));
        ed.enctype = x->rep.enc.etype;
        ed.kvno = x->rep.enc.kvno;
        ed.ciphertext.length = (unsigned int)x->rep.enc.cipher.len;
        ed.ciphertext.data = (char *)x->rep.enc.cipher.p;
        if (mit_decrypt(key, usage, &ed, &x->plain) != 0)
            fail_msg("%s: the reply's enc-part does not open (usage %d)",
                     label, (int)usage);
    }
    snprintf(l2, sizeof(l2), "%s: EncKDCRepPart", label);
    pair_must(KP_ENC_KDC_REP, view_of(&x->plain), l2);
    TU_OK(kerb_dec_enc_kdc_rep_part(view_of(&x->plain), &x->part, &x->app));
}

/* The EncKDCRepPart's session key as an MIT keyblock (a view: do not
 * free its contents). */
static krb5_keyblock
session_of(const reply *x)
{
    krb5_keyblock k;

    memset(&k, 0, sizeof(k));
    k.magic = KV5M_KEYBLOCK;
    k.enctype = x->part.key.etype;
    k.length = (unsigned int)x->part.key.value.len;
    k.contents = (krb5_octet *)x->part.key.value.p;
    return k;
}

/* PA-ENC-TIMESTAMP for now under key, into pa (cipher in *store). */
static void
enc_timestamp(const krb5_keyblock *key, kerb_pa_data *pa, wbuf *ts,
              wbuf *ed_out, uint8_t **store, const char *seed_name)
{
    struct timespec now;
    base_der_w w;
    kerb_enc_data ed;

    clock_gettime(CLOCK_REALTIME, &now);
    wbuf_init(ts, &w);
    /* pausec 0 is written too; MIT would omit it: keep it >= 1 so MIT's
     * encoder agrees byte for byte. */
    kerb_enc_pa_enc_ts(&w, now.tv_sec, (int32_t)(now.tv_nsec / 1000) | 1);
    wbuf_done(ts, &w);
    both_read_ours(KP_PA_ENC_TS, ts->der, "PA-ENC-TS-ENC");
    if (seed_name != NULL)
        seed(seed_name, KP_PA_ENC_TS, ts->der.p, ts->der.len);
    ed = encrypt_with(key, 1, ts->der, store);
    wbuf_init(ed_out, &w);
    kerb_enc_enc_data(&w, &ed);
    wbuf_done(ed_out, &w);
    pa->type = KERB_PA_ENC_TIMESTAMP;
    pa->value = ed_out->der;
}

static bool
kadmin(const char *query)
{
    char cmd[2048];

    snprintf(cmd, sizeof(cmd),
             "KRB5_KDC_PROFILE=%s/kdc.conf PATH=$PATH:/usr/sbin "
             "kadmin.local -r " REALM " -q '%s' >/dev/null 2>&1",
             realm_dir, query);
    return system(cmd) == 0;
}

/* The AS exchange for alice (no preauth required: the AS-REP carries
 * ETYPE-INFO2), with and without PA-ENC-TIMESTAMP, over UDP and TCP; the
 * TGS exchange for each eNN service with the TGT; a KRB-CRED for the
 * TGT as hsmssp delegates it. */
static void
test_kdc_alice(void **state)
{
    static const int32_t etypes[] = {18, 17, 20, 19, 23};
    static wbuf body, msg, ts, edb, auth, apreq, cred, encpart;
    krb5_keyblock *alice = NULL, tgt_key, svc_key;
    kerb_pa_data pa[2];
    kerb_kdc_req r;
    reply as1, as2, tgs;
    uint8_t *store = NULL, *store2 = NULL;
    uint32_t nonce;
    char label[96];
    base_der_w w;

    (void)state;
    names();
    kdc_port_init();
    alice = user_key("alice", 18);

    /* Without padata, over UDP. */
    nonce = new_nonce();
    as_req(&r, &p_alice, etypes, BASE_ARRAY_LEN(etypes), NULL, 0, nonce);
    build_req(&r, &body, &msg);
    exchange("AS-REQ alice", msg.der, false, alice, 3, &as1);
    if (as1.is_error)
        fail_msg("AS-REQ alice: KRB-ERROR %d", (int)as1.err.code);
    assert_int_equal(as1.part.nonce, nonce);
    assert_true(kerb_principal_eq(&as1.part.sname, &p_tgt));
    assert_true(kerb_realm_eq(as1.part.srealm, REALM));
    assert_true(kerb_realm_eq(as1.rep.crealm, REALM));
    assert_int_equal(as1.rep.msg_type, KERB_MSG_AS_REP);
    /* MIT writes both enc-parts [APPLICATION 26]: reported, accepted. */
    print_message("AS-REP enc-part from MIT: [APPLICATION %u]\n", as1.app);
    seed("as-req-hsmssp", KP_KDC_REQ, msg.der.p, msg.der.len);
    seed("as-rep-mit-e18", KP_KDC_REP, as1.der.p, as1.der.len);
    seed_plain("enc-as-rep-mit-e18", KP_ENC_KDC_REP, view_of(&as1.plain));
    for (size_t i = 0; i < as1.rep.n_padata; i++)
        if (as1.rep.padata[i].type == KERB_PA_ETYPE_INFO2)
            seed("etype-info2-mit-as-rep", KP_ETYPE_INFO2,
                 as1.rep.padata[i].value.p, as1.rep.padata[i].value.len);

    /* With PA-ENC-TIMESTAMP and PA-PAC-REQUEST, over TCP. */
    enc_timestamp(alice, &pa[0], &ts, &edb, &store, "pa-enc-ts-hsmssp");
    pa[1] = (kerb_pa_data){KERB_PA_PAC_REQUEST,
                           base_der_view("\x30\x05\xa0\x03\x01\x01\xff", 7)};
    nonce = new_nonce();
    as_req(&r, &p_alice, etypes, BASE_ARRAY_LEN(etypes), pa, 2, nonce);
    build_req(&r, &body, &msg);
    exchange("AS-REQ alice, PA-ENC-TIMESTAMP, TCP", msg.der, true, alice, 3,
             &as2);
    assert_false(as2.is_error);
    assert_int_equal(as2.part.nonce, nonce);
    assert_true(as2.part.flags & KERB_TKT_PRE_AUTHENT);
    seed("as-req-hsmssp-enc-ts", KP_KDC_REQ, msg.der.p, msg.der.len);
    tgt_key = session_of(&as2);

    /* TGS exchanges with the TGT for every service. */
    for (size_t e = 0; e < BASE_ARRAY_LEN(all_etypes); e++) {
        char st[64];
        kerb_principal svc;
        base_der rlm;
        kerb_authenticator a;
        kerb_enc_data aed;
        krb5_checksum ck;
        krb5_data bd;
        kerb_pa_data tgs_pa;
        int32_t want = all_etypes[e];

        snprintf(label, sizeof(label), "e%d/localhost", (int)want);
        TU_OK(kerb_principal_parse(label, KERB_NT_SRV_HST, st, &svc, &rlm));
        memset(&r, 0, sizeof(r));
        r.msg_type = KERB_MSG_TGS_REQ;
        r.kdc_options = KERB_KDC_OPT_FORWARDABLE | KERB_KDC_OPT_CANONICALIZE;
        r.realm = base_der_view(REALM, strlen(REALM));
        r.has_sname = true;
        r.sname = svc;
        r.till = (int64_t)time(NULL) + 3600;
        r.nonce = nonce = new_nonce();
        r.etypes = &all_etypes[e];
        r.n_etypes = 1;
        /* The body first: the authenticator's checksum covers it (RFC
         * 4120 sec. 7.5.1 usage 6), then the authenticator (usage 7). */
        wbuf_init(&body, &w);
        kerb_enc_kdc_req_body(&w, &r);
        wbuf_done(&body, &w);
        bd = (krb5_data){KV5M_DATA, (unsigned int)body.der.len,
                         (char *)body.der.p};
        assert_int_equal(krb5_c_make_checksum(kc, 0, &tgt_key, 6, &bd, &ck),
                         0);
        memset(&a, 0, sizeof(a));
        a.crealm = base_der_view(REALM, strlen(REALM));
        a.cname = p_alice;
        a.has_cksum = true;
        a.cksum.type = ck.checksum_type;
        a.cksum.value = base_der_view(ck.contents, ck.length);
        a.ctime = (int64_t)time(NULL);
        a.cusec = 12345;
        wbuf_init(&auth, &w);
        kerb_enc_authenticator(&w, &a);
        wbuf_done(&auth, &w);
        aed = encrypt_with(&tgt_key, 7, auth.der, &store2);
        wbuf_init(&apreq, &w);
        kerb_enc_ap_req(&w, 0, as2.rep.ticket.whole, &aed);
        wbuf_done(&apreq, &w);
        tgs_pa = (kerb_pa_data){KERB_PA_TGS_REQ, apreq.der};
        r.padata = &tgs_pa;
        r.n_padata = 1;
        wbuf_init(&msg, &w);
        kerb_enc_kdc_req(&w, &r, body.der);
        wbuf_done(&msg, &w);
        snprintf(label, sizeof(label), "TGS-REQ e%d", (int)want);
        exchange(label, msg.der, e % 2 == 1, &tgt_key, 8, &tgs);
        if (tgs.is_error)
            fail_msg("%s: KRB-ERROR %d", label, (int)tgs.err.code);
        assert_int_equal(tgs.rep.msg_type, KERB_MSG_TGS_REP);
        assert_int_equal(tgs.app, 26);
        assert_int_equal(tgs.part.nonce, nonce);
        assert_int_equal(tgs.part.key.etype, want);
        assert_true(kerb_principal_eq(&tgs.part.sname, &svc));
        assert_int_equal(tgs.rep.ticket.enc.etype, want);
        krb5_free_checksum_contents(kc, &ck);
        free(store2);
        store2 = NULL;
        if (want == 18) {
            seed("tgs-req-hsmssp-e18", KP_KDC_REQ, msg.der.p, msg.der.len);
            seed("tgs-rep-mit-e18", KP_KDC_REP, tgs.der.p, tgs.der.len);
            seed_plain("enc-tgs-rep-mit-e18", KP_ENC_KDC_REP,
                       view_of(&tgs.plain));
        }
        if (want == 23)
            seed_plain("enc-tgs-rep-mit-e23", KP_ENC_KDC_REP,
                       view_of(&tgs.plain));
        if (want != 18) {
            reply_free(&tgs);
            continue;
        }

        /* Delegation of the TGT to e18, as ISC_REQ_DELEGATE will: the
         * EncKrbCredPart from the AS-REP, under the service ticket's
         * session key (usage 14). */
        {
            kerb_cred_info ci;
            kerb_enc_data ced;
            struct timespec now;

            memset(&ci, 0, sizeof(ci));
            ci.key = as2.part.key;
            ci.has_prealm = ci.has_pname = ci.has_flags = true;
            ci.has_authtime = ci.has_endtime = ci.has_srealm = true;
            ci.has_sname = true;
            ci.prealm = as2.rep.crealm;
            ci.pname = as2.rep.cname;
            ci.flags = as2.part.flags;
            ci.authtime = as2.part.authtime;
            ci.has_starttime = as2.part.has_starttime;
            ci.starttime = as2.part.starttime;
            ci.endtime = as2.part.endtime;
            ci.has_renew_till = as2.part.has_renew_till;
            ci.renew_till = as2.part.renew_till;
            ci.srealm = as2.part.srealm;
            ci.sname = as2.part.sname;
            clock_gettime(CLOCK_REALTIME, &now);
            wbuf_init(&encpart, &w);
            kerb_enc_enc_cred_part(&w, &ci, true, now.tv_sec,
                                   (int32_t)(now.tv_nsec / 1000) | 1);
            wbuf_done(&encpart, &w);
            both_read_ours(KP_ENC_CRED, encpart.der, "EncKrbCredPart");
            svc_key = session_of(&tgs);
            ced = encrypt_with(&svc_key, 14, encpart.der, &store2);
            wbuf_init(&cred, &w);
            kerb_enc_krb_cred(&w, as2.rep.ticket.whole, &ced);
            wbuf_done(&cred, &w);
            both_read_ours(KP_CRED, cred.der, "KRB-CRED");
            seed("krb-cred-hsmssp-e18", KP_CRED, cred.der.p, cred.der.len);
            seed_plain("enc-cred-hsmssp-e18", KP_ENC_CRED, encpart.der);
            free(store2);
            store2 = NULL;
        }
        reply_free(&tgs);
    }
    reply_free(&as1);
    reply_free(&as2);
    free(store);
    krb5_free_keyblock(kc, alice);
}

/* A principal with requires_preauth and random ("special") salts: the
 * KDC_ERR_PREAUTH_REQUIRED error, its METHOD-DATA and ETYPE-INFO2; the
 * key made from the password and the salt hsmssp decoded opens the
 * AS-REP; a wrong password gives KDC_ERR_PREAUTH_FAILED.  Also an unknown
 * client.  The principal is removed at the end. */
static void
test_kdc_preauth(void **state)
{
    static const int32_t lists[][5] = {{18, 17, 20, 19, 23}, {19}, {20}};
    static const size_t lens[] = {5, 1, 1};
    static wbuf body, msg, ts, edb;
    char name[64], query[256], pw[64], st[64];
    kerb_principal user;
    base_der rlm;
    kerb_kdc_req r;
    reply x, y;
    uint8_t *store = NULL;

    (void)state;
    names();
    kdc_port_init();
    snprintf(name, sizeof(name), "oracle-preauth-%ld", (long)getpid());
    snprintf(pw, sizeof(pw), "Pw-%08x-%ld", new_nonce(), (long)time(NULL));
    snprintf(query, sizeof(query),
             "addprinc -pw %s -e aes256-cts:special,aes128-sha2:normal,"
             "aes256-sha2:special +requires_preauth %s",
             pw, name);
    assert_true(kadmin(query));
    TU_OK(kerb_principal_parse(name, KERB_NT_PRINCIPAL, st, &user, &rlm));

    for (size_t l = 0; l < BASE_ARRAY_LEN(lists); l++) {
        kerb_pa_data pa[KERB_MAX_PADATA], out[2];
        kerb_etype_info2 ei[KERB_MAX_ETYPES];
        size_t n = 0, n_ei = 0, n_out = 0;
        krb5_keyblock key;
        krb5_data pwd = {KV5M_DATA, (unsigned int)strlen(pw), pw};
        krb5_data salt, params;
        char label[96];

        snprintf(label, sizeof(label), "AS-REQ preauth, etype %d",
                 (int)lists[l][0]);
        as_req(&r, &user, lists[l], lens[l], NULL, 0, new_nonce());
        build_req(&r, &body, &msg);
        exchange(label, msg.der, l == 1, NULL, 0, &x);
        assert_true(x.is_error);
        assert_int_equal(x.err.code, KERB_KDC_ERR_PREAUTH_REQUIRED);
        assert_true(x.err.has_edata);
        TU_OK(kerb_dec_padata_seq(x.err.edata, pa, KERB_MAX_PADATA, &n));
        for (size_t i = 0; i < n; i++) {
            if (pa[i].type == KERB_PA_ETYPE_INFO2)
                TU_OK(kerb_dec_etype_info2(pa[i].value, ei, KERB_MAX_ETYPES,
                                           &n_ei));
            /* RFC 6113 sec. 5.2: the client echoes PA-FX-COOKIE. */
            if (pa[i].type == 133)
                out[n_out++] = pa[i];
        }
        assert_true(n_ei >= 1);
        assert_int_equal(ei[0].etype, lists[l][0]);
        if (l == 0) {
            seed("krb-error-mit-preauth-required", KP_ERROR, x.der.p,
                 x.der.len);
            seed("method-data-mit-preauth-required", KP_PADATA, x.err.edata.p,
                 x.err.edata.len);
        }
        for (size_t i = 0; i < n; i++)
            if (pa[i].type == KERB_PA_ETYPE_INFO2) {
                char sn[64];

                snprintf(sn, sizeof(sn), "etype-info2-mit-e%d",
                         (int)lists[l][0]);
                seed(sn, KP_ETYPE_INFO2, pa[i].value.p, pa[i].value.len);
            }

        /* string-to-key with what hsmssp decoded (the salt is random for
         * 18 and 20, so a wrong reading cannot open the reply). */
        salt = (krb5_data){KV5M_DATA, (unsigned int)ei[0].salt.len,
                           (char *)ei[0].salt.p};
        params = (krb5_data){KV5M_DATA, (unsigned int)ei[0].s2kparams.len,
                             (char *)ei[0].s2kparams.p};
        assert_true(ei[0].has_salt);
        assert_int_equal(krb5_c_string_to_key_with_params(
                             kc, ei[0].etype, &pwd, &salt,
                             ei[0].has_s2kparams ? &params : NULL, &key),
                         0);
        enc_timestamp(&key, &out[n_out], &ts, &edb, &store, NULL);
        as_req(&r, &user, lists[l], lens[l], out, n_out + 1, new_nonce());
        build_req(&r, &body, &msg);
        snprintf(label, sizeof(label), "AS-REQ preauth, etype %d, enc-ts",
                 (int)lists[l][0]);
        exchange(label, msg.der, l != 1, &key, 3, &y);
        if (y.is_error)
            fail_msg("%s: KRB-ERROR %d", label, (int)y.err.code);
        assert_int_equal(y.rep.enc.etype, ei[0].etype);
        reply_free(&y);
        free(store);
        store = NULL;

        /* The wrong key: PREAUTH_FAILED. */
        if (l == 0) {
            key.contents[0] ^= 1;
            enc_timestamp(&key, &out[n_out], &ts, &edb, &store, NULL);
            as_req(&r, &user, lists[l], lens[l], out, n_out + 1, new_nonce());
            build_req(&r, &body, &msg);
            exchange("AS-REQ preauth, wrong key", msg.der, false, NULL, 0, &y);
            assert_true(y.is_error);
            assert_int_equal(y.err.code, KERB_KDC_ERR_PREAUTH_FAILED);
            seed("krb-error-mit-preauth-failed", KP_ERROR, y.der.p, y.der.len);
            reply_free(&y);
            free(store);
            store = NULL;
        }
        krb5_free_keyblock_contents(kc, &key);
        reply_free(&x);
    }

    /* An unknown client. */
    {
        char st2[64];
        kerb_principal nobody;
        static const int32_t e18[] = {18};

        TU_OK(kerb_principal_parse("nobody-here", KERB_NT_PRINCIPAL, st2,
                                   &nobody, &rlm));
        as_req(&r, &nobody, e18, 1, NULL, 0, new_nonce());
        build_req(&r, &body, &msg);
        exchange("AS-REQ unknown client", msg.der, false, NULL, 0, &x);
        assert_true(x.is_error);
        assert_int_equal(x.err.code, KERB_KDC_ERR_C_PRINCIPAL_UNKNOWN);
        seed("krb-error-mit-c-principal-unknown", KP_ERROR, x.der.p,
             x.der.len);
        reply_free(&x);
    }
    snprintf(query, sizeof(query), "delprinc -force %s", name);
    assert_true(kadmin(query));
}

/* ---- the corpus -------------------------------------------------------- */

/* The ETYPE-INFO2 values among n PA-DATA, through both decoders. */
static void
follow_etype_info2(const kerb_pa_data *pa, size_t n, const char *label)
{
    for (size_t i = 0; i < n; i++)
        if (pa[i].type == KERB_PA_ETYPE_INFO2)
            (void)pair(KP_ETYPE_INFO2, pa[i].value, label, NULL);
}

/* The messages inside messages that the initiator reads next, as
 * fuzz_krb_parse follows them: a KRB-ERROR's e-data as METHOD-DATA, the
 * ETYPE-INFO2 in METHOD-DATA and in a KDC-REP's padata, the
 * encrypted-pa-data of an EncKDCRepPart. */
static void
follow_inner(enum kp_sel sel, base_der in, const char *label)
{
    kerb_pa_data pa[KERB_MAX_PADATA];
    static kerb_kdc_rep r;
    static kerb_enc_kdc_rep_part e;
    kerb_error err;
    size_t n = 0;
    unsigned app;

    if ((sel == KP_ALL || sel == KP_ERROR) &&
        kerb_dec_error(in, &err) == HSMSSP_OK && err.has_edata) {
        (void)pair(KP_PADATA, err.edata, label, NULL);
        if (kerb_dec_padata_seq(err.edata, pa, KERB_MAX_PADATA, &n) ==
            HSMSSP_OK)
            follow_etype_info2(pa, n, label);
    }
    if ((sel == KP_ALL || sel == KP_PADATA) &&
        kerb_dec_padata_seq(in, pa, KERB_MAX_PADATA, &n) == HSMSSP_OK)
        follow_etype_info2(pa, n, label);
    if ((sel == KP_ALL || sel == KP_KDC_REP) &&
        kerb_dec_kdc_rep(in, &r) == HSMSSP_OK)
        follow_etype_info2(r.padata, r.n_padata, label);
    if ((sel == KP_ALL || sel == KP_ENC_KDC_REP) &&
        kerb_dec_enc_kdc_rep_part(in, &e, &app) == HSMSSP_OK &&
        e.has_enc_padata)
        (void)pair(KP_PADATA, e.enc_padata, label, NULL);
}

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
    for (int k = KP_KDC_REQ; k <= KP_PA_ENC_TS; k++)
        if (sel == KP_ALL || sel == (enum kp_sel)k)
            (void)pair((enum kp_sel)k, in, label, NULL);
    follow_inner(sel, in, label);
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
    print_message("  refused by MIT for an RFC-valid nonce >= 2^31 only: "
                  "%u\n",
                  n_nonce_rfc);
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
    n_lenient = n_kvno_rfc = n_nonce_rfc = 0;
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
    n_lenient = n_kvno_rfc = n_nonce_rfc = 0;
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
        cmocka_unit_test(test_captured),  cmocka_unit_test(test_errors),
        cmocka_unit_test(test_synthetic), cmocka_unit_test(test_kdc_synthetic),
        cmocka_unit_test(test_kdc_alice), cmocka_unit_test(test_kdc_preauth),
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
