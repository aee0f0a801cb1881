#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "mamori/agent/policy_state.h"
#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/text.h"

namespace mamori::agent {
namespace {

using policy::SigningKey;

class PolicyStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mamori-policy-state-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    trust_.keys.push_back(key_.public_key());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Bundle(std::uint64_t version, const std::string& expires = "2030-01-01T00:00:00Z",
                     const SigningKey* key = nullptr) {
    auto parsed = policy::ParsePolicy(R"({"schema":1,"version":)" + std::to_string(version) +
                                      R"(,"issued_at":"2026-01-01T00:00:00Z","expires_at":")" +
                                      expires + R"(","targets":["kokuho"]})");
    EXPECT_TRUE(parsed.ok());
    const SigningKey* keys[] = {key ? key : &key_};
    return policy::SerializeBundle(policy::SignPolicy(policy::Canonicalize(*parsed.policy), keys));
  }
  PolicyState State() { return PolicyState(platform::Env::Default(), dir_, trust_, {"kokuho"}); }
  std::string StoredBundle() {
    std::ifstream in(dir_ + "/policy.bundle");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  const policy::Timestamp now_ = *policy::ParseTimestamp("2026-06-01T00:00:00Z");
  SigningKey key_ = SigningKey::Generate();
  policy::TrustSet trust_;
  std::string dir_;
};

TEST_F(PolicyStateTest, WithoutStoredPolicyRunsFailClosedDefaults) {
  PolicyState state = State();
  ASSERT_TRUE(state.Load().ok());
  EXPECT_FALSE(state.version());
  EXPECT_EQ(state.current().usb.default_action, policy::UsbAction::kBlock);
  EXPECT_EQ(state.current().usb.mode, policy::EnforcementMode::kEnforce);
  EXPECT_TRUE(state.current().mfa.deny_unenrolled);
}

TEST_F(PolicyStateTest, AcceptedBundleIsStoredPrivatelyAndSurvivesRestart) {
  const std::string bundle = Bundle(3);
  {
    PolicyState state = State();
    ASSERT_TRUE(state.Load().ok());
    auto r = state.Offer(bundle, now_);
    EXPECT_TRUE(r.applied) << r.message;
    EXPECT_EQ(state.version(), 3u);
  }
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/policy.bundle").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  PolicyState restarted = State();
  ASSERT_TRUE(restarted.Load().ok());
  EXPECT_EQ(restarted.version(), 3u);
  EXPECT_EQ(restarted.hash(), policy::PolicyHash(policy::Canonicalize(restarted.current())));
}

TEST_F(PolicyStateTest, RejectedBundlesLeaveTheLastGoodPolicy) {
  PolicyState state = State();
  ASSERT_TRUE(state.Load().ok());
  ASSERT_TRUE(state.Offer(Bundle(5), now_).applied);
  const std::string stored = StoredBundle();

  auto rollback = state.Offer(Bundle(4), now_);
  ASSERT_TRUE(rollback.rejected);
  EXPECT_EQ(*rollback.rejected, policy::VerifyError::kRollback);

  SigningKey stranger = SigningKey::Generate();
  auto forged = state.Offer(Bundle(6, "2030-01-01T00:00:00Z", &stranger), now_);
  ASSERT_TRUE(forged.rejected);
  EXPECT_EQ(*forged.rejected, policy::VerifyError::kUnknownKey);

  auto expired = state.Offer(Bundle(7, "2026-05-01T00:00:00Z"), now_);
  ASSERT_TRUE(expired.rejected);
  EXPECT_EQ(*expired.rejected, policy::VerifyError::kExpired);

  EXPECT_EQ(state.version(), 5u);
  EXPECT_EQ(StoredBundle(), stored);
}

TEST_F(PolicyStateTest, SameBundleAgainIsANoOp) {
  PolicyState state = State();
  const std::string bundle = Bundle(2);
  ASSERT_TRUE(state.Offer(bundle, now_).applied);
  auto again = state.Offer(bundle, now_);
  EXPECT_FALSE(again.applied);
  EXPECT_TRUE(again.already_applied);
  EXPECT_FALSE(again.rejected);
}

TEST_F(PolicyStateTest, StoredPolicyThatExpiredSinceStaysInForce) {
  {
    PolicyState state = State();
    ASSERT_TRUE(state.Offer(Bundle(9, "2026-07-01T00:00:00Z"), now_).applied);
  }
  PolicyState later = State();  // Load judges no expiry, whatever today's date is
  ASSERT_TRUE(later.Load().ok());
  EXPECT_EQ(later.version(), 9u);
}

TEST_F(PolicyStateTest, TamperedStoredPolicyFallsBackToDefaults) {
  {
    PolicyState state = State();
    ASSERT_TRUE(state.Offer(Bundle(4), now_).applied);
  }
  std::string stored = StoredBundle();
  stored.replace(stored.find("\\\"version\\\":4"), 13, "\\\"version\\\":8");
  std::ofstream(dir_ + "/policy.bundle", std::ios::trunc) << stored;
  PolicyState state = State();
  platform::Status s = state.Load();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bad signature"), std::string::npos) << s.message();
  EXPECT_FALSE(state.version());
  EXPECT_EQ(state.current().usb.default_action, policy::UsbAction::kBlock);
}

TEST_F(PolicyStateTest, StorageFailureKeepsThePreviousPolicy) {
  PolicyState state = State();
  ASSERT_TRUE(state.Offer(Bundle(1), now_).applied);
  std::filesystem::remove_all(dir_);  // the write of the next bundle must fail
  auto r = state.Offer(Bundle(2), now_);
  EXPECT_FALSE(r.applied);
  EXPECT_FALSE(r.rejected);
  EXPECT_NE(r.message.find(dir_), std::string::npos) << r.message;
  EXPECT_EQ(state.version(), 1u);
}

}  // namespace
}  // namespace mamori::agent
