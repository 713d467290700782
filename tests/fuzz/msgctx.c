/*
 * tests/fuzz/msgctx.c - established contexts on fixed keys (contract in
 * msgctx.h).
 *
 * The prov_env is real (a configuration file naming NSS softoken, written
 * to a temporary file and removed once loaded) so that the contexts are
 * exactly what kerb_accept.c builds: kerb_ctx_new() takes a reference on
 * the env, and the per-message code reads nothing else from it.  The
 * token is the env's own (prov_env_token), so the keys are session
 * objects of the env's owner session and die with the env.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzcommon.h"
#include "msgctx.h"

#define MT_NSS_MODULE "/usr/lib/x86_64-linux-gnu/libsoftokn3.so"
#define MT_NSS_URI "pkcs11:token=NSS%20Generic%20Crypto%20Services"

/* Contexts end long after any run (1 January 2100). */
#define MT_ENDTIME 4102444800LL

static prov_env *mt_env;
static hsm_token *mt_tok;
static hsm_key *mt_keys[MT_N_ETYPES];

/* Writes the configuration to a private temporary file and loads it. */
static hsmssp_err
open_env(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    FILE *f;
    int fd;
    hsmssp_err ret;

    snprintf(path, sizeof(path), "%s/hsmssp-msgctx.XXXXXX",
             dir != NULL && *dir != '\0' ? dir : "/tmp");
    fd = mkstemp(path); /* mode 0600, as the loader requires */
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        if (fd >= 0)
            close(fd);
        return BASE_ERR(HSMSSP_ERR_CONFIG, "cannot write %s", path);
    }
    fprintf(f, "[token]\n    module = %s\n    uri = %s\n", MT_NSS_MODULE,
            MT_NSS_URI);
    fclose(f);
    ret = prov_env_open(path, &mt_env);
    unlink(path);
    return ret;
}

hsmssp_err
mt_open(void)
{
    hsmssp_err ret;

    if (access(MT_NSS_MODULE, R_OK) != 0)
        return BASE_ERR(HSMSSP_ERR_MODULE_LOAD, "%s missing", MT_NSS_MODULE);
    ret = open_env();
    if (ret == HSMSSP_OK)
        ret = prov_env_token(mt_env, &mt_tok);
    for (size_t i = 0; i < MT_N_ETYPES && ret == HSMSSP_OK; i++) {
        int32_t et = mt_etype_at(i);
        hsm_key_spec spec = {
            .etype = et, .key_class = HSM_KEY_SESSION, .persistent = false};
        size_t kl = hsm_etype_keylen(et);
        base_secret *k = NULL;

        ret = base_secret_new(kl, kl, &k);
        if (ret != HSMSSP_OK)
            break;
        fuzz_key_bytes(et, k->data, kl);
        ret = hsm_key_import(mt_tok, &spec, k, &mt_keys[i]);
        base_secret_free(k);
    }
    if (ret != HSMSSP_OK)
        mt_close();
    return ret;
}

void
mt_close(void)
{
    for (size_t i = 0; i < MT_N_ETYPES; i++) {
        hsm_key_free(mt_keys[i]);
        mt_keys[i] = NULL;
    }
    /* The env closes its token. */
    prov_env_unref(mt_env);
    mt_env = NULL;
    mt_tok = NULL;
}

void
mt_ctx_reset(kerb_ctx *c, bool noseq)
{
    uint64_t base = mt_seq_base(c->etype);

    c->flags = PROV_F_CONF | PROV_F_INTEG |
               (noseq ? 0 : PROV_F_REPLAY | PROV_F_SEQUENCE);
    c->send_seq = base;
    /* 64-bit numbers, as kerb_accept.c sets up every context. */
    kerb_seq_init(&c->recv, base, !noseq, !noseq, true);
}

kerb_ctx *
mt_ctx_new(size_t ei, bool initiator, bool subkey, bool noseq)
{
    kerb_ctx *c = NULL;
    hsmssp_err ret = kerb_ctx_new(mt_env, mt_tok, initiator, &c);

    FUZZ_CHECK(ret == HSMSSP_OK, "kerb_ctx_new: %s", hsmssp_err_name(ret));
    c->established = true;
    c->key = mt_keys[ei % MT_N_ETYPES];
    c->etype = mt_etype_at(ei);
    c->acceptor_subkey = subkey && c->etype != HSM_ETYPE_RC4_HMAC;
    c->endtime = MT_ENDTIME;
    snprintf(c->client, sizeof(c->client), "alice@HSMSSP.TEST");
    snprintf(c->server, sizeof(c->server), "e%d/localhost@HSMSSP.TEST",
             (int)c->etype);
    mt_ctx_reset(c, noseq);
    return c;
}

void
mt_ctx_free(kerb_ctx *c)
{
    if (c == NULL)
        return;
    c->key = NULL; /* shared: mt_close() frees it */
    kerb_ctx_free(c);
}

mt_sel
mt_parse_sel(uint8_t sel)
{
    mt_sel s;

    s.ei = sel & 3u;
    s.mode = (enum mt_mode)((sel >> 2) & 3u);
    s.subkey = (sel & MT_SEL_SUBKEY) != 0;
    s.noseq = (sel & MT_SEL_NOSEQ) != 0;
    s.pad = sel >> 6;
    return s;
}

static void
add(mt_call *c, prov_buf_type type, unsigned flags, const uint8_t *p,
    size_t len)
{
    prov_buf *b = &c->b[c->n];

    b->type = type;
    b->flags = flags;
    b->len = len;
    b->p = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(b->p != NULL, "out of memory");
    if (len > 0)
        memcpy(b->p, p, len);
    c->own[c->n] = b->p;
    c->orig[c->n++] = p;
}

void
mt_layout(mt_call *c, const uint8_t *in, size_t size)
{
    mt_sel s = mt_parse_sel(in[0]);
    const uint8_t *body = in + MT_HDR;
    size_t len = size - MT_HDR;
    size_t a = ((size_t)in[1] << 8 | in[2]) % (len + 1), rest = len - a;
    size_t d1, so, pad, d2;

    memset(c, 0, sizeof(*c));
    switch (s.mode) {
    case MT_STREAM:
        add(c, PROV_BUF_STREAM, 0, body, len);
        add(c, PROV_BUF_DATA, 0, body, 0);
        break;
    case MT_TOKEN_DATA:
    case MT_MIC:
        add(c, PROV_BUF_TOKEN, 0, body, a);
        add(c, PROV_BUF_DATA, 0, body + a, rest);
        break;
    case MT_PIECES:
        pad = s.pad % (rest + 1);
        rest -= pad;
        d1 = ((size_t)in[3] << 8 | in[4]) % (rest + 1);
        so = (size_t)in[5] % (rest - d1 + 1);
        d2 = rest - d1 - so;
        add(c, PROV_BUF_TOKEN, 0, body, a);
        add(c, PROV_BUF_DATA, 0, body + a, d1);
        add(c, PROV_BUF_DATA, PROV_BUF_READONLY_WITH_CHECKSUM, body + a + d1,
            so);
        add(c, PROV_BUF_DATA, 0, body + a + d1 + so, d2);
        if (pad > 0)
            add(c, PROV_BUF_PADDING, 0, body + a + d1 + so + d2, pad);
        break;
    }
}

hsmssp_err
mt_run(kerb_ctx *k, enum mt_mode mode, mt_call *c, bool *conf_out)
{
    *conf_out = false;
    if (mode == MT_MIC)
        return kerb_msg_verify_mic(k, c->b, c->n);
    return kerb_msg_unwrap(k, c->b, c->n, conf_out);
}

void
mt_call_release(mt_call *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->own[i]);
    c->n = 0;
}
