#!/usr/bin/python3
# tests/lab/winrm_emulator.py — the WinRM service of a Windows server (WS-Management, MS-WSMV,
# with the Windows Remote Shell resource), the Windows-side test double of the WinRM transport.
#
#   winrm_emulator.py --port PORT --user USER --password PASSWORD --state-dir DIR --log FILE
#                     --control FILE [--cert PEM --key PEM] [--max-envelope-kb N] ADDRESS...
#
# Listens on every ADDRESS at PORT, HTTPS with --cert/--key, plain HTTP without (a listener
# of a service with AllowUnencrypted=true); prints "ready" once all listen; exits 3 when an
# address is taken. tests/lab/winrm.sh starts and stops it.
#
# What it does, as the WinRM service of a workgroup host does:
#   POST /wsman, HTTP/1.1 keep-alive, Server: Microsoft-HTTPAPI/2.0;
#   401 with "WWW-Authenticate: Negotiate" and "Basic realm="WSMAN"" until the client
#   authenticates: Basic (per request), or NTLMv2 inside the Negotiate scheme (MS-NLMP; per
#   connection, MIC and TLS channel binding checked when the client sends them). The NTLM
#   scheme, Kerberos tokens, NTLMv1 and NTLM message encryption are refused;
#   the shell operations Create, Command, Send, Receive, Signal and Delete on
#   http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd, with Windows' faults:
#   w:TimedOut when a Receive sees nothing new within its OperationTimeout,
#   w:InvalidSelectors for an unknown ShellId or CommandId, 413 for a request larger than
#   MaxEnvelopeSizekb; Receive output cut to the request's MaxEnvelopeSize.
# A command line runs as tests/lab/lync-emulator STATE_DIR (LYNC_COMMAND_LINE, and
# LYNC_SERVER_ADDRESS: the address the client connected to, which names the server).
# The control file (JSON, read at every Command, may be absent): {"delay": SECONDS} holds
# back a command's output and completion that long.
# The log has a line per authentication ("auth ok basic|ntlm USER", "auth failed
# basic|ntlm USER", "auth refused SCHEME", "access denied USER filtered-token": a local
# administrator other than the built-in one, authenticated, then refused with 401 under
# --local-account-token-filter-policy 0, as Windows ships) and per operation, written once
# its answer is sent: "create SHELL", "command SHELL COMMAND", "send COMMAND BYTES [end]", "receive
# COMMAND Running|Done|timeout", "signal COMMAND terminate|ctrl_c", "delete SHELL",
# "fault SUBCODE CODE", "too large BYTES". Never a password, never stdin.
import argparse
import base64
import binascii
import errno
import hashlib
import hmac
import http.server
import json
import os
import queue
import re
import signal
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

HERE = os.path.dirname(os.path.abspath(__file__))
LYNC_EMULATOR = ["/usr/bin/lua5.4", os.path.join(HERE, "lync-emulator")]
COMPUTER = "WIN-LAB"                   # NetBIOS and DNS name of the emulated host
VERSION = bytes([6, 3]) + struct.pack("<H", 9600) + b"\0\0\0\x0f"   # Server 2012 R2

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CMD_URI = SHELL_URI + "/cmd"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
CTRL_C_EXIT = -1073741510              # STATUS_CONTROL_C_EXIT, the exit code after ctrl_c


# ------------------------------------------------------------------ MD4, RC4, NTLM (MS-NLMP)

def md4(data):
    """MD4 (RFC 1320): OpenSSL 3 offers it only through the legacy provider."""
    def rotate(x, n):
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF
    rounds = [
        (lambda x, y, z: (x & y) | (~x & z), 0, range(16), (3, 7, 11, 19)),
        (lambda x, y, z: (x & y) | (x & z) | (y & z), 0x5A827999,
         [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15], (3, 5, 9, 13)),
        (lambda x, y, z: x ^ y ^ z, 0x6ED9EBA1,
         [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15], (3, 9, 11, 15)),
    ]
    message = data + b"\x80" + b"\0" * ((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    for offset in range(0, len(message), 64):
        words = struct.unpack("<16I", message[offset:offset + 64])
        a, b, c, d = state
        for function, constant, order, shifts in rounds:
            for step, k in enumerate(order):
                a = (a + function(b, c, d) + words[k] + constant) & 0xFFFFFFFF
                a, b, c, d = d, rotate(a, shifts[step % 4]), b, c
        state = [(x + y) & 0xFFFFFFFF for x, y in zip(state, (a, b, c, d))]
    return struct.pack("<4I", *state)


def rc4(key, data):
    box, j = list(range(256)), 0
    for i in range(256):
        j = (j + box[i] + key[i % len(key)]) % 256
        box[i], box[j] = box[j], box[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + box[i]) % 256
        box[i], box[j] = box[j], box[i]
        out.append(byte ^ box[(box[i] + box[j]) % 256])
    return bytes(out)


def hmac_md5(key, data):
    return hmac.new(key, data, hashlib.md5).digest()


NTLMSSP = b"NTLMSSP\0"
UNICODE, OEM, REQUEST_TARGET, NTLM = 0x1, 0x2, 0x4, 0x200
TARGET_TYPE_SERVER, TARGET_INFO, KEY_EXCH = 0x20000, 0x800000, 0x40000000
ECHOED = (UNICODE | REQUEST_TARGET | 0x10 | 0x20 | 0x8000 | 0x80000 | 0x2000000
          | 0x20000000 | KEY_EXCH | 0x80000000)   # sign, seal, always sign, ESS, version, 128, 56
AV_EOL, AV_NB_COMPUTER, AV_NB_DOMAIN, AV_DNS_COMPUTER, AV_DNS_DOMAIN = 0, 1, 2, 3, 4
AV_FLAGS, AV_TIMESTAMP, AV_CHANNEL_BINDINGS = 6, 7, 10
MIC_PROVIDED = 0x2
SIGN, SEAL, ESS = 0x10, 0x20, 0x80000


def av_pairs(pairs):
    return b"".join(struct.pack("<HH", kind, len(value)) + value for kind, value in pairs)


def read_av_pairs(data):
    pairs, offset = {}, 0
    while offset + 4 <= len(data):
        kind, length = struct.unpack_from("<HH", data, offset)
        if kind == AV_EOL:
            break
        pairs[kind] = data[offset + 4:offset + 4 + length]
        offset += 4 + length
    return pairs


def challenge_message(negotiate, server_challenge):
    """The CHALLENGE_MESSAGE answering a NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.2, 3.2.5.1.1)."""
    asked = struct.unpack_from("<I", negotiate, 12)[0] if len(negotiate) >= 16 else UNICODE
    flags = (asked & ECHOED) | NTLM | TARGET_INFO | TARGET_TYPE_SERVER
    if not asked & UNICODE:
        flags |= OEM
    encode = (lambda text: text.encode("utf-16-le")) if flags & UNICODE else str.encode
    filetime = (int(time.time()) + 11644473600) * 10000000
    info = av_pairs([(AV_NB_DOMAIN, encode(COMPUTER)), (AV_NB_COMPUTER, encode(COMPUTER)),
                     (AV_DNS_DOMAIN, encode(COMPUTER.lower())),
                     (AV_DNS_COMPUTER, encode(COMPUTER.lower())),
                     (AV_TIMESTAMP, struct.pack("<Q", filetime)), (AV_EOL, b"")])
    target = encode(COMPUTER)
    return (NTLMSSP + struct.pack("<I", 2) + struct.pack("<HHI", len(target), len(target), 56)
            + struct.pack("<I", flags) + server_challenge + bytes(8)
            + struct.pack("<HHI", len(info), len(info), 56 + len(target)) + VERSION
            + target + info)


def field(message, offset):
    """The payload a (length, maximum, offset) field of an NTLM message points at."""
    length, _, start = struct.unpack_from("<HHI", message, offset)
    if start + length > len(message):
        raise ValueError("NTLM field out of the message")
    return message[start:start + length]


def verify_authenticate(message, negotiate, challenge, password, channel_binding,
                        cbt_required=False):
    """-> (user, domain, the NtlmSession when the AUTHENTICATE_MESSAGE's NTLMv2 response
    proves the password (MS-NLMP 3.3.2), else False). Fields are read by their offsets, so
    the header may be 64
    bytes (no Version), 72 (Version) or 88 (Version and MIC)."""
    if len(message) < 64 or message[:8] != NTLMSSP or struct.unpack_from("<I", message, 8)[0] != 3:
        raise ValueError("not an NTLM AUTHENTICATE_MESSAGE")
    flags = struct.unpack_from("<I", message, 60)[0]
    encoding = "utf-16-le" if flags & UNICODE else "latin-1"
    response = field(message, 20)
    domain, user = field(message, 28).decode(encoding), field(message, 36).decode(encoding)
    if len(response) <= 24:            # NTLMv1 (24 bytes) or anonymous (empty): refused
        return user, domain, False
    key = hmac_md5(md4(password.encode("utf-16-le")), (user.upper() + domain).encode("utf-16-le"))
    proof = hmac_md5(key, challenge[24:32] + response[16:])
    if not hmac.compare_digest(proof, response[:16]):
        return user, domain, False
    pairs = read_av_pairs(response[44:])
    binding = pairs.get(AV_CHANNEL_BINDINGS, bytes(16))
    if channel_binding and binding != bytes(16) and binding != channel_binding:
        return user, domain, False
    if cbt_required and binding != channel_binding:
        return user, domain, False     # CbtHardeningLevel Strict: the binding must be there
    exported = exported_session_key(message, hmac_md5(key, proof), flags)
    if struct.unpack("<I", pairs.get(AV_FLAGS, bytes(4)))[0] & MIC_PROVIDED:
        if not mic_matches(message, negotiate, challenge, exported):
            return user, domain, False
    return user, domain, NtlmSession(exported, flags)


def exported_session_key(message, session_base_key, flags):
    """The key both sides derive their keys from (MS-NLMP 3.2.5.1.2; NTLMv2: the key
    exchange key is the session base key)."""
    if flags & KEY_EXCH and len(field(message, 52)) == 16:
        return rc4(session_base_key, field(message, 52))
    return session_base_key


def mic_matches(message, negotiate, challenge, exported):
    """The MIC over the three messages, keyed by the exported session key (MS-NLMP 3.1.5.1.2)."""
    fields = [struct.unpack_from("<HHI", message, at) for at in range(12, 60, 8)]
    if min([start for length, _, start in fields if length] or [len(message)]) < 88:
        return False                   # no room for a MIC before the payload
    zeroed = message[:72] + bytes(16) + message[88:]
    return hmac.compare_digest(hmac_md5(exported, negotiate + challenge + zeroed), message[72:88])


class Rc4:
    """RC4 whose state runs on from message to message, as NTLM's sealing handles do."""
    def __init__(self, key):
        self.box, j = list(range(256)), 0
        for i in range(256):
            j = (j + self.box[i] + key[i % len(key)]) % 256
            self.box[i], self.box[j] = self.box[j], self.box[i]
        self.i = self.j = 0

    def __call__(self, data):
        out, box = bytearray(), self.box
        for byte in data:
            self.i = (self.i + 1) % 256
            self.j = (self.j + box[self.i]) % 256
            box[self.i], box[self.j] = box[self.j], box[self.i]
            out.append(byte ^ box[(box[self.i] + box[self.j]) % 256])
        return bytes(out)


class NtlmSession:
    """NTLM session security of an authenticated connection, the server's side (MS-NLMP
    3.4, extended session security, 128-bit keys): unseal what the client sealed, seal the
    answers. Each direction has its own keys, RC4 state and sequence number."""
    name = "ntlm"

    def __init__(self, exported, flags):
        def key(direction, purpose):
            return hashlib.md5(exported + f"session key to {direction} {purpose} key magic "
                               "constant\0".encode()).digest()
        self.flags = flags
        self.can_seal = bool(flags & SEAL) and bool(flags & ESS)
        self.client_sign, self.server_sign = key("client-to-server", "signing"), \
            key("server-to-client", "signing")
        self.client_seal, self.server_seal = Rc4(key("client-to-server", "sealing")), \
            Rc4(key("server-to-client", "sealing"))
        self.client_sequence = self.server_sequence = 0

    def checksum(self, sign_key, handle, sequence, message):
        digest = hmac_md5(sign_key, struct.pack("<I", sequence) + message)[:8]
        return handle(digest) if self.flags & KEY_EXCH else digest

    def unseal(self, signature, sealed):
        """-> the plaintext, or None when the signature does not verify."""
        message = self.client_seal(sealed)
        expected = self.checksum(self.client_sign, self.client_seal, self.client_sequence,
                                 message)
        wanted = struct.pack("<I", 1) + expected + struct.pack("<I", self.client_sequence)
        self.client_sequence += 1
        return message if hmac.compare_digest(signature, wanted) else None

    def seal(self, message):
        """-> (signature, sealed)"""
        sealed = self.server_seal(message)
        checksum = self.checksum(self.server_sign, self.server_seal, self.server_sequence,
                                 message)
        signature = struct.pack("<I", 1) + checksum + struct.pack("<I", self.server_sequence)
        self.server_sequence += 1
        return signature, sealed


def tls_channel_binding(certificate_pem):
    """-> (MD5 of the gss_channel_bindings_struct of "tls-server-end-point" (RFC 5929) for a
    certificate signed with SHA-256, the value an NTLM client puts in MsvAvChannelBindings;
    the application data itself, what a Kerberos acceptor is given)."""
    der = ssl.PEM_cert_to_DER_cert(certificate_pem)
    application = b"tls-server-end-point:" + hashlib.sha256(der).digest()
    return (hashlib.md5(struct.pack("<5I", 0, 0, 0, 0, len(application)) + application)
            .digest(), application)


class KerberosSession:
    """Kerberos session security of an authenticated connection, the server's side: the
    signature is the GSS wrap token's header (its trailer rotated into it), the data sealed
    in place — what gss_wrap_iov makes with a HEADER, DATA and PADDING buffer."""
    name = "kerberos"
    can_seal = True

    def __init__(self, context):
        self.context = context

    def unseal(self, signature, sealed):
        from gssapi.raw import IOV, IOVBufferType, unwrap_iov
        from gssapi.exceptions import GSSError
        iov = IOV((IOVBufferType.header, False, signature), sealed, std_layout=False)
        try:
            unwrap_iov(self.context, iov)
        except GSSError:
            return None
        return iov[1].value

    def seal(self, message):
        from gssapi.raw import IOV, IOVBufferType, wrap_iov
        iov = IOV(IOVBufferType.header, message, IOVBufferType.padding, std_layout=False)
        wrap_iov(self.context, iov, confidential=True)
        return iov[0].value, iov[1].value + (iov[2].value or b"")


# ------------------------------------------------------------------ encrypted messages

ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"


def encrypted_parts(body):
    """-> (declared length, signature, sealed data) of a multipart/encrypted body with one
    encrypted part (MS-WSMV 2.2.9.1.1); ValueError when it is not one."""
    head, octets, rest = body.partition(b"\tContent-Type: application/octet-stream\r\n")
    match = re.search(rb"OriginalContent: type=[^\r]*Length=(\d+)\r\n", head)
    if not octets or not match or not head.startswith(BOUNDARY + b"\r\n"):
        raise ValueError("not an encrypted message")
    if not rest.endswith(BOUNDARY + b"--\r\n"):
        raise ValueError("no closing boundary")
    rest = rest[:-len(BOUNDARY + b"--\r\n")]
    length = struct.unpack_from("<I", rest)[0]
    if 4 + length > len(rest):
        raise ValueError("signature out of the message")
    return int(match.group(1)), rest[4:4 + length], rest[4 + length:]


# ------------------------------------------------------------------ faults and envelopes

class Fault(Exception):
    """A SOAP fault as WinRM sends it: HTTP 500, s:Fault with a WSManFault detail."""
    def __init__(self, code, subcode, wsman_code, reason, message=None, detail=None):
        super().__init__(reason)
        self.code, self.subcode, self.wsman_code = code, subcode, wsman_code
        self.reason, self.message, self.detail = reason, message or reason, detail


INVALID_SELECTORS = ("The WS-Management service cannot process the request because the request "
                     "contained invalid selectors for the resource. ")
UNEXPECTED_SELECTORS = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors"
TIMED_OUT = ("The WS-Management service cannot complete the operation within the time "
             "specified in OperationTimeout.  ")


def shell_not_found(shell_id):
    return Fault("s:Sender", "w:InvalidSelectors", 2150858843, INVALID_SELECTORS,
                 f"The request for the Windows Remote Shell with ShellId {shell_id} failed "
                 "because the shell was not found on the server. Possible causes are: the "
                 "specified ShellId is incorrect or the shell no longer exists on the server. "
                 "Provide the correct ShellId or create a new shell and retry the operation. ",
                 UNEXPECTED_SELECTORS)


def command_not_found():
    return Fault("s:Sender", "w:InvalidSelectors", 2150858843, INVALID_SELECTORS,
                 "The Windows Remote Shell received a request to perform an operation on a "
                 "command identifier that does not exist. Either the command has completed "
                 "execution or the client specified an invalid command identifier. ",
                 UNEXPECTED_SELECTORS)


def schema_error():
    return Fault("s:Sender", "w:SchemaValidationError", 2150858817,
                 "The SOAP XML in the message does not match the corresponding XML schema "
                 "definition. Change the XML and retry. ")


ENVELOPE = ('<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
            'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
            'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
            'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
            'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
            '<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{message_id}</a:MessageID>'
            '<a:To>{to}</a:To>{relates_to}</s:Header><s:Body>{body}</s:Body></s:Envelope>')


def new_id():
    return str(uuid.uuid4()).upper()


def envelope(action, relates_to, body, message_id=None):
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    return ENVELOPE.format(action=action, message_id=message_id or new_id(), to=ANONYMOUS,
                           relates_to=relates, body=body).encode()


def fault_envelope(fault, relates_to, machine):
    detail = f"<w:FaultDetail>{fault.detail}</w:FaultDetail>" if fault.detail else ""
    body = (f'<s:Fault><s:Code><s:Value>{fault.code}</s:Value><s:Subcode><s:Value>'
            f'{fault.subcode}</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">'
            f'{escape(fault.reason)}</s:Text></s:Reason><s:Detail>{detail}'
            f'<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
            f'Code="{fault.wsman_code}" Machine={quoteattr(machine)}><f:Message>'
            f'{escape(fault.message)}</f:Message></f:WSManFault></s:Detail></s:Fault>')
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d*)?)S)?)?")


def duration_seconds(text, default):
    """xs:duration (PT60.000S, PT1S, P0DT0H1M0S) -> seconds."""
    match = DURATION.fullmatch(text.strip())
    if not match or not text.strip("P T"):
        return default
    days, hours, minutes, seconds = (float(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


# ------------------------------------------------------------------ commands and shells

class Command:
    """One process of a shell: its output kept until Receive takes it, its stdin fed in
    the background so that a Send never waits for the process to read."""
    def __init__(self, command_id, command_line, server_address, delay, state_dir):
        self.id = command_id
        self.visible_at = time.monotonic() + delay
        self.changed = threading.Condition()
        self.pending = {"stdout": bytearray(), "stderr": bytearray()}
        self.open_pipes, self.exit_code, self.interrupted = 2, None, False
        environment = dict(os.environ, LYNC_COMMAND_LINE=command_line,
                           LYNC_SERVER_ADDRESS=server_address)
        self.process = subprocess.Popen(LYNC_EMULATOR + [state_dir], env=environment,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.stdin = queue.Queue()
        for name in ("stdout", "stderr"):
            threading.Thread(target=self.pump, args=(name,), daemon=True).start()
        threading.Thread(target=self.feed, daemon=True).start()

    def pump(self, name):
        pipe = getattr(self.process, name)
        for chunk in iter(lambda: pipe.read1(65536), b""):
            with self.changed:
                self.pending[name] += chunk
                self.changed.notify_all()
        with self.changed:
            self.open_pipes -= 1
            last = self.open_pipes == 0
        if last:
            code = self.process.wait()
            with self.changed:
                self.exit_code = CTRL_C_EXIT if code < 0 and self.interrupted else code
                self.changed.notify_all()
            self.stdin.put(None)           # the feeder's end, should no Send say End

    def feed(self):
        for data in iter(self.stdin.get, None):
            try:
                self.process.stdin.write(data)
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError):
                return
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass

    def send(self, data, end):
        if data:
            self.stdin.put(data)
        if end:
            self.stdin.put(None)

    def has_news(self, desired):
        return time.monotonic() >= self.visible_at and (
            any(self.pending[name] for name in desired) or self.exit_code is not None)

    def receive(self, desired, timeout, room):
        """-> ([(stream, bytes)], done, exit_code) once there is output or the process ended,
        at most room bytes of output; None when nothing came within timeout seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not self.has_news(desired):
                now = time.monotonic()
                if now >= deadline:
                    return None
                wake = min(deadline, self.visible_at) if now < self.visible_at else deadline
                self.changed.wait(wake - now)
            pieces = []
            for name in desired:
                piece = bytes(self.pending[name][:room])
                del self.pending[name][:len(piece)]
                room -= len(piece)
                pieces.append((name, piece))
            done = self.exit_code is not None and not any(self.pending[name] for name in desired)
            return pieces, done, self.exit_code

    def kill(self, interrupted=False):
        self.interrupted = interrupted
        if self.process.poll() is None:
            self.process.kill()


class Shell:
    def __init__(self, shell_id, owner, client_ip, input_streams, output_streams):
        self.id, self.owner, self.client_ip = shell_id, owner, client_ip
        self.input_streams, self.output_streams = input_streams, output_streams
        self.commands = {}

    def command(self, command_id):
        if command_id not in self.commands:
            raise command_not_found()
        return self.commands[command_id]


# ------------------------------------------------------------------ the WS-Management service

class Request:
    """The parts of a request envelope the shell operations read."""
    def __init__(self, root, client, service):
        header, self.body = root.find("s:Header", NS), root.find("s:Body", NS)
        if header is None or self.body is None:
            raise schema_error()
        self.action = (header.findtext("wsa:Action", "", NS)).strip()
        self.message_id = header.findtext("wsa:MessageID", None, NS)
        self.resource_uri = (header.findtext("wsman:ResourceURI", "", NS)).strip()
        self.timeout = duration_seconds(header.findtext("wsman:OperationTimeout", "", NS), 60)
        size = (header.findtext("wsman:MaxEnvelopeSize", "", NS)).strip()
        self.max_envelope = min(int(size), service.max_envelope) if size.isdigit() \
            else service.max_envelope
        self.shell_id = header.findtext("wsman:SelectorSet/wsman:Selector[@Name='ShellId']",
                                        None, NS)
        self.client, self.notes = client, []

    def note(self, *words):
        """A log line, written just before the answer goes out: a client that has read the
        answer finds it in the log (it no longer waits for a delayed ACK that gave the
        emulator time to write it after)."""
        self.notes.append(words)


class Service:
    """The shells of the emulated host, shared by all its addresses."""
    def __init__(self, options):
        self.user, self.password = options.user, options.password
        self.allow_unencrypted, self.cbt_hardening = options.allow_unencrypted, \
            options.cbt_hardening
        self.auth_schemes = set(options.auth.split(","))
        self.kerberos = options.kerberos
        self.token_filter = options.local_account_token_filter_policy
        self.state_dir, self.control = options.state_dir, options.control
        self.max_envelope = options.max_envelope_kb * 1024
        self.log_file = open(options.log, "a", encoding="utf-8")
        self.tokens_file = open(options.tokens, "a", encoding="ascii") if options.tokens \
            else None
        self.log_lock, self.lock = threading.Lock(), threading.Lock()
        self.shells = {}
        self.operations = {
            TRANSFER + "Create": self.create, TRANSFER + "Delete": self.delete,
            SHELL_URI + "/Command": self.command, SHELL_URI + "/Send": self.send,
            SHELL_URI + "/Receive": self.receive, SHELL_URI + "/Signal": self.signal,
        }

    def filtered(self):
        """UAC's remote restrictions (LocalAccountTokenFilterPolicy 0, as Windows ships): a
        local account's network logon gets a filtered token, except the built-in
        Administrator's (RID 500, named Administrator). The account here is local: NTLM and
        Basic logons; Kerberos is a domain account's, never filtered."""
        return self.token_filter == 0 and self.user.lower() != "administrator"

    def log(self, *words):
        with self.log_lock:
            self.log_file.write(" ".join(str(word) for word in words) + "\n")
            self.log_file.flush()

    def saw_token(self, token):
        """Every Negotiate token on the wire, either way (base64), for the leak tests."""
        if self.tokens_file and token:
            with self.log_lock:
                self.tokens_file.write(token + "\n")
                self.tokens_file.flush()

    def handle(self, body, client):
        """-> (HTTP status, response envelope, log lines) for an authenticated request body."""
        relates_to, notes = None, []
        try:
            try:
                root = ET.fromstring(body)
            except ET.ParseError:
                raise schema_error()
            request = Request(root, client, self)
            relates_to, notes = request.message_id, request.notes
            operation = self.operations.get(request.action)
            if operation is None:
                raise Fault("s:Sender", "a:ActionNotSupported", 2150858771,
                            "The WS-Management service does not support the action specified "
                            "in the request. ")
            if request.resource_uri != CMD_URI:
                raise Fault("s:Sender", "w:DestinationUnreachable", 2150858752,
                            "The WS-Management service cannot process the request. The "
                            "service cannot find the resource identified by the resource URI "
                            "and selectors. ")
            if request.max_envelope < 8192:
                raise Fault("s:Sender", "w:EncodingLimit", 2150858878,
                            "The WS-Management service cannot process the request because the "
                            "envelope size in the request is too small. ")
            return 200, envelope(request.action + "Response", relates_to, operation(request)), notes
        except Fault as fault:
            notes.append(("fault", fault.subcode.partition(":")[2], fault.wsman_code))
            return 500, fault_envelope(fault, relates_to, client["address"]), notes

    def shell_of(self, request):
        with self.lock:
            if request.shell_id not in self.shells:
                raise shell_not_found(request.shell_id)
            return self.shells[request.shell_id]

    def create(self, request):
        shell_element = request.body.find("rsp:Shell", NS)
        if shell_element is None:
            raise schema_error()
        client = request.client
        shell = Shell(new_id(), client["user"], client["peer"],
                      shell_element.findtext("rsp:InputStreams", "stdin", NS),
                      shell_element.findtext("rsp:OutputStreams", "stdout stderr", NS))
        with self.lock:
            self.shells[shell.id] = shell
        request.note("create", shell.id)
        return (f'<x:ResourceCreated><a:Address>{escape(client["url"])}</a:Address>'
                f'<a:ReferenceParameters><w:ResourceURI>{CMD_URI}</w:ResourceURI><w:SelectorSet>'
                f'<w:Selector Name="ShellId">{shell.id}</w:Selector></w:SelectorSet>'
                f'</a:ReferenceParameters></x:ResourceCreated>'
                f'<rsp:Shell xmlns:rsp="{SHELL_URI}"><rsp:ShellId>{shell.id}</rsp:ShellId>'
                f'<rsp:ResourceUri>{CMD_URI}</rsp:ResourceUri>'
                f'<rsp:Owner>{escape(shell.owner)}</rsp:Owner>'
                f'<rsp:ClientIP>{escape(shell.client_ip)}</rsp:ClientIP>'
                f'<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>'
                f'<rsp:InputStreams>{escape(shell.input_streams)}</rsp:InputStreams>'
                f'<rsp:OutputStreams>{escape(shell.output_streams)}</rsp:OutputStreams>'
                f'<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>'
                f'<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>')

    def control_delay(self):
        try:
            with open(self.control, encoding="utf-8") as file:
                return float(json.load(file).get("delay", 0))
        except (OSError, ValueError, AttributeError, TypeError):
            return 0.0

    def command(self, request):
        shell = self.shell_of(request)
        line = request.body.find("rsp:CommandLine", NS)
        if line is None:
            raise schema_error()
        words = [line.findtext("rsp:Command", "", NS)]
        words += [argument.text or "" for argument in line.findall("rsp:Arguments", NS)]
        command = Command(new_id(), " ".join(words), request.client["address"],
                          self.control_delay(), self.state_dir)
        with self.lock:
            shell.commands[command.id] = command
        request.note("command", shell.id, command.id)
        return (f"<rsp:CommandResponse><rsp:CommandId>{command.id}</rsp:CommandId>"
                "</rsp:CommandResponse>")

    def send(self, request):
        shell = self.shell_of(request)
        for stream in request.body.findall("rsp:Send/rsp:Stream", NS):
            command = shell.command(stream.get("CommandId"))
            try:
                data = base64.b64decode(stream.text or "", validate=True)
            except binascii.Error:
                raise schema_error()
            end = stream.get("End", "false").lower() in ("true", "1")
            command.send(data, end)
            request.note("send", command.id, len(data), *(["end"] if end else []))
        return "<rsp:SendResponse/>"

    def receive(self, request):
        shell = self.shell_of(request)
        desired_element = request.body.find("rsp:Receive/rsp:DesiredStream", NS)
        if desired_element is None:
            raise schema_error()
        command = shell.command(desired_element.get("CommandId"))
        desired = [name for name in (desired_element.text or "").split()
                   if name in ("stdout", "stderr")] or ["stdout", "stderr"]
        largest = envelope(request.action + "Response", request.message_id,
                           receive_body(command.id, [], True, -2 ** 31, desired), new_id())
        room = request.max_envelope - len(largest) - sum(
            len(stream_element(name, command.id, "")) for name in desired)
        result = command.receive(desired, request.timeout, max(room, 0) // 4 * 3)
        if result is None:
            request.note("receive", command.id, "timeout")
            raise Fault("s:Receiver", "w:TimedOut", 2150858793, TIMED_OUT)
        pieces, done, exit_code = result
        request.note("receive", command.id, "Done" if done else "Running")
        return receive_body(command.id, pieces, done, exit_code, desired)

    def signal(self, request):
        shell = self.shell_of(request)
        element = request.body.find("rsp:Signal", NS)
        if element is None:
            raise schema_error()
        command = shell.command(element.get("CommandId"))
        code = element.findtext("rsp:Code", "", NS).strip().rpartition("/")[2]
        if code == "terminate":
            command.kill()
            with self.lock:
                shell.commands.pop(command.id, None)
        elif code == "ctrl_c":
            command.kill(interrupted=True)
        request.note("signal", command.id, code)
        return "<rsp:SignalResponse/>"

    def delete(self, request):
        shell = self.shell_of(request)
        with self.lock:
            self.shells.pop(shell.id, None)
        for command in list(shell.commands.values()):
            command.kill()
        request.note("delete", shell.id)
        return ""

    def stop(self):
        with self.lock:
            for shell in self.shells.values():
                for command in shell.commands.values():
                    command.kill()


def stream_element(name, command_id, data_base64, end=False):
    ending = ' End="true"' if end else ""
    return f'<rsp:Stream Name="{name}" CommandId="{command_id}"{ending}>{data_base64}</rsp:Stream>'


def receive_body(command_id, pieces, done, exit_code, desired):
    parts = [stream_element(name, command_id, base64.b64encode(data).decode())
             for name, data in pieces if data]
    state = SHELL_URI + "/CommandState/" + ("Done" if done else "Running")
    if done:
        parts += [stream_element(name, command_id, "", end=True) for name in desired]
        parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{state}">'
                     f'<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>')
    else:
        parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{state}"/>')
    return "<rsp:ReceiveResponse>" + "".join(parts) + "</rsp:ReceiveResponse>"


# ------------------------------------------------------------------ HTTP and authentication

def log_word(text):
    """A name a client sent, as one word of a log line."""
    return re.sub(r"\s", "_", text) or "?"


class WsmanHandler(http.server.BaseHTTPRequestHandler):
    """One client connection: its NTLM state lives here, as HTTP.sys binds NTLM to it."""
    protocol_version = "HTTP/1.1"
    timeout = 120                      # HTTP.sys's idle connection timeout

    def setup(self):
        if self.server.tls:
            self.request.settimeout(self.timeout)
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()
        self.ntlm_pending, self.ntlm_user, self.session = None, None, None
        self.kerberos_pending, self.auth_reply = None, None

    def version_string(self):
        return "Microsoft-HTTPAPI/2.0"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        self.send_auth_reply()
        for name, value in headers:
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def refuse(self, negotiate_token=None):
        negotiate = "Negotiate" + (" " + negotiate_token if negotiate_token else "")
        self.server.service.saw_token(negotiate_token)
        headers = [("WWW-Authenticate", negotiate)] if self.server.accepts("negotiate") else []
        if not negotiate_token and self.basic_allowed():
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        self.answer(401, headers=headers)

    def send_auth_reply(self):
        """The acceptor's last token (Kerberos' AP-REP, mutual authentication) goes with the
        answer to the request it authenticated, as HTTP.sys sends it."""
        if self.auth_reply:
            self.server.service.saw_token(self.auth_reply)
            self.send_header("WWW-Authenticate", "Negotiate " + self.auth_reply)
            self.auth_reply = None

    def basic_allowed(self):
        """Basic is offered where it is on, and over HTTP only with AllowUnencrypted."""
        return self.server.accepts("basic") and (self.server.tls or
                                                 self.server.service.allow_unencrypted)

    def answer_sealed(self, status, body):
        """An answer in the encrypted message format of the request (MS-WSMV 2.2.9.1)."""
        signature, sealed = self.session.seal(body)
        payload = (BOUNDARY + b"\r\n\tContent-Type: " + ENCRYPTED.encode() + b"\r\n"
                   + b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
                   + str(len(body)).encode() + b"\r\n" + BOUNDARY + b"\r\n"
                   + b"\tContent-Type: application/octet-stream\r\n"
                   + struct.pack("<I", len(signature)) + signature + sealed
                   + BOUNDARY + b"--\r\n")
        self.send_response(status)
        self.send_auth_reply()
        self.send_header("Content-Type", f'multipart/encrypted;protocol="{ENCRYPTED}";'
                                         'boundary="Encrypted Boundary"')
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def unseal(self, body):
        """The envelope inside an encrypted request, or None (logged) when it is not one
        this connection's security context sealed."""
        service = self.server.service
        try:
            declared, signature, sealed = encrypted_parts(body)
        except (ValueError, struct.error):
            service.log("sealed refused malformed")
            return None
        if self.session is None or not self.session.can_seal:
            service.log("sealed refused no-session")
            return None
        plain = self.session.unseal(signature, sealed)
        if plain is None or len(plain) != declared:
            service.log("sealed refused signature")
            return None
        service.log("sealed", self.session.name, len(plain))
        return plain

    def read_body(self):
        """The request body: Content-Length bytes, chunks, or none (RFC 9112 6.3)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass                       # trailer fields
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self):
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            return self.answer(400)
        if self.path.partition("?")[0].rstrip("/").lower() != "/wsman":
            return self.answer(404)
        user = self.authenticate()
        if user is None:
            return
        service = self.server.service
        content_type = self.headers.get("Content-Type", "").lower()
        sealed = content_type.startswith("multipart/encrypted")
        if sealed:
            if f'protocol="{ENCRYPTED.lower()}"' not in content_type:
                return self.answer(415)
            body = self.unseal(body)
            if body is None:
                self.close_connection = True
                return self.answer(400)
        elif not body:
            return self.answer(200)    # the empty request that completes authentication
        elif not self.server.tls and not service.allow_unencrypted:
            service.log("auth refused unencrypted")       # AllowUnencrypted = false
            self.session, self.ntlm_user = None, None
            return self.refuse()
        elif not content_type.startswith("application/soap+xml"):
            return self.answer(415)
        if len(body) > service.max_envelope:
            service.log("too large", len(body))
            return self.answer(413)
        local, port = self.connection.getsockname()[:2]
        scheme = "https" if self.server.tls else "http"
        client = {"user": user, "address": local, "peer": self.client_address[0],
                  "url": f"{scheme}://{local}:{port}/wsman"}
        try:
            status, response, notes = service.handle(body, client)
        except Exception as error:     # a bug of the emulator: the client sees a fault
            print(f"internal error: {error!r}", file=sys.stderr, flush=True)
            status, response, notes = 500, fault_envelope(Fault(
                "s:Receiver", "w:InternalError", 2150858755,
                "An error was encountered inside the plugin. "), None, local), []
        for words in notes:
            service.log(*words)
        if sealed:
            return self.answer_sealed(status, response)
        self.answer(status, response)

    def refuse_method(self):
        self.answer(405, headers=[("Allow", "POST")])
    do_GET = do_PUT = do_DELETE = refuse_method

    def authenticate(self):
        """-> the user name, or None once the 401 went out."""
        scheme, _, token = self.headers.get("Authorization", "").strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and self.basic_allowed():
            return self.basic(token.strip())
        if scheme == "negotiate" and self.server.accepts("negotiate"):
            self.server.service.saw_token(token.strip())
            return self.negotiate(token.strip())
        if not scheme and self.ntlm_user:
            return self.ntlm_user
        if scheme:
            self.server.service.log("auth refused", scheme)
        self.refuse()
        return None

    def basic(self, token):
        service = self.server.service
        try:
            credentials = base64.b64decode(token, validate=True).decode("utf-8")
            user, _, password = credentials.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, password = "?", None
        name = user.rpartition("\\")[2]
        if name.lower() == service.user.lower() and password == service.password:
            service.log("auth ok basic", service.user)
            if service.filtered():
                return self.access_denied()
            return service.user
        service.log("auth failed basic", log_word(name))
        self.refuse()
        return None

    def negotiate(self, token):
        service = self.server.service
        try:
            message = base64.b64decode(token, validate=True)
        except binascii.Error:
            message = b""
        kind = struct.unpack_from("<I", message, 8)[0] if len(message) >= 12 else 0
        if not message.startswith(NTLMSSP) and service.kerberos and message:
            return self.kerberos(message)
        if not message.startswith(NTLMSSP) or kind not in (1, 3):
            service.log("auth refused negotiate")     # SPNEGO: Kerberos, not for this host
            self.refuse()
            return None
        if kind == 1:
            self.ntlm_user = None
            challenge = challenge_message(message, os.urandom(8))
            self.ntlm_pending = (message, challenge)
            self.refuse(base64.b64encode(challenge).decode())
            return None
        user, ok = "?", False
        if self.ntlm_pending:
            negotiate, challenge = self.ntlm_pending
            try:
                user, _, ok = verify_authenticate(message, negotiate, challenge,
                                                  service.password, self.server.channel_binding,
                                                  self.server.cbt_required())
            except (ValueError, struct.error, UnicodeDecodeError):
                pass
        self.ntlm_pending = None
        if ok and user.lower() == service.user.lower():
            service.log("auth ok ntlm", service.user)
            if service.filtered():
                return self.access_denied()
            self.ntlm_user, self.session = service.user, ok
            return service.user
        service.log("auth failed ntlm", log_word(user))
        self.refuse()
        return None


    def access_denied(self):
        """A local administrator's network logon under UAC's remote restrictions: the logon
        succeeds with a filtered token (Administrators for deny only), WinRM's access check
        on it fails, and the client gets 401 as for a wrong password."""
        self.server.service.log("access denied", self.server.service.user, "filtered-token")
        self.refuse()
        return None

    def kerberos(self, token):
        """A Kerberos (or SPNEGO) token, accepted with the service's keytab (KRB5_KTNAME)
        through MIT's GSS-API; over HTTPS bound to the channel unless CbtHardeningLevel is
        None (MIT refuses a binding that differs; one the client left out it accepts)."""
        import gssapi
        service = self.server.service
        context = self.kerberos_pending
        if context is None:
            bindings = None
            if self.server.binding_data:
                bindings = gssapi.raw.ChannelBindings(application_data=self.server.binding_data)
            context = gssapi.SecurityContext(usage="accept", channel_bindings=bindings)
        reply, failure = None, None
        try:
            reply = context.step(token)
            complete = context.complete     # a failed step leaves its error for here
        except gssapi.exceptions.GSSError as error:
            failure = error
        encoded = base64.b64encode(reply).decode() if reply else None
        if failure:
            # the KRB-ERROR (clock skew, a key that does not match) goes back in the 401,
            # as SSPI hands it to HTTP.sys: the client's GSS-API reads the reason from it
            self.kerberos_pending = None
            reason = failure.gen_message().rpartition("): ")[2].partition(",")[0]
            service.log("auth failed kerberos", log_word(reason))
            self.refuse(encoded)
            return None
        if not complete:
            self.kerberos_pending = context
            self.refuse(encoded)
            return None
        self.kerberos_pending = None
        principal = str(context.initiator_name)
        if principal.partition("@")[0].lower() != service.user.lower():
            service.log("auth failed kerberos", log_word(principal))
            self.refuse()
            return None
        self.ntlm_user, self.session, self.auth_reply = service.user, KerberosSession(context), \
            encoded
        service.log("auth ok kerberos", principal)
        return service.user


class WsmanServer(http.server.ThreadingHTTPServer):
    def __init__(self, address, port, service, tls, channel_binding):
        self.service, self.tls = service, tls
        hardening = service.cbt_hardening
        self.channel_binding = channel_binding[0] if channel_binding and hardening != "none" \
            else None
        self.binding_data = channel_binding[1] if channel_binding and hardening != "none" \
            else None
        super().__init__((address, port), WsmanHandler)

    def accepts(self, scheme):
        return scheme in self.service.auth_schemes

    def cbt_required(self):
        """CbtHardeningLevel Strict: over HTTPS, a client must bind its authentication."""
        return bool(self.tls) and self.service.cbt_hardening == "strict"

    def server_bind(self):
        # HTTPServer's own looks the address up in the DNS (getfqdn); there is none here
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        print(f"connection from {client_address[0]}: {sys.exc_info()[1]!r}", file=sys.stderr,
              flush=True)


def options_from(argv):
    parser = argparse.ArgumentParser(description="WinRM (WS-Management) service emulator")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--max-envelope-kb", type=int, default=500)
    parser.add_argument("--allow-unencrypted", action="store_true",
                        help="AllowUnencrypted = true: plain SOAP over an HTTP listener")
    parser.add_argument("--cbt-hardening", choices=("none", "relaxed", "strict"),
                        default="relaxed", help="CbtHardeningLevel (Windows: Relaxed)")
    parser.add_argument("--kerberos", action="store_true",
                        help="accept Kerberos in Negotiate (keytab: KRB5_KTNAME)")
    parser.add_argument("--auth", default="basic,negotiate",
                        help="the schemes the service accepts: basic, negotiate")
    parser.add_argument("--local-account-token-filter-policy", type=int, choices=(0, 1),
                        default=0, help="0 (as Windows ships): a local administrator other "
                        "than the built-in one is refused remotely (UAC); 1: not filtered")
    parser.add_argument("--tokens", help="a file that gets every Negotiate token, base64")
    parser.add_argument("addresses", nargs="+")
    return parser.parse_args(argv)


def main(argv):
    options = options_from(argv)
    service = Service(options)
    tls, channel_binding = None, None
    if options.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(options.cert, options.key)
        with open(options.cert, encoding="ascii") as file:
            channel_binding = tls_channel_binding(file.read())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    servers = []
    for address in options.addresses:
        try:
            servers.append(WsmanServer(address, options.port, service, tls, channel_binding))
        except OSError as error:
            print(f"cannot listen on {address}:{options.port}: {error.strerror}", file=sys.stderr)
            return 3 if error.errno == errno.EADDRINUSE else 1
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    stop.wait()
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
