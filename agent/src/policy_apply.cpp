#include "mamori/agent/policy_apply.h"

#include <chrono>

namespace mamori::agent {

platform::Status LoadTrustFile(platform::Env& env, const std::string& path, policy::TrustSet* out) {
  std::string text;
  platform::Status s = env.ReadFile(path, 256 * 1024, &text);
  if (!s.ok()) return platform::Status::Error(s.err(), "trust file: " + s.message());
  policy::TrustSetResult r = policy::ParseTrustSet(text);
  if (!r.trust) {
    std::string message = path + ":";
    for (const auto& e : r.errors) message += " " + e.ToString() + ";";
    message.pop_back();
    return platform::Status::Error(-1, message);
  }
  *out = std::move(*r.trust);
  return platform::Status::Ok();
}

PolicyState::OfferResult ApplyBundle(PolicyState& state, EventJournal& journal,
                                     std::string_view bundle_json, policy::Timestamp now) {
  PolicyState::OfferResult r = state.Offer(bundle_json, now);
  if (r.already_applied) return r;
  Event e;
  e.time = std::chrono::system_clock::to_time_t(now);
  if (r.applied) {
    e.type = "policy.applied";
    e.fields = {{"version", std::to_string(*state.version())}, {"hash", state.hash()}};
  } else {
    e.type = "policy.rejected";
    e.fields = {{"reason", r.rejected ? std::string(policy::ToString(*r.rejected)) : "storage"},
                {"message", r.message}};
    if (state.version()) e.fields.emplace_back("kept_version", std::to_string(*state.version()));
  }
  platform::Status s = journal.Record(e);
  if (!s.ok() && r.message.empty()) r.message = "journal: " + s.message();
  return r;
}

}  // namespace mamori::agent
