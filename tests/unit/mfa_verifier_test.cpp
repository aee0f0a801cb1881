#include "mamori/agent/mfa_verifier.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "temp_dir.h"

namespace mamori::agent {
namespace {

constexpr std::time_t kNow = 1763900000;  // 2025-11-23T12:13:20Z

SecretBytes TestSecret() {
  const std::string s = "12345678901234567890";
  return SecretBytes(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

class MfaVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CredentialStore::Open(tmp_.path() + "/state", &store_).ok());
    CredentialRecord r;
    r.user = "alice";
    r.totp = {TotpAlgorithm::kSha1, 6, 30};
    r.secret = *store_->host_key().Seal(TestSecret(), SecretBinding("alice"));
    r.enrolled_at = kNow - 86400;
    auto recovery = GenerateRecoveryCodes(1000);
    ASSERT_TRUE(recovery.has_value());
    recovery_codes_ = recovery->codes;
    r.recovery = recovery->hashes;
    ASSERT_TRUE(store_->Save(r).ok());
  }

  std::string Code(std::time_t t) {
    return GenerateTotp(TestSecret(), {TotpAlgorithm::kSha1, 6, 30}, t);
  }
  std::string Wrong(std::time_t t) {
    std::string c = Code(t);
    c[0] = c[0] == '9' ? '0' : static_cast<char>(c[0] + 1);
    return c;
  }
  std::string RecordFile() { return tmp_.path() + "/state/mfa/alice.cred"; }
  std::string RecordBytes() {
    std::ifstream in(RecordFile());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string StateBytes() {
    std::ifstream in(tmp_.path() + "/state/mfa/alice.state");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  CredentialRecord Load() {
    std::optional<CredentialRecord> r;
    EXPECT_TRUE(store_->Load("alice", &r).ok());
    return r.value_or(CredentialRecord{});
  }

  mamori::testing::TempDir tmp_;
  std::unique_ptr<CredentialStore> store_;
  std::vector<std::string> recovery_codes_;
  MfaSettings settings_{1, 3, 900};
};

TEST_F(MfaVerifierTest, RightCodeAcceptedAndPersistedWrongCodeRejected) {
  MfaVerifier v(*store_, settings_);
  EXPECT_EQ(v.Verify("alice", Wrong(kNow), kNow).verdict, Verdict::kRejected);
  EXPECT_EQ(Load().failures, 1u);
  const VerifyResult accepted = v.Verify("alice", Code(kNow), kNow);
  EXPECT_EQ(accepted.verdict, Verdict::kAccepted);
  EXPECT_EQ(accepted.step, static_cast<std::uint64_t>(kNow / 30));
  CredentialRecord r = Load();
  EXPECT_EQ(r.last_step, static_cast<std::uint64_t>(kNow / 30));
  EXPECT_EQ(r.failures, 0u);
}

TEST_F(MfaVerifierTest, StoredSecretIsNotPlaintextAndFilesArePrivate) {
  const std::string bytes = RecordBytes();
  EXPECT_EQ(bytes.find("12345678901234567890"), std::string::npos);
  EXPECT_EQ(bytes.find("GEZDGNBVGY3TQOJQ"), std::string::npos);
  struct stat st;
  ASSERT_EQ(::stat(RecordFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((tmp_.path() + "/state/mfa/host.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  ASSERT_EQ(::stat((tmp_.path() + "/state/mfa").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(MfaVerifierTest, ReplayOfUsedOrOlderStepRefused) {
  MfaVerifier v(*store_, MfaSettings{1, 5, 900});
  ASSERT_EQ(v.Verify("alice", Code(kNow), kNow).verdict, Verdict::kAccepted);
  EXPECT_EQ(v.Verify("alice", Code(kNow), kNow).verdict, Verdict::kReplay);
  EXPECT_EQ(v.Verify("alice", Code(kNow), kNow + 29).verdict, Verdict::kReplay);
  // The previous step's code is still inside the window but older than the accepted one.
  EXPECT_EQ(v.Verify("alice", Code(kNow - 30), kNow).verdict, Verdict::kReplay);
  EXPECT_EQ(Load().failures, 3u);
  EXPECT_EQ(v.Verify("alice", Code(kNow + 30), kNow + 30).verdict, Verdict::kAccepted);
}

TEST_F(MfaVerifierTest, WindowAllowsOneStepOfDrift) {
  MfaVerifier v(*store_, settings_);
  EXPECT_EQ(v.Verify("alice", Code(kNow - 60), kNow).verdict, Verdict::kRejected);
  EXPECT_EQ(v.Verify("alice", Code(kNow + 30), kNow).verdict, Verdict::kAccepted);
}

TEST_F(MfaVerifierTest, LockoutAfterMaxFailuresUntilItExpires) {
  MfaVerifier v(*store_, settings_);
  EXPECT_EQ(v.Verify("alice", Wrong(kNow), kNow).verdict, Verdict::kRejected);
  EXPECT_EQ(v.Verify("alice", Wrong(kNow), kNow).verdict, Verdict::kRejected);
  VerifyResult third = v.Verify("alice", Wrong(kNow), kNow);
  EXPECT_EQ(third.verdict, Verdict::kRejected);
  EXPECT_TRUE(third.lockout_started);
  EXPECT_EQ(Load().locked_until, kNow + 900);
  // While locked even the right code is refused, and recovery codes too.
  EXPECT_EQ(v.Verify("alice", Code(kNow + 30), kNow + 30).verdict, Verdict::kLocked);
  EXPECT_EQ(v.Verify("alice", recovery_codes_[0], kNow + 30).verdict, Verdict::kLocked);
  EXPECT_EQ(v.Verify("alice", Code(kNow + 899), kNow + 899).verdict, Verdict::kLocked);
  EXPECT_EQ(v.Verify("alice", Code(kNow + 900), kNow + 900).verdict, Verdict::kAccepted);
}

TEST_F(MfaVerifierTest, UnlockByResettingTheRecord) {
  MfaVerifier v(*store_, settings_);
  for (int i = 0; i < 3; ++i) v.Verify("alice", Wrong(kNow), kNow);
  ASSERT_EQ(v.Verify("alice", Code(kNow), kNow).verdict, Verdict::kLocked);
  CredentialRecord r = Load();
  r.locked_until = 0;
  r.failures = 0;
  ASSERT_TRUE(store_->Save(r).ok());
  EXPECT_EQ(v.Verify("alice", Code(kNow), kNow).verdict, Verdict::kAccepted);
}

TEST_F(MfaVerifierTest, RecoveryCodeAcceptedExactlyOnce) {
  MfaVerifier v(*store_, settings_);
  VerifyResult first = v.Verify("alice", recovery_codes_[4], kNow);
  EXPECT_EQ(first.verdict, Verdict::kAcceptedRecovery);
  EXPECT_EQ(first.recovery_remaining, 9u);
  EXPECT_EQ(v.Verify("alice", recovery_codes_[4], kNow).verdict, Verdict::kRejected);
  EXPECT_EQ(v.Verify("alice", *NormalizeRecoveryCode(recovery_codes_[4]), kNow).verdict,
            Verdict::kRejected);
  EXPECT_EQ(v.Verify("alice", recovery_codes_[5], kNow).verdict, Verdict::kAcceptedRecovery);
  EXPECT_EQ(Load().recovery.Remaining(), 8u);
}

TEST_F(MfaVerifierTest, UnknownOrInvalidUserIsNotEnrolled) {
  MfaVerifier v(*store_, settings_);
  EXPECT_EQ(v.Verify("bob", Code(kNow), kNow).verdict, Verdict::kNotEnrolled);
  EXPECT_EQ(v.Verify("../alice", Code(kNow), kNow).verdict, Verdict::kNotEnrolled);
}

TEST_F(MfaVerifierTest, RecordMovedToAnotherUserDoesNotDecrypt) {
  CredentialRecord r = Load();
  r.user = "mallory";
  ASSERT_TRUE(store_->Save(r).ok());
  MfaVerifier v(*store_, settings_);
  VerifyResult result = v.Verify("mallory", Code(kNow), kNow);
  EXPECT_EQ(result.verdict, Verdict::kError);
  EXPECT_NE(result.error.find("does not decrypt"), std::string::npos) << result.error;
}

TEST_F(MfaVerifierTest, InvalidRecordIsNeverSaved) {
  const std::string before = RecordBytes();
  CredentialRecord r = Load();
  r.recovery.salt.clear();
  platform::Status s = store_->Save(r);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/recovery/salt"), std::string::npos) << s.message();
  EXPECT_EQ(RecordBytes(), before);
}

TEST_F(MfaVerifierTest, SymlinkPlantedAsRecordIsNotFollowed) {
  const std::string victim = tmp_.path() + "/victim.cred";
  std::filesystem::copy_file(RecordFile(), victim);
  ASSERT_EQ(::unlink(RecordFile().c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), RecordFile().c_str()), 0);
  const std::string before = [&] {
    std::ifstream in(victim);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }();
  MfaVerifier v(*store_, settings_);
  VerifyResult result = v.Verify("alice", Code(kNow), kNow);
  EXPECT_EQ(result.verdict, Verdict::kError);
  EXPECT_NE(result.error.find("alice.cred"), std::string::npos) << result.error;
  std::ifstream in(victim);
  std::stringstream after;
  after << in.rdbuf();
  EXPECT_EQ(after.str(), before);
}

TEST_F(MfaVerifierTest, SymlinkPlantedAsLockIsNotFollowed) {
  const std::string victim = tmp_.path() + "/victim";
  { std::ofstream(victim) << "precious"; }
  ASSERT_EQ(::symlink(victim.c_str(), (tmp_.path() + "/state/mfa/alice.lock").c_str()), 0);
  MfaVerifier v(*store_, settings_);
  EXPECT_EQ(v.Verify("alice", Code(kNow), kNow).verdict, Verdict::kError);
  std::ifstream in(victim);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

// A real write failure: the file size limit makes the record write fail with EFBIG.
TEST_F(MfaVerifierTest, FailedWriteDeniesAndLeavesStoreIntact) {
  const std::string before = RecordBytes();
  const std::string state_before = StateBytes();
  MfaVerifier v(*store_, settings_);
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  // Below the size of the state log written at enrollment, so no byte can be appended to it.
  struct rlimit tiny = {32, old_limit.rlim_max};
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tiny), 0);
  VerifyResult right = v.Verify("alice", Code(kNow), kNow);
  VerifyResult wrong = v.Verify("alice", Wrong(kNow), kNow);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(right.verdict, Verdict::kError);
  EXPECT_NE(right.error.find("alice.state"), std::string::npos) << right.error;
  EXPECT_EQ(wrong.verdict, Verdict::kError);
  EXPECT_EQ(RecordBytes(), before);
  EXPECT_EQ(StateBytes(), state_before);
  for (const auto& entry : std::filesystem::directory_iterator(tmp_.path() + "/state/mfa")) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos)
        << "temp file left: " << entry.path();
  }
  // The same code still works once the disk accepts writes: nothing was consumed.
  EXPECT_EQ(v.Verify("alice", Code(kNow), kNow).verdict, Verdict::kAccepted);
}

TEST_F(MfaVerifierTest, ParallelVerificationsOfOneCodeAcceptItOnce) {
  for (int round = 0; round < 20; ++round) {
    const std::time_t now = kNow + 30 * round;
    const std::string code = Code(now);
    std::atomic<int> accepted{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; ++i) {
      threads.emplace_back([&] {
        // Each thread has its own verifier, as each agent connection does.
        MfaVerifier v(*store_, settings_);
        if (v.Verify("alice", code, now).verdict == Verdict::kAccepted) ++accepted;
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(accepted.load(), 1) << "round " << round;
    // Replays count as failures; clear them so the next round starts unlocked.
    CredentialRecord r = Load();
    r.failures = 0;
    r.locked_until = 0;
    ASSERT_TRUE(store_->Save(r).ok());
  }
}

// The journal record of a verdict overlaps the flush of the state log, but never runs ahead of the
// state being written: an event always describes a state that is on its way to the disk, and
// Verify returns only after both.
TEST_F(MfaVerifierTest, VerdictIsRecordedOnceAfterTheStateIsWritten) {
  MfaVerifier v(*store_, settings_);
  int calls = 0;
  std::string state_seen;
  auto record = [&](const VerifyResult& r) {
    ++calls;
    EXPECT_EQ(r.verdict, Verdict::kAccepted);
    state_seen = StateBytes();
  };
  const VerifyResult accepted = v.Verify("alice", Code(kNow), kNow, record);
  EXPECT_EQ(accepted.verdict, Verdict::kAccepted);
  EXPECT_EQ(calls, 1);
  EXPECT_NE(state_seen.find("\"last_step\":" + std::to_string(kNow / 30)), std::string::npos)
      << state_seen;
  calls = 0;
  auto record_failure = [&](const VerifyResult& r) {
    ++calls;
    EXPECT_EQ(r.verdict, Verdict::kReplay);
    state_seen = StateBytes();
  };
  EXPECT_EQ(v.Verify("alice", Code(kNow), kNow, record_failure).verdict, Verdict::kReplay);
  EXPECT_EQ(calls, 1);
  EXPECT_NE(state_seen.find("\"failures\":1"), std::string::npos) << state_seen;
}

// A state that cannot be written is never recorded as a verdict: the login is an error, and the
// caller records that instead.
TEST_F(MfaVerifierTest, UnwrittenStateIsNeverRecordedAsAVerdict) {
  MfaVerifier v(*store_, settings_);
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit tiny = {32, old_limit.rlim_max};
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tiny), 0);
  int calls = 0;
  VerifyResult r = v.Verify("alice", Code(kNow), kNow, [&](const VerifyResult&) { ++calls; });
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace mamori::agent
