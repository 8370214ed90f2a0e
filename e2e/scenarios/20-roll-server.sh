# Roll vpn-seed-server 0 (SIGTERM as kubelet does) with a TCP stream open: every bond fails over to tap1 within
# a second, the stream survives; the new server brings every pod back to tap0 (primary).
scenario_roll_server() {
  local p T Tr n0=() i fo=0 x down=${ROLL_DOWN_S:-3}
  poll 40 healthy || { fail roll-server "fabric not healthy before the roll"; return; }
  start_probes roll api0 || { fail roll-server "tcp probe did not start: $PROBE_ERROR"; return; }
  for p in $PODS; do n0+=("$(connected_count "$WORK/$p-c0.log")"); done
  T=$(now); stop_pid "$WORK/srv0.pid" TERM
  poll 5 all_active tap1 $PODS || { stop_probes roll; fail roll-server "bonds not on tap1 after ${POLL_S}s"; return; }
  res roll_all_on_tap1_s "$POLL_S"
  for p in $PODS; do x=$(bond_switch_at "$p" "$T" tap1); [ -n "$x" ] && fo=$(awk -v a="$fo" -v b="$(dt "$T" "$x")" 'BEGIN{print (b>a)?b:a}'); done
  res roll_failover_max_s "$fo"
  poll 5 all_wl_ok $APIS || { stop_probes roll; fail roll-server "no path while srv0 is down"; return; }
  sleep "$down"                      # the server pod stays away for a while (the scenario, not synchronisation)
  Tr=$(now); start_server 0
  i=0; for p in $PODS; do poll 30 connected_since "$WORK/$p-c0.log" "${n0[$i]}" || { stop_probes roll; fail roll-server "$p-c0 did not reconnect"; return; }; i=$((i+1)); done
  res roll_reconnect_s "$(dt "$Tr" "$(now)")"
  poll 10 all_active tap0 $PODS || { stop_probes roll; fail roll-server "no failback to tap0"; return; }
  res roll_failback_s "$(dt "$Tr" "$(now)")"
  poll 5 all_wl_ok $APIS
  stop_probes roll
  local surv gap lines pg
  surv=$(probe roll survived); gap=$(probe roll max_gap_s); lines="$(probe roll echoed)/$(probe roll sent)"; pg=$(ping_max_gap roll)
  res roll_tcp_survived "$surv"; res roll_tcp_max_gap_s "$gap"; res roll_ping_max_gap_s "$pg"
  local d="failover max ${fo}s (all on tap1 ${POLL_S:+<=} $(grep roll_all_on_tap1_s "$R" | cut -d= -f2)s); TCP survived=$surv lines $lines max gap ${gap}s; ping max gap ${pg}s; reconnect $(grep roll_reconnect_s "$R" | cut -d= -f2)s, failback $(grep roll_failback_s "$R" | cut -d= -f2)s after restart"
  if [ "$surv" = True ] && awk -v a="$fo" 'BEGIN{exit !(a<1.0)}'; then pass roll-server "$d"; else fail roll-server "$d"; fi
}
