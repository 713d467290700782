/*
 * tests/common/testutil.c - see testutil.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "hsm/hsm-int.h"

bool
tu_ci(void)
{
    const char *ci = getenv("CI");
    return ci != NULL && strcmp(ci, "true") == 0;
}

void
tu_skip(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "SKIP: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    if (tu_ci()) {
        fprintf(stderr, "CI=true: a skip is a failure\n");
        exit(1);
    }
    exit(77);
}

void
tu_skip_case(const char *fmt, ...)
{
    char why[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (tu_ci())
        fail_msg("CI=true: a skip is a failure: %s", why);
    print_message("SKIP: %s\n", why);
    skip();
}

const char *
tu_work_dir(void)
{
    const char *w = getenv("HSMSSP_TEST_WORK");
    if (w == NULL || *w == '\0')
        w = "/tmp/hsmssp-test-work";
    mkdir(w, 0700);
    return w;
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t
tu_hex(const char *hex, uint8_t **out)
{
    size_t n = 0, len = strlen(hex);
    uint8_t *b = malloc(len / 2 + 1);
    int hi = -1;

    assert_non_null(b);
    for (size_t i = 0; i < len; i++) {
        int v = hexval((unsigned char)hex[i]);
        if (v < 0)
            continue; /* spaces and separators */
        if (hi < 0) {
            hi = v;
        } else {
            b[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
    *out = b;
    return n;
}

json_t *
tu_vectors(const char *name)
{
    const char *dir = getenv("HSMSSP_VECTORS");
    char path[1024];
    json_error_t jerr;
    json_t *j;

    if (dir == NULL)
        dir = "tests/vectors";
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    j = json_load_file(path, 0, &jerr);
    if (j == NULL)
        fail_msg("cannot load %s: %s (line %d)", path, jerr.text, jerr.line);
    return j;
}

uint8_t *
tu_json_hex(json_t *obj, const char *field, size_t *len_out)
{
    json_t *v = json_object_get(obj, field);
    uint8_t *b;

    *len_out = 0;
    if (v == NULL || !json_is_string(v))
        return NULL;
    *len_out = tu_hex(json_string_value(v), &b);
    return b;
}

long long
tu_json_int(json_t *obj, const char *field, long long dflt)
{
    json_t *v = json_object_get(obj, field);
    if (v == NULL || !json_is_integer(v))
        return dflt;
    return json_integer_value(v);
}

const char *
tu_token_name(tu_token_kind kind)
{
    return kind == TU_SOFTHSM ? "SoftHSM2" : "NSS softoken";
}

/* The process's own SoftHSM2 token: made on first use, removed at exit
 * by the process that made it (fork children leave it alone). */
static char proc_dir[600];
static pid_t proc_owner;

static void
proc_token_cleanup(void)
{
    char cmd[700];

    if (proc_dir[0] == '\0' || getpid() != proc_owner)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", proc_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", proc_dir);
    proc_dir[0] = '\0';
}

/* Writes a softhsm2.conf for dir/tokens and initialises the test token
 * there with softhsm2-util; false when that fails. */
static bool
make_softhsm_token(const char *dir)
{
    char cmd[2048], path[700];
    FILE *f;

    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s/tokens'", dir,
             dir);
    if (system(cmd) != 0)
        return false;
    snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return false;
    fprintf(f,
            "directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
            "log.level = ERROR\nslots.removable = false\n",
            dir);
    if (fclose(f) != 0)
        return false;
    snprintf(path, sizeof(path), "%s/pin", dir);
    f = fopen(path, "w");
    if (f == NULL || fputs(TU_SOFTHSM_PIN, f) < 0 || fclose(f) != 0 ||
        chmod(path, 0600) != 0)
        return false;
    snprintf(cmd, sizeof(cmd),
             "SOFTHSM2_CONF='%s/softhsm2.conf' softhsm2-util --init-token "
             "--free --label '%s' --so-pin 123456 --pin '%s' >/dev/null",
             dir, TU_SOFTHSM_TOKEN, TU_SOFTHSM_PIN);
    return system(cmd) == 0;
}

const char *
tu_softhsm_dir(void)
{
    if (proc_dir[0] == '\0') {
        char dir[600];
        snprintf(dir, sizeof(dir), "%s/softhsm-proc.%ld", tu_work_dir(),
                 (long)getpid());
        if (!make_softhsm_token(dir))
            tu_skip("softhsm2-util could not make a token in %s", dir);
        memcpy(proc_dir, dir, sizeof(proc_dir));
        proc_owner = getpid();
        atexit(proc_token_cleanup);
    }
    return proc_dir;
}

void
tu_token_config(tu_token_kind kind, unsigned policy, hsm_config *cfg)
{
    static char conf[1024], uri[256];

    memset(cfg, 0, sizeof(*cfg));
    cfg->policy = policy;
    if (kind == TU_SOFTHSM) {
        if (access(TU_SOFTHSM_MODULE, R_OK) != 0)
            tu_skip("SoftHSM2 module %s missing", TU_SOFTHSM_MODULE);
        /* A token of this process's own, not one shared by every test:
         * SoftHSM2 keeps a token in files that each process reads and
         * rewrites without coordination, and tests running in parallel
         * (ctest -j) made each other's logins and token-info reads fail
         * (CKR_USER_PIN_NOT_INITIALIZED, CKR_GENERAL_ERROR) while one of
         * them created or destroyed persistent objects. */
        snprintf(conf, sizeof(conf), "%s/softhsm2.conf", tu_softhsm_dir());
        setenv("SOFTHSM2_CONF", conf, 1);
        snprintf(uri, sizeof(uri), "pkcs11:token=%s?pin-value=%s",
                 TU_SOFTHSM_TOKEN, TU_SOFTHSM_PIN);
        cfg->module = TU_SOFTHSM_MODULE;
        cfg->token_uri = uri;
    } else {
        if (access(TU_NSS_MODULE, R_OK) != 0)
            tu_skip("NSS softoken %s missing", TU_NSS_MODULE);
        cfg->module = TU_NSS_MODULE;
        cfg->token_uri = TU_NSS_TOKEN_URI;
    }
}

hsm_token *
tu_token_open(tu_token_kind kind, unsigned policy)
{
    hsm_config cfg;
    hsm_token *tok = NULL;

    tu_token_config(kind, policy, &cfg);
    TU_OK(hsm_token_open(&cfg, &tok));
    return tok;
}

void
tu_softhsm_private(const char *name, unsigned policy, tu_private_token *pt,
                   hsm_config *cfg)
{
    char cmd[4096];
    const char *cur;
    FILE *f;

    memset(pt, 0, sizeof(*pt));
    tu_token_config(TU_SOFTHSM, policy, cfg); /* skips when absent */
    cur = getenv("SOFTHSM2_CONF");
    assert_non_null(cur);
    /* Copied: the setenv below may free the string getenv returned. */
    snprintf(pt->fixture_conf, sizeof(pt->fixture_conf), "%s", cur);
    snprintf(pt->dir, sizeof(pt->dir), "%s/%s.%ld", tu_work_dir(), name,
             (long)getpid());
    snprintf(pt->tokens, sizeof(pt->tokens), "%s/tokens", pt->dir);
    snprintf(pt->conf, sizeof(pt->conf), "%s/softhsm2.conf", pt->dir);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", pt->dir,
             pt->tokens);
    assert_int_equal(system(cmd), 0);
    f = fopen(pt->conf, "w");
    assert_non_null(f);
    fprintf(f,
            "directories.tokendir = %s\nobjectstore.backend = file\n"
            "log.level = ERROR\nslots.removable = false\n",
            pt->tokens);
    assert_int_equal(fclose(f), 0);
    setenv("SOFTHSM2_CONF", pt->conf, 1);
    snprintf(cmd, sizeof(cmd),
             "softhsm2-util --init-token --free --label '%s' --so-pin "
             "123456 --pin '%s' >/dev/null",
             TU_SOFTHSM_TOKEN, TU_SOFTHSM_PIN);
    if (system(cmd) != 0)
        fail_msg("softhsm2-util could not make a token in %s", pt->tokens);
}

void
tu_softhsm_private_done(tu_private_token *pt)
{
    char cmd[1024];

    if (pt->dir[0] == '\0')
        return;
    setenv("SOFTHSM2_CONF", pt->fixture_conf, 1);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pt->dir);
    if (system(cmd) != 0)
        print_message("could not remove %s\n", pt->dir);
    pt->dir[0] = '\0';
}

void
tu_fill(uint8_t *buf, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

size_t
tu_count_objects(hsm_token *tok, bool token)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_BBOOL t = token ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE a[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_TOKEN, &t, sizeof(t)},
    };
    CK_OBJECT_HANDLE objs[64];
    CK_ULONG got = 0;
    hsm_sess *s = NULL;
    size_t n = 0;
    CK_RV rv;

    TU_OK(hsm_session_get(tok, &s));
    rv = tok->fl->C_FindObjectsInit(s->h, a, 2);
    assert_int_equal(rv, CKR_OK);
    do {
        rv = tok->fl->C_FindObjects(s->h, objs, 64, &got);
        assert_int_equal(rv, CKR_OK);
        n += got;
    } while (got > 0);
    assert_int_equal(tok->fl->C_FindObjectsFinal(s->h), CKR_OK);
    hsm_session_put(tok, s, false);
    return n;
}
