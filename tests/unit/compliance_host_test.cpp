// The catalogue against this host (real /etc/pam.d, adjtimex, /proc/net/route, apt), and the CLI
// `mamori checks --json` run as a program on a state directory with a signed policy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <array>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "mamori/agent/compliance.h"
#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/text.h"
#include "mamori/policy/trust.h"
#include "temp_dir.h"

namespace mamori::agent {
namespace {

using ::testing::HasSubstr;

const std::set<std::string> kResults = {kPass, kFail, kError, kNotApplicable};

TEST(ComplianceRealHost, EveryCheckGivesASaneResultOnThisMachine) {
  auto probe = platform::NewLinuxSystemProbe();
  ComplianceInputs in;
  in.now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  in.enrolled_users = std::vector<std::string>{};
  in.policy.mfa.services = {"login", "su", "passwd"};  // stacks Debian always installs
  const auto outcomes = RunComplianceChecks(in, *probe);
  ASSERT_EQ(outcomes.size(), 11u);
  for (const auto& o : outcomes) {
    EXPECT_EQ(kResults.count(o.result), 1u) << o.id;
    EXPECT_FALSE(o.observed.empty()) << o.id;
    EXPECT_EQ(o.observed.find('\n'), std::string::npos) << o.id << ": " << o.observed;
    EXPECT_LT(o.observed.size(), 400u) << o.id << ": " << o.observed;
    RecordProperty(o.id, o.result + ": " + o.observed);
  }
  auto find = [&](const std::string& id) {
    for (const auto& o : outcomes) {
      if (o.id == id) return o;
    }
    return CheckOutcome{};
  };
  // Debian's stacks parse (no error); pam_mamori is not configured on a build machine.
  const auto pam = find("mfa.pam");
  EXPECT_NE(pam.result, kError) << pam.observed;
  EXPECT_THAT(pam.observed, HasSubstr("login: "));
  // adjtimex answers: synchronized or not, never an error.
  EXPECT_NE(find("clock.ntp").result, kError) << find("clock.ntp").observed;
  EXPECT_THAT(find("clock.ntp").observed, HasSubstr("max error"));
  // The routing tables parse; the built-in policy names no networks.
  EXPECT_EQ(find("network.egress").result, kNotApplicable) << find("network.egress").observed;
  EXPECT_THAT(find("network.egress").observed, HasSubstr("default route: "));
  // The test binary is no package's file: its hash is the evidence.
  EXPECT_EQ(find("agent.binary").result, kNotApplicable) << find("agent.binary").observed;
  EXPECT_THAT(find("agent.binary").observed, ::testing::ContainsRegex("sha256 [0-9a-f]{64}$"));
  EXPECT_EQ(find("policy.current").result, kFail);
}

// Runs a command line; returns its exit status and standard output.
int RunProgram(const std::string& command, std::string* out) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out->append(buffer.data(), n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(MamoriChecksCli, PrintsValidJsonForTheAppliedPolicy) {
  testing::TempDir dir;
  const std::string state = dir.path() + "/state";
  std::filesystem::create_directory(state);
  std::filesystem::permissions(state, std::filesystem::perms::owner_all);
  // Enrolled: a credential record. Not enrolled: a lock file, and a planted link.
  std::filesystem::create_directory(state + "/mfa");
  std::filesystem::permissions(state + "/mfa", std::filesystem::perms::owner_all);
  std::ofstream(state + "/mfa/alice.cred") << "{}";
  std::ofstream(state + "/mfa/mallory.lock");
  std::filesystem::create_symlink(state + "/mfa/alice.cred", state + "/mfa/mallory.cred");
  policy::SigningKey key = policy::SigningKey::Generate();
  policy::TrustSet trust;
  trust.keys.push_back(key.public_key());
  std::ofstream(dir.path() + "/trust.json") << policy::SerializeTrustSet(trust);
  auto parsed = policy::ParsePolicy(
      R"({"schema":1,"version":9,"issued_at":"2026-01-01T00:00:00Z",
          "expires_at":"2099-01-01T00:00:00Z","targets":["kokuho"],
          "usb":{"mode":"audit"},"mfa":{"users":["alice","mallory"]}})");
  ASSERT_TRUE(parsed.ok());
  const policy::SigningKey* keys[] = {&key};
  std::ofstream(state + "/policy.bundle")
      << policy::SerializeBundle(policy::SignPolicy(policy::Canonicalize(*parsed.policy), keys));

  std::string out;
  const int status =
      RunProgram(std::string(MAMORI_CLI) + " --state-dir " + state +
                     " checks --json --group kokuho --trust-file " + dir.path() + "/trust.json",
                 &out);
  ASSERT_TRUE(status == 0 || status == 1) << status << "\n" << out;
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(out, ec);
  ASSERT_FALSE(ec) << out;
  const auto& object = doc.as_object();
  const auto& checks = object.at("checks").as_array();
  ASSERT_EQ(checks.size(), 11u);
  std::map<std::string, boost::json::object> by_id;
  for (const auto& c : checks) {
    const auto& o = c.as_object();
    for (const char* field : {"id", "clause", "title_ja", "title_en", "result", "observed"}) {
      ASSERT_TRUE(o.contains(field) && o.at(field).is_string()) << field << " in " << c;
    }
    EXPECT_EQ(kResults.count(std::string(o.at("result").as_string())), 1u) << c;
    by_id[std::string(o.at("id").as_string())] = o;
  }
  // A usb.rules failure (audit mode) makes the whole run non-compliant, and the exit status says
  // so.
  EXPECT_EQ(object.at("compliant").as_bool(), false);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(by_id["policy.current"].at("result").as_string(), kPass) << by_id["policy.current"];
  EXPECT_EQ(by_id["policy.current"].at("observed").as_string(),
            "version 9, verified, expires 2099-01-01T00:00:00Z");
  EXPECT_EQ(by_id["usb.rules"].at("result").as_string(), kFail);
  EXPECT_EQ(by_id["mfa.enrolled"].at("observed").as_string(), "1 of 2 enrolled; missing: mallory");
  EXPECT_EQ(by_id["usb.guard"].at("title_ja").as_string(), "USBガードが既定拒否で動作中");

  // Without the trust file the stored policy cannot be verified: the built-in defaults are
  // reported, never the unverified bundle.
  out.clear();
  RunProgram(std::string(MAMORI_CLI) + " --state-dir " + state + " checks --json --trust-file " +
                 dir.path() + "/none.json",
             &out);
  doc = boost::json::parse(out, ec);
  ASSERT_FALSE(ec) << out;
  for (const auto& c : doc.as_object().at("checks").as_array()) {
    if (c.as_object().at("id").as_string() != "policy.current") continue;
    EXPECT_EQ(c.as_object().at("result").as_string(), kFail);
    EXPECT_THAT(std::string(c.as_object().at("observed").as_string()),
                HasSubstr("built-in defaults (trust file: "));
  }
}

TEST(MamoriChecksCli, TableListsEveryCheck) {
  testing::TempDir dir;
  std::string out;
  const int status =
      RunProgram(std::string(MAMORI_CLI) + " --state-dir " + dir.path() + "/s checks", &out);
  EXPECT_EQ(status, 1);  // no policy applied
  EXPECT_THAT(out, ::testing::StartsWith("id "));
  for (const char* id : {"usb.guard", "mfa.pam", "os.security-updates"}) {
    EXPECT_THAT(out, HasSubstr(std::string("\n") + id + " ")) << out;
  }
}

}  // namespace
}  // namespace mamori::agent
