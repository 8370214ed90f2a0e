# E2E_FABRIC=dualstack-overlap: the shoot's IPv4 pod network (10.250.0.0/16) contains the seed's (10.250.0.0/24),
# and the workload network is dual-stack. The workload 10.250.0.12 has the IPv4 address of a seed pod (`ingress`
# on the seed pod network), and each answers on :7777 with its name and the peer address it saw.
# "Both ways" is request and reply: the seed opens the connections and the replies come back through the
# translations; the shoot never opens one to the seed (shoot-cannot-reach-seed, to the seed pods' stand-ins).
# ident_is POD ADDRESS REGEX [CMD...]: the first line the server at ADDRESS (socat syntax) sends to POD, run as
# CMD (e.g. setpriv into group 31415), matches REGEX; the line is left in IDENT
ident_is() {
  local p=$1 a=$2 re=$3; shift 3
  IDENT=$(nsx "$p" "$@" socat -T 5 -u "$a,connect-timeout=3" - 2>&1 | head -n 1)
  [[ $IDENT =~ $re ]]
}
overlap_fabric() { [ "$E2E_FABRIC" = dualstack-overlap ] || { skip "$1" "needs E2E_FABRIC=dualstack-overlap"; return 1; }; }
# IPv4 with NETMAP: a socket of group 31415 in an apiserver pod reaches the workload at its real address (dst
# 10.250.0.12 → 244.0.0.12 in the apiserver pod, back in the vpn-shoot pod; src 10.250.0.1x → 241.250.0.1x), the
# workload sees the vpn-shoot pod's `wl` address (masquerade), and the reply comes back; every other socket of
# the pod still reaches the seed pod that owns 10.250.0.12.
scenario_overlap_ipv4() {
  local p seen=""
  overlap_fabric overlap-ipv4 || return 0
  poll 40 healthy || { fail overlap-ipv4 "fabric not healthy before"; return; }
  for p in $APIS; do
    poll 15 ident_is "$p" "TCP4:$WORKLOAD_IP:7777" '^workload 10\.250\.0\.[12]$' "${AS_PROXY[@]}" ||
      { fail overlap-ipv4 "$p as group 31415 -> $WORKLOAD_IP:7777 answered '$IDENT' after ${POLL_S}s (want: workload, from a vpn-shoot pod's wl address)"; return; }
    seen+=" $p:${IDENT#workload }"
    ident_is "$p" "TCP4:$WORKLOAD_IP:7777" "^seed 10\.250\.0\.$(( 10 + ${p#api} ))\$" ||
      { fail overlap-ipv4 "$p without the group -> $WORKLOAD_IP:7777 answered '$IDENT' (want: the seed pod, seeing $(pod_ip "$p"))"; return; }
  done
  pass overlap-ipv4 "group 31415 -> $WORKLOAD_IP = the shoot's workload (it saw$seen); other sockets -> the seed pod"
}
# ipv6_diag POD: what the IPv6 path looks like (into $WORK/diag-ipv6.txt)
ipv6_diag() {
  local n
  { nsx "$1" ip -6 route get "$WORKLOAD_IP6" from "fd8f:6d53:b97a:1::a:$(index_of "$1")"; nsx shoot0 ping -c 1 -W 1 "$WORKLOAD_IP6"
    for n in "$1" shoot0; do echo "== $n"; nsx "$n" ip -6 addr; nsx "$n" ip -6 route; nsx "$n" ip -s link
      nsx "$n" ip6tables-legacy-save -c; nsx "$n" sysctl -a 2>/dev/null | grep -E 'ipv6.conf.(all|default|wl|bond0ip6tnl0001).(forwarding|disable_ipv6)'; done
    echo "== workload"; nsx workload ip -6 neigh; nsx workload ip -6 addr; } > "$WORK/diag-ipv6.txt" 2>&1
}
# IPv6 (never mapped): the apiserver pods reach the workload's ULA through the tunnels from their IPv6 pod IPs
# (the kernel's default source here), the workload sees the vpn-shoot pod's address (havpn's IPv6 masquerade out
# of wl; socat prints it unabbreviated), and the reply comes back because each apiserver announces both of its pod
# IPs (`havpn run --pod-ip 10.250.0.1x,fd00:100::2x`, as the downward API's status.podIPs gives them) and the
# vpn-shoot pods route both back through its tunnel.
scenario_dualstack_ipv6() {
  local p seen="" src
  overlap_fabric dualstack-ipv6 || return 0
  poll 40 healthy || { fail dualstack-ipv6 "fabric not healthy before"; return; }
  for p in $APIS; do
    src=$(pod_ip6 "$p")
    [[ $(ip -n "$p" -6 route show fd00:300::/64) == *" dev bond0-ip6tnl"[01]" "* ]] ||
      { fail dualstack-ipv6 "$p: fd00:300::/64 not through a tunnel"; return; }
    for s in shoot0 shoot1; do
      poll 10 route_is "$s" "$src" "bond0ip6tnl$(printf %04d "$(index_of "$p")")" ||
        { fail dualstack-ipv6 "$s: no route back to $p's IPv6 pod IP $src (via $(route_dev "$s" "$src"))"; ipv6_diag "$p"; return; }
    done
    poll 15 nsx "$p" ping -c 1 -W 1 -I "$src" "$WORKLOAD_IP6" ||
      { fail dualstack-ipv6 "$p: ping $WORKLOAD_IP6 from $src no reply after ${POLL_S}s"; ipv6_diag "$p"; return; }
    poll 15 ident_is "$p" "TCP6:[$WORKLOAD_IP6]:7777,bind=[$src]" '^workload \[fd00:0300(:0000){5}:000[12]\]$' ||
      { fail dualstack-ipv6 "$p -> [$WORKLOAD_IP6]:7777 from $src answered '$IDENT' after ${POLL_S}s (want: workload, from a vpn-shoot pod's wl address)"; return; }
    seen+=" $p:fd00:300::${IDENT: -2:1}"
  done
  pass dualstack-ipv6 "api0+api1 (from their IPv6 pod IPs) -> [$WORKLOAD_IP6]:7777 and ping through the tunnels (the workload saw$seen)"
}
