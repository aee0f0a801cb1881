// Structured logs: one JSON object per line on stderr, {"ts":..., "level":..., "msg":..., ...}.
// Never pass secrets (tokens, keys) in the fields.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

namespace mamori::collector {

void Log(std::string_view level, std::string_view message, boost::json::object fields = {});

}  // namespace mamori::collector
