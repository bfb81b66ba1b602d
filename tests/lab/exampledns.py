#!/usr/bin/python3
# tests/lab/exampledns.py ADDRESS PORT TOKEN_FILE — a small stand-in for "ExampleDNS", the
# cloud DNS API of the example provider in docs/dns-providers.md, so that the example runs
# the shared provider suite (tests/dns_provider_spec.lua). One zone, contoso.com, seeded like
# tests/lab/named.sh; an RRset is /v1/zones/contoso.com/rrsets/NAME/TYPE:
#   GET    -> 200 {"ttl": N, "values": [...]}, or 404 when the RRset does not exist
#   PUT    {"ttl": N, "values": [...]} -> 204 (422 when values is empty or not a list)
#   DELETE -> 204, or 404
# Every request needs "Authorization: Bearer <the token in TOKEN_FILE>" (else 401).
# Prints "ready" once listening.
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADDRESS, PORT = sys.argv[1], int(sys.argv[2])
with open(sys.argv[3]) as token_file:
    TOKEN = token_file.read().strip()
PREFIX = "/v1/zones/contoso.com/rrsets/"
LOCK = threading.Lock()
RRSETS = {
    ("sip.contoso.com", "A"): {"ttl": 300, "values": ["192.0.2.10"]},
    ("edge1.contoso.com", "A"): {"ttl": 300, "values": ["192.0.2.21"]},
    ("_xmpp-server._tcp.contoso.com", "SRV"): {"ttl": 300,
                                               "values": ["10 0 5269 edge1.contoso.com."]},
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def rrset(self):
        """the (name, type) the path names, or None after answering an error"""
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.answer(401, {"error": "bad or missing token"})
        parts = self.path[len(PREFIX):].split("/") if self.path.startswith(PREFIX) else []
        if len(parts) != 2 or not parts[0] or not parts[1]:
            return self.answer(404, {"error": "no such resource"})
        return parts[0].lower().rstrip("."), parts[1].upper()

    def do_GET(self):
        key = self.rrset()
        if key:
            with LOCK:
                found = RRSETS.get(key)
            self.answer(200, found) if found else self.answer(404, {"error": "no such RRset"})

    def do_PUT(self):
        key = self.rrset()
        if not key:
            return
        length = int(self.headers.get("Content-Length", "0"))
        try:
            body = json.loads(self.rfile.read(length))
            values, ttl = body["values"], int(body["ttl"])
        except (ValueError, KeyError, TypeError):
            return self.answer(400, {"error": "expected {\"ttl\": N, \"values\": [...]}"})
        if not isinstance(values, list) or not values:
            return self.answer(422, {"error": "values must be a non-empty list"})
        with LOCK:
            RRSETS[key] = {"ttl": ttl, "values": [str(v) for v in values]}
        self.answer(204)

    def do_DELETE(self):
        key = self.rrset()
        if key:
            with LOCK:
                found = RRSETS.pop(key, None)
            self.answer(204) if found else self.answer(404, {"error": "no such RRset"})


server = ThreadingHTTPServer((ADDRESS, PORT), Handler)
print("ready", flush=True)
server.serve_forever()
