#!/bin/sh
# Guest side of scripts/demo (runs inside user-mode-linux): plan, apply, plan for an apiserver
# and a shoot pod, each in a fresh network namespace.
# Usage: lab/guests/demo.sh HAVPN_BINARY TOPOLOGY.yaml
BIN=$1 TOPOLOGY=$2
set -u
modprobe -a bonding ip6_tunnel tun veth dummy
run() { echo "$ havpn $*"; "$BIN" "$@"; echo "(exit $?)"; echo; }
# Single mode (vpn2's non-HA tunnel) has a server and a vpn-shoot pod, and routes through openvpn's tun0: the
# demo stands in for openvpn with `ip tuntap` after the first apply, so the waiting routes appear.
PODS="apiserver 1,shoot 0"
grep -q '^mode: *single' "$TOPOLOGY" && PODS="server 0,shoot 0"
IFS=,
for pod in $PODS; do
    IFS=' '
    set -- $pod
    ns="demo-$1"
    ip netns add "$ns" && ip -n "$ns" link set lo up
    echo "=== $1 pod (index $2) in netns $ns"
    run plan  -f "$TOPOLOGY" --role $1 --index $2 --netns "$ns"
    run apply -f "$TOPOLOGY" --role $1 --index $2 --netns "$ns"
    if [ "$PODS" = "server 0,shoot 0" ]; then
        echo "$ ip -n $ns tuntap add tun0 mode tun; ip -n $ns link set tun0 up   # what openvpn does"
        ip -n "$ns" tuntap add tun0 mode tun && ip -n "$ns" link set tun0 up
        run apply -f "$TOPOLOGY" --role $1 --index $2 --netns "$ns"
    fi
    run plan  -f "$TOPOLOGY" --role $1 --index $2 --netns "$ns" || exit 1
    echo "$ ip -n $ns -br link; ip -n $ns route show proto 201"
    ip -n "$ns" -br link; ip -n "$ns" route show proto 201; ip -n "$ns" -6 route show proto 201
    echo
done
