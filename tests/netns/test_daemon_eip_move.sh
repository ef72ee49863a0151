#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: moving an elastic IP between two running VMs through the daemon.
#   * web and db are added through the API with their lab MACs and get their reserved addresses
#     by DHCP from the daemon's dnsmasq;
#   * binding announces the EIP with a gratuitous ARP: the ISP's (stale, wrong) neighbour entry
#     for it takes the gateway's wan0 MAC at once, on bind and again on the move;
#   * a long-lived TCP connection from the internet to EIP:9000 streams lines from web;
#   * "vmgw eip bind EIP db" moves it in one call: new connections reach db, and the old
#     connection gets nothing more from web (its conntrack entries were deleted, so it is not
#     kept alive by the old DNAT).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq conntrack
vmgw_test_begin daemon_eip_move
vmgw_require_daemon

T=$VMGW_LAB/tmp
STREAM_PORT=9000

vmgw_daemon_lab_up

# Each VM streams its name on tcp/9000, a line every 0.2 s, until the peer goes away.
for vm in web db; do
  ns=$NS_WEB; [[ $vm == db ]] && ns=$NS_DB
  # shellcheck disable=SC2016  # $i is the server shell's
  vmgw_bg "$ns" "$vm-stream" socat TCP-LISTEN:$STREAM_PORT,fork,reuseaddr \
    SYSTEM:"i=0; while echo $vm \$i; do i=\$((i + 1)); sleep 0.2; done"
  vmgw_wait_for 5 vmgw_listening "$ns" "$STREAM_PORT" || vmgw_die "stream server in $vm did not start"
done

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
assert "vm add web (lab MAC, reserved IP, port vnet-web)" \
  rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
assert "vm add db (lab MAC, reserved IP, port vnet-db)" \
  rc_ok vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db

vmgw_lab_dhcp || true
assert "web gets its reserved $LAB_WEB_IP by DHCP from the daemon's dnsmasq" \
  test "$(vmgw_ipv4_of "$NS_WEB")" = "$LAB_WEB_IP"
assert "db gets its reserved $LAB_DB_IP by DHCP from the daemon's dnsmasq" \
  test "$(vmgw_ipv4_of "$NS_DB")" = "$LAB_DB_IP"

EIP=$(vmgwc -o json eip allocate | jq -r .address)
assert "eip allocate: $EIP" test -n "$EIP"

# Gratuitous ARP. The ISP holds a stale entry with a wrong MAC (as after the address lived
# elsewhere); only an announcement from the gateway replaces it before any traffic flows.
WAN_MAC=$(ip -n "$NS_GW" -j link show wan0 | jq -r '.[0].address')
BOGUS_MAC=02:00:00:00:00:99
isp_neigh_mac() { ip -n "$NS_ISP" neigh show "$EIP" dev eth0 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'; }
isp_has_wan_mac() { [[ $(isp_neigh_mac) == "$WAN_MAC" ]]; }
ip -n "$NS_ISP" neigh replace "$EIP" lladdr "$BOGUS_MAC" dev eth0 nud stale
assert "before bind: the ISP's entry for $EIP is the wrong $BOGUS_MAC" test "$(isp_neigh_mac)" = "$BOGUS_MAC"

assert "eip bind $EIP web" rc_ok vmgwc eip bind "$EIP" web
show_neigh() { vmgw_wait_for 1 isp_has_wan_mac || { echo "  ISP: $(ip -n "$NS_ISP" neigh show "$EIP")"; return 1; }; }
assert "right after bind: the ISP's entry for $EIP has the gateway's wan0 MAC $WAN_MAC" show_neigh
has_eip_addr() { ip -n "$NS_GW" -4 -o addr show dev wan0 | grep " inet $EIP/32 " >/dev/null; }
assert "wan0 has $EIP/32" has_eip_addr

reaches() {  # reaches NS ADDR PORT EXPECTED
  local got
  got=$(vmgw_client "$1" "$2" "$3") || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}
assert "internet -> $EIP:80 reaches web" reaches "$NS_INET" "$EIP" 80 "hello from web"
assert "web -> internet leaves with source $EIP" reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from=$EIP"

# The long-lived connection, from the internet to EIP:9000 (bounded: 40 s at most).
old=$T/old-stream
ip netns exec "$NS_INET" timeout 40 socat -u "TCP:$EIP:$STREAM_PORT,connect-timeout=3" STDOUT \
  >"$old" 2>"$T/old-stream.err" &
old_pid=$!
lines_from() { grep -c "^$1 " "$2" 2>/dev/null || true; }
streaming() { (($(lines_from web "$old") >= 5)); }
assert "the long-lived connection streams from web" vmgw_wait_for 5 streaming

# The move: one call.
gen_before=$(vmgw_generation)
ip -n "$NS_ISP" neigh replace "$EIP" lladdr "$BOGUS_MAC" dev eth0 nud stale
assert "eip bind $EIP db (the move, one call)" rc_ok vmgwc -o json eip bind "$EIP" db
moved_at=$SECONDS
assert "  ...answers vm=db" test "$(jq -r .vm "$T/out")" = db
assert "  ...one change: generation +1" test "$(vmgw_generation)" = $((gen_before + 1))
assert "right after the move: the ISP's entry for $EIP has wan0's MAC again (new gratuitous ARP)" show_neigh
assert "new connections to $EIP:80 reach db" reaches "$NS_INET" "$EIP" 80 "hello from db"
new=$T/new-stream
ip netns exec "$NS_INET" timeout 10 socat -u "TCP:$EIP:$STREAM_PORT,connect-timeout=3" STDOUT \
  >"$new" 2>/dev/null &
new_pid=$!
new_streaming() { (($(lines_from db "$new") >= 3)); }
assert "a new long-lived connection to $EIP:$STREAM_PORT streams from db" vmgw_wait_for 5 new_streaming
assert "  ...and nothing from web" test "$(lines_from web "$new")" = 0
kill "$new_pid" 2>/dev/null || true
assert "db -> internet leaves with source $EIP" reaches "$NS_DB" "$LAB_INET_ADDR" 80 "seen-from=$EIP"
assert "web -> internet leaves with the uplink's $LAB_UPLINK_ADDR" \
  reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from=$LAB_UPLINK_ADDR"

# The old connection: 2 s of grace after the move, then 2 s in which web must send nothing more.
sleep $((moved_at + 2 - SECONDS > 0 ? moved_at + 2 - SECONDS : 0))
n1=$(lines_from web "$old")
sleep 2
n2=$(lines_from web "$old")
assert "the old connection gets no more lines from web 2 s after the move ($n1 then $n2)" test "$n1" = "$n2"
if kill -0 "$old_pid" 2>/dev/null; then
  echo "  (the old connection is still open but silent)"
  kill "$old_pid" 2>/dev/null || true
else
  echo "  (the old connection broke: $(tr '\n' ' ' <"$T/old-stream.err"))"
fi
assert "  ...and never got a line from db" test "$(lines_from db "$old")" = 0
stale_ct() {
  local n
  n=$(ip netns exec "$NS_GW" conntrack -L -d "$EIP" -r "$LAB_WEB_IP" 2>/dev/null | grep -c . || true)
  [[ $n == 0 ]] || { ip netns exec "$NS_GW" conntrack -L -d "$EIP" -r "$LAB_WEB_IP" 2>/dev/null; return 1; }
}
assert "conntrack holds no entry $EIP -> web ($LAB_WEB_IP)" stale_ct
deleted=$(vmgwc -o json status >/dev/null; vmgw_http GET /metrics; awk '$1 == "vmgw_conntrack_deleted_total" {print $2}' <<<"$HTTP_BODY")
assert "vmgw_conntrack_deleted_total > 0 (got ${deleted:-none})" test "${deleted:-0}" -gt 0 2>/dev/null
assert "wan0 still has $EIP/32" has_eip_addr

wait 2>/dev/null || true
vmgw_test_end
