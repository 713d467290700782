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
#include <fcntl.h>
#include <pwd.h>
#include <sys/fsuid.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hsm/krbsw.h"
#include "hsmssp/sspi.h"
#include "kdcutil.h"
#include "pacbuild.h"
#include "provider/kerberos/kerb-int.h"
#include "sspi/sspi-int.h"
#include "testutil.h"

/* ku_realm() and ku_work(), set by realm_setup(). */
static const char *realm_dir, *work;

/* ---- realm ----------------------------------------------------------- */

static void
realm_setup(void)
{
    realm_dir = ku_realm();
    work = ku_work("accept", NULL);
    if (!ku_kinit("alice", "alice.cc", false))
        fail_msg("kinit for alice failed");
}

/* ---- token and configuration ----------------------------------------- */

typedef struct setup {
    tu_token_kind kind;
    bool allow_host_op;
    bool rc4;
    const char *cb_policy;
    const char *rcache; /* NULL: a new file for this configuration */
} setup;

/* Writes an hsmssp configuration for the token and makes it the SSPI
 * runtime's; the service keytabs go on its token afterwards
 * (ku_import_keytab). */
static void
configure(const setup *s)
{
    static unsigned n;
    char rc[700];

    if (s->rcache != NULL)
        snprintf(rc, sizeof(rc), "%s/%s", work, s->rcache);
    else
        snprintf(rc, sizeof(rc), "%s/rcache-%u", work, n);
    n++;
    ku_configure(s->kind,
                 "[policy]\n"
                 "    permitted_enctypes = " KU_AES_ENCTYPES "%s\n"
                 "%s"
                 "    channel_bindings = %s\n"
                 "[kerberos]\n    rcache = %s\n",
                 s->rc4 ? " arcfour-hmac" : "",
                 s->allow_host_op ? "    allow_host_op = krb\n" : "",
                 s->cb_policy ? s->cb_policy : "allowed", rc);
}

/* ---- MIT initiator ---------------------------------------------------- */

/* The first token of a context to service@localhost. */
static gss_ctx_id_t
mit_init(const char *svc, OM_uint32 flags, gss_channel_bindings_t cb,
         gss_buffer_desc *out)
{
    gss_ctx_id_t g = GSS_C_NO_CONTEXT;
    gss_name_t name = ku_gss_service(svc);
    OM_uint32 maj, min;

    maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &g, name,
                               (gss_OID)gss_mech_krb5, flags, 0, cb,
                               GSS_C_NO_BUFFER, NULL, out, NULL, NULL);
    gss_release_name(&min, &name);
    if (GSS_ERROR(maj))
        ku_gss_fail("gss_init_sec_context", maj, min);
    return g;
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
    uint8_t *rep = NULL;
    size_t rep_len = 0;
    OM_uint32 maj, min;
    SECURITY_STATUS st;

    g = mit_init(svc, flags, GSS_C_NO_CHANNEL_BINDINGS, &t1);
    st = ku_asc(cred, t1.value, t1.length, asc_std, NULL, 0, ctx, &rep,
                &rep_len, attrs);
    gss_release_buffer(&min, &t1);
    if (st != SEC_E_OK)
        fail_msg("AcceptSecurityContext(%s): 0x%08x %s", svc, (unsigned)st,
                 hsmssp_last_error_detail());
    if (flags & GSS_C_MUTUAL_FLAG) {
        assert_true(rep_len > 0);
        name = ku_gss_service(svc);
        in.value = rep;
        in.length = rep_len;
        maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &g, name,
                                   (gss_OID)gss_mech_krb5, flags, 0,
                                   GSS_C_NO_CHANNEL_BINDINGS, &in, NULL,
                                   &t1, NULL, NULL);
        gss_release_name(&min, &name);
        if (maj != GSS_S_COMPLETE)
            ku_gss_fail("gss_init_sec_context (AP-REP)", maj, min);
        gss_release_buffer(&min, &t1);
    } else {
        assert_int_equal(rep_len, 0);
    }
    FreeContextBuffer(rep);
    return g;
}

/* ---- messages -------------------------------------------------------- */

static void
exchange(gss_ctx_id_t g, CtxtHandle *h)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 33, 1000, 70000};
    uint8_t *msg = malloc(70000);

    assert_non_null(msg);
    for (size_t i = 0; i < BASE_ARRAY_LEN(lens); i++) {
        tu_fill(msg, lens[i], (uint32_t)i);
        ku_mit_to_hsmssp(g, h, msg, lens[i], 1);
        ku_mit_to_hsmssp(g, h, msg, lens[i], 0);
        ku_hsmssp_to_mit(h, g, msg, lens[i], true);
        ku_hsmssp_to_mit(h, g, msg, lens[i], false);
        ku_mics(h, g, msg, lens[i]);
    }
    free(msg);
}

/* Every object the context's key owns is sensitive and unreadable. */
static void
check_ctx_objects(CtxtHandle *h)
{
    sspi_slot *s = sspi_handle_get(h, SSPI_CTX, false);
    kerb_ctx *c;

    assert_non_null(s);
    c = s->obj;
    /* The key's objects are on the context's own token. */
    assert_ptr_equal(hsm_key_token(c->key), c->tok);
    ku_check_key_hidden(c->key, "context key");
    sspi_handle_put(s);
}

/* ---- the matrix ------------------------------------------------------- */

static void
run_matrix(tu_token_kind kind)
{
    static const char *svcs[] = {"e17", "e18", "e19", "e20"};
    static const int32_t etypes[] = {17, 18, 19, 20};
    setup s = {kind, false, false, NULL, NULL};

    configure(&s);
    for (size_t i = 0; i < BASE_ARRAY_LEN(svcs); i++)
        ku_import_keytab(svcs[i], kind, false);
    for (size_t i = 0; i < BASE_ARRAY_LEN(svcs); i++) {
        char princ[64];
        CredHandle cred;

        snprintf(princ, sizeof(princ), "%s/localhost@HSMSSP.TEST", svcs[i]);
        ku_acquire(princ, SECPKG_CRED_INBOUND, &cred);
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

/* ---- shared fixtures for the cases below ----------------------------- */

/* A SoftHSM2 runtime with the e17, e18 and host keys (host: kvno 2 only
 * unless all_kvnos) and, with rc4, e23's. */
static void
softhsm_runtime(bool rc4, bool host_op, const char *cb_policy)
{
    setup s = {TU_SOFTHSM, host_op, rc4, cb_policy, NULL};

    configure(&s);
    ku_import_keytab("e17", TU_SOFTHSM, false);
    ku_import_keytab("e18", TU_SOFTHSM, false);
    if (rc4)
        ku_import_keytab("e23", TU_SOFTHSM, false);
}

static const OM_uint32 std_flags = GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG |
                                   GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG |
                                   GSS_C_MUTUAL_FLAG;

/* ---- arcfour-hmac ------------------------------------------------------ */

static void
rc4_contexts(CredHandle *cred)
{
    for (int mutual = 0; mutual < 2; mutual++) {
        OM_uint32 f = std_flags & ~(mutual ? 0 : GSS_C_MUTUAL_FLAG), min;
        CtxtHandle h;
        gss_ctx_id_t g = establish(cred, "e23", f, &h, NULL);
        SecPkgContext_KeyInfoA ki;

        assert_int_equal(QueryContextAttributesA(&h, SECPKG_ATTR_KEY_INFO,
                                                 &ki),
                         SEC_E_OK);
        /* Without mutual authentication RFC 4757's own tokens run. */
        if (!mutual)
            assert_int_equal(ki.EncryptAlgorithm, 23);
        FreeContextBuffer(ki.sEncryptAlgorithmName);
        FreeContextBuffer(ki.sSignatureAlgorithmName);
        exchange(g, &h);
        check_ctx_objects(&h);
        DeleteSecurityContext(&h);
        gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    }
}

static void
test_rc4_nss(void **state)
{
    setup s = {TU_NSS, false, true, NULL, NULL};
    CredHandle cred;

    (void)state;
    configure(&s);
    ku_import_keytab("e23", TU_NSS, false);
    ku_acquire("e23/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    rc4_contexts(&cred);
    FreeCredentialsHandle(&cred);
}

static void
test_rc4_softhsm_host_op(void **state)
{
    CredHandle cred;

    (void)state;
    softhsm_runtime(true, true, NULL);
    ku_acquire("e23/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    rc4_contexts(&cred);
    FreeCredentialsHandle(&cred);
}

/* Default policy: arcfour-hmac is not permitted; the refusal names it. */
static void
test_rc4_refused(void **state)
{
    CredHandle cred;
    CtxtHandle h;
    gss_buffer_desc t = {0};
    gss_ctx_id_t g;
    OM_uint32 min;
    SECURITY_STATUS st;

    (void)state;
    softhsm_runtime(true, true, NULL);
    /* The keys are on the token; now a policy without rc4. */
    {
        setup s = {TU_SOFTHSM, true, false, NULL, NULL};
        configure(&s);
    }
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &cred);
    g = mit_init("e23", std_flags, GSS_C_NO_CHANNEL_BINDINGS, &t);
    st = ku_asc(&cred, t.value, t.length, asc_std, NULL, 0, &h, NULL, NULL,
                NULL);
    assert_int_equal(st, SEC_E_ALGORITHM_MISMATCH);
    assert_non_null(strstr(hsmssp_last_error_detail(), "arcfour-hmac"));
    gss_release_buffer(&min, &t);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
}

/* ---- mutated initial tokens -------------------------------------------- */

static void
test_mutated_ap_req(void **state)
{
    CredHandle cred;
    gss_buffer_desc t = {0};
    gss_ctx_id_t g;
    OM_uint32 min;
    uint8_t *copy;
    size_t oks = 0, tries = 0;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    g = mit_init("e18", std_flags, GSS_C_NO_CHANNEL_BINDINGS, &t);
    copy = malloc(t.length);
    assert_non_null(copy);
    /* Every truncation fails cleanly. */
    for (size_t n = 0; n < t.length; n++) {
        CtxtHandle h;
        SECURITY_STATUS st =
            ku_asc(&cred, t.value, n, asc_std & ~ASC_REQ_REPLAY_DETECT, NULL,
                   0, &h, NULL, NULL, NULL);

        assert_true(st != SEC_E_OK);
        assert_true(strlen(hsmssp_last_error_detail()) > 0);
    }
    /* Bit flips: each either fails with a reason or hits one of the few
     * bits no checksum covers (AP options, which only ask for mutual
     * authentication and change nothing the acceptor trusts). */
    for (size_t i = 0; i < t.length; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            CtxtHandle h;
            SECURITY_STATUS st;

            memcpy(copy, t.value, t.length);
            copy[i] ^= (uint8_t)(1u << bit);
            st =
                ku_asc(&cred, copy, t.length, asc_std & ~ASC_REQ_REPLAY_DETECT,
                       NULL, 0, &h, NULL, NULL, NULL);
            tries++;
            if (st == SEC_E_OK) {
                oks++;
                if (getenv("HSMSSP_TEST_VERBOSE"))
                    fprintf(stderr, "flip at %zu bit %d accepted\n", i, bit);
                DeleteSecurityContext(&h);
            }
        }
    }
    /* Only fields no checksum covers, and that change nothing the
     * acceptor trusts, may be flipped unnoticed: the AP options' BIT
     * STRING (5 bytes) and the ticket's server name-type (1 byte), which
     * MIT ignores as well.  3 bits tried per byte. */
    assert_true(oks <= 6 * 3);
    assert_true(tries > 3 * t.length - 3);
    free(copy);
    gss_release_buffer(&min, &t);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
}

/* ---- replay ------------------------------------------------------------ */

static void
test_replay(void **state)
{
    CredHandle cred;
    CtxtHandle h;
    gss_buffer_desc t = {0};
    gss_ctx_id_t g;
    OM_uint32 min;
    uint8_t *err = NULL;
    size_t err_len = 0;
    SECURITY_STATUS st;

    (void)state;
    {
        setup s1 = {TU_SOFTHSM, false, false, NULL, "rcache-replay"};

        configure(&s1);
        ku_import_keytab("e18", TU_SOFTHSM, false);
    }
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    g = mit_init("e18", std_flags, GSS_C_NO_CHANNEL_BINDINGS, &t);
    st = ku_asc(&cred, t.value, t.length, asc_std, NULL, 0, &h, NULL, NULL,
                NULL);
    assert_int_equal(st, SEC_E_OK);
    DeleteSecurityContext(&h);
    st = ku_asc(&cred, t.value, t.length, asc_std, NULL, 0, &h, &err, &err_len,
                NULL);
    assert_int_equal(st, SEC_E_INVALID_TOKEN);
    assert_non_null(strstr(hsmssp_last_error_detail(), "replay"));
    assert_false(SecIsValidHandle(&h));
    ku_check_krb_error(err, err_len, KERB_AP_ERR_REPEAT);
    FreeContextBuffer(err);
    /* A "restart": a new runtime (new token session, new replay cache
     * handle) on the same replay cache file still refuses it. */
    FreeCredentialsHandle(&cred);
    {
        setup s2 = {TU_SOFTHSM, false, false, NULL, "rcache-replay"};

        configure(&s2);
    }
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    st = ku_asc(&cred, t.value, t.length, asc_std, NULL, 0, &h, NULL, NULL,
                NULL);
    assert_int_equal(st, SEC_E_INVALID_TOKEN);
    assert_non_null(strstr(hsmssp_last_error_detail(), "replay"));
    FreeCredentialsHandle(&cred);
    gss_release_buffer(&min, &t);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
}

/* ---- channel bindings ------------------------------------------------- */

static SECURITY_STATUS
try_bindings(CredHandle *cred, const char *client_app, const char *server_app)
{
    struct gss_channel_bindings_struct cb;
    gss_buffer_desc t = {0};
    gss_ctx_id_t g;
    SEC_CHANNEL_BINDINGS *scb = NULL;
    size_t scb_len = 0;
    CtxtHandle h;
    OM_uint32 min;
    SECURITY_STATUS st;

    memset(&cb, 0, sizeof(cb));
    if (client_app != NULL) {
        cb.application_data.value = (void *)client_app;
        cb.application_data.length = strlen(client_app);
    }
    g = mit_init("e18", std_flags & ~GSS_C_MUTUAL_FLAG,
                 client_app ? &cb : GSS_C_NO_CHANNEL_BINDINGS, &t);
    if (server_app != NULL)
        scb = ku_make_scb(server_app, &scb_len);
    st = ku_asc(cred, t.value, t.length, asc_std & ~ASC_REQ_REPLAY_DETECT, scb,
                scb_len, &h, NULL, NULL, NULL);
    if (st == SEC_E_OK)
        DeleteSecurityContext(&h);
    free(scb);
    gss_release_buffer(&min, &t);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    return st;
}

static void
test_bindings(void **state)
{
    CredHandle cred;

    (void)state;
    softhsm_runtime(false, false, "allowed");
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    assert_int_equal(try_bindings(&cred, "tls-server-end-point:abc",
                                  "tls-server-end-point:abc"),
                     SEC_E_OK);
    assert_int_equal(try_bindings(&cred, "tls-server-end-point:abc",
                                  "tls-server-end-point:xyz"),
                     SEC_E_BAD_BINDINGS);
    assert_int_equal(try_bindings(&cred, NULL, "tls-server-end-point:abc"),
                     SEC_E_OK);
    assert_int_equal(try_bindings(&cred, "tls-server-end-point:abc", NULL),
                     SEC_E_OK);
    FreeCredentialsHandle(&cred);

    softhsm_runtime(false, false, "required");
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    assert_int_equal(try_bindings(&cred, NULL, "tls-server-end-point:abc"),
                     SEC_E_BAD_BINDINGS);
    assert_int_equal(try_bindings(&cred, "x", "x"), SEC_E_OK);
    FreeCredentialsHandle(&cred);

    softhsm_runtime(false, false, "never");
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    assert_int_equal(try_bindings(&cred, "x", "y"), SEC_E_OK);
    FreeCredentialsHandle(&cred);
}

/* ---- principals and key versions ---------------------------------------- */

static void
test_wrong_principal_and_kvno(void **state)
{
    CredHandle cred, any;
    CtxtHandle h;
    gss_buffer_desc t = {0};
    gss_ctx_id_t g;
    OM_uint32 min;
    uint8_t *err = NULL;
    size_t err_len = 0;
    gss_buffer_desc in;
    OM_uint32 maj, min2;
    gss_name_t name;
    gss_buffer_desc nb = {strlen("e17@localhost"), (void *)"e17@localhost"};
    SECURITY_STATUS st;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &any);
    /* An e17 ticket to an e18 credential. */
    g = mit_init("e17", std_flags, GSS_C_NO_CHANNEL_BINDINGS, &t);
    st = ku_asc(&cred, t.value, t.length, asc_std, NULL, 0, &h, &err, &err_len,
                NULL);
    assert_int_equal(st, SEC_E_WRONG_PRINCIPAL);
    assert_non_null(strstr(hsmssp_last_error_detail(), "e17/localhost"));
    ku_check_krb_error(err, err_len, KERB_AP_ERR_NOT_US);
    /* MIT reads the KRB-ERROR as the acceptor's answer. */
    in.value = err;
    in.length = err_len;
    maj = gss_import_name(&min2, &nb, GSS_C_NT_HOSTBASED_SERVICE, &name);
    assert_false(GSS_ERROR(maj));
    {
        gss_buffer_desc ignored = {0};

        maj = gss_init_sec_context(&min2, GSS_C_NO_CREDENTIAL, &g, name,
                                   (gss_OID)gss_mech_krb5, std_flags, 0,
                                   GSS_C_NO_CHANNEL_BINDINGS, &in, NULL,
                                   &ignored, NULL, NULL);
        gss_release_buffer(&min, &ignored);
    }
    assert_true(GSS_ERROR(maj));
    if (min2 != (OM_uint32)KRB5KRB_AP_ERR_NOT_US)
        ku_gss_fail("MIT reading the KRB-ERROR", maj, min2);
    gss_release_name(&min2, &name);
    FreeContextBuffer(err);
    /* The "any principal" credential takes it. */
    st = ku_asc(&any, t.value, t.length, asc_std & ~ASC_REQ_REPLAY_DETECT,
                NULL, 0, &h, NULL, NULL, NULL);
    assert_int_equal(st, SEC_E_OK);
    DeleteSecurityContext(&h);
    gss_release_buffer(&min, &t);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
    FreeCredentialsHandle(&any);

    /* host/localhost: the KDC issues kvno 2; with only kvno 1 on the
     * token the ticket cannot be decrypted, and the error says which. */
    {
        setup s = {TU_SOFTHSM, false, false, NULL, NULL};
        configure(&s);
    }
    {
        /* Remove whatever host keys an earlier case left, import kvno 1. */
        prov_env *env = NULL;
        hsm_token *tok = NULL;
        size_t n = 0;

        TU_OK(sspi_runtime_env(&env));
        TU_OK(prov_env_token(env, &tok));
        hsmssp_err r = kerb_ks_remove(tok, "host/localhost@HSMSSP.TEST", -1,
                                      &n);
        assert_true(r == HSMSSP_OK || r == HSMSSP_ERR_KEY_NOT_FOUND);
        prov_env_unref(env);
    }
    ku_import_keytab("host", TU_SOFTHSM, false);
    {
        prov_env *env = NULL;
        hsm_token *tok = NULL;
        size_t n = 0;

        TU_OK(sspi_runtime_env(&env));
        TU_OK(prov_env_token(env, &tok));
        /* Four of the five enctypes: arcfour-hmac is refused on SoftHSM2
         * at default policy (import_keytab skips it). */
        TU_OK(kerb_ks_remove(tok, "host/localhost@HSMSSP.TEST", 2, &n));
        assert_int_equal(n, 4);
        prov_env_unref(env);
    }
    ku_acquire("host/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    g = mit_init("host", std_flags, GSS_C_NO_CHANNEL_BINDINGS, &t);
    st = ku_asc(&cred, t.value, t.length, asc_std, NULL, 0, &h, &err, &err_len,
                NULL);
    assert_int_equal(st, SEC_E_DECRYPT_FAILURE);
    assert_non_null(strstr(hsmssp_last_error_detail(), "kvno 2"));
    ku_check_krb_error(err, err_len, KERB_AP_ERR_BADKEYVER);
    FreeContextBuffer(err);
    FreeCredentialsHandle(&cred);
    /* With kvno 2 back, the same ticket is accepted (both kvnos now). */
    ku_import_keytab("host", TU_SOFTHSM, false);
    ku_acquire("host/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    st = ku_asc(&cred, t.value, t.length, asc_std, NULL, 0, &h, NULL, NULL,
                NULL);
    assert_int_equal(st, SEC_E_OK);
    DeleteSecurityContext(&h);
    FreeCredentialsHandle(&cred);
    gss_release_buffer(&min, &t);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
}

/* ---- per-message attacks ----------------------------------------------- */

static gss_buffer_desc
mit_wrap(gss_ctx_id_t g, const char *msg, int conf)
{
    gss_buffer_desc in = {strlen(msg), (void *)msg}, out = {0};
    OM_uint32 maj, min;

    maj = gss_wrap(&min, g, conf, GSS_C_QOP_DEFAULT, &in, NULL, &out);
    if (GSS_ERROR(maj))
        ku_gss_fail("gss_wrap", maj, min);
    return out;
}

static SECURITY_STATUS
unwrap_stream(CtxtHandle *h, const void *tok, size_t len)
{
    uint8_t *copy = malloc(len + 1);
    SecBuffer b[2] = {{(ULONG)len, SECBUFFER_STREAM, copy},
                      {0, SECBUFFER_DATA, NULL}};
    SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
    SECURITY_STATUS st;

    assert_non_null(copy);
    memcpy(copy, tok, len);
    st = DecryptMessage(h, &d, 0, NULL);
    free(copy);
    return st;
}

static void
test_message_attacks(void **state)
{
    CredHandle cred;
    CtxtHandle h;
    gss_ctx_id_t g;
    gss_buffer_desc a, b, c;
    OM_uint32 min;
    uint8_t *bad;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    g = establish(&cred, "e18", std_flags, &h, NULL);
    a = mit_wrap(g, "first", 1);
    b = mit_wrap(g, "second", 1);
    c = mit_wrap(g, "third", 0);
    /* Tampering anywhere: altered or malformed, never accepted. */
    bad = malloc(a.length);
    assert_non_null(bad);
    for (size_t i = 0; i < a.length; i++) {
        SECURITY_STATUS st;

        memcpy(bad, a.value, a.length);
        bad[i] ^= 0x01;
        st = unwrap_stream(&h, bad, a.length);
        assert_true(st == SEC_E_MESSAGE_ALTERED ||
                    st == SEC_E_INVALID_TOKEN);
    }
    /* Truncated. */
    assert_int_equal(unwrap_stream(&h, a.value, a.length - 1),
                     SEC_E_MESSAGE_ALTERED);
    assert_int_equal(unwrap_stream(&h, a.value, 10), SEC_E_INVALID_TOKEN);
    /* Reordered: b before a is a gap, a after b arrives late. */
    assert_int_equal(unwrap_stream(&h, b.value, b.length),
                     SEC_E_OUT_OF_SEQUENCE);
    assert_int_equal(unwrap_stream(&h, a.value, a.length),
                     SEC_E_OUT_OF_SEQUENCE);
    /* Duplicates are refused as invalid tokens. */
    assert_int_equal(unwrap_stream(&h, b.value, b.length),
                     SEC_E_INVALID_TOKEN);
    assert_int_equal(unwrap_stream(&h, a.value, a.length),
                     SEC_E_INVALID_TOKEN);
    /* In order again. */
    assert_int_equal(unwrap_stream(&h, c.value, c.length), SEC_E_OK);
    /* Reflection: our own token back to us. */
    {
        SecPkgContext_Sizes sz;
        uint8_t tok[128], data[4] = {1, 2, 3, 4}, pad[1];
        SecBuffer eb[3] = {{sizeof(tok), SECBUFFER_TOKEN, tok},
                           {4, SECBUFFER_DATA, data},
                           {1, SECBUFFER_PADDING, pad}};
        SecBufferDesc ed = {SECBUFFER_VERSION, 3, eb};

        assert_int_equal(QueryContextAttributesA(&h, SECPKG_ATTR_SIZES, &sz),
                         SEC_E_OK);
        eb[0].cbBuffer = sz.cbSecurityTrailer;
        assert_int_equal(EncryptMessage(&h, 0, &ed, 0), SEC_E_OK);
        eb[2].BufferType = SECBUFFER_EMPTY;
        assert_int_equal(DecryptMessage(&h, &ed, 0, NULL),
                         SEC_E_INVALID_TOKEN);
        assert_non_null(strstr(hsmssp_last_error_detail(), "reflection"));
    }
    /* A tampered MIC. */
    {
        gss_buffer_desc in = {5, (void *)"hello"}, mic = {0};
        SecBuffer vb[2];
        SecBufferDesc vd = {SECBUFFER_VERSION, 2, vb};

        assert_false(GSS_ERROR(gss_get_mic(&min, g, 0, &in, &mic)));
        ((uint8_t *)mic.value)[mic.length - 1] ^= 0x80;
        vb[0] = (SecBuffer){5, SECBUFFER_DATA, (void *)"hello"};
        vb[1] = (SecBuffer){(ULONG)mic.length, SECBUFFER_TOKEN, mic.value};
        assert_int_equal(VerifySignature(&h, &vd, 0, NULL),
                         SEC_E_MESSAGE_ALTERED);
        gss_release_buffer(&min, &mic);
    }
    free(bad);
    gss_release_buffer(&min, &a);
    gss_release_buffer(&min, &b);
    gss_release_buffer(&min, &c);
    DeleteSecurityContext(&h);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
}

/* ---- sign-only buffers (READONLY_WITH_CHECKSUM) against MIT's iov API -- */

static void
test_signonly_iov(void **state)
{
    CredHandle cred;
    CtxtHandle h;
    gss_ctx_id_t g;
    OM_uint32 maj, min;
    uint8_t d1[40], so[24], d2[7], hdr[256];
    gss_iov_buffer_desc iov[4];
    SecBuffer b[4];
    SecBufferDesc d = {SECBUFFER_VERSION, 4, b};
    int state2 = 0;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire(NULL, SECPKG_CRED_INBOUND, &cred);
    for (int svc = 0; svc < 2; svc++) {
        g = establish(&cred, svc ? "e17" : "e18",
                      std_flags & ~GSS_C_MUTUAL_FLAG, &h, NULL);
        /* MIT -> hsmssp: HEADER (holding the trailer, RRC set, as
         * Windows) + DATA + SIGN_ONLY + DATA. */
        tu_fill(d1, sizeof(d1), 1);
        tu_fill(so, sizeof(so), 2);
        tu_fill(d2, sizeof(d2), 3);
        memset(iov, 0, sizeof(iov));
        iov[0].type = GSS_IOV_BUFFER_TYPE_HEADER |
                      GSS_IOV_BUFFER_FLAG_ALLOCATE;
        iov[1].type = GSS_IOV_BUFFER_TYPE_DATA;
        iov[1].buffer = (gss_buffer_desc){sizeof(d1), d1};
        iov[2].type = GSS_IOV_BUFFER_TYPE_SIGN_ONLY;
        iov[2].buffer = (gss_buffer_desc){sizeof(so), so};
        iov[3].type = GSS_IOV_BUFFER_TYPE_DATA;
        iov[3].buffer = (gss_buffer_desc){sizeof(d2), d2};
        maj = gss_wrap_iov(&min, g, 1, GSS_C_QOP_DEFAULT, &state2, iov, 4);
        if (GSS_ERROR(maj))
            ku_gss_fail("gss_wrap_iov", maj, min);
        assert_true(iov[0].buffer.length <= sizeof(hdr));
        memcpy(hdr, iov[0].buffer.value, iov[0].buffer.length);
        b[0] = (SecBuffer){(ULONG)iov[0].buffer.length, SECBUFFER_TOKEN, hdr};
        b[1] = (SecBuffer){sizeof(d1), SECBUFFER_DATA, d1};
        b[2] = (SecBuffer){sizeof(so),
                           SECBUFFER_DATA | SECBUFFER_READONLY_WITH_CHECKSUM,
                           so};
        b[3] = (SecBuffer){sizeof(d2), SECBUFFER_DATA, d2};
        gss_release_iov_buffer(&min, iov, 4);
        if (DecryptMessage(&h, &d, 0, NULL) != SEC_E_OK)
            fail_msg("DecryptMessage with sign-only data: %s",
                     hsmssp_last_error_detail());
        {
            uint8_t w1[40], w2[7];

            tu_fill(w1, sizeof(w1), 1);
            tu_fill(w2, sizeof(w2), 3);
            assert_memory_equal(d1, w1, sizeof(d1));
            assert_memory_equal(d2, w2, sizeof(d2));
        }
        /* The sign-only bytes are covered: change one and it fails. */
        /* hsmssp -> MIT, the same layout. */
        b[0] = (SecBuffer){sizeof(hdr), SECBUFFER_TOKEN, hdr};
        b[1].cbBuffer = sizeof(d1);
        b[3].cbBuffer = sizeof(d2);
        {
            SecPkgContext_Sizes sz;

            QueryContextAttributesA(&h, SECPKG_ATTR_SIZES, &sz);
            b[0].cbBuffer = sz.cbSecurityTrailer;
        }
        assert_int_equal(EncryptMessage(&h, 0, &d, 0), SEC_E_OK);
        memset(iov, 0, sizeof(iov));
        iov[0].type = GSS_IOV_BUFFER_TYPE_HEADER;
        iov[0].buffer = (gss_buffer_desc){b[0].cbBuffer, hdr};
        iov[1].type = GSS_IOV_BUFFER_TYPE_DATA;
        iov[1].buffer = (gss_buffer_desc){sizeof(d1), d1};
        iov[2].type = GSS_IOV_BUFFER_TYPE_SIGN_ONLY;
        iov[2].buffer = (gss_buffer_desc){sizeof(so), so};
        iov[3].type = GSS_IOV_BUFFER_TYPE_DATA;
        iov[3].buffer = (gss_buffer_desc){sizeof(d2), d2};
        maj = gss_unwrap_iov(&min, g, &state2, NULL, iov, 4);
        if (GSS_ERROR(maj))
            ku_gss_fail("gss_unwrap_iov of hsmssp's token", maj, min);
        {
            uint8_t w1[40];

            tu_fill(w1, sizeof(w1), 1);
            assert_memory_equal(d1, w1, sizeof(d1));
        }
        DeleteSecurityContext(&h);
        gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    }
    FreeCredentialsHandle(&cred);
}

/* ---- PAC, delegation, attributes, handles ----------------------------- */

static void
test_pac_and_attributes(void **state)
{
    CredHandle cred;
    CtxtHandle h;
    gss_ctx_id_t g;
    OM_uint32 min;
    SecPkgContext_HsmsspAuthzA az;
    SecPkgContext_NativeNamesA nn;
    SecPkgContext_SessionKey sk;
    SecPkgContext_Lifespan ls;
    SecPkgContext_PackageInfoA pi;
    SecPkgContext_Flags fl;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    g = establish(&cred, "e18", std_flags, &h, NULL);
    /* MIT's KDC puts a PAC in the ticket; its server signature was
     * checked on the token with the service key. */
    assert_int_equal(QueryContextAttributesA(&h, SECPKG_ATTR_HSMSSP_AUTHZ,
                                             &az),
                     SEC_E_OK);
    assert_true(az.pInfo->fHasPac);
    assert_string_equal(az.pInfo->sClientName, "alice");
    FreeContextBuffer(az.pInfo);
    assert_int_equal(QueryContextAttributesA(&h, SECPKG_ATTR_NATIVE_NAMES,
                                             &nn),
                     SEC_E_OK);
    assert_string_equal(nn.sClientName, "alice@HSMSSP.TEST");
    assert_string_equal(nn.sServerName, "e18/localhost@HSMSSP.TEST");
    FreeContextBuffer(nn.sClientName);
    FreeContextBuffer(nn.sServerName);
    assert_int_equal(QueryContextAttributesA(&h, SECPKG_ATTR_SESSION_KEY,
                                             &sk),
                     SEC_E_UNSUPPORTED_FUNCTION);
    assert_int_equal(QueryContextAttributesA(&h, SECPKG_ATTR_LIFESPAN, &ls),
                     SEC_E_OK);
    assert_true(ls.tsExpiry.HighPart > 0);
    assert_int_equal(QueryContextAttributesA(&h, SECPKG_ATTR_PACKAGE_INFO,
                                             &pi),
                     SEC_E_OK);
    assert_string_equal(pi.PackageInfo->Name, "Kerberos");
    FreeContextBuffer(pi.PackageInfo);
    assert_int_equal(QueryContextAttributesA(&h, SECPKG_ATTR_FLAGS, &fl),
                     SEC_E_OK);
    assert_true(fl.Flags & ASC_RET_MUTUAL_AUTH);
    DeleteSecurityContext(&h);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
}

static void
test_delegation(void **state)
{
    CredHandle cred;
    gss_buffer_desc t = {0};
    gss_ctx_id_t g;
    OM_uint32 min;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    for (int want = 0; want < 2; want++) {
        CtxtHandle h;
        ULONG attrs = 0;
        SECURITY_STATUS st;

        g = mit_init("e18", std_flags | GSS_C_DELEG_FLAG,
                     GSS_C_NO_CHANNEL_BINDINGS, &t);
        st = ku_asc(&cred, t.value, t.length,
                    asc_std | (want ? ASC_REQ_DELEGATE : 0), NULL, 0, &h, NULL,
                    NULL, &attrs);
        assert_int_equal(st, SEC_E_OK);
        assert_int_equal((attrs & ASC_RET_DELEGATE) != 0, want);
        if (want) {
            /* The delegated TGT's session key is on the token. */
            sspi_slot *s = sspi_handle_get(&h, SSPI_CTX, false);
            kerb_ctx *c = s->obj;

            assert_non_null(c->deleg);
            assert_string_equal(c->deleg->client, "alice@HSMSSP.TEST");
            assert_string_equal(c->deleg->server,
                                "krbtgt/HSMSSP.TEST@HSMSSP.TEST");
            assert_ptr_equal(hsm_key_token(c->deleg->key), c->tok);
            ku_check_key_hidden(c->deleg->key, "delegated TGT key");
            sspi_handle_put(s);
        }
        DeleteSecurityContext(&h);
        gss_release_buffer(&min, &t);
        gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    }
    FreeCredentialsHandle(&cred);
}

static void
test_handles(void **state)
{
    CredHandle cred, bogus;
    CtxtHandle h, stale;
    gss_ctx_id_t g;
    OM_uint32 min;
    SecPkgContext_Sizes sz;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    g = establish(&cred, "e18", std_flags, &h, NULL);
    stale = h;
    assert_int_equal(DeleteSecurityContext(&h), SEC_E_OK);
    assert_int_equal(QueryContextAttributesA(&stale, SECPKG_ATTR_SIZES, &sz),
                     SEC_E_INVALID_HANDLE);
    assert_int_equal(DeleteSecurityContext(&stale), SEC_E_INVALID_HANDLE);
    /* A credential handle is not a context handle, and vice versa. */
    assert_int_equal(QueryContextAttributesA((CtxtHandle *)&cred,
                                             SECPKG_ATTR_SIZES, &sz),
                     SEC_E_INVALID_HANDLE);
    bogus.dwLower = 1;
    bogus.dwUpper = 0x1234;
    assert_int_equal(FreeCredentialsHandle(&bogus), SEC_E_INVALID_HANDLE);
    SecInvalidateHandle(&bogus);
    assert_int_equal(FreeCredentialsHandle(&bogus), SEC_E_INVALID_HANDLE);
    assert_int_equal(FreeCredentialsHandle(NULL), SEC_E_INVALID_HANDLE);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
}

/* Contexts made before fork() fail in the child; the parent keeps its. */
static void
test_fork(void **state)
{
    CredHandle cred;
    CtxtHandle h;
    gss_ctx_id_t g;
    OM_uint32 min;
    pid_t pid;
    int status = 0;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    g = establish(&cred, "e18", std_flags, &h, NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t tok[128], data[4] = {1, 2, 3, 4};
        SecBuffer eb[2] = {{sizeof(tok), SECBUFFER_TOKEN, tok},
                           {4, SECBUFFER_DATA, data}};
        SecBufferDesc ed = {SECBUFFER_VERSION, 2, eb};
        int bad = 0;

        bad |= EncryptMessage(&h, 0, &ed, 0) != SEC_E_INVALID_HANDLE;
        bad |= strstr(hsmssp_last_error_detail(), "fork") == NULL;
        bad |= DeleteSecurityContext(&h) != SEC_E_OK;
        bad |= FreeCredentialsHandle(&cred) != SEC_E_OK;
        _exit(bad);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ku_mit_to_hsmssp(g, &h, (const uint8_t *)"after fork", 10, 1);
    DeleteSecurityContext(&h);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
}

/* One encrypting and one decrypting thread on the same context. */
typedef struct thr_arg {
    CtxtHandle *h;
    gss_buffer_desc *toks;
    size_t n;
    int failures;
} thr_arg;

static void *
decrypt_thread(void *p)
{
    thr_arg *a = p;

    for (size_t i = 0; i < a->n; i++)
        if (unwrap_stream(a->h, a->toks[i].value, a->toks[i].length) !=
            SEC_E_OK)
            a->failures++;
    return NULL;
}

static void *
encrypt_thread(void *p)
{
    thr_arg *a = p;
    SecPkgContext_Sizes sz;

    if (QueryContextAttributesA(a->h, SECPKG_ATTR_SIZES, &sz) != SEC_E_OK)
        a->failures++;
    for (size_t i = 0; i < a->n; i++) {
        uint8_t tok[128], data[100];
        SecBuffer eb[2] = {{sz.cbSecurityTrailer, SECBUFFER_TOKEN, tok},
                           {sizeof(data), SECBUFFER_DATA, data}};
        SecBufferDesc ed = {SECBUFFER_VERSION, 2, eb};

        memset(data, (int)i, sizeof(data));
        if (EncryptMessage(a->h, 0, &ed, 0) != SEC_E_OK)
            a->failures++;
    }
    return NULL;
}

static void
test_threads(void **state)
{
    enum { N = 300 };
    CredHandle cred;
    CtxtHandle h;
    gss_ctx_id_t g;
    gss_buffer_desc toks[N];
    pthread_t t1, t2;
    thr_arg ea, da;
    OM_uint32 min;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    g = establish(&cred, "e18", std_flags, &h, NULL);
    for (size_t i = 0; i < N; i++)
        toks[i] = mit_wrap(g, "threaded message", 1);
    ea = (thr_arg){&h, NULL, N, 0};
    da = (thr_arg){&h, toks, N, 0};
    assert_int_equal(pthread_create(&t1, NULL, encrypt_thread, &ea), 0);
    assert_int_equal(pthread_create(&t2, NULL, decrypt_thread, &da), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(ea.failures, 0);
    assert_int_equal(da.failures, 0);
    for (size_t i = 0; i < N; i++)
        gss_release_buffer(&min, &toks[i]);
    DeleteSecurityContext(&h);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
}

/* Oversized and deeply nested input tokens are refused without work. */
static void
test_limits(void **state)
{
    CredHandle cred;
    CtxtHandle h;
    uint8_t *big;
    size_t n = 70000, o = 0;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    big = calloc(1, n);
    assert_non_null(big);
    assert_int_equal(
        ku_asc(&cred, big, n, asc_std, NULL, 0, &h, NULL, NULL, NULL),
        SEC_E_INVALID_TOKEN);
    assert_non_null(strstr(hsmssp_last_error_detail(), "max_token_size"));
    /* 0x60 framing, the OID, AP-REQ id, then 2000 nested SEQUENCEs. */
    big[o++] = 0x60;
    big[o++] = 0x82;
    big[o++] = 0x0f;
    big[o++] = 0xad;
    big[o++] = 0x06;
    big[o++] = 9;
    memcpy(big + o, kerb_oid_krb5, 9);
    o += 9;
    big[o++] = 0x01;
    big[o++] = 0x00;
    for (size_t i = 0; i < 2000; i++) {
        big[o++] = 0x30;
        big[o++] = 0x00;
    }
    assert_int_equal(
        ku_asc(&cred, big, o, asc_std, NULL, 0, &h, NULL, NULL, NULL),
        SEC_E_INVALID_TOKEN);
    free(big);
    FreeCredentialsHandle(&cred);
}

/* ---- a PAC the test builds and signs itself (LOGON_INFO) --------------- */

/* MIT's exported, unpublished codecs (k5-int.h), for re-encrypting a
 * ticket with a PAC of the test's making. */
krb5_error_code decode_krb5_enc_tkt_part(const krb5_data *,
                                         krb5_enc_tkt_part **);
krb5_error_code encode_krb5_enc_tkt_part(const krb5_enc_tkt_part *,
                                         krb5_data **);
krb5_error_code encode_krb5_authdata(krb5_authdata *const *, krb5_data **);
void krb5_free_enc_tkt_part(krb5_context, krb5_enc_tkt_part *);

typedef struct pac_keys {
    const uint8_t *server; /* aes256 service key */
    const uint8_t *server_used; /* the key that signs (forgeries differ) */
} pac_keys;

static hsmssp_err
pac_sign(void *arg, pacb_key which, int32_t cksumtype, const uint8_t *data,
         size_t len, uint8_t *out, size_t out_len)
{
    static const uint8_t kdc_key[32] = {7, 7, 7};
    pac_keys *k = arg;
    uint8_t full[64];
    size_t n = 0;
    hsmssp_err ret;

    (void)cksumtype;
    ret = krbsw_checksum(18, which == PACB_KEY_SERVER ? k->server_used
                                                       : kdc_key,
                         17, data, len, full, &n);
    if (ret == HSMSSP_OK)
        memcpy(out, full, out_len);
    return ret;
}

/* Rewrites the ticket of an e18 AP-REQ with a PAC built from *o (client,
 * authtime filled in here) and returns the new framed token. */
typedef void (*ticket_tweak)(krb5_enc_tkt_part *etp, void *arg);

/* Re-encrypts the ticket of an e18 AP-REQ after changing it: a PAC built
 * from *o (NULL: the KDC's authorization data stays), then tweak (NULL:
 * nothing).  Returns the new framed token. */
static uint8_t *
rewrite_ap_req(const gss_buffer_desc *t, pacb_opts *o, ticket_tweak tweak,
               void *tweak_arg, bool alter_after_sign, size_t *len_out)
{
    static pac_keys no_keys;
    krb5_context kc;
    krb5_keytab kt;
    krb5_keytab_entry ent;
    krb5_principal sp;
    krb5_enc_data ed;
    krb5_data plain, *enc = NULL, *adenc = NULL, pacd;
    krb5_enc_tkt_part *etp = NULL;
    krb5_authdata pac_ad, *pac_list[2], ifrel, *ad_list[2];
    base_der oid, inner, msg;
    unsigned id;
    kerb_ap_req req;
    kerb_enc_data ned;
    base_der_w w;
    base_der tokv;
    uint8_t *pac = NULL, *cipher, *out, *newtkt;
    size_t pac_len = 0, clen, ntl;
    char path[700];
    pac_keys *keys = o != NULL ? o->sign_arg : &no_keys;

    assert_int_equal(krb5_init_context(&kc), 0);
    snprintf(path, sizeof(path), "FILE:%s/e18.keytab", realm_dir);
    assert_int_equal(krb5_kt_resolve(kc, path, &kt), 0);
    assert_int_equal(krb5_parse_name(kc, "e18/localhost@HSMSSP.TEST", &sp),
                     0);
    assert_int_equal(krb5_kt_get_entry(kc, kt, sp, 0, 18, &ent), 0);
    keys->server = ent.key.contents;
    if (keys->server_used == NULL)
        keys->server_used = ent.key.contents;

    TU_OK(kerb_gss_unframe(base_der_view(t->value, t->length), &oid,
                           &inner));
    TU_OK(kerb_gss_tok_id(inner, &id, &msg));
    TU_OK(kerb_dec_ap_req(msg, &req));
    ed.enctype = req.ticket.enc.etype;
    ed.kvno = req.ticket.enc.kvno;
    ed.ciphertext.data = (char *)req.ticket.enc.cipher.p;
    ed.ciphertext.length = (unsigned)req.ticket.enc.cipher.len;
    plain.length = ed.ciphertext.length;
    plain.data = malloc(plain.length);
    assert_int_equal(krb5_c_decrypt(kc, &ent.key, 2, NULL, &ed, &plain), 0);
    assert_int_equal(decode_krb5_enc_tkt_part(&plain, &etp), 0);

    if (o != NULL) {
        krb5_authdata **kdc_ad = etp->authorization_data;

        /* The PAC, signed with the service key (and a stand-in KDC key). */
        if (o->client_name == NULL)
            o->client_name = "alice";
        o->authtime = etp->times.authtime;
        TU_OK(pacb_build(o, &pac, &pac_len));
        if (alter_after_sign)
            pac[pac_len - 9] ^= 0x01; /* inside the last buffer */
        pacd.data = (char *)pac;
        pacd.length = (unsigned)pac_len;
        pac_ad = (krb5_authdata){KV5M_AUTHDATA, 128, (unsigned)pac_len,
                                 (krb5_octet *)pac};
        pac_list[0] = &pac_ad;
        pac_list[1] = NULL;
        assert_int_equal(encode_krb5_authdata(pac_list, &adenc), 0);
        ifrel = (krb5_authdata){KV5M_AUTHDATA, 1, adenc->length,
                                (krb5_octet *)adenc->data};
        ad_list[0] = &ifrel;
        ad_list[1] = NULL;
        etp->authorization_data = ad_list;
        if (tweak != NULL)
            tweak(etp, tweak_arg);
        assert_int_equal(encode_krb5_enc_tkt_part(etp, &enc), 0);
        etp->authorization_data = kdc_ad;
    } else {
        if (tweak != NULL)
            tweak(etp, tweak_arg);
        assert_int_equal(encode_krb5_enc_tkt_part(etp, &enc), 0);
    }

    /* Re-encrypt and put the ticket back together around it. */
    {
        size_t need;
        krb5_enc_data ned2;

        assert_int_equal(krb5_c_encrypt_length(kc, 18, enc->length, &need),
                         0);
        cipher = malloc(need);
        ned2.ciphertext.data = (char *)cipher;
        ned2.ciphertext.length = (unsigned)need;
        assert_int_equal(krb5_c_encrypt(kc, &ent.key, 2, NULL, enc, &ned2),
                         0);
        clen = ned2.ciphertext.length;
    }
    memset(&ned, 0, sizeof(ned));
    ned.etype = 18;
    ned.has_kvno = true;
    ned.kvno = req.ticket.enc.kvno;
    ned.cipher = base_der_view(cipher, clen);
    newtkt = malloc(4096);
    base_der_w_init(&w, newtkt, 4096);
    {
        size_t m = base_der_w_len(&w), mf;

        mf = base_der_w_len(&w);
        kerb_enc_enc_data(&w, &ned);
        base_der_w_wrap(&w, BASE_DER_CTX(3), base_der_w_len(&w) - mf);
        mf = base_der_w_len(&w);
        kerb_enc_principal(&w, &req.ticket.sname);
        base_der_w_wrap(&w, BASE_DER_CTX(2), base_der_w_len(&w) - mf);
        mf = base_der_w_len(&w);
        base_der_w_prim(&w, BASE_DER_GENERAL_STRING, req.ticket.realm.p,
                        req.ticket.realm.len);
        base_der_w_wrap(&w, BASE_DER_CTX(1), base_der_w_len(&w) - mf);
        mf = base_der_w_len(&w);
        base_der_w_int(&w, 5);
        base_der_w_wrap(&w, BASE_DER_CTX(0), base_der_w_len(&w) - mf);
        base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - m);
        base_der_w_wrap(&w, BASE_DER_APP(1), base_der_w_len(&w) - m);
    }
    TU_OK(base_der_w_finish(&w, &tokv));
    ntl = tokv.len;
    out = malloc(ntl + 4096);
    base_der_w_init(&w, out, ntl + 4096);
    kerb_enc_ap_req(&w, req.options, tokv, &req.auth);
    kerb_gss_frame(&w, KERB_TOK_AP_REQ);
    TU_OK(base_der_w_finish(&w, &tokv));
    memmove(out, tokv.p, tokv.len);
    *len_out = tokv.len;

    free(newtkt);
    free(cipher);
    krb5_free_data(kc, enc);
    krb5_free_data(kc, adenc);
    krb5_free_enc_tkt_part(kc, etp);
    base_memzero(plain.data, plain.length);
    free(plain.data);
    krb5_free_keytab_entry_contents(kc, &ent);
    krb5_free_principal(kc, sp);
    krb5_kt_close(kc, kt);
    krb5_free_context(kc);
    (void)pacd;
    free(pac);
    return out;
}

/* ---- ticket times -------------------------------------------------------- */

static void
expire(krb5_enc_tkt_part *etp, void *arg)
{
    (void)arg;
    /* Ended an hour ago, longer than the skew. */
    etp->times.endtime = (krb5_timestamp)(time(NULL) - 3600);
}

static void
postdate(krb5_enc_tkt_part *etp, void *arg)
{
    (void)arg;
    etp->times.starttime = (krb5_timestamp)(time(NULL) + 3600);
}

static void
test_ticket_times(void **state)
{
    CredHandle cred;
    CtxtHandle h;
    gss_buffer_desc t = {0};
    gss_ctx_id_t g;
    OM_uint32 min;
    uint8_t *tok, *err = NULL;
    size_t len, err_len = 0;
    SECURITY_STATUS st;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    g = mit_init("e18", std_flags, GSS_C_NO_CHANNEL_BINDINGS, &t);
    tok = rewrite_ap_req(&t, NULL, expire, NULL, false, &len);
    st = ku_asc(&cred, tok, len, asc_std & ~ASC_REQ_REPLAY_DETECT, NULL, 0, &h,
                &err, &err_len, NULL);
    assert_int_equal(st, SEC_E_CONTEXT_EXPIRED);
    assert_non_null(strstr(hsmssp_last_error_detail(), "expired"));
    ku_check_krb_error(err, err_len, KERB_AP_ERR_TKT_EXPIRED);
    FreeContextBuffer(err);
    free(tok);
    tok = rewrite_ap_req(&t, NULL, postdate, NULL, false, &len);
    st = ku_asc(&cred, tok, len, asc_std & ~ASC_REQ_REPLAY_DETECT, NULL, 0, &h,
                &err, &err_len, NULL);
    assert_int_equal(st, SEC_E_TIME_SKEW);
    assert_non_null(strstr(hsmssp_last_error_detail(), "future"));
    ku_check_krb_error(err, err_len, KERB_AP_ERR_TKT_NYV);
    FreeContextBuffer(err);
    free(tok);
    /* The untouched ticket, rewritten without change, still works (the
     * rewriting itself is sound). */
    tok = rewrite_ap_req(&t, NULL, NULL, NULL, false, &len);
    st = ku_asc(&cred, tok, len, asc_std & ~ASC_REQ_REPLAY_DETECT, NULL, 0, &h,
                NULL, NULL, NULL);
    assert_int_equal(st, SEC_E_OK);
    DeleteSecurityContext(&h);
    free(tok);
    gss_release_buffer(&min, &t);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
}

/* A context whose ticket ends while it is in use: per-message calls are
 * refused with SEC_E_CONTEXT_EXPIRED. */
static void
test_context_expiry(void **state)
{
    CredHandle cred;
    CtxtHandle h;
    gss_buffer_desc t = {0};
    gss_ctx_id_t g;
    OM_uint32 min;
    uint8_t *tok;
    size_t len;
    sspi_slot *s;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    g = mit_init("e18", std_flags & ~GSS_C_MUTUAL_FLAG,
                 GSS_C_NO_CHANNEL_BINDINGS, &t);
    tok = rewrite_ap_req(&t, NULL, NULL, NULL, false, &len);
    assert_int_equal(ku_asc(&cred, tok, len, asc_std & ~ASC_REQ_REPLAY_DETECT,
                            NULL, 0, &h, NULL, NULL, NULL),
                     SEC_E_OK);
    ku_mit_to_hsmssp(g, &h, (const uint8_t *)"before", 6, 1);
    /* Let the ticket run out: move the context's end time into the past
     * (the acceptor reads the clock at each call). */
    s = sspi_handle_get(&h, SSPI_CTX, false);
    ((kerb_ctx *)s->obj)->endtime = time(NULL) - 1;
    sspi_handle_put(s);
    {
        gss_buffer_desc in = {5, (void *)"after"}, out = {0};

        assert_false(GSS_ERROR(gss_wrap(&min, g, 1, 0, &in, NULL, &out)));
        assert_int_equal(unwrap_stream(&h, out.value, out.length),
                         SEC_E_CONTEXT_EXPIRED);
        gss_release_buffer(&min, &out);
    }
    DeleteSecurityContext(&h);
    free(tok);
    gss_release_buffer(&min, &t);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
}

static void
test_pac_logon_info(void **state)
{
    static const pacb_group groups[] = {{513, 7}, {512, 7}, {1107, 7}};
    static const pacb_sid extra[] = {{"S-1-18-1", 7}};
    pacb_logon logon;
    pacb_opts o;
    pac_keys keys;
    CredHandle cred;
    CtxtHandle h;
    gss_buffer_desc t = {0};
    gss_ctx_id_t g;
    OM_uint32 min;
    uint8_t *tok;
    size_t len;
    SecPkgContext_HsmsspAuthzA az;
    SECURITY_STATUS st;
    uint8_t wrong[32];

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    memset(&logon, 0, sizeof(logon));
    logon.effective_name = "alice";
    logon.full_name = "Alice Example";
    logon.logon_server = "DC1";
    logon.logon_domain_name = "HSMSSP";
    logon.user_id = 1105;
    logon.primary_group_id = 513;
    logon.groups = groups;
    logon.n_groups = BASE_ARRAY_LEN(groups);
    logon.domain_sid = "S-1-5-21-11-22-33";
    logon.extra_sids = extra;
    logon.n_extra_sids = 1;
    logon.user_flags = 0x20;
    memset(&o, 0, sizeof(o));
    memset(&keys, 0, sizeof(keys));
    o.logon = &logon;
    o.server_cksumtype = 16;
    o.kdc_cksumtype = 16;
    o.sign = pac_sign;
    o.sign_arg = &keys;

    /* 1. Signed with the service key: accepted, SIDs exposed. */
    g = mit_init("e18", std_flags & ~GSS_C_MUTUAL_FLAG,
                 GSS_C_NO_CHANNEL_BINDINGS, &t);
    tok = rewrite_ap_req(&t, &o, NULL, NULL, false, &len);
    st = ku_asc(&cred, tok, len, asc_std & ~ASC_REQ_REPLAY_DETECT, NULL, 0, &h,
                NULL, NULL, NULL);
    if (st != SEC_E_OK)
        fail_msg("accepting the rebuilt ticket: %s",
                 hsmssp_last_error_detail());
    assert_int_equal(QueryContextAttributesA(&h, SECPKG_ATTR_HSMSSP_AUTHZ,
                                             &az),
                     SEC_E_OK);
    assert_true(az.pInfo->fHasPac);
    assert_true(az.pInfo->fHasLogonInfo);
    assert_string_equal(az.pInfo->sUserSid, "S-1-5-21-11-22-33-1105");
    assert_string_equal(az.pInfo->sPrimaryGroupSid, "S-1-5-21-11-22-33-513");
    assert_int_equal(az.pInfo->cGroups, 3);
    assert_string_equal(az.pInfo->pGroups[1].sSid, "S-1-5-21-11-22-33-512");
    assert_string_equal(az.pInfo->pGroups[2].sSid, "S-1-5-21-11-22-33-1107");
    assert_int_equal(az.pInfo->cExtraSids, 1);
    assert_string_equal(az.pInfo->pExtraSids[0].sSid, "S-1-18-1");
    assert_string_equal(az.pInfo->sEffectiveName, "alice");
    assert_string_equal(az.pInfo->sLogonDomainName, "HSMSSP");
    FreeContextBuffer(az.pInfo);
    DeleteSecurityContext(&h);
    free(tok);

    /* 2. Altered after signing: refused. */
    tok = rewrite_ap_req(&t, &o, NULL, NULL, true, &len);
    st = ku_asc(&cred, tok, len, asc_std & ~ASC_REQ_REPLAY_DETECT, NULL, 0, &h,
                NULL, NULL, NULL);
    assert_int_equal(st, SEC_E_MESSAGE_ALTERED);
    free(tok);

    /* 3. Forged: signed with another key. */
    memset(wrong, 0x42, sizeof(wrong));
    keys.server_used = wrong;
    tok = rewrite_ap_req(&t, &o, NULL, NULL, false, &len);
    st = ku_asc(&cred, tok, len, asc_std & ~ASC_REQ_REPLAY_DETECT, NULL, 0, &h,
                NULL, NULL, NULL);
    assert_int_equal(st, SEC_E_MESSAGE_ALTERED);
    assert_non_null(strstr(hsmssp_last_error_detail(),
                           "PAC server signature"));
    free(tok);
    keys.server_used = NULL;

    /* 4. Correctly signed but naming another client: refused. */
    o.client_name = "mallory";
    tok = rewrite_ap_req(&t, &o, NULL, NULL, false, &len);
    st = ku_asc(&cred, tok, len, asc_std & ~ASC_REQ_REPLAY_DETECT, NULL, 0, &h,
                NULL, NULL, NULL);
    assert_int_equal(st, SEC_E_LOGON_DENIED);
    assert_non_null(strstr(hsmssp_last_error_detail(),
                           "CLIENT_INFO name does not match"));
    free(tok);
    gss_release_buffer(&min, &t);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
}

/* ---- the arrival window leaves nothing behind ------------------------ */

/* After an accept, every secure buffer that held the ticket's
 * EncTicketPart, the authenticator, the generated acceptor subkey and the
 * EncAPRepPart is freed (and so wiped, base/secmem.c): the secure memory
 * in use is what it was before, while the context lives on with only its
 * token key handle. */
static void
test_arrival_buffers_released(void **state)
{
    CredHandle cred;
    CtxtHandle h[6];
    gss_ctx_id_t g[6];
    size_t before;
    OM_uint32 min;

    (void)state;
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    /* Warm up: the engine keeps one secure scratch buffer per thread. */
    g[0] = establish(&cred, "e18", std_flags, &h[0], NULL);
    ku_mit_to_hsmssp(g[0], &h[0], (const uint8_t *)"warm", 4, 1);
    before = base_secmem_in_use();
    for (int i = 1; i < 6; i++) {
        g[i] = establish(&cred, "e18",
                         std_flags | (i % 2 ? GSS_C_DELEG_FLAG : 0), &h[i],
                         NULL);
        assert_int_equal(base_secmem_in_use(), before);
    }
    for (int i = 0; i < 6; i++) {
        DeleteSecurityContext(&h[i]);
        gss_delete_sec_context(&min, &g[i], GSS_C_NO_BUFFER);
    }
    assert_int_equal(base_secmem_in_use(), before);
    FreeCredentialsHandle(&cred);
}

/* ---- many live contexts ------------------------------------------------ */

/* Hundreds of contexts alive at once: the handle table grows while
 * AcceptSecurityContext holds the credential's slot (the table must never
 * move a slot), and more contexts than the derived-key cache holds keep
 * working. */
static void
test_many_contexts(void **state)
{
    enum { N = 300 };
    CredHandle cred;
    CtxtHandle *h = calloc(N, sizeof(*h));
    gss_ctx_id_t *g = calloc(N, sizeof(*g));
    OM_uint32 min;

    (void)state;
    assert_non_null(h);
    assert_non_null(g);
    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    for (int i = 0; i < N; i++)
        g[i] = establish(&cred, "e18", std_flags & ~GSS_C_MUTUAL_FLAG, &h[i],
                         NULL);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < N; i++) {
            ku_mit_to_hsmssp(g[i], &h[i], (const uint8_t *)"many", 4, 1);
            ku_hsmssp_to_mit(&h[i], g[i], (const uint8_t *)"many", 4, true);
        }
    for (int i = 0; i < N; i++) {
        assert_int_equal(DeleteSecurityContext(&h[i]), SEC_E_OK);
        gss_delete_sec_context(&min, &g[i], GSS_C_NO_BUFFER);
    }
    FreeCredentialsHandle(&cred);
    free(h);
    free(g);
}

/* ---- ImpersonateSecurityContext ---------------------------------------- */

typedef struct imp_arg {
    CtxtHandle *h;
    uid_t uid;
    int ok;
    char dir[700];
} imp_arg;

static void *
impersonating_thread(void *p)
{
    imp_arg *a = p;
    char file[800];
    struct stat st;
    int fd;

    if (ImpersonateSecurityContext(a->h) != SEC_E_OK) {
        fprintf(stderr, "ImpersonateSecurityContext: %s\n",
                hsmssp_last_error_detail());
        return NULL;
    }
    snprintf(file, sizeof(file), "%s/made-as-client", a->dir);
    fd = open(file, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == a->uid)
        a->ok = 1;
    if (fd >= 0)
        close(fd);
    /* Another thread of the process is unaffected: the main thread
     * checks its own fsuid meanwhile (setfsuid(-1) reads it). */
    if (RevertSecurityContext(a->h) != SEC_E_OK)
        a->ok = 0;
    return NULL;
}

static void
test_impersonation(void **state)
{
    char user[32], cmd[1000], saved_conf[700];
    struct passwd *pw;
    CredHandle cred;
    CtxtHandle h;
    gss_ctx_id_t g;
    OM_uint32 min;
    pthread_t th;
    imp_arg a;

    (void)state;
    if (geteuid() != 0) {
        tu_skip_case("impersonation needs root (CAP_SETUID/CAP_SETGID)");
        return;
    }
    snprintf(saved_conf, sizeof(saved_conf), "%s", getenv("KRB5_CONFIG"));
    snprintf(user, sizeof(user), "hsmsspimp%ld", (long)getpid() % 100000);
    snprintf(cmd, sizeof(cmd),
             "useradd -M -N -s /usr/sbin/nologin %s >/dev/null 2>&1", user);
    assert_int_equal(system(cmd), 0);
    pw = getpwnam(user);
    assert_non_null(pw);

    softhsm_runtime(false, false, NULL);
    ku_acquire("e18/localhost@HSMSSP.TEST", SECPKG_CRED_INBOUND, &cred);
    g = establish(&cred, "e18", std_flags, &h, NULL);

    /* Mapped: the thread acts as the account, and only that thread. */
    ku_map_to_local("alice", user);
    memset(&a, 0, sizeof(a));
    a.h = &h;
    a.uid = pw->pw_uid;
    /* The account must reach the directory: not under the (0700) test
     * work directory. */
    snprintf(a.dir, sizeof(a.dir), "/tmp/hsmssp-imp.%ld", (long)getpid());
    mkdir(a.dir, 0777);
    chmod(a.dir, 0777);
    assert_int_equal(pthread_create(&th, NULL, impersonating_thread, &a), 0);
    pthread_join(th, NULL);
    assert_int_equal(a.ok, 1);
    assert_int_equal(setfsuid((uid_t)-1), 0); /* main thread: still root */

    /* In this thread too, then back. */
    assert_int_equal(ImpersonateSecurityContext(&h), SEC_E_OK);
    assert_int_equal((uid_t)setfsuid((uid_t)-1), pw->pw_uid);
    assert_int_equal(RevertSecurityContext(&h), SEC_E_OK);
    assert_int_equal(setfsuid((uid_t)-1), 0);

    /* Mapped to an account that does not exist: refused with a reason. */
    ku_map_to_local("alice", "nosuchaccount-hsmssp");
    assert_int_equal(ImpersonateSecurityContext(&h), SEC_E_NO_IMPERSONATION);
    assert_true(strlen(hsmssp_last_error_detail()) > 0);
    assert_int_equal(setfsuid((uid_t)-1), 0);

    setenv("KRB5_CONFIG", saved_conf, 1);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", a.dir);
    assert_int_equal(system(cmd), 0);
    DeleteSecurityContext(&h);
    gss_delete_sec_context(&min, &g, GSS_C_NO_BUFFER);
    FreeCredentialsHandle(&cred);
    snprintf(cmd, sizeof(cmd), "userdel %s >/dev/null 2>&1", user);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_softhsm),
        cmocka_unit_test(test_matrix_nss),
        cmocka_unit_test(test_rc4_nss),
        cmocka_unit_test(test_rc4_softhsm_host_op),
        cmocka_unit_test(test_rc4_refused),
        cmocka_unit_test(test_mutated_ap_req),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_bindings),
        cmocka_unit_test(test_wrong_principal_and_kvno),
        cmocka_unit_test(test_message_attacks),
        cmocka_unit_test(test_signonly_iov),
        cmocka_unit_test(test_pac_and_attributes),
        cmocka_unit_test(test_pac_logon_info),
        cmocka_unit_test(test_ticket_times),
        cmocka_unit_test(test_context_expiry),
        cmocka_unit_test(test_delegation),
        cmocka_unit_test(test_arrival_buffers_released),
        cmocka_unit_test(test_many_contexts),
        cmocka_unit_test(test_handles),
        cmocka_unit_test(test_impersonation),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_limits),
    };

    realm_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
