#!/bin/sh
# Every command answers 'ipw CMD -h', 'ipw CMD --help' and 'ipw help CMD' with
# its usage on stdout and exit 0; the command list comes from 'ipw help', so a
# new command is covered without editing this test. Also: the shared --format
# (text|json|csv, --json short for json) of the converted commands.
set -u
. "$(dirname "$0")/lib/common.sh"

cmds=$($IPW help | awk '/^  [a-z]/ {print $1}')
[ "$(echo "$cmds" | wc -w)" -ge 14 ] || fail "ipw help lists too few commands: $cmds"
for c in $cmds; do
	for form in "$c -h" "$c --help" "help $c"; do
		# shellcheck disable=SC2086
		$IPW $form >"$TMP/out" 2>"$TMP/err" || fail "ipw $form exited $?: $(cat "$TMP/err")"
		head -1 "$TMP/out" | grep -q "^usage: ipw $c" || fail "ipw $form: no usage on stdout: $(head -2 "$TMP/out")"
	done
done
# -h after other options, on the commands with shared handling
for c in "runs --store x.db" "export 1 --store x.db" "score 1 --store x.db" "profile --limit 2" "devices --json" \
	"show 1 --store x.db" "compare 1 2 --store x.db --csv" "report 1 --store x.db --out d"; do
	# shellcheck disable=SC2086
	$IPW $c -h >"$TMP/out" 2>&1 || fail "ipw $c -h exited $?"
	grep -q "^usage: ipw" "$TMP/out" || fail "ipw $c -h: no usage"
done
$IPW help nosuch >/dev/null 2>&1; expect_eq "ipw help nosuch" $? 2
$IPW nosuch >/dev/null 2>&1; expect_eq "ipw nosuch" $? 2

# --format on the converted commands
"$IPW_BUILD/fakes/mkstore" "$TMP/s.db" || fail "mkstore"
$IPW runs --store "$TMP/s.db" --format csv >"$TMP/r.csv" || fail "runs --format csv"
expect_eq "runs csv rows" "$(csv_query "$TMP/r.csv" 'len(rows)')" 3
expect_eq "runs csv energy" "$(csv_query "$TMP/r.csv" 'rows[0]["accel_energy_j"]')" 150.75
expect_eq "runs csv unmeasured is empty" "$(csv_query "$TMP/r.csv" 'rows[1]["accel_energy_j"]')" ""
$IPW runs --store "$TMP/s.db" --format json >"$TMP/a.json" || fail "runs --format json"
$IPW runs --store "$TMP/s.db" --json >"$TMP/b.json" || fail "runs --json"
cmp -s "$TMP/a.json" "$TMP/b.json" || fail "--json is not --format json"
$IPW runs --store "$TMP/s.db" --format jsonl >"$TMP/r.jsonl" || fail "runs --format jsonl"
expect_eq "runs jsonl lines" "$(python3 -c 'import json,sys; print(len([json.loads(l) for l in open(sys.argv[1])]))' "$TMP/r.jsonl")" 3
$IPW runs --store "$TMP/s.db" --format text | head -1 | grep -q "^ID " || fail "runs --format text"
$IPW runs --store "$TMP/s.db" --format xml 2>"$TMP/err"; rc=$?
expect_eq "runs --format xml" $rc 2
grep -q "takes text, json, csv, jsonl" "$TMP/err" || fail "bad --format message: $(cat "$TMP/err")"
$IPW devices --format json --backends nvidia >"$TMP/d.json" 2>/dev/null
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMP/d.json" || fail "devices --format json"
$IPW export 1 --store "$TMP/s.db" --format json 2>/dev/null; expect_eq "export --format json" $? 2
$IPW score 1 --store "$TMP/none.db" 2>"$TMP/err"; expect_eq "score, no store" $? 3
grep -q "no store at" "$TMP/err" || fail "score missing store: $(cat "$TMP/err")"
echo ok
