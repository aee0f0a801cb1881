// 6(3)①, export: default deny on every root hub, and what the applied USB rules allow.
#include "checks.h"
#include "mamori/policy/text.h"

namespace mamori::agent::compliance {

Verdict UsbGuard(const ComplianceInputs& in, platform::SystemProbe& probe) {
  bool bus_present = false;
  std::vector<platform::RootHubDefault> hubs;
  platform::Status s = probe.UsbRootHubDefaults(&bus_present, &hubs);
  if (!s.ok()) return {kError, s.message()};
  if (!bus_present) return {kNotApplicable, "no USB bus on this host (/sys/bus/usb absent)"};
  if (hubs.empty()) return {kNotApplicable, "USB bus present but no root hub"};
  std::string values;
  std::vector<std::string> open, unreadable;
  for (const auto& h : hubs) {
    if (!values.empty()) values += ' ';
    if (h.value < 0) {
      values += h.hub + "=?";
      unreadable.push_back(h.error);
      continue;
    }
    values += h.hub + "=" + std::to_string(h.value);
    // The guard sets 0 and the policy model has no setting that admits internal devices (2).
    if (h.value != 0) open.push_back(h.hub);
  }
  if (!open.empty()) return {kFail, values + " (devices authorized without a decision)"};
  if (!unreadable.empty()) return {kError, values + ": " + unreadable.front()};
  if (!in.guard_enforcing) return {kError, values + "; agent state not known to this caller"};
  if (!*in.guard_enforcing) return {kFail, values + "; device guard not running in enforce mode"};
  return {kPass, values + "; guard enforcing"};
}

Verdict UsbRules(const ComplianceInputs& in, platform::SystemProbe&) {
  const policy::UsbPolicy& usb = in.policy.usb;
  std::size_t allow = 0, read_only = 0;
  for (const auto& rule : usb.allow) {
    (rule.mode == policy::AllowMode::kReadOnly ? read_only : allow)++;
  }
  std::string observed = "mode=" + std::string(policy::ToString(usb.mode)) +
                         " default=" + std::string(policy::ToString(usb.default_action)) +
                         " allow=" + std::to_string(allow) +
                         " read-only=" + std::to_string(read_only) +
                         " mmc=" + std::string(policy::ToString(usb.channels.mmc)) +
                         " optical=" + std::string(policy::ToString(usb.channels.optical)) +
                         " thunderbolt=" + std::string(policy::ToString(usb.channels.thunderbolt));
  std::vector<std::string> open;
  if (usb.mode == policy::EnforcementMode::kAudit) open.push_back("audit mode blocks nothing");
  if (usb.default_action == policy::UsbAction::kAllow) open.push_back("unknown devices allowed");
  const std::pair<const char*, policy::UsbAction> channels[] = {
      {"mmc", usb.channels.mmc},
      {"optical", usb.channels.optical},
      {"thunderbolt", usb.channels.thunderbolt}};
  for (const auto& [name, action] : channels) {
    if (action == policy::UsbAction::kAllow) open.push_back(std::string(name) + " writable");
  }
  if (!open.empty()) return {kFail, observed + " (" + JoinLimited(open, 4) + ")"};
  return {kPass, observed};
}

}  // namespace mamori::agent::compliance
