// Ships compliance status and the journal's events to the collector over mutual TLS, on its own
// thread. Journal entries are deleted only after the collector has acknowledged (committed) the
// report that carried them; a report re-sent after a crash has the same sequence, so the collector
// stores it once. While the collector cannot be reached the reporter retries with jittered
// exponential backoff; otherwise it sends at once when triggered.
//
// The compliance catalogue runs at start, every report interval and when an event that may change
// a check is sent (then only the checks it may change). A report carries the checks that changed
// since the last acknowledged report, and all of them once per report interval (the snapshot); a
// report without checks leaves the collector's status as it was.
//
// Answers are classified: 401/403 (the certificate revoked or unknown) are said once and retried
// at the longest backoff; 400/413 halve the batch, and a single event the collector still refuses
// is quarantined (journal.h) and counted by a `journal.quarantined` event; a Retry-After is
// honoured up to the longest backoff. Nothing unacknowledged is ever deleted.
#pragma once

#include <atomic>
#include <boost/json/array.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mamori/agent/enrollment.h"
#include "mamori/agent/event_journal.h"
#include "mamori/policy/model.h"

namespace mamori::agent {

struct ReportCheck {
  std::string id;
  std::string result;  // pass, fail, error, not-applicable
  std::string observed;
  bool operator==(const ReportCheck&) const = default;
};

class Reporter {
 public:
  struct Checks {
    // Runs the checks whose id starts with one of the prefixes; all of them when none is given.
    std::function<std::vector<ReportCheck>(const std::vector<std::string>& prefixes)> run;
    // The id prefixes of the checks an event of this type may change; none for most events.
    std::function<std::vector<std::string>(std::string_view event_type)> affected_by;
  };
  // The applied policy's version (nullopt while running the built-in defaults) and its report
  // interval.
  using PolicyVersionFn = std::function<std::optional<std::uint64_t>()>;
  using IntervalFn = std::function<std::chrono::seconds()>;

  struct Options {
    std::size_t max_events = 1000;       // per report
    std::size_t max_bytes = 512 * 1024;  // of events per report (the collector takes 1 MiB)
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{5 * 60 * 1000};  // until SetReporting
    std::chrono::seconds snapshot_interval{3600};          // until SetReporting
    int timeout_seconds = 30;
    // How often an idle reporter looks for events journalled by other processes.
    std::chrono::milliseconds pending_check{5000};
  };

  struct Response {
    int status = 0;
    std::string body;
    std::string date;         // the Date header, empty when absent
    std::string retry_after;  // the Retry-After header, empty when absent
  };
  // Posts one report body to /v1/reports; an error when no answer came (connection, TLS).
  using Transport = std::function<platform::Status(const std::string& body, Response* out)>;

  // Reports over mutual TLS with the enrollment's certificate.
  Reporter(Enrollment enrollment, EventJournal& journal, Checks checks,
           PolicyVersionFn policy_version, IntervalFn interval, Options options);
  // Reports through `transport` (tests).
  Reporter(Transport transport, EventJournal& journal, Checks checks,
           PolicyVersionFn policy_version, IntervalFn interval, Options options);
  ~Reporter();  // Stop()

  void Start();
  // Waits for a request in flight (bounded by timeout_seconds).
  void Stop();
  // Sends a report now (unless waiting out a backoff after a failure).
  void Trigger();
  // Runs the checks with these id prefixes before the next report, and sends it now.
  void Refresh(std::vector<std::string> prefixes);
  // The policy's reporting section: the longest wait between retries and the snapshot interval.
  void SetReporting(const policy::ReportingPolicy& reporting);

  // Sends one report and applies the acknowledgement, on the caller's thread. *more is set when
  // unacknowledged events remain, or the catalogue is due and waited for this report's events.
  platform::Status SendOnce(bool* more);

  // The collector's clock minus ours, from the Date header of its last answer.
  std::optional<std::chrono::seconds> clock_skew() const;
  // Reports acknowledged since start, for tests and logs.
  std::uint64_t acknowledged() const { return acknowledged_.load(); }
  // Runs of the checks since start (each a whole or partial catalogue), for tests.
  std::uint64_t check_runs() const { return check_runs_.load(); }
  // How long the last SendOnce asks to wait before the next attempt, when its answer said so
  // (401/403: the longest backoff; Retry-After; 400/413: none, retry the smaller batch at once).
  std::optional<std::chrono::milliseconds> retry_delay() const { return retry_delay_; }

 private:
  using Clock = std::chrono::steady_clock;

  void Run();
  bool Wait(std::chrono::milliseconds wait, bool failing);
  std::vector<ReportCheck> ChecksToSend(const boost::json::array& events, bool* snapshot,
                                        bool* deferred);
  void RunChecks(const std::vector<std::string>& prefixes);
  platform::Status Refused(const Response& response, std::uint64_t sequence, std::size_t events,
                           bool had_checks);
  std::chrono::milliseconds BackoffMax();
  std::chrono::milliseconds UntilNextRun();

  Transport transport_;
  EventJournal& journal_;
  Checks checks_;
  PolicyVersionFn policy_version_;
  IntervalFn interval_;
  Options options_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool triggered_ = false;
  std::vector<std::string> refresh_;  // check prefixes to run before the next report
  std::chrono::milliseconds backoff_max_;
  std::chrono::seconds snapshot_interval_;
  std::thread thread_;

  // The reporter's own thread (or SendOnce's caller) only.
  std::map<std::string, ReportCheck> latest_;  // the last result of every check
  std::map<std::string, ReportCheck> acked_;   // as the collector has them
  std::optional<Clock::time_point> last_full_run_;
  std::optional<Clock::time_point> last_snapshot_;
  bool snapshot_due_ = true;
  bool deferred_ = false;     // the last report went without the catalogue that was due
  bool omit_checks_ = false;  // the collector refused the last report that carried checks
  std::size_t max_events_;
  bool unauthorized_said_ = false;
  std::optional<std::chrono::milliseconds> retry_delay_;

  std::atomic<bool> has_skew_{false};
  std::atomic<std::int64_t> skew_seconds_{0};
  std::atomic<std::uint64_t> acknowledged_{0};
  std::atomic<std::uint64_t> check_runs_{0};
};

}  // namespace mamori::agent
