// USB decisions (policy/README.md, "Order of decision") and MFA scope, on policies read from JSON.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "mamori/policy/document.h"
#include "mamori/policy/mfa_scope.h"
#include "mamori/policy/text.h"
#include "mamori/policy/usb_match.h"
#include "policy_test_support.h"

namespace mamori::policy {
namespace {

using test::ErrorStrings;
using test::MinimalDocument;
using test::Text;
namespace json = boost::json;

Policy FromJson(const char* section, json::object value) {
  json::object doc = MinimalDocument();
  doc[section] = std::move(value);
  ParseResult r = ParsePolicy(Text(doc));
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(ErrorStrings(r.errors));
  if (!r.ok()) return Policy{};
  return std::move(*r.policy);
}

UsbPolicy Usb(json::object usb) { return FromJson("usb", std::move(usb)).usb; }
UsbPolicy Allow(json::array rules) { return Usb(json::object{{"allow", std::move(rules)}}); }
MfaPolicy Mfa(json::object mfa) { return FromJson("mfa", std::move(mfa)).mfa; }

const Timestamp kNow = *ParseTimestamp("2026-11-23T09:00:00Z");
const std::string kHash = std::string(32, 'a') + std::string(32, '0');

// A SanDisk mass-storage stick in a front port, with tanaka of zeimu-ka at the console.
DeviceDescription Stick() {
  DeviceDescription d;
  d.vid = 0x0781;
  d.pid = 0x5567;
  d.serial = "4C530001230512116392";
  d.descriptor_hash = kHash;
  d.interfaces = {{0x08, 0x06, 0x50}};
  d.port = "1-2.4";
  d.connect_type = "hotplug";
  d.user = "tanaka";
  d.groups = {"zeimu-ka", "users"};
  return d;
}

DeviceDescription Keyboard() {
  DeviceDescription d;
  d.vid = 0x046d;
  d.pid = 0xc31c;
  d.interfaces = {{0x03, 0x01, 0x01}, {0x03, 0x00, 0x00}};
  d.port = "1-1";
  d.connect_type = "hotplug";
  return d;
}

json::object Rule(std::initializer_list<std::pair<json::string_view, json::value_ref>> fields) {
  json::object rule{{"id", "r"}};
  for (const auto& [key, value] : fields) rule[key] = json::value(value);
  return rule;
}

void ExpectDecision(const UsbPolicy& usb, const DeviceDescription& d, UsbAction action,
                    const std::string& rule_id, Timestamp now = kNow) {
  const Decision decision = MatchDevice(usb, d, now);
  EXPECT_EQ(ToString(decision.action), ToString(action));
  EXPECT_EQ(decision.rule_id, rule_id);
}

TEST(PolicyMatch, NothingMatchesSoTheDefaultDecides) {
  const UsbPolicy usb = Usb({});
  ExpectDecision(usb, Stick(), UsbAction::kBlock, "default");
  ExpectDecision(Usb({{"default", "read-only"}}), Stick(), UsbAction::kReadOnly, "default");
  ExpectDecision(Usb({{"default", "allow"}}), Stick(), UsbAction::kAllow, "default");
  EXPECT_EQ(kDefaultRuleId, "default");
}

TEST(PolicyMatch, RejectCombinationBeatsAMatchingAllowRule) {
  const UsbPolicy usb = Allow({Rule({{"vid", "0781"}})});
  DeviceDescription badusb = Stick();
  badusb.interfaces.push_back({0x03, 0x01, 0x01});
  ExpectDecision(usb, badusb, UsbAction::kReject, "badusb-hid");
  for (auto [cls, id] : {std::pair{0x02, "badusb-comms"}, std::pair{0x0a, "badusb-cdc-data"},
                         std::pair{0xe0, "badusb-wireless"}}) {
    DeviceDescription d = Stick();
    d.interfaces.push_back({static_cast<std::uint8_t>(cls), 0, 0});
    ExpectDecision(usb, d, UsbAction::kReject, id);
  }
  // A keyboard alone carries only one class of the combination: the class rule decides.
  ExpectDecision(usb, Keyboard(), UsbAction::kAllow, "hid");
}

TEST(PolicyMatch, RejectCombinationNeedsEveryOneOfItsClasses) {
  const UsbPolicy usb =
      Usb({{"reject_combinations",
            json::array{json::object{{"id", "triple"}, {"classes", {"08", "03", "e0"}}}}},
           {"default", "allow"}});
  DeviceDescription d = Stick();
  d.interfaces.push_back({0x03, 0, 0});
  ExpectDecision(usb, d, UsbAction::kAllow, "default");
  d.interfaces.push_back({0xe0, 0x01, 0x01});
  ExpectDecision(usb, d, UsbAction::kReject, "triple");
}

TEST(PolicyMatch, AllowRuleMatchesOnVendorProductAndSerial) {
  ExpectDecision(Allow({Rule({{"vid", "0781"}})}), Stick(), UsbAction::kAllow, "r");
  ExpectDecision(Allow({Rule({{"vid", "0782"}})}), Stick(), UsbAction::kBlock, "default");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"pid", "5567"}})}), Stick(), UsbAction::kAllow,
                 "r");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"pid", "5568"}})}), Stick(), UsbAction::kBlock,
                 "default");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"serial", "4C530001230512116392"}})}), Stick(),
                 UsbAction::kAllow, "r");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"serial", "4c530001230512116392"}})}), Stick(),
                 UsbAction::kBlock, "default");
  DeviceDescription no_serial = Stick();
  no_serial.serial.clear();
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"serial", "4C530001230512116392"}})}), no_serial,
                 UsbAction::kBlock, "default");
}

TEST(PolicyMatch, AllowRuleMatchesOnDescriptorHashWrittenInAnyCase) {
  std::string upper = kHash;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ExpectDecision(Allow({Rule({{"descriptor_hash", upper}})}), Stick(), UsbAction::kAllow, "r");
  ExpectDecision(Allow({Rule({{"descriptor_hash", std::string(64, 'b')}})}), Stick(),
                 UsbAction::kBlock, "default");
}

TEST(PolicyMatch, AllowRuleMatchesOnPortAndConnectType) {
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"port", "1-2.4"}})}), Stick(), UsbAction::kAllow,
                 "r");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"port", "1-2"}})}), Stick(), UsbAction::kBlock,
                 "default");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"connect_type", "hotplug"}})}), Stick(),
                 UsbAction::kAllow, "r");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"connect_type", "hardwired"}})}), Stick(),
                 UsbAction::kBlock, "default");
  DeviceDescription unknown = Stick();
  unknown.connect_type.clear();
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"connect_type", "hotplug"}})}), unknown,
                 UsbAction::kBlock, "default");
}

TEST(PolicyMatch, EveryInterfaceMustMatchOneOfTheRuleClasses) {
  const UsbPolicy exact = Allow({Rule({{"vid", "0781"}, {"interface_classes", {"08:06:50"}}})});
  ExpectDecision(exact, Stick(), UsbAction::kAllow, "r");
  DeviceDescription two = Stick();
  two.interfaces.push_back({0x08, 0x06, 0x62});  // a second, UAS interface
  ExpectDecision(exact, two, UsbAction::kBlock, "default");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"interface_classes", {"08:06:50", "08:06:62"}}})}),
                 two, UsbAction::kAllow, "r");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"interface_classes", {"08:06"}}})}), two,
                 UsbAction::kAllow, "r");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"interface_classes", {"08"}}})}), two,
                 UsbAction::kAllow, "r");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"interface_classes", {"08:05"}}})}), Stick(),
                 UsbAction::kBlock, "default");
  // A stick that also presents a vendor-specific interface is another device.
  DeviceDescription extra = Stick();
  extra.interfaces.push_back({0xff, 0x00, 0x00});
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"interface_classes", {"08"}}})}), extra,
                 UsbAction::kBlock, "default");
}

TEST(PolicyMatch, ReadOnlyRuleGivesReadOnly) {
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"mode", "read-only"}})}), Stick(),
                 UsbAction::kReadOnly, "r");
}

TEST(PolicyMatch, FirstMatchingAllowRuleDecides) {
  json::object first{{"id", "first"}, {"vid", "0781"}, {"mode", "read-only"}};
  json::object second{{"id", "second"}, {"vid", "0781"}, {"pid", "5567"}};
  json::object other{{"id", "other"}, {"vid", "1234"}};
  ExpectDecision(Allow({other, first, second}), Stick(), UsbAction::kReadOnly, "first");
  ExpectDecision(Allow({other, second, first}), Stick(), UsbAction::kAllow, "second");
}

TEST(PolicyMatch, UserBoundRuleMatchesOnlyListedUsersOrGroupMembers) {
  const UsbPolicy by_user = Allow({Rule({{"vid", "0781"}, {"users", {"tanaka"}}})});
  const UsbPolicy by_group = Allow({Rule({{"vid", "0781"}, {"groups", {"zeimu-ka"}}})});
  const UsbPolicy both =
      Allow({Rule({{"vid", "0781"}, {"users", {"sato"}}, {"groups", {"shimin-ka"}}})});
  DeviceDescription d = Stick();
  ExpectDecision(by_user, d, UsbAction::kAllow, "r");
  ExpectDecision(by_group, d, UsbAction::kAllow, "r");
  ExpectDecision(both, d, UsbAction::kBlock, "default");

  d.user = "suzuki";
  d.groups = {"shimin-ka"};
  ExpectDecision(by_user, d, UsbAction::kBlock, "default");
  ExpectDecision(by_group, d, UsbAction::kBlock, "default");
  ExpectDecision(both, d, UsbAction::kAllow, "r");
  d.user = "sato";
  d.groups = {};
  ExpectDecision(both, d, UsbAction::kAllow, "r");
}

TEST(PolicyMatch, UnknownConsoleUserNeverMatchesAUserBoundRule) {
  DeviceDescription d = Stick();
  d.user.reset();  // groups still say zeimu-ka: they must not count without a known user
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"users", {"tanaka"}}})}), d, UsbAction::kBlock,
                 "default");
  ExpectDecision(Allow({Rule({{"vid", "0781"}, {"groups", {"zeimu-ka"}}})}), d, UsbAction::kBlock,
                 "default");
  // A rule bound to nobody does not care who is at the console.
  ExpectDecision(Allow({Rule({{"vid", "0781"}})}), d, UsbAction::kAllow, "r");
}

// "When either is given, the rule matches only while a listed user ... is at the console": an
// empty list names nobody, so it must not open the rule to everyone (or must be refused).
TEST(PolicyMatch, ExplicitlyEmptyUserListsDoNotOpenTheRuleToEveryone) {
  for (const char* field : {"users", "groups"}) {
    json::object doc = MinimalDocument();
    doc["usb"] =
        json::object{{"allow", json::array{Rule({{"vid", "0781"}, {field, json::array{}}})}}};
    const ParseResult r = ParsePolicy(Text(doc));
    if (r.ok()) {
      EXPECT_NE(MatchDevice(r.policy->usb, Stick(), kNow).rule_id, "r") << field;
    }
  }
}

// "When given, every interface of the device must match one": with none listed, no device does.
TEST(PolicyMatch, ExplicitlyEmptyInterfaceClassesMatchNoDevice) {
  json::object doc = MinimalDocument();
  doc["usb"] = json::object{
      {"allow", json::array{Rule({{"vid", "0781"}, {"interface_classes", json::array{}}})}}};
  const ParseResult r = ParsePolicy(Text(doc));
  if (r.ok()) {
    EXPECT_NE(MatchDevice(r.policy->usb, Stick(), kNow).rule_id, "r");
  }
}

TEST(PolicyMatch, RuleStopsMatchingAtNotAfter) {
  const UsbPolicy usb = Allow({Rule({{"vid", "0781"}, {"not_after", "2026-12-31T08:30:00Z"}})});
  ExpectDecision(usb, Stick(), UsbAction::kAllow, "r", *ParseTimestamp("2026-12-31T08:29:59Z"));
  ExpectDecision(usb, Stick(), UsbAction::kBlock, "default",
                 *ParseTimestamp("2026-12-31T08:30:00Z"));
  ExpectDecision(usb, Stick(), UsbAction::kBlock, "default",
                 *ParseTimestamp("2027-01-01T00:00:00Z"));
}

TEST(PolicyMatch, DefaultClassRulesLetKeyboardsAndHubsThrough) {
  const UsbPolicy usb = Usb({});
  ExpectDecision(usb, Keyboard(), UsbAction::kAllow, "hid");
  DeviceDescription hub;
  hub.interfaces = {{0x09, 0x00, 0x00}};
  ExpectDecision(usb, hub, UsbAction::kAllow, "hub");
  // A keyboard with a vendor-specific interface is not covered: the default decides.
  DeviceDescription odd = Keyboard();
  odd.interfaces.push_back({0xff, 0x00, 0x00});
  ExpectDecision(usb, odd, UsbAction::kBlock, "default");
  // So is a device with no interfaces at all.
  DeviceDescription none;
  ExpectDecision(usb, none, UsbAction::kBlock, "default");
}

TEST(PolicyMatch, ClassRulesDecideOnlyWhenEveryInterfaceIsCoveredAndBlockWins) {
  const UsbPolicy usb =
      Usb({{"default", "allow"},
           {"class_rules",
            json::array{json::object{{"id", "kbd"}, {"class", "03"}, {"action", "allow"}},
                        json::object{{"id", "audio"}, {"class", "01"}, {"action", "block"}},
                        json::object{{"id", "video"}, {"class", "0e"}, {"action", "block"}}}}});
  DeviceDescription d = Keyboard();
  ExpectDecision(usb, d, UsbAction::kAllow, "kbd");
  d.interfaces.push_back({0x01, 0x01, 0x00});
  d.interfaces.push_back({0x0e, 0x01, 0x00});
  ExpectDecision(usb, d, UsbAction::kBlock, "audio");
  // A printer interface is not covered: the class rules do not decide, the default does.
  d.interfaces.push_back({0x07, 0x01, 0x02});
  ExpectDecision(usb, d, UsbAction::kAllow, "default");
}

TEST(PolicyMatch, FirstMatchingClassRuleDecidesEachInterface) {
  const UsbPolicy usb = Usb(
      {{"class_rules",
        json::array{json::object{{"id", "boot-kbd"}, {"class", "03:01:01"}, {"action", "block"}},
                    json::object{{"id", "hid"}, {"class", "03"}, {"action", "allow"}},
                    json::object{{"id", "late"}, {"class", "03:00"}, {"action", "block"}}}}});
  DeviceDescription mouse;
  mouse.interfaces = {{0x03, 0x00, 0x00}};
  ExpectDecision(usb, mouse, UsbAction::kAllow, "hid");
  DeviceDescription kbd;
  kbd.interfaces = {{0x03, 0x01, 0x01}};
  ExpectDecision(usb, kbd, UsbAction::kBlock, "boot-kbd");
}

TEST(PolicyMatch, AllowRuleComesBeforeClassRules) {
  const UsbPolicy usb =
      Usb({{"allow", json::array{Rule({{"vid", "046d"}, {"mode", "read-only"}})}},
           {"class_rules",
            json::array{json::object{{"id", "no-hid"}, {"class", "03"}, {"action", "block"}}}}});
  ExpectDecision(usb, Keyboard(), UsbAction::kReadOnly, "r");
}

TEST(PolicyMatch, EmptyClassRulesLeaveKeyboardsToTheDefault) {
  ExpectDecision(Usb({{"class_rules", json::array{}}}), Keyboard(), UsbAction::kBlock, "default");
}

TEST(PolicyMatch, AuditModeIsFlaggedAndTheDecisionStillComputed) {
  const UsbPolicy audit = Usb({{"mode", "audit"}});
  const Decision d = MatchDevice(audit, Stick(), kNow);
  EXPECT_TRUE(d.audit_only);
  EXPECT_EQ(d.action, UsbAction::kBlock);
  EXPECT_EQ(d.rule_id, "default");
  DeviceDescription badusb = Stick();
  badusb.interfaces.push_back({0x03, 0, 0});
  EXPECT_TRUE(MatchDevice(audit, badusb, kNow).audit_only);
  EXPECT_EQ(MatchDevice(audit, badusb, kNow).action, UsbAction::kReject);
  EXPECT_FALSE(MatchDevice(Usb({}), Stick(), kNow).audit_only);
}

TEST(PolicyMfa, DefaultsRequireEveryUserOnEveryService) {
  const MfaPolicy mfa = Mfa({});
  EXPECT_TRUE(MfaRequired(mfa, "tanaka", {}, "login"));
  EXPECT_TRUE(MfaRequired(mfa, "root", {"root"}, "sudo"));
}

TEST(PolicyMfa, ServicesOutsideTheListAreNotInScope) {
  const MfaPolicy mfa = Mfa({{"services", json::array{"login", "gdm-password", "sshd"}}});
  EXPECT_TRUE(MfaRequired(mfa, "tanaka", {}, "sshd"));
  EXPECT_FALSE(MfaRequired(mfa, "tanaka", {}, "sudo"));
  EXPECT_FALSE(MfaRequired(mfa, "tanaka", {}, "*"));
  EXPECT_FALSE(MfaRequired(Mfa({{"services", json::array{}}}), "tanaka", {}, "login"));
}

TEST(PolicyMfa, ListedUsersAndMembersOfListedGroups) {
  const MfaPolicy mfa =
      Mfa({{"users", json::array{"tanaka"}}, {"groups", json::array{"zeimu-ka"}}});
  EXPECT_TRUE(MfaRequired(mfa, "tanaka", {}, "login"));
  EXPECT_TRUE(MfaRequired(mfa, "suzuki", {"users", "zeimu-ka"}, "login"));
  EXPECT_FALSE(MfaRequired(mfa, "suzuki", {"users", "shimin-ka"}, "login"));
  EXPECT_FALSE(MfaRequired(mfa, "*", {}, "login"));
  const MfaPolicy nobody = Mfa({{"users", json::array{}}});
  EXPECT_FALSE(MfaRequired(nobody, "tanaka", {"zeimu-ka"}, "login"));
}

TEST(PolicyMfa, StarUserWithListedServices) {
  const MfaPolicy mfa = Mfa({{"users", json::array{"*"}}, {"services", json::array{"login"}}});
  EXPECT_TRUE(MfaRequired(mfa, "anyone", {}, "login"));
  EXPECT_FALSE(MfaRequired(mfa, "anyone", {}, "sshd"));
}

}  // namespace
}  // namespace mamori::policy
