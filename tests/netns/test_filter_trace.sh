#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: `vmgw trace` says what the kernel does. web is bound to clean-traffic and to a
# custom filter (web-policy: stateful accept/drop/reject rules both ways, a port range overridden
# by a higher-priority drop, a list variable, a rule of two ANDed elements with match='no', a
# default drop at priority 900); db has no filters. For a table of packets - sent by web (to the
# internet, to db, to the gateway itself) and sent to web (from db over the bridge, from the
# internet through port forwards and an elastic IP, from the gateway) - the test asks
# `vmgw -o json trace` for the verdict, then sends the real packet between the namespaces and
# watches what happens:
#   tcp:  connected = accept, "Connection refused" within 1 s = reject, no answer = drop
#         (every tested port has a listener, so "refused" cannot come from an empty port);
#   udp:  the receiver logged the datagram's unique token = accept, ICMP port unreachable
#         ("Connection refused" on the sender's connected socket) = reject, nothing = drop;
#   icmp: an echo reply = accept, none = drop.
# Every row must give trace == kernel == what the policy means (the "expect" column).
# Packets that come in through DNAT are traced as web's filter sees them: from the internet
# address to web's address and web's port. What the gateway itself sends web meets web's layer-2
# rules only, not its IP rules (as with libvirt): traced from the gateway's address.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq busybox
vmgw_test_begin filter_trace
vmgw_require_daemon
T=$VMGW_LAB/tmp
LAB_VM_GW=10.10.0.1  # the gateway's address on br-vm (examples/daemon.yaml)
vmgw_daemon_lab_up

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }

# web-policy. Rule numbers (the "web-policy rule N" of traces and counters) in the comments.
cat >"$T/web-policy.xml" <<EOF
<filter name='web-policy'>
  <!-- 1: DHCP requests to the gateway's dnsmasq (what web sends the host meets its IP rules;
       the replies, sent by the host itself, do not) -->
  <rule action='accept' direction='out' priority='100'>
    <udp srcportstart='68' dstportstart='67'/>
  </rule>
  <!-- 2-9: sent to web -->
  <rule action='accept' direction='in'><tcp dstportstart='80'/></rule>
  <rule action='reject' direction='in'><tcp dstportstart='81'/></rule>
  <rule action='drop' direction='in' priority='400'>
    <tcp dstportstart='8000' dstportend='8100'/>
  </rule>
  <rule action='accept' direction='in'><tcp dstportstart='8000' dstportend='8200'/></rule>
  <rule action='accept' direction='in'><tcp dstportstart='\$PORTS'/></rule>
  <rule action='accept' direction='in'>
    <tcp srcipaddr='10.10.0.0' srcipmask='24' dstportstart='22'/>
  </rule>
  <rule action='accept' direction='in'><udp srcipaddr='$LAB_DB_IP' dstportstart='5301'/></rule>
  <rule action='accept' direction='in'><icmp/></rule>
  <!-- 10-19: sent by web -->
  <rule action='accept' direction='out'><udp dstportstart='53'/></rule>
  <rule action='reject' direction='out'><udp dstportstart='5353'/></rule>
  <rule action='accept' direction='out'><tcp dstportstart='80'/></rule>
  <rule action='accept' direction='out'><tcp dstportstart='22'/></rule>
  <rule action='accept' direction='out'>
    <tcp dstportstart='443'/>
    <tcp match='no' dstipaddr='$LAB_INET_ADDR'/>
  </rule>
  <rule action='drop' direction='out'><tcp dstportstart='25'/></rule>
  <rule action='reject' direction='out'><tcp dstportstart='587'/></rule>
  <rule action='accept' direction='out'>
    <tcp dstipaddr='$LAB_INET_ADDR' dstportstart='8000' dstportend='8100'/>
  </rule>
  <rule action='drop' direction='out'><icmp type='8' dstipaddr='$LAB_DB_IP'/></rule>
  <rule action='accept' direction='out'><icmp/></rule>
  <!-- 20: everything else, both ways -->
  <rule action='drop' direction='inout' priority='900'><all/></rule>
</filter>
EOF

assert "filter define web-policy" rc_ok vmgwc filter define "$T/web-policy.xml"
assert "vm add web --filter clean-traffic --filter web-policy --param PORTS=8443 --param PORTS=9443" \
  rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web \
  --filter clean-traffic --filter web-policy --param PORTS=8443 --param PORTS=9443
assert "vm add db (no filters)" \
  rc_ok vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db
vmgw_lab_dhcp || true
assert "web gets $LAB_WEB_IP by DHCP through its filters" test "$(vmgw_ipv4_of "$NS_WEB")" = "$LAB_WEB_IP"
assert "db gets $LAB_DB_IP by DHCP" test "$(vmgw_ipv4_of "$NS_DB")" = "$LAB_DB_IP"

# Published services of web: port forwards on the uplink address and an elastic IP.
for fw in 8080:80 8081:81 8082:8050 8443:8443 2222:22; do
  assert "forward add $LAB_UPLINK_ADDR:${fw%:*} -> web:${fw#*:}" \
    rc_ok vmgwc forward add --public "$LAB_UPLINK_ADDR:${fw%:*}" --proto tcp --to "web:${fw#*:}"
done
EIP=$(vmgwc -o json eip allocate | jq -r '.address // empty') || EIP=""
assert "eip allocate: '$EIP'" test -n "$EIP"
EIP=${EIP:-no-eip}  # keeps the table's columns; its rows then fail without sending anything
assert "eip bind $EIP web" rc_ok vmgwc eip bind "$EIP" web

# Listeners: every TCP port a packet below goes to (plus the lab's inet:80, web:80, db:80,
# gw:22), and UDP receivers that log each datagram to $T/udp-ROLE-PORT.log.
ns_of() {
  case $1 in
    web) echo "$NS_WEB" ;; db) echo "$NS_DB" ;; inet) echo "$NS_INET" ;; gw) echo "$NS_GW" ;;
  esac
}
addr_of() {
  case $1 in
    web) echo "$LAB_WEB_IP" ;; db) echo "$LAB_DB_IP" ;; inet) echo "$LAB_INET_ADDR" ;; gw) echo "$LAB_VM_GW" ;;
  esac
}
udp_listening() { ip netns exec "$1" ss -Hlun "sport = :$2" | grep . >/dev/null; }
TCP_LISTENERS="web:22,81,8000,8050,8100,8101,8200,8201,8443,9443,10443 db:22,25,443,8050 inet:22,25,443,587,8050"
UDP_LISTENERS="web:5300,5301 inet:53,54,5353"
for_each_listener() {  # SPECS CMD: CMD ROLE PORT for each ROLE:PORT,PORT... of SPECS
  local spec port ports
  for spec in $1; do
    IFS=, read -ra ports <<<"${spec#*:}"
    for port in "${ports[@]}"; do "$2" "${spec%%:*}" "$port"; done
  done
}
tcp_listen() { vmgw_bg "$(ns_of "$1")" "tcp-$1-$2" socat "TCP-LISTEN:$2,fork,reuseaddr" /dev/null; }
udp_listen() {
  vmgw_bg "$(ns_of "$1")" "udp-$1-$2" socat -u "UDP-RECV:$2" "OPEN:$T/udp-$1-$2.log,creat,append"
}
tcp_wait() { vmgw_wait_for 5 vmgw_listening "$(ns_of "$1")" "$2" || vmgw_die "no tcp listener $1:$2"; }
udp_wait() { vmgw_wait_for 5 udp_listening "$(ns_of "$1")" "$2" || vmgw_die "no udp receiver $1:$2"; }
for_each_listener "$TCP_LISTENERS" tcp_listen
for_each_listener "$UDP_LISTENERS" udp_listen
for_each_listener "$TCP_LISTENERS" tcp_wait
for_each_listener "$UDP_LISTENERS" udp_wait

# The packets. dir: out (sent by web) or in (sent to web); from/to: the sending and receiving
# namespaces; dst:port: where the packet is sent (a public address for DNAT); vmport: the port
# web's filter sees (the trace's --dport for packets in); expect: what web-policy means.
# Traced as: out --dst <dst> --dport <port>; in --src <from's address> --dport <vmport>.
ROWS=$(
  cat <<EOF
out web  inet tcp  $LAB_INET_ADDR   80    80    accept  web -> internet http (rule 12)
out web  inet tcp  $LAB_INET_ADDR   22    22    accept  web -> internet ssh (rule 13)
out web  inet tcp  $LAB_INET_ADDR   25    25    drop    web -> internet smtp (rule 15)
out web  inet tcp  $LAB_INET_ADDR   587   587   reject  web -> internet submission (rule 16)
out web  inet tcp  $LAB_INET_ADDR   443   443   drop    web -> internet https: not(dst inet) fails
out web  inet tcp  $LAB_INET_ADDR   8050  8050  accept  web -> internet 8000-8100 (rule 17)
out web  db   tcp  $LAB_DB_IP       80    80    accept  web -> db http
out web  db   tcp  $LAB_DB_IP       22    22    accept  web -> db ssh
out web  db   tcp  $LAB_DB_IP       443   443   accept  web -> db https (rule 14, 2 elements)
out web  db   tcp  $LAB_DB_IP       25    25    drop    web -> db smtp
out web  db   tcp  $LAB_DB_IP       8050  8050  drop    web -> db 8050 (rule 17 is inet only)
out web  gw   tcp  $LAB_VM_GW       22    22    drop    web -> gateway ssh (host policy)
out web  gw   tcp  $LAB_VM_GW       80    80    drop    web -> gateway 80 (host policy)
out web  inet udp  $LAB_INET_ADDR   53    53    accept  web -> internet dns (rule 10)
out web  inet udp  $LAB_INET_ADDR   5353  5353  reject  web -> internet udp 5353 (rule 11)
out web  inet udp  $LAB_INET_ADDR   54    54    drop    web -> internet udp 54 (default)
out web  inet icmp $LAB_INET_ADDR   -     -     accept  web pings the internet (rule 19)
out web  db   icmp $LAB_DB_IP       -     -     drop    web pings db (rule 18)
out web  gw   icmp $LAB_VM_GW       -     -     accept  web pings the gateway (allow_ping)
in  db   web  tcp  $LAB_WEB_IP      80    80    accept  db -> web http (rule 2)
in  db   web  tcp  $LAB_WEB_IP      81    81    reject  db -> web 81 (rule 3)
in  db   web  tcp  $LAB_WEB_IP      8000  8000  drop    db -> web 8000 (rule 4, priority 400)
in  db   web  tcp  $LAB_WEB_IP      8050  8050  drop    db -> web 8050 (rule 4)
in  db   web  tcp  $LAB_WEB_IP      8100  8100  drop    db -> web 8100 (rule 4, its end)
in  db   web  tcp  $LAB_WEB_IP      8101  8101  accept  db -> web 8101 (rule 5)
in  db   web  tcp  $LAB_WEB_IP      8200  8200  accept  db -> web 8200 (rule 5, its end)
in  db   web  tcp  $LAB_WEB_IP      8201  8201  drop    db -> web 8201 (default)
in  db   web  tcp  $LAB_WEB_IP      8443  8443  accept  db -> web 8443 (\$PORTS[0])
in  db   web  tcp  $LAB_WEB_IP      9443  9443  accept  db -> web 9443 (\$PORTS[1])
in  db   web  tcp  $LAB_WEB_IP      10443 10443 drop    db -> web 10443 (not in \$PORTS)
in  db   web  tcp  $LAB_WEB_IP      22    22    accept  db -> web ssh (rule 7, from the subnet)
in  db   web  udp  $LAB_WEB_IP      5300  5300  drop    db -> web udp 5300 (default)
in  db   web  udp  $LAB_WEB_IP      5301  5301  accept  db -> web udp 5301 (rule 8, from db)
in  db   web  icmp $LAB_WEB_IP      -     -     accept  db pings web (rule 9)
in  inet web  tcp  $LAB_UPLINK_ADDR 8080  80    accept  internet -> forward 8080 -> web:80
in  inet web  tcp  $LAB_UPLINK_ADDR 8081  81    reject  internet -> forward 8081 -> web:81
in  inet web  tcp  $LAB_UPLINK_ADDR 8082  8050  drop    internet -> forward 8082 -> web:8050
in  inet web  tcp  $LAB_UPLINK_ADDR 8443  8443  accept  internet -> forward 8443 -> web:8443
in  inet web  tcp  $LAB_UPLINK_ADDR 2222  22    drop    internet -> forward 2222 -> web:22
in  inet web  tcp  $EIP             80    80    accept  internet -> eip:80
in  inet web  tcp  $EIP             9443  9443  accept  internet -> eip:9443
in  inet web  tcp  $EIP             8101  8101  accept  internet -> eip:8101
in  inet web  tcp  $EIP             8000  8000  drop    internet -> eip:8000
in  inet web  tcp  $EIP             22    22    drop    internet -> eip:22 (not from the subnet)
in  inet web  udp  $EIP             5301  5301  drop    internet -> eip udp 5301 (not from db)
in  inet web  icmp $EIP             -     -     accept  internet pings eip
in  gw   web  tcp  $LAB_WEB_IP      80    80    accept  gateway -> web http
in  gw   web  tcp  $LAB_WEB_IP      8050  8050  accept  gateway -> web 8050 (the host's own: no IP rules)
in  gw   web  udp  $LAB_WEB_IP      5300  5300  accept  gateway -> web udp 5300 (the host's own)
EOF
)
mapfile -t ROW <<<"$ROWS"

# What the kernel does with one packet: prints "VERDICT MS". MS is how long the probe itself
# took, timed inside the namespace (starting 48 "ip netns exec" at once is slow, a RST is not).
# in_ns_timed NS CMD...: CMD's output, then a last line "RC MS".
in_ns_timed() {
  local ns=$1; shift
  # shellcheck disable=SC2016  # expanded by the inner shell
  ip netns exec "$ns" bash -c \
    's=$(date +%s%3N); out=$("$@" 2>&1); rc=$?; printf "%s\n%s %s\n" "$out" "$rc" "$(($(date +%s%3N) - s))"' \
    _ "$@"
}
kernel_tcp() {  # NS ADDR PORT
  local out rc ms v
  out=$(in_ns_timed "$1" timeout 5 socat -u /dev/null "TCP:$2:$3,connect-timeout=2")
  read -r rc ms <<<"$(tail -n 1 <<<"$out")"
  if ((rc == 0)); then
    v=accept
  elif [[ $out == *"Connection refused"* ]]; then
    v=reject
  elif [[ $out == *"timed out"* || $rc == 124 ]]; then
    v=drop
  else
    v="error:$(printf '%s' "$out" | tr -s ' \n' '__' | cut -c1-60)"
  fi
  echo "$v $ms"
}
kernel_udp() {  # NS ADDR PORT RECEIVER-LOG TOKEN
  local out rc ms v
  out=$(printf '%s\n' "$5" | in_ns_timed "$1" timeout 5 socat -t 1 - "UDP:$2:$3")
  read -r rc ms <<<"$(tail -n 1 <<<"$out")"
  sleep 0.2
  if grep -x -- "$5" "$4" >/dev/null 2>&1; then
    v=accept
  elif [[ $out == *"Connection refused"* ]]; then
    v=reject
  elif ((rc == 0)); then
    v=drop
  else
    v="error:$(printf '%s' "$out" | tr -s ' \n' '__' | cut -c1-60)"
  fi
  echo "$v $ms"
}
kernel_icmp() {  # NS ADDR
  local out rc ms v=drop
  out=$(in_ns_timed "$1" timeout 5 busybox ping -c 1 -W 1 -q "$2")
  read -r rc ms <<<"$(tail -n 1 <<<"$out")"
  ((rc == 0)) && v=accept
  echo "$v $ms"
}
kernel_probe() {  # ROW-INDEX
  local dir from to proto dst port vmport expect note
  read -r dir from to proto dst port vmport expect note <<<"${ROW[$1]}"
  [[ $dst =~ ^[0-9]+(\.[0-9]+){3}$ ]] || { echo "error:no-address 0"; return; }
  case $proto in
    tcp) kernel_tcp "$(ns_of "$from")" "$dst" "$port" ;;
    udp) kernel_udp "$(ns_of "$from")" "$dst" "$port" "$T/udp-$to-$vmport.log" "token-$1-$RANDOM" ;;
    icmp) kernel_icmp "$(ns_of "$from")" "$dst" ;;
  esac
}
trace_args() {  # ROW-INDEX: the arguments of `vmgw trace` for the row's packet
  local dir from to proto dst port vmport expect note
  read -r dir from to proto dst port vmport expect note <<<"${ROW[$1]}"
  local a=(--vm web --dir "$dir" --proto "$proto")
  if [[ $dir == out ]]; then a+=(--dst "$dst"); else a+=(--src "$(addr_of "$from")"); fi
  if [[ $proto == icmp ]]; then a+=(--icmp-type 8); else a+=(--dport "$vmport"); fi
  printf '%s\n' "${a[@]}"
}

# Traces first (they change nothing), then every packet at once, in parallel (no two share a
# flow): the slowest, a dropped tcp SYN, takes 2 s.
for i in "${!ROW[@]}"; do
  mapfile -t args < <(trace_args "$i")
  vmgwc -o json trace "${args[@]}" >"$T/trace.$i" 2>&1 || true
done
vmgw_log "sending ${#ROW[@]} packets"
pids=()
for i in "${!ROW[@]}"; do
  kernel_probe "$i" >"$T/kernel.$i" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
# A refusal's time is the filter's only on a quiet machine: 49 probes started at once on two
# CPUs can spend a second in fork and exec before a socat sends. A reject that looked slow is
# probed again on its own (verdict and time both come from that probe).
retimed=0
for i in "${!ROW[@]}"; do
  read -r kv ms <"$T/kernel.$i" || continue
  if [[ $kv == reject ]] && ((ms >= 1000)); then
    kernel_probe "$i" >"$T/kernel.$i" 2>&1
    retimed=$((retimed + 1))
  fi
done
((retimed == 0)) || vmgw_log "$retimed slow refusals probed again on their own"

# One row per packet: trace == kernel == expect. A reject must be refused within 1 s.
row_ok() { [[ $1 == "$2" && $2 == "$3" ]] && { [[ $2 != reject ]] || (($4 < 1000)); }; }
printf '     %-3s %-3s %-4s %-4s %-21s %-6s %-6s %-6s %-6s %s\n' \
  "#" dir from proto dst:port vmport trace kernel expect "decided by (trace) / note"
for i in "${!ROW[@]}"; do
  read -r dir from to proto dst port vmport expect note <<<"${ROW[$i]}"
  tv=$(jq -r '.verdict // "error"' "$T/trace.$i" 2>/dev/null) || tv="error"
  by=$(jq -r '.decided_by // ""' "$T/trace.$i" 2>/dev/null) || by=$(head -c 80 "$T/trace.$i")
  read -r kv ms <"$T/kernel.$i" || { kv=error; ms=0; }
  line=$(printf '%-3s %-3s %-4s %-4s %-21s %-6s %-6s %-6s %-6s %s / %s' "$((i + 1))" "$dir" \
    "$from" "$proto" "$dst:$port" "$vmport" "$tv" "$kv" "$expect" "${by:--}" "$note")
  ((ms >= 1000)) && [[ $kv == reject ]] && line+=" (refused after $ms ms)"
  assert "$line" row_ok "$tv" "$kv" "$expect" "$ms"
done
assert "at least 30 packets compared (${#ROW[@]})" test "${#ROW[@]}" -ge 30

# The text form names the rule that decided, and the chain of steps that led there.
contains() { [[ $1 == *"$2"* ]] || { echo "  expected '$2' in:"; printf '%s\n' "$1" | sed 's/^/    /'; return 1; }; }
out=$(vmgwc trace --vm web --dir out --proto tcp --dst "$LAB_INET_ADDR" --dport 25 2>&1) || true
assert "trace (text) of web -> internet:25 names web-policy rule 15 as the dropping rule" \
  contains "$out" "l3 root: web-policy rule 15 matched: drop"
assert "trace (text) of web -> internet:25 ends with the verdict" \
  contains "$out" "verdict: drop (decided by web-policy rule 15)"
assert "trace (text) of web -> internet:25 shows layer 2 first (clean-traffic)" \
  contains "$out" "l2 root: jump mac"
out=$(vmgwc trace --vm web --dir in --proto tcp --src "$LAB_DB_IP" --dport 8050 2>&1) || true
assert "trace (text) of db -> web:8050 names the priority-400 drop (web-policy rule 4)" \
  contains "$out" "verdict: drop (decided by web-policy rule 4)"
out=$(vmgwc trace --vm web --dir in --proto tcp --src "$LAB_INET_ADDR" --dport 8201 2>&1) || true
assert "trace (text) of internet -> web:8201 names the default drop (web-policy rule 20)" \
  contains "$out" "verdict: drop (decided by web-policy rule 20)"

vmgw_test_end
