#!/usr/bin/python3
"""bench/round_trips.py LOG OFFSET DELAY_MS [FROM TO] — the round trips one run took through
the delay relay (tests/lab/delay_relay.py), counted from the relay's log from byte OFFSET
on (and between the relay's times FROM and TO: a client names a window of its calls).

A connection or UDP flow is a unit. In a unit, the events split into runs by direction;
the client waited for a server run when it acted after it (a client run, or its end of
stream, follows) or when it is the last run before the client ended: each such server run
is one round trip, and a TCP connection opened in the run adds one for its handshake (which
the relay emulates: it connects on 1.5 RTT after the accept). Units
whose lifetimes overlap ran in parallel: the group costs its longest unit; groups add up.
Also measured, from the times: the client's own time (from a server run's arrival at the
client to the client's next run) and the server's (from a client run's arrival at the
server to the server's answer) — what the wall time holds beyond the round trips.
The relay's own lateness (a chunk written on later than its delay, on the path the client
waited on) is relay_late_ms.
Prints one line: round_trips= units= parallel_groups= client_ms= server_ms= relay_late_ms=
detail=."""
import sys


def read_units(path, offset, start, end):
    units = {}
    with open(path, "rb") as log:
        log.seek(offset)
        for line in log.read().decode().splitlines():
            words = line.split()
            if len(words) < 4:
                continue
            when, kind, number, event = float(words[0]), words[1], words[2], words[3]
            if event == "eof" and len(words) > 4:
                event += " " + words[4]                     # "eof c" or "eof s"
            if not start <= when <= end:
                continue
            unit = units.setdefault((kind, number), {"kind": kind, "events": []})
            unit["events"].append((when, event))
    return list(units.values())


def runs_of(events, delay):
    """[[direction, first time, last time, arrival]]: direction "c" (client to server, or
    the client's end of stream) or "s"; arrival: when the relay wrote the run's last chunk
    on to the other side (its to-s / to-c event; without one, last time + delay)."""
    written = {"c": [w for w, e in events if e == "to-s"],
               "s": [w for w, e in events if e == "to-c"]}
    count = {"c": 0, "s": 0}
    runs = []
    for when, event in events:
        if event in ("c>s", "eof c"):
            direction = "c"
        elif event == "s>c":
            direction = "s"
        else:
            continue
        arrival = when + delay
        if event != "eof c":
            index = count[direction]
            count[direction] += 1
            if index < len(written[direction]):
                arrival = written[direction][index]
        if runs and runs[-1][0] == direction:
            runs[-1][2], runs[-1][3] = when, arrival
        else:
            runs.append([direction, when, when, arrival])
    return runs


def measure(unit, delay):
    events = unit["events"]
    runs = runs_of(events, delay)
    ended = any(e == "eof c" for _, e in events)
    waited = sum(1 for i, run in enumerate(runs) if run[0] == "s" and (
        runs[i + 1][0] == "c" if i + 1 < len(runs) else not ended))
    client = server = late = 0.0
    # the relay connects to the server 3 one-way delays after the accept: nothing the
    # client sent reaches it before
    connected = events[0][0] + 3 * delay if events[0][1] == "open" else 0
    for before, after in zip(runs, runs[1:]):
        due = before[2] + delay
        arrival = before[3]
        if before[0] == "c":
            due, arrival = max(due, connected), max(arrival, connected)
        gap = after[1] - arrival                   # from arrival to the answer
        if before[0] == "s" and after[0] == "c":
            client += max(gap, 0)
        elif before[0] == "c" and after[0] == "s":
            server += max(gap, 0)
        if before[0] != after[0]:
            late += max(arrival - due, 0)
    handshake = 1 if any(e == "open" for _, e in events) else 0
    start = events[0][0]
    end = max((w for w, e in events if e in ("c>s", "eof c", "s>c")), default=start)
    if handshake:                   # on a WAN a connect lasts a round trip at the least
        end = max(end, start + 2 * delay)
    return {"round_trips": waited + handshake, "start": start, "end": end,
            "client": client, "server": server, "late": late, "kind": unit["kind"]}


def main(argv):
    path, offset, delay = argv[1], int(argv[2]), float(argv[3]) / 1000
    start, end = (float(argv[4]), float(argv[5])) if len(argv) > 5 else (0, float("inf"))
    end += 2 * delay                # what the call caused reaches the relay a little later
    units = [u for u in read_units(path, offset, start, end)   # the client acted in them:
             if any(e in ("open", "c>s") for _, e in u["events"])]   # not an earlier call's end
    measured = sorted((measure(u, delay) for u in units), key=lambda m: m["start"])
    groups = []
    for m in measured:
        if groups and m["start"] <= groups[-1]["end"]:
            group = groups[-1]
            group["end"] = max(group["end"], m["end"])
            group["members"].append(m)
        else:
            groups.append({"end": m["end"], "members": [m]})
    total = sum(max(m["round_trips"] for m in g["members"]) for g in groups)
    detail = "+".join("/".join("%s%d" % (m["kind"], m["round_trips"]) for m in g["members"])
                      for g in groups)
    print("round_trips=%d units=%d parallel_groups=%d client_ms=%.1f server_ms=%.1f "
          "relay_late_ms=%.1f detail=%s"
          % (total, len(measured), len(groups), sum(m["client"] for m in measured) * 1000,
             sum(m["server"] for m in measured) * 1000,
             sum(m["late"] for m in measured) * 1000, detail or "-"))


if __name__ == "__main__":
    main(sys.argv)
