// The policy document v1: what administrators push to terminals. Field meanings, defaults and
// limits are specified in policy/README.md; this header is the in-memory form after validation.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mamori::policy {

using Timestamp = std::chrono::sys_seconds;

inline constexpr std::uint64_t kSchemaVersion = 1;

// What happens to a USB device (or other removable channel).
enum class UsbAction { kBlock, kReadOnly, kAllow, kReject };
// An allow rule grants either full access or read-only access.
enum class AllowMode { kAllow, kReadOnly };
// Enforce applies decisions; audit records what would have happened and blocks nothing.
enum class EnforcementMode { kEnforce, kAudit };

// A USB interface class triple pattern; an unset part is a wildcard.
struct ClassPattern {
  std::uint8_t cls = 0;
  std::optional<std::uint8_t> subclass;
  std::optional<std::uint8_t> protocol;
  friend bool operator==(const ClassPattern&, const ClassPattern&) = default;
};

struct AllowRule {
  std::string id;
  std::string label;
  std::optional<std::uint16_t> vid;
  std::optional<std::uint16_t> pid;
  std::optional<std::string> serial;
  std::optional<std::string> descriptor_hash;   // lowercase hex SHA-256 of the sysfs descriptors
  std::vector<ClassPattern> interface_classes;  // empty: any; else every interface must match one
  std::optional<std::string> port;              // sysfs port path, e.g. "1-2.4"
  std::optional<std::string> connect_type;      // "hotplug", "hardwired", "fixed", "unknown"
  AllowMode mode = AllowMode::kAllow;
  std::vector<std::string> users;  // empty with groups empty: any user
  std::vector<std::string> groups;
  std::optional<Timestamp> not_after;
  friend bool operator==(const AllowRule&, const AllowRule&) = default;
};

// Decides a device all of whose interfaces match class rules (keyboards, hubs).
struct ClassRule {
  std::string id;
  ClassPattern pattern;
  UsbAction action = UsbAction::kAllow;  // kAllow or kBlock
  friend bool operator==(const ClassRule&, const ClassRule&) = default;
};

// A device carrying interfaces of every listed class at once is rejected (BadUSB).
struct RejectCombination {
  std::string id;
  std::vector<std::uint8_t> classes;  // at least two interface classes
  friend bool operator==(const RejectCombination&, const RejectCombination&) = default;
};

struct Channels {
  UsbAction mmc = UsbAction::kBlock;          // kBlock, kReadOnly or kAllow
  UsbAction optical = UsbAction::kBlock;      // kBlock, kReadOnly or kAllow
  UsbAction thunderbolt = UsbAction::kBlock;  // kBlock or kAllow
  friend bool operator==(const Channels&, const Channels&) = default;
};

struct UsbPolicy {
  EnforcementMode mode = EnforcementMode::kEnforce;
  UsbAction default_action = UsbAction::kBlock;  // kBlock, kReadOnly or kAllow
  std::vector<AllowRule> allow;
  // Keyboards, mice and hubs keep working under default deny.
  std::vector<ClassRule> class_rules{{"hid", {0x03, {}, {}}, UsbAction::kAllow},
                                     {"hub", {0x09, {}, {}}, UsbAction::kAllow}};
  // Mass storage that is also a keyboard, a modem or a network adapter is a BadUSB device.
  std::vector<RejectCombination> reject_combinations{{"badusb-hid", {0x08, 0x03}},
                                                     {"badusb-comms", {0x08, 0x02}},
                                                     {"badusb-cdc-data", {0x08, 0x0a}},
                                                     {"badusb-wireless", {0x08, 0xe0}}};
  Channels channels;
  friend bool operator==(const UsbPolicy&, const UsbPolicy&) = default;
};

struct MfaPolicy {
  std::vector<std::string> users{"*"};
  std::vector<std::string> groups;
  std::vector<std::string> services{"*"};
  std::uint32_t window_steps = 1;
  std::uint32_t max_failures = 5;
  std::uint32_t lockout_seconds = 900;
  bool deny_unenrolled = true;
  friend bool operator==(const MfaPolicy&, const MfaPolicy&) = default;
};

struct CompliancePolicy {
  std::uint32_t report_interval_seconds = 300;
  std::uint32_t max_clock_skew_seconds = 60;
  friend bool operator==(const CompliancePolicy&, const CompliancePolicy&) = default;
};

struct ReportingPolicy {
  std::uint32_t snapshot_interval_seconds = 3600;
  std::uint32_t spool_max_mib = 64;
  std::uint32_t retry_max_seconds = 300;
  friend bool operator==(const ReportingPolicy&, const ReportingPolicy&) = default;
};

// An IPv4 or IPv6 network in CIDR form, kept as the canonical text ("10.1.0.0/16").
struct Cidr {
  bool v6 = false;
  std::uint8_t address[16] = {};
  std::uint8_t prefix = 0;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

struct NetworkPolicy {
  std::vector<Cidr> allowed_egress;
  friend bool operator==(const NetworkPolicy&, const NetworkPolicy&) = default;
};

struct Policy {
  std::uint64_t schema = kSchemaVersion;
  std::uint64_t version = 0;
  Timestamp issued_at{};
  Timestamp expires_at{};
  std::vector<std::string> targets;
  UsbPolicy usb;
  MfaPolicy mfa;
  CompliancePolicy compliance;
  ReportingPolicy reporting;
  NetworkPolicy network;
  friend bool operator==(const Policy&, const Policy&) = default;
};

}  // namespace mamori::policy
