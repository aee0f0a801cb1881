#include "mamorictl/admin_client.h"

#include <charconv>
#include <fstream>

namespace mamori::ctl::admin {

void AddCommon(po::options_description& options, Common& c) {
  options.add_options()("url", po::value(&c.url),
                        "admin API URL, https://host:port (env MAMORI_COLLECTOR_URL)")(
      "ca", po::value(&c.ca_file), "CA certificate file of the collector (env MAMORI_CA)")(
      "token", po::value(&c.token), "API token (env MAMORI_TOKEN)")(
      "cert", po::value(&c.cert_file), "client certificate instead of a token (env MAMORI_CERT)")(
      "key", po::value(&c.key_file), "its private key (env MAMORI_KEY)")(
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
  fallback(c.cert_file, "MAMORI_CERT");
  fallback(c.key_file, "MAMORI_KEY");
  // A certificate is the caller's credential when given; a token from the environment is then
  // not sent along.
  if (c.cert_file.empty()) fallback(c.token, "MAMORI_TOKEN");
  if (c.url.empty()) throw UsageError("no collector URL: use --url or MAMORI_COLLECTOR_URL");
  if (c.ca_file.empty()) throw UsageError("no CA file: use --ca or MAMORI_CA");
  if (c.cert_file.empty() != c.key_file.empty()) {
    throw UsageError("--cert and --key go together (or MAMORI_CERT and MAMORI_KEY)");
  }
  if (!c.cert_file.empty() && !c.token.empty()) {
    throw UsageError("use either a client certificate (--cert/--key) or a token, not both");
  }
  if (c.token.empty() && c.cert_file.empty()) {
    throw UsageError("no credential: use --token or MAMORI_TOKEN, or --cert and --key");
  }
  if (c.timeout < 1) throw UsageError("--timeout must be at least 1");
  ClientOptions options;
  options.url = c.url;
  options.ca_pem = ReadFile(c.ca_file, kMaxCaBytes, "CA certificate");
  options.bearer_token = c.token;
  if (!c.cert_file.empty()) {
    options.cert_pem = ReadFile(c.cert_file, kMaxCaBytes, "client certificate");
    options.key_pem = ReadFile(c.key_file, kMaxCaBytes, "client key");
  }
  options.timeout_seconds = c.timeout;
  return options;
}

Format ParseFormat(const std::string& text) {
  if (text == "table") return Format::kTable;
  if (text == "json") return Format::kJson;
  if (text == "csv") return Format::kCsv;
  throw UsageError("--format must be table, json or csv, not '" + text + "'");
}

json::value Call(const ClientOptions& options, std::string_view method, const std::string& target,
                 std::string_view body, std::string* raw) {
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

}  // namespace mamori::ctl::admin
