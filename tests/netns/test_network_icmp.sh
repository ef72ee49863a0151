#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# A network's ICMP lists (networks[].icmp_out, icmp_in), with real pings:
#   - icmp_out [echo-request]: web pings the internet; icmp_out []: it cannot;
#   - icmp_in without echo-request: the internet cannot ping db through its elastic IP (which
#     publishes every protocol); with echo-request listed, it can.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin network-icmp
config=$VMGW_LAB/tmp/icmp.yaml
write_config() {  # write_config OUT_LIST IN_LIST: vmnet's icmp_out and icmp_in
  awk -v out="$1" -v in_="$2" '{ print }
       /^    masquerade: \[isp1, isp2\]     # VMs/ && !done {
         print "    icmp_out: [" out "]"; print "    icmp_in: [" in_ "]"; done = 1 }' \
    "$VMGW_LAB_CONFIG" >"$config"
  grep -q icmp_out "$config" || vmgw_die "could not derive the config from $VMGW_LAB_CONFIG"
}
write_config echo-request timestamp-request
vmgw_lab_up "$config"
assert "lab comes up (${LAB_UP_ERROR:-ok})" test -z "$LAB_UP_ERROR"

pings() { ip netns exec "$1" busybox ping -c 1 -W 2 "$2" >/dev/null 2>&1; }
no_ping() { ! pings "$@"; }
assert "icmp_out [echo-request]: web pings the internet" pings "$NS_WEB" "$LAB_INET_ADDR"
assert "icmp_in [timestamp-request]: the internet cannot ping db's elastic IP" \
  no_ping "$NS_INET" "$LAB_EIP_DB"

write_config "" echo-request
vmgw_apply "$config"
assert "apply with icmp_out [] and icmp_in [echo-request] (exit $APPLY_RC: $APPLY_ERR)" test "$APPLY_RC" -eq 0
assert "icmp_in [echo-request]: the internet pings db's elastic IP" pings "$NS_INET" "$LAB_EIP_DB"
assert "icmp_out []: web cannot ping the internet" no_ping "$NS_WEB" "$LAB_INET_ADDR"
assert "  while its TCP still goes out" \
  bash -c "[[ \$(ip netns exec $NS_WEB timeout 6 socat -t 3 -T 3 - TCP:$LAB_INET_ADDR:80,connect-timeout=2 </dev/null 2>/dev/null) == seen-from=* ]]"

vmgw_test_end
