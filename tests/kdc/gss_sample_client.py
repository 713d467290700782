#!/usr/bin/python3
"""A python3-gssapi client for MIT's gss-sample protocol (DESIGN sec. 5).

It plays gss-client's part against gss-server or hsmssp's sample server:

  1. connect over TCP to HOST:PORT;
  2. send an empty token flagged NOOP|CONTEXT_NEXT ("a context follows");
  3. context loop: each initiator token goes out flagged CONTEXT; while
     the mechanism wants more, read the acceptor's next token;
  4. per message (--count times on the one context): gss_wrap it (or send
     it as is with --no-wrap) flagged DATA plus WRAPPED, ENCRYPTED and
     SEND_MIC as chosen, then read the reply: a MIC token over the
     plaintext, verified here, or an empty NOOP when no MIC was asked for;
  5. send an empty NOOP token, which ends the server's message loop.

Every token on the wire is one flag byte, a 4-byte big-endian length and
that many bytes.  Like gss-client, the ENCRYPTED flag follows the encrypt
option even when the message is not wrapped (-nw without -nx); the server
only looks at it together with WRAPPED.

Exits 0 on success; otherwise prints one line on stderr, with the GSS
major and minor status text when GSS failed, and exits 1 (2 for usage).
"""

import argparse
import socket
import struct
import sys

import gssapi
import gssapi.raw

TOKEN_NOOP = 0x01
TOKEN_CONTEXT = 0x02
TOKEN_DATA = 0x04
TOKEN_MIC = 0x08
TOKEN_CONTEXT_NEXT = 0x10
TOKEN_WRAPPED = 0x20
TOKEN_ENCRYPTED = 0x40
TOKEN_SEND_MIC = 0x80

# MIT's gss-server reads nothing larger; a length above this is a framing
# error, not a token.
MAX_TOKEN = 1 << 24

PROG = "gss_sample_client"


class Failure(Exception):
    """A failed step: the message is the whole one-line report."""


def gss_text(step, err):
    """One line naming the step and both GSS status codes with their text."""
    major = "; ".join(err.get_all_statuses(err.maj_code, True))
    minor = "; ".join(err.get_all_statuses(err.min_code, False))
    return (f"{step}: GSS major 0x{err.maj_code:08x} ({major}), "
            f"minor 0x{err.min_code:08x} ({minor})")


def recv_exact(sock, n, what):
    """Reads exactly n bytes; a short read is a protocol failure."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise Failure(f"connection closed while reading {what} "
                          f"({len(buf)} of {n} bytes)")
        buf += chunk
    return bytes(buf)


def send_token(sock, flags, data):
    """Sends one token: flag byte, 4-byte big-endian length, bytes."""
    sock.sendall(struct.pack(">BI", flags, len(data)) + data)


def recv_token(sock, what):
    """Reads one token; returns (flags, bytes)."""
    flags, length = struct.unpack(">BI", recv_exact(sock, 5, what))
    if length > MAX_TOKEN:
        raise Failure(f"{what}: token length {length} is implausible")
    return flags, recv_exact(sock, length, what)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog=PROG,
        description="gss-sample protocol client on python3-gssapi")
    p.add_argument("--port", type=int, default=4444)
    p.add_argument("--mutual", dest="mutual", action="store_true",
                   default=True, help="request mutual auth (default)")
    p.add_argument("--no-mutual", dest="mutual", action="store_false")
    p.add_argument("--no-replay", dest="replay", action="store_false",
                   default=True, help="do not request replay detection")
    p.add_argument("--seq", action="store_true",
                   help="request sequence checking (GSS_C_SEQUENCE_FLAG)")
    p.add_argument("--no-wrap", dest="wrap", action="store_false",
                   default=True, help="send the message unwrapped")
    p.add_argument("--no-encrypt", dest="encrypt", action="store_false",
                   default=True, help="wrap for integrity only")
    p.add_argument("--no-mic", dest="mic", action="store_false",
                   default=True, help="do not ask the server for a MIC")
    p.add_argument("--count", type=int, default=1,
                   help="messages sent on the one context (default 1)")
    p.add_argument("--cb-app-data", metavar="STR",
                   help="channel bindings carrying STR as application "
                        "data (default: no channel bindings)")
    p.add_argument("--ccache", help="initiator ccache (default: "
                   "KRB5CCNAME)")
    p.add_argument("--record-token", metavar="FILE",
                   help="write the first context token sent to FILE")
    p.add_argument("--send-token", metavar="FILE",
                   help="send FILE as the first context token instead of "
                        "a fresh one (replays a recorded AP-REQ)")
    p.add_argument("--save-reply", metavar="FILE",
                   help="write the server's first context token (AP-REP "
                        "or KRB-ERROR) to FILE")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="socket timeout in seconds (default 30)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no summary line on success")
    p.add_argument("host")
    p.add_argument("service", help="service@host, e.g. e18@localhost")
    p.add_argument("message")
    args = p.parse_args(argv)
    if args.count < 0:
        p.error("--count must not be negative")
    if "@" not in args.service:
        p.error("service must have the form service@host")
    return args


def make_context(args):
    """The initiator context, with the flags gss-client would ask for."""
    # python-gssapi replaces an empty flag set with its own default
    # (mutual + sequence), so "nothing requested" must still carry a bit.
    # INTEG is that bit: MIT's initiator adds CONF|INTEG to every context
    # anyway (unless GSS_KRB5_CRED_NO_CI_FLAGS_X), so the authenticator's
    # checksum flags come out as gss-client's.
    flags = gssapi.RequirementFlag.integrity
    if args.mutual:
        flags |= gssapi.RequirementFlag.mutual_authentication
    if args.replay:
        flags |= gssapi.RequirementFlag.replay_detection
    if args.seq:
        flags |= gssapi.RequirementFlag.out_of_sequence_detection
    try:
        target = gssapi.Name(args.service,
                             gssapi.NameType.hostbased_service)
    except gssapi.exceptions.GSSError as e:
        raise Failure(gss_text("importing the service name", e))
    creds = None
    if args.ccache:
        try:
            creds = gssapi.Credentials(usage="initiate",
                                       store={"ccache": args.ccache})
        except gssapi.exceptions.GSSError as e:
            raise Failure(gss_text(f"acquiring creds from {args.ccache}",
                                   e))
    cb = None
    if args.cb_app_data is not None:
        cb = gssapi.raw.ChannelBindings(
            application_data=args.cb_app_data.encode())
    return gssapi.SecurityContext(name=target, creds=creds, flags=flags,
                                  mech=gssapi.MechType.kerberos,
                                  usage="initiate", channel_bindings=cb)


def establish(sock, ctx, args):
    """Announces a context and runs the token loop until it is complete."""
    send_token(sock, TOKEN_NOOP | TOKEN_CONTEXT_NEXT, b"")
    in_tok = None
    first = True
    while True:
        try:
            out_tok = ctx.step(in_tok)
        except gssapi.exceptions.GSSError as e:
            raise Failure(gss_text("initializing context", e))
        if first and args.record_token:
            with open(args.record_token, "wb") as f:
                f.write(out_tok)
        if first and args.send_token:
            with open(args.send_token, "rb") as f:
                out_tok = f.read()
        if out_tok:
            send_token(sock, TOKEN_CONTEXT, out_tok)
        if ctx.complete and not args.send_token:
            return
        flags, reply = recv_token(sock, "context token")
        if first and args.save_reply:
            with open(args.save_reply, "wb") as f:
                f.write(reply)
        if not flags & TOKEN_CONTEXT:
            raise Failure(f"expected a CONTEXT token, got flags "
                          f"0x{flags:02x}")
        if args.send_token:
            # The reply answers the replayed token, not this context: let
            # the GSS library read it (a KRB-ERROR gives its reason).
            try:
                ctx.step(reply)
            except gssapi.exceptions.GSSError as e:
                raise Failure(gss_text("server answered the replayed "
                                       "token", e))
            raise Failure("server accepted the replayed token")
        in_tok = reply
        first = False


def exchange(sock, ctx, args, msg):
    """One DATA token out, its MIC (or NOOP) back, verified."""
    if args.wrap:
        try:
            res = ctx.wrap(msg, args.encrypt)
        except gssapi.exceptions.GSSError as e:
            raise Failure(gss_text("wrapping message", e))
        if args.encrypt and not res.encrypted:
            raise Failure("wrapping message: confidentiality was refused")
        out = res.message
    else:
        out = msg
    flags = TOKEN_DATA
    if args.wrap:
        flags |= TOKEN_WRAPPED
    if args.encrypt:
        flags |= TOKEN_ENCRYPTED
    if args.mic:
        flags |= TOKEN_SEND_MIC
    send_token(sock, flags, out)
    rflags, reply = recv_token(sock, "reply token")
    if args.mic:
        if not rflags & TOKEN_MIC:
            raise Failure(f"expected a MIC token, got flags 0x{rflags:02x}")
        try:
            ctx.verify_signature(msg, reply)
        except gssapi.exceptions.GSSError as e:
            raise Failure(gss_text("verifying signature", e))
    elif not rflags & TOKEN_NOOP:
        raise Failure(f"expected a NOOP reply, got flags 0x{rflags:02x}")


def run(args):
    ctx = make_context(args)
    msg = args.message.encode()
    try:
        sock = socket.create_connection((args.host, args.port),
                                        timeout=args.timeout)
    except OSError as e:
        raise Failure(f"connecting to {args.host}:{args.port}: {e}")
    with sock:
        try:
            establish(sock, ctx, args)
            for _ in range(args.count):
                exchange(sock, ctx, args, msg)
            send_token(sock, TOKEN_NOOP, b"")
        except OSError as e:
            raise Failure(f"talking to {args.host}:{args.port}: {e}")
    if args.mutual and not (ctx.actual_flags &
                            gssapi.RequirementFlag.mutual_authentication):
        raise Failure("mutual authentication was requested but not done")
    return ctx


def main(argv):
    args = parse_args(argv)
    try:
        ctx = run(args)
    except Failure as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    if not args.quiet:
        names = sorted(f.name for f in ctx.actual_flags)
        print(f"{PROG}: {ctx.initiator_name} -> {ctx.target_name}: "
              f"{args.count} message(s) ok; flags {','.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
