# [needs havpn run] One pod's openvpn client for server 1 crash-loops for a minute: shoot0's client 1 is killed
# (SIGKILL), restarted at once, and killed again about 2 s later, over and over. The bonds stay on the healthy
# server 0 (bondmon logs no other active slave in any pod) and no path flaps: on the apiserver side the
# shoot-network route stays on its tunnel and havpn_path_switches_total does not move. Afterwards the client
# comes back. Opt-in (not in e2e/run's default list): on the one-CPU lab the crash loop's openvpn handshakes can
# stall the guest until a healthy path looks dead (1 run of 2 failed that way: api0 left tap0 for 6 s).
crashloop_switches() { # api pod: havpn_path_switches_total from its /metrics (root netns, else the pod's)
  local u="http://127.0.0.1:$(http_port "$1")/metrics" m
  m=$(curl -s -m 2 "$u") || m=$(nsx "$1" curl -s -m 2 "$u")
  awk '$1 == "havpn_path_switches_total" { print $2 + 0; exit }' <<< "$m"
}
scenario_client_crashloop() {
  needs_run client-crashloop || return 0
  local p T end kills=0 dev=() sw=() i bad x
  poll 40 healthy && poll 10 all_wl_ok $APIS || { fail client-crashloop "fabric not healthy before"; return; }
  for p in $APIS; do dev+=("$(route_dev "$p" 100.96.0.0/24)"); sw+=("$(crashloop_switches "$p")"); done
  for i in 0 1; do [ -n "${sw[$i]}" ] || { fail client-crashloop "no havpn_path_switches_total on api$i"; return; }; done
  T=$(now); end=$(( $(usec "$T") + ${CRASHLOOP_S:-60} * 1000000 ))
  while (( $(usec) < end )); do
    poll 5 test -s "$WORK/shoot0-c1.pid" || { fail client-crashloop "shoot0-c1 did not start"; return; }
    stop_pid "$WORK/shoot0-c1.pid" KILL; kills=$((kills + 1))
    start_client shoot0 1
    for i in 0 1; do route_is api$i 100.96.0.0/24 "${dev[$i]}" || { fail client-crashloop "api$i's route moved to $(route_dev api$i 100.96.0.0/24) after $kills kills"; return; }; done
    nap 2   # the crash loop's period (the fault's rhythm, not synchronisation)
  done
  res crashloop_kills "$kills"
  for p in $PODS; do
    [ -s "$WORK/bondmon-$p.log" ] || { fail client-crashloop "no bondmon log for $p"; return; }
    bad=$(awk -v t="$T" '$1 >= t && $2 != "tap0" { printf "%s at %.1fs; ", $2, $1 - t; exit }' "$WORK/bondmon-$p.log")
    [ -z "$bad" ] || { fail client-crashloop "$p's bond left tap0: $bad"; return; }
  done
  for i in 0 1; do
    route_is api$i 100.96.0.0/24 "${dev[$i]}" || { fail client-crashloop "api$i's route moved to $(route_dev api$i 100.96.0.0/24)"; return; }
    x=$(crashloop_switches api$i)
    [ "$x" = "${sw[$i]}" ] || { fail client-crashloop "api$i switched paths during the crash loop (havpn_path_switches_total ${sw[$i]} -> $x)"; return; }
  done
  poll 5 all_wl_ok $APIS || { fail client-crashloop "workload unreachable after the crash loop"; return; }
  poll 40 healthy || { fail client-crashloop "shoot0-c1 did not come back after the crash loop"; return; }
  pass client-crashloop "shoot0's client 1 killed $kills times in ${CRASHLOOP_S:-60} s: every bond stayed on tap0, no route switch on api0/api1"
}
