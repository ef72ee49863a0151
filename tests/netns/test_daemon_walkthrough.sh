#!/usr/bin/env bash
# End to end: the README's daemon walkthrough, exactly as a new user types it. The block below
# IS the test: every "$ " line is run as written (in order, in one shell; "\" continues a
# command), and every line indented under it must appear in that command's output (runs of
# spaces count as one). Copy it into the README as it is.
#
# WALKTHROUGH BEGIN
# The lab's namespaces, with nothing applied: $GW the gateway (uplink wan0 to the ISP, VM ports
# vnet-web and vnet-db, LAN lan0), $WEB and $DB two VMs, $INET a host on the internet; $L is a
# scratch directory. Start the daemon in the gateway with the lab's topology; VMs, elastic IPs
# and forwards come through its API, which the same vmgw command drives:
#   $ ip netns exec $GW build/vmgwd --config examples/daemon.yaml \
#       --db $L/state/vmgw.db --socket $L/run/vmgw.sock \
#       --state-dir $L/state --run-dir $L/run >>$L/vmgwd.log 2>&1 &
#   $ vmgwd_pid=$!
#   $ vmgw() { ip netns exec $GW build/vmgw --socket $L/run/vmgw.sock "$@"; }
#   $ vmgw status
#     generation: 0
#   $ vmgw network list
#     vmnet br-vm 10.10.0.0/24 10.10.0.1 true 0
# Add a VM; it gets the next free address as a DHCP reservation, and takes it when it boots:
#   $ vmgw vm add web --network vmnet --mac 52:54:00:00:00:0a --port vnet-web
#     vm web added: 10.10.0.2 (52:54:00:00:00:0a) on vmnet
#   $ ip netns exec $WEB busybox udhcpc -i eth0 -n -q -s $L/tmp/udhcpc.script
#     lease of 10.10.0.2 obtained
# Give it a public address of its own: allocate an elastic IP and bind it (1:1 NAT both ways):
#   $ vmgw eip allocate
#     allocated 203.0.113.16 from pool public
#   $ vmgw eip bind 203.0.113.16 web
#     203.0.113.16 bound to vm web
#   $ ip netns exec $INET socat - TCP:203.0.113.16:80,connect-timeout=5
#     hello from web
# A second VM; move the elastic IP to it in one call (established flows to web are cut):
#   $ vmgw vm add db --network vmnet --mac 52:54:00:00:00:0b --port vnet-db
#     vm db added: 10.10.0.3 (52:54:00:00:00:0b) on vmnet
#   $ ip netns exec $DB busybox udhcpc -i eth0 -n -q -s $L/tmp/udhcpc.script
#     lease of 10.10.0.3 obtained
#   $ vmgw eip bind 203.0.113.16 db
#     203.0.113.16 bound to vm db
#   $ ip netns exec $INET socat - TCP:203.0.113.16:80,connect-timeout=5
#     hello from db
#   $ vmgw vm list
#     db vmnet 52:54:00:00:00:0b 10.10.0.3 vnet-db 203.0.113.16
#     web vmnet 52:54:00:00:00:0a 10.10.0.2 vnet-web -
#   $ vmgw eip list
#     203.0.113.16 public isp1 db
# Restart the daemon: the kernel kept everything meanwhile, the new daemon finds it as it was
# and writes nothing:
#   $ kill $vmgwd_pid; wait $vmgwd_pid
#   $ ip netns exec $INET socat - TCP:203.0.113.16:80,connect-timeout=5
#     hello from db
#   $ ip netns exec $GW build/vmgwd --config examples/daemon.yaml \
#       --db $L/state/vmgw.db --socket $L/run/vmgw.sock \
#       --state-dir $L/state --run-dir $L/run >>$L/vmgwd.log 2>&1 &
#   $ vmgwd_pid=$!
#   $ vmgw status
#     generation: 5
#   $ grep started $L/vmgwd.log
#     started at generation 5: no changes
#   $ vmgw vm list
#     db vmnet 52:54:00:00:00:0b 10.10.0.3 vnet-db 203.0.113.16
#     web vmnet 52:54:00:00:00:0a 10.10.0.2 vnet-web -
#   $ vmgw eip list
#     203.0.113.16 public isp1 db
#   $ ip netns exec $INET socat - TCP:203.0.113.16:80,connect-timeout=5
#     hello from db
# WALKTHROUGH END
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin daemon_walkthrough
vmgw_require_daemon

# The walkthrough's lab: the lab topology and servers, no "vmgw apply", no daemon yet.
vmgw_log "building topology (lab $LAB_ID, nothing applied)"
vmgw_topology_up
vmgw_servers_up
vmgw_udhcpc_script >/dev/null
# The names the walkthrough uses (globals of the eval'd commands).
L=$VMGW_LAB GW=$NS_GW WEB=$NS_WEB DB=$NS_DB INET=$NS_INET
export L GW WEB DB INET
cd "$VMGW_SOURCE_DIR"

# Parse the block: STEP_CMD[i] and STEP_EXPECT[i] (expected lines, newline separated).
STEP_CMD=(); STEP_EXPECT=()
parse_walkthrough() {
  local line in=0 cont=0 text
  while IFS= read -r line; do
    [[ $line == "# WALKTHROUGH BEGIN" ]] && { in=1; continue; }
    [[ $line == "# WALKTHROUGH END" ]] && break
    ((in)) || continue
    if ((cont)); then
      text=${line#"#"}; text=${text#"${text%%[![:space:]]*}"}
      STEP_CMD[-1]+=" ${text%\\}"
      [[ $text == *\\ ]] || cont=0
    elif [[ $line == "#   \$ "* ]]; then
      text=${line#"#   \$ "}
      STEP_CMD+=("${text%\\}"); STEP_EXPECT+=("")
      [[ $text == *\\ ]] && cont=1
    elif [[ $line == "#     "* && ${#STEP_CMD[@]} -gt 0 ]]; then
      text=${line#"#     "}
      STEP_EXPECT[-1]+="$text"$'\n'
    fi
  done <"${BASH_SOURCE[0]}"
}
parse_walkthrough
((${#STEP_CMD[@]} > 10)) || vmgw_die "could not parse the walkthrough (${#STEP_CMD[@]} steps)"

# A watchdog bounds the whole walkthrough (a step such as "wait" could otherwise hang): after
# 120 s it sends us SIGTERM, the trap removes the lab and its processes.
# (Its sleep dies with it, and it holds no output: ctest would otherwise wait for it.)
(
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  sleep 120 & s=$!
  wait "$s" && kill -TERM $$
) >/dev/null 2>&1 &
watchdog=$!

squeeze() { tr -s ' \t' '  '; }
# shellcheck disable=SC2317  # called through assert
has_text() { [[ $1 == *"$2"* ]]; }
# Replace build/ in the commands by the binaries under test (ctest may build elsewhere).
bindir=$(dirname "$VMGW_BIN")
recorded_pid="" log_shown=0
for i in "${!STEP_CMD[@]}"; do
  cmd=${STEP_CMD[i]}
  run=${cmd//build\/vmgwd/$bindir/vmgwd}
  run=${run//build\/vmgw /$bindir/vmgw }
  echo "\$ $cmd"
  deadline=$((SECONDS + 10))
  while :; do
    rc=0
    eval "$run" </dev/null >"$L/tmp/step.out" 2>&1 || rc=$?
    # A daemon just started may not listen yet: retry "cannot reach" (exit 3) for up to 10 s.
    if ((rc != 3 || SECONDS >= deadline)) || [[ $cmd != vmgw\ * ]]; then break; fi
    sleep 0.2
  done
  sed 's/^/    /' "$L/tmp/step.out"
  # Record the daemon's pid for the cleanup the moment the walkthrough knows it.
  if [[ -n ${vmgwd_pid:-} && $vmgwd_pid != "$recorded_pid" ]]; then
    recorded_pid=$vmgwd_pid
    VMGWD_PID=$vmgwd_pid
    echo "$vmgwd_pid" >>"$VMGW_LAB/pids"
  fi
  [[ $cmd == *"&" ]] && continue   # started in the background: nothing to check yet
  assert "step $((i + 1)): exit 0" test "$rc" = 0
  if ((rc != 0)) && [[ -n $recorded_pid && $cmd != kill* ]] && ! vmgw_daemon_running && ((!log_shown)); then
    log_shown=1
    echo "  (vmgwd $recorded_pid is not running; its log:)"
    sed 's/^/    | /' "$L/vmgwd.log" 2>/dev/null || true
  fi
  got=$(squeeze <"$L/tmp/step.out")
  while IFS= read -r want; do
    [[ -n $want ]] || continue
    want=$(squeeze <<<"$want")
    assert "step $((i + 1)): output has '$want'" has_text "$got" "$want"
  done <<<"${STEP_EXPECT[i]}"
done

kill "$watchdog" 2>/dev/null || true
assert "the daemon of the walkthrough is running" vmgw_daemon_running
# The cleanup kills the daemon the walkthrough started: bash need not report it.
disown -a 2>/dev/null || true
vmgw_test_end
