# shellcheck shell=bash
# Helpers of the multi-uplink tests (test_uplinks_*.sh), over lib.sh's lab: a UDP receiver in the
# internet namespace that logs the source address of every datagram, senders of new and of
# long-lived flows, and readings of vmgwd's view of its uplinks.
#
# Receiver lines: "<recv_ns> <src> <sport> <payload>"; payloads of `send`: "TAG SEQ SEND_NS", of
# `stream`: "TAG FLOW SEQ SEND_NS" (tests/netns/tools/flows.cpp).

VMGW_TEST_FLOWS=${VMGW_TEST_FLOWS:-$(dirname "$VMGW_BIN")/tests/vmgw-test-flows}

uplinks_require_tools() {
  [[ -x $VMGW_TEST_FLOWS ]] || vmgw_skip "vmgw-test-flows not found at $VMGW_TEST_FLOWS"
}

# uplinks_recv PORT NAME: a receiver on the internet host, logging to logs/NAME.log.
uplinks_recv() {
  vmgw_bg "$NS_INET" "$2" "$VMGW_TEST_FLOWS" recv "$1"
  vmgw_wait_for 5 bash -c "ip netns exec '$NS_INET' ss -Hlun 'sport = :$1' | grep -q ." ||
    vmgw_die "the UDP receiver on port $1 did not start"
}

# uplinks_send NS COUNT INTERVAL_MS TAG [PORT]: COUNT new flows from NS to the internet host.
uplinks_send() {
  ip netns exec "$1" "$VMGW_TEST_FLOWS" send "$LAB_INET_ADDR" "${5:-9000}" "$2" "$3" "$4"
}

# uplinks_stream_bg NS FLOWS INTERVAL_MS SECONDS TAG [PORT]: long-lived flows, in the background.
uplinks_stream_bg() {
  ip netns exec "$1" "$VMGW_TEST_FLOWS" stream "$LAB_INET_ADDR" "${6:-9000}" "$2" "$3" "$4" "$5" &
}

uplinks_now_ns() { date +%s%N; }

# uplinks_switch_ms LOG TAG T0 ADDR: milliseconds from T0 to the sending of the first datagram
# of TAG (a `send` flow) that arrived from ADDR and was sent at or after T0 ("" if none).
uplinks_switch_ms() {
  awk -v tag="$2" -v t0="$3" -v addr="$4" \
    '$4 == tag && $2 == addr && $6 >= t0 { printf "%d\n", ($6 - t0) / 1000000; exit }' "$1"
}

# uplinks_sources LOG TAG: "ADDR COUNT" per source address of TAG's datagrams.
uplinks_sources() {
  awk -v tag="$2" '$4 == tag { n[$2]++ } END { for (a in n) print a, n[a] }' "$1" | sort
}

# uplinks_field NAME JQ: a field of uplink NAME in `vmgw uplink list -o json`.
uplinks_field() {
  vmgwc -o json uplink list | jq -r --arg n "$1" ".[] | select(.name == \$n) | $2"
}

uplinks_is() { [[ $(uplinks_field "$1" .state) == "$2" ]]; }
