// Kernel device events (uevents) from the NETLINK_KOBJECT_UEVENT socket. Two wire formats reach
// such a socket: the kernel's own ("add@/devices/...\0KEY=VALUE\0...") and libudev's re-broadcast
// (a "libudev" header giving the offset and length of the KEY=VALUE\0 block). Both are accepted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "mamori/platform/env.h"

namespace mamori::platform {

// The kernel's uevent buffer is 2 KiB; libudev adds its own properties. Anything larger is refused.
inline constexpr std::size_t kMaxUeventBytes = 16 * 1024;
inline constexpr std::size_t kMaxUeventProperties = 128;

struct Uevent {
  std::string action;     // "add", "remove", "bind", "change", ...
  std::string devpath;    // "/devices/pci0000:00/0000:00:04.0/usb2/2-1"
  std::string subsystem;  // "usb", "block", ...
  std::string devtype;    // "usb_device", "usb_interface", "disk", "partition" or empty
  std::string devname;    // "sda", "bus/usb/002/003" or empty
  std::uint64_t seqnum = 0;
  std::map<std::string, std::string, std::less<>>
      properties;  // every KEY=VALUE, including the above

  // The last component of devpath: the sysfs name ("2-1", "sda1").
  std::string_view sysname() const;
};

struct UeventParseResult {
  std::optional<Uevent> event;
  std::string error;  // why the datagram was refused, when event is empty
};

// A pure function of the datagram bytes; never trusts a length or offset it did not check.
UeventParseResult ParseUevent(std::span<const unsigned char> datagram);

// Where a device guard takes its events from.
class UeventSource {
 public:
  enum class Result {
    kEvent,     // *event is filled
    kNone,      // nothing pending
    kOverflow,  // the kernel dropped events: the caller must re-read the whole device state
    kRejected,  // a datagram was refused; *error says why
  };
  virtual ~UeventSource() = default;
  // Never blocks.
  virtual Result Next(Uevent* event, std::string* error) = 0;
};

// Listens on the kernel's uevent multicast group (group 1), which needs no udev daemon. Only
// datagrams sent by the kernel (port id 0, credentials uid 0) are accepted.
class NetlinkUeventSource : public UeventSource {
 public:
  static Status Open(std::unique_ptr<NetlinkUeventSource>* out);
  ~NetlinkUeventSource() override;
  NetlinkUeventSource(const NetlinkUeventSource&) = delete;
  NetlinkUeventSource& operator=(const NetlinkUeventSource&) = delete;

  // For poll(2): readable when an event may be pending.
  int fd() const { return fd_; }
  Result Next(Uevent* event, std::string* error) override;

 private:
  explicit NetlinkUeventSource(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace mamori::platform
