#!/usr/bin/python3
# tests/lab/gssapi_winrm_client.py ENDPOINT HOST COMMAND_LINE [plain]
# The project's own small WinRM client for Kerberos over HTTP with message encryption
# (MS-WSMV 2.2.9.1), written here with python3-gssapi: Debian ships none (python3-kerberos
# cannot wrap, and pyspnego is not packaged). It proves the WinRM emulator's Kerberos
# sealing independently of runbook: another language, another GSS-API binding, another
# HTTP stack. The envelopes come from python3-winrm's Protocol; the authentication, the
# sealing and the HTTP exchange are this file's.
#   ENDPOINT  http://ADDRESS:PORT/wsman     HOST  the server's name: the SPN is HTTP/HOST
#   plain     send the envelopes unsealed after authenticating (the emulator must refuse)
# The ticket comes from KRB5CCNAME (kinit), the realm from KRB5_CONFIG. Prints
# {"stdout":, "stderr":, "status":, "sealed": N} (N: answers that came sealed and were
# unsealed), or {"error": "..."} and exit 1.
import base64
import http.client
import json
import re
import struct
import sys
import urllib.parse

import gssapi
from gssapi.raw import IOV, IOVBufferType, unwrap_iov, wrap_iov
import winrm.protocol

ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"
SOAP = "application/soap+xml;charset=UTF-8"


class KerberosTransport:
    """One keep-alive HTTP connection authenticated with Kerberos (mutual), then every
    envelope sealed with the context: the signature is the wrap token's header (its
    trailer rotated into it), the data encrypted in place, as gss_wrap_iov with HEADER,
    DATA and PADDING makes it (SSPI's EncryptMessage)."""

    def __init__(self, endpoint, host, seal=True):
        url = urllib.parse.urlsplit(endpoint)
        self.path, self.seal, self.sealed_answers = url.path, seal, 0
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
        flag = gssapi.RequirementFlag
        self.context = gssapi.SecurityContext(
            name=gssapi.Name("HTTP@" + host, gssapi.NameType.hostbased_service),
            mech=gssapi.MechType.kerberos, usage="initiate",
            flags=flag.mutual_authentication | flag.confidentiality | flag.integrity
            | flag.replay_detection | flag.out_of_sequence_detection)

    def post(self, body, headers):
        self.connection.request("POST", self.path, body=body, headers=headers)
        response = self.connection.getresponse()
        return response, response.read()

    def authenticate(self):
        """The handshake on an empty body; the AP-REP comes with the 200 (mutual)."""
        token = self.context.step()
        while True:
            response, _ = self.post(b"", {"Authorization": "Negotiate "
                                          + base64.b64encode(token).decode(),
                                          "Content-Type": SOAP})
            offered = response.getheader("WWW-Authenticate", "")
            match = re.match(r"Negotiate\s+([A-Za-z0-9+/=]+)", offered)
            if match:
                token = self.context.step(base64.b64decode(match.group(1)))
            if response.status != 401 and self.context.complete:
                return
            if response.status == 401 and not match:
                raise RuntimeError("the server refused the Kerberos authentication")
            if response.status != 401:
                raise RuntimeError("HTTP %d without the mutual authentication" % response.status)

    def sealed_body(self, plain):
        iov = IOV(IOVBufferType.header, plain, IOVBufferType.padding, std_layout=False)
        wrap_iov(self.context, iov, confidential=True)
        signature, sealed = iov[0].value, iov[1].value + (iov[2].value or b"")
        return (BOUNDARY + b"\r\n\tContent-Type: " + ENCRYPTED.encode() + b"\r\n"
                + b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
                + str(len(plain)).encode() + b"\r\n" + BOUNDARY + b"\r\n"
                + b"\tContent-Type: application/octet-stream\r\n"
                + struct.pack("<I", len(signature)) + signature + sealed
                + BOUNDARY + b"--\r\n")

    def unsealed(self, body):
        head, _, rest = body.partition(b"\tContent-Type: application/octet-stream\r\n")
        declared = int(re.search(rb"Length=(\d+)", head).group(1))
        rest = rest[:-len(BOUNDARY + b"--\r\n")]
        length = struct.unpack_from("<I", rest)[0]
        iov = IOV((IOVBufferType.header, False, rest[4:4 + length]), rest[4 + length:],
                  std_layout=False)
        unwrap_iov(self.context, iov)
        if len(iov[1].value) != declared:
            raise RuntimeError("the sealed answer is not of the length it declares")
        self.sealed_answers += 1
        return iov[1].value

    def send_message(self, message):
        if not self.context.complete:
            self.authenticate()
        plain = message.encode("utf-8") if isinstance(message, str) else message
        if self.seal:
            response, body = self.post(self.sealed_body(plain), {"Content-Type":
                'multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"' % ENCRYPTED})
        else:
            response, body = self.post(plain, {"Content-Type": SOAP})
        if response.getheader("Content-Type", "").startswith("multipart/encrypted"):
            body = self.unsealed(body)
        if response.status == 500:
            raise winrm.exceptions.WinRMTransportError("http", 500, body.decode())
        if response.status != 200:
            raise RuntimeError("HTTP %d: %s" % (response.status, body[:200]))
        return body


def main(argv):
    endpoint, host, command_line = argv[1:4]
    transport = KerberosTransport(endpoint, host, seal=not (len(argv) > 4 and argv[4] == "plain"))
    protocol = winrm.protocol.Protocol(endpoint=endpoint, transport="plaintext", username="x",
                                       password="x")
    protocol.transport = transport
    words = command_line.split(" ")
    shell_id = protocol.open_shell()
    try:
        command_id = protocol.run_command(shell_id, words[0], words[1:])
        stdout, stderr, status = protocol.get_command_output(shell_id, command_id)
        protocol.cleanup_command(shell_id, command_id)
    finally:
        protocol.close_shell(shell_id)
    print(json.dumps({"stdout": stdout.decode("utf-8", "replace"),
                      "stderr": stderr.decode("utf-8", "replace"), "status": status,
                      "sealed": transport.sealed_answers}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as error:   # the test reads the class and the message
        print(json.dumps({"error": "%s: %s" % (type(error).__name__, error)}))
        sys.exit(1)
