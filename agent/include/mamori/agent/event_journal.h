// The agent's durable event journal: one JSON object per line, appended and flushed to disk before
// the event's outcome is acted on. Events name what happened and to whom, never a code or a secret.
// Each line is also written to standard error, which systemd hands to journald.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "mamori/platform/secure_dir.h"

namespace mamori::agent {

struct Event {
  std::time_t time = 0;
  std::string type;  // e.g. "mfa.success", "mfa.failure", "mfa.replay", "mfa.lockout"
  std::vector<std::pair<std::string, std::string>> fields;  // user, service, tty, rhost, ...
};

class EventJournal {
 public:
  static constexpr std::string_view kFileName = "events.jsonl";
  static platform::Status Open(platform::SecureDir& dir, std::unique_ptr<EventJournal>* out);
  platform::Status Record(const Event& event);

 private:
  explicit EventJournal(std::unique_ptr<platform::AppendFile> file) : file_(std::move(file)) {}
  std::mutex mu_;
  std::unique_ptr<platform::AppendFile> file_;
};

}  // namespace mamori::agent
