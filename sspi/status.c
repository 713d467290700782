/*
 * sspi/status.c - the one place where hsmssp_err becomes SECURITY_STATUS,
 * and where ISC/ASC flags become the provider's and back.
 *
 * The status table lists every code of include/hsmssp/errors.h; a unit
 * test checks that none is missing and that each maps to a failure
 * (except HSMSSP_OK).  Where Windows has no exact equivalent the choice
 * is the status a Windows-written caller would handle in the same way;
 * docs/sspi.md gives the reasons.
 */
#include "sspi/sspi-int.h"

typedef struct status_row {
    hsmssp_err err;
    SECURITY_STATUS status;
} status_row;

static const status_row status_rows[] = {
    {HSMSSP_OK, SEC_E_OK},
    /* usage */
    {HSMSSP_ERR_INVALID_ARGUMENT, SEC_E_INVALID_PARAMETER},
    {HSMSSP_ERR_BUFFER_TOO_SMALL, SEC_E_BUFFER_TOO_SMALL},
    {HSMSSP_ERR_INPUT_TOO_LARGE, SEC_E_INVALID_PARAMETER},
    {HSMSSP_ERR_CONFIG, SEC_E_INTERNAL_ERROR},
    {HSMSSP_ERR_BAD_URI, SEC_E_INTERNAL_ERROR},
    {HSMSSP_ERR_FILE_PERMS, SEC_E_INTERNAL_ERROR},
    /* A call the context cannot take in its state (per-message calls
     * before establishment, a second Accept on a one-step package). */
    {HSMSSP_ERR_CONTEXT_STATE, SEC_E_INVALID_HANDLE},
    {HSMSSP_ERR_UNSUPPORTED, SEC_E_UNSUPPORTED_FUNCTION},
    /* token: the server's own configuration or token failed; the PIN
     * and token-presence cases leave the package without credentials */
    {HSMSSP_ERR_MODULE_LOAD, SEC_E_INTERNAL_ERROR},
    {HSMSSP_ERR_MODULE_INIT, SEC_E_INTERNAL_ERROR},
    {HSMSSP_ERR_NO_TOKEN, SEC_E_NO_CREDENTIALS},
    {HSMSSP_ERR_PIN_INCORRECT, SEC_E_NO_CREDENTIALS},
    {HSMSSP_ERR_PIN_LOCKED, SEC_E_NO_CREDENTIALS},
    {HSMSSP_ERR_PIN_EXPIRED, SEC_E_NO_CREDENTIALS},
    {HSMSSP_ERR_PIN_INVALID, SEC_E_NO_CREDENTIALS},
    {HSMSSP_ERR_PIN_UNAVAILABLE, SEC_E_NO_CREDENTIALS},
    {HSMSSP_ERR_TOKEN_REMOVED, SEC_E_NO_CREDENTIALS},
    {HSMSSP_ERR_SESSION_LOST, SEC_E_INTERNAL_ERROR},
    /* A context whose session keys died with a token reconnect is over:
     * the caller re-authenticates, as after expiry. */
    {HSMSSP_ERR_KEY_GONE, SEC_E_CONTEXT_EXPIRED},
    {HSMSSP_ERR_MECHANISM_MISSING, SEC_E_ALGORITHM_MISMATCH},
    {HSMSSP_ERR_TOKEN_FAILURE, SEC_E_INTERNAL_ERROR},
    {HSMSSP_ERR_TOKEN_READONLY, SEC_E_INTERNAL_ERROR},
    {HSMSSP_ERR_KEY_NOT_FOUND, SEC_E_NO_CREDENTIALS},
    {HSMSSP_ERR_FORKED, SEC_E_INVALID_HANDLE},
    {HSMSSP_ERR_TOKEN_FULL, SEC_E_INSUFFICIENT_MEMORY},
    {HSMSSP_ERR_KEY_REFUSED, SEC_E_INTERNAL_ERROR},
    /* protocol */
    {HSMSSP_ERR_INTEGRITY, SEC_E_MESSAGE_ALTERED},
    {HSMSSP_ERR_BAD_CIPHERTEXT, SEC_E_INVALID_TOKEN},
    {HSMSSP_ERR_UNKNOWN_ENCTYPE, SEC_E_ALGORITHM_MISMATCH},
    {HSMSSP_ERR_UNKNOWN_CKSUMTYPE, SEC_E_INVALID_TOKEN},
    {HSMSSP_ERR_BAD_TOKEN, SEC_E_INVALID_TOKEN},
    {HSMSSP_ERR_LIMIT, SEC_E_INVALID_TOKEN},
    {HSMSSP_ERR_REPLAY, SEC_E_INVALID_TOKEN},
    /* GSS_S_DUPLICATE_TOKEN / GSS_S_OLD_TOKEN and GSS_S_GAP_TOKEN /
     * GSS_S_UNSEQ_TOKEN, mapped as Wine maps them. */
    {HSMSSP_ERR_DUPLICATE, SEC_E_INVALID_TOKEN},
    {HSMSSP_ERR_OUT_OF_SEQUENCE, SEC_E_OUT_OF_SEQUENCE},
    {HSMSSP_ERR_BAD_BINDINGS, SEC_E_BAD_BINDINGS},
    {HSMSSP_ERR_CLOCK_SKEW, SEC_E_TIME_SKEW},
    {HSMSSP_ERR_TICKET_EXPIRED, SEC_E_CONTEXT_EXPIRED},
    {HSMSSP_ERR_TICKET_NOT_YET_VALID, SEC_E_TIME_SKEW},
    {HSMSSP_ERR_CONTEXT_EXPIRED, SEC_E_CONTEXT_EXPIRED},
    {HSMSSP_ERR_WRONG_PRINCIPAL, SEC_E_WRONG_PRINCIPAL},
    /* The ticket's key version or enctype is not on the token: the
     * ticket cannot be decrypted. */
    {HSMSSP_ERR_NO_KEY, SEC_E_DECRYPT_FAILURE},
    {HSMSSP_ERR_BAD_PAC, SEC_E_LOGON_DENIED},
    {HSMSSP_ERR_WRONG_MECH, SEC_E_INVALID_TOKEN},
    {HSMSSP_ERR_PEER_ERROR, SEC_E_LOGON_DENIED},
    /* The initiator's KDC exchanges. */
    {HSMSSP_ERR_KDC_UNREACHABLE, SEC_E_NO_AUTHENTICATING_AUTHORITY},
    {HSMSSP_ERR_PRINCIPAL_UNKNOWN, SEC_E_TARGET_UNKNOWN},
    {HSMSSP_ERR_PREAUTH_FAILED, SEC_E_LOGON_DENIED},
    {HSMSSP_ERR_NO_TICKET, SEC_E_NO_CREDENTIALS},
    {HSMSSP_ERR_CLIENT_UNKNOWN, SEC_E_UNKNOWN_CREDENTIALS},
    {HSMSSP_ERR_MUTUAL_FAILED, SEC_E_MUTUAL_AUTH_FAILED},
    {HSMSSP_ERR_KDC_ETYPE, SEC_E_KDC_UNKNOWN_ETYPE},
    {HSMSSP_ERR_REFERRAL, SEC_E_KDC_UNABLE_TO_REFER},
    /* policy */
    {HSMSSP_ERR_POLICY_HOST_OP, SEC_E_ALGORITHM_MISMATCH},
    {HSMSSP_ERR_POLICY_MLOCK, SEC_E_INSUFFICIENT_MEMORY},
    {HSMSSP_ERR_POLICY_ENCTYPE, SEC_E_ALGORITHM_MISMATCH},
    {HSMSSP_ERR_POLICY_BINDINGS, SEC_E_BAD_BINDINGS},
    {HSMSSP_ERR_POLICY_DELEGATION, SEC_E_DELEGATION_POLICY},
    {HSMSSP_ERR_NO_IMPERSONATION, SEC_E_NO_IMPERSONATION},
    /* internal */
    {HSMSSP_ERR_NOMEM, SEC_E_INSUFFICIENT_MEMORY},
    {HSMSSP_ERR_CRYPTO, SEC_E_INTERNAL_ERROR},
    {HSMSSP_ERR_RANDOM, SEC_E_INTERNAL_ERROR},
    /* Fail closed: an authentication that cannot be recorded is refused. */
    {HSMSSP_ERR_RCACHE_IO, SEC_E_INTERNAL_ERROR},
    {HSMSSP_ERR_RCACHE_FULL, SEC_E_INSUFFICIENT_MEMORY},
    {HSMSSP_ERR_INTERNAL, SEC_E_INTERNAL_ERROR},
};

SECURITY_STATUS
sspi_status(hsmssp_err err)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(status_rows); i++)
        if (status_rows[i].err == err)
            return status_rows[i].status;
    return SEC_E_INTERNAL_ERROR;
}

size_t
sspi_status_rows(void)
{
    return BASE_ARRAY_LEN(status_rows);
}

void
sspi_status_row(size_t i, int *err, SECURITY_STATUS *status)
{
    *err = status_rows[i].err;
    *status = status_rows[i].status;
}

/* ---- flags ----------------------------------------------------------- */

typedef struct flag_row {
    ULONG win;
    uint32_t prov;
} flag_row;

/* ASC_REQ_* / ASC_RET_* share low bits with ISC_* but not high ones
 * (EXTENDED_ERROR, INTEGRITY, IDENTIFY), hence four tables. */
static const flag_row asc_req[] = {
    {ASC_REQ_DELEGATE, PROV_F_DELEGATE},
    {ASC_REQ_MUTUAL_AUTH, PROV_F_MUTUAL},
    {ASC_REQ_REPLAY_DETECT, PROV_F_REPLAY},
    {ASC_REQ_SEQUENCE_DETECT, PROV_F_SEQUENCE},
    {ASC_REQ_CONFIDENTIALITY, PROV_F_CONF},
    {ASC_REQ_INTEGRITY, PROV_F_INTEG},
    {ASC_REQ_IDENTIFY, PROV_F_IDENTIFY},
    {ASC_REQ_EXTENDED_ERROR, PROV_F_EXTENDED_ERROR},
    {ASC_REQ_CONNECTION, PROV_F_CONNECTION},
};

static const flag_row asc_ret[] = {
    {ASC_RET_DELEGATE, PROV_F_DELEGATE},
    {ASC_RET_MUTUAL_AUTH, PROV_F_MUTUAL},
    {ASC_RET_REPLAY_DETECT, PROV_F_REPLAY},
    {ASC_RET_SEQUENCE_DETECT, PROV_F_SEQUENCE},
    {ASC_RET_CONFIDENTIALITY, PROV_F_CONF},
    {ASC_RET_INTEGRITY, PROV_F_INTEG},
    {ASC_RET_IDENTIFY, PROV_F_IDENTIFY},
    {ASC_RET_EXTENDED_ERROR, PROV_F_EXTENDED_ERROR},
    {ASC_RET_CONNECTION, PROV_F_CONNECTION},
};

static const flag_row isc_req[] = {
    {ISC_REQ_DELEGATE, PROV_F_DELEGATE},
    {ISC_REQ_MUTUAL_AUTH, PROV_F_MUTUAL},
    {ISC_REQ_REPLAY_DETECT, PROV_F_REPLAY},
    {ISC_REQ_SEQUENCE_DETECT, PROV_F_SEQUENCE},
    {ISC_REQ_CONFIDENTIALITY, PROV_F_CONF},
    {ISC_REQ_INTEGRITY, PROV_F_INTEG},
    {ISC_REQ_IDENTIFY, PROV_F_IDENTIFY},
    {ISC_REQ_EXTENDED_ERROR, PROV_F_EXTENDED_ERROR},
    {ISC_REQ_CONNECTION, PROV_F_CONNECTION},
};

static const flag_row isc_ret[] = {
    {ISC_RET_DELEGATE, PROV_F_DELEGATE},
    {ISC_RET_MUTUAL_AUTH, PROV_F_MUTUAL},
    {ISC_RET_REPLAY_DETECT, PROV_F_REPLAY},
    {ISC_RET_SEQUENCE_DETECT, PROV_F_SEQUENCE},
    {ISC_RET_CONFIDENTIALITY, PROV_F_CONF},
    {ISC_RET_INTEGRITY, PROV_F_INTEG},
    {ISC_RET_IDENTIFY, PROV_F_IDENTIFY},
    {ISC_RET_EXTENDED_ERROR, PROV_F_EXTENDED_ERROR},
    {ISC_RET_CONNECTION, PROV_F_CONNECTION},
};

static uint32_t
to_prov(const flag_row *t, size_t n, ULONG win)
{
    uint32_t p = 0;

    for (size_t i = 0; i < n; i++)
        if (win & t[i].win)
            p |= t[i].prov;
    return p;
}

static ULONG
to_win(const flag_row *t, size_t n, uint32_t prov)
{
    ULONG w = 0;

    for (size_t i = 0; i < n; i++)
        if (prov & t[i].prov)
            w |= t[i].win;
    return w;
}

uint32_t
sspi_asc_req_to_prov(ULONG f)
{
    return to_prov(asc_req, BASE_ARRAY_LEN(asc_req), f);
}

ULONG
sspi_prov_to_asc_ret(uint32_t f)
{
    return to_win(asc_ret, BASE_ARRAY_LEN(asc_ret), f);
}

uint32_t
sspi_isc_req_to_prov(ULONG f)
{
    return to_prov(isc_req, BASE_ARRAY_LEN(isc_req), f);
}

ULONG
sspi_prov_to_isc_ret(uint32_t f)
{
    return to_win(isc_ret, BASE_ARRAY_LEN(isc_ret), f);
}

static const flag_row caps[] = {
    {SECPKG_FLAG_INTEGRITY, PROV_CAP_INTEGRITY},
    {SECPKG_FLAG_PRIVACY, PROV_CAP_PRIVACY},
    {SECPKG_FLAG_TOKEN_ONLY, PROV_CAP_TOKEN_ONLY},
    {SECPKG_FLAG_CONNECTION, PROV_CAP_CONNECTION},
    {SECPKG_FLAG_EXTENDED_ERROR, PROV_CAP_EXTENDED_ERROR},
    {SECPKG_FLAG_IMPERSONATION, PROV_CAP_IMPERSONATION},
    {SECPKG_FLAG_MUTUAL_AUTH, PROV_CAP_MUTUAL_AUTH},
    {SECPKG_FLAG_DELEGATION, PROV_CAP_DELEGATION},
    {SECPKG_FLAG_GSS_COMPATIBLE, PROV_CAP_GSS_COMPATIBLE},
    {SECPKG_FLAG_NEGOTIABLE, PROV_CAP_NEGOTIABLE},
    {SECPKG_FLAG_READONLY_WITH_CHECKSUM, PROV_CAP_READONLY_WITH_CHECKSUM},
    {SECPKG_FLAG_LOGON, PROV_CAP_LOGON},
};

ULONG
sspi_caps(uint32_t prov_caps)
{
    return to_win(caps, BASE_ARRAY_LEN(caps), prov_caps);
}

void
sspi_timestamp(int64_t t, PTimeStamp ts)
{
    /* FILETIME: 100 ns intervals since 1601-01-01 UTC; "never" is the
     * largest positive value, as Windows reports for service
     * credentials. */
    uint64_t ft;

    if (ts == NULL)
        return;
    if (t == INT64_MAX || t > 910692730085LL)
        ft = 0x7fffffffffffffffULL;
    else if (t < -11644473600LL)
        ft = 0;
    else
        ft = (uint64_t)(t + 11644473600LL) * 10000000ULL;
    ts->LowPart = (ULONG)ft;
    ts->HighPart = (LONG)(ft >> 32);
}
