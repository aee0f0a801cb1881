#include "mamori/collector/bundle_check.h"

#include "collector/json_fields.h"
#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/text.h"
#include "mamori/policy/verify.h"

namespace mamori::collector {

std::variant<BundleInfo, std::string> InspectBundle(std::string_view bundle_json) {
  if (bundle_json.size() > policy::kMaxBundleBytes) return std::string("bundle: too large");
  try {
    const boost::json::object root = ParseObject(bundle_json);
    const Fields fields(root, "", {"format", "policy", "signatures"});
    if (fields.Str("format", 64) != policy::kBundleFormat) {
      return "/format: expected \"" + std::string(policy::kBundleFormat) + "\"";
    }
    const auto* policy_value = root.if_contains("policy");
    if (policy_value == nullptr || !policy_value->is_string()) {
      return std::string("/policy: expected the policy as a JSON string");
    }
    const std::string bytes(policy_value->get_string());
    const policy::ParseResult parsed = policy::ParsePolicy(bytes);
    if (!parsed.ok()) {
      std::string message = "/policy: invalid policy:";
      for (std::size_t i = 0; i < parsed.errors.size() && i < 5; ++i) {
        message += " " + parsed.errors[i].ToString() + ";";
      }
      return message;
    }
    if (policy::Canonicalize(*parsed.policy) != bytes) {
      return std::string("/policy: not in canonical form (sign it with mamorictl policy sign)");
    }
    const auto& signatures = fields.Array("signatures", 16);
    if (signatures.empty()) return std::string("/signatures: at least one signature is required");
    for (std::size_t i = 0; i < signatures.size(); ++i) {
      const std::string path = "/signatures/" + std::to_string(i);
      if (!signatures[i].is_object()) return path + ": expected an object";
      const Fields sig(signatures[i].get_object(), path, {"key_id", "signature"});
      const std::string key_id = sig.Str("key_id", 32);
      const auto id_bytes = policy::HexDecode(key_id);
      if (key_id.size() != 32 || !id_bytes) return path + "/key_id: expected 32 hex digits";
      const auto raw = policy::Base64Decode(sig.Str("signature", 128));
      if (!raw || raw->size() != 64)
        return path + "/signature: expected a base64 64-byte signature";
    }
    return BundleInfo{parsed.policy->version, policy::PolicyHash(bytes),
                      parsed.policy->compliance.report_interval_seconds};
  } catch (const BadRequest& e) {
    return std::string(e.what());
  }
}

}  // namespace mamori::collector
