/*
 * tests/fuzz/fuzz_msg_tokens.c - libFuzzer target for the per-message
 * tokens of an established Kerberos context: kerb_msg_unwrap() and
 * kerb_msg_verify_mic() (provider/kerberos/kerb_msg.c), and through them
 * the RFC 4757 tokens of kerb_rc4.c, with the keys on NSS softoken.
 *
 * Why: after authentication every DecryptMessage and VerifySignature
 * input comes from the peer.  The RFC 4121 header (flags, EC, RRC,
 * filler, sequence number), the rotation, the split of a token over
 * TOKEN/DATA/sign-only buffers, the RFC 4757 framing and padding, and the
 * receive window are all parsed before and after the integrity check;
 * each must give a status, never a crash, an over-read or a leak.
 *
 * Input: msgctx.h.  The acceptor contexts (one per etype and subkey flag)
 * are built once in LLVMFuzzerInitialize; each input starts from a reset
 * window.  Checked on every input:
 *  - the result is OK or one of BAD_TOKEN, BAD_CIPHERTEXT, INTEGRITY,
 *    DUPLICATE, OUT_OF_SEQUENCE (never a token failure or an internal
 *    error: the engine must refuse bad lengths before the token);
 *  - a token accepted once is refused as DUPLICATE the second time when
 *    the context detects replays (the window moved), and accepted again
 *    when it does not;
 *  - STREAM: on success DATA points inside the STREAM buffer;
 *  - TOKEN + DATA layouts: a failure leaves every buffer as it was (no
 *    plaintext of a refused token reaches the caller), sign-only buffers
 *    are never written, and on success the reported confidentiality
 *    matches the token's Sealed flag / SEAL_ALG;
 *  - VerifySignature never writes any buffer.
 *
 * A peer's token too short for the DATA a caller put before a
 * READONLY_WITH_CHECKSUM buffer is a malformed token (BAD_TOKEN): the
 * first fuzz runs found it refused as an argument error instead, and the
 * seed regress-signonly-range keeps it.
 *
 * Seeds (corpus/fuzz_msg_tokens/) come from msgseed.c: tokens made by an
 * initiator context on the same keys with kerb_msg_wrap/get_mic, in each
 * layout, also with RRC 0 as MIT sends; `fuzz_msg_seedgen --check DIR`
 * (ctest fuzz_msg_seeds) verifies that the genuine ones still verify.
 * Without NSS softoken the target exits 77 (ctest's skip), or 1 when
 * CI=true.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "msgctx.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Acceptor contexts by [etype index][subkey flag]. */
static kerb_ctx *ft_ctx[MT_N_ETYPES][2];

static void
ft_close(void)
{
    for (size_t i = 0; i < MT_N_ETYPES; i++)
        for (size_t s = 0; s < 2; s++) {
            mt_ctx_free(ft_ctx[i][s]);
            ft_ctx[i][s] = NULL;
        }
    mt_close();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *ci = getenv("CI");
    bool in_ci = ci != NULL && strcmp(ci, "true") == 0;
    hsmssp_err ret;

    (void)argc;
    (void)argv;
    ret = mt_open();
    if (ret == HSMSSP_ERR_MODULE_LOAD) {
        fprintf(stderr, "fuzz_msg_tokens: %s%s\n", hsmssp_last_error_detail(),
                in_ci ? "" : ": skip");
        exit(in_ci ? 1 : 77);
    }
    FUZZ_CHECK(ret == HSMSSP_OK, "opening NSS softoken: %s (%s)",
               hsmssp_err_name(ret), hsmssp_last_error_detail());
    for (size_t i = 0; i < MT_N_ETYPES; i++)
        for (size_t s = 0; s < 2; s++)
            ft_ctx[i][s] = mt_ctx_new(i, false, s != 0, false);
    atexit(ft_close);
    return 0;
}

/* Is buffer i as it was (pointer, length and bytes)? */
static bool
untouched(const mt_call *c, size_t i, const uint8_t *p0, size_t len0)
{
    return c->b[i].p == p0 && c->b[i].len == len0 &&
           (len0 == 0 || memcmp(c->b[i].p, c->orig[i], len0) == 0);
}

/* The Sealed flag of the token that starts at t (n bytes), or -1 when it
 * cannot be read. */
static int
sealed_flag(const kerb_ctx *k, const uint8_t *t, size_t n)
{
    size_t hl;

    if (k->etype != HSM_ETYPE_RC4_HMAC)
        return n >= 3 ? (t[2] & 0x02) != 0 : -1;
    /* RFC 4757: framing (0x60, length, the 11-byte OID), then SEAL_ALG
     * at offset 4 of the body: 10 00 when sealed. */
    if (n < 2)
        return -1;
    hl = 2 + (t[1] < 0x80 ? 0 : (t[1] & 0x7fu)) + 11;
    return n >= hl + 5 ? t[hl + 4] == 0x10 : -1;
}

static bool
expected(hsmssp_err r)
{
    return r == HSMSSP_OK || r == HSMSSP_ERR_BAD_TOKEN ||
           r == HSMSSP_ERR_BAD_CIPHERTEXT || r == HSMSSP_ERR_INTEGRITY ||
           r == HSMSSP_ERR_DUPLICATE || r == HSMSSP_ERR_OUT_OF_SEQUENCE;
}

/* One call on a fresh copy of the input; checks the buffer invariants. */
static hsmssp_err
one(kerb_ctx *k, enum mt_mode mode, const uint8_t *data, size_t size)
{
    mt_call c;
    uint8_t *p0[6];
    size_t len0[6];
    bool conf = false;
    hsmssp_err ret;

    mt_layout(&c, data, size);
    for (size_t i = 0; i < c.n; i++) {
        p0[i] = c.b[i].p;
        len0[i] = c.b[i].len;
    }
    ret = mt_run(k, mode, &c, &conf);
    FUZZ_CHECK(expected(ret), "etype %d mode %d: unexpected %s (%s)",
               (int)k->etype, (int)mode, hsmssp_err_name(ret),
               hsmssp_last_error_detail());
    if (mode == MT_MIC) {
        for (size_t i = 0; i < c.n; i++)
            FUZZ_CHECK(untouched(&c, i, p0[i], len0[i]),
                       "VerifySignature wrote buffer %zu", i);
    } else if (mode == MT_STREAM) {
        if (ret == HSMSSP_OK) {
            FUZZ_CHECK(
                c.b[1].len == 0 ||
                    (c.b[1].p >= c.b[0].p && c.b[1].len <= c.b[0].len &&
                     (size_t)(c.b[1].p - c.b[0].p) <= c.b[0].len - c.b[1].len),
                "DATA outside the STREAM buffer");
            FUZZ_CHECK(sealed_flag(k, c.orig[0], len0[0]) == (int)conf,
                       "confidentiality reported %d", (int)conf);
        }
    } else {
        for (size_t i = 0; i < c.n; i++) {
            bool signonly = c.b[i].flags & PROV_BUF_READONLY_WITH_CHECKSUM;

            if (ret != HSMSSP_OK || signonly || c.b[i].type == PROV_BUF_TOKEN)
                FUZZ_CHECK(
                    untouched(&c, i, p0[i], len0[i]) ||
                        (ret == HSMSSP_OK && c.b[i].type == PROV_BUF_TOKEN),
                    "%s left buffer %zu changed", hsmssp_err_name(ret), i);
            /* Output never grows a buffer. */
            FUZZ_CHECK(c.b[i].p == p0[i] && c.b[i].len <= len0[i],
                       "buffer %zu moved or grew", i);
        }
        /* The header is at the start of the TOKEN buffer (when the
         * buffer is long enough to hold the flag). */
        if (ret == HSMSSP_OK && sealed_flag(k, c.orig[0], len0[0]) >= 0)
            FUZZ_CHECK(sealed_flag(k, c.orig[0], len0[0]) == (int)conf,
                       "confidentiality reported %d", (int)conf);
    }
    mt_call_release(&c);
    return ret;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mt_sel s;
    kerb_ctx *k;
    hsmssp_err first, again;

    if (size < MT_HDR)
        return 0;
    s = mt_parse_sel(data[0]);
    k = ft_ctx[s.ei][s.subkey ? 1 : 0];
    mt_ctx_reset(k, s.noseq);
    first = one(k, s.mode, data, size);
    if (first != HSMSSP_OK)
        return 0;
    /* The same token again: a replay with detection, fine without. */
    again = one(k, s.mode, data, size);
    FUZZ_CHECK(s.noseq ? again == HSMSSP_OK : again == HSMSSP_ERR_DUPLICATE,
               "etype %d mode %d: a token accepted twice gave %s",
               (int)k->etype, (int)s.mode, hsmssp_err_name(again));
    return 0;
}
