#include "mamori/policy/text.h"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <charconv>
#include <cstdio>
#include <cstring>

namespace mamori::policy {
namespace {

bool ParseDigits(std::string_view text, std::size_t pos, std::size_t count, int* out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

std::optional<std::uint8_t> ParseHexByte(std::string_view text) {
  if (text.size() != 2) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + 2, value, 16);
  if (ec != std::errc() || end != text.data() + 2) return std::nullopt;
  return static_cast<std::uint8_t>(value);
}

}  // namespace

std::optional<Timestamp> ParseTimestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SSZ
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z') {
    return std::nullopt;
  }
  int y, mo, d, h, mi, s;
  if (!ParseDigits(text, 0, 4, &y) || !ParseDigits(text, 5, 2, &mo) ||
      !ParseDigits(text, 8, 2, &d) || !ParseDigits(text, 11, 2, &h) ||
      !ParseDigits(text, 14, 2, &mi) || !ParseDigits(text, 17, 2, &s)) {
    return std::nullopt;
  }
  // Leap seconds are not representable in sys_seconds; 23:59:60 is refused rather than guessed.
  if (y < 1970 || h > 23 || mi > 59 || s > 59) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{unsigned(mo)},
                                        std::chrono::day{unsigned(d)}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
         std::chrono::seconds{s};
}

std::string FormatTimestamp(Timestamp t) {
  const auto days = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{t - days};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()));
  return buf;
}

std::string_view ToString(UsbAction a) {
  switch (a) {
    case UsbAction::kBlock:
      return "block";
    case UsbAction::kReadOnly:
      return "read-only";
    case UsbAction::kAllow:
      return "allow";
    case UsbAction::kReject:
      return "reject";
  }
  return "block";
}

std::string_view ToString(AllowMode m) { return m == AllowMode::kAllow ? "allow" : "read-only"; }

std::string_view ToString(EnforcementMode m) {
  return m == EnforcementMode::kEnforce ? "enforce" : "audit";
}

std::optional<ClassPattern> ParseClassPattern(std::string_view text) {
  ClassPattern p;
  std::optional<std::uint8_t>* parts[] = {nullptr, &p.subclass, &p.protocol};
  std::size_t index = 0;
  while (true) {
    const std::size_t colon = text.find(':');
    const std::string_view part = text.substr(0, colon);
    if (index >= 3) return std::nullopt;
    if (part == "*") {
      if (index == 0) return std::nullopt;  // the class itself is never a wildcard
    } else {
      auto byte = ParseHexByte(part);
      if (!byte) return std::nullopt;
      if (index == 0) {
        p.cls = *byte;
      } else {
        *parts[index] = byte;
      }
    }
    ++index;
    if (colon == std::string_view::npos) break;
    text.remove_prefix(colon + 1);
  }
  // "08:*:50" would make a protocol meaningful without its subclass.
  if (!p.subclass && p.protocol) return std::nullopt;
  return p;
}

std::string FormatClassPattern(const ClassPattern& p) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02x", p.cls);
  std::string out = buf;
  if (p.subclass) {
    std::snprintf(buf, sizeof buf, ":%02x", *p.subclass);
    out += buf;
    if (p.protocol) {
      std::snprintf(buf, sizeof buf, ":%02x", *p.protocol);
      out += buf;
    }
  }
  return out;
}

std::optional<Cidr> ParseCidr(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 45) return std::nullopt;
  const std::string address(text.substr(0, slash));
  const std::string_view prefix_text = text.substr(slash + 1);
  unsigned prefix = 0;
  auto [end, ec] =
      std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
  if (prefix_text.empty() || ec != std::errc() || end != prefix_text.data() + prefix_text.size() ||
      (prefix_text.size() > 1 && prefix_text[0] == '0')) {
    return std::nullopt;
  }
  Cidr c;
  c.v6 = address.find(':') != std::string::npos;
  if (inet_pton(c.v6 ? AF_INET6 : AF_INET, address.c_str(), c.address) != 1) return std::nullopt;
  const unsigned bits = c.v6 ? 128 : 32;
  if (prefix > bits) return std::nullopt;
  c.prefix = static_cast<std::uint8_t>(prefix);
  for (unsigned bit = prefix; bit < bits; ++bit) {
    if (c.address[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;  // host bits set
  }
  return c;
}

std::string FormatCidr(const Cidr& c) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(c.v6 ? AF_INET6 : AF_INET, c.address, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(c.prefix);
}

std::string HexEncode(std::span<const unsigned char> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

std::optional<std::vector<unsigned char>> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<unsigned char> out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    auto byte = ParseHexByte(hex.substr(i, 2));
    if (!byte) return std::nullopt;
    out.push_back(*byte);
  }
  return out;
}

std::string Base64Encode(std::span<const unsigned char> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::vector<unsigned char>> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0 || text.size() > (1u << 24)) return std::nullopt;
  std::vector<unsigned char> out(3 * (text.size() / 4));
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes; drop them, and refuse padding anywhere else.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  if (text.substr(0, text.size() - padding).find('=') != std::string_view::npos) {
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(n) - padding);
  // Non-canonical encodings (stray bits in the last character) would let two strings name one key.
  if (Base64Encode(out) != text) return std::nullopt;
  return out;
}

}  // namespace mamori::policy
