#!/bin/sh
# store_readonly.sh - ipw runs / show / export on stores nobody may write:
# (1) a 0444 copy in a 0555 folder, (2) a copy on a tmpfs made read-only
# (remount,bind,ro) in a private mount namespace (unshare -m as root, else
# unshare -r -m where user namespaces allow it), the file keeping its write
# bits. Both must print exactly what the writable store prints and change
# nothing; a writing command fails with the reason. (2) is skipped with the
# reason (exit 77) where mounting is not permitted, after (1) has passed.
set -u
: "${IPW:?}" "${IPW_BUILD:?}"
T=$(mktemp -d)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT

# fail and check_ro live in a file, so that the shell in the mount namespace can source them
cat >"$T/lib.sh" <<'LIB'
fail() { echo "FAIL: $*"; exit 1; }
# check_ro STORE TAG: runs/show/export print what they print on $DB, and STORE stays unchanged
check_ro() {
	sum0=$(cksum <"$1"); mt0=$(stat -c %Y "$1")
	"$IPW" runs --store "$1" >"$T/runs.$2" 2>"$T/err" || fail "$2: runs: $(cat "$T/err")"
	"$IPW" show 1 --store "$1" >"$T/show.$2" 2>"$T/err" || fail "$2: show: $(cat "$T/err")"
	"$IPW" export 1 --store "$1" --format csv >"$T/export.$2" 2>"$T/err" || fail "$2: export: $(cat "$T/err")"
	for c in runs show export; do
		cmp -s "$T/$c.want" "$T/$c.$2" || fail "$2: $c prints otherwise than on the writable store"
	done
	[ "$(cksum <"$1")" = "$sum0" ] || fail "$2: the store's bytes changed"
	[ "$(stat -c %Y "$1")" = "$mt0" ] || fail "$2: the store's mtime changed"
	[ ! -e "$1-wal" ] && [ ! -e "$1-shm" ] || fail "$2: -wal/-shm created"
}
LIB
. "$T/lib.sh"
DB="$T/s.db"
"$IPW_BUILD/fakes/mkstore" "$DB" || fail "mkstore"

# what the writable store prints: the reference for the read-only copies
"$IPW" runs --store "$DB" >"$T/runs.want" || fail "runs"
"$IPW" show 1 --store "$DB" >"$T/show.want" || fail "show"
"$IPW" export 1 --store "$DB" --format csv >"$T/export.want" || fail "export"

# (1) permission bits (root passes permission checks; ipw reads the bits)
mkdir "$T/ro"
cp "$DB" "$T/ro/s.db"
chmod 0444 "$T/ro/s.db"
chmod 0555 "$T/ro"
check_ro "$T/ro/s.db" chmod
chmod 0755 "$T/ro"
echo "ok: 0444 store in a 0555 folder"

# (2) a read-only file system
mkdir "$T/mnt"
if [ "$(id -u)" = 0 ]; then NS="-m"; else NS="-r -m"; fi
why=""
if ! command -v unshare >/dev/null; then
	why="unshare (util-linux) is not installed"
# shellcheck disable=SC2086
elif ! unshare $NS sh -c 'mount -t tmpfs -o size=1m tmpfs "$1" && mount -o remount,bind,ro "$1"' sh "$T/mnt" \
	>"$T/mount.err" 2>&1; then
	why="mounting is not permitted here (uid $(id -u), unshare $NS: $(head -1 "$T/mount.err"))"
fi
if [ -n "$why" ]; then
	echo "read-only mount not tested: $why (the chmod case passed)"
	exit 77
fi
export T DB IPW
# The mount exists in the private namespace only and ends with it.
# shellcheck disable=SC2086,SC2016
unshare $NS sh -c '
	set -u
	. "$T/lib.sh"
	M="$T/mnt"
	mount -t tmpfs -o size=16m,mode=0755 tmpfs "$M" || fail "mount tmpfs"
	cp "$DB" "$M/s.db" && chmod 0644 "$M/s.db" || fail "copy to the tmpfs"
	mount -o remount,bind,ro "$M" || fail "remount read-only"
	! touch "$M/probe" 2>/dev/null || fail "the remounted tmpfs is writable"
	check_ro "$M/s.db" rofs
	# a writing command fails with the reason and writes nothing
	sum0=$(cksum <"$M/s.db")
	! "$IPW" score 1 --store "$M/s.db" >/dev/null 2>"$T/err" || fail "ipw score wrote on a read-only file system"
	grep -qi "read-only\|readonly" "$T/err" || fail "ipw score on a read-only file system: $(cat "$T/err")"
	[ "$(cksum <"$M/s.db")" = "$sum0" ] || fail "ipw score changed the store"
	[ ! -e "$M/s.db-wal" ] || fail "ipw score made a -wal file"
' || fail "store on a read-only tmpfs"
echo "ok: store on a read-only tmpfs (unshare $NS)"
echo "ok"
