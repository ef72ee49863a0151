#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# vmgwd follows a real libvirt daemon (docs/libvirt.md): a domain defined with vmgw metadata on
# br-vm becomes a VM owned by the domain (unplugged while it is not running); started, it is
# plugged into its tap within a second, the real qemu guest takes its address by DHCP and its
# elastic IP (from the metadata) answers from the internet; the API refuses to change it; a NIC
# hot-plugged and unplugged adds and removes a VM; stop unplugs and keeps the elastic IP;
# libvirtd restarted and a domain undefined while vmgwd was away are caught up; undefine
# releases the elastic IP.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=libvirt.sh
source "$(dirname "${BASH_SOURCE[0]}")/libvirt.sh"

vmgw_require_env jq curl
vmgw_test_begin libvirt_follow
vmgw_require_daemon
vmgw_libvirt_require
T=$VMGW_LAB/tmp
GUEST=lab1
MAC=52:54:00:00:00:31
MAC2=52:54:00:00:00:32
IP=10.10.0.31
NS_URI=https://vmgw.dev/xmlns/libvirt/1

vmgw_libvirt_paths
CONFIG=$T/daemon.yaml
{
  cat "$VMGW_DAEMON_CONFIG"
  printf 'libvirt:\n  uri: "%s"\n  networks: [vmnet]\n' "$VMGW_LIBVIRT_URI"
} >"$CONFIG"

ms() { echo "$(($(date +%s%N) / 1000000))"; }
vm_json() { vmgwc -o json vm list | jq -c --arg n "$1" '.[] | select(.name == $n)'; }
vm_field() { vm_json "$1" | jq -r ".$2 // empty"; }
has_vm() { [[ -n $(vm_json "$1") ]]; }
no_vm() { [[ -z $(vm_json "$1") ]]; }
port_is() { [[ $(vm_field "$1" port) == "$2" ]]; }
libvirt_connected() { [[ $(vmgwc -o json status | jq -r '.libvirt.connected') == true ]]; }
says() {
  local got
  got=$(ip netns exec "$1" curl -sS --max-time 5 "$2" 2>&1) || true
  [[ $got == "$3" ]] || { echo "  expected '$3', got '${got:-<no answer>}'"; return 1; }
}
# waited_ms N CHECK...: wait up to N ms for CHECK; prints how long it took.
waited_ms() {
  local limit=$1 t0
  shift
  t0=$(ms)
  until "$@" >/dev/null 2>&1; do
    (($(ms) - t0 > limit)) && { echo "timeout"; return 1; }
    sleep 0.02
  done
  echo "$(($(ms) - t0))"
}

vmgw_daemon_lab_up "$CONFIG"
vmgw_libvirt_up
assert "vmgwd connects to libvirt (it retries every second until libvirtd answers)" \
  vmgw_wait_for 10 libvirt_connected
status_says_connected() { vmgwc status | grep -E "^libvirt: +qemu\+unix.*, connected, 0 domains with VMs\$" >/dev/null; }
assert "  vmgw status says so" status_says_connected

# Defined, not running: a VM owned by the domain, unplugged, holding its address and elastic IP.
META="<vmgw><interface mac='$MAC' ip='$IP' eip-pool='public'/></vmgw>"
assert "define $GUEST" vmgw_libvirt_define "$GUEST" "$MAC"
assert "virsh metadata: vmgw's interface (address, elastic IP pool)" \
  vmgw_libvirt metadata "$GUEST" "$NS_URI" --key vmgw --config --set "$META"
assert "  vm $GUEST appears (1 s)" vmgw_wait_for 1 has_vm "$GUEST"
assert "  unplugged, $IP, from libvirt" \
  test "$(vm_json "$GUEST" | jq -r '[.port, .ip, (.libvirt_domain != null)] | join(" ")')" = " $IP true"
EIP=$(vm_field "$GUEST" elastic_ip)
assert "  an elastic IP was allocated and bound from pool public ($EIP)" test -n "$EIP"
listed_from_libvirt() { vmgwc vm list | grep -E "^$1 .* libvirt\$" >/dev/null; }
assert "  vm list says FROM libvirt" listed_from_libvirt "$GUEST"

# Started: plugged into its tap within a second; the guest gets its lease and answers on the EIP.
vmgw_libvirt start "$GUEST" >/dev/null
TAP=$(vmgw_libvirt_port "$GUEST")
took=$(waited_ms 1000 port_is "$GUEST" "$TAP") || true
assert "virsh start: vm $GUEST plugged into $TAP within 1 s (${took} ms)" test "$took" != timeout
LEASE=$(vmgw_libvirt_wait_lease "$GUEST" 45 || true)
assert "the guest takes $IP by DHCP from vmgw (got '${LEASE:-nothing}')" test "$LEASE" = "$IP"
assert "internet -> elastic IP $EIP reaches the guest" \
  says "$NS_INET" "http://$EIP/" "guest $GUEST seen-from $LAB_INET_ADDR"

# The API does not change what libvirt owns.
refused_409() {
  local rc=0
  vmgwc "$@" >"$T/out" 2>&1 || rc=$?
  if [[ $rc != 6 ]] || ! grep -q "follows libvirt domain" "$T/out"; then
    echo "  exit $rc: $(cat "$T/out")"
    return 1
  fi
}
assert "vm remove $GUEST is refused (409 -> exit 6), naming the domain" refused_409 vm remove "$GUEST"
assert "vm set $GUEST --port x is refused too" refused_409 vm set "$GUEST" --port x
assert "  vm $GUEST is still there" has_vm "$GUEST"
assert "quarantine works on it as on any VM" vmgwc vm quarantine "$GUEST"
assert "  and is lifted" vmgwc vm unquarantine "$GUEST"

# A NIC hot-plugged and unplugged.
assert "virsh attach-interface (live) $MAC2" \
  vmgw_libvirt attach-interface "$GUEST" bridge br-vm --mac "$MAC2" --model virtio --live
took=$(waited_ms 1000 has_vm "$GUEST-000032") || true
assert "  vm $GUEST-000032 added within 1 s (${took} ms)" test "$took" != timeout
assert "  plugged into its own tap" test -n "$(vm_field "$GUEST-000032" port)"
assert "virsh detach-interface (live) $MAC2" \
  vmgw_libvirt detach-interface "$GUEST" bridge --mac "$MAC2" --live
assert "  vm $GUEST-000032 removed (10 s: the guest acknowledges the unplug)" \
  vmgw_wait_for 10 no_vm "$GUEST-000032"

# Stopped: unplugged, address and elastic IP kept.
vmgw_libvirt destroy "$GUEST" >/dev/null
took=$(waited_ms 1000 port_is "$GUEST" "") || true
assert "virsh destroy: vm $GUEST unplugged within 1 s (${took} ms)" test "$took" != timeout
assert "  keeps $IP and its elastic IP $EIP" \
  test "$(vm_json "$GUEST" | jq -r '[.ip, .elastic_ip] | join(" ")')" = "$IP $EIP"

# libvirtd restarted: vmgwd reconnects and nothing changes.
gen=$(vmgw_generation)
vmgw_libvirt_down
vmgw_libvirt_up
assert "libvirtd restarted: vmgwd reconnects (10 s)" vmgw_wait_for 10 libvirt_connected
assert "  and changes nothing (generation $gen)" test "$(vmgw_generation)" = "$gen"

# vmgwd away while the domain is undefined: caught up at its start.
vmgw_daemon_stop
vmgw_libvirt undefine "$GUEST" >/dev/null
vmgw_daemon_up "$CONFIG"
assert "undefined while vmgwd was stopped: vm $GUEST gone after its start (5 s)" \
  vmgw_wait_for 5 no_vm "$GUEST"
assert "  its elastic IP released to the pool" \
  test "$(vmgwc -o json eip list | jq --arg a "$EIP" '[.[] | select(.address == $a)] | length')" = 0

# Undefine while following: a second domain comes and goes.
# lab2 is a spoofing guest: it also holds 10.10.0.99, not its address, and pings the internet
# host from both every second (tests/netns/tools/guest/init).
assert "define lab2 (no metadata; a guest that spoofs 10.10.0.99)" \
  vmgw_libvirt_define lab2 52:54:00:00:00:33 "" "vmgw.spoof=10.10.0.99 vmgw.probe=$LAB_INET_ADDR"
assert "  vm lab2 appears (1 s)" vmgw_wait_for 1 has_vm lab2
# Filters in the metadata are vmgw's: bound with the tap when the domain starts, in one change.
META2="<vmgw><interface mac='52:54:00:00:00:33'><filterref filter='clean-traffic'><parameter name='IP' value='10.10.0.40'/></filterref></interface></vmgw>"
assert "virsh metadata lab2: vmgw filters it with clean-traffic" \
  vmgw_libvirt metadata lab2 "$NS_URI" --key vmgw --config --set "$META2"
address_from_filter() { [[ $(vm_field lab2 ip) == 10.10.0.40 ]]; }
assert "  vm lab2 takes its address from the filter's IP parameter (1 s)" \
  vmgw_wait_for 1 address_from_filter
vmgw_libvirt start lab2 >/dev/null
filtered() {
  [[ $(vm_json lab2 | jq -r '[.filters[0].filter, .port] | join(" ")') == "clean-traffic vnet"* ]]
}
assert "virsh start lab2: plugged and bound to clean-traffic (1 s)" vmgw_wait_for 1 filtered
LEASE2=$(vmgw_libvirt_wait_lease lab2 45 || true)
assert "  the guest takes 10.10.0.40 by DHCP through clean-traffic (got '${LEASE2:-nothing}')" \
  test "$LEASE2" = 10.10.0.40
# The guest's last word on each source (its console, CR LF lines).
pinged() { tr -d '\r' <"$VMGW_LAB/logs/console-lab2.log" | sed -n "s/^vmgw-guest: lab2: ping from $1: //p" | tail -n 1; }
three_rounds() { (($(tr -d '\r' <"$VMGW_LAB/logs/console-lab2.log" | grep -c "ping from 10.10.0.99") >= 3)); }
assert "  the guest pinged from both addresses three times (30 s)" vmgw_wait_for 30 three_rounds
assert "  from its own address 10.10.0.40 the internet answers ($(pinged 10.10.0.40))" \
  test "$(pinged 10.10.0.40)" = ok
assert "  from the spoofed 10.10.0.99 it does not: clean-traffic drops it ($(pinged 10.10.0.99))" \
  test "$(pinged 10.10.0.99)" = lost
vmgwc filter stats lab2 >"$T/stats" 2>&1 || true
grep "no-ip-spoofing" "$T/stats" | sed "s/^/  stats: /" || true
spoof_drops=$(awk '/no-ip-spoofing rule/ { last = $3 } END { print last + 0 }' "$T/stats")
assert "  counted on no-ip-spoofing's last rule, the drop (${spoof_drops} packets)" \
  test "$spoof_drops" -ge 3
vmgw_libvirt destroy lab2 >/dev/null
vmgw_libvirt undefine lab2 >/dev/null
took=$(waited_ms 1000 no_vm lab2) || true
assert "virsh undefine lab2: vm lab2 removed within 1 s (${took} ms)" test "$took" != timeout
assert "vmgwd logged each change" grep -q "libvirt domain 'lab1': vm 'lab1': plugged into $TAP" "$VMGWD_LOG"

# libvirt's filters, read from the running daemon (virNWFilter) and defined in vmgwd.
cat >"$T/lab-web-only.xml" <<'XML'
<filter name='lab-web-only' chain='root'>
  <rule action='accept' direction='out' priority='500'><tcp dstportstart='80'/></rule>
  <rule action='drop' direction='out' priority='600'><all/></rule>
</filter>
XML
assert "virsh nwfilter-define lab-web-only" vmgw_libvirt nwfilter-define "$T/lab-web-only.xml"
import_says() {
  vmgwc filter import --libvirt "$VMGW_LIBVIRT_URI" >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
  grep -q "$1" "$T/out" || { cat "$T/out"; return 1; }
}
dumped() { vmgwc filter dumpxml lab-web-only | grep -q "dstportstart='80'"; }
assert "vmgw filter import --libvirt: lab-web-only defined" import_says "libvirt:lab-web-only"
assert "  vmgwd has it as libvirt has it" dumped
assert "  importing again: unchanged" import_says "unchanged"

# The way back: vmgwd without the libvirt section keeps the VMs as they are, and the API may
# change them again.
assert "define lab3" vmgw_libvirt_define lab3 52:54:00:00:00:34
assert "  vm lab3 appears (1 s)" vmgw_wait_for 1 has_vm lab3
vmgw_daemon_stop
vmgw_daemon_up "$VMGW_DAEMON_CONFIG"
assert "vmgwd without the libvirt section: vm lab3 is kept" has_vm lab3
assert "  vmgw status shows no libvirt line" not bash -c "ip netns exec '$NS_GW' '$VMGW_BIN' --socket '$VMGW_SOCKET' status | grep -q '^libvirt:'"
assert "  vm remove lab3 through the API works again" vmgwc vm remove lab3

vmgw_libvirt_down
vmgw_test_end
