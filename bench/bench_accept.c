/*
 * bench/bench_accept.c - the Kerberos acceptor through the SSPI API on
 * SoftHSM2 and on NSS softoken, against MIT's GSS-API acceptor, with the
 * same keytab, the same service and tickets from the same KDC.
 *
 * What is measured (operations per second, ratio to MIT, PKCS#11 calls
 * per operation):
 *   accept   AcceptSecurityContext vs gss_accept_sec_context on fresh
 *            AP-REQs that MIT's gss_init_sec_context made just before the
 *            timed batch (mutual authentication, replay and sequence
 *            detection, confidentiality, integrity), for the services
 *            e18 (aes256-sha1), e17 (aes128-sha1) and e20 (aes256-sha384)
 *            of the test realm; both acceptors have their replay cache
 *            on (hsmssp's file in --work, MIT's default "dfl" cache in
 *            KRB5RCACHEDIR=--work/mit-rcache), and the setup proves it by
 *            replaying one AP-REQ.  Context deletion is timed apart.
 *   wrap     EncryptMessage (TOKEN + DATA + PADDING, in place) vs
 *            gss_wrap with confidentiality, then gss_release_buffer
 *   unwrap   DecryptMessage (STREAM + DATA, in place) vs gss_unwrap, on
 *            Wrap tokens the MIT initiator peer made with gss_wrap
 *   mic      MakeSignature vs gss_get_mic
 *   verify   VerifySignature vs gss_verify_mic, on MIC tokens the peer
 *            made with gss_get_mic
 * at 64 B, 1 KiB, 16 KiB and 64 KiB, on an acceptor context of the e18
 * service established with mutual authentication (so both acceptors
 * protect messages with an aes256-sha1 acceptor subkey).  Then, with N
 * contexts alive at once (--contexts, default 128, and --many, default
 * 512): the host memory one context costs after accept and after its
 * first use of each operation (mallinfo2() deltas, secure memory, token
 * objects), what stays behind after deletion, and the time of accept and
 * of the first and second uses when N contexts are active in turn.  The
 * token-wide derived-key cache (hsm/cache.c, 1024 entries) holds six keys
 * per context that used all four operations, so 128 contexts fit in it
 * and 512 do not.
 *
 * Fairness.  Every token a receiving operation consumes is made by the
 * same kind of peer (an MIT initiator context) for both acceptors, in a
 * batch made before the timed loop and consumed in order, exactly once:
 * the replay caches and the per-message sequence windows see what they
 * see in real use, and the peer's cost is never in the acceptor's time.
 * The clock runs over whole batches of one operation (two readings per
 * batch); making the next batch happens with the clock stopped.  Outputs
 * that an API allocates (gss_wrap's token, AcceptSecurityContext's
 * AP-REP) are freed inside the timed region: a caller must free them.
 *
 * Noise: each cell runs for a fixed time split into rounds; in every
 * round the paths take turns in a rotating order, as in bench_krb.c.
 * Nothing is asserted; the aims of issue #3 are printed beside the
 * ratios.  --paths, --cells, --sizes and --services select a part, so
 * that one cell can run alone under perf or callgrind (docs/benchmarks.md
 * shows how).
 *
 * The program reaches into sspi/ and provider/ internals for three
 * things an application never needs: importing the keytab into the
 * runtime's own token (as the tests do), the token's PKCS#11 call
 * counter and the object handles of a context's key.  <krb5.h> and the
 * GSS-API headers are allowed in bench/ only (STYLE sec. 1).
 */
#include <errno.h>
#include <getopt.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "base/secmem.h"
#include "hsm/hsm.h"
#include "hsmssp/sspi.h"
#include "provider/kerberos/kerb-int.h"
#include "provider/provider.h"
#include "sspi/sspi-int.h"

#define ROUNDS 3
#define MAX_SIZE (64u * 1024u)
#define MAX_BATCH 256
#define ACCEPT_BATCH 32
#define REP_MAX 4096 /* an AP-REP is ~150 bytes */
#define WHY 320      /* room for one reason */
#define MEM_EDGE 32  /* contexts timed at each end of the memory run */

static const size_t sizes[] = {64, 1024, 16 * 1024, 64 * 1024};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

/* The services of the test realm (docs/test-realm.md): one enctype each,
 * session key of that enctype too.  e18 is the one the aims are about;
 * the per-message context uses it. */
typedef struct service {
    const char *name; /* GSS host-based name: NAME@localhost */
    int32_t etype;
    const char *etype_name;
} service;

static const service svcs[] = {
    {"e18", 18, "aes256-sha1"},
    {"e17", 17, "aes128-sha1"},
    {"e20", 20, "aes256-sha384"},
};
#define N_SVC (sizeof(svcs) / sizeof(svcs[0]))
#define MSG_SVC 0

enum msg_op { OP_WRAP, OP_UNWRAP, OP_MIC, OP_VERIFY, N_MOPS };
static const char *const mop_titles[N_MOPS] = {
    "wrap: EncryptMessage vs gss_wrap (confidentiality on)",
    "unwrap: DecryptMessage vs gss_unwrap (Wrap tokens from the MIT peer)",
    "mic: MakeSignature vs gss_get_mic",
    "verify: VerifySignature vs gss_verify_mic (MIC tokens from the MIT "
    "peer)"};
static const char *const mop_short[N_MOPS] = {"wrap", "unwrap", "mic",
                                              "verify"};

/* GSS flags of every initiator: what `gss-client` asks for by default
 * plus sequence detection and confidentiality. */
static const OM_uint32 init_flags = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG |
                                    GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG |
                                    GSS_C_INTEG_FLAG;
/* The same for AcceptSecurityContext; ALLOCATE_MEMORY as a server that
 * does not know the AP-REP size in advance uses it. */
static const ULONG asc_flags =
    ASC_REQ_MUTUAL_AUTH | ASC_REQ_REPLAY_DETECT | ASC_REQ_SEQUENCE_DETECT |
    ASC_REQ_CONFIDENTIALITY | ASC_REQ_INTEGRITY | ASC_REQ_ALLOCATE_MEMORY;

/* One timed cell: operations, seconds and PKCS#11 calls summed over the
 * rounds.  failed takes the cell out of the table with its reason. */
typedef struct cell {
    double secs;
    uint64_t ops;
    uint64_t calls;
    bool failed;
} cell;

/* Host memory of established contexts (measure_memory()). */
typedef struct memres {
    bool done;
    size_t n;
    double heap_accept;   /* bytes per context right after accept */
    double heap_use;      /* more bytes after one op of each kind */
    double heap_residue;  /* bytes per context left after deletion */
    double secmem_accept; /* secure-memory bytes per context */
    double secmem_use;
    double objs_accept; /* token objects per context */
    double objs_use;
    double calls_use; /* PKCS#11 calls of the four first uses */
    /* Microseconds per accept / per first use of all four operations,
     * over the first and the last MEM_EDGE contexts: does the cost grow
     * with the number of live contexts (token objects)? */
    double us_accept_first, us_accept_last;
    double us_use_first, us_use_last;
    /* The same four operations again on all N contexts in turn. */
    double us_use2, calls_use2;
} memres;

typedef struct bpath bpath;
struct bpath {
    const char *name;
    const char *desc;
    bool hsmssp; /* false: MIT's acceptor */
    bool ok;
    char why[WHY];
    /* hsmssp: token and runtime */
    const char *module, *uri, *pin_file;
    bool persistent;
    prov_env *env; /* our reference: the token lives while we hold it */
    hsm_token *tok;
    CredHandle cred[N_SVC];
    bool have_cred[N_SVC];
    /* MIT: one accepting credential per service */
    gss_cred_id_t gcred[N_SVC];
    /* the per-message context and its MIT initiator peer */
    bool have_ctx;
    CtxtHandle ctx;
    gss_ctx_id_t gctx;
    gss_ctx_id_t peer;
    SecPkgContext_Sizes sz;
    /* results */
    bool svc_ok[N_SVC];
    char svc_why[N_SVC][WHY];
    cell acc[N_SVC], del[N_SVC];
    cell msg[N_MOPS][N_SIZES];
    char msg_why[N_MOPS][N_SIZES][WHY];
    memres mem[2]; /* --contexts, --many */
};

enum { P_SOFTHSM, P_NSS, P_MIT, N_PATHS };

static bpath paths[N_PATHS] = {
    [P_SOFTHSM] = {.name = "softhsm2",
                   .desc = "hsmssp SSPI acceptor, keys on SoftHSM2 "
                           "(service keys: token objects)",
                   .hsmssp = true,
                   .persistent = true},
    [P_NSS] = {.name = "nss",
               .desc = "hsmssp SSPI acceptor, keys on NSS softoken "
                       "(service keys: session objects)",
               .hsmssp = true},
    [P_MIT] = {.name = "mit",
               .desc = "MIT GSS-API acceptor, keytab file (ratio base)"},
};

typedef struct bench_opts {
    double seconds;
    size_t contexts, many;
    const char *keytab, *work;
    const char *softhsm_module, *softhsm_token, *softhsm_pin_file;
    const char *nss_module, *nss_token;
    /* Filters, comma lists (NULL: all): paths, cells, message sizes in
     * bytes, accept services. */
    const char *paths, *cells, *sizes, *services;
} bench_opts;

/* Working buffers (single-threaded program). */
static uint8_t msg[MAX_SIZE];
static uint8_t wdata[MAX_SIZE];  /* EncryptMessage's in-place DATA */
static uint8_t wtoken[512];      /* EncryptMessage's TOKEN */
static uint8_t wpad[64];         /* EncryptMessage's PADDING */
static uint8_t sig[512];         /* MakeSignature's TOKEN */
static gss_name_t target[N_SVC]; /* NAME@localhost for the initiator */

/* ---- helpers ---------------------------------------------------------- */

/* CLOCK_MONOTONIC, read twice per batch: wall-clock jumps must not turn
 * into rates. */
static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Heap bytes in use: chunks handed out by malloc plus mmap'ed ones
 * (glibc sums every arena).  Chunks parked in the per-thread cache count
 * as in use, which blurs a delta by at most a few KiB: divided by
 * hundreds of contexts that is a few bytes each. */
static size_t
heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

/* GSS major and minor status as one line. */
static void
gss_msg(OM_uint32 maj, OM_uint32 min, char *buf, size_t cap)
{
    OM_uint32 m2, mctx = 0;
    gss_buffer_desc b1 = {0}, b2 = {0};

    gss_display_status(&m2, maj, GSS_C_GSS_CODE, GSS_C_NO_OID, &mctx, &b1);
    mctx = 0;
    gss_display_status(&m2, min, GSS_C_MECH_CODE, (gss_OID)gss_mech_krb5,
                       &mctx, &b2);
    snprintf(buf, cap, "%.*s / %.*s", (int)b1.length, (char *)b1.value,
             (int)b2.length, (char *)b2.value);
    gss_release_buffer(&m2, &b1);
    gss_release_buffer(&m2, &b2);
}

static void
why_gss(char *buf, size_t cap, const char *what, OM_uint32 maj, OM_uint32 min)
{
    char m[256];

    gss_msg(maj, min, m, sizeof(m));
    snprintf(buf, cap, "%s: %s", what, m);
}

static void
why_sspi(char *buf, size_t cap, const char *what, SECURITY_STATUS st)
{
    snprintf(buf, cap, "%s: 0x%08x %s", what, (unsigned)st,
             hsmssp_last_error_detail());
}

static uint64_t
calls(const bpath *p)
{
    return p->tok != NULL ? hsm_token_call_count(p->tok) : 0;
}

/* ---- the MIT initiator ------------------------------------------------ */

/* A new initiator context to svcs[si] and its first token (the AP-REQ in
 * RFC 2743 framing).  Each call makes a new authenticator (new time,
 * subkey, sequence number), so every token is a fresh AP-REQ for the
 * replay caches. */
static bool
mit_init(size_t si, gss_ctx_id_t *g_out, gss_buffer_desc *tok_out, char *why,
         size_t cap)
{
    OM_uint32 maj, min;

    *g_out = GSS_C_NO_CONTEXT;
    tok_out->length = 0;
    tok_out->value = NULL;
    maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, g_out, target[si],
                               (gss_OID)gss_mech_krb5, init_flags, 0,
                               GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER,
                               NULL, tok_out, NULL, NULL);
    if (maj != GSS_S_CONTINUE_NEEDED) {
        why_gss(why, cap, "gss_init_sec_context", maj, min);
        gss_release_buffer(&min, tok_out);
        gss_delete_sec_context(&min, g_out, GSS_C_NO_BUFFER);
        return false;
    }
    return true;
}

/* The initiator's second step: it checks the acceptor's AP-REP. */
static bool
mit_init_finish(size_t si, gss_ctx_id_t *g, const void *rep, size_t len,
                char *why, size_t cap)
{
    gss_buffer_desc in = {len, (void *)rep}, out = {0};
    OM_uint32 maj, min;

    maj = gss_init_sec_context(
        &min, GSS_C_NO_CREDENTIAL, g, target[si], (gss_OID)gss_mech_krb5,
        init_flags, 0, GSS_C_NO_CHANNEL_BINDINGS, &in, NULL, &out, NULL, NULL);
    gss_release_buffer(&min, &out);
    if (maj != GSS_S_COMPLETE) {
        why_gss(why, cap, "gss_init_sec_context (AP-REP)", maj, min);
        return false;
    }
    return true;
}

/* ---- accepting, both ways --------------------------------------------- */

/* One accept on path p.  The output token is copied to rep (when not
 * NULL) and freed the way the API wants; *h / *g receive the context.
 * Returns true on success, else the reason is in why. */
static bool
accept_one(bpath *p, size_t si, const gss_buffer_desc *in, CtxtHandle *h,
           gss_ctx_id_t *g, uint8_t *rep, size_t *rep_len, char *why,
           size_t cap)
{
    if (p->hsmssp) {
        SecBuffer ib = {(ULONG)in->length, SECBUFFER_TOKEN, in->value};
        SecBuffer ob = {0, SECBUFFER_TOKEN, NULL};
        SecBufferDesc id = {SECBUFFER_VERSION, 1, &ib};
        SecBufferDesc od = {SECBUFFER_VERSION, 1, &ob};
        ULONG attrs = 0;
        TimeStamp exp;
        SECURITY_STATUS st;

        st = AcceptSecurityContext(&p->cred[si], NULL, &id, asc_flags,
                                   SECURITY_NATIVE_DREP, h, &od, &attrs, &exp);
        if (st == SEC_E_OK && rep != NULL) {
            *rep_len = ob.cbBuffer <= REP_MAX ? ob.cbBuffer : 0;
            memcpy(rep, ob.pvBuffer, *rep_len);
        }
        FreeContextBuffer(ob.pvBuffer);
        if (st != SEC_E_OK) {
            why_sspi(why, cap, "AcceptSecurityContext", st);
            return false;
        }
        return true;
    } else {
        gss_buffer_desc out = {0};
        gss_name_t src = GSS_C_NO_NAME;
        OM_uint32 maj, min, ret_flags = 0;

        /* The client's name is asked for, as a server does (hsmssp
         * records it in every context anyway). */
        *g = GSS_C_NO_CONTEXT;
        maj = gss_accept_sec_context(&min, g, p->gcred[si], (gss_buffer_t)in,
                                     GSS_C_NO_CHANNEL_BINDINGS, &src, NULL,
                                     &out, &ret_flags, NULL, NULL);
        if (maj == GSS_S_COMPLETE && rep != NULL) {
            *rep_len = out.length <= REP_MAX ? out.length : 0;
            memcpy(rep, out.value, *rep_len);
        }
        gss_release_buffer(&min, &out);
        gss_release_name(&min, &src);
        if (maj != GSS_S_COMPLETE) {
            why_gss(why, cap, "gss_accept_sec_context", maj, min);
            gss_delete_sec_context(&min, g, GSS_C_NO_BUFFER);
            return false;
        }
        return true;
    }
}

static void
delete_one(bpath *p, CtxtHandle *h, gss_ctx_id_t *g)
{
    OM_uint32 min;

    if (p->hsmssp)
        DeleteSecurityContext(h);
    else
        gss_delete_sec_context(&min, g, GSS_C_NO_BUFFER);
}

/* ---- per-message operations ------------------------------------------- */

/* Senders.  EncryptMessage works in place on wdata (what is there does
 * not matter to the cost); the buffer sizes are reset before each call
 * because the call rewrites them. */
static bool
send_op(bpath *p, int op, size_t n, char *why, size_t cap)
{
    if (p->hsmssp) {
        SecBuffer b[3];
        SecBufferDesc d = {SECBUFFER_VERSION, 0, b};
        SECURITY_STATUS st;

        if (op == OP_WRAP) {
            b[0] =
                (SecBuffer){p->sz.cbSecurityTrailer, SECBUFFER_TOKEN, wtoken};
            b[1] = (SecBuffer){(ULONG)n, SECBUFFER_DATA, wdata};
            b[2] = (SecBuffer){p->sz.cbBlockSize, SECBUFFER_PADDING, wpad};
            d.cBuffers = 3;
            st = EncryptMessage(&p->ctx, 0, &d, 0);
        } else {
            b[0] = (SecBuffer){(ULONG)n, SECBUFFER_DATA, msg};
            b[1] = (SecBuffer){p->sz.cbMaxSignature, SECBUFFER_TOKEN, sig};
            d.cBuffers = 2;
            st = MakeSignature(&p->ctx, 0, &d, 0);
        }
        if (st != SEC_E_OK) {
            why_sspi(why, cap,
                     op == OP_WRAP ? "EncryptMessage" : "MakeSignature", st);
            return false;
        }
        return true;
    } else {
        gss_buffer_desc in = {n, msg}, out = {0};
        OM_uint32 maj, min;
        int conf = 0;

        if (op == OP_WRAP)
            maj = gss_wrap(&min, p->gctx, 1, GSS_C_QOP_DEFAULT, &in, &conf,
                           &out);
        else
            maj = gss_get_mic(&min, p->gctx, GSS_C_QOP_DEFAULT, &in, &out);
        gss_release_buffer(&min, &out);
        if (GSS_ERROR(maj)) {
            why_gss(why, cap, op == OP_WRAP ? "gss_wrap" : "gss_get_mic", maj,
                    min);
            return false;
        }
        return true;
    }
}

/* Receivers: tok is a token the peer made for this context, consumed
 * once.  DecryptMessage decrypts inside tok (ours to change: the peer's
 * output buffer, released after the batch); gss_unwrap allocates its
 * output, which is released inside the timed region. */
static bool
recv_op(bpath *p, int op, size_t n, gss_buffer_desc *tok, char *why,
        size_t cap)
{
    if (p->hsmssp) {
        SecBuffer b[2];
        SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
        ULONG qop = 0;
        SECURITY_STATUS st;

        if (op == OP_UNWRAP) {
            b[0] =
                (SecBuffer){(ULONG)tok->length, SECBUFFER_STREAM, tok->value};
            b[1] = (SecBuffer){0, SECBUFFER_DATA, NULL};
            st = DecryptMessage(&p->ctx, &d, 0, &qop);
        } else {
            b[0] = (SecBuffer){(ULONG)n, SECBUFFER_DATA, msg};
            b[1] =
                (SecBuffer){(ULONG)tok->length, SECBUFFER_TOKEN, tok->value};
            st = VerifySignature(&p->ctx, &d, 0, &qop);
        }
        if (st == SEC_E_OK && op == OP_UNWRAP && b[1].cbBuffer != n)
            st = SEC_E_INTERNAL_ERROR;
        if (st != SEC_E_OK) {
            why_sspi(why, cap,
                     op == OP_UNWRAP ? "DecryptMessage" : "VerifySignature",
                     st);
            return false;
        }
        return true;
    } else {
        gss_buffer_desc in = {n, msg}, out = {0};
        OM_uint32 maj, min;
        int conf = 0;

        if (op == OP_UNWRAP)
            maj = gss_unwrap(&min, p->gctx, tok, &out, &conf, NULL);
        else
            maj = gss_verify_mic(&min, p->gctx, &in, tok, NULL);
        /* GSS_ERROR ignores supplementary bits; any of them (a gap, a
         * duplicate) means the batch did not arrive as made. */
        if (maj == GSS_S_COMPLETE && op == OP_UNWRAP && out.length != n)
            maj = GSS_S_FAILURE;
        gss_release_buffer(&min, &out);
        if (maj != GSS_S_COMPLETE) {
            why_gss(why, cap,
                    op == OP_UNWRAP ? "gss_unwrap" : "gss_verify_mic", maj,
                    min);
            return false;
        }
        return true;
    }
}

/* The peer's tokens for a receiving batch, in sequence order. */
static bool
peer_tokens(bpath *p, int op, size_t n, gss_buffer_desc *pool, size_t k,
            char *why, size_t cap)
{
    gss_buffer_desc in = {n, msg};
    OM_uint32 maj = GSS_S_COMPLETE, min = 0;
    int conf = 0;

    for (size_t i = 0; i < k; i++) {
        if (op == OP_UNWRAP)
            maj = gss_wrap(&min, p->peer, 1, GSS_C_QOP_DEFAULT, &in, &conf,
                           &pool[i]);
        else
            maj = gss_get_mic(&min, p->peer, GSS_C_QOP_DEFAULT, &in, &pool[i]);
        if (GSS_ERROR(maj)) {
            why_gss(why, cap, "peer token", maj, min);
            for (size_t j = 0; j <= i; j++)
                gss_release_buffer(&min, &pool[j]);
            return false;
        }
    }
    return true;
}

static void
release_pool(gss_buffer_desc *pool, size_t k)
{
    OM_uint32 min;

    for (size_t i = 0; i < k; i++)
        gss_release_buffer(&min, &pool[i]);
}

/* ---- the per-message context ------------------------------------------ */

static void
drop_msg_ctx(bpath *p)
{
    OM_uint32 min;

    if (!p->have_ctx)
        return;
    delete_one(p, &p->ctx, &p->gctx);
    gss_delete_sec_context(&min, &p->peer, GSS_C_NO_BUFFER);
    p->have_ctx = false;
}

/* A context of the e18 service: MIT initiator <-> this path's acceptor,
 * mutual authentication, the AP-REP checked by the initiator. */
static bool
make_msg_ctx(bpath *p, char *why, size_t cap)
{
    gss_buffer_desc t = {0};
    uint8_t rep[REP_MAX];
    size_t rep_len = 0;
    OM_uint32 min;
    bool ok;

    drop_msg_ctx(p);
    if (!mit_init(MSG_SVC, &p->peer, &t, why, cap))
        return false;
    ok =
        accept_one(p, MSG_SVC, &t, &p->ctx, &p->gctx, rep, &rep_len, why, cap);
    gss_release_buffer(&min, &t);
    if (ok)
        ok = mit_init_finish(MSG_SVC, &p->peer, rep, rep_len, why, cap);
    if (ok && p->hsmssp) {
        SECURITY_STATUS st =
            QueryContextAttributesA(&p->ctx, SECPKG_ATTR_SIZES, &p->sz);

        if (st != SEC_E_OK) {
            why_sspi(why, cap, "QueryContextAttributes(SIZES)", st);
            ok = false;
        } else if (p->sz.cbSecurityTrailer > sizeof(wtoken) ||
                   p->sz.cbMaxSignature > sizeof(sig) ||
                   p->sz.cbBlockSize > sizeof(wpad)) {
            snprintf(why, cap, "token sizes larger than the bench buffers");
            ok = false;
        }
    }
    if (!ok) {
        if (p->hsmssp)
            DeleteSecurityContext(&p->ctx);
        else
            gss_delete_sec_context(&min, &p->gctx, GSS_C_NO_BUFFER);
        gss_delete_sec_context(&min, &p->peer, GSS_C_NO_BUFFER);
        return false;
    }
    p->have_ctx = true;
    return true;
}

/* Both directions once at size n, checked against the peer: the peer's
 * Wrap and MIC tokens must be accepted, and this path's must be accepted
 * by the peer with the message intact.  Run before timing, so every
 * table cell is known to interoperate. */
static bool
check_msgs(bpath *p, size_t n, char *why, size_t cap)
{
    gss_buffer_desc pool[1], in = {n, msg}, tok, out = {0};
    OM_uint32 maj, min;
    int conf = 0;
    bool ok;

    for (int op = OP_UNWRAP; op <= OP_VERIFY; op += 2) {
        if (!peer_tokens(p, op, n, pool, 1, why, cap))
            return false;
        ok = recv_op(p, op, n, &pool[0], why, cap);
        release_pool(pool, 1);
        if (!ok)
            return false;
    }
    /* Acceptor -> peer: the peer must unwrap and verify. */
    if (p->hsmssp) {
        SecBuffer b[3];
        SecBufferDesc d = {SECBUFFER_VERSION, 3, b};
        uint8_t *all = malloc(n + 1024);
        size_t total;
        SECURITY_STATUS st;

        if (all == NULL) {
            snprintf(why, cap, "out of memory");
            return false;
        }
        memcpy(wdata, msg, n);
        b[0] = (SecBuffer){p->sz.cbSecurityTrailer, SECBUFFER_TOKEN, wtoken};
        b[1] = (SecBuffer){(ULONG)n, SECBUFFER_DATA, wdata};
        b[2] = (SecBuffer){p->sz.cbBlockSize, SECBUFFER_PADDING, wpad};
        st = EncryptMessage(&p->ctx, 0, &d, 0);
        if (st != SEC_E_OK) {
            why_sspi(why, cap, "EncryptMessage", st);
            free(all);
            return false;
        }
        total = b[0].cbBuffer + b[1].cbBuffer + b[2].cbBuffer;
        memcpy(all, wtoken, b[0].cbBuffer);
        memcpy(all + b[0].cbBuffer, wdata, b[1].cbBuffer);
        memcpy(all + b[0].cbBuffer + b[1].cbBuffer, wpad, b[2].cbBuffer);
        tok.value = all;
        tok.length = total;
        maj = gss_unwrap(&min, p->peer, &tok, &out, &conf, NULL);
        free(all);
        if (maj != GSS_S_COMPLETE || out.length != n || !conf ||
            memcmp(out.value, msg, n) != 0) {
            why_gss(why, cap, "peer gss_unwrap of EncryptMessage", maj, min);
            gss_release_buffer(&min, &out);
            return false;
        }
        gss_release_buffer(&min, &out);
        b[0] = (SecBuffer){(ULONG)n, SECBUFFER_DATA, msg};
        b[1] = (SecBuffer){p->sz.cbMaxSignature, SECBUFFER_TOKEN, sig};
        d.cBuffers = 2;
        st = MakeSignature(&p->ctx, 0, &d, 0);
        if (st != SEC_E_OK) {
            why_sspi(why, cap, "MakeSignature", st);
            return false;
        }
        tok.value = sig;
        tok.length = b[1].cbBuffer;
        maj = gss_verify_mic(&min, p->peer, &in, &tok, NULL);
    } else {
        maj = gss_wrap(&min, p->gctx, 1, GSS_C_QOP_DEFAULT, &in, &conf, &tok);
        if (maj == GSS_S_COMPLETE) {
            maj = gss_unwrap(&min, p->peer, &tok, &out, &conf, NULL);
            if (maj == GSS_S_COMPLETE &&
                (out.length != n || memcmp(out.value, msg, n) != 0))
                maj = GSS_S_BAD_SIG;
            gss_release_buffer(&min, &out);
        }
        gss_release_buffer(&min, &tok);
        if (maj == GSS_S_COMPLETE) {
            maj = gss_get_mic(&min, p->gctx, GSS_C_QOP_DEFAULT, &in, &tok);
            if (maj == GSS_S_COMPLETE)
                maj = gss_verify_mic(&min, p->peer, &in, &tok, NULL);
            gss_release_buffer(&min, &tok);
        }
    }
    if (maj != GSS_S_COMPLETE) {
        why_gss(why, cap, "peer check", maj, min);
        return false;
    }
    return true;
}

/* ---- setup ------------------------------------------------------------ */

/* Writes the hsmssp configuration of a path: its token, the default
 * enctype policy, a replay cache of its own under the work directory
 * (sized so that long runs do not fill it: entries live for the clock
 * skew, 300 s). */
static bool
write_config(bpath *p, const bench_opts *o, char *path, size_t cap)
{
    FILE *f;
    int r;

    snprintf(path, cap, "%s/hsmssp-%s.conf", o->work, p->name);
    f = fopen(path, "w");
    if (f == NULL) {
        snprintf(p->why, sizeof(p->why), "cannot write %.200s: %s", path,
                 strerror(errno));
        return false;
    }
    fchmod(fileno(f), 0600);
    r = fprintf(f,
                "[token]\n    module = %s\n    uri = %s\n%s%s%s"
                "    persistent_keys = %s\n"
                "[kerberos]\n    rcache = %s/rcache-%s\n"
                "    rcache_max_entries = 262144\n",
                p->module, p->uri, p->pin_file ? "    pin_file = " : "",
                p->pin_file ? p->pin_file : "", p->pin_file ? "\n" : "",
                p->persistent ? "true" : "false", o->work, p->name);
    if (fclose(f) != 0 || r < 0) {
        snprintf(p->why, sizeof(p->why), "cannot write %.200s", path);
        return false;
    }
    return true;
}

/* Imports every entry of the bench keytab into the path's token through
 * the runtime's own env (session objects must belong to the process's
 * token session; NSS softoken has no other kind): token objects on
 * SoftHSM2, as a deployment keeps them, session objects registered with
 * the env on NSS.  The bytes pass through a base_secret and are wiped. */
static bool
import_keytab(bpath *p, const char *keytab)
{
    krb5_context kc = NULL;
    krb5_keytab kt = NULL;
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    char *pname = NULL;
    bool ok = false, started = false;
    size_t n = 0;

    if (krb5_init_context(&kc) != 0) {
        snprintf(p->why, sizeof(p->why), "krb5_init_context failed");
        return false;
    }
    if (krb5_kt_resolve(kc, keytab, &kt) != 0 ||
        krb5_kt_start_seq_get(kc, kt, &cur) != 0) {
        snprintf(p->why, sizeof(p->why), "cannot read keytab %s", keytab);
        goto cleanup;
    }
    started = true;
    while (krb5_kt_next_entry(kc, kt, &ent, &cur) == 0) {
        kerb_ks_entry e;
        base_secret *k = NULL;
        hsm_key *key = NULL;
        hsmssp_err ret;

        memset(&e, 0, sizeof(e));
        if (krb5_unparse_name(kc, ent.principal, &pname) != 0) {
            krb5_free_keytab_entry_contents(kc, &ent);
            continue;
        }
        snprintf(e.principal, sizeof(e.principal), "%s", pname);
        krb5_free_unparsed_name(kc, pname);
        e.kvno = ent.vno;
        e.etype = ent.key.enctype;
        ret = base_secret_from(ent.key.contents, ent.key.length, &k);
        krb5_free_keytab_entry_contents(kc, &ent);
        if (ret == HSMSSP_OK)
            ret = kerb_ks_import(p->tok, &e, k, p->persistent, true, &key);
        base_secret_free(k);
        if (ret == HSMSSP_OK && !p->persistent) {
            ret = kerb_register_session_key(p->env, &e, key);
            if (ret == HSMSSP_OK)
                key = NULL; /* the env owns it now */
        }
        hsm_key_free(key);
        if (ret != HSMSSP_OK) {
            snprintf(p->why, sizeof(p->why), "import of %s: %s", e.principal,
                     hsmssp_last_error_detail());
            goto cleanup;
        }
        n++;
    }
    if (n == 0) {
        snprintf(p->why, sizeof(p->why), "keytab %s is empty", keytab);
        goto cleanup;
    }
    ok = true;

cleanup:
    if (started)
        krb5_kt_end_seq_get(kc, kt, &cur);
    if (kt != NULL)
        krb5_kt_close(kc, kt);
    krb5_free_context(kc);
    return ok;
}

/* Proves the replay cache is on: the second accept of one AP-REQ must
 * fail. */
static bool
check_replay(bpath *p, size_t si)
{
    gss_buffer_desc t = {0};
    gss_ctx_id_t peer = GSS_C_NO_CONTEXT, g = GSS_C_NO_CONTEXT;
    CtxtHandle h;
    char why[WHY];
    OM_uint32 min;
    bool ok;

    if (!mit_init(si, &peer, &t, p->svc_why[si], sizeof(p->svc_why[si])))
        return false;
    ok = accept_one(p, si, &t, &h, &g, NULL, NULL, p->svc_why[si],
                    sizeof(p->svc_why[si]));
    if (ok) {
        delete_one(p, &h, &g);
        if (accept_one(p, si, &t, &h, &g, NULL, NULL, why, sizeof(why))) {
            delete_one(p, &h, &g);
            snprintf(p->svc_why[si], sizeof(p->svc_why[si]),
                     "a replayed AP-REQ was accepted: replay cache off?");
            ok = false;
        }
    }
    gss_release_buffer(&min, &t);
    gss_delete_sec_context(&min, &peer, GSS_C_NO_BUFFER);
    return ok;
}

/* Acquires the accepting credentials of every service. */
static void
setup_creds(bpath *p)
{
    for (size_t si = 0; si < N_SVC; si++) {
        char princ[128];

        p->svc_ok[si] = false;
        if (p->hsmssp) {
            TimeStamp exp;
            SECURITY_STATUS st;

            snprintf(princ, sizeof(princ), "%s/localhost@HSMSSP.TEST",
                     svcs[si].name);
            st = AcquireCredentialsHandleA(princ, "Kerberos",
                                           SECPKG_CRED_INBOUND, NULL, NULL,
                                           NULL, NULL, &p->cred[si], &exp);
            if (st != SEC_E_OK) {
                why_sspi(p->svc_why[si], sizeof(p->svc_why[si]),
                         "AcquireCredentialsHandle", st);
                continue;
            }
            p->have_cred[si] = true;
        } else {
            OM_uint32 maj, min;
            gss_OID_set_desc mechs = {1, (gss_OID)gss_mech_krb5};

            maj = gss_acquire_cred(&min, target[si], GSS_C_INDEFINITE, &mechs,
                                   GSS_C_ACCEPT, &p->gcred[si], NULL, NULL);
            if (GSS_ERROR(maj)) {
                why_gss(p->svc_why[si], sizeof(p->svc_why[si]),
                        "gss_acquire_cred", maj, min);
                continue;
            }
        }
        p->svc_ok[si] = check_replay(p, si);
    }
}

/* An hsmssp path: configuration file, runtime env (HsmsspConfigureA makes
 * the next credential use it; credentials and contexts keep their env, so
 * the SoftHSM2 and NSS runtimes coexist after the second configure),
 * token, keytab import, credentials. */
static void
setup_hsmssp(bpath *p, const bench_opts *o)
{
    char conf[1024];
    SECURITY_STATUS st;

    if (access(p->module, R_OK) != 0) {
        snprintf(p->why, sizeof(p->why), "module %s missing", p->module);
        return;
    }
    if (!write_config(p, o, conf, sizeof(conf)))
        return;
    st = HsmsspConfigureA(conf);
    if (st != SEC_E_OK) {
        why_sspi(p->why, sizeof(p->why), "HsmsspConfigure", st);
        return;
    }
    if (sspi_runtime_env(&p->env) != HSMSSP_OK ||
        prov_env_token(p->env, &p->tok) != HSMSSP_OK) {
        snprintf(p->why, sizeof(p->why), "token: %s",
                 hsmssp_last_error_detail());
        return;
    }
    if (!import_keytab(p, o->keytab))
        return;
    setup_creds(p);
    p->ok = true;
}

static void
setup_mit(bpath *p)
{
    setup_creds(p);
    p->ok = true;
}

/* The initiator's targets, and the TGT plus service tickets moved into a
 * MEMORY ccache: gss_init_sec_context then finds its ticket without
 * reading a file, so the batches between timed loops are made quickly
 * (the initiator's cost is never timed). */
static bool
setup_initiator(void)
{
    krb5_context kc = NULL;
    krb5_ccache from = NULL, to = NULL;
    OM_uint32 maj, min;
    bool ok = false;

    for (size_t si = 0; si < N_SVC; si++) {
        char s[64];
        gss_buffer_desc nb;

        snprintf(s, sizeof(s), "%s@localhost", svcs[si].name);
        nb.value = s;
        nb.length = strlen(s);
        maj = gss_import_name(&min, &nb, GSS_C_NT_HOSTBASED_SERVICE,
                              &target[si]);
        if (GSS_ERROR(maj))
            return false;
    }
    if (krb5_init_context(&kc) != 0)
        return false;
    if (krb5_cc_default(kc, &from) != 0 ||
        krb5_cc_resolve(kc, "MEMORY:hsmssp-bench", &to) != 0)
        goto cleanup;
    {
        krb5_principal me = NULL;

        if (krb5_cc_get_principal(kc, from, &me) != 0) {
            fprintf(stderr, "bench: no TGT in the default ccache "
                            "(KRB5CCNAME): run kinit first\n");
            goto cleanup;
        }
        if (krb5_cc_initialize(kc, to, me) != 0 ||
            krb5_cc_copy_creds(kc, from, to) != 0) {
            krb5_free_principal(kc, me);
            goto cleanup;
        }
        krb5_free_principal(kc, me);
    }
    maj = gss_krb5_ccache_name(&min, "MEMORY:hsmssp-bench", NULL);
    ok = !GSS_ERROR(maj);

cleanup:
    /* A MEMORY cache stays in the process until destroyed; closing the
     * handle keeps its contents for gss_init_sec_context. */
    if (to != NULL)
        krb5_cc_close(kc, to);
    if (from != NULL)
        krb5_cc_close(kc, from);
    krb5_free_context(kc);
    return ok;
}

/* ---- measuring -------------------------------------------------------- */

/* One slice of accept on path p, service si: batches of ACCEPT_BATCH
 * fresh AP-REQs, each batch accepted under the clock, then its contexts
 * deleted under a second clock.
 *
 * Why batches: each AP-REQ can be accepted once (replay caches), so they
 * are made right before they are used, with the clock stopped; 32 keeps
 * the initiator contexts and the acceptor contexts alive at once few (a
 * server with many live contexts is the memory run's subject), and two
 * clock readings per 32 accepts cost nothing.  Deletion is timed apart
 * because hsmssp destroys token objects there that MIT has no
 * counterpart of: the two numbers together are the cost of one login. */
static void
accept_slice(bpath *p, size_t si, double slice)
{
    gss_buffer_desc t[ACCEPT_BATCH];
    gss_ctx_id_t peers[ACCEPT_BATCH];
    CtxtHandle hs[ACCEPT_BATCH];
    gss_ctx_id_t gs[ACCEPT_BATCH];
    double spent = 0;
    char why[WHY];
    OM_uint32 min;

    /* At least one batch: a slice of 0 is the warm-up. */
    while (!p->acc[si].failed) {
        size_t k = 0, done = 0;
        uint64_t c0, c1, c2;
        double t0, t1, t2;

        for (k = 0; k < ACCEPT_BATCH; k++) {
            if (!mit_init(si, &peers[k], &t[k], why, sizeof(why)))
                break;
        }
        if (k < ACCEPT_BATCH) {
            fprintf(stderr, "bench: initiator: %s\n", why);
            p->acc[si].failed = true;
            snprintf(p->svc_why[si], sizeof(p->svc_why[si]), "%s", why);
        }
        c0 = calls(p);
        t0 = now();
        for (done = 0; done < k; done++) {
            if (!accept_one(p, si, &t[done], &hs[done], &gs[done], NULL, NULL,
                            why, sizeof(why)))
                break;
        }
        t1 = now();
        c1 = calls(p);
        for (size_t j = 0; j < done; j++)
            delete_one(p, &hs[j], &gs[j]);
        t2 = now();
        c2 = calls(p);
        if (done < k) {
            fprintf(stderr, "bench: %s accept %s: %s\n", p->name,
                    svcs[si].name, why);
            p->acc[si].failed = true;
            snprintf(p->svc_why[si], sizeof(p->svc_why[si]), "%s", why);
        } else {
            p->acc[si].ops += done;
            p->acc[si].secs += t1 - t0;
            p->acc[si].calls += c1 - c0;
            p->del[si].ops += done;
            p->del[si].secs += t2 - t1;
            p->del[si].calls += c2 - c1;
        }
        spent += t2 - t0;
        for (size_t j = 0; j < k; j++) {
            gss_release_buffer(&min, &t[j]);
            gss_delete_sec_context(&min, &peers[j], GSS_C_NO_BUFFER);
        }
        if (spent >= slice)
            break;
    }
}

/* Tokens per batch: about 1 MiB of messages, 16..MAX_BATCH tokens.  The
 * peer's tokens of one batch are alive at once, so the bound keeps them
 * in cache-sized memory at 64 KiB; 256 at the small sizes makes the two
 * clock readings per batch negligible against ~1-30 us per token. */
static size_t
msg_batch(size_t n)
{
    size_t k = (1024u * 1024u) / n;

    return k < 16 ? 16 : k > MAX_BATCH ? MAX_BATCH : k;
}

/* Takes a message cell out of the table with its reason. */
static void
msg_fail(bpath *p, int op, size_t si, const char *why)
{
    char why2[WHY];

    fprintf(stderr, "bench: %s %s %zu B: %s\n", p->name, mop_short[op],
            sizes[si], why);
    p->msg[op][si].failed = true;
    snprintf(p->msg_why[op][si], sizeof(p->msg_why[op][si]), "%s", why);
    /* A receive failure leaves the peer's numbers ahead of the window:
     * start the next cells on a new context. */
    if (!make_msg_ctx(p, why2, sizeof(why2))) {
        fprintf(stderr, "bench: %s: new context: %s\n", p->name, why2);
        p->ok = false;
        snprintf(p->why, sizeof(p->why), "%s", why2);
    }
}

/* One slice of a per-message cell on path p: batches of the operation
 * on the path's message context.  Receiving operations consume a batch
 * the peer made just before, in its order; sending operations need no
 * input (the data buffer is reused).  The PKCS#11 calls are counted over
 * the same timed batches. */
static void
msg_slice(bpath *p, int op, size_t si, double slice)
{
    static gss_buffer_desc pool[MAX_BATCH];
    size_t n = sizes[si], k = msg_batch(n);
    bool recv = op == OP_UNWRAP || op == OP_VERIFY;
    double spent = 0;
    char why[WHY];
    cell *c = &p->msg[op][si];

    while (!c->failed && p->ok) {
        size_t done;
        uint64_t c0;
        double t0, t1;

        if (recv && !peer_tokens(p, op, n, pool, k, why, sizeof(why))) {
            msg_fail(p, op, si, why);
            return;
        }
        c0 = calls(p);
        t0 = now();
        if (recv) {
            for (done = 0; done < k; done++)
                if (!recv_op(p, op, n, &pool[done], why, sizeof(why)))
                    break;
        } else {
            for (done = 0; done < k; done++)
                if (!send_op(p, op, n, why, sizeof(why)))
                    break;
        }
        t1 = now();
        if (recv)
            release_pool(pool, k);
        if (done < k) {
            msg_fail(p, op, si, why);
            return;
        }
        c->ops += k;
        c->secs += t1 - t0;
        c->calls += calls(p) - c0;
        spent += t1 - t0;
        if (spent >= slice)
            break;
    }
}

/* ---- memory per context ----------------------------------------------- */

/* Token objects a context's keys hold right now: the per-message key,
 * the per-usage keys derived from it that the token's cache still holds,
 * and a delegated TGT's key.  Read through the handle table, as the
 * interop test does; an MIT context has none. */
static size_t
ctx_objects(CtxtHandle *h)
{
    sspi_slot *s = sspi_handle_get(h, SSPI_CTX, false);
    size_t n = 0;
    unsigned long objs[64];

    if (s == NULL)
        return 0;
    {
        kerb_ctx *c = s->obj;

        if (c->key != NULL)
            n += hsm_key_objects(c->key, objs, BASE_ARRAY_LEN(objs));
        if (c->deleg != NULL && c->deleg->key != NULL)
            n += hsm_key_objects(c->deleg->key, objs, BASE_ARRAY_LEN(objs));
    }
    sspi_handle_put(s);
    return n;
}

/* One DecryptMessage and one VerifySignature of the peer's tokens, one
 * EncryptMessage and one MakeSignature, on context (h, g); the helpers
 * work on p's message context, so it points there for the moment. */
static bool
use_ctx(bpath *p, CtxtHandle *h, gss_ctx_id_t g, gss_buffer_desc *wt,
        gss_buffer_desc *mt, size_t mlen, char *why, size_t cap)
{
    CtxtHandle save_h = p->ctx;
    gss_ctx_id_t save_g = p->gctx;
    bool r;

    p->ctx = *h;
    p->gctx = g;
    r = recv_op(p, OP_UNWRAP, mlen, wt, why, cap) &&
        recv_op(p, OP_VERIFY, mlen, mt, why, cap) &&
        send_op(p, OP_WRAP, mlen, why, cap) &&
        send_op(p, OP_MIC, mlen, why, cap);
    p->ctx = save_h;
    p->gctx = save_g;
    return r;
}

/* Each peer's next Wrap and MIC token over msg[0..mlen). */
static bool
peer_pair(gss_ctx_id_t peer, size_t mlen, gss_buffer_desc *wt,
          gss_buffer_desc *mt)
{
    gss_buffer_desc in = {mlen, msg};
    OM_uint32 min;
    int conf = 0;

    return !GSS_ERROR(
               gss_wrap(&min, peer, 1, GSS_C_QOP_DEFAULT, &in, &conf, wt)) &&
           !GSS_ERROR(gss_get_mic(&min, peer, GSS_C_QOP_DEFAULT, &in, mt));
}

/* Adds the time of item i (of n) to the mean of the first or the last
 * MEM_EDGE items, in microseconds. */
static void
edge_time(size_t i, size_t n, double secs, double *first, double *last)
{
    if (i < MEM_EDGE)
        *first += secs * 1e6 / MEM_EDGE;
    if (i >= n - MEM_EDGE)
        *last += secs * 1e6 / MEM_EDGE;
}

/* N contexts of the e18 service, established and then used once in each
 * direction, on path p.  Everything the peers need (their contexts, the
 * AP-REQs, their Wrap and MIC tokens) is made outside the measured
 * windows, so the deltas hold only what the acceptor keeps:
 *   heap_accept   (heap after N accepts - before) / N
 *   heap_use      what one DecryptMessage, VerifySignature,
 *                 EncryptMessage and MakeSignature (1 KiB) add per
 *                 context (derived keys made on first use, ...)
 *   heap_residue  heap left after the N deletions, per context (0 when
 *                 nothing stays behind or is cached)
 * The heap counts the in-process token's memory too (SoftHSM2 and NSS
 * keep session objects in the process). */
static void
measure_memory(bpath *p, size_t n, memres *m)
{
    const size_t mlen = 1024;
    gss_ctx_id_t *peers = calloc(n, sizeof(*peers));
    gss_ctx_id_t *gs = calloc(n, sizeof(*gs));
    CtxtHandle *hs = calloc(n, sizeof(*hs));
    gss_buffer_desc *req = calloc(n, sizeof(*req));
    gss_buffer_desc *wt = calloc(n, sizeof(*wt));
    gss_buffer_desc *mt = calloc(n, sizeof(*mt));
    uint8_t *reps = malloc(n * REP_MAX);
    size_t *rep_len = calloc(n, sizeof(*rep_len));
    size_t made = 0, accepted = 0, i;
    size_t h0 = 0, h1 = 0, h2 = 0, h3 = 0, h4 = 0, s0 = 0, s1 = 0, s3 = 0;
    double objs_acc = 0, objs_use = 0;
    uint64_t c0;
    char why[WHY];
    OM_uint32 min;

    if (peers == NULL || gs == NULL || hs == NULL || req == NULL ||
        wt == NULL || mt == NULL || reps == NULL || rep_len == NULL)
        goto cleanup;
    for (made = 0; made < n; made++)
        if (!mit_init(MSG_SVC, &peers[made], &req[made], why, sizeof(why)))
            goto fail;

    h0 = heap_bytes();
    s0 = base_secmem_in_use();
    for (accepted = 0; accepted < n; accepted++) {
        double t0 = now();

        if (!accept_one(p, MSG_SVC, &req[accepted], &hs[accepted],
                        &gs[accepted], reps + accepted * REP_MAX,
                        &rep_len[accepted], why, sizeof(why)))
            goto fail;
        edge_time(accepted, n, now() - t0, &m->us_accept_first,
                  &m->us_accept_last);
    }
    h1 = heap_bytes();
    s1 = base_secmem_in_use();
    if (p->hsmssp)
        for (i = 0; i < n; i++)
            objs_acc += (double)ctx_objects(&hs[i]);

    /* The peers finish and make one Wrap and one MIC token each. */
    for (i = 0; i < n; i++) {
        if (!mit_init_finish(MSG_SVC, &peers[i], reps + i * REP_MAX,
                             rep_len[i], why, sizeof(why)))
            goto fail;
        if (!peer_pair(peers[i], mlen, &wt[i], &mt[i])) {
            snprintf(why, sizeof(why), "peer tokens");
            goto fail;
        }
    }

    h2 = heap_bytes();
    c0 = calls(p);
    for (i = 0; i < n; i++) {
        double t0 = now();

        if (!use_ctx(p, &hs[i], gs[i], &wt[i], &mt[i], mlen, why, sizeof(why)))
            goto fail;
        edge_time(i, n, now() - t0, &m->us_use_first, &m->us_use_last);
    }
    h3 = heap_bytes();
    s3 = base_secmem_in_use();
    m->calls_use = (double)(calls(p) - c0) / (double)n;
    if (p->hsmssp)
        for (i = 0; i < n; i++)
            objs_use += (double)ctx_objects(&hs[i]);

    /* A second round over all N contexts in turn, as a server with N
     * active clients does: keys that a bounded cache dropped since the
     * first round must be made again. */
    for (i = 0; i < n; i++) {
        gss_release_buffer(&min, &wt[i]);
        gss_release_buffer(&min, &mt[i]);
        if (!peer_pair(peers[i], mlen, &wt[i], &mt[i])) {
            snprintf(why, sizeof(why), "peer tokens");
            goto fail;
        }
    }
    {
        uint64_t c1 = calls(p);
        double t0 = now();

        for (i = 0; i < n; i++)
            if (!use_ctx(p, &hs[i], gs[i], &wt[i], &mt[i], mlen, why,
                         sizeof(why)))
                goto fail;
        m->us_use2 = (now() - t0) * 1e6 / (double)n;
        m->calls_use2 = (double)(calls(p) - c1) / (double)n;
    }

    for (i = 0; i < n; i++)
        delete_one(p, &hs[i], &gs[i]);
    accepted = 0;
    h4 = heap_bytes();

    m->n = n;
    m->heap_accept = ((double)h1 - (double)h0) / (double)n;
    m->heap_use = ((double)h3 - (double)h2) / (double)n;
    /* The peers' growth between h1 and h2 (their finished contexts and
     * tokens) is still there at h4: it is not the acceptor's. */
    m->heap_residue =
        ((double)h4 - (double)h0 - ((double)h2 - (double)h1)) / (double)n;
    m->secmem_accept = ((double)s1 - (double)s0) / (double)n;
    m->secmem_use = ((double)s3 - (double)s0) / (double)n;
    m->objs_accept = objs_acc / (double)n;
    m->objs_use = objs_use / (double)n;
    m->done = true;
    goto cleanup;

fail:
    fprintf(stderr, "bench: %s memory: %s\n", p->name, why);
cleanup:
    for (i = 0; i < accepted; i++)
        delete_one(p, &hs[i], &gs[i]);
    for (i = 0; i < made; i++) {
        gss_delete_sec_context(&min, &peers[i], GSS_C_NO_BUFFER);
        gss_release_buffer(&min, &req[i]);
        if (wt != NULL)
            gss_release_buffer(&min, &wt[i]);
        if (mt != NULL)
            gss_release_buffer(&min, &mt[i]);
    }
    free(peers);
    free(gs);
    free(hs);
    free(req);
    free(wt);
    free(mt);
    free(reps);
    free(rep_len);
}

/* ---- report ----------------------------------------------------------- */

static double
rate(const cell *c)
{
    if (c->failed || c->secs <= 0 || c->ops == 0)
        return 0;
    return (double)c->ops / c->secs;
}

static void
size_label(size_t n, char *buf, size_t cap)
{
    if (n >= 1024)
        snprintf(buf, cap, "%zu KiB", n / 1024);
    else
        snprintf(buf, cap, "%zu B", n);
}

/* "  12345 0.45x" or "n/a": the rate and its ratio to mit's. */
static void
print_rate(double r, double base, bool is_base)
{
    if (r <= 0)
        printf(" %15s", "n/a");
    else if (is_base || base <= 0)
        printf(" %8.0f       ", r);
    else
        printf(" %8.0f %5.2fx", r, r / base);
}

/* A byte delta for "%.0f": values that round to zero print as 0, not as
 * "-0" (the deltas are noisy by a few bytes either way). */
static double
no_minus_zero(double v)
{
    return v > -0.5 && v < 0.5 ? 0.0 : v;
}

/* Mean PKCS#11 calls per operation of a cell, in a column of width w. */
static void
print_calls(const cell *c, int w)
{
    if (c->ops == 0)
        printf(" %*s", w, "n/a");
    else
        printf(" %*.1f", w, (double)c->calls / (double)c->ops);
}

/* Aims of issue #3 for one (path, op, size) or 0 when there is none:
 * SoftHSM2 accept >= 0.5x; wrap and unwrap >= 1.5x at 16 and 64 KiB,
 * >= 0.4x at 1 KiB, >= 0.1x at 64 B on SoftHSM2; >= 1x at 1 KiB and
 * above on NSS softoken. */
static double
msg_aim(int pi, int op, size_t n)
{
    if (op != OP_WRAP && op != OP_UNWRAP)
        return 0;
    if (pi == P_SOFTHSM)
        return n >= 16 * 1024 ? 1.5 : n >= 1024 ? 0.4 : 0.1;
    if (pi == P_NSS)
        return n >= 1024 ? 1.0 : 0;
    return 0;
}

static void
print_report(const bench_opts *o)
{
    char lab[32];
    size_t i, si;
    int op;
    bool any_mem = false;

    printf("\nKerberos acceptor: hsmssp's SSPI vs MIT's GSS-API, same "
           "keytab and KDC;\n%.2f s per cell in %d interleaved rounds; "
           "operations per second (ratio to mit)\n",
           o->seconds, ROUNDS);

    printf("\naccept: AcceptSecurityContext vs gss_accept_sec_context "
           "(fresh AP-REQs,\nmutual auth, replay caches on); then "
           "DeleteSecurityContext vs\ngss_delete_sec_context\n%-10s",
           "");
    for (si = 0; si < N_SVC; si++) {
        snprintf(lab, sizeof(lab), "%s %s", svcs[si].name,
                 svcs[si].etype_name);
        printf(" %15s", lab);
    }
    printf("   | delete, e18\n");
    for (i = 0; i < N_PATHS; i++) {
        const bpath *p = &paths[i];

        printf("  %-8s", p->name);
        for (si = 0; si < N_SVC; si++)
            print_rate(p->ok ? rate(&p->acc[si]) : 0,
                       rate(&paths[P_MIT].acc[si]), i == P_MIT);
        printf("   |");
        print_rate(p->ok ? rate(&p->del[0]) : 0, rate(&paths[P_MIT].del[0]),
                   i == P_MIT);
        putchar('\n');
    }

    for (op = 0; op < N_MOPS; op++) {
        printf("\n%s\n%-10s", mop_titles[op], "");
        for (si = 0; si < N_SIZES; si++) {
            size_label(sizes[si], lab, sizeof(lab));
            printf(" %15s", lab);
        }
        putchar('\n');
        for (i = 0; i < N_PATHS; i++) {
            const bpath *p = &paths[i];

            printf("  %-8s", p->name);
            for (si = 0; si < N_SIZES; si++)
                print_rate(rate(&p->msg[op][si]),
                           rate(&paths[P_MIT].msg[op][si]), i == P_MIT);
            putchar('\n');
        }
    }

    /* PKCS#11 calls per operation: the cost model's main lever on
     * SoftHSM2 (DESIGN sec. 3: each Init+Op pair costs several us
     * whatever the size). */
    printf("\nPKCS#11 calls per operation (means over the timed "
           "operations)\n%-17s",
           "");
    for (si = 0; si < N_SVC; si++) {
        snprintf(lab, sizeof(lab), "accept %s", svcs[si].name);
        printf(" %10s", lab);
    }
    printf(" %10s\n", "delete e18");
    for (i = 0; i < N_PATHS; i++) {
        const bpath *p = &paths[i];

        if (!p->hsmssp || !p->ok)
            continue;
        printf("  %-15s", p->name);
        for (si = 0; si < N_SVC; si++)
            print_calls(&p->acc[si], 10);
        print_calls(&p->del[0], 10);
        putchar('\n');
    }
    printf("%-17s", "");
    for (si = 0; si < N_SIZES; si++) {
        size_label(sizes[si], lab, sizeof(lab));
        printf(" %10s", lab);
    }
    putchar('\n');
    for (i = 0; i < N_PATHS; i++) {
        const bpath *p = &paths[i];

        if (!p->hsmssp || !p->ok)
            continue;
        for (op = 0; op < N_MOPS; op++) {
            printf("  %-8s %-6s", op == 0 ? p->name : "", mop_short[op]);
            for (si = 0; si < N_SIZES; si++)
                print_calls(&p->msg[op][si], 10);
            putchar('\n');
        }
    }

    /* Memory: only when the memory run happened. */
    for (i = 0; i < N_PATHS && !any_mem; i++)
        any_mem = paths[i].mem[0].done || paths[i].mem[1].done;
    if (!any_mem)
        goto aims;
    printf("\nHost memory per established e18 context, %zu contexts "
           "alive (heap: mallinfo2()\nin-use delta per context, the "
           "in-process token's own memory included;\nsecmem: "
           "base_secmem_in_use(); objects: token objects of the "
           "context's keys)\n",
           o->contexts);
    printf("%-10s %9s %9s %9s %9s %8s %8s %8s\n", "", "heap", "heap",
           "heap left", "secmem", "objects", "objects", "calls");
    printf("%-10s %9s %9s %9s %9s %8s %8s %8s\n", "", "accept", "+1st uses",
           "deleted", "acc/use", "accept", "used", "1st uses");
    for (i = 0; i < N_PATHS; i++) {
        const bpath *p = &paths[i];
        const memres *m = &p->mem[0];
        char sm[32];

        printf("  %-8s", p->name);
        if (!m->done) {
            printf(" %9s\n", "n/a");
            continue;
        }
        if (p->hsmssp)
            snprintf(sm, sizeof(sm), "%.0f/%.0f", m->secmem_accept,
                     m->secmem_use);
        else
            snprintf(sm, sizeof(sm), "-");
        printf(" %7.0f B %7.0f B %7.0f B %9s", no_minus_zero(m->heap_accept),
               no_minus_zero(m->heap_use), no_minus_zero(m->heap_residue), sm);
        if (p->hsmssp)
            printf(" %8.1f %8.1f %8.1f\n", m->objs_accept, m->objs_use,
                   m->calls_use);
        else
            printf(" %8s %8s %8s\n", "-", "-", "-");
    }

    printf("\nCost with many live contexts (microseconds, one pass, not "
           "interleaved): accept,\nand the four first uses (unwrap, "
           "verify, wrap, mic at 1 KiB), of the first %d\ncontexts and "
           "of the last %d of N; then the four again on all N in turn, "
           "with\ntheir PKCS#11 calls\n"
           "%-15s %9s %9s %9s %9s %9s %7s\n",
           MEM_EDGE, MEM_EDGE, "", "accept", "accept", "1st use", "1st use",
           "2nd use", "calls");
    printf("%-15s %9s %9s %9s %9s %9s %7s\n", "", "first", "last", "first",
           "last", "all N", "2nd use");
    for (int k = 0; k < 2; k++) {
        for (i = 0; i < N_PATHS; i++) {
            const bpath *p = &paths[i];
            const memres *m = &p->mem[k];
            char lab2[32];

            if (!m->done)
                continue;
            snprintf(lab2, sizeof(lab2), "%s N=%zu", p->name, m->n);
            printf("  %-13s %9.1f %9.1f %9.1f %9.1f %9.1f", lab2,
                   m->us_accept_first, m->us_accept_last, m->us_use_first,
                   m->us_use_last, m->us_use2);
            if (p->hsmssp)
                printf(" %7.1f\n", m->calls_use2);
            else
                printf(" %7s\n", "-");
        }
    }

aims:
    printf("\nAims of issue #3 (reported, not asserted)\n");
    {
        double r = rate(&paths[P_SOFTHSM].acc[0]);
        double b = rate(&paths[P_MIT].acc[0]);

        if (r > 0 && b > 0)
            printf("  %-8s accept e18     %5.2fx  aim >= 0.50x  %s\n",
                   "softhsm2", r / b, r / b >= 0.5 ? "met" : "MISSED");
        else
            printf("  %-8s accept e18       n/a   aim >= 0.50x\n", "softhsm2");
    }
    for (i = 0; i < N_PATHS; i++) {
        for (op = OP_WRAP; op <= OP_UNWRAP; op++) {
            for (si = 0; si < N_SIZES; si++) {
                double aim = msg_aim((int)i, op, sizes[si]);
                double r = rate(&paths[i].msg[op][si]);
                double b = rate(&paths[P_MIT].msg[op][si]);

                if (aim <= 0)
                    continue;
                size_label(sizes[si], lab, sizeof(lab));
                if (r > 0 && b > 0)
                    printf("  %-8s %-6s %-7s %5.2fx  aim >= %4.2fx  %s\n",
                           paths[i].name, mop_short[op], lab, r / b, aim,
                           r / b >= aim ? "met" : "MISSED");
                else
                    printf("  %-8s %-6s %-7s   n/a   aim >= %4.2fx\n",
                           paths[i].name, mop_short[op], lab, aim);
            }
        }
    }

    /* MIT in microseconds, to compare this machine with the figures in
     * issue #3 (measured on a quiet machine). */
    printf("\nmit, microseconds per operation at 64 B/1 KiB/16 KiB/64 KiB "
           "(issue #3 measured\naccept ~68; wrap 1.8/7.8/104/417; unwrap "
           "1.2/6.7/91/370):\n");
    if (rate(&paths[P_MIT].acc[0]) > 0)
        printf("  accept e18 %.1f\n", 1e6 / rate(&paths[P_MIT].acc[0]));
    for (op = 0; op < N_MOPS; op++) {
        if (rate(&paths[P_MIT].msg[op][0]) <= 0 &&
            rate(&paths[P_MIT].msg[op][N_SIZES - 1]) <= 0)
            continue;
        printf("  %-6s", mop_short[op]);
        for (si = 0; si < N_SIZES; si++) {
            double r = rate(&paths[P_MIT].msg[op][si]);

            if (r > 0)
                printf("%c%.1f", si ? '/' : ' ', 1e6 / r);
            else
                printf("%cn/a", si ? '/' : ' ');
        }
        putchar('\n');
    }

    for (i = 0; i < N_PATHS; i++) {
        const bpath *p = &paths[i];

        if (!p->ok)
            printf("\n%s not measured: %s", p->name, p->why);
        for (si = 0; si < N_SVC; si++)
            if (p->ok && (!p->svc_ok[si] || p->acc[si].failed))
                printf("\n%s %s: %s", p->name, svcs[si].name, p->svc_why[si]);
        for (op = 0; op < N_MOPS; op++)
            for (si = 0; si < N_SIZES; si++)
                if (p->msg[op][si].failed)
                    printf("\n%s %s %zu B: %s", p->name, mop_short[op],
                           sizes[si], p->msg_why[op][si]);
    }
    printf("\nTimings move 10-30%% between runs on a busy machine; they are "
           "reported, never\nasserted.\n");
}

/* ---- main ------------------------------------------------------------- */

/* Whether word is in the comma-separated list (NULL: every word is).  The
 * filters let one cell run alone under perf or callgrind. */
static bool
selected(const char *list, const char *word)
{
    size_t n = strlen(word);
    const char *q = list;

    if (list == NULL)
        return true;
    while ((q = strstr(q, word)) != NULL) {
        if ((q == list || q[-1] == ',') && (q[n] == ',' || q[n] == '\0'))
            return true;
        q += n;
    }
    return false;
}

/* After a warm-up batch: its numbers go, a failure stays. */
static void
cell_reset(cell *c)
{
    c->ops = 0;
    c->secs = 0;
    c->calls = 0;
}

static const char usage_text[] =
    "usage: hsmssp_bench_accept --keytab FILE --work DIR [--seconds S]\n"
    "           [--contexts N] [--many N] [--softhsm-module PATH]\n"
    "           [--softhsm-token URI]\n"
    "           [--pin-file FILE] [--nss-module PATH] [--nss-token URI]\n"
    "           [--paths softhsm2,nss,mit]\n"
    "           [--cells accept,wrap,unwrap,mic,verify,memory]\n"
    "           [--sizes 64,1024,16384,65536] [--services e18,e17,e20]\n"
    "KRB5_CONFIG must name the test realm's krb5.conf and KRB5CCNAME hold a\n"
    "TGT; SOFTHSM2_CONF must name the bench token's configuration.\n"
    "bench/run.sh sets all of this up.\n";

static int
parse_opts(int argc, char **argv, bench_opts *o)
{
    static const struct option longopts[] = {
        {"seconds", required_argument, NULL, 's'},
        {"contexts", required_argument, NULL, 'c'},
        {"many", required_argument, NULL, 'M'},
        {"paths", required_argument, NULL, 'P'},
        {"cells", required_argument, NULL, 'C'},
        {"sizes", required_argument, NULL, 'S'},
        {"services", required_argument, NULL, 'V'},
        {"keytab", required_argument, NULL, 'k'},
        {"work", required_argument, NULL, 'w'},
        {"softhsm-module", required_argument, NULL, 'm'},
        {"softhsm-token", required_argument, NULL, 't'},
        {"pin-file", required_argument, NULL, 'p'},
        {"nss-module", required_argument, NULL, 'n'},
        {"nss-token", required_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end;
    unsigned long v;

    memset(o, 0, sizeof(*o));
    o->seconds = 0.6;
    o->contexts = 128;
    o->many = 512;
    o->softhsm_module = "/usr/lib/softhsm/libsofthsm2.so";
    o->softhsm_token = "pkcs11:token=hsmssp-bench";
    o->nss_module = "/usr/lib/x86_64-linux-gnu/libsoftokn3.so";
    o->nss_token = "pkcs11:token=NSS%20Generic%20Crypto%20Services";
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            errno = 0;
            o->seconds = strtod(optarg, &end);
            if (errno != 0 || *end != '\0' || o->seconds <= 0 ||
                o->seconds > 60) {
                fputs("bench: --seconds wants a number in (0, 60]\n", stderr);
                return 2;
            }
            break;
        case 'c':
            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || v < 2 * MEM_EDGE || v > 4096) {
                fputs("bench: --contexts wants 64..4096\n", stderr);
                return 2;
            }
            o->contexts = v;
            break;
        case 'M':
            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || v < 2 * MEM_EDGE || v > 4096) {
                fputs("bench: --many wants 64..4096\n", stderr);
                return 2;
            }
            o->many = v;
            break;
        case 'P':
            o->paths = optarg;
            break;
        case 'C':
            o->cells = optarg;
            break;
        case 'S':
            o->sizes = optarg;
            break;
        case 'V':
            o->services = optarg;
            break;
        case 'k':
            o->keytab = optarg;
            break;
        case 'w':
            o->work = optarg;
            break;
        case 'm':
            o->softhsm_module = optarg;
            break;
        case 't':
            o->softhsm_token = optarg;
            break;
        case 'p':
            o->softhsm_pin_file = optarg;
            break;
        case 'n':
            o->nss_module = optarg;
            break;
        case 'N':
            o->nss_token = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 1;
        default:
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (o->keytab == NULL || o->work == NULL) {
        fputs(usage_text, stderr);
        return 2;
    }
    return 0;
}

/* The environment MIT's acceptor reads: the bench keytab and a replay
 * cache directory of the run's own (the default rcache type, "dfl",
 * writes KRB5RCACHEDIR/krb5_<uid>.rcache2). */
static bool
setup_env(const bench_opts *o)
{
    char buf[1200];

    snprintf(buf, sizeof(buf), "FILE:%s", o->keytab);
    if (setenv("KRB5_KTNAME", buf, 1) != 0)
        return false;
    snprintf(buf, sizeof(buf), "%s/mit-rcache", o->work);
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return false;
    return setenv("KRB5RCACHEDIR", buf, 1) == 0;
}

static void
teardown(void)
{
    OM_uint32 min;

    for (size_t i = 0; i < N_PATHS; i++) {
        bpath *p = &paths[i];

        drop_msg_ctx(p);
        for (size_t si = 0; si < N_SVC; si++) {
            if (p->have_cred[si])
                FreeCredentialsHandle(&p->cred[si]);
            p->have_cred[si] = false;
            if (p->gcred[si] != GSS_C_NO_CREDENTIAL)
                gss_release_cred(&min, &p->gcred[si]);
        }
    }
    for (size_t i = 0; i < N_PATHS; i++) {
        prov_env_unref(paths[i].env);
        paths[i].env = NULL;
        paths[i].tok = NULL;
    }
    for (size_t si = 0; si < N_SVC; si++)
        gss_release_name(&min, &target[si]);
}

int
main(int argc, char **argv)
{
    bench_opts o;
    double slice;
    size_t i, si;
    int op, r;
    char why[WHY];

    r = parse_opts(argc, argv, &o);
    if (r != 0)
        return r == 1 ? 0 : 2;
    if (getrandom(msg, sizeof(msg), 0) != (ssize_t)sizeof(msg) ||
        !setup_env(&o)) {
        fprintf(stderr, "bench: setup failed\n");
        return 1;
    }
    if (!setup_initiator()) {
        fprintf(stderr, "bench: the MIT initiator cannot start (TGT in "
                        "KRB5CCNAME? KRB5_CONFIG?)\n");
        return 1;
    }
    paths[P_SOFTHSM].module = o.softhsm_module;
    paths[P_SOFTHSM].uri = o.softhsm_token;
    paths[P_SOFTHSM].pin_file = o.softhsm_pin_file;
    paths[P_NSS].module = o.nss_module;
    paths[P_NSS].uri = o.nss_token;
    for (i = 0; i < N_PATHS; i++) {
        bpath *p = &paths[i];

        if (!selected(o.paths, p->name))
            snprintf(p->why, sizeof(p->why), "not selected (--paths)");
        else if (p->hsmssp)
            setup_hsmssp(p, &o);
        else
            setup_mit(p);
    }

    /* Message contexts, checked in both directions at every size. */
    for (i = 0; i < N_PATHS; i++) {
        bpath *p = &paths[i];

        if (!p->ok)
            continue;
        if (!make_msg_ctx(p, why, sizeof(why))) {
            p->ok = false;
            snprintf(p->why, sizeof(p->why), "%s", why);
            continue;
        }
        for (si = 0; si < N_SIZES && p->ok; si++) {
            if (!check_msgs(p, sizes[si], why, sizeof(why))) {
                p->ok = false;
                snprintf(p->why, sizeof(p->why), "%zu B: %.280s", sizes[si],
                         why);
            }
        }
    }
    for (i = 0; i < N_PATHS; i++) {
        const bpath *p = &paths[i];

        printf("%-8s %s%s\n", p->name, p->desc,
               p->ok ? "" : "  (unavailable, see below)");
        for (si = 0; si < N_SVC && p->ok; si++)
            if (p->svc_ok[si])
                printf("         %s: replay cache on (a replayed AP-REQ "
                       "was refused)\n",
                       svcs[si].name);
    }
    fflush(stdout);

    /* Accept: warm-up (first use of each credential loads its keys),
     * then the rounds. */
    slice = o.seconds / ROUNDS;
    for (si = 0; si < N_SVC && selected(o.cells, "accept"); si++) {
        if (!selected(o.services, svcs[si].name))
            continue;
        for (i = 0; i < N_PATHS; i++)
            if (paths[i].ok && paths[i].svc_ok[si]) {
                accept_slice(&paths[i], si, 0);
                cell_reset(&paths[i].acc[si]);
                cell_reset(&paths[i].del[si]);
            }
        for (r = 0; r < ROUNDS; r++) {
            for (i = 0; i < N_PATHS; i++) {
                bpath *p = &paths[(i + (size_t)r) % N_PATHS];

                if (p->ok && p->svc_ok[si])
                    accept_slice(p, si, slice);
            }
        }
        fprintf(stderr, ".");
    }
    for (si = 0; si < N_SIZES; si++) {
        char num[24];

        snprintf(num, sizeof(num), "%zu", sizes[si]);
        for (op = 0; op < N_MOPS; op++) {
            if (!selected(o.cells, mop_short[op]) || !selected(o.sizes, num))
                continue;
            for (i = 0; i < N_PATHS; i++)
                if (paths[i].ok) {
                    msg_slice(&paths[i], op, si, 0);
                    cell_reset(&paths[i].msg[op][si]);
                }
            for (r = 0; r < ROUNDS; r++) {
                for (i = 0; i < N_PATHS; i++) {
                    bpath *p = &paths[(i + (size_t)r) % N_PATHS];

                    if (p->ok)
                        msg_slice(p, op, si, slice);
                }
            }
        }
        fprintf(stderr, ".");
    }
    for (i = 0; i < N_PATHS && selected(o.cells, "memory"); i++) {
        if (paths[i].ok && paths[i].svc_ok[MSG_SVC]) {
            measure_memory(&paths[i], o.contexts, &paths[i].mem[0]);
            measure_memory(&paths[i], o.many, &paths[i].mem[1]);
        }
    }
    fprintf(stderr, "\n");
    print_report(&o);
    teardown();
    return 0;
}
