#!/usr/bin/env bash
# Boots an image directory (one with manifest.json) in a throwaway QEMU/TCG guest and reports how
# long it took until each expected console line appeared, then stops the guest.
#
# Usage: boot-test.sh IMAGE_DIR [--firmware] [--cpu MODEL] [--smp N] [--mem MIB]
#                     [--timeout SECONDS] [--console FILE] [--expect REGEX]...
#   --firmware  boot through SeaBIOS + the disk's bootloader instead of direct kernel boot
#               (the default when the manifest has a kernel)
#   --cpu       QEMU CPU model (default: QEMU's default, qemu64)
#   --expect    extended regex to wait for, in order; default: the image's usual milestones
# The guest gets SMBIOS uuid=serial=ec2..., a virtio disk (a qcow2 overlay of the image) and a
# virtio NIC on QEMU user networking with restrict=on (DHCP works, nothing leaves the host).
# Prints, per line: wall-clock seconds since QEMU started, QEMU's CPU seconds, the line.
# Exit 0 when every line appeared before the timeout, 1 otherwise.
set -euo pipefail

die() { printf 'boot-test: error: %s\n' "$*" >&2; exit 2; }
[[ $# -ge 1 && $1 != -* ]] || { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 2; }
DIR=$(realpath "$1"); shift
M=$DIR/manifest.json
[[ -f $M ]] || die "$M not found"
FIRMWARE=0 CPU="" SMP=2 MEM=1024 TIMEOUT=600 CONSOLE="" EXPECT=()
while (($#)); do
  case "$1" in
    --firmware) FIRMWARE=1; shift ;;
    --cpu) CPU=$2; shift 2 ;;
    --smp) SMP=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --console) CONSOLE=$2; shift 2 ;;
    --expect) EXPECT+=("$2"); shift 2 ;;
    *) die "unknown argument: $1" ;;
  esac
done
[[ $(jq -r '.kernel.file // empty' "$M") ]] || FIRMWARE=1
if ((${#EXPECT[@]} == 0)); then
  if [[ $(jq -r .name "$M") == minicloud-tiny ]]; then
    EXPECT=("minicloud-tiny: booted" "minicloud-tiny: heartbeat 2 ")
  else
    EXPECT=("Linux version" "Welcome to .*Debian" "Cloud-init v\\. .* running 'init-local'")
  fi
fi

WORK=$(mktemp -d /tmp/minicloud-boot-test.XXXXXX)
QEMU_PID=""
cleanup() {
  if [[ -n $QEMU_PID ]]; then kill "$QEMU_PID" 2>/dev/null || true; wait "$QEMU_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
LOG=${CONSOLE:-$WORK/console.log}
: >"$LOG"

qemu-img create -q -f qcow2 -F qcow2 -b "$DIR/$(jq -r .disk.file "$M")" "$WORK/disk.qcow2"
uuid=ec2$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
uuid=${uuid:0:8}-${uuid:8:4}-4${uuid:13:3}-8${uuid:17:3}-${uuid:20:12}
args=(-accel tcg -m "$MEM" -smp "$SMP" -nographic -monitor none -serial "file:$LOG"
  -smbios "type=1,uuid=$uuid,serial=$uuid"
  -drive "file=$WORK/disk.qcow2,if=virtio,format=qcow2"
  -netdev "user,id=n0,restrict=on" -device "virtio-net-pci,netdev=n0")
[[ -n $CPU ]] && args+=(-cpu "$CPU")
if ((FIRMWARE == 0)); then
  args+=(-kernel "$DIR/$(jq -r .kernel.file "$M")" -initrd "$DIR/$(jq -r .ramdisk.file "$M")"
    -append "$(jq -r .kernel_cmdline "$M")")
fi
printf 'boot-test: %s, %s boot, cpu %s, %s vCPU, %s MiB, TCG\n' "$(jq -r .name "$M")" \
  "$( ((FIRMWARE)) && echo firmware || echo direct-kernel)" "${CPU:-default}" "$SMP" "$MEM"
t0=$(date +%s%N)
qemu-system-x86_64 "${args[@]}" </dev/null >"$WORK/qemu.out" 2>&1 &
QEMU_PID=$!
elapsed() { awk -v n="$(date +%s%N)" -v t="$t0" 'BEGIN { printf "%.1f", (n - t) / 1e9 }'; }
# CPU time QEMU has used so far: a load-independent measure when the host is busy.
cputime() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$QEMU_PID/stat"; }
for re in "${EXPECT[@]}"; do
  until grep -aEq -- "$re" "$LOG"; do
    if ! kill -0 "$QEMU_PID" 2>/dev/null; then
      printf 'boot-test: qemu exited: %s\n' "$(tail -n3 "$WORK/qemu.out")" >&2; exit 1
    fi
    if (($(date +%s%N) - t0 > TIMEOUT * 1000000000)); then
      printf 'boot-test: TIMEOUT after %s s waiting for: %s\n' "$TIMEOUT" "$re" >&2; exit 1
    fi
    sleep 0.1
  done
  printf '%7ss %7ss cpu  %s\n' "$(elapsed)" "$(cputime)" \
    "$(grep -aEm1 -- "$re" "$LOG" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | cut -c1-140)"
done
