#!/usr/bin/env bash
# Helper functions here run through assert or in the background, which shellcheck cannot follow:
# shellcheck disable=SC2317
# Crash safety of vmgwd: kill -9 at random points while API changes are being applied.
#
# Each iteration starts a burst of 1-10 API changes in the background (tmp VMs with or without
# filters, port forwards, elastic IP allocate/bind/unbind/release, filter define/undefine, VM
# filter changes, VM removal), each recording whether it was answered with success, and
# kill -9s the daemon: after a random 0-300 ms; or a moment after that when the daemon is at
# work; or the instant the kernel reports the burst's 1st-4th nftables transaction (the change
# is in the kernel, its store commit under way or still to come). Changes run one after the
# other, so at most one (the first one not answered) was in flight when the daemon died. Then:
#   * while the daemon is down, traffic keeps flowing: web reaches the internet through
#     masquerade, the permanent port forward and db's elastic IP answer both ways (and the host
#     stays closed, checked on some iterations);
#   * "never a mix": the kernel's tables right after the kill (K_pre) hold exactly one
#     generation: either what the store holds (the restart finds nothing to change in nftables),
#     or the store plus the change in flight, when it reached the kernel but not the store (the
#     restart reverts it; the test then repeats that change through the API and the kernel must
#     be exactly K_pre again);
#   * on some iterations the restart itself is killed at a random point of its start: the
#     kernel then holds K_pre or the reconciled state, nothing in between;
#   * "answered with success is never lost": after the restart the store (vm/eip/forward/filter
#     lists) equals the model of every answered change, or that plus the change in flight (it
#     was committed, the answer was lost): nothing answered is missing, nothing else appears,
#     and the generation counts exactly the committed changes; the restart's log says it wrote
#     nftables exactly when the kernel it found differed from the store;
#   * the first reconcile converges: elastic IP addresses on the uplink and DHCP reservations
#     equal the store, and a second one (SIGHUP, same config) writes nothing ("no changes");
#   * every 10th iteration, and at the end, a clean stop (SIGTERM) leaves the tables in the
#     kernel unchanged, allowed traffic flows and the host stays closed; the start after it
#     writes nothing.
#
# Every kind of kill point the figures report must have happened, or the test fails: a kill at an
# nftables transaction, a kill with the daemon at work, a change in flight committed (answer
# lost), one in the kernel only and reverted by the restart (then redone), one that reached
# nothing, a restart killed while it had a revert to do, and a clean stop. When the iterations
# asked for have not hit them all, the test goes on until they have, up to twice as many (and at
# least 40 more); still missing then, it fails and names them.
#
# CI form: 40 kill points (about a minute). VMGW_FULL=1: 200. VMGW_CRASH_ITERATIONS=N overrides
# both. VMGW_CRASH_SEED=S fixes the random choices (the seed is printed; the kill timing still
# varies). On failure the evidence (per failing iteration: changes, answers, model, store, raw
# kernel snapshots; the daemon's log and database) is kept in a directory printed at the end.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin reliability_crash
vmgw_require_daemon

if [[ -n ${VMGW_CRASH_ITERATIONS:-} ]]; then
  ITERATIONS=$VMGW_CRASH_ITERATIONS
elif [[ ${VMGW_FULL:-0} == 1 ]]; then
  ITERATIONS=200
else
  ITERATIONS=40
fi
MAX_ITERATIONS=$((ITERATIONS * 2 > ITERATIONS + 40 ? ITERATIONS * 2 : ITERATIONS + 40))
SEED=${VMGW_CRASH_SEED:-$(((RANDOM << 15) | RANDOM))}
RANDOM=$SEED
echo "# $ITERATIONS kill points, seed $SEED (VMGW_CRASH_SEED=$SEED)"

T=$VMGW_LAB/tmp
mkdir -p "$T/xml" "$T/it"
CONFIG=$T/daemon.yaml
cp "$VMGW_DAEMON_CONFIG" "$CONFIG"
STARTED=$SECONDS

# ---------------------------------------------------------------------------------------------
# The daemon.

# daemon_launch [NOTE]: start vmgwd as vmgw_daemon_up does, and return once "ip netns exec"
# has become vmgwd (fails if it exits first). Until then the pid's command is "ip", and
# vmgw_daemon_running (which vmgw_daemon_up polls) says the daemon is not running: under load
# vmgw_daemon_up can report a daemon that is starting fine as "exited while starting".
daemon_launch() {
  local deadline=$((SECONDS + 5))
  echo "=== $(date +%T) starting vmgwd --config $CONFIG${1:-}" >>"$VMGWD_LOG"
  ip netns exec "$NS_GW" "$VMGWD_BIN" --config "$CONFIG" --db "$VMGW_DB" --socket "$VMGW_SOCKET" \
    --state-dir "$VMGW_LAB/state" --run-dir "$VMGW_LAB/run" </dev/null >>"$VMGWD_LOG" 2>&1 &
  VMGWD_PID=$!
  disown "$VMGWD_PID" 2>/dev/null || true
  echo "$VMGWD_PID" >>"$VMGW_LAB/pids"
  until vmgw_is_proc "$VMGWD_PID" vmgwd; do
    vmgw_is_proc "$VMGWD_PID" "" || return 1        # gone (or a zombie) before it became vmgwd
    ((SECONDS < deadline)) || return 1
    sleep 0.005
  done
}

# daemon_up: start vmgwd and wait (20 s) until "vmgw status" answers.
daemon_up() {
  local deadline=$((SECONDS + 20))
  vmgw_daemon_running && vmgw_die "vmgwd is already running (pid $VMGWD_PID)"
  if daemon_launch; then
    until timeout 5 ip netns exec "$NS_GW" "$VMGW_BIN" --socket "$VMGW_SOCKET" status >/dev/null 2>&1; do
      if ! vmgw_daemon_running || ((SECONDS >= deadline)); then break; fi
      sleep 0.05
    done
    if vmgw_daemon_running && ((SECONDS < deadline)); then return 0; fi
  fi
  vmgw_log "vmgwd (pid $VMGWD_PID) did not come up; its log:"
  tail -n 20 "$VMGWD_LOG" >&2
  return 1
}

# daemon_start_killed: start vmgwd and kill -9 it at a random point of its start (store load,
# compile, the first reconcile's nft transaction, addresses, DHCP).
# Returns non-zero when the start ended before the kill (the kill hit nothing).
daemon_start_killed() {
  local ms=$((RANDOM % 30))
  daemon_launch " (to be killed while starting)" || return 1
  sleep "0.$(printf '%03d' "$ms")"
  vmgw_daemon_running || return 1
  vmgw_daemon_kill9 || vmgw_die "vmgwd (pid $VMGWD_PID) survived kill -9"
}

# hup_no_changes: SIGHUP with the same config; wait (5 s) for the reload's log line.
hup_no_changes() {
  local from line deadline=$((SECONDS + 5))
  from=$(wc -l <"$VMGWD_LOG")
  vmgw_daemon_hup
  until line=$(tail -n +"$((from + 1))" "$VMGWD_LOG" | grep -E "reloaded |reload refused") ; do
    ((SECONDS < deadline)) || { echo "no reload line in the log"; return 1; }
    sleep 0.02
  done
  [[ $line == *"reloaded $CONFIG: no changes"* ]] || { echo "$line"; return 1; }
}

vmgw_log "building topology (lab $LAB_ID, daemon)"
vmgw_topology_up
vmgw_servers_up
daemon_up || vmgw_die "vmgwd did not start"

# ---------------------------------------------------------------------------------------------
# Failures: counted by kind, each printed with its iteration; the evidence is kept.

declare -A FAILS=()
EVIDENCE=""
IT_FAILED=0
fail() {  # fail KIND ITERATION MESSAGE...
  local kind=$1 it=$2; shift 2
  FAILS[$kind]=$((${FAILS[$kind]:-0} + 1))
  IT_FAILED=1
  echo "FAIL [$kind] iteration $it: $*"
  [[ -n $EVIDENCE ]] || EVIDENCE=$(mktemp -d /tmp/vmgw-crash-evidence.XXXXXX)
}
fails_of() { echo "${FAILS[$1]:-0}"; }

# ---------------------------------------------------------------------------------------------
# API changes. One change is one line "OP ARGS..."; run_op sends it, model_apply applies its
# effect to a model file (one sorted line per object, the same form store_state prints).
#   vm NAME IP MAC PORT FILTER|-     eip ADDRESS VM|-     fwd ADDR:PORT tcp VM:80
#   filter NAME RULES                (defined filters only; built-ins are not listed)

# filter_xml NAME RULES: the path of a filter of RULES rules, RULES-1 accepts and a drop
# (created once).
filter_xml() {
  local f=$T/xml/$1-$2.xml r
  if [[ ! -f $f ]]; then
    {
      echo "<filter name='$1' chain='root'>"
      for ((r = 1; r < $2; r++)); do
        echo "  <rule action='accept' direction='in' priority='100'>" \
          "<tcp dstportstart='$((9000 + r))'/></rule>"
      done
      echo "  <rule action='drop' direction='in' priority='900'><all/></rule>"
      echo "</filter>"
    } >"$f.tmp"
    mv -f "$f.tmp" "$f"
  fi
  echo "$f"
}

run_op() {  # run_op OP ARGS...
  local op=$1; shift
  case $op in
    vmadd)
      local a=(vm add "$1" --network vmnet --ip "$2" --mac "$3" --port "$4")
      [[ $5 == - ]] || a+=(--filter "$5")
      vmgwc "${a[@]}" ;;
    vmrm) vmgwc vm remove "$1" --release ;;
    fwdadd) vmgwc forward add --public "$LAB_UPLINK_ADDR:$1" --proto tcp --to "$2:80" ;;
    fwdrm) vmgwc forward remove --public "$LAB_UPLINK_ADDR:$1" --proto tcp ;;
    eipalloc) vmgwc eip allocate --address "$1" ;;
    eipbind) vmgwc eip bind "$1" "$2" ;;
    eipunbind) vmgwc eip unbind "$1" ;;
    eiprel) vmgwc eip release "$1" ;;
    fdef) vmgwc filter define "$(filter_xml "$1" "$2")" ;;
    fundef) vmgwc filter undefine "$1" ;;
    vmfilter)
      if [[ $2 == - ]]; then
        vmgwc vm filter set "$1" --none
      else
        vmgwc vm filter set "$1" --filter "$2"
      fi ;;
    *) echo "unknown op $op" >&2; return 99 ;;
  esac
}

model_apply() {  # model_apply FILE OP ARGS...
  local f=$1 op=$2; shift 2
  case $op in
    vmadd) echo "vm $1 $2 $3 $4 $5" >>"$f" ;;
    vmrm) awk -v n="$1" '!($1 == "vm" && $2 == n) && !($1 == "fwd" && $4 == n ":80") &&
                         !($1 == "eip" && $3 == n)' "$f" >"$f.new" && mv -f "$f.new" "$f" ;;
    fwdadd) echo "fwd $LAB_UPLINK_ADDR:$1 tcp $2:80" >>"$f" ;;
    fwdrm) awk -v p="$LAB_UPLINK_ADDR:$1" '!($1 == "fwd" && $2 == p)' "$f" >"$f.new" && mv -f "$f.new" "$f" ;;
    eipalloc) echo "eip $1 -" >>"$f" ;;
    eipbind | eipunbind)
      awk -v a="$1" -v v="${2:--}" '$1 == "eip" && $2 == a {$3 = v} {print}' "$f" >"$f.new" &&
        mv -f "$f.new" "$f" ;;
    eiprel) awk -v a="$1" '!($1 == "eip" && $2 == a)' "$f" >"$f.new" && mv -f "$f.new" "$f" ;;
    fdef)
      awk -v n="$1" '!($1 == "filter" && $2 == n)' "$f" >"$f.new" && mv -f "$f.new" "$f"
      echo "filter $1 $2" >>"$f" ;;
    fundef) awk -v n="$1" '!($1 == "filter" && $2 == n)' "$f" >"$f.new" && mv -f "$f.new" "$f" ;;
    vmfilter) awk -v n="$1" -v x="$2" '$1 == "vm" && $2 == n {$6 = x} {print}' "$f" >"$f.new" &&
      mv -f "$f.new" "$f" ;;
  esac
  sort -o "$f" "$f"
}

# store_state: what the daemon holds, in the model's form. Fails when a list cannot be read.
# (One jq for all: jq 1.6 takes some 60 ms to start.)
store_state() {
  local vms eips fwds filters
  vms=$(vmgwc -o json vm list) && eips=$(vmgwc -o json eip list) &&
    fwds=$(vmgwc -o json forward list) && filters=$(vmgwc -o json filter list) || return 1
  jq -n -r --argjson vms "$vms" --argjson eips "$eips" --argjson fwds "$fwds" \
    --argjson filters "$filters" '
    ($vms[] | "vm \(.name) \(.ip) \(.mac) \(.port // "-") \(if ((.filters // []) | length) > 0
              then ([.filters[].filter] | join(",")) else "-" end)"),
    ($eips[] | "eip \(.address) \(if (.vm // "") == "" then "-" else .vm end)"),
    ($fwds[] | "fwd \(.public) \(.proto) \(.to)"),
    ($filters[] | select(.builtin | not) | "filter \(.name) \(.rules)")' | sort
}

status_generation() {
  vmgwc -o json status | sed -nE 's/^ *"generation": ([0-9]+),?$/\1/p'
}

# kernel_snapshot FILE: both vmgw tables as the kernel lists them (nft -j).
kernel_snapshot() {
  {
    ip netns exec "$NS_GW" nft -j list table inet vmgw || echo '{"nftables":[{"missing":"inet vmgw"}]}'
    ip netns exec "$NS_GW" nft -j list table bridge vmgw || echo '{"nftables":[{"missing":"bridge vmgw"}]}'
  } >"$1" 2>/dev/null
}
# Snapshots are compared normalized: no handles, counters zeroed, set elements sorted,
# tables/sets/chains sorted, rules grouped by chain in their kernel order; the elements of
# vm_flows and of the drop log's drop_log_* sets are left out (the kernel fills those sets: one
# element per source address with tracked connections, the drop log's token buckets). Two
# snapshots are equal exactly when the kernel held the same ruleset.
# shellcheck disable=SC2016  # jq's variables
KERNEL_NORM='
  def norm:
    [.[].nftables[] | select(has("metainfo") | not)]
    | walk(if type == "object" then del(.handle) else . end)
    | map(if .set.name == "vm_flows" or (.set.name // "" | startswith("drop_log_"))
          then del(.set.elem) else . end)
    | walk(if type == "object" and (.counter | type) == "object"
           then .counter = {"packets": 0, "bytes": 0} else . end)
    | walk(if type == "object" and (.elem | type) == "array" then .elem |= sort else . end)
    | (map(select(has("rule") | not)) | sort)
      + (map(select(has("rule"))) | group_by([.rule.family, .rule.chain]) | flatten);'
# kernel_classes FILE...: for each snapshot, the index of the first one equal to it ("0 0 1":
# the second equals the first, the third differs from both). One jq for all of them.
kernel_classes() {
  local args=() list="" i
  for ((i = 1; i <= $#; i++)); do
    args+=(--slurpfile "f$i" "${!i}")
    list+="${list:+, }(\$f$i | norm)"
  done
  jq -n -r "${args[@]}" "$KERNEL_NORM"'
    ['"$list"'] as $n
    | [range(0; $n | length) as $i
       | first(range(0; $i + 1) as $j | select($n[$j] == $n[$i]) | $j)]
    | map(tostring) | join(" ")'
}
same_kernel() { [[ -s $1 && -s $2 && $(kernel_classes "$1" "$2") == "0 0" ]]; }
# kernel_diff A B: the normalized difference (for failure reports; the files stay raw).
kernel_diff() {
  diff <(jq -c -n --slurpfile d "$1" "$KERNEL_NORM"'$d | norm | .[]') \
    <(jq -c -n --slurpfile d "$2" "$KERNEL_NORM"'$d | norm | .[]') | head -n 30
}

# The elastic IPs on the uplink and the DHCP reservations, as the store says they must be.
eip_addresses() {
  ip -n "$NS_GW" -4 -o addr show dev wan0 | awk '$4 ~ /\/32$/ {split($4, a, "/"); print a[1]}' | sort
}
model_eip_addresses() { awk '$1 == "eip" && $3 != "-" {print $2}' "$1" | sort; }
dhcp_hosts() { sort "$VMGW_LAB/state/dhcp/vmnet.hosts" 2>/dev/null; }
model_dhcp_hosts() { awk '$1 == "vm" {print $4 "," $3 "," $2}' "$1" | sort; }

# ---------------------------------------------------------------------------------------------
# The permanent objects (through the same machinery): web and db, db's elastic IP, a port
# forward to web. Bursts never touch them; they carry the traffic checks.

MODEL=$T/model
: >"$MODEL"
EXPECTED_GEN=0
setup_op() {
  run_op "$@" >/dev/null || vmgw_die "setup: $* failed"
  model_apply "$MODEL" "$@"
  EXPECTED_GEN=$((EXPECTED_GEN + 1))
}
setup_op vmadd web "$LAB_WEB_IP" "$LAB_WEB_MAC" vnet-web -
setup_op vmadd db "$LAB_DB_IP" "$LAB_DB_MAC" vnet-db -
setup_op eipalloc "$LAB_EIP_DB"
setup_op eipbind "$LAB_EIP_DB" db
setup_op fwdadd "$LAB_PF_PORT" web
vmgw_lab_dhcp || vmgw_die "DHCP in the VMs failed"
assert "web and db got their addresses by DHCP" \
  test "$(vmgw_ipv4_of "$NS_WEB") $(vmgw_ipv4_of "$NS_DB")" = "$LAB_WEB_IP $LAB_DB_IP"

# Traffic: what must flow, and what must stay blocked (a dropped SYN: 0.5 s is plenty in a lab
# whose round trip is microseconds).
traffic_flows() {  # prints what did not work
  local got bad=0
  got=$(vmgw_client "$NS_WEB" "$LAB_INET_ADDR" 80) || true
  [[ $got == *"seen-from=$LAB_UPLINK_ADDR"* ]] || { echo "web -> internet (masquerade): got '$got'"; bad=1; }
  got=$(vmgw_client "$NS_INET" "$LAB_UPLINK_ADDR" "$LAB_PF_PORT") || true
  [[ $got == *"hello from web"* ]] || { echo "internet -> $LAB_UPLINK_ADDR:$LAB_PF_PORT: got '$got'"; bad=1; }
  got=$(vmgw_client "$NS_INET" "$LAB_EIP_DB" 80) || true
  [[ $got == *"hello from db"* ]] || { echo "internet -> $LAB_EIP_DB:80: got '$got'"; bad=1; }
  got=$(vmgw_client "$NS_DB" "$LAB_INET_ADDR" 80) || true
  [[ $got == *"seen-from=$LAB_EIP_DB"* ]] || { echo "db -> internet (elastic IP): got '$got'"; bad=1; }
  return $bad
}
host_closed() {  # the host refuses the internet on ssh, the LAN still reaches it
  local got bad=0
  if got=$(ip netns exec "$NS_INET" timeout 3 socat -t 1 -T 1 - \
    "TCP:$LAB_UPLINK_ADDR:22,connect-timeout=0.5" </dev/null 2>/dev/null); then
    echo "internet -> host ssh $LAB_UPLINK_ADDR:22 connected: '$got'"; bad=1
  fi
  got=$(vmgw_client "$NS_LAN" "$LAB_LAN_GW" 22) || true
  [[ $got == *ssh-standin* ]] || { echo "LAN -> host ssh: got '$got'"; bad=1; }
  return $bad
}
quietly() { local out; out=$("$@") || { echo "  $out"; return 1; }; }
assert "traffic flows with the daemon up" quietly traffic_flows
assert "the host is closed to the internet, open to the LAN" quietly host_closed

# ---------------------------------------------------------------------------------------------
# Bursts: gen_burst writes N random changes valid one after the other from the model.

NEXT=1   # a counter for unique names, MACs, ports

# pick WORDS...: one of them at random, in REPLY (not through $(...): a subshell reseeds RANDOM).
pick() { local a=("$@"); REPLY=${a[RANDOM % $#]}; }

# sim_lists MODEL: what the next change can use, one "KEY VALUES..." line per list.
sim_lists() {
  awk -v keep="$LAB_EIP_DB" '
    $1 == "vm" { if ($2 ~ /^t/) { vms = vms " " $2; tv[$2] = 1 }; used[$6] = 1; ips = ips " " $3 }
    $1 == "eip" { e[$2] = 1; b[$3] = 1
                  if ($3 == "-" && $2 != keep) unbound = unbound " " $2
                  if ($3 ~ /^t/) bound = bound " " $2 }
    $1 == "fwd" { split($2, a, ":"); if (a[2] >= 20000) fwds = fwds " " a[2] }
    $1 == "filter" { f[$2] = 1; filters = filters " " $2 }
    END {
      for (n in tv) if (!(n in b)) noeip = noeip " " n
      for (n in f) if (!(n in used)) unused = unused " " n
      for (i = 18; i <= 31; i++) if (!(("203.0.113." i) in e)) free = free " 203.0.113." i
      print "vms" vms; print "noeip" noeip; print "unbound" unbound; print "bound" bound
      print "fwds" fwds; print "filters" filters; print "unused" unused; print "free" free
      print "ips" ips " "
    }' "$1"
}

gen_burst() {  # gen_burst COUNT MODEL OPS
  local count=$1 sim=$T/sim ops=$3 k cand op a ip key rest line cur rules
  local vms noeip unbound bound fwds filters unused free ips
  cp "$2" "$sim"
  : >"$ops"
  for ((k = 0; k < count; k++)); do
    while read -r key rest; do
      case $key in
        vms) read -ra vms <<<"$rest" ;;
        noeip) read -ra noeip <<<"$rest" ;;
        unbound) read -ra unbound <<<"$rest" ;;
        bound) read -ra bound <<<"$rest" ;;
        fwds) read -ra fwds <<<"$rest" ;;
        filters) read -ra filters <<<"$rest" ;;
        unused) read -ra unused <<<"$rest" ;;
        free) read -ra free <<<"$rest" ;;
        ips) ips=" $rest " ;;
      esac
    done < <(sim_lists "$sim")
    cand=()
    ((${#vms[@]} < 7)) && cand+=(vmadd vmadd vmadd)
    ((${#vms[@]} > 2)) && cand+=(vmrm vmrm)
    ((${#vms[@]} > 0)) && cand+=(fwdadd fwdadd vmfilter vmfilter)
    ((${#fwds[@]} > 0)) && cand+=(fwdrm)
    ((${#free[@]} > 0)) && cand+=(eipalloc eipalloc)
    ((${#unbound[@]} > 0 && ${#noeip[@]} > 0)) && cand+=(eipbind eipbind)
    ((${#bound[@]} > 0)) && cand+=(eipunbind)
    ((${#unbound[@]} > 0)) && cand+=(eiprel)
    cand+=(fdef fdef)
    ((${#unused[@]} > 0)) && cand+=(fundef)
    pick "${cand[@]}"; op=$REPLY
    case $op in
      vmadd)
        ip=""
        for ((a = RANDOM % 100; a < 200; a++)); do   # a free address from .100 to .199
          [[ $ips == *" 10.10.0.$((100 + a % 100)) "* ]] || { ip=10.10.0.$((100 + a % 100)); break; }
        done
        pick - - clean-traffic "${filters[@]}"
        printf -v line 'vmadd t%d %s 52:54:00:10:%02x:%02x tp%d %s' "$NEXT" "$ip" \
          $((NEXT / 256 % 256)) $((NEXT % 256)) "$NEXT" "$REPLY" ;;
      vmrm) pick "${vms[@]}"; line="vmrm $REPLY" ;;
      fwdadd) pick "${vms[@]}"; line="fwdadd $((20000 + NEXT)) $REPLY" ;;
      fwdrm) pick "${fwds[@]}"; line="fwdrm $REPLY" ;;
      eipalloc) pick "${free[@]}"; line="eipalloc $REPLY" ;;
      eipbind) pick "${unbound[@]}"; line="eipbind $REPLY"; pick "${noeip[@]}"; line+=" $REPLY" ;;
      eipunbind) pick "${bound[@]}"; line="eipunbind $REPLY" ;;
      eiprel) pick "${unbound[@]}"; line="eiprel $REPLY" ;;
      fdef)  # a real change: another number of rules than now
        line="fdef tf$((RANDOM % 4 + 1))"
        cur=$(awk -v n="${line#fdef }" '$1 == "filter" && $2 == n {print $3}' "$sim")
        rules=$((RANDOM % 4 + 1))
        [[ $rules != "$cur" ]] || rules=$((rules % 4 + 1))
        line+=" $rules" ;;
      fundef) pick "${unused[@]}"; line="fundef $REPLY" ;;
      vmfilter)  # a real change: another filter than now
        pick "${vms[@]}"; line="vmfilter $REPLY"
        cur=$(awk -v n="$REPLY" '$1 == "vm" && $2 == n {print $6}' "$sim")
        pick - clean-traffic "${filters[@]}"
        [[ $REPLY != "$cur" ]] || { [[ $cur == - ]] && REPLY=clean-traffic || REPLY=-; }
        line+=" $REPLY" ;;
    esac
    NEXT=$((NEXT + 1))
    echo "$line" >>"$ops"
    # shellcheck disable=SC2086  # the op's words
    model_apply "$sim" $line
  done
}

# run_burst OPS RESULTS: run the changes in order; "INDEX RC" per change; stop at the first
# one not answered with success (after the kill, no later one can reach a daemon).
run_burst() {
  local ops=$1 results=$2 line i=0 rc
  while read -r line; do
    i=$((i + 1))
    rc=0
    # shellcheck disable=SC2086
    run_op $line >"$results.out.$i" 2>&1 || rc=$?
    echo "$i $rc" >>"$results"
    ((rc == 0)) || break
  done <"$ops"
}

# wait_daemon_busy: spin (at most 300 ms) until the daemon is running or in disk wait (the
# store's fsync), then spin on for a random 0-10 ms (into the change's later steps: compile,
# nft transaction, addresses, DHCP, store commit); fails when it stayed asleep. Builtins only:
# no fork between the look and the kill.
wait_daemon_busy() {
  local stat now end
  now=${EPOCHREALTIME/./}
  end=$((now + 300000))
  while ((now < end)); do
    read -r stat <"/proc/$VMGWD_PID/stat" 2>/dev/null || return 1
    stat=${stat##*) }
    if [[ $stat == [RD]* ]]; then
      end=$((now + RANDOM % 10000))
      while ((${EPOCHREALTIME/./} < end)); do :; done
      return 0
    fi
    now=${EPOCHREALTIME/./}
  done
  return 1
}

# kill_at_transaction SKIP: in the background, kill -9 the daemon the moment the kernel reports
# its (SKIP+1)-th nftables transaction from now (nft monitor prints a transaction's events right
# after its commit, then "# new generation N by process P"). Sets MONITOR_PID and TRIGGER_PID;
# the trigger writes the event it fired on to $D/trigger.
kill_at_transaction() {
  local skip=$1 fifo=$T/monitor.fifo deadline=$((SECONDS + 5))
  rm -f "$fifo"
  mkfifo "$fifo"
  ip netns exec "$NS_GW" nft monitor >"$fifo" 2>/dev/null &
  MONITOR_PID=$!
  (
    n=0
    while read -r line; do
      if ((n >= skip)); then
        # The trigger counts only when the kill reached a running daemon.
        kill -9 "$VMGWD_PID" 2>/dev/null && echo "$line" >"$D/trigger"
        exit 0
      fi
      [[ $line == "# new generation"* ]] && n=$((n + 1))
    done <"$fifo"
  ) &
  TRIGGER_PID=$!
  # Let nft subscribe to the events before the burst starts (it has once it runs as nft).
  until vmgw_is_proc "$MONITOR_PID" nft; do
    ((SECONDS < deadline)) || break
    sleep 0.005
  done
  sleep 0.02
}
kill_at_transaction_end() {
  kill "$MONITOR_PID" "$TRIGGER_PID" 2>/dev/null || true
  wait "$MONITOR_PID" "$TRIGGER_PID" 2>/dev/null || true
  rm -f "$T/monitor.fifo"
}

# ---------------------------------------------------------------------------------------------
# The kill loop.

KILLS=0; BUSY_KILLS=0; TX_KILLS=0; ACKED=0; BURST_DONE=0
INFLIGHT=0; INFLIGHT_COMMITTED=0; INFLIGHT_REVERTED=0; INFLIGHT_NOTHING=0; REDO_MATCHED=0
RESTARTS=0; START_KILLS=0; START_KILL_NOTHING=0; START_KILL_MID_PRE=0; START_KILL_MID_POST=0
DOWN_TRAFFIC_CHECKS=0; CLOSED_CHECKS=0; CLEAN_STOPS=0; HUPS=0

# missing_kill_points: the kinds of kill point not hit yet (empty when all were).
missing_kill_points() {
  local m=()
  ((TX_KILLS > 0)) || m+=("a kill at an nftables transaction")
  ((BUSY_KILLS > 0)) || m+=("a kill with the daemon at work")
  ((INFLIGHT_COMMITTED > 0)) || m+=("a change in flight committed, its answer lost")
  ((INFLIGHT_REVERTED > 0)) || m+=("a change in flight in the kernel only, reverted by the restart")
  ((INFLIGHT_NOTHING > 0)) || m+=("a change in flight that reached nothing")
  ((START_KILL_MID_PRE + START_KILL_MID_POST > 0)) || m+=("a restart killed with a revert to do")
  ((CLEAN_STOPS > 0)) || m+=("a clean stop")
  ((${#m[@]} == 0)) || printf '%s\n' "${m[@]}"
}

# next_iteration: the iterations asked for, then more while a kind of kill point is missing.
next_iteration() {
  it=$((it + 1))
  ((it <= ITERATIONS)) && return 0
  local missing
  missing=$(missing_kill_points)
  [[ -n $missing ]] || return 1
  ((it <= MAX_ITERATIONS)) || return 1
  if ((it == ITERATIONS + 1)); then
    vmgw_log "after $ITERATIONS iterations not yet hit: $(paste -sd ';' <<<"$missing");" \
      "going on until they are (at most $MAX_ITERATIONS iterations)"
  fi
  return 0
}

it=0
while next_iteration; do
  D=$T/it/$it
  IT_FAILED=0
  mkdir -p "$D"
  cp "$MODEL" "$D/model.before"
  gen_burst $((1 + RANDOM % 10)) "$MODEL" "$D/ops"
  : >"$D/results"

  # The burst, and kill -9 at a random point of it, one of three ways:
  #   * after a random delay;
  #   * a moment after that when the daemon is at work (most of a change's time is the CLI
  #     starting, which would leave the daemon's own steps seldom hit);
  #   * the instant the kernel reports the daemon's 1st to 4th nftables transaction of the
  #     burst: the change is in the kernel, the store commit is under way or still to come.
  mode=$((RANDOM % 3))
  if ((mode == 2)); then
    kill_at_transaction $((RANDOM % 4))
    run_burst "$D/ops" "$D/results" &
    burst_pid=$!
    deadline=$((SECONDS + 10))
    while kill -0 "$TRIGGER_PID" 2>/dev/null && kill -0 "$burst_pid" 2>/dev/null; do
      ((SECONDS < deadline)) || break
      sleep 0.01
    done
    kill_at_transaction_end
    [[ -f $D/trigger ]] && TX_KILLS=$((TX_KILLS + 1))
  else
    run_burst "$D/ops" "$D/results" &
    burst_pid=$!
    delay=$((RANDOM % 300))
    sleep "0.$(printf '%03d' "$delay")"   # (RANDOM is read here, in this shell)
    if ((mode == 1)); then
      wait_daemon_busy && BUSY_KILLS=$((BUSY_KILLS + 1))
    fi
  fi
  vmgw_daemon_kill9 || vmgw_die "vmgwd (pid $VMGWD_PID) survived kill -9"
  KILLS=$((KILLS + 1))
  wait "$burst_pid" || true
  kernel_snapshot "$D/kernel.pre"

  # What was answered: a prefix of the burst; the first change not answered was maybe in flight.
  pending=""; n_acked=0
  while read -r idx rc; do
    if ((rc == 0)); then
      n_acked=$((n_acked + 1))
      # shellcheck disable=SC2046
      model_apply "$MODEL" $(sed -n "${idx}p" "$D/ops")
    else
      pending=$(sed -n "${idx}p" "$D/ops")
      # A daemon that died mid-request or before it leaves the CLI with exit 3; anything else
      # is a refusal: the generator made an invalid change, or the product refused a valid one.
      if ((rc != 3)); then
        fail refused "$it" "'$pending' answered exit $rc: $(cat "$D/results.out.$idx")"
        pending=""
      fi
    fi
  done <"$D/results"
  ACKED=$((ACKED + n_acked))
  EXPECTED_GEN=$((EXPECTED_GEN + n_acked))
  if [[ -n $pending ]]; then INFLIGHT=$((INFLIGHT + 1)); else BURST_DONE=$((BURST_DONE + 1)); fi
  echo "${pending:-none}" >"$D/pending"
  read -ra pending_words <<<"$pending"
  cp "$MODEL" "$D/model"

  # The daemon is down: traffic keeps flowing (every iteration) and the host stays closed
  # (every 5th, it costs a 0.5 s timeout).
  if ! out=$(traffic_flows); then fail traffic_down "$it" "$out"; fi
  DOWN_TRAFFIC_CHECKS=$((DOWN_TRAFFIC_CHECKS + 1))
  if ((it % 5 == 0)); then
    if ! out=$(host_closed); then fail closed_down "$it" "$out"; fi
    CLOSED_CHECKS=$((CLOSED_CHECKS + 1))
  fi

  # The restart is killed too, somewhere in its start (and first reconcile): on half the
  # iterations with a change in flight (the ones where it may have a change to revert), and on
  # every 4th.
  if { [[ -n $pending ]] && ((RANDOM % 2)); } || ((it % 4 == 0)); then
    if daemon_start_killed; then START_KILLS=$((START_KILLS + 1)); fi
    RESTARTS=$((RESTARTS + 1))
    kernel_snapshot "$D/kernel.mid"
  fi

  # Restart. The log says what its first reconcile changed.
  from=$(wc -l <"$VMGWD_LOG")
  daemon_up || { fail restart "$it" "vmgwd did not come back"; break; }
  RESTARTS=$((RESTARTS + 1))
  started=$(tail -n +"$((from + 1))" "$VMGWD_LOG" | grep "started at generation" | tail -n 1) || true
  echo "$started" >"$D/started"
  kernel_snapshot "$D/kernel.post"

  # The store: the model of the answered changes, or that plus the change in flight.
  if ! store_state >"$D/store"; then
    fail store "$it" "cannot list the daemon's objects"
  fi
  committed_pending=0
  if cmp -s "$D/store" "$MODEL"; then
    :
  elif [[ -n $pending ]] && cp "$MODEL" "$D/model.plus" &&
    model_apply "$D/model.plus" "${pending_words[@]}" && cmp -s "$D/store" "$D/model.plus"; then
    committed_pending=1
    INFLIGHT_COMMITTED=$((INFLIGHT_COMMITTED + 1))
    cp "$D/model.plus" "$MODEL"
    EXPECTED_GEN=$((EXPECTED_GEN + 1))
  else
    fail store "$it" "the store is neither the answered changes nor those plus '${pending:-nothing}':" \
      "$(diff "$MODEL" "$D/store" | sed 's/^/    /')"
    cp "$D/store" "$MODEL"   # carry on from the truth, so one failure is reported once
  fi
  gen=$(sed -nE 's/.*started at generation ([0-9]+):.*/\1/p' "$D/started")
  if [[ $gen != "$EXPECTED_GEN" ]]; then
    fail generation "$it" "restarted at generation '${gen}', expected $EXPECTED_GEN (committed changes)"
    [[ $gen =~ ^[0-9]+$ ]] && EXPECTED_GEN=$gen
  fi

  # Never a mix. K_pre (the kernel right after the kill) is the store's generation (K_post: the
  # restart had nothing to do in nftables), or the next one: the change in flight reached the
  # kernel, not the store; the restart reverted it, and repeating it must give K_pre back.
  snapshots=("$D/kernel.pre" "$D/kernel.post")
  [[ -f $D/kernel.mid ]] && snapshots+=("$D/kernel.mid")
  classes=$(kernel_classes "${snapshots[@]}") || true
  if ! [[ $classes =~ ^0\ [01](\ [012])?$ ]]; then
    fail snapshot "$it" "cannot compare the kernel snapshots (got '$classes')"
    classes="0 1 2"
  fi
  read -r _ c_post c_mid <<<"$classes"
  # The restart's log says whether it wrote nftables: exactly when the kernel it found (K_pre,
  # or what the killed start left) differed from K_post.
  nft_written=0
  [[ $(cat "$D/started") == *"nftables "* ]] && nft_written=1
  if [[ -f $D/kernel.mid ]]; then found_same=$((c_mid == c_post)); else found_same=$((c_post == 0)); fi
  if ((found_same == nft_written)); then
    fail restart_log "$it" "the kernel it found was $( ((found_same)) && echo "already" || echo "not") the" \
      "store's, but the restart logged: $(cat "$D/started")"
  fi
  if ((c_post == 0)); then
    [[ -n $pending && $committed_pending == 0 ]] && INFLIGHT_NOTHING=$((INFLIGHT_NOTHING + 1))
  elif [[ -n $pending && $committed_pending == 0 ]]; then
    INFLIGHT_REVERTED=$((INFLIGHT_REVERTED + 1))
    rc=0
    run_op "${pending_words[@]}" >"$D/redo.out" 2>&1 || rc=$?
    if ((rc != 0)); then
      fail redo "$it" "repeating '$pending' failed (exit $rc): $(cat "$D/redo.out")"
    else
      model_apply "$MODEL" "${pending_words[@]}"
      EXPECTED_GEN=$((EXPECTED_GEN + 1))
      ACKED=$((ACKED + 1))
      kernel_snapshot "$D/kernel.redo"
      if same_kernel "$D/kernel.pre" "$D/kernel.redo"; then
        REDO_MATCHED=$((REDO_MATCHED + 1))
      else
        fail mix "$it" "the kernel after the kill is neither the store's generation nor the next one" \
          "('$pending'); diff pre vs redo:" "$(kernel_diff "$D/kernel.pre" "$D/kernel.redo")"
      fi
    fi
  else
    fail mix "$it" "the kernel after the kill differs from the store's generation with no change in" \
      "flight to explain it (pending: '${pending:-none}', committed: $committed_pending); diff:" \
      "$(kernel_diff "$D/kernel.pre" "$D/kernel.post")"
  fi
  # A kill during the restart's own reconcile: the kernel is as before it or as after it.
  if [[ -f $D/kernel.mid ]]; then
    if ((c_post == 0)); then
      START_KILL_NOTHING=$((START_KILL_NOTHING + 1))   # nothing to reconcile: K_pre == K_post
      ((c_mid == 0)) || fail mix "$it" "killed while starting with nothing to reconcile, the kernel" \
        "changed; diff pre vs mid: $(kernel_diff "$D/kernel.pre" "$D/kernel.mid")"
    elif ((c_mid == 0)); then
      START_KILL_MID_PRE=$((START_KILL_MID_PRE + 1))
    elif ((c_mid == c_post)); then
      START_KILL_MID_POST=$((START_KILL_MID_POST + 1))
    else
      fail mix "$it" "killed during its first reconcile, the kernel holds neither the state before" \
        "nor after it; diff mid vs post: $(kernel_diff "$D/kernel.mid" "$D/kernel.post")"
    fi
  fi

  # Converged: elastic IP addresses and DHCP reservations equal the store; the status agrees;
  # a second reconcile (SIGHUP, same config) writes nothing.
  if [[ $(eip_addresses) != "$(model_eip_addresses "$MODEL")" ]]; then
    fail converge "$it" "elastic IPs on wan0: $(eip_addresses | xargs)," \
      "store: $(model_eip_addresses "$MODEL" | xargs)"
  fi
  if [[ $(dhcp_hosts) != "$(model_dhcp_hosts "$MODEL")" ]]; then
    fail converge "$it" "DHCP reservations: $(dhcp_hosts | xargs)," \
      "store: $(model_dhcp_hosts "$MODEL" | xargs)"
  fi
  status_gen=$(status_generation 2>/dev/null) || status_gen="?"
  [[ $status_gen == "$EXPECTED_GEN" ]] ||
    fail generation "$it" "status says generation $status_gen, expected $EXPECTED_GEN"
  if ! out=$(hup_no_changes); then fail second_reconcile "$it" "SIGHUP with the same config: $out"; fi
  HUPS=$((HUPS + 1))

  # Every 10th iteration: a clean stop keeps the rules; the start after it writes nothing.
  if ((it % 10 == 0)); then
    kernel_snapshot "$D/kernel.stop"
    from=$(wc -l <"$VMGWD_LOG")
    vmgw_daemon_stop || fail clean_stop "$it" "vmgwd did not stop on SIGTERM"
    CLEAN_STOPS=$((CLEAN_STOPS + 1))
    tail -n +"$((from + 1))" "$VMGWD_LOG" |
      grep -F "stopping; the kernel keeps the rules of generation $EXPECTED_GEN" >/dev/null ||
      fail clean_stop "$it" "no 'stopping; the kernel keeps the rules of generation $EXPECTED_GEN' in the log"
    kernel_snapshot "$D/kernel.stopped"
    same_kernel "$D/kernel.stop" "$D/kernel.stopped" ||
      fail clean_stop "$it" "the tables changed on SIGTERM:" \
        "$(kernel_diff "$D/kernel.stop" "$D/kernel.stopped")"
    if ! out=$(traffic_flows); then fail clean_stop "$it" "traffic after SIGTERM: $out"; fi
    if ! out=$(host_closed); then fail clean_stop "$it" "host after SIGTERM: $out"; fi
    from=$(wc -l <"$VMGWD_LOG")
    daemon_up || { fail restart "$it" "vmgwd did not come back after SIGTERM"; break; }
    RESTARTS=$((RESTARTS + 1))
    started=$(tail -n +"$((from + 1))" "$VMGWD_LOG" | grep "started at generation" | tail -n 1) || true
    [[ $started == *"started at generation $EXPECTED_GEN: no changes"* ]] ||
      fail second_reconcile "$it" "the start after a clean stop: '$started'"
  fi

  # Keep a failing iteration's files (ops, answers, model, store, kernel snapshots).
  if ((IT_FAILED)); then cp -r "$D" "$EVIDENCE/" 2>/dev/null || true; fi
  rm -rf "$D"
  if ((it % 10 == 0)); then
    vmgw_log "iteration $it/$ITERATIONS: $ACKED changes answered, $INFLIGHT in flight at a kill" \
      "($INFLIGHT_COMMITTED committed, $INFLIGHT_REVERTED reverted by the restart), $RESTARTS restarts"
  fi
done

ITERATIONS_RUN=$KILLS
echo "# figures"
echo "  kill points (kill -9 during a burst):        $KILLS ($BUSY_KILLS with the daemon at work," \
  "$TX_KILLS at an nftables transaction)"
echo "  kills of a restart while it starts:           $START_KILLS (nothing to revert: $START_KILL_NOTHING;" \
  "revert still to do: $START_KILL_MID_PRE, done: $START_KILL_MID_POST)"
echo "  changes answered with success:                $ACKED"
echo "  kills with a change in flight:                $INFLIGHT (committed, answer lost: $INFLIGHT_COMMITTED;" \
  "in the kernel only, reverted: $INFLIGHT_REVERTED; nowhere: $INFLIGHT_NOTHING)"
echo "  kills after the whole burst was answered:     $BURST_DONE"
echo "  reverted changes redone, kernel == K_pre:     $REDO_MATCHED"
echo "  restarts:                                     $RESTARTS (clean stops: $CLEAN_STOPS)"
echo "  SIGHUP reconciles:                            $HUPS"
echo "  traffic checks with the daemon down:          $DOWN_TRAFFIC_CHECKS (host closed: $CLOSED_CHECKS)"
echo "  generation at the end:                        $EXPECTED_GEN"
echo "  time:                                         $((SECONDS - STARTED)) s"

assert "$KILLS kill points: no change answered with success was lost, none appeared unasked" \
  test "$(fails_of store)" = 0
assert "the generation always counted exactly the committed changes" test "$(fails_of generation)" = 0
assert "no change was refused (every burst change was valid and answered or cut by the kill)" \
  test "$(fails_of refused)" = 0
assert "never a mix: the kernel always held the store's generation or the next one" \
  test "$(fails_of mix)" = 0
assert "  ...and each change reverted by a restart, redone, gave exactly the killed kernel back" \
  test "$(fails_of redo)" = 0
assert "every restart came back; its log matches what it changed" \
  test "$(($(fails_of restart) + $(fails_of restart_log)))" = 0
assert "every kernel snapshot could be read and compared" test "$(fails_of snapshot)" = 0
assert "the first reconcile converged (elastic IPs, DHCP reservations)" test "$(fails_of converge)" = 0
assert "a second reconcile (SIGHUP, or a start after a clean stop) wrote nothing" \
  test "$(fails_of second_reconcile)" = 0
assert "traffic kept flowing while the daemon was down ($DOWN_TRAFFIC_CHECKS checks)" \
  test "$(fails_of traffic_down)" = 0
assert "the host stayed closed while the daemon was down ($CLOSED_CHECKS checks)" \
  test "$(fails_of closed_down)" = 0
assert "a clean stop left the rules in force ($CLEAN_STOPS stops): tables unchanged, traffic, host closed" \
  test "$(fails_of clean_stop)" = 0
assert "kills hit changes in flight ($INFLIGHT of $KILLS)" test "$INFLIGHT" -gt 0
missing=$(missing_kill_points)
what="$TX_KILLS at a transaction, $BUSY_KILLS at work, in flight $INFLIGHT_COMMITTED committed /"
what+=" $INFLIGHT_REVERTED reverted / $INFLIGHT_NOTHING nothing,"
what+=" $((START_KILL_MID_PRE + START_KILL_MID_POST)) restarts killed with a revert to do,"
what+=" $CLEAN_STOPS clean stops${missing:+; MISSING: $(paste -sd ';' <<<"$missing")}"
assert "every kind of kill point was hit in $ITERATIONS_RUN iterations ($ITERATIONS asked for): $what" \
  test -z "$missing"
assert "  ...and every change reverted by a restart was redone to exactly the killed kernel ($REDO_MATCHED of $INFLIGHT_REVERTED)" \
  test "$REDO_MATCHED" = "$INFLIGHT_REVERTED"

# The final clean stop: the rules stay, traffic flows, the host stays closed.
kernel_snapshot "$T/final.running"
from=$(wc -l <"$VMGWD_LOG")
assert "final SIGTERM: vmgwd exits cleanly" vmgw_daemon_stop
stopping() {
  tail -n +"$((from + 1))" "$VMGWD_LOG" |
    grep -F "stopping; the kernel keeps the rules of generation $EXPECTED_GEN" >/dev/null
}
assert "  ...logging 'stopping; the kernel keeps the rules of generation $EXPECTED_GEN'" stopping
kernel_snapshot "$T/final.stopped"
assert "  ...the tables are still in the kernel, unchanged" same_kernel "$T/final.running" "$T/final.stopped"
assert "  ...traffic flows" quietly traffic_flows
assert "  ...the host is still closed to the internet" quietly host_closed

if [[ -n $EVIDENCE ]]; then
  cp "$VMGWD_LOG" "$EVIDENCE/vmgwd.log" 2>/dev/null || true
  cp "$VMGW_DB"* "$EVIDENCE/" 2>/dev/null || true
  echo "evidence kept in $EVIDENCE"
fi
vmgw_test_end
