// 6(3)①, MFA: every user the policy puts in scope has a credential. Users and groups are resolved
// from the local account files (/etc/passwd, /etc/group); "*" stands for the local human accounts
// (uid 1000 to 65533 with a login shell), the accounts a municipal terminal's staff log in with.
#include <algorithm>
#include <charconv>
#include <set>

#include "checks.h"

namespace mamori::agent::compliance {
namespace {

constexpr std::size_t kMaxAccountFileBytes = 16 * 1024 * 1024;
constexpr unsigned long kFirstHumanUid = 1000;
constexpr unsigned long kNobodyUid = 65534;

std::vector<std::string> SplitColons(std::string_view line) {
  std::vector<std::string> fields;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t colon = line.find(':', pos);
    fields.emplace_back(line.substr(pos, colon - pos));
    if (colon == std::string_view::npos) return fields;
    pos = colon + 1;
  }
}

template <typename F>
void ForEachRecord(const std::string& text, std::size_t min_fields, F f) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    auto fields = SplitColons(line);
    if (fields.size() >= min_fields) f(fields);
  }
}

bool ParseId(const std::string& text, unsigned long* id) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *id);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

bool LoginShell(const std::string& shell) {
  return !shell.empty() && !shell.ends_with("/nologin") && !shell.ends_with("/false");
}

}  // namespace

Verdict MfaEnrolled(const ComplianceInputs& in, platform::SystemProbe& probe) {
  if (!in.enrolled_users) return {kError, "credential store: " + in.enrolled_error};
  const policy::MfaPolicy& mfa = in.policy.mfa;
  const bool everyone = std::find(mfa.users.begin(), mfa.users.end(), "*") != mfa.users.end();
  std::set<std::string> required;
  for (const auto& u : mfa.users) {
    if (u != "*") required.insert(u);
  }
  if (everyone || !mfa.groups.empty()) {
    std::string passwd, group;
    platform::Status s = probe.ReadFile("/etc/passwd", kMaxAccountFileBytes, &passwd);
    if (s.ok() && !mfa.groups.empty()) {
      s = probe.ReadFile("/etc/group", kMaxAccountFileBytes, &group);
    }
    if (!s.ok()) return {kError, s.message()};
    std::set<std::string> group_ids;
    ForEachRecord(group, 4, [&](const std::vector<std::string>& g) {
      if (std::find(mfa.groups.begin(), mfa.groups.end(), g[0]) == mfa.groups.end()) return;
      group_ids.insert(g[2]);
      std::size_t pos = 0;
      while (pos <= g[3].size() && !g[3].empty()) {
        std::size_t comma = g[3].find(',', pos);
        if (comma == std::string::npos) comma = g[3].size();
        if (comma > pos) required.insert(g[3].substr(pos, comma - pos));
        pos = comma + 1;
      }
    });
    ForEachRecord(passwd, 7, [&](const std::vector<std::string>& p) {
      unsigned long uid = 0;
      const bool human =
          ParseId(p[2], &uid) && uid >= kFirstHumanUid && uid < kNobodyUid && LoginShell(p[6]);
      if ((everyone && human) || group_ids.count(p[3]) > 0) required.insert(p[0]);
    });
  }
  if (required.empty()) return {kNotApplicable, "no local user in the MFA scope"};
  const std::set<std::string> enrolled(in.enrolled_users->begin(), in.enrolled_users->end());
  std::vector<std::string> missing;
  for (const auto& user : required) {
    if (enrolled.count(user) == 0) missing.push_back(user);
  }
  const std::string counts = std::to_string(required.size() - missing.size()) + " of " +
                             std::to_string(required.size()) + " enrolled";
  if (!missing.empty()) return {kFail, counts + "; missing: " + JoinLimited(missing, 5)};
  return {kPass, counts};
}

}  // namespace mamori::agent::compliance
