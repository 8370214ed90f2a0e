#!/usr/bin/env python3
"""Whole-process `havpn validate` of a 10,000-pod-IP topology against a tiny file (host, no kernel).
usage: validate-cost.py HAVPN TINY.yaml BIG.yaml
The two files are run alternately, 41 times each, so that a change in the machine's load (a shared host)
weighs on both medians alike instead of on whichever file ran during it.
"""
import statistics, subprocess, sys, time
def seconds(path):
    start = time.perf_counter()
    subprocess.run([sys.argv[1], "validate", "-f", path], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start
samples = {sys.argv[2]: [], sys.argv[3]: []}
for _ in range(41):
    for path in samples:
        samples[path].append(seconds(path))
tiny, big = (statistics.median(samples[path]) for path in (sys.argv[2], sys.argv[3]))
print(f"validate (host, whole process, median of 41, alternating): 10,000 pod IPs {big * 1e3:.1f} ms   "
      f"tiny file {tiny * 1e3:.1f} ms   ratio {big / tiny:.2f} (target <= 2)")
