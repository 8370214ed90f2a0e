#!/usr/bin/env python3
"""A stand-in kube-apiserver pod announcing itself in havpn's format until it is killed.

usage: announce.py SOURCE DESTINATION POD_IP [INTERVAL_S]   (run inside the stand-in's namespace)
Sends one havpn announcement (no HMAC, lifetime 0 = the receiver's announcements.lifetime) for bond address
SOURCE (...::a:N) and IPv4 POD_IP as a UDP6 datagram from [SOURCE] to [DESTINATION]:5400 (the shoot pod's bond
address) every INTERVAL_S seconds (default 0.5). Layout: Sources/HAVPNControl/AnnouncementCodec.swift.
"""
import socket, struct, sys, time

src, dst, pod_ip = sys.argv[1], sys.argv[2], sys.argv[3]
interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.5
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((src, 0))
bond = socket.inet_pton(socket.AF_INET6, src)
while True:
    sequence = int(time.time() * 1000) << 16  # grows across restarts, as havpn's own senders do
    msg = b"HAVP" + bytes([1, 1, 0]) + struct.pack(">QL", sequence, 0) + bond + bytes([1, 4]) + socket.inet_aton(pod_ip)
    try:
        s.sendto(msg, (dst, 5400))
    except OSError:
        pass  # no neighbour yet: the next one goes
    time.sleep(interval)
