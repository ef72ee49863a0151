#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# A config with five different mistakes: "vmgw check" reports all five, each located at its
# line; "vmgw apply" refuses it (exit 1) and leaves the kernel exactly as it was, both on a
# fresh gateway and on one where a good config is in force.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin bad-input
vmgw_topology_up

# Each mistake's line carries a "mistake:" comment, so the expected locations are computed from
# the file itself rather than hard-coded line numbers. The mistakes touch different objects so
# that none of them hides or cascades into another.
bad=$VMGW_LAB/tmp/bad.yaml
cat >"$bad" <<'YAML'
uplinks:
  - name: isp1
    device: wan0
    address: 203.0.113.2/24
    gateway: 203.0.113.1

networks:
  - name: vmnet
    bridge: br-vm
    subnet: 10.10.0.0/24
    gateway: 10.99.0.1           # mistake: gateway outside the subnet
    dhcp: true
    masquerade: [isp1]
  - name: lan
    bridge: lan0
    subnet: 192.168.50.0/24
    gateway: 192.168.50.1
    masquerade: [isp1]

vms:
  - name: web
    network: vmnet
    mac: "52:54:00:00:00:0a"
    ip: 10.20.0.10               # mistake: address outside its network's subnet
    port: vnet-web
  - name: db
    network: vmnet
    mac: "52:54:00:00:00:0b"
    ip: 10.10.0.11
    port: vnet-db
  - name: extra
    network: nosuch              # mistake: unknown network
    mac: "52:54:00:00:00:0c"
    ip: 10.10.0.12

port_forwards:
  - public: 203.0.113.2:8080
    proto: tcp
    to: ghost:80                 # mistake: unknown VM

elastic_ips:
  pools:
    - name: public
      uplink: isp1
      cidr: 203.0.113.16/28
  bindings:
    - address: 203.0.113.99      # mistake: address in no pool
      vm: db

host:
  allow:
    - proto: tcp
      port: 22
      interface: lan0
      from: 192.168.50.0/24
YAML
mapfile -t expected_lines < <(grep -n 'mistake:' "$bad" | cut -d: -f1)

# --- vmgw check ------------------------------------------------------------------------------
vmgw_check_config "$bad"
echo "vmgw check stderr:"
while IFS= read -r line; do echo "  | $line"; done <<<"$CHECK_ERR"
assert "check exits 1 (got $CHECK_RC)" test "$CHECK_RC" -eq 1
# Error lines are "file:line:col: path: reason". A closing summary line ("5 errors in ...") is
# tolerated; it is not counted as an error.
located_re='^(.*):([0-9]+):([0-9]+): [^: ]+: .+'
mapfile -t errors < <(grep -E "$located_re" <<<"$CHECK_ERR" || true)
assert "check prints exactly five located error lines (got ${#errors[@]})" test "${#errors[@]}" -eq 5
in_bad_file() {  # every error names the bad file
  local e
  for e in "${errors[@]}"; do
    [[ $e =~ $located_re && $(basename "${BASH_REMATCH[1]}") == bad.yaml ]] ||
      { echo "    wrong file: $e"; return 1; }
  done
}
assert "every error names the file it is in" in_bad_file
reported_at() { grep -Eq "bad\.yaml:$1:[0-9]+: " <<<"$CHECK_ERR"; }
for l in "${expected_lines[@]}"; do
  assert "an error is reported at line $l ($(sed -n "${l}s/.*mistake: //p" "$bad"))" reported_at "$l"
done

# --- apply on a fresh gateway ----------------------------------------------------------------
no_state_change() {  # compare the snapshot taken before with one taken now
  vmgw_gw_snapshot >"$VMGW_LAB/tmp/after"
  diff -u "$VMGW_LAB/tmp/before" "$VMGW_LAB/tmp/after" | head -40 | sed 's/^/    /'
  cmp -s "$VMGW_LAB/tmp/before" "$VMGW_LAB/tmp/after"
}
no_vmgw_table() { ! ip netns exec "$NS_GW" nft list table inet vmgw >/dev/null 2>&1; }
no_dnsmasq() { ! ip netns pids "$NS_GW" | xargs -r ps -o comm= -p 2>/dev/null | grep dnsmasq >/dev/null; }

vmgw_gw_snapshot >"$VMGW_LAB/tmp/before"
vmgw_apply "$bad"
assert "fresh gateway: apply of the bad config exits 1 (got $APPLY_RC)" test "$APPLY_RC" -eq 1
assert "fresh gateway: nft ruleset, addresses and routes unchanged" no_state_change
assert "fresh gateway: no vmgw table was created" no_vmgw_table
assert "fresh gateway: no dnsmasq was started" no_dnsmasq

# --- apply over a good config ----------------------------------------------------------------
vmgw_apply "$VMGW_LAB_CONFIG"
assert "good config applies (exit $APPLY_RC: $APPLY_OUT $APPLY_ERR)" test "$APPLY_RC" -eq 0
vmgw_gw_snapshot >"$VMGW_LAB/tmp/before"
table_before=$(vmgw_nft_table_normalized)
vmgw_apply "$bad"
assert "configured gateway: apply of the bad config exits 1 (got $APPLY_RC)" test "$APPLY_RC" -eq 1
assert "configured gateway: nft ruleset, addresses and routes unchanged" no_state_change
same_table() { [[ $(vmgw_nft_table_normalized) == "$table_before" ]]; }
assert "configured gateway: vmgw table unchanged" same_table

vmgw_test_end
