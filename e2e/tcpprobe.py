#!/usr/bin/python3
"""Long-lived TCP echo probe: one line every 100 ms, records echo times (from the lab recipe).
usage: tcpprobe.py HOST PORT STOPFILE OUTJSON   -- writes {'survived', 'max_gap_s', 'sent', 'echoed', ...}"""
import socket, time, sys, select, json, os
host, port, stopfile, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
iv = 0.1
# Connecting is the precondition, not the measurement: retry for a while (a SYN lost while a
# peer's bond settles costs a 1 s retransmit) and leave the last error where the harness sees it.
deadline, s = time.time() + 12, None
while s is None:
    try:
        s = socket.create_connection((host, port), timeout=3)
    except OSError as e:
        if time.time() > deadline:
            open(out + '.failed', 'w').write('connect %s:%d: %s' % (host, port, e)); sys.exit(1)
        time.sleep(0.2)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.setblocking(False)
sent, recv, buf, seq, err = {}, [], b'', 0, None
t0 = nxt = time.time()
stopping = None
open(out + '.ready', 'w').close()
while True:
    now = time.time()
    if stopping is None and os.path.exists(stopfile):
        stopping = now
    if stopping is not None and (len(recv) == seq or now - stopping > 30):
        break
    if stopping is None and now >= nxt:
        try:
            s.send(b'%d\n' % seq); sent[seq] = now; seq += 1
        except BlockingIOError:
            pass
        except OSError as e:
            err = 'send: %s' % e; break
        nxt += iv
    r, _, _ = select.select([s], [], [], max(0.0, min(nxt - time.time(), 0.02)))
    if r:
        try:
            d = s.recv(65536)
        except OSError as e:
            err = 'recv: %s' % e; break
        if not d:
            err = 'EOF'; break
        buf += d
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            recv.append((time.time(), int(line)))
prev, gaps = t0, []
for t, n in recv:
    if t - prev > 0.15: gaps.append({'from': prev, 'gap_s': round(t - prev, 3)})
    prev = t
inorder = all(recv[i][1] == i for i in range(len(recv)))
mg = max([b[0] - a[0] for a, b in zip(recv, recv[1:])] or [0])
res = {'start': t0, 'max_gap_s': round(mg, 3), 'sent': seq, 'echoed': len(recv), 'in_order': inorder, 'error': err,
       'gaps': gaps, 'survived': err is None and len(recv) == seq and inorder}
json.dump(res, open(out, 'w'), indent=1)
