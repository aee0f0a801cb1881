// What the collector checks of a pushed bundle. It holds no signing key and no trust set, so it
// checks form, not trust: terminals verify signatures against their pinned keys.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace mamori::collector {

struct BundleInfo {
  std::uint64_t version = 0;
  std::string hash;  // policy::PolicyHash of the policy bytes
  std::uint32_t report_interval_seconds = 0;
};

// A well-formed bundle: the envelope of the right format, a valid policy in canonical form and
// 1 to 16 signatures each with a 32-hex key id and a 64-byte Ed25519 signature. Otherwise an
// error naming the field.
std::variant<BundleInfo, std::string> InspectBundle(std::string_view bundle_json);

}  // namespace mamori::collector
