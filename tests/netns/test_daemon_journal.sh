#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: vmgwd under systemd logs to the journal with a priority and fields of its own
# (docs/architecture.md, "Logs"), checked against a real systemd-journald (Debian's package
# systemd) and read back with journalctl. No systemd as PID 1 is needed: journald runs standalone
# in this test's private mount namespace, where tmpfs mounts cover /run/systemd, /run/log and
# /var/log/journal (the machine's are untouched). It runs as a journal namespace instance
# ("systemd-journald vmgwtest"): unlike the default instance it neither reads /dev/kmsg nor sets
# the kernel's audit state (journald.conf: Audit= "defaults to off", i.e. it would turn auditing
# off machine-wide), and a drop-in under the covered /run/systemd keeps its data in /run. As
# systemd does for a unit with LogNamespace=, the instance's socket directory
# /run/systemd/journal.vmgwtest is bind-mounted over /run/systemd/journal, the path vmgwd uses.
# vmgwd's stderr is a journald stream (systemd-cat, as StandardError=journal gives) and
# JOURNAL_STREAM names it as systemd sets it ("DEVICE:INODE"). The entries must come by the
# native protocol (_TRANSPORT=journal) from vmgwd's pid with SYSLOG_IDENTIFIER=vmgwd, PRIORITY,
# and VMGW_OBJECT and VMGW_CHANGE naming the object and the change (an API change, a refused one,
# a self-heal); "journalctl -t vmgwd" shows them as lines and "-p warning" keeps the refused one
# only; nothing comes through the stream (stderr). Without a matching JOURNAL_STREAM the stderr
# lines stay as they always were.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vmgw_private_mounts "$@"  # the tmpfs mounts exist only in this test's mount namespace

JOURNALD=/lib/systemd/systemd-journald
NS=vmgwtest
vmgw_require_env jq
for tool in "$JOURNALD" /usr/bin/journalctl /usr/bin/systemd-cat; do
  [[ -x $tool ]] || vmgw_skip "missing $tool (Debian package systemd)"
done
vmgw_test_begin daemon_journal
vmgw_require_daemon
T=$VMGW_LAB/tmp
[[ -d /run/systemd ]] || vmgw_die "no /run/systemd to cover with a tmpfs"
JOURNALD_PID=""
MOUNTED=()
cleanup_journal() {
  local m
  if [[ -n $JOURNALD_PID ]]; then
    kill "$JOURNALD_PID" 2>/dev/null
    wait "$JOURNALD_PID" 2>/dev/null
  fi
  for ((m = ${#MOUNTED[@]} - 1; m >= 0; m--)); do umount -l "${MOUNTED[m]}" 2>/dev/null; done
}
# set +e first: under errexit a failing test's "(exit 1)" would end the trap before the cleanup.
# The lab (daemon, namespaces) goes first: vmgwd must not outlive the journal it writes to.
trap 'rc=$?; set +e; (exit $rc); vmgw_test_cleanup' EXIT
VMGW_LAB_DESTROY_HOOKS+=(vmgw_journal_hook)
vmgw_journal_hook() { vmgw_kill_recorded "$1"; cleanup_journal; }
for dir in /run/systemd /run/log /var/log/journal; do
  [[ -d $dir ]] || continue
  mount -t tmpfs -o size=16m,mode=0755 vmgw-test-journal "$dir"
  MOUNTED+=("$dir")
done
mkdir -p "/run/systemd/journald@$NS.conf.d"
cat >"/run/systemd/journald@$NS.conf.d/vmgw-test.conf" <<'CONF'
[Journal]
Storage=volatile
RateLimitBurst=0
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
CONF
# Its own messages on its stderr, not in the kernel's log.
SYSTEMD_LOG_TARGET=console "$JOURNALD" "$NS" </dev/null >"$T/journald.err" 2>&1 &
JOURNALD_PID=$!
vmgw_wait_for 5 test -S "/run/systemd/journal.$NS/stdout" || vmgw_die "systemd-journald did not start: $(cat "$T/journald.err")"
mkdir -p /run/systemd/journal
mount --bind "/run/systemd/journal.$NS" /run/systemd/journal
MOUNTED+=(/run/systemd/journal)
JDIR=$(echo /run/log/journal/*."$NS")
[[ -d $JDIR ]] || vmgw_die "no journal directory for namespace $NS under /run/log/journal"
jctl() { journalctl --directory="$JDIR" --no-pager -q "$@"; }

# As systemd does for a service with StandardError=journal: stderr (and stdout) a stream to
# journald, JOURNAL_STREAM "DEVICE:INODE" of it. Every step execs: vmgwd keeps ip's pid.
REAL_VMGWD=$VMGWD_BIN
VMGWD_BIN=$T/vmgwd-under-journal
cat >"$VMGWD_BIN" <<EOS
#!/bin/sh
exec systemd-cat -t vmgwd -- sh -c 'JOURNAL_STREAM=\$(stat -L -c %d:%i /proc/self/fd/2) && export JOURNAL_STREAM && exec "\$0" "\$@"' "$REAL_VMGWD" "\$@"
EOS
chmod +x "$VMGWD_BIN"
unset JOURNAL_STREAM
vmgw_daemon_lab_up || vmgw_die "the daemon did not come up: $(jctl -o short 2>&1 | tail -n 20)"
PID=$VMGWD_PID

# entry JQ_CONDITION: some entry from vmgwd's pid satisfies the condition (waits up to 5 s).
entries() { jctl -o json "_PID=$PID"; }
jq_true() { jq -s -e "$1" >/dev/null; }
has_entry() { entries | jq_true "any(.[]; $1)"; }
entry() { vmgw_wait_for 5 has_entry "$1"; }
NATIVE='.SYSLOG_IDENTIFIER == "vmgwd" and ._TRANSPORT == "journal" and ._COMM == "vmgwd"'
assert "started: a native entry from vmgwd with SYSLOG_IDENTIFIER=vmgwd and PRIORITY=6" \
  entry "$NATIVE"' and .PRIORITY == "6" and ((.MESSAGE // "") | startswith("started at generation"))'

vmgwc vm add web1 --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web >/dev/null
assert "vm add: VMGW_OBJECT=vm/web1 VMGW_CHANGE=add PRIORITY=6" \
  entry "$NATIVE"' and .VMGW_OBJECT == "vm/web1" and .VMGW_CHANGE == "add" and .PRIORITY == "6" and ((.MESSAGE // "") | test("POST /v1/vms -> 201"))'
vmgwc vm add web1 --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db >/dev/null 2>&1 || true
assert "a refused vm add: a warning (PRIORITY=4) with VMGW_CHANGE=add" \
  entry "$NATIVE"' and .VMGW_CHANGE == "add" and .PRIORITY == "4" and ((.MESSAGE // "") | test("POST /v1/vms -> 4"))'
ip netns exec "$NS_GW" nft flush ruleset
assert "a self-heal: VMGW_OBJECT=nftables VMGW_CHANGE=self-heal" \
  entry "$NATIVE"' and .VMGW_OBJECT == "nftables" and .VMGW_CHANGE == "self-heal"'
vmgwc vm remove web1 >/dev/null
assert "vm remove: VMGW_OBJECT=vm/web1 VMGW_CHANGE=remove" \
  entry "$NATIVE"' and .VMGW_OBJECT == "vm/web1" and .VMGW_CHANGE == "remove"'

short_line() { jctl -t vmgwd -o short | grep -qE "vmgwd\[$PID\]: .*POST /v1/vms -> 201"; }
assert "journalctl -t vmgwd: the change as a readable line" short_line
jctl -t vmgwd -p warning -o json >"$T/warnings.json"
assert "journalctl -p warning: the refused add" \
  jq_true 'any(.[]; (.MESSAGE // "") | test("POST /v1/vms -> 4"))' <"$T/warnings.json"
assert "  ...and not the accepted one" \
  jq_true 'all(.[]; ((.MESSAGE // "") | test("-> 201") | not) and (.PRIORITY | tonumber) <= 4)' <"$T/warnings.json"
entries >"$T/entries.json"
assert "nothing through the stderr stream (_TRANSPORT=stdout)" \
  jq_true 'all(.[]; ._TRANSPORT == "journal")' <"$T/entries.json"
assert "nothing of it in the daemon's log file" not grep -E "POST /v1/vms|self-heal" "$VMGWD_LOG"

# Outside systemd: stderr as always. A JOURNAL_STREAM naming another file (a parent's, inherited
# by a daemon whose stderr was redirected) is not the journal either.
vmgw_daemon_stop || true
VMGWD_BIN=$REAL_VMGWD
touch "$T/other"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/other")
export JOURNAL_STREAM
vmgw_daemon_up || vmgw_die "the daemon did not come up again"
vmgwc vm add web2 --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db >/dev/null
line_on_stderr() {
  grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z info uid 0: POST /v1/vms -> 201 \(generation [0-9]+\)$' "$VMGWD_LOG"
}
assert "another JOURNAL_STREAM: the change's line on stderr, as before" vmgw_wait_for 5 line_on_stderr
assert "  ...and no journal entry" test "$(jctl -o json "_PID=$VMGWD_PID" | wc -l)" -eq 0
vmgw_test_end
