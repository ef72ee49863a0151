#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# `vmgw down` removes everything vmgw made in the gateway (both nft tables, its policy routing,
# the addresses it added, the bridges it created, its dnsmasq) and nothing else: an address, a
# route and an nft table of another program stay, and a device vmgw only used stays. --dry-run
# lists it and changes nothing; a second down finds nothing; apply brings the gateway back; and
# down refuses while vmgwd answers (it would put everything back).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin down
vmgw_lab_up
assert "lab comes up (${LAB_UP_ERROR:-ok})" test -z "$LAB_UP_ERROR"
answers() { [[ $(vmgw_client "$NS_INET" "$LAB_UPLINK_ADDR" "$LAB_PF_PORT") == *"hello from web"* ]]; }
assert "the port forward answers before down" answers

# What other programs hold in the gateway.
gw() { ip netns exec "$NS_GW" "$@"; }
gw ip address add 192.0.2.200/32 dev wan0
gw ip route add 10.200.0.0/16 via "$LAB_ISP_ADDR" proto static
gw nft add table inet theirs
gw nft add chain inet theirs input '{ type filter hook input priority 10; }'
gw ip link add br-theirs type bridge

down() {
  DOWN_RC=0
  DOWN_OUT=$(timeout 60 ip netns exec "$NS_GW" "$VMGW_BIN" down "$@" --state-dir "$VMGW_LAB/state" \
    --run-dir "$VMGW_LAB/run" --socket "$VMGW_LAB/run/vmgw.sock" 2>&1) || DOWN_RC=$?
  echo "vmgw down $*: exit $DOWN_RC"
  printf '    %s\n' "$DOWN_OUT"
}
dnsmasq_running() {
  local f
  for f in "$VMGW_LAB"/run/*.pid; do
    [[ -f $f ]] && vmgw_is_proc "$(cat "$f")" dnsmasq && return 0
  done
  return 1
}
assert "vmgw's dnsmasq runs before down" dnsmasq_running

before=$(vmgw_gw_snapshot)
down --dry-run
assert "down --dry-run exits 0" test "$DOWN_RC" -eq 0
listed() { grep -qF -- "$1" <<<"$DOWN_OUT"; }
assert "the dry run lists the inet table" listed "nftables table inet vmgw"
assert "the dry run lists the bridge vmgw created" listed "remove bridge br-vm"
assert "the dry run lists the LAN's gateway address" listed "remove address 192.168.50.1/24 from lan0"
assert "the dry run changed nothing" test "$(vmgw_gw_snapshot)" = "$before"

down
assert "down exits 0" test "$DOWN_RC" -eq 0
assert "down says what it removed" listed "removed: nftables tables inet vmgw, bridge vmgw"
no_table() { ! gw nft list table "$1" vmgw >/dev/null 2>&1; }
assert "no inet vmgw table" no_table inet
assert "no bridge vmgw table" no_table bridge
no_link() { ! ip -n "$NS_GW" link show "$1" >/dev/null 2>&1; }
assert "the bridge vmgw created is gone" no_link br-vm
has_link() { ip -n "$NS_GW" link show "$1" >/dev/null 2>&1; }
assert "the VM ports stay (released)" has_link vnet-web
assert "lan0 (a device vmgw used, not made) stays" has_link lan0
no_addr() { ! ip -n "$NS_GW" -4 -o address show | grep -qF " $1 "; }
has_addr() { ip -n "$NS_GW" -4 -o address show | grep -qF " $1 "; }
assert "the LAN's gateway address is gone" no_addr 192.168.50.1/24
assert "the uplink address vmgw added is gone" no_addr "$LAB_UPLINK_ADDR/24"
assert "the other program's address stays" has_addr 192.0.2.200/32
# (`ip rule show proto N` does not filter in Debian 12's iproute2: -d prints each rule's proto.)
vmgw_routing() {
  gw ip route show table all proto 76
  gw ip -d rule show | grep -F 'proto 76' || true
  gw ip nexthop show proto 76
}
left=$(vmgw_routing 2>&1)
printf '    left of proto 76: %s\n' "$left"
assert "no route, rule or nexthop of vmgw's protocol" test -z "$left"
their_route() { gw ip route show 10.200.0.0/16 | grep -q "via $LAB_ISP_ADDR"; }
assert "the other program's route stays" their_route
their_table() { gw nft list chain inet theirs input >/dev/null; }
assert "the other program's nft table stays" their_table
assert "the other program's bridge stays" has_link br-theirs
not_dnsmasq() { ! dnsmasq_running; }
assert "vmgw's dnsmasq is stopped" not_dnsmasq
no_hosts_file() { [[ ! -e $VMGW_LAB/state/dhcp/vmnet.hosts ]]; }
assert "its reservations file is gone" no_hosts_file
not_answers() { ! answers; }
assert "the port forward no longer answers" not_answers

down
assert "a second down exits 0" test "$DOWN_RC" -eq 0
assert "and finds nothing to remove" listed "nothing to remove"

vmgw_apply "$VMGW_LAB_CONFIG"
assert "apply after down brings the gateway back (exit $APPLY_RC: $APPLY_ERR)" test "$APPLY_RC" -eq 0
assert "the port forward answers again" answers
gw nft delete table inet theirs

# A host taken down is one a new vmgwd starts on (it refuses a host that holds an earlier
# vmgw's state its database does not know); with vmgwd answering, down refuses.
down
assert "down again exits 0" test "$DOWN_RC" -eq 0
vmgw_daemon_paths
vmgw_daemon_up
before=$(vmgw_gw_snapshot)
down
assert "down refuses while vmgwd runs (exit 3, got $DOWN_RC)" test "$DOWN_RC" -eq 3
assert "and names the reason" listed "stop it first"
assert "and changed nothing" test "$(vmgw_gw_snapshot)" = "$before"
vmgw_daemon_stop

vmgw_test_end
