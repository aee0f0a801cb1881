// Helpers shared by the agent and admin halves of the API.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <string>
#include <string_view>

#include "mamori/collector/api.h"

namespace mamori::collector {

HttpResponse JsonResponse(int status, const boost::json::value& body);

// RFC 3339 UTC text of a Unix time.
std::string FormatTime(UnixTime t);

struct Target {
  std::string path;
  std::map<std::string, std::string> query;  // percent-decoded; a repeated key keeps the last
};
// Throws BadRequest for malformed percent-encoding.
Target ParseTarget(std::string_view target);
// Decodes %XX (and '+' as a space); throws BadRequest for malformed percent-encoding.
std::string PercentDecode(std::string_view text);

// Parses a decimal unsigned integer query parameter; throws BadRequest naming it.
std::uint64_t QueryUint(const Target& target, const std::string& key, std::uint64_t fallback,
                        std::uint64_t max);

boost::json::object TerminalJson(const Terminal& t);

}  // namespace mamori::collector
