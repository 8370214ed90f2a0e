#!/usr/bin/env python3
"""Foreign route churn for the event-storm scenario, as fast as the kernel takes it.

usage: route-storm.py DEVICE ADDS DELETES     (run inside the namespace: ip netns exec NS route-storm.py ...)
Adds ADDS routes 198.18.x.y/32 dev DEVICE proto static, then deletes the first DELETES of them: ADDS + DELETES
route changes, each one rtnetlink event. `ip -batch` does the same but waits for every answer, which costs
~0.4 ms per change under user-mode-linux (and its memory grows with the batch); here 500 requests go in one
sendmsg, without asking for acknowledgements. Errors are always reported by the kernel: any one fails the run.
"""
import socket, struct, sys

RTM_NEWROUTE, RTM_DELROUTE = 24, 25
NLM_F_REQUEST, NLM_F_CREATE, NLM_F_EXCL = 1, 0x400, 0x200
RTA_DST, RTA_OIF = 1, 4
RTPROT_STATIC, RT_SCOPE_LINK, RT_TABLE_MAIN, RTN_UNICAST = 4, 253, 254, 1

dev, adds, deletes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
oif = socket.if_nametoindex(dev)
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind((0, 0))


def msg(typ, flags, i, seq):
    dst = bytes([198, 18 + (i >> 16), (i >> 8) & 255, i & 255])
    body = struct.pack("=BBBBBBBBL", 2, 32, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_LINK, RTN_UNICAST, 0)
    body += struct.pack("=HH", 8, RTA_DST) + dst + struct.pack("=HHL", 8, RTA_OIF, oif)
    return struct.pack("=LHHLL", 16 + len(body), typ, flags, seq, 0) + body


def errors():
    n = 0
    s.setblocking(False)
    try:
        while True:
            data = s.recv(1 << 20)
            off = 0
            while off + 20 <= len(data):
                ln, typ = struct.unpack_from("=LH", data, off)
                if typ == 2 and struct.unpack_from("=i", data, off + 16)[0] != 0:
                    n += 1
                off += (ln + 3) & ~3
    except BlockingIOError:
        pass
    s.setblocking(True)
    return n


changes = [(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, i) for i in range(adds)]
changes += [(RTM_DELROUTE, NLM_F_REQUEST, i) for i in range(deletes)]
bad = 0
for start in range(0, len(changes), 500):
    s.send(b"".join(msg(t, f, i, start + k) for k, (t, f, i) in enumerate(changes[start:start + 500])))
    bad += errors()
if bad:
    sys.exit("%d route changes failed" % bad)
print("%d route changes" % len(changes))
