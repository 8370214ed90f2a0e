# SIGKILL in the middle of a reconcile of 10,000 routes, then restart. Shoot role, index 0, netns P.
#   1. havpn runs topology T0 (1 apiserver, 1 pod IP; announcements in havpn format, lifetime 45s, as the restart
#      takes up to ~25 s in the guest when the host is busy) and learns an apiserver that is NOT in any topology
#      from real announcements: a stand-in namespace S on a veth enslaved to P's bond, bond address ::a:c8, announcing pod IP 10.99.0.1 -> tunnel bond0ip6tnlc8 + back route;
#   2. the topology file is replaced by T1 (bench/gen-topology.py: 100 apiservers x 100 pod IPs = 100 tunnels,
#      10,000 back routes); while havpn creates the routes (1..9,999 of them in the kernel) the announcer stops
#      and havpn gets SIGKILL;
#   3. restarted on T1: once ready it has converged (plan exit 0, exactly 10,000 routes of T1), the learnt tunnel and its back
#      route are still there, and they go away when the announcement lifetime ends (not before 45 s after the
#      restart, and within 45 s + 4 s of the restarted side-car converging).
. lab/faults/lib.sh
P=fkill S=fkills
LIFETIME=45
NET=fd8f:6d53:b97a:1
LEARNT_IP=10.99.0.1 LEARNT_DEV=bond0ip6tnl00c8
ip netns add $P; ip netns add $S
mkdir -p "$D/t0" "$D/t1" "$D/cm"
python3 bench/gen-topology.py "$D/t0" 1 1 > /dev/null && python3 bench/gen-topology.py "$D/t1" 100 100 > /dev/null || fail "gen-topology"
for t in t0 t1; do printf 'announcements:\n  format: havpn\n  interval: 1s\n  lifetime: %ss\n' $LIFETIME >> "$D/$t/topology.yaml"; done
cp "$D/t0/topology.yaml" "$D/cm/topology.yaml"
TOPO=$D/cm/topology.yaml
# At niceness 19 the poller that kills it (mid-reconcile.py, niceness 0) gets the guest's one CPU whenever it wants it,
# so it sees the routes arrive batch by batch (1,024 per netlink batch) instead of missing the whole reconcile.
RUN_NICE=19 start_run $P "$TOPO" shoot 0
wait_converged 30 "$RUN_PID" $P "$D/t0/topology.yaml" shoot 0

# The stand-in apiserver pod, on a veth enslaved to the shoot pod's bond (the taps have no carrier: the veth is active).
ip link add va netns $P type veth peer name vb netns $S || fail "veth"
ip -n $P link set va down && ip -n $P link set va master bond0 && ip -n $P link set va up || fail "enslaving the veth"
ip -n $S link set lo up; ip -n $S link set vb up; ip -n $S addr add $NET::a:c8/104 dev vb nodad
ip netns exec $S python3 lab/faults/announce.py $NET::a:c8 $NET::b:0 $LEARNT_IP 0.5 &
ANN_PID=$!; echo $ANN_PID >> "$D/pids"
learnt() { ip -n $P -4 route show proto 201 $LEARNT_IP/32 | grep -q "dev $LEARNT_DEV" && ip -n $P link show $LEARNT_DEV > /dev/null; }
poll 10 learnt || fail "announced apiserver not learnt within ${POLL_S}s (received $(metric havpn_announcements_received_total), rejected: $(curl -s "http://127.0.0.1:$PORT/metrics" | grep '^havpn_announcements_rejected_total' | tr '\n' ' ')active slave $(ip netns exec $P cat /sys/class/net/bond0/bonding/active_slave))"
log "learnt $LEARNT_IP via $LEARNT_DEV in ${POLL_S}s"

# T1 in place (atomic rename, as an editor or kubelet would); havpn picks it up and creates 10,000 routes.
t1_routes() { owned_routes $P root 10.64.0.0/16; }
# /proc/net/route of P: 10.64.0.1 (T0) and the learnt 10.99.0.1 before; 10,000 + 1 after. The poller renames T1
# into place itself once it polls, so that even a quick reconcile cannot finish unseen, and it stops havpn and counts
# again before the SIGKILL (a count read while havpn runs is stale by the batches sent since). It can still miss all the
# intermediate states (scheduling in the one-CPU guest): then T0 goes back in place and it tries again, 3 times.
proc_routes() { ip netns exec $P awk 'END { print NR - 1 }' /proc/net/route; }
attempt=1
while :; do
  cp "$D/t1/topology.yaml" "$D/cm/.new"
  t0=$EPOCHREALTIME
  seen=$(ip netns exec $P python3 lab/faults/mid-reconcile.py --rename "$D/cm/.new" "$TOPO" 2 10001 30 kill "$RUN_PID" 2> "$D/poller.err") && break
  [ $attempt -lt 3 ] && alive "$RUN_PID" || fail "could not kill havpn mid-reconcile in $attempt attempts: $(cat "$D/poller.err")"
  log "attempt $attempt missed the reconcile ($(cat "$D/poller.err")); T0 back in place"
  cp "$D/t0/topology.yaml" "$D/cm/.new" && mv "$D/cm/.new" "$TOPO"
  back_to_t0() { [ "$(proc_routes)" = 2 ] && learnt; }
  poll 30 back_to_t0 || fail "T0 not back in place within ${POLL_S}s ($(proc_routes) routes)"
  attempt=$((attempt + 1))
done
kill $ANN_PID
poll 5 not alive "$RUN_PID" || fail "havpn survived SIGKILL"
at_kill=$(t1_routes)
log "SIGKILL $(dt "$t0")s after the swap, attempt $attempt (seen: s, routes, tunnels = $seen; $at_kill routes of T1 in the kernel after the kill)"
between "$at_kill" 2 9999 || fail "the reconcile had finished when havpn died ($at_kill routes): not a kill mid-reconcile"
learnt || fail "learnt tunnel gone before the restart"

# Restart. Once it says it converged (/readyz ready: its reconcile left nothing to do), the kernel must hold exactly
# the 10,000 routes of T1, plan must exit 0, and the learnt tunnel and its back route must still be there (the
# side-car keeps what a previous process learnt for one lifetime from its start).
log "restarting"
t_restart=$EPOCHREALTIME
start_run $P "$TOPO" shoot 0
POLL_DEAD=0
ready_or_dead() { alive "$RUN_PID" || { POLL_DEAD=1; return 0; }; readyz_ok; }
poll 60 ready_or_dead || fail "not ready ${POLL_S}s after the restart: $(readyz_body)"
[ "$POLL_DEAD" = 0 ] || fail "havpn run died after the restart: $(tail -2 "$D/run-$P.log")"
conv=$(dt "$t_restart")
n=$(t1_routes)
[ "$n" = 10000 ] || fail "ready ${conv}s after the restart with $n of the 10,000 routes of T1 ($(plan_ok $P "$D/t1/topology.yaml" shoot 0 && echo "plan exit 0" || echo "plan sees changes"))"
plan_ok $P "$D/t1/topology.yaml" shoot 0 || fail "ready after the restart, but plan: $(tail -2 "$D/plan.out")"
learnt || fail "the learnt tunnel or its back route is gone after the restart (ready ${conv}s after it; lifetime ${LIFETIME}s)"
total=$(owned_routes $P)
[ "$total" = 10001 ] || fail "after the restart: $total owned routes, expected 10,000 + the learnt one"
log "restart converged in ${conv}s with 10,000 routes and the learnt tunnel"

# The learnt tunnel goes when its lifetime ends (counted from the restart: nothing announces any more).
poll $((LIFETIME + 4)) not learnt || fail "learnt tunnel still there $(dt "$t_restart")s after the restart (lifetime ${LIFETIME}s)"
gone=$(dt "$t_restart")
awk -v g="$gone" -v l=$LIFETIME 'BEGIN { exit !(g >= l) }' || fail "learnt tunnel removed ${gone}s after the restart, before its lifetime of ${LIFETIME}s"
! ip -n $P link show $LEARNT_DEV > /dev/null 2>&1 || fail "learnt tunnel device $LEARNT_DEV left behind"
plan_ok $P "$D/t1/topology.yaml" shoot 0 || fail "not converged after the learnt tunnel expired: $(tail -3 "$D/plan.out")"
[ "$(t1_routes)" = 10000 ] || fail "routes of T1 changed when the learnt tunnel expired: $(t1_routes)"
pass "killed with $at_kill/10000 routes; restart converged in ${conv}s (10,000 routes, learnt tunnel kept); learnt tunnel removed ${gone}s after restart (lifetime ${LIFETIME}s)"
