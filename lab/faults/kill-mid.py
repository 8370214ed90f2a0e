#!/usr/bin/env python3
"""SIGKILL a havpn process in the middle of a reconcile that creates routes and tunnels.

usage: kill-mid.py PID BASELINE TARGET DEADLINE_S [observe]   (run inside the pod's namespace: ip netns exec)
Polls the namespace's IPv4 main table (/proc/net/route) and its ip6tnl devices (/sys/class/net) without
forking, and kills PID with SIGKILL as soon as the route count is strictly between BASELINE and TARGET (a
reconcile caught half-way). Prints what it saw at the kill: seconds since start, routes, tunnels. `observe`
kills nothing and prints the timeline of changes instead. Exit 1 when the deadline passes or the routes reach
TARGET first (the reconcile finished before it could be caught).
"""
import os, signal, sys, time

pid, base, target, deadline = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
observe = len(sys.argv) > 5 and sys.argv[5] == "observe"


def routes():
    with open("/proc/net/route", "rb") as f:
        return f.read().count(b"\n") - 1


def tunnels():
    return sum(1 for n in os.listdir("/sys/class/net") if n.startswith("bond0ip6tnl"))


t0 = time.monotonic()
last = None
while time.monotonic() - t0 < deadline:
    r = routes()
    if observe:
        now = (r, tunnels())
        if now != last:
            print("%.3f s: routes %d tunnels %d" % (time.monotonic() - t0, *now), flush=True)
            last = now
        if r >= target:
            sys.exit(0)
        continue
    if base < r < target:
        os.kill(pid, signal.SIGKILL)
        print("%.3f %d %d" % (time.monotonic() - t0, r, tunnels()))
        sys.exit(0)
    if r >= target:
        print("reconcile finished before it could be caught: %d routes, %d tunnels" % (r, tunnels()), file=sys.stderr)
        sys.exit(1)
print("deadline passed: %d routes, %d tunnels" % (routes(), tunnels()), file=sys.stderr)
sys.exit(1)
