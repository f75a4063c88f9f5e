#!/usr/bin/env bash
# Packs the guest helpers into a deterministic tarball (guest/CMakeLists.txt):
#   package.sh OUT.tar.gz cfn-hup.service PROGRAM...
# opt/aws/bin/<program> (stripped, 0755) and etc/systemd/system/cfn-hup.service (0644), owned
# by root (numeric 0:0), names sorted, mtime fixed, only file entries, gzip without a name or
# time stamp: the same binaries give the same bytes (the AMI's cache key hashes them).
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: $0 OUT.tar.gz SERVICE PROGRAM..." >&2; exit 2; }
out=$1 service=$2
shift 2
stage=$(mktemp -d "${out}.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/opt/aws/bin" "$stage/etc/systemd/system"
for program in "$@"; do
  strip --strip-unneeded -o "$stage/opt/aws/bin/$(basename "$program")" "$program"
  chmod 0755 "$stage/opt/aws/bin/$(basename "$program")"
done
install -m 0644 "$service" "$stage/etc/systemd/system/cfn-hup.service"
(cd "$stage" && find . -type f -printf '%P\n' | LC_ALL=C sort) >"$stage.list"
tar -C "$stage" --format=gnu --no-recursion --owner=0 --group=0 --numeric-owner \
  --mtime='2024-01-01 00:00:00Z' -cf - -T "$stage.list" | gzip -9 -n >"$out.tmp"
rm -f "$stage.list"
mv -f "$out.tmp" "$out"
