#!/usr/bin/env python3
"""Load generator and target for scripts/bench-proxy. Loopback only, bounded in count and time.

  bench_proxy.py target HOST PORT            echo/source server (runs until killed)
  bench_proxy.py measure NAME PROXY|direct TARGET PID...   prints one JSON line of figures

The target speaks a one-line protocol: "E\n" echoes, "S <n>\n" sends n bytes and closes, "H\n" holds
(accepts and waits for the client to close). The client measures through an HTTP CONNECT proxy
("host:port") or directly ("direct"):
  - set-up latency: connect + CONNECT + "200" (direct: connect + first echoed byte), p50/p99;
  - throughput of one stream: 1 GiB from the target to the client;
  - 1,000 concurrent tunnels held open, each checked with one echoed byte, and the proxy's resident
    memory (VmRSS summed over the given PIDs and their children) idle and with the tunnels open.
"""
import json
import os
import socket
import socketserver
import statistics
import sys
import time

DEADLINE = time.monotonic() + 240  # the whole measurement of one proxy stops within 4 minutes
CHUNK = 1 << 20


class Target(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        line = b""
        while b"\n" not in line:
            data = sock.recv(64)
            if not data:
                return
            line += data
        line, rest = line.split(b"\n", 1)
        command = line.split()
        if command[0] == b"E":
            if rest:
                sock.sendall(rest)
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                sock.sendall(data)
        elif command[0] == b"S":
            remaining = int(command[1])
            block = memoryview(bytes(CHUNK))
            while remaining > 0:
                n = min(remaining, CHUNK)
                sock.sendall(block[:n])
                remaining -= n
        elif command[0] == b"H":
            while sock.recv(1):
                pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096


def open_stream(proxy, target):
    """A connected socket to `target` (host, port), through `proxy` unless it is None."""
    if proxy is None:
        sock = socket.create_connection(target, timeout=10)
    else:
        sock = socket.create_connection(proxy, timeout=10)
        sock.sendall(f"CONNECT {target[0]}:{target[1]} HTTP/1.1\r\nHost: {target[0]}:{target[1]}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(4096)
            if not data:
                raise OSError("proxy closed before answering")
            head += data
        status = head.split(b" ", 2)[1]
        if status != b"200":
            raise OSError(f"proxy answered {head.splitlines()[0]!r}")
        assert head.endswith(b"\r\n\r\n"), "bytes after the CONNECT response"
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def setup_latency(proxy, target, count):
    samples = []
    for _ in range(count):
        if time.monotonic() > DEADLINE:
            break
        start = time.perf_counter()
        sock = open_stream(proxy, target)
        sock.sendall(b"E\nx")
        assert sock.recv(1) == b"x"
        samples.append(time.perf_counter() - start)
        sock.close()
    samples.sort()
    return {
        "setup_p50_ms": round(1000 * samples[len(samples) // 2], 3),
        "setup_p99_ms": round(1000 * samples[int(len(samples) * 0.99) - 1], 3),
        "setup_samples": len(samples),
    }


def throughput(proxy, target, total, runs):
    rates = []
    for _ in range(runs):
        sock = open_stream(proxy, target)
        sock.sendall(f"S {total}\n".encode())
        buffer = bytearray(CHUNK)
        received = 0
        start = time.perf_counter()
        while True:
            n = sock.recv_into(buffer)
            if n == 0:
                break
            received += n
        elapsed = time.perf_counter() - start
        sock.close()
        assert received == total, f"received {received} of {total}"
        rates.append(total / elapsed / 1e6)
    return {"throughput_MBps": round(statistics.median(rates), 1)}


def rss_kib(pids):
    """VmRSS of the processes and all their descendants."""
    todo, seen, total = list(pids), set(), 0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{pid}/task/{pid}/children") as children:
                todo += [int(c) for c in children.read().split()]
        except OSError:
            pass
    return total


def concurrent(proxy, target, count, pids):
    idle = rss_kib(pids)
    socks = []
    start = time.perf_counter()
    try:
        for _ in range(count):
            sock = open_stream(proxy, target)
            sock.sendall(b"E\n")
            socks.append(sock)
        opened = time.perf_counter() - start
        for sock in socks:
            sock.sendall(b"y")
        for sock in socks:
            assert sock.recv(1) == b"y"
        loaded = rss_kib(pids)
    finally:
        for sock in socks:
            sock.close()
    return {
        "tunnels": len(socks),
        "open_all_s": round(opened, 2),
        "rss_idle_MiB": round(idle / 1024, 1),
        "rss_tunnels_MiB": round(loaded / 1024, 1),
    }


def main():
    if sys.argv[1] == "target":
        Server((sys.argv[2], int(sys.argv[3])), Target).serve_forever()
        return
    name, via, target_text = sys.argv[2], sys.argv[3], sys.argv[4]
    pids = [int(p) for p in sys.argv[5:]]
    host, port = target_text.rsplit(":", 1)
    target = (host, int(port))
    proxy = None
    if via != "direct":
        proxy_host, proxy_port = via.rsplit(":", 1)
        proxy = (proxy_host, int(proxy_port))
    figures = {"name": name}
    figures.update(setup_latency(proxy, target, int(os.environ.get("SETUPS", "2000"))))
    figures.update(throughput(proxy, target, int(os.environ.get("BYTES", str(1 << 30))), int(os.environ.get("RUNS", "3"))))
    figures.update(concurrent(proxy, target, int(os.environ.get("TUNNELS", "1000")), pids))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
