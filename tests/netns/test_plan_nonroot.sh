#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# `vmgw plan` and `vmgw check` need no root and no kernel: run as the unprivileged user nobody,
# they print the nft text and validate; `vmgw apply` as nobody refuses with exit 3 and says why.
# (No namespace is needed: nothing here touches the network.)
set -euo pipefail
# lib.sh for its skip (77, or a failure under VMGW_TESTS_STRICT=1), assert and verdict only: no
# lab is built.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $(id -u) -eq 0 ]] || vmgw_skip "needs root to switch to the user nobody"
command -v runuser >/dev/null || vmgw_skip "runuser missing"
vmgw_require_binary
bin=$VMGW_BIN
src=$VMGW_SOURCE_DIR
TEST_FAILS=0; TEST_PASSES=0
tmp=$(mktemp -d /tmp/vmgw-plan-nonroot.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
cp "$bin" "$tmp/vmgw" && cp "$src/examples/lab.yaml" "$tmp/lab.yaml"
chmod 755 "$tmp/vmgw" && chmod 644 "$tmp/lab.yaml"
as_nobody() { runuser -u nobody -- "$@"; }
# Minimal chroots (debootstrap) can have / at mode 0700: then no unprivileged user can reach any
# file at all, and there is nothing to test.
if ! as_nobody test -x "$tmp/vmgw"; then
  vmgw_skip "user nobody cannot reach $tmp (is / or /tmp closed to others? $(stat -c '/ %a' /), $(stat -c '/tmp %a' /tmp))"
fi
plan_prints_nft() { as_nobody "$tmp/vmgw" plan -f "$tmp/lab.yaml" >"$tmp/plan.out" && grep -q '^table inet vmgw {' "$tmp/plan.out" && grep -q 'map eip_dnat' "$tmp/plan.out"; }
assert "vmgw plan as nobody prints the nft table" plan_prints_nft
check_ok() { as_nobody "$tmp/vmgw" check -f "$tmp/lab.yaml" | grep -q '^ok:'; }
assert "vmgw check as nobody validates" check_ok
apply_refused() {
  local rc=0
  as_nobody "$tmp/vmgw" apply -f "$tmp/lab.yaml" >/dev/null 2>"$tmp/apply.err" || rc=$?
  [[ $rc -eq 3 ]] && grep -q 'needs root' "$tmp/apply.err"
}
assert "vmgw apply as nobody exits 3 saying it needs root" apply_refused
vmgw_test_end
