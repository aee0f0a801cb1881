#include "mamori/agent/mfa_service.h"

#include <cctype>

#include "mamori/policy/mfa_scope.h"

namespace mamori::agent {
namespace {

using Priority = platform::SystemLog::Priority;

struct Outcome {
  std::string_view type;
  Priority priority;
  std::string_view reason;
};

constexpr Outcome kOutcomes[] = {
    {"mfa.success", Priority::kInfo, "code accepted"},
    {"mfa.recovery_used", Priority::kInfo, "recovery code accepted"},
    {"mfa.unenrolled_allowed", Priority::kInfo, "not enrolled, and the policy lets such users in"},
    {"mfa.failure", Priority::kNotice, "wrong code"},
    {"mfa.replay", Priority::kNotice, "code already used"},
    {"mfa.unenrolled_denied", Priority::kNotice, "not enrolled, and the policy denies such users"},
    {"mfa.invalid_user", Priority::kNotice, "invalid user name"},
    {"mfa.locked", Priority::kWarning, "locked out after repeated failures"},
    {"mfa.lockout", Priority::kWarning, "too many failures: lockout started"},
    {"mfa.caller_refused", Priority::kWarning, "the caller may not ask for this user"},
    {"mfa.error", Priority::kWarning, "verification failed"},
};

// Request fields are the client's text: no control characters reach the log.
std::string Printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (std::iscntrl(static_cast<unsigned char>(c))) c = '?';
  }
  return out;
}

std::string FieldName(std::string_view key) {
  std::string name = "MAMORI_";
  for (char c : key) name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

}  // namespace

MfaService::MfaService(CredentialStore& store, EventJournal& journal, platform::Accounts& accounts,
                       platform::SystemLog& log, policy::MfaPolicy policy, Clock clock)
    : store_(store),
      journal_(journal),
      accounts_(accounts),
      log_(log),
      policy_(std::move(policy)),
      clock_(std::move(clock)) {}

std::string MfaService::HandleLine(std::string_view line, const platform::PeerCredentials& peer) {
  std::string error;
  auto request = ParseMfaRequest(line, &error);
  if (!request) {
    log_.Send(Priority::kWarning,
              "mfa: refused a malformed request from uid " + std::to_string(peer.uid) + ": " +
                  Printable(error),
              {{"MAMORI_EVENT", "mfa.malformed_request"},
               {"MAMORI_CALLER_UID", std::to_string(peer.uid)},
               {"MAMORI_CALLER_PID", std::to_string(peer.pid)},
               {"MAMORI_REASON", Printable(error)}});
    return SerializeMfaAnswer(MfaAnswer::kAuthError);
  }
  return SerializeMfaAnswer(Handle(*request, peer));
}

MfaAnswer MfaService::Handle(const MfaRequest& request, const platform::PeerCredentials& peer) {
  if (!ValidUserName(request.user)) {
    return Finish(MfaAnswer::kUserUnknown, "mfa.invalid_user", request, peer);
  }
  // Only root (the login stack) may have any user checked; a user's own screen locker may check
  // that user alone. Otherwise anyone could probe codes or lock others out.
  if (peer.uid != 0) {
    auto name = accounts_.UserName(peer.uid);
    if (!name || *name != request.user) {
      return Finish(MfaAnswer::kAuthError, "mfa.caller_refused", request, peer);
    }
  }
  const policy::MfaPolicy policy = CurrentPolicy();
  if (!Required(policy, request)) return MfaAnswer::kIgnore;
  if (request.op == MfaOp::kCheck) return MfaAnswer::kPrompt;

  MfaVerifier verifier(
      store_, MfaSettings{policy.window_steps, policy.max_failures, policy.lockout_seconds});
  // The verdict is journalled while the verifier flushes the new state; its system log lines wait
  // for the outcome of that flush.
  std::vector<std::pair<MfaAnswer, Event>> unlogged;
  std::optional<MfaAnswer> recorded;
  VerifyResult r =
      verifier.Verify(request.user, request.code, clock_(), [&](const VerifyResult& decided) {
        recorded = Conclude(decided, policy, request, peer, &unlogged);
      });
  if (recorded && r.verdict != Verdict::kError) {
    for (const auto& [answer, event] : unlogged) Log(answer, event);
    return *recorded;
  }
  // A recorded verdict whose state did not reach the disk is refused, and the failure recorded
  // after it.
  for (const auto& [answer, event] : unlogged) Log(MfaAnswer::kAuthError, event);
  return Conclude(r, policy, request, peer, nullptr);
}

// Group membership can only add to what the user alone requires, and the lookup goes through NSS
// (files and services), so it is made only when the groups could change the outcome.
bool MfaService::Required(const policy::MfaPolicy& policy, const MfaRequest& request) {
  if (policy::MfaRequired(policy, request.user, {}, request.service)) return true;
  // Asking with the policy's own groups tells whether the service is in scope at all.
  if (policy.groups.empty() ||
      !policy::MfaRequired(policy, request.user, policy.groups, request.service)) {
    return false;
  }
  return policy::MfaRequired(policy, request.user, accounts_.GroupNames(request.user),
                             request.service);
}

MfaAnswer MfaService::Conclude(const VerifyResult& r, const policy::MfaPolicy& policy,
                               const MfaRequest& request, const platform::PeerCredentials& peer,
                               std::vector<std::pair<MfaAnswer, Event>>* unlogged) {
  const MfaAnswer failed = r.lockout_started ? MfaAnswer::kMaxTries : MfaAnswer::kAuthError;
  MfaAnswer answer = MfaAnswer::kAuthError;
  switch (r.verdict) {
    case Verdict::kAccepted:
      // The step lets the collector see one code accepted on two terminals.
      answer = Finish(MfaAnswer::kSuccess, "mfa.success", request, peer,
                      {{"step", std::to_string(r.step)}}, unlogged);
      break;
    case Verdict::kAcceptedRecovery:
      answer = Finish(MfaAnswer::kSuccess, "mfa.recovery_used", request, peer,
                      {{"recovery_remaining", std::to_string(r.recovery_remaining)}}, unlogged);
      break;
    case Verdict::kRejected:
      answer = Finish(failed, "mfa.failure", request, peer, {}, unlogged);
      break;
    case Verdict::kReplay:
      answer = Finish(failed, "mfa.replay", request, peer, {}, unlogged);
      break;
    case Verdict::kLocked:
      answer = Finish(MfaAnswer::kMaxTries, "mfa.locked", request, peer, {}, unlogged);
      break;
    case Verdict::kNotEnrolled:
      if (policy.deny_unenrolled) {
        answer =
            Finish(MfaAnswer::kUserUnknown, "mfa.unenrolled_denied", request, peer, {}, unlogged);
      } else {
        answer = Finish(MfaAnswer::kIgnore, "mfa.unenrolled_allowed", request, peer, {}, unlogged);
      }
      break;
    case Verdict::kError:
      answer =
          Finish(MfaAnswer::kAuthError, "mfa.error", request, peer, {{"error", r.error}}, unlogged);
      break;
  }
  if (r.lockout_started) {
    answer = Finish(answer, "mfa.lockout", request, peer,
                    {{"lockout_seconds", std::to_string(policy.lockout_seconds)}}, unlogged);
  }
  return answer;
}

MfaAnswer MfaService::Finish(MfaAnswer answer, std::string type, const MfaRequest& request,
                             const platform::PeerCredentials& peer,
                             std::vector<std::pair<std::string, std::string>> extra,
                             std::vector<std::pair<MfaAnswer, Event>>* unlogged) {
  Event e;
  e.time = clock_();
  e.type = std::move(type);
  e.fields = {{"user", request.user},
              {"service", request.service},
              {"tty", request.tty},
              {"rhost", request.rhost},
              {"caller_uid", std::to_string(peer.uid)},
              {"caller_pid", std::to_string(peer.pid)}};
  for (auto& f : extra) e.fields.push_back(std::move(f));
  platform::Status s = journal_.Record(e);
  if (!s.ok()) {
    log_.Send(Priority::kError, "mfa: event journal not written, refusing: " + s.message(),
              {{"MAMORI_EVENT", "mfa.journal_error"}, {"MAMORI_USER", Printable(request.user)}});
    if (answer == MfaAnswer::kSuccess || answer == MfaAnswer::kIgnore) {
      answer = MfaAnswer::kAuthError;
    }
  }
  if (unlogged) {
    unlogged->emplace_back(answer, std::move(e));
  } else {
    Log(answer, e);
  }
  return answer;
}

// The journal event as a system log entry: the same facts (the event holds no code or secret)
// under MAMORI_* fields, with the PAM answer as the outcome and a reason a person can read.
void MfaService::Log(MfaAnswer answer, const Event& event) {
  Outcome outcome{event.type, Priority::kWarning, event.type};
  for (const Outcome& o : kOutcomes) {
    if (o.type == event.type) outcome = o;
  }
  std::string reason(outcome.reason);
  platform::SystemLog::Fields fields{{"MAMORI_EVENT", event.type},
                                     {"MAMORI_OUTCOME", std::string(ToString(answer))}};
  std::string details;
  for (const auto& [key, value] : event.fields) {
    if (value.empty()) continue;  // an unknown tty or rhost is left out
    const std::string text = Printable(value);
    if (key == "error") reason += ": " + text;
    fields.emplace_back(FieldName(key), text);
    if (key != "caller_pid" && key != "error") details += " " + key + "=" + text;
  }
  fields.emplace_back("MAMORI_REASON", reason);
  log_.Send(outcome.priority,
            "mfa: " + std::string(ToString(answer)) + " (" + reason + ")" + details, fields);
}

void MfaService::SetPolicy(policy::MfaPolicy policy) {
  std::lock_guard<std::mutex> guard(policy_mu_);
  policy_ = std::move(policy);
}

policy::MfaPolicy MfaService::CurrentPolicy() {
  std::lock_guard<std::mutex> guard(policy_mu_);
  return policy_;
}

}  // namespace mamori::agent
