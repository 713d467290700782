/*
 * tests/unit/base/test_err.c - the error list (include/hsmssp/errors.h)
 * and the thread-local record of the last error (base/err.c).
 *
 * The list is expanded here a second time, independently of err.c, so
 * that the tables err.c generates are checked against the declaration
 * itself: order, uniqueness, messages, categories, name <-> value.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "testutil.h"

/* The list as the test sees it. */
struct decl {
    hsmssp_err code;
    int num;
    hsmssp_err_category cat;
    const char *name;
    const char *msg;
};

static const struct decl decls[] = {
#define DECL_(name, num, cat, msg) {name, num, HSMSSP_CAT_##cat, #name, msg},
    HSMSSP_ERR_LIST(DECL_)
#undef DECL_
};
#define N_DECLS (sizeof(decls) / sizeof(decls[0]))

/* Name -> value through the list, the inverse of hsmssp_err_name(). */
static bool
value_of(const char *name, hsmssp_err *out)
{
    for (size_t i = 0; i < N_DECLS; i++) {
        if (strcmp(decls[i].name, name) == 0) {
            *out = decls[i].code;
            return true;
        }
    }
    return false;
}

static void
test_list_order_and_uniqueness(void **state)
{
    (void)state;
    assert_true(N_DECLS > 10);
    /* HSMSSP_OK comes first and is 0. */
    assert_int_equal(decls[0].code, HSMSSP_OK);
    assert_int_equal(decls[0].num, 0);
    for (size_t i = 0; i < N_DECLS; i++) {
        /* The enum value is the declared number. */
        assert_int_equal((int)decls[i].code, decls[i].num);
        /* Numbers ascend strictly in declaration order, which also makes
         * them unique. */
        if (i > 0 && decls[i].num <= decls[i - 1].num)
            fail_msg("%s (%d) is not above %s (%d)", decls[i].name,
                     decls[i].num, decls[i - 1].name, decls[i - 1].num);
        /* Names are unique and well-formed. */
        assert_true(strncmp(decls[i].name, "HSMSSP_", 7) == 0);
        for (size_t j = i + 1; j < N_DECLS; j++)
            assert_string_not_equal(decls[i].name, decls[j].name);
    }
}

/* Categories occupy contiguous runs of numbers: an operator can tell the
 * category from the number, and a new code lands in its category's run. */
static void
test_categories_contiguous(void **state)
{
    bool seen[HSMSSP_CAT_INTERNAL + 1] = {false};

    (void)state;
    /* Skip HSMSSP_OK: it is success, filed under INTERNAL only so that
     * every code has a category. */
    for (size_t i = 1; i < N_DECLS; i++) {
        hsmssp_err_category c = decls[i].cat;
        assert_in_range(c, HSMSSP_CAT_USAGE, HSMSSP_CAT_INTERNAL);
        if (i > 1 && c != decls[i - 1].cat) {
            if (seen[c])
                fail_msg("category %s resumes at %s",
                         hsmssp_err_category_name(c), decls[i].name);
        }
        seen[c] = true;
    }
    for (int c = HSMSSP_CAT_USAGE; c <= HSMSSP_CAT_INTERNAL; c++)
        assert_true(seen[c]);
}

static void
test_messages_and_categories(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_DECLS; i++) {
        hsmssp_err e = decls[i].code;
        const char *m = hsmssp_err_message(e);

        assert_non_null(m);
        assert_true(strlen(m) > 0);
        assert_string_equal(m, decls[i].msg);
        assert_string_not_equal(m, "unknown error");
        /* One line, no trailing period or newline: messages get a detail
         * appended after ": ". */
        assert_null(strchr(m, '\n'));
        assert_true(m[strlen(m) - 1] != '.');
        assert_int_equal(hsmssp_err_category_of(e), decls[i].cat);
    }
    /* Category names: distinct, non-empty. */
    for (int a = HSMSSP_CAT_USAGE; a <= HSMSSP_CAT_INTERNAL; a++) {
        const char *na = hsmssp_err_category_name((hsmssp_err_category)a);
        assert_true(strlen(na) > 0);
        for (int b = a + 1; b <= HSMSSP_CAT_INTERNAL; b++)
            assert_string_not_equal(
                na, hsmssp_err_category_name((hsmssp_err_category)b));
    }
    assert_string_equal(hsmssp_err_category_name(HSMSSP_CAT_TOKEN), "token");
    assert_string_equal(hsmssp_err_category_name(HSMSSP_CAT_POLICY),
                        "policy");
}

static void
test_name_value_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_DECLS; i++) {
        hsmssp_err back = (hsmssp_err)-1;
        const char *name = hsmssp_err_name(decls[i].code);

        assert_string_equal(name, decls[i].name);
        assert_true(value_of(name, &back));
        assert_int_equal(back, decls[i].code);
    }
    /* Every number in 0..199 that is not declared is unknown. */
    for (int n = 0; n < 200; n++) {
        bool declared = false;
        for (size_t i = 0; i < N_DECLS; i++)
            declared |= decls[i].num == n;
        if (declared)
            continue;
        assert_string_equal(hsmssp_err_name((hsmssp_err)n), "unknown");
        assert_string_equal(hsmssp_err_message((hsmssp_err)n),
                            "unknown error");
        assert_int_equal(hsmssp_err_category_of((hsmssp_err)n),
                         HSMSSP_CAT_INTERNAL);
    }
    assert_string_equal(hsmssp_err_name((hsmssp_err)-5), "unknown");
}

static void
test_raise_and_clear(void **state)
{
    hsmssp_err r;
    int line;

    (void)state;
    base_err_clear();
    assert_int_equal(hsmssp_last_error(), HSMSSP_OK);
    assert_string_equal(hsmssp_last_error_detail(), "success");

    line = __LINE__ + 1;
    r = BASE_ERR(HSMSSP_ERR_NO_TOKEN, "token '%s' in slot %d", "abc", 7);
    assert_int_equal(r, HSMSSP_ERR_NO_TOKEN);
    assert_int_equal(hsmssp_last_error(), HSMSSP_ERR_NO_TOKEN);
    assert_string_equal(hsmssp_last_error_detail(),
                        "no token matches: token 'abc' in slot 7");
    {
        char want[64];
        snprintf(want, sizeof(want), "test_err.c:%d", line);
        assert_string_equal(hsmssp_last_error_location(), want);
    }

    /* Without a detail the line is the message alone. */
    r = BASE_ERR0(HSMSSP_ERR_PIN_LOCKED);
    assert_int_equal(r, HSMSSP_ERR_PIN_LOCKED);
    assert_string_equal(hsmssp_last_error_detail(), "PIN locked");

    /* A file name without a directory is kept as it is. */
    (void)base_err_raise(HSMSSP_ERR_CONFIG, "plain.c", 12, "x");
    assert_string_equal(hsmssp_last_error_location(), "plain.c:12");
    assert_string_equal(hsmssp_last_error_detail(),
                        "invalid configuration: x");

    base_err_clear();
    assert_int_equal(hsmssp_last_error(), HSMSSP_OK);
    assert_string_equal(hsmssp_last_error_detail(), "success");
    assert_string_equal(hsmssp_last_error_location(), "");
}

/* Details longer than the record are cut, never overflow, and keep the
 * message in front; an over-long location is cut as well. */
static void
test_detail_truncation(void **state)
{
    char *big = malloc(4001), *path = malloc(1001);
    const char *d;
    const char *prefix = "invalid argument: ";

    (void)state;
    assert_non_null(big);
    assert_non_null(path);
    memset(big, 'x', 4000);
    big[4000] = '\0';
    memset(path, 'p', 1000);
    path[1000] = '\0';

    (void)base_err_raise(HSMSSP_ERR_INVALID_ARGUMENT, path, 1, "%s", big);
    d = hsmssp_last_error_detail();
    assert_true(strlen(d) > 100);
    assert_true(strlen(d) < 1024);
    assert_true(strncmp(d, prefix, strlen(prefix)) == 0);
    for (size_t i = strlen(prefix); d[i] != '\0'; i++)
        assert_int_equal(d[i], 'x');
    assert_true(strlen(hsmssp_last_error_location()) < 1000);
    assert_int_equal(hsmssp_last_error_location()[0], 'p');
    free(big);
    free(path);
}

/* ---- thread-local detail -------------------------------------------- */

static pthread_barrier_t barrier;

struct thread_arg {
    hsmssp_err code;
    const char *tag;
    bool ok;
};

/* Raise, wait until the other thread raised too, then check that this
 * thread still sees its own record. */
static void *
raiser(void *p)
{
    struct thread_arg *a = p;
    char want[128];

    /* A new thread starts with no error. */
    a->ok = hsmssp_last_error() == HSMSSP_OK;
    (void)BASE_ERR(a->code, "thread %s", a->tag);
    pthread_barrier_wait(&barrier);
    snprintf(want, sizeof(want), "%s: thread %s", hsmssp_err_message(a->code),
             a->tag);
    a->ok = a->ok && hsmssp_last_error() == a->code &&
            strcmp(hsmssp_last_error_detail(), want) == 0;
    pthread_barrier_wait(&barrier);
    return NULL;
}

static void
test_thread_local(void **state)
{
    struct thread_arg a = {HSMSSP_ERR_KEY_GONE, "one", false};
    struct thread_arg b = {HSMSSP_ERR_INTEGRITY, "two", false};
    pthread_t ta, tb;

    (void)state;
    (void)BASE_ERR(HSMSSP_ERR_NOMEM, "main");
    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
    assert_int_equal(pthread_create(&ta, NULL, raiser, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, raiser, &b), 0);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(pthread_join(tb, NULL), 0);
    pthread_barrier_destroy(&barrier);
    assert_true(a.ok);
    assert_true(b.ok);
    /* The main thread's record is untouched. */
    assert_int_equal(hsmssp_last_error(), HSMSSP_ERR_NOMEM);
    assert_string_equal(hsmssp_last_error_detail(), "out of memory: main");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_order_and_uniqueness),
        cmocka_unit_test(test_categories_contiguous),
        cmocka_unit_test(test_messages_and_categories),
        cmocka_unit_test(test_name_value_round_trip),
        cmocka_unit_test(test_raise_and_clear),
        cmocka_unit_test(test_detail_truncation),
        cmocka_unit_test(test_thread_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
