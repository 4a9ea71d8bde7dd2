#!/bin/sh
# The analysis commands added after the PostgreSQL store work unchanged on it:
# compute, levels, trends, ranks, repeats, localcloud, gdi, route train and
# route simulate --router print the same bytes (and exit the same way) on a
# PostgreSQL store as on the SQLite store it was merged from (ipw merge):
# the paper fixtures (tests/fakes mkanalysis, mkpaper, the meta files of
# tests/cli/paper.sh) and a 3 runs x 60 items bench/analysis_gen store for
# the router. Skipped (77) without the server binaries unless IPW_REQUIRE_PG=1.
set -u
: "${IPW:?}" "${IPW_BUILD:?}"
. "$IPW_TESTS/cli/lib/common.sh"
export LSAN_OPTIONS="suppressions=$IPW_TESTS/data/lsan-fontconfig.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
PGDIR=$(mktemp -d /tmp/ipw-pga-XXXXXX) && rmdir "$PGDIR"
trap 'sh "$IPW_TESTS/pg/stop.sh" "$PGDIR"; cleanup' EXIT INT TERM
sh "$IPW_TESTS/pg/start.sh" "$PGDIR" fix paper gen >/dev/null 2>"$TMP/pg.err"
rc=$?
if [ $rc = 77 ]; then
	[ "${IPW_REQUIRE_PG:-}" = 1 ] && fail "IPW_REQUIRE_PG=1 but: $(cat "$TMP/pg.err")"
	cat "$TMP/pg.err"
	exit 77
fi
[ $rc = 0 ] || fail "the PostgreSQL test server did not start: $(cat "$TMP/pg.err")"
[ -x "$IPW_BUILD/bench/analysis_gen" ] || fail "no $IPW_BUILD/bench/analysis_gen (make $IPW_BUILD/bench/analysis_gen)"
"$IPW_BUILD/fakes/mkanalysis" "$TMP/fix.db" || fail "mkanalysis"
"$IPW_BUILD/fakes/mkpaper" "$TMP/paper.db" || fail "mkpaper"
"$IPW_BUILD/bench/analysis_gen" "$TMP/gen.db" 3 60 >/dev/null 2>&1 || fail "analysis_gen"
for s in fix paper gen; do
	"$IPW" merge "$TMP/$s.db" --into "postgresql:///$s?host=$PGDIR" >"$TMP/m.$s" 2>&1 || fail "merge $s: $(cat "$TMP/m.$s")"
done
cat >"$TMP/meta.json" <<'J'
{"source": "test", "models": {
  "qwen3-1b": {"family": "qwen3", "released": "2025-04", "total_params": "4B", "active_params": "1B", "quantization": "bf16"},
  "big": {"family": "qwen3", "released": "2024-07", "total_params": "2B", "quantization": "bf16"},
  "cloud": {"released": "2025-07", "total_params": "30B", "active_params": "10B"}},
 "accelerators": {"Fake H200": {"peak_flops": "1T", "peak_bandwidth": "1T"}}}
J
cat >"$TMP/meta2.json" <<'J'
{"models": {"qwen3-1b": {"total_params": "1B", "released": "2025-04"}, "old": {"total_params": "8B", "released": "2024-03"},
 "new": {"total_params": "8B", "released": "2025-06"}}, "accelerators": {"Fake H200": {"class": "local"}}}
J
cat >"$TMP/meta3.json" <<'J'
{"models": {"qwen3-1b": {"total_params": "1B"}},
 "accelerators": {"Fake H200": {"class": "cloud"}, "Fake M4 Max": {"class": "local"}}}
J
cat >"$TMP/sc.json" <<'J'
{"comment": "test", "devices": [{"name": "laptops", "count": 1e6, "power_w": 50, "duty_cycle": 0.2, "ipw": 4e-3},
  {"name": "measured", "count": 1000, "power_w": 14, "duty_cycle": 0.5, "ipw_run": "small"}],
 "datacenter": {"name": "dc", "power_w": 1e7, "ipw": 2e-3}}
J
n=0
# STORE CMD...: the command on the SQLite store and on its PostgreSQL copy: same exit, same bytes
# (files the command writes under $TMP/out/ are compared too)
both() {
	s=$1
	shift
	n=$((n + 1))
	for where in sq pg; do
		st="$TMP/$s.db"
		[ $where = pg ] && st="postgresql:///$s?host=$PGDIR"
		rm -rf "$TMP/out" && mkdir "$TMP/out"
		"$IPW" "$@" --store "$st" >"$TMP/$where.$n" 2>&1
		echo $? >"$TMP/$where.$n.rc"
		(cd "$TMP/out" && find . -type f | sort | while read -r f; do echo "== $f"; cat "$f"; done) >>"$TMP/$where.$n"
	done
	[ "$(cat "$TMP/pg.$n.rc")" = "$(cat "$TMP/sq.$n.rc")" ] ||
		fail "'ipw $*': exit $(cat "$TMP/pg.$n.rc") on PostgreSQL, $(cat "$TMP/sq.$n.rc") on SQLite: $(head -5 "$TMP/pg.$n")"
	[ "$(cat "$TMP/pg.$n.rc")" = 0 ] || fail "'ipw $*' exited $(cat "$TMP/pg.$n.rc"): $(head -5 "$TMP/pg.$n")"
	cmp -s "$TMP/pg.$n" "$TMP/sq.$n" || fail "'ipw $*' differs on PostgreSQL: $(diff "$TMP/sq.$n" "$TMP/pg.$n" | head -20)"
	[ -s "$TMP/pg.$n" ] || fail "'ipw $*' printed nothing"
}
both fix compute 1 --model-meta "$TMP/meta.json" --format csv
both fix compute 1 2 --per-query --model-meta "$TMP/meta.json" --format jsonl
both fix levels 1 2 3 --model-meta "$TMP/meta.json" --size-classes 3B,5B --format csv
both fix trends 6 7 1 --model-meta "$TMP/meta2.json" --intersect --bootstrap 100 --format csv
both fix ranks 1 2 3 6 --bootstrap 100 --format csv
both fix repeats 1 4 5 --bootstrap 50 --format csv
both fix repeats 1 2 4 --by model --bootstrap 0
both paper localcloud 9 1 3 --model-meta "$TMP/meta3.json" --bootstrap 0 --format csv
both fix gdi "$TMP/sc.json" --json
both fix route simulate --local 1 2 --cloud 3 --model-meta "$TMP/meta.json" --compute total --trials 50 --seed 3 --json
both gen route train --local 1 --cloud 3 --out "$TMP/out/router.json"
"$IPW" route train --local 1 --cloud 3 --out "$TMP/router.json" --store "$TMP/gen.db" >/dev/null 2>&1 || fail "route train"
both gen route simulate --router "$TMP/router.json"
echo "fleet_analyses: $n commands the same on PostgreSQL"
