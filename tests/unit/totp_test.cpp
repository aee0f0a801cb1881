#include "mamori/agent/totp.h"

#include <gtest/gtest.h>

#include <string>

namespace mamori::agent {
namespace {

SecretBytes Ascii(const std::string& s) {
  return SecretBytes(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

struct Rfc6238Vector {
  std::time_t time;
  const char* sha1;
  const char* sha256;
  const char* sha512;
};

// RFC 6238 Appendix B, 8 digits, 30 s steps.
constexpr Rfc6238Vector kVectors[] = {
    {59, "94287082", "46119246", "90693936"},
    {1111111109, "07081804", "68084774", "25091201"},
    {1111111111, "14050471", "67062674", "99943326"},
    {1234567890, "89005924", "91819424", "93441116"},
    {2000000000, "69279037", "90698825", "38618901"},
    {20000000000, "65353130", "77737706", "47863826"},
};

struct AlgorithmCase {
  TotpAlgorithm algorithm;
  std::string seed;  // the RFC's key for this hash
  const char* Rfc6238Vector::*expected;
};

const AlgorithmCase kCases[] = {
    {TotpAlgorithm::kSha1, "12345678901234567890", &Rfc6238Vector::sha1},
    {TotpAlgorithm::kSha256, "12345678901234567890123456789012", &Rfc6238Vector::sha256},
    {TotpAlgorithm::kSha512, "1234567890123456789012345678901234567890123456789012345678901234",
     &Rfc6238Vector::sha512},
};

TEST(TotpTest, Rfc6238VectorsGenerate) {
  for (const auto& c : kCases) {
    SecretBytes key = Ascii(c.seed);
    TotpParams p{c.algorithm, 8, 30};
    for (const auto& v : kVectors) {
      EXPECT_EQ(GenerateTotp(key, p, v.time), v.*c.expected)
          << ToString(c.algorithm) << " at " << v.time;
    }
  }
}

TEST(TotpTest, Rfc6238VectorsMatchAtTheirStep) {
  for (const auto& c : kCases) {
    SecretBytes key = Ascii(c.seed);
    TotpParams p{c.algorithm, 8, 30};
    for (const auto& v : kVectors) {
      auto step = MatchTotp(key, p, v.time, 0, v.*c.expected);
      ASSERT_TRUE(step.has_value()) << ToString(c.algorithm) << " at " << v.time;
      EXPECT_EQ(*step, static_cast<std::uint64_t>(v.time) / 30);
    }
  }
}

TEST(TotpTest, WindowAcceptsNeighbouringStepsOnly) {
  SecretBytes key = Ascii("12345678901234567890");
  TotpParams p{TotpAlgorithm::kSha1, 8, 30};
  const std::time_t now = 1111111111;  // step 37037037
  const std::string previous = GenerateTotp(key, p, now - 30);
  const std::string next = GenerateTotp(key, p, now + 30);
  const std::string two_back = GenerateTotp(key, p, now - 60);
  EXPECT_EQ(MatchTotp(key, p, now, 1, previous), std::optional<std::uint64_t>(37037036));
  EXPECT_EQ(MatchTotp(key, p, now, 1, next), std::optional<std::uint64_t>(37037038));
  EXPECT_EQ(MatchTotp(key, p, now, 1, two_back), std::nullopt);
  EXPECT_EQ(MatchTotp(key, p, now, 0, previous), std::nullopt);
  EXPECT_EQ(MatchTotp(key, p, now, 2, two_back), std::optional<std::uint64_t>(37037035));
}

TEST(TotpTest, MalformedCodesNeverMatch) {
  SecretBytes key = Ascii("12345678901234567890");
  TotpParams p{TotpAlgorithm::kSha1, 8, 30};
  EXPECT_EQ(MatchTotp(key, p, 59, 1, "9428708"), std::nullopt);    // too short
  EXPECT_EQ(MatchTotp(key, p, 59, 1, "942870820"), std::nullopt);  // too long
  EXPECT_EQ(MatchTotp(key, p, 59, 1, "9428708a"), std::nullopt);
  EXPECT_EQ(MatchTotp(key, p, 59, 1, ""), std::nullopt);
  EXPECT_EQ(MatchTotp(key, p, 59, 1, std::string("9428708\0", 8)), std::nullopt);
}

TEST(TotpTest, SixDigitCodesAreTheLowDigits) {
  SecretBytes key = Ascii("12345678901234567890");
  TotpParams p{TotpAlgorithm::kSha1, 6, 30};
  EXPECT_EQ(GenerateTotp(key, p, 59), "287082");
  EXPECT_TRUE(MatchTotp(key, p, 59, 0, "287082").has_value());
}

TEST(TotpTest, Base32RoundTripAndAppForm) {
  SecretBytes key = Ascii("12345678901234567890");
  const std::string text = Base32Encode(key);
  EXPECT_EQ(text, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  auto back = Base32Decode(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(std::string(back->data(), back->data() + back->size()), "12345678901234567890");
  EXPECT_FALSE(Base32Decode("not base32!").has_value());
}

}  // namespace
}  // namespace mamori::agent
