#include "route_tables.h"

#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace mamori::platform {
namespace {

constexpr unsigned kRtfGateway = 0x0002;
constexpr unsigned kRtfReject = 0x0200;
constexpr unsigned kRtfLocal = 0x80000000;

template <typename T>
bool ParseHex(std::string_view text, T* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

Status BadLine(const std::string& path, int number, std::string_view why) {
  return Status::Error(EINVAL, path + ": line " + std::to_string(number) + ": " + std::string(why));
}

template <typename Handler>
Status ForEachLine(std::string_view text, Handler handler) {
  int number = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++number;
    const auto fields = Fields(line);
    if (fields.empty()) continue;
    Status s = handler(number, fields);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Status ParseIpv4Routes(std::string_view text, const std::string& path, std::vector<Route>* out) {
  return ForEachLine(text, [&](int number, const std::vector<std::string_view>& f) {
    if (number == 1) return Status::Ok();  // the header
    std::uint32_t destination = 0, flags = 0, mask = 0;
    if (f.size() < 8 || !ParseHex(f[1], &destination) || !ParseHex(f[3], &flags) ||
        !ParseHex(f[7], &mask)) {
      return BadLine(path, number, "expected Iface Destination Gateway Flags ... Mask in hex");
    }
    // The kernel prints the in-memory (network order) word as a native integer: copying the
    // native integer back gives the network-order bytes on any byte order.
    std::uint8_t mask_bytes[4];
    std::memcpy(mask_bytes, &mask, 4);
    const std::uint32_t host_mask = (std::uint32_t{mask_bytes[0]} << 24) |
                                    (std::uint32_t{mask_bytes[1]} << 16) |
                                    (std::uint32_t{mask_bytes[2]} << 8) | mask_bytes[3];
    if (std::countl_one(host_mask) + std::countr_zero(host_mask) != 32 && host_mask != 0) {
      return BadLine(path, number, "mask is not a prefix");
    }
    Route r;
    std::memcpy(r.destination, &destination, 4);
    r.prefix = static_cast<std::uint8_t>(std::countl_one(host_mask));
    r.device = std::string(f[0]);
    r.via_gateway = (flags & kRtfGateway) != 0;
    r.reject = (flags & kRtfReject) != 0;
    out->push_back(std::move(r));
    return Status::Ok();
  });
}

Status ParseIpv6Routes(std::string_view text, const std::string& path, std::vector<Route>* out) {
  return ForEachLine(text, [&](int number, const std::vector<std::string_view>& f) {
    Route r;
    r.v6 = true;
    unsigned prefix = 0, flags = 0;
    bool ok = f.size() == 10 && f[0].size() == 32 && ParseHex(f[1], &prefix) && prefix <= 128 &&
              ParseHex(f[8], &flags);
    for (int i = 0; ok && i < 16; ++i) {
      ok = ParseHex(f[0].substr(static_cast<std::size_t>(2 * i), 2), &r.destination[i]);
    }
    if (!ok) return BadLine(path, number, "expected dest prefix src src_prefix hop metric ... dev");
    r.prefix = static_cast<std::uint8_t>(prefix);
    r.device = std::string(f[9]);
    r.via_gateway = (flags & kRtfGateway) != 0;
    r.reject = (flags & kRtfReject) != 0;
    r.local = (flags & kRtfLocal) != 0;
    out->push_back(std::move(r));
    return Status::Ok();
  });
}

}  // namespace mamori::platform
