#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# vmgw owns only "table inet vmgw": tables of other tools in the same namespace are left
# byte-identical (counters and handles included) by a first apply, a re-apply and a delta.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin coexistence
vmgw_topology_up

# Foreign tables, created before vmgw ever runs. No traffic is sent that could match their
# counters (tcp/9999 to the host, forwarded packets from TEST-NET-1 addresses).
ip netns exec "$NS_GW" nft -f - <<'NFT'
table inet foreign {
  chain c {
    type filter hook input priority 10; policy accept;
    tcp dport 9999 counter accept
  }
}
table ip legacy {
  set blocked {
    type ipv4_addr
    elements = { 192.0.2.1, 192.0.2.2 }
  }
  chain forward {
    type filter hook forward priority 5; policy accept;
    ip saddr @blocked counter drop
  }
  chain helper {
    counter
  }
}
NFT

foreign_snapshot() {
  local t
  for t in "inet foreign" "ip legacy"; do
    echo "## $t"
    # shellcheck disable=SC2086  # "family name" is two words on purpose
    ip netns exec "$NS_GW" nft -a list table $t
  done
}
foreign_snapshot >"$VMGW_LAB/tmp/foreign.before"
unchanged() {
  foreign_snapshot >"$VMGW_LAB/tmp/foreign.now"
  diff -u "$VMGW_LAB/tmp/foreign.before" "$VMGW_LAB/tmp/foreign.now" | sed 's/^/    /' | head -30
  cmp -s "$VMGW_LAB/tmp/foreign.before" "$VMGW_LAB/tmp/foreign.now"
}
vmgw_table_exists() { ip netns exec "$NS_GW" nft list table inet vmgw >/dev/null 2>&1; }
show_is_only_vmgw() {
  local out
  out=$(vmgw_cli show 2>&1) || return 1
  grep -q 'table inet vmgw' <<<"$out" && ! grep -Eq 'table (inet foreign|ip legacy)' <<<"$out"
}

vmgw_apply "$VMGW_LAB_CONFIG"
assert "first apply exits 0 ($APPLY_RC: $APPLY_OUT $APPLY_ERR)" test "$APPLY_RC" -eq 0
assert "vmgw table exists" vmgw_table_exists
assert "foreign tables byte-identical after the first apply" unchanged

vmgw_apply "$VMGW_LAB_CONFIG"
assert "re-apply exits 0 and prints 'no changes' ($APPLY_RC: $APPLY_OUT)" \
  test "$APPLY_RC:${APPLY_OUT:0:10}" = "0:no changes"
assert "foreign tables byte-identical after the re-apply" unchanged
assert "vmgw show lists vmgw's table and not the foreign ones" show_is_only_vmgw

# A delta (one more port forward) must not touch them either.
plus=$VMGW_LAB/tmp/plus-forward.yaml
awk '{ print }
     /^    to: web:80/ { print "  - public: 203.0.113.2:8081"; print "    proto: tcp"; print "    to: db:80" }' \
  "$VMGW_LAB_CONFIG" >"$plus"
vmgw_apply "$plus"
assert "delta apply exits 0 ($APPLY_RC: $APPLY_OUT $APPLY_ERR)" test "$APPLY_RC" -eq 0
assert "foreign tables byte-identical after a delta" unchanged
assert "vmgw table still exists" vmgw_table_exists

vmgw_test_end
