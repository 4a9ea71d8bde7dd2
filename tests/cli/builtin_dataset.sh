#!/bin/sh
# The built-in dataset passes the strict validator (format, unique ids, answer keys in range).
set -eu
cd "$IPW_TESTS/.."
python3 scripts/check-dataset.py --strict --quiet data/builtin.jsonl
