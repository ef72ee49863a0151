#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: the daemon is not in the data path and its restarts change nothing.
#   * with VMs, a bound elastic IP and a port forward, a ping flow from the internet to the EIP
#     keeps being answered while vmgwd is killed with SIGKILL (loss < 10 %), and across its
#     restart;
#   * the restarted daemon's first reconcile writes nothing ("started at generation N: no
#     changes"), and the state (vm/eip/forward lists, generation), the nft table (counters
#     aside) and dnsmasq (same pid) are as before;
#   * SIGHUP with an invalid config file, or one the stored objects do not fit, is refused and
#     logged ("reload refused"): the daemon keeps serving the previous configuration;
#   * SIGTERM stops the daemon but leaves the vmgw table in the kernel: VMs stay reachable and
#     the host stays closed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin daemon_restart
vmgw_require_daemon

T=$VMGW_LAB/tmp
EIP=203.0.113.16
PING_INTERVAL=0.05

# A private copy of the config: the SIGHUP checks rewrite it.
config=$T/daemon.yaml
cp "$VMGW_DAEMON_CONFIG" "$config"

vmgw_daemon_lab_up "$config"

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
assert "vm add web" rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
assert "vm add db" rc_ok vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db
assert "eip allocate --address $EIP" rc_ok vmgwc eip allocate --address "$EIP"
assert "eip bind $EIP web" rc_ok vmgwc eip bind "$EIP" web
assert "forward add $LAB_UPLINK_ADDR:$LAB_PF_PORT -> db:80" \
  rc_ok vmgwc forward add --public "$LAB_UPLINK_ADDR:$LAB_PF_PORT" --proto tcp --to db:80
vmgw_lab_dhcp || true
assert "web and db got their addresses by DHCP" \
  test "$(vmgw_ipv4_of "$NS_WEB") $(vmgw_ipv4_of "$NS_DB")" = "$LAB_WEB_IP $LAB_DB_IP"

reaches() {  # reaches NS ADDR PORT EXPECTED
  local got
  got=$(vmgw_client "$1" "$2" "$3") || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}
refused_conn() { ! vmgw_client "$@" >/dev/null; }
data_path_works() {
  assert "$1: internet -> $EIP:80 reaches web" reaches "$NS_INET" "$EIP" 80 "hello from web"
  assert "$1: internet -> $LAB_UPLINK_ADDR:$LAB_PF_PORT reaches db" \
    reaches "$NS_INET" "$LAB_UPLINK_ADDR" "$LAB_PF_PORT" "hello from db"
  assert "$1: internet -/-> host ssh $LAB_UPLINK_ADDR:22" refused_conn "$NS_INET" "$LAB_UPLINK_ADDR" 22
}
data_path_works "daemon up"

# Everything the daemon and the kernel hold, to compare across restarts.
snapshot() {  # snapshot NAME
  {
    echo "## vms"; vmgwc -o json vm list
    echo "## eips"; vmgwc -o json eip list
    echo "## forwards"; vmgwc -o json forward list
    echo "## generation"; vmgw_generation
  } >"$T/$1.state" 2>&1
  vmgw_nft_table_normalized >"$T/$1.nft"
}
same_state() { diff -u "$T/$1.state" "$T/$2.state"; }
same_nft() { [[ -s $T/$1.nft ]] && diff -u "$T/$1.nft" "$T/$2.nft"; }
dnsmasq_pid() { cat "$VMGW_LAB/run/dnsmasq-vmnet.pid" 2>/dev/null; }

snapshot before
GEN=$(vmgw_generation)
assert "generation after 5 changes is 5" test "$GEN" = 5
dnsmasq_before=$(dnsmasq_pid)

# ping_start NAME COUNT: a ping flow from the internet to the EIP, in the background.
ping_start() {
  ip netns exec "$NS_INET" timeout 60 busybox ping -q -c "$2" -i "$PING_INTERVAL" -W 2 "$EIP" \
    >"$T/$1.ping" 2>&1 &
  PING_PID=$!
}
# ping_loss NAME: percentage of lost replies (100 when the summary is missing).
ping_loss() {
  local sent recv
  sent=$(awk '/packets transmitted/ {print $1}' "$T/$1.ping")
  recv=$(awk '/packets transmitted/ {print $4}' "$T/$1.ping")
  if [[ -z $sent || $sent == 0 ]]; then echo 100; return; fi
  echo $(((sent - recv) * 100 / sent))
}

echo "# kill -9 mid-flow"
ping_start down 80        # 4 s
sleep 1
vmgw_daemon_kill9
assert "vmgwd is gone after SIGKILL" not vmgw_daemon_running
wait "$PING_PID" || true
loss=$(ping_loss down)
echo "  ($(grep transmitted "$T/down.ping"))"
assert "replies keep coming while vmgwd is down: loss $loss% < 10%" test "$loss" -lt 10
assert "vmgwd was still down when the flow ended" not vmgw_daemon_running
rc=0; vmgwc status >/dev/null 2>&1 || rc=$?
assert "the CLI says it cannot reach the daemon (exit 3, got $rc)" test "$rc" = 3
data_path_works "daemon down"

echo "# restart"
ping_start across 60      # 3 s, across the restart
sleep 0.5
log_lines=$(wc -l <"$VMGWD_LOG")
vmgw_daemon_up "$config"
wait "$PING_PID" || true
loss=$(ping_loss across)
echo "  ($(grep transmitted "$T/across.ping"))"
assert "the flow is not disturbed by the restart: loss $loss% < 10%" test "$loss" -lt 10
restart_log=$(tail -n +"$((log_lines + 1))" "$VMGWD_LOG")
no_changes() {
  grep -F "started at generation $GEN: no changes" <<<"$restart_log" >/dev/null ||
    { grep started <<<"$restart_log"; return 1; }
}
assert "log: 'started at generation $GEN: no changes' (the first reconcile wrote nothing)" no_changes
snapshot after
assert "vm, eip, forward lists and generation identical after the restart" same_state before after
assert "nft table identical after the restart (counters aside)" same_nft before after
assert "dnsmasq was not restarted (pid $dnsmasq_before)" test "$(dnsmasq_pid)" = "$dnsmasq_before"
data_path_works "after restart"

echo "# a second daemon on the same database"
rc=0
ip netns exec "$NS_GW" timeout 10 "$VMGWD_BIN" --config "$config" --db "$VMGW_DB" \
  --socket "$VMGW_LAB/run/second.sock" --state-dir "$VMGW_LAB/state" --run-dir "$VMGW_LAB/run" \
  </dev/null >"$T/second.log" 2>&1 || rc=$?
assert "a second vmgwd on the same database exits 1 at once (got $rc)" test "$rc" = 1
assert "  ...saying another vmgwd is running" grep -qF "another vmgwd is running" "$T/second.log"
assert "  ...and the first one still serves" rc_ok vmgwc status
snapshot second
assert "  ...with nothing changed" same_nft before second

echo "# SIGHUP with a bad config"
hup_and_wait() {  # hup_and_wait PATTERN: SIGHUP, then wait (5 s) for PATTERN in the new log lines
  local from
  from=$(wc -l <"$VMGWD_LOG")
  vmgw_daemon_hup
  new_log() { tail -n +"$((from + 1))" "$VMGWD_LOG" | grep -F "$1" >/dev/null; }
  vmgw_wait_for 5 new_log "$1" || { tail -n +"$((from + 1))" "$VMGWD_LOG"; return 1; }
}
cp "$config" "$T/daemon.good.yaml"
printf 'uplinks: [\n' >"$config.tmp" && mv "$config.tmp" "$config"     # not even YAML
assert "SIGHUP with an invalid file: logs 'reload refused'" hup_and_wait "reload refused"
assert "  ...the daemon still runs" vmgw_daemon_running
assert "  ...and serves (status answers)" rc_ok vmgwc status
snapshot hup1
assert "  ...state unchanged" same_state before hup1
assert "  ...nft table unchanged" same_nft before hup1
data_path_works "after a refused reload"
# Valid on its own, but the stored VMs live on vmnet: without it they do not fit.
sed -E 's/^( *- name: )vmnet$/\1othernet/' "$T/daemon.good.yaml" >"$config.tmp" && mv "$config.tmp" "$config"
assert "SIGHUP with a config the stored VMs do not fit: logs 'reload refused'" hup_and_wait "reload refused"
assert "  ...the daemon still runs" vmgw_daemon_running
snapshot hup2
assert "  ...state unchanged" same_state before hup2
assert "  ...nft table unchanged" same_nft before hup2
cp "$T/daemon.good.yaml" "$config.tmp" && mv "$config.tmp" "$config"
assert "SIGHUP with the good file again: 'reloaded ...: no changes'" hup_and_wait "reloaded $config: no changes"

echo "# SIGTERM"
snapshot stop
assert "SIGTERM: vmgwd exits cleanly within 10 s" vmgw_daemon_stop
stopping() { grep -F "stopping; the kernel keeps the rules of generation $GEN" "$VMGWD_LOG" >/dev/null; }
assert "log: 'stopping; the kernel keeps the rules of generation $GEN'" stopping
table_kept() { ip netns exec "$NS_GW" nft list table inet vmgw >/dev/null 2>&1; }
assert "the vmgw table is still in the kernel" table_kept
vmgw_nft_table_normalized >"$T/stopped.nft"
assert "  ...unchanged (counters aside)" same_nft stop stopped
data_path_works "after SIGTERM"
rc=0; vmgwc status >/dev/null 2>&1 || rc=$?
assert "the CLI says it cannot reach the daemon (exit 3, got $rc)" test "$rc" = 3

vmgw_test_end
