// Learns of new policy by long-polling the collector (GET /v1/policy?after=<applied>&wait=55) on
// its own thread, so an online terminal has a pushed policy within seconds. Each bundle is
// verified and applied through ApplyBundle (the last good policy stays on any failure); the
// outcome goes to the journal and `on_outcome` runs (the daemon hands the new policy to its
// services and triggers a report).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "mamori/agent/enrollment.h"
#include "mamori/agent/event_journal.h"
#include "mamori/agent/policy_state.h"

namespace mamori::agent {

class PolicyPoller {
 public:
  struct Options {
    int wait_seconds = 55;
    std::chrono::milliseconds retry_initial{1000};
    std::chrono::milliseconds retry_max{5 * 60 * 1000};
    // Between polls while the collector serves a bundle this terminal refused.
    std::chrono::milliseconds refused_pause{15 * 1000};
  };
  // `state` is shared with the daemon: the poller changes it under `state_mu`.
  using OutcomeFn = std::function<void(const PolicyState::OfferResult&)>;

  PolicyPoller(Enrollment enrollment, PolicyState& state, std::mutex& state_mu,
               EventJournal& journal, OutcomeFn on_outcome, Options options);
  ~PolicyPoller();  // Stop()

  void Start();
  // Waits for the poll in flight (at most wait_seconds plus the network timeout).
  void Stop();

  // One poll on the caller's thread. *offered is set when the collector answered with a bundle.
  platform::Status PollOnce(bool* offered);

 private:
  void Run();

  Enrollment enrollment_;
  PolicyState& state_;
  std::mutex& state_mu_;
  EventJournal& journal_;
  OutcomeFn on_outcome_;
  Options options_;
  std::string last_rejected_;  // the body of the last bundle refused

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mamori::agent
