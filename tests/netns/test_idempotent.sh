#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# Applying the same config twice writes nothing; adding one port forward is applied as a small
# delta (the table and its rules keep their kernel handles: no delete-and-recreate), and
# removing it again brings back exactly the previous table.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin idempotent
vmgw_lab_up
assert "lab comes up (${LAB_UP_ERROR:-ok})" test -z "$LAB_UP_ERROR"

# Words that would betray a full reload in the summary line.
FULL_RELOAD_RE='reload|recreat|flush|full|replac(e|ed|ing) (the )?table'

# Handles of the table, its chains/sets/maps and rules ("nft -a"): a full reload renumbers them.
handles() {
  ip netns exec "$NS_GW" nft -a list table inet vmgw | grep -o '# handle [0-9]*' | awk '{print $3}' | sort -n
}
# Every handle of the first list is still in the second one.
handles_kept() { [[ -z $(comm -23 <(sort "$1") <(sort "$2")) ]]; }

# --- same config twice ------------------------------------------------------------------------
table1=$(vmgw_nft_table_normalized)
handles >"$VMGW_LAB/tmp/handles1"
vmgw_apply "$VMGW_LAB_CONFIG"
echo "second apply: exit $APPLY_RC: $APPLY_OUT"
assert "second apply exits 0" test "$APPLY_RC" -eq 0
assert "second apply prints 'no changes...'" test "${APPLY_OUT:0:10}" = "no changes"
assert "second apply prints one line" test "$(grep -c . <<<"$APPLY_OUT")" -eq 1
same_as_table1() { [[ $(vmgw_nft_table_normalized) == "$table1" ]]; }
assert "table identical except counters" same_as_table1
handles >"$VMGW_LAB/tmp/handles2"
assert "same handles after the second apply" cmp -s "$VMGW_LAB/tmp/handles1" "$VMGW_LAB/tmp/handles2"

# --- add one port forward ---------------------------------------------------------------------
plus=$VMGW_LAB/tmp/plus-forward.yaml
awk '{ print }
     /^    to: web:80/ { print "  - public: 203.0.113.2:8081"; print "    proto: tcp"; print "    to: db:80" }' \
  "$VMGW_LAB_CONFIG" >"$plus"
grep -q 8081 "$plus" || vmgw_die "could not derive the config with an extra forward from $VMGW_LAB_CONFIG"

vmgw_apply "$plus"
echo "apply with one more forward: exit $APPLY_RC: $APPLY_OUT"
assert "adding a forward applies (exit 0)" test "$APPLY_RC" -eq 0
assert "the summary reports a change" test "${APPLY_OUT:0:10}" != "no changes"
not_full() { ! grep -Eqi "$FULL_RELOAD_RE" <<<"$APPLY_OUT"; }
assert "the summary does not describe a full reload" not_full
handles >"$VMGW_LAB/tmp/handles3"
assert "every table/chain/rule handle survived (a delta, not a reload)" \
  handles_kept "$VMGW_LAB/tmp/handles1" "$VMGW_LAB/tmp/handles3"
table2=$(vmgw_nft_table_normalized)
small_diff() {
  local n
  n=$(diff <(echo "$table1") <(echo "$table2") | grep -c '^[<>]' || true)
  echo "    table diff: $n changed lines"
  diff <(echo "$table1") <(echo "$table2") | sed 's/^/    /' | head -20
  ((n > 0 && n <= 8))
}
assert "the table differs by a few lines only" small_diff
answers() { [[ $(vmgw_client "$NS_INET" "$LAB_UPLINK_ADDR" "$1") == *"$2"* ]]; }
no_answer() { ! vmgw_client "$NS_INET" "$LAB_UPLINK_ADDR" "$1" >/dev/null; }
assert "internet -> $LAB_UPLINK_ADDR:8081 reaches db" answers 8081 "hello from db"
assert "the old forward still works" answers "$LAB_PF_PORT" "hello from web"

# --- remove it again --------------------------------------------------------------------------
vmgw_apply "$VMGW_LAB_CONFIG"
echo "apply without the extra forward: exit $APPLY_RC: $APPLY_OUT"
assert "removing the forward applies (exit 0)" test "$APPLY_RC" -eq 0
assert "the summary reports a change" test "${APPLY_OUT:0:10}" != "no changes"
assert "the summary does not describe a full reload" not_full
handles >"$VMGW_LAB/tmp/handles4"
assert "every table/chain/rule handle survived the removal" \
  handles_kept "$VMGW_LAB/tmp/handles1" "$VMGW_LAB/tmp/handles4"
assert "the table is back to the original (except counters)" same_as_table1
assert "internet -> $LAB_UPLINK_ADDR:8081 no longer connects" no_answer 8081
vmgw_apply "$VMGW_LAB_CONFIG"
assert "and a further apply prints 'no changes' (got '$APPLY_OUT')" test "${APPLY_OUT:0:10}" = "no changes"

vmgw_test_end
