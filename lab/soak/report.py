#!/usr/bin/env python3
"""Judges a soak run (lab/soak/guest.sh's files) and plots its samples.

usage: report.py WORK_DIR PNG     -> prints the figures and one PASS/FAIL line per verdict, writes the plot to
                                     PNG and the same text to WORK_DIR/summary.txt; exit 1 if a verdict failed

Verdicts (each can fail):
  no crash      both side-cars kept one pid through every sample and exited 0 on SIGTERM at the end
  no growth     after the warm-up (the first third of the run, at least 2 samples): per role, resident memory's
                least-squares slope times the post-warm-up span is at most 1 % of its median (1 MiB at least), and
                the floor (minimum) of open descriptors and of threads in the last third of the run is no higher
                than in the middle third. Floors, not peaks: a reconcile or a topology reload holds a few
                descriptors for a moment (a sample every 10 s catches one now and then), while a leak raises the
                floor for good.
  drift         every drift made by hand was repaired
  churn         every event of the rotation happened at least once and each one passed its check (drift
                repaired, announcement learnt, withdrawn, expired; storm survived; swaps taken and rejected)
  announcements every datagram the stand-ins sent was counted by the shoot side (received + rejected = sent)
"""
import csv, os, sys
from collections import defaultdict

work, png = sys.argv[1], sys.argv[2]
lines, failed = [], []


def say(s=""):
    lines.append(s)


def verdict(name, ok, detail):
    say("%s %-13s %s" % ("PASS" if ok else "FAIL", name, detail))
    if not ok:
        failed.append(name)


samples = defaultdict(list)  # role -> [(t, pid, rss_kb, fds, threads)]
with open(os.path.join(work, "samples.csv")) as f:
    for r in csv.DictReader(f):
        samples[r["role"]].append((float(r["t_s"]), int(r["pid"]), int(r["rss_kb"]), int(r["fds"]), int(r["threads"])))
events = []
with open(os.path.join(work, "events.csv")) as f:
    events = list(csv.DictReader(f))
counts = {}
with open(os.path.join(work, "counts")) as f:
    for line in f:
        k, _, v = line.strip().partition("=")
        counts[k] = v

duration = float(counts.get("duration_s", 0))
say("soak: %.1f min, %d samples per role, %d churn events" % (duration / 60, len(samples["shoot"]), len(events)))
if os.path.exists(os.path.join(work, "host.txt")):
    with open(os.path.join(work, "host.txt")) as f:
        say(f.read().strip())

# --- no crash
pids = {role: {s[1] for s in xs} for role, xs in samples.items()}
stops = {"apiserver": counts.get("sa_stop"), "shoot": counts.get("ss_stop")}
crash_ok = set(samples) == {"apiserver", "shoot"} and all(len(p) == 1 and 0 not in p for p in pids.values())
crash_ok = crash_ok and all(v == "0" for v in stops.values())
verdict("no crash", crash_ok, "pids %s; exit on SIGTERM: %s" % (
    {r: sorted(p) for r, p in pids.items()}, ", ".join("%s %s" % kv for kv in stops.items())))


# --- no growth
def slope(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0


def median(ys):
    ys = sorted(ys)
    return ys[len(ys) // 2]


say()
say("%-9s %-12s %10s %10s %10s %10s  %s" % ("role", "metric", "warm-up max", "after min", "after max", "last", "post-warm-up trend"))
warm = max(duration / 3, 0)
for role in ("apiserver", "shoot"):
    xs = [s for s in samples[role] if s[1] != 0]
    before = [s for s in xs if s[0] < warm]
    after = [s for s in xs if s[0] >= warm]
    if len(before) < 2 or len(after) < 3:
        verdict("no growth", False, "%s: too few samples (%d warm-up, %d after)" % (role, len(before), len(after)))
        continue
    t = [s[0] for s in after]
    span = t[-1] - t[0]
    rss = [s[2] for s in after]
    grow = slope(t, rss) * span
    limit = max(1024, 0.01 * median(rss))
    say("%-9s %-12s %10.1f %10.1f %10.1f %10.1f  %+.0f kB over %.0f min (%+.0f kB/h; limit %.0f kB)" % (
        role, "RSS MB", max(s[2] for s in before) / 1024, min(rss) / 1024, max(rss) / 1024, rss[-1] / 1024,
        grow, span / 60, grow / span * 3600 if span else 0, limit))
    ok, why = grow <= limit, ["RSS %+.0f kB (limit %.0f)" % (grow, limit)]
    middle = [s for s in after if s[0] < 2 * warm]
    last = [s for s in after if s[0] >= 2 * warm]
    for i, name in ((3, "fds"), (4, "threads")):
        wmax, amax = max(s[i] for s in before), max(s[i] for s in after)
        say("%-9s %-12s %10d %10d %10d %10d" % (role, name, wmax, min(s[i] for s in after), amax, after[-1][i]))
        if not middle or not last:
            ok = False
            why.append("%s: no samples in the middle or last third" % name)
            continue
        fm, fl = min(s[i] for s in middle), min(s[i] for s in last)
        ok = ok and fl <= fm
        why.append("%s floor %d in the last third vs %d in the middle (peak %d)" % (name, fl, fm, amax))
    verdict("no growth", ok, "%s: %s" % (role, "; ".join(why)))

# --- churn
say()
kinds = defaultdict(lambda: [0, 0])
for e in events:
    kinds[e["kind"]][0] += 1
    kinds[e["kind"]][1] += e["result"] == "OK"
secs = defaultdict(list)
for e in events:
    if e["result"] == "OK":
        secs[e["kind"]].append(float(e["seconds"]))
for k in sorted(kinds):
    n, ok = kinds[k]
    s = sorted(secs[k])
    say("  %-9s %4d events, %4d ok%s" % (k, n, ok, "; check took median %.2f s, max %.2f s" % (s[len(s) // 2], s[-1]) if s else ""))
bad = [e for e in events if e["result"] != "OK"]
for e in bad[:10]:
    say("  at %s s: %s %s: %s" % (e["t_s"], e["kind"], e["target"], e["result"]))
drifts = [e for e in events if e["kind"] == "drift"]
repaired = sum(e["result"] == "OK" for e in drifts)
verdict("drift", len(drifts) > 0 and repaired == len(drifts), "%d injected by hand, %d repaired (the object back and `havpn plan` exit 0 within 10 s)" % (
    len(drifts), repaired))
missing = {"appear", "withdraw", "vanish", "drift", "storm", "swap", "invalid"} - set(kinds)
verdict("churn", not bad and not missing, "%d events, %d failed%s; drift repairs counted by havpn: apiserver %s, shoot %s" % (
    len(events), len(bad), "; never happened: " + ", ".join(sorted(missing)) if missing else "",
    counts.get("sa_havpn_drift_repairs_total", "?"), counts.get("ss_havpn_drift_repairs_total", "?")))

# --- announcements
sent = int(counts.get("announcements_sent", 0))
try:
    got = int(float(counts["announcements_received"])) + int(float(counts["announcements_rejected"]))
except (KeyError, ValueError):
    got = -1
verdict("announcements", sent > 0 and got == sent, "%d sent by the stand-ins, %s received + %s rejected by the shoot side" % (
    sent, counts.get("announcements_received"), counts.get("announcements_rejected")))

say()
say("RESULT: " + ("PASS" if not failed else "FAIL (" + ", ".join(failed) + ")"))

# --- plot
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(3, 1, figsize=(8, 6.4), sharex=True)
    for ax, (i, label) in zip(axes, ((2, "RSS (MB)"), (3, "open descriptors"), (4, "threads"))):
        for role, colour in (("apiserver", "tab:blue"), ("shoot", "tab:orange")):
            xs = [s for s in samples[role] if s[1] != 0]
            ax.plot([s[0] / 60 for s in xs], [s[i] / 1024 if i == 2 else s[i] for s in xs], color=colour, lw=1.2,
                    label="havpn run --role " + role)
        ax.axvspan(0, warm / 60, color="0.9", lw=0)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    for e in events:
        if e["result"] != "OK":
            for ax in axes:
                ax.axvline(float(e["t_s"]) / 60, color="red", lw=0.6)
    axes[0].legend(loc="lower right", fontsize=8)
    axes[0].set_title("havpn soak: %.0f min, %d churn events (%s); grey: warm-up" % (
        duration / 60, len(events), "all passed" if not failed else "FAILED"), fontsize=10)
    axes[-1].set_xlabel("minutes")
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    say("plot: " + png)
except ImportError:
    say("plot: not made (python3-matplotlib missing)")
    failed.append("plot")

text = "\n".join(lines) + "\n"
sys.stdout.write(text)
with open(os.path.join(work, "summary.txt"), "w") as f:
    f.write(text)
sys.exit(1 if failed else 0)
