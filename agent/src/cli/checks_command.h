// `mamori checks`: the compliance catalogue run against this host from the CLI.
#pragma once

#include <string>
#include <vector>

namespace mamori::cli {

struct ChecksOptions {
  std::string state_dir;
  std::string trust_file;           // the pinned root keys; the stored policy verifies against them
  std::vector<std::string> groups;  // this terminal's groups (policy targets)
  std::string agent_binary;         // empty: mamori-agent next to this program
  bool json = false;
};

// Prints the outcomes (a table, or JSON) and returns 0 when every check passes or does not apply,
// 1 otherwise.
int RunChecksCommand(const ChecksOptions& options);

}  // namespace mamori::cli
