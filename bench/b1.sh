# shellcheck shell=bash
# shellcheck disable=SC2016  # jq programs and awk code are in single quotes on purpose
# B1, dataplane: 64-byte UDP from a VM through the gateway to the internet, in packets per
# second, for N declared VMs, under three gateways built side by side:
#   none    the same forwarding and masquerade, no filtering at all;
#   linear  libvirt's layout: per-VM chains reached by one jump per interface (bench/gen.sh),
#           the sender's interface last in every list;
#   vmgw    vmgw apply of N VMs, each with clean-traffic and a filter of its own (10 rules).
# Each variant has its own three namespaces (VM, gateway, internet), identical but for the
# gateway's rules, so the variants can be measured in turns without reconfiguring anything:
# every round measures each variant once, in a rotating order, and the figure is the median.
#
#   [VM] eth0 10.0.0.10/16 --- vnet0 (in br-vm 10.0.0.1/16) [gateway] wan0 198.18.0.2/24
#        --- eth0 198.18.0.1/24 [internet]
#
# The internet namespace counts the datagrams in a named nft counter at ingress and drops them
# there (no socket, no receiving process competing for the 2 CPUs); the few longer "hello"
# datagrams that establish each flow first reach the echo responder. Packets per second are
# those counted at the internet namespace, over the sender's own measured duration.

B1_VARIANTS=(none linear vmgw)

# b1_topology VARIANT: the three namespaces of one variant, traffic receiver included.
b1_topology() {
  local v=$1 vm gw inet
  bench_ns_add "b1-$v-vm" "b1-$v-gw" "b1-$v-inet"
  vm=$(bench_ns "b1-$v-vm") gw=$(bench_ns "b1-$v-gw") inet=$(bench_ns "b1-$v-inet")
  vmgw_veth "$gw" vnet0 "$vm" eth0
  vmgw_veth "$gw" wan0 "$inet" eth0
  ip -n "$vm" link set eth0 address "$(bench_vm_mac 0)"
  ip -n "$vm" addr add "$(bench_vm_ip 0)/16" dev eth0
  ip -n "$vm" route add default via "$BENCH_NET_GW"
  ip -n "$inet" addr add "$BENCH_INET_ADDR/24" dev eth0
  # The measured datagrams (UDP length 8 + 18) are counted and dropped at ingress; the hello
  # datagrams are longer and go on to the echo responder.
  ip netns exec "$inet" nft -f - <<NFT
table netdev bench {
  counter rx {}
  chain ingress {
    type filter hook ingress device "eth0" priority 0; policy accept;
    udp dport $BENCH_UDP_PORT udp length $((8 + B1_PAYLOAD)) counter name rx drop
  }
}
NFT
  ip netns exec "$inet" setsid "$BENCH_UDP" echo --port "$BENCH_UDP_PORT" \
    </dev/null >>"$VMGW_LAB/logs/echo-$v.log" 2>&1 &
  disown 2>/dev/null || true
  if [[ $v != vmgw ]]; then
    # What vmgw apply sets up for its network and uplink, by hand.
    ip -n "$gw" link add br-vm type bridge
    ip -n "$gw" link set br-vm up
    ip -n "$gw" link set vnet0 master br-vm
    ip -n "$gw" addr add "$BENCH_NET_GW/16" dev br-vm
    ip -n "$gw" addr add "$BENCH_UPLINK_ADDR/24" dev wan0
    ip -n "$gw" route add default via "$BENCH_INET_ADDR" metric 100
    ip netns exec "$gw" sysctl -qw net.ipv4.ip_forward=1
  fi
  if [[ $v == none ]]; then
    # The same masquerade as the linear variant, so that only the filtering differs.
    ip netns exec "$gw" iptables-restore <<'IPT'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 10.0.0.0/16 -o wan0 -j MASQUERADE
COMMIT
IPT
  fi
}

# b1_configure VARIANT N: give the variant's gateway the rules for N VMs. Prints the seconds
# it took (for the log: the applies are B2's business).
b1_configure() {
  local v=$1 n=$2 gw t0 out=$VMGW_LAB/tmp
  gw=$(bench_ns "b1-$v-gw")
  t0=$(bench_now)
  case $v in
    none) ;;
    linear)
      bench_gen_linear_l2 "$out/b1-l2-$n.nft" "$n"
      bench_gen_linear_ipt "$out/b1-ipt-$n.txt" "$n" 0 0
      ip netns exec "$gw" iptables-restore "$out/b1-ipt-$n.txt"
      ip netns exec "$gw" nft -f "$out/b1-l2-$n.nft"
      ;;
    vmgw)
      bench_gen_filters "$out/b1-filters" "$n"
      bench_gen_yaml "$out/b1-$n.yaml" "$n" 0 0 "$out/b1-filters"
      ip netns exec "$gw" "$VMGW_BIN" apply -f "$out/b1-$n.yaml" --state-dir "$VMGW_LAB/state" \
        --run-dir "$VMGW_LAB/run" >"$out/b1-apply-$n.out" 2>&1 ||
        bench_die "vmgw apply of $n VMs failed: $(cat "$out/b1-apply-$n.out")"
      ;;
  esac
  bench_since "$t0"
}

# b1_counter VARIANT: the packets counted so far at the variant's internet namespace.
b1_counter() {
  ip netns exec "$(bench_ns "b1-$1-inet")" nft -j list counter netdev bench rx |
    jq '[.nftables[] | select(.counter) | .counter.packets][0]'
}

# b1_measure VARIANT: one measurement; prints "PPS_RECEIVED PPS_SENT".
b1_measure() {
  local v=$1 before after res secs sent
  before=$(b1_counter "$v")
  res=$(ip netns exec "$(bench_ns "b1-$v-vm")" "$BENCH_UDP" send --dst "$BENCH_INET_ADDR" \
    --port "$BENCH_UDP_PORT" --flows "$B1_FLOWS" --seconds "$B1_SECONDS" \
    --payload "$B1_PAYLOAD" --hello) || bench_die "the $v sender failed: $res"
  # The last datagrams may still be in flight through the queues for a moment.
  sleep 0.2
  after=$(b1_counter "$v")
  secs=$(jq .seconds <<<"$res")
  sent=$(jq .sent <<<"$res")
  awk -v a="$before" -v b="$after" -v s="$secs" -v n="$sent" \
    'BEGIN { printf "%.0f %.0f\n", (b - a) / s, n / s }'
}

# b1_run: the whole of B1, into $BENCH_JSON (.b1).
b1_run() {
  local v n rep i secs line pps sent order
  bench_log "B1: building three gateways (none, linear, vmgw), ${B1_N[*]} VMs, ${B1_REPS} x ${B1_SECONDS}s each"
  for v in "${B1_VARIANTS[@]}"; do b1_topology "$v"; done
  bench_json '.b1 = {n: $n, variants: ["none", "linear", "vmgw"], flows: $f, seconds: $s,
      repetitions: $r, payload_bytes: $p, results: []}' \
    --argjson n "$(printf '%s\n' "${B1_N[@]}" | jq -s .)" --argjson f "$B1_FLOWS" \
    --argjson s "$B1_SECONDS" --argjson r "$B1_REPS" --argjson p "$B1_PAYLOAD"
  for n in "${B1_N[@]}"; do
    for v in linear vmgw; do
      secs=$(b1_configure "$v" "$n")
      bench_log "B1: $v gateway holds $n VMs (${secs}s)"
    done
    bench_settle 60
    declare -A samples=() sent_samples=()
    for ((rep = 0; rep < B1_REPS; rep++)); do
      # Rotate the order, so that no variant always runs first (or right after another).
      order=()
      for ((i = 0; i < 3; i++)); do order+=("${B1_VARIANTS[(rep + i) % 3]}"); done
      for v in "${order[@]}"; do
        line=$(b1_measure "$v")
        read -r pps sent <<<"$line"
        samples[$v]+="$pps "
        sent_samples[$v]+="$sent "
        bench_log "B1: N=$n $v: $pps pps (sent $sent pps)"
      done
    done
    local none_median
    # shellcheck disable=SC2086  # word splitting of the sample lists is intended
    none_median=$(bench_median ${samples[none]})
    for v in "${B1_VARIANTS[@]}"; do
      local med sent_med samples_json
      # shellcheck disable=SC2086
      med=$(bench_median ${samples[$v]})
      # shellcheck disable=SC2086
      sent_med=$(bench_median ${sent_samples[$v]})
      # shellcheck disable=SC2086
      samples_json=$(printf "%s\n" ${samples[$v]} | jq -s .)
      bench_json '.b1.results += [{n: $n, variant: $v, pps: $pps, samples: $samples,
          sent_pps: $sent, ratio_to_none: $ratio}]' \
        --argjson n "$n" --arg v "$v" --argjson pps "$med" --argjson sent "$sent_med" \
        --argjson samples "$samples_json" \
        --argjson ratio "$(bench_ratio "$med" "$none_median")"
    done
    unset samples sent_samples
  done
  # The gateways go now: their kernel clean-up (bench_settle waits for it) and memory are not
  # left to weigh on B2.
  for v in "${B1_VARIANTS[@]}"; do bench_ns_del "b1-$v-vm" "b1-$v-gw" "b1-$v-inet"; done
}
