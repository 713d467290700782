/*
 * tests/kdc/test_accept.c - the Kerberos acceptor against MIT's GSS-API
 * as the initiator, in one process: MIT's libgssapi_krb5 gets real
 * tickets from the test realm's KDC (tests/common/realm-setup.sh) and
 * makes the AP-REQs; hsmssp's AcceptSecurityContext accepts them with the
 * service keys imported from the realm's keytabs into the token
 * (SoftHSM2: persistent objects; NSS softoken: session objects).  Then
 * messages go both ways: gss_wrap -> DecryptMessage, EncryptMessage ->
 * gss_unwrap, gss_get_mic -> VerifySignature, MakeSignature ->
 * gss_verify_mic.
 *
 * The peer is MIT's own code, so this checks interoperability, not
 * symmetry.  The sample server (tests/kdc/test_server_interop.sh) repeats
 * the matrix with MIT's gss-client over TCP.
 */
#include <dirent.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsmssp/sspi.h"
#include "provider/kerberos/kerb-int.h"
#include "sspi/sspi-int.h"
#include "testutil.h"

static char realm_dir[512];
static char work[600];

/* ---- realm ----------------------------------------------------------- */

static void
realm_setup(void)
{
    const char *envf = getenv("HSMSSP_REALM_ENV");
    char buf[1200], *d;

    if (envf == NULL || access(envf, R_OK) != 0)
        tu_skip("the test realm is missing (HSMSSP_REALM_ENV)");
    snprintf(buf, sizeof(buf), "%s", envf);
    d = dirname(buf);
    snprintf(realm_dir, sizeof(realm_dir), "%s", d);
    snprintf(work, sizeof(work), "%s/accept.%ld", tu_work_dir(),
             (long)getpid());
    mkdir(work, 0700);
    snprintf(buf, sizeof(buf), "%s/krb5.conf", realm_dir);
    setenv("KRB5_CONFIG", buf, 1);
    snprintf(buf, sizeof(buf), "FILE:%s/alice.cc", work);
    setenv("KRB5CCNAME", buf, 1);
    snprintf(buf, sizeof(buf), "FILE:%s/none.keytab", work);
    setenv("KRB5_KTNAME", buf, 1);
    setenv("KRB5_CLIENT_KTNAME", buf, 1);
    setenv("KRB5RCACHEDIR", work, 1);
    snprintf(buf, sizeof(buf),
             "kinit -k -t %s/alice.keytab alice@HSMSSP.TEST >/dev/null",
             realm_dir);
    if (system(buf) != 0)
        fail_msg("kinit for alice failed");
}

/* ---- token and configuration ----------------------------------------- */

typedef struct setup {
    tu_token_kind kind;
    bool allow_host_op;
    bool rc4;
    const char *cb_policy;
} setup;

/* Writes an hsmssp configuration for the token and points the SSPI
 * runtime at it, then imports the service keytabs through the runtime's
 * own token (session objects must live in the process's token session). */
static void
configure(const setup *s)
{
    static unsigned n;
    hsm_config hc;
    char path[700], buf[4096];
    FILE *f;

    tu_token_config(s->kind, 0, &hc);
    snprintf(path, sizeof(path), "%s/hsmssp-%u.conf", work, n++);
    f = fopen(path, "w");
    assert_non_null(f);
    fchmod(fileno(f), 0600);
    snprintf(buf, sizeof(buf),
             "[token]\n    module = %s\n    uri = %s\n"
             "[policy]\n"
             "    permitted_enctypes = aes256-cts-hmac-sha1-96 "
             "aes128-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192 "
             "aes128-cts-hmac-sha256-128%s\n"
             "%s"
             "    channel_bindings = %s\n"
             "[kerberos]\n    rcache = %s/rcache-%u\n",
             hc.module, hc.token_uri ? hc.token_uri : "pkcs11:",
             s->rc4 ? " arcfour-hmac" : "",
             s->allow_host_op ? "    allow_host_op = krb\n" : "",
             s->cb_policy ? s->cb_policy : "allowed", work, n);
    fputs(buf, f);
    fclose(f);
    assert_int_equal(HsmsspConfigureA(path), SEC_E_OK);
}

/* Imports every supported entry of a realm keytab; persistent on
 * SoftHSM2, session objects (registered with the env) on NSS. */
static void
import_keytab(const char *name, tu_token_kind kind, bool skip_kvno1)
{
    krb5_context kc;
    krb5_keytab kt;
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    char path[700], *pname;

    TU_OK(sspi_runtime_env(&env));
    TU_OK(prov_env_token(env, &tok));
    assert_int_equal(krb5_init_context(&kc), 0);
    snprintf(path, sizeof(path), "FILE:%s/%s.keytab", realm_dir, name);
    assert_int_equal(krb5_kt_resolve(kc, path, &kt), 0);
    assert_int_equal(krb5_kt_start_seq_get(kc, kt, &cur), 0);
    while (krb5_kt_next_entry(kc, kt, &ent, &cur) == 0) {
        kerb_ks_entry e;
        base_secret *k = NULL;
        hsm_key *key = NULL;
        hsmssp_err ret;

        memset(&e, 0, sizeof(e));
        assert_int_equal(krb5_unparse_name(kc, ent.principal, &pname), 0);
        snprintf(e.principal, sizeof(e.principal), "%s", pname);
        krb5_free_unparsed_name(kc, pname);
        e.kvno = ent.vno;
        e.etype = ent.key.enctype;
        if (skip_kvno1 && e.kvno == 1) {
            krb5_free_keytab_entry_contents(kc, &ent);
            continue;
        }
        TU_OK(base_secret_from(ent.key.contents, ent.key.length, &k));
        krb5_free_keytab_entry_contents(kc, &ent);
        ret = kerb_ks_import(tok, &e, k, kind == TU_SOFTHSM, true, &key);
        base_secret_free(k);
        if (ret == HSMSSP_ERR_POLICY_HOST_OP)
            continue; /* etype 23 on SoftHSM2 without H(op): a test below
                         checks the refusal */
        TU_OK(ret);
        if (kind == TU_NSS)
            TU_OK(kerb_register_session_key(env, &e, key));
        else
            hsm_key_free(key);
    }
    krb5_kt_end_seq_get(kc, kt, &cur);
    krb5_kt_close(kc, kt);
    krb5_free_context(kc);
    prov_env_unref(env);
}

static void
acquire(const char *principal, CredHandle *cred)
{
    TimeStamp exp;
    SECURITY_STATUS st;

    st = AcquireCredentialsHandleA((LPSTR)principal, "Kerberos",
                                   SECPKG_CRED_INBOUND, NULL, NULL, NULL,
                                   NULL, cred, &exp);
    if (st != SEC_E_OK)
        fail_msg("AcquireCredentialsHandle(%s): 0x%08x %s", principal,
                 (unsigned)st, hsmssp_last_error_detail());
}

/* ---- MIT initiator ---------------------------------------------------- */

static void
gss_fail(const char *what, OM_uint32 maj, OM_uint32 min)
{
    OM_uint32 m2, ctx = 0;
    gss_buffer_desc b1 = {0}, b2 = {0};

    gss_display_status(&m2, maj, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &b1);
    ctx = 0;
    gss_display_status(&m2, min, GSS_C_MECH_CODE, GSS_C_NO_OID, &ctx, &b2);
    fail_msg("%s: %.*s / %.*s", what, (int)b1.length, (char *)b1.value,
             (int)b2.length, (char *)b2.value);
}

/* The first token of a context to service@localhost. */
static gss_ctx_id_t
mit_init(const char *svc, OM_uint32 flags, gss_channel_bindings_t cb,
         gss_buffer_desc *out)
{
    gss_ctx_id_t g = GSS_C_NO_CONTEXT;
    gss_name_t name;
    gss_buffer_desc nb;
    OM_uint32 maj, min;
    char s[64];

    snprintf(s, sizeof(s), "%s@localhost", svc);
    nb.value = s;
    nb.length = strlen(s);
    maj = gss_import_name(&min, &nb, GSS_C_NT_HOSTBASED_SERVICE, &name);
    if (GSS_ERROR(maj))
        gss_fail("gss_import_name", maj, min);
    maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &g, name,
                               (gss_OID)gss_mech_krb5, flags, 0, cb,
                               GSS_C_NO_BUFFER, NULL, out, NULL, NULL);
    gss_release_name(&min, &name);
    if (GSS_ERROR(maj))
        gss_fail("gss_init_sec_context", maj, min);
    return g;
}

/* AcceptSecurityContext on one token. */
static SECURITY_STATUS
accept_tok(CredHandle *cred, const void *tok, size_t len, ULONG req,
           SEC_CHANNEL_BINDINGS *scb, size_t scb_len, CtxtHandle *ctx,
           uint8_t **out, size_t *out_len, ULONG *attrs)
{
    SecBuffer ib[2] = {{(ULONG)len, SECBUFFER_TOKEN, (void *)tok},
                       {(ULONG)scb_len, SECBUFFER_CHANNEL_BINDINGS, scb}};
    SecBuffer ob = {0, SECBUFFER_TOKEN, NULL};
    SecBufferDesc id = {SECBUFFER_VERSION, scb ? 2 : 1, ib},
                  od = {SECBUFFER_VERSION, 1, &ob};
    TimeStamp exp;
    ULONG a = 0;
    SECURITY_STATUS st;

    st = AcceptSecurityContext(cred, NULL, &id, req | ASC_REQ_ALLOCATE_MEMORY,
                               SECURITY_NATIVE_DREP, ctx, &od, &a, &exp);
    if (out != NULL) {
        *out = ob.pvBuffer;
        *out_len = ob.cbBuffer;
    } else {
        FreeContextBuffer(ob.pvBuffer);
    }
    if (attrs != NULL)
        *attrs = a;
    return st;
}

static const ULONG asc_std = ASC_REQ_MUTUAL_AUTH | ASC_REQ_REPLAY_DETECT |
                             ASC_REQ_SEQUENCE_DETECT |
                             ASC_REQ_CONFIDENTIALITY | ASC_REQ_INTEGRITY |
                             ASC_REQ_EXTENDED_ERROR;

/* A complete context: MIT initiator <-> hsmssp acceptor. */
static gss_ctx_id_t
establish(CredHandle *cred, const char *svc, OM_uint32 flags,
          CtxtHandle *ctx, ULONG *attrs)
{
    gss_buffer_desc t1 = {0}, in;
    gss_ctx_id_t g;
    gss_name_t name;
    gss_buffer_desc nb;
    uint8_t *rep = NULL;
    size_t rep_len = 0;
    OM_uint32 maj, min;
    SECURITY_STATUS st;
    char s[64];

    g = mit_init(svc, flags, GSS_C_NO_CHANNEL_BINDINGS, &t1);
    st = accept_tok(cred, t1.value, t1.length, asc_std, NULL, 0, ctx, &rep,
                    &rep_len, attrs);
    gss_release_buffer(&min, &t1);
    if (st != SEC_E_OK)
        fail_msg("AcceptSecurityContext(%s): 0x%08x %s", svc, (unsigned)st,
                 hsmssp_last_error_detail());
    if (flags & GSS_C_MUTUAL_FLAG) {
        assert_true(rep_len > 0);
        snprintf(s, sizeof(s), "%s@localhost", svc);
        nb.value = s;
        nb.length = strlen(s);
        maj = gss_import_name(&min, &nb, GSS_C_NT_HOSTBASED_SERVICE, &name);
        assert_false(GSS_ERROR(maj));
        in.value = rep;
        in.length = rep_len;
        maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &g, name,
                                   (gss_OID)gss_mech_krb5, flags, 0,
                                   GSS_C_NO_CHANNEL_BINDINGS, &in, NULL,
                                   &t1, NULL, NULL);
        gss_release_name(&min, &name);
        if (maj != GSS_S_COMPLETE)
            gss_fail("gss_init_sec_context (AP-REP)", maj, min);
        gss_release_buffer(&min, &t1);
    } else {
        assert_int_equal(rep_len, 0);
    }
    FreeContextBuffer(rep);
    return g;
}

/* ---- messages -------------------------------------------------------- */

/* gss_wrap -> DecryptMessage(STREAM + DATA). */
static void
mit_to_hsmssp(gss_ctx_id_t g, CtxtHandle *h, const uint8_t *msg, size_t n,
              int conf)
{
    gss_buffer_desc in = {n, (void *)msg}, out = {0};
    OM_uint32 maj, min;
    int state = 0;
    SecBuffer b[2];
    SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
    ULONG qop = 0;
    SECURITY_STATUS st;

    maj = gss_wrap(&min, g, conf, GSS_C_QOP_DEFAULT, &in, &state, &out);
    if (GSS_ERROR(maj))
        gss_fail("gss_wrap", maj, min);
    b[0] = (SecBuffer){(ULONG)out.length, SECBUFFER_STREAM, out.value};
    b[1] = (SecBuffer){0, SECBUFFER_DATA, NULL};
    st = DecryptMessage(h, &d, 0, &qop);
    if (st != SEC_E_OK)
        fail_msg("DecryptMessage(%zu bytes, conf %d): 0x%08x %s", n, conf,
                 (unsigned)st, hsmssp_last_error_detail());
    assert_int_equal(b[1].cbBuffer, n);
    if (n > 0)
        assert_memory_equal(b[1].pvBuffer, msg, n);
    assert_int_equal(qop, conf ? 0 : SECQOP_WRAP_NO_ENCRYPT);
    gss_release_buffer(&min, &out);
}

/* EncryptMessage(TOKEN + DATA + PADDING) -> gss_unwrap of TOKEN || DATA
 * || PADDING. */
static void
hsmssp_to_mit(gss_ctx_id_t g, CtxtHandle *h, const uint8_t *msg, size_t n,
              bool conf)
{
    SecPkgContext_Sizes sz;
    uint8_t *tok, *data, pad[16], *all;
    SecBuffer b[3];
    SecBufferDesc d = {SECBUFFER_VERSION, 3, b};
    gss_buffer_desc in, out = {0};
    OM_uint32 maj, min;
    int state = 0;
    size_t total;
    SECURITY_STATUS st;

    assert_int_equal(QueryContextAttributesA(h, SECPKG_ATTR_SIZES, &sz),
                     SEC_E_OK);
    tok = malloc(sz.cbSecurityTrailer);
    data = malloc(n + 1);
    assert_non_null(tok);
    assert_non_null(data);
    if (n > 0)
        memcpy(data, msg, n);
    b[0] = (SecBuffer){sz.cbSecurityTrailer, SECBUFFER_TOKEN, tok};
    b[1] = (SecBuffer){(ULONG)n, SECBUFFER_DATA, data};
    b[2] = (SecBuffer){sz.cbBlockSize, SECBUFFER_PADDING, pad};
    st = EncryptMessage(h, conf ? 0 : SECQOP_WRAP_NO_ENCRYPT, &d, 0);
    if (st != SEC_E_OK)
        fail_msg("EncryptMessage: 0x%08x %s", (unsigned)st,
                 hsmssp_last_error_detail());
    if (conf && n > 16)
        assert_memory_not_equal(data, msg, n);
    total = b[0].cbBuffer + b[1].cbBuffer + b[2].cbBuffer;
    all = malloc(total + 1);
    assert_non_null(all);
    memcpy(all, tok, b[0].cbBuffer);
    memcpy(all + b[0].cbBuffer, data, b[1].cbBuffer);
    memcpy(all + b[0].cbBuffer + b[1].cbBuffer, pad, b[2].cbBuffer);
    in.value = all;
    in.length = total;
    maj = gss_unwrap(&min, g, &in, &out, &state, NULL);
    if (GSS_ERROR(maj))
        gss_fail("gss_unwrap", maj, min);
    assert_int_equal(state, conf ? 1 : 0);
    assert_int_equal(out.length, n);
    if (n > 0)
        assert_memory_equal(out.value, msg, n);
    gss_release_buffer(&min, &out);
    free(all);
    free(tok);
    free(data);
}

static void
mics(gss_ctx_id_t g, CtxtHandle *h, const uint8_t *msg, size_t n)
{
    SecPkgContext_Sizes sz;
    gss_buffer_desc in = {n, (void *)msg}, mic = {0};
    OM_uint32 maj, min;
    uint8_t *sig;
    SecBuffer b[2];
    SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
    SECURITY_STATUS st;

    /* MIT -> hsmssp */
    maj = gss_get_mic(&min, g, GSS_C_QOP_DEFAULT, &in, &mic);
    if (GSS_ERROR(maj))
        gss_fail("gss_get_mic", maj, min);
    b[0] = (SecBuffer){(ULONG)n, SECBUFFER_DATA, (void *)msg};
    b[1] = (SecBuffer){(ULONG)mic.length, SECBUFFER_TOKEN, mic.value};
    st = VerifySignature(h, &d, 0, NULL);
    if (st != SEC_E_OK)
        fail_msg("VerifySignature: 0x%08x %s", (unsigned)st,
                 hsmssp_last_error_detail());
    gss_release_buffer(&min, &mic);
    /* hsmssp -> MIT */
    assert_int_equal(QueryContextAttributesA(h, SECPKG_ATTR_SIZES, &sz),
                     SEC_E_OK);
    sig = malloc(sz.cbMaxSignature);
    assert_non_null(sig);
    b[0] = (SecBuffer){(ULONG)n, SECBUFFER_DATA, (void *)msg};
    b[1] = (SecBuffer){sz.cbMaxSignature, SECBUFFER_TOKEN, sig};
    st = MakeSignature(h, 0, &d, 0);
    if (st != SEC_E_OK)
        fail_msg("MakeSignature: 0x%08x %s", (unsigned)st,
                 hsmssp_last_error_detail());
    mic.value = sig;
    mic.length = b[1].cbBuffer;
    maj = gss_verify_mic(&min, g, &in, &mic, NULL);
    if (GSS_ERROR(maj))
        gss_fail("gss_verify_mic", maj, min);
    free(sig);
}

static void
exchange(gss_ctx_id_t g, CtxtHandle *h)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 33, 1000, 70000};
    uint8_t *msg = malloc(70000);

    assert_non_null(msg);
    for (size_t i = 0; i < BASE_ARRAY_LEN(lens); i++) {
        tu_fill(msg, lens[i], (uint32_t)i);
        mit_to_hsmssp(g, h, msg, lens[i], 1);
        mit_to_hsmssp(g, h, msg, lens[i], 0);
        hsmssp_to_mit(g, h, msg, lens[i], true);
        hsmssp_to_mit(g, h, msg, lens[i], false);
        mics(g, h, msg, lens[i]);
    }
    free(msg);
}

/* Every object the context's key owns is sensitive and unreadable. */
static void
check_ctx_objects(CtxtHandle *h)
{
    sspi_slot *s = sspi_handle_get(h, SSPI_CTX, false);
    kerb_ctx *c;
    unsigned long objs[64];
    size_t n;

    assert_non_null(s);
    c = s->obj;
    n = hsm_key_objects(c->key, objs, BASE_ARRAY_LEN(objs));
    assert_true(n >= 1);
    for (size_t i = 0; i < n && i < BASE_ARRAY_LEN(objs); i++) {
        bool sens = false, extr = true;
        unsigned long rv = 0;

        TU_OK(hsm_object_check(c->tok, objs[i], &sens, &extr, &rv));
        assert_true(sens);
        assert_false(extr);
        assert_int_equal(rv, 0x11); /* CKR_ATTRIBUTE_SENSITIVE */
    }
    sspi_handle_put(s);
}

/* ---- the matrix ------------------------------------------------------- */

static void
run_matrix(tu_token_kind kind)
{
    static const char *svcs[] = {"e17", "e18", "e19", "e20"};
    static const int32_t etypes[] = {17, 18, 19, 20};
    setup s = {kind, false, false, NULL};

    configure(&s);
    for (size_t i = 0; i < BASE_ARRAY_LEN(svcs); i++)
        import_keytab(svcs[i], kind, false);
    for (size_t i = 0; i < BASE_ARRAY_LEN(svcs); i++) {
        char princ[64];
        CredHandle cred;

        snprintf(princ, sizeof(princ), "%s/localhost@HSMSSP.TEST", svcs[i]);
        acquire(princ, &cred);
        for (int mutual = 0; mutual < 2; mutual++) {
            OM_uint32 f = GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG |
                          GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG |
                          (mutual ? GSS_C_MUTUAL_FLAG : 0);
            CtxtHandle h;
            ULONG attrs = 0;
            SecPkgContext_KeyInfoA ki;
            gss_ctx_id_t g;
            OM_uint32 min;

            g = establish(&cred, svcs[i], f, &h, &attrs);
            assert_int_equal((attrs & ASC_RET_MUTUAL_AUTH) != 0, mutual);
            assert_true(attrs & ASC_RET_CONFIDENTIALITY);
            /* Without mutual authentication the message key is the
             * initiator's subkey, of the ticket's enctype: that enctype's
             * own per-message format is what runs. */
            assert_int_equal(QueryContextAttributesA(
                                 &h, SECPKG_ATTR_KEY_INFO, &ki),
                             SEC_E_OK);
            if (!mutual)
                assert_int_equal(ki.EncryptAlgorithm, (ULONG)etypes[i]);
            FreeContextBuffer(ki.sEncryptAlgorithmName);
            FreeContextBuffer(ki.sSignatureAlgorithmName);
            exchange(g, &h);
            check_ctx_objects(&h);
            assert_int_equal(DeleteSecurityContext(&h), SEC_E_OK);
            gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
        }
        assert_int_equal(FreeCredentialsHandle(&cred), SEC_E_OK);
    }
}

static void
test_matrix_softhsm(void **state)
{
    (void)state;
    run_matrix(TU_SOFTHSM);
}

static void
test_matrix_nss(void **state)
{
    (void)state;
    run_matrix(TU_NSS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_softhsm),
        cmocka_unit_test(test_matrix_nss),
    };

    realm_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
