#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: bounded work per request. The hardening issue's attack -- a filter of ten rules,
# each over two list variables, bound with 64 values each (a 1.4 KB request, 40 960 rules: vmgwd
# answered nothing for 6 s and reached 1.75 GB; with 50 rules it died) -- is refused at once with
# the limit named, vmgwd's memory does not move, nothing is applied, and vmgwd goes on serving.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin daemon_bounded_work
vmgw_require_daemon
vmgw_daemon_lab_up
T=$VMGW_LAB/tmp
mkdir -p "$T"

assert "vm add web" vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$VMGWD_PID/status"; }

# filter_of N: a filter of N rules, each combining every value of $A with every value of $B
# (two iterators; plain $A and $B would walk in parallel, as in libvirt).
filter_of() {
  local xml="<filter name='lists$1' chain='root'>" i
  for ((i = 0; i < $1; i++)); do
    xml+="<rule action='accept' direction='in'><tcp srcipaddr='\$A[@1]' dstportstart='\$B[@2]'/></rule>"
  done
  jq -cn --arg x "$xml</filter>" '{xml: $x}'
}
binding_of() {
  local a b
  a=$(seq 0 63 | awk '{printf "%s\"10.1.0.%d\"", (NR > 1 ? "," : ""), $1}')
  b=$(seq 0 63 | awk '{printf "%s\"%d\"", (NR > 1 ? "," : ""), 1000 + $1}')
  printf '{"filters":[{"filter":"lists%s","params":{"A":[%s],"B":[%s]}}]}' "$1" "$a" "$b"
}

for rules in 10 50; do
  vmgw_http POST /v1/filters "$(filter_of "$rules")"
  assert "a filter of $rules rules over two lists is defined ($HTTP_STATUS)" test "$HTTP_STATUS" = 201
done
generation=$(vmgw_generation)
for rules in 10 50; do
  body=$(binding_of "$rules")
  rss_before=$(rss_kib)
  start=$(date +%s%N)
  vmgw_http PUT /v1/vms/web/filters "$body"
  ms=$((($(date +%s%N) - start) / 1000000))
  rss_after=$(rss_kib)
  echo "  ${#body}-byte request: HTTP $HTTP_STATUS in $ms ms; vmgwd RSS $((rss_before / 1024)) -> $((rss_after / 1024)) MiB"
  names_limit() { [[ $HTTP_STATUS == 400 && $HTTP_BODY == *"over the limit rules_per_filter (4096)"* ]] ||
    { echo "  got $HTTP_STATUS: ${HTTP_BODY:0:300}"; return 1; }; }
  assert "binding it with 64 x 64 values is refused, naming the limit" names_limit
  assert "... within a second ($ms ms)" test "$ms" -lt 1000
  assert "... without vmgwd's memory growing by 50 MiB" test $((rss_after - rss_before)) -lt 51200
done
assert "nothing was applied (generation $generation)" test "$(vmgw_generation)" = "$generation"
no_filters() { [[ $(vmgwc -o json vm list | jq -r '.[] | select(.name == "web") | .filters | length') == 0 ]]; }
assert "web has no filters" no_filters
assert "vmgwd still serves" vmgwc status

# 33 filters on one VM: refused by filters_per_vm.
many=$(jq -cn '{filters: [range(33) | {filter: "clean-traffic"}]}')
vmgw_http PUT /v1/vms/web/filters "$many"
assert "33 filters on one VM are refused, naming filters_per_vm" \
  test "$HTTP_STATUS" = 400 -a "${HTTP_BODY//over the limit filters_per_vm (32)/}" != "$HTTP_BODY"

vmgw_test_end
