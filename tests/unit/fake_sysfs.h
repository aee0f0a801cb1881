// A sysfs look-alike in a temporary directory: the real layout (devices under /devices, links in
// /bus/usb/devices and /class/block) with plain files for attributes. Tests play the kernel by
// reading what the code under test wrote and changing files themselves.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mamori::testing {

struct FakeInterface {
  std::uint8_t cls = 0x08;
  std::uint8_t subclass = 0x06;
  std::uint8_t protocol = 0x50;
};

// The raw `descriptors` bytes of a one-configuration device with these interfaces.
std::vector<unsigned char> DeviceDescriptors(std::uint16_t vid, std::uint16_t pid,
                                             const std::vector<FakeInterface>& interfaces);

struct FakeUsbDevice {
  std::uint16_t vid = 0x46f4;
  std::uint16_t pid = 0x0001;
  std::string serial;  // empty: no serial attribute
  std::string product = "QEMU USB MSD";
  std::vector<FakeInterface> interfaces{FakeInterface{}};
  std::string connect_type = "hotplug";
  bool authorized = false;
};

class FakeSysfs {
 public:
  FakeSysfs();
  ~FakeSysfs();
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;

  const std::string& root() const { return root_; }
  // The device directory behind /bus/usb/devices/<name>, relative to root ("devices/...").
  std::string DevicePath(const std::string& name) const;

  void AddRootHub(int bus);
  // `name` is a port path such as "2-1" or "2-1.3"; its parent must exist.
  void AddDevice(const std::string& name, const FakeUsbDevice& device);
  // A disk (and partitions "<disk>1"...) below the first interface of a USB device; returns the
  // disk's device path relative to the sysfs root, starting with "/devices/".
  std::string AddUsbDisk(const std::string& device, const std::string& disk, int partitions);
  // A disk on a non-USB parent path such as "/devices/pci0000:00/0000:00:05.0/mmc_host/mmc0/...".
  void AddBlock(const std::string& devpath_of_disk, int partitions);
  void RemoveDevice(const std::string& name);
  // What the kernel does when it configures an authorized device: one directory per interface,
  // bound to `driver` when given.
  void AddInterfaces(const std::string& device, const FakeUsbDevice& spec,
                     const std::string& driver);

  std::string Read(const std::string& relative) const;
  void Write(const std::string& relative, const std::string& content) const;
  void WriteBytes(const std::string& relative, const std::vector<unsigned char>& bytes) const;

 private:
  void Link(const std::string& link, const std::string& target_relative_to_root) const;
  std::string root_;
};

}  // namespace mamori::testing
