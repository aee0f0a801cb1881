// Answers pam_mamori.so: who may ask, whether policy wants a second factor for this login, and the
// verifier's verdict mapped to a PAM answer, with every outcome written to the event journal before
// it is returned and sent to the system log with structured fields (MAMORI_EVENT, MAMORI_USER,
// MAMORI_SERVICE, MAMORI_OUTCOME, MAMORI_REASON, MAMORI_RHOST, MAMORI_TTY, ...) — never the code.
#pragma once

#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "mamori/agent/event_journal.h"
#include "mamori/agent/mfa_protocol.h"
#include "mamori/agent/mfa_verifier.h"
#include "mamori/platform/accounts.h"
#include "mamori/platform/local_socket.h"
#include "mamori/platform/system_log.h"
#include "mamori/policy/model.h"

namespace mamori::agent {

class MfaService {
 public:
  using Clock = std::function<std::time_t()>;
  MfaService(CredentialStore& store, EventJournal& journal, platform::Accounts& accounts,
             platform::SystemLog& log, policy::MfaPolicy policy, Clock clock);

  // One request line from a peer; returns the answer line.
  std::string HandleLine(std::string_view line, const platform::PeerCredentials& peer);
  MfaAnswer Handle(const MfaRequest& request, const platform::PeerCredentials& peer);

  // A newly applied policy; a request already being answered keeps the policy it started with.
  void SetPolicy(policy::MfaPolicy policy);

 private:
  bool Required(const policy::MfaPolicy& policy, const MfaRequest& request);
  // The verifier's verdict as events and an answer, through Finish.
  MfaAnswer Conclude(const VerifyResult& r, const policy::MfaPolicy& policy,
                     const MfaRequest& request, const platform::PeerCredentials& peer,
                     std::vector<std::pair<MfaAnswer, Event>>* unlogged);
  // Journals the event; a journal that cannot be written turns an acceptance into a refusal, so
  // no login goes unrecorded. The event goes to the system log now, or into *unlogged when given.
  MfaAnswer Finish(MfaAnswer answer, std::string type, const MfaRequest& request,
                   const platform::PeerCredentials& peer,
                   std::vector<std::pair<std::string, std::string>> extra = {},
                   std::vector<std::pair<MfaAnswer, Event>>* unlogged = nullptr);

  policy::MfaPolicy CurrentPolicy();
  void Log(MfaAnswer answer, const Event& event);

  CredentialStore& store_;
  EventJournal& journal_;
  platform::Accounts& accounts_;
  platform::SystemLog& log_;
  std::mutex policy_mu_;
  policy::MfaPolicy policy_;
  Clock clock_;
};

}  // namespace mamori::agent
