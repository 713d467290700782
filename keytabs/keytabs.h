/*
 * keytabs/keytabs.h - MIT keytabs into the token (DESIGN sec. 1, 8).
 *
 * kt_import() reads every entry of an MIT keytab through libkrb5 and
 * stores each key on the token under the key store's labeling scheme
 * (provider/kerberos/kerb_keystore.h, docs/keystore.md), with whatever
 * import-time work the token's strategy for that enctype needs
 * (hsm_key_import(): per-usage keys derived at import for etypes 19/20 on
 * SoftHSM2, Z for etype 17).  This is one of the two places where
 * long-term key bytes are in host memory (the other is hsm/'s import
 * call); docs/key-exposure.md entry 6 lists every copy:
 *   - the keytab file itself, until the caller removes it
 *     (kt_remove_source());
 *   - for a keytab read from a pipe, FIFO or other stream (path "-" with
 *     such a standard input, /dev/stdin, a named pipe): a memfd copy,
 *     because libkrb5's FILE keytab seeks.  It is never a file on disk; it
 *     is overwritten with zeros and closed before the first key goes to
 *     the token;
 *   - libkrb5's own copies while an entry is read: its stdio buffer
 *     inside the keytab handle (zapped by libkrb5 when the handle is
 *     closed, krb5_kt_close) and the entry's keyblock (zapped by
 *     krb5_free_keytab_entry_contents, called as soon as the key bytes
 *     are in a base_secret);
 *   - one base_secret per supported entry, from the read until that
 *     entry's import returns.
 * Keys of enctypes hsmssp does not implement never leave libkrb5's
 * keyblock.
 *
 * The read is all or nothing: the file's record structure is checked
 * first (libkrb5 stops silently at a truncated record, so a damaged or
 * truncated keytab would otherwise look like a shorter one), then every
 * entry is read, and only when all of them were read does any import
 * start.  A keytab that cannot be read therefore changes nothing on the
 * token.
 *
 * Thread safety: kt_import() may run in several threads at once, on one
 * token or several; it uses its own libkrb5 context.
 */
#ifndef HSMSSP_KEYTABS_H
#define HSMSSP_KEYTABS_H

#include "base/base.h"
#include "hsm/hsm.h"
#include "provider/kerberos/kerb_keystore.h"

/* Bounds.  A keytab larger than KT_MAX_SIZE bytes or with more than
 * KT_MAX_ENTRIES keys is refused with HSMSSP_ERR_INPUT_TOO_LARGE /
 * HSMSSP_ERR_LIMIT before anything is imported (every key of the file is
 * held in secure memory at once, see above). */
#define KT_MAX_SIZE (16u * 1024 * 1024)
#define KT_MAX_ENTRIES 4096u

typedef struct kt_import_opts {
    /* true: persistent token objects (CKA_TOKEN=TRUE), found again by
     * later processes; false: session objects of this process (tokens
     * without storage such as NSS softoken without a database, and
     * `hsmssp server --import-keytab`), which live as long as the token
     * handle.  Session imports are not checked against the token. */
    bool persistent;
    /* Persistent imports: a key already on the token with the same
     * principal, kvno and enctype is replaced (its objects removed
     * first) instead of being reported as KT_EXISTS. */
    bool replace;
    /* Hand the imported hsm_keys to the caller in kt_result.key (needed
     * for session imports, whose keys cannot be found again by ID). */
    bool keep_keys;
} kt_import_opts;

/* What happened to one entry. */
typedef enum kt_status {
    KT_IMPORTED = 0, /* the key is on the token now */
    KT_REPLACED = 1, /* replace: an older copy was removed, this one is on */
    KT_EXISTS = 2,   /* already on the token (or twice in the keytab: the
                        first entry is kept, as MIT's lookup keeps it) */
    KT_SKIPPED = 3,  /* an enctype hsmssp does not implement */
    KT_FAILED = 4    /* refused (policy, token error, malformed entry) */
} kt_status;

/* "imported", "replaced", "exists", "skipped", "failed". */
const char *kt_status_name(kt_status s);

typedef struct kt_result {
    /* principal (MIT's escaped unparsed form with realm, as the key store
     * names keys), kvno, enctype.  A principal longer than
     * KERB_KS_MAX_PRINCIPAL is cut here and the entry KT_FAILED. */
    kerb_ks_entry e;
    /* The enctype's name: hsmssp's (hsm_etype_name) for the enctypes it
     * implements, libkrb5's for others ("des3-cbc-sha1"), or "etype N". */
    char enctype[48];
    kt_status status;
    /* HSMSSP_OK for KT_IMPORTED/KT_REPLACED; else the reason's code:
     * HSMSSP_ERR_INVALID_ARGUMENT (exists, malformed entry),
     * HSMSSP_ERR_UNKNOWN_ENCTYPE (skipped), HSMSSP_ERR_POLICY_HOST_OP
     * (refused by policy), token errors ... */
    hsmssp_err err;
    /* One line for an operator ("message: detail" as
     * hsmssp_last_error_detail() gives it), "" on success.  Never holds
     * key material. */
    char detail[256];
    /* Protection level of the enctype on this token (the row of
     * hsm_token_strategies()); HSM_LEVEL_NONE for skipped enctypes. */
    hsm_level level;
    /* Whether the token's policy allows that level. */
    bool allowed;
    /* keep_keys and imported: the key, owned by the caller (set this
     * field to NULL after taking it; kt_results_free() frees the rest). */
    hsm_key *key;
} kt_result;

/* Imports every entry of the MIT keytab at path into tok.  path "-" is
 * standard input.  A regular file (also as standard input) is read in
 * place; a pipe, FIFO, socket or character device is first copied into a
 * memfd (see above); a terminal, a directory or a block device is
 * refused.
 *
 * Per-entry outcomes are in *results_out (malloc'ed, n_out entries, in
 * keytab order; free with kt_results_free()): an entry that fails does
 * not stop the others.  The call itself fails, with nothing imported and
 * *results_out NULL, when
 *   - o->persistent and the token cannot store objects:
 *     HSMSSP_ERR_TOKEN_READONLY (checked before the keytab is opened);
 *   - the keytab cannot be opened or read, is not an MIT keytab (format
 *     0x0502; the pre-1995 0x0501 is refused too), is truncated or
 *     malformed, or holds no keys: HSMSSP_ERR_INVALID_ARGUMENT with a
 *     detail naming the file, the record and its offset;
 *   - it exceeds KT_MAX_SIZE / KT_MAX_ENTRIES: HSMSSP_ERR_INPUT_TOO_LARGE
 *     / HSMSSP_ERR_LIMIT;
 *   - memory runs out: HSMSSP_ERR_NOMEM. */
hsmssp_err kt_import(hsm_token *tok, const char *path, const kt_import_opts *o,
                     kt_result **results_out, size_t *n_out) BASE_WUR;

/* Frees the results and every key still in them (hsm_key_free: session
 * objects go, persistent objects stay on the token).  NULL is a no-op. */
void kt_results_free(kt_result *r, size_t n);

/* Deletes the keytab file at path after kt_import(), but only when every
 * one of the n results is KT_IMPORTED or KT_REPLACED: a key that is not
 * on the token (exists with a different value, skipped, failed) would be
 * lost with the file.  Refuses "-" and anything that is not a regular
 * file (a symbolic link is refused rather than followed: removing the
 * link would leave the keys on disk).  The file is unlinked, not
 * overwritten: on journaling and copy-on-write file systems and on flash,
 * overwriting in place does not reach the old blocks anyway.
 * HSMSSP_ERR_INVALID_ARGUMENT with the reason. */
hsmssp_err kt_remove_source(const char *path, const kt_result *r,
                            size_t n) BASE_WUR;

#endif
