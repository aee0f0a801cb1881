// The agent's durable event journal, which is also the spool of events for the collector. Every
// event gets a per-terminal sequence number that only grows (across restarts too) and is on disk
// before Record returns (one fdatasync), so its outcome may be acted on. Events name what happened
// and to whom, never a code or a secret. The journal is not the system log: the services log their
// outcomes there themselves, with structured fields (platform/system_log.h).
//
// Layout: <state_dir>/journal/ (0700) holds segment files `seg-<20 digits>.jsonl` of one JSON
// object per line, `acked.json` (what the collector has committed) and `lock`. The daemon and the
// `mamori` CLI may both append: each operation holds the flock on `lock`.
//
//   {"seq":12,"time":"2026-11-23T09:00:00Z","type":"mfa.success","data":{"user":"alice",...}}
//   {"seq":13,"report_through":12}     a report's bounds, fixed before it is sent
//
// A report covers the events after the last acknowledged one up to `report_through` and has the
// marker's seq as its sequence, so a report re-sent after a crash is the same report and the
// collector recognizes it. The spool is bounded: past the bound the oldest segments are deleted and
// a `journal.dropped` event counts the unsent events lost. A torn last line (a crash mid-write) is
// skipped, never fatal. `acked.json` also records reports withdrawn unsent (their `report` is
// passed, their events are not).
#pragma once

#include <boost/json/array.hpp>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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
  static constexpr std::string_view kDirName = "journal";
  struct Options {
    std::uint64_t max_bytes = 64ull << 20;     // the bound of all segments together
    std::uint64_t segment_bytes = 4ull << 20;  // a segment is closed when it reaches this size
  };

  static platform::Status Open(platform::SecureDir& state_dir, std::unique_ptr<EventJournal>* out);
  static platform::Status Open(platform::SecureDir& state_dir, const Options& options,
                               std::unique_ptr<EventJournal>* out);
  ~EventJournal();

  platform::Status Record(const Event& event);

  // Runs after each event is recorded (the daemon wakes its reporter). Set before concurrent use.
  void OnRecord(std::function<void()> listener) { on_record_ = std::move(listener); }

  struct Batch {
    std::uint64_t sequence = 0;        // the report's sequence
    std::uint64_t events_through = 0;  // its last event's seq (or the last acknowledged one)
    boost::json::array events;         // {"time","type","data"} as the collector takes them
  };
  // The next report to send: the one already sealed and not acknowledged, if any (the same events
  // under the same sequence), else a new one of the oldest unacknowledged events, at most
  // `max_events` of them and about `max_bytes` of JSON, sealed now by a durable marker. A batch may
  // have no events (a report of checks only).
  platform::Status NextBatch(std::size_t max_events, std::size_t max_bytes, Batch* out);

  // The collector has committed report `sequence` (the last NextBatch): its events are deleted.
  platform::Status Ack(std::uint64_t sequence);

  // The collector refused report `sequence` (the last NextBatch) as it is: it is never sent again,
  // and its events go into the next batch, which may be smaller. The collector never stored it.
  platform::Status Withdraw(std::uint64_t sequence);

  // The collector refuses report `sequence` (the last NextBatch) for its events themselves: they
  // are moved to `quarantine-<sequence>.jsonl` in the journal's directory, for an administrator,
  // and a `journal.quarantined` event counting them takes their place. *count is how many moved.
  platform::Status Quarantine(std::uint64_t sequence, std::uint64_t* count);

  // The bound of all segments together (the policy's reporting.spool_max_mib), at least two
  // segments; it applies from the next event recorded.
  void SetMaxBytes(std::uint64_t max_bytes);

  // Events recorded and not yet acknowledged (those dropped by the bound excluded).
  platform::Status PendingEvents(std::uint64_t* count);

 private:
  struct Segment;
  struct Acked {
    std::uint64_t events_through = 0;
    std::uint64_t report = 0;
  };

  EventJournal(std::unique_ptr<platform::SecureDir> dir, Options options);
  // Record's first half: appends the event under the locks; *unsynced makes it durable.
  platform::Status WriteRecord(const Event& event, std::shared_ptr<platform::AppendFile>* unsynced);
  platform::Status Scan();
  platform::Status ScanIfChanged();
  platform::Status ReadSegment(const std::string& name, std::string* text);
  platform::Status OpenNewSegment();
  // Appends and flushes `line`; with `unsynced`, only appends and sets it to the file to flush.
  platform::Status AppendLine(const std::string& line, std::uint64_t seq, bool is_event,
                              std::uint64_t report_through,
                              std::shared_ptr<platform::AppendFile>* unsynced = nullptr);
  platform::Status EnforceBound();
  platform::Status WriteAcked(const Acked& next);
  platform::Status CloseReport(std::uint64_t sequence, bool consumed);
  platform::Status SealedThrough(std::uint64_t sequence, std::uint64_t* through);

  platform::Status DeleteConsumedSegments();
  bool Consumed(const Segment& segment) const;

  std::mutex mu_;
  std::unique_ptr<platform::SecureDir> dir_;
  Options options_;
  std::uint64_t read_limit_;
  std::vector<Segment> segments_;                  // oldest first; the last is the one appended to
  std::shared_ptr<platform::AppendFile> current_;  // shared with flushes outside the lock
  std::uint64_t current_size_ = 0;
  std::uint64_t next_seq_ = 1;
  Acked acked_;
  std::function<void()> on_record_;
};

}  // namespace mamori::agent
