#!/usr/bin/env python3
"""Writes real rtnetlink datagrams as FuzzNetlink seeds: link, address and route dumps of the
current network namespace, and an acknowledgement carrying the kernel's extended-ack text.
Run inside the lab after `havpn apply` (see scripts/fuzz-corpus).  usage: capture-netlink.py OUT_DIR
"""
import os, socket, struct, sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
NETLINK_ROUTE, NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0, 1, 4, 0x300
RTM_NEWLINK, RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE = 16, 18, 22, 26
SOL_NETLINK, NETLINK_EXT_ACK = 270, 11

def datagrams(request):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    s.send(request)
    while True:
        data = s.recv(1 << 16)
        yield data
        kind = struct.unpack_from("=IHH", data)[1]
        if kind in (2, 3):  # NLMSG_ERROR, NLMSG_DONE
            return

for name, kind, family_header in [
    ("links", RTM_GETLINK, struct.pack("=BxHiII", 0, 0, 0, 0, 0)),
    ("addresses", RTM_GETADDR, struct.pack("=BBBBi", 0, 0, 0, 0, 0)),
    ("routes", RTM_GETROUTE, struct.pack("=BBBBBBBBI", 0, 0, 0, 0, 0, 0, 0, 0, 0)),
]:
    request = struct.pack("=IHHII", 16 + len(family_header), kind, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + family_header
    for i, data in enumerate(datagrams(request)):
        open(os.path.join(out, "%s-%d" % (name, i)), "wb").write(data)

# A link of an unknown kind: the kernel refuses it with an errno and (on 6.1) an extended-ack text.
kind = b"nosuchkind\0"
linkinfo = struct.pack("=HH", 4 + len(kind), 1) + kind          # IFLA_INFO_KIND
linkinfo += b"\0" * ((4 - len(linkinfo) % 4) % 4)
attrs = struct.pack("=HH", 4 + len(linkinfo), 18) + linkinfo    # IFLA_LINKINFO
ifname = b"fuzz0\0"
attrs += struct.pack("=HH", 4 + len(ifname), 3) + ifname + b"\0" * ((4 - len(ifname) % 4) % 4)
body = struct.pack("=BxHiII", 0, 0, 0, 0, 0) + attrs
request = struct.pack("=IHHII", 16 + len(body), RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | 0x400 | 0x200, 2, 0) + body
for data in datagrams(request):
    open(os.path.join(out, "ack-unknown-kind"), "wb").write(data)
