#include "mamori/agent/credential_state.h"

#include <boost/json.hpp>
#include <limits>

namespace mamori::agent {
namespace json = boost::json;
namespace {

constexpr std::uint64_t kStateVersion = 1;

std::optional<std::int64_t> Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() &&
      v->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  return std::nullopt;
}

std::optional<CredentialCounters> ParseRecord(std::string_view line) {
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  if (o.size() != 4) return std::nullopt;
  auto version = Int(o, "v");
  auto step = Int(o, "last_step");
  auto failures = Int(o, "failures");
  auto locked = Int(o, "locked_until");
  if (!version || !step || !failures || !locked) return std::nullopt;
  if (*version != static_cast<std::int64_t>(kStateVersion) || *step < 0 || *failures < 0 ||
      *failures > std::numeric_limits<std::uint32_t>::max() || *locked < 0) {
    return std::nullopt;
  }
  CredentialCounters c;
  c.last_step = static_cast<std::uint64_t>(*step);
  c.failures = static_cast<std::uint32_t>(*failures);
  c.locked_until = *locked;
  return c;
}

}  // namespace

std::string SerializeStateRecord(const CredentialCounters& c) {
  json::object o{{"v", kStateVersion},
                 {"last_step", c.last_step},
                 {"failures", c.failures},
                 {"locked_until", c.locked_until}};
  return json::serialize(o) + "\n";
}

StateLogScan ScanStateLog(std::string_view text) {
  StateLogScan scan;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    if (end == std::string_view::npos) {
      scan.torn_tail = true;
      break;
    }
    ++scan.records;
    if (auto c = ParseRecord(text.substr(0, end))) scan.last = *c;
    text.remove_prefix(end + 1);
  }
  return scan;
}

}  // namespace mamori::agent
