#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow, and the PORT_*
# variables are made by `declare` in a loop:
# shellcheck disable=SC2317,SC2154
# End to end, two ISPs through the real vmgwd (examples/daemon.yaml: isp1 first, isp2 a tier-2
# backup; the LAN with `failback: immediate`). While a VM opens a new flow every 10 ms towards
# the internet host, which logs each datagram's source address:
#   - isp1's link goes down: new flows leave through isp2 within 1 s (measured: the first flow
#     seen from isp2's address after the cut, by its send time);
#   - isp1 comes back, then silently drops everything with its link up: the same, found by the
#     probes alone;
#   - during that outage long-lived flows start on isp2 (from the VM: failback defer; from the
#     LAN: failback immediate); when isp1 returns the VM's flows stay on isp2 for good and its
#     new flows take isp1, while the LAN's flows are cut and come back through isp1.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=uplinks.sh
source "$(dirname "${BASH_SOURCE[0]}")/uplinks.sh"

vmgw_require_env jq
vmgw_test_begin uplinks_failover
vmgw_require_daemon
uplinks_require_tools
T=$VMGW_LAB/tmp
config=$T/daemon.yaml
sed 's/^    masquerade: \[isp1, isp2\]$/    masquerade: [isp1, isp2]\n    failback: immediate/' \
  "$VMGW_DAEMON_CONFIG" >"$config"
grep -q "failback: immediate" "$config" || vmgw_die "could not make the LAN fail back immediately"
vmgw_daemon_lab_up "$config" || vmgw_die "the daemon did not come up"
vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web >/dev/null
vmgw_dhcp "$NS_WEB" || vmgw_die "web got no lease"
# One destination port per phase: a new flow of one phase must never reuse the conntrack entry
# (the same addresses and ports) of a flow of an earlier phase, pinned to another uplink.
LOG=$VMGW_LAB/logs/flows.log
port=9000
for tag in warmup web-long lan-long after; do
  uplinks_recv "$port" "flows-$tag"
  declare "PORT_${tag//-/_}=$port"
  port=$((port + 1))
done
merge_logs() { cat "$VMGW_LAB"/logs/flows-*.log >"$LOG"; }

# cut [--silent]: flows every 10 ms, isp1 cut after 1 s (uplinks_measure_cut); sets SWITCH_MS.
cut() {
  uplinks_measure_cut "$NS_WEB" isp1 "$@" >"$T/cut.out"  # not in a subshell: it sets CUT_MS
  vmgw_log "$(cat "$T/cut.out")"
  cat "$T/cut.out" >>"$VMGW_LAB/logs/figures"
  SWITCH_MS=$CUT_MS
}
under_1s() {
  if [[ -n $SWITCH_MS ]] && ((SWITCH_MS < 1000)); then return 0; fi
  echo "  switch: '${SWITCH_MS:-never}' ms"
  return 1
}
# only_from TAG ADDR: every datagram TAG's sender sent arrived, and all of them from ADDR. (No
# datagram at all, a black hole, is a failure: the count must be the number sent.)
only_from() {
  local sent from other
  sent=$(uplinks_sent "$1")
  from=$(awk -v tag="$1" -v a="$2" '$4 == tag && $2 == a' "$LOG" | wc -l)
  other=$(awk -v tag="$1" -v a="$2" '$4 == tag && $2 != a' "$LOG" | wc -l)
  echo "  $1: ${sent:-?} sent, $from arrived from $2, $other from another address"
  [[ -n $sent ]] && ((sent > 0 && from == sent && other == 0))
}

uplinks_send "$NS_WEB" 20 5 warmup "$PORT_warmup"
sleep 0.3
merge_logs
assert "before: every new flow leaves through isp1 (tier 1)" only_from warmup "$LAB_UPLINK_ADDR"

# 1. The link goes down.
cut
assert "link down: new flows use isp2 within 1 s" under_1s
reason_is() { [[ $(uplinks_field "$1" .reason) == "$2" ]] || { echo "  $1: $(uplinks_field "$1" .reason)"; return 1; }; }
assert "link down: vmgwd says isp1 is down (carrier lost)" reason_is isp1 "carrier lost"
uplinks_restore isp1
assert "isp1 is back up within 5 s of its link" vmgw_wait_for 5 uplinks_is isp1 up

# 2. The link stays up, isp1 drops everything: only the probes can tell.
cut --silent
assert "silent drop: new flows use isp2 within 1 s" under_1s
assert "silent drop: vmgwd took isp1 out for its probes" \
  bash -c "grep -q 'uplink isp1 down: no answer for' '$VMGWD_LOG'"

# 3. Long-lived flows started on isp2 during the outage; then isp1 returns.
uplinks_stream_bg "$NS_WEB" 8 50 6 web-long "$PORT_web_long"
web_stream=$!
uplinks_stream_bg "$NS_LAN" 8 50 6 lan-long "$PORT_lan_long"
lan_stream=$!
sleep 2
uplinks_restore isp1
assert "isp1 is back up once its probes are answered" vmgw_wait_for 5 uplinks_is isp1 up
back=$(uplinks_now_ns)
uplinks_send "$NS_WEB" 20 5 after "$PORT_after"
web_rc=0; wait "$web_stream" || web_rc=$?
lan_rc=0; wait "$lan_stream" || lan_rc=$?
assert "the long-lived senders sent without error: $(cat "$VMGW_LAB"/logs/sent-{web,lan}-long.log | xargs)" \
  test "$web_rc$lan_rc" = 00
sleep 0.3
merge_logs
assert "defer: the VM's long-lived flows stayed on isp2 throughout" only_from web-long "$LAB_UPLINK2_ADDR"
assert "defer: the VM's 8 flows all arrived after isp1 returned" \
  bash -c "(( \$(awk -v t='$back' '\$4 == \"web-long\" && \$7 > t { f[\$5] = 1 } END { print length(f) }' '$LOG') == 8 ))"
assert "defer: new flows go back to isp1" only_from after "$LAB_UPLINK_ADDR"
moved=$(awk -v t="$back" -v a="$LAB_UPLINK_ADDR" \
  '$4 == "lan-long" && $7 > t + 500000000 && $2 == a { f[$5] = 1 } END { print length(f) }' "$LOG")
assert "immediate: the LAN's 8 flows came back through isp1 (got $moved)" test "$moved" = 8
assert "immediate: vmgwd cut the LAN's flows on isp2" \
  bash -c "grep -q 'network lan failed back (immediate)' '$VMGWD_LOG'"
assert "the daemon log names each change" \
  bash -c "grep -q 'network vmnet now uses isp2' '$VMGWD_LOG' && grep -q 'uplink isp1 up: ' '$VMGWD_LOG'"

grep -E "uplink isp1 (down|up)" "$VMGWD_LOG" >&2 || true
vmgw_test_end
