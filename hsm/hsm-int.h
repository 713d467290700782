/*
 * hsm/hsm-int.h - what the files of hsm/ share: the token and key
 * structures, the session pool and owner-session calls, CK_RV conversion,
 * the derived-key cache, and the PKCS#11 3.0 definitions that p11-kit
 * 0.24's v2.40 pkcs11.h lacks.
 *
 * Ownership: an hsm_token owns its sessions, its retained PIN (a
 * base_secret), its cache and the strategy table.  An hsm_key belongs to
 * one token and owns the session objects it created; persistent objects
 * belong to the token's storage and outlive the hsm_key.
 *
 * Locking order: tok->lock (recovery, pool) before tok->owner_lock (the
 * owner session) before tok->cache_lock.  Never call into the module while
 * holding tok->lock except during recovery and open/close.
 */
#ifndef HSMSSP_HSM_INT_H
#define HSMSSP_HSM_INT_H

#include <pthread.h>
#include <sys/types.h>

#include <p11-kit/pkcs11.h>

#include "hsm/hsm.h"

/* ---- PKCS#11 3.0 definitions (OASIS PKCS#11 3.0 base and current
 * mechanisms specifications; absent from p11-kit 0.24's v2.40 header) -- */
#ifndef CKM_SP800_108_COUNTER_KDF
#define CKM_SP800_108_COUNTER_KDF 0x000003acUL
#define CKM_SP800_108_FEEDBACK_KDF 0x000003adUL
#define CKM_SP800_108_DOUBLE_PIPELINE_KDF 0x000003aeUL
#endif
#ifndef CK_SP800_108_ITERATION_VARIABLE
#define CK_SP800_108_ITERATION_VARIABLE 0x00000001UL
#define CK_SP800_108_OPTIONAL_COUNTER 0x00000002UL
#define CK_SP800_108_DKM_LENGTH 0x00000003UL
#define CK_SP800_108_BYTE_ARRAY 0x00000004UL
#define CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS 0x00000001UL
#define CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS 0x00000002UL

typedef struct hsm_prf_data_param {
    CK_ULONG type;
    CK_VOID_PTR pValue;
    CK_ULONG ulValueLen;
} hsm_prf_data_param;

typedef struct hsm_sp800_108_counter_format {
    CK_BBOOL bLittleEndian;
    CK_ULONG ulWidthInBits;
} hsm_sp800_108_counter_format;

typedef struct hsm_sp800_108_dkm_length_format {
    CK_ULONG dkmLengthMethod;
    CK_BBOOL bLittleEndian;
    CK_ULONG ulWidthInBits;
} hsm_sp800_108_dkm_length_format;

typedef struct hsm_derived_key {
    CK_ATTRIBUTE_PTR pTemplate;
    CK_ULONG ulAttributeCount;
    CK_OBJECT_HANDLE_PTR phKey;
} hsm_derived_key;

typedef struct hsm_sp800_108_kdf_params {
    CK_MECHANISM_TYPE prfType;
    CK_ULONG ulNumberOfDataParams;
    hsm_prf_data_param *pDataParams;
    CK_ULONG ulAdditionalDerivedKeys;
    hsm_derived_key *pAdditionalDerivedKeys;
} hsm_sp800_108_kdf_params;

typedef struct hsm_sp800_108_feedback_kdf_params {
    CK_MECHANISM_TYPE prfType;
    CK_ULONG ulNumberOfDataParams;
    hsm_prf_data_param *pDataParams;
    CK_ULONG ulIVLen;
    CK_BYTE_PTR pIV;
    CK_ULONG ulAdditionalDerivedKeys;
    hsm_derived_key *pAdditionalDerivedKeys;
} hsm_sp800_108_feedback_kdf_params;
#endif

#ifndef CKM_RC4
#define CKM_RC4 0x00000111UL
#endif
#ifndef CKK_RC4
#define CKK_RC4 0x00000012UL
#endif

/* ---- sessions ------------------------------------------------------- */

/* A pooled session, borrowed by one thread for one engine operation
 * (which may run one operation of each kind: encrypt, decrypt, sign,
 * verify, digest). */
typedef struct hsm_sess {
    CK_SESSION_HANDLE h;
    uint64_t gen; /* token generation it was opened in */
    struct hsm_sess *next;
} hsm_sess;

/* ---- derived-key cache ---------------------------------------------- */

/* One cached derived key: the object handle of the per-usage key of
 * (key serial, usage, role).  Entries of an older generation are stale
 * (their session died) and are never returned. */
typedef struct hsm_cache_entry {
    uint64_t key_serial;
    int32_t usage;
    uint8_t role; /* 0xAA Ke, 0x55 Ki, 0x99 Kc, or strategy-defined */
    CK_OBJECT_HANDLE obj;
    uint64_t gen;
    uint64_t last_use;
    unsigned pins; /* operations using obj right now: not evictable */
    bool used;
} hsm_cache_entry;

typedef struct hsm_cache {
    hsm_cache_entry *slots;
    size_t cap;   /* bound on entries */
    size_t count; /* live entries */
    uint64_t clock;
    uint64_t evictions;
} hsm_cache;

/* ---- per-token strategy plans (chosen by probe.c, run by engine.c) -- */

/* How per-usage keys are made. */
typedef enum hsm_derive_kind {
    HSM_DERIVE_NONE = 0,     /* the token cannot do it */
    HSM_DERIVE_DK_ECB,       /* aes128 DK: AES_ECB_ENCRYPT_DATA(nfold) */
    HSM_DERIVE_DK_CBC,       /* aes256 DK: AES_CBC_ENCRYPT_DATA(iv 0,
                                nfold || 0^16) */
    HSM_DERIVE_KDF_COUNTER,  /* RFC 8009 KDF as SP800-108 counter mode */
    HSM_DERIVE_HOST_IMPORT,  /* RFC 8009 KDF on the host at import */
    HSM_DERIVE_FEEDBACK_MD5, /* RC4-HMAC: HMAC-MD5 as SP800-108 feedback */
    HSM_DERIVE_HOST_OP       /* RC4-HMAC: HMAC-MD5 on token, rest host */
} hsm_derive_kind;

/* How AES-CTS (CS3) is computed. */
typedef enum hsm_cts_kind {
    HSM_CTS_NONE = 0,
    HSM_CTS_COMPOSED,   /* CBC encrypt + reorder; ECB + CBC decrypt */
    HSM_CTS_NATIVE_CS1, /* CKM_AES_CTS in NIST CS1 order + reorder */
    HSM_CTS_NATIVE_CS3  /* CKM_AES_CTS already in Kerberos order */
} hsm_cts_kind;

#define HSM_N_ETYPES 5

typedef struct hsm_etype_plan {
    int32_t etype;
    hsm_derive_kind derive;
    hsm_cts_kind cts;
    /* HMAC key length the integrity/checksum keys are padded to with
     * zeros (HMAC(K) = HMAC(K || 0...) below the block size) so that the
     * token's HMAC minimum key size is met; 0 = no padding. */
    unsigned mac_keylen;
    hsm_level level;
    bool allowed;        /* policy lets this plan run */
    const char *missing; /* the mechanism whose absence set the level */
} hsm_etype_plan;

/* CKA_ALLOWED_MECHANISMS of a per-usage encryption key (Ke) under the
 * plan: exactly the mechanisms its CTS path calls on this token
 * (composed: AES_CBC and AES_ECB; native CTS: AES_CTS, and AES_CBC for
 * one-block messages).  Writes at most HSM_KE_MECHS_MAX; returns the
 * count.  (engine.c) */
#define HSM_KE_MECHS_MAX 2
size_t hsm_ke_mechs(const hsm_etype_plan *plan, CK_MECHANISM_TYPE *out);

/* The plan of an etype on this token, NULL for an unknown etype. */
const hsm_etype_plan *hsm_plan(const hsm_token *tok, int32_t etype);

/* ---- the token ------------------------------------------------------ */

#define HSM_ROWS_MAX 16

struct hsm_token {
    /* module */
    char *module_name;          /* as configured */
    CK_FUNCTION_LIST *fl;       /* from p11-kit */
    bool module_registered;     /* loaded by p11-kit name vs by path */
    char *init_args;            /* C_Initialize pReserved, or NULL */
    bool module_initialized;    /* our C_Initialize succeeded and no
                                   C_Finalize followed: p11-kit's managed
                                   wrapper must not be called otherwise
                                   (its C_CloseAllSessions asserts) */
    CK_SLOT_ID slot;
    char *token_uri;            /* the configured URI, without PIN */
    CK_INFO info;               /* module, slot and token as found at open
                                   (or after recovery/fork), for matching
                                   key URIs without asking the token */
    CK_SLOT_INFO slot_info;
    CK_TOKEN_INFO token_info;
    hsm_token_ident ident;
    CK_FLAGS token_flags;

    /* login */
    base_secret *pin;           /* pin-value or pin read once; NULL when a
                                   pin-source is re-read at each login */
    char *pin_source;           /* RFC 7512 pin-source, asked of p11-kit's
                                   PIN callbacks at each login */
    bool pin_cb_registered;     /* our file callback is registered for
                                   pin_source (token.c) */
    bool pin_lost_in_fork;      /* pin read as wiped in this fork child
                                   (MADV_WIPEONFORK); login says why */

    unsigned policy;

    /* sessions */
    pthread_mutex_t lock;       /* pool, generation, recovery, pid */
    hsm_sess *pool;             /* idle sessions of the current gen */
    size_t pool_open;           /* sessions opened in the current gen */
    uint64_t gen;               /* bumped on reconnect, re-login, fork */
    pid_t pid;                  /* process that opened the sessions */

    pthread_mutex_t owner_lock; /* serialises use of the owner session */
    CK_SESSION_HANDLE owner;    /* creates every session object */

    /* capabilities and strategies */
    hsm_caps caps;
    hsm_strategy_row rows[HSM_ROWS_MAX];
    size_t n_rows;
    char row_strategy[HSM_ROWS_MAX][96]; /* storage for rows[].strategy */
    char row_mechs[HSM_ROWS_MAX][224];   /* storage for rows[].mechanisms */
    hsm_etype_plan plans[HSM_N_ETYPES]; /* one per supported enctype */

    /* derived keys */
    pthread_mutex_t cache_lock;
    hsm_cache cache;
    uint64_t next_key_serial;
};

/* ---- keys ----------------------------------------------------------- */

/* Roles of stored or cached objects beyond RFC 3961's 0x99/0xAA/0x55,
 * shared by import.c and engine.c. */
#define HSM_ROLE_RC4_K1 0x01     /* RFC 4757 K1 = HMAC-MD5(K, usage) */
#define HSM_ROLE_RC4_KSIGN 0x02  /* Ksign = HMAC-MD5(K, "signaturekey\0") */
#define HSM_ROLE_RC4_KLOCAL 0x03 /* Klocal = K xor F0..F0 (RFC 4757 7.3) */
#define HSM_ROLE_RC4_KC0 0x04    /* HMAC-MD5(Klocal, 0^4) */

/* A per-usage key stored at import by a host-derivation strategy. */
typedef struct hsm_stored_usage {
    int32_t usage;
    uint8_t role;
    CK_OBJECT_HANDLE obj;
} hsm_stored_usage;

#define HSM_ID_MAX 320

struct hsm_key {
    hsm_token *tok;
    int32_t etype;
    hsm_key_class key_class;
    bool persistent;
    uint8_t id[HSM_ID_MAX];
    size_t id_len;
    uint64_t serial;        /* cache key; unique per token */
    pthread_mutex_t lock;   /* guards base/stored handles and gen */
    CK_OBJECT_HANDLE base;  /* the key itself */
    uint64_t gen;           /* token generation the handles belong to */
    pid_t pid;
    /* etype 17 on tokens whose HMAC minimum exceeds 16 bytes:
     * Z = D_K(0^16), not secret (DESIGN sec. 8). */
    uint8_t z[16];
    bool have_z;
    hsm_stored_usage *stored;
    size_t n_stored;
    /* Per-usage keys a class S key derived on the token, owned by the key
     * (destroyed with it) rather than kept in the token's shared cache: a
     * server's hundreds of contexts would otherwise evict each other's
     * keys from the cache at every message.  At most HSM_OWN_MAX (every
     * usage and role an RFC 4121 context uses fits); beyond, a derived
     * key is used once and destroyed. */
    hsm_stored_usage own[16];
    size_t n_own;
};
#define HSM_OWN_MAX 16

/* ---- objects (import.c) --------------------------------------------- */

/* What a secret-key object the project creates looks like.  Every object
 * is CKA_SENSITIVE=TRUE and CKA_EXTRACTABLE=FALSE, whatever the template
 * says: there is no field to ask otherwise. */
typedef struct hsm_obj_tmpl {
    CK_KEY_TYPE key_type;
    bool token;   /* CKA_TOKEN: persistent */
    bool priv;    /* CKA_PRIVATE (only honoured when the token can) */
    bool encrypt, decrypt, sign, derive, unwrap;
    const CK_MECHANISM_TYPE *mechs; /* CKA_ALLOWED_MECHANISMS */
    size_t n_mechs;
    const uint8_t *id; /* CKA_ID, optional */
    size_t id_len;
    const char *label; /* CKA_LABEL, optional */
} hsm_obj_tmpl;

/* Creates a secret key from value (len bytes) with the template, in the
 * owner session. */
hsmssp_err hsm_obj_create(hsm_token *tok, const hsm_obj_tmpl *t,
                          const uint8_t *value, size_t len,
                          CK_OBJECT_HANDLE *obj_out) BASE_WUR;

/* C_DeriveKey in the owner session into a secret key of value_len bytes
 * (CKA_VALUE_LEN; 0 omits it) with the template. */
hsmssp_err hsm_obj_derive(hsm_token *tok, CK_MECHANISM *mech,
                          CK_OBJECT_HANDLE base, const hsm_obj_tmpl *t,
                          size_t value_len, CK_OBJECT_HANDLE *obj_out)
    BASE_WUR;

/* Destroys an object through the owner session, ignoring a handle that is
 * already gone. */
void hsm_obj_destroy(hsm_token *tok, CK_OBJECT_HANDLE obj);

/* Looks a persistent key's objects up again by CKA_ID (after
 * hsm_key_find, a recovery or a fork).  Caller holds key->lock or owns
 * the key alone. */
hsmssp_err hsm_key_refresh_unlocked(hsm_key *key) BASE_WUR;

/* ---- calls the token layer (token.c) provides ----------------------- */

/* Counts one PKCS#11 call for hsm_token_call_count(). */
void hsm_count_call(void);
#define P11(tok, fn, ...) (hsm_count_call(), (tok)->fl->fn(__VA_ARGS__))

/* Converts a CK_RV at the hsm/ boundary: the one table from CK_RV to
 * hsmssp_err, each CKR_PIN_* to its own code.  Records the error with
 * "what" (the failing call, e.g. "C_Encrypt(CKM_AES_CBC)") as detail.
 * CKR_OK gives HSMSSP_OK.  A CK_RV meaning the session or login is gone
 * (SESSION_HANDLE_INVALID, SESSION_CLOSED, DEVICE_REMOVED,
 * TOKEN_NOT_PRESENT, USER_NOT_LOGGED_IN, DEVICE_ERROR) maps to
 * HSMSSP_ERR_SESSION_LOST or HSMSSP_ERR_TOKEN_REMOVED, which tells the
 * engine to call hsm_token_recover(). */
hsmssp_err hsm_rv(CK_RV rv, const char *what);

/* True for the codes after which hsm_token_recover() is worth a try. */
bool hsm_err_needs_recovery(hsmssp_err err);

/* Borrows an idle session (opening one if none is idle).  Detects fork
 * first (re-initialising in the child).  Fails with SESSION_LOST while a
 * failed recovery left no owner session (not logged in).  Every borrowed
 * session must go back through hsm_session_put(). */
hsmssp_err hsm_session_get(hsm_token *tok, hsm_sess **s_out) BASE_WUR;

/* Returns a session.  A session of an older generation, or one whose
 * last call failed (failed = true), is closed or dropped, not pooled. */
void hsm_session_put(hsm_token *tok, hsm_sess *s, bool failed);

/* Locks the owner session for creating, deriving or destroying session
 * objects; *gen_out gets the generation of that session.  Detects fork. */
hsmssp_err hsm_owner_acquire(hsm_token *tok, CK_SESSION_HANDLE *h_out,
                             uint64_t *gen_out) BASE_WUR;
void hsm_owner_release(hsm_token *tok);

/* Checks the module, slot and token attributes of a parsed URI against
 * the open token: HSMSSP_OK, or HSMSSP_ERR_NO_TOKEN naming the token
 * (never echoing the URI). */
struct p11_kit_uri;
hsmssp_err hsm_token_uri_matches(hsm_token *tok, struct p11_kit_uri *uri)
    BASE_WUR;

/* Current generation (under tok->lock). */
uint64_t hsm_token_generation(hsm_token *tok);

/* Recovers after a session-loss error seen in generation seen_gen: when
 * no other thread did so already, closes every session, bumps the
 * generation, flushes the derived-key cache, reopens the owner session
 * and logs in again.  Returns HSMSSP_OK when the token is usable again,
 * otherwise the reason (e.g. HSMSSP_ERR_TOKEN_REMOVED) without partial
 * state: the next call tries again.  Logs the event. */
hsmssp_err hsm_token_recover(hsm_token *tok, uint64_t seen_gen) BASE_WUR;

/* Checks for fork() under tok->lock and re-initialises in the child.
 * Called by hsm_session_get() and hsm_owner_acquire(). */
hsmssp_err hsm_token_check_fork_unlocked(hsm_token *tok) BASE_WUR;

/* ---- calls the engine provides to the token layer ------------------- */

/* Probes the token and fills tok->caps, tok->rows (probe.c). */
hsmssp_err hsm_probe_run(hsm_token *tok) BASE_WUR;

/* Cache (cache.c).  hsm_cache_init() allocates cap slots. */
hsmssp_err hsm_cache_init(hsm_cache *c, size_t cap) BASE_WUR;
void hsm_cache_fini(hsm_cache *c);
/* Forgets every entry without destroying objects (their session died).
 * Caller holds tok->cache_lock. */
void hsm_cache_reset_unlocked(hsm_cache *c);

/* Looks (serial, usage, role) of generation gen up; pins (pins++) and
 * returns the entry, or NULL.  Caller holds tok->cache_lock, and unpins
 * (pins--) under it when done with the object. */
hsm_cache_entry *hsm_cache_find_unlocked(hsm_cache *c, uint64_t serial,
                                         int32_t usage, uint8_t role,
                                         uint64_t gen);

/* Inserts a freshly derived object, pinned.  Takes a free slot, a stale
 * one (older generation: nothing to destroy) or the least recently used
 * unpinned one, whose object goes to *evict_out for the caller to destroy
 * outside the lock.  NULL when every slot is pinned (the caller then uses
 * the object once and destroys it).  Caller holds tok->cache_lock. */
hsm_cache_entry *hsm_cache_insert_unlocked(hsm_cache *c, uint64_t serial,
                                           int32_t usage, uint8_t role,
                                           uint64_t gen, CK_OBJECT_HANDLE obj,
                                           CK_OBJECT_HANDLE *evict_out);

/* ---- test hooks (tests/ only) ------------------------------------- */

/* Runs the engine's AES-CTS path for etype's plan on this token
 * (composed CBC+ECB, or native CKM_AES_CTS with the CS1 reorder) with a
 * session object shaped like a per-usage Ke key (CKA_ALLOWED_MECHANISMS
 * from hsm_ke_mechs) made from the raw AES key bytes, over len >= 16
 * bytes with the initial vector iv; out gets len bytes.  The object is
 * destroyed before return.  For the RFC 3962 known-answer tests. */
hsmssp_err hsm_test_cts(hsm_token *tok, int32_t etype, const base_secret *key,
                        bool encrypt, const uint8_t iv[16],
                        const uint8_t *in, size_t len, uint8_t *out)
    BASE_WUR;

#endif
