# shellcheck shell=bash
# shellcheck disable=SC2016  # jq programs and awk code are in single quotes on purpose
# Helpers of bench/run: namespaces (through the test harness tests/netns/lib.sh, which records
# every namespace it creates so that one trap removes them all), timing, statistics and the
# results file.
#
# Every namespace is named vmgw-bench-<id>-<role>: nothing is ever created in the machine's
# own network namespace, and a run never touches another run's (or a test's) namespaces.

# shellcheck source-path=SCRIPTDIR source=../tests/netns/lib.sh
source "$BENCH_REPO/tests/netns/lib.sh"

bench_log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
bench_die() { bench_log "ERROR: $*"; exit 1; }

# bench_now: seconds since the epoch with microseconds (bash's own clock, no fork).
bench_now() { echo "$EPOCHREALTIME"; }
# bench_since T0: seconds elapsed since T0 (from bench_now), 6 decimals.
bench_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f", b - a }'; }

# bench_ns ROLE: the name of this run's namespace ROLE (not created).
bench_ns() { echo "vmgw-bench-$BENCH_ID-$1"; }

# bench_ns_add ROLE...: create this run's namespaces (recorded for the cleanup trap).
bench_ns_add() {
  local role
  for role in "$@"; do vmgw_ns_add "$(bench_ns "$role")"; done
}

# bench_ns_del ROLE...: delete namespaces now (and forget them), killing what runs inside.
bench_ns_del() {
  local role ns
  for role in "$@"; do
    ns=$(bench_ns "$role")
    vmgw_ns_del "$ns"
    sed -i "\|^$ns\$|d" "$VMGW_LAB/namespaces"
  done
}

# bench_settle [SECONDS]: wait (at most SECONDS, default 60) until the machine is mostly idle
# (under 30% of all CPUs busy over half a second), so that the kernel's clean-up of a deleted
# namespace (freeing 100 000 chains takes a while) or an earlier step's tail does not run
# inside the next measurement. The machine may be shared: after SECONDS we go on regardless
# and say so; every figure is a ratio measured side by side anyway.
bench_settle() {
  local limit=${1:-60} deadline busy
  deadline=$((SECONDS + limit))
  while :; do
    busy=$(cpu_busy_fraction 0.5)
    awk -v b="$busy" 'BEGIN { exit !(b < 0.30) }' && return 0
    if ((SECONDS >= deadline)); then
      bench_log "machine still busy ($(awk -v b="$busy" 'BEGIN { printf "%.0f", b * 100 }')% CPU) after ${limit}s; measuring anyway"
      return 0
    fi
  done
}

# cpu_busy_fraction SECONDS: the fraction of all CPUs busy over SECONDS (from /proc/stat).
cpu_busy_fraction() {
  local a b
  a=$(head -n1 /proc/stat)
  sleep "$1"
  b=$(head -n1 /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {
    n = split(a, x); split(b, y); total = 0; idle = 0
    for (i = 2; i <= n; i++) { d = y[i] - x[i]; total += d; if (i == 5 || i == 6) idle += d }
    printf "%.3f", (total > 0 ? 1 - idle / total : 0) }'
}

# bench_median V...: the median of the values (the mean of the middle two for an even count).
bench_median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "null"; exit }
    printf "%.6g\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_percentile P FILE: the P-th percentile (nearest rank) of the numbers in FILE, one a line.
bench_percentile() {
  sort -g "$2" | awk -v p="$1" '{ v[NR] = $1 } END {
    if (NR == 0) { print "null"; exit }
    r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
    printf "%.6g\n", v[r] }'
}

# bench_ratio A B: A / B with 3 decimals ("null" when B is zero or either is null).
bench_ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a == "null" || b == "null" || b + 0 == 0) print "null"; else printf "%.3f\n", a / b }'
}

# The results file: one JSON document, updated step by step with jq so that an interrupted run
# still leaves what it measured.
# bench_json FILTER [jq args...]: apply FILTER to $BENCH_JSON in place.
bench_json() {
  local filter=$1 tmp=$BENCH_JSON.tmp
  shift
  jq "$@" "$filter" "$BENCH_JSON" >"$tmp" && mv -f "$tmp" "$BENCH_JSON"
}

# bench_proc_cpu PID: the process's user + system CPU time in seconds (from /proc/PID/stat).
bench_proc_cpu() {
  local tck
  tck=$(getconf CLK_TCK)
  # Fields 14 and 15 (utime, stime), counted after the command name, which may hold spaces.
  sed -E 's/^.*\) //' "/proc/$1/stat" | awk -v t="$tck" '{ printf "%.2f\n", ($12 + $13) / t }'
}

# bench_proc_kib PID FIELD: a field of /proc/PID/status in KiB (VmRSS, VmHWM).
bench_proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# bench_machine: the machine's description as JSON.
bench_machine() {
  local cpu debian
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  debian=$(cat /etc/debian_version 2>/dev/null || echo unknown)
  jq -n --arg cpu "$cpu" --arg nproc "$(nproc)" --arg kernel "$(uname -r)" \
    --arg debian "$debian" --arg mem "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" \
    --arg nft "$(nft --version 2>/dev/null | awk '{ print $2 }')" \
    --arg ipt "$(iptables --version 2>/dev/null)" \
    '{cpu: $cpu, nproc: ($nproc | tonumber), kernel: $kernel, debian: $debian, memory: $mem,
      nft: $nft, iptables: $ipt}'
}
