// The built mamori-agent on a fake sysfs with the built `mamori devices` asking it over the real
// socket: decisions, rule ids, the journal, and the refusal of callers other than root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "fake_sysfs.h"
#include "mamori/platform/local_socket.h"
#include "temp_dir.h"

extern char** environ;

namespace mamori {
namespace {

constexpr char kPolicy[] = R"({"schema":1,"version":3,"issued_at":"2026-01-01T00:00:00Z",
"expires_at":"2099-01-01T00:00:00Z","targets":["*"],
"usb":{"mode":"enforce","default":"block",
       "allow":[{"id":"ledger-ok","label":"ledger stick","vid":"46f4","serial":"MAMORI-OK-1"}]}})";

std::string RunCommand(const std::string& command, int* status) {
  FILE* p = ::popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  *status = ::pclose(p);
  return out;
}

// Out of line: inlined into SetUp, GCC 12 warns falsely about the default interface list.
[[gnu::noinline]] testing::FakeUsbDevice Stick(std::string serial, bool authorized) {
  testing::FakeUsbDevice d;
  d.serial = std::move(serial);
  d.authorized = authorized;
  return d;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class AgentDevicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sysfs_.AddRootHub(1);
    sysfs_.AddDevice("1-1", Stick("MAMORI-OK-1", false));
    sysfs_.AddDevice("1-2", Stick("UNLISTED-1", true));
    ::chmod(dir_.path().c_str(), 0755);
    ::mkdir((dir_.path() + "/policy").c_str(), 0755);
    std::ofstream(dir_.path() + "/policy/policy.json") << kPolicy;
    ::mkdir((dir_.path() + "/run").c_str(), 0755);
    // The agent takes policy only as a bundle signed by a pinned key, applied to its state.
    const std::string policy = dir_.path() + "/policy/";
    int status = 0;
    std::string out = RunCommand(std::string(MAMORICTL) + " policy keygen --out " + policy +
                                     "admin.key --trust-out " + policy + "trust.json 2>&1",
                                 &status);
    ASSERT_EQ(status, 0) << out;
    out = RunCommand(std::string(MAMORICTL) + " policy sign --key " + policy + "admin.key --out " +
                         policy + "policy.bundle " + policy + "policy.json 2>&1",
                     &status);
    ASSERT_EQ(status, 0) << out;
    out = RunCommand(std::string(MAMORI_CLI) + " --state-dir " + dir_.path() +
                         "/state --trust-file " + policy + "trust.json policy apply " + policy +
                         "policy.bundle 2>&1",
                     &status);
    ASSERT_EQ(status, 0) << out;
  }
  std::string Journal() const {
    std::string all;
    const std::string dir = dir_.path() + "/state/journal";
    std::vector<std::string> segments;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      segments.push_back(entry.path().string());
    }
    std::sort(segments.begin(), segments.end());
    for (const auto& path : segments) {
      if (path.ends_with(".jsonl")) all += ReadAll(path);
    }
    return all;
  }
  // Spawns the agent, behind the command line `args` when given (an activator).
  void Spawn(std::vector<std::string> args) {
    const std::vector<std::string> agent = {
        MAMORI_AGENT,         "--trust-file",         dir_.path() + "/policy/trust.json",
        "--state-dir",        dir_.path() + "/state", "--runtime-dir",
        dir_.path() + "/run", "--usb-sysfs-root",     sysfs_.root()};
    args.insert(args.end(), agent.begin(), agent.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, Log().c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    ASSERT_EQ(::posix_spawnp(&agent_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  void StartAgent() {
    Spawn({});
    for (int i = 0; i < 200 && ReadAll(Log()).find("serving") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_NE(ReadAll(Log()).find("serving"), std::string::npos) << ReadAll(Log());
  }
  std::string Log() const { return dir_.path() + "/agent.log"; }
  void TearDown() override {
    if (agent_ > 0) {
      ::kill(agent_, SIGTERM);
      int status = 0;
      ::waitpid(agent_, &status, 0);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
  }
  std::string Devices(const std::string& flags, int* status) {
    return RunCommand(std::string(MAMORI_CLI) + " --runtime-dir " + dir_.path() + "/run devices " +
                          flags + " 2>&1",
                      status);
  }

  testing::FakeSysfs sysfs_;
  testing::TempDir dir_;
  pid_t agent_ = -1;
};

TEST_F(AgentDevicesTest, TheAgentDecidesAtStartAndTheCliListsDecisionsWithRuleIds) {
  StartAgent();
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("usb1") + "/authorized_default"), "0");
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("1-1") + "/authorized"), "1");
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("1-2") + "/authorized"), "0");
  int status = 0;
  const std::string out = Devices("--json", &status);
  ASSERT_EQ(status, 0) << out;
  auto devices = boost::json::parse(out).at("devices").as_array();
  ASSERT_EQ(devices.size(), 2u) << out;
  EXPECT_EQ(devices[0].at("device"), "1-1");
  EXPECT_EQ(devices[0].at("serial"), "MAMORI-OK-1");
  EXPECT_EQ(devices[0].at("action"), "allow");
  EXPECT_EQ(devices[0].at("rule"), "ledger-ok");
  EXPECT_EQ(devices[0].at("mode"), "enforce");
  EXPECT_EQ(devices[1].at("serial"), "UNLISTED-1");
  EXPECT_EQ(devices[1].at("action"), "block");
  EXPECT_EQ(devices[1].at("rule"), "default");

  const std::string table = Devices("", &status);
  ASSERT_EQ(status, 0) << table;
  EXPECT_NE(
      table.find("1-2         usb         46f4:0001  UNLISTED-1            block     default"),
      std::string::npos)
      << table;

  const std::string journal = Journal();
  EXPECT_NE(journal.find(R"("type":"usb.decision","data":{"channel":"usb","device":"1-1")"),
            std::string::npos)
      << journal;
  EXPECT_NE(journal.find(R"("rule":"ledger-ok")"), std::string::npos) << journal;
}

TEST_F(AgentDevicesTest, OnlyRootMayListDevices) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the CLI as another user";
  StartAgent();
  int status = 0;
  const std::string out =
      RunCommand("setpriv --reuid=65534 --regid=65534 --clear-groups " + std::string(MAMORI_CLI) +
                     " --runtime-dir " + dir_.path() + "/run devices --json 2>&1",
                 &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("the agent refused: only root may list devices"), std::string::npos) << out;
  const std::string journal = Journal();
  EXPECT_NE(journal.find(R"("type":"devices.caller_refused","data":{"caller_uid":"65534")"),
            std::string::npos)
      << journal;
}

// Under systemd the agent's standard error goes to journald too: here `systemd-cat` plays that
// part. Each decision and each MFA outcome is one entry with structured fields; no raw journal line
// is echoed next to it.
TEST_F(AgentDevicesTest, EventsReachJournaldOnceWithStructuredFields) {
  if (::geteuid() != 0 || ::access("/lib/systemd/systemd-journald", X_OK) != 0) {
    GTEST_SKIP() << "needs root and systemd-journald for a private journal";
  }
  int status = 0;
  RunCommand("unshare --mount true 2>&1", &status);
  if (status != 0) GTEST_SKIP() << "no mount namespaces here for a private journal";
  const std::string out = dir_.path() + "/journal.json";
  const std::string agent = std::string("timeout -s TERM 4 ") + MAMORI_AGENT + " --trust-file " +
                            dir_.path() + "/policy/trust.json --state-dir " + dir_.path() +
                            "/state --runtime-dir " + dir_.path() + "/run --usb-sysfs-root " +
                            sysfs_.root() + " 2>&1 | systemd-cat -t mamori-agent";
  std::string ran;
  std::thread journald([&] {
    ran = RunCommand("unshare --mount --propagation private bash " MAMORI_TEST_SOURCE_DIR
                     "/with_private_journald.sh " +
                         out + " bash -c '" + agent + "' 2>&1",
                     &status);
  });
  const std::string socket = dir_.path() + "/run/agent.sock";
  std::string reply;
  platform::Status s = platform::Status::Error(-1, "no agent socket");
  for (int i = 0; i < 100 && !s.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    s = platform::LocalSocketRequest(
        socket, R"({"op":"check","user":"no body","service":"sshd","tty":"","rhost":"192.0.2.9"})",
        std::chrono::seconds(2), 4096, &reply);
  }
  EXPECT_TRUE(s.ok()) << s.message();
  journald.join();
  ASSERT_EQ(status, 0) << ran;
  std::vector<boost::json::object> decisions, mfa;
  int echoed = 0, from_stderr = 0;
  std::istringstream lines(ReadAll(out));
  for (std::string line; std::getline(lines, line);) {
    boost::json::object entry = boost::json::parse(line).as_object();
    const auto* message = entry.if_contains("MESSAGE");
    if (message && message->is_string() &&
        message->get_string().find("\"type\":") != boost::json::string::npos) {
      ++echoed;
    }
    from_stderr += message && message->is_string() &&
                   message->get_string().starts_with("mamori-agent: guarding");
    if (!entry.contains("MAMORI_EVENT")) continue;
    if (entry.at("MAMORI_EVENT") == "usb.decision") decisions.push_back(entry);
    if (entry.at("MAMORI_EVENT") == "mfa.invalid_user") mfa.push_back(entry);
  }
  EXPECT_EQ(from_stderr, 1) << "standard error did not reach the journal: " << ReadAll(out);
  EXPECT_EQ(echoed, 0) << ReadAll(out);
  ASSERT_EQ(decisions.size(), 2u) << ReadAll(out);
  EXPECT_EQ(decisions[0].at("MAMORI_DEVICE"), "1-1");
  EXPECT_EQ(decisions[0].at("MAMORI_SERIAL"), "MAMORI-OK-1");
  EXPECT_EQ(decisions[0].at("MAMORI_ACTION"), "allow");
  EXPECT_EQ(decisions[0].at("MAMORI_RULE"), "ledger-ok");
  EXPECT_EQ(decisions[0].at("PRIORITY"), "6");
  EXPECT_EQ(decisions[1].at("MAMORI_DEVICE"), "1-2");
  EXPECT_EQ(decisions[1].at("MAMORI_ACTION"), "block");
  EXPECT_EQ(decisions[1].at("MAMORI_RULE"), "default");
  EXPECT_EQ(decisions[1].at("MAMORI_MODE"), "enforce");
  EXPECT_EQ(decisions[1].at("PRIORITY"), "5");
  EXPECT_EQ(std::string_view(decisions[1].at("MESSAGE").as_string()).substr(0, 17),
            "device decision: ");
  ASSERT_EQ(mfa.size(), 1u) << ReadAll(out);
  EXPECT_EQ(mfa[0].at("MAMORI_USER"), "no body");
  EXPECT_EQ(mfa[0].at("MAMORI_SERVICE"), "sshd");
  EXPECT_EQ(mfa[0].at("MAMORI_RHOST"), "192.0.2.9");
  EXPECT_EQ(mfa[0].at("MAMORI_OUTCOME"), "user_unknown");
  EXPECT_EQ(mfa[0].at("MAMORI_REASON"), "invalid user name");
  EXPECT_FALSE(mfa[0].contains("MAMORI_TTY"));
  EXPECT_EQ(mfa[0].at("PRIORITY"), "5");
}

TEST_F(AgentDevicesTest, UnderSocketActivationItServesThePassedSocketNotifiesAndFeedsTheWatchdog) {
  // The test plays systemd's part: its own notification socket, the listening socket held by
  // systemd-socket-activate, which starts the agent on the first connection.
  const std::string notify_path = dir_.path() + "/notify";
  const int notify = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, notify_path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(notify, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{10, 0};
  ::setsockopt(notify, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string socket_dir = dir_.path() + "/activated";
  ::mkdir(socket_dir.c_str(), 0755);
  Spawn({"systemd-socket-activate", "-l", socket_dir + "/agent.sock", "-E",
         "NOTIFY_SOCKET=" + notify_path, "-E", "WATCHDOG_USEC=200000"});
  for (int i = 0; i < 200 && ReadAll(Log()).find("Listening on") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  int status = 0;
  const std::string out = RunCommand(
      std::string(MAMORI_CLI) + " --runtime-dir " + socket_dir + " devices --json 2>&1", &status);
  ASSERT_EQ(status, 0) << out << ReadAll(Log());
  EXPECT_EQ(boost::json::parse(out).at("devices").as_array().size(), 2u) << out;
  char buf[4096];
  ssize_t n = ::recv(notify, buf, sizeof buf, 0);
  ASSERT_GT(n, 0) << ReadAll(Log());
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)),
            "READY=1\nSTATUS=guarding 2 devices, serving the socket from systemd (policy version "
            "3)");
  // Fed at half the watchdog interval.
  n = ::recv(notify, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "WATCHDOG=1");
  // The agent bound nothing of its own.
  struct stat st;
  EXPECT_NE(::stat((dir_.path() + "/run/agent.sock").c_str(), &st), 0);
  ::kill(agent_, SIGTERM);
  ::waitpid(agent_, &status, 0);
  agent_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::string last;
  while ((n = ::recv(notify, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
    last.assign(buf, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(last, "STOPPING=1");
  ::close(notify);
}

}  // namespace
}  // namespace mamori
