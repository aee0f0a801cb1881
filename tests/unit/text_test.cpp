// Text forms of the policy: RFC 3339 times, class patterns, CIDRs, base64 and hex.
#include "mamori/policy/text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace mamori::policy {
namespace {

using namespace std::chrono;  // NOLINT: calendar literals

std::vector<unsigned char> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(PolicyText, TimestampsParseAsUtc) {
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00Z"), Timestamp{});
  EXPECT_EQ(ParseTimestamp("2026-04-01T00:00:00Z"), sys_days{2026y / April / 1});
  EXPECT_EQ(ParseTimestamp("2026-12-31T23:59:59Z"),
            sys_days{2026y / December / 31} + hours{23} + minutes{59} + seconds{59});
  EXPECT_EQ(ParseTimestamp("2026-11-23T09:00:00Z")->time_since_epoch().count(), 1795424400);
}

TEST(PolicyText, LeapDaysExistOnlyInLeapYears) {
  EXPECT_EQ(ParseTimestamp("2028-02-29T12:00:00Z"), sys_days{2028y / February / 29} + hours{12});
  EXPECT_TRUE(ParseTimestamp("2000-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseTimestamp("2026-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseTimestamp("2100-02-29T00:00:00Z"));
}

TEST(PolicyText, InvalidTimestampsAreRefused) {
  for (const char* bad : {
           "2026-12-31T23:59:60Z",  // leap second: not representable, refused
           "2026-12-31T24:00:00Z",      "2026-12-31T23:60:00Z",
           "2026-13-01T00:00:00Z",      "2026-00-01T00:00:00Z",
           "2026-04-00T00:00:00Z",      "2026-04-31T00:00:00Z",
           "2026-04-01T00:00:00+09:00", "2026-04-01T00:00:00-00:00",
           "2026-04-01T00:00:00.5Z",    "2026-04-01T00:00:00",
           "2026-04-01t00:00:00Z",      "2026-04-01T00:00:00z",
           "2026-04-01 00:00:00Z",      "2026-04-01",
           "26-04-01T00:00:00Z",        "2026-4-01T00:00:00Z",
           "2026-04-01T0:00:00Z",       " 2026-04-01T00:00:00Z",
           "2026-04-01T00:00:00Z ",     "+026-04-01T00:00:00Z",
           "2026-04-01T00:00:0aZ",      "",
       }) {
    EXPECT_FALSE(ParseTimestamp(bad)) << bad;
  }
}

TEST(PolicyText, TimestampsFormatBackToTheSameText) {
  for (const char* text : {"1970-01-01T00:00:00Z", "2028-02-29T23:59:59Z", "2026-11-23T09:05:07Z",
                           "9999-12-31T23:59:59Z"}) {
    const auto t = ParseTimestamp(text);
    ASSERT_TRUE(t) << text;
    EXPECT_EQ(FormatTimestamp(*t), text);
  }
}

TEST(PolicyText, ClassPatterns) {
  EXPECT_EQ(ParseClassPattern("08"), (ClassPattern{0x08, {}, {}}));
  EXPECT_EQ(ParseClassPattern("08:06"), (ClassPattern{0x08, 0x06, {}}));
  EXPECT_EQ(ParseClassPattern("08:06:50"), (ClassPattern{0x08, 0x06, 0x50}));
  EXPECT_EQ(ParseClassPattern("E0:Ff:0a"), (ClassPattern{0xe0, 0xff, 0x0a}));
  EXPECT_EQ(ParseClassPattern("08:*"), (ClassPattern{0x08, {}, {}}));
  EXPECT_EQ(ParseClassPattern("08:06:*"), (ClassPattern{0x08, 0x06, {}}));
  EXPECT_EQ(ParseClassPattern("08:*:*"), (ClassPattern{0x08, {}, {}}));
  for (const char* bad : {"", "*", "*:06", "8", "080", "0x8", "08:", ":06", "08::50", "08:6",
                          "08:06:50:00", "gg", "08:*:50", " 08", "08 ", "-1", "+8"}) {
    EXPECT_FALSE(ParseClassPattern(bad)) << bad;
  }
}

TEST(PolicyText, ClassPatternsFormatInLowercase) {
  EXPECT_EQ(FormatClassPattern({0x08, {}, {}}), "08");
  EXPECT_EQ(FormatClassPattern({0x08, 0x06, {}}), "08:06");
  EXPECT_EQ(FormatClassPattern({0xe0, 0xff, 0x0a}), "e0:ff:0a");
  for (const char* text : {"00", "ff", "08:06", "08:06:50", "fe:01:02"}) {
    EXPECT_EQ(FormatClassPattern(*ParseClassPattern(text)), text);
  }
}

TEST(PolicyText, CidrsWithoutHostBits) {
  for (const char* text : {"10.20.0.0/16", "10.20.0.0/15", "0.0.0.0/0", "192.168.1.7/32",
                           "fd00::/8", "::/0", "2001:db8::/32", "2001:db8::1/128"}) {
    const auto c = ParseCidr(text);
    ASSERT_TRUE(c) << text;
    EXPECT_EQ(FormatCidr(*c), text);
  }
  const auto v4 = ParseCidr("10.20.0.0/16");
  EXPECT_FALSE(v4->v6);
  EXPECT_EQ(v4->prefix, 16);
  EXPECT_EQ(v4->address[0], 10);
  EXPECT_EQ(v4->address[1], 20);
  EXPECT_TRUE(ParseCidr("fd00::/8")->v6);
  EXPECT_EQ(FormatCidr(*ParseCidr("2001:DB8:0:0::/32")), "2001:db8::/32");
}

TEST(PolicyText, CidrsWithHostBitsOrBadSyntaxAreRefused) {
  for (const char* bad : {"10.20.0.1/16",   "10.21.0.0/15",
                          "1.0.0.0/0",      "192.168.1.7/31",
                          "fd00::1/8",      "fd80::/8",
                          "::1/127",        "10.20.0.0",
                          "10.20.0.0/",     "/16",
                          "10.20.0.0/33",   "fd00::/129",
                          "10.20.0/16",     "010.20.0.0/16",
                          "10.20.0.0/016",  "10.20.0.0/+16",
                          "10.20.0.0/-1",   "10.20.0.0/ 16",
                          "example/8",      "fd00::%eth0/8",
                          "10.20.0.0/16/1", ""}) {
    EXPECT_FALSE(ParseCidr(bad)) << bad;
  }
}

TEST(PolicyText, Base64RoundTrip) {
  EXPECT_EQ(Base64Encode(Bytes("")), "");
  EXPECT_EQ(Base64Encode(Bytes("f")), "Zg==");
  EXPECT_EQ(Base64Encode(Bytes("fo")), "Zm8=");
  EXPECT_EQ(Base64Encode(Bytes("foo")), "Zm9v");
  EXPECT_EQ(Base64Encode(Bytes("foob")), "Zm9vYg==");
  EXPECT_EQ(Base64Encode(std::vector<unsigned char>{0xfb, 0xff}), "+/8=");
  for (const char* text : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(Base64Decode(Base64Encode(Bytes(text))), Bytes(text)) << text;
  }
  std::vector<unsigned char> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(Base64Decode(Base64Encode(all)), all);
}

TEST(PolicyText, NonCanonicalBase64IsRefused) {
  for (const char* bad : {
           "Zh==",   // stray bits after the last byte ("Zg==" is canonical)
           "Zm9=",   // likewise for "Zm8="
           "Zg",     // padding missing
           "Zg=",    // padding short
           "Zg===",  // padding long
           "Z===",
           "====",
           "=Zm9",
           "Zm=v",
           "Zm9v\n",
           " Zm9v",
           "Zm9 v",
           "Zm9vYg==Zm9v",  // padding in the middle
           "Zm-_",          // URL-safe alphabet
           "Zm9*",
       }) {
    EXPECT_FALSE(Base64Decode(bad)) << bad;
  }
}

TEST(PolicyText, Hex) {
  EXPECT_EQ(HexEncode(std::vector<unsigned char>{0x00, 0xab, 0xff, 0x10}), "00abff10");
  EXPECT_EQ(HexEncode(std::vector<unsigned char>{}), "");
  EXPECT_EQ(HexDecode("00abff10"), (std::vector<unsigned char>{0x00, 0xab, 0xff, 0x10}));
  EXPECT_EQ(HexDecode("00ABFF10"), (std::vector<unsigned char>{0x00, 0xab, 0xff, 0x10}));
  EXPECT_EQ(HexDecode(""), std::vector<unsigned char>{});
  for (const char* bad : {"0", "abc", "0g", "g0", " 0", "0 ", "+1", "-1", "0x", "zz"}) {
    EXPECT_FALSE(HexDecode(bad)) << bad;
  }
}

TEST(PolicyText, ActionNamesAreTheDocumentSpellings) {
  EXPECT_EQ(ToString(UsbAction::kBlock), "block");
  EXPECT_EQ(ToString(UsbAction::kReadOnly), "read-only");
  EXPECT_EQ(ToString(UsbAction::kAllow), "allow");
  EXPECT_EQ(ToString(UsbAction::kReject), "reject");
  EXPECT_EQ(ToString(AllowMode::kAllow), "allow");
  EXPECT_EQ(ToString(AllowMode::kReadOnly), "read-only");
  EXPECT_EQ(ToString(EnforcementMode::kEnforce), "enforce");
  EXPECT_EQ(ToString(EnforcementMode::kAudit), "audit");
}

}  // namespace
}  // namespace mamori::policy
