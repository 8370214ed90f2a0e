# Helpers for the fault scenarios (lab/faults/*.sh), sourced by bash inside the user-mode-linux guest.
# Set by lab/faults/guest.sh: HAVPN (binary), D (this scenario's work dir), PORT (its HTTP port).
# Synchronisation is always a poll with a deadline, never a bare sleep. Every process costs ~60 ms of
# the guest's one CPU, so the polls wait with a timed read instead of forking `sleep`.
set -u
exec {NAP_FD}<> <(:)
nap() { read -rt "$1" -u "$NAP_FD" _ 2>/dev/null; return 0; }
usec() { local t=${1:-$EPOCHREALTIME}; echo "${t%.*}${t#*.}"; }
# dt T0 [T1]: seconds between two $EPOCHREALTIME values (T1 default now), 3 decimals
dt() { local d=$(( $(usec "${2:-$EPOCHREALTIME}") - $(usec "$1") )); printf '%d.%03d' $((d / 1000000)) $(((d % 1000000) / 1000)); }
log() { echo "[$(cut -d' ' -f1 /proc/uptime)] $*"; }
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; exit 0; }
# poll TIMEOUT CMD...: run CMD every 50 ms until it succeeds (0) or TIMEOUT s pass (1); POLL_S = seconds waited
poll() {
  local to=$1; shift; local t0=$EPOCHREALTIME; local end=$(( $(usec "$t0") + ${to%.*} * 1000000 ))
  while :; do
    if "$@" >/dev/null 2>&1; then POLL_S=$(dt "$t0"); return 0; fi
    (( $(usec) > end )) && { POLL_S=$(dt "$t0"); return 1; }
    nap 0.05
  done
}
not() { ! "$@"; }

# ---- havpn, started and stopped by process id only ----
# start_run NETNS TOPOLOGY ROLE INDEX [args...]: `havpn run` in the background (at niceness RUN_NICE if set);
# RUN_PID, log in $D/run-NETNS.log
start_run() {
  local ns=$1 topo=$2 role=$3 index=$4; shift 4
  ${RUN_NICE:+nice -n "$RUN_NICE"} "$HAVPN" run -f "$topo" --role "$role" --index "$index" --netns "$ns" --http-address 127.0.0.1 --http-port "$PORT" "$@" \
    >> "$D/run-$ns.log" 2>&1 &
  RUN_PID=$!
  echo "$RUN_PID" >> "$D/pids"
}
alive() { kill -0 "$1" 2>/dev/null; }
# plan_ok NETNS TOPOLOGY ROLE INDEX: the kernel is in the declared state (exit 0)
plan_ok() { "$HAVPN" plan -f "$2" --role "$3" --index "$4" --netns "$1" > "$D/plan.out" 2>&1; }
# converged PID NETNS TOPOLOGY ROLE INDEX: the havpn process lives and plan_ok (a poll on it fails fast if it died)
converged() { alive "$1" || { POLL_DEAD=1; return 0; }; shift; plan_ok "$@"; }
# wait_converged DEADLINE PID NETNS TOPOLOGY ROLE INDEX: poll converged; fails the scenario if not or if havpn died
wait_converged() {
  local to=$1; shift; POLL_DEAD=0
  poll "$to" converged "$@" || fail "not converged after ${POLL_S}s: $(tail -3 "$D/plan.out")"
  [ "$POLL_DEAD" = 0 ] || fail "havpn run (pid $1) died: $(tail -3 "$D/run-$2.log")"
}
# metric NAME: its value on /metrics (empty when absent or the endpoint does not answer)
metric() { curl -s -m 2 "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n { print $2; exit }'; }
# metric_ge NAME MIN: the metric exists and is >= MIN
metric_ge() { local v; v=$(metric "$1"); [ -n "$v" ] && awk -v v="$v" -v m="$2" 'BEGIN { exit !(v + 0 >= m + 0) }'; }
# metric_eq NAME VALUE: the metric exists and equals VALUE numerically
metric_eq() { local v; v=$(metric "$1"); [ -n "$v" ] && awk -v v="$v" -v m="$2" 'BEGIN { exit !(v + 0 == m + 0) }'; }
readyz_ok() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ]; }
readyz_body() { curl -s -m 2 "http://127.0.0.1:$PORT/readyz"; }
# owned_routes NETNS [ip route selectors...]: number of IPv4 routes with havpn's protocol (201)
owned_routes() { local ns=$1; shift; ip -n "$ns" -4 route show proto 201 "$@" | wc -l; }
# between VALUE LO HI
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
