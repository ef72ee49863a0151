#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: vmgwd under systemd logs to the journal with a priority and fields of its own
# (docs/architecture.md, "Logs"). No systemd is needed: in a private mount namespace a tmpfs
# covers /run/systemd (the machine's is untouched), tools/journal_reader.py listens on
# /run/systemd/journal/socket as journald does, and vmgwd runs with JOURNAL_STREAM naming its
# stderr, as systemd sets it. The datagrams it receives must carry SYSLOG_IDENTIFIER=vmgwd,
# PRIORITY, and VMGW_OBJECT and VMGW_CHANGE naming the object and the change (an API change, a
# refused one, a self-heal); nothing of it goes to stderr then. Without JOURNAL_STREAM (or with
# one naming another file) the stderr lines stay as they always were.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vmgw_private_mounts "$@"  # the tmpfs over /run/systemd exists only in this test's mount namespace

PYTHON=/usr/bin/python3
vmgw_require_env jq
[[ -x $PYTHON ]] || vmgw_skip "missing $PYTHON"
vmgw_test_begin daemon_journal
vmgw_require_daemon
T=$VMGW_LAB/tmp
[[ -d /run/systemd ]] || vmgw_die "no /run/systemd to cover with a tmpfs"
mount -t tmpfs -o size=1m,mode=0755 vmgw-test-journal /run/systemd
# set +e first: under errexit a failing test's "(exit 1)" would end the trap before the cleanup.
trap 'rc=$?; set +e; umount -l /run/systemd 2>/dev/null; (exit $rc); vmgw_test_cleanup' EXIT
mkdir -p /run/systemd/journal
ENTRIES=$T/journal.jsonl
"$PYTHON" "$VMGW_SOURCE_DIR/tests/netns/tools/journal_reader.py" /run/systemd/journal/socket \
  >"$ENTRIES" 2>"$T/journal_reader.err" &
READER=$!
vmgw_wait_for 5 grep -q _ready "$ENTRIES" || vmgw_die "the journal reader did not start"

# As systemd does for a service with StandardError=journal: JOURNAL_STREAM is "DEVICE:INODE" of
# the stream that is stderr (here the daemon's log file, which vmgw_daemon_up appends to).
touch "$VMGWD_LOG"
JOURNAL_STREAM=$(stat -c '%d:%i' "$VMGWD_LOG")
export JOURNAL_STREAM
vmgw_daemon_lab_up || vmgw_die "the daemon did not come up"

# entry JQ_CONDITION: some received entry satisfies the condition (waits up to 5 s).
# (Slurped: jq -e on a stream judges only the last input's result.)
entry() { vmgw_wait_for 5 jq -s -e "any(.[]; $1)" "$ENTRIES"; }
assert "started: an entry with SYSLOG_IDENTIFIER=vmgwd and PRIORITY=6" \
  entry '.SYSLOG_IDENTIFIER == "vmgwd" and .PRIORITY == "6" and ((.MESSAGE // "") | startswith("started at generation"))'

vmgwc vm add web1 --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web >/dev/null
assert "vm add: VMGW_OBJECT=vm/web1 VMGW_CHANGE=add PRIORITY=6" \
  entry '.VMGW_OBJECT == "vm/web1" and .VMGW_CHANGE == "add" and .PRIORITY == "6" and ((.MESSAGE // "") | test("POST /v1/vms -> 201"))'
vmgwc vm add web1 --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db >/dev/null 2>&1 || true
assert "a refused vm add: a warning (PRIORITY=4) with VMGW_CHANGE=add" \
  entry '.VMGW_CHANGE == "add" and .PRIORITY == "4" and ((.MESSAGE // "") | test("POST /v1/vms -> 4"))'
ip netns exec "$NS_GW" nft flush ruleset
assert "a self-heal: VMGW_OBJECT=nftables VMGW_CHANGE=self-heal" \
  entry '.VMGW_OBJECT == "nftables" and .VMGW_CHANGE == "self-heal" and .SYSLOG_IDENTIFIER == "vmgwd"'
vmgwc vm remove web1 >/dev/null
assert "vm remove: VMGW_OBJECT=vm/web1 VMGW_CHANGE=remove" \
  entry '.VMGW_OBJECT == "vm/web1" and .VMGW_CHANGE == "remove"'
assert "every datagram parsed as the native protocol" not grep -q _unparsed "$ENTRIES"
assert "nothing of it on stderr" not grep -E "POST /v1/vms|self-heal" "$VMGWD_LOG"

# Outside systemd: stderr as always. A JOURNAL_STREAM naming another file (a parent's, inherited
# by a daemon whose stderr was redirected) is not the journal either.
vmgw_daemon_stop || true
JOURNAL_STREAM=$(stat -c '%d:%i' "$ENTRIES")
vmgw_daemon_up || vmgw_die "the daemon did not come up again"
count=$(wc -l <"$ENTRIES")
vmgwc vm add web2 --network vmnet --mac "$LAB_DB_MAC" --ip "$LAB_DB_IP" --port vnet-db >/dev/null
line_on_stderr() {
  grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z info uid 0: POST /v1/vms -> 201 \(generation [0-9]+\)$' "$VMGWD_LOG"
}
assert "another JOURNAL_STREAM: the change's line on stderr, as before" vmgw_wait_for 5 line_on_stderr
assert "  ...and no datagram" test "$(wc -l <"$ENTRIES")" -eq "$count"
kill "$READER" 2>/dev/null || true
vmgw_test_end
