#!/bin/sh
# Builds ipw here and copies it, with the shared libraries it needs beyond
# glibc, into .gpu/ (ignored by git) so the device tool can carry it to a GPU
# machine that has no -dev packages. The device tool carries at most 64 MiB with
# the tree, so .gpu/ holds one xz archive, .gpu/gpu.txz; the GPU scripts unpack it
# (bench/gpu/unpack.sh). Usage: bench/gpu/carry.sh [--bench]
# --bench also carries the fake server and bench/client_bench as a build tree,
# .gpu/build/{ipw,fakes/fakellm,bench/client_bench}, so that bench/stream_bench.sh
# and bench/router_bench.sh run on a quiet many-core machine:
#   LD_LIBRARY_PATH=$PWD/.gpu/lib IPW_BUILD=.gpu/build FAKE_BUILD=.gpu/build sh bench/stream_bench.sh
set -eu
cd "$(dirname "$0")/../.."
make -j2 >/dev/null
rm -rf .gpu .gpu-stage && mkdir -p .gpu-stage/.gpu/lib .gpu
cp build/ipw .gpu-stage/.gpu/ipw
bins=build/ipw
if [ "${1:-}" = --bench ]; then
	make -j2 fakes build/bench/client_bench >/dev/null
	mkdir -p .gpu-stage/.gpu/build/fakes .gpu-stage/.gpu/build/bench
	cp build/ipw .gpu-stage/.gpu/build/ipw
	cp build/fakes/fakellm .gpu-stage/.gpu/build/fakes/
	cp build/bench/client_bench .gpu-stage/.gpu/build/bench/
	bins="$bins build/fakes/fakellm build/bench/client_bench"
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
[ ! -d .gpu-stage/.gpu/build ] || strip .gpu-stage/.gpu/build/ipw .gpu-stage/.gpu/build/*/* 2>/dev/null || true
tar cJf .gpu/gpu.txz -C .gpu-stage .gpu
rm -rf .gpu-stage
# .gitignore keeps .gpu/ out of commits
du -sh .gpu
