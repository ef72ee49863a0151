#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# The host's own policy, with real traffic (issue: default DROP on OUTPUT, ICMP lists, services
# by destination, DSCP for the host's own SSH):
# - host.output.policy drop: the host opens only what is listed (tcp/80 to the internet server),
#   not a VM's web server nor a ping; each drop is counted on the rule that decided; replies of
#   what it accepted (SSH from the internet) still leave; DHCP replies of its dnsmasq still
#   reach the VMs (they get their leases), and vmgwd's probes still keep the uplinks up;
# - host.icmp is the whole list: timestamp-request only means no ping; then echo-request again;
# - host.allow with `to`: SSH only to the uplink's address;
# - a DSCP rule with `from` the host's address marks the host's own SSH replies (counted at
#   the ISP by class).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin host-output
config=$VMGW_LAB/tmp/host-output.yaml
# examples/lab.yaml ends with its host section; the test adds to it.
host_additions() {
  local icmp=$1
  cat <<YAML
    - {proto: tcp, port: 22, interface: wan0, to: $LAB_UPLINK_ADDR/32}
  icmp: [$icmp]
  output:
    policy: drop
    allow:
      - {proto: tcp, port: 80, to: $LAB_INET_ADDR/32}
    icmp: []
dscp:
  - {from: $LAB_UPLINK_ADDR/32, proto: tcp, port: 22, dscp: af21}
YAML
}
{ cat "$VMGW_LAB_CONFIG"; host_additions timestamp-request; } >"$config"
tail -n 1 "$VMGW_LAB_CONFIG" | grep -q 'from: 192.168.50.0/24' ||
  vmgw_die "examples/lab.yaml no longer ends with its host.allow list; update this test"

vmgw_lab_up "$config"
assert "lab comes up with output policy drop: DHCP replies reach the VMs (${LAB_UP_ERROR:-ok})" \
  test -z "$LAB_UP_ERROR"

gw() { ip netns exec "$NS_GW" "$@"; }
counter_of() {  # the packets counted by the rule of filter_output commented $1 (+ vmgw's " #hash")
  gw nft -j list chain inet vmgw filter_output |
    jq --arg c "$1 #" '[.nftables[] | select(.rule.comment // "" | startswith($c)) | .rule.expr[] | select(.counter) | .counter.packets] | add // 0'
}
opens() { [[ $(vmgw_client "$NS_GW" "$1" "$2") == *"$3"* ]]; }
cannot_open() { ! vmgw_client "$NS_GW" "$1" "$2" >/dev/null; }

assert "the host opens what is listed (tcp/80 to $LAB_INET_ADDR)" \
  opens "$LAB_INET_ADDR" 80 "seen-from=$LAB_UPLINK_ADDR"
dropped_before=$(counter_of "host: output: everything else")
assert "the host cannot open a VM's web server (not listed)" cannot_open "$LAB_WEB_IP" 80
ping_isp() { gw busybox ping -c 1 -W 1 "$LAB_ISP_ADDR" >/dev/null 2>&1; }
assert "the host pings its uplink's gateway (vmgw's own probe target: allowed)" ping_isp
no_ping_out() { ! gw busybox ping -c 1 -W 1 "$LAB_INET_ADDR" >/dev/null 2>&1; }
assert "the host cannot ping out (output icmp: [])" no_ping_out
grew() { (($(counter_of "host: output: everything else") > dropped_before)); }
assert "the drops are counted on 'host: output: everything else'" grew
# vmgw log without vmgwd follows the kernel's log group itself.
ip netns exec "$NS_GW" timeout 10 "$VMGW_BIN" --socket "$VMGW_LAB/run/none.sock" log --for 3 \
  >"$VMGW_LAB/tmp/log.out" 2>"$VMGW_LAB/tmp/log.err" &
log_pid=$!
sleep 0.5
cannot_open "$LAB_WEB_IP" 80 || true
wait "$log_pid" || true
sed 's/^/    /' "$VMGW_LAB/tmp/log.out"
local_log() { grep -Eq "vm=- - drop rule='host: output' tcp [0-9.]+:[0-9]+ -> $LAB_WEB_IP:80$" "$VMGW_LAB/tmp/log.out"; }
assert "vmgw log without vmgwd shows the drop as it happens" local_log
st_rc=0
st_out=$(ip netns exec "$NS_GW" "$VMGW_BIN" --socket "$VMGW_LAB/run/none.sock" status 2>&1) || st_rc=$?
printf '%s\n' "$st_out" | sed 's/^/    /' | head -8
assert "vmgw status without vmgwd exits 3 (the daemon is not running)" test "$st_rc" -eq 3
kernel_rules() { grep -Eq "^filter_output +host: output: everything else +[1-9]" <<<"$st_out"; }
assert "  and still shows the rules in force by name with their counters" kernel_rules

# In: SSH from the internet, to the uplink's address only; its replies leave (established).
assert "internet -> $LAB_UPLINK_ADDR:22 answers (replies leave under output drop)" \
  bash -c "[[ \$(ip netns exec $NS_INET timeout 6 socat -t 3 -T 3 - TCP:$LAB_UPLINK_ADDR:22,connect-timeout=2 </dev/null 2>/dev/null) == ssh-standin ]]"
no_ping_in() { ! ip netns exec "$NS_INET" busybox ping -c 1 -W 1 "$LAB_UPLINK_ADDR" >/dev/null 2>&1; }
assert "host.icmp [timestamp-request] is the whole list: no ping in" no_ping_in

# DSCP on the host's own SSH replies, counted at the ISP by class.
ip netns exec "$NS_ISP" nft -f - <<'NFT'
table inet test_dscp {
  counter host_ssh_af21 { }
  chain forward {
    type filter hook forward priority 10; policy accept;
    iifname "eth0" tcp sport 22 ip dscp af21 counter name host_ssh_af21
  }
}
NFT
ip netns exec "$NS_INET" timeout 6 socat -t 3 -T 3 - "TCP:$LAB_UPLINK_ADDR:22,connect-timeout=2" </dev/null >/dev/null 2>&1 || true
marked=$(ip netns exec "$NS_ISP" nft -j list counter inet test_dscp host_ssh_af21 | jq '.nftables[1].counter.packets')
assert "the host's own SSH replies leave with DSCP af21 ($marked packets)" test "$marked" -gt 0

{ cat "$VMGW_LAB_CONFIG"; host_additions echo-request; } >"$config"
vmgw_apply "$config"
assert "apply with host.icmp [echo-request] (exit $APPLY_RC: $APPLY_ERR)" test "$APPLY_RC" -eq 0
ping_in() { ip netns exec "$NS_INET" busybox ping -c 1 -W 2 "$LAB_UPLINK_ADDR" >/dev/null 2>&1; }
assert "now the internet can ping the host (its replies leave: established)" ping_in

# vmgwd under output drop: its probes still go out, so the uplinks stay up.
vmgw_cli down --state-dir "$VMGW_LAB/state" --run-dir "$VMGW_LAB/run" >/dev/null
dconfig=$VMGW_LAB/tmp/daemon-output.yaml
{ cat "$VMGW_DAEMON_CONFIG"; printf '  output: {policy: drop, icmp: []}\n'; } >"$dconfig"
tail -n 1 "$VMGW_DAEMON_CONFIG" | grep -q 'from: 192.168.50.0/24' ||
  vmgw_die "examples/daemon.yaml no longer ends with its host.allow list; update this test"
vmgw_daemon_paths
assert "vmgwd starts with output policy drop" vmgw_daemon_up "$dconfig"
sleep 2  # 40 probe rounds
uplink_state() { vmgwc -o json uplink list | jq -r --arg u "$1" '.[] | select(.name == $u) | .state'; }
assert "isp1 stays up: its probes leave (state $(uplink_state isp1))" test "$(uplink_state isp1)" = up
assert "isp2 stays up: its probes leave (state $(uplink_state isp2))" test "$(uplink_state isp2)" = up
cannot_open "$LAB_WEB_IP" 80 || true
logged() { vmgwc log | grep -q "rule='host: output'"; }
assert "a drop of the host's own traffic is in vmgw log" vmgw_wait_for 3 logged
in_journal() { grep -Eq "^[0-9T:-]+Z packet vm=- - drop rule='host: output' tcp [0-9.]+:[0-9]+ -> $LAB_WEB_IP:80\$" "$VMGWD_LOG"; }
assert "and in vmgwd's output (the journal under systemd), one line in the documented form" in_journal
status=$(vmgwc status)
printf '%s\n' "$status" | sed 's/^/    /'
shows() { grep -Eq "$1" <<<"$status"; }
assert "vmgw status shows the uplinks with their state" shows '^isp1 +wan0 +203.0.113.2/24 +up'
assert "vmgw status counts the output drop by rule name" \
  shows "^filter_output +host: output: everything else +[1-9][0-9]* +[1-9]"
dropped_json=$(vmgwc -o json status | jq '[.rules[] | select(.rule == "host: output: everything else") | .packets] | add')
assert "vmgw -o json status has the same counter ($dropped_json)" test "$dropped_json" -gt 0
vmgw_daemon_stop

vmgw_test_end
