#include "mamori/agent/recovery_codes.h"

#include <gtest/gtest.h>

#include <set>

namespace mamori::agent {
namespace {

constexpr std::uint32_t kFastIterations = 1000;

TEST(RecoveryCodesTest, TenDistinctEightDigitCodesEachMatchingItsOwnHash) {
  auto set = GenerateRecoveryCodes(kFastIterations);
  ASSERT_TRUE(set.has_value());
  ASSERT_EQ(set->codes.size(), kRecoveryCodeCount);
  ASSERT_EQ(set->hashes.hashes.size(), kRecoveryCodeCount);
  EXPECT_EQ(set->hashes.salt.size(), 16u);
  std::set<std::string> distinct;
  for (std::size_t i = 0; i < set->codes.size(); ++i) {
    const std::string& code = set->codes[i];
    ASSERT_EQ(code.size(), 9u);
    EXPECT_EQ(code[4], '-');
    auto normalized = NormalizeRecoveryCode(code);
    ASSERT_TRUE(normalized.has_value());
    distinct.insert(*normalized);
    EXPECT_EQ(MatchRecoveryCode(set->hashes, *normalized), std::optional<std::size_t>(i));
  }
  EXPECT_EQ(distinct.size(), kRecoveryCodeCount);
}

TEST(RecoveryCodesTest, UsedCodeAndWrongCodeDoNotMatch) {
  auto set = GenerateRecoveryCodes(kFastIterations);
  ASSERT_TRUE(set.has_value());
  const std::string code = *NormalizeRecoveryCode(set->codes[3]);
  set->hashes.hashes[3].clear();
  EXPECT_EQ(MatchRecoveryCode(set->hashes, code), std::nullopt);
  EXPECT_EQ(set->hashes.Remaining(), kRecoveryCodeCount - 1);
  std::string wrong = *NormalizeRecoveryCode(set->codes[0]);
  wrong[7] = wrong[7] == '0' ? '1' : '0';
  EXPECT_EQ(MatchRecoveryCode(set->hashes, wrong), std::nullopt);
}

TEST(RecoveryCodesTest, Normalization) {
  EXPECT_EQ(NormalizeRecoveryCode("1234-5678"), std::optional<std::string>("12345678"));
  EXPECT_EQ(NormalizeRecoveryCode("1234 5678"), std::optional<std::string>("12345678"));
  EXPECT_EQ(NormalizeRecoveryCode("1234567"), std::nullopt);
  EXPECT_EQ(NormalizeRecoveryCode("1234-567x"), std::nullopt);
}

}  // namespace
}  // namespace mamori::agent
