#!/usr/bin/env bash
# Configures and builds minicloud into <repo>/build (binaries in build/bin). Incremental.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MINICLOUD_BUILD_DIR:-$REPO/build}
cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C "$BUILD" -j "$(nproc)"
