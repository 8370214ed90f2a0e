#!/usr/bin/env python3
"""A stand-in kube-apiserver pod announcing itself in havpn's format until it is killed.

usage: announce.py [--count FILE] [--withdraw-on-term] SOURCE DESTINATION POD_IP [INTERVAL_S]
       (run inside the stand-in's namespace)
Sends one havpn announcement (no HMAC, lifetime 0 = the receiver's announcements.lifetime) for bond address
SOURCE (...::a:N) and IPv4 POD_IP as a UDP6 datagram from [SOURCE] to [DESTINATION]:5400 (the shoot pod's bond
address) every INTERVAL_S seconds (default 0.5). Layout: Sources/HAVPNControl/AnnouncementCodec.swift.
  --count FILE        after every datagram the socket took, FILE holds how many it took so far
  --withdraw-on-term  on SIGTERM, send one withdraw (as `havpn run` does when it stops) and exit 0;
                      without it SIGTERM ends the process silently, like SIGKILL
SIGUSR1 ends it silently (a vanished apiserver). Signals wait while a datagram is sent and counted, so FILE
always holds exactly how many datagrams went out.
"""
import os, signal, socket, struct, sys, time

args = sys.argv[1:]
count_file, withdraw_on_term = None, False
while args and args[0].startswith("--"):
    opt = args.pop(0)
    if opt == "--count":
        count_file = args.pop(0)
    elif opt == "--withdraw-on-term":
        withdraw_on_term = True
    else:
        sys.exit("announce.py: unknown option " + opt)
src, dst, pod_ip = args[0], args[1], args[2]
interval = float(args[3]) if len(args) > 3 else 0.5
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((src, 0))
bond = socket.inet_pton(socket.AF_INET6, src)
sent = 0


def send(kind):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGUSR1})
    try:
        send_counted(kind)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGUSR1})


def send_counted(kind):
    global sent
    sequence = int(time.time() * 1000) << 16  # grows across restarts, as havpn's own senders do
    msg = b"HAVP" + bytes([1, kind, 0]) + struct.pack(">QL", sequence, 0) + bond + bytes([1, 4]) + socket.inet_aton(pod_ip)
    try:
        s.sendto(msg, (dst, 5400))
    except OSError:
        return  # no neighbour yet: the next one goes
    sent += 1
    if count_file:
        with open(count_file, "w") as f:
            f.write("%d\n" % sent)


def term(_signum, _frame):
    if withdraw_on_term:
        send(2)
    sys.exit(0)


signal.signal(signal.SIGTERM, term)
signal.signal(signal.SIGUSR1, lambda _s, _f: os._exit(0))
while True:
    send(1)
    time.sleep(interval)
