#!/usr/bin/env bash
# Launch -> user data executed: minicloud against a bare qemu-system-x86_64 boot of the same AMI.
#
#   sudo bench/boot-vs-qemu/run.sh [PAIRS]        PAIRS paired rounds (default 2)
#   bench/boot-vs-qemu/run.sh --aggregate FILE... per-pair ratios and a 95% CI over the rows of
#                                                 one or more saved rounds.tsv files
#
# A pair is one minicloud boot and one bare boot back to back; the order alternates from pair to
# pair (A B, B A, A B, ...) so a drift in the machine's load hits both sides alike. The statistic
# is the per-pair ratio minicloud/bare of the time to the user data marker; the script prints the
# geometric mean of the ratios with a 95% t-interval on the log ratios and a bootstrap percentile
# interval over pairs. Every boot is appended to $BOOT_BENCH_RESULTS/rounds.tsv as it finishes, so
# several short invocations (each a few pairs long, e.g. between other jobs on a shared machine) can be aggregated.
#
# minicloud side: a private one-host cloud (deploy/cloud up --accel tcg) inside a network
#   namespace of its own, the Debian 12 AMI registered from its manifest, one t3.micro instance
#   per boot with user data that writes a unique marker to the serial console. Clock: from just
#   before `minicloud run-instances` to the marker in the console file the agent's QEMU writes
#   ($MINICLOUD_HOME/agent-1/instances/<id>/console.log, read directly, every 0.2 s).
# bare side: qemu-system-x86_64 -accel tcg with the devices, sizes and SMBIOS identity the agent's
#   libvirt domain gets (agent/hypervisor/domain_xml.cc), a fresh qcow2 overlay (qemu-img) on the
#   manifest's base file, a tap on a bridge in a namespace of its own, dnsmasq for DHCP and nginx
#   serving a static copy of the metadata tree minicloud serves on 169.254.169.254 (same paths,
#   listings and user data). Clock: from just before `qemu-img create` to the marker.
#
# BOOT_BENCH_WORKLOAD=apt: the user data installs one package (`apt-get update && apt-get install`)
#   from the test "outside" (tests/e2e/outside.sh: a namespace with DNS, HTTP and an apt
#   repository this run builds) and writes the marker only when the package ran. The cloud has
#   egress out of its link to the outside (deploy/cloud --egress-interface/--dns) and its guest
#   resolves through the host's VPC resolver; the bare guest's NIC is QEMU's user-mode network
#   (slirp) instead of the tap: net 169.254.0.0/16 with the host end at 169.254.169.254, so the
#   guest's metadata requests reach nginx on the bare namespace's 127.0.0.1, names are resolved
#   by slirp from the namespace's resolv.conf (the outside's DNS) and the repository is reached
#   over a second link to the same outside.
#
# Both sides must show the marker and cloud-init's "Datasource DataSourceEc2" line, or the run
# fails. Before the rounds, one minicloud launch (not counted) pays the AMI download to the host
# and libvirt's QEMU probe, and the bare side reads the base file once, so both start warm.
# Milestones per boot (seconds from launch): console file opened, kernel banner, cloud-init's
# init-local, init, modules:config and modules:final stages starting, user data marker.
#
# Needs root, the binaries (MINICLOUD_BIN, default <repo>/build/bin), the Debian AMI
# (images/build-debian-ami.sh), qemu-system-x86_64, qemu-img, dnsmasq, nginx, jq, nsenter,
# python3.
# Env: MINICLOUD_BIN, MANIFEST (default /var/cache/minicloud/images/debian-12/manifest.json),
#      BOOT_BENCH_DIR (parent of the work dir, default /var/tmp), BOOT_TIMEOUT (s per boot, 900),
#      CLOUD_SCRIPT (the cloud launcher, default <repo>/deploy/cloud: pass the one matching
#      MINICLOUD_BIN when those binaries come from another commit),
#      BOOT_BENCH_RESULTS (a directory kept after the run: rounds.tsv, each boot's console log,
#      the bare side's metadata access logs, the agent's QEMU command line; default: none kept),
#      BOOT_BENCH_DIAG=1 (the user data, after writing the marker, prints `cloud-init analyze
#      show/blame`, `systemd-analyze blame/critical-chain` and cloud-init's log of metadata and
#      DHCP steps to the console; saved as diag-<side>-<run>-<pair>.txt; not timed),
#      BOOT_BENCH_PCAP=1 (tcpdump on the guest's tap, DHCP/ARP/port 80, kept as pcap-*.pcap; needs
#      tcpdump and BOOT_BENCH_RESULTS).
# Everything it creates (namespaces mcbq-<tag>-c and mcbq-<tag>-b, processes, the work dir) is
# removed on exit, failure included; work dirs left by a killed run are removed on the next run.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ ${1:-} == --aggregate ]]; then
  shift
  (($# > 0)) || { echo "usage: $0 --aggregate rounds.tsv..." >&2; exit 2; }
  exec python3 "$REPO/bench/boot-vs-qemu/aggregate.py" "$@"
fi
PAIRS=${1:-2}
export MINICLOUD_BIN=${MINICLOUD_BIN:-$REPO/build/bin}
MANIFEST=${MANIFEST:-/var/cache/minicloud/images/debian-12/manifest.json}
WORK_PARENT=${BOOT_BENCH_DIR:-/var/tmp}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}
RESULTS=${BOOT_BENCH_RESULTS:-}
DIAG=${BOOT_BENCH_DIAG:-0}
PCAP=${BOOT_BENCH_PCAP:-0}
WORKLOAD=${BOOT_BENCH_WORKLOAD:-marker}
CLOUD=${CLOUD_SCRIPT:-$REPO/deploy/cloud}
POLL=0.2
INSTANCE_TYPE=t3.micro  # 2 vCPUs, 1024 MiB (checked against the agent's QEMU command line)
VCPUS=2
MEMORY_MIB=1024
QEMU=${QEMU:-qemu-system-x86_64}

die() { echo "boot-vs-qemu: $*" >&2; exit 1; }
say() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[[ $PAIRS =~ ^[1-9][0-9]*$ ]] || die "PAIRS must be a positive number"
[[ $WORKLOAD == marker || $WORKLOAD == apt ]] || die "BOOT_BENCH_WORKLOAD must be marker or apt"
[[ $(id -u) -eq 0 ]] || die "run as root (namespaces, taps, QEMU)"
[[ -f $MANIFEST ]] || die "no AMI manifest at $MANIFEST (images/build-debian-ami.sh)"
for tool in "$CLOUD" "$QEMU" qemu-img dnsmasq nginx jq nsenter ip python3; do
  command -v "$tool" >/dev/null || die "missing $tool"
done
for b in minicloud minicloud-controller minicloud-agent; do
  [[ -x $MINICLOUD_BIN/$b ]] || die "missing $MINICLOUD_BIN/$b (deploy/build.sh, or set MINICLOUD_BIN)"
done
BASE=$(dirname "$MANIFEST")/$(jq -r .disk.file "$MANIFEST")
[[ -z $RESULTS ]] || mkdir -p "$RESULTS"
keep() { [[ -z $RESULTS ]] || cp "$1" "$RESULTS/$2" 2>/dev/null || true; }
[[ -f $BASE ]] || die "AMI disk $BASE missing"

# ---------------------------------------------------------------------------------------------
# Cleanup: everything lives under one work dir named mcbq-<tag>; processes are identified by
# their pid files and only signalled if their command line names that work dir.

# kill_pidfile FILE DIR: stops the process in FILE if its command line mentions DIR.
kill_pidfile() {
  local file=$1 dir=$2 pid
  [[ -f $file ]] || return 0
  pid=$(cat "$file" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$file"
}

# cleanup_dir DIR: tears down whatever the run owning DIR created.
cleanup_dir() {
  local dir=$1 tag f
  tag=$(cat "$dir/tag" 2>/dev/null) || tag=""
  for f in qemu nginx dnsmasq; do kill_pidfile "$dir/bare/$f.pid" "$dir"; done
  if [[ -d $dir/c && -n $tag ]]; then
    if [[ -e /run/netns/mcbq-$tag-c ]]; then
      MINICLOUD_HOME=$dir/c MINICLOUD_PORT=7700 nsenter --net="/run/netns/mcbq-$tag-c" \
        "$CLOUD" down >>"$dir/cloud-down.log" 2>&1 || true
    else
      MINICLOUD_HOME=$dir/c MINICLOUD_PORT=7700 "$CLOUD" down \
        >>"$dir/cloud-down.log" 2>&1 || true
    fi
  fi
  if [[ -n ${OUTSIDE_DIR:-} && $dir == "${WORK:-}" ]]; then outside_down; fi
  if [[ -n $tag ]]; then
    ip netns del "mcbq-$tag-c" 2>/dev/null || true
    ip netns del "mcbq-$tag-b" 2>/dev/null || true
    rm -rf "/etc/netns/mcbq-$tag-b"
  fi
  rm -rf "$dir"
}

# Work dirs of earlier runs whose owner is gone (killed with -9, machine rebooted).
for old in "$WORK_PARENT"/mcbq-*; do
  [[ -f $old/owner.pid ]] || continue
  kill -0 "$(cat "$old/owner.pid")" 2>/dev/null && continue
  echo "boot-vs-qemu: removing leftovers of an earlier run in $old" >&2
  cleanup_dir "$old"
done

mkdir -p "$WORK_PARENT"
WORK_PARENT=$(cd "$WORK_PARENT" && pwd -P)
# The agent refuses a libvirt root longer than 50 characters (UNIX socket paths under it).
((${#WORK_PARENT} + 30 <= 50)) || die "BOOT_BENCH_DIR '$WORK_PARENT' is too long (at most 20 characters)"
WORK=$(mktemp -d "$WORK_PARENT/mcbq-XXXXXX")
# The cloud lives below: QEMU runs under its own account and must be able to pass through.
chmod 711 "$WORK"
echo $$ >"$WORK/owner.pid"
TAG=$(printf '%s' "$WORK" | md5sum | cut -c1-6)
echo "$TAG" >"$WORK/tag"
NSC=mcbq-$TAG-c  # the private cloud's "machine" namespace (controller, CLI, agent veths)
NSB=mcbq-$TAG-b  # the bare side: bridge, tap, dnsmasq, nginx, QEMU
BARE=$WORK/bare
mkdir -p "$BARE"

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if ((rc != 0)); then
    say "failed (exit $rc); logs:"
    for f in "$WORK"/c/logs/*.log "$BARE"/nginx-error.log; do
      [[ -s $f ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
  fi
  say "cleaning up $WORK"
  cleanup_dir "$WORK"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# minicloud side: one private cloud for all rounds.

export MINICLOUD_HOME=$WORK/c MINICLOUD_PORT=7700
export MINICLOUD_ENDPOINT=127.0.0.1:$MINICLOUD_PORT
in_cloud_ns() { nsenter --net="/run/netns/$NSC" "$@"; }
mc() { in_cloud_ns "$MINICLOUD_BIN/minicloud" "$@"; }

# The cloud runs inside a namespace of our own, so its links cannot meet another cloud running
# on this machine. nsenter (not `ip netns exec`) keeps the mount namespace,
# so the agent namespace deploy/cloud creates is visible to everyone.
ip netns add "$NSC"
ip -n "$NSC" link set lo up
ip netns add "$NSB"
ip -n "$NSB" link set lo up
CLOUD_ARGS=(--no-egress)
if [[ $WORKLOAD == apt ]]; then
  source "$REPO/tests/e2e/outside.sh"
  outside_up "$NSC" || die "the outside fixture did not come up"
  outside_link "$NSB" || die "cannot link the bare namespace to the outside"
  mkdir -p "/etc/netns/$NSB"
  echo "nameserver $OUTSIDE_IP" >"/etc/netns/$NSB/resolv.conf"
  CLOUD_ARGS=(--egress-interface "$OUTSIDE_IF" --dns "$OUTSIDE_IP")
  say "outside: $OUTSIDE_NS at $OUTSIDE_IP, linked to $NSC and $NSB"
fi
say "starting a one-host cloud in $MINICLOUD_HOME (namespace $NSC)"
in_cloud_ns "$CLOUD" up --hosts 1 --accel tcg "${CLOUD_ARGS[@]}" >"$WORK/cloud-up.log" 2>&1 ||
  { cat "$WORK/cloud-up.log" >&2; die "deploy/cloud up failed"; }
eval "$("$CLOUD" env)"  # the controller's first access key signs every call
IMAGE=$(mc register-image --manifest "$MANIFEST" | jq -r .ImageId)
say "registered $IMAGE from $MANIFEST"

# ---------------------------------------------------------------------------------------------
# bare side: namespace, bridge with the gateway and metadata addresses, tap, dnsmasq, nginx.
# Addresses, DHCP options and bridge settings mirror agent/network (host_network.cc, dnsmasq.cc).

BR=mcbqbr0
TAP=mcbqtap0
GUEST_MAC=02:6d:63:62:71:04
GUEST_IP=172.31.0.4
GUEST_HOST=ip-172-31-0-4
GUEST_DNS=ip-172-31-0-4.home-1.compute.internal

ip -n "$NSB" link add name "$BR" type bridge stp_state 0
ip netns exec "$NSB" sh -c "echo 0 >/proc/sys/net/ipv6/conf/$BR/accept_ra;
                            echo 0 >/proc/sys/net/ipv6/conf/$BR/autoconf"
ip -n "$NSB" addr add 172.31.0.1/20 dev "$BR"
ip -n "$NSB" addr add 169.254.169.254/32 dev "$BR"
ip -n "$NSB" -6 addr add fd00:ec2::254/128 dev "$BR" nodad
ip -n "$NSB" link set "$BR" up
ip -n "$NSB" tuntap add dev "$TAP" mode tap
ip -n "$NSB" link set "$TAP" master "$BR" up

echo "$GUEST_MAC,$GUEST_IP,$GUEST_HOST" >"$BARE/dhcp-hosts"
ip netns exec "$NSB" dnsmasq --conf-file=/dev/null --pid-file="$BARE/dnsmasq.pid" \
  --interface="$BR" --except-interface=lo --bind-dynamic --no-hosts --dhcp-authoritative \
  --dhcp-range=172.31.0.0,static,255.255.240.0,3600 --dhcp-hostsfile="$BARE/dhcp-hosts" \
  --dhcp-leasefile="$BARE/dnsmasq.leases" --dhcp-option=option:router,172.31.0.1 --port=0 \
  --user=root

# The metadata tree, as agent/metadata/handler.cc serves it for metadata version 2021-03-23
# (the one cloud-init 22.4 settles on) to an instance like ours: no key pair, instance tags off.
# Listings are LF-separated without a trailing newline, directories end in '/'. A directory's
# listing is its `.list` file; `latest` is the same tree. user-data is written per round.
IMDS=$BARE/imds
put() { mkdir -p "$(dirname "$IMDS/$1")"; printf '%s' "$2" >"$IMDS/$1"; }
list() { local d=$1; shift; mkdir -p "$IMDS/$d"; (IFS=$'\n'; printf '%s' "$*" >"$IMDS/$d/.list"); }
write_imds_tree() {
  local v=2021-03-23 md mac id=i-0b0a4e0000000bare
  rm -rf "$IMDS"
  list . 1.0 2007-01-19 2007-03-01 2007-08-29 2007-10-10 2007-12-15 2008-02-01 2008-09-01 \
    2009-04-04 2011-01-01 2011-05-01 2012-01-12 2014-02-25 2014-11-05 2015-10-20 2016-04-19 \
    2016-06-30 2016-09-02 2018-03-28 2018-08-17 2018-09-24 2019-10-01 2020-10-27 2021-01-03 \
    2021-03-23 2021-07-15 2022-07-09 2022-09-24 2024-04-11 latest
  list $v dynamic meta-data user-data
  md=$v/meta-data
  list $md ami-id ami-launch-index ami-manifest-path block-device-mapping/ events/ hostname \
    instance-action instance-id instance-life-cycle instance-type local-hostname local-ipv4 mac \
    network/ placement/ profile reservation-id security-groups services/
  put $md/ami-id "$IMAGE"
  put $md/ami-launch-index 0
  put $md/ami-manifest-path "(unknown)"
  list $md/block-device-mapping ami root
  put $md/block-device-mapping/ami /dev/xvda
  put $md/block-device-mapping/root /dev/xvda
  list $md/events maintenance/
  list $md/events/maintenance history scheduled
  put $md/events/maintenance/history "[]"
  put $md/events/maintenance/scheduled "[]"
  put $md/hostname "$GUEST_DNS"
  put $md/instance-action none
  put $md/instance-id $id
  put $md/instance-life-cycle on-demand
  put $md/instance-type $INSTANCE_TYPE
  put $md/local-hostname "$GUEST_DNS"
  put $md/local-ipv4 $GUEST_IP
  put $md/mac $GUEST_MAC
  list $md/network interfaces/
  list $md/network/interfaces macs/
  list $md/network/interfaces/macs "$GUEST_MAC/"
  mac=$md/network/interfaces/macs/$GUEST_MAC
  list "$mac" device-number interface-id local-hostname local-ipv4s mac network-card-index \
    owner-id security-group-ids security-groups subnet-id subnet-ipv4-cidr-block vpc-id \
    vpc-ipv4-cidr-block vpc-ipv4-cidr-blocks
  put "$mac/device-number" 0
  put "$mac/interface-id" eni-0b0a4e0000000bare
  put "$mac/local-hostname" "$GUEST_DNS"
  put "$mac/local-ipv4s" $GUEST_IP
  put "$mac/mac" $GUEST_MAC
  put "$mac/network-card-index" 0
  put "$mac/owner-id" 000000000000
  put "$mac/security-group-ids" sg-default
  put "$mac/security-groups" default
  put "$mac/subnet-id" subnet-0b0a4e0000000bare
  put "$mac/subnet-ipv4-cidr-block" 172.31.0.0/20
  put "$mac/vpc-id" vpc-0b0a4e0000000bare
  put "$mac/vpc-ipv4-cidr-block" 172.31.0.0/16
  put "$mac/vpc-ipv4-cidr-blocks" 172.31.0.0/16
  list $md/placement availability-zone region
  put $md/placement/availability-zone home-1a
  put $md/placement/region home-1
  put $md/profile default-hvm
  put $md/reservation-id r-0b0a4e0000000bare
  put $md/security-groups default
  list $md/services domain partition
  put $md/services/domain amazonaws.com
  put $md/services/partition aws
  list $v/dynamic instance-identity/
  list $v/dynamic/instance-identity document pkcs7 rsa2048 signature
  put $v/dynamic/instance-identity/document "{
  \"accountId\" : \"000000000000\",
  \"architecture\" : \"x86_64\",
  \"availabilityZone\" : \"home-1a\",
  \"billingProducts\" : null,
  \"devpayProductCodes\" : null,
  \"marketplaceProductCodes\" : null,
  \"imageId\" : \"$IMAGE\",
  \"instanceId\" : \"$id\",
  \"instanceType\" : \"$INSTANCE_TYPE\",
  \"kernelId\" : null,
  \"pendingTime\" : \"$(date -u +%FT%TZ)\",
  \"privateIp\" : \"$GUEST_IP\",
  \"ramdiskId\" : null,
  \"region\" : \"home-1\",
  \"version\" : \"2017-09-30\"
}"
  # Unsigned here: cloud-init stores these blobs and never checks them.
  put $v/dynamic/instance-identity/pkcs7 unsigned
  put $v/dynamic/instance-identity/rsa2048 unsigned
  put $v/dynamic/instance-identity/signature unsigned
  ln -s $v "$IMDS/latest"
}
write_imds_tree

mkdir -p "$BARE/nginx"
cat >"$BARE/nginx.conf" <<CONF
user root;
worker_processes 1;
daemon off;
pid $BARE/nginx.pid;
error_log $BARE/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log $BARE/imds-access.log;
  server_tokens off;
  types { }
  default_type text/plain;
  etag off;
  client_body_temp_path $BARE/nginx/body;
  proxy_temp_path $BARE/nginx/proxy;
  fastcgi_temp_path $BARE/nginx/fastcgi;
  uwsgi_temp_path $BARE/nginx/uwsgi;
  scgi_temp_path $BARE/nginx/scgi;
  server {
    listen 169.254.169.254:80;
    listen [fd00:ec2::254]:80;
    listen 127.0.0.1:80;  # the slirp guest's 169.254.169.254 (BOOT_BENCH_WORKLOAD=apt)
    root $IMDS;
    # IMDSv2: PUT /latest/api/token answers a token and echoes the TTL header.
    location = /latest/api/token {
      if (\$request_method != PUT) { return 404; }
      add_header X-aws-ec2-metadata-token-ttl-seconds \$http_x_aws_ec2_metadata_token_ttl_seconds always;
      return 200 "AQAEAmcbqStaticTokenForTheBareBootBenchmark==";
    }
    location ~ /user-data\$ {
      default_type application/octet-stream;
      try_files \$uri =404;
    }
    # A directory answers with its listing, with or without the trailing slash.
    location / {
      try_files \$uri/.list \$uri =404;
    }
  }
}
CONF
ip netns exec "$NSB" nginx -c "$BARE/nginx.conf" -e "$BARE/nginx-error.log" \
  >>"$BARE/nginx-stdout.log" 2>&1 &
for _ in $(seq 100); do
  [[ -s $BARE/nginx.pid ]] &&
    ip netns exec "$NSB" curl -fsS -o /dev/null http://169.254.169.254/latest/meta-data/instance-id \
      2>/dev/null && break
  sleep 0.1
done
ip netns exec "$NSB" curl -fsS -o /dev/null -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' \
  http://169.254.169.254/latest/api/token || die "static metadata server does not answer"
ip netns exec "$NSB" curl -fsS -o /dev/null http://169.254.169.254/2021-03-23/dynamic/instance-identity ||
  die "static metadata server: no instance-identity listing"

# ---------------------------------------------------------------------------------------------
# Timing. watch_console FILE MARKER T0 -> "console kernel init_local init config final marker" in
# seconds from T0 ("-" when not seen); returns 1 on timeout. Both sides use this same loop.

elapsed() { awk -v a="$EPOCHREALTIME" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }

# The patterns of the milestones after the kernel banner, in the order they appear.
STAGES=("running 'init-local'" "running 'init'" "running 'modules:config'" "running 'modules:final'")

watch_console() {
  local file=$1 marker=$2 t0=$3 t_open=- t_kernel=- now i
  local t_stage=(- - - -)
  while :; do
    if [[ -f $file ]]; then
      [[ $t_open == - ]] && t_open=$(elapsed "$t0")
      [[ $t_kernel == - ]] && grep -aq 'Linux version' "$file" && t_kernel=$(elapsed "$t0")
      for i in 0 1 2 3; do
        [[ ${t_stage[i]} == - ]] && grep -aqF "${STAGES[i]}" "$file" && t_stage[i]=$(elapsed "$t0")
      done
      if grep -aqF "$marker" "$file"; then
        echo "$t_open $t_kernel ${t_stage[*]} $(elapsed "$t0")"
        return 0
      fi
    fi
    now=${EPOCHREALTIME%.*}
    if ((now - ${t0%.*} > BOOT_TIMEOUT)); then
      echo "$t_open $t_kernel ${t_stage[*]} -"
      return 1
    fi
    sleep "$POLL"
  done
}

# check_datasource FILE: after the marker, cloud-init's last line names the datasource (not timed).
check_datasource() {
  local file=$1
  for _ in $(seq 600); do
    grep -aq 'Datasource DataSourceEc2' "$file" && return 0
    sleep 0.2
  done
  tail -n 30 "$file" >&2
  return 1
}

# qemu_cpu PID: user + system CPU seconds the process has used so far ("-" if gone).
qemu_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo -
}
# note_cpu SIDE PAIR PID WALL: records the QEMU's CPU time at the marker (cpu.tsv).
note_cpu() {
  local f=${RESULTS:-$WORK}/cpu.tsv
  [[ -s $f ]] || printf 'run\tpair\tside\tqemu_cpu_s\tuser_data_s\n' >"$f"
  printf '%s\t%s\t%s\t%s\t%s\n' "$TAG" "$2" "$1" "$(qemu_cpu "$3")" "$4" >>"$f"
}

# start_pcap NETNS IFACE FILE / stop_pcap: packet capture on a guest's tap (BOOT_BENCH_PCAP=1).
PCAP_PID=""
start_pcap() {
  ((PCAP)) && [[ -n $RESULTS ]] || return 0
  ip netns exec "$1" tcpdump -i "$2" -n -s 200 -w "$3" 'arp or udp port 67 or udp port 68 or tcp port 80' \
    >/dev/null 2>&1 &
  PCAP_PID=$!
}
stop_pcap() {
  [[ -n $PCAP_PID ]] || return 0
  kill -INT "$PCAP_PID" 2>/dev/null || true
  wait "$PCAP_PID" 2>/dev/null || true
  PCAP_PID=""
}

write_user_data() {  # write_user_data FILE MARKER
  if [[ $WORKLOAD == apt ]]; then
    # The marker only once the package is installed and ran.
    cat >"$1" <<EOF
#!/bin/sh
set -e
rm -f /etc/apt/sources.list.d/*
echo "deb [trusted=yes] http://$OUTSIDE_NAME/debian ./" >/etc/apt/sources.list
DEBIAN_FRONTEND=noninteractive apt-get update -q --error-on=any
DEBIAN_FRONTEND=noninteractive apt-get install -y -q $OUTSIDE_PACKAGE
echo "\$($OUTSIDE_PACKAGE) $2" >/dev/ttyS0
EOF
  else
    printf '#!/bin/sh\necho %s > /dev/ttyS0\n' "$2" >"$1"
  fi
  ((DIAG)) || return 0
  # Not timed: where the boot's seconds went, as the guest saw them.
  cat >>"$1" <<'DIAG'
{
  echo "mcbq-diag-begin"
  echo "== cloud-init analyze show"; cloud-init analyze show
  echo "== cloud-init analyze blame"; cloud-init analyze blame | head -n 30
  echo "== systemd-analyze"; systemd-analyze
  echo "== systemd-analyze blame"; systemd-analyze blame | head -n 30
  echo "== systemd-analyze critical-chain"; systemd-analyze critical-chain
  echo "== cloud-init.log (metadata, DHCP, network, commands)"
  grep -nE 'url_helper|DataSourceEc2|[Dd]hcp|dhclient|Applying network|Running command|took [0-9]|finish: ' \
    /var/log/cloud-init.log | cut -c1-240 | head -n 500
  echo "== metadata latency from the guest (a connection per request, as cloud-init)"
  python3 - <<'PY'
import http.client, statistics, time
def req(method, path, headers):
    t0 = time.monotonic()
    c = http.client.HTTPConnection("169.254.169.254", 80, timeout=10)
    c.connect()
    t1 = time.monotonic()
    c.request(method, path, headers=headers)
    r = c.getresponse()
    body = r.read()
    t2 = time.monotonic()
    c.close()
    return (t1 - t0) * 1000, (t2 - t1) * 1000, r.status, body
for _ in range(3):
    _, _, st, tok = req("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "300"})
h = {"X-aws-ec2-metadata-token": tok.decode()}
for path in ("/latest/meta-data/instance-id", "/latest/dynamic/instance-identity/document"):
    con, rsp = [], []
    for _ in range(40):
        a, b, st, _ = req("GET", path, h)
        con.append(a); rsp.append(b)
    q = lambda v, p: sorted(v)[int(p * (len(v) - 1))]
    print("%s status %d: connect p50 %.1f p90 %.1f ms; request->response p50 %.1f p90 %.1f ms"
          % (path, st, q(con, .5), q(con, .9), q(rsp, .5), q(rsp, .9)))
PY
  echo "== resolv.conf"; cat /etc/resolv.conf
  echo "== hostname"; hostname; hostname -f 2>&1
  echo "mcbq-diag-end"
} >/dev/ttyS0 2>&1
DIAG
}

# save_diag CONSOLE NAME: waits for the diagnostics (BOOT_BENCH_DIAG=1) and keeps them.
save_diag() {
  local console=$1 name=$2
  ((DIAG)) && [[ -n $RESULTS ]] || return 0
  for _ in $(seq 900); do
    grep -aq '^mcbq-diag-end' "$console" && break
    sleep 0.2
  done
  sed -n '/^mcbq-diag-begin/,/^mcbq-diag-end/p' "$console" | tr -d '\r' >"$RESULTS/$name"
}

# One minicloud round: prints the milestones; the instance is terminated before returning.
run_minicloud() {
  local round=$1 marker ud t0 id console out qpid args rc=0
  marker="mcbq-user-data-done-minicloud-$round-$TAG-$RANDOM"
  ud=$WORK/user-data-minicloud-$round.sh
  write_user_data "$ud" "$marker"
  t0=$EPOCHREALTIME
  id=$(mc run-instances --image-id "$IMAGE" --instance-type "$INSTANCE_TYPE" \
    --user-data "file://$ud" | jq -r '.Instances[0].InstanceId')
  [[ $id == i-* ]] || die "run-instances gave no instance id"
  console=$MINICLOUD_HOME/agent-1/instances/$id/console.log
  if ((PCAP)); then
    local apid ans atap
    apid=$(pgrep -f "minicloud-agent --config $MINICLOUD_HOME/" | head -n1)
    ans=$(ip netns identify "$apid")
    atap=$(ip -n "$ans" -o link show master mcbr0 | awk -F': ' 'NR == 1 { sub(/@.*/, "", $2); print $2 }')
    start_pcap "$ans" "$atap" "$RESULTS/pcap-minicloud-$TAG-$round.pcap"
  fi
  out=$(watch_console "$console" "$marker" "$t0") || rc=1
  stop_pcap
  # Same machine on both sides: the agent's QEMU must have the bare side's sizes and accelerator.
  qpid=$(pgrep -f "guest=$id," | head -n1) || true
  [[ -z $qpid ]] || note_cpu minicloud "$round" "$qpid" "${out##* }"
  if [[ -n $qpid ]]; then
    args=$(tr '\0' ' ' <"/proc/$qpid/cmdline")
    echo "$args" >"$WORK/minicloud-qemu-args.txt"
    for want in "-accel tcg" "-cpu max," "-m $MEMORY_MIB " "-smp $VCPUS,"; do
      grep -qF -- "$want" <<<"$args" || die "agent QEMU lacks '$want': $args"
    done
  fi
  if ((rc == 0)); then
    check_datasource "$console" || die "minicloud round $round: no Ec2 datasource line"
    save_diag "$console" "diag-minicloud-$TAG-$round.txt"
  else
    tail -n 30 "$console" >&2 || true
  fi
  keep "$console" "console-minicloud-$TAG-$round.log"
  keep "$WORK/minicloud-qemu-args.txt" "minicloud-qemu-args-$TAG.txt"
  mc terminate-instances --instance-ids "$id" >/dev/null
  mc wait instance-terminated --instance-ids "$id" --timeout 120 >/dev/null ||
    die "$id did not terminate"
  ((rc == 0)) || die "minicloud round $round: marker not seen within ${BOOT_TIMEOUT}s"
  echo "$out"
}

run_bare() {
  local round=$1 marker t0 out overlay console uuid rc=0
  marker="mcbq-user-data-done-bare-$round-$TAG-$RANDOM"
  write_user_data "$IMDS/2021-03-23/user-data" "$marker"
  : >"$BARE/imds-access.log"
  overlay=$BARE/root-$round.qcow2
  console=$BARE/console-$round.log
  uuid=$(cat /proc/sys/kernel/random/uuid)
  uuid=ec2${uuid:3}
  start_pcap "$NSB" "$TAP" "$RESULTS/pcap-bare-$TAG-$round.pcap"
  local BARE_NETDEV="tap,id=hostnet0,ifname=$TAP,script=no,downscript=no"
  # slirp: the host end (169.254.169.254) is the namespace's loopback, where nginx listens too.
  [[ $WORKLOAD == apt ]] &&
    BARE_NETDEV="user,id=hostnet0,ipv6=off,net=169.254.0.0/16,host=169.254.169.254,dhcpstart=169.254.0.4"
  t0=$EPOCHREALTIME
  qemu-img create -q -f qcow2 -F qcow2 -b "$BASE" "$overlay"
  # The agent's domain (agent/hypervisor/domain_xml.cc) as libvirt starts it, minus libvirt's
  # monitor socket and fd passing: machine pc, TCG, -cpu max, virtio disk (writeback, discard),
  # virtio NIC on a bridge tap, serial console to a file, virtio-rng, no USB/graphics/balloon.
  # setsid: the agent's QEMU runs in the agent's session (deploy/cloud starts daemons with
  # setsid), and with the scheduler's autogroups every session gets an equal share of the CPUs;
  # without it the bare QEMU would share one share with whatever else runs in the session that
  # started this script.
  ip netns exec "$NSB" setsid "$QEMU" -name "guest=mcbq-bare-$round" \
    -machine pc,usb=off,dump-guest-core=off -accel tcg -cpu max,migratable=off \
    -m "$MEMORY_MIB" -overcommit mem-lock=off -smp "$VCPUS,sockets=$VCPUS,cores=1,threads=1" \
    -uuid "$uuid" -smbios "type=1,manufacturer=Amazon EC2,product=minicloud,serial=$uuid,uuid=$uuid" \
    -display none -no-user-config -nodefaults -rtc base=utc,driftfix=slew \
    -global kvm-pit.lost_tick_policy=delay -no-hpet -no-shutdown -boot strict=on \
    -blockdev "driver=file,filename=$overlay,node-name=root-storage,cache.direct=off,cache.no-flush=off,discard=unmap" \
    -blockdev "driver=qcow2,file=root-storage,node-name=root-format,cache.direct=off,cache.no-flush=off,discard=unmap" \
    -device virtio-blk-pci,bus=pci.0,addr=0x3,drive=root-format,id=virtio-disk0,bootindex=1,write-cache=on \
    -netdev "$BARE_NETDEV" \
    -device "virtio-net-pci,netdev=hostnet0,id=net0,mac=$GUEST_MAC,bus=pci.0,addr=0x2" \
    -chardev "file,id=charserial0,path=$console,append=on" \
    -device isa-serial,chardev=charserial0,id=serial0,index=0 \
    -object rng-random,id=objrng0,filename=/dev/urandom \
    -device virtio-rng-pci,rng=objrng0,id=rng0,bus=pci.0,addr=0x4 \
    -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny \
    >>"$BARE/qemu-$round.log" 2>&1 &
  echo $! >"$BARE/qemu.pid"
  sleep 0.5
  tr '\0' ' ' <"/proc/$(cat "$BARE/qemu.pid")/cmdline" >"$BARE/qemu-args.txt" 2>/dev/null || true
  out=$(watch_console "$console" "$marker" "$t0") || rc=1
  stop_pcap
  note_cpu bare "$round" "$(cat "$BARE/qemu.pid")" "${out##* }"
  if ((rc == 0)); then
    check_datasource "$console" || die "bare round $round: no Ec2 datasource line"
    if ! grep -q '"PUT /latest/api/token HTTP/1.1" 200' "$BARE/imds-access.log" ||
      ! grep -q '"GET /2021-03-23/user-data HTTP/1.1" 200' "$BARE/imds-access.log"; then
      die "bare round $round: cloud-init did not read the static metadata server"
    fi
    save_diag "$console" "diag-bare-$TAG-$round.txt"
  else
    tail -n 30 "$console" >&2 || true
    cat "$BARE/qemu-$round.log" >&2 || true
  fi
  kill_pidfile "$BARE/qemu.pid" "$WORK"
  rm -f "$overlay"
  keep "$console" "console-bare-$TAG-$round.log"
  keep "$BARE/imds-access.log" "imds-access-bare-$TAG-$round.log"
  keep "$BARE/qemu-args.txt" "bare-qemu-args-$TAG.txt"
  ((rc == 0)) || die "bare round $round: marker not seen within ${BOOT_TIMEOUT}s"
  echo "$out"
}

# ---------------------------------------------------------------------------------------------
# Warm-up (not counted), then the rounds.

say "warm-up: one minicloud launch to domain started (AMI download to the host, libvirt probe)"
t0=$EPOCHREALTIME
wid=$(mc run-instances --image-id "$IMAGE" --instance-type "$INSTANCE_TYPE" |
  jq -r '.Instances[0].InstanceId')
mc wait instance-running --instance-ids "$wid" --timeout 300 >/dev/null || die "warm-up never ran"
warm=$(elapsed "$t0")
mc terminate-instances --instance-ids "$wid" >/dev/null
mc wait instance-terminated --instance-ids "$wid" --timeout 120 >/dev/null ||
  die "warm-up did not terminate"
cat "$BASE" >/dev/null  # the bare side's base file in the page cache, as the agent's copy is
sync  # the warm-up's download written back before the first timed boot, not during it

img_sha=$(jq -r .disk.sha256 "$MANIFEST")
echo "workload: $WORKLOAD$([[ $WORKLOAD == apt ]] && echo " (user data: apt-get update + install $OUTSIDE_PACKAGE from http://$OUTSIDE_NAME; bare NIC: slirp)")"
echo "boot-vs-qemu $(date -u +%FT%TZ) on $(nproc) cores: $(jq -r .name "$MANIFEST") (disk ${img_sha:0:12}), $INSTANCE_TYPE ($VCPUS vCPU, $MEMORY_MIB MiB), TCG, $PAIRS pair(s), order alternating per pair, run $TAG"
echo "minicloud warm-up launch (not counted): API call -> running in ${warm}s"
echo "scheduler autogroups: $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo n/a) (both QEMUs run in a session of their own)"
TSV=${RESULTS:+$RESULTS/rounds.tsv}
TSV=${TSV:-$WORK/rounds.tsv}
[[ -s $TSV ]] || printf 'run\tpair\tside\tconsole\tkernel\tinit_local\tinit\tmodules_config\tmodules_final\tuser_data\tload1\tload5\tstart_utc\n' >"$TSV"
printf '%-6s %-10s %7s %7s %10s %7s %8s %8s %9s %6s %6s\n' pair side console kernel init-local init "m:config" "m:final" user-data load1 load5
# Which side boots first in pair 1: alternates from one invocation to the next over the same
# rounds.tsv (so "first boot after the warm-up launch" is not always the same side), or
# BOOT_BENCH_FIRST=minicloud|bare.
runs_before=$(awk -F'\t' 'NR > 1 { print $1 }' "$TSV" | sort -u | wc -l)
FIRST=${BOOT_BENCH_FIRST:-$( ((runs_before % 2)) && echo bare || echo minicloud)}
[[ $FIRST == minicloud || $FIRST == bare ]] || die "BOOT_BENCH_FIRST must be minicloud or bare"
echo "pair 1 starts with: $FIRST (invocations already in $(basename "$TSV"): $runs_before)"
bare_first=0
[[ $FIRST == bare ]] && bare_first=1
for pair in $(seq "$PAIRS"); do
  if (((pair + bare_first) % 2)); then order=(minicloud bare); else order=(bare minicloud); fi
  for side in "${order[@]}"; do
    read -r load1 load5 _ </proc/loadavg
    start=$(date -u +%FT%TZ)
    say "pair $pair: $side"
    if [[ $side == minicloud ]]; then out=$(run_minicloud "$pair"); else out=$(run_bare "$pair"); fi
    read -r t_open t_kernel t_local t_init t_config t_final t_mark <<<"$out"
    printf '%-6s %-10s %7s %7s %10s %7s %8s %8s %9s %6s %6s\n' "$pair" "$side" "$t_open" "$t_kernel" \
      "$t_local" "$t_init" "$t_config" "$t_final" "$t_mark" "$load1" "$load5"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$TAG" "$pair" "$side" "$t_open" \
      "$t_kernel" "$t_local" "$t_init" "$t_config" "$t_final" "$t_mark" "$load1" "$load5" "$start" >>"$TSV"
  done
done
echo "(seconds from launch: console file opened, kernel banner, cloud-init init-local, init, modules:config, modules:final, user data marker; load averages at the start of the boot)"
echo "both sides: marker seen, cloud-init reported 'Datasource DataSourceEc2'; bare IMDS served PUT token + user-data"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$REPO/bench/boot-vs-qemu/aggregate.py" --run "$TAG" "$TSV"
echo "QEMU CPU seconds (user+system) at the marker:"
grep -F "$TAG" "${RESULTS:-$WORK}/cpu.tsv" | awk -F'\t' '{ printf "  pair %s %-9s cpu %6s s of %6s s wall\n", $2, $3, $4, $5 }' 
[[ -z $RESULTS ]] || echo "rows appended to $TSV; all runs so far: $0 --aggregate $TSV"
