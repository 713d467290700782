/*
 * tests/fuzz/krbparse.h - the input layout of fuzz_krb_parse, shared with
 * the seed writer and the MIT oracle (tests/kdc/test_der_oracle.c), which
 * read the same corpus.
 *
 * Byte 0 selects the parser, modulo KP_N; bytes 1.. are its input:
 *   KP_ALL         every parser below (but KP_DER) on the same bytes
 *   KP_GSS         an RFC 2743 initial context token: unframe, token id,
 *                  then the AP-REQ / AP-REP / KRB-ERROR decoder it names
 *   KP_AP_REQ ...  one RFC 4120 message or plaintext, as on the wire
 *   KP_CKSUM       the value of an 0x8003 authenticator checksum
 *   KP_AUTHZ       AuthorizationData contents (the SEQUENCE OF's body)
 *   KP_ETYPES      an RFC 4537 EtypeList (a whole SEQUENCE)
 *   KP_DER         byte 1 = depth bound, bytes 2.. for base_der_check()
 *   KP_KDC_REQ     an AS-REQ or TGS-REQ (what a KDC parses; hsmssp's own
 *                  requests are checked through it)
 *   KP_KDC_REP     an AS-REP or TGS-REP, as the initiator receives it
 *   KP_ENC_KDC_REP EncASRepPart / EncTGSRepPart ("as if decrypted")
 *   KP_PADATA      METHOD-DATA (a KRB-ERROR's e-data)
 *   KP_ETYPE_INFO2 an ETYPE-INFO2 (a PA-ETYPE-INFO2 value)
 *   KP_PA_ENC_TS   PA-ENC-TS-ENC ("as if decrypted")
 * Everything the acceptor parses before it uses a key is in the first
 * group (framing, AP-REQ, Ticket, KRB-CRED); the plaintexts after a
 * decryption (EncTicketPart, Authenticator, EncAPRepPart,
 * EncKrbCredPart) are fed "as if decrypted".  The KDC exchanges (issue
 * #4) come after KP_DER, so the selector bytes of older seeds keep their
 * meaning; the initiator parses KP_KDC_REP, KP_PADATA and KP_ETYPE_INFO2
 * from the network before any key is used.
 */
#ifndef HSMSSP_KRBPARSE_H
#define HSMSSP_KRBPARSE_H

#include <stdint.h>

enum kp_sel {
    KP_ALL = 0,
    KP_GSS,
    KP_AP_REQ,
    KP_AP_REP,
    KP_ERROR,
    KP_CRED,
    KP_TICKET,
    KP_ENC_TKT,
    KP_AUTH,
    KP_ENC_AP_REP,
    KP_ENC_CRED,
    KP_CKSUM,
    KP_AUTHZ,
    KP_ETYPES,
    KP_DER,
    KP_KDC_REQ,
    KP_KDC_REP,
    KP_ENC_KDC_REP,
    KP_PADATA,
    KP_ETYPE_INFO2,
    KP_PA_ENC_TS,
    KP_N
};

/* The parser a first byte selects. */
static inline enum kp_sel
kp_selector(uint8_t b)
{
    return (enum kp_sel)(b % KP_N);
}

/* Short names, for seed file names and the oracle's counts. */
static inline const char *
kp_name(enum kp_sel s)
{
    static const char *const names[KP_N] = {
        "all",      "gss",        "ap-req",      "ap-rep", "krb-error",
        "krb-cred", "ticket",     "enc-tkt",     "auth",   "enc-ap-rep",
        "enc-cred", "cksum-8003", "authz",       "etypes", "der",
        "kdc-req",  "kdc-rep",    "enc-kdc-rep", "padata", "etype-info2",
        "pa-enc-ts"};
    return (unsigned)s < KP_N ? names[s] : "?";
}

/* The byte that key fields of the committed plaintext seeds are
 * overwritten with (tests/kdc/test_der_oracle.c --write-seeds): the
 * corpus holds no key of the (throw-away) realm. */
#define KP_KEY_FILL 0x4bu

#endif
