#!/usr/bin/env bash
# Encrypted EBS on a real guest, on the agent's embedded libvirt driver (encrypted disks are
# plugged over QMP with the key given over QEMU's monitor socket: agent/hypervisor/ebs_crypt_qmp.h).
# One Debian 12 guest (EBS-backed AMI); skipped without it, without qemu-storage-daemon, or with
# MINICLOUD_E2E_NO_BOOT=1.
#
#   * it boots from an encrypted root made from the AMI's plain snapshot (run-instances
#     --block-device-mappings Ebs={Encrypted=true}: the volume service copies the snapshot into a
#     new LUKS volume) and runs its user data, which cloud-init keeps on that root: the user
#     data's unique token is in no file of the volume service;
#   * its user data writes a marker straight onto an encrypted data volume attached by
#     attach-volume (hot-plug); the volume service's files hold no copy of the marker;
#   * a restarted agent keeps the encrypted disks (found again in the running QEMU);
#   * detach-volume unplugs it from the running guest, and a second attach-volume plugs it again
#     with its key: the guest reads the marker back.
# Bugs caught (one line each): the encrypted root refused, left in error or made as a plain clone
# (no boot, or the token found on the volume service); the agent refusing encrypted disks (the
# attachment never becomes attached); the luks layer missing so the guest writes plaintext to the
# export (the marker found on the volume service); a restarted agent not finding the encrypted
# disks (it unplugs them: the attachment leaves `attached`); an unplug that never completes (the
# volume never `available`); the wrong key or no decryption at the second plug (the marker not
# read back).
source "$(dirname "$0")/lib.sh"

command -v qemu-storage-daemon >/dev/null || { echo "SKIPPED: no qemu-storage-daemon"; exit 77; }
DEBIAN=${MINICLOUD_DEBIAN_AMI_DIR:-$IMAGES/debian-12}
if [[ ${MINICLOUD_E2E_NO_BOOT:-} == 1 || ! -f $DEBIAN/manifest.json ]]; then
  echo "SKIPPED: no Debian AMI at $DEBIAN or MINICLOUD_E2E_NO_BOOT=1"
  exit 77
fi
cloud_up --hosts 1 --azs 1 --no-egress

# The volume's state once it leaves its transitional state; fails unless it is `available`.
wait_available() { # VOLUME WHAT
  local state
  for _ in $(seq 1 300); do
    state=$("$MC" describe-volumes --volume-ids "$1" | jq -r '.Volumes[0].State')
    [[ $state == available || $state == error ]] && break
    sleep 1
  done
  assert_eq "$state" available "$2"
}
attach_and_wait() { # VOLUME INSTANCE DEVICE
  local state
  "$MC" attach-volume --volume-id "$1" --instance-id "$2" --device "$3" >/dev/null ||
    fail "attach-volume $1 $2"
  for _ in $(seq 1 180); do
    state=$("$MC" describe-volumes --volume-ids "$1" | jq -r '.Volumes[0].Attachments[0].State')
    [[ $state == attached ]] && return 0
    sleep 1
  done
  fail "$1 never attached to $2 (state $state)"
}
# True when a file of the volume service (its layers) holds STRING in clear.
on_volume_service() { grep -rlaF "$1" "$MINICLOUD_HOME"/volumed-* 2>/dev/null; }

marker="minicloud-crypt-marker-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
token="minicloud-crypt-root-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
image=$("$MC" register-image --manifest "$DEBIAN/manifest.json" --name debian-12-crypt-e2e \
  --block-device-mappings 'DeviceName=/dev/xvda,Ebs={DeleteOnTermination=true}' | jq -r .ImageId)
[[ $image == ami-* ]] || fail "register-image"
vol=$("$MC" create-volume --availability-zone home-1a --size 1 --encrypted | jq -r .VolumeId)
[[ $vol == vol-* ]] || fail "create-volume --encrypted"
assert_eq "$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].Encrypted')" true \
  "Encrypted of $vol"
wait_available "$vol" "state of the encrypted $vol"
serial=${vol/-/}

# User data: says it runs (with the token, which must never reach the volume service in clear:
# cloud-init keeps the user data on the encrypted root), then (a transient unit, cloud-init
# finishes meanwhile) waits for the data volume's disk by its serial, writes the marker, waits for
# the disk to go and to come back, and reads the marker, reporting each step on the serial
# console. The marker travels base64-encoded, so only the guest's write puts it on a volume.
marker_b64=$(printf %s "$marker" | base64 -w0)
cat >"$MINICLOUD_HOME/crypt-user-data.sh" <<USERDATA
#!/bin/bash
echo "CRYPT-USER-DATA-RAN $token" >/dev/ttyS0
systemd-run --unit crypt-e2e bash -c '
  disk=/dev/disk/by-id/virtio-$serial
  for i in \$(seq 1 900); do [ -e \$disk ] && break; sleep 1; done
  echo $marker_b64 | base64 -d | dd of=\$disk oflag=direct conv=fsync 2>/dev/null &&
    echo CRYPT-WRITTEN >/dev/ttyS0
  for i in \$(seq 1 900); do [ -e \$disk ] || break; sleep 1; done
  echo CRYPT-GONE >/dev/ttyS0
  for i in \$(seq 1 900); do [ -e \$disk ] && break; sleep 1; done
  echo "CRYPT-READ \$(head -c ${#marker} \$disk)" >/dev/ttyS0
'
USERDATA

inst=$("$MC" run-instances --image-id "$image" --instance-type t3.micro \
  --placement AvailabilityZone=home-1a --user-data "file://$MINICLOUD_HOME/crypt-user-data.sh" \
  --block-device-mappings 'DeviceName=/dev/xvda,Ebs={Encrypted=true}' |
  jq -r '.Instances[0].InstanceId')
[[ $inst == i-* ]] || fail "run-instances with an encrypted root"
root=$("$MC" describe-volumes --filters "Name=attachment.instance-id,Values=$inst" |
  jq -r '.Volumes[] | select(.Attachments[0].Device == "/dev/xvda") | .VolumeId')
[[ $root == vol-* ]] || fail "no root volume for $inst"
assert_eq "$("$MC" describe-volumes --volume-ids "$root" | jq -r '.Volumes[0].Encrypted')" true \
  "Encrypted of the root $root"
"$MC" wait instance-running --instance-ids "$inst" --timeout 900 || fail "$inst never ran"
wait_console "$inst" "CRYPT-USER-DATA-RAN $token" 1500
log "ok: $inst booted from the encrypted root $root and ran its user data"
on_volume_service "$token" && fail "the user data's token is on the volume service in clear"
log "ok: the volume service's files do not hold the user data kept on the root"

attach_and_wait "$vol" "$inst" /dev/sdf
wait_console "$inst" "CRYPT-WRITTEN" 300
log "ok: $vol hot-plugged into $inst and written"
on_volume_service "$marker" && fail "the marker is on the volume service's disk in clear"
log "ok: the volume service's files do not contain the marker"
# A restarted agent finds the encrypted disks again in the running QEMU (they are not in
# libvirt's XML): the attachments stay attached, nothing is unplugged or plugged twice.
"$REPO/deploy/cloud" restart agent-1 >/dev/null || fail "restart agent-1"
sleep 20
assert_eq "$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].Attachments[0].State')" \
  attached "attachment of $vol after the agent restarted"
grep -q "detached vd[af] from $inst" "$MINICLOUD_HOME"/logs/agent-*.log 2>/dev/null &&
  fail "the restarted agent unplugged an encrypted disk of $inst"
log "ok: the restarted agent re-adopted $inst's encrypted disks"

# detach-volume: the running guest releases the disk (device_del), then its nodes go.
"$MC" detach-volume --volume-id "$vol" >/dev/null || fail "detach-volume $vol"
wait_available "$vol" "state of $vol after detach-volume"
wait_console "$inst" "CRYPT-GONE" 300
log "ok: $vol hot-unplugged from the running $inst"
attach_and_wait "$vol" "$inst" /dev/sdg
wait_console "$inst" "CRYPT-READ $marker" 300
log "ok: $inst reads back, through a second plug, what it wrote to the encrypted $vol"
"$MC" terminate-instances --instance-ids "$inst" >/dev/null

"$REPO/deploy/cloud" down >/dev/null || fail "cloud down"
log "PASS"
