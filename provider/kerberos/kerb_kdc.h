/*
 * provider/kerberos/kerb_kdc.h - talking to a realm's KDCs: one request
 * out, one reply back (RFC 4120 sec. 7.2.1 UDP, sec. 7.2.2 TCP).
 *
 * The transport knows nothing about what it carries beyond the outer
 * tags: the caller builds the AS-REQ or TGS-REQ and interprets the AS-REP,
 * TGS-REP or KRB-ERROR.  No key material passes through here (requests
 * and replies are public on the wire), so nothing is wiped and every
 * buffer is ordinary heap.  docs/kdc.md describes the behaviour for
 * operators; in short:
 *
 *   - KDCs come from the Kerberos configuration that libkrb5 reads
 *     (KRB5_CONFIG, else /etc/krb5.conf): [realms] REALM = { kdc = ... }
 *     in the order given, each "host", "host:port", "[v6addr]:port" or a
 *     bare IPv6 address, port 88 by default.  Only when the realm lists
 *     none and [libdefaults] dns_lookup_kdc is true (MIT's default; it
 *     falls back to dns_fallback) are DNS SRV records asked for
 *     (_kerberos._udp.REALM, _kerberos._tcp.REALM, RFC 2782 priority and
 *     weight order), as MIT does.  https:// (MS-KKDCP) entries are
 *     skipped.
 *   - A request longer than the UDP limit goes over TCP only; others go
 *     over UDP, and a UDP reply that is a KRB-ERROR with error-code
 *     KRB_ERR_RESPONSE_TOO_BIG (52) makes the same KDC address be asked
 *     again over TCP at once.
 *   - Every attempt (one address, one transport) has timeout_ms.  The
 *     addresses are tried one after the other, and the whole list is
 *     walked `attempts` times; the worst case is therefore attempts x
 *     addresses x timeout_ms (a TCP retry after RESPONSE_TOO_BIG only
 *     follows an answer).
 *   - A reply is accepted only when it is one well-formed DER element
 *     (nesting checked, no trailing bytes) of at most KERB_KDC_MAX_REPLY
 *     bytes whose tag is [APPLICATION 30] (KRB-ERROR, and it must decode
 *     with kerb_dec_error) or the reply to the request's type
 *     ([APPLICATION 11] for an AS-REQ, 13 for a TGS-REQ).  Anything else
 *     from a KDC counts as no answer from it.
 *
 * Thread-safe: every call has its own libkrb5 context, resolver state and
 * sockets; there is no global state.  Each KDC that fails gets one debug
 * line through base_log (subsystem "kerberos").
 *
 * Substituting the transport (tests and fuzzing only).  There is no hook
 * in the library: test programs replace kerb_kdc_send at link time with
 * GNU ld's --wrap=kerb_kdc_send, which sends every call from another
 * object file to the program's __wrap_kerb_kdc_send (the original stays
 * reachable as __real_kerb_kdc_send).  tests/fuzz/fuzz_init_reply.c
 * answers with the fuzzer's replies (and replaces prov_now_us and
 * hsm_random the same way, so that recorded nonces and times hold);
 * tests/fuzz/initseed.c records the real KDC's replies for its seeds
 * (docs/fuzzing.md).  A shipped libhsmssp therefore cannot have its KDC
 * replaced, and the normal and sanitizer trees replay the fuzz corpus
 * through the same code.  What this asks of the code: kerb_as.c and
 * kerb_tgs.c (and whatever else talks to a KDC) reach it only through
 * this function, called from their own translation units; a call made
 * inside kerb_kdc.c, or an inlined copy, would not be redirected.
 */
#ifndef HSMSSP_KERB_KDC_H
#define HSMSSP_KERB_KDC_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "provider/config.h"

#define KERB_KDC_PORT 88
/* MIT's default udp_preference_limit, and its ceiling (larger values in
 * krb5.conf are cut to it, as MIT does). */
#define KERB_KDC_DEFAULT_UDP_LIMIT 1465u
#define KERB_KDC_MAX_UDP_LIMIT 32700u
/* Largest request sent and reply accepted.  Far above any real KDC
 * message (a TGS-REP with a large PAC is tens of KiB) and far below what
 * the 31-bit TCP length prefix allows. */
#define KERB_KDC_MAX_REQUEST (1024u * 1024u)
#define KERB_KDC_MAX_REPLY (1024u * 1024u)
/* At most this many KDCs per realm (later entries are ignored, with a
 * debug line) and addresses per KDC name. */
#define KERB_KDC_MAX_KDCS 32u
#define KERB_KDC_MAX_ADDRS 8u

typedef struct kerb_kdc_cfg {
    /* One attempt to one address: UDP send and reply, or TCP connect,
     * send and the whole reply.  0 = PROV_DEFAULT_KDC_TIMEOUT_MS; else
     * PROV_MIN_KDC_TIMEOUT_MS .. PROV_MAX_KDC_TIMEOUT_MS. */
    unsigned timeout_ms;
    /* Rounds over the realm's KDC list.  0 = PROV_DEFAULT_KDC_ATTEMPTS;
     * else PROV_MIN_KDC_ATTEMPTS .. PROV_MAX_KDC_ATTEMPTS. */
    unsigned attempts;
    /* Requests longer than this many bytes go over TCP only.  0 = krb5.conf
     * [libdefaults] udp_preference_limit, else KERB_KDC_DEFAULT_UDP_LIMIT;
     * at most KERB_KDC_MAX_UDP_LIMIT.  1 sends everything over TCP. */
    size_t udp_limit;
} kerb_kdc_cfg;

/* Fills *cfg from the configuration file's [kerberos] kdc_timeout_ms and
 * kdc_attempts (pc NULL: the defaults), with udp_limit 0 (krb5.conf). */
void kerb_kdc_cfg_init(kerb_kdc_cfg *cfg, const prov_config *pc);

/* Sends req (len bytes: one DER AS-REQ [APPLICATION 10] or TGS-REQ
 * [APPLICATION 12]) to a KDC of realm and returns its reply: *rep_out
 * (malloc'ed, the caller frees it) and *rep_len_out, both cleared on
 * entry and set only on success.  cfg NULL means all defaults.  The reply
 * may be a KRB-ERROR: interpreting it is the caller's business (except
 * RESPONSE_TOO_BIG, handled here).
 *
 * Errors: HSMSSP_ERR_KDC_UNREACHABLE when no KDC gave an acceptable reply
 * (or the realm has none), with a one-line detail naming the realm and
 * the KDCs tried; HSMSSP_ERR_CONFIG for a krb5.conf that libkrb5 cannot
 * read, a kdc entry that does not parse or a udp_preference_limit that
 * is not a number (naming it);
 * HSMSSP_ERR_INVALID_ARGUMENT (NULL or empty arguments, a realm with
 * control characters or longer than 255 bytes, a request that is not one
 * AS-REQ/TGS-REQ element, cfg values out of bounds);
 * HSMSSP_ERR_INPUT_TOO_LARGE (request above KERB_KDC_MAX_REQUEST);
 * HSMSSP_ERR_NOMEM. */
hsmssp_err kerb_kdc_send(const char *realm, const uint8_t *req, size_t len,
                         const kerb_kdc_cfg *cfg, uint8_t **rep_out,
                         size_t *rep_len_out) BASE_WUR;

/* ---- DNS SRV (RFC 2782); exposed for the unit tests ------------------ */

typedef struct kerb_kdc_srv {
    uint16_t priority;
    uint16_t weight;
    uint16_t port;
    char target[256]; /* host name without the final dot */
} kerb_kdc_srv;

/* Reads the SRV records (type 33, class IN) of a DNS answer message
 * (msg, len bytes, as res_nquery returns it) into out[0..max); other
 * records are skipped, and so is a record whose target is "." (RFC 2782:
 * the service is not offered there).  *n_out gets the count kept; records
 * beyond max are dropped.  HSMSSP_ERR_BAD_TOKEN for a malformed message
 * (truncated header, names or records). */
hsmssp_err kerb_kdc_srv_parse(const uint8_t *msg, size_t len,
                              kerb_kdc_srv *out, size_t max,
                              size_t *n_out) BASE_WUR;

/* Orders srv[0..n) as RFC 2782 says a client must try them: by ascending
 * priority, and within one priority by a weighted random draw (weight-0
 * records first in the running sum, so they are rarely picked first).
 * rnd returns a uniformly distributed 32-bit value (NULL: getrandom). */
void kerb_kdc_srv_order(kerb_kdc_srv *srv, size_t n,
                        uint32_t (*rnd)(void *arg), void *arg);

#endif
