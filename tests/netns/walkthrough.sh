# shellcheck shell=bash
# Running a walkthrough of the docs as a test: every "$ " line is run as written (in order, in
# one shell; a trailing "\" continues a command), and every line indented under it must appear
# in that command's output (runs of spaces count as one). Two sources:
#   walkthrough_parse_comment FILE   "#   $ cmd" / "#     output" lines between
#                                    "# WALKTHROUGH BEGIN" and "# WALKTHROUGH END" (a test file
#                                    holding the README's walkthrough)
#   walkthrough_parse_markdown FILE  "$ cmd" / "  output" lines of the ```console blocks that
#                                    follow a "<!-- walkthrough -->" line (a page of docs/)
# then walkthrough_run [SECONDS] (a watchdog bounds the whole run, default 120 s).
# The caller sets the variables the commands use, and `cd`s where they expect to be.

WALK_CMD=(); WALK_EXPECT=()

_walk_line() {  # _walk_line TEXT KIND(cmd|out|cont)
  case $2 in
    cmd) WALK_CMD+=("${1%\\}"); WALK_EXPECT+=("") ;;
    cont) WALK_CMD[-1]+=" ${1%\\}" ;;
    out) WALK_EXPECT[-1]+="$1"$'\n' ;;
  esac
}

walkthrough_parse_comment() {
  local line in=0 cont=0 text
  while IFS= read -r line; do
    [[ $line == "# WALKTHROUGH BEGIN" ]] && { in=1; continue; }
    [[ $line == "# WALKTHROUGH END" ]] && break
    ((in)) || continue
    if ((cont)); then
      text=${line#"#"}; text=${text#"${text%%[![:space:]]*}"}
      _walk_line "$text" cont
      [[ $text == *\\ ]] || cont=0
    elif [[ $line == "#   \$ "* ]]; then
      text=${line#"#   \$ "}
      _walk_line "$text" cmd
      [[ $text == *\\ ]] && cont=1
    elif [[ $line == "#     "* && ${#WALK_CMD[@]} -gt 0 ]]; then
      _walk_line "${line#"#     "}" out
    fi
  done <"$1"
}

walkthrough_parse_markdown() {
  local line armed=0 in=0 cont=0 text
  while IFS= read -r line; do
    [[ $line == "<!-- walkthrough -->" ]] && { armed=1; continue; }
    if ((!in)); then
      [[ $line == '```console' ]] && ((armed)) && in=1
      continue
    fi
    [[ $line == '```' ]] && { in=0; armed=0; continue; }
    if ((cont)); then
      text=${line#"${line%%[![:space:]]*}"}
      _walk_line "$text" cont
      [[ $text == *\\ ]] || cont=0
    elif [[ $line == "\$ "* ]]; then
      text=${line#"\$ "}
      _walk_line "$text" cmd
      [[ $text == *\\ ]] && cont=1
    elif [[ $line == "  "* && ${#WALK_CMD[@]} -gt 0 ]]; then
      _walk_line "${line#"  "}" out
    fi
  done <"$1"
}

_walk_squeeze() { tr -s ' \t' '  '; }
# shellcheck disable=SC2317  # called through assert
_walk_has() { [[ $1 == *"$2"* ]]; }

walkthrough_run() {
  local limit=${1:-120} i cmd run rc deadline got want recorded_pid="" log_shown=0 watchdog
  local bindir
  bindir=$(dirname "$VMGW_BIN")
  # A watchdog bounds the walkthrough (a step such as "wait" could hang): it sends us SIGTERM,
  # the trap removes the lab. (Its sleep dies with it; it holds no output ctest would wait for.)
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$limit" & s=$!
    wait "$s" && kill -TERM $$
  ) >/dev/null 2>&1 &
  watchdog=$!
  for i in "${!WALK_CMD[@]}"; do
    cmd=${WALK_CMD[i]}
    # The binaries under test, wherever ctest built them.
    run=${cmd//build\/vmgwd/$bindir/vmgwd}
    run=${run//build\/vmgw /$bindir/vmgw }
    echo "\$ $cmd"
    deadline=$((SECONDS + 10))
    while :; do
      rc=0
      eval "$run" </dev/null >"$VMGW_LAB/tmp/step.out" 2>&1 || rc=$?
      # A daemon just started may not listen yet: retry "cannot reach" (exit 3) for up to 10 s.
      if ((rc != 3 || SECONDS >= deadline)) || [[ $cmd != vmgw\ * ]]; then break; fi
      sleep 0.2
    done
    sed 's/^/    /' "$VMGW_LAB/tmp/step.out"
    # Record the daemon's pid for the cleanup the moment the walkthrough knows it.
    if [[ -n ${vmgwd_pid:-} && $vmgwd_pid != "$recorded_pid" ]]; then
      recorded_pid=$vmgwd_pid
      VMGWD_PID=$vmgwd_pid
      echo "$vmgwd_pid" >>"$VMGW_LAB/pids"
    fi
    [[ $cmd == *"&" ]] && continue  # started in the background: nothing to check yet
    assert "step $((i + 1)): exit 0" test "$rc" = 0
    if ((rc != 0)) && [[ -n $recorded_pid && $cmd != kill* ]] && ! vmgw_daemon_running && ((!log_shown)); then
      log_shown=1
      echo "  (vmgwd $recorded_pid is not running; its log:)"
      sed 's/^/    | /' "$VMGW_LAB/vmgwd.log" 2>/dev/null || true
    fi
    got=$(_walk_squeeze <"$VMGW_LAB/tmp/step.out")
    while IFS= read -r want; do
      [[ -n $want ]] || continue
      want=$(_walk_squeeze <<<"$want")
      assert "step $((i + 1)): output has '$want'" _walk_has "$got" "$want"
    done <<<"${WALK_EXPECT[i]}"
  done
  kill "$watchdog" 2>/dev/null || true
}
