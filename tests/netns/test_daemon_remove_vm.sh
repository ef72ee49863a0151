#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: removing a VM that has an elastic IP bound and a port forward takes everything
# of it out of the kernel and of dnsmasq in one change: its DHCP reservation (dnsmasq re-reads
# its hosts file on SIGHUP, it is not restarted), the EIP's /32 on wan0, every nft map element
# with its address, its per-VM chains, its forward. The EIP stays allocated (unbound); with
# --release it goes back to the pool. The other VM is untouched.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin daemon_remove_vm
vmgw_require_daemon

T=$VMGW_LAB/tmp
EIP=203.0.113.16
HOSTS=$VMGW_LAB/state/dhcp/vmnet.hosts
DNSMASQ_LOG=$VMGW_LAB/state/dhcp/vmnet.log

vmgw_daemon_lab_up

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
out_is() {  # out_is FILTER VALUE: on the last rc_ok's stdout
  local got
  got=$(jq -r "$1" "$T/out" 2>/dev/null) || true
  [[ $got == "$2" ]] || { echo "  $1: expected '$2', got '$got'"; return 1; }
}

# web_is_set_up: add web with an EIP bound and a port forward to it.
web_is_set_up() {
  assert "vm add web" rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
  if ! vmgwc eip list -o json | jq -e --arg a "$EIP" 'any(.[]; .address == $a)' >/dev/null; then
    assert "eip allocate --address $EIP" rc_ok vmgwc eip allocate --address "$EIP"
  fi
  assert "eip bind $EIP web" rc_ok vmgwc eip bind "$EIP" web
  assert "forward add $LAB_UPLINK_ADDR:$LAB_PF_PORT -> web:80" \
    rc_ok vmgwc forward add --public "$LAB_UPLINK_ADDR:$LAB_PF_PORT" --proto tcp --to web:80
}

assert "vm add db" rc_ok vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db
assert "forward add $LAB_UPLINK_ADDR:8081 -> db:80" \
  rc_ok vmgwc forward add --public "$LAB_UPLINK_ADDR:8081" --proto tcp --to db:80
web_is_set_up
vmgw_lab_dhcp || true

table() { ip netns exec "$NS_GW" nft list table inet vmgw; }
in_hosts() { grep -i "$1" "$HOSTS" >/dev/null; }
has_eip_addr() { ip -n "$NS_GW" -4 -o addr show dev wan0 | grep " inet $EIP/32 " >/dev/null; }
# An address as a whole word of the table (10.10.0.10 but not 10.10.0.100).
table_has() { table | grep -E "(^|[^0-9.])${1//./\\.}([^0-9]|$)" >/dev/null; }
# Whether both per-VM flow counter sets hold ADDR.
counted() {
  local s
  for s in vm_egress vm_ingress; do
    ip netns exec "$NS_GW" nft list set inet vmgw "$s" | grep -E "(^|[^0-9.])${1//./\\.}([^0-9]|$)" >/dev/null || return 1
  done
}
has_forward() { vmgwc -o json forward list | jq -e --arg p "$1" 'any(.[]; .public == $p)' >/dev/null; }
reaches() {  # reaches NS ADDR PORT EXPECTED
  local got
  got=$(vmgw_client "$1" "$2" "$3") || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}
no_answer() { ! vmgw_client "$@" >/dev/null; }

# everything_of_web_present / _gone: the kernel and dnsmasq state of web.
everything_of_web_present() {
  assert "$1: the hosts file has web's MAC" in_hosts "$LAB_WEB_MAC"
  assert "$1: wan0 has $EIP/32" has_eip_addr
  assert "$1: the nft table has elements with $LAB_WEB_IP" table_has "$LAB_WEB_IP"
  assert "$1: vm_egress and vm_ingress count web's flows" counted "$LAB_WEB_IP"
  assert "$1: the forward $LAB_UPLINK_ADDR:$LAB_PF_PORT exists" has_forward "$LAB_UPLINK_ADDR:$LAB_PF_PORT"
  assert "$1: internet -> $EIP:80 reaches web" reaches "$NS_INET" "$EIP" 80 "hello from web"
}
everything_of_web_gone() {
  assert "$1: the hosts file no longer has web's MAC" not in_hosts "$LAB_WEB_MAC"
  assert "$1: the hosts file still has db's MAC" in_hosts "$LAB_DB_MAC"
  assert "$1: wan0 no longer has $EIP/32" not has_eip_addr
  assert "$1: no nft element (or rule) has $LAB_WEB_IP" not table_has "$LAB_WEB_IP"
  assert "$1: no nft element has $EIP" not table_has "$EIP"
  assert "$1: db's elements are still there" table_has "$LAB_DB_IP"
  assert "$1: web's flow counters are gone" not counted "$LAB_WEB_IP"
  assert "$1: db's flow counters are still there" counted "$LAB_DB_IP"
  assert "$1: the forward $LAB_UPLINK_ADDR:$LAB_PF_PORT is gone" not has_forward "$LAB_UPLINK_ADDR:$LAB_PF_PORT"
  assert "$1: db's forward $LAB_UPLINK_ADDR:8081 is still there" has_forward "$LAB_UPLINK_ADDR:8081"
  assert "$1: vm list is just db" test "$(vmgwc -o json vm list | jq -r '[.[].name] | join(",")')" = db
  assert "$1: internet -> $EIP:80 no longer answers" no_answer "$NS_INET" "$EIP" 80
  assert "$1: internet -> $LAB_UPLINK_ADDR:8081 still reaches db" \
    reaches "$NS_INET" "$LAB_UPLINK_ADDR" 8081 "hello from db"
}

dnsmasq_pid() { cat "$VMGW_LAB/run/dnsmasq-vmnet.pid" 2>/dev/null; }
# dnsmasq logs "read <hosts file>" each time it (re-)reads it.
hosts_reads() { grep -c "read $HOSTS" "$DNSMASQ_LOG" 2>/dev/null || true; }
reread_since() { (($(hosts_reads) > $1)); }

echo "# vm remove web"
everything_of_web_present "before"
pid_before=$(dnsmasq_pid)
reads_before=$(hosts_reads)
gen_before=$(vmgw_generation)
assert "vm remove web" rc_ok vmgwc -o json vm remove web
assert "  ...reports $EIP unbound" out_is '.unbound | join(",")' "$EIP"
assert "  ...reports nothing released" out_is '.released | length' 0
assert "  ...reports the forward removed" out_is '.forwards_removed | join(",")' "$LAB_UPLINK_ADDR:$LAB_PF_PORT/tcp"
assert "  ...one change: generation +1" test "$(vmgw_generation)" = $((gen_before + 1))
everything_of_web_gone "after remove"
assert "dnsmasq was not restarted (same pid $pid_before)" test "$(dnsmasq_pid)" = "$pid_before"
assert "dnsmasq re-read its hosts file (SIGHUP)" vmgw_wait_for 3 reread_since "$reads_before"
eip_state() { vmgwc -o json eip list | jq -r --arg a "$EIP" '.[] | select(.address == $a) | "\(.address) \(.vm)"'; }
assert "$EIP is still allocated, unbound" test "$(eip_state)" = "$EIP null"

echo "# vm remove web --release"
web_is_set_up
everything_of_web_present "again"
assert "vm remove web --release" rc_ok vmgwc -o json vm remove web --release
assert "  ...reports $EIP released" out_is '.released | join(",")' "$EIP"
assert "  ...reports nothing merely unbound" out_is '.unbound | length' 0
everything_of_web_gone "after remove --release"
assert "$EIP is gone from eip list" test -z "$(eip_state)"
assert "dnsmasq still not restarted (same pid $pid_before)" test "$(dnsmasq_pid)" = "$pid_before"

vmgw_test_end
