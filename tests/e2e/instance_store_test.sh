#!/usr/bin/env bash
# Instance store on a real Debian guest (c5d.large: one 50 GB NVMe volume on EC2; here a sparse
# raw file on the host, the virtio disk with serial "ephemeral0"). The user data is a cloud-config
# `bootcmd`, which cloud-init runs at every boot: it finds the volume by its serial, makes a
# filesystem only when the volume has none, mounts it, reports on the console whether the file
# from the previous boot is there, and writes this boot's id into it.
#
#   boot 1 (run-instances)    -> "istore: boot 1: fresh, no file"   (a new, empty volume)
#   reboot-instances          -> "istore: boot 2: kept, file=<boot 1's id>"
#   stop-instances + start    -> "istore: boot 3: fresh, no file"   (deleted at stop)
# (the boot number is counted on the root disk, which every boot keeps)
# IMDS lists the volume: block-device-mapping/ephemeral0 => sdb.
#
# Bugs caught: the volume missing from the domain (no by-id link: the script reports
# "istore: no device"), a reboot that recreates the volume, a stop that keeps it, IMDS not
# listing ephemeral0, or the instance-store file left on the host after stop or terminate.
source "$(dirname "$0")/lib.sh"

DEBIAN=${MINICLOUD_DEBIAN_AMI_DIR:-$IMAGES/debian-12}
[[ -f $DEBIAN/manifest.json ]] || fail "Debian AMI missing: run images/build-debian-ami.sh"

# The hosts' instance-store capacity: the volume is sparse, so this overcommits the disk freely.
export MINICLOUD_INSTANCE_STORE_GB=200
export MINICLOUD_STOP_TIMEOUT=60
cloud_up --hosts 1 --no-egress
image=$("$MC" register-image --manifest "$DEBIAN/manifest.json" | jq -r .ImageId)
log "registered $image"

cat >"$MINICLOUD_HOME/user-data.yaml" <<'EOT'
#cloud-config
bootcmd:
  - |
    n=$(( $(cat /var/lib/istore-boots 2>/dev/null || echo 0) + 1 )); echo $n >/var/lib/istore-boots
    say() { echo "istore: boot $n: $*" >/dev/console; }
    dev=/dev/disk/by-id/virtio-ephemeral0
    for i in $(seq 1 30); do [ -e "$dev" ] && break; sleep 1; done
    if [ ! -e "$dev" ]; then say "no device"; exit 0; fi
    imds=$(curl -s -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
      http://169.254.169.254/latest/api/token)
    bdm=$(curl -s -m 5 -H "X-aws-ec2-metadata-token: $imds" \
      http://169.254.169.254/latest/meta-data/block-device-mapping/ephemeral0)
    if blkid "$dev" >/dev/null 2>&1; then state=kept; else
      mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 "$dev"; state=fresh; fi
    mkdir -p /srv/eph && mount "$dev" /srv/eph
    if [ -f /srv/eph/boot ]; then say "$state, file=$(cat /srv/eph/boot) imds=$bdm"; else
      say "$state, no file imds=$bdm"; fi
    cat /proc/sys/kernel/random/boot_id >/srv/eph/boot && sync
    say "wrote $(cat /srv/eph/boot)"
EOT

id=$("$MC" run-instances --image-id "$image" --instance-type c5d.large \
  --user-data "file://$MINICLOUD_HOME/user-data.yaml" | jq -r '.Instances[0].InstanceId')
[[ $id == i-* ]] || fail "run-instances gave '$id'"
log "launched $id (c5d.large)"
start=$SECONDS
until [[ $(state_of "$id") == running ]]; do
  ((SECONDS - start < 300)) || fail "$id never ran"
  sleep 3
done
file="$MINICLOUD_HOME/agent-1/instances/$id/ephemeral0.img"
[[ -f $file ]] || fail "no instance-store file $file on the host"
assert_eq "$(stat -c %s "$file")" "$((50 << 30))" "size of the instance-store file"
(($(stat -c %b "$file") * 512 < 64 << 20)) || fail "the instance-store file is not sparse"

# report N: boot N's line about the volume (empty until it is on the console).
report() {
  console_text "$id" | tr -d '\r' | grep -o "istore: boot $1: .*" | grep -v ': wrote' | tail -1 || true
}
wrote() {
  console_text "$id" | tr -d '\r' | grep -o "istore: boot $1: wrote [0-9a-f-]*" | tail -1 |
    sed 's/.* wrote //' || true
}
wait_boot() {
  local n=$1 timeout=$2 start=$SECONDS
  until [[ -n $(wrote "$n") ]]; do
    ((SECONDS - start < timeout)) || {
      console_text "$id" | grep 'istore:' || true
      fail "boot $n never reported its volume"
    }
    sleep 5
  done
}

wait_boot 1 900
log "boot 1: $(report 1)"
assert_eq "$(report 1)" "istore: boot 1: fresh, no file imds=sdb" "the volume at the first boot"
boot1=$(wrote 1)
# The reboot is an ACPI request, which a guest still starting up may not act on: ask once
# cloud-init is done (as a user would, once the instance is up).
wait_console "$id" "Cloud-init v\. [0-9.]+ finished" 900

"$MC" reboot-instances --instance-ids "$id" || fail "reboot-instances"
wait_boot 2 900
log "after reboot: $(report 2)"
assert_eq "$(report 2)" "istore: boot 2: kept, file=$boot1 imds=sdb" "the volume after reboot-instances"
assert_eq "$(state_of "$id")" running "state after reboot"

"$MC" stop-instances --instance-ids "$id" >/dev/null || fail "stop-instances"
start=$SECONDS
until [[ $(state_of "$id") == stopped ]]; do
  ((SECONDS - start < 300)) || fail "$id never stopped"
  sleep 3
done
[[ ! -e $file ]] || fail "the instance-store file outlived stop-instances"
log "stopped; the instance-store file is gone"
"$MC" start-instances --instance-ids "$id" >/dev/null || fail "start-instances"
wait_boot 3 900
log "after stop/start: $(report 3)"
assert_eq "$(report 3)" "istore: boot 3: fresh, no file imds=sdb" "the volume after stop and start"

"$MC" terminate-instances --instance-ids "$id" >/dev/null || fail "terminate-instances"
start=$SECONDS
until [[ $(state_of "$id") == terminated ]]; do
  ((SECONDS - start < 300)) || fail "$id never terminated"
  sleep 3
done
[[ ! -e $file ]] || fail "the instance-store file outlived terminate-instances"
log "PASS"
