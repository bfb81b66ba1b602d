"""Hostile and trivial TCP peers for the net and xmpp specs (issue 6), one port each:
  silent   accepts and never says a word
  garbage  answers the first bytes with bytes that are not XML, and keeps the socket open
  endless  answers with an XMPP stream header, then sends text forever
  echo     sends back what it receives
  tls_garbage  an XMPP server that says <proceed/> to STARTTLS, then sends bytes that are
               not TLS
  tls_silent   an XMPP server that says <proceed/> to STARTTLS, then never speaks again
Usage: hostile.py ADDRESS BASE_PORT  (ports BASE..BASE+5 in the order above); prints
"ready" once every port listens."""
import socket
import sys
import threading

GARBAGE = b"\x16\x03\x01\x02\x00 this is not XML <<<&&& \x00\xff\n"
HEADER = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
          b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
          b"<stream:features><dialback xmlns='urn:xmpp:features:dialback'/>")


def silent(conn):
    while conn.recv(4096):
        pass


def garbage(conn):
    conn.recv(4096)
    conn.sendall(GARBAGE)
    silent(conn)


def endless(conn):
    conn.recv(4096)
    conn.sendall(HEADER)
    chunk = b"x" * 16384
    while True:
        conn.sendall(chunk)


def echo(conn):
    while True:
        data = conn.recv(4096)
        if not data:
            return
        conn.sendall(data)


STARTTLS = (HEADER + b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
            b"</stream:features>")
PROCEED = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


def until_starttls(conn):
    seen = b""
    conn.recv(4096)
    conn.sendall(STARTTLS)
    while b"<starttls" not in seen:
        data = conn.recv(4096)
        if not data:
            raise OSError("closed")
        seen += data
    conn.sendall(PROCEED)


def tls_garbage(conn):
    until_starttls(conn)
    conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\nthis is not TLS at all" * 4)
    silent(conn)


def tls_silent(conn):
    until_starttls(conn)
    silent(conn)


def serve(listener, handler):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=run, args=(conn, handler), daemon=True).start()


def run(conn, handler):
    try:
        handler(conn)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    address, base = sys.argv[1], int(sys.argv[2])
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    threads = []
    for offset, handler in enumerate((silent, garbage, endless, echo, tls_garbage, tls_silent)):
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, base + offset))
        listener.listen(128)
        threads.append(threading.Thread(target=serve, args=(listener, handler), daemon=True))
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    threading.Event().wait()


main()
