/*
 * tests/fuzz/fuzz_init_reply.c - libFuzzer target for the replies the
 * Kerberos initiator reads, through its real code paths: the AS exchange
 * (kerb_as.c: PREAUTH_REQUIRED and ETYPE-INFO2, the AS-REP and its
 * EncASRepPart, the session key's import), the TGS exchange (kerb_tgs.c:
 * the TGS-REP and EncTGSRepPart, referrals, a forwarded TGT's key handed
 * back), the service-ticket path with its referral loop (kerb_out.c), and
 * the second step of InitializeSecurityContext (kerb_init.c: the AP-REP
 * and EncAPRepPart with the acceptor subkey, or the acceptor's KRB-ERROR),
 * with delegation's TGS exchange before it.  KRB-ERRORs from the KDC come
 * through kerb_error_to_err in every mode.
 *
 * How the replies get in: the KDC transport (kerb_kdc_send), the clock
 * (prov_now_us) and the host's random numbers (hsm_random) are replaced
 * at link time (-Wl,--wrap, tests/fuzz/CMakeLists.txt; kerb_kdc.h says
 * why this needs no hook in the library).  The wrapped transport hands
 * out the input's records as the KDC's replies, after the checks the
 * real transport makes (one DER element of the expected tag or a
 * KRB-ERROR that decodes; RESPONSE_TOO_BIG means "ask again"), and
 * records whose plaintext the input supplies are encrypted here with the
 * fixed keys (initreply.h).  The keys live on NSS softoken (no database);
 * everything the initiator holds (long-term keys, TGT, service ticket) is
 * made from the same fixed bytes per enctype.
 *
 * Checked on every input:
 *  - the result is OK or a protocol or policy error (never an internal,
 *    token, memory or argument error: the input's names are checked
 *    before the call, so an argument error would come from a reply);
 *  - on success the ticket has an encoding, a session key on the token
 *    (or, for a forwarded TGT, key bytes of the enctype's length in a
 *    secure buffer), names, and an end time not in the past; on failure
 *    nothing is returned;
 *  - AS mode sends only AS-REQs, the others only TGS-REQs;
 *  - AP mode: a refused reply leaves the context waiting and unchanged
 *    (the same reply is refused again with the same code), an accepted
 *    one leaves it established with mutual authentication and a key;
 *  - no secure buffer outlives the call (the arrival window's plaintexts
 *    and keys are freed, hence wiped, on every path).
 *
 * Seeds (corpus/fuzz_init_reply/): the KDC's replies and the acceptors'
 * AP-REPs and KRB-ERRORs recorded while tests/kdc/test_init runs
 * (fuzz_init_seedgen, initseed.c), their plaintexts' keys replaced by the
 * fixed ones, and edge cases derived from them.  Without NSS softoken the
 * target exits 77 (ctest's skip), or 1 when CI=true.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzzcommon.h"
#include "hsm/krbsw.h"
#include "initreply.h"
#include "provider/kerberos/kerb-int.h"
#include "provider/kerberos/kerb_kdc.h"

#define FI_NSS_MODULE "/usr/lib/x86_64-linux-gnu/libsoftokn3.so"
#define FI_NSS_URI "pkcs11:token=NSS%20Generic%20Crypto%20Services"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The link-time substitutes (the real functions stay in the binary as
 * __real_*, unused here). */
hsmssp_err __wrap_kerb_kdc_send(const char *realm, const uint8_t *req,
                                size_t len, const kerb_kdc_cfg *cfg,
                                uint8_t **rep_out, size_t *rep_len_out);
int64_t __wrap_prov_now_us(void);
hsmssp_err __wrap_hsm_random(uint8_t *out, size_t n);

/* ---- the state of one input ------------------------------------------- */

typedef struct fi_record {
    uint8_t *p; /* malloc'ed: the reply as the peer sends it */
    size_t len;
} fi_record;

static struct {
    enum ir_mode mode;
    int64_t clock_us;
    uint8_t random[4];
    fi_record rec[IR_MAX_RECORDS];
    size_t n_rec;
    size_t next_kdc; /* next record the transport hands out */
    size_t kdc_calls;
} fi;

/* ---- what lives for the whole run ------------------------------------- */

static prov_env *fi_env;
static hsm_token *fi_tok;
static hsm_key *fi_lt[IR_N_ETYPES];   /* the account's keys */
static hsm_key *fi_sess[IR_N_ETYPES]; /* TGT and service session keys */
static kerb_tkt *fi_tgt[IR_N_ETYPES];
static kerb_tkt *fi_svc[IR_N_ETYPES];
static kerb_cred *fi_cred;
static size_t fi_secmem_base;
static char fi_dir[4096];

/* ---- link-time substitutes ------------------------------------------- */

int64_t
__wrap_prov_now_us(void)
{
    return fi.clock_us;
}

hsmssp_err
__wrap_hsm_random(uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = fi.random[i % 4];
    return HSMSSP_OK;
}

/* What kerb_kdc.c's reply_ok() accepts from a KDC: one DER element whose
 * tag answers the request, or a KRB-ERROR that decodes.  *code_out is
 * the KRB-ERROR's code, -1 for a reply. */
static bool
acceptable(const fi_record *r, unsigned want_tag, int32_t *code_out)
{
    base_der in = base_der_view(r->p, r->len), whole;
    unsigned tag = 0;
    kerb_error e;

    *code_out = -1;
    if (base_der_get_any(&in, &tag, NULL, &whole) != HSMSSP_OK ||
        base_der_end(&in) != HSMSSP_OK)
        return false;
    if (tag != want_tag && tag != BASE_DER_APP(KERB_MSG_ERROR))
        return false;
    if (base_der_check(whole, KERB_ASN1_MAX_DEPTH) != HSMSSP_OK)
        return false;
    if (tag == BASE_DER_APP(KERB_MSG_ERROR)) {
        if (kerb_dec_error(whole, &e) != HSMSSP_OK)
            return false;
        *code_out = e.code;
    }
    return true;
}

hsmssp_err
__wrap_kerb_kdc_send(const char *realm, const uint8_t *req, size_t len,
                     const kerb_kdc_cfg *cfg, uint8_t **rep_out,
                     size_t *rep_len_out)
{
    unsigned want;

    (void)cfg;
    *rep_out = NULL;
    *rep_len_out = 0;
    fi.kdc_calls++;
    FUZZ_CHECK(realm != NULL && realm[0] != '\0' && req != NULL && len > 0,
               "request without a realm or bytes");
    /* AS mode asks for TGTs with AS-REQs only; every other path uses the
     * TGS. */
    if (fi.mode == IR_AS)
        FUZZ_CHECK(req[0] == BASE_DER_APP(KERB_MSG_AS_REQ),
                   "AS mode sent identifier 0x%02x", req[0]);
    else
        FUZZ_CHECK(req[0] == BASE_DER_APP(KERB_MSG_TGS_REQ),
                   "TGS path sent identifier 0x%02x", req[0]);
    want = req[0] == BASE_DER_APP(KERB_MSG_AS_REQ)
               ? BASE_DER_APP(KERB_MSG_AS_REP)
               : BASE_DER_APP(KERB_MSG_TGS_REP);
    while (fi.next_kdc < fi.n_rec) {
        const fi_record *r = &fi.rec[fi.next_kdc++];
        int32_t code;

        /* A refused reply is no answer from that KDC, and the 52 error
         * makes the transport ask again over TCP: either way the next
         * record answers. */
        if (!acceptable(r, want, &code) || code == 52)
            continue;
        *rep_out = malloc(r->len);
        FUZZ_CHECK(*rep_out != NULL, "out of memory");
        memcpy(*rep_out, r->p, r->len);
        *rep_len_out = r->len;
        return HSMSSP_OK;
    }
    return BASE_ERR(HSMSSP_ERR_KDC_UNREACHABLE, "fuzz: no more replies");
}

/* ---- setup ------------------------------------------------------------- */

/* A configuration naming NSS softoken with every enctype permitted and
 * delegation allowed, and a krb5.conf with the default realm (for names
 * without one); both in a private directory removed at exit. */
static hsmssp_err
open_env(void)
{
    const char *tmp = getenv("TMPDIR");
    char path[4200];
    FILE *f;

    snprintf(fi_dir, sizeof(fi_dir), "%s/hsmssp-initreply.XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (mkdtemp(fi_dir) == NULL)
        return BASE_ERR(HSMSSP_ERR_CONFIG, "cannot make %s", fi_dir);
    snprintf(path, sizeof(path), "%s/krb5.conf", fi_dir);
    f = fopen(path, "w");
    if (f == NULL)
        return BASE_ERR(HSMSSP_ERR_CONFIG, "cannot write %s", path);
    fprintf(f, "[libdefaults]\n    default_realm = %s\n", IR_REALM);
    fclose(f);
    setenv("KRB5_CONFIG", path, 1);
    snprintf(path, sizeof(path), "%s/hsmssp.conf", fi_dir);
    f = fopen(path, "w");
    if (f == NULL)
        return BASE_ERR(HSMSSP_ERR_CONFIG, "cannot write %s", path);
    fchmod(fileno(f), 0600);
    fprintf(f,
            "[token]\n    module = %s\n    uri = %s\n"
            "[policy]\n    permitted_enctypes = aes256-cts-hmac-sha1-96 "
            "aes128-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192 "
            "aes128-cts-hmac-sha256-128 arcfour-hmac\n"
            "    allow_delegation = true\n"
            "[kerberos]\n    rcache = none\n",
            FI_NSS_MODULE, FI_NSS_URI);
    fclose(f);
    return prov_env_open(path, &fi_env);
}

static hsmssp_err
import_fixed(int32_t etype, hsm_key_class cls, hsm_key **out)
{
    hsm_key_spec spec = {.etype = etype, .key_class = cls};
    size_t kl = hsm_etype_keylen(etype);
    base_secret *k = NULL;
    hsmssp_err ret;

    ret = base_secret_new(kl, kl, &k);
    if (ret != HSMSSP_OK)
        return ret;
    fuzz_key_bytes(etype, k->data, kl);
    ret = hsm_key_import(fi_tok, &spec, k, out);
    base_secret_free(k);
    return ret;
}

/* A Ticket for the initiator to send: its contents never matter here
 * (the KDC and the acceptor are the input). */
static hsmssp_err
make_ticket(kerb_tkt **out)
{
    static const uint8_t cipher[32] = {0x11};
    uint8_t buf[256];
    char store[64];
    kerb_principal sname;
    base_der realm, t;
    kerb_enc_data ed = {.etype = 18, .has_kvno = true, .kvno = 1};
    base_der_w w;
    size_t m, mf;
    hsmssp_err ret;

    ret = kerb_principal_parse("krbtgt/" IR_REALM "@" IR_REALM,
                               KERB_NT_SRV_INST, store, &sname, &realm);
    if (ret != HSMSSP_OK)
        return ret;
    ed.cipher = base_der_view(cipher, sizeof(cipher));
    base_der_w_init(&w, buf, sizeof(buf));
    m = base_der_w_len(&w);
    mf = base_der_w_len(&w);
    kerb_enc_enc_data(&w, &ed);
    base_der_w_wrap(&w, BASE_DER_CTX(3), base_der_w_len(&w) - mf);
    mf = base_der_w_len(&w);
    kerb_enc_principal(&w, &sname);
    base_der_w_wrap(&w, BASE_DER_CTX(2), base_der_w_len(&w) - mf);
    mf = base_der_w_len(&w);
    base_der_w_prim(&w, BASE_DER_GENERAL_STRING, realm.p, realm.len);
    base_der_w_wrap(&w, BASE_DER_CTX(1), base_der_w_len(&w) - mf);
    mf = base_der_w_len(&w);
    base_der_w_int(&w, 5);
    base_der_w_wrap(&w, BASE_DER_CTX(0), base_der_w_len(&w) - mf);
    base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - m);
    base_der_w_wrap(&w, BASE_DER_APP(1), base_der_w_len(&w) - m);
    ret = base_der_w_finish(&w, &t);
    if (ret == HSMSSP_OK)
        ret = kerb_tkt_alloc(t, out);
    return ret;
}

static void
fi_close(void)
{
    char cmd[4200];

    if (fi_cred != NULL) {
        /* The TGT and tickets are the shared ones below. */
        fi_cred->out->tgt = NULL;
        fi_cred->out->n_cache = 0;
        kerb_cred_free(fi_cred);
        fi_cred = NULL;
    }
    for (size_t i = 0; i < IR_N_ETYPES; i++) {
        /* The keys are shared by the tickets and freed once, here. */
        if (fi_tgt[i] != NULL)
            fi_tgt[i]->key = NULL;
        if (fi_svc[i] != NULL)
            fi_svc[i]->key = NULL;
        kerb_tkt_unref(fi_tgt[i]);
        kerb_tkt_unref(fi_svc[i]);
        hsm_key_free(fi_lt[i]);
        hsm_key_free(fi_sess[i]);
        fi_tgt[i] = fi_svc[i] = NULL;
        fi_lt[i] = fi_sess[i] = NULL;
    }
    prov_env_unref(fi_env);
    fi_env = NULL;
    if (fi_dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fi_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz_init_reply: cannot remove %s\n", fi_dir);
    }
}

/* One sealed message through the engine with each session key, so that
 * the per-thread scratch buffers exist before the first input (the
 * secure-memory check compares against this). */
static void
warm_up(void)
{
    for (size_t i = 0; i < IR_N_ETYPES; i++) {
        uint8_t plain[32] = {0}, ct[128], back[128];
        size_t n = 0, m = 0;

        FUZZ_CHECK(hsm_krb_encrypt(fi_sess[i], HSM_USAGE_AP_REP_ENCPART, plain,
                                   sizeof(plain), ct, sizeof(ct),
                                   &n) == HSMSSP_OK,
                   "warm-up encrypt");
        FUZZ_CHECK(hsm_krb_decrypt(fi_sess[i], HSM_USAGE_AP_REP_ENCPART, ct, n,
                                   back, sizeof(back), &m) == HSMSSP_OK,
                   "warm-up decrypt");
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *ci = getenv("CI");
    bool in_ci = ci != NULL && strcmp(ci, "true") == 0;
    hsmssp_err ret;

    (void)argc;
    (void)argv;
    if (access(FI_NSS_MODULE, R_OK) != 0) {
        fprintf(stderr, "fuzz_init_reply: %s missing%s\n", FI_NSS_MODULE,
                in_ci ? "" : ": skip");
        exit(in_ci ? 1 : 77);
    }
    /* The real clock until the first input sets one. */
    fi.clock_us = 1700000000LL * 1000000;
    ret = krbsw_init();
    if (ret == HSMSSP_OK)
        ret = open_env();
    if (ret == HSMSSP_OK)
        ret = prov_env_token(fi_env, &fi_tok);
    for (size_t i = 0; i < IR_N_ETYPES && ret == HSMSSP_OK; i++) {
        ret = import_fixed(ir_etype_at(i), HSM_KEY_LONG_TERM, &fi_lt[i]);
        if (ret == HSMSSP_OK)
            ret = import_fixed(ir_etype_at(i), HSM_KEY_SESSION, &fi_sess[i]);
        if (ret == HSMSSP_OK)
            ret = make_ticket(&fi_tgt[i]);
        if (ret == HSMSSP_OK)
            ret = make_ticket(&fi_svc[i]);
        if (ret == HSMSSP_OK) {
            fi_tgt[i]->etype = fi_svc[i]->etype = ir_etype_at(i);
            fi_tgt[i]->key = fi_svc[i]->key = fi_sess[i];
        }
    }
    if (ret == HSMSSP_OK) {
        /* An outbound credential as kerb_acquire_delegated makes one: a
         * TGT that is never refreshed from another source. */
        fi_cred = calloc(1, sizeof(*fi_cred));
        FUZZ_CHECK(fi_cred != NULL, "out of memory");
        pthread_mutex_init(&fi_cred->lock, NULL);
        prov_env_ref(fi_env);
        fi_cred->env = fi_env;
        fi_cred->tok = fi_tok;
        fi_cred->use = PROV_CRED_OUTBOUND;
        fi_cred->pid = getpid();
        fi_cred->out = calloc(1, sizeof(*fi_cred->out));
        FUZZ_CHECK(fi_cred->out != NULL, "out of memory");
        pthread_mutex_init(&fi_cred->out->lock, NULL);
        fi_cred->out->src = KERB_SRC_DELEGATED;
    }
    FUZZ_CHECK(ret == HSMSSP_OK, "setup: %s (%s)", hsmssp_err_name(ret),
               hsmssp_last_error_detail());
    warm_up();
    fi_secmem_base = base_secmem_in_use();
    atexit(fi_close);
    return 0;
}

/* ---- one input -----------------------------------------------------------
 */

static bool
get_u16(const uint8_t **p, const uint8_t *end, size_t *out)
{
    if (end - *p < 2)
        return false;
    *out = (size_t)(*p)[0] << 8 | (*p)[1];
    *p += 2;
    return true;
}

static bool
get_bytes(const uint8_t **p, const uint8_t *end, size_t n, const uint8_t **out)
{
    if ((size_t)(end - *p) < n)
        return false;
    *out = *p;
    *p += n;
    return true;
}

/* A name of the input as a C string; false when it holds a NUL (a
 * caller's mistake, not a peer's). */
static bool
get_name(const uint8_t **p, const uint8_t *end, char *out)
{
    const uint8_t *s;

    if (end - *p < 1)
        return false;
    if (!get_bytes(p, end, 1, &s) || !get_bytes(p, end, s[0], &s))
        return false;
    if (memchr(s, '\0', (size_t)(*p - s)) != NULL)
        return false;
    memcpy(out, s, (size_t)(*p - s));
    out[*p - s] = '\0';
    return true;
}

/* The usage a record's plaintext is encrypted with. */
static int32_t
record_usage(size_t index)
{
    if (fi.mode == IR_AS)
        return HSM_USAGE_AS_REP_ENCPART;
    if (fi.mode == IR_AP && index == 0)
        return HSM_USAGE_AP_REP_ENCPART;
    return HSM_USAGE_TGS_REP_ENCPART_SESSKEY;
}

/* Reads the records (as many as are well-formed) into fi.rec. */
static void
read_records(const uint8_t *p, const uint8_t *end)
{
    static const uint8_t confounder[16] = {0xc0, 0xc1, 0xc2, 0xc3};

    while (p < end && fi.n_rec < IR_MAX_RECORDS) {
        uint8_t kind = *p++;
        const uint8_t *a, *b, *c;
        size_t la, lb, lc, et, ct_len = 0;
        uint8_t key[FUZZ_MAX_KEY];
        int32_t etype;
        fi_record *r = &fi.rec[fi.n_rec];

        if (kind == IR_REC_RAW) {
            if (!get_u16(&p, end, &la) || !get_bytes(&p, end, la, &a))
                return;
            r->p = malloc(la ? la : 1);
            FUZZ_CHECK(r->p != NULL, "out of memory");
            if (la > 0)
                memcpy(r->p, a, la);
            r->len = la;
            fi.n_rec++;
            continue;
        }
        if (kind != IR_REC_SPLICE || end - p < 1)
            return;
        et = *p++ % IR_N_ETYPES;
        if (!get_u16(&p, end, &la) || !get_bytes(&p, end, la, &a) ||
            !get_u16(&p, end, &lb) || !get_bytes(&p, end, lb, &b) ||
            !get_u16(&p, end, &lc) || !get_bytes(&p, end, lc, &c))
            return;
        etype = ir_etype_at(et);
        FUZZ_CHECK(krbsw_enc_len(etype, lb, &ct_len) == HSMSSP_OK,
                   "krbsw_enc_len");
        r->p = malloc(la + ct_len + lc + 1);
        FUZZ_CHECK(r->p != NULL, "out of memory");
        memcpy(r->p, a, la);
        fuzz_key_bytes(etype, key, hsm_etype_keylen(etype));
        FUZZ_CHECK(krbsw_encrypt(etype, key, record_usage(fi.n_rec),
                                 confounder, b, lb, r->p + la,
                                 &ct_len) == HSMSSP_OK,
                   "krbsw_encrypt");
        memcpy(r->p + la + ct_len, c, lc);
        r->len = la + ct_len + lc;
        fi.n_rec++;
    }
}

/* Results a reply may legitimately produce. */
static bool
peer_error(hsmssp_err e)
{
    switch (e) {
    case HSMSSP_ERR_INTEGRITY:
    case HSMSSP_ERR_BAD_CIPHERTEXT:
    case HSMSSP_ERR_UNKNOWN_ENCTYPE:
    case HSMSSP_ERR_BAD_TOKEN:
    case HSMSSP_ERR_LIMIT:
    case HSMSSP_ERR_REPLAY:
    case HSMSSP_ERR_CLOCK_SKEW:
    case HSMSSP_ERR_TICKET_EXPIRED:
    case HSMSSP_ERR_TICKET_NOT_YET_VALID:
    case HSMSSP_ERR_WRONG_PRINCIPAL:
    case HSMSSP_ERR_NO_KEY:
    case HSMSSP_ERR_WRONG_MECH:
    case HSMSSP_ERR_PEER_ERROR:
    case HSMSSP_ERR_KDC_UNREACHABLE:
    case HSMSSP_ERR_PRINCIPAL_UNKNOWN:
    case HSMSSP_ERR_PREAUTH_FAILED:
    case HSMSSP_ERR_CLIENT_UNKNOWN:
    case HSMSSP_ERR_MUTUAL_FAILED:
    case HSMSSP_ERR_KDC_ETYPE:
    case HSMSSP_ERR_REFERRAL:
    case HSMSSP_ERR_POLICY_ENCTYPE:
        return true;
    default:
        return false;
    }
}

static void
check_result(hsmssp_err ret, const char *what)
{
    /* HSMSSP_FUZZ_VERBOSE: what each input reached (seed checks). */
    if (getenv("HSMSSP_FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "fuzz_init_reply: %s: %s%s%s\n", what,
                hsmssp_err_name(ret), ret ? ": " : "",
                ret ? hsmssp_last_error_detail() : "");
    FUZZ_CHECK(ret == HSMSSP_OK || peer_error(ret), "%s: %s (%s)", what,
               hsmssp_err_name(ret), hsmssp_last_error_detail());
}

/* A ticket an exchange returned. */
static void
check_ticket(const kerb_tkt *t, bool with_key)
{
    size_t kl = hsm_etype_keylen(t->etype);

    FUZZ_CHECK(t->refs >= 1 && t->ticket != NULL && t->ticket_len > 0,
               "ticket without an encoding");
    FUZZ_CHECK(kl > 0, "ticket session key of enctype %d", (int)t->etype);
    FUZZ_CHECK(with_key ? t->key != NULL : t->key == NULL, "session key %s",
               t->key ? "present" : "missing");
    FUZZ_CHECK(memchr(t->client, '\0', sizeof(t->client)) != NULL &&
                   memchr(t->server, '\0', sizeof(t->server)) != NULL &&
                   t->client[0] != '\0' && t->server[0] != '\0',
               "ticket names");
    FUZZ_CHECK(t->endtime > fi.clock_us / 1000000 - PROV_DEFAULT_CLOCK_SKEW,
               "an expired ticket was accepted");
}

/* The TGT of enctype index e for client, valid around the input's
 * clock, for the realm of the client's name; NULL when the names do not
 * fit (the caller's problem, not a reply's). */
static kerb_tkt *
tgt_for(size_t e, const char *client)
{
    kerb_tkt *t = fi_tgt[e];
    char realm[KERB_KS_MAX_PRINCIPAL + 1];
    char server[2 * sizeof(realm) + 16];
    int64_t now = fi.clock_us / 1000000;

    kerb_name_realm(client, realm);
    snprintf(server, sizeof(server), "krbtgt/%s@%s", realm, realm);
    if (strlen(server) >= sizeof(t->server) ||
        strlen(client) >= sizeof(t->client))
        return NULL;
    memcpy(t->client, client, strlen(client) + 1);
    memcpy(t->server, server, strlen(server) + 1);
    /* A realm the TGT's name cannot carry (a '/' or '@' in it). */
    if (!kerb_tkt_is_tgt(t, NULL, NULL))
        return NULL;
    t->flags = KERB_TKT_FORWARDABLE | KERB_TKT_RENEWABLE | KERB_TKT_INITIAL;
    t->authtime = t->starttime = now - 60;
    t->endtime = now + 36000;
    t->renew_till = now + 86400;
    return t;
}

static void
run_as(uint8_t sel, const char *client, const char *server)
{
    kerb_lt_key lt[IR_N_ETYPES];
    kerb_as_keys keys;
    kerb_as_info info;
    kerb_tkt *t = NULL;
    hsmssp_err ret;

    memset(&keys, 0, sizeof(keys));
    for (size_t i = 0; i < IR_N_ETYPES; i++)
        lt[i] = (kerb_lt_key){ir_etype_at(i), 1, fi_lt[i], true};
    keys.keys = lt;
    keys.n_keys = IR_N_ETYPES;
    keys.cap_keys = IR_N_ETYPES;
    ret = kerb_as_exchange(fi_env, fi_tok, client,
                           server[0] != '\0' ? server : NULL, &keys, NULL,
                           (sel & IR_SEL_A) ? NULL : &info, &t);
    check_result(ret, "kerb_as_exchange");
    FUZZ_CHECK((ret == HSMSSP_OK) == (t != NULL), "result and ticket");
    if (t != NULL) {
        check_ticket(t, true);
        kerb_tkt_unref(t);
    }
    FUZZ_CHECK(fi.kdc_calls <= 2, "%zu AS-REQs", fi.kdc_calls);
}

static void
run_tgs(uint8_t sel, size_t e, const char *client, const char *server)
{
    kerb_tkt *tgt = tgt_for(e, client), *t = NULL;
    base_secret *k = NULL;
    bool referral = false;
    uint32_t opts = (sel & IR_SEL_A)
                        ? KERB_KDC_OPT_FORWARDED | KERB_KDC_OPT_FORWARDABLE
                        : KERB_KDC_OPT_CANONICALIZE;
    hsmssp_err ret;

    if (tgt == NULL)
        return;
    ret = kerb_tgs_exchange(fi_env, tgt, server, opts, NULL,
                            (sel & IR_SEL_A) ? &k : NULL,
                            (sel & IR_SEL_B) ? &referral : NULL, &t);
    check_result(ret, "kerb_tgs_exchange");
    FUZZ_CHECK((ret == HSMSSP_OK) == (t != NULL), "result and ticket");
    if (t != NULL) {
        check_ticket(t, (sel & IR_SEL_A) == 0);
        if (sel & IR_SEL_A)
            FUZZ_CHECK(k != NULL && k->len == hsm_etype_keylen(t->etype),
                       "forwarded key of %zu bytes", k ? k->len : 0);
        /* A referral only where one was acceptable. */
        FUZZ_CHECK(!referral || (sel & IR_SEL_B), "referral");
        if (referral)
            FUZZ_CHECK(kerb_tkt_is_tgt(t, NULL, NULL),
                       "referral to a non-TGT %s", t->server);
    } else {
        FUZZ_CHECK(k == NULL && !referral, "outputs after a failure");
    }
    base_secret_free(k);
    kerb_tkt_unref(t);
    FUZZ_CHECK(fi.kdc_calls <= 1, "%zu TGS-REQs", fi.kdc_calls);
}

/* Empties the credential's cache and TGT (the shared tickets keep their
 * own references). */
static void
cred_reset(void)
{
    kerb_out *o = fi_cred->out;

    for (size_t i = 0; i < o->n_cache; i++)
        kerb_tkt_unref(o->cache[i].t);
    o->n_cache = 0;
    kerb_tkt_unref(o->tgt);
    o->tgt = NULL;
}

static bool
cred_set(size_t e, const char *client)
{
    kerb_out *o = fi_cred->out;
    kerb_tkt *t = tgt_for(e, client);

    if (t == NULL)
        return false;
    o->tgt = kerb_tkt_ref(t);
    memcpy(o->client, client, strlen(client) + 1);
    kerb_name_realm(client, o->realm);
    return true;
}

static void
run_svc(size_t e, const char *client, const char *server)
{
    kerb_tkt *t = NULL;
    hsmssp_err ret;

    if (!cred_set(e, client))
        return;
    ret = kerb_out_service_ticket(fi_cred, server, &t);
    check_result(ret, "kerb_out_service_ticket");
    FUZZ_CHECK((ret == HSMSSP_OK) == (t != NULL), "result and ticket");
    if (t != NULL) {
        check_ticket(t, true);
        FUZZ_CHECK(!kerb_tkt_is_tgt(t, NULL, NULL) ||
                       strncmp(server, "krbtgt/", 7) == 0,
                   "a TGT %s handed out as the ticket for %s", t->server,
                   server);
        kerb_tkt_unref(t);
    }
    /* Each hop is one request; the loop is bounded. */
    FUZZ_CHECK(fi.kdc_calls <= KERB_MAX_REFERRALS + 2, "%zu TGS-REQs",
               fi.kdc_calls);
    cred_reset();
}

static void
run_ap(uint8_t sel, size_t e, const char *client, const char *target)
{
    kerb_out *o = fi_cred->out;
    kerb_tkt *svc = fi_svc[e];
    char *canon = NULL;
    void *ctxp = NULL;
    kerb_ctx *c;
    prov_step s1, s2;
    uint32_t req = PROV_F_MUTUAL | PROV_F_CONF | PROV_F_INTEG;
    int64_t now = fi.clock_us / 1000000;
    hsmssp_err ret, again;

    if (kerb_name_canon_env(fi_env, target, &canon) != HSMSSP_OK)
        return;
    if (strlen(canon) > KERB_KS_MAX_PRINCIPAL) {
        free(canon);
        return;
    }
    /* The service ticket is in the credential's cache already. */
    if (!cred_set(e, client)) {
        free(canon);
        return;
    }
    memcpy(svc->client, client, strlen(client) + 1);
    memcpy(svc->server, canon, strlen(canon) + 1);
    svc->flags = KERB_TKT_FORWARDABLE | KERB_TKT_OK_AS_DELEGATE;
    svc->authtime = svc->starttime = now - 60;
    svc->endtime = now + 36000;
    svc->renew_till = 0;
    memcpy(o->cache[0].name, canon, strlen(canon) + 1);
    o->cache[0].t = kerb_tkt_ref(svc);
    o->n_cache = 1;
    free(canon);
    if ((sel & IR_SEL_B) == 0)
        req |= PROV_F_REPLAY | PROV_F_SEQUENCE;
    if (sel & IR_SEL_A)
        req |= PROV_F_DELEGATE;
    /* The KDC's replies (delegation) follow the acceptor's. */
    fi.next_kdc = 1;

    memset(&s1, 0, sizeof(s1));
    s1.req_flags = req;
    s1.target = target;
    ret = kerb_init(fi_cred, &ctxp, &s1);
    check_result(ret, "kerb_init (AP-REQ)");
    if (ret != HSMSSP_OK) {
        FUZZ_CHECK(s1.out_token == NULL, "a token after a failure");
        kerb_ctx_free(ctxp);
        cred_reset();
        return;
    }
    FUZZ_CHECK(s1.continue_needed && s1.out_token != NULL && s1.out_len > 0,
               "first step of a mutual context");
    free(s1.out_token);
    c = ctxp;

    memset(&s2, 0, sizeof(s2));
    s2.req_flags = req;
    s2.target = target;
    s2.in_token = fi.n_rec > 0 ? fi.rec[0].p : (const uint8_t *)"";
    s2.in_len = fi.n_rec > 0 ? fi.rec[0].len : 0;
    ret = kerb_init(fi_cred, &ctxp, &s2);
    check_result(ret, "kerb_init (reply)");
    FUZZ_CHECK(s2.out_token == NULL && s2.out_len == 0,
               "a token after the reply");
    if (ret == HSMSSP_OK) {
        FUZZ_CHECK(c->established && !s2.continue_needed &&
                       (c->flags & PROV_F_MUTUAL) && c->key != NULL &&
                       c->tkt == NULL,
                   "an accepted reply leaves a half-made context");
        FUZZ_CHECK(hsm_etype_keylen(c->etype) > 0, "message key etype %d",
                   (int)c->etype);
    } else {
        FUZZ_CHECK(!c->established && c->tkt != NULL && c->key != NULL,
                   "a refused reply changed the context");
        /* Nothing moved: the same reply gets the same answer. */
        again = kerb_init(fi_cred, &ctxp, &s2);
        FUZZ_CHECK(again == ret, "%s, then %s", hsmssp_err_name(ret),
                   hsmssp_err_name(again));
    }
    kerb_ctx_free(ctxp);
    cred_reset();
}

/* A realm as the caller writes one: printable, without the characters
 * an unparsed name escapes. */
static bool
plain_realm(const char *name)
{
    char realm[KERB_KS_MAX_PRINCIPAL + 1];

    kerb_name_realm(name, realm);
    for (const char *c = realm; *c != '\0'; c++)
        if (*c <= 0x20 || *c >= 0x7f || *c == '\\' || *c == '/' || *c == '@')
            return false;
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data + IR_HDR, *end = data + size;
    char client[256], server[256];
    char store[512];
    kerb_principal pn;
    base_der realm;
    uint8_t sel;
    size_t e;

    if (size < IR_HDR)
        return 0;
    memset(&fi, 0, sizeof(fi));
    sel = data[0];
    fi.mode = (enum ir_mode)(sel & 3u);
    e = (size_t)(sel >> 4) % IR_N_ETYPES;
    for (int i = 0; i < 8; i++)
        fi.clock_us = (int64_t)((uint64_t)fi.clock_us << 8 | data[1 + i]);
    memcpy(fi.random, data + 9, 4);
    /* The clock is the host's, not a peer's: keep it where KerberosTime
     * and the request's lifetimes can be written (2000 .. 2100). */
    if (fi.clock_us < 946684800LL * 1000000 ||
        fi.clock_us >= 4102444800LL * 1000000)
        return 0;
    if (!get_name(&p, end, client) || !get_name(&p, end, server))
        return 0;
    /* The names are the caller's: only well-formed ones with a realm go
     * on, so that an argument error can only come from a reply. */
    if (kerb_principal_parse(client, KERB_NT_PRINCIPAL, store, &pn, &realm) !=
            HSMSSP_OK ||
        realm.len == 0)
        return 0;
    if (fi.mode != IR_AP && server[0] != '\0' &&
        (kerb_principal_parse(server, KERB_NT_SRV_INST, store, &pn, &realm) !=
             HSMSSP_OK ||
         realm.len == 0))
        return 0;
    if ((fi.mode == IR_TGS || fi.mode == IR_SVC || fi.mode == IR_AP) &&
        server[0] == '\0')
        return 0;
    if (!plain_realm(client) || !plain_realm(server))
        return 0;
    read_records(p, end);
    switch (fi.mode) {
    case IR_AS:
        run_as(sel, client, server);
        break;
    case IR_TGS:
        run_tgs(sel, e, client, server);
        break;
    case IR_SVC:
        run_svc(e, client, server);
        break;
    case IR_AP:
        run_ap(sel, e, client, server);
        break;
    }
    for (size_t i = 0; i < fi.n_rec; i++)
        free(fi.rec[i].p);
    /* Every secure buffer of the arrival window is gone. */
    FUZZ_CHECK(base_secmem_in_use() == fi_secmem_base,
               "secure memory in use: %zu, was %zu", base_secmem_in_use(),
               fi_secmem_base);
    return 0;
}
