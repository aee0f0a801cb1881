// A real mamori-agent enrolled against a real mamori-collector, over TLS on loopback: reports with
// the journal's events, policy pushed and applied (or refused and reported), kill -9 of the agent
// while it sends, and a collector that is down for a while.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "collector_process.h"
#include "mamori/agent/credential_store.h"
#include "mamori/agent/enrollment.h"
#include "mamori/agent/event_journal.h"
#include "mamori/agent/mfa_sync.h"
#include "mamori/agent/reporter.h"
#include "mamori/agent/totp.h"
#include "mamori/collector/client.h"
#include "mamori/platform/secure_dir.h"
#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/signing.h"
#include "mamori/policy/trust.h"

namespace mamori::agent {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using collector::ClientOptions;
using collector::HttpsRequest;
using mamori::testing::CollectorProcess;
using mamori::testing::RunProgram;

// A free loopback port, so a restarted collector listens where the agent enrolled.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string Bundle(std::uint64_t version, const policy::SigningKey& key, int interval = 60) {
  const std::string text = R"({"schema":1,"version":)" + std::to_string(version) +
                           R"(,"issued_at":"2026-01-01T00:00:00Z",)"
                           R"("expires_at":"2099-01-01T00:00:00Z","targets":["*"],)"
                           R"("compliance":{"report_interval_seconds":)" +
                           std::to_string(interval) + "}}";
  const policy::ParseResult parsed = policy::ParsePolicy(text);
  EXPECT_TRUE(parsed.ok());
  const policy::SigningKey* keys[] = {&key};
  return policy::SerializeBundle(policy::SignPolicy(policy::Canonicalize(*parsed.policy), keys));
}

bool WaitFor(const std::function<bool()>& done, std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

class AgentE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mamori-agent-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    fs::create_directory(dir_ / "collector");
    const std::string config = R"({"database":")" + (dir_ / "collector" / "collector.db").string() +
                               R"(","agent_port":)" + std::to_string(FreePort()) +
                               R"(,"admin_port":0,"long_poll_max_seconds":20,"mfa_key_file":")" +
                               (dir_ / "collector" / "mfa.key").string() + R"("})";
    collector_ = std::make_unique<CollectorProcess>(dir_ / "collector", config);
    admin_token_ = collector_->CreateApiToken("admin");
    ca_file_ = (dir_ / "ca.pem").string();
    std::ofstream(ca_file_) << collector_->CaPem();
    collector_->Start();
    std::ofstream(dir_ / "trust.json")
        << policy::SerializeTrustSet(policy::TrustSet{{admin_key_.public_key()}, 1});
    state_ = (dir_ / "state").string();
  }

  void TearDown() override {
    StopAgent();
    collector_->Stop();
    if (HasFailure()) {
      std::cerr << "collector log:\n" << collector_->Log() << "\nagent log:\n";
      std::ifstream log(dir_ / "agent.log");
      std::cerr << log.rdbuf();
    }
    fs::remove_all(dir_);
  }

  ClientOptions Admin() const {
    ClientOptions o;
    o.url = collector_->admin_url();
    o.ca_pem = collector_->CaPem();
    o.bearer_token = admin_token_;
    return o;
  }

  json::object GetJson(const std::string& target) {
    const auto r = HttpsRequest(Admin(), "GET", target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    return !ec && v.is_object() ? v.as_object() : json::object{};
  }

  // Enrolls through the real CLI, the token on standard input.
  void Enroll() { terminal_ = EnrollAt(state_); }

  // Enrolls the terminal whose state directory is `state`; returns its id.
  std::string EnrollAt(const std::string& state) {
    const auto r = HttpsRequest(Admin(), "POST", "/v1/admin/tokens",
                                R"({"kind":"enrollment","group":"shimin-ka","uses":1})");
    EXPECT_EQ(r.status, 201) << r.body;
    const std::string token(json::parse(r.body).at("token").as_string());
    std::ofstream(dir_ / "token") << token << "\n";
    const auto out =
        RunProgram({"/bin/sh", "-c",
                    std::string(MAMORI_BIN) + " --state-dir " + state + " enroll --url " +
                        collector_->agent_url() + " --ca " + ca_file_ + " --token-file - <" +
                        (dir_ / "token").string() + " 2>&1"});
    EXPECT_EQ(out.status, 0) << out.out;
    // One line for a person, not the journal's record of it.
    EXPECT_EQ(std::count(out.out.begin(), out.out.end(), '\n'), 1) << out.out;
    EXPECT_EQ(out.out.find("\"type\":"), std::string::npos) << out.out;
    const std::size_t at = out.out.find("enrolled as ");
    if (at == std::string::npos) {
      ADD_FAILURE() << out.out;
      return "";
    }
    return out.out.substr(at + 12, out.out.find(' ', at + 12) - at - 12);
  }

  void StartAgent() { agent_pid_ = SpawnAgent(state_, (dir_ / "run").string(), "agent.log"); }

  pid_t SpawnAgent(const std::string& state, const std::string& run, const std::string& log_name) {
    const int log = open((dir_ / log_name).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    const std::string trust = (dir_ / "trust.json").string();
    const pid_t pid = fork();
    EXPECT_GE(pid, 0);
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
      execl(MAMORI_AGENT_BIN, MAMORI_AGENT_BIN, "--state-dir", state.c_str(), "--runtime-dir",
            run.c_str(), "--trust-file", trust.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(log);
    return pid;
  }

  void StopAgent(int signal = SIGTERM) {
    if (agent_pid_ <= 0) return;
    kill(agent_pid_, signal);
    int status = 0;
    waitpid(agent_pid_, &status, 0);
    if (signal == SIGTERM) {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
    agent_pid_ = -1;
  }

  json::object Terminal() { return GetJson("/v1/terminals/" + terminal_); }

  std::string CheckResult(const std::string& id) {
    json::object t = Terminal();
    const auto* checks = t.if_contains("checks");
    if (checks == nullptr || !checks->is_array()) return "";
    for (const auto& c : checks->get_array()) {
      if (c.at("id").as_string() == id) return std::string(c.at("result").as_string());
    }
    return "";
  }

  std::string AgentLog() {
    std::ifstream in(dir_ / "agent.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::vector<json::object> Events(const std::string& type = "") {
    std::vector<json::object> out;
    const json::object page = GetJson("/v1/events?limit=10000");
    const auto* events = page.if_contains("events");
    if (events == nullptr || !events->is_array()) return out;
    for (const auto& e : events->get_array()) {
      if (e.at("terminal").as_string() == terminal_ &&
          (type.empty() || e.at("type").as_string() == type)) {
        out.push_back(e.as_object());
      }
    }
    return out;
  }

  void Push(const std::string& bundle) {
    const auto r = HttpsRequest(Admin(), "POST", "/v1/admin/policy", bundle);
    ASSERT_EQ(r.status, 201) << r.body;
  }

  // Events written into the agent's journal as another process on the terminal would.
  void RecordEvents(int first, int count) {
    std::unique_ptr<platform::SecureDir> state;
    ASSERT_TRUE(platform::SecureDir::Open(state_, 0700, &state).ok());
    std::unique_ptr<EventJournal> journal;
    ASSERT_TRUE(EventJournal::Open(*state, &journal).ok());
    for (int i = first; i < first + count; ++i) {
      ASSERT_TRUE(
          journal->Record(Event{1763900000, "test.event", {{"n", std::to_string(i)}}}).ok());
    }
  }

  std::uint64_t Pending() {
    std::unique_ptr<platform::SecureDir> state;
    std::unique_ptr<EventJournal> journal;
    std::uint64_t n = 0;
    EXPECT_TRUE(platform::SecureDir::Open(state_, 0700, &state).ok());
    EXPECT_TRUE(EventJournal::Open(*state, &journal).ok());
    EXPECT_TRUE(journal->PendingEvents(&n).ok());
    return n;
  }

  // Every test.event number the collector stored, with how often.
  std::map<int, int> StoredNumbers() {
    std::map<int, int> seen;
    for (const auto& e : Events("test.event")) {
      ++seen[std::stoi(std::string(e.at("data").at("n").as_string()))];
    }
    return seen;
  }

  fs::path dir_;
  std::unique_ptr<CollectorProcess> collector_;
  std::string admin_token_;
  std::string ca_file_;
  std::string state_;
  std::string terminal_;
  policy::SigningKey admin_key_ = policy::SigningKey::Generate();
  pid_t agent_pid_ = -1;
};

TEST_F(AgentE2e, EnrolledAgentReportsAndAppliesPushedPolicy) {
  Enroll();
  // A second enrollment is refused before any token is spent.
  const auto again = RunProgram({"/bin/sh", "-c",
                                 std::string(MAMORI_BIN) + " --state-dir " + state_ +
                                     " enroll --url " + collector_->agent_url() + " --ca " +
                                     ca_file_ + " --token-file /nonexistent 2>&1"});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.out.find("already enrolled as " + terminal_), std::string::npos) << again.out;

  StartAgent();
  ASSERT_TRUE(WaitFor([&] { return !Events("agent.enrolled").empty(); }, std::chrono::seconds(20)));
  json::object t = Terminal();
  EXPECT_GE(t["last_sequence"].as_int64(), 1);
  EXPECT_TRUE(t["policy_version"].is_null());  // the built-in defaults
  EXPECT_EQ(t["group"], "shimin-ka");
  // The catalogue ran at start, right after the first report (apt's resolver may take a while).
  ASSERT_TRUE(
      WaitFor([&] { return CheckResult("policy.current") == "fail"; }, std::chrono::seconds(90)))
      << CheckResult("policy.current");

  // Events that change no check (another process journals them) go out without checks.
  RecordEvents(0, 3);
  ASSERT_TRUE(WaitFor([&] { return Events("test.event").size() == 3; }, std::chrono::seconds(20)));
  EXPECT_NE(AgentLog().find(" events, 0 checks)"), std::string::npos) << AgentLog();

  Push(Bundle(2, admin_key_));
  ASSERT_TRUE(WaitFor([&] { return Terminal()["policy_version"] == 2; }, std::chrono::seconds(20)));
  // The policy's checks ran again once it applied, and their change was sent.
  ASSERT_TRUE(
      WaitFor([&] { return CheckResult("policy.current") == "pass"; }, std::chrono::seconds(20)))
      << CheckResult("policy.current");
  const auto applied = Events("policy.applied");
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].at("data").at("version"), "2");

  // Signed by a key the terminal does not trust: refused, the reason reported, version 2 kept.
  const policy::SigningKey forger = policy::SigningKey::Generate();
  Push(Bundle(3, forger));
  ASSERT_TRUE(
      WaitFor([&] { return !Events("policy.rejected").empty(); }, std::chrono::seconds(20)));
  const auto rejected = Events("policy.rejected");
  EXPECT_EQ(rejected[0].at("data").at("reason"), "unknown key");
  EXPECT_EQ(rejected[0].at("data").at("kept_version"), "2");
  EXPECT_EQ(Terminal()["policy_version"], 2);

  // An older bundle, even one signed by the trusted key, is a rollback: refused and reported.
  std::ofstream(dir_ / "policy-1.bundle") << Bundle(1, admin_key_);
  const auto rollback =
      RunProgram({"/bin/sh", "-c",
                  std::string(MAMORI_BIN) + " --state-dir " + state_ + " --trust-file " +
                      (dir_ / "trust.json").string() + " policy apply " +
                      (dir_ / "policy-1.bundle").string() + " 2>&1"});
  EXPECT_EQ(rollback.status, 1);
  EXPECT_NE(rollback.out.find("rejected (rollback)"), std::string::npos) << rollback.out;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& e : Events("policy.rejected")) {
          if (e.at("data").at("reason") == "rollback") return true;
        }
        return false;
      },
      std::chrono::seconds(20)));
  EXPECT_EQ(Terminal()["policy_version"], 2);

  // After a restart the applied policy is still the one in force.
  StopAgent();
  StartAgent();
  // The new process refuses the forged bundle once more, and reports that (after its first
  // catalogue, which waits for apt's resolver: seconds, more on a busy machine).
  ASSERT_TRUE(
      WaitFor([&] { return Events("policy.rejected").size() == 3; }, std::chrono::seconds(90)));
  EXPECT_EQ(Terminal()["policy_version"], 2);

  const auto shown =
      RunProgram({MAMORICTL_BIN, "terminal", "show", terminal_, "--url", collector_->admin_url(),
                  "--ca", ca_file_, "--token", admin_token_});
  EXPECT_EQ(shown.status, 0);
  EXPECT_NE(shown.out.find("policy_version: 2"), std::string::npos) << shown.out;
}

TEST_F(AgentE2e, Kill9MidSendLosesNothingAndStoresNothingTwice) {
  Enroll();
  constexpr int kEvents = 6000;
  RecordEvents(0, kEvents);
  // Kill the agent again and again while it drains the spool, a report at a time.
  for (int round = 0; round < 8; ++round) {
    StartAgent();
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 60 * round));
    StopAgent(SIGKILL);
  }
  StartAgent();
  // Bounded by the first catalogue run (apt's resolver) as well as by the sending.
  ASSERT_TRUE(WaitFor([&] { return Pending() == 0; }, std::chrono::seconds(120)));
  const auto seen = StoredNumbers();
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kEvents));
  for (const auto& [n, times] : seen) EXPECT_EQ(times, 1) << "event " << n;
}

TEST_F(AgentE2e, SpoolDrainsAfterTheCollectorComesBack) {
  Enroll();
  StartAgent();
  ASSERT_TRUE(WaitFor([&] { return !Events("agent.enrolled").empty(); }, std::chrono::seconds(20)));
  collector_->Stop();
  RecordEvents(0, 300);
  // The reporter finds the events, fails to send them and backs off.
  ASSERT_TRUE(WaitFor(
      [&] {
        std::ifstream log(dir_ / "agent.log");
        std::stringstream text;
        text << log.rdbuf();
        return text.str().find("mamori-agent: report: ") != std::string::npos;
      },
      std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(Pending(), 300u);
  collector_->Start();
  ASSERT_TRUE(WaitFor([&] { return Pending() == 0; }, std::chrono::seconds(60)));
  const auto seen = StoredNumbers();
  EXPECT_EQ(seen.size(), 300u);
  for (const auto& [n, times] : seen) EXPECT_EQ(times, 1) << "event " << n;
}

// The reporter in-process: checks from the callback reach the collector, the collector's Date
// header gives the clock skew, and a refused report deletes nothing.
TEST_F(AgentE2e, ReporterSendsChecksMeasuresSkewAndKeepsEventsWhenRefused) {
  Enroll();
  std::unique_ptr<platform::SecureDir> state;
  ASSERT_TRUE(platform::SecureDir::Open(state_, 0700, &state).ok());
  std::optional<Enrollment> enrollment;
  ASSERT_TRUE(LoadEnrollment(*state, &enrollment).ok());
  ASSERT_TRUE(enrollment.has_value());
  EXPECT_EQ(enrollment->terminal_id, terminal_);
  std::unique_ptr<EventJournal> journal;
  ASSERT_TRUE(EventJournal::Open(*state, &journal).ok());
  Reporter reporter(
      *enrollment, *journal,
      Reporter::Checks{[](const std::vector<std::string>&) {
                         return std::vector<ReportCheck>{
                             {"usb.authorized_default", "pass", "0 on 2 root hubs"},
                             {"ntp.sync", "fail", "not synchronized"}};
                       },
                       nullptr},
      [] { return std::optional<std::uint64_t>(4); }, [] { return std::chrono::seconds(60); },
      Reporter::Options{});
  EXPECT_FALSE(reporter.clock_skew().has_value());
  // The first report carries the journalled agent.enrolled; the catalogue follows at once.
  bool more = true;
  platform::Status s = reporter.SendOnce(&more);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(more);
  s = reporter.SendOnce(&more);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_FALSE(more);
  ASSERT_TRUE(reporter.clock_skew().has_value());
  EXPECT_LE(std::abs(reporter.clock_skew()->count()), 2);
  json::object t = Terminal();
  EXPECT_EQ(t["policy_version"], 4);
  std::map<std::string, std::string> results;
  for (const auto& c : t["checks"].as_array()) {
    results[std::string(c.at("id").as_string())] = std::string(c.at("result").as_string());
  }
  EXPECT_EQ(results["usb.authorized_default"], "pass");
  EXPECT_EQ(results["ntp.sync"], "fail");

  const auto revoke =
      HttpsRequest(Admin(), "POST", "/v1/admin/terminals/" + terminal_ + "/revoke", "");
  ASSERT_EQ(revoke.status, 200) << revoke.body;
  ASSERT_TRUE(journal->Record(Event{1763900000, "test.event", {{"n", "1"}}}).ok());
  s = reporter.SendOnce(&more);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("HTTP 403"), std::string::npos) << s.message();
  // Revoked is not a network failure: the reporter waits the longest backoff, and says so in
  // the journal once, next to the event it keeps.
  ASSERT_TRUE(reporter.retry_delay().has_value());
  EXPECT_EQ(*reporter.retry_delay(), Reporter::Options{}.backoff_max);
  EXPECT_FALSE(reporter.SendOnce(&more).ok());
  std::uint64_t pending = 0;
  ASSERT_TRUE(journal->PendingEvents(&pending).ok());
  EXPECT_EQ(pending, 2u);
}

// Events the real collector refuses (a type over its limit: 400; an event over its body limit:
// 413) are found by halving the batch and quarantined one by one; every other event arrives.
TEST_F(AgentE2e, EventsTheCollectorRefusesAreQuarantinedAndTheRestArrive) {
  Enroll();
  std::unique_ptr<platform::SecureDir> state;
  ASSERT_TRUE(platform::SecureDir::Open(state_, 0700, &state).ok());
  std::optional<Enrollment> enrollment;
  ASSERT_TRUE(LoadEnrollment(*state, &enrollment).ok());
  std::unique_ptr<EventJournal> journal;
  ASSERT_TRUE(EventJournal::Open(*state, &journal).ok());
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(journal->Record(Event{1763900000, "test.event", {{"n", std::to_string(i)}}}).ok());
    if (i == 2) {
      ASSERT_TRUE(journal->Record(Event{1763900000, std::string(300, 't'), {}}).ok());
    }
    if (i == 4) {
      ASSERT_TRUE(
          journal->Record(Event{1763900000, "test.huge", {{"blob", std::string(1100000, 'x')}}})
              .ok());
    }
  }
  Reporter::Options options;
  options.max_bytes = 4 << 20;  // so the huge event goes out with the others first
  Reporter reporter(
      *enrollment, *journal,
      Reporter::Checks{[](const std::vector<std::string>&) {
                         return std::vector<ReportCheck>{{"usb.guard", "pass", "0 on 2 hubs"}};
                       },
                       nullptr},
      [] { return std::optional<std::uint64_t>(); }, [] { return std::chrono::seconds(60); },
      options);
  std::uint64_t pending = 1;
  int refused = 0;
  for (int i = 0; i < 30 && pending > 0; ++i) {
    bool more = false;
    platform::Status s = reporter.SendOnce(&more);
    if (!s.ok()) {
      ++refused;
      ASSERT_TRUE(reporter.retry_delay().has_value()) << s.message();
      EXPECT_EQ(reporter.retry_delay()->count(), 0) << s.message();
    }
    ASSERT_TRUE(journal->PendingEvents(&pending).ok());
  }
  EXPECT_EQ(pending, 0u);
  EXPECT_GT(refused, 2);
  std::multiset<std::string> numbers;
  for (const auto& e : Events("test.event")) {
    numbers.insert(std::string(e.at("data").at("n").as_string()));
  }
  EXPECT_EQ(numbers, (std::multiset<std::string>{"0", "1", "2", "3", "4", "5"}));
  EXPECT_TRUE(Events("test.huge").empty());
  const auto quarantined = Events("journal.quarantined");
  EXPECT_EQ(quarantined.size(), 2u);
  int files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(state_) / "journal")) {
    files += e.path().filename().string().starts_with("quarantine-");
  }
  EXPECT_EQ(files, 2);
  std::map<std::string, std::string> checks;
  json::object t = Terminal();
  for (const auto& c : t["checks"].as_array()) {
    checks[std::string(c.at("id").as_string())] = std::string(c.at("result").as_string());
  }
  EXPECT_EQ(checks["usb.guard"], "pass");
}

std::string Pam(const fs::path& service_dir, const std::string& user, const std::string& code) {
  std::string preload = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so";
  std::string asan;
  // Sanitizer builds: pam_mamori.so is sanitized and pamtester is not; the runtime goes first.
  if (const char* runtime = std::getenv("MAMORI_TEST_PRELOAD"); runtime && *runtime) {
    preload = std::string(runtime) + " " + preload;
    asan = "ASAN_OPTIONS=detect_leaks=0 ";
  }
  return RunProgram({"/bin/sh", "-c",
                     "echo " + code + " | env LD_PRELOAD='" + preload + "' " + asan +
                         "PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=" + service_dir.string() +
                         " pamtester login " + user + " authenticate 2>&1"})
      .out;
}

bool HasCredential(const std::string& state, const std::string& user) {
  std::unique_ptr<CredentialStore> store;
  std::optional<CredentialRecord> record;
  return CredentialStore::Open(state, &store).ok() && store->Load(user, &record).ok() &&
         record.has_value();
}

std::string CodeFromUri(const std::string& uri, std::time_t at) {
  const std::size_t start = uri.find("secret=") + 7;
  const auto secret = Base32Decode(uri.substr(start, uri.find('&', start) - start));
  EXPECT_TRUE(secret.has_value()) << uri;
  return secret ? GenerateTotp(*secret, TotpParams{}, at) : "";
}

// Central MFA end to end: mamorictl enrolls alice for the terminals of group shimin-ka, the agent
// fetches the credential over mTLS and a login through pam_mamori.so (pamtester + pam_wrapper)
// takes the app's code; the same code on a second terminal raises mfa.code_reused at the collector;
// a reset reaches the terminal and the next login is refused.
TEST_F(AgentE2e, CentralMfaCredentialIsDeliveredUsableThroughPamAndRemovedByReset) {
  Enroll();
  const std::string state2 = (dir_ / "state2").string();
  const std::string terminal2 = EnrollAt(state2);
  ASSERT_FALSE(terminal2.empty());
  // A 30 s report interval, so a reset arrives within the test's patience.
  std::ofstream(dir_ / "policy-2.bundle") << Bundle(2, admin_key_, 30);
  for (const std::string& state : {state_, state2}) {
    const auto applied = RunProgram({MAMORI_BIN, "--state-dir", state, "--trust-file",
                                     (dir_ / "trust.json").string(), "policy", "apply",
                                     (dir_ / "policy-2.bundle").string()});
    ASSERT_EQ(applied.status, 0) << applied.out;
  }
  auto ctl = [&](std::vector<std::string> args, const std::string& token) {
    args.insert(args.begin(), MAMORICTL_BIN);
    for (const std::string& a : {std::string("--url"), collector_->admin_url(), std::string("--ca"),
                                 ca_file_, std::string("--token"), token}) {
      args.push_back(a);
    }
    return RunProgram(args);
  };
  const std::string reader = collector_->CreateApiToken("it-read");
  EXPECT_EQ(ctl({"mfa", "enroll", "alice", "--group", "shimin-ka"}, reader).status, 5);
  const auto enrolled = ctl({"mfa", "enroll", "alice", "--group", "shimin-ka"}, admin_token_);
  ASSERT_EQ(enrolled.status, 0) << enrolled.out;
  const std::size_t at = enrolled.out.find("otpauth://totp/");
  ASSERT_NE(at, std::string::npos) << enrolled.out;
  const std::string uri = enrolled.out.substr(at, enrolled.out.find('\n', at) - at);
  EXPECT_NE(enrolled.out.find("\u2588"), std::string::npos) << "no QR code drawn";

  const fs::path pam1 = dir_ / "pam1", pam2 = dir_ / "pam2";
  for (const auto& [pam, run] : {std::pair{pam1, dir_ / "run"}, std::pair{pam2, dir_ / "run2"}}) {
    fs::create_directory(pam);
    for (const char* service : {"login", "other"}) {
      std::ofstream(pam / service) << "auth required " << MAMORI_PAM_MODULE
                                   << " socket=" << (run / "agent.sock").string() << " timeout=5\n";
    }
  }
  StartAgent();
  const pid_t agent2 = SpawnAgent(state2, (dir_ / "run2").string(), "agent2.log");
  for (const auto& [state, run] :
       {std::pair{state_, dir_ / "run"}, std::pair{state2, dir_ / "run2"}}) {
    ASSERT_TRUE(WaitFor([&] { return HasCredential(state, "alice"); }, std::chrono::seconds(60)));
    ASSERT_TRUE(WaitFor([&] { return fs::exists(run / "agent.sock"); }, std::chrono::seconds(10)));
  }

  const std::time_t now = std::time(nullptr);
  const std::string code = CodeFromUri(uri, now);
  const std::string wrong = code == "000000" ? "111111" : "000000";
  EXPECT_NE(Pam(pam1, "alice", wrong).find("Authentication failure"), std::string::npos);
  std::string out = Pam(pam1, "alice", code);
  ASSERT_NE(out.find("successfully authenticated"), std::string::npos) << out;
  // Spent on this terminal.
  EXPECT_EQ(Pam(pam1, "alice", code).find("successfully authenticated"), std::string::npos);

  // The same code on a second terminal of the group is accepted there, and the collector notices.
  out = Pam(pam2, "alice", code);
  EXPECT_NE(out.find("successfully authenticated"), std::string::npos) << out;
  std::vector<json::object> alerts;
  ASSERT_TRUE(WaitFor(
      [&] {
        alerts.clear();
        const json::object page = GetJson("/v1/events?limit=10000");
        for (const auto& e : page.at("events").as_array()) {
          if (e.at("type") == "mfa.code_reused") alerts.push_back(e.as_object());
        }
        return !alerts.empty();
      },
      std::chrono::seconds(90)));
  ASSERT_EQ(alerts.size(), 1u);
  const auto& alert = alerts[0].at("data").as_object();
  EXPECT_EQ(alert.at("user"), "alice");
  // Whichever terminal's report arrived second carries the alert.
  EXPECT_EQ((std::set<std::string>{std::string(alert.at("first_terminal").as_string()),
                                   std::string(alert.at("terminal").as_string())}),
            (std::set<std::string>{terminal_, terminal2}));
  EXPECT_EQ(alert.at("step").as_string(), std::to_string(now / 30));
  const auto listed = ctl({"events"}, reader);
  EXPECT_NE(listed.out.find("mfa.code_reused"), std::string::npos) << listed.out;
  // The terminal reported what the sync did.
  const auto imported = Events("mfa.imported");
  ASSERT_EQ(imported.size(), 1u);
  EXPECT_EQ(imported[0].at("data").at("user"), "alice");
  EXPECT_EQ(Events("mfa.credential.synced").size(), 1u);
  kill(agent2, SIGTERM);
  waitpid(agent2, nullptr, 0);

  // A sync that fails (the collector is down) removes nothing and applies no revision.
  collector_->Stop();
  {
    std::unique_ptr<CredentialStore> store;
    ASSERT_TRUE(CredentialStore::Open(state_, &store).ok());
    std::unique_ptr<EventJournal> journal;
    ASSERT_TRUE(EventJournal::Open(store->state_dir(), &journal).ok());
    std::optional<Enrollment> enrollment;
    ASSERT_TRUE(LoadEnrollment(store->state_dir(), &enrollment).ok() && enrollment);
    MfaSync sync(
        *enrollment, *store, *journal, [] { return std::chrono::seconds(30); }, MfaSync::Options{});
    std::uint64_t before = 0, after = 0;
    ASSERT_TRUE(sync.AppliedRevision(&before).ok());
    EXPECT_EQ(before, 1u);
    std::size_t changes = 0;
    EXPECT_FALSE(sync.SyncOnce(&changes).ok());
    EXPECT_EQ(changes, 0u);
    std::optional<CredentialRecord> record;
    ASSERT_TRUE(store->Load("alice", &record).ok());
    EXPECT_TRUE(record.has_value());
    ASSERT_TRUE(sync.AppliedRevision(&after).ok());
    EXPECT_EQ(after, before);
  }
  collector_->Start();

  // Reset: the terminal removes the credential at its next sync; the next login is refused.
  const auto reset = ctl({"mfa", "reset", "alice"}, admin_token_);
  ASSERT_EQ(reset.status, 0) << reset.out;
  ASSERT_TRUE(WaitFor([&] { return !HasCredential(state_, "alice"); }, std::chrono::seconds(60)));
  const std::string later = CodeFromUri(uri, std::time(nullptr) + 30);
  out = Pam(pam1, "alice", later);
  EXPECT_EQ(out.find("successfully authenticated"), std::string::npos) << out;
  EXPECT_NE(out.find("User not known"), std::string::npos) << out;
  ASSERT_TRUE(WaitFor([&] { return !Events("mfa.reset").empty(); }, std::chrono::seconds(90)));
}

}  // namespace
}  // namespace mamori::agent
