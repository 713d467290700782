/*
 * tests/fuzz/fuzz_token_decrypt.c - differential libFuzzer target: the
 * token engine's hsm_krb_decrypt() (hsm/hsm.h) on NSS softoken against
 * the software reference krbsw_decrypt(), on the same input.
 *
 * Why: the engine composes each enctype from token mechanisms plus host
 * steps (the CTS block reorder, HMAC truncation, length checks before the
 * first PKCS#11 call).  A mistake in that composition either accepts what
 * the reference rejects, rejects what it accepts, or crashes on a length
 * the reference handles; comparing the two on every input finds all three.
 * NSS softoken runs every etype (17, 18, 19, 20, 23) at level T (DESIGN
 * sec. 3), so one token covers the whole table at default policy.
 *
 * Input: fuzzcommon.h.  Checked on every input:
 *  - the reference's own invariants (swref.c);
 *  - both give the same result code, and on success the same plaintext;
 *  - on failure the engine's output buffer holds no plaintext;
 *  - in synthesised mode, hsm_krb_encrypt_with_confounder() gives the
 *    same ciphertext as krbsw_encrypt() before the tamper is applied.
 *
 * The token is opened and the five session keys imported once, in
 * LLVMFuzzerInitialize; without NSS softoken the target exits 77 (ctest's
 * skip code), or 1 when CI=true, where a skip is a failure.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzcommon.h"
#include "hsm/hsm.h"
#include "swref.h"

#define NSS_MODULE "/usr/lib/x86_64-linux-gnu/libsoftokn3.so"
#define NSS_TOKEN_URI "pkcs11:token=NSS%20Generic%20Crypto%20Services"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hsm_token *tk_token;
static hsm_key *tk_keys[FUZZ_N_ETYPES];

static void
tk_close(void)
{
    for (size_t i = 0; i < FUZZ_N_ETYPES; i++) {
        hsm_key_free(tk_keys[i]);
        tk_keys[i] = NULL;
    }
    hsm_token_close(tk_token);
    tk_token = NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    hsm_config cfg = {0};
    hsmssp_err ret;
    const char *ci = getenv("CI");

    (void)argc;
    (void)argv;
    if (access(NSS_MODULE, R_OK) != 0) {
        fprintf(stderr, "fuzz_token_decrypt: NSS softoken %s missing%s\n",
                NSS_MODULE, ci && strcmp(ci, "true") == 0 ? "" : ": skip");
        exit(ci && strcmp(ci, "true") == 0 ? 1 : 77);
    }
    fuzz_sw_init();
    cfg.module = NSS_MODULE;
    cfg.token_uri = NSS_TOKEN_URI;
    /* Default policy: every etype must run on the token (level T). */
    cfg.policy = 0;
    ret = hsm_token_open(&cfg, &tk_token);
    FUZZ_CHECK(ret == HSMSSP_OK, "hsm_token_open: %s (%s)",
               hsmssp_err_name(ret), hsmssp_last_error_detail());
    for (size_t i = 0; i < FUZZ_N_ETYPES; i++) {
        /* Session objects of class S: NSS softoken without a database
         * has no persistent storage, and nothing must outlive the run. */
        hsm_key_spec spec = {.etype = fuzz_etype_at(i),
                             .key_class = HSM_KEY_SESSION,
                             .persistent = false};
        ret = hsm_key_import(tk_token, &spec, fuzz_sw_key(i), &tk_keys[i]);
        FUZZ_CHECK(ret == HSMSSP_OK, "hsm_key_import etype %d: %s (%s)",
                   (int)spec.etype, hsmssp_err_name(ret),
                   hsmssp_last_error_detail());
    }
    atexit(tk_close);
    return 0;
}

/* Synthesised mode: the engine's encryption with the fixed confounder must
 * equal the reference's ciphertext (before its tamper, which is then
 * applied to the engine's output the same way). */
static void
check_encrypt(const uint8_t *data, size_t size, size_t ei,
              const uint8_t *sw_ct, size_t sw_len)
{
    size_t plen = size - FUZZ_SYNTH_HDR, cap = 0, n = 0;
    unsigned t = ((unsigned)data[1] << 8) | data[2];
    uint8_t conf[16];
    uint8_t *ct;
    hsmssp_err ret;

    ret = hsm_krb_enc_len(fuzz_etype_at(ei), plen, &cap);
    FUZZ_CHECK(ret == HSMSSP_OK && cap == sw_len,
               "hsm_krb_enc_len %zu, reference %zu", cap, sw_len);
    ct = malloc(cap);
    FUZZ_CHECK(ct != NULL, "out of memory");
    fuzz_confounder(conf);
    ret = hsm_krb_encrypt_with_confounder(
        tk_keys[ei], fuzz_usage_at(fuzz_sel_usage_index(data[0])), conf,
        data + FUZZ_SYNTH_HDR, plen, ct, cap, &n);
    FUZZ_CHECK(ret == HSMSSP_OK, "hsm_krb_encrypt etype %d, %zu bytes: %s "
               "(%s)", (int)fuzz_etype_at(ei), plen, hsmssp_err_name(ret),
               hsmssp_last_error_detail());
    (void)fuzz_tamper(ct, n, t);
    FUZZ_CHECK(n == sw_len && memcmp(ct, sw_ct, n) == 0,
               "etype %d: token and reference ciphertexts differ",
               (int)fuzz_etype_at(ei));
    free(ct);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t ei, ui, len, sw_n = 0, tk_n = 0;
    const uint8_t *ct;
    uint8_t *synth = NULL, *sw_out, *tk_out;
    bool tampered = false;
    hsmssp_err sw, tk;

    if (size == 0)
        return 0;
    ei = fuzz_sel_etype_index(data[0]);
    ui = fuzz_sel_usage_index(data[0]);
    if (fuzz_synth_ciphertext(data, size, &synth, &len, &tampered)) {
        check_encrypt(data, size, ei, synth, len);
        ct = synth;
    } else {
        ct = data + 1;
        len = size - 1;
    }
    sw_out = malloc(len ? len : 1);
    tk_out = malloc(len ? len : 1);
    FUZZ_CHECK(sw_out != NULL && tk_out != NULL, "out of memory");
    sw = fuzz_sw_decrypt_checked(ei, ui, ct, len, sw_out, &sw_n);

    memset(tk_out, FUZZ_FILL, len);
    tk = hsm_krb_decrypt(tk_keys[ei], fuzz_usage_at(ui), ct, len, tk_out,
                         len, &tk_n);
    FUZZ_CHECK(tk == sw, "etype %d usage %d, %zu bytes: token %s (%s), "
               "reference %s", (int)fuzz_etype_at(ei),
               (int)fuzz_usage_at(ui), len, hsmssp_err_name(tk),
               hsmssp_last_error_detail(), hsmssp_err_name(sw));
    if (tk == HSMSSP_OK) {
        FUZZ_CHECK(tk_n == sw_n && memcmp(tk_out, sw_out, tk_n) == 0,
                   "etype %d: token and reference plaintexts differ "
                   "(%zu and %zu bytes)", (int)fuzz_etype_at(ei), tk_n, sw_n);
    } else {
        FUZZ_CHECK(tk_n == 0 && fuzz_no_residue(tk_out, len),
                   "etype %d: the token path left plaintext behind after %s",
                   (int)fuzz_etype_at(ei), hsmssp_err_name(tk));
    }
    if (synth != NULL)
        FUZZ_CHECK(tampered ? sw == HSMSSP_ERR_INTEGRITY : sw == HSMSSP_OK,
                   "etype %d: %s ciphertext gave %s", (int)fuzz_etype_at(ei),
                   tampered ? "a tampered" : "a genuine",
                   hsmssp_err_name(sw));
    free(sw_out);
    free(tk_out);
    free(synth);
    return 0;
}
