#include "mamori/agent/reporter.h"

#include <time.h>

#include <boost/json.hpp>
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

std::string ErrorOf(const collector::ClientResponse& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    if (const auto* m = v.get_object().if_contains("error"); m && m->is_string()) {
      return std::string(m->get_string());
    }
  }
  return r.body.substr(0, 200);
}

}  // namespace

Reporter::Reporter(Enrollment enrollment, EventJournal& journal, ChecksFn checks,
                   PolicyVersionFn policy_version, IntervalFn interval, Options options)
    : enrollment_(std::move(enrollment)),
      journal_(journal),
      checks_(std::move(checks)),
      policy_version_(std::move(policy_version)),
      interval_(std::move(interval)),
      options_(options) {}

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

std::optional<std::chrono::seconds> Reporter::clock_skew() const {
  if (!has_skew_.load()) return std::nullopt;
  return std::chrono::seconds(skew_seconds_.load());
}

Status Reporter::SendOnce(bool* more) {
  *more = false;
  EventJournal::Batch batch;
  Status s = journal_.NextBatch(options_.max_events, options_.max_bytes, &batch);
  if (!s.ok()) return s;
  boost::json::object report{{"sequence", batch.sequence}};
  if (const auto version = policy_version_()) report["policy_version"] = *version;
  boost::json::array checks;
  for (const auto& c : checks_()) {
    boost::json::object o{{"id", c.id}, {"result", c.result}};
    if (!c.observed.empty()) o["observed"] = c.observed;
    checks.push_back(std::move(o));
  }
  if (!checks.empty()) report["checks"] = std::move(checks);
  const std::size_t events = batch.events.size();
  if (events > 0) report["events"] = std::move(batch.events);

  const collector::ClientOptions options =
      EnrolledClientOptions(enrollment_, options_.timeout_seconds);
  collector::ClientResponse response;
  try {
    response =
        collector::HttpsRequest(options, "POST", "/v1/reports", boost::json::serialize(report));
  } catch (const collector::ClientError& e) {
    return Status::Error(-1, e.what());
  }
  if (const auto server_time = ParseHttpDate(response.date)) {
    skew_seconds_ = static_cast<std::int64_t>(*server_time - std::time(nullptr));
    has_skew_ = true;
  }
  if (response.status != 200) {
    return Status::Error(-1, enrollment_.url + "/v1/reports refused report " +
                                 std::to_string(batch.sequence) + " (HTTP " +
                                 std::to_string(response.status) + "): " + ErrorOf(response));
  }
  s = journal_.Ack(batch.sequence);
  if (!s.ok()) return s;
  ++acknowledged_;
  std::uint64_t pending = 0;
  s = journal_.PendingEvents(&pending);
  *more = s.ok() && pending > 0;
  std::fprintf(stderr, "mamori-agent: report %llu acknowledged (%zu events)\n",
               static_cast<unsigned long long>(batch.sequence), events);
  return s;
}

void Reporter::Run() {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = options_.backoff_initial;
  bool failing = false;
  for (;;) {
    bool more = false;
    Status s = SendOnce(&more);
    std::chrono::milliseconds wait = interval_();
    if (!s.ok()) {
      if (!failing) std::fprintf(stderr, "mamori-agent: report: %s\n", s.message().c_str());
      failing = true;
      // Full jitter over the upper half, so terminals that lost the collector together do not
      // return together.
      std::uniform_int_distribution<std::int64_t> jitter(backoff.count() / 2, backoff.count());
      wait = std::chrono::milliseconds(jitter(rng));
      backoff = std::min(backoff * 2, options_.backoff_max);
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
