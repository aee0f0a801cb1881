#include "mamorictl/admin_commands.h"

#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <charconv>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>

#include "mamori/collector/client.h"
#include "mamori/policy/text.h"
#include "mamorictl/admin_cert_command.h"
#include "mamorictl/admin_client.h"
#include "mamorictl/table_output.h"
#include "qr_output.h"

namespace mamori::ctl::admin {
namespace {

int TokenCommand(const std::vector<std::string>& args, std::ostream& out, const GetEnv& getenv) {
  if (args.empty() || args[0] != "create") throw UsageError("usage: mamorictl token create …");
  Common c;
  std::string group, expires = "7d", role, label;
  int uses = 1;
  po::options_description options;
  AddCommon(options, c);
  AddFormat(options, c);
  options.add_options()("group", po::value(&group), "terminal group of an enrollment token")(
      "uses", po::value(&uses), "how many terminals may enroll with it (default 1)")(
      "expires", po::value(&expires), "lifetime: 7d, 12h, 30m (default 7d)")(
      "role", po::value(&role), "create an API token instead: it-read or admin")(
      "label", po::value(&label), "API token: who holds it");
  Parse({args.begin() + 1, args.end()}, options, {});
  const Format format = ParseFormat(c.format);
  json::object request;
  if (!role.empty()) {
    if (!group.empty()) throw UsageError("--group is for enrollment tokens, --role for API tokens");
    request = {{"kind", "api"}, {"role", role}, {"label", label}};
  } else {
    if (group.empty()) throw UsageError("token create needs --group G (or --role for API tokens)");
    if (uses < 1) throw UsageError("--uses must be at least 1");
    const auto lifetime = ParseDuration(expires);
    if (!lifetime) throw UsageError("--expires: expected e.g. 7d, 12h, 30m, not '" + expires + "'");
    request = {{"kind", "enrollment"},
               {"group", group},
               {"uses", uses},
               {"expires_in_seconds", *lifetime}};
  }
  std::string raw;
  const json::object r =
      Call(Connect(c, getenv), "POST", "/v1/admin/tokens", json::serialize(request), &raw)
          .as_object();
  Table table{{"TOKEN", "KIND", "GROUP/ROLE", "USES", "EXPIRES"}, {}};
  table.rows.push_back({Field(r, "token"), Field(r, "kind"),
                        r.contains("role") ? Field(r, "role") : Field(r, "group"),
                        r.contains("uses") ? Field(r, "uses") : "-",
                        r.contains("expires_at") ? Field(r, "expires_at") : "-"});
  Emit(out, format, raw, table);
  return kExitOk;
}

int TerminalCommand(const std::vector<std::string>& args, std::ostream& out, const GetEnv& getenv) {
  if (args.empty() || (args[0] != "show" && args[0] != "revoke")) {
    throw UsageError("usage: mamorictl terminal show|revoke ID");
  }
  Common c;
  std::string id;
  po::options_description options;
  AddCommon(options, c);
  AddFormat(options, c);
  options.add_options()("id", po::value(&id)->required(), "terminal id");
  po::positional_options_description positional;
  positional.add("id", 1);
  Parse({args.begin() + 1, args.end()}, options, positional);
  const Format format = ParseFormat(c.format);
  const ClientOptions client = Connect(c, getenv);
  std::string raw;
  if (args[0] == "revoke") {
    Call(client, "POST", "/v1/admin/terminals/" + PercentEncode(id) + "/revoke", "", &raw);
    Table table{{"TERMINAL", "REVOKED"}, {{id, "yes"}}};
    Emit(out, format, raw, table);
    return kExitOk;
  }
  const json::object t =
      Call(client, "GET", "/v1/terminals/" + PercentEncode(id), "", &raw).as_object();
  Table checks{{"CHECK", "RESULT", "OBSERVED", "FIRST FAILED", "CHANGED", "UPDATED"}, {}};
  if (const auto* list = t.if_contains("checks"); list && list->is_array()) {
    for (const auto& v : list->as_array()) {
      const auto& o = v.as_object();
      checks.rows.push_back({Field(o, "id"), Field(o, "result"), Field(o, "observed"),
                             Field(o, "first_failed_at"), Field(o, "changed_at"),
                             Field(o, "updated_at")});
    }
  }
  if (format != Format::kTable) {
    Emit(out, format, raw, checks);
    return kExitOk;
  }
  for (const char* key :
       {"id", "group", "hostname", "machine_id", "serial", "os", "enrolled_at", "last_seen",
        "last_sequence", "policy_version", "stale", "revoked", "cloned", "cloned_from"}) {
    out << key << ": " << Field(t, key) << "\n";
  }
  out << "\n";
  WriteTable(out, checks);
  Table history{{"AT", "CHECK", "RESULT", "OBSERVED", "SEQUENCE"}, {}};
  if (const auto* list = t.if_contains("history"); list && list->is_array()) {
    for (const auto& v : list->as_array()) {
      const auto& o = v.as_object();
      history.rows.push_back({Field(o, "at"), Field(o, "id"), Field(o, "result"),
                              Field(o, "observed"), Field(o, "sequence")});
    }
  }
  out << "\nhistory:\n";
  WriteTable(out, history);
  return kExitOk;
}

// The fleet's totals: one row per count, then one per policy version.
int FleetSummaryCommand(const Common& c, Format format, std::ostream& out, const GetEnv& getenv) {
  std::string raw;
  const json::object totals =
      Call(Connect(c, getenv), "GET", "/v1/fleet/summary", "", &raw).as_object();
  Table table{{"TOTAL", "TERMINALS"}, {}};
  for (const char* key : {"terminals", "pass", "fail", "error", "unknown", "stale", "revoked"}) {
    table.rows.push_back({key, Field(totals, key)});
  }
  if (const auto* list = totals.if_contains("policy_versions"); list && list->is_array()) {
    for (const auto& v : list->as_array()) {
      const auto& o = v.as_object();
      table.rows.push_back({"policy " + Field(o, "policy_version"), Field(o, "terminals")});
    }
  }
  Emit(out, format, raw, table);
  return kExitOk;
}

int FleetCommand(const std::vector<std::string>& args, std::ostream& out, const GetEnv& getenv) {
  Common c;
  bool summary = false;
  po::options_description options;
  AddCommon(options, c);
  AddFormat(options, c);
  options.add_options()("summary", po::bool_switch(&summary),
                        "totals only: pass/fail/stale terminals and policy versions");
  Parse(args, options, {});
  const Format format = ParseFormat(c.format);
  if (summary) return FleetSummaryCommand(c, format, out, getenv);
  std::string raw;
  const json::object fleet = Call(Connect(c, getenv), "GET", "/v1/fleet", "", &raw).as_object();
  Table table{{"TERMINAL", "GROUP", "HOSTNAME", "LAST SEEN", "POLICY", "PASS", "FAIL", "ERROR",
               "STALE", "FLAGS"},
              {}};
  if (const auto* list = fleet.if_contains("terminals"); list && list->is_array()) {
    for (const auto& v : list->as_array()) {
      const auto& o = v.as_object();
      std::string flags;
      if (Field(o, "revoked") == "yes") flags += "revoked ";
      if (Field(o, "cloned") == "yes") flags += "cloned-from:" + Field(o, "cloned_from");
      if (!flags.empty() && flags.back() == ' ') flags.pop_back();
      table.rows.push_back({Field(o, "id"), Field(o, "group"), Field(o, "hostname"),
                            Field(o, "last_seen"), Field(o, "policy_version"), Field(o, "pass"),
                            Field(o, "fail"), Field(o, "error"), Field(o, "stale"),
                            flags.empty() ? "-" : flags});
    }
  }
  Emit(out, format, raw, table);
  return kExitOk;
}

int EventsCommand(const std::vector<std::string>& args, std::ostream& out, const GetEnv& getenv) {
  Common c;
  std::string since;
  int limit = 1000;
  po::options_description options;
  AddCommon(options, c);
  AddFormat(options, c);
  options.add_options()("since", po::value(&since),
                        "RFC 3339 UTC time, or an age such as 24h or 7d (default: all)")(
      "limit", po::value(&limit), "at most this many events (default 1000)");
  Parse(args, options, {});
  const Format format = ParseFormat(c.format);
  std::string target = "/v1/events?limit=" + std::to_string(limit);
  if (!since.empty()) {
    std::string when;
    if (policy::ParseTimestamp(since)) {
      when = since;
    } else if (const auto age = ParseDuration(since)) {
      const auto now =
          std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
      when = policy::FormatTimestamp(now - std::chrono::seconds(*age));
    } else {
      throw UsageError("--since: expected an RFC 3339 UTC time or an age like 24h, not '" + since +
                       "'");
    }
    target += "&since=" + PercentEncode(when);
  }
  std::string raw;
  const json::object r = Call(Connect(c, getenv), "GET", target, "", &raw).as_object();
  Table table{{"TIME", "TERMINAL", "TYPE", "SEQUENCE", "DATA"}, {}};
  if (const auto* list = r.if_contains("events"); list && list->is_array()) {
    for (const auto& v : list->as_array()) {
      const auto& o = v.as_object();
      table.rows.push_back({Field(o, "time"), Field(o, "terminal"), Field(o, "type"),
                            Field(o, "sequence"), Field(o, "data")});
    }
  }
  Emit(out, format, raw, table);
  return kExitOk;
}

int PolicyPushCommand(const std::vector<std::string>& args, std::ostream& out,
                      const GetEnv& getenv) {
  Common c;
  std::string bundle_path;
  po::options_description options;
  AddCommon(options, c);
  options.add_options()("bundle", po::value(&bundle_path)->required(), "signed bundle file");
  po::positional_options_description positional;
  positional.add("bundle", 1);
  Parse(args, options, positional);
  const std::string bundle = ReadFile(bundle_path, kMaxBundleFileBytes, "bundle");
  const json::object r = Call(Connect(c, getenv), "POST", "/v1/admin/policy", bundle).as_object();
  out << "stored policy version " << Field(r, "version") << " (sha256 " << Field(r, "hash")
      << ")\n";
  return kExitOk;
}

// Central MFA. The otpauth URI (with the secret) is printed once, here; the collector never
// returns the secret to an administrator again.
int MfaCommand(const std::vector<std::string>& args, std::ostream& out, const GetEnv& getenv) {
  if (args.empty() || (args[0] != "enroll" && args[0] != "reset" && args[0] != "unlock")) {
    throw UsageError("usage: mamorictl mfa enroll|reset|unlock USER");
  }
  Common c;
  std::string user;
  std::vector<std::string> groups;
  po::options_description options;
  AddCommon(options, c);
  options.add_options()("user", po::value(&user)->required(), "user name")(
      "group", po::value(&groups), "enroll: a terminal group to deliver to (repeat)");
  po::positional_options_description positional;
  positional.add("user", 1);
  Parse({args.begin() + 1, args.end()}, options, positional);
  const std::string target = "/v1/admin/mfa/users/" + PercentEncode(user) + "/" + args[0];
  if (args[0] != "enroll") {
    if (!groups.empty()) throw UsageError("--group applies to mfa enroll only");
    const json::object r = Call(Connect(c, getenv), "POST", target, "").as_object();
    out << (args[0] == "reset" ? "reset: the credential of " : "unlock requested for ") << user
        << (args[0] == "reset" ? " is removed from its terminals" : " on its terminals")
        << " (revision " << Field(r, "revision") << ")\n";
    return kExitOk;
  }
  if (groups.empty()) throw UsageError("mfa enroll needs at least one --group");
  json::array list;
  for (const auto& g : groups) list.emplace_back(g);
  const json::object r =
      Call(Connect(c, getenv), "POST", target, json::serialize(json::object{{"groups", list}}))
          .as_object();
  const std::string uri = Field(r, "otpauth_uri");
  out << "MFA credential of " << user << " enrolled (revision " << Field(r, "revision")
      << "); delivered to the terminals of its groups at their next sync.\n"
      << "Scan this code with the authenticator app now; it is not shown again.\n\n"
      << cli::QrForTerminal(uri) << "\n"
      << uri << "\n";
  return kExitOk;
}

template <class F>
int Guard(std::ostream& err, F&& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    err << "mamorictl: " << e.what() << "\n";
    return kExitUsage;
  } catch (const FileError& e) {
    err << "mamorictl: " << e.what() << "\n";
    return kExitFile;
  } catch (const Refused& e) {
    err << "mamorictl: " << e.what() << "\n";
    return kExitRefused;
  } catch (const collector::ClientError& e) {
    err << "mamorictl: cannot reach the collector: " << e.what() << "\n";
    return kExitUnreachable;
  }
}

}  // namespace

bool IsAdminCommand(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  const std::string& area = args[0];
  if (area == "policy") return args.size() >= 2 && args[1] == "push";
  if (area == "admin") return args.size() >= 2 && args[1] == "cert";
  return area == "token" || area == "terminal" || area == "fleet" || area == "events" ||
         area == "mfa";
}

int RunAdminCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    const GetEnv& getenv) {
  return Guard(err, [&]() -> int {
    if (!IsAdminCommand(args)) throw UsageError("unknown command");
    if (args[0] == "policy") return PolicyPushCommand({args.begin() + 2, args.end()}, out, getenv);
    if (args[0] == "admin") return AdminCertCommand({args.begin() + 2, args.end()}, out, getenv);
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "token") return TokenCommand(rest, out, getenv);
    if (args[0] == "terminal") return TerminalCommand(rest, out, getenv);
    if (args[0] == "fleet") return FleetCommand(rest, out, getenv);
    if (args[0] == "mfa") return MfaCommand(rest, out, getenv);
    return EventsCommand(rest, out, getenv);
  });
}

void PrintAdminUsage(std::ostream& out) {
  out << "  token create --group G [--uses N] [--expires 7d]   enrollment token (admin)\n"
         "  token create --role it-read|admin [--label L]      API token (admin)\n"
         "  policy push BUNDLE                                 upload a signed bundle (admin)\n"
         "  terminal revoke ID                                 refuse a terminal at once (admin)\n"
         "  terminal show ID                                   checks, history, first failure\n"
         "  fleet [--summary]                                  every terminal and its status, or "
         "totals\n"
         "  events [--since TIME|AGE] [--limit N]              events reported by terminals\n"
         "  mfa enroll USER --group G [--group G2]             new TOTP credential: QR code and\n"
         "                                                     otpauth URI shown once (admin)\n"
         "  mfa reset USER                                     remove it from terminals (admin)\n"
         "  mfa unlock USER                                    clear lockout on terminals (admin)\n"
         "  admin cert issue --role it-read|admin --name NAME --out DIR [--days N]\n"
         "                                                     client certificate instead of a\n"
         "                                                     token; key made here (admin)\n"
         "  admin cert revoke ID                               refuse it at once (admin)\n"
         "  admin cert list                                    issued certificates (admin)\n"
         "options: --url URL --ca FILE, and --token TOKEN or --cert FILE --key FILE (or\n"
         "MAMORI_COLLECTOR_URL, MAMORI_CA, MAMORI_TOKEN, MAMORI_CERT, MAMORI_KEY),\n"
         "--format table|json|csv (CSV is UTF-8 with BOM), --timeout S\n";
}

}  // namespace mamori::ctl::admin
