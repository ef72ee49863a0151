#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: `vmgw vm set` changes a VM's address in place (the host firewall issue, item 11:
# before it, only vm remove + vm add, which unbound the elastic IP). web has an elastic IP and a
# port forward; after `vm set web --ip 10.10.0.50` and a DHCP renewal in the guest, both reach
# web at its new address, the elastic IP is still web's, outbound traffic still leaves from the
# elastic IP, and the old address's reservation is gone; a new port is plugged by the change.
# A MAC used by another VM is refused (409) and changes nothing. And `vmgw vm add --eip`: a VM
# with an elastic IP in one call, the address on the uplink; a VM that asks an exhausted pool
# is not created.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq busybox
vmgw_test_begin daemon_vm_set
vmgw_require_daemon
vmgw_daemon_lab_up
T=$VMGW_LAB/tmp
NEW_IP=10.10.0.50

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
reaches() {  # reaches NS ADDR PORT EXPECTED
  local got
  got=$(vmgw_client "$1" "$2" "$3") || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}

assert "vm add web" \
  rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
assert "vm add db" \
  rc_ok vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db
vmgw_lab_dhcp || true
EIP=$(vmgwc -o json eip allocate | jq -r .address)
assert "eip bind $EIP web" rc_ok vmgwc eip bind "$EIP" web
assert "forward $LAB_UPLINK_ADDR:$LAB_PF_PORT -> web:80" \
  rc_ok vmgwc forward add --public "$LAB_UPLINK_ADDR:$LAB_PF_PORT" --to web:80
assert "before: internet -> $EIP:80 reaches web" reaches "$NS_INET" "$EIP" 80 "hello from web"

assert "vm set web --ip $NEW_IP" rc_ok vmgwc vm set web --ip "$NEW_IP"
assert "  it says the new address" grep -q "$NEW_IP" "$T/out"
assert "web renews by DHCP" vmgw_dhcp "$NS_WEB"
assert "web has $NEW_IP" test "$(vmgw_ipv4_of "$NS_WEB")" = "$NEW_IP"
assert "the elastic IP is still web's" \
  test "$(vmgwc -o json eip list | jq -r --arg a "$EIP" '.[] | select(.address == $a) | .vm')" = web
assert "internet -> $EIP:80 reaches web at $NEW_IP" reaches "$NS_INET" "$EIP" 80 "hello from web"
assert "internet -> $LAB_UPLINK_ADDR:$LAB_PF_PORT (the forward) reaches web" \
  reaches "$NS_INET" "$LAB_UPLINK_ADDR" "$LAB_PF_PORT" "hello from web"
assert "web -> internet leaves from $EIP" reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from=$EIP"
hosts=$(cat "$VMGW_LAB"/state/dhcp/vmnet.hosts)
assert "the reservation names $NEW_IP, not $LAB_WEB_IP" \
  bash -c "grep -q '$LAB_WEB_MAC,$NEW_IP,web' <<<'$hosts' && ! grep -q '$LAB_WEB_IP,' <<<'$hosts'"

# A new port: a second link of web appears in the gateway as vnet-web2; the change that names
# it plugs it into br-vm (no wait for self-healing).
vmgw_veth "$NS_GW" vnet-web2 "$NS_WEB" eth1
in_bridge() { [[ $(ip -n "$NS_GW" -o link show dev "$1") == *" master br-vm "* ]]; }
assert "vnet-web2 is in no bridge before" not in_bridge vnet-web2
assert "vm set web --port vnet-web2" rc_ok vmgwc vm set web --port vnet-web2
assert "  vnet-web2 is plugged into br-vm by the change itself" in_bridge vnet-web2
assert "  vm show web names vnet-web2" \
  test "$(vmgwc -o json vm show web | jq -r .port)" = vnet-web2

gen=$(vmgw_generation)
rc=0
vmgwc vm set web --mac "$LAB_DB_MAC" >"$T/out" 2>"$T/err" || rc=$?
assert "vm set web --mac of db: refused with exit code 6 (409 conflict; got $rc)" test "$rc" = 6
assert "  naming the field: $(cat "$T/err")" grep -q "mac" "$T/err"
assert "  nothing changed (generation $gen)" test "$(vmgw_generation)" = "$gen"

assert "vm add app --eip: one call" \
  rc_ok vmgwc vm add app --network vmnet --mac 52:54:00:00:00:3d --eip
APP_EIP=$(vmgwc -o json vm show app | jq -r .elastic_ip)
assert "  it says its elastic IP ($APP_EIP)" grep -q "elastic IP $APP_EIP" "$T/out"
assert "  $APP_EIP is app's" \
  test "$(vmgwc -o json eip list | jq -r --arg a "$APP_EIP" '.[] | select(.address == $a) | .vm')" = app
assert "  wan0 holds $APP_EIP/32" bash -c "ip -n '$NS_GW' -4 -o addr show dev wan0 | grep -q ' $APP_EIP/32 '"
# Take every address the pool has left, then ask it once more.
while vmgwc eip allocate >/dev/null 2>&1; do :; done
gen=$(vmgw_generation)
rc=0
vmgwc vm add full --network vmnet --mac 52:54:00:00:00:3e --eip public >"$T/out" 2>"$T/err" || rc=$?
assert "vm add --eip from an exhausted pool: exit 6 (got $rc: $(cat "$T/err"))" test "$rc" = 6
no_vm_full() { ! vmgwc vm show full >/dev/null 2>&1 && test "$(vmgw_generation)" = "$gen"; }
assert "  no vm 'full', nothing changed (generation $gen)" no_vm_full

vmgw_test_end
