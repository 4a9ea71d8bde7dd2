# Shared helpers for the command-line tests (sourced, not run).
# Needs IPW (the binary) and IPW_BUILD (the build folder) from tests/run.sh.

TMP=$(mktemp -d)
SERVER_PIDS=""
cleanup() {
	for p in $SERVER_PIDS; do kill "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# start_fakellm NAME [fakellm flags...]: starts the fake server; its URL goes in $URL
start_fakellm() {
	name=$1; shift
	"$IPW_BUILD/fakes/fakellm" --port 0 --port-file "$TMP/$name.port" --lifetime-s 300 "$@" \
		</dev/null >"$TMP/$name.log" 2>&1 &
	SERVER_PIDS="$SERVER_PIDS $!"
	i=0
	while [ ! -s "$TMP/$name.port" ]; do
		i=$((i + 1)); [ $i -gt 100 ] && fail "fakellm did not start: $(cat "$TMP/$name.log")"
		sleep 0.05
	done
	URL="http://127.0.0.1:$(cat "$TMP/$name.port")"
}

# start_router NAME CONFIG [route serve flags...]: starts `ipw route serve --config CONFIG` (with
# --no-record when no flags are given) on the config's port (a free one unless it names one),
# its output in $TMP/NAME.log; returns once it has written $TMP/NAME.port (route serve writes that
# file by rename, after it listens and has logged its tiers), failing if it exits first or has not
# written it in 10 s. The router's URL goes in $R, its pid in $RPID (also in SERVER_PIDS, ended on
# exit).
start_router() {
	name=$1 conf=$2; shift 2
	[ $# -eq 0 ] && set -- --no-record
	rm -f "$TMP/$name.port"
	"$IPW" route serve --config "$conf" "$@" --port-file "$TMP/$name.port" </dev/null >"$TMP/$name.log" 2>&1 &
	RPID=$!
	SERVER_PIDS="$SERVER_PIDS $RPID"
	i=0
	while [ ! -s "$TMP/$name.port" ]; do
		kill -0 "$RPID" 2>/dev/null || [ -s "$TMP/$name.port" ] ||
			fail "router $name exited before it listened: $(cat "$TMP/$name.log")"
		i=$((i + 1)); [ $i -gt 200 ] && fail "router $name did not start in 10 s: $(cat "$TMP/$name.log")"
		sleep 0.05
	done
	R="http://127.0.0.1:$(cat "$TMP/$name.port")"
}

# need_browser WHY: sets BROWSER to the headless browser (Debian's chromium or chromium-browser).
# Without one the test ends here: under IPW_REQUIRE_BROWSER=1 or CI's IPW_REQUIRE_LLAMA=1 (.ci/run
# installs chromium: install-deps.sh --with-llama) it fails, never skips; otherwise it prints
# "SKIP: WHY: install ..." and exits 77. WHY says what was checked and what the browser would add.
need_browser() {
	BROWSER=""
	for b in chromium chromium-browser; do
		if command -v "$b" >/dev/null 2>&1; then BROWSER=$b; return 0; fi
	done
	if [ "${IPW_REQUIRE_BROWSER:-${IPW_REQUIRE_LLAMA:-0}}" = 1 ]; then
		fail "no headless browser, and IPW_REQUIRE_BROWSER/IPW_REQUIRE_LLAMA=1 (CI) require one"
	fi
	echo "SKIP: $1: install Debian's 'chromium' (scripts/install-deps.sh --with-browser)"
	exit 77
}

# browse ARGS...: runs $BROWSER (need_browser) headless with a fresh profile and no network
# services of its own; its stderr is appended to $TMP/browser.log
browse() {
	"$BROWSER" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
		--disable-sync --no-first-run --user-data-dir="$(mktemp -d "$TMP/profile.XXXXXX")" "$@" 2>>"$TMP/browser.log"
}

# csv_query FILE PYTHON-EXPR: evaluates EXPR with rows = list of dicts from the CSV; prints the result
csv_query() {
	python3 -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(eval(sys.argv[2]))' "$1" "$2"
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

# sample_gap DB RUN_NAME: the longest time (s) between two consecutive energy readings
# of source 0 in that run (its stored samples). A counter step is placed at the
# midpoint of the two readings around it, so within half this gap: tests bound
# energy errors by what the sampler actually did, not by a tolerance a busy
# machine can break.
sample_gap() {
	python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ts = [r[0] for r in db.execute(
    "SELECT s.t_s FROM samples s JOIN runs r ON r.id = s.run_id WHERE r.name = ? AND s.source_idx = 0"
    " AND s.energy_j IS NOT NULL ORDER BY s.t_s", (sys.argv[2],))]
assert len(ts) >= 2, "fewer than two energy readings stored for run %s" % sys.argv[2]
print(max(b - a for a, b in zip(ts, ts[1:])))
PY
}
