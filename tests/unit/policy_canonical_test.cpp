// The canonical form (policy/README.md, "Canonical form"): fixed key order, defaults filled in, no
// whitespace, lowercase hex, and a fixed point of parse and serialize.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "mamori/policy/document.h"
#include "mamori/policy/text.h"
#include "policy_test_support.h"

namespace mamori::policy {
namespace {

using test::ErrorStrings;
using test::MinimalDocument;
using test::Text;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
namespace json = boost::json;

Policy MustParse(std::string_view text) {
  ParseResult r = ParsePolicy(text);
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(ErrorStrings(r.errors));
  if (!r.ok()) return Policy{};
  return std::move(*r.policy);
}

// Every key of every object, in document order, depth first.
std::vector<std::string> Keys(const json::value& v) {
  std::vector<std::string> keys;
  if (const json::object* o = v.if_object()) {
    for (const auto& entry : *o) keys.emplace_back(entry.key());
  }
  return keys;
}

// The same value with the keys of every object in reverse order.
json::value Reversed(const json::value& v) {
  if (const json::object* o = v.if_object()) {
    json::object out;
    for (auto it = o->end(); it != o->begin();) {
      --it;
      out[it->key()] = Reversed(it->value());
    }
    return out;
  }
  if (const json::array* a = v.if_array()) {
    json::array out;
    for (const auto& item : *a) out.push_back(Reversed(item));
    return out;
  }
  return v;
}

// A policy that sets every field to a non-default value.
json::object FullDocument() {
  json::object doc = MinimalDocument();
  doc["targets"] = json::array{"shimin-ka", "zeimu-ka"};
  doc["usb"] = json::object{
      {"mode", "audit"},
      {"default", "read-only"},
      {"allow",
       json::array{json::object{{"id", "ledger-0012"},
                                {"label", "媒体管理台帳 No.12 \"quoted\" \\ back"},
                                {"vid", "0781"},
                                {"pid", "5567"},
                                {"serial", "4C530001230512116392"},
                                {"descriptor_hash", std::string(64, 'e')},
                                {"interface_classes", json::array{"08:06:50", "08:06", "ff"}},
                                {"port", "1-2.4"},
                                {"connect_type", "hotplug"},
                                {"mode", "read-only"},
                                {"users", json::array{"tanaka"}},
                                {"groups", json::array{"zeimu-ka", "shimin-ka"}},
                                {"not_after", "2028-02-29T23:59:59Z"}},
                   json::object{{"id", "by-hash"}, {"descriptor_hash", std::string(64, '1')}}}},
      {"class_rules",
       json::array{json::object{{"id", "kbd"}, {"class", "03:01:01"}, {"action", "allow"}},
                   json::object{{"id", "audio"}, {"class", "01"}, {"action", "block"}}}},
      {"reject_combinations",
       json::array{json::object{{"id", "triple"}, {"classes", json::array{"08", "03", "e0"}}}}},
      {"channels",
       json::object{{"mmc", "read-only"}, {"optical", "allow"}, {"thunderbolt", "allow"}}}};
  doc["mfa"] = json::object{{"users", json::array{"tanaka", "suzuki"}},
                            {"groups", json::array{"zeimu-ka"}},
                            {"services", json::array{"login", "sshd"}},
                            {"window_steps", 2},
                            {"max_failures", 3},
                            {"lockout_seconds", 3600},
                            {"deny_unenrolled", false}};
  doc["compliance"] = json::object{{"report_interval_seconds", 60}, {"max_clock_skew_seconds", 30}};
  doc["reporting"] = json::object{
      {"snapshot_interval_seconds", 7200}, {"spool_max_mib", 128}, {"retry_max_seconds", 600}};
  doc["network"] =
      json::object{{"allowed_egress", json::array{"10.20.0.0/16", "2001:db8::/32", "0.0.0.0/0"}}};
  return doc;
}

TEST(PolicyCanonical, ReadmeExampleParses) {
  const Policy p = MustParse(test::kReadmeExample);
  EXPECT_EQ(p.version, 7u);
  EXPECT_THAT(p.targets, ElementsAre("shimin-ka", "zeimu-ka"));
  ASSERT_EQ(p.usb.allow.size(), 1u);
  const AllowRule& rule = p.usb.allow[0];
  EXPECT_EQ(rule.id, "ledger-0012");
  EXPECT_EQ(rule.label, "媒体管理台帳 No.12");
  EXPECT_EQ(rule.vid, 0x0781);
  EXPECT_EQ(rule.pid, 0x5567);
  EXPECT_EQ(rule.serial, "4C530001230512116392");
  EXPECT_THAT(rule.interface_classes, ElementsAre(ClassPattern{0x08, 0x06, 0x50}));
  EXPECT_EQ(rule.mode, AllowMode::kReadOnly);
  EXPECT_THAT(rule.groups, ElementsAre("zeimu-ka"));
  EXPECT_EQ(rule.not_after, ParseTimestamp("2026-12-31T08:30:00Z"));
  EXPECT_EQ(p.usb.channels.optical, UsbAction::kReadOnly);
  EXPECT_THAT(p.mfa.services, ElementsAre("login", "gdm-password", "sshd"));
  EXPECT_EQ(p.mfa.max_failures, 3u);
  EXPECT_EQ(p.mfa.lockout_seconds, 900u);
  ASSERT_EQ(p.network.allowed_egress.size(), 1u);
  EXPECT_EQ(FormatCidr(p.network.allowed_egress[0]), "10.20.0.0/16");
}

TEST(PolicyCanonical, MinimalDocumentHasTheSpecifiedBytes) {
  // Written out by hand from the tables of policy/README.md, in their order.
  const std::string expected =
      R"({"schema":1,"version":7,"issued_at":"2026-11-01T00:00:00Z",)"
      R"("expires_at":"2027-03-31T15:00:00Z","targets":["*"],)"
      R"("usb":{"mode":"enforce","default":"block","allow":[],)"
      R"("class_rules":[{"id":"hid","class":"03","action":"allow"},)"
      R"({"id":"hub","class":"09","action":"allow"}],)"
      R"("reject_combinations":[{"id":"badusb-hid","classes":["08","03"]},)"
      R"({"id":"badusb-comms","classes":["08","02"]},)"
      R"({"id":"badusb-cdc-data","classes":["08","0a"]},)"
      R"({"id":"badusb-wireless","classes":["08","e0"]}],)"
      R"("channels":{"mmc":"block","optical":"block","thunderbolt":"block"}},)"
      R"("mfa":{"users":["*"],"groups":[],"services":["*"],"window_steps":1,"max_failures":5,)"
      R"("lockout_seconds":900,"deny_unenrolled":true},)"
      R"("compliance":{"report_interval_seconds":300,"max_clock_skew_seconds":60},)"
      R"("reporting":{"snapshot_interval_seconds":3600,"spool_max_mib":64,"retry_max_seconds":300},)"
      R"("network":{"allowed_egress":[]}})";
  EXPECT_EQ(Canonicalize(MustParse(Text(MinimalDocument()))), expected);
}

TEST(PolicyCanonical, AllowRuleKeysFollowTheTableAndUnsetCriteriaAreOmitted) {
  const std::string canonical = Canonicalize(MustParse(Text(FullDocument())));
  const json::value v = json::parse(canonical);
  const json::array& allow = v.at("usb").at("allow").as_array();
  EXPECT_THAT(
      Keys(allow.at(0)),
      ElementsAre("id", "label", "vid", "pid", "serial", "descriptor_hash", "interface_classes",
                  "port", "connect_type", "mode", "users", "groups", "not_after"));
  // The second rule names only a descriptor hash: no vid, pid, serial, port, connect_type or
  // not_after appear.
  const json::object& by_hash = allow.at(1).as_object();
  for (const char* unset : {"vid", "pid", "serial", "port", "connect_type", "not_after"}) {
    EXPECT_FALSE(by_hash.contains(unset)) << unset;
  }
  EXPECT_EQ(std::string_view(by_hash.at("label").as_string()), "");
  EXPECT_EQ(std::string_view(by_hash.at("mode").as_string()), "allow");
}

TEST(PolicyCanonical, SectionKeysFollowTheTables) {
  const json::value v = json::parse(Canonicalize(MustParse(Text(FullDocument()))));
  EXPECT_THAT(Keys(v), ElementsAre("schema", "version", "issued_at", "expires_at", "targets", "usb",
                                   "mfa", "compliance", "reporting", "network"));
  EXPECT_THAT(Keys(v.at("usb")), ElementsAre("mode", "default", "allow", "class_rules",
                                             "reject_combinations", "channels"));
  EXPECT_THAT(Keys(v.at("usb").at("class_rules").at(0)), ElementsAre("id", "class", "action"));
  EXPECT_THAT(Keys(v.at("usb").at("reject_combinations").at(0)), ElementsAre("id", "classes"));
  EXPECT_THAT(Keys(v.at("usb").at("channels")), ElementsAre("mmc", "optical", "thunderbolt"));
  EXPECT_THAT(Keys(v.at("mfa")), ElementsAre("users", "groups", "services", "window_steps",
                                             "max_failures", "lockout_seconds", "deny_unenrolled"));
  EXPECT_THAT(Keys(v.at("compliance")),
              ElementsAre("report_interval_seconds", "max_clock_skew_seconds"));
  EXPECT_THAT(Keys(v.at("reporting")),
              ElementsAre("snapshot_interval_seconds", "spool_max_mib", "retry_max_seconds"));
  EXPECT_THAT(Keys(v.at("network")), ElementsAre("allowed_egress"));
}

TEST(PolicyCanonical, RoundTripGivesTheSamePolicyAndTheSameBytes) {
  for (const std::string& text :
       {std::string(test::kReadmeExample), Text(FullDocument()), Text(MinimalDocument())}) {
    const Policy p = MustParse(text);
    const std::string canonical = Canonicalize(p);
    const ParseResult again = ParsePolicy(canonical);
    ASSERT_TRUE(again.ok()) << canonical << "\n"
                            << ::testing::PrintToString(ErrorStrings(again.errors));
    EXPECT_EQ(*again.policy, p);
    EXPECT_EQ(Canonicalize(*again.policy), canonical);
  }
}

TEST(PolicyCanonical, HasNoWhitespaceOutsideStrings) {
  const std::string canonical = Canonicalize(MustParse(Text(FullDocument())));
  bool in_string = false;
  for (std::size_t i = 0; i < canonical.size(); ++i) {
    const char c = canonical[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else {
      EXPECT_TRUE(c != ' ' && c != '\n' && c != '\t' && c != '\r') << "at " << i;
    }
  }
}

TEST(PolicyCanonical, IndependentOfKeyOrderAndWhitespace) {
  const json::object doc = FullDocument();
  const std::string canonical = Canonicalize(MustParse(Text(doc)));
  EXPECT_EQ(Canonicalize(MustParse(Text(Reversed(doc)))), canonical);
  // The README example is indented; the same content compacted gives the same bytes.
  EXPECT_EQ(Canonicalize(MustParse(Text(json::parse(test::kReadmeExample)))),
            Canonicalize(MustParse(test::kReadmeExample)));
  // Whitespace after every structural character.
  std::string spaced;
  bool in_string = false;
  bool escaped = false;
  for (char c : Text(doc)) {
    spaced += c;
    if (in_string) {
      in_string = escaped || c != '"';
      escaped = !escaped && c == '\\';
    } else if (c == '"') {
      in_string = true;
    } else if (c == ',' || c == ':' || c == '{' || c == '[' || c == '}' || c == ']') {
      spaced += "\n\t  ";
    }
  }
  EXPECT_EQ(Canonicalize(MustParse(spaced)), canonical);
}

TEST(PolicyCanonical, PrettyPrintReadsBackToTheSamePolicy) {
  const Policy p = MustParse(Text(FullDocument()));
  const std::string pretty = PrettyPrint(p);
  EXPECT_THAT(pretty, HasSubstr("\n"));
  EXPECT_EQ(MustParse(pretty), p);
}

TEST(PolicyCanonical, HexIsLowercase) {
  json::object doc = MinimalDocument();
  doc["usb"] = json::object{
      {"allow", json::array{json::object{{"id", "a"},
                                         {"vid", "ABCD"},
                                         {"pid", "EF0A"},
                                         {"descriptor_hash", std::string(64, 'F')},
                                         {"interface_classes", json::array{"0A:FF:*", "E0"}}}}},
      {"class_rules",
       json::array{json::object{{"id", "k"}, {"class", "FE:0B"}, {"action", "allow"}}}},
      {"reject_combinations", json::array{json::object{{"id", "c"}, {"classes", {"08", "E0"}}}}}};
  doc["network"] = json::object{{"allowed_egress", json::array{"FD00::/8", "2001:DB8:0:0::/32"}}};
  const std::string canonical = Canonicalize(MustParse(Text(doc)));
  EXPECT_THAT(canonical, HasSubstr(R"("vid":"abcd","pid":"ef0a")"));
  EXPECT_THAT(canonical, HasSubstr("\"descriptor_hash\":\"" + std::string(64, 'f') + "\""));
  EXPECT_THAT(canonical, HasSubstr(R"("interface_classes":["0a:ff","e0"])"));
  EXPECT_THAT(canonical, HasSubstr(R"("class":"fe:0b")"));
  EXPECT_THAT(canonical, HasSubstr(R"("classes":["08","e0"])"));
  EXPECT_THAT(canonical, HasSubstr(R"("allowed_egress":["fd00::/8","2001:db8::/32"])"));
  EXPECT_THAT(canonical, Not(HasSubstr("ABCD")));
}

TEST(PolicyCanonical, IntegersArePlainDecimal) {
  json::object doc = MinimalDocument();
  doc["version"] = UINT64_MAX;
  const std::string canonical = Canonicalize(MustParse(Text(doc)));
  EXPECT_THAT(canonical, HasSubstr(R"("version":18446744073709551615,)"));
}

TEST(PolicyCanonical, EscapedStringsCanonicalizeToOneSpelling) {
  json::object doc = MinimalDocument();
  const std::string head = Text(doc);
  // "\u00e9" and "é" are the same string; so are "\/" and "/".
  const std::string escaped =
      head.substr(0, head.size() - 1) + R"(,"mfa":{"users":["caf\u00e9","a\/b"]}})";
  const std::string plain = head.substr(0, head.size() - 1) + R"(,"mfa":{"users":["café","a/b"]}})";
  EXPECT_EQ(Canonicalize(MustParse(escaped)), Canonicalize(MustParse(plain)));
}

TEST(PolicyCanonical, PolicyWithTheMostRulesRoundTrips) {
  // 9,994 allow rules plus the six default class rules and combinations: the canonical form
  // lists all 10,000, and the terminal must accept what was signed.
  json::object doc = MinimalDocument();
  doc["usb"] = json::object{{"allow", test::AllowRules(9994)}};
  const Policy p = MustParse(Text(doc));
  EXPECT_TRUE(ParsePolicy(Canonicalize(p)).ok());

  // One more: 10,001 rules in the canonical form. Either the document is refused or its
  // canonical form is accepted; never accepted here and refused by a terminal.
  doc["usb"] = json::object{{"allow", test::AllowRules(9995)}};
  const ParseResult r = ParsePolicy(Text(doc));
  if (r.ok()) {
    const ParseResult again = ParsePolicy(Canonicalize(*r.policy));
    EXPECT_TRUE(again.ok()) << ::testing::PrintToString(ErrorStrings(again.errors));
  }
}

TEST(PolicyCanonical, AcceptedDocumentHasAnAcceptedCanonicalForm) {
  // Allow rules with 64-byte ids: the input is under 1 MiB, but the canonical form adds the
  // defaulted label, mode and lists to every rule.
  json::array allow;
  for (int i = 0; i < 10000; ++i) {
    std::string id = std::to_string(i);
    id = std::string(64 - id.size(), 'x') + id;
    allow.push_back(json::object{{"id", id}, {"vid", "0781"}});
  }
  json::object doc = MinimalDocument();
  doc["usb"] = json::object{
      {"allow", allow}, {"class_rules", json::array{}}, {"reject_combinations", json::array{}}};
  const std::string text = Text(doc);
  ASSERT_LE(text.size(), kMaxDocumentBytes);
  const ParseResult r = ParsePolicy(text);
  if (r.ok()) {
    const ParseResult again = ParsePolicy(Canonicalize(*r.policy));
    EXPECT_TRUE(again.ok()) << ::testing::PrintToString(ErrorStrings(again.errors));
  }
}

TEST(PolicyCanonical, AllowRuleNamedLikeADefaultClassRuleRoundTripsOrIsRefused) {
  json::object doc = MinimalDocument();
  doc["usb"] = json::object{{"allow", json::array{json::object{{"id", "hub"}, {"vid", "0781"}}}}};
  const ParseResult r = ParsePolicy(Text(doc));
  if (r.ok()) {
    const ParseResult again = ParsePolicy(Canonicalize(*r.policy));
    EXPECT_TRUE(again.ok()) << ::testing::PrintToString(ErrorStrings(again.errors));
  }
}

}  // namespace
}  // namespace mamori::policy
