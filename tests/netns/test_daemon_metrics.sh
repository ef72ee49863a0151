#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: a live vmgwd's GET /metrics passes `promtool check metrics` (Prometheus' own
# linter: HELP and TYPE for every metric, _total on counters, base units in the names), with a
# VM, an elastic IP bound, a self-heal and an uplink down behind the numbers, and names the
# series docs/api.md lists.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=uplinks.sh
source "$(dirname "${BASH_SOURCE[0]}")/uplinks.sh"

vmgw_require_env curl jq promtool
vmgw_test_begin daemon_metrics
vmgw_require_daemon
T=$VMGW_LAB/tmp
vmgw_daemon_lab_up || vmgw_die "the daemon did not come up"

vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web >/dev/null
vmgwc eip allocate --pool public >/dev/null
vmgwc eip bind "$(vmgwc -o json eip list | jq -r '.[0].address')" web >/dev/null
ip netns exec "$NS_GW" nft flush ruleset
uplinks_cut isp2
vmgw_wait_for 5 uplinks_is isp2 down || vmgw_log "isp2 is not down yet"

vmgw_http GET /metrics
assert "GET /metrics answers 200" test "$HTTP_STATUS" = 200
printf '%s\n' "$HTTP_BODY" >"$T/metrics.txt"
lint() {
  promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || { cat "$T/promtool.out"; return 1; }
  # promtool prints its findings; a clean exposition gives none.
  [[ ! -s $T/promtool.out ]] || { cat "$T/promtool.out"; return 1; }
}
assert "promtool check metrics finds nothing" lint
# series NAME_AND_LABELS VALUE_REGEX: the exposition has that sample.
series() {
  grep -E "^$1 $2\$" "$T/metrics.txt" >/dev/null || { echo "  no '$1 $2' in:"; grep -E "^${1%%\{*}" "$T/metrics.txt"; return 1; }
}
assert "vmgw_vms 1" series vmgw_vms 1
assert "vmgw_elastic_ips_bound 1" series vmgw_elastic_ips_bound 1
assert "vmgw_self_heals_total{kind=\"nftables\"} counts the flush" series 'vmgw_self_heals_total\{kind="nftables"\}' '[1-9][0-9]*'
assert "vmgw_uplink_up{uplink=\"isp2\"} 0" series 'vmgw_uplink_up\{uplink="isp2"\}' 0
assert "vmgw_uplink_up{uplink=\"isp1\"} 1" series 'vmgw_uplink_up\{uplink="isp1"\}' 1
assert "vmgw_apply_seconds_total counts time" series vmgw_apply_seconds_total '[0-9.e+-]+'
vmgw_test_end
