/*
 * provider/kerberos/kerb_asn1.h - RFC 4120 messages on the zero-copy DER
 * codec (base/der.h).
 *
 * Decoders fill plain structs of views (base_der) that point into the
 * caller's input: nothing is allocated and nothing is copied, so a
 * plaintext decrypted into a base_secret (EncTicketPart, Authenticator,
 * EncAPRepPart, EncKrbCredPart) is parsed in place and its key field is
 * a view into locked memory.  The structs live as long as the input
 * does; the caller wipes the input, which wipes every "copy".
 *
 * Decoders are strict DER and check what RFC 4120 fixes (pvno 5,
 * msg-type, field order, required fields, no trailing bytes).  Two
 * tolerances, both documented in DESIGN sec. 5: MIT's [APPLICATION 26]
 * tag for an AS-REP enc-part (issue 4), and unknown context fields past
 * the last known one in extensible types, which are skipped after a
 * well-formedness check bounded by KERB_ASN1_MAX_DEPTH.
 *
 * Encoders write through a base_der_w (reverse writer) that the caller
 * points at an ordinary buffer or at a base_secret when the encoding
 * carries a key.
 *
 * Bounds (documented in docs/sspi.md, Limits): at most KERB_MAX_COMPONENTS name
 * components, KERB_MAX_CRED_TICKETS tickets in a KRB-CRED.
 */
#ifndef HSMSSP_KERB_ASN1_H
#define HSMSSP_KERB_ASN1_H

#include "base/der.h"

#define KERB_PVNO 5
#define KERB_MAX_COMPONENTS 8
#define KERB_MAX_CRED_TICKETS 4
#define KERB_ASN1_MAX_DEPTH 16

/* Message types (RFC 4120 sec. 7.5.7) and their application tags. */
#define KERB_MSG_AS_REQ 10
#define KERB_MSG_AS_REP 11
#define KERB_MSG_TGS_REQ 12
#define KERB_MSG_TGS_REP 13
#define KERB_MSG_AP_REQ 14
#define KERB_MSG_AP_REP 15
#define KERB_MSG_CRED 22
#define KERB_MSG_ERROR 30

/* AP options (RFC 4120 sec. 5.5.1), bit 0 = most significant. */
#define KERB_AP_OPT_USE_SESSION_KEY 0x40000000u
#define KERB_AP_OPT_MUTUAL_REQUIRED 0x20000000u

/* Ticket flags (RFC 4120 sec. 5.3). */
#define KERB_TKT_FORWARDABLE 0x40000000u
#define KERB_TKT_FORWARDED 0x20000000u
#define KERB_TKT_PROXIABLE 0x10000000u
#define KERB_TKT_PROXY 0x08000000u
#define KERB_TKT_MAY_POSTDATE 0x04000000u
#define KERB_TKT_POSTDATED 0x02000000u
#define KERB_TKT_INVALID 0x01000000u
#define KERB_TKT_RENEWABLE 0x00800000u
#define KERB_TKT_INITIAL 0x00400000u
#define KERB_TKT_PRE_AUTHENT 0x00200000u
#define KERB_TKT_HW_AUTHENT 0x00100000u
#define KERB_TKT_TRANSITED_CHECKED 0x00080000u
#define KERB_TKT_OK_AS_DELEGATE 0x00040000u

/* Authorization data types (RFC 4120 sec. 7.5.4, RFC 4537, MS-PAC). */
#define KERB_AD_IF_RELEVANT 1
#define KERB_AD_WIN2K_PAC 128
#define KERB_AD_ETYPE_NEGOTIATION 129

/* Name types. */
#define KERB_NT_UNKNOWN 0
#define KERB_NT_PRINCIPAL 1
#define KERB_NT_SRV_INST 2
#define KERB_NT_SRV_HST 3

/* KRB-ERROR codes that hsmssp sends or interprets (RFC 4120 sec. 7.5.9). */
#define KERB_KDC_ERR_ETYPE_NOSUPP 14
#define KERB_AP_ERR_BAD_INTEGRITY 31
#define KERB_AP_ERR_TKT_EXPIRED 32
#define KERB_AP_ERR_TKT_NYV 33
#define KERB_AP_ERR_REPEAT 34
#define KERB_AP_ERR_NOT_US 35
#define KERB_AP_ERR_BADMATCH 36
#define KERB_AP_ERR_SKEW 37
#define KERB_AP_ERR_BADADDR 38
#define KERB_AP_ERR_BADVERSION 39
#define KERB_AP_ERR_MSG_TYPE 40
#define KERB_AP_ERR_MODIFIED 41
#define KERB_AP_ERR_BADORDER 42
#define KERB_AP_ERR_BADKEYVER 44
#define KERB_AP_ERR_NOKEY 45
#define KERB_AP_ERR_MUT_FAIL 46
#define KERB_AP_ERR_INAPP_CKSUM 50
#define KERB_ERR_GENERIC 60

/* PrincipalName: the name components are views; the realm travels
 * beside it in every message. */
typedef struct kerb_principal {
    int32_t type;
    size_t n;
    base_der comp[KERB_MAX_COMPONENTS];
} kerb_principal;

/* EncryptedData. */
typedef struct kerb_enc_data {
    int32_t etype;
    bool has_kvno;
    uint32_t kvno;
    base_der cipher;
} kerb_enc_data;

/* EncryptionKey: value is a view into the caller's (secure) buffer. */
typedef struct kerb_key {
    int32_t etype;
    base_der value;
} kerb_key;

typedef struct kerb_checksum {
    int32_t type;
    base_der value;
} kerb_checksum;

typedef struct kerb_ticket {
    base_der whole; /* the Ticket's full encoding */
    base_der realm;
    kerb_principal sname;
    kerb_enc_data enc;
} kerb_ticket;

typedef struct kerb_ap_req {
    uint32_t options;
    kerb_ticket ticket;
    kerb_enc_data auth;
} kerb_ap_req;

typedef struct kerb_enc_ticket_part {
    uint32_t flags;
    kerb_key key;
    base_der crealm;
    kerb_principal cname;
    int32_t transited_type;
    base_der transited;
    int64_t authtime;
    bool has_starttime;
    int64_t starttime;
    int64_t endtime;
    bool has_renew_till;
    int64_t renew_till;
    bool has_caddr;
    base_der caddr; /* contents of the HostAddresses SEQUENCE OF */
    bool has_authz;
    base_der authz; /* contents of the AuthorizationData SEQUENCE OF */
} kerb_enc_ticket_part;

typedef struct kerb_authenticator {
    base_der crealm;
    kerb_principal cname;
    bool has_cksum;
    kerb_checksum cksum;
    int32_t cusec;
    int64_t ctime;
    bool has_subkey;
    kerb_key subkey;
    bool has_seq;
    uint32_t seq;
    bool has_authz;
    base_der authz;
} kerb_authenticator;

typedef struct kerb_ap_rep {
    kerb_enc_data enc;
} kerb_ap_rep;

typedef struct kerb_enc_ap_rep_part {
    int64_t ctime;
    int32_t cusec;
    bool has_subkey;
    kerb_key subkey;
    bool has_seq;
    uint32_t seq;
} kerb_enc_ap_rep_part;

typedef struct kerb_error {
    bool has_ctime;
    int64_t ctime;
    bool has_cusec;
    int32_t cusec;
    int64_t stime;
    int32_t susec;
    int32_t code;
    bool has_crealm;
    base_der crealm;
    bool has_cname;
    kerb_principal cname;
    base_der realm;
    kerb_principal sname;
    bool has_etext;
    base_der etext;
    bool has_edata;
    base_der edata;
} kerb_error;

typedef struct kerb_krb_cred {
    size_t n_tickets;
    kerb_ticket tickets[KERB_MAX_CRED_TICKETS];
    kerb_enc_data enc;
} kerb_krb_cred;

typedef struct kerb_cred_info {
    kerb_key key;
    bool has_prealm, has_pname, has_flags, has_authtime, has_starttime,
        has_endtime, has_renew_till, has_srealm, has_sname;
    base_der prealm;
    kerb_principal pname;
    uint32_t flags;
    int64_t authtime, starttime, endtime, renew_till;
    base_der srealm;
    kerb_principal sname;
} kerb_cred_info;

typedef struct kerb_enc_cred_part {
    size_t n_info;
    kerb_cred_info info[KERB_MAX_CRED_TICKETS];
    bool has_nonce, has_timestamp, has_usec;
    uint32_t nonce;
    int64_t timestamp;
    int32_t usec;
} kerb_enc_cred_part;

/* ---- decoders: each takes the whole message and fills *out ---------- */

hsmssp_err kerb_dec_ticket(base_der in, kerb_ticket *out) BASE_WUR;
hsmssp_err kerb_dec_ap_req(base_der in, kerb_ap_req *out) BASE_WUR;
hsmssp_err kerb_dec_enc_ticket_part(base_der in, kerb_enc_ticket_part *out)
    BASE_WUR;
hsmssp_err kerb_dec_authenticator(base_der in, kerb_authenticator *out)
    BASE_WUR;
hsmssp_err kerb_dec_ap_rep(base_der in, kerb_ap_rep *out) BASE_WUR;
hsmssp_err kerb_dec_enc_ap_rep_part(base_der in, kerb_enc_ap_rep_part *out)
    BASE_WUR;
hsmssp_err kerb_dec_error(base_der in, kerb_error *out) BASE_WUR;
hsmssp_err kerb_dec_cred(base_der in, kerb_krb_cred *out) BASE_WUR;
hsmssp_err kerb_dec_enc_cred_part(base_der in, kerb_enc_cred_part *out)
    BASE_WUR;

/* Iterates over AuthorizationData (the contents of the SEQUENCE OF, as
 * in kerb_enc_ticket_part.authz): takes the next element from *iter into
 * *type_out and *data_out; *done_out = true when none is left. */
hsmssp_err kerb_authz_next(base_der *iter, int32_t *type_out,
                           base_der *data_out, bool *done_out) BASE_WUR;

/* Finds the first element of type want in authz, looking inside
 * AD-IF-RELEVANT containers (one level, as RFC 4120 sec. 5.2.6.1 nests
 * them).  *found_out false when absent.  *count_out (may be NULL) gets
 * how many such elements exist, so callers can refuse duplicates. */
hsmssp_err kerb_authz_find(base_der authz, int32_t want, base_der *data_out,
                           bool *found_out, size_t *count_out) BASE_WUR;

/* Reads an RFC 4537 EtypeList (SEQUENCE OF Int32) into etypes (up to
 * max); *n_out gets the count kept. */
hsmssp_err kerb_dec_etype_list(base_der in, int32_t *etypes, size_t max,
                               size_t *n_out) BASE_WUR;

/* ---- encoders: each prepends the message to *w ----------------------- */

/* EncryptedData from parts. */
void kerb_enc_enc_data(base_der_w *w, const kerb_enc_data *ed);
void kerb_enc_principal(base_der_w *w, const kerb_principal *p);
void kerb_enc_key(base_der_w *w, int32_t etype, const uint8_t *key,
                  size_t len);

/* AP-REP = [APPLICATION 15] { pvno, msg-type, enc-part }. */
void kerb_enc_ap_rep(base_der_w *w, const kerb_enc_data *enc);

/* EncAPRepPart; subkey NULL omits it; seq omitted when !has_seq. */
void kerb_enc_enc_ap_rep_part(base_der_w *w, int64_t ctime, int32_t cusec,
                              int32_t subkey_etype, const uint8_t *subkey,
                              size_t subkey_len, bool has_seq,
                              uint32_t seq);

/* KRB-ERROR with the fields an acceptor knows; ctime/cusec echoed from
 * the authenticator when has_ctime, e_text when etext != NULL. */
void kerb_enc_error(base_der_w *w, const kerb_error *e);

/* AP-REQ and Authenticator (initiator side, and tests). */
void kerb_enc_ap_req(base_der_w *w, uint32_t options, base_der ticket,
                     const kerb_enc_data *auth);
void kerb_enc_authenticator(base_der_w *w, const kerb_authenticator *a);

/* ---- principals ------------------------------------------------------ */

/* MIT's unparsed form "c1/c2@REALM" with '\' escapes for '/', '@', '\\'
 * and control characters; realm may be an empty view (no "@REALM").
 * HSMSSP_ERR_BUFFER_TOO_SMALL when cap is too small. */
hsmssp_err kerb_principal_unparse(const kerb_principal *p, base_der realm,
                                  char *buf, size_t cap) BASE_WUR;

/* Parses "c1/c2@REALM" (with the same escapes) into components that
 * point into storage (a copy of text with escapes resolved, owned by the
 * caller, at least strlen(text)+1 bytes); realm_out gets the realm view
 * (empty when the text has none). */
hsmssp_err kerb_principal_parse(const char *text, int32_t type,
                                char *storage, kerb_principal *p_out,
                                base_der *realm_out) BASE_WUR;

/* Component-wise equality (name types are not compared, as MIT). */
bool kerb_principal_eq(const kerb_principal *a, const kerb_principal *b);


/* ---- the KDC exchanges (issue #4; kerb_asn1_kdc.c) ------------------- */

/* PA-DATA types (RFC 4120 sec. 7.5.2, RFC 6113). */
#define KERB_PA_TGS_REQ 1
#define KERB_PA_ENC_TIMESTAMP 2
#define KERB_PA_ETYPE_INFO2 19
#define KERB_PA_PAC_REQUEST 128

/* KDC options (RFC 4120 sec. 5.4.1), bit 0 = most significant. */
#define KERB_KDC_OPT_FORWARDABLE 0x40000000u
#define KERB_KDC_OPT_FORWARDED 0x20000000u
#define KERB_KDC_OPT_PROXIABLE 0x10000000u
#define KERB_KDC_OPT_RENEWABLE 0x00800000u
#define KERB_KDC_OPT_CANONICALIZE 0x00010000u
#define KERB_KDC_OPT_RENEWABLE_OK 0x00000010u
#define KERB_KDC_OPT_RENEW 0x00000002u

/* More KRB-ERROR codes an initiator interprets. */
#define KERB_KDC_ERR_C_PRINCIPAL_UNKNOWN 6
#define KERB_KDC_ERR_S_PRINCIPAL_UNKNOWN 7
#define KERB_KDC_ERR_PREAUTH_FAILED 24
#define KERB_KDC_ERR_PREAUTH_REQUIRED 25
#define KERB_KDC_ERR_BADOPTION 13
#define KERB_KDC_ERR_POLICY 12
#define KERB_KDC_ERR_CLIENT_REVOKED 18
#define KERB_KDC_ERR_KEY_EXPIRED 23
#define KERB_KRB_ERR_RESPONSE_TOO_BIG 52
#define KERB_KDC_ERR_WRONG_REALM 68

#define KERB_MAX_PADATA 16
#define KERB_MAX_ETYPES 16

typedef struct kerb_pa_data {
    int32_t type;
    base_der value;
} kerb_pa_data;

/* KDC-REQ (RFC 4120 sec. 5.4.1), for AS-REQ (10) and TGS-REQ (12). */
typedef struct kerb_kdc_req {
    int32_t msg_type;
    const kerb_pa_data *padata;
    size_t n_padata;
    /* KDC-REQ-BODY */
    uint32_t kdc_options;
    bool has_cname;
    kerb_principal cname; /* AS-REQ */
    base_der realm;       /* the server's realm */
    bool has_sname;
    kerb_principal sname;
    bool has_from;
    int64_t from;
    int64_t till;
    bool has_rtime;
    int64_t rtime;
    uint32_t nonce;
    const int32_t *etypes; /* in preference order */
    size_t n_etypes;
    bool has_authz;          /* enc-authorization-data [10] */
    kerb_enc_data enc_authz;
    size_t n_additional;     /* additional-tickets [11] (encodings) */
    const base_der *additional;
} kerb_kdc_req;

/* KDC-REQ-BODY alone (the TGS-REQ checksum covers its encoding). */
void kerb_enc_kdc_req_body(base_der_w *w, const kerb_kdc_req *r);

/* The whole AS-REQ or TGS-REQ around an already encoded KDC-REQ-BODY
 * (body: its full SEQUENCE encoding). */
void kerb_enc_kdc_req(base_der_w *w, const kerb_kdc_req *r, base_der body);

/* PA-ENC-TS-ENC ::= SEQUENCE { patimestamp [0], pausec [1] OPTIONAL }. */
void kerb_enc_pa_enc_ts(base_der_w *w, int64_t patimestamp, int32_t pausec);

/* METHOD-DATA / PA-DATA sequences (KRB-ERROR e-data, KDC-REP padata):
 * the SEQUENCE OF PA-DATA encoding in, up to max entries out. */
hsmssp_err kerb_dec_padata_seq(base_der in, kerb_pa_data *out, size_t max,
                               size_t *n_out) BASE_WUR;

/* ETYPE-INFO2 (RFC 4120 sec. 5.2.7.5). */
typedef struct kerb_etype_info2 {
    int32_t etype;
    bool has_salt;
    base_der salt; /* KerberosString */
    bool has_s2kparams;
    base_der s2kparams;
} kerb_etype_info2;

hsmssp_err kerb_dec_etype_info2(base_der in, kerb_etype_info2 *out,
                                size_t max, size_t *n_out) BASE_WUR;

/* AS-REP ([APPLICATION 11]) or TGS-REP ([APPLICATION 13]). */
typedef struct kerb_kdc_rep {
    int32_t msg_type;
    size_t n_padata;
    kerb_pa_data padata[KERB_MAX_PADATA];
    base_der crealm;
    kerb_principal cname;
    kerb_ticket ticket;
    kerb_enc_data enc;
} kerb_kdc_rep;

hsmssp_err kerb_dec_kdc_rep(base_der in, kerb_kdc_rep *out) BASE_WUR;

/* EncASRepPart ([APPLICATION 25], MIT sends [APPLICATION 26] too) or
 * EncTGSRepPart ([APPLICATION 26]); *app_out tells which tag came.  The
 * key is a view into in (a base_secret). */
typedef struct kerb_enc_kdc_rep_part {
    kerb_key key;
    base_der last_req; /* contents of LastReq */
    uint32_t nonce;
    bool has_key_expiration;
    int64_t key_expiration;
    uint32_t flags;
    int64_t authtime;
    bool has_starttime;
    int64_t starttime;
    int64_t endtime;
    bool has_renew_till;
    int64_t renew_till;
    base_der srealm;
    kerb_principal sname;
    bool has_caddr;
    base_der caddr;
    bool has_enc_padata; /* [12] encrypted-pa-data (RFC 6806) */
    base_der enc_padata; /* the whole SEQUENCE OF element, for
                            kerb_dec_padata_seq (unlike caddr and
                            last_req, which are contents) */
} kerb_enc_kdc_rep_part;

hsmssp_err kerb_dec_enc_kdc_rep_part(base_der in,
                                     kerb_enc_kdc_rep_part *out,
                                     unsigned *app_out) BASE_WUR;

/* KRB-CRED with one ticket (delegation) and its EncKrbCredPart with one
 * KrbCredInfo; the caller encrypts the latter (usage 14) into enc. */
void kerb_enc_krb_cred(base_der_w *w, base_der ticket,
                       const kerb_enc_data *enc);
void kerb_enc_enc_cred_part(base_der_w *w, const kerb_cred_info *info,
                            bool has_timestamp, int64_t timestamp,
                            int32_t usec);

/* KerberosString realm comparison helpers for referrals. */
bool kerb_realm_eq(base_der a, const char *b);

#endif
