/*
 * provider/kerberos/kerb_rcache.c - the acceptor's replay cache: a
 * fixed-size hash table in one file, shared by processes through record
 * locks.  The format and the contract are in kerb_rcache.h; the design
 * and its trade-offs in docs/rcache.md.
 *
 * Design in short (MIT krb5's "file2" cache, lib/krb5/rcache/rc_file2.c,
 * was the reference; this differs where noted):
 *
 *  - The table has a fixed size chosen at creation and is allocated in
 *    full then, so a store never extends the file and cannot hit ENOSPC
 *    half way through the table.  MIT instead appends ever larger
 *    tables; a fixed table trades unbounded growth for a hard capacity
 *    (HSMSSP_ERR_RCACHE_FULL, which fails closed).
 *  - The table is cut into buckets of B slots (16), and a tag may sit
 *    in either of two buckets chosen by its hash.  A call reads both (two
 *    preads, 1280 bytes), refuses a live copy of the tag anywhere in
 *    them, and only then writes the tag into the first free slot of the
 *    emptier bucket: one pwrite.  Expired slots are free, so there is no
 *    expunge pass and the work per call is bounded by 2 B slots.  The
 *    two choices matter: a single window of 32 slots filled first-free
 *    behaves like linear probing, whose clusters bring the first
 *    RCACHE_FULL near half load; with two buckets of 16 it comes near
 *    87% (docs/rcache.md has the measurements).
 *  - The buckets come from SipHash-2-4 under a random per-file key.  Tags
 *    are SHA-256 outputs, uniform for an honest client, but a client
 *    holding a session key can grind authenticator ciphertexts until
 *    their tags share buckets and then fill them with live entries, so
 *    that other authenticators hashed there fail with RCACHE_FULL.  With
 *    a keyed index it cannot know which tags collide.
 *  - Locking: a mutex per handle orders the threads that share it, and an
 *    open-file-description lock (F_OFD_SETLKW) on the two buckets' byte
 *    ranges orders handles and processes.  OFD locks, unlike classic POSIX
 *    locks, conflict between two descriptors of the same process and are
 *    not dropped when some other descriptor of the file is closed.  They
 *    are shared, though, by every descriptor of one description, which a
 *    fork() duplicates: hence the reopen in the child
 *    (ensure_own_fd_unlocked).
 *    Locking only the buckets lets workers whose tags land in different
 *    buckets proceed in parallel.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "provider/kerberos/kerb_rcache.h"

#define LOG_SUBSYS "kerberos"

/* Header layout (kerb_rcache.h). */
#define HDR_MAGIC "HSMSSPRC"
#define HDR_MAGIC_LEN 8
#define HDR_VERSION 1u
#define OFF_MAGIC 0
#define OFF_VERSION 8
#define OFF_SLOT_LEN 12
#define OFF_SLOTS 16
#define OFF_BUCKET 24
#define OFF_RESERVED1 28
#define OFF_KEY 32
#define OFF_RESERVED2 48
#define OFF_CHECK 56
#define KEY_LEN 16

/* Slot layout. */
#define SLOT_OFF_EXPIRY KERB_RCACHE_TAG_LEN

/* A create/link race can make the file appear and disappear under us
 * only if somebody removes it concurrently; give up after this many
 * rounds rather than loop. */
#define OPEN_ATTEMPTS 4

struct kerb_rcache {
    pthread_mutex_t lock; /* orders the threads sharing this handle */
    int fd;               /* the file, O_RDWR */
    int dirfd;            /* its directory, for the reopen after fork */
    pid_t pid;            /* process whose open made fd */
    dev_t dev;            /* identity of the file, checked on reopen */
    ino_t ino;
    char *path; /* for error details */
    char *base; /* last path component, relative to dirfd */
    uint64_t nslots;
    uint32_t bucket; /* slots per bucket; nslots is a multiple */
    uint8_t key[KEY_LEN];
    /* I/O of the last check_store (under lock), for tests and tooling. */
    size_t last_read_bytes;
    size_t last_write_bytes;
    unsigned last_read_calls;
};

/* ---- byte order and SipHash -------------------------------------- */

static uint64_t
load_be64(const uint8_t *p)
{
    return ((uint64_t)base_load_be32(p) << 32) | base_load_be32(p + 4);
}

static void
store_be64(uint8_t *p, uint64_t v)
{
    base_store_be32(p, (uint32_t)(v >> 32));
    base_store_be32(p + 4, (uint32_t)v);
}

static uint64_t
load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t
rotl64(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

/* One SipRound (SipHash paper, sec. 2). */
static inline void
sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl64(v[1], 13) ^ v[0];
    v[0] = rotl64(v[0], 32);
    v[2] += v[3];
    v[3] = rotl64(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = rotl64(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = rotl64(v[1], 17) ^ v[2];
    v[2] = rotl64(v[2], 32);
}

static inline void
sip_compress(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sipround(v);
    sipround(v);
    v[0] ^= m;
}

/* SipHash-2-4: words are read little-endian; the last block carries the
 * message length (mod 256) in its top byte above the 0-7 leftover bytes;
 * finalisation xors 0xff into v2 and runs four rounds. */
uint64_t
kerb_rcache_siphash24(const uint8_t key[16], const void *msg, size_t len)
{
    const uint8_t *p = msg;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                     k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    size_t whole = len & ~(size_t)7;

    for (size_t i = 0; i < whole; i += 8)
        sip_compress(v, load_le64(p + i));
    for (size_t i = 0; i < (len & 7); i++)
        last |= (uint64_t)p[whole + i] << (8 * i);
    sip_compress(v, last);
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The header check: SipHash under an all-zero key.  It detects a torn or
 * hand-edited header, not an attacker (who would need write access to a
 * 0600 file, and could then do anything). */
static uint64_t
header_check(const uint8_t hdr[KERB_RCACHE_HEADER_LEN])
{
    static const uint8_t zero_key[KEY_LEN];
    return kerb_rcache_siphash24(zero_key, hdr, OFF_CHECK);
}

static off_t
slot_offset(uint64_t i)
{
    return (off_t)(KERB_RCACHE_HEADER_LEN + i * KERB_RCACHE_SLOT_LEN);
}

static off_t
file_size_for(uint64_t nslots)
{
    return slot_offset(nslots);
}

/* ---- file I/O ---------------------------------------------------- */

/* Reads exactly n bytes at off.  A short count means the file is shorter
 * than its header says (truncated while open): an I/O failure, never
 * "empty slots". */
static hsmssp_err
pread_full(const kerb_rcache *rc, void *buf, size_t n, off_t off)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r =
            pread(rc->fd, (uint8_t *)buf + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                            "cannot read replay cache %s: %s", rc->path,
                            strerror(errno));
        if (r == 0)
            return BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                            "replay cache %s was truncated (short read at "
                            "offset %lld); stop the services using it, "
                            "remove it and restart them",
                            rc->path, (long long)(off + (off_t)done));
        done += (size_t)r;
    }
    return HSMSSP_OK;
}

/* Writes exactly n bytes at off.  EIO, ENOSPC, EFBIG (RLIMIT_FSIZE) and
 * a zero-length write all fail closed. */
static hsmssp_err
pwrite_full(int fd, const char *path, const void *buf, size_t n, off_t off)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = pwrite(fd, (const uint8_t *)buf + done, n - done,
                           off + (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                            "cannot write replay cache %s: %s", path,
                            w < 0 ? strerror(errno) : "short write");
        done += (size_t)w;
    }
    return HSMSSP_OK;
}

/* Takes an OFD lock of type (F_RDLCK/F_WRLCK) on [off, off + len),
 * waiting for it.  l_pid must be 0 for OFD locks. */
static hsmssp_err
lock_range(const kerb_rcache *rc, short type, off_t off, off_t len)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = off;
    fl.l_len = len;
    while (fcntl(rc->fd, F_OFD_SETLKW, &fl) != 0) {
        if (errno == EINTR)
            continue;
        return BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                        "cannot lock replay cache %s: %s", rc->path,
                        strerror(errno));
    }
    return HSMSSP_OK;
}

/* Drops every lock this handle's description holds (one call whatever
 * ranges were taken).  A failure here would leave other processes
 * blocked, so it is logged; it cannot be reported to a caller whose
 * answer is already decided, and the kernel drops the lock at close. */
static void
unlock_all(const kerb_rcache *rc)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    while (fcntl(rc->fd, F_OFD_SETLK, &fl) != 0) {
        if (errno == EINTR)
            continue;
        base_log(HSMSSP_LOG_ERROR, LOG_SUBSYS,
                 "cannot unlock replay cache %s: errno %d", rc->path, errno);
        break;
    }
}

/* ---- opening ----------------------------------------------------- */

/* The ownership rule for the file and its directory: owned by the
 * effective uid and writable by nobody else.  Readable is fine: nothing
 * in the file is secret.  Another uid or a group-writable mode would let
 * someone else erase entries (replays pass) or fill buckets (denial of
 * service). */
static hsmssp_err
check_owner_mode(const struct stat *st, const char *what, const char *path)
{
    if (st->st_uid != geteuid())
        return BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                        "replay cache %s %s is owned by uid %u, not by the "
                        "service's uid %u",
                        what, path, (unsigned)st->st_uid, (unsigned)geteuid());
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                        "replay cache %s %s has mode %03o, writable by "
                        "group or others; chmod go-w it",
                        what, path, (unsigned)(st->st_mode & 0777));
    return HSMSSP_OK;
}

/* Splits path into a malloc'ed directory ("." when path has no slash)
 * and a malloc'ed last component. */
static hsmssp_err
split_path(const char *path, char **dir_out, char **base_out)
{
    hsmssp_err ret;
    const char *slash = strrchr(path, '/');
    char *dir = NULL, *base = NULL;

    *dir_out = NULL;
    *base_out = NULL;
    if (slash == NULL) {
        dir = strdup(".");
        base = strdup(path);
    } else {
        /* "/rc" lives in "/". */
        size_t dlen = slash == path ? 1 : (size_t)(slash - path);
        dir = strndup(path, dlen);
        base = strdup(slash + 1);
    }
    if (dir == NULL || base == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "replay cache path %s does not name a file", path);
        goto cleanup;
    }
    *dir_out = dir;
    *base_out = base;
    dir = base = NULL;
    ret = HSMSSP_OK;

cleanup:
    free(dir);
    free(base);
    return ret;
}

/* Opens the directory, creating it 0700 when missing, and checks its
 * owner and mode on the open descriptor: the file is then opened
 * relative to that descriptor, so a directory swapped after the check
 * is not the one used. */
static hsmssp_err
open_dir(const char *dir, int *dirfd_out)
{
    hsmssp_err ret;
    struct stat st;
    int dfd = -1;

    *dirfd_out = -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        ret = BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                       "cannot create replay cache directory %s: %s", dir,
                       strerror(errno));
        goto cleanup;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        ret = BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                       "cannot open replay cache directory %s: %s", dir,
                       strerror(errno));
        goto cleanup;
    }
    if (fstat(dfd, &st) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_RCACHE_IO, "cannot stat %s: %s", dir,
                       strerror(errno));
        goto cleanup;
    }
    ret = check_owner_mode(&st, "directory", dir);
    if (ret != HSMSSP_OK)
        goto cleanup;
    *dirfd_out = dfd;
    dfd = -1;

cleanup:
    if (dfd >= 0)
        close(dfd);
    return ret;
}

static hsmssp_err
fill_random(uint8_t *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = getrandom(buf + done, n - done, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return BASE_ERR(HSMSSP_ERR_RANDOM, "getrandom: %s",
                            r < 0 ? strerror(errno) : "no bytes");
        done += (size_t)r;
    }
    return HSMSSP_OK;
}

/* Encodes a version-1 header for nslots slots in buckets of bucket,
 * with a fresh hash key. */
static hsmssp_err
make_header(uint64_t nslots, uint32_t bucket,
            uint8_t hdr[KERB_RCACHE_HEADER_LEN])
{
    hsmssp_err ret;

    memset(hdr, 0, KERB_RCACHE_HEADER_LEN);
    memcpy(hdr + OFF_MAGIC, HDR_MAGIC, HDR_MAGIC_LEN);
    base_store_be32(hdr + OFF_VERSION, HDR_VERSION);
    base_store_be32(hdr + OFF_SLOT_LEN, KERB_RCACHE_SLOT_LEN);
    store_be64(hdr + OFF_SLOTS, nslots);
    base_store_be32(hdr + OFF_BUCKET, bucket);
    ret = fill_random(hdr + OFF_KEY, KEY_LEN);
    if (ret != HSMSSP_OK)
        return ret;
    store_be64(hdr + OFF_CHECK, header_check(hdr));
    return HSMSSP_OK;
}

/* The geometry of a new table for max_entries: buckets of
 * KERB_RCACHE_BUCKET slots (the whole table when it is smaller), the slot
 * count rounded down to whole buckets so that max_entries stays a bound. */
static void
geometry(uint64_t max_entries, uint64_t *nslots_out, uint32_t *bucket_out)
{
    uint32_t bucket = max_entries < KERB_RCACHE_BUCKET ? (uint32_t)max_entries
                                                       : KERB_RCACHE_BUCKET;

    *bucket_out = bucket;
    *nslots_out = max_entries / bucket * bucket;
}

/* Creates the file atomically: a temporary name in the same directory
 * (O_EXCL, 0600), allocated in full (posix_fallocate: every later store
 * writes inside allocated blocks, so ENOSPC cannot strike mid-table),
 * header written and fsync'ed, then link()ed to its name.  link() fails
 * with EEXIST when another process won the race, which is fine: both
 * then open the winner's file.  Either way the temporary name is
 * removed.  Unlike rename(), link() never replaces an existing cache. */
static hsmssp_err
create_file(int dirfd, const char *dir, const char *base, uint64_t max_entries)
{
    hsmssp_err ret;
    uint8_t hdr[KERB_RCACHE_HEADER_LEN], rnd[6];
    char *tmp = NULL;
    size_t tlen;
    uint64_t nslots;
    uint32_t bucket;
    int fd = -1, e;
    bool tmp_made = false;

    geometry(max_entries, &nslots, &bucket);

    ret = fill_random(rnd, sizeof(rnd));
    if (ret != HSMSSP_OK)
        goto cleanup;
    tlen = strlen(base) + 32;
    tmp = malloc(tlen);
    if (tmp == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    snprintf(tmp, tlen, ".%s.tmp%02x%02x%02x%02x%02x%02x", base, rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0600);
    if (fd < 0) {
        ret = BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                       "cannot create replay cache in %s: %s", dir,
                       strerror(errno));
        goto cleanup;
    }
    tmp_made = true;
    /* The umask may have narrowed 0600; make it exactly that. */
    if (fchmod(fd, 0600) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                       "cannot chmod new replay cache in %s: %s", dir,
                       strerror(errno));
        goto cleanup;
    }
    /* posix_fallocate returns the error instead of setting errno. */
    e = posix_fallocate(fd, 0, file_size_for(nslots));
    if (e != 0) {
        ret =
            BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                     "cannot allocate %lld bytes for replay cache %s/%s: "
                     "%s",
                     (long long)file_size_for(nslots), dir, base, strerror(e));
        goto cleanup;
    }
    ret = make_header(nslots, bucket, hdr);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = pwrite_full(fd, dir, hdr, sizeof(hdr), 0);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* Creation is rare, so it pays for durability: a cache that appears
     * after a power loss is complete, never a zero header that would
     * then read as corrupted. */
    if (fsync(fd) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                       "cannot sync new replay cache in %s: %s", dir,
                       strerror(errno));
        goto cleanup;
    }
    if (linkat(dirfd, tmp, dirfd, base, 0) != 0) {
        if (errno != EEXIST) {
            ret = BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                           "cannot link replay cache %s/%s: %s", dir, base,
                           strerror(errno));
            goto cleanup;
        }
    } else {
        /* Some filesystems refuse fsync on a directory; the link is then
         * as durable as they make it. */
        (void)fsync(dirfd);
        base_log(HSMSSP_LOG_INFO, LOG_SUBSYS,
                 "created replay cache %s/%s with %llu slots", dir, base,
                 (unsigned long long)nslots);
    }
    ret = HSMSSP_OK;

cleanup:
    if (tmp_made)
        (void)unlinkat(dirfd, tmp, 0);
    if (fd >= 0)
        close(fd);
    free(tmp);
    return ret;
}

/* The one message for every kind of corruption: what is wrong, and what
 * the operator does about it.  The cache is never reset silently:
 * resetting forgets the authenticators of the last skew interval, which
 * is the operator's decision. */
static hsmssp_err
corrupted(const char *path, const char *what)
{
    return BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                    "replay cache %s is corrupted (%s); stop the services "
                    "that use it, remove the file and restart them",
                    path, what);
}

/* Reads and validates the header of the open file (size st_size) into
 * rc's geometry and key. */
static hsmssp_err
read_header(kerb_rcache *rc, off_t st_size)
{
    hsmssp_err ret;
    uint8_t hdr[KERB_RCACHE_HEADER_LEN];
    uint64_t nslots;
    uint32_t bucket;

    if (st_size < KERB_RCACHE_HEADER_LEN)
        return corrupted(rc->path, "shorter than its header");
    ret = pread_full(rc, hdr, sizeof(hdr), 0);
    if (ret != HSMSSP_OK)
        return ret;
    if (memcmp(hdr + OFF_MAGIC, HDR_MAGIC, HDR_MAGIC_LEN) != 0)
        return corrupted(rc->path, "bad magic");
    if (base_load_be32(hdr + OFF_VERSION) != HDR_VERSION)
        return corrupted(rc->path, "unknown format version");
    if (load_be64(hdr + OFF_CHECK) != header_check(hdr))
        return corrupted(rc->path, "header check mismatch");
    nslots = load_be64(hdr + OFF_SLOTS);
    bucket = base_load_be32(hdr + OFF_BUCKET);
    if (base_load_be32(hdr + OFF_SLOT_LEN) != KERB_RCACHE_SLOT_LEN ||
        base_load_be32(hdr + OFF_RESERVED1) != 0 ||
        load_be64(hdr + OFF_RESERVED2) != 0)
        return corrupted(rc->path, "bad slot length or reserved field");
    if (nslots == 0 || nslots > KERB_RCACHE_MAX_SLOTS || bucket == 0 ||
        bucket > KERB_RCACHE_BUCKET || nslots % bucket != 0)
        return corrupted(rc->path, "bad slot count or bucket size");
    if (st_size != file_size_for(nslots))
        return corrupted(rc->path, "size does not match the slot count");
    rc->nslots = nslots;
    rc->bucket = bucket;
    memcpy(rc->key, hdr + OFF_KEY, KEY_LEN);
    return HSMSSP_OK;
}

/* Opens base under dirfd, creating it when missing.  Returns the
 * descriptor and its stat. */
static hsmssp_err
open_or_create(int dirfd, const char *dir, const char *base, const char *path,
               uint64_t max_entries, int *fd_out, struct stat *st_out)
{
    hsmssp_err ret = HSMSSP_OK;
    int fd = -1, e = 0;

    *fd_out = -1;
    for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
        /* O_NONBLOCK: a FIFO planted at the path must not block us
         * (it is refused below as not a regular file).  O_NOFOLLOW: a
         * symbolic link is refused (ELOOP). */
        fd = openat(dirfd, base,
                    O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        e = errno;
        if (fd >= 0 || e != ENOENT)
            break;
        ret = create_file(dirfd, dir, base, max_entries);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    if (fd < 0) {
        ret =
            BASE_ERR(HSMSSP_ERR_RCACHE_IO, "cannot open replay cache %s: %s",
                     path, e == ELOOP ? "it is a symbolic link" : strerror(e));
        goto cleanup;
    }
    if (fstat(fd, st_out) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_RCACHE_IO, "cannot stat %s: %s", path,
                       strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st_out->st_mode)) {
        ret =
            BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                     "replay cache %s is not a regular file; remove it", path);
        goto cleanup;
    }
    ret = check_owner_mode(st_out, "file", path);
    if (ret != HSMSSP_OK)
        goto cleanup;
    *fd_out = fd;
    fd = -1;

cleanup:
    if (fd >= 0)
        close(fd);
    return ret;
}

hsmssp_err
kerb_rcache_open(const char *path, size_t max_entries, kerb_rcache **rc_out)
{
    hsmssp_err ret;
    kerb_rcache *rc = NULL;
    char *dir = NULL;
    struct stat st;
    bool mutex_made = false;

    if (rc_out != NULL)
        *rc_out = NULL;
    if (path == NULL || *path == '\0' || rc_out == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "kerb_rcache_open: path and rc_out are required");
        goto cleanup;
    }
    if (max_entries == 0)
        max_entries = KERB_RCACHE_DEFAULT_SLOTS;
    if (max_entries > KERB_RCACHE_MAX_SLOTS) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "replay cache size %zu exceeds %u slots", max_entries,
                       KERB_RCACHE_MAX_SLOTS);
        goto cleanup;
    }
    rc = calloc(1, sizeof(*rc));
    if (rc == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    rc->fd = rc->dirfd = -1;
    if (pthread_mutex_init(&rc->lock, NULL) != 0) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    mutex_made = true;
    rc->path = strdup(path);
    if (rc->path == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    ret = split_path(path, &dir, &rc->base);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = open_dir(dir, &rc->dirfd);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = open_or_create(rc->dirfd, dir, rc->base, path, max_entries, &rc->fd,
                         &st);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* The header never changes after creation, so it is read unlocked. */
    ret = read_header(rc, st.st_size);
    if (ret != HSMSSP_OK)
        goto cleanup;
    rc->pid = getpid();
    rc->dev = st.st_dev;
    rc->ino = st.st_ino;
    *rc_out = rc;
    rc = NULL;
    mutex_made = false;

cleanup:
    if (rc != NULL) {
        if (mutex_made)
            pthread_mutex_destroy(&rc->lock);
        if (rc->fd >= 0)
            close(rc->fd);
        if (rc->dirfd >= 0)
            close(rc->dirfd);
        free(rc->path);
        free(rc->base);
        free(rc);
    }
    free(dir);
    return ret;
}

void
kerb_rcache_close(kerb_rcache *rc)
{
    if (rc == NULL)
        return;
    /* Closing the description releases any lock it still holds. */
    if (rc->fd >= 0)
        close(rc->fd);
    if (rc->dirfd >= 0)
        close(rc->dirfd);
    pthread_mutex_destroy(&rc->lock);
    free(rc->path);
    free(rc->base);
    /* The hash key is not a secret of the protocol, but it is what keeps
     * buckets from being aimed at: do not leave it in freed heap. */
    base_memzero(rc, sizeof(*rc));
    free(rc);
}

/* ---- the check ---------------------------------------------------- */

/* After fork() the child's fd shares the parent's open file description,
 * and OFD locks taken through one description do not exclude each other:
 * parent and children would all "hold" the same lock.  So the first call
 * in a new process opens the file again (a new description) and checks
 * that the name still leads to the same file.  Caller holds rc->lock. */
static hsmssp_err
ensure_own_fd_unlocked(kerb_rcache *rc)
{
    hsmssp_err ret;
    struct stat st;
    pid_t me = getpid();
    int fd;

    if (rc->pid == me)
        return HSMSSP_OK;
    fd = openat(rc->dirfd, rc->base,
                O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                        "cannot reopen replay cache %s after fork: %s",
                        rc->path, strerror(errno));
    if (fstat(fd, &st) != 0 || st.st_dev != rc->dev || st.st_ino != rc->ino) {
        ret = BASE_ERR(HSMSSP_ERR_RCACHE_IO,
                       "replay cache %s was replaced since it was opened; "
                       "restart the service",
                       rc->path);
        close(fd);
        return ret;
    }
    /* Closing the inherited descriptor does not touch the parent's locks:
     * the parent still holds a reference to that description. */
    close(rc->fd);
    rc->fd = fd;
    rc->pid = me;
    return HSMSSP_OK;
}

hsmssp_err
kerb_rcache_check_store(kerb_rcache *rc,
                        const uint8_t tag[KERB_RCACHE_TAG_LEN], int64_t now,
                        int64_t expires)
{
    hsmssp_err ret;
    uint8_t win[2 * KERB_RCACHE_BUCKET * KERB_RCACHE_SLOT_LEN];
    uint8_t slot[KERB_RCACHE_SLOT_LEN];
    uint64_t h, nbuckets, bk[2];
    uint32_t nfree[2] = {0, 0}, first_free[2] = {0, 0};
    unsigned nb, pick;
    size_t blen;
    bool locked = false;

    if (rc == NULL || tag == NULL || now < 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kerb_rcache_check_store: rc, tag and now >= 0 are "
                        "required");
    pthread_mutex_lock(&rc->lock);
    rc->last_read_bytes = rc->last_write_bytes = 0;
    rc->last_read_calls = 0;
    ret = ensure_own_fd_unlocked(rc);
    if (ret != HSMSSP_OK)
        goto cleanup;

    /* The tag's two buckets, from the two halves of one keyed hash (at
     * most 2^20 buckets, so 32 bits each leave no visible bias).  They
     * are handled in ascending file order: locks taken that way cannot
     * deadlock against another process's pair, and OFD locks have no
     * deadlock detection. */
    h = kerb_rcache_siphash24(rc->key, tag, KERB_RCACHE_TAG_LEN);
    nbuckets = rc->nslots / rc->bucket;
    bk[0] = (uint32_t)h % nbuckets;
    bk[1] = (h >> 32) % nbuckets;
    if (bk[1] < bk[0]) {
        uint64_t t = bk[0];
        bk[0] = bk[1];
        bk[1] = t;
    }
    nb = bk[0] == bk[1] ? 1 : 2;
    blen = (size_t)rc->bucket * KERB_RCACHE_SLOT_LEN;
    for (unsigned k = 0; k < nb; k++) {
        ret = lock_range(rc, F_WRLCK, slot_offset(bk[k] * rc->bucket),
                         (off_t)blen);
        if (ret != HSMSSP_OK)
            goto cleanup;
        locked = true;
    }
    for (unsigned k = 0; k < nb; k++) {
        ret = pread_full(rc, win + k * blen, blen,
                         slot_offset(bk[k] * rc->bucket));
        if (ret != HSMSSP_OK)
            goto cleanup;
        rc->last_read_calls++;
        rc->last_read_bytes += blen;
    }

    /* Both buckets are checked in full before anything is written: slots
     * are never deleted, only outlived, so a live copy of the tag may sit
     * after a free slot, and in either bucket.  Tags are public hashes,
     * but the project compares anything MAC-shaped in constant time, so
     * the hygiene check stays simple. */
    for (unsigned k = 0; k < nb; k++) {
        for (uint32_t i = 0; i < rc->bucket; i++) {
            const uint8_t *s = win + k * blen + i * KERB_RCACHE_SLOT_LEN;
            int64_t exp = (int64_t)load_be64(s + SLOT_OFF_EXPIRY);

            if (exp > now) {
                if (base_ct_equal(s, tag, KERB_RCACHE_TAG_LEN)) {
                    ret = BASE_ERR0(HSMSSP_ERR_REPLAY);
                    goto cleanup;
                }
            } else {
                /* An empty slot reads as expiry 0 <= now: free too. */
                if (nfree[k]++ == 0)
                    first_free[k] = i;
            }
        }
    }
    if (expires <= now) {
        /* Already expired: storing it would change nothing. */
        ret = HSMSSP_OK;
        goto cleanup;
    }
    /* The power of two choices: the emptier bucket takes the entry.
     * Compared with one window of the same 32 slots filled first-free
     * (linear probing, whose runs cluster), this keeps RCACHE_FULL away
     * until a far higher load (docs/rcache.md). */
    pick = (nb == 2 && nfree[1] > nfree[0]) ? 1 : 0;
    if (nfree[pick] == 0) {
        ret = BASE_ERR(HSMSSP_ERR_RCACHE_FULL,
                       "replay cache %s: both buckets of this entry (%u "
                       "slots each) hold live entries; make the cache "
                       "larger",
                       rc->path, (unsigned)rc->bucket);
        goto cleanup;
    }
    memcpy(slot, tag, KERB_RCACHE_TAG_LEN);
    store_be64(slot + SLOT_OFF_EXPIRY, (uint64_t)expires);
    /* No fsync: see the header (durability).  A failed or short write
     * leaves at worst one slot with a mixed tag/expiry, which can only
     * cost a slot until its expiry, and the caller rejects this
     * authentication. */
    ret = pwrite_full(rc->fd, rc->path, slot, sizeof(slot),
                      slot_offset(bk[pick] * rc->bucket + first_free[pick]));
    if (ret != HSMSSP_OK)
        goto cleanup;
    rc->last_write_bytes = sizeof(slot);
    ret = HSMSSP_OK;

cleanup:
    if (locked)
        unlock_all(rc);
    pthread_mutex_unlock(&rc->lock);
    return ret;
}

/* ---- tooling ------------------------------------------------------ */

hsmssp_err
kerb_rcache_stats(kerb_rcache *rc, int64_t now, size_t *live_out,
                  size_t *slots_out)
{
    enum { CHUNK_SLOTS = 4096 };
    hsmssp_err ret;
    uint8_t *buf = NULL;
    size_t live = 0;
    bool locked = false;

    if (live_out != NULL)
        *live_out = 0;
    if (slots_out != NULL)
        *slots_out = 0;
    if (rc == NULL || live_out == NULL || slots_out == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kerb_rcache_stats: rc and outputs are required");
    pthread_mutex_lock(&rc->lock);
    ret = ensure_own_fd_unlocked(rc);
    if (ret != HSMSSP_OK)
        goto cleanup;
    buf = malloc((size_t)CHUNK_SLOTS * KERB_RCACHE_SLOT_LEN);
    if (buf == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    /* A shared lock on the whole table: a consistent count, and stores
     * wait for the scan (about a millisecond per 65536 slots). */
    ret = lock_range(rc, F_RDLCK, slot_offset(0),
                     (off_t)(rc->nslots * KERB_RCACHE_SLOT_LEN));
    if (ret != HSMSSP_OK)
        goto cleanup;
    locked = true;
    for (uint64_t i = 0; i < rc->nslots; i += CHUNK_SLOTS) {
        uint64_t n =
            rc->nslots - i < CHUNK_SLOTS ? rc->nslots - i : CHUNK_SLOTS;
        ret = pread_full(rc, buf, n * KERB_RCACHE_SLOT_LEN, slot_offset(i));
        if (ret != HSMSSP_OK)
            goto cleanup;
        for (uint64_t j = 0; j < n; j++) {
            const uint8_t *s = buf + j * KERB_RCACHE_SLOT_LEN;
            if ((int64_t)load_be64(s + SLOT_OFF_EXPIRY) > now)
                live++;
        }
    }
    *live_out = live;
    *slots_out = rc->nslots;
    ret = HSMSSP_OK;

cleanup:
    if (locked)
        unlock_all(rc);
    pthread_mutex_unlock(&rc->lock);
    free(buf);
    return ret;
}

hsmssp_err
kerb_rcache_get_info(kerb_rcache *rc, kerb_rcache_info *info_out)
{
    if (info_out != NULL)
        memset(info_out, 0, sizeof(*info_out));
    if (rc == NULL || info_out == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kerb_rcache_get_info: rc and info_out are required");
    pthread_mutex_lock(&rc->lock);
    info_out->slots = rc->nslots;
    info_out->bucket = rc->bucket;
    info_out->last_read_bytes = rc->last_read_bytes;
    info_out->last_write_bytes = rc->last_write_bytes;
    info_out->last_read_calls = rc->last_read_calls;
    pthread_mutex_unlock(&rc->lock);
    return HSMSSP_OK;
}
