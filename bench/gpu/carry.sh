#!/bin/sh
# Builds ipw here and copies it, with the shared libraries it needs beyond
# glibc, into .gpu/ (ignored by git) so the device tool can carry it to a GPU
# machine that has no -dev packages. The device tool carries at most 64 MiB with
# the tree, so .gpu/ holds one xz archive, .gpu/gpu.txz; the GPU scripts unpack it
# (bench/gpu/unpack.sh). Usage: bench/gpu/carry.sh [--bench] [--pg]
# --bench also carries the fake server and bench/client_bench as a build tree,
# .gpu/build/{ipw,fakes/fakellm,bench/client_bench}, so that bench/stream_bench.sh
# and bench/router_bench.sh run on a quiet many-core machine:
#   LD_LIBRARY_PATH=$PWD/.gpu/lib IPW_BUILD=.gpu/build FAKE_BUILD=.gpu/build sh bench/stream_bench.sh
# --pg (with --bench) also carries this machine's PostgreSQL server (Debian's binaries, their
# extension libraries and share files, in the same relative layout, so the server finds them),
# GNU time and the fake NVML library, for bench/fleet_bench.sh on a machine without PostgreSQL:
#   export LD_LIBRARY_PATH=$PWD/.gpu/lib PATH=$PWD/.gpu/pg/bin:$PATH IPW_PG_BINDIR=$PWD/.gpu/pg/bin
#   BUILD=.gpu/build FLEET_NO_MAKE=1 GNU_TIME=$PWD/.gpu/pg/bin/time sh bench/fleet_bench.sh
set -eu
BENCH=0 PG=0
for a in "$@"; do
	case $a in
	--bench) BENCH=1 ;;
	--pg) BENCH=1 PG=1 ;;
	*) echo "usage: bench/gpu/carry.sh [--bench] [--pg]" >&2; exit 2 ;;
	esac
done
cd "$(dirname "$0")/../.."
make -j2 >/dev/null
rm -rf .gpu .gpu-stage && mkdir -p .gpu-stage/.gpu/lib .gpu
cp build/ipw .gpu-stage/.gpu/ipw
bins=build/ipw
if [ $BENCH = 1 ]; then
	make -j2 fakes build/bench/client_bench >/dev/null
	mkdir -p .gpu-stage/.gpu/build/fakes .gpu-stage/.gpu/build/bench
	cp build/ipw .gpu-stage/.gpu/build/ipw
	cp build/fakes/fakellm build/fakes/libfake_nvml.so .gpu-stage/.gpu/build/fakes/
	cp build/bench/client_bench .gpu-stage/.gpu/build/bench/
	bins="$bins build/fakes/fakellm build/bench/client_bench"
fi
if [ $PG = 1 ]; then
	pgb=""
	for d in /usr/lib/postgresql/*/bin; do [ -x "$d/postgres" ] && pgb=$d; done
	[ -n "$pgb" ] || { echo "carry: no PostgreSQL server here (apt-get install postgresql)" >&2; exit 1; }
	pgv=$(basename "$(dirname "$pgb")")
	# the server computes its share and library folders relative to its own binary: keep Debian's layout
	P=.gpu-stage/.gpu/pg/root
	mkdir -p "$P/usr/lib/postgresql/$pgv/bin" "$P/usr/share/postgresql" .gpu-stage/.gpu/pg/bin
	for b in postgres initdb pg_ctl createdb psql; do
		cp "$pgb/$b" "$P/usr/lib/postgresql/$pgv/bin/"
		ln -s "../root/usr/lib/postgresql/$pgv/bin/$b" ".gpu-stage/.gpu/pg/bin/$b"
		bins="$bins $pgb/$b"
	done
	# initdb needs plpgsql and the snowball dictionaries; the rest (encoding conversions,
	# contrib modules) loads only when used, and the carry is limited
	mkdir -p "$P/usr/lib/postgresql/$pgv/lib"
	cp "/usr/lib/postgresql/$pgv/lib/plpgsql.so" "/usr/lib/postgresql/$pgv/lib/dict_snowball.so" \
		"$P/usr/lib/postgresql/$pgv/lib/"
	cp -r "/usr/share/postgresql/$pgv" "$P/usr/share/postgresql/"
	cp "$(command -v time)" .gpu-stage/.gpu/pg/bin/time
	# fleet_bench's part 2 makes its SQLite store with analysis_gen
	make -j2 build/bench/analysis_gen >/dev/null
	cp build/bench/analysis_gen .gpu-stage/.gpu/build/bench/
	bins="$bins build/bench/analysis_gen"
fi
if make -j2 build/bench/gpu_window >/dev/null 2>&1; then
	cp build/bench/gpu_window .gpu-stage/.gpu/gpu_window
else
	echo "carry: build/bench/gpu_window did not build; carrying ipw only" >&2
fi
# shellcheck disable=SC2086
ldd $bins | awk '/=> \//{print $3}' | sort -u | while read -r lib; do
	case "$(basename "$lib")" in
	libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|ld-linux*) ;; # glibc: use the host's
	*) cp -L "$lib" .gpu-stage/.gpu/lib/ ;;
	esac
done
strip .gpu-stage/.gpu/ipw .gpu-stage/.gpu/lib/*.so* 2>/dev/null || true
[ $PG = 0 ] || strip .gpu-stage/.gpu/pg/root/usr/lib/postgresql/*/bin/* .gpu-stage/.gpu/pg/root/usr/lib/postgresql/*/lib/*.so 2>/dev/null || true
[ ! -d .gpu-stage/.gpu/build ] || strip .gpu-stage/.gpu/build/ipw .gpu-stage/.gpu/build/*/* 2>/dev/null || true
tar cJf .gpu/gpu.txz -C .gpu-stage .gpu
rm -rf .gpu-stage
# .gitignore keeps .gpu/ out of commits
du -sh .gpu
