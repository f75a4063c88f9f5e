#!/usr/bin/env bash
# Two agents on this machine boot real (tiny, direct-kernel) guests; QEMU runs under its own
# account and the daemons' files are private; bad input gets EC2 errors and leaves nothing
# behind; `cloud down` leaves no process, domain or file.
source "$(dirname "$0")/lib.sh"

[[ -f $IMAGES/tiny/manifest.json ]] || fail "tiny AMI missing: run images/build-tiny-ami.sh"
cloud_up --hosts 2
hosts=$("$MC" describe-hosts | jq '.Hosts | length')
assert_eq "$hosts" 2 "registered hosts"
accel=$("$MC" describe-hosts | jq -r '.Hosts[0].Accelerator + ": " + .Hosts[0].AcceleratorReason')
log "accelerator $accel"

image=$("$MC" register-image --manifest "$IMAGES/tiny/manifest.json" | jq -r .ImageId)
# One RunInstances call lands in one AZ (as on EC2); the hosts are in home-1a and home-1b.
ids=""
for az in home-1a home-1b; do
  ids+=" $("$MC" run-instances --image-id "$image" --instance-type t3.nano --availability-zone "$az" |
    jq -r '.Instances[].InstanceId')"
done
# shellcheck disable=SC2086
"$MC" wait instance-running --instance-ids $ids --timeout 120 || fail "instances never ran"
distinct=$("$MC" describe-instances | jq '[.Reservations[].Instances[].Placement.HostId] | unique | length')
assert_eq "$distinct" 2 "instances spread over hosts"
for id in $ids; do wait_console "$id" "minicloud-tiny: booted" 120; done
log "both guests booted"

# QEMU runs under its own unprivileged account, not as root.
for id in $ids; do
  pid=$(pgrep -f "guest=$id") || fail "no QEMU process for $id"
  assert_eq "$(ps -o user= -p "$pid")" minicloud-qemu "user of the QEMU process of $id"
  assert_eq "$(ps -o group= -p "$pid")" minicloud-qemu "group of the QEMU process of $id"
done
log "QEMU runs as minicloud-qemu"

# The daemons' files after a real launch (umask 022 here, as on most hosts): nothing in a state
# directory can be read by another local user, and QEMU's group gets exactly its guests' root
# overlays (read-write), the AMI files and the host's NBD client certificate (read-only).
# exposed DIR: entries another user can read or write, through directories it can search.
exposed() { find "$1" \( -type d ! -perm -o+x -prune \) -o \( -perm /o+rw -print \); }
mode_of() { stat -c '%a %U %G' "$1"; }
ctl=$MINICLOUD_HOME/controller
assert_eq "$(mode_of "$ctl")" "700 root root" "controller state directory"
[[ -n $(find "$ctl/db" -type f -name '*.sst' -o -type f -name '*.log') ]] || fail "no RocksDB files in $ctl/db"
loose=$(find "$ctl" -perm /077)
[[ -z $loose ]] || fail "controller files open to group or others: $(ls -ld $loose)"
for n in 1 2; do
  agent=$MINICLOUD_HOME/agent-$n
  assert_eq "$(mode_of "$agent")" "711 root root" "agent-$n state directory (search only)"
  # The DHCP/DNS files that dnsmasq re-reads as its own user are the network code's to guard.
  open_files=$(exposed "$agent" | grep -v "^$agent/network-" || true)
  [[ -z $open_files ]] || fail "agent-$n files another user can reach: $(ls -ld $open_files)"
  for d in instances images libvirt libvirt/lib nbd-tls; do
    assert_eq "$(mode_of "$agent/$d")" "710 root minicloud-qemu" "agent-$n $d/"
  done
  # Everything of QEMU's group (besides what libvirt gives QEMU's account in libvirt/lib/qemu).
  shared=$(find "$agent" -path "$agent/libvirt/lib/qemu" -prune -o -path "$agent/network-*" -prune \
    -o -type f -group minicloud-qemu -printf '%P %m %u\n' | sort)
  # One guest per host; the AMI's three files by the digests of its manifest.
  guests=("$agent"/instances/*/)
  assert_eq "${#guests[@]}" 1 "instance directories on agent-$n"
  want="instances/$(basename "${guests[0]}")/root.qcow2 660 root"
  for sha in $(jq -r '.disk.sha256, .kernel.sha256, .ramdisk.sha256' "$IMAGES/tiny/manifest.json"); do
    want+=$'\n'"images/$sha 440 root"
  done
  # The host's NBD client certificate and its own key (not tls/host.key), for NBD over TLS.
  for f in ca-cert.pem client-cert.pem client-key.pem; do want+=$'\n'"nbd-tls/$f 440 root"; done
  assert_eq "$shared" "$(sort <<<"$want")" "agent-$n files of QEMU's group"
  for id_dir in "$agent"/instances/*; do
    for f in desired.pb console.log; do
      assert_eq "$(mode_of "$id_dir/$f")" "600 root root" "agent-$n ${id_dir##*/}/$f"
    done
  done
done
log "state files private; QEMU's group gets only root overlays, AMI files and NBD client files"

# Bad input: clear EC2 errors, nothing created.
expect_error InvalidAMIID.NotFound "$MC" run-instances --image-id ami-0123456789abcdef0
expect_error InvalidAMIID.Malformed "$MC" run-instances --image-id nonsense
expect_error InvalidParameterValue "$MC" run-instances --image-id "$image" --instance-type t9.mega
expect_error InvalidParameterValue "$MC" run-instances --image-id "$image" --count 0
head -c 16385 /dev/zero | tr '\0' 'x' >"$MINICLOUD_HOME/big-user-data"
expect_error InvalidParameterValue "$MC" run-instances --image-id "$image" \
  --user-data "file://$MINICLOUD_HOME/big-user-data"
expect_error InsufficientInstanceCapacity "$MC" run-instances --image-id "$image" \
  --instance-type m5.4xlarge --count 64
rc=0
"$MC" run-instances --image-id "$image" --user-data file:///nonexistent 2>/dev/null || rc=$?
assert_eq "$rc" 252 "exit code for an unreadable user-data file"
echo "not a disk" >"$MINICLOUD_HOME/notes.txt"
expect_error InvalidParameterValue "$MC" register-image --name junk \
  --image-location "$MINICLOUD_HOME/notes.txt"
rc=0
"$MC" register-image --name missing --image-location "$MINICLOUD_HOME/nope.qcow2" 2>/dev/null ||
  rc=$?
assert_eq "$rc" 252 "exit code for an unreadable image file"
# A file that is no initramfs (a key, /etc/shadow, ...) is refused as a ramdisk: the controller
# checks the uploaded bytes and opens no path a caller names.
tiny_kernel="$IMAGES/tiny/$(jq -r .kernel.file "$IMAGES/tiny/manifest.json")"
tiny_disk="$IMAGES/tiny/$(jq -r .disk.file "$IMAGES/tiny/manifest.json")"
printf '%s\n' 'root:$6$secret$hash:19000:0:99999:7:::' >"$MINICLOUD_HOME/shadow"
expect_error InvalidParameterValue "$MC" register-image --name leak --image-location "$tiny_disk" \
  --kernel "$tiny_kernel" --ramdisk "$MINICLOUD_HOME/shadow"
count=$("$MC" describe-instances | jq '[.Reservations[].Instances[]] | length')
assert_eq "$count" 2 "instances after bad requests"
images=$("$MC" describe-images | jq '.Images | length')
assert_eq "$images" 1 "images after bad registrations"
log "bad input rejected"

"$REPO/deploy/cloud" down >/dev/null
pgrep -f "qemu-system.*$MINICLOUD_HOME" >/dev/null && fail "QEMU left running after down"
pgrep -f "minicloud-(agent|controller).*$MINICLOUD_HOME" >/dev/null && fail "daemons left after down"
[[ -e $MINICLOUD_HOME ]] && fail "state left after down"
mkdir -p "$MINICLOUD_HOME"  # teardown expects to remove it
log "cloud down left nothing behind"
