// The compliance catalogue as the running agent reports it: the catalogue's inputs filled with what
// only the agent knows (the policy in force, the enrolled users, the collector's clock, the guard's
// mode), the outcomes reduced to what a report carries.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "collector_channel.h"
#include "mamori/agent/credential_store.h"
#include "mamori/agent/reporter.h"
#include "mamori/platform/system_probe.h"

namespace mamori::agent {

// The references must outlive the returned functions, which run on the reporter's thread.
Reporter::Checks AgentChecks(CollectorChannel& channel, CredentialStore& store,
                             platform::SystemProbe& probe, bool guard_enforcing);

// The checks an event may change: the enrolled users after `mamori enroll`, `import` or `reset`.
// (A policy applied or refused refreshes its checks through CollectorChannel.)
std::vector<std::string> ChecksAffectedBy(std::string_view event_type);

}  // namespace mamori::agent
