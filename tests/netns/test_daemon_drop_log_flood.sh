#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: a flood of packets to a closed port of the host is dropped by the kernel and logged
# only within host.drop_log, so it costs vmgwd little CPU; what is not logged is counted
# (vmgw_drop_log_suppressed_packets_total, `vmgw log`), and a single drop from another source
# is still logged while the flood goes on (the flooder is held by its own per-source bucket).
# For comparison, the same flood with limits too high to matter (after a restart): the CPU the log
# costs without the bound (printed, not asserted: it depends on how fast this machine sends).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

UDP=${VMGW_BENCH_UDP:-$(dirname "$VMGW_BIN")/bench/vmgw-bench-udp}
FLOOD_SECONDS=${VMGW_FLOOD_SECONDS:-8}
vmgw_require_env jq curl
[[ -x $UDP ]] || vmgw_skip "vmgw-bench-udp not found at $UDP"
vmgw_test_begin daemon_drop_log_flood
vmgw_require_daemon
T=$VMGW_LAB/tmp
vmgw_daemon_lab_up

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
metric() { vmgw_http GET /metrics; awk -v m="$1" '$1 == m { print $2 }' "$VMGW_LAB/tmp/http.body"; }
# vmgwd's CPU time so far, in clock ticks (utime + stime of /proc/PID/stat; the fields after the
# command name, which is in parentheses).
cpu_ticks() { sed 's/^.*) //' "/proc/$VMGWD_PID/stat" | awk '{ print $12 + $13 }'; }
hz=$(getconf CLK_TCK)
logged_from() { vmgwc log -n 1000 | grep -F "$1" >/dev/null; }

# 1. One drop is logged.
ip netns exec "$NS_INET" socat -u - "UDP:$LAB_UPLINK_ADDR:9" <<<"one" 2>/dev/null || true
assert "a single drop at a closed port is logged" \
  vmgw_wait_for 5 logged_from "rule='host: input' udp $LAB_INET_ADDR"
suppressed0=$(metric vmgw_drop_log_suppressed_packets_total)
assert "/metrics has vmgw_drop_log_suppressed_packets_total" test -n "$suppressed0"

# flood LABEL: FLOOD_SECONDS of UDP from the internet at the host's closed port 9, measuring
# vmgwd's CPU meanwhile. Sets CPU_PCT (percent of one CPU) and PPS (packets per second the
# sender put on the wire).
flood() {
  local before after t0 t1
  before=$(cpu_ticks); t0=$(date +%s.%N)
  ip netns exec "$NS_INET" "$UDP" send --dst "$LAB_UPLINK_ADDR" --port 9 --flows 16 \
    --seconds "$FLOOD_SECONDS" >"$T/flood-$1.json" &
  local sender=$!
  sleep 2
  # Another source, mid-flood: its one drop is logged (its own bucket, and the shared one is
  # not used up by the flooder, which its per-source bucket holds to host.drop_log.per_source).
  ip netns exec "$NS_LAN" socat -u - "UDP:$LAB_LAN_GW:9" <<<"lan" 2>/dev/null || true
  wait "$sender"
  after=$(cpu_ticks); t1=$(date +%s.%N)
  CPU_PCT=$(awk -v a="$before" -v b="$after" -v hz="$hz" -v t0="$t0" -v t1="$t1" \
    'BEGIN { printf "%.1f", 100 * (b - a) / hz / (t1 - t0) }')
  PPS=$(jq -r '.pps_sent | floor' "$T/flood-$1.json")
  vmgw_log "flood ($1): $PPS packets/s sent for ${FLOOD_SECONDS} s; vmgwd used $CPU_PCT% of a CPU"
}

flood bounded
assert "the flood was a flood (>= 20000 packets/s; got $PPS)" test "$PPS" -ge 20000
assert "vmgwd used < 10% of a CPU during the flood (got $CPU_PCT%)" \
  awk -v c="$CPU_PCT" 'BEGIN { exit !(c < 10) }'
assert "the other source's single drop was logged during the flood" \
  vmgw_wait_for 5 logged_from "rule='host: input' udp $LAB_LAN_CLIENT"
suppressed1=$(metric vmgw_drop_log_suppressed_packets_total)
sent=$(jq -r .sent "$T/flood-bounded.json")
# Everything sent reached the host's drop (same machine, no loss expected beyond a few percent);
# at most rate + burst per second were logged.
assert "the suppressed count moved by most of the flood ($suppressed0 -> $suppressed1 of $sent)" \
  awk -v a="$suppressed0" -v b="$suppressed1" -v s="$sent" 'BEGIN { exit !(b - a >= 0.5 * s) }'
logged=$(metric vmgw_drop_log_packets_total)
assert "vmgwd received at most the limit's worth of log entries (got $logged)" \
  test "$logged" -le $((100 * (FLOOD_SECONDS + 2) + 100 + 10))
assert "vmgw log says how many were not logged" rc_ok vmgwc log -n 1
assert "  on stderr" grep -E "^[0-9]+ packets were not logged \(over host.drop_log\)" "$T/err"
assert "vmgw log -o json carries the count" rc_ok vmgwc -o json log -n 1
assert "  as .suppressed" test "$(jq -r .suppressed "$T/out" 2>/dev/null || echo)" != ""
assert "the daemon still answers" rc_ok vmgwc status

# 2. The same flood with the bound out of the way (a restart with limits too high to matter).
CONFIG=$T/unbounded.yaml
sed 's/^host:$/host:\n  drop_log: {rate: 1000000, burst: 1000000, per_source: 0}/' \
  "$VMGW_DAEMON_CONFIG" >"$CONFIG"
grep -q "rate: 1000000" "$CONFIG" || vmgw_die "could not set drop_log in $CONFIG"
vmgw_daemon_stop
vmgw_daemon_up "$CONFIG" || vmgw_die "vmgwd did not come back with $CONFIG"
flood unbounded
vmgw_log "for comparison: without the bound vmgwd used $CPU_PCT% of a CPU at $PPS packets/s"
assert "the daemon survived the unbounded flood" rc_ok vmgwc status

vmgw_test_end
