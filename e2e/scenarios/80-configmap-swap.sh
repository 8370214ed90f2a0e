# [needs havpn run] The topology is a ConfigMap volume: $WORK/cm/topology.yaml -> ..data/topology.yaml, and
# kubelet swaps the ..data symlink atomically. A valid new version is applied; an invalid one is rejected and the
# last good state stays; going back withdraws what the newer version added.
cm_swap() { # version-dir: swap ..data like kubelet (symlink + rename)
  ln -sfn "$1" "$WORK/cm/..data_tmp" && mv -T "$WORK/cm/..data_tmp" "$WORK/cm/..data"
}
apis_route() { local p; for p in $APIS; do [[ $(route_dev "$p" 100.97.0.0/24) == bond0-ip6tnl[01] ]] || return 1; done; }
runs_alive() { local p; for p in $PODS; do kill -0 "$(cat "$WORK/havpn-$p.pid")" 2>/dev/null || return 1; done; }
scenario_configmap_swap() {
  needs_run configmap-swap || return 0
  local orig
  orig=$(readlink "$WORK/cm/..data")
  mkdir -p "$WORK/cm/..v2" "$WORK/cm/..v3"
  /usr/bin/python3 - "$WORK/cm/..data/topology.yaml" "$WORK/cm/..v2/topology.yaml" <<'PY'
import sys, yaml
t = yaml.safe_load(open(sys.argv[1])); t['networks']['shoot']['pods'].append('100.97.0.0/24')
yaml.safe_dump(t, open(sys.argv[2], 'w'), sort_keys=False)
PY
  printf 'apiVersion: havpn/v1\nservers: [oops\n' > "$WORK/cm/..v3/topology.yaml"
  cm_swap ..v2
  poll "${CM_DEADLINE_S:-6}" apis_route || { fail configmap-swap "valid new topology not applied after ${POLL_S}s"; return; }
  res cm_valid_applied_s "$POLL_S"
  cm_swap ..v3
  holds 4 eval 'apis_route && runs_alive' || { fail configmap-swap "invalid topology changed the state or killed havpn"; return; }
  poll 5 all_wl_ok $APIS || { fail configmap-swap "path lost after the invalid topology"; return; }
  cm_swap "$orig"
  poll "${CM_DEADLINE_S:-6}" not apis_route || { fail configmap-swap "route of the removed network stays after going back"; return; }
  res cm_revert_s "$POLL_S"
  pass configmap-swap "valid swap applied in $(grep cm_valid_applied_s "$R" | cut -d= -f2)s; invalid kept last good state 4 s; revert withdrew the route in $(grep cm_revert_s "$R" | cut -d= -f2)s"
}
