#include "agent_checks.h"

#include <chrono>
#include <string>
#include <vector>

#include "mamori/agent/compliance.h"

namespace mamori::agent {

std::vector<std::string> ChecksAffectedBy(std::string_view event_type) {
  if (event_type == "mfa.enrolled" || event_type == "mfa.imported" || event_type == "mfa.reset") {
    return {"mfa.enrolled"};
  }
  return {};
}

Reporter::Checks AgentChecks(CollectorChannel& channel, CredentialStore& store,
                             platform::SystemProbe& probe, bool guard_enforcing) {
  Reporter::Checks checks;
  checks.affected_by = ChecksAffectedBy;
  checks.run = [&channel, &store, &probe,
                guard_enforcing](const std::vector<std::string>& prefixes) {
    ComplianceInputs in;
    in.policy = channel.policy();
    in.applied_version = channel.policy_version();
    // The channel keeps only bundles that verified against the pinned root keys.
    in.policy_verified = in.applied_version.has_value();
    std::vector<std::string> users;
    platform::Status s = store.ListUsers(&users);
    if (s.ok()) {
      in.enrolled_users = std::move(users);
    } else {
      in.enrolled_error = s.message();
    }
    // The reporter measures collector minus terminal; the catalogue wants terminal minus collector.
    if (Reporter* reporter = channel.reporter()) {
      if (auto skew = reporter->clock_skew()) in.clock_skew = -*skew;
    }
    in.guard_enforcing = guard_enforcing && in.policy.usb.mode == policy::EnforcementMode::kEnforce;
    in.now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    std::vector<ReportCheck> checks;
    for (CheckOutcome& o : RunComplianceChecks(in, probe, prefixes)) {
      checks.push_back({std::move(o.id), std::move(o.result), std::move(o.observed)});
    }
    return checks;
  };
  return checks;
}

}  // namespace mamori::agent
