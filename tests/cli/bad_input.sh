#!/bin/sh
# Hostile input fails fast, with bounded memory and a clear message:
# --dataset /dev/zero stops at the 16 MiB line cap naming file and line (it
# used to abort out of memory), and a regex answer of 'a' with 20 or 24 '+'
# (glibc regcomp needed 728 MB / 1.5 GiB) is a dataset error naming the line.
# Plain builds run under a 256 MiB address-space limit; sanitizer builds
# (which reserve terabytes of shadow) under ASan's 512 MiB RSS limit instead.
set -u
. "$(dirname "$0")/lib/common.sh"

limited() {
	if nm "$IPW" 2>/dev/null | grep -q __asan_init; then
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:hard_rss_limit_mb=512" "$@"
	else
		(ulimit -v 262144 && exec "$@")
	fi
}

limited "$IPW" profile --dataset /dev/zero --url http://127.0.0.1:9 --model m --store "$TMP/z.db" \
	>"$TMP/zero.out" 2>&1
rc=$?
[ $rc = 4 ] || fail "/dev/zero: exit $rc, want 4: $(tail -3 "$TMP/zero.out")"
grep -q "/dev/zero:1: line is longer than 16 MiB" "$TMP/zero.out" || fail "/dev/zero: $(tail -3 "$TMP/zero.out")"

for n in 20 24; do
	pat=a$(printf '%*s' "$n" '' | tr ' ' '+')
	{
		echo '{"id": 1, "problem": "p", "answer": "x", "task": "exact"}'
		echo "{\"id\": 2, \"problem\": \"p\", \"answer\": \"$pat\", \"task\": \"regex\"}"
	} >"$TMP/re$n.jsonl"
	limited "$IPW" profile --dataset "$TMP/re$n.jsonl" --url http://127.0.0.1:9 --model m \
		--store "$TMP/r.db" >"$TMP/re$n.out" 2>&1
	rc=$?
	[ $rc = 4 ] || fail "$n '+': exit $rc, want 4: $(tail -3 "$TMP/re$n.out")"
	grep -q "re$n.jsonl:2: regex answer 'a++++.*' does not compile: quantifier does not follow a repeatable item" \
		"$TMP/re$n.out" || fail "$n '+': $(tail -3 "$TMP/re$n.out")"
done
echo "bad input: ok"
