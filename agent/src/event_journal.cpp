#include "mamori/agent/event_journal.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <cstdio>

namespace mamori::agent {
namespace {

using platform::Status;

constexpr char kAckedFile[] = "acked.json";
constexpr char kLockFile[] = "lock";
constexpr std::string_view kSegmentPrefix = "seg-";
constexpr std::string_view kSegmentSuffix = ".jsonl";
constexpr std::size_t kSegmentDigits = 20;

std::string SegmentName(std::uint64_t number) {
  std::string digits = std::to_string(number);
  return std::string(kSegmentPrefix) + std::string(kSegmentDigits - digits.size(), '0') + digits +
         std::string(kSegmentSuffix);
}

std::optional<std::uint64_t> SegmentNumber(std::string_view name) {
  if (name.size() != kSegmentPrefix.size() + kSegmentDigits + kSegmentSuffix.size() ||
      !name.starts_with(kSegmentPrefix) || !name.ends_with(kSegmentSuffix)) {
    return std::nullopt;
  }
  std::string_view digits = name.substr(kSegmentPrefix.size(), kSegmentDigits);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> Uint(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  return std::nullopt;
}

// One line of a segment; nullopt for a line that does not parse (a torn write).
struct Line {
  std::uint64_t seq = 0;
  std::optional<std::uint64_t> report_through;  // set for a report marker
  boost::json::object object;
};
std::optional<Line> ParseLine(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  Line line;
  line.object = std::move(v.get_object());
  const auto seq = Uint(line.object, "seq");
  if (!seq || *seq == 0) return std::nullopt;
  line.seq = *seq;
  line.report_through = Uint(line.object, "report_through");
  if (!line.report_through && !line.object.if_contains("type")) return std::nullopt;
  return line;
}

// Calls f(line_text) for every complete line; returns whether the text ends in a torn line.
template <typename F>
bool ForEachLine(std::string_view text, F f) {
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return true;
    f(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return false;
}

std::uint64_t DroppedCount(const boost::json::object& event) {
  const auto* data = event.if_contains("data");
  const auto* count = data && data->is_object() ? data->get_object().if_contains("count") : nullptr;
  std::uint64_t value = 0;
  if (count && count->is_string()) {
    const auto text = count->get_string();
    std::from_chars(text.data(), text.data() + text.size(), value);
  }
  return value;
}

// Formatted by hand rather than by strftime, which reads the time zone file on every call.
std::string Timestamp(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[64];
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return when;
}

}  // namespace

struct EventJournal::Segment {
  std::string name;
  std::uint64_t number = 0;
  std::uint64_t bytes = 0;
  bool torn = false;
  std::vector<std::uint64_t> events;                             // seqs, ascending
  std::vector<std::pair<std::uint64_t, std::uint64_t>> markers;  // {seq, report_through}
};

EventJournal::EventJournal(std::unique_ptr<platform::SecureDir> dir, Options options)
    : dir_(std::move(dir)), options_(options), read_limit_(options.max_bytes) {}
EventJournal::~EventJournal() = default;

Status EventJournal::Open(platform::SecureDir& state_dir, std::unique_ptr<EventJournal>* out) {
  return Open(state_dir, Options{}, out);
}

Status EventJournal::Open(platform::SecureDir& state_dir, const Options& options,
                          std::unique_ptr<EventJournal>* out) {
  if (options.segment_bytes == 0 || options.segment_bytes > options.max_bytes) {
    return Status::Error(EINVAL, "event journal: segment size must be 1..max_bytes");
  }
  std::unique_ptr<platform::SecureDir> dir;
  Status s = state_dir.OpenSubdir(kDirName, 0700, &dir);
  if (!s.ok()) return s;
  std::unique_ptr<EventJournal> journal(new EventJournal(std::move(dir), options));
  std::unique_ptr<platform::FileLock> lock;
  s = journal->dir_->Lock(kLockFile, &lock);
  if (s.ok()) s = journal->Scan();
  if (!s.ok()) return s;
  *out = std::move(journal);
  return Status::Ok();
}

Status EventJournal::ReadSegment(const std::string& name, std::string* text) {
  // A segment is at most one line past segment_bytes; the largest bound ever in force caps what
  // is ever read, so a lowered bound still reads the segments written under a higher one.
  return dir_->Read(name, read_limit_, text);
}

// Rebuilds the index from the files: at open, and whenever another process changed them.
Status EventJournal::Scan() {
  current_.reset();
  segments_.clear();
  acked_ = Acked{};
  std::string text;
  Status s = dir_->Read(kAckedFile, 4096, &text);
  if (s.ok()) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text, ec);
    const auto* o = !ec && v.is_object() ? &v.get_object() : nullptr;
    const auto through = o ? Uint(*o, "events_through") : std::nullopt;
    const auto report = o ? Uint(*o, "report") : std::nullopt;
    if (!through || !report) {
      return Status::Error(
          -1, dir_->path() + "/" + kAckedFile + ": expected {\"events_through\":N,\"report\":N}");
    }
    acked_ = Acked{*through, *report};
  } else if (s.err() != ENOENT) {
    return s;
  }
  std::vector<std::string> names;
  s = dir_->ListFiles(&names);
  if (!s.ok()) return s;
  std::uint64_t max_seq = std::max(acked_.events_through, acked_.report);
  for (const auto& name : names) {
    const auto number = SegmentNumber(name);
    if (!number) continue;
    Segment seg;
    seg.name = name;
    seg.number = *number;
    s = ReadSegment(name, &text);
    if (!s.ok()) return s;
    seg.bytes = text.size();
    seg.torn = ForEachLine(text, [&](std::string_view line_text) {
      const auto line = ParseLine(line_text);
      if (!line) return;
      max_seq = std::max(max_seq, line->seq);
      if (line->report_through) {
        seg.markers.emplace_back(line->seq, *line->report_through);
      } else {
        seg.events.push_back(line->seq);
      }
    });
    std::sort(seg.events.begin(), seg.events.end());
    segments_.push_back(std::move(seg));
  }
  std::sort(segments_.begin(), segments_.end(),
            [](const Segment& a, const Segment& b) { return a.number < b.number; });
  next_seq_ = max_seq + 1;
  s = DeleteConsumedSegments();
  if (!s.ok()) return s;
  // Appending goes on in the newest segment unless it ends in a torn line or is full.
  if (!segments_.empty() && !segments_.back().torn &&
      segments_.back().bytes < options_.segment_bytes) {
    std::unique_ptr<platform::AppendFile> file;
    s = dir_->OpenAppend(segments_.back().name, 0600, &file);
    if (!s.ok()) return s;
    current_ = std::move(file);
    current_size_ = segments_.back().bytes;
    return Status::Ok();
  }
  return OpenNewSegment();
}

Status EventJournal::ScanIfChanged() {
  if (!current_) return Scan();
  std::uint64_t size = 0;
  bool removed = false;
  Status s = current_->Stat(&size, &removed);
  if (!s.ok()) return s;
  if (removed || size != current_size_) return Scan();
  // Another process may have started a newer segment (it found this one full or torn).
  if (current_size_ >= options_.segment_bytes) {
    std::vector<std::string> names;
    s = dir_->ListFiles(&names);
    if (!s.ok()) return s;
    for (const auto& name : names) {
      const auto number = SegmentNumber(name);
      if (number && *number > segments_.back().number) return Scan();
    }
  }
  return Status::Ok();
}

Status EventJournal::OpenNewSegment() {
  current_.reset();
  const std::uint64_t number =
      std::max(next_seq_, segments_.empty() ? 0 : segments_.back().number + 1);
  Segment seg;
  seg.name = SegmentName(number);
  seg.number = number;
  std::unique_ptr<platform::AppendFile> file;
  Status s = dir_->OpenAppend(seg.name, 0600, &file);
  if (!s.ok()) return s;
  current_ = std::move(file);
  segments_.push_back(std::move(seg));
  current_size_ = 0;
  return Status::Ok();
}

Status EventJournal::AppendLine(const std::string& line, std::uint64_t seq, bool is_event,
                                std::uint64_t report_through,
                                std::shared_ptr<platform::AppendFile>* unsynced) {
  // Every writer rolls at the same size, so none appends to a segment another has closed.
  if (current_size_ >= options_.segment_bytes) {
    Status s = OpenNewSegment();
    if (!s.ok()) return s;
  }
  Status s = unsynced ? current_->Write(line) : current_->Append(line);
  if (s.ok() && unsynced) *unsynced = current_;
  if (!s.ok()) {
    // Part of the line may be on disk: the next operation rescans and starts a new segment.
    current_.reset();
    return s;
  }
  current_size_ += line.size();
  Segment& seg = segments_.back();
  seg.bytes += line.size();
  if (is_event) {
    seg.events.push_back(seq);
  } else {
    seg.markers.emplace_back(seq, report_through);
  }
  next_seq_ = seq + 1;
  return Status::Ok();
}

Status EventJournal::Record(const Event& event) {
  std::shared_ptr<platform::AppendFile> unsynced;
  Status s = WriteRecord(event, &unsynced);
  if (!s.ok()) return s;
  // The flush runs outside the lock: records written meanwhile by other threads are flushed with
  // this one or by their own, which then finds little left to do (a group commit). Anything that
  // reads the new line before it is durable and acts on it outside the agent (a report) first
  // appends and flushes a marker to the same file, which takes the line to the disk as well.
  s = unsynced->Sync();
  if (!s.ok()) {
    std::lock_guard<std::mutex> guard(mu_);
    // The line may be lost: the next operation rescans and appends to a new segment.
    if (current_ == unsynced) current_.reset();
    return s;
  }
  if (on_record_) on_record_();
  return s;
}

Status EventJournal::WriteRecord(const Event& event,
                                 std::shared_ptr<platform::AppendFile>* unsynced) {
  boost::json::object data;
  for (const auto& [k, v] : event.fields) data[k] = v;
  std::lock_guard<std::mutex> guard(mu_);
  std::unique_ptr<platform::FileLock> lock;
  Status s = dir_->Lock(kLockFile, &lock);
  if (s.ok()) s = ScanIfChanged();
  if (!s.ok()) return s;
  const std::uint64_t seq = next_seq_;
  const std::string line =
      boost::json::serialize(boost::json::object{{"seq", seq},
                                                 {"time", Timestamp(event.time)},
                                                 {"type", event.type},
                                                 {"data", std::move(data)}}) +
      "\n";
  s = AppendLine(line, seq, true, 0, unsynced);
  if (!s.ok()) return s;
  return EnforceBound();
}

bool EventJournal::Consumed(const Segment& seg) const {
  return (seg.events.empty() || seg.events.back() <= acked_.events_through) &&
         std::all_of(seg.markers.begin(), seg.markers.end(),
                     [&](const auto& m) { return m.first <= acked_.report; });
}

// Deletes fully acknowledged segments, oldest first, keeping the one appended to unless it is
// consumed too (then a fresh one is started, so Record never pays for creating a file).
Status EventJournal::DeleteConsumedSegments() {
  bool current_deleted = false;
  for (std::size_t i = 0; i < segments_.size();) {
    const bool newest = i + 1 == segments_.size();
    if (!Consumed(segments_[i]) || (newest && segments_[i].bytes == 0)) {
      ++i;
      continue;
    }
    Status s = dir_->Remove(segments_[i].name);
    if (!s.ok()) return s;
    current_deleted = current_deleted || (newest && current_);
    segments_.erase(segments_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return current_deleted ? OpenNewSegment() : Status::Ok();
}

Status EventJournal::EnforceBound() {
  std::uint64_t total = 0;
  for (const auto& seg : segments_) total += seg.bytes;
  std::uint64_t dropped = 0;
  while (total > options_.max_bytes && segments_.size() > 1) {
    const Segment& oldest = segments_.front();
    // The count of an earlier drop that is itself dropped carries over, so none goes unreported.
    std::string text;
    Status s = ReadSegment(oldest.name, &text);
    if (!s.ok()) return s;
    ForEachLine(text, [&](std::string_view line_text) {
      const auto line = ParseLine(line_text);
      if (!line || line->report_through || line->seq <= acked_.events_through) return;
      dropped += line->object.at("type") == "journal.dropped" ? DroppedCount(line->object) : 1;
    });
    s = dir_->Remove(oldest.name);
    if (!s.ok()) return s;
    total -= oldest.bytes;
    segments_.erase(segments_.begin());
  }
  if (dropped == 0) return Status::Ok();
  const std::uint64_t seq = next_seq_;
  const std::string line = boost::json::serialize(boost::json::object{
                               {"seq", seq},
                               {"time", Timestamp(std::time(nullptr))},
                               {"type", "journal.dropped"},
                               {"data", boost::json::object{{"count", std::to_string(dropped)}}}}) +
                           "\n";
  return AppendLine(line, seq, true, 0);
}

Status EventJournal::NextBatch(std::size_t max_events, std::size_t max_bytes, Batch* out) {
  std::lock_guard<std::mutex> guard(mu_);
  std::unique_ptr<platform::FileLock> lock;
  Status s = dir_->Lock(kLockFile, &lock);
  if (s.ok()) s = ScanIfChanged();
  if (!s.ok()) return s;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> sealed;
  for (const auto& seg : segments_) {
    for (const auto& m : seg.markers) {
      if (m.first > acked_.report && (!sealed || m.first < sealed->first)) sealed = m;
    }
  }
  const std::uint64_t after = acked_.events_through;
  const std::uint64_t through = sealed ? sealed->second : UINT64_MAX;
  Batch batch;
  batch.events_through = after;
  std::size_t bytes = 0;
  bool full = false;
  std::string text;
  for (const auto& seg : segments_) {
    if (full) break;
    const auto first = std::upper_bound(seg.events.begin(), seg.events.end(), after);
    if (first == seg.events.end() || *first > through) continue;
    s = ReadSegment(seg.name, &text);
    if (!s.ok()) return s;
    ForEachLine(text, [&](std::string_view line_text) {
      if (full) return;
      auto line = ParseLine(line_text);
      if (!line || line->report_through || line->seq <= after || line->seq > through) return;
      if (!sealed && (batch.events.size() >= max_events ||
                      (!batch.events.empty() && bytes + line_text.size() > max_bytes))) {
        full = true;
        return;
      }
      bytes += line_text.size();
      boost::json::object event;
      event["time"] = line->object["time"];
      event["type"] = line->object["type"];
      if (auto* data = line->object.if_contains("data"); data && data->is_object()) {
        event["data"] = std::move(*data);
      }
      batch.events.push_back(std::move(event));
      batch.events_through = std::max(batch.events_through, line->seq);
    });
  }
  if (sealed) {
    batch.sequence = sealed->first;
    batch.events_through = sealed->second;
  } else {
    const std::uint64_t seq = next_seq_;
    const std::string line = boost::json::serialize(boost::json::object{
                                 {"seq", seq}, {"report_through", batch.events_through}}) +
                             "\n";
    s = AppendLine(line, seq, false, batch.events_through);
    if (!s.ok()) return s;
    batch.sequence = seq;
  }
  *out = std::move(batch);
  return Status::Ok();
}

Status EventJournal::Ack(std::uint64_t sequence) { return CloseReport(sequence, true); }

Status EventJournal::Withdraw(std::uint64_t sequence) { return CloseReport(sequence, false); }

// Both end the sealed report `sequence`; only an acknowledgement consumes the events it carried.
Status EventJournal::CloseReport(std::uint64_t sequence, bool consumed) {
  std::lock_guard<std::mutex> guard(mu_);
  std::unique_ptr<platform::FileLock> lock;
  Status s = dir_->Lock(kLockFile, &lock);
  if (s.ok()) s = ScanIfChanged();
  if (!s.ok()) return s;
  if (sequence <= acked_.report) return Status::Ok();
  std::uint64_t through = 0;
  s = SealedThrough(sequence, &through);
  if (!s.ok()) return s;
  const std::uint64_t events_through =
      consumed ? std::max(acked_.events_through, through) : acked_.events_through;
  return WriteAcked(Acked{events_through, sequence});
}

Status EventJournal::SealedThrough(std::uint64_t sequence, std::uint64_t* through) {
  for (const auto& seg : segments_) {
    for (const auto& m : seg.markers) {
      if (m.first == sequence) {
        *through = m.second;
        return Status::Ok();
      }
    }
  }
  return Status::Error(-1,
                       dir_->path() + ": no report " + std::to_string(sequence) + " was sealed");
}

Status EventJournal::WriteAcked(const Acked& next) {
  Status s =
      dir_->WriteAtomic(kAckedFile,
                        boost::json::serialize(boost::json::object{
                            {"events_through", next.events_through}, {"report", next.report}}),
                        0600);
  if (!s.ok()) return s;
  acked_ = next;
  return DeleteConsumedSegments();
}

Status EventJournal::Quarantine(std::uint64_t sequence, std::uint64_t* count) {
  *count = 0;
  {
    std::lock_guard<std::mutex> guard(mu_);
    std::unique_ptr<platform::FileLock> lock;
    Status s = dir_->Lock(kLockFile, &lock);
    if (s.ok()) s = ScanIfChanged();
    if (!s.ok()) return s;
    if (sequence <= acked_.report) return Status::Ok();
    std::uint64_t through = 0;
    s = SealedThrough(sequence, &through);
    if (!s.ok()) return s;
    std::string lines, text;
    for (const auto& seg : segments_) {
      const auto first =
          std::upper_bound(seg.events.begin(), seg.events.end(), acked_.events_through);
      if (first == seg.events.end() || *first > through) continue;
      s = ReadSegment(seg.name, &text);
      if (!s.ok()) return s;
      ForEachLine(text, [&](std::string_view line_text) {
        const auto line = ParseLine(line_text);
        if (!line || line->report_through || line->seq <= acked_.events_through ||
            line->seq > through) {
          return;
        }
        lines.append(line_text).push_back('\n');
        ++*count;
      });
    }
    // The events are safe in their own file before the journal lets go of them.
    s = dir_->WriteAtomic("quarantine-" + std::to_string(sequence) + ".jsonl", lines, 0600);
    if (!s.ok()) return s;
    s = WriteAcked(Acked{std::max(acked_.events_through, through), sequence});
    if (!s.ok()) return s;
  }
  Event e;
  e.time = std::time(nullptr);
  e.type = "journal.quarantined";
  e.fields = {
      {"count", std::to_string(*count)},
      {"file", std::string(kDirName) + "/quarantine-" + std::to_string(sequence) + ".jsonl"}};
  return Record(e);
}

void EventJournal::SetMaxBytes(std::uint64_t max_bytes) {
  std::lock_guard<std::mutex> guard(mu_);
  // Dropping is by whole segments: one full segment and the one being written always fit.
  options_.max_bytes = std::max(max_bytes, 2 * options_.segment_bytes);
  read_limit_ = std::max(read_limit_, options_.max_bytes);
}

Status EventJournal::PendingEvents(std::uint64_t* count) {
  std::lock_guard<std::mutex> guard(mu_);
  std::unique_ptr<platform::FileLock> lock;
  Status s = dir_->Lock(kLockFile, &lock);
  if (s.ok()) s = ScanIfChanged();
  if (!s.ok()) return s;
  *count = 0;
  for (const auto& seg : segments_) {
    *count += static_cast<std::uint64_t>(
        seg.events.end() -
        std::upper_bound(seg.events.begin(), seg.events.end(), acked_.events_through));
  }
  return Status::Ok();
}

}  // namespace mamori::agent
