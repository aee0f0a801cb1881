// The per-user TOTP credentials under <state_dir>/mfa (root, 0700). Per user: the credential file
// (sealed secret, parameters, recovery hashes), replaced atomically and only when those change; an
// append-only state log with the counters every login changes; and a lock file that serializes
// every read-modify-write of that user.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/agent/credential.h"
#include "mamori/agent/host_key.h"
#include "mamori/platform/secure_dir.h"

namespace mamori::agent {

class CredentialStore {
 public:
  // Opens (creating) <state_dir> and <state_dir>/mfa, both 0700, and the host key.
  static platform::Status Open(const std::string& state_dir, std::unique_ptr<CredentialStore>* out);

  // Waits for and holds `user`'s lock. Load, decide and Save under one lock.
  platform::Status LockUser(std::string_view user, std::unique_ptr<platform::FileLock>* out);

  // Sets *out to nullopt when `user` has no credential. An unreadable or invalid file is an error.
  // The counters come from the state log's last valid record when there is one; last_step is never
  // lower than the credential file's.
  platform::Status Load(std::string_view user, std::optional<CredentialRecord>* out);
  // Replaces the whole record: the credential file, then the state log (compacted to one record).
  platform::Status Save(const CredentialRecord& record);
  // Makes the record's counters durable with one appended record and one fdatasync; the credential
  // file is not touched. For a record whose secret, parameters and recovery hashes are as loaded.
  platform::Status SaveState(const CredentialRecord& record);
  // SaveState's first half: writes the record and sets *unsynced to the log whose Sync makes it
  // durable, or to null when it already is (a new or compacted log is replaced atomically). The
  // caller holds the user's lock until that Sync has returned.
  platform::Status WriteState(const CredentialRecord& record,
                              std::shared_ptr<platform::AppendFile>* unsynced);
  platform::Status Remove(std::string_view user);
  // The users that have a credential record, sorted.
  platform::Status ListUsers(std::vector<std::string>* users);

  const HostKey& host_key() const { return *host_key_; }
  platform::SecureDir& state_dir() { return *state_dir_; }

 private:
  CredentialStore() = default;
  std::unique_ptr<platform::SecureDir> state_dir_;
  std::unique_ptr<platform::SecureDir> dir_;
  std::optional<HostKey> host_key_;
};

}  // namespace mamori::agent
