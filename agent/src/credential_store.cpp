#include "mamori/agent/credential_store.h"

#include <errno.h>

#include <algorithm>

#include "mamori/agent/credential_state.h"

namespace mamori::agent {
namespace {

constexpr std::size_t kMaxRecordBytes = 64 * 1024;
// A log past this size is rewritten with its last record on the next save; a record is under 100
// bytes, so the log stays within a page or two.
constexpr std::size_t kCompactStateBytes = 4096;
constexpr std::size_t kMaxStateBytes = 64 * 1024;

std::string RecordName(std::string_view user) { return std::string(user) + ".cred"; }
std::string StateName(std::string_view user) { return std::string(user) + ".state"; }

CredentialCounters Counters(const CredentialRecord& r) {
  return {r.last_step, r.failures, r.locked_until};
}

// Reads the state log; a missing one is empty.
platform::Status ReadState(platform::SecureDir& dir, std::string_view user, std::string* text) {
  platform::Status s = dir.Read(StateName(user), kMaxStateBytes, text);
  if (!s.ok() && s.err() == ENOENT) {
    text->clear();
    return platform::Status::Ok();
  }
  return s;
}

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
  std::string log;
  s = ReadState(*dir_, user, &log);
  if (!s.ok()) return s;
  // A crash between the two writes of Save leaves the log older than the file: the accepted step
  // only ever grows, so the greater one is right; stale failure counters only fail closed.
  if (auto last = ScanStateLog(log).last) {
    record->last_step = std::max(record->last_step, last->last_step);
    record->failures = last->failures;
    record->locked_until = last->locked_until;
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
  platform::Status s = dir_->WriteAtomic(RecordName(record.user), text, 0600);
  if (!s.ok()) return s;
  return dir_->WriteAtomic(StateName(record.user), SerializeStateRecord(Counters(record)), 0600);
}

platform::Status CredentialStore::SaveState(const CredentialRecord& record) {
  std::shared_ptr<platform::AppendFile> unsynced;
  platform::Status s = WriteState(record, &unsynced);
  if (s.ok() && unsynced) s = unsynced->Sync();
  return s;
}

platform::Status CredentialStore::WriteState(const CredentialRecord& record,
                                             std::shared_ptr<platform::AppendFile>* unsynced) {
  unsynced->reset();
  if (!ValidUserName(record.user)) return BadUser(record.user);
  const std::string line = SerializeStateRecord(Counters(record));
  std::string log;
  platform::Status s = ReadState(*dir_, record.user, &log);
  if (!s.ok()) return s;
  // A new log needs its name synced as well; a torn tail would swallow the next record into its
  // line. Both, and a log grown past its bound, are replaced by the one current record.
  if (log.empty() || ScanStateLog(log).torn_tail || log.size() + line.size() > kCompactStateBytes) {
    return dir_->WriteAtomic(StateName(record.user), line, 0600);
  }
  std::unique_ptr<platform::AppendFile> file;
  // The log was created by WriteAtomic, which synced its name.
  s = dir_->OpenAppendExisting(StateName(record.user), &file);
  if (s.ok()) s = file->Write(line);
  if (s.ok()) *unsynced = std::move(file);
  return s;
}

platform::Status CredentialStore::Remove(std::string_view user) {
  if (!ValidUserName(user)) return BadUser(user);
  // The credential goes first: a log left behind without it is never read, and the next Save
  // replaces it.
  platform::Status s = dir_->Remove(RecordName(user));
  if (!s.ok()) return s;
  return dir_->Remove(StateName(user));
}

}  // namespace mamori::agent
