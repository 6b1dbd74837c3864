#!/usr/bin/env bash
# region_binding.sh - a partner cannot publish statistics under another partner's region code:
# the lead binds a code to the first node that publishes under it, refuses another node's
# release under that code (the session fails, the lead's figures are unchanged), and frees the
# code when the first node is revoked.
set -uo pipefail
JS=${JETSYNC:?} JSD=${JETSYNCD:?}
W=$(mktemp -d /tmp/jetsync-region.XXXXXX); pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "ok   $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi; }
csv() { printf 'indicator,period,sex,value\nENROLLED,2024/25,F,%s\nENROLLED,2024/25,M,%s\n' "$1" "$2" >"$W/$3.csv"; }

"$JS" init --home "$W/L" --name Lead --region SE-Y --lead --network-key "$W/net" >/dev/null
"$JS" init --home "$W/A" --name Lombardia --region IT-25 --network-key "$W/net" >/dev/null
"$JS" init --home "$W/M" --name Mallory --region IT-25 --network-key "$W/net" >/dev/null
"$JSD" --home "$W/L" --listen 127.0.0.1:0 >"$W/L.out" 2>"$W/L.log" & pid=$!
addr=""; for _ in $(seq 1 100); do addr=$(sed -n 's/^listening //p' "$W/L.out"); [ -n "$addr" ] && break; sleep 0.1; done
for n in A M; do
  "$JS" peer add --home "$W/L" --name "$n" --key "$("$JS" id --home "$W/$n")" --role region
  "$JS" peer add --home "$W/$n" --name lead --key "$("$JS" id --home "$W/L")" --role lead --addr "$addr"
done
csv 120 131 a; csv 999 999 m
"$JS" stats import --home "$W/A" "$W/a.csv" >/dev/null
"$JS" stats import --home "$W/M" "$W/m.csv" >/dev/null
total() { "$JS" stats show --home "$W/L" --region IT-25 --indicator ENROLLED --json |
          python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["sex"]=="_T"][0])'; }

check "the first node's release reaches the lead" '"$JS" sync --home "$W/A" >/dev/null && [ "$(total)" = 251 ]'
check "another node's release under the same code is refused" '! "$JS" sync --home "$W/M" >"$W/m.out" 2>&1'
check "the refusal says why" 'grep -q "not permitted" "$W/m.out"'
check "the lead's figures are unchanged" '[ "$(total)" = 251 ]'
check "revoking the first node frees the code" \
  '"$JS" peer remove --home "$W/L" A && "$JS" sync --home "$W/M" >/dev/null && [ "$(total)" = 1998 ]'
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
