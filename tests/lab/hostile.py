"""Hostile and trivial TCP peers for the net and xmpp specs (issue 6), one port each:
  silent   accepts and never says a word
  garbage  answers the first bytes with bytes that are not XML, and keeps the socket open
  endless  answers with an XMPP stream header, then sends text forever
  echo     sends back what it receives
  tls_garbage  an XMPP server that says <proceed/> to STARTTLS, then sends bytes that are
               not TLS
  tls_silent   an XMPP server that says <proceed/> to STARTTLS, then never speaks again
  filtered_1, filtered_2, filtered_3  listeners whose accept queue is full: the kernel drops
               every SYN, so a connect times out as through a firewall that drops (filtered)
With CERT_DIR (tests/lab/certs.sh: ca.pem and the leaves below), XMPP servers that complete
STARTTLS with a certificate and restart the stream over TLS:
  sasl_external      contoso.pem (DNS:contoso.com); offers SASL EXTERNAL only
  no_auth            contoso.pem; offers neither SASL EXTERNAL nor dialback
  dialback_declared  contoso.pem; declares xmlns:db on the stream header, offers no feature
  srv_id             srv-id.pem (only an SRV-ID _xmpp-server.contoso.com); offers dialback
  xmpp_addr          xmpp-addr.pem (only an XmppAddr contoso.com); offers dialback
  srv_id_other_cn    srv-id-other.pem (SRV-ID _xmpp-server.fabrikam.com, CN contoso.com)
Usage: hostile.py ADDRESS BASE_PORT [CERT_DIR]  (ports BASE, BASE+1, ... in the order
above); prints "ready" once every port listens."""
import os
import socket
import ssl
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


OPEN = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
        b"xmlns:stream='http://etherx.jabber.org/streams' from='contoso.com' version='1.0'")
DIALBACK = b"<dialback xmlns='urn:xmpp:features:dialback'/>"
EXTERNAL = (b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
            b"<mechanism>EXTERNAL</mechanism></mechanisms>")


def over_tls(cert_dir, certificate, features, declare_dialback=False):
    """A handler: STARTTLS with CERT_DIR/certificate.pem, then the restarted stream's
    header (with xmlns:db if declare_dialback) and <stream:features>features</...>."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(cert_dir, certificate + ".pem"),
                            os.path.join(cert_dir, certificate + ".key"))
    header = OPEN + (b" xmlns:db='jabber:server:dialback'>" if declare_dialback else b">")

    def handler(conn):
        until_starttls(conn)
        tls = context.wrap_socket(conn, server_side=True)
        tls.recv(4096)
        tls.sendall(header + b"<stream:features>" + features + b"</stream:features>")
        silent(tls)
    return handler


def tls_peers(cert_dir):
    return (over_tls(cert_dir, "contoso", EXTERNAL),
            over_tls(cert_dir, "contoso", b""),
            over_tls(cert_dir, "contoso", b"", declare_dialback=True),
            over_tls(cert_dir, "srv-id", DIALBACK),
            over_tls(cert_dir, "xmpp-addr", DIALBACK),
            over_tls(cert_dir, "srv-id-other", DIALBACK))


def listening(family, address, port, backlog=128):
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen(backlog)
    return listener


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
    filtered = None            # backlog 0 holds one connection: ours; later SYNs are dropped
    handlers = [silent, garbage, endless, echo, tls_garbage, tls_silent,
                filtered, filtered, filtered]
    if len(sys.argv) > 3:
        handlers.extend(tls_peers(sys.argv[3]))
    threads, kept = [], []
    for port, handler in enumerate(handlers, start=base):
        if handler is filtered:
            kept += [listening(family, address, port, 0),
                     socket.create_connection((address, port))]
        else:
            threads.append(threading.Thread(target=serve, daemon=True,
                                            args=(listening(family, address, port), handler)))
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    threading.Event().wait()


main()
