#include "mamori/policy/usb_match.h"

#include <algorithm>

namespace mamori::policy {
namespace {

bool PatternMatches(const ClassPattern& p, const InterfaceClass& c) {
  return p.cls == c.cls && (!p.subclass || *p.subclass == c.subclass) &&
         (!p.protocol || *p.protocol == c.protocol);
}

bool HasClass(const DeviceDescription& d, std::uint8_t cls) {
  return std::any_of(d.interfaces.begin(), d.interfaces.end(),
                     [cls](const InterfaceClass& c) { return c.cls == cls; });
}

bool Listed(const std::vector<std::string>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

bool UserMatches(const AllowRule& rule, const DeviceDescription& d) {
  if (rule.users.empty() && rule.groups.empty()) return true;
  // A rule bound to people never matches when nobody is known to be at the console.
  if (!d.user) return false;
  if (Listed(rule.users, *d.user)) return true;
  return std::any_of(d.groups.begin(), d.groups.end(),
                     [&](const std::string& g) { return Listed(rule.groups, g); });
}

bool AllowMatches(const AllowRule& rule, const DeviceDescription& d, Timestamp now) {
  if (rule.not_after && *rule.not_after <= now) return false;
  if (rule.vid && *rule.vid != d.vid) return false;
  if (rule.pid && *rule.pid != d.pid) return false;
  if (rule.serial && *rule.serial != d.serial) return false;
  if (rule.descriptor_hash && *rule.descriptor_hash != d.descriptor_hash) return false;
  if (rule.port && *rule.port != d.port) return false;
  if (rule.connect_type && *rule.connect_type != d.connect_type) return false;
  if (!rule.interface_classes.empty()) {
    // Every interface must be one the rule expects: a stick that grows a keyboard is another
    // device.
    if (d.interfaces.empty()) return false;
    for (const auto& c : d.interfaces) {
      if (std::none_of(rule.interface_classes.begin(), rule.interface_classes.end(),
                       [&](const ClassPattern& p) { return PatternMatches(p, c); })) {
        return false;
      }
    }
  }
  return UserMatches(rule, d);
}

}  // namespace

Decision MatchDevice(const UsbPolicy& usb, const DeviceDescription& device, Timestamp now) {
  Decision decision;
  decision.audit_only = usb.mode == EnforcementMode::kAudit;
  for (const auto& combo : usb.reject_combinations) {
    if (std::all_of(combo.classes.begin(), combo.classes.end(),
                    [&](std::uint8_t cls) { return HasClass(device, cls); })) {
      decision.action = UsbAction::kReject;
      decision.rule_id = combo.id;
      return decision;
    }
  }
  for (const auto& rule : usb.allow) {
    if (AllowMatches(rule, device, now)) {
      decision.action = rule.mode == AllowMode::kAllow ? UsbAction::kAllow : UsbAction::kReadOnly;
      decision.rule_id = rule.id;
      return decision;
    }
  }
  // Class rules decide only a device all of whose interfaces they cover; the most restrictive
  // covering rule wins, and the first such rule names the decision.
  if (!device.interfaces.empty()) {
    const ClassRule* deciding = nullptr;
    bool covered = true;
    for (const auto& c : device.interfaces) {
      const ClassRule* first = nullptr;
      for (const auto& rule : usb.class_rules) {
        if (PatternMatches(rule.pattern, c)) {
          first = &rule;
          break;
        }
      }
      if (first == nullptr) {
        covered = false;
        break;
      }
      if (deciding == nullptr ||
          (first->action == UsbAction::kBlock && deciding->action != UsbAction::kBlock)) {
        deciding = first;
      }
    }
    if (covered && deciding != nullptr) {
      decision.action = deciding->action;
      decision.rule_id = deciding->id;
      return decision;
    }
  }
  decision.action = usb.default_action;
  decision.rule_id = std::string(kDefaultRuleId);
  return decision;
}

}  // namespace mamori::policy
