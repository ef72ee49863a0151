#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: what vmgw owns outside nftables, broken by another program inside the gateway
# namespace, is back within a second: an elastic IP's /32, the bridge's gateway address, a route,
# an ip rule, a nexthop, a VM's bridge port, the bridge's link state, ip_forward and the DHCP
# hosts file. Each restore is logged with its kind and counted in /metrics; vmgw's own changes
# are not; objects of other programs (an address, a route, a rule, a nexthop, a bridge) are left
# alone. Prints the measured times (docs/reliability.md quotes them).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq curl
vmgw_test_begin daemon_self_heal_host
vmgw_require_daemon
T=$VMGW_LAB/tmp
vmgw_daemon_lab_up

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
gw() { ip -n "$NS_GW" "$@"; }
reaches() {
  local got
  got=$(ip netns exec "$1" timeout 5 socat -T 3 - "TCP:$2:$3,connect-timeout=2" </dev/null 2>&1) || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}
# heals KIND: vmgw_self_heals_total{kind="KIND"} now.
heals() {
  vmgw_http GET /metrics
  awk -v k="vmgw_self_heals_total{kind=\"$1\"}" '$1 == k {print $2}' <<<"$HTTP_BODY"
}
# What vmgw owns, as `ip` lists it (sorted, so that only content counts).
addresses() { gw -4 -o addr show | awk '{print $2, $4}' | sort; }
routes() { gw -4 route show table all proto 76 | sort; }
rules() { gw -4 rule show | sort; }
nexthops() { gw nexthop show | sort; }
ports() { gw -o link show master br-vm | awk '{print $2}' | sort; }
is_up() { gw -o link show "$1" | grep -E '<([A-Z_]+,)*UP[,>]' >/dev/null; }
bridge_up() { is_up br-vm; }
forwarding() { [[ $(ip netns exec "$NS_GW" cat /proc/sys/net/ipv4/ip_forward) == 1 ]]; }
HOSTS=$VMGW_LAB/state/dhcp/vmnet.hosts

# back_within MS CHECK...: CHECK succeeds again within MS milliseconds of the break (measured
# from just before it, by BROKE_AT of `breaks`); prints the time and keeps it in $T/figures. A
# break that failed fails here: nothing was broken, so nothing was shown to heal.
back_within() {
  local limit=$1 now
  shift
  [[ $BROKE == yes ]] || { echo "  the break failed"; return 1; }
  while :; do
    now=$(date +%s%N)
    if "$@" >/dev/null 2>&1; then
      echo "  restored after $(((now - BROKE_AT) / 1000000)) ms"
      echo "$WHAT $(((now - BROKE_AT) / 1000000))" >>"$T/figures"
      return 0
    fi
    (((now - BROKE_AT) / 1000000 < limit)) || { echo "  not back after $limit ms"; return 1; }
    sleep 0.01
  done
}
same_as() { [[ $("$1") == "$2" ]]; }
# logged PATTERN: a self-heal line matching PATTERN (extended regex) was logged since the break.
# Waited for up to a second: vmgwd writes the line just after the restore the test saw.
logged_now() { tail -n "+$((LOG_AT + 1))" "$VMGWD_LOG" | grep -E "self-heal: restored $1" >/dev/null; }
logged() {
  vmgw_wait_for 1 logged_now "$1" || { echo "  no log line '$1' since the break"; return 1; }
}
moved() {
  local now
  now=$(heals "$1")
  ((now > $2)) || { echo "  vmgw_self_heals_total{kind=\"$1\"} $2 -> $now"; return 1; }
}
# breaks WHAT KIND CMD...: runs CMD (the break), remembering the time, the log's length and the
# kind's counter before it.
breaks() {
  WHAT=$1 KIND=$2
  shift 2
  BEFORE=$(heals "$KIND")
  LOG_AT=$(wc -l <"$VMGWD_LOG")
  BROKE_AT=$(date +%s%N)
  if "$@"; then BROKE=yes; else BROKE=no; fi
}

assert "vm add web on vnet-web" rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" \
  --ip "$LAB_WEB_IP" --port vnet-web
assert "eip allocate" rc_ok vmgwc eip allocate --address "$LAB_EIP_DB"
assert "eip bind to web" rc_ok vmgwc eip bind "$LAB_EIP_DB" web
vmgw_dhcp "$NS_WEB"
assert "web reaches the internet" reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from="

# Other programs' objects, next to vmgw's: none of them may be touched.
gw addr add 198.18.0.1/32 dev wan0
gw route add 10.99.0.0/16 via "$LAB_ISP_ADDR" table 500 proto static
gw rule add pref 500 from 10.99.0.0/16 lookup 500
gw nexthop add id 4242 via "$LAB_ISP_ADDR" dev wan0
gw link add br-other type bridge
sleep 1
assert "vmgw's own changes and the other programs' objects are not healed" \
  not grep -q "self-heal" "$VMGWD_LOG"
ADDRS=$(addresses) ROUTES=$(routes) RULES=$(rules) NEXTHOPS=$(nexthops) PORTS=$(ports)
HOSTS_CONTENT=$(cat "$HOSTS")
assert "the hosts file holds web's reservation" grep -q "$LAB_WEB_MAC,$LAB_WEB_IP" "$HOSTS"
for kind in address route rule nexthop bridge_port link sysctl hosts_file; do
  assert "vmgw_self_heals_total{kind=\"$kind\"} is 0" [ "$(heals $kind)" = 0 ]
done

breaks "elastic IP /32" address gw addr del "$LAB_EIP_DB/32" dev wan0
assert "elastic IP $LAB_EIP_DB/32 deleted: back within 1 s" back_within 1000 same_as addresses "$ADDRS"
assert "  logged" logged "address: add address $LAB_EIP_DB/32 on wan0 \(noticed: address $LAB_EIP_DB/32 on wan0 removed"
assert "  counted" moved address "$BEFORE"

breaks "bridge gateway address" address gw addr del 10.10.0.1/24 dev br-vm
assert "br-vm's 10.10.0.1/24 deleted: back within 1 s" back_within 1000 same_as addresses "$ADDRS"
assert "  logged" logged "address: add address 10.10.0.1/24 on br-vm"
assert "  counted" moved address "$BEFORE"

# The uplink's own address: the kernel takes its secondaries (the elastic IP) and its subnet's
# route along; vmgw puts back the addresses, and whatever routing went with them.
breaks "uplink address" address gw addr del "$LAB_UPLINK_ADDR/24" dev wan0
uplink_whole() {
  [[ $(addresses) == "$ADDRS" && $(routes) == "$ROUTES" && $(nexthops) == "$NEXTHOPS" ]]
}
assert "wan0's $LAB_UPLINK_ADDR/24 deleted: back within 1 s, with the elastic IP and the routing" \
  back_within 1000 uplink_whole
assert "  logged" logged "address: add address $LAB_UPLINK_ADDR/24 on wan0"
assert "  counted" moved address "$BEFORE"
assert "  web reaches the internet again" reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from="

# A default route of vmgw's, by its key (table, metric): `ip` refuses its "nhid" in a deletion.
route=$(routes | grep '^default' | head -n 1)
table=$(sed -n 's/.* table \([^ ]*\).*/\1/p' <<<"$route")
metric=$(sed -n 's/.* metric \([^ ]*\).*/\1/p' <<<"$route")
del_route() { gw route del default table "${table:-main}" metric "${metric:-0}" proto 76; }
breaks "route" route del_route
assert "route '$route' deleted: back within 1 s" back_within 1000 same_as routes "$ROUTES"
assert "  logged" logged "route: route "
assert "  counted" moved route "$BEFORE"

pref=$(gw -4 rule show | awk -F: '/proto 76/ {print $1; exit}')
breaks "ip rule" rule gw rule del pref "$pref"
assert "ip rule $pref deleted: back within 1 s" back_within 1000 same_as rules "$RULES"
assert "  logged" logged "rule: rule $pref: "
assert "  counted" moved rule "$BEFORE"

nh=$(gw nexthop show | awk '/proto 76/ && /via/ {print $2; exit}')
breaks "nexthop" nexthop gw nexthop del id "$nh"
assert "nexthop $nh deleted: back within 1 s (with its groups and routes)" \
  back_within 1000 bash -c "[[ \"\$(ip -n $NS_GW nexthop show | sort)\" == \"$NEXTHOPS\" && \
    \"\$(ip -n $NS_GW -4 route show table all proto 76 | sort)\" == \"$ROUTES\" ]]"
assert "  logged" logged "nexthop: nexthop id $nh "
assert "  counted" moved nexthop "$BEFORE"

breaks "bridge port" bridge_port gw link set vnet-web nomaster
assert "vnet-web unplugged from br-vm: back within 1 s" back_within 1000 same_as ports "$PORTS"
assert "  logged" logged "bridge_port: plug vnet-web into br-vm \(noticed: link vnet-web up, in no bridge"
assert "  counted" moved bridge_port "$BEFORE"

breaks "bridge down" link gw link set br-vm down
assert "br-vm set down: up again within 1 s" back_within 1000 bridge_up
assert "  logged" logged "link: set br-vm up \(noticed: link br-vm down"
assert "  counted" moved link "$BEFORE"
# Down, the bridge lost its connected route; up again, the kernel brings it back.
assert "  br-vm's subnet is routed again" vmgw_wait_for 2 bash -c "ip -n $NS_GW route show 10.10.0.0/24 | grep -q br-vm"

breaks "ip_forward=0" sysctl ip netns exec "$NS_GW" sysctl -qw net.ipv4.ip_forward=0
assert "ip_forward=0: back to 1 within 1 s" back_within 1000 forwarding
assert "  logged" logged "sysctl: net.ipv4.ip_forward = 1 \(noticed: IPv4 forwarding settings changed\)"
assert "  counted" moved sysctl "$BEFORE"

# A sysctl without a notification: read twice a second.
hash_policy() { [[ $(ip netns exec "$NS_GW" cat /proc/sys/net/ipv4/fib_multipath_hash_policy) == 1 ]]; }
breaks "fib_multipath_hash_policy=0" sysctl ip netns exec "$NS_GW" sysctl -qw net.ipv4.fib_multipath_hash_policy=0
assert "fib_multipath_hash_policy=0: back to 1 within 1 s" back_within 1000 hash_policy
assert "  logged" logged "sysctl: net.ipv4.fib_multipath_hash_policy = 1 \(noticed: the check twice a second\)"
assert "  counted" moved sysctl "$BEFORE"

breaks "hosts file deleted" hosts_file rm -f "$HOSTS"
assert "vmnet's hosts file deleted: back within 1 s" \
  back_within 1000 bash -c "[[ \"\$(cat $HOSTS)\" == \"$HOSTS_CONTENT\" ]]"
assert "  logged" logged "hosts_file: the DHCP reservations of network vmnet \(noticed: vmnet.hosts deleted"
assert "  counted" moved hosts_file "$BEFORE"
overwrite() { echo junk >"$HOSTS"; }
breaks "hosts file overwritten" hosts_file overwrite
assert "vmnet's hosts file overwritten: back within 1 s" \
  back_within 1000 bash -c "[[ \"\$(cat $HOSTS)\" == \"$HOSTS_CONTENT\" ]]"
assert "  logged" logged "hosts_file: the DHCP reservations of network vmnet \(noticed: vmnet.hosts written"
assert "  counted" moved hosts_file "$BEFORE"

breaks "bridge deleted" link gw link del br-vm
bridge_whole() { bridge_up && [[ $(ports) == "$PORTS" && $(addresses) == "$ADDRS" ]]; }
assert "br-vm deleted: back within 1 s, up, with its port and its address" back_within 1000 bridge_whole
assert "  logged" logged "link: create bridge br-vm \(noticed: "
assert "  counted" moved link "$BEFORE"

# Everything at once (a burst, which the quiet moment makes one re-diff as a rule).
burst() {
  gw addr del "$LAB_EIP_DB/32" dev wan0 && gw link set vnet-web nomaster &&
    gw rule del pref "$pref" && del_route
}
breaks "burst of 4" address burst
assert "a burst of four breaks: all back within 1 s" back_within 1000 bash -c \
  "[[ \"\$(ip -n $NS_GW -4 -o addr show | awk '{print \$2, \$4}' | sort)\" == \"$ADDRS\" && \
     \"\$(ip -n $NS_GW -o link show master br-vm | awk '{print \$2}')\" == \"$PORTS\" && \
     \"\$(ip -n $NS_GW -4 rule show | sort)\" == \"$RULES\" && \
     \"\$(ip -n $NS_GW -4 route show table all proto 76 | sort)\" == \"$ROUTES\" ]]"

assert "the other program's address is untouched" bash -c "ip -n $NS_GW -4 addr show dev wan0 | grep -q 198.18.0.1/32"
assert "  its route" bash -c "ip -n $NS_GW route show table 500 | grep -q 10.99.0.0/16"
assert "  its rule" bash -c "ip -n $NS_GW rule show | grep -q '^500:'"
assert "  its nexthop" bash -c "ip -n $NS_GW nexthop show id 4242 | grep -q 4242"
assert "  its bridge stays down" not is_up br-other
assert "web reaches the internet after all of it" reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from="
assert "the daemon's status still answers" rc_ok vmgwc status
assert "no heal was refused" not grep -q "self-heal failed" "$VMGWD_LOG"
echo "figures (ms):"
sed 's/^/  /' "$T/figures"

vmgw_test_end
