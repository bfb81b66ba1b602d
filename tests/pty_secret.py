#!/usr/bin/env python3
"""pty_secret.py PROMPT SECRET PROGRAM [ARG...] -- runs PROGRAM on a pseudo-terminal and types
SECRET at PROMPT, as an operator would once the terminal stops echoing (tests/engine_spec.lua).

tests/pty_session.py types as soon as the text appears; this waits after PROMPT until the
terminal's ECHO flag is off (at most 5 s, then types all the same, so that an echo shows).
Prints everything the terminal showed, then "echo=off" or "echo=on" (the flag when SECRET
was typed) and "exit=N". Gives up after 20 s without PROMPT.
"""
import os
import pty
import select
import signal
import sys
import termios
import time


def read_until(fd, text, seen, seconds):
    """Reads into seen until it holds text; True if it did within seconds."""
    deadline = time.monotonic() + seconds
    while text not in seen:
        left = deadline - time.monotonic()
        ready = left > 0 and select.select([fd], [], [], left)[0]
        if not ready:
            return False
        try:
            chunk = os.read(fd, 4096)
        except OSError:            # the program closed the terminal
            return False
        if not chunk:
            return False
        seen += chunk
    return True


def echo_on(fd):
    return bool(termios.tcgetattr(fd)[3] & termios.ECHO)


def main():
    prompt, secret = sys.argv[1].encode(), sys.argv[2].encode()
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.argv[3], sys.argv[3:])
    seen = bytearray()
    echo = "on"
    if read_until(fd, prompt, seen, 20):
        deadline = time.monotonic() + 5
        while echo_on(fd) and time.monotonic() < deadline:
            time.sleep(0.01)
        echo = "on" if echo_on(fd) else "off"
        os.write(fd, secret + b"\n")
    else:
        os.kill(pid, signal.SIGKILL)
    read_until(fd, b"\0never\0", seen, 20)     # everything until the program ends
    sys.stdout.buffer.write(bytes(seen))
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    sys.stdout.write("\necho=%s\nexit=%d\n" % (echo, code if code >= 0 else 128 - code))
    sys.stdout.flush()


main()
