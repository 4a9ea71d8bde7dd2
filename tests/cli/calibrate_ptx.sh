#!/bin/sh
# calibrate_ptx.sh - the burn kernel that 'ipw calibrate' ships as PTX text
# assembles with the CUDA toolkit's ptxas for sm_90 (H100/H200) and sm_80;
# skipped (77) where no ptxas is installed.
set -u
: "${IPW:?set IPW to the ipw binary}"
fail() { echo "FAIL: $*"; exit 1; }
PTXAS=$(command -v ptxas 2>/dev/null || true)
[ -z "$PTXAS" ] && [ -x /usr/local/cuda/bin/ptxas ] && PTXAS=/usr/local/cuda/bin/ptxas
[ -n "$PTXAS" ] || { echo "ptxas not found"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$IPW" calibrate --ptx >"$T/burn.ptx" || fail "calibrate --ptx exited $?"
grep -q "^.target sm_52" "$T/burn.ptx" || fail "PTX target is not sm_52"
grep -q "^.visible .entry ipw_burn" "$T/burn.ptx" || fail "no ipw_burn entry"
for arch in sm_90 sm_80; do
	"$PTXAS" -arch=$arch "$T/burn.ptx" -o "$T/burn_$arch.cubin" 2>"$T/err" ||
		fail "ptxas -arch=$arch: $(cat "$T/err")"
	[ -s "$T/burn_$arch.cubin" ] || fail "no cubin for $arch"
done
echo "ok"
