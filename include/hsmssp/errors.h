/*
 * hsmssp/errors.h - the one error list of hsmssp.
 *
 * Every fallible function below the SSPI surface returns an hsmssp_err;
 * 0 (HSMSSP_OK) is success.  Each code is declared once, in
 * HSMSSP_ERR_LIST, with its number, its category and a one-line message
 * written for an operator.  The enum, the message table and the category
 * table are all generated from that list, so they cannot drift apart.
 *
 * Codes are stable: a code keeps its number for ever, new codes take new
 * numbers.  Numbers ascend with the list and each category has its own
 * range: usage 1-19, token 20-49, protocol 50-99, policy 100-119,
 * internal 120-149.  Categories:
 *   USAGE     the caller passed something wrong (arguments, configuration)
 *   TOKEN     the PKCS#11 module or token refused or failed
 *   PROTOCOL  input from the network was malformed, altered or unknown
 *   POLICY    the operation is possible but the configured policy forbids it
 *   INTERNAL  resource exhaustion or a bug
 *
 * When a function fails it also records, per thread, the source location
 * and an optional detail line (hsmssp_last_error_detail()).  Details never
 * carry PINs, key bytes, hashes or tickets.
 */
#ifndef HSMSSP_ERRORS_H
#define HSMSSP_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef HSMSSP_API
#define HSMSSP_API __attribute__((visibility("default")))
#endif

/* X(name, number, category, message) */
#define HSMSSP_ERR_LIST(X)                                                   \
    X(HSMSSP_OK, 0, INTERNAL, "success")                                     \
    /* usage */                                                              \
    X(HSMSSP_ERR_INVALID_ARGUMENT, 1, USAGE, "invalid argument")             \
    X(HSMSSP_ERR_BUFFER_TOO_SMALL, 2, USAGE, "output buffer too small")      \
    X(HSMSSP_ERR_INPUT_TOO_LARGE, 3, USAGE, "input exceeds the size limit")  \
    X(HSMSSP_ERR_CONFIG, 4, USAGE, "invalid configuration")                  \
    X(HSMSSP_ERR_BAD_URI, 5, USAGE, "invalid PKCS#11 URI")                   \
    X(HSMSSP_ERR_FILE_PERMS, 6, USAGE,                                       \
      "file is readable by group or others")                                 \
    X(HSMSSP_ERR_CONTEXT_STATE, 7, USAGE,                                    \
      "call not valid in the context's current state")                       \
    X(HSMSSP_ERR_UNSUPPORTED, 8, USAGE,                                      \
      "function not supported by this package")                              \
    /* token */                                                              \
    X(HSMSSP_ERR_MODULE_LOAD, 20, TOKEN, "PKCS#11 module cannot be loaded")  \
    X(HSMSSP_ERR_MODULE_INIT, 21, TOKEN,                                     \
      "PKCS#11 module failed to initialise")                                 \
    X(HSMSSP_ERR_NO_TOKEN, 22, TOKEN, "no token matches")                    \
    X(HSMSSP_ERR_PIN_INCORRECT, 23, TOKEN, "PIN incorrect")                  \
    X(HSMSSP_ERR_PIN_LOCKED, 24, TOKEN, "PIN locked")                        \
    X(HSMSSP_ERR_PIN_EXPIRED, 25, TOKEN, "PIN expired")                      \
    X(HSMSSP_ERR_PIN_INVALID, 26, TOKEN, "PIN has an invalid form")          \
    X(HSMSSP_ERR_PIN_UNAVAILABLE, 27, TOKEN, "no PIN available for login")   \
    X(HSMSSP_ERR_TOKEN_REMOVED, 28, TOKEN, "token removed or not present")   \
    X(HSMSSP_ERR_SESSION_LOST, 29, TOKEN, "PKCS#11 session lost")            \
    X(HSMSSP_ERR_KEY_GONE, 30, TOKEN,                                        \
      "key object no longer exists on the token")                            \
    X(HSMSSP_ERR_MECHANISM_MISSING, 31, TOKEN,                               \
      "token lacks a required mechanism")                                    \
    X(HSMSSP_ERR_TOKEN_FAILURE, 32, TOKEN, "token operation failed")         \
    X(HSMSSP_ERR_TOKEN_READONLY, 33, TOKEN, "token is write-protected")      \
    X(HSMSSP_ERR_KEY_NOT_FOUND, 34, TOKEN, "key not found on the token")     \
    X(HSMSSP_ERR_FORKED, 35, TOKEN,                                          \
      "object belongs to the parent process (fork)")                         \
    X(HSMSSP_ERR_TOKEN_FULL, 36, TOKEN, "token out of memory or space")      \
    X(HSMSSP_ERR_KEY_REFUSED, 37, TOKEN,                                     \
      "token refused the key (type, size or attributes)")                    \
    /* protocol */                                                           \
    X(HSMSSP_ERR_INTEGRITY, 50, PROTOCOL, "integrity check failed")          \
    X(HSMSSP_ERR_BAD_CIPHERTEXT, 51, PROTOCOL,                               \
      "ciphertext is malformed or truncated")                                \
    X(HSMSSP_ERR_UNKNOWN_ENCTYPE, 52, PROTOCOL, "unknown encryption type")   \
    X(HSMSSP_ERR_UNKNOWN_CKSUMTYPE, 53, PROTOCOL, "unknown checksum type")   \
    X(HSMSSP_ERR_BAD_TOKEN, 54, PROTOCOL, "token is malformed")              \
    X(HSMSSP_ERR_LIMIT, 55, PROTOCOL, "input exceeds a configured limit")    \
    X(HSMSSP_ERR_REPLAY, 56, PROTOCOL, "replayed authenticator")             \
    X(HSMSSP_ERR_DUPLICATE, 57, PROTOCOL,                                    \
      "duplicate or too old message token")                                  \
    X(HSMSSP_ERR_OUT_OF_SEQUENCE, 58, PROTOCOL,                              \
      "message token out of sequence (gap or reordering)")                   \
    X(HSMSSP_ERR_BAD_BINDINGS, 59, PROTOCOL, "channel bindings mismatch")    \
    X(HSMSSP_ERR_CLOCK_SKEW, 60, PROTOCOL,                                   \
      "clock skew too great")                                                \
    X(HSMSSP_ERR_TICKET_EXPIRED, 61, PROTOCOL, "ticket expired")             \
    X(HSMSSP_ERR_TICKET_NOT_YET_VALID, 62, PROTOCOL,                         \
      "ticket not yet valid")                                                \
    X(HSMSSP_ERR_CONTEXT_EXPIRED, 63, PROTOCOL, "security context expired")  \
    X(HSMSSP_ERR_WRONG_PRINCIPAL, 64, PROTOCOL,                              \
      "ticket is for a principal this credential has no key for")            \
    X(HSMSSP_ERR_NO_KEY, 65, PROTOCOL,                                       \
      "no key with the ticket's key version and encryption type")            \
    X(HSMSSP_ERR_BAD_PAC, 66, PROTOCOL,                                      \
      "PAC is malformed or does not match the ticket")                       \
    X(HSMSSP_ERR_WRONG_MECH, 67, PROTOCOL,                                   \
      "token is for another mechanism")                                      \
    X(HSMSSP_ERR_PEER_ERROR, 69, PROTOCOL,                                   \
      "the peer answered with an error")                                     \
    X(HSMSSP_ERR_KDC_UNREACHABLE, 70, PROTOCOL,                              \
      "no KDC of the realm answered")                                        \
    X(HSMSSP_ERR_PRINCIPAL_UNKNOWN, 71, PROTOCOL,                            \
      "the KDC does not know the principal")                                 \
    X(HSMSSP_ERR_PREAUTH_FAILED, 72, PROTOCOL,                               \
      "the KDC refused the pre-authentication (wrong key or password)")      \
    X(HSMSSP_ERR_NO_TICKET, 73, PROTOCOL,                                    \
      "no usable ticket (expired, or none in the credentials)")              \
    X(HSMSSP_ERR_CLIENT_UNKNOWN, 74, PROTOCOL,                               \
      "the KDC does not know the client principal")                          \
    X(HSMSSP_ERR_MUTUAL_FAILED, 75, PROTOCOL,                                \
      "the acceptor's reply does not authenticate it")                       \
    X(HSMSSP_ERR_KDC_ETYPE, 76, PROTOCOL,                                    \
      "no encryption type in common with the KDC")                           \
    X(HSMSSP_ERR_REFERRAL, 77, PROTOCOL,                                     \
      "the realm of the service cannot be reached (referrals)")              \
    /* policy */                                                             \
    X(HSMSSP_ERR_POLICY_HOST_OP, 100, POLICY,                                 \
      "operation would run on the host with key material (H(op))")           \
    X(HSMSSP_ERR_POLICY_MLOCK, 101, POLICY,                                   \
      "memory cannot be locked and policy requires it")                      \
    X(HSMSSP_ERR_POLICY_ENCTYPE, 102, POLICY,                                 \
      "encryption type disabled by policy")                                  \
    X(HSMSSP_ERR_POLICY_BINDINGS, 103, POLICY,                                \
      "policy requires channel bindings and none were given")                \
    X(HSMSSP_ERR_POLICY_DELEGATION, 104, POLICY,                              \
      "delegation not permitted by policy")                                  \
    X(HSMSSP_ERR_NO_IMPERSONATION, 105, POLICY,                               \
      "client cannot be impersonated (no local account or no privilege)")    \
    /* internal */                                                           \
    X(HSMSSP_ERR_NOMEM, 120, INTERNAL, "out of memory")                       \
    X(HSMSSP_ERR_CRYPTO, 121, INTERNAL, "host cryptography failed")           \
    X(HSMSSP_ERR_RANDOM, 122, INTERNAL, "random number generation failed")    \
    X(HSMSSP_ERR_RCACHE_IO, 123, INTERNAL,                                    \
      "replay cache cannot be read or written")                              \
    X(HSMSSP_ERR_RCACHE_FULL, 124, INTERNAL,                                  \
      "replay cache is full of unexpired entries")                           \
    X(HSMSSP_ERR_INTERNAL, 149, INTERNAL, "internal error")

typedef enum hsmssp_err {
#define HSMSSP_ERR_ENUM_(name, num, cat, msg) name = num,
    HSMSSP_ERR_LIST(HSMSSP_ERR_ENUM_)
#undef HSMSSP_ERR_ENUM_
} hsmssp_err;

typedef enum hsmssp_err_category {
    HSMSSP_CAT_USAGE = 1,
    HSMSSP_CAT_TOKEN,
    HSMSSP_CAT_PROTOCOL,
    HSMSSP_CAT_POLICY,
    HSMSSP_CAT_INTERNAL
} hsmssp_err_category;

/* The code's symbolic name ("HSMSSP_ERR_PIN_LOCKED"); "unknown" for a
 * number not in the list.  Static storage. */
HSMSSP_API const char *hsmssp_err_name(hsmssp_err err);

/* The code's one-line message.  Static storage. */
HSMSSP_API const char *hsmssp_err_message(hsmssp_err err);

/* The code's category; HSMSSP_CAT_INTERNAL for an unknown number. */
HSMSSP_API hsmssp_err_category hsmssp_err_category_of(hsmssp_err err);

/* The category's name ("token").  Static storage. */
HSMSSP_API const char *hsmssp_err_category_name(hsmssp_err_category cat);

/* The calling thread's last recorded error: its code, and a line
 * "message: detail" (or the message alone), valid until the thread's
 * next failing call.  Never NULL. */
HSMSSP_API hsmssp_err hsmssp_last_error(void);
HSMSSP_API const char *hsmssp_last_error_detail(void);

/* Where the last error was raised (file:line), for bug reports. */
HSMSSP_API const char *hsmssp_last_error_location(void);

#ifdef __cplusplus
}
#endif
#endif
