/*
 * hsm/cache.c - the bounded cache of per-usage derived keys.
 *
 * Deriving a key costs about 30 us on SoftHSM2 (C_DeriveKey) where the
 * operation it serves costs 6-10 us, so every (key, usage, role) keeps its
 * derived object while it is in use.  The cache is a fixed array searched
 * linearly by the engine under tok->cache_lock (entries are few: a server
 * uses a handful of usages per key), with least-recently-used eviction
 * once it holds cap entries.  Evicted objects are destroyed by the caller
 * (engine.c), which owns the PKCS#11 calls; this file only keeps the
 * bookkeeping, so it can be unit-tested without a token.
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/hsm-int.h"

hsmssp_err
hsm_cache_init(hsm_cache *c, size_t cap)
{
    memset(c, 0, sizeof(*c));
    if (cap == 0)
        cap = HSM_CACHE_DEFAULT;
    c->slots = calloc(cap, sizeof(*c->slots));
    if (c->slots == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    c->cap = cap;
    return HSMSSP_OK;
}

void
hsm_cache_fini(hsm_cache *c)
{
    free(c->slots);
    memset(c, 0, sizeof(*c));
}

void
hsm_cache_reset_unlocked(hsm_cache *c)
{
    if (c->slots != NULL)
        memset(c->slots, 0, c->cap * sizeof(*c->slots));
    c->count = 0;
}

/* Looks (serial, usage, role) up in the cache; pins and returns the entry
 * or NULL.  Caller holds cache_lock. */
hsm_cache_entry *
hsm_cache_find_unlocked(hsm_cache *c, uint64_t serial, int32_t usage,
                    uint8_t role, uint64_t gen)
{
    for (size_t i = 0; i < c->cap; i++) {
        hsm_cache_entry *e = &c->slots[i];
        if (e->used && e->key_serial == serial && e->usage == usage &&
            e->role == role && e->gen == gen) {
            e->pins++;
            e->last_use = ++c->clock;
            return e;
        }
    }
    return NULL;
}

/* Inserts a freshly derived object.  Picks a free slot, a stale one (an
 * older generation: its session is gone, nothing to destroy) or the least
 * recently used unpinned one, whose object goes to *evict_out for the
 * caller to destroy outside the lock.  NULL when every slot is pinned.
 * Caller holds cache_lock. */
hsm_cache_entry *
hsm_cache_insert_unlocked(hsm_cache *c, uint64_t serial, int32_t usage,
                      uint8_t role, uint64_t gen, CK_OBJECT_HANDLE obj,
                      CK_OBJECT_HANDLE *evict_out)
{
    hsm_cache_entry *victim = NULL;

    *evict_out = CK_INVALID_HANDLE;
    for (size_t i = 0; i < c->cap; i++) {
        hsm_cache_entry *e = &c->slots[i];
        if (!e->used || e->gen != gen) {
            if (e->used)
                c->count--;
            victim = e;
            break;
        }
        if (e->pins == 0 &&
            (victim == NULL || e->last_use < victim->last_use))
            victim = e;
    }
    if (victim == NULL)
        return NULL;
    if (victim->used && victim->gen == gen) {
        *evict_out = victim->obj;
        c->evictions++;
        c->count--;
    }
    *victim = (hsm_cache_entry){.key_serial = serial,
                                .usage = usage,
                                .role = role,
                                .obj = obj,
                                .gen = gen,
                                .last_use = ++c->clock,
                                .pins = 1,
                                .used = true};
    c->count++;
    return victim;
}
