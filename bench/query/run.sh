#!/usr/bin/env bash
# bench/query/run.sh: the EC2 Query API vs the gRPC API vs moto's server mode, in one run.
#
#   bench/query/run.sh            (env: INSTANCES=10000 MOTO_INSTANCES=1000 ROUNDS=5 CELL_SECONDS=3
#                                  THREADS=4 WORK=/var/tmp BUILD_DIR=<repo>/build
#                                  BENCH_QUERY_SERVER=<another build's bench_query_server>)
#
# 1. builds bench_query_server and bench_query_client (ninja, only these targets);
# 2. starts bench_query_server: the controller's services over RocksDB on disk (under WORK), its
#    gRPC server and its Query endpoint (SigV4 with a controller access key), and in-process
#    agents on fake hypervisors that launch INSTANCES instances and report them running;
# 3. starts `python3 -m moto.server` on a free loopback port and launches MOTO_INSTANCES
#    instances in it (boto3, 500 per call);
# 4. times the SigV4 verifier on one signed request (bench_query_client --sigv4-cost);
# 5. runs bench_query_client: ROUNDS rounds of DescribeInstances (all), DescribeInstances (one
#    instance-type filter) and RunInstances (1 instance) on grpc, query and moto, THREADS
#    closed-loop connections each, SECONDS per cell (at least one request per connection), the
#    peers' order rotating round by round; prints the table and the query/grpc and query/moto
#    ratios with 95% confidence intervals.
# The load average before and after is printed: the machine is shared.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build}
INSTANCES=${INSTANCES:-10000}
MOTO_INSTANCES=${MOTO_INSTANCES:-1000}
ROUNDS=${ROUNDS:-5}
SECONDS_PER_CELL=${CELL_SECONDS:-3}
THREADS=${THREADS:-4}
WORK_PARENT=${WORK:-/var/tmp}

for tool in ninja python3 qemu-img; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 2; }
done
python3 -c 'import moto, boto3' 2>/dev/null || { echo "run.sh: python3 needs moto and boto3" >&2; exit 2; }
[[ -f $BUILD_DIR/build.ninja ]] || {
  echo "run.sh: configure first: cmake -S $REPO -B $BUILD_DIR -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo" >&2
  exit 2
}
if ! out=$(ninja -C "$BUILD_DIR" bench_query_server bench_query_client 2>&1); then
  echo "$out" >&2
  exit 1
fi
# BENCH_QUERY_SERVER: another build's server (before/after runs with the same client).
SERVER=${BENCH_QUERY_SERVER:-$BUILD_DIR/bin/bench_query_server}
CLIENT=$BUILD_DIR/bin/bench_query_client

WORK=$(mktemp -d "$WORK_PARENT/minicloud-bench-query.XXXXXX")
SERVER_PID=""
MOTO_PID=""
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null || true
  [[ -n $MOTO_PID ]] && kill "$MOTO_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc) commit=$(git -C "$REPO" rev-parse --short HEAD) server=$SERVER"
echo "loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg)"
echo "moto=$(python3 -c 'import moto; print(moto.__version__)') instances=$INSTANCES moto_instances=$MOTO_INSTANCES rounds=$ROUNDS seconds=$SECONDS_PER_CELL threads=$THREADS"

"$SERVER" --dir="$WORK/controller" --instances="$INSTANCES" --ready-file="$WORK/ready" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
MOTO_IMAGE=$(python3 - "$MOTO_PORT" "$MOTO_INSTANCES" <<'PY'
import sys, time, boto3
port, n = int(sys.argv[1]), int(sys.argv[2])
ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                   aws_access_key_id="AKIDMOTOBENCH", aws_secret_access_key="moto")
for _ in range(300):
    try:
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        break
    except Exception:
        time.sleep(0.2)
small = n // 100
launched = 0
while launched < n:
    kind = "t3.small" if launched < small else "t3.micro"
    k = min(500, (small - launched) if launched < small else (n - launched))
    ec2.run_instances(ImageId=image, MinCount=k, MaxCount=k, InstanceType=kind)
    launched += k
print(image)
PY
)
echo "moto: $MOTO_INSTANCES instances launched (image $MOTO_IMAGE)"

for _ in $(seq 1200); do
  [[ -f $WORK/ready ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; exit 1; }
  sleep 0.5
done
[[ -f $WORK/ready ]] || { echo "run.sh: the controller did not get ready" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
grep 'instances running after' "$WORK/server.log" || true
declare -A R
for kv in $(cat "$WORK/ready"); do R[${kv%%=*}]=${kv#*=}; done

echo "--- SigV4 verification (controller/auth), one thread"
"$CLIENT" --sigv4-cost --iterations=20000

echo "--- requests"
"$CLIENT" --grpc="127.0.0.1:${R[grpc]}" --query="127.0.0.1:${R[query]}" --key="${R[key]}" \
  --secret="${R[secret]}" --region="${R[region]}" --image="${R[image]}" \
  --moto="127.0.0.1:$MOTO_PORT" --moto-image="$MOTO_IMAGE" \
  --rounds="$ROUNDS" --seconds="$SECONDS_PER_CELL" --threads="$THREADS" --min-requests=1
echo "loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)"
