// The compliance-check catalogue: declarative checks, each evidencing one clause of the municipal
// basic information-security policy. A check only reads (through platform::SystemProbe) and judges
// against the applied policy; nothing here changes the host and nothing runs a command sent from
// elsewhere. The catalogue, with each check's pass condition, is documented in agent/README.md.
//
// Clause ids are "<article>(<item>)<circled number as digit>.<topic>", e.g. "6(3)1.export" for
// 6(3)① (information export from the terminal made impossible), "6(3)1.mfa", "6(3)1.network",
// "6(6).updates", "6(7).clock", "3(2).integrity".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mamori/platform/system_probe.h"
#include "mamori/policy/model.h"

namespace mamori::agent {

inline constexpr char kPass[] = "pass";
inline constexpr char kFail[] = "fail";
inline constexpr char kError[] = "error";
inline constexpr char kNotApplicable[] = "not-applicable";

struct CheckOutcome {
  std::string id;      // stable, e.g. "usb.guard"
  std::string clause;  // e.g. "6(3)1.export"
  std::string title_ja;
  std::string title_en;
  std::string result;    // kPass, kFail, kError or kNotApplicable
  std::string observed;  // short and human-readable; never a secret
};

// What only the running agent (or the CLI, from the state directory) knows.
struct ComplianceInputs {
  policy::Policy policy;  // in force: the applied one or the built-in defaults
  std::optional<std::uint64_t> applied_version;  // none: running the built-in defaults
  bool policy_verified = false;  // the applied bundle verified against the pinned root keys
  std::string policy_problem;    // why the stored policy could not be loaded, if it could not
  std::string last_rejection;    // the typed reason the last offered bundle was refused, if any
  // Users with a credential in the store; none when the store could not be read (then
  // enrolled_error says why).
  std::optional<std::vector<std::string>> enrolled_users;
  std::string enrolled_error;
  std::optional<std::chrono::seconds> clock_skew;  // terminal minus collector; none when unknown
  std::string agent_binary;                        // empty: the running executable
  std::string agent_package = "mamori-agent";
  std::string agent_unit = "mamori-agent.service";
  // Whether the device guard is running in enforce mode; none when the caller cannot tell (the
  // CLI), which is reported as an error rather than assumed.
  std::optional<bool> guard_enforcing;
  policy::Timestamp now{};
};

// Runs every check of the catalogue, in catalogue order. Never throws; a check that cannot read
// its evidence reports kError with the reason.
std::vector<CheckOutcome> RunComplianceChecks(const ComplianceInputs& inputs,
                                              platform::SystemProbe& probe);
// Only the checks whose id starts with one of `prefixes` ("mfa." or "mfa.enrolled"), in catalogue
// order; every check when `prefixes` is empty.
std::vector<CheckOutcome> RunComplianceChecks(const ComplianceInputs& inputs,
                                              platform::SystemProbe& probe,
                                              const std::vector<std::string>& prefixes);

// True when every outcome is a pass or not applicable.
bool AllCompliant(const std::vector<CheckOutcome>& outcomes);

}  // namespace mamori::agent
