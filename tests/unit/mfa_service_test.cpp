#include "mamori/agent/mfa_service.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "temp_dir.h"

namespace mamori::agent {
namespace {

constexpr std::time_t kNow = 1763900000;

class FakeAccounts : public platform::Accounts {
 public:
  std::optional<std::string> UserName(uid_t uid) override {
    auto it = names.find(uid);
    if (it == names.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::string> GroupNames(std::string_view user) override {
    ++group_lookups;
    auto it = groups.find(std::string(user));
    return it == groups.end() ? std::vector<std::string>{} : it->second;
  }
  std::map<uid_t, std::string> names{{1000, "alice"}, {1001, "bob"}};
  std::map<std::string, std::vector<std::string>> groups{{"carol", {"madoguchi"}}};
  int group_lookups = 0;
};

// The system log as the test sees it.
class RecordingLog : public platform::SystemLog {
 public:
  struct Entry {
    Priority priority;
    std::string message;
    std::map<std::string, std::string> fields;
  };
  void Send(Priority priority, std::string_view message, const Fields& fields) override {
    std::lock_guard<std::mutex> guard(mu_);
    entries.push_back({priority, std::string(message), {fields.begin(), fields.end()}});
  }
  std::mutex mu_;
  std::vector<Entry> entries;
};

SecretBytes TestSecret() {
  const std::string s = "12345678901234567890";
  return SecretBytes(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

class MfaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CredentialStore::Open(tmp_.path() + "/state", &store_).ok());
    ASSERT_TRUE(EventJournal::Open(store_->state_dir(), &journal_).ok());
    for (const char* user : {"alice", "carol"}) {
      CredentialRecord r;
      r.user = user;
      r.secret = *store_->host_key().Seal(TestSecret(), SecretBinding(user));
      r.recovery = GenerateRecoveryCodes(1000)->hashes;
      ASSERT_TRUE(store_->Save(r).ok());
    }
    policy_.users = {"alice", "bob"};
    policy_.groups = {"madoguchi"};
    policy_.services = {"login", "sshd"};
  }

  MfaAnswer Ask(MfaOp op, const std::string& user, const std::string& code, uid_t caller = 0,
                const std::string& service = "login") {
    MfaService service_(*store_, *journal_, accounts_, log_, policy_, [] { return kNow; });
    MfaRequest r;
    r.op = op;
    r.user = user;
    r.code = code;
    r.service = service;
    return service_.Handle(r, platform::PeerCredentials{1234, caller, caller});
  }
  std::string Code() { return GenerateTotp(TestSecret(), TotpParams{}, kNow); }
  // Every segment of the journal, oldest first.
  std::string Journal() {
    std::vector<std::filesystem::path> segments;
    for (const auto& e : std::filesystem::directory_iterator(tmp_.path() + "/state/journal")) {
      if (e.path().extension() == ".jsonl") segments.push_back(e.path());
    }
    std::sort(segments.begin(), segments.end());
    std::stringstream ss;
    for (const auto& path : segments) {
      std::ifstream in(path);
      ss << in.rdbuf();
    }
    return ss.str();
  }

  mamori::testing::TempDir tmp_;
  std::unique_ptr<CredentialStore> store_;
  std::unique_ptr<EventJournal> journal_;
  FakeAccounts accounts_;
  RecordingLog log_;
  policy::MfaPolicy policy_;
};

TEST_F(MfaServiceTest, CheckPromptsOnlyWhenPolicyRequiresMfa) {
  EXPECT_EQ(Ask(MfaOp::kCheck, "alice", ""), MfaAnswer::kPrompt);
  EXPECT_EQ(Ask(MfaOp::kCheck, "carol", ""), MfaAnswer::kPrompt);  // by group
  EXPECT_EQ(Ask(MfaOp::kCheck, "dave", ""), MfaAnswer::kIgnore);
  EXPECT_EQ(Ask(MfaOp::kCheck, "alice", "", 0, "cron"), MfaAnswer::kIgnore);
  EXPECT_EQ(Ask(MfaOp::kVerify, "alice", "000000", 0, "cron"), MfaAnswer::kIgnore);
}

// Groups are looked up (NSS) only when they could decide: not for a user the policy names, nor
// for a service it leaves out, nor when it names no group.
TEST_F(MfaServiceTest, GroupsAreLookedUpOnlyWhenTheyCouldDecide) {
  EXPECT_EQ(Ask(MfaOp::kCheck, "alice", ""), MfaAnswer::kPrompt);
  EXPECT_EQ(Ask(MfaOp::kCheck, "carol", "", 0, "cron"), MfaAnswer::kIgnore);
  EXPECT_EQ(accounts_.group_lookups, 0);
  EXPECT_EQ(Ask(MfaOp::kCheck, "carol", ""), MfaAnswer::kPrompt);
  EXPECT_EQ(accounts_.group_lookups, 1);
  policy_.groups.clear();
  EXPECT_EQ(Ask(MfaOp::kCheck, "carol", ""), MfaAnswer::kIgnore);
  EXPECT_EQ(accounts_.group_lookups, 1);
}

// A newly applied policy takes effect for the next request of a running service.
TEST_F(MfaServiceTest, ReplacedPolicyAppliesToTheNextRequest) {
  MfaService service(*store_, *journal_, accounts_, log_, policy_, [] { return kNow; });
  MfaRequest r;
  r.op = MfaOp::kCheck;
  r.user = "alice";
  r.service = "cron";
  const platform::PeerCredentials root{1234, 0, 0};
  EXPECT_EQ(service.Handle(r, root), MfaAnswer::kIgnore);
  policy::MfaPolicy wider = policy_;
  wider.services = {"*"};
  service.SetPolicy(wider);
  EXPECT_EQ(service.Handle(r, root), MfaAnswer::kPrompt);
}

TEST_F(MfaServiceTest, VerdictsMapToAnswersAndEventsWithoutCodes) {
  const std::string code = Code();
  EXPECT_EQ(Ask(MfaOp::kVerify, "alice", code), MfaAnswer::kSuccess);
  EXPECT_EQ(Ask(MfaOp::kVerify, "alice", code), MfaAnswer::kAuthError);
  EXPECT_EQ(Ask(MfaOp::kVerify, "bob", code), MfaAnswer::kUserUnknown);
  const std::string journal = Journal();
  EXPECT_NE(journal.find("\"type\":\"mfa.success\""), std::string::npos);
  // The accepted step, so the collector can tell one code used on two terminals.
  EXPECT_NE(journal.find("\"step\":\"" + std::to_string(kNow / 30) + "\""), std::string::npos)
      << journal;
  EXPECT_NE(journal.find("\"type\":\"mfa.replay\""), std::string::npos);
  EXPECT_NE(journal.find("\"type\":\"mfa.unenrolled_denied\""), std::string::npos);
  EXPECT_EQ(journal.find(code), std::string::npos) << "a code reached the journal";
}

// Each outcome reaches the system log once, with structured fields and a reason; the code never.
TEST_F(MfaServiceTest, OutcomesReachTheSystemLogWithFieldsAndWithoutCodes) {
  const std::string code = Code();
  MfaService service(*store_, *journal_, accounts_, log_, policy_, [] { return kNow; });
  MfaRequest r;
  r.op = MfaOp::kVerify;
  r.user = "alice";
  r.service = "sshd";
  r.rhost = "192.0.2.7";
  r.code = code;
  EXPECT_EQ(service.Handle(r, platform::PeerCredentials{1234, 0, 0}), MfaAnswer::kSuccess);
  r.code = "000000";
  r.tty = "pts/3\n";
  EXPECT_EQ(service.Handle(r, platform::PeerCredentials{1234, 0, 0}), MfaAnswer::kAuthError);
  ASSERT_EQ(log_.entries.size(), 2u);
  const auto& ok = log_.entries[0];
  EXPECT_EQ(ok.priority, platform::SystemLog::Priority::kInfo);
  EXPECT_EQ(ok.fields.at("MAMORI_EVENT"), "mfa.success");
  EXPECT_EQ(ok.fields.at("MAMORI_USER"), "alice");
  EXPECT_EQ(ok.fields.at("MAMORI_SERVICE"), "sshd");
  EXPECT_EQ(ok.fields.at("MAMORI_OUTCOME"), "success");
  EXPECT_EQ(ok.fields.at("MAMORI_REASON"), "code accepted");
  EXPECT_EQ(ok.fields.at("MAMORI_RHOST"), "192.0.2.7");
  EXPECT_EQ(ok.fields.count("MAMORI_TTY"), 0u);  // not known
  // The accepted time step is no secret: it is the clock divided by the period.
  EXPECT_EQ(ok.message,
            "mfa: success (code accepted) user=alice service=sshd rhost=192.0.2.7 caller_uid=0 "
            "step=" +
                std::to_string(kNow / 30));
  const auto& failed = log_.entries[1];
  EXPECT_EQ(failed.priority, platform::SystemLog::Priority::kNotice);
  EXPECT_EQ(failed.fields.at("MAMORI_EVENT"), "mfa.failure");
  EXPECT_EQ(failed.fields.at("MAMORI_OUTCOME"), "auth_err");
  EXPECT_EQ(failed.fields.at("MAMORI_REASON"), "wrong code");
  EXPECT_EQ(failed.fields.at("MAMORI_TTY"), "pts/3?");
  for (const auto& e : log_.entries) {
    EXPECT_EQ(e.message.find(code), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("000000"), std::string::npos) << e.message;
    for (const auto& [k, v] : e.fields) {
      EXPECT_EQ(v.find(code), std::string::npos) << k;
      EXPECT_EQ(v.find("000000"), std::string::npos) << k;
    }
  }
}

TEST_F(MfaServiceTest, LockoutAnswersMaxTries) {
  policy_.max_failures = 2;
  EXPECT_EQ(Ask(MfaOp::kVerify, "alice", "000000"), MfaAnswer::kAuthError);
  EXPECT_EQ(Ask(MfaOp::kVerify, "alice", "000000"), MfaAnswer::kMaxTries);
  EXPECT_EQ(Ask(MfaOp::kVerify, "alice", Code()), MfaAnswer::kMaxTries);
  EXPECT_NE(Journal().find("\"type\":\"mfa.lockout\""), std::string::npos);
}

TEST_F(MfaServiceTest, UnenrolledAllowedOnlyWhenPolicySaysSo) {
  policy_.deny_unenrolled = false;
  EXPECT_EQ(Ask(MfaOp::kVerify, "bob", "000000"), MfaAnswer::kIgnore);
  EXPECT_NE(Journal().find("\"type\":\"mfa.unenrolled_allowed\""), std::string::npos);
}

TEST_F(MfaServiceTest, NonRootCallerMayVerifyOnlyItself) {
  EXPECT_EQ(Ask(MfaOp::kCheck, "alice", "", 1001), MfaAnswer::kAuthError);
  EXPECT_EQ(Ask(MfaOp::kVerify, "alice", Code(), 1001), MfaAnswer::kAuthError);
  EXPECT_EQ(Ask(MfaOp::kVerify, "alice", Code(), 4242), MfaAnswer::kAuthError);  // no name
  EXPECT_NE(Journal().find("\"type\":\"mfa.caller_refused\""), std::string::npos);
  // The refused requests did not consume alice's code.
  EXPECT_EQ(Ask(MfaOp::kVerify, "alice", Code(), 1000), MfaAnswer::kSuccess);
}

TEST_F(MfaServiceTest, MalformedRequestsAreRefused) {
  MfaService service(*store_, *journal_, accounts_, log_, policy_, [] { return kNow; });
  const platform::PeerCredentials root{1, 0, 0};
  for (const char* line : {"", "{", "[]", R"({"op":"verify","user":"alice","service":"login"})",
                           R"({"op":"open","user":"alice","service":"login"})",
                           R"({"op":"check","user":"alice","service":"login","extra":"x"})",
                           R"({"op":"check","user":7,"service":"login"})"}) {
    EXPECT_EQ(service.HandleLine(line, root), R"({"result":"auth_err"})") << line;
  }
  EXPECT_EQ(service.HandleLine(R"({"op":"check","user":"alice","service":"login"})", root),
            R"({"result":"prompt"})");
}

// The record is written but the journal cannot grow: the login must not succeed unrecorded.
TEST_F(MfaServiceTest, UnjournalledSuccessIsRefused) {
  // The journal's segment grows past the file size limit set below.
  ASSERT_TRUE(
      journal_->Record(Event{kNow, "test.padding", {{"pad", std::string(16384, '#')}}}).ok());
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = {8192, old_limit.rlim_max};  // room for a record, not past the journal
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  MfaAnswer answer = Ask(MfaOp::kVerify, "alice", Code());
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(answer, MfaAnswer::kAuthError);
  // It was the journal that failed: the record took the code (it stays spent).
  std::optional<CredentialRecord> r;
  ASSERT_TRUE(store_->Load("alice", &r).ok());
  EXPECT_EQ(r->last_step, static_cast<std::uint64_t>(kNow / 30));
}

}  // namespace
}  // namespace mamori::agent
