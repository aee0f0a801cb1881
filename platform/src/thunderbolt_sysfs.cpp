#include "mamori/platform/thunderbolt.h"
#include "sysfs_io.h"

namespace mamori::platform {
namespace {

class SysfsThunderboltBus : public ThunderboltBus {
 public:
  explicit SysfsThunderboltBus(std::string root)
      : dir_(std::move(root) + "/bus/thunderbolt/devices/") {}

  Status List(std::vector<ThunderboltDevice>* out) override {
    out->clear();
    std::vector<std::string> names;
    Status s = sysfs::ListDirectory(dir_, &names);
    if (!s.ok()) return s;
    for (const std::string& name : names) {
      ThunderboltDevice device;
      device.name = name;
      std::string authorized;
      s = sysfs::ReadText(dir_ + name + "/authorized", &authorized);
      if (s.err() == ENOENT) continue;  // a domain or a retimer: nothing to authorize
      if (!s.ok()) return s;
      device.authorized = authorized != "0";
      // Descriptive attributes are best effort; authorization never depends on them.
      (void)sysfs::ReadText(dir_ + name + "/vendor_name", &device.vendor_name);
      (void)sysfs::ReadText(dir_ + name + "/device_name", &device.device_name);
      (void)sysfs::ReadText(dir_ + name + "/unique_id", &device.unique_id);
      out->push_back(std::move(device));
    }
    return Status::Ok();
  }

  Status Authorize(const std::string& name) override {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return Status::Error(EINVAL, "invalid Thunderbolt device name \"" + name + "\"");
    }
    return sysfs::WriteAttribute(dir_ + name + "/authorized", "1");
  }

 private:
  const std::string dir_;
};

}  // namespace

std::unique_ptr<ThunderboltBus> NewSysfsThunderboltBus(std::string sysfs_root) {
  return std::make_unique<SysfsThunderboltBus>(std::move(sysfs_root));
}

}  // namespace mamori::platform
