// A directory held open by handle, for state that root keeps and nobody else may touch. Every
// operation is relative to the directory's descriptor (openat family), never follows a link, and
// replaces files atomically, so a path swapped or a link planted after opening changes nothing.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/platform/env.h"

namespace mamori::platform {

// An exclusive advisory lock on one file of a SecureDir, held until destruction. It serializes
// threads as well as processes, because each holder opens its own file description.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// A file opened for appending. Append writes whole and flushes to disk before it returns; Write
// and Sync are its two halves, so that a caller can overlap this file's flush with other work
// (another file's flush). Sync makes everything written before it durable, and may run on any
// thread while others Write.
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  Status Append(std::string_view data) {
    Status s = Write(data);
    return s.ok() ? Sync() : s;
  }
  virtual Status Write(std::string_view data) = 0;
  virtual Status Sync() = 0;
  // The file's size, and whether its name has been removed since it was opened (so a writer that
  // shares the directory with other processes can tell that someone else changed it).
  virtual Status Stat(std::uint64_t* size, bool* removed) = 0;
};

class SecureDir {
 public:
  virtual ~SecureDir() = default;

  // Opens `path` as a directory, creating it with `mode` when absent. Fails when it is a link, not
  // owned by the effective user, or writable by group or others.
  static Status Open(const std::string& path, mode_t mode, std::unique_ptr<SecureDir>* out);

  virtual const std::string& path() const = 0;

  // The same checks and creation as Open, for a subdirectory named `name`.
  virtual Status OpenSubdir(std::string_view name, mode_t mode,
                            std::unique_ptr<SecureDir>* out) = 0;

  // Reads a regular file of at most max_bytes. A missing file gives err() == ENOENT; a link gives
  // ELOOP.
  virtual Status Read(std::string_view name, std::size_t max_bytes, std::string* out) = 0;

  // Replaces `name` atomically: a fresh temp file (O_EXCL), write, fsync, rename, fsync of the
  // directory. On failure the old content is intact and the temp file is gone.
  virtual Status WriteAtomic(std::string_view name, std::string_view data, mode_t mode) = 0;

  // Like WriteAtomic, but fails with EEXIST when `name` exists: the file appears whole or not at
  // all.
  virtual Status CreateAtomic(std::string_view name, std::string_view data, mode_t mode) = 0;

  // The names of the regular files in the directory (links and subdirectories left out), sorted.
  virtual Status ListFiles(std::vector<std::string>* names) = 0;

  // Removes `name` and fsyncs the directory. Removing a missing file is not an error.
  virtual Status Remove(std::string_view name) = 0;

  // Takes the exclusive lock on `name` (created empty with mode 0600 when absent), waiting for it.
  virtual Status Lock(std::string_view name, std::unique_ptr<FileLock>* out) = 0;

  // Opens `name` for appending (created with `mode` when absent), and syncs the directory so that
  // the name is on disk before anything appended to it is.
  virtual Status OpenAppend(std::string_view name, mode_t mode,
                            std::unique_ptr<AppendFile>* out) = 0;
  // Opens `name`, which must exist, for appending, without syncing the directory: for files whose
  // name the caller made durable when it created them (WriteAtomic). ENOENT when absent.
  virtual Status OpenAppendExisting(std::string_view name, std::unique_ptr<AppendFile>* out) = 0;
};

}  // namespace mamori::platform
