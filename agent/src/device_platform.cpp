// The live system for the device service, and the observe-only variant for developer mode.
#include "mamori/agent/device_service.h"

namespace mamori::agent {
namespace {

using platform::Status;

class ObservedUsbBus : public platform::UsbBus {
 public:
  explicit ObservedUsbBus(std::unique_ptr<platform::UsbBus> real) : real_(std::move(real)) {}
  Status ListRootHubs(std::vector<std::string>* n) override { return real_->ListRootHubs(n); }
  Status ListDevices(std::vector<std::string>* n) override { return real_->ListDevices(n); }
  Status ReadDevice(const std::string& n, platform::UsbDevice* d) override {
    return real_->ReadDevice(n, d);
  }
  Status ListInterfaces(const std::string& d, std::vector<platform::UsbInterface>* o) override {
    return real_->ListInterfaces(d, o);
  }
  Status SetAuthorizedDefault(const std::string&, int) override { return Status::Ok(); }
  Status SetInterfaceAuthorizedDefault(const std::string&, bool) override { return Status::Ok(); }
  Status SetAuthorized(const std::string&, bool) override { return Status::Ok(); }
  Status SetInterfaceAuthorized(const std::string&, bool) override { return Status::Ok(); }
  Status Remove(const std::string&) override { return Status::Ok(); }
  Status ProbeDrivers(const std::string&) override { return Status::Ok(); }

 private:
  std::unique_ptr<platform::UsbBus> real_;
};

class ObservedBlocks : public platform::BlockDevices {
 public:
  explicit ObservedBlocks(std::unique_ptr<platform::BlockDevices> real) : real_(std::move(real)) {}
  Status List(std::vector<platform::BlockDevice>* out) override { return real_->List(out); }
  Status SetReadOnly(const std::string&) override { return Status::Ok(); }
  Status IsReadOnly(const std::string& name, bool* ro) override {
    return real_->IsReadOnly(name, ro);
  }
  Status DetachDriver(const std::string&) override { return Status::Ok(); }

 private:
  std::unique_ptr<platform::BlockDevices> real_;
};

class ObservedThunderbolt : public platform::ThunderboltBus {
 public:
  explicit ObservedThunderbolt(std::unique_ptr<platform::ThunderboltBus> real)
      : real_(std::move(real)) {}
  Status List(std::vector<platform::ThunderboltDevice>* out) override { return real_->List(out); }
  Status Authorize(const std::string&) override { return Status::Ok(); }

 private:
  std::unique_ptr<platform::ThunderboltBus> real_;
};

}  // namespace

DevicePlatform LinuxDevicePlatform(const std::string& sysfs_root, platform::SystemLog& log) {
  DevicePlatform p;
  p.bus = platform::NewSysfsUsbBus(sysfs_root);
  p.blocks = platform::NewLinuxBlockDevices(sysfs_root);
  p.thunderbolt = platform::NewSysfsThunderboltBus(sysfs_root);
  p.usb_bus = platform::UsbBusPresent(sysfs_root);
  std::unique_ptr<platform::NetlinkUeventSource> events;
  if (Status s = platform::NetlinkUeventSource::Open(&events); s.ok()) {
    p.events_fd = events->fd();
    p.events = std::move(events);
  } else {
    log.Send(platform::SystemLog::Priority::kError,
             "device guard: no kernel uevents (" + s.message() +
                 "): devices are decided at start and on policy changes only",
             {{"MAMORI_EVENT", "usb.problem"}});
  }
  return p;
}

DevicePlatform ObserveOnly(DevicePlatform p) {
  p.bus = std::make_unique<ObservedUsbBus>(std::move(p.bus));
  p.blocks = std::make_unique<ObservedBlocks>(std::move(p.blocks));
  p.thunderbolt = std::make_unique<ObservedThunderbolt>(std::move(p.thunderbolt));
  return p;
}

}  // namespace mamori::agent
