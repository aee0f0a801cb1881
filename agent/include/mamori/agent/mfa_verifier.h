// Checks one login's code against a user's credential and records the outcome, all under the
// user's lock: the new state is on disk before an acceptance is returned, so neither a parallel
// login nor a crash can make a code count twice.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <string>
#include <string_view>

#include "mamori/agent/credential_store.h"

namespace mamori::agent {

struct MfaSettings {
  unsigned window_steps = 1;       // accepted drift, in time steps either side
  std::uint32_t max_failures = 5;  // consecutive failures that start a lockout
  std::uint32_t lockout_seconds = 900;
};

enum class Verdict {
  kAccepted,          // a TOTP code for a step after the last accepted one
  kAcceptedRecovery,  // an unused recovery code, now spent
  kRejected,          // wrong code
  kReplay,            // a valid code for a step already used (or older)
  kLocked,            // locked out; the code was not looked at
  kNotEnrolled,       // no credential for this user
  kError,             // the store could not be read or written: deny
};

std::string_view ToString(Verdict v);

struct VerifyResult {
  Verdict verdict = Verdict::kError;
  bool lockout_started = false;        // this failure started a lockout
  std::size_t recovery_remaining = 0;  // after a recovery login
  std::uint64_t step = 0;              // for kAccepted: the TOTP time step the code was for
  std::string error;                   // for kError: what failed (never the code)
};

class MfaVerifier {
 public:
  // Records a verdict (in the event journal) while the new state is flushed, so the two flushes
  // of a login overlap instead of adding up. Called at most once, under the user's lock, once the
  // verdict is final and the new state written; Verify returns only after both are durable. Should
  // the state then fail to reach the disk, the result is kError although the verdict was recorded.
  using Recorder = std::function<void(const VerifyResult&)>;

  MfaVerifier(CredentialStore& store, MfaSettings settings) : store_(store), settings_(settings) {}
  VerifyResult Verify(std::string_view user, std::string_view code, std::time_t now,
                      const Recorder& on_verdict = {});

 private:
  CredentialStore& store_;
  MfaSettings settings_;
};

}  // namespace mamori::agent
