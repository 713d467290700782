/*
 * tests/unit/provider/test_local_user.c - local accounts and per-thread
 * impersonation (provider/local_user.h).
 *
 * Runs as root only (exit 77 otherwise; a failure with CI=true): the group
 * setup creates a throw-away primary group, a supplementary group and a
 * user with useradd/groupadd, plus a 0777 scratch directory holding a
 * root-only file and a file readable by the supplementary group alone;
 * the group teardown removes all of it, whatever the tests did.
 *
 * What is checked is what the kernel does, not what the module says: the
 * owner of a file the impersonating thread creates, whether it may open a
 * root-only file (EACCES: the file-system capabilities left with the
 * fsuid), whether the supplementary group opens the group file, and the
 * Uid/Gid/Groups lines of /proc/thread-self/status, in the impersonating
 * thread and, at the same time, in another thread that must see no change.
 * Cases without privilege run in forked children that give it up.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "provider/local_user.h"
#include "testutil.h"

#define NOBODY 65534

/* The throw-away account and its files. */
static struct {
    char user[32], pgroup[32], sgroup[32];
    bool user_made, pgroup_made, sgroup_made;
    gid_t pgid, sgid;
    char dir[64];         /* 0777 scratch directory */
    char root_only[128];  /* root:root 0600 */
    char group_file[128]; /* root:sgroup 0040 */
} fx;

/* Runs argv (argv[0] an absolute path) and returns its exit status, or -1
 * when it did not exit normally. */
static int
run(const char *const argv[])
{
    pid_t pid;
    int status = 0;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int
teardown_account(void **state)
{
    (void)state;
    if (fx.user_made) {
        const char *const a[] = {"/usr/sbin/userdel", fx.user, NULL};
        if (run(a) != 0)
            fprintf(stderr, "cannot remove user %s\n", fx.user);
        fx.user_made = false;
    }
    if (fx.sgroup_made) {
        const char *const a[] = {"/usr/sbin/groupdel", fx.sgroup, NULL};
        if (run(a) != 0)
            fprintf(stderr, "cannot remove group %s\n", fx.sgroup);
        fx.sgroup_made = false;
    }
    if (fx.pgroup_made) {
        const char *const a[] = {"/usr/sbin/groupdel", fx.pgroup, NULL};
        if (run(a) != 0)
            fprintf(stderr, "cannot remove group %s\n", fx.pgroup);
        fx.pgroup_made = false;
    }
    if (fx.dir[0] != '\0') {
        const char *const a[] = {"/bin/rm", "-rf", fx.dir, NULL};
        if (run(a) != 0)
            fprintf(stderr, "cannot remove %s\n", fx.dir);
        fx.dir[0] = '\0';
    }
    return 0;
}

static int
make_file(const char *path, mode_t mode, gid_t gid)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd < 0 || write(fd, "secret\n", 7) != 7 || fchown(fd, 0, gid) != 0 ||
        fchmod(fd, mode) != 0) {
        fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int
setup_account(void **state)
{
    struct group *g;
    long pid = (long)getpid();

    (void)state;
    memset(&fx, 0, sizeof(fx));
    snprintf(fx.user, sizeof(fx.user), "hsmssp_t_%ld", pid);
    snprintf(fx.pgroup, sizeof(fx.pgroup), "hsmssp_p_%ld", pid);
    snprintf(fx.sgroup, sizeof(fx.sgroup), "hsmssp_s_%ld", pid);
    {
        const char *const a[] = {"/usr/sbin/groupadd", fx.pgroup, NULL};
        if (run(a) != 0)
            goto fail;
        fx.pgroup_made = true;
    }
    {
        const char *const a[] = {"/usr/sbin/groupadd", fx.sgroup, NULL};
        if (run(a) != 0)
            goto fail;
        fx.sgroup_made = true;
    }
    {
        const char *const a[] = {"/usr/sbin/useradd", "-M",    "-N",      "-g",
                                 fx.pgroup,           "-G",    fx.sgroup, "-s",
                                 "/usr/sbin/nologin", fx.user, NULL};
        if (run(a) != 0)
            goto fail;
        fx.user_made = true;
    }
    if ((g = getgrnam(fx.pgroup)) == NULL)
        goto fail;
    fx.pgid = g->gr_gid;
    if ((g = getgrnam(fx.sgroup)) == NULL)
        goto fail;
    fx.sgid = g->gr_gid;

    snprintf(fx.dir, sizeof(fx.dir), "/tmp/hsmssp-lu-XXXXXX");
    if (mkdtemp(fx.dir) == NULL) {
        fx.dir[0] = '\0';
        goto fail;
    }
    if (chmod(fx.dir, 0777) != 0)
        goto fail;
    snprintf(fx.root_only, sizeof(fx.root_only), "%s/root-only", fx.dir);
    snprintf(fx.group_file, sizeof(fx.group_file), "%s/group-file", fx.dir);
    if (make_file(fx.root_only, 0600, 0) != 0 ||
        make_file(fx.group_file, 0040, fx.sgid) != 0)
        goto fail;
    return 0;

fail:
    fprintf(stderr, "cannot create the test account or files\n");
    teardown_account(NULL);
    return -1;
}

/* ---- identity as the kernel reports it -------------------------------- */

typedef struct ident {
    unsigned uid[4], gid[4]; /* real, effective, saved, fs */
    gid_t groups[256];
    size_t n_groups;
} ident;

/* Parses the calling thread's /proc/thread-self/status.  Returns false on
 * any problem (threads cannot use cmocka asserts). */
static bool
read_status(ident *id)
{
    FILE *f = fopen("/proc/thread-self/status", "re");
    char line[4096];
    int seen = 0;

    memset(id, 0, sizeof(*id));
    if (f == NULL)
        return false;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "Uid: %u %u %u %u", &id->uid[0], &id->uid[1],
                   &id->uid[2], &id->uid[3]) == 4)
            seen |= 1;
        else if (sscanf(line, "Gid: %u %u %u %u", &id->gid[0], &id->gid[1],
                        &id->gid[2], &id->gid[3]) == 4)
            seen |= 2;
        else if (strncmp(line, "Groups:", 7) == 0) {
            char *p = line + 7, *end;
            seen |= 4;
            for (;;) {
                unsigned long v = strtoul(p, &end, 10);
                if (end == p || id->n_groups >= 256)
                    break;
                id->groups[id->n_groups++] = (gid_t)v;
                p = end;
            }
        }
    }
    fclose(f);
    return seen == 7;
}

static bool
has_gid(const gid_t *list, size_t n, gid_t g)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == g)
            return true;
    return false;
}

/* Same set of groups (order and repeats ignored). */
static bool
same_set(const gid_t *a, size_t na, const gid_t *b, size_t nb)
{
    for (size_t i = 0; i < na; i++)
        if (!has_gid(b, nb, a[i]))
            return false;
    for (size_t i = 0; i < nb; i++)
        if (!has_gid(a, na, b[i]))
            return false;
    return true;
}

static bool
same_ident(const ident *a, const ident *b)
{
    return memcmp(a->uid, b->uid, sizeof(a->uid)) == 0 &&
           memcmp(a->gid, b->gid, sizeof(a->gid)) == 0 &&
           same_set(a->groups, a->n_groups, b->groups, b->n_groups);
}

/* Creates <dir>/<name> and returns its owner, or false. */
static bool
create_owned(const char *name, uid_t *uid, gid_t *gid)
{
    char path[256];
    struct stat st;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", fx.dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return false;
    }
    close(fd);
    *uid = st.st_uid;
    *gid = st.st_gid;
    return true;
}

/* errno of opening path for reading, 0 on success. */
static int
open_errno(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

/* ---- lookup ----------------------------------------------------------- */

static void
test_lookup(void **state)
{
    prov_local_user *u = (prov_local_user *)1;
    struct passwd *pw;

    (void)state;
    TU_OK(prov_local_user_lookup(fx.user, &u));
    pw = getpwnam(fx.user);
    assert_non_null(pw);
    assert_string_equal(u->name, fx.user);
    assert_int_equal(u->uid, pw->pw_uid);
    assert_int_equal(u->gid, fx.pgid);
    /* Primary and supplementary group, nothing else. */
    assert_int_equal(u->n_groups, 2);
    assert_true(has_gid(u->groups, u->n_groups, fx.pgid));
    assert_true(has_gid(u->groups, u->n_groups, fx.sgid));
    prov_local_user_free(u);
    prov_local_user_free(NULL);

    TU_OK(prov_local_user_lookup("root", &u));
    assert_int_equal(u->uid, 0);
    assert_int_equal(u->gid, 0);
    assert_true(has_gid(u->groups, u->n_groups, 0));
    prov_local_user_free(u);
}

static void
test_lookup_unknown(void **state)
{
    prov_local_user *u = (prov_local_user *)1;
    char name[64];

    (void)state;
    snprintf(name, sizeof(name), "hsmssp_none_%ld", (long)getpid());
    TU_ERR(prov_local_user_lookup(name, &u), HSMSSP_ERR_NO_IMPERSONATION);
    assert_null(u);
    assert_non_null(strstr(hsmssp_last_error_detail(), name));
    TU_ERR(prov_local_user_lookup(NULL, &u), HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(prov_local_user_lookup("", &u), HSMSSP_ERR_INVALID_ARGUMENT);
    /* A name from a hostile principal cannot forge a log line. */
    TU_ERR(prov_local_user_lookup("evil\nFAKE LINE", &u),
           HSMSSP_ERR_NO_IMPERSONATION);
    assert_null(strchr(hsmssp_last_error_detail(), '\n'));
    assert_non_null(strstr(hsmssp_last_error_detail(), "evil?FAKE LINE"));
}

/* ---- two threads ------------------------------------------------------ */

typedef struct shared {
    pthread_barrier_t impersonated, checked;
    const prov_local_user *u;
    ident original; /* the process's identity before the test */
    char fail_a[256], fail_b[256];
} shared;

#define FAIL(buf, ...)                                                        \
    do {                                                                      \
        if ((buf)[0] == '\0')                                                 \
            snprintf((buf), sizeof(buf), __VA_ARGS__);                        \
    } while (0)

static void *
thread_a(void *arg)
{
    shared *sh = arg;
    const prov_local_user *u = sh->u;
    ident before, during, after;
    uid_t fu;
    gid_t fg;
    hsmssp_err e;
    int err;

    if (!read_status(&before))
        FAIL(sh->fail_a, "A: cannot read status");
    e = prov_impersonate(u);
    if (e != HSMSSP_OK)
        FAIL(sh->fail_a, "A: impersonate: %s", hsmssp_last_error_detail());
    if (!prov_is_impersonating())
        FAIL(sh->fail_a, "A: not impersonating after success");
    pthread_barrier_wait(&sh->impersonated);

    /* B runs its checks now, while A is impersonating. */
    if (!read_status(&during))
        FAIL(sh->fail_a, "A: cannot read status");
    if (during.uid[3] != u->uid || during.gid[3] != u->gid)
        FAIL(sh->fail_a, "A: fsuid/fsgid %u/%u, expected %u/%u", during.uid[3],
             during.gid[3], (unsigned)u->uid, (unsigned)u->gid);
    /* Only the fs ids: real, effective and saved ids stay root's. */
    if (during.uid[0] != 0 || during.uid[1] != 0 || during.uid[2] != 0 ||
        during.gid[0] != 0 || during.gid[1] != 0 || during.gid[2] != 0)
        FAIL(sh->fail_a, "A: real/effective/saved ids changed");
    if (!same_set(during.groups, during.n_groups, u->groups, u->n_groups))
        FAIL(sh->fail_a, "A: Groups line is not the user's groups");
    if (!create_owned("by-a", &fu, &fg))
        FAIL(sh->fail_a, "A: cannot create a file: %s", strerror(errno));
    else if (fu != u->uid || fg != u->gid)
        FAIL(sh->fail_a, "A: new file owned by %u:%u, expected %u:%u",
             (unsigned)fu, (unsigned)fg, (unsigned)u->uid, (unsigned)u->gid);
    err = open_errno(fx.root_only);
    if (err != EACCES)
        FAIL(sh->fail_a, "A: opening the root-only file gave %s",
             err ? strerror(err) : "success");
    err = open_errno(fx.group_file);
    if (err != 0)
        FAIL(sh->fail_a, "A: the supplementary group cannot read: %s",
             strerror(err));
    pthread_barrier_wait(&sh->checked);

    e = prov_revert();
    if (e != HSMSSP_OK)
        FAIL(sh->fail_a, "A: revert: %s", hsmssp_last_error_detail());
    if (prov_is_impersonating())
        FAIL(sh->fail_a, "A: still impersonating after revert");
    if (!read_status(&after) || !same_ident(&after, &before))
        FAIL(sh->fail_a, "A: identity after revert differs from before");
    if (!create_owned("by-a-after", &fu, &fg) || fu != 0 || fg != 0)
        FAIL(sh->fail_a, "A: file after revert not owned by root");
    err = open_errno(fx.root_only);
    if (err != 0)
        FAIL(sh->fail_a, "A: root-only file after revert: %s", strerror(err));
    return NULL;
}

static void *
thread_b(void *arg)
{
    shared *sh = arg;
    ident now;
    uid_t fu;
    gid_t fg;
    int err;

    pthread_barrier_wait(&sh->impersonated);
    /* A is impersonating: B must see no trace of it. */
    if (prov_is_impersonating())
        FAIL(sh->fail_b, "B: reports impersonating");
    if (!read_status(&now) || !same_ident(&now, &sh->original))
        FAIL(sh->fail_b,
             "B: identity changed (fsuid %u fsgid %u, %zu "
             "groups)",
             now.uid[3], now.gid[3], now.n_groups);
    if (!create_owned("by-b", &fu, &fg) || fu != 0 || fg != 0)
        FAIL(sh->fail_b, "B: file not owned by root");
    err = open_errno(fx.root_only);
    if (err != 0)
        FAIL(sh->fail_b, "B: root-only file: %s", strerror(err));
    pthread_barrier_wait(&sh->checked);
    return NULL;
}

static void
test_impersonate_one_thread(void **state)
{
    prov_local_user *u = NULL;
    shared sh;
    pthread_t a, b;
    ident main_after;

    (void)state;
    memset(&sh, 0, sizeof(sh));
    TU_OK(prov_local_user_lookup(fx.user, &u));
    sh.u = u;
    assert_true(read_status(&sh.original));
    assert_int_equal(sh.original.uid[3], 0);
    assert_int_equal(pthread_barrier_init(&sh.impersonated, NULL, 2), 0);
    assert_int_equal(pthread_barrier_init(&sh.checked, NULL, 2), 0);
    assert_int_equal(pthread_create(&a, NULL, thread_a, &sh), 0);
    assert_int_equal(pthread_create(&b, NULL, thread_b, &sh), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    pthread_barrier_destroy(&sh.impersonated);
    pthread_barrier_destroy(&sh.checked);
    if (sh.fail_a[0] != '\0')
        fail_msg("%s", sh.fail_a);
    if (sh.fail_b[0] != '\0')
        fail_msg("%s", sh.fail_b);
    /* The main thread was never touched either. */
    assert_true(read_status(&main_after));
    assert_true(same_ident(&main_after, &sh.original));
    prov_local_user_free(u);
}

/* ---- nesting and revert ----------------------------------------------- */

static void
test_nested_refused(void **state)
{
    prov_local_user *u = NULL, *root = NULL;
    ident before, now;

    (void)state;
    TU_OK(prov_local_user_lookup(fx.user, &u));
    TU_OK(prov_local_user_lookup("root", &root));
    assert_true(read_status(&before));

    /* Revert without impersonation: success, nothing changes. */
    assert_false(prov_is_impersonating());
    TU_OK(prov_revert());
    assert_true(read_status(&now));
    assert_true(same_ident(&now, &before));

    TU_OK(prov_impersonate(u));
    /* A second impersonation is refused and changes nothing. */
    TU_ERR(prov_impersonate(root), HSMSSP_ERR_CONTEXT_STATE);
    TU_ERR(prov_impersonate(u), HSMSSP_ERR_CONTEXT_STATE);
    assert_true(prov_is_impersonating());
    assert_true(read_status(&now));
    assert_int_equal(now.uid[3], u->uid);
    assert_int_equal(now.gid[3], u->gid);
    /* One revert returns to the identity before the first impersonation. */
    TU_OK(prov_revert());
    assert_false(prov_is_impersonating());
    assert_true(read_status(&now));
    assert_true(same_ident(&now, &before));
    TU_OK(prov_revert());
    TU_ERR(prov_impersonate(NULL), HSMSSP_ERR_INVALID_ARGUMENT);
    prov_local_user_free(u);
    prov_local_user_free(root);
}

/* ---- without privilege (forked children) ------------------------------ */

/* Runs fn(u) in a child and returns its exit code (or -1). */
static int
in_child(int (*fn)(const prov_local_user *), const prov_local_user *u)
{
    pid_t pid;
    int status = 0;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn(u));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
child_as_nobody(const prov_local_user *u)
{
    ident before, after;

    /* Give up root completely (glibc calls are fine: one thread). */
    if (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
        setresuid(NOBODY, NOBODY, NOBODY) != 0)
        return 10;
    if (!read_status(&before))
        return 11;
    if (prov_impersonate(u) != HSMSSP_ERR_NO_IMPERSONATION)
        return 12;
    if (strstr(hsmssp_last_error_detail(), "CAP_SETUID") == NULL)
        return 13;
    if (prov_is_impersonating())
        return 14;
    if (!read_status(&after) || !same_ident(&after, &before) ||
        after.uid[3] != NOBODY || after.gid[3] != NOBODY)
        return 15;
    if (prov_revert() != HSMSSP_OK)
        return 16;
    return 0;
}

/* Running as the user already, with its groups: impersonating itself
 * needs no privilege (setgroups is skipped); anyone else is refused. */
static int
child_as_the_user(const prov_local_user *u)
{
    prov_local_user *root = NULL;
    ident before, now;
    int rc = 0;

    if (prov_local_user_lookup("root", &root) != HSMSSP_OK)
        return 20;
    if (setgroups(u->n_groups, u->groups) != 0 ||
        setresgid(u->gid, u->gid, u->gid) != 0 ||
        setresuid(u->uid, u->uid, u->uid) != 0)
        rc = 21;
    else if (!read_status(&before))
        rc = 22;
    else if (prov_impersonate(u) != HSMSSP_OK)
        rc = 23;
    else if (!prov_is_impersonating() || prov_revert() != HSMSSP_OK)
        rc = 24;
    else if (prov_impersonate(root) != HSMSSP_ERR_NO_IMPERSONATION)
        rc = 25;
    else if (!read_status(&now) || !same_ident(&now, &before))
        rc = 26;
    prov_local_user_free(root);
    return rc;
}

static void
test_without_privilege(void **state)
{
    prov_local_user *u = NULL;

    (void)state;
    TU_OK(prov_local_user_lookup(fx.user, &u));
    assert_int_equal(in_child(child_as_nobody, u), 0);
    assert_int_equal(in_child(child_as_the_user, u), 0);
    prov_local_user_free(u);
}

/* Removes one capability from the effective and permitted sets. */
static int
drop_cap(int cap)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];

    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) != 0)
        return -1;
    data[cap / 32].effective &= ~(1u << (cap % 32));
    data[cap / 32].permitted &= ~(1u << (cap % 32));
    return (int)syscall(SYS_capset, &hdr, data);
}

/* Root without CAP_SETUID: the groups and the fsgid change, the fsuid
 * does not; the module must undo the first two. */
static int
child_no_setuid(const prov_local_user *u)
{
    ident before, after;

    if (drop_cap(CAP_SETUID) != 0)
        return 30;
    if (!read_status(&before))
        return 31;
    if (prov_impersonate(u) != HSMSSP_ERR_NO_IMPERSONATION)
        return 32;
    if (strstr(hsmssp_last_error_detail(), "setfsuid") == NULL)
        return 33;
    if (prov_is_impersonating())
        return 34;
    if (!read_status(&after) || !same_ident(&after, &before))
        return 35;
    return 0;
}

/* Root without CAP_SETGID: the first step already fails. */
static int
child_no_setgid(const prov_local_user *u)
{
    ident before, after;

    if (drop_cap(CAP_SETGID) != 0)
        return 40;
    if (!read_status(&before))
        return 41;
    if (prov_impersonate(u) != HSMSSP_ERR_NO_IMPERSONATION)
        return 42;
    if (strstr(hsmssp_last_error_detail(), "setgroups") == NULL)
        return 43;
    if (!read_status(&after) || !same_ident(&after, &before))
        return 44;
    return 0;
}

static void
test_partial_failure_restores(void **state)
{
    prov_local_user *u = NULL;

    (void)state;
    TU_OK(prov_local_user_lookup(fx.user, &u));
    assert_int_equal(in_child(child_no_setuid, u), 0);
    assert_int_equal(in_child(child_no_setgid, u), 0);
    prov_local_user_free(u);
}

/* ---- a thread that exits while impersonating -------------------------- */

static int exit_warnings;

static void
count_exit_warnings(void *ctx, hsmssp_log_level level, const char *subsystem,
                    const char *line)
{
    (void)ctx;
    if (level == HSMSSP_LOG_WARNING &&
        strcmp(subsystem, "impersonation") == 0 &&
        strstr(line, "exited while impersonating") != NULL &&
        strstr(line, fx.user) != NULL)
        __atomic_add_fetch(&exit_warnings, 1, __ATOMIC_SEQ_CST);
}

static void *
impersonate_and_exit(void *arg)
{
    return (void *)(intptr_t)prov_impersonate(arg);
}

static void
test_thread_exit_while_impersonating(void **state)
{
    prov_local_user *u = NULL;
    pthread_t t;
    void *rv = NULL;
    ident before, after;

    (void)state;
    TU_OK(prov_local_user_lookup(fx.user, &u));
    assert_true(read_status(&before));
    exit_warnings = 0;
    hsmssp_set_log_callback(count_exit_warnings, NULL, HSMSSP_LOG_WARNING);
    assert_int_equal(pthread_create(&t, NULL, impersonate_and_exit, u), 0);
    pthread_join(t, &rv);
    hsmssp_set_log_callback(NULL, NULL, HSMSSP_LOG_WARNING);
    assert_int_equal((intptr_t)rv, HSMSSP_OK);
    /* The saved state was released (LeakSanitizer checks the bytes'
     * fate), the event was reported, and this thread is untouched. */
    assert_int_equal(exit_warnings, 1);
    assert_false(prov_is_impersonating());
    assert_true(read_status(&after));
    assert_true(same_ident(&after, &before));
    prov_local_user_free(u);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_lookup_unknown),
        cmocka_unit_test(test_impersonate_one_thread),
        cmocka_unit_test(test_nested_refused),
        cmocka_unit_test(test_without_privilege),
        cmocka_unit_test(test_partial_failure_restores),
        cmocka_unit_test(test_thread_exit_while_impersonating),
    };

    if (geteuid() != 0)
        tu_skip("impersonation tests need root (useradd, CAP_SETUID)");
    if (access("/usr/sbin/useradd", X_OK) != 0 ||
        access("/usr/sbin/groupadd", X_OK) != 0)
        tu_skip("useradd/groupadd missing (Debian package passwd)");
    return cmocka_run_group_tests(tests, setup_account, teardown_account);
}
