#!/usr/bin/env bash
# Encrypted EBS volumes on real guests, on the agent's embedded libvirt driver (the disks are
# plugged over QMP with the key given over QEMU's monitor socket: agent/hypervisor/ebs_crypt_qmp.h).
# Debian 12 EBS-backed AMI; skipped without it, without qemu-storage-daemon, or with
# MINICLOUD_E2E_NO_BOOT=1.
#
#   * an instance's user data writes a marker straight onto an encrypted data volume attached by
#     attach-volume (hot-plug);
#   * the volume service's files hold no copy of the marker (only LUKS ciphertext);
#   * a restarted agent keeps the encrypted disks (found again in the running QEMU);
#   * detach-volume unplugs it from the running guest;
#   * a second (unencrypted-root) instance attaching the
#     volume reads the marker back.
# An encrypted root (--block-device-mappings Ebs={Encrypted=true}) is not booted here: the
# controller cannot make an encrypted volume from the AMI's plain snapshot (UnsupportedOperation,
# README); the agent's side of it (an encrypted root booted over QMP) is in
# hypervisor_crypt_e2e_test.
# Bugs caught (one line each): the agent refusing encrypted disks (the attachment never becomes
# attached); the luks
# layer missing so the guest writes plaintext to the export (the marker found on the volume
# service); a restarted agent not finding the encrypted disks (it unplugs them: the attachment
# leaves `attached`); an unplug that never completes (the volume never `available`); the wrong key or no decryption on the second attach (the marker not read
# back).
source "$(dirname "$0")/lib.sh"

command -v qemu-storage-daemon >/dev/null || { echo "SKIPPED: no qemu-storage-daemon"; exit 77; }
DEBIAN=${MINICLOUD_DEBIAN_AMI_DIR:-$IMAGES/debian-12}
if [[ ${MINICLOUD_E2E_NO_BOOT:-} == 1 || ! -f $DEBIAN/manifest.json ]]; then
  echo "SKIPPED: no Debian AMI at $DEBIAN or MINICLOUD_E2E_NO_BOOT=1"
  exit 77
fi
cloud_up --hosts 1 --azs 1 --no-egress

marker="minicloud-crypt-marker-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
image=$("$MC" register-image --manifest "$DEBIAN/manifest.json" --name debian-12-crypt-e2e \
  --block-device-mappings 'DeviceName=/dev/xvda,Ebs={DeleteOnTermination=true}' | jq -r .ImageId)
[[ $image == ami-* ]] || fail "register-image"
vol=$("$MC" create-volume --availability-zone home-1a --size 1 --encrypted | jq -r .VolumeId)
[[ $vol == vol-* ]] || fail "create-volume --encrypted"
assert_eq "$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].Encrypted')" true \
  "Encrypted of $vol"
for _ in $(seq 1 120); do
  state=$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].State')
  [[ $state == available || $state == error ]] && break
  sleep 1
done
assert_eq "$state" available "state of the encrypted $vol"
serial=${vol/-/}

# User data: says it runs, then (a transient unit, cloud-init finishes meanwhile) waits for the
# volume's disk by its serial and runs $1 on it, reporting on the serial console.
user_data() {
  cat <<EOF
#!/bin/bash
echo CRYPT-USER-DATA-RAN >/dev/ttyS0
systemd-run --unit crypt-e2e bash -c '
  disk=/dev/disk/by-id/virtio-$serial
  for i in \$(seq 1 900); do [ -e \$disk ] && break; sleep 1; done
  $1
'
EOF
}
# The user data carries the marker base64-encoded only: cloud-init keeps the user data on the
# instance's root, itself a (plain) volume of the same volume service.
marker_b64=$(printf %s "$marker" | base64 -w0)
writer=$(user_data "echo $marker_b64 | base64 -d | dd of=\$disk oflag=direct conv=fsync 2>/dev/null && echo CRYPT-WRITTEN >/dev/ttyS0")
reader=$(user_data "echo \"CRYPT-READ \$(head -c ${#marker} \$disk)\" >/dev/ttyS0")

attach_and_wait() { # VOLUME INSTANCE
  "$MC" attach-volume --volume-id "$1" --instance-id "$2" --device /dev/sdf >/dev/null ||
    fail "attach-volume $1 $2"
  for _ in $(seq 1 180); do
    state=$("$MC" describe-volumes --volume-ids "$1" | jq -r '.Volumes[0].Attachments[0].State')
    [[ $state == attached ]] && return 0
    sleep 1
  done
  fail "$1 never attached to $2 (state $state)"
}

first=$("$MC" run-instances --image-id "$image" --instance-type t3.micro \
  --placement AvailabilityZone=home-1a --user-data "$writer" | jq -r '.Instances[0].InstanceId')
[[ $first == i-* ]] || fail "run-instances"
"$MC" wait instance-running --instance-ids "$first" --timeout 300 || fail "$first never ran"
wait_console "$first" "CRYPT-USER-DATA-RAN" 1500
log "ok: $first booted and ran its user data"

attach_and_wait "$vol" "$first"
wait_console "$first" "CRYPT-WRITTEN" 300
log "ok: $vol hot-plugged into $first and written"
if grep -rlaF "$marker" "$MINICLOUD_HOME"/volumed-* 2>/dev/null; then
  fail "the marker is on the volume service's disk in clear"
fi
log "ok: the volume service's files do not contain the marker"
# A restarted agent finds the encrypted disks again in the running QEMU (they are not in
# libvirt's XML): the attachment stays attached, nothing is unplugged or plugged twice.
"$REPO/deploy/cloud" restart agent-1 >/dev/null || fail "restart agent-1"
sleep 20
assert_eq "$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].Attachments[0].State')" \
  attached "attachment of $vol after the agent restarted"
grep -q "detached vdf from $first" "$MINICLOUD_HOME"/logs/agent-*.log 2>/dev/null &&
  fail "the restarted agent unplugged $vol"
log "ok: the restarted agent re-adopted $first's encrypted disks"

# detach-volume: the running guest releases the disk (device_del), then its nodes go.
"$MC" detach-volume --volume-id "$vol" >/dev/null || fail "detach-volume $vol"
for _ in $(seq 1 180); do
  state=$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].State')
  [[ $state == available ]] && break
  sleep 1
done
assert_eq "$state" available "state of $vol after detach-volume"
log "ok: $vol hot-unplugged from the running $first"
"$MC" terminate-instances --instance-ids "$first" >/dev/null

second=$("$MC" run-instances --image-id "$image" --instance-type t3.micro \
  --placement AvailabilityZone=home-1a --user-data "$reader" | jq -r '.Instances[0].InstanceId')
"$MC" wait instance-running --instance-ids "$second" --timeout 300 || fail "$second never ran"
wait_console "$second" "CRYPT-USER-DATA-RAN" 1500
attach_and_wait "$vol" "$second"
wait_console "$second" "CRYPT-READ $marker" 300
log "ok: $second reads back what $first wrote to the encrypted $vol"
"$MC" terminate-instances --instance-ids "$second" >/dev/null

"$REPO/deploy/cloud" down >/dev/null || fail "cloud down"
log "PASS"
