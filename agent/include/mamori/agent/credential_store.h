// The per-user TOTP credentials under <state_dir>/mfa (root, 0700): one file per user, replaced
// atomically, and one lock file per user that serializes every read-modify-write of that user.
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
  platform::Status Load(std::string_view user, std::optional<CredentialRecord>* out);
  platform::Status Save(const CredentialRecord& record);
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
