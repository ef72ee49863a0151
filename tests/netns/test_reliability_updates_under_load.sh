#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# Reliability, atomic updates under load: while traffic runs through the gateway, successive
# policy updates (filter redefinitions, VM adds and removes, elastic IP rebinds) lose not one
# packet of the traffic they still allow.
#
# Traffic, all of it allowed throughout and none of it through the elastic IP. Two UDP senders,
# each sending every ~5 ms one numbered datagram on each of two streams:
#   * db -> web, bridged through br-vm, where it meets web's filters (clean-traffic + "svc")
#     through br_netfilter:
#       "db>web:flow"  to web:9998 on one socket: one long-lived flow (conntrack established);
#       "db>web:new"   to web:9996 from a new socket each time: every datagram is a new flow, so
#                      every one of them meets web's IP rules, while they are being replaced;
#   * web -> internet, routed and masqueraded to the uplink's address:
#       "web>inet:flow" to 198.51.100.10:9997, one long-lived flow;
#       "web>inet:new"  to 198.51.100.10:9995, a new flow (and a new NAT mapping) per datagram;
#   * and TCP db -> web:9000, one line every 10 ms on one connection: it must deliver every
#     line and end without a reset.
# The UDP generator is bash's /dev/udp redirection: a connected socket, one write() and so one
# datagram per line, each line "SEQ SENT_US". Receivers count lines: sent - received = lost.
#
# Updates, in a loop, each one CLI call that returns after vmgwd's kernel transaction:
#   1. filter define svc: web's filter, alternately with and without an unrelated port (tcp
#      7001); vmgwd then also walks web's conntrack entries (thousands: the new-flow stream)
#      looking for flows to cut, and must cut none of these;
#   2. vm add tmpN (a third VM, its own MAC and the next free address);
#   3. eip bind EIP db|spare: the elastic IP moves between db and a VM "spare" (web never holds
#      it: web's internet streams would otherwise be SNATed to it, and moving an elastic IP
#      rightly cuts the flows through it; db's streams are bridged to web, never NATed);
#   4. vm remove tmpN.
# VMGW_UPDATES sets the number (default 200, the CI form, ~30 s; VMGW_FULL=1: 1000).
#
# The streams run for a few seconds before the first update and after the last: a loss in
# those quiet phases would be the host's, not vmgw's; the report splits losses by phase and
# names the update running, or the last one finished, when each lost datagram was sent.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq conntrack
vmgw_test_begin reliability_updates
vmgw_require_daemon
T=$VMGW_LAB/tmp
if [[ ${VMGW_FULL:-0} == 1 ]]; then UPDATES=${VMGW_UPDATES:-1000}; else UPDATES=${VMGW_UPDATES:-200}; fi
INTERVAL=${VMGW_LOAD_INTERVAL:-0.003} # pause between two rounds of datagrams of a UDP sender
QUIET=${VMGW_LOAD_QUIET:-3}           # seconds of traffic before the first and after the last update
vmgw_daemon_lab_up

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
now_us() { echo "${EPOCHREALTIME/./}"; }
lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }

# policy VERSION: web's filter "svc"; odd versions also accept tcp 7001 (a port nobody uses).
policy() {
  {
    echo "<filter name='svc' chain='root'>"
    echo "  <!-- version $1 -->"
    echo "  <rule action='accept' direction='in' priority='100'><udp dstportstart='9998'/></rule>"
    echo "  <rule action='accept' direction='in' priority='100'><udp dstportstart='9996'/></rule>"
    echo "  <rule action='accept' direction='in' priority='100'><tcp dstportstart='9000'/></rule>"
    (($1 % 2)) &&
      echo "  <rule action='accept' direction='in' priority='100'><tcp dstportstart='7001'/></rule>"
    echo "  <rule action='accept' direction='in' priority='100'><icmp/></rule>"
    echo "  <rule action='drop' direction='in' priority='900'><all/></rule>"
    echo "</filter>"
  } >"$T/svc.xml"
}

# The streams: NAME RECEIVER-NS PORT SENT-LOG. Every receiver writes one line per datagram to
# $T/recv-PORT; the one of db>web:flow adds the receive time (to measure the longest silence).
STREAMS=("db>web:flow $NS_WEB 9998 sent-db" "db>web:new $NS_WEB 9996 sent-db"
  "web>inet:flow $NS_INET 9997 sent-web" "web>inet:new $NS_INET 9995 sent-web")
# shellcheck disable=SC2016  # EPOCHREALTIME is the receiver shell's
vmgw_bg "$NS_WEB" recv-9998 bash -c \
  'socat -u UDP-RECV:9998 - | while IFS= read -r l; do echo "$l ${EPOCHREALTIME/./}"; done >>'"$T/recv-9998"
vmgw_bg "$NS_WEB" recv-9996 socat -u UDP-RECV:9996 OPEN:"$T/recv-9996",creat,append
vmgw_bg "$NS_INET" recv-9997 socat -u UDP-RECV:9997 OPEN:"$T/recv-9997",creat,append
vmgw_bg "$NS_INET" recv-9995 socat -u UDP-RECV:9995 OPEN:"$T/recv-9995",creat,append
vmgw_bg "$NS_WEB" sink-9000 socat -u TCP-LISTEN:9000,reuseaddr OPEN:"$T/recv-tcp",creat,append
udp_bound() { ip netns exec "$1" ss -Hlun "sport = :$2" | grep . >/dev/null; }
for s in "${STREAMS[@]}"; do
  read -r _ ns port _ <<<"$s"
  vmgw_wait_for 5 udp_bound "$ns" "$port" || vmgw_die "UDP receiver on $port did not start"
done
vmgw_wait_for 5 vmgw_listening "$NS_WEB" 9000 || vmgw_die "TCP sink did not start"
# The internet keeps only datagrams from the uplink's address (as the real one would not route
# a private source back): a moment without masquerade would be a loss, and is counted here.
ip netns exec "$NS_INET" nft -f - <<NFT
table ip lab {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport { 9995, 9997 } ip saddr != $LAB_UPLINK_ADDR counter drop
  }
}
NFT

policy 0
assert "define svc" rc_ok vmgwc filter define "$T/svc.xml"
assert "vm add web (clean-traffic + svc)" rc_ok vmgwc vm add web --network vmnet \
  --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web --filter clean-traffic --filter svc
assert "vm add db (clean-traffic)" rc_ok vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" \
  --ip "$LAB_DB_IP" --port vnet-db --filter clean-traffic
assert "vm add spare (the elastic IP's other holder)" rc_ok vmgwc vm add spare --network vmnet \
  --mac 52:54:00:00:00:0c
vmgw_lab_dhcp || vmgw_die "DHCP did not complete in the VMs"
EIP=$(vmgwc -o json eip allocate | jq -r .address)
assert "eip allocate ($EIP)" test -n "$EIP"
assert "eip bind $EIP db" rc_ok vmgwc eip bind "$EIP" db

# udp_sender NS DEST FLOW-PORT NEW-PORT LOG: until $T/stop exists, "SEQ SENT_US" to DEST:FLOW-PORT
# on one socket and to DEST:NEW-PORT on a new socket each time; LOG gets every line sent.
# "read -t" on a pipe nobody writes to is a sleep without a fork.
udp_sender() {
  # shellcheck disable=SC2016  # the sender shell expands its own variables
  ip netns exec "$1" bash -c '
    exec 3>/dev/udp/'"$2/$3"' 5>>'"$5"'
    exec 6<> <(:)
    i=0
    while [[ ! -e '"$T/stop"' ]]; do
      i=$((i + 1)); l="$i ${EPOCHREALTIME/./}"
      echo "$l" >&3; echo "$l" >/dev/udp/'"$2/$4"'; echo "$l" >&5
      read -r -t '"$INTERVAL"' -u 6 _ || true
    done'
}
traffic_start=$(now_us)
udp_sender "$NS_DB" "$LAB_WEB_IP" 9998 9996 "$T/sent-db" >"$T/sender-db.log" 2>&1 &
s_db=$!
udp_sender "$NS_WEB" "$LAB_INET_ADDR" 9997 9995 "$T/sent-web" >"$T/sender-web.log" 2>&1 &
s_web=$!
# The TCP stream: a line every 10 ms; the number of lines sent goes to $T/tcp-sent at the end.
# shellcheck disable=SC2016
ip netns exec "$NS_DB" bash -c '
  exec 6<> <(:)
  { i=0
    while [[ ! -e '"$T/stop"' ]]; do
      i=$((i + 1)); echo "tcp-$i"
      read -r -t 0.01 -u 6 _ || true
    done
    echo "$i" >'"$T/tcp-sent"'
  } | socat -u - TCP:'"$LAB_WEB_IP"':9000,connect-timeout=3' >"$T/sender-tcp.log" 2>&1 &
s_tcp=$!

flowing() {
  local p
  for p in 9998 9996 9997 9995; do (($(lines "$T/recv-$p") > 50)) || return 1; done
  (($(lines "$T/recv-tcp") > 20))
}
assert "the five streams flow" vmgw_wait_for 10 flowing
sleep "$QUIET"

# The updates. $T/updates: "N KIND START_US END_US RC".
: >"$T/updates"
u=0 version=0 holder=db tmp=0 fails=0
updates_start=$(now_us)
while ((u < UPDATES)); do
  u=$((u + 1))
  case $((u % 4)) in
    1) version=$((version + 1)); policy "$version"; kind=filter
       cmd=(filter define "$T/svc.xml") ;;
    2) tmp=$((tmp + 1)); kind=vm-add
       cmd=(vm add "tmp$tmp" --network vmnet --mac "$(printf '52:54:00:01:%02x:%02x' $((tmp / 256 % 256)) $((tmp % 256)))") ;;
    3) if [[ $holder == db ]]; then holder=spare; else holder=db; fi; kind=eip-bind
       cmd=(eip bind "$EIP" "$holder") ;;
    0) kind=vm-remove
       cmd=(vm remove "tmp$tmp") ;;
  esac
  t0=$(now_us); rc=0
  vmgwc "${cmd[@]}" >"$T/out" 2>"$T/err" || rc=$?
  t1=$(now_us)
  echo "$u $kind $t0 $t1 $rc" >>"$T/updates"
  if ((rc != 0)); then
    fails=$((fails + 1))
    ((fails <= 5)) && echo "  update $u ($kind ${cmd[*]}) exit $rc: $(cat "$T/out" "$T/err")"
  fi
done
updates_end=$(now_us)
# Leave the last tmp VM removed whatever the count.
((u % 4 == 2 || u % 4 == 3)) && vmgwc vm remove "tmp$tmp" >/dev/null 2>&1
sleep "$QUIET"
traffic_end=$(now_us)
ct_entries=$(ip netns exec "$NS_GW" conntrack -C 2>/dev/null || echo "?")
touch "$T/stop"
wait "$s_db" || true
wait "$s_web" || true
tcp_rc=0; wait "$s_tcp" || tcp_rc=$?
sleep 1.5  # the last datagrams reach the receivers

elapsed_ms=$(((updates_end - updates_start) / 1000))
assert "$UPDATES updates, every one succeeded ($fails failed)" test "$fails" = 0
echo "updates: $u in $elapsed_ms ms: $(awk -v n="$u" -v ms="$elapsed_ms" 'BEGIN { printf "%.1f", n * 1000 / ms }') updates/s; conntrack entries in the gateway at the end: $ct_entries"
awk '{ d = ($4 - $3) / 1000; n[$2]++; s[$2] += d; if (d > m[$2]) m[$2] = d }
  END { for (k in n) printf "  %-9s %4d calls, %6.1f ms average, %6.1f ms max (CLI call, kernel transaction included)\n", k, n[k], s[k] / n[k], m[k] }' \
  "$T/updates" | sort

# loss_report NAME SENT RECV: per phase (before / during / after the updates) sent, received
# and lost; for each lost datagram (at most 20) the update running, or the last one finished,
# when it was sent. The last line is "NAME SENT RECEIVED LOST SENT-DURING RECEIVED-DURING", the
# last two over the update phase alone (from the first update's start to the last one's end).
loss_report() {
  awk -v name="$1" -v us="$updates_start" -v ue="$updates_end" -v te="$traffic_end" '
    FNR == 1 { file = 0; for (i = 1; i < ARGC; i++) if (FILENAME == ARGV[i]) file = i }
    file == 1 { n = $1; ks[n] = $2; st[n] = $3; en[n] = $4; next }
    file == 2 { sent[$1] = $2; next }
    file == 3 { got[$1] = 1; next }
    END {
      for (s in sent) {
        t = sent[s]
        if (t > te && !(s in got)) continue   # sent as the senders were told to stop
        p = (t < us) ? "before" : (t <= ue) ? "during" : "after"
        ns[p]++; tot++
        if (s in got) { ng[p]++; rec++; continue }
        nl[p]++; lost++
        if (++shown <= 20) {
          w = "before the first update"
          for (u = 1; u <= n; u++) {
            if (t >= st[u] && t <= en[u]) { w = "during update " u " (" ks[u] ")"; break }
            if (t > en[u]) w = "after update " u " (" ks[u] ") ended " int((t - en[u]) / 1000) " ms before"
          }
          printf "  %s: lost seq %d, sent %s\n", name, s, w
        }
      }
      printf "  %-13s sent/received/lost: before the updates %d/%d/%d, during %d/%d/%d, after %d/%d/%d\n",
        name, ns["before"], ng["before"], nl["before"], ns["during"], ng["during"], nl["during"],
        ns["after"], ng["after"], nl["after"]
      printf "%s %d %d %d %d %d\n", name, tot, rec, lost, ns["during"], ng["during"]
    }' "$T/updates" "$2" "$3"
}
total_lost=0
for s in "${STREAMS[@]}"; do
  read -r name _ port log <<<"$s"
  loss_report "$name" "$T/$log" "$T/recv-$port" >"$T/loss"
  head -n -1 "$T/loss"
  read -r _ sent got lost sent_during got_during < <(tail -n1 "$T/loss")
  summary+="$name $sent/$got ($((sent * 1000000 / (traffic_end - traffic_start)))/s); "
  assert "UDP $name (port $port): zero loss ($got of $sent received)" test "$lost" = 0
  # The quiet phases alone carry thousands of datagrams: this counts the update phase only, and
  # wants at least one datagram received per 20 ms of it (the senders send one per ~5-8 ms).
  assert "  it carried traffic during the updates: $got_during of $sent_during received in $elapsed_ms ms (at least $((elapsed_ms / 20)))" \
    bash -c "(( $got_during >= $elapsed_ms / 20 && $got_during > 0 ))"
  total_lost=$((total_lost + lost))
done
tcp_sent=$(cat "$T/tcp-sent" 2>/dev/null || echo 0)
tcp_got=$(lines "$T/recv-tcp")
# The longest silence at web's receiver of the long-lived flow (receive times), in ms.
gap_ms=$(awk 'NR > 1 { g = $3 - p; if (g > m) m = g } { p = $3 } END { printf "%d", m / 1000 }' "$T/recv-9998")
echo "traffic (UDP sent/received): ${summary}TCP lines $tcp_sent/$tcp_got; longest silence at web:9998 $gap_ms ms"

unmasked=$(ip netns exec "$NS_INET" nft list table ip lab | awk '/counter/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')
assert "the internet saw no datagram without masquerade (${unmasked:-?} dropped there)" test "${unmasked:-x}" = 0
assert "the senders reported no error" \
  bash -c "! grep . $T/sender-db.log $T/sender-web.log $T/sender-tcp.log"
assert "the TCP stream ended cleanly (socat exit $tcp_rc, no reset)" test "$tcp_rc" = 0
assert "the TCP stream delivered every line ($tcp_got of $tcp_sent)" \
  bash -c "(( $tcp_sent > 100 )) && [[ $tcp_got == $tcp_sent && \$(tail -n1 $T/recv-tcp) == tcp-$tcp_sent ]]"
vmgwc vm list >"$T/vms" 2>&1 || true
assert "no tmp VM left" not grep -E "\btmp[0-9]+\b" "$T/vms"

if ((total_lost > 0)); then
  echo "--- UDP counters in web and the internet namespace"
  ip netns exec "$NS_WEB" grep Udp: /proc/net/snmp
  ip netns exec "$NS_INET" grep Udp: /proc/net/snmp
  echo "--- gateway interface statistics"
  ip -n "$NS_GW" -s link | grep -A5 -E '^[0-9]+: (vnet|br-vm|wan0)' || true
  echo "--- vmgw log mentioning the streams' ports"
  vmgwc log 2>&1 | grep -E ':999[5-8]' | tail -20 || true
fi

vmgw_test_end
