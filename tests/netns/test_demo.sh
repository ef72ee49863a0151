#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# End to end: the demo lab's nine checks (see lab/vmgw-lab demo), each asserted, plus the kernel
# state vmgw must have written: nft map elements, addresses, the dnsmasq reservation.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin demo

vmgw_lab_up
assert "lab comes up (${LAB_UP_ERROR:-ok})" test -z "$LAB_UP_ERROR"

# The nine behavioural checks, asserted one by one.
vmgw_demo_checks
vmgw_rows_print || true
for i in "${!ROW_CHECK[@]}"; do
  assert "row $((i + 1)): ${ROW_CHECK[i]} (${ROW_DETAIL[i]})" test "${ROW_RESULT[i]}" = PASS
done

# Kernel state.
table=$(ip netns exec "$NS_GW" nft list table inet vmgw 2>&1) || true
# Map elements print like "203.0.113.2 . 8080 : 10.10.0.10 . 80"; the exact key shape (and
# whether a binding is a map element or a rule) is the compiler's choice, so we only ask for the
# public side and the VM side within one element or one rule, in that order.
within_one() { grep -Eq "(^|[^0-9])${1//./\\.}([^0-9][^,{}]*)?[^0-9]${2//./\\.}([^0-9]|$)" <<<"$table"; }
has_pf_element() { within_one "$LAB_UPLINK_ADDR" "${LAB_PF_PORT}[^,{}]*${LAB_WEB_IP}"; }
has_eip_element() { within_one "$LAB_EIP_DB" "$LAB_DB_IP"; }
has_eip_out_element() { within_one "$LAB_DB_IP" "$LAB_EIP_DB"; }
assert "nft table has the port-forward element $LAB_UPLINK_ADDR:$LAB_PF_PORT -> $LAB_WEB_IP:80" has_pf_element
assert "nft table has the elastic-IP inbound element $LAB_EIP_DB -> $LAB_DB_IP" has_eip_element
assert "nft table has the elastic-IP outbound element $LAB_DB_IP -> $LAB_EIP_DB" has_eip_out_element

has_addr() { ip -n "$NS_GW" -4 -o addr show dev "$1" | grep " inet $2 " >/dev/null; }
assert "wan0 has $LAB_EIP_DB/32" has_addr wan0 "$LAB_EIP_DB/32"
assert "wan0 has $LAB_UPLINK_ADDR/24" has_addr wan0 "$LAB_UPLINK_ADDR/24"
assert "br-vm has 10.10.0.1/24" has_addr br-vm 10.10.0.1/24
assert "lan0 has $LAB_LAN_GW/24" has_addr lan0 "$LAB_LAN_GW/24"
default_route() { ip -n "$NS_GW" route show default | grep "via $LAB_ISP_ADDR dev wan0.*metric 100" >/dev/null; }
assert "default route via $LAB_ISP_ADDR dev wan0 metric 100" default_route
enslaved() { ip -n "$NS_GW" -o link show dev "$1" | grep "master br-vm" >/dev/null; }
assert "vnet-web enslaved to br-vm" enslaved vnet-web
assert "vnet-db enslaved to br-vm" enslaved vnet-db
forwarding() { [[ $(ip netns exec "$NS_GW" sysctl -n net.ipv4.ip_forward) == 1 ]]; }
assert "ip_forward=1 in the gateway namespace" forwarding

# The dnsmasq hosts file: wherever vmgw keeps it under its run/state dirs, one file must carry
# web's MAC with its reserved address.
hosts_has_web() {
  grep -rilE "$LAB_WEB_MAC" "$VMGW_LAB/run" "$VMGW_LAB/state" 2>/dev/null |
    xargs -r grep -il "$LAB_WEB_IP" | grep . >/dev/null
}
assert "dnsmasq hosts file has web's reservation ($LAB_WEB_MAC, $LAB_WEB_IP)" hosts_has_web
dnsmasq_running() {
  local f pid
  for f in "$VMGW_LAB"/run/*.pid; do
    [[ -f $f ]] && pid=$(cat "$f") && [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && return 0
  done
  return 1
}
assert "dnsmasq runs with its pid file in the run dir" dnsmasq_running

# dnsmasq's --dhcp-script hook reported web's lease; `vmgw leases` shows it.
lease_seen() {
  vmgw_cli leases --state-dir "$VMGW_LAB/state" -o json |
    grep -A4 '"action": "add"' | grep -i "$LAB_WEB_MAC" >/dev/null
}
assert "vmgw leases shows the lease event of web ($LAB_WEB_MAC)" vmgw_wait_for 5 lease_seen

vmgw_test_end
