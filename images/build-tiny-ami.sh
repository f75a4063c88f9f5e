#!/usr/bin/env bash
# Builds the minicloud tiny test AMI: Debian's cloud kernel + a busybox-static initramfs, booted
# by direct kernel boot (no bootloader), plus a small qcow2 holding an ext4 filesystem. It boots
# to "minicloud-tiny: booted" in seconds under TCG, then prints a heartbeat line forever, so
# hypervisor and agent-restart tests can see that a guest keeps running. It also loads the
# virtio modules (disks and NIC), takes a DHCP lease, lists its disks in every heartbeat, runs
# its user data once when it is a script (fetched from the metadata service, IMDSv1), and
# powers off on the ACPI power button (a graceful shutdown request).
#
# Usage: build-tiny-ami.sh [--out DIR] [--force]
# The kernel is reused from the Debian AMI (build-debian-ami.sh output, or the directory in
# MINICLOUD_DEBIAN_AMI_DIR) when it is there; otherwise linux-image-cloud-amd64 is fetched with
# apt-get download and unpacked with dpkg-deb (no chroot). Skipped when DIR/manifest.json records
# the same input hash; --force rebuilds anyway.
set -euo pipefail

NAME=minicloud-tiny
DISK_MIB=64
CMDLINE="console=ttyS0,115200n8 quiet"
# Kernel modules for the initramfs (virtio disks + NIC, ACPI power button).
MODULES=(virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk
  failover net_failover virtio_net button evdev)
BUSYBOX=/bin/busybox
DEBIAN_AMI=${MINICLOUD_DEBIAN_AMI_DIR:-/var/cache/minicloud/images/debian-12}
OUT=/var/cache/minicloud/images/tiny
FORCE=0

log() { printf 'build-tiny-ami: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; }

while (($#)); do
  case "$1" in
    --out) [[ $# -ge 2 ]] || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --out=*) OUT=${1#--out=}; shift ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
done

for tool in cpio gzip mkfs.ext4 qemu-img jq sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found; run deploy/install-deps.sh"
done
if ! [[ -x $BUSYBOX ]] || ! "$BUSYBOX" --list | grep -qx udhcpc; then
  die "$BUSYBOX missing or without udhcpc; install busybox-static"
fi
# A static busybox is required: the initramfs has no libc.
if ldd "$BUSYBOX" >/dev/null 2>&1; then die "$BUSYBOX is dynamically linked; need busybox-static"; fi

OUT=$(realpath -m "$OUT")
mkdir -p "$(dirname "$OUT")"
exec 9>"$OUT.lock"
flock 9

# Where the kernel comes from, named before fetching anything so the cache check is cheap.
if [[ -f $DEBIAN_AMI/manifest.json ]]; then
  src_kernel=$DEBIAN_AMI/$(jq -r .kernel.file "$DEBIAN_AMI/manifest.json")
  src_initrd=$DEBIAN_AMI/$(jq -r .ramdisk.file "$DEBIAN_AMI/manifest.json")
  [[ -f $src_kernel && -f $src_initrd ]] || die "$DEBIAN_AMI/manifest.json names missing files"
  KVER=$(jq -r .kernel.version "$DEBIAN_AMI/manifest.json")
  KERNEL_ID="ami:$(jq -r .kernel.sha256 "$DEBIAN_AMI/manifest.json")"
else
  src_kernel=""
  deb=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [[ -n $deb ]] || die "no linux-image-cloud-amd64 in the apt lists; run apt-get update"
  KVER=${deb#linux-image-}
  KERNEL_ID="deb:$deb=$(apt-cache policy "$deb" | awk '/Candidate:/ {print $2}')"
fi
INPUT_HASH=$( { cat "$0"; echo "$KERNEL_ID"; sha256sum "$BUSYBOX"; } | sha256sum | cut -d' ' -f1)
if [[ $FORCE -eq 0 && -f $OUT/manifest.json ]] &&
   [[ $(jq -r '.build.input_hash // empty' "$OUT/manifest.json") == "$INPUT_HASH" ]] &&
   jq -r '.disk.file, .kernel.file, .ramdisk.file' "$OUT/manifest.json" |
     (cd "$OUT" && xargs -r ls >/dev/null 2>&1); then
  log "up to date, skipped: $OUT (input hash ${INPUT_HASH:0:12}; --force rebuilds)"
  exit 0
fi

# We hold the lock, so build directories left by a killed build are stale.
for stale in "$(dirname "$OUT")/.$(basename "$OUT").build."*; do
  [[ -d $stale ]] && rm -rf --one-file-system "$stale"
done
WORK=$(mktemp -d "$(dirname "$OUT")/.$(basename "$OUT").build.XXXXXX")
chmod 755 "$WORK"   # apt-get download runs as _apt
cleanup() {
  local rc=$?
  rm -rf --one-file-system "$WORK"
  ((rc == 0)) || log "failed (exit $rc); temporary files removed"
}
trap cleanup EXIT
STAGE=$WORK/out
TREE=$WORK/tree      # where kernel modules are found: an unpacked .deb or initrd
INITRAMFS=$WORK/initramfs
mkdir -p "$STAGE" "$TREE"
START=$SECONDS

# --- 1. kernel and modules ---------------------------------------------------------------------
# Modules come from the kernel's own package (same version); without the archive, the virtio
# modules of the Debian AMI's initrd still give disks and NIC (but no power button).
log "fetching linux-image-$KVER with apt-get download (for its modules)"
if (cd "$WORK" && apt-get download -q -o APT::Sandbox::User=root "linux-image-$KVER" >&2); then
  dpkg-deb -x "$WORK/linux-image-${KVER}"_*.deb "$TREE"
elif [[ -n $src_kernel ]]; then
  log "warning: download failed; taking the virtio modules from $src_initrd"
  case $(head -c 4 "$src_initrd" | od -An -tx1 | tr -d ' ') in
    28b52ffd) unpack=(zstd -dc) ;;
    1f8b*) unpack=(gzip -dc) ;;
    *) die "$src_initrd: unknown initrd compression" ;;
  esac
  "${unpack[@]}" "$src_initrd" | (cd "$TREE" && cpio -idm --quiet --no-absolute-filenames)
else
  die "cannot download linux-image-$KVER"
fi
if [[ -n $src_kernel ]]; then
  log "reusing the kernel of $DEBIAN_AMI ($KVER)"
  cp "$src_kernel" "$WORK/vmlinuz"
else
  cp "$TREE/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
fi

# --- 2. initramfs ----------------------------------------------------------------------------
log "busybox initramfs (kernel $KVER)"
mkdir -p "$INITRAMFS"/{bin,dev,proc,sys,tmp,etc/acpi/PWRF,lib/modules,usr/share/udhcpc}
cp "$BUSYBOX" "$INITRAMFS/bin/busybox"
mknod -m 600 "$INITRAMFS/dev/console" c 5 1   # the kernel opens it before /init runs
mknod -m 666 "$INITRAMFS/dev/null" c 1 3
found=()
for m in "${MODULES[@]}"; do
  f=$(find "$TREE" -name "$m.ko*" -path "*/$KVER/*" -print -quit 2>/dev/null || true)
  [[ -z $f ]] && f=$(find "$TREE" -name "$m.ko*" -print -quit)
  if [[ -n $f ]]; then
    case $f in
      *.ko.xz) xz -dc "$f" >"$INITRAMFS/lib/modules/$m.ko" ;;
      *.ko.zst) zstd -qdc "$f" >"$INITRAMFS/lib/modules/$m.ko" ;;
      *) cp "$f" "$INITRAMFS/lib/modules/$m.ko" ;;
    esac
    found+=("$m")
  fi
done
log "modules: ${found[*]:-none} (missing: $(comm -23 <(printf '%s\n' "${MODULES[@]}" | sort) \
  <(printf '%s\n' "${found[@]}" | sort) | tr '\n' ' '))"
printf '%s\n' "${found[@]}" >"$INITRAMFS/lib/modules/order"

cat >"$INITRAMFS/init" <<'EOF'
#!/bin/busybox sh
# minicloud tiny AMI: PID 1. Prints a marker, then a heartbeat forever.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
hostname minicloud-tiny
up() { cut -d' ' -f1 /proc/uptime; }
echo; echo "minicloud-tiny: booted kernel=$(uname -r) uptime=$(up)s"
echo "minicloud-tiny: smbios uuid=$(cat /sys/class/dmi/id/product_uuid 2>/dev/null)" \
  "serial=$(cat /sys/class/dmi/id/product_serial 2>/dev/null)"
# insmod does not resolve dependencies: retry the failures until a pass loads nothing more.
pending=$(echo $(cat /lib/modules/order))
while [ -n "$pending" ]; do
  left=""
  for m in $pending; do
    insmod "/lib/modules/$m.ko" 2>/tmp/insmod.err || left="${left:+$left }$m"
  done
  [ "$left" = "$pending" ] && break
  pending=$left
done
[ -n "$pending" ] && echo "minicloud-tiny: modules not loaded: $pending ($(cat /tmp/insmod.err))"
acpid -d -c /etc/acpi >/dev/null 2>&1 &   # -d: no daemon, no log file (there is no /var/log)
ip link set lo up
nic=$(ls /sys/class/net | grep -v '^lo$' | head -n1)
if [ -n "$nic" ]; then
  udhcpc -i "$nic" -b -t 3 -T 2 -s /usr/share/udhcpc/default.script >/dev/null 2>&1 &
fi
# User data: once the lease is there, GET it from the metadata service (IMDSv1) and run it with
# sh if it is a script ("#!" first). Its output goes to the console between two markers.
# busybox wget's -T crashes in this build (1.35), so the time limit is timeout(1).
user_data() {
  url=http://169.254.169.254/latest/user-data
  i=0
  while [ -z "$(ip -4 -o addr show dev "$nic" 2>/dev/null)" ]; do
    i=$((i + 1))
    [ $i -gt 120 ] && { echo "minicloud-tiny: user-data skipped (no DHCP lease)"; return; }
    sleep 0.5
  done
  i=0
  while :; do
    i=$((i + 1))
    rm -f /tmp/user-data
    timeout 10 wget -q -O /tmp/user-data "$url" 2>/tmp/user-data.err && break
    if grep -q ' 404' /tmp/user-data.err; then echo "minicloud-tiny: user-data none"; return; fi
    if [ $i -ge 5 ]; then
      echo "minicloud-tiny: user-data fetch failed: $(head -n1 /tmp/user-data.err)"
      return
    fi
    sleep 2
  done
  size=$(wc -c </tmp/user-data)
  if [ "$(head -c 2 /tmp/user-data)" != "#!" ]; then
    echo "minicloud-tiny: user-data not a script ($size bytes), not run"
    return
  fi
  echo "minicloud-tiny: user-data start ($size bytes)"
  (cd / && sh /tmp/user-data </dev/null 2>&1)
  echo "minicloud-tiny: user-data exit $?"
}
[ -n "$nic" ] && user_data &
n=0
while :; do
  n=$((n + 1))
  disks=$(ls /sys/block 2>/dev/null | grep -v -e '^loop' -e '^ram' | tr '\n' ',')
  addr=""
  [ -n "$nic" ] && addr=$(ip -4 -o addr show dev "$nic" 2>/dev/null | awk '{print $4}' | head -n1)
  echo "minicloud-tiny: heartbeat $n uptime=$(up)s disks=${disks%,} nic=${nic:-none} ip=${addr:-none}"
  sleep 3
done
EOF
cat >"$INITRAMFS/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc hook: configure the lease on the interface.
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip -4 addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    echo "minicloud-tiny: dhcp $interface $ip/${mask:-24} router=${router:-none}" >/dev/console ;;
esac
exit 0
EOF
cat >"$INITRAMFS/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "minicloud-tiny: power button, powering off" >/dev/console
sync
poweroff -f
EOF
chmod 755 "$INITRAMFS/init" "$INITRAMFS/usr/share/udhcpc/default.script" \
  "$INITRAMFS/etc/acpi/PWRF/00000080"
(cd "$INITRAMFS" && find . -print0 | LC_ALL=C sort -z |
  cpio -o -0 -H newc --owner 0:0 --quiet) | gzip -9n >"$STAGE/initramfs-$NAME.img"
cp "$WORK/vmlinuz" "$STAGE/vmlinuz-$KVER"

# --- 3. disk: a small ext4 (no partition table, not bootable by itself) ------------------------
mkdir -p "$WORK/disk"
echo "minicloud tiny AMI data disk" >"$WORK/disk/README"
truncate -s "${DISK_MIB}M" "$WORK/disk.raw"
mkfs.ext4 -q -F -L tiny -d "$WORK/disk" "$WORK/disk.raw" "${DISK_MIB}M"
qemu-img convert -c -O qcow2 "$WORK/disk.raw" "$STAGE/$NAME.qcow2"

# --- 4. manifest (same format as build-debian-ami.sh) -----------------------------------------
file_json() {
  jq -n --arg f "$(basename "$1")" --arg s "$(sha256sum "$1" | cut -d' ' -f1)" \
    --argjson n "$(stat -c %s "$1")" '{file: $f, sha256: $s, size_bytes: $n}'
}
vsize=$(qemu-img info --output=json "$STAGE/$NAME.qcow2" | jq '."virtual-size"')
jq -n \
  --arg name "$NAME" --arg cmdline "$CMDLINE" --arg kver "$KVER" --arg kid "$KERNEL_ID" \
  --arg hash "$INPUT_HASH" --arg built "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --argjson vsize "$vsize" --argjson secs "$((SECONDS - START))" \
  --argjson disk "$(file_json "$STAGE/$NAME.qcow2")" \
  --argjson kernel "$(file_json "$STAGE/vmlinuz-$KVER")" \
  --argjson ramdisk "$(file_json "$STAGE/initramfs-$NAME.img")" \
  '{
    format_version: 1,
    name: $name,
    description: "minicloud tiny test image: Debian cloud kernel + busybox initramfs",
    architecture: "x86_64",
    virtualization_type: "hvm",
    boot_mode: "direct-kernel",
    root_device_name: "/dev/xvda",
    default_user: null,
    disk: ($disk + {format: "qcow2", virtual_size_bytes: $vsize}),
    kernel: ($kernel + {version: $kver}),
    ramdisk: $ramdisk,
    kernel_cmdline: $cmdline,
    firmware_bootable: false,
    console_markers: {booted: "minicloud-tiny: booted", heartbeat: "minicloud-tiny: heartbeat",
                      poweroff: "minicloud-tiny: power button, powering off",
                      user_data_start: "minicloud-tiny: user-data start",
                      user_data_exit: "minicloud-tiny: user-data exit",
                      user_data_none: "minicloud-tiny: user-data none"},
    build: {input_hash: $hash, kernel_source: $kid, built_at: $built, build_seconds: $secs,
            recipe: "images/build-tiny-ami.sh"}
  }' >"$STAGE/manifest.json"

# --- 5. move into place ----------------------------------------------------------------------
if [[ -e $OUT ]]; then mv -T "$OUT" "$WORK/previous"; fi
mv -T "$STAGE" "$OUT" || { [[ -e $WORK/previous ]] && mv -T "$WORK/previous" "$OUT"; die "cannot move into $OUT"; }
log "built $OUT in $((SECONDS - START)) s:"
(cd "$OUT" && ls -l --block-size=K -- *) | sed 's/^/  /' >&2
