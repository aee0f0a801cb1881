#include <sys/stat.h>

#include <charconv>
#include <cstring>
#include <string_view>

#include "mamori/platform/usb_bus.h"
#include "sysfs_io.h"

namespace mamori::platform {
namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::uint16_t ParseHex16(std::string_view text, bool* ok) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  *ok = ec == std::errc() && end == text.data() + text.size() && text.size() == 4;
  return static_cast<std::uint16_t>(value);
}

class SysfsUsbBus : public UsbBus {
 public:
  explicit SysfsUsbBus(std::string root) : devices_dir_(std::move(root) + "/bus/usb/devices/") {}

  Status ListRootHubs(std::vector<std::string>* names) override {
    return ListMatching(names, IsRootHubName);
  }
  Status ListDevices(std::vector<std::string>* names) override {
    return ListMatching(names, IsUsbDeviceName);
  }

  Status ReadDevice(const std::string& name, UsbDevice* out) override {
    if (!IsUsbDeviceName(name)) {
      return Status::Error(EINVAL, "not a USB device name: \"" + name + "\"");
    }
    *out = UsbDevice{};
    out->name = name;
    const std::string path = devices_dir_ + name;
    sysfs::Directory dir;
    Status s = sysfs::Directory::Open(path, &dir);
    if (!s.ok()) return s;
    std::string raw;
    s = dir.Read("descriptors", kMaxDescriptorBytes, &raw);
    if (!s.ok()) {
      if (!sysfs::Exists(path)) return s;
      out->problems.push_back(s.message());
    }
    out->descriptors.assign(raw.begin(), raw.end());
    out->descriptor_hash = DescriptorHash(out->descriptors);
    out->parsed = ParseUsbDescriptors(out->descriptors);
    if (!out->parsed.ok()) out->problems.push_back("descriptors: " + out->parsed.error);

    out->vid = ReadHex(dir, "idVendor", out);
    out->pid = ReadHex(dir, "idProduct", out);
    out->bcd_device = ReadHex(dir, "bcdDevice", out);
    if (out->parsed.ok() &&
        (out->parsed.device.idVendor != out->vid || out->parsed.device.idProduct != out->pid)) {
      out->problems.push_back("idVendor/idProduct differ from the device descriptor");
    }
    // A device without a string descriptor has no such attribute at all.
    ReadOptional(dir, "serial", &out->serial, out);
    ReadOptional(dir, "manufacturer", &out->manufacturer, out);
    ReadOptional(dir, "product", &out->product, out);
    ReadOptional(dir, "port/connect_type", &out->connect_type, out);
    std::string authorized;
    s = dir.ReadText("authorized", &authorized);
    if (!s.ok()) {
      out->problems.push_back(s.message());
    } else if (authorized != "0" && authorized != "1") {
      out->problems.push_back(path + "/authorized: unexpected value \"" + authorized + "\"");
    }
    out->authorized = authorized == "1";
    return Status::Ok();
  }

  Status ListInterfaces(const std::string& device, std::vector<UsbInterface>* out) override {
    out->clear();
    if (!IsUsbDeviceName(device)) return NotA("USB device", device);
    std::vector<std::string> names;
    Status s = sysfs::ListDirectory(devices_dir_, &names);
    if (!s.ok()) return s;
    for (const std::string& name : names) {
      if (!IsInterfaceName(name) || name.substr(0, name.find(':')) != device) continue;
      const std::string dir = devices_dir_ + name + "/";
      UsbInterface i;
      i.name = name;
      std::uint8_t* fields[] = {&i.cls, &i.subclass, &i.protocol};
      const char* files[] = {"bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol"};
      for (int k = 0; k < 3; ++k) {
        std::string text;
        s = sysfs::ReadText(dir + files[k], &text);
        if (!s.ok()) return s;
        unsigned value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
        if (ec != std::errc() || end != text.data() + text.size() || text.size() != 2) {
          return Status::Error(EINVAL, dir + files[k] + ": not 2 hex digits: \"" + text + "\"");
        }
        *fields[k] = static_cast<std::uint8_t>(value);
      }
      std::string authorized;
      s = sysfs::ReadText(dir + "authorized", &authorized);
      if (!s.ok()) return s;
      i.authorized = authorized == "1";
      std::string driver;
      if (sysfs::ReadLink(dir + "driver", &driver).ok()) {
        i.driver = driver.substr(driver.rfind('/') + 1);
      }
      out->push_back(std::move(i));
    }
    return Status::Ok();
  }

  Status SetAuthorizedDefault(const std::string& root_hub, int value) override {
    if (!IsRootHubName(root_hub)) return NotA("root hub", root_hub);
    if (value < 0 || value > 2) {
      return Status::Error(EINVAL,
                           "authorized_default must be 0, 1 or 2, not " + std::to_string(value));
    }
    return sysfs::WriteAttribute(devices_dir_ + root_hub + "/authorized_default",
                                 std::to_string(value));
  }

  Status SetInterfaceAuthorizedDefault(const std::string& root_hub, bool value) override {
    if (!IsRootHubName(root_hub)) return NotA("root hub", root_hub);
    return sysfs::WriteAttribute(devices_dir_ + root_hub + "/interface_authorized_default",
                                 value ? "1" : "0");
  }

  Status SetAuthorized(const std::string& device, bool value) override {
    if (!IsUsbDeviceName(device)) return NotA("USB device", device);
    return sysfs::WriteAttribute(devices_dir_ + device + "/authorized", value ? "1" : "0");
  }

  Status SetInterfaceAuthorized(const std::string& interface, bool value) override {
    if (!IsInterfaceName(interface)) return NotA("USB interface", interface);
    return sysfs::WriteAttribute(devices_dir_ + interface + "/authorized", value ? "1" : "0");
  }

  Status Remove(const std::string& device) override {
    if (!IsUsbDeviceName(device)) return NotA("USB device", device);
    return sysfs::WriteAttribute(devices_dir_ + device + "/remove", "1");
  }

  Status ProbeDrivers(const std::string& interface) override {
    if (!IsInterfaceName(interface)) return NotA("USB interface", interface);
    // devices_dir_ is <root>/bus/usb/devices/; drivers_probe sits in <root>/bus/usb/.
    const std::string bus_dir = devices_dir_.substr(0, devices_dir_.size() - 8);
    return sysfs::WriteAttribute(bus_dir + "drivers_probe", interface);
  }

 private:
  static Status NotA(std::string_view what, const std::string& name) {
    return Status::Error(EINVAL, "not a " + std::string(what) + " name: \"" + name + "\"");
  }

  static bool IsInterfaceName(std::string_view name) {
    const auto colon = name.find(':');
    if (colon == std::string_view::npos || !IsUsbDeviceName(name.substr(0, colon))) return false;
    const std::string_view rest = name.substr(colon + 1);
    const auto dot = rest.find('.');
    return dot != std::string_view::npos && AllDigits(rest.substr(0, dot)) &&
           AllDigits(rest.substr(dot + 1));
  }

  Status ListMatching(std::vector<std::string>* names, bool (*matches)(std::string_view)) {
    std::vector<std::string> all;
    Status s = sysfs::ListDirectory(devices_dir_, &all);
    if (!s.ok()) return s;
    names->clear();
    for (auto& n : all) {
      if (matches(n)) names->push_back(std::move(n));
    }
    return Status::Ok();
  }

  static std::uint16_t ReadHex(const sysfs::Directory& dir, std::string_view name, UsbDevice* out) {
    std::string text;
    Status s = dir.ReadText(name, &text);
    if (!s.ok()) {
      out->problems.push_back(s.message());
      return 0;
    }
    bool ok = false;
    std::uint16_t value = ParseHex16(text, &ok);
    if (!ok) {
      out->problems.push_back(dir.path() + std::string(name) + ": not 4 hex digits: \"" + text +
                              "\"");
    }
    return value;
  }

  static void ReadOptional(const sysfs::Directory& dir, std::string_view name, std::string* value,
                           UsbDevice* out) {
    Status s = dir.ReadText(name, value);
    if (!s.ok() && s.err() != ENOENT) out->problems.push_back(s.message());
  }

  const std::string devices_dir_;
};

}  // namespace

bool IsRootHubName(std::string_view name) {
  return name.starts_with("usb") && AllDigits(name.substr(3));
}

bool IsUsbDeviceName(std::string_view name) {
  const auto dash = name.find('-');
  if (dash == std::string_view::npos || !AllDigits(name.substr(0, dash))) return false;
  std::string_view ports = name.substr(dash + 1);
  for (;;) {
    const auto dot = ports.find('.');
    if (!AllDigits(ports.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    ports = ports.substr(dot + 1);
  }
}

std::unique_ptr<UsbBus> NewSysfsUsbBus(std::string sysfs_root) {
  return std::make_unique<SysfsUsbBus>(std::move(sysfs_root));
}

bool UsbBusPresent(const std::string& sysfs_root) {
  struct stat st;
  return ::stat((sysfs_root + "/bus/usb").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace mamori::platform
