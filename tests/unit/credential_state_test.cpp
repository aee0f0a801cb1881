// The per-user state log: its format, torn tails, compaction, the old format with counters in the
// credential file, and a crash right after a login's append.
#include "mamori/agent/credential_state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "mamori/agent/credential_store.h"
#include "mamori/agent/mfa_verifier.h"
#include "temp_dir.h"

namespace mamori::agent {
namespace {

constexpr std::time_t kNow = 1763900000;

SecretBytes TestSecret() {
  const std::string s = "12345678901234567890";
  return SecretBytes(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

TEST(StateLogFormatTest, LastValidRecordWinsAndTornTailIsIgnored) {
  const std::string a = SerializeStateRecord({100, 0, 0});
  const std::string b = SerializeStateRecord({101, 2, 0});
  EXPECT_EQ(a.back(), '\n');
  EXPECT_EQ(std::count(a.begin(), a.end(), '\n'), 1);

  StateLogScan scan = ScanStateLog(a + b);
  EXPECT_EQ(scan.last, (CredentialCounters{101, 2, 0}));
  EXPECT_EQ(scan.records, 2u);
  EXPECT_FALSE(scan.torn_tail);

  // Every cut inside the second record leaves the first as the state.
  for (std::size_t cut = 0; cut < b.size(); ++cut) {
    scan = ScanStateLog(a + b.substr(0, cut));
    EXPECT_EQ(scan.last, (CredentialCounters{100, 0, 0})) << "cut at " << cut;
    EXPECT_EQ(scan.torn_tail, cut > 0) << "cut at " << cut;
  }
  // A cut-short record followed by a newline (zeros after a power loss) is skipped.
  scan = ScanStateLog(a + std::string(5, '\0') + "\n" + b);
  EXPECT_EQ(scan.last, (CredentialCounters{101, 2, 0}));
  EXPECT_FALSE(ScanStateLog("").last.has_value());
  EXPECT_FALSE(ScanStateLog("{\"v\":2,\"last_step\":1,\"failures\":0,\"locked_until\":0}\n")
                   .last.has_value());
  EXPECT_FALSE(ScanStateLog("{\"v\":1,\"last_step\":-1,\"failures\":0,\"locked_until\":0}\n")
                   .last.has_value());
}

class CredentialStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CredentialStore::Open(tmp_.path() + "/state", &store_).ok());
    record_.user = "alice";
    record_.totp = {TotpAlgorithm::kSha1, 6, 30};
    record_.secret = *store_->host_key().Seal(TestSecret(), SecretBinding("alice"));
    record_.enrolled_at = kNow - 86400;
    record_.recovery = GenerateRecoveryCodes(1000)->hashes;
    ASSERT_TRUE(store_->Save(record_).ok());
  }
  std::string Path(const std::string& name) { return tmp_.path() + "/state/mfa/" + name; }
  std::string Bytes(const std::string& name) {
    std::ifstream in(Path(name));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  CredentialRecord Load(CredentialStore& store) {
    std::optional<CredentialRecord> r;
    platform::Status s = store.Load("alice", &r);
    EXPECT_TRUE(s.ok()) << s.message();
    return r.value_or(CredentialRecord{});
  }
  std::string Code(std::time_t t) {
    return GenerateTotp(TestSecret(), {TotpAlgorithm::kSha1, 6, 30}, t);
  }

  mamori::testing::TempDir tmp_;
  std::unique_ptr<CredentialStore> store_;
  CredentialRecord record_;
};

TEST_F(CredentialStateStoreTest, CountersAreAppendedWithoutRewritingTheCredential) {
  const std::string credential = Bytes("alice.cred");
  CredentialRecord r = record_;
  r.last_step = 500;
  ASSERT_TRUE(store_->SaveState(r).ok());
  r.failures = 2;
  ASSERT_TRUE(store_->SaveState(r).ok());
  EXPECT_EQ(Bytes("alice.cred"), credential);
  EXPECT_EQ(ScanStateLog(Bytes("alice.state")).records, 3u);
  EXPECT_EQ(Load(*store_), r);
  struct stat st;
  ASSERT_EQ(::stat(Path("alice.state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(CredentialStateStoreTest, TornTailIsIgnoredAndReplacedOnTheNextSave) {
  CredentialRecord r = record_;
  r.last_step = 500;
  ASSERT_TRUE(store_->SaveState(r).ok());
  const std::string partial = SerializeStateRecord({900, 0, 0}).substr(0, 20);
  { std::ofstream(Path("alice.state"), std::ios::app) << partial; }
  EXPECT_EQ(Load(*store_).last_step, 500u);

  r.last_step = 501;
  ASSERT_TRUE(store_->SaveState(r).ok());
  const StateLogScan scan = ScanStateLog(Bytes("alice.state"));
  EXPECT_FALSE(scan.torn_tail);
  EXPECT_EQ(scan.records, 1u);
  EXPECT_EQ(Load(*store_).last_step, 501u);
}

TEST_F(CredentialStateStoreTest, LogIsCompactedPastItsBound) {
  CredentialRecord r = record_;
  for (int i = 1; i <= 300; ++i) {
    r.last_step = static_cast<std::uint64_t>(1000 + i);
    r.failures = static_cast<std::uint32_t>(i % 3);
    ASSERT_TRUE(store_->SaveState(r).ok());
    ASSERT_LE(Bytes("alice.state").size(), 4096u) << "after " << i;
  }
  EXPECT_LT(ScanStateLog(Bytes("alice.state")).records, 300u);
  EXPECT_EQ(Load(*store_), r);
}

TEST_F(CredentialStateStoreTest, OldFormatWithCountersInTheCredentialFileLoads) {
  CredentialRecord old = record_;
  old.last_step = 777;
  old.failures = 2;
  old.locked_until = kNow + 60;
  ASSERT_EQ(::unlink(Path("alice.state").c_str()), 0);
  { std::ofstream(Path("alice.cred"), std::ios::trunc) << SerializeCredential(old); }
  EXPECT_EQ(Load(*store_), old);
  // The first login migrates it: the counters move to the log, the file stays as it was.
  MfaVerifier v(*store_, MfaSettings{1, 5, 900});
  EXPECT_EQ(v.Verify("alice", Code(kNow), kNow).verdict, Verdict::kLocked);
  const std::time_t later = kNow + 120;
  ASSERT_EQ(v.Verify("alice", Code(later), later).verdict, Verdict::kAccepted);
  EXPECT_EQ(Bytes("alice.cred"), SerializeCredential(old));
  EXPECT_EQ(Load(*store_).last_step, static_cast<std::uint64_t>(later / 30));
  EXPECT_EQ(v.Verify("alice", Code(later), later).verdict, Verdict::kReplay);
}

// A crash between the two writes of Save leaves an older log beside the new file.
TEST_F(CredentialStateStoreTest, StaleLogNeverLowersTheAcceptedStep) {
  CredentialRecord r = record_;
  r.last_step = 900;
  ASSERT_TRUE(store_->Save(r).ok());
  { std::ofstream(Path("alice.state"), std::ios::trunc) << SerializeStateRecord({800, 1, 0}); }
  CredentialRecord loaded = Load(*store_);
  EXPECT_EQ(loaded.last_step, 900u);
  EXPECT_EQ(loaded.failures, 1u);
}

TEST_F(CredentialStateStoreTest, RemoveDeletesBothFiles) {
  ASSERT_TRUE(store_->Remove("alice").ok());
  EXPECT_FALSE(std::filesystem::exists(Path("alice.cred")));
  EXPECT_FALSE(std::filesystem::exists(Path("alice.state")));
  std::optional<CredentialRecord> r;
  ASSERT_TRUE(store_->Load("alice", &r).ok());
  EXPECT_FALSE(r.has_value());
}

// The process dies right after a login's append, before any answer: a restarted agent (a fresh
// store on the same directory) refuses the same code.
TEST_F(CredentialStateStoreTest, CrashAfterAppendBeforeAnswerStillRefusesReplay) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    MfaVerifier v(*store_, MfaSettings{1, 5, 900});
    const bool accepted = v.Verify("alice", Code(kNow), kNow).verdict == Verdict::kAccepted;
    ::_exit(accepted ? 0 : 1);  // no destructors, no answer
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  std::unique_ptr<CredentialStore> restarted;
  ASSERT_TRUE(CredentialStore::Open(tmp_.path() + "/state", &restarted).ok());
  MfaVerifier v(*restarted, MfaSettings{1, 5, 900});
  EXPECT_EQ(v.Verify("alice", Code(kNow), kNow).verdict, Verdict::kReplay);
}

}  // namespace
}  // namespace mamori::agent
