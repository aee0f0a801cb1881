#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "mamori/platform/block_devices.h"
#include "mamori/platform/usb_bus.h"
#include "sysfs_io.h"

namespace mamori::platform {
namespace {

bool ValidBlockName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

Status SystemError(std::string_view what, const std::string& path, int err) {
  return Status::Error(err, std::string(what) + " " + path + ": " + std::strerror(err) +
                                " (errno " + std::to_string(err) + ")");
}

class LinuxBlockDevices : public BlockDevices {
 public:
  LinuxBlockDevices(std::string sysfs_root, std::string dev_root)
      : class_dir_(std::move(sysfs_root) + "/class/block/"), dev_root_(std::move(dev_root)) {}

  Status List(std::vector<BlockDevice>* out) override {
    out->clear();
    std::vector<std::string> names;
    Status s = sysfs::ListDirectory(class_dir_, &names);
    if (!s.ok()) return s;
    std::vector<BlockDevice> partitions;
    for (const std::string& name : names) {
      std::string target;
      s = sysfs::ReadLink(class_dir_ + name, &target);
      if (!s.ok()) {
        if (s.err() == ENOENT) continue;  // gone meanwhile
        return s;
      }
      // Links are relative ("../../devices/..."): keep the part from "/devices/" on.
      const auto at = target.find("/devices/");
      if (at == std::string::npos) continue;
      BlockDevice device = DescribeBlockDevice(std::string_view(target).substr(at));
      (device.disk.empty() ? out : &partitions)->push_back(std::move(device));
    }
    for (auto& p : partitions) out->push_back(std::move(p));
    return Status::Ok();
  }

  Status SetReadOnly(const std::string& name) override {
    if (!ValidBlockName(name)) return Status::Error(EINVAL, "invalid block device name");
    const std::string path = dev_root_ + "/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return SystemError("open", path, errno);
    const int one = 1;
    int read_only = 0;
    Status result = Status::Ok();
    if (::ioctl(fd, BLKROSET, &one) != 0) {
      result = SystemError("BLKROSET", path, errno);
    } else if (::ioctl(fd, BLKROGET, &read_only) != 0) {
      result = SystemError("BLKROGET", path, errno);
    } else if (read_only != 1) {
      result = Status::Error(EIO, "BLKROGET " + path + ": still writable after BLKROSET");
    }
    ::close(fd);
    return result;
  }

  Status IsReadOnly(const std::string& name, bool* read_only) override {
    if (!ValidBlockName(name)) return Status::Error(EINVAL, "invalid block device name");
    const std::string path = dev_root_ + "/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return SystemError("open", path, errno);
    int value = 0;
    Status result = Status::Ok();
    if (::ioctl(fd, BLKROGET, &value) != 0) result = SystemError("BLKROGET", path, errno);
    ::close(fd);
    *read_only = value != 0;
    return result;
  }

  Status DetachDriver(const std::string& disk) override {
    if (!ValidBlockName(disk)) return Status::Error(EINVAL, "invalid block device name");
    const std::string link = class_dir_ + disk + "/device";
    char resolved[PATH_MAX];
    if (::realpath(link.c_str(), resolved) == nullptr) return SystemError("realpath", link, errno);
    const std::string_view target = resolved;
    const std::string device(target.substr(target.rfind('/') + 1));
    return sysfs::WriteAttribute(class_dir_ + disk + "/device/driver/unbind", device);
  }

 private:
  const std::string class_dir_;
  const std::string dev_root_;
};

}  // namespace

std::string_view ToString(BlockChannel channel) {
  switch (channel) {
    case BlockChannel::kUsb:
      return "usb";
    case BlockChannel::kMmc:
      return "mmc";
    case BlockChannel::kOptical:
      return "optical";
    case BlockChannel::kOther:
      break;
  }
  return "other";
}

std::string UsbDeviceOfDevpath(std::string_view devpath) {
  std::string found;
  std::size_t start = 0;
  while (start < devpath.size()) {
    std::size_t end = devpath.find('/', start);
    if (end == std::string_view::npos) end = devpath.size();
    const std::string_view part = devpath.substr(start, end - start);
    if (IsUsbDeviceName(part)) found = part;
    start = end + 1;
  }
  return found;
}

BlockDevice DescribeBlockDevice(std::string_view devpath) {
  BlockDevice device;
  // ".../block/<disk>" or ".../block/<disk>/<partition>".
  const auto block = devpath.rfind("/block/");
  std::string_view tail = block == std::string_view::npos ? devpath : devpath.substr(block + 7);
  if (block == std::string_view::npos) {
    const auto slash = tail.rfind('/');
    tail = slash == std::string_view::npos ? tail : tail.substr(slash + 1);
  }
  if (const auto slash = tail.find('/'); slash != std::string_view::npos) {
    device.disk = tail.substr(0, slash);
    device.name = tail.substr(slash + 1);
  } else {
    device.name = tail;
  }
  const std::string_view disk = device.disk.empty() ? device.name : device.disk;
  device.usb_device = UsbDeviceOfDevpath(devpath);
  if (!device.usb_device.empty()) {
    device.channel = BlockChannel::kUsb;
  } else if (disk.starts_with("mmcblk")) {
    device.channel = BlockChannel::kMmc;
  } else if (disk.starts_with("sr")) {
    device.channel = BlockChannel::kOptical;
  }
  return device;
}

std::unique_ptr<BlockDevices> NewLinuxBlockDevices(std::string sysfs_root, std::string dev_root) {
  return std::make_unique<LinuxBlockDevices>(std::move(sysfs_root), std::move(dev_root));
}

}  // namespace mamori::platform
