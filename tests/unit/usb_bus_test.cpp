#include "mamori/platform/usb_bus.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fake_sysfs.h"

namespace mamori::platform {
namespace {

using testing::FakeSysfs;
using testing::FakeUsbDevice;

class UsbBusTest : public ::testing::Test {
 protected:
  UsbBusTest() {
    sysfs_.AddRootHub(1);
    sysfs_.AddRootHub(2);
    bus_ = NewSysfsUsbBus(sysfs_.root());
  }
  FakeSysfs sysfs_;
  std::unique_ptr<UsbBus> bus_;
};

TEST(UsbNames, TellDevicesRootHubsAndInterfacesApart) {
  EXPECT_TRUE(IsUsbDeviceName("2-1"));
  EXPECT_TRUE(IsUsbDeviceName("2-1.4.3"));
  EXPECT_FALSE(IsUsbDeviceName("2-1:1.0"));
  EXPECT_FALSE(IsUsbDeviceName("usb2"));
  EXPECT_FALSE(IsUsbDeviceName("2-"));
  EXPECT_FALSE(IsUsbDeviceName("2-1."));
  EXPECT_FALSE(IsUsbDeviceName("-1"));
  EXPECT_FALSE(IsUsbDeviceName("../2-1"));
  EXPECT_TRUE(IsRootHubName("usb12"));
  EXPECT_FALSE(IsRootHubName("usb"));
  EXPECT_FALSE(IsRootHubName("usb1x"));
}

TEST_F(UsbBusTest, ListsRootHubsAndDevices) {
  sysfs_.AddDevice("2-1", {});
  FakeUsbDevice hub;
  hub.interfaces = {{0x09, 0, 0}};
  sysfs_.AddDevice("1-1", hub);
  sysfs_.AddDevice("1-1.3", {});
  std::vector<std::string> names;
  ASSERT_TRUE(bus_->ListRootHubs(&names).ok());
  EXPECT_EQ(names, (std::vector<std::string>{"usb1", "usb2"}));
  ASSERT_TRUE(bus_->ListDevices(&names).ok());
  EXPECT_EQ(names, (std::vector<std::string>{"1-1", "1-1.3", "2-1"}));
}

TEST_F(UsbBusTest, DescribesAnUnauthorizedDeviceFromItsDescriptors) {
  sysfs_.AddDevice("2-1", {.vid = 0x46f4,
                           .pid = 0x0001,
                           .serial = "MAMORI-1",
                           .interfaces = {{0x08, 0x06, 0x50}},
                           .authorized = false});
  UsbDevice d;
  Status s = bus_->ReadDevice("2-1", &d);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(d.problems.empty()) << d.problems.front();
  EXPECT_EQ(d.name, "2-1");
  EXPECT_EQ(d.vid, 0x46f4);
  EXPECT_EQ(d.pid, 0x0001);
  EXPECT_EQ(d.bcd_device, 0x0100);
  EXPECT_EQ(d.serial, "MAMORI-1");
  EXPECT_EQ(d.manufacturer, "QEMU");
  EXPECT_EQ(d.product, "QEMU USB MSD");
  EXPECT_EQ(d.connect_type, "hotplug");
  EXPECT_FALSE(d.authorized);
  ASSERT_EQ(d.parsed.interfaces.size(), 1u);
  EXPECT_EQ(d.parsed.interfaces[0].cls, 0x08);
  EXPECT_EQ(d.descriptor_hash, DescriptorHash(d.descriptors));
  EXPECT_EQ(d.descriptor_hash.size(), 64u);
}

TEST_F(UsbBusTest, ADeviceWithoutSerialHasAnEmptyOneAndNoProblem) {
  sysfs_.AddDevice("2-1", {.serial = ""});
  UsbDevice d;
  ASSERT_TRUE(bus_->ReadDevice("2-1", &d).ok());
  EXPECT_EQ(d.serial, "");
  EXPECT_TRUE(d.problems.empty());
}

TEST_F(UsbBusTest, RecordsLyingOrUnreadableAttributesAsProblems) {
  FakeUsbDevice device;
  device.vid = 0x1234;
  sysfs_.AddDevice("2-1", device);
  sysfs_.Write(sysfs_.DevicePath("2-1") + "/idVendor", "abcd\n");
  sysfs_.Write(sysfs_.DevicePath("2-1") + "/idProduct", "zz\n");
  std::filesystem::remove(sysfs_.root() + "/" + sysfs_.DevicePath("2-1") + "/authorized");
  UsbDevice d;
  ASSERT_TRUE(bus_->ReadDevice("2-1", &d).ok());
  ASSERT_EQ(d.problems.size(), 3u);
  EXPECT_NE(d.problems[0].find("idProduct: not 4 hex digits"), std::string::npos);
  EXPECT_NE(d.problems[1].find("differ from the device descriptor"), std::string::npos);
  EXPECT_NE(d.problems[2].find("authorized"), std::string::npos);
  EXPECT_FALSE(d.authorized);
}

TEST_F(UsbBusTest, RecordsMalformedDescriptors) {
  sysfs_.AddDevice("2-1", {});
  sysfs_.WriteBytes(sysfs_.DevicePath("2-1") + "/descriptors", {18, 1, 0});
  UsbDevice d;
  ASSERT_TRUE(bus_->ReadDevice("2-1", &d).ok());
  ASSERT_FALSE(d.problems.empty());
  EXPECT_NE(d.problems[0].find("descriptors: device descriptor truncated"), std::string::npos);
}

TEST_F(UsbBusTest, ListsTheInterfacesOfAConfiguredDevice) {
  FakeUsbDevice composite;
  composite.interfaces = {{0x08, 0x06, 0x50}, {0x03, 0x01, 0x01}};
  sysfs_.AddDevice("2-1", composite);
  sysfs_.AddDevice("2-10", {});
  std::vector<UsbInterface> interfaces;
  ASSERT_TRUE(bus_->ListInterfaces("2-1", &interfaces).ok());
  EXPECT_TRUE(interfaces.empty());  // unauthorized: not configured
  sysfs_.AddInterfaces("2-1", composite, "usb-storage");
  sysfs_.AddInterfaces("2-10", {}, "");
  Status s = bus_->ListInterfaces("2-1", &interfaces);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(interfaces.size(), 2u);
  EXPECT_EQ(interfaces[0].name, "2-1:1.0");
  EXPECT_EQ(interfaces[0].cls, 0x08);
  EXPECT_EQ(interfaces[0].protocol, 0x50);
  EXPECT_EQ(interfaces[0].driver, "usb-storage");
  EXPECT_TRUE(interfaces[0].authorized);
  EXPECT_EQ(interfaces[1].name, "2-1:1.1");
  EXPECT_EQ(interfaces[1].cls, 0x03);
  ASSERT_TRUE(bus_->SetInterfaceAuthorized("2-1:1.1", false).ok());
  ASSERT_TRUE(bus_->ListInterfaces("2-1", &interfaces).ok());
  EXPECT_FALSE(interfaces[1].authorized);
  ASSERT_TRUE(bus_->ListInterfaces("2-10", &interfaces).ok());
  ASSERT_EQ(interfaces.size(), 1u);
  EXPECT_EQ(interfaces[0].driver, "");
}

TEST_F(UsbBusTest, AGoneDeviceIsAnError) {
  UsbDevice d;
  Status s = bus_->ReadDevice("2-7", &d);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.err(), ENOENT);
}

TEST_F(UsbBusTest, WritesTheAuthorizationControls) {
  sysfs_.AddDevice("2-1", {});
  ASSERT_TRUE(bus_->SetAuthorizedDefault("usb2", 0).ok());
  ASSERT_TRUE(bus_->SetInterfaceAuthorizedDefault("usb2", false).ok());
  ASSERT_TRUE(bus_->SetAuthorized("2-1", true).ok());
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("usb2") + "/authorized_default"), "0");
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("usb2") + "/interface_authorized_default"), "0");
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("2-1") + "/authorized"), "1");
  ASSERT_TRUE(bus_->Remove("2-1").ok());
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("2-1") + "/remove"), "1");
  ASSERT_TRUE(bus_->ProbeDrivers("2-1:1.0").ok());
  EXPECT_EQ(sysfs_.Read("bus/usb/drivers_probe"), "2-1:1.0");
}

TEST_F(UsbBusTest, RefusesNamesThatAreNotWhatTheyClaim) {
  EXPECT_EQ(bus_->SetAuthorized("../usb1", true).err(), EINVAL);
  EXPECT_EQ(bus_->SetAuthorizedDefault("2-1", 0).err(), EINVAL);
  EXPECT_EQ(bus_->SetAuthorizedDefault("usb1", 3).err(), EINVAL);
  EXPECT_EQ(bus_->SetInterfaceAuthorized("2-1", true).err(), EINVAL);
  EXPECT_EQ(bus_->ProbeDrivers("2-1:1").err(), EINVAL);
}

TEST_F(UsbBusTest, AWriteErrorNamesThePathAndErrno) {
  Status s = bus_->SetAuthorized("2-9", false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_NE(s.message().find("/bus/usb/devices/2-9/authorized"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("errno 2"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace mamori::platform
