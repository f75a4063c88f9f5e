#!/usr/bin/env bash
# Builds the minicloud Debian 12 (bookworm) AMI from Debian packages only:
#   mmdebstrap rootfs -> ext4 partition image (mkfs.ext4 -d) -> MBR disk with a GRUB i386-pc
#   bootloader written with dd (no loop mounts) -> compressed qcow2, plus the kernel and initrd
#   for direct kernel boot, plus manifest.json.
# cloud-init is Debian's stock package with Debian's stock /etc/cloud/cloud.cfg: no datasource is
# configured here. One setting is the image's own, as on Amazon Linux 2023: the host keys made at
# first boot are ed25519 and ECDSA, no RSA (below). The hypervisor makes the guest look like EC2
# (SMBIOS uuid+serial "ec2...") and serves the metadata, so ds-identify selects the Ec2 datasource
# by itself.
#
# The guest helpers (cfn-init, cfn-signal, cfn-get-metadata, cfn-hup: build/guest/
# cfn-bootstrap.tar.gz, built by the project's CMake target cfn_bootstrap_tarball) are unpacked
# into the image's / when --cfn-bootstrap names the tarball: /opt/aws/bin/cfn-* and the
# (disabled) cfn-hup.service. Callers (deploy/quickstart, deploy/test-all) always pass it.
#
# Usage: build-debian-ami.sh [--out DIR] [--force] [--cfn-bootstrap TARBALL]
# The build is skipped when DIR/manifest.json records the same input hash (this script, suite,
# package list, disk size, the helper tarball's SHA-256); --force rebuilds anyway. Needs root
# (mmdebstrap in root mode).
# Environment: MINICLOUD_APT_SOURCES=FILE  apt sources for the image (default: the host's own
#              Debian sources, else mmdebstrap's default mirror).
set -euo pipefail

NAME=debian-12-minicloud
SUITE=bookworm
DISK_MIB=2048        # virtual disk size; cloud-init's growpart grows it to the volume size
PART_START_MIB=1     # the partition starts at 1 MiB; core.img lives in sectors 1..2047
ROOT_LABEL=root
CMDLINE="root=LABEL=${ROOT_LABEL} ro console=tty0 console=ttyS0,115200n8"
# What matters in a Debian genericcloud image: systemd + udev + dbus (logind handles the ACPI
# power button), the cloud kernel, DHCP via ifupdown/dhclient, sshd, sudo for the default user,
# growpart (cloud-guest-utils) + resize2fs (e2fsprogs), time sync, curl for user-data scripts,
# nftables (NAT for a network behind the guest: the metadata hop-limit test uses it).
PACKAGES=(
  systemd-sysv udev dbus linux-image-cloud-amd64 initramfs-tools zstd
  cloud-init cloud-guest-utils e2fsprogs fdisk
  ifupdown isc-dhcp-client iproute2 netbase iputils-ping
  openssh-server sudo ca-certificates curl procps less systemd-timesyncd nftables
)
GRUB_MODULES=(biosdisk part_msdos ext2 normal linux boot search search_label serial terminal
  echo test configfile sleep)
GRUB_DIR=/usr/lib/grub/i386-pc

OUT=/var/cache/minicloud/images/debian-12
FORCE=0
CFN_BOOTSTRAP=

log() { printf 'build-debian-ami: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; }

while (($#)); do
  case "$1" in
    --out) [[ $# -ge 2 ]] || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --out=*) OUT=${1#--out=}; shift ;;
    --force) FORCE=1; shift ;;
    --cfn-bootstrap) [[ $# -ge 2 ]] || die "--cfn-bootstrap needs a file"; CFN_BOOTSTRAP=$2; shift 2 ;;
    --cfn-bootstrap=*) CFN_BOOTSTRAP=${1#--cfn-bootstrap=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
done

[[ $(id -u) -eq 0 ]] || die "run as root (mmdebstrap builds the rootfs in root mode)"
for tool in mmdebstrap mkfs.ext4 sfdisk grub-mkimage qemu-img jq sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found; run deploy/install-deps.sh"
done
[[ -f $GRUB_DIR/boot.img ]] || die "$GRUB_DIR/boot.img missing; install grub-pc-bin"
[[ -z ${MINICLOUD_APT_SOURCES:-} || -f $MINICLOUD_APT_SOURCES ]] ||
  die "MINICLOUD_APT_SOURCES=$MINICLOUD_APT_SOURCES: no such file"

if [[ -n $CFN_BOOTSTRAP ]]; then
  [[ -f $CFN_BOOTSTRAP ]] ||
    die "--cfn-bootstrap $CFN_BOOTSTRAP: no such file (build the target cfn_bootstrap_tarball)"
  CFN_BOOTSTRAP=$(realpath "$CFN_BOOTSTRAP")
  CFN_SHA256=$(sha256sum "$CFN_BOOTSTRAP" | cut -d' ' -f1)
else
  log "no --cfn-bootstrap: the image will have no cfn-init/cfn-signal/cfn-hup"
  CFN_SHA256=none
fi
OUT=$(realpath -m "$OUT")
mkdir -p "$(dirname "$OUT")"

# One build per output directory at a time; a waiting build then finds the fresh cache.
exec 9>"$OUT.lock"
flock 9

# The helper tarball's hash is an input: new helpers make a new image.
INPUT_HASH=$( { cat "$0"; echo "$SUITE ${PACKAGES[*]} $DISK_MIB cfn-bootstrap=$CFN_SHA256"; } |
  sha256sum | cut -d' ' -f1)
if [[ $FORCE -eq 0 && -f $OUT/manifest.json ]] &&
   [[ $(jq -r '.build.input_hash // empty' "$OUT/manifest.json") == "$INPUT_HASH" ]] &&
   jq -r '.disk.file, .kernel.file, .ramdisk.file' "$OUT/manifest.json" |
     (cd "$OUT" && xargs -r ls >/dev/null 2>&1); then
  log "up to date, skipped: $OUT (input hash ${INPUT_HASH:0:12}; --force rebuilds)"
  exit 0
fi

remove_tree() {
  # mmdebstrap unmounts what it mounted; be safe anyway and never cross into a mount.
  findmnt -rn -o TARGET | grep -F "$1/" | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf --one-file-system "$1"
}
# We hold the lock, so build directories left by a killed build are stale.
for stale in "$(dirname "$OUT")/.$(basename "$OUT").build."*; do
  [[ -d $stale ]] && { log "removing stale $stale"; remove_tree "$stale"; }
done
WORK=$(mktemp -d "$(dirname "$OUT")/.$(basename "$OUT").build.XXXXXX")
cleanup() {
  local rc=$?
  remove_tree "$WORK"
  ((rc == 0)) || log "failed (exit $rc); temporary files removed"
}
trap cleanup EXIT
chmod 755 "$WORK"   # lets apt inside mmdebstrap download as _apt
ROOTFS=$WORK/rootfs
STAGE=$WORK/out
mkdir -p "$STAGE"
START=$SECONDS

# --- 1. rootfs -------------------------------------------------------------------------------
mirrors=()
if [[ -n ${MINICLOUD_APT_SOURCES:-} ]]; then
  mirrors=("$MINICLOUD_APT_SOURCES")
elif [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
  mirrors=(/etc/apt/sources.list.d/debian.sources)
elif grep -qs '^deb ' /etc/apt/sources.list; then
  mirrors=(/etc/apt/sources.list)
fi
aptopts=()
# Follow the host's apt: a host that reads from a dated snapshot mirror disables Valid-Until.
if apt-config dump Acquire::Check-Valid-Until 2>/dev/null | grep -q '"false"'; then
  aptopts+=(--aptopt='Acquire::Check-Valid-Until "false"')
fi
log "mmdebstrap $SUITE (${#PACKAGES[@]} packages + minbase) into $ROOTFS"
mmdebstrap --mode=root --variant=minbase --format=directory \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" "${aptopts[@]}" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  "$SUITE" "$ROOTFS" "${mirrors[@]}" >&2

KERNEL=$(readlink -f "$ROOTFS/vmlinuz") INITRD=$(readlink -f "$ROOTFS/initrd.img")
[[ -f $KERNEL && -f $INITRD ]] || die "kernel or initrd missing in the rootfs (/vmlinuz, /initrd.img)"
KVER=${KERNEL##*/vmlinuz-}

# --- 2. system configuration (plain files; cloud-init as Debian ships it but for its key types) -
log "configuring the rootfs (kernel $KVER)"
printf 'LABEL=%s / ext4 rw,discard,errors=remount-ro 0 1\n' "$ROOT_LABEL" >"$ROOTFS/etc/fstab"
echo debian >"$ROOTFS/etc/hostname"
cat >"$ROOTFS/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
rm -f "$ROOTFS/etc/resolv.conf"        # dhclient writes it at boot
# C.UTF-8 needs no locale-gen, which would cost a long while under TCG on first boot.
echo 'LANG=C.UTF-8' >"$ROOTFS/etc/default/locale"
cat >"$ROOTFS/etc/network/interfaces" <<'EOF'
# cloud-init writes the instance's interfaces to /etc/network/interfaces.d/50-cloud-init
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback
EOF
# Every instance gets its own SSH host keys: cloud-init (cc_ssh) generates them on first boot.
# Which types: ed25519 and ECDSA, what Amazon Linux 2023 generates by default ("Default SSH server
# configuration", AL2023 User Guide), because an RSA 3072 key is a prime search that took 9-29 s
# of every first boot under TCG (docs/PERFORMANCE.md); user data that needs one adds it the way
# AL2023 documents: `#cloud-config` `ssh_genkeytypes: [ed25519, ecdsa, rsa]`. sshd loads whichever
# of its default key files exist. The ssh.service drop-in covers a boot where cloud-init found no
# datasource and made no key at all; it must not add an RSA key behind cloud-init's back.
rm -f "$ROOTFS"/etc/ssh/ssh_host_*
mkdir -p "$ROOTFS/etc/cloud/cloud.cfg.d"
cat >"$ROOTFS/etc/cloud/cloud.cfg.d/50_minicloud_hostkeys.cfg" <<'EOF'
# minicloud AMI: host key types made at first boot (Amazon Linux 2023's default set).
ssh_genkeytypes: [ed25519, ecdsa]
EOF
mkdir -p "$ROOTFS/etc/systemd/system/ssh.service.d"
cat >"$ROOTFS/etc/systemd/system/ssh.service.d/minicloud-hostkeys.conf" <<'EOF'
[Service]
ExecStartPre=-/bin/sh -c 'ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || /usr/bin/ssh-keygen -A'
EOF
# The guest helpers at aws-cfn-bootstrap's paths. cfn-hup.service stays disabled (a template
# enables it through cfn-init's services once it wrote /etc/cfn/cfn-hup.conf). Only file entries
# are in the tarball, so the rootfs's directories keep their modes.
if [[ -n $CFN_BOOTSTRAP ]]; then
  log "unpacking the cfn helpers ($CFN_BOOTSTRAP, sha256 ${CFN_SHA256:0:12})"
  tar -xzf "$CFN_BOOTSTRAP" -C "$ROOTFS" --no-overwrite-dir
  chroot "$ROOTFS" /opt/aws/bin/cfn-init --help >/dev/null ||
    die "the unpacked cfn-init does not run"
fi
: >"$ROOTFS/etc/machine-id"           # empty: systemd generates one per instance
rm -f "$ROOTFS/var/lib/dbus/machine-id"

mkdir -p "$ROOTFS/boot/grub/i386-pc"
cp "$GRUB_DIR"/*.mod "$GRUB_DIR"/*.lst "$ROOTFS/boot/grub/i386-pc/"
cat >"$ROOTFS/boot/grub/grub.cfg" <<EOF
# Written by minicloud images/build-debian-ami.sh. /vmlinuz and /initrd.img are the kernel
# package's own symlinks, so a kernel upgrade inside the guest needs no bootloader update.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
menuentry 'Debian GNU/Linux 12 (minicloud)' {
  linux /vmlinuz $CMDLINE
  initrd /initrd.img
}
EOF

# --- 3. partitioned disk with GRUB, no loop mounts --------------------------------------------
PART_MIB=$((DISK_MIB - PART_START_MIB))
log "ext4 filesystem (label $ROOT_LABEL, ${PART_MIB} MiB) from the rootfs"
# GRUB 2.06 cannot read ext4 with metadata_csum_seed or orphan_file: keep them off explicitly.
truncate -s "${PART_MIB}M" "$WORK/root.ext4"
mkfs.ext4 -q -F -L "$ROOT_LABEL" -O ^metadata_csum_seed,^orphan_file -d "$ROOTFS" \
  "$WORK/root.ext4" "${PART_MIB}M"

log "MBR disk (${DISK_MIB} MiB, one bootable partition at ${PART_START_MIB} MiB) + GRUB i386-pc"
truncate -s "${DISK_MIB}M" "$WORK/disk.raw"
echo "start=$((PART_START_MIB * 2048)), type=83, bootable" |
  sfdisk -q --label dos "$WORK/disk.raw"
dd if="$WORK/root.ext4" of="$WORK/disk.raw" bs=1M seek="$PART_START_MIB" conv=notrunc,sparse \
  status=none
# core.img at sector 1: boot.img's default kernel sector is 1 and grub-mkimage's diskboot
# blocklist defaults to the sectors right after it, so neither needs patching. "(,msdos1)"
# means "partition 1 of the disk the BIOS booted from".
grub-mkimage -O i386-pc -d "$GRUB_DIR" -p '(,msdos1)/boot/grub' -o "$WORK/core.img" \
  "${GRUB_MODULES[@]}"
core_sectors=$((($(stat -c %s "$WORK/core.img") + 511) / 512))
((core_sectors < PART_START_MIB * 2048 - 1)) || die "core.img ($core_sectors sectors) too big"
dd if="$GRUB_DIR/boot.img" of="$WORK/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$WORK/core.img" of="$WORK/disk.raw" bs=512 seek=1 conv=notrunc status=none

log "compressed qcow2"
qemu-img convert -c -O qcow2 "$WORK/disk.raw" "$STAGE/$NAME.qcow2"
cp "$KERNEL" "$STAGE/vmlinuz-$KVER"
cp "$INITRD" "$STAGE/initrd.img-$KVER"

# --- 4. manifest -----------------------------------------------------------------------------
file_json() {  # file_json FILE -> {"file","sha256","size_bytes"}
  jq -n --arg f "$(basename "$1")" --arg s "$(sha256sum "$1" | cut -d' ' -f1)" \
    --argjson n "$(stat -c %s "$1")" '{file: $f, sha256: $s, size_bytes: $n}'
}
vsize=$(qemu-img info --output=json "$STAGE/$NAME.qcow2" | jq '."virtual-size"')
jq -n \
  --arg name "$NAME" --arg cmdline "$CMDLINE" --arg kver "$KVER" --arg suite "$SUITE" \
  --arg hash "$INPUT_HASH" --arg cfn "$CFN_SHA256" --arg built "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg ci "$(dpkg-query --admindir="$ROOTFS/var/lib/dpkg" -W -f='${Version}' cloud-init)" \
  --argjson vsize "$vsize" --argjson secs "$((SECONDS - START))" \
  --argjson disk "$(file_json "$STAGE/$NAME.qcow2")" \
  --argjson kernel "$(file_json "$STAGE/vmlinuz-$KVER")" \
  --argjson ramdisk "$(file_json "$STAGE/initrd.img-$KVER")" \
  --args '{
    format_version: 1,
    name: $name,
    description: "Debian 12 (bookworm) with stock cloud-init, built from Debian packages",
    architecture: "x86_64",
    virtualization_type: "hvm",
    boot_mode: "legacy-bios",
    root_device_name: "/dev/xvda",
    default_user: "debian",
    disk: ($disk + {format: "qcow2", virtual_size_bytes: $vsize}),
    kernel: ($kernel + {version: $kver}),
    ramdisk: $ramdisk,
    kernel_cmdline: $cmdline,
    firmware_bootable: true,
    build: {input_hash: $hash, suite: $suite, packages: $ARGS.positional,
            cloud_init_version: $ci, built_at: $built, build_seconds: $secs,
            cfn_bootstrap_sha256: $cfn, recipe: "images/build-debian-ami.sh"}
  }' "${PACKAGES[@]}" >"$STAGE/manifest.json"

# --- 5. move into place ----------------------------------------------------------------------
if [[ -e $OUT ]]; then
  mv -T "$OUT" "$WORK/previous"
fi
mv -T "$STAGE" "$OUT" || { [[ -e $WORK/previous ]] && mv -T "$WORK/previous" "$OUT"; die "cannot move into $OUT"; }
log "built $OUT in $((SECONDS - START)) s:"
(cd "$OUT" && ls -l --block-size=K -- *) | sed 's/^/  /' >&2
