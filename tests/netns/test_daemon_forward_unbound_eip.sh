#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: a port forward on an elastic IP that is allocated but bound to no VM answers. The
# pool is inside the uplink's subnet, so the ISP reaches the address by ARP: the host must hold
# it, as it does for a bound one. (The host firewall issue's bug: accepted, never answered.)
# Binding the address too, then unbinding it, keeps the forward working; removing the forward
# releases the address once nothing holds it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin daemon_forward_unbound_eip
vmgw_require_daemon
vmgw_daemon_lab_up
EIP=203.0.113.18

reaches() {  # reaches NS ADDR PORT EXPECTED
  local got
  got=$(ip netns exec "$1" timeout 5 socat -T 3 - "TCP:$2:$3,connect-timeout=2" </dev/null 2>&1) || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}
on_uplink() { [[ $(ip -n "$NS_GW" -4 -o addr show dev wan0) == *" $EIP/32"* ]]; }

assert "vm add web" vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
vmgw_dhcp "$NS_WEB" || true
assert "eip allocate $EIP (not bound)" vmgwc eip allocate --pool public --address "$EIP"
assert "forward add $EIP:8080 -> web:80" vmgwc forward add --public "$EIP:8080" --to web:80
assert "the host holds $EIP on the uplink" on_uplink
assert "internet -> $EIP:8080 reaches web" reaches "$NS_INET" "$EIP" 8080 "hello from web"

assert "eip bind $EIP web" vmgwc eip bind "$EIP" web
assert "eip unbind $EIP" vmgwc eip unbind "$EIP"
assert "after bind and unbind the host still holds $EIP (the forward holds it)" on_uplink
assert "internet -> $EIP:8080 still reaches web" reaches "$NS_INET" "$EIP" 8080 "hello from web"

assert "forward remove $EIP:8080" vmgwc forward remove --public "$EIP:8080"
assert "with nothing holding it, $EIP leaves the uplink" not on_uplink

vmgw_test_end
