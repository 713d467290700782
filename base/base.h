/*
 * base/base.h - what every layer of hsmssp uses: errors with thread-local
 * details, the log, constant-time comparison and the one wipe primitive.
 * Secure buffers are in base/secmem.h.
 *
 * base/ holds no protocol or token code and includes no other folder.
 */
#ifndef HSMSSP_BASE_H
#define HSMSSP_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmssp/errors.h"
#include "hsmssp/log.h"

#define BASE_WUR __attribute__((warn_unused_result))
#define BASE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define BASE_UNUSED __attribute__((unused))
#define BASE_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Records err with the caller's location and an optional printf-style
 * detail in thread-local storage, and returns err, so a failure reads
 *     return BASE_ERR(HSMSSP_ERR_PIN_LOCKED, "token '%s'", label);
 * A detail must never contain a secret. */
hsmssp_err base_err_raise(hsmssp_err err, const char *file, int line,
                          const char *fmt, ...) BASE_PRINTF(4, 5);
#define BASE_ERR(err, ...) base_err_raise((err), __FILE__, __LINE__, __VA_ARGS__)
#define BASE_ERR0(err) base_err_raise((err), __FILE__, __LINE__, NULL)

/* Clears the calling thread's recorded error. */
void base_err_clear(void);

/* Sends one event to the log callback and the HSMSSP_TRACE file.  Never
 * pass secrets. */
void base_log(hsmssp_log_level level, const char *subsystem, const char *fmt,
              ...) BASE_PRINTF(3, 4);

/* True when an event at this level would go anywhere (avoid formatting
 * costs on hot paths). */
bool base_log_enabled(hsmssp_log_level level);

/* Wipes n bytes at p in a way the compiler cannot elide.  NULL is fine
 * when n is 0.  The only wipe primitive of the project. */
void base_memzero(void *p, size_t n);

/* Compares n bytes in time that depends on n only.  Returns true when
 * equal.  For MACs, MICs, checksums and NTLM proofs. */
bool base_ct_equal(const void *a, const void *b, size_t n) BASE_WUR;

/* XOR n bytes of src into dst. */
void base_xor(uint8_t *dst, const uint8_t *src, size_t n);

/* Big-endian load and store. */
static inline void
base_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t
base_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

#endif
