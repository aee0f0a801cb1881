// The compliance catalogue as the running agent reports it: the catalogue's inputs filled with what
// only the agent knows (the policy in force, the enrolled users, the collector's clock, the guard's
// mode), the outcomes reduced to what a report carries.
#pragma once

#include "collector_channel.h"
#include "mamori/agent/credential_store.h"
#include "mamori/agent/reporter.h"
#include "mamori/platform/system_probe.h"

namespace mamori::agent {

// The references must outlive the returned function, which runs on the reporter's thread.
Reporter::ChecksFn AgentChecks(CollectorChannel& channel, CredentialStore& store,
                               platform::SystemProbe& probe, bool guard_enforcing);

}  // namespace mamori::agent
