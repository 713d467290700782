/*
 * tests/unit/sspi/test_status.c - the tables of sspi/status.c: every
 * hsmssp error code has exactly one SECURITY_STATUS, a failure for every
 * code but HSMSSP_OK; the ASC/ISC flag tables round-trip; FILETIME
 * conversion.
 */
#include <string.h>

#include "sspi/sspi-int.h"
#include "testutil.h"

static const struct {
    hsmssp_err err;
    const char *name;
} decls[] = {
#define DECL_(name, num, cat, msg) {name, #name},
    HSMSSP_ERR_LIST(DECL_)
#undef DECL_
};

static void
test_every_code_mapped_once(void **state)
{
    (void)state;
    for (size_t d = 0; d < BASE_ARRAY_LEN(decls); d++) {
        size_t found = 0;

        for (size_t i = 0; i < sspi_status_rows(); i++) {
            int e;
            SECURITY_STATUS st;

            sspi_status_row(i, &e, &st);
            if (e == (int)decls[d].err) {
                found++;
                if (decls[d].err == HSMSSP_OK)
                    assert_int_equal(st, SEC_E_OK);
                else if (st >= 0)
                    fail_msg("%s maps to a success status 0x%08x",
                             decls[d].name, (unsigned)st);
            }
        }
        if (found != 1)
            fail_msg("%s has %zu rows in the status table", decls[d].name,
                     found);
    }
    /* No row names a code that does not exist. */
    assert_int_equal(sspi_status_rows(), BASE_ARRAY_LEN(decls));
}

static void
test_selected_statuses(void **state)
{
    (void)state;
    /* The ones the issue fixes by name (docs/sspi.md). */
    assert_int_equal(sspi_status(HSMSSP_ERR_DUPLICATE), SEC_E_INVALID_TOKEN);
    assert_int_equal(sspi_status(HSMSSP_ERR_OUT_OF_SEQUENCE),
                     SEC_E_OUT_OF_SEQUENCE);
    assert_int_equal(sspi_status(HSMSSP_ERR_INTEGRITY),
                     SEC_E_MESSAGE_ALTERED);
    assert_int_equal(sspi_status(HSMSSP_ERR_BAD_BINDINGS),
                     SEC_E_BAD_BINDINGS);
    assert_int_equal(sspi_status(HSMSSP_ERR_CLOCK_SKEW), SEC_E_TIME_SKEW);
    assert_int_equal(sspi_status(HSMSSP_ERR_CONTEXT_EXPIRED),
                     SEC_E_CONTEXT_EXPIRED);
    assert_int_equal(sspi_status(HSMSSP_ERR_NO_IMPERSONATION),
                     SEC_E_NO_IMPERSONATION);
    assert_int_equal(sspi_status(HSMSSP_ERR_KDC_UNREACHABLE),
                     SEC_E_NO_AUTHENTICATING_AUTHORITY);
    /* An unknown number is an internal error, never success. */
    assert_int_equal(sspi_status((hsmssp_err)12345), SEC_E_INTERNAL_ERROR);
}

static void
test_flags(void **state)
{
    static const uint32_t all[] = {
        PROV_F_DELEGATE, PROV_F_MUTUAL,   PROV_F_REPLAY,
        PROV_F_SEQUENCE, PROV_F_CONF,     PROV_F_INTEG,
        PROV_F_IDENTIFY, PROV_F_EXTENDED_ERROR, PROV_F_CONNECTION};

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(all); i++) {
        /* One provider flag, one Windows bit each way. */
        ULONG a = sspi_prov_to_asc_ret(all[i]);
        ULONG b = sspi_prov_to_isc_ret(all[i]);

        assert_int_equal(__builtin_popcount(a), 1);
        assert_int_equal(__builtin_popcount(b), 1);
    }
    /* ASC and ISC differ in their high bits. */
    assert_int_equal(sspi_prov_to_asc_ret(PROV_F_EXTENDED_ERROR),
                     ASC_RET_EXTENDED_ERROR);
    assert_int_equal(sspi_prov_to_isc_ret(PROV_F_EXTENDED_ERROR),
                     ISC_RET_EXTENDED_ERROR);
    assert_int_equal(sspi_asc_req_to_prov(ASC_REQ_INTEGRITY), PROV_F_INTEG);
    assert_int_equal(sspi_isc_req_to_prov(ISC_REQ_INTEGRITY), PROV_F_INTEG);
    assert_int_equal(sspi_asc_req_to_prov(ASC_REQ_MUTUAL_AUTH |
                                          ASC_REQ_REPLAY_DETECT |
                                          ASC_REQ_ALLOCATE_MEMORY),
                     PROV_F_MUTUAL | PROV_F_REPLAY);
}

static void
test_timestamp(void **state)
{
    TimeStamp ts;
    uint64_t ft;

    (void)state;
    sspi_timestamp(0, &ts);
    ft = ((uint64_t)(uint32_t)ts.HighPart << 32) | ts.LowPart;
    assert_int_equal(ft, 116444736000000000ULL); /* 1970 in FILETIME */
    sspi_timestamp(INT64_MAX, &ts);
    assert_int_equal(ts.HighPart, 0x7fffffff);
    assert_int_equal(ts.LowPart, 0xffffffffu);
    sspi_timestamp(-20000000000LL, &ts);
    assert_int_equal(ts.HighPart, 0);
    assert_int_equal(ts.LowPart, 0);
    sspi_timestamp(0, NULL); /* accepted */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_mapped_once),
        cmocka_unit_test(test_selected_statuses),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_timestamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
