#include "mamori/agent/devices_protocol.h"

#include <gtest/gtest.h>

namespace mamori::agent {
namespace {

DeviceGuard::PresentDevice Present() {
  DeviceGuard::PresentDevice d;
  d.identity = {"2-1", 0x46f4, 0x0001, "SN\"1", "ab12", "QEMU", "QEMU USB MSD"};
  d.decision.action = policy::UsbAction::kReadOnly;
  d.decision.rule_id = "ledger-ro";
  return d;
}

TEST(DevicesProtocolTest, OnlyTheExactDevicesLineIsADevicesRequest) {
  EXPECT_TRUE(IsDevicesRequest(DevicesRequest()));
  EXPECT_TRUE(IsDevicesRequest(DevicesRequest() + "\r"));
  EXPECT_FALSE(IsDevicesRequest(R"({"op":"devices","user":"x"})"));
  EXPECT_FALSE(IsDevicesRequest(R"({"op":"verify","service":"login","user":"a","code":"123456"})"));
}

TEST(DevicesProtocolTest, RootGetsEveryDeviceWithItsRule) {
  std::string error;
  auto devices = ParseDevicesAnswer(AnswerDevices({Present()}, {1, 0, 0}), &error);
  ASSERT_TRUE(devices) << error;
  ASSERT_EQ(devices->size(), 1u);
  const auto& d = devices->at(0).as_object();
  EXPECT_EQ(d.at("device"), "2-1");
  EXPECT_EQ(d.at("vid"), "46f4");
  EXPECT_EQ(d.at("serial"), "SN\"1");
  EXPECT_EQ(d.at("action"), "read-only");
  EXPECT_EQ(d.at("rule"), "ledger-ro");
  EXPECT_EQ(d.at("mode"), "enforce");
}

TEST(DevicesProtocolTest, OtherCallersAreRefused) {
  std::string error;
  EXPECT_FALSE(ParseDevicesAnswer(AnswerDevices({Present()}, {1, 1000, 1000}), &error));
  EXPECT_EQ(error, "the agent refused: only root may list devices");
}

TEST(DevicesProtocolTest, MalformedAnswersNameWhatIsWrong) {
  std::string error;
  EXPECT_FALSE(ParseDevicesAnswer(R"({"result":"auth_err"})", &error));
  EXPECT_EQ(error, "the agent refused: auth_err");
  EXPECT_FALSE(ParseDevicesAnswer("not json", &error));
  EXPECT_EQ(error, "the agent's answer is not a devices answer");
  EXPECT_FALSE(ParseDevicesAnswer(R"({"result":"devices","devices":[{"device":1}]})", &error));
  EXPECT_EQ(error, "the agent's answer has a device that is not an object of strings");
}

}  // namespace
}  // namespace mamori::agent
