#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: a VM bound to the built-in clean-traffic filter (libvirt's anti-spoofing filter)
# through the daemon. Its normal traffic and DHCP work; a spoofed source IP, a spoofed source
# MAC and a forged ARP reply (claiming another VM's address) are dropped in the bridge, and the
# per-rule counters say which rule dropped them. The other VM, without filters, is unaffected.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin filter_clean_traffic
vmgw_require_daemon
T=$VMGW_LAB/tmp
vmgw_daemon_lab_up

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
reaches() {  # reaches NS ADDR PORT EXPECTED [SOCAT-OPTIONS]
  local got
  got=$(ip netns exec "$1" timeout 5 socat -T 3 - "TCP:$2:$3,connect-timeout=3${5:+,$5}" </dev/null 2>&1) || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}
no_answer() { ! reaches "$@" >/dev/null; }
# The counter of the last rule (the drop, by priority) of the VM's filters whose origin contains TEXT (layer, dir).
counter() {
  vmgwc -o json filter stats web | jq -r --arg r "$1" --arg d "$2" \
    '[.[] | select(.direction == $d and (.rule | contains($r)))] | last | .packets // 0'
}
grew() { local now; now=$(counter "$1" "$2"); ((now > $3)) || { echo "  $1 ($2): $3 -> $now"; return 1; }; }

assert "vm add web --filter clean-traffic" \
  rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web \
  --filter clean-traffic
assert "vm add db (no filters)" \
  rc_ok vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db
assert "DHCP still works for web (clean-traffic lets DHCP out)" vmgw_dhcp "$NS_WEB"
assert "DHCP works for db" vmgw_dhcp "$NS_DB"
assert "web reaches the internet" reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from=$LAB_UPLINK_ADDR"
assert "web reaches db (bridged)" reaches "$NS_WEB" "$LAB_DB_IP" 80 "hello from db"
assert "db reaches web" reaches "$NS_DB" "$LAB_WEB_IP" 80 "hello from web"

# Spoofed source IP: web sends with an address that is not its own.
ip -n "$NS_WEB" addr add 10.10.0.99/24 dev eth0
before=$(counter "no-ip-spoofing" out)
assert "a spoofed source IP does not get through" \
  no_answer "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from" "bind=10.10.0.99"
assert "no-ip-spoofing's drop counted it" grew "no-ip-spoofing" out "$before"
ip -n "$NS_WEB" addr del 10.10.0.99/24 dev eth0

# Spoofed source MAC: web changes its MAC.
before=$(counter "no-mac-spoofing" out)
ip -n "$NS_WEB" link set eth0 address 52:54:00:00:00:99
ip -n "$NS_WEB" neigh flush dev eth0
assert "a spoofed source MAC does not get through" no_answer "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from"
assert "no-mac-spoofing's drop counted it" grew "no-mac-spoofing" out "$before"
ip -n "$NS_WEB" link set eth0 address "$LAB_WEB_MAC"
assert "with its own MAC back, web reaches the internet again" \
  reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from="

# Forged ARP: web announces db's address as its own (gratuitous ARP from web's MAC).
gw_neigh() { ip -n "$NS_GW" neigh show "$LAB_DB_IP" dev br-vm | awk '{print $3}'; }
ip netns exec "$NS_GW" busybox ping -c1 -W1 "$LAB_DB_IP" >/dev/null 2>&1 || true
before=$(counter "no-arp" out)
ip -n "$NS_WEB" addr add "$LAB_DB_IP/32" dev eth0
ip netns exec "$NS_WEB" busybox arping -U -c 3 -w 2 -I eth0 -s "$LAB_DB_IP" "$LAB_DB_IP" >/dev/null 2>&1 || true
ip netns exec "$NS_WEB" busybox arping -A -c 3 -w 2 -I eth0 -s "$LAB_DB_IP" "$LAB_DB_IP" >/dev/null 2>&1 || true
ip -n "$NS_WEB" addr del "$LAB_DB_IP/32" dev eth0
assert "the forged ARP was dropped (no-arp-spoofing counted it)" grew "no-arp" out "$before"
assert "the gateway still maps db's address to db's MAC" \
  bash -c "[[ \$(ip -n $NS_GW neigh show $LAB_DB_IP dev br-vm | awk '{print \$3}') != $LAB_WEB_MAC ]]"
assert "db still answers through the gateway" reaches "$NS_WEB" "$LAB_DB_IP" 80 "hello from db"

vmgw_test_end
