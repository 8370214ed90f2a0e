# One server and one shoot pod down at the same time: the path api -> srv1 -> other shoot pod stays.
# The shoot pod taken down is the one api0's route does NOT use (switching routes is shoot-dies' job).
scenario_server_and_shoot_down() {
  local cur j k p alive
  poll 40 healthy || { fail server-and-shoot-down "fabric not healthy before"; return; }
  poll 10 all_wl_ok $APIS || { fail server-and-shoot-down "no end-to-end path before"; return; }
  cur=$(route_dev api0 100.96.0.0/24); j=${cur##*ip6tnl}; k=$((1 - j))
  alive="$APIS shoot$j"
  start_probes dual api0 || { fail server-and-shoot-down "tcp probe did not start: $PROBE_ERROR"; return; }
  local T; T=$(now)
  stop_pid "$WORK/srv0.pid" TERM; stop_pid "$WORK/shoot$k-c0.pid" KILL; stop_pid "$WORK/shoot$k-c1.pid" KILL
  poll 5 all_active tap1 $alive || { stop_probes dual; fail server-and-shoot-down "bonds of $alive not on tap1"; return; }
  res dual_failover_s "$POLL_S"
  # 10 s: api1's route may have used the killed shoot pod, and it switches only after detecting that
  # (15 x 200 ms + 300 ms of probes in the lab) on the loaded one-CPU guest.
  poll 10 all_wl_ok $APIS || { stop_probes dual; fail server-and-shoot-down "no path left (srv1 -> shoot$j)"; return; }
  res dual_path_s "$(dt "$T" "$(now)")"
  holds 2 all_wl_ok $APIS || { stop_probes dual; fail server-and-shoot-down "remaining path not stable"; return; }
  stop_probes dual
  local surv gap; surv=$(probe dual survived); gap=$(probe dual max_gap_s)
  start_server 0; start_client shoot$k 0; start_client shoot$k 1
  poll 40 healthy && poll 15 all_wl_ok $APIS || { fail server-and-shoot-down "fabric did not recover"; return; }
  res dual_recovered_s "$(dt "$T" "$(now)")"
  local d="srv0 + shoot$k down: bonds on tap1 in $(grep dual_failover_s "$R" | cut -d= -f2)s, path via srv1/shoot$j, TCP survived=$surv max gap ${gap}s; recovered $(grep dual_recovered_s "$R" | cut -d= -f2)s"
  [ "$surv" = True ] && pass server-and-shoot-down "$d" || fail server-and-shoot-down "$d"
}
