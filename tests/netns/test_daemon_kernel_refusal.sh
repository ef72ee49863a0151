#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: a REAL kernel refusal of vmgwd's nftables transaction leaves the previous
# generation in force: the store, the generation, the kernel's tables, the elastic IP's address
# and the traffic are as before, and the error says what the kernel said about which object.
#
# The refusal: `vmgw eip bind EIP web` passes every check of vmgw (the elastic IP is allocated,
# unbound; web exists), and its transaction adds the element EIP : web's address to the map
# inet vmgw eip_dnat. Another program has just put EIP : 10.10.0.99 there: the kernel refuses an
# element whose key exists with other data ("File exists", EEXIST), and refuses with it the whole
# transaction. vmgwd's self-healing removes such a foreign element as soon as it sees it, so the
# race is made deterministic: vmgwd is stopped (SIGSTOP) while the foreign element goes in and
# the CLI's request is queued on the API socket, then continued (SIGCONT); its loop serves the
# request before it reads the nftables events (src/api/unix_server.cpp: clients first). If that
# order ever changes, the bind succeeds and this test fails, saying so.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin daemon_kernel_refusal
vmgw_require_daemon
T=$VMGW_LAB/tmp
EIP=203.0.113.16
FOREIGN=10.10.0.99
vmgw_daemon_lab_up || vmgw_die "the daemon did not come up"

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
gwnft() { ip netns exec "$NS_GW" nft "$@"; }
# The kernel's vmgw tables without handles and counters (what a generation is).
kernel_tables() {
  local t
  for t in "inet vmgw" "bridge vmgw"; do
    # shellcheck disable=SC2086  # family and name
    gwnft -j list table $t |
      jq -S 'del(.nftables[0]) | walk(if type == "object" then del(.handle) else . end)
             | walk(if type == "object" and (.counter | type) == "object"
                    then .counter = {"packets": 0, "bytes": 0} else . end)'
  done
}
store_state() { vmgwc -o json vm list | jq -S . && vmgwc -o json eip list | jq -S .; }
dnat_elements() { gwnft -j list map inet vmgw eip_dnat | jq -c '[.nftables[1].map.elem // [] | .[]]'; }
eip_on_wan0() { ip -n "$NS_GW" -4 -o addr show dev wan0 | grep " inet $EIP/32 " >/dev/null; }
reaches() {
  local got
  got=$(vmgw_client "$1" "$2" "$3") || true
  [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }
}

assert "vm add web" rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" \
  --port vnet-web --filter clean-traffic
vmgw_dhcp "$NS_WEB" || vmgw_die "web got no lease"
assert "eip allocate $EIP" rc_ok vmgwc eip allocate --address "$EIP"
gen0=$(vmgw_generation)
store_state >"$T/store.before"
kernel_tables >"$T/kernel.before"
assert "before: $EIP is not in eip_dnat ($(dnat_elements))" test "$(dnat_elements)" = "[]"
assert "before: web reaches the internet through masquerade" \
  reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from=$LAB_UPLINK_ADDR"

# The race, made deterministic: the daemon stopped, the foreign element in, the request queued.
kill -STOP "$VMGWD_PID"
gwnft add element inet vmgw eip_dnat "{ $EIP : $FOREIGN }"
assert "another program put $EIP : $FOREIGN into vmgw's eip_dnat" \
  test "$(dnat_elements)" = "[[\"$EIP\",\"$FOREIGN\"]]"
from=$(wc -l <"$VMGWD_LOG")
bind_rc=0
vmgwc eip bind "$EIP" web >"$T/bind.out" 2>"$T/bind.err" &
bind_pid=$!
# The CLI is connected (the listening socket holds one pending connection) and its whole request
# is queued: a connected unix stream socket of the gateway namespace has bytes in flight (ss's
# Send-Q: written, not yet read), the same number over 0.3 s. A request still being written when
# vmgwd goes on would be read after the heal, and the bind would not be refused.
pending() { [[ $(ip netns exec "$NS_GW" ss -Hxl "src $VMGW_SOCKET" | awk '{ print $3 }') -ge 1 ]]; }
in_flight() { ip netns exec "$NS_GW" ss -Hx | awk '$1 == "u_str" && $2 == "ESTAB" && $4 > 0 { n += $4 } END { print n + 0 }'; }
queued() {
  local a b
  pending || return 1
  a=$(in_flight)
  ((a > 0)) || return 1
  sleep 0.3
  b=$(in_flight)
  ((a == b))
}
vmgw_wait_for 10 queued || { kill -CONT "$VMGWD_PID"; vmgw_die "the CLI's request was not queued on the socket"; }
echo "  queued: a pending connection, $(in_flight) bytes in flight"
kill -CONT "$VMGWD_PID"
wait "$bind_pid" || bind_rc=$?
bind_err=$(cat "$T/bind.out" "$T/bind.err")
echo "  vmgw eip bind $EIP web: exit $bind_rc: $bind_err"
tail -n +"$((from + 1))" "$VMGWD_LOG" | sed 's/^/  | /'

((bind_rc != 0)) || echo "  (the bind succeeded: the daemon healed before it served the request," \
  "so the kernel never refused; see this test's header)"
assert "the bind is refused with exit 2 (the kernel refused; nothing changed)" test "$bind_rc" = 2
assert "the error gives the kernel's reason ('File exists')" grep -q "File exists" "$T/bind.err"
assert "the error names the change and the object the kernel refused: $EIP in inet vmgw eip_dnat" \
  grep -qF "the kernel refused to bind elastic IP $EIP to vm 'web': add element $EIP to set inet vmgw eip_dnat" "$T/bind.err"
assert "  ...and says the previous state is in force" grep -qF "the previous state is in force" "$T/bind.err"
assert "the daemon logged the refusal with a 5xx" \
  bash -c "tail -n +$((from + 1)) '$VMGWD_LOG' | grep -E 'POST /v1/eips/$EIP/bind -> 5[0-9][0-9] \\(generation $gen0\\)' >/dev/null"

# The previous generation is in force.
assert "the generation is still $gen0" test "$(vmgw_generation)" = "$gen0"
store_state >"$T/store.after"
assert "the store is unchanged ($EIP unbound, web as it was)" cmp -s "$T/store.before" "$T/store.after"
assert "  ...and says $EIP is bound to no VM" \
  test "$(vmgwc -o json eip list | jq -r --arg a "$EIP" '.[] | select(.address == $a) | .vm // "none"')" = none
# The foreign element is vmgw's table's only difference until self-healing removes it (a foreign
# change): then the tables are exactly those of the generation before the refusal.
healed() { [[ $(dnat_elements) == "[]" ]]; }
assert "self-healing removed the foreign element" vmgw_wait_for 5 healed
# Its one element removed shows that the kernel it healed was the previous generation plus the
# foreign element, nothing of the refused bind.
assert "  ...and that was the only difference it found ('applied: nftables -1 element')" \
  bash -c "tail -n +$((from + 1)) '$VMGWD_LOG' | grep -E 'self-heal: .*applied: nftables -1 element \(1 transaction\)$' >/dev/null"
kernel_tables >"$T/kernel.after"
assert "the kernel's vmgw tables are exactly those before the refusal" cmp -s "$T/kernel.before" "$T/kernel.after"
diff "$T/kernel.before" "$T/kernel.after" | head -20 >&2 || true
maps_to_web() { dnat_elements | grep -F "$LAB_WEB_IP" >/dev/null; }
assert "no element maps $EIP to web" not maps_to_web
assert "$EIP was not added to wan0" not eip_on_wan0
assert "web still leaves through masquerade, not as $EIP" \
  reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from=$LAB_UPLINK_ADDR"
assert "the internet does not reach web through $EIP" not reaches "$NS_INET" "$EIP" 80 "hello from web"

# The store on disk, not only the daemon's memory: a restart finds generation gen0 and nothing
# to change in the kernel.
from=$(wc -l <"$VMGWD_LOG")
assert "SIGTERM: vmgwd stops cleanly" vmgw_daemon_stop
assert "vmgwd starts again" vmgw_daemon_up
assert "  ...at generation $gen0, with nothing to change in the kernel" \
  bash -c "tail -n +$((from + 1)) '$VMGWD_LOG' | grep -F 'started at generation $gen0: no changes' >/dev/null"
store_state >"$T/store.restarted"
assert "  ...with the store as before the refusal" cmp -s "$T/store.before" "$T/store.restarted"

# Nothing is stuck: the same change, asked again, is made.
assert "the same bind, repeated, succeeds" rc_ok vmgwc eip bind "$EIP" web
assert "  ...as generation $((gen0 + 1))" test "$(vmgw_generation)" = "$((gen0 + 1))"
assert "  ...the kernel maps $EIP to web" test "$(dnat_elements)" = "[[\"$EIP\",\"$LAB_WEB_IP\"]]"
assert "  ...the internet reaches web through $EIP" reaches "$NS_INET" "$EIP" 80 "hello from web"

vmgw_test_end
