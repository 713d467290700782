/*
 * tests/fuzz/msgseed.c - the seed corpus of fuzz_msg_tokens, and its
 * check.
 *
 *   fuzz_msg_seedgen OUTDIR        writes the seeds (make-kerb-seeds.sh)
 *   fuzz_msg_seedgen --check DIR   replays every seed in a fresh acceptor
 *                                  context: "ok-*" must verify, "bad-R-*"
 *                                  must fail with reason R (ctest
 *                                  fuzz_msg_seeds, label hsm)
 *
 * Tokens are made by an initiator context on the same fixed key as the
 * fuzz target's acceptor (msgctx.h) with the provider's own sending code
 * (kerb_msg_wrap / kerb_msg_get_mic), whose output MIT's gss_unwrap and
 * gss_verify_mic accept (tests/kdc/test_accept.c): Wrap tokens with and
 * without confidentiality in the TOKEN + DATA and STREAM layouts, the
 * same tokens re-rotated to RRC 0 as MIT sends them, MIC tokens, tokens
 * with a sign-only buffer, RFC 4757 tokens for etype 23, and a few that
 * must fail (tampered, reflected, out of sequence, wrong split, wrong
 * subkey flag).  The confounders are random, so the output differs from
 * run to run; the check keeps the committed files honest.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "msgctx.h"

static const char *ms_dir;
static unsigned ms_count;

/* Writes selector || a || b || c || body to OUTDIR/name. */
static void
put(const char *name, uint8_t sel, size_t a, size_t b, size_t c,
    const uint8_t *body, size_t len)
{
    uint8_t hdr[MT_HDR] = {sel,        (uint8_t)(a >> 8),
                           (uint8_t)a, (uint8_t)(b >> 8),
                           (uint8_t)b, (uint8_t)c};
    char path[4096];
    FILE *f;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", ms_dir, name) >=
        sizeof(path)) {
        fprintf(stderr, "msgseed: path too long\n");
        exit(1);
    }
    f = fopen(path, "wb");
    if (f == NULL || fwrite(hdr, 1, MT_HDR, f) != MT_HDR ||
        (len > 0 && fwrite(body, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "msgseed: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    ms_count++;
}

static void
must(hsmssp_err ret, const char *what)
{
    if (ret != HSMSSP_OK) {
        fprintf(stderr, "msgseed: %s: %s (%s)\n", what, hsmssp_err_name(ret),
                hsmssp_last_error_detail());
        exit(1);
    }
}

static void
message(uint8_t *p, size_t len, size_t salt)
{
    static const char text[] = "hsmssp per-message seed, RFC 4121 ";

    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)text[(i + salt) % (sizeof(text) - 1)];
}

/* A made token: TOKEN || DATA pieces || PADDING, concatenated. */
typedef struct token {
    uint8_t buf[2048];
    size_t len;
    size_t tok_len; /* bytes of the TOKEN buffer */
    size_t pad_len;
} token;

/* Wraps (conf or not) len message bytes; split_at > 0 puts a sign-only
 * buffer of 5 bytes after the first split_at message bytes. */
static void
wrap(kerb_ctx *c, bool conf, size_t len, size_t split_at, token *t)
{
    uint32_t maxsig = 0, trailer = 0, block = 0;
    uint8_t tok[128], msg[512], pad[16];
    prov_buf b[5];
    size_t n = 0;

    kerb_msg_sizes(c, &maxsig, &trailer, &block);
    message(msg, len, len);
    b[n++] = (prov_buf){PROV_BUF_TOKEN, 0, tok, trailer};
    if (split_at > 0) {
        b[n++] = (prov_buf){PROV_BUF_DATA, 0, msg, split_at};
        b[n++] = (prov_buf){PROV_BUF_DATA, PROV_BUF_READONLY_WITH_CHECKSUM,
                            msg + split_at, 5};
        b[n++] = (prov_buf){PROV_BUF_DATA, 0, msg + split_at + 5,
                            len - split_at - 5};
    } else {
        b[n++] = (prov_buf){PROV_BUF_DATA, 0, msg, len};
    }
    b[n++] = (prov_buf){PROV_BUF_PADDING, 0, pad, block};
    must(kerb_msg_wrap(c, conf, b, n), "kerb_msg_wrap");
    t->len = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i].len > 0)
            memcpy(t->buf + t->len, b[i].p, b[i].len);
        t->len += b[i].len;
    }
    t->tok_len = b[0].len;
    t->pad_len = b[n - 1].len;
}

static void
mic(kerb_ctx *c, size_t len, token *t)
{
    uint32_t maxsig = 0, trailer = 0, block = 0;
    uint8_t msg[512];
    prov_buf b[2];

    kerb_msg_sizes(c, &maxsig, &trailer, &block);
    message(msg, len, len + 7);
    b[0] = (prov_buf){PROV_BUF_DATA, 0, msg, len};
    b[1] = (prov_buf){PROV_BUF_TOKEN, 0, t->buf, maxsig};
    must(kerb_msg_get_mic(c, b, 2), "kerb_msg_get_mic");
    t->tok_len = b[1].len;
    memcpy(t->buf + t->tok_len, msg, len);
    t->len = t->tok_len + len;
    t->pad_len = 0;
}

/* The same Wrap token with RRC 0, as MIT sends it: rotate the body left
 * by the token's RRC and clear the field (RFC 4121 sec. 4.2.5). */
static void
rrc0(const token *t, token *out)
{
    size_t rrc = (size_t)t->buf[6] << 8 | t->buf[7], blen = t->len - 16;

    *out = *t;
    out->buf[6] = out->buf[7] = 0;
    for (size_t i = 0; i < blen; i++)
        out->buf[16 + i] = t->buf[16 + (i + rrc) % blen];
}

static void
etype_seeds(size_t ei, bool subkey, const size_t *lens, size_t n_lens)
{
    int32_t et = mt_etype_at(ei);
    bool rc4 = et == HSM_ETYPE_RC4_HMAC;
    const char *sk = subkey ? "-sub" : "";
    kerb_ctx *c = mt_ctx_new(ei, true, subkey, false);
    token t, r;
    char name[128];

    for (int conf = 1; conf >= 0; conf--) {
        const char *cn = conf ? "conf" : "integ";

        for (size_t i = 0; i < n_lens; i++) {
            size_t len = lens[i];

            mt_ctx_reset(c, false);
            wrap(c, conf, len, 0, &t);
            snprintf(name, sizeof(name), "ok-e%d%s-%s-%zu-token-data", (int)et,
                     sk, cn, len);
            put(name, mt_selector(ei, MT_TOKEN_DATA, subkey, false, 0),
                t.tok_len, 0, 0, t.buf, t.len);
            snprintf(name, sizeof(name), "ok-e%d%s-%s-%zu-stream", (int)et, sk,
                     cn, len);
            put(name, mt_selector(ei, MT_STREAM, subkey, false, 0), 0, 0, 0,
                t.buf, t.len);
            if (rc4) {
                /* Windows' layout: the padding byte in its own buffer. */
                snprintf(name, sizeof(name), "ok-e%d-%s-%zu-padding", (int)et,
                         cn, len);
                put(name, mt_selector(ei, MT_PIECES, false, false, 1),
                    t.tok_len, len, 0, t.buf, t.len);
            } else {
                rrc0(&t, &r);
                snprintf(name, sizeof(name), "ok-e%d%s-%s-%zu-rrc0", (int)et,
                         sk, cn, len);
                put(name, mt_selector(ei, MT_STREAM, subkey, false, 0), 0, 0,
                    0, r.buf, r.len);
            }
        }
        if (!rc4 && !subkey) {
            /* DATA (10) + sign-only (5) + DATA (23). */
            mt_ctx_reset(c, false);
            wrap(c, conf, 38, 10, &t);
            snprintf(name, sizeof(name), "ok-e%d-%s-signonly", (int)et, cn);
            put(name, mt_selector(ei, MT_PIECES, false, false, 0), t.tok_len,
                10, 5, t.buf, t.len);
        }
    }
    for (size_t i = 0; i < n_lens; i++) {
        mt_ctx_reset(c, false);
        mic(c, lens[i], &t);
        snprintf(name, sizeof(name), "ok-e%d%s-mic-%zu", (int)et, sk, lens[i]);
        put(name, mt_selector(ei, MT_MIC, subkey, false, 0), t.tok_len, 0, 0,
            t.buf, t.len);
    }
    mt_ctx_free(c);
}

/* Tokens that must fail, named after the reason. */
static void
bad_seeds(size_t ei)
{
    int32_t et = mt_etype_at(ei);
    kerb_ctx *c = mt_ctx_new(ei, true, false, false);
    kerb_ctx *acc = mt_ctx_new(ei, false, false, false);
    kerb_ctx *sub = mt_ctx_new(ei, true, true, false);
    token t;
    char name[128];

    wrap(c, true, 33, 0, &t);
    t.buf[t.len - 1 - t.pad_len] ^= 0x01;
    snprintf(name, sizeof(name), "bad-integrity-e%d-tampered", (int)et);
    put(name, mt_selector(ei, MT_STREAM, false, false, 0), 0, 0, 0, t.buf,
        t.len);
    /* The second token of the context: a gap before it. */
    wrap(c, true, 33, 0, &t);
    snprintf(name, sizeof(name), "bad-seq-e%d-gap", (int)et);
    put(name, mt_selector(ei, MT_STREAM, false, false, 0), 0, 0, 0, t.buf,
        t.len);
    /* Without sequence detection the gap is fine. */
    snprintf(name, sizeof(name), "ok-e%d-noseq-gap", (int)et);
    put(name, mt_selector(ei, MT_STREAM, false, true, 0), 0, 0, 0, t.buf,
        t.len);
    if (et != HSM_ETYPE_RC4_HMAC) {
        /* Sent by the acceptor: a reflection of our own token. */
        wrap(acc, true, 33, 0, &t);
        snprintf(name, sizeof(name), "bad-token-e%d-reflected", (int)et);
        put(name, mt_selector(ei, MT_STREAM, false, false, 0), 0, 0, 0, t.buf,
            t.len);
        /* Under the acceptor subkey, given to a context without one. */
        wrap(sub, false, 33, 0, &t);
        snprintf(name, sizeof(name), "bad-token-e%d-subkey-flag", (int)et);
        put(name, mt_selector(ei, MT_STREAM, false, false, 0), 0, 0, 0, t.buf,
            t.len);
        /* TOKEN one byte short: DATA does not match the message. */
        mt_ctx_reset(c, false);
        wrap(c, true, 33, 0, &t);
        snprintf(name, sizeof(name), "bad-token-e%d-split", (int)et);
        put(name, mt_selector(ei, MT_TOKEN_DATA, false, false, 0),
            t.tok_len - 1, 0, 0, t.buf, t.len);
    }
    mt_ctx_free(c);
    mt_ctx_free(acc);
    mt_ctx_free(sub);
}

static int
generate(const char *dir)
{
    static const size_t lens18[] = {0, 1, 33}, lens[] = {0, 33}, one[] = {33};

    ms_dir = dir;
    etype_seeds(0, false, lens18, BASE_ARRAY_LEN(lens18));
    etype_seeds(0, true, one, BASE_ARRAY_LEN(one));
    etype_seeds(1, false, one, BASE_ARRAY_LEN(one));
    etype_seeds(2, false, one, BASE_ARRAY_LEN(one));
    etype_seeds(3, false, lens, BASE_ARRAY_LEN(lens));
    bad_seeds(0);
    bad_seeds(3);
    printf("msgseed: %u seeds in %s\n", ms_count, dir);
    return 0;
}

/* The result a seed's name asks for: OK for "ok-", the reason's code for
 * "bad-REASON-". */
static bool
wanted(const char *name, hsmssp_err ret)
{
    if (strncmp(name, "ok-", 3) == 0)
        return ret == HSMSSP_OK;
    if (strncmp(name, "bad-integrity-", 14) == 0)
        return ret == HSMSSP_ERR_INTEGRITY;
    if (strncmp(name, "bad-token-", 10) == 0)
        return ret == HSMSSP_ERR_BAD_TOKEN;
    if (strncmp(name, "bad-seq-", 8) == 0)
        return ret == HSMSSP_ERR_OUT_OF_SEQUENCE;
    return true; /* other seeds (fuzzer finds) may do anything */
}

static int
check_one(const char *dir, const char *name, unsigned *n_ok)
{
    char path[4096];
    uint8_t buf[4096];
    size_t len;
    FILE *f;
    mt_sel s;
    mt_call call;
    kerb_ctx *k;
    bool conf = false;
    hsmssp_err ret;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "msgseed: %s: %s\n", path, strerror(errno));
        return 1;
    }
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (len < MT_HDR)
        return 0;
    s = mt_parse_sel(buf[0]);
    k = mt_ctx_new(s.ei, false, s.subkey, s.noseq);
    mt_layout(&call, buf, len);
    ret = mt_run(k, s.mode, &call, &conf);
    mt_call_release(&call);
    mt_ctx_free(k);
    if (!wanted(name, ret)) {
        fprintf(stderr, "msgseed: %s gave %s (%s)\n", name,
                hsmssp_err_name(ret), hsmssp_last_error_detail());
        return 1;
    }
    if (ret == HSMSSP_OK)
        (*n_ok)++;
    return 0;
}

static int
visible(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

static int
check(const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, visible, alphasort), failed = 0;
    unsigned n_ok = 0, n_genuine = 0;

    if (n < 0) {
        fprintf(stderr, "msgseed: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (int i = 0; i < n; i++) {
        if (strncmp(names[i]->d_name, "ok-", 3) == 0)
            n_genuine++;
        failed |= check_one(dir, names[i]->d_name, &n_ok);
        free(names[i]);
    }
    free(names);
    printf("msgseed: %d seeds, %u verify (%u genuine)%s\n", n, n_ok, n_genuine,
           failed ? ", FAILURES" : "");
    /* An emptied corpus must not pass. */
    return failed || n_genuine == 0;
}

int
main(int argc, char **argv)
{
    hsmssp_err ret;
    int rc;

    if (argc != 2 && !(argc == 3 && strcmp(argv[1], "--check") == 0)) {
        fprintf(stderr, "usage: %s OUTDIR | --check DIR\n", argv[0]);
        return 2;
    }
    ret = mt_open();
    if (ret == HSMSSP_ERR_MODULE_LOAD) {
        const char *ci = getenv("CI");

        fprintf(stderr, "msgseed: %s\n", hsmssp_last_error_detail());
        return ci != NULL && strcmp(ci, "true") == 0 ? 1 : 77;
    }
    must(ret, "opening NSS softoken");
    rc = argc == 3 ? check(argv[2]) : generate(argv[1]);
    mt_close();
    return rc;
}
