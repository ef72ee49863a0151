#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# Hairpin NAT keeps the client's address where it can: a published service (a port forward to
# web) is reached by its public address from the LAN, from another VM of web's own network and
# from the internet; web's server reports the address it sees.
#   - LAN client (another network): the reply goes through the gateway anyway, so web sees the
#     client's own address;
#   - db (web's own network): the gateway masquerades (or web's reply would go straight to db,
#     which expects the public address), so web sees the gateway's address on the network;
#   - internet: web sees the internet host's address.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin hairpin
config=$VMGW_LAB/tmp/hairpin.yaml
awk '{ print }
     /^    to: web:80/ { print "  - public: 203.0.113.2:8082"; print "    proto: tcp"; print "    to: web:81" }' \
  "$VMGW_LAB_CONFIG" >"$config"
grep -q 8082 "$config" || vmgw_die "could not derive the config with an extra forward from $VMGW_LAB_CONFIG"
vmgw_lab_up "$config"
assert "lab comes up (${LAB_UP_ERROR:-ok})" test -z "$LAB_UP_ERROR"
# shellcheck disable=SC2016  # $SOCAT_PEERADDR is expanded by the server's shell, per client
vmgw_bg "$NS_WEB" web-peer socat TCP-LISTEN:81,fork,reuseaddr SYSTEM:'echo seen-from=$SOCAT_PEERADDR'
vmgw_wait_for 5 vmgw_listening "$NS_WEB" 81 || vmgw_die "web's server on 81 did not start"

sees() {  # sees CLIENT_NS ADDRESS: web reports ADDRESS as the client of the forward
  local got
  got=$(vmgw_client "$1" "$LAB_UPLINK_ADDR" 8082) || true
  echo "    web saw: $got"
  [[ $got == "seen-from=$2" ]]
}
assert "LAN client -> $LAB_UPLINK_ADDR:8082: web sees the client's own address" \
  sees "$NS_LAN" "$LAB_LAN_CLIENT"
assert "db (web's own network) -> $LAB_UPLINK_ADDR:8082: answered, web sees the gateway's address" \
  sees "$NS_DB" 10.10.0.1
assert "internet -> $LAB_UPLINK_ADDR:8082: web sees the internet host" sees "$NS_INET" "$LAB_INET_ADDR"
vmgw_apply "$config"
assert "the hairpin set reads back as planned: a second apply changes nothing ($APPLY_OUT)" \
  test "${APPLY_OUT:0:10}" = "no changes"

vmgw_test_end
