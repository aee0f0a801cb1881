#!/usr/bin/env bash
# Builds the guest's initramfs: static busybox, the kernel modules for xHCI, USB storage, SCSI disks,
# the 9p host share, overlayfs (to boot a shared tree) and the dummy USB gadget controller, and the
# init script.
#   build-initramfs.sh KERNEL_DIR OUT.cpio.gz
set -euo pipefail
kdir=${1:?usage: build-initramfs.sh KERNEL_DIR OUT}
out=${2:?usage: build-initramfs.sh KERNEL_DIR OUT}
here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$kdir/version")
busybox=$(command -v busybox)
if ! file -L "$busybox" | grep -q 'statically linked'; then
  echo "build-initramfs: $busybox is not static (install busybox-static)" >&2
  exit 1
fi

modules=(xhci-pci usb-storage uas sd_mod 9p 9pnet_virtio virtio_pci overlay
  dummy_hcd configfs libcomposite usb_f_mass_storage usb_f_hid)

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,host,tmp,config}
cp "$busybox" "$root/bin/busybox"
for applet in sh mount umount mkdir cat echo sleep insmod ls grep sed awk chroot kill poweroff \
  blockdev dd cmp ln rm seq date cut wc head tail tr sort printf test true false usleep sync \
  switch_root; do
  ln -s busybox "$root/bin/$applet"
done

# Modules in dependency order, as modprobe would load them.
: >"$root/modules.order"
for m in "${modules[@]}"; do
  modprobe -d "$kdir" -S "$version" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r path; do
  rel=${path#"$kdir"}
  mkdir -p "$root$(dirname "$rel")"
  cp "$path" "$root$rel"
  echo "$rel" >>"$root/modules.order"
done

cp "$here/init" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
