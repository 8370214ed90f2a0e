#!/usr/bin/python3
"""Inside a pod netns: log every change of the bond's active slave and the tap carriers (100 ms polling).
usage: bondmon.py OUTFILE STOPFILE [BOND] [TAPS...]      line: epoch active carrier(tap0) carrier(tap1) ..."""
import sys, time, os
out, stop = open(sys.argv[1], 'a', buffering=1), sys.argv[2]
bond = sys.argv[3] if len(sys.argv) > 3 else 'bond0'
taps = sys.argv[4:] or ['tap0', 'tap1']
def rd(p):
    try:
        with open(p) as f: return f.read().strip() or '-'
    except OSError: return '?'
last = None
while not os.path.exists(stop):
    st = (rd('/sys/class/net/%s/bonding/active_slave' % bond),) + tuple(rd('/sys/class/net/%s/carrier' % t) for t in taps)
    if st != last:
        out.write('%.6f %s\n' % (time.time(), ' '.join(st))); last = st
    time.sleep(0.1)  # 100 ms: finer polling in four pods costs the loaded UML guest more than it measures
