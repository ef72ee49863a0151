#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: a new database next to a live gateway. vmgwd, started on a missing database while
# the host still holds an earlier vmgwd's elastic IP, forward and reservation, refuses to start,
# says what the host holds and how to go on, and changes nothing; with the database restored it
# starts as before; with --reset-host-state it starts empty and removes that state.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin daemon_empty_database
vmgw_require_daemon
vmgw_daemon_lab_up
T=$VMGW_LAB/tmp
EIP=203.0.113.16

assert "vm add web" vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
assert "eip allocate $EIP" vmgwc eip allocate --pool public --address "$EIP"
assert "eip bind $EIP web" vmgwc eip bind "$EIP" web
assert "forward add" vmgwc forward add --public "$LAB_UPLINK_ADDR:$LAB_PF_PORT" --to web:80
generation=$(vmgw_generation)

# (Whole outputs compared, not piped into grep -q: an early exit of grep fails the pipe.)
eip_on_uplink() { [[ $(ip -n "$NS_GW" -4 -o addr show dev wan0) == *" $EIP/32"* ]]; }
eip_in_nft() { [[ $(ip netns exec "$NS_GW" nft list map inet vmgw eip_dnat) == *"$EIP"* ]]; }
forward_in_nft() { [[ $(ip netns exec "$NS_GW" nft list map inet vmgw pf_addr) == *"$LAB_PF_PORT"* ]]; }
reserved() { grep -rqs "$LAB_WEB_MAC" "$VMGW_LAB/state"; }
assert "before: the elastic IP is on the uplink" eip_on_uplink
assert "before: its binding is in nftables" eip_in_nft
assert "before: the forward is in nftables" forward_in_nft

assert "vmgwd stops" vmgw_daemon_stop
mkdir -p "$T/backup"
mv "$VMGW_DB"* "$T/backup/"

# Started on no database: refused, nothing changed.
rc=0
timeout 30 ip netns exec "$NS_GW" "$VMGWD_BIN" --config "$VMGW_DAEMON_CONFIG" --db "$VMGW_DB" \
  --socket "$VMGW_SOCKET" --state-dir "$VMGW_LAB/state" --run-dir "$VMGW_LAB/run" \
  </dev/null >"$T/refused.log" 2>&1 || rc=$?
cat "$T/refused.log" >>"$VMGWD_LOG"
assert "vmgwd on a missing database exits 1 (got $rc)" test "$rc" = 1
says() { grep -qF -- "$1" "$T/refused.log" || { echo "  not in its output: $1"; cat "$T/refused.log"; return 1; }; }
assert "it says why" says "is new or empty, but this host holds the state of an earlier vmgwd"
assert "it names the elastic IP" says "1 elastic IP address on uplink isp1's device wan0 ($EIP)"
assert "it names the binding and the forward" says "1 elastic IP binding in nftables"
assert "it names the reservation" says "1 DHCP reservation of network vmnet"
assert "it says how to go on" says "start once with --reset-host-state"
assert "after the refusal: the elastic IP is still on the uplink" eip_on_uplink
assert "after the refusal: its binding is still in nftables" eip_in_nft
assert "after the refusal: the forward is still in nftables" forward_in_nft
assert "after the refusal: the reservation is still in the hosts file" reserved

# The database restored: vmgwd starts as before.
rm -f "$VMGW_DB"*
mv "$T/backup/"* "$(dirname "$VMGW_DB")/"
assert "vmgwd starts on the restored database" vmgw_daemon_up
assert "at the generation it had ($generation)" test "$(vmgw_generation)" = "$generation"
assert "with the binding" eip_in_nft
db_mode() { [[ $(stat -c %a "$VMGW_DB") == 640 ]]; }
assert "the database is 0640 (was $(stat -c %a "$VMGW_DB"))" db_mode
assert "vmgwd stops" vmgw_daemon_stop

# Asked to begin empty: it does, and the earlier state goes.
rm -f "$VMGW_DB"*
VMGWD_EXTRA_ARGS=(--reset-host-state)
assert "vmgwd --reset-host-state starts on no database" vmgw_daemon_up
VMGWD_EXTRA_ARGS=()
assert "the elastic IP left the uplink" not eip_on_uplink
assert "its binding left nftables" not eip_in_nft
assert "the forward left nftables" not forward_in_nft
assert "no VM is known" test "$(vmgwc -o json vm list | jq length)" = 0

vmgw_test_end
