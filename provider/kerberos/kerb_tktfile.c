/*
 * provider/kerberos/kerb_tktfile.c - the TGT store of `hsmssp kinit`
 * (contract and file format in kerb_tktfile.h, prose in
 * docs/kinit-store.md).
 *
 * Two halves.  The codec is pure: one rule checker, entry_problem(), is
 * run by the encoder before it writes and by the decoder after it reads,
 * so the two can never disagree on what a valid file is, and every field
 * has exactly one encoding (DER, an absent renew-till for 0, a 32-bit
 * flags string), which makes decode(encode(e)) == e and encode(decode(f))
 * == f: a changed byte is either refused or a visibly different entry.
 *
 * The file half trusts no path.  Every operation opens the directory
 * once, without following a symbolic link at its last component, checks
 * owner and mode on that descriptor, and then works relative to it
 * (openat, renameat), so a directory swapped after the check is not the
 * one used.  Files are checked the same way on their open descriptor.
 *
 * Nothing here is secret: a Ticket is encrypted in the KDC's key and is
 * useless without its session key, which is on the token.  So buffers
 * are ordinary heap and nothing is wiped - but the same ownership rules
 * as for secrets apply, because a Ticket file under someone else's
 * control could point this user's next process at a key object of the
 * attacker's choosing, or feed it a ticket for another principal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/der.h"
#include "hsm/hsm.h"
#include "provider/kerberos/kerb_asn1.h"
#include "provider/kerberos/kerb_tktfile.h"

#define LOG_SUBSYS "kerberos"

/* Error codes for file-system failures.  errors.h has no code for "the
 * ticket store cannot be read or written" (the replay cache has its own,
 * RCACHE_IO, which would mislead here), so: a directory that cannot be
 * made or opened is a location problem, HSMSSP_ERR_CONFIG (the operator
 * fixes HSMSSP_TICKET_DIR or the configuration); a failing read, write,
 * fsync or rename inside a good directory is resource exhaustion or a
 * broken disk, HSMSSP_ERR_INTERNAL.  Every such detail carries the path
 * and strerror().  XXX: a dedicated code (TICKET_STORE_IO) would let
 * callers tell these apart from real configuration errors. */

/* Room for a one-line reason built by the rule checker. */
#define WHY_LEN 192

/* Field numbers of HsmsspTicketFile (kerb_tktfile.h). */
enum {
    F_VERSION = 0,
    F_CLIENT = 1,
    F_SERVER = 2,
    F_FLAGS = 3,
    F_AUTHTIME = 4,
    F_STARTTIME = 5,
    F_ENDTIME = 6,
    F_RENEW_TILL = 7,
    F_KEY_ETYPE = 8,
    F_KEY_ID = 9,
    F_TOKEN_LABEL = 10,
    F_TOKEN_SERIAL = 11,
    F_TICKET = 12
};

void
kerb_tktfile_entry_clear(kerb_tktfile_entry *e)
{
    if (e == NULL)
        return;
    free(e->ticket);
    /* Not a secret: a plain memset is the clear, not a wipe. */
    memset(e, 0, sizeof(*e));
}

/* Re-raises the calling thread's last error (code ret) with prefix put
 * before its detail, dropping the code's message that the detail starts
 * with, so the operator reads "PATH: reason" once, not the message
 * twice. */
static hsmssp_err
reraise(hsmssp_err ret, const char *prefix)
{
    char d[512];
    const char *detail = hsmssp_last_error_detail();
    const char *msg = hsmssp_err_message(ret);
    size_t ml = strlen(msg);

    if (hsmssp_last_error() == ret && strncmp(detail, msg, ml) == 0) {
        detail += ml;
        if (detail[0] == ':' && detail[1] == ' ')
            detail += 2;
    }
    snprintf(d, sizeof(d), "%s", detail);
    if (d[0] == '\0')
        return BASE_ERR(ret, "%s", prefix);
    return BASE_ERR(ret, "%s: %s", prefix, d);
}

/* ---- the rules (shared by encoder and decoder) ---------------------- */

/* A principal as kerb_principal_unparse() writes it, with a realm.
 * Parsing and unparsing again must give the same bytes: that refuses
 * NULs (they end the C string early, so the lengths differ), escapes
 * that unparse would not write ("\x"), a missing realm and more
 * components than the codec handles, and it makes the stored name the one
 * and only spelling of the principal - so a file name derived from it,
 * and comparisons with it, are exact. */
static bool
principal_ok(const char *name, size_t cap, const char *what, char *why,
             size_t wsz)
{
    char storage[KERB_KS_MAX_PRINCIPAL + 1];
    char back[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_principal p;
    base_der realm;
    size_t n = strnlen(name, cap);

    if (n == 0 || n == cap || n > KERB_KS_MAX_PRINCIPAL) {
        snprintf(why, wsz, "%s is %s", what,
                 n == 0 ? "empty" : "longer than 255 bytes");
        return false;
    }
    if (kerb_principal_parse(name, KERB_NT_PRINCIPAL, storage, &p, &realm) !=
            HSMSSP_OK ||
        realm.len == 0 ||
        kerb_principal_unparse(&p, realm, back, sizeof(back)) != HSMSSP_OK ||
        strcmp(back, name) != 0) {
        snprintf(why, wsz,
                 "%s is not a principal name with a realm in MIT's "
                 "unparsed form",
                 what);
        return false;
    }
    return true;
}

static bool
time_ok(int64_t t)
{
    return t >= 0 && t <= KERB_TKTFILE_MAX_TIME;
}

/* Checks every rule of the format on e.  Returns HSMSSP_OK, or
 * HSMSSP_ERR_LIMIT (ticket too large) or HSMSSP_ERR_BAD_TOKEN (any other
 * rule) with the reason in why; the caller chooses the code it raises.
 * Raises nothing itself that the caller keeps. */
static hsmssp_err
entry_problem(const kerb_tktfile_entry *e, char *why, size_t wsz)
{
    char sname[KERB_KS_MAX_PRINCIPAL + 1];
    kerb_ticket t;

    if (!principal_ok(e->client, sizeof(e->client), "client", why, wsz) ||
        !principal_ok(e->server, sizeof(e->server), "server", why, wsz))
        return HSMSSP_ERR_BAD_TOKEN;
    if (!time_ok(e->authtime) || !time_ok(e->starttime) ||
        !time_ok(e->endtime) || !time_ok(e->renew_till)) {
        snprintf(why, wsz, "a time is outside 1970..9999");
        return HSMSSP_ERR_BAD_TOKEN;
    }
    if (e->key_id_len == 0 || e->key_id_len > KERB_TKTFILE_MAX_KEY_ID) {
        snprintf(why, wsz, "key-id of %zu bytes (1..%d allowed)",
                 e->key_id_len, KERB_TKTFILE_MAX_KEY_ID);
        return HSMSSP_ERR_BAD_TOKEN;
    }
    if (strnlen(e->token_label, sizeof(e->token_label)) ==
            sizeof(e->token_label) ||
        strnlen(e->token_serial, sizeof(e->token_serial)) ==
            sizeof(e->token_serial)) {
        snprintf(why, wsz, "token label or serial not terminated");
        return HSMSSP_ERR_BAD_TOKEN;
    }
    if (e->ticket == NULL || e->ticket_len == 0) {
        snprintf(why, wsz, "ticket is empty");
        return HSMSSP_ERR_BAD_TOKEN;
    }
    if (e->ticket_len > KERB_TKTFILE_MAX_TICKET) {
        snprintf(why, wsz, "ticket of %zu bytes (at most %d)", e->ticket_len,
                 KERB_TKTFILE_MAX_TICKET);
        return HSMSSP_ERR_LIMIT;
    }
    /* The Ticket is opaque to us, but it must be one: a file whose
     * ticket the KDC would refuse only fails later and further away. */
    if (kerb_dec_ticket(base_der_view(e->ticket, e->ticket_len), &t) !=
        HSMSSP_OK) {
        snprintf(why, wsz, "ticket is not a well-formed Ticket");
        return HSMSSP_ERR_BAD_TOKEN;
    }
    /* The server field is the Ticket's own name, so what `hsmssp klist`
     * shows is what the KDC will read. */
    if (kerb_principal_unparse(&t.sname, t.realm, sname, sizeof(sname)) !=
            HSMSSP_OK ||
        strcmp(sname, e->server) != 0) {
        snprintf(why, wsz, "server does not match the ticket's sname@realm");
        return HSMSSP_ERR_BAD_TOKEN;
    }
    return HSMSSP_OK;
}

/* ---- encoder -------------------------------------------------------- */

/* Prepends [n] EXPLICIT around a primitive element. */
static void
put_prim(base_der_w *w, unsigned n, unsigned tag, const void *p, size_t len)
{
    size_t m = base_der_w_len(w);

    base_der_w_prim(w, tag, p, len);
    base_der_w_wrap(w, BASE_DER_CTX(n), base_der_w_len(w) - m);
}

static void
put_str(base_der_w *w, unsigned n, const char *s)
{
    put_prim(w, n, BASE_DER_GENERAL_STRING, s, strlen(s));
}

static void
put_int(base_der_w *w, unsigned n, int64_t v)
{
    size_t m = base_der_w_len(w);

    base_der_w_int(w, v);
    base_der_w_wrap(w, BASE_DER_CTX(n), base_der_w_len(w) - m);
}

static void
put_time(base_der_w *w, unsigned n, int64_t t)
{
    size_t m = base_der_w_len(w);

    base_der_w_ktime(w, t);
    base_der_w_wrap(w, BASE_DER_CTX(n), base_der_w_len(w) - m);
}

hsmssp_err
kerb_tktfile_encode(const kerb_tktfile_entry *e, uint8_t **out,
                    size_t *len_out)
{
    hsmssp_err ret;
    char why[WHY_LEN];
    uint8_t *buf = NULL, *copy = NULL;
    base_der_w w;
    base_der enc;
    size_t m, m0;

    if (out != NULL)
        *out = NULL;
    if (len_out != NULL)
        *len_out = 0;
    if (e == NULL || out == NULL || len_out == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kerb_tktfile_encode: e, out and len_out required");
    ret = entry_problem(e, why, sizeof(why));
    if (ret != HSMSSP_OK)
        return BASE_ERR(ret == HSMSSP_ERR_LIMIT ? ret
                                                : HSMSSP_ERR_INVALID_ARGUMENT,
                        "ticket file entry: %s", why);
    /* The reverse writer needs its whole capacity up front; the bound is
     * the file bound, so an entry that passed the rules always fits, and
     * the result is copied out at its exact size. */
    buf = malloc(KERB_TKTFILE_MAX_FILE);
    if (buf == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    /* Last field first (the writer prepends). */
    base_der_w_init(&w, buf, KERB_TKTFILE_MAX_FILE);
    m0 = base_der_w_len(&w);
    m = base_der_w_len(&w);
    base_der_w_raw(&w, e->ticket, e->ticket_len);
    base_der_w_wrap(&w, BASE_DER_CTX(F_TICKET), base_der_w_len(&w) - m);
    put_str(&w, F_TOKEN_SERIAL, e->token_serial);
    put_str(&w, F_TOKEN_LABEL, e->token_label);
    put_prim(&w, F_KEY_ID, BASE_DER_OCTET_STRING, e->key_id, e->key_id_len);
    put_int(&w, F_KEY_ETYPE, e->key_etype);
    /* renew_till 0 is "not renewable": the field is absent, never a
     * 1970 time, so that each entry has one encoding. */
    if (e->renew_till != 0)
        put_time(&w, F_RENEW_TILL, e->renew_till);
    put_time(&w, F_ENDTIME, e->endtime);
    put_time(&w, F_STARTTIME, e->starttime);
    put_time(&w, F_AUTHTIME, e->authtime);
    m = base_der_w_len(&w);
    base_der_w_flags32(&w, e->flags);
    base_der_w_wrap(&w, BASE_DER_CTX(F_FLAGS), base_der_w_len(&w) - m);
    put_str(&w, F_SERVER, e->server);
    put_str(&w, F_CLIENT, e->client);
    put_int(&w, F_VERSION, KERB_TKTFILE_VERSION);
    base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - m0);
    base_der_w_wrap(&w, KERB_TKTFILE_TAG, base_der_w_len(&w) - m0);
    ret = base_der_w_finish(&w, &enc);
    if (ret != HSMSSP_OK)
        goto cleanup;
    copy = malloc(enc.len);
    if (copy == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    memcpy(copy, enc.p, enc.len);
    *out = copy;
    *len_out = enc.len;
    copy = NULL;
    ret = HSMSSP_OK;

cleanup:
    free(copy);
    free(buf);
    return ret;
}

/* ---- decoder -------------------------------------------------------- */

/* A KerberosString field into dst[0..cap) (cap includes the NUL).  The
 * entry gets copies, not views: it outlives the file buffer, and the
 * fixed arrays make the bounds part of the type.  A NUL inside would
 * make the C string say less than the file does, so it is refused. */
static hsmssp_err
get_str(base_der *seq, unsigned n, const char *what, char *dst, size_t cap)
{
    base_der v;
    hsmssp_err ret;

    ret = base_der_get_field(seq, n, BASE_DER_GENERAL_STRING, &v);
    if (ret != HSMSSP_OK)
        return reraise(ret, what);
    if (v.len >= cap)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "%s longer than %zu bytes", what,
                        cap - 1);
    if (memchr(v.p, 0, v.len) != NULL)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "NUL in %s", what);
    memcpy(dst, v.p, v.len);
    dst[v.len] = '\0';
    return HSMSSP_OK;
}

static hsmssp_err
get_time(base_der *seq, unsigned n, const char *what, int64_t *out)
{
    base_der v;
    hsmssp_err ret;

    ret = base_der_get_field(seq, n, BASE_DER_GENERALIZED_TIME, &v);
    if (ret == HSMSSP_OK)
        ret = base_der_ktime(v, out);
    return ret == HSMSSP_OK ? ret : reraise(ret, what);
}

static hsmssp_err
get_int(base_der *seq, unsigned n, const char *what, int64_t *out)
{
    base_der v;
    hsmssp_err ret;

    ret = base_der_get_field(seq, n, BASE_DER_INTEGER, &v);
    if (ret == HSMSSP_OK)
        ret = base_der_int(v, INT32_MIN, INT32_MAX, out);
    return ret == HSMSSP_OK ? ret : reraise(ret, what);
}

/* The fields, in the order of the module; fills e, which the caller
 * clears on failure. */
static hsmssp_err
decode_fields(base_der in, kerb_tktfile_entry *e)
{
    base_der body, seq, v, wrap, whole;
    bool present;
    int64_t x;
    unsigned tag;
    hsmssp_err ret;
    char why[WHY_LEN];

    ret = base_der_get(&in, KERB_TKTFILE_TAG, &body, NULL);
    if (ret != HSMSSP_OK)
        return reraise(ret, "not an hsmssp ticket file");
    ret = base_der_end(&in);
    if (ret == HSMSSP_OK)
        ret = base_der_get(&body, BASE_DER_SEQUENCE, &seq, NULL);
    if (ret == HSMSSP_OK)
        ret = base_der_end(&body);
    if (ret != HSMSSP_OK)
        return reraise(ret, "outer structure");

    /* The version first, so that a future format is named as such rather
     * than reported as a malformed field further on. */
    ret = get_int(&seq, F_VERSION, "version", &x);
    if (ret != HSMSSP_OK)
        return ret;
    if (x != KERB_TKTFILE_VERSION)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "format version %lld is not supported (this "
                        "hsmssp reads version %d)",
                        (long long)x, KERB_TKTFILE_VERSION);
    ret = get_str(&seq, F_CLIENT, "client", e->client, sizeof(e->client));
    if (ret == HSMSSP_OK)
        ret = get_str(&seq, F_SERVER, "server", e->server, sizeof(e->server));
    if (ret != HSMSSP_OK)
        return ret;
    /* Exactly 32 bits with no unused bits: base_der_flags32 would also
     * take longer strings, which would give one entry two encodings. */
    ret = base_der_get_field(&seq, F_FLAGS, BASE_DER_BIT_STRING, &v);
    if (ret != HSMSSP_OK)
        return reraise(ret, "flags");
    if (v.len != 5 || v.p[0] != 0)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "flags is not a 32-bit BIT STRING");
    e->flags = base_load_be32(v.p + 1);
    ret = get_time(&seq, F_AUTHTIME, "authtime", &e->authtime);
    if (ret == HSMSSP_OK)
        ret = get_time(&seq, F_STARTTIME, "starttime", &e->starttime);
    if (ret == HSMSSP_OK)
        ret = get_time(&seq, F_ENDTIME, "endtime", &e->endtime);
    if (ret != HSMSSP_OK)
        return ret;
    ret = base_der_get_field_opt(&seq, F_RENEW_TILL, BASE_DER_GENERALIZED_TIME,
                                 &v, &present);
    if (ret == HSMSSP_OK && present)
        ret = base_der_ktime(v, &e->renew_till);
    if (ret != HSMSSP_OK)
        return reraise(ret, "renew-till");
    if (present && e->renew_till == 0)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "renew-till present with the value 0 (absent "
                        "means not renewable)");
    ret = get_int(&seq, F_KEY_ETYPE, "key-etype", &x);
    if (ret != HSMSSP_OK)
        return ret;
    e->key_etype = (int32_t)x;
    ret = base_der_get_field(&seq, F_KEY_ID, BASE_DER_OCTET_STRING, &v);
    if (ret != HSMSSP_OK)
        return reraise(ret, "key-id");
    if (v.len == 0 || v.len > KERB_TKTFILE_MAX_KEY_ID)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                        "key-id of %zu bytes (1..%d allowed)", v.len,
                        KERB_TKTFILE_MAX_KEY_ID);
    memcpy(e->key_id, v.p, v.len);
    e->key_id_len = v.len;
    ret = get_str(&seq, F_TOKEN_LABEL, "token-label", e->token_label,
                  sizeof(e->token_label));
    if (ret == HSMSSP_OK)
        ret = get_str(&seq, F_TOKEN_SERIAL, "token-serial", e->token_serial,
                      sizeof(e->token_serial));
    if (ret != HSMSSP_OK)
        return ret;
    /* ticket [12] Ticket: the wrapper holds exactly one element, taken
     * whole (header included); entry_problem() decodes it as a Ticket. */
    ret = base_der_get(&seq, BASE_DER_CTX(F_TICKET), &wrap, NULL);
    if (ret == HSMSSP_OK)
        ret = base_der_get_any(&wrap, &tag, NULL, &whole);
    if (ret == HSMSSP_OK)
        ret = base_der_end(&wrap);
    if (ret != HSMSSP_OK)
        return reraise(ret, "ticket");
    if (whole.len > KERB_TKTFILE_MAX_TICKET)
        return BASE_ERR(HSMSSP_ERR_LIMIT, "ticket of %zu bytes (at most %d)",
                        whole.len, KERB_TKTFILE_MAX_TICKET);
    /* No extension fields in version 1: a field [13] would be a format
     * this reader does not know, so it refuses rather than drops it. */
    ret = base_der_end(&seq);
    if (ret != HSMSSP_OK)
        return reraise(ret, "after the last field");
    e->ticket = malloc(whole.len);
    if (e->ticket == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    memcpy(e->ticket, whole.p, whole.len);
    e->ticket_len = whole.len;
    /* Field by field the input was well-formed; now the cross-field and
     * content rules, the same the encoder applies. */
    ret = entry_problem(e, why, sizeof(why));
    if (ret != HSMSSP_OK)
        return BASE_ERR(ret, "%s", why);
    return HSMSSP_OK;
}

hsmssp_err
kerb_tktfile_decode(const uint8_t *p, size_t n, kerb_tktfile_entry *e_out)
{
    hsmssp_err ret;

    if (e_out == NULL || (p == NULL && n > 0))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kerb_tktfile_decode: input and e_out required");
    memset(e_out, 0, sizeof(*e_out));
    if (n > KERB_TKTFILE_MAX_FILE)
        return BASE_ERR(HSMSSP_ERR_LIMIT,
                        "ticket file of %zu bytes (at most %d)", n,
                        KERB_TKTFILE_MAX_FILE);
    ret = decode_fields(base_der_view(p, n), e_out);
    if (ret != HSMSSP_OK) {
        /* Keep the reason, lose the partial entry: a caller that ignores
         * the code must still never see half a ticket (a client from
         * this file with a key-id from nowhere). */
        ret = reraise(ret, "ticket file");
        kerb_tktfile_entry_clear(e_out);
    }
    return ret;
}

/* ---- the directory -------------------------------------------------- */

/* The ownership rule, on a descriptor's stat: a real directory of the
 * effective uid that nobody else may even traverse.  Unlike the replay
 * cache, reading matters here too: a file name reveals which principals
 * hold TGTs, and a readable Ticket is a target for offline attacks on
 * the KDC's key. */
static hsmssp_err
check_dir_stat(const struct stat *st, const char *dir)
{
    if (!S_ISDIR(st->st_mode))
        return BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                        "ticket directory %s is not a directory", dir);
    if (st->st_uid != geteuid())
        return BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                        "ticket directory %s is owned by uid %u, not by "
                        "uid %u (this process's effective uid)",
                        dir, (unsigned)st->st_uid, (unsigned)geteuid());
    if ((st->st_mode & 077) != 0)
        return BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                        "ticket directory %s has mode %04o: group and "
                        "others must have no access (chmod 700 %s)",
                        dir, (unsigned)(st->st_mode & 07777), dir);
    return HSMSSP_OK;
}

/* Opens dir (O_NOFOLLOW: a symbolic link in its place is refused, not
 * followed) and checks it on the descriptor.  A missing directory is
 * success with *fd_out = -1 and *missing_out = true. */
static hsmssp_err
open_dir(const char *dir, int *fd_out, bool *missing_out)
{
    hsmssp_err ret;
    struct stat st;
    int fd, e;

    *fd_out = -1;
    *missing_out = false;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        if (e == ENOENT) {
            *missing_out = true;
            return HSMSSP_OK;
        }
        /* ELOOP (a link) or ENOTDIR (a file, or a link with
         * O_DIRECTORY on some kernels): lstat says which, for the
         * operator. */
        if ((e == ELOOP || e == ENOTDIR) && lstat(dir, &st) == 0) {
            if (S_ISLNK(st.st_mode))
                return BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                                "ticket directory %s is a symbolic link "
                                "(mode %04o); use the real path",
                                dir, (unsigned)(st.st_mode & 07777));
            return check_dir_stat(&st, dir);
        }
        return BASE_ERR(HSMSSP_ERR_CONFIG,
                        "cannot open ticket directory %s: %s", dir,
                        strerror(e));
    }
    if (fstat(fd, &st) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "cannot stat %s: %s", dir,
                       strerror(errno));
        close(fd);
        return ret;
    }
    ret = check_dir_stat(&st, dir);
    if (ret != HSMSSP_OK) {
        close(fd);
        return ret;
    }
    *fd_out = fd;
    return HSMSSP_OK;
}

/* The default when neither the environment nor the configuration names
 * a directory: the per-user runtime directory systemd-logind makes
 * (tmpfs, removed at logout, owned by the user), else /tmp.  The
 * runtime directory is used only when it is really the user's, so a
 * stray /run/user/<uid> of someone else is never written into. */
static hsmssp_err
default_dir(char **out)
{
    char run[64];
    struct stat st;
    unsigned uid = (unsigned)geteuid();
    int n;

    snprintf(run, sizeof(run), "/run/user/%u", uid);
    if (lstat(run, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == (uid_t)uid)
        n = asprintf(out, "%s/hsmssp", run);
    else
        n = asprintf(out, "/tmp/hsmssp-%u", uid);
    if (n < 0) {
        *out = NULL;
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    return HSMSSP_OK;
}

hsmssp_err
kerb_tktfile_dir(const char *configured, bool create, char **dir_out)
{
    hsmssp_err ret;
    const char *env;
    char *dir = NULL;
    size_t len;
    int fd = -1;
    bool missing = false;

    if (dir_out == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kerb_tktfile_dir: dir_out required");
    *dir_out = NULL;
    /* secure_getenv: a setuid program must not let its caller choose
     * where it writes. */
    env = secure_getenv(KERB_TKTFILE_ENV);
    if (env != NULL && *env != '\0')
        dir = strdup(env);
    else if (configured != NULL && *configured != '\0')
        dir = strdup(configured);
    else {
        ret = default_dir(&dir);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    if (dir == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    /* A relative directory would depend on the working directory of
     * whichever process reads it: kinit and its users would disagree. */
    if (dir[0] != '/') {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                       "ticket directory %s is not an absolute path (%s or "
                       "the configuration)",
                       dir, KERB_TKTFILE_ENV);
        goto cleanup;
    }
    len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';

    ret = open_dir(dir, &fd, &missing);
    if (ret != HSMSSP_OK || !missing || !create)
        goto done;
    /* Only the last component: creating parents would make directories
     * the administrator never meant (and with what owner and mode?). */
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                       "cannot create ticket directory %s: %s", dir,
                       strerror(errno));
        goto cleanup;
    }
    /* EEXIST: another process made it meanwhile; it is checked like any
     * existing directory. */
    ret = open_dir(dir, &fd, &missing);
    if (ret == HSMSSP_OK && missing)
        ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                       "ticket directory %s vanished after its creation", dir);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* The umask can only have narrowed 0700, but a narrowed mode (0500)
     * would make every later write fail; set exactly 0700.  If another
     * process created it, it is ours and checked: same result. */
    if (fchmod(fd, 0700) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG, "cannot chmod %s: %s", dir,
                       strerror(errno));
        goto cleanup;
    }
    base_log(HSMSSP_LOG_INFO, LOG_SUBSYS, "created ticket directory %s", dir);

done:
    if (ret == HSMSSP_OK) {
        *dir_out = dir;
        dir = NULL;
    }

cleanup:
    if (fd >= 0)
        close(fd);
    free(dir);
    return ret;
}

/* ---- file names ----------------------------------------------------- */

static bool
name_safe(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
           c == '-';
}

/* The file name of client (kerb_tktfile.h) into name[0..cap), cap >=
 * KERB_TKTFILE_MAX_NAME + 1. */
static hsmssp_err
file_name(const char *client, char *name, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    const size_t sfx = sizeof(KERB_TKTFILE_SUFFIX) - 1;
    /* The hashed form keeps this much of the encoding: the rest of the
     * name is '~', 32 hex digits and the suffix. */
    const size_t keep = KERB_TKTFILE_MAX_NAME - sfx - 33;
    char enc[3 * KERB_KS_MAX_PRINCIPAL + 1];
    uint8_t md[32];
    size_t n, o = 0, cut = 0, mdlen = 0, i;
    hsmssp_err ret;

    n = client != NULL ? strnlen(client, KERB_KS_MAX_PRINCIPAL + 1) : 0;
    if (n == 0 || n > KERB_KS_MAX_PRINCIPAL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "principal name of %zu bytes (1..%d allowed)", n,
                        KERB_KS_MAX_PRINCIPAL);
    if (cap < KERB_TKTFILE_MAX_NAME + 1)
        return BASE_ERR0(HSMSSP_ERR_BUFFER_TOO_SMALL);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)client[i];

        /* '%' is outside the safe set, so it is escaped too and the
         * encoding is injective; a leading '.' would hide the file and
         * collide with the temporary names. */
        if (name_safe(c) && !(i == 0 && c == '.')) {
            enc[o++] = (char)c;
        } else {
            enc[o++] = '%';
            enc[o++] = hex[c >> 4];
            enc[o++] = hex[c & 15];
        }
        /* The longest prefix of whole byte encodings that fits. */
        if (o <= keep)
            cut = o;
    }
    if (o + sfx <= KERB_TKTFILE_MAX_NAME) {
        memcpy(name, enc, o);
        memcpy(name + o, KERB_TKTFILE_SUFFIX, sfx + 1);
        return HSMSSP_OK;
    }
    /* NAME_MAX is 255 on Linux filesystems, and a fully escaped 255-byte
     * principal would need 765: keep a readable prefix and make the name
     * unique with a hash of the whole principal. */
    ret = hsm_digest("SHA256", (const uint8_t *)client, n, md, &mdlen);
    if (ret != HSMSSP_OK)
        return ret;
    o = cut;
    enc[o++] = '~';
    for (i = 0; i < 16; i++) {
        enc[o++] = hex[md[i] >> 4];
        enc[o++] = hex[md[i] & 15];
    }
    /* o <= keep + 33, so the name is at most KERB_TKTFILE_MAX_NAME. */
    memcpy(name, enc, o);
    memcpy(name + o, KERB_TKTFILE_SUFFIX, sfx + 1);
    return HSMSSP_OK;
}

hsmssp_err
kerb_tktfile_path(const char *dir, const char *client, char **path_out)
{
    char name[KERB_TKTFILE_MAX_NAME + 1];
    hsmssp_err ret;

    if (path_out != NULL)
        *path_out = NULL;
    if (path_out == NULL || dir == NULL || *dir == '\0')
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kerb_tktfile_path: dir and path_out required");
    ret = file_name(client, name, sizeof(name));
    if (ret != HSMSSP_OK)
        return ret;
    if (asprintf(path_out, "%s/%s", dir, name) < 0) {
        *path_out = NULL;
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    return HSMSSP_OK;
}

/* ---- reading and writing -------------------------------------------- */

/* Every file operation works relative to a checked directory
 * descriptor, so the path is cut into the directory to open and check
 * and the name to open inside it. */

/* Splits path into a malloc'ed directory ("." when path has no slash, "/"
 * for "/x") and a pointer to the last component inside path, which must
 * name a file. */
static hsmssp_err
split_path(const char *path, char **dir_out, const char **base_out)
{
    const char *slash, *base;
    char *dir;

    *dir_out = NULL;
    *base_out = NULL;
    if (path == NULL || *path == '\0')
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "empty ticket path");
    slash = strrchr(path, '/');
    base = slash != NULL ? slash + 1 : path;
    if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "ticket path %s does not name a file", path);
    if (slash == NULL)
        dir = strdup(".");
    else
        dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (dir == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    *dir_out = dir;
    *base_out = base;
    return HSMSSP_OK;
}

/* Reads the ticket file name in the checked directory dfd (path is for
 * messages).  The checks run on the open descriptor, so what is checked
 * is what is read. */
static hsmssp_err
read_at(int dfd, const char *name, const char *path, kerb_tktfile_entry *e_out)
{
    hsmssp_err ret;
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    int fd, e;

    memset(e_out, 0, sizeof(*e_out));
    /* O_NONBLOCK: a FIFO put in place of the file must not hang the
     * open; it is then refused as not a regular file. */
    fd = openat(dfd, name,
                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        e = errno;
        /* Missing is the ordinary "never ran kinit" or "kdestroy'ed"
         * case, with its own code so the caller can say what to run. */
        if (e == ENOENT)
            return BASE_ERR(HSMSSP_ERR_NO_TICKET, "no ticket file %s", path);
        if (e == ELOOP)
            return BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                            "ticket file %s is a symbolic link", path);
        return BASE_ERR(HSMSSP_ERR_INTERNAL, "cannot open %s: %s", path,
                        strerror(e));
    }
    if (fstat(fd, &st) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "cannot stat %s: %s", path,
                       strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                       "ticket file %s is not a regular file (mode %06o)",
                       path, (unsigned)st.st_mode);
        goto cleanup;
    }
    if (st.st_uid != geteuid()) {
        ret = BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                       "ticket file %s is owned by uid %u, not by uid %u "
                       "(this process's effective uid)",
                       path, (unsigned)st.st_uid, (unsigned)geteuid());
        goto cleanup;
    }
    if ((st.st_mode & 077) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_FILE_PERMS,
                       "ticket file %s has mode %04o: group and others "
                       "must have no access (chmod 600 %s)",
                       path, (unsigned)(st.st_mode & 07777), path);
        goto cleanup;
    }
    if (st.st_size > KERB_TKTFILE_MAX_FILE) {
        ret = BASE_ERR(HSMSSP_ERR_LIMIT,
                       "ticket file %s has %lld bytes (at most %d)", path,
                       (long long)st.st_size, KERB_TKTFILE_MAX_FILE);
        goto cleanup;
    }
    /* Read to EOF, one byte beyond the bound at most: the size may have
     * changed since fstat (a writer that bypassed the atomic rename). */
    buf = malloc(KERB_TKTFILE_MAX_FILE + 1);
    if (buf == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    for (;;) {
        ssize_t r = read(fd, buf + got, KERB_TKTFILE_MAX_FILE + 1 - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "cannot read %s: %s", path,
                           strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > KERB_TKTFILE_MAX_FILE) {
            ret = BASE_ERR(HSMSSP_ERR_LIMIT,
                           "ticket file %s is larger than %d bytes", path,
                           KERB_TKTFILE_MAX_FILE);
            goto cleanup;
        }
    }
    ret = kerb_tktfile_decode(buf, got, e_out);
    if (ret != HSMSSP_OK)
        ret = reraise(ret, path);

cleanup:
    free(buf);
    close(fd);
    return ret;
}

hsmssp_err
kerb_tktfile_read(const char *path, kerb_tktfile_entry *e_out)
{
    hsmssp_err ret;
    const char *base;
    char *dir = NULL;
    int dfd = -1;
    bool missing;

    if (e_out == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kerb_tktfile_read: e_out required");
    memset(e_out, 0, sizeof(*e_out));
    ret = split_path(path, &dir, &base);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = open_dir(dir, &dfd, &missing);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (missing) {
        ret = BASE_ERR(HSMSSP_ERR_NO_TICKET,
                       "no ticket file %s (no directory %s)", path, dir);
        goto cleanup;
    }
    ret = read_at(dfd, base, path, e_out);

cleanup:
    if (dfd >= 0)
        close(dfd);
    free(dir);
    return ret;
}

hsmssp_err
kerb_tktfile_load(const char *dir, const char *client,
                  kerb_tktfile_entry *e_out)
{
    hsmssp_err ret;
    char *path = NULL;

    if (e_out == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kerb_tktfile_load: e_out required");
    memset(e_out, 0, sizeof(*e_out));
    ret = kerb_tktfile_path(dir, client, &path);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = kerb_tktfile_read(path, e_out);
    if (ret == HSMSSP_ERR_NO_TICKET) {
        ret =
            BASE_ERR(HSMSSP_ERR_NO_TICKET,
                     "no ticket for %s; run hsmssp kinit %s", client, client);
        goto cleanup;
    }
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* The name is derived from the client, but the file may have been
     * copied or renamed: use it only for the principal it is for. */
    if (strcmp(e_out->client, client) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                       "%s holds a ticket for %s, not for %s", path,
                       e_out->client, client);
        kerb_tktfile_entry_clear(e_out);
        goto cleanup;
    }

cleanup:
    free(path);
    return ret;
}

/* Writes all n bytes, across short writes and EINTR. */
static hsmssp_err
write_full(int fd, const uint8_t *p, size_t n, const char *dir)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return BASE_ERR(HSMSSP_ERR_INTERNAL,
                            "cannot write a ticket file in %s: %s", dir,
                            w < 0 ? strerror(errno) : "no progress");
        p += w;
        n -= (size_t)w;
    }
    return HSMSSP_OK;
}

hsmssp_err
kerb_tktfile_write(const char *path, const kerb_tktfile_entry *e)
{
    hsmssp_err ret;
    const char *base;
    char *dir = NULL, *tmp = NULL;
    uint8_t *enc = NULL, rnd[6];
    size_t enc_len = 0;
    int dfd = -1, fd = -1;
    bool missing, tmp_made = false;

    /* Encode first: an entry that breaks a rule never touches the disk,
     * and the old file stays. */
    ret = kerb_tktfile_encode(e, &enc, &enc_len);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = split_path(path, &dir, &base);
    if (ret != HSMSSP_OK)
        goto cleanup;
    ret = open_dir(dir, &dfd, &missing);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (missing) {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG, "ticket directory %s does not exist",
                       dir);
        goto cleanup;
    }
    ret = hsm_random(rnd, sizeof(rnd));
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* A leading '.' keeps the temporary name out of listings; O_EXCL
     * and the random part keep two writers apart. */
    if (asprintf(&tmp, ".%s.%02x%02x%02x%02x%02x%02x", base, rnd[0], rnd[1],
                 rnd[2], rnd[3], rnd[4], rnd[5]) < 0) {
        tmp = NULL;
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0600);
    if (fd < 0) {
        ret = BASE_ERR(HSMSSP_ERR_INTERNAL,
                       "cannot create a ticket file in %s: %s", dir,
                       strerror(errno));
        goto cleanup;
    }
    tmp_made = true;
    /* The umask may have narrowed 0600 (0400 would still read, but make
     * it exactly what docs/kinit-store.md says). */
    if (fchmod(fd, 0600) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "cannot chmod a file in %s: %s",
                       dir, strerror(errno));
        goto cleanup;
    }
    ret = write_full(fd, enc, enc_len, dir);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* Data on disk before the name: after a crash the name points at the
     * old file or at a complete new one, never at an empty one. */
    if (fsync(fd) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "cannot sync a file in %s: %s",
                       dir, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "cannot close a file in %s: %s",
                       dir, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (renameat(dfd, tmp, dfd, base) != 0) {
        ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "cannot rename into %s: %s", path,
                       strerror(errno));
        goto cleanup;
    }
    tmp_made = false;
    /* The rename itself is durable once the directory is synced.  Some
     * filesystems refuse fsync on a directory; the file is in place
     * either way, so that is not a failure. */
    (void)fsync(dfd);
    ret = HSMSSP_OK;

cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp_made)
        (void)unlinkat(dfd, tmp, 0);
    if (dfd >= 0)
        close(dfd);
    free(tmp);
    free(enc);
    free(dir);
    return ret;
}

/* Plain unlink, no directory check: removing can only take something
 * away from whoever controls the directory, and kdestroy must work even
 * where a wrong mode makes every other operation refuse. */
hsmssp_err
kerb_tktfile_remove(const char *path)
{
    if (path == NULL || *path == '\0')
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT, "empty ticket path");
    if (unlink(path) != 0 && errno != ENOENT)
        return BASE_ERR(HSMSSP_ERR_INTERNAL, "cannot remove %s: %s", path,
                        strerror(errno));
    return HSMSSP_OK;
}

/* ---- listing -------------------------------------------------------- */

/* A ticket file's name: the suffix, and no leading '.', which marks the
 * temporary files of kerb_tktfile_write (and "." and ".."). */
static bool
is_ticket_name(const char *name)
{
    size_t n = strlen(name), s = sizeof(KERB_TKTFILE_SUFFIX) - 1;

    return name[0] != '.' && n > s &&
           strcmp(name + n - s, KERB_TKTFILE_SUFFIX) == 0;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads one listed file and hands the result to fn.  Returns HSMSSP_OK
 * to go on (*stop_out tells whether fn asked to stop), or an error that
 * ends the listing (out of memory). */
static hsmssp_err
list_one(int dfd, const char *dir, const char *name, kerb_tktfile_fn fn,
         void *arg, bool *stop_out)
{
    kerb_tktfile_entry e;
    char *path = NULL, want[KERB_TKTFILE_MAX_NAME + 1], reason[512];
    hsmssp_err ret, why;

    *stop_out = false;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    why = read_at(dfd, name, path, &e);
    /* A name that is not the one its client gives is a file copied or
     * renamed by hand: kerb_tktfile_load would never find it under that
     * name, so it is reported rather than shown as a usable ticket. */
    if (why == HSMSSP_OK &&
        (file_name(e.client, want, sizeof(want)) != HSMSSP_OK ||
         strcmp(want, name) != 0)) {
        why = BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                       "%s holds a ticket for %s, whose file name is %s", path,
                       e.client, want);
        kerb_tktfile_entry_clear(&e);
    }
    if (why == HSMSSP_ERR_NOMEM) {
        ret = why;
    } else if (why == HSMSSP_ERR_NO_TICKET) {
        /* Removed since readdir (kdestroy meanwhile): not an error. */
        ret = HSMSSP_OK;
    } else if (why == HSMSSP_OK) {
        *stop_out = !fn(arg, path, &e, HSMSSP_OK, NULL);
        kerb_tktfile_entry_clear(&e);
        ret = HSMSSP_OK;
    } else {
        /* Copy: fn may well fail calls of its own, which would overwrite
         * the thread's detail under its feet. */
        snprintf(reason, sizeof(reason), "%s", hsmssp_last_error_detail());
        *stop_out = !fn(arg, path, NULL, why, reason);
        ret = HSMSSP_OK;
    }
    free(path);
    return ret;
}

hsmssp_err
kerb_tktfile_list(const char *dir, kerb_tktfile_fn fn, void *arg)
{
    hsmssp_err ret;
    DIR *d = NULL;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, i;
    int dfd = -1;
    bool missing, stop = false;

    if (dir == NULL || *dir == '\0' || fn == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kerb_tktfile_list: dir and fn required");
    ret = open_dir(dir, &dfd, &missing);
    if (ret != HSMSSP_OK || missing)
        return ret;
    d = fdopendir(dfd);
    if (d == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "cannot list %s: %s", dir,
                       strerror(errno));
        close(dfd);
        return ret;
    }
    /* dfd now belongs to d (closedir closes it). */
    names = calloc(KERB_TKTFILE_MAX_FILES, sizeof(*names));
    if (names == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    /* Collect, then sort, then read: a stable order for klist, and the
     * bound is known before fn sees anything. */
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            if (errno != 0) {
                ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "cannot list %s: %s", dir,
                               strerror(errno));
                goto cleanup;
            }
            break;
        }
        if (!is_ticket_name(de->d_name))
            continue;
        if (n == KERB_TKTFILE_MAX_FILES) {
            ret = BASE_ERR(HSMSSP_ERR_LIMIT, "more than %d ticket files in %s",
                           KERB_TKTFILE_MAX_FILES, dir);
            goto cleanup;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL) {
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
            goto cleanup;
        }
        n++;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    for (i = 0; i < n && !stop; i++) {
        ret = list_one(dirfd(d), dir, names[i], fn, arg, &stop);
        if (ret != HSMSSP_OK)
            goto cleanup;
    }
    ret = HSMSSP_OK;

cleanup:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return ret;
}

/* ---- the token object's ID and label -------------------------------- */

/* The endtime goes into the ID as a 64-bit big-endian count, so IDs
 * sort by endtime byte for byte and survive 2038. */
static void
store_be64(uint8_t *p, uint64_t v)
{
    base_store_be32(p, (uint32_t)(v >> 32));
    base_store_be32(p + 4, (uint32_t)v);
}

hsmssp_err
kerb_tktfile_make_key_id(int64_t endtime, uint8_t *id, size_t cap,
                         size_t *len_out)
{
    hsmssp_err ret;

    if (len_out == NULL || id == NULL)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "kerb_tktfile_make_key_id: id and len_out required");
    *len_out = 0;
    if (!time_ok(endtime))
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "endtime %lld outside 1970..9999", (long long)endtime);
    if (cap < KERB_TKTFILE_KEY_ID_LEN)
        return BASE_ERR0(HSMSSP_ERR_BUFFER_TOO_SMALL);
    memcpy(id, KERB_TKTFILE_ID_PREFIX, KERB_TKTFILE_ID_PREFIX_LEN);
    store_be64(id + KERB_TKTFILE_ID_PREFIX_LEN, (uint64_t)endtime);
    /* Random, not a counter or a hash of the ticket: two kinits of the
     * same principal in the same second still get distinct objects, and
     * the ID tells nothing about the ticket. */
    ret = hsm_random(id + 16, KERB_TKTFILE_KEY_ID_LEN - 16);
    if (ret != HSMSSP_OK)
        return ret;
    *len_out = KERB_TKTFILE_KEY_ID_LEN;
    return HSMSSP_OK;
}

bool
kerb_tktfile_key_id_endtime(const uint8_t *id, size_t len,
                            int64_t *endtime_out)
{
    uint64_t v;

    if (endtime_out != NULL)
        *endtime_out = 0;
    /* Exact length: an ID with more bytes is some other scheme that
     * happens to share the prefix, and a sweeper must not destroy it. */
    if (id == NULL || endtime_out == NULL || len != KERB_TKTFILE_KEY_ID_LEN ||
        memcmp(id, KERB_TKTFILE_ID_PREFIX, KERB_TKTFILE_ID_PREFIX_LEN) != 0)
        return false;
    v = ((uint64_t)base_load_be32(id + 8) << 32) | base_load_be32(id + 12);
    /* Only what make_key_id can produce: a sweeper that trusted a
     * negative or far-future value would destroy too early or never. */
    if (v > (uint64_t)KERB_TKTFILE_MAX_TIME)
        return false;
    *endtime_out = (int64_t)v;
    return true;
}

void
kerb_tktfile_key_label(const kerb_tktfile_entry *e, char *label, size_t cap)
{
    int64_t t, days, secs, y;
    unsigned m, d;

    if (label == NULL || cap == 0)
        return;
    if (e == NULL) {
        label[0] = '\0';
        return;
    }
    /* Floor division, so that a (refused elsewhere) negative time still
     * prints a real date rather than garbage. */
    t = e->endtime;
    days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    secs = t - days * 86400;
    base_civil_from_days(days, &y, &m, &d);
    /* %.*s: the arrays may lack a NUL in a caller's broken entry. */
    snprintf(label, cap,
             "TGT %.*s for %.*s until %04lld-%02u-%02uT%02u:%02u:%02uZ",
             (int)strnlen(e->client, sizeof(e->client)), e->client,
             (int)strnlen(e->server, sizeof(e->server)), e->server,
             (long long)y, m, d, (unsigned)(secs / 3600),
             (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}
