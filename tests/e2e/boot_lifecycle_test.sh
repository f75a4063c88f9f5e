#!/usr/bin/env bash
# Real boot through the whole stack: a Debian 12 AMI with stock cloud-init boots through
# firmware (SeaBIOS + GRUB) under QEMU on the host bridge; cloud-init finds the Ec2 datasource
# on its own, reads our metadata service and runs the user data; SSH with the created key pair
# works; restarting the controller and the agent neither loses nor reboots it; stop shuts the
# guest down through the ACPI power button (not a power-off); stop/start keeps the disk and IP
# and serves changed user data without running it; terminate leaves no domain, no overlay and
# no QEMU behind.
source "$(dirname "$0")/lib.sh"

[[ -f $IMAGES/debian-12/manifest.json ]] || fail "Debian AMI missing: run images/build-debian-ami.sh"
# A generous stop timeout: the graceful stop below must not end in a power-off on a busy host.
MINICLOUD_STOP_TIMEOUT=300 cloud_up --hosts 1
image=$("$MC" register-image --manifest "$IMAGES/debian-12/manifest.json" | jq -r .ImageId)
log "registered $image"

"$MC" create-key-pair --key-name e2e --key-type ed25519 --query KeyMaterial --output text >"$MINICLOUD_HOME/e2e.pem"
chmod 600 "$MINICLOUD_HOME/e2e.pem"
id=$("$MC" run-instances --image-id "$image" --instance-type t3.micro --key-name e2e \
  --user-data "file://$REPO/deploy/examples/hello-user-data.sh" | jq -r '.Instances[0].InstanceId')
log "launched $id"
"$MC" wait instance-running --instance-ids "$id" --timeout 120 || fail "$id never reached running"
log "running"
# get-console-output returns the last 64 KiB (as EC2): on a quick boot the kernel banner has
# already scrolled out of it by the next poll, so any sign of the booted kernel counts.
wait_console "$id" "Linux version|systemd\[1\]|Welcome to|[Cc]loud-init" 120
log "kernel booted"
wait_console "$id" "[Cc]loud-init" 300
log "cloud-init started"
verdict=$("$MC" wait user-data-finished --instance-ids "$id" --timeout 600 2>/dev/null) ||
  fail "no user-data verdict: $verdict"
grep -q "verdict: user data succeeded (exit status 0)" <<<"$verdict" || fail "verdict: $verdict"
grep -q "datasource: DataSourceEc2" <<<"$verdict" || fail "datasource: $verdict"
grep -q "hello from minicloud user data on ip-" <<<"$verdict" || fail "user data output: $verdict"
log "user data ran (stock cloud-init, Ec2 datasource); verdict and timeline printed"
ip=$("$MC" describe-instances --instance-ids "$id" | jq -r '.Reservations[0].Instances[0].PrivateIpAddress')
ns=$(ip netns list | awk '{print $1}' | grep "^mc-$(printf '%s' "$MINICLOUD_HOME" | md5sum | cut -c1-4)-1$")
ssh_guest() {
  ip netns exec "$ns" ssh -i "$MINICLOUD_HOME/e2e.pem" -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 -o BatchMode=yes "debian@$ip" "$@"
}
for _ in $(seq 1 30); do ssh_guest true 2>/dev/null && break; sleep 5; done
guest_id=$(ssh_guest 'TOKEN=$(curl -s -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token); curl -s -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-id') ||
  fail "ssh with the created key pair failed"
assert_eq "$guest_id" "$id" "instance-id read inside the guest"
guest_az=$(ssh_guest 'curl -s http://169.254.169.254/latest/meta-data/placement/availability-zone')
assert_eq "$guest_az" "$("$MC" describe-instances --instance-ids "$id" | jq -r '.Reservations[0].Instances[0].Placement.AvailabilityZone')" "AZ inside the guest"
guest_ip=$(ssh_guest 'curl -s http://169.254.169.254/latest/meta-data/local-ipv4')
assert_eq "$guest_ip" "$ip" "local-ipv4 inside the guest"
doc_id=$(ssh_guest 'curl -s http://169.254.169.254/latest/dynamic/instance-identity/document' |
  jq -r .instanceId)
assert_eq "$doc_id" "$id" "identity document inside the guest"
log "ssh with the key pair works; the guest reads its own metadata"
# The AMI's host keys are ed25519 and ECDSA, as Amazon Linux 2023's (no RSA prime search at first
# boot). Bugs caught: the cloud.cfg.d drop-in left out of the image, or ssh.service's fallback
# `ssh-keygen -A` run although cloud-init made keys (either brings back an RSA key).
host_keys=$(ssh_guest 'cd /etc/ssh && echo ssh_host_*_key') || fail "listing the guest's host keys"
assert_eq "$host_keys" "ssh_host_ecdsa_key ssh_host_ed25519_key" "the guest's SSH host keys"

# IMDSv2 enforced: a GET without a token is 401 from inside the guest, with a token 200.
"$MC" modify-instance-metadata-options --instance-id "$id" --http-tokens required >/dev/null
sleep 3
code=$(ssh_guest 'curl -s -o /dev/null -w "%{http_code}" http://169.254.169.254/latest/meta-data/instance-id')
assert_eq "$code" 401 "GET without a token under HttpTokens=required"
code=$(ssh_guest 'T=$(curl -s -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 30" http://169.254.169.254/latest/api/token); curl -s -o /dev/null -w "%{http_code}" -H "X-aws-ec2-metadata-token: $T" http://169.254.169.254/latest/meta-data/instance-id')
assert_eq "$code" 200 "GET with a token under HttpTokens=required"
log "HttpTokens=required enforced inside the guest"

qemu_pid=$(pgrep -f "guest=$id") || fail "no QEMU process for $id"
"$REPO/deploy/cloud" restart controller >/dev/null
"$REPO/deploy/cloud" restart agent-1 >/dev/null
sleep 5
assert_eq "$(state_of "$id")" running "state after restarts"
assert_eq "$(pgrep -f "guest=$id")" "$qemu_pid" "QEMU process after restarts (no reboot)"
log "survived controller and agent restarts"

# Stop/start: the guest shuts down on the ACPI button; user data may change only while stopped;
# after the start the new user data is served, but cloud-init (per instance) runs neither it nor
# the first one again. The private IP and the disk stay.
printf '#!/bin/sh\ntouch /var/tmp/second-user-data-ran\n' >"$MINICLOUD_HOME/second.sh"
expect_error IncorrectInstanceState "$MC" modify-instance-attribute --instance-id "$id" \
  --user-data "file://$MINICLOUD_HOME/second.sh"
ssh_guest 'echo kept | sudo tee /var/tmp/disk-survives-stop >/dev/null' || fail "write before stop"
# cloud-init appends each boot's output to this log inside the guest (the console keeps only
# its last 64 KiB, so it cannot tell how often the user data ran).
hello_runs() {
  ssh_guest 'sudo grep -c "hello from minicloud user data on ip-" /var/log/cloud-init-output.log' 2>/dev/null
}
runs_before=$(hello_runs)
assert_eq "$runs_before" 1 "runs of the user data before the stop"
"$MC" stop-instances --instance-ids "$id" >/dev/null
"$MC" wait instance-stopped --instance-ids "$id" --timeout 360 || fail "$id never stopped"
pgrep -f "guest=$id" >/dev/null && fail "QEMU still running after stop"
# A plain stop is graceful: the agent pressed the ACPI power button, the guest shut itself down
# (its kernel's last words on the console; a powered-off QEMU never prints them), and the agent
# did not have to pull the plug.
agent_log=$(cat "$MINICLOUD_HOME/logs/agent-1.log")
grep -q "asked $id to shut down (ACPI power button)" <<<"$agent_log" ||
  fail "the agent never pressed the power button of $id"
grep -q "$id stopped (powered off)" <<<"$agent_log" &&
  fail "$id did not shut down on the ACPI button within the stop timeout and was powered off"
grep -Eq "$id stopped\s*$" <<<"$agent_log" || fail "the agent never reported $id stopped"
grep -q "reboot: Power down" <<<"$(console_text "$id")" ||
  fail "the console of $id does not show the guest powering itself down"
log "stopped gracefully: ACPI power button, the guest powered itself down"
"$MC" modify-instance-attribute --instance-id "$id" --user-data "file://$MINICLOUD_HOME/second.sh"
"$MC" start-instances --instance-ids "$id" >/dev/null
"$MC" wait instance-running --instance-ids "$id" --timeout 120 || fail "$id never ran again"
assert_eq "$("$MC" describe-instances --instance-ids "$id" | jq -r '.Reservations[0].Instances[0].PrivateIpAddress')" \
  "$ip" "private IP after stop/start"
for _ in $(seq 1 60); do ssh_guest true 2>/dev/null && break; sleep 5; done
served=$(ssh_guest 'T=$(curl -s -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token); curl -s -H "X-aws-ec2-metadata-token: $T" http://169.254.169.254/latest/user-data') ||
  fail "ssh after start failed"
assert_eq "$served" "$(cat "$MINICLOUD_HOME/second.sh")" "user data served after the start"
assert_eq "$(ssh_guest 'cat /var/tmp/disk-survives-stop')" kept "root disk content after stop/start"
ssh_guest 'cloud-init status --wait >/dev/null 2>&1; true'
ssh_guest 'test -e /var/tmp/second-user-data-ran' && fail "changed user data ran on a restart"
assert_eq "$(hello_runs)" 1 "runs of the first user data after a restart"
log "stop/start: disk and IP kept, new user data served and not run, first one not re-run"

"$MC" terminate-instances --instance-ids "$id" >/dev/null
"$MC" wait instance-terminated --instance-ids "$id" --timeout 60 || fail "$id never terminated"
pgrep -f "guest=$id" >/dev/null && fail "QEMU still running after terminate"
[[ -e $MINICLOUD_HOME/agent-1/instances/$id ]] && fail "instance dir (overlay) left behind"
log "terminated cleanly"
