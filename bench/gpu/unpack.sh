#!/bin/sh
# On the GPU machine: unpacks .gpu/gpu.txz (made by bench/gpu/carry.sh) into .gpu/.
# Sourced or run by the bench/gpu scripts before they use .gpu/ipw.
if [ -f .gpu/gpu.txz ] && [ ! -x .gpu/ipw ]; then
	tar xJf .gpu/gpu.txz || { echo "unpack: cannot unpack .gpu/gpu.txz" >&2; exit 1; }
fi
