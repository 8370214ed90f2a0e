# Fabric converges from nothing: havpn apply creates taps/bond/tunnels/routes in every pod, openvpn attaches,
# every bond is on tap0, both apiservers reach the workload through bond -> ip6tnl.
scenario_converge() {
  local t0 p i ok=1 srvlogs=()
  t0=$(now)
  for p in $PODS; do havpn_apply "$p" || { fail converge "havpn apply $p failed"; return; }; done
  res apply_all_s "$(dt "$t0" "$(now)")"
  for p in $APIS; do
    for i in 0 1; do link_exists "$p" tap$i && link_exists "$p" bond0-ip6tnl$i || ok=0; done
    link_exists "$p" bond0 && [[ $(route_dev "$p" "$SHOOT_ROUTE") == bond0-ip6tnl[01] ]] || ok=0
  done
  for p in $SHOOTPODS; do
    link_exists "$p" bond0 && route_is "$p" $SEED_AS_SHOOT_SEES.10 bond0ip6tnl0001 && route_is "$p" $SEED_AS_SHOOT_SEES.11 bond0ip6tnl0002 || ok=0
  done
  [ $ok = 1 ] || { fail converge "apply did not create the expected taps/bond/tunnels/routes"; return; }
  if [ "$HAVPN_E2E_RUN" = 1 ]; then for p in $PODS; do havpn_run_start "$p"; done; fi
  for i in $(seq 0 $((SERVERS-1))); do start_server $i & srvlogs+=("$WORK/srv$i.log"); done; wait_jobs
  poll 10 all_logs_have "Initialization Sequence Completed" "${srvlogs[@]}" || { fail converge "openvpn servers not ready"; return; }
  res servers_ready_s "$(dt "$t0" "$(now)")"
  for p in $PODS; do for i in $(seq 0 $((SERVERS-1))); do start_client "$p" $i & done; done; wait_jobs
  start_bondmons $PODS
  poll 40 healthy || { fail converge "not every tap has carrier / bond on tap0 after ${POLL_S}s"; return; }
  res converge_bonds_s "$(dt "$t0" "$(now)")"
  poll 15 all_wl_ok $APIS || { fail converge "api -> $WORKLOAD_IP not reachable after ${POLL_S}s"; return; }
  res converge_e2e_s "$(dt "$t0" "$(now)")"
  if [ "$HAVPN_E2E_RUN" = 1 ]; then
    # Readiness is a state here, not a timed claim: 40 s like every scenario's precondition. Right after the
    # fabric converges, the one-CPU guest stalls every path for a moment (seen in every run, before and after
    # the fail-back change: 1.5-3 s here, 12 s once in CI), and readiness follows the paths.
    for p in $PODS; do
      poll 40 http_ok "$p" /readyz || { fail converge "$p /readyz not 200 (code $(http_code "$p" /readyz))"; return; }
      http_ok "$p" /healthz || { fail converge "$p /healthz not 200"; return; }
    done
    # What an operator sees on the converged fabric (README shows these): `havpn status` per pod.
    for p in $PODS; do "$HAVPN" status --url "http://127.0.0.1:$(http_port "$p")" > "$WORK/status-$p.txt" 2>&1; done
  fi
  pass converge "apply ${PODS// /+} $(grep apply_all_s "$R" | cut -d= -f2)s; bonds on tap0 after $(grep converge_bonds_s "$R" | cut -d= -f2)s; api0+api1 -> $WORKLOAD_IP via ip6tnl after $(grep converge_e2e_s "$R" | cut -d= -f2)s"
}
