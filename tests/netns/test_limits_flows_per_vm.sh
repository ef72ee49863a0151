#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: host.flows_per_vm caps the connections one VM can have tracked at once, so one VM
# cannot fill the host's conntrack table. With a limit of 5, web's sixth concurrent connection
# is dropped (and logged) while its five go on and db is unaffected; when web's connections
# close, it can open new ones.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin limits_flows_per_vm
vmgw_require_daemon
T=$VMGW_LAB/tmp
CONFIG=$T/daemon.yaml
sed 's/^host:$/host:\n  flows_per_vm: 5/' "$VMGW_DAEMON_CONFIG" >"$CONFIG"
grep -q "flows_per_vm: 5" "$CONFIG" || vmgw_die "could not set flows_per_vm in $CONFIG"
vmgw_daemon_lab_up "$CONFIG"

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
reaches() {
  local got
  got=$(ip netns exec "$1" timeout 5 socat -T 3 - "TCP:$2:$3,connect-timeout=2" </dev/null 2>&1) || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}
assert "vm add web" rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
assert "vm add db" rc_ok vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db
vmgw_dhcp "$NS_WEB"; vmgw_dhcp "$NS_DB"

# A server that holds each connection open until its client goes away.
vmgw_bg "$NS_INET" holder socat TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo held; sleep 30'
vmgw_wait_for 5 vmgw_listening "$NS_INET" 7000
pids=()
for i in 1 2 3 4 5; do
  ip netns exec "$NS_WEB" socat -u "TCP:$LAB_INET_ADDR:7000,connect-timeout=3" OPEN:"$T/held-$i",creat >/dev/null 2>&1 &
  pids+=($!)
done
sleep 1.5
held=$(cat "$T"/held-* 2>/dev/null | grep -c held || true)
assert "web holds 5 connections (the limit)" test "$held" -eq 5
assert "a sixth connection from web is dropped" \
  not reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from="
assert "db is not limited by web's connections" reaches "$NS_DB" "$LAB_INET_ADDR" 80 "seen-from="
sleep 0.5
assert "the drop is in vmgw log" rc_ok vmgwc log --vm web
assert "  as rule 'flow limit'" grep -q "rule='flow limit'" "$T/out"
kill "${pids[@]}" 2>/dev/null || true
wait 2>/dev/null || true
sleep 1  # closed connections (FIN, TIME_WAIT) no longer count
assert "with its connections gone, web can connect again" \
  reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from="

vmgw_test_end
