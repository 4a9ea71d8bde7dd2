#!/bin/sh
# The man page and bash completion (scripts/make-man.py, installed by make install)
# are generated from the commands' own --help: every command has its section with
# its options, the completion offers every command and each one's long options, and
# `make install` puts both in place.
set -u
. "$IPW_TESTS/cli/lib/common.sh"
ROOT=$(cd "$IPW_TESTS/.." && pwd)
python3 "$ROOT/scripts/make-man.py" "$IPW" "$TMP" || fail "make-man.py"
for c in $("$IPW" help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p'); do
	grep -q "^\.SS $c\$" "$TMP/ipw.1" || fail "man page lacks a section for $c"
	for o in $("$IPW" help "$c" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -q -- "$(printf '%s' "$o" | sed 's/-/\\\\-/g')" "$TMP/ipw.1" || fail "man page: $c lacks $o"
	done
done
# the completion, driven as bash drives it
bash -c '
. "$1"
COMP_WORDS=(ipw pro); COMP_CWORD=1; _ipw; [ "${COMPREPLY[*]}" = "profile" ] || { echo "commands: ${COMPREPLY[*]}"; exit 1; }
COMP_WORDS=(ipw profile --con); COMP_CWORD=2; _ipw; [ "${COMPREPLY[*]}" = "--concurrency" ] || { echo "options: ${COMPREPLY[*]}"; exit 1; }
COMP_WORDS=(ipw runs --fo); COMP_CWORD=2; _ipw; [ "${COMPREPLY[*]}" = "--format" ] || { echo "runs: ${COMPREPLY[*]}"; exit 1; }
' _ "$TMP/ipw.bash" || fail "bash completion"
# make install puts them where man and bash-completion look
make -C "$ROOT" -s install DESTDIR="$TMP/root" PREFIX=/usr BUILD="$(dirname "$IPW")" >/dev/null 2>&1 ||
	fail "make install"
[ -f "$TMP/root/usr/share/man/man1/ipw.1" ] || fail "man page not installed"
[ -f "$TMP/root/usr/share/bash-completion/completions/ipw" ] || fail "completion not installed"
[ -x "$TMP/root/usr/bin/ipw" ] || fail "ipw not installed"
echo ok
