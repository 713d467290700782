/*
 * provider/config.c - reading the hsmssp configuration file.
 *
 * The syntax is krb5.conf's, parsed by MIT's profile library (the one file
 * of hsmssp that includes <profile.h>), so operators write what they know
 * and comments, quoting and sections behave as in krb5.conf.  The profile
 * library is lenient where hsmssp must not be, so the loader wraps it:
 *
 *   1. open the file once and check the open file itself (fstat): a
 *      regular file, no group/other read or write bit, owned by the
 *      effective user or root.  The check is on the descriptor, so a
 *      rename between check and use cannot swap the file.
 *   2. read the bytes into a secure buffer and pre-scan them for what the
 *      profile library would silently accept: `include`/`includedir`
 *      directives (they would pull in files nobody checked), a `module`
 *      directive (it would dlopen a library named by the file), text
 *      before the first section (ignored as a comment by the library),
 *      lines longer than the library's 2048-byte line buffer (split into
 *      two lines), NUL bytes (which end the library's line early).
 *   3. let the profile library parse the same open file through
 *      /proc/self/fd/N: the inode that was checked is the inode parsed,
 *      and a path containing ':' (the library's list separator) is no
 *      problem.
 *   4. walk the tree: every section and relation must be one that the
 *      key table below knows, no section may hold a subsection, and no
 *      relation may appear twice (the library would answer the first
 *      value and hide the second, and whichever the operator meant, a
 *      repeated key is a mistake worth stopping for).
 *   5. parse each known relation's value with its row's parser, which
 *      checks bounds and spelling and names the relation and value in the
 *      error.
 *
 * Secrets: [token] uri may carry a pin-value.  Our copy of the file lives
 * in a secure buffer that is wiped, every value list the library hands out
 * is wiped before it is freed, and prov_config_free() wipes token_uri.
 * XXX: the profile library keeps its own copies (its stdio buffer and
 * parse tree in ordinary heap) and frees them without wiping; the
 * library offers no hook to avoid that.  docs/config.md therefore
 * recommends pin-source or pin_file over pin-value.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <profile.h>

#include "base/secmem.h"
#include "hsm/hsm.h"
#include "provider/config.h"

/* A configuration file is a page or two; anything near this size is not
 * one, and reading it into locked memory would be wasteful. */
#define MAX_FILE_BYTES ((size_t)256 * 1024)

/* The profile library reads lines with fgets into 2048 bytes and parses
 * a longer line as two; keep well clear of that. */
#define MAX_LINE_BYTES 2000

/* Longest single word (an enctype name, a keyword) in a list value. */
#define MAX_WORD 64

/* ---- enctype names ---------------------------------------------------- */

/*
 * Names and aliases as MIT krb5 spells them (lib/crypto/krb/etypes.c), so
 * a permitted_enctypes line copied from krb5.conf means the same here.
 * Only enctypes that hsm/ implements have a row: DES, DES3 and the
 * exportable RC4 are deliberately absent (RFC 6649, RFC 8429), so naming
 * them is an error rather than a silent no-op.  Order: the default
 * preference order.
 */
static const prov_enctype_entry enctype_table[] = {
    /* RFC 3962; what MIT and AD use by default today. */
    {HSM_ETYPE_AES256_SHA1,
     "aes256-cts-hmac-sha1-96",
     {"aes256-cts", "aes256-sha1", NULL}},
    {HSM_ETYPE_AES128_SHA1,
     "aes128-cts-hmac-sha1-96",
     {"aes128-cts", "aes128-sha1", NULL}},
    /* RFC 8009: SHA-2 based, not yet the KDC default everywhere. */
    {HSM_ETYPE_AES256_SHA384,
     "aes256-cts-hmac-sha384-192",
     {"aes256-sha2", NULL, NULL}},
    {HSM_ETYPE_AES128_SHA256,
     "aes128-cts-hmac-sha256-128",
     {"aes128-sha2", NULL, NULL}},
    /* RFC 4757, deprecated by RFC 8429: RC4 biases and an unsalted MD4
     * key.  Never in the default list; permitted only when named. */
    {HSM_ETYPE_RC4_HMAC,
     "arcfour-hmac",
     {"rc4-hmac", "arcfour-hmac-md5", NULL}},
};

const prov_enctype_entry *
prov_enctype_table(size_t *n_out)
{
    *n_out = BASE_ARRAY_LEN(enctype_table);
    return enctype_table;
}

const char *
prov_enctype_name(int32_t etype)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(enctype_table); i++)
        if (enctype_table[i].etype == etype)
            return enctype_table[i].name;
    return NULL;
}

/* Linear, case-insensitive (MIT uses strcasecmp too): the table is five
 * rows and is read only while parsing a configuration. */
int32_t
prov_enctype_from_name(const char *name)
{
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < BASE_ARRAY_LEN(enctype_table); i++) {
        const prov_enctype_entry *e = &enctype_table[i];
        if (strcasecmp(e->name, name) == 0)
            return e->etype;
        for (size_t j = 0; j < BASE_ARRAY_LEN(e->aliases) && e->aliases[j];
             j++)
            if (strcasecmp(e->aliases[j], name) == 0)
                return e->etype;
    }
    return 0;
}

/* The default permitted list: the AES enctypes, SHA-1 first because every
 * KDC issues them, RC4 never (it must be named). */
static const int32_t default_enctypes[] = {
    HSM_ETYPE_AES256_SHA1, HSM_ETYPE_AES128_SHA1, HSM_ETYPE_AES256_SHA384,
    HSM_ETYPE_AES128_SHA256};

/* MIT's family names, accepted in permitted_enctypes only.  "DEFAULT"
 * stands for the default list, so "DEFAULT rc4" appends RC4 to it. */
static const struct family {
    const char *name;
    int32_t etypes[4];
    size_t n;
} families[] = {
    {"DEFAULT",
     {HSM_ETYPE_AES256_SHA1, HSM_ETYPE_AES128_SHA1, HSM_ETYPE_AES256_SHA384,
      HSM_ETYPE_AES128_SHA256},
     4},
    {"aes",
     {HSM_ETYPE_AES256_SHA1, HSM_ETYPE_AES128_SHA1, HSM_ETYPE_AES256_SHA384,
      HSM_ETYPE_AES128_SHA256},
     4},
    {"aes-sha1", {HSM_ETYPE_AES256_SHA1, HSM_ETYPE_AES128_SHA1}, 2},
    {"aes-sha2", {HSM_ETYPE_AES256_SHA384, HSM_ETYPE_AES128_SHA256}, 2},
    {"rc4", {HSM_ETYPE_RC4_HMAC}, 1},
};

/* ---- value helpers ---------------------------------------------------- */

/* Copies at most 48 bytes of v into buf for an error message, replacing
 * anything but printable ASCII: values reach logs, and a value with a
 * control character must not forge a log line.  Only for values that
 * cannot hold a secret (see key_spec.secret). */
static const char *
printable(const char *v, char *buf, size_t cap)
{
    size_t i = 0, n = 0;

    while (v[i] != '\0' && n + 4 < cap && i < 48) {
        unsigned char ch = (unsigned char)v[i++];
        buf[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (v[i] != '\0') {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/* Splits a list value at blanks and commas.  *pos advances; returns false
 * when no word is left.  The word is copied into word[MAX_WORD]; a longer
 * word gives *too_long. */
static bool
next_word(const char **pos, char word[MAX_WORD], bool *too_long)
{
    const char *p = *pos;
    size_t n;

    p += strspn(p, " \t,");
    if (*p == '\0')
        return false;
    n = strcspn(p, " \t,");
    *too_long = n >= MAX_WORD;
    if (!*too_long) {
        memcpy(word, p, n);
        word[n] = '\0';
    }
    *pos = p + n;
    return true;
}

/* Decimal digits only: no sign, no blanks, no hexadecimal or octal, no
 * suffix.  A limit like max_token_size is read by a human; "0x100" or
 * "64k" should be refused, not guessed at. */
static bool
parse_decimal(const char *v, long long *out)
{
    long long n = 0;

    if (*v == '\0')
        return false;
    for (; *v != '\0'; v++) {
        if (*v < '0' || *v > '9')
            return false;
        if (n > (LLONG_MAX - 9) / 10)
            return false;
        n = n * 10 + (*v - '0');
    }
    *out = n;
    return true;
}

/* ---- the key table ---------------------------------------------------- */

/* Keywords of an enumerated relation: the word and the value stored. */
typedef struct keyword {
    const char *word;
    int value;
} keyword;

/* Spellings MIT's profile_get_boolean accepts, so that "yes" and "on"
 * work as in krb5.conf. */
static const keyword bool_words[] = {
    {"true", 1}, {"yes", 1},   {"y", 1},  {"t", 1}, {"on", 1},
    {"1", 1},    {"false", 0}, {"no", 0}, {"n", 0}, {"nil", 0},
    {"off", 0},  {"0", 0},     {NULL, 0}};

static const keyword mlock_words[] = {{"best-effort", BASE_MLOCK_BEST_EFFORT},
                                      {"required", BASE_MLOCK_REQUIRED},
                                      {NULL, 0}};

static const keyword cb_words[] = {{"never", PROV_CB_NEVER},
                                   {"allowed", PROV_CB_ALLOWED},
                                   {"required", PROV_CB_REQUIRED},
                                   {NULL, 0}};

static const keyword level_words[] = {{"error", HSMSSP_LOG_ERROR},
                                      {"warning", HSMSSP_LOG_WARNING},
                                      {"info", HSMSSP_LOG_INFO},
                                      {"debug", HSMSSP_LOG_DEBUG},
                                      {NULL, 0}};

/* allow_host_op words; "none" is accepted alone only. */
static const keyword host_op_words[] = {
    {"krb", (int)HSM_POLICY_ALLOW_HOST_OP_KRB},
    {"ntlm", (int)HSM_POLICY_ALLOW_HOST_OP_NTLM},
    {NULL, 0}};

/* How a parsed number or keyword is stored into the structure. */
typedef enum field_type {
    F_STR,  /* char * (malloc'ed) */
    F_BOOL, /* bool */
    F_INT,  /* int (also the int-typed enums mlock_policy, log_level) */
    F_UINT, /* unsigned */
    F_SIZE, /* size_t */
    F_CB    /* prov_cb_policy */
} field_type;

struct key_spec;
typedef hsmssp_err (*value_parser)(const struct key_spec *k, const char *v,
                                   prov_config *cfg);

typedef struct key_spec {
    const char *section;
    const char *name;
    value_parser parse;
    size_t offset; /* of the field in prov_config */
    field_type type;
    long long min, max;   /* numbers */
    const keyword *words; /* keywords and booleans */
    bool secret;          /* the value may hold a secret: never echo it */
} key_spec;

/* The one place that writes a number into a field of any width. */
static void
store_number(const key_spec *k, prov_config *cfg, long long v)
{
    char *field = (char *)cfg + k->offset;

    switch (k->type) {
    case F_BOOL:
        *(bool *)(void *)field = v != 0;
        break;
    case F_INT:
        *(int *)(void *)field = (int)v;
        break;
    case F_UINT:
        *(unsigned *)(void *)field = (unsigned)v;
        break;
    case F_SIZE:
        *(size_t *)(void *)field = (size_t)v;
        break;
    case F_CB:
        *(prov_cb_policy *)(void *)field = (prov_cb_policy)v;
        break;
    case F_STR:
        break;
    }
}

/* Replaces a string field (freeing the default it held). */
static hsmssp_err
store_string(const key_spec *k, prov_config *cfg, const char *v)
{
    char **field = (char **)(void *)((char *)cfg + k->offset);
    char *copy = NULL;

    if (v != NULL) {
        copy = strdup(v);
        if (copy == NULL)
            return BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    free(*field);
    *field = copy;
    return HSMSSP_OK;
}

/* Error for a bad value; the value itself is shown unless the key is
 * secret; the file is cfg->path.  Always returns HSMSSP_ERR_CONFIG. */
static hsmssp_err
bad_value(const key_spec *k, const prov_config *cfg, const char *v,
          const char *why)
{
    const char *path = cfg->path ? cfg->path : "configuration";
    char buf[64];

    if (k->secret)
        return BASE_ERR(HSMSSP_ERR_CONFIG, "%s: [%s] %s: %s", path, k->section,
                        k->name, why);
    return BASE_ERR(HSMSSP_ERR_CONFIG, "%s: [%s] %s = '%s': %s", path,
                    k->section, k->name, printable(v, buf, sizeof(buf)), why);
}

/* Any non-empty string: init_args (opaque to us; its meaning belongs to
 * the PKCS#11 module). */
static hsmssp_err
parse_string(const key_spec *k, const char *v, prov_config *cfg)
{
    if (*v == '\0')
        return bad_value(k, cfg, v, "must not be empty");
    return store_string(k, cfg, v);
}

/* An absolute path.  Relative paths would depend on the working directory
 * of whichever process loads the configuration. */
static hsmssp_err
parse_abs_path(const key_spec *k, const char *v, prov_config *cfg)
{
    if (v[0] != '/')
        return bad_value(k, cfg, v, "must be an absolute path");
    return store_string(k, cfg, v);
}

/* A module: an absolute path, or a p11-kit module name (no '/'). */
static hsmssp_err
parse_module(const key_spec *k, const char *v, prov_config *cfg)
{
    if (*v == '\0')
        return bad_value(k, cfg, v, "must not be empty");
    if (strchr(v, '/') != NULL && v[0] != '/')
        return bad_value(k, cfg, v,
                         "must be an absolute path or a p11-kit module "
                         "name without '/'");
    return store_string(k, cfg, v);
}

/* An RFC 7512 URI.  Only the scheme is checked here: p11-kit parses the
 * rest in hsm/ (p11-kit appears nowhere else), and its error does not
 * echo the URI either. */
static hsmssp_err
parse_uri(const key_spec *k, const char *v, prov_config *cfg)
{
    if (strncasecmp(v, "pkcs11:", 7) != 0)
        return bad_value(k, cfg, v, "must be an RFC 7512 'pkcs11:' URI");
    return store_string(k, cfg, v);
}

/* A number within [min, max]. */
static hsmssp_err
parse_number(const key_spec *k, const char *v, prov_config *cfg)
{
    char why[96];
    long long n;

    if (!parse_decimal(v, &n) || n < k->min || n > k->max) {
        snprintf(why, sizeof(why), "must be an integer from %lld to %lld",
                 k->min, k->max);
        return bad_value(k, cfg, v, why);
    }
    store_number(k, cfg, n);
    return HSMSSP_OK;
}

/* One word of k->words, without regard to case. */
static hsmssp_err
parse_keyword(const key_spec *k, const char *v, prov_config *cfg)
{
    char why[160];
    size_t n;

    for (const keyword *w = k->words; w->word != NULL; w++) {
        if (strcasecmp(w->word, v) == 0) {
            store_number(k, cfg, w->value);
            return HSMSSP_OK;
        }
    }
    /* List the accepted words, so the operator need not open the docs. */
    n = (size_t)snprintf(why, sizeof(why), "must be one of");
    for (const keyword *w = k->words; w->word != NULL && n < sizeof(why); w++)
        n += (size_t)snprintf(why + n, sizeof(why) - n, "%s %s",
                              w == k->words ? "" : ",", w->word);
    return bad_value(k, cfg, v, why);
}

/* allow_host_op: a subset of {krb, ntlm}, or "none". */
static hsmssp_err
parse_host_op(const key_spec *k, const char *v, prov_config *cfg)
{
    const char *pos = v;
    char word[MAX_WORD];
    bool too_long, none = false;
    unsigned bits = 0;
    size_t words = 0;

    while (next_word(&pos, word, &too_long)) {
        const keyword *w;

        words++;
        if (!too_long && strcasecmp(word, "none") == 0) {
            none = true;
            continue;
        }
        for (w = host_op_words; w->word != NULL; w++)
            if (!too_long && strcasecmp(w->word, word) == 0)
                break;
        if (w->word == NULL)
            return bad_value(k, cfg, v, "expected krb, ntlm or none");
        bits |= (unsigned)w->value;
    }
    if (none && words > 1)
        return bad_value(k, cfg, v,
                         "'none' cannot be combined with other words");
    store_number(k, cfg, (long long)bits);
    return HSMSSP_OK;
}

/* Appends etype to the list unless it is already there (MIT drops
 * repeats too; a repeat is harmless and common with families). */
static void
add_enctype(int32_t *list, size_t *n, int32_t etype)
{
    for (size_t i = 0; i < *n; i++)
        if (list[i] == etype)
            return;
    if (*n < PROV_MAX_ENCTYPES)
        list[(*n)++] = etype;
}

/* permitted_enctypes: names, aliases, numbers and families, in order. */
static hsmssp_err
parse_enctypes(const key_spec *k, const char *v, prov_config *cfg)
{
    int32_t list[PROV_MAX_ENCTYPES];
    const char *pos = v;
    char word[MAX_WORD], why[160], shown[64];
    bool too_long;
    size_t n = 0;

    while (next_word(&pos, word, &too_long)) {
        long long num;
        int32_t etype = 0;
        const struct family *fam = NULL;

        if (too_long)
            return bad_value(k, cfg, v, "an enctype name is too long");
        for (size_t i = 0; i < BASE_ARRAY_LEN(families); i++)
            if (strcasecmp(families[i].name, word) == 0)
                fam = &families[i];
        if (fam != NULL) {
            for (size_t i = 0; i < fam->n; i++)
                add_enctype(list, &n, fam->etypes[i]);
            continue;
        }
        if (parse_decimal(word, &num)) {
            if (num <= INT32_MAX && prov_enctype_name((int32_t)num) != NULL)
                etype = (int32_t)num;
        } else {
            etype = prov_enctype_from_name(word);
        }
        if (etype == 0) {
            snprintf(why, sizeof(why),
                     "'%s' is not an enctype hsmssp supports",
                     printable(word, shown, sizeof(shown)));
            return bad_value(k, cfg, v, why);
        }
        add_enctype(list, &n, etype);
    }
    if (n == 0)
        return bad_value(k, cfg, v, "names no enctype");
    memcpy(cfg->permitted_enctypes, list, n * sizeof(list[0]));
    cfg->n_permitted_enctypes = n;
    return HSMSSP_OK;
}

/* rcache: an absolute path, or "none" to run without a replay cache. */
static hsmssp_err
parse_rcache(const key_spec *k, const char *v, prov_config *cfg)
{
    if (strcasecmp(v, "none") == 0)
        return store_string(k, cfg, NULL);
    return parse_abs_path(k, v, cfg);
}

#define OFF(field) offsetof(prov_config, field)

/*
 * Every section and relation the file may contain.  A name not in this
 * table is an error; each row's parser checks its value.  docs/config.md
 * describes the same rows, in the same order.
 */
static const key_spec keys[] = {
    /* [token]: which PKCS#11 token holds the keys. */
    {"token", "module", parse_module, OFF(module), F_STR, 0, 0, NULL, false},
    /* The URI may carry pin-value: secret, never echoed. */
    {"token", "uri", parse_uri, OFF(token_uri), F_STR, 0, 0, NULL, true},
    {"token", "pin_file", parse_abs_path, OFF(pin_file), F_STR, 0, 0, NULL,
     false},
    /* Opaque to us and handed to the module: treated as secret, since a
     * module may take credentials there. */
    {"token", "init_args", parse_string, OFF(init_args), F_STR, 0, 0, NULL,
     true},
    {"token", "persistent_keys", parse_keyword, OFF(persistent_keys), F_BOOL,
     0, 0, bool_words, false},

    /* [policy]: what hsmssp may do. */
    {"policy", "allow_host_op", parse_host_op, OFF(host_op_policy), F_UINT, 0,
     0, NULL, false},
    {"policy", "mlock", parse_keyword, OFF(mlock_policy), F_INT, 0, 0,
     mlock_words, false},
    {"policy", "channel_bindings", parse_keyword, OFF(channel_bindings), F_CB,
     0, 0, cb_words, false},
    {"policy", "permitted_enctypes", parse_enctypes, OFF(permitted_enctypes),
     F_STR, 0, 0, NULL, false},
    {"policy", "allow_delegation", parse_keyword, OFF(allow_delegation),
     F_BOOL, 0, 0, bool_words, false},
    {"policy", "ignore_ok_as_delegate", parse_keyword,
     OFF(ignore_ok_as_delegate), F_BOOL, 0, 0, bool_words, false},

    /* [kerberos]: protocol limits.  The bounds keep a typo from turning
     * a limit off (0) or into a denial-of-service (huge). */
    {"kerberos", "clock_skew", parse_number, OFF(clock_skew), F_INT, 0,
     PROV_MAX_CLOCK_SKEW, NULL, false},
    {"kerberos", "rcache", parse_rcache, OFF(rcache_path), F_STR, 0, 0, NULL,
     false},
    {"kerberos", "rcache_max_entries", parse_number, OFF(rcache_max_entries),
     F_SIZE, PROV_MIN_RCACHE_MAX_ENTRIES, PROV_MAX_RCACHE_MAX_ENTRIES, NULL,
     false},
    {"kerberos", "max_token_size", parse_number, OFF(max_token_size), F_SIZE,
     PROV_MIN_MAX_TOKEN_SIZE, PROV_MAX_MAX_TOKEN_SIZE, NULL, false},
    {"kerberos", "max_kvnos_tried", parse_number, OFF(max_kvnos_tried), F_UINT,
     PROV_MIN_MAX_KVNOS_TRIED, PROV_MAX_MAX_KVNOS_TRIED, NULL, false},
    {"kerberos", "max_der_depth", parse_number, OFF(max_der_depth), F_UINT,
     PROV_MIN_MAX_DER_DEPTH, PROV_MAX_MAX_DER_DEPTH, NULL, false},
    /* Below 50 ms even a loopback KDC under load looks dead; above a
     * minute per attempt a caller would rather fail.  At most 10 rounds:
     * the worst case is rounds x addresses x timeout. */
    {"kerberos", "kdc_timeout_ms", parse_number, OFF(kdc_timeout_ms), F_UINT,
     PROV_MIN_KDC_TIMEOUT_MS, PROV_MAX_KDC_TIMEOUT_MS, NULL, false},
    {"kerberos", "kdc_attempts", parse_number, OFF(kdc_attempts), F_UINT,
     PROV_MIN_KDC_ATTEMPTS, PROV_MAX_KDC_ATTEMPTS, NULL, false},
    /* Initiator side.  A TGT shorter than five minutes would be
     * refreshed on nearly every use. */
    {"kerberos", "ticket_lifetime", parse_number, OFF(ticket_lifetime), F_INT,
     PROV_MIN_TICKET_LIFETIME, PROV_MAX_TICKET_LIFETIME, NULL, false},
    {"kerberos", "renew_lifetime", parse_number, OFF(renew_lifetime), F_INT,
     0, PROV_MAX_RENEW_LIFETIME, NULL, false},
    {"kerberos", "ticket_dir", parse_abs_path, OFF(ticket_dir), F_STR, 0, 0,
     NULL, false},

    /* [logging] */
    {"logging", "level", parse_keyword, OFF(log_level), F_INT, 0, 0,
     level_words, false},
};

static bool
known_section(const char *name)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(keys); i++)
        if (strcmp(keys[i].section, name) == 0)
            return true;
    return false;
}

static bool
known_relation(const char *section, const char *name)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(keys); i++)
        if (strcmp(keys[i].section, section) == 0 &&
            strcmp(keys[i].name, name) == 0)
            return true;
    return false;
}

/* ---- defaults and free ------------------------------------------------ */

hsmssp_err
prov_config_defaults(prov_config **cfg_out)
{
    prov_config *cfg = NULL;
    hsmssp_err ret = HSMSSP_OK;

    *cfg_out = NULL;
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    cfg->persistent_keys = true;
    cfg->host_op_policy = 0; /* H(op) refused everywhere (DESIGN sec. 3) */
    cfg->mlock_policy = BASE_MLOCK_BEST_EFFORT;
    cfg->channel_bindings = PROV_CB_ALLOWED;
    memcpy(cfg->permitted_enctypes, default_enctypes,
           sizeof(default_enctypes));
    cfg->n_permitted_enctypes = BASE_ARRAY_LEN(default_enctypes);
    cfg->allow_delegation = false;
    cfg->ignore_ok_as_delegate = false;
    cfg->clock_skew = PROV_DEFAULT_CLOCK_SKEW;
    cfg->rcache_path = strdup(PROV_DEFAULT_RCACHE_PATH);
    if (cfg->rcache_path == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    cfg->rcache_max_entries = PROV_DEFAULT_RCACHE_MAX_ENTRIES;
    cfg->max_token_size = PROV_DEFAULT_MAX_TOKEN_SIZE;
    cfg->max_kvnos_tried = PROV_DEFAULT_MAX_KVNOS_TRIED;
    cfg->max_der_depth = PROV_DEFAULT_MAX_DER_DEPTH;
    cfg->kdc_timeout_ms = PROV_DEFAULT_KDC_TIMEOUT_MS;
    cfg->kdc_attempts = PROV_DEFAULT_KDC_ATTEMPTS;
    cfg->ticket_lifetime = PROV_DEFAULT_TICKET_LIFETIME;
    cfg->renew_lifetime = 0;
    cfg->log_level = HSMSSP_LOG_WARNING;
    *cfg_out = cfg;
    cfg = NULL;

cleanup:
    prov_config_free(cfg);
    return ret;
}

/* Wipes and frees a string that may hold a secret. */
static void
free_secret_string(char *s)
{
    if (s != NULL) {
        base_memzero(s, strlen(s));
        free(s);
    }
}

void
prov_config_free(prov_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->module);
    free_secret_string(cfg->token_uri);
    free(cfg->pin_file);
    free_secret_string(cfg->init_args);
    free(cfg->rcache_path);
    free(cfg->ticket_dir);
    free(cfg);
}

/* ---- reading the file ------------------------------------------------- */

/* Step 1: the permission rule of DESIGN sec. 8, on the open descriptor.
 * Group or other *execute* alone is tolerated: it grants no access to a
 * regular file's bytes. */
static hsmssp_err
check_file(int fd, const char *path, struct stat *st)
{
    if (fstat(fd, st) != 0)
        return BASE_ERR(HSMSSP_ERR_CONFIG, "%s: fstat: %s", path,
                        strerror(errno));
    if (!S_ISREG(st->st_mode))
        return BASE_ERR(HSMSSP_ERR_CONFIG, "%s: not a regular file", path);
    if ((st->st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0)
        return BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                        "%s has mode %04o; it may hold a PIN: chmod "
                        "go-rw %s",
                        path, (unsigned)(st->st_mode & 07777), path);
    if (st->st_uid != geteuid() && st->st_uid != 0)
        return BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                        "%s (mode %04o) is owned by uid %u, neither the "
                        "effective user (%u) nor root",
                        path, (unsigned)(st->st_mode & 07777),
                        (unsigned)st->st_uid, (unsigned)geteuid());
    if ((size_t)st->st_size > MAX_FILE_BYTES)
        return BASE_ERR(HSMSSP_ERR_CONFIG,
                        "%s: %lld bytes, above the "
                        "%zu-byte limit for a configuration file",
                        path, (long long)st->st_size, MAX_FILE_BYTES);
    return HSMSSP_OK;
}

/* Step 2a: the whole file into a secure buffer (it may hold a PIN).  The
 * size from fstat is a hint only: the loop reads to EOF and grows the
 * buffer up to the limit. */
static hsmssp_err
read_file(int fd, const char *path, size_t hint, base_secret **out)
{
    base_secret *buf = NULL;
    size_t len = 0;
    hsmssp_err ret;

    *out = NULL;
    ret = base_secret_new(0, hint + 1, &buf);
    if (ret != HSMSSP_OK)
        goto cleanup;
    for (;;) {
        ssize_t r;

        if (len == buf->cap) {
            if (len >= MAX_FILE_BYTES) {
                ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                               "%s: above the %zu-byte limit for a "
                               "configuration file",
                               path, MAX_FILE_BYTES);
                goto cleanup;
            }
            ret = base_secret_resize(buf, len + 4096);
            if (ret != HSMSSP_OK)
                goto cleanup;
        }
        r = read(fd, buf->data + len, buf->cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = BASE_ERR(HSMSSP_ERR_CONFIG, "%s: read: %s", path,
                           strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf->len = len;
    *out = buf;
    buf = NULL;

cleanup:
    base_secret_free(buf);
    return ret;
}

/* True when line (len bytes, not NUL-terminated) starts with word at
 * column 0 followed by a blank: how the profile library recognises its
 * directives. */
static bool
directive(const uint8_t *line, size_t len, const char *word)
{
    size_t w = strlen(word);
    return len > w && memcmp(line, word, w) == 0 && isspace(line[w]);
}

/* Step 2b: the pre-scan.  Line numbers are reported, line contents never
 * (a line may hold the PIN). */
static hsmssp_err
prescan(const base_secret *buf, const char *path)
{
    const uint8_t *p = buf->data, *end = buf->data + buf->len;
    bool in_section = false;
    unsigned lineno = 0;

    if (memchr(p, '\0', buf->len) != NULL)
        return BASE_ERR(HSMSSP_ERR_CONFIG, "%s: contains a NUL byte", path);
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (nl ? nl : end) - p, i = 0;

        lineno++;
        if (len > MAX_LINE_BYTES)
            return BASE_ERR(HSMSSP_ERR_CONFIG,
                            "%s line %u: longer than %d bytes", path, lineno,
                            MAX_LINE_BYTES);
        if (directive(p, len, "include") || directive(p, len, "includedir"))
            return BASE_ERR(HSMSSP_ERR_CONFIG,
                            "%s line %u: include directives are not "
                            "allowed (an included file would escape the "
                            "permission check)",
                            path, lineno);
        while (i < len && isspace(p[i]))
            i++;
        if (!in_section && i < len && p[i] != ';' && p[i] != '#') {
            /* The library starts parsing at the first line that has '['
             * in column 0 and ignores everything before it. */
            if (p[0] != '[')
                return BASE_ERR(HSMSSP_ERR_CONFIG,
                                "%s line %u: %s before the first [section] "
                                "header (which must start in column 1)",
                                path, lineno,
                                directive(p, len, "module")
                                    ? "a module directive"
                                    : "text");
            in_section = true;
        }
        p = nl ? nl + 1 : end;
    }
    return HSMSSP_OK;
}

/* A profile library error code as text (com_err knows the PROF_* table
 * once the library is initialised). */
static const char *
prof_message(long code)
{
    return error_message(code);
}

/* Step 4: every section and relation known, no subsections. */
static hsmssp_err
check_names(profile_t prof, const char *path)
{
    const char *top[] = {NULL};
    char **sections = NULL, **names = NULL;
    hsmssp_err ret = HSMSSP_OK;
    long code;

    code = profile_get_subsection_names(prof, top, &sections);
    if (code != 0) {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG, "%s: %s", path, prof_message(code));
        goto cleanup;
    }
    for (size_t s = 0; sections[s] != NULL; s++) {
        const char *sec[] = {sections[s], NULL};

        if (!known_section(sections[s])) {
            char buf[64];
            ret = BASE_ERR(HSMSSP_ERR_CONFIG, "%s: unknown section [%s]", path,
                           printable(sections[s], buf, sizeof(buf)));
            goto cleanup;
        }
        code = profile_get_subsection_names(prof, sec, &names);
        if (code == 0 && names[0] != NULL) {
            char buf[64];
            ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                           "%s: [%s] %s = { ... }: subsections are not "
                           "allowed",
                           path, sections[s],
                           printable(names[0], buf, sizeof(buf)));
            goto cleanup;
        }
        profile_free_list(names);
        names = NULL;
        code = profile_get_relation_names(prof, sec, &names);
        if (code != 0 && code != PROF_NO_RELATION) {
            ret = BASE_ERR(HSMSSP_ERR_CONFIG, "%s: %s", path,
                           prof_message(code));
            goto cleanup;
        }
        for (size_t r = 0; code == 0 && names[r] != NULL; r++) {
            if (!known_relation(sections[s], names[r])) {
                char buf[64];
                ret = BASE_ERR(
                    HSMSSP_ERR_CONFIG, "%s: unknown relation '%s' in [%s]",
                    path, printable(names[r], buf, sizeof(buf)), sections[s]);
                goto cleanup;
            }
        }
        profile_free_list(names);
        names = NULL;
    }

cleanup:
    if (names != NULL)
        profile_free_list(names);
    if (sections != NULL)
        profile_free_list(sections);
    return ret;
}

/* Wipes every value of a list from the library (one may be the URI with
 * its PIN) and frees the list. */
static void
free_values(char **values)
{
    if (values == NULL)
        return;
    for (size_t i = 0; values[i] != NULL; i++)
        base_memzero(values[i], strlen(values[i]));
    profile_free_list(values);
}

/* Step 5: each relation of the table that the file sets, parsed into
 * cfg. */
static hsmssp_err
apply_values(profile_t prof, const char *path, prov_config *cfg)
{
    char **values = NULL;
    hsmssp_err ret = HSMSSP_OK;

    for (size_t i = 0; i < BASE_ARRAY_LEN(keys); i++) {
        const key_spec *k = &keys[i];
        const char *names[] = {k->section, k->name, NULL};
        size_t n = 0;
        long code;

        code = profile_get_values(prof, names, &values);
        if (code == PROF_NO_RELATION || code == PROF_NO_SECTION)
            continue; /* not set: the default stays */
        if (code != 0) {
            ret = BASE_ERR(HSMSSP_ERR_CONFIG, "%s: [%s] %s: %s", path,
                           k->section, k->name, prof_message(code));
            goto cleanup;
        }
        while (values[n] != NULL)
            n++;
        if (n != 1) {
            ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                           "%s: [%s] %s is set %zu times; it takes one "
                           "value",
                           path, k->section, k->name, n);
            goto cleanup;
        }
        ret = k->parse(k, values[0], cfg);
        if (ret != HSMSSP_OK)
            goto cleanup;
        free_values(values);
        values = NULL;
    }

cleanup:
    free_values(values);
    return ret;
}

/* Chooses the file: explicit path, then $HSMSSP_CONFIG, then the default.
 * *is_default tells whether the default was taken (only it may be
 * missing). */
static const char *
choose_path(const char *path, bool *is_default)
{
    const char *env;

    *is_default = false;
    if (path != NULL)
        return path;
    env = secure_getenv(PROV_CONFIG_ENV);
    if (env != NULL && *env != '\0')
        return env;
    *is_default = true;
    return PROV_CONFIG_DEFAULT_PATH;
}

hsmssp_err
prov_config_load(const char *path_arg, bool allow_missing,
                 prov_config **cfg_out)
{
    prov_config *cfg = NULL;
    base_secret *bytes = NULL;
    profile_t prof = NULL;
    const char *path;
    char fdpath[64];
    struct stat st;
    bool is_default;
    int fd = -1;
    long code;
    hsmssp_err ret;

    *cfg_out = NULL;
    if (path_arg != NULL && *path_arg == '\0')
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "empty configuration path");
    path = choose_path(path_arg, &is_default);

    /* O_NONBLOCK: a FIFO planted at the path must not hang the open; it
     * is then refused as not a regular file. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT && is_default && allow_missing) {
        base_log(HSMSSP_LOG_DEBUG, "config",
                 "%s not found; using the defaults", path);
        ret = prov_config_defaults(cfg_out);
        goto cleanup;
    }
    if (fd < 0) {
        /* Say where a path came from when the caller did not pass it. */
        bool from_env = path_arg == NULL && !is_default;
        ret = BASE_ERR(HSMSSP_ERR_CONFIG, "%s: %s%s", path, strerror(errno),
                       from_env ? " (named by $" PROV_CONFIG_ENV ")" : "");
        goto cleanup;
    }
    ret = check_file(fd, path, &st);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = read_file(fd, path, (size_t)st.st_size, &bytes);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = prescan(bytes, path);
    if (ret != HSMSSP_OK)
        goto cleanup;

    ret = prov_config_defaults(&cfg);
    if (ret != HSMSSP_OK)
        goto cleanup;
    cfg->path = strdup(path);
    if (cfg->path == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }

    /* Step 3: the library opens the checked inode again through /proc, a
     * new open file description of the same file. */
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
    code = profile_init_path(fdpath, &prof);
    if (code == ENOENT) {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                       "%s: cannot reopen it as %s (is /proc mounted?)", path,
                       fdpath);
        goto cleanup;
    }
    if (code != 0) {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG, "%s: %s", path, prof_message(code));
        goto cleanup;
    }
    ret = check_names(prof, path);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = apply_values(prof, path, cfg);
    if (ret != HSMSSP_OK)
        goto cleanup;

    /* Never the URI: it may hold the PIN. */
    base_log(HSMSSP_LOG_DEBUG, "config", "loaded %s", path);
    *cfg_out = cfg;
    cfg = NULL;

cleanup:
    if (prof != NULL)
        profile_release(prof);
    base_secret_free(bytes);
    if (fd >= 0)
        close(fd);
    prov_config_free(cfg);
    return ret;
}

/* ---- the Kerberos configuration (krb5.conf) --------------------------- */

/*
 * Unlike hsmssp's own file above, krb5.conf belongs to libkrb5: it is
 * read as libkrb5 reads it (the caller's profile comes from
 * krb5_get_profile), with MIT's leniency, because every other Kerberos
 * program on the host sees it that way and hsmssp must agree with them
 * on where the KDCs are.  Only the values the KDC transport needs are
 * read; their syntax (host:port) is checked by the transport.
 */
hsmssp_err
prov_krb5_realm_read(struct _profile_t *prof, const char *realm,
                     int default_udp_limit, prov_krb5_realm *out)
{
    const char *names[] = {"realms", realm, "kdc", NULL};
    char **vals = NULL;
    int fallback, dns;
    hsmssp_err ret = HSMSSP_OK;
    long code;

    memset(out, 0, sizeof(*out));
    code = profile_get_values(prof, names, &vals);
    if (code == PROF_NO_SECTION || code == PROF_NO_RELATION) {
        /* No kdc for the realm: an empty list, not an error (DNS may
         * still know the KDCs). */
        vals = NULL;
    } else if (code != 0) {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG, "krb5.conf [realms] %s kdc: %s",
                       realm, prof_message(code));
        goto cleanup;
    }
    /* The library's list must go back through profile_free_list; the
     * caller gets plain malloc'ed copies it can free itself. */
    while (vals != NULL && vals[out->n_kdcs] != NULL)
        out->n_kdcs++;
    out->kdcs = calloc(out->n_kdcs + 1, sizeof(*out->kdcs));
    if (out->kdcs == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    for (size_t i = 0; i < out->n_kdcs; i++) {
        out->kdcs[i] = strdup(vals[i]);
        if (out->kdcs[i] == NULL) {
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
            goto cleanup;
        }
    }
    code =
        profile_get_integer(prof, "libdefaults", "udp_preference_limit", NULL,
                            default_udp_limit, &out->udp_preference_limit);
    if (code != 0) {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                       "krb5.conf [libdefaults] udp_preference_limit: %s",
                       prof_message(code));
        goto cleanup;
    }
    /* MIT (lib/krb5/os/locate_kdc.c): dns_lookup_kdc, else dns_fallback,
     * else on; a value that is not a boolean is off. */
    if (profile_get_boolean(prof, "libdefaults", "dns_fallback", NULL, 1,
                            &fallback) != 0)
        fallback = 0;
    if (profile_get_boolean(prof, "libdefaults", "dns_lookup_kdc", NULL,
                            fallback, &dns) != 0)
        dns = 0;
    out->dns_lookup_kdc = dns != 0;

cleanup:
    if (vals != NULL)
        profile_free_list(vals);
    return ret;
}

void
prov_krb5_realm_free(prov_krb5_realm *r)
{
    if (r == NULL || r->kdcs == NULL)
        return;
    for (size_t i = 0; r->kdcs[i] != NULL; i++)
        free(r->kdcs[i]);
    free(r->kdcs);
    r->kdcs = NULL;
    r->n_kdcs = 0;
}

void
prov_krb5_profile_release(struct _profile_t *prof)
{
    if (prof != NULL)
        profile_release(prof);
}
