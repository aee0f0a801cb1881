// Local account lookups (NSS: /etc/passwd, /etc/group, LDAP, ...), behind an interface so tests can
// name users and groups that the machine does not have.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mamori::platform {

class Accounts {
 public:
  virtual ~Accounts() = default;
  static Accounts& Default();
  // The login name of `uid`; nullopt when it has none.
  virtual std::optional<std::string> UserName(uid_t uid) = 0;
  // The names of the groups `user` belongs to, primary group included; empty for an unknown user.
  virtual std::vector<std::string> GroupNames(std::string_view user) = 0;
};

}  // namespace mamori::platform
