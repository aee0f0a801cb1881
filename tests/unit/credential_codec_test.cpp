#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mamori/agent/credential.h"

namespace mamori::agent {
namespace {

CredentialRecord Sample() {
  CredentialRecord r;
  r.user = "alice";
  r.totp = {TotpAlgorithm::kSha256, 8, 30};
  r.secret.nonce.assign(12, 1);
  r.secret.ciphertext.assign(20, 2);
  r.secret.tag.assign(16, 3);
  r.enrolled_at = 1763900000;
  r.last_step = 58796666;
  r.failures = 2;
  r.locked_until = 1763900900;
  r.recovery.salt.assign(16, 4);
  r.recovery.hashes.assign(10, std::vector<unsigned char>(32, 5));
  r.recovery.hashes[2].clear();
  return r;
}

TEST(CredentialCodecTest, RoundTrip) {
  const CredentialRecord r = Sample();
  std::string error;
  auto back = ParseCredential(SerializeCredential(r), &error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_EQ(*back, r);
}

std::string Mutate(const std::function<void(boost::json::object&)>& f) {
  boost::json::value v = boost::json::parse(SerializeCredential(Sample()));
  f(v.as_object());
  return boost::json::serialize(v);
}

TEST(CredentialCodecTest, ErrorsNameTheField) {
  struct Case {
    std::string text;
    std::string error_prefix;
  };
  const Case cases[] = {
      {"{", "not valid JSON"},
      {Mutate([](auto& o) { o["version"] = 2; }), "/version: unsupported version"},
      {Mutate([](auto& o) { o.erase("user"); }), "/user: is missing"},
      {Mutate([](auto& o) { o["user"] = "../root"; }), "/user: is not a valid user name"},
      {Mutate([](auto& o) { o["totp"].as_object()["algorithm"] = "MD5"; }),
       "/totp/algorithm: must be SHA1, SHA256 or SHA512"},
      {Mutate([](auto& o) { o["totp"].as_object()["digits"] = 5; }), "/totp/digits: must be 6"},
      {Mutate([](auto& o) { o["secret"].as_object()["nonce"] = "AAAA"; }),
       "/secret/nonce: must decode to 12..12 bytes"},
      {Mutate([](auto& o) { o["failures"] = -1; }), "/failures: must be a non-negative integer"},
      {Mutate([](auto& o) { o["recovery"].as_object()["hashes"].as_array()[1] = "AAAA"; }),
       "/recovery/hashes/1: must be an empty string or the Base64 of 32 bytes"},
      {Mutate([](auto& o) { o["extra"] = true; }), "/extra: is not a known field"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(ParseCredential(c.text, &error).has_value()) << c.text;
    EXPECT_EQ(error.substr(0, c.error_prefix.size()), c.error_prefix) << error;
  }
}

TEST(CredentialCodecTest, ImportFormat) {
  const std::string text = R"({"format":"mamori-mfa-import","version":1,"user":"bob",
    "totp":{"algorithm":"SHA1","digits":6,"period":30},
    "secret_base32":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","enrolled_at":1763900000,
    "recovery":{"kdf":"PBKDF2-HMAC-SHA256","iterations":60000,
                "salt":"AAAAAAAAAAAAAAAAAAAAAA==","hashes":[]}})";
  std::string error;
  auto c = ParseCredentialImport(text, &error);
  ASSERT_TRUE(c.has_value()) << error;
  EXPECT_EQ(c->user, "bob");
  EXPECT_EQ(std::string(c->secret.data(), c->secret.data() + c->secret.size()),
            "12345678901234567890");

  std::string short_secret = text;
  short_secret.replace(short_secret.find("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), 32, "GEZDGNBV");
  EXPECT_FALSE(ParseCredentialImport(short_secret, &error).has_value());
  EXPECT_EQ(error, "/secret_base32: must decode to 20..64 bytes (at least 160 bits)");
}

TEST(CredentialCodecTest, UserNames) {
  EXPECT_TRUE(ValidUserName("alice"));
  EXPECT_TRUE(ValidUserName("taro.yamada@city"));
  EXPECT_FALSE(ValidUserName(""));
  EXPECT_FALSE(ValidUserName(".hidden"));
  EXPECT_FALSE(ValidUserName("a/b"));
  EXPECT_FALSE(ValidUserName("-x"));
  EXPECT_FALSE(ValidUserName(std::string(65, 'a')));
}

}  // namespace
}  // namespace mamori::agent
