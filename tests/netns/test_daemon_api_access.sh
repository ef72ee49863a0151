#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: who may use vmgwd's API. The config names its two groups by numeric gid, and the
# clients run under numeric uids and groups (setpriv), so nothing is added to /etc/passwd or
# /etc/group: a member of the read-only group may list but not change, a member of the full
# group may change, a user in neither gets nothing, every change's log line names the uid that
# made it, one user opening 256 connections gets its share (64) and cannot lock root out, and
# users together cannot take the connections kept for root.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq setpriv
PY=/usr/bin/python3  # the system's: a non-root uid cannot run one from root's home
[[ -x $PY ]] || vmgw_skip "no $PY"
vmgw_test_begin daemon_api_access
vmgw_require_daemon
T=$VMGW_LAB/tmp

# Unused ids, high enough to name no one on this machine; unique per run.
base=$((200000 + RANDOM * 8))
G_FULL=$base G_RO=$((base + 1)) U_FULL=$((base + 2)) U_RO=$((base + 3)) U_NONE=$((base + 4))
for id in "$G_FULL" "$G_RO"; do getent group "$id" >/dev/null && vmgw_die "gid $id exists"; done
for id in "$U_FULL" "$U_RO" "$U_NONE"; do getent passwd "$id" >/dev/null && vmgw_die "uid $id exists"; done

CONFIG=$T/daemon.yaml
cp "$VMGW_DAEMON_CONFIG" "$CONFIG"
cat >>"$CONFIG" <<EOF

api:
  group: "$G_FULL"
  read_only_group: "$G_RO"
  connections_per_user: 64
EOF
vmgw_daemon_lab_up "$CONFIG"

# as UID GID CMD...: run CMD as that uid, with that group as its only group.
as() { local uid=$1 gid=$2; shift 2; setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"; }
# vmgw_as UID GID ARGS...: the CLI as that user, output in $T/out and $T/err, exit code returned.
vmgw_as() {
  local uid=$1 gid=$2; shift 2
  local rc=0
  as "$uid" "$gid" timeout 30 "$VMGW_BIN" --socket "$VMGW_SOCKET" "$@" >"$T/out" 2>"$T/err" || rc=$?
  return "$rc"
}
exits() {  # exits CODE CMD...: CMD exits with CODE
  local want=$1 rc=0; shift
  "$@" || rc=$?
  ((rc == want)) || { echo "  exit $rc, wanted $want: $(cat "$T/out" "$T/err")"; return 1; }
}
root_vmgw() { vmgwc "$@" >"$T/out" 2>"$T/err"; }
says() { grep -F "$1" "$T/err" >/dev/null || { echo "  stderr: $(cat "$T/err")"; return 1; }; }

assert "the socket is mode 0666 (the daemon decides who may use it)" \
  test "$(stat -c %a "$VMGW_SOCKET")" = 666

# A user in neither group: refused at connect, with the reason.
assert "a user in no API group is refused (exit 7)" exits 7 vmgw_as "$U_NONE" "$U_NONE" status
assert "  saying why" says "error: uid $U_NONE may not use the vmgwd API: it is not root, not in group '$G_FULL'"

# Read-only: lists, status, metrics, trace; no change.
assert "read-only: vm list" exits 0 vmgw_as "$U_RO" "$G_RO" vm list
assert "read-only: status" exits 0 vmgw_as "$U_RO" "$G_RO" status
assert "read-only: network list" exits 0 vmgw_as "$U_RO" "$G_RO" network list
assert "read-only: log" exits 0 vmgw_as "$U_RO" "$G_RO" log
assert "read-only: vm add is refused (exit 7)" exits 7 \
  vmgw_as "$U_RO" "$G_RO" vm add ro-vm --network vmnet --mac 52:54:00:00:00:31
assert "  with 403's reason" says "error: uid $U_RO may only read (group '$G_RO' (gid $G_RO)): POST /v1/vms changes the gateway; changes need root or group '$G_FULL' (gid $G_FULL)"
assert "  and nothing was added" exits 0 root_vmgw vm list
assert "  (no vm ro-vm)" not grep -w ro-vm "$T/out"
# A supplementary group counts as well as the primary one.
assert "read-only as a supplementary group: vm list" exits 0 \
  setpriv --reuid="$U_RO" --regid="$U_RO" --groups="$G_RO" "$VMGW_BIN" --socket "$VMGW_SOCKET" vm list

# Full control: a change, and its log line names the uid.
assert "full: vm add" exits 0 vmgw_as "$U_FULL" "$G_FULL" vm add web --network vmnet \
  --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web
assert "  the change's log line names uid $U_FULL" \
  grep -E "info uid $U_FULL: POST /v1/vms -> 201 \(generation [0-9]+\)" "$VMGWD_LOG"
assert "root's change names uid 0" exits 0 root_vmgw vm remove web
assert "  in its log line" grep -E "info uid 0: DELETE /v1/vms/web -> 200" "$VMGWD_LOG"
assert "the refused change is in the log too, with its uid" \
  grep -E "info uid $U_RO: POST /v1/vms -> 403" "$VMGWD_LOG"

# One user opens 256 connections and holds them: it gets its share, root still gets in.
cat >"$T/hold.py" <<'EOF'
import socket, sys, time
path, n, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
socks, answers = [], {}
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
time.sleep(0.5)  # the refused ones are answered at once
held = 0
for s in socks:
    s.setblocking(False)
    try:
        data = s.recv(4096)
    except BlockingIOError:
        held += 1  # accepted: the daemon waits for a request
        continue
    status = data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.1 ") else "closed"
    answers[status] = answers.get(status, 0) + 1
# The line the test waits for: the connections are held from now on.
print(f"held={held} " + " ".join(f"{k}={v}" for k, v in sorted(answers.items())), flush=True)
time.sleep(hold)
EOF
as "$U_FULL" "$G_FULL" "$PY" "$T/hold.py" "$VMGW_SOCKET" 256 4 >"$T/hold.out" 2>&1 &
holder=$!
vmgw_wait_for 10 grep -q held= "$T/hold.out" || true
vmgw_log "256 connections of uid $U_FULL: $(cat "$T/hold.out")"
assert "the holder got its share of 64 connections" grep -q "held=64 " "$T/hold.out"
assert "  the other 192 were answered 429 at once" grep -q " 429=192" "$T/hold.out"
assert "root is not locked out while they are held" exits 0 root_vmgw status
assert "the holder's next call is refused (exit 3)" exits 3 vmgw_as "$U_FULL" "$G_FULL" status
assert "  saying why" says "error: uid $U_FULL already has 64 connections open, the most one user may hold"
assert "another user still gets in" exits 0 vmgw_as "$U_RO" "$G_RO" status
wait "$holder" || true
assert "once they are closed, the holder gets in again" exits 0 vmgw_as "$U_FULL" "$G_FULL" status

# Four users take 64 each: users other than root share 224 connections, so the last one gets 32
# (503 for the rest), and root still has the 32 kept for it.
holders=()
for i in 0 1 2 3; do
  as $((base + 10 + i)) "$G_RO" "$PY" "$T/hold.py" "$VMGW_SOCKET" 64 4 >"$T/hold-$i.out" 2>&1 &
  holders+=($!)
  vmgw_wait_for 10 grep -q held= "$T/hold-$i.out" || true
done
vmgw_log "4 x 64 connections: $(cat "$T"/hold-*.out | tr '\n' ' ')"
total_held=$(( $(cat "$T"/hold-*.out | sed -n 's/^held=\([0-9]*\).*/\1/p' | paste -sd+ -) ))
assert "users other than root hold 224 connections in all (got $total_held)" test "$total_held" -eq 224
assert "  the rest were answered 503" grep -q " 503=32" "$T/hold-3.out"
assert "root gets in, on the connections kept for it" exits 0 root_vmgw status
wait "${holders[@]}" || true

vmgw_test_end
