# [needs havpn run] Server 0 partitioned (its port unplugged from the seed bridge; the process keeps running).
# openvpn notices only after ping-restart (keepalive timeout); havpn run's per-server path probe must move every
# bond off tap0 faster (timings.pathProbeInterval x pathUnhealthyThreshold), and TCP must survive.
stable_fabric() { healthy && all_wl_ok $APIS; }
scenario_partition_server() {
  needs_run partition-server || return 0
  local T d
  # A settled fabric: a bond fails over at once only to a path proven for the fail-over hold
  # (5 s), and the previous scenario has just restarted a shoot pod's clients.
  poll 40 holds 6 healthy && poll 10 all_wl_ok $APIS || { fail partition-server "fabric not healthy before"; return; }
  start_probes part api0 || { fail partition-server "tcp probe did not start: $PROBE_ERROR"; return; }
  # The cut is timed from the moment the kernel is asked: an `ip` started for it would spend 60-150 ms
  # of the measured time starting up (UML). So an `ip -batch` runs first, and its answer to a `link
  # show` proves it is reading its input when T is taken.
  local cut_in cut_out cut_pid line
  coproc CUT { exec ip -n seednet -batch - 2>&1; }
  # bash unsets CUT and CUT_PID once the coprocess is reaped (an ip that exits at once): keep copies
  cut_in=${CUT[1]-}; cut_pid=${CUT_PID-}
  [ -n "$cut_in" ] && [ -n "$cut_pid" ] || { fail partition-server "ip -batch for the cut exited at once"; return; }
  # and a copy of its output that bash does not close when it reaps ip (ip exits once its input is closed)
  exec {cut_out}<&"${CUT[0]}"
  echo "link show dev srv0" >&"$cut_in"; IFS= read -r -t 10 line <&"$cut_out" || true
  case $line in *srv0*) ;; *) exec {cut_in}>&- {cut_out}<&-; fail partition-server "ip -batch for the cut did not answer: $line"; return;; esac
  T=$(now); echo "link set srv0 nomaster" >&"$cut_in"
  exec {cut_in}>&-
  # ip -batch exits non-zero when the cut failed; what it said is still in the pipe (one line of `link show` read)
  wait "$cut_pid" || { line=$(cat <&"$cut_out"); exec {cut_out}<&-; ip -n seednet link set srv0 master br0; stop_probes part; fail partition-server "the cut failed: $line"; return; }
  exec {cut_out}<&-
  poll "${PARTITION_DEADLINE_S:-5}" all_active tap1 $PODS || { ip -n seednet link set srv0 master br0; stop_probes part; fail partition-server "bonds not off tap0 ${POLL_S}s after the cut (keepalive alone needs ~6 s)"; return; }
  res part_detect_s "$POLL_S"
  # each pod's own decision (havpn's log) and its bond's move (bondmon), apart from this harness's polling
  local p x decided="" moved=""
  for p in $PODS; do
    x=$(logged_at "$p" "moving bond to VPN server path" "$T") && decided+=" $p:$(dt "$T" "$x")s"
    x=$(bond_switch_at "$p" "$T" tap1); [ -n "$x" ] && moved+=" $p:$(dt "$T" "$x")s"
  done
  res part_decided "${decided# }"; res part_moved "${moved# }"
  within_bound "${moved# }" 4 || { ip -n seednet link set srv0 master br0; stop_probes part; fail partition-server "moved:$moved: not every bond within ${DECISION_BOUND_S}s"; return; }
  poll 3 all_wl_ok $APIS || { ip -n seednet link set srv0 master br0; stop_probes part; fail partition-server "no path during the partition"; return; }
  # The stream must survive the failover itself: keep it running through 3 s of partition.
  sleep 3
  stop_probes part
  ip -n seednet link set srv0 master br0
  T=$(now)
  # Healing: openvpn reconnects, the bonds fail back to tap0 once (primary, after havpn's 5 s hold).
  # The lab recipe documents a 2-4 s blackout a few seconds after healing (stale server-side
  # sessions); settling means: every pod back on tap0 and a stable 8 s window with traffic.
  poll 60 healthy && poll 20 all_wl_ok $APIS || { fail partition-server "no recovery after healing"; return; }
  poll 30 holds 8 stable_fabric || { fail partition-server "fabric did not settle after healing (flapping)"; return; }
  res part_settled_s "$(dt "$T" "$(now)")"
  d="detected+failed over in $(grep part_detect_s "$R" | cut -d= -f2)s (decided:$decided; moved:$moved); TCP through the failover survived=$(probe part survived) max gap $(probe part max_gap_s)s; settled $(grep part_settled_s "$R" | cut -d= -f2)s after healing"
  [ "$(probe part survived)" = True ] && pass partition-server "$d" || fail partition-server "$d"
}
