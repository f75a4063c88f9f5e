#!/usr/bin/env bash
# Installs every Debian 12 package minicloud needs to build, test and run.
# Idempotent: packages already present are skipped by apt; safe to run again.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 1
fi

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang-format
  # libFuzzer (the fuzz tests under tests/fuzz)
  clang libclang-rt-14-dev
  # libraries
  libvirt-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librocksdb-dev catch2 libboost-dev nlohmann-json3-dev libcli11-dev
  libspdlog-dev libssl-dev libyaml-cpp-dev
  # initramfs checks of uploaded ramdisks (gzip, zstd, xz)
  zlib1g-dev libzstd-dev liblzma-dev
  # hypervisor: QEMU driver of libvirt (used embedded, no libvirtd needed), virtlogd, QEMU
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils
  # host networking
  iproute2 nftables dnsmasq-base
  # image building (mmdebstrap -> ext4 -> partitioned qcow2 with GRUB, no loop mounts)
  mmdebstrap e2fsprogs fdisk grub-pc-bin grub2-common cpio busybox-static xz-utils
  # tools the scripts, tests and benchmarks use (dpkg-dev: dpkg-scanpackages for the e2e tests' apt
  # repository; openssl: identity signatures checked with its
  # CLI; openssh-client: ssh-keygen for key pairs, ssh into e2e guests; util-linux: flock)
  # jp: JMESPath for the CLI's --query (cli/jmespath.h)
  jp
  curl jq procps psmisc openssl openssh-client util-linux rocksdb-tools wrk nginx-light dpkg-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi

# The embedded QEMU driver of libvirt resolves its default account even when qemu.conf runs
# guests as root; libvirt-daemon-system would create it, but we do not need its system daemons.
if ! getent passwd libvirt-qemu >/dev/null; then
  getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
  useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt \
    --shell /usr/sbin/nologin libvirt-qemu
  echo "install-deps: created the libvirt-qemu system account"
fi

# dnsmasq (DHCP and DNS for guests) drops privileges to this account; dnsmasq-base's postinst
# creates it, but an image built without maintainer scripts may lack it.
if ! getent passwd dnsmasq >/dev/null; then
  useradd --system --gid nogroup --no-create-home --home-dir /var/lib/misc \
    --shell /usr/sbin/nologin dnsmasq
  echo "install-deps: created the dnsmasq system account"
fi

# The account QEMU runs under (the agent's qemu_user; agent/hypervisor/qemu_account.h): no
# login, no home, owns nothing of the agent's. With KVM it needs the group of /dev/kvm.
if ! getent passwd minicloud-qemu >/dev/null; then
  getent group minicloud-qemu >/dev/null || groupadd --system minicloud-qemu
  useradd --system --gid minicloud-qemu --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin minicloud-qemu
  echo "install-deps: created the minicloud-qemu system account"
fi
# /dev/kvm as Debian's udev rules leave it (root:kvm 0660), also where no udev ran. libvirt's
# QEMU capability cache records whether QEMU's account can use KVM; when the device exists but
# the account cannot open it, libvirt probes QEMU again (about a minute) before every launch.
if [[ -c /dev/kvm ]]; then
  getent group kvm >/dev/null || groupadd --system kvm
  if [[ $(stat -c %G /dev/kvm) == root ]]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
    echo "install-deps: /dev/kvm is now root:kvm 0660"
  fi
fi
if getent group kvm >/dev/null && ! id -nG minicloud-qemu | grep -qw kvm; then
  usermod -a -G kvm minicloud-qemu
  echo "install-deps: added minicloud-qemu to the kvm group"
fi
