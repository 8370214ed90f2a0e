# Topology swapped during a reconcile. Shoot role, index 0, netns P; the topology is a ConfigMap-style directory
# (topology.yaml -> ..data/topology.yaml, ..data -> ..vN, swapped with a symlink rename like kubelet, as e2e/run).
#   A: 100 apiservers x 100 pod IPs (10.64.x.y: 100 tunnels, 10,000 back routes), havpn started on it;
#   B: 50 apiservers x 100 pod IPs in another network (10.96.x.y: 50 tunnels, 5,000 routes), swapped in while
#      havpn creates A's routes;
#   C: invalid YAML, swapped in as soon as havpn has taken B (its havpn_config_reloads_total counts it).
# Asserts: the last valid one (B) wins: `havpn plan -f B` exits 0, exactly 5,000 routes of B and 50 tunnels, no
# route or tunnel of A left; C is rejected: /readyz not ready saying the topology file is invalid,
# havpn_config_valid 0, havpn_config_reload_failures_total >= 1; havpn still runs.
. lab/faults/lib.sh
P=fswap
ip netns add $P
CM=$D/cm
mkdir -p "$CM/..vA" "$CM/..vB" "$CM/..vC" "$D/b"
python3 bench/gen-topology.py "$CM/..vA" 100 100 > /dev/null && python3 bench/gen-topology.py "$D/b" 50 100 > /dev/null || fail "gen-topology"
rm -f "$CM/..vA/ip.batch"
sed 's/10\.64\./10.96./g' "$D/b/topology.yaml" > "$CM/..vB/topology.yaml"
grep -q " 10\.64\.\|\[10\.64\." "$CM/..vB/topology.yaml" && fail "B still has pod IPs of A"
printf 'apiVersion: havpn/v1\nservers: [oops\n' > "$CM/..vC/topology.yaml"
"$HAVPN" validate -f "$CM/..vC/topology.yaml" > /dev/null 2>&1 && fail "C is valid: the scenario needs an invalid C"
ln -s ..vA "$CM/..data"; ln -s ..data/topology.yaml "$CM/topology.yaml"
cm_swap() { ln -sfn "$1" "$CM/..data_tmp" && mv -T "$CM/..data_tmp" "$CM/..data"; }
a_routes() { owned_routes $P root 10.64.0.0/16; }
b_routes() { owned_routes $P root 10.96.0.0/16; }
tunnels() { ip -n $P -o link show type ip6tnl | grep -c ': bond0ip6tnl'; }

# The poller (mid-reconcile.py) swaps in B when 1..9,999 routes of A are in the kernel; it polls before havpn
# starts, and havpn runs at niceness 19 so that the poller gets the CPU between havpn's netlink batches. It can
# still miss all the intermediate states (scheduling in the one-CPU guest): then havpn is killed, P made afresh
# with A in place, and it tries again, 3 times.
attempt=1
while :; do
  rm -f "$D/poller-ready"
  ip netns exec $P python3 lab/faults/mid-reconcile.py --ready "$D/poller-ready" 0 10000 60 swap "$CM" ..vB > "$D/seen" 2> "$D/poller.err" &
  POLLER=$!
  poll 10 test -e "$D/poller-ready" || fail "poller not ready within ${POLL_S}s"
  RUN_NICE=19 start_run $P "$CM/topology.yaml" shoot 0
  wait "$POLLER" && break
  [ $attempt -lt 3 ] || fail "could not swap in B mid-reconcile in $attempt attempts: $(cat "$D/poller.err")"
  log "attempt $attempt missed the reconcile ($(cat "$D/poller.err")); again from scratch"
  kill -9 "$RUN_PID"; poll 5 not alive "$RUN_PID" || fail "havpn survived SIGKILL"
  ip netns del $P && ip netns add $P && cm_swap ..vA || fail "could not start afresh"
  attempt=$((attempt + 1))
done
log "swapped to B mid-reconcile, attempt $attempt (seconds, routes, tunnels: $(cat "$D/seen"))"
took_b() { metric_ge havpn_config_reloads_total 1; }
poll 20 took_b || fail "havpn did not take B within ${POLL_S}s"
cm_swap ..vC
log "swapped to C ${POLL_S}s later, with $(a_routes) routes of A and $(b_routes) of B in the kernel"

done_b() { alive "$RUN_PID" && [ "$(a_routes)" = 0 ] && plan_ok $P "$CM/..vB/topology.yaml" shoot 0; }
poll 60 done_b || fail "B not in place within ${POLL_S}s: $(a_routes) routes of A left; plan: $(tail -2 "$D/plan.out")"
alive "$RUN_PID" || fail "havpn run died"
settled=$POLL_S
n=$(b_routes); [ "$n" = 5000 ] || fail "routes of B: $n, expected exactly 5000"
n=$(owned_routes $P); [ "$n" = 5000 ] || fail "owned routes: $n, expected exactly the 5000 of B"
n=$(tunnels); [ "$n" = 50 ] || fail "tunnels: $n, expected exactly the 50 of B"
ip -n $P -o link show | grep -Eq 'bond0ip6tnl00(3[3-9a-f]|[4-5][0-9a-f]|6[0-4])[:@]' && fail "a tunnel of A (apiservers 51-100) is left"
rejected() { readyz_body | grep -q 'topology file invalid'; }
poll 10 rejected || fail "/readyz does not say the topology is invalid: $(readyz_body)"
readyz_ok && fail "/readyz is ready with an invalid topology file"
metric_eq havpn_config_valid 0 || fail "havpn_config_valid is $(metric havpn_config_valid), expected 0"
metric_ge havpn_config_reload_failures_total 1 || fail "havpn_config_reload_failures_total: $(metric havpn_config_reload_failures_total)"
pass "B in place ${settled}s after C (5,000 routes, 50 tunnels, nothing of A); C rejected (/readyz, havpn_config_valid 0)"
