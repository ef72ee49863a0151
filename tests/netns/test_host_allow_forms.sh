#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# host.allow entries in their fuller forms, with real connections to the host:
#   - a service name and a list of interfaces, with a per-source rate: from the internet, 3 new
#     SSH connections a minute pass and the next are dropped and counted on the entry's own
#     rule, while the LAN client (another source) still connects;
#   - a list of ports with a destination: the LAN reaches port 2222 on the host's LAN address,
#     not on its VM-network address;
#   - an entry's own rate: 2 new connections to port 8081 pass, the third meets the default drop.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin host-allow-forms
config=$VMGW_LAB/tmp/forms.yaml
# examples/lab.yaml ends with its host.allow list; the test replaces that list.
sed '/^host:/,$d' "$VMGW_LAB_CONFIG" >"$config"
cat >>"$config" <<YAML
host:
  allow:
    - {port: ssh, interface: [wan0, lan0], per_source: 3/minute}
    - {port: [2222, 2223], to: $LAB_LAN_GW/32}
    - {port: 8081, interface: wan0, limit: 2/minute}
YAML
grep -q '^vms:' "$config" || vmgw_die "could not derive the test's config from $VMGW_LAB_CONFIG"
vmgw_lab_up "$config"
assert "lab comes up (${LAB_UP_ERROR:-ok})" test -z "$LAB_UP_ERROR"
vmgw_apply "$config"
assert "these rules read back as planned: a second apply changes nothing ($APPLY_OUT)" \
  test "${APPLY_OUT:0:10}" = "no changes"
vmgw_bg "$NS_GW" gw-2222 socat TCP-LISTEN:2222,fork,reuseaddr SYSTEM:'echo port-2222'
vmgw_bg "$NS_GW" gw-8081 socat TCP-LISTEN:8081,fork,reuseaddr SYSTEM:'echo port-8081'
vmgw_wait_for 5 vmgw_listening "$NS_GW" 2222 || vmgw_die "the server on 2222 did not start"
vmgw_wait_for 5 vmgw_listening "$NS_GW" 8081 || vmgw_die "the server on 8081 did not start"

reaches() { [[ $(vmgw_client "$1" "$2" "$3") == "$4" ]]; }
blocked() { ! vmgw_client "$1" "$2" "$3" >/dev/null; }
counted() {  # the packets counted by the filter_input rule whose comment starts with $1
  ip netns exec "$NS_GW" nft -j list chain inet vmgw filter_input |
    jq --arg c "$1" '[.nftables[] | select(.rule.comment // "" | startswith($c)) | .rule.expr[] | select(.counter) | .counter.packets] | add // 0'
}

for i in 1 2 3; do
  assert "internet: new SSH connection $i of 3 in a minute passes" \
    reaches "$NS_INET" "$LAB_UPLINK_ADDR" 22 ssh-standin
done
assert "internet: the 4th is dropped (per_source 3/minute)" blocked "$NS_INET" "$LAB_UPLINK_ADDR" 22
over=$(counted "host: allow tcp/ssh on wan0,lan0: over 3/minute from one source")
assert "the drop is counted on the entry's own rule ($over packets)" test "$over" -gt 0
assert "the LAN client, another source, still connects" reaches "$NS_LAN" "$LAB_LAN_GW" 22 ssh-standin

assert "LAN -> the host's LAN address :2222 (to: $LAB_LAN_GW/32)" \
  reaches "$NS_LAN" "$LAB_LAN_GW" 2222 port-2222
assert "LAN -> the host's VM-network address :2222 is refused (another destination)" \
  blocked "$NS_LAN" 10.10.0.1 2222

for i in 1 2; do
  assert "internet: connection $i of 2 to :8081 passes (limit 2/minute)" \
    reaches "$NS_INET" "$LAB_UPLINK_ADDR" 8081 port-8081
done
assert "internet: the 3rd to :8081 meets the default drop" blocked "$NS_INET" "$LAB_UPLINK_ADDR" 8081

vmgw_test_end
