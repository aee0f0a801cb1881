// The pinned root keys a terminal trusts, and how many must sign a policy.
//
//   {"threshold":1,"keys":["<base64 raw Ed25519 public key>", ...]}
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/policy/document.h"
#include "mamori/policy/signing.h"

namespace mamori::policy {

inline constexpr std::size_t kMaxTrustedKeys = 64;

struct TrustSet {
  std::vector<RawPublicKey> keys;
  std::size_t threshold = 1;
  const RawPublicKey* Find(std::string_view key_id) const;
};

struct TrustSetResult {
  std::optional<TrustSet> trust;
  std::vector<ValidationError> errors;
};

// Rejects unknown fields, duplicate keys, a threshold of 0 or above the number of distinct keys.
TrustSetResult ParseTrustSet(std::string_view json_text);
std::string SerializeTrustSet(const TrustSet& trust);

}  // namespace mamori::policy
