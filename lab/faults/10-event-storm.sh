# Netlink event storm: `havpn run` (shoot role of examples/ha-2x2-ipv4.yaml) converged in netns P, then 70,000
# foreign route changes in P (40,000 adds and 30,000 deletes, proto static on a dummy device, lab/faults/route-storm.py),
# enough to overflow havpn's rtnetlink event socket. Asserts:
#   - the socket overflowed (the kernel's drop counter in /proc/net/netlink for havpn's monitor socket), and a
#     reconcile followed that nothing else triggered (resync timer at 10m, reconcile counter steady before);
#   - owned state intact (`havpn plan` exits 0), ready, process alive;
#   - the 10,000 foreign routes that should remain are exactly there, untouched;
#   - drift is still repaired afterwards: an owned route deleted is back within 2 s.
. lab/faults/lib.sh
P=fstorm
[ "${STORM_SKIP:-0}" = 1 ] && echo "(storm skipped)"
ROLE="shoot 0"
ip netns add $P
sed 's/resyncInterval: 30s/resyncInterval: 10m/' examples/ha-2x2-ipv4.yaml > "$D/topology.yaml"
grep -q 'resyncInterval: 10m' "$D/topology.yaml" || fail "could not set resyncInterval in the topology"
ip -n $P link add fx type dummy && ip -n $P link set fx up || fail "dummy device"
start_run $P "$D/topology.yaml" $ROLE
wait_converged 30 "$RUN_PID" $P "$D/topology.yaml" $ROLE
poll 10 readyz_ok || fail "not ready after ${POLL_S}s: $(readyz_body)"
owned=$(owned_routes $P)
[ "$owned" -ge 1 ] || fail "no owned route to test with"

# havpn's rtnetlink monitor socket: NETLINK_ROUTE (Eth 0) subscribed to groups 0x551 (links, IPv4/IPv6 addresses
# and routes). Column 9 of /proc/net/netlink is the count of messages the kernel dropped for it (overflows).
monitor_drops() { ip netns exec $P cat /proc/net/netlink | awk '$2 == 0 && $4 == "00000551" { d += $9; n++ } END { if (n == 1) print d; else print "sockets=" n }'; }
d0=$(monitor_drops)
[ "$d0" = 0 ] || fail "expected one monitor socket without drops before the storm, got: $d0"
# The reconcile counter must be steady before the storm (no controller or timer about to reconcile), so that a
# reconcile after it can only be the overflow's full resync.
steady() { local a b; a=$(metric havpn_reconciles_total); nap 1.5; b=$(metric havpn_reconciles_total); [ -n "$a" ] && [ "$a" = "$b" ]; }
poll 20 steady || fail "reconcile counter not steady for 1.5 s within ${POLL_S}s"
r0=$(metric havpn_reconciles_total)

awk 'BEGIN { for (i = 30000; i < 40000; i++) printf "198.18.%d.%d\n", int(i / 256), i % 256 }' | sort > "$D/expected"
t0=$EPOCHREALTIME
ip netns exec $P python3 lab/faults/route-storm.py fx 40000 ${STORM_DELETES:-30000} || fail "route storm failed"
log "storm of 70,000 route changes took $(dt "$t0")s"

drops() { d1=$(monitor_drops); [ "$d1" -gt 0 ] 2>/dev/null; }
poll 5 drops || fail "the storm did not overflow havpn's event socket (drops: $d1): make it bigger"
resynced() { r1=$(metric havpn_reconciles_total); [ -n "$r1" ] && [ "${r1%.*}" -gt "${r0%.*}" ]; }
poll 10 resynced || fail "no reconcile within ${POLL_S}s after the overflow (reconciles $r0 -> ${r1:-?})"
log "overflow: $d1 events dropped; reconciles $r0 -> $r1 within ${POLL_S}s"
alive "$RUN_PID" || fail "havpn run died"
plan_ok $P "$D/topology.yaml" $ROLE || fail "owned state not intact after the storm: $(cat "$D/plan.out")"
[ "$(owned_routes $P)" = "$owned" ] || fail "owned routes $owned -> $(owned_routes $P)"
ip -n $P -4 route show proto static | awk '{ print $1, $2, $3 }' | sort > "$D/foreign"
n=$(wc -l < "$D/foreign")
[ "$n" = 10000 ] || fail "foreign routes: $n, expected exactly 10000"
awk '$2 != "dev" || $3 != "fx" { bad++ } END { exit bad > 0 }' "$D/foreign" || fail "foreign routes moved off their device"
cut -d' ' -f1 "$D/foreign" | cmp -s - "$D/expected" || fail "foreign routes differ from the 10,000 expected ones"
readyz_ok || fail "not ready after the storm: $(readyz_body)"

# Drift is still repaired: delete an owned route, it must be back within 2 s.
mean_reconcile() { awk -v s="$(metric havpn_reconcile_duration_seconds_sum)" -v c="$(metric havpn_reconcile_duration_seconds_count)" 'BEGIN { printf "%.3f", c ? s / c : -1 }'; }
route=$(ip -n $P -4 route show proto 201 | head -1)
[ -n "$route" ] || fail "no owned route"
ip -n $P route del $route || fail "could not delete the owned route: $route"
t0=$EPOCHREALTIME
back() { [ -n "$(ip -n $P -4 route show proto 201 $route)" ]; }
if ! poll 2 back; then
  r2=$(metric havpn_reconciles_total)
  poll 40 back && late="repaired after ${POLL_S}s more" || late="still missing ${POLL_S}s later"
  fail "owned route ($route) not repaired within 2 s after the storm ($late; reconciles $r1 -> $r2 -> $(metric havpn_reconciles_total), drift repairs $(metric havpn_drift_repairs_total), drops $(monitor_drops), mean reconcile $(mean_reconcile)s)"
fi
pass "overflow ($d1 events dropped) -> reconcile (counter $r0 -> $r1); plan exit 0; 10,000 foreign routes exact; drift repaired in ${POLL_S}s (mean reconcile $(mean_reconcile)s)"
