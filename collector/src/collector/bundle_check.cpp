#include "mamori/collector/bundle_check.h"

#include <vector>

#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/verify.h"

namespace mamori::collector {
namespace {

constexpr std::size_t kErrorsShown = 5;

std::string Describe(std::string prefix, const std::vector<policy::ValidationError>& errors) {
  for (std::size_t i = 0; i < errors.size() && i < kErrorsShown; ++i) {
    prefix += (i ? "; " : " ") + errors[i].ToString();
  }
  if (errors.size() > kErrorsShown) {
    prefix += "; and " + std::to_string(errors.size() - kErrorsShown) + " more";
  }
  return prefix;
}

}  // namespace

std::variant<BundleInfo, std::string> InspectBundle(std::string_view bundle_json) {
  if (bundle_json.size() > policy::kMaxBundleBytes) {
    return "bundle: larger than " + std::to_string(policy::kMaxBundleBytes) + " bytes";
  }
  std::vector<policy::ValidationError> errors;
  const auto bundle = policy::ParseBundle(bundle_json, errors);
  if (!bundle) return Describe("bundle:", errors);
  const policy::ParseResult parsed = policy::ParsePolicy(bundle->policy_bytes);
  if (!parsed.ok()) return Describe("/policy: invalid policy:", parsed.errors);
  if (policy::Canonicalize(*parsed.policy) != bundle->policy_bytes) {
    return std::string("/policy: not in canonical form (sign it with mamorictl policy sign)");
  }
  return BundleInfo{parsed.policy->version, policy::PolicyHash(bundle->policy_bytes),
                    parsed.policy->compliance.report_interval_seconds};
}

}  // namespace mamori::collector
