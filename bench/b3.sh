# shellcheck shell=bash
# shellcheck disable=SC2016  # jq programs in single quotes on purpose
# B3, failover: vmgwd with two ISPs (examples/daemon.yaml: isp1 first, isp2 a tier-2 backup), a
# VM with one running flow (a UDP datagram every millisecond). Each trial takes isp1 out and
# measures, from that moment, the time until the first datagram of the running flow reaches
# the internet through isp2 (its conntrack entry pinned to isp1 is cut, the next datagram
# re-establishes it on isp2):
#   linkdown  isp1's link goes down: the kernel drops isp1 from the multipath groups by itself,
#             and vmgwd hears the link event;
#   silent    isp1 drops everything with its link up: only vmgwd's probes can tell (the baseline
#             is the configured detection time, down_after x interval = 600 ms: the ratio says
#             what vmgwd adds to it).
# Then false failovers: 10% of isp1's probes lost at random for B3_LOSS_SECONDS; a correct
# gateway counts 0. The lab is the tests' (tests/netns/lib.sh), named vmgw-bench-<id>-*.

b3_trial() {  # b3_trial MODE -> prints the milliseconds ("" if the flow never moved)
  local mode=$1 t0 stream ms
  uplinks_tmp_recv
  ip netns exec "$NS_WEB" "$VMGW_TEST_FLOWS" stream "$LAB_INET_ADDR" "$RECV_PORT" 1 1 3 run \
    >/dev/null 2>&1 &
  stream=$!
  sleep 0.5
  t0=$(uplinks_now_ns)
  if [[ $mode == silent ]]; then uplinks_cut isp1 --silent; else uplinks_cut isp1; fi
  wait "$stream"
  sleep 0.2
  uplinks_tmp_recv_stop
  ms=$(uplinks_stream_switch_ms "$RECV_LOG" run "$t0" "$LAB_UPLINK2_ADDR")
  uplinks_restore isp1
  vmgw_wait_for 10 uplinks_is isp1 up || bench_die "isp1 did not come back"
  sleep 0.5
  echo "$ms"
}

b3_run() {
  bench_log "B3 failover: $B3_TRIALS trials per mode, probe loss for ${B3_LOSS_SECONDS}s"
  VMGW_TEST_FLOWS=$BUILD_DIR/tests/vmgw-test-flows
  [[ -x $VMGW_TEST_FLOWS ]] || bench_die "$VMGW_TEST_FLOWS is missing"
  vmgw_topology_up
  vmgw_servers_up
  vmgw_daemon_up "$BENCH_REPO/examples/daemon.yaml" || bench_die "vmgwd did not start"
  vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web >/dev/null
  vmgw_dhcp "$NS_WEB" || bench_die "the VM got no lease"
  local mode i ms json='{}' samples
  for mode in linkdown silent; do
    samples=()
    for ((i = 0; i < B3_TRIALS; i++)); do
      ms=$(b3_trial "$mode")
      bench_log "B3 $mode trial $((i + 1)): ${ms:-never} ms"
      samples+=("${ms:-null}")
    done
    json=$(jq --arg m "$mode" --argjson s "[$(IFS=,; echo "${samples[*]}")]" '.[$m] = $s' <<<"$json")
  done
  # False failovers under 10% random probe loss (echo requests to isp1's gateway, dropped in isp1).
  local before after
  before=$(uplinks_field isp1 .transitions)
  ip netns exec "$NS_ISP" nft 'add table inet b3_loss; add chain inet b3_loss input { type filter hook input priority -10; policy accept; }; add rule inet b3_loss input icmp type echo-request numgen random mod 100 < 10 drop'
  sleep "$B3_LOSS_SECONDS"
  ip netns exec "$NS_ISP" nft delete table inet b3_loss
  after=$(uplinks_field isp1 .transitions)
  vmgw_daemon_stop
  local ns
  for ns in "$NS_LAN" "$NS_DB" "$NS_WEB" "$NS_INET" "$NS_ISP2" "$NS_ISP" "$NS_GW"; do vmgw_ns_del "$ns"; done
  jq --argjson t "$json" --argjson ff "$((after - before))" --argjson secs "$B3_LOSS_SECONDS" \
    --argjson budget 600 '
    def p50: map(select(. != null)) | sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
    .b3 = {linkdown_ms: $t.linkdown, silent_ms: $t.silent,
           linkdown_p50_ms: ($t.linkdown | p50), silent_p50_ms: ($t.silent | p50),
           detection_budget_ms: $budget,
           silent_to_budget: (($t.silent | p50) as $p | if $p == null then null else ($p / $budget * 100 | round / 100) end),
           never: ([$t.linkdown[], $t.silent[]] | map(select(. == null)) | length),
           loss_seconds: $secs, false_failovers: $ff}' "$BENCH_JSON" >"$BENCH_JSON.tmp"
  mv "$BENCH_JSON.tmp" "$BENCH_JSON"
}
