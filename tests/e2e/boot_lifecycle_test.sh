#!/usr/bin/env bash
# Real boot through the whole stack: a Debian 12 AMI with stock cloud-init boots through
# firmware (SeaBIOS + GRUB) under QEMU; the instance reaches running, its console shows the
# kernel and cloud-init; restarting the controller and the agent neither loses nor reboots it;
# terminate leaves no domain, no overlay and no QEMU behind.
source "$(dirname "$0")/lib.sh"

[[ -f $IMAGES/debian-12/manifest.json ]] || fail "Debian AMI missing: run images/build-debian-ami.sh"
cloud_up --hosts 1
image=$("$MC" register-image --manifest "$IMAGES/debian-12/manifest.json" | jq -r .ImageId)
log "registered $image"

id=$("$MC" run-instances --image-id "$image" --instance-type t3.micro \
  --user-data "file://$REPO/deploy/examples/hello-user-data.sh" | jq -r '.Instances[0].InstanceId')
log "launched $id"
"$MC" wait instance-running --instance-ids "$id" --timeout 120 || fail "$id never reached running"
log "running"
wait_console "$id" "Linux version" 120
log "kernel booted"
wait_console "$id" "[Cc]loud-init" 300
log "cloud-init started"

qemu_pid=$(pgrep -f "guest=$id") || fail "no QEMU process for $id"
"$REPO/deploy/cloud" restart controller >/dev/null
"$REPO/deploy/cloud" restart agent-1 >/dev/null
sleep 5
assert_eq "$(state_of "$id")" running "state after restarts"
assert_eq "$(pgrep -f "guest=$id")" "$qemu_pid" "QEMU process after restarts (no reboot)"
log "survived controller and agent restarts"

"$MC" terminate-instances --instance-ids "$id" >/dev/null
"$MC" wait instance-terminated --instance-ids "$id" --timeout 60 || fail "$id never terminated"
pgrep -f "guest=$id" >/dev/null && fail "QEMU still running after terminate"
[[ -e $MINICLOUD_HOME/agent-1/instances/$id ]] && fail "instance dir (overlay) left behind"
log "terminated cleanly"
