# shellcheck shell=bash
# Helpers of the multi-uplink tests (test_uplinks_*.sh), over lib.sh's lab: a UDP receiver in the
# internet namespace that logs the source address of every datagram, senders of new and of
# long-lived flows, and readings of vmgwd's view of its uplinks.
#
# Receiver lines: "<recv_ns> <src> <sport> <payload>"; payloads of `send`: "TAG SEQ SEND_NS", of
# `stream`: "TAG FLOW SEQ SEND_NS" (tests/netns/tools/flows.cpp).

VMGW_TEST_FLOWS=${VMGW_TEST_FLOWS:-$(dirname "$VMGW_BIN")/tests/vmgw-test-flows}

# The build always makes vmgw-test-flows: missing, it is a failure, not a skip.
uplinks_require_tools() {
  [[ -x $VMGW_TEST_FLOWS ]] || vmgw_die "vmgw-test-flows not found at $VMGW_TEST_FLOWS"
}

# uplinks_recv PORT NAME: a receiver on the internet host, logging to logs/NAME.log.
uplinks_recv() {
  vmgw_bg "$NS_INET" "$2" "$VMGW_TEST_FLOWS" recv "$1"
  vmgw_wait_for 5 bash -c "ip netns exec '$NS_INET' ss -Hlun 'sport = :$1' | grep -q ." ||
    vmgw_die "the UDP receiver on port $1 did not start"
}

# The senders' last line ("flows: MODE TAG: sent N of M datagrams, ...") goes to
# logs/sent-TAG.log, where uplinks_sent reads how many were really sent.

# uplinks_send NS COUNT INTERVAL_MS TAG [PORT]: COUNT new flows from NS to the internet host.
# Fails when a datagram could not be sent.
uplinks_send() {
  local rc=0
  ip netns exec "$1" "$VMGW_TEST_FLOWS" send "$LAB_INET_ADDR" "${5:-9000}" "$2" "$3" "$4" \
    2>"$VMGW_LAB/logs/sent-$4.log" || rc=$?
  ((rc == 0)) || cat "$VMGW_LAB/logs/sent-$4.log" >&2
  return "$rc"
}

# uplinks_stream_bg NS FLOWS INTERVAL_MS SECONDS TAG [PORT]: long-lived flows, in the background
# ($! is the sender: `wait` on it fails when a send failed other than by an ICMP error).
uplinks_stream_bg() {
  ip netns exec "$1" "$VMGW_TEST_FLOWS" stream "$LAB_INET_ADDR" "${6:-9000}" "$2" "$3" "$4" "$5" \
    2>"$VMGW_LAB/logs/sent-$5.log" &
}

# uplinks_sent TAG: how many datagrams TAG's sender sent ("" when it did not report).
uplinks_sent() {
  sed -nE 's/^flows: [a-z]+ [^ ]+: sent ([0-9]+) of .*/\1/p' "$VMGW_LAB/logs/sent-$1.log" 2>/dev/null
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

# --- cutting an ISP (also `vmgw-lab cut|restore|spread`) -------------------------------------

# uplinks_isp_ns isp1|isp2: the ISP's namespace.
uplinks_isp_ns() { [[ $1 == isp2 ]] && echo "$NS_ISP2" || echo "$NS_ISP"; }

# uplinks_cut isp1|isp2 [--silent]: the ISP's link to the gateway goes down, or (--silent) the
# ISP drops everything with its link up.
uplinks_cut() {
  local ns
  ns=$(uplinks_isp_ns "$1")
  if [[ ${2:-} == --silent ]]; then
    ip netns exec "$ns" nft 'add table inet vmgw_lab_cut; add chain inet vmgw_lab_cut everything { type filter hook prerouting priority -300; policy drop; }'
  else
    ip -n "$ns" link set eth0 down
  fi
}

# uplinks_restore isp1|isp2: undoes uplinks_cut, whichever way it cut.
uplinks_restore() {
  local ns
  ns=$(uplinks_isp_ns "$1")
  ip netns exec "$ns" nft delete table inet vmgw_lab_cut 2>/dev/null || true
  ip -n "$ns" link set eth0 up
}

# uplinks_tmp_recv: a receiver on a port of its own; sets RECV_PORT, RECV_LOG, RECV_PID.
uplinks_tmp_recv() {
  RECV_PORT=$((20000 + RANDOM % 20000))
  RECV_LOG=$VMGW_LAB/logs/recv-$RECV_PORT.log
  ip netns exec "$NS_INET" "$VMGW_TEST_FLOWS" recv "$RECV_PORT" >"$RECV_LOG" 2>&1 &
  RECV_PID=$!
  vmgw_wait_for 5 bash -c "ip netns exec '$NS_INET' ss -Hlun 'sport = :$RECV_PORT' | grep -q ." ||
    vmgw_die "the UDP receiver did not start"
}

uplinks_tmp_recv_stop() { kill "$RECV_PID" 2>/dev/null; wait "$RECV_PID" 2>/dev/null || true; }

# uplinks_measure_cut NS isp1|isp2 [--silent]: while NS opens a new flow every 10 ms, cuts the
# ISP and prints how long until new flows left through the other one; sets CUT_MS ("" if they
# never did within 3 s).
uplinks_measure_cut() {
  local from=$1 isp=$2 mode=${3:-} other t0 sender how
  other=$LAB_UPLINK2_ADDR
  [[ $isp == isp2 ]] && other=$LAB_UPLINK_ADDR
  uplinks_tmp_recv
  uplinks_send "$from" 400 10 cut "$RECV_PORT" &
  sender=$!
  sleep 1
  t0=$(uplinks_now_ns)
  uplinks_cut "$isp" "$mode"
  wait "$sender"
  sleep 0.3
  uplinks_tmp_recv_stop
  CUT_MS=$(uplinks_switch_ms "$RECV_LOG" cut "$t0" "$other")
  how="link down"
  [[ $mode == --silent ]] && how="dropping everything, link up"
  if [[ -z $CUT_MS ]]; then
    echo "$isp cut ($how): new flows never left through the other ISP within 3 s"
  else
    echo "$isp cut ($how): new flows left through the other ISP after $CUT_MS ms" \
      "($( ((CUT_MS < 1000)) && echo "under a second" || echo "over a second"))"
  fi
}

# uplinks_spread NS COUNT: COUNT new flows from NS; prints how many left through each ISP.
uplinks_spread() {
  local n1 n2
  uplinks_tmp_recv
  uplinks_send "$1" "$2" 1 spread "$RECV_PORT"
  sleep 0.3
  uplinks_tmp_recv_stop
  n1=$(awk -v a="$LAB_UPLINK_ADDR" '$4 == "spread" && $2 == a' "$RECV_LOG" | wc -l)
  n2=$(awk -v a="$LAB_UPLINK2_ADDR" '$4 == "spread" && $2 == a' "$RECV_LOG" | wc -l)
  echo "$2 new flows: $n1 through isp1 ($LAB_UPLINK_ADDR), $n2 through isp2 ($LAB_UPLINK2_ADDR)"
}

# uplinks_stream_switch_ms LOG TAG T0 ADDR: milliseconds from T0 to the sending of the first
# datagram of TAG's long-lived flows (`stream`) that arrived from ADDR, sent at or after T0.
uplinks_stream_switch_ms() {
  awk -v tag="$2" -v t0="$3" -v addr="$4" \
    '$4 == tag && $2 == addr && $7 >= t0 { printf "%d\n", ($7 - t0) / 1000000; exit }' "$1"
}
