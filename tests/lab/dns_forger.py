#!/usr/bin/python3
# tests/lab/dns_forger.py ADDRESS PORT KEY_NAME SECRET — a scripted "DNS server" for
# dns_update_spec, on UDP and TCP. It knows the spec's hmac-sha256 key, so it can answer
# with correctly signed replies as well as with broken ones. The first label of the
# update's zone decides the answer:
#   forged.…     the request itself as a NOERROR reply, with the request's TSIG (a MAC that
#                cannot verify as the reply's)
#   unsigned.…   the request as a NOERROR reply without its TSIG
#   wrongid.…    the request as a reply with another ID (never ours: the client times out)
#   truncated.…  over UDP the request with TC set; over TCP a signed NOERROR
#   big.…        over UDP a signed REFUSED (it should have come over TCP); over TCP a
#                signed NOERROR
#   skewed.…     a signed NOERROR whose TSIG time is two hours ago
#   rcode-N.…    rcode N: 0-15 in the header, 23 (BADCOOKIE) as an OPT record's extended
#                rcode, others as the TSIG error with an empty MAC (RFC 8945 5.3.2)
#   anything else, over TCP: a signed NOERROR
# Prints "ready" once both sockets are bound.
import base64, hashlib, hmac, socket, struct, sys, threading, time

ADDRESS, PORT, KEY_NAME, SECRET = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
KEY = base64.b64decode(SECRET)
ALGORITHM = "hmac-sha256"
FUDGE = 300


def wire_name(name):
    out = b""
    for label in name.lower().rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def skip_name(msg, off):
    while msg[off] != 0:
        off += 1 + msg[off]
    return off + 1


def sections(msg):
    """(end of the zone section, start of the last RR, request MAC or b"")"""
    counts = [int.from_bytes(msg[i:i + 2], "big") for i in (4, 6, 8, 10)]
    off = 12
    for _ in range(counts[0]):
        off = skip_name(msg, off) + 4
    zone_end, last, rr_type, rdata = off, off, 0, off
    for _ in range(counts[1] + counts[2] + counts[3]):
        last = off
        off = skip_name(msg, off)
        rr_type = int.from_bytes(msg[off:off + 2], "big")
        rdlen = int.from_bytes(msg[off + 8:off + 10], "big")
        rdata, off = off + 10, off + 10 + rdlen
    mac = b""
    if rr_type == 250:
        at = skip_name(msg, rdata) + 8
        size = int.from_bytes(msg[at:at + 2], "big")
        mac = msg[at + 2:at + 2 + size]
    return zone_end, last, mac


def tsig_rr(message_id, signed_at, mac, error):
    rdata = (wire_name(ALGORITHM) + signed_at.to_bytes(6, "big") + struct.pack("!HH", FUDGE,
             len(mac)) + mac + struct.pack("!HHH", message_id, error, 0))
    return wire_name(KEY_NAME) + struct.pack("!HHIH", 250, 255, 0, len(rdata)) + rdata


def signed(message, request_mac, signed_at=None, error=0):
    """message with a TSIG record appended: a MAC over the request's MAC, the message and
    the TSIG variables (RFC 8945 4.3.3), or an empty MAC for a TSIG error."""
    signed_at = int(time.time()) if signed_at is None else signed_at
    message_id = int.from_bytes(message[0:2], "big")
    mac = b""
    if error == 0:
        variables = (wire_name(KEY_NAME) + struct.pack("!HI", 255, 0) + wire_name(ALGORITHM)
                     + signed_at.to_bytes(6, "big") + struct.pack("!HHH", FUDGE, 0, 0))
        data = struct.pack("!H", len(request_mac)) + request_mac + message + variables
        mac = hmac.new(KEY, data, hashlib.sha256).digest()
    arcount = int.from_bytes(message[10:12], "big") + 1
    head = message[:10] + arcount.to_bytes(2, "big")
    return head + message[12:] + tsig_rr(message_id, signed_at, mac, error)


def answer(request, rcode, request_mac, **options):
    """A reply to the update: its header and zone section, the given rcode, signed."""
    zone_end, _, _ = sections(request)
    flags = 0x8000 | (request[2] & 0x78) << 8 | (rcode & 0xf)
    message = request[0:2] + struct.pack("!HHHHH", flags, 1, 0, 0, 0) + request[12:zone_end]
    if rcode > 15 and rcode != 23 or options.get("tsig_error"):
        message = message[:2] + struct.pack("!H", flags & ~0xf | 9) + message[4:]   # NOTAUTH
        return signed(message, request_mac, error=rcode)
    if rcode > 15:   # extended rcode in an OPT record (RFC 6891 6.1.3)
        opt = b"\0" + struct.pack("!HHIH", 41, 1232, (rcode >> 4) << 24, 0)
        message = message[:10] + b"\0\1" + message[12:] + opt
    return signed(message, request_mac, options.get("signed_at"))


def echo(request, label):
    reply = bytearray(request)
    reply[2] |= 0x80                         # QR
    if label == "unsigned":
        _, last, _ = sections(request)
        reply = reply[:last]
        reply[10:12] = (int.from_bytes(request[10:12], "big") - 1).to_bytes(2, "big")
    elif label == "wrongid":
        reply[0] ^= 0xff
    elif label == "truncated":
        reply[2] |= 0x02                     # TC: the client must retry over TCP
    return bytes(reply)


def reply_to(request, over_tcp):
    label = request[13:13 + request[12]].decode("ascii", "replace")
    _, _, request_mac = sections(request)
    if label.startswith("rcode-"):
        return answer(request, int(label[6:]), request_mac)
    if label == "skewed":
        return answer(request, 0, request_mac, signed_at=int(time.time()) - 7200)
    if label == "big" and not over_tcp:
        return answer(request, 5, request_mac)
    if over_tcp and label not in ("forged", "unsigned", "wrongid"):
        return answer(request, 0, request_mac)
    return echo(request, label)


def read_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve_tcp(listener):
    while True:
        conn, _ = listener.accept()
        with conn:
            length = read_exactly(conn, 2)
            request = length and read_exactly(conn, int.from_bytes(length, "big"))
            if request:
                reply = reply_to(request, True)
                conn.sendall(len(reply).to_bytes(2, "big") + reply)


udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((ADDRESS, PORT))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((ADDRESS, PORT))
tcp.listen(8)
threading.Thread(target=serve_tcp, args=(tcp,), daemon=True).start()
print("ready", flush=True)

while True:
    request, peer = udp.recvfrom(65535)
    udp.sendto(reply_to(request, False), peer)
