// Whether a login needs a second factor under the policy.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mamori/policy/model.h"

namespace mamori::policy {

// Required when the PAM service is in scope ("*" matches every service) and the user is listed
// ("*" matches every user) or belongs to a listed group.
bool MfaRequired(const MfaPolicy& mfa, std::string_view user,
                 const std::vector<std::string>& groups, std::string_view service);

}  // namespace mamori::policy
