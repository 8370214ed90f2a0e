#!/usr/bin/env python3
"""Instructions executed by a whole-process `havpn validate` (valgrind's callgrind), 10,000-IP topology
against a tiny file: unlike time, the count repeats to a few parts in 10,000 on a busy machine.
usage: validate-instructions.py HAVPN TINY.yaml BIG.yaml
HAVPN must carry no DWARF 5 debug information (valgrind 3.19 cannot read it): pass a stripped copy.
"""
import re, subprocess, sys
def instructions(path):
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.argv[1], "validate", "-f", path],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))
tiny, big = instructions(sys.argv[2]), instructions(sys.argv[3])
print(f"validate (host, whole process, callgrind): 10,000 pod IPs {big / 1e6:.1f} M instructions   "
      f"tiny file {tiny / 1e6:.1f} M   ratio {big / tiny:.2f}")
