/*
 * provider/kerberos/kerb_keystore.h - Kerberos long-term keys on the
 * token: the labeling scheme (DESIGN sec. 4), lookup, listing, import and
 * removal.  keytabs/ provisions through it; the acceptor and initiator
 * find their keys through it.
 *
 * Labeling scheme (stable; pkcs11-tool --list-objects and PKCS#11 URIs
 * address the same objects):
 *   CKA_ID    = "krb5" 0x01 || etype (4, big-endian) || kvno (4, BE)
 *               || n (2, BE) || principal (n bytes, MIT's unparsed form
 *               with realm, e.g. "HTTP/www.example.com@EXAMPLE.COM")
 *   CKA_LABEL = "<principal> kvno <kvno> <enctype name>"
 * Where a strategy stores per-usage keys at import (etypes 19/20 on
 * tokens without an SP800-108 KDF), those objects have CKA_ID = the key's
 * ID || usage (4, BE) || role ('e', 'i', 'c') and the label plus
 * "/u<usage><role>" (hsm/import.c), and are never listed as keys here.
 *
 * A URI for one key, e.g.:
 *   pkcs11:token=hsmssp;object=HTTP%2Fwww.example.com@EXAMPLE.COM%20kvno%203%20aes256-cts-hmac-sha1-96
 */
#ifndef HSMSSP_KERB_KEYSTORE_H
#define HSMSSP_KERB_KEYSTORE_H

#include "base/secmem.h"
#include "hsm/hsm.h"

#define KERB_KS_MAX_PRINCIPAL 255
#define KERB_KS_ID_MAX (15 + KERB_KS_MAX_PRINCIPAL)
/* Bound on the secret-key objects examined by one listing. */
#define KERB_KS_MAX_OBJECTS 65536

typedef struct kerb_ks_entry {
    char principal[KERB_KS_MAX_PRINCIPAL + 1];
    uint32_t kvno;
    int32_t etype;
} kerb_ks_entry;

/* Builds the CKA_ID of (principal, kvno, etype) into id (cap >=
 * KERB_KS_ID_MAX); *len_out its length. */
hsmssp_err kerb_ks_make_id(const char *principal, uint32_t kvno,
                           int32_t etype, uint8_t *id, size_t cap,
                           size_t *len_out) BASE_WUR;

/* Decodes a CKA_ID made by kerb_ks_make_id(); false for anything else
 * (other objects, per-usage objects). */
bool kerb_ks_parse_id(const uint8_t *id, size_t len, kerb_ks_entry *out);

/* The CKA_LABEL of an entry (cap >= 320). */
void kerb_ks_label(const kerb_ks_entry *e, char *label, size_t cap);

/* Lists the persistent Kerberos keys on the token (principal NULL: all),
 * sorted by principal, then kvno descending, then etype.  *entries_out is
 * malloc'ed (free()), NULL when there are none. */
hsmssp_err kerb_ks_list(hsm_token *tok, const char *principal,
                        kerb_ks_entry **entries_out, size_t *n_out) BASE_WUR;

/* Imports a key: a persistent token object unless persistent is false
 * (a session object of this process, e.g. on NSS softoken without a
 * database).  A persistent key that already exists is refused
 * (HSMSSP_ERR_INVALID_ARGUMENT, "already on the token") unless replace,
 * which removes the old objects first.  *key_out may be NULL. */
hsmssp_err kerb_ks_import(hsm_token *tok, const kerb_ks_entry *e,
                          const base_secret *key, bool persistent,
                          bool replace, hsm_key **key_out) BASE_WUR;

/* Opens a persistent key. */
hsmssp_err kerb_ks_find(hsm_token *tok, const kerb_ks_entry *e,
                        hsm_key **key_out) BASE_WUR;

/* Removes the principal's persistent keys (every kvno when kvno < 0);
 * *n_out gets how many keys went. */
hsmssp_err kerb_ks_remove(hsm_token *tok, const char *principal,
                          int64_t kvno, size_t *n_out) BASE_WUR;

#endif
