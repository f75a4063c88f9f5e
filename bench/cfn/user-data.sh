#!/bin/bash
# bench/cfn/run.sh: the plain shell twin of bench/cfn/stack.yaml's cfn-init work. @REPO@ and
# @MARKER@ are filled in per boot. The marker on the console is the end of the clock.
set -euo pipefail
rm -f /etc/apt/sources.list.d/*
echo "deb [trusted=yes] @REPO@ ./" >/etc/apt/sources.list
export DEBIAN_FRONTEND=noninteractive
apt-get update -q --error-on=any
apt-get install -y -q minicloud-egress-probe
groupadd -g 4321 cfne2e
useradd -u 4322 -G cfne2e -d /var/lib/cfnapp cfnapp
mkdir -p /etc/cfn-e2e
printf 'name=%s\nport=8080\n' plain >/etc/cfn-e2e/app.conf
chown cfnapp:cfne2e /etc/cfn-e2e/app.conf
chmod 640 /etc/cfn-e2e/app.conf
cat >/etc/systemd/system/cfn-e2e-app.service <<'UNIT'
[Unit]
Description=bench service
[Service]
User=cfnapp
ExecStart=/bin/sh -c 'exec sleep infinity'
[Install]
WantedBy=multi-user.target
UNIT
chmod 644 /etc/systemd/system/cfn-e2e-app.service
test ! -e /var/lib/cfn-e2e/order && { mkdir -p /var/lib/cfn-e2e && echo first >/var/lib/cfn-e2e/order; }
(cd /var/lib/cfn-e2e && GREETING=hello sh -c 'echo "$GREETING second" >> order')
minicloud-egress-probe >/var/lib/cfn-e2e/package
systemctl daemon-reload
systemctl enable cfn-e2e-app
systemctl start cfn-e2e-app
echo "@MARKER@" >/dev/console
