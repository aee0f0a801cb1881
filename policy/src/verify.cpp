#include "mamori/policy/verify.h"

#include <algorithm>

#include "json_reader.h"
#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/text.h"

namespace mamori::policy {
namespace json = boost::json;
namespace {

VerifyResult Fail(VerifyError error, std::string message) {
  VerifyResult r;
  r.error = error;
  r.message = std::move(message);
  return r;
}

std::string FirstErrors(const std::vector<ValidationError>& errors) {
  std::string out;
  for (std::size_t i = 0; i < errors.size() && i < 3; ++i) {
    if (i > 0) out += "; ";
    out += errors[i].ToString();
  }
  if (errors.size() > 3) out += "; and " + std::to_string(errors.size() - 3) + " more";
  return out;
}

}  // namespace

std::string_view ToString(VerifyError e) {
  switch (e) {
    case VerifyError::kMalformed:
      return "malformed";
    case VerifyError::kBadSignature:
      return "bad signature";
    case VerifyError::kUnknownKey:
      return "unknown key";
    case VerifyError::kBelowThreshold:
      return "below threshold";
    case VerifyError::kRollback:
      return "rollback";
    case VerifyError::kExpired:
      return "expired";
    case VerifyError::kNotForTerminal:
      return "not for this terminal";
    case VerifyError::kTooLarge:
      return "too large";
  }
  return "malformed";
}

VerifyResult VerifyBundle(std::string_view bundle_json, const TrustSet& trust,
                          const VerifyContext& context) {
  if (bundle_json.size() > kMaxBundleBytes) {
    return Fail(VerifyError::kTooLarge, "bundle is " + std::to_string(bundle_json.size()) +
                                            " bytes; the limit is " +
                                            std::to_string(kMaxBundleBytes));
  }
  std::vector<ValidationError> errors;
  auto bundle = ParseBundle(bundle_json, errors);
  if (!bundle) return Fail(VerifyError::kMalformed, FirstErrors(errors));

  // Authenticity first: nothing in the policy is interpreted before enough trusted keys vouch for
  // these exact bytes.
  std::vector<std::string> signed_by;
  std::vector<std::string> unknown;
  for (const auto& sig : bundle->signatures) {
    const RawPublicKey* key = trust.Find(sig.key_id);
    if (key == nullptr) {
      unknown.push_back(sig.key_id);
      continue;
    }
    if (!VerifySignature(*key, bundle->policy_bytes, sig.signature)) {
      return Fail(VerifyError::kBadSignature,
                  "the signature of key " + sig.key_id + " does not verify over this policy");
    }
    // A key signing twice still counts once toward the threshold.
    if (std::find(signed_by.begin(), signed_by.end(), sig.key_id) == signed_by.end()) {
      signed_by.push_back(sig.key_id);
    }
  }
  if (signed_by.empty()) {
    std::string ids;
    for (const auto& id : unknown) ids += (ids.empty() ? "" : ", ") + id;
    return Fail(VerifyError::kUnknownKey,
                "no signature is by a trusted key (signed by " + ids + ")");
  }
  if (signed_by.size() < trust.threshold) {
    return Fail(VerifyError::kBelowThreshold,
                std::to_string(signed_by.size()) + " trusted key(s) signed; " +
                    std::to_string(trust.threshold) + " are required");
  }

  ParseResult parsed = ParsePolicy(bundle->policy_bytes);
  if (!parsed.ok()) {
    return Fail(VerifyError::kMalformed, "policy: " + FirstErrors(parsed.errors));
  }
  if (Canonicalize(*parsed.policy) != bundle->policy_bytes) {
    return Fail(VerifyError::kMalformed, "policy is not in canonical form");
  }
  const Policy& policy = *parsed.policy;

  const bool for_us = std::any_of(policy.targets.begin(), policy.targets.end(), [&](auto& t) {
    return t == "*" ||
           std::find(context.groups.begin(), context.groups.end(), t) != context.groups.end();
  });
  if (!for_us) {
    std::string targets;
    for (const auto& t : policy.targets) targets += (targets.empty() ? "" : ", ") + t;
    return Fail(VerifyError::kNotForTerminal,
                "policy targets " + targets + ", none of this terminal's groups");
  }
  if (policy.expires_at <= context.now) {
    return Fail(VerifyError::kExpired, "policy version " + std::to_string(policy.version) +
                                           " expired at " + FormatTimestamp(policy.expires_at));
  }

  const std::string hash = PolicyHash(bundle->policy_bytes);
  bool already_applied = false;
  if (context.last_version) {
    if (policy.version < *context.last_version) {
      return Fail(VerifyError::kRollback, "version " + std::to_string(policy.version) +
                                              " is older than the applied version " +
                                              std::to_string(*context.last_version));
    }
    if (policy.version == *context.last_version) {
      if (hash != context.last_hash) {
        return Fail(VerifyError::kRollback, "version " + std::to_string(policy.version) +
                                                " is already applied with other content");
      }
      already_applied = true;
    }
  }

  VerifyResult result;
  result.verified = Verified{std::move(*parsed.policy), std::move(bundle->policy_bytes), hash,
                             already_applied, std::move(signed_by)};
  return result;
}

}  // namespace mamori::policy
