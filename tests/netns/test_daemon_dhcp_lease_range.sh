#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: a network's DHCP lease time and automatic-address range (the host firewall issue,
# item 11). examples/daemon.yaml with `lease_time: 600` and `range: 10.10.0.100-10.10.0.199` on
# vmnet: a VM added without an address gets 10.10.0.100, the first of the range; the real
# dnsmasq hands it that address for 600 s (udhcpc says so); `vmgw network list` shows both.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq busybox
vmgw_test_begin daemon_dhcp_lease_range
vmgw_require_daemon
CONFIG=$VMGW_LAB/tmp/daemon.yaml
# The two keys go right under vmnet's `dhcp: true`.
awk '{ print } /^    dhcp: true/ && !done { print "    lease_time: 600"; print "    range: 10.10.0.100-10.10.0.199"; done = 1 }' \
  "$VMGW_DAEMON_CONFIG" >"$CONFIG"
grep -q "lease_time: 600" "$CONFIG" || vmgw_die "could not add lease_time to $CONFIG"
vmgw_daemon_lab_up "$CONFIG"

assert "vm add web without an address" \
  vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --port vnet-web
got=$(vmgwc -o json vm show web | jq -r .ip)
assert "web got 10.10.0.100, the first address of the range (got $got)" test "$got" = 10.10.0.100
assert "web gets it by DHCP" vmgw_dhcp "$NS_WEB"
assert "web has 10.10.0.100" test "$(vmgw_ipv4_of "$NS_WEB")" = 10.10.0.100
assert "dnsmasq leased it for 600 s" grep -q "lease of 10.10.0.100 obtained.*lease time 600" \
  "$VMGW_LAB/logs/udhcpc-web.log"
nets=$(vmgwc network list)
echo "$nets"
assert "vmgw network list shows the lease time" grep -q "600s" <<<"$nets"
assert "vmgw network list shows the range" grep -q "10.10.0.100-10.10.0.199" <<<"$nets"

vmgw_test_end
