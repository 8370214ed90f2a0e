# [needs havpn run] The shoot pod carrying the apiservers' routes dies: the path-controller in every apiserver pod
# replaces the shoot-network routes onto the other tunnel; new connections work again.
scenario_shoot_dies() {
  needs_run shoot-dies || return 0
  local cur j k T p x
  poll 40 healthy && poll 10 all_wl_ok $APIS || { fail shoot-dies "fabric not healthy before"; return; }
  cur=$(route_dev api0 100.96.0.0/24); j=${cur##*ip6tnl}; k=$((1 - j))
  T=$(now); stop_pid "$WORK/shoot$j-c0.pid" KILL; stop_pid "$WORK/shoot$j-c1.pid" KILL
  # The lab detects a dead client in 15 x 200 ms + 300 ms = 3.3 s of probes; the deadline leaves the
  # loaded one-CPU guest room (seen: 4.1 to 7.8 s from the kill to the route). Only havpn moves these
  # routes, so a longer deadline keeps the check's meaning; the default-timing bound is scripts/bench's.
  for p in $APIS; do
    poll "${SHOOT_DIES_DEADLINE_S:-10}" route_is "$p" 100.96.0.0/24 bond0-ip6tnl$k || { fail shoot-dies "$p still routes via $(route_dev "$p" 100.96.0.0/24) after ${POLL_S}s"; return; }
  done
  res shoot_switch_s "$(dt "$T" "$(now)")"
  # havpn's own decision (its log), apart from applying the route and this harness noticing it
  local decided=""
  for p in $APIS; do x=$(logged_at "$p" "switching active shoot client" "$T") && decided+=" $p:$(dt "$T" "$x")s"; done
  res shoot_decided "${decided# }"
  within_bound "${decided# }" 2 || { fail shoot-dies "decided:$decided: not every apiserver pod within ${DECISION_BOUND_S}s"; return; }
  poll 3 all_wl_ok $APIS || { fail shoot-dies "no path via shoot$k"; return; }
  res shoot_e2e_s "$(dt "$T" "$(now)")"
  start_client shoot$j 0; start_client shoot$j 1
  poll 40 healthy || { fail shoot-dies "shoot$j did not come back"; return; }
  pass shoot-dies "shoot$j killed: decided$(grep shoot_decided "$R" | cut -d= -f2 | sed 's/^/ /'), routes -> bond0-ip6tnl$k after $(grep shoot_switch_s "$R" | cut -d= -f2)s, workload reachable after $(grep shoot_e2e_s "$R" | cut -d= -f2)s"
}
