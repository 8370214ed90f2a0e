#!/usr/bin/env python3
"""Writes the benchmark topology and the equivalent `ip -batch` file.

Shoot role, index 0: 100 kube-apiservers with 100 pod IPs each = 100 ip6tnl tunnels and 10,000
/32 back routes, plus 2 taps, the bond and its address: exactly what `havpn apply` creates.
usage: gen-topology.py OUT_DIR [APISERVERS] [PODIPS_PER_APISERVER]
"""
import os, sys

out = sys.argv[1]
n_api = int(sys.argv[2]) if len(sys.argv) > 2 else 100
per = int(sys.argv[3]) if len(sys.argv) > 3 else 100
os.makedirs(out, exist_ok=True)
prefix = "fd8f:6d53:b97a:1::"

def pod_ip(a, k):
    n = 0x0A400000 + (a - 1) * per + k + 1  # 10.64.0.1, 10.64.0.2, ...
    return "%d.%d.%d.%d" % (n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255)

lines = ["apiVersion: havpn/v1", "networks:", "  seedPods: [10.0.0.0/8]", "apiservers:"]
batch = [
    "tuntap add dev tap0 mode tap", "tuntap add dev tap1 mode tap",
    "link add bond0 type bond mode active-backup miimon 100 fail_over_mac active use_carrier 1 num_grat_arp 5",
    "link set tap0 master bond0", "link set tap1 master bond0", "link set bond0 type bond primary tap0",
    "link set tap0 up", "link set tap1 up", "link set bond0 up",
    "addr add %sb:0/104 dev bond0 nodad" % prefix,
]
for a in range(1, n_api + 1):
    ips = []
    for k in range(per):
        ips.append(pod_ip(a, k))
    lines.append("  - {index: %d, podIPs: [%s]}" % (a, ", ".join(ips)))
    name = "bond0ip6tnl%02x%02x" % (a >> 8, a & 0xff)
    remote = "%sa:%x" % (prefix, a)
    batch.append("link add %s type ip6tnl mode any local %sb:0 remote %s encaplimit none" % (name, prefix, remote))
    batch.append("link set %s up" % name)
    for ip in ips:
        batch.append("route add %s/32 dev %s proto 201" % (ip, name))
open(os.path.join(out, "topology.yaml"), "w").write("\n".join(lines) + "\n")
open(os.path.join(out, "ip.batch"), "w").write("\n".join(batch) + "\n")
print("%d tunnels, %d routes" % (n_api, sum(1 for l in batch if l.startswith("route add"))))
