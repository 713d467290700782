/*
 * tests/fuzz/fuzz_pac.c - libFuzzer target for kerb_pac_verify()
 * (provider/kerberos/kerb_pac.c), the MS-PAC parser of the acceptor.
 *
 * Why: the PAC arrives inside a ticket a peer presents.  Its header,
 * signature buffers, CLIENT_INFO, UPN_DNS_INFO and the NDR-encoded
 * LOGON_INFO must give a verified result or a clean error for every byte
 * string, never a crash, an over-read, a leak or an accepted forgery.
 *
 * Input: the PAC bytes, as is.  Each input is verified three times with
 * the fixed ticket facts below (client "alice", realm HSMSSP.TEST,
 * authtime 1700000000):
 *   1. with a real checksum check (hsm/krbsw.h) under fixed public keys,
 *      one per checksum type (fuzz_key_bytes() of fuzzcommon.h for etypes
 *      17, 18, 19, 20, 23), so genuine seeds reach the success path;
 *   2. with a verify function that accepts any signature, so that random
 *      content reaches the CLIENT_INFO, UPN_DNS_INFO and NDR decoders,
 *      which a real signature check would shield from the fuzzer;
 *   3. with one that rejects every signature.
 * Invariants: run 3 never succeeds; a success in run 1 is a success in
 * run 2 (the content checks do not depend on the key); every result is OK
 * or one of BAD_PAC, INTEGRITY, UNKNOWN_CKSUMTYPE; on success the info is
 * complete (names match the facts, every SID string is present) and on
 * failure it is NULL.
 *
 * Seeds (corpus/fuzz_pac/) are written by the unit test executable:
 *     tests/unit/provider/test_pac --write-seeds DIR
 * (builder PACs of every checksum type and shape signed with the keys
 * above, truncations, the MS-PAC sample, an MIT KDC PAC); the unit test
 * also checks that the committed genuine seeds still verify.
 */
#include <string.h>

#include "fuzzcommon.h"
#include "hsm/krbsw.h"
#include "provider/kerberos/kerb_pac.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CLIENT "alice"
#define FZ_REALM "HSMSSP.TEST"
#define FZ_AUTHTIME 1700000000

/* The fixed keys, indexed like fuzz_etype_at(). */
static base_secret *fz_keys[FUZZ_N_ETYPES];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(krbsw_init() == HSMSSP_OK, "krbsw_init");
    for (size_t i = 0; i < FUZZ_N_ETYPES; i++) {
        int32_t et = fuzz_etype_at(i);
        size_t kl = (et == 18 || et == 20) ? 32 : 16;

        FUZZ_CHECK(base_secret_new(kl, kl, &fz_keys[i]) == HSMSSP_OK,
                   "key buffer");
        fuzz_key_bytes(et, fz_keys[i]->data, kl);
    }
    return 0;
}

/* The etype whose mandatory checksum is cksumtype. */
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

static hsmssp_err
verify_real(void *arg, int32_t cksumtype, const uint8_t *data, size_t len,
            const uint8_t *cksum, size_t cksum_len)
{
    int32_t et = etype_of(cksumtype);
    uint8_t mac[64];
    size_t mac_len = 0;
    hsmssp_err ret;

    (void)arg;
    if (et == 0)
        return HSMSSP_ERR_UNKNOWN_CKSUMTYPE;
    for (size_t i = 0; i < FUZZ_N_ETYPES; i++) {
        if (fuzz_etype_at(i) != et)
            continue;
        ret =
            krbsw_checksum(et, fz_keys[i]->data, 17, data, len, mac, &mac_len);
        if (ret != HSMSSP_OK)
            return ret;
        return mac_len == cksum_len && base_ct_equal(mac, cksum, mac_len)
                   ? HSMSSP_OK
                   : HSMSSP_ERR_INTEGRITY;
    }
    return HSMSSP_ERR_UNKNOWN_CKSUMTYPE;
}

static hsmssp_err
verify_any(void *arg, int32_t cksumtype, const uint8_t *data, size_t len,
           const uint8_t *cksum, size_t cksum_len)
{
    volatile uint8_t sink = 0;

    (void)arg;
    /* Read every byte handed over, so that ASan checks both ranges. */
    for (size_t i = 0; i < len; i++)
        sink ^= data[i];
    for (size_t i = 0; i < cksum_len; i++)
        sink ^= cksum[i];
    (void)sink;
    FUZZ_CHECK(cksum_len == kerb_pac_cksum_len(cksumtype),
               "checksum length %zu for type %d", cksum_len, (int)cksumtype);
    return HSMSSP_OK;
}

static hsmssp_err
verify_none(void *arg, int32_t cksumtype, const uint8_t *data, size_t len,
            const uint8_t *cksum, size_t cksum_len)
{
    (void)arg;
    (void)cksumtype;
    (void)data;
    (void)len;
    (void)cksum;
    (void)cksum_len;
    return HSMSSP_ERR_INTEGRITY;
}

static void
check_sids(const kerb_pac_sid *s, size_t n, size_t limit, const char *what)
{
    FUZZ_CHECK(n <= limit && (n == 0 || s != NULL), "%s: %zu", what, n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(s[i].sid != NULL && strncmp(s[i].sid, "S-1-", 4) == 0,
                   "%s[%zu]", what, i);
}

/* The invariants of one result. */
static void
check(hsmssp_err ret, const kerb_pac_info *info)
{
    if (ret != HSMSSP_OK) {
        FUZZ_CHECK(info == NULL, "info left after %s", hsmssp_err_name(ret));
        FUZZ_CHECK(ret == HSMSSP_ERR_BAD_PAC || ret == HSMSSP_ERR_INTEGRITY ||
                       ret == HSMSSP_ERR_UNKNOWN_CKSUMTYPE,
                   "unexpected %s", hsmssp_err_name(ret));
        return;
    }
    FUZZ_CHECK(info != NULL && info->client_name != NULL, "no client");
    FUZZ_CHECK(strcmp(info->client_name, FZ_CLIENT) == 0 ||
                   strcmp(info->client_name, FZ_CLIENT "@" FZ_REALM) == 0,
               "client name accepted that is not the ticket's");
    FUZZ_CHECK(kerb_pac_cksum_len(info->server_cksumtype) != 0 &&
                   kerb_pac_cksum_len(info->kdc_cksumtype) != 0,
               "signature types");
    if (info->has_upn_dns_info)
        FUZZ_CHECK(info->upn != NULL && info->dns_domain != NULL &&
                       strlen(info->dns_domain) == strlen(FZ_REALM),
                   "UPN_DNS_INFO");
    else
        FUZZ_CHECK(info->upn == NULL && info->dns_domain == NULL, "UPN");
    if (!info->has_logon_info) {
        FUZZ_CHECK(info->user_sid == NULL && info->n_groups == 0,
                   "logon fields without LOGON_INFO");
        return;
    }
    FUZZ_CHECK(info->user_sid != NULL && info->logon_domain_sid != NULL &&
                   info->primary_group_sid != NULL &&
                   info->effective_name != NULL &&
                   info->logon_domain_name != NULL,
               "LOGON_INFO fields missing");
    check_sids(info->groups, info->n_groups, KERB_PAC_MAX_GROUPS, "groups");
    check_sids(info->extra_sids, info->n_extra_sids, KERB_PAC_MAX_SIDS,
               "extra");
    check_sids(info->resource_groups, info->n_resource_groups,
               KERB_PAC_MAX_GROUPS, "resource");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const kerb_pac_ticket_facts facts = {FZ_CLIENT, FZ_REALM, FZ_AUTHTIME};
    kerb_pac_info *info = NULL;
    hsmssp_err real, any, none;

    real = kerb_pac_verify(data, size, &facts, verify_real, NULL, &info);
    check(real, info);
    kerb_pac_info_free(info);
    any = kerb_pac_verify(data, size, &facts, verify_any, NULL, &info);
    check(any, info);
    kerb_pac_info_free(info);
    FUZZ_CHECK(real != HSMSSP_OK || any == HSMSSP_OK,
               "verified with the key but refused without it: %s",
               hsmssp_err_name(any));
    none = kerb_pac_verify(data, size, &facts, verify_none, NULL, &info);
    FUZZ_CHECK(none != HSMSSP_OK && info == NULL,
               "accepted with a rejecting verify function");
    return 0;
}
