#!/usr/bin/env bash
# bench/imds/run.sh [BUILD_DIR]
#
# Requests/s and p99 latency of the minicloud metadata server against nginx serving the same
# bytes, on loopback, both servers pinned to the same single core (taskset), the load generator
# (wrk) pinned to another core. Two modes: keep-alive and `Connection: close` (a TCP connection per
# request, like cloud-init's urllib3 without a session). Prints a table and the ratios.
#
# Needs: nginx (nginx-light), wrk, taskset, curl. Bounded: 2 paths x 2 modes x 2 servers x ROUNDS
# runs of DURATION (default 3 x 3 s: about 90 s in all). Reports the median of the rounds.
# Env: DURATION (3s), ROUNDS (3), CONNECTIONS (32), SERVER_CPU (0), CLIENT_CPU (1).
set -euo pipefail

BUILD_DIR=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build}
BIN=$BUILD_DIR/bin/bench_imds_server
DURATION=${DURATION:-3s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
OURS_PORT=${OURS_PORT:-18081}
NGINX_PORT=${NGINX_PORT:-18082}
PATHS=(/latest/meta-data/instance-id /latest/dynamic/instance-identity/document)

for tool in "$BIN" "$NGINX" "$(command -v wrk)" "$(command -v taskset)" "$(command -v curl)"; do
  [[ -x $tool ]] || { echo "missing: $tool (build bench_imds_server; apt-get install nginx-light wrk curl)" >&2; exit 2; }
done
if (( $(nproc) < 2 )); then
  echo "note: one CPU only; server and load generator share it" >&2
  CLIENT_CPU=$SERVER_CPU
fi

WORK=$(mktemp -d /tmp/imds-bench.XXXXXX)
OURS_PID=""
NGINX_PID=""
cleanup() {
  [[ -n $OURS_PID ]] && kill "$OURS_PID" 2>/dev/null || true
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The exact bodies our handler serves become nginx's document root.
"$BIN" --dump "$WORK/root" "${PATHS[@]}"
chmod 755 "$WORK" && chmod -R a+rX "$WORK/root"  # nginx workers drop to an unprivileged user

mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  server_tokens off;
  types { }
  default_type text/plain;
  etag off;
  keepalive_requests 100000000;
  keepalive_timeout 5s;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  open_file_cache max=16 inactive=60s;
  open_file_cache_valid 60s;
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
    root $WORK/root;
  }
}
CONF

taskset -c "$SERVER_CPU" "$NGINX" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
NGINX_PID=$!
taskset -c "$SERVER_CPU" "$BIN" --port "$OURS_PORT" > "$WORK/ours.log" 2>&1 &
OURS_PID=$!

for _ in $(seq 100); do
  kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx/error.log" >&2; exit 1; }
  kill -0 "$OURS_PID" 2>/dev/null || { cat "$WORK/ours.log" >&2; exit 1; }
  if curl -fsS "http://127.0.0.1:$OURS_PORT${PATHS[0]}" >/dev/null 2>&1 &&
     curl -fsS "http://127.0.0.1:$NGINX_PORT${PATHS[0]}" >/dev/null 2>&1; then
    break
  fi
  sleep 0.05
done

# Same bytes from both.
for p in "${PATHS[@]}"; do
  if ! cmp -s <(curl -fsS "http://127.0.0.1:$OURS_PORT$p") <(curl -fsS "http://127.0.0.1:$NGINX_PORT$p"); then
    echo "bodies differ for $p" >&2
    exit 1
  fi
done

# wrk latency unit -> microseconds
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") f = 1; else if (u == "ms") f = 1000; else if (u == "s") f = 1000000; else f = 1;
    printf "%.0f", n * f }'
}

# run NAME PORT PATH MODE -> "rps p99_us errors"
run() {
  local port=$2 path=$3 mode=$4 extra=()
  [[ $mode == close ]] && extra=(-H "Connection: close")
  local out
  out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "${extra[@]}" \
        "http://127.0.0.1:$port$path" 2>&1)
  local rps p99 errs
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10} /Non-2xx/ {print "non2xx:" $5}' <<<"$out" | paste -sd' ')
  echo "${rps:-0} $(to_us "${p99:-0us}") ${errs:-0}"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : 0) }'; }

printf '%-45s %-10s %12s %10s %12s %10s %8s %8s\n' path mode "ours req/s" "ours p99" "nginx req/s" "nginx p99" "rps x" "p99 x"
for path in "${PATHS[@]}"; do
  for mode in keepalive close; do
    DURATION=1s run ours "$OURS_PORT" "$path" "$mode" >/dev/null   # warm-up
    DURATION=1s run nginx "$NGINX_PORT" "$path" "$mode" >/dev/null
    o_rps_all="" o_p99_all="" n_rps_all="" n_p99_all="" errs=""
    for round in $(seq "$ROUNDS"); do
      # Alternate which server goes first so drift in background load hits both alike.
      if (( round % 2 )); then order=(ours nginx); else order=(nginx ours); fi
      for who in "${order[@]}"; do
        if [[ $who == ours ]]; then port=$OURS_PORT; else port=$NGINX_PORT; fi
        read -r rps p99 err < <(run "$who" "$port" "$path" "$mode")
        if [[ $who == ours ]]; then o_rps_all+=" $rps"; o_p99_all+=" $p99"; else n_rps_all+=" $rps"; n_p99_all+=" $p99"; fi
        [[ $err != 0 ]] && errs+=" $who:$err"
      done
    done
    o_rps=$(median <<<"$o_rps_all"); o_p99=$(median <<<"$o_p99_all")
    n_rps=$(median <<<"$n_rps_all"); n_p99=$(median <<<"$n_p99_all")
    ratio_rps=$(awk -v a="$o_rps" -v b="$n_rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    ratio_p99=$(awk -v a="$o_p99" -v b="$n_p99" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    printf '%-45s %-10s %12.0f %8sus %12.0f %8sus %8s %8s\n' "$path" "$mode" "$o_rps" "$o_p99" "$n_rps" "$n_p99" "$ratio_rps" "$ratio_p99"
    [[ -n $errs ]] && echo "    (socket errors / non-2xx:$errs)"
  done
done
echo "median of $ROUNDS rounds of $DURATION; servers pinned to CPU $SERVER_CPU, wrk (1 thread, $CONNECTIONS connections) to CPU $CLIENT_CPU"
echo "rps x = ours/nginx (higher is better), p99 x = ours/nginx (lower is better); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
