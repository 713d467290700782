#!/usr/bin/python3
"""A DNS server of SRV records for the tests: fakedns.py ADDR PORT LOG
[NAME=PRIORITY,WEIGHT,PORT,TARGET ...].

Answers queries over UDP on ADDR:PORT.  A query of type SRV (33) for a
NAME given on the command line (compared without case and without the
final dot) gets its records; any other query gets NXDOMAIN.  Every query
is appended to LOG as "QNAME QTYPE" on a line of its own, so that a test
can see what the resolver asked.  Runs until killed.

Only what glibc's res_nquery sends is understood: one question, no
EDNS processing beyond echoing nothing back (the answers are small and
never truncated).
"""
import socket
import struct
import sys


def read_name(msg, off):
    """The dotted name at off in msg and the offset after it (queries
    carry no compression pointers)."""
    labels = []
    while True:
        n = msg[off]
        off += 1
        if n == 0:
            break
        if n & 0xC0:
            raise ValueError("compressed name in a query")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    return ".".join(labels), off


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def main():
    addr, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    zone = {}
    for spec in sys.argv[4:]:
        name, rec = spec.split("=", 1)
        prio, weight, rport, target = rec.split(",")
        zone.setdefault(name.lower().rstrip("."), []).append(
            (int(prio), int(weight), int(rport), target))

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    while True:
        msg, peer = sock.recvfrom(4096)
        try:
            (qid, flags, qd, _an, _ns, _ar) = struct.unpack(">6H", msg[:12])
            qname, off = read_name(msg, 12)
            qtype, qclass = struct.unpack(">HH", msg[off:off + 4])
        except (ValueError, IndexError, struct.error):
            continue
        with open(log, "a", encoding="ascii") as f:
            f.write("%s %d\n" % (qname, qtype))
        question = msg[12:off + 4]
        records = zone.get(qname.lower().rstrip(".")) if qtype == 33 else None
        # QR, opcode 0, AA, RD copied, RA; RCODE 0 or 3 (NXDOMAIN).
        rflags = 0x8400 | (flags & 0x0100) | 0x0080 | (0 if records else 3)
        answers = b""
        for prio, weight, rport, target in records or []:
            rdata = struct.pack(">HHH", prio, weight, rport) + \
                encode_name(target)
            # The owner name points at the question (offset 12).
            answers += struct.pack(">HHHIH", 0xC00C, 33, qclass, 60,
                                   len(rdata)) + rdata
        header = struct.pack(">6H", qid, rflags, 1,
                             len(records or []), 0, 0)
        sock.sendto(header + question + answers, peer)


if __name__ == "__main__":
    main()
