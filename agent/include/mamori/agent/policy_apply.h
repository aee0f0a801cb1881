// Applying a signed policy bundle on the terminal, the same way for the daemon's poller and for
// `mamori policy apply`: verify against the pinned root keys, keep the last good policy on any
// failure, and journal the outcome (`policy.applied` with version and hash, or `policy.rejected`
// with the typed reason).
#pragma once

#include <string>
#include <string_view>

#include "mamori/agent/event_journal.h"
#include "mamori/agent/policy_state.h"
#include "mamori/platform/env.h"
#include "mamori/policy/trust.h"

namespace mamori::agent {

// The pinned root keys, `{"threshold":N,"keys":[...]}` (policy/README.md). Errors name the file and
// the field.
platform::Status LoadTrustFile(platform::Env& env, const std::string& path, policy::TrustSet* out);

// Offers the bundle to `state` and journals the outcome (nothing for an idempotent re-offer).
PolicyState::OfferResult ApplyBundle(PolicyState& state, EventJournal& journal,
                                     std::string_view bundle_json, policy::Timestamp now);

}  // namespace mamori::agent
