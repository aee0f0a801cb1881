// The Linux Env. Every file is reached relative to a descriptor of its parent directory opened
// without following a final link, so a name planted by someone else is refused rather than written
// through, and every write is made durable (file and directory fsync) before it is reported done.
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fd.h"
#include "mamori/platform/env.h"

namespace mamori::platform {
namespace {

Status SysError(const std::string& path, std::string_view what, int err) {
  return Status::Error(err, path + ": " + std::string(what) + ": " + std::strerror(err));
}

struct SplitPath {
  std::string dir;
  std::string base;
};

// "a/b/c" -> {"a/b", "c"}; "c" -> {".", "c"}; "/c" -> {"/", "c"}. The last component must name a
// file.
bool Split(const std::string& path, SplitPath* out) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    out->dir = ".";
    out->base = path;
  } else {
    out->dir = slash == 0 ? "/" : path.substr(0, slash);
    out->base = path.substr(slash + 1);
  }
  return !out->base.empty() && out->base != "." && out->base != "..";
}

Status OpenParent(const std::string& path, SplitPath* parts, int* dir_fd) {
  if (!Split(path, parts)) return Status::Error(EINVAL, path + ": not a file name");
  *dir_fd = ::open(parts->dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (*dir_fd < 0) return SysError(path, "cannot open directory " + parts->dir, errno);
  return Status::Ok();
}

int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

// Sets the exact mode (the umask must not widen or narrow it), writes, syncs and closes `fd`.
Status FillFile(const std::string& path, Fd& fd, std::string_view data, mode_t mode) {
  if (::fchmod(fd.get(), mode) != 0) return SysError(path, "cannot set mode", errno);
  if (int err = WriteAll(fd.get(), data)) return SysError(path, "cannot write", err);
  if (::fsync(fd.get()) != 0) return SysError(path, "cannot sync", errno);
  if (int err = fd.Close()) return SysError(path, "cannot close", err);
  return Status::Ok();
}

Status SyncDir(const std::string& path, int dir_fd, const std::string& dir) {
  if (::fsync(dir_fd) != 0) return SysError(path, "cannot sync directory " + dir, errno);
  return Status::Ok();
}

std::string TempName(const std::string& base) {
  unsigned char random[8];
  std::size_t got = 0;
  while (got < sizeof random) {
    ssize_t n = ::getrandom(random + got, sizeof random - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // O_EXCL still guarantees the name is ours; a collision only costs a retry
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "." + base + ".tmp-";
  for (unsigned char b : random) {
    name += kHex[b >> 4];
    name += kHex[b & 0xf];
  }
  return name;
}

class LinuxEnv final : public Env {
 public:
  Status ReadFile(const std::string& path, std::size_t max_bytes, std::string* out) override {
    return Read(path, max_bytes, false, out);
  }

  Status ReadPrivateFile(const std::string& path, std::size_t max_bytes,
                         std::string* out) override {
    return Read(path, max_bytes, true, out);
  }

  Status Read(const std::string& path, std::size_t max_bytes, bool owner_only, std::string* out) {
    // O_NONBLOCK so that a FIFO planted under the name cannot hang the reader before fstat refuses
    // it.
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (fd.get() < 0) {
      if (errno == ELOOP) return SysError(path, "refusing to follow a symbolic link", ELOOP);
      return SysError(path, "cannot open", errno);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return SysError(path, "cannot stat", errno);
    if (!S_ISREG(st.st_mode)) return Status::Error(EINVAL, path + ": not a regular file");
    if (owner_only && (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)) {
      return Status::Error(EPERM, path + ": must be owned by uid " + std::to_string(::geteuid()) +
                                      " with no access for group or others (mode 0600)");
    }
    if (static_cast<std::uintmax_t>(st.st_size) > max_bytes) return TooLarge(path, max_bytes);
    std::string data;
    data.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    // One byte past the limit detects a file that grew after fstat.
    for (;;) {
      if (got == data.size()) {
        if (data.size() > max_bytes) return TooLarge(path, max_bytes);
        data.resize(data.size() + 1);
      }
      ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
      if (n < 0) {
        if (errno == EINTR) continue;
        return SysError(path, "cannot read", errno);
      }
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    *out = std::move(data);
    return Status::Ok();
  }

  Status CreateNewFile(const std::string& path, std::string_view data, mode_t mode) override {
    SplitPath parts;
    int raw_dir = -1;
    if (Status s = OpenParent(path, &parts, &raw_dir); !s.ok()) return s;
    Fd dir(raw_dir);
    // O_EXCL also refuses a symbolic link (even a dangling one) under the name.
    Fd fd(::openat(dir.get(), parts.base.c_str(),
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (fd.get() < 0) return SysError(path, "cannot create", errno);
    Status s = FillFile(path, fd, data, mode);
    if (s.ok()) s = SyncDir(path, dir.get(), parts.dir);
    if (!s.ok()) ::unlinkat(dir.get(), parts.base.c_str(), 0);
    return s;
  }

  Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) override {
    SplitPath parts;
    int raw_dir = -1;
    if (Status s = OpenParent(path, &parts, &raw_dir); !s.ok()) return s;
    Fd dir(raw_dir);
    std::string temp;
    int raw_fd = -1;
    for (int attempt = 0; attempt < 8 && raw_fd < 0; ++attempt) {
      temp = TempName(parts.base);
      raw_fd = ::openat(dir.get(), temp.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (raw_fd < 0 && errno != EEXIST) break;
    }
    if (raw_fd < 0) return SysError(path, "cannot create temporary file", errno);
    Fd fd(raw_fd);
    Status s = FillFile(path, fd, data, mode);
    // renameat replaces the name itself: a link under `path` is replaced, its target never written.
    if (s.ok() && ::renameat(dir.get(), temp.c_str(), dir.get(), parts.base.c_str()) != 0) {
      s = SysError(path, "cannot replace", errno);
    }
    if (!s.ok()) {
      ::unlinkat(dir.get(), temp.c_str(), 0);
      return s;
    }
    // The new content is in place; a failed directory sync leaves only its durability in doubt.
    return SyncDir(path, dir.get(), parts.dir);
  }

  Status RemoveFile(const std::string& path) override {
    SplitPath parts;
    int raw_dir = -1;
    if (Status s = OpenParent(path, &parts, &raw_dir); !s.ok()) return s;
    Fd dir(raw_dir);
    if (::unlinkat(dir.get(), parts.base.c_str(), 0) != 0) {
      return SysError(path, "cannot remove", errno);
    }
    return SyncDir(path, dir.get(), parts.dir);
  }

 private:
  static Status TooLarge(const std::string& path, std::size_t max_bytes) {
    return Status::Error(EFBIG, path + ": larger than the limit of " + std::to_string(max_bytes) +
                                    " bytes: " + std::strerror(EFBIG));
  }
};

}  // namespace

Env& Env::Default() {
  // Never destroyed: code running during exit may still write through it.
  static LinuxEnv* const env = new LinuxEnv;
  return *env;
}

}  // namespace mamori::platform
