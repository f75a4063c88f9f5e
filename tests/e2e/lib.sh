# Shared helpers for end-to-end tests: each test starts its own cloud with deploy/cloud in a
# temp dir on a free port and tears it down on exit, whatever happens.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export MINICLOUD_BIN=${MINICLOUD_BIN:-$REPO/build/bin}
export MINICLOUD_HOME=$(mktemp -d /tmp/minicloud-e2e-XXXXXX)
export MINICLOUD_PORT=$((20000 + RANDOM % 20000))
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
