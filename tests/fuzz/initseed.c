/*
 * tests/fuzz/initseed.c - the seeds of fuzz_init_reply, from a run of
 * tests/kdc/test_init against the test realm (contract in initseed.h,
 * input layout in initreply.h).
 *
 * What is written (file names say which):
 *   as-*        an AS exchange: the KDC's PREAUTH_REQUIRED error, then its
 *               AS-REP with the EncASRepPart as plaintext (svcacct's
 *               keytab keys and dave's password keys open them);
 *   as-error-*  an AS exchange the KDC refused (wrong password, unknown
 *               client);
 *   tgs-*       a TGS-REP (service tickets per enctype, forwarded and
 *               renewed TGTs), in TGS mode, and svc-* the same in the
 *               service-ticket mode;
 *   tgs-error-* the KDC's refusals (unknown service);
 *   ap-*        AP-REPs of hsmssp's and MIT's acceptors with their
 *               EncAPRepPart (the service tickets' session keys, from the
 *               TGS-REPs, open them), and ap-error-* their KRB-ERRORs;
 *   edge-*      derived cases: another nonce, an expired reply, the wrong
 *               key, another server, another authenticator time, a
 *               RESPONSE_TOO_BIG or unusable reply first, no reply, and
 *               cross-realm paths made with MIT's encoders (a referral
 *               chain that ends at the service, one that loops back).
 * Every session key inside a plaintext is overwritten with the fixed key
 * of its enctype (fuzz_key_bytes), so no key of the realm is committed
 * and every plaintext decrypts and chains under the target's keys.
 */
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <krb5.h>

#include "fuzzcommon.h"
#include "hsm/krbsw.h"
#include "initreply.h"
#include "initseed.h"
#include "provider/kerberos/kerb-int.h"
#include "provider/kerberos/kerb_kdc.h"
#include "sspi/sspi-int.h"

/* MIT's exported, unpublished codecs (k5-int.h), for the cross-realm
 * replies the realm cannot produce. */
krb5_error_code decode_krb5_tgs_rep(const krb5_data *, krb5_kdc_rep **);
krb5_error_code encode_krb5_tgs_rep(const krb5_kdc_rep *, krb5_data **);
krb5_error_code decode_krb5_enc_kdc_rep_part(const krb5_data *,
                                             krb5_enc_kdc_rep_part **);
krb5_error_code encode_krb5_enc_kdc_rep_part(const krb5_enc_kdc_rep_part *,
                                             krb5_data **);
void KRB5_CALLCONV krb5_free_kdc_rep(krb5_context, krb5_kdc_rep *);
void KRB5_CALLCONV krb5_free_enc_kdc_rep_part(krb5_context,
                                              krb5_enc_kdc_rep_part *);

hsmssp_err __real_kerb_kdc_send(const char *realm, const uint8_t *req,
                                size_t len, const kerb_kdc_cfg *cfg,
                                uint8_t **rep_out, size_t *rep_len_out);
hsmssp_err __wrap_kerb_kdc_send(const char *realm, const uint8_t *req,
                                size_t len, const kerb_kdc_cfg *cfg,
                                uint8_t **rep_out, size_t *rep_len_out);

#define MAX_KDC 4000
#define MAX_AP 1000
#define MAX_KEYS 256
#define MAX_SEEDS 200
#define OTHER_REALM "OTHER.TEST"

typedef struct rec_kdc {
    int64_t clock_us;
    uint8_t req_tag;
    uint8_t *rep;
    size_t rep_len;
} rec_kdc;

typedef struct rec_ap {
    int64_t clock_us; /* the authenticator's time */
    int32_t etype;    /* the service ticket's session key */
    char client[512]; /* as kerb_ctx holds them */
    char server[512];
    char origin[16];
    uint8_t *tok;
    size_t len;
} rec_ap;

typedef struct known_key {
    int32_t etype;
    uint8_t k[FUZZ_MAX_KEY];
    size_t len;
} known_key;

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static char out_dir[1024];
static rec_kdc kdcs[MAX_KDC];
static size_t n_kdcs;
static rec_ap aps[MAX_AP];
static size_t n_aps;
static known_key lt[MAX_KEYS], sess[MAX_KEYS];
static size_t n_lt, n_sess;
static char written[MAX_SEEDS][128];
static size_t n_written;

/* ---- recording ------------------------------------------------------ */

void
initseed_begin(const char *dir)
{
    snprintf(out_dir, sizeof(out_dir), "%s", dir);
}

hsmssp_err
__wrap_kerb_kdc_send(const char *realm, const uint8_t *req, size_t len,
                     const kerb_kdc_cfg *cfg, uint8_t **rep_out,
                     size_t *rep_len_out)
{
    hsmssp_err ret =
        __real_kerb_kdc_send(realm, req, len, cfg, rep_out, rep_len_out);

    if (ret != HSMSSP_OK || out_dir[0] == '\0')
        return ret;
    pthread_mutex_lock(&rec_lock);
    if (n_kdcs < MAX_KDC) {
        rec_kdc *r = &kdcs[n_kdcs];

        r->rep = malloc(*rep_len_out);
        if (r->rep != NULL) {
            memcpy(r->rep, *rep_out, *rep_len_out);
            r->rep_len = *rep_len_out;
            r->req_tag = req[0];
            r->clock_us = prov_now_us();
            n_kdcs++;
        }
    }
    pthread_mutex_unlock(&rec_lock);
    return ret;
}

void
initseed_reply(CtxtHandle *ictx, const uint8_t *tok, size_t len,
               const char *origin)
{
    sspi_slot *s;
    kerb_ctx *c;

    if (out_dir[0] == '\0' || len == 0)
        return;
    s = sspi_handle_get(ictx, SSPI_CTX, false);
    if (s == NULL)
        return;
    c = s->obj;
    pthread_mutex_lock(&rec_lock);
    if (n_aps < MAX_AP && c->tkt != NULL) {
        rec_ap *r = &aps[n_aps];

        r->tok = malloc(len);
        if (r->tok != NULL) {
            memcpy(r->tok, tok, len);
            r->len = len;
            r->clock_us = c->ctime * 1000000 + c->cusec;
            r->etype = c->tkt->etype;
            snprintf(r->client, sizeof(r->client), "%s", c->client);
            snprintf(r->server, sizeof(r->server), "%s", c->server);
            snprintf(r->origin, sizeof(r->origin), "%s", origin);
            n_aps++;
        }
    }
    pthread_mutex_unlock(&rec_lock);
    sspi_handle_put(s);
}

/* ---- keys ------------------------------------------------------------ */

static void
add_key(known_key *v, size_t *n, int32_t etype, const uint8_t *k, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i].etype == etype && v[i].len == len &&
            memcmp(v[i].k, k, len) == 0)
            return;
    if (*n >= MAX_KEYS || len > FUZZ_MAX_KEY)
        return;
    v[*n].etype = etype;
    memcpy(v[*n].k, k, len);
    v[*n].len = len;
    (*n)++;
}

/* svcacct's keytab keys and dave's password keys (default salt). */
static int
load_long_term_keys(krb5_context kc)
{
    const char *envf = getenv("HSMSSP_REALM_ENV");
    char buf[1024], path[1200], pw[64];
    krb5_keytab kt;
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    FILE *f;
    static const int32_t etypes[] = {17, 18, 19, 20, 23};

    if (envf == NULL)
        return -1;
    snprintf(buf, sizeof(buf), "%s", envf);
    snprintf(path, sizeof(path), "FILE:%s/svcacct.keytab", dirname(buf));
    if (krb5_kt_resolve(kc, path, &kt) != 0 ||
        krb5_kt_start_seq_get(kc, kt, &cur) != 0)
        return -1;
    while (krb5_kt_next_entry(kc, kt, &ent, &cur) == 0) {
        add_key(lt, &n_lt, ent.key.enctype, ent.key.contents, ent.key.length);
        krb5_free_keytab_entry_contents(kc, &ent);
    }
    krb5_kt_end_seq_get(kc, kt, &cur);
    krb5_kt_close(kc, kt);
    snprintf(buf, sizeof(buf), "%s", envf);
    snprintf(path, sizeof(path), "%s/dave.pw", dirname(buf));
    f = fopen(path, "r");
    if (f == NULL || fgets(pw, sizeof(pw), f) == NULL) {
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    pw[strcspn(pw, "\n")] = '\0';
    for (size_t i = 0; i < BASE_ARRAY_LEN(etypes); i++) {
        krb5_data pwd = {KV5M_DATA, (unsigned)strlen(pw), pw};
        krb5_data salt = {KV5M_DATA, (unsigned)strlen(IR_REALM "dave"),
                          (char *)IR_REALM "dave"};
        krb5_keyblock kb;

        if (krb5_c_string_to_key(kc, etypes[i], &pwd, &salt, &kb) == 0) {
            add_key(lt, &n_lt, kb.enctype, kb.contents, kb.length);
            krb5_free_keyblock_contents(kc, &kb);
        }
    }
    return 0;
}

/* Decrypts cipher with the first key of keys[] (of etype) that opens it;
 * *plain_out malloc'ed. */
static bool
open_with(const known_key *keys, size_t n, int32_t etype, int32_t usage,
          base_der cipher, uint8_t **plain_out, size_t *len_out)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t *p;
        size_t pl = 0;

        if (keys[i].etype != etype)
            continue;
        p = malloc(cipher.len + 1);
        if (p == NULL)
            return false;
        if (krbsw_decrypt(etype, keys[i].k, usage, cipher.p, cipher.len, p,
                          &pl) == HSMSSP_OK) {
            *plain_out = p;
            *len_out = pl;
            return true;
        }
        free(p);
    }
    return false;
}

/* ---- writing --------------------------------------------------------- */

static void
write_seed(const char *name, const ir_buf *b)
{
    char path[1300], clean[128];
    FILE *f;
    size_t i;

    if (b->overflow || n_written >= MAX_SEEDS)
        return;
    for (i = 0; name[i] != '\0' && i + 1 < sizeof(clean); i++)
        clean[i] = (name[i] == '/' || name[i] == '@') ? '_' : name[i];
    clean[i] = '\0';
    for (size_t k = 0; k < n_written; k++)
        if (strcmp(written[k], clean) == 0)
            return; /* one of each kind is enough */
    snprintf(path, sizeof(path), "%s/%s", out_dir, clean);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len) {
        fprintf(stderr, "initseed: cannot write %s\n", path);
        if (f != NULL)
            fclose(f);
        return;
    }
    fclose(f);
    snprintf(written[n_written++], sizeof(written[0]), "%s", clean);
}

/* A KDC reply whose enc-part opened: the reply, its plaintext (keys
 * already replaced) and where the cipher is. */
typedef struct opened {
    const rec_kdc *r;
    kerb_kdc_rep rep;
    uint8_t *plain;
    size_t plain_len;
    kerb_enc_kdc_rep_part ep;
    size_t cipher_off;
    char client[KERB_KS_MAX_PRINCIPAL + 1];
    char server[KERB_KS_MAX_PRINCIPAL + 1];
} opened;

/* Overwrites the session key inside the plaintext with the fixed key of
 * its enctype, after remembering the real one (it opens what follows). */
static bool
fix_kdc_plain(opened *o)
{
    unsigned app = 0;
    size_t off;

    if (kerb_dec_enc_kdc_rep_part(base_der_view(o->plain, o->plain_len),
                                  &o->ep, &app) != HSMSSP_OK)
        return false;
    add_key(sess, &n_sess, o->ep.key.etype, o->ep.key.value.p,
            o->ep.key.value.len);
    off = (size_t)(o->ep.key.value.p - o->plain);
    fuzz_key_bytes(o->ep.key.etype, o->plain + off, o->ep.key.value.len);
    return kerb_principal_unparse(&o->rep.cname, o->rep.crealm, o->client,
                                  sizeof(o->client)) == HSMSSP_OK &&
           kerb_principal_unparse(&o->ep.sname, o->ep.srealm, o->server,
                                  sizeof(o->server)) == HSMSSP_OK;
}

static bool
open_kdc_rep(const rec_kdc *r, opened *o)
{
    const known_key *keys =
        r->req_tag == BASE_DER_APP(KERB_MSG_AS_REQ) ? lt : sess;
    size_t n = keys == lt ? n_lt : n_sess;
    int32_t usage = keys == lt ? 3 : 8;

    memset(o, 0, sizeof(*o));
    o->r = r;
    if (kerb_dec_kdc_rep(base_der_view(r->rep, r->rep_len), &o->rep) !=
        HSMSSP_OK)
        return false;
    if (!open_with(keys, n, o->rep.enc.etype, usage, o->rep.enc.cipher,
                   &o->plain, &o->plain_len))
        return false;
    o->cipher_off = (size_t)(o->rep.enc.cipher.p - r->rep);
    if (!fix_kdc_plain(o)) {
        free(o->plain);
        o->plain = NULL;
        return false;
    }
    return true;
}

static void
put_kdc_splice(ir_buf *b, const opened *o, size_t etype_index)
{
    ir_put_splice(b, etype_index, o->r->rep, o->r->rep_len, o->cipher_off,
                  o->rep.enc.cipher.len, o->plain, o->plain_len);
}

static int32_t
error_code(const rec_kdc *r)
{
    kerb_error e;

    if (r->rep_len == 0 || r->rep[0] != BASE_DER_APP(KERB_MSG_ERROR) ||
        kerb_dec_error(base_der_view(r->rep, r->rep_len), &e) != HSMSSP_OK)
        return -1;
    return e.code;
}

/* A KRB-ERROR KRB_ERR_RESPONSE_TOO_BIG (52) from the realm's KDC, into
 * buf; returns its length (0 when it does not fit). */
static size_t
too_big_error(int64_t clock_us, uint8_t *buf, size_t cap)
{
    char store[64];
    kerb_error e;
    base_der_w w;
    base_der out, realm;

    memset(&e, 0, sizeof(e));
    e.stime = clock_us / 1000000;
    e.code = 52;
    if (kerb_principal_parse("krbtgt/" IR_REALM "@" IR_REALM, KERB_NT_SRV_INST,
                             store, &e.sname, &realm) != HSMSSP_OK)
        return 0;
    e.realm = realm;
    base_der_w_init(&w, buf, cap);
    kerb_enc_error(&w, &e);
    if (base_der_w_finish(&w, &out) != HSMSSP_OK)
        return 0;
    memmove(buf, out.p, out.len);
    return out.len;
}

/* ---- the seeds of real exchanges -------------------------------------- */

static void
seeds_as(void)
{
    ssize_t preauth = -1;
    ir_buf *b = malloc(sizeof(*b));

    if (b == NULL)
        return;
    for (size_t i = 0; i < n_kdcs; i++) {
        const rec_kdc *r = &kdcs[i];
        int32_t code = error_code(r);
        opened o;
        uint8_t rnd[4];
        char name[1200];
        size_t ei;

        if (r->req_tag != BASE_DER_APP(KERB_MSG_AS_REQ))
            continue;
        if (code == 25) {
            preauth = (ssize_t)i;
            continue;
        }
        if (code >= 0) {
            /* Refused: wrong password, unknown client. */
            kerb_error e;
            char client[KERB_KS_MAX_PRINCIPAL + 1] = "svcacct@" IR_REALM;
            static const uint8_t zero[4];

            if (kerb_dec_error(base_der_view(r->rep, r->rep_len), &e) ==
                    HSMSSP_OK &&
                e.has_cname && e.has_crealm &&
                kerb_principal_unparse(&e.cname, e.crealm, client,
                                       sizeof(client)) != HSMSSP_OK)
                continue;
            ir_put_header(b, ir_selector(IR_AS, 0, false, false), r->clock_us,
                          zero, client, "");
            if (preauth >= 0)
                ir_put_raw(b, kdcs[preauth].rep, kdcs[preauth].rep_len);
            ir_put_raw(b, r->rep, r->rep_len);
            snprintf(name, sizeof(name), "as-error-%d", (int)code);
            write_seed(name, b);
            preauth = -1;
            continue;
        }
        if (!open_kdc_rep(r, &o))
            continue;
        ei = ir_etype_index(o.rep.enc.etype);
        ir_random_for_nonce(o.ep.nonce, rnd);
        if (ei < IR_N_ETYPES) {
            /* The genuine exchange. */
            ir_put_header(b, ir_selector(IR_AS, 0, false, false), r->clock_us,
                          rnd, o.client, "");
            if (preauth >= 0)
                ir_put_raw(b, kdcs[preauth].rep, kdcs[preauth].rep_len);
            put_kdc_splice(b, &o, ei);
            snprintf(name, sizeof(name), "as-%s-e%d%s", o.client,
                     (int)o.rep.enc.etype, preauth >= 0 ? "-preauth" : "");
            write_seed(name, b);
            /* Edge: another request's nonce. */
            ir_random_for_nonce(o.ep.nonce ^ 1u, rnd);
            ir_put_header(b, ir_selector(IR_AS, 0, true, false), r->clock_us,
                          rnd, o.client, "");
            put_kdc_splice(b, &o, ei);
            write_seed("edge-as-nonce", b);
            /* Edge: replayed eleven hours later (expired). */
            ir_random_for_nonce(o.ep.nonce, rnd);
            ir_put_header(b, ir_selector(IR_AS, 0, false, false),
                          r->clock_us + 11LL * 3600 * 1000000, rnd, o.client,
                          "");
            put_kdc_splice(b, &o, ei);
            write_seed("edge-as-expired", b);
            /* Edge: encrypted with another enctype's key. */
            ir_put_header(b, ir_selector(IR_AS, 0, false, false), r->clock_us,
                          rnd, o.client, "");
            put_kdc_splice(b, &o, (ei + 1) % IR_N_ETYPES);
            write_seed("edge-as-wrong-key", b);
            /* Edge: an unusable reply first (the next KDC answers). */
            ir_put_header(b, ir_selector(IR_AS, 0, false, false), r->clock_us,
                          rnd, o.client, "");
            ir_put_raw(b, (const uint8_t *)"\x30\x03\x02\x01", 4);
            put_kdc_splice(b, &o, ei);
            write_seed("edge-as-garbage-first", b);
        }
        free(o.plain);
        preauth = -1;
    }
    free(b);
}

static void
seeds_tgs(void)
{
    ir_buf *b = malloc(sizeof(*b));

    if (b == NULL)
        return;
    /* Replies open in chains (a forwarded TGT's key opens the TGS-REPs of
     * the credential delegated with it): go over them until nothing new
     * opens. */
    for (int pass = 0; pass < 4; pass++) {
        size_t before = n_sess;

        for (size_t i = 0; i < n_kdcs; i++) {
            opened o;

            if (kdcs[i].req_tag == BASE_DER_APP(KERB_MSG_TGS_REQ) &&
                open_kdc_rep(&kdcs[i], &o))
                free(o.plain);
        }
        if (n_sess == before)
            break;
    }
    for (size_t i = 0; i < n_kdcs; i++) {
        const rec_kdc *r = &kdcs[i];
        int32_t code = error_code(r);
        opened o;
        uint8_t rnd[4];
        char name[1200];
        size_t ei;
        bool tgt;

        if (r->req_tag != BASE_DER_APP(KERB_MSG_TGS_REQ))
            continue;
        if (code >= 0) {
            kerb_error e;
            char server[KERB_KS_MAX_PRINCIPAL + 1];
            static const uint8_t zero[4];

            if (kerb_dec_error(base_der_view(r->rep, r->rep_len), &e) !=
                    HSMSSP_OK ||
                kerb_principal_unparse(&e.sname, e.realm, server,
                                       sizeof(server)) != HSMSSP_OK)
                continue;
            ir_put_header(b, ir_selector(IR_TGS, 0, false, true), r->clock_us,
                          zero, "svcacct@" IR_REALM, server);
            ir_put_raw(b, r->rep, r->rep_len);
            snprintf(name, sizeof(name), "tgs-error-%d", (int)code);
            write_seed(name, b);
            continue;
        }
        if (!open_kdc_rep(r, &o))
            continue;
        ei = ir_etype_index(o.rep.enc.etype);
        tgt = strncmp(o.server, "krbtgt/", 7) == 0;
        ir_random_for_nonce(o.ep.nonce, rnd);
        if (ei < IR_N_ETYPES && ir_etype_index(o.ep.key.etype) < IR_N_ETYPES) {
            ir_put_header(b, ir_selector(IR_TGS, ei, tgt, true), r->clock_us,
                          rnd, o.client, o.server);
            put_kdc_splice(b, &o, ei);
            snprintf(name, sizeof(name), "tgs-%s-%s-e%d", o.client, o.server,
                     (int)o.ep.key.etype);
            write_seed(name, b);
            if (!tgt) {
                ir_put_header(b, ir_selector(IR_SVC, ei, false, false),
                              r->clock_us, rnd, o.client, o.server);
                put_kdc_splice(b, &o, ei);
                snprintf(name, sizeof(name), "svc-%s-e%d", o.server,
                         (int)o.ep.key.etype);
                write_seed(name, b);
                /* Edge: asked for another server than the reply names. */
                ir_put_header(b, ir_selector(IR_TGS, ei, false, true),
                              r->clock_us, rnd, o.client,
                              "other/localhost@" IR_REALM);
                put_kdc_splice(b, &o, ei);
                write_seed("edge-tgs-other-server", b);
                /* Edge: RESPONSE_TOO_BIG first (the TCP retry answers). */
                {
                    uint8_t eb[256];
                    size_t el = too_big_error(r->clock_us, eb, sizeof(eb));

                    ir_put_header(b, ir_selector(IR_TGS, ei, false, true),
                                  r->clock_us, rnd, o.client, o.server);
                    ir_put_raw(b, eb, el);
                    put_kdc_splice(b, &o, ei);
                    if (el > 0)
                        write_seed("edge-tgs-response-too-big", b);
                }
            }
        }
        free(o.plain);
    }
    free(b);
}

static void
seeds_ap(void)
{
    ir_buf *b = malloc(sizeof(*b));

    if (b == NULL)
        return;
    for (size_t i = 0; i < n_aps; i++) {
        const rec_ap *r = &aps[i];
        base_der oid, inner, msg;
        unsigned id = 0;
        kerb_ap_rep rep;
        kerb_enc_ap_rep_part ep;
        uint8_t *plain = NULL;
        size_t pl = 0, ei = ir_etype_index(r->etype);
        char name[1200];
        static const uint8_t zero[4];

        if (ei >= IR_N_ETYPES ||
            kerb_gss_unframe(base_der_view(r->tok, r->len), &oid, &inner) !=
                HSMSSP_OK ||
            kerb_gss_tok_id(inner, &id, &msg) != HSMSSP_OK)
            continue;
        ir_put_header(b, ir_selector(IR_AP, ei, false, false), r->clock_us,
                      zero, r->client, r->server);
        if (id == KERB_TOK_ERROR) {
            kerb_error e;

            if (kerb_dec_error(msg, &e) != HSMSSP_OK)
                continue;
            ir_put_raw(b, r->tok, r->len);
            snprintf(name, sizeof(name), "ap-error-%d-%s", (int)e.code,
                     r->origin);
            write_seed(name, b);
            continue;
        }
        if (id != KERB_TOK_AP_REP || kerb_dec_ap_rep(msg, &rep) != HSMSSP_OK ||
            !open_with(sess, n_sess, rep.enc.etype, 12, rep.enc.cipher, &plain,
                       &pl))
            continue;
        if (kerb_dec_enc_ap_rep_part(base_der_view(plain, pl), &ep) ==
            HSMSSP_OK) {
            size_t co = (size_t)(rep.enc.cipher.p - r->tok);

            if (ep.has_subkey)
                fuzz_key_bytes(ep.subkey.etype,
                               plain + (ep.subkey.value.p - plain),
                               ep.subkey.value.len);
            ir_put_splice(b, ei, r->tok, r->len, co, rep.enc.cipher.len, plain,
                          pl);
            snprintf(name, sizeof(name), "ap-%s-e%d-%s", r->origin,
                     (int)r->etype, ep.has_subkey ? "subkey" : "nosubkey");
            write_seed(name, b);
            /* Edge: another authenticator's time. */
            ir_put_header(b, ir_selector(IR_AP, ei, false, true),
                          r->clock_us + 1, zero, r->client, r->server);
            ir_put_splice(b, ei, r->tok, r->len, co, rep.enc.cipher.len, plain,
                          pl);
            write_seed("edge-ap-other-time", b);
            /* Edge: the AP-REP in another key (another enctype). */
            ir_put_header(b, ir_selector(IR_AP, ei, false, false), r->clock_us,
                          zero, r->client, r->server);
            ir_put_splice(b, (ei + 1) % IR_N_ETYPES, r->tok, r->len, co,
                          rep.enc.cipher.len, plain, pl);
            write_seed("edge-ap-wrong-key", b);
            /* Edge: no reply at all. */
            ir_put_header(b, ir_selector(IR_AP, ei, false, false), r->clock_us,
                          zero, r->client, r->server);
            write_seed("edge-ap-no-reply", b);
        }
        free(plain);
    }
    free(b);
}

/* ---- cross-realm paths (MIT's encoders) -------------------------------- */

/* A TGS-REP like the opened real one o, for server (its ticket and its
 * EncTGSRepPart name it), with the fixed session key of etype. */
static bool
make_tgs_rep(krb5_context kc, const opened *o, const char *server, ir_buf *b,
             size_t etype_index)
{
    krb5_data d = {KV5M_DATA, (unsigned)o->r->rep_len, (char *)o->r->rep};
    krb5_data pd = {KV5M_DATA, (unsigned)o->plain_len, (char *)o->plain};
    krb5_kdc_rep *rep = NULL;
    krb5_enc_kdc_rep_part *ep = NULL;
    krb5_principal sp = NULL, old_tsrv = NULL, old_esrv = NULL;
    krb5_data *plain = NULL, *outer = NULL, old_ct;
    int32_t etype = ir_etype_at(etype_index);
    size_t ct_len = 0;
    uint8_t *filler = NULL, *at;
    bool ok = false;

    if (decode_krb5_tgs_rep(&d, &rep) != 0 ||
        decode_krb5_enc_kdc_rep_part(&pd, &ep) != 0 ||
        krb5_parse_name(kc, server, &sp) != 0)
        goto done;
    old_esrv = ep->server;
    ep->server = sp;
    fuzz_key_bytes(ep->session->enctype, ep->session->contents,
                   ep->session->length);
    if (encode_krb5_enc_kdc_rep_part(ep, &plain) != 0)
        goto done;
    ep->server = old_esrv;
    if (krbsw_enc_len(etype, plain->length, &ct_len) != HSMSSP_OK)
        goto done;
    filler = malloc(ct_len);
    if (filler == NULL)
        goto done;
    memset(filler, 0xe5, ct_len);
    old_tsrv = rep->ticket->server;
    rep->ticket->server = sp;
    old_ct = rep->enc_part.ciphertext;
    rep->enc_part.ciphertext.data = (char *)filler;
    rep->enc_part.ciphertext.length = (unsigned)ct_len;
    rep->enc_part.enctype = etype;
    if (encode_krb5_tgs_rep(rep, &outer) == 0) {
        at = memmem(outer->data, outer->length, filler, ct_len);
        if (at != NULL) {
            ir_put_splice(b, etype_index, (uint8_t *)outer->data,
                          outer->length, (size_t)(at - (uint8_t *)outer->data),
                          ct_len, (uint8_t *)plain->data, plain->length);
            ok = true;
        }
    }
    rep->ticket->server = old_tsrv;
    rep->enc_part.ciphertext = old_ct;
done:
    krb5_free_data(kc, outer);
    krb5_free_data(kc, plain);
    free(filler);
    krb5_free_principal(kc, sp);
    if (ep != NULL)
        krb5_free_enc_kdc_rep_part(kc, ep);
    if (rep != NULL)
        krb5_free_kdc_rep(kc, rep);
    return ok;
}

static void
seeds_cross_realm(krb5_context kc)
{
    ir_buf *b = malloc(sizeof(*b));

    if (b == NULL)
        return;
    for (size_t i = 0; i < n_kdcs; i++) {
        opened o;
        uint8_t rnd[4];
        size_t ei;

        if (kdcs[i].req_tag != BASE_DER_APP(KERB_MSG_TGS_REQ) ||
            error_code(&kdcs[i]) >= 0 || !open_kdc_rep(&kdcs[i], &o))
            continue;
        ei = ir_etype_index(o.rep.enc.etype);
        if (ei >= IR_N_ETYPES || strcmp(o.server, "e18/localhost@" IR_REALM) ||
            o.ep.key.etype != 18) {
            free(o.plain);
            continue;
        }
        ir_random_for_nonce(o.ep.nonce, rnd);
        /* HSMSSP.TEST's KDC gives a TGT for OTHER.TEST, whose KDC gives
         * the ticket. */
        ir_put_header(b, ir_selector(IR_SVC, ei, false, false),
                      kdcs[i].clock_us, rnd, o.client,
                      "e18/localhost@" OTHER_REALM);
        if (make_tgs_rep(kc, &o, "krbtgt/" OTHER_REALM "@" IR_REALM, b, ei) &&
            make_tgs_rep(kc, &o, "e18/localhost@" OTHER_REALM, b, 0))
            write_seed("edge-svc-cross-realm", b);
        /* The service's KDC refers back to HSMSSP.TEST: a loop. */
        ir_put_header(b, ir_selector(IR_SVC, ei, false, false),
                      kdcs[i].clock_us, rnd, o.client,
                      "e18/localhost@" OTHER_REALM);
        if (make_tgs_rep(kc, &o, "krbtgt/" OTHER_REALM "@" IR_REALM, b, ei) &&
            make_tgs_rep(kc, &o, "krbtgt/" IR_REALM "@" OTHER_REALM, b, 0))
            write_seed("edge-svc-referral-loop", b);
        /* In TGS mode with referrals accepted: the referral itself. */
        ir_put_header(b, ir_selector(IR_TGS, ei, false, true),
                      kdcs[i].clock_us, rnd, o.client,
                      "e18/localhost@" IR_REALM);
        if (make_tgs_rep(kc, &o, "krbtgt/" OTHER_REALM "@" IR_REALM, b, ei))
            write_seed("edge-tgs-referral", b);
        free(o.plain);
        break;
    }
    free(b);
}

int
initseed_write(void)
{
    krb5_context kc;

    if (out_dir[0] == '\0')
        return 0;
    if (krbsw_init() != HSMSSP_OK || krb5_init_context(&kc) != 0)
        return 1;
    mkdir(out_dir, 0755);
    if (load_long_term_keys(kc) != 0) {
        fprintf(stderr, "initseed: the realm's keys are not readable\n");
        krb5_free_context(kc);
        return 1;
    }
    seeds_as();
    seeds_tgs();
    seeds_ap();
    seeds_cross_realm(kc);
    {
        /* Edge: no reply in any mode. */
        ir_buf *b = malloc(sizeof(*b));
        static const uint8_t zero[4];

        if (b != NULL) {
            ir_put_header(b, ir_selector(IR_SVC, 0, false, false),
                          1700000000LL * 1000000, zero, "svcacct@" IR_REALM,
                          "e18/localhost@" IR_REALM);
            write_seed("edge-svc-no-reply", b);
            free(b);
        }
    }
    krb5_free_context(kc);
    printf("initseed: %zu KDC replies and %zu acceptor replies recorded, "
           "%zu keys learnt, %zu seeds written to %s\n",
           n_kdcs, n_aps, n_sess, n_written, out_dir);
    for (size_t i = 0; i < n_kdcs; i++)
        free(kdcs[i].rep);
    for (size_t i = 0; i < n_aps; i++)
        free(aps[i].tok);
    return n_written > 0 ? 0 : 1;
}
