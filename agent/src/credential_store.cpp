#include "mamori/agent/credential_store.h"

#include <errno.h>

namespace mamori::agent {
namespace {

constexpr std::size_t kMaxRecordBytes = 64 * 1024;

std::string RecordName(std::string_view user) { return std::string(user) + ".cred"; }

platform::Status BadUser(std::string_view user) {
  return platform::Status::Error(EINVAL, "invalid user name '" + std::string(user) + "'");
}

}  // namespace

platform::Status CredentialStore::Open(const std::string& state_dir,
                                       std::unique_ptr<CredentialStore>* out) {
  std::unique_ptr<CredentialStore> store(new CredentialStore());
  platform::Status s = platform::SecureDir::Open(state_dir, 0700, &store->state_dir_);
  if (s.ok()) s = store->state_dir_->OpenSubdir("mfa", 0700, &store->dir_);
  if (s.ok()) s = HostKey::LoadOrCreate(*store->dir_, &store->host_key_);
  if (!s.ok()) return s;
  *out = std::move(store);
  return platform::Status::Ok();
}

platform::Status CredentialStore::ListUsers(std::vector<std::string>* users) {
  std::vector<std::string> names;
  platform::Status s = dir_->ListFiles(&names);
  if (!s.ok()) return s;
  users->clear();
  constexpr std::string_view kSuffix = ".cred";
  for (const std::string& name : names) {
    if (!name.ends_with(kSuffix)) continue;
    std::string user = name.substr(0, name.size() - kSuffix.size());
    if (ValidUserName(user)) users->push_back(std::move(user));
  }
  return platform::Status::Ok();
}

platform::Status CredentialStore::LockUser(std::string_view user,
                                           std::unique_ptr<platform::FileLock>* out) {
  if (!ValidUserName(user)) return BadUser(user);
  return dir_->Lock(std::string(user) + ".lock", out);
}

platform::Status CredentialStore::Load(std::string_view user,
                                       std::optional<CredentialRecord>* out) {
  if (!ValidUserName(user)) return BadUser(user);
  const std::string name = RecordName(user);
  std::string text;
  platform::Status s = dir_->Read(name, kMaxRecordBytes, &text);
  if (!s.ok() && s.err() == ENOENT) {
    out->reset();
    return platform::Status::Ok();
  }
  if (!s.ok()) return s;
  std::string error;
  auto record = ParseCredential(text, &error);
  if (!record) return platform::Status::Error(-1, dir_->path() + "/" + name + ": " + error);
  if (record->user != user) {
    return platform::Status::Error(-1, dir_->path() + "/" + name + ": /user: names '" +
                                           record->user + "', expected '" + std::string(user) +
                                           "'");
  }
  *out = std::move(record);
  return platform::Status::Ok();
}

platform::Status CredentialStore::Save(const CredentialRecord& record) {
  if (!ValidUserName(record.user)) return BadUser(record.user);
  const std::string text = SerializeCredential(record);
  // A record that would not load back would lock its user out: refuse it before it replaces a
  // good one.
  std::string error;
  if (!ParseCredential(text, &error)) {
    return platform::Status::Error(EINVAL,
                                   "credential of '" + record.user + "' not saved: " + error);
  }
  return dir_->WriteAtomic(RecordName(record.user), text, 0600);
}

platform::Status CredentialStore::Remove(std::string_view user) {
  if (!ValidUserName(user)) return BadUser(user);
  return dir_->Remove(RecordName(user));
}

}  // namespace mamori::agent
