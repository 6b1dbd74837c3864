#!/usr/bin/env python3
"""netem.py - a user-space stand-in for `tc qdisc ... netem` between two network namespaces.

Used by tests/fault/fault.py when the kernel has no sch_netem (the kernel of the project's
machines and CI has none: `tc qdisc add ... netem` says "Specified qdisc kind is unknown").

It opens two TUN devices (IFF_TUN | IFF_NO_PI) named A and B in the namespace it starts in; the
caller moves each into its own namespace and gives them point-to-point addresses (a private /30
that exists only inside those namespaces). Every IP packet that leaves one namespace is read
here and written into the other, after the impairment currently configured:

  loss P           drop each packet with probability P
  delay D jitter J hold each packet D +- J seconds (uniform), like netem's delay with jitter
                   (which also reorders packets, as netem does)
  reorder P gap G  send a fraction P of packets at once and hold the others G seconds
  duplicate P      send each packet twice with probability P
  rate R           at most R bytes/s per direction (a queue, as a slow link has)

The impairment is read from the JSON file CONTROL whenever it changes (keys: loss, delay,
jitter, reorder, gap, duplicate, rate; absent = 0/off), and counters are written to the JSON
file STATS every 0.2 s: packets, bytes, dropped, delayed, reordered, duplicated, and
down_drops (packets that could not be written because the other side's link was down).
A link going down is done by the caller with `ip link set DEV down`.

    netem.py NAME_A NAME_B CONTROL STATS        (runs until SIGTERM)
"""
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    name_a, name_b, control, stats_path = sys.argv[1:5]
    fds = [open_tun(name_a), open_tun(name_b)]
    other = {fds[0]: fds[1], fds[1]: fds[0]}
    rng = random.Random(int(os.environ.get("JET_FAULT_SEED", "7")))
    conf, conf_mtime = {}, None
    st = dict(packets=0, bytes=0, dropped=0, delayed=0, reordered=0, duplicated=0, down_drops=0)
    queue = []  # (due, serial, fd, packet)
    serial = 0
    next_free = {fds[0]: 0.0, fds[1]: 0.0}  # rate limit: when each direction is free again
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    signal.signal(signal.SIGINT, lambda *_: running.__setitem__(0, False))
    with open(stats_path + ".ready", "w") as f:
        f.write("ready\n")
    last_stats = 0.0
    held = 0  # packets currently held back by a delay (for counting real reorders)

    def write_out(fd, pkt):
        try:
            os.write(fd, pkt)
        except OSError:
            st["down_drops"] += 1

    while running[0]:
        now = time.monotonic()
        if now - last_stats > 0.2:
            last_stats = now
            try:
                m = os.stat(control).st_mtime_ns
                if m != conf_mtime:
                    with open(control) as f:
                        conf = json.load(f)
                    conf_mtime = m
            except (OSError, ValueError):
                pass
            tmp = stats_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(st, f)
            os.replace(tmp, stats_path)
        timeout = 0.05
        if queue:
            timeout = max(0.0, min(timeout, queue[0][0] - now))
        try:
            r, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            continue
        for fd in r:
            for _ in range(64):
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    break
                if not pkt:
                    break
                out = other[fd]
                st["packets"] += 1
                st["bytes"] += len(pkt)
                if conf.get("loss", 0) and rng.random() < conf["loss"]:
                    st["dropped"] += 1
                    continue
                copies = 1
                if conf.get("duplicate", 0) and rng.random() < conf["duplicate"]:
                    copies = 2
                    st["duplicated"] += 1
                now = time.monotonic()
                due = now
                if conf.get("delay", 0):
                    j = conf.get("jitter", 0)
                    due += max(0.0, conf["delay"] + (rng.uniform(-j, j) if j else 0.0))
                    st["delayed"] += 1
                if conf.get("reorder", 0):
                    if rng.random() < conf["reorder"]:
                        if held > 0:
                            st["reordered"] += 1  # overtakes packets still held
                    else:
                        due += conf.get("gap", 0.01)
                if conf.get("rate", 0):
                    start = max(due, next_free[out])
                    next_free[out] = start + len(pkt) / conf["rate"]
                    due = next_free[out]
                for _ in range(copies):
                    if due <= now:
                        write_out(out, pkt)
                    else:
                        serial += 1
                        held += 1
                        heapq.heappush(queue, (due, serial, out, pkt))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, pkt = heapq.heappop(queue)
            held -= 1
            write_out(out, pkt)
    with open(stats_path, "w") as f:
        json.dump(st, f)


if __name__ == "__main__":
    main()
