/*
 * tests/hsm/test_faults.c - token faults that SoftHSM2 cannot produce on
 * demand, injected by tests/common/faultmod.c wrapped around SoftHSM2,
 * seen through the public token API (hsm/hsm.h).
 *
 * Each case opens its own token through the fault module, so that a fault
 * in one case cannot leak into the next.  Rules are set through the
 * module's control surface (hsmssp_fault_set_rules, reached with dlopen
 * on the already loaded module), through HSMSSP_FAULT_RULES (read when the
 * module is loaded) and through the rules file (re-read at every call);
 * the three are the ways a test can change the module's behaviour while
 * the token is open.
 *
 * "No leak" is measured by the module itself: it tracks the real sessions
 * and the objects created through it, so a token layer that forgets a
 * session or a derived-key object shows up in its counters.  Run under
 * ASan (the -asan build), the same cases also check host memory.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultmod.h"
#include "testutil.h"

#include "hsm/hsm-int.h"

#define ETYPE HSM_ETYPE_AES256_SHA1
#define KEYLEN 32
#define MSG_LEN 100

/* The control surface of the loaded fault module. */
static const char *fault_path;
static void *fault_dl;
static hsmssp_fault_get_stats_fn fault_stats;
static hsmssp_fault_set_rules_fn fault_rules;
static hsmssp_fault_call_count_fn fault_calls;
static char rules_file[1024];
static unsigned key_serial;
static char last_id[64]; /* CKA_ID of the last key import_key() made */

/* What the running case holds, so that a failed assertion (which leaves
 * the case at once) does not leave a token open for the next case:
 * case_teardown releases it. */
static hsm_token *cur_tok;
#define MAX_KEYS 4
static hsm_key *cur_keys[MAX_KEYS];

/* ---- helpers -------------------------------------------------------- */

/* The SoftHSM2 fixture's configuration with the module replaced by the
 * fault module, which gets SoftHSM2 as its target. */
static void
fault_config(hsm_config *cfg)
{
    tu_token_config(TU_SOFTHSM, 0, cfg);
    setenv("HSMSSP_FAULT_TARGET", cfg->module, 1);
    cfg->module = fault_path;
}

static hsm_token *
fault_open(void)
{
    hsm_config cfg;
    hsm_token *tok = NULL;

    fault_config(&cfg);
    TU_OK(hsm_token_open(&cfg, &tok));
    assert_non_null(tok);
    cur_tok = tok;
    return tok;
}

/* The private token of the running case (tu_softhsm_private), removed
 * by case_teardown even when the case fails. */
static tu_private_token cur_private;

/* Opens a fresh SoftHSM2 token of the case's own through the fault
 * module: for cases that count every object on the token, which the
 * shared fixture (written by tests running in parallel) cannot give. */
static hsm_token *
fault_open_private(const char *name, unsigned policy)
{
    hsm_config cfg;
    hsm_token *tok = NULL;

    tu_softhsm_private(name, policy, &cur_private, &cfg);
    setenv("HSMSSP_FAULT_TARGET", cfg.module, 1);
    cfg.module = fault_path;
    TU_OK(hsm_token_open(&cfg, &tok));
    cur_tok = tok;
    return tok;
}

/* Registers a key with the case's fixture; returns it. */
static hsm_key *
hold(hsm_key *key)
{
    for (int i = 0; i < MAX_KEYS; i++) {
        if (cur_keys[i] == NULL) {
            cur_keys[i] = key;
            return key;
        }
    }
    fail_msg("too many keys held");
    return key;
}

/* The key is released by the case itself (hsm_key_free/_destroy). */
static void
unhold(hsm_key *key)
{
    for (int i = 0; i < MAX_KEYS; i++)
        if (cur_keys[i] == key)
            cur_keys[i] = NULL;
}

static void
key_free(hsm_key *key)
{
    unhold(key);
    hsm_key_free(key);
}

/* Destroys a persistent key and checks that it is gone from the token. */
static void
key_destroy(hsm_token *tok, hsm_key *key, const char *id)
{
    hsm_key *again = NULL;

    unhold(key);
    TU_OK(hsm_key_destroy(key));
    TU_ERR(hsm_key_find(tok, ETYPE, (const uint8_t *)id, strlen(id), &again),
           HSMSSP_ERR_KEY_NOT_FOUND);
    assert_null(again);
}

static void
set_rules(const char *rules)
{
    assert_true(fault_rules(rules) >= 0);
}

/* Replaces the rules file atomically (rename), as the module expects. */
static void
write_rules_file(const char *text)
{
    char tmp[1100];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", rules_file);
    f = fopen(tmp, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, rules_file), 0);
}

static struct hsmssp_fault_stats
stats(void)
{
    struct hsmssp_fault_stats st;
    fault_stats(&st);
    return st;
}

/* Imports a fresh random-looking etype 18 key; persistent keys get a
 * unique CKA_ID and label so that runs never collide. */
static hsmssp_err
import_key(hsm_token *tok, bool persistent, hsm_key **key_out)
{
    hsm_key_spec spec;
    base_secret *kb = NULL;
    char id[64];
    hsmssp_err ret;

    memset(&spec, 0, sizeof(spec));
    snprintf(id, sizeof(id), "hsmssp-faults-%ld-%u", (long)getpid(),
             ++key_serial);
    spec.etype = ETYPE;
    /* Service keys (long-term), in session objects unless persistent: their
     * derived keys go through the token's shared cache, which several
     * cases watch. */
    spec.key_class = HSM_KEY_LONG_TERM;
    spec.persistent = persistent;
    if (persistent) {
        spec.id = (const uint8_t *)id;
        spec.id_len = strlen(id);
        spec.label = id;
    }
    TU_OK(base_secret_new(KEYLEN, KEYLEN, &kb));
    tu_fill(kb->data, KEYLEN, 0x5eed0000u + key_serial);
    ret = hsm_key_import(tok, &spec, kb, key_out);
    base_secret_free(kb);
    memcpy(last_id, id, sizeof(last_id));
    if (ret == HSMSSP_OK)
        hold(*key_out);
    return ret;
}

/* Encrypts MSG_LEN bytes and decrypts them again; the plaintext must come
 * back.  Returns the first error without asserting, so callers can check
 * which error a fault gives. */
static hsmssp_err
roundtrip(hsm_key *key, int32_t usage)
{
    uint8_t plain[MSG_LEN], ct[MSG_LEN + 64], back[MSG_LEN + 64];
    size_t ct_len = 0, back_len = 0;
    hsmssp_err ret;

    tu_fill(plain, sizeof(plain), (uint32_t)usage);
    ret = hsm_krb_encrypt(key, usage, plain, sizeof(plain), ct, sizeof(ct),
                          &ct_len);
    if (ret != HSMSSP_OK)
        return ret;
    ret = hsm_krb_decrypt(key, usage, ct, ct_len, back, sizeof(back),
                          &back_len);
    if (ret != HSMSSP_OK)
        return ret;
    assert_int_equal(back_len, sizeof(plain));
    assert_memory_equal(back, plain, sizeof(plain));
    return HSMSSP_OK;
}

/* Makes a checksum and verifies it. */
static hsmssp_err
checksum_roundtrip(hsm_key *key, int32_t usage)
{
    uint8_t msg[MSG_LEN], ck[64];
    size_t ck_len = 0;
    hsmssp_err ret;

    tu_fill(msg, sizeof(msg), 77u + (uint32_t)usage);
    ret = hsm_krb_checksum(key, usage, msg, sizeof(msg), ck, sizeof(ck),
                           &ck_len);
    if (ret != HSMSSP_OK)
        return ret;
    assert_int_equal(ck_len, 12); /* HMAC-SHA1-96 */
    return hsm_krb_checksum_verify(key, usage, msg, sizeof(msg), ck,
                                   ck_len);
}

/* A fault that recovery handles may surface once (the layer reports the
 * lost session or removed token of the failed call) or not at all (the
 * layer retried by itself); the next attempt must succeed. */
static void
assert_recovers(hsmssp_err first, hsmssp_err second)
{
    if (first != HSMSSP_OK && first != HSMSSP_ERR_SESSION_LOST &&
        first != HSMSSP_ERR_TOKEN_REMOVED)
        fail_msg("fault surfaced as %s (%s), expected OK, SESSION_LOST "
                 "or TOKEN_REMOVED", hsmssp_err_name(first),
                 hsmssp_last_error_detail());
    if (second != HSMSSP_OK)
        fail_msg("no recovery: retry gave %s (%s)", hsmssp_err_name(second),
                 hsmssp_last_error_detail());
}

/* Closes the token and checks that the module was finalised and that no
 * real session stayed open. */
static void
close_and_check(hsm_token *tok)
{
    struct hsmssp_fault_stats st;

    cur_tok = NULL;
    hsm_token_close(tok);
    st = stats();
    if (st.open_sessions != 0)
        fail_msg("%lu real sessions still open after hsm_token_close "
                 "(C_OpenSession %lu, C_CloseSession %lu, C_Finalize %lu "
                 "calls since the rules last changed)", st.open_sessions,
                 fault_calls("C_OpenSession"), fault_calls("C_CloseSession"),
                 fault_calls("C_Finalize"));
    assert_int_equal(st.initialized, 0);
}

/* ---- fixtures ------------------------------------------------------- */

static int
group_setup(void **state)
{
    (void)state;
    fault_path = getenv("HSMSSP_FAULT_MODULE");
    if (fault_path == NULL || *fault_path == '\0')
        tu_skip("HSMSSP_FAULT_MODULE not set (run via ctest)");
    /* Loading it here too gives this process the control surface; the
     * token layer's own load finds the same mapping. */
    fault_dl = dlopen(fault_path, RTLD_NOW | RTLD_LOCAL);
    if (fault_dl == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", fault_path, dlerror());
        return -1;
    }
    *(void **)&fault_stats = dlsym(fault_dl, "hsmssp_fault_get_stats");
    *(void **)&fault_rules = dlsym(fault_dl, "hsmssp_fault_set_rules");
    *(void **)&fault_calls = dlsym(fault_dl, "hsmssp_fault_call_count");
    if (fault_stats == NULL || fault_rules == NULL || fault_calls == NULL)
        return -1;
    snprintf(rules_file, sizeof(rules_file), "%s/faults-%ld.rules",
             tu_work_dir(), (long)getpid());
    unlink(rules_file);
    setenv("HSMSSP_FAULT_RULES_FILE", rules_file, 1);
    unsetenv("HSMSSP_FAULT_RULES");
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    unlink(rules_file);
    /* The token layer's p11-kit reference is gone; this one is the last. */
    if (fault_dl != NULL)
        dlclose(fault_dl);
    return 0;
}

/* Every case starts without rules. */
static int
case_setup(void **state)
{
    (void)state;
    unsetenv("HSMSSP_FAULT_RULES");
    unlink(rules_file);
    return fault_rules(NULL) >= 0 ? 0 : -1;
}

/* Releases what a failed case left behind (nothing after a pass). */
static int
case_teardown(void **state)
{
    (void)state;
    unsetenv("HSMSSP_FAULT_RULES");
    unlink(rules_file);
    (void)fault_rules(NULL);
    for (int i = 0; i < MAX_KEYS; i++) {
        hsm_key_free(cur_keys[i]);
        cur_keys[i] = NULL;
    }
    hsm_token_close(cur_tok);
    cur_tok = NULL;
    tu_softhsm_private_done(&cur_private);
    return 0;
}

/* ---- cases ---------------------------------------------------------- */

/* A locked PIN is told apart from a wrong one, and the failed open leaves
 * nothing behind.  The rule comes from the environment, which the module
 * reads when it is loaded. */
static void
test_pin_locked(void **state)
{
    hsm_config cfg;
    hsm_token *tok = (hsm_token *)1;

    (void)state;
    setenv("HSMSSP_FAULT_RULES", "C_Login:*=CKR_PIN_LOCKED", 1);
    fault_config(&cfg);
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_PIN_LOCKED);
    assert_null(tok);
    assert_true(fault_calls("C_Login") >= 1);
    assert_int_equal(stats().open_sessions, 0);
    assert_int_equal(stats().initialized, 0);

    /* The same configuration works once the rule is gone. */
    unsetenv("HSMSSP_FAULT_RULES");
    tok = fault_open();
    close_and_check(tok);
}

/* The wrapper cannot load its target: to the token layer, the module
 * itself cannot be loaded. */
static void
test_missing_target(void **state)
{
    hsm_config cfg;
    hsm_token *tok = (hsm_token *)1;
    char missing[1100];

    (void)state;
    fault_config(&cfg);
    snprintf(missing, sizeof(missing), "%s/no-such-pkcs11-module.so",
             tu_work_dir());
    setenv("HSMSSP_FAULT_TARGET", missing, 1);
    TU_ERR(hsm_token_open(&cfg, &tok), HSMSSP_ERR_MODULE_LOAD);
    assert_null(tok);

    /* Not sticky: the right target loads again. */
    tok = fault_open();
    close_and_check(tok);
}

/* The device goes away under an encrypt.  The module emulates the loss
 * (every real session closed, so session objects and the login are gone):
 * the token layer must reopen and log in again; the persistent key is
 * found again and works, the session key is gone for good and says so. */
static void
test_device_removed_on_encrypt(void **state)
{
    hsm_token *tok;
    hsm_key *pkey = NULL, *skey = NULL;
    char pid[64];
    struct hsmssp_fault_stats st0, st1;
    hsmssp_err first, second;

    (void)state;
    tok = fault_open();
    st0 = stats();
    TU_OK(import_key(tok, true, &pkey));
    memcpy(pid, last_id, sizeof(pid));
    TU_OK(import_key(tok, false, &skey));
    TU_OK(roundtrip(pkey, HSM_USAGE_AP_REQ_AUTH));
    TU_OK(roundtrip(skey, HSM_USAGE_INITIATOR_SEAL));

    set_rules("C_Encrypt:1=CKR_DEVICE_REMOVED");
    first = roundtrip(pkey, HSM_USAGE_AP_REQ_AUTH);
    assert_true(fault_calls("C_Encrypt") >= 1);
    assert_true(stats().emulated_closes >= 1);
    second = roundtrip(pkey, HSM_USAGE_AP_REQ_AUTH);
    assert_recovers(first, second);
    /* A usage never used before needs a fresh derivation after recovery. */
    TU_OK(roundtrip(pkey, HSM_USAGE_KDC_REP_TICKET));
    TU_OK(checksum_roundtrip(pkey, HSM_USAGE_APP_DATA_CKSUM));

    /* The session key's object died with the removed device. */
    TU_ERR(roundtrip(skey, HSM_USAGE_INITIATOR_SEAL), HSMSSP_ERR_KEY_GONE);
    TU_ERR(checksum_roundtrip(skey, HSM_USAGE_INITIATOR_SIGN),
           HSMSSP_ERR_KEY_GONE);

    key_free(skey);
    key_destroy(tok, pkey, pid);
    /* Every session object made through the module is gone again (the
     * persistent key was checked by key_destroy: token objects may be
     * found again under new handles after a recovery, so the module's
     * per-handle count cannot tell). */
    st1 = stats();
    assert_int_equal(st1.session_objects, st0.session_objects);
    close_and_check(tok);
}

/* SESSION_HANDLE_INVALID, again and again, at chosen calls: on a sign
 * (whatever session it ran in) and on a derivation (which runs in the
 * owner session, so the session key dies with it).  The numbers of real
 * sessions and objects must not grow from round to round. */
static void
test_session_invalid_no_leak(void **state)
{
    hsm_token *tok;
    hsm_key *pkey = NULL, *skey = NULL;
    char pid[64];
    struct hsmssp_fault_stats base, warm, round0 = {0}, now;
    size_t cache_warm;
    hsmssp_err first, second;

    (void)state;
    tok = fault_open();
    base = stats();
    TU_OK(import_key(tok, true, &pkey));
    memcpy(pid, last_id, sizeof(pid));
    TU_OK(checksum_roundtrip(pkey, HSM_USAGE_APP_DATA_CKSUM));
    TU_OK(roundtrip(pkey, HSM_USAGE_AP_REQ_AUTH));
    warm = stats();
    cache_warm = hsm_token_cache_size(tok);

    /* Recovery may open one more pooled session than a warm token had
     * (re-finding a key while an operation holds a session), so the
     * first round sets the level; a leak then grows with every round. */
    for (int round = 0; round < 8; round++) {
        set_rules("C_Sign:1=CKR_SESSION_HANDLE_INVALID");
        first = checksum_roundtrip(pkey, HSM_USAGE_APP_DATA_CKSUM);
        second = checksum_roundtrip(pkey, HSM_USAGE_APP_DATA_CKSUM);
        assert_recovers(first, second);
        TU_OK(roundtrip(pkey, HSM_USAGE_AP_REQ_AUTH));
        now = stats();
        if (round == 0) {
            round0 = now;
            if (now.open_sessions > warm.open_sessions + 1)
                fail_msg("%lu real sessions after one recovery, %lu before",
                         now.open_sessions, warm.open_sessions);
        } else if (now.open_sessions > round0.open_sessions ||
                   now.session_objects > round0.session_objects) {
            fail_msg("round %d: %lu sessions, %lu session objects; %lu and "
                     "%lu after the first round", round, now.open_sessions,
                     now.session_objects, round0.open_sessions,
                     round0.session_objects);
        }
        assert_true(now.session_objects <= warm.session_objects);
        assert_true(hsm_token_cache_size(tok) <= cache_warm);
    }
    assert_true(stats().injected >= 8);

    /* Now in the owner session: a derivation for a new usage. */
    TU_OK(import_key(tok, false, &skey));
    TU_OK(roundtrip(skey, HSM_USAGE_ACCEPTOR_SEAL));
    set_rules("C_DeriveKey:1=CKR_SESSION_HANDLE_INVALID");
    first = roundtrip(pkey, HSM_USAGE_TGS_REQ_AUTH);
    second = roundtrip(pkey, HSM_USAGE_TGS_REQ_AUTH);
    assert_recovers(first, second);
    assert_true(stats().emulated_closes >= 1);
    /* The real owner session was closed, and the session key with it. */
    TU_ERR(roundtrip(skey, HSM_USAGE_ACCEPTOR_SEAL), HSMSSP_ERR_KEY_GONE);
    key_free(skey);
    key_destroy(tok, pkey, pid);
    now = stats();
    assert_int_equal(now.session_objects, base.session_objects);
    assert_true(now.open_sessions <= round0.open_sessions);
    close_and_check(tok);
}

/* CKR_GENERAL_ERROR on every call of one function: a clear
 * TOKEN_FAILURE, no half-made state, and the token works once the fault
 * is gone. */
static void
test_general_error_encrypt(void **state)
{
    hsm_token *tok;
    hsm_key *key = NULL;
    uint8_t plain[MSG_LEN], ct[MSG_LEN + 64];
    size_t ct_len = 0;

    (void)state;
    tok = fault_open();
    TU_OK(import_key(tok, false, &key));
    TU_OK(roundtrip(key, HSM_USAGE_AP_REP_ENCPART));

    tu_fill(plain, sizeof(plain), 1);
    set_rules("C_Encrypt:*=CKR_GENERAL_ERROR");
    TU_ERR(hsm_krb_encrypt(key, HSM_USAGE_AP_REP_ENCPART, plain,
                           sizeof(plain), ct, sizeof(ct), &ct_len),
           HSMSSP_ERR_TOKEN_FAILURE);
    assert_string_not_equal(hsmssp_last_error_detail(), "");
    assert_true(stats().injected >= 1);
    /* Twice: the first failure must not leave an operation active. */
    TU_ERR(hsm_krb_encrypt(key, HSM_USAGE_AP_REP_ENCPART, plain,
                           sizeof(plain), ct, sizeof(ct), &ct_len),
           HSMSSP_ERR_TOKEN_FAILURE);

    set_rules(NULL);
    TU_OK(roundtrip(key, HSM_USAGE_AP_REP_ENCPART));
    key_free(key);
    close_and_check(tok);
}

/* C_Sign fails: checksums fail with TOKEN_FAILURE, and so does a decrypt,
 * whose integrity check is a C_Sign; the decrypt must not call the token
 * failure an integrity failure, and must not hand out the plaintext. */
static void
test_general_error_sign(void **state)
{
    hsm_token *tok;
    hsm_key *key = NULL;
    char kid[64];
    uint8_t plain[MSG_LEN], ct[MSG_LEN + 64], out[MSG_LEN + 64], ck[64];
    size_t ct_len = 0, out_len = 0, ck_len = 0;

    (void)state;
    tok = fault_open();
    TU_OK(import_key(tok, true, &key));
    memcpy(kid, last_id, sizeof(kid));
    TU_OK(checksum_roundtrip(key, HSM_USAGE_APP_DATA_CKSUM));
    tu_fill(plain, sizeof(plain), 2);
    TU_OK(hsm_krb_encrypt(key, HSM_USAGE_KRB_CRED_ENCPART, plain,
                          sizeof(plain), ct, sizeof(ct), &ct_len));

    set_rules("C_Sign:*=CKR_GENERAL_ERROR;C_Verify:*=CKR_GENERAL_ERROR");
    TU_ERR(hsm_krb_checksum(key, HSM_USAGE_APP_DATA_CKSUM, plain,
                            sizeof(plain), ck, sizeof(ck), &ck_len),
           HSMSSP_ERR_TOKEN_FAILURE);
    memset(out, 0xa5, sizeof(out));
    TU_ERR(hsm_krb_decrypt(key, HSM_USAGE_KRB_CRED_ENCPART, ct, ct_len, out,
                           sizeof(out), &out_len),
           HSMSSP_ERR_TOKEN_FAILURE);
    assert_memory_not_equal(out, plain, sizeof(plain));

    set_rules(NULL);
    TU_OK(checksum_roundtrip(key, HSM_USAGE_APP_DATA_CKSUM));
    TU_OK(hsm_krb_decrypt(key, HSM_USAGE_KRB_CRED_ENCPART, ct, ct_len, out,
                          sizeof(out), &out_len));
    assert_int_equal(out_len, sizeof(plain));
    assert_memory_equal(out, plain, sizeof(plain));
    key_destroy(tok, key, kid);
    close_and_check(tok);
}

/* C_DeriveKey fails for a usage not derived yet: TOKEN_FAILURE, the cache
 * holds no entry for it, no object is left over; then it derives. */
static void
test_general_error_derive(void **state)
{
    hsm_token *tok;
    hsm_key *key = NULL;
    struct hsmssp_fault_stats before;
    size_t cache_before;

    (void)state;
    tok = fault_open();
    TU_OK(import_key(tok, false, &key));
    TU_OK(roundtrip(key, HSM_USAGE_AS_REP_ENCPART));
    before = stats();
    cache_before = hsm_token_cache_size(tok);

    set_rules("C_DeriveKey:*=CKR_GENERAL_ERROR");
    TU_ERR(roundtrip(key, HSM_USAGE_TGS_REP_ENCPART_SESSKEY),
           HSMSSP_ERR_TOKEN_FAILURE);
    TU_ERR(checksum_roundtrip(key, HSM_USAGE_TGS_REQ_AUTH_CKSUM),
           HSMSSP_ERR_TOKEN_FAILURE);
    assert_true(fault_calls("C_DeriveKey") >= 2);
    assert_int_equal(hsm_token_cache_size(tok), cache_before);
    assert_int_equal(stats().session_objects, before.session_objects);
    /* Usages derived before the fault still work from the cache. */
    TU_OK(roundtrip(key, HSM_USAGE_AS_REP_ENCPART));

    set_rules(NULL);
    TU_OK(roundtrip(key, HSM_USAGE_TGS_REP_ENCPART_SESSKEY));
    TU_OK(checksum_roundtrip(key, HSM_USAGE_TGS_REQ_AUTH_CKSUM));
    assert_true(hsm_token_cache_size(tok) > cache_before);
    key_free(key);
    close_and_check(tok);
}

/* C_CreateObject fails: an import reports TOKEN_FAILURE, returns no key
 * and leaves no object; imports work again afterwards. */
static void
test_general_error_create_object(void **state)
{
    hsm_token *tok;
    hsm_key *key = (hsm_key *)1;
    char kid[64];
    struct hsmssp_fault_stats before, after;

    (void)state;
    tok = fault_open();
    before = stats();
    set_rules("C_CreateObject:*=CKR_GENERAL_ERROR");
    TU_ERR(import_key(tok, true, &key), HSMSSP_ERR_TOKEN_FAILURE);
    assert_null(key);
    key = (hsm_key *)1;
    TU_ERR(import_key(tok, false, &key), HSMSSP_ERR_TOKEN_FAILURE);
    assert_null(key);
    after = stats();
    assert_int_equal(after.session_objects, before.session_objects);
    assert_int_equal(after.token_objects, before.token_objects);

    /* An etype 18 import makes one object (the base key): the partial
     * imports of the host-derivation strategies are
     * test_partial_import_rollback's. */
    set_rules("C_CreateObject:2-=CKR_GENERAL_ERROR");
    key = NULL;
    TU_OK(import_key(tok, true, &key));
    assert_int_equal(fault_calls("C_CreateObject"), 1);
    key_destroy(tok, key, last_id);
    after = stats();
    assert_int_equal(after.token_objects, before.token_objects);

    set_rules(NULL);
    TU_OK(import_key(tok, true, &key));
    memcpy(kid, last_id, sizeof(kid));
    TU_OK(roundtrip(key, HSM_USAGE_AP_REQ_AUTH));
    key_destroy(tok, key, kid);
    close_and_check(tok);
}

/* The device is gone for a while (every call fails, set through the rules
 * file while the token is open): calls fail with TOKEN_REMOVED, without a
 * crash or a busy loop; once the file is cleared the next call works. */
static void
test_removed_for_a_while(void **state)
{
    hsm_token *tok;
    hsm_key *pkey = NULL, *skey = NULL;
    char pid[64];
    unsigned long calls_while_removed;

    (void)state;
    tok = fault_open();
    TU_OK(import_key(tok, true, &pkey));
    memcpy(pid, last_id, sizeof(pid));
    TU_OK(import_key(tok, false, &skey));
    TU_OK(roundtrip(pkey, HSM_USAGE_AP_REQ_AUTH));

    write_rules_file("# the token is unplugged\n*:*=CKR_DEVICE_REMOVED\n");
    for (int i = 0; i < 3; i++) {
        TU_ERR(roundtrip(pkey, HSM_USAGE_AP_REQ_AUTH),
               HSMSSP_ERR_TOKEN_REMOVED);
        TU_ERR(checksum_roundtrip(pkey, HSM_USAGE_APP_DATA_CKSUM),
               HSMSSP_ERR_TOKEN_REMOVED);
    }
    /* Recovery attempts are bounded: six failing calls must not have
     * turned into thousands of PKCS#11 calls. */
    calls_while_removed = stats().calls;
    assert_true(calls_while_removed >= 6);
    assert_true(calls_while_removed < 1000);
    assert_int_equal(stats().open_sessions, 0);

    /* Plugged in again. */
    write_rules_file("# back\n");
    TU_OK(roundtrip(pkey, HSM_USAGE_AP_REQ_AUTH));
    TU_OK(checksum_roundtrip(pkey, HSM_USAGE_APP_DATA_CKSUM));
    TU_ERR(roundtrip(skey, HSM_USAGE_AP_REQ_AUTH), HSMSSP_ERR_KEY_GONE);

    key_free(skey);
    key_destroy(tok, pkey, pid);
    close_and_check(tok);
}


/* ---- partial imports ------------------------------------------------ */

/* Imports an etype 19/20 key under the H(import) strategy of SoftHSM2,
 * which creates the base key and then one object per (usage, role) of
 * the default long-term set: 8 C_CreateObject calls.  Failing the k-th
 * for every k must leave no object on the token (counted over the whole
 * private token, not through the module's bookkeeping) and no key. */
static hsmssp_err
import_etype(hsm_token *tok, int32_t etype, bool persistent, unsigned seed,
             hsm_key **key_out)
{
    hsm_key_spec spec;
    base_secret *kb = NULL;
    char id[64];
    size_t len = hsm_etype_keylen(etype);
    hsmssp_err ret;

    memset(&spec, 0, sizeof(spec));
    snprintf(id, sizeof(id), "partial-%d-%u", (int)etype, seed);
    spec.etype = etype;
    spec.key_class = HSM_KEY_LONG_TERM;
    spec.persistent = persistent;
    spec.id = (const uint8_t *)id;
    spec.id_len = strlen(id);
    spec.label = id;
    TU_OK(base_secret_new(len, len, &kb));
    tu_fill(kb->data, len, seed);
    ret = hsm_key_import(tok, &spec, kb, key_out);
    base_secret_free(kb);
    return ret;
}

static void
test_partial_import_rollback(void **state)
{
    static const int32_t et[] = {HSM_ETYPE_AES128_SHA256,
                                 HSM_ETYPE_AES256_SHA384};
    hsm_token *tok;
    unsigned seed = 1;
    int cases = 0;

    (void)state;
    tok = fault_open_private("partial-import", 0);
    for (size_t e = 0; e < BASE_ARRAY_LEN(et); e++) {
        const hsm_etype_plan *plan = hsm_plan(tok, et[e]);
        assert_non_null(plan);
        assert_int_equal(plan->derive, HSM_DERIVE_HOST_IMPORT);
        for (int persistent = 0; persistent < 2; persistent++) {
            size_t tok0 = tu_count_objects(tok, true);
            size_t ses0 = tu_count_objects(tok, false);
            unsigned long creates;
            hsm_key *key = NULL;

            /* How many objects one import makes. */
            set_rules(NULL);
            TU_OK(import_etype(tok, et[e], persistent, seed++, &key));
            creates = fault_calls("C_CreateObject");
            assert_int_equal(creates, 8); /* base + 7 per-usage keys */
            assert_int_equal(tu_count_objects(tok, persistent == 1),
                             (persistent ? tok0 : ses0) + creates);
            if (persistent)
                TU_OK(hsm_key_destroy(key));
            else
                hsm_key_free(key);
            assert_int_equal(tu_count_objects(tok, true), tok0);
            assert_int_equal(tu_count_objects(tok, false), ses0);

            for (unsigned long k = 1; k <= creates; k++) {
                char rule[64];
                snprintf(rule, sizeof(rule),
                         "C_CreateObject:%lu=CKR_GENERAL_ERROR", k);
                set_rules(rule);
                key = (hsm_key *)1;
                TU_ERR(import_etype(tok, et[e], persistent, seed++, &key),
                       HSMSSP_ERR_TOKEN_FAILURE);
                assert_null(key);
                assert_int_equal(fault_calls("C_CreateObject"), k);
                if (tu_count_objects(tok, true) != tok0 ||
                    tu_count_objects(tok, false) != ses0)
                    fail_msg("etype %d, %s, create %lu failed: %zu token "
                             "and %zu session objects left (%zu, %zu "
                             "before)", (int)et[e],
                             persistent ? "persistent" : "session", k,
                             tu_count_objects(tok, true),
                             tu_count_objects(tok, false), tok0, ses0);
                cases++;
            }
        }
    }
    set_rules(NULL);
    assert_int_equal(cases, 32);
    close_and_check(tok);
    tu_softhsm_private_done(&cur_private);
}

/* ---- recovery through engine calls ---------------------------------- */

/* A fault at an engine call that recovery handles: the operation
 * succeeds (the engine recovered and ran it again) or reports the loss
 * once, then works; the persistent key keeps working, the session key is
 * gone with a clear error, and no session or session object leaks. */
static void
recover_at(const char *rule, const char *function, bool expect_reinit)
{
    hsm_token *tok;
    hsm_key *pkey = NULL, *skey = NULL;
    char pid[64];
    struct hsmssp_fault_stats warm, now;
    hsmssp_err first, second;

    tok = fault_open();
    TU_OK(import_key(tok, true, &pkey));
    memcpy(pid, last_id, sizeof(pid));
    TU_OK(import_key(tok, false, &skey));
    TU_OK(roundtrip(pkey, HSM_USAGE_AP_REQ_AUTH));
    TU_OK(checksum_roundtrip(pkey, HSM_USAGE_APP_DATA_CKSUM));
    TU_OK(roundtrip(skey, HSM_USAGE_AP_REQ_AUTH));
    warm = stats();

    set_rules(rule);
    first = roundtrip(pkey, HSM_USAGE_AP_REQ_AUTH);
    if (fault_calls(function) < 1 || stats().injected <= warm.injected)
        fail_msg("rule '%s' never fired", rule);
    second = roundtrip(pkey, HSM_USAGE_AP_REQ_AUTH);
    assert_recovers(first, second);
    /* Counters restart with the rules: these are the recovery's calls. */
    if (expect_reinit)
        assert_true(fault_calls("C_Initialize") >= 1);
    else
        assert_int_equal(fault_calls("C_Initialize"), 0);
    assert_true(fault_calls("C_Login") >= 1); /* logged in again */
    set_rules(NULL);
    TU_OK(checksum_roundtrip(pkey, HSM_USAGE_APP_DATA_CKSUM));
    TU_OK(roundtrip(pkey, HSM_USAGE_KDC_REP_TICKET));
    /* Recovery closed every session: the session key died with them. */
    TU_ERR(roundtrip(skey, HSM_USAGE_AP_REQ_AUTH), HSMSSP_ERR_KEY_GONE);
    assert_non_null(strstr(hsmssp_last_error_detail(), "lost"));
    /* No handle leak: no more real sessions than a warm token had (one
     * owner, pooled ones), and only the persistent key's derived keys
     * as session objects (the session key's base and cache died). */
    now = stats();
    if (now.open_sessions > warm.open_sessions)
        fail_msg("%lu real sessions after recovery, %lu before",
                 now.open_sessions, warm.open_sessions);
    assert_true(now.session_objects < warm.session_objects);
    assert_int_equal(now.session_objects, hsm_token_cache_size(tok));
    key_free(skey);
    key_destroy(tok, pkey, pid);
    assert_int_equal(stats().session_objects, 0);
    close_and_check(tok);
}

static void
test_user_not_logged_in_on_sign(void **state)
{
    (void)state;
    /* The login vanishes (emulated C_Logout) under the integrity check
     * of an encrypt. */
    recover_at("C_Sign:1=CKR_USER_NOT_LOGGED_IN", "C_Sign", false);
}

static void
test_token_not_present_on_encrypt(void **state)
{
    (void)state;
    recover_at("C_Encrypt:1=CKR_TOKEN_NOT_PRESENT", "C_Encrypt", false);
}

static void
test_not_initialized_on_decrypt(void **state)
{
    (void)state;
    /* Another component finalised the module: recovery must initialise
     * it again (hsm_token_recover), or every call would keep failing. */
    recover_at("C_DecryptUpdate:1=CKR_CRYPTOKI_NOT_INITIALIZED",
               "C_DecryptUpdate", true);
}

/* ---- a token without a mechanism ------------------------------------ */

/* Opens the fault module with mechanisms hidden from the start (the
 * probe must not see them) and checks that the etype's row and an import
 * name the missing mechanism. */
static void
hidden_case(const char *hide, const int32_t *dead, size_t n_dead,
            const char *missing, const int32_t *alive, size_t n_alive)
{
    hsm_token *tok;
    size_t n_rows;
    const hsm_strategy_row *rows;

    setenv("HSMSSP_FAULT_RULES", hide, 1);
    tok = fault_open();
    rows = hsm_token_strategies(tok, &n_rows);
    for (size_t d = 0; d < n_dead; d++) {
        hsm_key *key = (hsm_key *)1;
        hsm_key_spec spec;
        base_secret *kb = NULL;
        bool row_seen = false;

        for (size_t r = 0; r < n_rows; r++) {
            if (rows[r].etype != dead[d])
                continue;
            row_seen = true;
            assert_int_equal(rows[r].level, HSM_LEVEL_NONE);
            assert_false(rows[r].allowed);
            assert_non_null(rows[r].missing);
            assert_string_equal(rows[r].missing, missing);
        }
        assert_true(row_seen);
        memset(&spec, 0, sizeof(spec));
        spec.etype = dead[d];
        TU_OK(base_secret_new(hsm_etype_keylen(dead[d]),
                              hsm_etype_keylen(dead[d]), &kb));
        tu_fill(kb->data, kb->len, 42);
        TU_ERR(hsm_key_import(tok, &spec, kb, &key),
               HSMSSP_ERR_MECHANISM_MISSING);
        base_secret_free(kb);
        assert_null(key);
        assert_non_null(strstr(hsmssp_last_error_detail(), missing));
    }
    for (size_t a = 0; a < n_alive; a++) {
        hsm_key *key = NULL;
        hsm_key_spec spec;
        base_secret *kb = NULL;

        memset(&spec, 0, sizeof(spec));
        spec.etype = alive[a];
        TU_OK(base_secret_new(hsm_etype_keylen(alive[a]),
                              hsm_etype_keylen(alive[a]), &kb));
        tu_fill(kb->data, kb->len, 43);
        TU_OK(hsm_key_import(tok, &spec, kb, &key));
        base_secret_free(kb);
        hold(key);
        TU_OK(roundtrip(key, HSM_USAGE_KDC_REP_TICKET));
        key_free(key);
    }
    unsetenv("HSMSSP_FAULT_RULES");
    close_and_check(tok);
}

static void
test_hidden_cbc_encrypt_data(void **state)
{
    static const int32_t dead[] = {HSM_ETYPE_AES256_SHA1};
    static const int32_t alive[] = {HSM_ETYPE_AES128_SHA1,
                                    HSM_ETYPE_AES128_SHA256};

    (void)state;
    hidden_case("hide:CKM_AES_CBC_ENCRYPT_DATA", dead, 1,
                "CKM_AES_CBC_ENCRYPT_DATA", alive, 2);
}

static void
test_hidden_sha1_hmac(void **state)
{
    static const int32_t dead[] = {HSM_ETYPE_AES128_SHA1,
                                   HSM_ETYPE_AES256_SHA1};
    static const int32_t alive[] = {HSM_ETYPE_AES256_SHA384};

    (void)state;
    hidden_case("hide:CKM_SHA_1_HMAC", dead, 2, "CKM_SHA_1_HMAC", alive, 1);
}

static void
test_hidden_sha256_hmac(void **state)
{
    static const int32_t dead[] = {HSM_ETYPE_AES128_SHA256};
    static const int32_t alive[] = {HSM_ETYPE_AES256_SHA1};

    (void)state;
    hidden_case("hide:CKM_SHA256_HMAC", dead, 1, "CKM_SHA256_HMAC", alive, 1);
}

static void
test_hidden_aes_ecb(void **state)
{
    static const int32_t dead[] = {
        HSM_ETYPE_AES128_SHA1, HSM_ETYPE_AES256_SHA1,
        HSM_ETYPE_AES128_SHA256, HSM_ETYPE_AES256_SHA384};

    (void)state;
    /* The composed CTS needs ECB: every AES etype is gone.  The row names
     * the first missing piece (CKM_AES_ECB for 17/18, the CBC/ECB pair
     * for 19/20 is reported as CKM_AES_CBC).  The second rule hides the
     * same mechanism by number (0x1081), which the rules accept too. */
    setenv("HSMSSP_FAULT_RULES", "hide:CKM_AES_ECB;hide:0x1081", 1);
    {
        hsm_token *tok = fault_open();
        for (size_t d = 0; d < BASE_ARRAY_LEN(dead); d++) {
            hsm_key *key = (hsm_key *)1;
            hsm_key_spec spec;
            base_secret *kb = NULL;
            memset(&spec, 0, sizeof(spec));
            spec.etype = dead[d];
            TU_OK(base_secret_new(hsm_etype_keylen(dead[d]),
                                  hsm_etype_keylen(dead[d]), &kb));
            TU_ERR(hsm_key_import(tok, &spec, kb, &key),
                   HSMSSP_ERR_MECHANISM_MISSING);
            base_secret_free(kb);
            assert_null(key);
            assert_non_null(strstr(hsmssp_last_error_detail(), "CKM_AES_"));
        }
        assert_false(hsm_token_caps(tok)->aes_ecb);
        unsetenv("HSMSSP_FAULT_RULES");
        close_and_check(tok);
    }
}

/* A mechanism that disappears after the probe (firmware update, policy
 * change on a network HSM): the call that needs it fails with
 * MECHANISM_MISSING, not with a crash or a recovery loop. */
static void
test_hidden_after_probe(void **state)
{
    hsm_token *tok;
    hsm_key *key = NULL;

    (void)state;
    tok = fault_open();
    TU_OK(import_key(tok, false, &key));
    TU_OK(roundtrip(key, HSM_USAGE_AP_REQ_AUTH));
    set_rules("hide:CKM_AES_CBC_ENCRYPT_DATA");
    /* A usage never derived needs the hidden derivation. */
    TU_ERR(roundtrip(key, HSM_USAGE_TGS_REQ_AUTH),
           HSMSSP_ERR_MECHANISM_MISSING);
    /* Cached usages still work. */
    TU_OK(roundtrip(key, HSM_USAGE_AP_REQ_AUTH));
    set_rules(NULL);
    TU_OK(roundtrip(key, HSM_USAGE_TGS_REQ_AUTH));
    key_free(key);
    close_and_check(tok);
}

/* ---- a token that returns decrypted blocks late ---------------------- */

/* Encrypts and decrypts len bytes (len <= 200) with key. */
static void
roundtrip_len(hsm_key *key, size_t len)
{
    uint8_t plain[200], ct[300], back[300];
    size_t ct_len = 0, back_len = 0;

    tu_fill(plain, len, 0xc7500000u + (uint32_t)len);
    TU_OK(hsm_krb_encrypt(key, HSM_USAGE_AP_REQ_AUTH, plain, len, ct,
                          sizeof(ct), &ct_len));
    TU_OK(hsm_krb_decrypt(key, HSM_USAGE_AP_REQ_AUTH, ct, ct_len, back,
                          sizeof(back), &back_len));
    assert_int_equal(back_len, len);
    if (len > 0)
        assert_memory_equal(back, plain, len);
}

/* SoftHSM2 decrypts CTS (composed, DESIGN sec. 8) with one CBC operation
 * in two updates; a token that holds each update's last block back gets
 * the ECB block and the CBC body as two operations, with the same
 * plaintext, every length class (one block, two, block-aligned, long). */
static void
test_lagging_cbc_decrypt(void **state)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 31, 32, 33, 100, 200};
    hsm_token *tok;
    hsm_key *key = NULL;

    (void)state;
    tok = fault_open();
    TU_OK(import_key(tok, false, &key));
    roundtrip_len(key, 1); /* derived keys made */

    set_rules("# counters restart");
    roundtrip_len(key, 100);
    /* 116 bytes of ciphertext: Init, Cn, the body, Final; no C_Decrypt. */
    assert_int_equal(fault_calls("C_DecryptInit"), 1);
    assert_int_equal(fault_calls("C_DecryptUpdate"), 2);
    assert_int_equal(fault_calls("C_DecryptFinal"), 1);
    assert_int_equal(fault_calls("C_Decrypt"), 0);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        roundtrip_len(key, lens[i]);

    set_rules("lag:C_DecryptUpdate");
    roundtrip_len(key, 100);
    /* The first update gave nothing: that operation ended, then ECB and
     * CBC apart. */
    assert_int_equal(fault_calls("C_DecryptInit"), 3);
    assert_int_equal(fault_calls("C_DecryptUpdate"), 1);
    assert_int_equal(fault_calls("C_DecryptFinal"), 1);
    assert_int_equal(fault_calls("C_Decrypt"), 2);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        roundtrip_len(key, lens[i]);
    /* No operation was left active on a pooled session. */
    set_rules(NULL);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        roundtrip_len(key, lens[i]);
    key_free(key);
    close_and_check(tok);
}

/* Every case gets rules cleared before it and its leftovers released
 * after it. */
#define FAULT_CASE(t)                                                       \
    cmocka_unit_test_setup_teardown(t, case_setup, case_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        FAULT_CASE(test_pin_locked),
        FAULT_CASE(test_missing_target),
        FAULT_CASE(test_device_removed_on_encrypt),
        FAULT_CASE(test_session_invalid_no_leak),
        FAULT_CASE(test_general_error_encrypt),
        FAULT_CASE(test_general_error_sign),
        FAULT_CASE(test_general_error_derive),
        FAULT_CASE(test_general_error_create_object),
        FAULT_CASE(test_removed_for_a_while),
        FAULT_CASE(test_partial_import_rollback),
        FAULT_CASE(test_user_not_logged_in_on_sign),
        FAULT_CASE(test_token_not_present_on_encrypt),
        FAULT_CASE(test_not_initialized_on_decrypt),
        FAULT_CASE(test_hidden_cbc_encrypt_data),
        FAULT_CASE(test_hidden_sha1_hmac),
        FAULT_CASE(test_hidden_sha256_hmac),
        FAULT_CASE(test_hidden_aes_ecb),
        FAULT_CASE(test_hidden_after_probe),
        FAULT_CASE(test_lagging_cbc_decrypt),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
