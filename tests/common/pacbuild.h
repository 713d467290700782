/*
 * tests/common/pacbuild.h - a builder of MS-PAC blobs for the tests of
 * provider/kerberos/kerb_pac.c and for fuzz seeds.
 *
 * It is written independently of the parser: its own NDR encoder for
 * KERB_VALIDATION_INFO (checked byte for byte against the MS-PAC sec. 3
 * sample in tests/unit/provider/test_pac.c), its own checksum-length
 * table, its own header layout.  Signing goes through a callback that the
 * test supplies (typically hsm/krbsw.h's krbsw_checksum on a raw test key
 * with key usage 17), in the MS-PAC 2.8.1 order: ticket signature, then
 * the extended KDC signature over the PAC with the server, KDC and
 * extended KDC signatures zeroed, then the server signature over the PAC
 * with the server and KDC signatures zeroed, then the KDC signature over
 * the server signature's bytes.
 *
 * Layout: buffers in the order LOGON_INFO, CLIENT_INFO, UPN_DNS_INFO,
 * the caller's extra buffers, TICKET, FULL, SERVER, KDC checksums; each
 * at an 8-aligned offset, zero-padded, the PAC's length a multiple of 8
 * (as Windows and MIT lay them out).
 *
 * Every output is malloc'ed; the caller frees it.  Functions return
 * HSMSSP_OK, HSMSSP_ERR_INVALID_ARGUMENT for options the builder cannot
 * encode, HSMSSP_ERR_NOMEM, or whatever the signing callback returned.
 */
#ifndef HSMSSP_PACBUILD_H
#define HSMSSP_PACBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* Which key a signature is made with. */
typedef enum pacb_key {
    PACB_KEY_SERVER = 0, /* the service's long-term key */
    PACB_KEY_KDC = 1     /* the krbtgt key */
} pacb_key;

/* Computes a keyed checksum of cksumtype over data with the given key
 * (key usage 17) into out (out_len = the type's length). */
typedef hsmssp_err (*pacb_sign_fn)(void *arg, pacb_key key, int32_t cksumtype,
                                   const uint8_t *data, size_t len,
                                   uint8_t *out, size_t out_len);

/* A GROUP_MEMBERSHIP: a RID relative to a domain SID, and attributes. */
typedef struct pacb_group {
    uint32_t rid;
    uint32_t attributes;
} pacb_group;

/* A KERB_SID_AND_ATTRIBUTES: a SID string ("S-1-5-21-1-2-3-1000"). */
typedef struct pacb_sid {
    const char *sid;
    uint32_t attributes;
} pacb_sid;

/* KERB_VALIDATION_INFO [MS-PAC 2.5].  A NULL string is encoded as a null
 * Buffer pointer, "" as an empty array behind a non-null pointer (as
 * Windows sends empty fields).  A NULL groups / extra_sids /
 * resource_groups array is a null pointer, a non-NULL one with count 0 an
 * empty conformant array.  UserFlags D (0x20) and H (0x200) are added
 * when extra SIDs or resource groups are present. */
typedef struct pacb_logon {
    uint64_t logon_time, logoff_time, kickoff_time; /* FILETIMEs */
    uint64_t password_last_set, password_can_change, password_must_change;
    const char *effective_name, *full_name, *logon_script, *profile_path;
    const char *home_directory, *home_drive, *logon_server;
    const char *logon_domain_name;
    /* MaximumLength = Length + 2 for LogonServer and LogonDomainName (room
     * for a NUL, as Windows DCs send them); otherwise = Length. */
    bool max_len_nul;
    uint16_t logon_count, bad_password_count;
    uint32_t user_id, primary_group_id;
    const pacb_group *groups;
    size_t n_groups;
    uint32_t user_flags;
    const char *domain_sid; /* LogonDomainId; NULL: null pointer */
    uint32_t user_account_control;
    const pacb_sid *extra_sids;
    size_t n_extra_sids;
    const char *resource_domain_sid; /* NULL: null pointer */
    const pacb_group *resource_groups;
    size_t n_resource_groups;
} pacb_logon;

/* A buffer added as is (unknown types, duplicates, malformed content). */
typedef struct pacb_raw {
    uint32_t type;
    const uint8_t *data;
    size_t len;
} pacb_raw;

typedef struct pacb_opts {
    const pacb_logon *logon; /* NULL: no LOGON_INFO */

    /* CLIENT_INFO: Name (UTF-8) and ClientId = FILETIME of authtime.
     * client_name_raw, when non-NULL, is the Name as raw UTF-16LE bytes
     * instead (invalid UTF-16 for tests).  no_client_info omits it. */
    const char *client_name;
    const uint8_t *client_name_raw;
    size_t client_name_raw_len;
    int64_t authtime;
    bool no_client_info;

    /* UPN_DNS_INFO, present when upn != NULL.  With flag S (0x2),
     * sam_name and upn_sid are added. */
    const char *upn;
    const char *dns_domain;
    uint32_t upn_flags;
    const char *sam_name;
    const char *upn_sid;

    const pacb_raw *extra;
    size_t n_extra;

    /* Signatures.  The ticket and extended KDC signatures use
     * kdc_cksumtype (MS-PAC: they MUST match the KDC signature's type).
     * rodc appends a 2-byte RODCIdentifier to the KDC signature. */
    int32_t server_cksumtype;
    int32_t kdc_cksumtype;
    bool ticket_checksum;
    bool full_checksum;
    bool rodc;
    bool no_server_sig;
    bool no_kdc_sig;
    pacb_sign_fn sign;
    void *sign_arg;
} pacb_opts;

/* The signature length of a checksum type (15, 16: 12; 19: 16; 20: 24;
 * -138: 16), 0 for others.  The builder's own table. */
size_t pacb_cksum_len(int32_t cksumtype);

/* The FILETIME (100 ns since 1601) of Unix time t. */
uint64_t pacb_filetime(int64_t t);

/* The MS-DTYP 2.4.2.2 binary form of a SID string into out (at most 68
 * bytes); *len_out gets its length. */
hsmssp_err pacb_sid_binary(const char *s, uint8_t out[68],
                           size_t *len_out) BASE_WUR;

/* The LOGON_INFO buffer: MS-RPCE 2.2.6 type serialization v1 headers
 * and the NDR of a pointer to KERB_VALIDATION_INFO, with referent ids
 * 0x00020000 + 4k in order of appearance, as Windows numbers them. */
hsmssp_err pacb_logon_info(const pacb_logon *l, uint8_t **out,
                           size_t *out_len) BASE_WUR;

/* Builds and signs a PAC. */
hsmssp_err pacb_build(const pacb_opts *o, uint8_t **out,
                      size_t *out_len) BASE_WUR;

/* Recomputes, in place, the extended KDC (if present), server and KDC
 * signatures of pac with their current SignatureTypes: lets a test alter
 * content and still get a validly signed PAC, so that the parser's content
 * checks are reached.  HSMSSP_ERR_INVALID_ARGUMENT when the header or the
 * signature buffers are too malformed to find or fill. */
hsmssp_err pacb_resign(uint8_t *pac, size_t len, pacb_sign_fn sign,
                       void *arg) BASE_WUR;

#endif
