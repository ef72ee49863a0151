#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end, the status page (docs/status-page.md) in a real headless Chromium: vmgwd runs in
# the lab with `status: {listen: 127.0.0.1:8089}`, and the browser runs inside the gateway's
# namespace (ip netns exec), the only place that address exists. Through the page:
#   - a VM added through the API appears within 2 s, without a reload;
#   - isp1's link going down turns its row red within 2 s;
#   - the page logs no console error (the browser's own log);
# and over plain HTTP: the TCP listener serves the page's routes and nothing of the API; the API
# socket serves the page too; without the config's status section vmgwd listens on no TCP port.
# A screenshot is kept (its path is printed).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=uplinks.sh
source "$(dirname "${BASH_SOURCE[0]}")/uplinks.sh"

# Debian's python3 (with python3-selenium), whatever python3 comes first in PATH.
PYTHON=/usr/bin/python3
vmgw_require_env curl jq chromium chromedriver
"$PYTHON" -c 'import selenium' 2>/dev/null || vmgw_skip "missing python3-selenium"
vmgw_test_begin status_page
vmgw_require_daemon
T=$VMGW_LAB/tmp
ARTEFACTS=${VMGW_TEST_ARTEFACTS:-$PWD/artefacts}
mkdir -p "$ARTEFACTS"
PAGE=http://127.0.0.1:8089/status

config=$T/daemon.yaml
{ cat "$VMGW_DAEMON_CONFIG"; printf 'status:\n  listen: 127.0.0.1:8089\n'; } >"$config"
vmgw_daemon_lab_up "$config" || vmgw_die "the daemon did not come up"

# tcp METHOD PATH: the HTTP status of one request to the TCP listener, from the gateway's
# namespace.
tcp() {
  ip netns exec "$NS_GW" curl -s -o "$T/tcp.body" -w '%{http_code}' --max-time 10 -X "$1" \
    "http://127.0.0.1:8089$2" || true
}
is() { [[ $1 == "$2" ]] || { echo "  got '$1', expected '$2'"; return 1; }; }

assert "TCP: GET /status is the page" is "$(tcp GET /status)" 200
assert "TCP: GET /status/data is the page's JSON" is "$(tcp GET /status/data)" 200
assert "  ...with the uplinks" is "$(jq -r '[.uplinks[].name] | join(",")' "$T/tcp.body")" isp1,isp2
assert "TCP: the API is not there (GET /v1/vms)" is "$(tcp GET /v1/vms)" 404
assert "TCP: no change (POST /v1/vms)" is "$(tcp POST /v1/vms)" 405
vmgw_http GET /status
assert "the API socket serves the page too" is "$HTTP_STATUS" 200

# The browser, as a coprocess in the gateway's namespace (status_page_browser.py's commands).
mkdir -p "$T/browser"
coproc BROWSER {
  HOME=$T/browser ip netns exec "$NS_GW" "$PYTHON" \
    "$VMGW_SOURCE_DIR/tests/netns/tools/status_page_browser.py" "$T/browser" 2>"$T/browser/stderr"
}
# Our own copies of the coprocess' pipes and pid: bash unsets its variables when it exits, and a
# browser that died must fail the assertions, not the shell (no SIGPIPE: a write just fails).
exec {TO_BROWSER}>&"${BROWSER[1]}" {FROM_BROWSER}<&"${BROWSER[0]}"
BROWSER_PROC=$BROWSER_PID
trap '' PIPE
# browser CMD ARGS...: one command; its answer in ANSWER ("no answer" after 60 s or a crash).
browser() {
  local line
  printf -v line '%q ' "$@"
  ANSWER="no answer"
  { echo "$line" >&"$TO_BROWSER"; } 2>/dev/null || return 0
  IFS= read -r -t 60 ANSWER <&"$FROM_BROWSER" || ANSWER="no answer"
}
answered() { [[ $ANSWER == ok* ]] || { echo "  browser: $ANSWER"; return 1; }; }
# within SECONDS: the last answer was "ok MS" with MS under SECONDS.
within() {
  if [[ $ANSWER == ok* ]] && (( ${ANSWER#ok } <= $1 * 1000 )); then return 0; fi
  echo "  browser: $ANSWER"
  return 1
}
# shows TEXT...: the last answer (an element's text) holds every TEXT.
shows() {
  local t
  for t in "$@"; do
    [[ $ANSWER == *"$t"* ]] || { echo "  '$t' not in: $ANSWER"; return 1; }
  done
}

IFS= read -r -t 60 ANSWER <&"$FROM_BROWSER" || ANSWER="no answer"
if [[ $ANSWER != ready ]]; then
  tail -n 20 "$T/browser/stderr" "$T/browser/chromedriver.log" 2>/dev/null || true
  vmgw_die "Chromium did not start: $ANSWER"
fi
browser open "$PAGE"
assert "Chromium opens $PAGE" answered
browser wait_present "#uplink-isp1.up" 5
assert "  ...which shows isp1 up" answered
browser wait_style "#uplink-isp1 td.state" background-color "rgb(46, 125, 50)" 2
assert "  ...in green" answered
browser wait_present "#plot-isp1 polyline, #plot-isp1 svg" 5
assert "  ...with isp1's plot" answered
browser text "#networks"
assert "  ...and the networks" shows vmnet br-vm lan lan0

vmgwc vm add web1 --network vmnet --mac "$LAB_WEB_MAC" --ip "$LAB_WEB_IP" --port vnet-web >/dev/null
browser wait_present "#vm-web1" 2
assert "a VM added through the API is on the page within 2 s ($ANSWER ms)" within 2
browser text "#vm-web1"
assert "  ...with its address" shows "$LAB_WEB_IP" "$LAB_WEB_MAC" vmnet
browser wait_present "#changes tbody tr td" 3
browser text "#changes"
assert "  ...and in the recent changes" shows "vm/web1 add"

uplinks_cut isp1
browser wait_style "#uplink-isp1 td.state" background-color "rgb(198, 40, 40)" 2
assert "isp1's link down: its row is red within 2 s ($ANSWER ms)" within 2
browser text "#uplink-isp1"
assert "  ...and says down" shows down
browser wait_present "#changes tbody tr:nth-child(2)" 2
browser text "#changes"
assert "  ...and the recent changes say so" shows "uplink/isp1 down"

shot=$ARTEFACTS/status-page.png
browser screenshot "$shot"
assert "a screenshot is kept" test -s "$shot"
echo "screenshot: $shot"
browser console_errors
assert "the page logged no console error" is "$ANSWER" "ok 0 "
browser quit
# Chromium gone before the lab goes (else the lab's cleanup kills it mid-way, noisily).
vmgw_wait_for 20 not kill -0 "$BROWSER_PROC" || vmgw_log "the browser did not quit within 20 s"

# Without a status section vmgwd listens on no TCP port at all (the page stays on the socket).
vmgw_daemon_stop || true
vmgw_daemon_up || vmgw_die "the daemon did not come up without a status section"
vmgwd_tcp() { ip netns exec "$NS_GW" ss -Hltnp | grep "pid=$VMGWD_PID," || true; }
assert "no status section: vmgwd listens on no TCP port" is "$(vmgwd_tcp)" ""
# The same look finds vmgwd's API socket: it would see a listener if there were one.
vmgwd_unix() { ip netns exec "$NS_GW" ss -Hlxp | grep "pid=$VMGWD_PID," >/dev/null; }
assert "  ...while ss does see vmgwd listening on its API socket" vmgwd_unix
vmgw_test_end
