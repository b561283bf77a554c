#!/usr/bin/env bash
# Installs the tools Basalt's tests use (as root on Debian/Ubuntu). Says clearly what it could
# not install; tests that need a missing tool fail with a message naming it.
set -uo pipefail

# qemu-block-extra is QEMU's iSCSI driver; linux-image-amd64 is the kernel GuestBootTest boots;
# syslinux, syslinux-common, mtools and dosfstools build its bootable disk without root;
# iptables cuts a writer off the cluster in ClusterZombieProcessTest (as root); iproute2's ip
# makes the bridge and taps of the hosts' tests (as root); e2fsprogs makes and checks the ext4 file
# system of the guest in HostsOnClusterProcessTest (mkfs.ext4, e2fsck, debugfs); chromium and
# chromium-driver are the browser and driver of the web console's Selenium tests (Console*BrowserTest),
# which use these two binaries and never download a browser of their own; libfuse2 and fuse
# (fusermount) serve the fault file system of chaos-tests (FaultMountTest, PowerCutTest, the disk
# nemesis), mounted through jnr-fuse, which loads libfuse.so.2.
PKGS=(qemu-system-x86 qemu-utils qemu-block-extra libiscsi-bin busybox-static cpio linux-image-amd64
      syslinux syslinux-common mtools dosfstools iptables iproute2 e2fsprogs chromium chromium-driver libfuse2 fuse)
export PATH="$PATH:/usr/sbin:/sbin"
missing=()
for tool in qemu-system-x86_64 qemu-img iscsi-test-cu iscsi-ls busybox cpio syslinux mcopy mkfs.fat iptables ip mkfs.ext4 e2fsck debugfs chromium chromedriver fusermount; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# Not commands: a kernel image with its modules, and QEMU's iSCSI block driver.
has_kernel() { compgen -G '/boot/vmlinuz-*' >/dev/null && compgen -G '/lib/modules/*/modules.dep' >/dev/null; }
has_qemu_iscsi() { compgen -G '/usr/lib/*/qemu/block-iscsi.so' >/dev/null; }
has_libfuse2() { compgen -G '/usr/lib/*/libfuse.so.2' >/dev/null || compgen -G '/lib/*/libfuse.so.2' >/dev/null; }
has_kernel || missing+=("kernel-image(/boot/vmlinuz-*)")
has_qemu_iscsi || missing+=("qemu-iscsi-driver(block-iscsi.so)")
has_libfuse2 || missing+=("libfuse2(libfuse.so.2)")
if (( ${#missing[@]} == 0 )); then
  echo "test tools: all present"
  exit 0
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test tools: could not install ${missing[*]} (needs root and apt-get: apt-get install ${PKGS[*]}); tests that need them will fail" >&2
  exit 1
fi
echo "test tools: installing ${PKGS[*]} (missing: ${missing[*]})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
still=()
for tool in "${missing[@]}"; do
  case "$tool" in
    kernel-image*) has_kernel || still+=("$tool") ;;
    qemu-iscsi-driver*) has_qemu_iscsi || still+=("$tool") ;;
    libfuse2*) has_libfuse2 || still+=("$tool") ;;
    *) command -v "$tool" >/dev/null 2>&1 || still+=("$tool") ;;
  esac
done
if (( ${#still[@]} > 0 )); then
  echo "test tools: still missing after apt-get: ${still[*]}" >&2
  exit 1
fi
echo "test tools: installed"
