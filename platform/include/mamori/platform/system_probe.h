// What the compliance checks read from the host: read-only evidence, never a change. Each method
// reports the raw facts; judging them against the policy is the agent's job. Paths are absolute
// host paths ("/etc/pam.d/login"); an implementation may serve them from another root (tests), and
// every error message names the host path and the reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "mamori/platform/env.h"

namespace mamori::platform {

// authorized_default of one USB root hub: 0 none, 1 all, 2 internal only; -1 when unreadable.
struct RootHubDefault {
  std::string hub;  // "usb1"
  int value = -1;
  std::string error;  // why the value is unreadable
};

// The kernel's view of its clock discipline, as adjtimex(2) reports it without changing anything.
struct ClockSync {
  bool unsynchronized = true;  // STA_UNSYNC set, or the clock state is TIME_ERROR
  long max_error_us = 0;       // the kernel's maximum error bound
  long est_error_us = 0;       // its estimated error
};

// One entry of the kernel's routing tables (/proc/net/route, /proc/net/ipv6_route).
struct Route {
  bool v6 = false;
  std::uint8_t destination[16] = {};  // network byte order; IPv4 uses the first 4 bytes
  std::uint8_t prefix = 0;
  std::string device;
  bool via_gateway = false;
  bool reject = false;  // RTF_REJECT: an unreachable / blackhole route, which grants nothing
  bool local = false;   // RTF_LOCAL: one of this host's own addresses (IPv6 local table)
};

// Security updates apt would install now, by its own resolver over its current lists.
struct SecurityUpdates {
  bool source_configured = false;  // lists of a "-security" suite exist
  std::time_t lists_time = 0;      // modification time of the newest security Release file
  std::vector<std::string> packages;
};

class SystemProbe {
 public:
  virtual ~SystemProbe() = default;

  // Root hubs and their authorized_default, sorted by hub name. *bus_present is false when the
  // host has no USB bus in sysfs at all (then the list is empty and the result Ok).
  virtual Status UsbRootHubDefaults(bool* bus_present, std::vector<RootHubDefault>* out) = 0;

  // A regular file (links followed: this is evidence, not state) of at most max_bytes. A missing
  // file gives err() == ENOENT.
  virtual Status ReadFile(const std::string& path, std::size_t max_bytes, std::string* out) = 0;
  // The target of a symbolic link as stored; ENOENT when absent, EINVAL when not a link.
  virtual Status ReadLink(const std::string& path, std::string* target) = 0;
  // Lowercase hex SHA-256 and MD5 of a regular file's content. An implementation may remember
  // the digests of a file whose identity (device, inode, size, modification and change times) is
  // unchanged since it last read it.
  virtual Status HashFile(const std::string& path, std::string* sha256, std::string* md5) = 0;
  // The path of the running program's executable.
  virtual Status SelfExecutable(std::string* path) = 0;
  // Whether systemd manages this host (as sd_booted(3): /run/systemd/system exists).
  virtual bool SystemdBooted() = 0;

  virtual Status ClockStatus(ClockSync* out) = 0;
  virtual Status Routes(std::vector<Route>* out) = 0;
  virtual Status PendingSecurityUpdates(SecurityUpdates* out) = 0;
};

// The Linux implementation. Files, links and routes are read below `root` ("" for the host);
// sysfs is read at `sysfs_root`. The clock, the executable and apt are always the host's.
std::unique_ptr<SystemProbe> NewLinuxSystemProbe(std::string root = "",
                                                 std::string sysfs_root = "/sys");

}  // namespace mamori::platform
