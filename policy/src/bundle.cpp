#include "mamori/policy/bundle.h"

#include <openssl/evp.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <stdexcept>

#include "json_reader.h"
#include "mamori/policy/text.h"

namespace mamori::policy {
namespace json = boost::json;

Bundle SignPolicy(std::string canonical_policy, std::span<const SigningKey* const> keys) {
  Bundle bundle;
  for (const SigningKey* key : keys) {
    bundle.signatures.push_back({key->key_id(), key->Sign(canonical_policy)});
  }
  bundle.policy_bytes = std::move(canonical_policy);
  return bundle;
}

std::string SerializeBundle(const Bundle& bundle) {
  json::array signatures;
  for (const auto& s : bundle.signatures) {
    signatures.emplace_back(
        json::object{{"key_id", s.key_id}, {"signature", Base64Encode(s.signature)}});
  }
  json::object o;
  o["format"] = json::string(kBundleFormat.data(), kBundleFormat.size());
  o["policy"] = bundle.policy_bytes;
  o["signatures"] = std::move(signatures);
  return json::serialize(o) + "\n";
}

std::optional<Bundle> ParseBundle(std::string_view json_text,
                                  std::vector<ValidationError>& errors) {
  auto root = detail::ParseJsonStrict(json_text, errors);
  if (!root) return std::nullopt;
  detail::Errors e(errors);
  detail::ObjectReader r(e, *root, "");
  Bundle bundle;
  if (auto* v = r.Field("format", true)) {
    if (!v->is_string() ||
        v->get_string() != json::string_view(kBundleFormat.data(), kBundleFormat.size())) {
      e.Add("/format",
            "expected \"" + std::string(kBundleFormat) + "\", got " + detail::Describe(*v));
    }
  }
  if (auto* v = r.Field("policy", true)) {
    if (v->is_string()) {
      bundle.policy_bytes.assign(v->get_string().data(), v->get_string().size());
    } else {
      e.Add("/policy", "expected the canonical policy as a string, got " + detail::Describe(*v));
    }
  }
  if (auto* v = r.Field("signatures", true)) {
    if (const json::array* a = detail::ReadArray(e, *v, "/signatures", kMaxSignatures)) {
      if (a->empty()) e.Add("/signatures", "must hold at least one signature");
      for (std::size_t i = 0; i < a->size(); ++i) {
        const std::string path = detail::JoinPath("/signatures", i);
        detail::ObjectReader s(e, (*a)[i], path);
        BundleSignature sig;
        if (auto* k = s.Field("key_id", true)) {
          auto id = detail::ReadString(e, *k, path + "/key_id", 32);
          if (id && (id->size() != 32 || !HexDecode(*id))) {
            e.Add(path + "/key_id", "expected 32 hex digits, got \"" + *id + "\"");
          } else if (id) {
            sig.key_id = *id;
          }
        }
        if (auto* g = s.Field("signature", true)) {
          std::optional<std::vector<unsigned char>> bytes;
          if (g->is_string()) {
            bytes = Base64Decode(std::string_view(g->get_string().data(), g->get_string().size()));
          }
          if (!bytes || bytes->size() != 64) {
            e.Add(path + "/signature", "expected a 64-byte Ed25519 signature in base64");
          } else {
            sig.signature = std::move(*bytes);
          }
        }
        s.Finish();
        bundle.signatures.push_back(std::move(sig));
      }
    }
  }
  r.Finish();
  if (!errors.empty()) return std::nullopt;
  return bundle;
}

std::string PolicyHash(std::string_view policy_bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(policy_bytes.data(), policy_bytes.size(), digest, &length, EVP_sha256(),
                 nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return HexEncode(std::span<const unsigned char>(digest, length));
}

}  // namespace mamori::policy
