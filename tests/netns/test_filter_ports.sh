#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: an operator's own nwfilter XML, as virsh users write it, through the CLI: define,
# dumpxml, list, bind to a VM; the allowed port is reachable, the rejected one answers with a TCP
# reset at once, the dropped one never answers; replies of the VM's own connections come back;
# the drops appear in `vmgw log` with the VM, the rule and the 5-tuple; the counters count;
# undefine is refused while a VM uses the filter, and works once it does not.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin filter_ports
vmgw_require_daemon
T=$VMGW_LAB/tmp
FILTER=$(dirname "${BASH_SOURCE[0]}")/filters/web-in.xml
vmgw_daemon_lab_up

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
rc_is() { local want=$1 rc=0; shift; "$@" >"$T/out" 2>"$T/err" || rc=$?; ((rc == want)) || { echo "  exit $rc, want $want: $(cat "$T/out" "$T/err")"; return 1; }; }
out_has() { grep -F -- "$1" "$T/out" >/dev/null || { echo "  no '$1' in: $(cat "$T/out")"; return 1; }; }
err_has() { grep -F -- "$1" "$T/err" >/dev/null || { echo "  no '$1' in: $(cat "$T/err")"; return 1; }; }
connect() { ip netns exec "$1" timeout 6 socat -T 3 - "TCP:$2:$3,connect-timeout=3" </dev/null 2>&1; }
reaches() { local got; got=$(connect "$@") || true; [[ $got == *"$4"* ]] || { echo "  expected '$4', got '${got:-<no answer>}'"; return 1; }; }
refused_fast() {  # a TCP reset arrives at once (not a timeout)
  local start=$SECONDS got
  got=$(connect "$1" "$2" "$3") || true
  [[ $got == *"Connection refused"* ]] && ((SECONDS - start < 2)) || { echo "  got '${got:-<nothing>}' after $((SECONDS - start)) s"; return 1; }
}
times_out() {
  local got
  got=$(connect "$1" "$2" "$3") || true
  [[ $got == *"timed out"* || $got == *"Connection timed out"* || -z $got ]] || { echo "  got '$got'"; return 1; }
}

vmgw_bg "$NS_WEB" web-ssh socat TCP-LISTEN:22,fork,reuseaddr SYSTEM:'echo ssh-on-web'
vmgw_bg "$NS_WEB" web-8080 socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'echo alt-on-web'
vmgw_wait_for 5 vmgw_listening "$NS_WEB" 22 && vmgw_wait_for 5 vmgw_listening "$NS_WEB" 8080

assert "filter define FILE" rc_ok vmgwc filter define "$FILTER"
assert "  says it is defined" out_has "filter web-in defined"
assert "filter dumpxml gives the rules back" rc_ok vmgwc filter dumpxml web-in
assert "  with the reject rule and its log attribute" \
  out_has "<rule action='reject' direction='in' priority='200' log='yes'>"
assert "filter list shows it next to the built-ins" rc_ok vmgwc filter list
assert "  web-in" out_has "web-in"
assert "  clean-traffic (built-in)" out_has "clean-traffic"
assert "an invalid filter is refused with its line" rc_is 1 vmgwc filter define <(printf "<filter name='x'>\n  <rule action='maybe' direction='in'/>\n</filter>\n")
assert "  naming the line and the attribute" err_has "line 2"

assert "vm add web" rc_ok vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
assert "vm add db" rc_ok vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db
vmgw_dhcp "$NS_WEB"; vmgw_dhcp "$NS_DB"
assert "before any filter db reaches web:8080" reaches "$NS_DB" "$LAB_WEB_IP" 8080 "alt-on-web"
assert "vm filter set web --filter web-in" rc_ok vmgwc vm filter set web --filter web-in
assert "vm show web lists the filter" rc_ok vmgwc -o json vm show web
assert "  web-in" out_has '"filter": "web-in"'

assert "allowed port: db reaches web:80" reaches "$NS_DB" "$LAB_WEB_IP" 80 "hello from web"
assert "rejected port: web:22 answers with a reset at once" refused_fast "$NS_DB" "$LAB_WEB_IP" 22
assert "dropped port: web:8080 never answers" times_out "$NS_DB" "$LAB_WEB_IP" 8080
assert "ping to web is allowed" ip netns exec "$NS_DB" busybox ping -c1 -W2 "$LAB_WEB_IP"
assert "web's own connections get their replies" reaches "$NS_WEB" "$LAB_INET_ADDR" 80 "seen-from="

sleep 0.5  # NFLOG batches messages (100 ms)
assert "vmgw log --vm web" rc_ok vmgwc log --vm web
assert "  shows the drop of 8080 with its rule" out_has "in drop rule='web-in rule 4'"
assert "  and its 5-tuple" out_has "-> $LAB_WEB_IP:8080"
assert "  and the reject of 22" out_has "in reject rule='web-in rule 3'"
follow_prints_new() {  # --follow keeps printing: a drop made after it started shows up
  (sleep 1; connect "$NS_DB" "$LAB_WEB_IP" 8081 >/dev/null || true) &
  local rc=0
  timeout 6 ip netns exec "$NS_GW" "$VMGW_BIN" --socket "$VMGW_SOCKET" log --follow --vm web >"$T/follow" 2>&1 || rc=$?
  wait
  ((rc == 124)) || { echo "  --follow exited by itself ($rc)"; return 1; }
  grep -q -- "-> $LAB_WEB_IP:8081" "$T/follow" || { echo "  nothing new printed: $(cat "$T/follow")"; return 1; }
}
assert "vmgw log --follow prints a drop made after it started" follow_prints_new
assert "vmgw log -o json names the VM" rc_ok vmgwc -o json log --vm web
assert "  vm web, dport 8080" bash -c "jq -e -s 'any(.[]; .vm == \"web\" and .dport == 8080)' $T/out >/dev/null"

assert "filter stats web" rc_ok vmgwc -o json filter stats web
assert "  the accept of port 80 counted packets" \
  bash -c "jq -e 'any(.[]; .rule == \"web-in rule 1\" and .packets > 0)' $T/out >/dev/null"
assert "  the drop counted the 8080 SYNs" \
  bash -c "jq -e 'any(.[]; .rule == \"web-in rule 4\" and .packets > 0)' $T/out >/dev/null"

# filter edit: $EDITOR edits the XML, vmgw defines the result (here: SSH dropped, not rejected).
assert "filter edit web-in (EDITOR changes the reject to a drop)" \
  rc_ok env EDITOR="sed -i s/reject/drop/" "$VMGW_BIN" --socket "$VMGW_SOCKET" filter edit web-in
assert "  it was redefined for web" out_has "filter web-in redefined; rules of vm web updated"
assert "  dumpxml shows the edit" rc_ok vmgwc filter dumpxml web-in
assert "  rule 3 drops now" out_has "<rule action='drop' direction='in' priority='200' log='yes'>"
assert "web:22 now times out instead of being refused" times_out "$NS_DB" "$LAB_WEB_IP" 22

assert "undefine is refused while web uses it (exit 6)" rc_is 6 vmgwc filter undefine web-in
assert "  naming the VM" err_has "vm 'web'"
assert "vm filter set web --none" rc_ok vmgwc vm filter set web --none
assert "without filters db reaches web:8080 again" reaches "$NS_DB" "$LAB_WEB_IP" 8080 "alt-on-web"
assert "undefine now works" rc_ok vmgwc filter undefine web-in
assert "a built-in cannot be undefined" rc_is 6 vmgwc filter undefine clean-traffic

vmgw_test_end
