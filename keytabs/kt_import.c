/*
 * keytabs/kt_import.c - MIT keytab -> token objects (keytabs.h).
 *
 * Three steps, in this order, so that a keytab that cannot be read
 * changes nothing on the token:
 *   1. the source: the file itself when it is a regular file, otherwise a
 *      memfd copy of the stream (libkrb5's FILE keytab seeks: through a
 *      pipe it silently finds nothing, DESIGN sec. 8);
 *   2. the record structure, checked here without touching key bytes,
 *      because libkrb5 answers a truncated or damaged record with
 *      KRB5_KT_END, "no more entries", and would make a cut-off keytab
 *      look like a shorter valid one;
 *   3. every entry read through libkrb5 (MIT's parser, MIT's principal
 *      unparsing), its key moved into a base_secret at once and the entry
 *      freed (libkrb5 zaps the keyblock), the source wiped and closed;
 *      only then the imports, one entry after the other, each key's
 *      secret freed (wiped) as soon as its import returns.
 * docs/key-exposure.md entry 6 is the inventory of the copies.
 */
#include <errno.h>
#include <fcntl.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keytabs/keytabs.h"

#define LOG_SUBSYS "keytab"

/* MIT keytab format (kt_file.c): a 2-byte version, then records, each a
 * signed 32-bit big-endian length followed by that many bytes; a negative
 * length marks a hole left by a removed entry, a zero length the end. */
#define KT_MAGIC 0x05
#define KT_VERSION_1 0x01 /* DCE-era format in host byte order */
#define KT_VERSION_2 0x02

/* The stream copy's bounce buffer: a base_secret, since a keytab stream
 * carries keys. */
#define COPY_CHUNK 4096u

/* The keytab as libkrb5 will read it. */
typedef struct kt_source {
    const char *what; /* the path, or "on standard input": messages say
                         "keytab <what> ..." */
    int fd;           /* the descriptor behind name */
    bool close_fd;    /* fd is ours to close */
    bool memfd;       /* fd is our memfd copy: zeroed before closing */
    uint64_t size;    /* bytes in the file or the copy */
    char name[48];    /* "FILE:/proc/self/fd/N" */
} kt_source;

static const char *const status_names[] = {
    [KT_IMPORTED] = "imported", [KT_REPLACED] = "replaced",
    [KT_EXISTS] = "exists",     [KT_SKIPPED] = "skipped",
    [KT_FAILED] = "failed",
};

const char *
kt_status_name(kt_status s)
{
    if ((size_t)s < BASE_ARRAY_LEN(status_names) && status_names[s])
        return status_names[s];
    return "unknown";
}

/* ---- step 1: the source ------------------------------------------------ */

/* write(2) until everything is written; a memfd never writes short except
 * when memory runs out, which ENOSPC/ENOMEM then tell. */
static bool
write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Copies the stream in into a memfd (MFD_CLOEXEC: a child started while
 * the copy exists must not inherit it).  Never a file on disk: a
 * temporary file would put the keys where unlinking does not erase them.
 * The copy passes through a secure bounce buffer, not stdio.  The memfd
 * is recorded in src before the first byte goes in, so that the caller's
 * cleanup wipes a partial copy too. */
static hsmssp_err
copy_to_memfd(int in, kt_source *src)
{
    base_secret *buf = NULL;
    hsmssp_err ret;
    int fd;

    ret = base_secret_new(0, COPY_CHUNK, &buf);
    if (ret != HSMSSP_OK)
        return ret;
    fd = memfd_create("hsmssp-keytab", MFD_CLOEXEC);
    if (fd < 0) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "keytab %s: memfd_create: %s", src->what,
                       strerror(errno));
        goto cleanup;
    }
    src->fd = fd;
    src->close_fd = true;
    src->memfd = true;
    for (;;) {
        ssize_t r = read(in, buf->data, COPY_CHUNK);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "keytab %s: read: %s",
                           src->what, strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break;
        if (src->size + (uint64_t)r > KT_MAX_SIZE) {
            ret = BASE_ERR(HSMSSP_ERR_INPUT_TOO_LARGE,
                           "keytab %s is larger than %u bytes", src->what,
                           KT_MAX_SIZE);
            goto cleanup;
        }
        if (!write_all(fd, buf->data, (size_t)r)) {
            ret = BASE_ERR(HSMSSP_ERR_NOMEM, "keytab %s: memfd write: %s",
                           src->what, strerror(errno));
            goto cleanup;
        }
        src->size += (uint64_t)r;
    }
    ret = HSMSSP_OK;

cleanup:
    base_secret_free(buf);
    return ret;
}

/* Overwrites a memfd copy with zeros before closing it: the pages are
 * freed on the last close, but freed shmem pages are not cleared until
 * reuse, so the copy is erased explicitly.  Closing is all a regular file
 * needs. */
static void
source_close(kt_source *src)
{
    static const uint8_t zeros[COPY_CHUNK];

    if (src->memfd && src->fd >= 0) {
        uint64_t off = 0;

        while (off < src->size) {
            size_t n = src->size - off < sizeof(zeros)
                           ? (size_t)(src->size - off)
                           : sizeof(zeros);
            ssize_t w = pwrite(src->fd, zeros, n, (off_t)off);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break; /* XXX: cannot happen on a memfd we wrote */
            off += (uint64_t)w;
        }
    }
    if (src->close_fd && src->fd >= 0)
        close(src->fd);
    src->fd = -1;
    src->close_fd = src->memfd = false;
}

/* Opens path ("-": standard input) as a source libkrb5 can seek in.  A
 * regular file is read where it is: through /proc/self/fd/N of our own
 * descriptor, so that the structure check and libkrb5 read the same inode
 * even if the path is renamed meanwhile (and standard input redirected
 * from a file is reopened at offset 0 this way).  Streams are copied.
 * Opening a FIFO waits for its writer, as for any reader of a FIFO. */
static hsmssp_err
source_open(const char *path, kt_source *src)
{
    bool stdin_src = strcmp(path, "-") == 0;
    struct stat st;
    hsmssp_err ret;
    int in;

    memset(src, 0, sizeof(*src));
    src->fd = -1;
    src->what = stdin_src ? "on standard input" : path;
    if (stdin_src) {
        in = STDIN_FILENO;
    } else {
        in = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (in < 0)
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "cannot open keytab %s: %s", path,
                            strerror(errno));
    }
    if (fstat(in, &st) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "keytab %s: fstat: %s",
                       src->what, strerror(errno));
        goto cleanup;
    }
    if (S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > KT_MAX_SIZE) {
            ret = BASE_ERR(HSMSSP_ERR_INPUT_TOO_LARGE,
                           "keytab %s is larger than %u bytes", src->what,
                           KT_MAX_SIZE);
            goto cleanup;
        }
        src->fd = in;
        src->close_fd = !stdin_src;
        src->size = (uint64_t)st.st_size;
        in = -1;
    } else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
               S_ISCHR(st.st_mode)) {
        /* A terminal would wait for typed binary; nobody means that. */
        if (isatty(in)) {
            ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                           "keytab %s is a terminal; give a file or pipe "
                           "the keytab in",
                           src->what);
            goto cleanup;
        }
        ret = copy_to_memfd(in, src);
        if (ret != HSMSSP_OK)
            goto cleanup;
    } else {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "keytab %s is not a regular file or a pipe", src->what);
        goto cleanup;
    }
    (void)snprintf(src->name, sizeof(src->name), "FILE:/proc/self/fd/%d",
                   src->fd);
    ret = HSMSSP_OK;

cleanup:
    if (in >= 0 && !stdin_src)
        close(in);
    if (ret != HSMSSP_OK)
        source_close(src);
    return ret;
}

/* ---- step 2: the record structure -------------------------------------- */

/* pread(2) of exactly n bytes at off; false when the file ends first. */
static bool
read_at(const kt_source *src, uint64_t off, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = pread(src->fd, p, n, (off_t)off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return true;
}

/* A cursor over one record: [p, end) of the file. */
typedef struct rec_cursor {
    const kt_source *src;
    uint64_t p, end;
} rec_cursor;

/* Reads a big-endian 16-bit field; false when it does not fit. */
static bool
take16(rec_cursor *c, uint16_t *v)
{
    uint8_t b[2];

    if (c->end - c->p < 2 || !read_at(c->src, c->p, b, 2))
        return false;
    *v = (uint16_t)(b[0] << 8 | b[1]);
    c->p += 2;
    return true;
}

/* Skips n bytes of the record without reading them (key bytes among
 * them: the check never loads a key). */
static bool
skip(rec_cursor *c, uint64_t n)
{
    if (c->end - c->p < n)
        return false;
    c->p += n;
    return true;
}

/* A counted string (16-bit length, then the bytes) whose length libkrb5
 * takes as signed and refuses when zero or negative: it ends its read
 * there with KRB5_KT_END, i.e. silently.  Writes the reason into why. */
static bool
counted(rec_cursor *c, const char *field, char *why, size_t cap)
{
    uint16_t n;

    if (!take16(c, &n)) {
        (void)snprintf(why, cap, "the length of %s is cut off", field);
        return false;
    }
    if (n == 0 || n > 0x7fff) {
        (void)snprintf(why, cap, "%s has the invalid length %u", field,
                       (unsigned)n);
        return false;
    }
    if (!skip(c, n)) {
        (void)snprintf(why, cap, "%s (%u bytes) runs past the record", field,
                       (unsigned)n);
        return false;
    }
    return true;
}

/* Checks one record's fields (kt_file.c, format 0x0502): component count,
 * realm, components, name type, timestamp, 8-bit kvno, enctype, key; an
 * optional 32-bit kvno and any padding may follow.  Returns false with
 * the reason in why. */
static bool
check_record(const kt_source *src, uint64_t off, uint64_t len, char *why,
             size_t cap)
{
    rec_cursor c = {.src = src, .p = off, .end = off + len};
    char field[32];
    uint16_t n_comp;

    if (!take16(&c, &n_comp)) {
        (void)snprintf(why, cap, "the component count is cut off");
        return false;
    }
    if (n_comp == 0 || n_comp > 0x7fff) {
        (void)snprintf(why, cap, "the principal has %u components",
                       (unsigned)n_comp);
        return false;
    }
    if (!counted(&c, "the realm", why, cap))
        return false;
    for (unsigned i = 0; i < n_comp; i++) {
        (void)snprintf(field, sizeof(field), "component %u", i + 1);
        if (!counted(&c, field, why, cap))
            return false;
    }
    /* name type (4), timestamp (4), kvno (1), enctype (2) */
    if (!skip(&c, 4 + 4 + 1 + 2)) {
        (void)snprintf(why, cap, "the record ends before the key");
        return false;
    }
    return counted(&c, "the key", why, cap);
}

/* Walks the records as libkrb5 will, and counts the entries.  Everything
 * libkrb5 would take for the end of the keytab before the end of the
 * file (a cut-off length or record, a malformed field) is an error here,
 * naming the record and its offset. */
static hsmssp_err
check_structure(const kt_source *src, size_t *n_out)
{
    uint8_t hdr[4];
    uint64_t off = 2;
    size_t n = 0;
    char why[96];

    *n_out = 0;
    if (src->size == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "keytab %s is empty (0 bytes)", src->what);
    if (src->size < 2 || !read_at(src, 0, hdr, 2))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "keytab %s is too short to be a keytab", src->what);
    if (hdr[0] != KT_MAGIC)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "keytab %s is not an MIT keytab (it starts with "
                        "0x%02x%02x, a keytab with 0x0502)",
                        src->what, hdr[0], hdr[1]);
    if (hdr[1] == KT_VERSION_1)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "keytab %s has the old format 0x0501, which hsmssp "
                        "does not read; rewrite it with ktutil (rkt, wkt)",
                        src->what);
    if (hdr[1] != KT_VERSION_2)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "keytab %s has the unknown format 0x05%02x", src->what,
                        hdr[1]);
    while (off < src->size) {
        uint64_t rec_off = off;
        int32_t len;

        if (src->size - off < 4 || !read_at(src, off, hdr, 4))
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "keytab %s is truncated: %llu stray bytes at "
                            "offset %llu after record %zu",
                            src->what, (unsigned long long)(src->size - off),
                            (unsigned long long)off, n);
        len = (int32_t)base_load_be32(hdr);
        off += 4;
        /* A zero length is libkrb5's end of the keytab: bytes after it
         * are never read (its writer leaves them zero). */
        if (len == 0)
            break;
        if (len < 0) {
            uint64_t hole =
                len == INT32_MIN ? UINT64_MAX : (uint64_t)(-(int64_t)len);
            if (hole > src->size - off)
                return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                                "keytab %s is truncated: the hole at offset "
                                "%llu runs past the end of the file",
                                src->what, (unsigned long long)rec_off);
            off += hole;
            continue;
        }
        if ((uint64_t)len > src->size - off)
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "keytab %s is truncated: record %zu at offset "
                            "%llu has %d bytes, the file only %llu more",
                            src->what, n + 1, (unsigned long long)rec_off,
                            (int)len, (unsigned long long)(src->size - off));
        if (!check_record(src, off, (uint64_t)len, why, sizeof(why)))
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "keytab %s is damaged: record %zu at offset "
                            "%llu: %s",
                            src->what, n + 1, (unsigned long long)rec_off,
                            why);
        if (++n > KT_MAX_ENTRIES)
            return BASE_ERR(HSMSSP_ERR_LIMIT,
                            "keytab %s holds more than %u keys", src->what,
                            KT_MAX_ENTRIES);
        off += (uint64_t)len;
    }
    if (n == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "keytab %s holds no keys",
                        src->what);
    *n_out = n;
    return HSMSSP_OK;
}

/* ---- step 3: reading the entries --------------------------------------- */

/* Records a per-entry outcome raised just before with BASE_ERR (or by a
 * callee): the code and the thread's detail line. */
static void
set_outcome(kt_result *r, kt_status status, hsmssp_err err)
{
    r->status = status;
    r->err = err;
    r->detail[0] = '\0';
    if (err != HSMSSP_OK)
        (void)snprintf(r->detail, sizeof(r->detail), "%s",
                       hsmssp_last_error() == err ? hsmssp_last_error_detail()
                                                  : hsmssp_err_message(err));
}

/* libkrb5's error text for code (never carries key material: it names
 * files and formats). */
static hsmssp_err
krb_err(krb5_context kc, krb5_error_code code, const char *what,
        const char *step)
{
    const char *m = kc != NULL ? krb5_get_error_message(kc, code) : NULL;
    hsmssp_err ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "keytab %s: %s: %s",
                              what, step, m != NULL ? m : "libkrb5 error");

    if (m != NULL)
        krb5_free_error_message(kc, m);
    return ret;
}

/* Takes one entry: its key bytes into a new base_secret first (only for
 * enctypes hsmssp implements: other keys never leave libkrb5's keyblock),
 * then the names; frees the entry's contents, which zaps libkrb5's copy
 * of the key, before returning.  An entry that cannot be imported gets
 * its outcome here and *key_out stays NULL; the return value is an error
 * only when memory runs out. */
static hsmssp_err
take_entry(krb5_context kc, krb5_keytab_entry *ent, kt_result *r,
           base_secret **key_out)
{
    size_t keylen = hsm_etype_keylen(ent->key.enctype);
    const char *name = hsm_etype_name(ent->key.enctype);
    char *princ = NULL;
    size_t plen;
    hsmssp_err ret = HSMSSP_OK;

    *key_out = NULL;
    r->e.kvno = ent->vno;
    r->e.etype = ent->key.enctype;
    r->level = HSM_LEVEL_NONE;
    if (keylen != 0 && ent->key.length == keylen) {
        ret = base_secret_from(ent->key.contents, ent->key.length, key_out);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    if (name != NULL)
        (void)snprintf(r->enctype, sizeof(r->enctype), "%s", name);
    else if (krb5_enctype_to_name(ent->key.enctype, FALSE, r->enctype,
                                  sizeof(r->enctype)) != 0)
        (void)snprintf(r->enctype, sizeof(r->enctype), "etype %d",
                       (int)ent->key.enctype);

    /* MIT's escaped form ("a\/b@R"), the form the key store names keys
     * by and the acceptor looks them up by. */
    if (krb5_unparse_name(kc, ent->principal, &princ) != 0) {
        set_outcome(r, KT_FAILED,
                    BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                             "the principal name cannot be unparsed"));
        goto drop;
    }
    plen = strlen(princ);
    (void)snprintf(r->e.principal, sizeof(r->e.principal), "%s", princ);
    if (plen > KERB_KS_MAX_PRINCIPAL) {
        set_outcome(r, KT_FAILED,
                    BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                             "principal name of %zu bytes; the key store "
                             "takes at most %d",
                             plen, KERB_KS_MAX_PRINCIPAL));
        goto drop;
    }
    if (keylen == 0) {
        set_outcome(r, KT_SKIPPED,
                    BASE_ERR(HSMSSP_ERR_UNKNOWN_ENCTYPE,
                             "enctype %s (%d) is not supported by hsmssp "
                             "(it implements 17, 18, 19, 20 and 23)",
                             r->enctype, (int)r->e.etype));
        goto drop;
    }
    if (*key_out == NULL) {
        set_outcome(r, KT_FAILED,
                    BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                             "the entry's key has %u bytes, %s keys have "
                             "%zu",
                             (unsigned)ent->key.length, r->enctype, keylen));
        goto drop;
    }
    goto cleanup;

drop:
    base_secret_free(*key_out);
    *key_out = NULL;
cleanup:
    if (princ != NULL)
        krb5_free_unparsed_name(kc, princ);
    krb5_free_keytab_entry_contents(kc, ent);
    return ret;
}

/* Reads all n entries of the checked source through libkrb5 into res and
 * keys (both n long).  A secure context: nothing in the environment
 * (KRB5_CONFIG, KRB5_TRACE) has a say in reading a keytab.  Exactly n
 * entries must come out; fewer means libkrb5 stopped at something the
 * structure check let pass, and the keytab counts as unreadable. */
static hsmssp_err
read_entries(const kt_source *src, size_t n, kt_result *res,
             base_secret **keys)
{
    krb5_context kc = NULL;
    krb5_keytab kt = NULL;
    krb5_kt_cursor cur = NULL;
    krb5_keytab_entry ent;
    krb5_error_code kerr;
    bool seq = false;
    size_t got = 0;
    hsmssp_err ret;

    kerr = krb5_init_secure_context(&kc);
    if (kerr != 0) {
        kc = NULL;
        ret =
            BASE_ERR(HSMSSP_ERR_INTERNAL,
                     "libkrb5 cannot make a context (error %ld)", (long)kerr);
        goto cleanup;
    }
    kerr = krb5_kt_resolve(kc, src->name, &kt);
    if (kerr != 0) {
        kt = NULL;
        ret = krb_err(kc, kerr, src->what, "resolve");
        goto cleanup;
    }
    kerr = krb5_kt_start_seq_get(kc, kt, &cur);
    if (kerr != 0) {
        ret = krb_err(kc, kerr, src->what, "open");
        goto cleanup;
    }
    seq = true;
    for (;;) {
        memset(&ent, 0, sizeof(ent));
        kerr = krb5_kt_next_entry(kc, kt, &ent, &cur);
        if (kerr == KRB5_KT_END)
            break;
        if (kerr != 0) {
            ret = krb_err(kc, kerr, src->what, "reading an entry");
            goto cleanup;
        }
        if (got == n) {
            krb5_free_keytab_entry_contents(kc, &ent);
            ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                           "keytab %s: libkrb5 found more entries than "
                           "the file has records (%zu)",
                           src->what, n);
            goto cleanup;
        }
        ret = take_entry(kc, &ent, &res[got], &keys[got]);
        if (ret != HSMSSP_OK)
            goto cleanup;
        got++;
    }
    if (got != n) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "keytab %s: libkrb5 read %zu of its %zu entries",
                       src->what, got, n);
        goto cleanup;
    }
    ret = HSMSSP_OK;

cleanup:
    /* krb5_kt_close zaps libkrb5's stdio buffer, which kt_file.c keeps
     * inside the keytab handle (setbuf), and frees the handle. */
    if (seq)
        (void)krb5_kt_end_seq_get(kc, kt, &cur);
    if (kt != NULL)
        (void)krb5_kt_close(kc, kt);
    if (kc != NULL)
        krb5_free_context(kc);
    return ret;
}

/* ---- the imports -------------------------------------------------------- */

/* The enctype's row of the probe table: level and whether policy allows
 * it (hsm_token_strategies: one row per enctype the engine knows). */
static void
set_level(hsm_token *tok, kt_result *r)
{
    size_t n = 0;
    const hsm_strategy_row *rows = hsm_token_strategies(tok, &n);

    r->level = HSM_LEVEL_NONE;
    r->allowed = false;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].etype != 0 && rows[i].etype == r->e.etype) {
            r->level = rows[i].level;
            r->allowed = rows[i].allowed;
            return;
        }
    }
}

static bool
same_key_name(const kerb_ks_entry *a, const kerb_ks_entry *b)
{
    return a->kvno == b->kvno && a->etype == b->etype &&
           strcmp(a->principal, b->principal) == 0;
}

/* Imports entry i, whose key bytes are in key, and records its outcome.
 * Order of the checks:
 *   1. a second copy in the same keytab: MIT's own lookup takes the
 *      first match, so the first is kept and this one reported, whatever
 *      replace says (replacing a key with its twin from the same file
 *      would only make the outcome depend on entry order);
 *   2. the token, for persistent imports: the key store refuses
 *      duplicates itself, but with the code it uses for every argument
 *      error, so the lookup is made here to tell "exists" apart, and to
 *      report "replaced" rather than "imported" under replace;
 *   3. the import, which refuses what the policy forbids with the
 *      engine's own message naming the missing mechanism. */
static void
import_one(hsm_token *tok, const kt_import_opts *o, kt_result *res, size_t i,
           const base_secret *key)
{
    kt_result *r = &res[i];
    char label[320];
    hsm_key *k = NULL;
    bool existed = false;
    kt_status status = KT_FAILED;
    hsmssp_err ret = HSMSSP_OK;

    kerb_ks_label(&r->e, label, sizeof(label));
    for (size_t j = 0; j < i && ret == HSMSSP_OK; j++) {
        if (same_key_name(&res[j].e, &r->e)) {
            status = KT_EXISTS;
            ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                           "%s is in the keytab twice (entries %zu and "
                           "%zu); the first is kept",
                           label, j + 1, i + 1);
        }
    }
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (o->persistent) {
        ret = kerb_ks_find(tok, &r->e, &k);
        hsm_key_free(k); /* only its existence matters here */
        k = NULL;
        if (ret == HSMSSP_OK) {
            existed = true;
            if (!o->replace) {
                status = KT_EXISTS;
                ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                               "%s is already on the token (use "
                               "--replace)",
                               label);
                goto cleanup;
            }
        } else if (ret != HSMSSP_ERR_KEY_NOT_FOUND) {
            goto cleanup; /* a token fault, or the policy (etype 23) */
        }
    }
    ret = kerb_ks_import(tok, &r->e, key, o->persistent, o->replace,
                         o->keep_keys ? &k : NULL);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* The caller owns the key from here (kt_results_free frees it when
     * the caller does not take it). */
    r->key = k;
    k = NULL;
    status = existed ? KT_REPLACED : KT_IMPORTED;

cleanup:
    hsm_key_free(k);
    set_outcome(r, status, ret);
}

hsmssp_err
kt_import(hsm_token *tok, const char *path, const kt_import_opts *o,
          kt_result **results_out, size_t *n_out)
{
    kt_source src = {.fd = -1};
    kt_result *res = NULL;
    base_secret **keys = NULL;
    hsm_token_ident ident;
    size_t n = 0;
    hsmssp_err ret;

    *results_out = NULL;
    *n_out = 0;
    if (tok == NULL || path == NULL || *path == '\0' || o == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kt_import: token, path and options are required");
    /* Before the keytab is opened: on a token without storage every
     * persistent import would fail, after the keys had been read. */
    if (o->persistent && !hsm_token_persistent(tok)) {
        hsm_token_identity(tok, &ident);
        return BASE_ERR(HSMSSP_ERR_TOKEN_READONLY,
                        "token '%s' cannot store keys (no persistent "
                        "objects; NSS softoken without a database keeps "
                        "session objects only): import into session "
                        "objects in the process that uses the keys",
                        ident.label);
    }

    ret = source_open(path, &src);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = check_structure(&src, &n);
    if (ret != HSMSSP_OK)
        goto cleanup;
    res = calloc(n, sizeof(*res));
    keys = calloc(n, sizeof(*keys));
    if (res == NULL || keys == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    ret = read_entries(&src, n, res, keys);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* Every key is in a base_secret now: the stream copy goes before the
     * first (slow) token call. */
    source_close(&src);

    for (size_t i = 0; i < n; i++) {
        set_level(tok, &res[i]);
        if (keys[i] != NULL) {
            import_one(tok, o, res, i, keys[i]);
            base_secret_free(keys[i]);
            keys[i] = NULL;
        }
        /* An operator's record of what went where; the key itself is
         * never named beyond its label. */
        base_log(res[i].status <= KT_REPLACED ? HSMSSP_LOG_INFO
                                              : HSMSSP_LOG_WARNING,
                 LOG_SUBSYS, "keytab %s entry %zu: %s kvno %u %s: %s%s%s",
                 src.what, i + 1, res[i].e.principal, (unsigned)res[i].e.kvno,
                 res[i].enctype, kt_status_name(res[i].status),
                 res[i].detail[0] ? ": " : "", res[i].detail);
    }
    *results_out = res;
    *n_out = n;
    res = NULL;
    ret = HSMSSP_OK;

cleanup:
    source_close(&src);
    if (keys != NULL) {
        for (size_t i = 0; i < n; i++)
            base_secret_free(keys[i]);
        free(keys);
    }
    kt_results_free(res, n);
    return ret;
}

void
kt_results_free(kt_result *r, size_t n)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        hsm_key_free(r[i].key);
    free(r);
}

hsmssp_err
kt_remove_source(const char *path, const kt_result *r, size_t n)
{
    struct stat st;

    if (path == NULL || strcmp(path, "-") == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "a keytab read from standard input has no file to "
                        "remove");
    if (r == NULL || n == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "%s kept: nothing was imported from it", path);
    for (size_t i = 0; i < n; i++) {
        if (r[i].status != KT_IMPORTED && r[i].status != KT_REPLACED)
            return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                            "%s kept: entry %zu (%s kvno %u %s) %s, so "
                            "its key is not on the token",
                            path, i + 1, r[i].e.principal,
                            (unsigned)r[i].e.kvno, r[i].enctype,
                            r[i].status == KT_EXISTS
                                ? "was already there or twice in the "
                                  "keytab"
                                : "was not imported");
    }
    if (lstat(path, &st) != 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "cannot remove %s: %s",
                        path, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "%s kept: it is a symbolic link; removing the link "
                        "would leave the keys on disk",
                        path);
    if (!S_ISREG(st.st_mode))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "%s kept: not a regular file", path);
    if (unlink(path) != 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "cannot remove %s: %s",
                        path, strerror(errno));
    base_log(HSMSSP_LOG_INFO, LOG_SUBSYS, "removed keytab %s", path);
    return HSMSSP_OK;
}
