#!/bin/sh
# Installs the Debian packages that building, testing and running ipw need.
# Usage: scripts/install-deps.sh [--with-llama]   (run as root, or with sudo available)
set -eu
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PKGS="build-essential pkg-config libcurl4-openssl-dev libsqlite3-dev libjansson-dev \
libcriterion-dev sqlite3 curl python3"
if [ "${1:-}" = "--with-llama" ]; then
	# the real-server test builds llama.cpp's server from the node-llama-cpp package
	PKGS="$PKGS cmake git nodejs npm python3-numpy python3-yaml"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
echo "install-deps: installed $PKGS"
