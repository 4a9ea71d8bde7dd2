#!/bin/sh
# tests/pg/stop.sh DIR - stops the server start.sh DIR started and removes DIR.
set -u
DIR=${1:?usage: stop.sh DIR}
[ -d "$DIR/data" ] || { rm -rf "$DIR"; exit 0; }
bindir=""
if [ -n "${IPW_PG_BINDIR:-}" ]; then bindir=$IPW_PG_BINDIR
elif command -v pg_ctl >/dev/null 2>&1; then bindir=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
else for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && bindir=$d; done
fi
run=""
[ "$(id -u)" = 0 ] && run="runuser -u $(stat -c %U "$DIR/data") --"
$run "$bindir/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
	$run "$bindir/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1
rm -rf "$DIR"
