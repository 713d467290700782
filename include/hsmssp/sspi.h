/*
 * hsmssp/sspi.h - the SSPI programming interface of hsmssp.
 *
 * Code written against the Windows Security Support Provider Interface
 * (the "A" functions of <sspi.h>) builds on Linux against hsmssp by
 * replacing `#include <windows.h>` / `#define SECURITY_WIN32` /
 * `#include <sspi.h>` with `#include <hsmssp/sspi.h>`.  Every name and
 * every numeric value below is the Windows one: status codes, buffer
 * types, request and return flags, attribute numbers, structure layouts,
 * the function signatures and the order of the function table.
 *
 * ABI.  The layout follows WinPR (FreeRDP's Windows portable runtime), the
 * other SSPI on Linux, rather than the LP64 C types:
 *   ULONG and LONG are 32 bits (uint32_t, int32_t) as on Windows, not
 *   `unsigned long`; USHORT is 16 bits; ULONG_PTR is uintptr_t (so a
 *   SecHandle is two pointer-sized words); SECURITY_STATUS is LONG, signed,
 *   so `status < 0` means failure exactly as on Windows; SEC_CHAR is char;
 *   SEC_ENTRY (the calling convention) is empty.
 * A program that already defines the Windows base types (ULONG, LONG,
 * USHORT, ULONG_PTR, PVOID, LPSTR ...) itself, for instance through WinPR,
 * defines HSMSSP_SSPI_NO_BASETYPES before including this header; its types
 * must have the sizes above, which the header checks at compile time.
 *
 * Strings.  hsmssp implements the A variants only.  Every SEC_CHAR string
 * passed in or handed out is NUL-terminated UTF-8 (a superset of the
 * ASCII that Windows A functions usually see); there are no W functions,
 * and compiling with UNICODE or _UNICODE defined is refused, because the
 * generic names (AcquireCredentialsHandle, SecPkgInfo ...) would otherwise
 * silently mean something else than the Windows code expects.  Without
 * UNICODE the generic names map to the A ones, as on Windows.
 *
 * Ownership, as on Windows:
 *   - Credentials and context handles are opaque; hsmssp owns what they
 *     name.  FreeCredentialsHandle and DeleteSecurityContext release them.
 *   - Anything hsmssp allocates for the caller - SecPkgInfoA arrays,
 *     output tokens requested with ISC_REQ_ALLOCATE_MEMORY /
 *     ASC_REQ_ALLOCATE_MEMORY, the strings and arrays inside
 *     QueryContextAttributesA / QueryCredentialsAttributesA results,
 *     exported context blobs - is released with FreeContextBuffer, and
 *     only with it.
 *   - Buffers the caller supplies in a SecBufferDesc stay the caller's;
 *     hsmssp reads them, writes within cbBuffer and updates cbBuffer and
 *     BufferType as the Windows documentation of each function says.
 *
 * Time.  Every TimeStamp is a count of 100-nanosecond intervals since
 * 1601-01-01 00:00:00 UTC, split into LowPart and HighPart like a
 * FILETIME.  Windows reports some expiry times in local time; hsmssp
 * always reports UTC.
 *
 * Functions hsmssp does not implement (AddCredentialsA,
 * SetCredentialsAttributesA, ChangeAccountPasswordA,
 * QueryContextAttributesExA, QueryCredentialsAttributesExA) have their
 * function-pointer types and their slot in SecurityFunctionTableA, which
 * holds NULL there, but no declaration: a call fails at compile time, not
 * at run time.
 *
 * Package-specific and hsmssp-specific additions live in the last section
 * of this file, after everything that Windows defines.
 *
 * Sections:
 *    1. Refusal of UNICODE builds
 *    2. Base types and calling convention
 *    3. SECURITY_STATUS codes
 *    4. Handles and time stamps
 *    5. Buffers and channel bindings
 *    6. Packages: SecPkgInfoA, capabilities, RPC ids, names
 *    7. Credentials: use flags, identities, attributes, key callback
 *    8. Context requirement and return flags (ISC_*, ASC_*)
 *    9. Data representation and quality of protection
 *   10. Context attributes (SECPKG_ATTR_*) and their structures
 *   11. Kerberos algorithm numbers reported in SecPkgContext_KeyInfoA
 *   12. Context export flags
 *   13. Function pointer types
 *   14. The function table and the entry point
 *   15. Functions
 *   16. Generic (unsuffixed) names
 *   17. hsmssp extensions
 */
#ifndef HSMSSP_SSPI_H
#define HSMSSP_SSPI_H

/* ---- 1. Refusal of UNICODE builds ------------------------------------ */

#if defined(UNICODE) || defined(_UNICODE)
#error hsmssp/sspi.h: UNICODE or _UNICODE is defined, but hsmssp \
implements the A (UTF-8) variants only: build without UNICODE and \
_UNICODE and call the ...A functions with UTF-8 strings
#endif

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 2. Base types and calling convention ---------------------------- */

#ifndef HSMSSP_SSPI_NO_BASETYPES
typedef char CHAR;
typedef uint16_t USHORT;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef ULONG *PULONG;
typedef intptr_t INT_PTR;
typedef uintptr_t ULONG_PTR;
typedef void *PVOID;
typedef char *LPSTR;
typedef const char *LPCSTR;
typedef unsigned char BOOLEAN;
#endif

/* A program that brings its own base types must give them the Windows
 * sizes, or every structure below would have a layout hsmssp does not
 * expect.  (A negative array size stops the compilation.) */
typedef char hsmssp_sspi_check_ulong_[sizeof(ULONG) == 4 ? 1 : -1];
typedef char hsmssp_sspi_check_long_[sizeof(LONG) == 4 ? 1 : -1];
typedef char hsmssp_sspi_check_ushort_[sizeof(USHORT) == 2 ? 1 : -1];
typedef char
    hsmssp_sspi_check_ulong_ptr_[sizeof(ULONG_PTR) == sizeof(void *) ? 1
                                                                    : -1];

/* Windows calling-convention and pointer decorations: nothing on Linux. */
#ifndef SEC_ENTRY
#define SEC_ENTRY
#endif
#ifndef SEC_FAR
#define SEC_FAR
#endif
#define SEC_TEXT(s) s

/* Every function this header declares is exported from libhsmssp. */
#ifndef HSMSSP_API
#define HSMSSP_API __attribute__((visibility("default")))
#endif

typedef CHAR SEC_CHAR;
typedef SEC_CHAR *SECURITY_PSTR;
typedef const SEC_CHAR *SECURITY_PCSTR;

/* ---- 3. SECURITY_STATUS codes ---------------------------------------- */

/* Every SSPI function returns a SECURITY_STATUS: SEC_E_OK (0), a SEC_I_*
 * success-with-information code (positive), or a SEC_E_* error (negative,
 * the HRESULT severity bit).  The guard name is the one Windows and WinPR
 * use, so a program that already has the type keeps its own. */
#ifndef __SECSTATUS_DEFINED__
typedef LONG SECURITY_STATUS;
#define __SECSTATUS_DEFINED__
#endif
typedef char
    hsmssp_sspi_check_status_[sizeof(SECURITY_STATUS) == 4 ? 1 : -1];

/* The codes carry a cast to SECURITY_STATUS, as winerror.h's do, so that
 * `status == SEC_E_INVALID_TOKEN` compares two int32 values; the constant
 * 0x80090308 alone would be an unsigned or 64-bit value on Linux. */
#define SEC_E_OK ((SECURITY_STATUS)0x00000000L)

#define SEC_E_INSUFFICIENT_MEMORY ((SECURITY_STATUS)0x80090300L)
#define SEC_E_INVALID_HANDLE ((SECURITY_STATUS)0x80090301L)
#define SEC_E_UNSUPPORTED_FUNCTION ((SECURITY_STATUS)0x80090302L)
#define SEC_E_TARGET_UNKNOWN ((SECURITY_STATUS)0x80090303L)
#define SEC_E_INTERNAL_ERROR ((SECURITY_STATUS)0x80090304L)
#define SEC_E_SECPKG_NOT_FOUND ((SECURITY_STATUS)0x80090305L)
#define SEC_E_NOT_OWNER ((SECURITY_STATUS)0x80090306L)
#define SEC_E_CANNOT_INSTALL ((SECURITY_STATUS)0x80090307L)
#define SEC_E_INVALID_TOKEN ((SECURITY_STATUS)0x80090308L)
#define SEC_E_CANNOT_PACK ((SECURITY_STATUS)0x80090309L)
#define SEC_E_QOP_NOT_SUPPORTED ((SECURITY_STATUS)0x8009030AL)
#define SEC_E_NO_IMPERSONATION ((SECURITY_STATUS)0x8009030BL)
#define SEC_E_LOGON_DENIED ((SECURITY_STATUS)0x8009030CL)
#define SEC_E_UNKNOWN_CREDENTIALS ((SECURITY_STATUS)0x8009030DL)
#define SEC_E_NO_CREDENTIALS ((SECURITY_STATUS)0x8009030EL)
#define SEC_E_MESSAGE_ALTERED ((SECURITY_STATUS)0x8009030FL)
#define SEC_E_OUT_OF_SEQUENCE ((SECURITY_STATUS)0x80090310L)
#define SEC_E_NO_AUTHENTICATING_AUTHORITY ((SECURITY_STATUS)0x80090311L)
#define SEC_I_CONTINUE_NEEDED ((SECURITY_STATUS)0x00090312L)
#define SEC_I_COMPLETE_NEEDED ((SECURITY_STATUS)0x00090313L)
#define SEC_I_COMPLETE_AND_CONTINUE ((SECURITY_STATUS)0x00090314L)
#define SEC_I_LOCAL_LOGON ((SECURITY_STATUS)0x00090315L)
#define SEC_I_GENERIC_EXTENSION_RECEIVED ((SECURITY_STATUS)0x00090316L)
#define SEC_E_BAD_PKGID ((SECURITY_STATUS)0x80090316L)
#define SEC_E_CONTEXT_EXPIRED ((SECURITY_STATUS)0x80090317L)
#define SEC_I_CONTEXT_EXPIRED ((SECURITY_STATUS)0x00090317L)
#define SEC_E_INCOMPLETE_MESSAGE ((SECURITY_STATUS)0x80090318L)
#define SEC_E_INCOMPLETE_CREDENTIALS ((SECURITY_STATUS)0x80090320L)
#define SEC_E_BUFFER_TOO_SMALL ((SECURITY_STATUS)0x80090321L)
#define SEC_I_INCOMPLETE_CREDENTIALS ((SECURITY_STATUS)0x00090320L)
#define SEC_I_RENEGOTIATE ((SECURITY_STATUS)0x00090321L)
#define SEC_E_WRONG_PRINCIPAL ((SECURITY_STATUS)0x80090322L)
#define SEC_I_NO_LSA_CONTEXT ((SECURITY_STATUS)0x00090323L)
#define SEC_E_TIME_SKEW ((SECURITY_STATUS)0x80090324L)
#define SEC_E_UNTRUSTED_ROOT ((SECURITY_STATUS)0x80090325L)
#define SEC_E_ILLEGAL_MESSAGE ((SECURITY_STATUS)0x80090326L)
#define SEC_E_CERT_UNKNOWN ((SECURITY_STATUS)0x80090327L)
#define SEC_E_CERT_EXPIRED ((SECURITY_STATUS)0x80090328L)
#define SEC_E_ENCRYPT_FAILURE ((SECURITY_STATUS)0x80090329L)
#define SEC_E_DECRYPT_FAILURE ((SECURITY_STATUS)0x80090330L)
#define SEC_E_ALGORITHM_MISMATCH ((SECURITY_STATUS)0x80090331L)
#define SEC_E_SECURITY_QOS_FAILED ((SECURITY_STATUS)0x80090332L)
#define SEC_E_UNFINISHED_CONTEXT_DELETED ((SECURITY_STATUS)0x80090333L)
#define SEC_E_NO_TGT_REPLY ((SECURITY_STATUS)0x80090334L)
#define SEC_E_NO_IP_ADDRESSES ((SECURITY_STATUS)0x80090335L)
#define SEC_E_WRONG_CREDENTIAL_HANDLE ((SECURITY_STATUS)0x80090336L)
#define SEC_E_CRYPTO_SYSTEM_INVALID ((SECURITY_STATUS)0x80090337L)
#define SEC_E_MAX_REFERRALS_EXCEEDED ((SECURITY_STATUS)0x80090338L)
#define SEC_E_MUST_BE_KDC ((SECURITY_STATUS)0x80090339L)
#define SEC_E_STRONG_CRYPTO_NOT_SUPPORTED ((SECURITY_STATUS)0x8009033AL)
#define SEC_E_TOO_MANY_PRINCIPALS ((SECURITY_STATUS)0x8009033BL)
#define SEC_E_NO_PA_DATA ((SECURITY_STATUS)0x8009033CL)
#define SEC_E_PKINIT_NAME_MISMATCH ((SECURITY_STATUS)0x8009033DL)
#define SEC_E_SMARTCARD_LOGON_REQUIRED ((SECURITY_STATUS)0x8009033EL)
#define SEC_E_SHUTDOWN_IN_PROGRESS ((SECURITY_STATUS)0x8009033FL)
#define SEC_E_KDC_INVALID_REQUEST ((SECURITY_STATUS)0x80090340L)
#define SEC_E_KDC_UNABLE_TO_REFER ((SECURITY_STATUS)0x80090341L)
#define SEC_E_KDC_UNKNOWN_ETYPE ((SECURITY_STATUS)0x80090342L)
#define SEC_E_UNSUPPORTED_PREAUTH ((SECURITY_STATUS)0x80090343L)
#define SEC_E_DELEGATION_REQUIRED ((SECURITY_STATUS)0x80090345L)
#define SEC_E_BAD_BINDINGS ((SECURITY_STATUS)0x80090346L)
#define SEC_E_MULTIPLE_ACCOUNTS ((SECURITY_STATUS)0x80090347L)
#define SEC_E_NO_KERB_KEY ((SECURITY_STATUS)0x80090348L)
#define SEC_E_CERT_WRONG_USAGE ((SECURITY_STATUS)0x80090349L)
#define SEC_E_DOWNGRADE_DETECTED ((SECURITY_STATUS)0x80090350L)
#define SEC_E_SMARTCARD_CERT_REVOKED ((SECURITY_STATUS)0x80090351L)
#define SEC_E_ISSUING_CA_UNTRUSTED ((SECURITY_STATUS)0x80090352L)
#define SEC_E_REVOCATION_OFFLINE_C ((SECURITY_STATUS)0x80090353L)
#define SEC_E_PKINIT_CLIENT_FAILURE ((SECURITY_STATUS)0x80090354L)
#define SEC_E_SMARTCARD_CERT_EXPIRED ((SECURITY_STATUS)0x80090355L)
#define SEC_E_NO_S4U_PROT_SUPPORT ((SECURITY_STATUS)0x80090356L)
#define SEC_E_CROSSREALM_DELEGATION_FAILURE ((SECURITY_STATUS)0x80090357L)
#define SEC_E_REVOCATION_OFFLINE_KDC ((SECURITY_STATUS)0x80090358L)
#define SEC_E_ISSUING_CA_UNTRUSTED_KDC ((SECURITY_STATUS)0x80090359L)
#define SEC_E_KDC_CERT_EXPIRED ((SECURITY_STATUS)0x8009035AL)
#define SEC_E_KDC_CERT_REVOKED ((SECURITY_STATUS)0x8009035BL)
#define SEC_I_SIGNATURE_NEEDED ((SECURITY_STATUS)0x0009035CL)
#define SEC_E_INVALID_PARAMETER ((SECURITY_STATUS)0x8009035DL)
#define SEC_E_DELEGATION_POLICY ((SECURITY_STATUS)0x8009035EL)
#define SEC_E_POLICY_NLTM_ONLY ((SECURITY_STATUS)0x8009035FL)
#define SEC_I_NO_RENEGOTIATION ((SECURITY_STATUS)0x00090360L)
#define SEC_E_NO_CONTEXT ((SECURITY_STATUS)0x80090361L)
#define SEC_E_PKU2U_CERT_FAILURE ((SECURITY_STATUS)0x80090362L)
#define SEC_E_MUTUAL_AUTH_FAILED ((SECURITY_STATUS)0x80090363L)
#define SEC_I_MESSAGE_FRAGMENT ((SECURITY_STATUS)0x00090364L)
#define SEC_E_ONLY_HTTPS_ALLOWED ((SECURITY_STATUS)0x80090365L)
#define SEC_I_CONTINUE_NEEDED_MESSAGE_OK ((SECURITY_STATUS)0x00090366L)
#define SEC_E_APPLICATION_PROTOCOL_MISMATCH ((SECURITY_STATUS)0x80090367L)
#define SEC_I_ASYNC_CALL_PENDING ((SECURITY_STATUS)0x00090368L)
#define SEC_E_INVALID_UPN_NAME ((SECURITY_STATUS)0x80090369L)
#define SEC_E_EXT_BUFFER_TOO_SMALL ((SECURITY_STATUS)0x8009036AL)
#define SEC_E_INSUFFICIENT_BUFFERS ((SECURITY_STATUS)0x8009036BL)

/* Old names winerror.h keeps for two of the codes above. */
#define SEC_E_NO_SPM SEC_E_INTERNAL_ERROR
#define SEC_E_NOT_SUPPORTED SEC_E_UNSUPPORTED_FUNCTION

/* Success tests.  SEC_SUCCESS is sspi.h's; SUCCEEDED and FAILED are
 * winerror.h's HRESULT tests, which SSPI code applies to SECURITY_STATUS
 * values too.  SEC_I_* codes are successes: a handshake loop must look at
 * SEC_I_CONTINUE_NEEDED itself. */
#define SEC_SUCCESS(Status) ((SECURITY_STATUS)(Status) >= 0)
#ifndef SUCCEEDED
#define SUCCEEDED(hr) ((LONG)(hr) >= 0)
#endif
#ifndef FAILED
#define FAILED(hr) ((LONG)(hr) < 0)
#endif

/* ---- 4. Handles and time stamps -------------------------------------- */

/* A handle to a credential or a context: two pointer-sized words whose
 * meaning belongs to hsmssp.  Callers copy them by value, never look
 * inside, and mark unused ones with SecInvalidateHandle. */
typedef struct _SecHandle {
    ULONG_PTR dwLower;
    ULONG_PTR dwUpper;
} SecHandle, *PSecHandle;

typedef SecHandle CredHandle;
typedef PSecHandle PCredHandle;
typedef SecHandle CtxtHandle;
typedef PSecHandle PCtxtHandle;

/* Windows semantics: SecInvalidateHandle sets both words to all ones;
 * SecIsValidHandle is true unless one of the words is all ones (a zeroed
 * handle counts as valid).  Both evaluate x twice.  SecInvalidateHandle is
 * an expression, so it may be used as a statement anywhere. */
#define SecInvalidateHandle(x)                                              \
    ((void)(((PSecHandle)(x))->dwLower = ((PSecHandle)(x))->dwUpper =       \
                ((ULONG_PTR)((INT_PTR)-1))))
#define SecIsValidHandle(x)                                                 \
    ((((PSecHandle)(x))->dwLower != ((ULONG_PTR)((INT_PTR)-1))) &&          \
     (((PSecHandle)(x))->dwUpper != ((ULONG_PTR)((INT_PTR)-1))))
#define SEC_DELETED_HANDLE ((ULONG_PTR)(-2))

/* A point in time: 100-nanosecond intervals since 1601-01-01 00:00:00
 * UTC, the FILETIME count, low 32 bits first.  hsmssp always reports UTC
 * (Windows reports some expiry times in local time). */
typedef struct _SECURITY_INTEGER {
    ULONG LowPart;
    LONG HighPart;
} SECURITY_INTEGER, *PSECURITY_INTEGER;

typedef SECURITY_INTEGER TimeStamp;
typedef SECURITY_INTEGER *PTimeStamp;

/* ---- 5. Buffers and channel bindings --------------------------------- */

/* One buffer of a message or token: cbBuffer bytes at pvBuffer, of type
 * BufferType (a SECBUFFER_* type, possibly or-ed with SECBUFFER_* flags
 * from SECBUFFER_ATTRMASK). */
typedef struct _SecBuffer {
    ULONG cbBuffer;
    ULONG BufferType;
    void SEC_FAR *pvBuffer;
} SecBuffer, *PSecBuffer;

/* An array of cBuffers buffers; ulVersion is SECBUFFER_VERSION. */
typedef struct _SecBufferDesc {
    ULONG ulVersion;
    ULONG cBuffers;
    PSecBuffer pBuffers;
} SecBufferDesc, SEC_FAR *PSecBufferDesc;

#define SECBUFFER_VERSION 0

/* Buffer types. */
#define SECBUFFER_EMPTY 0
#define SECBUFFER_DATA 1
#define SECBUFFER_TOKEN 2
#define SECBUFFER_PKG_PARAMS 3
#define SECBUFFER_MISSING 4
#define SECBUFFER_EXTRA 5
#define SECBUFFER_STREAM_TRAILER 6
#define SECBUFFER_STREAM_HEADER 7
#define SECBUFFER_NEGOTIATION_INFO 8
#define SECBUFFER_PADDING 9
#define SECBUFFER_STREAM 10
#define SECBUFFER_MECHLIST 11
#define SECBUFFER_MECHLIST_SIGNATURE 12
#define SECBUFFER_TARGET 13
#define SECBUFFER_CHANNEL_BINDINGS 14
#define SECBUFFER_CHANGE_PASS_RESPONSE 15
#define SECBUFFER_TARGET_HOST 16
#define SECBUFFER_ALERT 17
#define SECBUFFER_APPLICATION_PROTOCOLS 18
#define SECBUFFER_SRTP_PROTECTION_PROFILES 19
#define SECBUFFER_SRTP_MASTER_KEY_IDENTIFIER 20
#define SECBUFFER_TOKEN_BINDING 21
#define SECBUFFER_PRESHARED_KEY 22
#define SECBUFFER_PRESHARED_KEY_IDENTITY 23
#define SECBUFFER_DTLS_MTU 24
#define SECBUFFER_SEND_GENERIC_TLS_EXTENSION 25
#define SECBUFFER_SUBSCRIBE_GENERIC_TLS_EXTENSION 26
#define SECBUFFER_FLAGS 27
#define SECBUFFER_TRAFFIC_SECRETS 28
#define SECBUFFER_CERTIFICATE_REQUEST_CONTEXT 29
#define SECBUFFER_CHANNEL_BINDINGS_RESULT 30
#define SECBUFFER_APP_SESSION_STATE 31
#define SECBUFFER_SESSION_TICKET 32

/* Flags or-ed into BufferType.  READONLY: the package must not change the
 * buffer (it is signed, or passed along, as it is).  UNMAPPED and
 * KERNEL_MAP are set by the Windows LSA on its side only. */
#define SECBUFFER_ATTRMASK 0xF0000000
#define SECBUFFER_READONLY 0x80000000
#define SECBUFFER_READONLY_WITH_CHECKSUM 0x10000000
#define SECBUFFER_RESERVED 0x60000000
#define SECBUFFER_UNMAPPED 0x40000000
#define SECBUFFER_KERNEL_MAP 0x20000000

/* The content of a SECBUFFER_CHANNEL_BINDINGS buffer (RFC 2744 sec. 3.11
 * bindings, flattened): this header, then the initiator address, acceptor
 * address and application data at the given offsets from the start of the
 * structure.  For TLS channel bindings (RFC 5929) only the application
 * data is used ("tls-server-end-point:" + hash). */
typedef struct _SEC_CHANNEL_BINDINGS {
    ULONG dwInitiatorAddrType;
    ULONG cbInitiatorLength;
    ULONG dwInitiatorOffset;
    ULONG dwAcceptorAddrType;
    ULONG cbAcceptorLength;
    ULONG dwAcceptorOffset;
    ULONG cbApplicationDataLength;
    ULONG dwApplicationDataOffset;
} SEC_CHANNEL_BINDINGS, *PSEC_CHANNEL_BINDINGS;

/* The content of a SECBUFFER_FLAGS buffer: request flags that do not fit
 * the 32-bit fContextReq (ISC_REQ_MESSAGES and above). */
typedef struct _SEC_FLAGS {
    unsigned long long Flags;
} SEC_FLAGS, *PSEC_FLAGS;

/* ---- 6. Packages ----------------------------------------------------- */

/* What EnumerateSecurityPackagesA and QuerySecurityPackageInfoA report
 * about a package: SECPKG_FLAG_* capabilities, version, DCE RPC
 * authentication-service id (RPC_C_AUTHN_*), the largest token the
 * package emits, and its name and description (UTF-8). */
typedef struct _SecPkgInfoA {
    ULONG fCapabilities;
    USHORT wVersion;
    USHORT wRPCID;
    ULONG cbMaxToken;
    SEC_CHAR *Name;
    SEC_CHAR *Comment;
} SecPkgInfoA, *PSecPkgInfoA;

#define SECPKG_FLAG_INTEGRITY 0x00000001
#define SECPKG_FLAG_PRIVACY 0x00000002
#define SECPKG_FLAG_TOKEN_ONLY 0x00000004
#define SECPKG_FLAG_DATAGRAM 0x00000008
#define SECPKG_FLAG_CONNECTION 0x00000010
#define SECPKG_FLAG_MULTI_REQUIRED 0x00000020
#define SECPKG_FLAG_CLIENT_ONLY 0x00000040
#define SECPKG_FLAG_EXTENDED_ERROR 0x00000080
#define SECPKG_FLAG_IMPERSONATION 0x00000100
#define SECPKG_FLAG_ACCEPT_WIN32_NAME 0x00000200
#define SECPKG_FLAG_STREAM 0x00000400
#define SECPKG_FLAG_NEGOTIABLE 0x00000800
#define SECPKG_FLAG_GSS_COMPATIBLE 0x00001000
#define SECPKG_FLAG_LOGON 0x00002000
#define SECPKG_FLAG_ASCII_BUFFERS 0x00004000
#define SECPKG_FLAG_FRAGMENT 0x00008000
#define SECPKG_FLAG_MUTUAL_AUTH 0x00010000
#define SECPKG_FLAG_DELEGATION 0x00020000
#define SECPKG_FLAG_READONLY_WITH_CHECKSUM 0x00040000
#define SECPKG_FLAG_RESTRICTED_TOKENS 0x00080000
#define SECPKG_FLAG_NEGO_EXTENDER 0x00100000
#define SECPKG_FLAG_NEGOTIABLE2 0x00200000
#define SECPKG_FLAG_APPCONTAINER_PASSTHROUGH 0x00400000
#define SECPKG_FLAG_APPCONTAINER_CHECKS 0x00800000
#define SECPKG_FLAG_CREDENTIAL_ISOLATION_ENABLED 0x01000000
#define SECPKG_FLAG_APPLY_LOOPBACK 0x02000000

/* wRPCID of a package that has no DCE RPC authentication-service id. */
#define SECPKG_ID_NONE 0xFFFF

/* DCE RPC authentication-service ids (rpcdce.h), the wRPCID values of the
 * packages hsmssp provides. */
#ifndef RPC_C_AUTHN_NONE
#define RPC_C_AUTHN_NONE 0
#endif
#ifndef RPC_C_AUTHN_GSS_NEGOTIATE
#define RPC_C_AUTHN_GSS_NEGOTIATE 9
#endif
#ifndef RPC_C_AUTHN_WINNT
#define RPC_C_AUTHN_WINNT 10
#endif
#ifndef RPC_C_AUTHN_GSS_KERBEROS
#define RPC_C_AUTHN_GSS_KERBEROS 16
#endif

/* Package names, for AcquireCredentialsHandleA's pszPackage and
 * QuerySecurityPackageInfoA.  Windows' unsuffixed NTLMSP_NAME and
 * MICROSOFT_KERBEROS_NAME are wide strings in every build, so they have
 * no counterpart here; NEGOSSP_NAME follows UNICODE and is the A name. */
#define NTLMSP_NAME_A "NTLM"
#define MICROSOFT_KERBEROS_NAME_A "Kerberos"
#define NEGOSSP_NAME_A "Negotiate"
#define NEGOSSP_NAME NEGOSSP_NAME_A

/* ---- 7. Credentials -------------------------------------------------- */

/* fCredentialUse of AcquireCredentialsHandleA: accept (server), initiate
 * (client) or both. */
#define SECPKG_CRED_INBOUND 0x00000001
#define SECPKG_CRED_OUTBOUND 0x00000002
#define SECPKG_CRED_BOTH 0x00000003
#define SECPKG_CRED_DEFAULT 0x00000004
#define SECPKG_CRED_RESERVED 0xF0000000
#define SECPKG_CRED_AUTOLOGON_RESTRICTED 0x00000010
#define SECPKG_CRED_PROCESS_POLICY_ONLY 0x00000020

/* Explicit credentials for pAuthData of AcquireCredentialsHandleA.  The
 * strings are UTF-8 (Flags SEC_WINNT_AUTH_IDENTITY_ANSI), each length a
 * byte count without the terminating NUL.  The caller keeps ownership and
 * should wipe Password after the call. */
#define SEC_WINNT_AUTH_IDENTITY_ANSI 0x1
#define SEC_WINNT_AUTH_IDENTITY_UNICODE 0x2

typedef struct _SEC_WINNT_AUTH_IDENTITY_A {
    unsigned char *User;
    ULONG UserLength;
    unsigned char *Domain;
    ULONG DomainLength;
    unsigned char *Password;
    ULONG PasswordLength;
    ULONG Flags;
} SEC_WINNT_AUTH_IDENTITY_A, *PSEC_WINNT_AUTH_IDENTITY_A;

/* The versioned form: Version SEC_WINNT_AUTH_IDENTITY_VERSION, Length
 * sizeof(SEC_WINNT_AUTH_IDENTITY_EXA), and a comma-separated PackageList
 * that restricts Negotiate (for example "!NTLM"). */
#define SEC_WINNT_AUTH_IDENTITY_VERSION 0x200
#define SEC_WINNT_AUTH_IDENTITY_MARSHALLED 0x4
#define SEC_WINNT_AUTH_IDENTITY_ONLY 0x8

typedef struct _SEC_WINNT_AUTH_IDENTITY_EXA {
    ULONG Version;
    ULONG Length;
    unsigned char *User;
    ULONG UserLength;
    unsigned char *Domain;
    ULONG DomainLength;
    unsigned char *Password;
    ULONG PasswordLength;
    ULONG Flags;
    unsigned char *PackageList;
    ULONG PackageListLength;
} SEC_WINNT_AUTH_IDENTITY_EXA, *PSEC_WINNT_AUTH_IDENTITY_EXA;

/* QueryCredentialsAttributesA attributes. */
#define SECPKG_CRED_ATTR_NAMES 1
#define SECPKG_CRED_ATTR_SSI_PROVIDER 2
#define SECPKG_CRED_ATTR_KDC_PROXY_SETTINGS 3
#define SECPKG_CRED_ATTR_CERT 4
#define SECPKG_CRED_ATTR_PAC_BYPASS 5

/* SECPKG_CRED_ATTR_NAMES: the credential's principal (UTF-8);
 * FreeContextBuffer(sUserName). */
typedef struct _SecPkgCredentials_NamesA {
    SEC_CHAR *sUserName;
} SecPkgCredentials_NamesA, *PSecPkgCredentials_NamesA;

/* The key callback of AcquireCredentialsHandleA.  Windows ignores it for
 * its own packages, and so does hsmssp: keys come from the token, never
 * from the caller.  Pass NULL. */
typedef void(SEC_ENTRY *SEC_GET_KEY_FN)(void *Arg, void *Principal,
                                        ULONG KeyVer, void **Key,
                                        SECURITY_STATUS *Status);

/* ---- 8. Context requirement and return flags ------------------------- */

/* fContextReq of InitializeSecurityContextA, and what the package grants
 * in *pfContextAttr (ISC_RET_*).  The flags from ISC_REQ_MESSAGES up are
 * wider than fContextReq and travel in a SECBUFFER_FLAGS buffer. */
#define ISC_REQ_DELEGATE 0x00000001
#define ISC_REQ_MUTUAL_AUTH 0x00000002
#define ISC_REQ_REPLAY_DETECT 0x00000004
#define ISC_REQ_SEQUENCE_DETECT 0x00000008
#define ISC_REQ_CONFIDENTIALITY 0x00000010
#define ISC_REQ_USE_SESSION_KEY 0x00000020
#define ISC_REQ_PROMPT_FOR_CREDS 0x00000040
#define ISC_REQ_USE_SUPPLIED_CREDS 0x00000080
#define ISC_REQ_ALLOCATE_MEMORY 0x00000100
#define ISC_REQ_USE_DCE_STYLE 0x00000200
#define ISC_REQ_DATAGRAM 0x00000400
#define ISC_REQ_CONNECTION 0x00000800
#define ISC_REQ_CALL_LEVEL 0x00001000
#define ISC_REQ_FRAGMENT_SUPPLIED 0x00002000
#define ISC_REQ_EXTENDED_ERROR 0x00004000
#define ISC_REQ_STREAM 0x00008000
#define ISC_REQ_INTEGRITY 0x00010000
#define ISC_REQ_IDENTIFY 0x00020000
#define ISC_REQ_NULL_SESSION 0x00040000
#define ISC_REQ_MANUAL_CRED_VALIDATION 0x00080000
#define ISC_REQ_RESERVED1 0x00100000
#define ISC_REQ_FRAGMENT_TO_FIT 0x00200000
#define ISC_REQ_FORWARD_CREDENTIALS 0x00400000
#define ISC_REQ_NO_INTEGRITY 0x00800000
#define ISC_REQ_USE_HTTP_STYLE 0x01000000
#define ISC_REQ_UNVERIFIED_TARGET_NAME 0x20000000
#define ISC_REQ_CONFIDENTIALITY_ONLY 0x40000000
#define ISC_REQ_MESSAGES 0x0000000100000000ULL
#define ISC_REQ_DEFERRED_CRED_VALIDATION 0x0000000200000000ULL
#define ISC_REQ_NO_POST_HANDSHAKE_AUTH 0x0000000400000000ULL
#define ISC_REQ_REUSE_SESSION_TICKETS 0x0000000800000000ULL
#define ISC_REQ_EXPLICIT_SESSION 0x0000001000000000ULL

#define ISC_RET_DELEGATE 0x00000001
#define ISC_RET_MUTUAL_AUTH 0x00000002
#define ISC_RET_REPLAY_DETECT 0x00000004
#define ISC_RET_SEQUENCE_DETECT 0x00000008
#define ISC_RET_CONFIDENTIALITY 0x00000010
#define ISC_RET_USE_SESSION_KEY 0x00000020
#define ISC_RET_USED_COLLECTED_CREDS 0x00000040
#define ISC_RET_USED_SUPPLIED_CREDS 0x00000080
#define ISC_RET_ALLOCATED_MEMORY 0x00000100
#define ISC_RET_USED_DCE_STYLE 0x00000200
#define ISC_RET_DATAGRAM 0x00000400
#define ISC_RET_CONNECTION 0x00000800
#define ISC_RET_INTERMEDIATE_RETURN 0x00001000
#define ISC_RET_CALL_LEVEL 0x00002000
#define ISC_RET_EXTENDED_ERROR 0x00004000
#define ISC_RET_STREAM 0x00008000
#define ISC_RET_INTEGRITY 0x00010000
#define ISC_RET_IDENTIFY 0x00020000
#define ISC_RET_NULL_SESSION 0x00040000
#define ISC_RET_MANUAL_CRED_VALIDATION 0x00080000
#define ISC_RET_RESERVED1 0x00100000
#define ISC_RET_FRAGMENT_ONLY 0x00200000
#define ISC_RET_FORWARD_CREDENTIALS 0x00400000
#define ISC_RET_USED_HTTP_STYLE 0x01000000
#define ISC_RET_NO_ADDITIONAL_TOKEN 0x02000000
#define ISC_RET_REAUTHENTICATION 0x08000000
#define ISC_RET_CONFIDENTIALITY_ONLY 0x40000000
#define ISC_RET_MESSAGES 0x0000000100000000ULL
#define ISC_RET_DEFERRED_CRED_VALIDATION 0x0000000200000000ULL
#define ISC_RET_NO_POST_HANDSHAKE_AUTH 0x0000000400000000ULL
#define ISC_RET_REUSE_SESSION_TICKETS 0x0000000800000000ULL
#define ISC_RET_EXPLICIT_SESSION 0x0000001000000000ULL

/* fContextReq of AcceptSecurityContext and its *pfContextAttr.  The low
 * bits agree with ISC_*, but from 0x40 on the two sets diverge (for
 * example ASC_REQ_EXTENDED_ERROR is 0x8000, ISC_REQ_EXTENDED_ERROR
 * 0x4000): never pass ISC_* flags to AcceptSecurityContext. */
#define ASC_REQ_DELEGATE 0x00000001
#define ASC_REQ_MUTUAL_AUTH 0x00000002
#define ASC_REQ_REPLAY_DETECT 0x00000004
#define ASC_REQ_SEQUENCE_DETECT 0x00000008
#define ASC_REQ_CONFIDENTIALITY 0x00000010
#define ASC_REQ_USE_SESSION_KEY 0x00000020
#define ASC_REQ_SESSION_TICKET 0x00000040
#define ASC_REQ_ALLOCATE_MEMORY 0x00000100
#define ASC_REQ_USE_DCE_STYLE 0x00000200
#define ASC_REQ_DATAGRAM 0x00000400
#define ASC_REQ_CONNECTION 0x00000800
#define ASC_REQ_CALL_LEVEL 0x00001000
#define ASC_REQ_FRAGMENT_SUPPLIED 0x00002000
#define ASC_REQ_EXTENDED_ERROR 0x00008000
#define ASC_REQ_STREAM 0x00010000
#define ASC_REQ_INTEGRITY 0x00020000
#define ASC_REQ_LICENSING 0x00040000
#define ASC_REQ_IDENTIFY 0x00080000
#define ASC_REQ_ALLOW_NULL_SESSION 0x00100000
#define ASC_REQ_ALLOW_NON_USER_LOGONS 0x00200000
#define ASC_REQ_ALLOW_CONTEXT_REPLAY 0x00400000
#define ASC_REQ_FRAGMENT_TO_FIT 0x00800000
#define ASC_REQ_NO_TOKEN 0x01000000
#define ASC_REQ_PROXY_BINDINGS 0x04000000
#define ASC_REQ_ALLOW_MISSING_BINDINGS 0x10000000
#define ASC_REQ_MESSAGES 0x0000000100000000ULL
#define ASC_REQ_EXPLICIT_SESSION 0x0000001000000000ULL

#define ASC_RET_DELEGATE 0x00000001
#define ASC_RET_MUTUAL_AUTH 0x00000002
#define ASC_RET_REPLAY_DETECT 0x00000004
#define ASC_RET_SEQUENCE_DETECT 0x00000008
#define ASC_RET_CONFIDENTIALITY 0x00000010
#define ASC_RET_USE_SESSION_KEY 0x00000020
#define ASC_RET_SESSION_TICKET 0x00000040
#define ASC_RET_ALLOCATED_MEMORY 0x00000100
#define ASC_RET_USED_DCE_STYLE 0x00000200
#define ASC_RET_DATAGRAM 0x00000400
#define ASC_RET_CONNECTION 0x00000800
#define ASC_RET_CALL_LEVEL 0x00002000
#define ASC_RET_THIRD_LEG_FAILED 0x00004000
#define ASC_RET_EXTENDED_ERROR 0x00008000
#define ASC_RET_STREAM 0x00010000
#define ASC_RET_INTEGRITY 0x00020000
#define ASC_RET_LICENSING 0x00040000
#define ASC_RET_IDENTIFY 0x00080000
#define ASC_RET_NULL_SESSION 0x00100000
#define ASC_RET_ALLOW_NON_USER_LOGONS 0x00200000
#define ASC_RET_ALLOW_CONTEXT_REPLAY 0x00400000
#define ASC_RET_FRAGMENT_ONLY 0x00800000
#define ASC_RET_NO_TOKEN 0x01000000
#define ASC_RET_NO_ADDITIONAL_TOKEN 0x02000000
#define ASC_RET_MESSAGES 0x0000000100000000ULL
#define ASC_RET_REUSE_SESSION_TICKETS 0x0000000800000000ULL
#define ASC_RET_EXPLICIT_SESSION 0x0000001000000000ULL

/* ---- 9. Data representation and quality of protection ---------------- */

/* TargetDataRep of InitializeSecurityContextA / AcceptSecurityContext.
 * Tokens are the same either way; pass SECURITY_NATIVE_DREP. */
#define SECURITY_NATIVE_DREP 0x00000010
#define SECURITY_NETWORK_DREP 0x00000000

/* fQOP of EncryptMessage (and *pfQOP of DecryptMessage): WRAP_NO_ENCRYPT
 * asks for an integrity-only wrap token (the DATA buffer stays plaintext
 * and is covered by the checksum); KERB_WRAP_NO_ENCRYPT is the Kerberos
 * package's name for the same value. */
#define SECQOP_WRAP_NO_ENCRYPT 0x80000001
#define SECQOP_WRAP_OOB_DATA 0x40000000
#define KERB_WRAP_NO_ENCRYPT 0x80000001

/* ---- 10. Context attributes ------------------------------------------ */

/* ulAttribute of QueryContextAttributesA / SetContextAttributesA.  The
 * structure each one fills follows; strings and arrays inside it are
 * allocated by hsmssp and released with FreeContextBuffer. */
#define SECPKG_ATTR_SIZES 0
#define SECPKG_ATTR_NAMES 1
#define SECPKG_ATTR_LIFESPAN 2
#define SECPKG_ATTR_DCE_INFO 3
#define SECPKG_ATTR_STREAM_SIZES 4
#define SECPKG_ATTR_KEY_INFO 5
#define SECPKG_ATTR_AUTHORITY 6
#define SECPKG_ATTR_PROTO_INFO 7
#define SECPKG_ATTR_PASSWORD_EXPIRY 8
#define SECPKG_ATTR_SESSION_KEY 9
#define SECPKG_ATTR_PACKAGE_INFO 10
#define SECPKG_ATTR_USER_FLAGS 11
#define SECPKG_ATTR_NEGOTIATION_INFO 12
#define SECPKG_ATTR_NATIVE_NAMES 13
#define SECPKG_ATTR_FLAGS 14
#define SECPKG_ATTR_USE_VALIDATED 15
#define SECPKG_ATTR_CREDENTIAL_NAME 16
#define SECPKG_ATTR_TARGET_INFORMATION 17
#define SECPKG_ATTR_ACCESS_TOKEN 18
#define SECPKG_ATTR_TARGET 19
#define SECPKG_ATTR_AUTHENTICATION_ID 20
#define SECPKG_ATTR_LOGOFF_TIME 21
#define SECPKG_ATTR_NEGO_KEYS 22
#define SECPKG_ATTR_PROMPTING_NEEDED 24
#define SECPKG_ATTR_UNIQUE_BINDINGS 25
#define SECPKG_ATTR_ENDPOINT_BINDINGS 26
#define SECPKG_ATTR_CLIENT_SPECIFIED_TARGET 27
#define SECPKG_ATTR_LAST_CLIENT_TOKEN_STATUS 30
#define SECPKG_ATTR_NEGO_PKG_INFO 31
#define SECPKG_ATTR_NEGO_STATUS 32
#define SECPKG_ATTR_CONTEXT_DELETED 33
#define SECPKG_ATTR_DTLS_MTU 34
#define SECPKG_ATTR_DATAGRAM_SIZES SECPKG_ATTR_STREAM_SIZES
#define SECPKG_ATTR_APPLICATION_PROTOCOL 35
#define SECPKG_ATTR_NEGOTIATED_TLS_EXTENSIONS 36
#define SECPKG_ATTR_IS_LOOPBACK 37
#define SECPKG_ATTR_SUBJECT_SECURITY_ATTRIBUTES 128

/* SECPKG_ATTR_SIZES: what a caller must allocate around messages.
 * cbMaxSignature is the TOKEN size for MakeSignature, cbSecurityTrailer
 * the TOKEN size for EncryptMessage, cbBlockSize the PADDING size. */
typedef struct _SecPkgContext_Sizes {
    ULONG cbMaxToken;
    ULONG cbMaxSignature;
    ULONG cbBlockSize;
    ULONG cbSecurityTrailer;
} SecPkgContext_Sizes, *PSecPkgContext_Sizes;

/* SECPKG_ATTR_STREAM_SIZES (and SECPKG_ATTR_DATAGRAM_SIZES). */
typedef struct _SecPkgContext_StreamSizes {
    ULONG cbHeader;
    ULONG cbTrailer;
    ULONG cbMaximumMessage;
    ULONG cBuffers;
    ULONG cbBlockSize;
} SecPkgContext_StreamSizes, *PSecPkgContext_StreamSizes;

typedef SecPkgContext_StreamSizes SecPkgContext_DatagramSizes;
typedef PSecPkgContext_StreamSizes PSecPkgContext_DatagramSizes;

/* SECPKG_ATTR_NAMES: the client's name (user@REALM, or DOMAIN\user for
 * NTLM); FreeContextBuffer(sUserName). */
typedef struct _SecPkgContext_NamesA {
    SEC_CHAR *sUserName;
} SecPkgContext_NamesA, *PSecPkgContext_NamesA;

/* SECPKG_ATTR_NATIVE_NAMES: both principals in the package's own syntax;
 * FreeContextBuffer each string. */
typedef struct _SecPkgContext_NativeNamesA {
    SEC_CHAR *sClientName;
    SEC_CHAR *sServerName;
} SecPkgContext_NativeNamesA, *PSecPkgContext_NativeNamesA;

/* SECPKG_ATTR_LIFESPAN: validity of the context (for Kerberos, of the
 * ticket), UTC. */
typedef struct _SecPkgContext_Lifespan {
    TimeStamp tsStart;
    TimeStamp tsExpiry;
} SecPkgContext_Lifespan, *PSecPkgContext_Lifespan;

/* SECPKG_ATTR_DCE_INFO: authorization service and its data. */
typedef struct _SecPkgContext_DceInfo {
    ULONG AuthzSvc;
    void *pPac;
} SecPkgContext_DceInfo, *PSecPkgContext_DceInfo;

/* SECPKG_ATTR_KEY_INFO: the algorithms protecting messages.  For Kerberos,
 * SignatureAlgorithm is a checksum type and EncryptAlgorithm an
 * encryption type (section 11); KeySize is in bits.  FreeContextBuffer
 * both names. */
typedef struct _SecPkgContext_KeyInfoA {
    SEC_CHAR *sSignatureAlgorithmName;
    SEC_CHAR *sEncryptAlgorithmName;
    ULONG KeySize;
    ULONG SignatureAlgorithm;
    ULONG EncryptAlgorithm;
} SecPkgContext_KeyInfoA, *PSecPkgContext_KeyInfoA;

/* SECPKG_ATTR_AUTHORITY: the realm or domain that authenticated the
 * client; FreeContextBuffer(sAuthorityName). */
typedef struct _SecPkgContext_AuthorityA {
    SEC_CHAR *sAuthorityName;
} SecPkgContext_AuthorityA, *PSecPkgContext_AuthorityA;

/* SECPKG_ATTR_PROTO_INFO: protocol name and version;
 * FreeContextBuffer(sProtocolName). */
typedef struct _SecPkgContext_ProtoInfoA {
    SEC_CHAR *sProtocolName;
    ULONG majorVersion;
    ULONG minorVersion;
} SecPkgContext_ProtoInfoA, *PSecPkgContext_ProtoInfoA;

/* SECPKG_ATTR_PASSWORD_EXPIRY. */
typedef struct _SecPkgContext_PasswordExpiry {
    TimeStamp tsPasswordExpires;
} SecPkgContext_PasswordExpiry, *PSecPkgContext_PasswordExpiry;

/* SECPKG_ATTR_LOGOFF_TIME. */
typedef struct _SecPkgContext_LogoffTime {
    TimeStamp tsLogoffTime;
} SecPkgContext_LogoffTime, *PSecPkgContext_LogoffTime;

/* SECPKG_ATTR_SESSION_KEY: on Windows, the session key bytes.  hsmssp
 * keeps session keys on the token and answers this attribute with
 * SEC_E_UNSUPPORTED_FUNCTION; the structure is here so code that asks
 * still compiles. */
typedef struct _SecPkgContext_SessionKey {
    ULONG SessionKeyLength;
    unsigned char *SessionKey;
} SecPkgContext_SessionKey, *PSecPkgContext_SessionKey;

/* SECPKG_ATTR_PACKAGE_INFO: the package of the context (for Negotiate,
 * the negotiated one); FreeContextBuffer(PackageInfo). */
typedef struct _SecPkgContext_PackageInfoA {
    PSecPkgInfoA PackageInfo;
} SecPkgContext_PackageInfoA, *PSecPkgContext_PackageInfoA;

/* SECPKG_ATTR_USER_FLAGS. */
typedef struct _SecPkgContext_UserFlags {
    ULONG UserFlags;
} SecPkgContext_UserFlags, *PSecPkgContext_UserFlags;

/* SECPKG_ATTR_FLAGS: the ISC_RET_* / ASC_RET_* flags of the context. */
typedef struct _SecPkgContext_Flags {
    ULONG Flags;
} SecPkgContext_Flags, *PSecPkgContext_Flags;

/* SECPKG_ATTR_NEGOTIATION_INFO: the package Negotiate chose and how far
 * negotiation is (SECPKG_NEGOTIATION_*); FreeContextBuffer(PackageInfo). */
typedef struct _SecPkgContext_NegotiationInfoA {
    PSecPkgInfoA PackageInfo;
    ULONG NegotiationState;
} SecPkgContext_NegotiationInfoA, *PSecPkgContext_NegotiationInfoA;

#define SECPKG_NEGOTIATION_COMPLETE 0
#define SECPKG_NEGOTIATION_OPTIMISTIC 1
#define SECPKG_NEGOTIATION_IN_PROGRESS 2
#define SECPKG_NEGOTIATION_DIRECT 3
#define SECPKG_NEGOTIATION_TRY_MULTICRED 4

/* SECPKG_ATTR_NEGO_PKG_INFO: which packages Negotiate ruled out. */
#define SECPKG_ATTR_NEGO_INFO_FLAG_NO_KERBEROS 0x1
#define SECPKG_ATTR_NEGO_INFO_FLAG_NO_NTLM 0x2

typedef struct _SecPkgContext_NegoPackageInfo {
    ULONG PackageMask;
} SecPkgContext_NegoPackageInfo, *PSecPkgContext_NegoPackageInfo;

/* SECPKG_ATTR_NEGO_STATUS: the last status of the negotiated package. */
typedef struct _SecPkgContext_NegoStatus {
    ULONG LastStatus;
} SecPkgContext_NegoStatus, *PSecPkgContext_NegoStatus;

/* SECPKG_ATTR_CREDENTIAL_NAME: the name of the credential used;
 * FreeContextBuffer(sCredentialName). */
typedef struct _SecPkgContext_CredentialNameA {
    ULONG CredentialType;
    SEC_CHAR *sCredentialName;
} SecPkgContext_CredentialNameA, *PSecPkgContext_CredentialNameA;

/* SECPKG_ATTR_ACCESS_TOKEN: on Windows the client's access token. */
typedef struct _SecPkgContext_AccessToken {
    void *AccessToken;
} SecPkgContext_AccessToken, *PSecPkgContext_AccessToken;

/* SECPKG_ATTR_TARGET_INFORMATION: the marshalled target (service)
 * information; FreeContextBuffer(MarshalledTargetInfo). */
typedef struct _SecPkgContext_TargetInformation {
    ULONG MarshalledTargetInfoLength;
    unsigned char *MarshalledTargetInfo;
} SecPkgContext_TargetInformation, *PSecPkgContext_TargetInformation;

/* SECPKG_ATTR_UNIQUE_BINDINGS / SECPKG_ATTR_ENDPOINT_BINDINGS (queried on
 * a TLS context): BindingsLength bytes at Bindings, ready to be passed as
 * a SECBUFFER_CHANNEL_BINDINGS buffer. */
typedef struct _SecPkgContext_Bindings {
    ULONG BindingsLength;
    SEC_CHANNEL_BINDINGS *Bindings;
} SecPkgContext_Bindings, *PSecPkgContext_Bindings;

/* SECPKG_ATTR_LAST_CLIENT_TOKEN_STATUS: whether the last token the client
 * produced is the last of the handshake. */
typedef enum _SECPKG_ATTR_LCT_STATUS {
    SecPkgAttrLastClientTokenYes,
    SecPkgAttrLastClientTokenNo,
    SecPkgAttrLastClientTokenMaybe
} SECPKG_ATTR_LCT_STATUS, *PSECPKG_ATTR_LCT_STATUS;

typedef struct _SecPkgContext_LastClientTokenStatus {
    SECPKG_ATTR_LCT_STATUS LastClientTokenStatus;
} SecPkgContext_LastClientTokenStatus, *PSecPkgContext_LastClientTokenStatus;

/* ---- 11. Kerberos algorithm numbers ---------------------------------- */

/* Windows' names (ntsecapi.h) for the numbers SecPkgContext_KeyInfoA
 * reports for Kerberos: encryption types (RFC 3961 registry; negative
 * numbers are Microsoft-private) and checksum types.  Stored in a ULONG,
 * a negative number reads as its two's complement. */
#define KERB_ETYPE_NULL 0
#define KERB_ETYPE_DES_CBC_CRC 1
#define KERB_ETYPE_DES_CBC_MD4 2
#define KERB_ETYPE_DES_CBC_MD5 3
#define KERB_ETYPE_DES3_CBC_MD5 5
#define KERB_ETYPE_DES3_CBC_SHA1 7
#define KERB_ETYPE_DES3_CBC_SHA1_KD 16
#define KERB_ETYPE_AES128_CTS_HMAC_SHA1_96 17
#define KERB_ETYPE_AES256_CTS_HMAC_SHA1_96 18
#define KERB_ETYPE_DES_CBC_MD5_NT 20
#define KERB_ETYPE_RC4_HMAC_NT 23
#define KERB_ETYPE_RC4_HMAC_NT_EXP 24
#define KERB_ETYPE_RC4_MD4 -128
#define KERB_ETYPE_RC4_PLAIN2 -129
#define KERB_ETYPE_RC4_LM -130
#define KERB_ETYPE_RC4_SHA -131
#define KERB_ETYPE_DES_PLAIN -132
#define KERB_ETYPE_RC4_HMAC_OLD -133
#define KERB_ETYPE_RC4_PLAIN_OLD -134
#define KERB_ETYPE_RC4_HMAC_OLD_EXP -135
#define KERB_ETYPE_RC4_PLAIN_OLD_EXP -136
#define KERB_ETYPE_RC4_PLAIN -140
#define KERB_ETYPE_RC4_PLAIN_EXP -141
#define KERB_ETYPE_AES128_CTS_HMAC_SHA1_96_PLAIN -148
#define KERB_ETYPE_AES256_CTS_HMAC_SHA1_96_PLAIN -149

#define KERB_CHECKSUM_NONE 0
#define KERB_CHECKSUM_CRC32 1
#define KERB_CHECKSUM_MD4 2
#define KERB_CHECKSUM_KRB_DES_MAC 4
#define KERB_CHECKSUM_KRB_DES_MAC_K 5
#define KERB_CHECKSUM_MD5 7
#define KERB_CHECKSUM_MD5_DES 8
#define KERB_CHECKSUM_SHA1_NEW 14
#define KERB_CHECKSUM_HMAC_SHA1_96_AES128 15
#define KERB_CHECKSUM_HMAC_SHA1_96_AES256 16
#define KERB_CHECKSUM_LM -130
#define KERB_CHECKSUM_SHA1 -131
#define KERB_CHECKSUM_REAL_CRC32 -132
#define KERB_CHECKSUM_DES_MAC -133
#define KERB_CHECKSUM_DES_MAC_MD5 -134
#define KERB_CHECKSUM_MD25 -135
#define KERB_CHECKSUM_RC4_MD5 -136
#define KERB_CHECKSUM_MD5_HMAC -137
#define KERB_CHECKSUM_HMAC_MD5 -138
#define KERB_CHECKSUM_HMAC_SHA1_96_AES128_Ki -150
#define KERB_CHECKSUM_HMAC_SHA1_96_AES256_Ki -151

/* ---- 12. Context export flags ---------------------------------------- */

/* fFlags of ExportSecurityContext.  hsmssp never puts key material in an
 * exported context. */
#define SECPKG_CONTEXT_EXPORT_RESET_NEW 0x00000001
#define SECPKG_CONTEXT_EXPORT_DELETE_OLD 0x00000002
#define SECPKG_CONTEXT_EXPORT_TO_KERNEL 0x00000004

/* ---- 13. Function pointer types -------------------------------------- */

/* One type per slot of SecurityFunctionTableA, with the Windows names.
 * The functions are described in section 15. */
typedef SECURITY_STATUS(SEC_ENTRY *ENUMERATE_SECURITY_PACKAGES_FN_A)(
    ULONG *, PSecPkgInfoA *);
typedef SECURITY_STATUS(SEC_ENTRY *QUERY_CREDENTIALS_ATTRIBUTES_FN_A)(
    PCredHandle, ULONG, void *);
typedef SECURITY_STATUS(SEC_ENTRY *ACQUIRE_CREDENTIALS_HANDLE_FN_A)(
    SEC_CHAR *, SEC_CHAR *, ULONG, void *, void *, SEC_GET_KEY_FN, void *,
    PCredHandle, PTimeStamp);
typedef SECURITY_STATUS(SEC_ENTRY *FREE_CREDENTIALS_HANDLE_FN)(PCredHandle);
typedef SECURITY_STATUS(SEC_ENTRY *INITIALIZE_SECURITY_CONTEXT_FN_A)(
    PCredHandle, PCtxtHandle, SEC_CHAR *, ULONG, ULONG, ULONG,
    PSecBufferDesc, ULONG, PCtxtHandle, PSecBufferDesc, ULONG *,
    PTimeStamp);
typedef SECURITY_STATUS(SEC_ENTRY *ACCEPT_SECURITY_CONTEXT_FN)(
    PCredHandle, PCtxtHandle, PSecBufferDesc, ULONG, ULONG, PCtxtHandle,
    PSecBufferDesc, ULONG *, PTimeStamp);
typedef SECURITY_STATUS(SEC_ENTRY *COMPLETE_AUTH_TOKEN_FN)(PCtxtHandle,
                                                           PSecBufferDesc);
typedef SECURITY_STATUS(SEC_ENTRY *DELETE_SECURITY_CONTEXT_FN)(PCtxtHandle);
typedef SECURITY_STATUS(SEC_ENTRY *APPLY_CONTROL_TOKEN_FN)(PCtxtHandle,
                                                           PSecBufferDesc);
typedef SECURITY_STATUS(SEC_ENTRY *QUERY_CONTEXT_ATTRIBUTES_FN_A)(
    PCtxtHandle, ULONG, void *);
typedef SECURITY_STATUS(SEC_ENTRY *IMPERSONATE_SECURITY_CONTEXT_FN)(
    PCtxtHandle);
typedef SECURITY_STATUS(SEC_ENTRY *REVERT_SECURITY_CONTEXT_FN)(PCtxtHandle);
typedef SECURITY_STATUS(SEC_ENTRY *MAKE_SIGNATURE_FN)(PCtxtHandle, ULONG,
                                                      PSecBufferDesc, ULONG);
typedef SECURITY_STATUS(SEC_ENTRY *VERIFY_SIGNATURE_FN)(PCtxtHandle,
                                                        PSecBufferDesc,
                                                        ULONG, ULONG *);
typedef SECURITY_STATUS(SEC_ENTRY *FREE_CONTEXT_BUFFER_FN)(PVOID);
typedef SECURITY_STATUS(SEC_ENTRY *QUERY_SECURITY_PACKAGE_INFO_FN_A)(
    SEC_CHAR *, PSecPkgInfoA *);
typedef SECURITY_STATUS(SEC_ENTRY *EXPORT_SECURITY_CONTEXT_FN)(
    PCtxtHandle, ULONG, PSecBuffer, void **);
typedef SECURITY_STATUS(SEC_ENTRY *IMPORT_SECURITY_CONTEXT_FN_A)(
    SEC_CHAR *, PSecBuffer, void *, PCtxtHandle);
typedef SECURITY_STATUS(SEC_ENTRY *ADD_CREDENTIALS_FN_A)(
    PCredHandle, SEC_CHAR *, SEC_CHAR *, ULONG, void *, SEC_GET_KEY_FN,
    void *, PTimeStamp);
typedef SECURITY_STATUS(SEC_ENTRY *QUERY_SECURITY_CONTEXT_TOKEN_FN)(
    PCtxtHandle, void **);
typedef SECURITY_STATUS(SEC_ENTRY *ENCRYPT_MESSAGE_FN)(PCtxtHandle, ULONG,
                                                       PSecBufferDesc,
                                                       ULONG);
typedef SECURITY_STATUS(SEC_ENTRY *DECRYPT_MESSAGE_FN)(PCtxtHandle,
                                                       PSecBufferDesc, ULONG,
                                                       ULONG *);
typedef SECURITY_STATUS(SEC_ENTRY *SET_CONTEXT_ATTRIBUTES_FN_A)(
    PCtxtHandle, ULONG, void *, ULONG);
typedef SECURITY_STATUS(SEC_ENTRY *SET_CREDENTIALS_ATTRIBUTES_FN_A)(
    PCredHandle, ULONG, void *, ULONG);
typedef SECURITY_STATUS(SEC_ENTRY *CHANGE_PASSWORD_FN_A)(
    SEC_CHAR *, SEC_CHAR *, SEC_CHAR *, SEC_CHAR *, SEC_CHAR *, BOOLEAN,
    ULONG, PSecBufferDesc);
typedef SECURITY_STATUS(SEC_ENTRY *QUERY_CONTEXT_ATTRIBUTES_EX_FN_A)(
    PCtxtHandle, ULONG, void *, ULONG);
typedef SECURITY_STATUS(SEC_ENTRY *QUERY_CREDENTIALS_ATTRIBUTES_EX_FN_A)(
    PCredHandle, ULONG, void *, ULONG);

/* ---- 14. The function table and the entry point ---------------------- */

/* Interface versions, for dwVersion of SecurityFunctionTableA. */
#define SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION 1
#define SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION_2 2
#define SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION_3 3
#define SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION_4 4
#define SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION_5 5

/* The table InitSecurityInterfaceA returns: every SSPI function in the
 * Windows order, so that code which walks it or takes it from a loaded
 * library (dlsym(h, SECURITY_ENTRYPOINT)) finds each function where
 * Windows puts it.  A NULL slot is a function hsmssp does not provide.
 *
 * Windows names the fifth slot FreeCredentialHandle in the A table and
 * maps that name onto FreeCredentialsHandle with a macro; both spellings
 * work here too.  The slot after SetCredentialsAttributesA is
 * ChangeAccountPasswordA in user-mode Windows and Reserved9 in kernel
 * mode; it is one slot, reachable by either name. */
#define FreeCredentialHandle FreeCredentialsHandle

typedef struct _SECURITY_FUNCTION_TABLE_A {
    ULONG dwVersion;
    ENUMERATE_SECURITY_PACKAGES_FN_A EnumerateSecurityPackagesA;
    QUERY_CREDENTIALS_ATTRIBUTES_FN_A QueryCredentialsAttributesA;
    ACQUIRE_CREDENTIALS_HANDLE_FN_A AcquireCredentialsHandleA;
    FREE_CREDENTIALS_HANDLE_FN FreeCredentialsHandle;
    void *Reserved2;
    INITIALIZE_SECURITY_CONTEXT_FN_A InitializeSecurityContextA;
    ACCEPT_SECURITY_CONTEXT_FN AcceptSecurityContext;
    COMPLETE_AUTH_TOKEN_FN CompleteAuthToken;
    DELETE_SECURITY_CONTEXT_FN DeleteSecurityContext;
    APPLY_CONTROL_TOKEN_FN ApplyControlToken;
    QUERY_CONTEXT_ATTRIBUTES_FN_A QueryContextAttributesA;
    IMPERSONATE_SECURITY_CONTEXT_FN ImpersonateSecurityContext;
    REVERT_SECURITY_CONTEXT_FN RevertSecurityContext;
    MAKE_SIGNATURE_FN MakeSignature;
    VERIFY_SIGNATURE_FN VerifySignature;
    FREE_CONTEXT_BUFFER_FN FreeContextBuffer;
    QUERY_SECURITY_PACKAGE_INFO_FN_A QuerySecurityPackageInfoA;
    void *Reserved3;
    void *Reserved4;
    EXPORT_SECURITY_CONTEXT_FN ExportSecurityContext;
    IMPORT_SECURITY_CONTEXT_FN_A ImportSecurityContextA;
    ADD_CREDENTIALS_FN_A AddCredentialsA;
    void *Reserved8;
    QUERY_SECURITY_CONTEXT_TOKEN_FN QuerySecurityContextToken;
    ENCRYPT_MESSAGE_FN EncryptMessage;
    DECRYPT_MESSAGE_FN DecryptMessage;
    SET_CONTEXT_ATTRIBUTES_FN_A SetContextAttributesA;
    SET_CREDENTIALS_ATTRIBUTES_FN_A SetCredentialsAttributesA;
    union {
        CHANGE_PASSWORD_FN_A ChangeAccountPasswordA;
        void *Reserved9;
    };
    QUERY_CONTEXT_ATTRIBUTES_EX_FN_A QueryContextAttributesExA;
    QUERY_CREDENTIALS_ATTRIBUTES_EX_FN_A QueryCredentialsAttributesExA;
} SecurityFunctionTableA, *PSecurityFunctionTableA;

typedef PSecurityFunctionTableA(SEC_ENTRY *INIT_SECURITY_INTERFACE_A)(void);

/* The entry point's symbol name, for dlsym(). */
#define SECURITY_ENTRYPOINT_ANSIA "InitSecurityInterfaceA"
#define SECURITY_ENTRYPOINTA SEC_TEXT("InitSecurityInterfaceA")
#define SECURITY_ENTRYPOINT SECURITY_ENTRYPOINTA
#define SECURITY_ENTRYPOINT_ANSI SECURITY_ENTRYPOINT_ANSIA

/* ---- 15. Functions --------------------------------------------------- */

/* The function table (section 14).  Static storage, valid for the life
 * of the process; the caller must not modify or free it.  Never NULL. */
HSMSSP_API PSecurityFunctionTableA SEC_ENTRY InitSecurityInterfaceA(void);

/* Lists the packages: *pcPackages entries at *ppPackageInfo, one
 * allocation; FreeContextBuffer(*ppPackageInfo). */
HSMSSP_API SECURITY_STATUS SEC_ENTRY
EnumerateSecurityPackagesA(ULONG *pcPackages, PSecPkgInfoA *ppPackageInfo);

/* Describes one package by name ("Kerberos", "NTLM", "Negotiate");
 * SEC_E_SECPKG_NOT_FOUND for another name.
 * FreeContextBuffer(*ppPackageInfo). */
HSMSSP_API SECURITY_STATUS SEC_ENTRY
QuerySecurityPackageInfoA(LPSTR pszPackageName, PSecPkgInfoA *ppPackageInfo);

/* Opens a credential of package pszPackage for fCredentialUse
 * (SECPKG_CRED_INBOUND / OUTBOUND / BOTH).  pszPrincipal names it (NULL:
 * the default one), pAuthData may carry explicit credentials
 * (SEC_WINNT_AUTH_IDENTITY_A or _EXA); pvLogonId, pGetKeyFn and
 * pvGetKeyArgument have no use here: pass NULL.  On success *phCredential
 * is a new handle
 * for FreeCredentialsHandle and *ptsExpiry (if not NULL) the credential's
 * expiry, UTC. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY AcquireCredentialsHandleA(
    LPSTR pszPrincipal, LPSTR pszPackage, ULONG fCredentialUse,
    void *pvLogonId, void *pAuthData, SEC_GET_KEY_FN pGetKeyFn,
    void *pvGetKeyArgument, PCredHandle phCredential, PTimeStamp ptsExpiry);

/* Releases a credential handle.  As on Windows, contexts made with it
 * keep working until they are deleted. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY
FreeCredentialsHandle(PCredHandle phCredential);

/* Reads attribute ulAttribute (SECPKG_CRED_ATTR_*) of a credential into
 * the structure at pBuffer; strings in it are for FreeContextBuffer. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY QueryCredentialsAttributesA(
    PCredHandle phCredential, ULONG ulAttribute, void *pBuffer);

/* Client side of the handshake.  First call: phContext NULL (or an
 * invalidated handle), pInput NULL or holding only channel bindings;
 * later calls: phContext the context and pInput the server's token.
 * pszTargetName is the service principal ("HTTP/host.example.com", or
 * "HTTP/host.example.com@REALM").  Writes the next token into the TOKEN
 * buffer of pOutput (allocated, for FreeContextBuffer, with
 * ISC_REQ_ALLOCATE_MEMORY).  Returns SEC_I_CONTINUE_NEEDED while tokens
 * remain to be exchanged, SEC_E_OK when the context is complete (a final
 * token in pOutput, if cbBuffer > 0, must still be sent).  *pfContextAttr
 * receives the ISC_RET_* flags granted, *ptsExpiry the context expiry.
 * Reserved1 and Reserved2 must be 0. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY InitializeSecurityContextA(
    PCredHandle phCredential, PCtxtHandle phContext, SEC_CHAR *pszTargetName,
    ULONG fContextReq, ULONG Reserved1, ULONG TargetDataRep,
    PSecBufferDesc pInput, ULONG Reserved2, PCtxtHandle phNewContext,
    PSecBufferDesc pOutput, ULONG *pfContextAttr, PTimeStamp ptsExpiry);

/* Server side of the handshake: consumes the client's token from the
 * TOKEN buffer of pInput (plus an optional SECBUFFER_CHANNEL_BINDINGS
 * buffer) and writes any reply into pOutput, as for
 * InitializeSecurityContextA.  fContextReq takes ASC_REQ_* flags and
 * *pfContextAttr receives ASC_RET_* flags. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY AcceptSecurityContext(
    PCredHandle phCredential, PCtxtHandle phContext, PSecBufferDesc pInput,
    ULONG fContextReq, ULONG TargetDataRep, PCtxtHandle phNewContext,
    PSecBufferDesc pOutput, ULONG *pfContextAttr, PTimeStamp ptsExpiry);

/* Finishes a token after SEC_I_COMPLETE_NEEDED or
 * SEC_I_COMPLETE_AND_CONTINUE (DCE-style packages). */
HSMSSP_API SECURITY_STATUS SEC_ENTRY CompleteAuthToken(PCtxtHandle phContext,
                                                       PSecBufferDesc pToken);

/* Deletes a context and everything it holds, on the token too. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY
DeleteSecurityContext(PCtxtHandle phContext);

/* Applies a control token (for example an SSL/TLS shutdown) to a
 * context. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY
ApplyControlToken(PCtxtHandle phContext, PSecBufferDesc pInput);

/* Reads attribute ulAttribute (SECPKG_ATTR_*) of a context into the
 * structure at pBuffer (section 10). */
HSMSSP_API SECURITY_STATUS SEC_ENTRY QueryContextAttributesA(
    PCtxtHandle phContext, ULONG ulAttribute, void *pBuffer);

/* Sets attribute ulAttribute of a context from cbBuffer bytes at
 * pBuffer. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY
SetContextAttributesA(PCtxtHandle phContext, ULONG ulAttribute,
                      void *pBuffer, ULONG cbBuffer);

/* Server: makes the calling thread act as the authenticated client, and
 * back.  SEC_E_NO_IMPERSONATION where the client cannot be mapped to a
 * local account or the process may not switch identity. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY
ImpersonateSecurityContext(PCtxtHandle phContext);
HSMSSP_API SECURITY_STATUS SEC_ENTRY
RevertSecurityContext(PCtxtHandle phContext);

/* Computes a signature (MIC) over the DATA buffers of pMessage and writes
 * it into its TOKEN buffer (cbMaxSignature bytes from SECPKG_ATTR_SIZES;
 * cbBuffer may shrink to the size used).  fQOP 0; MessageSeqNo 0 for
 * connection-oriented contexts. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY MakeSignature(PCtxtHandle phContext,
                                                   ULONG fQOP,
                                                   PSecBufferDesc pMessage,
                                                   ULONG MessageSeqNo);

/* Checks the signature in the TOKEN buffer against the DATA buffers:
 * SEC_E_OK, or SEC_E_MESSAGE_ALTERED, SEC_E_OUT_OF_SEQUENCE ...
 * *pfQOP (if not NULL) receives the QOP used. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY VerifySignature(PCtxtHandle phContext,
                                                     PSecBufferDesc pMessage,
                                                     ULONG MessageSeqNo,
                                                     ULONG *pfQOP);

/* Seals the DATA buffers of pMessage in place.  Kerberos takes TOKEN
 * (cbSecurityTrailer bytes) + DATA + PADDING (cbBlockSize bytes); NTLM
 * takes TOKEN + DATA.  cbBuffer of TOKEN and PADDING is set to the bytes
 * used; the caller sends them with the data.  fQOP 0 or
 * SECQOP_WRAP_NO_ENCRYPT. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY EncryptMessage(PCtxtHandle phContext,
                                                    ULONG fQOP,
                                                    PSecBufferDesc pMessage,
                                                    ULONG MessageSeqNo);

/* Opens a sealed message in place: either TOKEN + DATA as produced by
 * EncryptMessage, or STREAM (the whole received message) + an empty DATA
 * buffer, which on return points at the plaintext inside STREAM.
 * SEC_E_MESSAGE_ALTERED when the integrity check fails; *pfQOP (if not
 * NULL) receives the QOP used, SECQOP_WRAP_NO_ENCRYPT for a message that
 * was not encrypted. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY DecryptMessage(PCtxtHandle phContext,
                                                    PSecBufferDesc pMessage,
                                                    ULONG MessageSeqNo,
                                                    ULONG *pfQOP);

/* Releases a buffer hsmssp allocated for the caller; NULL is accepted. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY FreeContextBuffer(PVOID pvContextBuffer);

/* Serializes a context into *pPackedContext (pvBuffer for
 * FreeContextBuffer) for ImportSecurityContextA in another process;
 * *pToken receives NULL.  The blob never carries key material. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY
ExportSecurityContext(PCtxtHandle phContext, ULONG fFlags,
                      PSecBuffer pPackedContext, void **pToken);

/* Rebuilds a context of package pszPackage from an exported blob;
 * *phContext is a new handle for DeleteSecurityContext. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY
ImportSecurityContextA(LPSTR pszPackage, PSecBuffer pPackedContext,
                       void *Token, PCtxtHandle phContext);

/* On Windows, the client's access token.  Linux has no such object. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY
QuerySecurityContextToken(PCtxtHandle phContext, void **Token);

/* ---- 16. Generic (unsuffixed) names ---------------------------------- */

/* Without UNICODE, Windows maps each generic name to its A form. */
#define SecPkgInfo SecPkgInfoA
#define PSecPkgInfo PSecPkgInfoA
#define SecPkgCredentials_Names SecPkgCredentials_NamesA
#define PSecPkgCredentials_Names PSecPkgCredentials_NamesA
#define SecPkgContext_Names SecPkgContext_NamesA
#define PSecPkgContext_Names PSecPkgContext_NamesA
#define SecPkgContext_NativeNames SecPkgContext_NativeNamesA
#define PSecPkgContext_NativeNames PSecPkgContext_NativeNamesA
#define SecPkgContext_KeyInfo SecPkgContext_KeyInfoA
#define PSecPkgContext_KeyInfo PSecPkgContext_KeyInfoA
#define SecPkgContext_Authority SecPkgContext_AuthorityA
#define PSecPkgContext_Authority PSecPkgContext_AuthorityA
#define SecPkgContext_ProtoInfo SecPkgContext_ProtoInfoA
#define PSecPkgContext_ProtoInfo PSecPkgContext_ProtoInfoA
#define SecPkgContext_PackageInfo SecPkgContext_PackageInfoA
#define PSecPkgContext_PackageInfo PSecPkgContext_PackageInfoA
#define SecPkgContext_NegotiationInfo SecPkgContext_NegotiationInfoA
#define PSecPkgContext_NegotiationInfo PSecPkgContext_NegotiationInfoA
#define SecPkgContext_CredentialName SecPkgContext_CredentialNameA
#define PSecPkgContext_CredentialName PSecPkgContext_CredentialNameA
#define SEC_WINNT_AUTH_IDENTITY SEC_WINNT_AUTH_IDENTITY_A
#define PSEC_WINNT_AUTH_IDENTITY PSEC_WINNT_AUTH_IDENTITY_A
#define SEC_WINNT_AUTH_IDENTITY_EX SEC_WINNT_AUTH_IDENTITY_EXA
#define PSEC_WINNT_AUTH_IDENTITY_EX PSEC_WINNT_AUTH_IDENTITY_EXA
#define SecurityFunctionTable SecurityFunctionTableA
#define PSecurityFunctionTable PSecurityFunctionTableA

#define ENUMERATE_SECURITY_PACKAGES_FN ENUMERATE_SECURITY_PACKAGES_FN_A
#define QUERY_CREDENTIALS_ATTRIBUTES_FN QUERY_CREDENTIALS_ATTRIBUTES_FN_A
#define ACQUIRE_CREDENTIALS_HANDLE_FN ACQUIRE_CREDENTIALS_HANDLE_FN_A
#define INITIALIZE_SECURITY_CONTEXT_FN INITIALIZE_SECURITY_CONTEXT_FN_A
#define QUERY_CONTEXT_ATTRIBUTES_FN QUERY_CONTEXT_ATTRIBUTES_FN_A
#define QUERY_SECURITY_PACKAGE_INFO_FN QUERY_SECURITY_PACKAGE_INFO_FN_A
#define IMPORT_SECURITY_CONTEXT_FN IMPORT_SECURITY_CONTEXT_FN_A
#define ADD_CREDENTIALS_FN ADD_CREDENTIALS_FN_A
#define SET_CONTEXT_ATTRIBUTES_FN SET_CONTEXT_ATTRIBUTES_FN_A
#define SET_CREDENTIALS_ATTRIBUTES_FN SET_CREDENTIALS_ATTRIBUTES_FN_A
#define CHANGE_PASSWORD_FN CHANGE_PASSWORD_FN_A
#define QUERY_CONTEXT_ATTRIBUTES_EX_FN QUERY_CONTEXT_ATTRIBUTES_EX_FN_A
#define QUERY_CREDENTIALS_ATTRIBUTES_EX_FN                                  \
    QUERY_CREDENTIALS_ATTRIBUTES_EX_FN_A
#define INIT_SECURITY_INTERFACE INIT_SECURITY_INTERFACE_A

#define InitSecurityInterface InitSecurityInterfaceA
#define EnumerateSecurityPackages EnumerateSecurityPackagesA
#define QuerySecurityPackageInfo QuerySecurityPackageInfoA
#define AcquireCredentialsHandle AcquireCredentialsHandleA
#define QueryCredentialsAttributes QueryCredentialsAttributesA
#define InitializeSecurityContext InitializeSecurityContextA
#define QueryContextAttributes QueryContextAttributesA
#define SetContextAttributes SetContextAttributesA
#define ImportSecurityContext ImportSecurityContextA

/* ---- 17. hsmssp extensions ------------------------------------------- */

/* What hsmssp adds to the Windows interface (docs/sspi.md).  Attribute
 * numbers in 0x48530000..0x4853ffff ("HS") are hsmssp's own. */

/* SECPKG_ATTR_HSMSSP_AUTHZ: the authorization data the acceptor verified
 * (for Kerberos, the PAC of the client's ticket: its server signature was
 * checked on the token with the service key, and its client name, time
 * and UPN against the ticket).  QueryContextAttributesA fills a
 * SecPkgContext_HsmsspAuthzA whose pInfo is one allocation:
 * FreeContextBuffer(pInfo) releases every string and array in it.  With
 * no PAC in the ticket, fHasPac is 0 and the rest is empty. */
#define SECPKG_ATTR_HSMSSP_AUTHZ 0x48530001

typedef struct _HSMSSP_SID_AND_ATTRIBUTES {
    SEC_CHAR *sSid; /* "S-1-5-21-..." */
    ULONG Attributes; /* SE_GROUP_* */
} HSMSSP_SID_AND_ATTRIBUTES, *PHSMSSP_SID_AND_ATTRIBUTES;

typedef struct _HSMSSP_AUTHZ_INFO_A {
    ULONG fHasPac;
    ULONG fHasLogonInfo;  /* LOGON_INFO (Windows and Samba DCs) */
    ULONG fHasUpnDnsInfo; /* UPN_DNS_INFO */
    SEC_CHAR *sClientName;     /* PAC_CLIENT_INFO name */
    SEC_CHAR *sUpn;            /* NULL without UPN_DNS_INFO */
    SEC_CHAR *sDnsDomainName;  /* NULL without UPN_DNS_INFO */
    SEC_CHAR *sEffectiveName;  /* LOGON_INFO fields: NULL without it */
    SEC_CHAR *sFullName;
    SEC_CHAR *sLogonServer;
    SEC_CHAR *sLogonDomainName;
    SEC_CHAR *sLogonDomainSid;
    SEC_CHAR *sUserSid;
    SEC_CHAR *sPrimaryGroupSid;
    ULONG UserFlags;
    ULONG cGroups;
    PHSMSSP_SID_AND_ATTRIBUTES pGroups;
    ULONG cExtraSids;
    PHSMSSP_SID_AND_ATTRIBUTES pExtraSids;
    SEC_CHAR *sResourceDomainSid;
    ULONG cResourceGroups;
    PHSMSSP_SID_AND_ATTRIBUTES pResourceGroups;
} HSMSSP_AUTHZ_INFO_A, *PHSMSSP_AUTHZ_INFO_A;

typedef struct _SecPkgContext_HsmsspAuthzA {
    PHSMSSP_AUTHZ_INFO_A pInfo;
} SecPkgContext_HsmsspAuthzA, *PSecPkgContext_HsmsspAuthzA;

/* Names the configuration file (docs/config.md) the next credential
 * uses, instead of $HSMSSP_CONFIG or /etc/hsmssp/hsmssp.conf; NULL goes
 * back to those.  Credentials and contexts already open keep theirs. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY HsmsspConfigureA(const char *pszConfigFile);

/* An outbound credential from the TGT a client delegated to this
 * acceptor context (ASC_REQ_DELEGATE granted, ASC_RET_DELEGATE set): the
 * service acts as the client towards other services.  The TGT's session
 * key stayed on the token since the context received it; the credential
 * and the context share it, and either may be freed first.  The same
 * credential comes from AcquireCredentialsHandleA(NULL, "Kerberos",
 * SECPKG_CRED_OUTBOUND, ...) on a thread impersonating the context, as on
 * Windows.  SEC_E_NO_CREDENTIALS when the context holds no delegated
 * TGT. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY HsmsspAcquireDelegatedCredentialsA(
    PCtxtHandle phContext, PCredHandle phCredential, PTimeStamp ptsExpiry);

/* Drops the TGTs the package shares between the outbound credentials of
 * this process (Kerberos: an account whose key is on the token keeps one
 * TGT for all its credentials, as a Windows logon session does) for
 * pszPrincipal ("svcacct" or "svcacct@REALM"), or for every account when
 * it is NULL.  The next AcquireCredentialsHandleA for the account runs
 * a new AS exchange (new group memberships in the PAC, say), as after
 * `klist purge` on Windows.  Credentials already acquired keep their
 * TGTs and tickets.  SEC_E_SECPKG_NOT_FOUND for an unknown package. */
HSMSSP_API SECURITY_STATUS SEC_ENTRY HsmsspPurgeTicketCacheA(
    LPSTR pszPackage, LPSTR pszPrincipal);

/* Why the calling thread's last call failed, in one line, and its
 * hsmssp error code: hsmssp_last_error_detail() and hsmssp_last_error()
 * in <hsmssp/errors.h>. */

#ifdef __cplusplus
}
#endif
#endif
