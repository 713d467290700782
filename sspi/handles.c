/*
 * sspi/handles.c - the handle table and the process runtime
 * (sspi/sspi-int.h).
 *
 * One mutex guards the table: lookups are short (index, compare, count a
 * reference), and the provider work happens outside it.  The table grows
 * a chunk at a time up to a bound, so that a program that leaks handles
 * gets SEC_E_INSUFFICIENT_MEMORY instead of exhausting the process.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sspi/sspi-int.h"

/* Slots live in chunks that never move once allocated: callers keep a
 * slot pointer between sspi_handle_get() and sspi_handle_put(), so the
 * table may grow while they do, but a slot must never be relocated.  The chunk
 * directory is fixed-size. */
#define CHUNK_SLOTS 256u
#define MAX_CHUNKS 4096u
#define MAX_SLOTS (CHUNK_SLOTS * MAX_CHUNKS) /* 2^20 */

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static sspi_slot *chunks[MAX_CHUNKS];
static size_t n_slots; /* slots in allocated chunks */
static size_t free_hint;
static uint64_t next_gen = 1;
static uint64_t cookie_key;
static pid_t cookie_pid;

static sspi_slot *
slot_at(size_t i)
{
    return &chunks[i / CHUNK_SLOTS][i % CHUNK_SLOTS];
}

/* The runtime. */
static prov_env *runtime_env;
static char *runtime_config;

/* The cookie of a slot generation: a per-process random key makes
 * handles from other processes (or guessed) useless; the kind is mixed
 * in so a credential handle never validates as a context. */
static ULONG_PTR
cookie(uint64_t gen, sspi_kind kind)
{
    uint64_t c = (gen * 0x9e3779b97f4a7c15ULL) ^ cookie_key ^
                 ((uint64_t)kind << 62);

    /* Never ~0 (SecInvalidateHandle's value) or 0. */
    if (c == UINT64_MAX || c == 0)
        c ^= 0x5a5a;
    return (ULONG_PTR)c;
}

static hsmssp_err
ensure_key_unlocked(void)
{
    /* A new key in a fork child: the parent's handles stop validating
     * there even before the pid check. */
    if (cookie_key == 0 || cookie_pid != getpid()) {
        hsmssp_err ret = hsm_random((uint8_t *)&cookie_key,
                                    sizeof(cookie_key));
        if (ret != HSMSSP_OK)
            return ret;
        cookie_key |= 1;
        cookie_pid = getpid();
    }
    return HSMSSP_OK;
}

hsmssp_err
sspi_handle_new(sspi_kind kind, const prov_package *pkg, void *obj,
                SecHandle *h_out)
{
    sspi_slot *s;
    size_t i;
    hsmssp_err ret;

    pthread_mutex_lock(&table_lock);
    ret = ensure_key_unlocked();
    if (ret != HSMSSP_OK)
        goto out;
    for (i = free_hint; i < n_slots; i++)
        if (!slot_at(i)->used)
            break;
    if (i >= n_slots) {
        for (i = 0; i < free_hint && i < n_slots; i++)
            if (!slot_at(i)->used)
                break;
        if (i >= free_hint || i >= n_slots) {
            /* Every slot is taken: add a chunk (existing ones stay). */
            if (n_slots >= MAX_SLOTS) {
                ret = BASE_ERR(HSMSSP_ERR_NOMEM,
                               "more than %u open handles", MAX_SLOTS);
                goto out;
            }
            chunks[n_slots / CHUNK_SLOTS] =
                calloc(CHUNK_SLOTS, sizeof(sspi_slot));
            if (chunks[n_slots / CHUNK_SLOTS] == NULL) {
                ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
                goto out;
            }
            i = n_slots;
            n_slots += CHUNK_SLOTS;
        }
    }
    s = slot_at(i);
    memset(s, 0, sizeof(*s));
    s->used = true;
    s->kind = kind;
    s->gen = next_gen++;
    s->pid = getpid();
    s->pkg = pkg;
    s->obj = obj;
    h_out->dwLower = (ULONG_PTR)(i + 1);
    h_out->dwUpper = cookie(s->gen, kind);
    free_hint = i + 1;
out:
    pthread_mutex_unlock(&table_lock);
    return ret;
}

sspi_slot *
sspi_handle_get(const SecHandle *h, sspi_kind kind, bool allow_forked)
{
    sspi_slot *s = NULL;
    size_t i;

    if (h == NULL || !SecIsValidHandle(h)) {
        (void)BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no handle given");
        return NULL;
    }
    pthread_mutex_lock(&table_lock);
    i = (size_t)h->dwLower;
    if (i == 0 || i > n_slots || !slot_at(i - 1)->used ||
        slot_at(i - 1)->dead || slot_at(i - 1)->kind != kind ||
        cookie(slot_at(i - 1)->gen, kind) != h->dwUpper) {
        (void)BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "%s handle is unknown, deleted or of another kind",
                       kind == SSPI_CRED ? "credential" : "context");
    } else if (slot_at(i - 1)->pid != getpid() && !allow_forked) {
        (void)BASE_ERR(HSMSSP_ERR_FORKED,
                       "%s handle was made before fork()",
                       kind == SSPI_CRED ? "credential" : "context");
    } else {
        s = slot_at(i - 1);
        s->refs++;
    }
    pthread_mutex_unlock(&table_lock);
    return s;
}

/* Frees a dead slot's object once nobody uses it.  Called with the table
 * lock held; the provider's free runs after unlocking (it may call into
 * the token), so the slot is detached first. */
static void
release_unlocked(sspi_slot *s, const prov_package **pkg, void **obj,
                 sspi_kind *kind)
{
    *obj = NULL;
    if (!s->dead || s->refs > 0)
        return;
    *pkg = s->pkg;
    *obj = s->obj;
    *kind = s->kind;
    /* The generation moves on, so the freed slot's old handles stay
     * invalid when it is reused. */
    memset(s, 0, sizeof(*s));
}

static void
free_obj(const prov_package *pkg, void *obj, sspi_kind kind)
{
    if (obj == NULL)
        return;
    if (kind == SSPI_CRED)
        pkg->cred_free(obj);
    else
        pkg->ctx_free(obj);
}

void
sspi_handle_put(sspi_slot *s)
{
    const prov_package *pkg = NULL;
    void *obj = NULL;
    sspi_kind kind = SSPI_CRED;

    if (s == NULL)
        return;
    pthread_mutex_lock(&table_lock);
    s->refs--;
    release_unlocked(s, &pkg, &obj, &kind);
    pthread_mutex_unlock(&table_lock);
    free_obj(pkg, obj, kind);
}

void
sspi_handle_kill(sspi_slot *s)
{
    pthread_mutex_lock(&table_lock);
    s->dead = true;
    pthread_mutex_unlock(&table_lock);
}

/* ---- runtime --------------------------------------------------------- */

static pthread_mutex_t runtime_lock = PTHREAD_MUTEX_INITIALIZER;

hsmssp_err
sspi_runtime_env(prov_env **env_out)
{
    hsmssp_err ret = HSMSSP_OK;

    *env_out = NULL;
    pthread_mutex_lock(&runtime_lock);
    /* After fork() the parent's env (and its token) stays as it is: the
     * token layer re-initialises in the child on its own, and handles
     * made before the fork are refused by the table. */
    if (runtime_env == NULL)
        ret = prov_env_open(runtime_config, &runtime_env);
    if (ret == HSMSSP_OK) {
        prov_env_ref(runtime_env);
        *env_out = runtime_env;
    }
    pthread_mutex_unlock(&runtime_lock);
    return ret;
}

hsmssp_err
sspi_runtime_configure(const char *path)
{
    char *copy = NULL;
    hsmssp_err ret = HSMSSP_OK;

    if (path != NULL && (copy = strdup(path)) == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    pthread_mutex_lock(&runtime_lock);
    if (runtime_env != NULL) {
        /* Credentials and contexts keep their own reference: the old env
         * lives until the last of them goes; new ones get the new file. */
        prov_env_unref(runtime_env);
        runtime_env = NULL;
    }
    free(runtime_config);
    runtime_config = copy;
    pthread_mutex_unlock(&runtime_lock);
    return ret;
}
