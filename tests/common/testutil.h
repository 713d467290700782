/*
 * tests/common/testutil.h - the harness every test executable shares:
 * cmocka, hex helpers, the JSON vectors in tests/vectors, and fixtures that
 * open the test tokens (SoftHSM2 with a token of the process's own,
 * NSS softoken without a database).
 *
 * Skips: a test that cannot run on this machine calls tu_skip(), which
 * exits 77 (ctest SKIP_RETURN_CODE) on a developer machine and fails when
 * CI=true, so CI never passes with a skipped test.
 */
#ifndef HSMSSP_TESTUTIL_H
#define HSMSSP_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the includes above first. */
#include <cmocka.h>
#include <jansson.h>

#include "hsm/hsm.h"

#define TU_SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define TU_NSS_MODULE "/usr/lib/x86_64-linux-gnu/libsoftokn3.so"
#define TU_SOFTHSM_TOKEN "hsmssp-test"
#define TU_SOFTHSM_PIN "1234"
#define TU_NSS_TOKEN_URI "pkcs11:token=NSS%20Generic%20Crypto%20Services"

/* True when CI=true is in the environment. */
bool tu_ci(void);

/* Exits 77, or fails (exit 1) when CI=true, after printing why.  For a
 * whole executable that cannot run. */
void tu_skip(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* The same for one cmocka case: skip() on a developer machine (the other
 * cases still run), fail_msg() when CI=true. */
void tu_skip_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Directory for test files (HSMSSP_TEST_WORK, created if needed). */
const char *tu_work_dir(void);

/* Decodes hex; *out is malloc'ed (free it); returns the byte count. */
size_t tu_hex(const char *hex, uint8_t **out);

/* Loads tests/vectors/<name> (HSMSSP_VECTORS); fails the test when the
 * file is missing or malformed.  json_decref() the result. */
json_t *tu_vectors(const char *name);

/* Hex string field of a JSON object, decoded (malloc'ed), or NULL when the
 * field is absent. */
uint8_t *tu_json_hex(json_t *obj, const char *field, size_t *len_out);

/* Integer field, or dflt when absent. */
long long tu_json_int(json_t *obj, const char *field, long long dflt);

/* Token fixtures.  TU_SOFTHSM is a token of the calling process's own
 * (tu_softhsm_dir), made on first use and removed at exit, and sets
 * SOFTHSM2_CONF to it; TU_NSS opens the no-database NSS softoken.  Skips
 * (tu_skip) when the module is absent. */
typedef enum tu_token_kind { TU_SOFTHSM = 0, TU_NSS = 1 } tu_token_kind;
const char *tu_token_name(tu_token_kind kind);
void tu_token_config(tu_token_kind kind, unsigned policy, hsm_config *cfg);
hsm_token *tu_token_open(tu_token_kind kind, unsigned policy);

/* The directory of the process's SoftHSM2 token (softhsm2.conf, tokens/,
 * and pin: a 0600 file holding TU_SOFTHSM_PIN): HSMSSP_TEST_WORK/
 * softhsm-proc.<pid>, made with softhsm2-util on first use, so that test
 * executables running in parallel never share token files.  Fork
 * children use their parent's. */
const char *tu_softhsm_dir(void);

/* A SoftHSM2 token of the test's own, for tests that delete, copy or
 * otherwise disturb token storage: a fresh directory
 * HSMSSP_TEST_WORK/<name>.<pid>/ with its own softhsm2.conf and a token
 * initialised there by softhsm2-util (label TU_SOFTHSM_TOKEN, user PIN
 * TU_SOFTHSM_PIN), so that no other test, running in parallel on the
 * shared fixture, sees it.  SOFTHSM2_CONF points at it until
 * tu_softhsm_private_done(), which restores the fixture's and removes
 * the directory.  *cfg is filled as by tu_token_config(TU_SOFTHSM). */
typedef struct tu_private_token {
    char dir[512];          /* the private directory */
    char tokens[600];       /* dir/tokens: the token directory */
    char conf[600];         /* dir/softhsm2.conf */
    char fixture_conf[1024]; /* SOFTHSM2_CONF to restore */
} tu_private_token;
void tu_softhsm_private(const char *name, unsigned policy,
                        tu_private_token *pt, hsm_config *cfg);
void tu_softhsm_private_done(tu_private_token *pt);

/* Number of secret-key objects the token shows this application: token
 * objects (CKA_TOKEN=TRUE) when token is set, session objects otherwise;
 * counted by C_FindObjects in a pooled session of the token. */
size_t tu_count_objects(hsm_token *tok, bool token);

/* Fills n bytes with a deterministic pseudo-random pattern from seed. */
void tu_fill(uint8_t *buf, size_t n, uint32_t seed);

/* Asserts an hsmssp call succeeded, printing the recorded detail. */
#define TU_OK(expr)                                                       \
    do {                                                                  \
        hsmssp_err tu_e_ = (expr);                                        \
        if (tu_e_ != HSMSSP_OK)                                           \
            fail_msg("%s failed: %s (%s) at %s", #expr,                   \
                     hsmssp_err_name(tu_e_), hsmssp_last_error_detail(),  \
                     hsmssp_last_error_location());                       \
    } while (0)

#define TU_ERR(expr, code)                                                \
    do {                                                                  \
        hsmssp_err tu_e_ = (expr);                                        \
        if (tu_e_ != (code))                                              \
            fail_msg("%s gave %s (%s), expected %s", #expr,               \
                     hsmssp_err_name(tu_e_), hsmssp_last_error_detail(),  \
                     hsmssp_err_name(code));                              \
    } while (0)

#endif
