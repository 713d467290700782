/*
 * tests/unit/provider/test_rcache.c - the Kerberos acceptor's replay
 * cache (provider/kerberos/kerb_rcache.c): replay and expiry, persistence
 * across a restart, exclusion between processes (own and inherited
 * handles) and threads, a full table, the probe bound, permissions, and
 * failing closed on corrupted files and I/O errors.  Tests run as root in
 * CI, which bypasses permission bits, so I/O errors are forced by means
 * that hold for root too: a directory, FIFO or symbolic link at the path,
 * RLIMIT_FSIZE, truncation.
 *
 * Each test works in its own directory, mkdtemp'ed under
 * $HSMSSP_TEST_WORK (or /tmp), removed afterwards.  Child processes
 * report through their exit status (never cmocka asserts, which would
 * run the rest of the suite in the child).
 *
 * With HSMSSP_RCACHE_BENCH set, main() also prints the cost of a
 * check_store call (never asserted).
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "provider/kerberos/kerb_rcache.h"

#define NOW 1700000000LL
#define SKEW 300LL
#define SLOT KERB_RCACHE_SLOT_LEN
#define HDR KERB_RCACHE_HEADER_LEN

/* ---- fixture and helpers ------------------------------------------ */

typedef struct tdir {
    char root[512]; /* the mkdtemp'ed directory */
    char path[600]; /* root/c/rc: the cache, in a directory open() makes */
} tdir;

static int
setup_dir(void **state)
{
    const char *env = getenv("HSMSSP_TEST_WORK");
    const char *base = (env != NULL && *env != '\0') ? tu_work_dir() : "/tmp";
    tdir *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return -1;
    snprintf(d->root, sizeof(d->root), "%s/rcache-XXXXXX", base);
    if (mkdtemp(d->root) == NULL) {
        free(d);
        return -1;
    }
    snprintf(d->path, sizeof(d->path), "%s/c/rc", d->root);
    *state = d;
    return 0;
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static int
teardown_dir(void **state)
{
    tdir *d = *state;

    /* Undo any chmod a test made, so that removal works as non-root. */
    nftw(d->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
    return 0;
}

/* A tag as the acceptor makes them: SHA-256 of something unique. */
static void
make_tag(uint8_t tag[KERB_RCACHE_TAG_LEN], uint64_t n)
{
    uint8_t in[16] = "rcache-test";

    memcpy(in + 8, &n, sizeof(n));
    SHA256(in, sizeof(in), tag);
}

/* The file's header, read directly: the format is the contract. */
typedef struct raw_hdr {
    uint64_t slots;
    uint32_t bucket;
    uint8_t key[16];
} raw_hdr;

static uint64_t
be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t
be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

static void
read_at(const char *path, off_t off, void *buf, size_t n)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, n, off), (ssize_t)n);
    close(fd);
}

static void
write_at(const char *path, off_t off, const void *buf, size_t n)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, n, off), (ssize_t)n);
    close(fd);
}

static void
read_hdr(const char *path, raw_hdr *h)
{
    uint8_t b[HDR];
    static const uint8_t zero[16];

    read_at(path, 0, b, sizeof(b));
    assert_memory_equal(b, "HSMSSPRC", 8);
    assert_int_equal(be32(b + 8), 1);
    assert_int_equal(be32(b + 12), SLOT);
    /* The header check is SipHash-2-4 with an all-zero key. */
    assert_true(be64(b + 56) == kerb_rcache_siphash24(zero, b, 56));
    h->slots = be64(b + 16);
    h->bucket = be32(b + 24);
    memcpy(h->key, b + 32, 16);
}

/* The two buckets a tag hashes to, from the file's own key (format in
 * kerb_rcache.h). */
static void
tag_buckets(const raw_hdr *h, const uint8_t *tag, uint64_t b[2])
{
    uint64_t x = kerb_rcache_siphash24(h->key, tag, KERB_RCACHE_TAG_LEN);
    uint64_t nb = h->slots / h->bucket;

    b[0] = (x & 0xffffffffu) % nb;
    b[1] = (x >> 32) % nb;
}

static bool
same_pair(const uint64_t a[2], const uint64_t b[2])
{
    return (a[0] == b[0] && a[1] == b[1]) || (a[0] == b[1] && a[1] == b[0]);
}

/* Where the tag sits in the file: its slot index, or -1. */
static int64_t
find_tag(const char *path, const raw_hdr *h, const uint8_t *tag,
         int64_t *expiry_out)
{
    uint64_t b[2];
    uint8_t s[SLOT];

    tag_buckets(h, tag, b);
    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < h->bucket; i++) {
            uint64_t idx = b[k] * h->bucket + i;
            read_at(path, HDR + (off_t)idx * SLOT, s, SLOT);
            if (memcmp(s, tag, KERB_RCACHE_TAG_LEN) == 0) {
                *expiry_out = (int64_t)be64(s + KERB_RCACHE_TAG_LEN);
                return (int64_t)idx;
            }
        }
    }
    return -1;
}

/* Writes a slot directly: a live entry of a made-up tag. */
static void
put_slot(const char *path, uint64_t idx, uint64_t n, int64_t expiry)
{
    uint8_t s[SLOT];

    make_tag(s, n);
    for (int i = 0; i < 8; i++)
        s[KERB_RCACHE_TAG_LEN + i] =
            (uint8_t)((uint64_t)expiry >> (56 - 8 * i));
    write_at(path, HDR + (off_t)idx * SLOT, s, SLOT);
}

static hsmssp_err
cs(kerb_rcache *rc, uint64_t n, int64_t now, int64_t expires)
{
    uint8_t tag[KERB_RCACHE_TAG_LEN];
    make_tag(tag, n);
    return kerb_rcache_check_store(rc, tag, now, expires);
}

static size_t
live_at(kerb_rcache *rc, int64_t now)
{
    size_t live = 0, slots = 0;
    TU_OK(kerb_rcache_stats(rc, now, &live, &slots));
    return live;
}

/* Waits for a child and returns its exit status (-1 when it did not exit
 * normally). */
static int
child_status(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        assert_int_equal(errno, EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
expect_detail(const char *needle)
{
    const char *d = hsmssp_last_error_detail();
    if (strstr(d, needle) == NULL)
        fail_msg("detail \"%s\" lacks \"%s\"", d, needle);
}

/* ---- SipHash ------------------------------------------------------ */

/* The paper's appendix vector, then OpenSSL's SIPHASH MAC as an oracle
 * over every length 0..64 (it returns the 64-bit result little-endian). */
static void
test_siphash(void **state)
{
    uint8_t key[16], msg[64], mac[8];
    EVP_MAC *m = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    size_t outlen = 8;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen),
        OSSL_PARAM_construct_end()};

    (void)state;
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    assert_true(kerb_rcache_siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
    assert_non_null(m);
    for (size_t len = 0; len <= sizeof(msg); len++) {
        EVP_MAC_CTX *c = EVP_MAC_CTX_new(m);
        size_t got = 0;
        uint64_t want = 0;

        tu_fill(key, sizeof(key), (uint32_t)len);
        tu_fill(msg, sizeof(msg), (uint32_t)len + 1000);
        assert_non_null(c);
        assert_int_equal(EVP_MAC_init(c, key, sizeof(key), params), 1);
        assert_int_equal(EVP_MAC_update(c, msg, len), 1);
        assert_int_equal(EVP_MAC_final(c, mac, &got, sizeof(mac)), 1);
        assert_int_equal(got, 8);
        for (int i = 7; i >= 0; i--)
            want = (want << 8) | mac[i];
        assert_true(kerb_rcache_siphash24(key, msg, len) == want);
        EVP_MAC_CTX_free(c);
    }
    EVP_MAC_free(m);
}

/* ---- opening ------------------------------------------------------ */

static void
test_open_creates(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = (kerb_rcache *)&rc;
    kerb_rcache_info info;
    struct stat st;
    char dir[600], path2[700];
    raw_hdr h;

    /* Arguments. */
    TU_ERR(kerb_rcache_open(NULL, 0, &rc), HSMSSP_ERR_INVALID_ARGUMENT);
    assert_null(rc);
    TU_ERR(kerb_rcache_open(d->path, 0, NULL), HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_rcache_open(d->path, (size_t)KERB_RCACHE_MAX_SLOTS + 1, &rc),
           HSMSSP_ERR_INVALID_ARGUMENT);
    snprintf(path2, sizeof(path2), "%s/", d->root);
    TU_ERR(kerb_rcache_open(path2, 0, &rc), HSMSSP_ERR_INVALID_ARGUMENT);

    /* A fresh cache: the directory 0700, the file 0600, fully sized. */
    TU_OK(kerb_rcache_open(d->path, 100, &rc));
    snprintf(dir, sizeof(dir), "%s/c", d->root);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(stat(d->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* 100 slots asked: 6 whole buckets of 16. */
    assert_int_equal(st.st_size, HDR + 96 * SLOT);
    TU_OK(kerb_rcache_get_info(rc, &info));
    assert_int_equal(info.slots, 96);
    assert_int_equal(info.bucket, KERB_RCACHE_BUCKET);
    read_hdr(d->path, &h);
    assert_int_equal(h.slots, 96);
    assert_int_equal(h.bucket, KERB_RCACHE_BUCKET);
    assert_int_equal(live_at(rc, NOW), 0);
    kerb_rcache_close(rc);
    kerb_rcache_close(NULL);

    /* No temporary file is left behind. */
    {
        DIR *dh = opendir(dir);
        struct dirent *e;
        int n = 0;
        assert_non_null(dh);
        while ((e = readdir(dh)) != NULL)
            if (e->d_name[0] != '.' || strlen(e->d_name) > 2)
                n++;
        closedir(dh);
        assert_int_equal(n, 1);
    }

    /* 0 is the default size; a table smaller than a bucket is one
     * bucket. */
    snprintf(path2, sizeof(path2), "%s/c/dflt", d->root);
    TU_OK(kerb_rcache_open(path2, 0, &rc));
    TU_OK(kerb_rcache_get_info(rc, &info));
    assert_int_equal(info.slots, KERB_RCACHE_DEFAULT_SLOTS);
    kerb_rcache_close(rc);
    snprintf(path2, sizeof(path2), "%s/c/tiny", d->root);
    TU_OK(kerb_rcache_open(path2, 5, &rc));
    TU_OK(kerb_rcache_get_info(rc, &info));
    assert_int_equal(info.slots, 5);
    assert_int_equal(info.bucket, 5);
    kerb_rcache_close(rc);

    /* Two handles on one file see one key: the second open reads what the
     * first made, it never re-initialises. */
    {
        kerb_rcache *a = NULL, *b = NULL;
        TU_OK(kerb_rcache_open(d->path, 100, &a));
        TU_OK(kerb_rcache_open(d->path, 100, &b));
        TU_OK(cs(a, 1, NOW, NOW + SKEW));
        TU_ERR(cs(b, 1, NOW, NOW + SKEW), HSMSSP_ERR_REPLAY);
        kerb_rcache_close(a);
        kerb_rcache_close(b);
    }
}

/* ---- replay, expiry, persistence ----------------------------------- */

static void
test_replay_and_expiry(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;
    uint8_t tag[KERB_RCACHE_TAG_LEN];

    TU_OK(kerb_rcache_open(d->path, 1000, &rc));
    make_tag(tag, 7);
    TU_OK(kerb_rcache_check_store(rc, tag, NOW, NOW + SKEW));
    TU_ERR(kerb_rcache_check_store(rc, tag, NOW, NOW + SKEW),
           HSMSSP_ERR_REPLAY);
    /* The replay is refused for as long as the entry lives, whatever
     * expiry the replay claims... */
    TU_ERR(kerb_rcache_check_store(rc, tag, NOW + SKEW - 1, NOW + 10 * SKEW),
           HSMSSP_ERR_REPLAY);
    /* ...and accepted once now reaches the expiry (expiry > now is live),
     * which stores it again with its new expiry. */
    TU_OK(kerb_rcache_check_store(rc, tag, NOW + SKEW, NOW + 2 * SKEW));
    TU_ERR(kerb_rcache_check_store(rc, tag, NOW + 2 * SKEW - 1, NOW),
           HSMSSP_ERR_REPLAY);
    assert_int_equal(live_at(rc, NOW + SKEW), 1);

    /* Other tags are independent. */
    TU_OK(cs(rc, 8, NOW, NOW + SKEW));
    TU_OK(cs(rc, 9, NOW, NOW + SKEW));
    assert_int_equal(live_at(rc, NOW), 3);
    assert_int_equal(live_at(rc, NOW + SKEW), 1);
    assert_int_equal(live_at(rc, NOW + 2 * SKEW), 0);

    /* An entry already expired on arrival is checked but not stored. */
    TU_OK(cs(rc, 10, NOW, NOW));
    TU_OK(cs(rc, 10, NOW, NOW - 5));
    assert_int_equal(live_at(rc, NOW), 3);
    TU_ERR(cs(rc, 8, NOW, NOW - 5), HSMSSP_ERR_REPLAY);

    /* Arguments. */
    TU_ERR(kerb_rcache_check_store(rc, tag, -1, NOW),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_rcache_check_store(rc, NULL, NOW, NOW + 1),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_rcache_check_store(NULL, tag, NOW, NOW + 1),
           HSMSSP_ERR_INVALID_ARGUMENT);
    kerb_rcache_close(rc);
}

/* The tag lands in one of its two buckets, computed independently from
 * the file's own header, with its expiry in big-endian. */
static void
test_format_placement(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;
    raw_hdr h;

    TU_OK(kerb_rcache_open(d->path, 4096, &rc));
    read_hdr(d->path, &h);
    for (uint64_t n = 0; n < 300; n++) {
        uint8_t tag[KERB_RCACHE_TAG_LEN];
        int64_t exp = 0;

        make_tag(tag, n);
        TU_OK(kerb_rcache_check_store(rc, tag, NOW, NOW + (int64_t)n + 1));
        assert_true(find_tag(d->path, &h, tag, &exp) >= 0);
        assert_true(exp == NOW + (int64_t)n + 1);
    }
    kerb_rcache_close(rc);
}

/* A restart (close, reopen) still catches the replay, and a reopen that
 * asks for another size uses the file's own. */
static void
test_persistence(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;
    kerb_rcache_info info;

    TU_OK(kerb_rcache_open(d->path, 512, &rc));
    for (uint64_t n = 0; n < 100; n++)
        TU_OK(cs(rc, n, NOW, NOW + SKEW));
    kerb_rcache_close(rc);
    rc = NULL;

    TU_OK(kerb_rcache_open(d->path, 4096, &rc));
    TU_OK(kerb_rcache_get_info(rc, &info));
    assert_int_equal(info.slots, 512);
    for (uint64_t n = 0; n < 100; n++)
        TU_ERR(cs(rc, n, NOW + 1, NOW + SKEW), HSMSSP_ERR_REPLAY);
    TU_OK(cs(rc, 100, NOW + 1, NOW + SKEW));
    assert_int_equal(live_at(rc, NOW), 101);
    kerb_rcache_close(rc);
}

/* ---- processes ----------------------------------------------------- */

#define NPROC 8
#define ROUNDS 12

/* N children wait on a pipe, then all try the same tag: exactly one gets
 * HSMSSP_OK, every other HSMSSP_ERR_REPLAY.  own: each child opens its
 * own handle after the barrier (round 0 also races the creation of the
 * file); otherwise they use the handle the parent opened before fork(),
 * which makes each child reopen the file (a shared open file description
 * would not exclude them). */
static void
race_same_tag(tdir *d, bool own)
{
    kerb_rcache *parent_rc = NULL;

    if (!own)
        TU_OK(kerb_rcache_open(d->path, 0, &parent_rc));
    for (int round = 0; round < ROUNDS; round++) {
        pid_t pids[NPROC];
        int gate[2], ok = 0, replay = 0;

        assert_int_equal(pipe(gate), 0);
        for (int i = 0; i < NPROC; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                kerb_rcache *rc = parent_rc;
                char c;
                hsmssp_err e;

                close(gate[1]);
                if (read(gate[0], &c, 1) != 0)
                    _exit(100);
                if (own && kerb_rcache_open(d->path, 0, &rc) != HSMSSP_OK)
                    _exit(101);
                e = cs(rc, 5000 + (uint64_t)round, NOW, NOW + SKEW);
                _exit((int)e);
            }
        }
        close(gate[0]);
        close(gate[1]); /* opens the gate for every child at once */
        for (int i = 0; i < NPROC; i++) {
            int st = child_status(pids[i]);
            if (st == HSMSSP_OK)
                ok++;
            else if (st == HSMSSP_ERR_REPLAY)
                replay++;
            else
                fail_msg("child exited with %d", st);
        }
        assert_int_equal(ok, 1);
        assert_int_equal(replay, NPROC - 1);
    }
    if (parent_rc != NULL) {
        /* The parent's own descriptor still works after the children. */
        TU_ERR(cs(parent_rc, 5000, NOW, NOW + SKEW), HSMSSP_ERR_REPLAY);
        kerb_rcache_close(parent_rc);
    }
}

static void
test_procs_same_tag_own(void **state)
{
    race_same_tag(*state, true);
}

static void
test_procs_same_tag_inherited(void **state)
{
    race_same_tag(*state, false);
}

/* The descriptor a handle holds on path, found through /proc/self/fd
 * (the test opens no other descriptor on it meanwhile), or -1. */
static int
fd_of(const char *path)
{
    char want[PATH_MAX], link[300], got[PATH_MAX];
    int found = -1;
    DIR *dh;
    struct dirent *e;

    if (realpath(path, want) == NULL)
        return -1;
    dh = opendir("/proc/self/fd");
    if (dh == NULL)
        return -1;
    while ((e = readdir(dh)) != NULL) {
        ssize_t n;
        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
        n = readlink(link, got, sizeof(got) - 1);
        if (n <= 0)
            continue;
        got[n] = '\0';
        if (strcmp(got, want) == 0)
            found = atoi(e->d_name);
    }
    closedir(dh);
    return found;
}

/* check_store really waits for the record lock.  While the test holds an
 * OFD write lock on the whole file, a fork child's call through the
 * inherited handle does not finish; once the lock is released, it does.
 * The lock is taken twice over: through a descriptor of the test's own,
 * and through the handle's own descriptor, i.e. the open file
 * description the child inherited: the child only waits for that one
 * when it made a description of its own (a shared description never
 * conflicts with itself). */
static void
test_lock_blocks(void **state)
{
    tdir *d = *state;
    struct timespec pause = {0, 200 * 1000 * 1000};

    for (int via_handle = 0; via_handle < 2; via_handle++) {
        kerb_rcache *rc = NULL;
        struct flock fl;
        int fd, st;
        pid_t pid;

        TU_OK(kerb_rcache_open(d->path, 64, &rc));
        if (via_handle) {
            fd = fd_of(d->path);
            if (fd < 0)
                tu_skip("/proc/self/fd is not available");
        } else {
            fd = open(d->path, O_RDWR);
        }
        assert_true(fd >= 0);
        memset(&fl, 0, sizeof(fl));
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit((int)cs(rc, 1 + (uint64_t)via_handle, NOW, NOW + SKEW));
        nanosleep(&pause, NULL);
        assert_int_equal(waitpid(pid, &st, WNOHANG), 0); /* still waits */
        fl.l_type = F_UNLCK;
        assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
        assert_int_equal(child_status(pid), HSMSSP_OK);
        TU_ERR(cs(rc, 1 + (uint64_t)via_handle, NOW, NOW + SKEW),
               HSMSSP_ERR_REPLAY);
        if (!via_handle)
            close(fd);
        kerb_rcache_close(rc);
    }
}

/* ---- threads ------------------------------------------------------- */

#define NTHREAD 8

typedef struct tjob {
    kerb_rcache *rc;
    pthread_barrier_t *bar;
    uint64_t first, count;
    hsmssp_err result; /* the one result (same tag) or the worst */
    int bad;           /* calls that did not return HSMSSP_OK */
} tjob;

static void *
thread_store(void *arg)
{
    tjob *j = arg;

    pthread_barrier_wait(j->bar);
    j->result = HSMSSP_OK;
    for (uint64_t n = j->first; n < j->first + j->count; n++) {
        hsmssp_err e = cs(j->rc, n, NOW, NOW + SKEW);
        if (e != HSMSSP_OK) {
            j->bad++;
            j->result = e;
        }
    }
    return NULL;
}

/* Threads, half sharing one handle and half with handles of their own
 * (separate descriptions in one process), race on one tag per round. */
static void
test_threads_same_tag(void **state)
{
    tdir *d = *state;
    kerb_rcache *shared = NULL, *own[NTHREAD] = {0};

    TU_OK(kerb_rcache_open(d->path, 0, &shared));
    for (int i = 0; i < NTHREAD; i++)
        if (i % 2)
            TU_OK(kerb_rcache_open(d->path, 0, &own[i]));
    for (int round = 0; round < ROUNDS * 4; round++) {
        pthread_t th[NTHREAD];
        tjob jobs[NTHREAD];
        pthread_barrier_t bar;
        int ok = 0, replay = 0;

        pthread_barrier_init(&bar, NULL, NTHREAD);
        for (int i = 0; i < NTHREAD; i++) {
            jobs[i] = (tjob){.rc = own[i] ? own[i] : shared,
                             .bar = &bar,
                             .first = 9000 + (uint64_t)round,
                             .count = 1};
            assert_int_equal(
                pthread_create(&th[i], NULL, thread_store, &jobs[i]), 0);
        }
        for (int i = 0; i < NTHREAD; i++) {
            pthread_join(th[i], NULL);
            if (jobs[i].result == HSMSSP_OK)
                ok++;
            else if (jobs[i].result == HSMSSP_ERR_REPLAY)
                replay++;
        }
        pthread_barrier_destroy(&bar);
        assert_int_equal(ok, 1);
        assert_int_equal(replay, NTHREAD - 1);
    }
    for (int i = 0; i < NTHREAD; i++)
        kerb_rcache_close(own[i]);
    kerb_rcache_close(shared);
}

#define MP_PROCS 4
#define MP_THREADS 4
#define MP_TAGS 250

/* In a child: MP_THREADS threads on one handle store MP_TAGS distinct
 * tags each.  Exit 0 when every call succeeded. */
static int
child_many(const char *path, int proc)
{
    kerb_rcache *rc = NULL;
    pthread_t th[MP_THREADS];
    tjob jobs[MP_THREADS];
    pthread_barrier_t bar;
    int bad = 0;

    if (kerb_rcache_open(path, 0, &rc) != HSMSSP_OK)
        return 101;
    pthread_barrier_init(&bar, NULL, MP_THREADS);
    for (int t = 0; t < MP_THREADS; t++) {
        jobs[t] = (tjob){.rc = rc,
                         .bar = &bar,
                         .first = (uint64_t)(proc * MP_THREADS + t) * MP_TAGS,
                         .count = MP_TAGS};
        if (pthread_create(&th[t], NULL, thread_store, &jobs[t]) != 0)
            return 102;
    }
    for (int t = 0; t < MP_THREADS; t++) {
        pthread_join(th[t], NULL);
        bad += jobs[t].bad;
    }
    kerb_rcache_close(rc);
    return bad == 0 ? 0 : 103;
}

/* Many distinct tags from several processes and threads: all accepted,
 * then all refused as replays, and the table counts exactly them. */
static void
test_procs_threads_distinct(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;
    pid_t pids[MP_PROCS];
    const uint64_t total = (uint64_t)MP_PROCS * MP_THREADS * MP_TAGS;

    for (int p = 0; p < MP_PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0)
            _exit(child_many(d->path, p));
    }
    for (int p = 0; p < MP_PROCS; p++)
        assert_int_equal(child_status(pids[p]), 0);
    TU_OK(kerb_rcache_open(d->path, 0, &rc));
    assert_int_equal(live_at(rc, NOW), total);
    for (uint64_t n = 0; n < total; n++)
        TU_ERR(cs(rc, n, NOW + 1, NOW + SKEW), HSMSSP_ERR_REPLAY);
    assert_int_equal(live_at(rc, NOW + SKEW), 0);
    kerb_rcache_close(rc);
}

/* ---- a full table and the probe bound ----------------------------- */

static void
expect_bounded(kerb_rcache *rc, bool wrote)
{
    kerb_rcache_info info;

    TU_OK(kerb_rcache_get_info(rc, &info));
    assert_true(info.last_read_calls >= 1 && info.last_read_calls <= 2);
    assert_true(info.last_read_bytes ==
                (size_t)info.last_read_calls * info.bucket * SLOT);
    assert_true(info.last_read_bytes <= 2 * KERB_RCACHE_BUCKET * SLOT);
    assert_int_equal(info.last_write_bytes, wrote ? SLOT : 0);
}

/* A table of 8 slots (one bucket): 8 live entries fill it; a 9th fresh
 * tag is RCACHE_FULL, never REPLAY, and touches only its bucket; the
 * stored ones are still REPLAY; once time passes, space is reused. */
static void
test_full_tiny(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;

    TU_OK(kerb_rcache_open(d->path, 8, &rc));
    for (uint64_t n = 0; n < 8; n++) {
        TU_OK(cs(rc, n, NOW, NOW + SKEW + (int64_t)n));
        expect_bounded(rc, true);
    }
    for (uint64_t n = 8; n < 40; n++) {
        TU_ERR(cs(rc, n, NOW + 1, NOW + SKEW), HSMSSP_ERR_RCACHE_FULL);
        expect_bounded(rc, false);
    }
    expect_detail("larger");
    for (uint64_t n = 0; n < 8; n++) {
        TU_ERR(cs(rc, n, NOW + 1, NOW + SKEW), HSMSSP_ERR_REPLAY);
        expect_bounded(rc, false);
    }
    assert_int_equal(live_at(rc, NOW), 8);
    /* At NOW + SKEW + 1, entries 0 and 1 have expired: two slots free.
     * The live ones are still found, also where a free slot comes first
     * in their bucket (the whole bucket is always checked). */
    for (uint64_t n = 2; n < 8; n++)
        TU_ERR(cs(rc, n, NOW + SKEW + 1, NOW + 2 * SKEW), HSMSSP_ERR_REPLAY);
    TU_OK(cs(rc, 100, NOW + SKEW + 1, NOW + 2 * SKEW));
    TU_OK(cs(rc, 101, NOW + SKEW + 1, NOW + 2 * SKEW));
    TU_ERR(cs(rc, 102, NOW + SKEW + 1, NOW + 2 * SKEW),
           HSMSSP_ERR_RCACHE_FULL);
    TU_ERR(cs(rc, 5, NOW + SKEW + 1, NOW + 2 * SKEW), HSMSSP_ERR_REPLAY);
    /* Much later, every slot is free again; the old tags are accepted. */
    for (uint64_t n = 0; n < 8; n++)
        TU_OK(cs(rc, n, NOW + 3 * SKEW, NOW + 4 * SKEW));
    assert_int_equal(live_at(rc, NOW + 3 * SKEW), 8);
    kerb_rcache_close(rc);
}

/* A table of 16 buckets: fresh tags go in until the table is full; no
 * fresh tag is ever called a replay; every call reads its buckets only
 * and writes at most one slot; each stored tag is refused afterwards and
 * accepted after expiry. */
static void
test_full_buckets(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;
    uint64_t stored = 0, full = 0, n;

    TU_OK(kerb_rcache_open(d->path, 256, &rc));
    for (n = 0; n < 2000; n++) {
        hsmssp_err e = cs(rc, n, NOW, NOW + SKEW);
        if (e == HSMSSP_OK) {
            stored++;
            expect_bounded(rc, true);
        } else {
            TU_ERR(e, HSMSSP_ERR_RCACHE_FULL);
            expect_bounded(rc, false);
            full++;
        }
    }
    /* Every slot ends up used: a tag is refused only when both its
     * buckets are full, and 2000 tags name every bucket many times. */
    assert_int_equal(stored, 256);
    assert_int_equal(full, 2000 - 256);
    assert_int_equal(live_at(rc, NOW), 256);
    stored = 0;
    for (n = 0; n < 2000; n++) {
        hsmssp_err e = cs(rc, n, NOW + 1, NOW + SKEW);
        if (e == HSMSSP_ERR_REPLAY)
            stored++;
        else
            TU_ERR(e, HSMSSP_ERR_RCACHE_FULL);
    }
    assert_int_equal(stored, 256);
    for (n = 0; n < 100; n++)
        TU_OK(cs(rc, n, NOW + SKEW, NOW + 2 * SKEW));
    kerb_rcache_close(rc);
}

/* The first tag after `from` whose two buckets are the pair b. */
static uint64_t
tag_with_pair(const raw_hdr *h, const uint64_t b[2], uint64_t from,
              uint8_t tag[KERB_RCACHE_TAG_LEN])
{
    uint64_t x[2];

    for (uint64_t n = from;; n++) {
        make_tag(tag, n);
        tag_buckets(h, tag, x);
        if (same_pair(x, b))
            return n;
    }
}

/* The two choices, with buckets filled by hand through the file: the
 * emptier bucket takes the entry; a replay is found in either bucket,
 * also when the other one has room; when both are full, RCACHE_FULL. */
static void
test_two_buckets(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;
    raw_hdr h;
    uint8_t t1[KERB_RCACHE_TAG_LEN], t2[KERB_RCACHE_TAG_LEN];
    uint8_t t3[KERB_RCACHE_TAG_LEN];
    uint64_t b[2] = {0, 0}, n;
    int64_t exp, at;
    const int64_t later = NOW + 10 * SKEW;

    TU_OK(kerb_rcache_open(d->path, 1024, &rc));
    read_hdr(d->path, &h);
    assert_int_equal(h.slots / h.bucket, 64);
    /* t1: a tag with two distinct buckets; t2, t3: others with the same
     * pair (about one tag in 2048 has it). */
    for (n = 0;; n++) {
        make_tag(t1, n);
        tag_buckets(&h, t1, b);
        if (b[0] != b[1])
            break;
    }
    n = tag_with_pair(&h, b, n + 1, t2);
    (void)tag_with_pair(&h, b, n + 1, t3);

    /* Bucket b[0] has one free slot (its last), b[1] sixteen: t1 goes
     * to b[1]. */
    for (uint32_t i = 0; i + 1 < h.bucket; i++)
        put_slot(d->path, b[0] * h.bucket + i, 1000000 + i, later);
    TU_OK(kerb_rcache_check_store(rc, t1, NOW, NOW + SKEW));
    at = find_tag(d->path, &h, t1, &exp);
    assert_true(at >= 0 && (uint64_t)at / h.bucket == b[1]);
    /* The replay is found in b[1] although b[0] has room. */
    TU_ERR(kerb_rcache_check_store(rc, t1, NOW, NOW + SKEW),
           HSMSSP_ERR_REPLAY);

    /* Fill b[1] but t1's slot: t2 takes the last slot of b[0]. */
    for (uint32_t i = 0; i < h.bucket; i++)
        if (b[1] * h.bucket + i != (uint64_t)at)
            put_slot(d->path, b[1] * h.bucket + i, 2000000 + i, later);
    TU_OK(kerb_rcache_check_store(rc, t2, NOW, NOW + SKEW));
    at = find_tag(d->path, &h, t2, &exp);
    assert_true(at == (int64_t)(b[0] * h.bucket + h.bucket - 1));

    /* Both full: t3 gets RCACHE_FULL, reading only the two buckets,
     * while t1 and t2 are still replays, not "full". */
    TU_ERR(kerb_rcache_check_store(rc, t3, NOW, NOW + SKEW),
           HSMSSP_ERR_RCACHE_FULL);
    expect_bounded(rc, false);
    TU_ERR(kerb_rcache_check_store(rc, t1, NOW, NOW + SKEW),
           HSMSSP_ERR_REPLAY);
    TU_ERR(kerb_rcache_check_store(rc, t2, NOW, NOW + SKEW),
           HSMSSP_ERR_REPLAY);
    /* Once t1 and t2 have expired, their slots are reused. */
    TU_OK(kerb_rcache_check_store(rc, t3, NOW + SKEW, NOW + 2 * SKEW));
    expect_bounded(rc, true);
    TU_ERR(kerb_rcache_check_store(rc, t3, NOW + SKEW, NOW + 2 * SKEW),
           HSMSSP_ERR_REPLAY);
    kerb_rcache_close(rc);
}

/* The record locks cover exactly the tag's two buckets: a lock held on
 * either bucket (through the test's own descriptor) makes a child's call
 * wait; a lock on another bucket does not (workers whose tags land
 * elsewhere proceed in parallel). */
static void
test_lock_ranges(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;
    raw_hdr h;
    uint8_t tag[KERB_RCACHE_TAG_LEN];
    uint64_t b[2] = {0, 0}, n, other = 0;
    int fd;
    struct timespec pause = {0, 150 * 1000 * 1000};

    TU_OK(kerb_rcache_open(d->path, 1024, &rc));
    read_hdr(d->path, &h);
    fd = open(d->path, O_RDWR);
    assert_true(fd >= 0);
    for (n = 0;; n++) {
        make_tag(tag, n);
        tag_buckets(&h, tag, b);
        if (b[0] != b[1])
            break;
    }
    while (other == b[0] || other == b[1])
        other++;
    for (int k = 0; k < 3; k++) {
        uint64_t locked = k < 2 ? b[k] : other;
        struct flock fl;
        pid_t pid;
        int st;

        memset(&fl, 0, sizeof(fl));
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = HDR + (off_t)(locked * h.bucket) * SLOT;
        fl.l_len = (off_t)h.bucket * SLOT;
        assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit((int)kerb_rcache_check_store(rc, tag, NOW + k, NOW + k + 1));
        if (k < 2) {
            nanosleep(&pause, NULL);
            assert_int_equal(waitpid(pid, &st, WNOHANG), 0);
            fl.l_type = F_UNLCK;
            assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
            assert_int_equal(child_status(pid), HSMSSP_OK);
        } else {
            assert_int_equal(child_status(pid), HSMSSP_OK);
            fl.l_type = F_UNLCK;
            assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
        }
    }
    close(fd);
    kerb_rcache_close(rc);
}

/* ---- permissions ---------------------------------------------------- */

static void
test_perms(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;
    char dir[600];

    snprintf(dir, sizeof(dir), "%s/c", d->root);
    TU_OK(kerb_rcache_open(d->path, 64, &rc));
    kerb_rcache_close(rc);
    rc = NULL;

    assert_int_equal(chmod(d->path, 0620), 0);
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_FILE_PERMS);
    assert_null(rc);
    expect_detail("writable by group or others");
    assert_int_equal(chmod(d->path, 0602), 0);
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_FILE_PERMS);
    /* Readable by others is fine: nothing in the file is secret. */
    assert_int_equal(chmod(d->path, 0644), 0);
    TU_OK(kerb_rcache_open(d->path, 64, &rc));
    kerb_rcache_close(rc);
    rc = NULL;
    assert_int_equal(chmod(d->path, 0600), 0);

    assert_int_equal(chmod(dir, 0770), 0);
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_FILE_PERMS);
    expect_detail("directory");
    assert_int_equal(chmod(dir, 01777), 0);
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_FILE_PERMS);
    assert_int_equal(chmod(dir, 0700), 0);
    TU_OK(kerb_rcache_open(d->path, 64, &rc));
    kerb_rcache_close(rc);
    rc = NULL;

    if (geteuid() == 0) {
        /* Owned by another uid: the file, then the directory. */
        assert_int_equal(chown(d->path, 1, 1), 0);
        TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_FILE_PERMS);
        expect_detail("owned by uid 1");
        assert_int_equal(chown(d->path, 0, 0), 0);
        assert_int_equal(chown(dir, 1, 1), 0);
        TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_FILE_PERMS);
        assert_int_equal(chown(dir, 0, 0), 0);
    } else {
        /* Not root: a read-only file cannot be opened for writing. */
        assert_int_equal(chmod(d->path, 0400), 0);
        TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_RCACHE_IO);
        assert_int_equal(chmod(d->path, 0600), 0);
    }
    TU_OK(kerb_rcache_open(d->path, 64, &rc));
    kerb_rcache_close(rc);
}

/* ---- failing closed ------------------------------------------------- */

/* Each corruption of a valid file fails the open with RCACHE_IO and a
 * detail that tells the operator to remove the file; the file is left
 * as it was (never reset). */
static void
test_corrupted(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;
    uint8_t good[HDR], bad[HDR], now_hdr[HDR];
    struct stat st;
    const off_t size = HDR + 64 * SLOT;
    static const struct {
        const char *what;
        size_t off;
        uint8_t x;
    } flips[] = {
        {"magic", 0, 0x01},    {"version", 11, 0x02}, {"slot length", 15, 8},
        {"slot count", 23, 1}, {"bucket", 27, 0x40},  {"key", 40, 0x80},
        {"reserved", 50, 1},   {"check", 63, 1},
    };

    TU_OK(kerb_rcache_open(d->path, 64, &rc));
    TU_OK(cs(rc, 1, NOW, NOW + SKEW));
    kerb_rcache_close(rc);
    rc = NULL;
    read_at(d->path, 0, good, HDR);

    for (size_t i = 0; i < BASE_ARRAY_LEN(flips); i++) {
        memcpy(bad, good, HDR);
        bad[flips[i].off] ^= flips[i].x;
        write_at(d->path, 0, bad, HDR);
        TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_RCACHE_IO);
        assert_null(rc);
        expect_detail("corrupted");
        expect_detail("remove the file");
        /* Never reset: the bad header is still there. */
        read_at(d->path, 0, now_hdr, HDR);
        assert_memory_equal(now_hdr, bad, HDR);
        write_at(d->path, 0, good, HDR);
    }
    /* Headers with a valid check but impossible geometry: a bucket
     * larger than KERB_RCACHE_BUCKET, a slot count that is not whole
     * buckets (64 % 3), no slots. */
    for (int i = 0; i < 3; i++) {
        static const uint8_t zk[16];
        uint64_t c;

        memcpy(bad, good, HDR);
        if (i == 0)
            bad[27] = 17;
        else if (i == 1)
            bad[27] = 3;
        else
            bad[23] = 0;
        c = kerb_rcache_siphash24(zk, bad, 56);
        for (int j = 0; j < 8; j++)
            bad[56 + j] = (uint8_t)(c >> (56 - 8 * j));
        write_at(d->path, 0, bad, HDR);
        TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_RCACHE_IO);
        expect_detail("bad slot count or bucket size");
    }
    write_at(d->path, 0, good, HDR);

    /* Truncated by one byte, extended by one byte, shorter than a
     * header, empty. */
    assert_int_equal(truncate(d->path, size - 1), 0);
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_RCACHE_IO);
    expect_detail("size does not match");
    assert_int_equal(truncate(d->path, size + 1), 0);
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_RCACHE_IO);
    assert_int_equal(truncate(d->path, 20), 0);
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_RCACHE_IO);
    expect_detail("shorter than its header");
    assert_int_equal(truncate(d->path, 0), 0);
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_RCACHE_IO);
    expect_detail("remove the file");
    assert_int_equal(stat(d->path, &st), 0);
    assert_int_equal(st.st_size, 0);

    /* After the operator removes it, a new cache is made. */
    assert_int_equal(unlink(d->path), 0);
    TU_OK(kerb_rcache_open(d->path, 64, &rc));
    TU_OK(cs(rc, 1, NOW, NOW + SKEW));
    kerb_rcache_close(rc);
}

/* Not a regular file at the path, or not a directory above it. */
static void
test_not_regular(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;
    char dir[600], p[700];

    snprintf(dir, sizeof(dir), "%s/c", d->root);
    assert_int_equal(mkdir(dir, 0700), 0);

    assert_int_equal(mkdir(d->path, 0700), 0); /* a directory */
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_RCACHE_IO);
    assert_null(rc);
    assert_int_equal(rmdir(d->path), 0);

    assert_int_equal(mkfifo(d->path, 0600), 0); /* a FIFO */
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_RCACHE_IO);
    expect_detail("not a regular file");
    assert_int_equal(unlink(d->path), 0);

    /* A symbolic link, even to a valid cache. */
    snprintf(p, sizeof(p), "%s/c/real", d->root);
    TU_OK(kerb_rcache_open(p, 64, &rc));
    kerb_rcache_close(rc);
    rc = NULL;
    assert_int_equal(symlink("real", d->path), 0);
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_RCACHE_IO);
    expect_detail("symbolic link");
    assert_int_equal(unlink(d->path), 0);

    /* The directory is a regular file. */
    snprintf(p, sizeof(p), "%s/c/real/rc", d->root);
    TU_ERR(kerb_rcache_open(p, 64, &rc), HSMSSP_ERR_RCACHE_IO);
    /* Its parent is missing (only the last directory is created). */
    snprintf(p, sizeof(p), "%s/x/y/rc", d->root);
    TU_ERR(kerb_rcache_open(p, 64, &rc), HSMSSP_ERR_RCACHE_IO);
    assert_null(rc);
}

/* Writes that fail fail closed, for root too: RLIMIT_FSIZE below the
 * slots makes every pwrite (and the creation's posix_fallocate) fail
 * with EFBIG.  Runs in a child, which ignores SIGXFSZ.  Exit codes:
 * 0 = as expected; others say which step went wrong. */
static int
child_fsize(const char *path, const char *newpath)
{
    struct rlimit rl;
    kerb_rcache *rc = NULL;
    hsmssp_err e;

    if (kerb_rcache_open(path, 64, &rc) != HSMSSP_OK)
        return 10;
    signal(SIGXFSZ, SIG_IGN);
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 11;
    rl.rlim_cur = HDR;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 12;
    e = cs(rc, 42, NOW, NOW + SKEW);
    if (e != HSMSSP_ERR_RCACHE_IO)
        return 13;
    if (strstr(hsmssp_last_error_detail(), "cannot write") == NULL)
        return 14;
    kerb_rcache_close(rc);
    rc = NULL;
    /* Creation: no file and no temporary file may be left behind. */
    if (kerb_rcache_open(newpath, 64, &rc) != HSMSSP_ERR_RCACHE_IO ||
        rc != NULL)
        return 15;
    if (strstr(hsmssp_last_error_detail(), "cannot allocate") == NULL)
        return 16;
    return 0;
}

static void
test_write_fails(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL;
    char newpath[700], newdir[600];
    pid_t pid;
    DIR *dh;
    struct dirent *e;
    int entries = 0;

    TU_OK(kerb_rcache_open(d->path, 64, &rc));
    snprintf(newdir, sizeof(newdir), "%s/n", d->root);
    snprintf(newpath, sizeof(newpath), "%s/n/rc", d->root);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_fsize(d->path, newpath));
    assert_int_equal(child_status(pid), 0);
    /* The failed store left nothing: the tag is new to the parent. */
    TU_OK(cs(rc, 42, NOW, NOW + SKEW));
    dh = opendir(newdir);
    assert_non_null(dh);
    while ((e = readdir(dh)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            entries++;
    closedir(dh);
    assert_int_equal(entries, 0);

    /* Truncated while open: the buckets read short, RCACHE_IO, and the
     * next open calls the file corrupted. */
    assert_int_equal(truncate(d->path, HDR), 0);
    TU_ERR(cs(rc, 43, NOW, NOW + SKEW), HSMSSP_ERR_RCACHE_IO);
    expect_detail("truncated");
    kerb_rcache_close(rc);
    rc = NULL;
    TU_ERR(kerb_rcache_open(d->path, 64, &rc), HSMSSP_ERR_RCACHE_IO);
    expect_detail("corrupted");
}

/* A fork child whose cache file was replaced since the parent opened it
 * refuses to work on the new file (it would not share entries with the
 * parent). */
static void
test_fork_replaced(void **state)
{
    tdir *d = *state;
    kerb_rcache *rc = NULL, *other = NULL;
    char p2[700];
    pid_t pid;

    TU_OK(kerb_rcache_open(d->path, 64, &rc));
    snprintf(p2, sizeof(p2), "%s/c/rc2", d->root);
    TU_OK(kerb_rcache_open(p2, 64, &other));
    kerb_rcache_close(other);
    assert_int_equal(rename(p2, d->path), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit((int)cs(rc, 1, NOW, NOW + SKEW));
    assert_int_equal(child_status(pid), HSMSSP_ERR_RCACHE_IO);
    /* The parent keeps its descriptor to the file it opened. */
    TU_OK(cs(rc, 1, NOW, NOW + SKEW));
    kerb_rcache_close(rc);
}

/* ---- benchmark (HSMSSP_RCACHE_BENCH) ------------------------------- */

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Prints ns per call: fresh stores, replays, and NPROC processes storing
 * concurrently into one file.  Informational only. */
static void
bench(void)
{
    enum { N = 200000, SLOTS = 1 << 20, PN = 50000 };
    tdir *d = NULL;
    kerb_rcache *rc = NULL;
    uint8_t(*tags)[KERB_RCACHE_TAG_LEN] = malloc((size_t)N * 32);
    double t0, t1;
    int other = 0;

    if (tags == NULL || setup_dir((void **)&d) != 0)
        return;
    for (uint64_t n = 0; n < N; n++)
        make_tag(tags[n], n);
    /* Stores then replays: a default-size table (2.6 MB, filled to
     * about 45%), and a table of 2^20 slots (40 MB, about 19%), whose
     * random accesses miss the CPU caches more. */
    for (int sz = 0; sz < 2; sz++) {
        size_t slots = sz == 0 ? KERB_RCACHE_DEFAULT_SLOTS : SLOTS;
        int calls = sz == 0 ? 30000 : N;
        char p[700];

        snprintf(p, sizeof(p), "%s/c/bench%d", d->root, sz);
        if (kerb_rcache_open(p, slots, &rc) != HSMSSP_OK)
            goto out;
        other = 0;
        t0 = now_ns();
        for (int n = 0; n < calls; n++)
            other += kerb_rcache_check_store(rc, tags[n], NOW, NOW + SKEW) !=
                     HSMSSP_OK;
        t1 = now_ns();
        printf("rcache bench: %zu slots: store  %.0f ns/call (%d calls, "
               "%d not OK)\n",
               slots, (t1 - t0) / calls, calls, other);
        other = 0;
        t0 = now_ns();
        for (int n = 0; n < calls; n++)
            other += kerb_rcache_check_store(rc, tags[n], NOW, NOW + SKEW) !=
                     HSMSSP_ERR_REPLAY;
        t1 = now_ns();
        printf("rcache bench: %zu slots: replay %.0f ns/call (%d not "
               "REPLAY)\n",
               slots, (t1 - t0) / calls, other);
        kerb_rcache_close(rc);
        rc = NULL;
    }

    /* The load at which a default-size table gives its first
     * RCACHE_FULL when filled with entries that never expire. */
    {
        char p[700];
        uint64_t n = 0;
        uint8_t tag[KERB_RCACHE_TAG_LEN];
        snprintf(p, sizeof(p), "%s/c/fill", d->root);
        if (kerb_rcache_open(p, 0, &rc) != HSMSSP_OK)
            goto out;
        for (;; n++) {
            make_tag(tag, 1u << 30 | n);
            if (kerb_rcache_check_store(rc, tag, NOW, NOW + SKEW) != HSMSSP_OK)
                break;
        }
        printf("rcache bench: default table (%d slots): first "
               "RCACHE_FULL after %llu entries (load %.3f)\n",
               KERB_RCACHE_DEFAULT_SLOTS, (unsigned long long)n,
               (double)n / KERB_RCACHE_DEFAULT_SLOTS);
        kerb_rcache_close(rc);
        rc = NULL;
    }

    /* NPROC processes, fresh tags each, one shared file. */
    {
        pid_t pids[NPROC];
        t0 = now_ns();
        for (int p = 0; p < NPROC; p++) {
            pids[p] = fork();
            if (pids[p] == 0) {
                kerb_rcache *c = NULL;
                uint8_t tag[KERB_RCACHE_TAG_LEN];
                int bad = 0;
                if (kerb_rcache_open(d->path, SLOTS, &c) != HSMSSP_OK)
                    _exit(1);
                for (int n = 0; n < PN; n++) {
                    make_tag(tag,
                             (uint64_t)N + (uint64_t)p * PN + (uint64_t)n);
                    bad += kerb_rcache_check_store(c, tag, NOW, NOW + SKEW) !=
                           HSMSSP_OK;
                }
                kerb_rcache_close(c);
                _exit(bad != 0);
            }
        }
        for (int p = 0; p < NPROC; p++)
            if (pids[p] > 0)
                (void)child_status(pids[p]);
        t1 = now_ns();
        printf("rcache bench: %d processes, %.0f ns per call overall "
               "(%.0f calls/s)\n",
               NPROC, (t1 - t0) / (NPROC * (double)PN),
               NPROC * (double)PN / ((t1 - t0) / 1e9));
    }
out:
    kerb_rcache_close(rc);
    free(tags);
    teardown_dir((void **)&d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash),
        T(test_open_creates),
        T(test_replay_and_expiry),
        T(test_format_placement),
        T(test_persistence),
        T(test_procs_same_tag_own),
        T(test_procs_same_tag_inherited),
        T(test_lock_blocks),
        T(test_threads_same_tag),
        T(test_procs_threads_distinct),
        T(test_full_tiny),
        T(test_full_buckets),
        T(test_two_buckets),
        T(test_lock_ranges),
        T(test_perms),
        T(test_corrupted),
        T(test_not_regular),
        T(test_write_fails),
        T(test_fork_replaced),
    };
#undef T
    int failed = cmocka_run_group_tests(tests, NULL, NULL);

    if (failed == 0 && getenv("HSMSSP_RCACHE_BENCH") != NULL)
        bench();
    return failed;
}
