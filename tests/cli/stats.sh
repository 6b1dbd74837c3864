#!/usr/bin/env bash
# stats.sh - black-box test of `jetsync stats` and `jetsync report` (issue 8) with the real
# binaries: import (both separators, BOM, pupil rows), show --json/--csv with filters, errors
# naming FILE:LINE that leave the store unchanged, supersession by re-import, pupil ids never in
# the store's data file, and a region's releases reaching the lead (and only the lead) by sync.
#
#   JETSYNC=build/client/jetsync JETSYNCD=build/server/jetsyncd bash tests/cli/stats.sh
set -u
JS=${JETSYNC:?set JETSYNC to the jetsync binary}
JSD=${JETSYNCD:-}
W=$(mktemp -d /tmp/jetsync-stats-cli.XXXXXX)
pids=()
trap 'for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"' EXIT
pass=0
failn=0
t() {
    if eval "$2" >"$W/last.out" 2>&1; then
        pass=$((pass + 1))
        echo "ok   $1"
    else
        failn=$((failn + 1))
        echo "FAIL $1"
        sed 's/^/     /' "$W/last.out" | tail -5
    fi
}
py() { python3 -c "$1" "${@:2}"; }

"$JS" init --home "$W/L" --name Lead --region SE-Y --lead --network-key "$W/net" >/dev/null 2>&1
"$JS" init --home "$W/A" --name Lombardia --region IT-25 --network-key "$W/net" >/dev/null 2>&1
"$JS" init --home "$W/B" --name Viken --region NO-30 --network-key "$W/net" >/dev/null 2>&1

printf '\xef\xbb\xbfindicator;period;school_level;sex;value\r\nENROLLED;2024/25;ISCED2;F;120\r\nENROLLED;2024/25;ISCED2;M;131\r\nENROLLED;2024/25;ISCED3G;F;3\r\nENROLLED;2024/25;ISCED3G;M;88\r\nEARLY_LEAVERS;2024/25;ISCED2;F;0\r\nEARLY_LEAVERS;2024/25;ISCED2;M;7\r\nEARLY_LEAVERS;2024/25;ISCED3G;F;2\r\nEARLY_LEAVERS;2024/25;ISCED3G;M;9\r\n' >"$W/semi.csv"
cat >"$W/comma.csv" <<'EOF'
indicator,period,age_band,value
FOLLOW_UP,2024,Y16-17,60
FOLLOW_UP,2024,Y18-19,40
NO_OCCUPATION,2024,Y16-17,36
NO_OCCUPATION,2024,Y18-19,28
EOF

t "import ; separated with BOM and CRLF" '"$JS" stats import --home "$W/A" "$W/semi.csv"'
t "import , separated" '"$JS" stats import --home "$W/A" "$W/comma.csv"'
t "show --json: spec keys, A/C, null iff C, no count 1..4" '"$JS" stats show --home "$W/A" --json | py "
import json, sys
d = json.load(sys.stdin)
keys = {\"region\",\"indicator\",\"period\",\"school_level\",\"sex\",\"age_band\",\"area\",\"value\",\"status\"}
assert d and all(set(o) == keys for o in d)
assert all(o[\"status\"] in (\"A\",\"C\") and ((o[\"value\"] is None) == (o[\"status\"] == \"C\")) for o in d)
assert not any(o[\"value\"] is not None and 1 <= o[\"value\"] <= 4 for o in d if not o[\"indicator\"].endswith((\"RATE\",\"SHARE\")))
assert all(o[\"region\"] == \"IT-25\" for o in d)
tot = [o for o in d if o[\"indicator\"] == \"NO_OCCUPATION_SHARE\" and o[\"age_band\"] == \"_T\"]
assert tot and tot[0][\"value\"] == 64.0, tot
"'
t "show --csv: SDMX-CSV header, suppressed = empty value and CONF_STATUS C" '"$JS" stats show --home "$W/A" --csv >"$W/out.csv" && head -1 "$W/out.csv" | grep -qx "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,TIME_PERIOD,INDICATOR,UNIT_MEASURE,SEX,AGE,ISCED11,AREA,OBS_VALUE,OBS_STATUS,CONF_STATUS" && grep -q ",ENROLLED,PS,F,_T,ED34,_T,,M,C$" "$W/out.csv" && grep -q ",NO_OCCUPATION_SHARE,PC,_T,_T,_T,_T,64.0,A,F$" "$W/out.csv"'
t "show --indicator filters" '"$JS" stats show --home "$W/A" --indicator EARLY_LEAVERS --json | py "import json,sys; d=json.load(sys.stdin); assert len(d) == 9 and {o[\"indicator\"] for o in d} == {\"EARLY_LEAVERS\"}"'
t "show --indicator with a rate shows only the rate" '"$JS" stats show --home "$W/A" --indicator EARLY_LEAVING_RATE --json | py "import json,sys; d=json.load(sys.stdin); assert len(d) == 9 and {o[\"indicator\"] for o in d} == {\"EARLY_LEAVING_RATE\"}"'
t "show --period filters" '"$JS" stats show --home "$W/A" --period 2024 --json | py "import json,sys; d=json.load(sys.stdin); assert d and {o[\"period\"] for o in d} == {\"2024\"}"'
t "show --region of another region is empty" '[ "$("$JS" stats show --home "$W/A" --region NO-30 --json)" = "[]" ]'
t "show refuses an unknown indicator" '! "$JS" stats show --home "$W/A" --indicator DROPOUTS 2>"$W/e" && grep -q "unknown indicator" "$W/e"'
t "stats indicators --json lists the catalogue" '"$JS" stats indicators --json | py "import json,sys; d=json.load(sys.stdin); c={o[\"code\"] for o in d}; assert {\"ENROLLED\",\"EARLY_LEAVERS\",\"INTERRUPTIONS\",\"PERSISTENT_ABSENCE\",\"RETAINED\",\"PROGRAMME_PARTICIPANTS\",\"COMPLETED\",\"COMPLETED_PLUS1\",\"FOLLOW_UP\",\"NO_OCCUPATION\",\"REENGAGED\",\"EARLY_LEAVING_RATE\"} <= c"'

# Errors: one line naming FILE:LINE, non-zero exit, the store unchanged.
"$JS" stats show --home "$W/A" --json >"$W/before.json"
printf 'indicator,period,sex,value\nENROLLED,2025,F,10\nENROLLED,2025,M,x\n' >"$W/bad1.csv"
printf 'indicator,period,sex,value\nENROLLED,2025,F,10\nENROLLED,2025,M,11\nENROLLED,2025,_T,22\n' >"$W/bad2.csv"
printf 'indicator,period,value\nEARLY_LEAVING_RATE,2025,3\n' >"$W/bad3.csv"
t "a bad value: FILE:3 on stderr, exit non-zero" '! "$JS" stats import --home "$W/A" "$W/bad1.csv" 2>"$W/e" && grep -q "bad1.csv:3: value" "$W/e" && [ $(wc -l <"$W/e") = 1 ]'
t "a total that disagrees: FILE:4" '! "$JS" stats import --home "$W/A" "$W/bad2.csv" 2>"$W/e" && grep -q "bad2.csv:4: the total of ENROLLED 2025" "$W/e"'
t "a rate cannot be imported" '! "$JS" stats import --home "$W/A" "$W/bad3.csv" 2>"$W/e" && grep -q "bad3.csv:2: EARLY_LEAVING_RATE is a rate" "$W/e"'
t "a missing file" '! "$JS" stats import --home "$W/A" "$W/none.csv" 2>"$W/e" && grep -q "none.csv" "$W/e"'
t "failed imports changed nothing" '"$JS" stats show --home "$W/A" --json | cmp -s - "$W/before.json"'

# Pupil rows: counted in memory, never stored.
py "
import random
random.seed(8)
with open('$W/pupils.csv', 'w') as f:
    f.write('pupil_id,period,sex,age,area,enrolled,early_leavers,sessions_possible,sessions_missed\n')
    for i in range(600):
        f.write('PUPILSECRET%05dZ,2024/25,%s,%d,%s,1,%d,300,%d\n' % (i, 'FM'[i % 2], 15 + i % 5, 'MI-R' if i % 3 else 'MI-S', random.random() < 0.08, random.randint(0, 60)))
"
t "import pupil rows (format detected)" '"$JS" stats import --home "$W/B" "$W/pupils.csv" >"$W/o" && grep -q "pupil rows" "$W/o"'
t "pupil counts are shown" '"$JS" stats show --home "$W/B" --indicator ENROLLED --json | py "import json,sys; d=json.load(sys.stdin); t=[o for o in d if all(o[k]==\"_T\" for k in (\"school_level\",\"sex\",\"age_band\",\"area\"))]; assert t[0][\"value\"] == 600"'
t "no pupil id in the store's data file" '[ -s "$W/B/store/data.mdb" ] && ! grep -aq "PUPILSECRET" "$W/B/store/data.mdb" && ! grep -raq "PUPILSECRET" "$W/B"'
printf 'pupil_id,period,sex,enrolled\nSECRETKID1,2024,F,1\nSECRETKID2,2024,Q,1\n' >"$W/bad4.csv"
t "a pupil-row error names the line and column, never the value" '! "$JS" stats import --home "$W/B" "$W/bad4.csv" 2>"$W/e" && grep -q "bad4.csv:3: column sex (3)" "$W/e" && ! grep -q "SECRET" "$W/e" && ! grep -q "'"'"'Q'"'"'" "$W/e"'

# Supersession: a re-import makes version 2 and replaces the values.
printf 'indicator,period,school_level,sex,value\nEARLY_LEAVERS,2024/25,ISCED2,F,10\nEARLY_LEAVERS,2024/25,ISCED2,M,12\nEARLY_LEAVERS,2024/25,ISCED3G,F,14\nEARLY_LEAVERS,2024/25,ISCED3G,M,16\n' >"$W/again.csv"
t "re-import supersedes" '"$JS" stats import --home "$W/A" "$W/again.csv" && "$JS" stats show --home "$W/A" --indicator EARLY_LEAVERS --json | py "import json,sys; d=json.load(sys.stdin); assert len(d) == 9; t=[o for o in d if o[\"school_level\"]==\"_T\" and o[\"sex\"]==\"_T\"]; assert t[0][\"value\"] == 52"'

# Report (at the region itself, and --csv).
t "report writes self-contained HTML with SVG and an SDMX CSV" '"$JS" report --home "$W/A" --out "$W/r.html" --csv "$W/r.csv" && grep -q "<svg" "$W/r.html" && ! grep -q "<script" "$W/r.html" && head -1 "$W/r.csv" | grep -q "^STRUCTURE,STRUCTURE_ID"'

# Sync: A's releases reach the lead, not B.
if [ -n "$JSD" ] && [ -x "$JSD" ]; then
    idL=$("$JS" id --home "$W/L" | tail -1)
    idA=$("$JS" id --home "$W/A" | tail -1)
    idB=$("$JS" id --home "$W/B" | tail -1)
    "$JS" peer add --home "$W/L" --name A --key "$idA" --role region >/dev/null
    "$JS" peer add --home "$W/L" --name B --key "$idB" --role region >/dev/null
    "$JSD" --home "$W/L" --listen 127.0.0.1:0 >"$W/L.out" 2>"$W/L.err" &
    pids+=($!)
    addr=""
    for _ in $(seq 1 100); do
        addr=$(grep -m1 -Eo 'listening [0-9.]+:[0-9]+' "$W/L.out" 2>/dev/null | cut -d' ' -f2)
        [ -n "$addr" ] && break
        sleep 0.1
    done
    "$JS" peer add --home "$W/A" --name Lead --key "$idL" --role lead --addr "$addr" >/dev/null
    "$JS" peer add --home "$W/B" --name Lead --key "$idL" --role lead --addr "$addr" >/dev/null
    t "sync A and B with the lead" '"$JS" sync --home "$W/A" && "$JS" sync --home "$W/B"'
    t "the lead shows A's releases exactly as A does" 'diff <("$JS" stats show --home "$W/A" --json) <("$JS" stats show --home "$W/L" --region IT-25 --json)'
    t "the lead shows B's releases" '"$JS" stats show --home "$W/L" --region NO-30 --json | grep -q "\"NO-30\""'
    t "B holds none of A's releases" '! "$JS" stats show --home "$W/B" --json | grep -q IT-25'
    t "A's re-import reaches the lead as a new version" '"$JS" stats import --home "$W/A" "$W/semi.csv" >/dev/null && "$JS" sync --home "$W/A" && diff <("$JS" stats show --home "$W/A" --json) <("$JS" stats show --home "$W/L" --region IT-25 --json)'
    t "the lead's report covers both regions" '"$JS" report --home "$W/L" --out "$W/lead.html" && grep -q "IT-25" "$W/lead.html" && grep -q "NO-30" "$W/lead.html" && grep -q -- "$idA" "$W/lead.html"'
    t "only the lead publishes figures" '! "$JS" stats publish --home "$W/A" 2>"$W/e" && grep -q "only the lead" "$W/e"'
    t "the lead publishes its cross-region figures" '"$JS" stats publish --home "$W/L" | grep -q "^published [1-9]"'
    t "B receives them, in the figures only" '"$JS" sync --home "$W/B" && ! "$JS" stats show --home "$W/B" --json | grep -q IT-25 && "$JS" stats show --home "$W/B" --figures --region IT-25 --json | grep -q "\"IT-25\""'
    t "B's figures are the lead's table" 'diff <("$JS" stats show --home "$W/L" --json) <("$JS" stats show --home "$W/B" --figures --json)'
    t "B's report shows the cross-region figures" '"$JS" report --home "$W/B" --out "$W/b.html" && grep -q "IT-25" "$W/b.html" && grep -q -- "$idA" "$W/b.html"'
else
    echo "skip sync checks: JETSYNCD not set"
fi

echo "$pass passed, $failn failed"
[ "$failn" = 0 ]
