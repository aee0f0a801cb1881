// The only door to the operating system's files. Agent and collector code reach files through an
// Env so tests can substitute one and so every write follows the same safety rules: root never
// follows a link or reuses a name in a directory someone else could write, and a file is either
// wholly the old content or wholly the new content.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace mamori::platform {

// The outcome of an operation; the message names the file and the reason.
class Status {
 public:
  static Status Ok() { return Status(); }
  static Status Error(int err, std::string message) { return Status(err, std::move(message)); }
  bool ok() const { return err_ == 0; }
  int err() const { return err_; }  // an errno value, or -1 for a non-system error
  const std::string& message() const { return message_; }

 private:
  Status() = default;
  Status(int err, std::string message) : err_(err == 0 ? -1 : err), message_(std::move(message)) {}
  int err_ = 0;
  std::string message_;
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide Linux implementation.
  static Env& Default();

  // Reads a regular file (no links followed) of at most max_bytes.
  virtual Status ReadFile(const std::string& path, std::size_t max_bytes, std::string* out) = 0;
  // Like ReadFile, for a key: also refuses (EPERM) a file not owned by the effective user or
  // with any permission for group or others.
  virtual Status ReadPrivateFile(const std::string& path, std::size_t max_bytes,
                                 std::string* out) = 0;
  // Creates a file that must not exist yet (O_EXCL, O_NOFOLLOW) with `mode`, writes, fsyncs it and
  // its directory. An existing file is never overwritten.
  virtual Status CreateNewFile(const std::string& path, std::string_view data, mode_t mode) = 0;
  // Replaces `path` atomically: a new temp file in the same directory, fsync, rename, fsync of the
  // directory. On failure the old content is intact and no temp file is left.
  virtual Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) = 0;
  // Removes the name `path` (a link itself, never its target) and fsyncs its directory, so a step
  // that created a file can be undone when a later step of the same operation fails.
  virtual Status RemoveFile(const std::string& path) = 0;
};

}  // namespace mamori::platform
