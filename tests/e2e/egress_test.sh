#!/usr/bin/env bash
# Guest egress and DNS, against a test "outside" (tests/e2e/outside.sh: a namespace with a DNS
# server, an HTTP server and an apt repository holding a package this run builds), never the
# internet. Two clouds are up at once, which also checks that their link subnets do not collide:
#
#   cloud A  egress on, out of the outside link (--egress-interface), resolvers = the outside's
#   cloud B  --no-egress
#
# 1. A tiny guest on A fetches the outside page by address, connects to the outside's HTTP and
#    DNS ports (controls: the path works, and the probe sees an open port as open), and tries to
#    connect to A's controller (its API and its agent listener), A's agent (its gRPC port) and
#    B's controller: all must be blocked. Each try prints `egress-try: <name> <ip:port> result=open|blocked ...`.
# 2. A Debian guest on A: fetch http://repo.outside.test/hello.txt, resolve the tiny guest's
#    name (ip-a-b-c-d.home-1.compute.internal), `apt-get install` the test package from the
#    outside repository and run it: the verdict is success and the console shows each step.
#    A tiny guest on B fetches the same page by address and by name: both fail (no route, no
#    resolver), and the page's token never reaches its console.
# 3. `deploy/cloud down` of both leaves no nftables table, forwarding setting or namespace
#    behind: the machine's tables and every interface's forwarding flag are as before.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/outside.sh"

DEBIAN=${MINICLOUD_DEBIAN_AMI_DIR:-$IMAGES/debian-12}
[[ -f $DEBIAN/manifest.json ]] || fail "Debian AMI missing: run images/build-debian-ami.sh"
[[ -f $IMAGES/tiny/manifest.json ]] || fail "tiny AMI missing: run images/build-tiny-ami.sh"

HOME_A=$MINICLOUD_HOME
HOME_B=$(mktemp -d /tmp/minicloud-e2e-XXXXXX)
watch_cloud "$HOME_B"
PORT_A=$MINICLOUD_PORT
PORT_B=$((PORT_A == 39999 ? 20000 : PORT_A + 1))
# B's CLI: B's endpoint and B's own access key (read once B is up).
MC_B() {
  AWS_ACCESS_KEY_ID=$(sed -n 's/^aws_access_key_id *= *//p' "$HOME_B/controller/admin-credentials") \
    AWS_SECRET_ACCESS_KEY=$(sed -n 's/^aws_secret_access_key *= *//p' \
      "$HOME_B/controller/admin-credentials") \
    "$MC" --endpoint "127.0.0.1:$PORT_B" "$@"
}

down_b() { MINICLOUD_HOME=$HOME_B MINICLOUD_PORT=$PORT_B "$REPO/deploy/cloud" down >/dev/null 2>&1; }
teardown_all() {
  local rc=$?
  down_b || true
  rm -rf "$HOME_B"
  outside_down
  "$REPO/deploy/cloud" down >/dev/null 2>&1 || true
  rm -rf "$HOME_A"
  exit $rc
}
trap teardown_all EXIT

# What must be the same after both clouds are down. Other clouds on the machine (other tests run
# at the same time) may come and go meanwhile and switch the forwarding of the uplinks they use,
# so only what belongs to these two is compared: their tables, their namespaces, whether the
# shared uplink guard still names this test's uplink, and the forwarding flags of the interfaces
# that existed before, except those another cloud uses as its uplink at either moment.
machine_net_state() {
  local f ifname
  nft list tables | grep -E "minicloud_cloud_($(tag "$HOME_A")|$(tag "$HOME_B"))\$" || true
  nft list table ip minicloud_uplinks 2>/dev/null | grep -o "\"$OUTSIDE_IF\"" || true
  for f in /proc/sys/net/ipv4/conf/*/forwarding; do
    ifname=$(basename "$(dirname "$f")")
    [[ $ifname == mc* ]] && continue
    [[ -n ${1:-} ]] && ! grep -qx "$ifname" <<<"$1" && continue
    echo "$ifname forwarding=$(cat "$f")"
  done
  ip netns list | awk '{print $1}' | grep -E "^mc-($(tag "$HOME_A")|$(tag "$HOME_B"))-" || true
  ls /etc/netns 2>/dev/null | grep -E "^mc-($(tag "$HOME_A")|$(tag "$HOME_B"))-" || true
}
# Uplinks other clouds use right now (deploy/cloud's egress bookkeeping).
other_uplinks() { ls /run/minicloud/egress 2>/dev/null | grep -vx "$OUTSIDE_IF" || true; }
# without_ifs STATE IFS: STATE without the forwarding lines of IFS.
without_ifs() {
  local state=$1 ifname
  for ifname in $2; do state=$(grep -v "^$ifname forwarding=" <<<"$state" || true); done
  echo "$state"
}
tag() { printf '%s' "$1" | md5sum | cut -c1-4; }

outside_up || fail "the outside fixture did not come up"
log "outside: $OUTSIDE_NS at $OUTSIDE_IP ($OUTSIDE_NAME), link $OUTSIDE_IF"
ifs_before=$(ls /proc/sys/net/ipv4/conf)
before=$(machine_net_state "$ifs_before")
others_before=$(other_uplinks)

"$REPO/deploy/cloud" up --hosts 1 --egress-interface "$OUTSIDE_IF" --dns "$OUTSIDE_IP" \
  >"$HOME_A/up-a.log" 2>&1 || { cat "$HOME_A/up-a.log"; fail "cloud A up"; }
eval "$("$REPO/deploy/cloud" env)" || fail "cloud A env"
MINICLOUD_HOME=$HOME_B MINICLOUD_PORT=$PORT_B "$REPO/deploy/cloud" up --hosts 1 --no-egress \
  >"$HOME_A/up-b.log" 2>&1 || { cat "$HOME_A/up-b.log"; fail "cloud B up (while A is up)"; }
log "A: $(grep -o 'links.*' "$HOME_A/up-a.log" | cut -d';' -f1)"
log "B: $(grep -o 'links.*' "$HOME_A/up-b.log" | cut -d';' -f1)"
rm -f "$HOME_A/up-a.log" "$HOME_A/up-b.log"
slot_a=$(cat "$HOME_A/run/link-slot")
slot_b=$(cat "$HOME_B/run/link-slot")
[[ $slot_a != "$slot_b" ]] || fail "both clouds took link block $slot_a"

# Addresses the guests must not reach.
link_a=$(ip -4 -o addr show dev "mc$(tag "$HOME_A")o1" | awk '{print $4}' | cut -d/ -f1)
link_b=$(ip -4 -o addr show dev "mc$(tag "$HOME_B")o1" | awk '{print $4}' | cut -d/ -f1)
agent_addr=$(grep -o 'minicloud-agent serving on [0-9.]*:[0-9]*' "$HOME_A/logs/agent-1.log" |
  head -n1 | awk '{print $4}')
[[ $agent_addr =~ ^[0-9.]+:[0-9]+$ ]] || fail "cannot find the agent's gRPC address ('$agent_addr')"
log "A's controller $link_a:$PORT_A, A's agent $agent_addr, B's controller $link_b:$PORT_B"

tiny=$("$MC" register-image --manifest "$IMAGES/tiny/manifest.json" | jq -r .ImageId)
deb_a=$("$MC" register-image --manifest "$DEBIAN/manifest.json" | jq -r .ImageId)
tiny_b=$(MC_B register-image --manifest "$IMAGES/tiny/manifest.json" | jq -r .ImageId)

# --- the tiny guest: what it can and cannot connect to ------------------------------------------
cat >"$HOME_A/tiny.sh" <<EOF
#!/bin/sh
# try NAME IP:PORT: "open" when a TCP connection is established (nc runs /bin/true on it).
try() {
  out=\$(timeout 10 nc -w 5 "\${2%:*}" "\${2#*:}" -e /bin/true 2>&1); rc=\$?
  if [ \$rc -eq 0 ]; then res=open; else res=blocked; fi
  echo "egress-try: \$1 \$2 result=\$res rc=\$rc err=\$(echo \$out | head -c 100)"
}
echo "egress-try: page \$(timeout 10 wget -q -O - http://$OUTSIDE_IP/hello.txt 2>&1)"
try outside-http $OUTSIDE_IP:80
try outside-dns-tcp $OUTSIDE_IP:53
try controller-a $link_a:$PORT_A
try controller-a-agents $link_a:$((PORT_A + 2))
try agent-a $agent_addr
try controller-b $link_b:$PORT_B
echo "egress-try: done"
EOF
peer=$("$MC" run-instances --image-id "$tiny" --instance-type t3.nano \
  --user-data "file://$HOME_A/tiny.sh" | jq -r '.Instances[0].InstanceId')
peer_ip=$("$MC" describe-instances --instance-ids "$peer" |
  jq -r '.Reservations[0].Instances[0].PrivateIpAddress')
peer_name="ip-${peer_ip//./-}.home-1.compute.internal"
log "tiny guest $peer at $peer_ip ($peer_name)"

# --- B, without egress: a tiny guest tries the same page ---------------------------------------
cat >"$HOME_A/tiny-b.sh" <<EOF
#!/bin/sh
for u in http://$OUTSIDE_IP/hello.txt http://$OUTSIDE_NAME/hello.txt; do
  if out=\$(timeout 15 wget -q -O - \$u 2>&1); then echo "egress-b: \$u fetched \$out"; else echo "egress-b: \$u failed"; fi
done
echo "egress-b: done"
EOF
id_b=$(MC_B run-instances --image-id "$tiny_b" --instance-type t3.nano \
  --user-data "file://$HOME_A/tiny-b.sh" | jq -r '.Instances[0].InstanceId')

# --- the Debian guest on A ----------------------------------------------------------------------
cat >"$HOME_A/debian.sh" <<EOF
#!/bin/bash
set -euo pipefail
# Each step stops the script when it fails (an assignment carries its command's status).
echo "egress-step: resolvers \$(awk '/^nameserver/ {print \$2}' /etc/resolv.conf | tr '\n' ' ')"
page=\$(curl -fsS --max-time 30 http://$OUTSIDE_NAME/hello.txt)
echo "egress-step: page \$page"
peer=\$(getent hosts $peer_name)
echo "egress-step: peer \$peer"
rm -f /etc/apt/sources.list.d/*
echo "deb [trusted=yes] http://$OUTSIDE_NAME/debian ./" >/etc/apt/sources.list
DEBIAN_FRONTEND=noninteractive apt-get update -q --error-on=any
DEBIAN_FRONTEND=noninteractive apt-get install -y -q $OUTSIDE_PACKAGE
echo "egress-step: package \$($OUTSIDE_PACKAGE)"
EOF
id_a=$("$MC" run-instances --image-id "$deb_a" --instance-type t3.micro \
  --user-data "file://$HOME_A/debian.sh" | jq -r '.Instances[0].InstanceId')
log "guests: Debian $id_a on A (egress), tiny $id_b on B (no egress)"

wait_console "$peer" "egress-try: done" 300
tries=$(console_text "$peer" | grep -o 'egress-try: .*' | sort -u)
printf '%s\n' "$tries" | sed 's/^/  tiny: /'
grep -qF "egress-try: page $OUTSIDE_TOKEN" <<<"$tries" || fail "the tiny guest did not fetch the page"
for t in outside-http outside-dns-tcp; do
  grep -q "^egress-try: $t .* result=open" <<<"$tries" || fail "control $t was not reachable"
done
for t in controller-a controller-a-agents agent-a controller-b; do
  grep -q "^egress-try: $t .* result=blocked" <<<"$tries" || fail "a guest reached $t"
done
log "a guest reaches the outside, not the controllers or the agent"

tries_b=
for _ in $(seq 1 300); do
  tries_b=$(MC_B --output text get-console-output --instance-id "$id_b" 2>/dev/null | tr -d '\r' |
    grep -o 'egress-b: .*' || true)
  grep -q "egress-b: done" <<<"$tries_b" && break
  sleep 1
done
printf '%s\n' "$tries_b" | sed 's/^/  B: /'
grep -q "egress-b: done" <<<"$tries_b" || fail "B's tiny guest never finished its tries"
for u in "http://$OUTSIDE_IP/hello.txt" "http://$OUTSIDE_NAME/hello.txt"; do
  grep -qF "egress-b: $u failed" <<<"$tries_b" || fail "B's guest fetched $u without egress"
done
grep -qF "$OUTSIDE_TOKEN" <<<"$tries_b" && fail "the page reached B's guest"
log "B: without egress the page is reached neither by address nor by name"

rc=0
verdict_a=$("$MC" wait user-data-finished --instance-ids "$id_a" --timeout 1200 2>&1) || rc=$?
printf '%s\n' "$verdict_a" | sed 's/^/  A: /'
assert_eq "$rc" 0 "exit status of wait user-data-finished on A (egress)"
grep -q "verdict: user data succeeded" <<<"$verdict_a" || fail "A's verdict"
out_a=$(console_text "$id_a")
grep -q "egress-step: resolvers .*172\.31\.0\.2" <<<"$out_a" ||
  fail "A's guest was not given the VPC resolver: $(grep -o 'egress-step: resolvers.*' <<<"$out_a")"
grep -qF "egress-step: page $OUTSIDE_TOKEN" <<<"$out_a" || fail "A's guest did not fetch the page"
grep -q "egress-step: peer $peer_ip \+$peer_name" <<<"$out_a" ||
  fail "A's guest did not resolve $peer_name: $(grep -o 'egress-step: peer.*' <<<"$out_a")"
grep -q "egress-step: package minicloud-egress-probe: installed from the outside repository" \
  <<<"$out_a" || fail "A's guest did not install and run the package"
# apt asks for the package's Filename under the repository: ./<name>_1.0_all.deb
grep -Eq "\"GET /debian/(\./)?${OUTSIDE_PACKAGE}_1\.0_all\.deb HTTP/[0-9.]+\" 200 " "$OUTSIDE_DIR/access.log" ||
  fail "the outside repository never served the package"
log "A: resolved, fetched, installed; verdict success"

# --- nothing left behind -------------------------------------------------------------------------
"$REPO/deploy/cloud" down >/dev/null || fail "cloud A down"
down_b || fail "cloud B down"
after=$(machine_net_state "$ifs_before")
others=$(printf '%s\n' "$others_before" "$(other_uplinks)" | sort -u)
before=$(without_ifs "$before" "$others")
after=$(without_ifs "$after" "$others")
if [[ $before != "$after" ]]; then
  diff <(echo "$before") <(echo "$after") || true
  fail "the clouds left network state behind"
fi
[[ ! -e /run/minicloud/egress/$OUTSIDE_IF ]] || fail "egress bookkeeping of $OUTSIDE_IF left behind"
log "down: no tables, forwarding flags, namespaces or resolv.conf files left"
