#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# Reliability, "no blink": a rule is toggled allow -> deny -> allow, several times, while traffic
# runs. Not one packet passes while the deny is in force, and traffic resumes after.
#
#   * web is bound to the filter "blink": version A accepts inbound UDP 9999 (and 9998), version
#     B does not (odd cycles: a drop rule for 9999 placed before the accept; even cycles: the
#     accept removed, so the final <all/> drop takes it). UDP 9998 stays allowed throughout: the
#     control stream, which shows that traffic was flowing inside every deny window.
#   * db sends numbered UDP datagrams to web:9999 and web:9998, a few hundred a second each, every
#     one carrying its send time (CLOCK_REALTIME, shared by all namespaces). The generator is
#     bash's /dev/udp redirection: one connected UDP socket per port, one write() per line, so
#     one datagram per line (socat reading from a pipe could merge lines into one datagram).
#   * web logs every datagram with its receive time.
#   * The test records, for each redefinition, when the CLI was started and when it returned;
#     vmgwd answers after the kernel transaction committed and after it cut the conntrack
#     entries the new rules no longer allow (the UDP flow to 9999 is one of them: without that
#     cut it would go on as an established flow, which is exactly what is under test).
#
# The race, and how it is handled: a datagram sent just before B commits may still be in flight
# and arrive after the CLI returned. So the deny window of cycle c is
#     W_c = (B_c returned, A_{c+1} started)
# by SEND time: any datagram sent strictly inside W_c is one the kernel met only with B's rules
# and an empty conntrack slot, and it must never arrive. Datagrams sent while B was being applied
# may or may not arrive (counted and printed). The timestamps are conservative: the send time is
# taken just before the write, the return time just after the CLI exited.
# After each A returned, every 9999 datagram sent must arrive (no loss): traffic resumes.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq conntrack
vmgw_test_begin reliability_no_blink
vmgw_require_daemon
T=$VMGW_LAB/tmp
CYCLES=${VMGW_BLINK_CYCLES:-5}
PHASE=${VMGW_BLINK_PHASE:-1.0}        # seconds spent in each state (allow, deny)
INTERVAL=${VMGW_BLINK_INTERVAL:-0.002} # pause between two datagrams of the sender
vmgw_daemon_lab_up

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
out_has() { grep -E -- "$1" "$T/out" >/dev/null || { echo "  no '$1' in: $(cat "$T/out")"; return 1; }; }
now_us() { echo "${EPOCHREALTIME/./}"; }

# policy A|B1|B2: write the filter "blink" in that version to $T/blink.xml.
policy() {
  {
    echo "<filter name='blink' chain='root'>"
    echo "  <!-- version $1 -->"
    [[ $1 == B1 ]] &&
      echo "  <rule action='drop' direction='in' priority='50'><udp dstportstart='9999'/></rule>"
    [[ $1 == B2 ]] ||
      echo "  <rule action='accept' direction='in' priority='100'><udp dstportstart='9999'/></rule>"
    echo "  <rule action='accept' direction='in' priority='100'><udp dstportstart='9998'/></rule>"
    echo "  <rule action='accept' direction='in' priority='100'><icmp/></rule>"
    echo "  <rule action='drop' direction='in' priority='900'><all/></rule>"
    echo "</filter>"
  } >"$T/blink.xml"
}

# Receivers in web: one line per datagram, "SEQ SENT_US RECV_US".
for port in 9999 9998; do
  # shellcheck disable=SC2016  # EPOCHREALTIME is the receiver shell's
  vmgw_bg "$NS_WEB" "recv-$port" bash -c \
    'socat -u UDP-RECV:'"$port"' - | while IFS= read -r l; do echo "$l ${EPOCHREALTIME/./}"; done >>'"$T/recv-$port"
done
udp_bound() { ip netns exec "$NS_WEB" ss -Hlun "sport = :$1" | grep . >/dev/null; }
for port in 9999 9998; do
  vmgw_wait_for 5 udp_bound "$port" || vmgw_die "UDP receiver on $port in web did not start"
done

policy A
assert "define blink (version A: udp 9999 allowed)" rc_ok vmgwc filter define "$T/blink.xml"
assert "vm add web --filter blink" rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" \
  --ip "$LAB_WEB_IP" --port vnet-web --filter blink
assert "vm add db" rc_ok vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" \
  --port vnet-db
vmgw_dhcp "$NS_WEB"; vmgw_dhcp "$NS_DB"
[[ $(vmgw_ipv4_of "$NS_WEB") == "$LAB_WEB_IP" && $(vmgw_ipv4_of "$NS_DB") == "$LAB_DB_IP" ]] ||
  vmgw_die "DHCP did not give the VMs their addresses"

# The sender in db: until $T/stop exists, "SEQ SENT_US" to both ports, and to $T/sent.
# "read -t" on a pipe nobody writes to is a sleep without a fork.
# shellcheck disable=SC2016  # the sender shell expands its own variables
ip netns exec "$NS_DB" bash -c '
  exec 3>/dev/udp/'"$LAB_WEB_IP"'/9999 4>/dev/udp/'"$LAB_WEB_IP"'/9998 5>>'"$T/sent"'
  exec 6<> <(:)
  i=0
  while [[ ! -e '"$T/stop"' ]]; do
    i=$((i + 1)); l="$i ${EPOCHREALTIME/./}"
    echo "$l" >&3; echo "$l" >&4; echo "$l" >&5
    read -r -t '"$INTERVAL"' -u 6 _ || true
  done' >"$T/sender.log" 2>&1 &
sender=$!

lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
flowing() { (($(lines "$T/recv-9999") > 50 && $(lines "$T/recv-9998") > 50)); }
assert "both streams flow before the first toggle" vmgw_wait_for 5 flowing

: >"$T/events"
# ct_9999: the number of conntrack entries of flows to udp/9999 ("error" if conntrack fails).
ct_9999() {
  local l
  l=$(ip netns exec "$NS_GW" conntrack -L -p udp --dport 9999 2>/dev/null) || { echo error; return; }
  grep -c . <<<"$l" || true
}
ct=$(ct_9999)
assert "conntrack tracks the flow to udp/9999 before the first toggle ($ct)" test "$ct" -ge 1
for c in $(seq 1 "$CYCLES"); do
  sleep "$PHASE"
  b=B$((2 - c % 2))
  policy "$b"
  t0=$(now_us); rc=0; vmgwc filter define "$T/blink.xml" >"$T/out" 2>"$T/err" || rc=$?; t1=$(now_us)
  echo "$c B $t0 $t1" >>"$T/events"
  assert "cycle $c: deny ($b) applied in $(((t1 - t0) / 1000)) ms" test "$rc" = 0
  assert "cycle $c:   the flow to 9999 was cut" out_has "; [1-9][0-9]* established flows it no longer allows cut"
  ct=$(ct_9999)
  assert "cycle $c:   conntrack holds no entry for udp/9999 during the deny ($ct)" test "$ct" = 0
  sleep "$PHASE"
  policy A
  t0=$(now_us); rc=0; vmgwc filter define "$T/blink.xml" >"$T/out" 2>"$T/err" || rc=$?; t1=$(now_us)
  echo "$c A $t0 $t1" >>"$T/events"
  assert "cycle $c: allow (A) applied in $(((t1 - t0) / 1000)) ms" test "$rc" = 0
done
sleep "$PHASE"
echo "end E $(now_us) 0" >>"$T/events"
touch "$T/stop"
wait "$sender" || true
sleep 1   # the last datagrams reach the receivers

# One awk pass over events, sent and both receive logs. Per cycle c, in $T/report:
#   deny_sent    9999 datagrams sent inside W_c (by send time)
#   leaked       of those, received in web: must be 0
#   ctl_sent/got control datagrams (9998) sent/received inside W_c: all must arrive
#   appl_sent/passed  9999 datagrams sent while B was being applied / of those, received (legit)
#   margin_ms    how long before B returned the last datagram that got through was sent: an upper
#                bound of the time between the kernel's switch and the CLI's return
#   res_sent/got 9999 datagrams sent after A returned (until the next B started) / received
# and one "leak CYCLE SEQ SENT-AFTER-B-RETURNED-US RECEIVED-AFTER-B-RETURNED-US" line per leak.
awk -v out="$T/report" '
  FNR == 1 { file = 0; for (i = 1; i < ARGC; i++) if (FILENAME == ARGV[i]) file = i }
  file == 1 {
    if ($2 == "B") { bs[$1] = $3; br[$1] = $4; n = $1 }
    else if ($2 == "A") { as[$1] = $3; ar[$1] = $4 }
    else end = $3
    next
  }
  file == 2 { sent[$1] = $2; next }            # sent: SEQ SENT_US
  file == 3 { got[$1] = $3; next }             # recv-9999: SEQ SENT_US RECV_US
  file == 4 { ctl[$1] = 1; next }              # recv-9998
  END {
    for (c = 1; c <= n; c++) lp[c] = bs[c]
    for (s in sent) {
      t = sent[s]
      for (c = 1; c <= n; c++) {
        nb = (c < n) ? bs[c + 1] : end
        if (t > br[c] && t < as[c]) {
          sd[c]++; if (s in got) { lk[c]++; leak[++nl] = c " " s " " t - br[c] " " got[s] - br[c] }
          cs[c]++; if (s in ctl) cg[c]++
        } else if (t >= bs[c] && t <= br[c]) {
          ap[c]++; if (s in got) { apg[c]++; if (t > lp[c]) lp[c] = t }
        } else if (t > ar[c] && t < nb) {
          rs[c]++; if (s in got) rg[c]++
        }
      }
    }
    for (c = 1; c <= n; c++)
      printf "%d %d %d %d %d %d %d %d %d %d %d %d\n", c, sd[c], lk[c], cs[c], cg[c], ap[c], apg[c], \
        (br[c] - lp[c]) / 1000, rs[c], rg[c], (br[c] - bs[c]) / 1000, (ar[c] - as[c]) / 1000 > out
    for (i = 1; i <= nl; i++) print "leak " leak[i] > out
  }' "$T/events" "$T/sent" "$T/recv-9999" "$T/recv-9998"

echo "sent $(lines "$T/sent") datagrams to each port; received 9999: $(lines "$T/recv-9999"), 9998: $(lines "$T/recv-9998")"
row() { printf '%-5s %-9s %-6s %-11s %-14s %-10s %-14s %-6s %-6s\n' "$@"; }
row cycle deny-sent leaked control sent-applying margin-ms after-A B-ms A-ms
tot_sd=0 tot_lk=0 tot_rs=0 tot_rg=0
while read -r c sd lk cs cg ap apg margin rs rg bms ams; do
  [[ $c == leak ]] && continue
  row "$c" "$sd" "$lk" "$cg/$cs" "$apg/$ap passed" "$margin" "$rg/$rs" "$bms" "$ams"
  assert "cycle $c: the sender was sending inside the deny window ($sd datagrams)" test "$sd" -gt 20
  assert "cycle $c: not one datagram sent after the deny returned got through ($lk)" test "$lk" = 0
  assert "cycle $c: the allowed control stream lost nothing in the window ($cg/$cs)" test "$cg" = "$cs"
  assert "cycle $c: after allow returned, 9999 resumed without loss ($rg/$rs)" \
    bash -c "(( $rs > 20 && $rg == $rs ))"
  tot_sd=$((tot_sd + sd)) tot_lk=$((tot_lk + lk)) tot_rs=$((tot_rs + rs)) tot_rg=$((tot_rg + rg))
done <"$T/report"
echo "summary: $CYCLES deny windows; $tot_sd datagrams sent inside them, $tot_lk got through; after allow: $tot_rg of $tot_rs delivered"
if grep '^leak' "$T/report" >/dev/null; then
  echo "leaked datagrams (cycle, seq, sent us after B returned, received us after B returned):"
  grep "^leak" "$T/report" | sort -k3,3n | head -20
  echo "--- conntrack (udp) now"; ip netns exec "$NS_GW" conntrack -L -p udp 2>&1 | head -20
  echo "--- nft list table inet vmgw"; ip netns exec "$NS_GW" nft list table inet vmgw
fi
assert "the sender reported no error" test ! -s "$T/sender.log"

vmgw_test_end
