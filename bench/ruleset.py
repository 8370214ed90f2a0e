#!/usr/bin/env python3
"""The ruleset's cost on the host kernel (nftables), server role, each part in a fresh network namespace:

  1. kernel transactions per apply: the namespace's nftables generation (NFT_MSG_GETGEN) before and
     after a cold `havpn apply`, a converged one, a `havpn plan`, and the apply that prunes the table
     (target: 1 per apply that changes the ruleset, 0 for a converged one);
  2. a converged pass: whole-process `havpn plan` with the ruleset against the same with the filter
     off (`filter: {input: false}`), median wall and CPU time of RUNS interleaved runs, and the
     instructions (callgrind, when valgrind is installed) of the whole process and of the firewall
     part alone (FirewallClient: libnftables context, dry-run probe, list and parse);
     target: the difference <= 5 ms;
  3. drift repair in `havpn run`: the table deleted by hand, and the input chain flushed by hand,
     COUNT times each; the latency is from the kernel's commit of the drift to its commit of the
     repair, both timestamped by one nfnetlink monitor (NFNLGRP_NFTABLES) in the namespace, so
     neither `nft`'s start-up nor a polling nap enters it; target <= 1 s.
     Samples are spaced by a seeded random 0.1-1.1 s: havpn checks the ruleset on a 1 s period,
     and a fixed spacing would sample one phase of it only.

The iptables-legacy backend is measured inside user-mode-linux (bench/guest.sh), whose kernel has no
nf_tables: a rule deleted by hand from HAVPN-INPUT of a running side-car, COUNT times; the latency is
from the moment the filter table's entry count drops to the moment it is back, both seen by polling
getsockopt(IPT_SO_GET_INFO) with a 5 ms nap (what havpn's own fingerprint reads; no process spawned).

usage: ruleset.py HAVPN TOPOLOGY WORKDIR [RUNS [COUNT]]
       ruleset.py iptables-drift NETNS COUNT
       ruleset.py drift NETNS COUNT KIND    (internal: runs inside the namespace)
HAVPN for callgrind: WORKDIR/havpn.symbols, a copy without DWARF (valgrind 3.19 cannot read DWARF 5)
but with its symbol table, is made from HAVPN with `strip --strip-debug`.
"""
import ctypes, os, random, re, resource, select, shutil, socket, statistics, struct, subprocess, sys, time
import urllib.request

libc = ctypes.CDLL("libc.so.6", use_errno=True)
CLONE_NEWNET = 0x40000000
NETLINK_NETFILTER, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTABLES = 12, 270, 1, 7
NFT = 10 << 8  # NFNL_SUBSYS_NFTABLES
NEWTABLE, DELTABLE, NEWCHAIN, DELCHAIN, NEWRULE, DELRULE, NEWGEN, GETGEN = 0, 2, 3, 5, 6, 8, 15, 16
TABLE = "havpn"


def fail(message):
    sys.exit("ruleset bench: " + message)


def enter(ns):
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns " + ns)
    os.close(fd)


def generation():
    """The calling thread's namespace's nftables generation id (bumped once per committed transaction)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.settimeout(5)
    s.send(struct.pack("=LHHLL", 20, NFT | GETGEN, 1, 1, 0) + struct.pack("=BBH", 0, 0, 0))
    d = s.recv(65536)
    s.close()
    off = 20
    while off + 4 <= len(d):
        length, kind = struct.unpack_from("=HH", d, off)
        if kind & 0x7FFF == 1:
            return struct.unpack_from(">L", d, off + 4)[0]
        off += (length + 3) & ~3
    fail("no nftables generation id in the kernel's answer")


def ns_generation(ns):
    """generation() of namespace `ns`, read in a child so this process stays where it is."""
    out = subprocess.run([sys.executable, __file__, "generation", ns], capture_output=True, text=True)
    if out.returncode != 0:
        fail("cannot read the nftables generation of %s: %s" % (ns, out.stderr.strip()))
    return int(out.stdout)


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


# --- 3. drift (inside the namespace)

def monitor():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((0, 0))
    s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTABLES)
    return s


def transactions(mon, deadline):
    """Yields (receive time, generation, [(message, table)]) per committed transaction until `deadline`."""
    pending = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([mon], [], [], left)[0]:
            return
        data = mon.recv(1 << 20)
        at = time.monotonic()
        off = 0
        while off + 16 <= len(data):
            ln, typ = struct.unpack_from("=LH", data, off)
            if typ >> 8 == NFT >> 8:
                msg, name, a = typ & 0xFF, None, off + 20
                while a + 4 <= off + ln:
                    alen, atype = struct.unpack_from("=HH", data, a)
                    if atype & 0x7FFF == 1:
                        name = data[a + 4:a + alen].rstrip(b"\0").decode() if msg != NEWGEN else struct.unpack_from(">L", data, a + 4)[0]
                        break
                    a += (alen + 3) & ~3
                if msg == NEWGEN:
                    yield at, name, pending
                    pending = []
                else:
                    pending.append((msg, name))
            off += (ln + 3) & ~3


def drift(ns, count, kind):
    enter(ns)
    mon = monitor()
    rng = random.Random(8)
    command = {"table": ["nft", "delete", "table", "inet", TABLE], "chain": ["nft", "flush", "chain", "inet", TABLE, "input"]}[kind]
    lat, rules = [], set()
    for i in range(count):
        time.sleep(rng.uniform(0.1, 1.1))  # sampling spacing, not synchronisation: see the module text
        # Read the monitor while nft runs: the drift's commit is timestamped as it arrives.
        nft = subprocess.Popen(command)
        dropped = None
        for at, gen, events in transactions(mon, time.monotonic() + 5):
            ours = [m for m, t in events if t == TABLE]
            if dropped is None and ours and all(m in (DELTABLE, DELCHAIN, DELRULE) for m in ours):
                dropped = at
            elif dropped is not None and NEWRULE in ours:
                lat.append(at - dropped)
                rules.add(ours.count(NEWRULE))
                break
        else:
            fail("%s drift (%s) not repaired within 5 s (sample %d)" % (kind, " ".join(command), i + 1))
        if nft.wait() != 0:
            fail("%s exited %d" % (" ".join(command), nft.returncode))
    ms = [x * 1000 for x in lat]
    what = {"table": "table inet havpn deleted", "chain": "chain input flushed"}[kind]
    print("drift repair in run (%s -> rewritten, %s rules in one transaction): n=%d p50=%.0f ms p99=%.0f ms max=%.0f ms (target <= 1000 ms)"
          % (what, "/".join(map(str, sorted(rules))), len(ms), percentile(ms, 50), percentile(ms, 99), max(ms)))


# --- iptables-legacy (inside user-mode-linux)

def iptables_entries(s, table=b"filter"):
    """num_entries of struct ipt_getinfo (name[32], valid_hooks, hook_entry[5], underflow[5], num_entries, size)."""
    buf = ctypes.create_string_buffer(table, 84)
    n = ctypes.c_uint32(84)
    if libc.getsockopt(s.fileno(), socket.IPPROTO_IP, 64, buf, ctypes.byref(n)) != 0:  # IPT_SO_GET_INFO
        fail("getsockopt(IPT_SO_GET_INFO) failed: %s" % os.strerror(ctypes.get_errno()))
    return struct.unpack_from("=I", buf.raw, 76)[0]


def iptables_drift(ns, count):
    enter(ns)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    rng = random.Random(8)
    base = iptables_entries(s)

    def until(condition, what, i):
        deadline = time.monotonic() + 20
        while not condition(iptables_entries(s)):
            if time.monotonic() > deadline:
                fail("%s within 20 s (sample %d)" % (what, i + 1))
            time.sleep(0.005)
        return time.monotonic()

    lat = []
    for i in range(count):
        time.sleep(rng.uniform(0.1, 1.1))  # sampling spacing, as for nftables
        p = subprocess.Popen(["iptables-legacy", "-w", "-D", "HAVPN-INPUT", "1"])
        t0 = until(lambda n: n < base, "the rule was not deleted", i)
        t1 = until(lambda n: n == base, "HAVPN-INPUT not repaired", i)
        if p.wait() != 0:
            fail("iptables-legacy -D HAVPN-INPUT 1 exited %d" % p.returncode)
        lat.append(t1 - t0)
        if os.environ.get("HAVPN_BENCH_SAMPLES"):
            print("sample %d: deleted at %.3f (wall %.3f), repaired after %.0f ms"
                  % (i + 1, t0, time.time() - (time.monotonic() - t0), (t1 - t0) * 1000), file=sys.stderr)
    ms = [x * 1000 for x in lat]
    print("iptables-legacy drift repair in run (rule deleted from HAVPN-INPUT -> restored, user-mode-linux %s): "
          "n=%d p50=%.0f ms p99=%.0f ms max=%.0f ms (target <= 1000 ms)"
          % (os.uname().release, len(ms), percentile(ms, 50), percentile(ms, 99), max(ms)))


# --- host side

class Lab:
    def __init__(self, havpn, topology, work):
        self.havpn, self.work, self.namespaces, self.processes = havpn, work, [], []
        self.topology = topology
        self.off = os.path.join(work, "ruleset-filter-off.yaml")
        with open(topology) as src, open(self.off, "w") as dst:
            dst.write(src.read().rstrip("\n") + "\nfilter: {input: false}\n")

    def netns(self, label):
        name = "havpn-rb-%d-%s" % (os.getpid(), label)
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.namespaces.append(name)
        return name

    def havpn_args(self, verb, ns, topology=None, binary=None):
        return [binary or self.havpn, verb, "-f", topology or self.topology, "--role", "server", "--index", "0", "--netns", ns]

    def run(self, verb, ns, topology=None, ok=(0,)):
        out = subprocess.run(self.havpn_args(verb, ns, topology), capture_output=True, text=True)
        if out.returncode not in ok:
            fail("havpn %s in %s exited %d: %s" % (verb, ns, out.returncode, (out.stderr or out.stdout).strip()))
        return out

    def close(self):
        for p in self.processes:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns])


def transactions_per_apply(lab):
    ns = lab.netns("gen")
    g = [ns_generation(ns)]
    for verb, topology in (("apply", None), ("apply", None), ("plan", None), ("apply", lab.off)):
        lab.run(verb, ns, topology)
        g.append(ns_generation(ns))
    d = [b - a for a, b in zip(g, g[1:])]
    print("transactions (nftables generation delta, host kernel %s): cold apply %d, converged apply %d, plan %d, "
          "apply with the filter off (prunes the table) %d (target: 1, 0, 0, 1)" % (os.uname().release, *d))


def timed(args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def converged_pass(lab, runs):
    on, off = lab.netns("on"), lab.netns("off")
    lab.run("apply", on)
    lab.run("apply", off, lab.off)
    cases = {"ruleset": lab.havpn_args("plan", on), "filter off": lab.havpn_args("plan", off, lab.off)}
    samples = {k: [] for k in cases}
    for args in cases.values():
        timed(args)  # warm the page cache
    for _ in range(runs):
        for k, args in cases.items():
            samples[k].append(timed(args))
    med = {k: (statistics.median(w for w, _ in v) * 1e3, statistics.median(c for _, c in v) * 1e3) for k, v in samples.items()}
    (w1, c1), (w0, c0) = med["ruleset"], med["filter off"]
    print("converged plan (host, whole process, median of %d interleaved runs): ruleset %.1f ms wall %.1f ms CPU; "
          "filter off %.1f ms wall %.1f ms CPU; difference %+.1f ms wall %+.1f ms CPU (target <= 5 ms)"
          % (runs, w1, c1, w0, c0, w1 - w0, c1 - c0))
    if shutil.which("valgrind") is None or shutil.which("strip") is None:
        print("converged plan instructions: skipped (no valgrind)")
        return
    symbols = os.path.join(lab.work, "havpn.symbols")
    subprocess.run(["strip", "--strip-debug", "-o", symbols, lab.havpn], check=True)

    def instructions(ns, topology, *only):
        args = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        if only:
            args += ["--collect-atstart=no"] + ["--toggle-collect=" + f for f in only]
        out = subprocess.run(args + lab.havpn_args("plan", ns, topology, symbols), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        m = re.search(r"Collected : (\d+)", out.stderr)
        if out.returncode != 0 or not m:
            fail("callgrind of havpn plan failed: " + out.stderr.strip().splitlines()[-1])
        return int(m.group(1)) / 1e6

    # Swift's mangled names: FirewallClient's methods, and the client's construction.
    firewall = ("$s13HAVPNFirewall14FirewallClientC*",)
    t1, t0 = instructions(on, None), instructions(off, lab.off)
    f1, f0 = instructions(on, None, *firewall), instructions(off, lab.off, *firewall)
    print("converged plan (callgrind): whole process ruleset %.1f M instructions, filter off %.1f M, difference %+.1f M; "
          "inside FirewallClient (libnftables context, dry-run probe, list, parse) %.1f M with the ruleset, %.1f M filter off"
          % (t1, t0, t1 - t0, f1, f0))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def drift_in_run(lab, count):
    ns = lab.netns("run")
    port = free_port()
    log = open(os.path.join(lab.work, "ruleset-run.log"), "w")
    args = lab.havpn_args("run", ns) + ["--http-address", "127.0.0.1", "--http-port", str(port)]
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    lab.processes.append(p)
    deadline = time.monotonic() + 20
    while True:
        if p.poll() is not None:
            fail("havpn run exited %d before it was ready (log: %s)" % (p.returncode, log.name))
        try:
            if urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=1).status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            fail("havpn run not ready within 20 s (log: %s)" % log.name)
        time.sleep(0.01)
    for kind in ("table", "chain"):
        subprocess.run([sys.executable, __file__, "drift", ns, str(count), kind], check=True)
    lab.run("plan", ns)  # exits 2 if anything was left to repair
    with open("/proc/%d/status" % p.pid) as f:
        rss = next(l.split()[1] for l in f if l.startswith("VmRSS"))
    c0 = sum(int(x) for x in open("/proc/%d/stat" % p.pid).read().rsplit(")", 1)[1].split()[11:13])
    t0 = time.monotonic()
    time.sleep(10)  # the measurement window for idle CPU
    c1 = sum(int(x) for x in open("/proc/%d/stat" % p.pid).read().rsplit(")", 1)[1].split()[11:13])
    cpu = (c1 - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0) * 100
    print("side-car (run, server role, ruleset checked every 250 ms): VmRSS %.1f MB, idle CPU %.2f %% of one core over 10 s"
          % (int(rss) / 1024, cpu))


def main():
    if sys.argv[1:2] == ["generation"]:
        enter(sys.argv[2])
        print(generation())
        return
    if sys.argv[1:2] == ["iptables-drift"]:
        iptables_drift(sys.argv[2], int(sys.argv[3]))
        return
    if sys.argv[1:2] == ["drift"]:
        drift(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    if len(sys.argv) < 4:
        fail("usage: ruleset.py HAVPN TOPOLOGY WORKDIR [RUNS [COUNT]]")
    havpn, topology, work = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 21
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 20
    if os.geteuid() != 0:
        fail("needs root (network namespaces)")
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            fail("%s is not installed" % tool)
    lab = Lab(havpn, topology, work)
    try:
        transactions_per_apply(lab)
        converged_pass(lab, runs)
        drift_in_run(lab, count)
    finally:
        lab.close()


if __name__ == "__main__":
    main()
