#!/usr/bin/python3
# tests/lab/https_echo.py ADDRESS PORT CERT KEY [LOG] — an HTTPS server for http_spec: answers
# every request 200 with "method path length" in the body and the client's TCP port in
# X-Client-Port (which connection carried it). HTTP/1.1 keep-alive. Prints "ready" once
# listening. With LOG, every request that reaches it, whatever its method, adds a line
# "METHOD PATH" there (tests/hostile_plan_spec.lua: what was refused never arrives).
import http.server, ssl, sys

LOG = sys.argv[5] if len(sys.argv) > 5 else None

class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        text = ("%s %s %d" % (self.command, self.path, len(body))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.send_header("X-Client-Port", str(self.client_address[1]))
        self.end_headers()
        self.wfile.write(text)
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = answer
    def parse_request(self):
        ok = super().parse_request()
        if ok and LOG:
            with open(LOG, "a") as log:
                log.write("%s %s\n" % (self.command, self.path))
        return ok
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Echo)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[3], sys.argv[4])
server.socket = context.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
