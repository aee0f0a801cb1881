#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <vector>

#include "mamori/platform/accounts.h"

namespace mamori::platform {
namespace {

class LinuxAccounts : public Accounts {
 public:
  std::optional<std::string> UserName(uid_t uid) override {
    struct passwd pw;
    struct passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return std::nullopt;
    return std::string(pw.pw_name);
  }

  std::vector<std::string> GroupNames(std::string_view user) override {
    const std::string name(user);
    struct passwd pw;
    struct passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found) return {};
    int count = 64;
    std::vector<gid_t> gids(static_cast<std::size_t>(count));
    if (::getgrouplist(name.c_str(), pw.pw_gid, gids.data(), &count) < 0) {
      gids.resize(static_cast<std::size_t>(count));
      if (::getgrouplist(name.c_str(), pw.pw_gid, gids.data(), &count) < 0) return {};
    }
    gids.resize(static_cast<std::size_t>(count));
    std::vector<std::string> names;
    for (gid_t gid : gids) {
      struct group gr;
      struct group* g = nullptr;
      std::vector<char> gbuf(65536);
      if (::getgrgid_r(gid, &gr, gbuf.data(), gbuf.size(), &g) == 0 && g)
        names.push_back(gr.gr_name);
    }
    return names;
  }
};

}  // namespace

Accounts& Accounts::Default() {
  static LinuxAccounts accounts;
  return accounts;
}

}  // namespace mamori::platform
