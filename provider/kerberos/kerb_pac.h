/*
 * provider/kerberos/kerb_pac.h - the MS-PAC Privilege Attribute
 * Certificate that a KDC puts in a ticket (AD-IF-RELEVANT containing
 * AD-WIN2K-PAC, ad-type 128): parsing, server-signature verification and
 * the checks against the ticket that carries it.  docs/pac.md has the
 * rules this file enforces and why.
 *
 * A PAC is a little-endian PACTYPE header (cBuffers, Version 0) and a
 * table of PAC_INFO_BUFFERs (type, size, 64-bit offset) pointing at
 * 8-aligned buffers.  The acceptor can verify one thing cryptographically:
 * the server signature (buffer type 6), a keyed checksum with key usage
 * 17 made with the service's own long-term key over the whole PAC with
 * the Signature bytes of the server and KDC (type 7) signature buffers
 * zeroed [MS-PAC 2.8.4].  The KDC, ticket (16) and extended KDC (19)
 * signatures are made with the krbtgt key, which an acceptor does not
 * hold; they are checked for form only.
 *
 * Key handling.  This module never sees a key: the caller passes a
 * kerb_pac_verify_fn that checks the checksum with the service key on the
 * token.  The PAC itself is not secret (the ticket that carries it is
 * decrypted in a secure buffer, but its authorization data is public
 * authorization information), so copies of it and every string of the
 * result live on the ordinary heap.
 *
 * Every function here parses attacker-reachable bytes (the PAC arrives
 * inside a ticket that a peer presents): all reads are bounds-checked,
 * all sizes are checked before arithmetic, nothing recurses, and every
 * count has a fixed upper bound (KERB_PAC_MAX_*).
 */
#ifndef HSMSSP_KERB_PAC_H
#define HSMSSP_KERB_PAC_H

#include "base/base.h"
#include "provider/provider.h"

/* Hard limits.  A PAC or a part of it beyond them is refused with
 * HSMSSP_ERR_BAD_PAC.  They bound memory and time, not semantics: real
 * PACs are a few KiB (Windows caps a user's token near 1015 groups). */
#define KERB_PAC_MAX_LEN 65536u   /* whole PAC, bytes */
#define KERB_PAC_MAX_BUFFERS 64u  /* cBuffers */
#define KERB_PAC_MAX_GROUPS 1024u /* GroupIds, ResourceGroupIds each */
#define KERB_PAC_MAX_SIDS 1024u   /* ExtraSids */
#define KERB_PAC_MAX_SUBAUTH 15u  /* RPC_SID SubAuthorityCount [MS-DTYP] */

/* PAC_INFO_BUFFER ulType values [MS-PAC 2.4]. */
#define KERB_PAC_LOGON_INFO 1u
#define KERB_PAC_CREDENTIALS_INFO 2u
#define KERB_PAC_SERVER_CHECKSUM 6u
#define KERB_PAC_PRIVSVR_CHECKSUM 7u
#define KERB_PAC_CLIENT_INFO 10u
#define KERB_PAC_DELEGATION_INFO 11u
#define KERB_PAC_UPN_DNS_INFO 12u
#define KERB_PAC_TICKET_CHECKSUM 16u
#define KERB_PAC_ATTRIBUTES_INFO 17u
#define KERB_PAC_REQUESTOR 18u
#define KERB_PAC_FULL_CHECKSUM 19u

/* UPN_DNS_INFO Flags [MS-PAC 2.10]. */
#define KERB_PAC_UPN_CONSTRUCTED 0x1u /* U: UPN built as name@dns-domain */
#define KERB_PAC_UPN_HAS_SAM_SID 0x2u /* S: SamName and Sid fields follow */

/* KERB_VALIDATION_INFO UserFlags bits valid for Kerberos [MS-PAC 2.5]. */
#define KERB_PAC_USER_EXTRA_SIDS 0x20u       /* D */
#define KERB_PAC_USER_RESOURCE_GROUPS 0x200u /* H */

/* The length of a signature of this checksum type (hmac-sha1-96-aes128
 * 15 and -aes256 16: 12; cmac-camellia 17/18: 16; hmac-sha256-128-aes128
 * 19: 16; hmac-sha384-192-aes256 20: 24; hmac-md5 -138: 16), or 0 for a
 * type that is not a keyed checksum a PAC may carry. */
size_t kerb_pac_cksum_len(int32_t cksumtype);

/* Verifies a keyed checksum over data with the service key and key usage
 * 17 (KERB_NON_KERB_CKSUM_SALT).  Returns HSMSSP_OK, HSMSSP_ERR_INTEGRITY
 * on mismatch, HSMSSP_ERR_UNKNOWN_CKSUMTYPE when cksumtype is not the one
 * the service key makes, or any token error.  The acceptor implements it
 * with the token engine; tests with hsm/krbsw.h. */
typedef hsmssp_err (*kerb_pac_verify_fn)(void *arg, int32_t cksumtype,
                                         const uint8_t *data, size_t len,
                                         const uint8_t *cksum,
                                         size_t cksum_len);

/* What the ticket says about its client; the PAC must agree. */
typedef struct kerb_pac_ticket_facts {
    /* Client principal without realm, UTF-8, in unparsed form with MIT's
     * escapes ("alice", "host/x.example"). */
    const char *client_name;
    /* The ticket's crealm ("HSMSSP.TEST"). */
    const char *client_realm;
    /* EncTicketPart authtime, Unix seconds. */
    int64_t authtime;
} kerb_pac_ticket_facts;

/* One SID with its SE_GROUP_* attributes [MS-PAC 2.2.1]: a heap string in
 * MS-DTYP 2.4.2.1 form ("S-1-5-21-397955417-626881126-188441444-512"). */
/* A SID string with its SE_GROUP_* attributes: the provider's type, so
 * the SSPI layer can hand these arrays out without copying. */
typedef prov_sid kerb_pac_sid;

/* The verified content of a PAC.  Every string is a NUL-terminated UTF-8
 * heap copy (never NULL unless said), converted from UTF-16LE; none is
 * secret.  Released with kerb_pac_info_free(). */
typedef struct kerb_pac_info {
    /* PAC_CLIENT_INFO (always present). */
    char *client_name; /* as the PAC has it: the name, or name@REALM */

    /* Signatures: the server checksum type (verified), the KDC one (form
     * only) and whether ticket / extended KDC signatures were present. */
    int32_t server_cksumtype;
    int32_t kdc_cksumtype;
    bool has_ticket_checksum;
    bool has_full_checksum;

    /* UPN_DNS_INFO (optional: MIT 1.20 KDCs do not send it).  When absent
     * upn and dns_domain are NULL; sam_name and upn_sid are NULL unless
     * upn_flags has KERB_PAC_UPN_HAS_SAM_SID. */
    bool has_upn_dns_info;
    char *upn;
    char *dns_domain;
    uint32_t upn_flags;
    char *sam_name;
    char *upn_sid;

    /* LOGON_INFO, KERB_VALIDATION_INFO [MS-PAC 2.5] (optional: Windows
     * and Samba DCs send it, MIT 1.20 does not).  Everything below is
     * zero / NULL when has_logon_info is false.  The six strings are ""
     * when the PAC has an empty or null string. */
    bool has_logon_info;
    /* FILETIMEs as sent: 100 ns since 1601; 0x7FFFFFFFFFFFFFFF means
     * never. */
    uint64_t logon_time;
    uint64_t logoff_time;
    uint64_t kickoff_time;
    uint64_t password_last_set;
    uint64_t password_can_change;
    uint64_t password_must_change;
    char *effective_name; /* sAMAccountName */
    char *full_name;
    char *logon_script;
    char *profile_path;
    char *home_directory;
    char *home_drive;
    char *logon_server;
    char *logon_domain_name; /* NetBIOS domain name */
    uint16_t logon_count;
    uint16_t bad_password_count;
    uint32_t user_id;          /* RID */
    uint32_t primary_group_id; /* RID */
    uint32_t user_flags;       /* KERB_PAC_USER_* */
    uint32_t user_account_control;
    char *logon_domain_sid;  /* LogonDomainId */
    char *user_sid;          /* domain SID + UserId, or ExtraSids[0] when
                                UserId is 0 [MS-PAC 2.5] */
    char *primary_group_sid; /* domain SID + PrimaryGroupId */
    kerb_pac_sid *groups;    /* domain SID + each GroupIds RID */
    size_t n_groups;
    kerb_pac_sid *extra_sids; /* ExtraSids as sent */
    size_t n_extra_sids;
    char *resource_domain_sid;     /* NULL when absent */
    kerb_pac_sid *resource_groups; /* resource domain SID + each RID */
    size_t n_resource_groups;
} kerb_pac_info;

/*
 * Parses the PAC (the ad-data of an AD-WIN2K-PAC element), verifies its
 * server signature through verify(arg, ...), checks PAC_CLIENT_INFO and,
 * when present, UPN_DNS_INFO against the ticket facts, and decodes
 * LOGON_INFO when present.  Exactly one server signature, one KDC
 * signature and one PAC_CLIENT_INFO are required; no buffer type may
 * appear twice.
 *
 * Returns HSMSSP_OK with *info_out set (free with kerb_pac_info_free);
 * HSMSSP_ERR_BAD_PAC with a one-line detail for any malformation, limit
 * or mismatch with the ticket; whatever verify() returned when it failed
 * (HSMSSP_ERR_INTEGRITY for a wrong signature,
 * HSMSSP_ERR_UNKNOWN_CKSUMTYPE for a type the service key cannot make);
 * HSMSSP_ERR_UNKNOWN_CKSUMTYPE when the server signature's type is no
 * keyed checksum type at all; HSMSSP_ERR_INVALID_ARGUMENT for NULL
 * arguments; HSMSSP_ERR_NOMEM.  *info_out is NULL on failure.
 */
hsmssp_err kerb_pac_verify(const uint8_t *pac, size_t len,
                           const kerb_pac_ticket_facts *facts,
                           kerb_pac_verify_fn verify, void *arg,
                           kerb_pac_info **info_out) BASE_WUR;

/* Frees info and every string it owns.  NULL is a no-op. */
void kerb_pac_info_free(kerb_pac_info *info);

#endif
