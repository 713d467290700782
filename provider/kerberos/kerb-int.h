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
#include "provider/kerberos/kerb_tktfile.h"
#include "provider/provider.h"

typedef struct kerb_rcache kerb_rcache;

/* ---- per-env state of the package (kerb_cred.c) ----------------------- */

typedef struct kerb_cred_key kerb_cred_key;

/* Accounts whose key lists an env keeps, and for how long (seconds). */
#define KERB_LT_LISTS 16
#define KERB_LT_LIST_TTL 60
/* Accounts whose TGT an env shares between credentials. */
#define KERB_SHARED_TGTS 16

typedef struct kerb_state {
    pthread_mutex_t lock;
    kerb_rcache *rcache;    /* opened at the first replay check */
    kerb_cred_key *session_keys; /* imported as session objects */
    size_t n_session_keys;
    char *default_realm;    /* from krb5.conf, read once */
    /* The key store's list of an account's keys (kerb_ks_list), kept for
     * KERB_LT_LIST_TTL seconds so that acquisitions and AS exchanges do
     * not read the attributes of every key object on the token each
     * time (the cost grows with the token).  Only lists with keys are
     * kept; a key missing when opened, or a pre-authentication the KDC
     * refused, lists again (kerb_lt_load_fresh). */
    struct {
        const void *tok;
        char client[KERB_KS_MAX_PRINCIPAL + 1];
        kerb_ks_entry *v;
        size_t n;
        int64_t at;
        uint64_t seq; /* when its listing started (lt_seq) */
    } lt_lists[KERB_LT_LISTS];
    size_t n_lt_lists;
    uint64_t lt_seq; /* listings started */
    /* The newest TGT of each account whose key is on the token, shared
     * by the outbound credentials of this process (the logon session
     * Windows' LSA keeps): a second AcquireCredentialsHandle takes it
     * instead of another AS exchange.  Referenced; pid: the process that
     * got it (a forked child's token session has lost its key). */
    struct {
        const void *tok;
        pid_t pid;
        char client[KERB_KS_MAX_PRINCIPAL + 1];
        struct kerb_tkt *tgt;
        int64_t got; /* when it was offered (the oldest makes room) */
    } shared_tgts[KERB_SHARED_TGTS];
    size_t n_shared_tgts;
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

/* ---- tickets an initiator holds (kerb_tkt.c) --------------------------- */

/* A TGT or service ticket: its encoding and public metadata on the host,
 * its session key on the token.  Reference-counted, since a credential's
 * cache may replace a ticket (TGT refresh) while another thread is still
 * building an AP-REQ with it; the fields never change after creation. */
typedef struct kerb_tkt {
    unsigned refs;     /* atomic */
    uint8_t *ticket;   /* Ticket encoding (malloc'ed, public) */
    size_t ticket_len;
    char client[KERB_KS_MAX_PRINCIPAL + 1]; /* cname@crealm, unparsed */
    char server[KERB_KS_MAX_PRINCIPAL + 1]; /* sname@srealm, unparsed */
    uint32_t flags;    /* KERB_TKT_* */
    int64_t authtime, starttime, endtime, renew_till; /* 0: none */
    int32_t etype;     /* the session key's enctype */
    hsm_key *key;      /* the session key (class S) */
    /* Persistent session key (a stored TGT, `hsmssp kinit`): its CKA_ID,
     * so that the store can remove it; 0 otherwise. */
    uint8_t key_id[64];
    size_t key_id_len;
} kerb_tkt;

/* A ticket (refs 1) holding a copy of the encoding, every other field
 * zero, for the caller to fill. */
hsmssp_err kerb_tkt_alloc(base_der ticket, kerb_tkt **tkt_out) BASE_WUR;

/* A new ticket (refs 1) from the encoding and the decrypted reply part;
 * takes ownership of key (freed on failure too). */
hsmssp_err kerb_tkt_new(base_der ticket, const kerb_enc_kdc_rep_part *ep,
                        const char *client, hsm_key *key,
                        kerb_tkt **tkt_out) BASE_WUR;
kerb_tkt *kerb_tkt_ref(kerb_tkt *t);
void kerb_tkt_unref(kerb_tkt *t);

/* True when the ticket is for krbtgt/...: a TGT; *instance_out (may be
 * NULL) gets the realm whose KDC takes it (the name's second
 * component), *realm_out (may be NULL) the issuing realm. */
bool kerb_tkt_is_tgt(const kerb_tkt *t, char *instance_out,
                     char *realm_out);

/* The realm part of an unparsed principal (after the last unescaped '@');
 * "" when there is none.  out needs KERB_KS_MAX_PRINCIPAL + 1 bytes. */
void kerb_name_realm(const char *principal, char *out);

/* ---- small shared helpers (kerb_tkt.c) ------------------------------- */

/* A base_secret-shaped view of a key inside a parsed plaintext (for the
 * calls that read data/len only); never freed. */
base_secret kerb_key_view(const kerb_key *k);

/* Whether [policy] permitted_enctypes lists etype. */
bool kerb_etype_permitted(const prov_config *cfg, int32_t etype);

/* Whether the token runs etype at a level the policy allows. */
bool kerb_etype_runs(hsm_token *tok, int32_t etype);

/* What a key is for decides the per-usage keys made at import (where a
 * token needs them made then: etypes 19/20 on SoftHSM2).  kerb_key_spec()
 * fills a session key's spec for its job. */
typedef enum kerb_key_job {
    KERB_JOB_TGT,     /* TGS-REQ checksum and authenticator, TGS-REP */
    KERB_JOB_TICKET,  /* a service ticket's key at the initiator: the
                         authenticator, the AP-REP, the KRB-CRED */
    KERB_JOB_CONTEXT, /* a context's message key: RFC 4121 seal/sign */
    KERB_JOB_PASSWORD /* a password-derived account key: the AS exchange */
} kerb_key_job;

void kerb_key_spec(hsm_key_spec *spec, int32_t etype, kerb_key_job job);

/* RFC 3961 encryption on the token into a new malloc'ed ciphertext
 * (*cipher_out, the caller frees it); *ed_out describes it as
 * EncryptedData of the key's enctype, without kvno. */
hsmssp_err kerb_seal(hsm_key *key, int32_t usage, base_der plain,
                     uint8_t **cipher_out, kerb_enc_data *ed_out) BASE_WUR;

/* The calling thread's last error detail without the leading message of
 * code ("<message>: "), for wrapping it in a longer one.  Points into
 * the thread's detail buffer: copy it before the next error. */
const char *kerb_detail_tail(hsmssp_err code);

/* SSPI's channel bindings as the GSS hash takes them. */
void kerb_cb_from_prov(const prov_cb *in, kerb_cb *out);

/* ---- the KDC exchanges (kerb_as.c, kerb_tgs.c) ----------------------- */

/* Where the long-term key of an AS exchange comes from. */
typedef struct kerb_lt_key {
    int32_t etype;
    uint32_t kvno;
    hsm_key *key;
    bool borrowed; /* a session object the env owns: not freed here */
} kerb_lt_key;

typedef struct kerb_as_keys {
    /* Keys on the token (keystore entries of the client, one per
     * enctype, highest kvno), in permitted_enctypes order. */
    kerb_lt_key *keys;
    size_t n_keys;
    /* Or a password: a key is made with the KDC's salt and parameters
     * (ETYPE-INFO2) for the enctype the KDC picks, imported into a
     * session object and added to keys[] (which must have room:
     * cap_keys), the bytes wiped.  NULL for token keys only. */
    const base_secret *password;
    size_t cap_keys;
    const char *salt; /* overrides the KDC's salt when not NULL */
} kerb_as_keys;

/* How an arriving session key is imported: as a session object (NULL
 * spec in the calls below) or persistent (kinit: the caller sets
 * persistent, id and label).  Usages default to those a TGT needs. */
typedef struct kerb_import_opts {
    bool persistent;
    const uint8_t *id;
    size_t id_len;
    const char *label;
} kerb_import_opts;

/* Makes spec persistent under imp's ID and label when imp asks for it. */
void kerb_import_opts_apply(hsm_key_spec *spec, const kerb_import_opts *imp);

/* Decrypts a KDC reply's enc-part on the token with key under usage into
 * a new secure buffer *plain_out (set before anything can fail after the
 * allocation: the caller frees it; *ep points into it) and decodes it.
 * HSMSSP_ERR_INTEGRITY when it does not decrypt with key. */
hsmssp_err kerb_rep_decrypt(hsm_key *key, int32_t usage,
                            const kerb_kdc_rep *rep, base_secret **plain_out,
                            kerb_enc_kdc_rep_part *ep) BASE_WUR;

/* The checks an AS-REP or TGS-REP must pass once the caller has checked
 * its nonce and server (RFC 4120 sec. 3.1.5, 3.3.4): the clear-text
 * ticket names the server of the encrypted part, the ticket has not
 * expired (now, in seconds), and the session key has a known enctype,
 * its length, and is one permitted_enctypes lists.  peer names the KDC in
 * the messages. */
hsmssp_err kerb_rep_check(const prov_config *cfg, const char *peer,
                          const kerb_kdc_rep *rep,
                          const kerb_enc_kdc_rep_part *ep,
                          int64_t now) BASE_WUR;

/* What an AS exchange learned besides the ticket (account import). */
typedef struct kerb_as_info {
    int32_t etype;     /* enctype of the key that opened the reply */
    uint32_t kvno;     /* the reply's kvno (0 when absent) */
    bool has_kvno;
    char salt[512];    /* the salt used (from ETYPE-INFO2 or default) */
    uint8_t s2kparams[16];
    size_t s2kparams_len;
} kerb_as_info;

/* AS exchange for client (unparsed, with realm) and a TGT for its realm
 * (or server, when not NULL: e.g. kadmin/changepw).  Pre-authenticates
 * with PA-ENC-TIMESTAMP after KDC_ERR_PREAUTH_REQUIRED, encrypted on the
 * token; the reply's enc-part is decrypted on the token and its session
 * key imported at once.  info may be NULL. */
hsmssp_err kerb_as_exchange(prov_env *env, hsm_token *tok, const char *client,
                            const char *server, kerb_as_keys *keys,
                            const kerb_import_opts *imp, kerb_as_info *info,
                            kerb_tkt **tkt_out) BASE_WUR;

/* RFC 4120's default salt of client (realm, then the name's components,
 * escapes resolved) into out (NUL-terminated). */
hsmssp_err kerb_default_salt(const char *client, char *out, size_t cap)
    BASE_WUR;

/* Refuses string-to-key parameters (ETYPE-INFO2 s2kparams, which no key
 * authenticates) that ask for fewer PBKDF2 iterations than the enctype's
 * default: HSMSSP_ERR_BAD_TOKEN.  NULL/0 (the default) is fine. */
hsmssp_err kerb_check_s2kparams(int32_t etype, const uint8_t *params,
                                size_t len) BASE_WUR;

/* What the KDC says about client's key of one enctype, without a key:
 * an AS-REQ offering only etype, whose PREAUTH_REQUIRED error (or
 * AS-REP) carries ETYPE-INFO2.  info gets the salt (the announced one,
 * else RFC 4120's default) and s2kparams; HSMSSP_ERR_KDC_ETYPE when the
 * account has no key of that enctype, HSMSSP_ERR_CLIENT_UNKNOWN ... */
hsmssp_err kerb_as_probe(prov_env *env, const char *client, int32_t etype,
                         kerb_as_info *info) BASE_WUR;

/* TGS exchange with tgt for server (unparsed, with realm) at the KDC of
 * the TGT's instance realm; kdc_options KERB_KDC_OPT_*.  The reply is
 * decrypted on the token with the TGT's session key.  With key_out NULL
 * the new session key is imported (per imp); with key_out it is not:
 * *key_out gets its bytes in a base_secret (a forwarded TGT that goes
 * into a KRB-CRED) and the ticket's key is NULL.  A reply for another
 * server than asked is accepted only as a referral (a TGT for another
 * realm, with CANONICALIZE) and flagged through *referral_out (may be
 * NULL when the caller asks for a TGT itself). */
hsmssp_err kerb_tgs_exchange(prov_env *env, const kerb_tkt *tgt,
                             const char *server, uint32_t kdc_options,
                             const kerb_import_opts *imp,
                             base_secret **key_out, bool *referral_out,
                             kerb_tkt **tkt_out) BASE_WUR;

/* A KRB-ERROR from a KDC or an acceptor as an hsmssp error with one line
 * naming the code, e-text and who sent it (peer: "KDC for R", "the
 * acceptor"); *code_out (may be NULL) gets the code. */
hsmssp_err kerb_error_to_err(base_der msg, const char *peer,
                             int32_t *code_out) BASE_WUR;

/* ---- credentials ------------------------------------------------------ */

struct kerb_cred_key {
    kerb_ks_entry e;  /* principal, kvno, etype */
    hsm_key *key;     /* NULL until first use (persistent keys) */
    bool borrowed;    /* key belongs to the env (session objects) */
};

/* Where an outbound credential's TGT comes from. */
typedef enum kerb_src {
    KERB_SRC_TOKEN_KEY = 1, /* the account's long-term key on the token */
    KERB_SRC_PASSWORD,      /* explicit identity: key made at acquire */
    KERB_SRC_STORE,         /* a TGT kept by `hsmssp kinit` */
    KERB_SRC_CCACHE,        /* an MIT credential cache */
    KERB_SRC_DELEGATED      /* a TGT delegated to an acceptor context */
} kerb_src;

#define KERB_MAX_CACHED_TICKETS 64
#define KERB_MAX_LT_KEYS 8

/* The outbound half of a credential.  lock guards tgt and tickets; a
 * ticket taken out is referenced, so it outlives a concurrent refresh. */
typedef struct kerb_out {
    kerb_src src;
    char client[KERB_KS_MAX_PRINCIPAL + 1];
    char realm[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_lt_key lt[KERB_MAX_LT_KEYS]; /* TOKEN_KEY, PASSWORD */
    size_t n_lt;
    char *ccache;       /* CCACHE: the cache's full name, re-read */
    char *store_path;   /* STORE: the ticket file */
    pthread_mutex_t lock;
    pthread_mutex_t refresh_lock; /* one TGT refresh at a time; taken
                                     before lock, never inside it */
    kerb_tkt *tgt;
    bool tgt_dead;       /* its key left the token: fetch another */
    int64_t retry_after; /* no refresh before (after a failure) */
    /* Service tickets and cross-realm TGTs, by the name they were asked
     * for (which differs from the ticket's after a referral). */
    struct {
        char name[KERB_KS_MAX_PRINCIPAL + 1];
        kerb_tkt *t;
    } cache[KERB_MAX_CACHED_TICKETS];
    size_t n_cache;
    /* Target names as the application writes them and their canonical
     * form (the mapping reads krb5.conf: not on every call). */
    struct {
        char raw[KERB_KS_MAX_PRINCIPAL + 1];
        char canon[KERB_KS_MAX_PRINCIPAL + 1];
    } names[KERB_MAX_CACHED_TICKETS];
    size_t n_names, next_name;
} kerb_out;

typedef struct kerb_cred {
    prov_env *env;
    hsm_token *tok;
    unsigned use;     /* PROV_CRED_* */
    char *principal;  /* NULL: any service key on the token */
    pthread_mutex_t lock;
    kerb_cred_key *keys;
    size_t n_keys;
    kerb_out *out;    /* outbound credentials only */
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
    /* The delegated TGT (its session key imported at arrival); NULL
     * unless delegation was accepted.  Referenced, so that credentials
     * made from it (kerb_acquire_delegated) outlive the context. */
    kerb_tkt *deleg;

    /* Initiator, between the AP-REQ and the AP-REP: the service ticket
     * (its session key opens the AP-REP), the authenticator's time (the
     * AP-REP must echo it) and the sequence number it announced. */
    kerb_tkt *tkt;
    int64_t ctime;
    int32_t cusec;
    uint32_t init_seq;
    uint32_t init_req; /* PROV_F_* the AP-REQ announced (first call) */
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

/* ---- the initiator (kerb_init.c) ------------------------------------- */

/* InitializeSecurityContext: the first call (*ctx NULL) makes the AP-REQ,
 * the second (with mutual authentication) takes the AP-REP or the
 * acceptor's KRB-ERROR. */
hsmssp_err kerb_init(void *cred, void **ctx, prov_step *step) BASE_WUR;

/* ---- outbound credentials (kerb_out.c) -------------------------------- */

/* Fills cred->out: from the identity (password), else for principal (or
 * the default ccache's principal when NULL): a TGT stored by `hsmssp
 * kinit`, the account's keys on the token (AS exchange now), or the MIT
 * credential cache (KRB5CCNAME).  *expiry_out: the TGT's end time. */
hsmssp_err kerb_out_acquire(kerb_cred *cred, const char *principal,
                            const prov_identity *id, int64_t *expiry_out)
    BASE_WUR;
void kerb_out_free(kerb_out *out);

/* Opens the newest key of each permitted enctype that the token holds
 * for client, in permitted_enctypes order, up to max: persistent keys of
 * the key store, and keys this process imported into session objects
 * (kerb_register_session_key; borrowed).  *n_out 0 when there is none.
 * kerb_lt_free() releases what it opened. */
hsmssp_err kerb_lt_load(prov_env *env, hsm_token *tok, const char *client,
                        kerb_lt_key *lt, size_t max, size_t *n_out) BASE_WUR;
/* Drops the env's shared TGTs (of client, or of every account when
 * client is NULL): the next acquisition runs an AS exchange.  Credentials
 * keep the TGTs they hold. */
void kerb_shared_tgt_purge(prov_env *env, const char *client);

/* The same from a new listing of the token (the env's kept list of
 * client is replaced): after the KDC refused a key, or one was gone. */
hsmssp_err kerb_lt_load_fresh(prov_env *env, hsm_token *tok,
                              const char *client, kerb_lt_key *lt,
                              size_t max, size_t *n_out) BASE_WUR;
void kerb_lt_free(kerb_lt_key *lt, size_t n);

/* The credential's TGT (for its own realm), refreshed first when it
 * expires within the refresh margin: another AS exchange with the key,
 * a re-read of the ticket file or ccache, else HSMSSP_ERR_NO_TICKET.
 * Referenced: kerb_tkt_unref() it. */
hsmssp_err kerb_out_tgt(kerb_cred *cred, kerb_tkt **tgt_out) BASE_WUR;

/* Drops a ticket whose key object is gone from the token (an operation
 * failed with HSMSSP_ERR_KEY_GONE or _KEY_NOT_FOUND): out of the cache,
 * and when it is the TGT, the next kerb_out_tgt() fetches a new one. */
void kerb_out_forget(kerb_cred *cred, const kerb_tkt *t);

/* A service ticket for server (unparsed, with realm): from the cache when
 * valid, else through TGS exchanges (cross-realm TGTs and referrals
 * followed, at most KERB_MAX_REFERRALS hops), then cached.  Referenced. */
#define KERB_MAX_REFERRALS 5
hsmssp_err kerb_out_service_ticket(kerb_cred *cred, const char *server,
                                   kerb_tkt **tkt_out) BASE_WUR;

/* kerb_name_canon_env() for a target name, remembered per credential;
 * out needs KERB_KS_MAX_PRINCIPAL + 1 bytes. */
hsmssp_err kerb_out_target(kerb_cred *cred, const char *target, char *out)
    BASE_WUR;

/* An outbound credential from the TGT delegated to an acceptor context
 * (the context keeps its copy; the credential gets its own reference to
 * the same token object). */
hsmssp_err kerb_acquire_delegated(void *ctx, void **cred_out,
                                  int64_t *expiry_out) BASE_WUR;

/* ---- TGTs stored for other processes (kerb_store.c, `hsmssp kinit`) -- */

/* The stored TGT of client: the ticket file (kerb_tktfile.h) and its
 * session key, a persistent token object found by the CKA_ID the file
 * records.  HSMSSP_ERR_NO_TICKET when there is none, when it has expired
 * (the file and the object are removed then) or when it was stored with
 * another token.  *path_out (may be NULL) gets the file's path. */
hsmssp_err kerb_store_load(prov_env *env, hsm_token *tok, const char *client,
                           char **path_out, kerb_tkt **tgt_out) BASE_WUR;

/* AS exchange for client with its keys on the token, the TGT's session
 * key imported as a persistent object, the ticket file written, and the
 * TGT it replaces (file and object) removed.  Tokens without persistent
 * objects give HSMSSP_ERR_UNSUPPORTED with a reason. */
hsmssp_err kerb_store_kinit(prov_env *env, hsm_token *tok, const char *client,
                            char **path_out, kerb_tkt **tgt_out) BASE_WUR;

/* Removes the stored TGT of client (NULL: every stored TGT of this user)
 * and its token object; *n_out gets how many went.  Expired objects whose
 * file is gone are swept too. */
hsmssp_err kerb_store_destroy(prov_env *env, hsm_token *tok,
                              const char *client, size_t *n_out) BASE_WUR;

/* One stored TGT as `hsmssp klist` shows it: the file's entry (or NULL
 * when the file does not parse: problem says why) and what the token
 * says about its key. */
typedef struct kerb_store_item {
    const char *path;
    const kerb_tktfile_entry *e;
    bool expired;
    bool other_token; /* stored with another token than this one */
    bool key_present; /* its key object is on this token */
    const char *problem;
} kerb_store_item;

typedef bool (*kerb_store_fn)(void *arg, const kerb_store_item *it);

/* Visits every stored TGT of this user (fn returns false to stop). */
hsmssp_err kerb_store_list(prov_env *env, hsm_token *tok, kerb_store_fn fn,
                           void *arg) BASE_WUR;

/* ---- MIT credential caches (kerb_ccache.c) --------------------------- */

/* Reads the TGT of principal (NULL: the cache's own principal) from the
 * credential cache name (NULL: KRB5CCNAME / the default), imports its
 * session key into the token and wipes libkrb5's keyblock.  A TGT ending
 * no later than newer_than (0: any) is HSMSSP_ERR_NO_TICKET and is not
 * imported.  *name_out gets the cache's full name (for re-reading). */
hsmssp_err kerb_ccache_load(prov_env *env, hsm_token *tok, const char *name,
                            const char *principal, int64_t newer_than,
                            char **name_out, kerb_tkt **tgt_out) BASE_WUR;

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

/* The client principal of an outbound credential, else the service
 * principal of an inbound one; HSMSSP_ERR_UNSUPPORTED for an inbound
 * credential of any service key on the token (it has no one name). */
hsmssp_err kerb_cred_name(void *cred, char **name_out) BASE_WUR;

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
