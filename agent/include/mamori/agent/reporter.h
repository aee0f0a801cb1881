// Ships compliance status and the journal's events to the collector over mutual TLS, on its own
// thread. Journal entries are deleted only after the collector has acknowledged (committed) the
// report that carried them; a report re-sent after a crash has the same sequence, so the collector
// stores it once. While the collector cannot be reached the reporter retries with jittered
// exponential backoff; otherwise it sends at once when triggered and a full snapshot every report
// interval.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mamori/agent/enrollment.h"
#include "mamori/agent/event_journal.h"

namespace mamori::agent {

struct ReportCheck {
  std::string id;
  std::string result;  // pass, fail, error, not-applicable
  std::string observed;
};

class Reporter {
 public:
  using ChecksFn = std::function<std::vector<ReportCheck>()>;
  // The applied policy's version (nullopt while running the built-in defaults) and its report
  // interval.
  using PolicyVersionFn = std::function<std::optional<std::uint64_t>()>;
  using IntervalFn = std::function<std::chrono::seconds()>;

  struct Options {
    std::size_t max_events = 1000;       // per report
    std::size_t max_bytes = 512 * 1024;  // of events per report (the collector takes 1 MiB)
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{5 * 60 * 1000};
    int timeout_seconds = 30;
    // How often an idle reporter looks for events journalled by other processes.
    std::chrono::milliseconds pending_check{5000};
  };

  Reporter(Enrollment enrollment, EventJournal& journal, ChecksFn checks,
           PolicyVersionFn policy_version, IntervalFn interval, Options options);
  ~Reporter();  // Stop()

  void Start();
  // Waits for a request in flight (bounded by timeout_seconds).
  void Stop();
  // Sends a report now (unless waiting out a backoff after a failure).
  void Trigger();

  // Sends one report and applies the acknowledgement, on the caller's thread. *more is set when
  // unacknowledged events remain.
  platform::Status SendOnce(bool* more);

  // The collector's clock minus ours, from the Date header of its last answer.
  std::optional<std::chrono::seconds> clock_skew() const;
  // Reports acknowledged since start, for tests and logs.
  std::uint64_t acknowledged() const { return acknowledged_.load(); }

 private:
  void Run();
  bool Wait(std::chrono::milliseconds wait, bool failing);

  Enrollment enrollment_;
  EventJournal& journal_;
  ChecksFn checks_;
  PolicyVersionFn policy_version_;
  IntervalFn interval_;
  Options options_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool triggered_ = false;
  std::thread thread_;

  std::atomic<bool> has_skew_{false};
  std::atomic<std::int64_t> skew_seconds_{0};
  std::atomic<std::uint64_t> acknowledged_{0};
};

}  // namespace mamori::agent
