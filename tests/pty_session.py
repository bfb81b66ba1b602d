#!/usr/bin/env python3
"""pty_session.py SCRIPT_JSON PROGRAM [ARG...] -- drives PROGRAM through a pseudo-terminal,
as an operator at a keyboard would (tests/repl_spec.lua).

SCRIPT_JSON is a list of steps: ["expect", TEXT] waits until TEXT has appeared in the output
since the previous expect (at most 20 s, then gives up); ["send", TEXT] types TEXT ("\\u0003"
is Ctrl-C, "\\u0004" Ctrl-D); ["editing"] waits until the terminal has left canonical mode,
i.e. a line editor reads keys (libedit shows its prompt a moment before that).

Prints everything the program wrote, then "exit=N". A step that timed out prints "timeout
waiting for TEXT", a program that has not ended 20 s after the last step "timeout waiting
for the end"; either kills the program. Expect text that appears once: line editors redraw
the prompt while completing.
"""
import json
import os
import pty
import select
import signal
import sys
import termios
import time

WAIT_SECONDS = 20


def read_until(fd, text, seen):
    """Reads into seen (a bytearray) until text follows the last match, or the program
    closes the terminal when text is None; True if that happened within WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while text is None or text not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:            # the program closed the terminal
            chunk = b""
        if not chunk:
            return text is None
        seen += chunk
        sys.stdout.buffer.write(chunk)
    del seen[:seen.index(text) + len(text)]
    return True


def wait_editing(fd):
    """Waits until the terminal is out of canonical mode; True if within WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while termios.tcgetattr(fd)[3] & termios.ICANON:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def main():
    steps = list(json.loads(sys.argv[1]) or [])   # an empty Lua table encodes as {}
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.argv[2], sys.argv[2:])
    seen = bytearray()
    for kind, *text in steps + [["expect", None]]:
        text = text[0] if text else None
        if kind == "send":
            os.write(fd, text.encode())
            continue
        if kind == "editing":
            done = wait_editing(fd)
        else:
            done = read_until(fd, text and text.encode(), seen)
        if not done:
            what = "editing" if kind == "editing" else repr(text) if text else "the end"
            sys.stdout.write("\ntimeout waiting for %s\n" % what)
            os.kill(pid, signal.SIGKILL)
            break
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    sys.stdout.write("\nexit=%d\n" % (code if code >= 0 else 128 - code))
    sys.stdout.flush()


main()
