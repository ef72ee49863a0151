#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# docs/errors.md is executable: every example in it is run here, against the real vmgw and a
# real vmgwd in a lab, and what vmgw says must be exactly what the page says (messages, HTTP
# status and body, exit code). A message changed in the code without the page, or the page
# without the code, fails this test.
#
# An example is an HTML comment "<!-- example: KIND exit=N -->" (or "status=N" for api)
# followed by two fenced blocks: the input, then the expected output.
#   check   a YAML file, run as `vmgw check -f vmgw.yaml`; expected: stderr
#   filter  an nwfilter XML file, run as `vmgw filter define filter.xml`; expected: stderr
#   cli     one `vmgw ...` command line (plain words); expected: stderr
#   api     "METHOD PATH" then the body; expected: the response body
# Lines of a "<!-- setup -->" block are vmgw commands run, in order, before the examples.
#
# VMGW_ERRORS_DOC_PRINT=1 prints what vmgw says for each example instead of comparing (to write
# a new example: add it with an empty expected block, run this, read the output, paste it).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

doc=$VMGW_SOURCE_DIR/docs/errors.md
[[ -f $doc ]] || vmgw_die "no $doc"

vmgw_test_begin errors-doc
vmgw_require_daemon
vmgw_daemon_lab_up || vmgw_die "the daemon did not come up"

work=$VMGW_LAB/tmp/examples
mkdir -p "$work"

# Split the page into examples: $work/N.kind ("check exit=1"), N.in, N.want; and setup.sh.
awk -v dir="$work" '
  /^<!-- setup -->$/ { mode = "setup"; next }
  /^<!-- example: / { n++; sub(/^<!-- example: /, ""); sub(/ -->$/, "");
                      print > (dir "/" n ".kind"); mode = "in"; next }
  /^```/ {
    if (!fence) { fence = 1
      file = (mode == "setup") ? dir "/setup.sh" : (mode == "in") ? dir "/" n ".in" \
             : (mode == "want") ? dir "/" n ".want" : ""
      if (file != "") printf "" > file
      next }
    fence = 0
    if (mode == "in") mode = "want"; else mode = ""
    next }
  fence && file != "" { print >> file }
' "$doc"

# Setup commands: the state the examples rely on (a VM, a filter bound to it...), run from
# docs/ so that the files they name are the page's own.
[[ -f $work/setup.sh ]] || vmgw_die "the page has no setup block"
while read -r -a words; do
  [[ ${#words[@]} -gt 0 && ${words[0]} == vmgw ]] || continue
  (cd "$VMGW_SOURCE_DIR/docs" && vmgwc "${words[@]:1}") >/dev/null ||
    vmgw_die "setup failed: ${words[*]}"
done <"$work/setup.sh"

count=0
for kind_file in $(find "$work" -name "*.kind" | sort -V); do
  n=$(basename "$kind_file" .kind)
  read -r kind expect <"$kind_file"
  want_rc=${expect#*=}
  got_err=$work/$n.got
  rc=0
  case $kind in
    check)
      cp "$work/$n.in" "$work/vmgw.yaml"
      (cd "$work" && timeout 30 "$VMGW_BIN" check -f vmgw.yaml) >/dev/null 2>"$got_err" || rc=$?
      ;;
    filter)
      cp "$work/$n.in" "$work/filter.xml"
      (cd "$work" && vmgwc filter define filter.xml) >/dev/null 2>"$got_err" || rc=$?
      ;;
    cli)
      read -r -a words <"$work/$n.in"
      [[ ${words[0]} == vmgw ]] || vmgw_die "example $n: a cli example starts with vmgw"
      if [[ " ${words[*]} " == *" --socket "* ]]; then
        (cd "$work" && timeout 30 ip netns exec "$NS_GW" "$VMGW_BIN" "${words[@]:1}") \
          >/dev/null 2>"$got_err" || rc=$?
      else
        (cd "$work" && vmgwc "${words[@]:1}") >/dev/null 2>"$got_err" || rc=$?
      fi
      ;;
    api)
      read -r method path <"$work/$n.in"
      body=$(tail -n +2 "$work/$n.in")
      if [[ -n $body ]]; then vmgw_http "$method" "$path" "$body"; else vmgw_http "$method" "$path"; fi
      rc=$HTTP_STATUS
      printf '%s\n' "$HTTP_BODY" >"$got_err"
      ;;
    *) vmgw_die "example $n: unknown kind '$kind'" ;;
  esac
  count=$((count + 1))
  if [[ -n ${VMGW_ERRORS_DOC_PRINT:-} ]]; then
    echo "=== example $n ($kind): exit/status $rc"
    cat "$got_err"
    continue
  fi
  # Compare exactly (trailing newlines aside).
  same=0
  [[ "$(cat "$got_err")" == "$(cat "$work/$n.want")" ]] && same=1
  assert "example $n ($kind: $(head -n 1 "$work/$n.in" | cut -c1-60)): exit/status $want_rc" \
    test "$rc" = "$want_rc"
  assert "example $n: the message is the one the page shows" test "$same" = 1
  ((same)) || diff "$work/$n.want" "$got_err" >&2 || true
done
# Every example of the page ran: as many as it has "<!-- example:" markers, each with its input
# and its expected output (an example the split lost, or one without its blocks, fails here).
markers=$(grep -c '^<!-- example: ' "$doc")
complete=0
for ((i = 1; i <= markers; i++)); do
  [[ -f $work/$i.kind && -f $work/$i.in && -f $work/$i.want ]] && complete=$((complete + 1))
done
assert "every example of the page ran: $count of its $markers, $complete with input and output" \
  test "$count" = "$markers" -a "$complete" = "$markers" -a "$markers" -gt 0

vmgw_test_end
