#!/usr/bin/python3
# tests/lab/dns_forger.py ADDRESS PORT — a hostile "DNS server" for dns_update_spec: it
# answers each UPDATE with the request itself turned into a NOERROR reply. The first byte
# of the zone name's label decides how: zone "forged.…" keeps the request's TSIG record (a
# MAC that cannot verify as the reply's), "unsigned.…" strips it, "wrongid.…" changes the
# ID (never our reply: the client must ignore it and time out), "truncated.…" sets TC (the
# client must retry over TCP, where nothing listens). Prints "ready" once bound.
import socket, sys

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)

def skip_name(msg, off):
    while msg[off] != 0:
        off += 1 + msg[off]
    return off + 1

while True:
    request, peer = sock.recvfrom(65535)
    reply = bytearray(request)
    reply[2] |= 0x80                         # QR
    label = request[13:13 + request[12]].decode("ascii", "replace")
    if label == "unsigned":
        # walk to the last RR (the TSIG) and cut it off
        counts = [int.from_bytes(request[i:i + 2], "big") for i in (4, 6, 8, 10)]
        off = 12
        for _ in range(counts[0]):
            off = skip_name(request, off) + 4
        last = off
        for _ in range(counts[1] + counts[2] + counts[3]):
            last = off
            off = skip_name(request, off) + 8
            off += 2 + int.from_bytes(request[off:off + 2], "big")
        reply = reply[:last]
        reply[10:12] = (counts[3] - 1).to_bytes(2, "big")
    elif label == "wrongid":
        reply[0] ^= 0xff
    elif label == "truncated":
        reply[2] |= 0x02                     # TC: the client must retry over TCP
    sock.sendto(bytes(reply), peer)
