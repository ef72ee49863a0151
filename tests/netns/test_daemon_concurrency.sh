#!/usr/bin/env bash
# Helper functions here run through assert, which shellcheck cannot follow:
# shellcheck disable=SC2317
# End to end: 100 concurrent "vmgw eip allocate" against a pool of exactly 50 addresses. The
# daemon serves requests one at a time, so exactly 50 must succeed with 50 distinct addresses
# and exactly 50 must be refused as conflicts (exit 6, "pool ... exhausted"); nothing is
# allocated twice, and the store holds the same 50 after a restart.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_require_env jq
vmgw_test_begin daemon_concurrency
vmgw_require_daemon

T=$VMGW_LAB/tmp
POOL_FIRST=203.0.113.100
POOL_LAST=203.0.113.149   # 50 addresses
CLIENTS=100

# examples/daemon.yaml with its /28 pool replaced by a range of exactly 50 addresses.
config=$T/daemon-50.yaml
sed -E "s#^( *)cidr: 203\.0\.113\.16/28.*#\1range: $POOL_FIRST-$POOL_LAST#" "$VMGW_DAEMON_CONFIG" >"$config"
grep -E "^ *range: $POOL_FIRST-$POOL_LAST$" "$config" >/dev/null || vmgw_die "could not rewrite the pool in $config"

vmgw_daemon_lab_up "$config"

# The clients wait for a common start signal (bounded: 10 s), then all ask at once.
mkdir -p "$T/clients"
for i in $(seq 1 "$CLIENTS"); do
  (
    for _ in $(seq 1 1000); do [[ -e $T/go ]] && break; sleep 0.01; done
    rc=0
    vmgwc -o json eip allocate >"$T/clients/$i.out" 2>"$T/clients/$i.err" || rc=$?
    echo "$rc" >"$T/clients/$i.rc"
  ) &
done
sleep 0.5
vmgw_log "$CLIENTS clients: go"
start=$SECONDS
touch "$T/go"
wait   # every client is bounded by vmgwc's timeout
vmgw_log "all clients done in $((SECONDS - start)) s"

count_rc() { cat "$T"/clients/*.rc | grep -cx "$1" || true; }
ok_count=$(count_rc 0)
conflict_count=$(count_rc 6)
rc_count=$(cat "$T"/clients/*.rc | wc -l)
assert "every client finished ($rc_count of $CLIENTS)" test "$rc_count" -eq "$CLIENTS"
assert "exactly 50 allocations succeed (got $ok_count)" test "$ok_count" -eq 50
assert "exactly 50 are refused with exit 6 (got $conflict_count)" test "$conflict_count" -eq 50
others=$(cat "$T"/clients/*.rc | grep -vx -e 0 -e 6 | sort | uniq -c | tr -s ' \n' ' ') || true
assert "no other exit code (${others:-none})" test -z "$others"

# The addresses the 50 winners got.
allocated=$T/allocated
: >"$allocated"
for i in $(seq 1 "$CLIENTS"); do
  [[ $(cat "$T/clients/$i.rc") == 0 ]] || continue
  jq -r .address "$T/clients/$i.out" >>"$allocated" 2>/dev/null || echo "unparsable:$i" >>"$allocated"
done
sort -V "$allocated" -o "$allocated"
distinct=$(sort -u "$allocated" | wc -l)
dups=$(sort "$allocated" | uniq -d | tr '\n' ' ')
assert "50 distinct addresses handed out (got $distinct)" test "$distinct" -eq 50
assert "no address handed out twice (${dups:-none})" test -z "$dups"
expected=$T/expected
for n in $(seq 100 149); do echo "203.0.113.$n"; done >"$expected"
assert "the 50 addresses are exactly the pool $POOL_FIRST-$POOL_LAST" diff -u "$expected" "$allocated"

# The 50 losers: a conflict naming the exhausted pool, nothing on stdout.
exhausted=0
for i in $(seq 1 "$CLIENTS"); do
  [[ $(cat "$T/clients/$i.rc") == 6 ]] || continue
  grep -E "pool .*exhausted" "$T/clients/$i.err" >/dev/null && [[ ! -s $T/clients/$i.out ]] &&
    exhausted=$((exhausted + 1))
done
assert "the 50 refusals say 'pool ... exhausted' (got $exhausted)" test "$exhausted" -eq 50
example=$(grep -h . "$T"/clients/*.err | head -n 1) || true
echo "  (a refusal reads: $example)"

# What the daemon holds.
listed=$T/listed
vmgwc -o json eip list | jq -r '.[].address' | sort -V >"$listed"
assert "eip list shows the same 50 addresses" diff -u "$allocated" "$listed"
assert "status: 50 allocated" test "$(vmgwc -o json status | jq -r .counts.elastic_ips_allocated)" = 50
assert "generation is 50: one per successful allocation, none for a refusal" \
  test "$(vmgw_generation)" = 50
created=$(grep -c 'POST /v1/eips -> 201' "$VMGWD_LOG" || true)
conflicts=$(grep -c 'POST /v1/eips -> 409' "$VMGWD_LOG" || true)
assert "the daemon logged 50 x 201 and 50 x 409 (got $created, $conflicts)" \
  test "$created:$conflicts" = 50:50
assert "one more allocation is refused (exit 6)" not vmgwc eip allocate 2>/dev/null
rc=0; vmgwc eip allocate >/dev/null 2>&1 || rc=$?
assert "  ...with exit 6 (got $rc)" test "$rc" = 6

# The store is the truth: a crash and a restart find the same 50.
vmgw_daemon_kill9
vmgw_daemon_up "$config"
vmgwc -o json eip list | jq -r '.[].address' | sort -V >"$listed"
assert "after kill -9 and restart, eip list shows the same 50" diff -u "$allocated" "$listed"
assert "after restart, generation still 50" test "$(vmgw_generation)" = 50

vmgw_test_end
