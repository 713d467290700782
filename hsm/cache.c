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
