#!/bin/bash
# Guest side of scripts/fault-tests (inside user-mode-linux): runs each scenario lab/faults/NN-NAME.sh in its own
# network namespaces with its own HTTP port and work dir, bounded by a deadline; prints PASS/FAIL per scenario and
# exits 1 if any failed. Afterwards it kills the havpn processes the scenario started (by pid) and deletes the
# namespaces it made.
# usage: lab/faults/guest.sh WORK_DIR HAVPN_BINARY SCENARIO...
set -u
W=$1 HAVPN=$2; shift 2
modprobe -a bonding ip6_tunnel tun veth dummy
ip link set lo up
export HAVPN
failed=0 port=9110
for s in "$@"; do
  f=$(ls lab/faults/[0-9][0-9]-"$s".sh 2>/dev/null | head -1)
  [ -n "$f" ] || { echo "FAIL $s: no scenario lab/faults/NN-$s.sh"; failed=1; continue; }
  port=$((port + 1))
  D=$W/$s; rm -rf "$D"; mkdir -p "$D"
  before=$(ip netns list | cut -d' ' -f1 | sort)
  t0=$EPOCHREALTIME
  D=$D PORT=$port timeout -k 5 "${FAULT_DEADLINE_S:-180}" /bin/bash "$f" > "$D/out.log" 2>&1
  rc=$?
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  line=$(grep -E '^(PASS|FAIL): ' "$D/out.log" | tail -1)
  if [ $rc -eq 0 ] && [ "${line%%:*}" = PASS ]; then
    printf 'PASS %-16s %5ss  %s\n' "$s" "$secs" "${line#PASS: }"
  else
    [ $rc -eq 124 ] && line="deadline of ${FAULT_DEADLINE_S:-180} s exceeded"
    printf 'FAIL %-16s %5ss  %s (exit %d)\n' "$s" "$secs" "${line#FAIL: }" "$rc"
    sed 's/^/    | /' "$D/out.log" | tail -40
    for l in "$D"/run-*.log; do [ -f "$l" ] && { echo "    | --- tail of $l"; tail -15 "$l" | sed 's/^/    | /'; }; done
    failed=1
  fi
  [ -f "$D/pids" ] && while read -r p; do kill -9 "$p" 2>/dev/null; done < "$D/pids"
  for n in $(ip netns list | cut -d' ' -f1 | sort | comm -13 <(echo "$before") -); do ip netns del "$n"; done
done
exit $failed
