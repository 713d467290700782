/*
 * tests/unit/hsm/test_cache.c - the derived-key cache's bookkeeping, with
 * no token: bounded size, LRU eviction, pinned entries never evicted,
 * stale generations reused without an eviction, reset.
 */
#include "testutil.h"

#include "hsm/hsm-int.h"

static void
unpin(hsm_cache_entry *e)
{
    assert_non_null(e);
    assert_true(e->pins > 0);
    e->pins--;
}

static void
test_find_insert(void **state)
{
    hsm_cache c;
    CK_OBJECT_HANDLE ev;
    hsm_cache_entry *e;

    (void)state;
    TU_OK(hsm_cache_init(&c, 4));
    assert_null(hsm_cache_find_unlocked(&c, 1, 2, 0xAA, 1));
    e = hsm_cache_insert_unlocked(&c, 1, 2, 0xAA, 1, 100, &ev);
    assert_non_null(e);
    assert_int_equal(ev, CK_INVALID_HANDLE);
    assert_int_equal(e->pins, 1);
    unpin(e);
    e = hsm_cache_find_unlocked(&c, 1, 2, 0xAA, 1);
    assert_non_null(e);
    assert_int_equal(e->obj, 100);
    unpin(e);
    /* other role, usage, key or generation: no hit */
    assert_null(hsm_cache_find_unlocked(&c, 1, 2, 0x55, 1));
    assert_null(hsm_cache_find_unlocked(&c, 1, 3, 0xAA, 1));
    assert_null(hsm_cache_find_unlocked(&c, 2, 2, 0xAA, 1));
    assert_null(hsm_cache_find_unlocked(&c, 1, 2, 0xAA, 2));
    assert_int_equal(c.count, 1);
    hsm_cache_fini(&c);
}

static void
test_lru_eviction(void **state)
{
    hsm_cache c;
    CK_OBJECT_HANDLE ev;
    hsm_cache_entry *e;

    (void)state;
    TU_OK(hsm_cache_init(&c, 3));
    for (int i = 0; i < 3; i++) {
        e = hsm_cache_insert_unlocked(&c, (uint64_t)i, 2, 0xAA, 1,
                                      (CK_OBJECT_HANDLE)(10 + i), &ev);
        unpin(e);
        assert_int_equal(ev, CK_INVALID_HANDLE);
    }
    /* touch key 0 so key 1 is the least recently used */
    unpin(hsm_cache_find_unlocked(&c, 0, 2, 0xAA, 1));
    e = hsm_cache_insert_unlocked(&c, 7, 2, 0xAA, 1, 17, &ev);
    unpin(e);
    assert_int_equal(ev, 11);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.evictions, 1);
    assert_null(hsm_cache_find_unlocked(&c, 1, 2, 0xAA, 1));
    hsm_cache_fini(&c);
}

static void
test_pinned_not_evicted(void **state)
{
    hsm_cache c;
    CK_OBJECT_HANDLE ev;
    hsm_cache_entry *a, *b;

    (void)state;
    TU_OK(hsm_cache_init(&c, 2));
    a = hsm_cache_insert_unlocked(&c, 1, 2, 0xAA, 1, 21, &ev);
    b = hsm_cache_insert_unlocked(&c, 2, 2, 0xAA, 1, 22, &ev);
    /* both pinned: nothing can be evicted */
    assert_null(hsm_cache_insert_unlocked(&c, 3, 2, 0xAA, 1, 23, &ev));
    assert_int_equal(ev, CK_INVALID_HANDLE);
    unpin(b);
    assert_non_null(hsm_cache_insert_unlocked(&c, 3, 2, 0xAA, 1, 23, &ev));
    assert_int_equal(ev, 22);
    unpin(a);
    hsm_cache_fini(&c);
}

static void
test_stale_generation(void **state)
{
    hsm_cache c;
    CK_OBJECT_HANDLE ev;

    (void)state;
    TU_OK(hsm_cache_init(&c, 2));
    unpin(hsm_cache_insert_unlocked(&c, 1, 2, 0xAA, 1, 31, &ev));
    unpin(hsm_cache_insert_unlocked(&c, 2, 2, 0xAA, 1, 32, &ev));
    /* generation 2: old entries are dead handles, reused silently */
    unpin(hsm_cache_insert_unlocked(&c, 3, 2, 0xAA, 2, 33, &ev));
    assert_int_equal(ev, CK_INVALID_HANDLE);
    assert_int_equal(c.evictions, 0);
    assert_int_equal(c.count, 2);
    hsm_cache_reset_unlocked(&c);
    assert_int_equal(c.count, 0);
    assert_null(hsm_cache_find_unlocked(&c, 3, 2, 0xAA, 2));
    hsm_cache_fini(&c);
}

static void
test_default_cap(void **state)
{
    hsm_cache c;

    (void)state;
    TU_OK(hsm_cache_init(&c, 0));
    assert_int_equal(c.cap, HSM_CACHE_DEFAULT);
    hsm_cache_fini(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_insert),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_pinned_not_evicted),
        cmocka_unit_test(test_stale_generation),
        cmocka_unit_test(test_default_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
