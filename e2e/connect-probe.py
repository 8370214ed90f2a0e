#!/usr/bin/python3
"""One CONNECT through the proxy, as kube-apiserver's egress selector makes it.

usage: connect-probe.py PROXY_HOST PROXY_PORT TARGET_HOST TARGET_PORT [EXPECT]
EXPECT 200 (default): the proxy answers 200 and a line sent through the tunnel comes back (the target is an
echo server); exit 0. EXPECT 403 (or another status): the proxy answers that status; exit 0. Else exit 1,
with the reason on stdout. A 5 s deadline on every step."""
import socket, sys

proxy, port, target, tport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
expect = sys.argv[5] if len(sys.argv) > 5 else "200"
try:
    s = socket.create_connection((proxy, port), timeout=5)
    host = f"[{target}]" if ":" in target else target
    s.sendall(f"CONNECT {host}:{tport} HTTP/1.1\r\nHost: {host}:{tport}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    status = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/1.") else "none"
    if status != expect:
        print(f"status {status}, expected {expect}: {head[:80]!r}")
        sys.exit(1)
    if expect == "200":
        s.sendall(b"havpn-single-mode\n")
        got = b""
        while b"\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        if got != b"havpn-single-mode\n":
            print(f"echo {got!r}")
            sys.exit(1)
    sys.exit(0)
except OSError as error:
    print(f"error: {error}")
    sys.exit(1)
