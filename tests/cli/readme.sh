#!/bin/sh
# The newcomer's path through README.md (issue 10): the first command runs in
# a fresh root shell, which has no sudo (install-deps.sh uses sudo itself
# when needed); README says where the store is and how to put ipw on the
# PATH (make install), and the license it states ships as LICENSE.
set -u
. "$(dirname "$0")/lib/common.sh"
README="$IPW_TESTS/../README.md"
LICENSE="$IPW_TESTS/../LICENSE"
first=$(grep -m1 '^    [^ ]' "$README" | sed 's/^    //')
case $first in
sudo*) fail "README's first command starts with sudo: $first" ;;
esac
grep -q 'SUDO="sudo"' "$IPW_TESTS/../scripts/install-deps.sh" || fail "install-deps.sh no longer uses sudo itself"
grep -q '\./ipw\.db' "$README" || fail "README does not say where the store is"
grep -q 'make install' "$README" || fail "README does not say how to put ipw on the PATH"
[ -s "$LICENSE" ] || fail "no LICENSE file"
grep -q '^MIT License' "$LICENSE" || fail "LICENSE is not the MIT license"
grep -q 'MIT' "$README" || fail "README does not state the license"
# make install puts ipw where PREFIX says
make -s -C "$IPW_TESTS/.." install BUILD="$IPW_BUILD" PREFIX="$TMP/prefix" >/dev/null 2>"$TMP/err" ||
	fail "make install failed: $(cat "$TMP/err")"
"$TMP/prefix/bin/ipw" help >/dev/null 2>&1 || fail "the installed ipw does not run"
echo "readme: ok"
