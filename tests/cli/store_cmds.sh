#!/bin/sh
# ipw runs / show / export against a store built by build/fakes/mkstore with
# known runs: table and JSON listings, show's totals and "not measured",
# CSV header/values/quoting, JSONL that parses, exit 3 for unknown runs and
# missing stores (which must not be created).
set -u
: "${IPW:?}" "${IPW_BUILD:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
DB="$T/s.db"
"$IPW_BUILD/fakes/mkstore" "$DB" || fail "mkstore"

# runs: three runs, alpha with 3/3 done, 1 failed, 150.8 J
out=$("$IPW" runs --store "$DB") || fail "ipw runs exit $?"
echo "$out"
[ "$(echo "$out" | wc -l)" = 4 ] || fail "runs: expected header + 3 lines"
echo "$out" | grep -Eq '^1 +alpha +completed +qwen3:4b +2023-11-14T22:13:20Z +3/3 +1 +150\.8$' || fail "runs: alpha line"
echo "$out" | grep -Eq '^3 +dup +interrupted .* 0/\? +0 +-$' || fail "runs: run 3 line"

# runs --json parses and holds the numbers (python3 checks when present)
"$IPW" runs --store "$DB" --json >"$T/runs.json" || fail "runs --json"
if command -v python3 >/dev/null; then
	python3 - "$T/runs.json" <<'PY' || fail "runs --json content"
import json, sys
r = json.load(open(sys.argv[1]))
assert [x["id"] for x in r] == [1, 2, 3], r
assert r[0]["items_done"] == 3 and r[0]["failed"] == 1 and r[0]["ok"] == 2
assert abs(r[0]["accel_energy_j"] - 150.75) < 1e-9
assert r[2]["accel_energy_j"] is None and r[2]["items_planned"] is None
PY
fi

# show: by id, by unique name, by "last"
out=$("$IPW" show alpha --store "$DB") || fail "show alpha exit $?"
echo "$out" | grep -q 'queries          2 ok, 1 failed (of 3 planned)' || fail "show: counts"
echo "$out" | grep -q 'total 150.8 J (all queries); mean 75.375 J' || fail "show: energy"
echo "$out" | grep -q 'latency          mean 1.500 s, p50 1.500 s, p99 1.990 s' || fail "show: latency"
echo "$out" | grep -q 'host energy      total not measured' || fail "show: not measured"
echo "$out" | grep -q 'uuid GPU-0001' || fail "show: uuid"
echo "$out" | grep -q 'before 70.50 W, after 71.50 W' || fail "show: idle baselines"
echo "$out" | grep -q '"top_p": 0.95' || fail "show: configuration"
echo "$out" | grep -q 'queries          2 scored (1 correct), 1 failed and 0 unscored excluded' || fail "show: scoring counts"
echo "$out" | grep -Eq 'accuracy +0\.5 +\[0, 1\]' || fail "show: accuracy"
echo "$out" | grep -Eq 'IPW +0\.00995 +/W' || fail "show: IPW = 0.5 / 50.25 W"
"$IPW" show last --store "$DB" | grep -q '^run 3 ' || fail "show last"
"$IPW" show 1 --store "$DB" --json >"$T/j1" && "$IPW" show 1 --store "$DB" --format json >"$T/j2" || fail "show --format json"
cmp -s "$T/j1" "$T/j2" || fail "show --json is not --format json"
"$IPW" show 1 --store "$DB" --format csv 2>/dev/null; [ $? = 2 ] || fail "show --format csv: want exit 2"
"$IPW" show 3 --store "$DB" | grep -q 'mean power       not measured' || fail "show 3: power not measured"
if command -v python3 >/dev/null; then
	"$IPW" show 1 --store "$DB" --json | python3 -c '
import json, sys
o = json.load(sys.stdin)
t = o["totals"]
assert o["id"] == 1 and o["config"]["max_tokens"] == 32768
assert t["ok"] == 2 and t["failed"] == 1 and t["host_energy_total_j"] is None
assert abs(t["accel_energy_mean_j"] - 75.375) < 1e-9
assert o["sources"][1]["uuid"] == "GPU-0001" and o["scoring"]["graders"] == {"mcq": 2}
assert o["n_scored"] == 2 and o["n_failed"] == 1 and o["n_unscored"] == 0
assert o["accuracy"]["value"] == 0.5 and abs(o["ipw"]["value"] - 0.5 / 50.25) < 1e-9
assert o["ipw"]["ci_low"] <= o["ipw"]["value"] <= o["ipw"]["ci_high"]
' || fail "show --json"
fi

# export csv: header, values, RFC 4180 quoting, empty cells for NAN, latest score
"$IPW" export 1 --store "$DB" --format csv --out "$T/q.csv" || fail "export csv"
head -1 "$T/q.csv" | grep -q '^seq,item_id,subject,task,status,finish_reason,latency_s,ttft_s,tpot_s,prompt_tokens,completion_tokens,reasoning_tokens,energy_j,energy_dynamic_j,host_energy_j,total_energy_j,avg_power_w,peak_power_w,temp_max_c,attempts,error_kind,http_status,correct,energy_method,output_tokens_per_s,logprob_sum,logprob_tokens,perplexity$' || fail "csv header"
[ "$(wc -l <"$T/q.csv")" = 4 ] || fail "csv: 3 rows"
sed -n 2p "$T/q.csv" | grep -qx '0,q0,science,mcq,ok,stop,2,0.25,0.01,100,175,0,100.5,50.25,,,50.25,80,,2,,200,1,measured,87.5,,,' || fail "csv row q0"
sed -n 3p "$T/q.csv" | grep -q '^1,"q1,""odd""",science,mcq,failed,' || fail "csv quoting"
sed -n 4p "$T/q.csv" | grep -q ',200,0,measured,[0-9.e+-]*,,,$' || fail "csv: latest score wins"

# export jsonl: every line parses; texts included; null for unmeasured
"$IPW" export alpha --store "$DB" --format jsonl >"$T/q.jsonl" || fail "export jsonl"
[ "$(wc -l <"$T/q.jsonl")" = 3 ] || fail "jsonl: 3 lines"
if command -v python3 >/dev/null; then
	python3 - "$T/q.jsonl" <<'PY' || fail "jsonl content"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["seq"] for r in rows] == [0, 1, 2]
assert rows[0]["answer"] == "The answer is B.\nAnswer: B" and rows[0]["correct"] is True
assert rows[1]["item_id"] == 'q1,"odd"' and rows[1]["energy_j"] is None and rows[1]["correct"] is None
assert rows[2]["correct"] is False and rows[0]["energy_by_source"][1]["gross_j"] == 40.0
PY
fi

# errors: unknown run -> 3 with the message; ambiguous name -> 3; bad format -> 2
"$IPW" show 42 --store "$DB" 2>"$T/err"; rc=$?
[ $rc = 3 ] || fail "unknown run: exit $rc, want 3"
grep -q "no run '42' in $DB (ipw runs lists them)" "$T/err" || fail "unknown run message: $(cat "$T/err")"
"$IPW" export nosuch --store "$DB" --format csv 2>"$T/err"; rc=$?
[ $rc = 3 ] || fail "export unknown run: exit $rc"
grep -q "no run 'nosuch'" "$T/err" || fail "export unknown run message"
"$IPW" show dup --store "$DB" 2>"$T/err"; rc=$?
[ $rc = 3 ] && grep -q "several runs" "$T/err" || fail "ambiguous name: exit $rc"
"$IPW" export 1 --store "$DB" --format xml 2>/dev/null; rc=$?
[ $rc = 2 ] || fail "bad format: exit $rc"

# missing store: exit 3, clear message, nothing created
for c in "runs" "show 1" "export 1 --format csv"; do
	# shellcheck disable=SC2086
	"$IPW" $c --store "$T/none.db" 2>"$T/err"; rc=$?
	[ $rc = 3 ] || fail "$c on a missing store: exit $rc"
	grep -q "no store at '$T/none.db'" "$T/err" || fail "$c: missing-store message"
	[ ! -e "$T/none.db" ] || fail "$c created the store"
done
# a file that is not a store
echo "hello" >"$T/text.db"
"$IPW" runs --store "$T/text.db" 2>"$T/err"; rc=$?
[ $rc = 3 ] && grep -q "not an ipw store" "$T/err" || fail "non-store file: exit $rc $(cat "$T/err")"
# read-only: a store copy (0444) in a 0555 directory; read commands must work
# and change nothing (bytes, mtime, no -wal/-shm) even as root, who bypasses
# permission bits.
mkdir "$T/ro"
cp "$DB" "$T/ro/s.db"
touch -d '2020-01-01 00:00:00' "$T/ro/s.db"
chmod 0444 "$T/ro/s.db"
chmod 0555 "$T/ro"
sum0=$(cksum <"$T/ro/s.db"); mt0=$(stat -c %Y "$T/ro/s.db")
"$IPW" runs --store "$T/ro/s.db" >/dev/null 2>"$T/err" || fail "runs on a read-only store: $(cat "$T/err")"
"$IPW" show 1 --store "$T/ro/s.db" >/dev/null 2>"$T/err" || fail "show on a read-only store: $(cat "$T/err")"
"$IPW" export 1 --store "$T/ro/s.db" --format csv >/dev/null 2>"$T/err" || fail "export on a read-only store: $(cat "$T/err")"
[ "$(cksum <"$T/ro/s.db")" = "$sum0" ] || fail "read-only store: bytes changed"
[ "$(stat -c %Y "$T/ro/s.db")" = "$mt0" ] || fail "read-only store: mtime changed"
[ ! -e "$T/ro/s.db-wal" ] && [ ! -e "$T/ro/s.db-shm" ] || fail "read-only store: -wal/-shm created"
chmod 0755 "$T/ro"
# IPW_STORE names the store when --store is not given
IPW_STORE="$DB" "$IPW" runs | grep -Eq '^1 +alpha ' || fail "IPW_STORE not used"
# PostgreSQL URIs go to PostgreSQL: no server on port 1 is a clear error (exit 3), no password printed
"$IPW" runs --store postgresql://u:hunter2@127.0.0.1:1/ipw 2>"$T/err"; rc=$?
[ $rc = 3 ] && grep -q "cannot connect to PostgreSQL" "$T/err" && ! grep -q hunter2 "$T/err" ||
	fail "postgres uri: $rc $(cat "$T/err")"
# the store's URI scheme picks the back-end: sqlite: and file: name the same file; an unknown scheme lists the known ones
"$IPW" runs --store "sqlite:$DB" | grep -Eq '^1 +alpha ' || fail "sqlite: URI"
"$IPW" runs --store "file://$DB" | grep -Eq '^1 +alpha ' || fail "file: URI"
"$IPW" runs --store mysql://127.0.0.1/ipw 2>"$T/err"; rc=$?
[ $rc = 3 ] && grep -q "unknown store scheme 'mysql' (known: sqlite:, file: (sqlite), postgresql:, postgres: (postgresql); a file path" "$T/err" ||
	fail "unknown scheme: $rc $(cat "$T/err")"
# a foreign SQLite file is refused and left byte-for-byte unchanged
if command -v python3 >/dev/null; then
	python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("create table t(x)"); c.execute("insert into t values (1)"); c.commit(); c.close()' "$T/foreign.db"
	fsum=$(cksum <"$T/foreign.db")
	for c in "runs" "show 1"; do
		# shellcheck disable=SC2086
		"$IPW" $c --store "$T/foreign.db" 2>"$T/err"; rc=$?
		[ $rc = 3 ] && grep -q "not an ipw store" "$T/err" || fail "foreign db ($c): exit $rc $(cat "$T/err")"
		[ "$(cksum <"$T/foreign.db")" = "$fsum" ] || fail "foreign db ($c): file modified"
		[ ! -e "$T/foreign.db-wal" ] || fail "foreign db ($c): -wal created"
	done
fi
echo "ok"
