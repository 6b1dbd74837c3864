#!/usr/bin/env bash
# toolkit_sync.sh - toolkit entries across three nodes: regions A and B sync with the lead L
# (a running jetsyncd). An entry published at A is found by search at B; a new version and a
# withdrawal at A reach B; B's entry with the same id stays B's (AUTHOR_NODE_ID/id). Talks to
# 127.0.0.1 only. Needs $JETSYNC, $JETSYNCD and python3.
set -u
JS=${JETSYNC:?set JETSYNC}
JSD=${JETSYNCD:?set JETSYNCD}
SRC=${JET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
EX=$SRC/examples/toolkit
W=$(mktemp -d /tmp/jetsync-tksync.XXXXXX); dpid=""
trap '[ -n "$dpid" ] && kill "$dpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
pass=0; failn=0
t() { if eval "$2" >"$W/last.out" 2>&1; then pass=$((pass+1)); echo "ok   $1"; else failn=$((failn+1)); echo "FAIL $1"; sed 's/^/     /' "$W/last.out" | tail -5; fi; }
py() { python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }

"$JS" init --home "$W/L" --name Lead --region SE-Y --lead --network-key "$W/net" >/dev/null
"$JS" init --home "$W/A" --name RegionA --region IT-25 --network-key "$W/net" >/dev/null
"$JS" init --home "$W/B" --name RegionB --region NO-30 --network-key "$W/net" >/dev/null
idL=$("$JS" id --home "$W/L" | tail -1); idA=$("$JS" id --home "$W/A" | tail -1); idB=$("$JS" id --home "$W/B" | tail -1)
"$JS" peer add --home "$W/L" --name A --key "$idA" --role region >/dev/null
"$JS" peer add --home "$W/L" --name B --key "$idB" --role region >/dev/null
"$JSD" --home "$W/L" --listen 127.0.0.1:0 >"$W/L.out" 2>"$W/L.err" & dpid=$!
addr=""; for i in $(seq 1 100); do addr=$(grep -m1 -Eo 'listening [0-9.]+:[0-9]+' "$W/L.out" 2>/dev/null | cut -d' ' -f2); [ -n "$addr" ] && break; sleep 0.1; done
[ -n "$addr" ] || { echo "jetsyncd did not start"; cat "$W/L.err"; exit 1; }
"$JS" peer add --home "$W/A" --name Lead --key "$idL" --role lead --addr "$addr" >/dev/null
"$JS" peer add --home "$W/B" --name Lead --key "$idL" --role lead --addr "$addr" >/dev/null

t "A publishes #jagmed and Plug In 2.0" '"$JS" toolkit publish --home "$W/A" "$EX/jagmed.json" && "$JS" toolkit publish --home "$W/A" "$EX/plug-in-2-0.json"'
t "B publishes the Milan programme" '"$JS" toolkit publish --home "$W/B" "$EX/meglio-dopo-insieme.json"'
t "A syncs, then B syncs" '"$JS" sync --home "$W/A" && "$JS" sync --home "$W/B"'
t "B finds A's entry by a Swedish word without accents" '"$JS" toolkit search --home "$W/B" narvarocoacher --json | py "d and d[0][\"id\"] == \"jagmed\" and d[0][\"author\"] == \"$idA\""'
t "the lead lists all three" '"$JS" toolkit list --home "$W/L" --json | py "sorted(e[\"id\"] for e in d) == [\"jagmed\", \"meglio-dopo-insieme\", \"plug-in-2-0\"]"'
t "A syncs again and has B's entry" '"$JS" sync --home "$W/A" && "$JS" toolkit search --home "$W/A" doposcuola --json | py "d[0][\"author\"] == \"$idB\""'
t "A publishes a new version and withdraws Plug In 2.0" '"$JS" toolkit publish --home "$W/A" "$EX/jagmed.json" | grep -q "version 2" && "$JS" toolkit withdraw --home "$W/A" plug-in-2-0'
t "after syncing, B shows version 2 and no Plug In 2.0" '"$JS" sync --home "$W/A" && "$JS" sync --home "$W/B" && "$JS" toolkit show --home "$W/B" jagmed --json | py "d[\"version\"] == 2" && "$JS" toolkit list --home "$W/B" --json | py "\"plug-in-2-0\" not in [e[\"id\"] for e in d]"'
t "B sees the whole history" '"$JS" toolkit show --home "$W/B" plug-in-2-0 --history --json | py "[e[\"version\"] for e in d] == [1, 2] and d[1].get(\"withdrawn\")"'
t "B cannot withdraw A's entry" '! "$JS" toolkit withdraw --home "$W/B" "$idA/jagmed" 2>/dev/null && ! "$JS" toolkit withdraw --home "$W/B" jagmed 2>/dev/null'
t "the same id from two authors is told apart" '"$JS" toolkit publish --home "$W/A" "$EX/meglio-dopo-insieme.json" && "$JS" sync --home "$W/A" && "$JS" sync --home "$W/B" && ! "$JS" toolkit show --home "$W/B" meglio-dopo-insieme 2>"$W/e" && grep -q "AUTHOR_NODE_ID/meglio-dopo-insieme" "$W/e" && "$JS" toolkit show --home "$W/B" "$idA/meglio-dopo-insieme" --json | py "d[\"author\"] == \"$idA\""'
t "syncing twice changes nothing" 'before=$("$JS" toolkit list --home "$W/B" --json) && "$JS" sync --home "$W/B" && [ "$before" = "$("$JS" toolkit list --home "$W/B" --json)" ]'

echo "$pass passed, $failn failed"
[ "$failn" = 0 ]
