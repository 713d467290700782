/*
 * tests/unit/header/test_sspi_header.c - the ABI facts of the public SSPI
 * header (include/hsmssp/sspi.h) that Windows-style code depends on.
 *
 * Nothing here calls an SSPI function: the header is checked on its own,
 * so a layout or value regression shows up before sspi/ is involved.  The
 * function declarations are still checked against their function-pointer
 * types, through _Generic, whose operand is never evaluated (no symbol is
 * referenced, so nothing needs linking).
 *
 * Numeric values are checked structurally (sign, facility, single bits,
 * uniqueness, contiguity) rather than against a second hand-typed copy of
 * the Windows tables; where an independent source exists - MIT krb5's
 * enctype and checksum numbers - it serves as the oracle.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
/* cmocka needs the includes above first. */
#include <cmocka.h>
#include <krb5.h>

#include "hsmssp/sspi.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* A named numeric constant, for the table-driven checks. */
struct named {
    const char *name;
    long long value;
};
/* clang-format off */
#define NAMED(x) {#x, (long long)(x)}
/* clang-format on */

/* Fails unless the values of tab[0..n) are pairwise distinct. */
static void
assert_distinct(const struct named *tab, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (tab[i].value == tab[j].value)
                fail_msg("%s and %s share the value %lld", tab[i].name,
                         tab[j].name, tab[i].value);
}

/* Fails unless every value of tab[0..n) is a single bit within mask. */
static void
assert_single_bits(const struct named *tab, size_t n, unsigned long long mask)
{
    for (size_t i = 0; i < n; i++) {
        unsigned long long v = (unsigned long long)tab[i].value;
        if (v == 0 || (v & (v - 1)) != 0 || (v & ~mask) != 0)
            fail_msg("%s = 0x%llx is not a single bit within 0x%llx",
                     tab[i].name, v, mask);
    }
}

/* ---- base types ------------------------------------------------------ */

static void
test_base_types(void **state)
{
    (void)state;
    /* WinPR's ABI: 32-bit ULONG/LONG whatever the C long is. */
    assert_int_equal(sizeof(ULONG), 4);
    assert_int_equal(sizeof(LONG), 4);
    assert_int_equal(sizeof(USHORT), 2);
    assert_int_equal(sizeof(ULONG_PTR), sizeof(void *));
    assert_true((LONG)-1 < 0);
    assert_true((ULONG)-1 > 0);
    assert_int_equal((ULONG)-1, UINT32_MAX);
    assert_int_equal(_Generic((SEC_CHAR)0, char : 1, default : 0), 1);
    assert_int_equal(_Generic((LPSTR)0, char * : 1, default : 0), 1);
}

/* ---- status codes ---------------------------------------------------- */

static const struct named errors[] = {
    NAMED(SEC_E_INSUFFICIENT_MEMORY),
    NAMED(SEC_E_INVALID_HANDLE),
    NAMED(SEC_E_UNSUPPORTED_FUNCTION),
    NAMED(SEC_E_TARGET_UNKNOWN),
    NAMED(SEC_E_INTERNAL_ERROR),
    NAMED(SEC_E_SECPKG_NOT_FOUND),
    NAMED(SEC_E_NOT_OWNER),
    NAMED(SEC_E_CANNOT_INSTALL),
    NAMED(SEC_E_INVALID_TOKEN),
    NAMED(SEC_E_CANNOT_PACK),
    NAMED(SEC_E_QOP_NOT_SUPPORTED),
    NAMED(SEC_E_NO_IMPERSONATION),
    NAMED(SEC_E_LOGON_DENIED),
    NAMED(SEC_E_UNKNOWN_CREDENTIALS),
    NAMED(SEC_E_NO_CREDENTIALS),
    NAMED(SEC_E_MESSAGE_ALTERED),
    NAMED(SEC_E_OUT_OF_SEQUENCE),
    NAMED(SEC_E_NO_AUTHENTICATING_AUTHORITY),
    NAMED(SEC_E_BAD_PKGID),
    NAMED(SEC_E_CONTEXT_EXPIRED),
    NAMED(SEC_E_INCOMPLETE_MESSAGE),
    NAMED(SEC_E_INCOMPLETE_CREDENTIALS),
    NAMED(SEC_E_BUFFER_TOO_SMALL),
    NAMED(SEC_E_WRONG_PRINCIPAL),
    NAMED(SEC_E_TIME_SKEW),
    NAMED(SEC_E_UNTRUSTED_ROOT),
    NAMED(SEC_E_ILLEGAL_MESSAGE),
    NAMED(SEC_E_CERT_UNKNOWN),
    NAMED(SEC_E_CERT_EXPIRED),
    NAMED(SEC_E_ENCRYPT_FAILURE),
    NAMED(SEC_E_DECRYPT_FAILURE),
    NAMED(SEC_E_ALGORITHM_MISMATCH),
    NAMED(SEC_E_SECURITY_QOS_FAILED),
    NAMED(SEC_E_UNFINISHED_CONTEXT_DELETED),
    NAMED(SEC_E_NO_TGT_REPLY),
    NAMED(SEC_E_NO_IP_ADDRESSES),
    NAMED(SEC_E_WRONG_CREDENTIAL_HANDLE),
    NAMED(SEC_E_CRYPTO_SYSTEM_INVALID),
    NAMED(SEC_E_MAX_REFERRALS_EXCEEDED),
    NAMED(SEC_E_MUST_BE_KDC),
    NAMED(SEC_E_STRONG_CRYPTO_NOT_SUPPORTED),
    NAMED(SEC_E_TOO_MANY_PRINCIPALS),
    NAMED(SEC_E_NO_PA_DATA),
    NAMED(SEC_E_PKINIT_NAME_MISMATCH),
    NAMED(SEC_E_SMARTCARD_LOGON_REQUIRED),
    NAMED(SEC_E_SHUTDOWN_IN_PROGRESS),
    NAMED(SEC_E_KDC_INVALID_REQUEST),
    NAMED(SEC_E_KDC_UNABLE_TO_REFER),
    NAMED(SEC_E_KDC_UNKNOWN_ETYPE),
    NAMED(SEC_E_UNSUPPORTED_PREAUTH),
    NAMED(SEC_E_DELEGATION_REQUIRED),
    NAMED(SEC_E_BAD_BINDINGS),
    NAMED(SEC_E_MULTIPLE_ACCOUNTS),
    NAMED(SEC_E_NO_KERB_KEY),
    NAMED(SEC_E_CERT_WRONG_USAGE),
    NAMED(SEC_E_DOWNGRADE_DETECTED),
    NAMED(SEC_E_SMARTCARD_CERT_REVOKED),
    NAMED(SEC_E_ISSUING_CA_UNTRUSTED),
    NAMED(SEC_E_REVOCATION_OFFLINE_C),
    NAMED(SEC_E_PKINIT_CLIENT_FAILURE),
    NAMED(SEC_E_SMARTCARD_CERT_EXPIRED),
    NAMED(SEC_E_NO_S4U_PROT_SUPPORT),
    NAMED(SEC_E_CROSSREALM_DELEGATION_FAILURE),
    NAMED(SEC_E_REVOCATION_OFFLINE_KDC),
    NAMED(SEC_E_ISSUING_CA_UNTRUSTED_KDC),
    NAMED(SEC_E_KDC_CERT_EXPIRED),
    NAMED(SEC_E_KDC_CERT_REVOKED),
    NAMED(SEC_E_INVALID_PARAMETER),
    NAMED(SEC_E_DELEGATION_POLICY),
    NAMED(SEC_E_POLICY_NLTM_ONLY),
    NAMED(SEC_E_NO_CONTEXT),
    NAMED(SEC_E_PKU2U_CERT_FAILURE),
    NAMED(SEC_E_MUTUAL_AUTH_FAILED),
    NAMED(SEC_E_ONLY_HTTPS_ALLOWED),
    NAMED(SEC_E_APPLICATION_PROTOCOL_MISMATCH),
    NAMED(SEC_E_INVALID_UPN_NAME),
    NAMED(SEC_E_EXT_BUFFER_TOO_SMALL),
    NAMED(SEC_E_INSUFFICIENT_BUFFERS),
};

static const struct named infos[] = {
    NAMED(SEC_I_CONTINUE_NEEDED),
    NAMED(SEC_I_COMPLETE_NEEDED),
    NAMED(SEC_I_COMPLETE_AND_CONTINUE),
    NAMED(SEC_I_LOCAL_LOGON),
    NAMED(SEC_I_GENERIC_EXTENSION_RECEIVED),
    NAMED(SEC_I_CONTEXT_EXPIRED),
    NAMED(SEC_I_INCOMPLETE_CREDENTIALS),
    NAMED(SEC_I_RENEGOTIATE),
    NAMED(SEC_I_NO_LSA_CONTEXT),
    NAMED(SEC_I_SIGNATURE_NEEDED),
    NAMED(SEC_I_NO_RENEGOTIATION),
    NAMED(SEC_I_MESSAGE_FRAGMENT),
    NAMED(SEC_I_CONTINUE_NEEDED_MESSAGE_OK),
    NAMED(SEC_I_ASYNC_CALL_PENDING),
};

/* The low 16 bits of every SSPI code lie in this window of FACILITY_
 * SECURITY (9), from SEC_E_INSUFFICIENT_MEMORY to
 * SEC_E_INSUFFICIENT_BUFFERS. */
#define CODE_FIRST 0x0300
#define CODE_LAST 0x036B

/* What a SECURITY_STATUS looks like to the HRESULT tests. */
static void
assert_code_shape(const struct named *c, int severity)
{
    uint32_t u = (uint32_t)(int32_t)c->value;
    if ((u >> 31) != (uint32_t)severity)
        fail_msg("%s (0x%08x) has the wrong severity bit", c->name, u);
    if (((u >> 16) & 0x7FFF) != 9)
        fail_msg("%s (0x%08x) is not in FACILITY_SECURITY", c->name, u);
    if ((u & 0xFFFF) < CODE_FIRST || (u & 0xFFFF) > CODE_LAST)
        fail_msg("%s (0x%08x) is outside the SSPI range", c->name, u);
}

/* The status macros have the type SECURITY_STATUS and its sign, so FAILED,
 * SUCCEEDED and plain `< 0` tests behave as on Windows. */
static void
test_status_codes_signed(void **state)
{
    (void)state;
    assert_int_equal(sizeof(SECURITY_STATUS), 4);
    assert_int_equal(_Generic((SECURITY_STATUS)0, int32_t : 1, default : 0),
                     1);
    assert_int_equal(
        _Generic(SEC_E_INVALID_TOKEN, SECURITY_STATUS : 1, default : 0), 1);
    assert_int_equal(
        _Generic(SEC_I_CONTINUE_NEEDED, SECURITY_STATUS : 1, default : 0), 1);
    assert_int_equal(_Generic(SEC_E_OK, SECURITY_STATUS : 1, default : 0), 1);
    assert_int_equal(SEC_E_OK, 0);

    for (size_t i = 0; i < N_OF(errors); i++) {
        SECURITY_STATUS s = (SECURITY_STATUS)errors[i].value;
        assert_code_shape(&errors[i], 1);
        if (!(s < 0) || !FAILED(s) || SUCCEEDED(s) || SEC_SUCCESS(s))
            fail_msg("%s does not test as a failure", errors[i].name);
    }
    for (size_t i = 0; i < N_OF(infos); i++) {
        SECURITY_STATUS s = (SECURITY_STATUS)infos[i].value;
        assert_code_shape(&infos[i], 0);
        if (!(s > 0) || FAILED(s) || !SUCCEEDED(s) || !SEC_SUCCESS(s))
            fail_msg("%s does not test as a success", infos[i].name);
    }
    assert_distinct(errors, N_OF(errors));
    assert_distinct(infos, N_OF(infos));

    /* The endpoints of the range, as the brief and winerror.h give them,
     * read back through the int32 type. */
    assert_int_equal((uint32_t)SEC_E_INSUFFICIENT_MEMORY, 0x80090300u);
    assert_int_equal((uint32_t)SEC_E_INSUFFICIENT_BUFFERS, 0x8009036Bu);
    assert_int_equal((uint32_t)SEC_E_BAD_BINDINGS, 0x80090346u);
    assert_int_equal((uint32_t)SEC_I_CONTINUE_NEEDED, 0x00090312u);

    /* A status that went through a LONG variable (as Windows code stores
     * it) still compares equal to the macro. */
    LONG stored = SEC_E_MESSAGE_ALTERED;
    assert_true(stored == SEC_E_MESSAGE_ALTERED);
    assert_true(stored < 0);

    /* The old aliases are the codes they name. */
    assert_int_equal(SEC_E_NO_SPM, SEC_E_INTERNAL_ERROR);
    assert_int_equal(SEC_E_NOT_SUPPORTED, SEC_E_UNSUPPORTED_FUNCTION);
}

/* The codes are integer constant expressions: usable as case labels. */
static int
classify(SECURITY_STATUS s)
{
    switch (s) {
    case SEC_E_OK:
        return 0;
    case SEC_I_CONTINUE_NEEDED:
    case SEC_I_COMPLETE_AND_CONTINUE:
        return 1;
    case SEC_E_MESSAGE_ALTERED:
    case SEC_E_OUT_OF_SEQUENCE:
        return 2;
    default:
        return 3;
    }
}

static void
test_status_codes_in_switch(void **state)
{
    (void)state;
    assert_int_equal(classify(SEC_E_OK), 0);
    assert_int_equal(classify(SEC_I_COMPLETE_AND_CONTINUE), 1);
    assert_int_equal(classify(SEC_E_OUT_OF_SEQUENCE), 2);
    assert_int_equal(classify(SEC_E_INVALID_TOKEN), 3);
}

/* ---- handles and time ------------------------------------------------ */

static void
test_handles(void **state)
{
    (void)state;
    CredHandle cred;
    CtxtHandle ctx;
    PSecHandle generic;

    assert_int_equal(sizeof(SecHandle), 2 * sizeof(void *));
    assert_int_equal(offsetof(SecHandle, dwLower), 0);
    assert_int_equal(offsetof(SecHandle, dwUpper), sizeof(void *));

    /* CredHandle and CtxtHandle are SecHandle: no cast needed. */
    generic = &cred;
    generic = &ctx;
    (void)generic;

    /* Windows: a zeroed handle passes SecIsValidHandle. */
    memset(&ctx, 0, sizeof(ctx));
    assert_true(SecIsValidHandle(&ctx));

    SecInvalidateHandle(&ctx);
    assert_false(SecIsValidHandle(&ctx));
    assert_true(ctx.dwLower == UINTPTR_MAX);
    assert_true(ctx.dwUpper == UINTPTR_MAX);

    /* One all-ones word is enough to be invalid. */
    cred.dwLower = UINTPTR_MAX;
    cred.dwUpper = 7;
    assert_false(SecIsValidHandle(&cred));
    cred.dwLower = 7;
    cred.dwUpper = UINTPTR_MAX;
    assert_false(SecIsValidHandle(&cred));
    cred.dwUpper = 8;
    assert_true(SecIsValidHandle(&cred));

    /* SecInvalidateHandle is one expression: it fits an unbraced if. */
    if (cred.dwLower == 7)
        SecInvalidateHandle(&cred);
    else
        fail();
    assert_false(SecIsValidHandle(&cred));

    assert_true(SEC_DELETED_HANDLE == UINTPTR_MAX - 1);
}

/* TimeStamp is a FILETIME: a 64-bit count stored low half first. */
static void
test_timestamp_is_filetime(void **state)
{
    (void)state;
    TimeStamp ts;
    /* 2001-09-09 01:46:40 UTC (Unix time 1e9) in 100 ns since 1601. */
    const uint64_t filetime = 116444736000000000ULL + 10000000000000000ULL;

    assert_int_equal(sizeof(TimeStamp), 8);
    assert_int_equal(offsetof(SECURITY_INTEGER, LowPart), 0);
    assert_int_equal(offsetof(SECURITY_INTEGER, HighPart), 4);
    assert_int_equal(_Generic(ts.HighPart, LONG : 1, default : 0), 1);
    assert_int_equal(_Generic(ts.LowPart, ULONG : 1, default : 0), 1);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&ts, &filetime, sizeof(ts));
    assert_int_equal(ts.LowPart, (ULONG)(filetime & 0xFFFFFFFFu));
    assert_int_equal(ts.HighPart, (LONG)(filetime >> 32));
#endif
    /* The recomposition Windows code does by hand. */
    ts.LowPart = (ULONG)(filetime & 0xFFFFFFFFu);
    ts.HighPart = (LONG)(filetime >> 32);
    assert_true((((uint64_t)(ULONG)ts.HighPart << 32) | ts.LowPart) ==
                filetime);
}

/* ---- buffers --------------------------------------------------------- */

static void
test_secbuffer_layout(void **state)
{
    (void)state;
    assert_int_equal(offsetof(SecBuffer, cbBuffer), 0);
    assert_int_equal(offsetof(SecBuffer, BufferType), 4);
    assert_int_equal(offsetof(SecBuffer, pvBuffer), 8);
    assert_int_equal(sizeof(SecBuffer), 8 + sizeof(void *));
    assert_int_equal(offsetof(SecBufferDesc, ulVersion), 0);
    assert_int_equal(offsetof(SecBufferDesc, cBuffers), 4);
    assert_int_equal(offsetof(SecBufferDesc, pBuffers), 8);
    assert_int_equal(sizeof(SecBufferDesc), 8 + sizeof(void *));
    assert_int_equal(SECBUFFER_VERSION, 0);

    /* Channel bindings travel as bytes: eight 32-bit fields, no padding,
     * in the Windows order. */
    assert_int_equal(sizeof(SEC_CHANNEL_BINDINGS), 32);
    assert_int_equal(offsetof(SEC_CHANNEL_BINDINGS, dwInitiatorAddrType), 0);
    assert_int_equal(offsetof(SEC_CHANNEL_BINDINGS, cbInitiatorLength), 4);
    assert_int_equal(offsetof(SEC_CHANNEL_BINDINGS, dwInitiatorOffset), 8);
    assert_int_equal(offsetof(SEC_CHANNEL_BINDINGS, dwAcceptorAddrType), 12);
    assert_int_equal(offsetof(SEC_CHANNEL_BINDINGS, cbAcceptorLength), 16);
    assert_int_equal(offsetof(SEC_CHANNEL_BINDINGS, dwAcceptorOffset), 20);
    assert_int_equal(offsetof(SEC_CHANNEL_BINDINGS, cbApplicationDataLength),
                     24);
    assert_int_equal(offsetof(SEC_CHANNEL_BINDINGS, dwApplicationDataOffset),
                     28);
}

static void
test_buffer_types(void **state)
{
    (void)state;
    /* Types 0..32, each equal to its position. */
    static const struct named types[] = {
        NAMED(SECBUFFER_EMPTY),
        NAMED(SECBUFFER_DATA),
        NAMED(SECBUFFER_TOKEN),
        NAMED(SECBUFFER_PKG_PARAMS),
        NAMED(SECBUFFER_MISSING),
        NAMED(SECBUFFER_EXTRA),
        NAMED(SECBUFFER_STREAM_TRAILER),
        NAMED(SECBUFFER_STREAM_HEADER),
        NAMED(SECBUFFER_NEGOTIATION_INFO),
        NAMED(SECBUFFER_PADDING),
        NAMED(SECBUFFER_STREAM),
        NAMED(SECBUFFER_MECHLIST),
        NAMED(SECBUFFER_MECHLIST_SIGNATURE),
        NAMED(SECBUFFER_TARGET),
        NAMED(SECBUFFER_CHANNEL_BINDINGS),
        NAMED(SECBUFFER_CHANGE_PASS_RESPONSE),
        NAMED(SECBUFFER_TARGET_HOST),
        NAMED(SECBUFFER_ALERT),
        NAMED(SECBUFFER_APPLICATION_PROTOCOLS),
        NAMED(SECBUFFER_SRTP_PROTECTION_PROFILES),
        NAMED(SECBUFFER_SRTP_MASTER_KEY_IDENTIFIER),
        NAMED(SECBUFFER_TOKEN_BINDING),
        NAMED(SECBUFFER_PRESHARED_KEY),
        NAMED(SECBUFFER_PRESHARED_KEY_IDENTITY),
        NAMED(SECBUFFER_DTLS_MTU),
        NAMED(SECBUFFER_SEND_GENERIC_TLS_EXTENSION),
        NAMED(SECBUFFER_SUBSCRIBE_GENERIC_TLS_EXTENSION),
        NAMED(SECBUFFER_FLAGS),
        NAMED(SECBUFFER_TRAFFIC_SECRETS),
        NAMED(SECBUFFER_CERTIFICATE_REQUEST_CONTEXT),
        NAMED(SECBUFFER_CHANNEL_BINDINGS_RESULT),
        NAMED(SECBUFFER_APP_SESSION_STATE),
        NAMED(SECBUFFER_SESSION_TICKET),
    };
    static const struct named flags[] = {
        NAMED(SECBUFFER_READONLY),
        NAMED(SECBUFFER_READONLY_WITH_CHECKSUM),
        NAMED(SECBUFFER_UNMAPPED),
        NAMED(SECBUFFER_KERNEL_MAP),
    };
    for (size_t i = 0; i < N_OF(types); i++) {
        if (types[i].value != (long long)i)
            fail_msg("%s is %lld, expected %zu", types[i].name, types[i].value,
                     i);
        if ((types[i].value & SECBUFFER_ATTRMASK) != 0)
            fail_msg("%s overlaps SECBUFFER_ATTRMASK", types[i].name);
    }
    assert_single_bits(flags, N_OF(flags), SECBUFFER_ATTRMASK);
    assert_distinct(flags, N_OF(flags));
    /* The flags tile the mask; RESERVED is the two LSA-side bits. */
    assert_int_equal(SECBUFFER_READONLY | SECBUFFER_READONLY_WITH_CHECKSUM |
                         SECBUFFER_RESERVED,
                     SECBUFFER_ATTRMASK);
    assert_int_equal(SECBUFFER_UNMAPPED | SECBUFFER_KERNEL_MAP,
                     SECBUFFER_RESERVED);

    /* A flagged type fits BufferType and masks back to the type. */
    SecBuffer b;
    b.BufferType = SECBUFFER_DATA | SECBUFFER_READONLY_WITH_CHECKSUM;
    assert_int_equal(b.BufferType & ~(ULONG)SECBUFFER_ATTRMASK,
                     SECBUFFER_DATA);
    assert_true((b.BufferType & SECBUFFER_READONLY_WITH_CHECKSUM) != 0);
}

/* ---- packages, credentials, attributes ------------------------------- */

static void
test_package_info(void **state)
{
    (void)state;
    static const struct named caps[] = {
        NAMED(SECPKG_FLAG_INTEGRITY),
        NAMED(SECPKG_FLAG_PRIVACY),
        NAMED(SECPKG_FLAG_TOKEN_ONLY),
        NAMED(SECPKG_FLAG_DATAGRAM),
        NAMED(SECPKG_FLAG_CONNECTION),
        NAMED(SECPKG_FLAG_MULTI_REQUIRED),
        NAMED(SECPKG_FLAG_CLIENT_ONLY),
        NAMED(SECPKG_FLAG_EXTENDED_ERROR),
        NAMED(SECPKG_FLAG_IMPERSONATION),
        NAMED(SECPKG_FLAG_ACCEPT_WIN32_NAME),
        NAMED(SECPKG_FLAG_STREAM),
        NAMED(SECPKG_FLAG_NEGOTIABLE),
        NAMED(SECPKG_FLAG_GSS_COMPATIBLE),
        NAMED(SECPKG_FLAG_LOGON),
        NAMED(SECPKG_FLAG_ASCII_BUFFERS),
        NAMED(SECPKG_FLAG_FRAGMENT),
        NAMED(SECPKG_FLAG_MUTUAL_AUTH),
        NAMED(SECPKG_FLAG_DELEGATION),
        NAMED(SECPKG_FLAG_READONLY_WITH_CHECKSUM),
        NAMED(SECPKG_FLAG_RESTRICTED_TOKENS),
        NAMED(SECPKG_FLAG_NEGO_EXTENDER),
        NAMED(SECPKG_FLAG_NEGOTIABLE2),
        NAMED(SECPKG_FLAG_APPCONTAINER_PASSTHROUGH),
        NAMED(SECPKG_FLAG_APPCONTAINER_CHECKS),
        NAMED(SECPKG_FLAG_CREDENTIAL_ISOLATION_ENABLED),
        NAMED(SECPKG_FLAG_APPLY_LOOPBACK),
    };
    /* The capability bits are bit 0, 1, 2 ... in declaration order. */
    for (size_t i = 0; i < N_OF(caps); i++)
        if (caps[i].value != 1LL << i)
            fail_msg("%s is 0x%llx, expected bit %zu", caps[i].name,
                     caps[i].value, i);

    /* SecPkgInfoA: the two USHORTs pack between the ULONGs. */
    assert_int_equal(offsetof(SecPkgInfoA, fCapabilities), 0);
    assert_int_equal(offsetof(SecPkgInfoA, wVersion), 4);
    assert_int_equal(offsetof(SecPkgInfoA, wRPCID), 6);
    assert_int_equal(offsetof(SecPkgInfoA, cbMaxToken), 8);
    assert_int_equal(offsetof(SecPkgInfoA, Name), (12 + sizeof(void *) - 1) /
                                                      sizeof(void *) *
                                                      sizeof(void *));
    assert_int_equal(offsetof(SecPkgInfoA, Comment),
                     offsetof(SecPkgInfoA, Name) + sizeof(void *));

    /* The RPC ids and SECPKG_ID_NONE fit wRPCID. */
    SecPkgInfoA info;
    info.wRPCID = SECPKG_ID_NONE;
    assert_int_equal(info.wRPCID, 0xFFFF);
    info.wRPCID = RPC_C_AUTHN_GSS_KERBEROS;
    assert_int_equal(info.wRPCID, 16);
    assert_int_equal(RPC_C_AUTHN_WINNT, 10);
    assert_int_equal(RPC_C_AUTHN_GSS_NEGOTIATE, 9);

    assert_string_equal(MICROSOFT_KERBEROS_NAME_A, "Kerberos");
    assert_string_equal(NTLMSP_NAME_A, "NTLM");
    assert_string_equal(NEGOSSP_NAME_A, "Negotiate");
    assert_string_equal(NEGOSSP_NAME, NEGOSSP_NAME_A);

    assert_int_equal(SECPKG_CRED_BOTH,
                     SECPKG_CRED_INBOUND | SECPKG_CRED_OUTBOUND);
}

static void
test_auth_identity_layout(void **state)
{
    (void)state;
    const size_t p = sizeof(void *);
    /* Pointer, ULONG, pointer, ULONG ...: each ULONG right after its
     * pointer, each pointer on its natural alignment. */
    assert_int_equal(offsetof(SEC_WINNT_AUTH_IDENTITY_A, User), 0);
    assert_int_equal(offsetof(SEC_WINNT_AUTH_IDENTITY_A, UserLength), p);
    assert_int_equal(offsetof(SEC_WINNT_AUTH_IDENTITY_A, Domain), 2 * p);
    assert_int_equal(offsetof(SEC_WINNT_AUTH_IDENTITY_A, DomainLength), 3 * p);
    assert_int_equal(offsetof(SEC_WINNT_AUTH_IDENTITY_A, Password), 4 * p);
    assert_int_equal(offsetof(SEC_WINNT_AUTH_IDENTITY_A, PasswordLength),
                     5 * p);
    assert_int_equal(offsetof(SEC_WINNT_AUTH_IDENTITY_A, Flags), 5 * p + 4);
    assert_int_equal(offsetof(SEC_WINNT_AUTH_IDENTITY_EXA, User), 8);
    assert_int_equal(SEC_WINNT_AUTH_IDENTITY_ANSI, 1);
    assert_int_equal(SEC_WINNT_AUTH_IDENTITY_UNICODE, 2);
    assert_int_equal(SEC_WINNT_AUTH_IDENTITY_VERSION, 0x200);
}

static void
test_context_attribute_ids(void **state)
{
    (void)state;
    static const struct named ids[] = {
        NAMED(SECPKG_ATTR_SIZES),
        NAMED(SECPKG_ATTR_NAMES),
        NAMED(SECPKG_ATTR_LIFESPAN),
        NAMED(SECPKG_ATTR_DCE_INFO),
        NAMED(SECPKG_ATTR_STREAM_SIZES),
        NAMED(SECPKG_ATTR_KEY_INFO),
        NAMED(SECPKG_ATTR_AUTHORITY),
        NAMED(SECPKG_ATTR_PROTO_INFO),
        NAMED(SECPKG_ATTR_PASSWORD_EXPIRY),
        NAMED(SECPKG_ATTR_SESSION_KEY),
        NAMED(SECPKG_ATTR_PACKAGE_INFO),
        NAMED(SECPKG_ATTR_USER_FLAGS),
        NAMED(SECPKG_ATTR_NEGOTIATION_INFO),
        NAMED(SECPKG_ATTR_NATIVE_NAMES),
        NAMED(SECPKG_ATTR_FLAGS),
        NAMED(SECPKG_ATTR_USE_VALIDATED),
        NAMED(SECPKG_ATTR_CREDENTIAL_NAME),
        NAMED(SECPKG_ATTR_TARGET_INFORMATION),
        NAMED(SECPKG_ATTR_ACCESS_TOKEN),
        NAMED(SECPKG_ATTR_TARGET),
        NAMED(SECPKG_ATTR_AUTHENTICATION_ID),
        NAMED(SECPKG_ATTR_LOGOFF_TIME),
        NAMED(SECPKG_ATTR_NEGO_KEYS),
        NAMED(SECPKG_ATTR_PROMPTING_NEEDED),
        NAMED(SECPKG_ATTR_UNIQUE_BINDINGS),
        NAMED(SECPKG_ATTR_ENDPOINT_BINDINGS),
        NAMED(SECPKG_ATTR_CLIENT_SPECIFIED_TARGET),
        NAMED(SECPKG_ATTR_LAST_CLIENT_TOKEN_STATUS),
        NAMED(SECPKG_ATTR_NEGO_PKG_INFO),
        NAMED(SECPKG_ATTR_NEGO_STATUS),
        NAMED(SECPKG_ATTR_CONTEXT_DELETED),
        NAMED(SECPKG_ATTR_DTLS_MTU),
        NAMED(SECPKG_ATTR_APPLICATION_PROTOCOL),
        NAMED(SECPKG_ATTR_NEGOTIATED_TLS_EXTENSIONS),
        NAMED(SECPKG_ATTR_IS_LOOPBACK),
        NAMED(SECPKG_ATTR_SUBJECT_SECURITY_ATTRIBUTES),
    };
    assert_distinct(ids, N_OF(ids));
    /* The first fifteen are the numbering every SSP shares. */
    for (size_t i = 0; i <= 14; i++)
        assert_int_equal(ids[i].value, (long long)i);
    assert_int_equal(SECPKG_ATTR_DATAGRAM_SIZES, SECPKG_ATTR_STREAM_SIZES);

    /* The structures hsmssp fills, at their Windows sizes. */
    assert_int_equal(sizeof(SecPkgContext_Sizes), 16);
    assert_int_equal(offsetof(SecPkgContext_Sizes, cbSecurityTrailer), 12);
    assert_int_equal(sizeof(SecPkgContext_StreamSizes), 20);
    assert_int_equal(sizeof(SecPkgContext_Lifespan), 16);
    assert_int_equal(offsetof(SecPkgContext_Lifespan, tsExpiry), 8);
    assert_int_equal(sizeof(SecPkgContext_Flags), 4);
    assert_int_equal(offsetof(SecPkgContext_KeyInfoA, KeySize),
                     2 * sizeof(void *));
    assert_int_equal(offsetof(SecPkgContext_KeyInfoA, EncryptAlgorithm),
                     2 * sizeof(void *) + 8);
    assert_int_equal(offsetof(SecPkgContext_Bindings, Bindings),
                     sizeof(void *));
    assert_int_equal(
        offsetof(SecPkgContext_NegotiationInfoA, NegotiationState),
        sizeof(void *));
    assert_int_equal(sizeof(SecPkgContext_LastClientTokenStatus), 4);
    assert_int_equal(SecPkgAttrLastClientTokenMaybe, 2);
}

/* The Kerberos numbers SecPkgContext_KeyInfoA reports are the registry
 * numbers MIT krb5 uses too. */
static void
test_kerberos_numbers_match_krb5(void **state)
{
    (void)state;
    assert_int_equal(KERB_ETYPE_DES_CBC_CRC, ENCTYPE_DES_CBC_CRC);
    assert_int_equal(KERB_ETYPE_DES_CBC_MD4, ENCTYPE_DES_CBC_MD4);
    assert_int_equal(KERB_ETYPE_DES_CBC_MD5, ENCTYPE_DES_CBC_MD5);
    assert_int_equal(KERB_ETYPE_DES3_CBC_SHA1_KD, ENCTYPE_DES3_CBC_SHA1);
    assert_int_equal(KERB_ETYPE_AES128_CTS_HMAC_SHA1_96,
                     ENCTYPE_AES128_CTS_HMAC_SHA1_96);
    assert_int_equal(KERB_ETYPE_AES256_CTS_HMAC_SHA1_96,
                     ENCTYPE_AES256_CTS_HMAC_SHA1_96);
    assert_int_equal(KERB_ETYPE_RC4_HMAC_NT, ENCTYPE_ARCFOUR_HMAC);
    assert_int_equal(KERB_ETYPE_RC4_HMAC_NT_EXP, ENCTYPE_ARCFOUR_HMAC_EXP);
    assert_int_equal(KERB_CHECKSUM_CRC32, CKSUMTYPE_CRC32);
    assert_int_equal(KERB_CHECKSUM_MD4, CKSUMTYPE_RSA_MD4);
    assert_int_equal(KERB_CHECKSUM_KRB_DES_MAC, CKSUMTYPE_DESCBC);
    assert_int_equal(KERB_CHECKSUM_MD5, CKSUMTYPE_RSA_MD5);
    assert_int_equal(KERB_CHECKSUM_MD5_DES, CKSUMTYPE_RSA_MD5_DES);
    assert_int_equal(KERB_CHECKSUM_HMAC_SHA1_96_AES128,
                     CKSUMTYPE_HMAC_SHA1_96_AES128);
    assert_int_equal(KERB_CHECKSUM_HMAC_SHA1_96_AES256,
                     CKSUMTYPE_HMAC_SHA1_96_AES256);
    assert_int_equal(KERB_CHECKSUM_HMAC_MD5, CKSUMTYPE_HMAC_MD5_ARCFOUR);

    /* A negative number survives the round trip through the ULONG field
     * of SecPkgContext_KeyInfoA. */
    SecPkgContext_KeyInfoA ki;
    ki.SignatureAlgorithm = (ULONG)KERB_CHECKSUM_HMAC_MD5;
    assert_int_equal((LONG)ki.SignatureAlgorithm, -138);
    assert_int_equal(KERB_WRAP_NO_ENCRYPT, SECQOP_WRAP_NO_ENCRYPT);
}

/* ---- context flags --------------------------------------------------- */

static const struct named isc_req[] = {
    NAMED(ISC_REQ_DELEGATE),
    NAMED(ISC_REQ_MUTUAL_AUTH),
    NAMED(ISC_REQ_REPLAY_DETECT),
    NAMED(ISC_REQ_SEQUENCE_DETECT),
    NAMED(ISC_REQ_CONFIDENTIALITY),
    NAMED(ISC_REQ_USE_SESSION_KEY),
    NAMED(ISC_REQ_PROMPT_FOR_CREDS),
    NAMED(ISC_REQ_USE_SUPPLIED_CREDS),
    NAMED(ISC_REQ_ALLOCATE_MEMORY),
    NAMED(ISC_REQ_USE_DCE_STYLE),
    NAMED(ISC_REQ_DATAGRAM),
    NAMED(ISC_REQ_CONNECTION),
    NAMED(ISC_REQ_CALL_LEVEL),
    NAMED(ISC_REQ_FRAGMENT_SUPPLIED),
    NAMED(ISC_REQ_EXTENDED_ERROR),
    NAMED(ISC_REQ_STREAM),
    NAMED(ISC_REQ_INTEGRITY),
    NAMED(ISC_REQ_IDENTIFY),
    NAMED(ISC_REQ_NULL_SESSION),
    NAMED(ISC_REQ_MANUAL_CRED_VALIDATION),
    NAMED(ISC_REQ_RESERVED1),
    NAMED(ISC_REQ_FRAGMENT_TO_FIT),
    NAMED(ISC_REQ_FORWARD_CREDENTIALS),
    NAMED(ISC_REQ_NO_INTEGRITY),
    NAMED(ISC_REQ_USE_HTTP_STYLE),
    NAMED(ISC_REQ_UNVERIFIED_TARGET_NAME),
    NAMED(ISC_REQ_CONFIDENTIALITY_ONLY),
    NAMED(ISC_REQ_MESSAGES),
    NAMED(ISC_REQ_DEFERRED_CRED_VALIDATION),
    NAMED(ISC_REQ_NO_POST_HANDSHAKE_AUTH),
    NAMED(ISC_REQ_REUSE_SESSION_TICKETS),
    NAMED(ISC_REQ_EXPLICIT_SESSION),
};

static const struct named isc_ret[] = {
    NAMED(ISC_RET_DELEGATE),
    NAMED(ISC_RET_MUTUAL_AUTH),
    NAMED(ISC_RET_REPLAY_DETECT),
    NAMED(ISC_RET_SEQUENCE_DETECT),
    NAMED(ISC_RET_CONFIDENTIALITY),
    NAMED(ISC_RET_USE_SESSION_KEY),
    NAMED(ISC_RET_USED_COLLECTED_CREDS),
    NAMED(ISC_RET_USED_SUPPLIED_CREDS),
    NAMED(ISC_RET_ALLOCATED_MEMORY),
    NAMED(ISC_RET_USED_DCE_STYLE),
    NAMED(ISC_RET_DATAGRAM),
    NAMED(ISC_RET_CONNECTION),
    NAMED(ISC_RET_INTERMEDIATE_RETURN),
    NAMED(ISC_RET_CALL_LEVEL),
    NAMED(ISC_RET_EXTENDED_ERROR),
    NAMED(ISC_RET_STREAM),
    NAMED(ISC_RET_INTEGRITY),
    NAMED(ISC_RET_IDENTIFY),
    NAMED(ISC_RET_NULL_SESSION),
    NAMED(ISC_RET_MANUAL_CRED_VALIDATION),
    NAMED(ISC_RET_RESERVED1),
    NAMED(ISC_RET_FRAGMENT_ONLY),
    NAMED(ISC_RET_FORWARD_CREDENTIALS),
    NAMED(ISC_RET_USED_HTTP_STYLE),
    NAMED(ISC_RET_NO_ADDITIONAL_TOKEN),
    NAMED(ISC_RET_REAUTHENTICATION),
    NAMED(ISC_RET_CONFIDENTIALITY_ONLY),
    NAMED(ISC_RET_MESSAGES),
    NAMED(ISC_RET_DEFERRED_CRED_VALIDATION),
    NAMED(ISC_RET_NO_POST_HANDSHAKE_AUTH),
    NAMED(ISC_RET_REUSE_SESSION_TICKETS),
    NAMED(ISC_RET_EXPLICIT_SESSION),
};

static const struct named asc_req[] = {
    NAMED(ASC_REQ_DELEGATE),
    NAMED(ASC_REQ_MUTUAL_AUTH),
    NAMED(ASC_REQ_REPLAY_DETECT),
    NAMED(ASC_REQ_SEQUENCE_DETECT),
    NAMED(ASC_REQ_CONFIDENTIALITY),
    NAMED(ASC_REQ_USE_SESSION_KEY),
    NAMED(ASC_REQ_SESSION_TICKET),
    NAMED(ASC_REQ_ALLOCATE_MEMORY),
    NAMED(ASC_REQ_USE_DCE_STYLE),
    NAMED(ASC_REQ_DATAGRAM),
    NAMED(ASC_REQ_CONNECTION),
    NAMED(ASC_REQ_CALL_LEVEL),
    NAMED(ASC_REQ_FRAGMENT_SUPPLIED),
    NAMED(ASC_REQ_EXTENDED_ERROR),
    NAMED(ASC_REQ_STREAM),
    NAMED(ASC_REQ_INTEGRITY),
    NAMED(ASC_REQ_LICENSING),
    NAMED(ASC_REQ_IDENTIFY),
    NAMED(ASC_REQ_ALLOW_NULL_SESSION),
    NAMED(ASC_REQ_ALLOW_NON_USER_LOGONS),
    NAMED(ASC_REQ_ALLOW_CONTEXT_REPLAY),
    NAMED(ASC_REQ_FRAGMENT_TO_FIT),
    NAMED(ASC_REQ_NO_TOKEN),
    NAMED(ASC_REQ_PROXY_BINDINGS),
    NAMED(ASC_REQ_ALLOW_MISSING_BINDINGS),
    NAMED(ASC_REQ_MESSAGES),
    NAMED(ASC_REQ_EXPLICIT_SESSION),
};

static const struct named asc_ret[] = {
    NAMED(ASC_RET_DELEGATE),
    NAMED(ASC_RET_MUTUAL_AUTH),
    NAMED(ASC_RET_REPLAY_DETECT),
    NAMED(ASC_RET_SEQUENCE_DETECT),
    NAMED(ASC_RET_CONFIDENTIALITY),
    NAMED(ASC_RET_USE_SESSION_KEY),
    NAMED(ASC_RET_SESSION_TICKET),
    NAMED(ASC_RET_ALLOCATED_MEMORY),
    NAMED(ASC_RET_USED_DCE_STYLE),
    NAMED(ASC_RET_DATAGRAM),
    NAMED(ASC_RET_CONNECTION),
    NAMED(ASC_RET_CALL_LEVEL),
    NAMED(ASC_RET_THIRD_LEG_FAILED),
    NAMED(ASC_RET_EXTENDED_ERROR),
    NAMED(ASC_RET_STREAM),
    NAMED(ASC_RET_INTEGRITY),
    NAMED(ASC_RET_LICENSING),
    NAMED(ASC_RET_IDENTIFY),
    NAMED(ASC_RET_NULL_SESSION),
    NAMED(ASC_RET_ALLOW_NON_USER_LOGONS),
    NAMED(ASC_RET_ALLOW_CONTEXT_REPLAY),
    NAMED(ASC_RET_FRAGMENT_ONLY),
    NAMED(ASC_RET_NO_TOKEN),
    NAMED(ASC_RET_NO_ADDITIONAL_TOKEN),
    NAMED(ASC_RET_MESSAGES),
    NAMED(ASC_RET_REUSE_SESSION_TICKETS),
    NAMED(ASC_RET_EXPLICIT_SESSION),
};

/* Every flag is one bit, distinct within its set; those that fit 32 bits
 * fit fContextReq, the others are above it (SECBUFFER_FLAGS). */
static void
test_context_flag_sets(void **state)
{
    (void)state;
    const struct {
        const struct named *tab;
        size_t n;
    } sets[] = {
        {isc_req, N_OF(isc_req)},
        {isc_ret, N_OF(isc_ret)},
        {asc_req, N_OF(asc_req)},
        {asc_ret, N_OF(asc_ret)},
    };
    for (size_t s = 0; s < N_OF(sets); s++) {
        assert_single_bits(sets[s].tab, sets[s].n, 0x1FFFFFFFFFULL);
        assert_distinct(sets[s].tab, sets[s].n);
    }
    ULONG req = ISC_REQ_CONFIDENTIALITY_ONLY | ISC_REQ_UNVERIFIED_TARGET_NAME;
    assert_int_equal(req, 0x60000000u);
    assert_true(ISC_REQ_MESSAGES > UINT32_MAX);
    SEC_FLAGS f;
    f.Flags = ISC_REQ_NO_POST_HANDSHAKE_AUTH;
    assert_true(f.Flags == 0x400000000ULL);
}

/* ISC_* and ASC_* share the low bits but not the high ones: code that
 * passes an ISC_REQ_* flag to AcceptSecurityContext gets something else. */
static void
test_isc_asc_differ(void **state)
{
    (void)state;
    /* Same meaning, same bit. */
    assert_int_equal(ASC_REQ_DELEGATE, ISC_REQ_DELEGATE);
    assert_int_equal(ASC_REQ_MUTUAL_AUTH, ISC_REQ_MUTUAL_AUTH);
    assert_int_equal(ASC_REQ_REPLAY_DETECT, ISC_REQ_REPLAY_DETECT);
    assert_int_equal(ASC_REQ_SEQUENCE_DETECT, ISC_REQ_SEQUENCE_DETECT);
    assert_int_equal(ASC_REQ_CONFIDENTIALITY, ISC_REQ_CONFIDENTIALITY);
    assert_int_equal(ASC_REQ_ALLOCATE_MEMORY, ISC_REQ_ALLOCATE_MEMORY);
    assert_int_equal(ASC_REQ_CONNECTION, ISC_REQ_CONNECTION);

    /* Same meaning, different bit: ASC is one bit higher. */
    assert_true(ASC_REQ_EXTENDED_ERROR != ISC_REQ_EXTENDED_ERROR);
    assert_int_equal(ASC_REQ_EXTENDED_ERROR, ISC_REQ_EXTENDED_ERROR << 1);
    assert_int_equal(ASC_REQ_STREAM, ISC_REQ_STREAM << 1);
    assert_int_equal(ASC_REQ_INTEGRITY, ISC_REQ_INTEGRITY << 1);
    assert_int_equal(ASC_REQ_IDENTIFY, ISC_REQ_IDENTIFY << 2);
    assert_int_equal(ASC_REQ_FRAGMENT_TO_FIT, ISC_REQ_FRAGMENT_TO_FIT << 2);

    /* Same bit, different meaning. */
    assert_int_equal(ASC_REQ_SESSION_TICKET, ISC_REQ_PROMPT_FOR_CREDS);
    assert_int_equal(ASC_REQ_LICENSING, ISC_REQ_NULL_SESSION);
    assert_int_equal(ISC_REQ_INTEGRITY, ASC_REQ_STREAM);

    /* Returned flags follow their own set's layout ... */
    assert_int_equal(ISC_RET_EXTENDED_ERROR, ISC_REQ_EXTENDED_ERROR);
    assert_int_equal(ASC_RET_EXTENDED_ERROR, ASC_REQ_EXTENDED_ERROR);
    assert_int_equal(ASC_RET_INTEGRITY, ASC_REQ_INTEGRITY);
    /* ... except where Windows moved one: CALL_LEVEL is returned one bit
     * above where it is requested. */
    assert_int_equal(ISC_RET_CALL_LEVEL, ISC_REQ_CALL_LEVEL << 1);
    assert_int_equal(ASC_RET_CALL_LEVEL, ASC_REQ_CALL_LEVEL << 1);
}

/* ---- function table -------------------------------------------------- */

/* The table in Windows order.  Each slot is pointer-sized (dwVersion is
 * padded to one), so the i-th entry sits at i * sizeof(void *). */
/* clang-format off */
#define SLOT(f) {#f, offsetof(SecurityFunctionTableA, f)}
/* clang-format on */
static const struct {
    const char *name;
    size_t offset;
} table_order[] = {
    SLOT(dwVersion),
    SLOT(EnumerateSecurityPackagesA),
    SLOT(QueryCredentialsAttributesA),
    SLOT(AcquireCredentialsHandleA),
    SLOT(FreeCredentialsHandle),
    SLOT(Reserved2),
    SLOT(InitializeSecurityContextA),
    SLOT(AcceptSecurityContext),
    SLOT(CompleteAuthToken),
    SLOT(DeleteSecurityContext),
    SLOT(ApplyControlToken),
    SLOT(QueryContextAttributesA),
    SLOT(ImpersonateSecurityContext),
    SLOT(RevertSecurityContext),
    SLOT(MakeSignature),
    SLOT(VerifySignature),
    SLOT(FreeContextBuffer),
    SLOT(QuerySecurityPackageInfoA),
    SLOT(Reserved3),
    SLOT(Reserved4),
    SLOT(ExportSecurityContext),
    SLOT(ImportSecurityContextA),
    SLOT(AddCredentialsA),
    SLOT(Reserved8),
    SLOT(QuerySecurityContextToken),
    SLOT(EncryptMessage),
    SLOT(DecryptMessage),
    SLOT(SetContextAttributesA),
    SLOT(SetCredentialsAttributesA),
    SLOT(ChangeAccountPasswordA),
    SLOT(QueryContextAttributesExA),
    SLOT(QueryCredentialsAttributesExA),
};

static void
test_function_table_order(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(table_order); i++) {
        if (i > 0 && table_order[i].offset <= table_order[i - 1].offset)
            fail_msg("%s does not follow %s", table_order[i].name,
                     table_order[i - 1].name);
        if (table_order[i].offset != i * sizeof(void *))
            fail_msg("%s at offset %zu, Windows slot %zu", table_order[i].name,
                     table_order[i].offset, i);
    }
    assert_int_equal(sizeof(SecurityFunctionTableA),
                     N_OF(table_order) * sizeof(void *));

    /* The two slots whose place matters most to callers that index the
     * table: 25 and 26. */
    assert_int_equal(offsetof(SecurityFunctionTableA, EncryptMessage),
                     25 * sizeof(void *));
    assert_int_equal(offsetof(SecurityFunctionTableA, DecryptMessage),
                     26 * sizeof(void *));

    /* The Windows alternative names share their slots. */
    assert_int_equal(offsetof(SecurityFunctionTableA, FreeCredentialHandle),
                     offsetof(SecurityFunctionTableA, FreeCredentialsHandle));
    assert_int_equal(offsetof(SecurityFunctionTableA, Reserved9),
                     offsetof(SecurityFunctionTableA, ChangeAccountPasswordA));

    assert_int_equal(SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION_5, 5);
    assert_string_equal(SECURITY_ENTRYPOINT, "InitSecurityInterfaceA");
}

/* Each declared function has exactly the type of its table slot.
 * _Generic does not evaluate its operand, so no symbol is referenced. */
#define SAME_TYPE(fn, T) _Generic((fn), T : 1, default : 0)

static void
test_declarations_match_slots(void **state)
{
    (void)state;
    SecurityFunctionTableA t;
    assert_true(SAME_TYPE(InitSecurityInterfaceA, INIT_SECURITY_INTERFACE_A));
    assert_true(SAME_TYPE(EnumerateSecurityPackagesA,
                          __typeof__(t.EnumerateSecurityPackagesA)));
    assert_true(SAME_TYPE(QueryCredentialsAttributesA,
                          __typeof__(t.QueryCredentialsAttributesA)));
    assert_true(SAME_TYPE(AcquireCredentialsHandleA,
                          __typeof__(t.AcquireCredentialsHandleA)));
    assert_true(
        SAME_TYPE(FreeCredentialsHandle, __typeof__(t.FreeCredentialsHandle)));
    assert_true(SAME_TYPE(InitializeSecurityContextA,
                          __typeof__(t.InitializeSecurityContextA)));
    assert_true(
        SAME_TYPE(AcceptSecurityContext, __typeof__(t.AcceptSecurityContext)));
    assert_true(SAME_TYPE(CompleteAuthToken, __typeof__(t.CompleteAuthToken)));
    assert_true(
        SAME_TYPE(DeleteSecurityContext, __typeof__(t.DeleteSecurityContext)));
    assert_true(SAME_TYPE(ApplyControlToken, __typeof__(t.ApplyControlToken)));
    assert_true(SAME_TYPE(QueryContextAttributesA,
                          __typeof__(t.QueryContextAttributesA)));
    assert_true(SAME_TYPE(ImpersonateSecurityContext,
                          __typeof__(t.ImpersonateSecurityContext)));
    assert_true(
        SAME_TYPE(RevertSecurityContext, __typeof__(t.RevertSecurityContext)));
    assert_true(SAME_TYPE(MakeSignature, __typeof__(t.MakeSignature)));
    assert_true(SAME_TYPE(VerifySignature, __typeof__(t.VerifySignature)));
    assert_true(SAME_TYPE(FreeContextBuffer, __typeof__(t.FreeContextBuffer)));
    assert_true(SAME_TYPE(QuerySecurityPackageInfoA,
                          __typeof__(t.QuerySecurityPackageInfoA)));
    assert_true(
        SAME_TYPE(ExportSecurityContext, __typeof__(t.ExportSecurityContext)));
    assert_true(SAME_TYPE(ImportSecurityContextA,
                          __typeof__(t.ImportSecurityContextA)));
    assert_true(SAME_TYPE(QuerySecurityContextToken,
                          __typeof__(t.QuerySecurityContextToken)));
    assert_true(SAME_TYPE(EncryptMessage, __typeof__(t.EncryptMessage)));
    assert_true(SAME_TYPE(DecryptMessage, __typeof__(t.DecryptMessage)));
    assert_true(
        SAME_TYPE(SetContextAttributesA, __typeof__(t.SetContextAttributesA)));
}

/* Without UNICODE the generic names are the A ones. */
static void
test_generic_names(void **state)
{
    (void)state;
    assert_true(_Generic((SecPkgInfo *)0, SecPkgInfoA * : 1, default : 0));
    assert_true(_Generic((PSecurityFunctionTable)0,
                         PSecurityFunctionTableA : 1, default : 0));
    assert_true(_Generic((SecPkgContext_Names *)0, SecPkgContext_NamesA * : 1,
                         default : 0));
    assert_true(_Generic((SEC_WINNT_AUTH_IDENTITY *)0,
                         SEC_WINNT_AUTH_IDENTITY_A * : 1, default : 0));
    assert_true(
        SAME_TYPE(AcquireCredentialsHandle, ACQUIRE_CREDENTIALS_HANDLE_FN_A));
    assert_true(
        SAME_TYPE(InitializeSecurityContext, INITIALIZE_SECURITY_CONTEXT_FN));
    assert_true(
        SAME_TYPE(QueryContextAttributes, QUERY_CONTEXT_ATTRIBUTES_FN_A));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_types),
        cmocka_unit_test(test_status_codes_signed),
        cmocka_unit_test(test_status_codes_in_switch),
        cmocka_unit_test(test_handles),
        cmocka_unit_test(test_timestamp_is_filetime),
        cmocka_unit_test(test_secbuffer_layout),
        cmocka_unit_test(test_buffer_types),
        cmocka_unit_test(test_package_info),
        cmocka_unit_test(test_auth_identity_layout),
        cmocka_unit_test(test_context_attribute_ids),
        cmocka_unit_test(test_kerberos_numbers_match_krb5),
        cmocka_unit_test(test_context_flag_sets),
        cmocka_unit_test(test_isc_asc_differ),
        cmocka_unit_test(test_function_table_order),
        cmocka_unit_test(test_declarations_match_slots),
        cmocka_unit_test(test_generic_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
