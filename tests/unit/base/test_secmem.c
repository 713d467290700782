/*
 * tests/unit/base/test_secmem.c - the locked arena behind base_secret
 * (base/secmem.h): sizes, wiping (checked on the bytes, not on the
 * pointers), guard pages, the mlock policy and concurrent use.
 *
 * Wipe checks read freed memory through a saved pointer.  That is legal
 * here, not a use-after-free: a small block lives in a 64 KiB arena chunk
 * that stays mapped after the block is freed, and the chunk is mmap'ed,
 * so ASan does not track it.  A large block's mapping is gone after the
 * free, so large blocks are checked through base_secret_resize()
 * shrinking, which wipes the tail in place.
 *
 * Crashes (guard pages) and resource limits (RLIMIT_MEMLOCK) are tried in
 * forked children, so the test process itself keeps its arena and limits.
 */
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/secmem.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define KIB 1024u
#define CHUNK (64u * KIB) /* the arena's chunk size, base/secmem.c */

static bool
all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* ---- mlock policy (first: it needs an arena that never warned) ------ */

static int warnings;
static char warning_line[512];

static void
count_warnings(void *ctx, hsmssp_log_level level, const char *subsystem,
               const char *line)
{
    (void)ctx;
    if (level == HSMSSP_LOG_WARNING && strcmp(subsystem, "base") == 0) {
        warnings++;
        snprintf(warning_line, sizeof(warning_line), "%s", line);
    }
}

/* Removes CAP_IPC_LOCK from this process: with it (root in a container,
 * CI) mlock ignores RLIMIT_MEMLOCK and the limit would prove nothing. */
static int
drop_ipc_lock(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];

    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) != 0)
        return -1;
    data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
    data[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
    return (int)syscall(SYS_capset, &hdr, data);
}

/* In the child: no locked memory at all. */
static void
child_no_memlock(void)
{
    struct rlimit rl = {0, 0};

    if (drop_ipc_lock() != 0 || setrlimit(RLIMIT_MEMLOCK, &rl) != 0) {
        fprintf(stderr, "cannot drop CAP_IPC_LOCK / RLIMIT_MEMLOCK\n");
        _exit(90);
    }
}

/* Runs fn in a child and returns its wait status. */
static int
in_child(int (*fn)(void))
{
    pid_t pid;
    int status = 0;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static int
child_mlock_required(void)
{
    base_secret *s = (base_secret *)1;
    hsmssp_err e;

    child_no_memlock();
    hsmssp_set_log_callback(count_warnings, NULL, HSMSSP_LOG_DEBUG);
    base_secmem_set_policy(BASE_MLOCK_REQUIRED);
    /* A large secret always maps (and tries to lock) new memory. */
    e = base_secret_new(64 * KIB, 64 * KIB, &s);
    if (e != HSMSSP_ERR_POLICY_MLOCK) {
        fprintf(stderr, "REQUIRED gave %s\n", hsmssp_err_name(e));
        return 1;
    }
    if (s != NULL)
        return 2;
    if (hsmssp_last_error() != HSMSSP_ERR_POLICY_MLOCK ||
        strstr(hsmssp_last_error_detail(), "RLIMIT_MEMLOCK") == NULL)
        return 3;
    if (base_secmem_locked())
        return 4;
    /* Failing closed logs nothing: the error says it all. */
    if (warnings != 0)
        return 5;
    return 0;
}

static int
child_mlock_best_effort(void)
{
    base_secret *a = NULL, *b = NULL, *c = NULL;

    child_no_memlock();
    hsmssp_set_log_callback(count_warnings, NULL, HSMSSP_LOG_DEBUG);
    base_secmem_set_policy(BASE_MLOCK_BEST_EFFORT);
    if (base_secret_new(64 * KIB, 64 * KIB, &a) != HSMSSP_OK)
        return 1;
    if (base_secret_new(200 * KIB, 200 * KIB, &b) != HSMSSP_OK)
        return 2;
    if (base_secret_new(100, 100, &c) != HSMSSP_OK)
        return 3;
    if (base_secmem_locked())
        return 4;
    /* Usable memory, still zeroed at allocation. */
    if (!all_bytes(a->data, a->cap, 0) || !all_bytes(b->data, b->cap, 0))
        return 5;
    memset(a->data, 0x11, a->cap);
    memset(b->data, 0x22, b->cap);
    memset(c->data, 0x33, c->cap);
    base_secret_free(a);
    base_secret_free(b);
    base_secret_free(c);
    /* Said once, not once per allocation. */
    if (warnings != 1) {
        fprintf(stderr, "%d warnings\n", warnings);
        return 6;
    }
    if (strstr(warning_line, "lock") == NULL)
        return 7;
    return 0;
}

static void
test_mlock_policy(void **state)
{
    int st;

    (void)state;
    st = in_child(child_mlock_required);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    st = in_child(child_mlock_best_effort);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- sizes ----------------------------------------------------------- */

static const size_t sizes[] = {0,    1,        31,       32,       33,
                               4096, 16 * KIB, 16 * KIB + 1, 1024 * KIB};

static void
test_sizes(void **state)
{
    size_t base_use = base_secmem_in_use();
    base_secret *s[BASE_ARRAY_LEN(sizes)];

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(sizes); i++) {
        size_t n = sizes[i];
        s[i] = NULL;
        TU_OK(base_secret_new(n, n, &s[i]));
        assert_non_null(s[i]);
        assert_int_equal(s[i]->len, n);
        assert_int_equal(s[i]->cap, n);
        if (n == 0)
            continue;
        assert_non_null(s[i]->data);
        assert_int_equal((uintptr_t)s[i]->data % 16, 0);
        assert_true(all_bytes(s[i]->data, n, 0));
        memset(s[i]->data, (int)(0x40 + i), n);
    }
    /* Live blocks do not overlap: each still holds its own pattern. */
    for (size_t i = 0; i < BASE_ARRAY_LEN(sizes); i++)
        if (sizes[i] > 0)
            assert_true(all_bytes(s[i]->data, sizes[i], (uint8_t)(0x40 + i)));
    assert_true(base_secmem_in_use() >= base_use + 16 * KIB);
    for (size_t i = 0; i < BASE_ARRAY_LEN(sizes); i++)
        base_secret_free(s[i]);
    assert_int_equal(base_secmem_in_use(), base_use);

    /* Raw blocks, including size 0, and the NULL no-ops. */
    for (size_t i = 0; i < BASE_ARRAY_LEN(sizes); i++) {
        uint8_t *p = base_secmem_alloc(sizes[i]);
        assert_non_null(p);
        assert_true(all_bytes(p, sizes[i], 0));
        memset(p, 0x7f, sizes[i]);
        base_secmem_free(p, sizes[i]);
    }
    assert_int_equal(base_secmem_in_use(), base_use);
    base_secret_free(NULL);
    base_secmem_free(NULL, 10);

    /* len > cap is refused. */
    {
        base_secret *bad = (base_secret *)1;
        TU_ERR(base_secret_new(5, 4, &bad), HSMSSP_ERR_INVALID_ARGUMENT);
        assert_null(bad);
    }
}

static void
test_secret_from(void **state)
{
    uint8_t src[77];
    base_secret *s = NULL;

    (void)state;
    tu_fill(src, sizeof(src), 9);
    TU_OK(base_secret_from(src, sizeof(src), &s));
    assert_int_equal(s->len, sizeof(src));
    assert_memory_equal(s->data, src, sizeof(src));
    base_secret_free(s);
    TU_OK(base_secret_from(NULL, 0, &s));
    assert_int_equal(s->len, 0);
    base_secret_free(s);
}

/* ---- wiping ---------------------------------------------------------- */

static void
test_wipe_on_free_small(void **state)
{
    static const size_t small[] = {1, 31, 32, 33, 100, 4096, 16 * KIB};

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(small); i++) {
        size_t n = small[i];
        base_secret *s = NULL;
        volatile uint8_t *saved;

        TU_OK(base_secret_new(n, n, &s));
        memset(s->data, 0xa5, n);
        saved = s->data;
        base_secret_free(s);
        /* The arena chunk is still mapped: read the freed bytes. */
        for (size_t j = 0; j < n; j++)
            if (saved[j] != 0)
                fail_msg("size %zu: byte %zu is 0x%02x after free", n, j,
                         saved[j]);
    }
    /* The raw interface too. */
    {
        volatile uint8_t *p = base_secmem_alloc(48);
        assert_non_null(p);
        memset((void *)p, 0x5a, 48);
        base_secmem_free((void *)p, 48);
        for (size_t j = 0; j < 48; j++)
            assert_int_equal(p[j], 0);
    }
}

/* Resize: shrinking wipes the tail in place (large blocks too); growing
 * moves the bytes and wipes the old block. */
static void
test_wipe_on_resize(void **state)
{
    base_secret *s = NULL;
    volatile uint8_t *old;
    uint8_t pattern[64];

    (void)state;
    /* Large: 1 MiB shrunk to 100 bytes. */
    TU_OK(base_secret_new(1024 * KIB, 1024 * KIB, &s));
    memset(s->data, 0xc3, s->cap);
    TU_OK(base_secret_resize(s, 100));
    assert_int_equal(s->len, 100);
    assert_true(all_bytes(s->data, 100, 0xc3));
    assert_true(all_bytes(s->data + 100, s->cap - 100, 0));
    /* Growing within the capacity keeps the (wiped) bytes. */
    TU_OK(base_secret_resize(s, 200));
    assert_true(all_bytes(s->data + 100, 100, 0));
    base_secret_free(s);

    /* Small grown into a large block: the old small block is wiped. */
    tu_fill(pattern, sizeof(pattern), 3);
    TU_OK(base_secret_from(pattern, sizeof(pattern), &s));
    old = s->data;
    TU_OK(base_secret_resize(s, 20 * KIB));
    assert_true(s->data != old);
    assert_int_equal(s->len, 20 * KIB);
    assert_true(s->cap >= 20 * KIB);
    assert_memory_equal(s->data, pattern, sizeof(pattern));
    assert_true(all_bytes(s->data + sizeof(pattern),
                          20 * KIB - sizeof(pattern), 0));
    for (size_t j = 0; j < sizeof(pattern); j++)
        assert_int_equal(old[j], 0);
    /* And back down: the tail is wiped. */
    memset(s->data, 0x99, s->len);
    TU_OK(base_secret_resize(s, 10));
    assert_true(all_bytes(s->data + 10, s->cap - 10, 0));
    base_secret_free(s);

    /* A zero-capacity secret can grow. */
    TU_OK(base_secret_new(0, 0, &s));
    TU_OK(base_secret_resize(s, 40));
    assert_true(all_bytes(s->data, 40, 0));
    base_secret_free(s);
}

/* ---- guard pages ----------------------------------------------------- */

/* The child lets the fault kill it.  ASan installs its own SIGSEGV
 * handler at start-up (and a fork inherits it), which would report and
 * exit instead; restoring the default disposition works where ASan
 * allows user handlers (allow_user_segv_handler, the default), and where
 * it does not the parent accepts ASan's exit. */
static void
child_prepare_crash(void)
{
    struct rlimit no_core = {0, 0};
    struct sigaction sa;

    (void)setrlimit(RLIMIT_CORE, &no_core);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    (void)sigaction(SIGSEGV, &sa, NULL);
    (void)sigaction(SIGBUS, &sa, NULL);
}

/* Writes forward from a small block until something stops it: the chunk
 * ends after at most 64 KiB, and the guard page there must fault. */
static int
child_overrun_chunk(void)
{
    volatile uint8_t *p;

    child_prepare_crash();
    p = base_secmem_alloc(32);
    if (p == NULL)
        return 10;
    for (size_t i = 0; i < CHUNK + 2 * 4096; i++)
        p[i] = 0x55;
    return 11; /* not reached when the guard works */
}

/* One byte past a page-sized large block is the guard page. */
static int
child_overrun_large(void)
{
    size_t n = 1024 * KIB;
    volatile uint8_t *p;

    child_prepare_crash();
    p = base_secmem_alloc(n);
    if (p == NULL)
        return 10;
    p[n - 1] = 1; /* the last byte is ours */
    p[n] = 1;     /* the first byte of the guard */
    return 11;
}

/* One byte before a large block is the leading guard page. */
static int
child_underrun_large(void)
{
    volatile uint8_t *p;

    child_prepare_crash();
    p = base_secmem_alloc(64 * KIB);
    if (p == NULL)
        return 10;
    p[0] = 1;
    p[-1] = 1;
    return 11;
}

static void
assert_crashed(int st, const char *what)
{
    if (WIFSIGNALED(st) &&
        (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS))
        return;
    /* ASan that kept its handler reports the SEGV and exits with its
     * error code (1) or aborts. */
    if (UNDER_ASAN && ((WIFEXITED(st) && WEXITSTATUS(st) == 1) ||
                       (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT)))
        return;
    if (WIFEXITED(st))
        fail_msg("%s: child exited with %d, no fault", what,
                 WEXITSTATUS(st));
    fail_msg("%s: child died of signal %d", what,
             WIFSIGNALED(st) ? WTERMSIG(st) : -1);
}

static void
test_guard_pages(void **state)
{
    (void)state;
    assert_crashed(in_child(child_overrun_chunk), "chunk overrun");
    assert_crashed(in_child(child_overrun_large), "large overrun");
    assert_crashed(in_child(child_underrun_large), "large underrun");
}

/* ---- core dumps ------------------------------------------------------ */

/* The VmFlags line of the /proc/self/smaps mapping that contains p, into
 * flags (empty when not found). */
static void
vmflags_of(const void *p, char *flags, size_t cap)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    bool inside = false;
    uintptr_t a = (uintptr_t)p;

    flags[0] = '\0';
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long lo, hi;
        /* A mapping header: "lo-hi perms offset dev inode [path]". */
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
            strchr(line, ':') != NULL && line[0] != 'V') {
            inside = a >= lo && a < hi;
            continue;
        }
        if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            size_t n = strlen(line + 8);
            if (n >= cap)
                n = cap - 1;
            memcpy(flags, line + 8, n);
            flags[n] = '\0';
            break;
        }
    }
    fclose(f);
}

/* Both kinds of secure memory (an arena chunk for small blocks, a
 * mapping of its own for large ones) are excluded from core dumps: the
 * kernel shows MADV_DONTDUMP as the "dd" VmFlag. */
static void
test_dontdump(void **state)
{
    uint8_t *small = base_secmem_alloc(48);
    uint8_t *large = base_secmem_alloc(64 * KIB);
    char flags[512];

    (void)state;
    assert_non_null(small);
    assert_non_null(large);
    vmflags_of(small, flags, sizeof(flags));
    if (strstr(flags, " dd") == NULL)
        fail_msg("arena chunk VmFlags:%s lacks dd (MADV_DONTDUMP)", flags);
    vmflags_of(small + 40, flags, sizeof(flags));
    assert_non_null(strstr(flags, " dd"));
    vmflags_of(large, flags, sizeof(flags));
    if (strstr(flags, " dd") == NULL)
        fail_msg("large block VmFlags:%s lacks dd (MADV_DONTDUMP)", flags);
    vmflags_of(large + 64 * KIB - 1, flags, sizeof(flags));
    assert_non_null(strstr(flags, " dd"));
    /* The check itself can say no: ordinary heap memory is dumped. */
    {
        uint8_t *heap = malloc(64);
        assert_non_null(heap);
        vmflags_of(heap, flags, sizeof(flags));
        assert_true(flags[0] != '\0');
        assert_null(strstr(flags, " dd"));
        free(heap);
    }
    base_secmem_free(small, 48);
    base_secmem_free(large, 64 * KIB);
}

/* ---- concurrency ----------------------------------------------------- */

#define THREADS 4
#define ROUNDS 3000
#define LIVE 8

struct worker {
    unsigned id;
    bool ok;
};

/* Each thread keeps up to LIVE blocks of varied sizes (small and large),
 * fills each with its own byte and checks it before freeing: a block
 * handed out twice, or a neighbour's overrun, breaks a pattern. */
static void *
worker(void *p)
{
    struct worker *w = p;
    uint8_t *blk[LIVE] = {NULL};
    size_t len[LIVE] = {0};
    uint32_t x = 0x9e3779b9u * (w->id + 1);

    w->ok = true;
    for (unsigned r = 0; r < ROUNDS && w->ok; r++) {
        unsigned slot;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        slot = x % LIVE;
        if (blk[slot] != NULL) {
            uint8_t v = (uint8_t)(w->id * 16 + slot);
            if (!all_bytes(blk[slot], len[slot], v))
                w->ok = false;
            base_secmem_free(blk[slot], len[slot]);
            blk[slot] = NULL;
        } else {
            /* Mostly small, one in 16 large. */
            len[slot] = (x >> 8) % 16 == 0 ? 16 * KIB + (x >> 12) % 8192
                                            : 1 + (x >> 12) % 600;
            blk[slot] = base_secmem_alloc(len[slot]);
            if (blk[slot] == NULL || !all_bytes(blk[slot], len[slot], 0))
                w->ok = false;
            else
                memset(blk[slot], w->id * 16 + slot, len[slot]);
        }
    }
    for (unsigned i = 0; i < LIVE; i++)
        base_secmem_free(blk[i], len[i]);
    return NULL;
}

static void
test_concurrency(void **state)
{
    pthread_t t[THREADS];
    struct worker w[THREADS];
    size_t base_use = base_secmem_in_use();

    (void)state;
    for (unsigned i = 0; i < THREADS; i++) {
        w[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_true(w[i].ok);
    }
    assert_int_equal(base_secmem_in_use(), base_use);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        /* First, before anything in this process touched the arena. */
        cmocka_unit_test(test_mlock_policy),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_secret_from),
        cmocka_unit_test(test_wipe_on_free_small),
        cmocka_unit_test(test_wipe_on_resize),
        cmocka_unit_test(test_guard_pages),
        cmocka_unit_test(test_dontdump),
        cmocka_unit_test(test_concurrency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
