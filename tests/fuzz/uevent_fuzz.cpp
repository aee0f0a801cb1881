// libFuzzer target for ParseUevent, the parser of datagrams from the kernel's uevent socket. Aborts
// when an accepted event is not a faithful, bounded reading of its input: fields that disagree
// with the properties, a devpath or devname that could leave sysfs or /dev, strings longer than the
// datagram, or an event that reads back differently through libudev's format.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/platform/uevent.h"

namespace {
using namespace mamori::platform;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "uevent_fuzz: %s\n%.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

std::string Property(const Uevent& e, std::string_view key) {
  const auto it = e.properties.find(key);
  return it == e.properties.end() ? std::string() : it->second;
}

// The same event as libudev re-broadcasts it: a 40-byte header, then the KEY=VALUE\0 block.
std::vector<unsigned char> AsLibudev(const Uevent& e) {
  std::string block;
  for (const auto& [key, value] : e.properties) block += key + "=" + value + '\0';
  std::vector<unsigned char> b(40 + block.size(), 0);
  std::memcpy(b.data(), "libudev", 8);
  const std::uint32_t magic = htonl(0xfeedcafe), header = 40,
                      length = static_cast<std::uint32_t>(block.size());
  std::memcpy(b.data() + 8, &magic, 4);
  std::memcpy(b.data() + 12, &header, 4);
  std::memcpy(b.data() + 16, &header, 4);
  std::memcpy(b.data() + 20, &length, 4);
  std::memcpy(b.data() + 40, block.data(), block.size());
  return b;
}

void CheckEvent(const Uevent& e, std::size_t input_size, std::string_view input) {
  if (e.properties.size() > kMaxUeventProperties) Fail("too many properties kept", input);
  std::size_t property_bytes = 0;
  for (const auto& [key, value] : e.properties) property_bytes += key.size() + 1 + value.size();
  if (property_bytes > input_size) Fail("properties larger than the datagram", input);
  for (const std::string* s : {&e.action, &e.devpath, &e.subsystem, &e.devtype, &e.devname}) {
    if (s->size() > input_size) Fail("a field is larger than the datagram", input);
  }
  if (e.action.empty() || e.devpath.empty() || e.subsystem.empty()) {
    Fail("an accepted event lacks ACTION, DEVPATH or SUBSYSTEM", input);
  }
  if (e.action != Property(e, "ACTION") || e.devpath != Property(e, "DEVPATH") ||
      e.subsystem != Property(e, "SUBSYSTEM") || e.devtype != Property(e, "DEVTYPE")) {
    Fail("a field disagrees with its property", input);
  }
  if (e.devpath.front() != '/' || e.devpath.find("/../") != std::string::npos ||
      e.devpath.ends_with("/..") || e.devpath.find("//") != std::string::npos) {
    Fail("an accepted devpath leaves sysfs", input);
  }
  const std::string_view sysname = e.sysname();
  if (sysname.empty() || sysname.find('/') != std::string_view::npos) {
    Fail("sysname is not one path component", input);
  }
  if (e.devname.starts_with('/') || e.devname.find("..") != std::string::npos) {
    Fail("an accepted devname leaves /dev", input);
  }
}

void CheckRoundTrip(const Uevent& e, std::string_view input) {
  const std::vector<unsigned char> again_bytes = AsLibudev(e);
  if (again_bytes.size() > kMaxUeventBytes) return;
  const UeventParseResult again = ParseUevent(again_bytes);
  if (!again.event) Fail("an accepted event is refused in libudev's format", again.error);
  const Uevent& a = *again.event;
  if (a.action != e.action || a.devpath != e.devpath || a.subsystem != e.subsystem ||
      a.devtype != e.devtype || a.devname != e.devname || a.seqnum != e.seqnum ||
      a.properties != e.properties) {
    Fail("an event reads back differently through libudev's format", input);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const unsigned char> bytes(data, size);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const UeventParseResult r = ParseUevent(bytes);
  if (r.event.has_value() == !r.error.empty()) Fail("event and error disagree", input);
  if (!r.event) return 0;
  if (size > kMaxUeventBytes) Fail("an oversized datagram is accepted", input);
  CheckEvent(*r.event, size, input);
  CheckRoundTrip(*r.event, input);
  return 0;
}
