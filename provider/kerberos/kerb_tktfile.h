/*
 * provider/kerberos/kerb_tktfile.h - the on-disk half of `hsmssp kinit`:
 * one file per client principal holding a TGT and its public metadata.
 *
 * Split of the stored credential (issue 4, docs/kinit-store.md).  A TGT
 * is two things: the Ticket (encrypted in the KDC's key, opaque to us)
 * and its session key.  The session key never goes to disk: it is a
 * persistent token object (CKA_TOKEN, sensitive, non-extractable) made
 * by the token side of kinit.  This module stores everything else - the
 * Ticket, the names, times, flags, the session key's enctype and the
 * CKA_ID under which the next process finds the key object, and which
 * token holds it.  It never sees key bytes: there are none in an entry.
 *
 * Location (kerb_tktfile_dir): $HSMSSP_TICKET_DIR, else the configured
 * directory, else /run/user/<euid>/hsmssp, else /tmp/hsmssp-<euid>.  The
 * directory is 0700 and owned by the effective uid, each file 0600 (no
 * group or other bits at all) and owned by the effective uid; anything
 * else, and a symbolic link in place of either, is refused with
 * HSMSSP_ERR_FILE_PERMS naming the path and the mode.  A file's name is
 * derived from its client principal (kerb_tktfile_path).
 *
 * File format, version 1: one DER value, nothing before or after it,
 * written and read with base/der.h (strict DER: minimal lengths and
 * integers, no trailing bytes at any level).
 *
 *   HsmsspTicketFile ::= [PRIVATE 1] SEQUENCE {
 *       version       [0]  INTEGER (1),
 *       client        [1]  KerberosString,  -- "alice@EXAMPLE.COM"
 *       server        [2]  KerberosString,  -- "krbtgt/EXAMPLE.COM@..."
 *       flags         [3]  TicketFlags,     -- BIT STRING, exactly 32 bits
 *       authtime      [4]  KerberosTime,
 *       starttime     [5]  KerberosTime,
 *       endtime       [6]  KerberosTime,
 *       renew-till    [7]  KerberosTime OPTIONAL, -- absent: not renewable
 *       key-etype     [8]  Int32,           -- the session key's enctype
 *       key-id        [9]  OCTET STRING (SIZE (1..64)),  -- its CKA_ID
 *       token-label   [10] KerberosString (SIZE (0..32)),
 *       token-serial  [11] KerberosString (SIZE (0..16)),
 *       ticket        [12] Ticket           -- RFC 4120 sec. 5.3, as is
 *   }
 * KerberosString, KerberosTime, TicketFlags, Int32 and Ticket are RFC
 * 4120's (GeneralString octets without NUL; "YYYYMMDDHHMMSSZ").  The
 * [PRIVATE 1] tag differs from every Kerberos message and GSS token
 * (APPLICATION class), so no such blob parses as a ticket file.
 *
 * Rules checked by both the encoder and the decoder (so every file the
 * encoder writes decodes, every file the decoder accepts re-encodes to
 * the same bytes, and a changed byte never yields the same entry):
 *  - client and server are 1..KERB_KS_MAX_PRINCIPAL bytes in MIT's
 *    unparsed form with a non-empty realm, exactly as
 *    kerb_principal_unparse() writes them (parse + unparse gives them
 *    back unchanged; so no NUL, no stray escapes);
 *  - server equals the Ticket's sname@realm, unparsed;
 *  - the Ticket decodes with kerb_dec_ticket() and is 1..
 *    KERB_TKTFILE_MAX_TICKET bytes;
 *  - every time is in 0 .. KERB_TKTFILE_MAX_TIME (KerberosTime's range);
 *    renew_till 0 means "absent", so a present renew-till is never
 *    1970-01-01T00:00:00Z;
 *  - key-id 1..KERB_TKTFILE_MAX_KEY_ID bytes; token label and serial
 *    without NUL, at most 32 and 16 bytes (empty allowed), as hsm/
 *    reports them (PKCS#11 blank padding trimmed).
 * No ordering between the times is imposed: they are the KDC's.
 *
 * Error codes.  Malformed input to the decoder: HSMSSP_ERR_BAD_TOKEN with
 * a one-line reason; an input or Ticket over its size bound:
 * HSMSSP_ERR_LIMIT.  An entry that breaks a rule given to the encoder:
 * HSMSSP_ERR_INVALID_ARGUMENT (HSMSSP_ERR_LIMIT for the ticket size).
 * Ownership or mode wrong: HSMSSP_ERR_FILE_PERMS.  No file:
 * HSMSSP_ERR_NO_TICKET.  A directory that cannot be created or opened
 * (missing parent, not permitted, relative path given): HSMSSP_ERR_CONFIG.
 * Other I/O failures (read, write, fsync, rename: ENOSPC, EIO ...):
 * HSMSSP_ERR_INTERNAL.  Details carry the path and strerror(), never
 * ticket bytes.
 *
 * Concurrency: writes are atomic replacements (a reader sees the old or
 * the new file, never a mix) and the last writer wins.  Nothing here
 * locks; the caller that replaces an entry is responsible for the old
 * entry's token object (read it first, delete its key-id afterwards, or
 * let the expiry sweep take it: see the key-id scheme below).
 *
 * No function here keeps state; all are thread-safe.
 */
#ifndef HSMSSP_KERB_TKTFILE_H
#define HSMSSP_KERB_TKTFILE_H

#include "base/base.h"
#include "provider/kerberos/kerb_keystore.h"

#define KERB_TKTFILE_VERSION 1
/* Bound on the Ticket's encoding.  MIT's TGTs with a PAC are ~1 KiB;
 * Active Directory TGTs of users in many groups reach tens of KiB (the
 * MaxTokenSize of 48 KiB Windows allows bounds them in practice). */
#define KERB_TKTFILE_MAX_TICKET 65536
/* Bound on a whole file: the ticket plus every other field at its
 * largest (~800 bytes), with room to spare. */
#define KERB_TKTFILE_MAX_FILE (KERB_TKTFILE_MAX_TICKET + 2048)
#define KERB_TKTFILE_MAX_KEY_ID 64
#define KERB_TKTFILE_MAX_TOKEN_LABEL 32  /* CK_TOKEN_INFO.label */
#define KERB_TKTFILE_MAX_TOKEN_SERIAL 16 /* CK_TOKEN_INFO.serialNumber */
/* 9999-12-31T23:59:59Z, the last second a KerberosTime can name. */
#define KERB_TKTFILE_MAX_TIME 253402300799LL
/* Ticket files one kerb_tktfile_list() call examines at most. */
#define KERB_TKTFILE_MAX_FILES 1024
/* The environment variable that overrides the directory. */
#define KERB_TKTFILE_ENV "HSMSSP_TICKET_DIR"
/* Suffix of every ticket file's name. */
#define KERB_TKTFILE_SUFFIX ".tgt"
/* Longest file name kerb_tktfile_path() makes (suffix included). */
#define KERB_TKTFILE_MAX_NAME 200

/* The outer identifier: [PRIVATE 1], constructed. */
#define KERB_TKTFILE_TAG 0xe1u

/* One stored TGT.  Plain data: no key bytes, no handles.  Strings are
 * NUL-terminated within their arrays.  ticket is malloc'ed and owned by
 * the entry: release with kerb_tktfile_entry_clear(). */
typedef struct kerb_tktfile_entry {
    char client[KERB_KS_MAX_PRINCIPAL + 1]; /* unparsed, with realm */
    char server[KERB_KS_MAX_PRINCIPAL + 1]; /* krbtgt/R@R (the Ticket's) */
    uint32_t flags;    /* TicketFlags, bit 0 = most significant
                        * (KERB_TKT_* of kerb_asn1.h) */
    int64_t authtime;  /* Unix seconds */
    int64_t starttime; /* the KDC's, or authtime when it sent none */
    int64_t endtime;
    int64_t renew_till; /* 0: not renewable (field absent) */
    int32_t key_etype;  /* the session key's enctype */
    uint8_t key_id[KERB_TKTFILE_MAX_KEY_ID]; /* CKA_ID of the key object */
    size_t key_id_len;
    char token_label[KERB_TKTFILE_MAX_TOKEN_LABEL + 1];   /* token holding */
    char token_serial[KERB_TKTFILE_MAX_TOKEN_SERIAL + 1]; /* the key */
    uint8_t *ticket; /* the Ticket's DER (malloc'ed) */
    size_t ticket_len;
} kerb_tktfile_entry;

/* Frees e->ticket and zeroes the whole entry.  NULL is fine. */
void kerb_tktfile_entry_clear(kerb_tktfile_entry *e);

/* ---- the pure codec (tests and the fuzz target use it directly) ---- */

/* Encodes e into a malloc'ed buffer *out of *len_out bytes (at most
 * KERB_TKTFILE_MAX_FILE), after checking every rule above.  Outputs are
 * NULL/0 on failure. */
hsmssp_err kerb_tktfile_encode(const kerb_tktfile_entry *e, uint8_t **out,
                               size_t *len_out) BASE_WUR;

/* Decodes n bytes at p (a whole file) into *e_out, which is cleared on
 * entry and left cleared on failure (nothing to free then); on success
 * e_out->ticket is a malloc'ed copy, so p may go away.  Strict: see the
 * rules above.  HSMSSP_ERR_BAD_TOKEN (malformed, with a one-line reason),
 * HSMSSP_ERR_LIMIT (n over KERB_TKTFILE_MAX_FILE, or the Ticket over
 * KERB_TKTFILE_MAX_TICKET), HSMSSP_ERR_NOMEM. */
hsmssp_err kerb_tktfile_decode(const uint8_t *p, size_t n,
                               kerb_tktfile_entry *e_out) BASE_WUR;

/* ---- where the files are -------------------------------------------- */

/* The ticket directory, as a malloc'ed absolute path in *dir_out:
 *   1. $HSMSSP_TICKET_DIR (read with secure_getenv, so ignored in setuid
 *      and setgid processes) when set and non-empty;
 *   2. else configured, when not NULL and non-empty (from the
 *      configuration file);
 *   3. else /run/user/<euid>/hsmssp when /run/user/<euid> is a directory
 *      (not a symbolic link) owned by the effective uid;
 *   4. else /tmp/hsmssp-<euid>.
 * A chosen path (1 or 2) must be absolute: HSMSSP_ERR_CONFIG otherwise.
 * Trailing slashes are dropped.  When the directory is missing and create
 * is true, it is created with mode 0700 exactly (whatever the umask); its
 * parent is never created (HSMSSP_ERR_CONFIG naming the path and errno's
 * text when mkdir fails).  When it is missing and create is false, the
 * call succeeds: readers then find no ticket.  An existing directory must
 * be a real directory, owned by the effective uid, with no group or
 * other permission bits, else HSMSSP_ERR_FILE_PERMS naming path, owner
 * and mode.  A squatter in /tmp therefore makes kinit fail loudly rather
 * than write into someone else's directory. */
hsmssp_err kerb_tktfile_dir(const char *configured, bool create,
                            char **dir_out) BASE_WUR;

/* The file of one client principal inside dir, malloc'ed in *path_out:
 * dir + "/" + name, where name is the principal with every byte outside
 * [A-Za-z0-9._@-], a leading '.' and '%' itself written as %XX
 * (uppercase hex), then ".tgt" - so names are injective, never hidden,
 * never contain '/'.  When that would be longer than
 * KERB_TKTFILE_MAX_NAME, name is the first part of the encoding (cut
 * between escapes), '~', 32 hex digits of SHA-256(principal) and ".tgt"
 * ('~' never occurs in an encoding, so the two forms never collide).
 * The principal must be 1..KERB_KS_MAX_PRINCIPAL bytes
 * (HSMSSP_ERR_INVALID_ARGUMENT); its form is not checked here. */
hsmssp_err kerb_tktfile_path(const char *dir, const char *client,
                             char **path_out) BASE_WUR;

/* ---- file operations ------------------------------------------------ */

/* Writes e to path atomically: encodes first (nothing touches the disk
 * when e breaks a rule), opens path's directory (O_NOFOLLOW, checked as
 * in kerb_tktfile_dir; it must exist: HSMSSP_ERR_CONFIG), creates a
 * temporary ".<name>.XXXXXXXXXXXX" there with O_CREAT|O_EXCL|O_NOFOLLOW,
 * mode 0600 (fchmod'ed, whatever the umask), writes, fsyncs, renames it
 * over path and fsyncs the directory.  On failure the temporary file is
 * removed and an existing file at path is untouched. */
hsmssp_err kerb_tktfile_write(const char *path,
                              const kerb_tktfile_entry *e) BASE_WUR;

/* Reads and decodes path into *e_out (cleared on entry, cleared on
 * failure).  The directory is opened and checked as in kerb_tktfile_dir,
 * the file opened with O_NOFOLLOW and checked on the open descriptor: a
 * regular file, owned by the effective uid, mode & 077 == 0, else
 * HSMSSP_ERR_FILE_PERMS naming path, owner and mode (a symbolic link is
 * refused).  Missing file or directory: HSMSSP_ERR_NO_TICKET.  A file
 * over KERB_TKTFILE_MAX_FILE: HSMSSP_ERR_LIMIT.  Malformed:
 * HSMSSP_ERR_BAD_TOKEN with the path and the reason.  The entry is
 * returned whatever its times: expiry is the caller's check. */
hsmssp_err kerb_tktfile_read(const char *path,
                             kerb_tktfile_entry *e_out) BASE_WUR;

/* The stored TGT of client in dir: kerb_tktfile_path + kerb_tktfile_read,
 * plus a check that the file's client is client (HSMSSP_ERR_BAD_TOKEN
 * otherwise: a file copied under another name).  No file:
 * HSMSSP_ERR_NO_TICKET with "no ticket for CLIENT; run hsmssp kinit
 * CLIENT". */
hsmssp_err kerb_tktfile_load(const char *dir, const char *client,
                             kerb_tktfile_entry *e_out) BASE_WUR;

/* Called once per ticket file by kerb_tktfile_list().  For a file that
 * reads and decodes, e is its entry (valid during the call only) and why
 * is HSMSSP_OK, reason NULL.  For one that does not (bad mode or owner,
 * malformed, or a name that is not kerb_tktfile_path of its client), e is
 * NULL, why the error code and reason its one-line detail.  Return false
 * to stop the listing. */
typedef bool (*kerb_tktfile_fn)(void *arg, const char *path,
                                const kerb_tktfile_entry *e, hsmssp_err why,
                                const char *reason);

/* Calls fn for every ticket file of dir - every name ending in ".tgt" and
 * not starting with '.' (temporary files do) - in byte order of the
 * names.  Other names are ignored; a file that vanishes meanwhile is
 * skipped.  A missing dir is an empty listing.  The directory itself is
 * checked as in kerb_tktfile_dir (HSMSSP_ERR_FILE_PERMS).  More than
 * KERB_TKTFILE_MAX_FILES ticket files: HSMSSP_ERR_LIMIT before any call.
 * A file that does not read is reported through fn, not returned. */
hsmssp_err kerb_tktfile_list(const char *dir, kerb_tktfile_fn fn,
                             void *arg) BASE_WUR;

/* Removes path (unlink; a symbolic link itself, never its target).  A
 * missing file is success.  The caller removes the token object. */
hsmssp_err kerb_tktfile_remove(const char *path) BASE_WUR;

/* ---- the token object's identity ------------------------------------ */

/* CKA_ID of the token object holding a stored TGT's session key:
 *     "krb5tgt" 0x01 || endtime (8 bytes, big-endian) || 16 random bytes
 * 32 bytes in all.  The endtime makes an expired object recognisable
 * from its ID alone, even after its file is gone, so a sweeper can list
 * CKA_IDs with this prefix and destroy those whose endtime is past; the
 * random part keeps two TGTs with the same endtime apart.  The fifth
 * byte ('t') differs from kerb_keystore's "krb5" 0x01, so neither scheme
 * parses the other's IDs. */
#define KERB_TKTFILE_ID_PREFIX "krb5tgt\x01"
#define KERB_TKTFILE_ID_PREFIX_LEN 8
#define KERB_TKTFILE_KEY_ID_LEN 32

/* Makes a fresh ID for a TGT ending at endtime (0..KERB_TKTFILE_MAX_TIME,
 * else HSMSSP_ERR_INVALID_ARGUMENT) into id (cap >= 32, else
 * HSMSSP_ERR_BUFFER_TOO_SMALL); *len_out = 32.  The random part comes
 * from hsm_random (HSMSSP_ERR_RANDOM). */
hsmssp_err kerb_tktfile_make_key_id(int64_t endtime, uint8_t *id, size_t cap,
                                    size_t *len_out) BASE_WUR;

/* True, with the endtime in *endtime_out, when id is exactly a 32-byte ID
 * of the scheme above with an endtime in 0..KERB_TKTFILE_MAX_TIME; false
 * (and *endtime_out 0) for anything else. */
bool kerb_tktfile_key_id_endtime(const uint8_t *id, size_t len,
                                 int64_t *endtime_out);

/* CKA_LABEL of that object, for people and pkcs11-tool:
 *     "TGT <client> for <server> until <YYYY-MM-DDTHH:MM:SSZ>"
 * (endtime in UTC).  Always NUL-terminated; cut to cap - 1 bytes when
 * cap is smaller than KERB_TKTFILE_KEY_LABEL_MAX; nothing when cap is 0. */
#define KERB_TKTFILE_KEY_LABEL_MAX (2 * KERB_KS_MAX_PRINCIPAL + 64)
void kerb_tktfile_key_label(const kerb_tktfile_entry *e, char *label,
                            size_t cap);

#endif
