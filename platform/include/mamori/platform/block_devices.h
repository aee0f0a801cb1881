// Block devices (disks and partitions) and the removable channels they come through: USB mass
// storage, SD/MMC cards on an MMC host (`mmcblk*`) and optical drives (`sr*`). Read-only is forced
// with the BLKROSET ioctl, which the kernel enforces for every later writer, mounts included.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/platform/env.h"

namespace mamori::platform {

enum class BlockChannel {
  kUsb,      // below a USB device: USB authorization decides
  kMmc,      // an MMC/SD card not behind USB (a PCIe or SDHCI reader)
  kOptical,  // an optical drive not behind USB
  kOther,    // internal disks and everything else, never touched
};

std::string_view ToString(BlockChannel channel);

struct BlockDevice {
  std::string name;  // "sda", "sda1", "mmcblk0p1"
  std::string disk;  // the whole disk a partition belongs to; empty for a disk
  BlockChannel channel = BlockChannel::kOther;
  std::string usb_device;  // the USB device it is on ("2-1"), for kUsb
};

// Classifies a block device from its sysfs device path ("/devices/.../2-1/.../block/sda/sda1").
BlockDevice DescribeBlockDevice(std::string_view devpath);
// The USB device ("2-1.4") a sysfs device path lies under: the deepest such component, or empty.
std::string UsbDeviceOfDevpath(std::string_view devpath);

class BlockDevices {
 public:
  virtual ~BlockDevices() = default;
  // Every block device, disks before their partitions.
  virtual Status List(std::vector<BlockDevice>* out) = 0;
  // BLKROSET to 1, then BLKROGET to confirm it holds.
  virtual Status SetReadOnly(const std::string& name) = 0;
  virtual Status IsReadOnly(const std::string& name, bool* read_only) = 0;
  // Unbinds the driver of the device under a disk (an SD card from mmcblk, a drive from sr), so
  // the disk disappears until a driver is bound again.
  virtual Status DetachDriver(const std::string& disk) = 0;
};

// sysfs under `sysfs_root` for the topology, device nodes under `dev_root` for the ioctls.
std::unique_ptr<BlockDevices> NewLinuxBlockDevices(std::string sysfs_root = "/sys",
                                                   std::string dev_root = "/dev");

}  // namespace mamori::platform
