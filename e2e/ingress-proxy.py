#!/usr/bin/python3
"""HTTP CONNECT gateway standing in for the Istio ingress: routes on a request header, never on the CONNECT target.

usage: ingress-proxy.py LISTEN_HOST LISTEN_PORT HEADER LOG VALUE=HOST:PORT...
A request whose HEADER value is not one of the VALUEs is answered 403; no header: 400.
When either side closes, the other side is closed at once, so a dying server drops its clients' TCP session
(and with it their tap carrier), as the real gateway does."""
import socket, sys, threading, time

host, port, header, logf = sys.argv[1], int(sys.argv[2]), sys.argv[3].lower(), sys.argv[4]
routes = {}
for a in sys.argv[5:]:
    v, _, hp = a.rpartition('=')
    h, _, p = hp.rpartition(':')
    routes[v] = (h.strip('[]'), int(p))
log = open(logf, 'a', buffering=1)
def say(m): log.write('%.3f %s\n' % (time.time(), m))

def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass

def handle(c, peer):
    try:
        c.settimeout(10)
        buf = b''
        while b'\r\n\r\n' not in buf:
            d = c.recv(4096)
            if not d or len(buf) > 16384: c.close(); return
            buf += d
        head, rest = buf.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(':'); hdrs[k.strip().lower()] = v.strip()
        if not lines[0].startswith('CONNECT ') or header not in hdrs:
            say('400 %s %r' % (peer[0], lines[0])); c.sendall(b'HTTP/1.1 400 Bad Request\r\n\r\n'); c.close(); return
        dst = routes.get(hdrs[header])
        if dst is None:
            say('403 %s %s' % (peer[0], hdrs[header])); c.sendall(b'HTTP/1.1 403 Forbidden\r\n\r\n'); c.close(); return
        try:
            u = socket.create_connection(dst, timeout=5)
        except OSError as e:
            say('502 %s -> %s %s' % (peer[0], dst, e)); c.sendall(b'HTTP/1.1 502 Bad Gateway\r\n\r\n'); c.close(); return
        c.settimeout(None); u.settimeout(None)
        for s in (c, u): s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
        if rest: u.sendall(rest)
        say('200 %s -> [%s]:%d' % (peer[0], dst[0], dst[1]))
        threading.Thread(target=pump, args=(u, c), daemon=True).start()
        pump(c, u)
    except OSError as e:
        say('error %s %s' % (peer[0], e))

ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port)); ls.listen(64)
say('listening [%s]:%d routes %s' % (host, port, routes))
while True:
    c, peer = ls.accept()
    threading.Thread(target=handle, args=(c, peer), daemon=True).start()
