#include "mamori/agent/event_journal.h"

#include <stdio.h>

#include <boost/json.hpp>

namespace mamori::agent {

platform::Status EventJournal::Open(platform::SecureDir& dir, std::unique_ptr<EventJournal>* out) {
  std::unique_ptr<platform::AppendFile> file;
  platform::Status s = dir.OpenAppend(kFileName, 0600, &file);
  if (!s.ok()) return s;
  out->reset(new EventJournal(std::move(file)));
  return platform::Status::Ok();
}

platform::Status EventJournal::Record(const Event& event) {
  std::tm tm{};
  gmtime_r(&event.time, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  boost::json::object o{{"time", when}, {"type", event.type}};
  for (const auto& [k, v] : event.fields) o[k] = v;
  const std::string line = boost::json::serialize(o) + "\n";
  std::lock_guard<std::mutex> guard(mu_);
  platform::Status s = file_->Append(line);
  std::fputs(line.c_str(), stderr);
  return s;
}

}  // namespace mamori::agent
