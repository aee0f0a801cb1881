#include "mamori/policy/mfa_scope.h"

#include <algorithm>

namespace mamori::policy {
namespace {

bool Listed(const std::vector<std::string>& list, std::string_view name) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& item) { return item == "*" || item == name; });
}

}  // namespace

bool MfaRequired(const MfaPolicy& mfa, std::string_view user,
                 const std::vector<std::string>& groups, std::string_view service) {
  if (!Listed(mfa.services, service)) return false;
  if (Listed(mfa.users, user)) return true;
  return std::any_of(groups.begin(), groups.end(), [&](const std::string& g) {
    return std::find(mfa.groups.begin(), mfa.groups.end(), g) != mfa.groups.end() ||
           std::find(mfa.groups.begin(), mfa.groups.end(), "*") != mfa.groups.end();
  });
}

}  // namespace mamori::policy
