/*
 * provider/local_user.c - local accounts and per-thread impersonation.
 *
 * Why raw system calls (credentials(7), nptl(7), setfsuid(2)): the Linux
 * kernel keeps a credential set per thread; POSIX wants them per process,
 * so glibc's setgroups/setuid/setgid/setres*id signal every other thread
 * and make each one repeat the call ("setxid").  That is exactly wrong
 * for impersonation, which must touch the calling thread alone.  The
 * system calls themselves change only the caller's credentials, so this
 * file calls them through syscall(2):
 *
 *   setgroups  glibc broadcasts; the raw call does not.
 *   setfsuid/setfsgid  glibc's wrappers are plain system calls today (no
 *              broadcast: the fs ids are Linux-specific and POSIX says
 *              nothing of them); called raw anyway so that the whole
 *              protocol visibly bypasses the setxid machinery.
 *   getgroups  per-thread in the kernel and in glibc; raw for symmetry.
 *
 * On 32-bit x86 and ARM the plain numbers are the old 16-bit-id calls;
 * the *32 variants take full ids, so they are used when they exist.
 *
 * Checking each step: setfsuid/setfsgid return the *previous* value and
 * never fail visibly; without CAP_SETUID/CAP_SETGID they just do nothing.
 * Calling them again with -1 (an invalid id, which changes nothing) reads
 * the current value back, and the step counts only when that equals the
 * target.  setgroups reports EPERM, and its result is read back too.
 *
 * What the kernel does alongside (capabilities(7), "Effect of user ID
 * changes on capabilities"): when the fsuid goes from 0 to non-zero the
 * file-system capabilities (CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FOWNER ...)
 * leave the thread's effective set, so the impersonating thread really is
 * refused a root-only file; when the fsuid returns to 0 they come back
 * from the permitted set.  CAP_SETUID and CAP_SETGID are not among them,
 * which is what lets the thread revert.
 *
 * Saved state lives under a pthread key, not in a plain _Thread_local
 * pointer, so that a thread that exits while impersonating still has its
 * saved group list freed (the key's destructor).
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "provider/local_user.h"

#ifdef SYS_setgroups32
#define NR_SETGROUPS SYS_setgroups32
#define NR_GETGROUPS SYS_getgroups32
#define NR_SETFSUID SYS_setfsuid32
#define NR_SETFSGID SYS_setfsgid32
#else
#define NR_SETGROUPS SYS_setgroups
#define NR_GETGROUPS SYS_getgroups
#define NR_SETFSUID SYS_setfsuid
#define NR_SETFSGID SYS_setfsgid
#endif

/* Bounds for the database lookups: a passwd entry larger than 1 MiB or an
 * account in more groups than this is not a real account. */
#define PW_BUF_MAX ((size_t)1024 * 1024)
#define GROUPS_MAX_BOUND 65536u

/* ---- raw credential calls --------------------------------------------- */

static int
raw_setgroups(size_t n, const gid_t *groups)
{
    return (int)syscall(NR_SETGROUPS, n, groups);
}

/* setfsuid/setfsgid with the read-back described above.  Returns true
 * when the id is id afterwards. */
static bool
raw_setfsuid_checked(uid_t id)
{
    (void)syscall(NR_SETFSUID, id);
    return (uid_t)syscall(NR_SETFSUID, (uid_t)-1) == id;
}

static bool
raw_setfsgid_checked(gid_t id)
{
    (void)syscall(NR_SETFSGID, id);
    return (gid_t)syscall(NR_SETFSGID, (gid_t)-1) == id;
}

static uid_t
current_fsuid(void)
{
    return (uid_t)syscall(NR_SETFSUID, (uid_t)-1);
}

static gid_t
current_fsgid(void)
{
    return (gid_t)syscall(NR_SETFSGID, (gid_t)-1);
}

/* The calling thread's supplementary groups (malloc'ed, possibly with
 * zero entries but never NULL on success).  The list can only change
 * under us through another thread's glibc setxid broadcast, hence the
 * bounded retry. */
static hsmssp_err
current_groups(gid_t **out, size_t *n_out)
{
    gid_t *list = NULL;
    hsmssp_err ret = HSMSSP_OK;

    *out = NULL;
    *n_out = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        long n = syscall(NR_GETGROUPS, 0, NULL), got;

        if (n < 0) {
            ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "getgroups: %s",
                           strerror(errno));
            goto cleanup;
        }
        free(list);
        list = malloc(((size_t)n + 1) * sizeof(gid_t));
        if (list == NULL) {
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
            goto cleanup;
        }
        got = syscall(NR_GETGROUPS, n, list);
        if (got >= 0) {
            *out = list;
            *n_out = (size_t)got;
            list = NULL;
            goto cleanup;
        }
        if (errno != EINVAL) {
            ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "getgroups: %s",
                           strerror(errno));
            goto cleanup;
        }
    }
    ret = BASE_ERR(HSMSSP_ERR_INTERNAL,
                   "getgroups: the group list keeps changing");

cleanup:
    free(list);
    return ret;
}

static int
cmp_gid(const void *a, const void *b)
{
    gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
    return (x > y) - (x < y);
}

/* True when a and b hold the same set of groups.  The kernel sorts a
 * group list when it is set, getgrouplist does not, and either may
 * repeat an entry: compare sorted, duplicate-free copies. */
static bool
same_groups(const gid_t *a, size_t na, const gid_t *b, size_t nb)
{
    gid_t *x = NULL, *y = NULL;
    size_t i = 0, j = 0;
    bool same = false;

    x = malloc((na + 1) * sizeof(gid_t));
    y = malloc((nb + 1) * sizeof(gid_t));
    if (x == NULL || y == NULL)
        goto cleanup; /* "different": the caller then sets and checks */
    if (na > 0)
        memcpy(x, a, na * sizeof(gid_t));
    if (nb > 0)
        memcpy(y, b, nb * sizeof(gid_t));
    qsort(x, na, sizeof(gid_t), cmp_gid);
    qsort(y, nb, sizeof(gid_t), cmp_gid);
    /* Walk both, skipping repeats. */
    for (;;) {
        while (i + 1 < na && x[i + 1] == x[i])
            i++;
        while (j + 1 < nb && y[j + 1] == y[j])
            j++;
        if (i >= na || j >= nb) {
            same = i >= na && j >= nb;
            break;
        }
        if (x[i] != y[j])
            break;
        i++;
        j++;
    }

cleanup:
    free(x);
    free(y);
    return same;
}

/* Sets the calling thread's groups and reads them back. */
static bool
set_groups_checked(const gid_t *groups, size_t n)
{
    gid_t *now = NULL;
    size_t n_now = 0;
    bool ok;

    if (raw_setgroups(n, groups) != 0)
        return false;
    if (current_groups(&now, &n_now) != HSMSSP_OK)
        return false;
    ok = same_groups(now, n_now, groups, n);
    free(now);
    return ok;
}

/* ---- the per-thread saved identity ------------------------------------ */

typedef struct saved_ident {
    uid_t fsuid;
    gid_t fsgid;
    gid_t *groups;
    size_t n_groups;
    const char *user; /* for log lines; points into no caller memory */
    char user_buf[64];
} saved_ident;

static pthread_key_t ident_key;
static pthread_once_t ident_once = PTHREAD_ONCE_INIT;
static int ident_key_err;

static void
free_saved(saved_ident *s)
{
    if (s != NULL) {
        free(s->groups);
        free(s);
    }
}

/* The key's destructor: a thread ended while impersonating.  Its
 * credentials die with it; only the saved state needs freeing. */
static void
thread_exit_while_impersonating(void *p)
{
    saved_ident *s = p;

    base_log(HSMSSP_LOG_WARNING, "impersonation",
             "a thread exited while impersonating '%s'", s->user);
    free_saved(s);
}

static void
ident_key_init(void)
{
    ident_key_err =
        pthread_key_create(&ident_key, thread_exit_while_impersonating);
}

static hsmssp_err
ensure_key(void)
{
    pthread_once(&ident_once, ident_key_init);
    if (ident_key_err != 0)
        return BASE_ERR(HSMSSP_ERR_INTERNAL, "pthread_key_create: %s",
                        strerror(ident_key_err));
    return HSMSSP_OK;
}

/* An account name as it may appear in a log line or error detail: names
 * come from a client's principal, so control characters are replaced and
 * the length is bounded. */
static const char *
printable_name(const char *v, char *buf, size_t cap)
{
    size_t n = 0;

    for (; *v != '\0' && n + 1 < cap; v++) {
        unsigned char ch = (unsigned char)*v;
        buf[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    buf[n] = '\0';
    return buf;
}

/* Puts the thread back to s, fsuid first: returning the fsuid to root's
 * restores the file-system capabilities, and groups and gid follow.
 * Returns true when every value reads back as saved. */
static bool
restore(const saved_ident *s)
{
    gid_t *now = NULL;
    size_t n_now = 0;
    bool ok = true;

    if (!raw_setfsuid_checked(s->fsuid))
        ok = false;
    if (!raw_setfsgid_checked(s->fsgid))
        ok = false;
    /* Skip setgroups when nothing changed: it needs CAP_SETGID, which a
     * process that impersonated its own group list may not have. */
    if (current_groups(&now, &n_now) != HSMSSP_OK ||
        !same_groups(now, n_now, s->groups, s->n_groups))
        ok = set_groups_checked(s->groups, s->n_groups) && ok;
    free(now);
    return ok;
}

/* ---- public ----------------------------------------------------------- */

hsmssp_err
prov_local_user_lookup(const char *name, prov_local_user **out)
{
    prov_local_user *u = NULL;
    struct passwd pw, *res = NULL;
    char *buf = NULL, shown[64];
    size_t buflen;
    gid_t *groups = NULL;
    int ngroups = 32, rc;
    long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
    hsmssp_err ret = HSMSSP_OK;

    *out = NULL;
    if (name == NULL || *name == '\0')
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no account name");
    printable_name(name, shown, sizeof(shown));

    /* getpwnam_r: ERANGE means "buffer too small"; grow by doubling. */
    buflen = hint > 0 ? (size_t)hint : 1024;
    for (;;) {
        char *nb = realloc(buf, buflen);
        if (nb == NULL) {
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
            goto cleanup;
        }
        buf = nb;
        rc = getpwnam_r(name, &pw, buf, buflen, &res);
        if (rc != ERANGE)
            break;
        if (buflen >= PW_BUF_MAX) {
            ret = BASE_ERR(HSMSSP_ERR_NO_IMPERSONATION,
                           "passwd entry of '%s' is larger than %zu bytes",
                           shown, PW_BUF_MAX);
            goto cleanup;
        }
        buflen *= 2;
    }
    /* getpwnam_r(3): 0, ENOENT, ESRCH, EBADF and EPERM all may mean "no
     * such name", depending on the NSS module. */
    if (res == NULL && (rc == 0 || rc == ENOENT || rc == ESRCH ||
                        rc == EBADF || rc == EPERM)) {
        ret = BASE_ERR(HSMSSP_ERR_NO_IMPERSONATION, "no local account '%s'",
                       shown);
        goto cleanup;
    }
    if (res == NULL) {
        ret =
            BASE_ERR(HSMSSP_ERR_NO_IMPERSONATION,
                     "looking up local account '%s': %s", shown, strerror(rc));
        goto cleanup;
    }

    /* getgrouplist: -1 means too small, and ngroups then holds the
     * count needed.  Bounded: an attacker-influenced name must not make
     * us allocate without limit. */
    for (int attempt = 0;; attempt++) {
        gid_t *ng = realloc(groups, (size_t)ngroups * sizeof(gid_t));
        int n = ngroups;

        if (ng == NULL) {
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
            goto cleanup;
        }
        groups = ng;
        if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) >= 0) {
            ngroups = n;
            break;
        }
        if (attempt >= 8 || n <= ngroups || (unsigned)n > GROUPS_MAX_BOUND) {
            ret = BASE_ERR(HSMSSP_ERR_NO_IMPERSONATION,
                           "cannot list the groups of '%s'", shown);
            goto cleanup;
        }
        ngroups = n;
    }

    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    u->name = strdup(pw.pw_name);
    if (u->name == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    u->uid = pw.pw_uid;
    u->gid = pw.pw_gid;
    u->groups = groups;
    u->n_groups = (size_t)ngroups;
    groups = NULL;
    *out = u;
    u = NULL;

cleanup:
    prov_local_user_free(u);
    free(groups);
    free(buf);
    return ret;
}

void
prov_local_user_free(prov_local_user *u)
{
    if (u == NULL)
        return;
    free(u->groups);
    free(u->name);
    free(u);
}

hsmssp_err
prov_impersonate(const prov_local_user *u)
{
    saved_ident *s = NULL;
    gid_t *now = NULL;
    size_t n_now = 0;
    long ngmax = sysconf(_SC_NGROUPS_MAX);
    const char *step = NULL;
    hsmssp_err ret;

    if (u == NULL || (u->n_groups > 0 && u->groups == NULL))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "no local user");
    if (ngmax > 0 && u->n_groups > (size_t)ngmax)
        return BASE_ERR(HSMSSP_ERR_NO_IMPERSONATION,
                        "%zu groups, above the system's limit of %ld",
                        u->n_groups, ngmax);
    ret = ensure_key();
    if (ret != HSMSSP_OK)
        return ret;
    if (pthread_getspecific(ident_key) != NULL)
        return BASE_ERR(HSMSSP_ERR_CONTEXT_STATE,
                        "this thread is already impersonating; revert "
                        "first");

    /* Save the thread's identity before touching it. */
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    ret = current_groups(&s->groups, &s->n_groups);
    if (ret != HSMSSP_OK)
        goto cleanup;
    s->fsuid = current_fsuid();
    s->fsgid = current_fsgid();
    s->user = printable_name(u->name ? u->name : "?", s->user_buf,
                             sizeof(s->user_buf));
    /* Registered first, so that nothing can fail between changing the
     * identity and recording how to undo it. */
    if (pthread_setspecific(ident_key, s) != 0) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }

    /* 1. groups: the step that needs CAP_SETGID even for the same list,
     * so skipped when the list already matches. */
    ret = current_groups(&now, &n_now);
    if (ret != HSMSSP_OK)
        goto undo;
    if (!same_groups(now, n_now, u->groups, u->n_groups) &&
        !set_groups_checked(u->groups, u->n_groups)) {
        step = "setgroups";
        goto undo;
    }
    /* 2. fsgid, 3. fsuid: uid last, so the thread never pairs the user's
     * uid with its own group list. */
    if (!raw_setfsgid_checked(u->gid)) {
        step = "setfsgid";
        goto undo;
    }
    if (!raw_setfsuid_checked(u->uid)) {
        step = "setfsuid";
        goto undo;
    }
    base_log(HSMSSP_LOG_DEBUG, "impersonation",
             "thread impersonates '%s' (uid %u, gid %u, %zu groups)", s->user,
             (unsigned)u->uid, (unsigned)u->gid, u->n_groups);
    s = NULL; /* owned by the thread's key until prov_revert() */
    ret = HSMSSP_OK;
    goto cleanup;

undo:
    if (!restore(s)) {
        /* Keep s registered: the thread is in a mixed state, callers see
         * prov_is_impersonating() and may retry prov_revert(). */
        base_log(HSMSSP_LOG_ERROR, "impersonation",
                 "cannot restore the thread's identity after a failed "
                 "impersonation of '%s'",
                 s->user);
        ret = BASE_ERR(HSMSSP_ERR_INTERNAL,
                       "impersonating '%s' failed and the thread's "
                       "identity could not be restored",
                       s->user);
        s = NULL;
        goto cleanup;
    }
    (void)pthread_setspecific(ident_key, NULL);
    if (step != NULL)
        ret = BASE_ERR(HSMSSP_ERR_NO_IMPERSONATION,
                       "%s for '%s' did not take effect; no privilege: "
                       "needs CAP_SETUID/CAP_SETGID",
                       step, s->user);
    /* else ret holds the error that sent us here */

cleanup:
    free(now);
    free_saved(s);
    return ret;
}

hsmssp_err
prov_revert(void)
{
    saved_ident *s;
    hsmssp_err ret = ensure_key();

    if (ret != HSMSSP_OK)
        return ret;
    s = pthread_getspecific(ident_key);
    if (s == NULL)
        return HSMSSP_OK;
    if (!restore(s))
        return BASE_ERR(HSMSSP_ERR_INTERNAL,
                        "cannot restore the thread's identity (fsuid %u) "
                        "after impersonating '%s'",
                        (unsigned)s->fsuid, s->user);
    (void)pthread_setspecific(ident_key, NULL);
    base_log(HSMSSP_LOG_DEBUG, "impersonation", "thread reverted from '%s'",
             s->user);
    free_saved(s);
    return HSMSSP_OK;
}

bool
prov_is_impersonating(void)
{
    return ensure_key() == HSMSSP_OK && pthread_getspecific(ident_key) != NULL;
}
