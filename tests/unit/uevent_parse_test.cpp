#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <ostream>

#include "mamori/platform/uevent.h"

namespace mamori::platform {
namespace {

std::vector<unsigned char> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

// What the kernel sends when QEMU's stick appears on the second root hub.
const std::string kKernelAdd(
    "add@/devices/pci0000:00/0000:00:04.0/usb2/2-1\0"
    "ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:04.0/usb2/2-1\0SUBSYSTEM=usb\0"
    "MAJOR=189\0MINOR=129\0DEVNAME=bus/usb/002/002\0DEVTYPE=usb_device\0"
    "PRODUCT=46f4/1/0\0TYPE=0/0/0\0BUSNUM=002\0DEVNUM=002\0SEQNUM=1234\0",
    246);

std::vector<unsigned char> Libudev(std::string_view properties, std::uint32_t offset = 40,
                                   std::optional<std::uint32_t> length = std::nullopt) {
  std::vector<unsigned char> b(40 + properties.size(), 0);
  std::memcpy(b.data(), "libudev", 8);
  const std::uint32_t magic = htonl(0xfeedcafe), header = 40,
                      len = length.value_or(static_cast<std::uint32_t>(properties.size()));
  std::memcpy(b.data() + 8, &magic, 4);
  std::memcpy(b.data() + 12, &header, 4);
  std::memcpy(b.data() + 16, &offset, 4);
  std::memcpy(b.data() + 20, &len, 4);
  if (!properties.empty()) std::memcpy(b.data() + 40, properties.data(), properties.size());
  return b;
}

TEST(UeventParse, ReadsTheKernelFormat) {
  ASSERT_EQ(kKernelAdd.back(), '\0');
  auto r = ParseUevent(Bytes(kKernelAdd));
  ASSERT_TRUE(r.event) << r.error;
  EXPECT_EQ(r.event->action, "add");
  EXPECT_EQ(r.event->devpath, "/devices/pci0000:00/0000:00:04.0/usb2/2-1");
  EXPECT_EQ(r.event->sysname(), "2-1");
  EXPECT_EQ(r.event->subsystem, "usb");
  EXPECT_EQ(r.event->devtype, "usb_device");
  EXPECT_EQ(r.event->devname, "bus/usb/002/002");
  EXPECT_EQ(r.event->seqnum, 1234u);
  EXPECT_EQ(r.event->properties.at("PRODUCT"), "46f4/1/0");
}

TEST(UeventParse, ReadsLibudevsBinaryFormat) {
  const std::string props(
      "ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:04.0/usb2/2-1/2-1:1.0/host0/"
      "target0:0:0/0:0:0:0/block/sda/sda1\0SUBSYSTEM=block\0DEVTYPE=partition\0DEVNAME=/dev/sda1\0"
      "SEQNUM=77\0ID_BUS=usb\0",
      183);
  ASSERT_EQ(props.back(), '\0');
  // udev names the node by its absolute path; the kernel relative to /dev. Both end up relative.
  auto r = ParseUevent(Libudev(props));
  ASSERT_TRUE(r.event) << r.error;
  EXPECT_EQ(r.event->subsystem, "block");
  EXPECT_EQ(r.event->devtype, "partition");
  EXPECT_EQ(r.event->sysname(), "sda1");
  EXPECT_EQ(r.event->devname, "sda1");
  EXPECT_EQ(r.event->seqnum, 77u);
  EXPECT_EQ(r.event->properties.at("ID_BUS"), "usb");
}

struct Malformed {
  const char* name;
  std::string bytes;
  const char* error;
};

void PrintTo(const Malformed& m, std::ostream* os) { *os << m.name; }

class UeventMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(UeventMalformed, IsRefusedWithAReason) {
  auto r = ParseUevent(Bytes(GetParam().bytes));
  EXPECT_FALSE(r.event);
  EXPECT_NE(r.error.find(GetParam().error), std::string::npos) << r.error;
}

using namespace std::string_literals;

INSTANTIATE_TEST_SUITE_P(
    Kernel, UeventMalformed,
    ::testing::Values(
        Malformed{"Empty", "", "without a NUL"},
        Malformed{"NoNul", "add@/devices/x", "without a NUL"},
        Malformed{"NoAt", "add/devices/x\0ACTION=add\0"s, "not ACTION@DEVPATH"},
        Malformed{"EmptyAction", "@/devices/x\0"s, "not ACTION@DEVPATH"},
        Malformed{"NoAction", "add@/devices/x\0DEVPATH=/devices/x\0SUBSYSTEM=usb\0"s, "no ACTION"},
        Malformed{"Mismatch", "add@/devices/x\0ACTION=remove\0DEVPATH=/devices/x\0SUBSYSTEM=usb\0"s,
                  "disagrees"},
        Malformed{"DotDot",
                  "add@/devices/../x\0ACTION=add\0DEVPATH=/devices/../x\0SUBSYSTEM=usb\0"s,
                  "invalid DEVPATH"},
        Malformed{"NoEquals", "add@/devices/x\0ACTION=add\0GARBAGE\0"s, "without '='"},
        Malformed{"BadKey", "add@/devices/x\0ACTION=add\0a b=1\0"s, "invalid property name"},
        Malformed{"Duplicate", "add@/devices/x\0ACTION=add\0ACTION=add\0"s, "duplicate"},
        Malformed{
            "DevnameOutsideDev",
            "add@/devices/x\0ACTION=add\0DEVPATH=/devices/x\0SUBSYSTEM=block\0DEVNAME=/etc/x\0"s,
            "invalid DEVNAME"},
        Malformed{
            "DevnameUp",
            "add@/devices/x\0ACTION=add\0DEVPATH=/devices/x\0SUBSYSTEM=block\0DEVNAME=../x\0"s,
            "invalid DEVNAME"},
        Malformed{"NoSubsystem", "add@/devices/x\0ACTION=add\0DEVPATH=/devices/x\0"s,
                  "no SUBSYSTEM"},
        Malformed{"BadSeqnum",
                  "add@/devices/x\0ACTION=add\0DEVPATH=/devices/x\0SUBSYSTEM=usb\0SEQNUM=1x\0"s,
                  "invalid SEQNUM"},
        Malformed{"Huge", "add@/devices/x\0X=" + std::string(kMaxUeventBytes, 'a'), "exceeds"}),
    [](const auto& info) { return info.param.name; });

TEST(UeventParse, RefusesTooManyProperties) {
  std::string b = "add@/devices/x\0ACTION=add\0DEVPATH=/devices/x\0SUBSYSTEM=usb\0"s;
  for (std::size_t i = 0; i < kMaxUeventProperties; ++i) b += "K" + std::to_string(i) + "=v\0"s;
  auto r = ParseUevent(Bytes(b));
  EXPECT_FALSE(r.event);
  EXPECT_NE(r.error.find("more than"), std::string::npos) << r.error;
}

TEST(UeventParse, RefusesLibudevOffsetsOutsideTheDatagram) {
  const std::string props = "ACTION=add\0DEVPATH=/devices/x\0SUBSYSTEM=usb\0"s;
  ASSERT_TRUE(ParseUevent(Libudev(props)).event);
  EXPECT_FALSE(ParseUevent(Libudev(props, 0xffffffffu)).event);
  EXPECT_FALSE(ParseUevent(Libudev(props, 40, 0xffffffffu)).event);
  EXPECT_FALSE(ParseUevent(Libudev(props, 40, props.size() + 1)).event);
  EXPECT_FALSE(ParseUevent(Libudev(props, 8)).event);  // properties inside the header
  auto bad_magic = Libudev(props);
  bad_magic[8] ^= 1;
  EXPECT_NE(ParseUevent(bad_magic).error.find("magic"), std::string::npos);
  auto truncated = Libudev(props);
  truncated.resize(30);
  EXPECT_NE(ParseUevent(truncated).error.find("truncated libudev header"), std::string::npos);
}

TEST(UeventParse, SurvivesEveryTruncation) {
  for (std::size_t n = 0; n <= kKernelAdd.size(); ++n) {
    (void)ParseUevent(Bytes(kKernelAdd.substr(0, n)));
  }
  const auto udev = Libudev("ACTION=add\0DEVPATH=/devices/x\0SUBSYSTEM=usb\0"s);
  for (std::size_t n = 0; n <= udev.size(); ++n) {
    (void)ParseUevent(std::span(udev).first(n));
  }
}

}  // namespace
}  // namespace mamori::platform
