#!/usr/bin/python3
"""delay_relay.py — a WAN between this machine's client and the lab's servers, for the
latency bench (issue 16) and the failover bench (issue 15): this kernel has no netem qdisc,
so the delay is written into a relay.

Usage: delay_relay.py DELAY_MS LOG LISTEN=TARGET...
  LISTEN, TARGET: ADDRESS:PORT ([v6]:PORT for IPv6). Each LISTEN takes TCP and UDP on its
  port and forwards both to TARGET, each direction DELAY_MS later (the one-way delay: RTT =
  2 × DELAY_MS). Prints "ready" once every LISTEN is bound.

TCP: the relay accepts (the kernel completes the client's handshake at once, as a relay
must) and connects to TARGET 3 × DELAY_MS later — when a real WAN's SYN, SYN-ACK and ACK
would have crossed — so the first bytes either side sends arrive when they would over a
real WAN; only the client's connect() itself returns early. Each chunk read from one side
is written to the other DELAY_MS after it arrived (never before the chunk ahead of it), one
write per chunk, with TCP_NODELAY and TCP_QUICKACK on both sides: the relay adds no Nagle
wait and no delayed ACK of its own (those are measured without the relay, on loopback). An
end of stream (FIN) travels the same way; a refused TARGET resets the client.
UDP (DNS): each client address gets its own socket to TARGET; datagrams each way after
DELAY_MS.

LOG gets one line per event, the time it reached the relay first (seconds of
CLOCK_MONOTONIC, the clock of runbook's task.now(), so a client can name a window of it):
  TIME tcp N open CLIENT LISTEN TARGET   a client connected (N numbers the connection)
  TIME tcp N c>s BYTES                   a chunk from the client, sent on at TIME + delay
  TIME tcp N s>c BYTES                   a chunk from the server
  TIME tcp N to-c BYTES, TIME tcp N to-s BYTES   the chunk written on (what was late
                                         beyond the delay is the relay's own lateness)
  TIME tcp N eof c|s                     that side ended its stream
  TIME tcp N refused                     TARGET refused the relay's connect
  TIME tcp N close                       both directions are done
  TIME udp N c>s|s>c|to-s|to-c BYTES    datagrams (N numbers the client address)
Timers fire 1.5 ms early and the last moment is slept precisely: the event loop's own timers
are rounded up to the millisecond, which would add up to 1 ms a hop.
bench/latency.sh counts round trips from it."""
import asyncio
import collections
import socket
import sys
import time


class Log:
    def __init__(self, path):
        self.file = open(path, "a", buffering=1)

    def write(self, *words):
        self.file.write("%.6f %s\n" % (time.monotonic(), " ".join(str(w) for w in words)))


def endpoint(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


EARLY = 0.0015


def at(loop, when, callback, *args):
    """callback(*args) at the loop time `when`, to the sub-millisecond."""
    def precisely():
        left = when - loop.time()
        if left > 0:
            time.sleep(left)
        callback(*args)
    return loop.call_at(when - EARLY, precisely)


def quick(sock):
    """No Nagle wait, no delayed ACK: the relay must forward and acknowledge at once."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


class Direction:
    """Chunks of one direction, each written DELAY after it arrived, in order."""

    def __init__(self, loop, delay, note):
        self.loop, self.delay, self.note = loop, delay, note   # note(bytes): logs a write
        self.queue = collections.deque()       # (due, data) ; data None = end of stream
        self.writer = None                     # the transport to write to, once known
        self.timer = None

    def push(self, data):
        due = self.loop.time() + self.delay
        if self.queue:
            due = max(due, self.queue[-1][0])
        self.queue.append((due, data))
        self.schedule()

    def attach(self, writer):
        self.writer = writer
        self.schedule()

    def schedule(self):
        if self.timer or not self.queue or not self.writer:
            return
        self.timer = at(self.loop, self.queue[0][0], self.drain)

    def drain(self):
        self.timer = None
        while self.queue and self.queue[0][0] <= self.loop.time():
            _, data = self.queue.popleft()
            if self.writer.is_closing():
                self.queue.clear()
                return
            if data is None:
                try:
                    self.writer.write_eof()
                except OSError:                # that side is gone already
                    pass
            else:
                self.writer.write(data)
                self.note(len(data))
                quick(self.writer.get_extra_info("socket"))
        self.schedule()


class Side(asyncio.Protocol):
    """One TCP side of a relayed connection: what it reads goes into `outgoing`."""

    def __init__(self, pair, name):
        self.pair, self.name = pair, name      # name: "c" (client) or "s" (server)
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        quick(transport.get_extra_info("socket"))

    def data_received(self, data):
        self.pair.log.write("tcp", self.pair.number, self.name + ">" +
                            ("s" if self.name == "c" else "c"), len(data))
        quick(self.transport.get_extra_info("socket"))
        self.pair.outgoing(self.name).push(data)

    def eof_received(self):
        self.pair.log.write("tcp", self.pair.number, "eof", self.name)
        self.pair.outgoing(self.name).push(None)
        self.pair.ended(self.name)
        return True                            # keep the other direction open

    def connection_lost(self, exc):
        self.pair.lost(self.name)


class Pair:
    """A client connection and its delayed twin towards the target."""

    count = 0

    def __init__(self, loop, log, delay, target):
        Pair.count += 1
        self.number, self.loop, self.log, self.delay = Pair.count, loop, log, delay
        self.target = target
        self.to_server = Direction(loop, delay, lambda n: log.write("tcp", self.number, "to-s", n))
        self.to_client = Direction(loop, delay, lambda n: log.write("tcp", self.number, "to-c", n))
        self.client = Side(self, "c")
        self.server = None
        self.done = set()

    def outgoing(self, name):
        return self.to_server if name == "c" else self.to_client

    def start(self):
        self.to_client.attach(self.client.transport)
        self.loop.call_later(3 * self.delay, lambda: asyncio.ensure_future(self.connect()))

    async def connect(self):
        if self.client.transport.is_closing():
            return
        try:
            _, self.server = await self.loop.create_connection(
                lambda: Side(self, "s"), *self.target)
        except OSError:
            self.log.write("tcp", self.number, "refused")
            self.loop.call_later(self.delay, self.reset_client)
            return
        self.to_server.attach(self.server.transport)

    def reset_client(self):
        sock = self.client.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        self.client.transport.abort()

    def ended(self, name):
        self.done.add(name)
        if self.done >= {"c", "s"}:
            self.loop.call_later(self.delay, self.close)

    def lost(self, name):
        other = self.server if name == "c" else self.client
        if other and other.transport and not other.transport.is_closing():
            # what is still queued towards it goes first, then the close
            direction = self.outgoing(name)
            direction.push(None)
            self.loop.call_later(self.delay + 0.001, other.transport.close)
        self.close()

    def close(self):
        if "closed" in self.done:
            return
        self.done.add("closed")
        self.log.write("tcp", self.number, "close")


class Datagrams(asyncio.DatagramProtocol):
    """UDP on a LISTEN address: one upstream socket per client address."""

    def __init__(self, loop, log, delay, target):
        self.loop, self.log, self.delay, self.target = loop, log, delay, target
        self.flows = {}                        # client address -> (number, transport)
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, client):
        flow = self.flows.get(client)
        if flow is None:
            flow = self.flows[client] = [len(self.flows) + 1, None, []]
            asyncio.ensure_future(self.open_flow(client, flow))
        self.log.write("udp", flow[0], "c>s", len(data))
        at(self.loop, self.loop.time() + self.delay, self.forward, flow, data)

    def forward(self, flow, data):
        if flow[1] is None:
            flow[2].append(data)
        else:
            flow[1].sendto(data)
            self.log.write("udp", flow[0], "to-s", len(data))

    def answer(self, flow, data, client):
        self.transport.sendto(data, client)
        self.log.write("udp", flow[0], "to-c", len(data))

    async def open_flow(self, client, flow):
        relay = self

        class Upstream(asyncio.DatagramProtocol):
            def datagram_received(self, data, _):
                relay.log.write("udp", flow[0], "s>c", len(data))
                at(relay.loop, relay.loop.time() + relay.delay, relay.answer, flow, data, client)

        flow[1], _ = await self.loop.create_datagram_endpoint(
            Upstream, remote_addr=self.target)
        for data in flow[2]:
            flow[1].sendto(data)
            self.log.write("udp", flow[0], "to-s", len(data))
        flow[2].clear()


async def main(argv):
    if len(argv) < 4 or any("=" not in pair for pair in argv[3:]):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    delay, log = float(argv[1]) / 1000, Log(argv[2])
    loop = asyncio.get_running_loop()
    for pair in argv[3:]:
        listen, target = (endpoint(part) for part in pair.split("=", 1))

        def accepted(target=target, listen=listen):
            relay = Pair(loop, log, delay, target)
            original = relay.client.connection_made

            def made(transport):
                original(transport)
                peer = transport.get_extra_info("peername")
                log.write("tcp", relay.number, "open", "%s:%d" % peer[:2],
                          "%s:%d" % listen, "%s:%d" % target)
                relay.start()
            relay.client.connection_made = made
            return relay.client
        await loop.create_server(accepted, *listen, reuse_address=True, backlog=512)
        await loop.create_datagram_endpoint(
            lambda target=target: Datagrams(loop, log, delay, target), local_addr=listen)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv)))
