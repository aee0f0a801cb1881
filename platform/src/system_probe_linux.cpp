// The Linux SystemProbe: plain reads of files, sysfs, adjtimex(2) and the routing tables in /proc.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "fd.h"
#include "mamori/platform/system_probe.h"
#include "mamori/platform/usb_bus.h"
#include "route_tables.h"
#include "security_updates.h"
#include "sysfs_io.h"

namespace mamori::platform {
namespace {

Status SysError(std::string_view what, const std::string& path, int err) {
  return Status::Error(err, std::string(what) + " " + path + ": " + std::strerror(err));
}

std::string Hex(const unsigned char* bytes, unsigned size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

class LinuxSystemProbe : public SystemProbe {
 public:
  LinuxSystemProbe(std::string root, std::string sysfs_root)
      : root_(std::move(root)), sysfs_root_(std::move(sysfs_root)) {}

  Status UsbRootHubDefaults(bool* bus_present, std::vector<RootHubDefault>* out) override {
    out->clear();
    *bus_present = sysfs::Exists(sysfs_root_ + "/bus/usb");
    if (!*bus_present) return Status::Ok();
    std::vector<std::string> hubs;
    Status s = NewSysfsUsbBus(sysfs_root_)->ListRootHubs(&hubs);
    if (!s.ok()) return s;
    for (const std::string& hub : hubs) {
      RootHubDefault entry;
      entry.hub = hub;
      std::string text;
      s = sysfs::ReadText(sysfs_root_ + "/bus/usb/devices/" + hub + "/authorized_default", &text);
      if (!s.ok()) {
        entry.error = s.message();
      } else if (text == "0" || text == "1" || text == "2") {
        entry.value = text[0] - '0';
      } else {
        entry.error = hub + "/authorized_default: unexpected value \"" + text + "\"";
      }
      out->push_back(std::move(entry));
    }
    return Status::Ok();
  }

  Status ReadFile(const std::string& path, std::size_t max_bytes, std::string* out) override {
    Fd fd(::open((root_ + path).c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return SysError("open", path, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return SysError("stat", path, errno);
    if (!S_ISREG(st.st_mode)) return Status::Error(EINVAL, path + ": not a regular file");
    out->clear();
    char buffer[8192];
    for (;;) {
      ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return SysError("read", path, errno);
      if (n == 0) return Status::Ok();
      if (out->size() + static_cast<std::size_t>(n) > max_bytes) {
        out->clear();
        return Status::Error(EFBIG, path + ": larger than " + std::to_string(max_bytes) + " bytes");
      }
      out->append(buffer, static_cast<std::size_t>(n));
    }
  }

  Status ReadLink(const std::string& path, std::string* target) override {
    return ReadLinkAt(root_ + path, path, target);
  }

  Status HashFile(const std::string& path, std::string* sha256, std::string* md5) override {
    Fd fd(::open((root_ + path).c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return SysError("open", path, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return SysError("stat", path, errno);
    if (!S_ISREG(st.st_mode)) return Status::Error(EINVAL, path + ": not a regular file");
    const FileIdentity identity{st.st_dev,         st.st_ino,          st.st_size,
                                st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ctim.tv_sec,
                                st.st_ctim.tv_nsec};
    {
      std::lock_guard<std::mutex> guard(hash_mu_);
      if (auto it = hashes_.find(path); it != hashes_.end() && it->second.identity == identity) {
        *sha256 = it->second.sha256;
        *md5 = it->second.md5;
        return Status::Ok();
      }
    }
    DigestContext a(EVP_MD_CTX_new(), EVP_MD_CTX_free), b(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!a || !b || EVP_DigestInit_ex(a.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestInit_ex(b.get(), EVP_md5(), nullptr) != 1) {
      return Status::Error(-1, path + ": digest setup failed");
    }
    unsigned char buffer[65536];
    for (;;) {
      ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return SysError("read", path, errno);
      if (n == 0) break;
      EVP_DigestUpdate(a.get(), buffer, static_cast<std::size_t>(n));
      EVP_DigestUpdate(b.get(), buffer, static_cast<std::size_t>(n));
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned size = 0;
    if (EVP_DigestFinal_ex(a.get(), digest, &size) != 1)
      return Status::Error(-1, path + ": sha256");
    *sha256 = Hex(digest, size);
    if (EVP_DigestFinal_ex(b.get(), digest, &size) != 1) return Status::Error(-1, path + ": md5");
    *md5 = Hex(digest, size);
    std::lock_guard<std::mutex> guard(hash_mu_);
    hashes_[path] = {identity, *sha256, *md5};
    return Status::Ok();
  }

  Status SelfExecutable(std::string* path) override {
    return ReadLinkAt("/proc/self/exe", "/proc/self/exe", path);
  }

  bool SystemdBooted() override {
    struct stat st;
    return ::lstat((root_ + "/run/systemd/system").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  Status ClockStatus(ClockSync* out) override {
    struct timex tx;
    std::memset(&tx, 0, sizeof tx);  // modes = 0: read only
    const int state = ::adjtimex(&tx);
    if (state < 0) return SysError("adjtimex", "(kernel clock)", errno);
    out->unsynchronized = (tx.status & STA_UNSYNC) != 0 || state == TIME_ERROR;
    out->max_error_us = tx.maxerror;
    out->est_error_us = tx.esterror;
    return Status::Ok();
  }

  Status Routes(std::vector<Route>* out) override {
    out->clear();
    std::string text;
    Status s = ReadFile("/proc/net/route", kMaxRouteTableBytes, &text);
    if (!s.ok()) return s;
    s = ParseIpv4Routes(text, "/proc/net/route", out);
    if (!s.ok()) return s;
    // A kernel without IPv6 has no such table, and then no IPv6 route either.
    s = ReadFile("/proc/net/ipv6_route", kMaxRouteTableBytes, &text);
    if (!s.ok()) return s.err() == ENOENT ? Status::Ok() : s;
    return ParseIpv6Routes(text, "/proc/net/ipv6_route", out);
  }

  // apt's resolver costs seconds of CPU, and the agent asks at every report: the answer is kept
  // until dpkg's status or apt's lists change.
  Status PendingSecurityUpdates(SecurityUpdates* out) override {
    const AptState state{ModificationTime(root_ + "/var/lib/dpkg/status"),
                         ModificationTime(root_ + "/var/lib/apt/lists")};
    std::lock_guard<std::mutex> lock(apt_mu_);
    if (apt_cached_ && state == apt_state_) {
      *out = apt_answer_;
      return Status::Ok();
    }
    Status s = QuerySecurityUpdates(root_, out);
    apt_cached_ = s.ok();
    if (s.ok()) {
      apt_state_ = state;
      apt_answer_ = *out;
    }
    return s;
  }

 private:
  static Status ReadLinkAt(const std::string& real, const std::string& shown, std::string* target) {
    char buffer[4096];
    ssize_t n = ::readlink(real.c_str(), buffer, sizeof buffer);
    if (n < 0) return SysError("readlink", shown, errno);
    if (static_cast<std::size_t>(n) == sizeof buffer) {
      return Status::Error(ENAMETOOLONG, "readlink " + shown + ": target too long");
    }
    target->assign(buffer, static_cast<std::size_t>(n));
    return Status::Ok();
  }

  using AptState = std::pair<std::int64_t, std::int64_t>;
  static std::int64_t ModificationTime(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return -1;
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }

  // Hashing the agent binary on every compliance run costs more than the rest of the catalogue;
  // a file keeps its digest while its inode, size and times are unchanged (a rewrite in place
  // changes mtime and ctime, a replacement changes the inode).
  struct FileIdentity {
    dev_t dev;
    ino_t ino;
    off_t size;
    time_t mtime_s;
    long mtime_ns;
    time_t ctime_s;
    long ctime_ns;
    bool operator==(const FileIdentity&) const = default;
  };
  struct CachedHash {
    FileIdentity identity;
    std::string sha256;
    std::string md5;
  };

  const std::string root_;
  const std::string sysfs_root_;
  std::mutex hash_mu_;
  std::map<std::string, CachedHash> hashes_;
  std::mutex apt_mu_;
  bool apt_cached_ = false;
  AptState apt_state_;
  SecurityUpdates apt_answer_;
};

}  // namespace

std::unique_ptr<SystemProbe> NewLinuxSystemProbe(std::string root, std::string sysfs_root) {
  return std::make_unique<LinuxSystemProbe>(std::move(root), std::move(sysfs_root));
}

}  // namespace mamori::platform
