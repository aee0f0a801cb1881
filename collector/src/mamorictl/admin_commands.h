// mamorictl's commands against the collector's admin/IT API: token, policy push, terminal, fleet,
// events, mfa, admin cert. The collector is named by --url/--ca and the caller by --token or
// --cert/--key, or MAMORI_COLLECTOR_URL, MAMORI_CA, MAMORI_TOKEN, MAMORI_CERT and MAMORI_KEY.
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

// True for the commands served here: the areas token, terminal, fleet, events and mfa,
// `policy push` and `admin cert`. `args` starts with the area.
bool IsAdminCommand(const std::vector<std::string>& args);

int RunAdminCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    const GetEnv& getenv);

void PrintAdminUsage(std::ostream& out);

}  // namespace mamori::ctl::admin
