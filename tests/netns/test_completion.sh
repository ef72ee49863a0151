#!/usr/bin/env bash
# The bash completion (dist/bash-completion/vmgw, installed as
# /usr/share/bash-completion/completions/vmgw): its function run in bash with COMP_WORDS set, as
# bash runs it on TAB. Verbs and options are those of `vmgw --help`; VM, filter, elastic IP and
# network names come from a running lab daemon through the --socket on the command line; with no
# daemon answering, no name is offered (and the completion does not hang).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

completion=$VMGW_SOURCE_DIR/dist/bash-completion/vmgw
[[ -f $completion ]] || vmgw_die "no $completion"
vmgw_test_begin completion
vmgw_require_daemon
vmgw_daemon_lab_up || vmgw_die "the daemon did not come up"
vmgwc vm add web --network vmnet --mac "$LAB_WEB_MAC" --port vnet-web >/dev/null
vmgwc vm add db --network vmnet --mac "$LAB_DB_MAC" --port vnet-db >/dev/null
eip=$(vmgwc -o json eip allocate | jq -r .address)

# complete WORD...: what the completion offers for the command line WORD... (the last word is
# the one being completed), one a line, sorted.
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _vmgw; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$completion" "$VMGW_BIN" "$@" | sed '/^$/d' | sort
}
S=(--socket "$VMGW_SOCKET")
# shellcheck disable=SC2317  # called through assert
offers() {  # offers "WANTED..." WORD...: the completion offers exactly WANTED (sorted, spaces)
  local want=$1 got
  shift
  got=$(complete_words "$@" | paste -sd' ' -)
  [[ $got == "$want" ]] || { echo "    offered: '$got'"; return 1; }
}

verbs=$("$VMGW_BIN" --help | awk '/^Subcommands:/ { s = 1; next } s && /^  [a-z]/ { print $1 }' | sort | paste -sd' ' -)
assert "vmgw <TAB>: every verb of vmgw --help ($verbs)" offers "$verbs" ""
assert "vmgw vm <TAB>: vm's verbs" offers "add filter list quarantine remove set show unquarantine" vm ""
assert "vmgw f<TAB>: filter forward" offers "filter forward" f
got=$(complete_words vm add web --)
assert "vmgw vm add web --<TAB>: its options and the global ones" \
  bash -c "for o in --network --mac --ip --port --filter --param --eip --socket --output; do grep -qx -- \$o <<<'$got' || exit 1; done"
assert "vmgw -o <TAB>: text json" offers "json text" -o ""
assert "vmgw log -f --<TAB>: -f is log's flag, not a file" offers "--follow --for" log -f --f
assert "vmgw vm show <TAB>: the daemon's VMs" offers "db web" "${S[@]}" vm show ""
assert "vmgw vm show w<TAB>: web" offers "web" "${S[@]}" vm show w
assert "vmgw vm add x --network <TAB>: the networks" offers "lan vmnet" "${S[@]}" vm add x --network ""
assert "vmgw eip bind <TAB>: the elastic IP" offers "$eip" "${S[@]}" eip bind ""
assert "vmgw eip bind EIP <TAB>: the VMs" offers "db web" "${S[@]}" eip bind "$eip" ""
assert "vmgw log --vm <TAB>: the VMs" offers "db web" "${S[@]}" log --vm ""
got=$(complete_words "${S[@]}" filter dumpxml "")
assert "vmgw filter dumpxml <TAB>: the filters (clean-traffic among them)" grep -qx clean-traffic <<<"$got"
start=$SECONDS
assert "no daemon on the socket: no name" offers "" --socket "$VMGW_LAB/run/none.sock" vm show ""
assert "no daemon on the socket: verbs still" offers "add filter list quarantine remove set show unquarantine" \
  --socket "$VMGW_LAB/run/none.sock" vm ""
assert "no daemon: answered at once ($((SECONDS - start)) s)" test $((SECONDS - start)) -le 3
vmgw_test_end
