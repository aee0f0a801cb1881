#include <gtest/gtest.h>

#include "mamori/collector/tokens.h"

namespace mamori::collector {
namespace {

TEST(CollectorTokens, GeneratedTokenParsesAndMatchesOnlyItsSecret) {
  const NewToken token = GenerateToken(kApiTokenPrefix);
  auto parts = ParseToken(token.text, kApiTokenPrefix);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->id, token.id);
  EXPECT_TRUE(SecretMatches(parts->secret, token.secret_hash));
  std::string wrong = parts->secret;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(SecretMatches(wrong, token.secret_hash));
  EXPECT_EQ(token.secret_hash.size(), 32u);
  EXPECT_EQ(token.text.find(token.secret_hash), std::string::npos);
}

TEST(CollectorTokens, TokensAreUnique) {
  EXPECT_NE(GenerateToken(kApiTokenPrefix).text, GenerateToken(kApiTokenPrefix).text);
}

TEST(CollectorTokens, RejectsOtherKindsAndMalformedText) {
  const NewToken token = GenerateToken(kEnrollmentTokenPrefix);
  EXPECT_FALSE(ParseToken(token.text, kApiTokenPrefix));
  EXPECT_FALSE(ParseToken(token.text + "0", kEnrollmentTokenPrefix));
  EXPECT_FALSE(ParseToken("", kEnrollmentTokenPrefix));
  std::string upper = token.text;
  upper.back() = 'Z';
  EXPECT_FALSE(ParseToken(upper, kEnrollmentTokenPrefix));
  std::string no_dot = token.text;
  no_dot[4 + 16] = '-';
  EXPECT_FALSE(ParseToken(no_dot, kEnrollmentTokenPrefix));
}

}  // namespace
}  // namespace mamori::collector
