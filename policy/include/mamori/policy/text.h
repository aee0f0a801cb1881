// Text forms shared by the policy document, bundles and tools.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/policy/model.h"

namespace mamori::policy {

// RFC 3339 in UTC with whole seconds only ("2026-11-23T09:00:00Z"); the one form the policy
// accepts.
std::optional<Timestamp> ParseTimestamp(std::string_view text);
std::string FormatTimestamp(Timestamp t);

std::string_view ToString(UsbAction a);
std::string_view ToString(AllowMode m);
std::string_view ToString(EnforcementMode m);

// "08", "08:06", "08:06:50"; "*" parts are wildcards. Hex is two lowercase or uppercase digits.
std::optional<ClassPattern> ParseClassPattern(std::string_view text);
std::string FormatClassPattern(const ClassPattern& p);

// "10.0.0.0/8" or "fd00::/8"; host bits must be zero.
std::optional<Cidr> ParseCidr(std::string_view text);
std::string FormatCidr(const Cidr& c);

std::string HexEncode(std::span<const unsigned char> bytes);
std::optional<std::vector<unsigned char>> HexDecode(std::string_view hex);
std::string Base64Encode(std::span<const unsigned char> bytes);
std::optional<std::vector<unsigned char>> Base64Decode(std::string_view text);

}  // namespace mamori::policy
