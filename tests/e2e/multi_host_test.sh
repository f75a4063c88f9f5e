#!/usr/bin/env bash
# Two agents on this machine boot real (tiny, direct-kernel) guests; bad input gets EC2 errors and
# leaves nothing behind; `cloud down` leaves no process, domain or file.
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
