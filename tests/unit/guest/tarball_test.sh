#!/usr/bin/env bash
# build/guest/cfn-bootstrap.tar.gz holds exactly the four helpers (0755) and cfn-hup.service
# (0644), owned 0:0, with the fixed mtime, and packing again gives the same bytes.
# Bugs caught: a missing helper or unit, a directory entry (it would reset /opt's or /etc's
# mode and mtime when unpacked over /), a build-time mtime or owner (the AMI cache key changes
# on every build), a mode of 0644 on a helper.
set -euo pipefail
tarball=$1 package=$2 service=$3 bindir=$4
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ -f $tarball ]] || fail "$tarball missing (target cfn_bootstrap_tarball)"
listing=$(tar -tvzf "$tarball" --numeric-owner | awk '{print $1, $2, $4, $5, $6}')
want="-rw-r--r-- 0/0 2024-01-01 00:00 etc/systemd/system/cfn-hup.service
-rwxr-xr-x 0/0 2024-01-01 00:00 opt/aws/bin/cfn-get-metadata
-rwxr-xr-x 0/0 2024-01-01 00:00 opt/aws/bin/cfn-hup
-rwxr-xr-x 0/0 2024-01-01 00:00 opt/aws/bin/cfn-init
-rwxr-xr-x 0/0 2024-01-01 00:00 opt/aws/bin/cfn-signal"
[[ $listing == "$want" ]] || fail "unexpected listing:
$listing
want:
$want"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$package" "$tmp/again.tar.gz" "$service" "$bindir"/cfn-init "$bindir"/cfn-signal \
  "$bindir"/cfn-get-metadata "$bindir"/cfn-hup
cmp -s "$tarball" "$tmp/again.tar.gz" || fail "packing twice gave different bytes"
tar -xzf "$tarball" -C "$tmp"
# The unpacked helpers need nothing but glibc.
for b in "$tmp"/opt/aws/bin/*; do
  libs=$(ldd "$b" | awk '{print $1}' | grep -vE '^(linux-vdso|libc\.so|/lib64/ld-linux)' || true)
  [[ -z $libs ]] || fail "$(basename "$b") needs shared libraries: $libs"
done
echo "ok"
