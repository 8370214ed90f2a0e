#!/usr/bin/env python3
"""Acts in the middle of a reconcile that creates routes: SIGKILL the side-car or swap its ConfigMap directory.

usage: mid-reconcile.py [--ready FILE] [--rename SRC DST] BASE TARGET DEADLINE_S kill PID
       mid-reconcile.py [--ready FILE] [--rename SRC DST] BASE TARGET DEADLINE_S swap CONFIGMAP_DIR VERSION_DIR
Run inside the pod's namespace (ip netns exec). Polls the IPv4 main table (/proc/net/route) without forking and
acts as soon as the route count is strictly between BASE and TARGET: a reconcile caught half-way (havpn sends
its routes in netlink batches of ~1,000). `kill` first stops PID (SIGSTOP), waits until every thread of it is
stopped and counts again: a count read while havpn kept sending is stale by the batches sent since (reading
/proc/net/route of 8,000 routes is slow in the guest), so only the count of a stopped havpn proves a kill
mid-reconcile. Still between BASE and TARGET: SIGKILL; at TARGET: SIGCONT and exit 1, as missed. `swap`
points CONFIGMAP_DIR/..data at VERSION_DIR with a symlink rename, as kubelet does. --ready touches FILE once polling has begun; --rename
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


def stopped(pid):
    """True when every thread of pid is stopped (T, t) or exiting (Z, X), or the process is gone."""
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return True  # no /proc/PID: gone
    for task in tasks:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, task), "rb") as f:
                # The state follows the command name, which is in parentheses and may hold spaces.
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # this thread just ended
        if state not in (b"T", b"t", b"Z", b"X"):
            return False
    return True


def act(seen):
    """Acts on the reconcile; returns the route count to report, or None when it was over after all."""
    if action == "kill":
        pid = int(args[4])
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            print("havpn (pid %d) was gone before it could be stopped" % pid, file=sys.stderr)
            sys.exit(1)
        try:
            give_up = time.monotonic() + 10
            while not stopped(pid):
                if time.monotonic() > give_up:
                    raise RuntimeError("havpn did not stop within 10 s of SIGSTOP")
                time.sleep(0.001)
            r = routes()
            if not base < r < target:
                os.kill(pid, signal.SIGCONT)
                return None
            os.kill(pid, signal.SIGKILL)
            return r
        except BaseException as failure:
            # Never leave havpn stopped: the scenario would fail later for a reason it could not name.
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            if isinstance(failure, RuntimeError):
                print(failure, file=sys.stderr)
                sys.exit(1)
            raise
    else:
        tmp = os.path.join(args[4], "..data_tmp")
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(args[5], tmp)
        os.rename(tmp, os.path.join(args[4], "..data"))
        return seen


routes()
if ready:
    open(ready, "w").close()
if rename:
    os.rename(*rename)
t0 = time.monotonic()
while time.monotonic() - t0 < deadline:
    r = routes()
    if base < r < target:
        acted = act(r)
        if acted is not None:
            print("%.3f %d %d" % (time.monotonic() - t0, acted, tunnels()))
            sys.exit(0)
        r = routes()
    if r >= target:
        print("reconcile finished before it could be caught: %d routes, %d tunnels" % (r, tunnels()), file=sys.stderr)
        sys.exit(1)
print("deadline passed: %d routes, %d tunnels" % (routes(), tunnels()), file=sys.stderr)
sys.exit(1)
