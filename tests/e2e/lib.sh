# Shared helpers for end-to-end tests: each test starts its own cloud with deploy/cloud in a
# temp dir on a free port and tears it down on exit, whatever happens.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export MINICLOUD_BIN=${MINICLOUD_BIN:-$REPO/build/bin}
export MINICLOUD_HOME=$(mktemp -d /tmp/minicloud-e2e-XXXXXX)
# A cloud listens on PORT, PORT+2, PORT+4/+5 (volumes) and PORT+1073 (Query API); a second cloud
# of a test may take PORT+1 (+3, +5/+6, +1074). Tests run side by side: take a PORT whose whole
# set is unbound on this machine now (a cloud started later by someone else can still collide;
# its `up` then fails with the address in use).
free_port_base() {
  local base p busy
  busy=$(ss -Hltn 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}' | sort -u)
  for _ in $(seq 1 200); do
    base=$((20000 + RANDOM % 20000))
    for p in $(seq "$base" $((base + 6))) $((base + 1073)) $((base + 1074)); do
      grep -qx "$p" <<<"$busy" && continue 2
    done
    echo "$base"
    return 0
  done
  echo "no free port set for a test cloud" >&2
  return 1
}
MINICLOUD_PORT=$(free_port_base) || exit 1
export MINICLOUD_PORT
export MINICLOUD_ENDPOINT=127.0.0.1:$MINICLOUD_PORT
# deploy/cloud up writes an aws CLI profile: into this test's own file, never the account's.
export AWS_CONFIG_FILE=$MINICLOUD_HOME/aws-config
MC="$MINICLOUD_BIN/minicloud"
IMAGES=/var/cache/minicloud/images

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*"; }
fail() {
  log "FAIL: $*"
  for f in "$MINICLOUD_HOME"/logs/*.log; do
    [[ -f $f ]] && { echo "--- $f"; tail -n 40 "$f"; }
  done
  exit 1
}
assert_eq() { [[ $1 == "$2" ]] || fail "$3: expected '$2', got '$1'"; }

teardown() {
  local rc=$?
  "$REPO/deploy/cloud" down >/dev/null 2>&1 || true
  rm -rf "$MINICLOUD_HOME"
  exit $rc
}
trap teardown EXIT

# watch_cloud HOME: when this script is gone without its teardown (ctest kills a script that
# runs past its TIMEOUT, and every process descended from it, with SIGKILL, which runs no trap),
# a watchdog takes the cloud at HOME down, so a stuck test leaves no guests burning the CPU the
# other tests run on. The watchdog is in its own session and, through the subshell that exits at
# once, no longer this script's descendant. After a normal teardown HOME is gone and it does
# nothing.
watch_cloud() {
  (setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done
    [[ -d $2 ]] || exit 0
    MINICLOUD_HOME=$2 "$3/deploy/cloud" down && rm -rf "$2"' \
    watch-cloud "$$" "$1" "$REPO" </dev/null >/dev/null 2>&1 &)
}
watch_cloud "$MINICLOUD_HOME"

# Starts the cloud and exports its endpoint and the controller's first access key (every API call
# is signed with it).
cloud_up() {
  "$REPO/deploy/cloud" up "$@" >/dev/null || fail "cloud up"
  eval "$("$REPO/deploy/cloud" env)" || fail "cloud env"
}

state_of() { "$MC" describe-instances --instance-ids "$1" | jq -r '.Reservations[0].Instances[0].State.Name'; }

# The console as text. Read whole before matching: with pipefail, `cli | grep -q` fails when
# grep stops early and the CLI, still writing 64 KiB, gets SIGPIPE.
console_text() { "$MC" --output text get-console-output --instance-id "$1" || true; }

# wait_console ID REGEX TIMEOUT: polls the console until REGEX matches.
wait_console() {
  local id=$1 re=$2 timeout=$3 start=$SECONDS out
  while ((SECONDS - start < timeout)); do
    out=$(console_text "$id")
    grep -Eq "$re" <<<"$out" && return 0
    sleep 2
  done
  "$MC" --output text get-console-output --instance-id "$id" | tail -n 30
  fail "console of $id never matched /$re/ within ${timeout}s"
}

# Expects a command to fail with an EC2 error code on stderr.
expect_error() {
  local code=$1; shift
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  ((rc != 0)) || fail "expected $code from: $*"
  grep -q "($code)" <<<"$out" || fail "expected ($code) from: $* — got: $out"
}
