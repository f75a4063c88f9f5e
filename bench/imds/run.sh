#!/usr/bin/env bash
# bench/imds/run.sh [BUILD_DIR]
#
# Answered requests/s and p99 latency of the minicloud metadata server against nginx serving the
# same bytes, on loopback, both servers pinned to the same single core (taskset), the load
# generator (wrk, one thread) pinned to another core. All of wrk's connections come from
# 127.0.0.1, so for our server they are ONE guest. Every row is labelled with:
#   limits   off      rate limiting disabled, connection caps raised to 100,000 (the HTTP path
#                     alone; what earlier versions of this bench measured)
#            shipped  the agent's defaults (agent/metadata/server.h ServerOptions: a token bucket
#                     of 200 requests/s, burst 400, per instance; 16 connections per source
#                     address, 4096 in all): excess requests get 429, excess connections are
#                     closed right after accept
#   token    none     IMDSv1 GET
#            v2       IMDSv2 GET with `X-aws-ec2-metadata-token` (one token PUT before the run;
#                     nginx gets the same header and ignores it)
#            PUT      `PUT /latest/api/token` with a TTL header (ours mints and signs a token;
#                     nginx answers a constant string of the same length: a lower bound)
#   conn     keep-alive, or close (`Connection: close`: a TCP connection per request, like
#            cloud-init 22.4, which opens one per request)
# "2xx/s" counts only 200 answers (wrk's requests minus its non-2xx count, over the run's
# duration); "other/s" the rest (429 under the shipped limits); "sock err" wrk's connect/read/
# write/timeout errors (connections our server closed at the per-source cap).
#
# Needs: nginx (nginx-light), wrk, taskset, curl. Bounded: (13 cells) x 2 servers x (ROUNDS runs
# of DURATION + 1 s warm-up): about 4 minutes with the defaults. Reports the median of the rounds.
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
OURS_PORT=${OURS_PORT:-18081}          # --limits off
NGINX_PORT=${NGINX_PORT:-18082}
SHIPPED_PORT=${SHIPPED_PORT:-18083}    # --limits shipped
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
SHIPPED_PID=""
NGINX_PID=""
cleanup() {
  [[ -n $OURS_PID ]] && kill "$OURS_PID" 2>/dev/null || true
  [[ -n $SHIPPED_PID ]] && kill "$SHIPPED_PID" 2>/dev/null || true
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
    # IMDSv2 token: a constant of the length of ours, the TTL header echoed (no signing).
    location = /latest/api/token {
      if (\$request_method != PUT) { return 405; }
      add_header X-aws-ec2-metadata-token-ttl-seconds \$http_x_aws_ec2_metadata_token_ttl_seconds always;
      return 200 "@NGINX_TOKEN@";
    }
  }
}
CONF

taskset -c "$SERVER_CPU" "$BIN" --port "$OURS_PORT" --limits off > "$WORK/ours.log" 2>&1 &
OURS_PID=$!
taskset -c "$SERVER_CPU" "$BIN" --port "$SHIPPED_PORT" --limits shipped > "$WORK/shipped.log" 2>&1 &
SHIPPED_PID=$!
# Tokens (one per server process: each has its own key), and nginx's constant of the same length.
put_token() {
  curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "http://127.0.0.1:$1/latest/api/token"
}
for _ in $(seq 100); do
  TOKEN_OFF=$(put_token "$OURS_PORT" 2>/dev/null) && TOKEN_SHIPPED=$(put_token "$SHIPPED_PORT" 2>/dev/null) && break
  sleep 0.05
done
[[ -n ${TOKEN_OFF:-} && -n ${TOKEN_SHIPPED:-} ]] || { echo "no token from our server" >&2; cat "$WORK"/*.log >&2; exit 1; }
NGINX_TOKEN=$(head -c "${#TOKEN_OFF}" /dev/zero | tr '\0' 'A')
sed -i "s|@NGINX_TOKEN@|$NGINX_TOKEN|" "$WORK/nginx/nginx.conf"
taskset -c "$SERVER_CPU" "$NGINX" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
NGINX_PID=$!

for _ in $(seq 100); do
  kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx/error.log" >&2; exit 1; }
  kill -0 "$OURS_PID" 2>/dev/null || { cat "$WORK/ours.log" >&2; exit 1; }
  kill -0 "$SHIPPED_PID" 2>/dev/null || { cat "$WORK/shipped.log" >&2; exit 1; }
  if curl -fsS "http://127.0.0.1:$OURS_PORT${PATHS[0]}" >/dev/null 2>&1 &&
     curl -fsS "http://127.0.0.1:$SHIPPED_PORT${PATHS[0]}" >/dev/null 2>&1 &&
     curl -fsS "http://127.0.0.1:$NGINX_PORT${PATHS[0]}" >/dev/null 2>&1; then
    break
  fi
  sleep 0.05
done

# Same bytes from all three, with and without a token; the token PUTs answer the same length.
for p in "${PATHS[@]}"; do
  for port in "$OURS_PORT" "$SHIPPED_PORT"; do
    tok=$TOKEN_OFF; [[ $port == "$SHIPPED_PORT" ]] && tok=$TOKEN_SHIPPED
    if ! cmp -s <(curl -fsS "http://127.0.0.1:$port$p") <(curl -fsS "http://127.0.0.1:$NGINX_PORT$p") ||
       ! cmp -s <(curl -fsS -H "X-aws-ec2-metadata-token: $tok" "http://127.0.0.1:$port$p") \
                <(curl -fsS "http://127.0.0.1:$NGINX_PORT$p"); then
      echo "bodies differ for $p (port $port)" >&2
      exit 1
    fi
  done
done
[[ ${#NGINX_TOKEN} -eq $(put_token "$NGINX_PORT" | wc -c) ]] || { echo "nginx token length differs" >&2; exit 1; }
curl -fsS -o /dev/null -H "X-aws-ec2-metadata-token: not-a-token" "http://127.0.0.1:$OURS_PORT${PATHS[0]}" 2>/dev/null &&
  { echo "our server accepted a bad token" >&2; exit 1; }
printf 'wrk.method = "PUT"\nwrk.headers["X-aws-ec2-metadata-token-ttl-seconds"] = "21600"\n' >"$WORK/put.lua"

# wrk latency unit -> microseconds
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") f = 1; else if (u == "ms") f = 1000; else if (u == "s") f = 1000000; else f = 1;
    printf "%.0f", n * f }'
}

# run PORT PATH MODE TOKEN -> "ok_per_s other_per_s p99_us sock_errors"
run() {
  local port=$1 path=$2 mode=$3 token=$4 extra=() out
  [[ $mode == close ]] && extra+=(-H "Connection: close")
  case $token in
    none) ;;
    v2) extra+=(-H "X-aws-ec2-metadata-token: $5") ;;
    PUT) extra+=(-s "$WORK/put.lua") ;;
  esac
  out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "${extra[@]}" \
        "http://127.0.0.1:$port$path" 2>&1)
  awk -v dur="${DURATION%s}" '
    / requests in / { req = $1; secs = $4; sub(/s,?$/, "", secs); if (secs ~ /ms/) { sub(/ms/, "", secs); secs /= 1000 } }
    /Non-2xx or 3xx responses:/ { non = $5 }
    /Socket errors:/ { gsub(",", ""); se = $4 + $6 + $8 + $10 }
    $1 == "99%" { p99 = $2 }
    END { if (secs <= 0) secs = dur; printf "%.0f %.0f %s %d\n", (req - non) / secs, non / secs, (p99 == "" ? "0us" : p99), se }' <<<"$out"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : 0) }'; }

# cell LIMITS PATH MODE TOKEN: ours (with LIMITS) against nginx, ROUNDS alternating runs each.
cell() {
  local limits=$1 path=$2 mode=$3 token=$4 port tok
  if [[ $limits == off ]]; then port=$OURS_PORT tok=$TOKEN_OFF; else port=$SHIPPED_PORT tok=$TOKEN_SHIPPED; fi
  [[ $token == PUT ]] && path=/latest/api/token
  DURATION=1s run "$port" "$path" "$mode" "$token" "$tok" >/dev/null   # warm-up
  DURATION=1s run "$NGINX_PORT" "$path" "$mode" "$token" "$tok" >/dev/null
  local o_ok="" o_other="" o_p99="" o_err=0 n_ok="" n_p99="" n_err=0 ok other p99 err who order
  for round in $(seq "$ROUNDS"); do
    # Alternate which server goes first so drift in background load hits both alike.
    if (( round % 2 )); then order=(ours nginx); else order=(nginx ours); fi
    for who in "${order[@]}"; do
      if [[ $who == ours ]]; then
        # A fresh second for the token bucket (it refills at 200/s; 2 s refill it to the burst).
        [[ $limits == shipped ]] && sleep 2
        read -r ok other p99 err < <(run "$port" "$path" "$mode" "$token" "$tok")
        o_ok+=" $ok"; o_other+=" $other"; o_p99+=" $(to_us "$p99")"; o_err=$((o_err + err))
      else
        read -r ok other p99 err < <(run "$NGINX_PORT" "$path" "$mode" "$token" "$tok")
        n_ok+=" $ok"; n_p99+=" $(to_us "$p99")"; n_err=$((n_err + err))
        [[ $other == 0 ]] || n_err=$((n_err + 1000000))   # nginx must answer 200 only
      fi
    done
  done
  local oo on op nn np
  oo=$(median <<<"$o_ok"); on=$(median <<<"$o_other"); op=$(median <<<"$o_p99")
  nn=$(median <<<"$n_ok"); np=$(median <<<"$n_p99")
  printf '%-8s %-34s %-5s %-10s %10.0f %9.0f %9sus %10.0f %9sus %6s %9s\n' "$limits" "$path" "$token" \
    "$mode" "$oo" "$on" "$op" "$nn" "$np" \
    "$(awk -v a="$oo" -v b="$nn" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" "$o_err/$n_err"
}

printf '%-8s %-34s %-5s %-10s %10s %9s %11s %10s %11s %6s %9s\n' limits request token conn \
  "ours 2xx/s" "other/s" "ours p99" "nginx 2xx/s" "nginx p99" "2xx x" "sock err"
for path in "${PATHS[@]}"; do
  for mode in keep-alive close; do
    cell off "$path" "$mode" none
    cell off "$path" "$mode" v2
  done
done
for mode in keep-alive close; do cell off - "$mode" PUT; done
for mode in keep-alive close; do
  cell shipped "${PATHS[0]}" "$mode" none
  cell shipped "${PATHS[0]}" "$mode" v2
done
cell shipped - keep-alive PUT
echo "median of $ROUNDS runs of $DURATION per cell and server; servers pinned to CPU $SERVER_CPU, wrk (1 thread, $CONNECTIONS connections, all from 127.0.0.1 = one guest) to CPU $CLIENT_CPU"
echo "2xx x = ours/nginx answered-200 rate; sock err = wrk socket errors summed over the runs (ours/nginx)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
