/*
 * tests/kdc/test_init_kdc.c - key hygiene of the Kerberos initiator
 * inside one process, against the test realm's KDC
 * (tests/common/realm-setup.sh) and MIT's GSS-API as the acceptor.
 *
 * tests/kdc/test_initiator_kdc.sh checks the persistent objects from
 * outside (pkcs11-tool).  The keys the initiator makes while it runs are
 * session objects, which only the process that made them can see: the
 * TGT session key imported at AS-REP arrival, each service ticket's
 * session key, the initiator subkey, the acceptor's subkey from the
 * AP-REP, the per-message keys derived from them, and the key a
 * password identity's string-to-key puts on the token.  So here the
 * initiator runs in this process: svcacct (its keys imported from the
 * realm's keytab) and dave (SEC_WINNT_AUTH_IDENTITY_A with his password)
 * log into e17..e20 with mutual authentication, a message goes each way,
 * `hsmssp kinit`'s store adds its persistent TGT object, and then, with
 * every context alive, every secret-key object the token shows this
 * process, session or persistent, must be sensitive, not extractable,
 * and answer a CKA_VALUE read with CKR_ATTRIBUTE_SENSITIVE.  Run on
 * SoftHSM2 (persistent account keys) and on the NSS softoken without a
 * database (everything in session objects).
 */
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsm/hsm-int.h"
#include "hsmssp/sspi.h"
#include "provider/kerberos/kerb-int.h"
#include "sspi/sspi-int.h"
#include "testutil.h"

#define REALM "HSMSSP.TEST"
#define CKR_SENSITIVE 0x11UL /* CKR_ATTRIBUTE_SENSITIVE */

static char realm_dir[512];
static char work[600];

/* ---- realm and configuration ----------------------------------------- */

static void
realm_setup(void)
{
    const char *envf = getenv("HSMSSP_REALM_ENV");
    char buf[1200];

    if (envf == NULL || access(envf, R_OK) != 0)
        tu_skip("the test realm is missing (HSMSSP_REALM_ENV)");
    snprintf(buf, sizeof(buf), "%s", envf);
    snprintf(realm_dir, sizeof(realm_dir), "%s", dirname(buf));
    snprintf(work, sizeof(work), "%s/init-kdc.%ld", tu_work_dir(),
             (long)getpid());
    mkdir(work, 0700);
    snprintf(buf, sizeof(buf), "%s/krb5.conf", realm_dir);
    setenv("KRB5_CONFIG", buf, 1);
    /* No credential may come from a ccache, and MIT's acceptor keeps its
     * replay cache here. */
    snprintf(buf, sizeof(buf), "FILE:%s/none.ccache", work);
    setenv("KRB5CCNAME", buf, 1);
    snprintf(buf, sizeof(buf), "FILE:%s/none.keytab", work);
    setenv("KRB5_KTNAME", buf, 1);
    setenv("KRB5_CLIENT_KTNAME", buf, 1);
    setenv("KRB5RCACHEDIR", work, 1);
}

/* An hsmssp configuration for the token, with the ticket store in the
 * work directory, made the runtime's. */
static void
configure(tu_token_kind kind)
{
    hsm_config hc;
    char path[700];
    FILE *f;

    tu_token_config(kind, 0, &hc);
    snprintf(path, sizeof(path), "%s/hsmssp-%s.conf", work,
             tu_token_name(kind));
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fchmod(fileno(f), 0600), 0);
    fprintf(f,
            "[token]\n    module = %s\n    uri = %s\n"
            "[kerberos]\n    rcache = none\n    ticket_dir = %s/tickets-%s\n",
            hc.module, hc.token_uri ? hc.token_uri : "pkcs11:", work,
            tu_token_name(kind));
    fclose(f);
    assert_int_equal(HsmsspConfigureA(path), SEC_E_OK);
}

/* Imports svcacct's keys from the realm's keytab through the runtime's
 * token: persistent on SoftHSM2; session objects registered with the
 * env on NSS (they must live in the runtime's own token session). */
static void
import_svcacct(tu_token_kind kind)
{
    krb5_context kc;
    krb5_keytab kt;
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    char path[700], *pname;
    size_t n = 0;

    TU_OK(sspi_runtime_env(&env));
    TU_OK(prov_env_token(env, &tok));
    assert_int_equal(krb5_init_context(&kc), 0);
    snprintf(path, sizeof(path), "FILE:%s/svcacct.keytab", realm_dir);
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
        TU_OK(base_secret_from(ent.key.contents, ent.key.length, &k));
        krb5_free_keytab_entry_contents(kc, &ent);
        ret = kerb_ks_import(tok, &e, k, kind == TU_SOFTHSM, true, &key);
        base_secret_free(k);
        if (ret == HSMSSP_ERR_POLICY_HOST_OP)
            continue; /* rc4 on SoftHSM2: not permitted anyway */
        TU_OK(ret);
        n++;
        if (kind == TU_NSS)
            TU_OK(kerb_register_session_key(env, &e, key));
        else
            hsm_key_free(key);
    }
    krb5_kt_end_seq_get(kc, kt, &cur);
    krb5_kt_close(kc, kt);
    krb5_free_context(kc);
    prov_env_unref(env);
    assert_true(n >= 4);
}

/* ---- MIT's acceptor ---------------------------------------------------- */

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

/* An acceptor credential from the realm's keytab for service svc. */
static gss_cred_id_t
mit_acceptor(const char *svc)
{
    gss_key_value_element_desc el;
    gss_key_value_set_desc store = {1, &el};
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    OM_uint32 maj, min;
    char path[700];

    snprintf(path, sizeof(path), "%s/%s.keytab", realm_dir, svc);
    el.key = "keytab";
    el.value = path;
    maj = gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                                GSS_C_NO_OID_SET, GSS_C_ACCEPT, &store, &cred,
                                NULL, NULL);
    if (GSS_ERROR(maj))
        gss_fail("gss_acquire_cred_from", maj, min);
    return cred;
}

/* ---- the initiator ----------------------------------------------------- */

static void
acquire(const char *principal, const char *password, CredHandle *cred)
{
    SEC_WINNT_AUTH_IDENTITY_A ai;
    TimeStamp exp;
    SECURITY_STATUS st;

    memset(&ai, 0, sizeof(ai));
    if (password != NULL) {
        ai.User = (unsigned char *)principal;
        ai.UserLength = (ULONG)strlen(principal);
        ai.Password = (unsigned char *)password;
        ai.PasswordLength = (ULONG)strlen(password);
        ai.Flags = SEC_WINNT_AUTH_IDENTITY_ANSI;
    }
    st = AcquireCredentialsHandleA(
        password ? NULL : (LPSTR)principal, "Kerberos", SECPKG_CRED_OUTBOUND,
        NULL, password ? &ai : NULL, NULL, NULL, cred, &exp);
    if (st != SEC_E_OK)
        fail_msg("AcquireCredentialsHandle(%s): 0x%08x %s", principal,
                 (unsigned)st, hsmssp_last_error_detail());
}

/* One context to svc@localhost with mutual authentication, accepted by
 * MIT; then a sealed message each way.  *ctx and *g stay open. */
static void
establish(CredHandle *cred, const char *svc, CtxtHandle *ctx, gss_ctx_id_t *g)
{
    const ULONG req = ISC_REQ_MUTUAL_AUTH | ISC_REQ_REPLAY_DETECT |
                      ISC_REQ_SEQUENCE_DETECT | ISC_REQ_CONFIDENTIALITY |
                      ISC_REQ_INTEGRITY | ISC_REQ_ALLOCATE_MEMORY;
    static const uint8_t msg[] = "a message for the acceptor";
    gss_cred_id_t acc = mit_acceptor(svc);
    SecBuffer ob = {0, SECBUFFER_TOKEN, NULL}, ib, b[3];
    SecBufferDesc od = {SECBUFFER_VERSION, 1, &ob},
                  id = {SECBUFFER_VERSION, 1, &ib},
                  d = {SECBUFFER_VERSION, 3, b};
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
    SecPkgContext_Sizes sz;
    TimeStamp exp;
    ULONG attrs = 0;
    OM_uint32 maj, min;
    SECURITY_STATUS st;
    uint8_t *all, pad[16], data[sizeof(msg)];
    char target[64];
    int conf = 0;

    *g = GSS_C_NO_CONTEXT;
    snprintf(target, sizeof(target), "%s@localhost", svc);
    st = InitializeSecurityContextA(cred, NULL, target, req, 0,
                                    SECURITY_NATIVE_DREP, NULL, 0, ctx, &od,
                                    &attrs, &exp);
    if (st != SEC_I_CONTINUE_NEEDED)
        fail_msg("InitializeSecurityContext(%s): 0x%08x %s", target,
                 (unsigned)st, hsmssp_last_error_detail());
    in.value = ob.pvBuffer;
    in.length = ob.cbBuffer;
    maj = gss_accept_sec_context(&min, g, acc, &in, GSS_C_NO_CHANNEL_BINDINGS,
                                 NULL, NULL, &out, NULL, NULL, NULL);
    FreeContextBuffer(ob.pvBuffer);
    if (maj != GSS_S_COMPLETE)
        gss_fail("gss_accept_sec_context", maj, min);
    /* The AP-REP: its acceptor subkey is imported by the initiator. */
    ib = (SecBuffer){(ULONG)out.length, SECBUFFER_TOKEN, out.value};
    ob = (SecBuffer){0, SECBUFFER_TOKEN, NULL};
    st = InitializeSecurityContextA(cred, ctx, target, req, 0,
                                    SECURITY_NATIVE_DREP, &id, 0, ctx, &od,
                                    &attrs, &exp);
    gss_release_buffer(&min, &out);
    FreeContextBuffer(ob.pvBuffer);
    if (st != SEC_E_OK)
        fail_msg("InitializeSecurityContext(%s, AP-REP): 0x%08x %s", target,
                 (unsigned)st, hsmssp_last_error_detail());
    assert_true(attrs & ISC_RET_MUTUAL_AUTH);

    /* EncryptMessage -> gss_unwrap: derives the per-message keys. */
    assert_int_equal(QueryContextAttributesA(ctx, SECPKG_ATTR_SIZES, &sz),
                     SEC_E_OK);
    memcpy(data, msg, sizeof(msg));
    all = malloc(sz.cbSecurityTrailer + sizeof(msg) + sizeof(pad));
    assert_non_null(all);
    b[0] = (SecBuffer){sz.cbSecurityTrailer, SECBUFFER_TOKEN, all};
    b[1] = (SecBuffer){sizeof(msg), SECBUFFER_DATA, data};
    b[2] = (SecBuffer){sizeof(pad), SECBUFFER_PADDING, pad};
    st = EncryptMessage(ctx, 0, &d, 0);
    if (st != SEC_E_OK)
        fail_msg("EncryptMessage: 0x%08x %s", (unsigned)st,
                 hsmssp_last_error_detail());
    memmove(all + b[0].cbBuffer, data, b[1].cbBuffer);
    memcpy(all + b[0].cbBuffer + b[1].cbBuffer, pad, b[2].cbBuffer);
    in.value = all;
    in.length = b[0].cbBuffer + b[1].cbBuffer + b[2].cbBuffer;
    maj = gss_unwrap(&min, *g, &in, &out, &conf, NULL);
    if (GSS_ERROR(maj))
        gss_fail("gss_unwrap", maj, min);
    assert_int_equal(conf, 1);
    assert_int_equal(out.length, sizeof(msg));
    assert_memory_equal(out.value, msg, sizeof(msg));
    gss_release_buffer(&min, &out);
    free(all);

    /* gss_wrap -> DecryptMessage: the acceptor's direction. */
    in.value = (void *)msg;
    in.length = sizeof(msg);
    maj = gss_wrap(&min, *g, 1, GSS_C_QOP_DEFAULT, &in, &conf, &out);
    if (GSS_ERROR(maj))
        gss_fail("gss_wrap", maj, min);
    b[0] = (SecBuffer){(ULONG)out.length, SECBUFFER_STREAM, out.value};
    b[1] = (SecBuffer){0, SECBUFFER_DATA, NULL};
    d.cBuffers = 2;
    st = DecryptMessage(ctx, &d, 0, NULL);
    if (st != SEC_E_OK)
        fail_msg("DecryptMessage: 0x%08x %s", (unsigned)st,
                 hsmssp_last_error_detail());
    assert_int_equal(b[1].cbBuffer, sizeof(msg));
    assert_memory_equal(b[1].pvBuffer, msg, sizeof(msg));
    gss_release_buffer(&min, &out);
    gss_release_cred(&min, &acc);
}

/* ---- every object the process sees ------------------------------------- */

typedef struct census {
    size_t session, persistent, tgt_stored;
} census;

/* Every secret-key object of the runtime's token: each must be
 * sensitive, not extractable and refuse CKA_VALUE. */
static census
check_every_object(void)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE find = {CKA_CLASS, &cls, sizeof(cls)};
    CK_OBJECT_HANDLE objs[4096];
    CK_ULONG got = 0;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    hsm_sess *s = NULL;
    census c = {0, 0, 0};
    size_t n = 0;

    TU_OK(sspi_runtime_env(&env));
    TU_OK(prov_env_token(env, &tok));
    TU_OK(hsm_session_get(tok, &s));
    assert_int_equal(tok->fl->C_FindObjectsInit(s->h, &find, 1), CKR_OK);
    do {
        assert_int_equal(tok->fl->C_FindObjects(
                             s->h, objs + n, BASE_ARRAY_LEN(objs) - n, &got),
                         CKR_OK);
        n += got;
    } while (got > 0 && n < BASE_ARRAY_LEN(objs));
    assert_int_equal(tok->fl->C_FindObjectsFinal(s->h), CKR_OK);
    assert_true(n < BASE_ARRAY_LEN(objs));
    for (size_t i = 0; i < n; i++) {
        CK_BBOOL on_token = CK_FALSE;
        uint8_t id[128];
        CK_ATTRIBUTE a[] = {{CKA_TOKEN, &on_token, sizeof(on_token)},
                            {CKA_ID, id, sizeof(id)}};
        bool sens = false, extr = true;
        unsigned long rv = 0;

        assert_int_equal(tok->fl->C_GetAttributeValue(s->h, objs[i], a, 2),
                         CKR_OK);
        TU_OK(hsm_object_check(tok, objs[i], &sens, &extr, &rv));
        if (!sens || extr || rv != CKR_SENSITIVE)
            fail_msg("object %zu of %zu (%s): sensitive %d, extractable "
                     "%d, CKA_VALUE read rv 0x%lx",
                     i, n, on_token ? "token" : "session", sens, extr, rv);
        if (on_token)
            c.persistent++;
        else
            c.session++;
        /* "krb5tgt" 0x01: the store's TGT key (docs/kinit-store.md). */
        if (on_token && a[1].ulValueLen >= 8 &&
            memcmp(id, "krb5tgt\x01", 8) == 0)
            c.tgt_stored++;
    }
    hsm_session_put(tok, s, false);
    prov_env_unref(env);
    print_message("%zu session and %zu token objects, each "
                  "CKR_ATTRIBUTE_SENSITIVE\n",
                  c.session, c.persistent);
    return c;
}

/* ---- the cases ------------------------------------------------------------
 */

static void
run(tu_token_kind kind)
{
    static const char *svcs[] = {"e17", "e18", "e19", "e20"};
    CtxtHandle ctx[BASE_ARRAY_LEN(svcs) + 1];
    gss_ctx_id_t g[BASE_ARRAY_LEN(svcs) + 1];
    CredHandle svc_cred, dave_cred;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    kerb_tkt *t = NULL;
    char *path = NULL, pw[128], pwfile[600];
    size_t before, n = 0;
    census c;
    OM_uint32 min;
    FILE *f;

    configure(kind);
    TU_OK(sspi_runtime_env(&env));
    TU_OK(prov_env_token(env, &tok));
    before = tu_count_objects(tok, false);
    import_svcacct(kind);

    /* svcacct: AS exchange with its keys on the token, one TGS exchange
     * per service. */
    acquire("svcacct@" REALM, NULL, &svc_cred);
    assert_true(tu_count_objects(tok, false) >= ++before); /* TGT key */
    for (size_t i = 0; i < BASE_ARRAY_LEN(svcs); i++) {
        /* The ticket's session key, the initiator's subkey and the
         * acceptor's: three new session objects at least. */
        before = tu_count_objects(tok, false);
        establish(&svc_cred, svcs[i], &ctx[i], &g[i]);
        print_message("%s: %zu new session objects\n", svcs[i],
                      tu_count_objects(tok, false) - before);
        assert_true(tu_count_objects(tok, false) >= before + 3);
    }
    /* dave: the password's key goes straight into the token. */
    snprintf(pwfile, sizeof(pwfile), "%s/dave.pw", realm_dir);
    f = fopen(pwfile, "r");
    assert_non_null(f);
    assert_non_null(fgets(pw, sizeof(pw), f));
    fclose(f);
    pw[strcspn(pw, "\n")] = '\0';
    before = tu_count_objects(tok, false);
    acquire("dave@" REALM, pw, &dave_cred);
    base_memzero(pw, sizeof(pw));
    /* The password's key and the TGT's. */
    print_message("dave: %zu new session objects\n",
                  tu_count_objects(tok, false) - before);
    assert_true(tu_count_objects(tok, false) >= before + 2);
    establish(&dave_cred, "e18", &ctx[BASE_ARRAY_LEN(svcs)],
              &g[BASE_ARRAY_LEN(svcs)]);

    /* The kinit store's persistent TGT object (SoftHSM2 only: NSS
     * without a database refuses, test_initiator_kdc.sh checks how). */
    if (kind == TU_SOFTHSM) {
        TU_OK(kerb_store_kinit(env, tok, "svcacct@" REALM, &path, &t));
        kerb_tkt_unref(t);
        free(path);
    }

    c = check_every_object();
    assert_true(c.session >= before + 3);
    if (kind == TU_SOFTHSM) {
        assert_int_equal(c.tgt_stored, 1);
        assert_true(c.persistent >= 4);
        TU_OK(kerb_store_destroy(env, tok, "svcacct@" REALM, &n));
        assert_int_equal(n, 1);
    } else {
        assert_int_equal(c.persistent, 0);
    }

    for (size_t i = 0; i < BASE_ARRAY_LEN(ctx); i++) {
        assert_int_equal(DeleteSecurityContext(&ctx[i]), SEC_E_OK);
        gss_delete_sec_context(&min, &g[i], GSS_C_NO_BUFFER);
    }
    assert_int_equal(FreeCredentialsHandle(&svc_cred), SEC_E_OK);
    assert_int_equal(FreeCredentialsHandle(&dave_cred), SEC_E_OK);
    prov_env_unref(env);
}

static void
test_softhsm(void **state)
{
    (void)state;
    run(TU_SOFTHSM);
}

static void
test_nss(void **state)
{
    (void)state;
    run(TU_NSS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softhsm),
        cmocka_unit_test(test_nss),
    };

    char cmd[700];
    int rc;

    realm_setup();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* The work directory: configurations and the (emptied) ticket
     * directory; kept when something failed. */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (rc == 0 && system(cmd) != 0)
        rc = 1;
    return rc;
}
