#!/usr/bin/python3
# tests/lab/dns_second_try.py ADDRESS PORT — a UDP "DNS server" for tests/dns_spec.lua's
# retry case: it ignores the first datagram of every query (same ID and question) and
# answers the later ones with one A record, 192.0.2.N, N the datagram's number for that
# query. A client that retries gets 192.0.2.2; one that does not times out. Prints "ready"
# once bound.
import socket, struct, sys

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)

def question_end(msg):
    off = 12
    while msg[off] != 0:
        off += 1 + msg[off]
    return off + 1 + 4                       # the root label, QTYPE, QCLASS

seen = {}
while True:
    request, peer = sock.recvfrom(65535)
    if len(request) < 17:
        continue
    end = question_end(request)
    query = request[:2] + request[12:end]    # the ID and the question
    seen[query] = seen.get(query, 0) + 1
    if seen[query] == 1:
        continue                             # the first datagram is "lost"
    header = request[:2] + struct.pack(">HHHHH", 0x8400 | (request[2] & 1) << 8, 1, 1, 0, 0)
    answer = struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([192, 0, 2, seen[query]])
    sock.sendto(header + request[12:end] + answer, peer)
