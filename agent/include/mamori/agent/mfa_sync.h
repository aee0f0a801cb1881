// Keeps this terminal's TOTP credentials in step with the collector's central enrollments: GET
// /v1/mfa/credentials?after=<applied revision> over mTLS, on a thread of its own, right after start
// and then once per report interval (a plain poll: changes arrive within one interval).
//
// Each change goes through MfaAdmin under the user's lock: an import is sealed with this host's key
// (a credential already held with the same secret is kept as it is, so its last used step still
// refuses a replayed code), a removal deletes the credential, an unlock requested after the
// applied revision clears the lockout. The applied revision is stored (mfa-sync.json in the state
// directory, replaced atomically) after the changes up to it are applied: a crash repeats work,
// never skips it. Any failure stops the sync where it is and is retried; it removes nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "mamori/agent/credential_store.h"
#include "mamori/agent/enrollment.h"
#include "mamori/agent/event_journal.h"

namespace mamori::agent {

class MfaSync {
 public:
  struct Options {
    std::chrono::milliseconds retry_initial{1000};
    std::chrono::milliseconds retry_max{5 * 60 * 1000};
  };
  using IntervalFn = std::function<std::chrono::seconds()>;

  MfaSync(Enrollment enrollment, CredentialStore& store, EventJournal& journal, IntervalFn interval,
          Options options);
  ~MfaSync();  // Stop()

  void Start();
  void Stop();

  // One sync on the caller's thread: every page of changes after the stored revision.
  // *changes counts the changes applied.
  platform::Status SyncOnce(std::size_t* changes);

  // The revision applied and stored (0 before the first change).
  platform::Status AppliedRevision(std::uint64_t* revision);

 private:
  void Run();

  Enrollment enrollment_;
  CredentialStore& store_;
  EventJournal& journal_;
  IntervalFn interval_;
  Options options_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mamori::agent
