// mamorictl's commands against the collector's admin/IT API: token, policy push, terminal, fleet,
// events. The collector is named by --url/--ca/--token or MAMORI_COLLECTOR_URL, MAMORI_CA and
// MAMORI_TOKEN.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace mamori::ctl::admin {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitFile = 3;
inline constexpr int kExitRefused = 5;      // the collector answered with an error
inline constexpr int kExitUnreachable = 6;  // connection, TLS or protocol failure

using GetEnv = std::function<const char*(const char*)>;

// True for the areas served here: token, terminal, fleet, events.
bool IsAdminArea(std::string_view area);

// `args` starts with the area ("fleet", "terminal", …).
int RunAdminCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    const GetEnv& getenv);

// `mamorictl policy push BUNDLE`: `args` starts after "push".
int RunPolicyPush(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                  const GetEnv& getenv);

void PrintAdminUsage(std::ostream& out);

}  // namespace mamori::ctl::admin
