#include "mamori/platform/usb_descriptors.h"

#include <gtest/gtest.h>

#include "fake_sysfs.h"

namespace mamori::platform {
namespace {

using testing::DeviceDescriptors;
using testing::FakeInterface;

TEST(UsbDescriptors, ParsesAStickWithItsInterfaceClass) {
  const auto bytes = DeviceDescriptors(0x46f4, 0x0001, {FakeInterface{0x08, 0x06, 0x50}});
  UsbDescriptors d = ParseUsbDescriptors(bytes);
  ASSERT_TRUE(d.ok()) << d.error;
  EXPECT_EQ(d.device.idVendor, 0x46f4);
  EXPECT_EQ(d.device.idProduct, 0x0001);
  EXPECT_EQ(d.device.bNumConfigurations, 1);
  ASSERT_EQ(d.interfaces.size(), 1u);
  EXPECT_EQ(d.interfaces[0], (UsbInterfaceDescriptor{1, 0, 0, 0x08, 0x06, 0x50}));
  // Where a simple stick keeps its interface class (measured on QEMU's usb-storage).
  EXPECT_EQ(bytes[32], 0x08);
}

TEST(UsbDescriptors, ListsEveryInterfaceOfACompositeDevice) {
  const auto bytes = DeviceDescriptors(1, 2, {{0x08, 0x06, 0x50}, {0x03, 0x01, 0x01}});
  UsbDescriptors d = ParseUsbDescriptors(bytes);
  ASSERT_TRUE(d.ok()) << d.error;
  ASSERT_EQ(d.interfaces.size(), 2u);
  EXPECT_EQ(d.interfaces[1].number, 1);
  EXPECT_EQ(d.interfaces[1].cls, 0x03);
}

TEST(UsbDescriptors, ReadsEveryConfiguration) {
  auto bytes = DeviceDescriptors(1, 2, {{0x03, 0x01, 0x01}});
  const auto second = DeviceDescriptors(1, 2, {{0x08, 0x06, 0x50}});
  bytes.insert(bytes.end(), second.begin() + 18, second.end());
  bytes[17] = 2;
  UsbDescriptors d = ParseUsbDescriptors(bytes);
  ASSERT_TRUE(d.ok()) << d.error;
  ASSERT_EQ(d.interfaces.size(), 2u);
  EXPECT_EQ(d.interfaces[1].cls, 0x08);
}

TEST(UsbDescriptors, RefusesATruncatedDeviceDescriptor) {
  const auto bytes = DeviceDescriptors(1, 2, {});
  UsbDescriptors d = ParseUsbDescriptors(std::span(bytes).first(10));
  EXPECT_FALSE(d.ok());
  EXPECT_NE(d.error.find("device descriptor truncated"), std::string::npos) << d.error;
}

TEST(UsbDescriptors, RefusesAConfigurationLongerThanTheData) {
  auto bytes = DeviceDescriptors(1, 2, {{0x08, 0x06, 0x50}});
  bytes[18 + 2] = 0xff;  // wTotalLength claims 255 bytes
  UsbDescriptors d = ParseUsbDescriptors(bytes);
  EXPECT_FALSE(d.ok());
  EXPECT_NE(d.error.find("exceeds"), std::string::npos) << d.error;
}

TEST(UsbDescriptors, RefusesAConfigurationShorterThanItsInterfaces) {
  // wTotalLength hides the storage interface behind a "configuration" that ends early; the rest
  // must not silently pass as nothing.
  auto bytes = DeviceDescriptors(1, 2, {{0x03, 0x01, 0x01}, {0x08, 0x06, 0x50}});
  bytes[18 + 2] = 9 + 9 + 7;
  UsbDescriptors d = ParseUsbDescriptors(bytes);
  EXPECT_FALSE(d.ok());
}

TEST(UsbDescriptors, RefusesAZeroLengthDescriptor) {
  auto bytes = DeviceDescriptors(1, 2, {{0x08, 0x06, 0x50}});
  bytes[18 + 9] = 0;  // the interface descriptor's bLength
  UsbDescriptors d = ParseUsbDescriptors(bytes);
  EXPECT_FALSE(d.ok());
  EXPECT_NE(d.error.find("descriptor length 0 at offset 27"), std::string::npos) << d.error;
}

TEST(UsbDescriptors, RefusesAMissingConfiguration) {
  auto bytes = DeviceDescriptors(1, 2, {{0x08, 0x06, 0x50}});
  bytes[17] = 2;
  EXPECT_FALSE(ParseUsbDescriptors(bytes).ok());
}

TEST(UsbDescriptors, RefusesTooManyInterfaces) {
  std::vector<FakeInterface> many(kMaxInterfaceDescriptors + 1);
  auto bytes = DeviceDescriptors(1, 2, many);
  UsbDescriptors d = ParseUsbDescriptors(bytes);
  EXPECT_FALSE(d.ok());
  EXPECT_EQ(d.interfaces.size(), kMaxInterfaceDescriptors);
}

TEST(UsbDescriptors, SurvivesEveryTruncationAndByteFlip) {
  const auto good = DeviceDescriptors(1, 2, {{0x08, 0x06, 0x50}, {0x03, 0x01, 0x01}});
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(ParseUsbDescriptors(std::span(good).first(n)).ok()) << n;
  }
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (unsigned char v : {0x00, 0x01, 0x02, 0x09, 0x7f, 0xff}) {
      auto bad = good;
      bad[i] = v;
      (void)ParseUsbDescriptors(bad);  // must neither crash nor read out of bounds (ASan)
    }
  }
}

TEST(UsbDescriptors, HashIsSha256InLowercaseHex) {
  const std::string abc = "abc";
  EXPECT_EQ(DescriptorHash(std::span(reinterpret_cast<const unsigned char*>(abc.data()), 3)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace mamori::platform
