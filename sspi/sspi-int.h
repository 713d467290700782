/*
 * sspi/sspi-int.h - what the files of sspi/ share: the process runtime
 * (one prov_env), the handle table, and the translation tables between
 * the Windows types and the provider's.
 *
 * Handles.  A CredHandle or CtxtHandle is {dwLower, dwUpper} = {slot
 * index + 1, cookie}: the cookie mixes the slot's generation with a
 * per-process random value and the handle's kind, so a stale handle
 * (slot reused), a handle of the other kind, a handle from another
 * process or an invented one fails validation with SEC_E_INVALID_HANDLE.
 * Handles made before fork() are refused in the child.
 *
 * References.  Every call that uses a handle takes a reference on its
 * slot for the duration of the call; Delete/Free marks the slot dead and
 * the last reference frees the provider object.  So an encrypting and a
 * decrypting thread may share a context, and a Delete that races with
 * them never frees memory under their feet.
 */
#ifndef HSMSSP_SSPI_INT_H
#define HSMSSP_SSPI_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "hsmssp/sspi.h"
#include "provider/provider.h"

typedef enum sspi_kind { SSPI_CRED = 1, SSPI_CTX = 2 } sspi_kind;

typedef struct sspi_slot {
    sspi_kind kind;
    uint64_t gen;
    pid_t pid;
    const prov_package *pkg;
    void *obj;
    unsigned refs;
    bool dead;
    bool used;
    /* contexts */
    bool initiator;
    bool established;
    ULONG req_flags;
    ULONG ret_flags;
} sspi_slot;

/* The process runtime: the env (configuration, token) shared by every
 * credential, made on first use. */
hsmssp_err sspi_runtime_env(prov_env **env_out) BASE_WUR;

/* Sets the configuration file for the runtime made next; a runtime that
 * exists is dropped (credentials and contexts keep their reference to
 * it, so they go on with the file they were made with). */
hsmssp_err sspi_runtime_configure(const char *path) BASE_WUR;

/* Handle table (handles.c). */
hsmssp_err sspi_handle_new(sspi_kind kind, const prov_package *pkg,
                           void *obj, SecHandle *h_out) BASE_WUR;
/* Looks a handle up and takes a reference; the slot stays valid until
 * sspi_handle_put().  Returns NULL (the caller answers
 * SEC_E_INVALID_HANDLE) for a missing, stale, foreign or wrong-kind
 * handle, with the reason recorded, and for a handle made before fork()
 * unless allow_forked (Delete/Free may release those). */
sspi_slot *sspi_handle_get(const SecHandle *h, sspi_kind kind,
                           bool allow_forked);
void sspi_handle_put(sspi_slot *s);
/* Marks dead (the last reference frees the object). */
void sspi_handle_kill(sspi_slot *s);

/* Tables (status.c). */
SECURITY_STATUS sspi_status(hsmssp_err err);
uint32_t sspi_asc_req_to_prov(ULONG asc);
ULONG sspi_prov_to_asc_ret(uint32_t prov);
uint32_t sspi_isc_req_to_prov(ULONG isc);
ULONG sspi_prov_to_isc_ret(uint32_t prov);
ULONG sspi_caps(uint32_t prov_caps);
void sspi_timestamp(int64_t unix_seconds, PTimeStamp ts);
/* The status table's rows, for its unit test. */
size_t sspi_status_rows(void);
void sspi_status_row(size_t i, int *err, SECURITY_STATUS *status);

/* Context attributes (attrs.c). */
SECURITY_STATUS sspi_query_context(sspi_slot *s, ULONG attr, void *buf);

/* Package info as one allocation for FreeContextBuffer. */
hsmssp_err sspi_pkg_info(const prov_package *pkg, PSecPkgInfoA *out)
    BASE_WUR;

/* A copy of s (NUL-terminated) for FreeContextBuffer. */
SEC_CHAR *sspi_strdup(const char *s);

#endif
