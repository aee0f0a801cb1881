// What mamorictl's commands against the admin/IT API share: the connection options (URL, pinned
// CA, and a token or a client certificate), the request, and the output formats.
#pragma once

#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <cstdint>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/collector/client.h"
#include "mamorictl/admin_commands.h"
#include "mamorictl/table_output.h"

namespace mamori::ctl::admin {

namespace po = boost::program_options;
namespace json = boost::json;
using collector::ClientOptions;
using collector::ClientResponse;

inline constexpr std::size_t kMaxCaBytes = 64 * 1024;
inline constexpr std::size_t kMaxBundleFileBytes = 3 << 20;

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
  std::string cert_file;
  std::string key_file;
  std::string format = "table";
  int timeout = 30;
};

// --url, --ca, --token, --cert, --key, --timeout.
void AddCommon(po::options_description& options, Common& c);
void AddFormat(po::options_description& options, Common& c);
std::string ReadFile(const std::string& path, std::size_t max_bytes, const char* what);
po::variables_map Parse(const std::vector<std::string>& args, const po::options_description& named,
                        const po::positional_options_description& positional);
// The options with the environment's fallbacks; a UsageError names what is missing.
ClientOptions Connect(Common c, const GetEnv& getenv);
Format ParseFormat(const std::string& text);
// Sends the request; an error status becomes Refused with the collector's message.
json::value Call(const ClientOptions& options, std::string_view method, const std::string& target,
                 std::string_view body, std::string* raw = nullptr);
std::string Text(const json::value& v);
std::string Field(const json::object& o, std::string_view key);
// "7d", "12h", "30m", "90s" or plain seconds.
std::optional<std::uint64_t> ParseDuration(std::string_view text);
std::string PercentEncode(std::string_view text);
void Emit(std::ostream& out, Format format, const std::string& raw, const Table& table);

}  // namespace mamori::ctl::admin
