// Thunderbolt/USB4 devices, which reach PCIe (and so NVMe storage) without USB authorization. The
// kernel keeps a device's tunnels closed until `authorized` is written with 1; there is no way back
// to 0 short of unplugging, so a device is authorized only when policy allows it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mamori/platform/env.h"

namespace mamori::platform {

struct ThunderboltDevice {
  std::string name;  // "0-1"
  std::string vendor_name;
  std::string device_name;
  std::string unique_id;
  bool authorized = false;
};

class ThunderboltBus {
 public:
  virtual ~ThunderboltBus() = default;
  // Devices that carry an `authorized` attribute (routers; not the host's own domain).
  virtual Status List(std::vector<ThunderboltDevice>* out) = 0;
  virtual Status Authorize(const std::string& name) = 0;
};

std::unique_ptr<ThunderboltBus> NewSysfsThunderboltBus(std::string sysfs_root = "/sys");

}  // namespace mamori::platform
