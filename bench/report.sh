# shellcheck shell=bash
# shellcheck disable=SC2016  # jq programs and awk code are in single quotes on purpose
# The report: results.md (Markdown tables) and b1.png, both made from results.json alone, so
# the JSON is the one record of a run and the report can be made again from it:
#   bash -c 'source bench/report.sh; bench_report DIR'

# The goals of the control plane (issue 13; B3's from issue 5), evaluated from the JSON (measured
# against, never asserted). Each goal is {goal, measured, met}; met is null when the run did not
# measure it (a quick run's small N).
BENCH_JQ_GOALS='
def r3: (. * 1000 | round) / 1000;
def ms: . * 1000 | r3 | tostring + " ms";
def b1(n; v): [.b1.results[]? | select(.n == n and .variant == v) | .pps] | first;
def b1r(n; v): [.b1.results[]? | select(.n == n and .variant == v) | .ratio_to_none] | first;
def apply(n): [.b2.apply.summary[]? | select(.n == n)] | first;
def daemon(n): [.b2.daemon[]? | select(.n == n)] | first;
def singles: [.ops | to_entries[] | select(.key != "redefine_filter")];
[
  (b1r(1; "vmgw") as $a | b1r(10000; "vmgw") as $b |
   {goal: "B1: vmgw >= 0.8 x no filtering at N=1 and at N=10 000",
    measured: (if $a and $b then "\($a) at N=1, \($b) at N=10 000" else "not measured (N=1 and 10 000 not both in this run)" end),
    met: (if $a and $b then ([$a, $b] | min) >= 0.8 else null end)}),
  (b1(10000; "vmgw") as $a | b1(1; "vmgw") as $b | b1r(10000; "vmgw") as $ra | b1r(1; "vmgw") as $rb |
   {goal: "B1: vmgw at N=10 000 >= 0.9 x vmgw at N=1",
    measured: (if $a and $b then "\($a / $b | r3) raw; \($ra / $rb | r3) with each N normalised by its no-filter figure" else "not measured (N=10 000 not in this run)" end),
    met: (if $a and $b then (([$a / $b, $ra / $rb] | min) >= 0.9) else null end)}),
  (apply(10000) as $x |
   {goal: "B2: full apply at N=10 000 within 1.5 s and 0.5 x the linear baseline",
    measured: (if $x then "\($x.vmgw_apply_s | r3) s, \($x.ratio_to_linear_total) x" else "not measured (N=10 000 not in this run)" end),
    met: (if $x then ($x.vmgw_apply_s <= 1.5 and $x.ratio_to_linear_total <= 0.5) else null end)}),
  (apply(10000) as $x |
   {goal: "B2: vmgw apply with nothing to change at N=10 000 within 0.5 s; its peak RSS within 512 MiB",
    measured: (if $x then "\($x.vmgw_reapply_s | r3) s; peak \($x.vmgw_apply_maxrss_kib / 1024 | round) MiB" else "not measured (N=10 000 not in this run)" end),
    met: (if $x then ($x.vmgw_reapply_s <= 0.5 and $x.vmgw_apply_maxrss_kib <= 524288) else null end)}),
  (daemon(10000) as $d |
   {goal: "B2: single operations at N=10 000, p50 within 5 ms and p99 within 20 ms",
    measured: (if $d then ([$d | singles[] | "\(.key) \(if .value.p50_s then (.value.p50_s | ms) + " / " + (.value.p99_s | ms) else "-" end)"] | join(", ")) else "not measured (N=10 000 not in this run)" end),
    met: (if $d then ([$d | singles[] | .value | (.p50_s != null and .p50_s <= 0.005 and .p99_s <= 0.020)] | all) else null end)}),
  ([.b2.daemon[]?.n] | max) as $top | daemon(1000) as $small | daemon($top) as $big |
   {goal: "B2: single operations at the largest N within 1.5 x their p50 at N=1 000",
    measured: (if $small and $big and $top > 1000 then "N=\($top): " + ([$big | singles[] | .key as $k | "\($k) \((.value.p50_s / $small.ops[$k].p50_s) | r3) x"] | join(", ")) else "not measured (N=1 000 and a larger N not both in this run)" end),
    met: (if $small and $big and $top > 1000 then ([$big | singles[] | .key as $k | .value.p50_s <= 1.5 * $small.ops[$k].p50_s] | all) else null end)},
  (daemon(10000) as $d |
   {goal: "B2: redefining a filter used by 10 000 VMs within 200 ms, p50",
    measured: (if $d and $d.ops.redefine_filter.p50_s then "p50 \($d.ops.redefine_filter.p50_s | r3) s" else "not measured" end),
    met: (if $d and $d.ops.redefine_filter.p50_s then $d.ops.redefine_filter.p50_s <= 0.2 else null end)}),
  (daemon(10000) as $d |
   {goal: "B2: vmgwd start (converge from an empty kernel) at N=10 000 within 3 s",
    measured: (if $d then "\($d.start_s | r3) s" else "not measured" end),
    met: (if $d then $d.start_s <= 3 else null end)}),
  (.b3 as $f |
   {goal: "B3: failover (silent drop, probes alone) within 1 s, p50",
    measured: (if $f.silent_p50_ms then "p50 \($f.silent_p50_ms) ms (link down: \($f.linkdown_p50_ms) ms)" else "not measured" end),
    met: (if $f.silent_p50_ms then $f.silent_p50_ms <= 1000 else null end)}),
  (.b3 as $f |
   {goal: "B3: no false failover under 10% probe loss",
    measured: (if $f.loss_seconds then "\($f.false_failovers) in \($f.loss_seconds) s" else "not measured" end),
    met: (if $f.loss_seconds then $f.false_failovers == 0 else null end)}),
  (.b4 as $b |
   {goal: "B4: vmgwd at 10 000 VMs: idle within 64 MiB, peak within 512 MiB",
    measured: (if $b then "idle \($b.rss_idle_kib / 1024 | round) MiB, peak \(([$b.hwm_kib, $b.hwm_after_ops_kib // 0] | max) / 1024 | round) MiB at N=\($b.n)" else "not measured" end),
    met: (if $b and $b.n == 10000 then ($b.rss_idle_kib <= 65536 and ([$b.hwm_kib, $b.hwm_after_ops_kib // 0] | max) <= 524288) else null end)})
]'

# bench_report DIR: write DIR/results.md and DIR/b1.png from DIR/results.json.
bench_report() {
  local dir=$1 json=$1/results.json
  jq '.goals = ('"$BENCH_JQ_GOALS"')' "$json" >"$json.tmp" && mv -f "$json.tmp" "$json"
  jq -r -f /dev/stdin "$json" >"$dir/results.md" <<'JQ'
def r3: (. * 1000 | round) / 1000;
def num: if . == null then "-" else tostring end;
def int_fmt: if . == null then "-" else (round | tostring) as $s | ($s | length) as $l |
  [range(0; $l) as $i | $s[$i:$i + 1] + (if $i < $l - 1 and ($l - $i - 1) % 3 == 0 then " " else "" end)] | join("") end;
def secs: if . == null then "-" elif . < 0.1 then "\(. * 1000 | r3) ms" else "\(. | r3) s" end;
def mib: if . == null then "-" else "\(. / 1024 | round) MiB" end;
def met: if . == true then "yes" elif . == false then "**no**" else "n/a" end;
"# vmgw benchmark: \(.meta.mode) run, \(.meta.date)",
"",
"Machine: \(.meta.machine.nproc) x \(.meta.machine.cpu), \(.meta.machine.memory), kernel \(.meta.machine.kernel), Debian \(.meta.machine.debian); nftables \(.meta.machine.nft), \(.meta.machine.iptables). vmgw \(.meta.commit). Wall time \(.meta.wall_s // 0 | round) s.",
"",
"## B1 dataplane: \(.b1.payload_bytes // 18)-byte UDP payloads (64-byte frames), \(.b1.flows) flows, VM -> gateway -> internet",
"",
"Packets per second received at the internet namespace, median of \(.b1.repetitions) x \(.b1.seconds) s per variant, variants interleaved. linear: the sender is the last of N interfaces in every list.",
"",
"| N VMs | none (pps) | linear (pps) | vmgw (pps) | linear / none | vmgw / none | vmgw / linear |",
"| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
(.b1.results // [] | group_by(.n)[] | (map({(.variant): .}) | add) as $v |
 "| \($v.none.n | int_fmt) | \($v.none.pps | int_fmt) | \($v.linear.pps | int_fmt) | \($v.vmgw.pps | int_fmt) | \($v.linear.ratio_to_none | num) | \($v.vmgw.ratio_to_none | num) | \(if $v.linear.pps > 0 then ($v.vmgw.pps / $v.linear.pps | r3) else "-" end | num) |"),
"",
"## B2 control plane: full apply (N VMs + \(.b2.apply.forwards // 0 | int_fmt) port forwards + \(.b2.apply.elastic_ips // 0 | int_fmt) elastic IPs, into an empty gateway)",
"",
"| N VMs | vmgw apply | vmgw apply again (no change) | vmgw apply peak RSS | iptables-restore | linear total (iptables-restore + nft + ip) | vmgw / iptables-restore | vmgw / linear total | runs |",
"| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
(.b2.apply.summary // [] | .[] |
 "| \(.n | int_fmt) | \(.vmgw_apply_s | secs) | \(.vmgw_reapply_s | secs) | \(.vmgw_apply_maxrss_kib | mib) | \(.iptables_restore_s | secs) | \(.linear_total_s | secs) | \(.ratio_to_iptables_restore | num) | \(.ratio_to_linear_total | num) | \(.repetitions) |"),
"",
"## B2 control plane: single operations through vmgwd's API (curl, request to answer)",
"",
"| N VMs | vmgwd start (converge) | operation | count | p50 | p99 | max |",
"| ---: | ---: | --- | ---: | ---: | ---: | ---: |",
(.b2.daemon // [] | .[] | . as $d | ($d.ops | to_entries[]) |
 "| \($d.n | int_fmt) | \($d.start_s | secs) | \(.key | gsub("_"; " ")) | \(.value.count)\((.value.target // $d.target_rounds) as $t | if .value.count < $t then " of \($t)" else "" end) | \(.value.p50_s | secs) | \(if .value.count >= 100 then (.value.p99_s | secs) else "(n<100) \(.value.p99_s | secs)" end) | \(.value.max_s | secs) |"),
(.b2.daemon // [] | .[] | select(.errors | length > 0) | "", "Errors at N=\(.n) (\(.errors | length)): \(.errors[:3] | join("; "))\(if (.errors | length) > 3 then "; ..." else "" end) (all in results.json)"),
"",
"## B3 failover: from taking isp1 out to the first packet of a running flow through isp2",
"",
(if .b3.status then "Not measured: \(.b3.status)" else
 "Trials per kind: \(.b3.silent_ms | length). Baseline of the silent drop: the configured detection time, down_after x interval = \(.b3.detection_budget_ms) ms.",
 "",
 "| isp1 | p50 | p90 | max | every trial (ms) | p50 / detection time |",
 "| --- | ---: | ---: | ---: | --- | ---: |",
 (["linkdown", "silent"][] as $k | .b3["\($k)_ms"] as $s | ($s | map(select(. != null)) | sort) as $v |
  "| \(if $k == "silent" then "drops everything, link up (probes)" else "link down (carrier)" end) | \($v[($v | length - 1) / 2 | floor] // "-") ms | \($v[($v | length) * 0.9 | floor] // $v[-1] // "-") ms | \($v[-1] // "-") ms | \($s | map(. // "never") | join(", ")) | \(if $k == "silent" then (.b3.silent_to_budget | num) else "-" end) |"),
 "",
 "False failovers with 10% of isp1's probes lost at random for \(.b3.loss_seconds) s: \(.b3.false_failovers)." end),
"",
"## B4 footprint: vmgwd with \(.b4.n | int_fmt) VMs",
"",
"| RSS idle | peak RSS since start | peak RSS after the B2 operations | CPU idle | reads/s (target \(.b4.load_target_rate // "-")) | CPU under that load | read p50 | read p99 |",
"| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
(.b4 // empty | "| \(.rss_idle_kib | mib) | \(.hwm_kib | mib) | \(.hwm_after_ops_kib | mib) | \(.idle_cpu_percent)% | \(.load_rate) | \(.load_cpu_percent)% | \(.load_p50_ms) ms | \(.load_p99_ms) ms |"),
"",
"## Goals (measured against, not asserted)",
"",
"| goal | measured | met |",
"| --- | --- | --- |",
(.goals[] | "| \(.goal) | \(.measured) | \(.met | met) |"),
(if .gate then "", "Quick-run check (fails only when vmgw loses to its own baseline by a wide margin): \(.gate.verdict)\(if (.gate.reasons | length) > 0 then ": " + (.gate.reasons | join("; ")) else "" end)" else empty end)
JQ
  bench_plot_b1 "$dir"
}

# bench_plot_b1 DIR: DIR/b1.png, packets per second against N for each variant (gnuplot).
bench_plot_b1() {
  local dir=$1 data=$1/b1.dat term=pngcairo
  command -v gnuplot >/dev/null || { bench_log "gnuplot missing: no b1.png"; return 0; }
  jq -r '.b1.results // [] | group_by(.n)[] | (map({(.variant): .pps}) | add) as $v |
    "\(.[0].n) \($v.none // "NaN") \($v.linear // "NaN") \($v.vmgw // "NaN")"' \
    "$dir/results.json" >"$data"
  [[ -s $data ]] || return 0
  gnuplot -e 'set terminal' 2>&1 | grep -w pngcairo >/dev/null || term=png
  gnuplot <<GP
set terminal $term size 900,560
set output "$dir/b1.png"
set title "B1: 64-byte UDP forwarded VM -> internet (median packets/s)"
set xlabel "VMs declared (N)"
set ylabel "packets per second"
set logscale x
set xrange [0.5:20000]
set yrange [0:*]
set grid
set key bottom left
set format y "%.0f"
plot "$data" using 1:2 with linespoints lw 2 pt 7 title "no filtering", \
     "$data" using 1:3 with linespoints lw 2 pt 5 title "linear (libvirt layout, sender last)", \
     "$data" using 1:4 with linespoints lw 2 pt 9 title "vmgw"
GP
  rm -f "$data"
}
