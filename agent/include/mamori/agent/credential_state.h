// The volatile part of a user's credential (the last accepted step and the failure counters) and
// its append-only log format, `USER.state` (specified in agent/README.md). A login appends one
// record instead of rewriting the whole credential file, so it costs one fdatasync.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mamori::agent {

struct CredentialCounters {
  std::uint64_t last_step = 0;
  std::uint32_t failures = 0;
  std::int64_t locked_until = 0;
  friend bool operator==(const CredentialCounters&, const CredentialCounters&) = default;
};

// One record: a JSON object on one line, ending with '\n'. Each record holds all counters, so the
// last one alone is the state and compaction keeps only it.
std::string SerializeStateRecord(const CredentialCounters& counters);

struct StateLogScan {
  std::optional<CredentialCounters> last;  // the last valid record; nullopt when there is none
  std::size_t records = 0;                 // complete lines, valid or not
  bool torn_tail = false;                  // the log ends inside a record (a write cut short)
};

// Reads a log: a line that does not parse as a record (a write cut short by a crash, then
// followed by later appends) is skipped; an unterminated last line is never a record.
StateLogScan ScanStateLog(std::string_view text);

}  // namespace mamori::agent
