#!/usr/bin/python3
# tests/lab/winrm_client.py ENDPOINT TRANSPORT USER PASSWORD CA_FILE COMMAND_LINE
#                           [OPERATION_TIMEOUT [MAX_ENVELOPE_SIZE [ENCRYPTION [CBT]]]]
# python3-winrm (pywinrm) as an independent client of the WinRM emulator
# (tests/winrm_emulator_spec.lua): opens a shell, runs COMMAND_LINE (its first word as the
# command, the rest as arguments, as pywinrm's run_command takes them), reads the output,
# signals terminate, deletes the shell, and prints {"stdout":, "stderr":, "status":}; on
# failure {"error": "ExceptionClass: message"} and exit 1.
# TRANSPORT is basic or ntlm; ntlm needs MD4: run with OPENSSL_CONF set to winrm.sh's
# openssl_conf. OPERATION_TIMEOUT is in seconds (default 20). MAX_ENVELOPE_SIZE replaces
# the 153600 bytes pywinrm always asks for (empty: keep it). ENCRYPTION is pywinrm's
# message_encryption: auto (default: sealed over http, not over https), always or never;
# CBT "nocbt" keeps requests_ntlm from sending the TLS channel binding. TRANSPORT kerberos
# (requests_kerberos) takes its ticket from KRB5CCNAME, for HTTP/$KERBEROS_HOST.
import json
import os
import sys

import winrm.protocol


class Protocol(winrm.protocol.Protocol):
    max_envelope_size = None

    def _get_soap_header(self, *args, **kwargs):
        header = super()._get_soap_header(*args, **kwargs)
        if self.max_envelope_size:
            header["env:Header"]["w:MaxEnvelopeSize"]["#text"] = str(self.max_envelope_size)
        return header


def run(protocol, command_line):
    words = command_line.split(" ")
    shell_id = protocol.open_shell()
    try:
        command_id = protocol.run_command(shell_id, words[0], words[1:])
        try:
            stdout, stderr, status = protocol.get_command_output(shell_id, command_id)
        finally:
            protocol.cleanup_command(shell_id, command_id)
    finally:
        protocol.close_shell(shell_id)
    return {"stdout": stdout.decode("utf-8", "replace"),
            "stderr": stderr.decode("utf-8", "replace"), "status": status}


def main(argv):
    endpoint, transport, user, password, ca_file, command_line = argv[1:7]
    timeout = int(argv[7]) if len(argv) > 7 else 20
    try:
        extra = {}
        if transport == "kerberos":    # the ticket from KRB5CCNAME, for HTTP/<KERBEROS_HOST>
            extra["kerberos_hostname_override"] = os.environ["KERBEROS_HOST"]
        protocol = Protocol(endpoint=endpoint, transport=transport, username=user,
                            password=password, server_cert_validation="validate",
                            ca_trust_path=ca_file, operation_timeout_sec=timeout,
                            read_timeout_sec=timeout + 10,
                            message_encryption=argv[9] if len(argv) > 9 else "auto", **extra)
        protocol.max_envelope_size = int(argv[8]) if len(argv) > 8 and argv[8] else None
        if len(argv) > 10 and argv[10] == "nocbt":
            protocol.transport.build_session()
            protocol.transport.session.auth.send_cbt = False
        result = run(protocol, command_line)
    except Exception as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
