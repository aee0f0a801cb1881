// Decides what happens to a USB device under a policy: allow, read-only, block or reject, and which
// rule said so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/policy/model.h"

namespace mamori::policy {

struct InterfaceClass {
  std::uint8_t cls = 0;
  std::uint8_t subclass = 0;
  std::uint8_t protocol = 0;
};

struct DeviceDescription {
  std::uint16_t vid = 0;
  std::uint16_t pid = 0;
  std::string serial;           // empty when the device has none
  std::string descriptor_hash;  // lowercase hex SHA-256 of the raw descriptors
  std::vector<InterfaceClass> interfaces;
  std::string port;                 // e.g. "2-1.4"
  std::string connect_type;         // "hotplug", "hardwired", "fixed", "unknown" or empty
  std::optional<std::string> user;  // the user at the console, when known
  std::vector<std::string> groups;
};

inline constexpr std::string_view kDefaultRuleId = "default";

struct Decision {
  UsbAction action = UsbAction::kBlock;
  std::string rule_id;      // the matching rule's id, or kDefaultRuleId
  bool audit_only = false;  // the policy is in audit mode: record, do not enforce
};

// Order: a rejected interface combination first, then allow rules in order, then class rules (when
// every interface is covered), then the default action. A rule that names users or groups matches
// only when the console user is known and listed; an expired rule (not_after <= now) never matches.
Decision MatchDevice(const UsbPolicy& usb, const DeviceDescription& device, Timestamp now);

}  // namespace mamori::policy
