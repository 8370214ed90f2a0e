#!/usr/bin/env python3
"""Acts in the middle of a reconcile that creates routes: SIGKILL the side-car or swap its ConfigMap directory.

usage: mid-reconcile.py [--ready FILE] [--rename SRC DST] BASE TARGET DEADLINE_S kill PID
       mid-reconcile.py [--ready FILE] [--rename SRC DST] BASE TARGET DEADLINE_S swap CONFIGMAP_DIR VERSION_DIR
Run inside the pod's namespace (ip netns exec). Polls the IPv4 main table (/proc/net/route) without forking and
acts as soon as the route count is strictly between BASE and TARGET: a reconcile caught half-way (havpn sends
its routes in netlink batches of ~1,000). `kill` sends SIGKILL to PID; `swap` points CONFIGMAP_DIR/..data at
VERSION_DIR with a symlink rename, as kubelet does. --ready touches FILE once polling has begun; --rename
renames SRC to DST then (the change that starts the reconcile), so no reconcile is missed while this starts.
Prints "SECONDS ROUTES TUNNELS" at the action. Exit 1 when the deadline passes or the routes reach TARGET
first (the reconcile finished before it could be caught).
"""
import os, signal, sys, time

args = sys.argv[1:]
ready = rename = None
while args[0].startswith("--"):
    if args[0] == "--ready":
        ready, args = args[1], args[2:]
    elif args[0] == "--rename":
        rename, args = (args[1], args[2]), args[3:]
base, target, deadline, action = int(args[0]), int(args[1]), float(args[2]), args[3]


def routes():
    with open("/proc/net/route", "rb") as f:
        return f.read().count(b"\n") - 1


def tunnels():
    return sum(1 for n in os.listdir("/sys/class/net") if n.startswith("bond0ip6tnl"))


def act():
    if action == "kill":
        os.kill(int(args[4]), signal.SIGKILL)
    else:
        tmp = os.path.join(args[4], "..data_tmp")
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(args[5], tmp)
        os.rename(tmp, os.path.join(args[4], "..data"))


routes()
if ready:
    open(ready, "w").close()
if rename:
    os.rename(*rename)
t0 = time.monotonic()
while time.monotonic() - t0 < deadline:
    r = routes()
    if base < r < target:
        act()
        print("%.3f %d %d" % (time.monotonic() - t0, r, tunnels()))
        sys.exit(0)
    if r >= target:
        print("reconcile finished before it could be caught: %d routes, %d tunnels" % (r, tunnels()), file=sys.stderr)
        sys.exit(1)
print("deadline passed: %d routes, %d tunnels" % (routes(), tunnels()), file=sys.stderr)
sys.exit(1)
