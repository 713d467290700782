/*
 * tests/unit/provider/test_pac.c - MS-PAC parsing and verification
 * (provider/kerberos/kerb_pac.c) against:
 *  - PACs from the test builder (tests/common/pacbuild.c), signed with
 *    hsm/krbsw.h under random keys of every checksum type, in every shape
 *    (with and without LOGON_INFO, UPN_DNS_INFO flags, extended KDC and
 *    ticket signatures, RODC identifier);
 *  - three independent sources: the annotated sample PAC of MS-PAC sec. 3
 *    (its fields, the data handed to the signature check, and a byte-exact
 *    rebuild of its LOGON_INFO by the builder), two PACs issued by a real
 *    MIT 1.20 KDC (krb5kdc of Debian 12, service keys from the keytab),
 *    and MIT libkrb5's own krb5_pac_sign / krb5_pac_verify as an oracle
 *    in both directions;
 *  - every rule of docs/pac.md, one malformed PAC each, re-signed after
 *    the change (pacb_resign) so that the check under test is reached;
 *  - every truncation, every single-bit change, and a few thousand
 *    deterministic random mutations (with and without re-signing).
 *
 *   test_pac --write-seeds DIR   writes the fuzz_pac seed corpus instead
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <krb5.h>

#include "../../fuzz/fuzzcommon.h"
#include "hsm/krbsw.h"
#include "pacbuild.h"
#include "provider/kerberos/kerb_pac.h"
#include "testutil.h"

#define CLIENT "alice"
#define REALM "HSMSSP.TEST"
#define AUTHTIME 1700000000
#define DOMAIN_SID "S-1-5-21-1004336348-1177238915-682003330"

static const int32_t all_cksumtypes[] = {15, 16, 19, 20, -138};

/* ---- keys and callbacks ------------------------------------------------ */

static int32_t
etype_of(int32_t cksumtype)
{
    switch (cksumtype) {
    case 15:
        return 17;
    case 16:
        return 18;
    case 19:
        return 19;
    case 20:
        return 20;
    case -138:
        return 23;
    default:
        return 0;
    }
}

static size_t
keylen_of(int32_t etype)
{
    return (etype == 18 || etype == 20) ? 32 : 16;
}

/* The server and KDC keys of one PAC, and the types they sign with. */
typedef struct signer {
    int32_t server_ct, kdc_ct;
    base_secret *server_key, *kdc_key;
    unsigned verify_calls;
} signer;

static base_secret *
new_key(int32_t cksumtype, bool fuzz_fixed)
{
    int32_t et = etype_of(cksumtype);
    base_secret *k = NULL;

    TU_OK(base_secret_new(keylen_of(et), keylen_of(et), &k));
    if (fuzz_fixed)
        fuzz_key_bytes(et, k->data, k->len);
    else
        TU_OK(krbsw_random(k->data, k->len));
    return k;
}

static void
signer_init(signer *s, int32_t server_ct, int32_t kdc_ct)
{
    memset(s, 0, sizeof(*s));
    s->server_ct = server_ct;
    s->kdc_ct = kdc_ct;
    s->server_key = new_key(server_ct, false);
    s->kdc_key = new_key(kdc_ct, false);
}

static void
signer_free(signer *s)
{
    base_secret_free(s->server_key);
    base_secret_free(s->kdc_key);
}

static hsmssp_err
sign_cb(void *arg, pacb_key key, int32_t ct, const uint8_t *data, size_t len,
        uint8_t *out, size_t out_len)
{
    signer *s = arg;
    base_secret *k = key == PACB_KEY_SERVER ? s->server_key : s->kdc_key;
    uint8_t mac[64];
    size_t mac_len = 0;
    hsmssp_err ret;

    ret = krbsw_checksum(etype_of(ct), k->data, 17, data, len, mac, &mac_len);
    if (ret != HSMSSP_OK)
        return ret;
    assert_int_equal(mac_len, out_len);
    memcpy(out, mac, mac_len);
    return HSMSSP_OK;
}

/* What the acceptor's callback does: refuse a type the service key does
 * not make, else compare in constant time. */
static hsmssp_err
verify_cb(void *arg, int32_t ct, const uint8_t *data, size_t len,
          const uint8_t *cksum, size_t cksum_len)
{
    signer *s = arg;
    uint8_t mac[64];
    size_t mac_len = 0;
    hsmssp_err ret;

    s->verify_calls++;
    if (ct != s->server_ct)
        return HSMSSP_ERR_UNKNOWN_CKSUMTYPE;
    ret = krbsw_checksum(etype_of(ct), s->server_key->data, 17, data, len, mac,
                         &mac_len);
    if (ret != HSMSSP_OK)
        return ret;
    if (mac_len != cksum_len || !base_ct_equal(mac, cksum, mac_len))
        return HSMSSP_ERR_INTEGRITY;
    return HSMSSP_OK;
}

static const kerb_pac_ticket_facts std_facts = {CLIENT, REALM, AUTHTIME};

/* ---- standard content ------------------------------------------------- */

static const pacb_group std_groups[] = {
    {513, 7}, {512, 7}, {1104, 0x20000007}, {4294967295u, 7}};
static const pacb_sid std_extra[] = {
    {"S-1-18-1", 7},
    {"S-1-5-21-111-222-333-1000", 0x20000007},
};
static const pacb_group std_res[] = {{1601, 0x20000007}, {1602, 7}};

static pacb_logon
std_logon(void)
{
    pacb_logon l = {
        .logon_time = 0x01D9F00011223344ULL,
        .logoff_time = 0x7FFFFFFFFFFFFFFFULL,
        .kickoff_time = 0x7FFFFFFFFFFFFFFFULL,
        .password_last_set = 0x01D9E00000000000ULL,
        .password_can_change = 0x01D9E10000000000ULL,
        .password_must_change = 0x7FFFFFFFFFFFFFFFULL,
        .effective_name = "alice",
        .full_name = "Alice Liddell",
        .logon_script = "",
        .profile_path = NULL,
        .home_directory = "\\\\srv\\alice",
        .home_drive = "H:",
        .logon_server = "DC1",
        .logon_domain_name = "HSMSSP",
        .max_len_nul = true,
        .logon_count = 42,
        .bad_password_count = 3,
        .user_id = 1105,
        .primary_group_id = 513,
        .groups = std_groups,
        .n_groups = BASE_ARRAY_LEN(std_groups),
        .domain_sid = DOMAIN_SID,
        .user_account_control = 0x210,
        .extra_sids = std_extra,
        .n_extra_sids = BASE_ARRAY_LEN(std_extra),
        .resource_domain_sid = "S-1-5-21-7-8-9",
        .resource_groups = std_res,
        .n_resource_groups = BASE_ARRAY_LEN(std_res),
    };
    return l;
}

static pacb_opts
std_opts(signer *s)
{
    pacb_opts o = {
        .client_name = CLIENT,
        .authtime = AUTHTIME,
        .server_cksumtype = s->server_ct,
        .kdc_cksumtype = s->kdc_ct,
        .sign = sign_cb,
        .sign_arg = s,
    };
    return o;
}

static void
build(const pacb_opts *o, uint8_t **pac, size_t *len)
{
    TU_OK(pacb_build(o, pac, len));
}

/* Verifies with the standard facts; returns the code, frees the info. */
static hsmssp_err
check_code(const uint8_t *pac, size_t len, signer *s)
{
    kerb_pac_info *info = (kerb_pac_info *)1;
    hsmssp_err ret;

    ret = kerb_pac_verify(pac, len, &std_facts, verify_cb, s, &info);
    if (ret != HSMSSP_OK)
        assert_null(info);
    kerb_pac_info_free(info);
    return ret;
}

/* Locates buffer `type' in a PAC built by pacbuild (test helper). */
static bool
find(const uint8_t *pac, size_t len, uint32_t type, size_t *off, size_t *size)
{
    uint32_t n = (uint32_t)pac[0] | ((uint32_t)pac[1] << 8);

    for (uint32_t i = 0; i < n && 8 + 16 * (size_t)(i + 1) <= len; i++) {
        const uint8_t *e = pac + 8 + 16 * i;
        uint32_t t =
            e[0] | (e[1] << 8) | (e[2] << 16) | ((uint32_t)e[3] << 24);

        if (t == type) {
            *size = e[4] | (e[5] << 8) | (e[6] << 16) | ((uint32_t)e[7] << 24);
            *off =
                e[8] | (e[9] << 8) | (e[10] << 16) | ((uint32_t)e[11] << 24);
            return true;
        }
    }
    return false;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- tables ----------------------------------------------------------- */

static void
test_cksum_table(void **state)
{
    (void)state;
    assert_int_equal(kerb_pac_cksum_len(15), 12);
    assert_int_equal(kerb_pac_cksum_len(16), 12);
    assert_int_equal(kerb_pac_cksum_len(17), 16);
    assert_int_equal(kerb_pac_cksum_len(18), 16);
    assert_int_equal(kerb_pac_cksum_len(19), 16);
    assert_int_equal(kerb_pac_cksum_len(20), 24);
    assert_int_equal(kerb_pac_cksum_len(-138), 16);
    /* Unkeyed or unknown types: CRC32, RSA-MD5, SHA-1, 0. */
    assert_int_equal(kerb_pac_cksum_len(1), 0);
    assert_int_equal(kerb_pac_cksum_len(7), 0);
    assert_int_equal(kerb_pac_cksum_len(14), 0);
    assert_int_equal(kerb_pac_cksum_len(0), 0);
    /* The builder's independent table agrees where both have entries, and
     * each agrees with krbsw's checksum sizes. */
    for (size_t i = 0; i < BASE_ARRAY_LEN(all_cksumtypes); i++) {
        int32_t ct = all_cksumtypes[i];

        assert_int_equal(kerb_pac_cksum_len(ct), pacb_cksum_len(ct));
        assert_int_equal(kerb_pac_cksum_len(ct),
                         krbsw_cksum_len(etype_of(ct)));
    }
}

/* ---- round trips ------------------------------------------------------ */

static void
test_roundtrip_minimal(void **state)
{
    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(all_cksumtypes); i++) {
        /* The KDC key is of another type, as a krbtgt key often is. */
        signer s;
        pacb_opts o;
        kerb_pac_info *info = NULL;
        uint8_t *pac;
        size_t len;

        signer_init(&s, all_cksumtypes[i],
                    all_cksumtypes[(i + 1) % BASE_ARRAY_LEN(all_cksumtypes)]);
        o = std_opts(&s);
        build(&o, &pac, &len);
        TU_OK(kerb_pac_verify(pac, len, &std_facts, verify_cb, &s, &info));
        assert_int_equal(s.verify_calls, 1);
        assert_string_equal(info->client_name, CLIENT);
        assert_int_equal(info->server_cksumtype, s.server_ct);
        assert_int_equal(info->kdc_cksumtype, s.kdc_ct);
        assert_false(info->has_upn_dns_info);
        assert_null(info->upn);
        assert_false(info->has_logon_info);
        assert_null(info->user_sid);
        assert_int_equal(info->n_groups, 0);
        assert_false(info->has_ticket_checksum);
        assert_false(info->has_full_checksum);
        kerb_pac_info_free(info);
        free(pac);
        signer_free(&s);
    }
}

/* Checks the info of a PAC built from std_logon(). */
static void
check_std_logon(const kerb_pac_info *info)
{
    assert_true(info->has_logon_info);
    assert_int_equal(info->logon_time, 0x01D9F00011223344ULL);
    assert_int_equal(info->logoff_time, 0x7FFFFFFFFFFFFFFFULL);
    assert_int_equal(info->kickoff_time, 0x7FFFFFFFFFFFFFFFULL);
    assert_int_equal(info->password_last_set, 0x01D9E00000000000ULL);
    assert_int_equal(info->password_can_change, 0x01D9E10000000000ULL);
    assert_int_equal(info->password_must_change, 0x7FFFFFFFFFFFFFFFULL);
    assert_string_equal(info->effective_name, "alice");
    assert_string_equal(info->full_name, "Alice Liddell");
    assert_string_equal(info->logon_script, "");
    assert_string_equal(info->profile_path, ""); /* null pointer */
    assert_string_equal(info->home_directory, "\\\\srv\\alice");
    assert_string_equal(info->home_drive, "H:");
    assert_string_equal(info->logon_server, "DC1");
    assert_string_equal(info->logon_domain_name, "HSMSSP");
    assert_int_equal(info->logon_count, 42);
    assert_int_equal(info->bad_password_count, 3);
    assert_int_equal(info->user_id, 1105);
    assert_int_equal(info->primary_group_id, 513);
    assert_int_equal(info->user_flags,
                     KERB_PAC_USER_EXTRA_SIDS | KERB_PAC_USER_RESOURCE_GROUPS);
    assert_int_equal(info->user_account_control, 0x210);
    assert_string_equal(info->logon_domain_sid, DOMAIN_SID);
    assert_string_equal(info->user_sid, DOMAIN_SID "-1105");
    assert_string_equal(info->primary_group_sid, DOMAIN_SID "-513");
    assert_int_equal(info->n_groups, 4);
    assert_string_equal(info->groups[0].sid, DOMAIN_SID "-513");
    assert_int_equal(info->groups[0].attributes, 7);
    assert_string_equal(info->groups[2].sid, DOMAIN_SID "-1104");
    assert_int_equal(info->groups[2].attributes, 0x20000007);
    assert_string_equal(info->groups[3].sid, DOMAIN_SID "-4294967295");
    assert_int_equal(info->n_extra_sids, 2);
    assert_string_equal(info->extra_sids[0].sid, "S-1-18-1");
    assert_string_equal(info->extra_sids[1].sid, "S-1-5-21-111-222-333-1000");
    assert_int_equal(info->extra_sids[1].attributes, 0x20000007);
    assert_string_equal(info->resource_domain_sid, "S-1-5-21-7-8-9");
    assert_int_equal(info->n_resource_groups, 2);
    assert_string_equal(info->resource_groups[0].sid, "S-1-5-21-7-8-9-1601");
    assert_int_equal(info->resource_groups[0].attributes, 0x20000007);
    assert_string_equal(info->resource_groups[1].sid, "S-1-5-21-7-8-9-1602");
}

static void
test_roundtrip_full(void **state)
{
    static const uint32_t upn_flags[] = {
        0, KERB_PAC_UPN_CONSTRUCTED, KERB_PAC_UPN_HAS_SAM_SID,
        KERB_PAC_UPN_CONSTRUCTED | KERB_PAC_UPN_HAS_SAM_SID};

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(all_cksumtypes); i++) {
        for (size_t f = 0; f < BASE_ARRAY_LEN(upn_flags); f++) {
            pacb_logon l = std_logon();
            signer s;
            pacb_opts o;
            kerb_pac_info *info = NULL;
            uint8_t *pac;
            size_t len;

            signer_init(&s, all_cksumtypes[i], 16);
            o = std_opts(&s);
            o.logon = &l;
            o.upn = (upn_flags[f] & KERB_PAC_UPN_CONSTRUCTED)
                        ? "alice@hsmssp.test"
                        : "alice.liddell@corp.example";
            o.dns_domain = "hsmssp.test";
            o.upn_flags = upn_flags[f];
            o.sam_name = "alice";
            o.upn_sid = DOMAIN_SID "-1105";
            o.ticket_checksum = f % 2 == 0;
            o.full_checksum = f >= 2;
            o.rodc = f == 3;
            build(&o, &pac, &len);
            TU_OK(kerb_pac_verify(pac, len, &std_facts, verify_cb, &s, &info));
            check_std_logon(info);
            assert_true(info->has_upn_dns_info);
            assert_string_equal(info->upn, o.upn);
            assert_string_equal(info->dns_domain, "hsmssp.test");
            assert_int_equal(info->upn_flags, upn_flags[f]);
            if (upn_flags[f] & KERB_PAC_UPN_HAS_SAM_SID) {
                assert_string_equal(info->sam_name, "alice");
                assert_string_equal(info->upn_sid, DOMAIN_SID "-1105");
            } else {
                assert_null(info->sam_name);
                assert_null(info->upn_sid);
            }
            assert_int_equal(info->has_ticket_checksum, o.ticket_checksum);
            assert_int_equal(info->has_full_checksum, o.full_checksum);
            kerb_pac_info_free(info);
            free(pac);
            signer_free(&s);
        }
    }
}

/* Strings beyond ASCII, the hex form of a large authority, UserId 0, and
 * empty conformant arrays. */
static void
test_logon_variants(void **state)
{
    static const pacb_sid extra[] = {
        {"S-1-5-21-9-9-9-777", 7},
        {"S-1-0x123456789ABC-5", 3},
    };
    pacb_logon l = std_logon();
    signer s;
    pacb_opts o;
    kerb_pac_info *info = NULL;
    uint8_t *pac;
    size_t len;

    (void)state;
    signer_init(&s, 16, 16);
    o = std_opts(&s);
    /* U+00E9, U+4E2D and U+1F600 (a surrogate pair on the wire). */
    l.full_name = "Jos\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80";
    l.user_id = 0;
    l.extra_sids = extra;
    l.n_extra_sids = 2;
    l.groups = std_groups; /* non-NULL, count 0: an empty array */
    l.n_groups = 0;
    l.resource_domain_sid = NULL;
    l.resource_groups = NULL;
    l.n_resource_groups = 0;
    o.logon = &l;
    build(&o, &pac, &len);
    TU_OK(kerb_pac_verify(pac, len, &std_facts, verify_cb, &s, &info));
    assert_string_equal(info->full_name, l.full_name);
    /* MS-PAC 2.5: UserId 0 makes the first ExtraSid the user's SID. */
    assert_string_equal(info->user_sid, "S-1-5-21-9-9-9-777");
    assert_string_equal(info->extra_sids[1].sid, "S-1-0x123456789ABC-5");
    assert_int_equal(info->n_groups, 0);
    assert_null(info->resource_domain_sid);
    assert_int_equal(info->n_resource_groups, 0);
    assert_int_equal(info->user_flags, KERB_PAC_USER_EXTRA_SIDS);
    kerb_pac_info_free(info);
    free(pac);

    /* UserId 0 without ExtraSids leaves no user SID. */
    l.n_extra_sids = 0;
    l.extra_sids = NULL;
    build(&o, &pac, &len);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    free(pac);
    signer_free(&s);
}

/* ---- independent vectors ---------------------------------------------- */

/* The PAC of MS-PAC sec. 3 (from its AD-WIN2K-PAC ad-data, 0x540 bytes):
 * user lzhu, LOGON_INFO with 26 groups and 13 extra SIDs, CLIENT_INFO,
 * and two HMAC-MD5 signatures under keys the document does not give. */
static const char mspac_sample_hex[] =
    "040000000000000001000000b004000048000000000000000a00000012000000f804"
    "00000000000006000000140000001005000000000000070000001400000028050000"
    "0000000001100800cccccccca00400000000000000000200d186660f656ac601ffff"
    "ffffffffff7fffffffffffffff7f17d439fe784ac6011794a328424bc60117542497"
    "7a81c60108000800040002002400240008000200120012000c000200000000001000"
    "0200000000001400020000000000180002005410000097792c00010200001a000000"
    "1c000200200000000000000000000000000000000000000016001800200002000a00"
    "0c002400020028000200000000000000000010000000000000000000000000000000"
    "000000000000000000000000000000000d0000002c00020000000000000000000000"
    "00000400000000000000040000006c007a0068007500120000000000000012000000"
    "4c0069007100690061006e00670028004c006100720072007900290020005a006800"
    "75000900000000000000090000006e0074006400730032002e006200610074000000"
    "00000000000000000000000000000000000000000000000000000000000000000000"
    "00001a00000061c433000700000009c32d00070000005eb432000700000001020000"
    "0700000097b92c00070000002bf1320007000000ce30330007000000a72e2e000700"
    "00002af132000700000098b92c000700000062c43300070000009401330007000000"
    "76c4330007000000aefe2d000700000032d22c00070000001608320007000000425b"
    "2e00070000005fb4320007000000ca9c35000700000085442d0007000000c2f03200"
    "07000000e9ea310007000000ed8e2e0007000000b6eb310007000000ab2e2e000700"
    "0000720e2e00070000000c000000000000000b0000004e0054004400450056002d00"
    "440043002d003000350000000600000000000000050000004e005400440045005600"
    "0000040000000104000000000005150000005951b81766725d2564633b0b0d000000"
    "3000020007000000340002000700002038000200070000203c000200070000204000"
    "020007000020440002000700002048000200070000204c0002000700002050000200"
    "07000020540002000700002058000200070000205c00020007000020600002000700"
    "002005000000010500000000000515000000b9301b2eb7414c6c8c3b351501020000"
    "050000000105000000000005150000005951b81766725d2564633b0b74542f000500"
    "00000105000000000005150000005951b81766725d2564633b0be838320005000000"
    "0105000000000005150000005951b81766725d2564633b0bcd383200050000000105"
    "000000000005150000005951b81766725d2564633b0b5db432000500000001050000"
    "00000005150000005951b81766725d2564633b0b4116350005000000010500000000"
    "0005150000005951b81766725d2564633b0be8ea3100050000000105000000000005"
    "150000005951b81766725d2564633b0bc11932000500000001050000000000051500"
    "00005951b81766725d2564633b0b29f1320005000000010500000000000515000000"
    "5951b81766725d2564633b0b0f5f2e00050000000105000000000005150000005951"
    "b81766725d2564633b0b2f5b2e00050000000105000000000005150000005951b817"
    "66725d2564633b0bef8f3100050000000105000000000005150000005951b8176672"
    "5d2564633b0b075f2e00000000000049d90e656ac60108006c007a00680075000000"
    "0000000076ffffff41edce9a34815d3aef7bc98874805d250000000076fffffff7a5"
    "34dab2c02986efe0fbe5110a4f3200000000";

#define SAMPLE_DOMAIN "S-1-5-21-397955417-626881126-188441444"

/* Records what the parser handed to the signature check; accepts. */
typedef struct recorder {
    int32_t ct;
    uint8_t *data;
    size_t len;
    uint8_t cksum[64];
    size_t cksum_len;
} recorder;

static hsmssp_err
record_cb(void *arg, int32_t ct, const uint8_t *data, size_t len,
          const uint8_t *cksum, size_t cksum_len)
{
    recorder *r = arg;

    r->ct = ct;
    r->data = malloc(len);
    assert_non_null(r->data);
    memcpy(r->data, data, len);
    r->len = len;
    assert_true(cksum_len <= sizeof(r->cksum));
    memcpy(r->cksum, cksum, cksum_len);
    r->cksum_len = cksum_len;
    return HSMSSP_OK;
}

/* The RID at the end of a SID string. */
static uint32_t
rid_of(const char *sid)
{
    return (uint32_t)strtoul(strrchr(sid, '-') + 1, NULL, 10);
}

static void
test_mspac_sample(void **state)
{
    /* ClientId 0x01C66A650ED94900 = 2006-04-28 01:42:50 UTC. */
    const kerb_pac_ticket_facts facts = {"lzhu", "NTDEV.EXAMPLE", 1146188570};
    static const uint8_t server_sig[16] = {0x41, 0xed, 0xce, 0x9a, 0x34, 0x81,
                                           0x5d, 0x3a, 0xef, 0x7b, 0xc9, 0x88,
                                           0x74, 0x80, 0x5d, 0x25};
    recorder rec = {0};
    kerb_pac_info *info = NULL;
    uint8_t *pac, *logon = NULL;
    size_t len, logon_len;
    pacb_group groups[26];
    pacb_sid extra[13];
    pacb_logon l;

    (void)state;
    len = tu_hex(mspac_sample_hex, &pac);
    assert_int_equal(len, 0x540);
    TU_OK(kerb_pac_verify(pac, len, &facts, record_cb, &rec, &info));

    /* What went to the signature check: the type, the server signature
     * bytes, and the PAC with exactly the two Signature fields zeroed
     * (server at 0x510 + 4, KDC at 0x528 + 4, 16 bytes each). */
    assert_int_equal(rec.ct, -138);
    assert_int_equal(rec.cksum_len, 16);
    assert_memory_equal(rec.cksum, server_sig, 16);
    assert_int_equal(rec.len, len);
    for (size_t i = 0; i < len; i++) {
        bool zeroed = (i >= 0x514 && i < 0x524) || (i >= 0x52c && i < 0x53c);

        if (zeroed)
            assert_int_equal(rec.data[i], 0);
        else
            assert_int_equal(rec.data[i], pac[i]);
    }
    free(rec.data);

    /* The fields the specification's annotation names. */
    assert_string_equal(info->client_name, "lzhu");
    assert_int_equal(info->server_cksumtype, -138);
    assert_int_equal(info->kdc_cksumtype, -138);
    assert_false(info->has_upn_dns_info);
    assert_true(info->has_logon_info);
    assert_string_equal(info->effective_name, "lzhu");
    assert_string_equal(info->full_name, "Liqiang(Larry) Zhu");
    assert_string_equal(info->logon_script, "ntds2.bat");
    assert_string_equal(info->profile_path, "");
    assert_string_equal(info->logon_server, "NTDEV-DC-05");
    assert_string_equal(info->logon_domain_name, "NTDEV");
    assert_int_equal(info->logon_time, 0x01c66a650f6686d1ULL);
    assert_int_equal(info->logoff_time, 0x7fffffffffffffffULL);
    assert_int_equal(info->logon_count, 4180);
    assert_int_equal(info->user_id, 0x2c7997);
    assert_int_equal(info->primary_group_id, 513);
    assert_int_equal(info->user_flags, KERB_PAC_USER_EXTRA_SIDS);
    assert_int_equal(info->user_account_control, 0x10);
    assert_string_equal(info->logon_domain_sid, SAMPLE_DOMAIN);
    assert_string_equal(info->user_sid, SAMPLE_DOMAIN "-2914711");
    assert_string_equal(info->primary_group_sid, SAMPLE_DOMAIN "-513");
    assert_int_equal(info->n_groups, 26);
    /* "S-1-5-21-397955417-626881126-188441444-3392609" (MS-PAC 3.1). */
    assert_string_equal(info->groups[0].sid, SAMPLE_DOMAIN "-3392609");
    assert_int_equal(info->groups[0].attributes, 7);
    assert_string_equal(info->groups[25].sid, SAMPLE_DOMAIN "-3018354");
    assert_int_equal(info->n_extra_sids, 13);
    assert_string_equal(info->extra_sids[0].sid,
                        "S-1-5-21-773533881-1816936887-355810188-513");
    assert_int_equal(info->extra_sids[0].attributes, 7);
    assert_string_equal(info->extra_sids[12].sid, SAMPLE_DOMAIN "-3038983");
    assert_int_equal(info->extra_sids[12].attributes, 0x20000007);
    assert_null(info->resource_domain_sid);
    assert_int_equal(info->n_resource_groups, 0);

    /* The builder, fed the parsed fields, must reproduce Microsoft's
     * LOGON_INFO byte for byte: this checks its NDR (header, alignment,
     * referent numbering, deferral order) against an encoder that is not
     * ours, and that the parser dropped no field on the way. */
    for (size_t i = 0; i < 26; i++)
        groups[i] = (pacb_group){rid_of(info->groups[i].sid),
                                 info->groups[i].attributes};
    for (size_t i = 0; i < 13; i++)
        extra[i] = (pacb_sid){info->extra_sids[i].sid,
                              info->extra_sids[i].attributes};
    l = (pacb_logon){
        .logon_time = info->logon_time,
        .logoff_time = info->logoff_time,
        .kickoff_time = info->kickoff_time,
        .password_last_set = info->password_last_set,
        .password_can_change = info->password_can_change,
        .password_must_change = info->password_must_change,
        .effective_name = info->effective_name,
        .full_name = info->full_name,
        .logon_script = info->logon_script,
        .profile_path = info->profile_path,
        .home_directory = info->home_directory,
        .home_drive = info->home_drive,
        .logon_server = info->logon_server,
        .logon_domain_name = info->logon_domain_name,
        .max_len_nul = true,
        .logon_count = info->logon_count,
        .bad_password_count = info->bad_password_count,
        .user_id = info->user_id,
        .primary_group_id = info->primary_group_id,
        .groups = groups,
        .n_groups = 26,
        .user_flags = info->user_flags,
        .domain_sid = info->logon_domain_sid,
        .user_account_control = info->user_account_control,
        .extra_sids = extra,
        .n_extra_sids = 13,
    };
    TU_OK(pacb_logon_info(&l, &logon, &logon_len));
    assert_int_equal(logon_len, 0x4b0);
    assert_memory_equal(logon, pac + 0x48, 0x4b0);
    free(logon);
    kerb_pac_info_free(info);

    /* With the facts of another client or time, the same PAC is refused. */
    {
        kerb_pac_ticket_facts other = facts;

        memset(&rec, 0, sizeof(rec));
        other.client_name = "lzh";
        TU_ERR(kerb_pac_verify(pac, len, &other, record_cb, &rec, &info),
               HSMSSP_ERR_BAD_PAC);
        free(rec.data);
        memset(&rec, 0, sizeof(rec));
        other = facts;
        other.authtime++;
        TU_ERR(kerb_pac_verify(pac, len, &other, record_cb, &rec, &info),
               HSMSSP_ERR_BAD_PAC);
        free(rec.data);
        assert_null(info);
    }
    free(pac);
}

/* PACs issued by the MIT 1.20.1 KDC of Debian 12 (krb5kdc, DB2 back end,
 * realm HSMSSP.TEST): AS-REQ for the client, TGS-REQ for the service,
 * ticket decrypted with the service's keytab.  They carry CLIENT_INFO,
 * TICKET_CHECKSUM, SERVER_CHECKSUM and PRIVSVR_CHECKSUM, in that order,
 * and no UPN_DNS_INFO or LOGON_INFO. */
static const struct {
    const char *pac, *key, *client;
    int64_t authtime;
    int32_t server_ct;
} mit_vectors[] = {
    {"04000000000000000a00000014000000480000000000000010000000100000006000"
     "000000000000060000001000000070000000000000000700000010000000800000"
     "00000000008081cf4c2385dd010a0061006c006900630065000000000010000000"
     "e3258a55087f3b2a698f47ab100000003fcd8904f5cc0d21f11c832f10000000ed"
     "6f74169618f86c5f4d4225",
     "11ddd39612258b6b739a776d3e2cdf74a2c84302b29c89b23549cdef93ef6e85",
     "alice", 1796521455, 16},
    {"04000000000000000a0000001c00000048000000000000001000000010000000680"
     "0000000000000060000001000000078000000000000000700000010000000880000"
     "0000000000009ffb502385dd01120062006f0062002f00610064006d0069006e00"
     "00000000100000007e117d22875d063d1d1e45430f0000004008e810317282cee1"
     "fe958210000000ef3b7aa84342fc9ac4fd291b",
     "89fa9543c3e762bc9dbe670d662afea0", "bob/admin", 1796521462, 15},
};

static void
test_mit_kdc_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(mit_vectors); i++) {
        kerb_pac_ticket_facts facts = {mit_vectors[i].client, REALM,
                                       mit_vectors[i].authtime};
        kerb_pac_info *info = NULL;
        uint8_t *pac, *key;
        size_t len, klen;
        signer s;

        len = tu_hex(mit_vectors[i].pac, &pac);
        klen = tu_hex(mit_vectors[i].key, &key);
        memset(&s, 0, sizeof(s));
        s.server_ct = mit_vectors[i].server_ct;
        TU_OK(base_secret_from(key, klen, &s.server_key));
        TU_OK(kerb_pac_verify(pac, len, &facts, verify_cb, &s, &info));
        assert_string_equal(info->client_name, mit_vectors[i].client);
        assert_int_equal(info->server_cksumtype, mit_vectors[i].server_ct);
        assert_int_equal(info->kdc_cksumtype, 16); /* krbtgt aes256 */
        assert_true(info->has_ticket_checksum);
        assert_false(info->has_full_checksum);
        assert_false(info->has_upn_dns_info);
        assert_false(info->has_logon_info);
        kerb_pac_info_free(info);

        /* A wrong key, one flipped content bit, one second off. */
        s.server_key->data[0] ^= 1;
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_INTEGRITY);
        s.server_key->data[0] ^= 1;
        pac[0x4a] ^= 0x01;
        TU_ERR(kerb_pac_verify(pac, len, &facts, verify_cb, &s, &info),
               HSMSSP_ERR_INTEGRITY);
        pac[0x4a] ^= 0x01;
        facts.authtime--;
        TU_ERR(kerb_pac_verify(pac, len, &facts, verify_cb, &s, &info),
               HSMSSP_ERR_BAD_PAC);
        base_secret_free(s.server_key);
        free(key);
        free(pac);
    }
}

/* MIT libkrb5 as an oracle.  Builder -> krb5_pac_verify checks that the
 * builder's server and KDC signatures and CLIENT_INFO are what MIT
 * computes; krb5_pac_sign -> kerb_pac_verify checks the parser's zeroing
 * and signature input against MIT's signer, for every checksum type. */
static void
test_mit_oracle(void **state)
{
    krb5_context ctx;
    krb5_principal princ;

    (void)state;
    assert_int_equal(krb5_init_context(&ctx), 0);
    assert_int_equal(krb5_parse_name(ctx, CLIENT "@" REALM, &princ), 0);
    for (size_t i = 0; i < BASE_ARRAY_LEN(all_cksumtypes); i++) {
        int32_t ct = all_cksumtypes[i];
        pacb_logon l = std_logon();
        signer s;
        pacb_opts o;
        krb5_keyblock sk, kk;
        krb5_pac mpac = NULL;
        krb5_data in, out = {0};
        kerb_pac_info *info = NULL;
        uint8_t *pac, *logon;
        size_t len, logon_len;

        signer_init(&s, ct, 16);
        sk = (krb5_keyblock){0, etype_of(ct), (unsigned)s.server_key->len,
                             s.server_key->data};
        kk = (krb5_keyblock){0, 18, (unsigned)s.kdc_key->len, s.kdc_key->data};

        /* Ours, verified by MIT (server, KDC signature, client). */
        o = std_opts(&s);
        o.logon = &l;
        o.upn = "alice@corp.example";
        o.dns_domain = REALM;
        build(&o, &pac, &len);
        assert_int_equal(krb5_pac_parse(ctx, pac, len, &mpac), 0);
        assert_int_equal(krb5_pac_verify(ctx, mpac, AUTHTIME, princ, &sk, &kk),
                         0);
        krb5_pac_free(ctx, mpac);
        /* ... and MIT refuses it under another key. */
        s.server_key->data[1] ^= 0x80;
        assert_int_equal(krb5_pac_parse(ctx, pac, len, &mpac), 0);
        assert_int_not_equal(
            krb5_pac_verify(ctx, mpac, AUTHTIME, princ, &sk, &kk), 0);
        krb5_pac_free(ctx, mpac);
        s.server_key->data[1] ^= 0x80;
        free(pac);

        /* MIT's, verified by us: LOGON_INFO from the builder added as an
         * opaque buffer, CLIENT_INFO and signatures by krb5_pac_sign. */
        TU_OK(pacb_logon_info(&l, &logon, &logon_len));
        assert_int_equal(krb5_pac_init(ctx, &mpac), 0);
        in = (krb5_data){0, (unsigned)logon_len, (char *)logon};
        assert_int_equal(krb5_pac_add_buffer(ctx, mpac, 1, &in), 0);
        assert_int_equal(
            krb5_pac_sign(ctx, mpac, AUTHTIME, princ, &sk, &kk, &out), 0);
        TU_OK(kerb_pac_verify((uint8_t *)out.data, out.length, &std_facts,
                              verify_cb, &s, &info));
        assert_string_equal(info->client_name, CLIENT);
        assert_int_equal(info->server_cksumtype, ct);
        check_std_logon(info);
        kerb_pac_info_free(info);
        /* A bit of MIT's server signature flipped. */
        {
            size_t so, ss;

            assert_true(find((uint8_t *)out.data, out.length, 6, &so, &ss));
            out.data[so + 4] ^= 0x10;
            TU_ERR(check_code((uint8_t *)out.data, out.length, &s),
                   HSMSSP_ERR_INTEGRITY);
        }
        krb5_free_data_contents(ctx, &out);
        krb5_pac_free(ctx, mpac);
        free(logon);
        signer_free(&s);
    }
    krb5_free_principal(ctx, princ);
    krb5_free_context(ctx);
}

/* ---- CLIENT_INFO and UPN_DNS_INFO rules ------------------------------- */

static void
test_client_info_rules(void **state)
{
    static const uint8_t lone_high[] = {'a', 0, 0x00, 0xD8, 'b', 0};
    static const uint8_t lone_low[] = {0x00, 0xDC};
    static const uint8_t with_nul[] = {'a', 0,   'l', 0, 'i', 0,   'c',
                                       0,   'e', 0,   0, 0,   'x', 0};
    static const uint8_t odd[] = {'a', 0, 'l'};
    signer s;
    pacb_opts o;
    uint8_t *pac;
    size_t len;
    kerb_pac_info *info = NULL;
    kerb_pac_ticket_facts f = std_facts;

    (void)state;
    signer_init(&s, 18 - 2, 16);
    o = std_opts(&s);

    /* name@REALM (MIT with_realm, cross-realm clients) is the same client;
     * another realm, another case, a prefix or an extension are not. */
    o.client_name = CLIENT "@" REALM;
    build(&o, &pac, &len);
    TU_OK(kerb_pac_verify(pac, len, &f, verify_cb, &s, &info));
    assert_string_equal(info->client_name, CLIENT "@" REALM);
    kerb_pac_info_free(info);
    free(pac);
    {
        static const char *const wrong[] = {CLIENT "@OTHER.TEST",
                                            CLIENT "@hsmssp.test",
                                            "Alice",
                                            "alic",
                                            "alicee",
                                            "bob",
                                            CLIENT "@",
                                            "host/alice"};

        for (size_t i = 0; i < BASE_ARRAY_LEN(wrong); i++) {
            o.client_name = wrong[i];
            build(&o, &pac, &len);
            TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
            free(pac);
        }
    }
    o.client_name = CLIENT;

    /* The time must be the authtime to the second. */
    o.authtime = AUTHTIME + 1;
    build(&o, &pac, &len);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    free(pac);
    o.authtime = AUTHTIME;
    build(&o, &pac, &len);
    f.authtime = -99999999999LL; /* before 1601: no FILETIME */
    TU_ERR(kerb_pac_verify(pac, len, &f, verify_cb, &s, &info),
           HSMSSP_ERR_BAD_PAC);
    f.authtime = INT64_MAX;
    TU_ERR(kerb_pac_verify(pac, len, &f, verify_cb, &s, &info),
           HSMSSP_ERR_BAD_PAC);
    free(pac);

    /* Malformed UTF-16 names. */
    {
        const struct {
            const uint8_t *p;
            size_t n;
        } raws[] = {{lone_high, sizeof(lone_high)},
                    {lone_low, sizeof(lone_low)},
                    {lone_high, 4}, /* high surrogate at the end */
                    {with_nul, sizeof(with_nul)},
                    {odd, sizeof(odd)},
                    {odd, 0}};

        for (size_t i = 0; i < BASE_ARRAY_LEN(raws); i++) {
            o.client_name_raw = raws[i].p;
            o.client_name_raw_len = raws[i].n;
            build(&o, &pac, &len);
            TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
            free(pac);
        }
        o.client_name_raw = NULL;
    }
    signer_free(&s);
}

static void
test_upn_rules(void **state)
{
    static const struct {
        const char *upn, *dns;
        uint32_t flags;
        hsmssp_err want;
    } cases[] = {
        /* U: constructed as name@domain: name exact, domain any case. */
        {"alice@HSMSSP.TEST", "HSMSSP.TEST", 1, HSMSSP_OK},
        {"alice@hsmssp.test", "hsmssp.test", 1, HSMSSP_OK},
        {"Alice@HSMSSP.TEST", "HSMSSP.TEST", 1, HSMSSP_ERR_BAD_PAC},
        {"bob@HSMSSP.TEST", "HSMSSP.TEST", 1, HSMSSP_ERR_BAD_PAC},
        {"alice@OTHER.TEST", "HSMSSP.TEST", 1, HSMSSP_ERR_BAD_PAC},
        {"alice", "HSMSSP.TEST", 1, HSMSSP_ERR_BAD_PAC},
        /* No U: the userPrincipalName attribute, any suffix. */
        {"alice.liddell@corp.example", "hsmssp.test", 0, HSMSSP_OK},
        {"alice@HSMSSP.TEST", "HSMSSP.TEST", 0, HSMSSP_OK},
        {"alice", "HSMSSP.TEST", 0, HSMSSP_ERR_BAD_PAC},
        {"@corp.example", "HSMSSP.TEST", 0, HSMSSP_ERR_BAD_PAC},
        {"alice@", "HSMSSP.TEST", 0, HSMSSP_ERR_BAD_PAC},
        /* The DNS domain is the realm, ASCII case-insensitive. */
        {"alice@HSMSSP.TEST", "OTHER.TEST", 0, HSMSSP_ERR_BAD_PAC},
        {"alice@HSMSSP.TEST", "HSMSSP.TES", 0, HSMSSP_ERR_BAD_PAC},
        {"alice@HSMSSP.TEST", "", 0, HSMSSP_ERR_BAD_PAC},
        {"", "HSMSSP.TEST", 0, HSMSSP_ERR_BAD_PAC},
    };
    signer s;
    pacb_opts o;
    uint8_t *pac;
    size_t len;

    (void)state;
    signer_init(&s, 19, 20);
    o = std_opts(&s);
    for (size_t i = 0; i < BASE_ARRAY_LEN(cases); i++) {
        o.upn = cases[i].upn;
        o.dns_domain = cases[i].dns;
        o.upn_flags = cases[i].flags;
        build(&o, &pac, &len);
        if (check_code(pac, len, &s) != cases[i].want)
            fail_msg("UPN case %zu (%s, %s, %u): %s, expected %s", i,
                     cases[i].upn, cases[i].dns, cases[i].flags,
                     hsmssp_last_error_detail(),
                     hsmssp_err_name(cases[i].want));
        free(pac);
    }

    /* The S extension: a binary SID of exactly 8 + 4n bytes. */
    o.upn = "alice@HSMSSP.TEST";
    o.dns_domain = REALM;
    o.upn_flags = KERB_PAC_UPN_HAS_SAM_SID;
    o.sam_name = "alice";
    o.upn_sid = "S-1-5-21-1-2-3-1105";
    build(&o, &pac, &len);
    TU_OK(check_code(pac, len, &s));
    {
        size_t off, size;

        /* SidLength is at +16 of UPN_DNS_INFO: shorten it by 4 bytes. */
        assert_true(find(pac, len, 12, &off, &size));
        pac[off + 16] = (uint8_t)(pac[off + 16] - 4);
        TU_OK(pacb_resign(pac, len, sign_cb, &s));
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
        /* S flag without room for the extension: clear the UPN's length
         * field region by claiming a 12-byte buffer. */
        pac[off + 16] = (uint8_t)(pac[off + 16] + 4);
        pac[off + 8] = KERB_PAC_UPN_HAS_SAM_SID; /* flags stay S */
        put_le32(pac + 8 + 16 * 1 + 4, 12);      /* UPN buffer is #1 */
        TU_OK(pacb_resign(pac, len, sign_cb, &s));
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    }
    free(pac);
    signer_free(&s);
}

/* ---- structure rules -------------------------------------------------- */

static void
test_missing_and_duplicates(void **state)
{
    static const uint8_t blob[16] = {1, 2, 3};
    /* A well-formed PAC_SIGNATURE_DATA of type 16 (4 + 12 bytes). */
    static const uint8_t sigblob[16] = {16};
    pacb_raw raw;
    signer s;
    pacb_opts o;
    uint8_t *pac;
    size_t len;

    (void)state;
    signer_init(&s, 16, 16);
    o = std_opts(&s);

    /* An unknown type once is ignored [MS-PAC 2.4]. */
    raw = (pacb_raw){99, blob, sizeof(blob)};
    o.extra = &raw;
    o.n_extra = 1;
    build(&o, &pac, &len);
    TU_OK(check_code(pac, len, &s));
    free(pac);

    /* Any type twice is refused: content, signatures, unknown types. */
    {
        pacb_logon l = std_logon();
        uint8_t *li;
        size_t li_len;
        const uint32_t dup_types[] = {10, 99, 1, 12, 16};

        TU_OK(pacb_logon_info(&l, &li, &li_len));
        for (size_t i = 0; i < BASE_ARRAY_LEN(dup_types); i++) {
            pacb_raw two[2] = {{99, blob, sizeof(blob)},
                               {dup_types[i], blob, sizeof(blob)}};

            o = std_opts(&s);
            o.extra = two;
            o.n_extra = 2;
            if (dup_types[i] == 1) {
                o.logon = &l;
                two[1] = (pacb_raw){1, li, li_len};
            } else if (dup_types[i] == 12) {
                o.upn = "alice@HSMSSP.TEST";
                o.dns_domain = REALM;
            } else if (dup_types[i] == 16) {
                o.ticket_checksum = true;
                two[1] = (pacb_raw){16, sigblob, sizeof(sigblob)};
            }
            build(&o, &pac, &len);
            TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
            free(pac);
        }
        free(li);
    }

    /* A second server signature, placed before the real one. */
    o = std_opts(&s);
    {
        uint8_t sig[16] = {16};
        pacb_raw two = {6, sig, 16};

        o.extra = &two;
        o.n_extra = 1;
        build(&o, &pac, &len);
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
        free(pac);
    }

    /* Each required buffer missing.  Without a server or KDC signature
     * the builder cannot sign: the PAC is refused before any check. */
    o = std_opts(&s);
    o.no_client_info = true;
    build(&o, &pac, &len);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    free(pac);
    o = std_opts(&s);
    o.no_server_sig = true;
    build(&o, &pac, &len);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    free(pac);
    o = std_opts(&s);
    o.no_kdc_sig = true;
    build(&o, &pac, &len);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    free(pac);
    signer_free(&s);
}

/* Builds the standard PAC with an unknown buffer (type 99) first among the
 * extras, so that its table entry (#1: LOGON_INFO is absent, CLIENT_INFO
 * is #0) can be pointed anywhere. */
static void
build_with_unknown(signer *s, uint8_t **pac, size_t *len)
{
    static const uint8_t blob[24] = {9};
    pacb_raw raw = {99, blob, sizeof(blob)};
    pacb_opts o = std_opts(s);

    o.extra = &raw;
    o.n_extra = 1;
    build(&o, pac, len);
}

static void
test_header_rules(void **state)
{
    signer s;
    uint8_t *pac, *big;
    size_t len, ci_off, ci_size;
    uint8_t *e; /* entry #1 (type 99) */

    (void)state;
    signer_init(&s, 16, 16);
    build_with_unknown(&s, &pac, &len);
    TU_OK(check_code(pac, len, &s));
    assert_true(find(pac, len, 10, &ci_off, &ci_size));
    e = pac + 8 + 16;

    /* Version must be 0. */
    pac[4] = 1;
    TU_OK(pacb_resign(pac, len, sign_cb, &s));
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    pac[4] = 0;
    /* cBuffers 0 and 65. */
    put_le32(pac, 0);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    put_le32(pac, 65);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    /* A table longer than the PAC. */
    put_le32(pac, (uint32_t)(len / 16));
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    put_le32(pac, 4);
    TU_OK(pacb_resign(pac, len, sign_cb, &s));
    TU_OK(check_code(pac, len, &s));

    {
        uint32_t good = e[8] | (e[9] << 8);
        const struct {
            uint64_t off;
            uint32_t size;
        } bad[] = {
            {good + 4, 8},          /* not 8-aligned */
            {8, 8},                 /* inside the header */
            {ci_off, 8},            /* overlapping CLIENT_INFO */
            {ci_off + 8, 8},        /* its tail */
            {good, (uint32_t)len},  /* past the end */
            {len, 1},               /* starts at the end */
            {(uint64_t)1 << 35, 8}, /* 64-bit offset beyond */
            {good, 0xFFFFFFFFu},    /* size wraps a 32-bit sum */
        };

        for (size_t i = 0; i < BASE_ARRAY_LEN(bad); i++) {
            put_le32(e + 4, bad[i].size);
            put_le32(e + 8, (uint32_t)bad[i].off);
            put_le32(e + 12, (uint32_t)(bad[i].off >> 32));
            TU_OK(pacb_resign(pac, len, sign_cb, &s));
            if (check_code(pac, len, &s) != HSMSSP_ERR_BAD_PAC)
                fail_msg("header case %zu accepted: %s", i,
                         hsmssp_last_error_detail());
        }
        /* Zero size at the very end is a valid empty buffer. */
        put_le32(e + 4, 0);
        put_le32(e + 8, (uint32_t)len);
        put_le32(e + 12, 0);
        TU_OK(pacb_resign(pac, len, sign_cb, &s));
        TU_OK(check_code(pac, len, &s));
    }
    free(pac);

    /* Shorter than the header; longer than KERB_PAC_MAX_LEN. */
    TU_ERR(check_code((const uint8_t *)"\x01\0\0\0\0\0\0", 7, &s),
           HSMSSP_ERR_BAD_PAC);
    {
        pacb_raw raw;
        pacb_opts o = std_opts(&s);

        big = calloc(1, KERB_PAC_MAX_LEN);
        assert_non_null(big);
        raw = (pacb_raw){99, big, KERB_PAC_MAX_LEN - 200};
        o.extra = &raw;
        o.n_extra = 1;
        build(&o, &pac, &len);
        assert_true(len <= KERB_PAC_MAX_LEN);
        TU_OK(check_code(pac, len, &s));
        free(pac);
        raw.len = KERB_PAC_MAX_LEN;
        build(&o, &pac, &len);
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
        free(pac);
        free(big);
    }
    signer_free(&s);
}

static void
test_signature_rules(void **state)
{
    signer s;
    pacb_opts o;
    uint8_t *pac;
    size_t len, so, ss, ko, ks, fo, fs;
    kerb_pac_info *info = NULL;

    (void)state;
    signer_init(&s, 16, 16);
    o = std_opts(&s);

    /* The service key makes type 15, the PAC says 16: the acceptor's
     * callback answers UNKNOWN_CKSUMTYPE, and that is the result. */
    build(&o, &pac, &len);
    s.server_ct = 15;
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_UNKNOWN_CKSUMTYPE);
    s.server_ct = 16;
    assert_true(find(pac, len, 6, &so, &ss));
    assert_true(find(pac, len, 7, &ko, &ks));

    /* A server signature of no keyed type (CRC32 = 1, SHA-1 = 14). */
    put_le32(pac + so, 1);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_UNKNOWN_CKSUMTYPE);
    put_le32(pac + so, 14);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_UNKNOWN_CKSUMTYPE);
    /* A known type whose length is not the buffer's (20: 24 bytes). */
    put_le32(pac + so, 20);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    put_le32(pac + so, 16);
    /* The KDC signature: unknown type, wrong length. */
    put_le32(pac + ko, 7);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    put_le32(pac + ko, -138);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    put_le32(pac + ko, 16);
    TU_OK(check_code(pac, len, &s));

    /* The KDC signature value is outside what the server signature covers
     * [MS-PAC 2.8.4]: changing it goes unnoticed by an acceptor (only a
     * KDC, holding the krbtgt key, can check it). */
    pac[ko + 4] ^= 0xFF;
    TU_OK(check_code(pac, len, &s));
    free(pac);

    /* RODCIdentifier after the KDC signature; the extended KDC and ticket
     * signatures, covered by the server signature. */
    o.rodc = true;
    o.full_checksum = true;
    o.ticket_checksum = true;
    build(&o, &pac, &len);
    TU_OK(kerb_pac_verify(pac, len, &std_facts, verify_cb, &s, &info));
    assert_true(info->has_full_checksum);
    assert_true(info->has_ticket_checksum);
    kerb_pac_info_free(info);
    assert_true(find(pac, len, 7, &ko, &ks));
    assert_int_equal(ks, 4 + 12 + 2);
    assert_true(find(pac, len, 19, &fo, &fs));
    pac[fo + 4] ^= 0x01;
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_INTEGRITY);
    pac[fo + 4] ^= 0x01;
    /* The RODCIdentifier is zeroed with the KDC signature, as MIT, Heimdal
     * and Samba do: changing it does not break the server signature. */
    pac[ko + 16] ^= 0x01;
    TU_OK(check_code(pac, len, &s));
    free(pac);
    signer_free(&s);
}

/* ---- NDR rules ------------------------------------------------------ */

/* A LOGON_INFO with no strings and one group, so that the deferred
 * GroupIds array starts right after the 220-byte fixed part. */
static pacb_logon
bare_logon(void)
{
    pacb_logon l = {
        .user_id = 1000,
        .primary_group_id = 513,
        .groups = std_groups,
        .n_groups = 1,
        .domain_sid = "S-1-5-21-1-2-3",
    };
    return l;
}

/* Offsets inside the NDR object (after the 16 header bytes). */
#define O_GROUP_COUNT 112
#define O_GROUP_PTR 116
#define O_DOMAIN_PTR 156
#define O_SID_COUNT 200
#define O_EXTRA_PTR 204
#define O_RES_SID_PTR 208
#define O_RES_COUNT 212
#define O_DEFERRED 220
/* With bare_logon: GroupIds MaxCount at 220, pair at 224, LogonDomainId
 * conformance at 232, Revision 236, SubAuthorityCount 237. */

typedef void (*patch_fn)(uint8_t *obj, uint8_t *hdr);

static void
p_big_endian(uint8_t *o, uint8_t *h)
{
    (void)o;
    h[1] = 0x00;
}
static void
p_version(uint8_t *o, uint8_t *h)
{
    (void)o;
    h[0] = 2;
}
static void
p_hdr_len(uint8_t *o, uint8_t *h)
{
    (void)o;
    h[2] = 16;
}
static void
p_obj_len_big(uint8_t *o, uint8_t *h)
{
    (void)o;
    put_le32(h + 8, 0x1000);
}
static void
p_obj_len_odd(uint8_t *o, uint8_t *h)
{
    (void)o;
    h[8] = (uint8_t)(h[8] - 4);
}
static void
p_null_top(uint8_t *o, uint8_t *h)
{
    (void)h;
    put_le32(o, 0);
}
static void
p_group_maxcount(uint8_t *o, uint8_t *h)
{
    (void)h;
    put_le32(o + O_DEFERRED, 2);
}
static void
p_group_count(uint8_t *o, uint8_t *h)
{
    (void)h;
    put_le32(o + O_GROUP_COUNT, 2);
}
static void
p_group_null(uint8_t *o, uint8_t *h)
{
    (void)h;
    put_le32(o + O_GROUP_PTR, 0);
}
static void
p_group_huge(uint8_t *o, uint8_t *h)
{
    (void)h;
    put_le32(o + O_GROUP_COUNT, 0x40000000);
    put_le32(o + O_DEFERRED, 0x40000000);
}
static void
p_sid_conformance(uint8_t *o, uint8_t *h)
{
    (void)h;
    put_le32(o + 232, 5);
}
static void
p_sid_revision(uint8_t *o, uint8_t *h)
{
    (void)h;
    o[236] = 2;
}
static void
p_sid_16_subauth(uint8_t *o, uint8_t *h)
{
    (void)h;
    put_le32(o + 232, 16);
    o[237] = 16;
}
static void
p_domain_null(uint8_t *o, uint8_t *h)
{
    (void)h;
    put_le32(o + O_DOMAIN_PTR, 0);
}
static void
p_extra_count_no_ptr(uint8_t *o, uint8_t *h)
{
    (void)h;
    put_le32(o + O_SID_COUNT, 1);
}
static void
p_res_count_no_ptr(uint8_t *o, uint8_t *h)
{
    (void)h;
    put_le32(o + O_RES_COUNT, 3);
}
static void
p_res_sid_dangling(uint8_t *o, uint8_t *h)
{
    (void)h;
    put_le32(o + O_RES_SID_PTR, 0x00020100);
}
static void
p_extra_dangling(uint8_t *o, uint8_t *h)
{
    (void)h;
    /* (An empty array behind the pointer would be valid: its MaxCount 0
     * is indistinguishable from the zero padding at the end.) */
    put_le32(o + O_SID_COUNT, 2);
    put_le32(o + O_EXTRA_PTR, 0x00020100);
}
static void
p_name_dangling(uint8_t *o, uint8_t *h)
{
    (void)h;
    /* EffectiveName: Length 2, MaximumLength 2, a pointer whose referent
     * is not there (the GroupIds array is read as its counts). */
    o[52] = 2;
    o[54] = 2;
    put_le32(o + 56, 0x00020100);
}
static void
p_name_null_len(uint8_t *o, uint8_t *h)
{
    (void)h;
    o[52] = 2; /* Length 2 with a null Buffer */
    o[54] = 2;
}
static void
p_name_odd(uint8_t *o, uint8_t *h)
{
    (void)h;
    o[52] = 1;
    o[54] = 2;
}

static void
test_ndr_rules(void **state)
{
    static const struct {
        const char *name;
        patch_fn fn;
    } patches[] = {
        {"big-endian", p_big_endian},
        {"version 2", p_version},
        {"header length", p_hdr_len},
        {"object longer than buffer", p_obj_len_big},
        {"object length not 8k", p_obj_len_odd},
        {"null top pointer", p_null_top},
        {"group MaxCount", p_group_maxcount},
        {"GroupCount", p_group_count},
        {"null GroupIds with count", p_group_null},
        {"huge GroupCount", p_group_huge},
        {"SID conformance", p_sid_conformance},
        {"SID revision", p_sid_revision},
        {"SID 16 sub-authorities", p_sid_16_subauth},
        {"null LogonDomainId", p_domain_null},
        {"SidCount without array", p_extra_count_no_ptr},
        {"ResourceGroupCount without array", p_res_count_no_ptr},
        {"ResourceGroupDomainSid missing", p_res_sid_dangling},
        {"ExtraSids missing", p_extra_dangling},
        {"EffectiveName missing", p_name_dangling},
        {"null name with length", p_name_null_len},
        {"odd name length", p_name_odd},
    };
    pacb_logon l = bare_logon();
    signer s;
    pacb_opts o;
    uint8_t *pac, *copy;
    size_t len, off, size;

    (void)state;
    signer_init(&s, 16, 16);
    o = std_opts(&s);
    o.logon = &l;
    build(&o, &pac, &len);
    TU_OK(check_code(pac, len, &s));
    assert_true(find(pac, len, 1, &off, &size));
    /* The layout the offsets above assume. */
    assert_int_equal(pac[off + 16 + O_DEFERRED], 1);
    assert_int_equal(pac[off + 16 + 236], 1);
    copy = malloc(len);
    assert_non_null(copy);
    for (size_t i = 0; i < BASE_ARRAY_LEN(patches); i++) {
        memcpy(copy, pac, len);
        patches[i].fn(copy + off + 16, copy + off);
        TU_OK(pacb_resign(copy, len, sign_cb, &s));
        if (check_code(copy, len, &s) != HSMSSP_ERR_BAD_PAC)
            fail_msg("NDR case '%s' not refused: %s", patches[i].name,
                     hsmssp_last_error_detail());
    }
    free(copy);
    free(pac);

    /* Builder-level malformations: a null ExtraSids element, no domain
     * SID, resource RIDs without a resource domain. */
    {
        static const pacb_sid holes[] = {{"S-1-5-32-544", 7}, {NULL, 7}};

        l = bare_logon();
        l.extra_sids = holes;
        l.n_extra_sids = 2;
        build(&o, &pac, &len);
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
        free(pac);
        l = bare_logon();
        l.domain_sid = NULL;
        build(&o, &pac, &len);
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
        free(pac);
        l = bare_logon();
        l.resource_groups = std_res;
        l.n_resource_groups = 1;
        build(&o, &pac, &len);
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
        free(pac);
        /* A 15-sub-authority domain SID cannot take a RID. */
        l = bare_logon();
        l.domain_sid = "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15";
        build(&o, &pac, &len);
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
        free(pac);
    }

    /* Unused bytes: padding below 8 is normal, 8 or more is refused. */
    {
        uint8_t *li, *grown;
        size_t li_len;
        pacb_raw raw;

        l = bare_logon();
        TU_OK(pacb_logon_info(&l, &li, &li_len));
        grown = calloc(1, li_len + 8);
        assert_non_null(grown);
        memcpy(grown, li, li_len);
        put_le32(grown + 8, (uint32_t)(li_len + 8 - 16));
        raw = (pacb_raw){1, grown, li_len + 8};
        o = std_opts(&s);
        o.extra = &raw;
        o.n_extra = 1;
        build(&o, &pac, &len);
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
        free(pac);
        /* ... and a LOGON_INFO buffer cut inside the NDR headers. */
        raw.len = 12;
        build(&o, &pac, &len);
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
        free(pac);
        free(grown);
        free(li);
    }
    signer_free(&s);
}

static void
test_limits(void **state)
{
    pacb_group *many = calloc(KERB_PAC_MAX_GROUPS + 1, sizeof(*many));
    pacb_sid *sids = calloc(KERB_PAC_MAX_SIDS + 1, sizeof(*sids));
    pacb_logon l = bare_logon();
    kerb_pac_info *info = NULL;
    signer s;
    pacb_opts o;
    uint8_t *pac;
    size_t len;

    (void)state;
    assert_non_null(many);
    assert_non_null(sids);
    for (size_t i = 0; i <= KERB_PAC_MAX_GROUPS; i++)
        many[i] = (pacb_group){(uint32_t)(2000 + i), 7};
    for (size_t i = 0; i <= KERB_PAC_MAX_SIDS; i++)
        sids[i] = (pacb_sid){"S-1-5-32-545", 7};
    signer_init(&s, 16, 16);
    o = std_opts(&s);
    o.logon = &l;

    l.groups = many;
    l.n_groups = KERB_PAC_MAX_GROUPS;
    build(&o, &pac, &len);
    TU_OK(kerb_pac_verify(pac, len, &std_facts, verify_cb, &s, &info));
    assert_int_equal(info->n_groups, KERB_PAC_MAX_GROUPS);
    assert_string_equal(info->groups[KERB_PAC_MAX_GROUPS - 1].sid,
                        "S-1-5-21-1-2-3-3023");
    kerb_pac_info_free(info);
    free(pac);
    l.n_groups = KERB_PAC_MAX_GROUPS + 1;
    build(&o, &pac, &len);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    free(pac);

    l = bare_logon();
    l.extra_sids = sids;
    l.n_extra_sids = KERB_PAC_MAX_SIDS;
    build(&o, &pac, &len);
    TU_OK(check_code(pac, len, &s));
    free(pac);
    l.n_extra_sids = KERB_PAC_MAX_SIDS + 1;
    build(&o, &pac, &len);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    free(pac);

    l = bare_logon();
    l.resource_domain_sid = "S-1-5-21-4-5-6";
    l.resource_groups = many;
    l.n_resource_groups = KERB_PAC_MAX_GROUPS + 1;
    build(&o, &pac, &len);
    TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
    free(pac);

    /* 64 buffers are allowed, 65 are not. */
    {
        static const uint8_t blob[8];
        pacb_raw raws[62];

        for (size_t i = 0; i < 62; i++)
            raws[i] = (pacb_raw){(uint32_t)(1000 + i), blob, sizeof(blob)};
        o = std_opts(&s);
        o.extra = raws;
        o.n_extra = 61; /* + CLIENT_INFO + 2 signatures = 64 */
        build(&o, &pac, &len);
        TU_OK(check_code(pac, len, &s));
        free(pac);
        o.n_extra = 62;
        build(&o, &pac, &len);
        TU_ERR(check_code(pac, len, &s), HSMSSP_ERR_BAD_PAC);
        free(pac);
    }
    free(many);
    free(sids);
    signer_free(&s);
}

/* ---- robustness ------------------------------------------------------- */

/* A PAC with every part: LOGON_INFO, UPN_DNS_INFO with S, ticket and
 * extended KDC signatures. */
static void
build_everything(signer *s, uint8_t **pac, size_t *len)
{
    pacb_logon l = std_logon();
    pacb_opts o = std_opts(s);

    o.logon = &l;
    o.upn = "alice@HSMSSP.TEST";
    o.dns_domain = REALM;
    o.upn_flags = KERB_PAC_UPN_CONSTRUCTED | KERB_PAC_UPN_HAS_SAM_SID;
    o.sam_name = "alice";
    o.upn_sid = DOMAIN_SID "-1105";
    o.ticket_checksum = true;
    o.full_checksum = true;
    build(&o, pac, len);
}

static void
test_truncation(void **state)
{
    signer s;
    uint8_t *pac;
    size_t len;

    (void)state;
    signer_init(&s, 19, 16);
    build_everything(&s, &pac, &len);
    TU_OK(check_code(pac, len, &s));
    for (size_t n = 0; n < len; n++) {
        /* An exact-size heap copy, so ASan sees any over-read. */
        uint8_t *cut = malloc(n ? n : 1);
        hsmssp_err ret;

        assert_non_null(cut);
        memcpy(cut, pac, n);
        ret = check_code(cut, n, &s);
        if (ret == HSMSSP_OK)
            fail_msg("PAC cut to %zu of %zu bytes accepted", n, len);
        free(cut);
    }
    free(pac);
    signer_free(&s);
}

static void
test_every_bit_flip(void **state)
{
    signer s;
    uint8_t *pac;
    size_t len, ko, ks;

    (void)state;
    signer_init(&s, 20, 16);
    build_everything(&s, &pac, &len);
    assert_true(find(pac, len, 7, &ko, &ks));
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit += 3) {
            bool kdc_value = i >= ko + 4 && i < ko + ks;
            hsmssp_err ret;

            pac[i] ^= (uint8_t)(1u << bit);
            ret = check_code(pac, len, &s);
            pac[i] ^= (uint8_t)(1u << bit);
            if (kdc_value) {
                /* Not covered by the server signature (see above). */
                if (ret != HSMSSP_OK)
                    fail_msg("KDC signature byte %zu: %s", i,
                             hsmssp_err_name(ret));
            } else if (ret != HSMSSP_ERR_INTEGRITY &&
                       ret != HSMSSP_ERR_BAD_PAC &&
                       ret != HSMSSP_ERR_UNKNOWN_CKSUMTYPE) {
                fail_msg("byte %zu bit %u of %zu: %s", i, bit, len,
                         hsmssp_err_name(ret));
            }
        }
    }
    TU_OK(check_code(pac, len, &s));
    free(pac);
    signer_free(&s);
}

/* xorshift32: deterministic mutations. */
static uint32_t
rnd(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void
test_random_mutations(void **state)
{
    signer s;
    uint8_t *base[3], *m;
    size_t blen[3], ko[3], ks;
    uint32_t x = 0x2545F491u;
    unsigned ok_resigned = 0, refused = 0;

    (void)state;
    signer_init(&s, 16, 16);
    build_everything(&s, &base[0], &blen[0]);
    {
        pacb_logon l = bare_logon();
        pacb_opts o = std_opts(&s);

        o.logon = &l;
        build(&o, &base[1], &blen[1]);
        o = std_opts(&s);
        o.upn = "a@b";
        o.dns_domain = REALM;
        build(&o, &base[2], &blen[2]);
    }
    for (size_t b = 0; b < 3; b++)
        assert_true(find(base[b], blen[b], 7, &ko[b], &ks));
    m = malloc(blen[0] + blen[1] + blen[2]);
    assert_non_null(m);
    for (unsigned it = 0; it < 3000; it++) {
        size_t b = rnd(&x) % 3, len = blen[b];
        unsigned n = 1 + rnd(&x) % 6;
        bool resign = (it & 1) != 0, only_kdc = true;
        kerb_pac_info *info = NULL;
        hsmssp_err ret;

        memcpy(m, base[b], len);
        for (unsigned k = 0; k < n; k++) {
            size_t pos = rnd(&x) % len;
            uint8_t v = (uint8_t)rnd(&x);

            /* Small values and boundary bytes find more edges than
             * uniform bytes do. */
            if (v < 64)
                v = (uint8_t)(v % 4 == 0 ? 0 : v % 4 == 1 ? 0xFF : v);
            if (m[pos] != v && !(pos >= ko[b] + 4 && pos < ko[b] + ks))
                only_kdc = false;
            m[pos] = v;
        }
        if (resign && pacb_resign(m, len, sign_cb, &s) != HSMSSP_OK)
            resign = false;
        ret = kerb_pac_verify(m, len, &std_facts, verify_cb, &s, &info);
        if (ret == HSMSSP_OK) {
            /* Whatever got through is a consistent result. */
            assert_non_null(info);
            assert_true(strcmp(info->client_name, CLIENT) == 0 ||
                        strcmp(info->client_name, CLIENT "@" REALM) == 0);
            if (info->has_logon_info)
                assert_non_null(info->user_sid);
            if (!resign && !only_kdc)
                fail_msg("iteration %u: a changed, unsigned PAC passed", it);
            ok_resigned += resign;
        } else {
            assert_null(info);
            assert_true(ret == HSMSSP_ERR_BAD_PAC ||
                        ret == HSMSSP_ERR_INTEGRITY ||
                        ret == HSMSSP_ERR_UNKNOWN_CKSUMTYPE);
            refused++;
        }
        kerb_pac_info_free(info);
    }
    /* Both outcomes happened (the mutations are not all trivial). */
    assert_true(refused > 100);
    assert_true(ok_resigned > 10);
    free(m);
    for (size_t b = 0; b < 3; b++)
        free(base[b]);
    signer_free(&s);
}

static void
test_arguments(void **state)
{
    signer s;
    uint8_t *pac;
    size_t len;
    kerb_pac_info *info = (kerb_pac_info *)1;
    kerb_pac_ticket_facts f = std_facts;

    (void)state;
    signer_init(&s, 16, 16);
    {
        pacb_opts o = std_opts(&s);

        build(&o, &pac, &len);
    }
    TU_ERR(kerb_pac_verify(NULL, len, &f, verify_cb, &s, &info),
           HSMSSP_ERR_INVALID_ARGUMENT);
    assert_null(info);
    TU_ERR(kerb_pac_verify(pac, len, NULL, verify_cb, &s, &info),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_pac_verify(pac, len, &f, NULL, &s, &info),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_pac_verify(pac, len, &f, verify_cb, &s, NULL),
           HSMSSP_ERR_INVALID_ARGUMENT);
    f.client_realm = NULL;
    TU_ERR(kerb_pac_verify(pac, len, &f, verify_cb, &s, &info),
           HSMSSP_ERR_INVALID_ARGUMENT);
    kerb_pac_info_free(NULL);
    free(pac);
    signer_free(&s);
}

/* ---- fuzz seeds ------------------------------------------------------- */

/* Signer with the fuzz target's fixed keys (tests/fuzz/fuzz_pac.c). */
static void
fuzz_signer(signer *s, int32_t server_ct, int32_t kdc_ct)
{
    memset(s, 0, sizeof(*s));
    s->server_ct = server_ct;
    s->kdc_ct = kdc_ct;
    s->server_key = new_key(server_ct, true);
    s->kdc_key = new_key(kdc_ct, true);
}

/* The genuine seeds: builder PACs that the fuzz target's real key check
 * accepts.  Written by --write-seeds; checked by test_fuzz_seeds. */
static size_t
genuine_seed(size_t i, uint8_t **pac, size_t *len, char *name, size_t nsz)
{
    pacb_logon l = std_logon();
    signer s;
    pacb_opts o;
    int32_t ct;

    if (i >= 2 * BASE_ARRAY_LEN(all_cksumtypes) + 3)
        return 0;
    ct = all_cksumtypes[i % BASE_ARRAY_LEN(all_cksumtypes)];
    fuzz_signer(&s, ct, 16);
    o = std_opts(&s);
    if (i < BASE_ARRAY_LEN(all_cksumtypes)) {
        snprintf(name, nsz, "genuine-minimal-%d", (int)ct);
    } else if (i < 2 * BASE_ARRAY_LEN(all_cksumtypes)) {
        snprintf(name, nsz, "genuine-logon-upn-%d", (int)ct);
        o.logon = &l;
        o.upn = "alice@HSMSSP.TEST";
        o.dns_domain = REALM;
        o.upn_flags = 3;
        o.sam_name = "alice";
        o.upn_sid = DOMAIN_SID "-1105";
        o.ticket_checksum = true;
        o.full_checksum = true;
    } else if (i == 2 * BASE_ARRAY_LEN(all_cksumtypes)) {
        snprintf(name, nsz, "genuine-rodc-upn-plain");
        o.rodc = true;
        o.upn = "alice.l@corp.example";
        o.dns_domain = "hsmssp.test";
    } else if (i == 2 * BASE_ARRAY_LEN(all_cksumtypes) + 1) {
        snprintf(name, nsz, "genuine-bare-logon");
        l = bare_logon();
        o.logon = &l;
    } else {
        snprintf(name, nsz, "genuine-with-realm");
        o.client_name = CLIENT "@" REALM;
    }
    build(&o, pac, len);
    signer_free(&s);
    return 1;
}

static void
write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static int
write_seeds(const char *dir)
{
    char name[64];
    uint8_t *pac, *hex;
    size_t len, n;

    mkdir(dir, 0755);
    for (size_t i = 0; genuine_seed(i, &pac, &len, name, sizeof(name)); i++) {
        write_file(dir, name, pac, len);
        if (i == BASE_ARRAY_LEN(all_cksumtypes)) {
            /* Malformed neighbours of a full PAC. */
            write_file(dir, "cut-half", pac, len / 2);
            pac[4] = 1;
            write_file(dir, "bad-version", pac, len);
        }
        free(pac);
    }
    n = tu_hex(mspac_sample_hex, &hex);
    write_file(dir, "mspac-sample", hex, n);
    free(hex);
    n = tu_hex(mit_vectors[0].pac, &hex);
    write_file(dir, "mit-kdc-alice", hex, n);
    free(hex);
    write_file(dir, "empty", (const uint8_t *)"", 0);
    printf("seeds written to %s\n", dir);
    return 0;
}

/* The committed corpus still holds the genuine seeds byte for byte (the
 * builder, the fuzz keys and the facts have not drifted apart), so the
 * fuzzer starts from PACs that reach the success path. */
static void
test_fuzz_seeds(void **state)
{
    const char *vec = getenv("HSMSSP_VECTORS");
    char name[64], path[4096];
    unsigned checked = 0;
    uint8_t *pac;
    size_t len;

    (void)state;
    if (vec == NULL)
        tu_skip("HSMSSP_VECTORS not set");
    for (size_t i = 0; genuine_seed(i, &pac, &len, name, sizeof(name)); i++) {
        FILE *f;
        uint8_t *disk = malloc(len + 1);
        size_t got;

        assert_non_null(disk);
        snprintf(path, sizeof(path), "%s/../fuzz/corpus/fuzz_pac/%s", vec,
                 name);
        f = fopen(path, "rb");
        if (f == NULL)
            fail_msg("%s: %s (run test_pac --write-seeds)", path,
                     strerror(errno));
        got = fread(disk, 1, len + 1, f);
        fclose(f);
        assert_int_equal(got, len);
        assert_memory_equal(disk, pac, len);
        free(disk);
        free(pac);
        checked++;
    }
    assert_int_equal(checked, 2 * BASE_ARRAY_LEN(all_cksumtypes) + 3);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cksum_table),
        cmocka_unit_test(test_roundtrip_minimal),
        cmocka_unit_test(test_roundtrip_full),
        cmocka_unit_test(test_logon_variants),
        cmocka_unit_test(test_mspac_sample),
        cmocka_unit_test(test_mit_kdc_vectors),
        cmocka_unit_test(test_mit_oracle),
        cmocka_unit_test(test_client_info_rules),
        cmocka_unit_test(test_upn_rules),
        cmocka_unit_test(test_missing_and_duplicates),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_signature_rules),
        cmocka_unit_test(test_ndr_rules),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_every_bit_flip),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_fuzz_seeds),
    };

    if (krbsw_init() != HSMSSP_OK)
        return 1;
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
