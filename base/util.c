/*
 * base/util.c - the wipe primitive and constant-time helpers.
 */
#include <string.h>

#include "base/base.h"

void
base_memzero(void *p, size_t n)
{
    if (p != NULL && n > 0)
        explicit_bzero(p, n);
}

/* Accumulate the XOR of every byte pair; a compiler barrier on the
 * accumulator keeps the loop from being turned into an early exit. */
bool
base_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t acc = 0;

    for (size_t i = 0; i < n; i++)
        acc |= (uint8_t)(x[i] ^ y[i]);
    __asm__ __volatile__("" : "+r"(acc));
    return acc == 0;
}

void
base_xor(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] ^= src[i];
}
