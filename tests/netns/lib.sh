# shellcheck shell=bash
# Globals are set here for the sourcing scripts, and optional arguments default sensibly:
# shellcheck disable=SC2034,SC2119,SC2120
# Shared helpers for the network-namespace end-to-end tests (tests/netns/test_*.sh) and the
# demo lab (lab/vmgw-lab). The lab topology lives here and ONLY here: both source this file.
#
# Safety rules this file enforces for every caller:
#   * everything (links, addresses, routes, nft tables, sysctls, processes) is created inside
#     network namespaces that this file created, named "vmgw-<id>-<role>" with a unique <id>;
#     the machine's own network namespace is never modified;
#   * each created namespace is recorded in "$VMGW_LAB/namespaces" the moment it exists, so
#     vmgw_lab_destroy can remove it (after killing every process inside) even when a test
#     dies half-way;
#   * every wait is bounded.
#
# Globals a caller may set before sourcing: VMGW_BIN, VMGW_SOURCE_DIR, VMGW_LAB_CONFIG.
# VMGW_LAB_DESTROY_HOOKS: functions vmgw_lab_destroy calls (with the lab's directory) before it
# kills what is left and removes the namespaces; add-ons such as libvirt.sh append to it.
VMGW_LAB_DESTROY_HOOKS=()

VMGW_SOURCE_DIR="${VMGW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
VMGW_BIN="${VMGW_BIN:-$VMGW_SOURCE_DIR/build/vmgw}"
VMGW_LAB_CONFIG="${VMGW_LAB_CONFIG:-$VMGW_SOURCE_DIR/examples/lab.yaml}"
# The daemon and its lab topology (no VMs, forwards or bindings: they come through the API).
VMGWD_BIN="${VMGWD_BIN:-$(dirname "$VMGW_BIN")/vmgwd}"
VMGW_DAEMON_CONFIG="${VMGW_DAEMON_CONFIG:-$VMGW_SOURCE_DIR/examples/daemon.yaml}"

# The addresses of the lab, mirroring examples/lab.yaml (the product configures the gateway's own
# addresses; these are what the other namespaces use and what the checks expect).
LAB_UPLINK_ADDR=203.0.113.2
LAB_ISP_ADDR=203.0.113.1
LAB_ISP_INET_ADDR=198.51.100.1
LAB_INET_ADDR=198.51.100.10
# The second ISP: its customers are 192.0.2.0/25 (the gateway's wan1), its link to the internet
# namespace 192.0.2.128/30.
LAB_UPLINK2_ADDR=192.0.2.2
LAB_ISP2_ADDR=192.0.2.1
LAB_ISP2_INET_ADDR=192.0.2.129
LAB_INET_ISP2_ADDR=192.0.2.130
LAB_EIP_DB=203.0.113.17
LAB_WEB_IP=10.10.0.10
LAB_DB_IP=10.10.0.11
LAB_WEB_MAC=52:54:00:00:00:0a
LAB_DB_MAC=52:54:00:00:00:0b
LAB_LAN_GW=192.168.50.1
LAB_LAN_CLIENT=192.168.50.10
LAB_PF_PORT=8080

# ---------------------------------------------------------------------------------------------
# Small utilities
#
# Note for everything below: under "set -o pipefail", "producer | grep -q" can fail although
# the pattern matched (grep exits at the first match, the producer dies of SIGPIPE). We write
# "producer | grep PATTERN >/dev/null" instead, which reads all input.

vmgw_log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
vmgw_die() { vmgw_log "ERROR: $*"; exit 1; }
# vmgw_skip REASON: the test cannot run here (not root, a tool missing): exit 77, which ctest
# reports as skipped, never as passed. With VMGW_TESTS_STRICT=1 (scripts/test sets it when run as
# root, so CI) a skip is a failure: a run that claims to test something must have tested it.
vmgw_skip() {
  if [[ ${VMGW_TESTS_STRICT:-0} == 1 ]]; then
    echo "FAIL: cannot run: $* (VMGW_TESTS_STRICT=1: a skip is a failure)"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}

# vmgw_wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds; fail after SECONDS.
vmgw_wait_for() {
  local limit=$1; shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# A short id unique on this machine for this run: pid plus 16 random bits. Interface names live
# inside our namespaces, so only namespace names (not limited to 15 chars) carry the id.
vmgw_unique_id() { printf '%s%04x' "$$" "$RANDOM"; }

# Skip (exit 77) unless we are root and have every tool the lab needs.
vmgw_require_env() {
  [[ $EUID -eq 0 ]] || vmgw_skip "must run as root (creates network namespaces)"
  local t
  for t in ip nft socat busybox dnsmasq timeout ss setsid "$@"; do
    command -v "$t" >/dev/null 2>&1 || vmgw_skip "missing tool: $t"
  done
  busybox udhcpc --help >/dev/null 2>&1 || busybox --list 2>/dev/null | grep -x udhcpc >/dev/null \
    || vmgw_skip "busybox has no udhcpc applet"
  ip netns list >/dev/null 2>&1 || vmgw_skip "ip netns does not work here"
}

# The build always makes vmgw, vmgwd and vmgw-test-flows: a missing one is a broken build or a
# wrong path, a failure, never a skip.
vmgw_require_binary() {
  [[ -x $VMGW_BIN ]] || vmgw_die "vmgw binary not found at $VMGW_BIN (set VMGW_BIN)"
}

# ---------------------------------------------------------------------------------------------
# Lab state: one directory per lab ($VMGW_LAB) holding
#   id          the unique id in every namespace name
#   namespaces  every namespace created, one per line, in creation order
#   state/ run/ vmgw's --state-dir and --run-dir
#   logs/       server and DHCP client logs
#   tmp/        generated configs and scratch files

# vmgw_lab_names ID: set NS_GW, NS_ISP, NS_ISP2, NS_INET, NS_WEB, NS_DB, NS_LAN for lab ID.
vmgw_lab_names() {
  local id=$1
  LAB_ID=$id
  NS_GW="vmgw-$id-gw"
  NS_ISP="vmgw-$id-isp"
  NS_ISP2="vmgw-$id-isp2"
  NS_INET="vmgw-$id-inet"
  NS_WEB="vmgw-$id-web"
  NS_DB="vmgw-$id-db"
  NS_LAN="vmgw-$id-lan"
}

# vmgw_lab_init DIR [ID]: create the state directory of a new lab and set its names.
vmgw_lab_init() {
  VMGW_LAB=$1
  local id=${2:-$(vmgw_unique_id)}
  mkdir -p "$VMGW_LAB"/{state,run,logs,tmp}
  # dnsmasq drops root privileges after start and re-reads its hosts file as "nobody" on SIGHUP.
  chmod 755 "$VMGW_LAB" "$VMGW_LAB"/{state,run,logs,tmp}
  echo "$id" >"$VMGW_LAB/id"
  : >>"$VMGW_LAB/namespaces"
  vmgw_lab_names "$id"
  vmgw_daemon_paths
}

# vmgw_lab_load DIR: point the globals at an existing lab.
vmgw_lab_load() {
  VMGW_LAB=$1
  [[ -f $VMGW_LAB/id ]] || return 1
  vmgw_lab_names "$(cat "$VMGW_LAB/id")"
  vmgw_daemon_paths
}

# vmgw_ns_add NS: create a namespace, record it, bring lo up. IPv6 is turned off inside: the lab
# is IPv4 only and router solicitations would otherwise tick counters between snapshots.
vmgw_ns_add() {
  local ns=$1
  [[ $ns == vmgw-* ]] || vmgw_die "refusing to create namespace without vmgw prefix: $ns"
  ip netns add "$ns"
  echo "$ns" >>"$VMGW_LAB/namespaces"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null
}

# vmgw_ns_del NS: kill every process in NS (servers, dnsmasq, clients), then delete it.
vmgw_ns_del() {
  local ns=$1
  [[ $ns == vmgw-* ]] || return 0
  [[ -e /run/netns/$ns ]] || return 0
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  # A killed process may take a moment to release the namespace; deleting still works then.
  ip netns del "$ns" 2>/dev/null || { sleep 0.5; ip netns del "$ns" 2>/dev/null || true; }
}

# vmgw_lab_destroy [DIR]: remove every namespace of the lab and its state directory. Idempotent
# and never fails: it runs from EXIT traps.
vmgw_lab_destroy() {
  local dir=${1:-${VMGW_LAB:-}} ns hook
  [[ -n $dir && -d $dir ]] || return 0
  # What an add-on registered for an orderly stop first (tests/netns/libvirt.sh: destroy the
  # domains, stop libvirtd); everything below still runs whatever they did.
  for hook in ${VMGW_LAB_DESTROY_HOOKS[@]+"${VMGW_LAB_DESTROY_HOOKS[@]}"}; do
    "$hook" "$dir" || true
  done
  # The daemon and the DHCP servers first (by recorded pid, checking the pid is still theirs);
  # "ip netns pids" below would find them too, this only makes it independent of that.
  vmgw_kill_recorded "$dir"
  if [[ -f $dir/namespaces ]]; then
    # Reverse order: clients before the gateway, for tidy logs; correctness does not depend on it.
    while read -r ns; do
      [[ -n $ns ]] && vmgw_ns_del "$ns"
    done < <(tac "$dir/namespaces")
  fi
  rm -rf -- "$dir"
}

# vmgw_veth NS1 IF1 NS2 IF2: a veth pair created directly inside the namespaces (never in the
# machine's own namespace, even for an instant), both ends up.
vmgw_veth() {
  local ns1=$1 if1=$2 ns2=$3 if2=$4
  ip -n "$ns1" link add "$if1" type veth peer name "$if2" netns "$ns2"
  ip -n "$ns1" link set "$if1" up
  ip -n "$ns2" link set "$if2" up
}

# vmgw_bg NS NAME CMD...: start a long-running process in NS, detached from our terminal and
# process group so it outlives "vmgw-lab up"; output goes to logs/NAME.log. It is reaped by
# vmgw_ns_del through "ip netns pids".
vmgw_bg() {
  local ns=$1 name=$2; shift 2
  ip netns exec "$ns" setsid "$@" </dev/null >>"$VMGW_LAB/logs/$name.log" 2>&1 &
  disown 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# The lab topology (matches examples/lab.yaml)
#
#   [inet] eth0 198.51.100.10 --- eth1 198.51.100.1 [isp] eth0 203.0.113.1 --- wan0 [gw]
#   [inet] eth1 192.0.2.130   --- eth1 192.0.2.129  [isp2] eth0 192.0.2.1  --- wan1 [gw]
#   [gw] vnet-web --- eth0 [web]  (DHCP, mac ...:0a)      vmgw puts vnet-* into br-vm
#   [gw] vnet-db  --- eth0 [db]   (DHCP, mac ...:0b)
#   [gw] lan0     --- eth0 [lan]  192.168.50.10/24 via 192.168.50.1
#
# The gateway namespace gets NO addresses from us: vmgw adds wan0's, wan1's, br-vm's and lan0's.
# Both ISPs filter what their customer sends (BCP 38): a packet from the gateway whose source is
# not an address of that ISP is dropped, as real ISPs do, so traffic that leaves through the
# wrong uplink fails instead of passing by luck.

vmgw_topology_up() {
  local ns
  for ns in "$NS_GW" "$NS_ISP" "$NS_ISP2" "$NS_INET" "$NS_WEB" "$NS_DB" "$NS_LAN"; do
    vmgw_ns_add "$ns"
  done

  # Uplink: gateway <-> ISP <-> internet.
  vmgw_veth "$NS_GW" wan0 "$NS_ISP" eth0
  vmgw_veth "$NS_ISP" eth1 "$NS_INET" eth0
  ip -n "$NS_ISP" addr add "$LAB_ISP_ADDR/24" dev eth0
  ip -n "$NS_ISP" addr add "$LAB_ISP_INET_ADDR/24" dev eth1
  ip netns exec "$NS_ISP" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
  ip -n "$NS_INET" addr add "$LAB_INET_ADDR/24" dev eth0
  ip -n "$NS_INET" route add default via "$LAB_ISP_INET_ADDR"
  vmgw_isp_filter "$NS_ISP" 203.0.113.0/24

  # Second uplink: gateway <-> ISP 2 <-> internet.
  vmgw_veth "$NS_GW" wan1 "$NS_ISP2" eth0
  vmgw_veth "$NS_ISP2" eth1 "$NS_INET" eth1
  ip -n "$NS_ISP2" addr add "$LAB_ISP2_ADDR/25" dev eth0
  ip -n "$NS_ISP2" addr add "$LAB_ISP2_INET_ADDR/30" dev eth1
  ip -n "$NS_ISP2" route add default via "$LAB_INET_ISP2_ADDR"
  ip netns exec "$NS_ISP2" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
  ip -n "$NS_INET" addr add "$LAB_INET_ISP2_ADDR/30" dev eth1
  ip -n "$NS_INET" route add 192.0.2.0/25 via "$LAB_ISP2_INET_ADDR"
  vmgw_isp_filter "$NS_ISP2" 192.0.2.0/25

  # VM ports: the gateway side stays unattached; vmgw enslaves it to br-vm.
  vmgw_veth "$NS_GW" vnet-web "$NS_WEB" eth0
  vmgw_veth "$NS_GW" vnet-db "$NS_DB" eth0
  ip -n "$NS_WEB" link set eth0 address "$LAB_WEB_MAC"
  ip -n "$NS_DB" link set eth0 address "$LAB_DB_MAC"

  # LAN: a plain interface used as the network's "bridge" by vmgw; the client is static.
  vmgw_veth "$NS_GW" lan0 "$NS_LAN" eth0
  ip -n "$NS_LAN" addr add "$LAB_LAN_CLIENT/24" dev eth0
  ip -n "$NS_LAN" route add default via "$LAB_LAN_GW"
}

# vmgw_isp_filter NS CUSTOMER_PREFIX: the ISP forwards from its customer link (eth0) only what
# comes from the customer's own addresses (BCP 38), and counts what it forwards: everything, and
# SSH by DSCP class (the DSCP test reads them). Table "isp" in the ISP's own namespace.
vmgw_isp_filter() {
  ip netns exec "$1" nft -f - <<EOF
table inet isp {
  counter forwarded_out { }
  counter ssh { }
  counter ssh_af21 { }
  counter other_marked { }
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "eth0" ip saddr != $2 counter drop comment "BCP 38: not our customer's address"
    iifname "eth0" counter name forwarded_out
    iifname "eth0" tcp dport 22 counter name ssh
    iifname "eth0" tcp dport 22 ip dscp af21 counter name ssh_af21
    iifname "eth0" tcp dport != 22 ip dscp != cs0 counter name other_marked
  }
}
EOF
}

# vmgw_isp_counter NS NAME: the packets the ISP's named counter NAME counted.
vmgw_isp_counter() {
  ip netns exec "$1" nft -j list counter inet isp "$2" | jq '.nftables[1].counter.packets'
}

# Servers: the internet test server reports the source address it saw; each VM answers with its
# name; in the gateway a socat on tcp/22 stands in for sshd.
vmgw_servers_up() {
  # shellcheck disable=SC2016  # $SOCAT_PEERADDR is expanded by the server's shell, per client
  vmgw_bg "$NS_INET" inet-server socat TCP-LISTEN:80,fork,reuseaddr \
    SYSTEM:'echo seen-from=$SOCAT_PEERADDR'
  vmgw_bg "$NS_WEB" web-server socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo hello from web'
  vmgw_bg "$NS_DB" db-server socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo hello from db'
  vmgw_bg "$NS_GW" gw-sshd socat TCP-LISTEN:22,fork,reuseaddr SYSTEM:'echo ssh-standin'
  local ns port
  for ns in "$NS_INET":80 "$NS_WEB":80 "$NS_DB":80 "$NS_GW":22; do
    port=${ns##*:}; ns=${ns%:*}
    vmgw_wait_for 5 vmgw_listening "$ns" "$port" || vmgw_die "server in $ns on port $port did not start"
  done
}

vmgw_listening() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep . >/dev/null; }

# vmgw_dhcp NS: one DHCP exchange on eth0 with busybox udhcpc (bounded: 5 tries, 1 s apart);
# the script applies the lease with ip. Prints nothing; the address shows on eth0.
vmgw_dhcp() {
  local ns=$1 script
  script=$(vmgw_udhcpc_script)
  ip netns exec "$ns" timeout 30 busybox udhcpc -i eth0 -n -q -t 5 -T 1 -s "$script" \
    >>"$VMGW_LAB/logs/udhcpc-${ns##*-}.log" 2>&1
}

# vmgw_udhcpc_script: create (once) the lab's udhcpc script and print its path.
vmgw_udhcpc_script() {
  local script=$VMGW_LAB/tmp/udhcpc.script tmp
  if [[ ! -x $script ]]; then
    tmp=$script.$BASHPID
    # busybox passes $ip, $mask (prefix length) and $router (space separated list). Written
    # aside and renamed: two VMs' DHCP may run this at the same moment.
    cat >"$tmp" <<'EOF'
#!/bin/sh
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      set -- $router
      ip route replace default via "$1" dev "$interface"
    fi ;;
esac
exit 0
EOF
    chmod 755 "$tmp"
    mv -f "$tmp" "$script"
  fi
  echo "$script"
}

# vmgw_ipv4_of NS [DEV]: the first IPv4 address (without prefix) on DEV, default eth0.
vmgw_ipv4_of() {
  # (awk reads everything: an early exit could SIGPIPE ip, a failure under pipefail)
  ip -n "$1" -4 -o addr show dev "${2:-eth0}" 2>/dev/null | awk '!n++ {split($4, a, "/"); print a[1]}'
}

# ---------------------------------------------------------------------------------------------
# Driving the product (always inside the gateway namespace, with this lab's own dirs)

vmgw_cli() { ip netns exec "$NS_GW" "$VMGW_BIN" "$@"; }

# vmgw_apply CONFIG: sets APPLY_RC, APPLY_OUT (stdout) and APPLY_ERR (stderr). Never fails.
vmgw_apply() {
  local out=$VMGW_LAB/tmp/apply.out err=$VMGW_LAB/tmp/apply.err
  APPLY_RC=0
  timeout 60 ip netns exec "$NS_GW" "$VMGW_BIN" apply -f "$1" \
    --state-dir "$VMGW_LAB/state" --run-dir "$VMGW_LAB/run" >"$out" 2>"$err" || APPLY_RC=$?
  APPLY_OUT=$(cat "$out")
  APPLY_ERR=$(cat "$err")
}

# vmgw_check_config CONFIG: sets CHECK_RC, CHECK_OUT, CHECK_ERR. Never fails.
vmgw_check_config() {
  local out=$VMGW_LAB/tmp/check.out err=$VMGW_LAB/tmp/check.err
  CHECK_RC=0
  timeout 30 ip netns exec "$NS_GW" "$VMGW_BIN" check -f "$1" >"$out" 2>"$err" || CHECK_RC=$?
  CHECK_OUT=$(cat "$out")
  CHECK_ERR=$(cat "$err")
}

# vmgw_client NS ADDR PORT: connect with a bounded socat, print what the server sent. Fails when
# the connection fails. stdin is empty: socat half-closes and waits (-t) for the server's answer.
vmgw_client() {
  ip netns exec "$1" timeout 6 socat -t 3 -T 3 - "TCP:$2:$3,connect-timeout=2" </dev/null 2>/dev/null
}

# The vmgw nft table with counter values zeroed (for comparisons "identical except counters").
vmgw_nft_table_normalized() {
  ip netns exec "$NS_GW" nft list table inet vmgw 2>/dev/null |
    sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter packets 0 bytes 0/g' | vmgw_nft_no_buckets
}

# Filter of an nft listing: leaves out the elements of the drop log's sets (drop_log_*), which
# the kernel adds and expires as packets are logged: token buckets, state like counters.
vmgw_nft_no_buckets() {
  awk '/^\tset drop_log_/ { in_set = 1 } in_set && /^\t}/ { in_set = 0 }
       in_set && /elements = \{/ { skip = 1 } !skip { print } skip && /\}/ { skip = 0 }'
}

# A snapshot of the gateway's kernel state that vmgw may touch: nft ruleset (stateless, so
# counters ticked by background packets do not count), addresses, routes. Link flags and
# operational state are left out: a bridge turns from UNKNOWN to UP on its own a moment after
# its first port joins, which is not a change anyone made.
vmgw_gw_snapshot() {
  echo "## nft"; ip netns exec "$NS_GW" nft -s list ruleset | vmgw_nft_no_buckets
  echo "## addr"; ip -n "$NS_GW" addr | sed -E 's/<[^>]*>//; s/ state [A-Z]+//'
  echo "## route"; ip -n "$NS_GW" route show table all
}

# ---------------------------------------------------------------------------------------------
# Bringing the whole lab up: topology, servers, vmgw apply, DHCP in the VMs.
# Topology or server trouble is an environment failure and exits (set -e / vmgw_die; the
# caller's trap removes the lab). What the product is responsible for (apply, DHCP) does not
# exit: it is reported in LAB_UP_ERROR (empty when all went well) and LAB_UP_APPLY_RC, so the
# checks that follow can show what works and what does not. Never call this in a condition
# ("if"/"||"): bash would then ignore failing commands inside it.

vmgw_lab_up() {
  local config=${1:-$VMGW_LAB_CONFIG}
  LAB_UP_ERROR=""
  vmgw_log "building topology (lab $LAB_ID)"
  vmgw_topology_up
  vmgw_servers_up
  vmgw_log "vmgw apply -f $config"
  vmgw_apply "$config"
  LAB_UP_APPLY_RC=$APPLY_RC
  printf '%s\n' "$APPLY_OUT" >"$VMGW_LAB/logs/first-apply.out"
  printf '%s\n' "$APPLY_ERR" >"$VMGW_LAB/logs/first-apply.err"
  if ((APPLY_RC != 0)); then
    LAB_UP_ERROR="vmgw apply exited $APPLY_RC: $APPLY_OUT $APPLY_ERR"
    vmgw_log "$LAB_UP_ERROR"
    return 0
  fi
  vmgw_log "apply: $APPLY_OUT"
  vmgw_lab_dhcp || LAB_UP_ERROR="DHCP did not complete in every VM (see $VMGW_LAB/logs)"
  return 0
}

# DHCP in both VMs (in parallel: each takes about a second when it works, up to ~7 s when not).
vmgw_lab_dhcp() {
  local rc=0 p1 p2
  vmgw_log "DHCP in the VMs"
  vmgw_dhcp "$NS_WEB" & p1=$!
  vmgw_dhcp "$NS_DB" & p2=$!
  wait "$p1" || rc=1
  wait "$p2" || rc=1
  vmgw_log "web=$(vmgw_ipv4_of "$NS_WEB") db=$(vmgw_ipv4_of "$NS_DB")"
  return $rc
}

# ---------------------------------------------------------------------------------------------
# The demo checks (shared by "vmgw-lab demo" and tests/netns/test_demo.sh).
# Each row appends to ROW_CHECK / ROW_RESULT / ROW_DETAIL.

ROW_CHECK=(); ROW_RESULT=(); ROW_DETAIL=()

vmgw_row() {  # vmgw_row PASS|FAIL "check" "detail"
  ROW_RESULT+=("$1"); ROW_CHECK+=("$2"); ROW_DETAIL+=("$3")
}

# vmgw_row_expect CHECK EXPECTED NS ADDR PORT: a row passing when the reply contains EXPECTED.
vmgw_row_expect() {
  local check=$1 expected=$2 got
  got=$(vmgw_client "$3" "$4" "$5") || true
  got=$(printf '%s' "$got" | tr '\n' ' ' | sed 's/ *$//')
  if [[ $got == *"$expected"* ]]; then
    vmgw_row PASS "$check" "got '$got'"
  else
    vmgw_row FAIL "$check" "expected '$expected', got '${got:-<no answer>}'"
  fi
}

# vmgw_row_refused CHECK NS ADDR PORT: a row passing when no connection can be made.
vmgw_row_refused() {
  local check=$1 got
  if got=$(vmgw_client "$2" "$3" "$4"); then
    vmgw_row FAIL "$check" "connected, got '$(printf '%s' "$got" | tr '\n' ' ')'"
  else
    vmgw_row PASS "$check" "no connection (as intended)"
  fi
}

vmgw_demo_checks() {
  local config=${1:-$VMGW_LAB_CONFIG} web_ip
  web_ip=$(vmgw_ipv4_of "$NS_WEB")
  if [[ $web_ip == "$LAB_WEB_IP" ]]; then
    vmgw_row PASS "web gets reserved $LAB_WEB_IP by DHCP" "eth0 $web_ip"
  else
    vmgw_row FAIL "web gets reserved $LAB_WEB_IP by DHCP" "eth0 has '${web_ip:-nothing}'"
  fi
  vmgw_row_expect "web -> internet, source $LAB_UPLINK_ADDR" "seen-from=$LAB_UPLINK_ADDR" \
    "$NS_WEB" "$LAB_INET_ADDR" 80
  vmgw_row_expect "db -> internet, source elastic $LAB_EIP_DB" "seen-from=$LAB_EIP_DB" \
    "$NS_DB" "$LAB_INET_ADDR" 80
  vmgw_row_expect "internet -> $LAB_UPLINK_ADDR:$LAB_PF_PORT reaches web" "hello from web" \
    "$NS_INET" "$LAB_UPLINK_ADDR" "$LAB_PF_PORT"
  vmgw_row_expect "internet -> $LAB_EIP_DB:80 reaches db" "hello from db" \
    "$NS_INET" "$LAB_EIP_DB" 80
  vmgw_row_refused "internet -/-> host ssh $LAB_UPLINK_ADDR:22" \
    "$NS_INET" "$LAB_UPLINK_ADDR" 22
  vmgw_row_expect "LAN -> host ssh $LAB_LAN_GW:22" "ssh-standin" "$NS_LAN" "$LAB_LAN_GW" 22
  vmgw_row_expect "LAN -> internet, source $LAB_UPLINK_ADDR" "seen-from=$LAB_UPLINK_ADDR" \
    "$NS_LAN" "$LAB_INET_ADDR" 80
  vmgw_apply "$config"
  if ((APPLY_RC == 0)) && [[ $APPLY_OUT == "no changes"* ]]; then
    vmgw_row PASS "re-apply writes nothing" "'$APPLY_OUT'"
  else
    vmgw_row FAIL "re-apply writes nothing" "exit $APPLY_RC, '$APPLY_OUT' $APPLY_ERR"
  fi
  # The backup ISP. Without vmgwd nothing probes: apply sees the links; vmgwd follows them (and
  # its probes) by itself, see docs/uplinks.md.
  ip -n "$NS_ISP" link set eth0 down
  vmgw_apply "$config"
  vmgw_row_expect "isp1's link down, apply: web -> internet through isp2"     "seen-from=$LAB_UPLINK2_ADDR" "$NS_WEB" "$LAB_INET_ADDR" 80
  ip -n "$NS_ISP" link set eth0 up
  vmgw_wait_for 5 bash -c "ip -n '$NS_GW' link show wan0 | grep -q LOWER_UP" || true
  vmgw_apply "$config"
  vmgw_row_expect "isp1 back, apply: web -> internet through isp1 again"     "seen-from=$LAB_UPLINK_ADDR" "$NS_WEB" "$LAB_INET_ADDR" 80
}

# Print the rows as a table; return non-zero if any row failed.
vmgw_rows_print() {
  local i fails=0 w=5 detail
  for i in "${!ROW_CHECK[@]}"; do ((${#ROW_CHECK[i]} > w)) && w=${#ROW_CHECK[i]}; done
  printf '%-3s  %-*s  %-6s  %s\n' "#" "$w" "check" "result" "detail"
  printf '%-3s  %-*s  %-6s  %s\n' "---" "$w" "$(printf '%*s' "$w" '' | tr ' ' -)" "------" "------"
  for i in "${!ROW_CHECK[@]}"; do
    detail=${ROW_DETAIL[i]}
    ((${#detail} > 100)) && detail="${detail:0:97}..."
    printf '%-3s  %-*s  %-6s  %s\n' "$((i + 1))" "$w" "${ROW_CHECK[i]}" "${ROW_RESULT[i]}" "$detail"
    [[ ${ROW_RESULT[i]} == PASS ]] || fails=$((fails + 1))
  done
  echo "rows: $((${#ROW_CHECK[@]} - fails)) pass, $fails fail"
  ((fails == 0))
}

# ---------------------------------------------------------------------------------------------
# The daemon (vmgwd) in the lab. It runs INSIDE the gateway namespace with every path of its own
# under $VMGW_LAB: database state/vmgw.db, API socket run/vmgw.sock, DHCP files in state/,
# dnsmasq pid files in run/; its output goes to $VMGW_LAB/vmgwd.log (appended across restarts).
# The daemon configures the gateway itself when it starts: there is no "vmgw apply" in a
# daemon lab. Every pid it had is recorded in $VMGW_LAB/pids for vmgw_lab_destroy.

vmgw_daemon_paths() {
  VMGW_SOCKET=$VMGW_LAB/run/vmgw.sock
  VMGW_DB=$VMGW_LAB/state/vmgw.db
  VMGWD_LOG=$VMGW_LAB/vmgwd.log
  VMGWD_PID=${VMGWD_PID:-}
}

vmgw_require_daemon() {
  [[ -x $VMGWD_BIN ]] || vmgw_die "vmgwd binary not found at $VMGWD_BIN (set VMGWD_BIN)"
}

# vmgw_is_proc PID NAME: PID is alive (not a zombie) and its command name starts with NAME.
vmgw_is_proc() {
  local pid=$1 name=$2 comm state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
  [[ $comm == "$name"* && $state != Z ]]
}

# vmgw_kill_recorded DIR: SIGKILL the lab's daemons (DIR/pids), libvirtd (DIR/libvirt/pid) and
# dnsmasqs (DIR/run/*.pid), each only if the pid still belongs to such a process. Never fails.
vmgw_kill_recorded() {
  local dir=$1 pid f
  if [[ -f $dir/pids ]]; then
    while read -r pid; do
      vmgw_is_proc "$pid" vmgwd && kill -9 "$pid" 2>/dev/null
    done <"$dir/pids"
  fi
  # libvirtd of tests/netns/libvirt.sh (its qemus are in the gateway namespace, killed with it).
  pid=$(cat "$dir/libvirt/pid" 2>/dev/null) && vmgw_is_proc "$pid" libvirtd && kill -9 "$pid" 2>/dev/null
  for f in "$dir"/run/*.pid; do
    [[ -f $f ]] || continue
    pid=$(cat "$f" 2>/dev/null) || continue
    vmgw_is_proc "$pid" dnsmasq && kill -9 "$pid" 2>/dev/null
  done
  return 0
}

# vmgwc ARGS...: the CLI in the gateway namespace, talking to this lab's daemon (bounded).
vmgwc() {
  timeout 30 ip netns exec "$NS_GW" "$VMGW_BIN" --socket "$VMGW_SOCKET" "$@"
}

# vmgw_daemon_running: the daemon we started last is alive.
vmgw_daemon_running() { [[ -n ${VMGWD_PID:-} ]] && vmgw_is_proc "$VMGWD_PID" vmgwd; }

# vmgw_daemon_up [CONFIG]: start vmgwd in the gateway namespace and wait (at most 20 s) until
# "vmgw status" answers. The array VMGWD_EXTRA_ARGS, if set, is added to vmgwd's arguments. Returns non-zero (and prints the log's tail) when it does not come up.
vmgw_daemon_up() {
  local config=${1:-$VMGW_DAEMON_CONFIG} deadline
  [[ -x $VMGWD_BIN ]] || vmgw_die "vmgwd binary not found at $VMGWD_BIN"
  vmgw_daemon_running && vmgw_die "vmgwd is already running (pid $VMGWD_PID)"
  echo "=== $(date +%T) starting vmgwd --config $config" >>"$VMGWD_LOG"
  # "ip netns exec" execs the daemon: $! is vmgwd's own pid. Disowned: a kill -9 on purpose is
  # not reported by bash, and bash still reaps it.
  ip netns exec "$NS_GW" "$VMGWD_BIN" --config "$config" --db "$VMGW_DB" --socket "$VMGW_SOCKET" \
    --state-dir "$VMGW_LAB/state" --run-dir "$VMGW_LAB/run" \
    ${VMGWD_EXTRA_ARGS[@]+"${VMGWD_EXTRA_ARGS[@]}"} </dev/null >>"$VMGWD_LOG" 2>&1 &
  VMGWD_PID=$!
  disown "$VMGWD_PID" 2>/dev/null || true
  echo "$VMGWD_PID" >>"$VMGW_LAB/pids"
  deadline=$((SECONDS + 20))
  until timeout 5 ip netns exec "$NS_GW" "$VMGW_BIN" --socket "$VMGW_SOCKET" status >/dev/null 2>&1; do
    # Right after the launch the process is still "ip" (ip netns exec) until it execs vmgwd:
    # it has exited only when its pid is gone or a zombie, whatever its name. (Checking for
    # "vmgwd or ip" reported a daemon starting fine as exited, under load: once in a full run.)
    if ! vmgw_is_proc "$VMGWD_PID" ""; then
      vmgw_log "vmgwd (pid $VMGWD_PID) exited while starting; its log:"
      tail -n 20 "$VMGWD_LOG" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      vmgw_log "vmgwd (pid $VMGWD_PID) did not answer within 20 s; its log:"
      tail -n 20 "$VMGWD_LOG" >&2
      return 1
    fi
    sleep 0.2
  done
  vmgw_log "vmgwd up (pid $VMGWD_PID, socket $VMGW_SOCKET)"
}

# vmgw_daemon_wait_gone [SECONDS]: wait (default 10 s) until the daemon's pid is gone.
vmgw_daemon_wait_gone() {
  local limit=${1:-10} deadline
  deadline=$((SECONDS + limit))
  while vmgw_daemon_running; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# vmgw_daemon_kill9: kill -9 the daemon (a crash) and wait until it is gone.
vmgw_daemon_kill9() {
  vmgw_daemon_running || return 0
  kill -9 "$VMGWD_PID" 2>/dev/null || true
  vmgw_daemon_wait_gone 5
}

# vmgw_daemon_stop: SIGTERM, then wait (10 s) for a clean exit; SIGKILL if it does not stop.
# Returns non-zero when SIGKILL was needed.
vmgw_daemon_stop() {
  vmgw_daemon_running || return 0
  kill -TERM "$VMGWD_PID" 2>/dev/null || true
  vmgw_daemon_wait_gone 10 && return 0
  vmgw_log "vmgwd (pid $VMGWD_PID) ignored SIGTERM for 10 s; killing it"
  vmgw_daemon_kill9
  return 1
}

# vmgw_daemon_hup: SIGHUP (reload the config file).
vmgw_daemon_hup() { vmgw_daemon_running && kill -HUP "$VMGWD_PID"; }

# vmgw_daemon_lab_up [CONFIG]: the lab topology and servers, then vmgwd with CONFIG (default
# examples/daemon.yaml). No "vmgw apply": the daemon configures the gateway. Returns non-zero
# when the daemon does not come up (the topology's own failures exit, as in vmgw_lab_up).
vmgw_daemon_lab_up() {
  local config=${1:-$VMGW_DAEMON_CONFIG}
  vmgw_log "building topology (lab $LAB_ID, daemon)"
  vmgw_topology_up
  vmgw_servers_up
  vmgw_daemon_up "$config"
}

# vmgw_json_get JSON FILTER: jq -r FILTER of JSON (empty output when JSON is not JSON).
vmgw_json_get() { jq -r "$2" <<<"$1" 2>/dev/null; }

# vmgw_generation: the generation the daemon reports.
vmgw_generation() { vmgwc -o json status | jq -r .generation; }

# vmgw_http METHOD PATH [BODY]: one raw HTTP request on the API socket with curl (for what the
# CLI cannot send). Sets HTTP_STATUS ("000" when no answer) and HTTP_BODY. BODY "@FILE" sends
# the file. Never fails.
vmgw_http() {
  local method=$1 path=$2 out=$VMGW_LAB/tmp/http.body
  local args=(-sS --max-time 15 --unix-socket "$VMGW_SOCKET" -X "$method" -o "$out" -w '%{http_code}')
  (($# >= 3)) && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  rm -f "$out"
  HTTP_STATUS=$(curl "${args[@]}" "http://vmgw$path" 2>"$VMGW_LAB/tmp/http.err") || true
  [[ -n $HTTP_STATUS ]] || HTTP_STATUS=000
  HTTP_BODY=$(cat "$out" 2>/dev/null) || HTTP_BODY=""
}

# ---------------------------------------------------------------------------------------------
# Test harness: a fresh lab per test, removed on any exit.

# vmgw_private_mounts "$@": runs this test again in a mount namespace of its own (mounts it makes
# exist only there and go with it). First thing of a test that mounts, before vmgw_test_begin.
vmgw_private_mounts() {
  [[ -n ${VMGW_IN_MOUNT_NS:-} ]] && return 0
  [[ $EUID -eq 0 ]] || vmgw_skip "must run as root (a private mount namespace)"
  exec unshare --mount --propagation private env VMGW_IN_MOUNT_NS=1 bash "$0" "$@"
}

# vmgw_test_begin NAME: skip unless root + tools + binary; create the lab dir; install traps.
vmgw_test_begin() {
  vmgw_require_env
  vmgw_require_binary
  [[ -f $VMGW_LAB_CONFIG ]] || vmgw_die "lab config not found: $VMGW_LAB_CONFIG"
  vmgw_lab_init "$(mktemp -d "/tmp/vmgw-$1.XXXXXX")"
  trap vmgw_test_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  TEST_FAILS=0; TEST_PASSES=0
}

vmgw_test_cleanup() {
  local rc=$?
  if ((rc != 0 && rc != 77)) && [[ -d ${VMGW_LAB:-} && -d $VMGW_LAB/logs ]]; then
    # Keep the evidence visible in ctest's output before it is deleted.
    local f
    for f in "$VMGW_LAB"/vmgwd.log "$VMGW_LAB"/logs/*.log "$VMGW_LAB"/state/dhcp/*.log; do
      [[ -s $f ]] && { echo "--- $f"; tail -n 20 "$f"; }
    done
  fi
  vmgw_lab_destroy "${VMGW_LAB:-}"
  exit "$rc"
}

# assert DESCRIPTION CMD...: record and print one assertion; the test goes on after a failure.
assert() {
  local what=$1; shift
  if "$@"; then
    echo "ok   - $what"; TEST_PASSES=$((TEST_PASSES + 1))
  else
    echo "FAIL - $what"; TEST_FAILS=$((TEST_FAILS + 1))
  fi
}

# not CMD...: succeed when CMD fails (for assert).
not() { ! "$@"; }

# Print the tally and exit with the test's verdict. A test that made no assertion proved nothing:
# it fails.
vmgw_test_end() {
  echo "assertions: $TEST_PASSES ok, $TEST_FAILS failing"
  if ((TEST_PASSES + TEST_FAILS == 0)); then
    echo "FAIL - the test made no assertion"
    exit 1
  fi
  ((TEST_FAILS == 0)) || exit 1
  exit 0
}
