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
// Writes `value` in one write(2); sysfs applies a store only when the whole value arrives at once.
Status WriteAttribute(const std::string& path, std::string_view value);
// Names in a directory, sorted, without "." and "..". A missing directory is an empty list.
Status ListDirectory(const std::string& path, std::vector<std::string>* names);
bool Exists(const std::string& path);
// The target of a symbolic link, as stored.
Status ReadLink(const std::string& path, std::string* target);

}  // namespace mamori::platform::sysfs
