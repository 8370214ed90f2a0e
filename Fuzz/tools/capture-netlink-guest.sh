#!/bin/sh
# Guest side of the FuzzNetlink corpus capture: a pod's objects after `havpn apply`, both roles.
# Usage (from the repository): lab/umlrun "Fuzz/tools/capture-netlink-guest.sh HAVPN_BINARY"
set -eu
BIN=$1
modprobe -a bonding ip6_tunnel tun veth dummy
for pod in "apiserver 1" "shoot 0"; do
    set -- $pod
    ip netns add "cap-$1"
    "$BIN" apply -f examples/dual-stack.yaml --role "$1" --index "$2" --netns "cap-$1" >/dev/null
    ip -n "cap-$1" route add 192.0.2.0/24 dev lo proto static 2>/dev/null || true
    ip netns exec "cap-$1" python3 Fuzz/tools/capture-netlink.py "Fuzz/Corpus/FuzzNetlink/$1"
done
