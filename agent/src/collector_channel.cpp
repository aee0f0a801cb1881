#include "collector_channel.h"

#include <cstdio>

#include "mamori/agent/policy_apply.h"

namespace mamori::agent {

CollectorChannel::CollectorChannel(EventJournal& journal, std::unique_ptr<PolicyState> state,
                                   std::optional<Enrollment> enrollment)
    : journal_(journal), state_(std::move(state)), enrollment_(std::move(enrollment)) {}

CollectorChannel::~CollectorChannel() { Stop(); }

platform::Status CollectorChannel::Open(platform::SecureDir& state_dir,
                                        const std::string& trust_file, EventJournal& journal,
                                        std::unique_ptr<CollectorChannel>* out) {
  platform::Env& env = platform::Env::Default();
  policy::TrustSet trust;
  platform::Status s = LoadTrustFile(env, trust_file, &trust);
  if (!s.ok()) return s;
  std::optional<Enrollment> enrollment;
  s = LoadEnrollment(state_dir, &enrollment);
  if (!s.ok()) return s;
  std::vector<std::string> groups;
  if (enrollment && !enrollment->group.empty()) groups.push_back(enrollment->group);
  auto state = std::make_unique<PolicyState>(env, state_dir.path(), std::move(trust), groups);
  s = state->Load();
  // A stored policy that no longer verifies leaves the built-in defaults in force: say so, run.
  if (!s.ok()) std::fprintf(stderr, "mamori-agent: %s\n", s.message().c_str());
  out->reset(new CollectorChannel(journal, std::move(state), std::move(enrollment)));
  return platform::Status::Ok();
}

policy::Policy CollectorChannel::policy() {
  std::lock_guard<std::mutex> guard(state_mu_);
  return state_->current();
}

std::optional<std::uint64_t> CollectorChannel::policy_version() {
  std::lock_guard<std::mutex> guard(state_mu_);
  return state_->version();
}

void CollectorChannel::Start() {
  if (!enrollment_) return;
  reporter_ = std::make_unique<Reporter>(
      *enrollment_, journal_, checks_, [this] { return policy_version(); },
      [this] { return std::chrono::seconds(policy().compliance.report_interval_seconds); },
      Reporter::Options{});
  poller_ = std::make_unique<PolicyPoller>(
      *enrollment_, *state_, state_mu_, journal_,
      [this](const PolicyState::OfferResult& r) {
        if (r.applied) ApplyReporting(policy().reporting);
        if (r.applied && listener_) listener_(policy());
        // After the listener, so the checks see the guard and the MFA service on the new policy.
        if (!r.already_applied) reporter_->Refresh({"policy.", "usb.", "mfa."});
      },
      PolicyPoller::Options{});
  ApplyReporting(policy().reporting);
  journal_.OnRecord([this] { reporter_->Trigger(); });
  reporter_->Start();
  poller_->Start();
  if (credentials_) {
    mfa_sync_ = std::make_unique<MfaSync>(
        *enrollment_, *credentials_, journal_,
        [this] { return std::chrono::seconds(policy().compliance.report_interval_seconds); },
        MfaSync::Options{});
    mfa_sync_->Start();
  }
}

void CollectorChannel::ApplyReporting(const policy::ReportingPolicy& reporting) {
  journal_.SetMaxBytes(std::uint64_t{reporting.spool_max_mib} << 20);
  reporter_->SetReporting(reporting);
}

void CollectorChannel::Stop() {
  if (mfa_sync_) mfa_sync_->Stop();
  if (poller_) poller_->Stop();
  if (reporter_) reporter_->Stop();
}

}  // namespace mamori::agent
