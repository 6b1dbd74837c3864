#!/usr/bin/env bash
# demo.sh - the statistics flow of JET-CD on one machine: six partner nodes (the lead partner
# SE-Y and five regions), each imports its sample release (examples/stats/*.csv), the regions
# sync with the lead, and the lead prints its cross-region table, writes the report and publishes
# the figures to every partner.
#
#   examples/stats/demo.sh [BUILD_DIR] [OUT_DIR]      (defaults: ./build, a temporary folder)
#
# Talks only to 127.0.0.1. Needs python3 for the table.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bdir=${1:-build}
JS=$(find "$bdir" -type f -name jetsync -perm -u+x | head -1)
JSD=$(find "$bdir" -type f -name jetsyncd -perm -u+x | head -1)
W=${2:-$(mktemp -d /tmp/jetsync-demo.XXXXXX)}
mkdir -p "$W"
daemon=""
trap '[ -n "$daemon" ] && kill "$daemon" 2>/dev/null; wait 2>/dev/null || true' EXIT

regions="IT-25:it-25_lombardia.csv ES-CT:es-ct_catalunya.csv NO-30:no-30_viken.csv RO-TL:ro-tl_tulcea.csv GB-HAM:gb-ham_hampshire.csv"

"$JS" init --home "$W/lead" --name "Region Västernorrland" --region SE-Y --lead \
    --network-key "$W/network.key" >/dev/null 2>&1
idL=$("$JS" id --home "$W/lead" | tail -1)
for r in $regions; do
    code=${r%%:*}
    "$JS" init --home "$W/$code" --name "$code" --region "$code" --network-key "$W/network.key" \
        >/dev/null 2>&1
    "$JS" peer add --home "$W/lead" --name "$code" --key "$("$JS" id --home "$W/$code" | tail -1)" \
        --role region >/dev/null
done
"$JSD" --home "$W/lead" --listen 127.0.0.1:0 >"$W/lead.out" 2>"$W/lead.log" &
daemon=$!
addr=""
for _ in $(seq 1 100); do
    addr=$(grep -m1 -Eo 'listening [0-9.]+:[0-9]+' "$W/lead.out" 2>/dev/null | cut -d' ' -f2) || true
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { echo "the lead's daemon did not start" >&2; exit 1; }

echo "== SE-Y (lead) imports its own release"
"$JS" stats import --home "$W/lead" "$here/se-y_vasternorrland.csv"
for r in $regions; do
    code=${r%%:*}
    file=${r#*:}
    echo "== $code imports $file and syncs with the lead"
    "$JS" peer add --home "$W/$code" --name lead --key "$idL" --role lead --addr "$addr" >/dev/null
    "$JS" stats import --home "$W/$code" "$here/$file"
    "$JS" sync --home "$W/$code" >/dev/null
done

echo
echo "== the lead's cross-region table (totals; c = suppressed)"
"$JS" stats show --home "$W/lead" --json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
tot = [o for o in rows if all(o[k] == "_T" for k in ("school_level", "sex", "age_band", "area"))]
inds = ["ENROLLED", "EARLY_LEAVERS", "EARLY_LEAVING_RATE", "RETENTION_RATE",
        "PERSISTENT_ABSENCE_RATE", "NO_OCCUPATION_SHARE", "COMPLETION_RATE_PLUS1"]
regions = sorted({o["region"] for o in tot})
for ind in inds:
    sel = [o for o in tot if o["indicator"] == ind]
    if not sel:
        continue
    periods = sorted({o["period"] for o in sel})
    print("\n%s" % ind)
    print("%-8s" % "region" + "".join("%11s" % p for p in periods))
    for r in regions:
        vals = {o["period"]: o for o in sel if o["region"] == r}
        if not vals:
            continue
        cells = []
        for p in periods:
            o = vals.get(p)
            cells.append("-" if o is None else ("c" if o["status"] == "C" else
                         ("%.1f" % o["value"] if isinstance(o["value"], float) else str(o["value"]))))
        print("%-8s" % r + "".join("%11s" % c for c in cells))
'
"$JS" report --home "$W/lead" --out "$W/report.html" --csv "$W/figures.csv"
echo "report: $W/report.html"

echo
echo "== the lead publishes the cross-region figures; NO-30 receives them at its next sync"
"$JS" stats publish --home "$W/lead"
"$JS" sync --home "$W/NO-30" >/dev/null
"$JS" report --home "$W/NO-30" --out "$W/report-no-30.html"
echo "NO-30's own view still lists only NO-30: $("$JS" stats show --home "$W/NO-30" --json | grep -o '"region": "[A-Z0-9-]*"' | sort -u | tr '\n' ' ')"
