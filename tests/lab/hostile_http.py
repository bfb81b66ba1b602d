"""HTTP peers that send more than a client should hold, and a TLS echo, for the limits and
hostile-options specs (issue 12). One HTTP port answers by path:
  /endless-body       200, chunked, a body that never ends
  /announced-huge     200 with Content-Length: 1 TiB, then bytes for ever
  /endless-headers    a status line, then header lines for ever
  /body/N             200 with a body of exactly N bytes
  /headers/N          200 with N header lines of 1000 bytes each, then "ok"
  anything else       200 "ok"
The TLS port (CERT_DIR/localhost.pem) sends back what it receives.
Usage: hostile_http.py ADDRESS CERT_DIR; binds free ports and prints
"http=PORT tls_echo=PORT" once both listen."""
import os
import socket
import ssl
import sys
import threading

CHUNK = b"x" * 65536
FILLER = b"X-Filler-%06d: " + b"f" * 980 + b"\r\n"


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(4096)
        if not more:
            raise OSError("closed")
        data += more
    return data.split(b" ")[1].decode("ascii", "replace")


def endless_body(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
    while True:
        conn.sendall(chunk)


def announced_huge(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n")
    while True:
        conn.sendall(CHUNK)


def endless_headers(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    n = 0
    while True:
        conn.sendall(FILLER % n)
        n += 1


def sized_body(conn, size):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    left = size
    while left > 0:
        conn.sendall(CHUNK[:min(left, len(CHUNK))])
        left -= min(left, len(CHUNK))


def many_headers(conn, count):
    lines = b"".join(FILLER % i for i in range(count))
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 2\r\n\r\nok")


def answer(conn):
    path = read_request(conn)
    if path == "/endless-body":
        endless_body(conn)
    elif path == "/announced-huge":
        announced_huge(conn)
    elif path == "/endless-headers":
        endless_headers(conn)
    elif path.startswith("/body/"):
        sized_body(conn, int(path[6:]))
    elif path.startswith("/headers/"):
        many_headers(conn, int(path[9:]))
    else:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def echo(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def run(conn, handler):
    try:
        handler(conn)
    except (OSError, ValueError, ssl.SSLError):
        pass
    finally:
        conn.close()


def serve(listener, handler, wrap=None):
    while True:
        conn, _ = listener.accept()
        if wrap:
            try:
                conn.settimeout(10)
                conn = wrap(conn)
                conn.settimeout(None)
            except (OSError, ssl.SSLError):
                conn.close()
                continue
        threading.Thread(target=run, args=(conn, handler), daemon=True).start()


def listening(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind((address, 0))
    listener.listen(128)
    return listener


def main():
    address, cert_dir = sys.argv[1], sys.argv[2]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(cert_dir, "localhost.pem"),
                            os.path.join(cert_dir, "localhost.key"))
    http, tls = listening(address), listening(address)
    threading.Thread(target=serve, args=(http, answer), daemon=True).start()
    wrap = lambda conn: context.wrap_socket(conn, server_side=True)
    threading.Thread(target=serve, args=(tls, echo, wrap), daemon=True).start()
    print("http=%d tls_echo=%d" % (http.getsockname()[1], tls.getsockname()[1]), flush=True)
    threading.Event().wait()


main()
