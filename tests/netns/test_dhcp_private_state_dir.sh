#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: dnsmasq drops root and reads its hosts file as an unprivileged user. When the state
# directory sits below a directory others cannot search (a 0700 parent, or a 0700 / in some
# chroots), vmgw keeps DHCP working by letting dnsmasq keep root, and says so in the apply
# summary, instead of silently answering "no address available". Normal state directories keep
# the unprivileged user (checked too).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_test_begin dhcp_private_state_dir
private=$VMGW_LAB/private
mkdir -p "$private"
chmod 700 "$private"

vmgw_topology_up
apply_private() {
  timeout 60 ip netns exec "$NS_GW" "$VMGW_BIN" apply -f "$VMGW_LAB_CONFIG" \
    --state-dir "$private/state" --run-dir "$private/run" >"$VMGW_LAB/tmp/apply.out" 2>&1
}
assert "apply with a state dir below a 0700 directory succeeds" apply_private
warned() { grep -q "dhcp vmnet started as root (warning: $private (mode 0700) is not searchable by others" "$VMGW_LAB/tmp/apply.out"; }
assert "the summary says dnsmasq keeps root and why" warned
dnsmasq_user() { ps -o user= -p "$(cat "$1/dnsmasq-vmnet.pid")" 2>/dev/null | tr -d ' '; }
as_root() { [[ $(dnsmasq_user "$private/run") == root ]]; }
assert "dnsmasq runs as root there" as_root
web_leased() { vmgw_dhcp "$NS_WEB" && [[ $(vmgw_ipv4_of "$NS_WEB") == "$LAB_WEB_IP" ]]; }
assert "web still gets its reservation $LAB_WEB_IP" web_leased

# The usual state dir: dnsmasq gives up root as it should, if every directory above it is
# searchable by others (in some minimal chroots / itself is 0700: then root again, with the
# warning).
searchable_by_others() {
  local d=$1
  while :; do
    ((8#$(stat -c %a "$d") & 1)) || return 1
    [[ $d == / ]] && return 0
    d=$(dirname "$d")
  done
}
ip netns pids "$NS_GW" | xargs -r kill
vmgw_apply "$VMGW_LAB_CONFIG"
unprivileged() { local u; u=$(dnsmasq_user "$VMGW_LAB/run"); [[ -n $u && $u != root ]]; }
if searchable_by_others "$VMGW_LAB/state"; then
  assert "with a searchable state dir dnsmasq drops root" vmgw_wait_for 5 unprivileged
else
  warned_again() { grep -q "started as root (warning: " <<<"$APPLY_OUT"; }
  assert "an ancestor of $VMGW_LAB/state is not searchable: root again, with the warning" warned_again
fi

vmgw_test_end
