// The individual checks of the catalogue (catalogue.cpp). Each reads its evidence through the
// probe and returns only its verdict; the catalogue adds the id, the clause and the titles.
#pragma once

#include <string>

#include "mamori/agent/compliance.h"

namespace mamori::agent::compliance {

struct Verdict {
  std::string result;
  std::string observed;
};

using Check = Verdict (*)(const ComplianceInputs&, platform::SystemProbe&);

Verdict UsbGuard(const ComplianceInputs& in, platform::SystemProbe& probe);
Verdict UsbRules(const ComplianceInputs& in, platform::SystemProbe& probe);
Verdict MfaPamStacks(const ComplianceInputs& in, platform::SystemProbe& probe);
Verdict MfaEnrolled(const ComplianceInputs& in, platform::SystemProbe& probe);
Verdict ClockSkew(const ComplianceInputs& in, platform::SystemProbe& probe);
Verdict ClockSync(const ComplianceInputs& in, platform::SystemProbe& probe);
Verdict PolicyCurrent(const ComplianceInputs& in, platform::SystemProbe& probe);
Verdict AgentBinary(const ComplianceInputs& in, platform::SystemProbe& probe);
Verdict AgentUnit(const ComplianceInputs& in, platform::SystemProbe& probe);
Verdict NetworkEgress(const ComplianceInputs& in, platform::SystemProbe& probe);
Verdict SecurityUpdates(const ComplianceInputs& in, platform::SystemProbe& probe);

// "a, b, c" of at most `limit` items, then "… (N more)".
std::string JoinLimited(const std::vector<std::string>& items, std::size_t limit);

}  // namespace mamori::agent::compliance
