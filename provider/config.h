/*
 * provider/config.h - the hsmssp configuration file.
 *
 * hsmssp reads one file in krb5.conf syntax (MIT's profile library parses
 * it; <profile.h> appears only in config.c).  docs/config.md lists every
 * section and relation with its default and meaning.  The file is found
 * through, in this order: the path the caller passes, the environment
 * variable HSMSSP_CONFIG (read with secure_getenv, so a setuid program
 * ignores it), PROV_CONFIG_DEFAULT_PATH (/etc/hsmssp/hsmssp.conf).
 *
 * The file may hold a PIN ([token] uri with pin-value), so before anything
 * is parsed it must be a regular file that neither group nor others may
 * read or write, owned by the effective user or by root (DESIGN sec. 8);
 * otherwise HSMSSP_ERR_FILE_PERMS with the path and the mode.
 *
 * Strictness: a typo must not silently weaken policy, so an unknown
 * section, an unknown relation, a subsection, a relation given twice, an
 * `include`/`includedir`/`module` directive and text before the first
 * section are all HSMSSP_ERR_CONFIG naming the culprit; a bad value is
 * HSMSSP_ERR_CONFIG naming the relation and the value (never the value of
 * [token] uri or init_args, which may carry secrets).
 *
 * Ownership: a prov_config is allocated by prov_config_load() or
 * prov_config_defaults() and released with prov_config_free(), which
 * wipes the strings that may hold a PIN.  The configuration is a plain
 * value: reading it from several threads is safe, and nothing here
 * applies it (the caller hands mlock_policy to base_secmem_set_policy(),
 * the token fields to hsm_token_open() ...).
 */
#ifndef HSMSSP_PROVIDER_CONFIG_H
#define HSMSSP_PROVIDER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#ifndef PROV_CONFIG_DEFAULT_PATH
#define PROV_CONFIG_DEFAULT_PATH "/etc/hsmssp/hsmssp.conf"
#endif
#define PROV_CONFIG_ENV "HSMSSP_CONFIG"

/* Defaults and bounds of the numeric relations ([kerberos]). */
#define PROV_DEFAULT_CLOCK_SKEW 300
#define PROV_MAX_CLOCK_SKEW 86400
#define PROV_DEFAULT_RCACHE_PATH "/var/lib/hsmssp/rcache/DEFAULT"
#define PROV_DEFAULT_RCACHE_MAX_ENTRIES 65536u
#define PROV_MIN_RCACHE_MAX_ENTRIES 64u
#define PROV_MAX_RCACHE_MAX_ENTRIES 16777216u
#define PROV_DEFAULT_MAX_TOKEN_SIZE 65536u
#define PROV_MIN_MAX_TOKEN_SIZE 1024u
#define PROV_MAX_MAX_TOKEN_SIZE 1048576u
#define PROV_DEFAULT_MAX_KVNOS_TRIED 8u
#define PROV_MIN_MAX_KVNOS_TRIED 1u
#define PROV_MAX_MAX_KVNOS_TRIED 64u
#define PROV_DEFAULT_MAX_DER_DEPTH 16u
#define PROV_MIN_MAX_DER_DEPTH 4u
#define PROV_MAX_MAX_DER_DEPTH 64u
#define PROV_DEFAULT_KDC_TIMEOUT_MS 1000u
#define PROV_MIN_KDC_TIMEOUT_MS 50u
#define PROV_MAX_KDC_TIMEOUT_MS 60000u
#define PROV_DEFAULT_KDC_ATTEMPTS 3u
#define PROV_MIN_KDC_ATTEMPTS 1u
#define PROV_MAX_KDC_ATTEMPTS 10u
#define PROV_DEFAULT_TICKET_LIFETIME 36000 /* 10 h, MIT's default */
#define PROV_MIN_TICKET_LIFETIME 300
#define PROV_MAX_TICKET_LIFETIME 31536000 /* a year */
#define PROV_MAX_RENEW_LIFETIME 31536000

/* Capacity of prov_config.permitted_enctypes. */
#define PROV_MAX_ENCTYPES 8

/* [policy] channel_bindings: what an acceptor does with the initiator's
 * channel bindings.  NEVER ignores them, ALLOWED checks them when both
 * sides give some, REQUIRED refuses a context without matching ones. */
typedef enum prov_cb_policy {
    PROV_CB_NEVER = 0,
    PROV_CB_ALLOWED = 1,
    PROV_CB_REQUIRED = 2
} prov_cb_policy;

typedef struct prov_config {
    /* The file these values came from (malloc'ed), or NULL when every
     * value is a default (prov_config_defaults(), or a missing default
     * file with allow_missing). */
    char *path;

    /* [token]; NULL when absent.  module is required once a credential
     * is acquired, which the caller checks, not this module.  token_uri
     * may carry a pin-value: it is wiped by prov_config_free() and must
     * never be logged. */
    char *module;
    char *token_uri;
    char *pin_file;  /* absolute path, read verbatim at each login */
    char *init_args; /* C_Initialize pReserved; NULL = automatic */
    bool persistent_keys;

    /* [policy] */
    unsigned host_op_policy; /* HSM_POLICY_ALLOW_HOST_OP_* bits */
    int mlock_policy;        /* a base_mlock_policy value */
    prov_cb_policy channel_bindings;
    /* In the order given, duplicates dropped, every entry an enctype
     * hsm/ implements. */
    int32_t permitted_enctypes[PROV_MAX_ENCTYPES];
    size_t n_permitted_enctypes;
    bool allow_delegation;
    bool ignore_ok_as_delegate;

    /* [kerberos] */
    int clock_skew;    /* seconds */
    char *rcache_path; /* absolute path; NULL = replay cache disabled */
    size_t rcache_max_entries;
    size_t max_token_size;
    unsigned max_kvnos_tried;
    unsigned max_der_depth;
    /* KDC transport (provider/kerberos/kerb_kdc.h): how long one attempt
     * to one KDC address may take, and how many rounds over the realm's
     * KDC list are made before HSMSSP_ERR_KDC_UNREACHABLE. */
    unsigned kdc_timeout_ms;
    unsigned kdc_attempts;
    /* Initiator: the TGT lifetime asked for, the renewable lifetime (0:
     * not renewable), and where `hsmssp kinit` keeps ticket files (NULL:
     * the default rules of kerb_tktfile.h). */
    int ticket_lifetime;
    int renew_lifetime;
    char *ticket_dir;

    /* [logging] */
    int log_level; /* an hsmssp_log_level value */
} prov_config;

/* Reads the configuration.  path NULL means: $HSMSSP_CONFIG when set and
 * not empty, else PROV_CONFIG_DEFAULT_PATH.  A missing file is
 * HSMSSP_ERR_CONFIG, except that a missing default file with allow_missing
 * gives the defaults (path NULL in the result).  Errors: HSMSSP_ERR_CONFIG
 * (missing or unreadable file, syntax, unknown or repeated names, bad
 * values), HSMSSP_ERR_FILE_PERMS, HSMSSP_ERR_INVALID_ARGUMENT (empty
 * path), HSMSSP_ERR_NOMEM.  *cfg_out is NULL on failure; on success the
 * caller owns it (prov_config_free()).  The file's bytes pass through a
 * secure buffer that is wiped; see docs/config.md for the copies the
 * profile library keeps while parsing. */
hsmssp_err prov_config_load(const char *path, bool allow_missing,
                            prov_config **cfg_out) BASE_WUR;

/* A configuration holding every default (path NULL).  *cfg_out is NULL on
 * failure (HSMSSP_ERR_NOMEM). */
hsmssp_err prov_config_defaults(prov_config **cfg_out) BASE_WUR;

/* Wipes token_uri and init_args with base_memzero, frees every string and
 * the structure.  NULL is a no-op. */
void prov_config_free(prov_config *cfg);

/* ---- enctype names ---------------------------------------------------- */

/* One row of the name table: the enctype, its canonical MIT name (the
 * name hsm_etype_name() gives) and MIT's aliases, NULL-terminated. */
typedef struct prov_enctype_entry {
    int32_t etype;
    const char *name;
    const char *aliases[3];
} prov_enctype_entry;

/* The canonical name of an enctype hsmssp implements
 * ("aes256-cts-hmac-sha1-96"), or NULL.  Static storage. */
const char *prov_enctype_name(int32_t etype);

/* The enctype a canonical name or alias names, compared without regard to
 * case as MIT does ("AES256-SHA1" -> 18, "rc4-hmac" -> 23); 0 (the RFC
 * 3961 null enctype, never a valid choice) when unknown.  Numbers and
 * family names ("aes") are understood by the configuration parser only. */
int32_t prov_enctype_from_name(const char *name);

/* The whole table, for tests and documentation; *n_out gets its length. */
const prov_enctype_entry *prov_enctype_table(size_t *n_out);

/* ---- the Kerberos configuration (krb5.conf) --------------------------- */

/*
 * The KDC transport (provider/kerberos/kerb_kdc.c) needs a few values of
 * the Kerberos configuration.  libkrb5 finds and parses that file
 * (KRB5_CONFIG, /etc/krb5.conf, includes) and hands out its parse tree
 * as a profile (krb5_get_profile()); reading the tree needs <profile.h>,
 * which lives in this module only.  So the caller, which may include
 * <krb5.h>, obtains the profile and passes it here as the opaque handle
 * that <krb5.h> itself declares.
 */
struct _profile_t;

typedef struct prov_krb5_realm {
    /* [realms] REALM kdc, every value in file order (malloc'ed copies,
     * NULL-terminated; never NULL itself, possibly empty). */
    char **kdcs;
    size_t n_kdcs;
    /* [libdefaults] udp_preference_limit, or the caller's default. */
    int udp_preference_limit;
    /* [libdefaults] dns_lookup_kdc, else dns_fallback, else true: MIT's
     * rule (a value that is not a boolean counts as false, as in MIT). */
    bool dns_lookup_kdc;
} prov_krb5_realm;

/* Reads realm's values from prof into *out (zeroed first; release with
 * prov_krb5_realm_free() on success and failure alike).  A realm without
 * a section or without kdc values gives an empty list.  Errors:
 * HSMSSP_ERR_CONFIG (a udp_preference_limit that is not an integer, a
 * profile error; the detail names the relation), HSMSSP_ERR_NOMEM. */
hsmssp_err prov_krb5_realm_read(struct _profile_t *prof, const char *realm,
                                int default_udp_limit,
                                prov_krb5_realm *out) BASE_WUR;

/* Frees the list in r; r itself is the caller's.  NULL is a no-op. */
void prov_krb5_realm_free(prov_krb5_realm *r);

/* profile_release() for a profile from krb5_get_profile(); NULL is a
 * no-op. */
void prov_krb5_profile_release(struct _profile_t *prof);

#endif
