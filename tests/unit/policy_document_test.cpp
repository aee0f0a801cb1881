// Parsing and validation of policy documents against policy/README.md: every error class, limits,
// defaults, and that all errors are reported together.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mamori/policy/document.h"
#include "mamori/policy/text.h"
#include "policy_test_support.h"

namespace mamori::policy {
namespace {

using test::ErrorPaths;
using test::ErrorStrings;
using test::MinimalDocument;
using test::Text;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
namespace json = boost::json;

ParseResult Parse(const json::value& doc) { return ParsePolicy(Text(doc)); }

// The document with `usb` set to the given object.
json::object WithUsb(json::object usb) {
  json::object doc = MinimalDocument();
  doc["usb"] = std::move(usb);
  return doc;
}

json::object WithAllow(json::array allow) { return WithUsb(json::object{{"allow", allow}}); }

// Expects the document to be refused with exactly one error at `path`; returns its message.
std::string SingleErrorAt(const json::value& doc, const std::string& path) {
  const ParseResult r = Parse(doc);
  EXPECT_FALSE(r.ok()) << Text(doc);
  EXPECT_THAT(ErrorPaths(r.errors), ElementsAre(path))
      << ::testing::PrintToString(ErrorStrings(r.errors));
  return r.errors.empty() ? "" : r.errors.front().message;
}

void ExpectOk(const json::value& doc) {
  const ParseResult r = Parse(doc);
  EXPECT_TRUE(r.ok()) << Text(doc) << "\n" << ::testing::PrintToString(ErrorStrings(r.errors));
  EXPECT_THAT(r.errors, IsEmpty());
}

Timestamp At(std::string_view text) { return *ParseTimestamp(text); }

TEST(PolicyDocument, MinimalDocumentGetsEveryDefaultOfTheSpecification) {
  const ParseResult r = Parse(MinimalDocument());
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(ErrorStrings(r.errors));
  const Policy& p = *r.policy;
  EXPECT_EQ(p.schema, 1u);
  EXPECT_EQ(p.version, 7u);
  EXPECT_EQ(p.issued_at, At("2026-11-01T00:00:00Z"));
  EXPECT_EQ(p.expires_at, At("2027-03-31T15:00:00Z"));
  EXPECT_THAT(p.targets, ElementsAre("*"));

  EXPECT_EQ(p.usb.mode, EnforcementMode::kEnforce);
  EXPECT_EQ(p.usb.default_action, UsbAction::kBlock);
  EXPECT_THAT(p.usb.allow, IsEmpty());
  ASSERT_THAT(p.usb.class_rules, SizeIs(2));
  EXPECT_EQ(p.usb.class_rules[0].id, "hid");
  EXPECT_EQ(p.usb.class_rules[0].pattern, (ClassPattern{0x03, {}, {}}));
  EXPECT_EQ(p.usb.class_rules[0].action, UsbAction::kAllow);
  EXPECT_EQ(p.usb.class_rules[1].id, "hub");
  EXPECT_EQ(p.usb.class_rules[1].pattern, (ClassPattern{0x09, {}, {}}));
  EXPECT_EQ(p.usb.class_rules[1].action, UsbAction::kAllow);
  ASSERT_THAT(p.usb.reject_combinations, SizeIs(4));
  EXPECT_EQ(p.usb.reject_combinations[0].id, "badusb-hid");
  EXPECT_THAT(p.usb.reject_combinations[0].classes, ElementsAre(0x08, 0x03));
  EXPECT_EQ(p.usb.reject_combinations[1].id, "badusb-comms");
  EXPECT_THAT(p.usb.reject_combinations[1].classes, ElementsAre(0x08, 0x02));
  EXPECT_EQ(p.usb.reject_combinations[2].id, "badusb-cdc-data");
  EXPECT_THAT(p.usb.reject_combinations[2].classes, ElementsAre(0x08, 0x0a));
  EXPECT_EQ(p.usb.reject_combinations[3].id, "badusb-wireless");
  EXPECT_THAT(p.usb.reject_combinations[3].classes, ElementsAre(0x08, 0xe0));
  EXPECT_EQ(p.usb.channels.mmc, UsbAction::kBlock);
  EXPECT_EQ(p.usb.channels.optical, UsbAction::kBlock);
  EXPECT_EQ(p.usb.channels.thunderbolt, UsbAction::kBlock);

  EXPECT_THAT(p.mfa.users, ElementsAre("*"));
  EXPECT_THAT(p.mfa.groups, IsEmpty());
  EXPECT_THAT(p.mfa.services, ElementsAre("*"));
  EXPECT_EQ(p.mfa.window_steps, 1u);
  EXPECT_EQ(p.mfa.max_failures, 5u);
  EXPECT_EQ(p.mfa.lockout_seconds, 900u);
  EXPECT_TRUE(p.mfa.deny_unenrolled);

  EXPECT_EQ(p.compliance.report_interval_seconds, 300u);
  EXPECT_EQ(p.compliance.max_clock_skew_seconds, 60u);
  EXPECT_EQ(p.reporting.snapshot_interval_seconds, 3600u);
  EXPECT_EQ(p.reporting.spool_max_mib, 64u);
  EXPECT_EQ(p.reporting.retry_max_seconds, 300u);
  EXPECT_THAT(p.network.allowed_egress, IsEmpty());
}

TEST(PolicyDocument, AllowRuleGetsItsDefaults) {
  const ParseResult r = Parse(WithAllow({json::object{{"id", "stick"}, {"vid", "0781"}}}));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(ErrorStrings(r.errors));
  ASSERT_THAT(r.policy->usb.allow, SizeIs(1));
  const AllowRule& rule = r.policy->usb.allow[0];
  EXPECT_EQ(rule.id, "stick");
  EXPECT_EQ(rule.label, "");
  EXPECT_EQ(rule.vid, 0x0781);
  EXPECT_FALSE(rule.pid);
  EXPECT_FALSE(rule.serial);
  EXPECT_FALSE(rule.descriptor_hash);
  EXPECT_THAT(rule.interface_classes, IsEmpty());
  EXPECT_FALSE(rule.port);
  EXPECT_FALSE(rule.connect_type);
  EXPECT_EQ(rule.mode, AllowMode::kAllow);
  EXPECT_THAT(rule.users, IsEmpty());
  EXPECT_THAT(rule.groups, IsEmpty());
  EXPECT_FALSE(rule.not_after);
}

TEST(PolicyDocument, EveryAllowRuleFieldIsRead) {
  const ParseResult r =
      Parse(WithAllow({json::object{{"id", "ledger-0012"},
                                    {"label", "No.12"},
                                    {"vid", "0781"},
                                    {"pid", "5567"},
                                    {"serial", "4C530001230512116392"},
                                    {"descriptor_hash", std::string(64, 'a')},
                                    {"interface_classes", json::array{"08:06:50", "08:*"}},
                                    {"port", "1-2.4"},
                                    {"connect_type", "hotplug"},
                                    {"mode", "read-only"},
                                    {"users", json::array{"tanaka"}},
                                    {"groups", json::array{"zeimu-ka"}},
                                    {"not_after", "2026-12-31T08:30:00Z"}}}));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(ErrorStrings(r.errors));
  const AllowRule& rule = r.policy->usb.allow.at(0);
  EXPECT_EQ(rule.label, "No.12");
  EXPECT_EQ(rule.pid, 0x5567);
  EXPECT_EQ(rule.serial, "4C530001230512116392");
  EXPECT_EQ(rule.descriptor_hash, std::string(64, 'a'));
  EXPECT_THAT(rule.interface_classes,
              ElementsAre(ClassPattern{0x08, 0x06, 0x50}, ClassPattern{0x08, {}, {}}));
  EXPECT_EQ(rule.port, "1-2.4");
  EXPECT_EQ(rule.connect_type, "hotplug");
  EXPECT_EQ(rule.mode, AllowMode::kReadOnly);
  EXPECT_THAT(rule.users, ElementsAre("tanaka"));
  EXPECT_THAT(rule.groups, ElementsAre("zeimu-ka"));
  EXPECT_EQ(rule.not_after, At("2026-12-31T08:30:00Z"));
}

TEST(PolicyDocument, EverySectionIsRead) {
  json::object doc = MinimalDocument();
  doc["usb"] = json::object{
      {"mode", "audit"},
      {"default", "read-only"},
      {"class_rules",
       json::array{json::object{{"id", "k"}, {"class", "03:01"}, {"action", "block"}}}},
      {"reject_combinations", json::array{json::object{{"id", "c"}, {"classes", {"08", "ff"}}}}},
      {"channels",
       json::object{{"mmc", "allow"}, {"optical", "read-only"}, {"thunderbolt", "allow"}}}};
  doc["mfa"] = json::object{{"users", json::array{"tanaka"}},
                            {"groups", json::array{"zeimu-ka"}},
                            {"services", json::array{"login"}},
                            {"window_steps", 0},
                            {"max_failures", 100},
                            {"lockout_seconds", 604800},
                            {"deny_unenrolled", false}};
  doc["compliance"] =
      json::object{{"report_interval_seconds", 30}, {"max_clock_skew_seconds", 3600}};
  doc["reporting"] = json::object{
      {"snapshot_interval_seconds", 60}, {"spool_max_mib", 4096}, {"retry_max_seconds", 5}};
  doc["network"] = json::object{{"allowed_egress", json::array{"10.20.0.0/16", "fd00::/8"}}};
  const ParseResult r = Parse(doc);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(ErrorStrings(r.errors));
  const Policy& p = *r.policy;
  EXPECT_EQ(p.usb.mode, EnforcementMode::kAudit);
  EXPECT_EQ(p.usb.default_action, UsbAction::kReadOnly);
  ASSERT_THAT(p.usb.class_rules, SizeIs(1));
  EXPECT_EQ(p.usb.class_rules[0].pattern, (ClassPattern{0x03, 0x01, {}}));
  EXPECT_EQ(p.usb.class_rules[0].action, UsbAction::kBlock);
  ASSERT_THAT(p.usb.reject_combinations, SizeIs(1));
  EXPECT_THAT(p.usb.reject_combinations[0].classes, ElementsAre(0x08, 0xff));
  EXPECT_EQ(p.usb.channels.mmc, UsbAction::kAllow);
  EXPECT_EQ(p.usb.channels.optical, UsbAction::kReadOnly);
  EXPECT_EQ(p.usb.channels.thunderbolt, UsbAction::kAllow);
  EXPECT_THAT(p.mfa.users, ElementsAre("tanaka"));
  EXPECT_THAT(p.mfa.groups, ElementsAre("zeimu-ka"));
  EXPECT_THAT(p.mfa.services, ElementsAre("login"));
  EXPECT_EQ(p.mfa.window_steps, 0u);
  EXPECT_EQ(p.mfa.max_failures, 100u);
  EXPECT_EQ(p.mfa.lockout_seconds, 604800u);
  EXPECT_FALSE(p.mfa.deny_unenrolled);
  EXPECT_EQ(p.compliance.report_interval_seconds, 30u);
  EXPECT_EQ(p.compliance.max_clock_skew_seconds, 3600u);
  EXPECT_EQ(p.reporting.snapshot_interval_seconds, 60u);
  EXPECT_EQ(p.reporting.spool_max_mib, 4096u);
  EXPECT_EQ(p.reporting.retry_max_seconds, 5u);
  ASSERT_THAT(p.network.allowed_egress, SizeIs(2));
  EXPECT_EQ(FormatCidr(p.network.allowed_egress[0]), "10.20.0.0/16");
  EXPECT_EQ(FormatCidr(p.network.allowed_egress[1]), "fd00::/8");
}

TEST(PolicyDocument, PresentEmptyListsReplaceTheDefaultRules) {
  const ParseResult r = Parse(WithUsb(
      json::object{{"class_rules", json::array{}}, {"reject_combinations", json::array{}}}));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(ErrorStrings(r.errors));
  EXPECT_THAT(r.policy->usb.class_rules, IsEmpty());
  EXPECT_THAT(r.policy->usb.reject_combinations, IsEmpty());
}

TEST(PolicyDocument, UnknownFieldsAreErrorsAtEveryLevel) {
  json::object top = MinimalDocument();
  top["colour"] = "blue";
  EXPECT_THAT(SingleErrorAt(top, "/colour"), HasSubstr("unknown field"));

  EXPECT_THAT(SingleErrorAt(WithUsb(json::object{{"modus", "audit"}}), "/usb/modus"),
              HasSubstr("unknown field"));
  EXPECT_THAT(
      SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"vendor", "x"}}}),
                    "/usb/allow/0/vendor"),
      HasSubstr("unknown field"));
  EXPECT_THAT(SingleErrorAt(WithUsb(json::object{{"channels", json::object{{"usb_c", "block"}}}}),
                            "/usb/channels/usb_c"),
              HasSubstr("unknown field"));
  EXPECT_THAT(
      SingleErrorAt(WithUsb(json::object{
                        {"class_rules",
                         json::array{json::object{
                             {"id", "k"}, {"class", "03"}, {"action", "allow"}, {"note", "x"}}}}}),
                    "/usb/class_rules/0/note"),
      HasSubstr("unknown field"));
  EXPECT_THAT(
      SingleErrorAt(WithUsb(json::object{{"reject_combinations",
                                          json::array{json::object{
                                              {"id", "c"}, {"classes", {"08", "03"}}, {"x", 1}}}}}),
                    "/usb/reject_combinations/0/x"),
      HasSubstr("unknown field"));
  for (const char* section : {"mfa", "compliance", "reporting", "network"}) {
    json::object doc = MinimalDocument();
    doc[section] = json::object{{"extra", 1}};
    EXPECT_THAT(SingleErrorAt(doc, std::string("/") + section + "/extra"),
                HasSubstr("unknown field"));
  }
}

TEST(PolicyDocument, PathsAreJsonPointersWithEscapes) {
  json::object doc = MinimalDocument();
  doc["a/b~c"] = 1;
  SingleErrorAt(doc, "/a~1b~0c");
}

TEST(PolicyDocument, DuplicateTopLevelKeyIsRefused) {
  const std::string text = Text(MinimalDocument());
  // Append a second "version" to the object.
  const std::string doc = text.substr(0, text.size() - 1) + R"(,"version":8})";
  const ParseResult r = ParsePolicy(doc);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(ErrorPaths(r.errors), ElementsAre("/version"));
  EXPECT_THAT(r.errors.at(0).message, HasSubstr("duplicate"));
}

TEST(PolicyDocument, DuplicateNestedKeyIsRefusedWithItsPath) {
  const std::string head = Text(MinimalDocument());
  const std::string base = head.substr(0, head.size() - 1);
  {
    const ParseResult r =
        ParsePolicy(base + R"(,"usb":{"allow":[{"id":"a","vid":"0781","vid":"0782"}]}})");
    EXPECT_FALSE(r.ok());
    EXPECT_THAT(ErrorPaths(r.errors), ElementsAre("/usb/allow/0/vid"));
  }
  {
    const ParseResult r = ParsePolicy(
        base +
        R"(,"usb":{"allow":[{"id":"a","vid":"0781"},{"id":"b","vid":"0781","vid":"0781"}]}})");
    EXPECT_FALSE(r.ok());
    EXPECT_THAT(ErrorPaths(r.errors), ElementsAre("/usb/allow/1/vid"));
  }
  {
    const ParseResult r = ParsePolicy(base + R"(,"mfa":{"max_failures":3,"max_failures":3}})");
    EXPECT_FALSE(r.ok());
    EXPECT_THAT(ErrorPaths(r.errors), ElementsAre("/mfa/max_failures"));
  }
}

TEST(PolicyDocument, DuplicateKeySpelledWithAnEscapeIsStillADuplicate) {
  const std::string head = Text(MinimalDocument());
  const ParseResult r =
      ParsePolicy(head.substr(0, head.size() - 1) +
                  R"(,"usb":{"allow":[{"id":"a","vid":"0781","v\u0069d":"0782"}]}})");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(ErrorPaths(r.errors), ElementsAre("/usb/allow/0/vid"));
}

TEST(PolicyDocument, EveryDuplicateKeyIsReported) {
  // "All errors are reported, not only the first."
  const std::string head = Text(MinimalDocument());
  const ParseResult r = ParsePolicy(
      head.substr(0, head.size() - 1) +
      R"(,"mfa":{"max_failures":3,"max_failures":4},"compliance":{"report_interval_seconds":30,"report_interval_seconds":31}})");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(ErrorPaths(r.errors), AllOf(Contains("/mfa/max_failures"),
                                          Contains("/compliance/report_interval_seconds")));
}

TEST(PolicyDocument, WrongTypesAreNamedWithTheirPath) {
  struct Case {
    const char* field;
    json::value value;
  };
  const Case top[] = {{"schema", "1"},        {"version", "7"},          {"issued_at", 0},
                      {"expires_at", true},   {"targets", "*"},          {"targets", {1}},
                      {"usb", json::array{}}, {"mfa", "none"},           {"compliance", 1},
                      {"reporting", nullptr}, {"network", json::array{}}};
  for (const Case& c : top) {
    json::object doc = MinimalDocument();
    doc[c.field] = c.value;
    const ParseResult r = Parse(doc);
    EXPECT_FALSE(r.ok()) << c.field;
    ASSERT_THAT(r.errors, SizeIs(1)) << ::testing::PrintToString(ErrorStrings(r.errors));
    EXPECT_THAT(r.errors[0].path, ::testing::StartsWith(std::string("/") + c.field));
  }
  EXPECT_THAT(SingleErrorAt(WithUsb(json::object{{"allow", json::object{}}}), "/usb/allow"),
              HasSubstr("array"));
  EXPECT_THAT(
      SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", 781}}}), "/usb/allow/0/vid"),
      HasSubstr("781"));
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"label", 5}}}),
                "/usb/allow/0/label");
  SingleErrorAt(WithAllow({json::object{{"id", 5}, {"vid", "0781"}}}), "/usb/allow/0/id");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"users", "tanaka"}}}),
                "/usb/allow/0/users");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"not_after", 0}}}),
                "/usb/allow/0/not_after");
  SingleErrorAt(WithAllow({"stick"}), "/usb/allow/0");
  json::object doc = MinimalDocument();
  doc["mfa"] = json::object{{"deny_unenrolled", "yes"}};
  SingleErrorAt(doc, "/mfa/deny_unenrolled");
  doc["mfa"] = json::object{{"deny_unenrolled", 1}};
  SingleErrorAt(doc, "/mfa/deny_unenrolled");
  EXPECT_FALSE(ParsePolicy("[]").ok());
  EXPECT_FALSE(ParsePolicy("\"policy\"").ok());
}

TEST(PolicyDocument, MissingRequiredFieldsAreNamed) {
  for (const char* field : {"schema", "version", "issued_at", "expires_at", "targets"}) {
    json::object doc = MinimalDocument();
    doc.erase(field);
    EXPECT_THAT(SingleErrorAt(doc, std::string("/") + field), HasSubstr("required")) << field;
  }
  SingleErrorAt(WithAllow({json::object{{"vid", "0781"}}}), "/usb/allow/0/id");
  SingleErrorAt(WithUsb(json::object{
                    {"class_rules", json::array{json::object{{"id", "k"}, {"action", "allow"}}}}}),
                "/usb/class_rules/0/class");
  SingleErrorAt(WithUsb(json::object{
                    {"class_rules", json::array{json::object{{"id", "k"}, {"class", "03"}}}}}),
                "/usb/class_rules/0/action");
  SingleErrorAt(
      WithUsb(json::object{{"reject_combinations", json::array{json::object{{"id", "c"}}}}}),
      "/usb/reject_combinations/0/classes");
}

// [path within the document, minimum, maximum] of every bounded integer.
struct Bound {
  const char* section;
  const char* field;
  std::uint64_t min;
  std::uint64_t max;
};
constexpr Bound kBounds[] = {
    {"mfa", "window_steps", 0, 10},
    {"mfa", "max_failures", 1, 100},
    {"mfa", "lockout_seconds", 60, 604800},
    {"compliance", "report_interval_seconds", 30, 86400},
    {"compliance", "max_clock_skew_seconds", 1, 3600},
    {"reporting", "snapshot_interval_seconds", 60, 604800},
    {"reporting", "spool_max_mib", 1, 4096},
    {"reporting", "retry_max_seconds", 5, 86400},
};

json::object WithNumber(const Bound& b, std::int64_t n) {
  json::object doc = MinimalDocument();
  doc[b.section] = json::object{{b.field, n}};
  return doc;
}

TEST(PolicyDocument, BoundedIntegersAcceptTheirLimits) {
  for (const Bound& b : kBounds) {
    ExpectOk(WithNumber(b, static_cast<std::int64_t>(b.min)));
    ExpectOk(WithNumber(b, static_cast<std::int64_t>(b.max)));
  }
}

TEST(PolicyDocument, BoundedIntegersRefuseValuesOutOfRange) {
  for (const Bound& b : kBounds) {
    const std::string path = std::string("/") + b.section + "/" + b.field;
    if (b.min > 0) SingleErrorAt(WithNumber(b, static_cast<std::int64_t>(b.min) - 1), path);
    SingleErrorAt(WithNumber(b, static_cast<std::int64_t>(b.max) + 1), path);
    SingleErrorAt(WithNumber(b, -1), path);
  }
}

TEST(PolicyDocument, SchemaMustBeOne) {
  json::object doc = MinimalDocument();
  doc["schema"] = 2;
  SingleErrorAt(doc, "/schema");
  doc["schema"] = 0;
  SingleErrorAt(doc, "/schema");
}

TEST(PolicyDocument, VersionRangeIsOneToTwoToTheSixtyFourMinusOne) {
  json::object doc = MinimalDocument();
  doc["version"] = 0;
  SingleErrorAt(doc, "/version");
  doc["version"] = UINT64_MAX;
  const ParseResult r = Parse(doc);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.policy->version, UINT64_MAX);
  // 2^64 does not fit: refused, not wrapped or rounded.
  const std::string head = Text(MinimalDocument());
  std::string text = head;
  text.replace(text.find("\"version\":7"), 11, "\"version\":18446744073709551616");
  EXPECT_FALSE(ParsePolicy(text).ok());
}

TEST(PolicyDocument, NumbersMustBeIntegers) {
  const std::string head = Text(MinimalDocument());
  for (const char* number : {"7.0", "7e0", "1e3", "7.5", "-7", "0x7", "07"}) {
    std::string text = head;
    text.replace(text.find("\"version\":7"), 11, std::string("\"version\":") + number);
    const ParseResult r = ParsePolicy(text);
    EXPECT_FALSE(r.ok()) << number;
    EXPECT_THAT(r.errors, Not(IsEmpty())) << number;
  }
  std::string text = head;
  text.replace(text.find("\"version\":7"), 11, "\"version\":7.0");
  EXPECT_THAT(ErrorPaths(ParsePolicy(text).errors), ElementsAre("/version"));
  json::object doc = MinimalDocument();
  doc["mfa"] = json::object{{"max_failures", 3.0}};
  SingleErrorAt(doc, "/mfa/max_failures");
}

TEST(PolicyDocument, BadVidNamesPathAndValueExactly) {
  json::array allow = test::AllowRules(3);
  allow.push_back(json::object{{"id", "r3"}, {"vid", "78x1"}});
  const ParseResult r = Parse(WithAllow(allow));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(ErrorStrings(r.errors),
              ElementsAre(R"(/usb/allow/3/vid: expected 4 hex digits, got "78x1")"));
}

TEST(PolicyDocument, HexIdsNeedExactlyFourHexDigits) {
  for (const char* bad : {"781", "07811", "", "0x78", " 781", "078g", "+781", "-781"}) {
    SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", bad}}}), "/usb/allow/0/vid");
    SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"pid", bad}}}),
                  "/usb/allow/0/pid");
  }
  const ParseResult r =
      Parse(WithAllow({json::object{{"id", "a"}, {"vid", "ABcd"}, {"pid", "FFFF"}}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.policy->usb.allow[0].vid, 0xabcd);
  EXPECT_EQ(r.policy->usb.allow[0].pid, 0xffff);
}

TEST(PolicyDocument, DescriptorHashIsSixtyFourHexDigits) {
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"descriptor_hash", std::string(63, 'a')}}}),
                "/usb/allow/0/descriptor_hash");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"descriptor_hash", std::string(65, 'a')}}}),
                "/usb/allow/0/descriptor_hash");
  SingleErrorAt(
      WithAllow({json::object{{"id", "a"}, {"descriptor_hash", std::string(63, 'a') + "g"}}}),
      "/usb/allow/0/descriptor_hash");
  const ParseResult r =
      Parse(WithAllow({json::object{{"id", "a"}, {"descriptor_hash", std::string(64, 'A')}}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.policy->usb.allow[0].descriptor_hash, std::string(64, 'a'));
}

TEST(PolicyDocument, AllowRuleMustNameVidOrDescriptorHash) {
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"label", "x"}}}), "/usb/allow/0");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"port", "1-2"}}}), "/usb/allow/0");
  ExpectOk(WithAllow({json::object{{"id", "a"}, {"descriptor_hash", std::string(64, '0')}}}));
}

TEST(PolicyDocument, PidAndSerialNeedVid) {
  const std::string hash(64, '0');
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"descriptor_hash", hash}, {"pid", "5567"}}}),
                "/usb/allow/0");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"descriptor_hash", hash}, {"serial", "X1"}}}),
                "/usb/allow/0");
  ExpectOk(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"serial", "X1"}}}));
}

TEST(PolicyDocument, EnumeratedValuesRefuseAnythingElse) {
  SingleErrorAt(WithUsb(json::object{{"mode", "block"}}), "/usb/mode");
  SingleErrorAt(WithUsb(json::object{{"mode", "Enforce"}}), "/usb/mode");
  SingleErrorAt(WithUsb(json::object{{"default", "reject"}}), "/usb/default");
  SingleErrorAt(WithUsb(json::object{{"default", "readonly"}}), "/usb/default");
  SingleErrorAt(WithUsb(json::object{{"channels", json::object{{"thunderbolt", "read-only"}}}}),
                "/usb/channels/thunderbolt");
  SingleErrorAt(WithUsb(json::object{{"channels", json::object{{"mmc", "reject"}}}}),
                "/usb/channels/mmc");
  SingleErrorAt(WithUsb(json::object{{"channels", json::object{{"optical", 1}}}}),
                "/usb/channels/optical");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"mode", "block"}}}),
                "/usb/allow/0/mode");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"connect_type", "usb"}}}),
                "/usb/allow/0/connect_type");
  SingleErrorAt(WithUsb(json::object{
                    {"class_rules", json::array{json::object{
                                        {"id", "k"}, {"class", "03"}, {"action", "read-only"}}}}}),
                "/usb/class_rules/0/action");
  for (const char* type : {"hotplug", "hardwired", "fixed", "unknown"}) {
    ExpectOk(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"connect_type", type}}}));
  }
}

TEST(PolicyDocument, TimesMustBeRfc3339UtcWholeSeconds) {
  for (const char* bad :
       {"2026-11-01T09:00:00+09:00", "2026-11-01T00:00:00+00:00", "2026-11-01T00:00:00.0Z",
        "2026-11-01t00:00:00z", "2026-11-01 00:00:00Z", "2026-11-01T00:00:00", "2026-11-01",
        "2026-02-30T00:00:00Z", "2026-12-31T23:59:60Z", "1793872000"}) {
    json::object doc = MinimalDocument();
    doc["issued_at"] = bad;
    EXPECT_THAT(SingleErrorAt(doc, "/issued_at"), HasSubstr(bad)) << bad;
    SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"not_after", bad}}}),
                  "/usb/allow/0/not_after");
  }
}

TEST(PolicyDocument, ExpiryMustBeAfterIssue) {
  json::object doc = MinimalDocument();
  doc["expires_at"] = doc["issued_at"];
  SingleErrorAt(doc, "/expires_at");
  doc["expires_at"] = "2026-10-31T23:59:59Z";
  SingleErrorAt(doc, "/expires_at");
  doc["expires_at"] = "2026-11-01T00:00:01Z";
  ExpectOk(doc);
}

TEST(PolicyDocument, TargetsNeedAtLeastOneDistinctName) {
  json::object doc = MinimalDocument();
  doc["targets"] = json::array{};
  SingleErrorAt(doc, "/targets");
  doc["targets"] = json::array{"shimin-ka", "shimin-ka"};
  SingleErrorAt(doc, "/targets/1");
  doc["targets"] = json::array{"shimin-ka", ""};
  SingleErrorAt(doc, "/targets/1");
}

TEST(PolicyDocument, NameListsRefuseDuplicates) {
  json::object doc = MinimalDocument();
  doc["mfa"] = json::object{{"users", json::array{"tanaka", "suzuki", "tanaka"}}};
  SingleErrorAt(doc, "/mfa/users/2");
  doc["mfa"] = json::object{{"groups", json::array{"g", "g"}}};
  SingleErrorAt(doc, "/mfa/groups/1");
  doc["mfa"] = json::object{{"services", json::array{"login", "login"}}};
  SingleErrorAt(doc, "/mfa/services/1");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"users", {"u", "u"}}}}),
                "/usb/allow/0/users/1");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"groups", {"g", "g"}}}}),
                "/usb/allow/0/groups/1");
}

TEST(PolicyDocument, RuleIdsAreUniqueAcrossAllOfUsb) {
  EXPECT_THAT(SingleErrorAt(
                  WithUsb(json::object{
                      {"allow", json::array{json::object{{"id", "dup"}, {"vid", "0781"}}}},
                      {"class_rules", json::array{json::object{
                                          {"id", "dup"}, {"class", "03"}, {"action", "allow"}}}}}),
                  "/usb/class_rules/0/id"),
              HasSubstr("duplicate"));
  SingleErrorAt(
      WithUsb(json::object{{"allow", json::array{json::object{{"id", "dup"}, {"vid", "0781"}}}},
                           {"reject_combinations",
                            json::array{json::object{{"id", "dup"}, {"classes", {"08", "03"}}}}}}),
      "/usb/reject_combinations/0/id");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}},
                           json::object{{"id", "a"}, {"vid", "0782"}}}),
                "/usb/allow/1/id");
}

TEST(PolicyDocument, AllowRuleIdMayNotRepeatADefaultClassRuleId) {
  // The default class rules and combinations are part of `usb` (they appear in the canonical
  // form), so their ids are taken.
  const ParseResult hid = Parse(WithAllow({json::object{{"id", "hid"}, {"vid", "0781"}}}));
  EXPECT_FALSE(hid.ok());
  EXPECT_THAT(ErrorPaths(hid.errors), Contains("/usb/allow/0/id"));
  const ParseResult combo = Parse(WithAllow({json::object{{"id", "badusb-hid"}, {"vid", "0781"}}}));
  EXPECT_FALSE(combo.ok());
  EXPECT_THAT(ErrorPaths(combo.errors), Contains("/usb/allow/0/id"));
  // With the defaults replaced, those ids are free.
  ExpectOk(
      WithUsb(json::object{{"allow", json::array{json::object{{"id", "hid"}, {"vid", "0781"}}}},
                           {"class_rules", json::array{}}}));
}

TEST(PolicyDocument, DefaultIsAReservedRuleId) {
  EXPECT_THAT(SingleErrorAt(WithAllow({json::object{{"id", "default"}, {"vid", "0781"}}}),
                            "/usb/allow/0/id"),
              HasSubstr("reserved"));
  SingleErrorAt(
      WithUsb(json::object{
          {"class_rules",
           json::array{json::object{{"id", "default"}, {"class", "03"}, {"action", "allow"}}}}}),
      "/usb/class_rules/0/id");
  SingleErrorAt(WithUsb(json::object{
                    {"reject_combinations",
                     json::array{json::object{{"id", "default"}, {"classes", {"08", "03"}}}}}}),
                "/usb/reject_combinations/0/id");
}

TEST(PolicyDocument, RuleIdsUseTheirAlphabetAndLength) {
  ExpectOk(WithAllow({json::object{{"id", "Az09-_.:"}, {"vid", "0781"}},
                      json::object{{"id", std::string(64, 'x')}, {"vid", "0781"}}}));
  for (const std::string& bad : {std::string(65, 'x'), std::string(""), std::string("a b"),
                                 std::string("a/b"), std::string("媒体"), std::string("a\tb")}) {
    SingleErrorAt(WithAllow({json::object{{"id", bad}, {"vid", "0781"}}}), "/usb/allow/0/id");
  }
}

TEST(PolicyDocument, NamesAreAtMost256Bytes) {
  const std::string ok(256, 'n');
  const std::string long_name(257, 'n');
  // 86 three-byte characters: 258 bytes though only 86 characters.
  std::string japanese;
  for (int i = 0; i < 86; ++i) japanese += "媒";
  ExpectOk(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"label", ok}, {"serial", ok}}}));
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"label", long_name}}}),
                "/usb/allow/0/label");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"label", japanese}}}),
                "/usb/allow/0/label");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"serial", long_name}}}),
                "/usb/allow/0/serial");
  SingleErrorAt(
      WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"users", json::array{long_name}}}}),
      "/usb/allow/0/users/0");
  json::object doc = MinimalDocument();
  doc["targets"] = json::array{long_name};
  SingleErrorAt(doc, "/targets/0");
  doc = MinimalDocument();
  doc["mfa"] = json::object{{"services", json::array{long_name}}};
  SingleErrorAt(doc, "/mfa/services/0");
  doc["mfa"] = json::object{{"groups", json::array{long_name}}};
  SingleErrorAt(doc, "/mfa/groups/0");
}

TEST(PolicyDocument, StringsHoldNoControlCharacters) {
  for (const char* bad : {"a\x01", "line\nbreak", "tab\there", "del\x7f"}) {
    SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"label", bad}}}),
                  "/usb/allow/0/label");
    json::object doc = MinimalDocument();
    doc["targets"] = json::array{bad};
    SingleErrorAt(doc, "/targets/0");
  }
}

TEST(PolicyDocument, ListLimits) {
  json::object doc = MinimalDocument();
  json::array services;
  for (int i = 0; i < 256; ++i) services.push_back(json::string("s" + std::to_string(i)));
  doc["mfa"] = json::object{{"services", services}};
  ExpectOk(doc);
  services.push_back("s256");
  doc["mfa"] = json::object{{"services", services}};
  SingleErrorAt(doc, "/mfa/services");

  json::array users;
  for (int i = 0; i < 10001; ++i) users.push_back(json::string("u" + std::to_string(i)));
  doc = MinimalDocument();
  doc["mfa"] = json::object{{"users", users}};
  SingleErrorAt(doc, "/mfa/users");
  users.pop_back();
  doc["mfa"] = json::object{{"users", users}};
  ExpectOk(doc);

  json::array networks;
  for (int i = 0; i < 1001; ++i) {
    networks.push_back(
        json::string("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24"));
  }
  doc = MinimalDocument();
  doc["network"] = json::object{{"allowed_egress", networks}};
  SingleErrorAt(doc, "/network/allowed_egress");
  networks.pop_back();
  doc["network"] = json::object{{"allowed_egress", networks}};
  ExpectOk(doc);
}

TEST(PolicyDocument, NetworksMustBeCidrsWithoutHostBits) {
  json::object doc = MinimalDocument();
  for (const char* bad :
       {"10.20.0.1/16", "10.20.0.0", "10.20.0.0/33", "fd00::1/8", "example/8", "10.20.0.0/016"}) {
    doc["network"] = json::object{{"allowed_egress", json::array{bad}}};
    EXPECT_THAT(SingleErrorAt(doc, "/network/allowed_egress/0"), HasSubstr(bad));
  }
  doc["network"] = json::object{{"allowed_egress", json::array{"10.0.0.0/8", "10.0.0.0/8"}}};
  SingleErrorAt(doc, "/network/allowed_egress/1");
}

TEST(PolicyDocument, ClassPatternsAreChecked) {
  for (const char* bad : {"8", "080", "08:*:50", "*", "08:06:50:01", "xx", "08:"}) {
    SingleErrorAt(WithAllow({json::object{
                      {"id", "a"}, {"vid", "0781"}, {"interface_classes", json::array{bad}}}}),
                  "/usb/allow/0/interface_classes/0");
    SingleErrorAt(WithUsb(json::object{
                      {"class_rules", json::array{json::object{
                                          {"id", "k"}, {"class", bad}, {"action", "allow"}}}}}),
                  "/usb/class_rules/0/class");
  }
}

TEST(PolicyDocument, RejectCombinationsHoldTwoToSixteenDistinctClasses) {
  auto combo = [](json::array classes) {
    return WithUsb(json::object{
        {"reject_combinations", json::array{json::object{{"id", "c"}, {"classes", classes}}}}});
  };
  SingleErrorAt(combo({"08"}), "/usb/reject_combinations/0/classes");
  SingleErrorAt(combo({}), "/usb/reject_combinations/0/classes");
  SingleErrorAt(combo({"08", "08"}), "/usb/reject_combinations/0/classes/1");
  SingleErrorAt(combo({"08", "03:01"}), "/usb/reject_combinations/0/classes/1");
  json::array sixteen;
  for (int i = 0; i < 16; ++i)
    sixteen.push_back(json::string(FormatClassPattern({std::uint8_t(i), {}, {}})));
  ExpectOk(combo(sixteen));
  sixteen.push_back("ff");
  SingleErrorAt(combo(sixteen), "/usb/reject_combinations/0/classes");
}

TEST(PolicyDocument, AtMostTenThousandRulesAcrossAllLists) {
  // Exactly the limit, all in `allow`, with the default lists replaced by empty ones.
  json::object usb{{"allow", test::AllowRules(10000)},
                   {"class_rules", json::array{}},
                   {"reject_combinations", json::array{}}};
  ExpectOk(WithUsb(usb));

  usb["allow"] = test::AllowRules(10001);
  EXPECT_FALSE(Parse(WithUsb(usb)).ok());

  // 9,999 + 1 + 1: each list is under the limit, the sum is not.
  usb["allow"] = test::AllowRules(9999);
  usb["class_rules"] = json::array{json::object{{"id", "k"}, {"class", "03"}, {"action", "allow"}}};
  usb["reject_combinations"] = json::array{json::object{{"id", "c"}, {"classes", {"08", "03"}}}};
  EXPECT_THAT(SingleErrorAt(WithUsb(usb), "/usb"), HasSubstr("10000"));
}

TEST(PolicyDocument, DocumentIsAtMostOneMebibyte) {
  const std::string text = Text(MinimalDocument());
  std::string padded = text + std::string(kMaxDocumentBytes - text.size(), ' ');
  ASSERT_EQ(padded.size(), std::size_t{1} << 20);
  EXPECT_TRUE(ParsePolicy(padded).ok());
  padded += ' ';
  const ParseResult r = ParsePolicy(padded);
  EXPECT_FALSE(r.ok());
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_THAT(r.errors[0].message, HasSubstr("1048576"));
}

TEST(PolicyDocument, InvalidJsonIsRefused) {
  const std::string text = Text(MinimalDocument());
  for (const std::string& bad : {std::string(""), std::string("{"), text + "{}", text + "x",
                                 text.substr(0, text.size() - 1) + ",}", "// comment\n" + text,
                                 text.substr(0, text.size() - 1) + ",\"targets\":[\"*\",]}"}) {
    const ParseResult r = ParsePolicy(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.errors, Not(IsEmpty())) << bad;
  }
}

TEST(PolicyDocument, AllErrorsAreReportedAtOnce) {
  json::object doc = MinimalDocument();
  doc.erase("version");
  doc["expires_at"] = "2027-03-31T15:00:00+09:00";
  doc["colour"] = "blue";
  json::array allow = test::AllowRules(3);
  allow.push_back(json::object{{"id", "r3"}, {"vid", "78x1"}});
  allow.push_back(json::object{{"id", "default"}, {"vid", "0781"}});
  allow.push_back(json::object{{"id", "r0"}, {"vid", "0781"}});
  doc["usb"] = json::object{{"allow", allow}, {"mode", "strict"}};
  doc["mfa"] = json::object{{"max_failures", 0}, {"window_steps", 1.0}};
  doc["network"] = json::object{{"allowed_egress", json::array{"10.0.0.1/8"}}};
  const ParseResult r = Parse(doc);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(ErrorPaths(r.errors),
              ::testing::UnorderedElementsAre("/version", "/expires_at", "/colour",
                                              "/usb/allow/3/vid", "/usb/allow/4/id",
                                              "/usb/allow/5/id", "/usb/mode", "/mfa/max_failures",
                                              "/mfa/window_steps", "/network/allowed_egress/0"))
      << ::testing::PrintToString(ErrorStrings(r.errors));
  EXPECT_THAT(ErrorStrings(r.errors),
              Contains(R"(/usb/allow/3/vid: expected 4 hex digits, got "78x1")"));
}

TEST(PolicyDocument, ErrorsRenderAsPathColonMessage) {
  EXPECT_EQ((ValidationError{"/usb/mode", "bad"}).ToString(), "/usb/mode: bad");
  EXPECT_EQ((ValidationError{"", "not valid JSON"}).ToString(), "/: not valid JSON");
}

TEST(PolicyDocument, PortIsAUsbPortPath) {
  ExpectOk(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"port", "1-2.4"}}}));
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"port", "usb1"}}}),
                "/usb/allow/0/port");
  SingleErrorAt(WithAllow({json::object{{"id", "a"}, {"vid", "0781"}, {"port", ""}}}),
                "/usb/allow/0/port");
}

}  // namespace
}  // namespace mamori::policy
