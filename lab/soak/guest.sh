#!/bin/bash
# Guest side of scripts/soak (inside user-mode-linux): `havpn run` in both roles for DURATION_S seconds under
# churn, sampled every INTERVAL_S seconds. Writes into WORK_DIR:
#   samples.csv  t_s,role,pid,rss_kb,fds,threads     one row per role per sample (pid 0 when the process is gone)
#   events.csv   t_s,kind,target,result,seconds       one row per churn event; result ok or FAIL (a detail follows)
#   counts       key=value: announcements sent by the stand-ins, received and rejected by the shoot side, ...
#   metrics-*.txt, run-*.log                          the side-cars' last /metrics and their logs
# Exits 0 once the run is over (scripts/soak judges the files), 1 if the set-up itself failed.
#
# Fabric (examples/ha-2x2-ipv4.yaml, announcement lifetime 20 s, as a ConfigMap-style directory):
#   sa  apiserver role, index 1, pod IP 10.1.0.5        ss  shoot role, index 0
#   sb  stand-in apiserver pods on a veth enslaved to ss's bond, announcing in havpn's format (announce.py)
# Churn, one event at a time in a fixed rotation, each checked by a poll with a deadline:
#   appear    a stand-in starts announcing (::a:11..14, pod IP 10.99.0.1..4): tunnel and back route in ss
#   withdraw  it stops with a withdraw: both gone       vanish  it stops silently (SIGUSR1): gone after the lifetime
#   drift     by hand, alternately in sa and ss: an owned route deleted, a tap set down, a tunnel deleted (sa's
#             to shoot client 0, ss's to apiserver 1), sa's bond address deleted (ss's carries the stand-ins'
#             announcements): the object is back and `havpn plan` exits 0
#   storm     10,000 foreign route changes (route-storm.py) in sa or ss: none left, owned state intact
#   swap      the topology swapped A <-> B (valid, other networks): both sides converge on the new one
#   invalid   an invalid topology swapped in: both report havpn_config_valid 0; the last valid one back: 1
# usage: lab/soak/guest.sh WORK_DIR HAVPN_BINARY DURATION_S INTERVAL_S
set -u
W=$1 HAVPN=$2 DURATION_S=$3 INTERVAL_S=$4
D=$W PORT=0
. lab/faults/lib.sh
setup_fail() { echo "soak: set-up failed: $*" >&2; exit 1; }
modprobe -a bonding ip6_tunnel tun veth dummy || setup_fail "modprobe"
ip link set lo up
NET=fd8f:6d53:b97a:1 LIFETIME=20 PA=9201 PS=9202 PACE=${SOAK_PACE:-2}

# ---- topologies A, B (valid) and C (invalid), swapped like kubelet swaps a ConfigMap
CM=$W/cm
mkdir -p "$CM/..vA" "$CM/..vB" "$CM/..vC"
sed -e 's/lifetime: 60s/lifetime: '$LIFETIME's/' examples/ha-2x2-ipv4.yaml > "$CM/..vA/topology.yaml"
# B: one more shoot network (the apiserver role routes it) and one more apiserver known in advance (the shoot
# role gets a tunnel and back route for it)
sed -e 's|nodes: \[10.250.0.0/16\]|nodes: [10.250.0.0/16, 10.251.0.0/16]|' -e 's|    podIPs: \[10.1.0.5\]|&\n  - index: 2\n    podIPs: [10.1.0.6]|' \
  "$CM/..vA/topology.yaml" > "$CM/..vB/topology.yaml"
printf 'apiVersion: havpn/v1\nservers: [oops\n' > "$CM/..vC/topology.yaml"
grep -q "lifetime: ${LIFETIME}s" "$CM/..vA/topology.yaml" && grep -q 10.251.0.0 "$CM/..vB/topology.yaml" \
  && grep -q 10.1.0.6 "$CM/..vB/topology.yaml" || setup_fail "could not derive topologies A and B from the example"
"$HAVPN" validate -f "$CM/..vC/topology.yaml" > /dev/null 2>&1 && setup_fail "topology C is valid"
ln -s ..vA "$CM/..data"; ln -s ..data/topology.yaml "$CM/topology.yaml"
cm_swap() { ln -sfn "$1" "$CM/..data_tmp" && mv -T "$CM/..data_tmp" "$CM/..data"; }
VALID=A

# ---- the two side-cars and the stand-ins' namespace
for n in sa ss sb; do ip netns add $n || setup_fail "netns $n"; done
PORT=$PA start_run sa "$CM/topology.yaml" apiserver 1 --pod-ip 10.1.0.5; PID_SA=$RUN_PID
PORT=$PS start_run ss "$CM/topology.yaml" shoot 0; PID_SS=$RUN_PID
echo "$PID_SA" > "$W/pid-sa"; echo "$PID_SS" > "$W/pid-ss"
T0=$EPOCHREALTIME
el() { dt "$T0"; }

# Sampler: every INTERVAL_S on a fixed schedule, /proc only (no fork).
sample() {
  local pid=$1 rss=0 th=0 k v f
  if [ -r "/proc/$pid/status" ]; then
    while read -r k v _; do case $k in VmRSS:) rss=$v ;; Threads:) th=$v ;; esac; done < "/proc/$pid/status"
    f=(/proc/"$pid"/fd/*)
    echo "$2,$pid,$rss,${#f[@]},$th"
  else
    echo "$2,0,0,0,0"
  fi
}
echo "t_s,role,pid,rss_kb,fds,threads" > "$W/samples.csv"
(
  n=0
  while :; do
    t=$(el)
    { echo "$t,$(sample "$PID_SA" apiserver)"; echo "$t,$(sample "$PID_SS" shoot)"; } >> "$W/samples.csv"
    n=$((n + 1))
    next=$(( $(usec "$T0") + n * INTERVAL_S * 1000000 )); now=$(usec)
    (( next > now )) && nap "$(awk -v d=$((next - now)) 'BEGIN { printf "%.3f", d / 1e6 }')"
  done
) &
SAMPLER=$!

wait_converged 60 "$PID_SA" sa "$CM/..vA/topology.yaml" apiserver 1
wait_converged 60 "$PID_SS" ss "$CM/..vA/topology.yaml" shoot 0
# B must differ from A in both roles, or a swap would prove nothing.
for r in "sa apiserver 1" "ss shoot 0"; do
  set -- $r
  "$HAVPN" plan -f "$CM/..vB/topology.yaml" --role $2 --index $3 --netns $1 > /dev/null 2>&1
  [ $? = 2 ] || setup_fail "topology B plans no change for $2 over A"
done
ip link add va netns ss type veth peer name vb netns sb || setup_fail "veth"
ip -n ss link set va down && ip -n ss link set va master bond0 && ip -n ss link set va up || setup_fail "enslaving the veth"
ip -n sb link set lo up; ip -n sb link set vb up
for k in 1 2 3 4; do ip -n sb addr add $NET::a:1$k/104 dev vb nodad || setup_fail "stand-in address"; done
for n in sa ss; do ip -n $n link add fx type dummy && ip -n $n link set fx up || setup_fail "dummy device in $n"; done
log "converged; churn for ${DURATION_S}s"

# ---- events
echo "t_s,kind,target,result,seconds" > "$W/events.csv"
# event KIND TARGET OK|FAIL [DETAIL]
event() {
  local r=$3; [ "$r" = FAIL ] && r="FAIL ${4:-}"
  echo "$T_EV,$1,$2,${r//,/;},${POLL_S:-0}" >> "$W/events.csv"
  [ "$3" = OK ] || log "FAIL $1 $2: ${4:-}"
}
ANN_PID=() ANN_STATE=() VANISH_DEADLINE=()   # per stand-in k=1..4: state idle|up|vanishing
for k in 1 2 3 4; do ANN_STATE[k]=idle; done
tun_of() { echo "bond0ip6tnl001$1"; }
learnt() { ip -n ss -4 route show proto 201 10.99.0.$1/32 | grep -q "dev $(tun_of "$1")" && ip -n ss link show "$(tun_of "$1")" > /dev/null; }
gone() { ! ip -n ss link show "$(tun_of "$1")" > /dev/null 2>&1 && [ -z "$(ip -n ss -4 route show proto 201 10.99.0.$1/32)" ]; }
pick() { local k; for k in 1 2 3 4; do [ "${ANN_STATE[k]}" = "$1" ] && { echo $k; return 0; }; done; return 1; }

appear() {
  local k; k=$(pick idle) || return 0
  T_EV=$(el)
  ip netns exec sb python3 lab/faults/announce.py --count "$W/sent-$k-$T_EV" --withdraw-on-term $NET::a:1$k $NET::b:0 10.99.0.$k 0.5 &
  ANN_PID[k]=$!; ANN_STATE[k]=up
  if poll 10 learnt $k; then event appear "::a:1$k" OK; else event appear "::a:1$k" FAIL "not learnt within ${POLL_S}s"; fi
}
withdraw() {
  local k; k=$(pick up) || { appear; return; }
  T_EV=$(el)
  kill -TERM "${ANN_PID[k]}"; wait "${ANN_PID[k]}"
  ANN_STATE[k]=idle
  if poll 10 gone $k; then event withdraw "::a:1$k" OK; else event withdraw "::a:1$k" FAIL "tunnel or route still there after ${POLL_S}s"; fi
}
vanish() {
  local k; k=$(pick up) || { appear; return; }
  kill -USR1 "${ANN_PID[k]}"; wait "${ANN_PID[k]}" 2>/dev/null
  ANN_STATE[k]=vanishing; VANISH_DEADLINE[k]=$(( $(usec) + (LIFETIME + 10) * 1000000 )); VANISH_T[k]=$(el)
}
# A vanished stand-in is checked on every turn of the loop, so the lifetime passes while the churn goes on.
VANISH_T=()
check_vanished() {
  local k
  for k in 1 2 3 4; do
    [ "${ANN_STATE[k]}" = vanishing ] || continue
    T_EV=${VANISH_T[k]}
    POLL_S=$(awk -v a="$T_EV" -v b="$(el)" 'BEGIN { printf "%.1f", b - a }')
    if gone $k; then
      ANN_STATE[k]=idle; event vanish "::a:1$k" OK
    elif (( $(usec) > VANISH_DEADLINE[k] )); then
      ANN_STATE[k]=idle; event vanish "::a:1$k" FAIL "still learnt $POLL_S s after the kill (lifetime ${LIFETIME}s)"
      ip -n sb addr del $NET::a:1$k/104 dev vb 2>/dev/null  # never reuse it: it would hide the leak
    fi
  done
}

# drift: one of four kinds by hand; repaired = the object is back and plan exits 0 (havpn alive)
DRIFT_N=0
drift() {
  local ns role idx pid obj what
  DRIFT_N=$((DRIFT_N + 1))
  if (( DRIFT_N % 2 )); then ns=sa role=apiserver idx=1 pid=$PID_SA; else ns=ss role=shoot idx=0 pid=$PID_SS; fi
  T_EV=$(el)
  case $(( (DRIFT_N / 2) % 3 )) in
    0) obj=$(ip -n $ns -4 route show proto 201 | head -1)
       ip -n $ns route del $obj || { POLL_S=0; event drift "$ns route" FAIL "could not delete '$obj'"; return; }
       back() { [ -n "$(ip -n $ns -4 route show proto 201 $obj)" ]; }; what="route ${obj%% *} deleted" ;;
    1) obj=tap$((DRIFT_N % 2)); ip -n $ns link set $obj down
       back() { [ -n "$(ip -n $ns link show $obj up)" ]; }; what="$obj down" ;;
    2) if [ $ns = sa ]; then
         obj=bond0-ip6tnl0; ip -n sa link del $obj
         back() { ip -n sa link show bond0-ip6tnl0 > /dev/null 2>&1; }; what="$obj deleted"
       else  # the shoot role has one tunnel per apiserver, learnt ones included: the topology's one (::a:1)
         obj=bond0ip6tnl0001; ip -n ss link del $obj
         back() { ip -n ss link show bond0ip6tnl0001 > /dev/null 2>&1; }; what="$obj deleted"
       fi ;;
  esac
  repaired() { converged "$pid" $ns "$CM/..v$VALID/topology.yaml" $role $idx && back; }
  POLL_DEAD=0
  if poll 10 repaired && [ $POLL_DEAD = 0 ]; then event drift "$ns $what" OK
  else event drift "$ns $what" FAIL "not repaired within ${POLL_S}s (dead=$POLL_DEAD): $(tail -1 "$D/plan.out")"; fi
}
ADDR_N=0
drift_address() {  # sa's bond address (ss's carries the stand-ins' announcements, so it is left alone)
  T_EV=$(el)
  ip -n sa addr del $NET::a:1/104 dev bond0 || { POLL_S=0; event drift "sa bond address" FAIL "could not delete it"; return; }
  back() { ip -n sa -6 addr show dev bond0 | grep -q "$NET::a:1/104"; }
  repaired() { converged "$PID_SA" sa "$CM/..v$VALID/topology.yaml" apiserver 1 && back; }
  POLL_DEAD=0
  if poll 10 repaired && [ $POLL_DEAD = 0 ]; then event drift "sa bond address deleted" OK
  else event drift "sa bond address deleted" FAIL "not repaired within ${POLL_S}s (dead=$POLL_DEAD)"; fi
}

STORM_N=0
storm() {
  local ns role idx pid
  STORM_N=$((STORM_N + 1))
  if (( STORM_N % 2 )); then ns=ss role=shoot idx=0 pid=$PID_SS; else ns=sa role=apiserver idx=1 pid=$PID_SA; fi
  T_EV=$(el)
  local out; out=$(ip netns exec $ns nice -n 5 python3 lab/faults/route-storm.py fx 5000 5000 2>&1) \
    || { POLL_S=0; event storm $ns FAIL "route-storm.py: $out"; return; }
  intact() { converged "$pid" $ns "$CM/..v$VALID/topology.yaml" $role $idx && [ -z "$(ip -n $ns -4 route show proto static dev fx)" ]; }
  POLL_DEAD=0
  if poll 20 intact && [ $POLL_DEAD = 0 ]; then event storm "$ns 10000 changes" OK
  else event storm "$ns 10000 changes" FAIL "owned state not intact within ${POLL_S}s (dead=$POLL_DEAD): $(tail -1 "$D/plan.out")"; fi
}

swap() {
  local to; [ $VALID = A ] && to=B || to=A
  T_EV=$(el); cm_swap ..v$to; VALID=$to
  both() { converged "$PID_SA" sa "$CM/..v$VALID/topology.yaml" apiserver 1 && converged "$PID_SS" ss "$CM/..v$VALID/topology.yaml" shoot 0; }  # not $to: poll has a local of that name
  POLL_DEAD=0
  if poll 30 both && [ $POLL_DEAD = 0 ]; then event swap "-> $to" OK; else event swap "-> $to" FAIL "not converged on $to within ${POLL_S}s (dead=$POLL_DEAD)"; fi
}
invalid() {
  T_EV=$(el); cm_swap ..vC
  valid_is() { PORT=$PA metric_eq havpn_config_valid "$1" && PORT=$PS metric_eq havpn_config_valid "$1"; }
  if ! poll 20 valid_is 0; then event invalid "-> C" FAIL "havpn_config_valid not 0 on both within ${POLL_S}s"; cm_swap ..v$VALID; return; fi
  event invalid "-> C" OK
  T_EV=$(el); cm_swap ..v$VALID
  both() { valid_is 1 && plan_ok sa "$CM/..v$VALID/topology.yaml" apiserver 1 && plan_ok ss "$CM/..v$VALID/topology.yaml" shoot 0; }
  if poll 30 both; then event invalid "C -> $VALID" OK; else event invalid "C -> $VALID" FAIL "not valid and converged on $VALID within ${POLL_S}s"; fi
}

ROTATION=(appear drift storm appear withdraw drift swap appear vanish drift_address invalid drift storm withdraw appear drift swap vanish)
END=$(( $(usec "$T0") + DURATION_S * 1000000 ))
i=0
while (( $(usec) < END )); do
  check_vanished
  ${ROTATION[i % ${#ROTATION[@]}]}
  i=$((i + 1))
  alive "$PID_SA" && alive "$PID_SS" || { log "a side-car died"; break; }
  nap "$PACE"
done

# ---- wind down: the stand-ins withdraw, vanished ones expire; then totals, and a graceful stop of both
for k in 1 2 3 4; do [ "${ANN_STATE[k]}" = up ] && withdraw; done
T_FINAL=$(( $(usec) + (LIFETIME + 12) * 1000000 ))
while pick vanishing > /dev/null && (( $(usec) < T_FINAL )); do check_vanished; nap 1; done
for k in 1 2 3 4; do VANISH_DEADLINE[k]=0; done; check_vanished
kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null
sent=0; for f in "$W"/sent-*; do [ -f "$f" ] && sent=$((sent + $(cat "$f"))); done
for r in sa:$PA ss:$PS; do curl -s -m 5 "http://127.0.0.1:${r#*:}/metrics" > "$W/metrics-${r%:*}.txt"; done
received=$(awk '$1 == "havpn_announcements_received_total" { print $2 }' "$W/metrics-ss.txt")
rejected=$(awk '$1 ~ /^havpn_announcements_rejected_total/ { s += $2 } END { print s + 0 }' "$W/metrics-ss.txt")
# stop PID: SIGTERM, then its exit status (STOP), "dead" if it was gone already, "none" if it did not exit in 20 s
stop() { STOP=dead; kill -TERM "$1" 2>/dev/null || return 0; STOP=none; poll 20 not alive "$1" || return 0; wait "$1"; STOP=$?; }
stop "$PID_SA"; STOP_SA=$STOP; stop "$PID_SS"; STOP_SS=$STOP
{
  echo "duration_s=$(el)"
  echo "announcements_sent=$sent"
  echo "announcements_received=${received:-missing}"
  echo "announcements_rejected=$rejected"
  grep -E '^havpn_(drift_repairs_total|reconciles_total|reconcile_errors_total|config_reloads_total|config_reload_failures_total) ' "$W/metrics-sa.txt" | sed 's/^/sa_/; s/ /=/'
  grep -E '^havpn_(drift_repairs_total|reconciles_total|reconcile_errors_total|config_reloads_total|config_reload_failures_total) ' "$W/metrics-ss.txt" | sed 's/^/ss_/; s/ /=/'
  echo "sa_stop=$STOP_SA"
  echo "ss_stop=$STOP_SS"
} > "$W/counts"
cat "$W/counts"
exit 0
