#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: vmgwd's API contract, resource by resource, through the CLI (-o json, exit codes)
# and raw HTTP with curl on the Unix socket (status, JSON error body, the field named) for what
# the CLI cannot send. Every successful change must raise the generation by exactly one, every
# refused one must leave it alone.
#
# CLI exit codes: 0 ok, 1 invalid (400), 2 server/kernel error (5xx), 3 cannot reach the daemon,
# 5 not found (404), 6 conflict (409).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env curl jq
vmgw_test_begin daemon_api
vmgw_require_daemon

vmgw_daemon_lab_up
T=$VMGW_LAB/tmp

# cli ARGS...: "vmgw -o json ARGS" against the lab's daemon; sets RC, OUT (stdout), ERR (stderr).
cli() {
  RC=0
  vmgwc -o json "$@" >"$T/cli.out" 2>"$T/cli.err" || RC=$?
  OUT=$(cat "$T/cli.out")
  ERR=$(cat "$T/cli.err")
}

# out_is FILTER VALUE: jq -r FILTER of the last CLI stdout is VALUE.
out_is() {
  local got
  got=$(vmgw_json_get "$OUT" "$1")
  [[ $got == "$2" ]] || { echo "  $1: expected '$2', got '$got' (stdout: $OUT; stderr: $ERR)"; return 1; }
}
rc_is() { [[ $RC == "$1" ]] || { echo "  exit $RC, expected $1 (stdout: $OUT; stderr: $ERR)"; return 1; }; }
# err_names FIELD: the CLI's stderr names FIELD ("error: FIELD: reason", or "...FIELD: reason"
# when the daemon qualifies the field, e.g. "vm 'x'.ip").
err_names() { grep -E "^error: (.*[.])?$1: " <<<"$ERR" >/dev/null || { echo "  stderr: $ERR"; return 1; }; }

# The generation: +1 per successful change, unchanged on a refusal.
GEN=$(vmgw_generation)
gen_is() {
  local g
  g=$(vmgw_generation)
  [[ $g == "$1" ]] || { echo "  generation is '$g', expected $1"; return 1; }
}
changed() { GEN=$((GEN + 1)); assert "  ...generation +1 = $GEN" gen_is "$GEN"; }
unchanged() { assert "  ...generation still $GEN" gen_is "$GEN"; }

# ok WHAT ARGS...: the CLI call succeeds (exit 0) and the generation goes up by one.
ok() {
  local what=$1; shift
  cli "$@"
  assert "$what: exit 0" rc_is 0
  changed
}

# refused WHAT EXIT FIELD ARGS...: the CLI call exits EXIT, names FIELD on stderr (unless FIELD
# is "-"), prints nothing on stdout, and the generation stays.
refused() {
  local what=$1 code=$2 field=$3; shift 3
  cli "$@"
  assert "$what: exit $code" rc_is "$code"
  [[ $field == - ]] || assert "$what: stderr names field '$field'" err_names "$field"
  assert "$what: nothing on stdout" test -z "$OUT"
  unchanged
}

# http_field FIELD: the last HTTP error body names FIELD (error.field or one of
# error.errors[].field; "x.FIELD" counts, the daemon may qualify it).
http_field() {
  jq -e --arg f "$1" '[.error.field] + [.error.errors[]?.field] | any(. == $f or endswith("." + $f))' \
    <<<"$HTTP_BODY" >/dev/null 2>&1 || { echo "  body: $HTTP_BODY"; return 1; }
}
http_status_is() { [[ $HTTP_STATUS == "$1" ]] || { echo "  HTTP $HTTP_STATUS, expected $1: $HTTP_BODY"; return 1; }; }
http_json_status() {
  [[ $(vmgw_json_get "$HTTP_BODY" .error.status) == "$1" ]] || { echo "  body: $HTTP_BODY"; return 1; }
}

# http_refused WHAT STATUS FIELD METHOD PATH [BODY]: raw request refused with STATUS, a JSON
# error body {"error": {"status": STATUS, "field": ...}} naming FIELD ("-": any), generation kept.
http_refused() {
  local what=$1 status=$2 field=$3; shift 3
  vmgw_http "$@"
  assert "$what: HTTP $status" http_status_is "$status"
  assert "$what: JSON error.status $status" http_json_status "$status"
  [[ $field == - ]] || assert "$what: error names field '$field'" http_field "$field"
  unchanged
}

assert "generation starts at 0 on an empty database" test "$GEN" = 0

echo "# socket"
sock_mode() { [[ $(stat -c %A "$VMGW_SOCKET") == srw-rw---- ]] || { stat -c %A "$VMGW_SOCKET"; return 1; }; }
assert "API socket mode is srw-rw----" sock_mode
RC=0; ip netns exec "$NS_GW" timeout 10 "$VMGW_BIN" --socket "$VMGW_LAB/run/none.sock" status \
  >/dev/null 2>&1 || RC=$?
OUT="" ERR=""
assert "CLI against a socket nobody listens on: exit 3" rc_is 3

echo "# vms"
ok "vm add web" vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
assert "vm add web: name" out_is .name web
assert "vm add web: ip" out_is .ip "$LAB_WEB_IP"
assert "vm add web: mac" out_is .mac "$LAB_WEB_MAC"
assert "vm add web: network" out_is .network vmnet
assert "vm add web: port" out_is .port vnet-web
ok "vm add db" vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db
ok "vm add auto (no --ip)" vm add auto --network vmnet --mac 52:54:00:00:00:21
assert "vm add auto: the first free address of the subnet (10.10.0.2)" out_is .ip 10.10.0.2
cli vm list
assert "vm list: exit 0" rc_is 0
assert "vm list: auto, db, web" out_is '[.[].name] | sort | join(",")' auto,db,web
cli vm show web
assert "vm show web: exit 0" rc_is 0
assert "vm show web: ip" out_is .ip "$LAB_WEB_IP"
assert "vm show web: no elastic IP" out_is .elastic_ip null
refused "vm show ghost" 5 name vm show ghost
http_refused "GET /v1/vms/ghost" 404 name GET /v1/vms/ghost

refused "vm add, bad MAC" 1 mac vm add bad --network vmnet --mac 52:54:00:00:00:zz
http_refused "POST /v1/vms, bad MAC" 400 mac POST /v1/vms \
  '{"name":"bad","network":"vmnet","mac":"52:54:00:00:00:zz"}'
http_refused "POST /v1/vms, multicast MAC" 400 mac POST /v1/vms \
  '{"name":"bad","network":"vmnet","mac":"01:00:5e:00:00:01"}'
refused "vm add, bad IP" 1 ip vm add bad --network vmnet --mac 52:54:00:00:00:22 --ip 10.10.0.300
http_refused "POST /v1/vms, bad IP" 400 ip POST /v1/vms \
  '{"name":"bad","network":"vmnet","mac":"52:54:00:00:00:22","ip":"10.10.0.300"}'
refused "vm add, IP outside the subnet" 1 ip vm add bad --network vmnet --mac 52:54:00:00:00:22 --ip 10.20.0.5
http_refused "POST /v1/vms, IP outside the subnet" 400 ip POST /v1/vms \
  '{"name":"bad","network":"vmnet","mac":"52:54:00:00:00:22","ip":"10.20.0.5"}'
refused "vm add, unknown network" 1 network vm add bad --network nonet --mac 52:54:00:00:00:22
http_refused "POST /v1/vms, unknown network" 400 network POST /v1/vms \
  '{"name":"bad","network":"nonet","mac":"52:54:00:00:00:22"}'
refused "vm add, duplicate name" 6 name vm add web --network vmnet --mac 52:54:00:00:00:22
http_refused "POST /v1/vms, duplicate name" 409 name POST /v1/vms \
  '{"name":"web","network":"vmnet","mac":"52:54:00:00:00:22"}'
refused "vm add, duplicate MAC" 6 mac vm add web2 --network vmnet --mac "$LAB_WEB_MAC"
http_refused "POST /v1/vms, duplicate MAC" 409 mac POST /v1/vms \
  "{\"name\":\"web2\",\"network\":\"vmnet\",\"mac\":\"$LAB_WEB_MAC\"}"
refused "vm add, duplicate IP" 6 ip vm add web2 --network vmnet --mac 52:54:00:00:00:22 --ip "$LAB_WEB_IP"
http_refused "POST /v1/vms, duplicate IP" 409 ip POST /v1/vms \
  "{\"name\":\"web2\",\"network\":\"vmnet\",\"mac\":\"52:54:00:00:00:22\",\"ip\":\"$LAB_WEB_IP\"}"
refused "vm add, invalid name" 1 name vm add 'Web!' --network vmnet --mac 52:54:00:00:00:22
http_refused "POST /v1/vms, no fields" 400 name POST /v1/vms '{}'
for f in network mac; do
  assert "POST /v1/vms, no fields: error lists '$f'" http_field "$f"
done
http_refused "POST /v1/vms, name not a string" 400 name POST /v1/vms \
  '{"name":1,"network":"vmnet","mac":"52:54:00:00:00:22"}'
refused "vm remove ghost" 5 name vm remove ghost
http_refused "DELETE /v1/vms/ghost" 404 name DELETE /v1/vms/ghost
ok "vm remove auto" vm remove auto
assert "vm remove auto: names the VM" out_is .vm.name auto
cli vm list
assert "vm list after remove: db, web" out_is '[.[].name] | sort | join(",")' db,web

echo "# elastic IPs"
ok "eip allocate" eip allocate
assert "eip allocate: the first address of the pool" out_is .address 203.0.113.16
assert "eip allocate: pool" out_is .pool public
assert "eip allocate: uplink" out_is .uplink isp1
assert "eip allocate: unbound" out_is .vm null
ok "eip allocate --address 203.0.113.20" eip allocate --address 203.0.113.20
assert "eip allocate --address: that address" out_is .address 203.0.113.20
ok "eip allocate (first free)" eip allocate
assert "eip allocate: first free is 203.0.113.17" out_is .address 203.0.113.17
ok "eip allocate --pool public" eip allocate --pool public
assert "eip allocate --pool public: 203.0.113.18" out_is .address 203.0.113.18
refused "eip allocate outside every pool" 1 address eip allocate --address 203.0.113.99
http_refused "POST /v1/eips outside every pool" 400 address POST /v1/eips '{"address":"203.0.113.99"}'
refused "eip allocate outside the pool named" 1 address eip allocate --pool public --address 203.0.113.99
refused "eip allocate an address taken" 6 address eip allocate --address 203.0.113.20
http_refused "POST /v1/eips, address taken" 409 address POST /v1/eips '{"address":"203.0.113.20"}'
refused "eip allocate from an unknown pool" 5 pool eip allocate --pool nope
http_refused "POST /v1/eips, unknown pool" 404 pool POST /v1/eips '{"pool":"nope"}'
refused "eip allocate, not an address" 1 address eip allocate --address nope
http_refused "POST /v1/eips, pool not a string" 400 pool POST /v1/eips '{"pool":7}'

refused "eip bind to an unknown VM" 5 vm eip bind 203.0.113.16 ghost
http_refused "POST bind, unknown VM" 404 vm POST /v1/eips/203.0.113.16/bind '{"vm":"ghost"}'
refused "eip bind an address not allocated" 5 address eip bind 203.0.113.30 web
http_refused "POST bind, address not allocated" 404 address POST /v1/eips/203.0.113.30/bind '{"vm":"web"}'
http_refused "POST bind, not an address" 400 address POST /v1/eips/nope/bind '{"vm":"web"}'
http_refused "POST bind, no vm" 400 vm POST /v1/eips/203.0.113.16/bind '{}'
ok "eip bind 203.0.113.16 web" eip bind 203.0.113.16 web
assert "eip bind: bound to web" out_is .vm web
cli vm show web
assert "vm show web: elastic IP 203.0.113.16" out_is .elastic_ip 203.0.113.16
cli eip bind 203.0.113.16 web
assert "eip bind again to the same VM: exit 0 (nothing to do)" rc_is 0
assert "  ...a no-op: generation still $GEN" gen_is "$GEN"
refused "eip bind a second EIP to web" 6 vm eip bind 203.0.113.17 web
refused "eip release while bound" 6 address eip release 203.0.113.16
http_refused "DELETE /v1/eips/203.0.113.16 while bound" 409 address DELETE /v1/eips/203.0.113.16
ok "eip bind 203.0.113.16 db (move, one call)" eip bind 203.0.113.16 db
assert "eip move: bound to db" out_is .vm db
cli vm show web
assert "vm show web after the move: no elastic IP" out_is .elastic_ip null
ok "eip unbind 203.0.113.16" eip unbind 203.0.113.16
assert "eip unbind: unbound" out_is .vm null
cli eip unbind 203.0.113.16
assert "eip unbind again: exit 0 (nothing to do)" rc_is 0
assert "  ...a no-op: generation still $GEN" gen_is "$GEN"
refused "eip unbind an address not allocated" 5 address eip unbind 203.0.113.30
ok "eip release 203.0.113.16" eip release 203.0.113.16
assert "eip release: the address" out_is .address 203.0.113.16
refused "eip release again" 5 address eip release 203.0.113.16
http_refused "DELETE /v1/eips/nope" 400 address DELETE /v1/eips/nope
cli eip list
assert "eip list: exit 0" rc_is 0
assert "eip list: .17 .18 .20" out_is '[.[].address] | sort | join(" ")' "203.0.113.17 203.0.113.18 203.0.113.20"

echo "# port forwards"
ok "forward add 203.0.113.2:8080/tcp -> web:80" \
  forward add --public 203.0.113.2:8080 --proto tcp --to web:80
assert "forward add: public" out_is .public 203.0.113.2:8080
assert "forward add: proto" out_is .proto tcp
assert "forward add: to" out_is .to web:80
refused "forward add overlapping" 6 public forward add --public 203.0.113.2:8000-8100 --proto tcp --to db:8000
http_refused "POST /v1/forwards overlapping" 409 public POST /v1/forwards \
  '{"public":"203.0.113.2:8080","proto":"tcp","to":"db:80"}'
ok "forward add same port, udp" forward add --public 203.0.113.2:8080 --proto udp --to db:80
refused "forward add to an unknown VM" 1 to forward add --public 203.0.113.2:9090 --proto tcp --to ghost:80
http_refused "POST /v1/forwards to an unknown VM" 400 to POST /v1/forwards \
  '{"public":"203.0.113.2:9090","proto":"tcp","to":"ghost:80"}'
refused "forward add, public port 70000" 1 public forward add --public 203.0.113.2:70000 --to web:80
http_refused "POST /v1/forwards, public port 0" 400 public POST /v1/forwards \
  '{"public":"203.0.113.2:0","to":"web:80"}'
refused "forward add, VM port 0" 1 to forward add --public 203.0.113.2:9090 --to web:0
refused "forward add, proto sctp" 1 proto forward add --public 203.0.113.2:9090 --proto sctp --to web:80
http_refused "POST /v1/forwards, public without a port" 400 public POST /v1/forwards \
  '{"public":"203.0.113.2","to":"web:80"}'
refused "forward remove unknown" 5 public forward remove --public 203.0.113.2:9999 --proto tcp
http_refused "DELETE /v1/forwards unknown" 404 public DELETE '/v1/forwards?public=203.0.113.2:9999&proto=tcp'
http_refused "DELETE /v1/forwards, bad public" 400 public DELETE '/v1/forwards?public=nope&proto=tcp'
ok "forward add on an elastic IP 203.0.113.20:443 -> web:443" \
  forward add --public 203.0.113.20:443 --proto tcp --to web:443
refused "eip release of an address a forward uses" 6 address eip release 203.0.113.20
ok "forward remove 203.0.113.20:443" forward remove --public 203.0.113.20:443 --proto tcp
ok "forward remove 203.0.113.2:8080/udp" forward remove --public 203.0.113.2:8080 --proto udp
assert "forward remove: what was removed" out_is .to db:80
cli forward list
assert "forward list: exit 0" rc_is 0
assert "forward list: the one tcp forward" out_is '[.[] | .public + "/" + .proto + ">" + .to] | join(" ")' \
  "203.0.113.2:8080/tcp>web:80"

echo "# topology and status"
cli network list
assert "network list: exit 0" rc_is 0
assert "network list: lan, vmnet" out_is '[.[].name] | sort | join(",")' lan,vmnet
assert "network list: vmnet has 2 VMs" out_is '.[] | select(.name == "vmnet") | .vms' 2
assert "network list: vmnet subnet" out_is '.[] | select(.name == "vmnet") | .subnet' 10.10.0.0/24
cli uplink list
assert "uplink list: isp1 wan0 203.0.113.2/24" out_is '.[0] | .name + " " + .device + " " + .address' \
  "isp1 wan0 203.0.113.2/24"
assert "uplink list: isp1 up, carries the host and both networks" \
  out_is '.[0] | .state + " " + (.carries | join(","))' "up host,lan,vmnet"
assert "uplink list: isp2 (tier 2) up, carries nothing while isp1 lives" \
  out_is '.[1] | .name + " " + .state + " " + (.tier | tostring) + " " + (.carries | length | tostring)' \
  "isp2 up 2 0"
cli status
assert "status: exit 0" rc_is 0
assert "status: counts" out_is '.counts | "\(.vms) \(.elastic_ips_allocated) \(.elastic_ips_bound) \(.port_forwards)"' \
  "2 3 0 1"
assert "status: dhcp vmnet running" out_is .dhcp.vmnet running
assert "status: pid is the daemon's" out_is .pid "$VMGWD_PID"
cli leases
assert "leases: exit 0" rc_is 0
assert "leases: reservations of db and web" \
  out_is '[.reservations[] | .name + "=" + .ip + "/" + .mac] | sort | join(" ")' \
  "db=$LAB_DB_IP/$LAB_DB_MAC web=$LAB_WEB_IP/$LAB_WEB_MAC"
http_refused "POST /v1/leases/events, bad event" 400 action POST /v1/leases/events \
  '{"action":"boom","mac":"x","ip":"y","network":"vmnet"}'
for f in mac ip; do
  assert "POST /v1/leases/events, bad event: error lists '$f'" http_field "$f"
done

echo "# HTTP"
http_refused "GET an unknown path" 404 - GET /v1/nope
http_refused "PUT /v1/vms (wrong method)" 405 - PUT /v1/vms '{}'
http_refused "DELETE /v1/status (wrong method)" 405 - DELETE /v1/status
http_refused "POST /v1/vms, body not JSON" 400 - POST /v1/vms 'name=web'
http_refused "POST /v1/eips, body a JSON array" 400 - POST /v1/eips '[1,2]'
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$T/big.json"
http_refused "POST /v1/vms, body of 1 MiB + 1 byte" 413 - POST /v1/vms "@$T/big.json"
vmgw_http GET /metrics
assert "GET /metrics: HTTP 200" http_status_is 200
metric_gen() { grep -E "^vmgw_generation $GEN$" <<<"$HTTP_BODY" >/dev/null || { grep vmgw_generation <<<"$HTTP_BODY"; return 1; }; }
assert "/metrics: vmgw_generation $GEN" metric_gen
vmgw_http GET /v1/status
assert "GET /v1/status: HTTP 200" http_status_is 200
assert "GET /v1/status: generation $GEN" test "$(vmgw_json_get "$HTTP_BODY" .generation)" = "$GEN"
# 4 VM adds/removes, 4 allocations, 2 binds, 1 unbind, 1 release, 5 forward changes.
assert "the generation counted exactly the 17 changes" test "$GEN" = 17
assert "daemon still running" vmgw_daemon_running

vmgw_test_end
