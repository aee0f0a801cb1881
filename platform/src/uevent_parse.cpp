#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <string_view>

#include "mamori/platform/uevent.h"

namespace mamori::platform {
namespace {

// libudev's monitor_netlink_header: an 8-byte prefix, then host-order fields except the magic.
constexpr std::string_view kLibudevPrefix{"libudev\0", 8};
constexpr std::uint32_t kLibudevMagic = 0xfeedcafe;
constexpr std::size_t kLibudevHeaderSize = 40;

std::uint32_t HostU32(std::span<const unsigned char> b, std::size_t at) {
  std::uint32_t v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

UeventParseResult Refuse(std::string why) { return {std::nullopt, std::move(why)}; }

bool ValidKey(std::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  for (char c : key) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// A devpath is used to name sysfs files: absolute, no empty, "." or ".." components.
bool ValidDevpath(std::string_view p) {
  if (p.size() < 2 || p.front() != '/' || p.back() == '/') return false;
  std::size_t start = 1;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    const std::string_view part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// Parses the NUL-separated KEY=VALUE block into `event` and checks the fields the guard relies on.
UeventParseResult ParseProperties(std::string_view block, Uevent event) {
  std::size_t pos = 0;
  while (pos < block.size()) {
    std::size_t end = block.find('\0', pos);
    if (end == std::string_view::npos) end = block.size();
    const std::string_view item = block.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Refuse("property without '=' at byte " + std::to_string(pos - item.size() - 1));
    }
    const std::string_view key = item.substr(0, eq);
    if (!ValidKey(key))
      return Refuse("invalid property name \"" + std::string(key.substr(0, 64)) + "\"");
    if (event.properties.size() == kMaxUeventProperties) {
      return Refuse("more than " + std::to_string(kMaxUeventProperties) + " properties");
    }
    if (!event.properties.emplace(key, item.substr(eq + 1)).second) {
      return Refuse("duplicate property " + std::string(key));
    }
  }
  auto get = [&](std::string_view key) -> std::string {
    auto it = event.properties.find(key);
    return it == event.properties.end() ? std::string() : it->second;
  };
  const std::string action = get("ACTION");
  const std::string devpath = get("DEVPATH");
  if (action.empty()) return Refuse("no ACTION");
  if (devpath.empty()) return Refuse("no DEVPATH");
  if (!event.action.empty() && (event.action != action || event.devpath != devpath)) {
    return Refuse("header \"" + event.action + "@" + event.devpath +
                  "\" disagrees with ACTION/DEVPATH");
  }
  if (!ValidDevpath(devpath)) return Refuse("invalid DEVPATH \"" + devpath + "\"");
  event.action = action;
  event.devpath = devpath;
  event.subsystem = get("SUBSYSTEM");
  event.devtype = get("DEVTYPE");
  event.devname = get("DEVNAME");
  if (event.subsystem.empty()) return Refuse("no SUBSYSTEM");
  // The kernel names the node relative to /dev, udev by its absolute path.
  if (event.devname.starts_with("/dev/")) event.devname.erase(0, 5);
  if (event.devname.find("..") != std::string::npos || event.devname.starts_with('/')) {
    return Refuse("invalid DEVNAME \"" + event.devname + "\"");
  }
  if (const std::string seq = get("SEQNUM"); !seq.empty()) {
    auto [end, ec] = std::from_chars(seq.data(), seq.data() + seq.size(), event.seqnum);
    if (ec != std::errc() || end != seq.data() + seq.size()) {
      return Refuse("invalid SEQNUM \"" + seq + "\"");
    }
  }
  return {std::move(event), {}};
}

}  // namespace

std::string_view Uevent::sysname() const {
  const auto slash = devpath.rfind('/');
  return slash == std::string::npos ? std::string_view(devpath)
                                    : std::string_view(devpath).substr(slash + 1);
}

UeventParseResult ParseUevent(std::span<const unsigned char> datagram) {
  if (datagram.size() > kMaxUeventBytes) {
    return Refuse("datagram of " + std::to_string(datagram.size()) + " bytes exceeds " +
                  std::to_string(kMaxUeventBytes));
  }
  const std::string_view bytes(reinterpret_cast<const char*>(datagram.data()), datagram.size());
  if (bytes.starts_with(kLibudevPrefix)) {
    if (bytes.size() < kLibudevHeaderSize) return Refuse("truncated libudev header");
    if (ntohl(HostU32(datagram, 8)) != kLibudevMagic) return Refuse("bad libudev magic");
    const std::uint64_t header_size = HostU32(datagram, 12);
    const std::uint64_t offset = HostU32(datagram, 16);
    const std::uint64_t length = HostU32(datagram, 20);
    if (header_size < kLibudevHeaderSize || offset < header_size || offset > bytes.size() ||
        length > bytes.size() - offset) {
      return Refuse("libudev properties (offset " + std::to_string(offset) + ", length " +
                    std::to_string(length) + ") outside the " + std::to_string(bytes.size()) +
                    "-byte datagram");
    }
    return ParseProperties(bytes.substr(offset, length), Uevent{});
  }
  // Kernel format: "ACTION@DEVPATH\0" then the properties.
  const auto nul = bytes.find('\0');
  if (nul == std::string_view::npos) return Refuse("kernel uevent without a NUL-terminated header");
  const std::string_view header = bytes.substr(0, nul);
  const auto at = header.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == header.size()) {
    return Refuse("kernel uevent header is not ACTION@DEVPATH");
  }
  Uevent event;
  event.action = header.substr(0, at);
  event.devpath = header.substr(at + 1);
  return ParseProperties(bytes.substr(nul + 1), std::move(event));
}

}  // namespace mamori::platform
