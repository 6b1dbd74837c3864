#!/usr/bin/env bash
# badinput.sh - black-box bad input battery (issue 7): every input a user gives the binaries.
# Statistics CSV files, toolkit JSON files, the configuration file and command-line arguments,
# each broken in the ways users break them (truncated, wrong columns and types, unknown codes,
# numbers out of range, invalid UTF-8, NUL bytes, empty, duplicates, huge). For each:
#   - the exit status is non-zero;
#   - stderr is one line "jetsync: ..." (jetsyncd's: "jetsyncd: ...") and, where there is a
#     file, names FILE:LINE;
#   - the node is unchanged: `status --json` logs (stream, origin, epoch, seq, digest),
#     `toolkit list --json`, `stats show --json` and `peer list --json` are byte-identical
#     before and after.
#
#   JETSYNC=build/client/jetsync JETSYNCD=build/server/jetsyncd bash tests/cli/badinput.sh
set -u
JS=${JETSYNC:?set JETSYNC to the jetsync binary}
JSD=${JETSYNCD:-}
SRC=${JET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d /tmp/jetsync-badinput-cli.XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0
failn=0
py() { python3 -c "$1" "${@:2}"; }

ok() {
    pass=$((pass + 1))
    echo "ok   $1"
}
nok() {
    failn=$((failn + 1))
    echo "FAIL $1: $2"
    sed 's/^/     /' "$W/err" | head -5
}

# The state of a node, as the commands print it.
snap() {
    local h=$1
    {
        "$JS" status --home "$h" --json | py "
import json, sys
print(json.dumps(json.load(sys.stdin)['logs'], sort_keys=True))"
        "$JS" toolkit list --home "$h" --json
        "$JS" stats show --home "$h" --json
        "$JS" peer list --home "$h" --json
    } 2>&1
}

# bad NAME HOME FILE_OR_- [--usage] -- COMMAND...: the command must fail as described above
# (--usage: an argument error, whose line may also start "jetsyncd: ").
bad() {
    local name=$1 home=$2 file=$3
    shift 3
    local usage=0
    if [ "$1" = --usage ]; then
        usage=1
        shift
    fi
    [ "$1" = -- ] && shift
    snap "$home" >"$W/before"
    timeout 60 "$@" >"$W/out" 2>"$W/err" </dev/null
    local rc=$?
    snap "$home" >"$W/after"
    local lines
    lines=$(wc -l <"$W/err")
    if [ $rc -eq 0 ]; then
        nok "$name" "exit status 0"
    elif [ $rc -ge 124 ]; then
        nok "$name" "exit status $rc (time-out or crash)"
    elif [ "$lines" != 1 ]; then
        nok "$name" "$lines lines on stderr, want 1"
    elif ! head -1 "$W/err" | grep -Eq "^jetsync$([ $usage = 1 ] && echo 'd?'): "; then
        nok "$name" "stderr does not start with 'jetsync: '"
    elif [ "$file" != - ] && ! head -1 "$W/err" | grep -qF -- "$file:" ; then
        nok "$name" "stderr does not name $file:LINE"
    elif [ "$file" != - ] && [ "${NOLINE:-0}" = 0 ] && ! head -1 "$W/err" | grep -qE -- "$(printf '%s' "$file" | sed 's/[.[\*^$/]/\\&/g'):[0-9]+"; then
        nok "$name" "stderr names $file but no line"
    elif ! cmp -s "$W/before" "$W/after"; then
        nok "$name" "the node changed"
        diff "$W/before" "$W/after" | head -5
    else
        ok "$name"
    fi
}

"$JS" init --home "$W/L" --name Lead --region SE-Y --lead --network-key "$W/net" >/dev/null 2>&1
"$JS" init --home "$W/A" --name Lombardia --region IT-25 --network-key "$W/net" >/dev/null 2>&1
AID=$("$JS" id --home "$W/A")
"$JS" peer add --home "$W/L" --name lombardia --key "$AID" --role region >/dev/null
# Some content first, so that "unchanged" means something.
"$JS" toolkit publish --home "$W/A" "$SRC/examples/toolkit/jagmed.json" >/dev/null
printf 'indicator,period,sex,value\nENROLLED,2024/25,F,120\nENROLLED,2024/25,M,131\n' >"$W/good.csv"
"$JS" stats import --home "$W/A" "$W/good.csv" >/dev/null
[ -n "$(snap "$W/A" | grep -c '"digest"')" ] || { echo "FAIL setup"; exit 1; }

# ---- statistics CSV --------------------------------------------------------------------------
c() { printf "$2" >"$W/$1"; }
c trunc.csv 'indicator,period,sex,value\nENROLLED,2024/25,F,120\nENROLLED,"2024/2'
c trunc2.csv 'indicator,period,sex,value\nENROLLED,2024/25,F,120\nENROLLED,2024/'
c cols.csv 'indicator,period,sex,value\nENROLLED,2024/25,F,120,7\n'
c cols2.csv 'indicator,period,sex,value\nENROLLED,2024/25,120\n'
c unkind.csv 'indicator,period,value\nDROPOUTS,2024/25,120\n'
c rate.csv 'indicator,period,value\nEARLY_LEAVING_RATE,2024/25,3\n'

c period.csv 'indicator,period,value\nENROLLED,2024/26,120\n'
c period2.csv 'indicator,period,value\nENROLLED,24/25,120\n'
c period3.csv 'indicator,period,value\nENROLLED,2024-13,120\n'
c period4.csv 'indicator,period,value\nENROLLED,2024-Q5,120\n'
c neg.csv 'indicator,period,value\nENROLLED,2024/25,-5\n'
c huge.csv 'indicator,period,value\nENROLLED,2024/25,99999999999999999999999\n'
c huge2.csv 'indicator,period,value\nENROLLED,2024/25,1000000000001\n'
c frac.csv 'indicator,period,value\nENROLLED,2024/25,12.5\n'
c exp.csv 'indicator,period,value\nENROLLED,2024/25,1e3\n'
c hex.csv 'indicator,period,value\nENROLLED,2024/25,0x10\n'
c word.csv 'indicator,period,value\nENROLLED,2024/25,many\n'
c blank.csv 'indicator,period,value\nENROLLED,2024/25,\n'
c utf.csv 'indicator,period,area,value\nENROLLED,2024/25,MI-\xff\xfe,120\n'
c utfh.csv 'indic\xffator,period,value\nENROLLED,2024/25,120\n'
c utf16.csv '\xff\xfei\x00n\x00d\x00'
c nul.csv 'indicator,period,value\nENROLLED,2024/25,12\0003\n'
c empty.csv ''
c header.csv 'indicator,period,sex,value\n'
c noheader.csv 'ENROLLED,2024/25,120\n'
c dup.csv 'indicator,period,sex,value\nENROLLED,2024/25,F,120\nENROLLED,2024/25,F,120\n'
c total.csv 'indicator,period,sex,value\nENROLLED,2024/25,F,120\nENROLLED,2024/25,M,100\nENROLLED,2024/25,_T,300\n'
c sexx.csv 'indicator,period,sex,value\nENROLLED,2024/25,X,120\n'
c level.csv 'indicator,period,school_level,value\nENROLLED,2024/25,ISCED9,120\n'
c age.csv 'indicator,period,age_band,value\nENROLLED,2024/25,Y19-15,120\n'
c dupcol.csv 'indicator,period,sex,sex,value\nENROLLED,2024/25,F,F,120\n'
c unkcol.csv 'indicator,period,colour,value\nENROLLED,2024/25,red,120\n'
c novalue.csv 'indicator,period,sex\nENROLLED,2024/25,F\n'
c quote.csv 'indicator,period,value\nENROLLED,2024/25,"12"3\n'
c pupil_bad.csv 'pupil_id,period,sex,enrolled\nP1,2024/25,F,1\nP2,2024/25,M,2\n'
c pupil_dup.csv 'pupil_id,period,sex,enrolled\nP1,2024/25,F,1\nP1,2024/25,F,1\n'
for f in trunc trunc2 cols cols2 unkind rate period period2 period3 period4 neg huge huge2 \
    frac exp hex word blank utf utfh utf16 nul empty header noheader dup total sexx level age \
    dupcol unkcol novalue quote pupil_bad pupil_dup; do
    bad "csv $f" "$W/A" "$W/$f.csv" -- "$JS" stats import --home "$W/A" "$W/$f.csv"
done
bad "csv pupils forced on a counts file" "$W/A" "$W/good.csv" -- "$JS" stats import --home "$W/A" --format pupils "$W/good.csv"
NOLINE=1 bad "csv missing file" "$W/A" "$W/none.csv" -- "$JS" stats import --home "$W/A" "$W/none.csv"
NOLINE=1 bad "csv is a directory" "$W/A" "$W" -- "$JS" stats import --home "$W/A" "$W"
# Large: 200,000 rows with one bad value at the end: the line number is exact.
py "
import sys
with open('$W/big.csv', 'w') as f:
    f.write('indicator,period,area,value\n')
    for i in range(200000):
        f.write('ENROLLED,2024/25,A%06d,%d\n' % (i, 100 + i % 50))
    f.write('ENROLLED,2024/25,B000000,x\n')
"
bad "csv 200,000 rows, a bad value on line 200002" "$W/A" "$W/big.csv" -- "$JS" stats import --home "$W/A" "$W/big.csv"
if grep -q "big.csv:200002:" "$W/err"; then ok "csv large file: exact line 200002"; else nok "csv large file: exact line" "$(cat "$W/err")"; fi

# ---- toolkit JSON ----------------------------------------------------------------------------
py "
import json
src = '$SRC/examples/toolkit/meglio-dopo-insieme.json'
t = open(src).read()
e = json.loads(t)
def w(n, s):
    open('$W/' + n, 'wb').write(s if isinstance(s, bytes) else s.encode())
def d(**kw):
    x = dict(e); x.update(kw); return json.dumps(x, indent=1, ensure_ascii=False)
w('trunc.json', t[:len(t) // 2])
w('trunc2.json', t.rstrip()[:-1])
w('types.json', d(title=5))
w('types2.json', d(languages={'sv': 1}))
w('types3.json', d(target_age='12-19'))
w('types4.json', d(contacts='someone'))
w('dupkey.json', t.replace('\"title\"', '\"title\": \"first\",\n  \"title\"', 1))
w('huge.json', d(languages=['sv'] * 100000))
w('huge2.json', d(languages=['sv'] * 20000))
w('range.json', d(target_age={'from': 1e30, 'to': 2}))
w('range2.json', d(target_age={'from': -1, 'to': 19}))
w('range3.json', d(target_age={'from': 12.5, 'to': 19}))
w('range4.json', t.replace('{', '{\"target_age\": {\"from\": 18446744073709551617, \"to\": 19},', 1) if 'target_age' not in e else d(target_age={'from': 18446744073709551617, 'to': 19}))
w('range5.json', d(target_age={'from': 19, 'to': 12}))
w('utf.json', t.encode().replace(b'\"title\": \"', b'\"title\": \"\xff\xfe', 1))
w('nulesc.json', t.replace('\"title\": \"', '\"title\": \"\\\\u0000', 1))
w('nul.json', t.encode().replace(b'\"title\": \"', b'\"title\": \"\x00', 1))
w('empty.json', '')
w('array.json', '[]')
w('null.json', 'null')
w('unknown.json', d(colour='blue'))
w('deep.json', '[' * 100000 + ']' * 100000)
w('badid.json', d(id='Bad Id!'))
w('category.json', d(category='cure'))
w('country.json', d(country='XX'))
w('lang.json', d(languages=['english']))
w('url.json', d(links=['javascript:alert(1)']))
w('noid.json', json.dumps({k: v for k, v in e.items() if k != 'id'}, indent=1))
w('controls.json', d(title='a\u0007b'))
w('trailing.json', t + '\n{}')
"
for f in trunc trunc2 types types2 types3 types4 dupkey huge2 range range2 range3 range4 range5 \
    utf nulesc nul empty array null unknown deep badid category country lang url noid controls \
    trailing; do
    bad "json $f" "$W/A" "$W/$f.json" -- "$JS" toolkit publish --home "$W/A" "$W/$f.json"
done
NOLINE=1 bad "json huge (over the size limit)" "$W/A" "$W/huge.json" -- "$JS" toolkit publish --home "$W/A" "$W/huge.json"
NOLINE=1 bad "json missing file" "$W/A" "$W/none.json" -- "$JS" toolkit publish --home "$W/A" "$W/none.json"

# ---- configuration file -----------------------------------------------------------------------
cp -a "$W/A" "$W/C"
CONF="$W/C/jetsync.conf"
cp "$CONF" "$W/conf.orig"
cfg() {
    local name=$1 edit=$2
    cp "$W/conf.orig" "$CONF"
    snap "$W/C" >"$W/cbefore"
    py "
import sys
p = sys.argv[1]
s = open(p, 'rb').read().decode('latin-1')
$edit
open(p, 'wb').write(s.encode('latin-1'))" "$CONF"
    for cmd in "status" "toolkit list" "stats show"; do
        # shellcheck disable=SC2086
        timeout 60 "$JS" $cmd --home "$W/C" >"$W/out" 2>"$W/err" </dev/null
        local rc=$?
        if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then
            nok "config $name ($cmd)" "exit status $rc"
            continue
        fi
        if [ "$(wc -l <"$W/err")" != 1 ] || ! grep -qE "^jetsync: .*jetsync\.conf(:[0-9]+)?: " "$W/err"; then
            nok "config $name ($cmd)" "want one line naming jetsync.conf:LINE"
            continue
        fi
        ok "config $name ($cmd)"
    done
    if [ -n "$JSD" ]; then
        timeout 20 "$JSD" --home "$W/C" --listen 127.0.0.1:0 >"$W/out" 2>"$W/err" </dev/null
        local rc=$?
        if [ $rc -eq 0 ] || [ $rc -ge 124 ] || ! grep -q "jetsync.conf" "$W/err"; then
            nok "config $name (jetsyncd)" "exit status $rc"
        else
            ok "config $name (jetsyncd)"
        fi
    fi
    cp "$W/conf.orig" "$CONF"
    snap "$W/C" >"$W/cafter"
    cmp -s "$W/cbefore" "$W/cafter" || nok "config $name" "the node changed"
}
cfg "max_frame not a number" "s = s.replace('max_frame = 1048576', 'max_frame = abc')"
cfg "max_frame below 4096" "s = s.replace('max_frame = 1048576', 'max_frame = 100')"
cfg "max_frame 10^23" "s = s.replace('max_frame = 1048576', 'max_frame = 99999999999999999999999')"
cfg "max_frame negative" "s = s.replace('max_frame = 1048576', 'max_frame = -1')"
cfg "k = 0" "s = s.replace('k = 5', 'k = 0')"
cfg "k = 1" "s = s.replace('k = 5', 'k = 1')"
cfg "sync at 25:00" "s = s.replace('at = \n', 'at = 25:00\n')"
cfg "sync every soon" "s = s.replace('every = \n', 'every = soon\n')"
cfg "idle_timeout 0" "s = s.replace('idle_timeout = 60s', 'idle_timeout = 0')"
cfg "idle_timeout 5x" "s = s.replace('idle_timeout = 60s', 'idle_timeout = 5x')"
cfg "unknown key" "s = s.replace('[stats]', '[stats]\ncolour = blue')"
cfg "unknown section" "s = s + '\n[bogus]\nx = 1\n'"
cfg "section without ]" "s = s.replace('[network]', '[network')"
cfg "line without =" "s = s.replace('[stats]', '[stats]\njust some words')"
cfg "role boss" "s = s.replace('role = region', 'role = boss')"
cfg "region with a space" "s = s.replace('region = IT-25', 'region = bad region')"
cfg "region missing" "s = s.replace('region = IT-25\n', '')"
cfg "publish_zeros maybe" "s = s.replace('publish_zeros = true', 'publish_zeros = maybe')"
cfg "epsilon -1" "s = s.replace('epsilon = 0.5', 'epsilon = -1')"
cfg "epsilon nan" "s = s.replace('epsilon = 0.5', 'epsilon = nan')"
cfg "listen without port" "s = s.replace('listen = 0.0.0.0:7420', 'listen = nowhere')"
cfg "listen port 70000" "s = s.replace('listen = 0.0.0.0:7420', 'listen = 0.0.0.0:70000')"
cfg "line of 5000 characters" "s = s.replace('name = Lombardia', 'name = ' + 'x' * 5000)"
cfg "NUL byte" "s = s.replace('name = Lombardia', 'name = Lom\x00bardia')"
cfg "invalid UTF-8 in a value" "s = s.replace('k = 5', 'k = 5\xff')"
cfg "empty file" "s = ''"

# ---- command-line arguments ------------------------------------------------------------------
KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
L="$W/L"
bad "args: unknown command" "$L" - --usage -- "$JS" frobnicate --home "$L"
bad "args: --home without value" "$L" - --usage -- "$JS" status --home
bad "args: unknown option" "$L" - --usage -- "$JS" status --home "$L" --bogus
bad "args: home that is not a node" "$L" - -- "$JS" status --home "$W/nowhere"
bad "args: peer add without --key" "$L" - --usage -- "$JS" peer add --home "$L" --name x
bad "args: peer add --name without value" "$L" - --usage -- "$JS" peer add --home "$L" --name
bad "args: node id too short" "$L" - -- "$JS" peer add --home "$L" --name x --key abc
bad "args: node id 44 characters" "$L" - -- "$JS" peer add --home "$L" --name x --key "${KEY}A"
bad "args: node id with '+' and '/'" "$L" - -- "$JS" peer add --home "$L" --name x --key "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+/A"
bad "args: node id with a space" "$L" - -- "$JS" peer add --home "$L" --name x --key "AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA"
bad "args: --addr without port" "$L" - -- "$JS" peer add --home "$L" --name x --key "$KEY" --addr nohostport
bad "args: --addr port 99999" "$L" - -- "$JS" peer add --home "$L" --name x --key "$KEY" --addr 1.2.3.4:99999
bad "args: --addr empty port" "$L" - -- "$JS" peer add --home "$L" --name x --key "$KEY" --addr host:
bad "args: --addr empty host" "$L" - -- "$JS" peer add --home "$L" --name x --key "$KEY" --addr :7420
bad "args: --addr port not a number" "$L" - -- "$JS" peer add --home "$L" --name x --key "$KEY" --addr host:http
bad "args: --role boss" "$L" - -- "$JS" peer add --home "$L" --name x --key "$KEY" --role boss
bad "args: peer name of 200 characters" "$L" - -- "$JS" peer add --home "$L" --name "$(printf 'n%.0s' $(seq 200))" --key "$KEY"
bad "args: peer remove unknown" "$L" - -- "$JS" peer remove --home "$L" ghost
bad "args: stats import --format bogus" "$W/A" - -- "$JS" stats import --home "$W/A" --format bogus "$W/good.csv"
bad "args: stats import without file" "$W/A" - --usage -- "$JS" stats import --home "$W/A"
bad "args: stats show unknown indicator" "$W/A" - -- "$JS" stats show --home "$W/A" --indicator DROPOUTS
bad "args: stats show bad period" "$W/A" - -- "$JS" stats show --home "$W/A" --period 2024/26
bad "args: toolkit list --category bogus" "$W/A" - -- "$JS" toolkit list --home "$W/A" --category bogus
bad "args: toolkit show unknown id" "$W/A" - -- "$JS" toolkit show --home "$W/A" no-such-entry
bad "args: toolkit show malformed id" "$W/A" - -- "$JS" toolkit show --home "$W/A" "x/y/z"
bad "args: toolkit withdraw unknown id" "$W/A" - -- "$JS" toolkit withdraw --home "$W/A" no-such-entry
bad "args: toolkit search without words" "$W/A" - -- "$JS" toolkit search --home "$W/A" "  ,;  "
bad "args: sync unknown peer" "$L" - -- "$JS" sync --home "$L" --peer nobody
bad "args: init on an existing node" "$L" - -- "$JS" init --home "$L" --name X --region SE-Y
bad "args: init with a bad region" "$L" - -- "$JS" init --home "$W/new1" --name X --region "bad region"
printf 'short' >"$W/shortkey"
bad "args: init with a network key of 5 bytes" "$L" - -- "$JS" init --home "$W/new2" --name X --region SE-Y --network-key "$W/shortkey"
[ -e "$W/new1" ] && nok "init with a bad region left a home behind" "$W/new1" || ok "init with a bad region left nothing behind"
[ -e "$W/new2/jetsync.conf" ] && nok "init with a bad key left a home behind" "$W/new2" || ok "init with a bad network key left nothing behind"
bad "args: report without --out" "$L" - --usage -- "$JS" report --home "$L"
if [ -n "$JSD" ]; then
    bad "args: jetsyncd --listen without port" "$L" - --usage -- "$JSD" --home "$L" --listen nowhere
    bad "args: jetsyncd --listen port 70000" "$L" - --usage -- "$JSD" --home "$L" --listen 127.0.0.1:70000
    bad "args: jetsyncd --sync-at 25:00" "$L" - --usage -- "$JSD" --home "$L" --listen 127.0.0.1:0 --sync-at 25:00
    bad "args: jetsyncd --sync-every soon" "$L" - --usage -- "$JSD" --home "$L" --listen 127.0.0.1:0 --sync-every soon
    bad "args: jetsyncd unknown option" "$L" - --usage -- "$JSD" --home "$L" --bogus
    bad "args: jetsyncd home that is not a node" "$L" - --usage -- "$JSD" --home "$W/nowhere" --listen 127.0.0.1:0
fi

echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
