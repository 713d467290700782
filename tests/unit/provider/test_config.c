/*
 * tests/unit/provider/test_config.c - the configuration file
 * (provider/config.h): defaults, every relation, bounds, strictness
 * (unknown names, repeats, directives), the permission and owner checks,
 * how the file is found, enctype names, and that the token URI (which may
 * carry a PIN) never reaches an error detail or the log.
 *
 * Files are written under the test work directory with the mode each
 * case needs.  The owner cases chown to nobody (65534) and need root;
 * without root they are skipped (cmocka skip), the rest still runs.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/secmem.h"
#include "hsm/hsm.h"
#include "provider/config.h"
#include "testutil.h"

#define NOBODY 65534

/* A PIN that must never show up in a detail or a log line. */
#define SECRET_PIN "Zq7-secret-PIN-4711"

/* ---- helpers ---------------------------------------------------------- */

static char conf_dir[512];

static const char *
dir(void)
{
    if (conf_dir[0] == '\0') {
        snprintf(conf_dir, sizeof(conf_dir), "%s/config-%ld", tu_work_dir(),
                 (long)getpid());
        if (mkdir(conf_dir, 0700) != 0 && errno != EEXIST)
            fail_msg("mkdir %s: %s", conf_dir, strerror(errno));
    }
    return conf_dir;
}

/* Writes content (len bytes) to <dir>/name with mode; returns the path in
 * a static buffer (one per call site is enough: tests copy it when they
 * need two). */
static const char *
write_bytes(const char *name, mode_t mode, const char *content, size_t len)
{
    static char path[1024];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir(), name);
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        fail_msg("create %s: %s", path, strerror(errno));
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

static const char *
write_conf(const char *name, mode_t mode, const char *content)
{
    return write_bytes(name, mode, content, strlen(content));
}

/* Loads content written with mode 0600 and returns the result code; on
 * success *cfg_out (may be NULL to discard) gets the configuration. */
static hsmssp_err
load_text(const char *content, prov_config **cfg_out)
{
    const char *path = write_conf("case.conf", 0600, content);
    prov_config *cfg = NULL;
    hsmssp_err e = prov_config_load(path, false, &cfg);

    if (e != HSMSSP_OK)
        assert_null(cfg);
    if (cfg_out != NULL)
        *cfg_out = cfg;
    else
        prov_config_free(cfg);
    return e;
}

/* Asserts that content fails with HSMSSP_ERR_CONFIG and that the detail
 * contains each of the NULL-terminated strings. */
static void
expect_config_error(const char *content, const char *want1, const char *want2)
{
    hsmssp_err e = load_text(content, NULL);
    const char *d = hsmssp_last_error_detail();

    if (e != HSMSSP_ERR_CONFIG)
        fail_msg("expected HSMSSP_ERR_CONFIG, got %s (%s) for:\n%s",
                 hsmssp_err_name(e), d, content);
    if (want1 != NULL && strstr(d, want1) == NULL)
        fail_msg("detail '%s' does not mention '%s'", d, want1);
    if (want2 != NULL && strstr(d, want2) == NULL)
        fail_msg("detail '%s' does not mention '%s'", d, want2);
}

static void
assert_default_values(const prov_config *c)
{
    assert_null(c->module);
    assert_null(c->token_uri);
    assert_null(c->pin_file);
    assert_null(c->init_args);
    assert_true(c->persistent_keys);
    assert_int_equal(c->host_op_policy, 0);
    assert_int_equal(c->mlock_policy, BASE_MLOCK_BEST_EFFORT);
    assert_int_equal(c->channel_bindings, PROV_CB_ALLOWED);
    assert_int_equal(c->n_permitted_enctypes, 4);
    assert_int_equal(c->permitted_enctypes[0], 18);
    assert_int_equal(c->permitted_enctypes[1], 17);
    assert_int_equal(c->permitted_enctypes[2], 20);
    assert_int_equal(c->permitted_enctypes[3], 19);
    assert_false(c->allow_delegation);
    assert_false(c->ignore_ok_as_delegate);
    assert_int_equal(c->clock_skew, 300);
    assert_string_equal(c->rcache_path, "/var/lib/hsmssp/rcache/DEFAULT");
    assert_int_equal(c->rcache_max_entries, 65536);
    assert_int_equal(c->max_token_size, 65536);
    assert_int_equal(c->max_kvnos_tried, 8);
    assert_int_equal(c->max_der_depth, 16);
    assert_int_equal(c->kdc_timeout_ms, 1000);
    assert_int_equal(c->kdc_attempts, 3);
    assert_int_equal(c->ticket_lifetime, 36000);
    assert_int_equal(c->renew_lifetime, 0);
    assert_null(c->ticket_dir);
    assert_int_equal(c->log_level, HSMSSP_LOG_WARNING);
}

/* ---- defaults and every key ------------------------------------------- */

static void
test_defaults(void **state)
{
    prov_config *c = (prov_config *)1;

    (void)state;
    TU_OK(prov_config_defaults(&c));
    assert_non_null(c);
    assert_null(c->path);
    assert_default_values(c);
    prov_config_free(c);
    prov_config_free(NULL);

    /* A file with empty sections changes nothing. */
    TU_OK(load_text("# nothing set\n[token]\n[policy]\n[kerberos]\n"
                    "[logging]\n",
                    &c));
    assert_non_null(c->path);
    assert_default_values(c);
    prov_config_free(c);
}

static void
test_every_key(void **state)
{
    prov_config *c = NULL;
    const char *path;

    (void)state;
    path = write_conf(
        "full.conf", 0600,
        "; a krb5.conf-style comment\n"
        "# and another\n"
        "[token]\n"
        "    module = /usr/lib/softhsm/libsofthsm2.so\n"
        "    uri = \"pkcs11:token=hsmssp test;pin-value=" SECRET_PIN "\"\n"
        "    pin_file = /etc/hsmssp/pin\n"
        "    init_args = configdir='' flags=noCertDB\n"
        "    persistent_keys = false\n"
        "[policy]\n"
        "    allow_host_op = krb, ntlm\n"
        "    mlock = required\n"
        "    channel_bindings = required\n"
        "    permitted_enctypes = aes128-sha2 rc4-hmac 18\n"
        "    allow_delegation = yes\n"
        "    ignore_ok_as_delegate = on\n"
        "[kerberos]\n"
        "    clock_skew = 120\n"
        "    rcache = /run/hsmssp/rc\n"
        "    rcache_max_entries = 1000\n"
        "    max_token_size = 2048\n"
        "    max_kvnos_tried = 3\n"
        "    max_der_depth = 10\n"
        "    kdc_timeout_ms = 250\n"
        "    kdc_attempts = 5\n"
        "    ticket_lifetime = 7200\n"
        "    renew_lifetime = 86400\n"
        "    ticket_dir = /run/hsmssp/tickets\n"
        "[logging]\n"
        "    level = debug\n");
    TU_OK(prov_config_load(path, false, &c));
    assert_string_equal(c->path, path);
    assert_string_equal(c->module, "/usr/lib/softhsm/libsofthsm2.so");
    /* Quoting as in krb5.conf: the blank inside the quotes stays. */
    assert_string_equal(c->token_uri,
                        "pkcs11:token=hsmssp test;pin-value=" SECRET_PIN);
    assert_string_equal(c->pin_file, "/etc/hsmssp/pin");
    assert_string_equal(c->init_args, "configdir='' flags=noCertDB");
    assert_false(c->persistent_keys);
    assert_int_equal(c->host_op_policy, HSM_POLICY_ALLOW_HOST_OP_KRB |
                                            HSM_POLICY_ALLOW_HOST_OP_NTLM);
    assert_int_equal(c->mlock_policy, BASE_MLOCK_REQUIRED);
    assert_int_equal(c->channel_bindings, PROV_CB_REQUIRED);
    assert_int_equal(c->n_permitted_enctypes, 3);
    assert_int_equal(c->permitted_enctypes[0], 19);
    assert_int_equal(c->permitted_enctypes[1], 23);
    assert_int_equal(c->permitted_enctypes[2], 18);
    assert_true(c->allow_delegation);
    assert_true(c->ignore_ok_as_delegate);
    assert_int_equal(c->clock_skew, 120);
    assert_string_equal(c->rcache_path, "/run/hsmssp/rc");
    assert_int_equal(c->rcache_max_entries, 1000);
    assert_int_equal(c->max_token_size, 2048);
    assert_int_equal(c->max_kvnos_tried, 3);
    assert_int_equal(c->max_der_depth, 10);
    assert_int_equal(c->kdc_timeout_ms, 250);
    assert_int_equal(c->kdc_attempts, 5);
    assert_int_equal(c->ticket_lifetime, 7200);
    assert_int_equal(c->renew_lifetime, 86400);
    assert_string_equal(c->ticket_dir, "/run/hsmssp/tickets");
    assert_int_equal(c->log_level, HSMSSP_LOG_DEBUG);
    prov_config_free(c);
}

/* Each keyword of each enumerated relation maps to its value. */
static void
test_keywords(void **state)
{
    static const struct {
        const char *text;
        size_t off;
        int want;
    } cases[] = {
        {"[policy]\nmlock = best-effort\n",
         offsetof(prov_config, mlock_policy), BASE_MLOCK_BEST_EFFORT},
        {"[policy]\nmlock = REQUIRED\n", offsetof(prov_config, mlock_policy),
         BASE_MLOCK_REQUIRED},
        {"[policy]\nchannel_bindings = never\n",
         offsetof(prov_config, channel_bindings), PROV_CB_NEVER},
        {"[policy]\nchannel_bindings = allowed\n",
         offsetof(prov_config, channel_bindings), PROV_CB_ALLOWED},
        {"[logging]\nlevel = error\n", offsetof(prov_config, log_level),
         HSMSSP_LOG_ERROR},
        {"[logging]\nlevel = warning\n", offsetof(prov_config, log_level),
         HSMSSP_LOG_WARNING},
        {"[logging]\nlevel = info\n", offsetof(prov_config, log_level),
         HSMSSP_LOG_INFO},
        {"[policy]\nallow_host_op = none\n",
         offsetof(prov_config, host_op_policy), 0},
        {"[policy]\nallow_host_op = ntlm\n",
         offsetof(prov_config, host_op_policy),
         (int)HSM_POLICY_ALLOW_HOST_OP_NTLM},
        {"[policy]\nallow_host_op = krb\n",
         offsetof(prov_config, host_op_policy),
         (int)HSM_POLICY_ALLOW_HOST_OP_KRB},
    };
    static const char *const yes[] = {"true", "yes", "y",   "t",
                                      "on",   "1",   "TRUE"};
    static const char *const no[] = {"false", "no", "n", "nil",
                                     "off",   "0",  "No"};
    char text[128];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        prov_config *c = NULL;
        int got;

        TU_OK(load_text(cases[i].text, &c));
        if (cases[i].off == offsetof(prov_config, host_op_policy))
            got = (int)c->host_op_policy;
        else if (cases[i].off == offsetof(prov_config, channel_bindings))
            got = (int)c->channel_bindings;
        else
            got = *(int *)(void *)((char *)c + cases[i].off);
        if (got != cases[i].want)
            fail_msg("'%s' gave %d, expected %d", cases[i].text, got,
                     cases[i].want);
        prov_config_free(c);
    }
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        prov_config *c = NULL;

        snprintf(text, sizeof(text),
                 "[policy]\nallow_delegation = %s\n[token]\n"
                 "persistent_keys = %s\n",
                 yes[i], no[i]);
        TU_OK(load_text(text, &c));
        assert_true(c->allow_delegation);
        assert_false(c->persistent_keys);
        prov_config_free(c);
    }
}

/* ---- bounds and bad values -------------------------------------------- */

static void
test_bounds(void **state)
{
    static const struct {
        const char *name;
        long long min, max;
        size_t off;
        int width; /* 'i' int, 'u' unsigned, 'z' size_t */
    } nums[] = {
        {"clock_skew", 0, 86400, offsetof(prov_config, clock_skew), 'i'},
        {"rcache_max_entries", 64, 16777216,
         offsetof(prov_config, rcache_max_entries), 'z'},
        {"max_token_size", 1024, 1048576,
         offsetof(prov_config, max_token_size), 'z'},
        {"max_kvnos_tried", 1, 64, offsetof(prov_config, max_kvnos_tried),
         'u'},
        {"max_der_depth", 4, 64, offsetof(prov_config, max_der_depth), 'u'},
        {"kdc_timeout_ms", 50, 60000, offsetof(prov_config, kdc_timeout_ms),
         'u'},
        {"kdc_attempts", 1, 10, offsetof(prov_config, kdc_attempts), 'u'},
        {"ticket_lifetime", 300, 31536000,
         offsetof(prov_config, ticket_lifetime), 'i'},
        {"renew_lifetime", 0, 31536000, offsetof(prov_config, renew_lifetime),
         'i'},
    };
    static const char *const not_numbers[] = {
        "-1",           "+5",  "0x100", "64k",
        "12 # comment", "1e3", "",      "99999999999999999999999"};
    char text[256], val[64];

    (void)state;
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        long long ok[2] = {nums[i].min, nums[i].max};

        /* The bounds themselves are accepted and stored. */
        for (int b = 0; b < 2; b++) {
            prov_config *c = NULL;
            const char *field;
            long long got;

            snprintf(text, sizeof(text), "[kerberos]\n  %s = %lld\n",
                     nums[i].name, ok[b]);
            TU_OK(load_text(text, &c));
            field = (const char *)c + nums[i].off;
            got = nums[i].width == 'i' ? *(const int *)(const void *)field
                  : nums[i].width == 'u'
                      ? *(const unsigned *)(const void *)field
                      : (long long)*(const size_t *)(const void *)field;
            assert_int_equal(got, ok[b]);
            prov_config_free(c);
        }
        /* One past each bound is refused, naming relation and value. */
        if (nums[i].min > 0) {
            snprintf(val, sizeof(val), "%lld", nums[i].min - 1);
            snprintf(text, sizeof(text), "[kerberos]\n  %s = %s\n",
                     nums[i].name, val);
            expect_config_error(text, nums[i].name, val);
        }
        snprintf(val, sizeof(val), "%lld", nums[i].max + 1);
        snprintf(text, sizeof(text), "[kerberos]\n  %s = %s\n", nums[i].name,
                 val);
        expect_config_error(text, nums[i].name, val);
        /* Not a plain decimal number. */
        for (size_t j = 0; j < sizeof(not_numbers) / sizeof(not_numbers[0]);
             j++) {
            if (not_numbers[j][0] == '\0') {
                /* An empty quoted value. */
                snprintf(text, sizeof(text), "[kerberos]\n  %s = \"\"\n",
                         nums[i].name);
            } else {
                snprintf(text, sizeof(text), "[kerberos]\n  %s = %s\n",
                         nums[i].name, not_numbers[j]);
            }
            expect_config_error(text, nums[i].name, "integer");
        }
    }
}

static void
test_bad_values(void **state)
{
    static const struct {
        const char *text, *want1, *want2;
    } cases[] = {
        {"[token]\nmodule = lib/softhsm.so\n", "module", "lib/softhsm.so"},
        {"[token]\npin_file = pin.txt\n", "pin_file", "pin.txt"},
        {"[token]\npersistent_keys = maybe\n", "persistent_keys", "maybe"},
        {"[token]\ninit_args = \"\"\n", "init_args", "empty"},
        {"[policy]\nmlock = sometimes\n", "mlock", "sometimes"},
        {"[policy]\nmlock = best_effort\n", "mlock", "best_effort"},
        {"[policy]\nchannel_bindings = perhaps\n", "channel_bindings",
         "perhaps"},
        {"[policy]\nallow_host_op = krb foo\n", "allow_host_op", "krb foo"},
        {"[policy]\nallow_host_op = none krb\n", "allow_host_op", "none"},
        {"[policy]\nallow_delegation = 2\n", "allow_delegation", "2"},
        {"[policy]\nignore_ok_as_delegate = sure\n", "ignore_ok_as_delegate",
         "sure"},
        {"[logging]\nlevel = verbose\n", "level", "verbose"},
        {"[logging]\nlevel = debug # comment\n", "level", "debug # comment"},
        {"[kerberos]\nrcache = relative/rc\n", "rcache", "relative/rc"},
        {"[kerberos]\nticket_dir = tickets\n", "ticket_dir", "tickets"},
        /* A control character in a value is not echoed raw. */
        {"[logging]\nlevel = \"de\\nbug\"\n", "level", "de?bug"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_config_error(cases[i].text, cases[i].want1, cases[i].want2);
    /* The accepted words are listed for the operator. */
    expect_config_error("[policy]\nchannel_bindings = x\n", "never",
                        "required");
}

/* ---- strictness: unknown names, repeats, directives ------------------- */

static void
test_unknown_names(void **state)
{
    (void)state;
    expect_config_error("[tokens]\nmodule = /x.so\n", "unknown section",
                        "[tokens]");
    expect_config_error("[libdefaults]\n", "unknown section", "libdefaults");
    /* A typo in a policy key must not silently keep the default. */
    expect_config_error("[policy]\nallow_hostop = krb\n", "allow_hostop",
                        "[policy]");
    /* A real key in the wrong section is unknown there. */
    expect_config_error("[token]\nclock_skew = 10\n", "clock_skew", "[token]");
    /* Names are case-sensitive, as in krb5.conf. */
    expect_config_error("[Token]\n", "unknown section", "Token");
    expect_config_error("[token]\nModule = /x.so\n", "Module", "[token]");
    /* Subsections are not part of the syntax hsmssp accepts. */
    expect_config_error("[token]\nmodule = {\n  a = b\n}\n", "subsection",
                        "module");
}

static void
test_duplicates(void **state)
{
    (void)state;
    expect_config_error("[kerberos]\nclock_skew = 10\nclock_skew = 20\n",
                        "clock_skew", "2 times");
    /* The same value twice is still a repeat. */
    expect_config_error("[logging]\nlevel = info\nlevel = info\n", "level",
                        "2 times");
    /* A section given twice is merged by the library: a key in both
     * halves is a repeat too. */
    expect_config_error("[policy]\nmlock = required\n[kerberos]\n"
                        "clock_skew = 1\n[policy]\nmlock = best-effort\n",
                        "mlock", "2 times");
    /* A section given twice with different keys is fine. */
    {
        prov_config *c = NULL;
        TU_OK(load_text("[policy]\nmlock = required\n[policy]\n"
                        "allow_delegation = true\n",
                        &c));
        assert_int_equal(c->mlock_policy, BASE_MLOCK_REQUIRED);
        assert_true(c->allow_delegation);
        prov_config_free(c);
    }
}

static void
test_directives_and_syntax(void **state)
{
    char longline[2100 + 64];
    const char *path;
    prov_config *c = NULL;
    char nulconf[] = "[logging]\nlevel = info\n\0junk\n";

    (void)state;
    /* Directives that would escape the checks. */
    path = write_conf("inc.conf", 0600, "[logging]\nlevel = info\n");
    {
        char text[1200];
        snprintf(text, sizeof(text), "include %s\n[token]\n", path);
        expect_config_error(text, "line 1", "include");
        snprintf(text, sizeof(text), "[token]\nincludedir %s\n", dir());
        expect_config_error(text, "line 2", "include");
    }
    expect_config_error("module /usr/lib/evil.so:residual\n[token]\n",
                        "line 1", "module directive");
    /* Text before the first section would be ignored by the library. */
    expect_config_error("allow_host_op = krb\n[policy]\n", "line 1",
                        "before the first");
    expect_config_error("# ok\n  [policy]\nmlock = required\n", "line 2",
                        "before the first");
    /* Lines the library would split, and NUL bytes. */
    memset(longline, 0, sizeof(longline));
    strcpy(longline, "[token]\ninit_args = ");
    memset(longline + strlen(longline), 'a', 2050);
    strcat(longline, "\n");
    expect_config_error(longline, "line 2", "longer than");
    path = write_bytes("nul.conf", 0600, nulconf, sizeof(nulconf) - 1);
    TU_ERR(prov_config_load(path, false, &c), HSMSSP_ERR_CONFIG);
    assert_non_null(strstr(hsmssp_last_error_detail(), "NUL"));
    /* Plain syntax errors reported by the profile library. */
    expect_config_error("[token\n", "case.conf", NULL);
    expect_config_error("[token]\nmodule /x.so\n", "case.conf", NULL);
    expect_config_error("[token]\n}\n", "case.conf", NULL);
    /* A relation at column 1 named "module" inside a section is an
     * ordinary relation, not the directive. */
    TU_OK(load_text("[token]\nmodule = softhsm2\n", &c));
    assert_string_equal(c->module, "softhsm2");
    prov_config_free(c);
}

/* ---- permissions and owner -------------------------------------------- */

static void
test_permissions(void **state)
{
    static const mode_t refused[] = {0644, 0660, 0640, 0604,
                                     0602, 0620, 0606, 0666};
    static const mode_t accepted[] = {0600, 0400, 0700, 0610, 0601};
    prov_config *c = NULL;
    char mode_text[16];

    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const char *path =
            write_conf("perm.conf", refused[i], "[logging]\nlevel = info\n");
        TU_ERR(prov_config_load(path, false, &c), HSMSSP_ERR_FILE_PERMS);
        assert_null(c);
        /* The detail names the path and the mode. */
        snprintf(mode_text, sizeof(mode_text), "%04o", (unsigned)refused[i]);
        assert_non_null(strstr(hsmssp_last_error_detail(), path));
        assert_non_null(strstr(hsmssp_last_error_detail(), mode_text));
    }
    /* Group or other execute alone grants nothing on a file's bytes. */
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        const char *path =
            write_conf("perm.conf", accepted[i], "[logging]\nlevel = info\n");
        TU_OK(prov_config_load(path, false, &c));
        assert_int_equal(c->log_level, HSMSSP_LOG_INFO);
        prov_config_free(c);
        c = NULL;
    }
    /* Not a regular file: a directory, a FIFO (which must not hang). */
    TU_ERR(prov_config_load(dir(), false, &c), HSMSSP_ERR_CONFIG);
    assert_non_null(strstr(hsmssp_last_error_detail(), "regular file"));
    {
        char fifo[1024];
        snprintf(fifo, sizeof(fifo), "%s/fifo.conf", dir());
        unlink(fifo);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        TU_ERR(prov_config_load(fifo, false, &c), HSMSSP_ERR_CONFIG);
        assert_non_null(strstr(hsmssp_last_error_detail(), "regular file"));
        unlink(fifo);
    }
}

static void
test_owner(void **state)
{
    const char *path;
    prov_config *c = NULL;
    char tmpl[] = "/tmp/hsmssp-cfg-XXXXXX", own[1100];
    pid_t pid;
    int status = 0;

    (void)state;
    if (geteuid() != 0) {
        skip(); /* needs chown to another user */
        return;
    }
    /* Owned by root: accepted (root-owned config for any process). */
    path = write_conf("owner.conf", 0600, "[logging]\nlevel = info\n");
    TU_OK(prov_config_load(path, false, &c));
    prov_config_free(c);
    c = NULL;
    /* Owned by another user (nobody) while we run as root: refused. */
    assert_int_equal(chown(path, NOBODY, NOBODY), 0);
    TU_ERR(prov_config_load(path, false, &c), HSMSSP_ERR_FILE_PERMS);
    assert_null(c);
    assert_non_null(strstr(hsmssp_last_error_detail(), path));
    assert_non_null(strstr(hsmssp_last_error_detail(), "0600"));
    assert_non_null(strstr(hsmssp_last_error_detail(), "65534"));

    /* Owned by the effective user: accepted.  In a child that takes
     * nobody's euid; the file sits in a directory nobody can reach. */
    assert_non_null(mkdtemp(tmpl));
    assert_int_equal(chmod(tmpl, 0711), 0);
    snprintf(own, sizeof(own), "%s/own.conf", tmpl);
    {
        int fd = open(own, O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "[logging]\nlevel = error\n", 24), 24);
        assert_int_equal(fchown(fd, NOBODY, NOBODY), 0);
        close(fd);
    }
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prov_config *cc = NULL;
        if (setegid(NOBODY) != 0 || seteuid(NOBODY) != 0)
            _exit(10);
        if (prov_config_load(own, false, &cc) != HSMSSP_OK) {
            fprintf(stderr, "child: %s\n", hsmssp_last_error_detail());
            _exit(11);
        }
        if (cc->log_level != HSMSSP_LOG_ERROR)
            _exit(12);
        prov_config_free(cc);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unlink(own);
    rmdir(tmpl);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- finding the file ------------------------------------------------- */

static void
test_missing_and_env(void **state)
{
    char missing[1100], env_path[1100];
    prov_config *c = (prov_config *)1;
    struct stat st;

    (void)state;
    snprintf(missing, sizeof(missing), "%s/does-not-exist.conf", dir());
    unsetenv(PROV_CONFIG_ENV);

    /* An explicit path must exist, allow_missing or not. */
    TU_ERR(prov_config_load(missing, true, &c), HSMSSP_ERR_CONFIG);
    assert_null(c);
    assert_non_null(strstr(hsmssp_last_error_detail(), missing));
    TU_ERR(prov_config_load("", true, &c), HSMSSP_ERR_INVALID_ARGUMENT);

    /* So must a path named by HSMSSP_CONFIG, and the detail says where
     * the path came from. */
    setenv(PROV_CONFIG_ENV, missing, 1);
    TU_ERR(prov_config_load(NULL, true, &c), HSMSSP_ERR_CONFIG);
    assert_non_null(strstr(hsmssp_last_error_detail(), missing));
    assert_non_null(strstr(hsmssp_last_error_detail(), PROV_CONFIG_ENV));

    /* HSMSSP_CONFIG honoured ... */
    snprintf(env_path, sizeof(env_path), "%s",
             write_conf("env.conf", 0600, "[kerberos]\nclock_skew = 42\n"));
    setenv(PROV_CONFIG_ENV, env_path, 1);
    TU_OK(prov_config_load(NULL, false, &c));
    assert_string_equal(c->path, env_path);
    assert_int_equal(c->clock_skew, 42);
    prov_config_free(c);
    /* ... but an explicit path wins over it. */
    {
        const char *p =
            write_conf("explicit.conf", 0600, "[kerberos]\nclock_skew = 7\n");
        TU_OK(prov_config_load(p, false, &c));
        assert_int_equal(c->clock_skew, 7);
        prov_config_free(c);
    }
    /* An empty HSMSSP_CONFIG counts as unset. */
    setenv(PROV_CONFIG_ENV, "", 1);

    /* The default path: may be missing with allow_missing only.  When
     * this machine has a real default file the case cannot be shown. */
    if (stat(PROV_CONFIG_DEFAULT_PATH, &st) != 0 && errno == ENOENT) {
        TU_OK(prov_config_load(NULL, true, &c));
        assert_null(c->path);
        assert_default_values(c);
        prov_config_free(c);
        TU_ERR(prov_config_load(NULL, false, &c), HSMSSP_ERR_CONFIG);
        assert_null(c);
        assert_non_null(
            strstr(hsmssp_last_error_detail(), PROV_CONFIG_DEFAULT_PATH));
    } else {
        print_message("note: %s exists; default-path cases not run\n",
                      PROV_CONFIG_DEFAULT_PATH);
    }
    unsetenv(PROV_CONFIG_ENV);
}

/* ---- enctypes --------------------------------------------------------- */

static void
test_permitted_enctypes(void **state)
{
    static const struct {
        const char *value;
        int32_t want[8];
        size_t n;
    } cases[] = {
        /* Canonical names, in the order given. */
        {"aes128-cts-hmac-sha1-96 aes256-cts-hmac-sha1-96", {17, 18}, 2},
        /* MIT's aliases, any case. */
        {"aes256-sha1 aes128-sha1 aes256-sha2 aes128-sha2",
         {18, 17, 20, 19},
         4},
        {"AES256-CTS,aes128-cts", {18, 17}, 2},
        {"rc4-hmac", {23}, 1},
        {"arcfour-hmac-md5", {23}, 1},
        {"arcfour-hmac", {23}, 1},
        /* Numbers. */
        {"20, 19 ,23", {20, 19, 23}, 3},
        /* Families; repeats dropped, first position kept. */
        {"aes", {18, 17, 20, 19}, 4},
        {"aes-sha2 aes-sha1", {20, 19, 18, 17}, 4},
        {"DEFAULT rc4", {18, 17, 20, 19, 23}, 5},
        {"rc4 aes256-sha1 23 18 arcfour-hmac", {23, 18}, 2},
    };
    static const char *const bad[] = {
        "des3-cbc-sha1",
        "des-cbc-crc",
        "aes512-cts",
        "16",
        "0",
        "-23",
        "camellia256-cts-cmac",
        "aes256-sha1 bogus",
        "a-name-that-is-far-too-long-to-be-any-enctype-name-at-all-xxxxxx"};
    char text[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        prov_config *c = NULL;

        snprintf(text, sizeof(text), "[policy]\npermitted_enctypes = %s\n",
                 cases[i].value);
        TU_OK(load_text(text, &c));
        if (c->n_permitted_enctypes != cases[i].n)
            fail_msg("'%s': %zu enctypes, expected %zu", cases[i].value,
                     c->n_permitted_enctypes, cases[i].n);
        for (size_t j = 0; j < cases[i].n; j++)
            assert_int_equal(c->permitted_enctypes[j], cases[i].want[j]);
        prov_config_free(c);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "[policy]\npermitted_enctypes = %s\n",
                 bad[i]);
        expect_config_error(text, "permitted_enctypes", NULL);
    }
    expect_config_error("[policy]\npermitted_enctypes = des3-cbc-sha1\n",
                        "'des3-cbc-sha1' is not an enctype", NULL);
    /* A list of separators only names nothing. */
    expect_config_error("[policy]\npermitted_enctypes = \" , \"\n",
                        "permitted_enctypes", "no enctype");
}

/* The name table: order, uniqueness, round trips, agreement with hsm/. */
static void
test_enctype_table(void **state)
{
    static const int32_t hsm_etypes[] = {17, 18, 19, 20, 23};
    const prov_enctype_entry *t;
    size_t n, names = 0;
    const char *all[32];
    char upper[64];

    (void)state;
    t = prov_enctype_table(&n);
    assert_int_equal(n, 5);
    /* Preference order: the default list's order, RC4 last. */
    assert_int_equal(t[0].etype, 18);
    assert_int_equal(t[n - 1].etype, 23);
    for (size_t i = 0; i < n; i++) {
        /* Unique enctypes. */
        for (size_t j = i + 1; j < n; j++)
            assert_int_not_equal(t[i].etype, t[j].etype);
        /* number -> name -> number; the name is hsm/'s name. */
        assert_string_equal(prov_enctype_name(t[i].etype), t[i].name);
        assert_int_equal(prov_enctype_from_name(t[i].name), t[i].etype);
        assert_non_null(hsm_etype_name(t[i].etype));
        assert_string_equal(hsm_etype_name(t[i].etype), t[i].name);
        all[names++] = t[i].name;
        /* alias -> number, and case does not matter. */
        for (size_t a = 0; a < 3 && t[i].aliases[a] != NULL; a++) {
            size_t k;

            assert_int_equal(prov_enctype_from_name(t[i].aliases[a]),
                             t[i].etype);
            for (k = 0; t[i].aliases[a][k] != '\0' && k + 1 < sizeof(upper);
                 k++)
                upper[k] = (char)toupper((unsigned char)t[i].aliases[a][k]);
            upper[k] = '\0';
            assert_int_equal(prov_enctype_from_name(upper), t[i].etype);
            assert_true(names < sizeof(all) / sizeof(all[0]));
            all[names++] = t[i].aliases[a];
        }
    }
    /* Every name and alias is unique, ignoring case. */
    for (size_t i = 0; i < names; i++)
        for (size_t j = i + 1; j < names; j++)
            if (strcasecmp(all[i], all[j]) == 0)
                fail_msg("name '%s' appears twice", all[i]);
    /* Every enctype hsm/ implements has a row. */
    for (size_t i = 0; i < sizeof(hsm_etypes) / sizeof(hsm_etypes[0]); i++)
        assert_non_null(prov_enctype_name(hsm_etypes[i]));
    /* The aliases the brief lists. */
    assert_int_equal(prov_enctype_from_name("aes256-sha1"), 18);
    assert_int_equal(prov_enctype_from_name("aes128-sha1"), 17);
    assert_int_equal(prov_enctype_from_name("aes256-sha2"), 20);
    assert_int_equal(prov_enctype_from_name("aes128-sha2"), 19);
    assert_int_equal(prov_enctype_from_name("rc4-hmac"), 23);
    assert_int_equal(prov_enctype_from_name("arcfour-hmac-md5"), 23);
    /* Unknown: 0, never a valid enctype; no number parsing here. */
    assert_int_equal(prov_enctype_from_name("des3-cbc-sha1"), 0);
    assert_int_equal(prov_enctype_from_name("18"), 0);
    assert_int_equal(prov_enctype_from_name(""), 0);
    assert_int_equal(prov_enctype_from_name(NULL), 0);
    assert_null(prov_enctype_name(16));
    assert_null(prov_enctype_name(0));
}

/* ---- the URI and its PIN stay out of details and logs ----------------- */

static char log_lines[16384];

static void
collect_log(void *ctx, hsmssp_log_level level, const char *subsystem,
            const char *line)
{
    size_t n = strlen(log_lines);

    (void)ctx;
    (void)level;
    snprintf(log_lines + n, sizeof(log_lines) - n, "%s: %s\n", subsystem,
             line);
}

static void
test_secret_not_echoed(void **state)
{
    static const char *const failing[] = {
        /* Bad URI value. */
        "[token]\nuri = http://x/?pin-value=" SECRET_PIN "\n",
        /* URI given twice. */
        "[token]\nuri = pkcs11:token=a;pin-value=" SECRET_PIN "\n"
        "uri = pkcs11:token=b;pin-value=" SECRET_PIN "\n",
        /* Fine URI, a later error. */
        "[token]\nuri = pkcs11:token=a;pin-value=" SECRET_PIN "\n"
        "[kerberos]\nclock_skew = 999999\n",
        "[token]\nuri = pkcs11:token=a;pin-value=" SECRET_PIN "\n"
        "[nonsense]\n",
        /* init_args is treated as secret too. */
        "[token]\ninit_args = \"\"\n",
    };
    prov_config *c = NULL;

    (void)state;
    log_lines[0] = '\0';
    hsmssp_set_log_callback(collect_log, NULL, HSMSSP_LOG_DEBUG);
    for (size_t i = 0; i < sizeof(failing) / sizeof(failing[0]); i++) {
        assert_int_equal(load_text(failing[i], NULL), HSMSSP_ERR_CONFIG);
        if (strstr(hsmssp_last_error_detail(), SECRET_PIN) != NULL ||
            strstr(hsmssp_last_error_detail(), "pin-value") != NULL)
            fail_msg("detail leaks the URI: %s", hsmssp_last_error_detail());
    }
    /* The uri errors still say which relation is wrong. */
    assert_int_equal(load_text(failing[0], NULL), HSMSSP_ERR_CONFIG);
    assert_non_null(strstr(hsmssp_last_error_detail(), "uri"));
    assert_non_null(strstr(hsmssp_last_error_detail(), "pkcs11:"));
    /* A successful load logs (at debug) without the URI. */
    TU_OK(load_text("[token]\nuri = pkcs11:token=a;pin-value=" SECRET_PIN "\n",
                    &c));
    assert_non_null(strstr(c->token_uri, SECRET_PIN));
    prov_config_free(c);
    hsmssp_set_log_callback(NULL, NULL, HSMSSP_LOG_WARNING);
    assert_non_null(strstr(log_lines, "loaded"));
    assert_null(strstr(log_lines, SECRET_PIN));
    assert_null(strstr(log_lines, "pin-value"));
}

/* Many loads in a row through the same descriptor number: the profile
 * library shares parsed trees by file name (/proc/self/fd/N here) while a
 * profile is open; each load must see its own file. */
static void
test_reload_sees_new_file(void **state)
{
    char text[128];

    (void)state;
    for (int i = 0; i < 20; i++) {
        prov_config *c = NULL;

        snprintf(text, sizeof(text), "[kerberos]\nclock_skew = %d\n", 100 + i);
        TU_OK(load_text(text, &c));
        assert_int_equal(c->clock_skew, 100 + i);
        prov_config_free(c);
    }
}

static int
teardown_dir(void **state)
{
    char cmd[1200];

    (void)state;
    if (conf_dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", conf_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", conf_dir);
    }
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_directives_and_syntax),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_owner),
        cmocka_unit_test(test_missing_and_env),
        cmocka_unit_test(test_permitted_enctypes),
        cmocka_unit_test(test_enctype_table),
        cmocka_unit_test(test_secret_not_echoed),
        cmocka_unit_test(test_reload_sees_new_file),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_dir);
}
