#include "checks_command.h"

#include <boost/json.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>

#include "mamori/agent/compliance.h"
#include "mamori/agent/credential_store.h"
#include "mamori/agent/policy_state.h"
#include "mamori/platform/env.h"
#include "mamori/platform/system_probe.h"
#include "mamori/policy/trust.h"

namespace mamori::cli {
namespace {

constexpr std::size_t kMaxTrustBytes = 64 * 1024;

// What the state directory and the trust file say about the applied policy. The CLI cannot see
// the running agent, so the guard's state, the clock skew and refused offers stay unknown.
void LoadPolicy(const ChecksOptions& options, agent::ComplianceInputs* in) {
  platform::Env& env = platform::Env::Default();
  std::string text;
  platform::Status s = env.ReadFile(options.trust_file, kMaxTrustBytes, &text);
  if (!s.ok()) {
    in->policy_problem = "trust file: " + s.message();
    return;
  }
  policy::TrustSetResult trust = policy::ParseTrustSet(text);
  if (!trust.trust) {
    in->policy_problem = options.trust_file + ": " +
                         (trust.errors.empty() ? "invalid" : trust.errors.front().ToString());
    return;
  }
  agent::PolicyState state(env, options.state_dir, *trust.trust, options.groups);
  s = state.Load();
  if (!s.ok()) {
    in->policy_problem = s.message();
    return;
  }
  in->policy = state.current();
  in->applied_version = state.version();
  in->policy_verified = state.version().has_value();
}

void LoadEnrolled(const std::string& state_dir, agent::ComplianceInputs* in) {
  std::unique_ptr<agent::CredentialStore> store;
  platform::Status s = agent::CredentialStore::Open(state_dir, &store);
  std::vector<std::string> users;
  if (s.ok()) s = store->ListUsers(&users);
  if (s.ok()) {
    in->enrolled_users = std::move(users);
  } else {
    in->enrolled_error = s.message();
  }
}

void PrintTable(const std::vector<agent::CheckOutcome>& outcomes) {
  std::size_t id_width = 2;
  for (const auto& o : outcomes) id_width = std::max(id_width, o.id.size());
  std::cout << std::left << std::setw(static_cast<int>(id_width)) << "id"
            << "  " << std::setw(14) << "result"
            << "  observed\n";
  for (const auto& o : outcomes) {
    std::cout << std::setw(static_cast<int>(id_width)) << o.id << "  " << std::setw(14) << o.result
              << "  " << o.observed << "\n";
  }
}

void PrintJson(const std::vector<agent::CheckOutcome>& outcomes) {
  boost::json::array checks;
  for (const auto& o : outcomes) {
    checks.push_back({{"id", o.id},
                      {"clause", o.clause},
                      {"title_ja", o.title_ja},
                      {"title_en", o.title_en},
                      {"result", o.result},
                      {"observed", o.observed}});
  }
  boost::json::object doc{{"compliant", agent::AllCompliant(outcomes)},
                          {"checks", std::move(checks)}};
  std::cout << boost::json::serialize(doc) << "\n";
}

}  // namespace

int RunChecksCommand(const ChecksOptions& options) {
  auto probe = platform::NewLinuxSystemProbe();
  agent::ComplianceInputs in;
  in.now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  LoadPolicy(options, &in);
  LoadEnrolled(options.state_dir, &in);
  in.agent_binary = options.agent_binary;
  if (in.agent_binary.empty()) {
    std::string self;
    in.agent_binary = probe->SelfExecutable(&self).ok()
                          ? self.substr(0, self.rfind('/') + 1) + "mamori-agent"
                          : "/usr/sbin/mamori-agent";
  }
  const auto outcomes = agent::RunComplianceChecks(in, *probe);
  if (options.json) {
    PrintJson(outcomes);
  } else {
    PrintTable(outcomes);
  }
  return agent::AllCompliant(outcomes) ? 0 : 1;
}

}  // namespace mamori::cli
