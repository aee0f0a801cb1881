// 3(2): the agent that enforces all this is the packaged one, and it starts at boot.
#include <cerrno>

#include "checks.h"

namespace mamori::agent::compliance {
namespace {

constexpr std::size_t kMaxMd5sumsBytes = 4 * 1024 * 1024;
constexpr char kWantsDir[] = "/etc/systemd/system/multi-user.target.wants/";

// The md5 listed for `path` in a dpkg .md5sums file ("<md5>  usr/sbin/x"), or "" when absent.
// Paths are listed relative to /, as the package ships them; /usr-merged aliases match too.
std::string ListedMd5(const std::string& md5sums, const std::string& path) {
  std::vector<std::string> names = {path.substr(1)};
  if (path.starts_with("/usr/"))
    names.push_back(path.substr(5));
  else
    names.push_back("usr" + path);
  std::size_t pos = 0;
  while (pos < md5sums.size()) {
    std::size_t nl = md5sums.find('\n', pos);
    if (nl == std::string::npos) nl = md5sums.size();
    const std::string line = md5sums.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.size() < 35 || line.compare(32, 2, "  ") != 0) continue;
    for (const auto& name : names) {
      if (line.compare(34, std::string::npos, name) == 0) return line.substr(0, 32);
    }
  }
  return "";
}

}  // namespace

Verdict AgentBinary(const ComplianceInputs& in, platform::SystemProbe& probe) {
  std::string path = in.agent_binary;
  platform::Status s = path.empty() ? probe.SelfExecutable(&path) : platform::Status::Ok();
  std::string sha256, md5;
  if (s.ok()) s = probe.HashFile(path, &sha256, &md5);
  if (!s.ok()) return {kError, s.message()};
  const std::string hash = path + " sha256 " + sha256;
  const std::string list = "/var/lib/dpkg/info/" + in.agent_package + ".md5sums";
  std::string md5sums;
  s = probe.ReadFile(list, kMaxMd5sumsBytes, &md5sums);
  if (!s.ok() && s.err() == ENOENT) {
    return {kNotApplicable, "package " + in.agent_package + " not installed; " + hash};
  }
  if (!s.ok()) return {kError, s.message()};
  const std::string listed = ListedMd5(md5sums, path);
  if (listed.empty()) {
    return {kFail, path + " is not a file of package " + in.agent_package + "; " + hash};
  }
  if (listed != md5) return {kFail, hash + " differs from package " + in.agent_package};
  return {kPass, hash + " (matches package " + in.agent_package + ")"};
}

Verdict AgentUnit(const ComplianceInputs& in, platform::SystemProbe& probe) {
  if (!probe.SystemdBooted()) return {kNotApplicable, "systemd is not running on this host"};
  std::string target;
  platform::Status s = probe.ReadLink("/etc/systemd/system/" + in.agent_unit, &target);
  if (s.ok() && target == "/dev/null") return {kFail, in.agent_unit + " is masked"};
  const std::string link = kWantsDir + in.agent_unit;
  s = probe.ReadLink(link, &target);
  if (!s.ok() && s.err() == ENOENT) return {kFail, "not enabled: no " + link};
  if (!s.ok()) return {kError, s.message()};
  return {kPass, "enabled: " + link + " -> " + target};
}

}  // namespace mamori::agent::compliance
