// The policy a terminal enforces: the last bundle that verified against the pinned root keys, kept
// in the agent's state directory so that it survives restarts.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/platform/env.h"
#include "mamori/policy/model.h"
#include "mamori/policy/trust.h"
#include "mamori/policy/verify.h"

namespace mamori::agent {

class PolicyState {
 public:
  // Bundles are kept as `<state_dir>/policy.bundle`.
  PolicyState(platform::Env& env, std::string state_dir, policy::TrustSet trust,
              std::vector<std::string> groups);

  // Loads the stored bundle and verifies it again. Without one (or if it no longer verifies, e.g.
  // after the root keys changed) the terminal runs the built-in defaults, which deny USB storage
  // and require MFA of everyone. A stored policy that has expired since it was applied stays in
  // force: expiry is judged when a bundle is offered, and enforcing an old policy is safer than
  // none.
  platform::Status Load();

  // Verifies an offered bundle; only an accepted one is stored (atomically) and becomes current. An
  // idempotent re-offer of the current version is accepted without a write. On a store failure the
  // previous policy stays current and the result reports the error.
  struct OfferResult {
    bool applied = false;          // current changed
    bool already_applied = false;  // same version and content as current
    std::optional<policy::VerifyError> rejected;
    std::string message;  // the reason for rejection or storage failure
  };
  OfferResult Offer(std::string_view bundle_json, policy::Timestamp now);

  const policy::Policy& current() const { return current_; }
  // The applied version, or nullopt while running the built-in defaults.
  std::optional<std::uint64_t> version() const { return version_; }
  const std::string& hash() const { return hash_; }

 private:
  std::string BundlePath() const;

  platform::Env& env_;
  std::string state_dir_;
  policy::TrustSet trust_;
  std::vector<std::string> groups_;
  policy::Policy current_;
  std::optional<std::uint64_t> version_;
  std::string hash_;
};

}  // namespace mamori::agent
