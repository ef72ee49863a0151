#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: quarantine one VM in one command. All its traffic stops (new connections both
# ways, and an established one, whose conntrack entry is deleted), except to and from the
# management source; the event is in the daemon's log and the drops in `vmgw log`. The other
# VM is untouched. Unquarantine restores everything; the quarantine survives a daemon restart.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin filter_quarantine
vmgw_require_daemon
T=$VMGW_LAB/tmp
vmgw_daemon_lab_up

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
out_has() { grep -F -- "$1" "$T/out" >/dev/null || { echo "  no '$1' in: $(cat "$T/out")"; return 1; }; }
reaches() {
  local got
  got=$(ip netns exec "$1" timeout 5 socat -T 3 - "TCP:$2:$3,connect-timeout=2" </dev/null 2>&1) || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}
no_answer() {  # no_answer NS ADDR PORT: the connection gets no data at all
  local got
  got=$(ip netns exec "$1" timeout 5 socat -T 3 - "TCP:$2:$3,connect-timeout=2" </dev/null 2>/dev/null) || true
  [[ -z $got ]] || { echo "  answered: $got"; return 1; }
}

assert "vm add web" rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
assert "vm add db" rc_ok vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db
vmgw_dhcp "$NS_WEB"; vmgw_dhcp "$NS_DB"
vmgw_bg "$NS_INET" sink socat -u TCP-LISTEN:7000,reuseaddr OPEN:"$T/got-7000",creat,append
vmgw_wait_for 5 vmgw_listening "$NS_INET" 7000

# An established flow from web to the internet, one line every 50 ms.
ip netns exec "$NS_WEB" bash -c "for i in \$(seq 1 200); do echo line-\$i; sleep 0.05; done | socat -u - TCP:$LAB_INET_ADDR:7000" >/dev/null 2>&1 &
sleep 1.5
assert "web's long flow delivers before the quarantine" bash -c "(( \$(wc -l <$T/got-7000) > 10 ))"

assert "vmgw vm quarantine web --allow-from the LAN" \
  rc_ok vmgwc vm quarantine web --allow-from 192.168.50.0/24
assert "  it reports the flows it cut" out_has "vm web quarantined"
cut_at=$(wc -l <"$T/got-7000")
sleep 1.5
assert "web's established flow stopped" bash -c "(( \$(wc -l <$T/got-7000) <= $cut_at + 2 ))"
assert "web cannot open connections to the internet" no_answer "$NS_WEB" "$LAB_INET_ADDR" 80
assert "db cannot reach web" no_answer "$NS_DB" "$LAB_WEB_IP" 80
assert "web cannot reach db" no_answer "$NS_WEB" "$LAB_DB_IP" 80
ip -n "$NS_WEB" addr add 10.10.0.99/24 dev eth0
assert "web cannot sidestep it by sending from another address" \
  not bash -c "ip netns exec $NS_WEB timeout 5 socat -T 3 - TCP:$LAB_DB_IP:80,connect-timeout=2,bind=10.10.0.99 </dev/null 2>/dev/null | grep -q hello"
ip -n "$NS_WEB" addr del 10.10.0.99/24 dev eth0
assert "the management source (LAN) still reaches web" reaches "$NS_LAN" "$LAB_WEB_IP" 80 "hello from web"
assert "db is not affected" reaches "$NS_DB" "$LAB_INET_ADDR" 80 "seen-from="
assert "the daemon logged the event" grep -E "quarantined vm web \(management: 192.168.50.0/24\); [0-9]+ flows cut" "$VMGWD_LOG"
sleep 0.5
assert "vmgw log --vm web shows the quarantine drops" rc_ok vmgwc log --vm web
assert "  by the rule 'quarantine'" out_has "rule='quarantine'"
assert "vm show web says quarantined" rc_ok vmgwc -o json vm show web
assert "  with its management source" out_has "192.168.50.0/24"

assert "the quarantine survives a daemon restart" vmgw_daemon_stop
vmgw_daemon_up
assert "  web still cannot reach the internet" no_answer "$NS_WEB" "$LAB_INET_ADDR" 80

assert "vmgw vm unquarantine web" rc_ok vmgwc vm unquarantine web
assert "web reaches the internet again" reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from="
assert "db reaches web again" reaches "$NS_DB" "$LAB_WEB_IP" 80 "hello from web"

vmgw_test_end
