#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: vmgwd supervises its dnsmasq. Killed, it is started again within a few seconds
# (the supervisor ticks every second, with backoff for a server that cannot start), DHCP works
# again, and status and metrics say so. Adding a VM afterwards reloads the new dnsmasq (SIGHUP,
# same pid), it does not restart it, and the new dnsmasq really re-reads its hosts file (it
# inherits no blocked signals from the daemon).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin daemon_dhcp_supervision
vmgw_require_daemon

PIDFILE=$VMGW_LAB/run/dnsmasq-vmnet.pid
vmgw_daemon_lab_up

dnsmasq_pid() { cat "$PIDFILE" 2>/dev/null; }
alive() { local p; p=$(dnsmasq_pid) && [[ -n $p ]] && kill -0 "$p" 2>/dev/null; }
assert "dnsmasq for vmnet runs after start" alive
first=$(dnsmasq_pid)

kill -9 "$first"
sleep 0.2
restarted() { alive && [[ $(dnsmasq_pid) != "$first" ]]; }
assert "a killed dnsmasq is started again within 5 s" vmgw_wait_for 5 restarted
second=$(dnsmasq_pid)

status_running() { [[ $(vmgwc -o json status | jq -r .dhcp.vmnet) == running ]]; }
assert "vmgw status shows dhcp vmnet running" status_running
restarts_counted() {
  vmgw_http GET /metrics
  grep -Eq '^vmgw_dhcp_restarts_total [1-9]' <<<"$HTTP_BODY" &&
    grep -q '^vmgw_dhcp_up{network="vmnet"} 1' <<<"$HTTP_BODY"
}
assert "metrics count the restart and show the server up" restarts_counted
logged() { grep -q "dnsmasq for network vmnet was not running; started it again" "$VMGWD_LOG"; }
assert "the daemon log says it restarted dnsmasq" logged

# The restarted server serves reservations; a new VM is a reload, not a restart.
assert "vm add web" vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
same_pid() { [[ $(dnsmasq_pid) == "$second" ]]; }
assert "adding a VM keeps the same dnsmasq (SIGHUP, no restart)" same_pid
got_lease() { ip netns exec "$NS_WEB" busybox udhcpc -i eth0 -n -q -t 5 -T 1 -s "$(vmgw_udhcpc_script)" >/dev/null 2>&1 &&
  ip -n "$NS_WEB" -4 -o addr show dev eth0 | grep -q " $LAB_WEB_IP/"; }
assert "web gets its reservation $LAB_WEB_IP from the restarted dnsmasq" got_lease

vmgw_test_end
