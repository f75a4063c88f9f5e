#!/usr/bin/env bash
# The helpers baked into the Debian AMI run there: a copy of the AMI's disk is mounted (loop,
# read-write on the copy only) and cfn-init, cfn-get-metadata, cfn-signal and cfn-hup run under
# chroot with the guest's own glibc and tools (groupadd, useradd, /bin/sh), against a loopback
# endpoint serving canned DescribeStackResource/SignalResource answers.
# Usage: ami_chroot_test.sh [AMI_DIR [TARBALL]]  (default /var/cache/minicloud/images/debian-12)
# With TARBALL (e.g. build/guest/cfn-bootstrap.tar.gz) those helpers replace the baked ones in
# the copy: the current build checked in the guest's userland without rebuilding the AMI.
# Exit 77 (skipped) without root; fails without the AMI (as the other e2e scripts).
# Bugs caught: a helper linked against a library the guest lacks, or a newer glibc; the recipe
# no longer unpacking the tarball; cfn-init's users/groups/files/commands failing on the guest.
set -euo pipefail
AMI=${1:-${MINICLOUD_DEBIAN_AMI_DIR:-/var/cache/minicloud/images/debian-12}}
skip() { echo "SKIPPED: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || skip "needs root (loop mount, chroot)"
[[ -f $AMI/manifest.json ]] || fail "Debian AMI missing at $AMI: run images/build-debian-ami.sh"
for t in qemu-img jq python3 losetup; do command -v $t >/dev/null || skip "$t missing"; done
[[ $(jq -r '.build.cfn_bootstrap_sha256 // "none"' "$AMI/manifest.json") != none ]] ||
  fail "the AMI at $AMI has no cfn helpers: rebuild it with images/build-debian-ami.sh --cfn-bootstrap"

work=$(mktemp -d /var/tmp/cfn-ami-test.XXXXXX)
mnt=$work/mnt
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
  for m in "$mnt/dev" "$mnt/proc" "$mnt"; do mountpoint -q "$m" && umount -l "$m"; done
  rm -rf "$work"
}
trap cleanup EXIT
qemu-img convert -O raw "$AMI/$(jq -r .disk.file "$AMI/manifest.json")" "$work/disk.raw"
mkdir -p "$mnt"
mount -o loop,offset=$((1024 * 1024)) "$work/disk.raw" "$mnt"
mount --bind /dev "$mnt/dev"
if [[ -n ${2:-} ]]; then
  echo "== unpacking $2 over the baked helpers"
  tar -xzf "$2" -C "$mnt" --no-overwrite-dir
fi
mount -t proc proc "$mnt/proc"

# The canned endpoint (one Python process on 127.0.0.1; the chroot shares the network).
cat >"$work/server.py" <<'PY'
import json, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
init = {"configSets": {"full": ["base", {"ConfigSet": "appset"}], "appset": ["app"]},
        "app": {"commands": {"10_hello": {"command": "id appuser > /root/id.txt",
                                          "env": {"PATH": "/usr/bin:/bin"}}}},
        "base": {"groups": {"appg": {"gid": "4321"}},
                 "users": {"appuser": {"groups": ["appg"], "uid": "4321", "homeDir": "/srv/app"}},
                 "files": {"/etc/app/app.conf": {"content": "name={{n}}\n", "context": {"n": "web"},
                                                 "mode": "000640", "owner": "appuser", "group": "appg"}}}}
meta = {"AWS::CloudFormation::Init": init, "k": {"v": "value"}}
signals = []
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
        if form.get("Action") == "DescribeStackResource":
            d = {"StackId": "s", "StackName": "s", "LogicalResourceId": form["LogicalResourceId"],
                 "PhysicalResourceId": "i-0", "ResourceType": "AWS::EC2::Instance",
                 "ResourceStatus": "CREATE_IN_PROGRESS", "LastUpdatedTimestamp": 0, "Metadata": json.dumps(meta)}
            body = {"DescribeStackResourceResponse": {"DescribeStackResourceResult": {"StackResourceDetail": d}}}
        else:
            with open(sys.argv[2], "a") as f: f.write(json.dumps(form) + "\n")
            body = {"SignalResourceResponse": {}}
        out = json.dumps(body).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(out))); self.end_headers()
        self.wfile.write(out)
s = HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
python3 "$work/server.py" "$work/port" "$work/signals" &
server_pid=$!
for _ in $(seq 50); do [[ -s $work/port ]] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat "$work/port")

in_guest() { chroot "$mnt" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
echo "== ldd in the guest"
in_guest /lib64/ld-linux-x86-64.so.2 --list /opt/aws/bin/cfn-init
echo "== cfn-init"
out=$(in_guest /opt/aws/bin/cfn-init -v -s s -r Web -c full --url "$url" 2>&1) ||
  fail "cfn-init failed in the guest: $out"
[[ $out == "cfn-init: result: success" ]] || fail "cfn-init printed: $out"
[[ $(cat "$mnt/etc/app/app.conf") == "name=web" ]] || fail "app.conf: $(cat "$mnt/etc/app/app.conf")"
[[ $(in_guest stat -c '%a %U %G' /etc/app/app.conf) == "640 appuser appg" ]] ||
  fail "app.conf mode/owner: $(in_guest stat -c '%a %U %G' /etc/app/app.conf)"
grep -q 'uid=4321(appuser).*4321(appg)' "$mnt/root/id.txt" || fail "id: $(cat "$mnt/root/id.txt")"
[[ -d $mnt/srv/app ]] || fail "no home directory"
grep -q 'step appset/app/commands/10_hello' "$mnt/var/log/cfn-init.log" || fail "cfn-init.log incomplete"
echo "== cfn-get-metadata"
[[ $(in_guest /opt/aws/bin/cfn-get-metadata -s s -r Web -k k.v --url "$url") == value ]] ||
  fail "cfn-get-metadata"
echo "== cfn-signal"
in_guest /opt/aws/bin/cfn-signal -e 1 --reason 'in the guest' -i i-0 --stack s --resource Web \
  --url "$url"
jq -e 'select(.Status == "FAILURE" and .Reason == "in the guest")' "$work/signals" >/dev/null ||
  fail "signal: $(cat "$work/signals")"
echo "== cfn-hup"
mkdir -p "$mnt/etc/cfn/hooks.d"
printf '[main]\nstack=s\nurl=%s\n' "$url" >"$mnt/etc/cfn/cfn-hup.conf"
printf '[h]\ntriggers=post.update\npath=Resources.Web.Metadata\naction=true\n' \
  >"$mnt/etc/cfn/hooks.d/h.conf"
in_guest /opt/aws/bin/cfn-hup --no-daemon || fail "cfn-hup --no-daemon"
[[ -f $mnt/var/lib/cfn-hup/data/hook-h.json ]] || fail "cfn-hup kept no state"
[[ -f $mnt/etc/systemd/system/cfn-hup.service ]] || fail "no cfn-hup.service"
in_guest systemd-analyze verify /etc/systemd/system/cfn-hup.service || fail "cfn-hup.service"
echo "ok: the helpers run in $AMI"
