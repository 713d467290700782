/*
 * base/der.h - a small, strict, zero-copy DER reader and a reverse writer.
 *
 * Why our own (DESIGN sec. 5): Kerberos plaintexts that carry keys
 * (EncTicketPart, Authenticator, EncAPRepPart, EncKrbCredPart ...) must be
 * parsed where they were decrypted, inside a base_secret, without copying
 * a single field into ordinary heap.  The reader therefore never
 * allocates: it hands out base_der views (pointer + length) into the
 * caller's buffer, and the typed field readers below decode scalars into
 * the caller's variables.  Whoever owns the buffer owns every view into
 * it; a view dies with its buffer.
 *
 * Strictness.  Only DER is accepted: definite lengths in minimal form,
 * low-tag-number identifiers (every tag Kerberos and RFC 2743 use is
 * below 31), minimal INTEGER encodings, at most 4 length octets.  A view
 * can never reach outside the bytes it was made from.  Depth is bounded by
 * construction (the protocol parsers are written field by field and never
 * recurse on input), and base_der_check() walks an arbitrary tree with an
 * explicit depth bound for the places that must skip unknown content.
 *
 * The writer fills a caller-provided buffer from its end towards its
 * start, so every length is known when its header is written: encode the
 * last field first, then wrap.  The buffer may be a base_secret's storage
 * (EncAPRepPart carries a subkey); the writer copies nothing elsewhere.
 * Errors are sticky: the first one is kept and later calls do nothing, so
 * an encoder is a straight line checked once at base_der_w_finish().
 */
#ifndef HSMSSP_BASE_DER_H
#define HSMSSP_BASE_DER_H

#include "base/base.h"

/* Identifier octets.  Universal types, then helpers for the context and
 * application classes (constructed, as Kerberos always uses them). */
#define BASE_DER_BOOLEAN 0x01u
#define BASE_DER_INTEGER 0x02u
#define BASE_DER_BIT_STRING 0x03u
#define BASE_DER_OCTET_STRING 0x04u
#define BASE_DER_NULL 0x05u
#define BASE_DER_OID 0x06u
#define BASE_DER_UTF8_STRING 0x0cu
#define BASE_DER_IA5_STRING 0x16u
#define BASE_DER_GENERALIZED_TIME 0x18u
#define BASE_DER_GENERAL_STRING 0x1bu
#define BASE_DER_SEQUENCE 0x30u
#define BASE_DER_CTX(n) (0xa0u | (unsigned)(n))  /* [n] EXPLICIT */
#define BASE_DER_APP(n) (0x60u | (unsigned)(n))  /* [APPLICATION n] */

/* Largest length the reader accepts for one element (and so for any
 * input): 16 MiB, far above any Kerberos message (limits proper are
 * enforced by the callers' configuration). */
#define BASE_DER_MAX_LEN (16u * 1024u * 1024u)

/* A view of len bytes at p; never owns them. */
typedef struct base_der {
    const uint8_t *p;
    size_t len;
} base_der;

static inline base_der
base_der_view(const void *p, size_t len)
{
    base_der d = {(const uint8_t *)p, len};
    return d;
}

/* ---- reading -------------------------------------------------------- */

/* Identifier of the next element of *in, or -1 when *in is empty or the
 * identifier is not a low-tag-number one. */
int base_der_peek(const base_der *in);

/* Takes the next element of *in, which must carry identifier tag; its
 * contents go to *content_out (may be NULL), its whole encoding (header
 * included) to *whole_out (may be NULL), and *in advances past it.
 * HSMSSP_ERR_BAD_TOKEN for a different tag, a bad or non-minimal length
 * or an element longer than what is left. */
hsmssp_err base_der_get(base_der *in, unsigned tag, base_der *content_out,
                        base_der *whole_out) BASE_WUR;

/* Like base_der_get() when the next identifier is tag (*present_out =
 * true); otherwise leaves *in alone, sets *present_out = false and
 * succeeds.  For OPTIONAL fields. */
hsmssp_err base_der_get_opt(base_der *in, unsigned tag, base_der *content_out,
                            bool *present_out) BASE_WUR;

/* Takes the next element whatever its identifier (for skipping);
 * *tag_out gets the identifier. */
hsmssp_err base_der_get_any(base_der *in, unsigned *tag_out,
                            base_der *content_out, base_der *whole_out)
    BASE_WUR;

/* Succeeds only when *in has been consumed entirely (no trailing bytes
 * inside a SEQUENCE or after a message). */
hsmssp_err base_der_end(const base_der *in) BASE_WUR;

/* Checks that in is a sequence of well-formed DER elements whose
 * constructed elements (bit 0x20) nest at most max_depth deep.  Bounded
 * work: linear in in.len, iterative. */
hsmssp_err base_der_check(base_der in, unsigned max_depth) BASE_WUR;

/* Typed readers of an element's contents (as returned by base_der_get
 * for the right universal tag).  Each refuses what DER forbids. */

/* INTEGER in [min, max]. */
hsmssp_err base_der_int(base_der content, int64_t min, int64_t max,
                        int64_t *out) BASE_WUR;

/* Kerberos UInt32 (sequence numbers): an INTEGER in [0, 2^32-1]; also
 * accepts [-2^31, -1], which old implementations sent for values with
 * the top bit set, as its two's-complement uint32. */
hsmssp_err base_der_uint32(base_der content, uint32_t *out) BASE_WUR;

/* KerberosTime: GeneralizedTime "YYYYMMDDHHMMSSZ" exactly, as seconds
 * since the Unix epoch (UTC).  Years 1970..9999. */
hsmssp_err base_der_ktime(base_der content, int64_t *out) BASE_WUR;

/* KerberosFlags: a BIT STRING of at least 32 bits (RFC 4120 sec. 5.2.8)
 * whose first 32 bits go to *out, bit 0 being the most significant. */
hsmssp_err base_der_flags32(base_der content, uint32_t *out) BASE_WUR;

/* GeneralString / IA5String / UTF8String / OCTET STRING contents need
 * no decoding: the view is the value. */

/* Reads the next element with tag [n] EXPLICIT wrapping one element of
 * identifier inner_tag; *value_out gets the inner contents.  The common
 * Kerberos pattern "field [n] TYPE". */
hsmssp_err base_der_get_field(base_der *in, unsigned n, unsigned inner_tag,
                              base_der *value_out) BASE_WUR;

/* The same for an OPTIONAL field. */
hsmssp_err base_der_get_field_opt(base_der *in, unsigned n,
                                  unsigned inner_tag, base_der *value_out,
                                  bool *present_out) BASE_WUR;

/* ---- writing -------------------------------------------------------- */

/* A reverse writer over buf[0..cap): data occupies buf[pos..cap). */
typedef struct base_der_w {
    uint8_t *buf;
    size_t cap;
    size_t pos;
    hsmssp_err err; /* first failure; HSMSSP_OK while all is well */
} base_der_w;

void base_der_w_init(base_der_w *w, uint8_t *buf, size_t cap);

/* Bytes written so far (the encoding's length). */
static inline size_t
base_der_w_len(const base_der_w *w)
{
    return w->cap - w->pos;
}

/* Prepends n raw bytes. */
void base_der_w_raw(base_der_w *w, const void *p, size_t n);

/* Wraps the last len bytes written (everything since a mark taken with
 * base_der_w_len()) in an element with identifier tag:
 *     size_t m = base_der_w_len(w);  ...contents...;
 *     base_der_w_wrap(w, BASE_DER_SEQUENCE, base_der_w_len(w) - m); */
void base_der_w_wrap(base_der_w *w, unsigned tag, size_t len);

/* Prepends a whole primitive element. */
void base_der_w_prim(base_der_w *w, unsigned tag, const void *p, size_t n);
void base_der_w_int(base_der_w *w, int64_t v);
void base_der_w_ktime(base_der_w *w, int64_t t);
void base_der_w_flags32(base_der_w *w, uint32_t flags);

/* Returns the sticky error, or the encoding's view in *out. */
hsmssp_err base_der_w_finish(const base_der_w *w, base_der *out) BASE_WUR;

/* ---- helpers -------------------------------------------------------- */

/* Equality of two views (not constant time: for public data). */
bool base_der_eq(base_der a, base_der b);

/* Equality with a NUL-terminated string. */
bool base_der_eq_str(base_der a, const char *s);

/* Unix time <-> civil UTC, for KerberosTime and FILETIME conversions. */
int64_t base_days_from_civil(int64_t y, unsigned m, unsigned d);
void base_civil_from_days(int64_t days, int64_t *y, unsigned *m,
                          unsigned *d);

#endif
