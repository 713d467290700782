/*
 * provider/local_user.h - local accounts, and SSPI impersonation on Linux.
 *
 * ImpersonateSecurityContext makes the calling thread act, towards the
 * file system, as the local account an authenticated client maps to;
 * RevertSecurityContext undoes it.  On Linux the kernel keeps credentials
 * per thread, and the ones that file-system access checks use are the
 * fsuid, the fsgid and the supplementary groups (credentials(7)).  This
 * module changes exactly those three, for the calling thread only,
 * through the raw system calls: glibc's setgroups() (like setuid() and
 * friends) broadcasts the change to every thread of the process (nptl(7),
 * the "setxid" mechanism), which would impersonate the client in every
 * thread at once.  The real, effective and saved ids are not touched, so
 * the thread keeps its other privileges (signals, ports, IPC); this is an
 * access-check identity for files, not a sandbox.  docs/impersonation.md
 * has the details.
 *
 * The mapping from a Kerberos principal to a local name
 * (krb5_aname_to_localname) belongs to provider/kerberos/; this module
 * starts from the local name.
 *
 * Requirements: CAP_SETUID and CAP_SETGID in the effective set (normally:
 * running as root).  Without them impersonation fails with
 * HSMSSP_ERR_NO_IMPERSONATION and the thread's identity is unchanged.
 *
 * Nesting: refused.  A thread that is impersonating must revert before it
 * impersonates again (HSMSSP_ERR_CONTEXT_STATE otherwise), so a revert
 * always returns to the identity the thread had before any impersonation
 * and no one has to count levels.
 *
 * Do not mix with glibc's credential calls: a setgroups(), setuid() or
 * setgid() anywhere in the process while a thread impersonates overwrites
 * that thread's groups or ids too (the setxid broadcast).
 */
#ifndef HSMSSP_PROVIDER_LOCAL_USER_H
#define HSMSSP_PROVIDER_LOCAL_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/base.h"

/* A local account as the password and group databases describe it. */
typedef struct prov_local_user {
    uid_t uid;
    gid_t gid;     /* primary group */
    gid_t *groups; /* every group of the account, primary included, as
                      getgrouplist(3) lists them (malloc'ed) */
    size_t n_groups;
    char *name; /* malloc'ed copy of the account name */
} prov_local_user;

/* Looks up the account name with getpwnam_r and its groups with
 * getgrouplist (buffers grow as needed, within fixed bounds).  Errors:
 * HSMSSP_ERR_NO_IMPERSONATION with the name in the detail when there is
 * no such account (or the lookup fails), HSMSSP_ERR_INVALID_ARGUMENT for
 * a NULL or empty name, HSMSSP_ERR_NOMEM.  *out is NULL on failure; the
 * caller owns it on success (prov_local_user_free()). */
hsmssp_err prov_local_user_lookup(const char *name,
                                  prov_local_user **out) BASE_WUR;

/* Frees u and its arrays.  NULL is a no-op. */
void prov_local_user_free(prov_local_user *u);

/* The calling thread alone takes u's groups, gid (as fsgid) and uid (as
 * fsuid), in that order, so the thread never holds the user's uid with
 * its own, larger, group list.  The previous fsuid, fsgid and groups are
 * saved in thread-local storage for prov_revert().  Each step is checked
 * by reading the value back; if one does not take effect, the steps
 * already done are undone and the result is HSMSSP_ERR_NO_IMPERSONATION
 * ("no privilege: needs CAP_SETUID/CAP_SETGID").  Other errors:
 * HSMSSP_ERR_CONTEXT_STATE when the thread is already impersonating,
 * HSMSSP_ERR_INVALID_ARGUMENT, HSMSSP_ERR_NOMEM, and HSMSSP_ERR_INTERNAL
 * when even the undo failed (the thread then still counts as
 * impersonating, and prov_revert() may be retried).
 *
 * When the thread's group list already equals u's, the setgroups step is
 * skipped (it needs CAP_SETGID even to set the same list), so a process
 * may "impersonate" its own identity without privilege. */
hsmssp_err prov_impersonate(const prov_local_user *u) BASE_WUR;

/* Restores the fsuid, fsgid and groups the calling thread had before
 * prov_impersonate(), fsuid first (the reverse order).  HSMSSP_OK and no
 * change when the thread is not impersonating.  HSMSSP_ERR_INTERNAL when
 * a step does not take effect; the saved identity is kept, so the call
 * can be retried.  A thread that exits while impersonating loses only
 * the saved state (it is freed); no other thread is affected. */
hsmssp_err prov_revert(void) BASE_WUR;

/* True when the calling thread is impersonating. */
bool prov_is_impersonating(void);

#endif
