/*
 * tests/common/kdcutil.c - see kdcutil.h.
 *
 * These are the pieces tests/kdc/test_accept.c, test_init.c,
 * test_init_kdc.c and test_der_oracle.c each used to carry a copy of.
 * Where the copies differed, the stricter check is the one kept here
 * (fchmod of the configuration asserted, the krb5 OID of a KRB-ERROR
 * token checked, a sealed message compared with its plaintext), and what
 * a test really needed differently became a parameter.
 */
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdcutil.h"
#include "provider/kerberos/kerb-int.h"
#include "sspi/sspi-int.h"

static char realm_dir[512];
static char work[600];

/* ---- the realm and the work directory ---------------------------------- */

const char *
ku_realm(void)
{
    const char *envf = getenv("HSMSSP_REALM_ENV");
    char buf[1200];

    if (realm_dir[0] != '\0')
        return realm_dir;
    if (envf == NULL || access(envf, R_OK) != 0)
        tu_skip("the test realm is missing (HSMSSP_REALM_ENV)");
    /* dirname() may write into its argument: work on a copy. */
    snprintf(buf, sizeof(buf), "%s", envf);
    snprintf(realm_dir, sizeof(realm_dir), "%s", dirname(buf));
    snprintf(buf, sizeof(buf), "%s/krb5.conf", realm_dir);
    setenv("KRB5_CONFIG", buf, 1);
    return realm_dir;
}

const char *
ku_work(const char *tag, const char *ccache)
{
    char buf[1200];

    ku_realm();
    /* The pid keeps parallel ctest runs (and reruns) apart. */
    snprintf(work, sizeof(work), "%s/%s.%ld", tu_work_dir(), tag,
             (long)getpid());
    mkdir(work, 0700);
    if (ccache != NULL) {
        snprintf(buf, sizeof(buf), "FILE:%s/%s", work, ccache);
        setenv("KRB5CCNAME", buf, 1);
    }
    /* A keytab that does not exist: no test may take a key from the
     * user's default keytab, as acceptor or as client. */
    snprintf(buf, sizeof(buf), "FILE:%s/none.keytab", work);
    setenv("KRB5_KTNAME", buf, 1);
    setenv("KRB5_CLIENT_KTNAME", buf, 1);
    /* MIT's acceptor keeps its replay cache here, not in /var/tmp. */
    setenv("KRB5RCACHEDIR", work, 1);
    return work;
}

bool
ku_kinit(const char *user, const char *ccache, bool forwardable)
{
    char cmd[1500], cc[800];

    assert_true(work[0] != '\0');
    snprintf(cc, sizeof(cc), "%s/%s", work, ccache);
    /* A cache left by an earlier call must not hide a failed kinit. */
    unlink(cc);
    snprintf(cmd, sizeof(cmd),
             "kinit %s-k -t %s/%s.keytab -c FILE:%s %s@" KU_REALM
             " >/dev/null",
             forwardable ? "-f " : "", realm_dir, user, cc, user);
    if (system(cmd) != 0)
        return false;
    snprintf(cmd, sizeof(cmd), "FILE:%s", cc);
    setenv("KRB5CCNAME", cmd, 1);
    return true;
}

bool
ku_realm_secret(const char *name, char *buf, size_t size)
{
    char path[700];
    FILE *f;
    bool ok;

    buf[0] = '\0';
    snprintf(path, sizeof(path), "%s/%s", ku_realm(), name);
    f = fopen(path, "r");
    if (f == NULL)
        return false;
    ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (!ok) {
        buf[0] = '\0';
        return false;
    }
    buf[strcspn(buf, "\n")] = '\0';
    return true;
}

void
ku_map_to_local(const char *user, const char *local_name)
{
    char src[700], dst[700], line[1024];
    FILE *in, *out;

    snprintf(src, sizeof(src), "%s/krb5.conf", ku_realm());
    snprintf(dst, sizeof(dst), "%s/krb5-map-%s.conf", work, local_name);
    in = fopen(src, "r");
    out = fopen(dst, "w");
    assert_non_null(in);
    assert_non_null(out);
    /* The realm's [realms] entry is the one with a kdc line: the
     * mapping goes into it (krb5.conf(5), auth_to_local_names). */
    while (fgets(line, sizeof(line), in) != NULL) {
        fputs(line, out);
        if (strstr(line, "kdc = ") != NULL)
            fprintf(out,
                    "        auth_to_local_names = {\n"
                    "            %s = %s\n        }\n",
                    user, local_name);
    }
    fclose(in);
    fclose(out);
    setenv("KRB5_CONFIG", dst, 1);
}

/* ---- configuration and keys ------------------------------------------- */

void
ku_configure(tu_token_kind kind, const char *fmt, ...)
{
    static unsigned n;
    hsm_config hc;
    char path[700];
    va_list ap;
    FILE *f;

    tu_token_config(kind, 0, &hc);
    snprintf(path, sizeof(path), "%s/hsmssp-%u.conf", work, n++);
    f = fopen(path, "w");
    assert_non_null(f);
    /* The file names a token; the loader wants it private. */
    assert_int_equal(fchmod(fileno(f), 0600), 0);
    fprintf(f, "[token]\n    module = %s\n    uri = %s\n", hc.module,
            hc.token_uri ? hc.token_uri : "pkcs11:");
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(HsmsspConfigureA(path), SEC_E_OK);
}

size_t
ku_import_keytab(const char *name, tu_token_kind kind, bool skip_kvno1)
{
    return ku_import_keytab_as(name, kind, skip_kvno1, 0, false);
}

size_t
ku_import_keytab_as(const char *name, tu_token_kind kind, bool skip_kvno1,
                    uint32_t kvno, bool bogus)
{
    krb5_context kc;
    krb5_keytab kt;
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    prov_env *env = NULL;
    hsm_token *tok = NULL;
    char path[700], *pname;
    size_t n = 0;

    /* The runtime's own token: NSS session objects made through another
     * token handle would be invisible to the runtime's session. */
    TU_OK(sspi_runtime_env(&env));
    TU_OK(prov_env_token(env, &tok));
    assert_int_equal(krb5_init_context(&kc), 0);
    snprintf(path, sizeof(path), "FILE:%s/%s.keytab", ku_realm(), name);
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
        e.kvno = kvno != 0 ? kvno : ent.vno;
        e.etype = ent.key.enctype;
        if (skip_kvno1 && ent.vno == 1) {
            krb5_free_keytab_entry_contents(kc, &ent);
            continue;
        }
        /* The key bytes pass through a base_secret only, as in
         * `hsmssp keytab import`; MIT's copy is freed at once. */
        TU_OK(base_secret_from(ent.key.contents, ent.key.length, &k));
        krb5_free_keytab_entry_contents(kc, &ent);
        if (bogus)
            tu_fill(k->data, k->len, 0xb0605000u + (uint32_t)e.etype);
        ret = kerb_ks_import(tok, &e, k, kind == TU_SOFTHSM, true, &key);
        base_secret_free(k);
        if (ret == HSMSSP_ERR_POLICY_HOST_OP)
            continue; /* arcfour-hmac on SoftHSM2 without H(op): the
                         tests that need it check the refusal */
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
    return n;
}

krb5_keyblock *
ku_keytab_key(krb5_context kc, const char *keytab, const char *principal,
              krb5_kvno kvno, krb5_enctype etype)
{
    char path[700];
    krb5_keytab kt;
    krb5_principal p;
    krb5_keytab_entry ent;
    krb5_keyblock *out = NULL;

    snprintf(path, sizeof(path), "FILE:%s/%s.keytab", ku_realm(), keytab);
    assert_int_equal(krb5_kt_resolve(kc, path, &kt), 0);
    assert_int_equal(krb5_parse_name(kc, principal, &p), 0);
    assert_int_equal(krb5_kt_get_entry(kc, kt, p, kvno, etype, &ent), 0);
    /* A copy: the entry's contents go with the entry. */
    assert_int_equal(krb5_copy_keyblock(kc, &ent.key, &out), 0);
    krb5_free_keytab_entry_contents(kc, &ent);
    krb5_free_principal(kc, p);
    krb5_kt_close(kc, kt);
    return out;
}

/* ---- credentials ----------------------------------------------------- */

SEC_WINNT_AUTH_IDENTITY_A
ku_identity(const char *user, const char *domain, const char *password)
{
    SEC_WINNT_AUTH_IDENTITY_A id;

    memset(&id, 0, sizeof(id));
    id.User = (unsigned char *)user;
    id.UserLength = (ULONG)strlen(user);
    id.Domain = (unsigned char *)domain;
    id.DomainLength = domain ? (ULONG)strlen(domain) : 0;
    id.Password = (unsigned char *)password;
    id.PasswordLength = (ULONG)strlen(password);
    id.Flags = SEC_WINNT_AUTH_IDENTITY_ANSI;
    return id;
}

SECURITY_STATUS
ku_try_acquire(const char *principal, ULONG use, SEC_WINNT_AUTH_IDENTITY_A *id,
               CredHandle *cred)
{
    TimeStamp exp;

    return AcquireCredentialsHandleA((LPSTR)principal, "Kerberos", use, NULL,
                                     id, NULL, NULL, cred, &exp);
}

void
ku_acquire(const char *principal, ULONG use, CredHandle *cred)
{
    SECURITY_STATUS st = ku_try_acquire(principal, use, NULL, cred);

    if (st != SEC_E_OK)
        fail_msg("AcquireCredentialsHandle(%s, %s): 0x%08x %s",
                 principal ? principal : "NULL",
                 use == SECPKG_CRED_OUTBOUND ? "outbound" : "inbound",
                 (unsigned)st, hsmssp_last_error_detail());
}

SECURITY_STATUS
ku_asc(CredHandle *cred, const void *tok, size_t len, ULONG req,
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
    /* An error token (KRB-ERROR) comes back on failure too: the caller
     * may want to read it. */
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

SEC_CHANNEL_BINDINGS *
ku_make_scb(const char *app, size_t *len_out)
{
    size_t n = sizeof(SEC_CHANNEL_BINDINGS) + strlen(app);
    SEC_CHANNEL_BINDINGS *b = calloc(1, n);

    assert_non_null(b);
    /* Windows' layout: the header, then the data at its offset. */
    b->cbApplicationDataLength = (ULONG)strlen(app);
    b->dwApplicationDataOffset = sizeof(*b);
    memcpy((uint8_t *)b + sizeof(*b), app, strlen(app));
    *len_out = n;
    return b;
}

void
ku_check_krb_error(const uint8_t *tok, size_t len, int32_t code)
{
    base_der oid, inner, msg;
    unsigned id = 0;
    kerb_error e;

    /* RFC 4121 sec. 4.1: the error is framed like the AP-REQ, with the
     * krb5 OID and the KRB_ERROR token id. */
    TU_OK(kerb_gss_unframe(base_der_view(tok, len), &oid, &inner));
    assert_true(kerb_gss_is_krb5_oid(oid));
    TU_OK(kerb_gss_tok_id(inner, &id, &msg));
    assert_int_equal(id, KERB_TOK_ERROR);
    TU_OK(kerb_dec_error(msg, &e));
    assert_int_equal(e.code, code);
}

/* ---- MIT's GSS-API as the peer --------------------------------------- */

void
ku_gss_fail(const char *what, OM_uint32 maj, OM_uint32 min)
{
    OM_uint32 m2, mctx = 0;
    gss_buffer_desc b1 = {0}, b2 = {0};

    /* The first message of each status is enough to tell what broke;
     * fail_msg does not return, so the buffers are not released. */
    gss_display_status(&m2, maj, GSS_C_GSS_CODE, GSS_C_NO_OID, &mctx, &b1);
    mctx = 0;
    gss_display_status(&m2, min, GSS_C_MECH_CODE, GSS_C_NO_OID, &mctx, &b2);
    fail_msg("%s: %.*s / %.*s", what, (int)b1.length, (char *)b1.value,
             (int)b2.length, (char *)b2.value);
}

gss_name_t
ku_gss_service(const char *svc)
{
    char s[64];
    gss_buffer_desc nb;
    gss_name_t name = GSS_C_NO_NAME;
    OM_uint32 maj, min;

    /* The realm's services are <svc>/localhost (realm-setup.sh). */
    snprintf(s, sizeof(s), "%s@localhost", svc);
    nb.value = s;
    nb.length = strlen(s);
    maj = gss_import_name(&min, &nb, GSS_C_NT_HOSTBASED_SERVICE, &name);
    if (GSS_ERROR(maj))
        ku_gss_fail("gss_import_name", maj, min);
    return name;
}

gss_cred_id_t
ku_mit_acceptor(const char *name)
{
    char kt[700];
    gss_key_value_element_desc el;
    gss_key_value_set_desc store;
    gss_OID_set_desc mechs = {1, (gss_OID)gss_mech_krb5};
    gss_cred_id_t c = GSS_C_NO_CREDENTIAL;
    OM_uint32 maj, min;

    /* The keytab through the credential store, not KRB5_KTNAME, which
     * ku_work() points at a keytab that does not exist. */
    snprintf(kt, sizeof(kt), "FILE:%s/%s.keytab", ku_realm(), name);
    el.key = "keytab";
    el.value = kt;
    store.count = 1;
    store.elements = &el;
    maj = gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs,
                                GSS_C_ACCEPT, &store, &c, NULL, NULL);
    if (GSS_ERROR(maj))
        ku_gss_fail("gss_acquire_cred_from", maj, min);
    return c;
}

void
ku_seal(CtxtHandle *h, const uint8_t *msg, size_t n, bool conf,
        struct ku_sealed *s)
{
    SecPkgContext_Sizes sz;
    SecBufferDesc d = {SECBUFFER_VERSION, 3, s->b};
    SECURITY_STATUS st;

    memset(s, 0, sizeof(*s));
    assert_int_equal(QueryContextAttributesA(h, SECPKG_ATTR_SIZES, &sz),
                     SEC_E_OK);
    assert_true(sz.cbBlockSize <= sizeof(s->pad));
    s->tok = malloc(sz.cbSecurityTrailer);
    s->data = malloc(n + 1);
    assert_non_null(s->tok);
    assert_non_null(s->data);
    if (n > 0)
        memcpy(s->data, msg, n);
    s->b[0] = (SecBuffer){sz.cbSecurityTrailer, SECBUFFER_TOKEN, s->tok};
    s->b[1] = (SecBuffer){(ULONG)n, SECBUFFER_DATA, s->data};
    s->b[2] = (SecBuffer){sz.cbBlockSize, SECBUFFER_PADDING, s->pad};
    st = EncryptMessage(h, conf ? 0 : SECQOP_WRAP_NO_ENCRYPT, &d, 0);
    if (st != SEC_E_OK)
        fail_msg("EncryptMessage: 0x%08x %s", (unsigned)st,
                 hsmssp_last_error_detail());
    /* Sealing happened in place: a longer message cannot come out the
     * same by chance. */
    if (conf && n > 16)
        assert_memory_not_equal(s->data, msg, n);
    s->total = s->b[0].cbBuffer + s->b[1].cbBuffer + s->b[2].cbBuffer;
    s->all = malloc(s->total + 1);
    assert_non_null(s->all);
    memcpy(s->all, s->tok, s->b[0].cbBuffer);
    memcpy(s->all + s->b[0].cbBuffer, s->data, s->b[1].cbBuffer);
    memcpy(s->all + s->b[0].cbBuffer + s->b[1].cbBuffer, s->pad,
           s->b[2].cbBuffer);
}

void
ku_sealed_free(struct ku_sealed *s)
{
    free(s->all);
    free(s->tok);
    free(s->data);
    memset(s, 0, sizeof(*s));
}

void
ku_hsmssp_to_mit(CtxtHandle *h, gss_ctx_id_t g, const uint8_t *msg, size_t n,
                 bool conf)
{
    struct ku_sealed s;
    gss_buffer_desc in, out = {0};
    OM_uint32 maj, min;
    int state = 0;

    /* MIT takes one buffer: the three SSPI buffers end to end, as a
     * Windows peer would send them. */
    ku_seal(h, msg, n, conf, &s);
    in.value = s.all;
    in.length = s.total;
    maj = gss_unwrap(&min, g, &in, &out, &state, NULL);
    if (GSS_ERROR(maj))
        ku_gss_fail("gss_unwrap of hsmssp's token", maj, min);
    assert_int_equal(state, conf ? 1 : 0);
    assert_int_equal(out.length, n);
    if (n > 0)
        assert_memory_equal(out.value, msg, n);
    gss_release_buffer(&min, &out);
    ku_sealed_free(&s);
}

void
ku_mit_to_hsmssp(gss_ctx_id_t g, CtxtHandle *h, const uint8_t *msg, size_t n,
                 int conf)
{
    gss_buffer_desc in = {n, (void *)msg}, out = {0};
    OM_uint32 maj, min;
    SecBuffer b[2];
    SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
    ULONG qop = 0;
    SECURITY_STATUS st;

    maj = gss_wrap(&min, g, conf, GSS_C_QOP_DEFAULT, &in, NULL, &out);
    if (GSS_ERROR(maj))
        ku_gss_fail("gss_wrap", maj, min);
    /* The whole token as one STREAM buffer: DecryptMessage finds the
     * message inside and points the DATA buffer at it. */
    b[0] = (SecBuffer){(ULONG)out.length, SECBUFFER_STREAM, out.value};
    b[1] = (SecBuffer){0, SECBUFFER_DATA, NULL};
    st = DecryptMessage(h, &d, 0, &qop);
    if (st != SEC_E_OK)
        fail_msg("DecryptMessage of MIT's token (%zu bytes, conf %d): "
                 "0x%08x %s",
                 n, conf, (unsigned)st, hsmssp_last_error_detail());
    assert_int_equal(b[1].cbBuffer, n);
    if (n > 0)
        assert_memory_equal(b[1].pvBuffer, msg, n);
    assert_int_equal(qop, conf ? 0 : SECQOP_WRAP_NO_ENCRYPT);
    gss_release_buffer(&min, &out);
}

void
ku_mics(CtxtHandle *h, gss_ctx_id_t g, const uint8_t *msg, size_t n)
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
        ku_gss_fail("gss_get_mic", maj, min);
    b[0] = (SecBuffer){(ULONG)n, SECBUFFER_DATA, (void *)msg};
    b[1] = (SecBuffer){(ULONG)mic.length, SECBUFFER_TOKEN, mic.value};
    st = VerifySignature(h, &d, 0, NULL);
    if (st != SEC_E_OK)
        fail_msg("VerifySignature of MIT's MIC: 0x%08x %s", (unsigned)st,
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
        ku_gss_fail("gss_verify_mic of hsmssp's MIC", maj, min);
    free(sig);
}

/* ---- key hygiene ----------------------------------------------------- */

void
ku_check_object_hidden(hsm_token *tok, unsigned long obj, const char *what)
{
    bool sens = false, extr = true;
    unsigned long rv = 0;

    /* All three, not one: a sensitive object that is extractable can be
     * wrapped out, and the CKA_VALUE read is the proof that counts. */
    TU_OK(hsm_object_check(tok, obj, &sens, &extr, &rv));
    if (!sens || extr || rv != KU_CKR_ATTRIBUTE_SENSITIVE)
        fail_msg("%s: object %lu sensitive %d extractable %d "
                 "CKA_VALUE rv 0x%lx",
                 what, obj, sens, extr, rv);
}

size_t
ku_check_key_hidden(hsm_key *k, const char *what)
{
    unsigned long objs[64];
    size_t n;

    assert_non_null(k);
    n = hsm_key_objects(k, objs, BASE_ARRAY_LEN(objs));
    /* A key with no object would pass the loop below vacuously. */
    if (n == 0)
        fail_msg("%s: no PKCS#11 object", what);
    for (size_t i = 0; i < n && i < BASE_ARRAY_LEN(objs); i++)
        ku_check_object_hidden(hsm_key_token(k), objs[i], what);
    return n;
}
