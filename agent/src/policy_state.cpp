#include "mamori/agent/policy_state.h"

#include <cerrno>

namespace mamori::agent {

PolicyState::PolicyState(platform::Env& env, std::string state_dir, policy::TrustSet trust,
                         std::vector<std::string> groups)
    : env_(env),
      state_dir_(std::move(state_dir)),
      trust_(std::move(trust)),
      groups_(std::move(groups)) {}

std::string PolicyState::BundlePath() const { return state_dir_ + "/policy.bundle"; }

platform::Status PolicyState::Load() {
  std::string bundle;
  platform::Status s = env_.ReadFile(BundlePath(), policy::kMaxBundleBytes, &bundle);
  if (!s.ok()) {
    return s.err() == ENOENT ? platform::Status::Ok() : s;
  }
  // The epoch as "now": a stored policy is not refused for having expired since it was applied.
  policy::VerifyContext context;
  context.groups = groups_;
  policy::VerifyResult r = policy::VerifyBundle(bundle, trust_, context);
  if (!r.ok()) {
    return platform::Status::Error(-1, BundlePath() + ": stored policy no longer verifies (" +
                                           std::string(policy::ToString(r.error)) + ": " +
                                           r.message + "); running the built-in defaults");
  }
  current_ = std::move(r.verified->policy);
  version_ = current_.version;
  hash_ = r.verified->hash;
  return platform::Status::Ok();
}

PolicyState::OfferResult PolicyState::Offer(std::string_view bundle_json, policy::Timestamp now) {
  OfferResult out;
  policy::VerifyContext context;
  context.last_version = version_;
  context.last_hash = hash_;
  context.now = now;
  context.groups = groups_;
  policy::VerifyResult r = policy::VerifyBundle(bundle_json, trust_, context);
  if (!r.ok()) {
    out.rejected = r.error;
    out.message = r.message;
    return out;
  }
  if (r.verified->already_applied) {
    out.already_applied = true;
    return out;
  }
  platform::Status s = env_.WriteFileAtomic(BundlePath(), bundle_json, 0600);
  if (!s.ok()) {
    out.message = s.message();
    return out;
  }
  current_ = std::move(r.verified->policy);
  version_ = current_.version;
  hash_ = r.verified->hash;
  out.applied = true;
  return out;
}

}  // namespace mamori::agent
