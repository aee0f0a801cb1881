// Pending Debian security updates, as apt's own resolver sees them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mamori/platform/system_probe.h"

namespace mamori::platform {

// Names of the packages that `apt-get --simulate dist-upgrade` would take from a "-security"
// suite: its lines "Inst NAME [OLD] (NEW ORIGIN:VERSION/SUITE-security [ARCH])".
std::vector<std::string> SecurityPackagesFromSimulation(std::string_view apt_output);

// Looks for lists of a security suite in <root>/var/lib/apt/lists and, when there are some, runs
// the host's apt-get in simulation mode (nothing is downloaded or installed, no lock is taken).
Status QuerySecurityUpdates(const std::string& root, SecurityUpdates* out);

}  // namespace mamori::platform
