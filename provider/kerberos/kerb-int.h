/*
 * provider/kerberos/kerb-int.h - what the files of the Kerberos package
 * share: credentials, contexts, the key store and the per-message state.
 *
 * Ownership.  A kerb_cred holds a reference on its prov_env and the
 * hsm_keys it loaded (service keys, found on the token by the key store's
 * labeling scheme, or registered in the env as session objects).  A
 * kerb_ctx holds a reference on the env and owns the keys imported at
 * its establishment: the per-message key (class S, a session object) and
 * the delegated TGT's session key when delegation was accepted.  No
 * struct here holds key bytes outside the arrival window, and no struct
 * ever holds long-term key bytes.
 *
 * Locking.  kerb_cred.lock guards lazy key loading.  A context is built
 * by one thread; once established, send_lock guards the send sequence
 * number and recv_lock the receive window, so one sending and one
 * receiving thread can share it.
 */
#ifndef HSMSSP_KERB_INT_H
#define HSMSSP_KERB_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "base/secmem.h"
#include "hsm/hsm.h"
#include "provider/config.h"
#include "provider/kerberos/kerb.h"
#include "provider/kerberos/kerb_asn1.h"
#include "provider/kerberos/kerb_gss.h"
#include "provider/kerberos/kerb_keystore.h"
#include "provider/kerberos/kerb_pac.h"
#include "provider/provider.h"

typedef struct kerb_rcache kerb_rcache;

/* ---- per-env state of the package (kerb_cred.c) ----------------------- */

typedef struct kerb_cred_key kerb_cred_key;

typedef struct kerb_state {
    pthread_mutex_t lock;
    kerb_rcache *rcache;    /* opened at the first replay check */
    kerb_cred_key *session_keys; /* imported as session objects */
    size_t n_session_keys;
    char *default_realm;    /* from krb5.conf, read once */
} kerb_state;

hsmssp_err kerb_state_get(prov_env *env, kerb_state **st_out) BASE_WUR;

/* Registers a service key that this process imported into a session
 * object (hsmssp server --import-keytab on tokens without persistent
 * objects); the env takes ownership of key.  Credentials acquired later
 * see it beside the token's persistent keys. */
hsmssp_err kerb_register_session_key(prov_env *env, const kerb_ks_entry *e,
                                     hsm_key *key) BASE_WUR;

/* The env's replay cache, opened on first use; *rc_out is NULL when the
 * configuration disables it ("rcache = none"). */
hsmssp_err kerb_rcache_for(prov_env *env, kerb_rcache **rc_out) BASE_WUR;

/* default_realm of the Kerberos configuration (KRB5_CONFIG), read once. */
hsmssp_err kerb_default_realm(prov_env *env, const char **realm_out)
    BASE_WUR;

/* ---- credentials ------------------------------------------------------ */

struct kerb_cred_key {
    kerb_ks_entry e;  /* principal, kvno, etype */
    hsm_key *key;     /* NULL until first use (persistent keys) */
    bool borrowed;    /* key belongs to the env (session objects) */
};

typedef struct kerb_cred {
    prov_env *env;
    hsm_token *tok;
    unsigned use;     /* PROV_CRED_* */
    char *principal;  /* NULL: any service key on the token */
    pthread_mutex_t lock;
    kerb_cred_key *keys;
    size_t n_keys;
    pid_t pid;
} kerb_cred;

/* ---- the receive window (RFC 4121 sec. 4.2.6, replay and sequence) ---- */

typedef struct kerb_seqstate {
    bool do_replay, do_sequence;
    bool wide;      /* 64-bit sequence numbers (RFC 4121); else 32 */
    uint64_t base;  /* initial sequence number */
    uint64_t next;  /* next expected, relative to base */
    uint64_t map;   /* bit i: (next - 1 - i) seen */
} kerb_seqstate;

void kerb_seq_init(kerb_seqstate *s, uint64_t base, bool do_replay,
                   bool do_sequence, bool wide);

/* Records seqnum as received.  HSMSSP_ERR_DUPLICATE for a duplicate or a
 * number older than the 64-entry window (with replay detection),
 * HSMSSP_ERR_OUT_OF_SEQUENCE for a gap or a late arrival (with sequence
 * detection); HSMSSP_OK otherwise.  The state advances in every case
 * except a duplicate, as MIT's g_seqstate does. */
hsmssp_err kerb_seq_check(kerb_seqstate *s, uint64_t seqnum) BASE_WUR;

/* ---- contexts --------------------------------------------------------- */

/* What a context keeps of a delegated TGT: the ticket's encoding and its
 * public metadata; the session key lives on the token. */
typedef struct kerb_deleg {
    uint8_t *ticket; /* Ticket encoding (malloc'ed, not secret) */
    size_t ticket_len;
    char *client;  /* unparsed pname@prealm */
    char *server;  /* unparsed sname@srealm (krbtgt/R@R) */
    uint32_t flags;
    int64_t authtime, starttime, endtime, renew_till;
    hsm_key *key;  /* the TGT session key (class S, session object) */
} kerb_deleg;

typedef struct kerb_ctx {
    prov_env *env;
    hsm_token *tok;
    bool initiator;
    bool established;
    uint32_t flags; /* PROV_F_* in force */
    char client[512];
    char server[512];
    int64_t authtime, starttime, endtime; /* Unix seconds */

    /* Per-message protection (RFC 4121 or RFC 4757 by the key's etype). */
    hsm_key *key;
    int32_t etype;
    bool acceptor_subkey; /* tokens carry the AcceptorSubkey flag */
    pthread_mutex_t send_lock;
    uint64_t send_seq;
    pthread_mutex_t recv_lock;
    kerb_seqstate recv;

    kerb_pac_info *pac;   /* NULL when the ticket had none */
    kerb_deleg *deleg;    /* NULL unless delegation was accepted */
    pid_t pid;
} kerb_ctx;

hsmssp_err kerb_ctx_new(prov_env *env, hsm_token *tok, bool initiator,
                        kerb_ctx **ctx_out) BASE_WUR;
void kerb_ctx_free(kerb_ctx *ctx);

/* Refuses per-message use of a context that is not established, was made
 * before a fork(), or whose ticket has expired. */
hsmssp_err kerb_ctx_usable(kerb_ctx *ctx) BASE_WUR;

/* ---- the acceptor (kerb_accept.c) ------------------------------------ */

hsmssp_err kerb_accept(void *cred, void **ctx, prov_step *step) BASE_WUR;

/* ---- per-message protection (kerb_msg.c) ----------------------------- */

/* Sizes of the tokens for the context's key (SECPKG_ATTR_SIZES). */
void kerb_msg_sizes(const kerb_ctx *ctx, uint32_t *max_signature,
                    uint32_t *security_trailer, uint32_t *block_size);

hsmssp_err kerb_msg_wrap(void *ctx, bool conf, prov_buf *bufs, size_t n)
    BASE_WUR;
hsmssp_err kerb_msg_unwrap(void *ctx, prov_buf *bufs, size_t n,
                           bool *conf_out) BASE_WUR;
hsmssp_err kerb_msg_get_mic(void *ctx, prov_buf *bufs, size_t n) BASE_WUR;
hsmssp_err kerb_msg_verify_mic(void *ctx, prov_buf *bufs, size_t n)
    BASE_WUR;

/* Shared by kerb_msg.c and kerb_rc4.c: buffer kinds (DATA not READONLY;
 * of those, the ones encrypted rather than only signed), the next send
 * sequence number, the receive-window check of an authentic token (under
 * the context's locks), and a free that wipes first. */
bool kerb_msg_is_data(const prov_buf *b);
bool kerb_msg_is_encrypted(const prov_buf *b);
uint64_t kerb_msg_next_send_seq(kerb_ctx *c);
hsmssp_err kerb_msg_check_seq(kerb_ctx *c, uint64_t seq) BASE_WUR;
void kerb_msg_free_wiped(uint8_t *p, size_t n);

/* RFC 4757 tokens for contexts whose key is arcfour-hmac (kerb_rc4.c):
 * called by the functions above with the buffers already found. */
hsmssp_err kerb_rc4_wrap(kerb_ctx *c, bool conf, prov_buf *bufs, size_t n,
                         prov_buf *tok, prov_buf *pad) BASE_WUR;
hsmssp_err kerb_rc4_unwrap(kerb_ctx *c, prov_buf *bufs, size_t n,
                           prov_buf *tok, prov_buf *stream, bool *conf_out)
    BASE_WUR;
hsmssp_err kerb_rc4_get_mic(kerb_ctx *c, prov_buf *bufs, size_t n,
                            prov_buf *tok) BASE_WUR;
hsmssp_err kerb_rc4_verify_mic(kerb_ctx *c, prov_buf *bufs, size_t n,
                               prov_buf *tok) BASE_WUR;

/* ---- credentials (kerb_cred.c) --------------------------------------- */

hsmssp_err kerb_acquire(prov_env *env, const char *principal, unsigned use,
                        const prov_identity *id, void **cred_out,
                        int64_t *expiry_out) BASE_WUR;
void kerb_cred_free(void *cred);

/* Candidate service keys for a ticket: fills keys[] (up to max) with the
 * keys to try in order, loading them from the token as needed.  Errors
 * name principal, kvno and enctype: HSMSSP_ERR_WRONG_PRINCIPAL when the
 * credential has no key for the ticket's server at all, HSMSSP_ERR_NO_KEY
 * when it has none of that kvno and enctype. */
hsmssp_err kerb_cred_keys_for(kerb_cred *cred, const char *server,
                              int32_t etype, bool has_kvno, uint32_t kvno,
                              size_t max, hsm_key **keys,
                              size_t *n_out) BASE_WUR;

/* Turns a target or credential name into an unparsed principal with a
 * realm: "svc/host@REALM" stays, "svc/host" gets the default realm,
 * GSS's "service@host" becomes "service/host@REALM".  *out malloc'ed. */
hsmssp_err kerb_name_canon_env(prov_env *env, const char *name, char **out)
    BASE_WUR;

/* The local account a client principal maps to (krb5_aname_to_localname,
 * so [realms] auth_to_local rules in krb5.conf apply). */
hsmssp_err kerb_local_name(void *ctx, char **name_out) BASE_WUR;

#endif
