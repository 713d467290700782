/*
 * tests/common/pacbuild.c - see pacbuild.h.
 *
 * Test code: it aims at being obviously right rather than fast, and it
 * shares nothing with the parser it tests (provider/kerberos/kerb_pac.c),
 * so that a misreading of the specification in one is not mirrored in the
 * other.  The NDR rules applied here ([C706] chapter 14, [MS-RPCE] 2.2.6):
 * every primitive aligned to its size relative to the start of the
 * serialized object; a structure's fixed part first, with embedded
 * pointers as referent ids; then the referents in the order their
 * pointers appeared; a conformant array's MaxCount in front of it; a
 * conformant varying array (RPC_UNICODE_STRING's Buffer) as MaxCount,
 * Offset, ActualCount; a conformant structure (RPC_SID) with its
 * conformance word hoisted in front of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pacbuild.h"

/* ---- growable little-endian writer ------------------------------------ */

typedef struct wb {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} wb;

static void
wb_put(wb *w, const void *src, size_t n)
{
    if (w->oom || n == 0)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        uint8_t *p;

        while (cap < w->len + n)
            cap *= 2;
        p = realloc(w->p, cap);
        if (p == NULL) {
            w->oom = true;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    if (src != NULL)
        memcpy(w->p + w->len, src, n);
    else
        memset(w->p + w->len, 0, n);
    w->len += n;
}

static void
wb_zero(wb *w, size_t n)
{
    wb_put(w, NULL, n);
}

static void
wb_align(wb *w, size_t a)
{
    wb_zero(w, (a - w->len % a) % a);
}

static void
wb_u8(wb *w, uint8_t v)
{
    wb_put(w, &v, 1);
}

static void
wb_u16(wb *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

    wb_align(w, 2);
    wb_put(w, b, 2);
}

static void
wb_u32(wb *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};

    wb_align(w, 4);
    wb_put(w, b, 4);
}

/* A FILETIME in NDR: two ULONGs, low first (alignment 4, not 8). */
static void
wb_filetime(wb *w, uint64_t v)
{
    wb_u32(w, (uint32_t)v);
    wb_u32(w, (uint32_t)(v >> 32));
}

static void
store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t
load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* ---- small helpers ------------------------------------------------------ */

size_t
pacb_cksum_len(int32_t cksumtype)
{
    switch (cksumtype) {
    case 15:
    case 16:
        return 12;
    case 19:
    case -138:
        return 16;
    case 20:
        return 24;
    default:
        return 0;
    }
}

uint64_t
pacb_filetime(int64_t t)
{
    return (uint64_t)(t + 11644473600LL) * 10000000ULL;
}

/* UTF-8 to UTF-16LE (malloc'ed, *n_out bytes).  Test input is trusted to
 * be valid UTF-8 of at most 4-byte sequences. */
static hsmssp_err
to_utf16(const char *s, uint8_t **out, size_t *n_out)
{
    size_t n = 0, len = strlen(s);
    uint8_t *u = malloc(len * 4 + 2);

    *out = NULL;
    *n_out = 0;
    if (u == NULL)
        return HSMSSP_ERR_NOMEM;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;

        if (c < 0x80) {
            cp = c;
            i += 1;
        } else if ((c & 0xE0) == 0xC0) {
            cp = ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
            i += 2;
        } else if ((c & 0xF0) == 0xE0) {
            cp = ((uint32_t)(c & 0x0F) << 12) |
                 ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
            i += 3;
        } else {
            cp = ((uint32_t)(c & 0x07) << 18) |
                 ((uint32_t)(s[i + 1] & 0x3F) << 12) |
                 ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
            i += 4;
        }
        if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            uint32_t hi = 0xD800 + (v >> 10), lo = 0xDC00 + (v & 0x3FF);

            u[n++] = (uint8_t)hi;
            u[n++] = (uint8_t)(hi >> 8);
            u[n++] = (uint8_t)lo;
            u[n++] = (uint8_t)(lo >> 8);
        } else {
            u[n++] = (uint8_t)cp;
            u[n++] = (uint8_t)(cp >> 8);
        }
    }
    *out = u;
    *n_out = n;
    return HSMSSP_OK;
}

/* A parsed SID string: "S-1-" authority ("-" sub-authority)*. */
typedef struct psid {
    uint64_t auth;
    uint32_t sub[15];
    uint8_t count;
} psid;

static bool
parse_sid(const char *s, psid *p)
{
    char *end;
    unsigned long long v;

    if (strncmp(s, "S-1-", 4) != 0)
        return false;
    s += 4;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (end == s || errno != 0 || v >= (1ULL << 48))
        return false;
    p->auth = v;
    p->count = 0;
    for (s = end; *s == '-'; s = end) {
        if (p->count == 15)
            return false;
        v = strtoull(s + 1, &end, 10);
        if (end == s + 1 || v > 0xFFFFFFFFULL)
            return false;
        p->sub[p->count++] = (uint32_t)v;
    }
    return *s == '\0';
}

/* The body of a SID: Revision 1, SubAuthorityCount, the authority as 6
 * big-endian bytes, the sub-authorities little-endian. */
static void
wb_sid_body(wb *w, const psid *p)
{
    wb_u8(w, 1);
    wb_u8(w, p->count);
    for (int i = 5; i >= 0; i--)
        wb_u8(w, (uint8_t)(p->auth >> (8 * i)));
    for (uint8_t i = 0; i < p->count; i++)
        wb_u32(w, p->sub[i]);
}

hsmssp_err
pacb_sid_binary(const char *s, uint8_t out[68], size_t *len_out)
{
    wb w = {0};
    psid p;

    *len_out = 0;
    if (!parse_sid(s, &p))
        return HSMSSP_ERR_INVALID_ARGUMENT;
    wb_sid_body(&w, &p);
    if (w.oom)
        return HSMSSP_ERR_NOMEM;
    memcpy(out, w.p, w.len);
    *len_out = w.len;
    free(w.p);
    return HSMSSP_OK;
}

/* ---- LOGON_INFO ------------------------------------------------------- */

/* The NDR encoding state: the object writer and the next referent id. */
typedef struct ndr {
    wb w;
    uint32_t next_ref;
    bool bad_arg;
} ndr;

static uint32_t
ref(ndr *n, bool present)
{
    uint32_t r;

    if (!present)
        return 0;
    r = n->next_ref;
    n->next_ref += 4;
    return r;
}

/* An RPC_UNICODE_STRING header; the body goes to *u16 for later. */
typedef struct str {
    uint8_t *u16;
    size_t n;
    bool present;
    uint16_t max;
} str;

static void
str_header(ndr *n, const char *s, bool plus_nul, str *st)
{
    memset(st, 0, sizeof(*st));
    if (s != NULL) {
        if (to_utf16(s, &st->u16, &st->n) != HSMSSP_OK) {
            n->w.oom = true;
            return;
        }
        st->present = true;
    }
    if (st->n + (plus_nul ? 2 : 0) > 0xFFFF) {
        n->bad_arg = true;
        return;
    }
    st->max = (uint16_t)(st->n + (plus_nul && s != NULL ? 2 : 0));
    wb_u16(&n->w, (uint16_t)st->n);
    wb_u16(&n->w, st->max);
    wb_u32(&n->w, ref(n, st->present));
}

static void
str_body(ndr *n, str *st)
{
    if (st->present) {
        wb_u32(&n->w, st->max / 2u);          /* MaxCount */
        wb_u32(&n->w, 0);                     /* Offset */
        wb_u32(&n->w, (uint32_t)(st->n / 2)); /* ActualCount */
        wb_put(&n->w, st->u16, st->n);
    }
    free(st->u16);
    st->u16 = NULL;
}

static void
rpc_sid(ndr *n, const char *s)
{
    psid p;

    if (!parse_sid(s, &p)) {
        n->bad_arg = true;
        return;
    }
    wb_u32(&n->w, p.count); /* conformance, hoisted */
    wb_sid_body(&n->w, &p);
}

static void
group_array(ndr *n, const pacb_group *g, size_t count)
{
    if (g == NULL)
        return;
    wb_u32(&n->w, (uint32_t)count);
    for (size_t i = 0; i < count; i++) {
        wb_u32(&n->w, g[i].rid);
        wb_u32(&n->w, g[i].attributes);
    }
}

hsmssp_err
pacb_logon_info(const pacb_logon *l, uint8_t **out, size_t *out_len)
{
    ndr n = {.next_ref = 0x00020000};
    wb hdr = {0};
    str s[8];
    const char *strings[8] = {l->effective_name, l->full_name,
                              l->logon_script,   l->profile_path,
                              l->home_directory, l->home_drive,
                              l->logon_server,   l->logon_domain_name};
    uint32_t flags = l->user_flags;
    hsmssp_err ret = HSMSSP_OK;

    *out = NULL;
    *out_len = 0;
    if (l->n_extra_sids > 0)
        flags |= 0x20;
    if (l->n_resource_groups > 0)
        flags |= 0x200;
    memset(s, 0, sizeof(s));

    /* The top-level pointer, then the fixed part (216 bytes). */
    wb_u32(&n.w, ref(&n, true));
    wb_filetime(&n.w, l->logon_time);
    wb_filetime(&n.w, l->logoff_time);
    wb_filetime(&n.w, l->kickoff_time);
    wb_filetime(&n.w, l->password_last_set);
    wb_filetime(&n.w, l->password_can_change);
    wb_filetime(&n.w, l->password_must_change);
    for (size_t i = 0; i < 6; i++)
        str_header(&n, strings[i], false, &s[i]);
    wb_u16(&n.w, l->logon_count);
    wb_u16(&n.w, l->bad_password_count);
    wb_u32(&n.w, l->user_id);
    wb_u32(&n.w, l->primary_group_id);
    wb_u32(&n.w, (uint32_t)l->n_groups);
    uint32_t groups_ref = ref(&n, l->groups != NULL);
    wb_u32(&n.w, groups_ref);
    wb_u32(&n.w, flags);
    wb_zero(&n.w, 16); /* UserSessionKey */
    str_header(&n, strings[6], l->max_len_nul, &s[6]);
    str_header(&n, strings[7], l->max_len_nul, &s[7]);
    wb_u32(&n.w, ref(&n, l->domain_sid != NULL));
    wb_zero(&n.w, 8); /* Reserved1 */
    wb_u32(&n.w, l->user_account_control);
    wb_zero(&n.w, 28); /* SubAuthStatus .. Reserved3 */
    wb_u32(&n.w, (uint32_t)l->n_extra_sids);
    wb_u32(&n.w, ref(&n, l->extra_sids != NULL));
    wb_u32(&n.w, ref(&n, l->resource_domain_sid != NULL));
    wb_u32(&n.w, (uint32_t)l->n_resource_groups);
    wb_u32(&n.w, ref(&n, l->resource_groups != NULL));

    /* The deferred referents, in pointer order. */
    for (size_t i = 0; i < 6; i++)
        str_body(&n, &s[i]);
    group_array(&n, l->groups, l->n_groups);
    str_body(&n, &s[6]);
    str_body(&n, &s[7]);
    if (l->domain_sid != NULL)
        rpc_sid(&n, l->domain_sid);
    if (l->extra_sids != NULL) {
        wb_u32(&n.w, (uint32_t)l->n_extra_sids);
        for (size_t i = 0; i < l->n_extra_sids; i++) {
            wb_u32(&n.w, ref(&n, l->extra_sids[i].sid != NULL));
            wb_u32(&n.w, l->extra_sids[i].attributes);
        }
        /* Embedded pointers of an array: after the whole array. */
        for (size_t i = 0; i < l->n_extra_sids; i++)
            if (l->extra_sids[i].sid != NULL)
                rpc_sid(&n, l->extra_sids[i].sid);
    }
    if (l->resource_domain_sid != NULL)
        rpc_sid(&n, l->resource_domain_sid);
    group_array(&n, l->resource_groups, l->n_resource_groups);
    wb_align(&n.w, 8);

    /* MS-RPCE 2.2.6.1 common header, 2.2.6.2 private header. */
    wb_u8(&hdr, 1);    /* Version */
    wb_u8(&hdr, 0x10); /* Endianness: little */
    wb_u16(&hdr, 8);   /* CommonHeaderLength */
    wb_u32(&hdr, 0xCCCCCCCCu);
    wb_u32(&hdr, (uint32_t)n.w.len); /* ObjectBufferLength */
    wb_u32(&hdr, 0);
    wb_put(&hdr, n.w.p, n.w.len);
    for (size_t i = 0; i < 8; i++)
        free(s[i].u16);
    if (n.w.oom || hdr.oom)
        ret = HSMSSP_ERR_NOMEM;
    else if (n.bad_arg)
        ret = HSMSSP_ERR_INVALID_ARGUMENT;
    free(n.w.p);
    if (ret != HSMSSP_OK) {
        free(hdr.p);
        return ret;
    }
    *out = hdr.p;
    *out_len = hdr.len;
    return HSMSSP_OK;
}

/* ---- whole PAC ---------------------------------------------------------- */

/* One buffer while the PAC is assembled. */
typedef struct part {
    uint32_t type;
    uint8_t *data;
    size_t len;
} part;

static hsmssp_err
client_info(const pacb_opts *o, part *p)
{
    uint8_t *name = NULL;
    size_t n = 0;
    uint64_t ft = pacb_filetime(o->authtime);

    if (o->client_name_raw != NULL) {
        name = malloc(o->client_name_raw_len ? o->client_name_raw_len : 1);
        if (name == NULL)
            return HSMSSP_ERR_NOMEM;
        memcpy(name, o->client_name_raw, o->client_name_raw_len);
        n = o->client_name_raw_len;
    } else if (to_utf16(o->client_name ? o->client_name : "", &name, &n) !=
               HSMSSP_OK) {
        return HSMSSP_ERR_NOMEM;
    }
    p->type = 10;
    p->len = 10 + n;
    p->data = malloc(p->len);
    if (p->data == NULL || n > 0xFFFF) {
        free(name);
        return p->data == NULL ? HSMSSP_ERR_NOMEM
                               : HSMSSP_ERR_INVALID_ARGUMENT;
    }
    store_le32(p->data, (uint32_t)ft);
    store_le32(p->data + 4, (uint32_t)(ft >> 32));
    p->data[8] = (uint8_t)n;
    p->data[9] = (uint8_t)(n >> 8);
    memcpy(p->data + 10, name, n);
    free(name);
    return HSMSSP_OK;
}

/* UPN_DNS_INFO [MS-PAC 2.10]: the fixed fields (12, or 20 with the S
 * flag), then UPN, DNS domain, SamName and SID, each 8-aligned (as
 * Windows lays them out). */
static hsmssp_err
upn_dns_info(const pacb_opts *o, part *p)
{
    bool s_flag = (o->upn_flags & 0x2u) != 0;
    const char *texts[3] = {o->upn, o->dns_domain ? o->dns_domain : "",
                            o->sam_name ? o->sam_name : ""};
    uint8_t *u[3] = {NULL, NULL, NULL}, sidb[68];
    size_t un[3] = {0, 0, 0}, sid_len = 0, off[4];
    size_t nstr = s_flag ? 3 : 2;
    hsmssp_err ret = HSMSSP_OK;
    wb w = {0};

    for (size_t i = 0; i < nstr && ret == HSMSSP_OK; i++)
        ret = to_utf16(texts[i], &u[i], &un[i]);
    if (ret == HSMSSP_OK && s_flag)
        ret = pacb_sid_binary(o->upn_sid ? o->upn_sid : "S-1-5-18", sidb,
                              &sid_len);
    if (ret != HSMSSP_OK)
        goto cleanup;
    off[0] = s_flag ? 24 : 16;
    for (size_t i = 1; i <= nstr; i++)
        off[i] = (off[i - 1] + un[i - 1] + 7) & ~(size_t)7;
    wb_u16(&w, (uint16_t)un[0]);
    wb_u16(&w, (uint16_t)off[0]);
    wb_u16(&w, (uint16_t)un[1]);
    wb_u16(&w, (uint16_t)off[1]);
    wb_u32(&w, o->upn_flags);
    if (s_flag) {
        wb_u16(&w, (uint16_t)un[2]);
        wb_u16(&w, (uint16_t)off[2]);
        wb_u16(&w, (uint16_t)sid_len);
        wb_u16(&w, (uint16_t)off[3]);
    }
    for (size_t i = 0; i < nstr; i++) {
        wb_zero(&w, off[i] - w.len);
        wb_put(&w, u[i], un[i]);
    }
    if (s_flag) {
        wb_zero(&w, off[3] - w.len);
        wb_put(&w, sidb, sid_len);
    }
    if (w.oom) {
        ret = HSMSSP_ERR_NOMEM;
        goto cleanup;
    }
    p->type = 12;
    p->data = w.p;
    p->len = w.len;
    w.p = NULL;
cleanup:
    for (size_t i = 0; i < 3; i++)
        free(u[i]);
    free(w.p);
    return ret;
}

/* A zero-filled PAC_SIGNATURE_DATA of the type (plus RODCIdentifier). */
static hsmssp_err
sig_part(uint32_t type, int32_t cksumtype, bool rodc, part *p)
{
    size_t clen = pacb_cksum_len(cksumtype);

    if (clen == 0)
        return HSMSSP_ERR_INVALID_ARGUMENT;
    p->type = type;
    p->len = 4 + clen + (rodc ? 2 : 0);
    p->data = calloc(1, p->len);
    if (p->data == NULL)
        return HSMSSP_ERR_NOMEM;
    store_le32(p->data, (uint32_t)cksumtype);
    if (rodc) {
        p->data[4 + clen] = 0x34;
        p->data[5 + clen] = 0x12;
    }
    return HSMSSP_OK;
}

/* Locates the first buffer of a type in a PAC; false when the header is
 * malformed or no such buffer fits. */
static bool
locate(const uint8_t *pac, size_t len, uint32_t type, size_t *off,
       size_t *size)
{
    uint32_t count;

    if (len < 8)
        return false;
    count = load_le32(pac);
    if (count > (len - 8) / 16)
        return false;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = pac + 8 + 16 * (size_t)i;
        uint64_t o = load_le32(e + 8) | ((uint64_t)load_le32(e + 12) << 32);
        uint32_t s = load_le32(e + 4);

        if (load_le32(e) != type)
            continue;
        if (o > len || s > len - o || s < 4)
            return false;
        *off = (size_t)o;
        *size = s;
        return true;
    }
    return false;
}

/* Signs one PAC_SIGNATURE_DATA at off over data[0..dlen) with the type
 * it carries. */
static hsmssp_err
sign_into(uint8_t *pac, size_t off, size_t size, pacb_key key,
          const uint8_t *data, size_t dlen, pacb_sign_fn sign, void *arg)
{
    int32_t type = (int32_t)load_le32(pac + off);
    size_t clen = pacb_cksum_len(type);
    uint8_t tmp[64];
    hsmssp_err ret;

    if (clen == 0 || size < 4 + clen)
        return HSMSSP_ERR_INVALID_ARGUMENT;
    ret = sign(arg, key, type, data, dlen, tmp, clen);
    if (ret == HSMSSP_OK)
        memcpy(pac + off + 4, tmp, clen);
    return ret;
}

hsmssp_err
pacb_resign(uint8_t *pac, size_t len, pacb_sign_fn sign, void *arg)
{
    size_t so, ss, ko, ks, fo = 0, fs = 0, kclen, tail = 0;
    uint8_t rodc[8];
    bool full;
    hsmssp_err ret = HSMSSP_OK;

    if (!locate(pac, len, 6, &so, &ss) || !locate(pac, len, 7, &ko, &ks))
        return HSMSSP_ERR_INVALID_ARGUMENT;
    full = locate(pac, len, 19, &fo, &fs);
    /* Bytes after the KDC signature (an RODCIdentifier) are zero while the
     * server signature is computed, as the whole remainder after
     * SignatureType is, and are put back before the KDC signs. */
    kclen = pacb_cksum_len((int32_t)load_le32(pac + ko));
    if (kclen > 0 && ks > 4 + kclen && ks - 4 - kclen <= sizeof(rodc)) {
        tail = ks - 4 - kclen;
        memcpy(rodc, pac + ko + 4 + kclen, tail);
    }
    /* MS-PAC 2.8.1: all three zero while the extended KDC signature is
     * computed; the server signature covers the extended one; the KDC
     * signature covers the server signature. */
    memset(pac + so + 4, 0, ss - 4);
    memset(pac + ko + 4, 0, ks - 4);
    if (full) {
        memset(pac + fo + 4, 0, fs - 4);
        ret = sign_into(pac, fo, fs, PACB_KEY_KDC, pac, len, sign, arg);
    }
    if (ret == HSMSSP_OK)
        ret = sign_into(pac, so, ss, PACB_KEY_SERVER, pac, len, sign, arg);
    if (ret == HSMSSP_OK) {
        int32_t st = (int32_t)load_le32(pac + so);
        uint8_t srv[64];
        size_t sl = pacb_cksum_len(st);

        memcpy(srv, pac + so + 4, sl);
        memcpy(pac + ko + 4 + kclen, rodc, tail);
        ret = sign_into(pac, ko, ks, PACB_KEY_KDC, srv, sl, sign, arg);
    }
    return ret;
}

hsmssp_err
pacb_build(const pacb_opts *o, uint8_t **out, size_t *out_len)
{
    part parts[16 + 64];
    size_t n = 0, total, off;
    uint8_t *pac = NULL;
    hsmssp_err ret = HSMSSP_OK;

    *out = NULL;
    *out_len = 0;
    memset(parts, 0, sizeof(parts));
    if (o->n_extra > 64 || o->sign == NULL)
        return HSMSSP_ERR_INVALID_ARGUMENT;
    if (o->logon != NULL) {
        parts[n].type = 1;
        ret = pacb_logon_info(o->logon, &parts[n].data, &parts[n].len);
        n++;
    }
    if (ret == HSMSSP_OK && !o->no_client_info)
        ret = client_info(o, &parts[n++]);
    if (ret == HSMSSP_OK && o->upn != NULL)
        ret = upn_dns_info(o, &parts[n++]);
    for (size_t i = 0; i < o->n_extra && ret == HSMSSP_OK; i++) {
        part *p = &parts[n++];

        p->type = o->extra[i].type;
        p->len = o->extra[i].len;
        p->data = malloc(p->len ? p->len : 1);
        if (p->data == NULL)
            ret = HSMSSP_ERR_NOMEM;
        else if (p->len > 0)
            memcpy(p->data, o->extra[i].data, p->len);
    }
    if (ret == HSMSSP_OK && o->ticket_checksum)
        ret = sig_part(16, o->kdc_cksumtype, false, &parts[n++]);
    if (ret == HSMSSP_OK && o->full_checksum)
        ret = sig_part(19, o->kdc_cksumtype, false, &parts[n++]);
    if (ret == HSMSSP_OK && !o->no_server_sig)
        ret = sig_part(6, o->server_cksumtype, false, &parts[n++]);
    if (ret == HSMSSP_OK && !o->no_kdc_sig)
        ret = sig_part(7, o->kdc_cksumtype, o->rodc, &parts[n++]);
    if (ret != HSMSSP_OK)
        goto cleanup;

    /* Header, then each buffer at the next 8-aligned offset. */
    total = 8 + 16 * n;
    for (size_t i = 0; i < n; i++)
        total = ((total + 7) & ~(size_t)7) + parts[i].len;
    total = (total + 7) & ~(size_t)7;
    pac = calloc(1, total);
    if (pac == NULL) {
        ret = HSMSSP_ERR_NOMEM;
        goto cleanup;
    }
    store_le32(pac, (uint32_t)n);
    store_le32(pac + 4, 0);
    off = 8 + 16 * n;
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = pac + 8 + 16 * i;

        off = (off + 7) & ~(size_t)7;
        store_le32(e, parts[i].type);
        store_le32(e + 4, (uint32_t)parts[i].len);
        store_le32(e + 8, (uint32_t)off);
        store_le32(e + 12, 0);
        memcpy(pac + off, parts[i].data, parts[i].len);
        off += parts[i].len;
    }

    /* The ticket signature covers the ticket, which a test has not got:
     * sign a fixed stand-in so that the buffer holds a real checksum. */
    if (o->ticket_checksum) {
        size_t to, ts;
        static const uint8_t stand_in[] = "EncTicketPart stand-in";

        if (!locate(pac, total, 16, &to, &ts)) {
            ret = HSMSSP_ERR_INTERNAL;
            goto cleanup;
        }
        ret = sign_into(pac, to, ts, PACB_KEY_KDC, stand_in,
                        sizeof(stand_in) - 1, o->sign, o->sign_arg);
    }
    if (ret == HSMSSP_OK && !o->no_server_sig && !o->no_kdc_sig)
        ret = pacb_resign(pac, total, o->sign, o->sign_arg);
    if (ret != HSMSSP_OK)
        goto cleanup;
    *out = pac;
    *out_len = total;
    pac = NULL;
cleanup:
    for (size_t i = 0; i < n; i++)
        free(parts[i].data);
    free(pac);
    return ret;
}
