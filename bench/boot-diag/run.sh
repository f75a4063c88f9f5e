#!/usr/bin/env bash
# Where a Debian AMI's first boot spends its time, on a one-host local cloud (real libvirt + QEMU,
# TCG here): one instance whose user data prints a line at once, then, once systemd says the
# boot is finished, systemd-analyze (total, blame, critical chain), cloud-init's per-stage
# timing and the host keys in /etc/ssh, all on the serial console.
#
#   sudo bench/boot-diag/run.sh [AMI_DIR]    (default /var/cache/minicloud/images/debian-12)
#
# Prints launch -> user data (s, from just before run-instances to the line on the console), the
# guest's QEMU CPU time at that moment (s, user + system from /proc), and the diagnostics. Run it
# alternately on two AMI directories to compare them (e.g. a build of an older recipe:
# `git show REV:images/build-debian-ami.sh > /tmp/old.sh && bash /tmp/old.sh --out DIR
# --cfn-bootstrap build/guest/cfn-bootstrap.tar.gz`). Env: INSTANCE_TYPE (default t3.micro),
# MINICLOUD_BIN (default <repo>/build/bin). The cloud is torn down on exit.
source "$(dirname "$0")/../../tests/e2e/lib.sh"

AMI_DIR=${1:-$IMAGES/debian-12}
[[ -f $AMI_DIR/manifest.json ]] || fail "no AMI at $AMI_DIR: run images/build-debian-ami.sh"
cloud_up --hosts 1
image=$("$MC" register-image --manifest "$AMI_DIR/manifest.json" | jq -r .ImageId)
user_data='#!/bin/bash
echo BOOT-DIAG-USERDATA >/dev/ttyS0
nohup setsid bash -c "systemctl is-system-running --wait >/dev/null; { echo BOOT-DIAG-BEGIN; systemd-analyze; systemd-analyze blame | head -30; systemd-analyze critical-chain; cloud-init analyze show; ls /etc/ssh/; echo BOOT-DIAG-END; } >/dev/ttyS0 2>&1" >/dev/null 2>&1 &'
t0=$(date +%s)
id=$("$MC" run-instances --image-id "$image" --instance-type "${INSTANCE_TYPE:-t3.micro}" \
  --user-data "$user_data" | jq -r '.Instances[0].InstanceId')
wait_console "$id" "BOOT-DIAG-USERDATA" 900
log "launch -> user data $(($(date +%s) - t0)) s"
qemu_pid=$(pgrep -f "guest=$id" | head -1) || fail "no QEMU process for $id"
# /proc/PID/stat after the command name: state is field 3, utime 14, stime 15.
read -r -a stat < <(sed 's/.*) //' "/proc/$qemu_pid/stat")
log "qemu cpu at user data: $(((stat[11] + stat[12]) / $(getconf CLK_TCK))) s"
wait_console "$id" "BOOT-DIAG-END" 900
console_text "$id" | sed -n '/BOOT-DIAG-BEGIN/,/BOOT-DIAG-END/p'
