#!/bin/sh
# Builds ipw here and copies it, with the shared libraries it needs beyond
# glibc, into .gpu/ (ignored by git) so the device tool can carry it to a GPU
# machine that has no -dev packages. Usage: bench/gpu/carry.sh
set -eu
cd "$(dirname "$0")/../.."
make -j2 >/dev/null
rm -rf .gpu && mkdir -p .gpu/lib
make -j2 build/bench/gpu_window >/dev/null
cp build/ipw .gpu/ipw
cp build/bench/gpu_window .gpu/gpu_window
ldd build/ipw | awk '/=> \//{print $3}' | while read -r lib; do
	case "$(basename "$lib")" in
	libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|ld-linux*) ;; # glibc: use the host's
	*) cp -L "$lib" .gpu/lib/ ;;
	esac
done
# .gitignore keeps .gpu/ out of commits
du -sh .gpu
