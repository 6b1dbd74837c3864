#!/usr/bin/env bash
# toolkit.sh - black-box test of `jetsync toolkit` on one node: publish every example entry,
# list with filters, show (text, --json, --history), search across languages with and without
# accents, versions, withdrawal, and one-line errors with file:line:col that store nothing.
# Needs $JETSYNC (the built binary) and python3; JET_SOURCE_DIR and JET_SHARED_DIR locate the
# examples and the contract's entry.
set -u
JS=${JETSYNC:?set JETSYNC to the jetsync binary}
SRC=${JET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
SHARED=${JET_SHARED_DIR:-$SRC/../shared}
EX=$SRC/examples/toolkit
W=$(mktemp -d /tmp/jetsync-toolkit.XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0; failn=0
t() { if eval "$2" >"$W/last.out" 2>&1; then pass=$((pass+1)); echo "ok   $1"; else failn=$((failn+1)); echo "FAIL $1"; sed 's/^/     /' "$W/last.out" | tail -5; fi; }
py() { python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
count() { "$JS" toolkit list --home "$W/A" --json | python3 -c "import json,sys; print(len(json.load(sys.stdin)))"; }

"$JS" init --home "$W/A" --name RegionA --region IT-25 --network-key "$W/net" >/dev/null || { echo "init failed"; exit 1; }
ID=$("$JS" id --home "$W/A" | tail -1)

for f in "$EX"/*.json; do
  t "publish $(basename "$f")" '"$JS" toolkit publish --home "$W/A" "$f" | grep -q "version 1"'
done
t "list shows the five seed practices" '[ "$(count)" = 5 ]'
t "list --json: every entry has the spec fields, author and version" '"$JS" toolkit list --home "$W/A" --json | py "all(set([\"id\",\"title\",\"summary\",\"body\",\"category\",\"type\",\"country\",\"region\",\"languages\",\"school_level\",\"intervention_level\",\"intensity\",\"funding\",\"target_age\",\"outcomes\",\"contacts\",\"links\",\"translations\",\"author\",\"version\"]) <= set(e) and e[\"author\"] == \"$ID\" for e in d)"'
t "list --category intervention" '"$JS" toolkit list --home "$W/A" --category intervention --json | py "sorted(e[\"id\"] for e in d) == [\"jagmed\", \"plug-in-2-0\"]"'
t "list --country BE" '"$JS" toolkit list --home "$W/A" --country BE --json | py "[e[\"id\"] for e in d] == [\"antwerpen-keskeyttamista-ehkaiseva-verkosto\"]"'
t "list --lang it" '"$JS" toolkit list --home "$W/A" --lang it --json | py "\"meglio-dopo-insieme\" in [e[\"id\"] for e in d] and \"jagmed\" not in [e[\"id\"] for e in d]"'
t "list --school-level ISCED3G --intervention-level individual" '"$JS" toolkit list --home "$W/A" --school-level ISCED3G --intervention-level individual --json | py "sorted(e[\"id\"] for e in d) == [\"jagmed\", \"jet-cd-toolbox\", \"plug-in-2-0\"]"'
t "list --category with an unknown value fails" '! "$JS" toolkit list --home "$W/A" --category cure 2>"$W/e" && grep -q "^jetsync: --category" "$W/e"'
t "show --json keeps Swedish text exactly" '"$JS" toolkit show --home "$W/A" jagmed --json | py "d[\"region\"] == \"Östergötland (Östra Mellansverige)\" and d[\"target_age\"] == {\"from\": 15, \"to\": 24} and d[\"version\"] == 1"'
t "show (text) names the fields" '"$JS" toolkit show --home "$W/A" plug-in-2-0 | grep -q "^country: SE"'
t "show AUTHOR/id" '"$JS" toolkit show --home "$W/A" "$ID/jagmed" --json | py "d[\"id\"] == \"jagmed\""'
# A node id starts with '-' one time in 64: such an AUTHOR/id is an argument, not options.
# Another id with a leading '-' (it may not be a valid key): the command must take it as the
# argument it names in its error, not as options.
DASH_ID="-$(printf %s "${ID:1}" | tr 'A-Za-z' 'N-ZA-Mn-za-m')"
t "show AUTHOR/id with an author id that starts with '-'" '! "$JS" toolkit show --home "$W/A" "$DASH_ID/jagmed" --json 2>"$W/e" && grep -q -- "^jetsync: show $DASH_ID/jagmed: " "$W/e"'
t "show AUTHOR/id with an author id that starts with '--'" '! "$JS" toolkit show --home "$W/A" "-$DASH_ID/jagmed" --json 2>"$W/e" && grep -q -- "^jetsync: show -$DASH_ID/jagmed: " "$W/e"'
t "search: Italian word" '"$JS" toolkit search --home "$W/A" doposcuola --json | py "d[0][\"id\"] == \"meglio-dopo-insieme\""'
t "search: Swedish word with accents" '"$JS" toolkit search --home "$W/A" "närvarocoacher" --json | py "d and d[0][\"id\"] == \"jagmed\""'
t "search: the same word without accents, upper case" '"$JS" toolkit search --home "$W/A" NARVAROCOACHER --json | py "d and d[0][\"id\"] == \"jagmed\""'
t "search: Finnish word" '"$JS" toolkit search --home "$W/A" "koulunkäynnin" --json | py "d[0][\"id\"] == \"antwerpen-keskeyttamista-ehkaiseva-verkosto\""'
t "search: two words rank the entry with both first" '"$JS" toolkit search --home "$W/A" sysselsättning KAA --json | py "d[0][\"id\"] == \"plug-in-2-0\" and \"score\" in d[0]"'
t "search: nothing found is an empty array" '"$JS" toolkit search --home "$W/A" zzqqxx --json | py "d == []"'

t "publish the contract entry: version 2 of meglio-dopo-insieme" '"$JS" toolkit publish --home "$W/A" "$SHARED/contract/entry_it.json" | grep -q "meglio-dopo-insieme version 2"'
t "show gives the newest version" '"$JS" toolkit show --home "$W/A" meglio-dopo-insieme --json | py "d[\"version\"] == 2 and d[\"outcomes\"] == \"130 secondary school pupils supported.\""'
t "show --history --json lists both versions" '"$JS" toolkit show --home "$W/A" meglio-dopo-insieme --history --json | py "[e[\"version\"] for e in d] == [1, 2]"'
t "words only in version 1 are no longer found" '"$JS" toolkit search --home "$W/A" volontariato --json | py "d == []"'
t "withdraw" '"$JS" toolkit withdraw --home "$W/A" jagmed | grep -q "version 2"'
t "a withdrawn entry is not listed" '[ "$(count)" = 4 ]'
t "a withdrawn entry is not found" '"$JS" toolkit search --home "$W/A" närvarocoacher --json | py "d == []"'
t "show of a withdrawn entry fails and says so" '! "$JS" toolkit show --home "$W/A" jagmed 2>"$W/e" && grep -q "withdrawn" "$W/e"'
t "show --history shows the withdrawal" '"$JS" toolkit show --home "$W/A" jagmed --history --json | py "d[-1].get(\"withdrawn\") is True and d[-1][\"version\"] == 2"'
t "withdraw twice fails" '! "$JS" toolkit withdraw --home "$W/A" jagmed 2>/dev/null'
t "publishing again brings it back as version 3" '"$JS" toolkit publish --home "$W/A" "$EX/jagmed.json" | grep -q "version 3" && [ "$(count)" = 5 ]'
t "show of an unknown id fails" '! "$JS" toolkit show --home "$W/A" no-such-entry 2>"$W/e" && grep -q "no entry" "$W/e"'

# Errors: one line on stderr, FILE:LINE:COL and the field, exit 1, nothing stored.
bad() { python3 - "$SHARED/contract/entry_it.json" "$W/bad.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"), indent=2, ensure_ascii=False)
PY
}
check_bad() { # $1 = python mutation, $2 = field
  bad "$1"; before=$(count)
  ! "$JS" toolkit publish --home "$W/A" "$W/bad.json" 2>"$W/e" >/dev/null &&
  [ "$(wc -l <"$W/e")" = 1 ] &&
  grep -Eq "^jetsync: $W/bad.json:[0-9]+:[0-9]+: field '$2': " "$W/e" &&
  [ "$(count)" = "$before" ] &&
  [ "$("$JS" toolkit show --home "$W/A" meglio-dopo-insieme --json | python3 -c "import json,sys; print(json.load(sys.stdin)['version'])")" = 2 ]
}
t "unknown category" 'check_bad "d[\"category\"] = \"cure\"" category'
t "country not ISO 3166-1" 'check_bad "d[\"country\"] = \"UK\"" country'
t "bad language tag" 'check_bad "d[\"languages\"] = [\"it\", \"italiano\"]" "languages\[1\]"'
t "age range reversed" 'check_bad "d[\"target_age\"] = {\"from\": 14, \"to\": 11}" target_age'
t "missing title" 'check_bad "del d[\"title\"]" title'
t "title too long" 'check_bad "d[\"title\"] = \"x\" * 301" title'
t "unknown school level" 'check_bad "d[\"school_level\"] = [\"ISCED9\"]" "school_level\[0\]"'
t "unknown field" 'check_bad "d[\"titolo\"] = \"x\"" titolo'
t "invalid UTF-8 names the line and column" 'printf "{\"id\": \"x\",\n \"title\": \"Tr\xf6ndelag\"}" >"$W/u.json" && ! "$JS" toolkit publish --home "$W/A" "$W/u.json" 2>"$W/e" && grep -q "u.json:2:14: invalid UTF-8" "$W/e"'
t "JSON syntax error names the line" 'printf "{\"id\": \"x\",\n}" >"$W/s.json" && ! "$JS" toolkit publish --home "$W/A" "$W/s.json" 2>"$W/e" && grep -Eq "s.json:2:[0-9]+: " "$W/e"'
t "missing file" '! "$JS" toolkit publish --home "$W/A" "$W/none.json" 2>"$W/e" && grep -q "^jetsync: .*none.json" "$W/e"'
t "withdraw of another author's id is refused" '! "$JS" toolkit withdraw --home "$W/A" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/jagmed" 2>"$W/e" && grep -q "only the author" "$W/e"'
t "bad usage exits non-zero" '! "$JS" toolkit publish --home "$W/A" 2>/dev/null && ! "$JS" toolkit frobnicate --home "$W/A" 2>/dev/null'

echo "$pass passed, $failn failed"
[ "$failn" = 0 ]
