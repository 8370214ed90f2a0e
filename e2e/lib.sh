# e2e helpers, sourced by e2e/guest (bash, inside the UML guest, cwd = $WORK).
# Synchronisation is always a poll with a deadline (poll/holds), never a bare sleep.
R=$WORK/results.env; S=$WORK/summary.txt
now() { echo "$EPOCHREALTIME"; }
# Microseconds since the epoch, without spawning a process (every process costs ~60 ms in UML,
# and a busy poll loop of them starves the fabric it is measuring).
usec() { local t=${1:-$EPOCHREALTIME}; echo "${t%.*}${t#*.}"; }
dt() { local d=$(( $(usec "$2") - $(usec "$1") )); printf '%d.%03d' $((d / 1000000)) $(((d % 1000000) / 1000)); }
log() { echo "[$(cut -d' ' -f1 /proc/uptime)] $*"; }
res() { echo "$1=$2" >> "$R"; log "RESULT $1=$2"; }
# logged_at POD MSG T: epoch (seconds.micro) of the first line of POD's havpn JSON log with "msg":"MSG" at or after T
logged_at() {
  local ts
  while IFS= read -r ts; do
    ts=$(date -u -d "$ts" +%s.%6N) || continue
    [ "$(usec "$ts")" -ge "$(usec "$3")" ] && { echo "$ts"; return 0; }
  done < <(sed -n "s/.*\"ts\":\"\([^\"]*\)\".*\"msg\":\"$2\".*/\1/p" "$WORK/havpn-$1.log" 2>/dev/null)
  return 1
}
pass() { printf 'PASS %-28s %s\n' "$1" "$2" | tee -a "$S"; }
fail() { printf 'FAIL %-28s %s\n' "$1" "$2" | tee -a "$S"; FAILED=1; diag_all "$1"; }
skip() { printf 'SKIP %-28s %s\n' "$1" "$2" | tee -a "$S"; }
# Every fork costs ~60 ms of the guest's one CPU, and the polls below run for minutes: they use
# no command substitution and no external `sleep` (a timed read on a private pipe instead).
exec {NAP_FD}<> <(:)
nap() { read -rt "$1" -u "$NAP_FD" _ 2>/dev/null; return 0; }
# poll TIMEOUT CMD...: run CMD until it succeeds (0) or TIMEOUT s pass (1); POLL_S = seconds waited.
# Between two checks it naps 50 ms or as long as the check took, whichever is longer: a check that
# spawns `ip` costs ~60 ms in UML, and back-to-back checks would take half the guest's one CPU from
# the fabric whose reaction they time (seen: detection twice as slow as configured while polling).
poll() {
  local to=$1; shift; local t0=$EPOCHREALTIME; local end=$(( ${t0/./} + ${to%.*} * 1000000 )) c0
  while :; do
    c0=${EPOCHREALTIME/./}
    if "$@" >/dev/null 2>&1; then POLL_S=$(dt "$t0" "$EPOCHREALTIME"); return 0; fi
    (( ${EPOCHREALTIME/./} > end )) && { POLL_S=$(dt "$t0" "$EPOCHREALTIME"); return 1; }
    pace 50000 "$c0"
  done
}
# pace MIN_US C0: nap MIN_US microseconds, or as long as the check that started at C0 (EPOCHREALTIME without
# its dot) took, whichever is longer (at most 1 s); shared by poll and holds
pace() {
  local took=$(( ${EPOCHREALTIME/./} - $2 )) s
  (( took > $1 )) || took=$1
  printf -v s '0.%06d' $(( took < 999999 ? took : 999999 ))
  nap "$s"
}
# holds DURATION CMD...: CMD must stay true for DURATION s; 1 at the first violation. Between two checks it
# naps 100 ms or as long as the check took, whichever is longer (as poll does): a check that forks `ip` for
# every pod takes ~0.6 s in UML, and back-to-back checks take the CPU that openvpn needs (in CI, api0's path
# stalled right after spoofed-announcements' 3 s hold and failed the next scenario).
holds() {
  local end=$(( ${EPOCHREALTIME/./} + ${1%.*} * 1000000 )) c0; shift
  while (( ${EPOCHREALTIME/./} < end )); do
    c0=${EPOCHREALTIME/./}
    "$@" >/dev/null 2>&1 || return 1
    pace 100000 "$c0"
  done
}
not() { ! "$@"; }
# within_bound "POD:1.234s ..." N: N pods listed and each at most DECISION_BOUND_S (e2e/run sets it with two
# guests, where the fabric runs at havpn's default timings; unset: no bound)
within_bound() {
  [ -n "${DECISION_BOUND_S:-}" ] || return 0
  local e n=0
  for e in $1; do n=$((n + 1)); awk -v v="${e#*:}" -v b="$DECISION_BOUND_S" 'BEGIN{sub(/s$/, "", v); exit !(v + 0 <= b + 0)}' || return 1; done
  [ "$n" -ge "$2" ]
}
# cpu_sample: "busy total" jiffies of the guest's one CPU from /proc/stat (busy: all but idle and iowait)
cpu_sample() { local c u n s i w q sq st; read -r c u n s i w q sq st _ < /proc/stat; echo "$((u+n+s+q+sq+st)) $((u+n+s+i+w+q+sq+st))"; }
# cpu_busy "BUSY0 TOTAL0" "BUSY1 TOTAL1": percent of the CPU busy between two samples
cpu_busy() { local b0 t0 b1 t1; read -r b0 t0 <<< "$1"; read -r b1 t1 <<< "$2"; if (( t1 > t0 )); then echo $(( 100 * (b1 - b0) / (t1 - t0) )); else echo 0; fi; }
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }
count() { local n; n=$(grep -c -- "$1" "$2" 2>/dev/null); echo "${n:-0}"; }

# ---- pod state ----
carrier() { [ "$(nsx "$1" cat /sys/class/net/$2/carrier 2>/dev/null)" = 1 ]; }
# bond_state POD: BOND_STATE=(epoch active carrier...) from bondmon's last line, without a fork
# (1 when bondmon does not run; then the state is read from the pod: ~70 ms per fork in UML)
bond_state() {
  local f=$WORK/bondmon-$1.log l last=
  [ -s "$f" ] && [ ! -e "$WORK/stop-mon" ] || return 1
  while IFS= read -r l; do last=$l; done < "$f"
  read -ra BOND_STATE <<< "$last"
}
# active POD: the bond's active slave
active() {
  if bond_state "$1"; then echo "${BOND_STATE[1]}"
  else nsx "$1" cat /sys/class/net/bond0/bonding/active_slave 2>/dev/null; fi
}
# all_active TAP PODS...: every pod's bond uses TAP
all_active() {
  local t=$1 p; shift
  for p in "$@"; do
    if bond_state "$p"; then [ "${BOND_STATE[1]}" = "$t" ] || return 1
    else [ "$(active "$p")" = "$t" ] || return 1; fi
  done
}
# all_carrier PODS...: every tap of every pod has carrier
all_carrier() {
  local p i c
  for p in "$@"; do
    if bond_state "$p"; then
      for c in "${BOND_STATE[@]:2}"; do [ "$c" = 1 ] || return 1; done; continue
    fi
    for i in $(seq 0 $((SERVERS-1))); do carrier "$p" tap$i || return 1; done
  done
}
# Scenario preconditions wait for it up to 40 s (no claim is timed there): on the loaded one-CPU guest a
# server path can flap between scenarios, and the bond fails back only after the 5 s fail-back hold.
healthy() { all_carrier $PODS && all_active tap0 $PODS; }
link_exists() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }
route_dev() { local w prev= f=-4; [[ $2 == *:* ]] && f=-6; for w in $(ip -n "$1" $f route show "$2" 2>/dev/null); do [ "$prev" = dev ] && { echo "$w"; return; }; prev=$w; done; }
route_is() { [ "$(route_dev "$1" "$2")" = "$3" ]; }
ping1() { nsx "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }
wl_ok() { nsx "$1" "${AS_PROXY[@]}" ping -c 1 -W 1 "$WORKLOAD_IP" >/dev/null 2>&1; }
all_wl_ok() { local p; for p in "$@"; do wl_ok "$p" || return 1; done; }

# ---- havpn (real or stand-in); switching the renderer to havpn is the one line in ovpn_conf ----
ovpn_conf() { "$HAVPN" openvpn-config -f "$TOPO" "$@"; }
role_of() { case $1 in api*) echo apiserver;; shoot*) echo shoot;; esac; }
index_of() { case $1 in api*) echo $(( ${1#api} + 1 ));; shoot*) echo "${1#shoot}";; esac; }
pod_ip() { case $1 in api*) echo "10.250.0.$(( 10 + ${1#api} ))";; esac; }
pod_ip6() { case $1 in api*) echo "fd00:100::$(( 20 + ${1#api} ))";; esac; }
# what the apiserver pods pass as --pod-ip (Kubernetes' status.podIPs): both families on the dual-stack fabric
pod_ips() { if [ -n "$WORKLOAD_IP6" ]; then echo "$(pod_ip "$1"),$(pod_ip6 "$1")"; else pod_ip "$1"; fi; }
havpn_apply() { "$HAVPN" apply -f "$TOPO" --role "$(role_of "$1")" --index "$(index_of "$1")" --netns "$1"; }
havpn_run_start() { # pod: start `havpn run` for the pod in the background (pid in $WORK/havpn-<pod>.pid)
  local p=$1 extra=()
  [ "$(role_of "$p")" = apiserver ] && extra=(--pod-ip "$(pod_ips "$p")")
  "$HAVPN" run -f "$TOPO" --role "$(role_of "$p")" --index "$(index_of "$p")" --netns "$p" --pod-name "$p" \
    "${extra[@]}" --http-address 127.0.0.1 --http-port "$(http_port "$p")" --log-format json \
    >> "$WORK/havpn-$p.log" 2>&1 &
  echo $! > "$WORK/havpn-$p.pid"; LONG_PIDS="$LONG_PIDS $!"
}
http_port() { case $1 in api*) echo $((8100 + ${1#api}));; shoot*) echo $((8200 + ${1#shoot}));; esac; }
# http_code POD PATH: HTTP status of havpn's endpoint (tries the pod netns, then the root netns)
http_code() {
  local u="http://127.0.0.1:$(http_port "$1")$2" c
  c=$(nsx "$1" curl -s -o /dev/null -m 1 -w '%{http_code}' "$u" 2>/dev/null); [ "${c:-000}" != 000 ] || c=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$u")
  echo "$c"
}
http_ok() { [ "$(http_code "$1" "$2")" = 200 ]; }
needs_run() { # name: prints SKIP and returns 1 unless havpn run is enabled
  [ "$HAVPN_E2E_RUN" = 1 ] && return 0; skip "$1" "needs \`havpn run\` (HAVPN_E2E_RUN=0)"; return 1; }

# ---- openvpn ----
start_server() { # i
  ovpn_conf --server "$1" > "$WORK/srv$1.conf" || { log "render server $1 failed"; return 1; }
  rm -f "$WORK/srv$1.log"
  nsx srv$1 openvpn --config "$WORK/srv$1.conf" --daemon srv$1 --log "$WORK/srv$1.log" --writepid "$WORK/srv$1.pid"
}
start_client() { # pod i
  local p=$1 i=$2
  ovpn_conf --role "$(role_of "$p")" --index "$(index_of "$p")" --client "$i" > "$WORK/$p-c$i.conf" || { log "render $p-c$i failed"; return 1; }
  nsx "$p" openvpn --config "$WORK/$p-c$i.conf" --daemon "$p-c$i" --log-append "$WORK/$p-c$i.log" --writepid "$WORK/$p-c$i.pid"
}
stop_pid() { [ -f "$1" ] && kill "-${2:-TERM}" "$(cat "$1")" 2>/dev/null; rm -f "$1"; }
gone() { [ ! -d /proc/$1 ]; }
connected_count() { count "Initialization Sequence Completed" "$1"; }
# connected_since FILE N: the client log has more than N "connected" lines
connected_since() { [ "$(connected_count "$1")" -gt "$2" ]; }

# ---- probes (from the lab recipe) ----
start_probes() { # name pod
  rm -f "$WORK/stop-$1" "$WORK/probe-$1.json.ready" "$WORK/probe-$1.json.failed"
  nsx "$2" /usr/bin/python3 "$E2E/tcpprobe.py" "$WORKLOAD_IP" 7777 "$WORK/stop-$1" "$WORK/probe-$1.json" & PROBE_PID=$!
  nsx "$2" ping -D -i 0.05 -W 1 "$WORKLOAD_IP" > "$WORK/ping-$1.log" 2>&1 & PING_PID=$!
  poll 15 probe_started "$1" && [ -e "$WORK/probe-$1.json.ready" ] && return 0
  PROBE_ERROR=$(cat "$WORK/probe-$1.json.failed" 2>/dev/null || echo "no connection after ${POLL_S}s")
  kill -TERM "$PING_PID" 2>/dev/null; return 1
}
probe_started() { [ -e "$WORK/probe-$1.json.ready" ] || [ -e "$WORK/probe-$1.json.failed" ]; }
# (background jobs of a non-interactive shell ignore SIGINT: stop ping with TERM)
stop_probes() { touch "$WORK/stop-$1"; wait "$PROBE_PID"; kill -TERM "$PING_PID" 2>/dev/null; wait "$PING_PID" 2>/dev/null; }
probe() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$WORK/probe-$1.json" "$2" 2>/dev/null; }
ping_max_gap() { awk -F'[][]' '/icmp_seq/{t=$2; if(p&&t-p>m)m=t-p; p=t} END{printf "%.3f", m}' "$WORK/ping-$1.log"; }
# first time (epoch) after T at which bondmon of POD shows active slave TAP
bond_switch_at() { awk -v t="$2" -v s="$3" '$1>=t && $2==s {printf "%.6f", $1; exit}' "$WORK/bondmon-$1.log"; }
all_logs_have() { local pat=$1 f; shift; for f in "$@"; do grep -q -- "$pat" "$f" 2>/dev/null || return 1; done; }
# wait_jobs: wait for the short-lived background jobs started since the last call (renders + openvpn --daemon)
wait_jobs() { local j; for j in $(jobs -p); do case " $LONG_PIDS " in *" $j "*) ;; *) wait "$j";; esac; done; }
LONG_PIDS=""

# ---- diagnostics on failure (CI shows only the tail of the output, so one compact line per pod) ----
# diag POD: route to the shoot pods, bond slave + carriers, tunnels, last havpn events (JSON log)
diag() {
  local p=$1 tn
  tn=$(ip -n "$p" -o link show type ip6tnl 2>/dev/null | awk -F': ' '{sub(/@.*/,"",$2); printf "%s ", $2}')
  printf '  %s: route=%s slave=%s carrier=%s%s tunnels=[%s] havpn: %s\n' "$p" "$(route_dev "$p" "$SHOOT_ROUTE")" \
    "$(nsx "$p" cat /sys/class/net/bond0/bonding/active_slave 2>/dev/null)" \
    "$(nsx "$p" cat /sys/class/net/tap0/carrier 2>/dev/null)" "$(nsx "$p" cat /sys/class/net/tap1/carrier 2>/dev/null)" \
    "${tn% }" "$(tail -n 3 "$WORK/havpn-$p.log" 2>/dev/null | sed -n 's/.*"ts":"[^T]*T\([^"]*\)Z".*"msg":"\([^"]*\)".*/\1 \2/p' | paste -sd';')"
}
diag_all() { local p; { echo "DIAG $1"; for p in $PODS $EXTRA_PODS; do diag "$p"; done; } | tee -a "$WORK/diag.txt"; }
EXTRA_PODS=""
