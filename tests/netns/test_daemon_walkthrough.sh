#!/usr/bin/env bash
# End to end: the README's daemon walkthrough, exactly as a new user types it. The block below
# IS the test: every "$ " line is run as written (in order, in one shell; "\" continues a
# command), and every line indented under it must appear in that command's output (runs of
# spaces count as one). Copy it into the README as it is.
#
# WALKTHROUGH BEGIN
# The lab's namespaces, with nothing applied: $GW the gateway (uplink wan0 to the ISP, VM ports
# vnet-web and vnet-db, LAN lan0), $WEB and $DB two VMs, $INET a host on the internet; $L is a
# scratch directory. Start the daemon in the gateway with the lab's topology; VMs, elastic IPs
# and forwards come through its API, which the same vmgw command drives:
#   $ ip netns exec $GW build/vmgwd --config examples/daemon.yaml \
#       --db $L/state/vmgw.db --socket $L/run/vmgw.sock \
#       --state-dir $L/state --run-dir $L/run >>$L/vmgwd.log 2>&1 &
#   $ vmgwd_pid=$!
#   $ vmgw() { ip netns exec $GW build/vmgw --socket $L/run/vmgw.sock "$@"; }
#   $ vmgw status
#     generation: 0
#   $ vmgw network list
#     vmnet br-vm 10.10.0.0/24 10.10.0.1 true 3600s - 0
# Add a VM; it gets the next free address as a DHCP reservation, and takes it when it boots:
#   $ vmgw vm add web --network vmnet --mac 52:54:00:00:00:0a --port vnet-web
#     vm web added: 10.10.0.2 (52:54:00:00:00:0a) on vmnet
#   $ ip netns exec $WEB busybox udhcpc -i eth0 -n -q -s $L/tmp/udhcpc.script
#     lease of 10.10.0.2 obtained
# Give it a public address of its own: allocate an elastic IP and bind it (1:1 NAT both ways):
#   $ vmgw eip allocate
#     allocated 203.0.113.16 from pool public
#   $ vmgw eip bind 203.0.113.16 web
#     203.0.113.16 bound to vm web
#   $ ip netns exec $INET socat - TCP:203.0.113.16:80,connect-timeout=5
#     hello from web
# A second VM; move the elastic IP to it in one call (established flows to web are cut):
#   $ vmgw vm add db --network vmnet --mac 52:54:00:00:00:0b --port vnet-db
#     vm db added: 10.10.0.3 (52:54:00:00:00:0b) on vmnet
#   $ ip netns exec $DB busybox udhcpc -i eth0 -n -q -s $L/tmp/udhcpc.script
#     lease of 10.10.0.3 obtained
#   $ vmgw eip bind 203.0.113.16 db
#     203.0.113.16 bound to vm db
#   $ ip netns exec $INET socat - TCP:203.0.113.16:80,connect-timeout=5
#     hello from db
#   $ vmgw vm list
#     db vmnet 52:54:00:00:00:0b 10.10.0.3 vnet-db 203.0.113.16 api
#     web vmnet 52:54:00:00:00:0a 10.10.0.2 vnet-web - api
#   $ vmgw eip list
#     203.0.113.16 public isp1 db
# Restart the daemon: the kernel kept everything meanwhile, the new daemon finds it as it was
# and writes nothing:
#   $ kill $vmgwd_pid; wait $vmgwd_pid
#   $ ip netns exec $INET socat - TCP:203.0.113.16:80,connect-timeout=5
#     hello from db
#   $ ip netns exec $GW build/vmgwd --config examples/daemon.yaml \
#       --db $L/state/vmgw.db --socket $L/run/vmgw.sock \
#       --state-dir $L/state --run-dir $L/run >>$L/vmgwd.log 2>&1 &
#   $ vmgwd_pid=$!
#   $ vmgw status
#     generation: 5
#   $ grep started $L/vmgwd.log
#     started at generation 5: no changes
#   $ vmgw vm list
#     db vmnet 52:54:00:00:00:0b 10.10.0.3 vnet-db 203.0.113.16 api
#     web vmnet 52:54:00:00:00:0a 10.10.0.2 vnet-web - api
#   $ vmgw eip list
#     203.0.113.16 public isp1 db
#   $ ip netns exec $INET socat - TCP:203.0.113.16:80,connect-timeout=5
#     hello from db
# WALKTHROUGH END
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=walkthrough.sh
source "$(dirname "${BASH_SOURCE[0]}")/walkthrough.sh"

self=$(readlink -f "${BASH_SOURCE[0]}")
vmgw_test_begin daemon_walkthrough
vmgw_require_daemon

# The walkthrough's lab: the lab topology and servers, no "vmgw apply", no daemon yet.
vmgw_log "building topology (lab $LAB_ID, nothing applied)"
vmgw_topology_up
vmgw_servers_up
vmgw_udhcpc_script >/dev/null
# The names the walkthrough uses (globals of the eval'd commands).
L=$VMGW_LAB GW=$NS_GW WEB=$NS_WEB DB=$NS_DB INET=$NS_INET
export L GW WEB DB INET
cd "$VMGW_SOURCE_DIR"

walkthrough_parse_comment "$self"
((${#WALK_CMD[@]} > 10)) || vmgw_die "could not parse the walkthrough (${#WALK_CMD[@]} steps)"
walkthrough_run 120

assert "the daemon of the walkthrough is running" vmgw_daemon_running
# The cleanup kills the daemon the walkthrough started: bash need not report it.
disown -a 2>/dev/null || true
vmgw_test_end
