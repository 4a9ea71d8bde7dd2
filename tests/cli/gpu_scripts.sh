#!/bin/sh
# gpu_scripts.sh - the GPU validation tools at least parse here: bench/gpu/server.py
# and validate_load.py byte-compile and bench/gpu/validate_load.sh passes 'sh -n'.
set -u
fail() { echo "FAIL: $*"; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "python3 not found"; exit 77; }
ROOT="$(dirname "$0")/../.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cp "$ROOT/bench/gpu/server.py" "$T/server.py"
python3 -m py_compile "$T/server.py" || fail "server.py does not compile"
sh -n "$ROOT/bench/gpu/validate_load.sh" || fail "validate_load.sh has a syntax error"
cp "$ROOT/bench/gpu/validate_load.py" "$T/v.py"   # compiled in a copy: no __pycache__ in the tree
python3 -m py_compile "$T/v.py" || fail "validate_load.py does not compile"
echo "ok"
