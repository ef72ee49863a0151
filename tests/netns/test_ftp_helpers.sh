#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# FTP (and TFTP) through the gateway with the kernel's helpers (`helpers: [ftp, tftp]`), FTP
# active and passive,
# with a real FTP client and server (tests/netns/tools/transfer.py) whose passive replies carry the
# server's own address and which refuses a data connection from another address than the
# control connection's, as real servers do:
#   - a VM fetching from the internet through masquerade, its network balanced over two ISPs:
#     20 passive fetches in a row, each data connection leaving through its control
#     connection's ISP (an expected connection inherits its master's conntrack mark, which
#     pins it to that uplink);
#   - the internet fetching from a VM behind a port forward on another public port (2121 -> 21);
#   - the internet fetching from a VM through its elastic IP;
#   - the internet fetching from the host itself, whose output policy is drop (its active data
#     connection leaves only as `related`).
# Then the same file without helpers: the cases that need one fail (so each check can fail).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env /usr/bin/python3
vmgw_test_begin ftp-helpers
FTP=$VMGW_SOURCE_DIR/tests/netns/tools/transfer.py
config=$VMGW_LAB/tmp/ftp.yaml
write_config() {  # write_config NETWORK_HELPERS HOST_HELPERS
  cat >"$config" <<YAML
uplinks:
  - {name: isp1, device: wan0, address: $LAB_UPLINK_ADDR/24, gateway: $LAB_ISP_ADDR}
  - {name: isp2, device: wan1, address: $LAB_UPLINK2_ADDR/25, gateway: $LAB_ISP2_ADDR}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, dhcp: true,
     masquerade: [isp1, isp2], mode: balance, helpers: [$1]}
vms:
  - {name: web, network: vmnet, mac: "$LAB_WEB_MAC", ip: $LAB_WEB_IP, port: vnet-web}
  - {name: db, network: vmnet, mac: "$LAB_DB_MAC", ip: $LAB_DB_IP, port: vnet-db}
port_forwards:
  - {public: "$LAB_UPLINK_ADDR:2121", to: "web:21"}
elastic_ips:
  pools: [{name: public, uplink: isp1, cidr: 203.0.113.16/28}]
  bindings: [{address: $LAB_EIP_DB, vm: db}]
host:
  allow: [{proto: tcp, port: 21, interface: wan0}]
  helpers: [$2]
  output: {policy: drop}
YAML
}
write_config "ftp, tftp" ftp
vmgw_lab_up "$config"
assert "lab comes up (${LAB_UP_ERROR:-ok})" test -z "$LAB_UP_ERROR"
vmgw_apply "$config"
assert "the helpers read back as planned: a second apply changes nothing ($APPLY_OUT)" \
  test "${APPLY_OUT:0:10}" = "no changes"
for ns in "$NS_INET:inet" "$NS_WEB:web" "$NS_DB:db" "$NS_GW:gateway"; do
  vmgw_bg "${ns%%:*}" "ftp-${ns##*:}" /usr/bin/python3 "$FTP" serve 21 "${ns##*:}"
done
for ns in "$NS_INET" "$NS_WEB" "$NS_DB" "$NS_GW"; do
  vmgw_wait_for 5 vmgw_listening "$ns" 21 || vmgw_die "the FTP server in $ns did not start"
done
vmgw_bg "$NS_INET" tftp-inet /usr/bin/python3 "$FTP" tftp-serve 69 inet
vmgw_wait_for 5 bash -c "ip netns exec '$NS_INET' ss -Hlun 'sport = :69' | grep -q ." ||
  vmgw_die "the TFTP server did not start"
# tftp_fetch: VM web reads a file from the internet's TFTP server through masquerade.
tftp_fetch() {
  local out=$VMGW_LAB/tmp/tftp.out
  rm -f "$out"
  ip netns exec "$NS_WEB" timeout 10 busybox tftp -g -r hello.txt -l "$out" "$LAB_INET_ADDR" 69 \
    >/dev/null 2>&1 || true
  [[ -f $out && $(cat "$out") == "hello over tftp from inet" ]]
}

# fetch CLIENT_NS HOST PORT MODE SERVER_NAME: the file arrives whole.
fetch() {
  local got
  got=$(ip netns exec "$1" timeout 15 /usr/bin/python3 "$FTP" get "$2" "$3" "$4" 2>&1) || true
  [[ $got == "hello over ftp from $5" ]] || { echo "    got: ${got:0:200}"; return 1; }
}
fails() { ! fetch "$@" >/dev/null; }

cases() {  # cases CHECK WORD: every case through CHECK (fetch or fails)
  local check=$1 word=$2 mode
  for mode in active passive; do
    assert "$word $mode: VM web -> internet server, through masquerade" \
      "$check" "$NS_WEB" "$LAB_INET_ADDR" 21 "$mode" inet
    assert "$word $mode: internet -> VM web behind the forward $LAB_UPLINK_ADDR:2121" \
      "$check" "$NS_INET" "$LAB_UPLINK_ADDR" 2121 "$mode" web
    assert "$word $mode: internet -> VM db through its elastic IP $LAB_EIP_DB" \
      "$check" "$NS_INET" "$LAB_EIP_DB" 21 "$mode" db
  done
  assert "$word passive: internet -> the host's own server" \
    "$check" "$NS_INET" "$LAB_UPLINK_ADDR" 21 passive gateway
  assert "$word active: internet -> the host's own server (output policy drop)" \
    "$check" "$NS_INET" "$LAB_UPLINK_ADDR" 21 active gateway
}
cases fetch "with helpers:"
assert "with helpers: TFTP, VM web -> internet server (its answer comes from a new port)" tftp_fetch
pinned=0
for _ in $(seq 20); do
  fetch "$NS_WEB" "$LAB_INET_ADDR" 21 passive inet >/dev/null && pinned=$((pinned + 1))
done
assert "balanced over two ISPs: 20 of 20 passive fetches keep one ISP ($pinned)" test "$pinned" -eq 20

# Without helpers, what needs one fails: the private address in a passive reply, the data
# connection an active server opens back to a masqueraded VM, the host's passive data port
# (input drop) and its active data connection (output drop).
write_config "" ""
vmgw_apply "$config"
assert "apply without helpers (exit $APPLY_RC: $APPLY_ERR)" test "$APPLY_RC" -eq 0
no_helper_objects() { ! ip netns exec "$NS_GW" nft list ct helpers table inet vmgw | grep -q 'ct helper'; }
assert "the helper objects are gone" no_helper_objects
no_tftp() { ! tftp_fetch; }
assert "without helpers: TFTP, VM web -> internet fails" no_tftp
assert "without helpers active: VM web -> internet fails" \
  fails "$NS_WEB" "$LAB_INET_ADDR" 21 active inet
assert "without helpers passive: internet -> VM web behind the forward fails" \
  fails "$NS_INET" "$LAB_UPLINK_ADDR" 2121 passive web
assert "without helpers passive: internet -> the host fails" \
  fails "$NS_INET" "$LAB_UPLINK_ADDR" 21 passive gateway
assert "without helpers active: internet -> the host fails" \
  fails "$NS_INET" "$LAB_UPLINK_ADDR" 21 active gateway
# Without a helper the data connection is a flow of its own, balanced on its own: about half
# leave through the other ISP, which the server refuses (all 20 kept by chance: 1 in 10^6).
loose=0
for _ in $(seq 20); do
  fetch "$NS_WEB" "$LAB_INET_ADDR" 21 passive inet >/dev/null && loose=$((loose + 1))
done
assert "without helpers: passive fetches over two ISPs are not all kept ($loose of 20)" test "$loose" -lt 20

vmgw_test_end
