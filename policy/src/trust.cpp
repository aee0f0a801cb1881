#include "mamori/policy/trust.h"

#include <boost/json/serialize.hpp>

#include "json_reader.h"

namespace mamori::policy {
namespace json = boost::json;

const RawPublicKey* TrustSet::Find(std::string_view key_id) const {
  for (const auto& key : keys) {
    if (KeyIdOf(key) == key_id) return &key;
  }
  return nullptr;
}

TrustSetResult ParseTrustSet(std::string_view json_text) {
  TrustSetResult result;
  if (json_text.size() > 64 * 1024) {
    result.errors.push_back({"", "trust set is larger than 64 KiB"});
    return result;
  }
  auto root = detail::ParseJsonStrict(json_text, result.errors);
  if (!root) return result;
  detail::Errors e(result.errors);
  detail::ObjectReader r(e, *root, "");
  TrustSet trust;
  if (auto* v = r.Field("keys", true)) {
    if (const json::array* a = detail::ReadArray(e, *v, "/keys", kMaxTrustedKeys)) {
      if (a->empty()) e.Add("/keys", "must name at least one key");
      for (std::size_t i = 0; i < a->size(); ++i) {
        const std::string path = detail::JoinPath("/keys", i);
        std::optional<RawPublicKey> key;
        if ((*a)[i].is_string()) {
          const json::string& s = (*a)[i].get_string();
          key = DecodePublicKey(std::string_view(s.data(), s.size()));
        }
        if (!key) {
          e.Add(path, "expected an Ed25519 public key in base64 (32 bytes), got " +
                          detail::Describe((*a)[i]));
        } else if (trust.Find(KeyIdOf(*key)) != nullptr) {
          e.Add(path, "duplicate key " + KeyIdOf(*key));
        } else {
          trust.keys.push_back(*key);
        }
      }
    }
  }
  if (auto* v = r.Field("threshold")) {
    if (auto n = detail::ReadUnsigned(e, *v, "/threshold", 1, kMaxTrustedKeys)) {
      trust.threshold = *n;
    }
  }
  r.Finish();
  if (result.errors.empty() && trust.threshold > trust.keys.size()) {
    e.Add("/threshold", "is " + std::to_string(trust.threshold) + " but only " +
                            std::to_string(trust.keys.size()) + " keys are listed");
  }
  if (result.errors.empty()) result.trust = std::move(trust);
  return result;
}

std::string SerializeTrustSet(const TrustSet& trust) {
  json::array keys;
  for (const auto& key : trust.keys) keys.emplace_back(EncodePublicKey(key));
  return json::serialize(json::object{{"threshold", trust.threshold}, {"keys", std::move(keys)}}) +
         "\n";
}

}  // namespace mamori::policy
