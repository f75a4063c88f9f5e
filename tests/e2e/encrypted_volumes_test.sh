#!/usr/bin/env bash
# Encrypted EBS on a real guest, on the agent's embedded libvirt driver (encrypted disks are
# plugged over QMP with the key given over QEMU's monitor socket: agent/hypervisor/ebs_crypt_qmp.h).
# One guest of the tiny AMI registered EBS-backed (it boots in seconds under TCG and runs its user
# data, a shell script, at boot); skipped without qemu-storage-daemon or the tiny AMI.
#
#   * it runs from an encrypted root made from the AMI's plain snapshot (run-instances
#     --block-device-mappings Ebs={Encrypted=true}: the volume service copies the snapshot into
#     a new LUKS volume); the guest writes a token onto that root, and no file of the volume
#     service holds it;
#   * the guest writes a marker straight onto an encrypted data volume attached by attach-volume
#     (hot-plug); the volume service's files hold no copy of the marker;
#   * a restarted agent keeps the encrypted disks (found again in the running QEMU);
#   * detach-volume unplugs it from the running guest, and a second attach-volume plugs it again
#     with its key: the guest reads the marker back.
# Booting firmware from an encrypted root (the paused start, plug and reset) is checked with a
# decoy disk in hypervisor_crypt_e2e_test; the tiny AMI boots its kernel directly.
# Bugs caught (one line each): the encrypted root refused, left in error or made as a plain clone
# (no boot, or the token found on the volume service); the agent refusing encrypted disks (the
# attachment never becomes attached); the luks layer missing so the guest writes plaintext to the
# export (the marker found on the volume service); a restarted agent not finding the encrypted
# disks (it unplugs them: the attachment leaves `attached`); an unplug that never completes (the
# volume never `available`); the wrong key or no decryption at the second plug (the marker not
# read back).
source "$(dirname "$0")/lib.sh"

command -v qemu-storage-daemon >/dev/null || { echo "SKIPPED: no qemu-storage-daemon"; exit 77; }
TINY=$IMAGES/tiny
[[ -f $TINY/manifest.json ]] || fail "tiny AMI missing: run images/build-tiny-ami.sh"
cloud_up --hosts 1 --azs 1 --no-egress

# Waits for the volume to leave its transitional state; fails unless it is `available`.
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
image=$("$MC" register-image --manifest "$TINY/manifest.json" --name tiny-crypt-e2e \
  --block-device-mappings 'DeviceName=/dev/xvda,Ebs={DeleteOnTermination=true}' | jq -r .ImageId)
[[ $image == ami-* ]] || fail "register-image"
vol=$("$MC" create-volume --availability-zone home-1a --size 1 --encrypted | jq -r .VolumeId)
[[ $vol == vol-* ]] || fail "create-volume --encrypted"
assert_eq "$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].Encrypted')" true \
  "Encrypted of $vol"
wait_available "$vol" "state of the encrypted $vol"

# User data (busybox sh; its output is on the console): the token onto the root (the one
# volume the guest has at boot) at 32 MiB, then the data volume's steps, found by its serial
# (the volume id without its dash).
cat >"$MINICLOUD_HOME/crypt-user-data.sh" <<USERDATA
#!/bin/sh
disk_of() { for b in /sys/block/vd*; do [ "\$(cat \$b/serial 2>/dev/null)" = "\$1" ] && echo /dev/\${b##*/}; done; }
root=
for b in /sys/block/vd*; do root=/dev/\${b##*/}; done
printf '%s' "$token" | dd of=\$root bs=512 seek=65536 conv=notrunc 2>/dev/null && sync &&
  echo "crypt: root token written to \$root"
i=0; while [ -z "\$(disk_of ${vol/-/})" ] && [ \$i -lt 900 ]; do sleep 1; i=\$((i+1)); done
d=\$(disk_of ${vol/-/})
printf '%s' "$marker" | dd of=\$d bs=512 conv=notrunc 2>/dev/null && sync && echo "crypt: written to \$d"
i=0; while [ -n "\$(disk_of ${vol/-/})" ] && [ \$i -lt 900 ]; do sleep 1; i=\$((i+1)); done
echo "crypt: gone"
i=0; while [ -z "\$(disk_of ${vol/-/})" ] && [ \$i -lt 900 ]; do sleep 1; i=\$((i+1)); done
d=\$(disk_of ${vol/-/})
echo "crypt: read \$(dd if=\$d bs=${#marker} count=1 2>/dev/null)"
USERDATA

inst=$("$MC" run-instances --image-id "$image" --instance-type t3.nano \
  --placement AvailabilityZone=home-1a --user-data "file://$MINICLOUD_HOME/crypt-user-data.sh" \
  --block-device-mappings 'DeviceName=/dev/xvda,Ebs={Encrypted=true}' |
  jq -r '.Instances[0].InstanceId')
[[ $inst == i-* ]] || fail "run-instances with an encrypted root"
root=$("$MC" describe-volumes --filters "Name=attachment.instance-id,Values=$inst" |
  jq -r '.Volumes[] | select(.Attachments[0].Device == "/dev/xvda") | .VolumeId')
[[ $root == vol-* ]] || fail "no root volume for $inst"
assert_eq "$("$MC" describe-volumes --volume-ids "$root" | jq -r '.Volumes[0].Encrypted')" true \
  "Encrypted of the root $root"
"$MC" wait instance-running --instance-ids "$inst" --timeout 600 || fail "$inst never ran"
wait_console "$inst" "crypt: root token written" 600
log "ok: $inst runs on the encrypted root $root and wrote to it"
on_volume_service "$token" && fail "the root's token is on the volume service in clear"
log "ok: the volume service's files do not hold what the guest wrote to its root"

attach_and_wait "$vol" "$inst" /dev/sdf
wait_console "$inst" "crypt: written to" 300
log "ok: $vol hot-plugged into $inst and written"
on_volume_service "$marker" && fail "the marker is on the volume service's disk in clear"
log "ok: the volume service's files do not contain the marker"
# A restarted agent finds the encrypted disks again in the running QEMU (they are not in
# libvirt's XML): the attachments stay attached, nothing is unplugged or plugged twice.
"$REPO/deploy/cloud" restart agent-1 >/dev/null || fail "restart agent-1"
sleep 15
assert_eq "$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].Attachments[0].State')" \
  attached "attachment of $vol after the agent restarted"
grep -q "detached vd[af] from $inst" "$MINICLOUD_HOME"/logs/agent-*.log 2>/dev/null &&
  fail "the restarted agent unplugged an encrypted disk of $inst"
log "ok: the restarted agent re-adopted $inst's encrypted disks"

# detach-volume: the running guest releases the disk (device_del), then its nodes go.
"$MC" detach-volume --volume-id "$vol" >/dev/null || fail "detach-volume $vol"
wait_available "$vol" "state of $vol after detach-volume"
wait_console "$inst" "crypt: gone" 300
log "ok: $vol hot-unplugged from the running $inst"
attach_and_wait "$vol" "$inst" /dev/sdg
wait_console "$inst" "crypt: read $marker" 300
log "ok: $inst reads back, through a second plug, what it wrote to the encrypted $vol"
"$MC" terminate-instances --instance-ids "$inst" >/dev/null

"$REPO/deploy/cloud" down >/dev/null || fail "cloud down"
log "PASS"
