/*
 * tests/hsm/test_token_fork.c - fork() with an open token, on SoftHSM2 and
 * NSS softoken.  PKCS#11 state is invalid in a child (PKCS#11 v2.40
 * sec. 6.7.7): the child's first call must re-initialise the module, open
 * new sessions and log in again, in a new generation, while the parent's
 * token keeps working untouched.
 *
 * The child cannot use cmocka's asserts (they would unwind into a copy of
 * the parent's test runner), so it runs a list of checks and exits with
 * the number of the first one that failed; the parent asserts on the exit
 * status.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "hsm/hsm-int.h"

/* An AES session object of the owner session, sensitive. */
static hsmssp_err
make_aes(hsm_token *tok, CK_OBJECT_HANDLE *obj_out)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL f = CK_FALSE, t = CK_TRUE;
    uint8_t value[16];
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},  {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &f, sizeof(f)},      {CKA_ENCRYPT, &t, sizeof(t)},
        {CKA_SENSITIVE, &t, sizeof(t)},  {CKA_EXTRACTABLE, &f, sizeof(f)},
        {CKA_VALUE, value, sizeof(value)},
    };
    CK_SESSION_HANDLE h;
    uint64_t gen;
    hsmssp_err e;
    CK_RV rv;

    tu_fill(value, sizeof(value), 3);
    *obj_out = CK_INVALID_HANDLE;
    e = hsm_owner_acquire(tok, &h, &gen);
    if (e != HSMSSP_OK)
        return e;
    rv = P11(tok, C_CreateObject, h, tmpl, BASE_ARRAY_LEN(tmpl), obj_out);
    hsm_owner_release(tok);
    return hsm_rv(rv, "C_CreateObject");
}

/* The child's checks: exit status 0 when all pass, else the number of the
 * failing check (printed to stderr for the log). */
#define CHILD_FAIL(n, what)                                                \
    do {                                                                   \
        fprintf(stderr, "child check %d failed: %s (%s)\n", (n), (what),   \
                hsmssp_last_error_detail());                               \
        _exit(n);                                                          \
    } while (0)

static void
child_main(hsm_token *tok, uint64_t parent_gen, CK_OBJECT_HANDLE parent_obj,
           bool owner_first)
{
    hsm_sess *s = NULL;
    CK_SESSION_INFO si;
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE obj;
    bool sens, extr;
    unsigned long vrv;
    uint64_t gen;

    if (owner_first) {
        /* The owner path detects the fork as well. */
        if (hsm_owner_acquire(tok, &h, &gen) != HSMSSP_OK)
            CHILD_FAIL(10, "hsm_owner_acquire in the child");
        hsm_owner_release(tok);
    }
    if (hsm_session_get(tok, &s) != HSMSSP_OK)
        CHILD_FAIL(11, "hsm_session_get in the child");
    if (tok->pid != getpid())
        CHILD_FAIL(12, "tok->pid not updated");
    if (s->gen <= parent_gen || tok->gen <= parent_gen)
        CHILD_FAIL(13, "generation not bumped");
    if (P11(tok, C_GetSessionInfo, s->h, &si) != CKR_OK)
        CHILD_FAIL(14, "new pooled session not usable");
    hsm_session_put(tok, s, false);
    if (tok->owner == CK_INVALID_HANDLE ||
        P11(tok, C_GetSessionInfo, tok->owner, &si) != CKR_OK)
        CHILD_FAIL(15, "no owner session in the child");
    if (tok->ident.login_required && si.state != CKS_RW_USER_FUNCTIONS)
        CHILD_FAIL(16, "child not logged in again");
    if (hsm_token_cache_size(tok) != 0)
        CHILD_FAIL(17, "cache not flushed");
    /* The child's own session objects work ... */
    if (make_aes(tok, &obj) != HSMSSP_OK)
        CHILD_FAIL(18, "cannot create an object in the child");
    if (hsm_object_check(tok, obj, &sens, &extr, &vrv) != HSMSSP_OK ||
        !sens || extr || vrv != CKR_ATTRIBUTE_SENSITIVE)
        CHILD_FAIL(19, "child object check");
    /* ... and the parent's session object is not visible (its session
     * belongs to the parent's module state).  A module may reuse the
     * handle number for the child's own object, so compare only when the
     * numbers differ. */
    if (parent_obj != obj &&
        hsm_object_check(tok, parent_obj, &sens, &extr, &vrv) == HSMSSP_OK)
        CHILD_FAIL(20, "parent's session object visible in the child");
    /* A second call in the same child does not re-initialise again. */
    gen = hsm_token_generation(tok);
    if (hsm_session_get(tok, &s) != HSMSSP_OK)
        CHILD_FAIL(21, "second hsm_session_get");
    hsm_session_put(tok, s, false);
    if (hsm_token_generation(tok) != gen)
        CHILD_FAIL(22, "re-initialised twice");
    hsm_token_close(tok);
    _exit(0);
}

/* Opens the test token.  SoftHSM2 logs in from a pin-source file, re-read
 * by the child (test_fork_pin_value covers a retained pin-value). */
static hsm_token *
open_for_fork(tu_token_kind kind)
{
    hsm_config cfg;
    hsm_token *tok = NULL;
    static char uri[1024];

    tu_token_config(kind, 0, &cfg);
    if (kind == TU_SOFTHSM) {
        snprintf(uri, sizeof(uri),
                 "pkcs11:token=%s?pin-source=file:%s/pin", TU_SOFTHSM_TOKEN,
                 tu_softhsm_dir());
        cfg.token_uri = uri;
    }
    TU_OK(hsm_token_open(&cfg, &tok));
    return tok;
}

static void
fork_case(tu_token_kind kind, bool owner_first)
{
    hsm_token *tok = open_for_fork(kind);
    CK_OBJECT_HANDLE obj;
    CK_SESSION_INFO si;
    hsm_sess *s = NULL;
    bool sens, extr;
    unsigned long vrv;
    uint64_t gen;
    int status;
    pid_t pid;

    TU_OK(make_aes(tok, &obj));
    /* A pooled session the child must not reuse. */
    TU_OK(hsm_session_get(tok, &s));
    hsm_session_put(tok, s, false);
    gen = hsm_token_generation(tok);

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child_main(tok, gen, obj, owner_first);

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("%s child failed check %d", tu_token_name(kind),
                 WEXITSTATUS(status));

    /* The parent is untouched: same generation, same sessions, its
     * object still there. */
    assert_int_equal(hsm_token_generation(tok), gen);
    assert_int_equal(tok->pid, getpid());
    assert_int_equal(tok->fl->C_GetSessionInfo(tok->owner, &si), CKR_OK);
    TU_OK(hsm_session_get(tok, &s));
    assert_int_equal(s->gen, gen);
    assert_int_equal(tok->fl->C_GetSessionInfo(s->h, &si), CKR_OK);
    hsm_session_put(tok, s, false);
    TU_OK(hsm_object_check(tok, obj, &sens, &extr, &vrv));
    assert_true(sens);
    assert_int_equal(vrv, CKR_ATTRIBUTE_SENSITIVE);
    TU_OK(make_aes(tok, &obj));
    hsm_token_close(tok);
}

static void
test_fork_softhsm(void **state)
{
    (void)state;
    fork_case(TU_SOFTHSM, false);
}

static void
test_fork_softhsm_owner_first(void **state)
{
    (void)state;
    fork_case(TU_SOFTHSM, true);
}

static void
test_fork_nss(void **state)
{
    (void)state;
    fork_case(TU_NSS, false);
}

static void
test_fork_nss_owner_first(void **state)
{
    (void)state;
    fork_case(TU_NSS, true);
}

/* A retained pin-value: the child logs in again with it (secure memory
 * is not wiped across fork).  With wipe set, the child first zeroes the
 * PIN as MADV_WIPEONFORK would: then it must not try to log in with
 * zeros (a failed login counts towards the token's lockout) and says
 * why instead. */
static void
fork_pin_value_case(bool wipe)
{
    hsm_token *tok = tu_token_open(TU_SOFTHSM, 0);
    CK_SESSION_INFO si;
    hsm_sess *s = NULL;
    int status;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hsmssp_err e;

        if (wipe)
            base_memzero(tok->pin->data, tok->pin->len);
        e = hsm_session_get(tok, &s);
        if (!wipe) {
            if (e != HSMSSP_OK)
                CHILD_FAIL(30, "child login with the retained PIN");
            if (P11(tok, C_GetSessionInfo, tok->owner, &si) != CKR_OK ||
                si.state != CKS_RW_USER_FUNCTIONS)
                CHILD_FAIL(31, "child not logged in");
            hsm_session_put(tok, s, false);
        } else {
            if (e != HSMSSP_ERR_PIN_UNAVAILABLE ||
                strstr(hsmssp_last_error_detail(), "fork") == NULL)
                CHILD_FAIL(32, "expected PIN_UNAVAILABLE naming fork");
            if (tok->pin != NULL || !tok->pin_lost_in_fork)
                CHILD_FAIL(33, "wiped PIN kept");
        }
        hsm_token_close(tok);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("child failed check %d", WEXITSTATUS(status));
    /* The parent keeps its PIN and its login. */
    assert_non_null(tok->pin);
    assert_false(tok->pin_lost_in_fork);
    assert_int_equal(tok->fl->C_GetSessionInfo(tok->owner, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
    TU_OK(hsm_session_get(tok, &s));
    hsm_session_put(tok, s, false);
    hsm_token_close(tok);
}

static void
test_fork_pin_value(void **state)
{
    (void)state;
    fork_pin_value_case(false);
}

static void
test_fork_pin_value_wiped(void **state)
{
    (void)state;
    fork_pin_value_case(true);
}

/* A child that only closes the token (never used it): the parent's
 * sessions and login survive. */
static void
test_fork_child_closes(void **state)
{
    hsm_token *tok = open_for_fork(TU_SOFTHSM);
    CK_SESSION_INFO si;
    int status;
    pid_t pid;

    (void)state;
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hsm_token_close(tok);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(tok->fl->C_GetSessionInfo(tok->owner, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
    hsm_token_close(tok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_softhsm),
        cmocka_unit_test(test_fork_softhsm_owner_first),
        cmocka_unit_test(test_fork_nss),
        cmocka_unit_test(test_fork_nss_owner_first),
        cmocka_unit_test(test_fork_pin_value),
        cmocka_unit_test(test_fork_pin_value_wiped),
        cmocka_unit_test(test_fork_child_closes),
    };
    /* Keep NSS softoken mapped: its process-lifetime allocations would
     * otherwise turn into LeakSanitizer reports once p11-kit unloads it
     * (see test_token.c). */
    (void)dlopen(TU_NSS_MODULE, RTLD_NOW | RTLD_NODELETE);
    /* HSMSSP_TEST_FILTER=pattern runs a subset (when debugging). */
    if (getenv("HSMSSP_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("HSMSSP_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

