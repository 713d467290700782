/*
 * tests/unit/base/test_der.c - the zero-copy DER reader and the reverse
 * writer (base/der.c): every DER rule the reader enforces is tried with an
 * input that breaks exactly that rule, the writer's output is read back,
 * and the calendar arithmetic is checked against libc's timegm/gmtime.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/der.h"
#include "testutil.h"

#define V(...) ((const uint8_t[]){__VA_ARGS__})
#define VIEW(...) base_der_view(V(__VA_ARGS__), sizeof(V(__VA_ARGS__)))

static void
test_lengths(void **state)
{
    base_der in, c, whole;
    unsigned tag;
    uint8_t big[300];

    (void)state;
    /* Short form. */
    in = VIEW(0x04, 0x02, 0xaa, 0xbb, 0x05, 0x00);
    TU_OK(base_der_get(&in, BASE_DER_OCTET_STRING, &c, &whole));
    assert_int_equal(c.len, 2);
    assert_int_equal(c.p[0], 0xaa);
    assert_int_equal(whole.len, 4);
    assert_int_equal(in.len, 2);
    TU_OK(base_der_get(&in, BASE_DER_NULL, &c, NULL));
    assert_int_equal(c.len, 0);
    TU_OK(base_der_end(&in));

    /* Long form, minimal: 0x81 only from 128, 0x82 only from 256. */
    memset(big, 0x11, sizeof(big));
    big[0] = 0x04;
    big[1] = 0x81;
    big[2] = 200;
    in = base_der_view(big, 203);
    TU_OK(base_der_get(&in, BASE_DER_OCTET_STRING, &c, NULL));
    assert_int_equal(c.len, 200);
    big[2] = 100; /* fits the short form: non-minimal */
    in = base_der_view(big, 103);
    TU_ERR(base_der_get(&in, BASE_DER_OCTET_STRING, &c, NULL),
           HSMSSP_ERR_BAD_TOKEN);
    big[1] = 0x82;
    big[2] = 0x00; /* leading zero length octet */
    big[3] = 200;
    in = base_der_view(big, 204);
    TU_ERR(base_der_get(&in, BASE_DER_OCTET_STRING, &c, NULL),
           HSMSSP_ERR_BAD_TOKEN);
    big[2] = 0x01;
    big[3] = 0x00; /* 256 bytes, header 4 */
    in = base_der_view(big, 260 > sizeof(big) ? sizeof(big) : 260);
    TU_OK(base_der_get(&in, BASE_DER_OCTET_STRING, &c, NULL));
    assert_int_equal(c.len, 256);

    /* Indefinite length, 5 length octets, truncation, high tag. */
    in = VIEW(0x30, 0x80, 0x00, 0x00);
    TU_ERR(base_der_get_any(&in, &tag, &c, NULL), HSMSSP_ERR_BAD_TOKEN);
    in = VIEW(0x04, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00);
    TU_ERR(base_der_get_any(&in, &tag, &c, NULL), HSMSSP_ERR_BAD_TOKEN);
    in = VIEW(0x04, 0x03, 0x01, 0x02);
    TU_ERR(base_der_get_any(&in, &tag, &c, NULL), HSMSSP_ERR_BAD_TOKEN);
    in = VIEW(0x04, 0x82, 0x01);
    TU_ERR(base_der_get_any(&in, &tag, &c, NULL), HSMSSP_ERR_BAD_TOKEN);
    in = VIEW(0x04);
    TU_ERR(base_der_get_any(&in, &tag, &c, NULL), HSMSSP_ERR_BAD_TOKEN);
    in = VIEW(0x1f, 0x81, 0x01, 0x00);
    TU_ERR(base_der_get_any(&in, &tag, &c, NULL), HSMSSP_ERR_BAD_TOKEN);
    assert_int_equal(base_der_peek(&in), -1);

    /* A wrong tag leaves the input where it was. */
    in = VIEW(0x02, 0x01, 0x05);
    TU_ERR(base_der_get(&in, BASE_DER_OCTET_STRING, &c, NULL),
           HSMSSP_ERR_BAD_TOKEN);
    assert_int_equal(in.len, 3);
    TU_ERR(base_der_end(&in), HSMSSP_ERR_BAD_TOKEN);
}

static void
test_optional_and_fields(void **state)
{
    base_der in, v;
    bool present;

    (void)state;
    /* [0] INTEGER 5, [2] OCTET STRING "ab" (field [1] absent). */
    in = VIEW(0xa0, 0x03, 0x02, 0x01, 0x05, 0xa2, 0x04, 0x04, 0x02, 'a',
              'b');
    TU_OK(base_der_get_field(&in, 0, BASE_DER_INTEGER, &v));
    assert_int_equal(v.p[0], 5);
    TU_OK(base_der_get_field_opt(&in, 1, BASE_DER_INTEGER, &v, &present));
    assert_false(present);
    TU_OK(base_der_get_field_opt(&in, 2, BASE_DER_OCTET_STRING, &v,
                                 &present));
    assert_true(present);
    assert_true(base_der_eq_str(v, "ab"));
    TU_OK(base_der_end(&in));

    /* The explicit wrapper must hold exactly one element. */
    in = VIEW(0xa0, 0x05, 0x02, 0x01, 0x05, 0x05, 0x00);
    TU_ERR(base_der_get_field(&in, 0, BASE_DER_INTEGER, &v),
           HSMSSP_ERR_BAD_TOKEN);
    assert_int_equal(in.len, 7); /* untouched on failure */
    /* Wrong inner type. */
    in = VIEW(0xa0, 0x03, 0x04, 0x01, 0x05);
    TU_ERR(base_der_get_field(&in, 0, BASE_DER_INTEGER, &v),
           HSMSSP_ERR_BAD_TOKEN);
    in = VIEW(0x05, 0x00);
    TU_OK(base_der_get_opt(&in, BASE_DER_OCTET_STRING, &v, &present));
    assert_false(present);
    TU_OK(base_der_get_opt(&in, BASE_DER_NULL, &v, &present));
    assert_true(present);
}

static void
test_integers(void **state)
{
    int64_t v;
    uint32_t u;

    (void)state;
    TU_OK(base_der_int(VIEW(0x00), INT64_MIN, INT64_MAX, &v));
    assert_int_equal(v, 0);
    TU_OK(base_der_int(VIEW(0x7f), INT64_MIN, INT64_MAX, &v));
    assert_int_equal(v, 127);
    TU_OK(base_der_int(VIEW(0x00, 0x80), INT64_MIN, INT64_MAX, &v));
    assert_int_equal(v, 128);
    TU_OK(base_der_int(VIEW(0x80), INT64_MIN, INT64_MAX, &v));
    assert_int_equal(v, -128);
    TU_OK(base_der_int(VIEW(0xff, 0x7f), INT64_MIN, INT64_MAX, &v));
    assert_int_equal(v, -129);
    /* Non-minimal in both signs, empty, too long. */
    TU_ERR(base_der_int(VIEW(0x00, 0x7f), INT64_MIN, INT64_MAX, &v),
           HSMSSP_ERR_BAD_TOKEN);
    TU_ERR(base_der_int(VIEW(0xff, 0x80), INT64_MIN, INT64_MAX, &v),
           HSMSSP_ERR_BAD_TOKEN);
    TU_ERR(base_der_int(base_der_view("", 0), INT64_MIN, INT64_MAX, &v),
           HSMSSP_ERR_BAD_TOKEN);
    TU_ERR(base_der_int(VIEW(1, 2, 3, 4, 5, 6, 7, 8, 9), INT64_MIN,
                        INT64_MAX, &v),
           HSMSSP_ERR_BAD_TOKEN);
    /* Range. */
    TU_ERR(base_der_int(VIEW(0x06), 0, 5, &v), HSMSSP_ERR_BAD_TOKEN);
    TU_OK(base_der_int(VIEW(0x05), 5, 5, &v));

    /* UInt32: positive up to 2^32-1, and the negative compatibility form. */
    TU_OK(base_der_uint32(VIEW(0x00, 0xff, 0xff, 0xff, 0xff), &u));
    assert_int_equal(u, 0xffffffffu);
    TU_OK(base_der_uint32(VIEW(0xff), &u));
    assert_int_equal(u, 0xffffffffu);
    TU_OK(base_der_uint32(VIEW(0x80, 0x00, 0x00, 0x00), &u));
    assert_int_equal(u, 0x80000000u);
    TU_ERR(base_der_uint32(VIEW(0x01, 0x00, 0x00, 0x00, 0x00), &u),
           HSMSSP_ERR_BAD_TOKEN);
}

static void
test_ktime(void **state)
{
    int64_t t;

    (void)state;
    TU_OK(base_der_ktime(base_der_view("19700101000000Z", 15), &t));
    assert_int_equal(t, 0);
    TU_OK(base_der_ktime(base_der_view("20261206013200Z", 15), &t));
    assert_int_equal(t, 1796520720);
    TU_OK(base_der_ktime(base_der_view("20240229235959Z", 15), &t));
    TU_ERR(base_der_ktime(base_der_view("20230229000000Z", 15), &t),
           HSMSSP_ERR_BAD_TOKEN);
    TU_ERR(base_der_ktime(base_der_view("19000229000000Z", 15), &t),
           HSMSSP_ERR_BAD_TOKEN);
    TU_ERR(base_der_ktime(base_der_view("20261206013200", 14), &t),
           HSMSSP_ERR_BAD_TOKEN);
    TU_ERR(base_der_ktime(base_der_view("20261206013200.5Z", 17), &t),
           HSMSSP_ERR_BAD_TOKEN);
    TU_ERR(base_der_ktime(base_der_view("20261306013200Z", 15), &t),
           HSMSSP_ERR_BAD_TOKEN);
    TU_ERR(base_der_ktime(base_der_view("2026120601320aZ", 15), &t),
           HSMSSP_ERR_BAD_TOKEN);
    TU_ERR(base_der_ktime(base_der_view("20261206246000Z", 15), &t),
           HSMSSP_ERR_BAD_TOKEN);
}

static void
test_calendar_vs_libc(void **state)
{
    (void)state;
    /* Every day from 1970 to 2400 through both conversions. */
    for (int64_t days = 0; days < 157000; days += 1) {
        time_t tt = (time_t)(days * 86400);
        struct tm tm;
        int64_t y;
        unsigned m, d;

        assert_non_null(gmtime_r(&tt, &tm));
        base_civil_from_days(days, &y, &m, &d);
        assert_int_equal(y, tm.tm_year + 1900);
        assert_int_equal(m, (unsigned)tm.tm_mon + 1);
        assert_int_equal(d, (unsigned)tm.tm_mday);
        assert_int_equal(base_days_from_civil(y, m, d), days);
    }
}

static void
test_flags(void **state)
{
    uint32_t f;

    (void)state;
    TU_OK(base_der_flags32(VIEW(0x00, 0x40, 0x81, 0x00, 0x01), &f));
    assert_int_equal(f, 0x40810001u);
    TU_OK(base_der_flags32(VIEW(0x00, 0x80, 0, 0, 0, 0xff), &f));
    assert_int_equal(f, 0x80000000u);
    TU_ERR(base_der_flags32(VIEW(0x00, 0x40, 0x81), &f),
           HSMSSP_ERR_BAD_TOKEN);
    TU_ERR(base_der_flags32(VIEW(0x08, 0, 0, 0, 0), &f),
           HSMSSP_ERR_BAD_TOKEN);
}

static void
test_check_depth(void **state)
{
    uint8_t buf[200];
    size_t n = 0, depth = 40;

    (void)state;
    /* depth nested SEQUENCEs around a NULL. */
    for (size_t i = 0; i < depth; i++) {
        buf[n++] = 0x30;
        buf[n++] = (uint8_t)(2 * (depth - i - 1) + 2);
    }
    buf[n++] = 0x05;
    buf[n++] = 0x00;
    TU_OK(base_der_check(base_der_view(buf, n), 40));
    TU_ERR(base_der_check(base_der_view(buf, n), 39), HSMSSP_ERR_LIMIT);
    /* A malformed leaf deep inside is found. */
    buf[n - 1] = 0x01;
    TU_ERR(base_der_check(base_der_view(buf, n), 40), HSMSSP_ERR_BAD_TOKEN);
    /* Siblings after a closed subtree are checked too. */
    TU_OK(base_der_check(VIEW(0x30, 0x02, 0x05, 0x00, 0x04, 0x01, 0x00), 4));
    TU_ERR(base_der_check(VIEW(0x30, 0x02, 0x05, 0x00, 0x04, 0x02, 0x00), 4),
           HSMSSP_ERR_BAD_TOKEN);
}

static void
test_writer_roundtrip(void **state)
{
    static const int64_t ints[] = {0,           1,          127,
                                   128,         255,        256,
                                   -1,          -128,       -129,
                                   32767,       32768,      -32768,
                                   -32769,      0x7fffffff, 0x80000000LL,
                                   0xffffffffLL, INT64_MAX, INT64_MIN};
    static const size_t lens[] = {0,     1,     127,   128,  255,
                                  256,   65535, 65536, 70000};
    uint8_t *buf = malloc(80000), *data = malloc(70000);
    base_der_w w;
    base_der out, in, c, v;
    int64_t got, t;
    size_t m;

    (void)state;
    assert_non_null(buf);
    assert_non_null(data);
    for (size_t i = 0; i < BASE_ARRAY_LEN(ints); i++) {
        base_der_w_init(&w, buf, 16);
        base_der_w_int(&w, ints[i]);
        TU_OK(base_der_w_finish(&w, &out));
        TU_OK(base_der_get(&out, BASE_DER_INTEGER, &c, NULL));
        TU_OK(base_der_int(c, INT64_MIN, INT64_MAX, &got));
        assert_int_equal(got, ints[i]);
    }
    tu_fill(data, 70000, 7);
    for (size_t i = 0; i < BASE_ARRAY_LEN(lens); i++) {
        /* SEQUENCE { [1] OCTET STRING data, [0] INTEGER len }, written
         * last field first. */
        base_der_w_init(&w, buf, 80000);
        m = base_der_w_len(&w);
        base_der_w_prim(&w, BASE_DER_OCTET_STRING, data, lens[i]);
        base_der_w_wrap(&w, BASE_DER_CTX(1), base_der_w_len(&w) - m);
        m = base_der_w_len(&w);
        base_der_w_int(&w, (int64_t)lens[i]);
        base_der_w_wrap(&w, BASE_DER_CTX(0), base_der_w_len(&w) - m);
        base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w));
        TU_OK(base_der_w_finish(&w, &out));
        TU_OK(base_der_check(out, 4));
        TU_OK(base_der_get(&out, BASE_DER_SEQUENCE, &in, NULL));
        TU_OK(base_der_end(&out));
        TU_OK(base_der_get_field(&in, 0, BASE_DER_INTEGER, &v));
        TU_OK(base_der_int(v, 0, 100000, &got));
        assert_int_equal(got, (int64_t)lens[i]);
        TU_OK(base_der_get_field(&in, 1, BASE_DER_OCTET_STRING, &v));
        assert_int_equal(v.len, lens[i]);
        assert_memory_equal(v.p, data, lens[i]);
        TU_OK(base_der_end(&in));
    }
    /* Times and flags. */
    for (t = 0; t < 253402300800LL; t += 86400 * 97 + 3607) {
        base_der_w_init(&w, buf, 32);
        base_der_w_ktime(&w, t);
        TU_OK(base_der_w_finish(&w, &out));
        TU_OK(base_der_get(&out, BASE_DER_GENERALIZED_TIME, &c, NULL));
        TU_OK(base_der_ktime(c, &got));
        assert_int_equal(got, t);
    }
    base_der_w_init(&w, buf, 32);
    base_der_w_flags32(&w, 0xa0000001u);
    TU_OK(base_der_w_finish(&w, &out));
    TU_OK(base_der_get(&out, BASE_DER_BIT_STRING, &c, NULL));
    {
        uint32_t f;
        TU_OK(base_der_flags32(c, &f));
        assert_int_equal(f, 0xa0000001u);
    }
    free(buf);
    free(data);
}

static void
test_writer_overflow_sticky(void **state)
{
    uint8_t buf[8];
    base_der_w w;
    base_der out;

    (void)state;
    base_der_w_init(&w, buf, sizeof(buf));
    base_der_w_prim(&w, BASE_DER_OCTET_STRING, "0123456789", 10);
    /* Later writes do nothing; the first error is reported. */
    base_der_w_int(&w, 1);
    TU_ERR(base_der_w_finish(&w, &out), HSMSSP_ERR_BUFFER_TOO_SMALL);
    assert_null(out.p);
    base_der_w_init(&w, buf, sizeof(buf));
    base_der_w_ktime(&w, -1);
    TU_ERR(base_der_w_finish(&w, &out), HSMSSP_ERR_INVALID_ARGUMENT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_optional_and_fields),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_ktime),
        cmocka_unit_test(test_calendar_vs_libc),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_check_depth),
        cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_writer_overflow_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
