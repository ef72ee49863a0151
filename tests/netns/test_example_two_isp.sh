#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2119
# examples/two-isp-gateway.yaml, the classic two-ISP gateway script as one vmgw file, applied in
# the lab and checked row by row with real traffic:
#   default drop in: SSH from the LAN and (rate limited) from the internet, nothing else, each
#   drop counted; default drop out: the host opens HTTP, not SSH; equalize: a LAN client's 10
#   connections to one server leave through one ISP; FTP from the LAN, active and passive;
#   ICMP list: the internet pings the host; the port forward to web; DSCP 4 on the LAN's SSH and
#   on the host's own SSH replies, counted at the ISPs.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env /usr/bin/python3
vmgw_test_begin example-two-isp
config=$VMGW_SOURCE_DIR/examples/two-isp-gateway.yaml
vmgw_lab_up "$config"
assert "the example applies and the VMs get their leases (${LAB_UP_ERROR:-ok})" test -z "$LAB_UP_ERROR"
FTP=$VMGW_SOURCE_DIR/tests/netns/tools/transfer.py
vmgw_bg "$NS_INET" ftp-inet /usr/bin/python3 "$FTP" serve 21 inet
vmgw_bg "$NS_INET" ssh-inet socat TCP-LISTEN:22,fork,reuseaddr SYSTEM:'echo inet-ssh'
vmgw_wait_for 5 vmgw_listening "$NS_INET" 21 || vmgw_die "the FTP server did not start"
vmgw_wait_for 5 vmgw_listening "$NS_INET" 22 || vmgw_die "the SSH stand-in did not start"
for ns in "$NS_ISP" "$NS_ISP2"; do
  ip netns exec "$ns" nft -f - <<'NFT'
table inet test_tos {
  counter ssh_tos { }
  chain forward {
    type filter hook forward priority 10; policy accept;
    iifname "eth0" tcp sport 22 ip dscp 4 counter name ssh_tos
    iifname "eth0" tcp dport 22 ip dscp 4 counter name ssh_tos
  }
}
NFT
done
tos_marked() {
  local a b
  a=$(ip netns exec "$NS_ISP" nft -j list counter inet test_tos ssh_tos | jq '.nftables[1].counter.packets')
  b=$(ip netns exec "$NS_ISP2" nft -j list counter inet test_tos ssh_tos | jq '.nftables[1].counter.packets')
  echo $((a + b))
}

reaches() { [[ $(vmgw_client "$1" "$2" "$3") == *"$4"* ]]; }
blocked() { ! vmgw_client "$1" "$2" "$3" >/dev/null; }
counted() {  # counted CHAIN COMMENT-PREFIX: the packets of that rule
  ip netns exec "$NS_GW" nft -j list chain inet vmgw "$1" |
    jq --arg c "$2" '[.nftables[] | select(.rule.comment // "" | startswith($c)) | .rule.expr[] | select(.counter) | .counter.packets] | add // 0'
}

# Default drop in.
assert "LAN -> the host's SSH" reaches "$NS_LAN" "$LAB_LAN_GW" 22 ssh-standin
assert "internet -> the host's SSH" reaches "$NS_INET" "$LAB_UPLINK_ADDR" 22 ssh-standin
assert "internet -> the host's port 23: dropped" blocked "$NS_INET" "$LAB_UPLINK_ADDR" 23
assert "  and counted as 'host: everything else'" test "$(counted filter_input 'host: everything else')" -gt 0
ping_host() { ip netns exec "$NS_INET" busybox ping -c 1 -W 2 "$LAB_UPLINK_ADDR" >/dev/null 2>&1; }
assert "internet pings the host (host.icmp)" ping_host

# Default drop out.
assert "the host opens HTTP to the internet" reaches "$NS_GW" "$LAB_INET_ADDR" 80 "seen-from="
assert "the host cannot open SSH to the internet" blocked "$NS_GW" "$LAB_INET_ADDR" 22
assert "  and it is counted as 'host: output: everything else'" \
  test "$(counted filter_output 'host: output: everything else')" -gt 0

# Equalize: one ISP per destination.
sources=$(for _ in $(seq 10); do vmgw_client "$NS_LAN" "$LAB_INET_ADDR" 80; done | sort -u)
printf '    %s\n' "$sources"
assert "a LAN client's 10 connections to one server left through one ISP" \
  test "$(grep -c seen-from <<<"$sources")" -eq 1

# FTP from the LAN through NAT.
for mode in active passive; do
  got=$(ip netns exec "$NS_LAN" timeout 15 /usr/bin/python3 "$FTP" get "$LAB_INET_ADDR" 21 "$mode" 2>&1) || true
  assert "LAN: $mode FTP from the internet ($got)" test "$got" = "hello over ftp from inet"
done

# The port forward.
assert "internet -> $LAB_UPLINK_ADDR:80 reaches web" reaches "$NS_INET" "$LAB_UPLINK_ADDR" 80 "hello from web"

# TOS Minimize-Delay (DSCP 4): the LAN's SSH and the host's own SSH replies.
before=$(tos_marked)
vmgw_client "$NS_LAN" "$LAB_INET_ADDR" 22 >/dev/null || true
vmgw_client "$NS_INET" "$LAB_UPLINK_ADDR" 22 >/dev/null || true
after=$(tos_marked)
assert "SSH of the LAN and of the host leaves with DSCP 4 ($((after - before)) packets seen by the ISPs)" \
  test "$((after - before))" -ge 4

vmgw_test_end
