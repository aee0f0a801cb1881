// The daemon's side of the collector: the applied policy (from the pinned trust file and the state
// directory) and, once the terminal has enrolled, the reporter, the policy poller and the MFA
// credential sync.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "mamori/agent/credential_store.h"
#include "mamori/agent/enrollment.h"
#include "mamori/agent/event_journal.h"
#include "mamori/agent/mfa_sync.h"
#include "mamori/agent/policy_poller.h"
#include "mamori/agent/policy_state.h"
#include "mamori/agent/reporter.h"
#include "mamori/platform/secure_dir.h"

namespace mamori::agent {

class CollectorChannel {
 public:
  using PolicyListener = std::function<void(const policy::Policy&)>;

  // Loads the trust file (required: without root keys no policy can ever apply), the enrollment
  // if there is one, and the applied policy; the built-in defaults when none verifies.
  static platform::Status Open(platform::SecureDir& state_dir, const std::string& trust_file,
                               EventJournal& journal, std::unique_ptr<CollectorChannel>* out);
  ~CollectorChannel();

  policy::Policy policy();
  std::optional<std::uint64_t> policy_version();
  const std::optional<Enrollment>& enrollment() const { return enrollment_; }

  // Runs (on the poller's thread) after a policy was applied.
  void OnPolicyApplied(PolicyListener listener) { listener_ = std::move(listener); }
  // Where the reports' checks come from; none until set.
  void SetChecks(Reporter::Checks checks) { checks_ = std::move(checks); }
  // Where centrally enrolled credentials go; without it, none are fetched.
  void SetCredentialStore(CredentialStore& store) { credentials_ = &store; }

  // Starts the reporter, the poller and the MFA sync when enrolled.
  void Start();
  void Stop();
  Reporter* reporter() { return reporter_.get(); }

 private:
  CollectorChannel(EventJournal& journal, std::unique_ptr<PolicyState> state,
                   std::optional<Enrollment> enrollment);
  // The policy's reporting section: the journal's bound and the reporter's backoff and snapshot.
  void ApplyReporting(const policy::ReportingPolicy& reporting);

  EventJournal& journal_;
  std::mutex state_mu_;
  std::unique_ptr<PolicyState> state_;
  std::optional<Enrollment> enrollment_;
  PolicyListener listener_;
  Reporter::Checks checks_;
  std::unique_ptr<Reporter> reporter_;
  std::unique_ptr<PolicyPoller> poller_;
  CredentialStore* credentials_ = nullptr;
  std::unique_ptr<MfaSync> mfa_sync_;
};

}  // namespace mamori::agent
