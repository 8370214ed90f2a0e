#!/usr/bin/env python3
"""Side-car latencies, measured with raw rtnetlink inside the pod's network namespace.

usage: sidecar.py drift NETNS COUNT          -> delete an owned route COUNT times; time until havpn re-adds it
       sidecar.py announce NETNS SRCNS COUNT -> send vpn2 announcements from SRCNS; time until the back route exists

Times are taken in this process around the netlink request and the kernel's event, so the
~60 ms cost of starting `ip` in user-mode-linux does not enter the figures.
"""
import ctypes, os, select, socket, struct, sys, time

libc = ctypes.CDLL("libc.so.6", use_errno=True)
CLONE_NEWNET = 0x40000000
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
RTMGRP_IPV4_ROUTE = 0x40
RTA_DST, RTA_OIF = 1, 4


def enter(ns):
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns " + ns)
    os.close(fd)


def nl(groups=0):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.bind((0, groups))
    return s


def routes(s, proto=201):
    """Owned IPv4 routes: [(dst bytes, dst_len, oif)]."""
    s.send(struct.pack("=LHHLL", 28, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + struct.pack("=BBBBBBBBL", 2, 0, 0, 0, 0, 0, 0, 0, 0))
    out = []
    while True:
        data = s.recv(1 << 20)
        off = 0
        while off < len(data):
            ln, typ = struct.unpack_from("=LH", data, off)
            if typ == 3:  # NLMSG_DONE
                return out
            if typ == RTM_NEWROUTE:
                fam, dlen, _, _, table, prot = struct.unpack_from("=BBBBBB", data, off + 16)
                a, dst, oif = off + 28, None, None
                while a + 4 <= off + ln:
                    alen, atype = struct.unpack_from("=HH", data, a)
                    if atype == RTA_DST: dst = data[a + 4:a + alen]
                    if atype == RTA_OIF: oif = struct.unpack_from("=L", data, a + 4)[0]
                    a += (alen + 3) & ~3
                if prot == proto and fam == 2 and dst is not None:
                    out.append((dst, dlen, oif))
            off += (ln + 3) & ~3


def route_msg(typ, dst, dlen, oif, flags):
    attrs = struct.pack("=HH", 8, RTA_DST) + dst + struct.pack("=HHL", 8, RTA_OIF, oif)
    body = struct.pack("=BBBBBBBBL", 2, dlen, 0, 0, 254, 201, 253, 1, 0) + attrs
    return struct.pack("=LHHLL", 16 + len(body), typ, flags, 2, 0) + body


def wait_for_route(mon, dst, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([mon], [], [], max(0, end - time.monotonic()))
        if not r:
            break
        data = mon.recv(1 << 20)
        off = 0
        while off < len(data):
            ln, typ = struct.unpack_from("=LH", data, off)
            if typ == RTM_NEWROUTE and dst in data[off:off + ln]:
                return time.monotonic()
            off += (ln + 3) & ~3
    return None


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def report(name, lat):
    ms = [x * 1000 for x in lat]
    print("%s: n=%d p50=%.1f ms p99=%.1f ms max=%.1f ms" % (name, len(ms), percentile(ms, 50), percentile(ms, 99), max(ms)))


def drift(ns, count):
    enter(ns)
    req, mon = nl(), nl(RTMGRP_IPV4_ROUTE)
    owned = routes(req)
    if not owned:
        sys.exit("no owned routes in " + ns)
    lat = []
    for i in range(count):
        dst, dlen, oif = owned[i % len(owned)]
        t0 = time.monotonic()
        req.send(route_msg(RTM_DELROUTE, dst, dlen, oif, NLM_F_REQUEST | NLM_F_ACK))
        req.recv(65536)
        t1 = wait_for_route(mon, dst)
        if t1 is None:
            sys.exit("route not restored within 5 s")
        lat.append(t1 - t0)
        time.sleep(0.05)  # let the side-car settle between samples
    report("drift repair (owned route deleted -> restored)", lat)


def announce(ns, srcns, count):
    enter(ns)
    mon = nl(RTMGRP_IPV4_ROUTE)
    enter(srcns)
    lat = []
    for i in range(count):
        ip = "10.99.%d.%d" % (i // 250, i % 250 + 1)
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("fd8f:6d53:b97a:1::a:5", 0))
        t0 = time.monotonic()
        s.sendto(ip.encode(), ("fd8f:6d53:b97a:1::b:0", 5400))
        t1 = wait_for_route(mon, socket.inet_aton(ip))
        s.close()
        if t1 is None:
            sys.exit("no back route for %s within 5 s" % ip)
        lat.append(t1 - t0)
    report("announcement -> tunnel and back route", lat)


if __name__ == "__main__":
    if sys.argv[1] == "drift":
        drift(sys.argv[2], int(sys.argv[3]))
    else:
        announce(sys.argv[2], sys.argv[3], int(sys.argv[4]))
