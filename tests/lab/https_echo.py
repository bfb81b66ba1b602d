#!/usr/bin/python3
# tests/lab/https_echo.py ADDRESS PORT CERT KEY — an HTTPS server for http_spec: answers
# every request 200 with "method path length" in the body and the client's TCP port in
# X-Client-Port (which connection carried it). HTTP/1.1 keep-alive. Prints "ready" once
# listening.
import http.server, ssl, sys

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
    do_GET = do_POST = do_PUT = answer
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Echo)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[3], sys.argv[4])
server.socket = context.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
