// Validation of policy documents; every rule here is specified in policy/README.md.
#include <algorithm>
#include <map>
#include <set>

#include "json_reader.h"
#include "mamori/policy/document.h"
#include "mamori/policy/text.h"

namespace mamori::policy {
namespace {
namespace json = boost::json;
using detail::Errors;
using detail::JoinPath;
using detail::ObjectReader;

bool IsRuleIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':';
}

class PolicyParser {
 public:
  explicit PolicyParser(std::vector<ValidationError>& errors) : e_(errors) {}

  Policy Parse(const json::value& root) {
    Policy p;
    ObjectReader r(e_, root, "");
    if (auto* v = r.Field("schema", true)) {
      if (auto n = detail::ReadUnsigned(e_, *v, "/schema", 0, UINT64_MAX)) {
        if (*n == kSchemaVersion) {
          p.schema = *n;
        } else {
          e_.Add("/schema", "unsupported schema " + std::to_string(*n) + "; this version reads " +
                                std::to_string(kSchemaVersion));
        }
      }
    }
    if (auto* v = r.Field("version", true)) {
      if (auto n = detail::ReadUnsigned(e_, *v, "/version", 1, UINT64_MAX)) p.version = *n;
    }
    bool times_ok = true;
    if (auto* v = r.Field("issued_at", true)) {
      times_ok &= Time(*v, "/issued_at", &p.issued_at);
    }
    if (auto* v = r.Field("expires_at", true)) {
      times_ok &= Time(*v, "/expires_at", &p.expires_at);
    }
    if (times_ok && r.valid() && root.as_object().contains("issued_at") &&
        root.as_object().contains("expires_at") && p.expires_at <= p.issued_at) {
      e_.Add("/expires_at", "must be later than issued_at (" + FormatTimestamp(p.issued_at) + ")");
    }
    if (auto* v = r.Field("targets", true)) {
      p.targets = Names(*v, "/targets", kMaxListLength, /*allow_empty_list=*/false);
    }
    if (auto* v = r.Field("usb")) Usb(*v, &p.usb);
    if (auto* v = r.Field("mfa")) Mfa(*v, &p.mfa);
    if (auto* v = r.Field("compliance")) Compliance(*v, &p.compliance);
    if (auto* v = r.Field("reporting")) Reporting(*v, &p.reporting);
    if (auto* v = r.Field("network")) Network(*v, &p.network);
    r.Finish();
    return p;
  }

 private:
  bool Time(const json::value& v, const std::string& path, Timestamp* out) {
    if (!v.is_string()) {
      e_.Add(path, "expected an RFC 3339 UTC time such as \"2026-04-01T00:00:00Z\", got " +
                       detail::Describe(v));
      return false;
    }
    auto t = ParseTimestamp(std::string_view(v.get_string().data(), v.get_string().size()));
    if (!t) {
      e_.Add(path, "expected an RFC 3339 UTC time such as \"2026-04-01T00:00:00Z\", got " +
                       detail::Describe(v));
      return false;
    }
    *out = *t;
    return true;
  }

  // A list of distinct names (users, groups, services, targets).
  std::vector<std::string> Names(const json::value& v, const std::string& path,
                                 std::size_t max_items, bool allow_empty_list = true) {
    std::vector<std::string> out;
    const json::array* a = detail::ReadArray(e_, v, path, max_items);
    if (a == nullptr) return out;
    if (a->empty() && !allow_empty_list) {
      e_.Add(path, "must name at least one entry (omit the field to mean any)");
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < a->size(); ++i) {
      const std::string item_path = JoinPath(path, i);
      auto s = detail::ReadString(e_, (*a)[i], item_path, kMaxNameLength);
      if (!s) continue;
      if (!seen.insert(*s).second) {
        e_.Add(item_path, "duplicate entry \"" + *s + "\"");
        continue;
      }
      out.push_back(std::move(*s));
    }
    return out;
  }

  std::optional<std::string> RuleId(ObjectReader& r) {
    const json::value* v = r.Field("id", true);
    if (v == nullptr) return std::nullopt;
    const std::string path = JoinPath(r.path(), "id");
    auto id = detail::ReadString(e_, *v, path, kMaxIdLength);
    if (!id) return std::nullopt;
    if (!std::all_of(id->begin(), id->end(), IsRuleIdChar)) {
      e_.Add(path, "may contain only letters, digits and - _ . :, got \"" + *id + "\"");
      return std::nullopt;
    }
    if (*id == "default") {
      e_.Add(path, "\"default\" is reserved for the policy's default action");
      return std::nullopt;
    }
    if (auto it = default_ids_.find(*id); it != default_ids_.end()) {
      e_.Add(path, "rule id \"" + *id + "\" is taken by the default " + it->second +
                       "; choose another or give " + it->second + " explicitly");
      return std::nullopt;
    }
    if (!rule_ids_.insert(*id).second) {
      e_.Add(path, "duplicate rule id \"" + *id + "\"");
      return std::nullopt;
    }
    return id;
  }

  void ReserveDefaultId(const std::string& id, std::string_view list) {
    default_ids_.emplace(id, std::string(list));
    ++rule_count_;
  }

  std::optional<std::uint16_t> HexId(const json::value& v, const std::string& path) {
    const bool ok = v.is_string() && v.get_string().size() == 4 &&
                    std::all_of(v.get_string().begin(), v.get_string().end(), [](char c) {
                      return std::isxdigit(static_cast<unsigned char>(c));
                    });
    if (!ok) {
      e_.Add(path, "expected 4 hex digits, got " + detail::Describe(v));
      return std::nullopt;
    }
    return static_cast<std::uint16_t>(std::stoul(std::string(v.get_string().c_str()), nullptr, 16));
  }

  std::optional<ClassPattern> Pattern(const json::value& v, const std::string& path) {
    std::optional<ClassPattern> p;
    if (v.is_string()) {
      p = ParseClassPattern(std::string_view(v.get_string().data(), v.get_string().size()));
    }
    if (!p) {
      e_.Add(path, "expected a class pattern such as \"08\", \"08:06\" or \"08:06:50\", got " +
                       detail::Describe(v));
    }
    return p;
  }

  std::optional<std::uint8_t> ClassByte(const json::value& v, const std::string& path) {
    if (v.is_string() && v.get_string().size() == 2) {
      auto p = ParseClassPattern(std::string_view(v.get_string().data(), 2));
      if (p) return p->cls;
    }
    e_.Add(path, "expected an interface class as 2 hex digits, got " + detail::Describe(v));
    return std::nullopt;
  }

  void AllowRuleAt(const json::value& v, const std::string& path, UsbPolicy* usb) {
    ObjectReader r(e_, v, path);
    AllowRule rule;
    auto id = RuleId(r);
    if (auto* f = r.Field("label")) {
      if (auto s = detail::ReadString(e_, *f, path + "/label", kMaxNameLength, true)) {
        rule.label = *s;
      }
    }
    if (auto* f = r.Field("vid")) rule.vid = HexId(*f, path + "/vid");
    if (auto* f = r.Field("pid")) rule.pid = HexId(*f, path + "/pid");
    if (auto* f = r.Field("serial")) {
      rule.serial = detail::ReadString(e_, *f, path + "/serial", kMaxNameLength);
    }
    if (auto* f = r.Field("descriptor_hash")) {
      const bool ok = f->is_string() && f->get_string().size() == 64 &&
                      HexDecode(std::string_view(f->get_string().data(), 64)).has_value();
      if (ok) {
        std::string hash(f->get_string().c_str());
        std::transform(hash.begin(), hash.end(), hash.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        rule.descriptor_hash = hash;
      } else {
        e_.Add(path + "/descriptor_hash",
               "expected a SHA-256 as 64 hex digits, got " + detail::Describe(*f));
      }
    }
    if (auto* f = r.Field("interface_classes")) {
      if (const json::array* a = detail::ReadArray(e_, *f, path + "/interface_classes", 32)) {
        if (a->empty()) e_.Add(path + "/interface_classes", "must name at least one entry");
        for (std::size_t i = 0; i < a->size(); ++i) {
          if (auto p = Pattern((*a)[i], JoinPath(path + "/interface_classes", i))) {
            rule.interface_classes.push_back(*p);
          }
        }
      }
    }
    if (auto* f = r.Field("port")) {
      rule.port = detail::ReadString(e_, *f, path + "/port", kMaxIdLength);
      if (rule.port && rule.port->find_first_not_of("0123456789-.") != std::string::npos) {
        e_.Add(path + "/port",
               "expected a USB port path such as \"1-2.4\", got \"" + *rule.port + "\"");
      }
    }
    if (auto* f = r.Field("connect_type")) {
      static constexpr std::string_view kTypes[] = {"hotplug", "hardwired", "fixed", "unknown"};
      if (auto i = detail::ReadEnum(e_, *f, path + "/connect_type",
                                    {kTypes[0], kTypes[1], kTypes[2], kTypes[3]})) {
        rule.connect_type = std::string(kTypes[*i]);
      }
    }
    if (auto* f = r.Field("mode")) {
      if (auto i = detail::ReadEnum(e_, *f, path + "/mode", {"allow", "read-only"})) {
        rule.mode = *i == 0 ? AllowMode::kAllow : AllowMode::kReadOnly;
      }
    }
    // An empty list would read as "nobody" to a person and as "anybody" to the matcher: refused.
    if (auto* f = r.Field("users")) {
      rule.users = Names(*f, path + "/users", kMaxListLength, /*allow_empty_list=*/false);
    }
    if (auto* f = r.Field("groups")) {
      rule.groups = Names(*f, path + "/groups", kMaxListLength, /*allow_empty_list=*/false);
    }
    if (auto* f = r.Field("not_after")) {
      Timestamp t;
      if (Time(*f, path + "/not_after", &t)) rule.not_after = t;
    }
    r.Finish();
    if (!r.valid()) return;
    const auto& o = v.get_object();
    if (!o.contains("vid") && !o.contains("descriptor_hash")) {
      e_.Add(path, "an allow rule must name vid or descriptor_hash");
    }
    if ((o.contains("pid") || o.contains("serial")) && !o.contains("vid")) {
      e_.Add(path, "pid and serial need vid");
    }
    if (id) {
      rule.id = *id;
      usb->allow.push_back(std::move(rule));
    }
  }

  void ClassRuleAt(const json::value& v, const std::string& path, UsbPolicy* usb) {
    ObjectReader r(e_, v, path);
    ClassRule rule;
    auto id = RuleId(r);
    std::optional<ClassPattern> pattern;
    if (auto* f = r.Field("class", true)) pattern = Pattern(*f, path + "/class");
    if (auto* f = r.Field("action", true)) {
      if (auto i = detail::ReadEnum(e_, *f, path + "/action", {"allow", "block"})) {
        rule.action = *i == 0 ? UsbAction::kAllow : UsbAction::kBlock;
      }
    }
    r.Finish();
    if (id && pattern) {
      rule.id = *id;
      rule.pattern = *pattern;
      usb->class_rules.push_back(std::move(rule));
    }
  }

  void CombinationAt(const json::value& v, const std::string& path, UsbPolicy* usb) {
    ObjectReader r(e_, v, path);
    RejectCombination combo;
    auto id = RuleId(r);
    bool ok = true;
    if (auto* f = r.Field("classes", true)) {
      if (const json::array* a = detail::ReadArray(e_, *f, path + "/classes", 16)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
          auto c = ClassByte((*a)[i], JoinPath(path + "/classes", i));
          if (!c) {
            ok = false;
          } else if (std::find(combo.classes.begin(), combo.classes.end(), *c) !=
                     combo.classes.end()) {
            e_.Add(JoinPath(path + "/classes", i), "duplicate class");
            ok = false;
          } else {
            combo.classes.push_back(*c);
          }
        }
        if (ok && combo.classes.size() < 2) {
          e_.Add(path + "/classes", "a combination needs at least two classes");
          ok = false;
        }
      }
    }
    r.Finish();
    if (id && ok) {
      combo.id = *id;
      usb->reject_combinations.push_back(std::move(combo));
    }
  }

  template <typename Fn>
  void Rules(ObjectReader& r, std::string_view name, Fn fn) {
    const json::value* f = r.Field(name);
    if (f == nullptr) return;
    const std::string path = JoinPath(r.path(), name);
    const json::array* a = detail::ReadArray(e_, *f, path, kMaxRules);
    if (a == nullptr) return;
    rule_count_ += a->size();
    for (std::size_t i = 0; i < a->size(); ++i) fn((*a)[i], JoinPath(path, i));
  }

  std::optional<UsbAction> Action(const json::value& v, const std::string& path, bool read_only) {
    if (read_only) {
      static constexpr UsbAction kActions[] = {UsbAction::kBlock, UsbAction::kReadOnly,
                                               UsbAction::kAllow};
      if (auto i = detail::ReadEnum(e_, v, path, {"block", "read-only", "allow"})) {
        return kActions[*i];
      }
    } else if (auto i = detail::ReadEnum(e_, v, path, {"block", "allow"})) {
      return *i == 0 ? UsbAction::kBlock : UsbAction::kAllow;
    }
    return std::nullopt;
  }

  void Usb(const json::value& v, UsbPolicy* usb) {
    ObjectReader r(e_, v, "/usb");
    if (auto* f = r.Field("mode")) {
      if (auto i = detail::ReadEnum(e_, *f, "/usb/mode", {"enforce", "audit"})) {
        usb->mode = *i == 0 ? EnforcementMode::kEnforce : EnforcementMode::kAudit;
      }
    }
    if (auto* f = r.Field("default")) {
      if (auto a = Action(*f, "/usb/default", true)) usb->default_action = *a;
    }
    // A field that is present replaces the default list, even when empty. A default list that stays
    // is part of the canonical form: its ids are taken and its rules count toward the limit.
    const json::object* o = v.if_object();
    if (o != nullptr && o->contains("class_rules")) {
      usb->class_rules.clear();
    } else {
      for (const auto& rule : usb->class_rules) ReserveDefaultId(rule.id, "class_rules");
    }
    if (o != nullptr && o->contains("reject_combinations")) {
      usb->reject_combinations.clear();
    } else {
      for (const auto& c : usb->reject_combinations) ReserveDefaultId(c.id, "reject_combinations");
    }
    Rules(r, "allow", [&](const json::value& x, const std::string& p) { AllowRuleAt(x, p, usb); });
    Rules(r, "class_rules",
          [&](const json::value& x, const std::string& p) { ClassRuleAt(x, p, usb); });
    Rules(r, "reject_combinations",
          [&](const json::value& x, const std::string& p) { CombinationAt(x, p, usb); });
    if (rule_count_ > kMaxRules) {
      e_.Add("/usb", "has " + std::to_string(rule_count_) + " rules; the limit is " +
                         std::to_string(kMaxRules));
    }
    if (auto* f = r.Field("channels")) {
      ObjectReader c(e_, *f, "/usb/channels");
      if (auto* x = c.Field("mmc")) {
        if (auto a = Action(*x, "/usb/channels/mmc", true)) usb->channels.mmc = *a;
      }
      if (auto* x = c.Field("optical")) {
        if (auto a = Action(*x, "/usb/channels/optical", true)) usb->channels.optical = *a;
      }
      if (auto* x = c.Field("thunderbolt")) {
        if (auto a = Action(*x, "/usb/channels/thunderbolt", false)) usb->channels.thunderbolt = *a;
      }
      c.Finish();
    }
    r.Finish();
  }

  template <typename T>
  void Number(ObjectReader& r, std::string_view name, std::uint64_t min, std::uint64_t max,
              T* out) {
    if (auto* f = r.Field(name)) {
      if (auto n = detail::ReadUnsigned(e_, *f, JoinPath(r.path(), name), min, max)) {
        *out = static_cast<T>(*n);
      }
    }
  }

  void Mfa(const json::value& v, MfaPolicy* mfa) {
    ObjectReader r(e_, v, "/mfa");
    if (auto* f = r.Field("users")) mfa->users = Names(*f, "/mfa/users", kMaxListLength);
    if (auto* f = r.Field("groups")) mfa->groups = Names(*f, "/mfa/groups", kMaxListLength);
    if (auto* f = r.Field("services")) mfa->services = Names(*f, "/mfa/services", 256);
    Number(r, "window_steps", 0, 10, &mfa->window_steps);
    Number(r, "max_failures", 1, 100, &mfa->max_failures);
    Number(r, "lockout_seconds", 60, 7 * 86400, &mfa->lockout_seconds);
    if (auto* f = r.Field("deny_unenrolled")) {
      if (auto b = detail::ReadBool(e_, *f, "/mfa/deny_unenrolled")) mfa->deny_unenrolled = *b;
    }
    r.Finish();
  }

  void Compliance(const json::value& v, CompliancePolicy* c) {
    ObjectReader r(e_, v, "/compliance");
    Number(r, "report_interval_seconds", 30, 86400, &c->report_interval_seconds);
    Number(r, "max_clock_skew_seconds", 1, 3600, &c->max_clock_skew_seconds);
    r.Finish();
  }

  void Reporting(const json::value& v, ReportingPolicy* rep) {
    ObjectReader r(e_, v, "/reporting");
    Number(r, "snapshot_interval_seconds", 60, 7 * 86400, &rep->snapshot_interval_seconds);
    Number(r, "spool_max_mib", 1, 4096, &rep->spool_max_mib);
    Number(r, "retry_max_seconds", 5, 86400, &rep->retry_max_seconds);
    r.Finish();
  }

  void Network(const json::value& v, NetworkPolicy* net) {
    ObjectReader r(e_, v, "/network");
    if (auto* f = r.Field("allowed_egress")) {
      if (const json::array* a = detail::ReadArray(e_, *f, "/network/allowed_egress", 1000)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
          const std::string path = JoinPath("/network/allowed_egress", i);
          const json::value& item = (*a)[i];
          std::optional<Cidr> c;
          if (item.is_string()) {
            c = ParseCidr(std::string_view(item.get_string().data(), item.get_string().size()));
          }
          if (!c) {
            e_.Add(path,
                   "expected a network such as \"10.20.0.0/16\" or \"fd00::/8\" with no host "
                   "bits set, got " +
                       detail::Describe(item));
          } else if (std::find(net->allowed_egress.begin(), net->allowed_egress.end(), *c) !=
                     net->allowed_egress.end()) {
            e_.Add(path, "duplicate network " + FormatCidr(*c));
          } else {
            net->allowed_egress.push_back(*c);
          }
        }
      }
    }
    r.Finish();
  }

  Errors e_;
  std::set<std::string> rule_ids_;
  std::map<std::string, std::string> default_ids_;  // id -> the default list that holds it
  std::size_t rule_count_ = 0;
};

}  // namespace

ParseResult ParsePolicy(std::string_view json_text) {
  ParseResult result;
  if (json_text.size() > kMaxDocumentBytes) {
    result.errors.push_back({"", "document is " + std::to_string(json_text.size()) +
                                     " bytes; the limit is " + std::to_string(kMaxDocumentBytes)});
    return result;
  }
  auto root = detail::ParseJsonStrict(json_text, result.errors);
  if (!root) return result;
  Policy policy = PolicyParser(result.errors).Parse(*root);
  if (!result.errors.empty()) return result;
  // Defaults make the canonical form longer than the input; it is what gets signed and applied.
  if (const std::size_t size = Canonicalize(policy).size(); size > kMaxDocumentBytes) {
    result.errors.push_back({"", "canonical form is " + std::to_string(size) +
                                     " bytes; the limit is " + std::to_string(kMaxDocumentBytes)});
    return result;
  }
  result.policy = std::move(policy);
  return result;
}

}  // namespace mamori::policy
