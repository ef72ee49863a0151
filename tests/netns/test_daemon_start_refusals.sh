#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: vmgwd refuses to start, saying why, when its state directory cannot be written (it
# said "another vmgwd is running") and when its --run-dir holds a character a shell would read
# (dnsmasq runs the lease hook's `init` through popen). Each vmgwd runs in a network namespace of
# its own (unshare --net) and a mount namespace private to this test (a read-only tmpfs), both
# gone when it exits.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vmgw_private_mounts "$@"  # the tmpfs below exists only in this test's mount namespace

vmgw_test_begin daemon_start_refusals
vmgw_require_daemon
T=$VMGW_LAB/tmp
mkdir -p "$T/ro" "$T/run"
mount -t tmpfs -o ro,size=1m vmgw-test-ro "$T/ro"
trap 'rc=$?; set +e; umount -l "$T/ro" 2>/dev/null; (exit $rc); vmgw_test_cleanup' EXIT

# vmgwd_alone OUT ARGS...: vmgwd in a fresh network namespace; its exit code, its output in OUT.
vmgwd_alone() {
  local out=$1 rc=0
  shift
  timeout 20 unshare --net "$VMGWD_BIN" --config "$VMGW_DAEMON_CONFIG" "$@" </dev/null >"$out" 2>&1 || rc=$?
  echo "$rc"
}
says() { grep -qF -- "$2" "$1" || { echo "  not in its output: $2"; cat "$1"; return 1; }; }

rc=$(vmgwd_alone "$T/ro.out" --db "$T/ro/state.db" --socket "$T/run/a.sock" \
  --state-dir "$T/state" --run-dir "$T/run")
assert "on a read-only state directory vmgwd exits 1 (got $rc)" test "$rc" = 1
assert "... saying the directory must be writable" says "$T/ro.out" \
  "Read-only file system (the state directory must be writable)"
assert "... not that another vmgwd runs" not grep -qF "another vmgwd is running" "$T/ro.out"

mkdir -p "$T/run;x"
rc=$(vmgwd_alone "$T/semi.out" --db "$T/state/state.db" --socket "$T/run/b.sock" \
  --state-dir "$T/state" --run-dir "$T/run;x")
assert "with a ';' in --run-dir vmgwd exits 1 (got $rc)" test "$rc" = 1
assert "... naming --run-dir and why" says "$T/semi.out" \
  "dnsmasq runs the lease hook in it through a shell"

vmgw_test_end
