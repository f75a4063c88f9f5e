#!/usr/bin/env bash
# Placement groups and stop/start across two real hosts: two agents in one AZ (home-1a), each in
# its own network namespace and rack, booting tiny (busybox) guests through the whole stack.
#
#   * describe-availability-zones shows the zone, its hosts and racks;
#   * a spread group takes one instance per rack; a third is InsufficientInstanceCapacity and
#     leaves nothing behind; describe-placement explains why;
#   * a stopped member frees its rack; starting it again while another instance holds that rack
#     is refused (the rules hold at start-instances too); once the rack is free it boots again on
#     its own host with its own disk, and its user data ran exactly once over both boots (a
#     once-per-instance marker on its root disk, as cloud-init keeps one);
#   * a partition group puts partitions on different racks; the guest reads
#     placement/group-name and placement/partition-number from the metadata service;
#   * filters placement-group-name / placement-partition-number; a group in use cannot be
#     deleted; bad input gets EC2 error codes.
source "$(dirname "$0")/lib.sh"

[[ -f $IMAGES/tiny/manifest.json ]] || fail "tiny AMI missing: run images/build-tiny-ami.sh"
grep -q user_data_start "$IMAGES/tiny/manifest.json" ||
  fail "tiny AMI predates user-data support: run images/build-tiny-ami.sh"
MINICLOUD_STOP_TIMEOUT=20 cloud_up --hosts 2 --azs 1
image=$("$MC" register-image --manifest "$IMAGES/tiny/manifest.json" | jq -r .ImageId)

count_instances() { # live instances matching the describe-instances filter arguments
  "$MC" describe-instances "$@" |
    jq '[.Reservations[].Instances[] | select(.State.Name != "terminated")] | length'
}
host_of() { "$MC" describe-instances --instance-ids "$1" | jq -r '.Reservations[0].Instances[0].Placement.HostId'; }

# --- topology -----------------------------------------------------------------------------------
zones=$("$MC" describe-availability-zones)
assert_eq "$(jq -r '.AvailabilityZones | length' <<<"$zones")" 1 "zones"
assert_eq "$(jq -r '.AvailabilityZones[0].ZoneName' <<<"$zones")" home-1a "zone name"
assert_eq "$(jq -r '.AvailabilityZones[0].State' <<<"$zones")" available "zone state"
assert_eq "$(jq -r '.AvailabilityZones[0].HostCount' <<<"$zones")" 2 "hosts in the zone"
assert_eq "$(jq -c '.AvailabilityZones[0].Racks' <<<"$zones")" '["rack-1","rack-2"]' "racks"
log "topology: one zone, two hosts on two racks"

# --- groups and bad input -------------------------------------------------------------------------
"$MC" create-placement-group --group-name web --strategy spread >/dev/null
"$MC" create-placement-group --group-name db --strategy partition --partition-count 2 >/dev/null
expect_error InvalidPlacementGroup.Duplicate "$MC" create-placement-group --group-name web \
  --strategy cluster
expect_error InvalidParameterValue "$MC" create-placement-group --group-name p8 \
  --strategy partition --partition-count 8
expect_error InvalidParameterValue "$MC" create-placement-group --group-name x --strategy ring
expect_error InvalidPlacementGroup.Unknown "$MC" run-instances --image-id "$image" \
  --placement GroupName=nope
expect_error InvalidParameterValue "$MC" run-instances --image-id "$image" \
  --placement GroupName=db,PartitionNumber=3
expect_error InvalidParameterValue "$MC" run-instances --image-id "$image" \
  --placement GroupName=web,PartitionNumber=1
assert_eq "$("$MC" describe-placement-groups | jq '.PlacementGroups | length')" 2 "groups"
log "bad placement input rejected"

# --- spread: one instance per rack ----------------------------------------------------------------
# The tiny image runs its user data at every boot (it has no cloud-init); this user data keeps
# cloud-init's once-per-instance rule itself, with a marker named by the instance id on the
# instance's own root disk (/dev/vda, ext4). A second run for the same instance therefore means
# the instance came back with another disk or another id.
cat >"$MINICLOUD_HOME/once.sh" <<'EOF'
#!/bin/sh
id=$(timeout 8 wget -q -O - http://169.254.169.254/latest/meta-data/instance-id)
case $id in i-*) ;; *) echo "spread-member: no instance id from the metadata service" >/dev/console; exit 1 ;; esac
mkdir -p /mnt/root
mount -t ext4 /dev/vda /mnt/root || { echo "spread-member: cannot mount the root disk" >/dev/console; exit 1; }
if [ -e "/mnt/root/user-data-ran.$id" ]; then
  echo "spread-member: user data already ran for $id" >/dev/console
else
  touch "/mnt/root/user-data-ran.$id"
  echo "spread-member: user data ran for $id" >/dev/console
fi
umount /mnt/root
sync
EOF
web=$("$MC" run-instances --image-id "$image" --instance-type t3.nano --count 2 \
  --placement GroupName=web --user-data "file://$MINICLOUD_HOME/once.sh" |
  jq -r '.Instances[].InstanceId' | tr '\n' ' ')
read -r w1 w2 <<<"$web"
"$MC" wait instance-running --instance-ids $w1 $w2 --timeout 120 || fail "web never ran"
[[ $(host_of "$w1") != "$(host_of "$w2")" ]] || fail "spread members share a host"
expect_error InsufficientInstanceCapacity "$MC" run-instances --image-id "$image" \
  --instance-type t3.nano --placement GroupName=web
assert_eq "$(count_instances --filters Name=placement-group-name,Values=web)" 2 "web members"
rc=0
explanation=$("$MC" --output text describe-placement --image-id "$image" \
  --instance-type t3.nano --placement GroupName=web) || rc=$?
assert_eq "$rc" 1 "describe-placement exit code when nothing fits"
grep -q "spread-rack-taken" <<<"$explanation" || fail "explanation lacks the rule: $explanation"
for id in $w1 $w2; do wait_console "$id" "spread-member: user data ran for $id" 150; done
log "spread: two racks, two members, a third refused with reasons"

# --- stop frees the rack; start re-checks the rules ----------------------------------------------
"$MC" stop-instances --instance-ids "$w1" >/dev/null
"$MC" wait instance-stopped --instance-ids "$w1" --timeout 90 || fail "$w1 never stopped"
w3=$("$MC" run-instances --image-id "$image" --instance-type t3.nano --placement GroupName=web |
  jq -r '.Instances[0].InstanceId')
assert_eq "$(host_of "$w3")" "$(host_of "$w1")" "the new member takes the stopped member's rack"
expect_error InsufficientInstanceCapacity "$MC" start-instances --instance-ids "$w1"
assert_eq "$(state_of "$w1")" stopped "state after a refused start"
"$MC" terminate-instances --instance-ids "$w3" >/dev/null
"$MC" wait instance-terminated --instance-ids "$w3" --timeout 90 || fail "$w3 never terminated"
"$MC" start-instances --instance-ids "$w1" >/dev/null
"$MC" wait instance-running --instance-ids "$w1" --timeout 120 || fail "$w1 never ran again"
boots=0
for _ in $(seq 1 60); do
  boots=$("$MC" --output text get-console-output --instance-id "$w1" |
    grep -c "minicloud-tiny: booted" || true)
  ((boots >= 2)) && break
  sleep 2
done
assert_eq "$boots" 2 "boots of $w1 on one console"
wait_console "$w1" "spread-member: user data already ran for $w1" 150
console_w1=$(console_text "$w1")
assert_eq "$(grep -c "spread-member: user data ran for $w1" <<<"$console_w1" || true)" 1 \
  "runs of the user data of $w1 over two boots"
assert_eq "$(grep -c "spread-member: user data already ran for $w1" <<<"$console_w1" || true)" 1 \
  "boots of $w1 that found the user data already run"
log "stop/start: rule re-checked at start; $w1 booted twice on its own disk, user data ran once"

# --- partition: partitions on different racks; the guest sees its partition --------------------
cat >"$MINICLOUD_HOME/where.sh" <<'EOF'
#!/bin/sh
md=http://169.254.169.254/latest/meta-data/placement
g=$(timeout 8 wget -q -O - $md/group-name)
p=$(timeout 8 wget -q -O - $md/partition-number)
echo "placement-seen: group=$g partition=$p" >/dev/console
EOF
d1=$("$MC" run-instances --image-id "$image" --instance-type t3.nano \
  --placement GroupName=db,PartitionNumber=1 --user-data "file://$MINICLOUD_HOME/where.sh" |
  jq -r '.Instances[0].InstanceId')
d2=$("$MC" run-instances --image-id "$image" --instance-type t3.nano \
  --placement GroupName=db,PartitionNumber=2 --user-data "file://$MINICLOUD_HOME/where.sh" |
  jq -r '.Instances[0].InstanceId')
[[ $(host_of "$d1") != "$(host_of "$d2")" ]] || fail "partitions 1 and 2 share a rack"
assert_eq "$(count_instances --filters Name=placement-partition-number,Values=2)" 1 \
  "instances in partition 2"
wait_console "$d1" "placement-seen: group=db partition=1" 150
wait_console "$d2" "placement-seen: group=db partition=2" 150
log "partition: two partitions on two racks; metadata serves group and partition"

# --- deletion -------------------------------------------------------------------------------------
expect_error InvalidPlacementGroup.InUse "$MC" delete-placement-group --group-name db
"$MC" terminate-instances --instance-ids "$d1" "$d2" $w1 $w2 >/dev/null
"$MC" wait instance-terminated --instance-ids "$d1" "$d2" $w1 $w2 --timeout 120 ||
  fail "instances never terminated"
"$MC" delete-placement-group --group-name db
"$MC" delete-placement-group --group-name web
assert_eq "$("$MC" describe-placement-groups | jq '.PlacementGroups | length')" 0 "groups left"
log "groups deleted once empty"
