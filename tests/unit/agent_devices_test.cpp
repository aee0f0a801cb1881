// The built mamori-agent on a fake sysfs with the built `mamori devices` asking it over the real
// socket: decisions, rule ids, the journal, and the refusal of callers other than root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "fake_sysfs.h"
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
    const std::string policy = dir_.path() + "/policy/policy.json";
    const std::string state = dir_.path() + "/state";
    const std::string run = dir_.path() + "/run";
    const std::string log = dir_.path() + "/agent.log";
    std::vector<std::string> args = {MAMORI_AGENT, "--policy-file", policy, "--state-dir",
                                     state,        "--runtime-dir", run,    "--usb-sysfs-root",
                                     sysfs_.root()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_EQ(::posix_spawn(&agent_, MAMORI_AGENT, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    for (int i = 0; i < 200 && ReadAll(log).find("serving") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_NE(ReadAll(log).find("serving"), std::string::npos) << ReadAll(log);
  }
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

  const std::string journal = ReadAll(dir_.path() + "/state/events.jsonl");
  EXPECT_NE(journal.find(R"("type":"usb.decision","channel":"usb","device":"1-1")"),
            std::string::npos)
      << journal;
  EXPECT_NE(journal.find(R"("rule":"ledger-ok")"), std::string::npos) << journal;
}

TEST_F(AgentDevicesTest, OnlyRootMayListDevices) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the CLI as another user";
  int status = 0;
  const std::string out =
      RunCommand("setpriv --reuid=65534 --regid=65534 --clear-groups " + std::string(MAMORI_CLI) +
                     " --runtime-dir " + dir_.path() + "/run devices --json 2>&1",
                 &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("the agent refused: only root may list devices"), std::string::npos) << out;
}

}  // namespace
}  // namespace mamori
