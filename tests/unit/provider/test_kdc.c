/*
 * tests/unit/provider/test_kdc.c - the KDC transport
 * (provider/kerberos/kerb_kdc.h) against fake KDCs: threads of this
 * process that listen on 127.0.0.1 (and ::1 when the host has it) and
 * answer each request as their mode says: a canned reply, a
 * RESPONSE_TOO_BIG error over UDP, garbage, a lying TCP length, a reply
 * split into several writes, or silence.  Each case writes a krb5.conf of
 * its own (a new file name every time, so libkrb5's profile cache never
 * serves an old one) naming the fakes, and points KRB5_CONFIG at it.
 *
 * The fakes record every request (transport, bytes, order of first
 * contact), so the cases assert what went over the wire, not only what
 * came back.  Times are asserted as upper bounds only, generous enough
 * for a loaded two-core machine.  The DNS SRV parser and the RFC 2782
 * order are tested on hand-built answers (no DNS server needed), and the
 * krb5.conf values (provider/config.h prov_krb5_realm_read) on the
 * profile libkrb5 hands out.  The lookup of SRV records itself
 * (res_nquery) runs in tests/kdc/test_initiator_kdc.sh against a DNS
 * server of the test's own (tests/kdc/fakedns.py).
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <krb5.h>

#include "base/der.h"
#include "hsmssp/log.h"
#include "provider/config.h"
#include "provider/kerberos/kerb_asn1.h"
#include "provider/kerberos/kerb_kdc.h"

#define REQ_CAP 8192
/* Slack on top of the worst case the transport promises: a loaded
 * machine, ASan, and libkrb5 reading its configuration on each call. */
#define SLACK_MS 4000

/* ---- canned messages ------------------------------------------------- */

typedef struct msg {
    uint8_t *p;
    size_t len;
} msg;

static msg
msg_copy(base_der d)
{
    msg m = {malloc(d.len), d.len};

    assert_non_null(m.p);
    memcpy(m.p, d.p, d.len);
    return m;
}

static void
msg_free(msg *m)
{
    free(m->p);
    m->p = NULL;
    m->len = 0;
}

static bool
msg_eq(const msg *m, const uint8_t *p, size_t len)
{
    return m->len == len && memcmp(m->p, p, len) == 0;
}

/* A KRB-ERROR from the KDC of realm with the given error-code. */
static msg
make_error(int32_t code, const char *realm)
{
    static uint8_t buf[1024];
    kerb_error e;
    base_der_w w;
    base_der out;

    memset(&e, 0, sizeof(e));
    e.stime = 1700000000;
    e.susec = 1;
    e.code = code;
    e.realm = base_der_view(realm, strlen(realm));
    e.sname.type = KERB_NT_SRV_INST;
    e.sname.n = 2;
    e.sname.comp[0] = base_der_view("krbtgt", 6);
    e.sname.comp[1] = e.realm;
    base_der_w_init(&w, buf, sizeof(buf));
    kerb_enc_error(&w, &e);
    TU_OK(base_der_w_finish(&w, &out));
    return msg_copy(out);
}

/* [APPLICATION app] SEQUENCE { [0] INTEGER 5, [1] INTEGER app,
 * [2] OCTET STRING body } of exactly total bytes (body filled with
 * marker), the shape of a KDC message without its real fields: the
 * transport checks tags and well-formedness only. */
static msg
make_element(unsigned app, size_t total, uint8_t marker)
{
    uint8_t *buf = malloc(total + 64), *fill = malloc(total + 1);
    msg m = {NULL, 0};

    assert_non_null(buf);
    assert_non_null(fill);
    memset(fill, marker, total + 1);
    /* Header sizes depend on the lengths; search the body length that
     * makes the whole exactly total bytes. */
    for (size_t body = total + 1; body-- > 0 && m.p == NULL;) {
        base_der_w w;
        base_der out;
        size_t m0, m1;

        base_der_w_init(&w, buf, total + 64);
        m0 = base_der_w_len(&w);
        m1 = base_der_w_len(&w);
        base_der_w_prim(&w, BASE_DER_OCTET_STRING, fill, body);
        base_der_w_wrap(&w, BASE_DER_CTX(2), base_der_w_len(&w) - m1);
        m1 = base_der_w_len(&w);
        base_der_w_int(&w, app);
        base_der_w_wrap(&w, BASE_DER_CTX(1), base_der_w_len(&w) - m1);
        m1 = base_der_w_len(&w);
        base_der_w_int(&w, 5);
        base_der_w_wrap(&w, BASE_DER_CTX(0), base_der_w_len(&w) - m1);
        base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - m0);
        base_der_w_wrap(&w, BASE_DER_APP(app), base_der_w_len(&w) - m0);
        TU_OK(base_der_w_finish(&w, &out));
        if (out.len == total)
            m = msg_copy(out);
    }
    if (m.p == NULL)
        fail_msg("no element of exactly %zu bytes", total);
    free(buf);
    free(fill);
    return m;
}

/* ---- fake KDCs ------------------------------------------------------- */

typedef enum udp_mode {
    UDP_NONE,    /* nothing bound: ICMP port unreachable */
    UDP_SILENT,  /* reads and counts, never answers */
    UDP_REPLY,   /* answers reply */
    UDP_TOO_BIG, /* answers a KRB-ERROR RESPONSE_TOO_BIG */
    UDP_RAW      /* answers raw, whatever it is */
} udp_mode;

typedef enum tcp_mode {
    TCP_NONE,     /* bound, not listening: connection refused */
    TCP_SILENT,   /* accepts, reads, never answers */
    TCP_REPLY,    /* prefix + reply in one write */
    TCP_SPLIT,    /* prefix and reply in five writes with pauses */
    TCP_OVERSIZE, /* announces 2 MiB, sends a little, closes */
    TCP_HIGHBIT,  /* announces a length with the reserved bit */
    TCP_SHORT,    /* announces 100 bytes, sends 10, closes */
    TCP_RAW       /* prefix + raw */
} tcp_mode;

typedef struct fake_kdc {
    int family;
    int udp_fd, tcp_fd, stop[2];
    uint16_t port;
    udp_mode um;
    tcp_mode tm;
    msg reply;   /* UDP_REPLY, TCP_REPLY, TCP_SPLIT */
    msg too_big; /* UDP_TOO_BIG */
    msg raw;     /* UDP_RAW, TCP_RAW */
    pthread_t thread;
    pthread_mutex_t lock;
    int udp_reqs, tcp_reqs;
    int last_seq; /* order of the latest request among all fakes; 0 =
                   * none yet */
    uint8_t last_req[REQ_CAP];
    size_t last_req_len;
    bool bad_tcp_prefix; /* a TCP request whose length prefix lied */
} fake_kdc;

static atomic_int contact_seq;

static void
record(fake_kdc *f, const uint8_t *p, size_t n, bool tcp)
{
    pthread_mutex_lock(&f->lock);
    if (tcp)
        f->tcp_reqs++;
    else
        f->udp_reqs++;
    f->last_seq = atomic_fetch_add(&contact_seq, 1) + 1;
    f->last_req_len = n < REQ_CAP ? n : REQ_CAP;
    memcpy(f->last_req, p, f->last_req_len);
    pthread_mutex_unlock(&f->lock);
}

static void
handle_udp(fake_kdc *f)
{
    static _Thread_local uint8_t buf[65536];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(f->udp_fd, buf, sizeof(buf), 0,
                         (struct sockaddr *)&from, &fl);
    const msg *ans = NULL;

    if (n <= 0)
        return;
    record(f, buf, (size_t)n, false);
    if (f->um == UDP_REPLY)
        ans = &f->reply;
    else if (f->um == UDP_TOO_BIG)
        ans = &f->too_big;
    else if (f->um == UDP_RAW)
        ans = &f->raw;
    if (ans != NULL)
        (void)!sendto(f->udp_fd, ans->p, ans->len, 0, (struct sockaddr *)&from,
                      fl);
}

static bool
read_n(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = recv(fd, p + got, n - got, 0);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static void
write_n(int fd, const void *p, size_t n)
{
    (void)!send(fd, p, n, MSG_NOSIGNAL);
}

static void
pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One TCP connection, served to its end before the next. */
static void
handle_tcp(fake_kdc *f)
{
    struct timeval tv = {5, 0};
    uint8_t prefix[4], *body = NULL, tail[16];
    uint32_t n;
    int c = accept4(f->tcp_fd, NULL, NULL, SOCK_CLOEXEC);

    if (c < 0)
        return;
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (!read_n(c, prefix, 4))
        goto done;
    n = base_load_be32(prefix);
    if (n == 0 || n > (1u << 20)) {
        f->bad_tcp_prefix = true;
        goto done;
    }
    body = malloc(n);
    if (body == NULL || !read_n(c, body, n)) {
        f->bad_tcp_prefix = true;
        goto done;
    }
    record(f, body, n, true);
    switch (f->tm) {
    case TCP_REPLY: {
        uint8_t *out = malloc(f->reply.len + 4);
        base_store_be32(out, (uint32_t)f->reply.len);
        memcpy(out + 4, f->reply.p, f->reply.len);
        write_n(c, out, f->reply.len + 4);
        free(out);
        break;
    }
    case TCP_SPLIT: {
        size_t third = f->reply.len / 3;
        base_store_be32(prefix, (uint32_t)f->reply.len);
        write_n(c, prefix, 2);
        pause_ms(30);
        write_n(c, prefix + 2, 2);
        pause_ms(30);
        write_n(c, f->reply.p, third);
        pause_ms(30);
        write_n(c, f->reply.p + third, third);
        pause_ms(30);
        write_n(c, f->reply.p + 2 * third, f->reply.len - 2 * third);
        break;
    }
    case TCP_OVERSIZE:
        base_store_be32(prefix, 2u << 20);
        write_n(c, prefix, 4);
        write_n(c, f->reply.p, f->reply.len);
        break;
    case TCP_HIGHBIT:
        base_store_be32(prefix, 0x80000000u | (uint32_t)f->reply.len);
        write_n(c, prefix, 4);
        write_n(c, f->reply.p, f->reply.len);
        break;
    case TCP_SHORT:
        base_store_be32(prefix, 100);
        write_n(c, prefix, 4);
        write_n(c, f->reply.p, 10);
        break;
    case TCP_RAW:
        base_store_be32(prefix, (uint32_t)f->raw.len);
        write_n(c, prefix, 4);
        write_n(c, f->raw.p, f->raw.len);
        break;
    case TCP_SILENT:
        /* Until the client gives up (or 5 s pass). */
        while (recv(c, tail, sizeof(tail), 0) > 0)
            ;
        break;
    case TCP_NONE:
        break;
    }
done:
    free(body);
    close(c);
}

static void *
fake_main(void *arg)
{
    fake_kdc *f = arg;

    for (;;) {
        struct pollfd p[3];
        int n = 0, ui = -1, ti = -1;

        p[n++] = (struct pollfd){.fd = f->stop[0], .events = POLLIN};
        if (f->udp_fd >= 0) {
            ui = n;
            p[n++] = (struct pollfd){.fd = f->udp_fd, .events = POLLIN};
        }
        if (f->tm != TCP_NONE) {
            ti = n;
            p[n++] = (struct pollfd){.fd = f->tcp_fd, .events = POLLIN};
        }
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents != 0)
            break;
        if (ui >= 0 && (p[ui].revents & POLLIN))
            handle_udp(f);
        if (ti >= 0 && (p[ti].revents & POLLIN))
            handle_tcp(f);
    }
    return NULL;
}

/* Sets a fake up without starting it: the caller may still fill raw
 * and too_big. */
static void
fake_init(fake_kdc *f, int family, udp_mode um, tcp_mode tm, const msg *reply)
{
    memset(f, 0, sizeof(*f));
    f->family = family;
    f->um = um;
    f->tm = tm;
    f->udp_fd = -1;
    f->tcp_fd = -1;
    if (reply != NULL)
        f->reply = *reply;
}

/* Binds a TCP socket (listening unless TCP_NONE) and, unless UDP_NONE, a
 * UDP socket to the same free port of the loopback address of the fake's
 * family, and starts its thread.  Returns false when the family is not
 * available. */
static bool
fake_run(fake_kdc *f)
{
    int family = f->family;
    udp_mode um = f->um;
    tcp_mode tm = f->tm;

    for (int tries = 0; tries < 50; tries++) {
        struct sockaddr_storage ss;
        socklen_t sl;
        int one = 1;

        memset(&ss, 0, sizeof(ss));
        if (family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            a->sin_family = AF_INET;
            a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            sl = sizeof(*a);
        } else {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            a->sin6_family = AF_INET6;
            a->sin6_addr = in6addr_loopback;
            sl = sizeof(*a);
        }
        f->tcp_fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (f->tcp_fd < 0)
            return false;
        if (family == AF_INET6)
            setsockopt(f->tcp_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
                       sizeof(one));
        if (bind(f->tcp_fd, (struct sockaddr *)&ss, sl) != 0) {
            close(f->tcp_fd);
            return false;
        }
        assert_int_equal(getsockname(f->tcp_fd, (struct sockaddr *)&ss, &sl),
                         0);
        f->port =
            ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
        if (um != UDP_NONE) {
            f->udp_fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            assert_true(f->udp_fd >= 0);
            if (family == AF_INET6)
                setsockopt(f->udp_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
                           sizeof(one));
            if (bind(f->udp_fd, (struct sockaddr *)&ss, sl) != 0) {
                close(f->udp_fd);
                close(f->tcp_fd);
                f->udp_fd = f->tcp_fd = -1;
                continue; /* the UDP port is taken: another port */
            }
        }
        break;
    }
    if (f->tcp_fd < 0)
        fail_msg("no free port for a fake KDC");
    if (tm != TCP_NONE)
        assert_int_equal(listen(f->tcp_fd, 16), 0);
    pthread_mutex_init(&f->lock, NULL);
    assert_int_equal(pipe2(f->stop, O_CLOEXEC), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
    return true;
}

static bool
fake_start(fake_kdc *f, int family, udp_mode um, tcp_mode tm, const msg *reply)
{
    fake_init(f, family, um, tm, reply);
    return fake_run(f);
}

static void
fake_stop(fake_kdc *f)
{
    assert_int_equal(write(f->stop[1], "x", 1), 1);
    pthread_join(f->thread, NULL);
    close(f->stop[0]);
    close(f->stop[1]);
    if (f->udp_fd >= 0)
        close(f->udp_fd);
    close(f->tcp_fd);
    pthread_mutex_destroy(&f->lock);
}

static int
fake_udp(fake_kdc *f)
{
    int n;
    pthread_mutex_lock(&f->lock);
    n = f->udp_reqs;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static int
fake_tcp(fake_kdc *f)
{
    int n;
    pthread_mutex_lock(&f->lock);
    n = f->tcp_reqs;
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* "127.0.0.1:PORT" or "[::1]:PORT". */
static const char *
fake_name(const fake_kdc *f, char *buf, size_t cap)
{
    snprintf(buf, cap, f->family == AF_INET6 ? "[::1]:%u" : "127.0.0.1:%u",
             f->port);
    return buf;
}

/* ---- krb5.conf ------------------------------------------------------- */

/* Writes a krb5.conf with extra [libdefaults] lines and one realm whose
 * kdc lines are given, and points KRB5_CONFIG at it.  A new file every
 * time: MIT's profile library caches a file by name for a second. */
static void
write_krb5_conf_text(const char *text)
{
    static unsigned serial;
    char path[700];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/kdc-%ld-%u.conf", tu_work_dir(),
             (long)getpid(), serial++);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    setenv("KRB5_CONFIG", path, 1);
}

static void
write_krb5_conf(const char *libdefaults, const char *realm,
                const char *kdc_lines)
{
    char text[4096];

    snprintf(text, sizeof(text),
             "[libdefaults]\n"
             "    dns_lookup_kdc = false\n"
             "    dns_lookup_realm = false\n"
             "%s\n"
             "[realms]\n"
             "    %s = {\n%s    }\n",
             libdefaults ? libdefaults : "", realm, kdc_lines);
    write_krb5_conf_text(text);
}

/* Kdc lines for n fakes, in order. */
static void
conf_for(const char *libdefaults, const char *realm, fake_kdc **f, size_t n)
{
    char lines[2048], name[64];
    size_t off = 0;

    lines[0] = '\0';
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(lines + off, sizeof(lines) - off,
                                "        kdc = %s\n",
                                fake_name(f[i], name, sizeof(name)));
    write_krb5_conf(libdefaults, realm, lines);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static kerb_kdc_cfg
cfg_of(unsigned timeout_ms, unsigned attempts, size_t udp_limit)
{
    kerb_kdc_cfg c = {timeout_ms, attempts, udp_limit};
    return c;
}

/* Sends req and asserts the reply is want. */
static void
expect_reply(const char *realm, const msg *req, const kerb_kdc_cfg *cfg,
             const msg *want)
{
    uint8_t *rep = NULL;
    size_t len = 0;

    TU_OK(kerb_kdc_send(realm, req->p, req->len, cfg, &rep, &len));
    if (!msg_eq(want, rep, len))
        fail_msg("reply of %zu bytes is not the expected %zu bytes", len,
                 want->len);
    free(rep);
}

/* ---- log capture ----------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[65536];
static size_t log_len;

static void
log_cb(void *ctx, hsmssp_log_level level, const char *sub, const char *line)
{
    (void)ctx;
    pthread_mutex_lock(&log_lock);
    if (level == HSMSSP_LOG_DEBUG && strcmp(sub, "kerberos") == 0)
        log_len += (size_t)snprintf(log_text + log_len,
                                    sizeof(log_text) - log_len, "%s\n", line);
    if (log_len >= sizeof(log_text))
        log_len = sizeof(log_text) - 1;
    pthread_mutex_unlock(&log_lock);
}

static void
log_reset(void)
{
    pthread_mutex_lock(&log_lock);
    log_len = 0;
    log_text[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

/* Lines of the captured log that contain both needles. */
static int
log_count(const char *a, const char *b)
{
    int n = 0;
    char *copy, *save = NULL;

    pthread_mutex_lock(&log_lock);
    copy = strdup(log_text);
    pthread_mutex_unlock(&log_lock);
    assert_non_null(copy);
    for (char *l = strtok_r(copy, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save))
        if (strstr(l, a) != NULL && (b == NULL || strstr(l, b) != NULL))
            n++;
    free(copy);
    return n;
}

/* ---- cases ----------------------------------------------------------- */

/* A UDP KDC answering a canned KRB-ERROR: the reply is returned as is,
 * exactly one datagram went out, carrying the request, and no TCP. */
static void
test_udp_error_reply(void **state)
{
    msg err = make_error(KERB_KDC_ERR_C_PRINCIPAL_UNKNOWN, "UDP.TEST");
    msg req = make_element(KERB_MSG_AS_REQ, 200, 'q');
    fake_kdc f, *fp = &f;
    kerb_kdc_cfg cfg = cfg_of(1000, 3, 0);

    (void)state;
    fake_start(&f, AF_INET, UDP_REPLY, TCP_REPLY, &err);
    conf_for(NULL, "UDP.TEST", &fp, 1);
    expect_reply("UDP.TEST", &req, &cfg, &err);
    assert_int_equal(fake_udp(&f), 1);
    assert_int_equal(fake_tcp(&f), 0);
    assert_true(msg_eq(&req, f.last_req, f.last_req_len));
    /* cfg NULL: all defaults, same outcome. */
    expect_reply("UDP.TEST", &req, NULL, &err);
    assert_int_equal(fake_udp(&f), 2);
    fake_stop(&f);
    msg_free(&err);
    msg_free(&req);
}

/* RESPONSE_TOO_BIG over UDP: the same KDC is asked over TCP at once and
 * its TCP reply is what the caller gets. */
static void
test_too_big_retries_tcp(void **state)
{
    msg rep = make_element(KERB_MSG_AS_REP, 3000, 'R');
    msg req = make_element(KERB_MSG_AS_REQ, 300, 'q');
    fake_kdc f, other, *fps[2] = {&f, &other};
    kerb_kdc_cfg cfg = cfg_of(1000, 3, 0);

    (void)state;
    fake_init(&f, AF_INET, UDP_TOO_BIG, TCP_REPLY, &rep);
    f.too_big = make_error(KERB_KRB_ERR_RESPONSE_TOO_BIG, "BIG.TEST");
    fake_run(&f);
    /* A second KDC that must not be needed. */
    fake_start(&other, AF_INET, UDP_REPLY, TCP_REPLY, &rep);
    conf_for(NULL, "BIG.TEST", fps, 2);
    log_reset();
    expect_reply("BIG.TEST", &req, &cfg, &rep);
    assert_int_equal(fake_udp(&f), 1);
    assert_int_equal(fake_tcp(&f), 1);
    assert_false(f.bad_tcp_prefix);
    assert_true(msg_eq(&req, f.last_req, f.last_req_len));
    assert_int_equal(fake_udp(&other) + fake_tcp(&other), 0);
    assert_int_equal(log_count("BIG.TEST", "RESPONSE_TOO_BIG"), 1);
    fake_stop(&f);
    fake_stop(&other);
    msg_free(&f.too_big);
    msg_free(&rep);
    msg_free(&req);
}

/* Requests above the UDP limit go straight to TCP: the default 1465, an
 * explicit cfg limit, and krb5.conf's udp_preference_limit. */
static void
test_large_request_uses_tcp(void **state)
{
    msg urep = make_error(KERB_KDC_ERR_PREAUTH_REQUIRED, "TCP.TEST");
    msg trep = make_element(KERB_MSG_AS_REP, 500, 'T');
    msg big = make_element(KERB_MSG_AS_REQ, 1466, 'b');
    msg fits = make_element(KERB_MSG_AS_REQ, 1465, 'f');
    msg small = make_element(KERB_MSG_AS_REQ, 60, 's');
    msg mid = make_element(KERB_MSG_AS_REQ, 200, 'm');
    fake_kdc f, *fp = &f;
    kerb_kdc_cfg dflt = cfg_of(1000, 1, 0), one = cfg_of(1000, 1, 1);
    kerb_kdc_cfg wide = cfg_of(1000, 1, 2000);

    (void)state;
    fake_init(&f, AF_INET, UDP_REPLY, TCP_RAW, &urep);
    f.raw = trep; /* TCP answers with trep, UDP with urep */
    fake_run(&f);
    conf_for(NULL, "TCP.TEST", &fp, 1);

    expect_reply("TCP.TEST", &big, &dflt, &trep);
    assert_int_equal(fake_udp(&f), 0);
    assert_int_equal(fake_tcp(&f), 1);
    assert_true(msg_eq(&big, f.last_req, f.last_req_len));
    /* Exactly at the limit: UDP. */
    expect_reply("TCP.TEST", &fits, &dflt, &urep);
    assert_int_equal(fake_udp(&f), 1);
    /* udp_limit 1: everything over TCP. */
    expect_reply("TCP.TEST", &small, &one, &trep);
    assert_int_equal(fake_tcp(&f), 2);
    assert_int_equal(fake_udp(&f), 1);
    /* An explicit limit above the request: UDP despite its size. */
    expect_reply("TCP.TEST", &big, &wide, &urep);
    assert_int_equal(fake_udp(&f), 2);

    /* krb5.conf's limit when cfg leaves it 0. */
    conf_for("    udp_preference_limit = 100\n", "TCP.TEST", &fp, 1);
    expect_reply("TCP.TEST", &mid, &dflt, &trep);
    assert_int_equal(fake_tcp(&f), 3);
    expect_reply("TCP.TEST", &small, &dflt, &urep);
    assert_int_equal(fake_udp(&f), 3);
    /* ... and cfg's limit wins over it. */
    expect_reply("TCP.TEST", &mid, &wide, &urep);
    assert_int_equal(fake_udp(&f), 4);
    assert_int_equal(fake_tcp(&f), 3);
    /* As MIT: a huge krb5.conf limit is cut to 32700 (a 1466-byte
     * request still fits), a negative one sends everything over TCP. */
    conf_for("    udp_preference_limit = 99999\n", "TCP.TEST", &fp, 1);
    expect_reply("TCP.TEST", &big, &dflt, &urep);
    assert_int_equal(fake_udp(&f), 5);
    conf_for("    udp_preference_limit = -5\n", "TCP.TEST", &fp, 1);
    expect_reply("TCP.TEST", &small, &dflt, &trep);
    assert_int_equal(fake_tcp(&f), 4);
    assert_int_equal(fake_udp(&f), 5);

    fake_stop(&f);
    msg_free(&urep);
    msg_free(&trep);
    msg_free(&big);
    msg_free(&fits);
    msg_free(&small);
    msg_free(&mid);
}

/* The first KDC is down, the second answers: once with nothing
 * listening on the first (refused at once), once with a first KDC that
 * reads UDP and never answers (one timeout), once over TCP with a first
 * KDC that accepts and never answers.  The second is asked after the
 * first, and the whole stays well within its bound. */
static void
test_first_down_second_answers(void **state)
{
    msg rep = make_error(KERB_KDC_ERR_PREAUTH_REQUIRED, "TWO.TEST");
    msg req = make_element(KERB_MSG_AS_REQ, 100, 'q');
    msg big = make_element(KERB_MSG_AS_REQ, 3000, 'B');
    kerb_kdc_cfg cfg = cfg_of(300, 2, 0);
    fake_kdc down, silent, tsilent, good;
    fake_kdc *l1[2] = {&down, &good}, *l2[2] = {&silent, &good};
    fake_kdc *l3[2] = {&tsilent, &good};
    int64_t t0;

    (void)state;
    fake_start(&down, AF_INET, UDP_NONE, TCP_NONE, NULL);
    fake_start(&silent, AF_INET, UDP_SILENT, TCP_SILENT, NULL);
    fake_start(&tsilent, AF_INET, UDP_SILENT, TCP_SILENT, NULL);
    fake_start(&good, AF_INET, UDP_REPLY, TCP_REPLY, &rep);

    conf_for(NULL, "TWO.TEST", l1, 2);
    t0 = mono_ms();
    expect_reply("TWO.TEST", &req, &cfg, &rep);
    assert_true(mono_ms() - t0 < 300 + SLACK_MS);
    assert_int_equal(fake_udp(&good), 1);

    conf_for(NULL, "TWO.TEST", l2, 2);
    t0 = mono_ms();
    expect_reply("TWO.TEST", &req, &cfg, &rep);
    assert_true(mono_ms() - t0 < 300 + SLACK_MS);
    assert_int_equal(fake_udp(&silent), 1);
    assert_int_equal(fake_udp(&good), 2);
    assert_true(silent.last_seq > 0 && silent.last_seq < good.last_seq);
    assert_true(msg_eq(&req, silent.last_req, silent.last_req_len));

    conf_for(NULL, "TWO.TEST", l3, 2);
    t0 = mono_ms();
    expect_reply("TWO.TEST", &big, &cfg, &rep);
    assert_true(mono_ms() - t0 < 300 + SLACK_MS);
    assert_int_equal(fake_tcp(&tsilent), 1);
    assert_int_equal(fake_tcp(&good), 1);
    assert_int_equal(fake_udp(&tsilent), 0);
    assert_true(tsilent.last_seq > 0 && tsilent.last_seq < good.last_seq);

    fake_stop(&down);
    fake_stop(&silent);
    fake_stop(&tsilent);
    fake_stop(&good);
    msg_free(&rep);
    msg_free(&req);
    msg_free(&big);
}

/* The order of first contact: KDCs are asked in krb5.conf order. */
static void
test_order_follows_config(void **state)
{
    msg rep = make_error(KERB_KDC_ERR_PREAUTH_REQUIRED, "ORD.TEST");
    msg req = make_element(KERB_MSG_AS_REQ, 100, 'q');
    kerb_kdc_cfg cfg = cfg_of(200, 1, 0);
    fake_kdc a, b, c, *l[3] = {&b, &a, &c};

    (void)state;
    fake_start(&a, AF_INET, UDP_SILENT, TCP_NONE, NULL);
    fake_start(&b, AF_INET, UDP_SILENT, TCP_NONE, NULL);
    fake_start(&c, AF_INET, UDP_REPLY, TCP_NONE, &rep);
    conf_for(NULL, "ORD.TEST", l, 3);
    expect_reply("ORD.TEST", &req, &cfg, &rep);
    assert_true(b.last_seq > 0);
    assert_true(a.last_seq > b.last_seq);
    assert_true(c.last_seq > a.last_seq);
    fake_stop(&a);
    fake_stop(&b);
    fake_stop(&c);
    msg_free(&rep);
    msg_free(&req);
}

/* Nobody answers: KDC_UNREACHABLE within attempts x KDCs x timeout (plus
 * slack), every silent KDC asked once per round, the detail naming the
 * realm and each KDC, one debug line per failed attempt. */
static void
test_all_down(void **state)
{
    msg req = make_element(KERB_MSG_AS_REQ, 100, 'q');
    kerb_kdc_cfg cfg = cfg_of(150, 2, 0);
    fake_kdc s1, s2, dead, *l[3] = {&s1, &dead, &s2};
    char n1[64], n2[64], n3[64];
    uint8_t *rep = (uint8_t *)1;
    size_t len = 7;
    const char *d;
    int64_t t0, took;

    (void)state;
    fake_start(&s1, AF_INET, UDP_SILENT, TCP_NONE, NULL);
    fake_start(&s2, AF_INET, UDP_SILENT, TCP_NONE, NULL);
    fake_start(&dead, AF_INET, UDP_NONE, TCP_NONE, NULL);
    conf_for(NULL, "DOWN.TEST", l, 3);
    log_reset();
    t0 = mono_ms();
    TU_ERR(kerb_kdc_send("DOWN.TEST", req.p, req.len, &cfg, &rep, &len),
           HSMSSP_ERR_KDC_UNREACHABLE);
    took = mono_ms() - t0;
    assert_null(rep);
    assert_int_equal(len, 0);
    if (took >= 2 * 3 * 150 + SLACK_MS)
        fail_msg("took %lld ms", (long long)took);
    d = hsmssp_last_error_detail();
    assert_non_null(strstr(d, "DOWN.TEST"));
    assert_non_null(strstr(d, fake_name(&s1, n1, sizeof(n1))));
    assert_non_null(strstr(d, fake_name(&s2, n2, sizeof(n2))));
    assert_non_null(strstr(d, fake_name(&dead, n3, sizeof(n3))));
    assert_null(strchr(d, '\n'));
    assert_int_equal(fake_udp(&s1), 2);
    assert_int_equal(fake_udp(&s2), 2);
    assert_int_equal(fake_tcp(&s1) + fake_tcp(&s2), 0);
    /* One line per KDC and round. */
    assert_int_equal(log_count(n1, "no reply within 150 ms"), 2);
    assert_int_equal(log_count(n2, "no reply within 150 ms"), 2);
    assert_int_equal(log_count(n3, "port unreachable"), 2);

    /* A realm without any KDC, DNS off: unreachable at once, saying so. */
    write_krb5_conf(NULL, "OTHER.TEST", "        kdc = 127.0.0.1:1\n");
    TU_ERR(kerb_kdc_send("NONE.TEST", req.p, req.len, &cfg, &rep, &len),
           HSMSSP_ERR_KDC_UNREACHABLE);
    d = hsmssp_last_error_detail();
    assert_non_null(strstr(d, "NONE.TEST"));
    assert_non_null(strstr(d, "dns_lookup_kdc is off"));

    fake_stop(&s1);
    fake_stop(&s2);
    fake_stop(&dead);
    msg_free(&req);
}

/* Replies that are not acceptable count as no answer, over UDP (random
 * bytes, a wrong tag, trailing bytes, the wrong reply type, a KRB-ERROR
 * that does not decode, a TOO_BIG from a KDC whose TCP is refused) and
 * over TCP (an announced length of 2 MiB, the reserved bit, a close
 * before the announced length, garbage): each bad KDC is asked once, in
 * order, and the good one last answers. */
static void
test_bad_replies_are_no_answer(void **state)
{
    msg good = make_element(KERB_MSG_AS_REP, 400, 'G');
    msg req = make_element(KERB_MSG_AS_REQ, 100, 'q');
    msg big = make_element(KERB_MSG_AS_REQ, 2000, 'B');
    msg tgsrep = make_element(KERB_MSG_TGS_REP, 100, 'X');
    msg aprep = make_element(KERB_MSG_AP_REP, 100, 'Y');
    msg trailing, random_bytes, bad_err;
    kerb_kdc_cfg cfg = cfg_of(1000, 1, 0);
    fake_kdc u[7], t[5], *ul[7], *tl[5];
    const char *names_udp[7] = {"random",        "wrong tag",
                                "trailing",      "TGS-REP to AS-REQ",
                                "bad KRB-ERROR", "TOO_BIG, TCP refused",
                                "good"};
    int64_t t0;

    (void)state;
    random_bytes.len = 300;
    random_bytes.p = malloc(300);
    assert_non_null(random_bytes.p);
    tu_fill(random_bytes.p, 300, 7);
    random_bytes.p[0] = 0x6b; /* looks like [APPLICATION 11] ... */
    random_bytes.p[1] = 0x85; /* ... with a 5-byte length: invalid */
    trailing.len = good.len + 1;
    trailing.p = malloc(trailing.len);
    assert_non_null(trailing.p);
    memcpy(trailing.p, good.p, good.len);
    trailing.p[good.len] = 0;
    /* A [APPLICATION 30] element that is not a KRB-ERROR inside. */
    bad_err = make_element(KERB_MSG_ERROR, 60, 'E');

    for (int i = 0; i < 5; i++)
        fake_init(&u[i], AF_INET, UDP_RAW, TCP_NONE, NULL);
    u[0].raw = random_bytes;
    u[1].raw = aprep;
    u[2].raw = trailing;
    u[3].raw = tgsrep;
    u[4].raw = bad_err;
    fake_init(&u[5], AF_INET, UDP_TOO_BIG, TCP_NONE, NULL);
    u[5].too_big = make_error(KERB_KRB_ERR_RESPONSE_TOO_BIG, "BAD.TEST");
    fake_init(&u[6], AF_INET, UDP_REPLY, TCP_NONE, &good);
    for (int i = 0; i < 7; i++) {
        fake_run(&u[i]);
        ul[i] = &u[i];
    }
    conf_for(NULL, "BAD.TEST", ul, 7);
    t0 = mono_ms();
    expect_reply("BAD.TEST", &req, &cfg, &good);
    /* No bad answer waited for a timeout. */
    assert_true(mono_ms() - t0 < 1000 + SLACK_MS);
    for (int i = 0; i < 7; i++) {
        if (fake_udp(&u[i]) != 1)
            fail_msg("KDC '%s' got %d UDP requests", names_udp[i],
                     fake_udp(&u[i]));
        if (i > 0 && u[i].last_seq <= u[i - 1].last_seq)
            fail_msg("KDC '%s' asked out of order", names_udp[i]);
    }

    fake_start(&t[0], AF_INET, UDP_NONE, TCP_OVERSIZE, &good);
    fake_start(&t[1], AF_INET, UDP_NONE, TCP_HIGHBIT, &good);
    fake_start(&t[2], AF_INET, UDP_NONE, TCP_SHORT, &good);
    fake_init(&t[3], AF_INET, UDP_NONE, TCP_RAW, NULL);
    t[3].raw = random_bytes;
    fake_run(&t[3]);
    fake_start(&t[4], AF_INET, UDP_NONE, TCP_REPLY, &good);
    for (int i = 0; i < 5; i++)
        tl[i] = &t[i];
    conf_for(NULL, "BAD.TEST", tl, 5);
    expect_reply("BAD.TEST", &big, &cfg, &good);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fake_tcp(&t[i]), 1);
        if (i > 0)
            assert_true(t[i].last_seq > t[i - 1].last_seq);
    }

    /* Only bad ones: unreachable. */
    conf_for(NULL, "BAD.TEST", tl, 4);
    {
        uint8_t *rep = NULL;
        size_t len = 0;
        TU_ERR(kerb_kdc_send("BAD.TEST", big.p, big.len, &cfg, &rep, &len),
               HSMSSP_ERR_KDC_UNREACHABLE);
        assert_null(rep);
    }

    for (int i = 0; i < 7; i++)
        fake_stop(&u[i]);
    for (int i = 0; i < 5; i++)
        fake_stop(&t[i]);
    msg_free(&u[5].too_big);
    msg_free(&good);
    msg_free(&req);
    msg_free(&big);
    msg_free(&tgsrep);
    msg_free(&aprep);
    msg_free(&trailing);
    msg_free(&random_bytes);
    msg_free(&bad_err);
}

/* A TCP reply arriving in five pieces (the length prefix itself split)
 * is read to its announced length; a TGS-REQ gets its TGS-REP. */
static void
test_tcp_split_reply(void **state)
{
    msg rep = make_element(KERB_MSG_AS_REP, 5000, 'S');
    msg trep = make_element(KERB_MSG_TGS_REP, 4000, 's');
    msg req = make_element(KERB_MSG_AS_REQ, 1600, 'q');
    msg treq = make_element(KERB_MSG_TGS_REQ, 1600, 't');
    kerb_kdc_cfg cfg = cfg_of(2000, 1, 0);
    fake_kdc f, *fp = &f;

    (void)state;
    fake_start(&f, AF_INET, UDP_SILENT, TCP_SPLIT, &rep);
    conf_for(NULL, "SPLIT.TEST", &fp, 1);
    expect_reply("SPLIT.TEST", &req, &cfg, &rep);
    assert_int_equal(fake_tcp(&f), 1);
    assert_int_equal(fake_udp(&f), 0);
    assert_true(msg_eq(&req, f.last_req, f.last_req_len));
    f.reply = trep;
    expect_reply("SPLIT.TEST", &treq, &cfg, &trep);
    assert_true(msg_eq(&treq, f.last_req, f.last_req_len));
    fake_stop(&f);
    msg_free(&rep);
    msg_free(&trep);
    msg_free(&req);
    msg_free(&treq);
}

/* IPv6 loopback, written "[::1]:port", over UDP and TCP; and a host
 * name ("localhost") whose addresses are tried in turn. */
static void
test_ipv6_and_names(void **state)
{
    msg rep = make_error(KERB_KDC_ERR_PREAUTH_REQUIRED, "V6.TEST");
    msg trep = make_element(KERB_MSG_AS_REP, 300, '6');
    msg req = make_element(KERB_MSG_AS_REQ, 100, 'q');
    msg big = make_element(KERB_MSG_AS_REQ, 2000, 'B');
    kerb_kdc_cfg cfg = cfg_of(1000, 1, 0);
    fake_kdc f4, f6, *fp;
    char line[128];

    (void)state;
    fake_start(&f4, AF_INET, UDP_REPLY, TCP_REPLY, &rep);
    snprintf(line, sizeof(line), "        kdc = localhost:%u\n", f4.port);
    write_krb5_conf(NULL, "V6.TEST", line);
    expect_reply("V6.TEST", &req, &cfg, &rep);
    assert_int_equal(fake_udp(&f4), 1);
    fake_stop(&f4);

    fake_init(&f6, AF_INET6, UDP_REPLY, TCP_RAW, &rep);
    f6.raw = trep;
    if (!fake_run(&f6)) {
        msg_free(&rep);
        msg_free(&trep);
        msg_free(&req);
        msg_free(&big);
        skip(); /* no IPv6 on this host: the case says "if available" */
    }
    fp = &f6;
    conf_for(NULL, "V6.TEST", &fp, 1);
    expect_reply("V6.TEST", &req, &cfg, &rep);
    expect_reply("V6.TEST", &big, &cfg, &trep);
    assert_int_equal(fake_udp(&f6), 1);
    assert_int_equal(fake_tcp(&f6), 1);
    assert_true(msg_eq(&big, f6.last_req, f6.last_req_len));
    fake_stop(&f6);
    msg_free(&rep);
    msg_free(&trep);
    msg_free(&req);
    msg_free(&big);
}

/* Argument checks, bad krb5.conf entries, skipped https:// entries. */
static void
test_arguments_and_config(void **state)
{
    msg req = make_element(KERB_MSG_AS_REQ, 100, 'q');
    msg apreq = make_element(KERB_MSG_AP_REQ, 100, 'a');
    kerb_kdc_cfg cfg = cfg_of(200, 1, 0), bad;
    uint8_t *rep = (uint8_t *)1, junk[4] = {0x6a, 0x05, 0, 0};
    uint8_t *huge;
    size_t len = 9;

    (void)state;
    write_krb5_conf(NULL, "ARG.TEST", "        kdc = 127.0.0.1:1\n");
    TU_ERR(kerb_kdc_send(NULL, req.p, req.len, &cfg, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    assert_null(rep);
    assert_int_equal(len, 0);
    TU_ERR(kerb_kdc_send("", req.p, req.len, &cfg, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_kdc_send("A B", req.p, req.len, &cfg, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_kdc_send("A\nB", req.p, req.len, &cfg, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_kdc_send("ARG.TEST", NULL, 10, &cfg, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_kdc_send("ARG.TEST", req.p, 0, &cfg, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_kdc_send("ARG.TEST", req.p, req.len, &cfg, NULL, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_kdc_send("ARG.TEST", req.p, req.len, &cfg, &rep, NULL),
           HSMSSP_ERR_INVALID_ARGUMENT);
    /* Not a KDC request: an AP-REQ, a truncated element, trailing bytes. */
    TU_ERR(kerb_kdc_send("ARG.TEST", apreq.p, apreq.len, &cfg, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_kdc_send("ARG.TEST", junk, sizeof(junk), &cfg, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    TU_ERR(kerb_kdc_send("ARG.TEST", req.p, req.len - 1, &cfg, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    huge = calloc(1, KERB_KDC_MAX_REQUEST + 1);
    assert_non_null(huge);
    TU_ERR(kerb_kdc_send("ARG.TEST", huge, KERB_KDC_MAX_REQUEST + 1, &cfg,
                         &rep, &len),
           HSMSSP_ERR_INPUT_TOO_LARGE);
    free(huge);
    /* cfg out of bounds. */
    bad = cfg_of(10, 1, 0);
    TU_ERR(kerb_kdc_send("ARG.TEST", req.p, req.len, &bad, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    bad = cfg_of(1000, 11, 0);
    TU_ERR(kerb_kdc_send("ARG.TEST", req.p, req.len, &bad, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);
    bad = cfg_of(60001, 1, 0);
    TU_ERR(kerb_kdc_send("ARG.TEST", req.p, req.len, &bad, &rep, &len),
           HSMSSP_ERR_INVALID_ARGUMENT);

    /* krb5.conf entries that do not parse fail the call, naming them. */
    static const char *const bad_entries[] = {"127.0.0.1:notaport",
                                              "127.0.0.1:0",
                                              "127.0.0.1:65536",
                                              "[::1",
                                              "[::1]x",
                                              ":88",
                                              "[]:88"};
    for (size_t i = 0; i < BASE_ARRAY_LEN(bad_entries); i++) {
        char line[128];

        snprintf(line, sizeof(line), "        kdc = %s\n", bad_entries[i]);
        write_krb5_conf(NULL, "ARG.TEST", line);
        TU_ERR(kerb_kdc_send("ARG.TEST", req.p, req.len, &cfg, &rep, &len),
               HSMSSP_ERR_CONFIG);
        if (strstr(hsmssp_last_error_detail(), bad_entries[i]) == NULL)
            fail_msg("detail '%s' does not name '%s'",
                     hsmssp_last_error_detail(), bad_entries[i]);
    }
    /* A malformed udp_preference_limit too. */
    write_krb5_conf("    udp_preference_limit = lots\n", "ARG.TEST",
                    "        kdc = 127.0.0.1:1\n");
    TU_ERR(kerb_kdc_send("ARG.TEST", req.p, req.len, &cfg, &rep, &len),
           HSMSSP_ERR_CONFIG);
    assert_non_null(
        strstr(hsmssp_last_error_detail(), "udp_preference_limit"));
    /* MS-KKDCP entries are skipped: nothing left to ask. */
    write_krb5_conf(NULL, "ARG.TEST",
                    "        kdc = https://proxy.example/KdcProxy\n");
    TU_ERR(kerb_kdc_send("ARG.TEST", req.p, req.len, &cfg, &rep, &len),
           HSMSSP_ERR_KDC_UNREACHABLE);
    assert_null(rep);
    msg_free(&req);
    msg_free(&apreq);
}

/* kerb_kdc_cfg_init: defaults, and the configuration file's values. */
static void
test_cfg_init(void **state)
{
    kerb_kdc_cfg c;
    prov_config *pc = NULL;

    (void)state;
    memset(&c, 0xff, sizeof(c));
    kerb_kdc_cfg_init(&c, NULL);
    assert_int_equal(c.timeout_ms, 1000);
    assert_int_equal(c.attempts, 3);
    assert_int_equal(c.udp_limit, 0);
    TU_OK(prov_config_defaults(&pc));
    pc->kdc_timeout_ms = 250;
    pc->kdc_attempts = 7;
    kerb_kdc_cfg_init(&c, pc);
    assert_int_equal(c.timeout_ms, 250);
    assert_int_equal(c.attempts, 7);
    assert_int_equal(c.udp_limit, 0);
    prov_config_free(pc);
}

/* prov_krb5_realm_read on the profile libkrb5 hands out: the kdc values
 * in order, udp_preference_limit, and MIT's dns_lookup_kdc rule. */
static void
read_realm(const char *text, const char *realm, prov_krb5_realm *r)
{
    krb5_context kc = NULL;
    struct _profile_t *prof = NULL;

    write_krb5_conf_text(text);
    assert_int_equal(krb5_init_context(&kc), 0);
    assert_int_equal(krb5_get_profile(kc, &prof), 0);
    TU_OK(prov_krb5_realm_read(prof, realm, 1465, r));
    prov_krb5_profile_release(prof);
    krb5_free_context(kc);
}

static void
test_krb5_conf_values(void **state)
{
    prov_krb5_realm r;
    krb5_context kc = NULL;
    struct _profile_t *prof = NULL;

    (void)state;
    read_realm("[realms]\n  R.TEST = {\n    kdc = a.example\n"
               "    kdc = b.example:89\n    kdc = [::1]:90\n  }\n"
               "  S.TEST = {\n    kdc = s.example\n  }\n",
               "R.TEST", &r);
    assert_int_equal(r.n_kdcs, 3);
    assert_string_equal(r.kdcs[0], "a.example");
    assert_string_equal(r.kdcs[1], "b.example:89");
    assert_string_equal(r.kdcs[2], "[::1]:90");
    assert_null(r.kdcs[3]);
    assert_int_equal(r.udp_preference_limit, 1465);
    assert_true(r.dns_lookup_kdc); /* MIT's default */
    prov_krb5_realm_free(&r);
    prov_krb5_realm_free(&r); /* twice is harmless */
    prov_krb5_realm_free(NULL);

    /* A realm without a section: an empty list, not an error. */
    read_realm("[libdefaults]\n  udp_preference_limit = 100\n"
               "  dns_fallback = false\n",
               "NONE.TEST", &r);
    assert_int_equal(r.n_kdcs, 0);
    assert_non_null(r.kdcs);
    assert_null(r.kdcs[0]);
    assert_int_equal(r.udp_preference_limit, 100);
    assert_false(r.dns_lookup_kdc); /* dns_fallback decides */
    prov_krb5_realm_free(&r);

    read_realm("[libdefaults]\n  dns_fallback = false\n"
               "  dns_lookup_kdc = yes\n",
               "NONE.TEST", &r);
    assert_true(r.dns_lookup_kdc); /* dns_lookup_kdc wins */
    prov_krb5_realm_free(&r);
    read_realm("[libdefaults]\n  dns_lookup_kdc = perhaps\n", "NONE.TEST", &r);
    assert_false(r.dns_lookup_kdc); /* not a boolean: off, as MIT */
    prov_krb5_realm_free(&r);

    /* A limit that is not a number is an error naming it. */
    write_krb5_conf_text("[libdefaults]\n  udp_preference_limit = lots\n");
    assert_int_equal(krb5_init_context(&kc), 0);
    assert_int_equal(krb5_get_profile(kc, &prof), 0);
    TU_ERR(prov_krb5_realm_read(prof, "R.TEST", 1465, &r), HSMSSP_ERR_CONFIG);
    assert_non_null(
        strstr(hsmssp_last_error_detail(), "udp_preference_limit"));
    prov_krb5_realm_free(&r);
    prov_krb5_profile_release(prof);
    prov_krb5_profile_release(NULL);
    krb5_free_context(kc);
}

/* Several threads share a KDC list at once (no global state). */
typedef struct thr_arg {
    const msg *req, *want;
    int ok;
} thr_arg;

static void *
thr_main(void *p)
{
    thr_arg *a = p;
    kerb_kdc_cfg cfg = {2000, 3, 0};

    for (int i = 0; i < 10; i++) {
        uint8_t *rep = NULL;
        size_t len = 0;

        if (kerb_kdc_send("THR.TEST", a->req->p, a->req->len, &cfg, &rep,
                          &len) == HSMSSP_OK &&
            msg_eq(a->want, rep, len))
            a->ok++;
        free(rep);
    }
    return NULL;
}

static void
test_threads(void **state)
{
    msg rep = make_error(KERB_KDC_ERR_PREAUTH_REQUIRED, "THR.TEST");
    msg req = make_element(KERB_MSG_AS_REQ, 100, 'q');
    msg big = make_element(KERB_MSG_AS_REQ, 2000, 'B');
    fake_kdc f, *fp = &f;
    pthread_t th[4];
    thr_arg args[4];

    (void)state;
    fake_start(&f, AF_INET, UDP_REPLY, TCP_REPLY, &rep);
    conf_for(NULL, "THR.TEST", &fp, 1);
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){i % 2 ? &big : &req, &rep, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thr_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 10);
    }
    /* At least one request per call (a retry on a loaded machine may
     * add some). */
    assert_true(fake_udp(&f) >= 20);
    assert_true(fake_tcp(&f) >= 20);
    fake_stop(&f);
    msg_free(&rep);
    msg_free(&req);
    msg_free(&big);
}

/* ---- DNS SRV --------------------------------------------------------- */

/* A DNS answer builder: header, then bytes appended. */
typedef struct dnsbuf {
    uint8_t b[1024];
    size_t n;
} dnsbuf;

static void
put(dnsbuf *d, const void *p, size_t n)
{
    assert_true(d->n + n <= sizeof(d->b));
    memcpy(d->b + d->n, p, n);
    d->n += n;
}

static void
put16(dnsbuf *d, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(d, b, 2);
}

/* A name in labels ("a.b" -> 1a1b0). */
static void
put_name(dnsbuf *d, const char *name)
{
    while (*name != '\0') {
        size_t l = strcspn(name, ".");
        uint8_t len = (uint8_t)l;
        put(d, &len, 1);
        put(d, name, l);
        name += l;
        if (*name == '.')
            name++;
    }
    put(d, "", 1);
}

/* An SRV record with owner = pointer to the question name (offset 12). */
static void
put_srv(dnsbuf *d, unsigned prio, unsigned weight, unsigned port,
        const char *target, bool compress_target)
{
    size_t rdlen_at;

    put16(d, 0xc00c);
    put16(d, 33);
    put16(d, 1);
    put16(d, 0);
    put16(d, 300); /* TTL */
    rdlen_at = d->n;
    put16(d, 0);
    put16(d, prio);
    put16(d, weight);
    put16(d, port);
    if (compress_target) {
        /* "kdc9." + pointer to the question name's "HSMSSP.TEST" part
         * (offset 12 + 10 + 5 = 27: after "_kerberos" and "_udp"). */
        put(d, "\x04kdc9", 5);
        put16(d, 0xc000 | 27);
    } else {
        put_name(d, target);
    }
    d->b[rdlen_at] = (uint8_t)((d->n - rdlen_at - 2) >> 8);
    d->b[rdlen_at + 1] = (uint8_t)(d->n - rdlen_at - 2);
}

static void
build_answer(dnsbuf *d, unsigned rcode)
{
    memset(d, 0, sizeof(*d));
    put16(d, 0x1234);         /* id */
    put16(d, 0x8180 | rcode); /* QR, RD, RA */
    put16(d, 1);              /* QDCOUNT */
    put16(d, 6);              /* ANCOUNT */
    put16(d, 0);
    put16(d, 0);
    put_name(d, "_kerberos._udp.HSMSSP.TEST");
    put16(d, 33);
    put16(d, 1);
    put_srv(d, 10, 5, 88, "kdc1.example", false);
    put_srv(d, 0, 0, 750, "kdc2.example", false);
    /* An A record among them: skipped. */
    put16(d, 0xc00c);
    put16(d, 1);
    put16(d, 1);
    put16(d, 0);
    put16(d, 300);
    put16(d, 4);
    put(d, "\x7f\x00\x00\x01", 4);
    /* Target "." : the service is not offered there. */
    put_srv(d, 1, 1, 88, "", false);
    put_srv(d, 20, 1, 1088, NULL, true);
    put_srv(d, 10, 1, 88, "kdc3.example", false);
}

static void
test_srv_parse(void **state)
{
    dnsbuf d;
    kerb_kdc_srv srv[8];
    size_t n = 99;

    (void)state;
    build_answer(&d, 0);
    TU_OK(kerb_kdc_srv_parse(d.b, d.n, srv, 8, &n));
    assert_int_equal(n, 4);
    assert_string_equal(srv[0].target, "kdc1.example");
    assert_int_equal(srv[0].priority, 10);
    assert_int_equal(srv[0].weight, 5);
    assert_int_equal(srv[0].port, 88);
    assert_string_equal(srv[1].target, "kdc2.example");
    assert_int_equal(srv[1].port, 750);
    assert_string_equal(srv[2].target, "kdc9.HSMSSP.TEST");
    assert_int_equal(srv[2].priority, 20);
    assert_int_equal(srv[2].port, 1088);
    assert_string_equal(srv[3].target, "kdc3.example");
    /* max bounds the output. */
    TU_OK(kerb_kdc_srv_parse(d.b, d.n, srv, 2, &n));
    assert_int_equal(n, 2);
    /* Every truncation is refused, and never read past. */
    for (size_t cut = 0; cut < d.n; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, d.b, cut);
        if (kerb_kdc_srv_parse(copy, cut, srv, 8, &n) != HSMSSP_ERR_BAD_TOKEN)
            fail_msg("a cut at %zu bytes was accepted", cut);
        free(copy);
    }
    /* A query (QR clear) is not an answer. */
    d.b[2] &= 0x7f;
    TU_ERR(kerb_kdc_srv_parse(d.b, d.n, srv, 8, &n), HSMSSP_ERR_BAD_TOKEN);
    /* NXDOMAIN: no records, no error. */
    build_answer(&d, 3);
    TU_OK(kerb_kdc_srv_parse(d.b, d.n, srv, 8, &n));
    assert_int_equal(n, 0);
    /* A target that overruns its record's data. */
    build_answer(&d, 0);
    d.b[12 + 28 + 4 + 10 + 1] += 1; /* first SRV's RDLENGTH low byte */
    TU_ERR(kerb_kdc_srv_parse(d.b, d.n, srv, 8, &n), HSMSSP_ERR_BAD_TOKEN);
}

static uint32_t
const_rnd(void *arg)
{
    return *(uint32_t *)arg;
}

/* A fixed-seed LCG: a deterministic "random" sequence. */
static uint32_t
lcg_rnd(void *arg)
{
    uint32_t *s = arg;
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void
srv_set(kerb_kdc_srv *s, const char *t, unsigned prio, unsigned weight)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->target, sizeof(s->target), "%s", t);
    s->priority = (uint16_t)prio;
    s->weight = (uint16_t)weight;
    s->port = 88;
}

static void
test_srv_order(void **state)
{
    kerb_kdc_srv s[5];
    uint32_t v, seed = 12345;
    int heavy_first = 0;

    (void)state;
    /* Priority first, whatever the weights. */
    srv_set(&s[0], "p3", 3, 100);
    srv_set(&s[1], "p1", 1, 0);
    srv_set(&s[2], "p2", 2, 50);
    kerb_kdc_srv_order(s, 3, NULL, NULL);
    assert_string_equal(s[0].target, "p1");
    assert_string_equal(s[1].target, "p2");
    assert_string_equal(s[2].target, "p3");

    /* Draw 0: the running sum starts with the weight-0 record. */
    srv_set(&s[0], "w90", 1, 90);
    srv_set(&s[1], "w10", 1, 10);
    srv_set(&s[2], "w0", 1, 0);
    srv_set(&s[3], "late", 2, 0);
    v = 0;
    kerb_kdc_srv_order(s, 4, const_rnd, &v);
    assert_string_equal(s[0].target, "w0");
    assert_string_equal(s[1].target, "w90");
    assert_string_equal(s[2].target, "w10");
    assert_string_equal(s[3].target, "late");
    /* Draw 100 of [0, 100]: the last of the running sum (w10 comes
     * second in the group order w0, w90, w10); then 100 % 91 = 9 of
     * [0, 90]: w90; then w0. */
    srv_set(&s[0], "w90", 1, 90);
    srv_set(&s[1], "w10", 1, 10);
    srv_set(&s[2], "w0", 1, 0);
    v = 100;
    kerb_kdc_srv_order(s, 3, const_rnd, &v);
    assert_string_equal(s[0].target, "w10");
    assert_string_equal(s[1].target, "w90");
    assert_string_equal(s[2].target, "w0");

    /* Over many draws the weight 90 record comes first about 90% of the
     * time (exactly 90/101 + ...: the draw is in [0, 100]). */
    for (int i = 0; i < 2000; i++) {
        srv_set(&s[0], "w10", 1, 10);
        srv_set(&s[1], "w90", 1, 90);
        kerb_kdc_srv_order(s, 2, lcg_rnd, &seed);
        if (strcmp(s[0].target, "w90") == 0)
            heavy_first++;
    }
    assert_true(heavy_first > 1600 && heavy_first < 1940);
    /* Empty and single lists are fine. */
    kerb_kdc_srv_order(s, 0, NULL, NULL);
    srv_set(&s[0], "only", 7, 0);
    kerb_kdc_srv_order(s, 1, NULL, NULL);
    assert_string_equal(s[0].target, "only");
    assert_int_equal(s[0].priority, 7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_error_reply),
        cmocka_unit_test(test_too_big_retries_tcp),
        cmocka_unit_test(test_large_request_uses_tcp),
        cmocka_unit_test(test_first_down_second_answers),
        cmocka_unit_test(test_order_follows_config),
        cmocka_unit_test(test_all_down),
        cmocka_unit_test(test_bad_replies_are_no_answer),
        cmocka_unit_test(test_tcp_split_reply),
        cmocka_unit_test(test_ipv6_and_names),
        cmocka_unit_test(test_arguments_and_config),
        cmocka_unit_test(test_cfg_init),
        cmocka_unit_test(test_krb5_conf_values),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_srv_parse),
        cmocka_unit_test(test_srv_order),
    };

    hsmssp_set_log_callback(log_cb, NULL, HSMSSP_LOG_DEBUG);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
