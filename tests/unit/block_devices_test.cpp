#include "mamori/platform/block_devices.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fake_sysfs.h"
#include "mamori/platform/thunderbolt.h"

namespace mamori::platform {
namespace {

using testing::FakeSysfs;

TEST(BlockDevices, ClassifiesByTheDevicePath) {
  BlockDevice d = DescribeBlockDevice(
      "/devices/pci0000:00/0000:00:04.0/usb2/2-1/2-1.3/2-1.3:1.0/host0/target0:0:0/0:0:0:0/block/"
      "sda/sda1");
  EXPECT_EQ(d.name, "sda1");
  EXPECT_EQ(d.disk, "sda");
  EXPECT_EQ(d.channel, BlockChannel::kUsb);
  EXPECT_EQ(d.usb_device, "2-1.3");

  d = DescribeBlockDevice("/devices/pci0000:00/0000:00:05.0/mmc_host/mmc0/mmc0:0001/block/mmcblk0");
  EXPECT_EQ(d.name, "mmcblk0");
  EXPECT_EQ(d.disk, "");
  EXPECT_EQ(d.channel, BlockChannel::kMmc);

  d = DescribeBlockDevice(
      "/devices/pci0000:00/0000:00:01.1/ata2/host1/target1:0:0/1:0:0:0/block/sr0");
  EXPECT_EQ(d.channel, BlockChannel::kOptical);

  d = DescribeBlockDevice(
      "/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/"
      "sda/sda2");
  EXPECT_EQ(d.channel, BlockChannel::kOther);
  EXPECT_EQ(d.usb_device, "");
  EXPECT_EQ(DescribeBlockDevice("/devices/virtual/block/loop0").channel, BlockChannel::kOther);
}

TEST(BlockDevices, AnSdCardReaderOnUsbIsUsb) {
  // A USB card reader shows its card as sdX below the USB device: USB authorization governs it.
  EXPECT_EQ(UsbDeviceOfDevpath("/devices/pci0000:00/0000:00:04.0/usb1/1-2/1-2:1.0/host3/"
                               "target3:0:0/3:0:0:0/block/sdb"),
            "1-2");
  EXPECT_EQ(UsbDeviceOfDevpath("/devices/pci0000:00/0000:00:04.0/usb1"), "");
}

TEST(BlockDevices, ListsDisksBeforePartitionsWithTheirChannel) {
  FakeSysfs sysfs;
  sysfs.AddRootHub(2);
  sysfs.AddDevice("2-1", {});
  sysfs.AddUsbDisk("2-1", "sda", 2);
  sysfs.AddBlock("/devices/pci0000:00/0000:00:05.0/mmc_host/mmc0/mmc0:0001/block/mmcblk0", 1);
  auto block = NewLinuxBlockDevices(sysfs.root(), "/nonexistent");
  std::vector<BlockDevice> all;
  ASSERT_TRUE(block->List(&all).ok());
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].name, "mmcblk0");
  EXPECT_EQ(all[0].channel, BlockChannel::kMmc);
  EXPECT_EQ(all[1].name, "sda");
  EXPECT_EQ(all[1].usb_device, "2-1");
  EXPECT_EQ(all[2].name, "mmcblk01");
  EXPECT_EQ(all[2].disk, "mmcblk0");
  EXPECT_EQ(all[3].name, "sda1");
  EXPECT_EQ(all[4].name, "sda2");
  EXPECT_EQ(all[4].channel, BlockChannel::kUsb);
}

TEST(BlockDevices, IoctlErrorsNameTheNode) {
  auto block = NewLinuxBlockDevices("/nonexistent", "/nonexistent-dev");
  Status s = block->SetReadOnly("sda");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent-dev/sda"), std::string::npos) << s.message();
  EXPECT_EQ(block->SetReadOnly("../sda").err(), EINVAL);
  // A regular file is not a block device: BLKROSET fails rather than pretending.
  FakeSysfs sysfs;
  sysfs.Write("sdz", "");
  auto files = NewLinuxBlockDevices(sysfs.root(), sysfs.root());
  s = files->SetReadOnly("sdz");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("BLKROSET"), std::string::npos) << s.message();
}

TEST(BlockDevices, DetachesTheDriverOfTheDeviceUnderADisk) {
  FakeSysfs sysfs;
  const std::string card = "devices/pci0000:00/0000:00:05.0/mmc_host/mmc0/mmc0:0001";
  sysfs.AddBlock("/" + card + "/block/mmcblk0", 1);
  auto block = NewLinuxBlockDevices(sysfs.root(), "/nonexistent");
  Status s = block->DetachDriver("mmcblk0");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(sysfs.Read(card + "/driver/unbind"), "mmc0:0001");
  EXPECT_FALSE(block->DetachDriver("mmcblk9").ok());
}

TEST(Thunderbolt, ListsDevicesWithAnAuthorizedAttributeAndAuthorizes) {
  FakeSysfs sysfs;
  const std::string dir = "bus/thunderbolt/devices/";
  std::filesystem::create_directories(sysfs.root() + "/" + dir + "0-0");
  std::filesystem::create_directories(sysfs.root() + "/" + dir + "0-1");
  std::filesystem::create_directories(sysfs.root() + "/" + dir + "domain0");
  sysfs.Write(dir + "0-0/authorized", "1\n");
  sysfs.Write(dir + "0-1/authorized", "0\n");
  sysfs.Write(dir + "0-1/vendor_name", "Acme\n");
  sysfs.Write(dir + "0-1/device_name", "NVMe Dock\n");
  auto tb = NewSysfsThunderboltBus(sysfs.root());
  std::vector<ThunderboltDevice> all;
  ASSERT_TRUE(tb->List(&all).ok());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_TRUE(all[0].authorized);
  EXPECT_EQ(all[1].name, "0-1");
  EXPECT_FALSE(all[1].authorized);
  EXPECT_EQ(all[1].device_name, "NVMe Dock");
  ASSERT_TRUE(tb->Authorize("0-1").ok());
  EXPECT_EQ(sysfs.Read(dir + "0-1/authorized"), "1");
  EXPECT_EQ(tb->Authorize("../0-1").err(), EINVAL);
}

}  // namespace
}  // namespace mamori::platform
