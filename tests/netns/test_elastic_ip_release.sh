#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# Removing an elastic-IP binding releases it completely: the /32 leaves the uplink, the map
# elements go, the internet can no longer reach the VM through it, and the VM's outbound traffic
# is masqueraded behind the uplink address again.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin eip-release
vmgw_lab_up
assert "lab comes up (${LAB_UP_ERROR:-ok})" test -z "$LAB_UP_ERROR"

reply() { vmgw_client "$@" || true; }
has_eip_addr() { ip -n "$NS_GW" -4 -o addr show dev wan0 | grep " inet $LAB_EIP_DB/32 " >/dev/null; }
eip_unreachable() { ! vmgw_client "$NS_INET" "$LAB_EIP_DB" 80 >/dev/null; }
eip_in_table() { ip netns exec "$NS_GW" nft list table inet vmgw | grep -E "(^|[^0-9])${LAB_EIP_DB//./\\.}([^0-9]|$)" >/dev/null; }

# Preconditions: the binding works while configured.
assert "before: wan0 has $LAB_EIP_DB/32" has_eip_addr
assert "before: the table mentions $LAB_EIP_DB" eip_in_table
got=$(reply "$NS_DB" "$LAB_INET_ADDR" 80)
assert "before: db goes out as $LAB_EIP_DB (got '$got')" test "$got" = "seen-from=$LAB_EIP_DB"
got=$(reply "$NS_INET" "$LAB_EIP_DB" 80)
assert "before: internet reaches db at $LAB_EIP_DB:80 (got '$got')" test "$got" = "hello from db"

# The lab config without its bindings block (the pool stays).
released=$VMGW_LAB/tmp/no-binding.yaml
awk '/^  bindings:/ { skip = 1; next }
     skip && (/^[^ ]/ || /^$/) { skip = 0 }
     !skip { print }' "$VMGW_LAB_CONFIG" >"$released"
if grep -q "$LAB_EIP_DB" "$released" || ! grep -q 'pools:' "$released"; then
  vmgw_die "could not derive a config without the binding from $VMGW_LAB_CONFIG"
fi

vmgw_apply "$released"
echo "apply without the binding: exit $APPLY_RC: $APPLY_OUT $APPLY_ERR"
assert "apply without the binding exits 0" test "$APPLY_RC" -eq 0
assert "after: wan0 no longer has $LAB_EIP_DB" not has_eip_addr
assert "after: no map element or rule mentions $LAB_EIP_DB" not eip_in_table
assert "after: internet cannot reach db through $LAB_EIP_DB:80" eip_unreachable
got=$(reply "$NS_DB" "$LAB_INET_ADDR" 80)
assert "after: db is masqueraded behind $LAB_UPLINK_ADDR again (got '$got')" \
  test "$got" = "seen-from=$LAB_UPLINK_ADDR"
got=$(reply "$NS_INET" "$LAB_UPLINK_ADDR" "$LAB_PF_PORT")
assert "after: the port forward to web still works (got '$got')" test "$got" = "hello from web"

vmgw_test_end
