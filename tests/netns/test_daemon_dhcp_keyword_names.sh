#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: VM names that dnsmasq would read as keywords of a dhcp-host line. vmgw writes
# "mac,ip,NAME"; dnsmasq reads `ignore` as "never answer this host", `infinite` and `7d` (any
# number with an optional w/d/h/m/s) as a lease time. vmgw leaves such a name out of the line, so
# a VM named `ignore` gets its reservation and a VM named `7d` gets the server's lease time (1 h),
# not a week. Real dnsmasq, real DHCP exchanges from the VMs' namespaces.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin daemon_dhcp_keyword_names
vmgw_require_daemon
vmgw_daemon_lab_up
T=$VMGW_LAB/tmp

# A udhcpc script that applies the lease and records its time (busybox passes $lease).
cat >"$T/lease.script" <<'EOF'
#!/bin/sh
case "$1" in
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    echo "$lease" >"$LEASE_OUT" ;;
esac
exit 0
EOF
chmod 755 "$T/lease.script"
# lease NS: one DHCP exchange; prints the lease time (empty: no lease).
lease() {
  rm -f "$T/lease.$1"
  ip netns exec "$1" env LEASE_OUT="$T/lease.$1" timeout 20 busybox udhcpc -i eth0 -n -q -t 4 \
    -T 1 -s "$T/lease.script" >/dev/null 2>&1 || true
  cat "$T/lease.$1" 2>/dev/null || true
}
has_addr() { ip -n "$1" -4 -o addr show dev eth0 | grep -q " $2/"; }

assert "vm add ignore" vmgwc vm add ignore --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
assert "vm add 7d" vmgwc vm add 7d --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db
hosts=$VMGW_LAB/state/dhcp/vmnet.hosts
[[ -f $hosts ]] || hosts=$(find "$VMGW_LAB" -name 'vmnet*hosts*' -type f | head -n 1)
no_keyword_names() { ! grep -Eq ',(ignore|7d)$' "$hosts"; }
assert "the hosts file holds neither name as a host name ($hosts)" no_keyword_names

web_lease=$(lease "$NS_WEB")
assert "the VM named 'ignore' gets a lease" test -n "$web_lease"
assert "... of its reservation $LAB_WEB_IP" has_addr "$NS_WEB" "$LAB_WEB_IP"
db_lease=$(lease "$NS_DB")
assert "the VM named '7d' gets its reservation $LAB_DB_IP" has_addr "$NS_DB" "$LAB_DB_IP"
assert "... for the server's hour, not 7 days (got ${db_lease:-none} s)" test "${db_lease:-0}" = 3600

vmgw_test_end
