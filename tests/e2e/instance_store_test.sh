#!/usr/bin/env bash
# Instance store on a real boot (c5d.large: one 50 GB NVMe volume on EC2; here a sparse raw file
# on the host, the virtio disk with serial "ephemeral0"). The guest is the tiny AMI, which boots
# in seconds under TCG and runs its user data (a shell script) at every boot: the script finds
# the volume by its serial in sysfs, asks IMDS for block-device-mapping/ephemeral0, reads the
# previous boot's id from the volume's first bytes, reports on the console, and writes this
# boot's id there:
#
#   run-instances          -> "istore: boot=<id1> fresh imds=sdb"          (a new, empty volume)
#   reboot-instances       -> "istore: boot=<id2> kept=<id1> imds=sdb"     (same volume)
#   stop + start-instances -> "istore: boot=<id3> fresh imds=sdb"          (deleted at stop)
#
# Bugs caught: the volume missing from the domain (the script reports "istore: no device"), a
# serial other than ephemeral0, a reboot that recreates the volume, a stop that keeps it, IMDS
# not listing ephemeral0, the file not sparse or of the wrong size, or the instance-store file
# left on the host after stop or terminate.
source "$(dirname "$0")/lib.sh"

TINY=$IMAGES/tiny
[[ -f $TINY/manifest.json ]] || fail "tiny AMI missing: run images/build-tiny-ami.sh"

# The hosts' instance-store capacity: the volume is sparse, so this overcommits the disk freely.
export MINICLOUD_INSTANCE_STORE_GB=200
export MINICLOUD_STOP_TIMEOUT=60
cloud_up --hosts 1 --no-egress
image=$("$MC" register-image --manifest "$TINY/manifest.json" | jq -r .ImageId)
log "registered $image"

cat >"$MINICLOUD_HOME/user-data.sh" <<'EOT'
#!/bin/sh
dev=
for b in /sys/block/vd*; do
  [ "$(cat "$b/serial" 2>/dev/null)" = ephemeral0 ] && dev=/dev/${b##*/}
done
[ -n "$dev" ] || { echo "istore: no device"; exit 0; }
bdm=$(timeout 10 wget -q -O - http://169.254.169.254/latest/meta-data/block-device-mapping/ephemeral0)
boot=$(cat /proc/sys/kernel/random/boot_id)
old=$(dd if="$dev" bs=36 count=1 2>/dev/null | tr -d '\000')
if [ -n "$old" ]; then state="kept=$old"; else state=fresh; fi
echo "istore: boot=$boot $state imds=$bdm"
printf '%s' "$boot" | dd of="$dev" bs=36 count=1 conv=notrunc 2>/dev/null && sync
echo "istore: wrote $boot"
EOT

id=$("$MC" run-instances --image-id "$image" --instance-type c5d.large \
  --user-data "file://$MINICLOUD_HOME/user-data.sh" | jq -r '.Instances[0].InstanceId')
[[ $id == i-* ]] || fail "run-instances gave '$id'"
log "launched $id (c5d.large)"
"$MC" wait instance-running --instance-ids "$id" --timeout 300 || fail "$id never ran"
file="$MINICLOUD_HOME/agent-1/instances/$id/ephemeral0.img"
[[ -f $file ]] || fail "no instance-store file $file on the host"
assert_eq "$(stat -c %s "$file")" "$((50 << 30))" "size of the instance-store file"
(($(stat -c %b "$file") * 512 < 64 << 20)) || fail "the instance-store file is not sparse"

# next_boot SEEN TIMEOUT: the report line of a boot whose id is not in SEEN (ids, space
# separated), once that boot has also written its id.
next_boot() {
  local seen=$1 timeout=$2 start=$SECONDS out line boot
  while ((SECONDS - start < timeout)); do
    out=$(console_text "$id" | tr -d '\r')
    grep -q "istore: no device" <<<"$out" && fail "the guest found no ephemeral0 disk"
    while read -r line; do
      boot=$(sed -n 's/^istore: boot=\([0-9a-f-]*\) .*/\1/p' <<<"$line")
      [[ -n $boot && " $seen " != *" $boot "* ]] || continue
      grep -q "istore: wrote $boot" <<<"$out" && { echo "$line"; return 0; }
    done < <(grep -o 'istore: boot=.*' <<<"$out")
    sleep 2
  done
  console_text "$id" | tail -n 20
  fail "no new boot reported its volume within ${timeout}s"
}
boot_of() { sed -n 's/^istore: boot=\([0-9a-f-]*\) .*/\1/p' <<<"$1"; }

r1=$(next_boot "" 300)
b1=$(boot_of "$r1")
log "boot 1: $r1"
assert_eq "$r1" "istore: boot=$b1 fresh imds=sdb" "the volume at the first boot"

"$MC" reboot-instances --instance-ids "$id" || fail "reboot-instances"
r2=$(next_boot "$b1" 300)
b2=$(boot_of "$r2")
log "after reboot: $r2"
assert_eq "$r2" "istore: boot=$b2 kept=$b1 imds=sdb" "the volume after reboot-instances"
assert_eq "$(state_of "$id")" running "state after reboot"

"$MC" stop-instances --instance-ids "$id" >/dev/null || fail "stop-instances"
"$MC" wait instance-stopped --instance-ids "$id" --timeout 300 || fail "$id never stopped"
[[ ! -e $file ]] || fail "the instance-store file outlived stop-instances"
log "stopped; the instance-store file is gone"
"$MC" start-instances --instance-ids "$id" >/dev/null || fail "start-instances"
r3=$(next_boot "$b1 $b2" 300)
b3=$(boot_of "$r3")
log "after stop/start: $r3"
assert_eq "$r3" "istore: boot=$b3 fresh imds=sdb" "the volume after stop and start"

"$MC" terminate-instances --instance-ids "$id" >/dev/null || fail "terminate-instances"
"$MC" wait instance-terminated --instance-ids "$id" --timeout 300 || fail "$id never terminated"
[[ ! -e $file ]] || fail "the instance-store file outlived terminate-instances"
log "PASS"
