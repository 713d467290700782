/*
 * provider/provider.h - what sspi/ calls: the runtime environment that
 * packages share, the package operations table, and the package-neutral
 * buffers, flags and context facts that sspi/ translates to and from the
 * Windows types.
 *
 * Nothing here mentions SSPI types or status codes (those exist only in
 * sspi/), so the same provider code can later run inside the broker
 * daemon of DESIGN sec. 6 behind another front end.
 *
 * Ownership.  A prov_env owns the configuration, the token (opened on
 * first use), the replay cache and the keys imported into session
 * objects for this process.  Credentials and contexts are owned by
 * whoever made them (sspi/'s handle table) and hold a reference on the
 * env.  Output tokens are malloc'ed by the package and freed by the
 * caller (prov_free_token()).
 *
 * Threads.  Every function may be called from any thread.  A context may
 * be used by one sending and one receiving thread at once (wrap/get_mic
 * vs unwrap/verify_mic); establishing a context and deleting it must not
 * race with other calls on it (sspi/ guarantees that with references).
 */
#ifndef HSMSSP_PROVIDER_H
#define HSMSSP_PROVIDER_H

#include <sys/types.h>

#include "base/base.h"
#include "hsm/hsm.h"

typedef struct prov_env prov_env;
struct prov_config;

/* ---- the environment -------------------------------------------------- */

/* Loads the configuration (path NULL: $HSMSSP_CONFIG, then the default
 * path, which may be missing) into a new env.  The token is not opened
 * yet: that happens at the first credential, so that listing packages
 * works without one. */
hsmssp_err prov_env_open(const char *config_path, prov_env **env_out)
    BASE_WUR;

/* References: every credential and context holds one. */
void prov_env_ref(prov_env *env);
void prov_env_unref(prov_env *env);

/* The configuration (read-only after open). */
const struct prov_config *prov_env_config(const prov_env *env);

/* The token, opened (and logged in) on first call. */
hsmssp_err prov_env_token(prov_env *env, hsm_token **tok_out) BASE_WUR;

/* Process that created the env; after fork() a child must not use the
 * parent's credentials and contexts (their session objects are gone). */
pid_t prov_env_pid(const prov_env *env);

/* State a package keeps per env (the Kerberos replay cache, keys imported
 * into session objects): made by make() on the first call, under the
 * env's lock (make() must not call prov_env_token()), destroyed with the
 * env; owner (the package's address) tells the slots apart. */
hsmssp_err prov_env_state(prov_env *env, const void *owner,
                          hsmssp_err (*make)(prov_env *env, void **state_out),
                          void (*destroy)(void *state), void **state_out)
    BASE_WUR;

/* Wall clock in microseconds since the Unix epoch. */
int64_t prov_now_us(void);

/* ---- buffers ---------------------------------------------------------- */

typedef enum prov_buf_type {
    PROV_BUF_EMPTY = 0,
    PROV_BUF_DATA,    /* message bytes (processed in place) */
    PROV_BUF_TOKEN,   /* the security token / signature */
    PROV_BUF_PADDING, /* block-cipher padding (size may become 0) */
    PROV_BUF_STREAM,  /* a whole token + message, to be split */
    PROV_BUF_OTHER    /* anything the package ignores */
} prov_buf_type;

/* Data that is neither encrypted nor signed / signed only. */
#define PROV_BUF_READONLY 0x1u
#define PROV_BUF_READONLY_WITH_CHECKSUM 0x2u

typedef struct prov_buf {
    prov_buf_type type;
    unsigned flags;
    uint8_t *p;
    size_t len; /* in: the caller's size; out: the size used */
} prov_buf;

/* ---- flags (GSS-like, mapped from and to ISC/ASC flags by sspi/) ------ */

#define PROV_F_DELEGATE 0x0001u
#define PROV_F_MUTUAL 0x0002u
#define PROV_F_REPLAY 0x0004u
#define PROV_F_SEQUENCE 0x0008u
#define PROV_F_CONF 0x0010u
#define PROV_F_INTEG 0x0020u
#define PROV_F_IDENTIFY 0x0040u
#define PROV_F_EXTENDED_ERROR 0x0080u
#define PROV_F_CONNECTION 0x0100u

/* Channel bindings, as SEC_CHANNEL_BINDINGS and gss_channel_bindings
 * carry them. */
typedef struct prov_cb {
    uint32_t initiator_addrtype;
    const uint8_t *initiator_address;
    size_t initiator_address_len;
    uint32_t acceptor_addrtype;
    const uint8_t *acceptor_address;
    size_t acceptor_address_len;
    const uint8_t *application_data;
    size_t application_data_len;
} prov_cb;

/* One step of context establishment.  in_token may be empty (first
 * initiator step); out_token is malloc'ed by the package or NULL. */
typedef struct prov_step {
    /* in */
    const uint8_t *in_token;
    size_t in_len;
    const prov_cb *cb; /* NULL: none given */
    uint32_t req_flags;
    const char *target; /* initiator: target name */
    /* out */
    uint8_t *out_token;
    size_t out_len;
    uint32_t ret_flags;
    int64_t expiry; /* Unix seconds */
    bool continue_needed;
} prov_step;

/* Facts about an established context, for QueryContextAttributes. */
typedef struct prov_ctx_info {
    /* SECPKG_ATTR_SIZES / STREAM_SIZES */
    uint32_t max_token, max_signature, block_size, security_trailer;
    uint32_t stream_header, stream_trailer, stream_max_message;
    /* SECPKG_ATTR_NAMES / NATIVE_NAMES: unparsed principals. */
    char client[512];
    char server[512];
    /* SECPKG_ATTR_LIFESPAN: Unix seconds. */
    int64_t start, expiry;
    uint32_t flags; /* PROV_F_* in force */
    bool initiator;
    /* SECPKG_ATTR_KEY_INFO: algorithm names and numbers, never a key. */
    char sig_alg_name[64];
    char enc_alg_name[64];
    uint32_t key_bits;
    int32_t sig_alg; /* checksum type number */
    int32_t enc_alg; /* enctype number */
} prov_ctx_info;

/* A SID in string form ("S-1-5-21-...") with its SE_GROUP_* attributes. */
typedef struct prov_sid {
    char *sid;
    uint32_t attributes;
} prov_sid;

/* Authorization facts (the Kerberos PAC, when there was one).  Views into
 * the context; valid while it lives. */
typedef struct prov_authz {
    bool has_pac;
    const char *client_name; /* PAC_CLIENT_INFO */
    bool has_upn_dns_info;
    const char *upn, *dns_domain;
    bool has_logon_info;
    const char *effective_name, *full_name, *logon_server;
    const char *logon_domain_name, *logon_domain_sid;
    const char *user_sid, *primary_group_sid;
    uint32_t user_flags;
    const prov_sid *groups;
    size_t n_groups;
    const prov_sid *extra_sids;
    size_t n_extra_sids;
    const char *resource_domain_sid;
    const prov_sid *resource_groups;
    size_t n_resource_groups;
} prov_authz;

/* ---- packages -------------------------------------------------------- */

#define PROV_CRED_INBOUND 0x1u
#define PROV_CRED_OUTBOUND 0x2u

/* Explicit credentials (SEC_WINNT_AUTH_IDENTITY_A), UTF-8. */
typedef struct prov_identity {
    const char *user, *domain, *password;
    size_t user_len, domain_len, password_len;
} prov_identity;

/* Package capabilities (sspi/ maps them to SECPKG_FLAG_*). */
#define PROV_CAP_INTEGRITY 0x0001u
#define PROV_CAP_PRIVACY 0x0002u
#define PROV_CAP_TOKEN_ONLY 0x0004u
#define PROV_CAP_CONNECTION 0x0008u
#define PROV_CAP_EXTENDED_ERROR 0x0010u
#define PROV_CAP_IMPERSONATION 0x0020u
#define PROV_CAP_MUTUAL_AUTH 0x0040u
#define PROV_CAP_DELEGATION 0x0080u
#define PROV_CAP_GSS_COMPATIBLE 0x0100u
#define PROV_CAP_NEGOTIABLE 0x0200u
#define PROV_CAP_READONLY_WITH_CHECKSUM 0x0400u
#define PROV_CAP_LOGON 0x0800u

typedef struct prov_package {
    const char *name;    /* "Kerberos" */
    const char *comment; /* one line */
    uint32_t caps;       /* PROV_CAP_* */
    uint16_t version;
    uint16_t rpcid;
    uint32_t max_token;

    hsmssp_err (*acquire)(prov_env *env, const char *principal,
                          unsigned use, const prov_identity *id,
                          void **cred_out, int64_t *expiry_out);
    void (*cred_free)(void *cred);
    /* The principal a credential stands for (QueryCredentialsAttributes
     * NAMES); *name_out malloc'ed. */
    hsmssp_err (*cred_name)(void *cred, char **name_out);
    /* Accept or initiate one step; *ctx is NULL at the first step and
     * receives the new context (also when the step fails after it was
     * created: the caller frees it). */
    hsmssp_err (*accept)(void *cred, void **ctx, prov_step *step);
    hsmssp_err (*init)(void *cred, void **ctx, prov_step *step);
    void (*ctx_free)(void *ctx);
    /* An outbound credential from what the peer delegated to an
     * acceptor context (NULL: the package has no delegation). */
    hsmssp_err (*acquire_delegated)(void *ctx, void **cred_out,
                                    int64_t *expiry_out);
    /* Drops what the package keeps in env for later credentials (the
     * Kerberos package: TGTs shared between credentials) of principal,
     * or of everyone when principal is NULL; credentials keep what they
     * hold.  NULL: the package keeps nothing of the kind. */
    hsmssp_err (*purge_tickets)(prov_env *env, const char *principal);
    hsmssp_err (*info)(void *ctx, prov_ctx_info *out);
    hsmssp_err (*authz)(void *ctx, prov_authz *out);
    /* The local account the peer maps to (acceptor), for impersonation;
     * *name_out malloc'ed. */
    hsmssp_err (*local_name)(void *ctx, char **name_out);
    hsmssp_err (*wrap)(void *ctx, bool conf, prov_buf *bufs, size_t n);
    hsmssp_err (*unwrap)(void *ctx, prov_buf *bufs, size_t n,
                         bool *conf_out);
    hsmssp_err (*get_mic)(void *ctx, prov_buf *bufs, size_t n);
    hsmssp_err (*verify_mic)(void *ctx, prov_buf *bufs, size_t n);
} prov_package;

/* The packages, in the order EnumerateSecurityPackages lists them. */
extern const prov_package *const prov_packages[];
extern const size_t prov_n_packages;

void prov_free_token(uint8_t *token);

#endif
