#!/usr/bin/env bash
# End to end: docs/uplinks.md's walkthrough, exactly as a new user types it (every "$ " line of
# its walkthrough blocks is run in order, in one shell, and each indented line under it must be
# in that command's output). A change of the product that the page does not follow, or of the
# page that the product does not do, fails here.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=uplinks.sh
source "$(dirname "${BASH_SOURCE[0]}")/uplinks.sh"
# shellcheck source-path=SCRIPTDIR source=walkthrough.sh
source "$(dirname "${BASH_SOURCE[0]}")/walkthrough.sh"

vmgw_require_env jq
vmgw_test_begin uplinks_walkthrough
vmgw_require_daemon
uplinks_require_tools

# What `eval "$(lab/vmgw-lab up --bare)"; export VMGW_LAB_DIR=$L` gives the reader.
vmgw_log "building topology (lab $LAB_ID, nothing applied)"
vmgw_topology_up
vmgw_servers_up
vmgw_udhcpc_script >/dev/null
L=$VMGW_LAB GW=$NS_GW WEB=$NS_WEB DB=$NS_DB INET=$NS_INET ISP=$NS_ISP ISP2=$NS_ISP2 LAN=$NS_LAN
VMGW_LAB_DIR=$VMGW_LAB
export L GW WEB DB INET ISP ISP2 LAN VMGW_LAB_DIR VMGW_BIN VMGW_TEST_FLOWS
cd "$VMGW_SOURCE_DIR"

walkthrough_parse_markdown docs/uplinks.md
((${#WALK_CMD[@]} >= 15)) || vmgw_die "could not parse the walkthrough (${#WALK_CMD[@]} steps)"
walkthrough_run 120

assert "the daemon of the walkthrough is running" vmgw_daemon_running
disown -a 2>/dev/null || true
vmgw_test_end
