/*
 * hsm/token.c - the PKCS#11 token layer: module loading through p11-kit,
 * token selection by RFC 7512 URI, PIN sources and login, the session
 * pool and the owner session, recovery after lost sessions, fork()
 * detection, and the one conversion table from CK_RV to hsmssp_err.
 *
 * Why it is shaped this way (DESIGN sec. 3 and 8):
 * - Session objects die with the session that created them, so every
 *   class D and S object is created in one owner session per token that is
 *   never pooled out or closed except by recovery, fork handling or close.
 *   Operations that only use keys (encrypt, decrypt, sign, verify) borrow
 *   a pooled session instead, so concurrent threads do not serialise on
 *   the owner session (PKCS#11 allows one active operation of each kind
 *   per session).
 * - A generation counter (tok->gen) names the set of sessions that are
 *   currently valid.  Recovery and fork handling bump it; every pooled
 *   session, cached derived key and key handle remembers the generation it
 *   belongs to, so stale handles are recognised instead of being reused.
 * - PINs exist in host memory only in base_secret buffers: a pin-value from
 *   the URI is kept for the token's lifetime (re-login after recovery needs
 *   it), a PIN file is re-read at each login and wiped right after C_Login.
 *
 * Locking (hsm-int.h): tok->lock, then tok->owner_lock, then
 * tok->cache_lock.  Module calls happen under tok->lock only during open,
 * recovery, fork handling and when the pool opens or closes a session
 * (so that a handle's generation is exact: a module may hand out the same
 * handle number again once a session is closed).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pin.h>
#include <p11-kit/uri.h>

#include "hsm/hsm-int.h"

/* NSS softoken needs a C_Initialize pReserved string; this one opens its
 * "NSS Generic Crypto Services" token without any database (DESIGN
 * sec. 3): session objects only, nothing written to disk. */
#define NSS_NODB_INIT_ARGS                                                 \
    "configdir='' certPrefix='' keyPrefix='' secmod='' "                   \
    "flags=noCertDB,noModDB,forceOpen,optimizeSpace"

/* Longest PIN file we accept.  PKCS#11 tokens take PINs of a few dozen
 * bytes; a larger file is certainly not a PIN file. */
#define PIN_FILE_MAX 1024

/* ---- call counting ---------------------------------------------------- */

/* One counter per thread, shared by every token: benchmarks read it before
 * and after an operation on one thread, so no locking or per-token
 * thread-local storage is needed.  The P11() macro increments it. */
static _Thread_local uint64_t call_count;

void
hsm_count_call(void)
{
    call_count++;
}

uint64_t
hsm_token_call_count(hsm_token *tok)
{
    (void)tok;
    return call_count;
}

/* ---- CK_RV conversion --------------------------------------------------- */

/* The one table from CK_RV to hsmssp_err (STYLE sec. 4).  The engine acts
 * on the category of a code, so the grouping matters:
 * - SESSION_LOST and TOKEN_REMOVED trigger hsm_token_recover();
 * - KEY_GONE tells the caller its object handle died (the session that
 *   created it is gone, or the token's storage was removed);
 * - TOKEN_FAILURE is a module failure that reopening would not cure (and
 *   recovery destroys every session object, so it is not tried);
 * - MECHANISM_MISSING and KEY_REFUSED are capability answers the probe and
 *   the strategies rely on;
 * - each CKR_PIN_* keeps its own code so that an operator can tell a wrong
 *   PIN from a locked one. */
static const struct rv_row {
    CK_RV rv;
    hsmssp_err err;
    const char *name;
} rv_table[] = {
#define RV_(rv, err) {rv, err, #rv}
    RV_(CKR_OK, HSMSSP_OK),
    RV_(CKR_CANCEL, HSMSSP_ERR_TOKEN_FAILURE),
    RV_(CKR_HOST_MEMORY, HSMSSP_ERR_NOMEM),
    /* The slot vanished: a hot-plugged reader or a re-initialised module. */
    RV_(CKR_SLOT_ID_INVALID, HSMSSP_ERR_TOKEN_REMOVED),
    /* SoftHSM2 answers GENERAL_ERROR once its token directory is deleted
     * (DESIGN sec. 8); reopening would not bring the files back. */
    RV_(CKR_GENERAL_ERROR, HSMSSP_ERR_TOKEN_FAILURE),
    /* SoftHSM2: asking a derivation for more bytes than its data. */
    RV_(CKR_FUNCTION_FAILED, HSMSSP_ERR_TOKEN_FAILURE),
    /* Our own bad call: a bug, not a token fault. */
    RV_(CKR_ARGUMENTS_BAD, HSMSSP_ERR_INTERNAL),
    RV_(CKR_NO_EVENT, HSMSSP_ERR_TOKEN_FAILURE),
    RV_(CKR_NEED_TO_CREATE_THREADS, HSMSSP_ERR_MODULE_INIT),
    RV_(CKR_CANT_LOCK, HSMSSP_ERR_MODULE_INIT),
    /* Attribute and template answers: the token will not hold the key the
     * way we asked (e.g. CKA_TOKEN=TRUE on NSS without a database gives
     * TOKEN_WRITE_PROTECTED below, an unknown CKA_ALLOWED_MECHANISMS
     * gives ATTRIBUTE_TYPE_INVALID here). */
    RV_(CKR_ATTRIBUTE_READ_ONLY, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_ATTRIBUTE_SENSITIVE, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_ATTRIBUTE_TYPE_INVALID, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_ATTRIBUTE_VALUE_INVALID, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_ACTION_PROHIBITED, HSMSSP_ERR_KEY_REFUSED),
    /* Plaintext-side length or content errors come from our own calls
     * (e.g. a CBC input that is not whole blocks): a caller error. */
    RV_(CKR_DATA_INVALID, HSMSSP_ERR_INVALID_ARGUMENT),
    RV_(CKR_DATA_LEN_RANGE, HSMSSP_ERR_INVALID_ARGUMENT),
    RV_(CKR_DEVICE_ERROR, HSMSSP_ERR_TOKEN_FAILURE),
    RV_(CKR_DEVICE_MEMORY, HSMSSP_ERR_TOKEN_FULL),
    RV_(CKR_DEVICE_REMOVED, HSMSSP_ERR_TOKEN_REMOVED),
    /* Ciphertext from the network that the token rejects outright. */
    RV_(CKR_ENCRYPTED_DATA_INVALID, HSMSSP_ERR_BAD_CIPHERTEXT),
    RV_(CKR_ENCRYPTED_DATA_LEN_RANGE, HSMSSP_ERR_BAD_CIPHERTEXT),
    RV_(CKR_FUNCTION_CANCELED, HSMSSP_ERR_TOKEN_FAILURE),
    RV_(CKR_FUNCTION_NOT_PARALLEL, HSMSSP_ERR_TOKEN_FAILURE),
    RV_(CKR_FUNCTION_NOT_SUPPORTED, HSMSSP_ERR_MECHANISM_MISSING),
    RV_(CKR_KEY_HANDLE_INVALID, HSMSSP_ERR_KEY_GONE),
    RV_(CKR_KEY_SIZE_RANGE, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_KEY_TYPE_INCONSISTENT, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_KEY_NOT_NEEDED, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_KEY_CHANGED, HSMSSP_ERR_KEY_GONE),
    RV_(CKR_KEY_NEEDED, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_KEY_INDIGESTIBLE, HSMSSP_ERR_KEY_REFUSED),
    /* CKA_ALLOWED_MECHANISMS or CKA_DERIVE/CKA_SIGN refuse the use. */
    RV_(CKR_KEY_FUNCTION_NOT_PERMITTED, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_KEY_NOT_WRAPPABLE, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_KEY_UNEXTRACTABLE, HSMSSP_ERR_KEY_REFUSED),
    /* The token does not offer the mechanism, or not with these
     * parameters (p11-kit remoting drops every parameterised mechanism,
     * DESIGN sec. 3): both mean "this strategy cannot run here". */
    RV_(CKR_MECHANISM_INVALID, HSMSSP_ERR_MECHANISM_MISSING),
    RV_(CKR_MECHANISM_PARAM_INVALID, HSMSSP_ERR_MECHANISM_MISSING),
    RV_(CKR_OBJECT_HANDLE_INVALID, HSMSSP_ERR_KEY_GONE),
    RV_(CKR_OPERATION_ACTIVE, HSMSSP_ERR_INTERNAL),
    RV_(CKR_OPERATION_NOT_INITIALIZED, HSMSSP_ERR_INTERNAL),
    RV_(CKR_PIN_INCORRECT, HSMSSP_ERR_PIN_INCORRECT),
    RV_(CKR_PIN_INVALID, HSMSSP_ERR_PIN_INVALID),
    RV_(CKR_PIN_LEN_RANGE, HSMSSP_ERR_PIN_INVALID),
    RV_(CKR_PIN_EXPIRED, HSMSSP_ERR_PIN_EXPIRED),
    RV_(CKR_PIN_LOCKED, HSMSSP_ERR_PIN_LOCKED),
    /* The session or the login is gone: recovery reopens and logs in. */
    RV_(CKR_SESSION_CLOSED, HSMSSP_ERR_SESSION_LOST),
    RV_(CKR_SESSION_COUNT, HSMSSP_ERR_TOKEN_FULL),
    RV_(CKR_SESSION_HANDLE_INVALID, HSMSSP_ERR_SESSION_LOST),
    RV_(CKR_SESSION_PARALLEL_NOT_SUPPORTED, HSMSSP_ERR_INTERNAL),
    RV_(CKR_SESSION_READ_ONLY, HSMSSP_ERR_TOKEN_READONLY),
    RV_(CKR_SESSION_EXISTS, HSMSSP_ERR_INTERNAL),
    RV_(CKR_SESSION_READ_ONLY_EXISTS, HSMSSP_ERR_INTERNAL),
    RV_(CKR_SESSION_READ_WRITE_SO_EXISTS, HSMSSP_ERR_INTERNAL),
    /* A token-side MAC verification said no. */
    RV_(CKR_SIGNATURE_INVALID, HSMSSP_ERR_INTEGRITY),
    RV_(CKR_SIGNATURE_LEN_RANGE, HSMSSP_ERR_INTEGRITY),
    RV_(CKR_TEMPLATE_INCOMPLETE, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_TEMPLATE_INCONSISTENT, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_TOKEN_NOT_PRESENT, HSMSSP_ERR_TOKEN_REMOVED),
    RV_(CKR_TOKEN_NOT_RECOGNIZED, HSMSSP_ERR_NO_TOKEN),
    RV_(CKR_TOKEN_WRITE_PROTECTED, HSMSSP_ERR_TOKEN_READONLY),
    RV_(CKR_UNWRAPPING_KEY_SIZE_RANGE, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, HSMSSP_ERR_KEY_REFUSED),
    /* Only C_Login produces it, and login treats it as success; reaching
     * the table means a caller logged in twice on purpose. */
    RV_(CKR_USER_ALREADY_LOGGED_IN, HSMSSP_ERR_INTERNAL),
    /* Private objects need the login that a closed last session ended. */
    RV_(CKR_USER_NOT_LOGGED_IN, HSMSSP_ERR_SESSION_LOST),
    RV_(CKR_USER_PIN_NOT_INITIALIZED, HSMSSP_ERR_PIN_UNAVAILABLE),
    RV_(CKR_USER_TYPE_INVALID, HSMSSP_ERR_INTERNAL),
    RV_(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, HSMSSP_ERR_TOKEN_FAILURE),
    RV_(CKR_USER_TOO_MANY_TYPES, HSMSSP_ERR_TOKEN_FAILURE),
    RV_(CKR_WRAPPED_KEY_INVALID, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_WRAPPED_KEY_LEN_RANGE, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_WRAPPING_KEY_HANDLE_INVALID, HSMSSP_ERR_KEY_GONE),
    RV_(CKR_WRAPPING_KEY_SIZE_RANGE, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_WRAPPING_KEY_TYPE_INCONSISTENT, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_RANDOM_SEED_NOT_SUPPORTED, HSMSSP_ERR_RANDOM),
    RV_(CKR_RANDOM_NO_RNG, HSMSSP_ERR_RANDOM),
    RV_(CKR_DOMAIN_PARAMS_INVALID, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_CURVE_NOT_SUPPORTED, HSMSSP_ERR_MECHANISM_MISSING),
    RV_(CKR_BUFFER_TOO_SMALL, HSMSSP_ERR_BUFFER_TOO_SMALL),
    RV_(CKR_SAVED_STATE_INVALID, HSMSSP_ERR_TOKEN_FAILURE),
    RV_(CKR_INFORMATION_SENSITIVE, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_STATE_UNSAVEABLE, HSMSSP_ERR_TOKEN_FAILURE),
    /* The module lost its initialisation (a fork not seen yet, another
     * component calling C_Finalize): hsm_token_recover() sees the same
     * code from C_CloseAllSessions and initialises the module again. */
    RV_(CKR_CRYPTOKI_NOT_INITIALIZED, HSMSSP_ERR_SESSION_LOST),
    RV_(CKR_CRYPTOKI_ALREADY_INITIALIZED, HSMSSP_ERR_MODULE_INIT),
    RV_(CKR_MUTEX_BAD, HSMSSP_ERR_INTERNAL),
    RV_(CKR_MUTEX_NOT_LOCKED, HSMSSP_ERR_INTERNAL),
    RV_(CKR_NEW_PIN_MODE, HSMSSP_ERR_PIN_EXPIRED),
    RV_(CKR_NEXT_OTP, HSMSSP_ERR_PIN_INVALID),
    RV_(CKR_EXCEEDED_MAX_ITERATIONS, HSMSSP_ERR_TOKEN_FAILURE),
    RV_(CKR_FIPS_SELF_TEST_FAILED, HSMSSP_ERR_MODULE_INIT),
    RV_(CKR_LIBRARY_LOAD_FAILED, HSMSSP_ERR_MODULE_LOAD),
    RV_(CKR_PIN_TOO_WEAK, HSMSSP_ERR_PIN_INVALID),
    RV_(CKR_PUBLIC_KEY_INVALID, HSMSSP_ERR_KEY_REFUSED),
    RV_(CKR_FUNCTION_REJECTED, HSMSSP_ERR_TOKEN_FAILURE),
#undef RV_
};

/* Linear lookup: errors are not a hot path and the table stays readable
 * in specification order. */
static const struct rv_row *
rv_find(CK_RV rv)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(rv_table); i++)
        if (rv_table[i].rv == rv)
            return &rv_table[i];
    return NULL;
}

hsmssp_err
hsm_rv(CK_RV rv, const char *what)
{
    const struct rv_row *row;

    if (rv == CKR_OK)
        return HSMSSP_OK;
    if (what == NULL)
        what = "PKCS#11 call";
    row = rv_find(rv);
    if (row != NULL)
        return BASE_ERR(row->err, "%s: %s", what, row->name);
    /* Vendor codes and codes newer than the v2.40 header: a token failure,
     * with the number so that the operator can look it up. */
    if (rv >= CKR_VENDOR_DEFINED)
        return BASE_ERR(HSMSSP_ERR_TOKEN_FAILURE,
                        "%s: CKR_VENDOR_DEFINED+0x%lx", what,
                        (unsigned long)(rv - CKR_VENDOR_DEFINED));
    return BASE_ERR(HSMSSP_ERR_TOKEN_FAILURE, "%s: CKR 0x%08lx", what,
                    (unsigned long)rv);
}

/* Decision: only lost sessions and removed tokens are recovered.  Recovery
 * closes every session and so destroys every session object of the
 * token, including other contexts' keys; doing that for TOKEN_FAILURE
 * (GENERAL_ERROR / FUNCTION_FAILED, which SoftHSM2 also returns for a bad
 * derivation request or a deleted token directory) would turn one failed
 * operation into the loss of every live context without curing anything. */
bool
hsm_err_needs_recovery(hsmssp_err err)
{
    return err == HSMSSP_ERR_SESSION_LOST || err == HSMSSP_ERR_TOKEN_REMOVED;
}

/* ---- small helpers ---------------------------------------------------- */

/* Copies a fixed-width, space-padded PKCS#11 string into a C string,
 * dropping the padding (and any NULs a sloppy module left in it). */
static void
copy_padded(char *dst, size_t dst_size, const CK_UTF8CHAR *src, size_t n)
{
    while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0'))
        n--;
    if (n >= dst_size)
        n = dst_size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *
path_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* RFC 7512 sec. 2.3 "module-name": the library file name without its
 * system prefix and suffix ("/usr/lib/softhsm/libsofthsm2.so" ->
 * "softhsm2").  Compares without allocating. */
static bool
module_name_matches(const char *path, const char *want)
{
    const char *b = path_basename(path);
    size_t n;

    if (strncmp(b, "lib", 3) == 0)
        b += 3;
    n = strcspn(b, ".");
    return strlen(want) == n && strncmp(b, want, n) == 0;
}

/* ---- PIN sources ------------------------------------------------------ */

/* RFC 7512 pin-source is a URI; "file:" URIs and plain absolute paths are
 * what p11-kit and its users write.  Returns the file path, or NULL for
 * a scheme we cannot read. */
static const char *
pin_source_path(const char *src)
{
    if (strncmp(src, "file://", 7) == 0)
        return src[7] == '/' ? src + 7 : NULL;
    if (strncmp(src, "file:", 5) == 0)
        return src + 5;
    if (src[0] == '/' || strchr(src, ':') == NULL)
        return src;
    return NULL;
}

/* Reads a PIN file into a new secret, after hdr reserved bytes (the
 * p11-kit callback below keeps a pointer there).  The file is read
 * verbatim: a trailing newline IS part of the PIN (as with p11-kit's
 * file callback and DESIGN sec. 3), because some tokens accept any byte
 * in a PIN and we must not guess.  A login failure then says so.
 *
 * We read the file ourselves rather than through p11_kit_pin_file_callback:
 * that callback grows its buffer with realloc() and frees it without
 * wiping, leaving PIN copies in the ordinary heap; here the bytes go
 * straight into locked memory.  A file readable by group or others is
 * refused (DESIGN sec. 8), so a PIN on a shared machine is not one chmod
 * away from every local user. */
static hsmssp_err
pin_file_read(const char *src, size_t hdr, base_secret **pin_out,
              bool *ends_nl_out)
{
    hsmssp_err ret;
    base_secret *pin = NULL;
    const char *path = pin_source_path(src);
    struct stat st;
    int fd = -1;

    *pin_out = NULL;
    *ends_nl_out = false;
    if (path == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                       "unsupported pin-source '%s' (use a file path)", src);
        goto cleanup;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        ret = BASE_ERR(HSMSSP_ERR_PIN_UNAVAILABLE,
                       "cannot open PIN file %s: %s", path,
                       strerror(errno));
        goto cleanup;
    }
    /* fstat on the open descriptor: no window between check and read. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret = BASE_ERR(HSMSSP_ERR_PIN_UNAVAILABLE,
                       "PIN file %s is not a regular file", path);
        goto cleanup;
    }
    if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                       "PIN file %s has mode %03o; chmod 600 it", path,
                       (unsigned)(st.st_mode & 0777));
        goto cleanup;
    }
    if (st.st_size > PIN_FILE_MAX) {
        ret = BASE_ERR(HSMSSP_ERR_PIN_INVALID,
                       "PIN file %s is larger than %d bytes", path,
                       PIN_FILE_MAX);
        goto cleanup;
    }
    ret = base_secret_new(hdr, hdr + PIN_FILE_MAX, &pin);
    if (ret != HSMSSP_OK)
        goto cleanup;
    for (;;) {
        ssize_t n = read(fd, pin->data + pin->len, pin->cap - pin->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = BASE_ERR(HSMSSP_ERR_PIN_UNAVAILABLE,
                           "cannot read PIN file %s: %s", path,
                           strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        pin->len += (size_t)n;
        if (pin->len == pin->cap) {
            /* The file grew past the size checked above. */
            ret = BASE_ERR(HSMSSP_ERR_PIN_INVALID,
                           "PIN file %s is larger than %d bytes", path,
                           PIN_FILE_MAX);
            goto cleanup;
        }
    }
    *ends_nl_out = pin->len > hdr && pin->data[pin->len - 1] == '\n';
    *pin_out = pin;
    pin = NULL;
    ret = HSMSSP_OK;

cleanup:
    if (fd >= 0)
        close(fd);
    base_secret_free(pin);
    return ret;
}

static hsmssp_err uri_parse(const char *text, P11KitUri **uri_out);

/* ---- the p11-kit PIN callback for file sources -----------------------
 *
 * A pin-source is resolved the p11-kit way: login asks
 * p11_kit_pin_request(), which runs the callbacks registered for that
 * source string, so an application that registered its own callback for
 * another scheme (an agent, a prompt) supplies the PIN for tokens whose
 * URI names that source.  For file sources (a "file:" URI or a plain
 * path) hsm_token_open() registers pin_file_callback(): p11-kit's own
 * p11_kit_pin_file_callback would leave unwiped PIN copies in the heap
 * (see pin_file_read), so ours reads into a base_secret and hands p11-kit
 * a PIN object whose destroyer wipes and frees it (STYLE sec. 6).
 *
 * Each token registers with itself as callback data, so that closing one
 * token unregisters only its own entry while another token with the same
 * source keeps working.  The callback reports why it failed through a
 * thread-local (it runs synchronously in the thread that asked), since
 * p11_kit_pin_request() can only say "no PIN". */

/* Room before the PIN bytes for the owning base_secret's address. */
#define PIN_HDR sizeof(base_secret *)

static _Thread_local struct {
    bool called;      /* pin_file_callback ran for this request */
    hsmssp_err err;   /* its failure, recorded with BASE_ERR */
    bool ends_nl;     /* the PIN it read ends with a newline */
} pin_cb_state;

/* The destroyer of the PIN objects pin_file_callback makes: buffer is
 * PIN_HDR bytes into the base_secret's data, which holds its address. */
static void
pin_buffer_destroy(void *buffer)
{
    base_secret *pin;

    memcpy(&pin, (uint8_t *)buffer - PIN_HDR, sizeof(pin));
    base_secret_free(pin); /* wipes */
}

static P11KitPin *
pin_file_callback(const char *pin_source, P11KitUri *pin_uri,
                  const char *pin_description, P11KitPinFlags pin_flags,
                  void *callback_data)
{
    base_secret *pin = NULL;
    P11KitPin *obj;
    bool ends_nl = false;

    (void)pin_uri;
    (void)pin_description;
    (void)pin_flags;
    (void)callback_data;
    pin_cb_state.called = true;
    pin_cb_state.err = pin_file_read(pin_source, PIN_HDR, &pin, &ends_nl);
    if (pin_cb_state.err != HSMSSP_OK)
        return NULL;
    memcpy(pin->data, &pin, sizeof(pin));
    obj = p11_kit_pin_new_for_buffer(pin->data + PIN_HDR,
                                     pin->len - PIN_HDR, pin_buffer_destroy);
    if (obj == NULL) {
        base_secret_free(pin);
        pin_cb_state.err = BASE_ERR0(HSMSSP_ERR_NOMEM);
        return NULL;
    }
    pin_cb_state.ends_nl = ends_nl;
    return obj;
}

/* Registers pin_file_callback for the token's pin-source when it names a
 * file; other sources are left to the application's callbacks. */
static hsmssp_err
pin_callback_register(hsm_token *tok)
{
    if (tok->pin_source == NULL || pin_source_path(tok->pin_source) == NULL)
        return HSMSSP_OK;
    if (p11_kit_pin_register_callback(tok->pin_source, pin_file_callback,
                                      tok, NULL) < 0)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    tok->pin_cb_registered = true;
    return HSMSSP_OK;
}

static void
pin_callback_unregister(hsm_token *tok)
{
    if (!tok->pin_cb_registered)
        return;
    p11_kit_pin_unregister_callback(tok->pin_source, pin_file_callback, tok);
    tok->pin_cb_registered = false;
}

/* Obtains the PIN of tok->pin_source through p11-kit's callbacks.  On
 * success *pin_out must be released with p11_kit_pin_unref (which wipes
 * a PIN our callback read); *ends_nl_out tells whether a PIN file ended
 * with a newline. */
static hsmssp_err
pin_source_request(hsm_token *tok, P11KitPin **pin_out, bool *ends_nl_out)
{
    P11KitUri *uri = NULL;
    P11KitPin *pin;
    hsmssp_err ret;

    *pin_out = NULL;
    *ends_nl_out = false;
    ret = uri_parse(tok->token_uri, &uri);
    if (ret != HSMSSP_OK)
        return ret;
    memset(&pin_cb_state, 0, sizeof(pin_cb_state));
    pin = p11_kit_pin_request(tok->pin_source, uri, tok->ident.label,
                              P11_KIT_PIN_FLAGS_USER_LOGIN);
    p11_kit_uri_free(uri);
    if (pin == NULL) {
        /* Our callback recorded its own error (detail included). */
        if (pin_cb_state.called && pin_cb_state.err != HSMSSP_OK)
            return pin_cb_state.err;
        if (pin_source_path(tok->pin_source) == NULL)
            return BASE_ERR(HSMSSP_ERR_PIN_UNAVAILABLE,
                            "token '%s': no p11-kit PIN callback gave a "
                            "PIN for pin-source '%s' (only file sources "
                            "are built in; an application registers "
                            "others with p11_kit_pin_register_callback)",
                            tok->ident.label, tok->pin_source);
        return BASE_ERR(HSMSSP_ERR_PIN_UNAVAILABLE,
                        "token '%s': no PIN from pin-source '%s'",
                        tok->ident.label, tok->pin_source);
    }
    *ends_nl_out = pin_cb_state.called && pin_cb_state.ends_nl;
    *pin_out = pin;
    return HSMSSP_OK;
}

/* Logs the user in on session h when the token wants a login.  The PIN is
 * the retained pin-value, or the pin-source file read now (and wiped right
 * after C_Login), or, for a token with a protected authentication path
 * (PIN pad), none.  CKR_USER_ALREADY_LOGGED_IN is success: login state is
 * per application, so another session may have logged in already. */
static hsmssp_err
login_unlocked(hsm_token *tok, CK_SESSION_HANDLE h)
{
    hsmssp_err ret;
    P11KitPin *src_pin = NULL;
    const uint8_t *value = NULL;
    size_t len = 0;
    bool ends_nl = false;
    CK_RV rv;

    if ((tok->token_flags & CKF_LOGIN_REQUIRED) == 0)
        return HSMSSP_OK;
    if (tok->pin != NULL) {
        value = tok->pin->data;
        len = tok->pin->len;
    } else if (tok->pin_source != NULL) {
        ret = pin_source_request(tok, &src_pin, &ends_nl);
        if (ret != HSMSSP_OK)
            goto cleanup;
        value = p11_kit_pin_get_value(src_pin, &len);
    }
    if (value == NULL && tok->pin_lost_in_fork) {
        ret = BASE_ERR(HSMSSP_ERR_PIN_UNAVAILABLE,
                       "token '%s': the retained pin-value was wiped in "
                       "this fork child; use a pin-source file to log in "
                       "from child processes",
                       tok->ident.label);
        goto cleanup;
    }
    if (value == NULL &&
        (tok->token_flags & CKF_PROTECTED_AUTHENTICATION_PATH) == 0) {
        ret = BASE_ERR(HSMSSP_ERR_PIN_UNAVAILABLE,
                       "token '%s' needs a login: give pin-value or "
                       "pin-source in the URI, or a PIN file",
                       tok->ident.label);
        goto cleanup;
    }
    rv = P11(tok, C_Login, h, CKU_USER, (CK_UTF8CHAR_PTR)value,
             (CK_ULONG)len);
    /* Drop the source's copy at once, whatever the outcome: for a file
     * PIN the destroyer wipes it. */
    if (src_pin != NULL)
        p11_kit_pin_unref(src_pin);
    src_pin = NULL;
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        ret = HSMSSP_OK;
    } else if (rv == CKR_PIN_INCORRECT && ends_nl) {
        ret = BASE_ERR(HSMSSP_ERR_PIN_INCORRECT,
                       "C_Login on token '%s': CKR_PIN_INCORRECT (the PIN "
                       "file ends with a newline, which is part of the "
                       "PIN; write it with printf '%%s', not echo)",
                       tok->ident.label);
    } else {
        ret = hsm_rv(rv, "C_Login");
    }

cleanup:
    if (src_pin != NULL)
        p11_kit_pin_unref(src_pin);
    return ret;
}

/* ---- module loading ----------------------------------------------------- */

/* Initialises the module with tok->init_args as pReserved.  OS locking is
 * requested because the pool lets several threads call the module at
 * once.  Modules loaded through p11-kit are wrapped ("managed"): p11-kit
 * then keeps per-caller session state and handles fork on its side; the
 * arguments still reach the real module's C_Initialize. */
static hsmssp_err
module_initialize(hsm_token *tok, CK_FUNCTION_LIST *fl)
{
    CK_C_INITIALIZE_ARGS args;
    CK_RV rv;

    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    args.pReserved = tok->init_args;
    if (tok->module_registered && tok->init_args == NULL) {
        /* A registered module gets pReserved from its config line
         * "x-init-reserved:"; p11-kit supplies it here. */
        hsm_count_call();
        rv = p11_kit_module_initialize(fl);
    } else {
        hsm_count_call();
        rv = fl->C_Initialize(&args);
    }
    tok->module_initialized = rv == CKR_OK;
    if (rv != CKR_OK) {
        const struct rv_row *row = rv_find(rv);
        return BASE_ERR(HSMSSP_ERR_MODULE_INIT,
                        "C_Initialize of %s: %s%s%s", tok->module_name,
                        row ? row->name : "error",
                        tok->init_args ? " (init args given)" : "",
                        rv == CKR_ARGUMENTS_BAD && tok->init_args == NULL
                            ? " (the module may need init args)"
                            : "");
    }
    return HSMSSP_OK;
}

/* Undoes module_initialize(); errors are ignored (nothing to do about
 * them, and after fork the parent's state may refuse). */
static void
module_finalize(hsm_token *tok, CK_FUNCTION_LIST *fl)
{
    /* Finalising twice (after a failed re-initialisation) would reach
     * p11-kit's wrapper in a state it does not expect. */
    if (!tok->module_initialized)
        return;
    tok->module_initialized = false;
    hsm_count_call();
    if (tok->module_registered && tok->init_args == NULL)
        (void)p11_kit_module_finalize(fl);
    else
        (void)fl->C_Finalize(NULL);
}

/* Real modules already reset in a fork child, so that several tokens of
 * one module in the same child reset it once (a second real C_Finalize
 * would destroy the state the first token just rebuilt).  Keyed by the
 * module's own function list and the pid that reset it. */
static pthread_mutex_t reset_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    CK_FUNCTION_LIST *real;
    pid_t pid;
} reset_done[32];

/* In a fork child, finalises the real module underneath p11-kit's
 * managed wrapper.  Measured on Debian 12 (p11-kit 0.24.1, SoftHSM2
 * 2.6.1, NSS 3.87): after fork p11-kit forgets that the module was
 * initialised, so a managed C_Finalize does not reach the module and the
 * next C_Initialize gets CKR_CRYPTOKI_ALREADY_INITIALIZED, which p11-kit
 * treats as success: the child silently keeps a copy of the parent's
 * module state (its sessions, its session objects and, for a networked
 * HSM, its connection).  Loading the same file with
 * P11_KIT_MODULE_UNMANAGED hands out the module's own function list;
 * its C_Finalize resets the module, and the managed C_Initialize that
 * follows then initialises it afresh. */
static void
module_reset_in_child(hsm_token *tok)
{
    CK_FUNCTION_LIST *real;
    pid_t me = getpid();
    bool done = false;
    size_t i, free_slot = BASE_ARRAY_LEN(reset_done);

    real = p11_kit_module_load(tok->ident.module_path,
                               P11_KIT_MODULE_UNMANAGED);
    if (real == NULL)
        return; /* fall back to the managed calls alone */
    pthread_mutex_lock(&reset_lock);
    for (i = 0; i < BASE_ARRAY_LEN(reset_done); i++) {
        if (reset_done[i].real == real && reset_done[i].pid == me)
            done = true;
        else if (reset_done[i].real == real || reset_done[i].real == NULL)
            free_slot = i; /* reuse the entry of an older process */
    }
    if (!done) {
        hsm_count_call();
        (void)real->C_Finalize(NULL);
        if (free_slot < BASE_ARRAY_LEN(reset_done)) {
            reset_done[free_slot].real = real;
            reset_done[free_slot].pid = me;
        }
    }
    pthread_mutex_unlock(&reset_lock);
    p11_kit_module_release(real);
}

/* Finds the p11-kit registered module called name.  Every registered
 * module is loaded (not initialised) to read its name; the others are
 * released at once.  *path_out gets its file name (malloc'ed). */
static hsmssp_err
module_load_registered(const char *name, CK_FUNCTION_LIST **fl_out,
                       char **path_out)
{
    CK_FUNCTION_LIST **all = NULL;
    CK_FUNCTION_LIST *found = NULL;
    hsmssp_err ret;

    *fl_out = NULL;
    *path_out = NULL;
    all = p11_kit_modules_load(NULL, 0);
    if (all == NULL) {
        const char *msg = p11_kit_message();
        ret = BASE_ERR(HSMSSP_ERR_MODULE_LOAD,
                       "p11-kit could not load its registered modules%s%s",
                       msg ? ": " : "", msg ? msg : "");
        goto cleanup;
    }
    for (size_t i = 0; all[i] != NULL; i++) {
        char *n = p11_kit_module_get_name(all[i]);
        if (found == NULL && n != NULL && strcmp(n, name) == 0)
            found = all[i];
        else
            p11_kit_module_release(all[i]);
        free(n);
    }
    if (found == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_MODULE_LOAD,
                       "no PKCS#11 module named '%s' is registered with "
                       "p11-kit (and it is not a path)", name);
        goto cleanup;
    }
    *path_out = p11_kit_module_get_filename(found);
    *fl_out = found;
    ret = HSMSSP_OK;

cleanup:
    free(all); /* the array only; each module was released or kept */
    return ret;
}

/* Loads the configured module (a path when it contains '/', otherwise a
 * p11-kit module name), picks the init args and initialises it.  On
 * success tok->fl is set: from then on hsm_token_close() finalises it. */
static hsmssp_err
module_open(hsm_token *tok, const hsm_config *cfg)
{
    hsmssp_err ret;
    CK_FUNCTION_LIST *fl = NULL;
    char *file = NULL;

    if (strchr(cfg->module, '/') != NULL) {
        /* p11-kit prints load failures unless told to be quiet; library
         * code never prints, and the reason goes into our detail. */
        p11_kit_be_quiet();
        fl = p11_kit_module_load(cfg->module, 0);
        if (fl == NULL) {
            /* p11-kit's message carries dlerror() and the path. */
            const char *msg = p11_kit_message();
            if (msg != NULL)
                ret = BASE_ERR(HSMSSP_ERR_MODULE_LOAD, "%s", msg);
            else
                ret = BASE_ERR(HSMSSP_ERR_MODULE_LOAD, "%s: %s", cfg->module,
                               access(cfg->module, R_OK) != 0
                                   ? strerror(errno)
                                   : "not a PKCS#11 module");
            goto cleanup;
        }
        file = strdup(cfg->module);
    } else {
        p11_kit_be_quiet();
        ret = module_load_registered(cfg->module, &fl, &file);
        if (ret != HSMSSP_OK)
            goto cleanup;
        tok->module_registered = true;
    }
    if (file == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    snprintf(tok->ident.module_path, sizeof(tok->ident.module_path), "%s",
             file);

    /* Init args: the caller's, else (registered modules) p11-kit's config
     * line, else NSS softoken's no-database string. */
    if (cfg->init_args != NULL) {
        tok->init_args = strdup(cfg->init_args);
    } else if (strstr(path_basename(file), "softokn") != NULL) {
        char *conf = tok->module_registered
                         ? p11_kit_config_option(fl, "x-init-reserved")
                         : NULL;
        if (conf == NULL)
            tok->init_args = strdup(NSS_NODB_INIT_ARGS);
        free(conf); /* p11-kit passes its own copy */
        if (conf == NULL && tok->init_args == NULL) {
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
            goto cleanup;
        }
    }
    if (cfg->init_args != NULL && tok->init_args == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }

    ret = module_initialize(tok, fl);
    if (ret != HSMSSP_OK)
        goto cleanup;
    tok->fl = fl;
    fl = NULL;

cleanup:
    if (fl != NULL)
        p11_kit_module_release(fl);
    free(file);
    return ret;
}

/* ---- token selection ---------------------------------------------------- */

/* Parses tok->token_uri (which never holds a PIN).  NULL means "any". */
static hsmssp_err
uri_parse(const char *text, P11KitUri **uri_out)
{
    P11KitUri *uri = p11_kit_uri_new();
    int r;

    *uri_out = NULL;
    if (uri == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    if (text != NULL) {
        /* FOR_SLOT too: without it p11-kit files slot-id and
         * slot-description under "unrecognized" and ignores them. */
        r = p11_kit_uri_parse(text,
                              P11_KIT_URI_FOR_OBJECT_ON_TOKEN_AND_MODULE |
                                  P11_KIT_URI_FOR_SLOT,
                              uri);
        if (r != P11_KIT_URI_OK) {
            p11_kit_uri_free(uri);
            /* The text is not echoed: it might carry a pin-value. */
            return BASE_ERR(HSMSSP_ERR_BAD_URI, "%s",
                            p11_kit_uri_message(r));
        }
        /* An attribute we cannot check must not widen the selection to
         * a token the administrator did not mean. */
        if (p11_kit_uri_any_unrecognized(uri)) {
            p11_kit_uri_free(uri);
            return BASE_ERR(HSMSSP_ERR_BAD_URI,
                            "the URI has attributes that cannot be "
                            "matched");
        }
    }
    *uri_out = uri;
    return HSMSSP_OK;
}

/* Finds the first slot with a present token that matches the URI's
 * module, slot and token attributes; fills tok->slot, tok->token_flags
 * and the slot/token part of tok->ident.  HSMSSP_ERR_NO_TOKEN when none
 * matches (the caller decides whether that means "removed"). */
static hsmssp_err
token_find_unlocked(hsm_token *tok, P11KitUri *uri)
{
    hsmssp_err ret;
    CK_SLOT_ID *slots = NULL, want_slot;
    CK_ULONG n = 0;
    CK_INFO info;
    CK_RV rv;
    const char *mname, *mpath;

    /* Module attributes of the URI (library-*, module-name/-path). */
    rv = P11(tok, C_GetInfo, &info);
    if (rv != CKR_OK) {
        ret = hsm_rv(rv, "C_GetInfo");
        goto cleanup;
    }
    copy_padded(tok->ident.library_description,
                sizeof(tok->ident.library_description),
                info.libraryDescription, sizeof(info.libraryDescription));
    copy_padded(tok->ident.library_manufacturer,
                sizeof(tok->ident.library_manufacturer),
                info.manufacturerID, sizeof(info.manufacturerID));
    tok->ident.library_version_major = info.libraryVersion.major;
    tok->ident.library_version_minor = info.libraryVersion.minor;
    tok->ident.cryptoki_major = info.cryptokiVersion.major;
    tok->ident.cryptoki_minor = info.cryptokiVersion.minor;
    mname = p11_kit_uri_get_module_name(uri);
    mpath = p11_kit_uri_get_module_path(uri);
    if (!p11_kit_uri_match_module_info(uri, &info) ||
        (mpath != NULL && strcmp(mpath, tok->ident.module_path) != 0) ||
        (mname != NULL &&
         !module_name_matches(tok->ident.module_path, mname) &&
         !(tok->module_registered &&
           strcmp(mname, tok->module_name) == 0))) {
        ret = BASE_ERR(HSMSSP_ERR_NO_TOKEN,
                       "module %s does not match '%s'", tok->module_name,
                       tok->token_uri ? tok->token_uri : "pkcs11:");
        goto cleanup;
    }

    /* Two-call idiom; the list may grow between the calls (hot plug). */
    for (int tries = 0;; tries++) {
        rv = P11(tok, C_GetSlotList, CK_TRUE, NULL, &n);
        if (rv == CKR_OK && n > 0) {
            free(slots);
            slots = calloc(n, sizeof(*slots));
            if (slots == NULL) {
                ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
                goto cleanup;
            }
            rv = P11(tok, C_GetSlotList, CK_TRUE, slots, &n);
        }
        if (rv != CKR_BUFFER_TOO_SMALL || tries >= 3)
            break;
    }
    if (rv != CKR_OK) {
        ret = hsm_rv(rv, "C_GetSlotList");
        goto cleanup;
    }

    want_slot = p11_kit_uri_get_slot_id(uri);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_SLOT_INFO si;
        CK_TOKEN_INFO ti;

        if (want_slot != (CK_SLOT_ID)-1 && slots[i] != want_slot)
            continue;
        if (P11(tok, C_GetSlotInfo, slots[i], &si) != CKR_OK ||
            !p11_kit_uri_match_slot_info(uri, &si))
            continue;
        if (P11(tok, C_GetTokenInfo, slots[i], &ti) != CKR_OK ||
            !p11_kit_uri_match_token_info(uri, &ti))
            continue;
        tok->slot = slots[i];
        tok->token_flags = ti.flags;
        tok->info = info;
        tok->slot_info = si;
        tok->token_info = ti;
        copy_padded(tok->ident.slot_description,
                    sizeof(tok->ident.slot_description), si.slotDescription,
                    sizeof(si.slotDescription));
        copy_padded(tok->ident.label, sizeof(tok->ident.label), ti.label,
                    sizeof(ti.label));
        copy_padded(tok->ident.manufacturer, sizeof(tok->ident.manufacturer),
                    ti.manufacturerID, sizeof(ti.manufacturerID));
        copy_padded(tok->ident.model, sizeof(tok->ident.model), ti.model,
                    sizeof(ti.model));
        copy_padded(tok->ident.serial, sizeof(tok->ident.serial),
                    ti.serialNumber, sizeof(ti.serialNumber));
        tok->ident.login_required = (ti.flags & CKF_LOGIN_REQUIRED) != 0;
        /* NSS's no-database token is write-protected: CKA_TOKEN=TRUE
         * objects cannot be created there. */
        tok->ident.persistent_objects = (ti.flags & CKF_WRITE_PROTECTED) == 0;
        ret = HSMSSP_OK;
        goto cleanup;
    }
    ret = BASE_ERR(HSMSSP_ERR_NO_TOKEN, "'%s' in module %s",
                   tok->token_uri ? tok->token_uri : "pkcs11:",
                   tok->module_name);

cleanup:
    free(slots);
    return ret;
}

/* SoftHSM2 2.6.1 lists its tokens once, at C_Initialize, and skips a
 * token whose files another process is rewriting at that moment
 * (measured: about 1 open in 300 misses the token while a second process
 * creates and destroys token objects).  After a fresh C_Initialize found
 * no token, look again after re-initialising, a few times with a short
 * pause; a token that really is absent costs ~150 ms more.  Caller holds
 * tok->lock and tok->owner_lock and has no session open. */
static hsmssp_err
token_find_again_unlocked(hsm_token *tok, P11KitUri *uri)
{
    hsmssp_err ret = HSMSSP_ERR_NO_TOKEN;

    for (int i = 1; ret == HSMSSP_ERR_NO_TOKEN && i <= 3; i++) {
        struct timespec pause = {0, 25L * 1000 * 1000 * i};
        nanosleep(&pause, NULL);
        module_finalize(tok, tok->fl);
        ret = module_initialize(tok, tok->fl);
        if (ret == HSMSSP_OK)
            ret = token_find_unlocked(tok, uri);
    }
    return ret;
}

/* Re-finds the token by its URI (a slot id may change across
 * re-initialisation) for recovery and fork handling.  A token that is no
 * longer there is "removed" at this point, not "no such token".
 * A token that is not found at once is looked for again with
 * token_find_again_unlocked(), in recovery as after fork: SoftHSM2 may
 * miss a token that another process is writing (the same scan race as at
 * open), and a module whose storage came back (a re-plugged reader, a
 * restored SoftHSM2 token directory) lists it only after a fresh
 * C_Initialize.  Caller holds tok->lock and tok->owner_lock and has no
 * session open. */
static hsmssp_err
token_refind_unlocked(hsm_token *tok)
{
    P11KitUri *uri = NULL;
    hsmssp_err ret = uri_parse(tok->token_uri, &uri);

    if (ret == HSMSSP_OK)
        ret = token_find_unlocked(tok, uri);
    if (ret == HSMSSP_ERR_NO_TOKEN)
        ret = token_find_again_unlocked(tok, uri);
    if (ret == HSMSSP_ERR_NO_TOKEN)
        ret = BASE_ERR(HSMSSP_ERR_TOKEN_REMOVED,
                       "token '%s' is no longer present in module %s",
                       tok->ident.label, tok->module_name);
    p11_kit_uri_free(uri);
    return ret;
}

hsmssp_err
hsm_token_uri_matches(hsm_token *tok, P11KitUri *uri)
{
    CK_SLOT_ID want_slot = p11_kit_uri_get_slot_id(uri);
    const char *mname = p11_kit_uri_get_module_name(uri);
    const char *mpath = p11_kit_uri_get_module_path(uri);
    bool match;

    /* The attributes token_find_unlocked() matched and recorded, not a
     * fresh C_GetTokenInfo: the identity cannot change while the token
     * is open (a replaced token fails its sessions and is found again by
     * recovery), and SoftHSM2 answers CKR_GENERAL_ERROR to
     * C_GetTokenInfo while another process rewrites the token's files. */
    pthread_mutex_lock(&tok->lock);
    match = p11_kit_uri_match_module_info(uri, &tok->info) &&
            (mpath == NULL || strcmp(mpath, tok->ident.module_path) == 0) &&
            (mname == NULL ||
             module_name_matches(tok->ident.module_path, mname) ||
             (tok->module_registered &&
              strcmp(mname, tok->module_name) == 0)) &&
            (want_slot == (CK_SLOT_ID)-1 || want_slot == tok->slot) &&
            p11_kit_uri_match_slot_info(uri, &tok->slot_info) &&
            p11_kit_uri_match_token_info(uri, &tok->token_info);
    pthread_mutex_unlock(&tok->lock);
    if (!match)
        return BASE_ERR(HSMSSP_ERR_NO_TOKEN,
                        "the key URI names another module, slot or token "
                        "than the open token '%s'",
                        tok->ident.label);
    return HSMSSP_OK;
}

/* Takes the PIN and the selection out of the configured URI: pin-value
 * into tok->pin (and wiped out of p11-kit's parsed copy), pin-source into
 * tok->pin_source, and a PIN-free form of the URI into tok->token_uri for
 * messages and re-selection. */
static hsmssp_err
uri_take(hsm_token *tok, const hsm_config *cfg)
{
    hsmssp_err ret;
    P11KitUri *uri = NULL;
    const char *pv, *ps;
    char *text = NULL;

    if (cfg->token_uri == NULL) {
        ret = HSMSSP_OK;
        goto pin_file;
    }
    ret = uri_parse(cfg->token_uri, &uri);
    if (ret != HSMSSP_OK)
        goto cleanup;
    pv = p11_kit_uri_get_pin_value(uri);
    if (pv != NULL) {
        ret = base_secret_from(pv, strlen(pv), &tok->pin);
        /* p11-kit frees its decoded copy without wiping: wipe it first.
         * (p11-kit owns it; writing zeros over it in place is safe.) */
        base_memzero((char *)pv, strlen(pv));
        p11_kit_uri_set_pin_value(uri, NULL);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    ps = p11_kit_uri_get_pin_source(uri);
    if (ps != NULL && tok->pin == NULL) {
        tok->pin_source = strdup(ps);
        if (tok->pin_source == NULL) {
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
            goto cleanup;
        }
    }
    if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_ANY, &text) !=
        P11_KIT_URI_OK) {
        ret = BASE_ERR(HSMSSP_ERR_BAD_URI, "cannot re-format the URI");
        goto cleanup;
    }
    tok->token_uri = text;
    text = NULL;

pin_file:
    if (tok->pin == NULL && tok->pin_source == NULL && cfg->pin_file) {
        tok->pin_source = strdup(cfg->pin_file);
        if (tok->pin_source == NULL) {
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
            goto cleanup;
        }
    }
    ret = HSMSSP_OK;

cleanup:
    free(text);
    p11_kit_uri_free(uri);
    return ret;
}

/* ---- the owner session and the pool ----------------------------------- */

/* Forgets every pooled session without closing it: after C_CloseAllSessions
 * or in a fork child the handles are dead (and their numbers may already
 * name new sessions).  Caller holds tok->lock. */
static void
pool_forget_unlocked(hsm_token *tok)
{
    while (tok->pool != NULL) {
        hsm_sess *s = tok->pool;
        tok->pool = s->next;
        free(s);
    }
    tok->pool_open = 0;
}

/* Opens the owner session and logs in.  Read-write when the token allows
 * it, since persistent keys are created there; read-only otherwise.  On
 * failure tok->owner stays CK_INVALID_HANDLE and nothing is left open.
 * Caller holds tok->lock and tok->owner_lock. */
static hsmssp_err
owner_open_unlocked(hsm_token *tok)
{
    hsmssp_err ret;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv;

    rv = P11(tok, C_OpenSession, tok->slot,
             CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
    if (rv == CKR_TOKEN_WRITE_PROTECTED)
        rv = P11(tok, C_OpenSession, tok->slot, CKF_SERIAL_SESSION, NULL,
                 NULL, &h);
    if (rv != CKR_OK) {
        ret = hsm_rv(rv, "C_OpenSession(owner)");
        h = CK_INVALID_HANDLE;
        goto cleanup;
    }
    ret = login_unlocked(tok, h);
    if (ret != HSMSSP_OK)
        goto cleanup;
    tok->owner = h;
    h = CK_INVALID_HANDLE;

cleanup:
    if (h != CK_INVALID_HANDLE)
        (void)P11(tok, C_CloseSession, h);
    return ret;
}

/* Closes every session of the token (pool and owner), invalidates the
 * derived-key cache and starts a new generation.  Caller holds tok->lock
 * and tok->owner_lock.  close_all is false in a fork child, whose handles
 * belong to the parent's module state.  Returns what C_CloseAllSessions
 * said (CKR_OK when it was not called): CKR_CRYPTOKI_NOT_INITIALIZED
 * tells recovery that the module lost its initialisation. */
static CK_RV
sessions_reset_unlocked(hsm_token *tok, bool close_all)
{
    CK_RV rv = CKR_OK;

    if (close_all && !tok->module_initialized)
        rv = CKR_CRYPTOKI_NOT_INITIALIZED; /* a re-init failed earlier */
    else if (close_all)
        rv = P11(tok, C_CloseAllSessions, tok->slot);
    pool_forget_unlocked(tok);
    tok->owner = CK_INVALID_HANDLE;
    tok->gen++;
    /* Cached objects died with their sessions: forget, never destroy. */
    pthread_mutex_lock(&tok->cache_lock);
    hsm_cache_reset_unlocked(&tok->cache);
    pthread_mutex_unlock(&tok->cache_lock);
    return rv;
}

hsmssp_err
hsm_token_check_fork_unlocked(hsm_token *tok)
{
    hsmssp_err ret;
    pid_t me = getpid();

    if (tok->pid == me)
        return HSMSSP_OK;
    /* PKCS#11 (v2.40 sec. 6.7.7): after fork the child must not use the
     * parent's module state.  Finalise (errors ignored: some modules
     * refuse in a child) and initialise again with the same arguments,
     * resetting the real module under p11-kit's wrapper first (see
     * module_reset_in_child).  The parent's handles are dropped, not
     * closed: they name the parent's sessions.
     * XXX: if another thread of the parent held owner_lock or cache_lock
     * at fork time, the child would block here; PKCS#11 offers nothing
     * better than "fork, then exec or re-initialise from one thread". */
    pthread_mutex_lock(&tok->owner_lock);
    (void)sessions_reset_unlocked(tok, false);
    /* The retained pin-value normally survives fork (a pre-forking
     * server's workers log in again with it).  Should the secure memory
     * have been wiped in the child (MADV_WIPEONFORK), it reads as zeros:
     * logging in with that would count as a failed attempt towards the
     * token's PIN lockout, so drop it and say why at login instead. */
    if (tok->pin != NULL && tok->pin->len > 0) {
        uint8_t any = 0;
        for (size_t i = 0; i < tok->pin->len; i++)
            any |= tok->pin->data[i];
        if (any == 0) {
            base_secret_free(tok->pin);
            tok->pin = NULL;
            tok->pin_lost_in_fork = true;
        }
    }
    module_reset_in_child(tok);
    module_finalize(tok, tok->fl);
    ret = module_initialize(tok, tok->fl);
    if (ret != HSMSSP_OK)
        goto cleanup; /* pid unchanged: the next call tries again */
    tok->pid = me;
    ret = token_refind_unlocked(tok);
    if (ret == HSMSSP_OK)
        ret = owner_open_unlocked(tok);
    base_log(ret == HSMSSP_OK ? HSMSSP_LOG_INFO : HSMSSP_LOG_ERROR, "hsm",
             "token '%s': re-initialised after fork in pid %ld "
             "(generation %llu)%s%s",
             tok->ident.label, (long)me, (unsigned long long)tok->gen,
             ret == HSMSSP_OK ? "" : ": ",
             ret == HSMSSP_OK ? "" : hsmssp_last_error_detail());

cleanup:
    pthread_mutex_unlock(&tok->owner_lock);
    return ret;
}

hsmssp_err
hsm_session_get(hsm_token *tok, hsm_sess **s_out)
{
    hsmssp_err ret;
    hsm_sess *s = NULL;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv;

    *s_out = NULL;
    pthread_mutex_lock(&tok->lock);
    ret = hsm_token_check_fork_unlocked(tok);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* No owner session means a recovery failed and the login is gone:
     * a new session would not see private objects (a key lookup would
     * say "not found" instead of "lost").  Report the loss so that the
     * caller runs hsm_token_recover().  owner is written under tok->lock
     * (and owner_lock), so reading it here is consistent. */
    if (tok->owner == CK_INVALID_HANDLE) {
        ret = BASE_ERR(HSMSSP_ERR_SESSION_LOST,
                       "token '%s': not logged in (an earlier recovery "
                       "failed)", tok->ident.label);
        goto cleanup;
    }
    if (tok->pool != NULL) {
        s = tok->pool;
        tok->pool = s->next;
        s->next = NULL;
        goto done;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    /* Opened under tok->lock so that no recovery can close it between
     * C_OpenSession and the moment it is stamped with the generation.
     * This happens only while the pool grows to the concurrency level. */
    rv = P11(tok, C_OpenSession, tok->slot, CKF_SERIAL_SESSION, NULL, NULL,
             &h);
    if (rv != CKR_OK) {
        ret = hsm_rv(rv, "C_OpenSession");
        goto cleanup;
    }
    s->h = h;
    s->gen = tok->gen;
    tok->pool_open++;

done:
    *s_out = s;
    s = NULL;
    ret = HSMSSP_OK;

cleanup:
    pthread_mutex_unlock(&tok->lock);
    free(s);
    return ret;
}

void
hsm_session_put(hsm_token *tok, hsm_sess *s, bool failed)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&tok->lock);
    if (s->gen == tok->gen && tok->pid == getpid()) {
        if (!failed) {
            s->next = tok->pool;
            tok->pool = s;
            s = NULL;
        } else {
            /* A session whose call failed may be in an unknown state
             * (an operation left active): close it while the generation
             * still guarantees the handle is ours. */
            (void)P11(tok, C_CloseSession, s->h);
            tok->pool_open--;
        }
    }
    /* Otherwise it belongs to an older generation: already closed by
     * recovery, or the parent's after fork.  Only the memory is ours. */
    pthread_mutex_unlock(&tok->lock);
    free(s);
}

hsmssp_err
hsm_owner_acquire(hsm_token *tok, CK_SESSION_HANDLE *h_out, uint64_t *gen_out)
{
    hsmssp_err ret;

    *h_out = CK_INVALID_HANDLE;
    *gen_out = 0;
    pthread_mutex_lock(&tok->lock);
    ret = hsm_token_check_fork_unlocked(tok);
    pthread_mutex_unlock(&tok->lock);
    if (ret != HSMSSP_OK)
        return ret;
    pthread_mutex_lock(&tok->owner_lock);
    /* Recovery changes owner and gen while holding owner_lock, so both
     * are consistent here. */
    if (tok->owner == CK_INVALID_HANDLE) {
        pthread_mutex_unlock(&tok->owner_lock);
        return BASE_ERR(HSMSSP_ERR_SESSION_LOST,
                        "token '%s': owner session not open (an earlier "
                        "recovery failed)", tok->ident.label);
    }
    *h_out = tok->owner;
    *gen_out = tok->gen;
    return HSMSSP_OK; /* owner_lock stays held until hsm_owner_release */
}

void
hsm_owner_release(hsm_token *tok)
{
    pthread_mutex_unlock(&tok->owner_lock);
}

uint64_t
hsm_token_generation(hsm_token *tok)
{
    uint64_t g;

    pthread_mutex_lock(&tok->lock);
    g = tok->gen;
    pthread_mutex_unlock(&tok->lock);
    return g;
}

hsmssp_err
hsm_token_recover(hsm_token *tok, uint64_t seen_gen)
{
    hsmssp_err ret;
    uint64_t old;
    CK_RV rv;

    pthread_mutex_lock(&tok->lock);
    ret = hsm_token_check_fork_unlocked(tok);
    if (ret != HSMSSP_OK)
        goto unlock;
    pthread_mutex_lock(&tok->owner_lock);
    /* Another thread recovered after this caller's failure: its session
     * is already from a newer, working generation. */
    if (tok->gen != seen_gen && tok->owner != CK_INVALID_HANDLE) {
        ret = HSMSSP_OK;
        goto unlock_owner;
    }
    old = tok->gen;
    /* Close everything first, so no handle leaks whatever happens next;
     * C_CloseAllSessions also ends the login (PKCS#11 sec. 5.6). */
    rv = sessions_reset_unlocked(tok, true);
    /* p11-kit's managed wrapper answers C_CloseAllSessions from its own
     * session table, so ask the module itself too (C_GetInfo is cheap
     * and needs no session). */
    if (rv != CKR_CRYPTOKI_NOT_INITIALIZED) {
        CK_INFO info;
        rv = P11(tok, C_GetInfo, &info);
    }
    /* CKR_CRYPTOKI_NOT_INITIALIZED (hsm_rv: SESSION_LOST): someone
     * finalised the module under us (another component of the process
     * calling C_Finalize, a module that reset itself).  Its sessions are
     * gone with its state; initialise it again with the same arguments
     * before looking for the token.  Finalising first makes p11-kit's
     * managed wrapper, which still counts the module as initialised,
     * pass the C_Initialize through to the module. */
    if (rv == CKR_CRYPTOKI_NOT_INITIALIZED) {
        module_finalize(tok, tok->fl);
        ret = module_initialize(tok, tok->fl);
        if (ret == HSMSSP_OK)
            base_log(HSMSSP_LOG_WARNING, "hsm",
                     "token '%s': module %s lost its initialisation; "
                     "initialised it again", tok->ident.label,
                     tok->module_name);
    }
    if (ret == HSMSSP_OK)
        ret = token_refind_unlocked(tok);
    if (ret == HSMSSP_OK)
        ret = owner_open_unlocked(tok);
    /* Failing to find or initialise the token again, or losing the new
     * session at once, all mean the token is not usable now: report it
     * as removed (the detail keeps the cause).  PIN errors stay as they
     * are: the operator must fix the PIN source. */
    if (ret == HSMSSP_ERR_NO_TOKEN || ret == HSMSSP_ERR_MODULE_INIT ||
        ret == HSMSSP_ERR_SESSION_LOST) {
        char why[200]; /* the detail buffer is rewritten below */
        snprintf(why, sizeof(why), "%s", hsmssp_last_error_detail());
        ret = BASE_ERR(HSMSSP_ERR_TOKEN_REMOVED, "token '%s' not present (%s)",
                       tok->ident.label, why);
    }
    /* On failure the state is consistent: no owner session, an empty
     * pool, a new generation; the next hsm_owner_acquire() reports
     * SESSION_LOST and the next recovery tries again. */
    if (ret == HSMSSP_OK)
        base_log(HSMSSP_LOG_WARNING, "hsm",
                 "token '%s': sessions lost in generation %llu; reopened "
                 "and logged in again (generation %llu), derived-key "
                 "cache flushed", tok->ident.label,
                 (unsigned long long)old, (unsigned long long)tok->gen);
    else
        base_log(HSMSSP_LOG_ERROR, "hsm",
                 "token '%s': sessions lost in generation %llu; reopening "
                 "failed: %s", tok->ident.label, (unsigned long long)old,
                 hsmssp_last_error_detail());

unlock_owner:
    pthread_mutex_unlock(&tok->owner_lock);
unlock:
    pthread_mutex_unlock(&tok->lock);
    return ret;
}

/* ---- open / close ----------------------------------------------------- */

hsmssp_err
hsm_token_open(const hsm_config *cfg, hsm_token **tok_out)
{
    hsmssp_err ret;
    hsm_token *tok = NULL;
    P11KitUri *uri = NULL;

    *tok_out = NULL;
    if (cfg == NULL || cfg->module == NULL || cfg->module[0] == '\0') {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG, "no PKCS#11 module configured");
        goto cleanup;
    }
    tok = calloc(1, sizeof(*tok));
    if (tok == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    pthread_mutex_init(&tok->lock, NULL);
    pthread_mutex_init(&tok->owner_lock, NULL);
    pthread_mutex_init(&tok->cache_lock, NULL);
    tok->owner = CK_INVALID_HANDLE;
    tok->policy = cfg->policy;
    tok->next_key_serial = 1;
    tok->gen = 1;
    tok->pid = getpid();
    ret = hsm_cache_init(&tok->cache, cfg->cache_max);
    if (ret != HSMSSP_OK)
        goto cleanup;
    tok->module_name = strdup(cfg->module);
    if (tok->module_name == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }

    /* The URI first: a malformed URI should fail before a module loads. */
    ret = uri_take(tok, cfg);
    if (ret == HSMSSP_OK)
        ret = pin_callback_register(tok);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = module_open(tok, cfg);
    if (ret != HSMSSP_OK)
        goto cleanup;

    /* Nothing else can reach tok yet; the locks keep the _unlocked
     * helpers' contracts honest. */
    pthread_mutex_lock(&tok->lock);
    pthread_mutex_lock(&tok->owner_lock);
    ret = uri_parse(tok->token_uri, &uri);
    if (ret == HSMSSP_OK)
        ret = token_find_unlocked(tok, uri);
    if (ret == HSMSSP_ERR_NO_TOKEN)
        ret = token_find_again_unlocked(tok, uri);
    if (ret == HSMSSP_OK)
        ret = owner_open_unlocked(tok);
    pthread_mutex_unlock(&tok->owner_lock);
    pthread_mutex_unlock(&tok->lock);
    if (ret != HSMSSP_OK)
        goto cleanup;

    ret = hsm_probe_run(tok);
    if (ret != HSMSSP_OK)
        goto cleanup;
    base_log(HSMSSP_LOG_INFO, "hsm", "opened token '%s' (%s) in %s",
             tok->ident.label, tok->ident.model, tok->ident.module_path);
    *tok_out = tok;
    tok = NULL;

cleanup:
    p11_kit_uri_free(uri);
    /* Closing records no error, so the first failure's detail stays. */
    hsm_token_close(tok);
    return ret;
}

void
hsm_token_close(hsm_token *tok)
{
    if (tok == NULL)
        return;
    if (tok->fl != NULL) {
        /* In a fork child that never re-initialised, the sessions are
         * the parent's: leave them alone and only finalise our copy. */
        if (tok->pid == getpid() && tok->module_initialized)
            (void)P11(tok, C_CloseAllSessions, tok->slot);
        module_finalize(tok, tok->fl);
        p11_kit_module_release(tok->fl);
        tok->fl = NULL;
    }
    pool_forget_unlocked(tok);
    hsm_cache_fini(&tok->cache);
    pin_callback_unregister(tok);
    base_secret_free(tok->pin);
    free(tok->pin_source);
    free(tok->token_uri);
    free(tok->init_args);
    free(tok->module_name);
    pthread_mutex_destroy(&tok->cache_lock);
    pthread_mutex_destroy(&tok->owner_lock);
    pthread_mutex_destroy(&tok->lock);
    free(tok);
}

/* ---- accessors ---------------------------------------------------------- */

void
hsm_token_identity(hsm_token *tok, hsm_token_ident *out)
{
    *out = tok->ident;
}

const hsm_caps *
hsm_token_caps(hsm_token *tok)
{
    return &tok->caps;
}

const hsm_strategy_row *
hsm_token_strategies(hsm_token *tok, size_t *n_out)
{
    *n_out = tok->n_rows;
    return tok->rows;
}

size_t
hsm_token_cache_size(hsm_token *tok)
{
    size_t n;

    pthread_mutex_lock(&tok->cache_lock);
    n = tok->cache.count;
    pthread_mutex_unlock(&tok->cache_lock);
    return n;
}

/* Reads the protection attributes of one object through a pooled session
 * (objects are visible in every session of the application).  CKA_VALUE
 * is queried for its length only (pValue NULL): a sensitive object answers
 * CKR_ATTRIBUTE_SENSITIVE, and no key byte is ever copied to the host even
 * when the object is not sensitive. */
hsmssp_err
hsm_object_check(hsm_token *tok, unsigned long handle, bool *sensitive_out,
                 bool *extractable_out, unsigned long *value_rv_out)
{
    hsmssp_err ret;
    hsm_sess *s = NULL;
    CK_BBOOL sens = CK_FALSE, extr = CK_TRUE;
    CK_ATTRIBUTE flags[] = {
        {CKA_SENSITIVE, &sens, sizeof(sens)},
        {CKA_EXTRACTABLE, &extr, sizeof(extr)},
    };
    CK_ATTRIBUTE value = {CKA_VALUE, NULL, 0};
    CK_RV rv;

    *sensitive_out = false;
    *extractable_out = true;
    *value_rv_out = CKR_GENERAL_ERROR;
    ret = hsm_session_get(tok, &s);
    if (ret != HSMSSP_OK)
        goto cleanup;
    rv = P11(tok, C_GetAttributeValue, s->h, handle, flags,
             BASE_ARRAY_LEN(flags));
    if (rv != CKR_OK) {
        ret = hsm_rv(rv, "C_GetAttributeValue(CKA_SENSITIVE)");
        goto cleanup;
    }
    rv = P11(tok, C_GetAttributeValue, s->h, handle, &value, 1);
    *sensitive_out = sens == CK_TRUE;
    *extractable_out = extr == CK_TRUE;
    *value_rv_out = rv;
    ret = HSMSSP_OK;

cleanup:
    hsm_session_put(tok, s, false);
    return ret;
}

/* Names of the protection levels, indexed by hsm_level (DESIGN sec. 3). */
static const char *const level_names[] = {
    [HSM_LEVEL_T] = "T",
    [HSM_LEVEL_H_IMPORT] = "H(import)",
    [HSM_LEVEL_H_ARRIVAL] = "H(arrival)",
    [HSM_LEVEL_H_OP] = "H(op)",
    [HSM_LEVEL_NONE] = "none",
};

const char *
hsm_level_name(hsm_level level)
{
    if ((unsigned)level >= BASE_ARRAY_LEN(level_names))
        return "unknown";
    return level_names[level];
}
