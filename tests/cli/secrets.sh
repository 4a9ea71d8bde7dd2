#!/bin/sh
# No secret ever leaks (issue 10): a hostile server that echoes the API key
# into a long 401 JSON message, a 401 HTML page, a malformed event, a model
# list's 401 or a judge's 401, reports the Authorization header as its model
# name or says the key in its answer never gets the key, or a long piece of
# it (8 bytes or more), into stderr, stdout, the store, `ipw show` or an
# export. URL credentials are never printed or stored either.
set -u
. "$(dirname "$0")/lib/common.sh"
KEY=sk-test-HOSTILE-abcdefghijklmnop0123456789
PW=pw-HOSTILE-zyxwvutsrq9876543210
export IPW_API_KEY="$KEY"
COMMON="--idle-seconds 0 --backends none --no-host --warmup 0 --retries 0"

start_fakellm main --tokens 6

# leaks FILE...: fails when any file holds the key, the URL password or an 8-byte piece of either
leaks() {
	python3 - "$KEY" "$PW" "$@" <<'PY' || fail "a secret leaked: see above"
import sys
secrets, files = sys.argv[1:3], sys.argv[3:]
bad = 0
for f in files:
    data = open(f, "rb").read()
    for s in secrets:
        s = s.encode()
        for i in range(len(s) - 7):
            piece = s[i:i + 8]
            if piece in data:
                at = data.find(piece)
                print("%s: holds %r: ...%r..." % (f, piece, data[max(0, at - 40):at + 40]), file=sys.stderr)
                bad = 1
                break
sys.exit(bad)
PY
}

# dump STORE OUT: every text of every table of the store, as stored
dump() {
	python3 - "$1" >"$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.text_factory = bytes
for (t,) in db.execute("select name from sqlite_master where type = 'table'"):
    for row in db.execute("select * from %s" % t.decode()):
        for v in row:
            if isinstance(v, bytes):
                sys.stdout.buffer.write(v + b"\n")
PY
}

n=0
for sc in long401 html401 malformed_key auth_model echo_key; do
	for api in openai ollama; do
		n=$((n + 1))
		$IPW profile --url "$URL" --api $api --model fake-$sc --limit 2 --store "$TMP/s.db" \
			--name "$sc-$api" $COMMON >"$TMP/out.$n" 2>"$TMP/err.$n"
		$IPW show "$sc-$api" --store "$TMP/s.db" >>"$TMP/out.$n" 2>>"$TMP/err.$n"
		$IPW show "$sc-$api" --json --store "$TMP/s.db" >>"$TMP/out.$n" 2>>"$TMP/err.$n"
		$IPW export "$sc-$api" --format csv --store "$TMP/s.db" >>"$TMP/out.$n" 2>>"$TMP/err.$n"
		$IPW export "$sc-$api" --format jsonl --store "$TMP/s.db" >>"$TMP/out.$n" 2>>"$TMP/err.$n"
		leaks "$TMP/out.$n" "$TMP/err.$n"
	done
done
# the messages still say what happened
grep -q "HTTP 401" "$TMP/err.1" || fail "long 401 not reported: $(cat "$TMP/err.1")"
# jq FILE EXPR: EXPR over rows, the export's JSON lines
jq_rows() {
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(eval(sys.argv[2]))' "$1" "$2"
}
$IPW export long401-openai --format jsonl --store "$TMP/s.db" >"$TMP/l.jsonl"
expect_eq "401 recorded" "$(jq_rows "$TMP/l.jsonl" 'rows[0]["http_status"]')" 401
expect_eq "401 message kept" "$(jq_rows "$TMP/l.jsonl" '"Incorrect API key provided: Bearer [redacted]" in rows[0]["error_message"]')" True
$IPW export echo_key-openai --format jsonl --store "$TMP/s.db" >"$TMP/e.jsonl"
expect_eq "answer kept, key redacted" "$(jq_rows "$TMP/e.jsonl" 'rows[0]["answer"]')" "your key is Bearer [redacted] "
$IPW show auth_model-openai --json --store "$TMP/s.db" >"$TMP/am.json"
grep -q '"server_model": *"Bearer \[redacted\]"' "$TMP/am.json" || fail "server model: $(grep server_model "$TMP/am.json")"

# a model list that answers 401 with the key in a long message
start_fakellm m401 --models-401 1
$IPW profile --url "$URL" --store "$TMP/m.db" $COMMON >"$TMP/out.m" 2>"$TMP/err.m"
grep -q "401" "$TMP/err.m" || fail "model-list 401 not reported: $(cat "$TMP/err.m")"
leaks "$TMP/out.m" "$TMP/err.m"

# a judge that answers 401 with the key in a long message
start_fakellm judge
cat >"$TMP/j.jsonl" <<'JL'
{"id": "j1", "problem": "Say hi", "answer": "hi", "task": "judge_reference"}
JL
$IPW profile --url "$URL" --dataset "$TMP/j.jsonl" --store "$TMP/j.db" --name judged $COMMON >/dev/null 2>&1 ||
	fail "judge dataset run failed"
IPW_JUDGE_API_KEY="$KEY" $IPW score judged --judge-url "$URL" --judge-model fake-long401 --store "$TMP/j.db" \
	>"$TMP/out.j" 2>"$TMP/err.j"
grep -q "401" "$TMP/out.j" "$TMP/err.j" || fail "judge 401 not reported: $(cat "$TMP/out.j" "$TMP/err.j")"
$IPW export judged --format jsonl --store "$TMP/j.db" >>"$TMP/out.j" 2>&1
leaks "$TMP/out.j" "$TMP/err.j"

# URL credentials: never printed, never stored
hostport=${URL#http://}
$IPW profile --url "http://user:$PW@$hostport/" --limit 1 --store "$TMP/u.db" --name cred $COMMON \
	>"$TMP/out.u" 2>"$TMP/err.u" || fail "run with URL credentials failed: $(cat "$TMP/err.u")"
grep -q "url=http://$hostport" "$TMP/err.u" || fail "configuration line lacks the URL: $(cat "$TMP/err.u")"
$IPW show cred --json --store "$TMP/u.db" >>"$TMP/out.u" 2>>"$TMP/err.u"
$IPW runs --store "$TMP/u.db" >>"$TMP/out.u" 2>>"$TMP/err.u"
$IPW profile --url "http://user:$PW@127.0.0.1:9/" --limit 1 --store "$TMP/u.db" $COMMON >>"$TMP/out.u" 2>>"$TMP/err.u"
grep -q "could not reach" "$TMP/err.u" || fail "unreachable server with credentials: $(cat "$TMP/err.u")"

# a store written before texts were scrubbed (the key put back by hand): show and export still never print it
python3 - "$TMP/u.db" "$KEY" <<'PY' || fail "could not plant the key"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("update runs set server_model = ?", ("Bearer " + sys.argv[2],))
db.commit()
PY
$IPW show cred --store "$TMP/u.db" >"$TMP/out.old" 2>&1
$IPW show cred --json --store "$TMP/u.db" >>"$TMP/out.old" 2>&1
$IPW export cred --format jsonl --store "$TMP/u.db" >>"$TMP/out.old" 2>&1
$IPW export cred --format csv --store "$TMP/u.db" >>"$TMP/out.old" 2>&1
$IPW runs --store "$TMP/u.db" >>"$TMP/out.old" 2>&1
grep -q "redacted" "$TMP/out.old" || fail "the planted key was not shown redacted: $(cat "$TMP/out.old")"
leaks "$TMP/out.old"
rm -f "$TMP/u.db"

# every store, byte for byte
for db in s m j u; do
	[ -e "$TMP/$db.db" ] || continue
	dump "$TMP/$db.db" "$TMP/$db.dump"
	leaks "$TMP/$db.dump" "$TMP/out.u" "$TMP/err.u"
done
echo "secrets: ok"
