#!/bin/sh
# Installs the Debian packages that building, testing and running ipw need.
# Usage: scripts/install-deps.sh [--with-llama] [--with-browser]   (run as root, or with sudo available)
# --with-browser adds Chromium for the report test (CI's --with-llama includes it).
# clang and its sanitizer/libFuzzer runtimes build `make fuzz` (tests/fuzz/). libpq-dev builds the
# PostgreSQL store; postgresql brings the server binaries its tests start (tests/pg/start.sh).
set -eu
SUDO=""
NEED_NPM=0
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PKGS="build-essential pkg-config libcurl4-openssl-dev libsqlite3-dev libjansson-dev \
libcriterion-dev libcairo2-dev libpcre2-dev libmicrohttpd-dev sqlite3 curl python3 clang libclang-rt-dev \
libpq-dev postgresql valgrind time"
for arg in "$@"; do
	case "$arg" in
	--with-llama)
		# the real-server test builds llama.cpp's server from the node-llama-cpp package;
		# CI passes only this flag, so it brings the report test's browser too
		PKGS="$PKGS cmake git python3-numpy python3-yaml chromium"
		NEED_NPM=1 ;;
	--with-browser)
		# tests/cli/report.sh opens the HTML report in headless Chromium
		PKGS="$PKGS chromium" ;;
	*) echo "install-deps: unknown option '$arg'" >&2; exit 2 ;;
	esac
done
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# npm comes with some Node.js builds (NodeSource's nodejs conflicts with Debian's npm):
# ask for Debian's nodejs and npm only where no npm is installed
if [ "$NEED_NPM" = 1 ] && ! command -v npm >/dev/null 2>&1; then
	PKGS="$PKGS nodejs npm"
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
echo "install-deps: installed $PKGS"
