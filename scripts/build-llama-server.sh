#!/bin/sh
# Builds llama.cpp's llama-server for the real-server test (tests/cli/llama_server.sh)
# from the llama.cpp source that the node-llama-cpp package ships as a git bundle.
# Usage: scripts/build-llama-server.sh [CACHE_DIR]
#   CACHE_DIR defaults to $IPW_LLAMA_CACHE, else /var/cache/ipw-llama.
#   IPW_LLAMA_PKG_VERSION picks the package version (default below, or "latest");
#   IPW_LLAMA_JOBS sets the build parallelism (default 2).
# Result: CACHE_DIR/build/bin/llama-server and the source tree in CACHE_DIR/src.
# Nothing from the package is copied into the ipw tree.
set -eu

PKG=node-llama-cpp
DEFAULT_VERSION=3.22.1
CACHE=${1:-${IPW_LLAMA_CACHE:-/var/cache/ipw-llama}}
VERSION=${IPW_LLAMA_PKG_VERSION:-$DEFAULT_VERSION}
JOBS=${IPW_LLAMA_JOBS:-2}

say() { echo "build-llama-server: $*"; }
die() { echo "build-llama-server: error: $*" >&2; exit 1; }

# numpy and yaml are for scripts/make-tiny-gguf.py (the gguf writer imports both)
have_py_modules() {
	for py in python3 /usr/bin/python3; do
		if command -v "$py" >/dev/null 2>&1 &&
			"$py" -c 'import numpy, yaml' >/dev/null 2>&1; then
			return 0
		fi
	done
	return 1
}

install_missing() {
	missing=""
	for tool in cmake:cmake git:git npm:npm node:nodejs g++:g++ make:make tar:tar; do
		command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
	done
	have_py_modules || missing="$missing python3 python3-numpy python3-yaml"
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		die "missing Debian packages:$missing; install them (apt-get install$missing) or run this script as root"
	fi
	say "installing Debian packages:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		die "apt-get install$missing failed"
}

install_missing

if [ "$VERSION" = latest ]; then
	VERSION=$(npm view "$PKG" version 2>/dev/null) ||
		die "cannot ask the npm registry for the latest $PKG version (offline?); set IPW_LLAMA_PKG_VERSION"
	[ -n "$VERSION" ] || die "the npm registry returned no version for $PKG"
fi

BIN=$CACHE/build/bin/llama-server
STAMP=$CACHE/build/ipw-llama.stamp
if [ -x "$BIN" ] && [ -f "$STAMP" ] && [ "$(sed -n 1p "$STAMP")" = "$PKG@$VERSION" ]; then
	say "cached: $BIN ($(sed -n 2p "$STAMP"))"
	exit 0
fi

mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE (set IPW_LLAMA_CACHE or pass CACHE_DIR)"
CACHE=$(cd "$CACHE" && pwd)
BIN=$CACHE/build/bin/llama-server
STAMP=$CACHE/build/ipw-llama.stamp
start=$(date +%s)

# 1. fetch the package tarball only: no dependencies, no install scripts, so none
#    of the package's prebuilt binaries is downloaded
say "fetching $PKG@$VERSION into $CACHE/npm"
rm -rf "$CACHE/npm"
mkdir -p "$CACHE/npm"
(cd "$CACHE/npm" && npm pack --silent "$PKG@$VERSION" >pack.out 2>pack.err) ||
	die "npm pack $PKG@$VERSION failed: $(tail -3 "$CACHE/npm/pack.err")"
TGZ=$CACHE/npm/$(tail -1 "$CACHE/npm/pack.out")
[ -f "$TGZ" ] || die "npm pack did not leave the tarball it named ($TGZ)"
tar -xzf "$TGZ" -C "$CACHE/npm" package/llama/gitRelease.bundle package/llama/llama.cpp.info.json ||
	die "$TGZ has no package/llama/gitRelease.bundle; this $PKG version ships llama.cpp differently"
INFO=$(tr -d ' \n' <"$CACHE/npm/package/llama/llama.cpp.info.json")
say "package ships llama.cpp release info: $INFO"

# 2. the bundle holds one squashed commit of llama.cpp's source
say "cloning the bundle into $CACHE/src"
rm -rf "$CACHE/src"
git clone -q "$CACHE/npm/package/llama/gitRelease.bundle" "$CACHE/src" 2>"$CACHE/npm/clone.err" ||
	die "git clone of the bundle failed: $(tail -3 "$CACHE/npm/clone.err")"
COMMIT=$(git -C "$CACHE/src" rev-parse --short HEAD)
rm -f "$TGZ" "$CACHE/npm/package/llama/gitRelease.bundle"

# 3. configure: CPU only, baseline x86-64 (no AVX, so a cached binary runs on any
#    runner), no network at build time (no prebuilt web UI, no TLS), static libs,
#    nothing but the server
say "configuring (cmake) in $CACHE/build"
rm -rf "$CACHE/build"
cmake -S "$CACHE/src" -B "$CACHE/build" -DCMAKE_BUILD_TYPE=Release \
	-DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
	-DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF -DGGML_SSE42=OFF \
	-DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_BMI2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF \
	-DGGML_OPENMP=OFF >"$CACHE/configure.log" 2>&1 ||
	die "cmake configure failed; see $CACHE/configure.log: $(tail -5 "$CACHE/configure.log")"

# 4. build only the llama-server target
say "building llama-server with -j$JOBS (about 10-20 minutes on 2 cores); log: $CACHE/build.log"
bstart=$(date +%s)
cmake --build "$CACHE/build" --target llama-server -j "$JOBS" >"$CACHE/build.log" 2>&1 ||
	die "build failed; see $CACHE/build.log: $(grep -m3 -i 'error' "$CACHE/build.log" || tail -5 "$CACHE/build.log")"
[ -x "$BIN" ] || die "the build finished but $BIN is missing"
end=$(date +%s)

printf '%s\n%s\n' "$PKG@$VERSION" "llama.cpp $INFO commit $COMMIT" >"$STAMP"
say "built $BIN in $((end - bstart)) s (compile) / $((end - start)) s (total)"
say "llama-server $("$BIN" --version 2>&1 | grep -o 'version: .*' | head -1)"
