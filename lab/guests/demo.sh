#!/bin/sh
# Guest side of scripts/demo (runs inside user-mode-linux): plan, apply, plan for an apiserver
# and a shoot pod, each in a fresh network namespace.
# Usage: lab/guests/demo.sh HAVPN_BINARY TOPOLOGY.yaml
BIN=$1 TOPOLOGY=$2
set -u
modprobe -a bonding ip6_tunnel tun veth dummy
run() { echo "$ havpn $*"; "$BIN" "$@"; echo "(exit $?)"; echo; }
for pod in "apiserver 1" "shoot 0"; do
    set -- $pod
    ns="demo-$1"
    ip netns add "$ns" && ip -n "$ns" link set lo up
    echo "=== $1 pod (index $2) in netns $ns"
    run plan  -f "$TOPOLOGY" --role $1 --index $2 --netns "$ns"
    run apply -f "$TOPOLOGY" --role $1 --index $2 --netns "$ns"
    run plan  -f "$TOPOLOGY" --role $1 --index $2 --netns "$ns" || exit 1
    echo "$ ip -n $ns -br link; ip -n $ns route show proto 201"
    ip -n "$ns" -br link; ip -n "$ns" route show proto 201; ip -n "$ns" -6 route show proto 201
    echo
done
