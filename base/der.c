/*
 * base/der.c - the strict zero-copy DER reader and the reverse writer
 * (contract in base/der.h).
 *
 * The reader is built on one primitive, read_header(), which decodes an
 * identifier and a definite minimal length and checks the element fits in
 * what is left.  Everything else (typed fields, optional fields, the
 * structure check) is a few lines on top of it, so there is one place
 * where a length can go wrong.  No function allocates, so a view into a
 * base_secret never leaves locked memory.
 *
 * The writer prepends.  Every primitive computes its header from the
 * bytes already written, which is why encoders emit fields last to first.
 */
#include <stdio.h>
#include <string.h>

#include "base/der.h"

/* Decodes the header of the next element of in: identifier to *tag, the
 * header length to *hlen and the contents length to *clen.  Fails on an
 * empty input, a high tag number, an indefinite or non-minimal length,
 * more than 4 length octets, or contents longer than what follows. */
static hsmssp_err
read_header(const base_der *in, unsigned *tag, size_t *hlen, size_t *clen)
{
    const uint8_t *p = in->p;
    size_t n = in->len, len, i, nlen;

    if (n < 2)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "DER: element truncated");
    /* Low tag numbers only: identifier bits 0..4 == 31 announces the
     * multi-octet form, which no message hsmssp parses uses. */
    if ((p[0] & 0x1f) == 0x1f)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "DER: high tag number");
    *tag = p[0];
    if (p[1] < 0x80) {
        len = p[1];
        *hlen = 2;
    } else {
        nlen = p[1] & 0x7fu;
        /* 0x80 is BER's indefinite form, forbidden in DER. */
        if (nlen == 0 || nlen > 4)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "DER: indefinite or oversized length");
        if (n < 2 + nlen)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "DER: length truncated");
        /* Minimal form: no leading zero octet, and the long form only for
         * lengths that do not fit the short one. */
        if (p[2] == 0)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "DER: non-minimal length");
        len = 0;
        for (i = 0; i < nlen; i++)
            len = (len << 8) | p[2 + i];
        if (len < 0x80)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "DER: non-minimal length");
        *hlen = 2 + nlen;
    }
    if (len > BASE_DER_MAX_LEN || len > n - *hlen)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "DER: element longer than its container");
    *clen = len;
    return HSMSSP_OK;
}

int
base_der_peek(const base_der *in)
{
    if (in->len == 0 || (in->p[0] & 0x1f) == 0x1f)
        return -1;
    return in->p[0];
}

hsmssp_err
base_der_get_any(base_der *in, unsigned *tag_out, base_der *content_out,
                 base_der *whole_out)
{
    unsigned tag = 0;
    size_t hlen = 0, clen = 0;
    hsmssp_err ret;

    ret = read_header(in, &tag, &hlen, &clen);
    if (ret != HSMSSP_OK)
        return ret;
    if (tag_out != NULL)
        *tag_out = tag;
    if (content_out != NULL)
        *content_out = base_der_view(in->p + hlen, clen);
    if (whole_out != NULL)
        *whole_out = base_der_view(in->p, hlen + clen);
    in->p += hlen + clen;
    in->len -= hlen + clen;
    return HSMSSP_OK;
}

hsmssp_err
base_der_get(base_der *in, unsigned tag, base_der *content_out,
             base_der *whole_out)
{
    base_der save = *in;
    unsigned got;
    hsmssp_err ret;

    ret = base_der_get_any(in, &got, content_out, whole_out);
    if (ret != HSMSSP_OK)
        return ret;
    if (got != tag) {
        *in = save;
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "DER: expected tag 0x%02x, found 0x%02x", tag, got);
    }
    return HSMSSP_OK;
}

hsmssp_err
base_der_get_opt(base_der *in, unsigned tag, base_der *content_out,
                 bool *present_out)
{
    *present_out = false;
    if (base_der_peek(in) != (int)tag)
        return HSMSSP_OK;
    *present_out = true;
    return base_der_get(in, tag, content_out, NULL);
}

hsmssp_err
base_der_end(const base_der *in)
{
    if (in->len != 0)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "DER: %zu unexpected trailing bytes", in->len);
    return HSMSSP_OK;
}

hsmssp_err
base_der_check(base_der in, unsigned max_depth)
{
    /* An explicit stack of the remaining bytes of each open constructed
     * element, so hostile nesting costs a bounded array, not C stack. */
    base_der stack[65];
    unsigned depth = 0, tag;
    base_der content;
    hsmssp_err ret;

    if (max_depth > 64)
        max_depth = 64;
    stack[0] = in;
    for (;;) {
        if (stack[depth].len == 0) {
            if (depth == 0)
                return HSMSSP_OK;
            depth--;
            continue;
        }
        ret = base_der_get_any(&stack[depth], &tag, &content, NULL);
        if (ret != HSMSSP_OK)
            return ret;
        if (tag & 0x20u) {
            if (depth + 1 > max_depth)
                return BASE_ERR(HSMSSP_ERR_LIMIT,
                                "DER: nesting deeper than %u", max_depth);
            stack[++depth] = content;
        }
    }
}

hsmssp_err
base_der_int(base_der c, int64_t min, int64_t max, int64_t *out)
{
    uint64_t u;
    size_t i;

    *out = 0;
    if (c.len == 0 || c.len > 8)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "DER: INTEGER of %zu octets",
                        c.len);
    /* Minimal two's complement: the first nine bits are never all equal. */
    if (c.len > 1 && ((c.p[0] == 0x00 && (c.p[1] & 0x80) == 0) ||
                      (c.p[0] == 0xff && (c.p[1] & 0x80) != 0)))
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "DER: non-minimal INTEGER");
    /* Sign-extend into 64 bits through unsigned arithmetic (no signed
     * overflow). */
    u = (c.p[0] & 0x80) ? UINT64_MAX : 0;
    for (i = 0; i < c.len; i++)
        u = (u << 8) | c.p[i];
    if ((int64_t)u < min || (int64_t)u > max)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "DER: INTEGER out of range");
    *out = (int64_t)u;
    return HSMSSP_OK;
}

hsmssp_err
base_der_uint32(base_der c, uint32_t *out)
{
    int64_t v;
    hsmssp_err ret;

    *out = 0;
    ret = base_der_int(c, INT32_MIN, UINT32_MAX, &v);
    if (ret != HSMSSP_OK)
        return ret;
    *out = (uint32_t)(uint64_t)v;
    return HSMSSP_OK;
}

int64_t
base_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Days since 1970-01-01 of a proleptic Gregorian date: shift the year
     * to start in March so the leap day is last, then count whole 400-year
     * eras (146097 days each). */
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void
base_civil_from_days(int64_t z, int64_t *y_out, unsigned *m_out,
                     unsigned *d_out)
{
    int64_t era, doe, yoe, y, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d_out = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m_out = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y_out = y + (*m_out <= 2);
}

/* Parses n decimal digits at p. */
static bool
digits(const uint8_t *p, size_t n, unsigned *out)
{
    unsigned v = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

hsmssp_err
base_der_ktime(base_der c, int64_t *out)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, s;

    *out = 0;
    /* RFC 4120 sec. 5.2.3: no fractional seconds, always "Z". */
    if (c.len != 15 || c.p[14] != 'Z' || !digits(c.p, 4, &y) ||
        !digits(c.p + 4, 2, &mo) || !digits(c.p + 6, 2, &d) ||
        !digits(c.p + 8, 2, &h) || !digits(c.p + 10, 2, &mi) ||
        !digits(c.p + 12, 2, &s))
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "DER: bad KerberosTime");
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 &&
         !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) ||
        h > 23 || mi > 59 || s > 59)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "DER: KerberosTime out of range");
    *out = base_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return HSMSSP_OK;
}

hsmssp_err
base_der_flags32(base_der c, uint32_t *out)
{
    *out = 0;
    /* First octet: unused bits in the last octet.  KerberosFlags are at
     * least 32 bits; MIT and Windows send exactly 32 with 0 unused. */
    if (c.len < 5 || c.p[0] > 7)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "DER: bad KerberosFlags");
    *out = base_load_be32(c.p + 1);
    return HSMSSP_OK;
}

hsmssp_err
base_der_get_field(base_der *in, unsigned n, unsigned inner_tag,
                   base_der *value_out)
{
    base_der save = *in, wrap;
    hsmssp_err ret;

    ret = base_der_get(in, BASE_DER_CTX(n), &wrap, NULL);
    if (ret == HSMSSP_OK)
        ret = base_der_get(&wrap, inner_tag, value_out, NULL);
    if (ret == HSMSSP_OK)
        ret = base_der_end(&wrap);
    if (ret != HSMSSP_OK)
        *in = save;
    return ret;
}

hsmssp_err
base_der_get_field_opt(base_der *in, unsigned n, unsigned inner_tag,
                       base_der *value_out, bool *present_out)
{
    *present_out = false;
    if (base_der_peek(in) != (int)BASE_DER_CTX(n))
        return HSMSSP_OK;
    *present_out = true;
    return base_der_get_field(in, n, inner_tag, value_out);
}

/* ---- writer --------------------------------------------------------- */

void
base_der_w_init(base_der_w *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->pos = cap;
    w->err = HSMSSP_OK;
}

void
base_der_w_raw(base_der_w *w, const void *p, size_t n)
{
    if (w->err != HSMSSP_OK)
        return;
    if (n > w->pos) {
        w->err = BASE_ERR(HSMSSP_ERR_BUFFER_TOO_SMALL,
                          "DER encoding exceeds %zu bytes", w->cap);
        return;
    }
    w->pos -= n;
    if (n > 0)
        memmove(w->buf + w->pos, p, n);
}

void
base_der_w_wrap(base_der_w *w, unsigned tag, size_t len)
{
    uint8_t h[6];
    size_t n = 0, i;

    if (w->err != HSMSSP_OK)
        return;
    if (len > BASE_DER_MAX_LEN) {
        w->err = BASE_ERR(HSMSSP_ERR_INPUT_TOO_LARGE,
                          "DER element of %zu bytes", len);
        return;
    }
    h[n++] = (uint8_t)tag;
    if (len < 0x80) {
        h[n++] = (uint8_t)len;
    } else {
        size_t nlen = len > 0xffffff ? 4 : len > 0xffff ? 3
                                         : len > 0xff   ? 2
                                                        : 1;
        h[n++] = (uint8_t)(0x80 | nlen);
        for (i = nlen; i > 0; i--)
            h[n++] = (uint8_t)(len >> (8 * (i - 1)));
    }
    base_der_w_raw(w, h, n);
}

void
base_der_w_prim(base_der_w *w, unsigned tag, const void *p, size_t n)
{
    base_der_w_raw(w, p, n);
    base_der_w_wrap(w, tag, n);
}

void
base_der_w_int(base_der_w *w, int64_t v)
{
    uint8_t b[8];
    size_t n = 8, i;
    uint64_t u = (uint64_t)v;

    for (i = 0; i < 8; i++)
        b[7 - i] = (uint8_t)(u >> (8 * i));
    /* Drop leading octets while the next one carries the same sign. */
    i = 0;
    while (n - i > 1 && ((b[i] == 0x00 && (b[i + 1] & 0x80) == 0) ||
                         (b[i] == 0xff && (b[i + 1] & 0x80) != 0)))
        i++;
    base_der_w_prim(w, BASE_DER_INTEGER, b + i, n - i);
}

void
base_der_w_ktime(base_der_w *w, int64_t t)
{
    char s[16];
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400, y;
    unsigned m, d;

    base_civil_from_days(days, &y, &m, &d);
    if (y < 1970 || y > 9999) {
        if (w->err == HSMSSP_OK)
            w->err = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                              "time outside KerberosTime's range");
        return;
    }
    (void)snprintf(s, sizeof(s), "%04u%02u%02u%02u%02u%02uZ", (unsigned)y,
                   m, d, (unsigned)(secs / 3600),
                   (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
    base_der_w_prim(w, BASE_DER_GENERALIZED_TIME, s, 15);
}

void
base_der_w_flags32(base_der_w *w, uint32_t flags)
{
    uint8_t b[5];

    b[0] = 0;
    base_store_be32(b + 1, flags);
    base_der_w_prim(w, BASE_DER_BIT_STRING, b, sizeof(b));
}

hsmssp_err
base_der_w_finish(const base_der_w *w, base_der *out)
{
    out->p = NULL;
    out->len = 0;
    if (w->err != HSMSSP_OK)
        return w->err;
    *out = base_der_view(w->buf + w->pos, w->cap - w->pos);
    return HSMSSP_OK;
}

bool
base_der_eq(base_der a, base_der b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool
base_der_eq_str(base_der a, const char *s)
{
    return base_der_eq(a, base_der_view(s, strlen(s)));
}
