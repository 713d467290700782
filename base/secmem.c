/*
 * base/secmem.c - the locked arena behind base_secret.
 *
 * Layout of a chunk (one mmap):
 *
 *     [guard page][CHUNK_BYTES of locked, DONTDUMP data][guard page]
 *
 * The data area is cut into UNIT-byte units; a bitmap-free design keeps,
 * for every unit, the length of the run that starts there (0 when none),
 * which lets free() check that it was handed the start of a live block.
 * Blocks larger than LARGE_MIN get a mapping of their own with the same
 * guards.  Chunk metadata lives in ordinary heap: it holds no secret.
 *
 * One mutex guards the arena.  Allocation is first-fit; secrets are small
 * and short-lived, so fragmentation stays low.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/secmem.h"

#define UNIT 32u
#define CHUNK_BYTES (64u * 1024u)
#define CHUNK_UNITS (CHUNK_BYTES / UNIT)
#define LARGE_MIN (16u * 1024u)

struct chunk {
    struct chunk *next;
    uint8_t *map;  /* start of the mapping, guard included */
    uint8_t *data; /* first data byte */
    size_t map_len;
    size_t used_units;
    uint16_t run[CHUNK_UNITS]; /* run length starting at unit i, or 0 */
    uint8_t busy[CHUNK_UNITS]; /* 1 when unit i is allocated */
};

struct large {
    struct large *next;
    uint8_t *map;
    uint8_t *data;
    size_t map_len;
    size_t size;
};

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static struct chunk *chunks;
static struct large *larges;
static size_t in_use;
static base_mlock_policy policy = BASE_MLOCK_BEST_EFFORT;
static bool warned_unlocked;
static bool last_locked = true;

void
base_secmem_set_policy(base_mlock_policy p)
{
    pthread_mutex_lock(&arena_lock);
    policy = p;
    pthread_mutex_unlock(&arena_lock);
}

/* mlock/munlock through the raw system call: AddressSanitizer intercepts
 * the libc functions and turns them into no-ops that report success, so
 * a sanitizer build would believe its secrets locked and never apply the
 * mlock policy. */
static int
lock_range(void *p, size_t n)
{
    return (int)syscall(SYS_mlock, p, n);
}

static void
unlock_range(void *p, size_t n)
{
    (void)syscall(SYS_munlock, p, n);
}

static size_t
page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096u;
}

/* Maps guard + len + guard, locks and marks the middle.  Returns the data
 * pointer, or NULL with the error recorded.  Caller holds arena_lock. */
static uint8_t *
map_guarded(size_t len, uint8_t **map_out, size_t *map_len_out)
{
    size_t pg = page_size();
    size_t data_len = (len + pg - 1) / pg * pg;
    size_t map_len = data_len + 2 * pg;
    uint8_t *map, *data;

    map = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        BASE_ERR(HSMSSP_ERR_NOMEM, "secure memory: mmap of %zu bytes",
                 map_len);
        return NULL;
    }
    data = map + pg;
    if (mprotect(map, pg, PROT_NONE) != 0 ||
        mprotect(data + data_len, pg, PROT_NONE) != 0) {
        munmap(map, map_len);
        BASE_ERR(HSMSSP_ERR_NOMEM, "secure memory: guard pages refused");
        return NULL;
    }
    /* Keep secrets out of core dumps.  Not MADV_WIPEONFORK: a fork child
     * (a pre-forking server's worker) must re-login with the retained PIN
     * after PKCS#11 re-initialisation; the child's session keys fail
     * cleanly anyway (hsm/ reports HSMSSP_ERR_FORKED). */
    (void)madvise(data, data_len, MADV_DONTDUMP);
    if (lock_range(data, data_len) != 0) {
        int e = errno;
        last_locked = false;
        if (policy == BASE_MLOCK_REQUIRED) {
            munmap(map, map_len);
            BASE_ERR(HSMSSP_ERR_POLICY_MLOCK,
                     "mlock of %zu bytes refused (errno %d); raise "
                     "RLIMIT_MEMLOCK or relax the mlock policy",
                     data_len, e);
            return NULL;
        }
        if (!warned_unlocked) {
            warned_unlocked = true;
            base_log(HSMSSP_LOG_WARNING, "base",
                     "secure memory could not be locked (errno %d): "
                     "continuing with MADV_DONTDUMP and wiping only",
                     e);
        }
    } else {
        last_locked = true;
    }
    *map_out = map;
    *map_len_out = map_len;
    return data;
}

static void
unmap_guarded(uint8_t *map, uint8_t *data, size_t map_len)
{
    size_t pg = page_size();
    base_memzero(data, map_len - 2 * pg);
    unlock_range(data, map_len - 2 * pg);
    munmap(map, map_len);
}

static void *
alloc_in_chunk(struct chunk *c, size_t units)
{
    size_t i = 0;

    if (CHUNK_UNITS - c->used_units < units)
        return NULL;
    while (i + units <= CHUNK_UNITS) {
        size_t j;
        if (c->busy[i]) {
            i += c->run[i] ? c->run[i] : 1;
            continue;
        }
        for (j = 0; j < units && !c->busy[i + j]; j++)
            ;
        if (j == units) {
            memset(&c->busy[i], 1, units);
            c->run[i] = (uint16_t)units;
            c->used_units += units;
            return c->data + i * UNIT;
        }
        i += j + 1;
    }
    return NULL;
}

void *
base_secmem_alloc(size_t n)
{
    void *p = NULL;

    if (n == 0)
        n = 1;
    pthread_mutex_lock(&arena_lock);
    if (n > LARGE_MIN) {
        struct large *l = calloc(1, sizeof(*l));
        if (l == NULL) {
            BASE_ERR0(HSMSSP_ERR_NOMEM);
            goto out;
        }
        l->data = map_guarded(n, &l->map, &l->map_len);
        if (l->data == NULL) {
            free(l);
            goto out;
        }
        l->size = n;
        l->next = larges;
        larges = l;
        p = l->data;
    } else {
        size_t units = (n + UNIT - 1) / UNIT;
        struct chunk *c;
        for (c = chunks; c != NULL && p == NULL; c = c->next)
            p = alloc_in_chunk(c, units);
        if (p == NULL) {
            c = calloc(1, sizeof(*c));
            if (c == NULL) {
                BASE_ERR0(HSMSSP_ERR_NOMEM);
                goto out;
            }
            c->data = map_guarded(CHUNK_BYTES, &c->map, &c->map_len);
            if (c->data == NULL) {
                free(c);
                goto out;
            }
            c->next = chunks;
            chunks = c;
            p = alloc_in_chunk(c, units);
        }
    }
    if (p != NULL) {
        memset(p, 0, n);
        in_use += n;
    }
out:
    pthread_mutex_unlock(&arena_lock);
    return p;
}

void
base_secmem_free(void *ptr, size_t n)
{
    uint8_t *p = ptr;

    if (p == NULL)
        return;
    if (n == 0)
        n = 1;
    pthread_mutex_lock(&arena_lock);
    for (struct large **lp = &larges; *lp != NULL; lp = &(*lp)->next) {
        struct large *l = *lp;
        if (l->data == p) {
            *lp = l->next;
            in_use -= l->size;
            unmap_guarded(l->map, l->data, l->map_len);
            free(l);
            goto out;
        }
    }
    for (struct chunk *c = chunks; c != NULL; c = c->next) {
        if (p >= c->data && p < c->data + CHUNK_BYTES) {
            size_t i = (size_t)(p - c->data) / UNIT;
            size_t units = c->run[i];
            /* A pointer that is not the start of a live block is a bug in
             * the caller; refuse it rather than corrupt the arena. */
            if ((size_t)(p - c->data) % UNIT != 0 || units == 0)
                break;
            base_memzero(p, units * UNIT);
            memset(&c->busy[i], 0, units);
            c->run[i] = 0;
            c->used_units -= units;
            in_use -= n;
            break;
        }
    }
out:
    pthread_mutex_unlock(&arena_lock);
}

size_t
base_secmem_in_use(void)
{
    size_t n;
    pthread_mutex_lock(&arena_lock);
    n = in_use;
    pthread_mutex_unlock(&arena_lock);
    return n;
}

bool
base_secmem_locked(void)
{
    bool b;
    pthread_mutex_lock(&arena_lock);
    b = last_locked;
    pthread_mutex_unlock(&arena_lock);
    return b;
}

hsmssp_err
base_secret_new(size_t len, size_t cap, base_secret **out)
{
    base_secret *s = NULL;
    hsmssp_err ret;

    *out = NULL;
    if (len > cap)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "secret len > cap");
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    if (cap > 0) {
        s->data = base_secmem_alloc(cap);
        if (s->data == NULL) {
            ret = hsmssp_last_error();
            free(s);
            return ret ? ret : HSMSSP_ERR_NOMEM;
        }
    }
    s->len = len;
    s->cap = cap;
    *out = s;
    return HSMSSP_OK;
}

hsmssp_err
base_secret_from(const void *src, size_t n, base_secret **out)
{
    hsmssp_err ret = base_secret_new(n, n, out);
    if (ret == HSMSSP_OK && n > 0)
        memcpy((*out)->data, src, n);
    return ret;
}

hsmssp_err
base_secret_resize(base_secret *s, size_t len)
{
    uint8_t *nd;

    if (len <= s->cap) {
        /* Shrinking: wipe the tail so no stale secret stays readable. */
        if (len < s->len)
            base_memzero(s->data + len, s->len - len);
        s->len = len;
        return HSMSSP_OK;
    }
    nd = base_secmem_alloc(len);
    if (nd == NULL)
        return hsmssp_last_error() ? hsmssp_last_error() : HSMSSP_ERR_NOMEM;
    if (s->len > 0)
        memcpy(nd, s->data, s->len);
    base_secmem_free(s->data, s->cap);
    s->data = nd;
    s->cap = len;
    s->len = len;
    return HSMSSP_OK;
}

void
base_secret_free(base_secret *s)
{
    if (s == NULL)
        return;
    base_secmem_free(s->data, s->cap);
    free(s);
}
