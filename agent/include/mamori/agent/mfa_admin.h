// Administration of credentials on the terminal (`mamori mfa …`). Each operation runs under the
// user's lock, like a login, and is written to the event journal.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/agent/credential_store.h"
#include "mamori/agent/event_journal.h"

namespace mamori::agent {

// A secret being enrolled: shown to the user, stored only once a code proves the app has it.
struct PendingEnrollment {
  std::string user;
  TotpParams totp;
  SecretBytes secret;
};

// 160 random bits (RAND_bytes) for `user`; nullopt when the RNG fails.
std::optional<PendingEnrollment> NewEnrollment(std::string_view user);

// otpauth://totp/ISSUER:USER?secret=…&issuer=…&algorithm=…&digits=…&period=…
std::string OtpauthUri(const PendingEnrollment& e, std::string_view issuer);

class MfaAdmin {
 public:
  MfaAdmin(CredentialStore& store, EventJournal& journal) : store_(store), journal_(journal) {}

  // Stores the credential when `code` is the current code (±1 step), with that step already used,
  // and returns the recovery codes to show once. Refuses a user who is already enrolled.
  platform::Status Activate(const PendingEnrollment& e, std::string_view code, std::time_t now,
                            std::vector<std::string>* recovery_codes);
  // Seals and stores an imported credential, replacing any existing one.
  platform::Status Import(const CredentialImport& c, std::time_t now);
  platform::Status Reset(std::string_view user, std::time_t now);
  platform::Status Unlock(std::string_view user, std::time_t now);
  // A human-readable summary (no secret); *enrolled is false when there is no credential.
  platform::Status Status(std::string_view user, std::time_t now, bool* enrolled,
                          std::string* summary);

 private:
  platform::Status Journal(std::string type, std::string_view user, std::time_t now);
  CredentialStore& store_;
  EventJournal& journal_;
};

}  // namespace mamori::agent
