// 6(7): a trustworthy clock (time-boxed rules, TOTP and event times depend on it); 3(2): the
// applied policy is one the administrators signed and it is still in force.
#include <cstdlib>

#include "checks.h"
#include "mamori/policy/text.h"

namespace mamori::agent::compliance {
namespace {

std::string Duration(long us) {
  if (us < 1000) return std::to_string(us) + " us";
  if (us < 1000000) return std::to_string(us / 1000) + " ms";
  return std::to_string(us / 1000000) + " s";
}

}  // namespace

Verdict ClockSkew(const ComplianceInputs& in, platform::SystemProbe&) {
  if (!in.clock_skew) return {kNotApplicable, "skew against the collector not known yet"};
  const long long skew = in.clock_skew->count();
  const long long limit = in.policy.compliance.max_clock_skew_seconds;
  const std::string observed =
      (skew >= 0 ? "+" : "") + std::to_string(skew) + " s (limit " + std::to_string(limit) + " s)";
  return {std::llabs(skew) <= limit ? kPass : kFail, observed};
}

Verdict ClockSync(const ComplianceInputs& in, platform::SystemProbe& probe) {
  platform::ClockSync clock;
  platform::Status s = probe.ClockStatus(&clock);
  if (!s.ok()) return {kError, s.message()};
  const std::string bound = "max error " + Duration(clock.max_error_us);
  if (clock.unsynchronized) return {kFail, "unsynchronized (STA_UNSYNC), " + bound};
  const long limit_us = static_cast<long>(in.policy.compliance.max_clock_skew_seconds) * 1000000;
  if (clock.max_error_us > limit_us) {
    return {kFail, "synchronized, but " + bound + " exceeds the skew limit"};
  }
  return {kPass, "synchronized, " + bound};
}

Verdict PolicyCurrent(const ComplianceInputs& in, platform::SystemProbe&) {
  std::string refused;
  if (!in.last_rejection.empty()) refused = "; last offer refused: " + in.last_rejection;
  if (!in.applied_version) {
    std::string why = in.policy_problem.empty() ? "no policy applied" : in.policy_problem;
    return {kFail, "running the built-in defaults (" + why + ")" + refused};
  }
  const std::string version = "version " + std::to_string(*in.applied_version);
  if (!in.policy_verified) return {kFail, version + " not verified against the root keys"};
  const std::string expires = policy::FormatTimestamp(in.policy.expires_at);
  if (in.now >= in.policy.expires_at) return {kFail, version + " expired " + expires + refused};
  return {kPass, version + ", verified, expires " + expires + refused};
}

}  // namespace mamori::agent::compliance
