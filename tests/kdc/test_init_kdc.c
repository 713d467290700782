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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsm/hsm-int.h"
#include "hsmssp/sspi.h"
#include "kdcutil.h"
#include "provider/kerberos/kerb-int.h"
#include "sspi/sspi-int.h"
#include "testutil.h"

#define REALM KU_REALM

/* ku_work(), set by realm_setup(). */
static const char *work;

/* ---- realm and configuration ----------------------------------------- */

static void
realm_setup(void)
{
    /* No credential may come from a ccache, and MIT's acceptor keeps its
     * replay cache in the work directory. */
    work = ku_work("init-kdc", "none.ccache");
}

/* An hsmssp configuration for the token, with the ticket store in the
 * work directory, made the runtime's. */
static void
configure(tu_token_kind kind)
{
    ku_configure(
        kind,
        "[kerberos]\n    rcache = none\n    ticket_dir = %s/tickets-%s\n",
        work, tu_token_name(kind));
}

/* ---- the initiator ----------------------------------------------------- */

/* svcacct's credential from its keys on the token, or (password not
 * NULL) dave's from his password. */
static void
acquire(const char *principal, const char *password, CredHandle *cred)
{
    SEC_WINNT_AUTH_IDENTITY_A ai;
    SECURITY_STATUS st;

    if (password == NULL) {
        ku_acquire(principal, SECPKG_CRED_OUTBOUND, cred);
        return;
    }
    ai = ku_identity(principal, NULL, password);
    st = ku_try_acquire(NULL, SECPKG_CRED_OUTBOUND, &ai, cred);
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
    gss_cred_id_t acc = ku_mit_acceptor(svc);
    SecBuffer ob = {0, SECBUFFER_TOKEN, NULL}, ib;
    SecBufferDesc od = {SECBUFFER_VERSION, 1, &ob},
                  id = {SECBUFFER_VERSION, 1, &ib};
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
    TimeStamp exp;
    ULONG attrs = 0;
    OM_uint32 maj, min;
    SECURITY_STATUS st;
    char target[64];

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
        ku_gss_fail("gss_accept_sec_context", maj, min);
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

    /* EncryptMessage -> gss_unwrap: derives the per-message keys;
     * gss_wrap -> DecryptMessage: the acceptor's direction. */
    ku_hsmssp_to_mit(ctx, *g, msg, sizeof(msg), true);
    ku_mit_to_hsmssp(*g, ctx, msg, sizeof(msg), 1);
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
        char what[64];

        assert_int_equal(tok->fl->C_GetAttributeValue(s->h, objs[i], a, 2),
                         CKR_OK);
        snprintf(what, sizeof(what), "object %zu of %zu (%s)", i, n,
                 on_token ? "token" : "session");
        ku_check_object_hidden(tok, objs[i], what);
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
    char *path = NULL, pw[128];
    size_t before, n = 0;
    census c;
    OM_uint32 min;

    configure(kind);
    TU_OK(sspi_runtime_env(&env));
    TU_OK(prov_env_token(env, &tok));
    before = tu_count_objects(tok, false);
    /* svcacct's keys from the realm's keytab, through the runtime's
     * token: at least its four AES keys. */
    assert_true(ku_import_keytab("svcacct", kind, false) >= 4);

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
    assert_true(ku_realm_secret("dave.pw", pw, sizeof(pw)));
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
