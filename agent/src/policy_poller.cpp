#include "mamori/agent/policy_poller.h"

#include <cstdio>
#include <random>

#include "enrollment_client.h"
#include "mamori/agent/policy_apply.h"
#include "mamori/collector/client.h"

namespace mamori::agent {

using platform::Status;

PolicyPoller::PolicyPoller(Enrollment enrollment, PolicyState& state, std::mutex& state_mu,
                           EventJournal& journal, OutcomeFn on_outcome, Options options)
    : enrollment_(std::move(enrollment)),
      state_(state),
      state_mu_(state_mu),
      journal_(journal),
      on_outcome_(std::move(on_outcome)),
      options_(options) {}

PolicyPoller::~PolicyPoller() { Stop(); }

void PolicyPoller::Start() {
  thread_ = std::thread([this] { Run(); });
}

void PolicyPoller::Stop() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status PolicyPoller::PollOnce(bool* offered) {
  *offered = false;
  std::uint64_t after = 0;
  {
    std::lock_guard<std::mutex> guard(state_mu_);
    after = state_.version().value_or(0);
  }
  const collector::ClientOptions options =
      EnrolledClientOptions(enrollment_, options_.wait_seconds + 30);
  const std::string target = "/v1/policy?after=" + std::to_string(after) +
                             "&wait=" + std::to_string(options_.wait_seconds);
  collector::ClientResponse response;
  try {
    response = collector::HttpsRequest(options, "GET", target);
  } catch (const collector::ClientError& e) {
    return Status::Error(-1, e.what());
  }
  if (response.status == 204) return Status::Ok();
  if (response.status != 200) {
    return Status::Error(-1, enrollment_.url + target + ": HTTP " +
                                 std::to_string(response.status) + ": " +
                                 response.body.substr(0, 200));
  }
  // The collector keeps serving the newest bundle it stores even when this terminal refused it:
  // refuse it once, and wait for a newer one.
  if (response.body == last_rejected_) {
    *offered = true;
    return Status::Ok();
  }
  PolicyState::OfferResult result;
  {
    std::lock_guard<std::mutex> guard(state_mu_);
    const auto now =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    result = ApplyBundle(state_, journal_, response.body, now);
  }
  *offered = true;
  last_rejected_ = result.applied || result.already_applied ? "" : response.body;
  if (result.applied) {
    std::fprintf(stderr, "mamori-agent: policy version %llu applied\n",
                 static_cast<unsigned long long>(*state_.version()));
  } else if (!result.already_applied) {
    std::fprintf(stderr, "mamori-agent: policy rejected: %s\n", result.message.c_str());
  }
  if (on_outcome_) on_outcome_(result);
  return Status::Ok();
}

void PolicyPoller::Run() {
  std::mt19937_64 rng(std::random_device{}());
  auto retry = options_.retry_initial;
  for (;;) {
    bool offered = false;
    Status s = PollOnce(&offered);
    std::chrono::milliseconds wait(0);
    if (!s.ok()) {
      std::fprintf(stderr, "mamori-agent: policy poll: %s\n", s.message().c_str());
      std::uniform_int_distribution<std::int64_t> jitter(retry.count() / 2, retry.count());
      wait = std::chrono::milliseconds(jitter(rng));
      retry = std::min(retry * 2, options_.retry_max);
    } else {
      retry = options_.retry_initial;
    }
    // After a bundle, poll again at a calm pace: a refused one comes back at once.
    if (offered) {
      wait =
          std::max(wait, last_rejected_.empty() ? options_.retry_initial : options_.refused_pause);
    }
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, wait, [&] { return stop_; });
    if (stop_) return;
  }
}

}  // namespace mamori::agent
