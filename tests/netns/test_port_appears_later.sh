#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: a VM's bridge port that appears after the VM was declared is plugged into its
# bridge (the host firewall issue's bug 2: libvirt creates the tap device when the guest starts,
# which is after the operator declared the VM). Two ways an operator declares VMs:
#   1. vmgwd: `vmgw vm add ... --port vnet-late`, then the device appears: plugged within a
#      second, and the VM gets its address by DHCP and reaches the internet; taken out of the
#      bridge and set down by hand, it is put back;
#   2. `vmgw apply` alone: the file names a port that does not exist yet; the first apply
#      succeeds and leaves it alone, the next apply (after the device appeared) plugs it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin port_appears_later
vmgw_require_daemon
vmgw_daemon_lab_up
NS_LATE="vmgw-$LAB_ID-late"
LATE_MAC=52:54:00:00:00:3c
LATE_IP=10.10.0.60

# plugged DEVICE BRIDGE: DEVICE is set up (its UP flag: its carrier depends on the guest's end)
# and a port of BRIDGE in the gateway namespace.
plugged() {
  local line
  line=$(ip -n "$NS_GW" -o link show dev "$1" 2>/dev/null) || return 1
  [[ $line == *" master $2 "* && $line =~ \<([A-Z_,-]*,)?UP(,[A-Z_,-]*)?\> ]]
}
reaches() {  # reaches NS ADDR PORT EXPECTED
  local got
  got=$(ip netns exec "$1" timeout 5 socat -T 3 - "TCP:$2:$3,connect-timeout=2" </dev/null 2>&1) || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}
# within SECONDS CMD...: CMD succeeds within SECONDS (polled every 50 ms); prints how long.
within() {
  local start=${EPOCHREALTIME/./} now
  local deadline=$((start + $1 * 1000000)); shift
  until "$@"; do
    now=${EPOCHREALTIME/./}
    ((now < deadline)) || { echo "  not after $((now - start)) us"; return 1; }
    sleep 0.05
  done
  echo "  after $(((${EPOCHREALTIME/./} - start) / 1000)) ms"
}

# ---- 1. vmgwd -------------------------------------------------------------------------------
assert "vm add late with port vnet-late, which does not exist" \
  vmgwc vm add late --network vmnet --mac "$LATE_MAC" --ip "$LATE_IP" --port vnet-late
assert "no vnet-late device yet" not ip -n "$NS_GW" link show dev vnet-late
vmgw_ns_add "$NS_LATE"
# As libvirt does: the tap device appears down and without master.
ip -n "$NS_GW" link add vnet-late type veth peer name eth0 netns "$NS_LATE"
ip -n "$NS_LATE" link set eth0 address "$LATE_MAC"
ip -n "$NS_LATE" link set eth0 up
assert "vmgwd plugs vnet-late into br-vm and sets it up within a second" within 1 plugged vnet-late br-vm
assert "the VM gets its reserved address by DHCP" vmgw_dhcp "$NS_LATE"
assert "the VM has $LATE_IP" test "$(vmgw_ipv4_of "$NS_LATE")" = "$LATE_IP"
assert "the VM reaches the internet ($LAB_INET_ADDR), masqueraded" \
  reaches "$NS_LATE" "$LAB_INET_ADDR" 80 "seen-from=$LAB_UPLINK_ADDR"

ip -n "$NS_GW" link set vnet-late nomaster
ip -n "$NS_GW" link set vnet-late down
assert "taken out of the bridge and set down by hand: plugged again within a second" \
  within 1 plugged vnet-late br-vm

# The device goes (the guest stopped) and comes back (started again): plugged again.
ip -n "$NS_GW" link del vnet-late
ip -n "$NS_GW" link add vnet-late type veth peer name eth1 netns "$NS_LATE"
assert "a new vnet-late after the old one went is plugged within a second" \
  within 1 plugged vnet-late br-vm

# ---- 2. vmgw apply alone --------------------------------------------------------------------
vmgw_daemon_stop
# The lab's file declares web on vnet-web: remove the device first, as if web were not running.
ip -n "$NS_GW" link del vnet-web
vmgw_apply "$VMGW_LAB_CONFIG"
assert "vmgw apply with web's port missing succeeds (rc $APPLY_RC: $APPLY_ERR)" test "$APPLY_RC" = 0
vmgw_veth "$NS_GW" vnet-web "$NS_WEB" eth0
ip -n "$NS_WEB" link set eth0 address "$LAB_WEB_MAC"
ip -n "$NS_GW" link set vnet-web down
assert "the new vnet-web is not plugged before the next apply (no daemon)" not plugged vnet-web br-vm
vmgw_apply "$VMGW_LAB_CONFIG"
assert "the next vmgw apply succeeds (rc $APPLY_RC: $APPLY_ERR)" test "$APPLY_RC" = 0
assert "it plugged vnet-web into br-vm and set it up" plugged vnet-web br-vm
echo "  apply: $APPLY_OUT"
assert "web gets its address by DHCP" vmgw_dhcp "$NS_WEB"
assert "web reaches the internet, masqueraded" \
  reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from=$LAB_UPLINK_ADDR"

vmgw_test_end
