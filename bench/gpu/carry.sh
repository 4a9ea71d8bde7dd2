#!/bin/sh
# Builds ipw here and copies it, with the shared libraries it needs beyond
# glibc, into .gpu/ (ignored by git) so the device tool can carry it to a GPU
# machine that has no -dev packages. The device tool carries at most 64 MiB with
# the tree, so .gpu/ holds one xz archive, .gpu/gpu.txz; the GPU scripts unpack it
# (bench/gpu/unpack.sh). Usage: bench/gpu/carry.sh
set -eu
cd "$(dirname "$0")/../.."
make -j2 >/dev/null
rm -rf .gpu .gpu-stage && mkdir -p .gpu-stage/.gpu/lib .gpu
cp build/ipw .gpu-stage/.gpu/ipw
if make -j2 build/bench/gpu_window >/dev/null 2>&1; then
	cp build/bench/gpu_window .gpu-stage/.gpu/gpu_window
else
	echo "carry: build/bench/gpu_window did not build; carrying ipw only" >&2
fi
ldd build/ipw | awk '/=> \//{print $3}' | while read -r lib; do
	case "$(basename "$lib")" in
	libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|ld-linux*) ;; # glibc: use the host's
	*) cp -L "$lib" .gpu-stage/.gpu/lib/ ;;
	esac
done
strip .gpu-stage/.gpu/ipw .gpu-stage/.gpu/lib/*.so* 2>/dev/null || true
tar cJf .gpu/gpu.txz -C .gpu-stage .gpu
rm -rf .gpu-stage
# .gitignore keeps .gpu/ out of commits
du -sh .gpu
