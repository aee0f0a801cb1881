#include "mamori/agent/reporter.h"

#include <time.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <random>

#include "enrollment_client.h"
#include "mamori/collector/client.h"

namespace mamori::agent {
namespace {

using platform::Status;

// RFC 9110 IMF-fixdate, "Mon, 23 Nov 2026 09:00:00 GMT".
std::optional<std::time_t> ParseHttpDate(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return timegm(&tm);
}

// Retry-After as delay-seconds or as an HTTP date.
std::optional<std::chrono::seconds> ParseRetryAfter(const std::string& text) {
  std::uint64_t seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) {
    return std::chrono::seconds(std::min<std::uint64_t>(seconds, 7 * 86400));
  }
  if (const auto when = ParseHttpDate(text)) {
    return std::chrono::seconds(std::max<std::time_t>(*when - std::time(nullptr), 0));
  }
  return std::nullopt;
}

std::string ErrorOf(const Reporter::Response& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    if (const auto* m = v.get_object().if_contains("error"); m && m->is_string()) {
      return std::string(m->get_string());
    }
  }
  return r.body.substr(0, 200);
}

Reporter::Transport HttpsTransport(Enrollment enrollment, int timeout_seconds) {
  return [enrollment = std::move(enrollment), timeout_seconds](const std::string& body,
                                                               Reporter::Response* out) {
    const collector::ClientOptions options = EnrolledClientOptions(enrollment, timeout_seconds);
    try {
      collector::ClientResponse r = collector::HttpsRequest(options, "POST", "/v1/reports", body);
      *out = {r.status, std::move(r.body), std::move(r.date), std::move(r.retry_after)};
    } catch (const collector::ClientError& e) {
      return Status::Error(-1, e.what());
    }
    return Status::Ok();
  };
}

}  // namespace

Reporter::Reporter(Enrollment enrollment, EventJournal& journal, Checks checks,
                   PolicyVersionFn policy_version, IntervalFn interval, Options options)
    : Reporter(HttpsTransport(std::move(enrollment), options.timeout_seconds), journal,
               std::move(checks), std::move(policy_version), std::move(interval), options) {}

Reporter::Reporter(Transport transport, EventJournal& journal, Checks checks,
                   PolicyVersionFn policy_version, IntervalFn interval, Options options)
    : transport_(std::move(transport)),
      journal_(journal),
      checks_(std::move(checks)),
      policy_version_(std::move(policy_version)),
      interval_(std::move(interval)),
      options_(options),
      backoff_max_(options.backoff_max),
      snapshot_interval_(options.snapshot_interval),
      max_events_(options.max_events) {}

Reporter::~Reporter() { Stop(); }

void Reporter::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Reporter::Stop() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Reporter::Trigger() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    triggered_ = true;
  }
  wake_.notify_all();
}

void Reporter::Refresh(std::vector<std::string> prefixes) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    refresh_.insert(refresh_.end(), prefixes.begin(), prefixes.end());
    triggered_ = true;
  }
  wake_.notify_all();
}

void Reporter::SetReporting(const policy::ReportingPolicy& reporting) {
  std::lock_guard<std::mutex> guard(mu_);
  backoff_max_ = std::max<std::chrono::milliseconds>(
      std::chrono::seconds(reporting.retry_max_seconds), options_.backoff_initial);
  snapshot_interval_ = std::chrono::seconds(reporting.snapshot_interval_seconds);
}

std::chrono::milliseconds Reporter::BackoffMax() {
  std::lock_guard<std::mutex> guard(mu_);
  return backoff_max_;
}

std::optional<std::chrono::seconds> Reporter::clock_skew() const {
  if (!has_skew_.load()) return std::nullopt;
  return std::chrono::seconds(skew_seconds_.load());
}

void Reporter::RunChecks(const std::vector<std::string>& prefixes) {
  for (ReportCheck& c : checks_.run(prefixes)) {
    const std::string id = c.id;
    latest_[id] = std::move(c);
  }
  ++check_runs_;
}

// Runs what is due of the catalogue and picks the results the collector does not have yet.
std::vector<ReportCheck> Reporter::ChecksToSend(const boost::json::array& events, bool* snapshot,
                                                bool* deferred) {
  const auto now = Clock::now();
  std::chrono::seconds snapshot_interval;
  {
    std::lock_guard<std::mutex> guard(mu_);
    snapshot_interval = snapshot_interval_;
  }
  const bool snapshot_now = !last_snapshot_ || now - *last_snapshot_ >= snapshot_interval;
  const bool run_all = snapshot_now || !last_full_run_ || now - *last_full_run_ >= interval_();
  // The whole catalogue can take seconds (apt's resolver): events waiting are sent first, and the
  // catalogue runs for the very next report. Only once in a row, so a busy terminal still runs it.
  *deferred = run_all && !events.empty() && !deferred_ && checks_.run;
  deferred_ = *deferred;
  if (*deferred) return {};
  std::vector<std::string> prefixes;
  {
    std::lock_guard<std::mutex> guard(mu_);
    prefixes.swap(refresh_);
  }
  if (snapshot_now) {
    last_snapshot_ = now;
    snapshot_due_ = true;
  }
  if (!checks_.run) return {};
  if (run_all) {
    last_full_run_ = now;
    // The results may differ now; what the collector refused before is offered again.
    omit_checks_ = false;
    RunChecks({});
  } else {
    if (checks_.affected_by) {
      for (const auto& e : events) {
        const auto* type = e.is_object() ? e.get_object().if_contains("type") : nullptr;
        if (type == nullptr || !type->is_string()) continue;
        for (auto& p : checks_.affected_by(type->get_string())) prefixes.push_back(std::move(p));
      }
    }
    std::sort(prefixes.begin(), prefixes.end());
    prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
    if (!prefixes.empty()) RunChecks(prefixes);
  }
  std::vector<ReportCheck> out;
  *snapshot = snapshot_due_ && !omit_checks_;
  if (omit_checks_) return out;
  for (const auto& [id, check] : latest_) {
    const auto acked = acked_.find(id);
    if (snapshot_due_ || acked == acked_.end() || !(acked->second == check)) out.push_back(check);
  }
  return out;
}

Status Reporter::SendOnce(bool* more) {
  *more = false;
  retry_delay_.reset();
  EventJournal::Batch batch;
  Status s = journal_.NextBatch(max_events_, options_.max_bytes, &batch);
  if (!s.ok()) return s;
  boost::json::object report{{"sequence", batch.sequence}};
  if (const auto version = policy_version_()) report["policy_version"] = *version;
  bool snapshot = false, deferred = false;
  const std::vector<ReportCheck> sent = ChecksToSend(batch.events, &snapshot, &deferred);
  boost::json::array checks;
  for (const auto& c : sent) {
    boost::json::object o{{"id", c.id}, {"result", c.result}};
    if (!c.observed.empty()) o["observed"] = c.observed;
    checks.push_back(std::move(o));
  }
  if (!checks.empty()) report["checks"] = std::move(checks);
  const std::size_t events = batch.events.size();
  if (events > 0) report["events"] = std::move(batch.events);

  Response response;
  s = transport_(boost::json::serialize(report), &response);
  if (!s.ok()) return s;
  if (const auto server_time = ParseHttpDate(response.date)) {
    skew_seconds_ = static_cast<std::int64_t>(*server_time - std::time(nullptr));
    has_skew_ = true;
  }
  if (response.status != 200) return Refused(response, batch.sequence, events, !sent.empty());
  s = journal_.Ack(batch.sequence);
  if (!s.ok()) return s;
  ++acknowledged_;
  for (const auto& c : sent) acked_[c.id] = c;
  if (snapshot) snapshot_due_ = false;
  unauthorized_said_ = false;
  max_events_ = std::min(max_events_ * 2, options_.max_events);
  std::uint64_t pending = 0;
  s = journal_.PendingEvents(&pending);
  *more = s.ok() && (pending > 0 || deferred);
  std::fprintf(stderr, "mamori-agent: report %llu acknowledged (%zu events, %zu checks)\n",
               static_cast<unsigned long long>(batch.sequence), events, sent.size());
  return s;
}

// What a refusal means for the next attempt. Every path keeps the events until the collector
// acknowledged them or they sit in a quarantine file.
Status Reporter::Refused(const Response& response, std::uint64_t sequence, std::size_t events,
                         bool had_checks) {
  std::string message = "the collector refused report " + std::to_string(sequence) + " (HTTP " +
                        std::to_string(response.status) + "): " + ErrorOf(response);
  const int status = response.status;
  if (status == 401 || status == 403) {
    // The certificate is revoked or unknown; only an administrator can change that, so knocking
    // often helps nobody.
    retry_delay_ = BackoffMax();
    if (!unauthorized_said_) {
      unauthorized_said_ = true;
      std::fprintf(stderr,
                   "mamori-agent: %s; this terminal's certificate is not accepted (revoked or "
                   "unknown): events are kept and the report is retried every %llds\n",
                   message.c_str(), static_cast<long long>(retry_delay_->count() / 1000));
      Status s = journal_.Record(
          Event{std::time(nullptr),
                "report.refused",
                {{"status", std::to_string(status)}, {"error", ErrorOf(response)}}});
      if (!s.ok()) message += "; not journalled: " + s.message();
    }
    return Status::Error(-1, message);
  }
  if (status == 400 || status == 413) {
    retry_delay_ = std::chrono::milliseconds(0);
    Status s = Status::Ok();
    if (events > 1) {
      // Too big, or one of the events is malformed: halving finds out which.
      max_events_ = std::max<std::size_t>(events / 2, 1);
      s = journal_.Withdraw(sequence);
      message += "; retrying with at most " + std::to_string(max_events_) + " events";
    } else if (had_checks) {
      // The same report without its checks tells whether the checks were the problem.
      omit_checks_ = true;
      message += "; retrying without checks";
    } else if (events == 1) {
      std::uint64_t count = 0;
      s = journal_.Quarantine(sequence, &count);
      message += "; quarantined the event";
    } else {
      retry_delay_.reset();
    }
    if (!s.ok()) {
      retry_delay_.reset();
      return s;
    }
    std::fprintf(stderr, "mamori-agent: %s\n", message.c_str());
    return Status::Error(-1, message);
  }
  if (const auto after = ParseRetryAfter(response.retry_after); after && status >= 500) {
    retry_delay_ = std::min<std::chrono::milliseconds>(*after, BackoffMax());
  }
  return Status::Error(-1, message);
}

// Until the catalogue or the snapshot is next due.
std::chrono::milliseconds Reporter::UntilNextRun() {
  const auto now = Clock::now();
  std::chrono::milliseconds wait = interval_();
  if (last_full_run_) {
    wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(*last_full_run_ +
                                                                                interval_() - now));
  }
  std::chrono::seconds snapshot_interval;
  {
    std::lock_guard<std::mutex> guard(mu_);
    snapshot_interval = snapshot_interval_;
  }
  if (last_snapshot_) {
    wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                              *last_snapshot_ + snapshot_interval - now));
  }
  return std::max(wait, std::chrono::milliseconds(0));
}

void Reporter::Run() {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = options_.backoff_initial;
  bool failing = false;
  for (;;) {
    bool more = false;
    Status s = SendOnce(&more);
    std::chrono::milliseconds wait = UntilNextRun();
    if (!s.ok() && retry_delay_ && retry_delay_->count() == 0) {
      // A smaller or quarantined batch goes out at once.
      wait = *retry_delay_;
    } else if (!s.ok()) {
      if (!failing) std::fprintf(stderr, "mamori-agent: report: %s\n", s.message().c_str());
      failing = true;
      backoff = std::min(backoff, BackoffMax());
      // Full jitter over the upper half, so terminals that lost the collector together do not
      // return together.
      std::uniform_int_distribution<std::int64_t> jitter(backoff.count() / 2, backoff.count());
      wait = retry_delay_ ? *retry_delay_ : std::chrono::milliseconds(jitter(rng));
      backoff = std::min(backoff * 2, BackoffMax());
    } else {
      if (failing) std::fprintf(stderr, "mamori-agent: report: collector reachable again\n");
      failing = false;
      backoff = options_.backoff_initial;
      if (more) wait = std::chrono::milliseconds(0);
    }
    if (!Wait(wait, failing)) return;
  }
}

// Waits out `wait`, or less when triggered (unless backing off) or when another process (the
// `mamori` CLI) journalled events; false when stopped.
bool Reporter::Wait(std::chrono::milliseconds wait, bool failing) {
  const auto end = std::chrono::steady_clock::now() + wait;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    const auto slice = std::min<std::chrono::steady_clock::duration>(
        end - std::chrono::steady_clock::now(), options_.pending_check);
    wake_.wait_for(lock, slice, [&] { return stop_ || (triggered_ && !failing); });
    if (stop_) return false;
    if ((triggered_ && !failing) || std::chrono::steady_clock::now() >= end) break;
    if (!failing) {
      lock.unlock();
      std::uint64_t pending = 0;
      const bool found = journal_.PendingEvents(&pending).ok() && pending > 0;
      lock.lock();
      if (found) break;
    }
  }
  triggered_ = false;
  return true;
}

}  // namespace mamori::agent
