#!/usr/bin/env bash
# daemon.sh - jetsyncd as a real program: the schedule (--sync-every) syncs a region with the
# lead on its own, a failing peer is retried with back-off and shown as such by `status`,
# SIGTERM and SIGINT end it cleanly (exit 0), bad options are refused with one line.
# (pipefail is on: never pipe a command into `grep -q`, whose early exit would SIGPIPE it.)
set -uo pipefail
JS=${JETSYNC:?} JSD=${JETSYNCD:?}
W=$(mktemp -d /tmp/jetsync-daemon.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "ok   $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi; }
start() { # start HOME NAME [args...] -> sets $addr and $pid
  local home=$1 name=$2; shift 2
  "$JSD" --home "$home" --listen 127.0.0.1:0 "$@" >"$W/$name.out" 2>"$W/$name.log" & pid=$!
  pids+=("$pid"); addr=""
  for _ in $(seq 1 100); do addr=$(sed -n 's/^listening //p' "$W/$name.out" | head -1); [ -n "$addr" ] && break; sleep 0.1; done
}
wait_for() { # wait_for SECONDS COMMAND...
  local end=$((SECONDS + $1)); shift
  while [ $SECONDS -lt $end ]; do eval "$*" && return 0; sleep 0.3; done; return 1
}

export JETSYNC_LOG=info
"$JS" init --home "$W/L" --name Lead --region SE-Y --lead --network-key "$W/net" >/dev/null
"$JS" init --home "$W/A" --name A --region IT-25 --network-key "$W/net" >/dev/null
"$JS" peer add --home "$W/L" --name A --key "$("$JS" id --home "$W/A")" --role region
start "$W/L" lead; lead_pid=$pid; lead_addr=$addr
check "lead daemon prints its address" '[ -n "$lead_addr" ]'
"$JS" peer add --home "$W/A" --name lead --key "$("$JS" id --home "$W/L")" --role lead --addr "$lead_addr"
"$JS" toolkit publish --home "$W/A" "$JET_SOURCE_DIR/examples/toolkit/meglio-dopo-insieme.json" >/dev/null

# The region's daemon syncs on its own, every 2 s.
start "$W/A" region --sync-every 2s; region_pid=$pid
check "the region's schedule brings its entry to the lead" \
  'wait_for 20 "\"$JS\" toolkit list --home \"$W/L\" --json >\"$W/list.json\" && grep -q meglio-dopo-insieme \"$W/list.json\""'
check "the region's log says it synced" 'wait_for 10 "grep -q event=sync_ok \"$W/region.log\""'

# The lead goes away: the region backs off and says so.
kill -TERM "$lead_pid"; wait "$lead_pid"; rc=$?
check "SIGTERM stops the lead cleanly (exit 0)" '[ "$rc" = 0 ]'
check "the lead logged that it stopped" 'grep -q "event=stopped" "$W/lead.log"'
check "the region backs off after a failed sync" 'wait_for 20 "grep -q \"event=sync_failed.*retry_in_s=\" \"$W/region.log\""'
check "status shows the back-off and its reason" \
  'wait_for 10 "\"$JS\" status --home \"$W/A\" --json | python3 -c \"import json,sys; p=json.load(sys.stdin)[\\\"peers\\\"][0]; sys.exit(0 if p[\\\"state\\\"] in (\\\"backoff\\\",\\\"failed\\\") and p[\\\"last_error\\\"] else 1)\""'

kill -INT "$region_pid"; wait "$region_pid"; rc=$?
check "SIGINT stops the region's daemon cleanly (exit 0)" '[ "$rc" = 0 ]'

# Bad options: one line, non-zero.
check "bad --sync-at is refused" '! "$JSD" --home "$W/A" --sync-at 25:00 2>"$W/e" && [ "$(wc -l <"$W/e")" = 1 ] && grep -q "sync-at" "$W/e"'
check "bad --sync-every is refused" '! "$JSD" --home "$W/A" --sync-every soon 2>"$W/e" && grep -q "sync-every" "$W/e"'
check "a busy port is refused with the address" \
  'start "$W/L" lead2; a2=$addr; ! "$JSD" --home "$W/A" --listen "$a2" 2>"$W/e" && grep -q "$a2" "$W/e"'
check "no node home is refused" '! "$JSD" --home "$W/none" 2>"$W/e" && grep -q "no jetsync node" "$W/e"'

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
