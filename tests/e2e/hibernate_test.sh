#!/usr/bin/env bash
# Hibernation with a real guest: the tiny AMI registered EBS-backed (it boots its kernel in
# seconds under TCG and runs its user data, a shell script, at boot). Two hosts in home-1a and
# its volume service. EC2's rules want an encrypted root big enough for the RAM: the root is an
# encrypted copy of the AMI's plain snapshot, plugged over QEMU's monitor on the agent's embedded
# libvirt driver, so the save and the restore go over QMP too (agent/hypervisor/qmp_save.h).
#
#   * without Configured=true the hibernate is refused; a plain root cannot be configured;
#   * run-instances --hibernation-options Configured=true in a spread placement group; the user
#     data starts a process that prints its PID, the guest's boot id and its uptime on the
#     console every second (HIB-PROC pid=N boot=B up=S);
#   * stop-instances --hibernate: stopped with StateReason Client.UserInitiatedHibernate; the
#     hibernation volume is not in describe-volumes;
#   * two more members of the spread group take both hosts, the one on the hibernated
#     instance's host stays: start-instances must resume it on the other host (one per rack);
#   * there the same PID of the same boot goes on printing, the uptime past its value at the
#     stop, and the kernel never booted again on the new host's console;
#   * terminate deletes the root (that it deletes the hibernation volume too is checked by
#     integration:hibernate, against the real volume service).
# Bugs caught (one line each): the RAM not saved or not restored (a cold boot: a new boot id,
# a new PID, uptime from 0, a kernel banner); the image left on the first host (the other host
# could not resume it); the encrypted disks missing at the restore (the restore fails: a cold
# boot or no start); the wrong StateReason; the hibernation volume listed as a user volume;
# the placement group's rule skipped at a resume (same host).
source "$(dirname "$0")/lib.sh"

command -v qemu-storage-daemon >/dev/null || { echo "SKIPPED: no qemu-storage-daemon"; exit 77; }
TINY=$IMAGES/tiny
[[ -f $TINY/manifest.json ]] || fail "tiny AMI missing: run images/build-tiny-ami.sh"
cloud_up --hosts 2 --azs 1 --no-egress

host_of() { "$MC" describe-instances --instance-ids "$1" | jq -r '.Reservations[0].Instances[0].Placement.HostId'; }
# The last HIB-PROC line of the console; empty when there is none (yet).
last_proc() {
  console_text "$1" | tr -d '\r' | { grep -o 'HIB-PROC pid=[0-9]* boot=[0-9a-f-]* up=[0-9]*' || true; } | tail -1
}

image=$("$MC" register-image --manifest "$TINY/manifest.json" --name tiny-hibernate-e2e \
  --block-device-mappings 'DeviceName=/dev/xvda,Ebs={DeleteOnTermination=true}' | jq -r .ImageId)
[[ $image == ami-* ]] || fail "register-image"
"$MC" create-placement-group --group-name hib --strategy spread >/dev/null || fail "placement group"

# EC2's prerequisites: an encrypted root.
expect_error UnsupportedHibernationConfiguration "$MC" run-instances --image-id "$image" \
  --instance-type t3.nano --hibernation-options Configured=true \
  --block-device-mappings 'DeviceName=/dev/xvda,Ebs={VolumeSize=3}'

cat >"$MINICLOUD_HOME/hib-user-data.sh" <<'USERDATA'
#!/bin/sh
boot=$(cat /proc/sys/kernel/random/boot_id)
sh -c 'while :; do echo "HIB-PROC pid=$$ boot='"$boot"' up=$(cut -d. -f1 /proc/uptime)"; sleep 1; done' >/dev/console 2>&1 &
USERDATA
inst=$("$MC" run-instances --image-id "$image" --instance-type t3.nano \
  --placement AvailabilityZone=home-1a,GroupName=hib --hibernation-options Configured=true \
  --block-device-mappings 'DeviceName=/dev/xvda,Ebs={Encrypted=true,VolumeSize=3}' \
  --user-data "file://$MINICLOUD_HOME/hib-user-data.sh" | jq -r '.Instances[0].InstanceId')
[[ $inst == i-* ]] || fail "run-instances with Configured=true"
"$MC" wait instance-running --instance-ids "$inst" --timeout 600 || fail "$inst never ran"
assert_eq "$("$MC" describe-instances --instance-ids "$inst" |
  jq -r '.Reservations[0].Instances[0].HibernationOptions.Configured')" true "HibernationOptions"
wait_console "$inst" "HIB-PROC pid=[0-9]+ boot=[0-9a-f-]+ up=[0-9]+" 600
sleep 3  # a few more lines, so the uptime at the stop is past the first one
before=$(last_proc "$inst")
pid=$(sed 's/.*pid=\([0-9]*\).*/\1/' <<<"$before")
boot=$(sed 's/.*boot=\([0-9a-f-]*\).*/\1/' <<<"$before")
host1=$(host_of "$inst")
log "ok: $inst runs on $host1: $before"

"$MC" stop-instances --instance-ids "$inst" --hibernate >/dev/null || fail "stop --hibernate"
"$MC" wait instance-stopped --instance-ids "$inst" --timeout 600 || fail "$inst never stopped"
up_before=$(last_proc "$inst" | sed 's/.*up=//')
assert_eq "$("$MC" describe-instances --instance-ids "$inst" |
  jq -r '.Reservations[0].Instances[0].StateReason.Code')" Client.UserInitiatedHibernate "StateReason"
assert_eq "$("$MC" describe-volumes --filters "Name=attachment.instance-id,Values=$inst" |
  jq -r '.Volumes | length')" 1 "volumes of $inst in describe-volumes (the root only)"
grep -q "saved $inst with 1 EBS disk" "$MINICLOUD_HOME"/logs/agent-*.log ||
  fail "the agent did not save $inst with its EBS root (a plain stop instead?)"
log "ok: $inst hibernated at uptime $up_before"

# Both racks taken by the group, then the member on host1 is the one that stays.
members=()
for n in 1 2; do
  m=$("$MC" run-instances --image-id "$image" --instance-type t3.nano \
    --placement AvailabilityZone=home-1a,GroupName=hib | jq -r '.Instances[0].InstanceId')
  [[ $m == i-* ]] || fail "spread member $n"
  members+=("$m")
done
for m in "${members[@]}"; do
  "$MC" wait instance-running --instance-ids "$m" --timeout 300 || fail "$m never ran"
  [[ $(host_of "$m") == "$host1" ]] && keep=$m || drop=$m
done
[[ -n ${keep:-} && -n ${drop:-} ]] || fail "the spread members did not take one host each"
"$MC" terminate-instances --instance-ids "$drop" >/dev/null
"$MC" wait instance-terminated --instance-ids "$drop" --timeout 300 || fail "$drop never terminated"

"$MC" start-instances --instance-ids "$inst" >/dev/null || fail "start $inst"
"$MC" wait instance-running --instance-ids "$inst" --timeout 600 || fail "$inst never resumed"
host2=$(host_of "$inst")
[[ $host2 != "$host1" ]] || fail "$inst resumed on $host1, which its group's other member holds"
after=
for _ in $(seq 1 120); do  # a give-up limit: the resumed process prints every second
  after=$(last_proc "$inst")
  [[ -n $after ]] && (($(sed 's/.*up=//' <<<"$after") > up_before)) && break
  sleep 1
done
[[ -n $after ]] || fail "nothing printed after the resume: $(console_text "$inst" | tail -5)"
assert_eq "$(sed 's/ up=.*//' <<<"$after")" "HIB-PROC pid=$pid boot=$boot" \
  "the process printing after the resume"
(($(sed 's/.*up=//' <<<"$after") > up_before)) || fail "uptime $up_before -> $after: not resumed"
console_text "$inst" | grep -q "Linux version" && fail "the kernel booted again on $host2"
log "ok: $inst resumed on $host2: $after (uptime at the stop $up_before)"

"$MC" terminate-instances --instance-ids "$inst" "$keep" >/dev/null
"$MC" wait instance-terminated --instance-ids "$inst" --timeout 300 || fail "$inst never terminated"
for _ in $(seq 1 60); do  # the root goes through `deleting` first
  left=$("$MC" describe-volumes --filters "Name=attachment.instance-id,Values=$inst" |
    jq -r '.Volumes | length')
  [[ $left == 0 ]] && break
  sleep 1
done
assert_eq "$left" 0 "volumes of $inst after terminate"
"$REPO/deploy/cloud" down >/dev/null || fail "cloud down"
log "PASS"
