/*
 * tests/unit/provider/test_kerb_tkt.c - the initiator's small shared
 * pieces (provider/kerberos/kerb_tkt.c):
 *  - kerb_error_to_err: every KRB-ERROR code an initiator interprets
 *    becomes its hsmssp error (and so its SSPI status), others the
 *    generic peer error; the detail names the sender, the code and the
 *    e-text, with control characters replaced; a malformed KRB-ERROR is
 *    BAD_TOKEN;
 *  - kerb_name_realm with escaped '@' in components;
 *  - kerb_tkt_is_tgt on TGT, cross-realm TGT and service names;
 *  - reference counting (LSan in the ASan tree sees a leak or a double
 *    free).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/kerberos/kerb-int.h"
#include "testutil.h"

/* A KRB-ERROR from a KDC with code and optional e-text. */
static size_t
make_error(int32_t code, const char *etext, uint8_t *buf, size_t cap,
           base_der *out)
{
    char store[64];
    kerb_error e;
    base_der_w w;
    base_der realm;

    memset(&e, 0, sizeof(e));
    e.stime = 1800000000;
    e.susec = 5;
    e.code = code;
    assert_int_equal(kerb_principal_parse("krbtgt/HSMSSP.TEST@HSMSSP.TEST",
                                          KERB_NT_SRV_INST, store, &e.sname,
                                          &realm),
                     HSMSSP_OK);
    e.realm = realm;
    if (etext != NULL) {
        e.has_etext = true;
        e.etext = base_der_view(etext, strlen(etext));
    }
    base_der_w_init(&w, buf, cap);
    kerb_enc_error(&w, &e);
    assert_int_equal(base_der_w_finish(&w, out), HSMSSP_OK);
    return out->len;
}

static void
test_error_mapping(void **state)
{
    static const struct {
        int32_t code;
        hsmssp_err want;
    } rows[] = {
        {KERB_KDC_ERR_C_PRINCIPAL_UNKNOWN, HSMSSP_ERR_CLIENT_UNKNOWN},
        {KERB_KDC_ERR_S_PRINCIPAL_UNKNOWN, HSMSSP_ERR_PRINCIPAL_UNKNOWN},
        {KERB_KDC_ERR_PREAUTH_FAILED, HSMSSP_ERR_PREAUTH_FAILED},
        {KERB_AP_ERR_BAD_INTEGRITY, HSMSSP_ERR_PREAUTH_FAILED},
        {KERB_AP_ERR_SKEW, HSMSSP_ERR_CLOCK_SKEW},
        {KERB_KDC_ERR_ETYPE_NOSUPP, HSMSSP_ERR_KDC_ETYPE},
        {KERB_AP_ERR_TKT_EXPIRED, HSMSSP_ERR_TICKET_EXPIRED},
        {KERB_AP_ERR_TKT_NYV, HSMSSP_ERR_TICKET_NOT_YET_VALID},
        {KERB_AP_ERR_REPEAT, HSMSSP_ERR_REPLAY},
        {KERB_AP_ERR_NOT_US, HSMSSP_ERR_WRONG_PRINCIPAL},
        {KERB_AP_ERR_BADKEYVER, HSMSSP_ERR_NO_KEY},
        {KERB_AP_ERR_NOKEY, HSMSSP_ERR_NO_KEY},
        {KERB_AP_ERR_MODIFIED, HSMSSP_ERR_INTEGRITY},
        {KERB_AP_ERR_BADMATCH, HSMSSP_ERR_INTEGRITY},
        {KERB_KDC_ERR_POLICY, HSMSSP_ERR_PEER_ERROR},
        {KERB_KDC_ERR_CLIENT_REVOKED, HSMSSP_ERR_PEER_ERROR},
        {KERB_KDC_ERR_KEY_EXPIRED, HSMSSP_ERR_PEER_ERROR},
        {KERB_ERR_GENERIC, HSMSSP_ERR_PEER_ERROR},
        {999, HSMSSP_ERR_PEER_ERROR},
    };
    uint8_t buf[512];
    base_der msg;
    int32_t code = -1;
    char want[64];

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(rows); i++) {
        make_error(rows[i].code, NULL, buf, sizeof(buf), &msg);
        assert_int_equal(kerb_error_to_err(msg, "KDC for HSMSSP.TEST", &code),
                         rows[i].want);
        assert_int_equal(code, rows[i].code);
        assert_int_equal(hsmssp_last_error(), rows[i].want);
        (void)snprintf(want, sizeof(want), "KRB-ERROR %d ", (int)rows[i].code);
        assert_non_null(strstr(hsmssp_last_error_detail(), want));
        assert_non_null(
            strstr(hsmssp_last_error_detail(), "KDC for HSMSSP.TEST"));
    }
}

static void
test_error_etext(void **state)
{
    uint8_t buf[512];
    base_der msg;
    const char *d;

    (void)state;
    make_error(KERB_KDC_ERR_POLICY, "no\nway\x01 in", buf, sizeof(buf), &msg);
    assert_int_equal(kerb_error_to_err(msg, "the acceptor", NULL),
                     HSMSSP_ERR_PEER_ERROR);
    d = hsmssp_last_error_detail();
    /* The peer's text is shown, control characters replaced: one line. */
    assert_non_null(strstr(d, ": no?way? in"));
    assert_null(strchr(d, '\n'));
    assert_non_null(strstr(d, "the acceptor answered"));
}

static void
test_error_malformed(void **state)
{
    uint8_t buf[512];
    base_der msg;
    int32_t code = 7;

    (void)state;
    make_error(KERB_KDC_ERR_PREAUTH_FAILED, NULL, buf, sizeof(buf), &msg);
    /* Every truncation is a malformed KRB-ERROR, never a guess. */
    for (size_t n = 0; n < msg.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);

        assert_non_null(copy);
        memcpy(copy, msg.p, n);
        assert_int_equal(kerb_error_to_err(base_der_view(copy, n), "peer",
                                           &code),
                         HSMSSP_ERR_BAD_TOKEN);
        assert_int_equal(code, 0);
        free(copy);
    }
}

static void
test_name_realm(void **state)
{
    char out[KERB_KS_MAX_PRINCIPAL + 1];

    (void)state;
    kerb_name_realm("host/www.example.com@EXAMPLE.COM", out);
    assert_string_equal(out, "EXAMPLE.COM");
    kerb_name_realm("user\\@corp@EXAMPLE.COM", out);
    assert_string_equal(out, "EXAMPLE.COM");
    kerb_name_realm("user\\@corp", out);
    assert_string_equal(out, "");
    kerb_name_realm("alice", out);
    assert_string_equal(out, "");
    kerb_name_realm("a@B@C", out);
    assert_string_equal(out, "C");
}

static kerb_tkt *
tkt_named(const char *server)
{
    kerb_tkt *t = NULL;
    static const uint8_t der[] = {0x61, 0x00};

    assert_int_equal(kerb_tkt_alloc(base_der_view(der, sizeof(der)), &t),
                     HSMSSP_OK);
    assert_int_equal(t->ticket_len, sizeof(der));
    assert_memory_equal(t->ticket, der, sizeof(der));
    (void)snprintf(t->server, sizeof(t->server), "%s", server);
    return t;
}

static void
test_is_tgt(void **state)
{
    char inst[KERB_KS_MAX_PRINCIPAL + 1], realm[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_tkt *t;

    (void)state;
    t = tkt_named("krbtgt/A.TEST@A.TEST");
    assert_true(kerb_tkt_is_tgt(t, inst, realm));
    assert_string_equal(inst, "A.TEST");
    assert_string_equal(realm, "A.TEST");
    kerb_tkt_unref(t);

    t = tkt_named("krbtgt/B.TEST@A.TEST");
    assert_true(kerb_tkt_is_tgt(t, inst, NULL));
    assert_string_equal(inst, "B.TEST");
    kerb_tkt_unref(t);

    t = tkt_named("host/krbtgt@A.TEST");
    assert_false(kerb_tkt_is_tgt(t, NULL, NULL));
    kerb_tkt_unref(t);
    t = tkt_named("krbtgt@A.TEST");
    assert_false(kerb_tkt_is_tgt(t, NULL, NULL));
    kerb_tkt_unref(t);
    t = tkt_named("krbtgt/A/B@A.TEST");
    assert_false(kerb_tkt_is_tgt(t, NULL, NULL));
    kerb_tkt_unref(t);
}

static void
test_refcount(void **state)
{
    kerb_tkt *t = tkt_named("krbtgt/A.TEST@A.TEST");

    (void)state;
    assert_ptr_equal(kerb_tkt_ref(t), t);
    assert_ptr_equal(kerb_tkt_ref(t), t);
    assert_int_equal(t->refs, 3);
    kerb_tkt_unref(t);
    kerb_tkt_unref(t);
    assert_int_equal(t->refs, 1);
    kerb_tkt_unref(t); /* freed: LSan would see a missing unref */
    kerb_tkt_unref(NULL);
    assert_null(kerb_tkt_ref(NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_error_etext),
        cmocka_unit_test(test_error_malformed),
        cmocka_unit_test(test_name_realm),
        cmocka_unit_test(test_is_tgt),
        cmocka_unit_test(test_refcount),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
