// Accepts a bundle only if it is well formed, signed by enough trusted keys over exactly its bytes,
// newer than what the terminal applied, unexpired and addressed to this terminal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/policy/document.h"
#include "mamori/policy/model.h"
#include "mamori/policy/trust.h"

namespace mamori::policy {

enum class VerifyError {
  kMalformed,       // not a bundle, or its policy is not valid canonical policy JSON
  kBadSignature,    // a signature by a trusted key does not verify over these bytes
  kUnknownKey,      // no signature is by a trusted key
  kBelowThreshold,  // fewer distinct trusted keys signed than the trust set requires
  kRollback,        // version not above the last applied (or same version, other content)
  kExpired,         // expires_at is not after now
  kNotForTerminal,  // targets name none of this terminal's groups
  kTooLarge,        // the bundle exceeds kMaxBundleBytes
};

// Room for any valid policy: escaped as a JSON string, each canonical byte takes at most two, plus
// the envelope and kMaxSignatures signatures.
inline constexpr std::size_t kMaxBundleBytes = 2 * kMaxDocumentBytes + 64 * 1024;

std::string_view ToString(VerifyError e);

// What the terminal already runs, and who it is.
struct VerifyContext {
  std::optional<std::uint64_t> last_version;  // none: nothing applied yet
  std::string last_hash;                      // PolicyHash of the applied bytes
  Timestamp now{};
  std::vector<std::string> groups;  // this terminal's groups
};

struct Verified {
  Policy policy;
  std::string policy_bytes;
  std::string hash;
  bool already_applied = false;  // same version and hash as the last applied: an idempotent no-op
  std::vector<std::string> signed_by;  // key ids of the trusted keys whose signatures verified
};

struct VerifyResult {
  std::optional<Verified> verified;
  VerifyError error = VerifyError::kMalformed;  // meaningful only when !verified
  std::string message;                          // names the field or key concerned
  bool ok() const { return verified.has_value(); }
};

VerifyResult VerifyBundle(std::string_view bundle_json, const TrustSet& trust,
                          const VerifyContext& context);

}  // namespace mamori::policy
