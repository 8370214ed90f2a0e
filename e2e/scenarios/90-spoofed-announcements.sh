# [needs havpn run] Spoofed and malformed announcements to the shoot pods' tunnel-controller port create nothing:
# no tunnel, no route, and havpn keeps running.
shoot_state() { local p; for p in $SHOOTPODS; do nsx "$p" ip -o link show type ip6tnl | awk '{print $2}' | sort; nsx "$p" ip route show; done; }
same_state() { [ "$(shoot_state)" = "$BEFORE" ] && runs_alive; }
scenario_spoofed_announcements() {
  needs_run spoofed-announcements || return 0
  poll 40 healthy || { fail spoofed-announcements "fabric not healthy before"; return; }
  BEFORE=$(shoot_state)
  # from api0's bond address (a real peer sending junk) and from an extra, unannounced bond address (::a:99)
  nsx api0 ip addr add fd8f:6d53:b97a:1::a:99/104 dev bond0 nodad
  nsx api0 /usr/bin/python3 - <<'PY'
import os, socket
payloads = [b'', b'garbage', b'10.250.0.99', b'fd8f:6d53:b97a:1::a:99', b'\x00' * 64, os.urandom(1200),
            b'A' * 60000, b'{"v":1,"podIP":"10.250.0.99"}', b'\xff' * 8 + b'10.250.0.99']
for src in ('fd8f:6d53:b97a:1::a:1', 'fd8f:6d53:b97a:1::a:99'):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind((src, 0))
    for dst in ('fd8f:6d53:b97a:1::b:0', 'fd8f:6d53:b97a:1::b:1'):
        for p in payloads:
            try: s.sendto(p, (dst, 5400))
            except OSError: pass
PY
  holds 3 same_state || { fail spoofed-announcements "state changed: $(diff <(echo "$BEFORE") <(shoot_state) | head -5 | tr '\n' ' ')"; nsx api0 ip addr del fd8f:6d53:b97a:1::a:99/104 dev bond0; return; }
  nsx api0 ip addr del fd8f:6d53:b97a:1::a:99/104 dev bond0
  pass spoofed-announcements "18 malformed/unauthenticated datagrams x 2 shoot pods: no tunnel, no route, havpn alive"
}
