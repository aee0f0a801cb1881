// `mamorictl policy`: the administrators' offline tool to make signing keys, check, sign, verify
// and display policy. Keys stay on the administrator's machine; only signed bundles leave it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace mamori::ctl {

// Exit codes of mamorictl. Scripts branch on them, so a code never changes its meaning.
//
//   code  meaning
//   ----  ----------------------------------------------------------------
//    0    success (for verify: valid, or already applied)
//    1    internal error
//    2    usage error: unknown command or option, missing or bad argument
//    3    I/O error: a file cannot be read or written, or already exists
//    4    invalid policy, trust set, key file or bundle layout
//   10    verify: malformed bundle
//   11    verify: a trusted key's signature does not verify
//   12    verify: no signature by a trusted key
//   13    verify: fewer trusted signers than the threshold
//   14    verify: rollback (version not above the last applied)
//   15    verify: policy expired
//   16    verify: policy not addressed to this terminal's groups
//   17    verify: bundle too large
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,
  kExitUsage = 2,
  kExitIo = 3,
  kExitInvalid = 4,
  kExitMalformed = 10,
  kExitBadSignature = 11,
  kExitUnknownKey = 12,
  kExitBelowThreshold = 13,
  kExitRollback = 14,
  kExitExpired = 15,
  kExitNotForTerminal = 16,
  kExitTooLarge = 17,
};

// The subcommand list and the exit code table, as shown by --help.
void PrintPolicyUsage(std::ostream& out);

// Runs `mamorictl policy ARGS...` (`args` excludes "policy") and returns the exit code.
int RunPolicyCommand(const std::vector<std::string>& args);

}  // namespace mamori::ctl
