#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# balance_by, end to end through vmgwd with two ISPs balanced 1:1 (examples/uplinks.yaml):
#   - destination: the 10 new flows a VM opens to each of 16 destinations all leave through one
#     ISP per destination (as `equalize` did), and the destinations use both ISPs;
#   - source (after a reload): each VM's 160 flows to the 16 destinations leave through one ISP;
#   - connection (the default, after a reload): one VM's 160 flows to one destination use both.
# The ISP a flow left through is the source address the internet host saw (masquerade).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=uplinks.sh
source "$(dirname "${BASH_SOURCE[0]}")/uplinks.sh"

vmgw_require_env jq
vmgw_test_begin uplinks_affinity
vmgw_require_daemon
uplinks_require_tools
config=$VMGW_LAB/tmp/uplinks.yaml
{ cat "$VMGW_SOURCE_DIR/examples/uplinks.yaml"; echo "balance_by: destination"; } >"$config"
vmgw_daemon_lab_up "$config" || vmgw_die "the daemon did not come up"
vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web >/dev/null
vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db >/dev/null
vmgw_lab_dhcp || vmgw_die "the VMs got no lease"
DESTS=()
for i in $(seq 20 35); do
  ip -n "$NS_INET" addr add "198.51.100.$i/32" dev eth0
  DESTS+=("198.51.100.$i")
done
uplinks_recv 9000 flows
LOG=$VMGW_LAB/logs/flows.log

# send NS TAG DEST COUNT: COUNT new flows (each its own source port) from NS to DEST.
send() {
  ip netns exec "$1" "$VMGW_TEST_FLOWS" send "$3" 9000 "$4" 1 "$2" 2>>"$VMGW_LAB/logs/sent.log"
}
# isps TAG: the distinct uplink addresses TAG's datagrams arrived from, one per line.
isps() { awk -v t="$1" '$4 == t { print $2 }' "$LOG" | sort -u; }
arrived() { awk -v t="$1" '$4 == t' "$LOG" | wc -l; }

# --- destination --------------------------------------------------------------------------------
for d in "${DESTS[@]}"; do send "$NS_WEB" "dst-${d##*.}" "$d" 10; done
sleep 0.3
one_isp_each=0 used=""
for d in "${DESTS[@]}"; do
  tag=dst-${d##*.}
  n=$(isps "$tag" | wc -l)
  ((n == 1 && $(arrived "$tag") == 10)) && one_isp_each=$((one_isp_each + 1))
  used+=$(isps "$tag")$'\n'
done
assert "destination: each of 16 destinations got its 10 flows through one ISP ($one_isp_each of 16)" \
  test "$one_isp_each" -eq 16
both=$(sort -u <<<"$used" | grep -c .)
assert "destination: the 16 destinations use both ISPs ($both)" test "$both" -eq 2

# --- source -------------------------------------------------------------------------------------
sed -i 's/^balance_by: destination$/balance_by: source/' "$config"
vmgw_daemon_hup
assert "reload to balance_by: source" \
  vmgw_wait_for 5 bash -c "ip netns exec '$NS_GW' cat /proc/sys/net/ipv4/fib_multipath_hash_fields | grep -qx 1"
for d in "${DESTS[@]}"; do
  send "$NS_WEB" src-web "$d" 10
  send "$NS_DB" src-db "$d" 10
done
sleep 0.3
for vm in web db; do
  assert "source: $vm's 160 flows to 16 destinations left through one ISP ($(isps "src-$vm" | tr '\n' ' '))" \
    test "$(isps "src-$vm" | wc -l)" -eq 1 -a "$(arrived "src-$vm")" -eq 160
done

# --- connection ---------------------------------------------------------------------------------
sed -i '/^balance_by: source$/d' "$config"
vmgw_daemon_hup
assert "reload to the default (connection)" \
  vmgw_wait_for 5 bash -c "ip netns exec '$NS_GW' cat /proc/sys/net/ipv4/fib_multipath_hash_policy | grep -qx 1"
send "$NS_WEB" conn "$LAB_INET_ADDR" 160
sleep 0.3
assert "connection: 160 flows to one destination use both ISPs ($(isps conn | tr '\n' ' '))" \
  test "$(isps conn | wc -l)" -eq 2

vmgw_daemon_stop
vmgw_test_end
