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
  # the controller's allocator: tcmalloc_minimal (build: libgoogle-perftools-dev; run:
  # libtcmalloc-minimal4; cmake/Dependencies.cmake, MINICLOUD_TCMALLOC)
  libgoogle-perftools-dev libtcmalloc-minimal4
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
  # the aws CLI v2 (/usr/bin/aws), one of the Query API's conformance clients (tests/conformance;
  # the aws CLI v1, boto3 and moto come from pip, Terraform and its AWS provider from /opt)
  awscli
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

# The JMESPath compliance suite (test data for the CLI's --query; tests/unit/cli/output_test.cc):
# the compliance/*.json of go-jmespath, the library Debian's jp is built from, taken from that
# Debian source package (same mirror as the .deb; the tarball's SHA-256 checked against the .dsc).
JMESPATH_SUITE=/var/cache/minicloud/jmespath-compliance
if [[ ! -s $JMESPATH_SUITE/basic.json ]]; then
  deb_uri=$(apt-get --print-uris download golang-github-jmespath-go-jmespath-dev 2>/dev/null |
    awk -F"'" 'NR == 1 {print $2}')
  version=$(dpkg-query -W -f='${Version}' jp 2>/dev/null || true)
  src_version=$(apt-cache show golang-github-jmespath-go-jmespath-dev | awk '/^Version:/ {print $2; exit}')
  pool=${deb_uri%/*}
  name=golang-github-jmespath-go-jmespath
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if [[ -n $deb_uri && -n $src_version ]] &&
    curl -fsS -o "$tmp/src.dsc" "$pool/${name}_${src_version}.dsc" &&
    orig=$(awk '/^Checksums-Sha256:/ {f = 1; next} f && /orig\.tar/ {print $1, $3; exit}' "$tmp/src.dsc") &&
    [[ -n $orig ]] &&
    curl -fsS -o "$tmp/orig.tar.gz" "$pool/${orig#* }" &&
    [[ $(sha256sum "$tmp/orig.tar.gz" | cut -d' ' -f1) == "${orig%% *}" ]]; then
    mkdir -p "$tmp/x" "$JMESPATH_SUITE"
    tar -xzf "$tmp/orig.tar.gz" -C "$tmp/x" --wildcards '*/compliance/*.json'
    cp "$tmp"/x/*/compliance/*.json "$JMESPATH_SUITE/"
    echo "install-deps: JMESPath compliance suite in $JMESPATH_SUITE (jp ${version:-?})"
  else
    echo "install-deps: could not fetch the JMESPath compliance suite from Debian's sources" >&2
    exit 1
  fi
  rm -rf "$tmp"
  trap - EXIT
fi
