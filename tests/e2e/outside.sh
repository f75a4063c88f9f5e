# "The outside" for tests and benchmarks that must not depend on the internet: a network
# namespace linked to the machine by a veth pair, holding
#   - a DNS server (dnsmasq) that knows repo.outside.test and nothing else,
#   - an HTTP server (nginx) at repo.outside.test serving /hello.txt and
#   - an apt repository at http://repo.outside.test/debian (flat, unsigned: use [trusted=yes])
#     with one package, minicloud-egress-probe, built here with dpkg-deb + dpkg-scanpackages.
# Source this file, then `outside_up [NETNS]` (NETNS: where "the machine" is, default the current
# namespace); it sets
#   OUTSIDE_NS   the namespace          OUTSIDE_IF   the machine's end of the link (an uplink
#   OUTSIDE_IP   the server's address                for `deploy/cloud up --egress-interface`)
#   OUTSIDE_GW   the machine's address  OUTSIDE_TOKEN what /hello.txt holds
#   OUTSIDE_DIR  the files (logs: dnsmasq.log, access.log)
# `outside_link NETNS` links one more namespace to the same servers (a route to OUTSIDE_IP).
# `outside_down` removes all of it. Needs root, dnsmasq, nginx, dpkg-deb, dpkg-scanpackages.

OUTSIDE_NAME=repo.outside.test
OUTSIDE_PACKAGE=minicloud-egress-probe

outside_fail() {
  echo "outside: $*" >&2
  return 1
}

# outside_ip ARGS...: `ip` commands for the machine's end of a link.
outside_ip() { if [[ -n $OUTSIDE_HOST_NS ]]; then ip -n "$OUTSIDE_HOST_NS" "$@"; else ip "$@"; fi; }

outside_up() {
  OUTSIDE_HOST_NS=${1:-}
  OUTSIDE_LINKS=()
  local tool r
  for tool in dnsmasq nginx dpkg-deb dpkg-scanpackages gzip sha256sum md5sum; do
    command -v "$tool" >/dev/null || outside_fail "$tool missing (deploy/install-deps.sh)" || return 1
  done
  r=$(printf '%04x' $((RANDOM % 65536)))
  OUTSIDE_NS=egx-$r
  # Not "mc...": deploy/cloud treats interfaces named mc* as clouds' links.
  OUTSIDE_IF=egx${r}r
  local peer=egx${r}n k=$((RANDOM % 250))
  OUTSIDE_GW=198.18.$k.1
  OUTSIDE_IP=198.18.$k.2
  OUTSIDE_DIR=$(mktemp -d /tmp/minicloud-outside-XXXXXX)
  OUTSIDE_TOKEN="outside-page-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  chmod 755 "$OUTSIDE_DIR"

  ip netns add "$OUTSIDE_NS" || outside_fail "cannot create namespace $OUTSIDE_NS" || return 1
  ip link add "$OUTSIDE_IF" type veth peer name "$peer" || return 1
  ip link set "$peer" netns "$OUTSIDE_NS"
  [[ -z $OUTSIDE_HOST_NS ]] || ip link set "$OUTSIDE_IF" netns "$OUTSIDE_HOST_NS"
  outside_ip addr add "$OUTSIDE_GW/30" dev "$OUTSIDE_IF"
  outside_ip link set "$OUTSIDE_IF" up
  ip -n "$OUTSIDE_NS" addr add "$OUTSIDE_IP/30" dev "$peer"
  ip -n "$OUTSIDE_NS" link set "$peer" up
  ip -n "$OUTSIDE_NS" link set lo up
  # Replies go back the way they came (the machine masquerades what it forwards here).
  ip -n "$OUTSIDE_NS" route add default via "$OUTSIDE_GW"

  # The package: a command that says where it came from.
  local pkg=$OUTSIDE_DIR/pkg web=$OUTSIDE_DIR/www repo=$OUTSIDE_DIR/www/debian
  mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin" "$repo"
  cat >"$pkg/DEBIAN/control" <<EOF
Package: $OUTSIDE_PACKAGE
Version: 1.0
Architecture: all
Maintainer: minicloud tests <tests@outside.test>
Description: proves a guest installed a package from the test's outside repository
EOF
  cat >"$pkg/usr/bin/$OUTSIDE_PACKAGE" <<'EOF'
#!/bin/sh
echo "minicloud-egress-probe: installed from the outside repository"
EOF
  chmod 755 "$pkg/usr/bin/$OUTSIDE_PACKAGE"
  dpkg-deb --root-owner-group --build "$pkg" "$repo/${OUTSIDE_PACKAGE}_1.0_all.deb" >/dev/null ||
    outside_fail "dpkg-deb failed" || return 1
  (cd "$repo" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages) || return 1
  grep -q "^Package: $OUTSIDE_PACKAGE" "$repo/Packages" ||
    outside_fail "dpkg-scanpackages did not index the package" || return 1
  gzip -9kn "$repo/Packages"
  {
    echo "Origin: outside.test"
    echo "Label: minicloud test repository"
    echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
    echo "MD5Sum:"
    for f in Packages Packages.gz; do echo " $(md5sum <"$repo/$f" | cut -d' ' -f1) $(stat -c %s "$repo/$f") $f"; done
    echo "SHA256:"
    for f in Packages Packages.gz; do echo " $(sha256sum <"$repo/$f" | cut -d' ' -f1) $(stat -c %s "$repo/$f") $f"; done
  } >"$repo/Release"
  echo "$OUTSIDE_TOKEN" >"$web/hello.txt"
  chmod -R a+rX "$web"

  # DNS: the repository's name and nothing else (every other name: NXDOMAIN).
  ip netns exec "$OUTSIDE_NS" dnsmasq --no-resolv --no-hosts --no-poll --bind-interfaces \
    --listen-address="$OUTSIDE_IP" --host-record="$OUTSIDE_NAME,$OUTSIDE_IP" --address=/#/ \
    --pid-file="$OUTSIDE_DIR/dnsmasq.pid" --log-queries --log-facility="$OUTSIDE_DIR/dnsmasq.log" ||
    outside_fail "dnsmasq did not start" || return 1

  cat >"$OUTSIDE_DIR/nginx.conf" <<EOF
daemon on;
worker_processes 1;
pid $OUTSIDE_DIR/nginx.pid;
error_log $OUTSIDE_DIR/error.log;
events { worker_connections 64; }
http {
  access_log $OUTSIDE_DIR/access.log;
  client_body_temp_path $OUTSIDE_DIR/tmp;
  types { text/plain txt; application/vnd.debian.binary-package deb; }
  default_type application/octet-stream;
  server {
    listen $OUTSIDE_IP:80;
    root $web;
  }
}
EOF
  ip netns exec "$OUTSIDE_NS" nginx -c "$OUTSIDE_DIR/nginx.conf" -p "$OUTSIDE_DIR" \
    2>"$OUTSIDE_DIR/nginx.err" || outside_fail "nginx did not start: $(cat "$OUTSIDE_DIR/nginx.err")" ||
    return 1
  local i
  for i in $(seq 1 50); do
    ip netns exec "$OUTSIDE_NS" curl -fsS -o /dev/null "http://$OUTSIDE_IP/hello.txt" 2>/dev/null &&
      return 0
    sleep 0.1
  done
  outside_fail "the HTTP server in $OUTSIDE_NS does not answer"
}

# outside_link NETNS: a second link, from NETNS (which reaches OUTSIDE_IP through it).
outside_link() {
  local ns=$1 k=${#OUTSIDE_LINKS[@]} base
  local here=egx${OUTSIDE_NS#egx-}l$k there=egx${OUTSIDE_NS#egx-}m$k
  base=${OUTSIDE_GW%.*}
  ip link add "$here" type veth peer name "$there" || return 1
  ip link set "$here" netns "$ns"
  ip link set "$there" netns "$OUTSIDE_NS"
  # 198.18.<k>.4 + 4 n: the next /30s after the first link's.
  ip -n "$ns" addr add "$base.$((4 * k + 5))/30" dev "$here"
  ip -n "$ns" link set "$here" up
  ip -n "$OUTSIDE_NS" addr add "$base.$((4 * k + 6))/30" dev "$there"
  ip -n "$OUTSIDE_NS" link set "$there" up
  ip -n "$ns" route add "$OUTSIDE_IP/32" via "$base.$((4 * k + 6))"
  OUTSIDE_LINKS+=("$ns:$here")
}

outside_down() {
  [[ -n ${OUTSIDE_DIR:-} ]] || return 0
  local f l
  for f in nginx dnsmasq; do
    [[ -f $OUTSIDE_DIR/$f.pid ]] && kill "$(cat "$OUTSIDE_DIR/$f.pid")" 2>/dev/null
  done
  for l in "${OUTSIDE_LINKS[@]}"; do ip -n "${l%%:*}" link del "${l#*:}" 2>/dev/null; done
  outside_ip link del "$OUTSIDE_IF" 2>/dev/null
  ip netns del "$OUTSIDE_NS" 2>/dev/null
  rm -rf "$OUTSIDE_DIR"
  OUTSIDE_DIR=
  return 0
}
