#!/bin/sh
# Silent mistakes are errors that say what to do (issue 10): a bad
# --fake-profile (devices showed the reason, profile ran without a source),
# --sweep given twice (one was dropped), an empty sweep point
# (concurrency=1,,4 was accepted) and an unknown --backends name (nvida:
# everything "not requested", exit 0). Each exits 2 before anything is sent.
set -u
. "$(dirname "$0")/lib/common.sh"
start_fakellm main --tokens 4

# try WANT-IN-MESSAGE ARGS...: ipw profile ARGS must exit 2 naming the mistake, recording nothing
try() {
	want=$1; shift
	$IPW profile --url "$URL" --limit 1 --idle-seconds 0 --no-host --warmup 0 --store "$TMP/m.db" "$@" \
		>"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ $rc = 2 ] || fail "$*: exit $rc, want 2: $(cat "$TMP/err")"
	grep -qF -- "$want" "$TMP/err" || fail "$*: message lacks '$want': $(cat "$TMP/err")"
	[ ! -e "$TMP/m.db" ] || fail "$*: a store was written"
}

try "'garbage' is not NAME=WAVEFORM" --fake-profile garbage
try "fake-backend.md" --fake-profile "gpu0=wobble:5"
try "cannot open $TMP/none.trace" --fake-trace "$TMP/none.trace"
try "--sweep is given twice" --sweep concurrency=1,2 --sweep rate=1,2
try "has an empty value" --sweep concurrency=1,,4
try "has an empty value" --sweep concurrency=1,4,
try "is not a whole concurrency" --sweep concurrency=1,2.5
try "unknown back-end 'nvida'" --backends nvida
try "unknown back-end 'nvida'" --backends fake,nvida
try "has an empty name" --backends fake,,nvidia
# the right spellings still run
$IPW profile --url "$URL" --limit 1 --idle-seconds 0 --no-host --warmup 0 --store "$TMP/ok.db" --quiet \
	--backends fake --fake-profile "gpu0=const:50" >/dev/null 2>"$TMP/err" || fail "a good run failed: $(cat "$TMP/err")"
echo "mistakes: ok"
