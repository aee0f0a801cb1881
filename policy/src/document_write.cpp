// The canonical form of a policy: keys in the order of policy/README.md, every field present except
// unset allow-rule criteria, integers only, no whitespace. Signatures cover these exact bytes.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "mamori/policy/document.h"
#include "mamori/policy/text.h"

namespace mamori::policy {
namespace {
namespace json = boost::json;

json::string Str(std::string_view s) { return json::string(s.data(), s.size()); }

json::array StringList(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& s : items) a.emplace_back(Str(s));
  return a;
}

std::string Hex4(std::uint16_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return {kDigits[v >> 12], kDigits[(v >> 8) & 15], kDigits[(v >> 4) & 15], kDigits[v & 15]};
}

json::object AllowRuleValue(const AllowRule& r) {
  json::object o;
  o["id"] = Str(r.id);
  o["label"] = Str(r.label);
  if (r.vid) o["vid"] = Str(Hex4(*r.vid));
  if (r.pid) o["pid"] = Str(Hex4(*r.pid));
  if (r.serial) o["serial"] = Str(*r.serial);
  if (r.descriptor_hash) o["descriptor_hash"] = Str(*r.descriptor_hash);
  if (!r.interface_classes.empty()) {
    json::array classes;
    for (const auto& p : r.interface_classes) classes.emplace_back(Str(FormatClassPattern(p)));
    o["interface_classes"] = std::move(classes);
  }
  if (r.port) o["port"] = Str(*r.port);
  if (r.connect_type) o["connect_type"] = Str(*r.connect_type);
  o["mode"] = Str(ToString(r.mode));
  if (!r.users.empty()) o["users"] = StringList(r.users);
  if (!r.groups.empty()) o["groups"] = StringList(r.groups);
  if (r.not_after) o["not_after"] = Str(FormatTimestamp(*r.not_after));
  return o;
}

json::object UsbValue(const UsbPolicy& usb) {
  json::object o;
  o["mode"] = Str(ToString(usb.mode));
  o["default"] = Str(ToString(usb.default_action));
  json::array allow;
  for (const auto& r : usb.allow) allow.emplace_back(AllowRuleValue(r));
  o["allow"] = std::move(allow);
  json::array class_rules;
  for (const auto& r : usb.class_rules) {
    class_rules.emplace_back(json::object{{"id", Str(r.id)},
                                          {"class", Str(FormatClassPattern(r.pattern))},
                                          {"action", Str(ToString(r.action))}});
  }
  o["class_rules"] = std::move(class_rules);
  json::array combos;
  for (const auto& c : usb.reject_combinations) {
    json::array classes;
    for (std::uint8_t cls : c.classes) classes.emplace_back(Str(FormatClassPattern({cls, {}, {}})));
    combos.emplace_back(json::object{{"id", Str(c.id)}, {"classes", std::move(classes)}});
  }
  o["reject_combinations"] = std::move(combos);
  o["channels"] = json::object{{"mmc", Str(ToString(usb.channels.mmc))},
                               {"optical", Str(ToString(usb.channels.optical))},
                               {"thunderbolt", Str(ToString(usb.channels.thunderbolt))}};
  return o;
}

json::value PolicyValue(const Policy& p) {
  json::object o;
  o["schema"] = p.schema;
  o["version"] = p.version;
  o["issued_at"] = Str(FormatTimestamp(p.issued_at));
  o["expires_at"] = Str(FormatTimestamp(p.expires_at));
  o["targets"] = StringList(p.targets);
  o["usb"] = UsbValue(p.usb);
  o["mfa"] = json::object{
      {"users", StringList(p.mfa.users)},        {"groups", StringList(p.mfa.groups)},
      {"services", StringList(p.mfa.services)},  {"window_steps", p.mfa.window_steps},
      {"max_failures", p.mfa.max_failures},      {"lockout_seconds", p.mfa.lockout_seconds},
      {"deny_unenrolled", p.mfa.deny_unenrolled}};
  o["compliance"] = json::object{{"report_interval_seconds", p.compliance.report_interval_seconds},
                                 {"max_clock_skew_seconds", p.compliance.max_clock_skew_seconds}};
  o["reporting"] =
      json::object{{"snapshot_interval_seconds", p.reporting.snapshot_interval_seconds},
                   {"spool_max_mib", p.reporting.spool_max_mib},
                   {"retry_max_seconds", p.reporting.retry_max_seconds}};
  json::array egress;
  for (const auto& c : p.network.allowed_egress) egress.emplace_back(Str(FormatCidr(c)));
  o["network"] = json::object{{"allowed_egress", std::move(egress)}};
  return o;
}

void Indent(std::string& out, int depth) { out.append(static_cast<std::size_t>(depth) * 2, ' '); }

void Pretty(const json::value& v, std::string& out, int depth) {
  if (const json::object* o = v.if_object()) {
    if (o->empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    std::size_t i = 0;
    for (const auto& entry : *o) {
      Indent(out, depth + 1);
      out += json::serialize(json::value(entry.key()));
      out += ": ";
      Pretty(entry.value(), out, depth + 1);
      out += ++i < o->size() ? ",\n" : "\n";
    }
    Indent(out, depth);
    out += "}";
  } else if (const json::array* a = v.if_array()) {
    if (a->empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (std::size_t i = 0; i < a->size(); ++i) {
      Indent(out, depth + 1);
      Pretty((*a)[i], out, depth + 1);
      out += i + 1 < a->size() ? ",\n" : "\n";
    }
    Indent(out, depth);
    out += "]";
  } else {
    out += json::serialize(v);
  }
}

}  // namespace

std::string Canonicalize(const Policy& policy) { return json::serialize(PolicyValue(policy)); }

std::string PrettyPrint(const Policy& policy) {
  std::string out;
  Pretty(PolicyValue(policy), out, 0);
  out += "\n";
  return out;
}

}  // namespace mamori::policy
