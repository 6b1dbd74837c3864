#!/usr/bin/env bash
# foundation.sh - black-box tests of the jetsync command line: init, id, peer, status, --help,
# secret key permissions and configuration errors. Drives the real binary given in $JETSYNC.
set -euo pipefail

: "${JETSYNC:?set JETSYNC to the jetsync binary}"
J=$JETSYNC
T=$(mktemp -d /tmp/jetsync-cli-XXXXXX)
MNT=$T/full
cleanup() {
    if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || umount -l "$MNT"; fi
    rm -rf "$T"
}
trap cleanup EXIT

pass=0
failed=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# run CMD...: stdout -> $T/out, stderr -> $T/err, exit status -> $rc (never aborts the script).
rc=0
run() {
    set +e
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    set -e
}

show() { sed 's/^/     | /' "$T/err" | head -5; }

# succeeds NAME CMD...: exit 0.
succeeds() {
    local name=$1
    shift
    run "$@"
    if [ "$rc" -eq 0 ]; then ok "$name"; else bad "$name (exit $rc)"; show; fi
}

# refuses NAME REGEX CMD...: non-zero exit and exactly one line on stderr, "jetsync: ...",
# matching the extended regular expression REGEX.
refuses() {
    local name=$1 re=$2
    shift 2
    run "$@"
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$rc" -eq 0 ]; then
        bad "$name (exit 0)"
    elif [ "$lines" -ne 1 ]; then
        bad "$name ($lines lines on stderr, want 1)"
        show
    elif ! grep -q '^jetsync: ' "$T/err"; then
        bad "$name (stderr does not start with 'jetsync: ')"
        show
    elif ! grep -Eq -- "$re" "$T/err"; then
        bad "$name (stderr does not match /$re/)"
        show
    else
        ok "$name"
    fi
}

# check NAME CMD...: the command (a test) succeeds.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

json_ok() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null; }
# json_expr FILE EXPR: evaluates a Python expression over the document `d`; true if truthy.
json_expr() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null
}
fingerprint() { (cd "$1" && find . -exec stat -c '%n %a %s %Y' {} + | sort && find . -type f -exec sha256sum {} + | sort); }

A=$T/a
B=$T/b

# ---- init ------------------------------------------------------------------------------------
run "$J" init --home "$A" --name "Partner A" --region SE-Y
if [ "$rc" -eq 0 ] && grep -Eq '^[A-Za-z0-9_-]{43}$' "$T/out" && [ "$(wc -l <"$T/out")" -eq 1 ]; then
    ok "init prints a 43-character base64url node id"
else
    bad "init prints a 43-character node id (exit $rc, stdout: $(head -c 100 "$T/out"))"
    show
fi
ID_A=$(cat "$T/out")
check "identity.key has mode 600" test "$(stat -c %a "$A/identity.key")" = 600
check "network.key has mode 600" test "$(stat -c %a "$A/network.key")" = 600
check "jetsync.conf exists" test -s "$A/jetsync.conf"
check "the store exists" test -s "$A/store/data.mdb"
run "$J" id --home "$A"
check "id prints the same id" test "$rc" -eq 0 -a "$(cat "$T/out")" = "$ID_A"
run env JETSYNC_HOME="$A" "$J" id
check "id finds the home through \$JETSYNC_HOME" test "$rc" -eq 0 -a "$(cat "$T/out")" = "$ID_A"

before=$(fingerprint "$A")
refuses "second init refuses" 'already' "$J" init --home "$A" --name "Other" --region IT-25
refuses "second init with --lead refuses" 'already' "$J" init --home "$A" --name X --region SE-Y --lead
refuses "second init with a new --network-key refuses" 'already' \
    "$J" init --home "$A" --name X --region SE-Y --network-key "$T/new-netkey"
check "second init changed nothing" test "$before" = "$(fingerprint "$A")"
check "second init created no network key file" test ! -e "$T/new-netkey"
run "$J" id --home "$A"
check "the node id is unchanged" test "$(cat "$T/out")" = "$ID_A"

run "$J" init --home "$T/c" --name C
check "init without --region is a usage error" test "$rc" -ne 0
check "  ... that prints the usage" grep -q 'usage' "$T/err"
check "  ... and creates nothing" test ! -e "$T/c"
run "$J" init --home "$T/c" --region SE-Y
check "init without --name is a usage error" test "$rc" -ne 0 -a ! -e "$T/c"
for region in se-y "SE Y" S "SE-Y;rm" "" "ABCDEFGHIJKLMNOPQ"; do
    refuses "init --region '$region' is refused" '--region' "$J" init --home "$T/c" --name C --region "$region"
done
check "  ... and none of them created the home" test ! -e "$T/c"
for name in "Partner ; A" " padded" "padded " "$(printf 'tab\there')" "$(printf 'new\nline')" \
    "$(printf '%0128d' 0)"; do
    shown=${name//$'\n'/\\n}
    refuses "init --name '${shown//$'\t'/\\t}' is refused" '--name' "$J" init --home "$T/c" --name "$name" --region SE-Y
done
check "  ... and none of them created the home" test ! -e "$T/c"
run "$J" init --home "$T/n" --name "Région Île-de-France; Paris #1 [test] = x" --region FR-IDF
check "init keeps an unusual name exactly" test "$rc" -eq 0
run "$J" status --home "$T/n" --json
check "  ... status shows it unchanged" json_expr "$T/out" "d['name'] == 'Région Île-de-France; Paris #1 [test] = x'"
run "$J" init --home "$T/c" --name C --region SE-Y --colour red
check "init with an unknown option is a usage error" test "$rc" -ne 0 -a ! -e "$T/c"

# --network-key: created if absent (mode 600) and shared by a second node.
run "$J" init --home "$B" --name "Partner B" --region IT-25 --lead --network-key "$T/consortium.key"
check "init --network-key FILE creates FILE when absent" test "$rc" -eq 0 -a -f "$T/consortium.key"
check "  ... 32 bytes, mode 600" test "$(stat -c '%s %a' "$T/consortium.key")" = "32 600"
check "  ... and the node holds the same key" cmp -s "$T/consortium.key" "$B/network.key"
ID_B=$(cat "$T/out")
check "two nodes have different ids" test "$ID_A" != "$ID_B"
run "$J" init --home "$T/b2" --name "Partner B2" --region IT-26 --network-key "$T/consortium.key"
check "a second node reuses an existing network key file" cmp -s "$T/consortium.key" "$T/b2/network.key"
printf 'short' >"$T/short.key"
refuses "a network key file of the wrong size is refused" '32 bytes' \
    "$J" init --home "$T/d" --name D --region SE-Y --network-key "$T/short.key"
check "  ... and nothing is left of the new home" test ! -e "$T/d"
# The consortium key placed in the home before init is used, never deleted.
mkdir -p "$T/e"
cp "$T/consortium.key" "$T/e/network.key"
chmod 600 "$T/e/network.key"
succeeds "init --network-key HOME/network.key works" \
    "$J" init --home "$T/e" --name E --region SE-Y --network-key "$T/e/network.key"
check "  ... and keeps the key" cmp -s "$T/consortium.key" "$T/e/network.key"
# A failure after the first files were written removes what init made, and only that.
mkdir -p "$T/f"
touch "$T/f/store" # a file where the store directory must go
cp "$T/consortium.key" "$T/f/keep.key"
run "$J" init --home "$T/f" --name F --region SE-Y --network-key "$T/f/new.key"
check "init fails when the store cannot be made" test "$rc" -ne 0
check "  ... removing the keys and config it wrote" \
    test ! -e "$T/f/identity.key" -a ! -e "$T/f/network.key" -a ! -e "$T/f/jetsync.conf" -a ! -e "$T/f/new.key"
check "  ... but not what was there before" test -f "$T/f/store" -a -f "$T/f/keep.key"

# An init killed part-way: its leftovers are never taken for a node, and init starts over.
G=$T/g
succeeds "init for the interrupted-init case" "$J" init --home "$G" --name G --region SE-Y
OLD_G=$("$J" id --home "$G")
: >"$G/.init-unfinished" # as left by a kill after identity.key, before jetsync.conf
rm "$G/jetsync.conf"
refuses "a home left by a killed init is not opened" "init' was interrupted" "$J" id --home "$G"
run "$J" init --home "$G" --name G --region SE-Y
check "init over a killed init's leftovers succeeds" test "$rc" -eq 0
check "  ... with a new identity, and no marker left" \
    test "$(cat "$T/out")" != "$OLD_G" -a ! -e "$G/.init-unfinished"
succeeds "  ... and the node opens" "$J" status --home "$G"
# A consortium key put in the home by hand before that init is kept.
H=$T/h
mkdir -p "$H/store"
cp "$T/consortium.key" "$H/network.key"
chmod 600 "$H/network.key"
printf 'keep network.key\n' >"$H/.init-unfinished"
printf 'half' >"$H/identity.key"
succeeds "init over leftovers, the hand-placed network key given" \
    "$J" init --home "$H" --name H --region SE-Y --network-key "$H/network.key"
check "  ... keeps that key" cmp -s "$T/consortium.key" "$H/network.key"
# The real thing: init killed with SIGKILL at random moments, then run again.
interrupted=0
broken=0
for i in $(seq 1 40); do
    K=$T/k$i
    "$J" init --home "$K" --name K --region SE-Y >/dev/null 2>&1 &
    victim=$!
    sleep "$(printf '0.%04d' $((RANDOM % 120)))"
    kill -9 "$victim" 2>/dev/null || true
    wait "$victim" 2>/dev/null || true
    if "$J" id --home "$K" >/dev/null 2>&1; then
        continue # it finished first
    fi
    [ -e "$K/.init-unfinished" ] && interrupted=$((interrupted + 1))
    if ! "$J" init --home "$K" --name K --region SE-Y >/dev/null 2>"$T/err" ||
        ! "$J" id --home "$K" >/dev/null 2>&1; then
        broken=$((broken + 1))
        show
    fi
done
check "init killed 40 times at random moments: every home opens after one more init" \
    test "$broken" -eq 0
echo "     ($interrupted of the kills left an unfinished init behind)"

# ---- secret key permissions -------------------------------------------------------------------
for mode in 644 640 604 660; do
    chmod "$mode" "$A/identity.key"
    for cmd in "id" "peer list" "peer list --json" "status" "status --json" \
        "peer add --name z --key $ID_B" "peer remove z" \
        "toolkit list" "stats show" "sync" "report --out $T/r.html"; do
        # shellcheck disable=SC2086
        refuses "identity.key mode $mode: '$cmd' refuses" "mode.*$mode|$mode.*mode" "$J" $cmd --home "$A"
    done
done
chmod 600 "$A/identity.key"
chmod 644 "$A/network.key"
refuses "network.key mode 644: 'status' refuses" 'mode.*644' "$J" status --home "$A"
chmod 600 "$A/network.key"
chmod 400 "$A/identity.key"
succeeds "identity.key mode 400 is accepted" "$J" id --home "$A"
chmod 600 "$A/identity.key"
succeeds "mode 600 again: status works" "$J" status --home "$A"

# ---- peers ------------------------------------------------------------------------------------
refuses "peer add: a key that is not a node id" '--key' "$J" peer add --home "$A" --name b --key not-a-key
refuses "peer add: a key one character short" '--key' "$J" peer add --home "$A" --name b --key "${ID_B:1}"
refuses "peer add: a key with a bad character" '--key' "$J" peer add --home "$A" --name b --key "${ID_B:0:42}+"
refuses "peer add: own key" 'own' "$J" peer add --home "$A" --name self --key "$ID_A"
for addr in "host" "host:" ":7420" "host:0" "host:65536" "host:http" "host:7420x" "host: 80" \
    "host:+80" "host:-1" "host:0000080"; do
    refuses "peer add: --addr '$addr'" '--addr' "$J" peer add --home "$A" --name b --key "$ID_B" --addr "$addr"
done
refuses "peer add: --role boss" '--role' "$J" peer add --home "$A" --name b --key "$ID_B" --role boss
refuses "peer add: an empty --name" '--name' "$J" peer add --home "$A" --name "" --key "$ID_B"
run "$J" peer list --home "$A" --json
check "refused peer adds stored nothing" json_expr "$T/out" 'd == []'

for addr in "[::1]:7420" "node-1.example.org:1" "10.0.0.1:65535"; do
    succeeds "peer add: --addr '$addr' is accepted" "$J" peer add --home "$T/b2" --name "p-$addr" --key "$ID_B" --addr "$addr"
    "$J" peer remove --home "$T/b2" "p-$addr" 2>/dev/null
done
succeeds "peer add" "$J" peer add --home "$A" --name partner-b --key "$ID_B" --addr 127.0.0.1:7420 --role lead
refuses "peer add: the same key under another name" 'already' "$J" peer add --home "$A" --name b-again --key "$ID_B"
refuses "peer add: the same name with another key" 'another key' "$J" peer add --home "$A" --name partner-b --key "$("$J" id --home "$T/b2")"
succeeds "peer add: a second peer" "$J" peer add --home "$A" --name partner-e --key "$("$J" id --home "$T/e")"
run "$J" peer list --home "$A" --json
check "peer list --json is valid JSON" json_ok "$T/out"
check "  ... with both peers, their fields and values" json_expr "$T/out" \
    "len(d) == 2 and d[0]['name'] == 'partner-b' and d[0]['key'] == '$ID_B' and d[0]['addr'] == '127.0.0.1:7420' and d[0]['role'] == 'lead' and d[0]['revoked'] is False and d[1]['role'] == 'region'"
run "$J" peer list --home "$A"
check "peer list (text) shows the peer" grep -q "partner-b.*lead.*active" "$T/out"

succeeds "peer remove" "$J" peer remove --home "$A" partner-b
run "$J" peer list --home "$A" --json
check "after remove, peer list --json shows it revoked" json_expr "$T/out" \
    "[p['revoked'] for p in d if p['name'] == 'partner-b'] == [True] and [p['revoked'] for p in d if p['name'] == 'partner-e'] == [False]"
run "$J" peer list --home "$A"
check "after remove, peer list (text) shows it revoked" grep -q "partner-b.*revoked" "$T/out"
# A key revoked under one name and added again under another is live under the new name: it
# cannot be added a third time (the revoked entry must not hide the live one).
ID_B2=$("$J" id --home "$T/b2")
succeeds "peer add: a key revoked under another name" "$J" peer add --home "$A" --name partner-b-new --key "$ID_B"
refuses "peer add: that key again under a third name" "already the peer 'partner-b-new'" \
    "$J" peer add --home "$A" --name partner-b-third --key "$ID_B"
succeeds "peer remove: the re-added key" "$J" peer remove --home "$A" partner-b-new
succeeds "peer add: the first name again, after both are revoked" \
    "$J" peer add --home "$A" --name partner-b --key "$ID_B"
run "$J" peer list --home "$A" --json
check "  ... it is live again under that name" json_expr "$T/out" \
    "[p['revoked'] for p in d if p['name'] == 'partner-b'] == [False]"
succeeds "peer remove: and revoked again" "$J" peer remove --home "$A" partner-b
refuses "peer add: an active name with another key is refused" "another key" \
    "$J" peer add --home "$A" --name partner-e --key "$ID_B2"
refuses "peer remove: an unknown peer" 'no peer' "$J" peer remove --home "$A" nobody
run "$J" peer
check "peer without a subcommand is a usage error" test "$rc" -ne 0
refuses "peer: an unknown subcommand" 'unknown' "$J" peer frobnicate --home "$A"

# ---- status -----------------------------------------------------------------------------------
run "$J" status --home "$A" --json
check "status --json exits 0" test "$rc" -eq 0
check "status --json is valid JSON" json_ok "$T/out"
check "  ... with \"logs\" and \"peers\" lists" json_expr "$T/out" \
    "isinstance(d['logs'], list) and isinstance(d['peers'], list) and len(d['peers']) == 3"
check "  ... the node id, region and role" json_expr "$T/out" \
    "d['node_id'] == '$ID_A' and d['region'] == 'SE-Y' and d['role'] == 'region'"
check "  ... and the revoked peer as revoked" json_expr "$T/out" \
    "[p['state'] for p in d['peers'] if p['name'] == 'partner-b'] == ['revoked']"
run "$J" status --home "$B" --json
check "status --json of the lead says lead" json_expr "$T/out" "d['role'] == 'lead' and d['peers'] == []"
succeeds "status (text)" "$J" status --home "$A"
refuses "status of a home with no node" 'init' "$J" status --home "$T/nothing-here"
run "$J" status --home "$A" extra-argument
check "status with an extra argument is a usage error" test "$rc" -ne 0

# ---- commands and --help ----------------------------------------------------------------------
refuses "an unknown command" "unknown command" "$J" frobnicate
run "$J"
check "no command: usage, non-zero" test "$rc" -ne 0
succeeds "jetsync --help" "$J" --help
commands=$(sed -n 's/^  \([a-z]\+\) .*/\1/p' "$T/out")
check "--help lists the foundation commands" test -n "$(echo "$commands" | grep -x init)" -a -n "$(echo "$commands" | grep -x status)"
for c in $commands; do
    run "$J" "$c" --help
    if [ "$rc" -eq 0 ] && grep -q 'usage' "$T/out"; then
        ok "jetsync $c --help exits 0 and prints usage on stdout"
    else
        bad "jetsync $c --help (exit $rc)"
        show
    fi
done
for sub in add list remove; do
    succeeds "jetsync peer $sub --help" "$J" peer "$sub" --help
done

# ---- configuration errors ---------------------------------------------------------------------
cp "$A/jetsync.conf" "$T/conf.orig"
lines=$(wc -l <"$A/jetsync.conf")
printf '[stats]\nk = 1\n' >>"$A/jetsync.conf"
refuses "a bad value in jetsync.conf names file and line" "jetsync.conf:$((lines + 2)): \\[stats\\] k: bad value" \
    "$J" status --home "$A"
cp "$T/conf.orig" "$A/jetsync.conf"
sed -i 's/^max_frame = .*/max_frame = lots/' "$A/jetsync.conf"
line=$(grep -n '^max_frame' "$A/jetsync.conf" | cut -d: -f1)
refuses "a bad max_frame names its line ($line)" "jetsync.conf:$line: \\[network\\] max_frame" "$J" id --home "$A"
cp "$T/conf.orig" "$A/jetsync.conf"
printf 'colour = blue\n' >>"$A/jetsync.conf"
refuses "an unknown key names its line" "jetsync.conf:$((lines + 1)): .*colour: unknown key" "$J" peer list --home "$A"
cp "$T/conf.orig" "$A/jetsync.conf"
sed -i '3s/.*/this is not ini/' "$A/jetsync.conf"
refuses "a syntax error names its line" "jetsync.conf:3: syntax error" "$J" status --home "$A" --json
cp "$T/conf.orig" "$A/jetsync.conf"
succeeds "the restored config works" "$J" status --home "$A"

# ---- a full disk (root only: a 2 MiB tmpfs) ----------------------------------------------------
mkdir -p "$MNT"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=2m tmpfs "$MNT" 2>/dev/null; then
    succeeds "init on a small file system" "$J" init --home "$MNT/node" --name Full --region SE-Y
    # Fill the file system, leaving the node as it is.
    dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null || true
    added=0
    full_rc=0
    for i in $(seq 1 500); do
        run "$J" peer add --home "$MNT/node" --name "p$i" --key "$ID_B" --addr "host$i.example:7420"
        # every add uses the same key under a new name: revoke each right away
        if [ "$rc" -ne 0 ]; then full_rc=$rc; break; fi
        run "$J" peer remove --home "$MNT/node" "p$i"
        if [ "$rc" -ne 0 ]; then full_rc=$rc; break; fi
        added=$i
    done
    cp "$T/err" "$T/full.err"
    check "writing on a full disk fails ($added peers added first)" test "$full_rc" -ne 0
    check "  ... with one line saying the disk is full" \
        test "$(wc -l <"$T/full.err")" -eq 1 -a -n "$(grep 'disk full' "$T/full.err")"
    rm -f "$MNT/filler"
    run "$J" peer list --home "$MNT/node" --json
    check "  ... and the store holds exactly the commands that succeeded" \
        json_expr "$T/out" "len(d) in ($added, $added + 1) and all(p['revoked'] for p in d if p['name'] != 'p$((added + 1))')"
    succeeds "  ... and takes writes again once there is space" \
        "$J" peer add --home "$MNT/node" --name after --key "$ID_B2"
    umount "$MNT" || umount -l "$MNT"
else
    echo "skip full-disk test: not root or cannot mount a tmpfs"
fi

echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
