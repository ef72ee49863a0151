#!/usr/bin/env bash
# `vmgw plan` and `vmgw check` need no root and no kernel: run as the unprivileged user nobody,
# they print the nft text and validate; `vmgw apply` as nobody refuses with exit 3 and says why.
# (No namespace is needed: nothing here touches the network.)
set -euo pipefail
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root to switch to the user nobody"; exit 77; }
command -v runuser >/dev/null || { echo "SKIP: runuser missing"; exit 77; }
bin=${VMGW_BIN:-$(dirname "$0")/../../build/vmgw}
src=${VMGW_SOURCE_DIR:-$(dirname "$0")/../..}
tmp=$(mktemp -d /tmp/vmgw-plan-nonroot.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
cp "$bin" "$tmp/vmgw" && cp "$src/examples/lab.yaml" "$tmp/lab.yaml"
chmod 755 "$tmp/vmgw" && chmod 644 "$tmp/lab.yaml"
fails=0
check() { if "${@:2}"; then echo "ok   - $1"; else echo "FAIL - $1"; fails=$((fails + 1)); fi; }
as_nobody() { runuser -u nobody -- "$@"; }
# Minimal chroots (debootstrap) can have / at mode 0700: then no unprivileged user can reach any
# file at all, and there is nothing to test.
if ! as_nobody test -x "$tmp/vmgw"; then
  echo "SKIP: user nobody cannot reach $tmp (is / or /tmp closed to others? $(stat -c '/ %a' /), $(stat -c '/tmp %a' /tmp))"
  exit 77
fi
plan_prints_nft() { as_nobody "$tmp/vmgw" plan -f "$tmp/lab.yaml" >"$tmp/plan.out" && grep -q '^table inet vmgw {' "$tmp/plan.out" && grep -q 'map eip_dnat' "$tmp/plan.out"; }
check "vmgw plan as nobody prints the nft table" plan_prints_nft
check_ok() { as_nobody "$tmp/vmgw" check -f "$tmp/lab.yaml" | grep -q '^ok:'; }
check "vmgw check as nobody validates" check_ok
apply_refused() {
  local rc=0
  as_nobody "$tmp/vmgw" apply -f "$tmp/lab.yaml" >/dev/null 2>"$tmp/apply.err" || rc=$?
  [[ $rc -eq 3 ]] && grep -q 'needs root' "$tmp/apply.err"
}
check "vmgw apply as nobody exits 3 saying it needs root" apply_refused
echo "assertions: $((3 - fails)) ok, $fails failing"
((fails == 0))
