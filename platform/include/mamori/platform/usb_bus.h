// The USB bus as the kernel shows it in sysfs: enumeration of devices (authorized or not) and the
// authorization controls. Names are sysfs names: "usb2" for a root hub, "2-1.4" for a device (its
// port path), "2-1.4:1.0" for an interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mamori/platform/env.h"
#include "mamori/platform/usb_descriptors.h"

namespace mamori::platform {

struct UsbDevice {
  std::string name;  // the port path, e.g. "2-1.4"
  std::uint16_t vid = 0;
  std::uint16_t pid = 0;
  std::uint16_t bcd_device = 0;
  std::string serial;  // empty when the device reports none
  std::string manufacturer;
  std::string product;
  std::string connect_type;  // of the port: "hotplug", "hardwired", "fixed", "unknown" or empty
  bool authorized = false;
  std::vector<unsigned char> descriptors;  // the raw sysfs `descriptors` bytes
  std::string descriptor_hash;             // DescriptorHash(descriptors)
  UsbDescriptors parsed;
  // Attributes that were unreadable or inconsistent with the descriptors. A device with problems is
  // described as far as possible but must not be trusted.
  std::vector<std::string> problems;
};

// An interface as sysfs shows it: only while its device is authorized (the kernel creates
// interfaces when it configures the device).
struct UsbInterface {
  std::string name;  // "2-1.4:1.0"
  std::uint8_t cls = 0;
  std::uint8_t subclass = 0;
  std::uint8_t protocol = 0;
  bool authorized = false;
  std::string driver;  // the bound driver ("usb-storage"), empty when none
};

class UsbBus {
 public:
  virtual ~UsbBus() = default;

  // Root hubs ("usb1", ...) and devices below them, sorted by name.
  virtual Status ListRootHubs(std::vector<std::string>* names) = 0;
  virtual Status ListDevices(std::vector<std::string>* names) = 0;
  // Fails only when the device is gone (or its directory unreadable); unreadable attributes are
  // recorded in UsbDevice::problems.
  virtual Status ReadDevice(const std::string& name, UsbDevice* out) = 0;
  // The configured interfaces of a device, sorted by name.
  virtual Status ListInterfaces(const std::string& device, std::vector<UsbInterface>* out) = 0;

  // authorized_default of a root hub: 0 none, 1 all, 2 internal only.
  virtual Status SetAuthorizedDefault(const std::string& root_hub, int value) = 0;
  virtual Status SetInterfaceAuthorizedDefault(const std::string& root_hub, bool value) = 0;
  virtual Status SetAuthorized(const std::string& device, bool value) = 0;
  virtual Status SetInterfaceAuthorized(const std::string& interface, bool value) = 0;
  // Logically disconnects the device: it disappears until it is re-plugged.
  virtual Status Remove(const std::string& device) = 0;
  // Asks the bus to bind a driver to an interface again, after it was re-authorized.
  virtual Status ProbeDrivers(const std::string& interface) = 0;
};

// The Linux implementation over the sysfs mounted at `sysfs_root` (a temporary tree in tests).
std::unique_ptr<UsbBus> NewSysfsUsbBus(std::string sysfs_root = "/sys");
// Whether the kernel has a USB bus at all (usbcore loaded): `<sysfs_root>/bus/usb` exists.
bool UsbBusPresent(const std::string& sysfs_root = "/sys");

// Whether a sysfs name denotes a USB device below a root hub ("2-1.4"), a root hub ("usb2").
bool IsUsbDeviceName(std::string_view name);
bool IsRootHubName(std::string_view name);

}  // namespace mamori::platform
