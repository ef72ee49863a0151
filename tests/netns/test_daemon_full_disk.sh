#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: all or nothing when the state directory is full. vmgwd's database and DHCP hosts
# file live on a 4 MiB tmpfs mounted in a private mount namespace of this test (the machine's
# own mounts are untouched). The disk is filled; `vm add` is refused with a clear error, and
# nothing of it remains: not in the hosts file, the listing, nftables, the bridge or the
# generation. Once there is room, the refused VM's address goes to the next VM, and a guest with
# the refused VM's MAC gets no lease (the hardening issue: it got the other VM's address).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vmgw_private_mounts "$@"  # the tmpfs below exists only in this test's mount namespace

vmgw_require_env jq
vmgw_test_begin daemon_full_disk
vmgw_require_daemon
STATE=$VMGW_LAB/state
mkdir -p "$STATE"
mount -t tmpfs -o size=4m,mode=0755 vmgw-test-state "$STATE"
# Unmounted before the lab is removed (rm cannot remove a mount point).
trap 'rc=$?; set +e; umount -l "$STATE" 2>/dev/null; (exit $rc); vmgw_test_cleanup' EXIT
vmgw_daemon_lab_up
T=$VMGW_LAB/tmp

assert "vm add web" vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
generation=$(vmgw_generation)
hosts=$STATE/dhcp/vmnet.hosts
hosts_before=$(cat "$hosts")

# Fill the state directory.
dd if=/dev/zero of="$STATE/fill" bs=64k >/dev/null 2>&1 || true
assert "the state directory is full" test "$(df --output=avail "$STATE" | tail -n 1 | tr -d ' ')" -lt 64

rc=0
vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --port vnet-db >"$T/out" 2>"$T/err" || rc=$?
assert "vm add db on a full disk fails (exit $rc)" test "$rc" -ne 0
says_why() { grep -Eq "No space left on device|disk is full|database or disk is full" "$T/err" || { cat "$T/err"; return 1; }; }
assert "the error says the disk is full: $(head -c 200 "$T/err")" says_why
assert "the generation did not move" test "$(vmgw_generation)" = "$generation"
not_listed() { [[ $(vmgwc -o json vm list | jq -r '.[].name' | sort | tr '\n' ' ') == "web " ]]; }
assert "vm list holds web only" not_listed
hosts_same() { [[ $(cat "$hosts") == "$hosts_before" ]] || { echo "  hosts: $(cat "$hosts")"; return 1; }; }
assert "the hosts file is as it was" hosts_same
no_elements() { [[ $(ip netns exec "$NS_GW" nft list ruleset) != *"10.10.0.2 "*"10.10.0.3"* ]] &&
  [[ $(ip netns exec "$NS_GW" nft list set inet vmgw vm_egress) != *"10.10.0.3"* ]]; }
assert "nftables holds nothing of the refused VM" no_elements
unplugged() { [[ $(ip -n "$NS_GW" -o link show vnet-db) != *"master br-vm"* ]]; }
assert "the refused VM's port is not on the bridge" unplugged

# One page of room: the hosts file's write may pass and the database's commit fail after it (the
# case of the hardening issue), or both pass. Either way, all or nothing.
rm -f "$STATE/fill"
dd if=/dev/zero of="$STATE/spare" bs=4k count=1 >/dev/null 2>&1
dd if=/dev/zero of="$STATE/fill" bs=4k >/dev/null 2>&1 || true
rm -f "$STATE/spare"
rc=0
vmgwc vm add lab --network vmnet --mac 52:54:00:00:00:0d >"$T/out" 2>"$T/err" || rc=$?
echo "  with one page free, vm add lab exited $rc: $(head -c 300 "$T/err")"
all_or_nothing() {
  local listed=0 reserved=0
  [[ $(vmgwc -o json vm list | jq -r '.[].name') == *lab* ]] && listed=1
  [[ $(cat "$hosts") == *52:54:00:00:00:0d* ]] && reserved=1
  if ((rc == 0)); then ((listed && reserved)); else ((!listed && !reserved)); fi ||
    { echo "  exit $rc, listed $listed, in the hosts file $reserved"; return 1; }
}
assert "all or nothing with one page free (exit $rc)" all_or_nothing
if ((rc == 0)); then vmgwc vm remove lab >/dev/null; fi

# Room again.
rm -f "$STATE/fill"
assert "vm add app (a new MAC)" vmgwc vm add app --network vmnet --mac 52:54:00:00:00:0c
app_ip=$(vmgwc -o json vm list | jq -r '.[] | select(.name == "app") | .ip')
assert "app has an address ($app_ip)" test -n "$app_ip"
assert "the hosts file holds web and app, not db's MAC" not grep -qi "$LAB_DB_MAC" "$hosts"
assert "vm add db again (the disk has room)" vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --port vnet-db
db_ip=$(vmgwc -o json vm list | jq -r '.[] | select(.name == "db") | .ip')
assert "db and app have different addresses ($db_ip, $app_ip)" test "$db_ip" != "$app_ip"
vmgw_dhcp "$NS_DB" || true
assert "the guest with db's MAC gets db's address $db_ip" test "$(vmgw_ipv4_of "$NS_DB")" = "$db_ip"

vmgw_test_end
