/*
 * tests/unit/provider/test_kerb_tktfile.c - the TGT store of `hsmssp
 * kinit` (provider/kerberos/kerb_tktfile.c):
 *  - the file format against an independent encoder: the files here are
 *    assembled byte by byte from the ASN.1 module in kerb_tktfile.h with
 *    a TLV builder of this test's own (not base/der.c), Tickets likewise,
 *    and times with gmtime_r; the module's encoder must produce exactly
 *    those bytes and its decoder must read every field back;
 *  - strictness: every truncation, every single-bit change (refused, or a
 *    different entry that re-encodes to exactly the changed bytes),
 *    trailing bytes, wrong versions, tags, field order, bounds, NULs,
 *    non-canonical names, a server that is not the Ticket's;
 *  - the file system rules: directory choice and creation (0700 whatever
 *    the umask), refusal of group/world access, symbolic links, other
 *    owners (chown to nobody, as root), FIFOs; atomic replacement;
 *    listing with garbage; removal; file names;
 *  - the token object's CKA_ID and CKA_LABEL scheme.
 *
 * Each case works in its own mkdtemp'ed directory under HSMSSP_TEST_WORK,
 * with HSMSSP_TICKET_DIR pointing inside it.
 *
 *   test_kerb_tktfile --write-seeds DIR   writes the fuzz_tktfile corpus
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "provider/kerberos/kerb_keystore.h"
#include "provider/kerberos/kerb_tktfile.h"

#define NOBODY 65534
#define CLIENT "alice@HSMSSP.TEST"
#define SERVER "krbtgt/HSMSSP.TEST@HSMSSP.TEST"
#define AUTHTIME 1700000000LL /* 2023-11-14T22:13:20Z */
#define ENDTIME (AUTHTIME + 36000)
#define RENEW (AUTHTIME + 7 * 86400)

/* ---- an independent DER builder (forward, by concatenation) --------- */

typedef struct tb {
    uint8_t *p;
    size_t n;
} tb;

static tb
tb_raw(const void *p, size_t n)
{
    tb b = {malloc(n > 0 ? n : 1), n};

    assert_non_null(b.p);
    if (n > 0)
        memcpy(b.p, p, n);
    return b;
}

static tb
tb_str(const char *s)
{
    return tb_raw(s, strlen(s));
}

static tb
tb_dup(tb b)
{
    return tb_raw(b.p, b.n);
}

static void
tb_free(tb *b)
{
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

/* Concatenates count buffers, consuming them. */
static tb
tb_cat(int count, ...)
{
    va_list ap;
    tb out = {NULL, 0};

    va_start(ap, count);
    for (int i = 0; i < count; i++) {
        tb b = va_arg(ap, tb);

        out.p = realloc(out.p, out.n + b.n + 1);
        assert_non_null(out.p);
        if (b.n > 0)
            memcpy(out.p + out.n, b.p, b.n);
        out.n += b.n;
        free(b.p);
    }
    va_end(ap);
    if (out.p == NULL)
        out = tb_raw("", 0);
    return out;
}

/* tag || DER length || content; consumes content. */
static tb
tlv(unsigned tag, tb content)
{
    uint8_t h[6];
    size_t hn = 0;

    h[hn++] = (uint8_t)tag;
    if (content.n < 0x80) {
        h[hn++] = (uint8_t)content.n;
    } else if (content.n < 0x100) {
        h[hn++] = 0x81;
        h[hn++] = (uint8_t)content.n;
    } else if (content.n < 0x10000) {
        h[hn++] = 0x82;
        h[hn++] = (uint8_t)(content.n >> 8);
        h[hn++] = (uint8_t)content.n;
    } else {
        h[hn++] = 0x83;
        h[hn++] = (uint8_t)(content.n >> 16);
        h[hn++] = (uint8_t)(content.n >> 8);
        h[hn++] = (uint8_t)content.n;
    }
    return tb_cat(2, tb_raw(h, hn), content);
}

static tb
ctx(unsigned n, tb inner)
{
    return tlv(0xa0u | n, inner);
}

/* Minimal two's complement INTEGER. */
static tb
der_int(int64_t v)
{
    uint8_t b[8];
    size_t i = 0;

    for (int k = 0; k < 8; k++)
        b[k] = (uint8_t)((uint64_t)v >> (56 - 8 * k));
    while (i < 7 && ((b[i] == 0 && !(b[i + 1] & 0x80)) ||
                     (b[i] == 0xff && (b[i + 1] & 0x80))))
        i++;
    return tlv(0x02, tb_raw(b + i, 8 - i));
}

/* GeneralizedTime "YYYYMMDDHHMMSSZ" through the C library. */
static tb
der_time(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char s[32];

    assert_non_null(gmtime_r(&tt, &tm));
    assert_int_equal(strftime(s, sizeof(s), "%Y%m%d%H%M%SZ", &tm), 15);
    return tlv(0x18, tb_str(s));
}

static tb
gstr(const char *s)
{
    return tlv(0x1b, tb_str(s));
}

/* Ticket ::= [APPLICATION 1] SEQUENCE { tkt-vno [0] 5, realm [1],
 * sname [2] PrincipalName, enc-part [3] EncryptedData }, with sname
 * "c0/c1" of type NT-SRV-INST and cipher_len pattern bytes. */
static tb
ticket_der(const char *realm, const char *c0, const char *c1,
           size_t cipher_len, uint32_t seed)
{
    uint8_t *cipher = malloc(cipher_len + 1);
    tb names, t;

    assert_non_null(cipher);
    tu_fill(cipher, cipher_len, seed);
    names = c1 != NULL ? tb_cat(2, gstr(c0), gstr(c1)) : gstr(c0);
    t = tlv(
        0x61,
        tlv(0x30,
            tb_cat(
                4, ctx(0, der_int(5)), ctx(1, gstr(realm)),
                ctx(2, tlv(0x30, tb_cat(2, ctx(0, der_int(2)),
                                        ctx(1, tlv(0x30, names))))),
                ctx(3, tlv(0x30,
                           tb_cat(3, ctx(0, der_int(18)), ctx(1, der_int(2)),
                                  ctx(2, tlv(0x04, tb_raw(cipher,
                                                          cipher_len)))))))));
    free(cipher);
    return t;
}

/* A Ticket of exactly size bytes: the cipher length is adjusted until
 * the headers (which grow with it) settle. */
static tb
ticket_sized(const char *realm, const char *c0, const char *c1, size_t size,
             uint32_t seed)
{
    size_t c = size > 200 ? size - 100 : 1;

    for (int i = 0; i < 8; i++) {
        tb t = ticket_der(realm, c0, c1, c, seed);

        if (t.n == size)
            return t;
        c = c + size - t.n;
        tb_free(&t);
    }
    fail_msg("no Ticket of %zu bytes", size);
    return tb_raw("", 0);
}

/* ---- the file, field by field --------------------------------------- */

/* What build_file() assembles: every field as raw contents, so a case can
 * break exactly one thing.  All tb members are owned. */
typedef struct fspec {
    unsigned outer; /* identifier of the outer element */
    bool no_version;
    int64_t version;
    tb client, server;
    tb flags; /* BIT STRING contents */
    int64_t authtime, starttime, endtime;
    tb authtime_raw; /* when set: GeneralizedTime contents for authtime */
    bool has_renew;
    int64_t renew;
    int64_t etype;
    tb key_id, label, serial;
    tb ticket;       /* the element inside [12] */
    tb extra;        /* appended inside the SEQUENCE */
    tb trailing;     /* appended after the outer element */
    bool swap_times; /* authtime and starttime fields swapped */
} fspec;

static const uint8_t std_key_id[32] = {
    'k', 'r',  'b',  '5',  't',  'g', 't', 0x01, 0,  0, 0,
    0,   0x65, 0x54, 0x7d, 0xa0, 1,   2,   3,    4,  5, 6,
    7,   8,    9,    10,   11,   12,  13,  14,   15, 16};

static void
spec_std(fspec *s)
{
    static const uint8_t flags[5] = {0, 0x40, 0xe0, 0, 0};

    memset(s, 0, sizeof(*s));
    s->outer = KERB_TKTFILE_TAG;
    s->version = 1;
    s->client = tb_str(CLIENT);
    s->server = tb_str(SERVER);
    s->flags = tb_raw(flags, 5);
    s->authtime = AUTHTIME;
    s->starttime = AUTHTIME;
    s->endtime = ENDTIME;
    s->has_renew = true;
    s->renew = RENEW;
    s->etype = 18;
    s->key_id = tb_raw(std_key_id, sizeof(std_key_id));
    s->label = tb_str("hsmssp-test");
    s->serial = tb_str("4d5fa1b3c2e0f987");
    s->ticket = ticket_der("HSMSSP.TEST", "krbtgt", "HSMSSP.TEST", 120, 7);
}

static void
spec_free(fspec *s)
{
    tb_free(&s->client);
    tb_free(&s->server);
    tb_free(&s->flags);
    tb_free(&s->authtime_raw);
    tb_free(&s->key_id);
    tb_free(&s->label);
    tb_free(&s->serial);
    tb_free(&s->ticket);
    tb_free(&s->extra);
    tb_free(&s->trailing);
}

static tb
build_file(const fspec *s)
{
    tb at = s->authtime_raw.p != NULL ? tlv(0x18, tb_dup(s->authtime_raw))
                                      : der_time(s->authtime);
    tb st = der_time(s->starttime);
    tb fields = s->no_version ? tb_raw("", 0) : ctx(0, der_int(s->version));

    fields = tb_cat(4, fields, ctx(1, tlv(0x1b, tb_dup(s->client))),
                    ctx(2, tlv(0x1b, tb_dup(s->server))),
                    ctx(3, tlv(0x03, tb_dup(s->flags))));
    if (s->swap_times)
        fields = tb_cat(3, fields, ctx(5, st), ctx(4, at));
    else
        fields = tb_cat(3, fields, ctx(4, at), ctx(5, st));
    fields = tb_cat(2, fields, ctx(6, der_time(s->endtime)));
    if (s->has_renew)
        fields = tb_cat(2, fields, ctx(7, der_time(s->renew)));
    fields = tb_cat(6, fields, ctx(8, der_int(s->etype)),
                    ctx(9, tlv(0x04, tb_dup(s->key_id))),
                    ctx(10, tlv(0x1b, tb_dup(s->label))),
                    ctx(11, tlv(0x1b, tb_dup(s->serial))),
                    ctx(12, tb_dup(s->ticket)));
    if (s->extra.p != NULL)
        fields = tb_cat(2, fields, tb_dup(s->extra));
    fields = tlv(s->outer, tlv(0x30, fields));
    if (s->trailing.p != NULL)
        fields = tb_cat(2, fields, tb_dup(s->trailing));
    return fields;
}

/* The entry that spec_std() describes (ticket malloc'ed). */
static void
entry_std(kerb_tktfile_entry *e)
{
    tb t = ticket_der("HSMSSP.TEST", "krbtgt", "HSMSSP.TEST", 120, 7);

    memset(e, 0, sizeof(*e));
    strcpy(e->client, CLIENT);
    strcpy(e->server, SERVER);
    e->flags = 0x40e00000u;
    e->authtime = AUTHTIME;
    e->starttime = AUTHTIME;
    e->endtime = ENDTIME;
    e->renew_till = RENEW;
    e->key_etype = 18;
    memcpy(e->key_id, std_key_id, sizeof(std_key_id));
    e->key_id_len = sizeof(std_key_id);
    strcpy(e->token_label, "hsmssp-test");
    strcpy(e->token_serial, "4d5fa1b3c2e0f987");
    e->ticket = t.p;
    e->ticket_len = t.n;
}

/* Every field equal, ticket bytes included. */
static void
assert_entry_equal(const kerb_tktfile_entry *a, const kerb_tktfile_entry *b)
{
    assert_string_equal(a->client, b->client);
    assert_string_equal(a->server, b->server);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->authtime, b->authtime);
    assert_int_equal(a->starttime, b->starttime);
    assert_int_equal(a->endtime, b->endtime);
    assert_int_equal(a->renew_till, b->renew_till);
    assert_int_equal(a->key_etype, b->key_etype);
    assert_int_equal(a->key_id_len, b->key_id_len);
    assert_memory_equal(a->key_id, b->key_id, a->key_id_len);
    assert_string_equal(a->token_label, b->token_label);
    assert_string_equal(a->token_serial, b->token_serial);
    assert_int_equal(a->ticket_len, b->ticket_len);
    assert_memory_equal(a->ticket, b->ticket, a->ticket_len);
}

static bool
all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* Decodes bytes that must be refused with code; the entry is left
 * all-zero and the detail names the reason (when want is not NULL). */
static void
expect_refused(const tb *f, hsmssp_err code, const char *want)
{
    kerb_tktfile_entry e;

    memset(&e, 0x5a, sizeof(e));
    TU_ERR(kerb_tktfile_decode(f->p, f->n, &e), code);
    assert_true(all_zero(&e, sizeof(e)));
    if (want != NULL && strstr(hsmssp_last_error_detail(), want) == NULL)
        fail_msg("detail '%s' lacks '%s'", hsmssp_last_error_detail(), want);
}

/* Builds spec s, expects refusal, frees s. */
static void
expect_spec_refused(fspec *s, hsmssp_err code, const char *want)
{
    tb f = build_file(s);

    expect_refused(&f, code, want);
    tb_free(&f);
    spec_free(s);
}

/* ---- fixture -------------------------------------------------------- */

typedef struct fx {
    char root[512]; /* mkdtemp'ed */
    char dir[600];  /* root/t: HSMSSP_TICKET_DIR, not created */
} fx;

static int
setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->root, sizeof(f->root), "%s/tktfile-XXXXXX", tu_work_dir());
    if (mkdtemp(f->root) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/t", f->root);
    setenv(KERB_TKTFILE_ENV, f->dir, 1);
    *state = f;
    return 0;
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *w)
{
    (void)st;
    (void)flag;
    (void)w;
    return remove(p);
}

static int
teardown(void **state)
{
    fx *f = *state;

    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    unsetenv(KERB_TKTFILE_ENV);
    free(f);
    return 0;
}

/* The ticket directory of the fixture, created. */
static char *
make_dir(void)
{
    char *dir = NULL;

    TU_OK(kerb_tktfile_dir(NULL, true, &dir));
    return dir;
}

static void
write_bytes(const char *path, const void *p, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void
assert_detail_has(const char *want)
{
    if (strstr(hsmssp_last_error_detail(), want) == NULL)
        fail_msg("detail '%s' lacks '%s'", hsmssp_last_error_detail(), want);
}

/* ---- the format ----------------------------------------------------- */

/* The encoder writes exactly what the module says, and the decoder reads
 * every field of it back. */
static void
test_format_vector(void **state)
{
    kerb_tktfile_entry e, d;
    fspec s;
    tb want;
    uint8_t *enc = NULL;
    size_t len = 0;

    (void)state;
    for (int renew = 1; renew >= 0; renew--) {
        spec_std(&s);
        entry_std(&e);
        if (!renew) {
            s.has_renew = false;
            e.renew_till = 0;
        }
        want = build_file(&s);
        TU_OK(kerb_tktfile_encode(&e, &enc, &len));
        assert_int_equal(len, want.n);
        assert_memory_equal(enc, want.p, len);
        assert_int_equal(enc[0], 0xe1);
        TU_OK(kerb_tktfile_decode(want.p, want.n, &d));
        assert_entry_equal(&d, &e);
        assert_int_equal(d.renew_till, renew ? RENEW : 0);
        kerb_tktfile_entry_clear(&d);
        free(enc);
        enc = NULL;
        tb_free(&want);
        spec_free(&s);
        kerb_tktfile_entry_clear(&e);
    }
}

/* Entries at the edges of every rule round-trip field for field, and the
 * re-encoding is byte-identical. */
static void
test_roundtrip_edges(void **state)
{
    static const char *clients[] = {
        CLIENT,          "a\\/b@HSMSSP.TEST", "host/x.example.com@EXAMPLE.COM",
        "caf\xc3\xa9@R", "a\\@b@R",           "a\\\\b@R",
        "tab\\there@R"};
    kerb_tktfile_entry e, d;
    uint8_t *enc = NULL, *enc2 = NULL;
    size_t len = 0, len2 = 0;

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(clients) + 3; i++) {
        entry_std(&e);
        if (i < BASE_ARRAY_LEN(clients)) {
            strcpy(e.client, clients[i]);
        } else if (i == BASE_ARRAY_LEN(clients)) {
            /* Longest client, shortest key-id, empty token strings, all
             * flags, time 0 and the last KerberosTime. */
            memset(e.client, 'x', KERB_KS_MAX_PRINCIPAL - 2);
            memcpy(e.client + KERB_KS_MAX_PRINCIPAL - 2, "@R", 3);
            e.key_id_len = 1;
            e.token_label[0] = '\0';
            e.token_serial[0] = '\0';
            e.flags = 0xffffffffu;
            e.authtime = 0;
            e.starttime = 0;
            e.endtime = KERB_TKTFILE_MAX_TIME;
            e.renew_till = KERB_TKTFILE_MAX_TIME;
            e.key_etype = INT32_MIN;
        } else if (i == BASE_ARRAY_LEN(clients) + 1) {
            /* Longest key-id, token strings and a negative etype. */
            memset(e.key_id, 0xee, KERB_TKTFILE_MAX_KEY_ID);
            e.key_id_len = KERB_TKTFILE_MAX_KEY_ID;
            memset(e.token_label, 'L', KERB_TKTFILE_MAX_TOKEN_LABEL);
            e.token_label[KERB_TKTFILE_MAX_TOKEN_LABEL] = '\0';
            memset(e.token_serial, '9', KERB_TKTFILE_MAX_TOKEN_SERIAL);
            e.token_serial[KERB_TKTFILE_MAX_TOKEN_SERIAL] = '\0';
            e.key_etype = -128;
            e.flags = 0;
            e.renew_till = 1;
        } else {
            /* The largest ticket, for another realm (cross-realm TGT). */
            tb t = ticket_sized("B.EXAMPLE", "krbtgt", "A.EXAMPLE",
                                KERB_TKTFILE_MAX_TICKET, 9);

            free(e.ticket);
            e.ticket = t.p;
            e.ticket_len = t.n;
            strcpy(e.server, "krbtgt/A.EXAMPLE@B.EXAMPLE");
        }
        TU_OK(kerb_tktfile_encode(&e, &enc, &len));
        assert_true(len <= KERB_TKTFILE_MAX_FILE);
        TU_OK(kerb_tktfile_decode(enc, len, &d));
        assert_entry_equal(&d, &e);
        TU_OK(kerb_tktfile_encode(&d, &enc2, &len2));
        assert_int_equal(len2, len);
        assert_memory_equal(enc2, enc, len);
        free(enc);
        free(enc2);
        kerb_tktfile_entry_clear(&d);
        kerb_tktfile_entry_clear(&e);
    }
}

static void
std_file(tb *out)
{
    fspec s;

    spec_std(&s);
    *out = build_file(&s);
    spec_free(&s);
}

/* Every proper prefix is refused, with the entry left cleared. */
static void
test_truncation(void **state)
{
    tb f, cut;

    (void)state;
    std_file(&f);
    for (size_t n = 0; n < f.n; n++) {
        cut = tb_raw(f.p, n);
        expect_refused(&cut, HSMSSP_ERR_BAD_TOKEN, "ticket file");
        tb_free(&cut);
    }
    tb_free(&f);
}

/* Every single-bit change is refused, or decodes to an entry whose
 * encoding is exactly the changed bytes (so a different entry: the
 * decoder accepts one encoding per entry). */
static void
test_bit_flips(void **state)
{
    kerb_tktfile_entry e;
    tb f;
    uint8_t *enc;
    size_t len;
    unsigned accepted = 0, refused = 0;

    (void)state;
    std_file(&f);
    for (size_t i = 0; i < f.n; i++) {
        for (unsigned b = 0; b < 8; b++) {
            hsmssp_err ret;

            f.p[i] ^= (uint8_t)(1u << b);
            memset(&e, 0x5a, sizeof(e));
            ret = kerb_tktfile_decode(f.p, f.n, &e);
            if (ret == HSMSSP_OK) {
                TU_OK(kerb_tktfile_encode(&e, &enc, &len));
                assert_int_equal(len, f.n);
                assert_memory_equal(enc, f.p, len);
                free(enc);
                kerb_tktfile_entry_clear(&e);
                accepted++;
            } else {
                if (ret != HSMSSP_ERR_BAD_TOKEN && ret != HSMSSP_ERR_LIMIT)
                    fail_msg("byte %zu bit %u: %s", i, b,
                             hsmssp_err_name(ret));
                assert_true(all_zero(&e, sizeof(e)));
                refused++;
            }
            f.p[i] ^= (uint8_t)(1u << b);
        }
    }
    /* Both outcomes occur: flips in the cipher text are other valid
     * tickets, flips in tags and lengths are refused. */
    assert_true(accepted > 0);
    assert_true(refused > 0);
    tb_free(&f);
}

static void
test_structure_rules(void **state)
{
    static const uint8_t one = 0;
    fspec s;

    (void)state;
    /* Trailing byte after the file. */
    spec_std(&s);
    s.trailing = tb_raw(&one, 1);
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "trailing");
    /* An extension field [13]: not in version 1. */
    spec_std(&s);
    s.extra = ctx(13, der_int(0));
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "after the last field");
    /* Other outer tags: a plain SEQUENCE, a Ticket's [APPLICATION 1]. */
    spec_std(&s);
    s.outer = 0x30;
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "not an hsmssp ticket");
    spec_std(&s);
    s.outer = 0x61;
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "not an hsmssp ticket");
    /* A bare Ticket is not a ticket file either. */
    spec_std(&s);
    expect_refused(&s.ticket, HSMSSP_ERR_BAD_TOKEN, "not an hsmssp ticket");
    spec_free(&s);
    /* Versions. */
    spec_std(&s);
    s.version = 2;
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "version 2");
    spec_std(&s);
    s.version = 0;
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "version 0");
    spec_std(&s);
    s.version = -1;
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "version -1");
    spec_std(&s);
    s.no_version = true;
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "version");
    /* Field order. */
    spec_std(&s);
    s.swap_times = true;
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "authtime");
    /* renew-till present with 0: absent is the only spelling of "none". */
    spec_std(&s);
    s.renew = 0;
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "renew-till");
    /* Flags other than 32 bits with no unused bits. */
    spec_std(&s);
    tb_free(&s.flags);
    s.flags = tb_raw("\x00\x40\xe0\x00\x00\x00", 6);
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "flags");
    spec_std(&s);
    s.flags.p[0] = 1;
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "flags");
    spec_std(&s);
    tb_free(&s.flags);
    s.flags = tb_raw("\x00\x40\xe0\x00", 4);
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "flags");
    /* Times that are not KerberosTime. */
    spec_std(&s);
    s.authtime_raw = tb_str("20231114221320.5Z");
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "authtime");
    spec_std(&s);
    s.authtime_raw = tb_str("20231114221320+0100");
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "authtime");
    spec_std(&s);
    s.authtime_raw = tb_str("20231131221320Z");
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "authtime");
    /* key-etype outside Int32. */
    spec_std(&s);
    s.etype = (int64_t)INT32_MAX + 1;
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "key-etype");
    /* An empty input and a non-minimal length. */
    {
        tb f = tb_raw("", 0);
        expect_refused(&f, HSMSSP_ERR_BAD_TOKEN, NULL);
        tb_free(&f);
        std_file(&f);
        /* Re-code the outer length in long form with a leading 0. */
        assert_true(f.p[1] == 0x82);
        f.p[1] = 0x83;
        f.p = realloc(f.p, f.n + 1);
        memmove(f.p + 3, f.p + 2, f.n - 2);
        f.p[2] = 0;
        f.n++;
        expect_refused(&f, HSMSSP_ERR_BAD_TOKEN, "non-minimal");
        tb_free(&f);
    }
}

static void
test_content_rules(void **state)
{
    fspec s;
    char big[KERB_KS_MAX_PRINCIPAL + 2];

    (void)state;
    /* Over-long strings. */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big + sizeof(big) - 3, "@R", 2); /* 256 bytes */
    spec_std(&s);
    tb_free(&s.client);
    s.client = tb_str(big);
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "client longer");
    spec_std(&s);
    tb_free(&s.label);
    s.label = tb_str("123456789012345678901234567890123");
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "token-label longer");
    spec_std(&s);
    tb_free(&s.serial);
    s.serial = tb_str("12345678901234567");
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "token-serial longer");
    /* NULs. */
    spec_std(&s);
    tb_free(&s.client);
    s.client = tb_raw("alice\0@HSMSSP.TEST", 18);
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "NUL in client");
    spec_std(&s);
    tb_free(&s.server);
    s.server = tb_raw(SERVER "\0", sizeof(SERVER));
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "NUL in server");
    spec_std(&s);
    tb_free(&s.label);
    s.label = tb_raw("a\0b", 3);
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "NUL in token-label");
    spec_std(&s);
    tb_free(&s.serial);
    s.serial = tb_raw("\0", 1);
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "NUL in token-serial");
    /* Names that are not canonical principals with a realm. */
    static const char *bad_names[] = {
        "",        "alice", "alice@",  "@R",
        "a\\qb@R", "a@b@R", "alice\\", "a/b/c/d/e/f/g/h/i@R"};
    for (size_t i = 0; i < BASE_ARRAY_LEN(bad_names); i++) {
        spec_std(&s);
        tb_free(&s.client);
        s.client = tb_str(bad_names[i]);
        expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "client");
    }
    /* The server must be the Ticket's sname@realm. */
    spec_std(&s);
    tb_free(&s.server);
    s.server = tb_str("krbtgt/OTHER@HSMSSP.TEST");
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "sname@realm");
    /* key-id bounds. */
    spec_std(&s);
    tb_free(&s.key_id);
    s.key_id = tb_raw("", 0);
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "key-id of 0");
    {
        uint8_t k[65];
        memset(k, 1, sizeof(k));
        spec_std(&s);
        tb_free(&s.key_id);
        s.key_id = tb_raw(k, sizeof(k));
        expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "key-id of 65");
    }
    /* Tickets: empty, not a Ticket, two elements, too large. */
    spec_std(&s);
    tb_free(&s.ticket);
    s.ticket = tb_raw("", 0);
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "ticket: DER");
    spec_std(&s);
    tb_free(&s.ticket);
    s.ticket = tlv(0x04, tb_str("not a ticket"));
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "well-formed Ticket");
    spec_std(&s);
    s.ticket = tb_cat(2, s.ticket, tlv(0x05, tb_raw("", 0)));
    expect_spec_refused(&s, HSMSSP_ERR_BAD_TOKEN, "ticket: DER");
    spec_std(&s);
    tb_free(&s.ticket);
    s.ticket = ticket_sized("HSMSSP.TEST", "krbtgt", "HSMSSP.TEST",
                            KERB_TKTFILE_MAX_TICKET + 1, 3);
    {
        char want[48];

        (void)snprintf(want, sizeof(want), "ticket of %d",
                       KERB_TKTFILE_MAX_TICKET + 1);
        expect_spec_refused(&s, HSMSSP_ERR_LIMIT, want);
    }
    /* A whole input over the file bound. */
    {
        tb f = {calloc(1, KERB_TKTFILE_MAX_FILE + 1),
                KERB_TKTFILE_MAX_FILE + 1};

        assert_non_null(f.p);
        expect_refused(&f, HSMSSP_ERR_LIMIT, "at most");
        tb_free(&f);
    }
}

/* The encoder checks the same rules before writing a byte. */
static void
test_encode_rules(void **state)
{
    kerb_tktfile_entry e;
    uint8_t *enc = (uint8_t *)"x";
    size_t len = 99;

    (void)state;
    for (int i = 0; i < 14; i++) {
        hsmssp_err want = HSMSSP_ERR_INVALID_ARGUMENT;

        entry_std(&e);
        switch (i) {
        case 0:
            memset(e.client, 'a', sizeof(e.client)); /* no NUL */
            break;
        case 1:
            e.client[0] = '\0';
            break;
        case 2:
            strcpy(e.client, "alice"); /* no realm */
            break;
        case 3:
            e.authtime = -1;
            break;
        case 4:
            e.endtime = KERB_TKTFILE_MAX_TIME + 1;
            break;
        case 5:
            e.renew_till = -5;
            break;
        case 6:
            e.key_id_len = 0;
            break;
        case 7:
            e.key_id_len = KERB_TKTFILE_MAX_KEY_ID + 1;
            break;
        case 8:
            memset(e.token_label, 'L', sizeof(e.token_label));
            break;
        case 9:
            memset(e.token_serial, 'S', sizeof(e.token_serial));
            break;
        case 10:
            e.ticket_len = 0;
            break;
        case 11:
            e.ticket[0] = 0x62; /* [APPLICATION 2]: not a Ticket */
            break;
        case 12:
            strcpy(e.server, "krbtgt/X@HSMSSP.TEST");
            break;
        default:
            e.ticket = realloc(e.ticket, KERB_TKTFILE_MAX_TICKET + 1);
            e.ticket_len = KERB_TKTFILE_MAX_TICKET + 1;
            want = HSMSSP_ERR_LIMIT;
            break;
        }
        TU_ERR(kerb_tktfile_encode(&e, &enc, &len), want);
        assert_null(enc);
        assert_int_equal(len, 0);
        enc = (uint8_t *)"x";
        len = 99;
        kerb_tktfile_entry_clear(&e);
    }
    TU_ERR(kerb_tktfile_encode(NULL, &enc, &len), HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_tktfile_decode(NULL, 3, &e), HSMSSP_ERR_INVALID_ARGUMENT);
}

static void
test_entry_clear(void **state)
{
    kerb_tktfile_entry e;

    (void)state;
    entry_std(&e);
    kerb_tktfile_entry_clear(&e);
    assert_true(all_zero(&e, sizeof(e)));
    kerb_tktfile_entry_clear(NULL);
}

/* ---- the directory -------------------------------------------------- */

static void
assert_mode(const char *path, mode_t want)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, want);
}

static void
test_dir_choice(void **state)
{
    fx *f = *state;
    char *dir = NULL, cfg[700], want[96], run[64];
    struct stat st;
    mode_t old;
    hsmssp_err ret;

    /* The environment wins over the configuration; missing and not to
     * be created: success, nothing made. */
    snprintf(cfg, sizeof(cfg), "%s/cfg", f->root);
    TU_OK(kerb_tktfile_dir(cfg, false, &dir));
    assert_string_equal(dir, f->dir);
    assert_int_equal(lstat(f->dir, &st), -1);
    free(dir);
    /* Created 0700 whatever the umask. */
    old = umask(0277);
    TU_OK(kerb_tktfile_dir(cfg, true, &dir));
    umask(old);
    assert_string_equal(dir, f->dir);
    assert_mode(f->dir, 0700);
    free(dir);
    old = umask(0);
    TU_OK(kerb_tktfile_dir(NULL, true, &dir)); /* exists: fine */
    umask(old);
    assert_mode(f->dir, 0700);
    free(dir);

    /* Without the environment: the configured directory, trailing
     * slashes dropped, created with mode 0700 under umask 0. */
    unsetenv(KERB_TKTFILE_ENV);
    snprintf(cfg, sizeof(cfg), "%s/cfg//", f->root);
    old = umask(0);
    TU_OK(kerb_tktfile_dir(cfg, true, &dir));
    umask(old);
    cfg[strlen(cfg) - 2] = '\0';
    assert_string_equal(dir, cfg);
    assert_mode(cfg, 0700);
    free(dir);
    /* An empty environment variable counts as unset. */
    setenv(KERB_TKTFILE_ENV, "", 1);
    TU_OK(kerb_tktfile_dir(cfg, false, &dir));
    assert_string_equal(dir, cfg);
    free(dir);
    unsetenv(KERB_TKTFILE_ENV);

    /* Relative paths are refused, from either source. */
    TU_ERR(kerb_tktfile_dir("rel/dir", true, &dir), HSMSSP_ERR_CONFIG);
    assert_null(dir);
    assert_detail_has("absolute");
    setenv(KERB_TKTFILE_ENV, "tickets", 1);
    TU_ERR(kerb_tktfile_dir(NULL, false, &dir), HSMSSP_ERR_CONFIG);
    unsetenv(KERB_TKTFILE_ENV);

    /* The default: /run/user/<euid>/hsmssp when that runtime directory is
     * the user's, else /tmp/hsmssp-<euid>.  Not created here (create
     * false), and a leftover with bad permissions is still named. */
    snprintf(run, sizeof(run), "/run/user/%u", (unsigned)geteuid());
    if (lstat(run, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid())
        snprintf(want, sizeof(want), "%s/hsmssp", run);
    else
        snprintf(want, sizeof(want), "/tmp/hsmssp-%u", (unsigned)geteuid());
    ret = kerb_tktfile_dir(NULL, false, &dir);
    if (ret == HSMSSP_OK)
        assert_string_equal(dir, want);
    else
        assert_detail_has(want);
    free(dir);
    dir = NULL;
    TU_ERR(kerb_tktfile_dir(NULL, false, NULL), HSMSSP_ERR_INVALID_ARGUMENT);

    /* The parent is never created. */
    snprintf(cfg, sizeof(cfg), "%s/no/such", f->root);
    setenv(KERB_TKTFILE_ENV, cfg, 1);
    TU_ERR(kerb_tktfile_dir(NULL, true, &dir), HSMSSP_ERR_CONFIG);
    assert_detail_has(cfg);
    assert_detail_has("No such file");
    snprintf(cfg, sizeof(cfg), "%s/no", f->root);
    assert_int_equal(lstat(cfg, &st), -1);
}

static void
test_dir_refusals(void **state)
{
    fx *f = *state;
    static const mode_t bad[] = {0750, 0701, 0755, 0710, 0702, 01777};
    char *dir = NULL, other[700];
    char modestr[16];

    for (size_t i = 0; i < BASE_ARRAY_LEN(bad); i++) {
        assert_int_equal(mkdir(f->dir, 0700), 0);
        assert_int_equal(chmod(f->dir, bad[i]), 0);
        TU_ERR(kerb_tktfile_dir(NULL, true, &dir), HSMSSP_ERR_FILE_PERMS);
        assert_null(dir);
        assert_detail_has(f->dir);
        snprintf(modestr, sizeof(modestr), "%04o", (unsigned)bad[i]);
        assert_detail_has(modestr);
        /* The mode was not "fixed" behind the operator's back. */
        assert_mode(f->dir, bad[i]);
        assert_int_equal(rmdir(f->dir), 0);
    }
    /* A symbolic link to a perfectly good directory. */
    snprintf(other, sizeof(other), "%s/real", f->root);
    assert_int_equal(mkdir(other, 0700), 0);
    assert_int_equal(symlink(other, f->dir), 0);
    TU_ERR(kerb_tktfile_dir(NULL, true, &dir), HSMSSP_ERR_FILE_PERMS);
    assert_detail_has("symbolic link");
    TU_ERR(kerb_tktfile_dir(NULL, false, &dir), HSMSSP_ERR_FILE_PERMS);
    assert_int_equal(unlink(f->dir), 0);
    /* A regular file. */
    write_bytes(f->dir, "x", 1, 0600);
    TU_ERR(kerb_tktfile_dir(NULL, true, &dir), HSMSSP_ERR_FILE_PERMS);
    assert_detail_has("not a directory");
    assert_int_equal(unlink(f->dir), 0);
    /* Owned by someone else (needs root to make). */
    if (geteuid() != 0) {
        tu_skip_case("chown to nobody needs root");
        return;
    }
    assert_int_equal(mkdir(f->dir, 0700), 0);
    assert_int_equal(chown(f->dir, NOBODY, NOBODY), 0);
    TU_ERR(kerb_tktfile_dir(NULL, true, &dir), HSMSSP_ERR_FILE_PERMS);
    assert_detail_has("65534");
    assert_detail_has(f->dir);
}

/* ---- files ---------------------------------------------------------- */

static char *
std_path(const char *dir)
{
    char *path = NULL;

    TU_OK(kerb_tktfile_path(dir, CLIENT, &path));
    return path;
}

static void
test_write_read(void **state)
{
    kerb_tktfile_entry e, e2, d;
    char *dir, *path;
    struct stat st;
    mode_t old;
    DIR *dh;
    struct dirent *de;
    unsigned files = 0;
    tb t;

    (void)state;
    dir = make_dir();
    path = std_path(dir);
    entry_std(&e);
    old = umask(0);
    TU_OK(kerb_tktfile_write(path, &e));
    umask(old);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_uid, geteuid());
    TU_OK(kerb_tktfile_read(path, &d));
    assert_entry_equal(&d, &e);
    kerb_tktfile_entry_clear(&d);

    /* Atomic replacement: the second write wins, whole. */
    entry_std(&e2);
    e2.endtime = ENDTIME + 3600;
    e2.renew_till = 0;
    free(e2.ticket);
    t = ticket_der("HSMSSP.TEST", "krbtgt", "HSMSSP.TEST", 900, 11);
    e2.ticket = t.p;
    e2.ticket_len = t.n;
    old = umask(077);
    TU_OK(kerb_tktfile_write(path, &e2));
    umask(old);
    TU_OK(kerb_tktfile_read(path, &d));
    assert_entry_equal(&d, &e2);
    kerb_tktfile_entry_clear(&d);
    assert_mode(path, 0600);

    /* A rule-breaking entry never reaches the disk: the old file stays. */
    e.key_id_len = 0;
    TU_ERR(kerb_tktfile_write(path, &e), HSMSSP_ERR_INVALID_ARGUMENT);
    TU_OK(kerb_tktfile_read(path, &d));
    assert_entry_equal(&d, &e2);
    kerb_tktfile_entry_clear(&d);

    /* No temporary file is left behind. */
    dh = opendir(dir);
    assert_non_null(dh);
    while ((de = readdir(dh)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        assert_string_equal(de->d_name, CLIENT ".tgt");
        files++;
    }
    closedir(dh);
    assert_int_equal(files, 1);

    /* The file holds the encoding, nothing else. */
    {
        uint8_t *enc, buf[4096];
        size_t len;
        int fd = open(path, O_RDONLY);
        ssize_t r;

        assert_true(fd >= 0);
        r = read(fd, buf, sizeof(buf));
        close(fd);
        TU_OK(kerb_tktfile_encode(&e2, &enc, &len));
        assert_int_equal(r, (ssize_t)len);
        assert_memory_equal(buf, enc, len);
        free(enc);
    }
    kerb_tktfile_entry_clear(&e);
    kerb_tktfile_entry_clear(&e2);
    free(path);
    free(dir);
}

static void
test_write_refusals(void **state)
{
    fx *f = *state;
    kerb_tktfile_entry e;
    char *path;

    entry_std(&e);
    /* The directory must exist... */
    path = std_path(f->dir);
    TU_ERR(kerb_tktfile_write(path, &e), HSMSSP_ERR_CONFIG);
    assert_detail_has("does not exist");
    /* ...and be private. */
    assert_int_equal(mkdir(f->dir, 0755), 0);
    assert_int_equal(chmod(f->dir, 0755), 0);
    TU_ERR(kerb_tktfile_write(path, &e), HSMSSP_ERR_FILE_PERMS);
    assert_int_equal(chmod(f->dir, 0700), 0);
    /* Paths that name no file. */
    TU_ERR(kerb_tktfile_write("", &e), HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_tktfile_write("/tmp/", &e), HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_tktfile_write(NULL, &e), HSMSSP_ERR_INVALID_ARGUMENT);
    TU_OK(kerb_tktfile_write(path, &e));
    kerb_tktfile_entry_clear(&e);
    free(path);
}

static void
test_read_refusals(void **state)
{
    fx *f = *state;
    static const mode_t bad[] = {0644, 0640, 0604, 0660, 0601, 0610};
    kerb_tktfile_entry e, d;
    char *dir, *path, other[700], modestr[16];
    uint8_t *enc;
    size_t len;

    (void)f;
    dir = make_dir();
    path = std_path(dir);
    entry_std(&e);
    TU_OK(kerb_tktfile_encode(&e, &enc, &len));

    /* Missing. */
    memset(&d, 0x5a, sizeof(d));
    TU_ERR(kerb_tktfile_read(path, &d), HSMSSP_ERR_NO_TICKET);
    assert_true(all_zero(&d, sizeof(d)));
    assert_detail_has(path);
    /* Group or world bits. */
    for (size_t i = 0; i < BASE_ARRAY_LEN(bad); i++) {
        write_bytes(path, enc, len, bad[i]);
        TU_ERR(kerb_tktfile_read(path, &d), HSMSSP_ERR_FILE_PERMS);
        assert_detail_has(path);
        snprintf(modestr, sizeof(modestr), "%04o", (unsigned)bad[i]);
        assert_detail_has(modestr);
    }
    /* Owner-only modes read. */
    write_bytes(path, enc, len, 0400);
    TU_OK(kerb_tktfile_read(path, &d));
    assert_entry_equal(&d, &e);
    kerb_tktfile_entry_clear(&d);
    assert_int_equal(unlink(path), 0);
    /* A symbolic link to a good file. */
    snprintf(other, sizeof(other), "%s/real.tgt.bak", dir);
    write_bytes(other, enc, len, 0600);
    assert_int_equal(symlink(other, path), 0);
    TU_ERR(kerb_tktfile_read(path, &d), HSMSSP_ERR_FILE_PERMS);
    assert_detail_has("symbolic link");
    assert_int_equal(unlink(path), 0);
    /* A FIFO (must not block) and a directory. */
    assert_int_equal(mkfifo(path, 0600), 0);
    TU_ERR(kerb_tktfile_read(path, &d), HSMSSP_ERR_FILE_PERMS);
    assert_detail_has("not a regular file");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    TU_ERR(kerb_tktfile_read(path, &d), HSMSSP_ERR_FILE_PERMS);
    assert_int_equal(rmdir(path), 0);
    /* Over the size bound. */
    {
        uint8_t *big = calloc(1, KERB_TKTFILE_MAX_FILE + 1);

        assert_non_null(big);
        write_bytes(path, big, KERB_TKTFILE_MAX_FILE + 1, 0600);
        free(big);
        TU_ERR(kerb_tktfile_read(path, &d), HSMSSP_ERR_LIMIT);
    }
    /* Garbage, and a truncated file: the path and the reason. */
    write_bytes(path, "garbage\n", 8, 0600);
    TU_ERR(kerb_tktfile_read(path, &d), HSMSSP_ERR_BAD_TOKEN);
    assert_detail_has(path);
    assert_detail_has("not an hsmssp ticket file");
    write_bytes(path, enc, len - 1, 0600);
    TU_ERR(kerb_tktfile_read(path, &d), HSMSSP_ERR_BAD_TOKEN);
    assert_true(all_zero(&d, sizeof(d)));
    /* A private directory is required for reading too. */
    write_bytes(path, enc, len, 0600);
    assert_int_equal(chmod(dir, 0711), 0);
    TU_ERR(kerb_tktfile_read(path, &d), HSMSSP_ERR_FILE_PERMS);
    assert_int_equal(chmod(dir, 0700), 0);
    /* Owned by someone else. */
    if (geteuid() == 0) {
        assert_int_equal(chown(path, NOBODY, NOBODY), 0);
        TU_ERR(kerb_tktfile_read(path, &d), HSMSSP_ERR_FILE_PERMS);
        assert_detail_has("65534");
        assert_detail_has(path);
    }
    free(enc);
    kerb_tktfile_entry_clear(&e);
    free(path);
    free(dir);
    if (geteuid() != 0)
        tu_skip_case("chown to nobody needs root");
}

static void
test_load(void **state)
{
    fx *f = *state;
    kerb_tktfile_entry e, d;
    char *dir, *path, *bob = NULL;

    (void)f;
    dir = make_dir();
    TU_ERR(kerb_tktfile_load(dir, CLIENT, &d), HSMSSP_ERR_NO_TICKET);
    assert_detail_has("no ticket for " CLIENT "; run hsmssp kinit " CLIENT);
    entry_std(&e);
    path = std_path(dir);
    TU_OK(kerb_tktfile_write(path, &e));
    TU_OK(kerb_tktfile_load(dir, CLIENT, &d));
    assert_entry_equal(&d, &e);
    kerb_tktfile_entry_clear(&d);
    /* Alice's file copied to Bob's name is not Bob's ticket. */
    TU_OK(kerb_tktfile_path(dir, "bob@HSMSSP.TEST", &bob));
    assert_int_equal(rename(path, bob), 0);
    memset(&d, 0x5a, sizeof(d));
    TU_ERR(kerb_tktfile_load(dir, "bob@HSMSSP.TEST", &d),
           HSMSSP_ERR_BAD_TOKEN);
    assert_true(all_zero(&d, sizeof(d)));
    assert_detail_has("holds a ticket for " CLIENT);
    kerb_tktfile_entry_clear(&e);
    free(bob);
    free(path);
    free(dir);
}

/* File names: injective, safe, bounded. */
static void
test_path_names(void **state)
{
    static const struct {
        const char *client, *name;
    } cases[] = {
        {CLIENT, CLIENT ".tgt"},
        {"HTTP/www.example.com@EX.COM", "HTTP%2Fwww.example.com@EX.COM.tgt"},
        {".hidden@R", "%2Ehidden@R.tgt"},
        {"a.b@R", "a.b@R.tgt"},
        {"a b%c@R", "a%20b%25c@R.tgt"},
        {"caf\xc3\xa9@R", "caf%C3%A9@R.tgt"},
        {"a\\/b@R", "a%5C%2Fb@R.tgt"},
        {"..@R", "%2E.@R.tgt"},
        {"x~y_z-1@R", "x%7Ey_z-1@R.tgt"},
    };
    char *path = NULL, *p2 = NULL, longc[KERB_KS_MAX_PRINCIPAL + 1];
    char big[KERB_KS_MAX_PRINCIPAL + 2];
    const char *name;

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(cases); i++) {
        TU_OK(kerb_tktfile_path("/d", cases[i].client, &path));
        assert_int_equal(strncmp(path, "/d/", 3), 0);
        assert_string_equal(path + 3, cases[i].name);
        free(path);
    }
    /* Long principals: hashed form, bounded, distinct, readable prefix. */
    memset(longc, '/', KERB_KS_MAX_PRINCIPAL);
    longc[KERB_KS_MAX_PRINCIPAL] = '\0';
    TU_OK(kerb_tktfile_path("/d", longc, &path));
    longc[KERB_KS_MAX_PRINCIPAL - 1] = 'x';
    TU_OK(kerb_tktfile_path("/d", longc, &p2));
    name = path + 3;
    assert_true(strlen(name) <= KERB_TKTFILE_MAX_NAME);
    assert_null(strchr(name, '/'));
    assert_non_null(strchr(name, '~'));
    assert_int_equal(strncmp(name, "%2F%2F%2F", 9), 0);
    assert_string_not_equal(path, p2);
    assert_int_equal(strlen(name) - strlen(".tgt"), strrchr(name, '.') - name);
    /* The prefix ends on a whole escape: '~' follows a complete %XX. */
    assert_int_equal((strchr(name, '~') - name) % 3, 0);
    free(path);
    free(p2);
    /* 66 plain characters: 66 + 4 = 70, kept in full. */
    memset(longc, 'q', 64);
    memcpy(longc + 64, "@R", 3);
    TU_OK(kerb_tktfile_path("/d", longc, &path));
    assert_null(strchr(path, '~'));
    free(path);
    /* A name whose encoding is exactly at the limit: still plain; one
     * more byte: hashed. */
    memset(longc, 'q', KERB_TKTFILE_MAX_NAME - 4 - 2);
    memcpy(longc + KERB_TKTFILE_MAX_NAME - 6, "@R", 3);
    TU_OK(kerb_tktfile_path("/d", longc, &path));
    assert_int_equal(strlen(path + 3), KERB_TKTFILE_MAX_NAME);
    assert_null(strchr(path, '~'));
    free(path);
    memset(longc, 'q', KERB_TKTFILE_MAX_NAME - 4 - 1);
    memcpy(longc + KERB_TKTFILE_MAX_NAME - 5, "@R", 3);
    TU_OK(kerb_tktfile_path("/d", longc, &path));
    assert_non_null(strchr(path, '~'));
    assert_true(strlen(path + 3) <= KERB_TKTFILE_MAX_NAME);
    free(path);
    /* Bounds and arguments. */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    TU_ERR(kerb_tktfile_path("/d", big, &path), HSMSSP_ERR_INVALID_ARGUMENT);
    assert_null(path);
    TU_ERR(kerb_tktfile_path("/d", "", &path), HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_tktfile_path("/d", NULL, &path), HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_tktfile_path(NULL, CLIENT, &path),
           HSMSSP_ERR_INVALID_ARGUMENT);
}

/* ---- listing -------------------------------------------------------- */

typedef struct seen {
    unsigned n;
    char paths[8][1024];
    bool ok[8];
    hsmssp_err why[8];
    char reason[8][512];
    char client[8][KERB_KS_MAX_PRINCIPAL + 1];
    unsigned stop_after;
} seen;

static bool
collect(void *arg, const char *path, const kerb_tktfile_entry *e,
        hsmssp_err why, const char *reason)
{
    seen *s = arg;

    assert_true(s->n < 8);
    snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s", path);
    s->ok[s->n] = e != NULL;
    s->why[s->n] = why;
    if (e != NULL) {
        assert_int_equal(why, HSMSSP_OK);
        assert_null(reason);
        snprintf(s->client[s->n], sizeof(s->client[0]), "%s", e->client);
    } else {
        assert_int_not_equal(why, HSMSSP_OK);
        assert_non_null(reason);
        snprintf(s->reason[s->n], sizeof(s->reason[0]), "%s", reason);
        /* fn may fail calls of its own without spoiling later reasons. */
        assert_int_equal(kerb_tktfile_remove(""), HSMSSP_ERR_INVALID_ARGUMENT);
    }
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

static void
test_list(void **state)
{
    fx *f = *state;
    kerb_tktfile_entry e;
    seen s;
    char *dir, *path = NULL, p[1024];

    /* No directory: an empty listing. */
    memset(&s, 0, sizeof(s));
    TU_OK(kerb_tktfile_list(f->dir, collect, &s));
    assert_int_equal(s.n, 0);

    dir = make_dir();
    entry_std(&e);
    TU_OK(kerb_tktfile_path(dir, CLIENT, &path));
    TU_OK(kerb_tktfile_write(path, &e));
    free(path);
    strcpy(e.client, "zed@HSMSSP.TEST");
    TU_OK(kerb_tktfile_path(dir, e.client, &path));
    TU_OK(kerb_tktfile_write(path, &e));
    free(path);
    /* Garbage under a ticket name, a ticket under the wrong name, a
     * readable file, and names that are not ticket files at all. */
    snprintf(p, sizeof(p), "%s/junk@HSMSSP.TEST.tgt", dir);
    write_bytes(p, "not DER", 7, 0600);
    strcpy(e.client, "mallory@HSMSSP.TEST");
    snprintf(p, sizeof(p), "%s/bob@HSMSSP.TEST.tgt", dir);
    TU_OK(kerb_tktfile_write(p, &e));
    snprintf(p, sizeof(p), "%s/open@HSMSSP.TEST.tgt", dir);
    strcpy(e.client, "open@HSMSSP.TEST");
    TU_OK(kerb_tktfile_write(p, &e));
    assert_int_equal(chmod(p, 0644), 0);
    snprintf(p, sizeof(p), "%s/notes.txt", dir);
    write_bytes(p, "x", 1, 0600);
    snprintf(p, sizeof(p), "%s/.alice@HSMSSP.TEST.tgt.0a0b0c0d0e0f", dir);
    write_bytes(p, "x", 1, 0600);
    snprintf(p, sizeof(p), "%s/.tgt", dir);
    write_bytes(p, "x", 1, 0600);

    memset(&s, 0, sizeof(s));
    TU_OK(kerb_tktfile_list(dir, collect, &s));
    assert_int_equal(s.n, 5);
    /* Byte order of the names: alice, bob, junk, open, zed. */
    assert_true(s.ok[0]);
    assert_string_equal(s.client[0], CLIENT);
    snprintf(p, sizeof(p), "%s/" CLIENT ".tgt", dir);
    assert_string_equal(s.paths[0], p);
    assert_false(s.ok[1]);
    assert_int_equal(s.why[1], HSMSSP_ERR_BAD_TOKEN);
    assert_non_null(strstr(s.reason[1], "holds a ticket for mallory"));
    assert_false(s.ok[2]);
    assert_int_equal(s.why[2], HSMSSP_ERR_BAD_TOKEN);
    assert_non_null(strstr(s.reason[2], "junk@HSMSSP.TEST.tgt"));
    assert_false(s.ok[3]);
    assert_int_equal(s.why[3], HSMSSP_ERR_FILE_PERMS);
    assert_non_null(strstr(s.reason[3], "0644"));
    assert_true(s.ok[4]);
    assert_string_equal(s.client[4], "zed@HSMSSP.TEST");

    /* fn stops the listing. */
    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    TU_OK(kerb_tktfile_list(dir, collect, &s));
    assert_int_equal(s.n, 2);

    /* A directory that is not private is refused as a whole. */
    assert_int_equal(chmod(dir, 0755), 0);
    memset(&s, 0, sizeof(s));
    TU_ERR(kerb_tktfile_list(dir, collect, &s), HSMSSP_ERR_FILE_PERMS);
    assert_int_equal(s.n, 0);
    assert_int_equal(chmod(dir, 0700), 0);
    TU_ERR(kerb_tktfile_list(dir, NULL, &s), HSMSSP_ERR_INVALID_ARGUMENT);
    kerb_tktfile_entry_clear(&e);
    free(dir);
}

static void
test_list_limit(void **state)
{
    seen s;
    char *dir, p[1024];

    (void)state;
    dir = make_dir();
    for (int i = 0; i <= KERB_TKTFILE_MAX_FILES; i++) {
        snprintf(p, sizeof(p), "%s/u%04d@R.tgt", dir, i);
        write_bytes(p, "", 0, 0600);
    }
    memset(&s, 0, sizeof(s));
    TU_ERR(kerb_tktfile_list(dir, collect, &s), HSMSSP_ERR_LIMIT);
    assert_int_equal(s.n, 0);
    /* One fewer is within the bound (all garbage: stop at the first). */
    snprintf(p, sizeof(p), "%s/u0000@R.tgt", dir);
    assert_int_equal(unlink(p), 0);
    s.stop_after = 1;
    TU_OK(kerb_tktfile_list(dir, collect, &s));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.why[0], HSMSSP_ERR_BAD_TOKEN);
    free(dir);
}

static void
test_remove(void **state)
{
    kerb_tktfile_entry e, d;
    char *dir, *path;
    struct stat st;

    (void)state;
    dir = make_dir();
    path = std_path(dir);
    TU_OK(kerb_tktfile_remove(path)); /* missing: fine */
    entry_std(&e);
    TU_OK(kerb_tktfile_write(path, &e));
    TU_OK(kerb_tktfile_remove(path));
    assert_int_equal(lstat(path, &st), -1);
    TU_ERR(kerb_tktfile_read(path, &d), HSMSSP_ERR_NO_TICKET);
    TU_OK(kerb_tktfile_remove(path));
    /* A symbolic link goes, its target stays. */
    assert_int_equal(symlink(dir, path), 0);
    TU_OK(kerb_tktfile_remove(path));
    assert_int_equal(lstat(path, &st), -1);
    assert_int_equal(lstat(dir, &st), 0);
    /* A directory in its place is an error, not silence. */
    assert_int_equal(mkdir(path, 0700), 0);
    TU_ERR(kerb_tktfile_remove(path), HSMSSP_ERR_INTERNAL);
    assert_detail_has(path);
    TU_ERR(kerb_tktfile_remove(NULL), HSMSSP_ERR_INVALID_ARGUMENT);
    kerb_tktfile_entry_clear(&e);
    free(path);
    free(dir);
}

/* ---- the token object's ID and label -------------------------------- */

static void
test_key_id(void **state)
{
    static const int64_t times[] = {
        0, 1, AUTHTIME, 0x7fffffffLL, 0x100000000LL, KERB_TKTFILE_MAX_TIME};
    uint8_t id[64], id2[64];
    size_t len = 0, len2 = 0;
    int64_t t;
    kerb_ks_entry ks;

    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(times); i++) {
        TU_OK(kerb_tktfile_make_key_id(times[i], id, sizeof(id), &len));
        assert_int_equal(len, KERB_TKTFILE_KEY_ID_LEN);
        assert_memory_equal(id, "krb5tgt\x01", 8);
        /* Big-endian endtime at bytes 8..15. */
        for (int k = 0; k < 8; k++)
            assert_int_equal(id[8 + k],
                             (uint8_t)((uint64_t)times[i] >> (56 - 8 * k)));
        assert_true(kerb_tktfile_key_id_endtime(id, len, &t));
        assert_int_equal(t, times[i]);
        /* The keystore's parser does not take it for a key. */
        assert_false(kerb_ks_parse_id(id, len, &ks));
    }
    /* Fresh random part each time. */
    TU_OK(kerb_tktfile_make_key_id(AUTHTIME, id, sizeof(id), &len));
    TU_OK(kerb_tktfile_make_key_id(AUTHTIME, id2, sizeof(id2), &len2));
    assert_memory_equal(id, id2, 16);
    assert_memory_not_equal(id + 16, id2 + 16, 16);
    /* Refusals: bad endtime, small buffer. */
    TU_ERR(kerb_tktfile_make_key_id(-1, id, sizeof(id), &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    assert_int_equal(len, 0);
    TU_ERR(kerb_tktfile_make_key_id(KERB_TKTFILE_MAX_TIME + 1, id, sizeof(id),
                                    &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_tktfile_make_key_id(AUTHTIME, id, 31, &len),
           HSMSSP_ERR_BUFFER_TOO_SMALL);
    /* Parsing refuses other lengths, prefixes and endtimes. */
    TU_OK(kerb_tktfile_make_key_id(AUTHTIME, id, sizeof(id), &len));
    t = 99;
    assert_false(kerb_tktfile_key_id_endtime(id, 31, &t));
    assert_int_equal(t, 0);
    assert_false(kerb_tktfile_key_id_endtime(id, 33, &t));
    assert_false(kerb_tktfile_key_id_endtime(NULL, 32, &t));
    for (int k = 0; k < 8; k++) {
        id[k] ^= 0x20;
        assert_false(kerb_tktfile_key_id_endtime(id, len, &t));
        id[k] ^= 0x20;
    }
    id[8] = 0x80; /* negative */
    assert_false(kerb_tktfile_key_id_endtime(id, len, &t));
    id[8] = 0;
    id[11] = 0x3b; /* 0x3b00000000 > 9999-12-31 */
    assert_false(kerb_tktfile_key_id_endtime(id, len, &t));
    /* A keystore ID is not ours. */
    TU_OK(kerb_ks_make_id("krbtgt/R@R", 1, 18, id, sizeof(id), &len));
    assert_false(kerb_tktfile_key_id_endtime(id, len, &t));
}

static void
test_key_label(void **state)
{
    kerb_tktfile_entry e;
    char label[KERB_TKTFILE_KEY_LABEL_MAX], small[12];
    const char *want =
        "TGT " CLIENT " for " SERVER " until 2023-11-15T08:13:20Z";

    (void)state;
    entry_std(&e);
    kerb_tktfile_key_label(&e, label, sizeof(label));
    assert_string_equal(label, want);
    /* Cut, always terminated. */
    kerb_tktfile_key_label(&e, small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(strncmp(small, want, sizeof(small) - 1), 0);
    small[0] = 'Q';
    kerb_tktfile_key_label(&e, small, 0);
    assert_int_equal(small[0], 'Q');
    /* The edges of time, and the longest names, fit the bound. */
    e.endtime = 0;
    kerb_tktfile_key_label(&e, label, sizeof(label));
    assert_non_null(strstr(label, "until 1970-01-01T00:00:00Z"));
    e.endtime = KERB_TKTFILE_MAX_TIME;
    memset(e.client, 'c', KERB_KS_MAX_PRINCIPAL);
    e.client[KERB_KS_MAX_PRINCIPAL] = '\0';
    memset(e.server, 's', KERB_KS_MAX_PRINCIPAL);
    e.server[KERB_KS_MAX_PRINCIPAL] = '\0';
    kerb_tktfile_key_label(&e, label, sizeof(label));
    assert_non_null(strstr(label, "until 9999-12-31T23:59:59Z"));
    assert_true(strlen(label) < sizeof(label) - 1);
    kerb_tktfile_entry_clear(&e);
}

/* ---- fuzz seeds ----------------------------------------------------- */

/* The seeds of tests/fuzz/corpus/fuzz_tktfile: genuine files (written by
 * the encoder) and malformed neighbours.  Returns false past the last. */
static bool
seed(size_t i, tb *out, char *name, size_t nsz)
{
    kerb_tktfile_entry e;
    uint8_t *enc = NULL;
    size_t len = 0;
    fspec s;

    entry_std(&e);
    switch (i) {
    case 0:
        snprintf(name, nsz, "valid-std");
        break;
    case 1:
        snprintf(name, nsz, "valid-no-renew");
        e.renew_till = 0;
        break;
    case 2:
        snprintf(name, nsz, "valid-escaped-client");
        strcpy(e.client, "svc\\/x/host.example.com@HSMSSP.TEST");
        e.token_label[0] = '\0';
        e.token_serial[0] = '\0';
        break;
    case 3:
        snprintf(name, nsz, "valid-max-key-id");
        memset(e.key_id, 0xa5, KERB_TKTFILE_MAX_KEY_ID);
        e.key_id_len = KERB_TKTFILE_MAX_KEY_ID;
        e.flags = 0xffffffffu;
        e.key_etype = 23;
        break;
    case 4: {
        tb t = ticket_der("B.EXAMPLE", "krbtgt", "A.EXAMPLE", 300, 5);

        snprintf(name, nsz, "valid-cross-realm");
        free(e.ticket);
        e.ticket = t.p;
        e.ticket_len = t.n;
        strcpy(e.server, "krbtgt/A.EXAMPLE@B.EXAMPLE");
        break;
    }
    default:
        break;
    }
    if (i <= 4) {
        TU_OK(kerb_tktfile_encode(&e, &enc, &len));
        *out = tb_raw(enc, len);
        free(enc);
        kerb_tktfile_entry_clear(&e);
        return true;
    }
    kerb_tktfile_entry_clear(&e);
    spec_std(&s);
    switch (i) {
    case 5:
        snprintf(name, nsz, "bad-version-2");
        s.version = 2;
        break;
    case 6:
        snprintf(name, nsz, "bad-trailing-byte");
        s.trailing = tb_raw("", 1);
        break;
    case 7:
        snprintf(name, nsz, "bad-renew-zero");
        s.renew = 0;
        break;
    case 8:
        snprintf(name, nsz, "bad-server-mismatch");
        tb_free(&s.server);
        s.server = tb_str("krbtgt/X@HSMSSP.TEST");
        break;
    case 9:
        snprintf(name, nsz, "bad-nul-client");
        tb_free(&s.client);
        s.client = tb_raw("a\0@R", 4);
        break;
    case 10:
        snprintf(name, nsz, "bad-extension-field");
        s.extra = ctx(13, der_int(1));
        break;
    case 11:
        snprintf(name, nsz, "bad-truncated");
        break;
    case 12:
        snprintf(name, nsz, "bad-empty");
        break;
    case 13:
        /* Not a file: a CKA_ID, for the target's key-id parser. */
        snprintf(name, nsz, "key-id");
        break;
    default:
        spec_free(&s);
        return false;
    }
    *out = build_file(&s);
    if (i == 11)
        out->n /= 2;
    if (i == 12)
        out->n = 0;
    if (i == 13) {
        tb_free(out);
        *out = tb_raw(std_key_id, sizeof(std_key_id));
    }
    spec_free(&s);
    return true;
}

static int
write_seeds(const char *dir)
{
    char name[64], path[4096];
    tb b;

    mkdir(dir, 0755);
    for (size_t i = 0; seed(i, &b, name, sizeof(name)); i++) {
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "wb");
        if (f == NULL || (b.n > 0 && fwrite(b.p, 1, b.n, f) != b.n) ||
            fclose(f) != 0) {
            fprintf(stderr, "%s: %s\n", path, strerror(errno));
            return 1;
        }
        tb_free(&b);
    }
    printf("seeds written to %s\n", dir);
    return 0;
}

/* The committed corpus holds these seeds byte for byte, and the genuine
 * ones still decode (the format and the corpus have not drifted). */
static void
test_fuzz_seeds(void **state)
{
    const char *vec = getenv("HSMSSP_VECTORS");
    char name[64], path[4096];
    kerb_tktfile_entry e;
    unsigned checked = 0;
    tb b;

    (void)state;
    if (vec == NULL)
        tu_skip("HSMSSP_VECTORS not set");
    for (size_t i = 0; seed(i, &b, name, sizeof(name)); i++) {
        uint8_t *disk = malloc(b.n + 1);
        size_t got;
        FILE *f;
        hsmssp_err ret;

        assert_non_null(disk);
        snprintf(path, sizeof(path), "%s/../fuzz/corpus/fuzz_tktfile/%s", vec,
                 name);
        f = fopen(path, "rb");
        if (f == NULL)
            fail_msg("%s: %s (run test_kerb_tktfile --write-seeds)", path,
                     strerror(errno));
        got = fread(disk, 1, b.n + 1, f);
        fclose(f);
        assert_int_equal(got, b.n);
        assert_memory_equal(disk, b.p, b.n);
        ret = kerb_tktfile_decode(disk, got, &e);
        assert_int_equal(ret == HSMSSP_OK, strncmp(name, "valid-", 6) == 0);
        kerb_tktfile_entry_clear(&e);
        free(disk);
        tb_free(&b);
        checked++;
    }
    assert_int_equal(checked, 14);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_vector),
        cmocka_unit_test(test_roundtrip_edges),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_structure_rules),
        cmocka_unit_test(test_content_rules),
        cmocka_unit_test(test_encode_rules),
        cmocka_unit_test(test_entry_clear),
        cmocka_unit_test_setup_teardown(test_dir_choice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load, setup, teardown),
        cmocka_unit_test(test_path_names),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test(test_key_id),
        cmocka_unit_test(test_key_label),
        cmocka_unit_test(test_fuzz_seeds),
    };

    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
