#!/usr/bin/env python3
"""Whole-process `havpn validate` of a 10,000-pod-IP topology against a tiny file (host, no kernel).
usage: validate-cost.py HAVPN TINY.yaml BIG.yaml
"""
import statistics, subprocess, sys, time
def median_seconds(path, runs=21):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.argv[1], "validate", "-f", path], stdout=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)
tiny, big = median_seconds(sys.argv[2]), median_seconds(sys.argv[3])
print(f"validate (host, whole process, median of 21): 10,000 pod IPs {big * 1e3:.1f} ms   tiny file {tiny * 1e3:.1f} ms   ratio {big / tiny:.2f} (target <= 2)")
