/*
 * tests/unit/base/test_util.c - the small primitives of base/: the wipe,
 * constant-time comparison, XOR, big-endian helpers (base/util.c) and the
 * log: callback and HSMSSP_TRACE file (base/log.c).
 *
 * HSMSSP_TRACE is read once per process, at the first event, so the trace
 * cases run in forked children that set it before logging anything.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "testutil.h"

/* ---- wipe, compare, xor, be32 --------------------------------------- */

static void
test_memzero(void **state)
{
    uint8_t buf[300];

    (void)state;
    memset(buf, 0xee, sizeof(buf));
    base_memzero(buf + 10, 200);
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], (i >= 10 && i < 210) ? 0 : 0xee);
    base_memzero(NULL, 0);
    base_memzero(buf, 0);
    assert_int_equal(buf[0], 0xee);
}

static void
test_ct_equal(void **state)
{
    uint8_t a[257], b[257];

    (void)state;
    tu_fill(a, sizeof(a), 1);
    memcpy(b, a, sizeof(b));
    assert_true(base_ct_equal(a, b, sizeof(a)));
    assert_true(base_ct_equal(a, b, 0));
    assert_true(base_ct_equal(NULL, NULL, 0));
    /* Every position and every bit of a byte is seen. */
    for (size_t i = 0; i < sizeof(a); i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            if (base_ct_equal(a, b, sizeof(a)))
                fail_msg("difference at byte %zu bit %d not seen", i, bit);
            /* A difference past n does not count. */
            assert_true(base_ct_equal(a, b, i));
            b[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_true(base_ct_equal(a, b, sizeof(a)));
    /* Differences that cancel in a sum or an XOR of all bytes. */
    b[0] ^= 0x01;
    b[1] ^= 0x01;
    assert_false(base_ct_equal(a, b, sizeof(a)));
    memcpy(b, a, sizeof(b));
    b[5] = (uint8_t)(a[5] + 1);
    b[6] = (uint8_t)(a[6] - 1);
    assert_false(base_ct_equal(a, b, sizeof(a)));
    /* All-different buffers. */
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (uint8_t)~a[i];
    assert_false(base_ct_equal(a, b, sizeof(a)));
    /* Same pointer. */
    assert_true(base_ct_equal(a, a, sizeof(a)));
}

static void
test_xor_and_be32(void **state)
{
    uint8_t x[5] = {0x00, 0xff, 0x0f, 0xaa, 0x12};
    const uint8_t y[5] = {0xff, 0xff, 0xf0, 0x55, 0x12};
    const uint8_t want[5] = {0xff, 0x00, 0xff, 0xff, 0x00};
    uint8_t be[4];

    (void)state;
    base_xor(x, y, sizeof(x));
    assert_memory_equal(x, want, sizeof(want));
    base_xor(x, y, 0);
    assert_memory_equal(x, want, sizeof(want));

    base_store_be32(be, 0x01020304u);
    assert_int_equal(be[0], 1);
    assert_int_equal(be[3], 4);
    assert_int_equal(base_load_be32(be), 0x01020304u);
    base_store_be32(be, 0xfffffffeu);
    assert_int_equal(base_load_be32(be), 0xfffffffeu);
}

/* ---- log callback ---------------------------------------------------- */

struct captured {
    pthread_mutex_t lock;
    int n;
    hsmssp_log_level level;
    char subsystem[64];
    char line[1024];
    void *ctx_seen;
};

static void
capture(void *ctx, hsmssp_log_level level, const char *subsystem,
        const char *line)
{
    struct captured *c = ctx;

    pthread_mutex_lock(&c->lock);
    c->n++;
    c->level = level;
    c->ctx_seen = ctx;
    snprintf(c->subsystem, sizeof(c->subsystem), "%s", subsystem);
    snprintf(c->line, sizeof(c->line), "%s", line);
    pthread_mutex_unlock(&c->lock);
}

static void
test_log_callback(void **state)
{
    struct captured c;
    char big[2000];

    (void)state;
    memset(&c, 0, sizeof(c));
    pthread_mutex_init(&c.lock, NULL);
    hsmssp_set_log_callback(capture, &c, HSMSSP_LOG_INFO);
    assert_true(base_log_enabled(HSMSSP_LOG_ERROR));
    assert_true(base_log_enabled(HSMSSP_LOG_INFO));

    base_log(HSMSSP_LOG_INFO, "test", "token '%s' recovered in %d ms", "t1",
             12);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.level, HSMSSP_LOG_INFO);
    assert_ptr_equal(c.ctx_seen, &c);
    assert_string_equal(c.subsystem, "test");
    assert_string_equal(c.line, "token 't1' recovered in 12 ms");

    /* Above the chosen level: not delivered. */
    base_log(HSMSSP_LOG_DEBUG, "test", "too chatty");
    assert_int_equal(c.n, 1);
    base_log(HSMSSP_LOG_ERROR, "hsm", "bad");
    assert_int_equal(c.n, 2);
    assert_int_equal(c.level, HSMSSP_LOG_ERROR);
    assert_string_equal(c.line, "bad");

    /* A long line is cut, not overflowed, and has no newline. */
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    base_log(HSMSSP_LOG_WARNING, "test", "%s", big);
    assert_int_equal(c.n, 3);
    assert_true(strlen(c.line) > 500);
    assert_true(strlen(c.line) < sizeof(big) - 1);
    assert_null(strchr(c.line, '\n'));

    /* Removed: nothing more arrives. */
    hsmssp_set_log_callback(NULL, NULL, HSMSSP_LOG_DEBUG);
    base_log(HSMSSP_LOG_ERROR, "test", "nobody listens");
    assert_int_equal(c.n, 3);
    if (getenv("HSMSSP_TRACE") == NULL)
        assert_false(base_log_enabled(HSMSSP_LOG_ERROR));
    pthread_mutex_destroy(&c.lock);
}

/* Several threads log at once: every event arrives, whole. */
struct log_thread {
    int id;
};

static void *
log_worker(void *p)
{
    struct log_thread *t = p;
    for (int i = 0; i < 200; i++)
        base_log(HSMSSP_LOG_WARNING, "test", "thread %d event %d", t->id, i);
    return NULL;
}

static void
count_only(void *ctx, hsmssp_log_level level, const char *subsystem,
           const char *line)
{
    struct captured *c = ctx;
    int id, ev;

    (void)level;
    (void)subsystem;
    pthread_mutex_lock(&c->lock);
    if (sscanf(line, "thread %d event %d", &id, &ev) == 2)
        c->n++;
    pthread_mutex_unlock(&c->lock);
}

static void
test_log_threads(void **state)
{
    struct captured c;
    pthread_t t[4];
    struct log_thread a[4];

    (void)state;
    memset(&c, 0, sizeof(c));
    pthread_mutex_init(&c.lock, NULL);
    hsmssp_set_log_callback(count_only, &c, HSMSSP_LOG_WARNING);
    for (int i = 0; i < 4; i++) {
        a[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, log_worker, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    hsmssp_set_log_callback(NULL, NULL, HSMSSP_LOG_WARNING);
    assert_int_equal(c.n, 800);
    pthread_mutex_destroy(&c.lock);
}

/* ---- HSMSSP_TRACE ---------------------------------------------------- */

static char trace_path[1024];

/* Child: point HSMSSP_TRACE at the file, then log.  The parent has not
 * logged yet, so the child's first event reads the variable. */
static int
trace_child(void)
{
    char subsys[300];

    setenv("HSMSSP_TRACE", trace_path, 1);
    /* No callback: the trace file alone makes events enabled. */
    hsmssp_set_log_callback(NULL, NULL, HSMSSP_LOG_ERROR);
    if (!base_log_enabled(HSMSSP_LOG_DEBUG))
        return 2;
    base_log(HSMSSP_LOG_WARNING, "hsm", "token '%s' removed", "t9");
    base_log(HSMSSP_LOG_DEBUG, "base", "debug line %d", 3);
    /* Longer than a trace line: the record must still end in '\n'. */
    memset(subsys, 's', sizeof(subsys) - 1);
    subsys[sizeof(subsys) - 1] = '\0';
    {
        char big[1500];
        memset(big, 'q', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        base_log(HSMSSP_LOG_ERROR, subsys, "%s", big);
    }
    base_log(HSMSSP_LOG_INFO, "base", "after the long one");
    return 0;
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    size_t n;

    assert_non_null(f);
    buf = calloc(1, 65536);
    assert_non_null(buf);
    n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void
test_trace_file(void **state)
{
    pid_t pid;
    int st;
    char *text, *line, *save = NULL;
    char want_pid[32];
    int n = 0;
    struct stat sb;

    (void)state;
    /* The once-flag must not have fired in this process yet, or the
     * child would inherit "no trace file": this case runs first. */
    snprintf(trace_path, sizeof(trace_path), "%s/trace-%ld.log",
             tu_work_dir(), (long)getpid());
    unlink(trace_path);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(trace_child());
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);

    /* Private to the user: events may name principals. */
    assert_int_equal(stat(trace_path, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);

    text = slurp(trace_path);
    snprintf(want_pid, sizeof(want_pid), "[%ld] ", (long)pid);
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        /* Every line carries the pid. */
        assert_true(strncmp(line, want_pid, strlen(want_pid)) == 0);
        switch (n) {
        case 0:
            assert_non_null(strstr(line, " warning hsm: token 't9' removed"));
            break;
        case 1:
            assert_non_null(strstr(line, " debug base: debug line 3"));
            break;
        case 2:
            assert_non_null(strstr(line, " error sss"));
            assert_true(strlen(line) < 1500);
            break;
        case 3:
            assert_non_null(strstr(line, " info base: after the long one"));
            break;
        }
        n++;
    }
    assert_int_equal(n, 4);
    free(text);
    unlink(trace_path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        /* First: the trace variable is read at the first event of the
         * process, and a forked child inherits that state. */
        cmocka_unit_test(test_trace_file),
        cmocka_unit_test(test_memzero),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_xor_and_be32),
        cmocka_unit_test(test_log_callback),
        cmocka_unit_test(test_log_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
