/*
 * tests/common/faultmod.c - a PKCS#11 module that wraps a real one and
 * fails chosen calls.  Configuration and rule syntax: faultmod.h.
 *
 * Why: the faults that matter most for the token layer's recovery code
 * (PIN locked, device removed, a session handle that suddenly becomes
 * invalid, CKR_GENERAL_ERROR in the middle of an operation) cannot be
 * produced on demand by SoftHSM2 or NSS softoken.  DESIGN sec. 8 asks for
 * a wrapper in tests/ that makes them at a chosen call.
 *
 * Shape: one X-macro list names each of the 68 PKCS#11 v2.40 functions
 * with its parameter list, its argument list and the expression that gives
 * its session handle (0 for functions without one).  From that list come
 * the index enum, the name table, the function list and, for the functions
 * that need nothing special, the forwarders themselves.  Functions whose
 * results the module tracks (sessions and objects, for the leak checks of
 * the tests, and initialisation state) are written out by hand below.
 *
 * Every forwarder first calls fm_enter(), which under one mutex re-reads
 * the rules file when it changed, counts the call and decides whether to
 * inject a fault.  The real module is called outside the mutex, so the
 * wrapper adds no serialisation of its own.
 *
 * This is test code: it may print to stderr (a malformed rule, a target
 * that does not load), which library code never does.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <p11-kit/pkcs11.h>

#include "faultmod.h"

/* X(name, parameters, arguments, session expression, kind, terminator).
 * kind FWD generates a plain forwarder; MECH a forwarder that first
 * refuses a hidden mechanism (parameter m); OP a forwarder for a function
 * that belongs to an active cryptographic operation; OWN means the
 * function is written by hand further down.  The terminator runs when a
 * fault is injected into an OP function (see term_out() below).
 * Parameter names are fixed: s is always the session, m the mechanism. */
#define FM_FUNCS(X)                                                          \
    /* General-purpose functions (PKCS#11 v2.40 sec. 5.4).  The entry point, \
     * C_GetFunctionList, stays out of the list. */                          \
    X(C_Initialize, (void *a), (a), 0, OWN, (void)0)                         \
    X(C_Finalize, (void *r), (r), 0, OWN, (void)0)                           \
    X(C_GetInfo, (CK_INFO_PTR i), (i), 0, FWD, (void)0)                      \
    /* Slot and token management (sec. 5.5).  A removed token shows here     \
     * first: rules on C_GetSlotList/C_GetTokenInfo model an empty slot. */  \
    X(C_GetSlotList, (CK_BBOOL p, CK_SLOT_ID_PTR l, CK_ULONG_PTR n),         \
      (p, l, n), 0, FWD, (void)0)                                            \
    X(C_GetSlotInfo, (CK_SLOT_ID id, CK_SLOT_INFO_PTR i), (id, i), 0, FWD,   \
      (void)0)                                                               \
    X(C_GetTokenInfo, (CK_SLOT_ID id, CK_TOKEN_INFO_PTR i), (id, i), 0,      \
      FWD, (void)0)                                                          \
    X(C_WaitForSlotEvent, (CK_FLAGS f, CK_SLOT_ID_PTR id, void *r),          \
      (f, id, r), 0, FWD, (void)0)                                           \
    /* Hidden mechanisms (rule "hide:CKM_...") are filtered out here. */    \
    X(C_GetMechanismList,                                                    \
      (CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR l, CK_ULONG_PTR n), (id, l, n),  \
      0, OWN, (void)0)                                                       \
    X(C_GetMechanismInfo, (CK_SLOT_ID id, CK_MECHANISM_TYPE t,               \
      CK_MECHANISM_INFO_PTR i), (id, t, i), 0, OWN, (void)0)                 \
    X(C_InitToken, (CK_SLOT_ID id, CK_UTF8CHAR_PTR p, CK_ULONG n,            \
      CK_UTF8CHAR_PTR l), (id, p, n, l), 0, FWD, (void)0)                    \
    X(C_InitPIN, (CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR p, CK_ULONG n),       \
      (s, p, n), s, FWD, (void)0)                                            \
    X(C_SetPIN, (CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR o, CK_ULONG on,        \
      CK_UTF8CHAR_PTR p, CK_ULONG pn), (s, o, on, p, pn), s, FWD, (void)0)   \
    /* Session management (sec. 5.6).  Opening and closing are tracked       \
     * for the leak counters; C_Login is where PIN faults are injected. */   \
    X(C_OpenSession, (CK_SLOT_ID id, CK_FLAGS f, void *app, CK_NOTIFY cb,    \
      CK_SESSION_HANDLE_PTR ps), (id, f, app, cb, ps), 0, OWN, (void)0)      \
    X(C_CloseSession, (CK_SESSION_HANDLE s), (s), s, OWN, (void)0)           \
    X(C_CloseAllSessions, (CK_SLOT_ID id), (id), 0, OWN, (void)0)            \
    X(C_GetSessionInfo, (CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR i),        \
      (s, i), s, FWD, (void)0)                                               \
    X(C_GetOperationState,                                                   \
      (CK_SESSION_HANDLE s, CK_BYTE_PTR st, CK_ULONG_PTR n), (s, st, n), s,  \
      FWD, (void)0)                                                          \
    X(C_SetOperationState, (CK_SESSION_HANDLE s, CK_BYTE_PTR st,             \
      CK_ULONG n, CK_OBJECT_HANDLE e, CK_OBJECT_HANDLE k),                   \
      (s, st, n, e, k), s, FWD, (void)0)                                     \
    X(C_Login, (CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR p,      \
      CK_ULONG n), (s, u, p, n), s, FWD, (void)0)                            \
    X(C_Logout, (CK_SESSION_HANDLE s), (s), s, FWD, (void)0)                 \
    /* Object management (sec. 5.7).  Creation is tracked with the           \
     * session it happened in: a session object dies with that session. */   \
    X(C_CreateObject, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n,  \
      CK_OBJECT_HANDLE_PTR o), (s, t, n, o), s, OWN, (void)0)                \
    X(C_CopyObject, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,                \
      CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR o),               \
      (s, h, t, n, o), s, OWN, (void)0)                                      \
    X(C_DestroyObject, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h), (s, h),    \
      s, OWN, (void)0)                                                       \
    X(C_GetObjectSize,                                                       \
      (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ULONG_PTR n), (s, h, n),  \
      s, FWD, (void)0)                                                       \
    X(C_GetAttributeValue, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,         \
      CK_ATTRIBUTE_PTR t, CK_ULONG n), (s, h, t, n), s, FWD, (void)0)        \
    X(C_SetAttributeValue, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,         \
      CK_ATTRIBUTE_PTR t, CK_ULONG n), (s, h, t, n), s, FWD, (void)0)        \
    X(C_FindObjectsInit,                                                     \
      (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n), (s, t, n), s,   \
      FWD, (void)0)                                                          \
    X(C_FindObjects, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR o,           \
      CK_ULONG m, CK_ULONG_PTR n), (s, o, m, n), s, FWD, (void)0)            \
    X(C_FindObjectsFinal, (CK_SESSION_HANDLE s), (s), s, FWD, (void)0)       \
    /* Encryption (sec. 5.8).  Faults injected after the Init end the        \
     * real operation (OP kind), as a failing real call would. */            \
    X(C_EncryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,               \
      CK_OBJECT_HANDLE k), (s, m, k), s, MECH, (void)0)                       \
    X(C_Encrypt, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n,            \
      CK_BYTE_PTR o, CK_ULONG_PTR on), (s, d, n, o, on), s, OP,              \
      term_out(real_->C_Encrypt, s, d, n, NULL, NULL, NULL))                 \
    X(C_EncryptUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n,      \
      CK_BYTE_PTR o, CK_ULONG_PTR on), (s, d, n, o, on), s, OP,              \
      term_out(real_->C_EncryptUpdate, s, d, n, real_->C_EncryptFinal,       \
      NULL, NULL))                                                           \
    X(C_EncryptFinal,                                                        \
      (CK_SESSION_HANDLE s, CK_BYTE_PTR o, CK_ULONG_PTR on), (s, o, on), s,  \
      OP, term_final(real_->C_EncryptFinal, s))                              \
    /* Decryption (sec. 5.9). */                                             \
    X(C_DecryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,               \
      CK_OBJECT_HANDLE k), (s, m, k), s, MECH, (void)0)                       \
    X(C_Decrypt, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n,            \
      CK_BYTE_PTR o, CK_ULONG_PTR on), (s, d, n, o, on), s, OP,              \
      term_out(real_->C_Decrypt, s, d, n, NULL, NULL, NULL))                 \
    /* Update and Final are written by hand for the "lag:" rule. */          \
    X(C_DecryptUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n,      \
      CK_BYTE_PTR o, CK_ULONG_PTR on), (s, d, n, o, on), s, OWN,             \
      term_out(real_->C_DecryptUpdate, s, d, n, real_->C_DecryptFinal,       \
      NULL, NULL))                                                           \
    X(C_DecryptFinal,                                                        \
      (CK_SESSION_HANDLE s, CK_BYTE_PTR o, CK_ULONG_PTR on), (s, o, on), s,  \
      OWN, term_final(real_->C_DecryptFinal, s))                             \
    /* Message digesting (sec. 5.10); C_DigestKey digests a key object. */   \
    X(C_DigestInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m), (s, m), s,    \
      MECH, (void)0)                                                         \
    X(C_Digest, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n,             \
      CK_BYTE_PTR o, CK_ULONG_PTR on), (s, d, n, o, on), s, OP,              \
      term_out(real_->C_Digest, s, d, n, NULL, NULL, NULL))                  \
    X(C_DigestUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n),      \
      (s, d, n), s, OP, term_update(real_->C_DigestUpdate, s, d, n,          \
      real_->C_DigestFinal, NULL))                                           \
    X(C_DigestKey, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k), (s, k), s,     \
      OP, term_digest_key(real_, s, k))                                      \
    X(C_DigestFinal, (CK_SESSION_HANDLE s, CK_BYTE_PTR o, CK_ULONG_PTR on),  \
      (s, o, on), s, OP, term_final(real_->C_DigestFinal, s))                \
    /* Signing and MACing (sec. 5.11): the Kerberos checksums are C_Sign. */ \
    X(C_SignInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,                  \
      CK_OBJECT_HANDLE k), (s, m, k), s, MECH, (void)0)                       \
    X(C_Sign, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n,               \
      CK_BYTE_PTR o, CK_ULONG_PTR on), (s, d, n, o, on), s, OP,              \
      term_out(real_->C_Sign, s, d, n, NULL, NULL, NULL))                    \
    X(C_SignUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n),        \
      (s, d, n), s, OP, term_update(real_->C_SignUpdate, s, d, n,            \
      real_->C_SignFinal, NULL))                                             \
    X(C_SignFinal, (CK_SESSION_HANDLE s, CK_BYTE_PTR o, CK_ULONG_PTR on),    \
      (s, o, on), s, OP, term_final(real_->C_SignFinal, s))                  \
    X(C_SignRecoverInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,           \
      CK_OBJECT_HANDLE k), (s, m, k), s, MECH, (void)0)                       \
    X(C_SignRecover, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n,        \
      CK_BYTE_PTR o, CK_ULONG_PTR on), (s, d, n, o, on), s, OP,              \
      term_out(real_->C_SignRecover, s, d, n, NULL, NULL, NULL))             \
    /* Verifying signatures and MACs (sec. 5.12). */                         \
    X(C_VerifyInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,                \
      CK_OBJECT_HANDLE k), (s, m, k), s, MECH, (void)0)                       \
    X(C_Verify, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n,             \
      CK_BYTE_PTR g, CK_ULONG gn), (s, d, n, g, gn), s, OP,                  \
      (void)real_->C_Verify(s, d, n, g, gn))                                 \
    X(C_VerifyUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n),      \
      (s, d, n), s, OP, term_update(real_->C_VerifyUpdate, s, d, n, NULL,    \
      real_->C_VerifyFinal))                                                 \
    X(C_VerifyFinal, (CK_SESSION_HANDLE s, CK_BYTE_PTR g, CK_ULONG gn),      \
      (s, g, gn), s, OP, (void)real_->C_VerifyFinal(s, g, gn))               \
    X(C_VerifyRecoverInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,         \
      CK_OBJECT_HANDLE k), (s, m, k), s, MECH, (void)0)                       \
    X(C_VerifyRecover, (CK_SESSION_HANDLE s, CK_BYTE_PTR g, CK_ULONG gn,     \
      CK_BYTE_PTR o, CK_ULONG_PTR on), (s, g, gn, o, on), s, OP,             \
      term_out(real_->C_VerifyRecover, s, g, gn, NULL, NULL, NULL))          \
    /* Dual-function operations (sec. 5.13): an injected fault ends both     \
     * operations the session had active. */                                 \
    X(C_DigestEncryptUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR d,            \
      CK_ULONG n, CK_BYTE_PTR o, CK_ULONG_PTR on), (s, d, n, o, on), s, OP,  \
      term_out(real_->C_DigestEncryptUpdate, s, d, n, real_->C_DigestFinal,  \
      real_->C_EncryptFinal, NULL))                                          \
    X(C_DecryptDigestUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR d,            \
      CK_ULONG n, CK_BYTE_PTR o, CK_ULONG_PTR on), (s, d, n, o, on), s, OP,  \
      term_out(real_->C_DecryptDigestUpdate, s, d, n,                        \
      real_->C_DecryptFinal, real_->C_DigestFinal, NULL))                    \
    X(C_SignEncryptUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n,  \
      CK_BYTE_PTR o, CK_ULONG_PTR on), (s, d, n, o, on), s, OP,              \
      term_out(real_->C_SignEncryptUpdate, s, d, n, real_->C_SignFinal,      \
      real_->C_EncryptFinal, NULL))                                          \
    X(C_DecryptVerifyUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR d,            \
      CK_ULONG n, CK_BYTE_PTR o, CK_ULONG_PTR on), (s, d, n, o, on), s, OP,  \
      term_out(real_->C_DecryptVerifyUpdate, s, d, n,                        \
      real_->C_DecryptFinal, NULL, real_->C_VerifyFinal))                    \
    /* Key management (sec. 5.14): every call that makes an object is        \
     * tracked; C_DeriveKey makes the per-usage Kerberos keys. */            \
    X(C_GenerateKey, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,               \
      CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR o),               \
      (s, m, t, n, o), s, OWN, (void)0)                                      \
    X(C_GenerateKeyPair, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,           \
      CK_ATTRIBUTE_PTR pt, CK_ULONG pn, CK_ATTRIBUTE_PTR vt, CK_ULONG vn,    \
      CK_OBJECT_HANDLE_PTR po, CK_OBJECT_HANDLE_PTR vo),                     \
      (s, m, pt, pn, vt, vn, po, vo), s, OWN, (void)0)                       \
    X(C_WrapKey, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,                   \
      CK_OBJECT_HANDLE w, CK_OBJECT_HANDLE k, CK_BYTE_PTR o,                 \
      CK_ULONG_PTR on), (s, m, w, k, o, on), s, MECH, (void)0)               \
    X(C_UnwrapKey, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,                 \
      CK_OBJECT_HANDLE w, CK_BYTE_PTR d, CK_ULONG dn, CK_ATTRIBUTE_PTR t,    \
      CK_ULONG n, CK_OBJECT_HANDLE_PTR o), (s, m, w, d, dn, t, n, o), s,     \
      OWN, (void)0)                                                          \
    X(C_DeriveKey, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,                 \
      CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR t, CK_ULONG n,                    \
      CK_OBJECT_HANDLE_PTR o), (s, m, b, t, n, o), s, OWN, (void)0)          \
    /* Random numbers (sec. 5.15) and the legacy parallel functions          \
     * (sec. 5.16), forwarded like the rest. */                              \
    X(C_SeedRandom, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n),        \
      (s, d, n), s, FWD, (void)0)                                            \
    X(C_GenerateRandom, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n),    \
      (s, d, n), s, FWD, (void)0)                                            \
    X(C_GetFunctionStatus, (CK_SESSION_HANDLE s), (s), s, FWD, (void)0)      \
    X(C_CancelFunction, (CK_SESSION_HANDLE s), (s), s, FWD, (void)0)

/* Indexes into the counters, and the count.  C_GetFunctionList is not in
 * the list: it is the entry point, never counted nor failed. */
enum {
#define FM_IDX_(name, params, args, sess, kind, term) FM_IDX_##name,
    FM_FUNCS(FM_IDX_)
#undef FM_IDX_
    FM_N
};

static const char *const fm_names[FM_N] = {
#define FM_NAME_(name, params, args, sess, kind, term) #name,
    FM_FUNCS(FM_NAME_)
#undef FM_NAME_
};

/* ---- state ---------------------------------------------------------- */

/* One parsed rule.  fn is an FM_IDX_ value or -1 for "*". */
struct fm_rule {
    int fn;
    unsigned long from, to; /* inclusive call numbers */
    CK_RV rv;
};

struct fm_session {
    CK_SESSION_HANDLE h;
    CK_SLOT_ID slot;
    /* "lag:C_DecryptUpdate": the plaintext block held back from the
     * caller (lag_n bytes, 0 or 16). */
    CK_BYTE lag[16];
    CK_ULONG lag_n;
};

/* An object this process created through the module.  Session objects
 * die with their session; token objects only when destroyed. */
struct fm_object {
    CK_OBJECT_HANDLE h;
    CK_SESSION_HANDLE s;
    bool token;
};

/* Everything below is guarded by fm_lock. */
static pthread_mutex_t fm_lock = PTHREAD_MUTEX_INITIALIZER;

/* The real module.  The library stays mapped once loaded: unloading a
 * module that registered atexit handlers or thread keys is asking for a
 * crash at exit, and a test process is short-lived. */
static CK_FUNCTION_LIST_PTR fm_real;
static char *fm_target_path; /* strdup'ed path fm_real came from */
static bool fm_initialized;  /* C_Initialize succeeded, no C_Finalize */

/* Rules: the environment's text, the text set through the control
 * surface, the file's path and the signature of the file content last
 * parsed.  The effective rules are all three, in that order. */
static char *fm_env_rules;
static char *fm_api_rules; /* hsmssp_fault_set_rules() */
static char *fm_rules_file;
static struct {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} fm_file_sig;
static struct fm_rule *fm_rules;
static size_t fm_n_rules, fm_cap_rules;
static bool fm_emulate = true;
/* A "lag:C_DecryptUpdate" rule is in effect (faultmod.h). */
static bool fm_lag_decrypt;
static bool fm_debug; /* HSMSSP_FAULT_DEBUG=1: trace to stderr */

/* Mechanisms hidden by "hide:" rules: left out of C_GetMechanismList,
 * and CKR_MECHANISM_INVALID from C_GetMechanismInfo and from every call
 * that takes a CK_MECHANISM of that type, as on a token without it. */
#define FM_HIDDEN_MAX 32
static CK_MECHANISM_TYPE fm_hidden[FM_HIDDEN_MAX];
static size_t fm_n_hidden;

/* An injected CKR_CRYPTOKI_NOT_INITIALIZED (emulated): the real module
 * was finalised behind the caller's back, and every call but
 * C_Initialize and C_Finalize answers CKR_CRYPTOKI_NOT_INITIALIZED until
 * the caller initialises again. */
static bool fm_lost_init;

static unsigned long fm_counts[FM_N];
static unsigned long fm_calls, fm_injected, fm_emulated_closes;

static struct fm_session *fm_sessions;
static size_t fm_n_sessions, fm_cap_sessions;
static struct fm_object *fm_objects;
static size_t fm_n_objects, fm_cap_objects;

/* ---- CKR names ------------------------------------------------------ */

#define FM_CKR(X)                                                           \
    X(CKR_OK) X(CKR_CANCEL) X(CKR_HOST_MEMORY) X(CKR_SLOT_ID_INVALID)       \
    X(CKR_GENERAL_ERROR) X(CKR_FUNCTION_FAILED) X(CKR_ARGUMENTS_BAD)        \
    X(CKR_NO_EVENT) X(CKR_NEED_TO_CREATE_THREADS) X(CKR_CANT_LOCK)          \
    X(CKR_ATTRIBUTE_READ_ONLY) X(CKR_ATTRIBUTE_SENSITIVE)                   \
    X(CKR_ATTRIBUTE_TYPE_INVALID) X(CKR_ATTRIBUTE_VALUE_INVALID)            \
    X(CKR_ACTION_PROHIBITED) X(CKR_DATA_INVALID) X(CKR_DATA_LEN_RANGE)      \
    X(CKR_DEVICE_ERROR) X(CKR_DEVICE_MEMORY) X(CKR_DEVICE_REMOVED)          \
    X(CKR_ENCRYPTED_DATA_INVALID) X(CKR_ENCRYPTED_DATA_LEN_RANGE)           \
    X(CKR_FUNCTION_CANCELED) X(CKR_FUNCTION_NOT_PARALLEL)                   \
    X(CKR_FUNCTION_NOT_SUPPORTED) X(CKR_KEY_HANDLE_INVALID)                 \
    X(CKR_KEY_SIZE_RANGE) X(CKR_KEY_TYPE_INCONSISTENT)                      \
    X(CKR_KEY_NOT_NEEDED) X(CKR_KEY_CHANGED) X(CKR_KEY_NEEDED)              \
    X(CKR_KEY_INDIGESTIBLE) X(CKR_KEY_FUNCTION_NOT_PERMITTED)               \
    X(CKR_KEY_NOT_WRAPPABLE) X(CKR_KEY_UNEXTRACTABLE)                       \
    X(CKR_MECHANISM_INVALID) X(CKR_MECHANISM_PARAM_INVALID)                 \
    X(CKR_OBJECT_HANDLE_INVALID) X(CKR_OPERATION_ACTIVE)                    \
    X(CKR_OPERATION_NOT_INITIALIZED) X(CKR_PIN_INCORRECT)                   \
    X(CKR_PIN_INVALID) X(CKR_PIN_LEN_RANGE) X(CKR_PIN_EXPIRED)              \
    X(CKR_PIN_LOCKED) X(CKR_SESSION_CLOSED) X(CKR_SESSION_COUNT)            \
    X(CKR_SESSION_HANDLE_INVALID) X(CKR_SESSION_PARALLEL_NOT_SUPPORTED)     \
    X(CKR_SESSION_READ_ONLY) X(CKR_SESSION_EXISTS)                          \
    X(CKR_SESSION_READ_ONLY_EXISTS) X(CKR_SESSION_READ_WRITE_SO_EXISTS)     \
    X(CKR_SIGNATURE_INVALID) X(CKR_SIGNATURE_LEN_RANGE)                     \
    X(CKR_TEMPLATE_INCOMPLETE) X(CKR_TEMPLATE_INCONSISTENT)                 \
    X(CKR_TOKEN_NOT_PRESENT) X(CKR_TOKEN_NOT_RECOGNIZED)                    \
    X(CKR_TOKEN_WRITE_PROTECTED) X(CKR_UNWRAPPING_KEY_SIZE_RANGE)           \
    X(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT) X(CKR_USER_ALREADY_LOGGED_IN)   \
    X(CKR_USER_NOT_LOGGED_IN) X(CKR_USER_PIN_NOT_INITIALIZED)               \
    X(CKR_USER_TYPE_INVALID) X(CKR_USER_ANOTHER_ALREADY_LOGGED_IN)          \
    X(CKR_USER_TOO_MANY_TYPES) X(CKR_WRAPPED_KEY_INVALID)                   \
    X(CKR_WRAPPED_KEY_LEN_RANGE) X(CKR_WRAPPING_KEY_HANDLE_INVALID)         \
    X(CKR_WRAPPING_KEY_SIZE_RANGE) X(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)    \
    X(CKR_RANDOM_SEED_NOT_SUPPORTED) X(CKR_RANDOM_NO_RNG)                   \
    X(CKR_DOMAIN_PARAMS_INVALID) X(CKR_CURVE_NOT_SUPPORTED)                 \
    X(CKR_BUFFER_TOO_SMALL) X(CKR_SAVED_STATE_INVALID)                      \
    X(CKR_INFORMATION_SENSITIVE) X(CKR_STATE_UNSAVEABLE)                    \
    X(CKR_CRYPTOKI_NOT_INITIALIZED) X(CKR_CRYPTOKI_ALREADY_INITIALIZED)     \
    X(CKR_MUTEX_BAD) X(CKR_MUTEX_NOT_LOCKED) X(CKR_NEW_PIN_MODE)            \
    X(CKR_NEXT_OTP) X(CKR_EXCEEDED_MAX_ITERATIONS)                          \
    X(CKR_FIPS_SELF_TEST_FAILED) X(CKR_LIBRARY_LOAD_FAILED)                 \
    X(CKR_PIN_TOO_WEAK) X(CKR_PUBLIC_KEY_INVALID)                           \
    X(CKR_FUNCTION_REJECTED) X(CKR_VENDOR_DEFINED)

static const struct {
    const char *name;
    CK_RV rv;
} fm_ckr_names[] = {
#define FM_CKR_ROW_(n) {#n, n},
    FM_CKR(FM_CKR_ROW_)
#undef FM_CKR_ROW_
};

/* Mechanisms a "hide:" rule may name (those hsmssp uses); others are
 * given as numbers. */
static const struct {
    const char *name;
    CK_MECHANISM_TYPE m;
} fm_ckm_names[] = {
    {"CKM_AES_ECB", CKM_AES_ECB},
    {"CKM_AES_CBC", CKM_AES_CBC},
    {"CKM_AES_CTS", CKM_AES_CTS},
    {"CKM_AES_ECB_ENCRYPT_DATA", CKM_AES_ECB_ENCRYPT_DATA},
    {"CKM_AES_CBC_ENCRYPT_DATA", CKM_AES_CBC_ENCRYPT_DATA},
    {"CKM_MD5_HMAC", CKM_MD5_HMAC},
    {"CKM_SHA_1_HMAC", CKM_SHA_1_HMAC},
    {"CKM_SHA256_HMAC", CKM_SHA256_HMAC},
    {"CKM_SHA384_HMAC", CKM_SHA384_HMAC},
    {"CKM_RC4", 0x111UL},
    {"CKM_SP800_108_COUNTER_KDF", 0x3acUL},
    {"CKM_SP800_108_FEEDBACK_KDF", 0x3adUL},
    {"CKM_CONCATENATE_BASE_AND_DATA", CKM_CONCATENATE_BASE_AND_DATA},
    {"CKM_MD5_KEY_DERIVATION", CKM_MD5_KEY_DERIVATION},
};

/* ---- rule parsing --------------------------------------------------- */

/* Parses an unsigned decimal number covering all of [p, end).  Rejects
 * empty strings and overflow. */
static bool
parse_ulong(const char *p, const char *end, unsigned long *out)
{
    unsigned long v = 0;

    if (p == end)
        return false;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (v > (ULONG_MAX - 9) / 10)
            return false;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    *out = v;
    return true;
}

static bool
parse_code(const char *p, const char *end, CK_RV *out)
{
    size_t len = (size_t)(end - p);
    char buf[64];
    char *stop;
    unsigned long v;

    for (size_t i = 0; i < sizeof(fm_ckr_names) / sizeof(fm_ckr_names[0]);
         i++) {
        if (strlen(fm_ckr_names[i].name) == len &&
            memcmp(fm_ckr_names[i].name, p, len) == 0) {
            *out = fm_ckr_names[i].rv;
            return true;
        }
    }
    /* Numeric: 0x... is hex, anything else decimal (strtoul base 0 would
     * read a leading 0 as octal, which nobody means here). */
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    errno = 0;
    if (len > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'))
        v = strtoul(buf + 2, &stop, 16);
    else
        v = strtoul(buf, &stop, 10);
    if (errno != 0 || *stop != '\0' || buf[0] == '-')
        return false;
    *out = v;
    return true;
}

static int
find_function(const char *p, const char *end)
{
    size_t len = (size_t)(end - p);

    if (len == 1 && *p == '*')
        return -1;
    for (int i = 0; i < FM_N; i++)
        if (strlen(fm_names[i]) == len && memcmp(fm_names[i], p, len) == 0)
            return i;
    return -2;
}

static void
trim(const char **p, const char **end)
{
    while (*p < *end && (**p == ' ' || **p == '\t' || **p == '\r'))
        (*p)++;
    while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t' ||
                         (*end)[-1] == '\r'))
        (*end)--;
}

/* Parses one "FUNCTION:WHEN=CODE" item in [p, end) into *r. */
static bool
parse_rule(const char *p, const char *end, struct fm_rule *r)
{
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *eq, *dash;

    if (colon == NULL)
        return false;
    eq = memchr(colon, '=', (size_t)(end - colon));
    if (eq == NULL)
        return false;
    {
        const char *fs = p, *fe = colon;
        trim(&fs, &fe);
        r->fn = find_function(fs, fe);
        if (r->fn == -2)
            return false;
    }
    {
        const char *ws = colon + 1, *we = eq;
        trim(&ws, &we);
        if (we - ws == 1 && *ws == '*') {
            r->from = 1;
            r->to = ULONG_MAX;
        } else if ((dash = memchr(ws, '-', (size_t)(we - ws))) != NULL) {
            if (!parse_ulong(ws, dash, &r->from))
                return false;
            if (dash + 1 == we)
                r->to = ULONG_MAX;
            else if (!parse_ulong(dash + 1, we, &r->to))
                return false;
        } else {
            if (!parse_ulong(ws, we, &r->from))
                return false;
            r->to = r->from;
        }
        /* Calls are numbered from 1: a rule for call 0 would never fire,
         * which is a typo worth reporting. */
        if (r->from == 0 || r->to < r->from)
            return false;
    }
    {
        const char *cs = eq + 1, *ce = end;
        trim(&cs, &ce);
        return parse_code(cs, ce, &r->rv);
    }
}

/* Parses the mechanism of a "hide:MECH" rule (a CKM_ name of
 * fm_ckm_names or a number) in [p, end) into fm_hidden.  Caller holds
 * fm_lock. */
static bool
parse_hide_unlocked(const char *p, const char *end)
{
    unsigned long v = 0;
    bool found = false;

    trim(&p, &end);
    for (size_t i = 0; i < sizeof(fm_ckm_names) / sizeof(fm_ckm_names[0]);
         i++) {
        if ((size_t)(end - p) == strlen(fm_ckm_names[i].name) &&
            strncmp(p, fm_ckm_names[i].name, (size_t)(end - p)) == 0) {
            v = fm_ckm_names[i].m;
            found = true;
        }
    }
    if (!found) {
        CK_RV rv;
        /* parse_code takes hex (0x) and decimal numbers, and a CKR_ name
         * would be a typo: refuse names here. */
        if (end - p > 0 && (*p < '0' || *p > '9'))
            return false;
        if (!parse_code(p, end, &rv))
            return false;
        v = rv;
    }
    if (fm_n_hidden == FM_HIDDEN_MAX)
        return false;
    fm_hidden[fm_n_hidden++] = v;
    return true;
}

/* Appends the rules of text to fm_rules.  Returns false when at least one
 * item was malformed (it is reported on stderr and skipped).  Caller holds
 * fm_lock. */
static bool
add_rules_unlocked(const char *text, const char *origin)
{
    bool ok = true;
    const char *p = text;

    while (p != NULL && *p != '\0') {
        const char *end = p + strcspn(p, ";\n");
        const char *next = *end ? end + 1 : end;
        const char *hash = memchr(p, '#', (size_t)(end - p));
        const char *ie = hash ? hash : end;
        struct fm_rule r;

        /* A comment runs to the end of the line, across ';'. */
        if (hash != NULL) {
            const char *nl = strchr(hash, '\n');
            next = nl ? nl + 1 : hash + strlen(hash);
        }
        trim(&p, &ie);
        if (ie - p > 4 && strncmp(p, "lag:", 4) == 0) {
            if ((size_t)(ie - p) == strlen("lag:C_DecryptUpdate") &&
                strncmp(p, "lag:C_DecryptUpdate", (size_t)(ie - p)) == 0) {
                fm_lag_decrypt = true;
            } else {
                fprintf(stderr, "hsmssp_faultmod: %s: ignoring malformed "
                        "rule '%.*s'\n", origin, (int)(ie - p), p);
                ok = false;
            }
        } else if (ie - p > 5 && strncmp(p, "hide:", 5) == 0) {
            if (!parse_hide_unlocked(p + 5, ie)) {
                fprintf(stderr, "hsmssp_faultmod: %s: ignoring malformed "
                        "rule '%.*s'\n", origin, (int)(ie - p), p);
                ok = false;
            }
        } else if (p < ie) {
            if (!parse_rule(p, ie, &r)) {
                fprintf(stderr, "hsmssp_faultmod: %s: ignoring malformed "
                        "rule '%.*s'\n", origin, (int)(ie - p), p);
                ok = false;
            } else {
                if (fm_n_rules == fm_cap_rules) {
                    size_t nc = fm_cap_rules ? 2 * fm_cap_rules : 8;
                    struct fm_rule *nr = realloc(fm_rules, nc * sizeof(*nr));
                    if (nr == NULL)
                        return false;
                    fm_rules = nr;
                    fm_cap_rules = nc;
                }
                fm_rules[fm_n_rules++] = r;
            }
        }
        p = next;
    }
    return ok;
}

/* Reads the rules file into a malloc'ed string; NULL when it is missing
 * or unreadable (no rules). */
static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        size_t n;
        if (cap - len < 1024) {
            char *nb = realloc(buf, cap + 4096);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                goto out;
            }
            buf = nb;
            cap += 4096;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    buf[len] = '\0';
out:
    fclose(f);
    return buf;
}

/* Rebuilds fm_rules from the environment text and the file, and restarts
 * every counter: "the Nth call" always counts from the moment the rules
 * took effect.  Caller holds fm_lock. */
static bool
rebuild_rules_unlocked(void)
{
    bool ok = true;

    fm_n_rules = 0;
    fm_n_hidden = 0;
    fm_lag_decrypt = false;
    if (fm_env_rules != NULL)
        ok = add_rules_unlocked(fm_env_rules, "HSMSSP_FAULT_RULES");
    if (fm_api_rules != NULL)
        ok = add_rules_unlocked(fm_api_rules, "hsmssp_fault_set_rules") &&
             ok;
    if (fm_rules_file != NULL && fm_file_sig.exists) {
        char *text = read_file(fm_rules_file);
        if (text != NULL) {
            ok = add_rules_unlocked(text, fm_rules_file) && ok;
            free(text);
        }
    }
    memset(fm_counts, 0, sizeof(fm_counts));
    fm_calls = 0;
    return ok;
}

/* Checks the rules file's signature and rebuilds the rules when it moved.
 * mtime alone can miss two writes within one timestamp tick, so size and
 * inode count too (a rename(2) replacement always changes the inode). */
static void
refresh_file_unlocked(void)
{
    struct stat st;
    bool exists;

    if (fm_rules_file == NULL)
        return;
    exists = stat(fm_rules_file, &st) == 0;
    if (exists == fm_file_sig.exists &&
        (!exists ||
         (st.st_dev == fm_file_sig.dev && st.st_ino == fm_file_sig.ino &&
          st.st_size == fm_file_sig.size &&
          st.st_mtim.tv_sec == fm_file_sig.mtime.tv_sec &&
          st.st_mtim.tv_nsec == fm_file_sig.mtime.tv_nsec)))
        return;
    fm_file_sig.exists = exists;
    if (exists) {
        fm_file_sig.dev = st.st_dev;
        fm_file_sig.ino = st.st_ino;
        fm_file_sig.size = st.st_size;
        fm_file_sig.mtime = st.st_mtim;
    }
    (void)rebuild_rules_unlocked();
}

/* Returns true when a and b differ as optional strings. */
static bool
str_differs(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a != b;
    return strcmp(a, b) != 0;
}

static char *
dup_or_null(const char *s)
{
    return (s != NULL && *s != '\0') ? strdup(s) : NULL;
}

/* Takes HSMSSP_FAULT_RULES, HSMSSP_FAULT_RULES_FILE and
 * HSMSSP_FAULT_EMULATE from the environment; rebuilds when they changed.
 * Caller holds fm_lock. */
static void
read_env_unlocked(void)
{
    const char *rules = getenv("HSMSSP_FAULT_RULES");
    const char *file = getenv("HSMSSP_FAULT_RULES_FILE");
    const char *emu = getenv("HSMSSP_FAULT_EMULATE");

    if (rules != NULL && *rules == '\0')
        rules = NULL;
    if (file != NULL && *file == '\0')
        file = NULL;
    fm_emulate = !(emu != NULL && strcmp(emu, "0") == 0);
    fm_debug = getenv("HSMSSP_FAULT_DEBUG") != NULL &&
               strcmp(getenv("HSMSSP_FAULT_DEBUG"), "1") == 0;
    if (!str_differs(rules, fm_env_rules) &&
        !str_differs(file, fm_rules_file))
        return;
    free(fm_env_rules);
    free(fm_rules_file);
    fm_env_rules = dup_or_null(rules);
    fm_rules_file = dup_or_null(file);
    /* Force the next refresh to read the (possibly new) file. */
    memset(&fm_file_sig, 0, sizeof(fm_file_sig));
    (void)rebuild_rules_unlocked();
    refresh_file_unlocked();
}

/* ---- tracking of sessions and objects ------------------------------- */

static void
track_session_unlocked(CK_SESSION_HANDLE h, CK_SLOT_ID slot)
{
    if (fm_n_sessions == fm_cap_sessions) {
        size_t nc = fm_cap_sessions ? 2 * fm_cap_sessions : 16;
        struct fm_session *ns = realloc(fm_sessions, nc * sizeof(*ns));
        if (ns == NULL)
            return; /* statistics only: losing one entry is harmless */
        fm_sessions = ns;
        fm_cap_sessions = nc;
    }
    memset(&fm_sessions[fm_n_sessions], 0, sizeof(fm_sessions[0]));
    fm_sessions[fm_n_sessions].h = h;
    fm_sessions[fm_n_sessions].slot = slot;
    fm_n_sessions++;
}

/* Forgets the session objects of session h (they died with it). */
static void
drop_session_objects_unlocked(CK_SESSION_HANDLE h)
{
    size_t j = 0;

    for (size_t i = 0; i < fm_n_objects; i++)
        if (fm_objects[i].token || fm_objects[i].s != h)
            fm_objects[j++] = fm_objects[i];
    fm_n_objects = j;
}

static void
untrack_session_unlocked(CK_SESSION_HANDLE h)
{
    for (size_t i = 0; i < fm_n_sessions; i++) {
        if (fm_sessions[i].h == h) {
            fm_sessions[i] = fm_sessions[--fm_n_sessions];
            break;
        }
    }
    drop_session_objects_unlocked(h);
}

static bool
template_is_token(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    for (CK_ULONG i = 0; t != NULL && i < n; i++)
        if (t[i].type == CKA_TOKEN && t[i].pValue != NULL &&
            t[i].ulValueLen == sizeof(CK_BBOOL))
            return *(const CK_BBOOL *)t[i].pValue != CK_FALSE;
    return false;
}

static void
track_object(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, bool token)
{
    pthread_mutex_lock(&fm_lock);
    if (fm_n_objects == fm_cap_objects) {
        size_t nc = fm_cap_objects ? 2 * fm_cap_objects : 64;
        struct fm_object *no = realloc(fm_objects, nc * sizeof(*no));
        if (no == NULL)
            goto out;
        fm_objects = no;
        fm_cap_objects = nc;
    }
    fm_objects[fm_n_objects].h = h;
    fm_objects[fm_n_objects].s = s;
    fm_objects[fm_n_objects].token = token;
    fm_n_objects++;
out:
    pthread_mutex_unlock(&fm_lock);
}

/* ---- the decision --------------------------------------------------- */

/* Closes real sessions after an emulated removal or invalidation.  Runs
 * without fm_lock: the real module has its own locking. */
static void
close_real_sessions(const CK_SESSION_HANDLE *hs, size_t n)
{
    CK_FUNCTION_LIST_PTR real;

    pthread_mutex_lock(&fm_lock);
    real = fm_initialized ? fm_real : NULL;
    pthread_mutex_unlock(&fm_lock);
    if (real == NULL || real->C_CloseSession == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        (void)real->C_CloseSession(hs[i]);
}

/* What fm_enter() decided. */
enum { FM_PASS = 0, FM_INJECT = 1, FM_INJECT_EMULATE = 2 };

/* Counts the call of function idx (on session sess, 0 for none) and
 * decides its fate: FM_PASS, or one of the FM_INJECT values with *rv_out
 * set when the call must fail with that code without reaching the real
 * module (FM_INJECT_EMULATE: and the caller should end the real
 * operation). */
static int
fm_enter(int idx, CK_SESSION_HANDLE sess, CK_RV *rv_out)
{
    CK_SESSION_HANDLE *doomed = NULL;
    size_t n_doomed = 0;
    bool inject = false, emulate, finalize_real = false, logout = false;
    CK_FUNCTION_LIST_PTR real = NULL;
    unsigned long n;

    pthread_mutex_lock(&fm_lock);
    refresh_file_unlocked();
    n = ++fm_counts[idx];
    fm_calls++;
    /* The emulated loss of initialisation holds until C_Initialize. */
    if (fm_lost_init && idx != FM_IDX_C_Initialize &&
        idx != FM_IDX_C_Finalize) {
        pthread_mutex_unlock(&fm_lock);
        *rv_out = CKR_CRYPTOKI_NOT_INITIALIZED;
        return FM_INJECT;
    }
    for (size_t i = 0; i < fm_n_rules; i++) {
        const struct fm_rule *r = &fm_rules[i];
        if ((r->fn == idx || r->fn == -1) && n >= r->from && n <= r->to) {
            inject = true;
            *rv_out = r->rv;
            break;
        }
    }
    if (fm_debug)
        fprintf(stderr, "hsmssp_faultmod: %s #%lu session %lu%s\n",
                fm_names[idx], n, (unsigned long)sess,
                inject ? " -> injected" : "");
    if (inject) {
        fm_injected++;
        /* Emulation: make the real module lose what a real token would
         * lose.  The sessions are forgotten here, under the lock, and
         * closed after it is released. */
        if (fm_emulate && *rv_out == CKR_CRYPTOKI_NOT_INITIALIZED &&
            idx != FM_IDX_C_Initialize && idx != FM_IDX_C_Finalize &&
            fm_initialized) {
            /* Someone finalised the module: every session and session
             * object is gone, and calls fail until C_Initialize. */
            while (fm_n_sessions > 0)
                untrack_session_unlocked(fm_sessions[0].h);
            fm_lost_init = true;
            fm_initialized = false;
            finalize_real = true;
            real = fm_real;
        } else if (fm_emulate && *rv_out == CKR_USER_NOT_LOGGED_IN &&
                   sess != 0) {
            /* The login is gone (a token that logs out on its own, a
             * session limit): log the application out for real. */
            logout = true;
            real = fm_real;
        } else if (fm_emulate && (*rv_out == CKR_DEVICE_REMOVED ||
                                  *rv_out == CKR_TOKEN_NOT_PRESENT) &&
                   fm_n_sessions > 0) {
            doomed = malloc(fm_n_sessions * sizeof(*doomed));
            if (doomed != NULL) {
                for (size_t i = 0; i < fm_n_sessions; i++)
                    doomed[n_doomed++] = fm_sessions[i].h;
                while (fm_n_sessions > 0)
                    untrack_session_unlocked(fm_sessions[0].h);
            }
        } else if (fm_emulate && *rv_out == CKR_SESSION_HANDLE_INVALID &&
                   sess != 0) {
            for (size_t i = 0; i < fm_n_sessions; i++) {
                if (fm_sessions[i].h == sess) {
                    doomed = malloc(sizeof(*doomed));
                    if (doomed != NULL) {
                        doomed[n_doomed++] = sess;
                        untrack_session_unlocked(sess);
                    }
                    break;
                }
            }
        }
        fm_emulated_closes += n_doomed;
    }
    emulate = fm_emulate;
    pthread_mutex_unlock(&fm_lock);
    if (n_doomed > 0)
        close_real_sessions(doomed, n_doomed);
    free(doomed);
    if (finalize_real && real != NULL) {
        (void)real->C_Finalize(NULL);
        return FM_INJECT; /* no operation is left to end */
    }
    if (logout && real != NULL && real->C_Logout != NULL)
        (void)real->C_Logout(sess);
    if (!inject)
        return FM_PASS;
    return emulate ? FM_INJECT_EMULATE : FM_INJECT;
}

/* True when a "hide:" rule hides mechanism type t. */
static bool
fm_mech_hidden(CK_MECHANISM_TYPE t)
{
    bool hidden = false;

    pthread_mutex_lock(&fm_lock);
    for (size_t i = 0; i < fm_n_hidden; i++)
        hidden |= fm_hidden[i] == t;
    pthread_mutex_unlock(&fm_lock);
    return hidden;
}

/* The real function list, or NULL before a target is loaded. */
static CK_FUNCTION_LIST_PTR
real_list(void)
{
    CK_FUNCTION_LIST_PTR r;
    pthread_mutex_lock(&fm_lock);
    r = fm_real;
    pthread_mutex_unlock(&fm_lock);
    return r;
}

/* ---- ending the real operation after an injected fault --------------
 *
 * PKCS#11 v2.40 sec. 5.2: a call that fails (other than with
 * CKR_BUFFER_TOO_SMALL or a size query) terminates the active operation.
 * A fault injected into C_Encrypt never reached the real module, whose
 * encrypt operation would then stay active: the caller's next
 * C_EncryptInit on that session would get CKR_OPERATION_ACTIVE, a fault
 * of the wrapper, not of the code under test.  So the module ends the real
 * operation itself, the only portable way: by completing it into scratch
 * memory, which is wiped (it may hold plaintext) and discarded.  Errors
 * are ignored: a failing call terminates the operation as well. */

#define FM_SCRATCH_SLACK 64u

/* Runs f(s, in, n, out, outlen) to completion on scratch output. */
static void
scratch_call(CK_C_Encrypt f, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG n)
{
    CK_ULONG len = 0;
    CK_BYTE_PTR buf;

    if (f == NULL)
        return;
    if (f(s, in, n, NULL, &len) != CKR_OK)
        return;
    /* Some modules size a multi-part update conservatively, others
     * exactly; slack covers a block of either. */
    len += n + FM_SCRATCH_SLACK;
    buf = calloc(1, len);
    if (buf == NULL)
        return;
    (void)f(s, in, n, buf, &len);
    explicit_bzero(buf, len);
    free(buf);
}

/* Runs a final f(s, out, outlen) to completion on scratch output. */
static void
term_final(CK_C_EncryptFinal f, CK_SESSION_HANDLE s)
{
    CK_ULONG len = 0;
    CK_BYTE_PTR buf;

    if (f == NULL)
        return;
    if (f(s, NULL, &len) != CKR_OK)
        return;
    len += FM_SCRATCH_SLACK;
    buf = calloc(1, len);
    if (buf == NULL)
        return;
    (void)f(s, buf, &len);
    explicit_bzero(buf, len);
    free(buf);
}

/* A C_VerifyFinal with an impossible signature ends a verification. */
static void
term_verify_final(CK_C_VerifyFinal f, CK_SESSION_HANDLE s)
{
    CK_BYTE dummy[1] = {0};

    if (f != NULL)
        (void)f(s, dummy, 0);
}

/* Single-part operations and updates with output: complete the call, then
 * the finals of the operations an update leaves open. */
static void
term_out(CK_C_Encrypt f, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG n,
         CK_C_EncryptFinal fin1, CK_C_EncryptFinal fin2,
         CK_C_VerifyFinal vfin)
{
    scratch_call(f, s, in, n);
    term_final(fin1, s);
    term_final(fin2, s);
    term_verify_final(vfin, s);
}

/* Updates without output (digest, sign, verify). */
static void
term_update(CK_C_DigestUpdate f, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
            CK_ULONG n, CK_C_DigestFinal fin, CK_C_VerifyFinal vfin)
{
    if (f != NULL)
        (void)f(s, in, n);
    term_final(fin, s);
    term_verify_final(vfin, s);
}

static void
term_digest_key(CK_FUNCTION_LIST_PTR real, CK_SESSION_HANDLE s,
                CK_OBJECT_HANDLE k)
{
    if (real->C_DigestKey != NULL)
        (void)real->C_DigestKey(s, k);
    term_final(real->C_DigestFinal, s);
}

/* Common prologue of every forwarder: count, maybe inject (ending the
 * real operation when emulating), find the real function. */
#define FM_PROLOGUE(name, sess, term)                                       \
    CK_FUNCTION_LIST_PTR real_ = real_list();                               \
    CK_RV rv_;                                                              \
    int how_ = fm_enter(FM_IDX_##name, (CK_SESSION_HANDLE)(sess), &rv_);    \
    if (how_ != FM_PASS) {                                                  \
        if (how_ == FM_INJECT_EMULATE && real_ != NULL)                     \
            term;                                                           \
        return rv_;                                                         \
    }                                                                       \
    if (real_ == NULL)                                                      \
        return CKR_CRYPTOKI_NOT_INITIALIZED;                                \
    if (real_->name == NULL)                                                \
        return CKR_FUNCTION_NOT_SUPPORTED;

#define FM_GEN_FWD(name, params, args, sess, term)                          \
    static CK_RV fm_##name params                                           \
    {                                                                       \
        FM_PROLOGUE(name, sess, term)                                       \
        return real_->name args;                                            \
    }
#define FM_GEN_OP FM_GEN_FWD
#define FM_GEN_MECH(name, params, args, sess, term)                         \
    static CK_RV fm_##name params                                           \
    {                                                                       \
        FM_PROLOGUE(name, sess, term)                                       \
        if (m != NULL && fm_mech_hidden(m->mechanism))                      \
            return CKR_MECHANISM_INVALID;                                   \
        return real_->name args;                                            \
    }
#define FM_GEN_OWN(name, params, args, sess, term)                          \
    static CK_RV fm_##name params;
#define FM_GEN_(name, params, args, sess, kind, term)                       \
    FM_GEN_##kind(name, params, args, sess, term)
FM_FUNCS(FM_GEN_)
#undef FM_GEN_

/* ---- hand-written functions ----------------------------------------- */

/* Loads HSMSSP_FAULT_TARGET when it is not the module already loaded.
 * A different target is refused while the current one is initialised:
 * the real module's state would be orphaned.  Caller holds fm_lock. */
static CK_RV
load_target_unlocked(void)
{
    const char *path = getenv("HSMSSP_FAULT_TARGET");
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST_PTR list = NULL;
    void *dl;
    char *copy;
    CK_RV rv;

    if (path == NULL || *path == '\0') {
        fprintf(stderr, "hsmssp_faultmod: HSMSSP_FAULT_TARGET is not set\n");
        return CKR_GENERAL_ERROR;
    }
    if (fm_real != NULL && fm_target_path != NULL &&
        strcmp(path, fm_target_path) == 0)
        return CKR_OK;
    if (fm_initialized) {
        fprintf(stderr, "hsmssp_faultmod: cannot switch to %s while %s is "
                "initialised\n", path, fm_target_path);
        return CKR_GENERAL_ERROR;
    }
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        fprintf(stderr, "hsmssp_faultmod: cannot load %s: %s\n", path,
                dlerror());
        return CKR_GENERAL_ERROR;
    }
    /* POSIX blesses this conversion of dlsym's result. */
    *(void **)&get = dlsym(dl, "C_GetFunctionList");
    if (get == NULL) {
        fprintf(stderr, "hsmssp_faultmod: %s has no C_GetFunctionList\n",
                path);
        dlclose(dl);
        return CKR_GENERAL_ERROR;
    }
    rv = get(&list);
    if (rv != CKR_OK || list == NULL) {
        dlclose(dl);
        return rv != CKR_OK ? rv : CKR_GENERAL_ERROR;
    }
    copy = strdup(path);
    if (copy == NULL)
        return CKR_HOST_MEMORY;
    free(fm_target_path);
    fm_target_path = copy;
    fm_real = list;
    return CKR_OK;
}

static CK_FUNCTION_LIST fm_list;

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
    CK_RV rv;

    if (out == NULL)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&fm_lock);
    read_env_unlocked();
    rv = load_target_unlocked();
    pthread_mutex_unlock(&fm_lock);
    if (rv != CKR_OK)
        return rv;
    *out = &fm_list;
    return CKR_OK;
}

/* The arguments, pReserved included, reach the real module unchanged:
 * NSS softoken takes its configuration string there. */
static CK_RV
fm_C_Initialize(void *a)
{
    CK_RV rv;

    pthread_mutex_lock(&fm_lock);
    read_env_unlocked();
    rv = load_target_unlocked();
    pthread_mutex_unlock(&fm_lock);
    if (rv != CKR_OK)
        return rv;
    {
        FM_PROLOGUE(C_Initialize, 0, (void)0)
        rv = real_->C_Initialize(a);
    }
    if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        pthread_mutex_lock(&fm_lock);
        fm_initialized = true;
        fm_lost_init = false;
        pthread_mutex_unlock(&fm_lock);
    }
    return rv;
}

/* After the real C_Finalize no session or session object survives;
 * token objects do (they live in the token's storage). */
static CK_RV
fm_C_Finalize(void *r)
{
    CK_RV rv;
    bool lost;
    FM_PROLOGUE(C_Finalize, 0, (void)0)
    pthread_mutex_lock(&fm_lock);
    lost = fm_lost_init;
    pthread_mutex_unlock(&fm_lock);
    /* Already finalised by the emulation: what a real module says. */
    if (lost)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    rv = real_->C_Finalize(r);
    if (rv == CKR_OK) {
        /* Every session, and every session object, is gone. */
        pthread_mutex_lock(&fm_lock);
        while (fm_n_sessions > 0)
            untrack_session_unlocked(fm_sessions[0].h);
        fm_initialized = false;
        pthread_mutex_unlock(&fm_lock);
    }
    return rv;
}

/* Sessions are tracked with their slot: C_CloseAllSessions names a slot,
 * and an emulated removal closes every session this module has seen. */
static CK_RV
fm_C_OpenSession(CK_SLOT_ID id, CK_FLAGS f, void *app, CK_NOTIFY cb,
                 CK_SESSION_HANDLE_PTR ps)
{
    CK_RV rv;
    FM_PROLOGUE(C_OpenSession, 0, (void)0)
    rv = real_->C_OpenSession(id, f, app, cb, ps);
    if (rv == CKR_OK && ps != NULL) {
        pthread_mutex_lock(&fm_lock);
        track_session_unlocked(*ps, id);
        pthread_mutex_unlock(&fm_lock);
    }
    return rv;
}

/* A session the emulation already closed reaches the real module as an
 * invalid handle; the caller still sees the real module's answer, which
 * is what a real token would give after losing the session. */
static CK_RV
fm_C_CloseSession(CK_SESSION_HANDLE s)
{
    CK_RV rv;
    FM_PROLOGUE(C_CloseSession, s, (void)0)
    rv = real_->C_CloseSession(s);
    /* SESSION_HANDLE_INVALID also means the session is gone. */
    if (rv == CKR_OK || rv == CKR_SESSION_HANDLE_INVALID ||
        rv == CKR_SESSION_CLOSED) {
        pthread_mutex_lock(&fm_lock);
        untrack_session_unlocked(s);
        pthread_mutex_unlock(&fm_lock);
    }
    return rv;
}

/* Every tracked session of the slot goes, with its session objects. */
static CK_RV
fm_C_CloseAllSessions(CK_SLOT_ID id)
{
    CK_RV rv;
    FM_PROLOGUE(C_CloseAllSessions, 0, (void)0)
    rv = real_->C_CloseAllSessions(id);
    if (rv == CKR_OK) {
        pthread_mutex_lock(&fm_lock);
        for (size_t i = 0; i < fm_n_sessions;) {
            if (fm_sessions[i].slot == id)
                untrack_session_unlocked(fm_sessions[i].h);
            else
                i++;
        }
        pthread_mutex_unlock(&fm_lock);
    }
    return rv;
}

/* Object creators: an object is counted only when the real module made
 * it; an injected failure never reaches the module, so a token layer that
 * cleans up after a failed import shows no leftover here. */
static CK_RV
fm_C_CreateObject(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                  CK_OBJECT_HANDLE_PTR o)
{
    CK_RV rv;
    FM_PROLOGUE(C_CreateObject, s, (void)0)
    rv = real_->C_CreateObject(s, t, n, o);
    if (rv == CKR_OK && o != NULL)
        track_object(s, *o, template_is_token(t, n));
    return rv;
}

static CK_RV
fm_C_CopyObject(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR t,
                CK_ULONG n, CK_OBJECT_HANDLE_PTR o)
{
    CK_RV rv;
    FM_PROLOGUE(C_CopyObject, s, (void)0)
    rv = real_->C_CopyObject(s, h, t, n, o);
    if (rv == CKR_OK && o != NULL)
        track_object(s, *o, template_is_token(t, n));
    return rv;
}

/* Destroying removes the record by handle.  Token objects found again
 * after a re-login may carry new handles: their records can outlive
 * them, which is why token_objects is only meaningful between
 * recoveries. */
static CK_RV
fm_C_DestroyObject(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    CK_RV rv;
    FM_PROLOGUE(C_DestroyObject, s, (void)0)
    rv = real_->C_DestroyObject(s, h);
    if (rv == CKR_OK) {
        pthread_mutex_lock(&fm_lock);
        for (size_t i = 0; i < fm_n_objects; i++) {
            if (fm_objects[i].h == h) {
                fm_objects[i] = fm_objects[--fm_n_objects];
                break;
            }
        }
        pthread_mutex_unlock(&fm_lock);
    }
    return rv;
}

/* ---- "lag:C_DecryptUpdate": a token that returns each block late -----
 *
 * Some tokens keep the last block of every C_DecryptUpdate back until the
 * next call (as for padded mechanisms, where it may be the padding).  With
 * the rule on, each update returns what the real one gave minus its last
 * 16 bytes, preceded by the block held from the update before; the final
 * returns the held block before the real final's output.  Meant for the
 * unpadded block modes hsmssp streams (CBC): the real update's output is
 * at most its input. */

/* The tracked session h (NULL when unknown).  Caller holds fm_lock. */
static struct fm_session *
session_unlocked(CK_SESSION_HANDLE h)
{
    for (size_t i = 0; i < fm_n_sessions; i++)
        if (fm_sessions[i].h == h)
            return &fm_sessions[i];
    return NULL;
}

/* Takes the held block of session s into buf (returns its length, 0 when
 * none or when the session is unknown) and clears it. */
static CK_ULONG
lag_take(CK_SESSION_HANDLE s, CK_BYTE buf[16])
{
    struct fm_session *fs;
    CK_ULONG n = 0;

    pthread_mutex_lock(&fm_lock);
    fs = session_unlocked(s);
    if (fs != NULL) {
        n = fs->lag_n;
        memcpy(buf, fs->lag, n);
        explicit_bzero(fs->lag, sizeof(fs->lag));
        fs->lag_n = 0;
    }
    pthread_mutex_unlock(&fm_lock);
    return n;
}

static CK_RV
fm_C_DecryptUpdate(CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n,
                   CK_BYTE_PTR o, CK_ULONG_PTR on)
{
    CK_BYTE held[16], *tmp;
    CK_ULONG hn, tn, total, emit;
    struct fm_session *fs;
    bool lag;
    CK_RV rv;
    /* An injected fault ends the operation: the held block goes too. */
    FM_PROLOGUE(C_DecryptUpdate, s,
                (term_out(real_->C_DecryptUpdate, s, d, n,
                          real_->C_DecryptFinal, NULL, NULL),
                 (void)lag_take(s, held)))
    pthread_mutex_lock(&fm_lock);
    lag = fm_lag_decrypt && session_unlocked(s) != NULL;
    pthread_mutex_unlock(&fm_lock);
    if (!lag || o == NULL || on == NULL)
        return real_->C_DecryptUpdate(s, d, n, o, on);
    hn = lag_take(s, held);
    tmp = malloc(hn + n + 1);
    if (tmp == NULL) {
        term_out(real_->C_DecryptUpdate, s, d, n, real_->C_DecryptFinal,
                 NULL, NULL);
        return CKR_HOST_MEMORY;
    }
    memcpy(tmp, held, hn);
    tn = n;
    rv = real_->C_DecryptUpdate(s, d, n, tmp + hn, &tn);
    if (rv == CKR_OK) {
        total = hn + tn;
        emit = total >= 16 ? total - 16 : 0;
        if (emit > *on) {
            /* Not an emulation case: the caller gave less room than its
             * input; end the operation as a failed real call would. */
            term_final(real_->C_DecryptFinal, s);
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            memcpy(o, tmp, emit);
            *on = emit;
            pthread_mutex_lock(&fm_lock);
            fs = session_unlocked(s);
            if (fs != NULL) {
                fs->lag_n = total - emit;
                memcpy(fs->lag, tmp + emit, fs->lag_n);
            }
            pthread_mutex_unlock(&fm_lock);
        }
    }
    explicit_bzero(tmp, hn + n + 1);
    explicit_bzero(held, sizeof(held));
    free(tmp);
    return rv;
}

static CK_RV
fm_C_DecryptFinal(CK_SESSION_HANDLE s, CK_BYTE_PTR o, CK_ULONG_PTR on)
{
    CK_BYTE held[16];
    CK_ULONG hn, rn;
    CK_RV rv;
    FM_PROLOGUE(C_DecryptFinal, s,
                (term_final(real_->C_DecryptFinal, s),
                 (void)lag_take(s, held)))
    hn = lag_take(s, held);
    if (hn == 0 || o == NULL || on == NULL)
        return real_->C_DecryptFinal(s, o, on);
    if (*on < hn) {
        term_final(real_->C_DecryptFinal, s);
        explicit_bzero(held, sizeof(held));
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(o, held, hn);
    rn = *on - hn;
    rv = real_->C_DecryptFinal(s, o + hn, &rn);
    *on = rv == CKR_OK ? hn + rn : 0;
    explicit_bzero(held, sizeof(held));
    return rv;
}

static CK_RV
fm_C_GenerateKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t,
                 CK_ULONG n, CK_OBJECT_HANDLE_PTR o)
{
    CK_RV rv;
    FM_PROLOGUE(C_GenerateKey, s, (void)0)
    if (m != NULL && fm_mech_hidden(m->mechanism))
        return CKR_MECHANISM_INVALID;
    rv = real_->C_GenerateKey(s, m, t, n, o);
    if (rv == CKR_OK && o != NULL)
        track_object(s, *o, template_is_token(t, n));
    return rv;
}

static CK_RV
fm_C_GenerateKeyPair(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                     CK_ATTRIBUTE_PTR pt, CK_ULONG pn, CK_ATTRIBUTE_PTR vt,
                     CK_ULONG vn, CK_OBJECT_HANDLE_PTR po,
                     CK_OBJECT_HANDLE_PTR vo)
{
    CK_RV rv;
    FM_PROLOGUE(C_GenerateKeyPair, s, (void)0)
    if (m != NULL && fm_mech_hidden(m->mechanism))
        return CKR_MECHANISM_INVALID;
    rv = real_->C_GenerateKeyPair(s, m, pt, pn, vt, vn, po, vo);
    if (rv == CKR_OK && po != NULL && vo != NULL) {
        track_object(s, *po, template_is_token(pt, pn));
        track_object(s, *vo, template_is_token(vt, vn));
    }
    return rv;
}

static CK_RV
fm_C_UnwrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE w,
               CK_BYTE_PTR d, CK_ULONG dn, CK_ATTRIBUTE_PTR t, CK_ULONG n,
               CK_OBJECT_HANDLE_PTR o)
{
    CK_RV rv;
    FM_PROLOGUE(C_UnwrapKey, s, (void)0)
    if (m != NULL && fm_mech_hidden(m->mechanism))
        return CKR_MECHANISM_INVALID;
    rv = real_->C_UnwrapKey(s, m, w, d, dn, t, n, o);
    if (rv == CKR_OK && o != NULL)
        track_object(s, *o, template_is_token(t, n));
    return rv;
}

static CK_RV
fm_C_DeriveKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE b,
               CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR o)
{
    CK_RV rv;
    FM_PROLOGUE(C_DeriveKey, s, (void)0)
    if (m != NULL && fm_mech_hidden(m->mechanism))
        return CKR_MECHANISM_INVALID;
    rv = real_->C_DeriveKey(s, m, b, t, n, o);
    /* XXX: SP800-108 additional derived keys (PKCS#11 3.0 parameters) are
     * not tracked; the v2.40 interface this module offers cannot name
     * them anyway. */
    if (rv == CKR_OK && o != NULL)
        track_object(s, *o, template_is_token(t, n));
    return rv;
}

/* The real list without the hidden mechanisms.  The count a NULL list
 * asks for is the filtered one, so the usual two-call idiom works. */
static CK_RV
fm_C_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR l, CK_ULONG_PTR n)
{
    CK_MECHANISM_TYPE_PTR all = NULL;
    CK_ULONG total = 0, kept = 0;
    CK_RV rv;
    FM_PROLOGUE(C_GetMechanismList, 0, (void)0)
    if (n == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = real_->C_GetMechanismList(id, NULL, &total);
    if (rv != CKR_OK)
        return rv;
    all = calloc(total ? total : 1, sizeof(*all));
    if (all == NULL)
        return CKR_HOST_MEMORY;
    rv = real_->C_GetMechanismList(id, all, &total);
    if (rv == CKR_OK) {
        for (CK_ULONG i = 0; i < total; i++)
            if (!fm_mech_hidden(all[i]))
                all[kept++] = all[i];
        if (l != NULL && *n < kept)
            rv = CKR_BUFFER_TOO_SMALL;
        else if (l != NULL)
            memcpy(l, all, kept * sizeof(*all));
        *n = kept;
    }
    free(all);
    return rv;
}

static CK_RV
fm_C_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE t,
                      CK_MECHANISM_INFO_PTR i)
{
    FM_PROLOGUE(C_GetMechanismInfo, 0, (void)0)
    if (fm_mech_hidden(t))
        return CKR_MECHANISM_INVALID;
    return real_->C_GetMechanismInfo(id, t, i);
}

/* ---- the function list ---------------------------------------------- */

static CK_FUNCTION_LIST fm_list = {
    .version = {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR},
    .C_GetFunctionList = C_GetFunctionList,
#define FM_SLOT_(name, params, args, sess, kind, term) .name = fm_##name,
    FM_FUNCS(FM_SLOT_)
#undef FM_SLOT_
};

/* ---- control surface for tests (faultmod.h) ------------------------- */

void
hsmssp_fault_get_stats(struct hsmssp_fault_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&fm_lock);
    refresh_file_unlocked();
    out->calls = fm_calls;
    out->injected = fm_injected;
    out->open_sessions = fm_n_sessions;
    for (size_t i = 0; i < fm_n_objects; i++) {
        if (fm_objects[i].token)
            out->token_objects++;
        else
            out->session_objects++;
    }
    out->emulated_closes = fm_emulated_closes;
    out->initialized = fm_initialized;
    pthread_mutex_unlock(&fm_lock);
}

unsigned long
hsmssp_fault_call_count(const char *function)
{
    unsigned long n = 0;
    int idx;

    if (function == NULL)
        return 0;
    idx = find_function(function, function + strlen(function));
    if (idx < 0)
        return 0;
    pthread_mutex_lock(&fm_lock);
    refresh_file_unlocked();
    n = fm_counts[idx];
    pthread_mutex_unlock(&fm_lock);
    return n;
}

int
hsmssp_fault_set_rules(const char *rules)
{
    bool ok;
    int n;

    pthread_mutex_lock(&fm_lock);
    free(fm_api_rules);
    fm_api_rules = dup_or_null(rules);
    ok = rebuild_rules_unlocked();
    n = (int)fm_n_rules;
    pthread_mutex_unlock(&fm_lock);
    return ok ? n : -1;
}
