#!/usr/bin/env bash
# Launch path, from the client starting `minicloud run-instances` to the domain started, broken
# down by the timestamps the system records, on a one-host local cloud with real libvirt + QEMU
# (TCG) and the tiny direct-kernel AMI.
#
#   sudo bench/launch/run.sh [N]      1 first launch + N warm launches (default 100), sequential,
#                                      each terminated before the next
#
# Prints, per span, the first launch and the warm launches' p50/p90/p99 in milliseconds
# (nearest rank; the tail column is labelled "max" instead of p99 when N < 100, since then no
# sample lies beyond the 99th percentile). Needs root, a build (deploy/build.sh) and the tiny AMI
# (images/build-tiny-ami.sh). Env: MINICLOUD_BIN (default <repo>/build/bin), BENCH_LAUNCH_RAW
# (a file: keep the raw per-launch timestamps there).
#
# Timestamps (Unix ms, one machine, one clock):
#   t0            the bench, just before starting the CLI process
#   RequestedMs   the controller's RunInstances handler took the request (EC2 LaunchTime)
#   CommittedMs   the synced RocksDB commit of the reservation returned (RunInstances response)
#   t1            the CLI process exited (its JSON written to a file; parsed afterwards)
#   AgentReceivedMs, ImageReadyMs, DiskReadyMs, DomainStartedMs: the host agent's timeline
#   RunningMs     the controller recorded the instance running
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-100}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive number" >&2; exit 2; }
export MINICLOUD_BIN=${MINICLOUD_BIN:-$REPO/build/bin}
export MINICLOUD_HOME=$(mktemp -d /tmp/minicloud-bench-XXXXXX)
export MINICLOUD_PORT=$((20000 + RANDOM % 20000))
export MINICLOUD_ENDPOINT=127.0.0.1:$MINICLOUD_PORT
MC=$MINICLOUD_BIN/minicloud
RAW=${BENCH_LAUNCH_RAW:-$MINICLOUD_HOME/raw.txt}
trap '"$REPO/deploy/cloud" down >/dev/null 2>&1 || true; rm -rf "$MINICLOUD_HOME"' EXIT

"$REPO/deploy/cloud" up --hosts 1 >/dev/null
eval "$("$REPO/deploy/cloud" env)"  # the controller's first access key signs every call
image=$("$MC" register-image --manifest /var/cache/minicloud/images/tiny/manifest.json | jq -r .ImageId)

ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}"; }  # bash's clock, no fork

# Launch 0 is the first on a fresh host: it downloads the AMI files from the controller and pays
# for libvirt's one-time QEMU capability probe. It is reported separately.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$RAW"
for i in $(seq 0 "$N"); do
  t0=$(ms)
  "$MC" run-instances --image-id "$image" --instance-type t3.nano >"$MINICLOUD_HOME/run.json"
  t1=$(ms)
  id=$(jq -r '.Instances[0].InstanceId' "$MINICLOUD_HOME/run.json")
  committed=$(jq -r '.Instances[0].LaunchSteps.CommittedMs // 0' "$MINICLOUD_HOME/run.json")
  "$MC" wait instance-running --instance-ids "$id" --timeout 120 >/dev/null
  steps=$("$MC" describe-instances --instance-ids "$id" | jq -c '.Reservations[0].Instances[0].LaunchSteps')
  echo "$i $t0 $t1 $committed $steps" >>"$RAW"
  "$MC" terminate-instances --instance-ids "$id" >/dev/null
  "$MC" wait instance-terminated --instance-ids "$id" --timeout 60 >/dev/null
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$RAW" "$load_start" "$load_end" <<'PY'
import json, math, sys
rows = []
for line in open(sys.argv[1]):
    i, t0, t1, committed, steps = line.split(" ", 4)
    s = json.loads(steps)
    t0, t1, c = int(t0), int(t1), int(committed)
    if c == 0:
        sys.exit("run-instances answered without LaunchSteps.CommittedMs (binaries too old?)")
    rows.append((int(i), [
        ("client start -> controller received", s["RequestedMs"] - t0),
        ("controller received -> durable commit", c - s["RequestedMs"]),
        ("durable commit -> CLI exited", t1 - c),
        ("= client start -> CLI exited", t1 - t0),
        ("durable commit -> agent received", s["AgentReceivedMs"] - c),
        ("agent received -> AMI files ready", s["ImageReadyMs"] - s["AgentReceivedMs"]),
        ("AMI files ready -> root overlay made", s["DiskReadyMs"] - s["ImageReadyMs"]),
        ("root overlay -> domain started", s["DomainStartedMs"] - s["DiskReadyMs"]),
        ("= client start -> domain started", s["DomainStartedMs"] - t0),
        ("domain started -> running recorded", s["RunningMs"] - s["DomainStartedMs"]),
    ]))
first = rows[0][1]
rest = [r for i, r in rows if i > 0]
n = len(rest)

def rank(v, p):  # nearest rank
    v = sorted(v)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]

tail = "p99" if n >= 100 else "max"
print("%-40s %7s %7s %7s %7s   (ms; first launch, then %d warm launches)" %
      ("span", "first", "p50", "p90", tail, n))
for k, (name, v) in enumerate(first):
    vals = [r[k][1] for r in rest]
    t = rank(vals, 99) if n >= 100 else max(vals)
    print(f"{name:40} {v:7d} {rank(vals, 50):7d} {rank(vals, 90):7d} {t:7d}")
print(f"load average (1/5/15 min) at start: {sys.argv[2]}; at end: {sys.argv[3]}")
PY
