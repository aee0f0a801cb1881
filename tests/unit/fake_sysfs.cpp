#include "fake_sysfs.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mamori::testing {
namespace {

constexpr char kController[] = "devices/pci0000:00/0000:00:04.0";

void Append16(std::vector<unsigned char>* b, std::uint16_t v) {
  b->push_back(static_cast<unsigned char>(v & 0xff));
  b->push_back(static_cast<unsigned char>(v >> 8));
}

std::string Hex4(std::uint16_t v) {
  char buffer[8];
  snprintf(buffer, sizeof buffer, "%04x", v);
  return buffer;
}

std::string Hex2(std::uint8_t v) {
  char buffer[4];
  snprintf(buffer, sizeof buffer, "%02x", v);
  return buffer;
}

}  // namespace

std::vector<unsigned char> DeviceDescriptors(std::uint16_t vid, std::uint16_t pid,
                                             const std::vector<FakeInterface>& interfaces) {
  std::vector<unsigned char> b = {18, 1, 0x00, 0x02, 0, 0, 0, 64};
  Append16(&b, vid);
  Append16(&b, pid);
  Append16(&b, 0x0100);
  b.insert(b.end(), {1, 2, 3, 1});
  const std::size_t config = b.size();
  b.insert(b.end(), {9, 2, 0, 0, static_cast<unsigned char>(interfaces.size()), 1, 0, 0x80, 50});
  for (std::size_t i = 0; i < interfaces.size(); ++i) {
    const FakeInterface& f = interfaces[i];
    b.insert(b.end(),
             {9, 4, static_cast<unsigned char>(i), 0, 2, f.cls, f.subclass, f.protocol, 0});
    b.insert(b.end(), {7, 5, static_cast<unsigned char>(0x81 + i), 2, 0, 2, 0});  // an endpoint
  }
  const std::size_t total = b.size() - config;
  b[config + 2] = static_cast<unsigned char>(total & 0xff);
  b[config + 3] = static_cast<unsigned char>(total >> 8);
  return b;
}

FakeSysfs::FakeSysfs() {
  std::string pattern = (fs::temp_directory_path() / "mamori-sysfs.XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = pattern;
  fs::create_directories(root_ + "/bus/usb/devices");
  fs::create_directories(root_ + "/class/block");
  fs::create_directories(root_ + "/" + kController);
  Write("bus/usb/drivers_probe", "");
}

FakeSysfs::~FakeSysfs() {
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

std::string FakeSysfs::DevicePath(const std::string& name) const {
  const fs::path link = root_ + "/bus/usb/devices/" + name;
  return fs::relative(fs::canonical(link), root_).string();
}

void FakeSysfs::Link(const std::string& link, const std::string& target) const {
  const fs::path at = root_ + "/" + link;
  fs::create_directory_symlink(fs::relative(root_ + "/" + target, at.parent_path()), at);
}

void FakeSysfs::AddRootHub(int bus) {
  const std::string name = "usb" + std::to_string(bus);
  const std::string dir = std::string(kController) + "/" + name;
  fs::create_directories(root_ + "/" + dir);
  Write(dir + "/authorized_default", "1\n");
  Write(dir + "/interface_authorized_default", "1\n");
  Write(dir + "/authorized", "1\n");
  Link("bus/usb/devices/" + name, dir);
}

void FakeSysfs::AddDevice(const std::string& name, const FakeUsbDevice& d) {
  const auto dash = name.find('-');
  const auto dot = name.rfind('.');
  const std::string parent =
      dot == std::string::npos ? "usb" + name.substr(0, dash) : name.substr(0, dot);
  const std::string dir = DevicePath(parent) + "/" + name;
  fs::create_directories(root_ + "/" + dir + "/port");
  WriteBytes(dir + "/descriptors", DeviceDescriptors(d.vid, d.pid, d.interfaces));
  Write(dir + "/idVendor", Hex4(d.vid) + "\n");
  Write(dir + "/idProduct", Hex4(d.pid) + "\n");
  Write(dir + "/bcdDevice", "0100\n");
  if (!d.serial.empty()) Write(dir + "/serial", d.serial + "\n");
  Write(dir + "/manufacturer", "QEMU\n");
  Write(dir + "/product", d.product + "\n");
  Write(dir + "/port/connect_type", d.connect_type + "\n");
  Write(dir + "/authorized", d.authorized ? "1\n" : "0\n");
  Write(dir + "/remove", "");
  Link("bus/usb/devices/" + name, dir);
}

void FakeSysfs::AddInterfaces(const std::string& device, const FakeUsbDevice& spec,
                              const std::string& driver) {
  for (std::size_t n = 0; n < spec.interfaces.size(); ++n) {
    const std::string name = device + ":1." + std::to_string(n);
    const std::string dir = DevicePath(device) + "/" + name;
    fs::create_directories(root_ + "/" + dir);
    Write(dir + "/bInterfaceClass", Hex2(spec.interfaces[n].cls) + "\n");
    Write(dir + "/bInterfaceSubClass", Hex2(spec.interfaces[n].subclass) + "\n");
    Write(dir + "/bInterfaceProtocol", Hex2(spec.interfaces[n].protocol) + "\n");
    Write(dir + "/authorized", "1\n");
    Link("bus/usb/devices/" + name, dir);
    if (!driver.empty()) {
      fs::create_directories(root_ + "/bus/usb/drivers/" + driver);
      Link(dir + "/driver", "bus/usb/drivers/" + driver);
    }
  }
}

std::string FakeSysfs::AddUsbDisk(const std::string& device, const std::string& disk,
                                  int partitions) {
  const std::string devpath =
      "/" + DevicePath(device) + "/" + device + ":1.0/host0/target0:0:0/0:0:0:0/block/" + disk;
  AddBlock(devpath, partitions);
  return devpath;
}

void FakeSysfs::AddBlock(const std::string& devpath, int partitions) {
  const std::string dir = devpath.substr(1);
  const std::string disk = fs::path(dir).filename().string();
  fs::create_directories(root_ + "/" + dir);
  Write(dir + "/ro", "0\n");
  Link("class/block/" + disk, dir);
  // The device the disk belongs to (a SCSI device, an MMC card) and its driver.
  const std::string parent = fs::path(dir).parent_path().parent_path().string();
  fs::create_directories(root_ + "/" + parent + "/driver");
  Write(parent + "/driver/unbind", "");
  Link(dir + "/device", parent);
  for (int i = 1; i <= partitions; ++i) {
    const std::string part = disk + std::to_string(i);
    fs::create_directories(root_ + "/" + dir + "/" + part);
    Link("class/block/" + part, dir + "/" + part);
  }
}

void FakeSysfs::RemoveDevice(const std::string& name) {
  const std::string dir = DevicePath(name);
  fs::remove_all(root_ + "/" + dir);
  fs::remove(root_ + "/bus/usb/devices/" + name);
  for (const auto& entry : fs::directory_iterator(root_ + "/class/block")) {
    if (!fs::exists(entry.path())) fs::remove(entry.path());
  }
}

std::string FakeSysfs::Read(const std::string& relative) const {
  std::ifstream in(root_ + "/" + relative, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + relative);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void FakeSysfs::Write(const std::string& relative, const std::string& content) const {
  std::ofstream out(root_ + "/" + relative, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + relative);
  out << content;
}

void FakeSysfs::WriteBytes(const std::string& relative,
                           const std::vector<unsigned char>& bytes) const {
  Write(relative, std::string(bytes.begin(), bytes.end()));
}

}  // namespace mamori::testing
