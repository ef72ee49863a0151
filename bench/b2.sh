# shellcheck shell=bash
# shellcheck disable=SC2016  # jq programs and awk code are in single quotes on purpose
# B2, control plane, and B4, footprint.
#
# B2 apply: "vmgw apply" of N VMs (clean-traffic + a filter of their own each), F port forwards
# and E elastic IPs into an empty gateway namespace, against the linear baseline's equivalent
# loaded the usual way: iptables-restore (filter and NAT), nft -f (the layer-2 part, libvirt's
# ebtables rules) and ip -batch (the bridge and the elastic IPs' addresses, which vmgw apply
# adds too). Then vmgw apply once more with nothing to change (what a configuration-management
# run does every time).
#
# B2 operations and B4: vmgwd in a gateway namespace with N VMs (clean-traffic, their own
# filter and the shared filter "tenant"), F forwards and E bound elastic IPs, seeded into its
# store by vmgw-bench-seed; then, through the API with curl: B4's idle and read-load footprint,
# and rounds of the five operations (add a VM, bind the spare elastic IP to it, add a port
# forward, remove the VM, which unbinds the elastic IP, redefine "tenant", which every VM uses),
# each timed by curl from request to answer.

# bench_time_cmd OUTFILE CMD...: run CMD, its output to OUTFILE; print the wall seconds. Fails
# (and says why) when CMD fails.
bench_time_cmd() {
  local out=$1 t0 rc=0
  shift
  t0=$(bench_now)
  "$@" >"$out" 2>&1 || rc=$?
  if ((rc != 0)); then
    bench_log "failed (exit $rc): $*"
    tail -n 5 "$out" >&2
    return 1
  fi
  bench_since "$t0"
}

# b2_uplink_ns ROLE: a gateway namespace with an uplink device wan0 (a veth whose peer stays in
# the same namespace: vmgw apply only needs the device to exist).
b2_uplink_ns() {
  bench_ns_add "$1"
  vmgw_veth "$(bench_ns "$1")" wan0 "$(bench_ns "$1")" wan0-peer
}

# b2_addr_batch FILE EIPS: what the baseline adds with ip: the bridge, its address, the uplink's
# address, the elastic IPs (/32 on the uplink), the default route.
b2_addr_batch() {
  awk -v eips="$2" "$BENCH_AWK_LIB"'BEGIN {
    print "link add br-vm type bridge"
    print "link set br-vm up"
    print "address add 10.0.0.1/16 dev br-vm"
    print "address add 198.18.0.2/24 dev wan0"
    for (e = 0; e < eips; e++) printf "address add %s/32 dev wan0\n", eip(e)
    print "route add default via 198.18.0.1 metric 100"
  }' >"$1"
}

# b2_apply_run: B2's full applies into $BENCH_JSON (.b2.apply).
b2_apply_run() {
  local n rep reps d=$VMGW_LAB/tmp gw apply reapply ipt l2 addr total rss
  bench_json '.b2.apply = {forwards: $f, elastic_ips: $e, results: []}' \
    --argjson f "$B2_FORWARDS" --argjson e "$B2_EIPS"
  for n in "${B2_APPLY_N[@]}"; do
    bench_log "B2: generating the scenario with $n VMs, $B2_FORWARDS forwards, $B2_EIPS elastic IPs"
    bench_gen_filters "$d/b2-filters" "$n"
    bench_gen_yaml "$d/b2-$n.yaml" "$n" "$B2_FORWARDS" "$B2_EIPS" "$d/b2-filters"
    bench_gen_linear_l2 "$d/b2-l2-$n.nft" "$n"
    bench_gen_linear_ipt "$d/b2-ipt-$n.txt" "$n" "$B2_FORWARDS" "$B2_EIPS"
    b2_addr_batch "$d/b2-addr.batch" "$B2_EIPS"
    reps=$B2_REPS
    ((n > 1000)) && reps=$B2_REPS_LARGE
    for ((rep = 0; rep < reps; rep++)); do
      bench_settle 120
      # vmgw first in odd repetitions, the baseline first in even ones.
      local first=vmgw
      ((rep % 2)) && first=linear
      for side in "$first" "$([[ $first == vmgw ]] && echo linear || echo vmgw)"; do
        if [[ $side == vmgw ]]; then
          b2_uplink_ns "b2-$n-$rep-vmgw"
          gw=$(bench_ns "b2-$n-$rep-vmgw")
          rss=null
          if [[ -x /usr/bin/time ]]; then
            apply=$(bench_time_cmd "$d/b2-apply.out" ip netns exec "$gw" /usr/bin/time -f 'maxrss_kib=%M' \
              "$VMGW_BIN" apply -f "$d/b2-$n.yaml" --state-dir "$VMGW_LAB/state" --run-dir "$VMGW_LAB/run") ||
              bench_die "vmgw apply of $n VMs failed"
            rss=$(sed -n 's/^maxrss_kib=//p' "$d/b2-apply.out" | tail -n1)
          else
            apply=$(bench_time_cmd "$d/b2-apply.out" ip netns exec "$gw" "$VMGW_BIN" apply \
              -f "$d/b2-$n.yaml" --state-dir "$VMGW_LAB/state" --run-dir "$VMGW_LAB/run") ||
              bench_die "vmgw apply of $n VMs failed"
          fi
          bench_log "B2: vmgw apply, $n VMs: ${apply}s ($(grep -v maxrss "$d/b2-apply.out" | head -c 200))"
          reapply=null
          if ((rep == 0)); then
            reapply=$(bench_time_cmd "$d/b2-reapply.out" ip netns exec "$gw" "$VMGW_BIN" apply \
              -f "$d/b2-$n.yaml" --state-dir "$VMGW_LAB/state" --run-dir "$VMGW_LAB/run") ||
              bench_die "vmgw re-apply of $n VMs failed"
            grep '^no changes' "$d/b2-reapply.out" >/dev/null ||
              bench_log "B2: WARNING: the second apply changed something: $(cat "$d/b2-reapply.out")"
            bench_log "B2: vmgw apply again (no change), $n VMs: ${reapply}s"
          fi
        else
          b2_uplink_ns "b2-$n-$rep-linear"
          gw=$(bench_ns "b2-$n-$rep-linear")
          ipt=$(bench_time_cmd "$d/b2-ipt.out" ip netns exec "$gw" iptables-restore "$d/b2-ipt-$n.txt") ||
            bench_die "iptables-restore of the linear ruleset failed"
          l2=$(bench_time_cmd "$d/b2-l2.out" ip netns exec "$gw" nft -f "$d/b2-l2-$n.nft") ||
            bench_die "nft -f of the linear layer-2 ruleset failed"
          addr=$(bench_time_cmd "$d/b2-addr.out" ip -n "$gw" -batch "$d/b2-addr.batch") ||
            bench_die "ip -batch of the baseline's addresses failed"
          total=$(awk -v a="$ipt" -v b="$l2" -v c="$addr" 'BEGIN { printf "%.6f", a + b + c }')
          bench_log "B2: linear baseline, $n VMs: iptables-restore ${ipt}s + nft ${l2}s + ip ${addr}s = ${total}s"
        fi
      done
      bench_json '.b2.apply.results += [{n: $n, rep: $rep, vmgw_apply_s: $apply,
          vmgw_apply_maxrss_kib: $rss, vmgw_reapply_s: $reapply, iptables_restore_s: $ipt,
          nft_l2_s: $l2, ip_addresses_s: $addr, linear_total_s: $total}]' \
        --argjson n "$n" --argjson rep "$rep" --argjson apply "$apply" --argjson rss "${rss:-null}" \
        --argjson reapply "$reapply" --argjson ipt "$ipt" --argjson l2 "$l2" \
        --argjson addr "$addr" --argjson total "$total"
      # The big namespaces go at once; bench_settle above waits for the kernel's clean-up.
      bench_ns_del "b2-$n-$rep-vmgw" "b2-$n-$rep-linear"
    done
  done
  # Medians per N, and the ratios.
  bench_json '.b2.apply.summary = [.b2.apply.results | group_by(.n)[] | {
      n: .[0].n, repetitions: length,
      vmgw_apply_s: ([.[].vmgw_apply_s] | sort | .[(length - 1) / 2 | floor]),
      vmgw_reapply_s: ([.[].vmgw_reapply_s | select(. != null)] | first),
      vmgw_apply_maxrss_kib: ([.[].vmgw_apply_maxrss_kib | select(. != null)] | max),
      iptables_restore_s: ([.[].iptables_restore_s] | sort | .[(length - 1) / 2 | floor]),
      linear_total_s: ([.[].linear_total_s] | sort | .[(length - 1) / 2 | floor])}
    | .ratio_to_iptables_restore = ((.vmgw_apply_s / .iptables_restore_s) * 1000 | round / 1000)
    | .ratio_to_linear_total = ((.vmgw_apply_s / .linear_total_s) * 1000 | round / 1000)]'
}

# --- the daemon: B2 operations and B4 -------------------------------------------------------

B2D_SOCKET=""
B2D_PID=""

# b2d_http METHOD PATH [BODY]: one API call; prints "HTTP_CODE SECONDS".
b2d_http() {
  local args=(-sS -o "$VMGW_LAB/tmp/b2d.body" -w '%{http_code} %{time_total}\n' --max-time 3600
    --unix-socket "$B2D_SOCKET" -X "$1")
  (($# >= 3)) && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  curl "${args[@]}" "http://vmgw$2" 2>>"$VMGW_LAB/logs/curl.log" || echo "000 0"
}

# b2d_start ROLE N FORWARDS EIPS: seed a store with the scenario and start vmgwd on it in a new
# gateway namespace; sets B2D_PID, B2D_SOCKET, and B2D_START_S (seconds until the API answered,
# the daemon having converged the empty kernel to the N VMs first) and B2D_SEED_S.
b2d_start() {
  local role=$1 n=$2 fwd=$3 eips=$4 d=$VMGW_LAB/tmp/$1 gw t0 deadline
  mkdir -p "$d/state" "$d/run"
  chmod 755 "$d" "$d/state" "$d/run"
  bench_gen_filters "$d/filters" "$n"
  bench_gen_shared_filter "$d/tenant.xml" 0
  bench_gen_seed "$d/seed.txt" "$n" "$fwd" "$eips" "$d/filters" "$d/tenant.xml"
  bench_gen_topology "$d/topology.yaml"
  B2D_SEED_S=$(bench_time_cmd "$d/seed.out" "$BENCH_SEED" "$d/state/vmgw.db" <"$d/seed.txt") ||
    bench_die "seeding the store failed"
  b2_uplink_ns "$role"
  gw=$(bench_ns "$role")
  B2D_SOCKET=$d/run/vmgw.sock
  t0=$(bench_now)
  ip netns exec "$gw" "$VMGWD_BIN" --config "$d/topology.yaml" --db "$d/state/vmgw.db" \
    --socket "$B2D_SOCKET" --state-dir "$d/state" --run-dir "$d/run" </dev/null \
    >>"$VMGW_LAB/logs/vmgwd-$role.log" 2>&1 &
  B2D_PID=$!
  disown "$B2D_PID" 2>/dev/null || true
  echo "$B2D_PID" >>"$VMGW_LAB/pids"
  # Bounded: the start converges the kernel to every VM first, which takes a while at 10 000.
  deadline=$((SECONDS + B2D_START_TIMEOUT))
  until curl -s -o /dev/null --max-time 5 --unix-socket "$B2D_SOCKET" http://vmgw/v1/status 2>/dev/null; do
    if ! vmgw_is_proc "$B2D_PID" vmgwd && ! vmgw_is_proc "$B2D_PID" ip; then
      tail -n 20 "$VMGW_LAB/logs/vmgwd-$role.log" >&2
      bench_die "vmgwd exited while starting with $n VMs"
    fi
    ((SECONDS < deadline)) || bench_die "vmgwd did not answer within ${B2D_START_TIMEOUT}s with $n VMs"
    sleep 0.2
  done
  B2D_START_S=$(bench_since "$t0")
}

b2d_stop() {
  [[ -n $B2D_PID ]] && vmgw_is_proc "$B2D_PID" vmgwd && kill -TERM "$B2D_PID" 2>/dev/null
  vmgw_wait_for 30 bash -c "! kill -0 $B2D_PID" || kill -9 "$B2D_PID" 2>/dev/null || true
  B2D_PID=""
}

# b4_sample SECONDS: the daemon's CPU use (in % of one CPU) over SECONDS, while idle.
b4_sample() {
  local c0 c1 t0
  c0=$(bench_proc_cpu "$B2D_PID")
  t0=$(bench_now)
  sleep "$1"
  c1=$(bench_proc_cpu "$B2D_PID")
  awk -v a="$c0" -v b="$c1" -v s="$(bench_since "$t0")" 'BEGIN { printf "%.1f", (b - a) / s * 100 }'
}

# b4_load SECONDS RATE N: RATE reads per second for SECONDS (every 100 ms one curl with RATE/10
# requests, each a connection of its own as the API wants); prints
# "CPU_PERCENT ACHIEVED_RATE P50_MS P99_MS".
b4_load() {
  local secs=$1 rate=$2 n=$3 per c0 c1 t0 tick=0 lat=$VMGW_LAB/tmp/b4-latency urls i k
  per=$((rate / 10))
  : >"$lat"
  c0=$(bench_proc_cpu "$B2D_PID")
  t0=$(bench_now)
  while (($(awk -v s="$(bench_since "$t0")" -v m="$secs" 'BEGIN { print (s < m) }'))); do
    urls=()
    for ((i = 0; i < per; i++)); do
      k=$((tick * per + i))
      case $((k % 4)) in
        0) urls+=(http://vmgw/v1/status) ;;
        1) urls+=("http://vmgw/v1/vms/$(bench_vm_name $((k % n)))") ;;
        2) urls+=(http://vmgw/metrics) ;;
        3) urls+=(http://vmgw/v1/networks) ;;
      esac
      urls+=(-o /dev/null)
    done
    curl -sS --max-time 30 --unix-socket "$B2D_SOCKET" -w '%{time_total}\n' "${urls[@]}" \
      >>"$lat" 2>>"$VMGW_LAB/logs/curl.log" || true
    tick=$((tick + 1))
    # The next batch starts at the next 100 ms mark (none when we are late).
    local wait_s
    wait_s=$(awk -v t="$tick" -v s="$(bench_since "$t0")" 'BEGIN { w = t / 10 - s; printf "%.3f", (w > 0 ? w : 0) }')
    sleep "$wait_s"
  done
  c1=$(bench_proc_cpu "$B2D_PID")
  local elapsed count
  elapsed=$(bench_since "$t0")
  count=$(wc -l <"$lat")
  printf '%s %s %s %s\n' \
    "$(awk -v a="$c0" -v b="$c1" -v s="$elapsed" 'BEGIN { printf "%.1f", (b - a) / s * 100 }')" \
    "$(awk -v c="$count" -v s="$elapsed" 'BEGIN { printf "%.1f", c / s }')" \
    "$(awk '{ print $1 * 1000 }' "$lat" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", NR ? v[int((NR + 1) / 2)] : 0 }')" \
    "$(awk '{ print $1 * 1000 }' "$lat" | sort -g | awk '{ v[NR] = $1 } END { r = int(0.99 * NR + 0.999999); printf "%.2f", NR ? v[r] : 0 }')"
}

# b2_ops_run N: the daemon at N VMs: B4 (when asked) and the operations, into $BENCH_JSON.
b2_ops_run() {
  local n=$1 with_b4=$2 role="b2d-$1" d rounds=0 j t0 code secs kind body ops_dir
  bench_settle 120
  bench_log "B2: starting vmgwd with $n VMs, $B2_FORWARDS forwards, $B2_EIPS elastic IPs (seeded store)"
  b2d_start "$role" "$n" "$B2_FORWARDS" "$B2_EIPS"
  bench_log "B2: vmgwd answered after ${B2D_START_S}s (RSS $(($(bench_proc_kib "$B2D_PID" VmRSS) / 1024)) MiB)"
  d=$VMGW_LAB/tmp/$role
  local entry
  entry=$(jq -n --argjson n "$n" --argjson seed "$B2D_SEED_S" --argjson start "$B2D_START_S" \
    --argjson rss "$(bench_proc_kib "$B2D_PID" VmRSS)" --argjson hwm "$(bench_proc_kib "$B2D_PID" VmHWM)" \
    '{n: $n, seed_s: $seed, start_s: $start, rss_after_start_kib: $rss, hwm_after_start_kib: $hwm}')

  if [[ $with_b4 == yes ]]; then
    bench_settle 30
    local idle_cpu rss_idle load
    idle_cpu=$(b4_sample "$B4_IDLE_SECONDS")
    rss_idle=$(bench_proc_kib "$B2D_PID" VmRSS)
    bench_log "B4: idle: ${idle_cpu}% CPU, RSS $((rss_idle / 1024)) MiB"
    load=$(b4_load "$B4_LOAD_SECONDS" "$B4_RATE" "$n")
    read -r load_cpu load_rate load_p50 load_p99 <<<"$load"
    bench_log "B4: $load_rate reads/s: ${load_cpu}% CPU, p50 ${load_p50} ms, p99 ${load_p99} ms"
    bench_json '.b4 = {n: $n, idle_seconds: $is, idle_cpu_percent: $ic, rss_idle_kib: $ri,
        load_seconds: $ls, load_target_rate: $lt, load_rate: $lr, load_cpu_percent: $lc,
        load_p50_ms: $lp50, load_p99_ms: $lp99, rss_after_load_kib: $rl, hwm_kib: $hwm,
        start_s: $start, note: "reads: GET /v1/status, /v1/vms/NAME, /metrics, /v1/networks in turn"}' \
      --argjson n "$n" --argjson is "$B4_IDLE_SECONDS" --argjson ic "$idle_cpu" \
      --argjson ri "$rss_idle" --argjson ls "$B4_LOAD_SECONDS" --argjson lt "$B4_RATE" \
      --argjson lr "$load_rate" --argjson lc "$load_cpu" --argjson lp50 "$load_p50" \
      --argjson lp99 "$load_p99" --argjson rl "$(bench_proc_kib "$B2D_PID" VmRSS)" \
      --argjson hwm "$(bench_proc_kib "$B2D_PID" VmHWM)" --argjson start "$B2D_START_S"
  fi

  # The seeded spare elastic IP (allocated, unbound): each round binds it to the VM it has just
  # added (which holds none; the seeded VMs may all hold one), and removing that VM unbinds it.
  local spare
  spare=$(awk -v e="$B2_EIPS" "$BENCH_AWK_LIB"'BEGIN { print eip(e) }')

  ops_dir=$d/ops
  mkdir -p "$ops_dir"
  local kinds=(add_vm bind_eip add_forward remove_vm redefine_filter)
  for kind in "${kinds[@]}"; do : >"$ops_dir/$kind"; done
  : >"$ops_dir/errors"
  local cpu0 budget_start
  cpu0=$(bench_proc_cpu "$B2D_PID")
  budget_start=$SECONDS
  bench_log "B2: operations at N=$n: up to $B2_OPS rounds of ${kinds[*]} (budget ${B2_OPS_BUDGET}s, at least $B2_OPS_MIN rounds)"
  for ((j = 0; j < B2_OPS; j++)); do
    if ((j >= B2_OPS_MIN && SECONDS - budget_start >= B2_OPS_BUDGET)); then
      bench_log "B2: time budget spent after $j rounds"
      break
    fi
    local vm_name target mac ip
    vm_name=$(printf 'bench-add-%03d' "$j")
    mac=$(printf '52:54:00:cd:%02x:%02x' $((j / 256)) $((j % 256)))
    ip="10.0.$((200 + j / 250)).$((j % 250 + 1))"
    target=$(bench_vm_name $((j % n)))
    for kind in "${kinds[@]}"; do
      case $kind in
        add_vm)
          body="{\"name\": \"$vm_name\", \"network\": \"vms\", \"mac\": \"$mac\", \"ip\": \"$ip\", \"port\": \"vadd$j\", \"filters\": [{\"filter\": \"clean-traffic\"}, {\"filter\": \"tenant\"}]}"
          read -r code secs < <(b2d_http POST /v1/vms "$body") ;;
        bind_eip)
          read -r code secs < <(b2d_http POST "/v1/eips/$spare/bind" "{\"vm\": \"$vm_name\"}") ;;
        add_forward)
          read -r code secs < <(b2d_http POST /v1/forwards \
            "{\"public\": \"$BENCH_UPLINK_ADDR:$((40000 + j))\", \"proto\": \"tcp\", \"to\": \"$target:80\"}") ;;
        remove_vm)
          read -r code secs < <(b2d_http DELETE "/v1/vms/$vm_name") ;;
        redefine_filter)
          # Seconds each at 10 000 VMs: fewer rounds than the others, so that those reach 100.
          ((j < B2_REDEFINES)) || continue
          bench_gen_shared_filter "$d/tenant.xml" $((j + 1))
          read -r code secs < <(b2d_http POST /v1/filters "$(jq -Rs '{xml: .}' "$d/tenant.xml")") ;;
      esac
      if [[ $code == 200 || $code == 201 ]]; then
        echo "$secs" >>"$ops_dir/$kind"
      else
        echo "$kind round $j: HTTP $code: $(head -c 300 "$VMGW_LAB/tmp/b2d.body")" >>"$ops_dir/errors"
        bench_log "B2: $kind round $j failed: HTTP $code: $(head -c 300 "$VMGW_LAB/tmp/b2d.body")"
      fi
      ((j < 2 || n > 1000)) && bench_log "B2: N=$n round $j $kind: HTTP $code in ${secs}s"
    done
    rounds=$((j + 1))
  done
  local cpu1 ops_json="{}" count planned
  cpu1=$(bench_proc_cpu "$B2D_PID")
  for kind in "${kinds[@]}"; do
    count=$(wc -l <"$ops_dir/$kind")
    planned=$B2_OPS
    [[ $kind == redefine_filter ]] && planned=$((B2_REDEFINES < B2_OPS ? B2_REDEFINES : B2_OPS))
    ops_json=$(jq --arg k "$kind" --argjson c "$count" --argjson t "$planned" \
      --argjson p50 "$(bench_percentile 50 "$ops_dir/$kind")" \
      --argjson p99 "$(bench_percentile 99 "$ops_dir/$kind")" \
      --argjson max "$(bench_percentile 100 "$ops_dir/$kind")" \
      '.[$k] = {count: $c, target: $t, p50_s: $p50, p99_s: $p99, max_s: $max}' <<<"$ops_json")
  done
  entry=$(jq --argjson rounds "$rounds" --argjson target "$B2_OPS" --argjson ops "$ops_json" \
    --argjson errors "$(jq -Rs 'split("\n") | map(select(length > 0))' "$ops_dir/errors")" \
    --argjson cpu "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')" \
    --argjson rss "$(bench_proc_kib "$B2D_PID" VmRSS)" --argjson hwm "$(bench_proc_kib "$B2D_PID" VmHWM)" \
    '. + {rounds: $rounds, target_rounds: $target, ops: $ops, errors: $errors,
          daemon_cpu_s_during_ops: $cpu, rss_after_ops_kib: $rss, hwm_after_ops_kib: $hwm}' <<<"$entry")
  bench_json '.b2.daemon += [$e]' --argjson e "$entry"
  [[ $with_b4 == yes ]] && bench_json '.b4.hwm_after_ops_kib = $h' --argjson h "$(bench_proc_kib "$B2D_PID" VmHWM)"
  b2d_stop
  bench_ns_del "$role"
}
