#!/usr/bin/env bash
# Launch path, API call to domain started, broken down by step, on a one-host local cloud with
# real libvirt + QEMU (TCG) and the tiny direct-kernel AMI.
#
#   bench/launch/run.sh [N]      N sequential launches (default 10)
#
# Prints per-step p50/p99 in milliseconds. Needs root, a build (deploy/build.sh) and the tiny AMI
# (images/build-tiny-ami.sh).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-10}
export MINICLOUD_BIN=${MINICLOUD_BIN:-$REPO/build/bin}
export MINICLOUD_HOME=$(mktemp -d /tmp/minicloud-bench-XXXXXX)
export MINICLOUD_PORT=$((20000 + RANDOM % 20000))
export MINICLOUD_ENDPOINT=127.0.0.1:$MINICLOUD_PORT
MC=$MINICLOUD_BIN/minicloud
trap '"$REPO/deploy/cloud" down >/dev/null 2>&1 || true' EXIT

"$REPO/deploy/cloud" up --hosts 1 >/dev/null
image=$("$MC" register-image --manifest /var/cache/minicloud/images/tiny/manifest.json | jq -r .ImageId)

# The first launch on a fresh host pays for the AMI download and libvirt's QEMU capability probe;
# it is reported separately.
rows=()
for i in $(seq 0 "$N"); do
  t0=$(date +%s%3N)
  id=$("$MC" run-instances --image-id "$image" --instance-type t3.nano | jq -r '.Instances[0].InstanceId')
  t1=$(date +%s%3N)
  "$MC" wait instance-running --instance-ids "$id" --timeout 120 >/dev/null
  steps=$("$MC" describe-instances --instance-ids "$id" | jq -c '.Reservations[0].Instances[0].LaunchSteps')
  rows+=("$i $t0 $t1 $steps")
  "$MC" terminate-instances --instance-ids "$id" >/dev/null
  "$MC" wait instance-terminated --instance-ids "$id" --timeout 60 >/dev/null
done

printf '%s\n' "${rows[@]}" | python3 -c '
import json, sys
rows = []
for line in sys.stdin:
    i, t0, t1, steps = line.split(" ", 3)
    s = json.loads(steps)
    rows.append((int(i), {
        "api call (client -> committed)": s["RequestedMs"] - int(t0),
        "controller -> agent": s["AgentReceivedMs"] - s["RequestedMs"],
        "AMI files ready": s["ImageReadyMs"] - s["AgentReceivedMs"],
        "root overlay": s["DiskReadyMs"] - s["ImageReadyMs"],
        "define + start domain": s["DomainStartedMs"] - s["DiskReadyMs"],
        "total: API call -> domain started": s["DomainStartedMs"] - int(t0),
        "domain started -> running recorded": s["RunningMs"] - s["DomainStartedMs"],
    }))
def pct(v, p):
    v = sorted(v); k = min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))
    return v[k]
first = rows[0][1]
rest = [r for i, r in rows if i > 0]
print("%-40s %8s %8s %8s   (ms, %d warm launches)" % ("step", "first", "p50", "p99", len(rest)))
for k in first:
    vals = [r[k] for r in rest]
    print(f"{k:40} {first[k]:8d} {pct(vals,50):8d} {pct(vals,99):8d}")
'
