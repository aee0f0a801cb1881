#include "mamori/policy/bundle.h"

#include <openssl/evp.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <stdexcept>

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
