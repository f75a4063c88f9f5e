#!/usr/bin/env bash
# Runs bench_placement: 10,000-host placement decisions, each committed durably to RocksDB,
# against RocksDB's db_bench (fillrandom, --sync=1) on the same disk in the same run.
#
#   bench/placement/run.sh [bench_placement flags...]
#     e.g. bench/placement/run.sh --launches=50000 --dir=/var/tmp/pb
#     paired rounds for an interval on the service/library ratio:
#          bench/placement/run.sh --rounds=8 --launches=25000 --db_bench_num=3000
#
# Needs the build (deploy/build.sh → build/bin/bench_placement, or BENCH_PLACEMENT=path) and
# db_bench from Debian's rocksdb-tools (apt-get install rocksdb-tools). The work directory
# defaults to a fresh /var/tmp/minicloud-bench-placement.XXXXXX (a real disk, not tmpfs).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BENCH_PLACEMENT:-${MINICLOUD_BUILD_DIR:-$REPO/build}/bin/bench_placement}
if [[ ! -x "$BIN" ]]; then
  echo "run.sh: $BIN not found; build first (deploy/build.sh) or set BENCH_PLACEMENT" >&2
  exit 2
fi
DB_BENCH=$(command -v db_bench || true)
if [[ -z "$DB_BENCH" ]]; then
  echo "run.sh: db_bench not found; apt-get install rocksdb-tools" >&2
  exit 2
fi
echo "command=$BIN --db_bench=$DB_BENCH $*"
echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc)"
exec "$BIN" --db_bench="$DB_BENCH" "$@"
