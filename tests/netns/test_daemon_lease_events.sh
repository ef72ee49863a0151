#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: lease events are checked and bounded. A real guest's DHCP exchange is recorded
# (real dnsmasq, its hook, vmgwd); events that a guest or a local caller could forge -- a 900 KB
# hostname, terminal escapes, an unknown network, a time far ahead -- are refused with the field
# named; and the log keeps at most `lease_events.keep` events however many come.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin daemon_lease_events
vmgw_require_daemon
T=$VMGW_LAB/tmp
mkdir -p "$T"
config=$T/daemon.yaml
{ cat "$VMGW_DAEMON_CONFIG"; printf 'lease_events:\n  keep: 10\n'; } >"$config"
vmgw_daemon_lab_up "$config"

assert "vm add web" vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
vmgw_dhcp "$NS_WEB" || true
events() { vmgwc -o json leases | jq -r '.events'; }
recorded() { [[ $(events | jq -r '.[] | select(.mac == "'"$LAB_WEB_MAC"'") | .ip') == *"$LAB_WEB_IP"* ]]; }
assert "the guest's DHCP exchange is recorded" vmgw_wait_for 5 recorded

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
event() {  # event FIELD VALUE: a valid event with FIELD set to VALUE (JSON string)
  jq -cn --arg now "$now" --arg mac "$LAB_WEB_MAC" --arg ip "$LAB_WEB_IP" --argjson v "$2" \
    '{time: $now, network: "vmnet", action: "add", mac: $mac, ip: $ip, hostname: "web"} | .'"$1"' = $v'
}
refused() {  # refused FIELD VALUE
  vmgw_http POST /v1/leases/events "$(event "$1" "$2")"
  [[ $HTTP_STATUS == 400 && $(jq -r .error.field <<<"$HTTP_BODY") == "$1" ]] ||
    { echo "  got $HTTP_STATUS: ${HTTP_BODY:0:200}"; return 1; }
}
# (900 KB is past the limit of one command-line argument: the body is built in a file.)
huge_hostname() {
  { printf '{"time":"%s","network":"vmnet","action":"add","mac":"%s","ip":"%s","hostname":"' \
      "$now" "$LAB_WEB_MAC" "$LAB_WEB_IP"
    head -c 921600 /dev/zero | tr '\0' a
    printf '"}'; } >"$T/huge.json"
  local code
  code=$(curl -sS --max-time 15 --unix-socket "$VMGW_SOCKET" -X POST -o "$T/huge.out" \
    -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$T/huge.json" \
    http://vmgw/v1/leases/events) || true
  [[ $code == 400 && $(jq -r .error.field "$T/huge.out") == hostname ]] ||
    { echo "  got $code: $(head -c 200 "$T/huge.out")"; return 1; }
}
assert "a 900 KB hostname is refused (hostname)" huge_hostname
assert "a hostname with terminal escapes is refused" refused hostname '"evil\u001b[2Jname"'
assert "an unknown network is refused" refused network '"nosuchnet"'
assert "a network without DHCP is refused" refused network '"lan"'
assert "a time a year ahead is refused" refused time '"2099-01-01T00:00:00Z"'
before=$(events | jq length)

# Forty more events: the log keeps the newest ten.
for i in $(seq 1 40); do
  vmgw_http POST /v1/leases/events "$(event hostname "\"guest-$i\"")"
  [[ $HTTP_STATUS == 201 ]] || { echo "  event $i: $HTTP_STATUS $HTTP_BODY"; break; }
done
count=$(events | jq length)
assert "after $before + 40 events the log holds at most 10 + 10 (holds $count)" test "$count" -le 20
newest() { [[ $(events | jq -r '.[-1].hostname') == guest-40 ]]; }
assert "the newest event is kept" newest
pruned_db() { [[ $(sqlite3 "$VMGW_DB" 'SELECT count(*) FROM lease_events') -le 20 ]]; }
if command -v sqlite3 >/dev/null; then assert "the database holds at most 20 events" pruned_db; fi

vmgw_test_end
