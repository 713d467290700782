/*
 * provider/kerberos/kerb_kdc.c - sending one request to a realm's KDCs
 * (RFC 4120 sec. 7.2).  The contract is in kerb_kdc.h, the operator's
 * view in docs/kdc.md.
 *
 * Shape of a call:
 *
 *   1. check the arguments: the request must be one AS-REQ or TGS-REQ
 *      element, which also tells which reply tag to accept;
 *   2. read the Kerberos configuration through a libkrb5 context of the
 *      call's own (so KRB5_CONFIG and its secure_getenv rules are MIT's):
 *      the realm's kdc entries, udp_preference_limit, dns_lookup_kdc;
 *      when the realm lists no KDC and DNS is allowed, ask for SRV
 *      records with a resolver state of the call's own (res_nquery);
 *   3. walk the list `attempts` times; each KDC name is resolved
 *      (getaddrinfo) when first reached, and each of its addresses gets
 *      one attempt over UDP or TCP bounded by timeout_ms; the first
 *      acceptable reply ends the call.
 *
 * The attempts are sequential, not overlapped as MIT's sendto_kdc does
 * them: the worst case stays a simple product that an operator can set
 * (kdc_timeout_ms x kdc_attempts x addresses), and a dead first KDC costs
 * one timeout per round.
 *
 * Why "anything else is no answer": a KDC reply travels unauthenticated
 * over UDP, so a stray or forged datagram, a confused middlebox or a
 * server that is not a KDC must not end the exchange with garbage the
 * caller then fails to parse.  Only a well-formed element with a tag the
 * caller can act on counts; everything else moves on to the next KDC.
 * Forgery of a well-formed reply is the caller's concern (the AS-REP and
 * TGS-REP are authenticated by their encrypted parts; a KRB-ERROR is not,
 * as RFC 4120 sec. 10 notes).
 *
 * Nothing here is secret: requests and replies are what the wire
 * carries, so buffers are ordinary heap and the log may name hosts,
 * addresses and error codes.
 */
#include <arpa/nameser.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* <krb5.h> finds and parses krb5.conf; the tree is read through
 * provider/config.c, the one home of <profile.h> (STYLE sec. 1). */
#include <krb5.h>

#include "provider/kerberos/kerb_asn1.h"
#include "provider/kerberos/kerb_kdc.h"

#define LOG_SUBSYS "kerberos"

/* Largest UDP payload (65535 - 8-byte UDP header - 20-byte IPv4
 * header); one byte more lets recv() tell an oversized datagram apart. */
#define UDP_BUF (65507u + 1u)

/* The DNS answer buffer.  SRV answers for a realm are a few hundred
 * bytes; res_nquery reports a larger answer's length and we parse what
 * fits (the parser refuses a cut record). */
#define DNS_BUF 8192

/* The detail of HSMSSP_ERR_KDC_UNREACHABLE fits in base/err.c's 512-byte
 * line; the KDC list inside it is cut with "..." at this length. */
#define NAMES_CAP 320

/* RFC 4120 sec. 7.2.2: the high bit of the TCP length is reserved. */
#define TCP_LEN_RESERVED 0x80000000u

/* One KDC as the configuration or DNS names it. */
typedef struct kdc_entry {
    char host[256];    /* name or address text, without brackets */
    uint16_t udp_port; /* 0: not offered over UDP (a _tcp SRV record) */
    uint16_t tcp_port; /* 0: not offered over TCP (a _udp SRV record) */
    bool resolved;     /* getaddrinfo has run (once per call) */
    bool unresolvable; /* ... and failed */
    bool skipped;      /* never attempted: TCP needed, none offered */
    size_t n_addrs;
    struct sockaddr_storage addr[KERB_KDC_MAX_ADDRS];
    socklen_t addr_len[KERB_KDC_MAX_ADDRS];
} kdc_entry;

/* Everything one call needs; lives on the caller's stack, buffers on
 * the heap. */
typedef struct xfer {
    const char *realm;
    const uint8_t *req;
    size_t len;
    unsigned rep_tag; /* [APPLICATION 11] or [APPLICATION 13] */
    unsigned timeout_ms;
    unsigned attempts;
    size_t udp_limit;
    bool dns;        /* dns_lookup_kdc */
    kdc_entry *kdcs; /* n_kdcs used of cap_kdcs, at most KERB_KDC_MAX_KDCS */
    size_t n_kdcs, cap_kdcs;
    bool nomem;      /* add_kdc could not grow kdcs: the call fails */
    uint8_t *udp_buf; /* UDP_BUF bytes, allocated at the first use */
} xfer;

/* The outcome of one attempt: a reply, or a reason for the log. */
typedef struct attempt {
    uint8_t *rep; /* malloc'ed, exactly rep_len bytes */
    size_t rep_len;
    int32_t krb_error; /* KRB-ERROR code, or -1 for another reply */
    char why[160];     /* set when rep is NULL */
} attempt;

/* ---- small helpers ---------------------------------------------------- */

/* Milliseconds on the monotonic clock: deadlines must not move when an
 * administrator or NTP steps the wall clock (which Kerberos hosts do,
 * precisely because of clock skew). */
static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* DNS fields are big-endian 16-bit (RFC 1035 sec. 4.1). */
static uint16_t
load_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* Waits until fd is ready for events or the deadline passes.  Returns 1
 * when ready (an error condition counts: the next call on the socket
 * reports it), 0 at the deadline, -1 on a poll failure.  EINTR restarts
 * with the time that is left, so a signal never stretches an attempt. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = events};
        int r;

        if (left <= 0)
            return 0;
        r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r > 0)
            return 1;
    }
}

/* "host:port" for a configured name, "[v6]:port" when the host text has
 * a colon.  port 0 prints the host alone. */
static void
format_hostport(char *buf, size_t cap, const char *host, unsigned port)
{
    bool v6 = strchr(host, ':') != NULL;

    if (port == 0)
        snprintf(buf, cap, "%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "");
    else
        snprintf(buf, cap, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
                 port);
}

/* The name of a KDC in messages: as configured, and for an SRV-derived
 * entry whose transports differ, both ports. */
static void
entry_name(const kdc_entry *k, char *buf, size_t cap)
{
    char hp[272]; /* "[" 255 bytes "]:65535" */

    if (k->udp_port != 0 && k->tcp_port != 0 && k->udp_port != k->tcp_port) {
        format_hostport(hp, sizeof(hp), k->host, 0);
        snprintf(buf, cap, "%s (udp %u, tcp %u)", hp, k->udp_port,
                 k->tcp_port);
    } else if (k->udp_port == 0) {
        format_hostport(hp, sizeof(hp), k->host, k->tcp_port);
        snprintf(buf, cap, "%s (tcp only)", hp);
    } else {
        format_hostport(buf, cap, k->host, k->udp_port);
        if (k->tcp_port == 0) {
            size_t n = strlen(buf);
            snprintf(buf + n, cap - n, " (udp only)");
        }
    }
}

/* A numeric address with its port, for the log. */
static void
addr_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t cap)
{
    /* Numeric only: an IPv6 address with a scope fits in 64. */
    char host[64], serv[8];

    if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(buf, cap, "?");
    else if (sa->sa_family == AF_INET6)
        snprintf(buf, cap, "[%s]:%s", host, serv);
    else
        snprintf(buf, cap, "%s:%s", host, serv);
}

/* The port is set per attempt, not at resolution: one address serves
 * UDP and TCP, and an SRV-derived KDC may use a different port for
 * each. */
static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)(void *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons(port);
}

/* ---- replies ---------------------------------------------------------- */

/* Decides whether p[0..n) is a reply the caller can act on (see the
 * header).  On acceptance *krb_error_out is the KRB-ERROR code, or -1
 * for an AS-REP/TGS-REP; otherwise a reason goes to why.  The checks
 * cost one linear walk of the bytes (base_der_check) plus, for a
 * KRB-ERROR, its decoder: KRB-ERRORs are what this function must read
 * anyway (RESPONSE_TOO_BIG), and one that does not decode is of no use
 * to the caller either. */
static bool
reply_ok(const xfer *x, const uint8_t *p, size_t n, int32_t *krb_error_out,
         char *why, size_t cap)
{
    base_der in = base_der_view(p, n), whole;
    unsigned tag;
    kerb_error e;

    *krb_error_out = -1;
    if (n > KERB_KDC_MAX_REPLY) {
        snprintf(why, cap, "reply of %zu bytes exceeds the %u-byte limit", n,
                 KERB_KDC_MAX_REPLY);
        return false;
    }
    if (base_der_get_any(&in, &tag, NULL, &whole) != HSMSSP_OK ||
        base_der_end(&in) != HSMSSP_OK) {
        snprintf(why, cap, "reply of %zu bytes is not one DER element", n);
        return false;
    }
    if (tag != x->rep_tag && tag != BASE_DER_APP(KERB_MSG_ERROR)) {
        snprintf(
            why, cap, "reply is not a %s or KRB-ERROR (identifier 0x%02x)",
            x->rep_tag == BASE_DER_APP(KERB_MSG_AS_REP) ? "AS-REP" : "TGS-REP",
            tag);
        return false;
    }
    if (base_der_check(whole, KERB_ASN1_MAX_DEPTH) != HSMSSP_OK) {
        snprintf(why, cap, "reply is malformed DER");
        return false;
    }
    if (tag == BASE_DER_APP(KERB_MSG_ERROR)) {
        if (kerb_dec_error(whole, &e) != HSMSSP_OK) {
            snprintf(why, cap, "KRB-ERROR does not decode");
            return false;
        }
        *krb_error_out = e.code;
    }
    return true;
}

/* Moves an accepted reply into a->rep, exactly sized. */
static hsmssp_err
keep_reply(attempt *a, const uint8_t *p, size_t n)
{
    a->rep = malloc(n);
    if (a->rep == NULL)
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    memcpy(a->rep, p, n);
    a->rep_len = n;
    return HSMSSP_OK;
}

/* ---- UDP (RFC 4120 sec. 7.2.1) ---------------------------------------- */

/* One datagram out, at most one in.  The socket is connect()ed, so the
 * kernel drops datagrams from any other source and reports an ICMP port
 * unreachable as ECONNREFUSED (a KDC that is down fails fast).  A
 * datagram that is not an acceptable reply ends the attempt at once
 * rather than waiting out the timeout for a better one: it is the KDC's
 * answer, and it is unusable.  Returns an error only for NOMEM; a KDC
 * failure leaves a->rep NULL with a->why set. */
static hsmssp_err
udp_attempt(xfer *x, const struct sockaddr *sa, socklen_t salen, attempt *a)
{
    int64_t deadline = now_ms() + x->timeout_ms;
    hsmssp_err ret = HSMSSP_OK;
    int fd = -1;
    ssize_t r;

    if (x->udp_buf == NULL) {
        x->udp_buf = malloc(UDP_BUF);
        if (x->udp_buf == NULL) {
            ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
            goto cleanup;
        }
    }
    fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, sa, salen) != 0) {
        snprintf(a->why, sizeof(a->why), "socket: %s", strerror(errno));
        goto cleanup;
    }
    for (;;) {
        r = send(fd, x->req, x->len, MSG_NOSIGNAL);
        if (r >= 0 || (errno != EINTR && errno != EAGAIN))
            break;
        if (errno == EAGAIN && wait_fd(fd, POLLOUT, deadline) != 1) {
            snprintf(a->why, sizeof(a->why), "send timed out");
            goto cleanup;
        }
    }
    if (r < 0 || (size_t)r != x->len) {
        snprintf(a->why, sizeof(a->why), "send: %s",
                 r < 0 ? strerror(errno) : "short datagram");
        goto cleanup;
    }
    for (;;) {
        int w = wait_fd(fd, POLLIN, deadline);

        if (w == 0) {
            snprintf(a->why, sizeof(a->why), "no reply within %u ms",
                     x->timeout_ms);
            goto cleanup;
        }
        if (w < 0) {
            snprintf(a->why, sizeof(a->why), "poll: %s", strerror(errno));
            goto cleanup;
        }
        /* MSG_TRUNC: r is the datagram's real length even when it did
         * not fit, so an oversized one is recognised, not cut. */
        r = recv(fd, x->udp_buf, UDP_BUF, MSG_TRUNC);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        break;
    }
    if (r < 0) {
        snprintf(a->why, sizeof(a->why), "%s",
                 errno == ECONNREFUSED ? "port unreachable" : strerror(errno));
        goto cleanup;
    }
    if ((size_t)r >= UDP_BUF) {
        snprintf(a->why, sizeof(a->why), "datagram of %zd bytes too large", r);
        goto cleanup;
    }
    if (!reply_ok(x, x->udp_buf, (size_t)r, &a->krb_error, a->why,
                  sizeof(a->why)))
        goto cleanup;
    ret = keep_reply(a, x->udp_buf, (size_t)r);

cleanup:
    if (fd >= 0)
        close(fd);
    return ret;
}

/* ---- TCP (RFC 4120 sec. 7.2.2) ---------------------------------------- */

/* Sends the 4-byte big-endian length and the request.  One sendmsg with
 * two iovecs, so that the prefix and the request leave together (two
 * writes would meet Nagle and delayed ACKs for ~40 ms); a partial send
 * advances through the iovecs and waits for room until the deadline.
 * Returns false with why set on failure. */
static bool
tcp_send_all(int fd, const xfer *x, int64_t deadline, char *why, size_t cap)
{
    uint8_t prefix[4];
    struct iovec iov[2];
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

    base_store_be32(prefix, (uint32_t)x->len);
    iov[0].iov_base = prefix;
    iov[0].iov_len = sizeof(prefix);
    iov[1].iov_base = (void *)(uintptr_t)x->req;
    iov[1].iov_len = x->len;
    while (mh.msg_iovlen > 0) {
        ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);
        size_t done;

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) {
            if (wait_fd(fd, POLLOUT, deadline) != 1) {
                snprintf(why, cap, "send timed out");
                return false;
            }
            continue;
        }
        if (r < 0) {
            snprintf(why, cap, "send: %s", strerror(errno));
            return false;
        }
        done = (size_t)r;
        while (mh.msg_iovlen > 0 && done >= mh.msg_iov[0].iov_len) {
            done -= mh.msg_iov[0].iov_len;
            mh.msg_iov++;
            mh.msg_iovlen--;
        }
        if (mh.msg_iovlen > 0) {
            mh.msg_iov[0].iov_base = (uint8_t *)mh.msg_iov[0].iov_base + done;
            mh.msg_iov[0].iov_len -= done;
        }
    }
    return true;
}

/* Reads exactly n bytes, in as many segments as the KDC sends them,
 * until the deadline.  Returns false with why set on timeout, error or
 * an early close. */
static bool
tcp_read_full(int fd, uint8_t *p, size_t n, int64_t deadline, char *why,
              size_t cap)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = recv(fd, p + got, n - got, 0);

        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0) {
            snprintf(why, cap, "connection closed after %zu of %zu bytes", got,
                     n);
            return false;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            snprintf(why, cap, "recv: %s", strerror(errno));
            return false;
        }
        if (wait_fd(fd, POLLIN, deadline) != 1) {
            snprintf(why, cap, "reply incomplete (%zu of %zu bytes)", got, n);
            return false;
        }
    }
    return true;
}

/* Connect, send, read the length and then exactly that many bytes, all
 * within one timeout.  The announced length is checked before anything
 * is allocated: a KDC (or whatever answers on its port) cannot make us
 * reserve more than KERB_KDC_MAX_REPLY.  Returns an error only for
 * NOMEM. */
static hsmssp_err
tcp_attempt(xfer *x, const struct sockaddr *sa, socklen_t salen, attempt *a)
{
    int64_t deadline = now_ms() + x->timeout_ms;
    uint8_t prefix[4], *buf = NULL;
    hsmssp_err ret = HSMSSP_OK;
    socklen_t elen = sizeof(int);
    uint32_t n;
    int fd = -1, soerr = 0, w;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(a->why, sizeof(a->why), "socket: %s", strerror(errno));
        goto cleanup;
    }
    if (connect(fd, sa, salen) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            snprintf(a->why, sizeof(a->why), "connect: %s", strerror(errno));
            goto cleanup;
        }
        w = wait_fd(fd, POLLOUT, deadline);
        if (w != 1) {
            snprintf(a->why, sizeof(a->why), "connect: %s",
                     w == 0 ? "timed out" : strerror(errno));
            goto cleanup;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0)
            soerr = errno;
        if (soerr != 0) {
            snprintf(a->why, sizeof(a->why), "connect: %s", strerror(soerr));
            goto cleanup;
        }
    }
    if (!tcp_send_all(fd, x, deadline, a->why, sizeof(a->why)))
        goto cleanup;
    if (!tcp_read_full(fd, prefix, sizeof(prefix), deadline, a->why,
                       sizeof(a->why)))
        goto cleanup;
    n = base_load_be32(prefix);
    if ((n & TCP_LEN_RESERVED) != 0 || n == 0 || n > KERB_KDC_MAX_REPLY) {
        snprintf(a->why, sizeof(a->why),
                 "announced reply length %" PRIu32 " is %s", n,
                 (n & TCP_LEN_RESERVED) ? "reserved (high bit set)"
                 : n == 0               ? "empty"
                                        : "above the limit");
        goto cleanup;
    }
    buf = malloc(n);
    if (buf == NULL) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    if (!tcp_read_full(fd, buf, n, deadline, a->why, sizeof(a->why)))
        goto cleanup;
    if (!reply_ok(x, buf, n, &a->krb_error, a->why, sizeof(a->why)))
        goto cleanup;
    a->rep = buf;
    a->rep_len = n;
    buf = NULL;

cleanup:
    free(buf);
    if (fd >= 0)
        close(fd);
    return ret;
}

/* ---- the KDC list from krb5.conf -------------------------------------- */

/* Decimal port 1..65535, nothing else. */
static bool
parse_port(const char *s, uint16_t *out)
{
    unsigned long v = 0;

    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 65535)
            return false;
    }
    if (v == 0)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* MIT's forms of a kdc value: "host", "host:port", "[addr]",
 * "[addr]:port", or an IPv6 address without brackets (more than one
 * colon, so no port).  Blanks and control characters are refused: they
 * cannot be part of a host name and would only make log lines lie. */
static bool
parse_host_spec(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *h = s, *end, *colon, *rest = "";
    size_t n;

    *port = KERB_KDC_PORT;
    for (const char *c = s; *c != '\0'; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return false;
    if (*s == '[') {
        h = s + 1;
        end = strchr(h, ']');
        if (end == NULL)
            return false;
        rest = end + 1;
        if (*rest == ':')
            rest++;
        else if (*rest != '\0')
            return false;
        else
            rest = NULL;
    } else {
        colon = strchr(s, ':');
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            end = colon;
            rest = colon + 1;
        } else {
            end = s + strlen(s);
            rest = NULL;
        }
    }
    n = (size_t)(end - h);
    if (n == 0 || n >= cap)
        return false;
    if (rest != NULL && !parse_port(rest, port))
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    return true;
}

/* Appends a KDC, or merges transports into an entry of the same host
 * (a _udp and a _tcp SRV record for one target become one KDC, so that
 * RESPONSE_TOO_BIG can go back to the same machine over TCP).  Records of
 * one transport for the same host on different ports are different KDCs;
 * a record of the other transport joins the entry on its own port if
 * there is one, else the first that lacks that transport; a record
 * repeating a transport and port adds nothing. */
static void
add_kdc(xfer *x, const char *host, uint16_t udp_port, uint16_t tcp_port,
        bool merge)
{
    kdc_entry *k, *into = NULL;

    if (merge) {
        for (size_t i = 0; i < x->n_kdcs; i++) {
            bool fits, same_port;

            k = &x->kdcs[i];
            if (strcasecmp(k->host, host) != 0)
                continue;
            if ((udp_port != 0 && k->udp_port == udp_port) ||
                (tcp_port != 0 && k->tcp_port == tcp_port))
                return;
            fits = (udp_port == 0 || k->udp_port == 0) &&
                   (tcp_port == 0 || k->tcp_port == 0);
            if (!fits)
                continue;
            same_port = (udp_port != 0 && k->tcp_port == udp_port) ||
                        (tcp_port != 0 && k->udp_port == tcp_port);
            if (into == NULL || same_port)
                into = k;
            if (same_port)
                break;
        }
        if (into != NULL) {
            if (into->udp_port == 0)
                into->udp_port = udp_port;
            if (into->tcp_port == 0)
                into->tcp_port = tcp_port;
            return;
        }
    }
    if (x->n_kdcs == KERB_KDC_MAX_KDCS) {
        base_log(HSMSSP_LOG_DEBUG, LOG_SUBSYS,
                 "realm %s: more than %u KDCs; %s ignored", x->realm,
                 KERB_KDC_MAX_KDCS, host);
        return;
    }
    /* Slots grow as KDCs come (an entry is about 1.3 KB with its
     * addresses; most realms name one to three). */
    if (x->n_kdcs == x->cap_kdcs) {
        size_t nc = x->cap_kdcs == 0 ? 2 : 2 * x->cap_kdcs;
        kdc_entry *nk;

        if (nc > KERB_KDC_MAX_KDCS)
            nc = KERB_KDC_MAX_KDCS;
        nk = realloc(x->kdcs, nc * sizeof(*nk));
        if (nk == NULL) {
            x->nomem = true;
            return;
        }
        x->kdcs = nk;
        x->cap_kdcs = nc;
    }
    k = &x->kdcs[x->n_kdcs++];
    memset(k, 0, sizeof(*k));
    snprintf(k->host, sizeof(k->host), "%s", host);
    k->udp_port = udp_port;
    k->tcp_port = tcp_port;
}

/* True when a KDC of host has UDP port and no TCP port yet. */
static bool
udp_twin(const xfer *x, const char *host, uint16_t port)
{
    for (size_t i = 0; i < x->n_kdcs; i++)
        if (strcasecmp(x->kdcs[i].host, host) == 0 &&
            x->kdcs[i].udp_port == port && x->kdcs[i].tcp_port == 0)
            return true;
    return false;
}

/* Step 2: [realms] REALM kdc, udp_preference_limit, dns_lookup_kdc.  A
 * libkrb5 context per call: contexts are not to be shared between
 * threads, and a fresh one sees an edited krb5.conf.  A kdc entry that
 * does not parse fails the call (as it fails MIT's library), naming the
 * entry, rather than silently shrinking the list. */
static hsmssp_err
read_krb5_conf(xfer *x, bool want_udp_limit)
{
    krb5_context kc = NULL;
    struct _profile_t *prof = NULL;
    prov_krb5_realm rc = {0};
    hsmssp_err ret = HSMSSP_OK;
    char host[256];
    uint16_t port;
    long code;

    code = krb5_init_context(&kc);
    if (code == 0)
        code = krb5_get_profile(kc, &prof);
    if (code != 0) {
        ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                       "the Kerberos configuration cannot be read: %s",
                       error_message(code));
        goto cleanup;
    }
    ret = prov_krb5_realm_read(prof, x->realm, (int)KERB_KDC_DEFAULT_UDP_LIMIT,
                               &rc);
    if (ret != HSMSSP_OK)
        goto cleanup;
    /* The configured order is the order of attempts: MIT walks the
     * list in file order too, and operators put the nearest KDC first.
     * A name listed twice is asked twice. */
    for (size_t i = 0; i < rc.n_kdcs; i++) {
        const char *v = rc.kdcs[i];

        /* MS-KKDCP: a KDC proxy over HTTPS is another protocol. */
        if (strncasecmp(v, "https://", 8) == 0) {
            base_log(HSMSSP_LOG_DEBUG, LOG_SUBSYS,
                     "realm %s: skipping kdc = %.100s (MS-KKDCP proxies "
                     "are not supported)",
                     x->realm, v);
            continue;
        }
        if (!parse_host_spec(v, host, sizeof(host), &port)) {
            ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                           "krb5.conf [realms] %s kdc = '%.100s': expected "
                           "host, host:port or [address]:port",
                           x->realm, v);
            goto cleanup;
        }
        add_kdc(x, host, port, port, false);
    }
    /* As MIT: a negative limit sends everything over TCP, a huge one is
     * cut to the hard UDP limit. */
    if (want_udp_limit)
        x->udp_limit =
            rc.udp_preference_limit < 0 ? 0
            : (unsigned)rc.udp_preference_limit > KERB_KDC_MAX_UDP_LIMIT
                ? KERB_KDC_MAX_UDP_LIMIT
                : (size_t)rc.udp_preference_limit;
    x->dns = rc.dns_lookup_kdc;

cleanup:
    prov_krb5_realm_free(&rc);
    prov_krb5_profile_release(prof);
    if (kc != NULL)
        krb5_free_context(kc);
    return ret;
}

/* ---- DNS SRV (RFC 2782) ----------------------------------------------- */

hsmssp_err
kerb_kdc_srv_parse(const uint8_t *msg, size_t len, kerb_kdc_srv *out,
                   size_t max, size_t *n_out)
{
    const uint8_t *eom, *p;
    char name[NS_MAXDNAME];
    unsigned qd, an;

    *n_out = 0;
    /* dn_expand works on int offsets; a DNS message never exceeds
     * 65535 bytes. */
    if (len < NS_HFIXEDSZ || len > 65535)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "DNS answer of %zu bytes", len);
    if ((msg[2] & 0x80) == 0)
        return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "DNS message is a query");
    /* A failed lookup (NXDOMAIN, SERVFAIL ...) simply has no records. */
    if ((msg[3] & 0x0f) != 0)
        return HSMSSP_OK;
    eom = msg + len;
    qd = load_be16(msg + 4);
    an = load_be16(msg + 6);
    p = msg + NS_HFIXEDSZ;
    for (unsigned i = 0; i < qd; i++) {
        int r = dn_expand(msg, eom, p, name, sizeof(name));
        if (r < 0 || eom - (p + r) < 4)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "DNS question %u is truncated", i);
        p += r + 4; /* QTYPE, QCLASS */
    }
    for (unsigned i = 0; i < an; i++) {
        unsigned type, klass, rdlen;
        int r = dn_expand(msg, eom, p, name, sizeof(name));

        if (r < 0 || eom - (p + r) < NS_RRFIXEDSZ)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN, "DNS record %u is truncated",
                            i);
        p += r;
        type = load_be16(p);
        klass = load_be16(p + 2);
        rdlen = load_be16(p + 8);
        p += NS_RRFIXEDSZ;
        if ((size_t)(eom - p) < rdlen)
            return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                            "DNS record %u data is truncated", i);
        if (type == ns_t_srv && klass == ns_c_in) {
            /* priority, weight, port, then the target, which must end
             * exactly where the record's data ends. */
            if (rdlen < 7)
                return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                                "SRV record %u is too short", i);
            r = dn_expand(msg, eom, p + 6, name, sizeof(name));
            if (r < 0 || (unsigned)r != rdlen - 6)
                return BASE_ERR(HSMSSP_ERR_BAD_TOKEN,
                                "SRV record %u has a bad target", i);
            /* "." (dn_expand gives "") means: not offered here.  A
             * target too long for our field cannot be a host name. */
            if (name[0] != '\0' && strlen(name) < sizeof(out->target) &&
                *n_out < max) {
                kerb_kdc_srv *s = &out[(*n_out)++];
                s->priority = load_be16(p);
                s->weight = load_be16(p + 2);
                s->port = load_be16(p + 4);
                memcpy(s->target, name, strlen(name) + 1);
            }
        }
        p += rdlen;
    }
    return HSMSSP_OK;
}

/* Randomness for the weighted order only (not a security decision). */
static uint32_t
default_rnd(void *arg)
{
    uint32_t v;
    struct timespec ts;

    (void)arg;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
        return v;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec;
}

/* Moves srv[j] to position i, shifting srv[i..j) up by one, so the
 * records not yet ordered keep their relative order (RFC 2782 puts the
 * weight-0 ones first in the running sum). */
static void
rotate_to(kerb_kdc_srv *srv, size_t i, size_t j)
{
    kerb_kdc_srv t = srv[j];

    memmove(&srv[i + 1], &srv[i], (j - i) * sizeof(*srv));
    srv[i] = t;
}

void
kerb_kdc_srv_order(kerb_kdc_srv *srv, size_t n, uint32_t (*rnd)(void *arg),
                   void *arg)
{
    if (rnd == NULL)
        rnd = default_rnd;
    /* Stable insertion sort by priority: n is at most a few dozen. */
    for (size_t i = 1; i < n; i++) {
        size_t j = i;
        while (j > 0 && srv[j - 1].priority > srv[i].priority)
            j--;
        if (j != i)
            rotate_to(srv, j, i);
    }
    for (size_t g = 0, h; g < n; g = h) {
        size_t zero = g;

        for (h = g; h < n && srv[h].priority == srv[g].priority; h++)
            ;
        /* Weight-0 records to the front of their group, in order. */
        for (size_t i = g; i < h; i++)
            if (srv[i].weight == 0)
                rotate_to(srv, zero++, i);
        /* RFC 2782: draw a number in [0, sum of weights], take the first
         * record whose running sum reaches it, remove it, repeat. */
        for (size_t i = g; i + 1 < h; i++) {
            uint64_t total = 0, run = 0, pick;
            size_t j;

            for (j = i; j < h; j++)
                total += srv[j].weight;
            pick = rnd(arg) % (total + 1);
            for (j = i; j + 1 < h; j++) {
                run += srv[j].weight;
                if (run >= pick)
                    break;
            }
            rotate_to(srv, i, j);
        }
    }
}

/* Asks DNS for _kerberos._udp and _kerberos._tcp of the realm.  The
 * resolver state is the call's own (res_ninit), so no thread's _res is
 * touched; its per-query timeout follows timeout_ms (whole seconds, at
 * least one) with one try, so a dead resolver costs about two timeouts.
 * Lookup failures are not errors: the realm then simply has no KDC. */
static void
dns_lookup(xfer *x)
{
    static const char *const protos[] = {"_udp", "_tcp"};
    struct __res_state rs;
    kerb_kdc_srv *srv = NULL;
    uint8_t *ans = NULL;
    char qname[300];

    memset(&rs, 0, sizeof(rs));
    srv = calloc(KERB_KDC_MAX_KDCS, sizeof(*srv));
    ans = malloc(DNS_BUF);
    if (srv == NULL || ans == NULL || res_ninit(&rs) != 0) {
        base_log(HSMSSP_LOG_DEBUG, LOG_SUBSYS,
                 "realm %s: DNS resolver unavailable", x->realm);
        goto cleanup;
    }
    rs.retrans = (int)((x->timeout_ms + 999) / 1000);
    rs.retry = 1;
    for (size_t t = 0; t < BASE_ARRAY_LEN(protos); t++) {
        size_t n = 0;
        int len;

        /* The final dot makes the name absolute: no search domains. */
        snprintf(qname, sizeof(qname), "_kerberos.%s.%s.", protos[t],
                 x->realm);
        len = res_nquery(&rs, qname, ns_c_in, ns_t_srv, ans, DNS_BUF);
        if (len < 0) {
            base_log(HSMSSP_LOG_DEBUG, LOG_SUBSYS,
                     "realm %s: no SRV records for %s", x->realm, qname);
            continue;
        }
        if (kerb_kdc_srv_parse(ans, len > DNS_BUF ? DNS_BUF : (size_t)len, srv,
                               KERB_KDC_MAX_KDCS, &n) != HSMSSP_OK) {
            base_log(HSMSSP_LOG_DEBUG, LOG_SUBSYS,
                     "realm %s: malformed SRV answer for %s: %s", x->realm,
                     qname, hsmssp_last_error_detail());
            continue;
        }
        kerb_kdc_srv_order(srv, n, NULL, NULL);
        if (t == 0) {
            for (size_t i = 0; i < n; i++)
                add_kdc(x, srv[i].target, srv[i].port, 0, true);
            continue;
        }
        /* TCP records that name a UDP KDC's own host and port join it
         * first, whatever their order; then the others. */
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < n; i++)
                if (udp_twin(x, srv[i].target, srv[i].port) == (pass == 0))
                    add_kdc(x, srv[i].target, 0, srv[i].port, true);
    }

cleanup:
    if (rs.options & RES_INIT)
        res_nclose(&rs);
    free(ans);
    free(srv);
}

/* ---- the walk --------------------------------------------------------- */

/* getaddrinfo once per KDC per call, IPv4 and IPv6 alike, in the order
 * the system's address selection gives (RFC 6724, gai.conf). */
static void
resolve(xfer *x, kdc_entry *k)
{
    struct addrinfo hints, *res = NULL;
    char name[320];
    int r;

    k->resolved = true;
    memset(&hints, 0, sizeof(hints));
    /* No AI_ADDRCONFIG: glibc ignores loopback addresses when deciding
     * which families are configured, so "::1" or a name mapped to it
     * would vanish on a host whose only IPv6 address is loopback.  An
     * address of a family the host cannot reach fails its attempt at
     * once (socket or connect error) and the next one is tried. */
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM; /* one entry per address */
    r = getaddrinfo(k->host, NULL, &hints, &res);
    if (r != 0) {
        k->unresolvable = true;
        entry_name(k, name, sizeof(name));
        base_log(HSMSSP_LOG_DEBUG, LOG_SUBSYS,
                 "realm %s: KDC %s cannot be resolved: %s", x->realm, name,
                 gai_strerror(r));
        return;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (k->n_addrs == KERB_KDC_MAX_ADDRS)
            break;
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(k->addr[0]))
            continue;
        memcpy(&k->addr[k->n_addrs], ai->ai_addr, ai->ai_addrlen);
        k->addr_len[k->n_addrs++] = (socklen_t)ai->ai_addrlen;
    }
    freeaddrinfo(res);
    if (k->n_addrs == 0)
        k->unresolvable = true;
}

/* One line per failed attempt, at debug level. */
static void
log_failure(const xfer *x, const kdc_entry *k, const char *proto,
            const struct sockaddr_storage *ss, socklen_t len, const char *why)
{
    char name[320], addr[80];

    if (!base_log_enabled(HSMSSP_LOG_DEBUG))
        return;
    entry_name(k, name, sizeof(name));
    addr_text((const struct sockaddr *)ss, len, addr, sizeof(addr));
    base_log(HSMSSP_LOG_DEBUG, LOG_SUBSYS, "realm %s: KDC %s (%s %s): %s",
             x->realm, name, proto, addr, why);
}

/* Tries one address of k: UDP first when the request fits and k offers
 * UDP, then TCP at once when the UDP reply is RESPONSE_TOO_BIG (RFC 4120
 * sec. 7.2.1).  On success a->rep holds the reply. */
static hsmssp_err
try_address(xfer *x, kdc_entry *k, size_t i, attempt *a)
{
    struct sockaddr_storage ss = k->addr[i];
    socklen_t len = k->addr_len[i];
    bool tcp = x->len > x->udp_limit || k->udp_port == 0;
    hsmssp_err ret;

    memset(a, 0, sizeof(*a));
    if (!tcp) {
        set_port(&ss, k->udp_port);
        ret = udp_attempt(x, (struct sockaddr *)&ss, len, a);
        if (ret != HSMSSP_OK || a->rep == NULL) {
            if (ret == HSMSSP_OK)
                log_failure(x, k, "udp", &ss, len, a->why);
            return ret;
        }
        if (a->krb_error != KERB_KRB_ERR_RESPONSE_TOO_BIG)
            return HSMSSP_OK;
        free(a->rep);
        memset(a, 0, sizeof(*a));
        if (k->tcp_port == 0) {
            log_failure(x, k, "udp", &ss, len,
                        "RESPONSE_TOO_BIG, and the KDC offers no TCP");
            return HSMSSP_OK;
        }
        base_log(HSMSSP_LOG_DEBUG, LOG_SUBSYS,
                 "realm %s: RESPONSE_TOO_BIG over UDP; asking the same KDC "
                 "over TCP",
                 x->realm);
    }
    set_port(&ss, k->tcp_port);
    ret = tcp_attempt(x, (struct sockaddr *)&ss, len, a);
    if (ret == HSMSSP_OK && a->rep == NULL)
        log_failure(x, k, "tcp", &ss, len, a->why);
    return ret;
}

/* The detail of KDC_UNREACHABLE: every KDC by name, with a note for
 * those that were never asked, cut with "..." at NAMES_CAP. */
static void
list_names(const xfer *x, char *buf, size_t cap)
{
    size_t n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < x->n_kdcs && n + 1 < cap; i++) {
        const kdc_entry *k = &x->kdcs[i];
        char name[320];
        int w;

        entry_name(k, name, sizeof(name));
        w = snprintf(buf + n, cap - n, "%s%s%s", i ? ", " : "", name,
                     k->unresolvable ? " (unresolvable)"
                     : k->skipped    ? " (not asked: request needs TCP)"
                                     : "");
        if (w < 0 || (size_t)w >= cap - n) {
            snprintf(buf + (cap > 4 ? cap - 4 : 0), cap > 4 ? 4 : cap, "...");
            return;
        }
        n += (size_t)w;
    }
}

/* The request: exactly one AS-REQ or TGS-REQ element.  Its tag picks
 * the reply tag that reply_ok() accepts. */
static hsmssp_err
check_request(xfer *x)
{
    base_der in = base_der_view(x->req, x->len);
    unsigned tag;

    if (base_der_get_any(&in, &tag, NULL, NULL) != HSMSSP_OK ||
        base_der_end(&in) != HSMSSP_OK)
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "KDC request is not one DER element");
    if (tag == BASE_DER_APP(KERB_MSG_AS_REQ))
        x->rep_tag = BASE_DER_APP(KERB_MSG_AS_REP);
    else if (tag == BASE_DER_APP(KERB_MSG_TGS_REQ))
        x->rep_tag = BASE_DER_APP(KERB_MSG_TGS_REP);
    else
        return BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                        "KDC request is neither an AS-REQ nor a TGS-REQ "
                        "(identifier 0x%02x)",
                        tag);
    return HSMSSP_OK;
}

/* A realm goes into log lines, error details, DNS names and profile
 * lookups: printable ASCII only, and the length DNS allows for a
 * name. */
static bool
realm_ok(const char *realm)
{
    size_t n = 0;

    for (; realm[n] != '\0'; n++)
        if ((unsigned char)realm[n] < 0x21 || (unsigned char)realm[n] > 0x7e)
            return false;
    return n > 0 && n <= 255;
}

void
kerb_kdc_cfg_init(kerb_kdc_cfg *cfg, const prov_config *pc)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_ms = pc ? pc->kdc_timeout_ms : PROV_DEFAULT_KDC_TIMEOUT_MS;
    cfg->attempts = pc ? pc->kdc_attempts : PROV_DEFAULT_KDC_ATTEMPTS;
    cfg->udp_limit = 0;
}

hsmssp_err
kerb_kdc_send(const char *realm, const uint8_t *req, size_t len,
              const kerb_kdc_cfg *cfg, uint8_t **rep_out, size_t *rep_len_out)
{
    kerb_kdc_cfg dflt;
    attempt a = {0};
    char names[NAMES_CAP];
    hsmssp_err ret = HSMSSP_OK;
    xfer x;

    memset(&x, 0, sizeof(x));
    if (rep_out != NULL)
        *rep_out = NULL;
    if (rep_len_out != NULL)
        *rep_len_out = 0;
    if (realm == NULL || req == NULL || len == 0 || rep_out == NULL ||
        rep_len_out == NULL) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "kerb_kdc_send: NULL or empty argument");
        goto cleanup;
    }
    if (!realm_ok(realm)) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "realm name is empty, longer than 255 bytes or has "
                       "blanks or control characters");
        goto cleanup;
    }
    if (len > KERB_KDC_MAX_REQUEST) {
        ret = BASE_ERR(HSMSSP_ERR_INPUT_TOO_LARGE,
                       "KDC request of %zu bytes (limit %u)", len,
                       KERB_KDC_MAX_REQUEST);
        goto cleanup;
    }
    if (cfg == NULL) {
        kerb_kdc_cfg_init(&dflt, NULL);
        cfg = &dflt;
    }
    x.realm = realm;
    x.req = req;
    x.len = len;
    x.timeout_ms =
        cfg->timeout_ms ? cfg->timeout_ms : PROV_DEFAULT_KDC_TIMEOUT_MS;
    x.attempts = cfg->attempts ? cfg->attempts : PROV_DEFAULT_KDC_ATTEMPTS;
    /* 0 means "ask krb5.conf" (read_krb5_conf below); an explicit limit
     * wins over krb5.conf, so a caller can force TCP (1) whatever the
     * host's configuration says. */
    x.udp_limit = cfg->udp_limit > KERB_KDC_MAX_UDP_LIMIT
                      ? KERB_KDC_MAX_UDP_LIMIT
                      : cfg->udp_limit;
    if (x.timeout_ms < PROV_MIN_KDC_TIMEOUT_MS ||
        x.timeout_ms > PROV_MAX_KDC_TIMEOUT_MS ||
        x.attempts > PROV_MAX_KDC_ATTEMPTS) {
        ret = BASE_ERR(HSMSSP_ERR_INVALID_ARGUMENT,
                       "KDC timeout %u ms or %u attempts out of bounds",
                       x.timeout_ms, x.attempts);
        goto cleanup;
    }
    ret = check_request(&x);
    if (ret != HSMSSP_OK)
        goto cleanup;

    /* Step 2: the list (add_kdc allocates its slots). */
    ret = read_krb5_conf(&x, cfg->udp_limit == 0);
    if (ret != HSMSSP_OK)
        goto cleanup;
    if (x.n_kdcs == 0 && x.dns && !x.nomem)
        dns_lookup(&x);
    if (x.nomem) {
        ret = BASE_ERR0(HSMSSP_ERR_NOMEM);
        goto cleanup;
    }
    if (x.n_kdcs == 0) {
        ret = BASE_ERR(HSMSSP_ERR_KDC_UNREACHABLE,
                       "realm %s: no KDC in the Kerberos configuration "
                       "([realms] %s kdc)%s",
                       realm, realm,
                       x.dns ? " nor in DNS (_kerberos SRV records)"
                             : " and dns_lookup_kdc is off");
        goto cleanup;
    }

    /* Step 3: rounds over the list, each address once per round.  A
     * KDC that refused or timed out in one round is asked again in the
     * next: UDP loses datagrams, and a KDC restarting or under load may
     * answer the second time.  A KDC that cannot take the request
     * (TCP needed, only UDP offered) is marked and never asked. */
    for (unsigned round = 0; round < x.attempts; round++) {
        for (size_t i = 0; i < x.n_kdcs; i++) {
            kdc_entry *k = &x.kdcs[i];

            if (x.len > x.udp_limit && k->tcp_port == 0) {
                k->skipped = true;
                continue;
            }
            if (!k->resolved)
                resolve(&x, k);
            for (size_t j = 0; j < k->n_addrs; j++) {
                ret = try_address(&x, k, j, &a);
                if (ret != HSMSSP_OK)
                    goto cleanup;
                if (a.rep != NULL)
                    goto answered;
            }
        }
    }
    list_names(&x, names, sizeof(names));
    ret = BASE_ERR(HSMSSP_ERR_KDC_UNREACHABLE,
                   "realm %s: no usable reply from %s (%u round%s, %u ms "
                   "per attempt)",
                   realm, names, x.attempts, x.attempts == 1 ? "" : "s",
                   x.timeout_ms);
    goto cleanup;

answered:
    /* Ownership of the reply moves to the caller; cleanup frees only
     * what is still ours. */
    *rep_out = a.rep;
    *rep_len_out = a.rep_len;
    a.rep = NULL;

cleanup:
    free(a.rep);
    free(x.udp_buf);
    free(x.kdcs);
    return ret;
}
