/*
 * tests/common/kdcutil.h - fixtures the C tests against the test realm
 * share (tests/kdc/test_*.c, and tests/fuzz/initseed.c through
 * fuzz_init_seedgen): the realm of tests/common/realm-setup.sh and a work
 * directory of the process's own, hsmssp configuration files made the
 * SSPI runtime's, realm keytabs imported into the runtime's token,
 * credential handles, MIT's GSS-API as the peer, messages between an
 * hsmssp context and an MIT one, and the key hygiene check (every PKCS#11
 * object of a key is sensitive and refuses CKA_VALUE).
 *
 * Every function here fails the running cmocka case (fail_msg, assert_*)
 * when a step the test depends on goes wrong, unless its comment says it
 * returns a status or a bool instead; ku_realm() skips the executable
 * (tu_skip) when the realm is missing.  The realm and work directories
 * are process state, set once by ku_realm() and ku_work() before any
 * case runs; the other functions keep no state but the configuration
 * counter of ku_configure(), so they may run on any thread except where
 * their comment says otherwise.
 *
 * Links against the SSPI, provider and hsm layers, MIT's libkrb5 and
 * GSS-API (target hsmssp_kdcutil, tests/common/CMakeLists.txt).
 */
#ifndef HSMSSP_KDCUTIL_H
#define HSMSSP_KDCUTIL_H

#include <gssapi/gssapi.h>
#include <krb5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmssp/sspi.h"
#include "testutil.h"

/* The test realm's name (docs/test-realm.md). */
#define KU_REALM "HSMSSP.TEST"

/* The four AES enctypes, for permitted_enctypes lines. */
#define KU_AES_ENCTYPES                                                       \
    "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 "                        \
    "aes256-cts-hmac-sha384-192 aes128-cts-hmac-sha256-128"

/* CKR_ATTRIBUTE_SENSITIVE: what a CKA_VALUE read of a hidden key must
 * give (pkcs11.h stays in hsm/). */
#define KU_CKR_ATTRIBUTE_SENSITIVE 0x11ul

/* ---- the realm and the work directory ---------------------------------- */

/* The realm's directory (the directory of HSMSSP_REALM_ENV, where
 * realm-setup.sh left krb5.conf, the keytabs <name>.keytab, kdc.port and
 * the password files), with KRB5_CONFIG pointed at its krb5.conf.  Skips
 * the executable (tu_skip) when HSMSSP_REALM_ENV is unset or unreadable.
 * Returns static storage; later calls return the same directory without
 * touching KRB5_CONFIG again. */
const char *ku_realm(void);

/* Calls ku_realm(), then makes the process's work directory
 * HSMSSP_TEST_WORK/<tag>.<pid> (0700) and points MIT's defaults into it,
 * so that nothing comes from the user's own files: KRB5_KTNAME and
 * KRB5_CLIENT_KTNAME name a keytab that does not exist (none.keytab),
 * KRB5RCACHEDIR is the directory, and KRB5CCNAME is FILE:<work>/<ccache>
 * unless ccache is NULL (left as it is; ku_kinit() sets it).  Returns
 * static storage (the directory); call once, before any case. */
const char *ku_work(const char *tag, const char *ccache);

/* kinit of <user>@KU_REALM with the realm's <user>.keytab into the new
 * cache FILE:<work>/<ccache> (removed first), forwardable tickets when
 * forwardable; on success KRB5CCNAME names that cache.  Returns whether
 * kinit succeeded (the caller decides between failing and skipping).
 * Needs ku_work(). */
bool ku_kinit(const char *user, const char *ccache, bool forwardable);

/* The first line of the realm's file name (a password file such as
 * dave.pw), without its newline, in buf (size bytes, NUL-terminated).
 * Returns false when the file cannot be read; buf is then "".  The caller
 * wipes buf (base_memzero) when done. */
bool ku_realm_secret(const char *name, char *buf, size_t size);

/* Writes a copy of the realm's krb5.conf whose realm maps the principal
 * name user to local_name (auth_to_local_names), as
 * <work>/krb5-map-<local_name>.conf, and points KRB5_CONFIG at it. */
void ku_map_to_local(const char *user, const char *local_name);

/* ---- configuration and keys ------------------------------------------- */

/* Writes a new hsmssp configuration file <work>/hsmssp-<n>.conf (0600):
 * a [token] section for the token of kind (module and URI from
 * tu_token_config), followed by the text fmt formats (sections of the
 * caller's choosing, each line ending in a newline), and makes it the
 * SSPI runtime's (HsmsspConfigureA must give SEC_E_OK).  n counts the
 * process's calls, so no file is overwritten.  Main thread only. */
void ku_configure(tu_token_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Imports every entry of the realm keytab <name>.keytab into the SSPI
 * runtime's token, as kerb_ks_import does for `hsmssp keytab import`:
 * persistent objects on SoftHSM2 (replacing what is there), session
 * objects on NSS, registered with the runtime's env (they live in its
 * token session).  Leaves out kvno 1 entries when skip_kvno1, and the
 * entries the policy refuses on this token (HSMSSP_ERR_POLICY_HOST_OP:
 * arcfour-hmac on SoftHSM2 without allow_host_op = krb).  Returns the
 * number imported. */
size_t ku_import_keytab(const char *name, tu_token_kind kind, bool skip_kvno1);

/* The same with every entry imported as kvno (0: the entry's own) and,
 * when bogus, with random bytes in place of the key (a wrong key the KDC
 * refuses).  skip_kvno1 looks at the keytab's kvno. */
size_t ku_import_keytab_as(const char *name, tu_token_kind kind,
                           bool skip_kvno1, uint32_t kvno, bool bogus);

/* A copy of the key of principal (kvno, etype) in the realm keytab
 * <keytab>.keytab, through MIT's keytab code on kc; kvno 0 is the
 * highest the keytab holds.  Free with krb5_free_keyblock(kc, key). */
krb5_keyblock *ku_keytab_key(krb5_context kc, const char *keytab,
                             const char *principal, krb5_kvno kvno,
                             krb5_enctype etype);

/* ---- credentials ----------------------------------------------------- */

/* A SEC_WINNT_AUTH_IDENTITY_A (ANSI) naming user, domain (may be NULL)
 * and password; it points at the strings, which must outlive it. */
SEC_WINNT_AUTH_IDENTITY_A ku_identity(const char *user, const char *domain,
                                      const char *password);

/* AcquireCredentialsHandleA for the Kerberos package: principal (NULL:
 * the default), use (SECPKG_CRED_INBOUND/OUTBOUND), identity id (may be
 * NULL).  Returns its status; *cred is valid only on SEC_E_OK. */
SECURITY_STATUS ku_try_acquire(const char *principal, ULONG use,
                               SEC_WINNT_AUTH_IDENTITY_A *id,
                               CredHandle *cred);

/* The same without an identity, failing the case unless it succeeds.
 * FreeCredentialsHandle(cred) when done. */
void ku_acquire(const char *principal, ULONG use, CredHandle *cred);

/* One AcceptSecurityContext call with ASC_REQ_ALLOCATE_MEMORY added to
 * req: the token tok, and channel bindings scb (scb_len bytes) when scb
 * is not NULL; *ctx is the new context.  The output token goes to *out
 * and *out_len (FreeContextBuffer) when out is not NULL, is freed
 * otherwise; *attrs gets the context attributes when attrs is not NULL.
 * Returns the status. */
SECURITY_STATUS ku_asc(CredHandle *cred, const void *tok, size_t len,
                       ULONG req, SEC_CHANNEL_BINDINGS *scb, size_t scb_len,
                       CtxtHandle *ctx, uint8_t **out, size_t *out_len,
                       ULONG *attrs);

/* SEC_CHANNEL_BINDINGS carrying only the application data app, in one
 * calloc'ed buffer (free it) of *len_out bytes. */
SEC_CHANNEL_BINDINGS *ku_make_scb(const char *app, size_t *len_out);

/* Fails the case unless tok is a krb5 GSS-API initial-context token
 * (RFC 2743 framing, krb5 OID) holding a KRB-ERROR with this code. */
void ku_check_krb_error(const uint8_t *tok, size_t len, int32_t code);

/* ---- MIT's GSS-API as the peer --------------------------------------- */

/* Fails the case with MIT's texts for the major and minor status. */
void ku_gss_fail(const char *what, OM_uint32 maj, OM_uint32 min);

/* The host-based service name svc@localhost (gss_release_name). */
gss_name_t ku_gss_service(const char *svc);

/* An acceptor credential of MIT's (krb5 mechanism) for every key of the
 * realm keytab <name>.keytab (gss_release_cred). */
gss_cred_id_t ku_mit_acceptor(const char *name);

/* A message sealed by ku_seal(): the three SSPI buffers (b[0] TOKEN over
 * tok, b[1] DATA over data, b[2] PADDING over pad) and the same bytes end
 * to end in all (total bytes), as one stream or one GSS token. */
struct ku_sealed {
    uint8_t *tok, *data, *all;
    uint8_t pad[16];
    SecBuffer b[3];
    size_t total;
};

/* EncryptMessage(TOKEN + DATA + PADDING) of n bytes of msg on h into *s,
 * sealed when conf (the DATA must then differ from msg past 16 bytes),
 * else with SECQOP_WRAP_NO_ENCRYPT; fails the case on any error.  *s must
 * stay where it is while its buffers are used; ku_sealed_free() frees. */
void ku_seal(CtxtHandle *h, const uint8_t *msg, size_t n, bool conf,
             struct ku_sealed *s);
void ku_sealed_free(struct ku_sealed *s);

/* ku_seal() of n bytes of msg on h, then gss_unwrap of TOKEN || DATA || PADDING on g: the confidentiality state
 * and the message must come back. */
void ku_hsmssp_to_mit(CtxtHandle *h, gss_ctx_id_t g, const uint8_t *msg,
                      size_t n, bool conf);

/* gss_wrap of n bytes of msg on g (sealed when conf), then
 * DecryptMessage(STREAM + DATA) on h: the message and the QOP
 * (SECQOP_WRAP_NO_ENCRYPT when not sealed) must come back. */
void ku_mit_to_hsmssp(gss_ctx_id_t g, CtxtHandle *h, const uint8_t *msg,
                      size_t n, int conf);

/* MICs both ways over n bytes of msg: gss_get_mic on g verified by
 * VerifySignature on h, MakeSignature on h verified by gss_verify_mic. */
void ku_mics(CtxtHandle *h, gss_ctx_id_t g, const uint8_t *msg, size_t n);

/* ---- key hygiene ----------------------------------------------------- */

/* Fails the case (naming what and the object) unless PKCS#11 object obj
 * of tok is sensitive, not extractable, and answers a CKA_VALUE read
 * with KU_CKR_ATTRIBUTE_SENSITIVE (hsm_object_check). */
void ku_check_object_hidden(hsm_token *tok, unsigned long obj,
                            const char *what);

/* ku_check_object_hidden for every PKCS#11 object key k owns
 * (hsm_key_objects: the base key, stored per-usage keys, cached derived
 * keys; at most 64), on k's token.  Fails when k is NULL or owns no
 * object.  Returns the number of objects checked. */
size_t ku_check_key_hidden(hsm_key *k, const char *what);

#endif
