#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end (issue 16): a host's /etc/libvirt/nwfilter copied over. `vmgw filter import` of
# libvirt's 24 shipped files changes nothing; a directory whose filters reference each other in
# the wrong name order is defined referenced-first; a bad file is refused on its own, naming it;
# a different content for a built-in replaces it (dumpxml and list show it, the VM using it is
# updated) and undefining it brings the built-in back.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin filter_import
vmgw_require_daemon
T=$VMGW_LAB/tmp
LIBVIRT=$VMGW_SOURCE_DIR/tests/filter/libvirt
vmgw_daemon_lab_up

rc_ok() { "$@" >"$T/out" 2>"$T/err" || { echo "  exit $?: $(cat "$T/out" "$T/err")"; return 1; }; }
rc_is() { local want=$1 rc=0; shift; "$@" >"$T/out" 2>"$T/err" || rc=$?; ((rc == want)) || { echo "  exit $rc, want $want: $(cat "$T/out" "$T/err")"; return 1; }; }
out_has() { grep -F -- "$1" "$T/out" >/dev/null || { echo "  no '$1' in: $(cat "$T/out")"; return 1; }; }
generation_is() { [[ $(vmgw_generation) == "$1" ]] || { echo "  generation $(vmgw_generation), want $1"; return 1; }; }

assert "vm add web --filter clean-traffic" rc_ok vmgwc vm add web --network vmnet \
  --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web --filter clean-traffic
generation=$(vmgw_generation)

assert "filter import of libvirt's shipped files" rc_ok vmgwc filter import "$LIBVIRT"
assert "  clean-traffic is unchanged" \
  out_has "$LIBVIRT/clean-traffic.xml: filter clean-traffic unchanged"
assert "  all 24 are" out_has "24 filters: 24 unchanged"
assert "  nothing was applied" generation_is "$generation"

# a-top references z-base: in name order it would come first and be refused.
mkdir -p "$T/nwfilter"
cat >"$T/nwfilter/a-top.xml" <<'EOF'
<filter name='a-top' chain='root'>
  <uuid>0a3c7f0e-7d0f-4c6b-9a49-2a4f9c0b5e11</uuid>
  <filterref filter='z-base'/>
  <rule action='accept' direction='in' priority='100'><tcp dstportstart='$PORTS[ @1 ]'/></rule>
</filter>
EOF
cat >"$T/nwfilter/z-base.xml" <<'EOF'
<filter name='z-base' chain='root'>
  <filterref filter='clean-traffic'/>
</filter>
EOF
printf "<filter name='bad'>\n  <rule action='allow' direction='in'/>\n</filter>\n" >"$T/nwfilter/bad.xml"
assert "filter import of a directory with a bad file exits 1" \
  rc_is 1 vmgwc filter import "$T/nwfilter"
assert "  z-base is defined" out_has "$T/nwfilter/z-base.xml: filter z-base defined"
assert "  a-top after it" out_has "$T/nwfilter/a-top.xml: filter a-top defined"
assert "  bad.xml is refused, naming the file and the field" \
  out_has "$T/nwfilter/bad.xml: refused: line 2: filter[name=bad]/rule[1]@action: bad action 'allow'"
assert "  the count" out_has "3 filters: 2 defined, 1 refused"
assert "dumpxml writes \$PORTS[ @1 ] as libvirt does" rc_ok vmgwc filter dumpxml a-top
assert "  \$PORTS[@1]" out_has "dstportstart='\$PORTS[@1]'"

# no-ip-spoofing without its DHCP exception replaces the built-in; web (clean-traffic) follows.
sed "s/protocol='udp'/protocol='tcp'/" "$LIBVIRT/no-ip-spoofing.xml" >"$T/no-ip-spoofing.xml"
assert "filter import of a changed built-in" rc_ok vmgwc filter import "$T/no-ip-spoofing.xml"
assert "  says it replaces the built-in, and how it differs" \
  out_has "filter no-ip-spoofing defined: it replaces the built-in 'no-ip-spoofing' (rule[1]: protocol 'tcp' instead of 'udp')"
assert "  the VM using it is updated" out_has "rules of vm web updated in one transaction"
assert "dumpxml shows the replacement" rc_ok vmgwc filter dumpxml no-ip-spoofing
assert "  protocol tcp" out_has "protocol='tcp'"
assert "filter list marks it replaced" rc_ok vmgwc filter list
replaced() { grep -E "^no-ip-spoofing +.* replaced " "$T/out" >/dev/null || { echo "  $(grep no-ip-spoofing "$T/out")"; return 1; }; }
assert "  replaced" replaced
assert "undefine brings the built-in back" rc_ok vmgwc filter undefine no-ip-spoofing
assert "  says so" out_has "the built-in 'no-ip-spoofing' is back"
assert "dumpxml shows the built-in again" rc_ok vmgwc filter dumpxml no-ip-spoofing
assert "  protocol udp" out_has "protocol='udp'"
assert "undefining the built-in itself is refused" rc_is 6 vmgwc filter undefine no-ip-spoofing

vmgw_test_end
