// `mamorictl admin cert issue|revoke|list` (role admin): client certificates of the admin/IT API.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "mamorictl/admin_commands.h"

namespace mamori::ctl::admin {

// `args` starts after "admin cert".
int AdminCertCommand(const std::vector<std::string>& args, std::ostream& out, const GetEnv& getenv);

}  // namespace mamori::ctl::admin
