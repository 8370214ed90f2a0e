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
  local L4 L6 before after
  [ "$HAVPN_E2E_RUN" = 1 ] || { skip shoot-cannot-reach-seed "the stand-in havpn has no packet filter"; return 0; }
  poll 40 healthy && poll 10 all_wl_ok $APIS || { fail shoot-cannot-reach-seed "fabric not healthy before"; return; }
  nsx api0 socat TCP4-LISTEN:7999,fork,reuseaddr PIPE & L4=$!
  nsx api0 socat TCP6-LISTEN:7998,fork,reuseaddr PIPE & L6=$!
  poll 5 listening TCP4:127.0.0.1:7999 && poll 5 listening TCP6:[::1]:7998 ||
    { fail shoot-cannot-reach-seed "listeners in api0 did not come up"; kill $L4 $L6; return; }
  before=$(seed_drops api0)
  if nsx shoot0 socat -u /dev/null TCP4:10.250.0.10:7999,connect-timeout=2 2>/dev/null; then
    fail shoot-cannot-reach-seed "shoot0 connected to api0's pod IP through the tunnel"; kill $L4 $L6; return
  fi
  if nsx shoot0 socat -u /dev/null TCP6:[fd8f:6d53:b97a:1::a:1]:7998,connect-timeout=2 2>/dev/null; then
    fail shoot-cannot-reach-seed "shoot0 connected to api0's bond address over bond0"; kill $L4 $L6; return
  fi
  after=$(seed_drops api0)
  kill $L4 $L6
  [ "$after" -gt "$before" ] || { fail shoot-cannot-reach-seed "no drop counted in api0 ($before → $after)"; return; }
  poll 10 all_wl_ok $APIS || { fail shoot-cannot-reach-seed "apiserver → workload broken"; return; }
  pass shoot-cannot-reach-seed "pod IP and bond address refused; $((after - before)) packets dropped and counted in api0"
}
