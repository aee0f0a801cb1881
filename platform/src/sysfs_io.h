// Reading and writing sysfs attributes, with errors that name the path and the errno.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/platform/env.h"

namespace mamori::platform::sysfs {

// Reads a whole attribute of at most max_bytes; a longer attribute is an error, never cut short.
Status ReadAttribute(const std::string& path, std::size_t max_bytes, std::string* out);
// A text attribute with its trailing newline removed.
Status ReadText(const std::string& path, std::string* out);

// A sysfs directory held open, so that reading several of its attributes resolves the directory's
// path (and the symbolic links on it) once. Errors name `path`/attribute.
class Directory {
 public:
  static Status Open(const std::string& path, Directory* out);
  Directory() = default;
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;
  ~Directory();

  Status Read(std::string_view name, std::size_t max_bytes, std::string* out) const;
  Status ReadText(std::string_view name, std::string* out) const;
  const std::string& path() const { return path_; }  // with a trailing slash

 private:
  std::string path_;
  int fd_ = -1;
};
// Writes `value` in one write(2); sysfs applies a store only when the whole value arrives at once.
Status WriteAttribute(const std::string& path, std::string_view value);
// Names in a directory, sorted, without "." and "..". A missing directory is an empty list.
Status ListDirectory(const std::string& path, std::vector<std::string>* names);
bool Exists(const std::string& path);
// The target of a symbolic link, as stored.
Status ReadLink(const std::string& path, std::string* target);

}  // namespace mamori::platform::sysfs
