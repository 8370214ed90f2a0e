# [needs havpn run] Drift: owned objects deleted by hand are repaired; foreign objects (a route on an owned tunnel,
# a dummy link, a route on eth0) stay untouched.
foreign_there() {
  [ -n "$(nsx api0 ip route show 198.51.100.0/24)" ] && link_exists api0 foreign0 && [ -n "$(nsx shoot0 ip route show 203.0.113.0/24)" ]
}
shoot_route() { [[ $(route_dev "$1" 100.96.0.0/24) == bond0-ip6tnl[01] ]]; }
scenario_drift() {
  needs_run drift || return 0
  local T
  poll 40 healthy && poll 10 all_wl_ok $APIS || { fail drift "fabric not healthy before"; return; }
  nsx api0 ip route add 198.51.100.0/24 dev bond0-ip6tnl1
  nsx api0 ip link add foreign0 type dummy
  nsx shoot0 ip route add 203.0.113.0/24 dev eth0
  T=$(now); nsx api0 ip route del 100.96.0.0/24
  # Repaired through a shoot tunnel (which one is the path-controller's choice, tested elsewhere)
  poll "${DRIFT_DEADLINE_S:-5}" shoot_route api0 || { fail drift "api0 shoot-pod route not repaired after ${POLL_S}s"; return; }
  res drift_route_s "$POLL_S"
  nsx shoot0 ip link del bond0ip6tnl0001
  poll "${DRIFT_DEADLINE_S:-5}" route_is shoot0 10.250.0.10 bond0ip6tnl0001 || { fail drift "shoot0 tunnel/route to api0 not repaired after ${POLL_S}s"; return; }
  res drift_tunnel_s "$POLL_S"
  nsx api0 ip link del bond0-ip6tnl1
  poll "${DRIFT_DEADLINE_S:-5}" link_exists api0 bond0-ip6tnl1 || { fail drift "api0 bond0-ip6tnl1 not repaired"; return; }
  nsx api0 ip route replace 198.51.100.0/24 dev bond0-ip6tnl1   # the foreign route went with the deleted link
  holds 3 foreign_there || { fail drift "a foreign route or link was removed"; return; }
  # The repaired tunnel must carry traffic again; each failed check costs two 1 s pings.
  poll 10 all_wl_ok $APIS || { fail drift "no end-to-end path after repair"; return; }
  nsx api0 ip route del 198.51.100.0/24; nsx api0 ip link del foreign0; nsx shoot0 ip route del 203.0.113.0/24
  pass drift "route repaired in $(grep drift_route_s "$R" | cut -d= -f2)s, tunnel+route in $(grep drift_tunnel_s "$R" | cut -d= -f2)s; foreign route/link untouched"
}
