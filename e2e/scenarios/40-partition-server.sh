# [needs havpn run] Server 0 partitioned (its port unplugged from the seed bridge; the process keeps running).
# openvpn notices only after ping-restart (keepalive timeout); havpn run's per-server path probe must move every
# bond off tap0 faster (timings.pathProbeInterval x pathUnhealthyThreshold), and TCP must survive.
scenario_partition_server() {
  needs_run partition-server || return 0
  local T d
  poll 20 healthy && poll 10 all_wl_ok $APIS || { fail partition-server "fabric not healthy before"; return; }
  start_probes part api0 || { fail partition-server "tcp probe did not start"; return; }
  T=$(now); ip -n seednet link set srv0 nomaster
  poll "${PARTITION_DEADLINE_S:-4}" all_active tap1 $PODS || { ip -n seednet link set srv0 master br0; stop_probes part; fail partition-server "bonds not off tap0 ${POLL_S}s after the cut (keepalive alone needs ~6 s)"; return; }
  res part_detect_s "$POLL_S"
  poll 3 all_wl_ok $APIS || { ip -n seednet link set srv0 master br0; stop_probes part; fail partition-server "no path during the partition"; return; }
  ip -n seednet link set srv0 master br0
  poll 40 healthy && poll 20 all_wl_ok $APIS || { stop_probes part; fail partition-server "no recovery after healing"; return; }
  # stale server-side sessions can blackhole 2-4 s after healing (lab recipe): require a stable window
  holds 5 all_wl_ok api0 || { stop_probes part; fail partition-server "path unstable after healing"; return; }
  stop_probes part
  d="detected+failed over in $(grep part_detect_s "$R" | cut -d= -f2)s; TCP survived=$(probe part survived) max gap $(probe part max_gap_s)s"
  [ "$(probe part survived)" = True ] && pass partition-server "$d" || fail partition-server "$d"
}
