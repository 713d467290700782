/*
 * tests/hsm/test_keytab.c - keytabs/ kt_import() on real tokens.
 *
 * The keytabs are made here with libkrb5 itself (krb5_kt_add_entry on a
 * FILE: keytab, random keys from krb5_c_make_random_key), so every key's
 * true value is known to the test.  Each imported key is then proved to
 * be that key and no other: MIT's krb5_c_encrypt with the keyblock
 * (usage 2) is decrypted on the token through the key store
 * (kerb_ks_find + hsm_krb_decrypt), the token's hsm_krb_encrypt is
 * decrypted by MIT's krb5_c_decrypt, and a ciphertext made with the other
 * kvno's key fails the token's integrity check.  Every object a found key
 * owns answers CKA_VALUE with CKR_ATTRIBUTE_SENSITIVE.
 *
 * Cases: SoftHSM2 (a private token per case) with etypes 17-20 and 23,
 * kvnos 3 and 300 (a kvno above 255 takes the keytab's 32-bit field) and
 * a principal with an escaped '/'; etype 23 refused per entry at the
 * default policy and imported with H(op) allowed; duplicates refused,
 * --replace, a key twice in one keytab; unsupported enctypes skipped with
 * a reason; standard input as a pipe (a keytab larger than the pipe
 * buffer, on NSS softoken), /dev/stdin, a FIFO and an empty FIFO;
 * truncation at every byte, damaged records, wrong versions, holes left
 * by krb5_kt_remove_entry, the entry limit; NSS softoken session imports
 * and its refusal of persistent ones; kt_remove_source().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "keytabs/keytabs.h"

#define CKR_ATTRIBUTE_SENSITIVE_ 0x11UL
#define USAGE 2

static krb5_context kc;

/* One key of a test keytab, with its true value. */
typedef struct tk_entry {
    char princ[160];
    krb5_kvno kvno;
    krb5_keyblock kb;
} tk_entry;

typedef struct tk_set {
    tk_entry *v;
    size_t n;
} tk_set;

static int
setup(void **state)
{
    (void)state;
    return krb5_init_context(&kc) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    krb5_free_context(kc);
    return 0;
}

/* Adds an entry with a fresh random key of etype (or, for an etype
 * libkrb5 cannot make keys for, klen random bytes). */
static void
add_key(tk_set *s, const char *princ, krb5_kvno kvno, krb5_enctype etype,
        size_t klen)
{
    tk_entry *e;

    s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
    assert_non_null(s->v);
    e = &s->v[s->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->princ, sizeof(e->princ), "%s", princ);
    e->kvno = kvno;
    if (klen == 0) {
        assert_int_equal(krb5_c_make_random_key(kc, etype, &e->kb), 0);
    } else {
        e->kb.magic = KV5M_KEYBLOCK;
        e->kb.enctype = etype;
        e->kb.length = (unsigned)klen;
        e->kb.contents = malloc(klen);
        assert_non_null(e->kb.contents);
        TU_OK(hsm_random(e->kb.contents, klen));
    }
}

static void
free_set(tk_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        krb5_free_keyblock_contents(kc, &s->v[i].kb);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* Writes the entries, in order, to a new FILE keytab at path. */
static void
write_keytab(const char *path, const tk_set *s)
{
    char name[1100];
    krb5_keytab kt = NULL;

    unlink(path);
    snprintf(name, sizeof(name), "FILE:%s", path);
    assert_int_equal(krb5_kt_resolve(kc, name, &kt), 0);
    for (size_t i = 0; i < s->n; i++) {
        krb5_keytab_entry ent;

        memset(&ent, 0, sizeof(ent));
        assert_int_equal(krb5_parse_name(kc, s->v[i].princ, &ent.principal),
                         0);
        ent.vno = s->v[i].kvno;
        ent.key = s->v[i].kb;
        assert_int_equal(krb5_kt_add_entry(kc, kt, &ent), 0);
        krb5_free_principal(kc, ent.principal);
    }
    assert_int_equal(krb5_kt_close(kc, kt), 0);
}

/* The standard set: etypes 17-20 and 23 at kvnos 3 and 300 for one
 * service, and an aes256 key of a principal whose first component holds
 * a '/' (MIT writes it escaped: "a\/b/host@KT.TEST"). */
static void
standard_set(tk_set *s)
{
    static const krb5_enctype et[] = {17, 18, 19, 20, 23};

    memset(s, 0, sizeof(*s));
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < BASE_ARRAY_LEN(et); i++)
            add_key(s, "HTTP/kt.example@KT.TEST", k ? 300 : 3, et[i], 0);
    add_key(s, "a\\/b/host@KT.TEST", 7, 18, 0);
}

static char *
work_path(const char *name)
{
    static char p[4][700];
    static int i;

    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/kt-%ld-%s", tu_work_dir(), (long)getpid(),
             name);
    return p[i];
}

static uint8_t *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void
spill(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* ---- proving a key ------------------------------------------------------ */

static void
check_objects(hsm_token *tok, hsm_key *key)
{
    unsigned long h[64];
    size_t n = hsm_key_objects(key, h, BASE_ARRAY_LEN(h));

    assert_true(n >= 1 && n <= BASE_ARRAY_LEN(h));
    for (size_t i = 0; i < n; i++) {
        bool sens = false, extr = true;
        unsigned long rv = 0;

        TU_OK(hsm_object_check(tok, h[i], &sens, &extr, &rv));
        assert_true(sens);
        assert_false(extr);
        assert_int_equal(rv, CKR_ATTRIBUTE_SENSITIVE_);
    }
}

/* MIT encrypts with kb: the token must decrypt; the token encrypts: MIT
 * must decrypt.  Then the objects' sensitivity. */
static void
prove_key(hsm_token *tok, hsm_key *k, const krb5_keyblock *kb)
{
    char msg[80];
    uint8_t ct[256], pt[256];
    size_t clen = 0, plen = 0, mlen;
    krb5_data in, out;
    krb5_enc_data enc;

    mlen =
        (size_t)snprintf(msg, sizeof(msg), "keytab import test, etype %d, %ld",
                         (int)kb->enctype, (long)getpid());
    in.data = msg;
    in.length = (unsigned)mlen;
    assert_int_equal(krb5_c_encrypt_length(kc, kb->enctype, mlen, &clen), 0);
    memset(&enc, 0, sizeof(enc));
    enc.enctype = kb->enctype;
    enc.ciphertext.data = (char *)ct;
    enc.ciphertext.length = (unsigned)clen;
    assert_int_equal(krb5_c_encrypt(kc, kb, USAGE, NULL, &in, &enc), 0);
    TU_OK(hsm_krb_decrypt(k, USAGE, ct, enc.ciphertext.length, pt, sizeof(pt),
                          &plen));
    assert_int_equal(plen, mlen);
    assert_memory_equal(pt, msg, mlen);

    TU_OK(hsm_krb_encrypt(k, USAGE, (const uint8_t *)msg, mlen, ct, sizeof(ct),
                          &clen));
    enc.ciphertext.length = (unsigned)clen;
    out.data = (char *)pt;
    out.length = sizeof(pt);
    assert_int_equal(krb5_c_decrypt(kc, kb, USAGE, NULL, &enc, &out), 0);
    assert_int_equal(out.length, mlen);
    assert_memory_equal(pt, msg, mlen);
    check_objects(tok, k);
}

/* A ciphertext under another key of the same etype must not decrypt:
 * shows that prove_key() is not satisfied by just any key. */
static void
refute_key(hsm_key *k, const krb5_keyblock *other)
{
    char msg[] = "made with another key";
    uint8_t ct[256], pt[256];
    size_t clen = 0, plen = 0;
    krb5_data in = {.data = msg, .length = sizeof(msg)};
    krb5_enc_data enc;

    assert_int_equal(
        krb5_c_encrypt_length(kc, other->enctype, sizeof(msg), &clen), 0);
    memset(&enc, 0, sizeof(enc));
    enc.enctype = other->enctype;
    enc.ciphertext.data = (char *)ct;
    enc.ciphertext.length = (unsigned)clen;
    assert_int_equal(krb5_c_encrypt(kc, other, USAGE, NULL, &in, &enc), 0);
    TU_ERR(hsm_krb_decrypt(k, USAGE, ct, enc.ciphertext.length, pt, sizeof(pt),
                           &plen),
           HSMSSP_ERR_INTEGRITY);
}

/* The unparsed (escaped) form of a test principal, as the key store must
 * name it. */
static void
unparsed(const char *princ, char *out, size_t cap)
{
    krb5_principal p = NULL;
    char *s = NULL;

    assert_int_equal(krb5_parse_name(kc, princ, &p), 0);
    assert_int_equal(krb5_unparse_name(kc, p, &s), 0);
    snprintf(out, cap, "%s", s);
    krb5_free_unparsed_name(kc, s);
    krb5_free_principal(kc, p);
}

/* Finds entry i of s on the token by its key store name and proves it;
 * refutes it with the key of the entry at j (same etype) when j >= 0. */
static void
find_and_prove(hsm_token *tok, const tk_set *s, size_t i, long j)
{
    kerb_ks_entry e;
    hsm_key *k = NULL;

    memset(&e, 0, sizeof(e));
    unparsed(s->v[i].princ, e.principal, sizeof(e.principal));
    e.kvno = s->v[i].kvno;
    e.etype = s->v[i].kb.enctype;
    TU_OK(kerb_ks_find(tok, &e, &k));
    prove_key(tok, k, &s->v[i].kb);
    if (j >= 0)
        refute_key(k, &s->v[j].kb);
    hsm_key_free(k);
}

/* The level the probe table gives an etype on this token. */
static hsm_level
row_level(hsm_token *tok, int32_t etype, bool *allowed)
{
    size_t n = 0;
    const hsm_strategy_row *rows = hsm_token_strategies(tok, &n);

    for (size_t i = 0; i < n; i++)
        if (rows[i].etype == etype) {
            *allowed = rows[i].allowed;
            return rows[i].level;
        }
    fail_msg("no strategy row for etype %d", (int)etype);
    return HSM_LEVEL_NONE;
}

static void
check_result_names(hsm_token *tok, const tk_set *s, const kt_result *r,
                   size_t n)
{
    char name[KERB_KS_MAX_PRINCIPAL + 1];

    assert_int_equal(n, s->n);
    for (size_t i = 0; i < n; i++) {
        bool allowed = false;
        hsm_level lvl;

        unparsed(s->v[i].princ, name, sizeof(name));
        assert_string_equal(r[i].e.principal, name);
        assert_int_equal(r[i].e.kvno, s->v[i].kvno);
        assert_int_equal(r[i].e.etype, s->v[i].kb.enctype);
        if (hsm_etype_name(r[i].e.etype) != NULL) {
            assert_string_equal(r[i].enctype, hsm_etype_name(r[i].e.etype));
            lvl = row_level(tok, r[i].e.etype, &allowed);
            assert_int_equal(r[i].level, lvl);
            assert_int_equal(r[i].allowed, allowed);
        }
    }
}

/* A private SoftHSM2 token for one case (persistent objects pile up). */
typedef struct priv {
    tu_private_token pt;
    hsm_token *tok;
} priv;

static void
priv_open(priv *p, const char *name, unsigned policy)
{
    hsm_config cfg;

    memset(p, 0, sizeof(*p));
    tu_softhsm_private(name, policy, &p->pt, &cfg);
    TU_OK(hsm_token_open(&cfg, &p->tok));
}

static void
priv_close(priv *p)
{
    hsm_token_close(p->tok);
    tu_softhsm_private_done(&p->pt);
}

static const kt_import_opts persist = {.persistent = true};

/* ---- SoftHSM2: import and prove every key ------------------------------- */

static void
test_import_softhsm(void **state)
{
    tk_set s;
    priv p;
    kt_result *r = NULL;
    kerb_ks_entry *list = NULL;
    size_t n = 0, nl = 0;
    const char *kt = work_path("std.keytab");

    (void)state;
    standard_set(&s);
    write_keytab(kt, &s);
    priv_open(&p, "kt-import", HSM_POLICY_ALLOW_HOST_OP_KRB);
    TU_OK(kt_import(p.tok, kt, &persist, &r, &n));
    check_result_names(p.tok, &s, r, n);
    for (size_t i = 0; i < n; i++) {
        if (r[i].status != KT_IMPORTED)
            fail_msg("entry %zu: %s %s", i, kt_status_name(r[i].status),
                     r[i].detail);
        assert_int_equal(r[i].err, HSMSSP_OK);
        assert_null(r[i].key); /* keep_keys not asked */
    }
    /* the escaped principal, as MIT unparses it */
    assert_string_equal(r[10].e.principal, "a\\/b/host@KT.TEST");
    kt_results_free(r, n);

    /* Found again by name (as another process would), each the right key:
     * entries i and i+5 are the same etype at kvno 3 and 300. */
    for (size_t i = 0; i < 10; i++)
        find_and_prove(p.tok, &s, i, (long)(i < 5 ? i + 5 : i - 5));
    find_and_prove(p.tok, &s, 10, 1);

    TU_OK(kerb_ks_list(p.tok, NULL, &list, &nl));
    assert_int_equal(nl, s.n);
    free(list);
    TU_OK(kerb_ks_list(p.tok, "HTTP/kt.example@KT.TEST", &list, &nl));
    assert_int_equal(nl, 10);
    assert_int_equal(list[0].kvno, 300); /* newest first */
    free(list);
    priv_close(&p);
    free_set(&s);
    unlink(kt);
}

/* Etype 23 on SoftHSM2 needs H(op): refused per entry at the default
 * policy, with the engine's policy error, while the rest go in; with H(op)
 * allowed the same keytab brings the etype 23 keys and finds the others
 * there already. */
static void
test_policy_softhsm(void **state)
{
    tk_set s;
    priv p;
    kt_result *r = NULL;
    size_t n = 0, n23 = 0;
    const char *kt = work_path("policy.keytab");

    (void)state;
    standard_set(&s);
    write_keytab(kt, &s);
    priv_open(&p, "kt-policy", 0);
    TU_OK(kt_import(p.tok, kt, &persist, &r, &n));
    check_result_names(p.tok, &s, r, n);
    for (size_t i = 0; i < n; i++) {
        if (r[i].e.etype == 23) {
            n23++;
            assert_int_equal(r[i].status, KT_FAILED);
            assert_int_equal(r[i].err, HSMSSP_ERR_POLICY_HOST_OP);
            assert_int_equal(r[i].level, HSM_LEVEL_H_OP);
            assert_false(r[i].allowed);
            assert_non_null(strstr(r[i].detail, "CKM_RC4"));
        } else {
            assert_int_equal(r[i].status, KT_IMPORTED);
        }
    }
    assert_int_equal(n23, 2);
    kt_results_free(r, n);

    hsm_token_set_policy(p.tok, HSM_POLICY_ALLOW_HOST_OP_KRB);
    TU_OK(kt_import(p.tok, kt, &persist, &r, &n));
    for (size_t i = 0; i < n; i++) {
        if (r[i].e.etype == 23) {
            assert_int_equal(r[i].status, KT_IMPORTED);
            assert_true(r[i].allowed);
        } else {
            assert_int_equal(r[i].status, KT_EXISTS);
        }
    }
    kt_results_free(r, n);
    find_and_prove(p.tok, &s, 4, 9); /* etype 23 kvno 3 */
    find_and_prove(p.tok, &s, 9, 4); /* etype 23 kvno 300 */
    priv_close(&p);
    free_set(&s);
    unlink(kt);
}

/* ---- duplicates and --replace ------------------------------------------ */

static void
test_duplicates_replace(void **state)
{
    tk_set a, b, twice;
    priv p;
    kt_result *r = NULL;
    size_t n = 0, objs;
    kt_import_opts o = {.persistent = true, .replace = true};
    const char *kta = work_path("dup-a.keytab");
    const char *ktb = work_path("dup-b.keytab");

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&twice, 0, sizeof(twice));
    /* b: the same names as a, new keys (a rotation gone wrong, or a
     * re-keyed service exported again with the same kvno) */
    for (krb5_enctype et = 17; et <= 20; et++) {
        add_key(&a, "dup/svc@KT.TEST", 5, et, 0);
        add_key(&b, "dup/svc@KT.TEST", 5, et, 0);
    }
    write_keytab(kta, &a);
    write_keytab(ktb, &b);
    priv_open(&p, "kt-dup", 0);
    TU_OK(kt_import(p.tok, kta, &persist, &r, &n));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(r[i].status, KT_IMPORTED);
    kt_results_free(r, n);
    objs = tu_count_objects(p.tok, true);

    /* again: every entry refused as existing, nothing added */
    TU_OK(kt_import(p.tok, ktb, &persist, &r, &n));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r[i].status, KT_EXISTS);
        assert_int_equal(r[i].err, HSMSSP_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(r[i].detail, "already on the token"));
    }
    kt_results_free(r, n);
    assert_int_equal(tu_count_objects(p.tok, true), objs);
    for (size_t i = 0; i < a.n; i++)
        find_and_prove(p.tok, &a, i, -1);

    /* --replace: b's keys replace a's, with no object left behind */
    TU_OK(kt_import(p.tok, ktb, &o, &r, &n));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(r[i].status, KT_REPLACED);
    kt_results_free(r, n);
    assert_int_equal(tu_count_objects(p.tok, true), objs);
    for (size_t i = 0; i < b.n; i++) {
        find_and_prove(p.tok, &b, i, -1);
        /* a's key is gone: its ciphertext no longer decrypts */
        kerb_ks_entry e = {.kvno = 5, .etype = b.v[i].kb.enctype};
        hsm_key *k = NULL;
        snprintf(e.principal, sizeof(e.principal), "dup/svc@KT.TEST");
        TU_OK(kerb_ks_find(p.tok, &e, &k));
        refute_key(k, &a.v[i].kb);
        hsm_key_free(k);
    }

    /* One keytab with the same name twice: the first is kept (as MIT's
     * lookup keeps it), the second reported, on a session import too. */
    add_key(&twice, "twice/svc@KT.TEST", 1, 18, 0);
    add_key(&twice, "twice/svc@KT.TEST", 1, 18, 0);
    write_keytab(kta, &twice);
    TU_OK(kt_import(p.tok, kta, &o, &r, &n));
    assert_int_equal(n, 2);
    assert_int_equal(r[0].status, KT_IMPORTED);
    assert_int_equal(r[1].status, KT_EXISTS);
    assert_non_null(strstr(r[1].detail, "twice"));
    kt_results_free(r, n);
    find_and_prove(p.tok, &twice, 0, 1);

    priv_close(&p);
    free_set(&a);
    free_set(&b);
    free_set(&twice);
    unlink(kta);
    unlink(ktb);
}

/* ---- enctypes hsmssp does not implement -------------------------------- */

static void
test_unsupported(void **state)
{
    tk_set s;
    priv p;
    kt_result *r = NULL;
    size_t n = 0;
    char name[48];
    const char *kt = work_path("unsup.keytab");

    (void)state;
    memset(&s, 0, sizeof(s));
    add_key(&s, "mixed/svc@KT.TEST", 2, 16, 24); /* des3-cbc-sha1 */
    add_key(&s, "mixed/svc@KT.TEST", 2, 18, 0);
    add_key(&s, "mixed/svc@KT.TEST", 2, 25, 16); /* camellia128-cts-cmac */
    add_key(&s, "mixed/svc@KT.TEST", 2, 99, 16); /* unknown to everyone */
    add_key(&s, "mixed/svc@KT.TEST", 2, 17, 32); /* aes128 with 32 bytes */
    write_keytab(kt, &s);
    priv_open(&p, "kt-unsup", 0);
    TU_OK(kt_import(p.tok, kt, &persist, &r, &n));
    check_result_names(p.tok, &s, r, n);
    for (size_t i = 0; i < 4; i += 2) {
        assert_int_equal(r[i].status, KT_SKIPPED);
        assert_int_equal(r[i].err, HSMSSP_ERR_UNKNOWN_ENCTYPE);
        assert_int_equal(r[i].level, HSM_LEVEL_NONE);
        assert_non_null(strstr(r[i].detail, "not supported by hsmssp"));
        /* named as libkrb5 names it */
        assert_int_equal(
            krb5_enctype_to_name(s.v[i].kb.enctype, FALSE, name, sizeof(name)),
            0);
        assert_string_equal(r[i].enctype, name);
    }
    assert_int_equal(r[1].status, KT_IMPORTED);
    assert_int_equal(r[3].status, KT_SKIPPED);
    assert_string_equal(r[3].enctype, "etype 99");
    assert_int_equal(r[4].status, KT_FAILED);
    assert_int_equal(r[4].err, HSMSSP_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(r[4].detail, "32 bytes"));
    /* the file holds keys that are not on the token: it must stay */
    TU_ERR(kt_remove_source(kt, r, n), HSMSSP_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(hsmssp_last_error_detail(), "entry 1"));
    assert_int_equal(access(kt, F_OK), 0);
    kt_results_free(r, n);
    find_and_prove(p.tok, &s, 1, -1);
    priv_close(&p);
    free_set(&s);
    unlink(kt);
}

/* ---- streams: stdin pipe, /dev/stdin, FIFOs ------------------------------
 */

/* Forks a child that writes b to fd in chunks of 1000 bytes (so that the
 * reader sees several reads) and exits; returns its pid. */
static pid_t
writer(int fd, const uint8_t *b, size_t n)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        for (size_t off = 0; off < n;) {
            size_t k = n - off < 1000 ? n - off : 1000;
            ssize_t w = write(fd, b + off, k);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    return pid;
}

static void
reap(pid_t pid)
{
    int st = 0;

    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Runs kt_import(path) with standard input fed from a pipe holding b. */
static hsmssp_err
import_from_pipe(hsm_token *tok, const char *path, const uint8_t *b, size_t n,
                 const kt_import_opts *o, kt_result **r, size_t *nr)
{
    int fds[2], saved;
    pid_t pid;
    hsmssp_err ret;

    assert_int_equal(pipe(fds), 0);
    pid = writer(fds[1], b, n);
    close(fds[1]);
    saved = dup(0);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[0], 0), 0);
    close(fds[0]);
    ret = kt_import(tok, path, o, r, nr);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
    reap(pid);
    return ret;
}

/* No memfd copy outlives the call. */
static void
assert_no_memfd(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    char p[300], link[300];

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        ssize_t l;

        snprintf(p, sizeof(p), "/proc/self/fd/%s", de->d_name);
        l = readlink(p, link, sizeof(link) - 1);
        if (l <= 0)
            continue;
        link[l] = '\0';
        if (strstr(link, "hsmssp-keytab") != NULL)
            fail_msg("memfd still open: %s -> %s", p, link);
    }
    closedir(d);
}

static void
test_stdin_pipe_softhsm(void **state)
{
    tk_set s;
    priv p;
    kt_result *r = NULL;
    size_t n = 0, len;
    uint8_t *b;
    const char *kt = work_path("pipe.keytab");

    (void)state;
    standard_set(&s);
    write_keytab(kt, &s);
    b = slurp(kt, &len);
    priv_open(&p, "kt-pipe", HSM_POLICY_ALLOW_HOST_OP_KRB);
    TU_OK(import_from_pipe(p.tok, "-", b, len, &persist, &r, &n));
    assert_no_memfd();
    check_result_names(p.tok, &s, r, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(r[i].status, KT_IMPORTED);
    kt_results_free(r, n);
    for (size_t i = 0; i < s.n; i++)
        find_and_prove(p.tok, &s, i, -1);

    /* A pipe that brings nothing, or half a keytab, is an error, never an
     * empty success; and nothing more lands on the token. */
    TU_ERR(import_from_pipe(p.tok, "-", b, 0, &persist, &r, &n),
           HSMSSP_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(hsmssp_last_error_detail(), "empty"));
    assert_null(r);
    assert_int_equal(n, 0);
    TU_ERR(import_from_pipe(p.tok, "-", b, len - 3, &persist, &r, &n),
           HSMSSP_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(hsmssp_last_error_detail(), "truncated"));
    assert_no_memfd();

    /* A file redirected to standard input is read in place. */
    {
        int fd = open(kt, O_RDONLY), saved = dup(0);
        kt_import_opts o = {.persistent = true, .replace = true};

        assert_true(fd >= 0 && saved >= 0);
        assert_int_equal(dup2(fd, 0), 0);
        close(fd);
        TU_OK(kt_import(p.tok, "-", &o, &r, &n));
        assert_int_equal(dup2(saved, 0), 0);
        close(saved);
        assert_int_equal(n, s.n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(r[i].status, KT_REPLACED);
        kt_results_free(r, n);
    }
    free(b);
    priv_close(&p);
    free_set(&s);
    unlink(kt);
}

/* A keytab larger than the pipe buffer (64 KiB) and the copy's bounce
 * buffer, through /dev/stdin, into NSS softoken session objects. */
static void
test_stdin_large_nss(void **state)
{
    tk_set s;
    hsm_token *tok = tu_token_open(TU_NSS, 0);
    kt_result *r = NULL;
    size_t n = 0, len;
    uint8_t *b;
    char princ[64];
    kt_import_opts o = {.persistent = false, .keep_keys = true};
    const char *kt = work_path("large.keytab");

    (void)state;
    memset(&s, 0, sizeof(s));
    for (int i = 0; i < 1000; i++) {
        snprintf(princ, sizeof(princ), "svc%04d/large.example@KT.TEST", i);
        add_key(&s, princ, 1, i % 2 ? 17 : 18, 0);
    }
    write_keytab(kt, &s);
    b = slurp(kt, &len);
    assert_true(len > 65536);
    TU_OK(import_from_pipe(tok, "/dev/stdin", b, len, &o, &r, &n));
    assert_no_memfd();
    assert_int_equal(n, 1000);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r[i].status, KT_IMPORTED);
        assert_non_null(r[i].key);
        if (i % 97 == 0 || i == n - 1)
            prove_key(tok, r[i].key, &s.v[i].kb);
    }
    kt_results_free(r, n);
    free(b);
    hsm_token_close(tok);
    free_set(&s);
    unlink(kt);
}

static void
test_fifo(void **state)
{
    tk_set s;
    hsm_token *tok = tu_token_open(TU_NSS, 0);
    kt_result *r = NULL;
    size_t n = 0, len;
    uint8_t *b;
    pid_t pid;
    kt_import_opts o = {.persistent = false, .keep_keys = true};
    const char *kt = work_path("fifo.keytab");
    const char *fifo = work_path("fifo");

    (void)state;
    standard_set(&s);
    write_keytab(kt, &s);
    b = slurp(kt, &len);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);

    /* a named pipe is copied like standard input: every entry found */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(fifo, O_WRONLY);
        if (fd < 0)
            _exit(1);
        _exit(write(fd, b, len) == (ssize_t)len ? 0 : 1);
    }
    TU_OK(kt_import(tok, fifo, &o, &r, &n));
    reap(pid);
    assert_int_equal(n, s.n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r[i].status, KT_IMPORTED);
        assert_int_equal(r[i].level, HSM_LEVEL_T);
        prove_key(tok, r[i].key, &s.v[i].kb);
    }
    kt_results_free(r, n);

    /* a writer that brings nothing: an error, not an empty keytab */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(fifo, O_WRONLY);
        _exit(fd < 0 ? 1 : 0);
    }
    TU_ERR(kt_import(tok, fifo, &o, &r, &n), HSMSSP_ERR_INVALID_ARGUMENT);
    reap(pid);
    assert_non_null(strstr(hsmssp_last_error_detail(), "is empty"));
    assert_null(r);
    assert_no_memfd();

    free(b);
    unlink(fifo);
    hsm_token_close(tok);
    free_set(&s);
    unlink(kt);
}

/* ---- damaged keytabs ---------------------------------------------------- */

/* Record boundaries of a keytab made here (no holes): offsets where a
 * cut leaves a shorter but whole keytab. */
static size_t
record_ends(const uint8_t *b, size_t len, size_t *ends, size_t cap)
{
    size_t off = 2, k = 0;

    while (off + 4 <= len && k < cap) {
        int32_t l = (int32_t)base_load_be32(b + off);
        assert_true(l > 0);
        off += 4 + (size_t)l;
        ends[k++] = off;
    }
    assert_int_equal(off, len);
    return k;
}

static void
test_truncated_every_byte(void **state)
{
    tk_set s;
    hsm_token *tok = tu_token_open(TU_NSS, 0);
    kt_result *r = NULL;
    size_t n = 0, len, ends[8], n_ends, fails = 0;
    uint8_t *b;
    kt_import_opts o = {.persistent = false};
    const char *kt = work_path("full.keytab");
    const char *cut = work_path("cut.keytab");

    (void)state;
    memset(&s, 0, sizeof(s));
    add_key(&s, "cut/svc@KT.TEST", 1, 18, 0);
    add_key(&s, "cut/svc@KT.TEST", 1, 17, 0);
    add_key(&s, "cut/svc@KT.TEST", 300, 20, 0);
    write_keytab(kt, &s);
    b = slurp(kt, &len);
    n_ends = record_ends(b, len, ends, 8);
    assert_int_equal(n_ends, 3);
    for (size_t c = 0; c < len; c++) {
        size_t whole = 0;

        for (size_t k = 0; k < n_ends; k++)
            if (ends[k] == c)
                whole = k + 1;
        spill(cut, b, c);
        if (whole > 0) {
            /* a cut between records is a shorter keytab */
            TU_OK(kt_import(tok, cut, &o, &r, &n));
            assert_int_equal(n, whole);
            kt_results_free(r, n);
            continue;
        }
        TU_ERR(kt_import(tok, cut, &o, &r, &n), HSMSSP_ERR_INVALID_ARGUMENT);
        assert_null(r);
        assert_int_equal(n, 0);
        if (c >= 2)
            assert_true(strstr(hsmssp_last_error_detail(), "truncated") ||
                        strstr(hsmssp_last_error_detail(), "no keys"));
        fails++;
    }
    /* every cut but the whole records' ends (the last is the file's) */
    assert_int_equal(fails, len - (n_ends - 1));
    assert_int_equal(tu_count_objects(tok, false), 0);
    free(b);
    hsm_token_close(tok);
    free_set(&s);
    unlink(kt);
    unlink(cut);
}

/* Damaged contents on SoftHSM2: each fails as a whole, and the token
 * stays empty although earlier records were fine. */
static void
test_damaged(void **state)
{
    tk_set s;
    priv p;
    kt_result *r = NULL;
    size_t n = 0, len, rec2;
    uint8_t *b, *d;
    const char *kt = work_path("dmg.keytab");
    const char *bad = work_path("bad.keytab");
    static const struct {
        const char *what;
        const char *expect;
    } cases[] = {
        {"not a keytab", "not an MIT keytab"},
        {"version 0x0501", "0x0501"},
        {"version 0x0503", "unknown format"},
        {"header only", "holds no keys"},
        {"zero components", "components"},
        {"empty realm", "realm"},
        {"key length past record", "the key"},
        {"record length past file", "truncated"},
        {"stray bytes", "stray bytes"},
    };

    (void)state;
    memset(&s, 0, sizeof(s));
    add_key(&s, "dmg/svc@KT.TEST", 1, 18, 0);
    add_key(&s, "dmg/svc@KT.TEST", 1, 17, 0);
    write_keytab(kt, &s);
    b = slurp(kt, &len);
    rec2 = 2 + 4 + base_load_be32(b + 2); /* the second record */
    d = malloc(len + 8);
    assert_non_null(d);
    priv_open(&p, "kt-dmg", 0);
    for (size_t c = 0; c < BASE_ARRAY_LEN(cases); c++) {
        size_t dl = len;

        memcpy(d, b, len);
        switch (c) {
        case 0:
            memcpy(d, "#!/bin/sh\n", 10);
            break;
        case 1:
            d[1] = 0x01;
            break;
        case 2:
            d[1] = 0x03;
            break;
        case 3:
            dl = 2;
            break;
        case 4: /* second record: component count 0 */
            d[rec2 + 4] = 0;
            d[rec2 + 5] = 0;
            break;
        case 5: /* second record: realm length 0 */
            d[rec2 + 6] = 0;
            d[rec2 + 7] = 0;
            break;
        case 6: /* last record: the key's length (16 for etype 17; the
                   record may end with MIT's 32-bit kvno) beyond the
                   record */
            if (base_load_be32(d + len - 4) == 1 && d[len - 22] == 0 &&
                d[len - 21] == 16)
                d[len - 22] = 0x7f;
            else if (d[len - 18] == 0 && d[len - 17] == 16)
                d[len - 18] = 0x7f;
            else
                fail_msg("cannot find the key length of the last record");
            break;
        case 7: /* second record's length one more than the file */
            base_store_be32(d + rec2, base_load_be32(d + rec2) + 1);
            break;
        case 8: /* three bytes after the last record */
            d[len] = 1;
            d[len + 1] = 2;
            d[len + 2] = 3;
            dl = len + 3;
            break;
        }
        spill(bad, d, dl);
        TU_ERR(kt_import(p.tok, bad, &persist, &r, &n),
               HSMSSP_ERR_INVALID_ARGUMENT);
        if (strstr(hsmssp_last_error_detail(), cases[c].expect) == NULL)
            fail_msg("%s: detail '%s' lacks '%s'", cases[c].what,
                     hsmssp_last_error_detail(), cases[c].expect);
        assert_null(r);
        assert_int_equal(tu_count_objects(p.tok, true), 0);
    }
    /* not a file at all */
    TU_ERR(kt_import(p.tok, tu_work_dir(), &persist, &r, &n),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kt_import(p.tok, work_path("missing"), &persist, &r, &n),
           HSMSSP_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(hsmssp_last_error_detail(), "cannot open"));
    assert_int_equal(tu_count_objects(p.tok, true), 0);

    /* More records than KT_MAX_ENTRIES: refused before any key is read */
    {
        size_t l1 = 4 + base_load_be32(b + 2), big = 2 + l1 * 4097;
        uint8_t *m = malloc(big);

        assert_non_null(m);
        memcpy(m, b, 2);
        for (size_t i = 0; i < 4097; i++)
            memcpy(m + 2 + i * l1, b + 2, l1);
        spill(bad, m, big);
        TU_ERR(kt_import(p.tok, bad, &persist, &r, &n), HSMSSP_ERR_LIMIT);
        free(m);
    }
    free(d);
    free(b);
    priv_close(&p);
    free_set(&s);
    unlink(kt);
    unlink(bad);
}

/* krb5_kt_remove_entry leaves a hole (negative length): skipped, and the
 * entries around it found. */
static void
test_holes(void **state)
{
    tk_set s;
    hsm_token *tok = tu_token_open(TU_NSS, 0);
    kt_result *r = NULL;
    size_t n = 0;
    krb5_keytab kt = NULL;
    krb5_keytab_entry ent;
    char name[1100];
    kt_import_opts o = {.persistent = false, .keep_keys = true};
    const char *path = work_path("holes.keytab");

    (void)state;
    memset(&s, 0, sizeof(s));
    add_key(&s, "hole/svc@KT.TEST", 1, 18, 0);
    add_key(&s, "hole/svc@KT.TEST", 2, 18, 0);
    add_key(&s, "hole/svc@KT.TEST", 3, 18, 0);
    write_keytab(path, &s);
    snprintf(name, sizeof(name), "FILE:%s", path);
    assert_int_equal(krb5_kt_resolve(kc, name, &kt), 0);
    memset(&ent, 0, sizeof(ent));
    assert_int_equal(krb5_parse_name(kc, s.v[1].princ, &ent.principal), 0);
    ent.vno = 2;
    ent.key = s.v[1].kb;
    assert_int_equal(krb5_kt_remove_entry(kc, kt, &ent), 0);
    krb5_free_principal(kc, ent.principal);
    krb5_kt_close(kc, kt);

    TU_OK(kt_import(tok, path, &o, &r, &n));
    assert_int_equal(n, 2);
    assert_int_equal(r[0].e.kvno, 1);
    assert_int_equal(r[1].e.kvno, 3);
    prove_key(tok, r[0].key, &s.v[0].kb);
    prove_key(tok, r[1].key, &s.v[2].kb);
    kt_results_free(r, n);
    hsm_token_close(tok);
    free_set(&s);
    unlink(path);
}

/* ---- NSS softoken --------------------------------------------------------
 */

static void
test_nss(void **state)
{
    tk_set s;
    hsm_token *tok = tu_token_open(TU_NSS, 0);
    kt_result *r = NULL;
    size_t n = 0, before;
    kt_import_opts o = {.persistent = false, .keep_keys = true};
    const char *kt = work_path("nss.keytab");

    (void)state;
    standard_set(&s);
    write_keytab(kt, &s);
    /* no storage: a persistent import is refused before the keytab is
     * even opened */
    TU_ERR(kt_import(tok, work_path("never-opened"), &persist, &r, &n),
           HSMSSP_ERR_TOKEN_READONLY);
    assert_non_null(strstr(hsmssp_last_error_detail(), "cannot store keys"));
    assert_null(r);

    before = tu_count_objects(tok, false);
    TU_OK(kt_import(tok, kt, &o, &r, &n));
    check_result_names(tok, &s, r, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r[i].status, KT_IMPORTED);
        assert_int_equal(r[i].level, HSM_LEVEL_T); /* every etype on NSS */
        assert_non_null(r[i].key);
        prove_key(tok, r[i].key, &s.v[i].kb);
        if (i < 10)
            refute_key(r[i].key, &s.v[i < 5 ? i + 5 : i - 5].kb);
    }
    /* a key the caller takes survives kt_results_free */
    {
        hsm_key *mine = r[1].key;

        r[1].key = NULL;
        kt_results_free(r, n);
        prove_key(tok, mine, &s.v[1].kb);
        hsm_key_free(mine);
    }
    assert_int_equal(tu_count_objects(tok, false), before);
    hsm_token_close(tok);
    free_set(&s);
    unlink(kt);
}

/* ---- kt_remove_source --------------------------------------------------- */

static void
test_remove_source(void **state)
{
    tk_set s;
    priv p;
    kt_result *r = NULL;
    size_t n = 0;
    const char *kt = work_path("rm.keytab");
    const char *link = work_path("rm.link");

    (void)state;
    memset(&s, 0, sizeof(s));
    add_key(&s, "rm/svc@KT.TEST", 1, 18, 0);
    add_key(&s, "rm/svc@KT.TEST", 1, 17, 0);
    write_keytab(kt, &s);
    priv_open(&p, "kt-rm", 0);
    TU_OK(kt_import(p.tok, kt, &persist, &r, &n));
    TU_ERR(kt_remove_source("-", r, n), HSMSSP_ERR_INVALID_ARGUMENT);
    unlink(link);
    assert_int_equal(symlink(kt, link), 0);
    TU_ERR(kt_remove_source(link, r, n), HSMSSP_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(hsmssp_last_error_detail(), "symbolic link"));
    assert_int_equal(access(kt, F_OK), 0);
    TU_ERR(kt_remove_source(kt, r, 0), HSMSSP_ERR_INVALID_ARGUMENT);
    TU_OK(kt_remove_source(kt, r, n));
    assert_int_equal(access(kt, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    kt_results_free(r, n);

    /* a second import finds the keys there: the file is kept */
    write_keytab(kt, &s);
    TU_OK(kt_import(p.tok, kt, &persist, &r, &n));
    assert_int_equal(r[0].status, KT_EXISTS);
    TU_ERR(kt_remove_source(kt, r, n), HSMSSP_ERR_INVALID_ARGUMENT);
    assert_int_equal(access(kt, F_OK), 0);
    kt_results_free(r, n);
    unlink(link);
    priv_close(&p);
    free_set(&s);
    unlink(kt);
}

/* ---- argument checks and the status table ------------------------------ */

static void
test_args(void **state)
{
    hsm_token *tok = tu_token_open(TU_NSS, 0);
    kt_result *r = (kt_result *)&r; /* must be cleared */
    size_t n = 9;
    kt_import_opts o = {.persistent = false};

    (void)state;
    TU_ERR(kt_import(tok, "", &o, &r, &n), HSMSSP_ERR_INVALID_ARGUMENT);
    assert_null(r);
    assert_int_equal(n, 0);
    TU_ERR(kt_import(NULL, "x", &o, &r, &n), HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kt_import(tok, "x", NULL, &r, &n), HSMSSP_ERR_INVALID_ARGUMENT);
    assert_string_equal(kt_status_name(KT_IMPORTED), "imported");
    assert_string_equal(kt_status_name(KT_REPLACED), "replaced");
    assert_string_equal(kt_status_name(KT_EXISTS), "exists");
    assert_string_equal(kt_status_name(KT_SKIPPED), "skipped");
    assert_string_equal(kt_status_name(KT_FAILED), "failed");
    assert_string_equal(kt_status_name((kt_status)42), "unknown");
    kt_results_free(NULL, 3);
    hsm_token_close(tok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_import_softhsm),
        cmocka_unit_test(test_policy_softhsm),
        cmocka_unit_test(test_duplicates_replace),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_stdin_pipe_softhsm),
        cmocka_unit_test(test_stdin_large_nss),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_truncated_every_byte),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_holes),
        cmocka_unit_test(test_nss),
        cmocka_unit_test(test_remove_source),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
