/*
 * tools/gss_wire.h - MIT's gss-sample wire protocol (DESIGN sec. 5), as
 * `hsmssp server` and `hsmssp client` speak it, and the client side of a
 * conversation written against the SSPI function table.
 *
 * Every token on the wire is one flag byte, a 4-byte big-endian length
 * and that many bytes.  A client announces a context with NOOP |
 * CONTEXT_NEXT, exchanges CONTEXT tokens until the context is
 * established, then sends DATA tokens (WRAPPED when sealed, ENCRYPTED
 * when with confidentiality, SEND_MIC when it wants the server's MIC
 * over the plaintext back) and ends with an empty NOOP.
 */
#ifndef HSMSSP_TOOLS_GSS_WIRE_H
#define HSMSSP_TOOLS_GSS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hsmssp/sspi.h"

#define GSS_TOKEN_NOOP 0x01
#define GSS_TOKEN_CONTEXT 0x02
#define GSS_TOKEN_DATA 0x04
#define GSS_TOKEN_MIC 0x08
#define GSS_TOKEN_CONTEXT_NEXT 0x10
#define GSS_TOKEN_WRAPPED 0x20
#define GSS_TOKEN_ENCRYPTED 0x40
#define GSS_TOKEN_SEND_MIC 0x80

/* Largest token taken off the wire. */
#define GSS_MAX_WIRE_TOKEN (16u * 1024u * 1024u)

/* 0 when all n bytes moved, -1 on error or end of stream. */
int gss_read_all(int fd, void *buf, size_t n);
int gss_write_all(int fd, const void *buf, size_t n);

/* One token: *data malloc'ed (NULL when empty).  0 or -1. */
int gss_recv_token(int fd, uint8_t *flags, uint8_t **data, size_t *len);
int gss_send_token(int fd, uint8_t flags, const void *data, size_t len);

/* TCP connection to host:port (name or address), -1 with a message on
 * stderr when it fails. */
int gss_connect(const char *host, uint16_t port);

/* SEC_CHANNEL_BINDINGS with app as its application data, placed right
 * after the structure (offsets are relative to it); malloc'ed, NULL when
 * out of memory.  *len_out gets the whole size. */
SEC_CHANNEL_BINDINGS *gss_make_bindings(const char *app, size_t *len_out);

/* What a client conversation does (MIT gss-client's options). */
typedef struct gss_client_opts {
    bool mutual;   /* ISC_REQ_MUTUAL_AUTH (gss-client default) */
    bool seq;      /* ISC_REQ_SEQUENCE_DETECT */
    bool replay;   /* ISC_REQ_REPLAY_DETECT (gss-client default) */
    bool delegate; /* ISC_REQ_DELEGATE */
    bool wrap;     /* seal each message (else send it in the clear) */
    bool encrypt;  /* with confidentiality */
    bool mic;      /* ask for the server's MIC and verify it */
    unsigned count;
    const SEC_CHANNEL_BINDINGS *cb; /* NULL: none */
    size_t cb_len;
    FILE *out;          /* progress lines (NULL: silent) */
    const char *prefix; /* of error lines on stderr */
} gss_client_opts;

/* Logs into service (an SPN or service@host) at host:port with cred and
 * sends msg o->count times.  0 when every message went through (and
 * every MIC verified), 1 otherwise, with one line on stderr naming the
 * failing step and hsmssp's reason.  *ret_flags_out (may be NULL) gets
 * the ISC_RET flags of the context. */
int gss_client_run(PSecurityFunctionTableA t, CredHandle *cred,
                   const char *host, uint16_t port, const char *service,
                   const uint8_t *msg, size_t len, const gss_client_opts *o,
                   ULONG *ret_flags_out);

#endif
