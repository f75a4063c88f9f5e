#!/usr/bin/env bash
# Time to a bootstrapped instance: create-stack -> CREATE_COMPLETE (cfn-init + cfn-signal) versus
# the same instance launched by run-instances with an equivalent plain shell user-data script.
#
#   sudo bench/cfn/run.sh [PAIRS]          PAIRS paired rounds (default 3)
#   bench/cfn/run.sh --aggregate FILE      the ratios of a saved rounds.tsv again
#
# Both sides do the same work on a t3.micro Debian 12 guest (the AMI of images/build-debian-ami.sh)
# in one private cloud with egress to the test "outside" (tests/e2e/outside.sh: an apt repository
# with a package built by the run, no internet): an apt source, `apt-get update`, one package, a
# group, a user, a file with owner/mode/content, three ordered commands (one with a test, one with
# cwd and env), a systemd unit enabled and started.
#   stack side  bench/cfn/stack.yaml: AWS::CloudFormation::Init + cfn-init + cfn-signal, with a
#               CreationPolicy. Clock: just before `minicloud cloudformation create-stack` to the
#               first DescribeStacks that says CREATE_COMPLETE (polled every POLL seconds).
#   plain side  bench/cfn/user-data.sh: the same steps in bash; it writes a unique marker to the
#               console last. Clock: just before `minicloud run-instances` to the first
#               GetConsoleOutput that shows the marker (polled every POLL seconds).
# A pair is one boot of each side back to back, the order alternating from pair to pair; each
# guest is gone (delete-stack / terminate, waited for) before the next boot. The statistic is the
# per-pair ratio stack/plain: the script prints each ratio, their geometric mean with a 95%
# t-interval on the log ratios, the min and max, and each side's median. One warm-up launch (not
# counted) pays the AMI copy to the host first. Goal (issue 14): ratio <= 1.1.
#
# Needs root, the binaries (MINICLOUD_BIN, default <repo>/build/bin), the Debian AMI, dnsmasq,
# nginx, dpkg-deb, dpkg-scanpackages, jq, python3. Env: MANIFEST (the Debian AMI's manifest),
# CFN_BENCH_RESULTS (a directory kept after the run: rounds.tsv and each boot's stderr; default
# a temporary one, removed), POLL (s, default 1), BOOT_TIMEOUT (s per boot, default 1200).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
aggregate() {
  python3 - "$1" <<'PY'
import csv, math, statistics, sys
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179]
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {}
for r in rows:
    by.setdefault(r["pair"], {})[r["side"]] = float(r["seconds"])
ratios, stack, plain = [], [], []
for p in sorted(by):
    s = by[p]
    if "stack" not in s or "plain" not in s:
        print(f"pair {p}: incomplete, left out")
        continue
    stack.append(s["stack"]); plain.append(s["plain"])
    ratios.append(s["stack"] / s["plain"])
    print(f"pair {p}: stack {s['stack']:.1f} s, plain {s['plain']:.1f} s, ratio {ratios[-1]:.3f}")
n = len(ratios)
if n == 0:
    sys.exit("no complete pair")
logs = [math.log(r) for r in ratios]
gm = math.exp(statistics.mean(logs))
line = f"{n} pairs: geometric mean ratio {gm:.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}"
if n > 1:
    half = (T975[n - 2] if n - 1 <= len(T975) else 1.96) * statistics.stdev(logs) / math.sqrt(n)
    line += f", 95% CI [{math.exp(statistics.mean(logs) - half):.3f}, {math.exp(statistics.mean(logs) + half):.3f}]"
print(line)
print(f"medians: stack {statistics.median(stack):.1f} s, plain {statistics.median(plain):.1f} s")
PY
}
if [[ ${1:-} == --aggregate ]]; then aggregate "$2"; exit; fi
PAIRS=${1:-3}
export MINICLOUD_BIN=${MINICLOUD_BIN:-$REPO/build/bin}
MANIFEST=${MANIFEST:-/var/cache/minicloud/images/debian-12/manifest.json}
POLL=${POLL:-1}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-1200}
die() { echo "bench/cfn: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (deploy/cloud, the outside's namespace)"
[[ -f $MANIFEST ]] || die "no $MANIFEST (images/build-debian-ami.sh)"
for t in jq python3; do command -v $t >/dev/null || die "$t missing"; done

export MINICLOUD_HOME=$(mktemp -d /tmp/minicloud-cfn-bench-XXXXXX)
export MINICLOUD_PORT=$((20000 + RANDOM % 20000))
export MINICLOUD_ENDPOINT=127.0.0.1:$MINICLOUD_PORT
export AWS_CONFIG_FILE=$MINICLOUD_HOME/aws-config
RESULTS=${CFN_BENCH_RESULTS:-$MINICLOUD_HOME/results}
mkdir -p "$RESULTS"
MC="$MINICLOUD_BIN/minicloud"
# shellcheck source=../../tests/e2e/outside.sh
source "$REPO/tests/e2e/outside.sh"
cleanup() {
  local rc=$?
  "$REPO/deploy/cloud" down >/dev/null 2>&1 || true
  outside_down
  [[ -n ${CFN_BENCH_RESULTS:-} ]] || rm -rf "$MINICLOUD_HOME"
  exit $rc
}
trap cleanup EXIT

outside_up || die "the outside fixture did not come up"
"$REPO/deploy/cloud" up --hosts 1 --egress-interface "$OUTSIDE_IF" --dns "$OUTSIDE_IP" \
  >"$RESULTS/cloud-up.log" 2>&1 || die "cloud up: $(tail -n 5 "$RESULTS/cloud-up.log")"
eval "$("$REPO/deploy/cloud" env)"
ami=$("$MC" register-image --manifest "$MANIFEST" | jq -r .ImageId)
REPO_URL=http://$OUTSIDE_IP/debian
now() { date +%s.%N; }
TSV=$RESULTS/rounds.tsv
RUN=$(date -u +%Y%m%dT%H%M%S)  # pairs of several invocations appended to one rounds.tsv stay apart
[[ -f $TSV ]] || printf 'pair\tside\tseconds\n' >"$TSV"

# stack PAIR: seconds from create-stack to CREATE_COMPLETE; then the stack is deleted.
run_stack() {
  local name=bench-$1-$RANDOM t0 t1 status
  t0=$(now)
  "$MC" cloudformation create-stack --stack-name "$name" \
    --template-body "file://$REPO/bench/cfn/stack.yaml" --parameters \
    "ParameterKey=ImageId,ParameterValue=$ami" "ParameterKey=RepoUrl,ParameterValue=$REPO_URL" \
    >/dev/null
  while :; do
    status=$("$MC" cloudformation describe-stacks --stack-name "$name" \
      --query 'Stacks[0].StackStatus' --output text)
    [[ $status == CREATE_COMPLETE ]] && break
    [[ $status == *_IN_PROGRESS ]] || die "stack $name ended $status"
    (($(date +%s) - ${t0%.*} < BOOT_TIMEOUT)) || die "stack $name: timeout"
    sleep "$POLL"
  done
  t1=$(now)
  "$MC" cloudformation delete-stack --stack-name "$name" --wait >/dev/null 2>"$RESULTS/delete-$name.err" ||
    die "delete-stack $name"
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}

# plain PAIR: seconds from run-instances to the user data's marker; then the instance is gone.
run_plain() {
  local marker=cfn-bench-plain-done-$RANDOM$RANDOM t0 t1 id
  sed -e "s|@REPO@|$REPO_URL|" -e "s|@MARKER@|$marker|" "$REPO/bench/cfn/user-data.sh" \
    >"$MINICLOUD_HOME/user-data.sh"
  t0=$(now)
  id=$("$MC" run-instances --image-id "$ami" --instance-type t3.micro \
    --user-data "file://$MINICLOUD_HOME/user-data.sh" | jq -r '.Instances[0].InstanceId')
  while :; do
    "$MC" --output text get-console-output --instance-id "$id" 2>/dev/null >"$MINICLOUD_HOME/console" || true
    grep -q "$marker" "$MINICLOUD_HOME/console" && break
    (($(date +%s) - ${t0%.*} < BOOT_TIMEOUT)) || die "plain $id: no marker"
    sleep "$POLL"
  done
  t1=$(now)
  "$MC" terminate-instances --instance-ids "$id" >/dev/null
  "$MC" wait instance-terminated --instance-ids "$id" --timeout 600
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}

echo "warm-up launch (not counted)"
run_plain 0 >/dev/null
for ((p = 1; p <= PAIRS; p++)); do
  if ((p % 2)); then order=(stack plain); else order=(plain stack); fi
  for side in "${order[@]}"; do
    s=$(run_"$side" "$p")
    printf '%s\t%s\t%s\n' "$RUN-$p" "$side" "$s" >>"$TSV"
    echo "pair $p $side: $s s"
  done
done
aggregate "$TSV"
