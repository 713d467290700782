/*
 * tests/kdc/test_init.c - the Kerberos initiator (InitializeSecurityContextA
 * and its outbound credentials) against the test realm's MIT KDC, in one
 * process: hsmssp gets its TGT and service tickets from the KDC with every
 * key operation on the token, and its AP-REQs go to two acceptors:
 * hsmssp's own AcceptSecurityContext (service keys imported from the
 * realm's keytabs) and MIT's gss_accept_sec_context with the keytab.
 * Messages then go both ways (EncryptMessage/DecryptMessage,
 * MakeSignature/VerifySignature, and MIT's wrap/unwrap/MIC).
 *
 * What is covered:
 *  - every enctype service (e17..e20 on SoftHSM2 and NSS softoken, e23 on
 *    SoftHSM2 with allow_host_op = krb), mutual and not: ISC_RET flags,
 *    sizes, key info, names, lifespan, messages, the acceptor's view;
 *  - target name spellings, an unknown service, channel bindings;
 *  - the AP-REP: every bit flip and truncation refused without
 *    establishing the context, KRB-ERROR tokens from the acceptor mapped
 *    to statuses, an AP-REP replayed onto another context, calls on a
 *    context in the wrong state, empty and oversized tokens;
 *  - the ticket cache (no second TGS exchange) and the TGT refresh (a 300
 *    second TGT is always within the refresh margin: each service ticket
 *    fetch refreshes it, by a new AS exchange or by renewal);
 *  - the credential sources: keys on the token, a password identity, an
 *    MIT credential cache (usable after the file is gone), a TGT stored
 *    by kinit;
 *  - delegation: granted, refused by policy and for want of
 *    ok-as-delegate, the delegated credential (HsmsspAcquire-
 *    DelegatedCredentialsA, and ACH with no principal on an impersonating
 *    thread) reaching a second service, also after the acceptor context
 *    is gone;
 *  - key hygiene: every PKCS#11 object of every key the initiator holds
 *    refuses CKA_VALUE (CKR_ATTRIBUTE_SENSITIVE);
 *  - eight threads on one credential; a credential used after fork().
 *
 * KDC traffic is checked two ways: in the credential itself (which ticket
 * objects its cache and TGT hold) and in the realm's kdc.log, whose
 * ISSUE lines name the client, the server and the TGT's authtime.  Other
 * tests share the KDC, so log lines are matched on all three.
 */
#include <fcntl.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hsmssp/sspi.h"
#include "kdcutil.h"
#include "provider/kerberos/kerb-int.h"
#include "sspi/sspi-int.h"
#include "testutil.h"

/* Built a second time as fuzz_init_seedgen (tests/fuzz/CMakeLists.txt,
 * tests/fuzz/initseed.h): the replies of the acceptors go to the seed
 * writer of fuzz_init_reply as well. */
#ifdef HSMSSP_INIT_SEEDS
#include "initseed.h"
#define SEED_REPLY(ctx, tok, len, origin) initseed_reply(ctx, tok, len, origin)
#else
#define SEED_REPLY(ctx, tok, len, origin) ((void)0)
#endif

#define REALM "HSMSSP.TEST"
#define SVCACCT "svcacct@" REALM

/* ku_realm() and ku_work(), set by realm_setup(). */
static const char *realm_dir, *work;
static char dave_pw[64];

/* ---- realm ----------------------------------------------------------- */

/* kinit for alice into FILE:<work>/name, and KRB5CCNAME pointing at it. */
static void
kinit_alice(const char *name)
{
    if (!ku_kinit("alice", name, false))
        fail_msg("kinit for alice failed");
}

static void
realm_setup(void)
{
    char buf[1200];

    realm_dir = ku_realm();
    work = ku_work("init", NULL);
    /* `hsmssp kinit` files of this process only. */
    snprintf(buf, sizeof(buf), "%s/tickets", work);
    setenv("HSMSSP_TICKET_DIR", buf, 1);
    if (!ku_realm_secret("dave.pw", dave_pw, sizeof(dave_pw)))
        fail_msg("cannot read %s/dave.pw", realm_dir);
    kinit_alice("alice.cc");
}

/* ---- token and configuration ----------------------------------------- */

typedef struct setup {
    tu_token_kind kind;
    bool rc4;       /* allow_host_op = krb, arcfour-hmac permitted */
    bool deleg;     /* allow_delegation */
    bool ignore_ok; /* ignore_ok_as_delegate */
    const char *cb; /* channel_bindings (NULL: allowed) */
    int lifetime;   /* ticket_lifetime (0: default) */
    int renew;      /* renew_lifetime (0: none) */
    int skew;       /* clock_skew (0: default) */
    bool skew_zero; /* clock_skew = 0 */
} setup;

/* Keytabs this process put on its SoftHSM2 token already (its objects
 * persist across runtimes); NSS session objects die with each runtime. */
enum {
    KT_SVCACCT = 1 << 0,
    KT_E17 = 1 << 1,
    KT_E18 = 1 << 2,
    KT_E19 = 1 << 3,
    KT_E20 = 1 << 4,
    KT_E23 = 1 << 5,
    KT_DELEG = 1 << 6,
    KT_HOST = 1 << 7,
    KT_ALL = 0xff
};
static const char *const kt_names[] = {"svcacct", "e17", "e18",   "e19",
                                       "e20",     "e23", "deleg", "host"};
static unsigned softhsm_imported;
static unsigned softhsm_rc4_imported;

/* Writes an hsmssp configuration for *s and makes it the SSPI
 * runtime's. */
static void
configure(const setup *s)
{
    static unsigned n;
    char tail[256] = "";
    size_t len = 0;

    /* The optional [kerberos] lines, only when set: the library's
     * defaults are what the other cases test. */
    if (s->lifetime > 0)
        len += (size_t)snprintf(tail + len, sizeof(tail) - len,
                                "    ticket_lifetime = %d\n", s->lifetime);
    if (s->renew > 0)
        len += (size_t)snprintf(tail + len, sizeof(tail) - len,
                                "    renew_lifetime = %d\n", s->renew);
    if (s->skew > 0 || s->skew_zero)
        snprintf(tail + len, sizeof(tail) - len, "    clock_skew = %d\n",
                 s->skew);
    ku_configure(s->kind,
                 "[policy]\n"
                 "    permitted_enctypes = " KU_AES_ENCTYPES "%s\n"
                 "%s"
                 "    allow_delegation = %s\n"
                 "    ignore_ok_as_delegate = %s\n"
                 "    channel_bindings = %s\n"
                 "[kerberos]\n    rcache = %s/rcache-%u\n%s",
                 s->rc4 ? " arcfour-hmac" : "",
                 s->rc4 ? "    allow_host_op = krb\n" : "",
                 s->deleg ? "true" : "false", s->ignore_ok ? "true" : "false",
                 s->cb ? s->cb : "allowed", work, n, tail);
    n++;
}

/* A new runtime for *s with the keytabs of mask on its token. */
static void
runtime(const setup *s, unsigned mask)
{
    configure(s);
    for (size_t i = 0; i < BASE_ARRAY_LEN(kt_names); i++) {
        unsigned bit = 1u << i;

        if ((mask & bit) == 0)
            continue;
        /* arcfour keys go on SoftHSM2 only under H(op) policy: import
         * again once that policy is in force. */
        if (s->kind == TU_SOFTHSM && (softhsm_imported & bit) &&
            (!s->rc4 || (softhsm_rc4_imported & bit)))
            continue;
        ku_import_keytab(kt_names[i], s->kind, false);
        if (s->kind == TU_SOFTHSM) {
            softhsm_imported |= bit;
            if (s->rc4)
                softhsm_rc4_imported |= bit;
        }
    }
}

static void
std_runtime(void)
{
    setup s = {.kind = TU_SOFTHSM};

    runtime(&s, KT_SVCACCT | KT_E17 | KT_E18 | KT_E19 | KT_E20);
}

/* ---- credentials -------------------------------------------------------- */

/* The credential behind a handle (the test reads its ticket cache);
 * release with sspi_handle_put(*slot). */
static kerb_cred *
cred_obj(CredHandle *h, sspi_slot **slot)
{
    *slot = sspi_handle_get(h, SSPI_CRED, false);
    assert_non_null(*slot);
    return (*slot)->obj;
}

static kerb_ctx *
ctx_obj(CtxtHandle *h, sspi_slot **slot)
{
    *slot = sspi_handle_get(h, SSPI_CTX, false);
    assert_non_null(*slot);
    return (*slot)->obj;
}

/* ---- key hygiene ------------------------------------------------------- */

/* Every key an outbound credential holds: the TGT's and every cached
 * ticket's session key, and the long-term keys it keeps for refreshes
 * (token keys or password-derived ones).  Returns the number of keys. */
static size_t
check_cred_keys(CredHandle *h)
{
    sspi_slot *s;
    kerb_cred *c = cred_obj(h, &s);
    kerb_out *o = c->out;
    size_t keys = 0;

    assert_non_null(o);
    pthread_mutex_lock(&o->lock);
    if (o->tgt != NULL) {
        ku_check_key_hidden(o->tgt->key, "TGT session key");
        keys++;
    }
    for (size_t i = 0; i < o->n_cache; i++) {
        ku_check_key_hidden(o->cache[i].t->key, o->cache[i].name);
        keys++;
    }
    for (size_t i = 0; i < o->n_lt; i++) {
        ku_check_key_hidden(o->lt[i].key, "long-term key");
        keys++;
    }
    pthread_mutex_unlock(&o->lock);
    sspi_handle_put(s);
    return keys;
}

static void
check_ctx_key(CtxtHandle *h)
{
    sspi_slot *s;
    kerb_ctx *c = ctx_obj(h, &s);

    ku_check_key_hidden(c->key, "context message key");
    sspi_handle_put(s);
}

/* ---- the two sides of a context ------------------------------------- */

typedef struct io {
    const void *in; /* second ISC step: the acceptor's reply */
    size_t in_len;
    SEC_CHANNEL_BINDINGS *cb;
    size_t cb_len;
    uint8_t *out; /* FreeContextBuffer(out) */
    size_t out_len;
    ULONG attrs;
    TimeStamp expiry;
} io;

/* One InitializeSecurityContextA call: the first (first true, *ctx
 * receives the new handle) or the next on *ctx. */
static SECURITY_STATUS
isc(CredHandle *cred, CtxtHandle *ctx, bool first, const char *target,
    ULONG req, io *x)
{
    SecBuffer ib[2], ob = {0, SECBUFFER_TOKEN, NULL};
    SecBufferDesc id = {SECBUFFER_VERSION, 0, ib},
                  od = {SECBUFFER_VERSION, 1, &ob};
    SECURITY_STATUS st;

    if (!first)
        ib[id.cBuffers++] =
            (SecBuffer){(ULONG)x->in_len, SECBUFFER_TOKEN, (void *)x->in};
    if (x->cb != NULL)
        ib[id.cBuffers++] =
            (SecBuffer){(ULONG)x->cb_len, SECBUFFER_CHANNEL_BINDINGS, x->cb};
    x->attrs = 0;
    st = InitializeSecurityContextA(
        cred, first ? NULL : ctx, (SEC_CHAR *)target,
        req | ISC_REQ_ALLOCATE_MEMORY, 0, SECURITY_NATIVE_DREP,
        id.cBuffers ? &id : NULL, 0, ctx, &od, &x->attrs, &x->expiry);
    x->out = ob.pvBuffer;
    x->out_len = ob.cbBuffer;
    return st;
}

/* The expiry the last InitializeSecurityContextA of establish()
 * reported. */
static TimeStamp last_isc_expiry;

static const ULONG isc_std = ISC_REQ_MUTUAL_AUTH | ISC_REQ_REPLAY_DETECT |
                             ISC_REQ_SEQUENCE_DETECT |
                             ISC_REQ_CONFIDENTIALITY | ISC_REQ_INTEGRITY;
static const ULONG asc_std = ASC_REQ_EXTENDED_ERROR;

/* The ISC_RET flags a completed context must report for req: what was
 * asked (of what Kerberos offers), integrity always, delegation only
 * when granted. */
static ULONG
isc_ret_for(ULONG req, bool delegated)
{
    ULONG r =
        req & (ISC_REQ_MUTUAL_AUTH | ISC_REQ_REPLAY_DETECT |
               ISC_REQ_SEQUENCE_DETECT | ISC_REQ_CONFIDENTIALITY |
               ISC_REQ_IDENTIFY | ISC_REQ_EXTENDED_ERROR | ISC_REQ_CONNECTION);

    return r | ISC_RET_INTEGRITY | ISC_RET_ALLOCATED_MEMORY |
           (delegated ? ISC_RET_DELEGATE : 0);
}

/* A complete context from an hsmssp initiator to an hsmssp acceptor.
 * Fails the test unless both sides end established; *iattrs and *aattrs
 * (may be NULL) get the flags. */
static void
establish(CredHandle *icred, CredHandle *acred, const char *target, ULONG ireq,
          ULONG areq, CtxtHandle *ictx, CtxtHandle *actx, ULONG *iattrs,
          ULONG *aattrs)
{
    bool mutual = (ireq & ISC_REQ_MUTUAL_AUTH) != 0;
    io x = {0};
    uint8_t *rep = NULL;
    size_t rep_len = 0;
    ULONG a = 0;
    SECURITY_STATUS st;

    st = isc(icred, ictx, true, target, ireq, &x);
    if (st != (mutual ? SEC_I_CONTINUE_NEEDED : SEC_E_OK))
        fail_msg("InitializeSecurityContext(%s): 0x%08x %s", target,
                 (unsigned)st, hsmssp_last_error_detail());
    assert_true(x.out_len > 0);
    st = ku_asc(acred, x.out, x.out_len, areq, NULL, 0, actx, &rep, &rep_len,
                &a);
    FreeContextBuffer(x.out);
    if (st != SEC_E_OK)
        fail_msg("AcceptSecurityContext(%s): 0x%08x %s", target, (unsigned)st,
                 hsmssp_last_error_detail());
    if (mutual) {
        assert_true(rep_len > 0);
        SEED_REPLY(ictx, rep, rep_len, "hsmssp");
        x = (io){.in = rep, .in_len = rep_len};
        st = isc(icred, ictx, false, target, ireq, &x);
        if (st != SEC_E_OK)
            fail_msg("InitializeSecurityContext(%s, AP-REP): 0x%08x %s",
                     target, (unsigned)st, hsmssp_last_error_detail());
        assert_int_equal(x.out_len, 0);
        FreeContextBuffer(x.out);
    } else {
        assert_int_equal(rep_len, 0);
    }
    FreeContextBuffer(rep);
    if (iattrs != NULL)
        *iattrs = x.attrs;
    if (aattrs != NULL)
        *aattrs = a;
    last_isc_expiry = x.expiry;
}

/* ---- messages between two hsmssp contexts --------------------------- */

/* EncryptMessage(TOKEN + DATA + PADDING) on one side, DecryptMessage on
 * the other: TOKEN + DATA, or the whole as a STREAM. */
static void
send_sealed(CtxtHandle *from, CtxtHandle *to, const uint8_t *msg, size_t n,
            bool conf, bool stream)
{
    struct ku_sealed s;
    SecBuffer *b = s.b;
    SecBufferDesc d = {SECBUFFER_VERSION, 3, s.b};
    ULONG qop = 0;
    SECURITY_STATUS st;

    ku_seal(from, msg, n, conf, &s);
    if (stream) {
        b[0] = (SecBuffer){(ULONG)s.total, SECBUFFER_STREAM, s.all};
        b[1] = (SecBuffer){0, SECBUFFER_DATA, NULL};
        d.cBuffers = 2;
    } else {
        /* RFC 4757 senders put one byte in PADDING (Windows' layout);
         * RFC 4121 ones none. */
        d.cBuffers = b[2].cbBuffer > 0 ? 3 : 2;
    }
    st = DecryptMessage(to, &d, 0, &qop);
    if (st != SEC_E_OK)
        fail_msg("DecryptMessage(%zu bytes, conf %d, stream %d): 0x%08x %s", n,
                 conf, stream, (unsigned)st, hsmssp_last_error_detail());
    assert_int_equal(b[1].cbBuffer, n);
    if (n > 0)
        assert_memory_equal(b[1].pvBuffer, msg, n);
    assert_int_equal(qop, conf ? 0 : SECQOP_WRAP_NO_ENCRYPT);
    ku_sealed_free(&s);
}

static void
send_signed(CtxtHandle *from, CtxtHandle *to, const uint8_t *msg, size_t n)
{
    SecPkgContext_Sizes sz;
    uint8_t *sig;
    SecBuffer b[2];
    SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
    SECURITY_STATUS st;

    assert_int_equal(QueryContextAttributesA(from, SECPKG_ATTR_SIZES, &sz),
                     SEC_E_OK);
    sig = malloc(sz.cbMaxSignature);
    assert_non_null(sig);
    b[0] = (SecBuffer){(ULONG)n, SECBUFFER_DATA, (void *)msg};
    b[1] = (SecBuffer){sz.cbMaxSignature, SECBUFFER_TOKEN, sig};
    st = MakeSignature(from, 0, &d, 0);
    if (st != SEC_E_OK)
        fail_msg("MakeSignature: 0x%08x %s", (unsigned)st,
                 hsmssp_last_error_detail());
    st = VerifySignature(to, &d, 0, NULL);
    if (st != SEC_E_OK)
        fail_msg("VerifySignature: 0x%08x %s", (unsigned)st,
                 hsmssp_last_error_detail());
    /* One bit of the message changed: refused. */
    if (n > 0) {
        uint8_t *copy = malloc(n);

        assert_non_null(copy);
        memcpy(copy, msg, n);
        copy[n / 2] ^= 0x01;
        b[0].pvBuffer = copy;
        assert_int_equal(VerifySignature(to, &d, 0, NULL),
                         SEC_E_MESSAGE_ALTERED);
        free(copy);
    }
    free(sig);
}

/* Messages of several lengths both ways, sealed and not, and MICs. */
static void
exchange(CtxtHandle *i, CtxtHandle *a, bool long_ones)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 1000, 70000};
    size_t n_lens = long_ones ? BASE_ARRAY_LEN(lens) : 4;
    uint8_t *msg = malloc(70000);

    assert_non_null(msg);
    for (size_t k = 0; k < n_lens; k++) {
        tu_fill(msg, lens[k], (uint32_t)k + 1);
        send_sealed(i, a, msg, lens[k], true, k % 2 == 0);
        send_sealed(a, i, msg, lens[k], true, k % 2 == 1);
        send_sealed(i, a, msg, lens[k], false, k % 2 == 1);
        send_sealed(a, i, msg, lens[k], false, k % 2 == 0);
        send_signed(i, a, msg, lens[k]);
        send_signed(a, i, msg, lens[k]);
    }
    free(msg);
}

/* ---- MIT's acceptor ---------------------------------------------------- */

/* hsmssp initiator -> MIT acceptor: the established MIT context, and
 * (deleg_out not NULL) the credential delegated to it. */
static gss_ctx_id_t
establish_mit(CredHandle *icred, gss_cred_id_t acred, const char *target,
              ULONG ireq, CtxtHandle *ictx, ULONG *iattrs, OM_uint32 *gflags,
              gss_cred_id_t *deleg_out)
{
    bool mutual = (ireq & ISC_REQ_MUTUAL_AUTH) != 0;
    gss_ctx_id_t g = GSS_C_NO_CONTEXT;
    gss_buffer_desc in, out = {0};
    gss_name_t src = GSS_C_NO_NAME;
    gss_buffer_desc srcb = {0};
    gss_cred_id_t deleg = GSS_C_NO_CREDENTIAL;
    OM_uint32 maj, min, flags = 0;
    io x = {0};
    SECURITY_STATUS st;

    st = isc(icred, ictx, true, target, ireq, &x);
    if (st != (mutual ? SEC_I_CONTINUE_NEEDED : SEC_E_OK))
        fail_msg("InitializeSecurityContext(%s): 0x%08x %s", target,
                 (unsigned)st, hsmssp_last_error_detail());
    in.value = x.out;
    in.length = x.out_len;
    maj =
        gss_accept_sec_context(&min, &g, acred, &in, GSS_C_NO_CHANNEL_BINDINGS,
                               &src, NULL, &out, &flags, NULL, &deleg);
    FreeContextBuffer(x.out);
    if (maj != GSS_S_COMPLETE)
        ku_gss_fail("gss_accept_sec_context", maj, min);
    /* MIT names the client hsmssp authenticated as. */
    assert_false(GSS_ERROR(gss_display_name(&min, src, &srcb, NULL)));
    assert_int_equal(srcb.length, strlen(SVCACCT));
    assert_memory_equal(srcb.value, SVCACCT, srcb.length);
    gss_release_buffer(&min, &srcb);
    gss_release_name(&min, &src);
    if (mutual) {
        assert_true(out.length > 0);
        SEED_REPLY(ictx, out.value, out.length, "mit");
        x = (io){.in = out.value, .in_len = out.length};
        st = isc(icred, ictx, false, target, ireq, &x);
        if (st != SEC_E_OK)
            fail_msg("InitializeSecurityContext(MIT's AP-REP): 0x%08x %s",
                     (unsigned)st, hsmssp_last_error_detail());
        FreeContextBuffer(x.out);
    } else {
        assert_int_equal(out.length, 0);
    }
    gss_release_buffer(&min, &out);
    if (iattrs != NULL)
        *iattrs = x.attrs;
    if (gflags != NULL)
        *gflags = flags;
    if (deleg_out != NULL)
        *deleg_out = deleg;
    else if (deleg != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&min, &deleg);
    return g;
}

static void
exchange_mit(CtxtHandle *h, gss_ctx_id_t g)
{
    /* Empty messages are left out: MIT leaks unwrapping them
     * (tests/common/lsan.supp). */
    static const size_t lens[] = {1, 16, 33, 1000, 70000};
    uint8_t *msg = malloc(70000);

    assert_non_null(msg);
    for (size_t k = 0; k < BASE_ARRAY_LEN(lens); k++) {
        tu_fill(msg, lens[k], (uint32_t)k + 7);
        ku_hsmssp_to_mit(h, g, msg, lens[k], true);
        ku_hsmssp_to_mit(h, g, msg, lens[k], false);
        ku_mit_to_hsmssp(g, h, msg, lens[k], 1);
        ku_mit_to_hsmssp(g, h, msg, lens[k], 0);
        ku_mics(h, g, msg, lens[k]);
    }
    free(msg);
}

/* ---- attributes on the initiator side ------------------------------- */

static int64_t
now_for_test(void)
{
    return (int64_t)time(NULL);
}

static int64_t
filetime_of(int64_t t)
{
    return (t + 11644473600LL) * 10000000LL;
}

static int64_t
ts_value(const TimeStamp *ts)
{
    return (int64_t)((uint64_t)(uint32_t)ts->HighPart << 32 | ts->LowPart);
}

static size_t
cksum_len(int32_t etype)
{
    switch (etype) {
    case 17:
    case 18:
        return 12;
    case 19:
        return 16;
    case 20:
        return 24;
    default:
        return 0;
    }
}

/* SIZES, KEY_INFO, NAMES, NATIVE_NAMES and LIFESPAN of an initiator
 * context whose message key is of key_etype, made for client to server
 * with a ticket ending at endtime; the acceptor's KEY_INFO agrees. */
static void
check_initiator_attrs(CtxtHandle *i, CtxtHandle *a, int32_t key_etype,
                      const char *client, const char *server, int64_t endtime,
                      const TimeStamp *isc_expiry)
{
    SecPkgContext_Sizes sz;
    SecPkgContext_KeyInfoA ki, ka;
    SecPkgContext_NamesA nm;
    SecPkgContext_NativeNamesA nn;
    SecPkgContext_Lifespan ls;
    int64_t now = filetime_of(time(NULL));

    assert_int_equal(QueryContextAttributesA(i, SECPKG_ATTR_SIZES, &sz),
                     SEC_E_OK);
    assert_int_equal(sz.cbMaxToken, 48000);
    assert_int_equal(sz.cbBlockSize, 1);
    if (key_etype == 23) {
        assert_int_equal(sz.cbMaxSignature, 37);
        assert_int_equal(sz.cbSecurityTrailer, 49);
    } else {
        assert_int_equal(sz.cbMaxSignature, 16 + cksum_len(key_etype));
        assert_int_equal(sz.cbSecurityTrailer,
                         16 + 16 + 16 + cksum_len(key_etype));
    }
    assert_int_equal(QueryContextAttributesA(i, SECPKG_ATTR_KEY_INFO, &ki),
                     SEC_E_OK);
    assert_int_equal(ki.EncryptAlgorithm, (ULONG)key_etype);
    assert_string_equal(ki.sEncryptAlgorithmName, hsm_etype_name(key_etype));
    assert_int_equal(ki.KeySize, hsm_etype_keylen(key_etype) * 8);
    assert_int_equal(ki.SignatureAlgorithm,
                     (ULONG)hsm_krb_cksumtype(key_etype));
    if (a != NULL) {
        assert_int_equal(QueryContextAttributesA(a, SECPKG_ATTR_KEY_INFO, &ka),
                         SEC_E_OK);
        assert_int_equal(ka.EncryptAlgorithm, ki.EncryptAlgorithm);
        assert_int_equal(ka.SignatureAlgorithm, ki.SignatureAlgorithm);
        FreeContextBuffer(ka.sEncryptAlgorithmName);
        FreeContextBuffer(ka.sSignatureAlgorithmName);
    }
    FreeContextBuffer(ki.sEncryptAlgorithmName);
    FreeContextBuffer(ki.sSignatureAlgorithmName);
    assert_int_equal(QueryContextAttributesA(i, SECPKG_ATTR_NAMES, &nm),
                     SEC_E_OK);
    assert_string_equal(nm.sUserName, client);
    FreeContextBuffer(nm.sUserName);
    assert_int_equal(QueryContextAttributesA(i, SECPKG_ATTR_NATIVE_NAMES, &nn),
                     SEC_E_OK);
    assert_string_equal(nn.sClientName, client);
    assert_string_equal(nn.sServerName, server);
    FreeContextBuffer(nn.sClientName);
    FreeContextBuffer(nn.sServerName);
    assert_int_equal(QueryContextAttributesA(i, SECPKG_ATTR_LIFESPAN, &ls),
                     SEC_E_OK);
    assert_true(ts_value(&ls.tsStart) <= now + 10000000LL);
    assert_true(ts_value(&ls.tsExpiry) > now);
    assert_true(ts_value(&ls.tsExpiry) == filetime_of(endtime));
    assert_true(ts_value(isc_expiry) == filetime_of(endtime));
}

/* The end time of the cached ticket for server (unparsed, with realm). */
static int64_t
cached_endtime(CredHandle *cred, const char *server)
{
    sspi_slot *s;
    kerb_cred *c = cred_obj(cred, &s);
    int64_t end = 0;

    pthread_mutex_lock(&c->out->lock);
    for (size_t i = 0; i < c->out->n_cache; i++)
        if (strcmp(c->out->cache[i].name, server) == 0)
            end = c->out->cache[i].t->endtime;
    pthread_mutex_unlock(&c->out->lock);
    sspi_handle_put(s);
    assert_true(end > 0);
    return end;
}

/* kerb_shared_tgt_purge() of the SSPI runtime's env. */
static void
purge_shared_tgts(void)
{
    prov_env *env = NULL;

    TU_OK(sspi_runtime_env(&env));
    kerb_shared_tgt_purge(env, NULL);
    prov_env_unref(env);
}

/* ---- kdc.log ----------------------------------------------------------- */

/* ISSUE lines of kind ("AS_REQ", "TGS_REQ") for "CLIENT for SERVER"
 * (what) and, when authtime is not 0, that TGT authtime. */
static size_t
kdclog_count(const char *kind, const char *what, int64_t authtime)
{
    char path[700], line[4096], at[64];
    size_t n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/kdc.log", realm_dir);
    snprintf(at, sizeof(at), "ISSUE: authtime %lld,", (long long)authtime);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *w = strstr(line, what);

        if (strstr(line, kind) == NULL || strstr(line, "ISSUE: ") == NULL ||
            w == NULL || (w[strlen(what)] != '\n' && w[strlen(what)] != '\0'))
            continue;
        if (authtime != 0 && strstr(line, at) == NULL)
            continue;
        n++;
    }
    fclose(f);
    return n;
}

/* Waits (up to 5 s) until kdclog_count() reaches want; returns the
 * count.  The KDC writes its line as it answers. */
static size_t
kdclog_wait(const char *kind, const char *what, int64_t authtime, size_t want)
{
    size_t n = 0;

    for (int i = 0; i < 100; i++) {
        n = kdclog_count(kind, what, authtime);
        if (n >= want)
            break;
        usleep(50000);
    }
    return n;
}

/* ---- the matrix ------------------------------------------------------ */

typedef struct svc_case {
    const char *name; /* keytab and service */
    int32_t etype;    /* of its tickets' session keys */
} svc_case;

static const svc_case aes_svcs[] = {
    {"e17", 17}, {"e18", 18}, {"e19", 19}, {"e20", 20}};

/* One service with both acceptors, mutual and not. */
static void
run_service(CredHandle *icred, CredHandle *acred, const svc_case *sc,
            bool with_mit, bool long_msgs)
{
    char target[64], server[96];
    gss_cred_id_t mcred = GSS_C_NO_CREDENTIAL;
    OM_uint32 min;

    snprintf(target, sizeof(target), "%s/localhost", sc->name);
    snprintf(server, sizeof(server), "%s/localhost@" REALM, sc->name);
    if (with_mit)
        mcred = ku_mit_acceptor(sc->name);
    for (int mutual = 0; mutual < 2; mutual++) {
        ULONG req = isc_std & ~(mutual ? 0 : ISC_REQ_MUTUAL_AUTH);
        ULONG ia = 0, aa = 0;
        CtxtHandle i, a;
        int64_t end;

        establish(icred, acred, target, req, asc_std, &i, &a, &ia, &aa);
        assert_int_equal(ia, isc_ret_for(req, false));
        /* The acceptor reads the initiator's flags from its checksum. */
        assert_int_equal((aa & ASC_RET_MUTUAL_AUTH) != 0, mutual);
        assert_true(aa & ASC_RET_CONFIDENTIALITY);
        assert_true(aa & ASC_RET_REPLAY_DETECT);
        assert_true(aa & ASC_RET_SEQUENCE_DETECT);
        end = cached_endtime(icred, server);
        /* Without mutual authentication the initiator's subkey of the
         * ticket's enctype is the message key; with it the acceptor's
         * choice from the initiator's RFC 4537 list, aes256-sha1 first. */
        check_initiator_attrs(&i, &a, mutual ? 18 : sc->etype, SVCACCT, server,
                              end, &last_isc_expiry);
        exchange(&i, &a, long_msgs);
        check_ctx_key(&i);
        assert_int_equal(DeleteSecurityContext(&i), SEC_E_OK);
        assert_int_equal(DeleteSecurityContext(&a), SEC_E_OK);
        if (with_mit) {
            gss_ctx_id_t g;
            OM_uint32 gf = 0;

            g = establish_mit(icred, mcred, target, req, &i, &ia, &gf, NULL);
            assert_int_equal(ia, isc_ret_for(req, false));
            assert_int_equal((gf & GSS_C_MUTUAL_FLAG) != 0, mutual);
            assert_true(gf & GSS_C_CONF_FLAG);
            exchange_mit(&i, g);
            check_ctx_key(&i);
            assert_int_equal(DeleteSecurityContext(&i), SEC_E_OK);
            gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
        }
    }
    if (mcred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&min, &mcred);
}

static void
test_matrix_softhsm(void **state)
{
    CredHandle icred, acred;
    size_t keys;

    (void)state;
    std_runtime();
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    for (size_t k = 0; k < BASE_ARRAY_LEN(aes_svcs); k++)
        run_service(&icred, &acred, &aes_svcs[k], true, true);
    /* The TGT, four service tickets and the account's keys: all on the
     * token, none readable. */
    keys = check_cred_keys(&icred);
    assert_true(keys >= 1 + 4 + 1);
    assert_int_equal(FreeCredentialsHandle(&icred), SEC_E_OK);
    assert_int_equal(FreeCredentialsHandle(&acred), SEC_E_OK);
}

static void
test_matrix_nss(void **state)
{
    setup s = {.kind = TU_NSS};
    CredHandle icred, acred;

    (void)state;
    runtime(&s, KT_SVCACCT | KT_E17 | KT_E18 | KT_E19 | KT_E20);
    ku_acquire("svcacct@" REALM, SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    for (size_t k = 0; k < BASE_ARRAY_LEN(aes_svcs); k++)
        run_service(&icred, &acred, &aes_svcs[k], k == 0, false);
    assert_true(check_cred_keys(&icred) >= 1 + 4);
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
}

/* arcfour-hmac: the e23 ticket's session key is RC4 (H(op) on SoftHSM2,
 * allowed by policy here). */
static void
test_rc4_host_op(void **state)
{
    static const svc_case e23 = {"e23", 23};
    setup s = {.kind = TU_SOFTHSM, .rc4 = true};
    CredHandle icred, acred;

    (void)state;
    runtime(&s, KT_SVCACCT | KT_E23);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire("e23/localhost", SECPKG_CRED_INBOUND, &acred);
    run_service(&icred, &acred, &e23, true, true);
    check_cred_keys(&icred);
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
}

/* Default policy on the same token: no arcfour in permitted_enctypes,
 * so the KDC is not asked for it and an RC4 ticket cannot come back. */
static void
test_rc4_refused(void **state)
{
    CredHandle icred;
    CtxtHandle i;
    io x = {0};

    (void)state;
    std_runtime();
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    assert_int_not_equal(isc(&icred, &i, true, "e23/localhost", isc_std, &x),
                         SEC_E_OK);
    assert_false(SecIsValidHandle(&i));
    assert_null(x.out);
    assert_true(strlen(hsmssp_last_error_detail()) > 0);
    FreeCredentialsHandle(&icred);
}

/* ---- flags ----------------------------------------------------------- */

/* EncryptMessage with confidentiality on a short message. */
static SECURITY_STATUS
seal_status(CtxtHandle *h)
{
    uint8_t tok[128], data[4] = {1, 2, 3, 4}, pad[16];
    SecBuffer b[3] = {{sizeof(tok), SECBUFFER_TOKEN, tok},
                      {4, SECBUFFER_DATA, data},
                      {sizeof(pad), SECBUFFER_PADDING, pad}};
    SecBufferDesc d = {SECBUFFER_VERSION, 3, b};

    return EncryptMessage(h, 0, &d, 0);
}

static void
test_flags(void **state)
{
    static const ULONG reqs[] = {
        0,
        ISC_REQ_CONFIDENTIALITY,
        ISC_REQ_INTEGRITY,
        ISC_REQ_REPLAY_DETECT,
        ISC_REQ_SEQUENCE_DETECT | ISC_REQ_INTEGRITY,
        ISC_REQ_MUTUAL_AUTH,
        ISC_REQ_MUTUAL_AUTH | ISC_REQ_IDENTIFY,
        ISC_REQ_IDENTIFY | ISC_REQ_CONFIDENTIALITY,
        ISC_REQ_MUTUAL_AUTH | ISC_REQ_EXTENDED_ERROR | ISC_REQ_CONNECTION,
        ISC_REQ_MUTUAL_AUTH | ISC_REQ_REPLAY_DETECT | ISC_REQ_SEQUENCE_DETECT |
            ISC_REQ_CONFIDENTIALITY | ISC_REQ_INTEGRITY | ISC_REQ_IDENTIFY,
        /* Delegation asked, not allowed by this runtime's policy. */
        ISC_REQ_DELEGATE | ISC_REQ_MUTUAL_AUTH,
    };
    CredHandle icred, acred;

    (void)state;
    std_runtime();
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    for (size_t k = 0; k < BASE_ARRAY_LEN(reqs); k++) {
        ULONG r = reqs[k], ia = 0, aa = 0;
        CtxtHandle i, a;
        SecPkgContext_Flags f;

        establish(&icred, &acred, "e18/localhost", r,
                  ASC_REQ_DELEGATE | ASC_REQ_EXTENDED_ERROR, &i, &a, &ia, &aa);
        if (ia != isc_ret_for(r, false))
            fail_msg("req 0x%lx: ISC_RET 0x%lx, expected 0x%lx",
                     (unsigned long)r, (unsigned long)ia,
                     (unsigned long)isc_ret_for(r, false));
        assert_int_equal(QueryContextAttributesA(&i, SECPKG_ATTR_FLAGS, &f),
                         SEC_E_OK);
        assert_int_equal(f.Flags, ia);
        /* What the acceptor learnt from the 0x8003 checksum. */
        assert_int_equal((aa & ASC_RET_MUTUAL_AUTH) != 0,
                         (r & ISC_REQ_MUTUAL_AUTH) != 0);
        assert_int_equal((aa & ASC_RET_CONFIDENTIALITY) != 0,
                         (r & ISC_REQ_CONFIDENTIALITY) != 0);
        assert_int_equal((aa & ASC_RET_REPLAY_DETECT) != 0,
                         (r & ISC_REQ_REPLAY_DETECT) != 0);
        assert_int_equal((aa & ASC_RET_SEQUENCE_DETECT) != 0,
                         (r & ISC_REQ_SEQUENCE_DETECT) != 0);
        assert_int_equal((aa & ASC_RET_IDENTIFY) != 0,
                         (r & ISC_REQ_IDENTIFY) != 0);
        assert_int_equal(aa & ASC_RET_DELEGATE, 0);
        assert_true(aa & ASC_RET_INTEGRITY);
        /* Integrity works whatever was asked; sealing only when
         * confidentiality was negotiated. */
        send_signed(&i, &a, (const uint8_t *)"flags", 5);
        send_signed(&a, &i, (const uint8_t *)"flags", 5);
        send_sealed(&i, &a, (const uint8_t *)"flags", 5, false, true);
        send_sealed(&a, &i, (const uint8_t *)"flags", 5, false, false);
        if (r & ISC_REQ_CONFIDENTIALITY) {
            send_sealed(&i, &a, (const uint8_t *)"flags", 5, true, true);
            send_sealed(&a, &i, (const uint8_t *)"flags", 5, true, false);
        } else {
            assert_int_equal(seal_status(&i), SEC_E_INVALID_HANDLE);
            assert_non_null(
                strstr(hsmssp_last_error_detail(), "confidentiality"));
            assert_int_equal(seal_status(&a), SEC_E_INVALID_HANDLE);
        }
        DeleteSecurityContext(&i);
        DeleteSecurityContext(&a);
    }
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
}

/* ---- target names ------------------------------------------------------ */

static void
test_target_names(void **state)
{
    static const char *names[] = {"e19/localhost", ("e19/localhost@" REALM),
                                  "e19@localhost"};
    CredHandle icred, acred;
    sspi_slot *s;
    kerb_cred *c;

    (void)state;
    std_runtime();
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire("e19/localhost", SECPKG_CRED_INBOUND, &acred);
    for (size_t k = 0; k < BASE_ARRAY_LEN(names); k++) {
        CtxtHandle i, a;
        SecPkgContext_NativeNamesA nn;

        establish(&icred, &acred, names[k], isc_std, asc_std, &i, &a, NULL,
                  NULL);
        assert_int_equal(
            QueryContextAttributesA(&i, SECPKG_ATTR_NATIVE_NAMES, &nn),
            SEC_E_OK);
        assert_string_equal(nn.sServerName, "e19/localhost@" REALM);
        FreeContextBuffer(nn.sClientName);
        FreeContextBuffer(nn.sServerName);
        DeleteSecurityContext(&i);
        DeleteSecurityContext(&a);
    }
    /* The three spellings are one service: one cached ticket. */
    c = cred_obj(&icred, &s);
    assert_int_equal(c->out->n_cache, 1);
    assert_string_equal(c->out->cache[0].name, "e19/localhost@" REALM);
    sspi_handle_put(s);
    /* Unknown to the KDC: SEC_E_TARGET_UNKNOWN, no context. */
    {
        static const char *unknown[] = {"nosuchsvc/localhost",
                                        "nosuchsvc@localhost",
                                        ("e19/nosuchhost@" REALM)};

        for (size_t k = 0; k < BASE_ARRAY_LEN(unknown); k++) {
            CtxtHandle i;
            io x = {0};

            assert_int_equal(isc(&icred, &i, true, unknown[k], isc_std, &x),
                             SEC_E_TARGET_UNKNOWN);
            assert_false(SecIsValidHandle(&i));
            assert_null(x.out);
            assert_non_null(strstr(hsmssp_last_error_detail(), "KRB-ERROR 7"));
        }
    }
    /* No target at all. */
    {
        CtxtHandle i;
        io x = {0};

        assert_int_equal(isc(&icred, &i, true, NULL, isc_std, &x),
                         SEC_E_INVALID_PARAMETER);
        assert_int_equal(isc(&icred, &i, true, "", isc_std, &x),
                         SEC_E_INVALID_PARAMETER);
    }
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
}

/* ---- channel bindings ---------------------------------------------- */

/* A mutual context with bindings given by each side (NULL: none);
 * returns the acceptor's status and, when it failed, the initiator's on
 * the KRB-ERROR it sent. */
static SECURITY_STATUS
try_bindings(CredHandle *icred, CredHandle *acred, const char *iapp,
             const char *aapp, SECURITY_STATUS *ist)
{
    SEC_CHANNEL_BINDINGS *ib = NULL, *ab = NULL;
    size_t ibl = 0, abl = 0;
    CtxtHandle i, a;
    io x = {0};
    uint8_t *rep = NULL;
    size_t rep_len = 0;
    SECURITY_STATUS st;

    if (iapp != NULL)
        ib = ku_make_scb(iapp, &ibl);
    if (aapp != NULL)
        ab = ku_make_scb(aapp, &abl);
    x.cb = ib;
    x.cb_len = ibl;
    assert_int_equal(isc(icred, &i, true, "e18/localhost",
                         isc_std | ISC_REQ_EXTENDED_ERROR, &x),
                     SEC_I_CONTINUE_NEEDED);
    st = ku_asc(acred, x.out, x.out_len, asc_std, ab, abl, &a, &rep, &rep_len,
                NULL);
    FreeContextBuffer(x.out);
    x = (io){.in = rep, .in_len = rep_len, .cb = ib, .cb_len = ibl};
    *ist = isc(icred, &i, false, "e18/localhost",
               isc_std | ISC_REQ_EXTENDED_ERROR, &x);
    FreeContextBuffer(x.out);
    FreeContextBuffer(rep);
    if (st == SEC_E_OK)
        DeleteSecurityContext(&a);
    DeleteSecurityContext(&i);
    free(ib);
    free(ab);
    return st;
}

static void
test_bindings(void **state)
{
    setup s = {.kind = TU_SOFTHSM, .cb = "required"};
    CredHandle icred, acred;
    SECURITY_STATUS ist;

    (void)state;
    std_runtime();
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire("e18/localhost", SECPKG_CRED_INBOUND, &acred);
    assert_int_equal(try_bindings(&icred, &acred, "tls-server-end-point:abc",
                                  "tls-server-end-point:abc", &ist),
                     SEC_E_OK);
    assert_int_equal(ist, SEC_E_OK);
    assert_int_equal(try_bindings(&icred, &acred, "tls-server-end-point:abc",
                                  "tls-server-end-point:xyz", &ist),
                     SEC_E_BAD_BINDINGS);
    /* The acceptor's KRB-ERROR (KRB_AP_ERR_MODIFIED) on the initiator. */
    assert_int_equal(ist, SEC_E_MESSAGE_ALTERED);
    assert_non_null(strstr(hsmssp_last_error_detail(), "KRB-ERROR 41"));
    /* Only one side with bindings: allowed by the default policy. */
    assert_int_equal(try_bindings(&icred, &acred, "x", NULL, &ist), SEC_E_OK);
    assert_int_equal(try_bindings(&icred, &acred, NULL, "x", &ist), SEC_E_OK);
    FreeCredentialsHandle(&acred);
    /* An acceptor requiring them refuses a client without. */
    runtime(&s, 0);
    ku_acquire("e18/localhost", SECPKG_CRED_INBOUND, &acred);
    assert_int_equal(try_bindings(&icred, &acred, NULL, "x", &ist),
                     SEC_E_BAD_BINDINGS);
    assert_int_equal(try_bindings(&icred, &acred, "x", "x", &ist), SEC_E_OK);
    FreeCredentialsHandle(&acred);
    FreeCredentialsHandle(&icred);
}

/* ---- the AP-REP -------------------------------------------------------- */

/* Statuses a refused AP-REP may give. */
static bool
reply_refusal(SECURITY_STATUS st)
{
    return st == SEC_E_MUTUAL_AUTH_FAILED || st == SEC_E_INVALID_TOKEN ||
           st == SEC_E_MESSAGE_ALTERED;
}

/* The context is not usable: not established, per-message calls and
 * attribute queries refused. */
static void
assert_not_established(CtxtHandle *h)
{
    SecPkgContext_Sizes sz;
    uint8_t tok[128], data[4] = {1, 2, 3, 4};
    SecBuffer eb[2] = {{sizeof(tok), SECBUFFER_TOKEN, tok},
                       {4, SECBUFFER_DATA, data}};
    SecBufferDesc ed = {SECBUFFER_VERSION, 2, eb};
    sspi_slot *s;
    kerb_ctx *c = ctx_obj(h, &s);

    assert_false(c->established);
    assert_false(s->established);
    sspi_handle_put(s);
    assert_int_equal(QueryContextAttributesA(h, SECPKG_ATTR_SIZES, &sz),
                     SEC_E_INVALID_HANDLE);
    assert_int_not_equal(EncryptMessage(h, 0, &ed, 0), SEC_E_OK);
}

/* A new initiator context to e18 waiting for its AP-REP (*rep, from a
 * new acceptor context *a). */
static void
waiting_context(CredHandle *icred, CredHandle *acred, CtxtHandle *i,
                CtxtHandle *a, uint8_t **rep, size_t *rep_len)
{
    io x = {0};

    assert_int_equal(isc(icred, i, true, "e18/localhost", isc_std, &x),
                     SEC_I_CONTINUE_NEEDED);
    assert_int_equal(ku_asc(acred, x.out, x.out_len, asc_std, NULL, 0, a, rep,
                            rep_len, NULL),
                     SEC_E_OK);
    FreeContextBuffer(x.out);
}

/* Whether flipped differs from orig only in the framing's mechanism OID,
 * now Microsoft's alias of the Kerberos OID (1.2.840.48018.1.2.2), which
 * initiators accept as Windows sends it; the OID is outside every
 * checksum. */
static bool
only_oid_alias(const uint8_t *orig, const uint8_t *flipped, size_t len)
{
    base_der oid, inner, oid2, inner2;

    if (kerb_gss_unframe(base_der_view(flipped, len), &oid, &inner) !=
            HSMSSP_OK ||
        kerb_gss_unframe(base_der_view(orig, len), &oid2, &inner2) !=
            HSMSSP_OK)
        return false;
    return base_der_eq(oid, base_der_view(kerb_oid_krb5_ms, 9)) &&
           base_der_eq(inner, inner2);
}

static void
test_ap_rep_tampered(void **state)
{
    CredHandle icred, acred;
    CtxtHandle i, a;
    io x = {0};
    uint8_t *rep = NULL, *copy = NULL;
    size_t rep_len = 0, tries = 0, aliases = 0;
    SECURITY_STATUS st;

    (void)state;
    std_runtime();
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire("e18/localhost", SECPKG_CRED_INBOUND, &acred);
    waiting_context(&icred, &acred, &i, &a, &rep, &rep_len);
    /* Every bit of every byte.  A refused reply leaves the context
     * waiting, exactly as before the call, so one context takes them
     * all. */
    for (size_t p = 0; p < rep_len; p++) {
        for (int bit = 0; bit < 8; bit++) {
            free(copy);
            copy = malloc(rep_len);
            assert_non_null(copy);
            memcpy(copy, rep, rep_len);
            copy[p] ^= (uint8_t)(1u << bit);
            x = (io){.in = copy, .in_len = rep_len};
            st = isc(&icred, &i, false, "e18/localhost", isc_std, &x);
            tries++;
            assert_null(x.out);
            if (st == SEC_E_OK && only_oid_alias(rep, copy, rep_len)) {
                /* Accepted, rightly: start again with a new context. */
                aliases++;
                exchange(&i, &a, false);
                DeleteSecurityContext(&i);
                DeleteSecurityContext(&a);
                FreeContextBuffer(rep);
                waiting_context(&icred, &acred, &i, &a, &rep, &rep_len);
                continue;
            }
            if (!reply_refusal(st))
                fail_msg("AP-REP with bit %d of byte %zu flipped: 0x%08x %s",
                         bit, p, (unsigned)st, hsmssp_last_error_detail());
            assert_true(strlen(hsmssp_last_error_detail()) > 0);
        }
        if (p % 16 == 0)
            assert_not_established(&i);
    }
    assert_true(tries >= 8 * 100);
    /* 0x86 -> 0x82 in the OID's fourth byte, and only that. */
    assert_int_equal(aliases, 1);
    /* Every truncation. */
    for (size_t n = 1; n < rep_len; n++) {
        x = (io){.in = rep, .in_len = n};
        st = isc(&icred, &i, false, "e18/localhost", isc_std, &x);
        if (!reply_refusal(st))
            fail_msg("AP-REP cut to %zu bytes: 0x%08x", n, (unsigned)st);
    }
    /* One byte more (trailing garbage after the framed token). */
    {
        uint8_t *longer = malloc(rep_len + 1);

        assert_non_null(longer);
        memcpy(longer, rep, rep_len);
        longer[rep_len] = 0;
        x = (io){.in = longer, .in_len = rep_len + 1};
        assert_true(reply_refusal(
            isc(&icred, &i, false, "e18/localhost", isc_std, &x)));
        free(longer);
    }
    assert_not_established(&i);
    /* The genuine reply still completes the context. */
    x = (io){.in = rep, .in_len = rep_len};
    assert_int_equal(isc(&icred, &i, false, "e18/localhost", isc_std, &x),
                     SEC_E_OK);
    exchange(&i, &a, false);
    free(copy);
    FreeContextBuffer(rep);
    DeleteSecurityContext(&i);
    DeleteSecurityContext(&a);
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
}

/* KRB-ERROR tokens from hsmssp's acceptor (ASC_REQ_EXTENDED_ERROR), fed
 * to the waiting initiator. */
static void
test_acceptor_errors(void **state)
{
    setup skewless = {.kind = TU_SOFTHSM, .skew_zero = true};
    CredHandle icred, acred, e17only;
    CtxtHandle i, i2, a;
    io x = {0};
    uint8_t *err = NULL, *tok;
    size_t err_len = 0, tok_len;
    SECURITY_STATUS st;

    (void)state;
    std_runtime();
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire("e18/localhost", SECPKG_CRED_INBOUND, &acred);

    /* 1. A replayed AP-REQ: KRB_AP_ERR_REPEAT. */
    assert_int_equal(isc(&icred, &i, true, "e18/localhost",
                         isc_std | ISC_REQ_EXTENDED_ERROR, &x),
                     SEC_I_CONTINUE_NEEDED);
    tok = x.out;
    tok_len = x.out_len;
    assert_int_equal(ku_asc(&acred, tok, tok_len,
                            asc_std | ASC_REQ_REPLAY_DETECT, NULL, 0, &a, NULL,
                            NULL, NULL),
                     SEC_E_OK);
    DeleteSecurityContext(&a);
    st = ku_asc(&acred, tok, tok_len, asc_std | ASC_REQ_REPLAY_DETECT, NULL, 0,
                &a, &err, &err_len, NULL);
    assert_int_equal(st, SEC_E_INVALID_TOKEN);
    ku_check_krb_error(err, err_len, KERB_AP_ERR_REPEAT);
    SEED_REPLY(&i, err, err_len, "hsmssp");
    x = (io){.in = err, .in_len = err_len};
    st = isc(&icred, &i, false, "e18/localhost",
             isc_std | ISC_REQ_EXTENDED_ERROR, &x);
    assert_int_equal(st, SEC_E_INVALID_TOKEN);
    assert_non_null(strstr(hsmssp_last_error_detail(), "KRB-ERROR 34"));
    assert_non_null(strstr(hsmssp_last_error_detail(), "the acceptor"));
    assert_not_established(&i);
    FreeContextBuffer(err);
    DeleteSecurityContext(&i);
    FreeContextBuffer(tok);

    /* 2. Not the acceptor's principal: KRB_AP_ERR_NOT_US. */
    ku_acquire("e17/localhost", SECPKG_CRED_INBOUND, &e17only);
    assert_int_equal(isc(&icred, &i, true, "e18/localhost", isc_std, &x),
                     SEC_I_CONTINUE_NEEDED);
    st = ku_asc(&e17only, x.out, x.out_len, asc_std, NULL, 0, &a, &err,
                &err_len, NULL);
    FreeContextBuffer(x.out);
    assert_int_equal(st, SEC_E_WRONG_PRINCIPAL);
    ku_check_krb_error(err, err_len, KERB_AP_ERR_NOT_US);
    SEED_REPLY(&i, err, err_len, "hsmssp");
    x = (io){.in = err, .in_len = err_len};
    assert_int_equal(isc(&icred, &i, false, "e18/localhost", isc_std, &x),
                     SEC_E_WRONG_PRINCIPAL);
    FreeContextBuffer(err);
    DeleteSecurityContext(&i);
    FreeCredentialsHandle(&e17only);

    /* 3. Clock skew: an acceptor allowing none, reached a second after
     * the authenticator was made: KRB_AP_ERR_SKEW. */
    assert_int_equal(isc(&icred, &i, true, "e18/localhost", isc_std, &x),
                     SEC_I_CONTINUE_NEEDED);
    FreeCredentialsHandle(&acred);
    runtime(&skewless, 0);
    ku_acquire("e18/localhost", SECPKG_CRED_INBOUND, &acred);
    {
        time_t t0 = time(NULL);

        while (time(NULL) == t0)
            usleep(20000);
    }
    st = ku_asc(&acred, x.out, x.out_len, asc_std, NULL, 0, &a, &err, &err_len,
                NULL);
    FreeContextBuffer(x.out);
    assert_int_equal(st, SEC_E_TIME_SKEW);
    ku_check_krb_error(err, err_len, KERB_AP_ERR_SKEW);
    SEED_REPLY(&i, err, err_len, "hsmssp");
    x = (io){.in = err, .in_len = err_len};
    assert_int_equal(isc(&icred, &i, false, "e18/localhost", isc_std, &x),
                     SEC_E_TIME_SKEW);
    assert_non_null(strstr(hsmssp_last_error_detail(), "KRB-ERROR 37"));
    FreeContextBuffer(err);
    DeleteSecurityContext(&i);

    /* 4. A KRB-ERROR that does not decode: refused as a bad token. */
    assert_int_equal(isc(&icred, &i2, true, "e18/localhost", isc_std, &x),
                     SEC_I_CONTINUE_NEEDED);
    FreeContextBuffer(x.out);
    {
        /* 0x60 framing, the krb5 OID, token id 03 00, then a SEQUENCE. */
        uint8_t bad[32] = {0x60, 0x11, 0x06, 0x09};
        size_t o = 4;

        memcpy(bad + o, kerb_oid_krb5, 9);
        o += 9;
        bad[o++] = 0x03;
        bad[o++] = 0x00;
        bad[o++] = 0x30;
        bad[o++] = 0x00;
        x = (io){.in = bad, .in_len = o};
        assert_int_equal(isc(&icred, &i2, false, "e18/localhost", isc_std, &x),
                         SEC_E_INVALID_TOKEN);
        assert_non_null(strstr(hsmssp_last_error_detail(), "malformed"));
    }
    DeleteSecurityContext(&i2);
    FreeCredentialsHandle(&acred);
    FreeCredentialsHandle(&icred);
}

/* Replies in the wrong place, calls in the wrong state. */
static void
test_ap_rep_misuse(void **state)
{
    CredHandle icred, acred;
    CtxtHandle i1, i2, a1, a2, n1;
    io x = {0};
    uint8_t *rep1 = NULL, *rep2 = NULL, *req2;
    size_t rep1_len = 0, rep2_len = 0, req2_len;
    SECURITY_STATUS st;

    (void)state;
    std_runtime();
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire("e18/localhost", SECPKG_CRED_INBOUND, &acred);
    /* Two contexts to the same service (one cached ticket: the same
     * session key encrypts both AP-REPs). */
    assert_int_equal(isc(&icred, &i1, true, "e18/localhost", isc_std, &x),
                     SEC_I_CONTINUE_NEEDED);
    assert_int_equal(ku_asc(&acred, x.out, x.out_len, asc_std, NULL, 0, &a1,
                            &rep1, &rep1_len, NULL),
                     SEC_E_OK);
    FreeContextBuffer(x.out);
    assert_int_equal(isc(&icred, &i2, true, "e18/localhost", isc_std, &x),
                     SEC_I_CONTINUE_NEEDED);
    req2 = x.out;
    req2_len = x.out_len;
    assert_int_equal(ku_asc(&acred, req2, req2_len, asc_std, NULL, 0, &a2,
                            &rep2, &rep2_len, NULL),
                     SEC_E_OK);
    /* context 1's AP-REP on context 2: it decrypts, but echoes another
     * authenticator's time. */
    x = (io){.in = rep1, .in_len = rep1_len};
    assert_int_equal(isc(&icred, &i2, false, "e18/localhost", isc_std, &x),
                     SEC_E_MUTUAL_AUTH_FAILED);
    assert_non_null(strstr(hsmssp_last_error_detail(), "time"));
    assert_not_established(&i2);
    /* An AP-REQ where the AP-REP belongs. */
    x = (io){.in = req2, .in_len = req2_len};
    assert_int_equal(isc(&icred, &i2, false, "e18/localhost", isc_std, &x),
                     SEC_E_INVALID_TOKEN);
    assert_non_null(strstr(hsmssp_last_error_detail(), "0x0100"));
    /* Empty, oversized, absent. */
    x = (io){.in = rep2, .in_len = 0};
    assert_int_equal(isc(&icred, &i2, false, "e18/localhost", isc_std, &x),
                     SEC_E_INVALID_TOKEN);
    {
        size_t big_len = 65537;
        uint8_t *big = calloc(1, big_len);

        assert_non_null(big);
        memcpy(big, rep2, rep2_len);
        x = (io){.in = big, .in_len = big_len};
        assert_int_equal(isc(&icred, &i2, false, "e18/localhost", isc_std, &x),
                         SEC_E_INVALID_TOKEN);
        assert_non_null(strstr(hsmssp_last_error_detail(), "max_token_size"));
        free(big);
    }
    {
        SecBuffer ob = {0, SECBUFFER_TOKEN, NULL};
        SecBufferDesc od = {SECBUFFER_VERSION, 1, &ob};
        ULONG attrs;

        st = InitializeSecurityContextA(
            &icred, &i2, "e18/localhost", isc_std | ISC_REQ_ALLOCATE_MEMORY, 0,
            SECURITY_NATIVE_DREP, NULL, 0, &i2, &od, &attrs, NULL);
        assert_int_equal(st, SEC_E_INVALID_PARAMETER);
    }
    assert_not_established(&i2);
    /* Its own AP-REP completes context 2 after all that, with the flags
     * its AP-REQ announced: a second call asking for less (here mutual
     * authentication alone) does not take confidentiality or the replay
     * and sequence windows away from what the acceptor was told. */
    x = (io){.in = rep2, .in_len = rep2_len};
    assert_int_equal(isc(&icred, &i2, false, "e18/localhost",
                         ISC_REQ_MUTUAL_AUTH, &x),
                     SEC_E_OK);
    assert_true(x.attrs & ISC_RET_CONFIDENTIALITY);
    assert_true(x.attrs & ISC_RET_REPLAY_DETECT);
    assert_true(x.attrs & ISC_RET_SEQUENCE_DETECT);
    /* Established contexts take no more tokens. */
    x = (io){.in = rep2, .in_len = rep2_len};
    assert_int_equal(isc(&icred, &i2, false, "e18/localhost", isc_std, &x),
                     SEC_E_INVALID_HANDLE);
    assert_non_null(strstr(hsmssp_last_error_detail(), "established"));
    exchange(&i2, &a2, false);
    {
        ULONG ia = 0;

        establish(&icred, &acred, "e18/localhost",
                  isc_std & ~ISC_REQ_MUTUAL_AUTH, asc_std, &n1, &a1, &ia,
                  NULL);
        x = (io){.in = rep1, .in_len = rep1_len};
        assert_int_equal(isc(&icred, &n1, false, "e18/localhost",
                             isc_std & ~ISC_REQ_MUTUAL_AUTH, &x),
                         SEC_E_INVALID_HANDLE);
        /* An acceptor's context is not an initiator's. */
        assert_int_equal(isc(&icred, &a1, false, "e18/localhost", isc_std, &x),
                         SEC_E_INVALID_HANDLE);
        exchange(&n1, &a1, false);
        DeleteSecurityContext(&n1);
        DeleteSecurityContext(&a1);
    }
    /* A deleted context. */
    {
        CtxtHandle stale = i1;

        assert_int_equal(DeleteSecurityContext(&i1), SEC_E_OK);
        x = (io){.in = rep1, .in_len = rep1_len};
        assert_int_equal(
            isc(&icred, &stale, false, "e18/localhost", isc_std, &x),
            SEC_E_INVALID_HANDLE);
    }
    /* An inbound-only credential cannot initiate. */
    {
        CtxtHandle z;

        x = (io){0};
        assert_int_equal(isc(&acred, &z, true, "e18/localhost", isc_std, &x),
                         SEC_E_INVALID_PARAMETER);
        assert_false(SecIsValidHandle(&z));
    }
    FreeContextBuffer(rep1);
    FreeContextBuffer(rep2);
    FreeContextBuffer(req2);
    DeleteSecurityContext(&i2);
    DeleteSecurityContext(&a2);
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
}

/* ---- the ticket cache -------------------------------------------------- */

/* A copy of the credential's TGT encoding (which changes with every new
 * TGT) and its authtime. */
static size_t
tgt_snapshot(CredHandle *cred, uint8_t *buf, size_t cap, int64_t *authtime)
{
    sspi_slot *s;
    kerb_cred *c = cred_obj(cred, &s);
    size_t n;

    pthread_mutex_lock(&c->out->lock);
    n = c->out->tgt->ticket_len;
    assert_true(n <= cap);
    memcpy(buf, c->out->tgt->ticket, n);
    *authtime = c->out->tgt->authtime;
    pthread_mutex_unlock(&c->out->lock);
    sspi_handle_put(s);
    return n;
}

static kerb_tkt *
cached_ticket(CredHandle *cred, const char *server, size_t *n_cache)
{
    sspi_slot *s;
    kerb_cred *c = cred_obj(cred, &s);
    kerb_tkt *t = NULL;

    pthread_mutex_lock(&c->out->lock);
    for (size_t i = 0; i < c->out->n_cache; i++)
        if (strcmp(c->out->cache[i].name, server) == 0)
            t = c->out->cache[i].t;
    *n_cache = c->out->n_cache;
    pthread_mutex_unlock(&c->out->lock);
    sspi_handle_put(s);
    return t;
}

static void
test_ticket_cache(void **state)
{
    CredHandle icred, acred;
    uint8_t tgt[8192];
    int64_t authtime;
    kerb_tkt *t1 = NULL;
    size_t n_cache = 0, e17_before, e18_before;
    char what[128];

    (void)state;
    std_runtime();
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    /* The KDC log tells TGTs apart by authtime alone, and other tests
     * running at the same time log svcacct in too: a TGT whose second no
     * other AS exchange of svcacct shares is taken (a few tries). */
    for (int tries = 0;; tries++) {
        size_t as_n;

        ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
        tgt_snapshot(&icred, tgt, sizeof(tgt), &authtime);
        as_n = kdclog_wait("AS_REQ", SVCACCT " for krbtgt/" REALM "@" REALM,
                           authtime, 1);
        if (as_n == 1 || tries == 4)
            break;
        FreeCredentialsHandle(&icred);
        purge_shared_tgts();
        sleep(1);
    }
    /* Earlier TGTs of this process may share the authtime (the same
     * second): count from here. */
    snprintf(what, sizeof(what), SVCACCT " for e17/localhost@" REALM);
    e17_before = kdclog_count("TGS_REQ", what, authtime);
    e18_before =
        kdclog_count("TGS_REQ", SVCACCT " for e18/localhost@" REALM, authtime);
    for (int k = 0; k < 4; k++) {
        CtxtHandle i, a;

        establish(&icred, &acred, k == 2 ? "e17@localhost" : "e17/localhost",
                  k % 2 ? isc_std : isc_std & ~ISC_REQ_MUTUAL_AUTH, asc_std,
                  &i, &a, NULL, NULL);
        if (k == 0) {
            t1 = cached_ticket(&icred, "e17/localhost@" REALM, &n_cache);
            assert_non_null(t1);
            assert_int_equal(n_cache, 1);
        } else {
            /* The same ticket object, never replaced: no TGS exchange. */
            assert_ptr_equal(
                cached_ticket(&icred, "e17/localhost@" REALM, &n_cache), t1);
            assert_int_equal(n_cache, 1);
        }
        DeleteSecurityContext(&i);
        DeleteSecurityContext(&a);
    }
    /* The KDC saw one TGS-REQ for e17 with this TGT.  A later one for e18
     * makes sure every earlier line is in the log. */
    {
        CtxtHandle i, a;

        establish(&icred, &acred, "e18/localhost", isc_std, asc_std, &i, &a,
                  NULL, NULL);
        DeleteSecurityContext(&i);
        DeleteSecurityContext(&a);
    }
    assert_int_equal(kdclog_wait("TGS_REQ",
                                 SVCACCT " for e18/localhost@" REALM, authtime,
                                 e18_before + 1),
                     e18_before + 1);
    /* And one AS exchange made the TGT; when another process's AS
     * exchange for svcacct fell in the same second after all, its TGS
     * exchanges are indistinguishable, and only a lower bound holds. */
    if (kdclog_count("AS_REQ", SVCACCT " for krbtgt/" REALM "@" REALM,
                     authtime) == 1)
        assert_int_equal(kdclog_count("TGS_REQ", what, authtime),
                         e17_before + 1);
    else
        assert_true(kdclog_count("TGS_REQ", what, authtime) >=
                    e17_before + 1);
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
}

/* ticket_lifetime = 300: a TGT never has more than the refresh margin
 * (REFRESH_MARGIN, 300 s) left, so every fetch of a service ticket first
 * replaces it; cached service tickets (more than clock_skew = 60 s left)
 * are handed out without one. */
static void
run_refresh(bool renewable)
{
    setup s = {.kind = TU_SOFTHSM,
               .lifetime = 300,
               .skew = 60,
               .renew = renewable ? 3600 : 0};
    static const char *svcs[] = {"e17/localhost", "e18/localhost",
                                 "e17/localhost", "e19/localhost",
                                 "e18/localhost"};
    static const bool fresh[] = {true, true, false, true, false};
    CredHandle icred, acred;
    uint8_t prev[8192], cur[8192];
    size_t prev_len, cur_len, refreshes = 0;
    int64_t first_at, prev_at, cur_at;
    size_t as_before, tgs_krbtgt_before;
    const char *as_what = SVCACCT " for krbtgt/" REALM "@" REALM;

    runtime(&s, KT_SVCACCT | KT_E17 | KT_E18 | KT_E19);
    as_before = kdclog_count("AS_REQ", as_what, 0);
    tgs_krbtgt_before = kdclog_count("TGS_REQ", as_what, 0);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    prev_len = tgt_snapshot(&icred, prev, sizeof(prev), &first_at);
    prev_at = first_at;
    {
        sspi_slot *sl;
        kerb_cred *c = cred_obj(&icred, &sl);

        assert_true(c->out->tgt->endtime - now_for_test() <= 300 + 5);
        assert_int_equal((c->out->tgt->flags & KERB_TKT_RENEWABLE) != 0,
                         renewable);
        sspi_handle_put(sl);
    }
    for (size_t k = 0; k < BASE_ARRAY_LEN(svcs); k++) {
        CtxtHandle i, a;

        establish(&icred, &acred, svcs[k], isc_std, asc_std, &i, &a, NULL,
                  NULL);
        exchange(&i, &a, false);
        DeleteSecurityContext(&i);
        DeleteSecurityContext(&a);
        cur_len = tgt_snapshot(&icred, cur, sizeof(cur), &cur_at);
        if (fresh[k]) {
            /* A new TGT: renewed (same authtime) or from a new AS
             * exchange. */
            assert_false(cur_len == prev_len &&
                         memcmp(cur, prev, cur_len) == 0);
            if (renewable)
                assert_true(cur_at == first_at);
            else
                assert_true(cur_at >= prev_at);
            refreshes++;
        } else {
            assert_true(cur_len == prev_len &&
                        memcmp(cur, prev, cur_len) == 0);
        }
        memcpy(prev, cur, cur_len);
        prev_len = cur_len;
        prev_at = cur_at;
    }
    assert_int_equal(refreshes, 3);
    if (renewable) {
        /* One AS exchange (the acquire), then renewals: TGS-REQs for
         * krbtgt with the first TGT's authtime. */
        assert_true(kdclog_wait("TGS_REQ", as_what, first_at, 3) >= 3);
        assert_true(kdclog_count("TGS_REQ", as_what, 0) >=
                    tgs_krbtgt_before + 3);
    } else {
        assert_true(kdclog_wait("AS_REQ", as_what, 0, as_before + 4) >=
                    as_before + 4);
    }
    check_cred_keys(&icred);
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
}

static void
test_tgt_refresh(void **state)
{
    (void)state;
    run_refresh(false);
}

static void
test_tgt_renewal(void **state)
{
    (void)state;
    run_refresh(true);
}

/* ---- credential sources -------------------------------------------- */

static kerb_src
cred_source(CredHandle *h, char *client, size_t cap)
{
    sspi_slot *s;
    kerb_cred *c = cred_obj(h, &s);
    kerb_src src = c->out->src;

    if (client != NULL)
        snprintf(client, cap, "%s", c->out->client);
    sspi_handle_put(s);
    return src;
}

/* The client name the acceptor sees for a context from icred. */
static void
check_client_seen(CredHandle *icred, CredHandle *acred, const char *target,
                  const char *client)
{
    CtxtHandle i, a;
    SecPkgContext_NativeNamesA nn;

    establish(icred, acred, target, isc_std, asc_std, &i, &a, NULL, NULL);
    assert_int_equal(
        QueryContextAttributesA(&a, SECPKG_ATTR_NATIVE_NAMES, &nn), SEC_E_OK);
    assert_string_equal(nn.sClientName, client);
    FreeContextBuffer(nn.sClientName);
    FreeContextBuffer(nn.sServerName);
    exchange(&i, &a, false);
    check_ctx_key(&i);
    DeleteSecurityContext(&i);
    DeleteSecurityContext(&a);
}

static void
test_source_token_keys(void **state)
{
    CredHandle icred, acred;
    char client[600];

    (void)state;
    std_runtime();
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    assert_int_equal(cred_source(&icred, client, sizeof(client)),
                     KERB_SRC_TOKEN_KEY);
    assert_string_equal(client, SVCACCT);
    check_client_seen(&icred, &acred, "e20/localhost", SVCACCT);
    /* The account's long-term keys, the TGT and the ticket. */
    assert_true(check_cred_keys(&icred) >= 3);
    /* The credential's name; an any-service inbound one has none, and
     * other attributes are refused. */
    {
        SecPkgCredentials_NamesA nm = {NULL};

        assert_int_equal(QueryCredentialsAttributesA(
                             &icred, SECPKG_CRED_ATTR_NAMES, &nm),
                         SEC_E_OK);
        assert_string_equal(nm.sUserName, SVCACCT);
        FreeContextBuffer(nm.sUserName);
        assert_int_equal(QueryCredentialsAttributesA(
                             &acred, SECPKG_CRED_ATTR_NAMES, &nm),
                         SEC_E_UNSUPPORTED_FUNCTION);
        assert_int_equal(QueryCredentialsAttributesA(
                             &icred, SECPKG_CRED_ATTR_KDC_PROXY_SETTINGS,
                             &nm),
                         SEC_E_UNSUPPORTED_FUNCTION);
        assert_int_equal(
            QueryCredentialsAttributesA(&icred, SECPKG_CRED_ATTR_NAMES, NULL),
            SEC_E_INVALID_PARAMETER);
    }
    FreeCredentialsHandle(&icred);
    /* No key, no stored TGT, no ccache for this name. */
    assert_int_equal(ku_try_acquire("bob", SECPKG_CRED_OUTBOUND, NULL, &icred),
                     SEC_E_NO_CREDENTIALS);
    assert_false(SecIsValidHandle(&icred));
    FreeCredentialsHandle(&acred);
}

static void
test_source_password(void **state)
{
    SEC_WINNT_AUTH_IDENTITY_A id;
    CredHandle icred, acred;
    char client[600];
    sspi_slot *s;
    kerb_cred *c;

    (void)state;
    std_runtime();
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    /* user + domain, as Windows callers pass them. */
    id = ku_identity("dave", "hsmssp.test", dave_pw);
    assert_int_equal(ku_try_acquire(NULL, SECPKG_CRED_OUTBOUND, &id, &icred),
                     SEC_E_OK);
    assert_int_equal(cred_source(&icred, client, sizeof(client)),
                     KERB_SRC_PASSWORD);
    assert_string_equal(client, "dave@" REALM);
    c = cred_obj(&icred, &s);
    /* The key made from the password (the KDC's enctype and salt) is
     * kept, on the token, for TGT refreshes. */
    assert_true(c->out->n_lt >= 1);
    sspi_handle_put(s);
    check_client_seen(&icred, &acred, "e18/localhost", "dave@" REALM);
    assert_true(check_cred_keys(&icred) >= 3);
    FreeCredentialsHandle(&icred);
    /* user@REALM alone. */
    id = ku_identity("dave@" REALM, NULL, dave_pw);
    assert_int_equal(ku_try_acquire(NULL, SECPKG_CRED_OUTBOUND, &id, &icred),
                     SEC_E_OK);
    check_client_seen(&icred, &acred, "e17/localhost", "dave@" REALM);
    FreeCredentialsHandle(&icred);
    /* A wrong password: the KDC refuses the pre-authentication. */
    id = ku_identity("dave", REALM, "not-the-password");
    assert_int_equal(ku_try_acquire(NULL, SECPKG_CRED_OUTBOUND, &id, &icred),
                     SEC_E_LOGON_DENIED);
    assert_non_null(strstr(hsmssp_last_error_detail(), "KRB-ERROR 24"));
    assert_false(SecIsValidHandle(&icred));
    /* An unknown client. */
    id = ku_identity("nosuchuser", REALM, "x");
    assert_int_equal(ku_try_acquire(NULL, SECPKG_CRED_OUTBOUND, &id, &icred),
                     SEC_E_UNKNOWN_CREDENTIALS);
    /* A password identity is for outbound credentials only. */
    id = ku_identity("dave", REALM, dave_pw);
    assert_int_equal(ku_try_acquire(NULL, SECPKG_CRED_INBOUND, &id, &icred),
                     SEC_E_INVALID_PARAMETER);
    FreeCredentialsHandle(&acred);
}

static void
test_source_ccache(void **state)
{
    CredHandle icred, icred2, acred;
    char client[600], path[700];
    const char *cc;

    (void)state;
    std_runtime();
    kinit_alice("alice-ccache.cc");
    cc = getenv("KRB5CCNAME");
    snprintf(path, sizeof(path), "%s", cc + strlen("FILE:"));
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    /* No name: the default cache decides who we are. */
    ku_acquire(NULL, SECPKG_CRED_OUTBOUND, &icred);
    assert_int_equal(cred_source(&icred, client, sizeof(client)),
                     KERB_SRC_CCACHE);
    assert_string_equal(client, "alice@" REALM);
    /* Named. */
    ku_acquire("alice", SECPKG_CRED_OUTBOUND, &icred2);
    assert_int_equal(cred_source(&icred2, NULL, 0), KERB_SRC_CCACHE);
    check_client_seen(&icred2, &acred, "e17/localhost", "alice@" REALM);
    FreeCredentialsHandle(&icred2);
    /* The TGT's session key went into the token at acquire: the cache
     * file can go, and new service tickets still come. */
    assert_int_equal(unlink(path), 0);
    check_client_seen(&icred, &acred, "e18/localhost", "alice@" REALM);
    check_client_seen(&icred, &acred, "e19@localhost", "alice@" REALM);
    assert_true(check_cred_keys(&icred) >= 3);
    FreeCredentialsHandle(&icred);
    /* Without the file there is no credential any more. */
    assert_int_equal(ku_try_acquire(NULL, SECPKG_CRED_OUTBOUND, NULL, &icred),
                     SEC_E_NO_CREDENTIALS);
    assert_int_equal(
        ku_try_acquire("alice", SECPKG_CRED_OUTBOUND, NULL, &icred),
        SEC_E_NO_CREDENTIALS);
    kinit_alice("alice.cc");
    FreeCredentialsHandle(&acred);
}

/* A TGT stored by kinit (kerb_store_kinit, what `hsmssp kinit` runs):
 * used instead of an AS exchange while the account's key is on the
 * token, and alone once the key is gone. */
static void
test_source_store(void **state)
{
    CredHandle icred, acred;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    kerb_tkt *stored = NULL;
    char *path = NULL, file[1024];
    struct stat sb;
    int64_t stored_at;
    uint8_t stored_ticket[8192], cur[8192];
    size_t stored_len, cur_len, n = 0;
    sspi_slot *s;
    kerb_cred *c;

    (void)state;
    std_runtime();
    TU_OK(sspi_runtime_env(&env));
    TU_OK(prov_env_token(env, &tok));
    TU_OK(kerb_store_kinit(env, tok, SVCACCT, &path, &stored));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_true(stored->key_id_len > 0);
    stored_at = stored->authtime;
    stored_len = stored->ticket_len;
    memcpy(stored_ticket, stored->ticket, stored_len);
    /* The stored key is a token object, sensitive like the others. */
    ku_check_key_hidden(stored->key, "stored TGT key");
    kerb_tkt_unref(stored);
    snprintf(file, sizeof(file), "%s", path);
    free(path);

    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    c = cred_obj(&icred, &s);
    assert_int_equal(c->out->src, KERB_SRC_TOKEN_KEY);
    assert_true(c->out->tgt->key_id_len > 0); /* the stored one */
    sspi_handle_put(s);
    cur_len = tgt_snapshot(&icred, cur, sizeof(cur), &stored_at);
    assert_true(cur_len == stored_len &&
                memcmp(cur, stored_ticket, cur_len) == 0);
    check_client_seen(&icred, &acred, "e18/localhost", SVCACCT);
    FreeCredentialsHandle(&icred);
    /* A credential takes the stored TGT (its key not used yet); another
     * kinit then replaces the stored TGT and destroys that key object:
     * the credential's first TGS exchange finds the key gone, drops the
     * TGT, takes the new stored one and succeeds. */
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    TU_OK(kerb_store_kinit(env, tok, SVCACCT, &path, &stored));
    cur_len = stored->ticket_len;
    memcpy(cur, stored->ticket, cur_len);
    kerb_tkt_unref(stored);
    free(path);
    check_client_seen(&icred, &acred, "e17/localhost", SVCACCT);
    {
        uint8_t now_tkt[8192];
        int64_t at = 0;
        size_t now_len = tgt_snapshot(&icred, now_tkt, sizeof(now_tkt), &at);

        assert_true(now_len == cur_len &&
                    memcmp(now_tkt, cur, cur_len) == 0);
    }
    FreeCredentialsHandle(&icred);

    /* The account's keys leave the token: the stored TGT alone. */
    TU_OK(kerb_ks_remove(tok, SVCACCT, -1, &n));
    assert_true(n >= 4);
    softhsm_imported &= ~(unsigned)KT_SVCACCT;
    softhsm_rc4_imported &= ~(unsigned)KT_SVCACCT;
    /* The "any principal" acceptor credential, acquired while svcacct's
     * keys were on the token, skips them now that they are gone. */
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    assert_int_equal(cred_source(&icred, NULL, 0), KERB_SRC_STORE);
    check_client_seen(&icred, &acred, "e19/localhost", SVCACCT);
    assert_true(check_cred_keys(&icred) >= 2);
    FreeCredentialsHandle(&icred);

    /* kdestroy: nothing is left to acquire with. */
    TU_OK(kerb_store_destroy(env, tok, SVCACCT, &n));
    assert_int_equal(n, 1);
    assert_int_not_equal(stat(file, &sb), 0);
    assert_int_equal(
        ku_try_acquire("svcacct", SECPKG_CRED_OUTBOUND, NULL, &icred),
        SEC_E_NO_CREDENTIALS);
    prov_env_unref(env);
    FreeCredentialsHandle(&acred);
}

/* ---- key rotation ------------------------------------------------------ */

/* svcacct's keytab keys imported as kvno into persistent objects, or
 * random keys in their place when bogus. */
static void
import_svcacct_as(uint32_t kvno, bool bogus)
{
    assert_true(ku_import_keytab_as("svcacct", TU_SOFTHSM, false, kvno,
                                    bogus) >= 3);
}

/* The env keeps each account's list of keys for a minute (kerb_lt_load):
 * a key the KDC refuses, or one gone from the token, lists the token
 * again, and only new keys earn a second AS exchange. */
static void
test_key_rotation(void **state)
{
    CredHandle icred, acred;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    size_t n = 0;

    (void)state;
    std_runtime();
    TU_OK(sspi_runtime_env(&env));
    TU_OK(prov_env_token(env, &tok));
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    check_client_seen(&icred, &acred, "e18/localhost", SVCACCT);
    FreeCredentialsHandle(&icred);

    /* Wrong keys in place of the right ones, under kvno 50: the kept
     * list names keys gone from the token, the new listing the wrong
     * ones, and the KDC refuses them; listing again finds the same keys,
     * so there is no second attempt. */
    TU_OK(kerb_ks_remove(tok, SVCACCT, -1, &n));
    softhsm_imported &= ~(unsigned)KT_SVCACCT;
    softhsm_rc4_imported &= ~(unsigned)KT_SVCACCT;
    import_svcacct_as(50, true);
    kerb_shared_tgt_purge(env, SVCACCT); /* no TGT from the first login */
    assert_int_equal(
        ku_try_acquire("svcacct", SECPKG_CRED_OUTBOUND, NULL, &icred),
        SEC_E_LOGON_DENIED);
    /* Said once, with the KDC's error. */
    {
        const char *d = hsmssp_last_error_detail();
        const char *p = strstr(d, "refused the pre-authentication");

        assert_non_null(p);
        assert_null(strstr(p + 1, "refused the pre-authentication"));
        assert_non_null(strstr(d, "PREAUTH_FAILED"));
    }

    /* The right keys arrive as kvno 51 while the env still keeps the
     * list of kvno 50: the KDC's refusal lists the token again, and the
     * AS exchange is retried with the new keys. */
    import_svcacct_as(51, false);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    kerb_shared_tgt_purge(env, SVCACCT);
    check_client_seen(&icred, &acred, "e17/localhost", SVCACCT);
    FreeCredentialsHandle(&icred);

    /* The wrong keys leave: the kept list names them, so the token is
     * listed again. */
    TU_OK(kerb_ks_remove(tok, SVCACCT, 50, &n));
    assert_true(n >= 3);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    kerb_shared_tgt_purge(env, SVCACCT);
    check_client_seen(&icred, &acred, "e20/localhost", SVCACCT);
    FreeCredentialsHandle(&icred);
    /* Kept: wrong keys imported as kvno 52 now are not listed within the
     * minute; the kept list (kvno 51) serves, without a listing. */
    import_svcacct_as(52, true);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    kerb_shared_tgt_purge(env, SVCACCT);
    check_client_seen(&icred, &acred, "e18/localhost", SVCACCT);
    FreeCredentialsHandle(&icred);

    /* The next case imports the keytab's keys again. */
    TU_OK(kerb_ks_remove(tok, SVCACCT, -1, &n));
    FreeCredentialsHandle(&acred);
    prov_env_unref(env);
}

/* Outbound credentials of one account in one process share its TGT: a
 * second acquisition asks the KDC nothing, a credential's end leaves the
 * others theirs, and after a purge the next acquisition runs an AS
 * exchange of its own. */
static void
test_shared_tgt(void **state)
{
    CredHandle c1, c2, c3, acred;
    static uint8_t t1[8192], t2[8192], t3[8192];
    size_t l1, l2, l3;
    int64_t at1 = 0, at2 = 0, at3 = 0;
    prov_env *env = NULL;

    (void)state;
    std_runtime();
    TU_OK(sspi_runtime_env(&env));
    kerb_shared_tgt_purge(env, NULL);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &c1);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &c2);
    l1 = tgt_snapshot(&c1, t1, sizeof(t1), &at1);
    l2 = tgt_snapshot(&c2, t2, sizeof(t2), &at2);
    assert_true(l1 == l2 && memcmp(t1, t2, l1) == 0);
    assert_true(at1 == at2);
    /* The first credential's end takes nothing from the second. */
    FreeCredentialsHandle(&c1);
    check_client_seen(&c2, &acred, "e18/localhost", SVCACCT);

    /* Purged (the public call, with the short name): a new TGT (a new
     * ticket encoding: a new session key). */
    assert_int_equal(HsmsspPurgeTicketCacheA("Kerberos", "svcacct"),
                     SEC_E_OK);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &c3);
    l3 = tgt_snapshot(&c3, t3, sizeof(t3), &at3);
    assert_false(l3 == l2 && memcmp(t3, t2, l3) == 0);
    check_client_seen(&c3, &acred, "e17/localhost", SVCACCT);
    /* The older credential keeps the TGT it holds. */
    check_client_seen(&c2, &acred, "e20/localhost", SVCACCT);
    l2 = tgt_snapshot(&c2, t2, sizeof(t2), &at2);
    assert_false(l3 == l2 && memcmp(t3, t2, l3) == 0);
    /* A purge of another account leaves svcacct's; an unknown package
     * is refused. */
    assert_int_equal(HsmsspPurgeTicketCacheA("Kerberos", "nobody"),
                     SEC_E_OK);
    assert_int_equal(HsmsspPurgeTicketCacheA("NoSuchPackage", NULL),
                     SEC_E_SECPKG_NOT_FOUND);
    assert_int_equal(HsmsspPurgeTicketCacheA(NULL, NULL),
                     SEC_E_SECPKG_NOT_FOUND);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &c1);
    l1 = tgt_snapshot(&c1, t1, sizeof(t1), &at1);
    assert_true(l1 == l3 && memcmp(t1, t3, l1) == 0);
    FreeCredentialsHandle(&c1);
    /* Everyone's: the next acquisition gets yet another TGT. */
    assert_int_equal(HsmsspPurgeTicketCacheA("kerberos", NULL), SEC_E_OK);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &c1);
    l1 = tgt_snapshot(&c1, t1, sizeof(t1), &at1);
    assert_false(l1 == l3 && memcmp(t1, t3, l1) == 0);
    FreeCredentialsHandle(&c1);
    FreeCredentialsHandle(&c2);
    FreeCredentialsHandle(&c3);
    FreeCredentialsHandle(&acred);
    prov_env_unref(env);
}

/* ---- delegation ------------------------------------------------------ */

/* A delegated credential reaches host/localhost as svcacct. */
static void
use_delegated(CredHandle *dcred, CredHandle *host_acred)
{
    char client[600];

    assert_int_equal(cred_source(dcred, client, sizeof(client)),
                     KERB_SRC_DELEGATED);
    assert_string_equal(client, SVCACCT);
    check_client_seen(dcred, host_acred, "host/localhost", SVCACCT);
    assert_true(check_cred_keys(dcred) >= 2);
}

static void
test_delegation_allowed(void **state)
{
    setup s = {.kind = TU_SOFTHSM, .deleg = true};
    CredHandle icred, deleg_acred, host_acred, dcred, none;
    CtxtHandle i, a;
    ULONG ia = 0, aa = 0;
    TimeStamp exp;
    sspi_slot *sl;
    kerb_ctx *c;

    (void)state;
    runtime(&s, KT_SVCACCT | KT_DELEG | KT_HOST | KT_E18);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire("deleg/localhost", SECPKG_CRED_INBOUND, &deleg_acred);
    ku_acquire("host/localhost", SECPKG_CRED_INBOUND, &host_acred);
    establish(&icred, &deleg_acred, "deleg/localhost",
              isc_std | ISC_REQ_DELEGATE, asc_std | ASC_REQ_DELEGATE, &i, &a,
              &ia, &aa);
    assert_int_equal(ia, isc_ret_for(isc_std, true));
    assert_true(aa & ASC_RET_DELEGATE);
    c = ctx_obj(&a, &sl);
    assert_non_null(c->deleg);
    assert_string_equal(c->deleg->client, SVCACCT);
    assert_string_equal(c->deleg->server, "krbtgt/" REALM "@" REALM);
    ku_check_key_hidden(c->deleg->key, "delegated TGT key (acceptor)");
    sspi_handle_put(sl);
    exchange(&i, &a, false);

    assert_int_equal(HsmsspAcquireDelegatedCredentialsA(&a, &dcred, &exp),
                     SEC_E_OK);
    assert_true(ts_value(&exp) > filetime_of(time(NULL)));
    /* The initiator's context holds no delegated credential. */
    assert_int_equal(HsmsspAcquireDelegatedCredentialsA(&i, &none, &exp),
                     SEC_E_NO_CREDENTIALS);
    assert_false(SecIsValidHandle(&none));
    /* The credential outlives the context it came from. */
    assert_int_equal(DeleteSecurityContext(&a), SEC_E_OK);
    assert_int_equal(DeleteSecurityContext(&i), SEC_E_OK);
    use_delegated(&dcred, &host_acred);
    /* An outbound credential cannot be inbound as well. */
    FreeCredentialsHandle(&dcred);

    /* MIT's acceptor receives the forwarded TGT too. */
    {
        gss_cred_id_t mcred = ku_mit_acceptor("deleg"), dg = NULL;
        gss_ctx_id_t g;
        gss_name_t dn = GSS_C_NO_NAME;
        gss_buffer_desc nb = {0};
        OM_uint32 gf = 0, min;

        g = establish_mit(&icred, mcred, "deleg@localhost",
                          isc_std | ISC_REQ_DELEGATE, &i, &ia, &gf, &dg);
        assert_int_equal(ia, isc_ret_for(isc_std, true));
        assert_true(gf & GSS_C_DELEG_FLAG);
        assert_true(dg != GSS_C_NO_CREDENTIAL);
        assert_false(
            GSS_ERROR(gss_inquire_cred(&min, dg, &dn, NULL, NULL, NULL)));
        assert_false(GSS_ERROR(gss_display_name(&min, dn, &nb, NULL)));
        assert_int_equal(nb.length, strlen(SVCACCT));
        assert_memory_equal(nb.value, SVCACCT, nb.length);
        gss_release_buffer(&min, &nb);
        gss_release_name(&min, &dn);
        exchange_mit(&i, g);
        DeleteSecurityContext(&i);
        gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
        gss_release_cred(&min, &dg);
        gss_release_cred(&min, &mcred);
    }
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&deleg_acred);
    FreeCredentialsHandle(&host_acred);
}

/* One context asking for delegation; returns whether the initiator
 * granted it (and checks that the acceptor agrees). */
static bool
delegation_granted(CredHandle *icred, CredHandle *acred, const char *target)
{
    CtxtHandle i, a;
    ULONG ia = 0, aa = 0;
    CredHandle d;
    TimeStamp exp;
    bool granted;

    establish(icred, acred, target, isc_std | ISC_REQ_DELEGATE,
              asc_std | ASC_REQ_DELEGATE, &i, &a, &ia, &aa);
    granted = (ia & ISC_RET_DELEGATE) != 0;
    assert_int_equal(ia, isc_ret_for(isc_std, granted));
    assert_int_equal((aa & ASC_RET_DELEGATE) != 0, granted);
    if (!granted)
        assert_int_equal(HsmsspAcquireDelegatedCredentialsA(&a, &d, &exp),
                         SEC_E_NO_CREDENTIALS);
    DeleteSecurityContext(&i);
    DeleteSecurityContext(&a);
    return granted;
}

static void
test_delegation_refused(void **state)
{
    setup off = {.kind = TU_SOFTHSM};
    setup on = {.kind = TU_SOFTHSM, .deleg = true};
    setup any = {.kind = TU_SOFTHSM, .deleg = true, .ignore_ok = true};
    CredHandle icred, acred;

    (void)state;
    /* Policy: allow_delegation false, whatever the service. */
    runtime(&off, KT_SVCACCT | KT_DELEG | KT_E18);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    assert_false(delegation_granted(&icred, &acred, "deleg/localhost"));
    assert_false(delegation_granted(&icred, &acred, "e18/localhost"));
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
    /* Allowed, but e18's ticket lacks ok-as-delegate. */
    runtime(&on, 0);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    assert_false(delegation_granted(&icred, &acred, "e18/localhost"));
    assert_true(delegation_granted(&icred, &acred, "deleg/localhost"));
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
    /* ignore_ok_as_delegate: e18 gets it too. */
    runtime(&any, 0);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    assert_true(delegation_granted(&icred, &acred, "e18/localhost"));
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
}

typedef struct imp_arg {
    CtxtHandle *h;
    CredHandle cred;
    SECURITY_STATUS st;
    uid_t uid, seen_uid;
} imp_arg;

/* Impersonates the client and acquires the outbound credential with no
 * name: on Windows and here, the client's delegated one. */
static void *
impersonating_thread(void *p)
{
    imp_arg *a = p;

    a->st = ImpersonateSecurityContext(a->h);
    if (a->st != SEC_E_OK)
        return NULL;
    a->seen_uid = (uid_t)setfsuid((uid_t)-1);
    a->st = ku_try_acquire(NULL, SECPKG_CRED_OUTBOUND, NULL, &a->cred);
    if (RevertSecurityContext(a->h) != SEC_E_OK && a->st == SEC_E_OK)
        a->st = SEC_E_INTERNAL_ERROR;
    return NULL;
}

static void
test_delegation_impersonation(void **state)
{
    setup s = {.kind = TU_SOFTHSM, .deleg = true};
    char user[32], cmd[200], saved_conf[700], client[600];
    struct passwd *pw;
    CredHandle icred, deleg_acred, host_acred, own;
    CtxtHandle i, a;
    pthread_t th;
    imp_arg arg;

    (void)state;
    if (geteuid() != 0) {
        tu_skip_case("impersonation needs root (CAP_SETUID/CAP_SETGID)");
        return;
    }
    snprintf(saved_conf, sizeof(saved_conf), "%s", getenv("KRB5_CONFIG"));
    snprintf(user, sizeof(user), "hsmsspini%ld", (long)getpid() % 100000);
    snprintf(cmd, sizeof(cmd),
             "useradd -M -N -s /usr/sbin/nologin %s >/dev/null 2>&1", user);
    assert_int_equal(system(cmd), 0);
    pw = getpwnam(user);
    assert_non_null(pw);

    runtime(&s, KT_SVCACCT | KT_DELEG | KT_HOST);
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire("deleg/localhost", SECPKG_CRED_INBOUND, &deleg_acred);
    ku_acquire("host/localhost", SECPKG_CRED_INBOUND, &host_acred);
    establish(&icred, &deleg_acred, "deleg/localhost",
              isc_std | ISC_REQ_DELEGATE, asc_std | ASC_REQ_DELEGATE, &i, &a,
              NULL, NULL);
    ku_map_to_local("svcacct", user);
    memset(&arg, 0, sizeof(arg));
    arg.h = &a;
    arg.uid = pw->pw_uid;
    assert_int_equal(pthread_create(&th, NULL, impersonating_thread, &arg), 0);
    pthread_join(th, NULL);
    setenv("KRB5_CONFIG", saved_conf, 1);
    if (arg.st != SEC_E_OK)
        fail_msg("impersonating thread: 0x%08x %s", (unsigned)arg.st,
                 hsmssp_last_error_detail());
    assert_int_equal(arg.seen_uid, pw->pw_uid);
    /* The acceptor context goes first; the credential stays usable. */
    DeleteSecurityContext(&a);
    DeleteSecurityContext(&i);
    use_delegated(&arg.cred, &host_acred);
    FreeCredentialsHandle(&arg.cred);
    /* A thread that impersonates nobody gets the default ccache. */
    kinit_alice("alice.cc");
    ku_acquire(NULL, SECPKG_CRED_OUTBOUND, &own);
    assert_int_equal(cred_source(&own, client, sizeof(client)),
                     KERB_SRC_CCACHE);
    assert_string_equal(client, "alice@" REALM);
    FreeCredentialsHandle(&own);
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&deleg_acred);
    FreeCredentialsHandle(&host_acred);
    snprintf(cmd, sizeof(cmd), "userdel %s >/dev/null 2>&1", user);
    assert_int_equal(system(cmd), 0);
}

/* ---- threads and fork ------------------------------------------------ */

typedef struct thr_arg {
    CredHandle *icred, *acred;
    int id;
    int rounds;
    int failures;
    char why[256];
} thr_arg;

static const char *const thr_targets[] = {"e17/localhost", "e18/localhost",
                                          "e19/localhost", "e20/localhost"};

/* Handshakes and a message each way, reporting instead of asserting
 * (cmocka's asserts belong to the main thread). */
static void *
thr_main(void *p)
{
    thr_arg *t = p;

    for (int r = 0; r < t->rounds; r++) {
        const char *target = thr_targets[(t->id + r) % 4];
        ULONG req = (r % 2) ? isc_std : isc_std & ~ISC_REQ_MUTUAL_AUTH;
        CtxtHandle i, a;
        io x = {0};
        uint8_t *rep = NULL, tok[128], data[64];
        size_t rep_len = 0;
        SecBuffer b[2];
        SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
        SECURITY_STATUS st;

        st = isc(t->icred, &i, true, target, req, &x);
        if (st != ((r % 2) ? SEC_I_CONTINUE_NEEDED : SEC_E_OK)) {
            snprintf(t->why, sizeof(t->why), "ISC %s: 0x%08x %s", target,
                     (unsigned)st, hsmssp_last_error_detail());
            t->failures++;
            FreeContextBuffer(x.out);
            continue;
        }
        st = ku_asc(t->acred, x.out, x.out_len, asc_std, NULL, 0, &a, &rep,
                    &rep_len, NULL);
        FreeContextBuffer(x.out);
        if (st == SEC_E_OK && (r % 2)) {
            x = (io){.in = rep, .in_len = rep_len};
            st = isc(t->icred, &i, false, target, req, &x);
            FreeContextBuffer(x.out);
        }
        FreeContextBuffer(rep);
        if (st == SEC_E_OK) {
            memset(data, t->id, sizeof(data));
            b[0] = (SecBuffer){sizeof(tok), SECBUFFER_TOKEN, tok};
            b[1] = (SecBuffer){sizeof(data), SECBUFFER_DATA, data};
            st = EncryptMessage(&i, 0, &d, 0);
            if (st == SEC_E_OK)
                st = DecryptMessage(&a, &d, 0, NULL);
            if (st == SEC_E_OK && data[0] != (uint8_t)t->id)
                st = SEC_E_INTERNAL_ERROR;
            if (st == SEC_E_OK) {
                b[0].cbBuffer = sizeof(tok);
                st = EncryptMessage(&a, 0, &d, 0);
            }
            if (st == SEC_E_OK)
                st = DecryptMessage(&i, &d, 0, NULL);
        }
        if (st != SEC_E_OK) {
            snprintf(t->why, sizeof(t->why), "%s: 0x%08x %s", target,
                     (unsigned)st, hsmssp_last_error_detail());
            t->failures++;
        }
        if (SecIsValidHandle(&a))
            DeleteSecurityContext(&a);
        DeleteSecurityContext(&i);
    }
    return NULL;
}

static void
test_threads(void **state)
{
    enum { N_THREADS = 8 };
    CredHandle icred, acred;
    pthread_t th[N_THREADS];
    thr_arg args[N_THREADS];
    size_t n_cache = 0;

    (void)state;
    std_runtime();
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    for (int k = 0; k < N_THREADS; k++) {
        args[k] = (thr_arg){
            &icred, &acred, k, getenv("HSMSSP_SANITIZED") ? 6 : 16, 0, ""};
        assert_int_equal(pthread_create(&th[k], NULL, thr_main, &args[k]), 0);
    }
    for (int k = 0; k < N_THREADS; k++) {
        pthread_join(th[k], NULL);
        if (args[k].failures != 0)
            fail_msg("thread %d: %d failures, last: %s", k, args[k].failures,
                     args[k].why);
    }
    /* Tickets fetched concurrently land once each in the cache. */
    for (size_t k = 0; k < 4; k++) {
        char server[96];

        snprintf(server, sizeof(server), "%s@" REALM, thr_targets[k]);
        assert_non_null(cached_ticket(&icred, server, &n_cache));
    }
    assert_int_equal(n_cache, 4);
    check_cred_keys(&icred);
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
}

/* A credential and a context made before fork() fail in the child with
 * SEC_E_INVALID_HANDLE; the parent keeps both. */
static void
test_fork(void **state)
{
    CredHandle icred, acred;
    CtxtHandle i, a;
    pid_t pid;
    int status = 0;

    (void)state;
    std_runtime();
    ku_acquire("svcacct", SECPKG_CRED_OUTBOUND, &icred);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &acred);
    establish(&icred, &acred, "e18/localhost", isc_std, asc_std, &i, &a, NULL,
              NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        CtxtHandle c2;
        io x = {0};
        uint8_t tok[128], data[4] = {1, 2, 3, 4};
        SecBuffer eb[2] = {{sizeof(tok), SECBUFFER_TOKEN, tok},
                           {4, SECBUFFER_DATA, data}};
        SecBufferDesc ed = {SECBUFFER_VERSION, 2, eb};
        int bad = 0;

        bad |= (isc(&icred, &c2, true, "e17/localhost", isc_std, &x) !=
                SEC_E_INVALID_HANDLE)
               << 0;
        bad |= (strstr(hsmssp_last_error_detail(), "fork") == NULL) << 1;
        bad |= (x.out != NULL) << 2;
        bad |= (EncryptMessage(&i, 0, &ed, 0) != SEC_E_INVALID_HANDLE) << 3;
        bad |= (DeleteSecurityContext(&i) != SEC_E_OK) << 4;
        bad |= (FreeCredentialsHandle(&icred) != SEC_E_OK) << 5;
        _exit(bad);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("child: failed checks 0x%x", WEXITSTATUS(status));
    exchange(&i, &a, false);
    DeleteSecurityContext(&i);
    DeleteSecurityContext(&a);
    establish(&icred, &acred, "e17/localhost", isc_std, asc_std, &i, &a, NULL,
              NULL);
    DeleteSecurityContext(&i);
    DeleteSecurityContext(&a);
    FreeCredentialsHandle(&icred);
    FreeCredentialsHandle(&acred);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_softhsm),
        cmocka_unit_test(test_matrix_nss),
        cmocka_unit_test(test_rc4_host_op),
        cmocka_unit_test(test_rc4_refused),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_target_names),
        cmocka_unit_test(test_bindings),
        cmocka_unit_test(test_ap_rep_tampered),
        cmocka_unit_test(test_acceptor_errors),
        cmocka_unit_test(test_ap_rep_misuse),
        cmocka_unit_test(test_ticket_cache),
        cmocka_unit_test(test_tgt_refresh),
        cmocka_unit_test(test_tgt_renewal),
        cmocka_unit_test(test_source_token_keys),
        cmocka_unit_test(test_source_password),
        cmocka_unit_test(test_source_ccache),
        cmocka_unit_test(test_source_store),
        cmocka_unit_test(test_key_rotation),
        cmocka_unit_test(test_shared_tgt),
        cmocka_unit_test(test_delegation_allowed),
        cmocka_unit_test(test_delegation_refused),
        cmocka_unit_test(test_delegation_impersonation),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_fork),
    };

    int rc;

#ifdef HSMSSP_INIT_SEEDS
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    initseed_begin(argv[1]);
#else
    (void)argc;
    (void)argv;
#endif
    realm_setup();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
#ifdef HSMSSP_INIT_SEEDS
    if (initseed_write() != 0)
        rc = 1;
#endif
    return rc;
}
