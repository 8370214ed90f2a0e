# The shoot is the tenant's cluster: through the VPN it must not open a connection to any socket of a
# kube-apiserver pod, neither to its pod IP (back route through the tunnel) nor to its bond address
# (over bond0). havpn's input filter drops the attempts and counts them; the apiserver's own
# connections into the shoot (replies are accepted) keep working.
seed_drops() { # pod: packets dropped by havpn's input chain, IPv4 + IPv6
  { nsx "$1" iptables-legacy -w -L HAVPN-INPUT -v -x -n; nsx "$1" ip6tables-legacy -w -L HAVPN-INPUT -v -x -n; } 2>/dev/null |
    awk '$3 == "DROP" {s += $1} END {print s + 0}'
}
listening() { nsx api0 socat -u /dev/null "$1" 2>/dev/null; }
scenario_shoot_cannot_reach_seed() {
  local L4 L6
  [ "$HAVPN_E2E_RUN" = 1 ] || { skip shoot-cannot-reach-seed "the stand-in havpn has no packet filter"; return 0; }
  poll 40 healthy && poll 10 all_wl_ok $APIS || { fail shoot-cannot-reach-seed "fabric not healthy before"; return; }
  nsx api0 socat TCP4-LISTEN:7999,fork,reuseaddr PIPE & L4=$!
  nsx api0 socat TCP6-LISTEN:7998,fork,reuseaddr PIPE & L6=$!
  poll 5 listening TCP4:127.0.0.1:7999 && poll 5 listening TCP6:[::1]:7998 ||
    { fail shoot-cannot-reach-seed "listeners in api0 did not come up"; kill $L4 $L6; return; }
  # Each attempt must fail AND be dropped by api0's filter (not lost on the way): its own drop count.
  # On the loaded one-CPU guest an openvpn process can stall for seconds (see the lab timings in
  # e2e/run), and a SYN and its one retransmit within the 2 s timeout can both be lost in such a
  # stall (seen in CI: api0's path health changed during the attempt, 0 drops). So before each
  # attempt the transport must carry a packet (ICMPv6 from shoot0 to api0's bond address, which the
  # filter accepts), and an attempt that saw no drop is made again, up to 3 times. A connection is
  # a failure at once; 3 attempts without a drop in api0 are a failure too.
  transport_up() { ping1 shoot0 fd8f:6d53:b97a:1::a:1; }
  refused() { # what socat-address ip
    local b a n route
    for n in 1 2 3; do
      poll 20 transport_up || { fail shoot-cannot-reach-seed "shoot0 cannot ping api0's bond address (before $1, attempt $n)"; return 1; }
      b=$(seed_drops api0)
      if nsx shoot0 socat -u /dev/null "$2,connect-timeout=2" 2>/dev/null; then
        fail shoot-cannot-reach-seed "shoot0 connected to api0's $1"; return 1
      fi
      a=$(seed_drops api0)
      if [ "$a" -gt "$b" ]; then
        DROPS+=" $1:$((a - b))"; [ "$n" = 1 ] || DROPS+=" (attempt $n)"; return 0
      fi
      route=$(nsx shoot0 ip route get "$3" 2>&1 | head -1)
      echo "shoot-cannot-reach-seed: attempt $n to api0's $1 failed without a drop in api0 ($b → $a); shoot0: $route"
    done
    fail shoot-cannot-reach-seed "shoot0 -> api0's $1 failed 3 times, but no drop counted in api0 (shoot0: $route)"; return 1
  }
  DROPS=""
  # (with NETMAP the vpn-shoot pod routes api0's pod IP as its stand-in 241.250.0.10)
  # (dual-stack: api0 announces its IPv6 pod IP too, so the vpn-shoot pods route it back: try it as well)
  refused "pod IP ($SEED_AS_SHOOT_SEES.10, tunnel)" "TCP4:$SEED_AS_SHOOT_SEES.10:7999" "$SEED_AS_SHOOT_SEES.10" &&
    refused "bond address (bond0)" "TCP6:[fd8f:6d53:b97a:1::a:1]:7998" fd8f:6d53:b97a:1::a:1 &&
    { [ -z "$WORKLOAD_IP6" ] || refused "IPv6 pod IP ($(pod_ip6 api0), tunnel)" "TCP6:[$(pod_ip6 api0)]:7998" "$(pod_ip6 api0)"; } ||
    { kill $L4 $L6; return; }
  kill $L4 $L6
  poll 10 all_wl_ok $APIS || { fail shoot-cannot-reach-seed "apiserver → workload broken"; return; }
  pass shoot-cannot-reach-seed "refused, packets dropped and counted in api0:$DROPS"
}
