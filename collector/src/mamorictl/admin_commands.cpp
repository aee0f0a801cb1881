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
#include "mamorictl/table_output.h"
#include "qr_output.h"

namespace mamori::ctl::admin {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;
using collector::ClientOptions;
using collector::ClientResponse;

constexpr std::size_t kMaxCaBytes = 64 * 1024;
constexpr std::size_t kMaxBundleFileBytes = 3 << 20;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Format { kTable, kJson, kCsv };

struct Common {
  std::string url;
  std::string ca_file;
  std::string token;
  std::string format = "table";
  int timeout = 30;
};

void AddCommon(po::options_description& options, Common& c) {
  options.add_options()("url", po::value(&c.url),
                        "admin API URL, https://host:port (env MAMORI_COLLECTOR_URL)")(
      "ca", po::value(&c.ca_file), "CA certificate file of the collector (env MAMORI_CA)")(
      "token", po::value(&c.token), "API token (env MAMORI_TOKEN)")(
      "timeout", po::value(&c.timeout), "seconds to wait for the collector (default 30)");
}

void AddFormat(po::options_description& options, Common& c) {
  options.add_options()("format", po::value(&c.format), "table (default), json or csv");
}

std::string ReadFile(const std::string& path, std::size_t max_bytes, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path + ": cannot read " + what);
  std::string data;
  data.resize(max_bytes + 1);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  if (data.size() > max_bytes) {
    throw FileError(path + ": " + what + " larger than " + std::to_string(max_bytes) + " bytes");
  }
  return data;
}

po::variables_map Parse(const std::vector<std::string>& args, const po::options_description& named,
                        const po::positional_options_description& positional) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(named).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return vm;
}

ClientOptions Connect(Common c, const GetEnv& getenv) {
  auto fallback = [&getenv](std::string& value, const char* name) {
    if (value.empty()) {
      if (const char* v = getenv(name)) value = v;
    }
  };
  fallback(c.url, "MAMORI_COLLECTOR_URL");
  fallback(c.ca_file, "MAMORI_CA");
  fallback(c.token, "MAMORI_TOKEN");
  if (c.url.empty()) throw UsageError("no collector URL: use --url or MAMORI_COLLECTOR_URL");
  if (c.ca_file.empty()) throw UsageError("no CA file: use --ca or MAMORI_CA");
  if (c.token.empty()) throw UsageError("no API token: use --token or MAMORI_TOKEN");
  if (c.timeout < 1) throw UsageError("--timeout must be at least 1");
  ClientOptions options;
  options.url = c.url;
  options.ca_pem = ReadFile(c.ca_file, kMaxCaBytes, "CA certificate");
  options.bearer_token = c.token;
  options.timeout_seconds = c.timeout;
  return options;
}

Format ParseFormat(const std::string& text) {
  if (text == "table") return Format::kTable;
  if (text == "json") return Format::kJson;
  if (text == "csv") return Format::kCsv;
  throw UsageError("--format must be table, json or csv, not '" + text + "'");
}

// Sends the request; an error status becomes Refused with the collector's message.
json::value Call(const ClientOptions& options, std::string_view method, const std::string& target,
                 std::string_view body, std::string* raw = nullptr) {
  const ClientResponse response = collector::HttpsRequest(options, method, target, body);
  boost::system::error_code ec;
  json::value parsed = json::parse(response.body, ec);
  if (response.status >= 400) {
    std::string message = response.body;
    if (!ec && parsed.is_object() && parsed.as_object().contains("error") &&
        parsed.as_object().at("error").is_string()) {
      message = std::string(parsed.as_object().at("error").as_string());
    }
    throw Refused("collector refused (HTTP " + std::to_string(response.status) + "): " + message);
  }
  if (ec || !parsed.is_object()) {
    throw Refused("collector sent a response that is not a JSON object (HTTP " +
                  std::to_string(response.status) + ")");
  }
  if (raw) *raw = response.body;
  return parsed;
}

std::string Text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return "-";
  if (v.is_bool()) return v.as_bool() ? "yes" : "no";
  return json::serialize(v);
}

std::string Field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? Text(*v) : "-";
}

// "7d", "12h", "30m", "90s" or plain seconds.
std::optional<std::uint64_t> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t unit = 1;
  switch (text.back()) {
    case 'd':
      unit = 86400;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'm':
      unit = 60;
      break;
    case 's':
      unit = 1;
      break;
    default:
      unit = 0;
  }
  if (unit != 0) {
    text.remove_suffix(1);
  } else {
    unit = 1;
  }
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n > UINT32_MAX) {
    return std::nullopt;
  }
  return n * unit;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void Emit(std::ostream& out, Format format, const std::string& raw, const Table& table) {
  switch (format) {
    case Format::kJson:
      out << raw;
      if (!raw.empty() && raw.back() != '\n') out << "\n";
      break;
    case Format::kCsv:
      WriteCsv(out, table);
      break;
    case Format::kTable:
      WriteTable(out, table);
      break;
  }
}

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
  return area == "token" || area == "terminal" || area == "fleet" || area == "events" ||
         area == "mfa";
}

int RunAdminCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    const GetEnv& getenv) {
  return Guard(err, [&]() -> int {
    if (!IsAdminCommand(args)) throw UsageError("unknown command");
    if (args[0] == "policy") return PolicyPushCommand({args.begin() + 2, args.end()}, out, getenv);
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
         "options: --url URL --ca FILE --token TOKEN (or MAMORI_COLLECTOR_URL, MAMORI_CA,\n"
         "MAMORI_TOKEN), --format table|json|csv (CSV is UTF-8 with BOM), --timeout S\n";
}

}  // namespace mamori::ctl::admin
