// Documents and helpers shared by the policy unit tests.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/policy/document.h"

namespace mamori::policy::test {

namespace json = boost::json;

// The smallest valid document: only the required top-level fields.
inline json::object MinimalDocument() {
  return json::object{{"schema", 1},
                      {"version", 7},
                      {"issued_at", "2026-11-01T00:00:00Z"},
                      {"expires_at", "2027-03-31T15:00:00Z"},
                      {"targets", json::array{"*"}}};
}

inline std::string Text(const json::value& v) { return json::serialize(v); }

// The example of policy/README.md, verbatim.
inline constexpr std::string_view kReadmeExample = R"json({
  "schema": 1,
  "version": 7,
  "issued_at": "2026-11-01T00:00:00Z",
  "expires_at": "2027-03-31T15:00:00Z",
  "targets": ["shimin-ka", "zeimu-ka"],
  "usb": {
    "mode": "enforce",
    "default": "block",
    "allow": [
      {"id": "ledger-0012", "label": "媒体管理台帳 No.12", "vid": "0781", "pid": "5567",
       "serial": "4C530001230512116392", "interface_classes": ["08:06:50"], "mode": "read-only",
       "groups": ["zeimu-ka"], "not_after": "2026-12-31T08:30:00Z"}
    ],
    "channels": {"mmc": "block", "optical": "read-only", "thunderbolt": "block"}
  },
  "mfa": {"services": ["login", "gdm-password", "sshd"], "max_failures": 3},
  "compliance": {"report_interval_seconds": 300},
  "network": {"allowed_egress": ["10.20.0.0/16"]}
})json";

// "path: message" for every error, in order, so failures print readably.
inline std::vector<std::string> ErrorStrings(const std::vector<ValidationError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.ToString());
  return out;
}

inline std::vector<std::string> ErrorPaths(const std::vector<ValidationError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.path);
  return out;
}

// `count` minimal allow rules with ids r0, r1, ...
inline json::array AllowRules(std::size_t count) {
  json::array rules;
  rules.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    rules.push_back(json::object{{"id", "r" + std::to_string(i)}, {"vid", "0781"}});
  }
  return rules;
}

}  // namespace mamori::policy::test
