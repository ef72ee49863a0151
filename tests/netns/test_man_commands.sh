#!/usr/bin/env bash
# The man pages say what the binaries do: vmgw(8) (docs/man/vmgw.8.md) lists every verb of
# `vmgw --help`, down to the last sub-verb, each with every option and the arguments its --help
# prints, and nothing the CLI does not have; vmgwd(8) lists every option of `vmgwd --help`. A
# verb or an option added without its man page entry (or removed with the entry left) fails here.
# Needs neither root nor a lab: it only runs --help.
#
# In the Markdown, a verb's entry is a line "**vmgw VERB...** *ARG*... [**\--option** *VALUE*]...";
# the global options and vmgwd's are the "**-x**, **\--long**" terms of their OPTIONS section.
# With pandoc installed, the three pages are also made as the build makes them and must render
# without a groff warning at 80 columns.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_binary
vmgw_require_daemon
man_vmgw=$VMGW_SOURCE_DIR/docs/man/vmgw.8.md
man_vmgwd=$VMGW_SOURCE_DIR/docs/man/vmgwd.8.md
[[ -f $man_vmgw && -f $man_vmgwd ]] || vmgw_die "no docs/man/vmgw.8.md or vmgwd.8.md"
TEST_FAILS=0 TEST_PASSES=0
work=$(mktemp -d /tmp/vmgw-man.XXXXXX)
trap 'rm -rf -- "$work"' EXIT

# The parts of one --help: sections "Subcommands:", "Options:", "Positionals:".
section() { awk -v t="$1" '$0 == t { s = 1; next } /^[A-Z][A-Za-z]*:/ { s = 0 } s'; }
# Options as "NAME[,NAME]" (help excluded), one a line.
help_options() { section "Options:" | awk '/^  -/ && $1 != "-h,--help" { print $1 }'; }

# 1. The CLI: every leaf verb, its options and its positionals.
: >"$work/cli.verbs"
walk() {
  local help subs s
  help=$("$VMGW_BIN" "$@" --help)
  subs=$(section "Subcommands:" <<<"$help" | awk '/^  [a-z]/ { print $1 }')
  if [[ -z $subs ]]; then
    echo "$*" >>"$work/cli.verbs"
    help_options <<<"$help" >"$work/cli.opts.$*"
    section "Positionals:" <<<"$help" | awk '/^  [a-z]/ { print toupper($1) }' >"$work/cli.pos.$*"
    return
  fi
  for s in $subs; do walk "$@" "$s"; done
}
walk
(($(wc -l <"$work/cli.verbs") > 20)) || vmgw_die "could not read the verbs of vmgw --help"

# 2. The man page's entries: verb, options (normalized to --x / -x), leading *ARGS*.
grep -E '^\*\*vmgw [a-z]' "$man_vmgw" >"$work/man.lines" || true
: >"$work/man.verbs"
while IFS= read -r line; do
  verb=$(sed -E 's/^\*\*vmgw ([a-z -]+)\*\*.*/\1/' <<<"$line")
  echo "$verb" >>"$work/man.verbs"
  rest=${line#"**vmgw $verb**"}
  grep -oE '\*\*(\\-)?-[a-z][a-z-]*\*\*' <<<"$rest" | sed -E 's/\*\*//g; s/\\-/-/' \
    | sort -u >"$work/man.opts.$verb" || true
  # The arguments: the *WORD*s before the first option.
  sed -E 's/\[?\*\*(\\-)?-.*//' <<<"$rest" | grep -oE '\*[A-Z][A-Z_]*\*' | tr -d '*' \
    >"$work/man.pos.$verb" || true
done <"$work/man.lines"

# 3. Compare. Each CLI option must appear by one of its names; each man option must be a name of
# a CLI option of that verb.
compare_options() {  # compare_options WHAT CLI_OPTS_FILE MAN_OPTS_FILE
  local what=$1 cli=$2 man=$3 o names missing="" extra="" n
  while IFS= read -r names; do
    local found=0
    for n in ${names//,/ }; do grep -qxF -- "$n" "$man" && found=1; done
    ((found)) || missing+=" $names"
  done <"$cli"
  while IFS= read -r o; do
    tr ',' '\n' <"$cli" | grep -qxF -- "$o" || extra+=" $o"
  done <"$man"
  assert "$what: every option is in the man page${missing:+ (missing:$missing)}" test -z "$missing"
  assert "$what: the man page has no option the CLI lacks${extra:+ (not in the CLI:$extra)}" test -z "$extra"
}

missing=$(sort "$work/cli.verbs" | comm -23 - <(sort "$work/man.verbs") | paste -sd, -)
extra=$(sort "$work/man.verbs" | comm -13 <(sort "$work/cli.verbs") - | paste -sd, -)
assert "vmgw(8) lists every verb of vmgw --help ($(wc -l <"$work/cli.verbs") verbs)${missing:+; missing: $missing}" test -z "$missing"
assert "vmgw(8) lists no verb vmgw lacks${extra:+; not in the CLI: $extra}" test -z "$extra"
while IFS= read -r verb; do
  [[ -f $work/man.opts.$verb ]] || continue
  compare_options "vmgw $verb" "$work/cli.opts.$verb" "$work/man.opts.$verb"
  assert "vmgw $verb: arguments $(paste -sd' ' "$work/cli.pos.$verb")" \
    diff -q "$work/cli.pos.$verb" "$work/man.pos.$verb"
done <"$work/cli.verbs"

# The global options, and vmgwd's: the "**-x**, **\--long**" terms of the OPTIONS section.
man_section_options() {
  awk '/^## OPTIONS$/ { s = 1; next } /^## / { s = 0 } s && /^\*\*(\\)?-/' "$1" \
    | grep -oE '\*\*(\\-)?-[a-z][a-z-]*\*\*' | sed -E 's/\*\*//g; s/\\-/-/' | sort -u
}
"$VMGW_BIN" --help | help_options >"$work/cli.opts.global"
man_section_options "$man_vmgw" | grep -vxE -- '-h|--help' >"$work/man.opts.global" || true
compare_options "vmgw (global options)" "$work/cli.opts.global" "$work/man.opts.global"
"$VMGWD_BIN" --help | help_options >"$work/cli.opts.vmgwd"
man_section_options "$man_vmgwd" | grep -vxE -- '-h|--help' >"$work/man.opts.vmgwd" || true
compare_options "vmgwd" "$work/cli.opts.vmgwd" "$work/man.opts.vmgwd"

# 4. Rendered as the build renders them (CMakeLists.txt, VMGW_MANPAGES): no groff warning.
if command -v pandoc >/dev/null && command -v man >/dev/null; then
  for page in "vmgw.8:docs/man/vmgw.8.md" "vmgwd.8:docs/man/vmgwd.8.md" \
    "vmgw.yaml.5:docs/man/vmgw.yaml.5.md docs/config.md"; do
    out=$work/${page%%:*}
    # shellcheck disable=SC2086  # the list of sources
    (cd "$VMGW_SOURCE_DIR" && pandoc -s -f markdown-smart -t man --lua-filter docs/man/man.lua \
      -o "$out" ${page#*:})
    warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$out" 2>&1 >/dev/null || true)
    assert "${page%%:*} renders without a warning${warnings:+: $warnings}" test -z "$warnings"
  done
else
  echo "note: pandoc or man not installed: the rendering of the pages is not checked here"
fi
vmgw_test_end
