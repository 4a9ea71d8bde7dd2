#!/bin/sh
# The committed fuzz corpora (tests/fuzz/corpus/{stream,dataset,grade,judge,plist,toml}/) are
# exactly what tests/fuzz/make_corpus.py makes from the tree: no file added or edited by hand
# (a new seed goes in tests/fuzz/seeds/ or the golden data it is read from), none stale after
# the unit tests' strings, the golden data or docs/router.md's TOML example changed.
set -u
. "$IPW_TESTS/cli/lib/common.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to run tests/fuzz/make_corpus.py"; exit 77; }
cd "$IPW_TESTS/.." || fail "no repository root above $IPW_TESTS"
python3 tests/fuzz/make_corpus.py --check >"$TMP/check" 2>&1 || fail "the corpora and make_corpus.py disagree:
$(cat "$TMP/check")"
cat "$TMP/check"
echo "fuzz_corpus: ok"
