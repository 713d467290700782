/*
 * provider/kerberos/kerb_pac.c - MS-PAC parsing and verification (see
 * kerb_pac.h for the contract, docs/pac.md for the rules).
 *
 * Structure.  kerb_pac_verify() works in four passes over the caller's
 * bytes, each of which can fail with HSMSSP_ERR_BAD_PAC before the next
 * one starts:
 *   1. the PACTYPE header and PAC_INFO_BUFFER table: counts, alignment,
 *      bounds, no duplicate type, no two buffers overlapping;
 *   2. the signature buffers' form (type, length for the type);
 *   3. the server signature, through the caller's verify function, over a
 *      heap copy of the PAC whose server and KDC Signature bytes are zero;
 *   4. the content buffers (CLIENT_INFO, UPN_DNS_INFO, LOGON_INFO) and the
 *      comparison with the ticket.
 * Content is only interpreted after the signature is known good, so the
 * NDR decoder of pass 4 sees attacker-chosen bytes only when the KDC (or
 * someone holding the service key) made them; it is bounded all the same,
 * because the service key is not the only way to reach it (fuzzing, a
 * compromised service account).
 *
 * Reading.  Every read goes through the `rd' cursor below: it checks the
 * remaining length before touching memory and turns any short read into a
 * sticky `bad' flag, so a decoder reads a whole structure and tests the
 * flag once.  The cursor's position never exceeds its length, and every
 * size computation is done on values already known to be small (bounded
 * by the 64 KiB PAC limit or the KERB_PAC_MAX_* counts), so no size_t
 * expression here can wrap.
 *
 * NDR.  LOGON_INFO is a KERB_VALIDATION_INFO serialized with the MS-RPCE
 * 2.2.6 type serialization version 1 (common header, private header, then
 * NDR 2.0 little-endian data, 32-bit pointers).  The decoder is written
 * for this one type, by hand, not as a general NDR engine: it reads the
 * fixed part of the structure (top-level referent, scalars, the
 * RPC_UNICODE_STRING headers and embedded pointers) and then the deferred
 * referents in the order their pointers appear [C706 14.3.12.3], checking
 * each conformance and variance count against the count the structure
 * declared.  No recursion: the only nesting is RPC_SID inside the
 * ExtraSids array, handled by one loop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/kerberos/kerb_pac.h"

#define BAD(...) BASE_ERR(HSMSSP_ERR_BAD_PAC, __VA_ARGS__)

#define PACTYPE_LEN 8u
#define INFO_BUFFER_LEN 16u
#define CLIENT_INFO_FIXED 10u /* ClientId (8) + NameLength (2) */
#define SIG_TYPE_LEN 4u       /* PAC_SIGNATURE_DATA SignatureType */
#define RODC_ID_LEN 2u        /* optional RODCIdentifier [MS-PAC 2.8] */
#define UPN_FIXED 12u         /* UPN_DNS_INFO without the S extension */
#define UPN_FIXED_S 20u       /* ... with SamName and Sid fields */

/* FILETIME of the Unix epoch: seconds from 1601 to 1970 [MS-DTYP]. */
#define FILETIME_UNIX_EPOCH_S 11644473600LL
#define FILETIME_PER_S 10000000ULL

/* ---- bounded little-endian reader ----------------------------------- */

typedef struct rd {
    const uint8_t *buf;
    size_t len;
    size_t pos; /* invariant: pos <= len */
    bool bad;   /* a read ran past len: every later read yields 0 */
} rd;

static void
rd_init(rd *r, const uint8_t *buf, size_t len)
{
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    r->bad = false;
}

/* True when n more bytes are available; otherwise marks the reader bad.
 * Written as a subtraction so that no addition can wrap. */
static bool
rd_need(rd *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return false;
    }
    return true;
}

static const uint8_t *
rd_bytes(rd *r, size_t n)
{
    const uint8_t *p;

    if (!rd_need(r, n))
        return NULL;
    p = r->buf + r->pos;
    r->pos += n;
    return p;
}

static uint8_t
rd_u8(rd *r)
{
    const uint8_t *p = rd_bytes(r, 1);
    return p != NULL ? p[0] : 0;
}

static uint16_t
rd_u16(rd *r)
{
    const uint8_t *p = rd_bytes(r, 2);
    return p != NULL ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}

static uint32_t
rd_u32(rd *r)
{
    const uint8_t *p = rd_bytes(r, 4);
    return p != NULL ? ((uint32_t)p[0] | ((uint32_t)p[1] << 8) |
                        ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24))
                     : 0;
}

static uint64_t
rd_u64(rd *r)
{
    uint64_t lo = rd_u32(r);
    return lo | ((uint64_t)rd_u32(r) << 32);
}

/* NDR aligns every primitive to its size, relative to the start of the
 * serialized data [C706 14.2.2]; the padding bytes carry no meaning and
 * are skipped unread. */
static void
rd_align(rd *r, size_t a)
{
    size_t pad = (a - r->pos % a) % a;

    (void)rd_bytes(r, pad);
}

static uint32_t
ndr_u32(rd *r)
{
    rd_align(r, 4);
    return rd_u32(r);
}

static uint16_t
ndr_u16(rd *r)
{
    rd_align(r, 2);
    return rd_u16(r);
}

/* ---- strings ---------------------------------------------------------- */

/*
 * UTF-16LE (n bytes) to a NUL-terminated UTF-8 heap string.  Refuses an
 * odd length, an unpaired surrogate and U+0000: a NUL inside a name would
 * cut the C string short and let "alice\0x" compare equal to "alice".
 * Each UTF-16 unit becomes at most 3 UTF-8 bytes (a surrogate pair, two
 * units, becomes 4), so n / 2 * 3 + 1 bytes always suffice; n is at most
 * 64 KiB, so the product cannot wrap.
 */
static hsmssp_err
utf16le_to_utf8(const uint8_t *p, size_t n, const char *what, char **out)
{
    char *s, *o;
    size_t i = 0;

    *out = NULL;
    if (n % 2 != 0)
        return BAD("PAC %s: odd UTF-16 byte length %zu", what, n);
    s = malloc(n / 2 * 3 + 1);
    if (s == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    o = s;
    while (i < n) {
        uint32_t c = (uint32_t)p[i] | ((uint32_t)p[i + 1] << 8);

        i += 2;
        if (c >= 0xD800 && c <= 0xDBFF) {
            uint32_t lo;

            if (i >= n)
                goto bad_surrogate;
            lo = (uint32_t)p[i] | ((uint32_t)p[i + 1] << 8);
            if (lo < 0xDC00 || lo > 0xDFFF)
                goto bad_surrogate;
            i += 2;
            c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        } else if (c >= 0xDC00 && c <= 0xDFFF) {
            goto bad_surrogate;
        } else if (c == 0) {
            free(s);
            return BAD("PAC %s: NUL character in a string", what);
        }
        if (c < 0x80) {
            *o++ = (char)c;
        } else if (c < 0x800) {
            *o++ = (char)(0xC0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            *o++ = (char)(0xE0 | (c >> 12));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (char)(0x80 | (c & 0x3F));
        } else {
            *o++ = (char)(0xF0 | (c >> 18));
            *o++ = (char)(0x80 | ((c >> 12) & 0x3F));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *o = '\0';
    *out = s;
    return HSMSSP_OK;
bad_surrogate:
    free(s);
    return BAD("PAC %s: unpaired UTF-16 surrogate", what);
}

/* ASCII case-insensitive equality; other bytes must match exactly (realm
 * and DNS names are ASCII in practice, and a locale-dependent strcasecmp
 * has no place in an authorization check). */
static bool
ascii_caseeq(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;

        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
        if (x == '\0')
            return true;
    }
}

/* ---- SIDs ------------------------------------------------------------- */

/* A decoded SID [MS-DTYP 2.4.2.2]: the 48-bit identifier authority and up
 * to KERB_PAC_MAX_SUBAUTH sub-authorities. */
typedef struct sid {
    uint8_t count;
    uint64_t auth;
    uint32_t sub[KERB_PAC_MAX_SUBAUTH];
} sid;

/* Formats s, with rid appended when with_rid, as an MS-DTYP 2.4.2.1
 * string: the authority in decimal below 2^32, else as 0x + 12 hex
 * digits.  The caller has checked that count (+1) stays within 15. */
static hsmssp_err
sid_to_string(const sid *s, bool with_rid, uint32_t rid, char **out)
{
    /* "S-1-" + "0x" 12 hex + 16 * "-4294967295" + NUL < 256 */
    char buf[256];
    size_t n;

    *out = NULL;
    if (s->auth < ((uint64_t)1 << 32))
        n = (size_t)snprintf(buf, sizeof(buf), "S-1-%" PRIu64, s->auth);
    else
        n = (size_t)snprintf(buf, sizeof(buf), "S-1-0x%012" PRIX64, s->auth);
    for (uint8_t i = 0; i < s->count; i++)
        n +=
            (size_t)snprintf(buf + n, sizeof(buf) - n, "-%" PRIu32, s->sub[i]);
    if (with_rid)
        (void)snprintf(buf + n, sizeof(buf) - n, "-%" PRIu32, rid);
    *out = strdup(buf);
    return *out != NULL ? HSMSSP_OK : BASE_ERR0(HSMSSP_ERR_NOMEM);
}

/* Reads the body of a SID (Revision, SubAuthorityCount,
 * IdentifierAuthority big-endian, SubAuthority[] little-endian), which
 * is both the MS-DTYP binary form and, after its conformance word, the
 * NDR form of RPC_SID.  Returns false (reader marked bad, or a
 * structural error) with *why set. */
static bool
rd_sid_body(rd *r, sid *s, const char **why)
{
    uint8_t rev = rd_u8(r);
    const uint8_t *a;

    s->count = rd_u8(r);
    a = rd_bytes(r, 6);
    if (r->bad) {
        *why = "truncated SID";
        return false;
    }
    if (rev != 1) {
        *why = "SID revision is not 1";
        return false;
    }
    if (s->count > KERB_PAC_MAX_SUBAUTH) {
        *why = "SID has more than 15 sub-authorities";
        return false;
    }
    s->auth = 0;
    for (size_t i = 0; i < 6; i++)
        s->auth = (s->auth << 8) | a[i];
    for (uint8_t i = 0; i < s->count; i++)
        s->sub[i] = rd_u32(r);
    if (r->bad) {
        *why = "truncated SID";
        return false;
    }
    return true;
}

/* ---- signature table ------------------------------------------------ */

/* Keyed checksum types a PAC signature may use and their lengths.  The
 * MS-PAC table lists -138 and 15/16; MIT KDCs also sign with the RFC 8009
 * types of aes-sha2 keys and with CMAC for camellia krbtgt keys.  Unkeyed
 * types (CRC32, RSA-MD5, SHA-1) are absent on purpose: anyone can compute
 * them, so a PAC "signed" with one proves nothing. */
static const struct {
    int32_t type;
    size_t len;
} cksum_table[] = {
    {15, 12},   /* hmac-sha1-96-aes128 [RFC 3962] */
    {16, 12},   /* hmac-sha1-96-aes256 */
    {17, 16},   /* cmac-camellia128 [RFC 6803] */
    {18, 16},   /* cmac-camellia256 */
    {19, 16},   /* hmac-sha256-128-aes128 [RFC 8009] */
    {20, 24},   /* hmac-sha384-192-aes256 */
    {-138, 16}, /* hmac-md5 [RFC 4757] */
};

size_t
kerb_pac_cksum_len(int32_t cksumtype)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(cksum_table); i++)
        if (cksum_table[i].type == cksumtype)
            return cksum_table[i].len;
    return 0;
}

/* ---- header ----------------------------------------------------------- */

typedef struct pac_buf {
    uint32_t type;
    size_t off;
    size_t size;
} pac_buf;

typedef struct pac_view {
    const uint8_t *data;
    size_t len;
    size_t n;
    pac_buf bufs[KERB_PAC_MAX_BUFFERS];
} pac_view;

/* Pass 1: the PACTYPE header and the PAC_INFO_BUFFER table [MS-PAC 2.3,
 * 2.4].  Offsets are 64-bit on the wire: each is compared with len before
 * it is narrowed, and size <= len - off replaces off + size <= len. */
static hsmssp_err
parse_header(const uint8_t *pac, size_t len, pac_view *v)
{
    uint32_t count, version;
    size_t header_len;
    rd r;

    if (len < PACTYPE_LEN)
        return BAD("PAC of %zu bytes is shorter than its header", len);
    if (len > KERB_PAC_MAX_LEN)
        return BAD("PAC of %zu bytes exceeds the %u-byte limit", len,
                   KERB_PAC_MAX_LEN);
    rd_init(&r, pac, len);
    count = rd_u32(&r);
    version = rd_u32(&r);
    if (version != 0)
        return BAD("PAC version %" PRIu32 " (must be 0)", version);
    if (count == 0 || count > KERB_PAC_MAX_BUFFERS)
        return BAD("PAC has %" PRIu32 " buffers (1 to %u allowed)", count,
                   KERB_PAC_MAX_BUFFERS);
    header_len = PACTYPE_LEN + (size_t)count * INFO_BUFFER_LEN;
    if (header_len > len)
        return BAD("PAC buffer table (%" PRIu32 " entries) runs past its "
                   "%zu bytes",
                   count, len);
    v->data = pac;
    v->len = len;
    v->n = count;
    for (size_t i = 0; i < count; i++) {
        uint32_t type = rd_u32(&r);
        uint32_t size = rd_u32(&r);
        uint64_t off = rd_u64(&r);

        if (off % 8 != 0)
            return BAD("PAC buffer %zu (type %" PRIu32 ") offset %" PRIu64
                       " is not 8-aligned",
                       i, type, off);
        if (off < header_len || off > len || size > len - (size_t)off)
            return BAD("PAC buffer %zu (type %" PRIu32 ") at %" PRIu64
                       " size %" PRIu32 " lies outside %zu..%zu",
                       i, type, off, size, header_len, len);
        v->bufs[i] = (pac_buf){type, (size_t)off, size};
    }
    /* Each type at most once: MS-PAC says to ignore a second LOGON_INFO,
     * CLIENT_INFO or signature, but "ignore" leaves it to the reader which
     * one counts; refusing removes that ambiguity (MIT refuses a second
     * buffer of any type it looks up).  Overlapping buffers are refused
     * too: a signature buffer overlapping content would let the zeroing
     * of pass 3 hide the content from the signature. */
    for (size_t i = 0; i < count; i++) {
        for (size_t j = i + 1; j < count; j++) {
            const pac_buf *a = &v->bufs[i], *b = &v->bufs[j];

            if (a->type == b->type)
                return BAD("PAC has two buffers of type %" PRIu32, a->type);
            if (a->size > 0 && b->size > 0 && a->off < b->off + b->size &&
                b->off < a->off + a->size)
                return BAD("PAC buffers of types %" PRIu32 " and %" PRIu32
                           " overlap",
                           a->type, b->type);
        }
    }
    return HSMSSP_OK;
}

static const pac_buf *
find_buf(const pac_view *v, uint32_t type)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->bufs[i].type == type)
            return &v->bufs[i];
    return NULL;
}

/* Pass 2: one PAC_SIGNATURE_DATA [MS-PAC 2.8]: SignatureType, then
 * exactly the type's signature length, then optionally the 2-byte
 * RODCIdentifier.  An unknown type is HSMSSP_ERR_UNKNOWN_CKSUMTYPE for
 * the server signature (the one we must verify) and BAD_PAC for the
 * others. */
static hsmssp_err
parse_sig(const pac_view *v, const pac_buf *b, const char *what, bool server,
          int32_t *type_out, size_t *len_out)
{
    size_t clen;
    int32_t type;
    rd r;

    *type_out = 0;
    *len_out = 0;
    if (b->size < SIG_TYPE_LEN)
        return BAD("PAC %s signature buffer of %zu bytes", what, b->size);
    rd_init(&r, v->data + b->off, b->size);
    type = (int32_t)rd_u32(&r);
    clen = kerb_pac_cksum_len(type);
    if (clen == 0 && server)
        return BASE_ERR(HSMSSP_ERR_UNKNOWN_CKSUMTYPE,
                        "PAC server signature type %" PRId32, type);
    if (clen == 0)
        return BAD("PAC %s signature type %" PRId32 " is no keyed checksum",
                   what, type);
    if (b->size != SIG_TYPE_LEN + clen &&
        b->size != SIG_TYPE_LEN + clen + RODC_ID_LEN)
        return BAD("PAC %s signature of %zu bytes for type %" PRId32, what,
                   b->size - SIG_TYPE_LEN, type);
    *type_out = type;
    *len_out = clen;
    return HSMSSP_OK;
}

/*
 * Pass 3: the server signature [MS-PAC 2.8.4]: a checksum over the whole
 * PAC "with the Signature fields of both PAC_SIGNATURE_DATA structures
 * set to zero".  Zeroed are all bytes after SignatureType in the server
 * and KDC buffers, an RODCIdentifier included, as MIT, Heimdal and Samba
 * do.  The ticket (16) and extended KDC (19) signatures are not zeroed:
 * they are computed before the server signature [MS-PAC 2.8.1] and the
 * server signature covers them.
 */
static hsmssp_err
verify_server_sig(const pac_view *v, const pac_buf *srv, const pac_buf *kdc,
                  int32_t type, size_t clen, kerb_pac_verify_fn verify,
                  void *arg)
{
    uint8_t *copy = malloc(v->len);
    hsmssp_err ret;

    if (copy == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    memcpy(copy, v->data, v->len);
    memset(copy + srv->off + SIG_TYPE_LEN, 0, srv->size - SIG_TYPE_LEN);
    memset(copy + kdc->off + SIG_TYPE_LEN, 0, kdc->size - SIG_TYPE_LEN);
    ret = verify(arg, type, copy, v->len, v->data + srv->off + SIG_TYPE_LEN,
                 clen);
    free(copy);
    if (ret == HSMSSP_ERR_INTEGRITY)
        return BASE_ERR(
            ret, "PAC server signature (type %" PRId32 ") does not verify",
            type);
    return ret;
}

/* ---- CLIENT_INFO ------------------------------------------------------ */

/* The FILETIME of Unix time t, or false when t is outside what a FILETIME
 * holds. */
static bool
unix_to_filetime(int64_t t, uint64_t *ft)
{
    uint64_t s;

    if (t < -FILETIME_UNIX_EPOCH_S)
        return false;
    /* In unsigned arithmetic: t + epoch would overflow int64_t near
     * INT64_MAX, while the unsigned sum is exact for every t >= -epoch. */
    s = (uint64_t)t + (uint64_t)FILETIME_UNIX_EPOCH_S;
    if (s > UINT64_MAX / FILETIME_PER_S)
        return false;
    *ft = s * FILETIME_PER_S;
    return true;
}

/* True when s is prefix "@" suffix, prefix compared exactly and suffix
 * either exactly (suffix_ci false) or ASCII case-insensitively. */
static bool
is_name_at(const char *s, const char *prefix, const char *suffix,
           bool suffix_ci)
{
    size_t n = strlen(prefix);

    if (strncmp(s, prefix, n) != 0 || s[n] != '@')
        return false;
    return suffix_ci ? ascii_caseeq(s + n + 1, suffix)
                     : strcmp(s + n + 1, suffix) == 0;
}

/*
 * PAC_CLIENT_INFO [MS-PAC 2.7]: ClientId is the ticket's authtime as a
 * FILETIME and must equal it exactly (KDCs write whole seconds); Name is
 * the client principal, which MIT writes without the realm for a local
 * client and as name@REALM for a cross-realm one (krb5_pac_sign_ext
 * with_realm), so both forms are accepted, the realm compared exactly.
 * This check is what ties the PAC to this ticket: without it, a PAC
 * validly signed for another client could be spliced into a ticket.
 */
static hsmssp_err
parse_client_info(const pac_view *v, const pac_buf *b,
                  const kerb_pac_ticket_facts *facts, kerb_pac_info *info)
{
    uint64_t client_id, expect;
    uint16_t name_len;
    hsmssp_err ret;
    rd r;

    if (b->size < CLIENT_INFO_FIXED)
        return BAD("PAC CLIENT_INFO of %zu bytes", b->size);
    rd_init(&r, v->data + b->off, b->size);
    client_id = rd_u64(&r);
    name_len = rd_u16(&r);
    if (name_len == 0 || b->size != CLIENT_INFO_FIXED + (size_t)name_len)
        return BAD("PAC CLIENT_INFO name of %u bytes in a %zu-byte buffer",
                   name_len, b->size);
    ret = utf16le_to_utf8(rd_bytes(&r, name_len), name_len, "CLIENT_INFO",
                          &info->client_name);
    if (ret != HSMSSP_OK)
        return ret;
    if (!unix_to_filetime(facts->authtime, &expect) || client_id != expect)
        return BAD("PAC CLIENT_INFO time does not match the ticket "
                   "authtime %" PRId64,
                   facts->authtime);
    if (strcmp(info->client_name, facts->client_name) != 0 &&
        !is_name_at(info->client_name, facts->client_name, facts->client_realm,
                    false))
        return BAD("PAC CLIENT_INFO name does not match the ticket client "
                   "'%s'",
                   facts->client_name);
    return HSMSSP_OK;
}

/* ---- UPN_DNS_INFO ----------------------------------------------------- */

/* One (length, offset) string of UPN_DNS_INFO, relative to the buffer;
 * it must lie after the fixed fields (fixed) and inside the buffer. */
static hsmssp_err
upn_field(const uint8_t *buf, size_t size, size_t fixed, uint16_t len,
          uint16_t off, const char *what, const uint8_t **p_out)
{
    *p_out = NULL;
    if (len == 0)
        return BAD("PAC UPN_DNS_INFO %s is empty", what);
    if (off < fixed || off > size || len > size - off)
        return BAD("PAC UPN_DNS_INFO %s (%u bytes at %u) outside the "
                   "%zu-byte buffer",
                   what, len, off, size);
    *p_out = buf + off;
    return HSMSSP_OK;
}

/*
 * UPN_DNS_INFO [MS-PAC 2.10] (optional).  Rules (docs/pac.md):
 *  - DnsDomainName must equal the ticket's realm, ASCII case-insensitive
 *    (AD realms are the upper-cased DNS domain);
 *  - with the U flag the UPN was constructed as sAMAccountName@dns-domain,
 *    so it must be client_name@realm, the name exact, the domain ASCII
 *    case-insensitive;
 *  - without U the UPN is the account's userPrincipalName attribute, whose
 *    suffix may legitimately be any UPN suffix of the forest and whose
 *    name part need not be the account name: it is only required to have
 *    the form name@domain with both parts non-empty;
 *  - with the S flag, SamName and Sid follow (a binary SID of exactly
 *    8 + 4 * SubAuthorityCount bytes).
 */
static hsmssp_err
parse_upn_dns(const pac_view *v, const pac_buf *b,
              const kerb_pac_ticket_facts *facts, kerb_pac_info *info)
{
    const uint8_t *buf = v->data + b->off, *p;
    uint16_t upn_len, upn_off, dns_len, dns_off;
    size_t fixed = UPN_FIXED;
    const char *at;
    hsmssp_err ret;
    rd r;

    if (b->size < UPN_FIXED)
        return BAD("PAC UPN_DNS_INFO of %zu bytes", b->size);
    rd_init(&r, buf, b->size);
    upn_len = rd_u16(&r);
    upn_off = rd_u16(&r);
    dns_len = rd_u16(&r);
    dns_off = rd_u16(&r);
    info->upn_flags = rd_u32(&r);
    info->has_upn_dns_info = true;
    if (info->upn_flags & KERB_PAC_UPN_HAS_SAM_SID) {
        uint16_t sam_len, sam_off, sid_len, sid_off;
        const char *why = NULL;
        sid s;
        rd sr;

        fixed = UPN_FIXED_S;
        if (b->size < UPN_FIXED_S)
            return BAD("PAC UPN_DNS_INFO with S flag of %zu bytes", b->size);
        sam_len = rd_u16(&r);
        sam_off = rd_u16(&r);
        sid_len = rd_u16(&r);
        sid_off = rd_u16(&r);
        ret = upn_field(buf, b->size, fixed, sam_len, sam_off, "SamName", &p);
        if (ret == HSMSSP_OK)
            ret = utf16le_to_utf8(p, sam_len, "UPN_DNS_INFO SamName",
                                  &info->sam_name);
        if (ret == HSMSSP_OK)
            ret = upn_field(buf, b->size, fixed, sid_len, sid_off, "Sid", &p);
        if (ret != HSMSSP_OK)
            return ret;
        rd_init(&sr, p, sid_len);
        if (!rd_sid_body(&sr, &s, &why))
            return BAD("PAC UPN_DNS_INFO Sid: %s", why);
        if (sr.pos != sid_len)
            return BAD("PAC UPN_DNS_INFO Sid of %u bytes for %u "
                       "sub-authorities",
                       sid_len, s.count);
        ret = sid_to_string(&s, false, 0, &info->upn_sid);
        if (ret != HSMSSP_OK)
            return ret;
    }
    ret = upn_field(buf, b->size, fixed, upn_len, upn_off, "UPN", &p);
    if (ret == HSMSSP_OK)
        ret = utf16le_to_utf8(p, upn_len, "UPN_DNS_INFO UPN", &info->upn);
    if (ret == HSMSSP_OK)
        ret = upn_field(buf, b->size, fixed, dns_len, dns_off, "DnsDomainName",
                        &p);
    if (ret == HSMSSP_OK)
        ret = utf16le_to_utf8(p, dns_len, "UPN_DNS_INFO DnsDomainName",
                              &info->dns_domain);
    if (ret != HSMSSP_OK)
        return ret;
    if (!ascii_caseeq(info->dns_domain, facts->client_realm))
        return BAD("PAC UPN_DNS_INFO DNS domain does not match the ticket "
                   "realm '%s'",
                   facts->client_realm);
    if (info->upn_flags & KERB_PAC_UPN_CONSTRUCTED) {
        if (!is_name_at(info->upn, facts->client_name, facts->client_realm,
                        true))
            return BAD("PAC UPN_DNS_INFO constructed UPN is not '%s@%s'",
                       facts->client_name, facts->client_realm);
    } else {
        at = strrchr(info->upn, '@');
        if (at == NULL || at == info->upn || at[1] == '\0')
            return BAD("PAC UPN_DNS_INFO UPN is not of the form "
                       "name@domain");
    }
    return HSMSSP_OK;
}

/* ---- LOGON_INFO (NDR) ------------------------------------------------- */

/* An RPC_UNICODE_STRING header [MS-DTYP 2.3.10]: Length and MaximumLength
 * in bytes, and the Buffer pointer's referent id (0 = null). */
typedef struct ustr {
    uint16_t len;
    uint16_t max;
    uint32_t ptr;
} ustr;

static void
rd_ustr(rd *r, ustr *u)
{
    u->len = ndr_u16(r);
    u->max = ndr_u16(r);
    u->ptr = ndr_u32(r);
}

/*
 * The deferred body of an RPC_UNICODE_STRING: Buffer is
 * [size_is(MaximumLength/2), length_is(Length/2)] WCHAR *, a conformant
 * varying array: MaxCount, Offset, ActualCount, then ActualCount units.
 * Each count must be the one the header implies.  A null pointer (only
 * valid with Length 0) and an empty string both give "".
 */
static hsmssp_err
rd_ustr_body(rd *r, const ustr *u, const char *what, char **out)
{
    uint32_t max_count, offset, actual;
    const uint8_t *p;

    *out = NULL;
    if (u->len % 2 != 0 || u->max % 2 != 0 || u->len > u->max)
        return BAD("PAC LOGON_INFO %s: Length %u, MaximumLength %u", what,
                   u->len, u->max);
    if (u->ptr == 0) {
        if (u->len != 0)
            return BAD("PAC LOGON_INFO %s: null buffer of length %u", what,
                       u->len);
        *out = strdup("");
        return *out != NULL ? HSMSSP_OK : BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    max_count = ndr_u32(r);
    offset = ndr_u32(r);
    actual = ndr_u32(r);
    p = rd_bytes(r, (size_t)u->len);
    if (r->bad)
        return BAD("PAC LOGON_INFO %s: truncated", what);
    if (max_count != u->max / 2u || offset != 0 || actual != u->len / 2u)
        return BAD("PAC LOGON_INFO %s: array counts %" PRIu32 "/%" PRIu32
                   "/%" PRIu32 " do not match Length %u, MaximumLength %u",
                   what, max_count, offset, actual, u->len, u->max);
    if (u->len == 0) {
        *out = strdup("");
        return *out != NULL ? HSMSSP_OK : BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    return utf16le_to_utf8(p, u->len, what, out);
}

/* A deferred RPC_SID: the conformance word (SubAuthorityCount, hoisted in
 * front of the conformant structure [C706 14.3.7.1]), then the body. */
static hsmssp_err
rd_rpc_sid(rd *r, const char *what, sid *s)
{
    const char *why = NULL;
    uint32_t conformance = ndr_u32(r);

    if (!rd_sid_body(r, s, &why))
        return BAD("PAC LOGON_INFO %s: %s", what, why);
    if (conformance != s->count)
        return BAD("PAC LOGON_INFO %s: conformance %" PRIu32 " for %u "
                   "sub-authorities",
                   what, conformance, s->count);
    return HSMSSP_OK;
}

/*
 * A deferred GROUP_MEMBERSHIP array ([size_is(count)] pointer): MaxCount,
 * then (RelativeId, Attributes) pairs, stored in *pairs_out (2 * count
 * words, NULL when count is 0).  ptr 0 is only valid with count 0.  The
 * RIDs become SIDs later (groups_to_sids): GroupIds precede the
 * LogonDomainId they are relative to on the wire.
 */
static hsmssp_err
rd_group_array(rd *r, uint32_t ptr, uint32_t count, const char *what,
               uint32_t **pairs_out)
{
    uint32_t *pairs;

    *pairs_out = NULL;
    if (count > KERB_PAC_MAX_GROUPS)
        return BAD("PAC LOGON_INFO %s: %" PRIu32 " groups (limit %u)", what,
                   count, KERB_PAC_MAX_GROUPS);
    if (ptr == 0) {
        if (count != 0)
            return BAD("PAC LOGON_INFO %s: null array of %" PRIu32 " groups",
                       what, count);
        return HSMSSP_OK;
    }
    if (ndr_u32(r) != count || r->bad)
        return BAD("PAC LOGON_INFO %s: array count differs from the "
                   "declared %" PRIu32,
                   what, count);
    if (count == 0)
        return HSMSSP_OK;
    pairs = calloc((size_t)count * 2u, sizeof(*pairs));
    if (pairs == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    for (size_t i = 0; i < (size_t)count * 2u; i++)
        pairs[i] = ndr_u32(r);
    if (r->bad) {
        free(pairs);
        return BAD("PAC LOGON_INFO %s: truncated", what);
    }
    *pairs_out = pairs;
    return HSMSSP_OK;
}

/* The SIDs of count (RID, attributes) pairs under domain d (NULL when the
 * PAC has no domain SID for them, an error unless count is 0). */
static hsmssp_err
groups_to_sids(const uint32_t *pairs, uint32_t count, const sid *d,
               const char *what, kerb_pac_sid **out, size_t *n_out)
{
    kerb_pac_sid *g;
    hsmssp_err ret = HSMSSP_OK;
    size_t n = 0;

    *out = NULL;
    *n_out = 0;
    if (count == 0)
        return HSMSSP_OK;
    /* A RID appended to a 15-sub-authority SID would make a 16th. */
    if (d == NULL || d->count >= KERB_PAC_MAX_SUBAUTH)
        return BAD("PAC LOGON_INFO %s: no usable domain SID for the RIDs",
                   what);
    g = calloc(count, sizeof(*g));
    if (g == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    for (; n < count && ret == HSMSSP_OK; n++) {
        g[n].attributes = pairs[2 * n + 1];
        ret = sid_to_string(d, true, pairs[2 * n], &g[n].sid);
    }
    if (ret != HSMSSP_OK) {
        for (size_t i = 0; i < n; i++)
            free(g[i].sid);
        free(g);
        return ret;
    }
    *out = g;
    *n_out = count;
    return HSMSSP_OK;
}

/*
 * The deferred ExtraSids array ([size_is(SidCount)]
 * PKERB_SID_AND_ATTRIBUTES): MaxCount, the (Sid pointer, Attributes)
 * pairs, then the RPC_SID of every non-null pointer in array order
 * (embedded pointers of an array are deferred to after the array).
 */
static hsmssp_err
rd_extra_sids(rd *r, uint32_t ptr, uint32_t count, kerb_pac_info *info)
{
    uint32_t *ptrs = NULL;
    kerb_pac_sid *x = NULL;
    hsmssp_err ret = HSMSSP_OK;
    size_t done = 0;

    if (count > KERB_PAC_MAX_SIDS)
        return BAD("PAC LOGON_INFO ExtraSids: %" PRIu32 " SIDs (limit %u)",
                   count, KERB_PAC_MAX_SIDS);
    if (ptr == 0) {
        if (count != 0)
            return BAD("PAC LOGON_INFO ExtraSids: null array of %" PRIu32
                       " SIDs",
                       count);
        return HSMSSP_OK;
    }
    if (ndr_u32(r) != count || r->bad)
        return BAD("PAC LOGON_INFO ExtraSids: array count differs from "
                   "SidCount %" PRIu32,
                   count);
    if (count == 0)
        return HSMSSP_OK;
    ptrs = calloc(count, sizeof(*ptrs));
    x = calloc(count, sizeof(*x));
    if (ptrs == NULL || x == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    for (uint32_t i = 0; i < count; i++) {
        ptrs[i] = ndr_u32(r);
        x[i].attributes = ndr_u32(r);
        if (ptrs[i] == 0 && !r->bad) {
            ret = BAD("PAC LOGON_INFO ExtraSids[%" PRIu32 "] is null", i);
            goto cleanup;
        }
    }
    if (r->bad) {
        ret = BAD("PAC LOGON_INFO ExtraSids: truncated");
        goto cleanup;
    }
    for (done = 0; done < count; done++) {
        sid s;

        ret = rd_rpc_sid(r, "ExtraSids", &s);
        if (ret == HSMSSP_OK)
            ret = sid_to_string(&s, false, 0, &x[done].sid);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    info->extra_sids = x;
    info->n_extra_sids = count;
    x = NULL;
cleanup:
    if (x != NULL) {
        for (size_t i = 0; i < done; i++)
            free(x[i].sid);
        free(x);
    }
    free(ptrs);
    return ret;
}

/* The scalar fields of KERB_VALIDATION_INFO that the decoder needs after
 * the fixed part, while it walks the deferred referents. */
typedef struct kvi {
    ustr str[8]; /* EffectiveName .. HomeDirectoryDrive, LogonServer,
                    LogonDomainName, in wire order */
    uint32_t group_count, group_ptr;
    uint32_t domain_sid_ptr;
    uint32_t sid_count, extra_ptr;
    uint32_t res_sid_ptr, res_count, res_ptr;
} kvi;

/* The fixed part of KERB_VALIDATION_INFO [MS-PAC 2.5], 216 bytes after
 * the top-level referent: FILETIMEs are two ULONGs (alignment 4), the
 * strings are RPC_UNICODE_STRING headers, pointers are referent ids. */
static void
rd_kvi_fixed(rd *r, kvi *k, kerb_pac_info *info)
{
    info->logon_time = rd_u64(r);
    info->logoff_time = rd_u64(r);
    info->kickoff_time = rd_u64(r);
    info->password_last_set = rd_u64(r);
    info->password_can_change = rd_u64(r);
    info->password_must_change = rd_u64(r);
    for (size_t i = 0; i < 6; i++)
        rd_ustr(r, &k->str[i]);
    info->logon_count = ndr_u16(r);
    info->bad_password_count = ndr_u16(r);
    info->user_id = ndr_u32(r);
    info->primary_group_id = ndr_u32(r);
    k->group_count = ndr_u32(r);
    k->group_ptr = ndr_u32(r);
    info->user_flags = ndr_u32(r);
    (void)rd_bytes(r, 16); /* UserSessionKey: NTLM only, zero */
    rd_ustr(r, &k->str[6]);
    rd_ustr(r, &k->str[7]);
    k->domain_sid_ptr = ndr_u32(r);
    (void)rd_bytes(r, 8); /* Reserved1[2] */
    info->user_account_control = ndr_u32(r);
    /* SubAuthStatus, LastSuccessfulILogon (2), LastFailedILogon (2),
     * FailedILogonCount, Reserved3: seven ULONGs (Reserved3[7] in the
     * older MIDL of MS-PAC 2.17), nothing an acceptor uses. */
    (void)rd_bytes(r, 28);
    k->sid_count = ndr_u32(r);
    k->extra_ptr = ndr_u32(r);
    k->res_sid_ptr = ndr_u32(r);
    k->res_count = ndr_u32(r);
    k->res_ptr = ndr_u32(r);
}

/* The MS-RPCE 2.2.6 type serialization version 1 headers: common header
 * (Version 1, Endianness 0x10 = little-endian, CommonHeaderLength 8,
 * Filler) and private header (ObjectBufferLength, Filler).  Returns the
 * object's length; the fillers carry no meaning and are not checked. */
static hsmssp_err
rd_ndr_headers(rd *r, size_t *obj_len_out)
{
    uint8_t version = rd_u8(r), endian = rd_u8(r);
    uint16_t hdr_len = rd_u16(r);
    uint32_t obj_len;

    (void)rd_u32(r);
    obj_len = rd_u32(r);
    (void)rd_u32(r);
    *obj_len_out = 0;
    if (r->bad)
        return BAD("PAC LOGON_INFO shorter than its NDR headers");
    if (version != 1 || endian != 0x10 || hdr_len != 8)
        return BAD("PAC LOGON_INFO NDR header %u/0x%02x/%u (want "
                   "version 1, little-endian, length 8)",
                   version, endian, hdr_len);
    if (obj_len % 8 != 0 || obj_len > r->len - r->pos)
        return BAD("PAC LOGON_INFO NDR object of %" PRIu32 " bytes in "
                   "%zu",
                   obj_len, r->len - r->pos);
    *obj_len_out = obj_len;
    return HSMSSP_OK;
}

/* The strings of info in wire order, for the deferred-body loop. */
static char **
kvi_str_slot(kerb_pac_info *info, size_t i)
{
    char **slots[8] = {&info->effective_name, &info->full_name,
                       &info->logon_script,   &info->profile_path,
                       &info->home_directory, &info->home_drive,
                       &info->logon_server,   &info->logon_domain_name};
    return slots[i];
}

static const char *const kvi_str_name[8] = {
    "EffectiveName", "FullName",           "LogonScript", "ProfilePath",
    "HomeDirectory", "HomeDirectoryDrive", "LogonServer", "LogonDomainName",
};

/*
 * LOGON_INFO: a pointer to KERB_VALIDATION_INFO.  Deferred referents
 * follow the fixed part in pointer order: the six strings, GroupIds,
 * LogonServer, LogonDomainName, LogonDomainId, ExtraSids (then their
 * SIDs), ResourceGroupDomainSid, ResourceGroupIds.  After the last one
 * only the padding to ObjectBufferLength (< 8 bytes) may remain.
 */
static hsmssp_err
parse_logon_info(const pac_view *v, const pac_buf *b, kerb_pac_info *info)
{
    uint32_t *group_pairs = NULL, *res_pairs = NULL;
    sid dom, res;
    bool have_res = false;
    size_t obj_len;
    hsmssp_err ret;
    kvi k;
    rd outer, r;

    info->has_logon_info = true;
    rd_init(&outer, v->data + b->off, b->size);
    ret = rd_ndr_headers(&outer, &obj_len);
    if (ret != HSMSSP_OK)
        return ret;
    /* NDR alignment is relative to the start of the object, which the
     * 16 header bytes keep 8-aligned. */
    rd_init(&r, outer.buf + outer.pos, obj_len);
    if (ndr_u32(&r) == 0)
        return BAD("PAC LOGON_INFO: null KERB_VALIDATION_INFO pointer");
    rd_kvi_fixed(&r, &k, info);
    if (r.bad)
        return BAD("PAC LOGON_INFO: KERB_VALIDATION_INFO truncated");
    for (size_t i = 0; i < 6 && ret == HSMSSP_OK; i++)
        ret = rd_ustr_body(&r, &k.str[i], kvi_str_name[i],
                           kvi_str_slot(info, i));
    if (ret == HSMSSP_OK)
        ret = rd_group_array(&r, k.group_ptr, k.group_count, "GroupIds",
                             &group_pairs);
    for (size_t i = 6; i < 8 && ret == HSMSSP_OK; i++)
        ret = rd_ustr_body(&r, &k.str[i], kvi_str_name[i],
                           kvi_str_slot(info, i));
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (k.domain_sid_ptr == 0) {
        ret = BAD("PAC LOGON_INFO: null LogonDomainId");
        goto cleanup;
    }
    ret = rd_rpc_sid(&r, "LogonDomainId", &dom);
    if (ret == HSMSSP_OK)
        ret = rd_extra_sids(&r, k.extra_ptr, k.sid_count, info);
    if (ret == HSMSSP_OK && k.res_sid_ptr != 0) {
        ret = rd_rpc_sid(&r, "ResourceGroupDomainSid", &res);
        have_res = ret == HSMSSP_OK;
    }
    if (ret == HSMSSP_OK)
        ret = rd_group_array(&r, k.res_ptr, k.res_count, "ResourceGroupIds",
                             &res_pairs);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (r.bad) {
        ret = BAD("PAC LOGON_INFO: truncated");
        goto cleanup;
    }
    if (obj_len - r.pos >= 8) {
        ret = BAD("PAC LOGON_INFO: %zu unused bytes after the data",
                  obj_len - r.pos);
        goto cleanup;
    }
    /* The wire is consumed; now the SIDs an authorization decision
     * uses. */
    ret = groups_to_sids(group_pairs, k.group_count, &dom, "GroupIds",
                         &info->groups, &info->n_groups);
    if (ret == HSMSSP_OK)
        ret = groups_to_sids(res_pairs, k.res_count, have_res ? &res : NULL,
                             "ResourceGroupIds", &info->resource_groups,
                             &info->n_resource_groups);
    if (ret == HSMSSP_OK && have_res)
        ret = sid_to_string(&res, false, 0, &info->resource_domain_sid);
    if (ret == HSMSSP_OK)
        ret = sid_to_string(&dom, false, 0, &info->logon_domain_sid);
    if (ret == HSMSSP_OK && dom.count >= KERB_PAC_MAX_SUBAUTH)
        ret = BAD("PAC LOGON_INFO: LogonDomainId has no room for a RID");
    if (ret == HSMSSP_OK)
        ret = sid_to_string(&dom, true, info->primary_group_id,
                            &info->primary_group_sid);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (info->user_id != 0) {
        ret = sid_to_string(&dom, true, info->user_id, &info->user_sid);
    } else if (info->n_extra_sids > 0) {
        /* MS-PAC 2.5: UserId 0 means the first ExtraSid is the user's. */
        info->user_sid = strdup(info->extra_sids[0].sid);
        if (info->user_sid == NULL)
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
    } else {
        ret = BAD("PAC LOGON_INFO: UserId 0 and no ExtraSids");
    }
cleanup:
    free(group_pairs);
    free(res_pairs);
    return ret;
}

/* ---- entry points ----------------------------------------------------- */

static void
free_sids(kerb_pac_sid *s, size_t n)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(s[i].sid);
    free(s);
}

void
kerb_pac_info_free(kerb_pac_info *info)
{
    if (info == NULL)
        return;
    free(info->client_name);
    free(info->upn);
    free(info->dns_domain);
    free(info->sam_name);
    free(info->upn_sid);
    for (size_t i = 0; i < 8; i++)
        free(*kvi_str_slot(info, i));
    free(info->logon_domain_sid);
    free(info->user_sid);
    free(info->primary_group_sid);
    free_sids(info->groups, info->n_groups);
    free_sids(info->extra_sids, info->n_extra_sids);
    free(info->resource_domain_sid);
    free_sids(info->resource_groups, info->n_resource_groups);
    free(info);
}

hsmssp_err
kerb_pac_verify(const uint8_t *pac, size_t len,
                const kerb_pac_ticket_facts *facts, kerb_pac_verify_fn verify,
                void *arg, kerb_pac_info **info_out)
{
    const pac_buf *srv, *kdc, *ci, *b;
    kerb_pac_info *info = NULL;
    pac_view *v = NULL;
    size_t srv_len = 0, kdc_len = 0, other_len = 0;
    int32_t other_type = 0;
    hsmssp_err ret;

    if (info_out != NULL)
        *info_out = NULL;
    if (pac == NULL || facts == NULL || facts->client_name == NULL ||
        facts->client_realm == NULL || verify == NULL || info_out == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "kerb_pac_verify");
    /* The view holds 64 entries: 1.5 KiB, kept off the stack. */
    v = calloc(1, sizeof(*v));
    info = calloc(1, sizeof(*info));
    if (v == NULL || info == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    ret = parse_header(pac, len, v);
    if (ret != HSMSSP_OK)
        goto cleanup;
    srv = find_buf(v, KERB_PAC_SERVER_CHECKSUM);
    kdc = find_buf(v, KERB_PAC_PRIVSVR_CHECKSUM);
    ci = find_buf(v, KERB_PAC_CLIENT_INFO);
    if (srv == NULL || kdc == NULL || ci == NULL) {
        ret = BAD("PAC lacks its %s", srv == NULL   ? "server signature"
                                      : kdc == NULL ? "KDC signature"
                                                    : "CLIENT_INFO");
        goto cleanup;
    }
    ret = parse_sig(v, srv, "server", true, &info->server_cksumtype, &srv_len);
    if (ret == HSMSSP_OK)
        ret = parse_sig(v, kdc, "KDC", false, &info->kdc_cksumtype, &kdc_len);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* The krbtgt-keyed ticket and extended KDC signatures: form only. */
    b = find_buf(v, KERB_PAC_TICKET_CHECKSUM);
    info->has_ticket_checksum = b != NULL;
    if (b != NULL)
        ret = parse_sig(v, b, "ticket", false, &other_type, &other_len);
    b = find_buf(v, KERB_PAC_FULL_CHECKSUM);
    info->has_full_checksum = b != NULL;
    if (ret == HSMSSP_OK && b != NULL)
        ret = parse_sig(v, b, "extended KDC", false, &other_type, &other_len);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = verify_server_sig(v, srv, kdc, info->server_cksumtype, srv_len,
                            verify, arg);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = parse_client_info(v, ci, facts, info);
    b = find_buf(v, KERB_PAC_UPN_DNS_INFO);
    if (ret == HSMSSP_OK && b != NULL)
        ret = parse_upn_dns(v, b, facts, info);
    b = find_buf(v, KERB_PAC_LOGON_INFO);
    if (ret == HSMSSP_OK && b != NULL)
        ret = parse_logon_info(v, b, info);
    if (ret != HSMSSP_OK)
        goto cleanup;
    *info_out = info;
    info = NULL;
cleanup:
    kerb_pac_info_free(info);
    free(v);
    return ret;
}
