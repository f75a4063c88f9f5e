#!/usr/bin/env bash
# EBS volumes on a local cloud: `deploy/cloud up` starts one minicloud-volumed per availability
# zone that has a host and hands each to the controller with --volume-service; `down` stops them.
# The first part boots no guest.
#
#   * create-volume in each zone is made on that zone's volume service (its manifest names the
#     volume) and is `available`; describe-volumes shows the size; modify-volume grows it;
#     delete-volume removes it from the service;
#   * a zone without a host has no volume service (InsufficientVolumeCapacity is not reachable
#     there: the zone is unknown, InvalidParameterValue);
#   * `down` leaves no minicloud-volumed or qemu-storage-daemon of this cloud running.
#
# Bugs caught (one line each): `up` not passing --volume-service (create-volume answers
# InsufficientVolumeCapacity); the second zone's daemon given the first zone's name (the
# controller refuses to start); volumed's state outside the cloud's home (the manifest check);
# `down` not stopping the daemons (the process checks at the end).
#
# Then real boots (tiny and Debian 12 AMIs; MINICLOUD_E2E_NO_BOOT=1 leaves them out):
#   * a running guest gets a volume by attach-volume without a reboot: its user data waits for
#     the disk whose serial is the volume id without the dash, writes a marker onto it and says
#     so on the serial console; the attachment becomes `attached`;
#   * detach-volume unplugs it from the running guest (the guest sees the disk go) and the volume
#     becomes `available`;
#   * attached to a second instance, the marker written by the first is read back there;
#   * modify-volume --size grows it under that running guest: the guest's disk grows from 1 to
#     2 GiB (/sys/block/vdX/size) without a reboot;
#   * terminating that instance keeps the volume (available);
#   * an EBS-backed Debian AMI boots from an NBD root, is baked by create-image, and its baked
#     AMI boots (below).
# Bugs caught: the disk never hot-plugged (no NBD export, a wrong endpoint, XML QEMU refuses);
# a serial that is not the volume id; a detach that never completes; data not reaching the
# volume service (a host-side cache); a grow that never reaches the running guest (no reconnect
# to the re-created export, no block_resize); a terminated instance's volume stuck in-use.
source "$(dirname "$0")/lib.sh"

command -v qemu-storage-daemon >/dev/null || { echo "SKIPPED: no qemu-storage-daemon"; exit 77; }
cloud_up --hosts 3 --azs 2 --no-egress  # hosts 1 and 3 in home-1a, host 2 in home-1b

manifest_has() { grep -q "\"$2\"" "$MINICLOUD_HOME/volumed-$1/manifest.json"; }

for zone in home-1a home-1b; do
  vol=$("$MC" create-volume --availability-zone "$zone" --size 1 | jq -r .VolumeId) ||
    fail "create-volume in $zone"
  [[ $vol == vol-* ]] || fail "create-volume in $zone: no volume id"
  for _ in $(seq 1 20); do
    state=$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].State')
    [[ $state == available ]] && break
    sleep 1
  done
  assert_eq "$state" available "state of $vol"
  manifest_has "$zone" "$vol" || fail "$vol not in the $zone volume service's manifest"
  "$MC" modify-volume --volume-id "$vol" --size 2 >/dev/null || fail "modify-volume $vol"
  assert_eq "$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].Size')" 2 "size of $vol"
  "$MC" delete-volume --volume-id "$vol" >/dev/null || fail "delete-volume $vol"
  for _ in $(seq 1 20); do manifest_has "$zone" "$vol" || break; sleep 1; done
  manifest_has "$zone" "$vol" && fail "$vol still on the $zone volume service after delete"
  log "ok: $zone: $vol created, grown, deleted on its volume service"
done
expect_error InvalidParameterValue "$MC" create-volume --availability-zone home-1c --size 1

# Hot-plug between two running guests of the tiny AMI (it boots in seconds under TCG; its user
# data is a busybox shell script run at boot). Each finds the volume's disk by its serial (the
# volume id without the dash, what udev's /dev/disk/by-id/virtio-<serial> is made of) in sysfs.
TINY=$IMAGES/tiny
DEBIAN=${MINICLOUD_DEBIAN_AMI_DIR:-$IMAGES/debian-12}
if [[ ${MINICLOUD_E2E_NO_BOOT:-} != 1 ]]; then
  [[ -f $TINY/manifest.json ]] || fail "tiny AMI missing: run images/build-tiny-ami.sh"
  [[ -f $DEBIAN/manifest.json ]] || fail "Debian AMI missing: run images/build-debian-ami.sh"
  tiny=$("$MC" register-image --manifest "$TINY/manifest.json" | jq -r .ImageId)
  vol=$("$MC" create-volume --availability-zone home-1a --size 1 | jq -r .VolumeId)
  serial=${vol/-/}
  marker="minicloud-ebs-marker-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  # User data: says it is waiting, waits for the disk with the volume's serial, runs $1 on it
  # ($d), and reports on the console.
  user_data() {
    cat <<USERDATA
#!/bin/sh
disk_of() { for b in /sys/block/vd*; do [ "\$(cat \$b/serial 2>/dev/null)" = "$serial" ] && echo /dev/\${b##*/}; done; }
echo "ebs: waiting for $serial"
i=0; while [ -z "\$(disk_of)" ] && [ \$i -lt 900 ]; do sleep 1; i=\$((i+1)); done
d=\$(disk_of)
$1
USERDATA
  }
  writer=$(user_data "printf '%s' '$marker' | dd of=\$d bs=512 conv=notrunc 2>/dev/null && sync && echo \"ebs: written to \$d\"
i=0; while [ -n \"\$(disk_of)\" ] && [ \$i -lt 900 ]; do sleep 1; i=\$((i+1)); done
echo 'ebs: gone'")
  # The reader then watches its disk's size (sectors) for the online grow below.
  reader=$(user_data "echo \"ebs: read \$(dd if=\$d bs=${#marker} count=1 2>/dev/null)\"
s0=\$(cat /sys/block/\${d##*/}/size); echo \"ebs: size \$s0 sectors\"
i=0; while [ \"\$(cat /sys/block/\${d##*/}/size)\" = \"\$s0\" ] && [ \$i -lt 900 ]; do sleep 1; i=\$((i+1)); done
echo \"ebs: grown to \$(cat /sys/block/\${d##*/}/size) sectors\"")
  run_tiny() {
    "$MC" run-instances --image-id "$tiny" --instance-type t3.nano \
      --placement AvailabilityZone=home-1a --user-data "$1" | jq -r '.Instances[0].InstanceId'
  }
  attach_and_wait() { # VOLUME INSTANCE
    "$MC" attach-volume --volume-id "$1" --instance-id "$2" --device /dev/sdf >/dev/null ||
      fail "attach-volume $1 $2"
    for _ in $(seq 1 120); do
      state=$("$MC" describe-volumes --volume-ids "$1" | jq -r '.Volumes[0].Attachments[0].State')
      [[ $state == attached ]] && return 0
      sleep 1
    done
    fail "$1 never attached to $2 (state $state)"
  }
  wait_available() { # VOLUME WHY
    for _ in $(seq 1 180); do
      state=$("$MC" describe-volumes --volume-ids "$1" | jq -r '.Volumes[0].State')
      [[ $state == available ]] && break
      sleep 1
    done
    assert_eq "$state" available "state of $1 $2"
  }
  first=$(run_tiny "$writer")
  second=$(run_tiny "$reader")
  wait_console "$first" "ebs: waiting for $serial" 600
  log "$first booted; attaching $vol"
  attach_and_wait "$vol" "$first"
  wait_console "$first" "ebs: written to /dev/vd" 300
  log "ok: $vol hot-plugged into the running $first (a virtio disk with its serial) and written"
  "$MC" detach-volume --volume-id "$vol" >/dev/null || fail "detach-volume $vol"
  wait_available "$vol" "after detach-volume"
  wait_console "$first" "ebs: gone" 300
  log "ok: $vol hot-unplugged from the running $first and available"
  wait_console "$second" "ebs: waiting for $serial" 600
  attach_and_wait "$vol" "$second"
  wait_console "$second" "ebs: read $marker" 300
  log "ok: what $first wrote read back on $second"
  wait_console "$second" "ebs: size 2097152 sectors" 60
  "$MC" modify-volume --volume-id "$vol" --size 2 >/dev/null || fail "modify-volume $vol (attached)"
  wait_console "$second" "ebs: grown to 4194304 sectors" 120
  assert_eq "$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].Attachments[0].State')" \
    attached "attachment of $vol after the grow"
  log "ok: $vol grown under the running $second: its disk went from 1 to 2 GiB without a reboot"
  "$MC" terminate-instances --instance-ids "$first" "$second" >/dev/null
  wait_available "$vol" "after its instance terminated"
  log "ok: terminating the instance kept $vol (available)"

  # An EBS-backed Debian AMI: its disk imported as a snapshot of home-1a's volume service; the
  # instance boots from an 8 GiB clone of it over NBD (cloud-init's growpart grows /), writes a
  # file on its root; create-image stops it, snapshots the root and starts it again (on
  # whichever host of home-1a the scheduler picks), and an instance of the baked AMI reads the
  # file back.
  # Bugs caught: the AMI not EBS-backed (no snapshot id); the guest not booting from the NBD root
  # (never reaches cloud-init); VolumeSize ignored (/ stays at the AMI's 2 GiB); the root lost or
  # re-cloned at stop/start (the file or the boot count gone); the root kept after terminate.
  ebs_image=$("$MC" register-image --manifest "$DEBIAN/manifest.json" --name debian-12-ebs-e2e \
    --block-device-mappings 'DeviceName=/dev/xvda,Ebs={DeleteOnTermination=true}' | jq -r .ImageId)
  snap=$("$MC" describe-images --image-ids "$ebs_image" |
    jq -r '.Images[0] | select(.RootDeviceType == "ebs") | .BlockDeviceMappings[0].Ebs.SnapshotId')
  [[ $snap == snap-* ]] || fail "$ebs_image is not EBS-backed (no root snapshot)"
  ebs_user_data=$(cat <<'EOF'
#!/bin/bash
echo kept-across-stop >/var/ebs-e2e
cat >/var/lib/cloud/scripts/per-boot/ebs-e2e.sh <<'X'
#!/bin/bash
n=$(( $(cat /var/ebs-e2e-boots 2>/dev/null || echo 0) + 1 )); echo $n >/var/ebs-e2e-boots; sync
echo "EBS-ROOT boot=$n size=$(df -BG --output=size / | tail -1 | tr -d ' G') $(cat /var/ebs-e2e)" >/dev/ttyS0
X
chmod +x /var/lib/cloud/scripts/per-boot/ebs-e2e.sh
/var/lib/cloud/scripts/per-boot/ebs-e2e.sh
EOF
)
  started_at=$(date +%s)
  ebs_inst=$("$MC" run-instances --image-id "$ebs_image" --instance-type t3.micro \
    --placement AvailabilityZone=home-1a --user-data "$ebs_user_data" \
    --block-device-mappings 'DeviceName=/dev/xvda,Ebs={VolumeSize=8}' |
    jq -r '.Instances[0].InstanceId')
  root_vol=$("$MC" describe-volumes --filters "Name=attachment.instance-id,Values=$ebs_inst" |
    jq -r '.Volumes[] | select(.Attachments[0].Device == "/dev/xvda") | .VolumeId')
  [[ $root_vol == vol-* ]] || fail "$ebs_inst has no root volume in describe-volumes"
  assert_eq "$("$MC" describe-volumes --volume-ids "$root_vol" | jq -r '.Volumes[0].SnapshotId')" \
    "$snap" "the root volume's snapshot"
  "$MC" wait instance-running --instance-ids "$ebs_inst" --timeout 300 || fail "$ebs_inst never ran"
  wait_console "$ebs_inst" "EBS-ROOT boot=1 size=[0-9]+ kept-across-stop" 1500
  size=$(console_text "$ebs_inst" | grep -o 'EBS-ROOT boot=1 size=[0-9]*' | tail -1 | sed 's/.*size=//')
  ((size >= 7)) || fail "/ is ${size}G: growpart did not fill the 8 GiB root"
  log "ok: $ebs_inst booted from $root_vol over NBD in $(($(date +%s) - started_at)) s; / is ${size}G"
  host_before=$("$MC" describe-instances --instance-ids "$ebs_inst" |
    jq -r '.Reservations[0].Instances[0].Placement.HostId')
  assert_eq "$("$MC" describe-instances --instance-ids "$ebs_inst" |
    jq -r '.Reservations[0].Instances[0].BlockDeviceMappings[0] | "\(.DeviceName) \(.Ebs.VolumeId)"')" \
    "/dev/xvda $root_vol" "describe-instances' root mapping"
  # create-image without --no-reboot: the instance is stopped cleanly, its root snapshotted and
  # started again (on whichever host of home-1a the scheduler picks: the old stop/start check).
  # An instance of the baked AMI then boots from the baked root: the file written by the first
  # guest is there and its per-boot script counts the boot after the one baked (boot=2).
  # Bugs caught: the snapshot of the AMI's disk instead of the instance's root (the file and
  # the per-boot script missing: no EBS-ROOT line); the AMI never available; the instance left
  # stopped after the bake; the baked AMI not booting (its boot files or mapping wrong).
  baked_at=$(date +%s)
  baked=$("$MC" create-image --instance-id "$ebs_inst" --name debian-12-baked-e2e | jq -r .ImageId)
  [[ $baked == ami-* ]] || fail "create-image of $ebs_inst"
  for _ in $(seq 1 300); do
    state=$("$MC" describe-images --image-ids "$baked" | jq -r '.Images[0].State')
    [[ $state == available || $state == failed ]] && break
    sleep 1
  done
  assert_eq "$state" available "state of the baked AMI $baked"
  baked_snap=$("$MC" describe-images --image-ids "$baked" |
    jq -r '.Images[0].BlockDeviceMappings[0].Ebs.SnapshotId')
  assert_eq "$("$MC" describe-snapshots --snapshot-ids "$baked_snap" | jq -r '.Snapshots[0].VolumeId')" \
    "$root_vol" "the baked AMI's root snapshot's volume"
  "$MC" wait instance-running --instance-ids "$ebs_inst" --timeout 300 ||
    fail "$ebs_inst not started again after create-image"
  host_after=$("$MC" describe-instances --instance-ids "$ebs_inst" |
    jq -r '.Reservations[0].Instances[0].Placement.HostId')
  log "ok: $baked baked from $ebs_inst in $(($(date +%s) - baked_at)) s; $ebs_inst stopped and started ($host_before -> $host_after)"
  "$MC" terminate-instances --instance-ids "$ebs_inst" >/dev/null
  from_baked=$("$MC" run-instances --image-id "$baked" --instance-type t3.micro \
    --placement AvailabilityZone=home-1a | jq -r '.Instances[0].InstanceId')
  "$MC" wait instance-running --instance-ids "$from_baked" --timeout 300 ||
    fail "$from_baked (of $baked) never ran"
  wait_console "$from_baked" "EBS-ROOT boot=2 size=[0-9]+ kept-across-stop" 1500
  log "ok: $from_baked of $baked booted the baked root: the first guest's file is there"
  "$MC" terminate-instances --instance-ids "$from_baked" >/dev/null
  for _ in $(seq 1 180); do
    left=$("$MC" describe-volumes | jq -r --arg v "$root_vol" '[.Volumes[] | select(.VolumeId == $v)] | length')
    [[ $left == 0 ]] && break
    sleep 1
  done
  assert_eq "$left" 0 "$root_vol after terminate (DeleteOnTermination)"
  log "ok: terminating $ebs_inst deleted its root volume (its snapshot in $baked outlives it)"
else
  log "SKIPPED (real boots): MINICLOUD_E2E_NO_BOOT=1"
fi

"$REPO/deploy/cloud" down >/dev/null || fail "cloud down"
pgrep -f "minicloud-volumed.*$MINICLOUD_HOME" && fail "a minicloud-volumed outlived down"
pgrep -f "qemu-storage-daemon.*$MINICLOUD_HOME" && fail "a qemu-storage-daemon outlived down"
log "PASS"
