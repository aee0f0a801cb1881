// `mamori report`: sends the journal's pending events to the collector now, on the caller's thread,
// with a bound on the time it may take. `--removal` first journals `agent.removal`: the package's
// prerm runs it while the agent still runs, so that the collector hears of the removal from the
// terminal itself.
#pragma once

#include <string>

namespace mamori::cli {

struct ReportOptions {
  std::string state_dir;
  std::string trust_file;  // the pinned root keys: the report names the applied policy's version
  int timeout_seconds = 10;
  bool removal = false;
};

// 0 once the collector acknowledged every pending event (or the deadline passed after at least
// one acknowledged report), 1 otherwise. Events not acknowledged stay in the journal.
int ReportCommand(const ReportOptions& options);

}  // namespace mamori::cli
