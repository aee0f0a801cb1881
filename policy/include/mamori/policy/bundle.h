// A signed bundle: the canonical policy bytes plus one or more signatures over exactly those bytes.
//
//   {"format":"mamori-policy-bundle/1","policy":"<canonical policy JSON as a string>",
//    "signatures":[{"key_id":"<hex>","signature":"<base64>"}]}
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/policy/document.h"
#include "mamori/policy/signing.h"

namespace mamori::policy {

inline constexpr std::string_view kBundleFormat = "mamori-policy-bundle/1";

struct BundleSignature {
  std::string key_id;
  std::vector<unsigned char> signature;
  friend bool operator==(const BundleSignature&, const BundleSignature&) = default;
};

struct Bundle {
  std::string policy_bytes;  // the canonical policy, exactly as signed
  std::vector<BundleSignature> signatures;
};

// Signs the canonical form of a validated policy with each key, in the order given.
Bundle SignPolicy(std::string canonical_policy, std::span<const SigningKey* const> keys);

std::string SerializeBundle(const Bundle& bundle);

inline constexpr std::size_t kMaxSignatures = 16;

// Reads the envelope only: format, policy bytes (not yet parsed) and 1 to kMaxSignatures signatures
// of the right shapes. Says nothing of whether the signatures verify; VerifyBundle does that.
std::optional<Bundle> ParseBundle(std::string_view json_text, std::vector<ValidationError>& errors);

// SHA-256 of the policy bytes in lowercase hex: the identity of a policy version.
std::string PolicyHash(std::string_view policy_bytes);

}  // namespace mamori::policy
