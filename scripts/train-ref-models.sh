#!/bin/sh
# train-ref-models.sh - retrains ipw's reference models (docs/reference-models.md):
#   sh scripts/train-ref-models.sh OUTDIR [--steps s=N,m=N,l=N] [more train-ref-models.py options]
# Needs gcc, and python3 with torch (CUDA) and numpy ($PYTHON, else /opt/torch/.venv/bin/python
# when present). Writes OUTDIR/ref-{s,m,l}.gguf, .md cards and ref-expected.jsonl; copy them to models/.
set -eu
out=${1:?usage: train-ref-models.sh OUTDIR [options]}
shift
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-}
[ -n "$py" ] || { [ -x /opt/torch/.venv/bin/python ] && py=/opt/torch/.venv/bin/python || py=python3; }
mkdir -p "$out"
exec "$py" "$here/train-ref-models.py" --out "$out" "$@"
