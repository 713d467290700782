/*
 * base/secmem.h - secure buffers for transient secrets.
 *
 * A base_secret holds bytes that must not reach swap, core dumps or freed
 * heap: session keys in their arrival window, import-time long-term keys,
 * PIN copies, decrypted key-bearing plaintexts.  Its storage comes from a
 * process-wide arena of mlocked pages marked MADV_DONTDUMP and fenced by
 * PROT_NONE guard pages on both sides, so an overrun faults instead of
 * reading a neighbour.  Many small secrets share one locked chunk: one
 * locked page per secret would exhaust RLIMIT_MEMLOCK (64 KiB in many
 * containers).  Large secrets get a mapping of their own, guarded likewise.
 *
 * Every free wipes the bytes (base_memzero) before the space is reused, and
 * so does every resize.  Free functions accept NULL.
 *
 * When mlock is refused, the policy decides: BASE_MLOCK_REQUIRED fails the
 * allocation with HSMSSP_ERR_POLICY_MLOCK; BASE_MLOCK_BEST_EFFORT (the
 * default) keeps MADV_DONTDUMP, guards and wiping and says so once through
 * the log.
 */
#ifndef HSMSSP_BASE_SECMEM_H
#define HSMSSP_BASE_SECMEM_H

#include "base/base.h"

typedef enum base_mlock_policy {
    BASE_MLOCK_BEST_EFFORT = 0,
    BASE_MLOCK_REQUIRED = 1
} base_mlock_policy;

/* Sets the process-wide mlock policy for allocations made from now on. */
void base_secmem_set_policy(base_mlock_policy policy);

/* A secret byte string.  data points into locked memory; len is the number
 * of meaningful bytes, cap the capacity.  Callers may read and write
 * data[0..cap) but must not free or realloc it themselves. */
typedef struct base_secret {
    uint8_t *data;
    size_t len;
    size_t cap;
} base_secret;

/* Allocates a zeroed secret of capacity cap and length len (len <= cap;
 * cap 0 is allowed).  *out is NULL on failure. */
hsmssp_err base_secret_new(size_t len, size_t cap, base_secret **out)
    BASE_WUR;

/* Allocates a secret holding a copy of n bytes at src. */
hsmssp_err base_secret_from(const void *src, size_t n, base_secret **out)
    BASE_WUR;

/* Sets s->len to len; grows the storage when len > cap, moving the bytes
 * into a new locked block and wiping the old one. */
hsmssp_err base_secret_resize(base_secret *s, size_t len) BASE_WUR;

/* Wipes and releases s; NULL is a no-op. */
void base_secret_free(base_secret *s);

/* Raw locked storage, for structures that hold secrets inline.  n bytes,
 * zeroed; NULL on failure (the error is recorded).  base_secmem_free()
 * wipes the block; its size must be the size allocated. */
void *base_secmem_alloc(size_t n);
void base_secmem_free(void *p, size_t n);

/* Statistics for tests: bytes currently allocated, and whether the last
 * chunk could be locked. */
size_t base_secmem_in_use(void);
bool base_secmem_locked(void);

#endif
