#include "sysfs_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fd.h"

namespace mamori::platform::sysfs {
namespace {

Status Errno(std::string_view what, const std::string& path, int err) {
  return Status::Error(err, std::string(what) + " " + path + ": " + std::strerror(err) +
                                " (errno " + std::to_string(err) + ")");
}

// Reads the attribute open on `fd`. sysfs hands out at most a page per read and a whole text
// attribute in the first one, so a read shorter than the buffer is the end: no second read(2).
Status ReadOpen(int fd, const std::string& path, std::size_t max_bytes, std::string* out) {
  out->clear();
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read", path, errno);
    }
    if (out->size() + static_cast<std::size_t>(n) > max_bytes) {
      out->clear();
      return Status::Error(
          EFBIG, "read " + path + ": longer than " + std::to_string(max_bytes) + " bytes");
    }
    out->append(buffer, static_cast<std::size_t>(n));
    if (static_cast<std::size_t>(n) < sizeof buffer) return Status::Ok();
  }
}

void DropNewline(std::string* text) {
  if (!text->empty() && text->back() == '\n') text->pop_back();
}

constexpr int kReadFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;

}  // namespace

Status ReadAttribute(const std::string& path, std::size_t max_bytes, std::string* out) {
  Fd fd(::open(path.c_str(), kReadFlags));
  if (fd.get() < 0) return Errno("open", path, errno);
  return ReadOpen(fd.get(), path, max_bytes, out);
}

Status ReadText(const std::string& path, std::string* out) {
  Status s = ReadAttribute(path, 4096, out);
  if (s.ok()) DropNewline(out);
  return s;
}

Status Directory::Open(const std::string& path, Directory* out) {
  const int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path, errno);
  if (out->fd_ >= 0) ::close(out->fd_);
  out->fd_ = fd;
  out->path_ = path.ends_with('/') ? path : path + "/";
  return Status::Ok();
}

Directory::~Directory() {
  if (fd_ >= 0) ::close(fd_);
}

Status Directory::Read(std::string_view name, std::size_t max_bytes, std::string* out) const {
  const std::string attribute(name);
  Fd fd(::openat(fd_, attribute.c_str(), kReadFlags));
  if (fd.get() < 0) return Errno("open", path_ + attribute, errno);
  return ReadOpen(fd.get(), path_ + attribute, max_bytes, out);
}

Status Directory::ReadText(std::string_view name, std::string* out) const {
  Status s = Read(name, 4096, out);
  if (s.ok()) DropNewline(out);
  return s;
}

Status WriteAttribute(const std::string& path, std::string_view value) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_TRUNC));
  if (fd.get() < 0) return Errno("open", path, errno);
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Errno("write", path, errno);
  if (static_cast<std::size_t>(n) != value.size()) {
    return Status::Error(EIO, "write " + path + ": short write of " + std::to_string(n) + " of " +
                                  std::to_string(value.size()) + " bytes");
  }
  return Status::Ok();
}

Status ListDirectory(const std::string& path, std::vector<std::string>* names) {
  names->clear();
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return Status::Ok();
    return Errno("opendir", path, errno);
  }
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names->emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return Errno("readdir", path, err);
  std::sort(names->begin(), names->end());
  return Status::Ok();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status ReadLink(const std::string& path, std::string* target) {
  char buffer[4096];
  ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
  if (n < 0) return Errno("readlink", path, errno);
  if (static_cast<std::size_t>(n) == sizeof buffer) {
    return Status::Error(ENAMETOOLONG, "readlink " + path + ": target too long");
  }
  target->assign(buffer, static_cast<std::size_t>(n));
  return Status::Ok();
}

}  // namespace mamori::platform::sysfs
