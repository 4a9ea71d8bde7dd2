#!/bin/sh
# tests/pg/start.sh DIR [DB...] - a throwaway PostgreSQL server for the tests: creates
# a cluster in DIR/data (DIR must not exist), starts it listening on a Unix
# socket in DIR only (no TCP port), with trust authentication for the calling
# user's name, creates the databases DB..., and prints DIR (the socket
# folder: PGHOST). As root, the server
# runs as the user postgres (or nobody), since initdb refuses root. Exit 77
# with the reason when the server binaries are missing; stop with stop.sh DIR.
set -eu
DIR=${1:?usage: start.sh DIR [DB...]}
shift
bindir=""
if [ -n "${IPW_PG_BINDIR:-}" ]; then bindir=$IPW_PG_BINDIR
elif command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
	bindir=$(dirname "$(readlink -f "$(command -v initdb)")")
else
	# Debian's postgresql package keeps them out of PATH
	for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
	echo "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql package" >&2
	exit 77
fi
me=$(id -un)
mkdir -m 0755 "$DIR"
run=""
if [ "$(id -u)" = 0 ]; then
	user=postgres
	id "$user" >/dev/null 2>&1 || user=nobody
	chown "$user" "$DIR"
	run="runuser -u $user --"
fi
# the calling user's name is the superuser, so libpq's default user connects
$run "$bindir/initdb" -D "$DIR/data" -U "$me" --auth=trust -E UTF8 --locale=C -N >"$DIR/initdb.log" 2>&1 || {
	echo "initdb failed:" >&2; tail -20 "$DIR/initdb.log" >&2; exit 1; }
# fsync off: a test server's crash safety is not under test (the client's is)
$run "$bindir/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
	-o "-c listen_addresses= -c unix_socket_directories=$DIR -c fsync=off -c max_connections=50" \
	start >/dev/null 2>&1 || { echo "pg_ctl start failed:" >&2; tail -20 "$DIR/server.log" >&2; exit 1; }
for db in "$@"; do
	"$bindir/createdb" -h "$DIR" "$db" || { echo "createdb $db failed" >&2; exit 1; }
done
echo "$DIR"
