#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fd.h"
#include "mamori/platform/secure_dir.h"

namespace mamori::platform {
namespace {

Status Errno(int err, const std::string& what) {
  return Status::Error(err, what + ": " + std::strerror(err));
}

// One path component: no separators, nothing that walks out of the directory.
bool ValidName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos && name.size() < 256;
}

Status CheckDirectory(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Errno(errno, "stat " + path);
  if (!S_ISDIR(st.st_mode)) return Status::Error(ENOTDIR, path + ": not a directory");
  if (st.st_uid != ::geteuid()) {
    return Status::Error(EPERM, path + ": owned by uid " + std::to_string(st.st_uid) +
                                    ", expected " + std::to_string(::geteuid()));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status::Error(EPERM, path + ": writable by group or others");
  }
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(errno, "write " + path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

class LinuxFileLock : public FileLock {
 public:
  explicit LinuxFileLock(int fd) : fd_(fd) {}
  // Closing the descriptor releases the flock.
 private:
  Fd fd_;
};

class LinuxAppendFile : public AppendFile {
 public:
  LinuxAppendFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status Write(std::string_view data) override { return WriteAll(fd_.get(), data, path_); }
  Status Sync() override {
    if (::fdatasync(fd_.get()) != 0) return Errno(errno, "fdatasync " + path_);
    return Status::Ok();
  }
  Status Stat(std::uint64_t* size, bool* removed) override {
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) return Errno(errno, "stat " + path_);
    *size = static_cast<std::uint64_t>(st.st_size);
    *removed = st.st_nlink == 0;
    return Status::Ok();
  }

 private:
  Fd fd_;
  std::string path_;
};

class LinuxSecureDir : public SecureDir {
 public:
  LinuxSecureDir(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  const std::string& path() const override { return path_; }

  Status OpenSubdir(std::string_view name, mode_t mode, std::unique_ptr<SecureDir>* out) override {
    if (!ValidName(name)) return BadName(name);
    return OpenAt(fd_.get(), std::string(name), Child(name), mode, out);
  }

  static Status OpenAt(int parent, const std::string& name, const std::string& path, mode_t mode,
                       std::unique_ptr<SecureDir>* out) {
    if (::mkdirat(parent, name.c_str(), mode) != 0 && errno != EEXIST) {
      return Errno(errno, "mkdir " + path);
    }
    int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Errno(errno, "open directory " + path);
    auto dir = std::make_unique<LinuxSecureDir>(fd, path);
    Status s = CheckDirectory(fd, path);
    if (!s.ok()) return s;
    *out = std::move(dir);
    return Status::Ok();
  }

  Status Read(std::string_view name, std::size_t max_bytes, std::string* out) override {
    if (!ValidName(name)) return BadName(name);
    const std::string path = Child(name);
    Fd fd(::openat(fd_.get(), std::string(name).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) return Errno(errno, "open " + path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return Errno(errno, "stat " + path);
    if (!S_ISREG(st.st_mode)) return Status::Error(EINVAL, path + ": not a regular file");
    if (static_cast<std::size_t>(st.st_size) > max_bytes) {
      return Status::Error(EFBIG, path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    std::string data(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < data.size()) {
      ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno(errno, "read " + path);
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    *out = std::move(data);
    return Status::Ok();
  }

  Status WriteAtomic(std::string_view name, std::string_view data, mode_t mode) override {
    return Replace(name, data, mode, /*no_replace=*/false);
  }

  Status CreateAtomic(std::string_view name, std::string_view data, mode_t mode) override {
    return Replace(name, data, mode, /*no_replace=*/true);
  }

  Status ListFiles(std::vector<std::string>* names) override {
    names->clear();
    // A second descriptor of the same directory: readdir moves the position of the one it reads.
    const int fd = ::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno(errno, "list " + path_);
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      const int err = errno;
      ::close(fd);
      return Errno(err, "list " + path_);
    }
    errno = 0;
    while (dirent* entry = ::readdir(dir)) {
      bool regular = entry->d_type == DT_REG;
      if (entry->d_type == DT_UNKNOWN) {
        struct stat st;
        regular =
            ::fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
      }
      if (regular) names->emplace_back(entry->d_name);
      errno = 0;
    }
    const int err = errno;
    ::closedir(dir);
    if (err != 0) return Errno(err, "list " + path_);
    std::sort(names->begin(), names->end());
    return Status::Ok();
  }

  Status Remove(std::string_view name) override {
    if (!ValidName(name)) return BadName(name);
    if (::unlinkat(fd_.get(), std::string(name).c_str(), 0) != 0) {
      if (errno == ENOENT) return Status::Ok();
      return Errno(errno, "remove " + Child(name));
    }
    return SyncDir();
  }

  Status Lock(std::string_view name, std::unique_ptr<FileLock>* out) override {
    if (!ValidName(name)) return BadName(name);
    int fd = ::openat(fd_.get(), std::string(name).c_str(),
                      O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return Errno(errno, "open lock " + Child(name));
    auto lock = std::make_unique<LinuxFileLock>(fd);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) return Errno(errno, "lock " + Child(name));
    }
    *out = std::move(lock);
    return Status::Ok();
  }

  Status OpenAppend(std::string_view name, mode_t mode, std::unique_ptr<AppendFile>* out) override {
    Status s = Append(name, O_CREAT, mode, out);
    // The file's name must reach the disk too, whoever created it.
    if (s.ok()) s = SyncDir();
    if (!s.ok()) out->reset();
    return s;
  }

  Status OpenAppendExisting(std::string_view name, std::unique_ptr<AppendFile>* out) override {
    return Append(name, 0, 0, out);
  }

 private:
  std::string Child(std::string_view name) const { return path_ + "/" + std::string(name); }

  Status Append(std::string_view name, int create, mode_t mode, std::unique_ptr<AppendFile>* out) {
    if (!ValidName(name)) return BadName(name);
    const std::string path = Child(name);
    const int fd = ::openat(fd_.get(), std::string(name).c_str(),
                            O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | create, mode);
    if (fd < 0) return Errno(errno, "open " + path);
    auto file = std::make_unique<LinuxAppendFile>(fd, path);
    struct stat st;
    if (::fstat(fd, &st) != 0) return Errno(errno, "stat " + path);
    if (!S_ISREG(st.st_mode)) return Status::Error(EINVAL, path + ": not a regular file");
    *out = std::move(file);
    return Status::Ok();
  }

  Status BadName(std::string_view name) const {
    return Status::Error(EINVAL, path_ + ": invalid file name '" + std::string(name) + "'");
  }

  Status SyncDir() {
    if (::fsync(fd_.get()) != 0) return Errno(errno, "fsync " + path_);
    return Status::Ok();
  }

  Status Replace(std::string_view name, std::string_view data, mode_t mode, bool no_replace) {
    if (!ValidName(name)) return BadName(name);
    const std::string target(name);
    const std::string path = Child(name);
    unsigned char rnd[8];
    if (::getrandom(rnd, sizeof rnd, 0) != static_cast<ssize_t>(sizeof rnd)) {
      return Errno(errno, "getrandom for temp name of " + path);
    }
    char suffix[17];
    for (int i = 0; i < 8; ++i) std::snprintf(suffix + 2 * i, 3, "%02x", rnd[i]);
    const std::string tmp = "." + target + ".tmp." + suffix;
    Fd fd(::openat(fd_.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   mode));
    if (fd.get() < 0) return Errno(errno, "create temp file for " + path);
    Status s = WriteAll(fd.get(), data, path);
    // The umask may have narrowed the mode; the caller's mode is the contract.
    if (s.ok() && ::fchmod(fd.get(), mode) != 0) s = Errno(errno, "chmod " + path);
    if (s.ok() && ::fsync(fd.get()) != 0) s = Errno(errno, "fsync " + path);
    if (s.ok()) {
      int rc = no_replace ? ::renameat2(fd_.get(), tmp.c_str(), fd_.get(), target.c_str(),
                                        RENAME_NOREPLACE)
                          : ::renameat(fd_.get(), tmp.c_str(), fd_.get(), target.c_str());
      if (rc != 0) s = Errno(errno, "rename into " + path);
    }
    if (!s.ok()) {
      ::unlinkat(fd_.get(), tmp.c_str(), 0);
      return s;
    }
    return SyncDir();
  }

  Fd fd_;
  std::string path_;
};

}  // namespace

Status SecureDir::Open(const std::string& path, mode_t mode, std::unique_ptr<SecureDir>* out) {
  if (path.empty()) return Status::Error(EINVAL, "empty directory path");
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const std::size_t slash = trimmed.rfind('/');
  std::string parent = slash == std::string::npos ? "." : trimmed.substr(0, slash == 0 ? 1 : slash);
  std::string name = slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
  if (!ValidName(name)) return Status::Error(EINVAL, path + ": not a usable directory path");
  Fd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (parent_fd.get() < 0) return Errno(errno, "open directory " + parent);
  return LinuxSecureDir::OpenAt(parent_fd.get(), name, trimmed, mode, out);
}

}  // namespace mamori::platform
