#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: another program deleting vmgw's tables (nft delete table, nft flush ruleset) is
# noticed through nftables' own events and undone within a second, and the daemon logs who did
# it. Another program's table is never touched; vmgw's own changes never count as foreign.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq curl
vmgw_test_begin daemon_self_heal
vmgw_require_daemon
T=$VMGW_LAB/tmp
vmgw_daemon_lab_up

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
gwnft() { ip netns exec "$NS_GW" nft "$@"; }
has_table() { gwnft list table "$1" "$2" >/dev/null 2>&1; }
reaches() {
  local got
  got=$(ip netns exec "$1" timeout 5 socat -T 3 - "TCP:$2:$3,connect-timeout=2" </dev/null 2>&1) || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}
# back_within MS FAMILY NAME: the table exists again within MS milliseconds; prints the time.
back_within() {
  local limit=$1 start now
  start=$(date +%s%N)
  while :; do
    now=$(date +%s%N)
    if has_table "$2" "$3"; then
      echo "  restored after $(((now - start) / 1000000)) ms"
      return 0
    fi
    (((now - start) / 1000000 < limit)) || { echo "  not back after $limit ms"; return 1; }
    sleep 0.02
  done
}

assert "vm add web --filter clean-traffic" rc_ok vmgwc vm add web --network vmnet \
  --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web --filter clean-traffic
vmgw_dhcp "$NS_WEB"
assert "web reaches the internet" reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from=$LAB_UPLINK_ADDR"
assert "vmgw's own changes are not taken for foreign ones" not grep -q "self-heal" "$VMGWD_LOG"
nft_heals() {
  vmgw_http GET /metrics
  awk '$1 == "vmgw_self_heals_total{kind=\"nftables\"}" {print $2}' <<<"$HTTP_BODY"
}
assert "vmgw_self_heals_total{kind=\"nftables\"} is 0" [ "$(nft_heals)" = 0 ]

# Another program's table, next to vmgw's.
gwnft add table inet other
gwnft add chain inet other keep '{ type filter hook forward priority 10; policy accept; }'

gwnft delete table inet vmgw
assert "nft delete table inet vmgw: restored within 1 s" back_within 1000 inet vmgw
assert "  the other program's table is untouched" has_table inet other
assert "  the daemon logged who did it" grep -E "self-heal: nft \(pid [0-9]+\) changed the ruleset" "$VMGWD_LOG"
assert "  counted: vmgw_self_heals_total{kind=\"nftables\"} is 1" [ "$(nft_heals)" = 1 ]
gwnft delete table bridge vmgw
assert "nft delete table bridge vmgw: restored within 1 s" back_within 1000 bridge vmgw

gwnft flush ruleset
assert "nft flush ruleset: inet vmgw restored within 1 s" back_within 1000 inet vmgw
assert "  and bridge vmgw" back_within 1000 bridge vmgw
assert "  the filters are back: the layer-2 dispatch holds web's program" \
  bash -c "ip netns exec $NS_GW nft list chain bridge vmgw vm_l2_out | grep -q 'jump l2o-'"
assert "  vmgw does not recreate the other program's table" not has_table inet other
assert "web reaches the internet after the flush" reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from=$LAB_UPLINK_ADDR"

# A rule deleted inside vmgw's table is put back too (the table itself still exists).
handle=$(gwnft -a list chain inet vmgw filter_forward | awk '/everything else/ {print $NF}')
gwnft delete rule inet vmgw filter_forward handle "$handle"
sleep 1
assert "a deleted rule is put back" \
  bash -c "ip netns exec $NS_GW nft list chain inet vmgw filter_forward | grep -q 'everything else'"
assert "the daemon's status still answers" rc_ok vmgwc status

vmgw_test_end
