#!/bin/sh
# Guest side of scripts/bench (runs inside user-mode-linux); see scripts/bench for what it measures.
# Usage: bench/guest.sh WORK_DIR HAVPN_BINARY RUNS
set -eu
modprobe -a bonding ip6_tunnel tun veth dummy
W=$1 BIN=$2 RUNS=$3
now() { date +%s.%N; }
# One line per sample: `med` sorts lines (without the newline every run of a figure was one line,
# and its "median" was the first run).
el() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f\n", b - a }'; }
med() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
: > $W/havpn-apply; : > $W/ip-batch; : > $W/havpn-plan; : > $W/ip-show
for r in $(seq $RUNS); do
    ip netns add bh$r; ip netns add bi$r
    t=$(now); "$BIN" apply -f $W/topology.yaml --role shoot --index 0 --netns bh$r >/dev/null; el $t $(now) >> $W/havpn-apply
    t=$(now); ip -n bi$r -batch $W/ip.batch; el $t $(now) >> $W/ip-batch
    [ "$(ip -n bh$r route show proto 201 | wc -l)" = "$(ip -n bi$r route show proto 201 | wc -l)" ] || { echo "route counts differ" >&2; exit 1; }
    t=$(now); "$BIN" plan -f $W/topology.yaml --role shoot --index 0 --netns bh$r >/dev/null; el $t $(now) >> $W/havpn-plan
    t=$(now); ip -n bh$r -j link show >/dev/null; ip -n bh$r -j route show >/dev/null; el $t $(now) >> $W/ip-show
    ip netns del bh$r; ip netns del bi$r
done
ha=$(med < $W/havpn-apply); ib=$(med < $W/ip-batch); hp=$(med < $W/havpn-plan); is=$(med < $W/ip-show)
echo "objects: 2 taps, bond0, 1 address, 100 ip6tnl tunnels, $(ip -V | head -c 0)10000 routes; median of $RUNS runs (user-mode-linux, kernel $(uname -r))"
awk -v h=$ha -v i=$ib 'BEGIN { printf "cold apply:  havpn apply %.3f s   ip -batch %.3f s   ratio %.2f (target <= 0.6)\n", h, i, h / i }'
awk -v h=$hp -v i=$is 'BEGIN { printf "no-op plan:  havpn plan  %.3f s   ip -j link+route show %.3f s   ratio %.2f (target <= 1.0)\n", h, i, h / i }'

# --- a pod of the size pods have: 1 tunnel, 10 routes; no-op plan against the same two `ip` calls,
# alternating, 3 * RUNS + 1 samples each (start-up is most of it, and it is noisy)
S=$W/small
python3 bench/gen-topology.py $S 1 10 >/dev/null
ip netns add bs
"$BIN" apply -f $S/topology.yaml --role shoot --index 0 --netns bs >/dev/null
: > $S/havpn-plan; : > $S/ip-show
for r in $(seq $((3 * RUNS + 1))); do
    t=$(now); "$BIN" plan -f $S/topology.yaml --role shoot --index 0 --netns bs >/dev/null; el $t $(now) >> $S/havpn-plan
    t=$(now); ip -n bs -j link show >/dev/null; ip -n bs -j route show >/dev/null; el $t $(now) >> $S/ip-show
done
ip netns del bs
sp=$(med < $S/havpn-plan); ss=$(med < $S/ip-show)
awk -v h=$sp -v i=$ss 'BEGIN { printf "no-op plan, 1 tunnel + 10 routes:  havpn plan %.3f s   ip -j link+route show %.3f s   ratio %.2f (target <= 2.0)\n", h, i, h / i }'

# --- side-car
ip link set lo up
E=$W/sidecar.yaml
# bench/sidecar.py announces in vpn2's plain format, so the shoot side must accept that format.
sed 's/format: havpn/format: vpn2/' examples/ha-2x2-ipv4.yaml > $E
ip netns add sa; ip netns add ss; ip netns add sb
"$BIN" run -f $E --role apiserver --index 1 --netns sa --http-address 127.0.0.1 --http-port 9101 --pod-ip 10.1.0.5 > $W/run-sa.log 2>&1 &
"$BIN" run -f $E --role shoot --index 0 --netns ss --http-address 127.0.0.1 --http-port 9102 > $W/run-ss.log 2>&1 &
for i in $(seq 100); do [ "$(ip -n sa route show proto 201 | wc -l)" -ge 3 ] && ip -n ss link show bond0 >/dev/null 2>&1 && break; sleep 0.1; done
# The shoot pod's bond gets a veth slave towards a stand-in apiserver (netns sb, ::a:5).
ip link add va netns ss type veth peer name vb netns sb
ip -n ss link set va down; ip -n ss link set va master bond0; ip -n ss link set va up
ip -n sb link set vb up; ip -n sb addr add fd8f:6d53:b97a:1::a:5/104 dev vb nodad; ip -n sb link set lo up
sleep 2
python3 bench/sidecar.py drift sa 200
python3 bench/sidecar.py announce ss sb 50
python3 bench/ruleset.py iptables-drift sa 20
hz=$(getconf CLK_TCK)
for ns in sa ss; do
    pid=$(pgrep -f "netns $ns " | head -1)
    c0=$(awk '{print $14+$15}' /proc/$pid/stat); sleep 10; c1=$(awk '{print $14+$15}' /proc/$pid/stat)
    echo "side-car $ns: $(grep VmRSS /proc/$pid/status | tr -s ' '), idle CPU $(awk -v a=$c0 -v b=$c1 -v hz=$hz 'BEGIN { printf "%.1f%%", (b - a) / hz / 10 * 100 }') (of one guest CPU, probing and beaconing with no peers)"
done
pkill -f "havpn run" || true
