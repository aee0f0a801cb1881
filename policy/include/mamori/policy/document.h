// Parsing, validation and canonical serialization of policy documents.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/policy/model.h"

namespace mamori::policy {

inline constexpr std::size_t kMaxDocumentBytes = 1 << 20;
inline constexpr std::size_t kMaxRules = 10000;  // allow + class rules + reject combinations
inline constexpr std::size_t kMaxIdLength = 64;
inline constexpr std::size_t kMaxNameLength = 256;  // labels, serials, users, groups, targets
inline constexpr std::size_t kMaxListLength = 10000;

// One validation finding: a JSON Pointer (RFC 6901) into the document and what is wrong there.
struct ValidationError {
  std::string path;
  std::string message;
  std::string ToString() const { return (path.empty() ? "/" : path) + ": " + message; }
  friend bool operator==(const ValidationError&, const ValidationError&) = default;
};

struct ParseResult {
  std::optional<Policy> policy;  // set only when errors is empty
  std::vector<ValidationError> errors;
  bool ok() const { return policy.has_value(); }
};

// Parses and validates a policy document. Unknown fields, duplicate keys, wrong types and values
// out of range are all reported, each with its JSON path; nothing stops at the first error.
ParseResult ParsePolicy(std::string_view json_text);

// The canonical form: fixed key order, every field present with its defaults filled in, no
// insignificant whitespace, integers only. ParsePolicy(Canonicalize(p)) == p and the bytes are
// stable.
std::string Canonicalize(const Policy& policy);

// A human-friendly indented rendering of the canonical form, for `mamorictl policy show`.
std::string PrettyPrint(const Policy& policy);

}  // namespace mamori::policy
