/*
 * tests/hsm/test_token.c - the token layer (hsm/token.c) against SoftHSM2
 * and NSS softoken: module loading by path and by p11-kit name, token
 * selection by URI, PIN sources and their errors, the session pool under
 * threads, recovery after lost sessions and after the token's storage
 * vanished, CK_RV conversion and call counting.
 *
 * The SoftHSM2 token is this process's own (tu_softhsm_dir), never one
 * that tests running in parallel write; a case that destroys storage
 * works on a fresh token of its own (tu_softhsm_private), never on a
 * copy of another, which might be half-written at that moment.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "hsm/hsm-int.h"

#include <p11-kit/pin.h>

/* ---- helpers ---------------------------------------------------------- */

/* A SoftHSM2 config naming the test token with the given URI suffix
 * (empty, "?pin-value=...", "?pin-source=..."). */
static void
softhsm_cfg(hsm_config *cfg, char *uri, size_t uri_size, const char *query)
{
    tu_token_config(TU_SOFTHSM, 0, cfg);
    snprintf(uri, uri_size, "pkcs11:token=%s%s", TU_SOFTHSM_TOKEN, query);
    cfg->token_uri = uri;
}

/* Writes a file with the given bytes and mode; returns its path in a
 * static buffer (one per call site is enough: the tests are sequential). */
static void
write_file(const char *path, const char *bytes, mode_t mode)
{
    int fd;

    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static void
work_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s.%ld", tu_work_dir(), name, (long)getpid());
}

/* True when the session handle is open in this application. */
static bool
session_alive(hsm_token *tok, CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO si;
    return tok->fl->C_GetSessionInfo(h, &si) == CKR_OK;
}

/* Counts open sessions by probing small handle numbers: SoftHSM2 hands
 * out handles 1, 2, 3 ... (its session table index + 1). */
static unsigned
softhsm_open_sessions(hsm_token *tok)
{
    unsigned n = 0;
    for (CK_SESSION_HANDLE h = 1; h <= 256; h++)
        n += session_alive(tok, h);
    return n;
}

/* A small AES session object made in the owner session, for checks that
 * need a live object. */
static CK_OBJECT_HANDLE
make_aes(hsm_token *tok, bool sensitive)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL f = CK_FALSE, t = CK_TRUE;
    CK_BBOOL sens = sensitive ? CK_TRUE : CK_FALSE;
    CK_BBOOL extr = sensitive ? CK_FALSE : CK_TRUE;
    uint8_t value[16];
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &f, sizeof(f)},
        {CKA_ENCRYPT, &t, sizeof(t)},
        {CKA_SENSITIVE, &sens, sizeof(sens)},
        {CKA_EXTRACTABLE, &extr, sizeof(extr)},
        {CKA_VALUE, value, sizeof(value)},
    };
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    uint64_t gen;
    CK_RV rv;

    tu_fill(value, sizeof(value), 7);
    TU_OK(hsm_owner_acquire(tok, &h, &gen));
    rv = tok->fl->C_CreateObject(h, tmpl, BASE_ARRAY_LEN(tmpl), &obj);
    hsm_owner_release(tok);
    assert_int_equal(rv, CKR_OK);
    return obj;
}

/* ---- open, identity, close -------------------------------------------- */

static void
test_open_softhsm(void **state)
{
    hsm_token *tok = tu_token_open(TU_SOFTHSM, 0);
    hsm_token_ident id;
    CK_SESSION_INFO si;

    (void)state;
    hsm_token_identity(tok, &id);
    assert_string_equal(id.label, TU_SOFTHSM_TOKEN);
    assert_string_equal(id.manufacturer, "SoftHSM project");
    assert_string_equal(id.model, "SoftHSM v2");
    assert_string_equal(id.module_path, TU_SOFTHSM_MODULE);
    assert_string_equal(id.library_manufacturer, "SoftHSM");
    assert_true(strlen(id.serial) > 0);
    /* Padding trimmed. */
    assert_true(id.label[strlen(id.label) - 1] != ' ');
    assert_true(id.slot_description[0] != '\0');
    assert_int_equal(id.cryptoki_major, 2);
    assert_int_equal(id.cryptoki_minor, 40);
    assert_true(id.login_required);
    assert_true(id.persistent_objects);
    assert_true((tok->token_flags & CKF_LOGIN_REQUIRED) != 0);
    /* The owner session is open, read-write and logged in. */
    assert_int_equal(tok->fl->C_GetSessionInfo(tok->owner, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
    assert_int_equal(tok->pid, getpid());
    assert_int_equal(tok->next_key_serial, 1);
    assert_non_null(tok->pin);
    assert_null(tok->pin_source);
    /* The retained URI carries no PIN. */
    assert_non_null(tok->token_uri);
    assert_null(strstr(tok->token_uri, "pin-value"));
    assert_null(strstr(tok->token_uri, TU_SOFTHSM_PIN));
    hsm_token_close(tok);
    hsm_token_close(NULL);
}

static void
test_open_nss(void **state)
{
    hsm_token *tok = tu_token_open(TU_NSS, 0);
    hsm_token_ident id;
    CK_SESSION_INFO si;

    (void)state;
    hsm_token_identity(tok, &id);
    assert_string_equal(id.label, "NSS Generic Crypto Services");
    assert_string_equal(id.slot_description,
                        "NSS Internal Cryptographic Services");
    assert_string_equal(id.module_path, TU_NSS_MODULE);
    assert_string_equal(id.manufacturer, "Mozilla Foundation");
    /* The automatic no-database init string was used. */
    assert_non_null(tok->init_args);
    assert_non_null(strstr(tok->init_args, "noCertDB"));
    /* Session objects only, no login. */
    assert_false(id.persistent_objects);
    assert_false(id.login_required);
    assert_int_equal(tok->fl->C_GetSessionInfo(tok->owner, &si), CKR_OK);
    hsm_token_close(tok);
}

/* Without init args NSS softoken cannot initialise: an explicit empty
 * string overrides the automatic one and gives MODULE_INIT. */
static void
test_nss_bad_init_args(void **state)
{
    hsm_config cfg;
    hsm_token *tok = NULL;

    (void)state;
    tu_token_config(TU_NSS, 0, &cfg);
    cfg.init_args = "configdir='/nonexistent/hsmssp' flags=readOnly";
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_MODULE_INIT);
    assert_null(tok);
    assert_non_null(strstr(hsmssp_last_error_detail(), "C_Initialize"));
}

/* The first token of the module when no URI is given. */
static void
test_open_without_uri(void **state)
{
    hsm_config cfg;
    hsm_token *tok = NULL;
    hsm_token_ident id;

    (void)state;
    tu_token_config(TU_NSS, 0, &cfg);
    cfg.token_uri = NULL;
    TU_OK(hsm_token_open(&cfg, &tok));
    hsm_token_identity(tok, &id);
    assert_true(id.label[0] != '\0');
    hsm_token_close(tok);
}

/* URI module and slot attributes take part in the match. */
static void
test_uri_module_attrs(void **state)
{
    hsm_config cfg;
    hsm_token *tok = NULL;
    char uri[512];

    (void)state;
    softhsm_cfg(&cfg, uri, sizeof(uri),
                ";library-manufacturer=SoftHSM?module-name=softhsm2&"
                "pin-value=" TU_SOFTHSM_PIN);
    TU_OK(hsm_token_open(&cfg, &tok));
    hsm_token_close(tok);
    tok = NULL;

    softhsm_cfg(&cfg, uri, sizeof(uri),
                ";library-manufacturer=Nobody?pin-value=" TU_SOFTHSM_PIN);
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_NO_TOKEN);
    softhsm_cfg(&cfg, uri, sizeof(uri),
                "?module-name=opensc-pkcs11&pin-value=" TU_SOFTHSM_PIN);
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_NO_TOKEN);
    softhsm_cfg(&cfg, uri, sizeof(uri),
                ";slot-id=987654321?pin-value=" TU_SOFTHSM_PIN);
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_NO_TOKEN);
    assert_null(tok);
}

/* ---- errors of open ----------------------------------------------------- */

static void
test_wrong_pin(void **state)
{
    hsm_config cfg;
    hsm_token *tok = NULL;
    char uri[256];

    (void)state;
    softhsm_cfg(&cfg, uri, sizeof(uri), "?pin-value=98765");
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_PIN_INCORRECT);
    assert_null(tok);
    assert_non_null(strstr(hsmssp_last_error_detail(), "CKR_PIN_INCORRECT"));
    /* Never the PIN itself, and no newline hint for a pin-value. */
    assert_null(strstr(hsmssp_last_error_detail(), "98765"));
    assert_null(strstr(hsmssp_last_error_detail(), "newline"));
}

static void
test_pin_file_newline(void **state)
{
    hsm_config cfg;
    hsm_token *tok = NULL;
    char uri[256], pin[512];

    (void)state;
    work_path(pin, sizeof(pin), "pin-nl");
    write_file(pin, TU_SOFTHSM_PIN "\n", 0600);
    softhsm_cfg(&cfg, uri, sizeof(uri), "");
    cfg.pin_file = pin;
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_PIN_INCORRECT);
    assert_non_null(strstr(hsmssp_last_error_detail(),
                           "ends with a newline, which is part of the PIN"));
    unlink(pin);
}

static void
test_pin_file_ok(void **state)
{
    hsm_config cfg;
    hsm_token *tok = NULL;
    char uri[256], pin[512];

    (void)state;
    work_path(pin, sizeof(pin), "pin-ok");
    write_file(pin, TU_SOFTHSM_PIN, 0400);
    softhsm_cfg(&cfg, uri, sizeof(uri), "");
    cfg.pin_file = pin;
    TU_OK(hsm_token_open(&cfg, &tok));
    /* Re-read at each login: nothing retained. */
    assert_null(tok->pin);
    assert_string_equal(tok->pin_source, pin);
    hsm_token_close(tok);
    unlink(pin);
}

static void
test_pin_file_perms(void **state)
{
    hsm_config cfg;
    hsm_token *tok = NULL;
    char uri[256], pin[512];

    (void)state;
    work_path(pin, sizeof(pin), "pin-644");
    write_file(pin, TU_SOFTHSM_PIN, 0644);
    softhsm_cfg(&cfg, uri, sizeof(uri), "");
    cfg.pin_file = pin;
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_FILE_PERMS);
    assert_non_null(strstr(hsmssp_last_error_detail(), "644"));
    /* Group-readable alone is refused too. */
    assert_int_equal(chmod(pin, 0640), 0);
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_FILE_PERMS);
    unlink(pin);
    /* A missing file: no PIN available. */
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_PIN_UNAVAILABLE);
    /* No PIN at all for a token that needs a login. */
    cfg.pin_file = NULL;
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_PIN_UNAVAILABLE);
    assert_null(tok);
}

/* pin-source in the URI (RFC 7512 sec. 2.4), re-read at each login: a
 * recovery after the file changed logs in with the new content. */
static void
test_pin_source_uri(void **state)
{
    hsm_config cfg;
    hsm_token *tok = NULL;
    char uri[768], pin[512], query[600];
    uint64_t gen;

    (void)state;
    work_path(pin, sizeof(pin), "pin-src");
    write_file(pin, TU_SOFTHSM_PIN, 0600);
    snprintf(query, sizeof(query), "?pin-source=file:%s", pin);
    softhsm_cfg(&cfg, uri, sizeof(uri), query);
    TU_OK(hsm_token_open(&cfg, &tok));
    assert_null(tok->pin);
    assert_string_equal(tok->pin_source, query + strlen("?pin-source="));

    /* A wrong PIN in the file now: recovery fails cleanly ... */
    write_file(pin, "0000", 0600);
    gen = hsm_token_generation(tok);
    TU_ERR(hsm_token_recover(tok, gen), HSMSSP_ERR_PIN_INCORRECT);
    assert_int_equal(tok->owner, CK_INVALID_HANDLE);
    /* ... the owner session is reported lost until a recovery works ... */
    {
        CK_SESSION_HANDLE h;
        uint64_t g;
        TU_ERR(hsm_owner_acquire(tok, &h, &g), HSMSSP_ERR_SESSION_LOST);
    }
    /* ... and with the right PIN back, the next recovery succeeds even
     * though the caller saw an older generation. */
    write_file(pin, TU_SOFTHSM_PIN, 0600);
    TU_OK(hsm_token_recover(tok, gen));
    assert_true(session_alive(tok, tok->owner));
    hsm_token_close(tok);
    unlink(pin);
}

/* A file pin-source is resolved through p11-kit: the token registers its
 * own file callback for the source, so p11_kit_pin_request() (what login
 * calls) gives the file's bytes; the PIN object's destroyer wipes them;
 * closing one token leaves another token's registration for the same
 * source in place, and closing the last removes it. */
static void
test_pin_callback_file(void **state)
{
    hsm_config cfg;
    hsm_token *a = NULL, *b = NULL;
    char uri[768], pin[512], query[600], src[560];
    P11KitPin *p;
    const unsigned char *v;
    size_t n = 0;

    (void)state;
    work_path(pin, sizeof(pin), "pin-cb");
    write_file(pin, TU_SOFTHSM_PIN, 0600);
    snprintf(src, sizeof(src), "file:%s", pin);
    snprintf(query, sizeof(query), "?pin-source=%s", src);
    softhsm_cfg(&cfg, uri, sizeof(uri), query);
    assert_null(p11_kit_pin_request(src, NULL, "test", 0));
    TU_OK(hsm_token_open(&cfg, &a));
    assert_true(a->pin_cb_registered);

    /* The file is re-read at each login: a new PIN in the file is what
     * the next login uses.  (Before a second token of the module is open:
     * its sessions would keep the application logged in.) */
    write_file(pin, "0000", 0600);
    TU_ERR(hsm_token_recover(a, hsm_token_generation(a)),
           HSMSSP_ERR_PIN_INCORRECT);
    write_file(pin, TU_SOFTHSM_PIN, 0600);
    TU_OK(hsm_token_recover(a, hsm_token_generation(a)));
    TU_OK(hsm_token_open(&cfg, &b));

    p = p11_kit_pin_request(src, NULL, "test", P11_KIT_PIN_FLAGS_USER_LOGIN);
    assert_non_null(p);
    v = p11_kit_pin_get_value(p, &n);
    assert_int_equal(n, strlen(TU_SOFTHSM_PIN));
    assert_memory_equal(v, TU_SOFTHSM_PIN, n);
    /* The bytes live in secure memory (an arena chunk stays mapped after
     * a free, see test_secmem.c) and the destroyer wipes them. */
    p11_kit_pin_unref(p);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i], 0);

    hsm_token_close(a);
    p = p11_kit_pin_request(src, NULL, "test", 0);
    assert_non_null(p); /* b's registration */
    p11_kit_pin_unref(p);
    hsm_token_close(b);
    assert_null(p11_kit_pin_request(src, NULL, "test", 0));
    unlink(pin);
}

/* An application's own p11-kit PIN callback for another pin-source
 * scheme supplies the PIN: asked at every login (nothing retained), a
 * wrong answer is a wrong PIN (without the newline hint of files), and
 * without any callback the login names the source. */
struct agent {
    int calls;
    const char *answer;
    char last_description[64];
};

static P11KitPin *
agent_callback(const char *pin_source, P11KitUri *pin_uri,
               const char *pin_description, P11KitPinFlags pin_flags,
               void *data)
{
    struct agent *ag = data;

    (void)pin_uri;
    if (strcmp(pin_source, "hsmssp-agent:test-token") != 0 ||
        (pin_flags & P11_KIT_PIN_FLAGS_USER_LOGIN) == 0)
        return NULL;
    ag->calls++;
    snprintf(ag->last_description, sizeof(ag->last_description), "%s",
             pin_description ? pin_description : "");
    return p11_kit_pin_new_for_string(ag->answer);
}

static void
test_pin_callback_custom_scheme(void **state)
{
    static const char src[] = "hsmssp-agent:test-token";
    struct agent ag = {0, TU_SOFTHSM_PIN, ""};
    hsm_config cfg;
    hsm_token *tok = NULL;
    char uri[256];

    (void)state;
    softhsm_cfg(&cfg, uri, sizeof(uri), "?pin-source=hsmssp-agent:test-token");
    /* No callback for the scheme yet. */
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_PIN_UNAVAILABLE);
    assert_non_null(strstr(hsmssp_last_error_detail(), src));
    assert_null(tok);

    assert_true(p11_kit_pin_register_callback(src, agent_callback, &ag,
                                              NULL) >= 0);
    TU_OK(hsm_token_open(&cfg, &tok));
    assert_int_equal(ag.calls, 1);
    assert_string_equal(ag.last_description, TU_SOFTHSM_TOKEN);
    assert_null(tok->pin);
    assert_false(tok->pin_cb_registered); /* not a file source */
    TU_OK(hsm_token_recover(tok, hsm_token_generation(tok)));
    assert_int_equal(ag.calls, 2);

    ag.answer = "0000";
    TU_ERR(hsm_token_recover(tok, hsm_token_generation(tok)),
           HSMSSP_ERR_PIN_INCORRECT);
    assert_null(strstr(hsmssp_last_error_detail(), "newline"));
    assert_int_equal(ag.calls, 3);
    ag.answer = TU_SOFTHSM_PIN;
    TU_OK(hsm_token_recover(tok, hsm_token_generation(tok)));

    p11_kit_pin_unregister_callback(src, agent_callback, &ag);
    TU_ERR(hsm_token_recover(tok, hsm_token_generation(tok)),
           HSMSSP_ERR_PIN_UNAVAILABLE);
    assert_non_null(strstr(hsmssp_last_error_detail(), src));
    assert_int_equal(ag.calls, 4);
    hsm_token_close(tok);
}

static void
test_missing_module(void **state)
{
    hsm_config cfg;
    hsm_token *tok = NULL;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.module = "/nonexistent/hsmssp/libnothing.so";
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_MODULE_LOAD);
    assert_null(tok);
    assert_non_null(strstr(hsmssp_last_error_detail(),
                           "/nonexistent/hsmssp/libnothing.so"));

    /* A file that is not a shared object. */
    cfg.module = "/etc/hostname";
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_MODULE_LOAD);

    /* (A name that p11-kit does not know: test_registered_name.) */

    cfg.module = NULL;
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_CONFIG);
    TU_ERR(hsm_token_open(NULL, &tok), HSMSSP_ERR_CONFIG);
}

static void
test_no_token(void **state)
{
    hsm_config cfg;
    hsm_token *tok = NULL;

    (void)state;
    tu_token_config(TU_SOFTHSM, 0, &cfg);
    cfg.token_uri = "pkcs11:token=hsmssp-no-such-token?pin-value=4321";
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_NO_TOKEN);
    assert_null(tok);
    assert_non_null(strstr(hsmssp_last_error_detail(),
                           "hsmssp-no-such-token"));
    assert_null(strstr(hsmssp_last_error_detail(), "4321"));
    assert_null(strstr(hsmssp_last_error_detail(), "pin-value"));

    cfg.token_uri = "http://example.invalid/?pin-value=4321";
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_BAD_URI);
    assert_null(strstr(hsmssp_last_error_detail(), "4321"));
}

/* Debian's softhsm2 package registers the module with p11-kit as
 * "softhsm2" (/usr/share/p11-kit/modules/softhsm2.module).
 *
 * Runs in a child process: finding a module by name makes p11-kit dlopen
 * every registered module, and OpenSC's (also registered on Debian)
 * initialises GLib's type system, whose permanent allocations
 * LeakSanitizer reports at exit, attributed to whatever library later
 * occupies the unloaded addresses, so no suppression can name them.  The
 * child checks by hand and leaves with _exit(), skipping that report. */
static int
registered_name_child(void)
{
    hsm_config cfg;
    hsm_token *tok = NULL;
    hsm_token_ident id;
    char uri[256];

    softhsm_cfg(&cfg, uri, sizeof(uri), "?pin-value=" TU_SOFTHSM_PIN);
    cfg.module = "softhsm2";
    if (hsm_token_open(&cfg, &tok) != HSMSSP_OK) {
        fprintf(stderr, "open by name: %s\n", hsmssp_last_error_detail());
        return 1;
    }
    hsm_token_identity(tok, &id);
    if (!tok->module_registered || strcmp(id.label, TU_SOFTHSM_TOKEN) != 0 ||
        strstr(id.module_path, "libsofthsm2.so") == NULL) {
        fprintf(stderr, "by name: wrong identity (%s, %s)\n", id.label,
                id.module_path);
        return 2;
    }
    hsm_token_close(tok);
    /* Registered modules are matched by name, not by prefix. */
    cfg.module = "softhsm";
    tok = NULL;
    if (hsm_token_open(&cfg, &tok) != HSMSSP_ERR_MODULE_LOAD || tok) {
        fprintf(stderr, "'softhsm' should not load\n");
        return 3;
    }
    /* A name that p11-kit does not know. */
    cfg.module = "hsmssp-no-such-module";
    if (hsm_token_open(&cfg, &tok) != HSMSSP_ERR_MODULE_LOAD ||
        strstr(hsmssp_last_error_detail(), "hsmssp-no-such-module") == NULL) {
        fprintf(stderr, "unknown name: %s\n", hsmssp_last_error_detail());
        return 4;
    }
    return 0;
}

static void
test_registered_name(void **state)
{
    int status;
    pid_t pid;

    (void)state;
    /* Debian's softhsm2-common ships the registration (scripts/
     * install-deps.sh installs it).  p11-kit ignores per-user module
     * configuration for root, so a test running as root (CI) has no
     * private way to register it: without the file the case cannot run,
     * which is a failure under CI=true. */
    if (access("/usr/share/p11-kit/modules/softhsm2.module", R_OK) != 0) {
        tu_skip_case("softhsm2 is not registered with p11-kit "
                     "(/usr/share/p11-kit/modules/softhsm2.module, "
                     "package softhsm2-common)");
        return;
    }
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(registered_name_child());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- the session pool ------------------------------------------------- */

#define POOL_THREADS 4
#define POOL_ROUNDS 1000

struct pool_ctx {
    hsm_token *tok;
    pthread_mutex_t lock;
    CK_SESSION_HANDLE busy[POOL_THREADS];
    int errors;
};

/* Each round borrows a session, checks nobody else holds it, uses it and
 * returns it. */
static void *
pool_worker(void *arg)
{
    struct pool_ctx *c = arg;
    int slot = -1;

    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < POOL_THREADS; i++)
        if (c->busy[i] == (CK_SESSION_HANDLE)-1) {
            slot = i;
            c->busy[i] = CK_INVALID_HANDLE;
            break;
        }
    pthread_mutex_unlock(&c->lock);

    for (int r = 0; r < POOL_ROUNDS; r++) {
        hsm_sess *s = NULL;
        CK_SESSION_INFO si;
        bool clash = false;

        if (hsm_session_get(c->tok, &s) != HSMSSP_OK) {
            __atomic_add_fetch(&c->errors, 1, __ATOMIC_SEQ_CST);
            continue;
        }
        pthread_mutex_lock(&c->lock);
        for (int i = 0; i < POOL_THREADS; i++)
            clash |= c->busy[i] == s->h;
        c->busy[slot] = s->h;
        pthread_mutex_unlock(&c->lock);
        if (clash || c->tok->fl->C_GetSessionInfo(s->h, &si) != CKR_OK)
            __atomic_add_fetch(&c->errors, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_lock(&c->lock);
        c->busy[slot] = CK_INVALID_HANDLE;
        pthread_mutex_unlock(&c->lock);
        hsm_session_put(c->tok, s, false);
    }
    return NULL;
}

static void
test_pool_threads(void **state)
{
    struct pool_ctx c;
    pthread_t th[POOL_THREADS];
    size_t pooled = 0;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.tok = tu_token_open(TU_SOFTHSM, 0);
    pthread_mutex_init(&c.lock, NULL);
    for (int i = 0; i < POOL_THREADS; i++)
        c.busy[i] = (CK_SESSION_HANDLE)-1;
    for (int i = 0; i < POOL_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, pool_worker, &c), 0);
    for (int i = 0; i < POOL_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(c.errors, 0);
    /* The pool grew to at most the concurrency level, and every session
     * it opened is back in it. */
    for (hsm_sess *s = c.tok->pool; s != NULL; s = s->next)
        pooled++;
    assert_true(c.tok->pool_open >= 1 && c.tok->pool_open <= POOL_THREADS);
    assert_int_equal(pooled, c.tok->pool_open);
    assert_int_equal(softhsm_open_sessions(c.tok), 1 + c.tok->pool_open);
    pthread_mutex_destroy(&c.lock);
    hsm_token_close(c.tok);
}

/* A failed session is closed, not pooled; one of an old generation is
 * dropped. */
static void
test_pool_put_failed(void **state)
{
    hsm_token *tok = tu_token_open(TU_SOFTHSM, 0);
    hsm_sess *a = NULL, *b = NULL;
    CK_SESSION_HANDLE ha;

    (void)state;
    TU_OK(hsm_session_get(tok, &a));
    TU_OK(hsm_session_get(tok, &b));
    assert_true(a->h != b->h);
    assert_int_equal(tok->pool_open, 2);
    ha = a->h;
    hsm_session_put(tok, a, true);
    assert_false(session_alive(tok, ha));
    assert_int_equal(tok->pool_open, 1);
    assert_null(tok->pool);
    hsm_session_put(tok, b, false);
    assert_non_null(tok->pool);
    hsm_session_put(tok, NULL, false);
    hsm_token_close(tok);
}

/* ---- recovery ------------------------------------------------------------ */

/* Every session closed behind our back (as a device reset would): the
 * first use reports SESSION_LOST, recovery reopens and logs in, the cache
 * is flushed, no handle leaks and a second recovery for the same failure
 * does nothing. */
static void
test_recover_close_all(void **state)
{
    hsm_token *tok = tu_token_open(TU_SOFTHSM, 0);
    hsm_sess *s[3] = {NULL, NULL, NULL};
    hsm_key *key = NULL;
    CK_SESSION_HANDLE old[4];
    CK_SESSION_INFO si;
    uint64_t gen, gen2;
    hsmssp_err e;
    CK_RV rv;

    (void)state;
    /* A session key with two derived keys in the cache (Ke and Ki of one
     * usage): real objects of this generation. */
    {
        base_secret *kb = NULL;
        hsm_key_spec spec;
        uint8_t msg[20] = "recover close all", ct[128];
        size_t clen;
        memset(&spec, 0, sizeof(spec));
        spec.etype = HSM_ETYPE_AES256_SHA1;
        /* A long-term key: its derived keys go to the shared cache. */
        spec.key_class = HSM_KEY_LONG_TERM;
        TU_OK(base_secret_new(32, 32, &kb));
        tu_fill(kb->data, 32, 5);
        TU_OK(hsm_key_import(tok, &spec, kb, &key));
        base_secret_free(kb);
        TU_OK(hsm_krb_encrypt(key, HSM_USAGE_AP_REQ_AUTH, msg, sizeof(msg),
                              ct, sizeof(ct), &clen));
    }
    assert_int_equal(hsm_token_cache_size(tok), 2);
    assert_int_equal(tu_count_objects(tok, false), 3); /* base + 2 */
    for (int i = 0; i < 3; i++)
        TU_OK(hsm_session_get(tok, &s[i]));
    for (int i = 0; i < 3; i++) {
        old[i] = s[i]->h;
        hsm_session_put(tok, s[i], false);
    }
    old[3] = tok->owner;
    assert_int_equal(softhsm_open_sessions(tok), 4);

    assert_int_equal(tok->fl->C_CloseAllSessions(tok->slot), CKR_OK);

    gen = hsm_token_generation(tok);
    TU_OK(hsm_session_get(tok, &s[0])); /* a dead pooled session */
    rv = tok->fl->C_GetSessionInfo(s[0]->h, &si);
    e = hsm_rv(rv, "C_GetSessionInfo");
    assert_int_equal(e, HSMSSP_ERR_SESSION_LOST);
    assert_true(hsm_err_needs_recovery(e));
    hsm_session_put(tok, s[0], true);

    TU_OK(hsm_token_recover(tok, gen));
    gen2 = hsm_token_generation(tok);
    assert_true(gen2 > gen);
    assert_int_equal(hsm_token_cache_size(tok), 0);
    assert_null(tok->pool);
    assert_int_equal(tok->pool_open, 0);
    /* Logged in again on a fresh owner session. */
    assert_int_equal(tok->fl->C_GetSessionInfo(tok->owner, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
    /* Old handles are dead unless their number now names the owner. */
    for (int i = 0; i < 4; i++)
        if (old[i] != tok->owner)
            assert_false(session_alive(tok, old[i]));
    assert_int_equal(softhsm_open_sessions(tok), 1);

    /* Another thread's report of the same failure: nothing to do. */
    TU_OK(hsm_token_recover(tok, gen));
    assert_int_equal(hsm_token_generation(tok), gen2);
    assert_int_equal(softhsm_open_sessions(tok), 1);

    /* Pool works in the new generation. */
    TU_OK(hsm_session_get(tok, &s[0]));
    assert_int_equal(s[0]->gen, gen2);
    assert_true(session_alive(tok, s[0]->h));
    hsm_session_put(tok, s[0], false);
    assert_int_equal(softhsm_open_sessions(tok), 2);
    /* The flushed cache's objects died with their sessions: the token
     * shows no session object at all (counted in the pooled session). */
    assert_int_equal(tu_count_objects(tok, false), 0);
    /* The session key's objects are gone, and it says so. */
    {
        uint8_t msg[4] = "gone", ct[128];
        size_t clen;
        TU_ERR(hsm_krb_encrypt(key, HSM_USAGE_AP_REQ_AUTH, msg, sizeof(msg),
                               ct, sizeof(ct), &clen),
               HSMSSP_ERR_KEY_GONE);
    }
    assert_int_equal(hsm_token_cache_size(tok), 0);
    hsm_key_free(key);
    assert_int_equal(tu_count_objects(tok, false), 0);
    hsm_token_close(tok);
}

/* A session borrowed across a recovery belongs to the old generation and
 * is dropped, not pooled, when it comes back. */
static void
test_recover_borrowed(void **state)
{
    hsm_token *tok = tu_token_open(TU_NSS, 0);
    hsm_sess *s = NULL;
    uint64_t gen;

    (void)state;
    TU_OK(hsm_session_get(tok, &s));
    gen = hsm_token_generation(tok);
    TU_OK(hsm_token_recover(tok, gen));
    hsm_session_put(tok, s, false);
    assert_null(tok->pool);
    assert_int_equal(tok->pool_open, 0);
    TU_OK(hsm_session_get(tok, &s));
    assert_int_equal(s->gen, gen + 1);
    hsm_session_put(tok, s, false);
    hsm_token_close(tok);
}

/* The SoftHSM2 token directory deleted mid-run, on a token of this test's
 * own (tu_softhsm_private: a fresh token in a private directory, so that
 * deleting and restoring it cannot disturb tests running in parallel on
 * the shared fixture).  SoftHSM2 answers OBJECT_HANDLE_INVALID /
 * GENERAL_ERROR for what was there and no longer lists the token:
 * recovery reports TOKEN_REMOVED without crashing or leaking, and leaves
 * the token closable; once the storage is back, recovery (which
 * initialises the module again) and a fresh open both work. */
static void
test_recover_token_deleted(void **state)
{
    char cmd[4096], backup[700];
    tu_private_token pt;
    hsm_config cfg;
    hsm_token *tok = NULL;
    CK_OBJECT_HANDLE obj;
    bool sens, extr;
    unsigned long vrv;
    hsmssp_err e;
    uint64_t gen;

    (void)state;
    tu_softhsm_private("softhsm-deleted", 0, &pt, &cfg);
    snprintf(backup, sizeof(backup), "%s/backup", pt.dir);
    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", pt.tokens, backup);
    assert_int_equal(system(cmd), 0);

    TU_OK(hsm_token_open(&cfg, &tok));
    obj = make_aes(tok, true);
    TU_OK(hsm_object_check(tok, obj, &sens, &extr, &vrv));

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pt.tokens);
    assert_int_equal(system(cmd), 0);

    /* The module notices at its next call; recovery must fail with a
     * token error and leave no owner session. */
    gen = hsm_token_generation(tok);
    e = hsm_token_recover(tok, gen);
    TU_ERR(e, HSMSSP_ERR_TOKEN_REMOVED);
    assert_int_equal(tok->owner, CK_INVALID_HANDLE);
    assert_null(tok->pool);
    /* Until a recovery works, the pool refuses too: its sessions would
     * not be logged in. */
    TU_ERR(hsm_object_check(tok, obj, &sens, &extr, &vrv),
           HSMSSP_ERR_SESSION_LOST);

    {
        CK_SESSION_HANDLE h;
        uint64_t g;
        TU_ERR(hsm_owner_acquire(tok, &h, &g), HSMSSP_ERR_SESSION_LOST);
    }
    /* A retry fails the same way, still without leaking sessions. */
    TU_ERR(hsm_token_recover(tok, gen), HSMSSP_ERR_TOKEN_REMOVED);
    assert_int_equal(softhsm_open_sessions(tok), 0);

    /* The failed re-initialisation left the module finalised: the
     * detail says so, and nothing calls into it until a recovery works. */
    assert_non_null(strstr(hsmssp_last_error_detail(), "not present"));
    assert_false(tok->module_initialized);

    /* Storage back: SoftHSM2 2.6.1 scans its token directory only at
     * C_Initialize, and recovery initialises the module again when the
     * token is missing, so the next recovery finds the token, reopens
     * and logs in.  The session object died with the old sessions. */
    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", backup, pt.tokens);
    assert_int_equal(system(cmd), 0);
    TU_OK(hsm_token_recover(tok, gen));
    assert_true(tok->module_initialized);
    assert_true(session_alive(tok, tok->owner));
    assert_int_equal(softhsm_open_sessions(tok), 1);
    TU_ERR(hsm_object_check(tok, obj, &sens, &extr, &vrv),
           HSMSSP_ERR_KEY_GONE);
    obj = make_aes(tok, true);
    TU_OK(hsm_object_check(tok, obj, &sens, &extr, &vrv));
    hsm_token_close(tok);

    /* A fresh open on the restored storage always works. */
    tok = NULL;
    TU_OK(hsm_token_open(&cfg, &tok));
    hsm_token_close(tok);
    tu_softhsm_private_done(&pt);
}

/* Helpers of test_token_deleted_under_engine: an etype 18 key, and an
 * encrypt-decrypt round trip through the engine. */
static hsm_key *
engine_key(hsm_token *tok, bool persistent, const char *id)
{
    base_secret *kb = NULL;
    hsm_key_spec spec;
    hsm_key *key = NULL;

    memset(&spec, 0, sizeof(spec));
    spec.etype = HSM_ETYPE_AES256_SHA1;
    spec.key_class = persistent ? HSM_KEY_LONG_TERM : HSM_KEY_SESSION;
    spec.persistent = persistent;
    if (id != NULL) {
        spec.id = (const uint8_t *)id;
        spec.id_len = strlen(id);
    }
    TU_OK(base_secret_new(32, 32, &kb));
    tu_fill(kb->data, 32, persistent ? 21 : 22);
    TU_OK(hsm_key_import(tok, &spec, kb, &key));
    base_secret_free(kb);
    return key;
}

static hsmssp_err
engine_encrypt(hsm_key *key, int32_t usage)
{
    uint8_t msg[50], ct[128], pt[128];
    size_t clen = 0, plen = 0;
    hsmssp_err e;

    tu_fill(msg, sizeof(msg), (uint32_t)usage);
    e = hsm_krb_encrypt(key, usage, msg, sizeof(msg), ct, sizeof(ct), &clen);
    if (e != HSMSSP_OK)
        return e;
    e = hsm_krb_decrypt(key, usage, ct, clen, pt, sizeof(pt), &plen);
    if (e == HSMSSP_OK)
        assert_memory_equal(pt, msg, sizeof(msg));
    return e;
}

/* The same deletion seen through the engine (hsm_krb_encrypt), on a
 * private token.  SoftHSM2 keeps session objects in memory and token
 * objects in the directory: once the directory is gone, the persistent
 * key's own object is invalid, so deriving a new per-usage key from it
 * fails with KEY_GONE naming the vanished object (a token error, not a
 * crash and not a silent host fallback), while derived keys already
 * cached (session objects) and session keys keep working.  Repeating
 * the failure leaks no session.  With the storage back, a new open finds
 * the persistent key by its CKA_ID again and it works. */
static void
test_token_deleted_under_engine(void **state)
{
    char cmd[4096], backup[700];
    static const char pid[] = "deleted-under-engine";
    tu_private_token pt;
    hsm_config cfg;
    hsm_token *tok = NULL;
    hsm_key *pkey, *skey, *found = NULL;
    unsigned sessions = 0;

    (void)state;
    tu_softhsm_private("softhsm-engine-deleted", 0, &pt, &cfg);
    snprintf(backup, sizeof(backup), "%s/backup", pt.dir);
    TU_OK(hsm_token_open(&cfg, &tok));
    pkey = engine_key(tok, true, pid);
    skey = engine_key(tok, false, NULL);
    TU_OK(engine_encrypt(pkey, HSM_USAGE_AP_REQ_AUTH));
    TU_OK(engine_encrypt(skey, HSM_USAGE_AP_REQ_AUTH));
    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s' && rm -rf '%s'", pt.tokens,
             backup, pt.tokens);
    assert_int_equal(system(cmd), 0);

    for (int round = 0; round < 3; round++) {
        /* A usage never derived: needs the vanished base object. */
        TU_ERR(engine_encrypt(pkey, HSM_USAGE_KDC_REP_TICKET),
               HSMSSP_ERR_KEY_GONE);
        assert_non_null(strstr(hsmssp_last_error_detail(),
                               "CKR_OBJECT_HANDLE_INVALID"));
        TU_ERR(hsm_krb_checksum(pkey, HSM_USAGE_APP_DATA_CKSUM,
                                (const uint8_t *)"x", 1, (uint8_t[64]){0},
                                64, &(size_t){0}),
               HSMSSP_ERR_KEY_GONE);
        /* Cached per-usage keys and session keys live in memory. */
        TU_OK(engine_encrypt(pkey, HSM_USAGE_AP_REQ_AUTH));
        TU_OK(engine_encrypt(skey, HSM_USAGE_INITIATOR_SEAL));
        if (round == 0)
            sessions = softhsm_open_sessions(tok);
        else
            assert_int_equal(softhsm_open_sessions(tok), sessions);
    }
    assert_true(sessions >= 1 && sessions <= 3);

    /* Storage back: this process's module still has no object for the
     * key; a fresh open (here, after closing) finds it by CKA_ID. */
    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", backup, pt.tokens);
    assert_int_equal(system(cmd), 0);
    hsm_key_free(skey);
    hsm_key_free(pkey);
    hsm_token_close(tok);
    tok = NULL;
    TU_OK(hsm_token_open(&cfg, &tok));
    TU_OK(hsm_key_find(tok, HSM_ETYPE_AES256_SHA1, (const uint8_t *)pid,
                       strlen(pid), &found));
    TU_OK(engine_encrypt(found, HSM_USAGE_KDC_REP_TICKET));
    TU_OK(hsm_key_destroy(found));
    hsm_token_close(tok);
    tu_softhsm_private_done(&pt);
}

/* ---- objects, counters, tables -------------------------------------- */

static void
test_object_check(void **state)
{
    hsm_token *tok = tu_token_open(TU_SOFTHSM, 0);
    CK_OBJECT_HANDLE a, b;
    bool sens, extr;
    unsigned long vrv;

    (void)state;
    a = make_aes(tok, true);
    TU_OK(hsm_object_check(tok, a, &sens, &extr, &vrv));
    assert_true(sens);
    assert_false(extr);
    assert_int_equal(vrv, CKR_ATTRIBUTE_SENSITIVE);
    b = make_aes(tok, false);
    TU_OK(hsm_object_check(tok, b, &sens, &extr, &vrv));
    assert_false(sens);
    assert_true(extr);
    assert_int_equal(vrv, CKR_OK);
    TU_ERR(hsm_object_check(tok, 0x7ffffff0UL, &sens, &extr, &vrv),
           HSMSSP_ERR_KEY_GONE);
    hsm_token_close(tok);
}

static void *
count_thread(void *arg)
{
    hsm_token *tok = arg;
    uint64_t *n = malloc(sizeof(*n));
    hsm_sess *s = NULL;
    uint64_t before = hsm_token_call_count(tok);

    if (hsm_session_get(tok, &s) == HSMSSP_OK)
        hsm_session_put(tok, s, false);
    *n = hsm_token_call_count(tok) - before;
    return n;
}

static void
test_call_counts(void **state)
{
    hsm_token *tok = tu_token_open(TU_SOFTHSM, 0);
    hsm_sess *s = NULL;
    uint64_t c0, c1;
    bool sens, extr;
    unsigned long vrv;
    CK_OBJECT_HANDLE obj;
    pthread_t th;
    void *res;

    (void)state;
    /* The probe may have left sessions in the pool: borrowing them costs
     * nothing, the next one costs one C_OpenSession. */
    {
        hsm_sess *held[64];
        size_t n = 0;
        for (hsm_sess *p = tok->pool; p != NULL; p = p->next)
            n++;
        assert_true(n < BASE_ARRAY_LEN(held));
        c0 = hsm_token_call_count(tok);
        for (size_t i = 0; i < n; i++)
            TU_OK(hsm_session_get(tok, &held[i]));
        assert_int_equal(hsm_token_call_count(tok), c0);
        TU_OK(hsm_session_get(tok, &s)); /* C_OpenSession */
        assert_int_equal(hsm_token_call_count(tok) - c0, 1);
        for (size_t i = 0; i < n; i++)
            hsm_session_put(tok, held[i], false);
    }
    hsm_session_put(tok, s, false);
    c1 = hsm_token_call_count(tok);
    TU_OK(hsm_session_get(tok, &s)); /* pooled: no call */
    hsm_session_put(tok, s, false);
    assert_int_equal(hsm_token_call_count(tok), c1);
    obj = make_aes(tok, true); /* direct call, not counted */
    c1 = hsm_token_call_count(tok);
    TU_OK(hsm_object_check(tok, obj, &sens, &extr, &vrv));
    assert_int_equal(hsm_token_call_count(tok) - c1, 2);
    /* The counter is per thread: another thread's calls are its own. */
    c1 = hsm_token_call_count(tok);
    assert_int_equal(pthread_create(&th, NULL, count_thread, tok), 0);
    pthread_join(th, &res);
    assert_int_equal(*(uint64_t *)res, 0); /* it found a pooled session */
    free(res);
    assert_int_equal(hsm_token_call_count(tok), c1);
    hsm_token_close(tok);
}

/* The CK_RV table: a round trip for the codes the engine acts on. */
static void
test_rv_table(void **state)
{
    static const struct {
        CK_RV rv;
        hsmssp_err err;
        const char *name;
    } cases[] = {
        {CKR_MECHANISM_INVALID, HSMSSP_ERR_MECHANISM_MISSING,
         "CKR_MECHANISM_INVALID"},
        {CKR_MECHANISM_PARAM_INVALID, HSMSSP_ERR_MECHANISM_MISSING,
         "CKR_MECHANISM_PARAM_INVALID"},
        {CKR_KEY_TYPE_INCONSISTENT, HSMSSP_ERR_KEY_REFUSED,
         "CKR_KEY_TYPE_INCONSISTENT"},
        {CKR_KEY_SIZE_RANGE, HSMSSP_ERR_KEY_REFUSED, "CKR_KEY_SIZE_RANGE"},
        {CKR_OBJECT_HANDLE_INVALID, HSMSSP_ERR_KEY_GONE,
         "CKR_OBJECT_HANDLE_INVALID"},
        {CKR_KEY_HANDLE_INVALID, HSMSSP_ERR_KEY_GONE,
         "CKR_KEY_HANDLE_INVALID"},
        {CKR_SESSION_HANDLE_INVALID, HSMSSP_ERR_SESSION_LOST,
         "CKR_SESSION_HANDLE_INVALID"},
        {CKR_SESSION_CLOSED, HSMSSP_ERR_SESSION_LOST, "CKR_SESSION_CLOSED"},
        {CKR_USER_NOT_LOGGED_IN, HSMSSP_ERR_SESSION_LOST,
         "CKR_USER_NOT_LOGGED_IN"},
        {CKR_DEVICE_REMOVED, HSMSSP_ERR_TOKEN_REMOVED, "CKR_DEVICE_REMOVED"},
        {CKR_TOKEN_NOT_PRESENT, HSMSSP_ERR_TOKEN_REMOVED,
         "CKR_TOKEN_NOT_PRESENT"},
        {CKR_DEVICE_ERROR, HSMSSP_ERR_TOKEN_FAILURE, "CKR_DEVICE_ERROR"},
        {CKR_GENERAL_ERROR, HSMSSP_ERR_TOKEN_FAILURE, "CKR_GENERAL_ERROR"},
        {CKR_FUNCTION_FAILED, HSMSSP_ERR_TOKEN_FAILURE,
         "CKR_FUNCTION_FAILED"},
        {CKR_DEVICE_MEMORY, HSMSSP_ERR_TOKEN_FULL, "CKR_DEVICE_MEMORY"},
        {CKR_HOST_MEMORY, HSMSSP_ERR_NOMEM, "CKR_HOST_MEMORY"},
        {CKR_TOKEN_WRITE_PROTECTED, HSMSSP_ERR_TOKEN_READONLY,
         "CKR_TOKEN_WRITE_PROTECTED"},
        {CKR_ENCRYPTED_DATA_INVALID, HSMSSP_ERR_BAD_CIPHERTEXT,
         "CKR_ENCRYPTED_DATA_INVALID"},
        {CKR_ENCRYPTED_DATA_LEN_RANGE, HSMSSP_ERR_BAD_CIPHERTEXT,
         "CKR_ENCRYPTED_DATA_LEN_RANGE"},
        {CKR_SIGNATURE_INVALID, HSMSSP_ERR_INTEGRITY,
         "CKR_SIGNATURE_INVALID"},
        {CKR_PIN_INCORRECT, HSMSSP_ERR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
        {CKR_PIN_LOCKED, HSMSSP_ERR_PIN_LOCKED, "CKR_PIN_LOCKED"},
        {CKR_PIN_EXPIRED, HSMSSP_ERR_PIN_EXPIRED, "CKR_PIN_EXPIRED"},
        {CKR_PIN_LEN_RANGE, HSMSSP_ERR_PIN_INVALID, "CKR_PIN_LEN_RANGE"},
        {CKR_PIN_INVALID, HSMSSP_ERR_PIN_INVALID, "CKR_PIN_INVALID"},
        {CKR_ATTRIBUTE_SENSITIVE, HSMSSP_ERR_KEY_REFUSED,
         "CKR_ATTRIBUTE_SENSITIVE"},
        {CKR_BUFFER_TOO_SMALL, HSMSSP_ERR_BUFFER_TOO_SMALL,
         "CKR_BUFFER_TOO_SMALL"},
    };
    char want[128];

    (void)state;
    assert_int_equal(hsm_rv(CKR_OK, "x"), HSMSSP_OK);
    for (size_t i = 0; i < BASE_ARRAY_LEN(cases); i++) {
        hsmssp_err e = hsm_rv(cases[i].rv, "C_Test");
        if (e != cases[i].err)
            fail_msg("%s gave %s, expected %s", cases[i].name,
                     hsmssp_err_name(e), hsmssp_err_name(cases[i].err));
        snprintf(want, sizeof(want), "C_Test: %s", cases[i].name);
        assert_non_null(strstr(hsmssp_last_error_detail(), want));
        assert_int_equal(hsmssp_last_error(), cases[i].err);
    }
    /* Unknown and vendor codes: a token failure naming the number. */
    assert_int_equal(hsm_rv(0x7777, NULL), HSMSSP_ERR_TOKEN_FAILURE);
    assert_non_null(strstr(hsmssp_last_error_detail(), "0x00007777"));
    assert_int_equal(hsm_rv(CKR_VENDOR_DEFINED + 5, "C_X"),
                     HSMSSP_ERR_TOKEN_FAILURE);
    assert_non_null(strstr(hsmssp_last_error_detail(), "VENDOR"));

    assert_true(hsm_err_needs_recovery(HSMSSP_ERR_SESSION_LOST));
    assert_true(hsm_err_needs_recovery(HSMSSP_ERR_TOKEN_REMOVED));
    assert_false(hsm_err_needs_recovery(HSMSSP_ERR_TOKEN_FAILURE));
    assert_false(hsm_err_needs_recovery(HSMSSP_ERR_KEY_GONE));
    assert_false(hsm_err_needs_recovery(HSMSSP_OK));
}

static void
test_level_names(void **state)
{
    (void)state;
    assert_string_equal(hsm_level_name(HSM_LEVEL_T), "T");
    assert_string_equal(hsm_level_name(HSM_LEVEL_H_IMPORT), "H(import)");
    assert_string_equal(hsm_level_name(HSM_LEVEL_H_ARRIVAL), "H(arrival)");
    assert_string_equal(hsm_level_name(HSM_LEVEL_H_OP), "H(op)");
    assert_string_equal(hsm_level_name(HSM_LEVEL_NONE), "none");
    assert_string_equal(hsm_level_name((hsm_level)42), "unknown");
}

/* The accessors hand out the probe's results owned by the token. */
static void
test_accessors(void **state)
{
    hsm_token *tok = tu_token_open(TU_SOFTHSM, 0);
    size_t n = 99;
    const hsm_strategy_row *rows = hsm_token_strategies(tok, &n);

    (void)state;
    assert_ptr_equal(rows, tok->rows);
    assert_int_equal(n, tok->n_rows);
    assert_ptr_equal(hsm_token_caps(tok), &tok->caps);
    assert_int_equal(hsm_token_cache_size(tok), 0);
    assert_int_equal(tok->cache.cap, HSM_CACHE_DEFAULT);
    hsm_token_close(tok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_softhsm),
        cmocka_unit_test(test_open_nss),
        cmocka_unit_test(test_nss_bad_init_args),
        cmocka_unit_test(test_open_without_uri),
        cmocka_unit_test(test_uri_module_attrs),
        cmocka_unit_test(test_wrong_pin),
        cmocka_unit_test(test_pin_file_newline),
        cmocka_unit_test(test_pin_file_ok),
        cmocka_unit_test(test_pin_file_perms),
        cmocka_unit_test(test_pin_source_uri),
        cmocka_unit_test(test_pin_callback_file),
        cmocka_unit_test(test_pin_callback_custom_scheme),
        cmocka_unit_test(test_missing_module),
        cmocka_unit_test(test_no_token),
        cmocka_unit_test(test_registered_name),
        cmocka_unit_test(test_pool_threads),
        cmocka_unit_test(test_pool_put_failed),
        cmocka_unit_test(test_recover_close_all),
        cmocka_unit_test(test_recover_borrowed),
        cmocka_unit_test(test_recover_token_deleted),
        cmocka_unit_test(test_token_deleted_under_engine),
        cmocka_unit_test(test_object_check),
        cmocka_unit_test(test_call_counts),
        cmocka_unit_test(test_rv_table),
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_accessors),
    };
    /* NSS softoken keeps some allocations of its C_Initialize (NSPR
     * locks, parsed init arguments) for the life of the process, pointed
     * to from its own globals.  When p11-kit unloads it after the last
     * C_Finalize those pointers vanish and LeakSanitizer reports the
     * blocks, with frames attributed to whatever library later occupies
     * the addresses, so no suppression can name them.  Pinning the module
     * in memory keeps them reachable; every C_Initialize/C_Finalize cycle
     * still runs. */
    (void)dlopen(TU_NSS_MODULE, RTLD_NOW | RTLD_NODELETE);
    /* HSMSSP_TEST_FILTER=pattern runs a subset (when debugging). */
    if (getenv("HSMSSP_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("HSMSSP_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

