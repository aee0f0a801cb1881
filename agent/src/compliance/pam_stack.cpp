// 6(3)①, MFA: pam_mamori must be reached on every auth path of each service in scope. The auth
// stack is read as libpam reads it (@include, include and substack inlined; comments and line
// continuations), and everything before pam_mamori that could end the stack with success or jump
// over it counts as a bypass.
#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>

#include "checks.h"

namespace mamori::agent::compliance {
namespace {

constexpr char kPamDir[] = "/etc/pam.d/";
constexpr char kModule[] = "pam_mamori.so";
constexpr std::size_t kMaxPamFileBytes = 256 * 1024;
constexpr int kMaxIncludeDepth = 16;
// With services "*", the interactive login services a terminal can have.
constexpr const char* kLoginServices[] = {"login",   "sshd", "gdm-password",
                                          "lightdm", "sddm", "xrdp-sesman"};

struct Entry {
  std::vector<int> scope;  // substack instances enclosing the entry, outermost first
  std::string control;     // "required", "sufficient", "[success=1 default=ignore]", "substack"
  std::string module;      // as written; empty for a substack marker
  bool optional_module = false;  // "-auth": skipped silently when the module is missing
  std::string where;             // "/etc/pam.d/login:12"
};

struct Flattener {
  explicit Flattener(platform::SystemProbe& p) : probe(p) {}
  platform::SystemProbe& probe;
  std::vector<Entry> entries;
  int next_scope = 0;
  std::string error;

  bool Read(const std::string& path, std::string* text) {
    platform::Status s = probe.ReadFile(path, kMaxPamFileBytes, text);
    if (!s.ok()) error = s.message();
    return s.ok();
  }

  static std::string Resolve(const std::string& name) {
    return name.starts_with("/") ? name : kPamDir + name;
  }

  // Splits one logical line into tokens; a bracketed control stays one token.
  static std::vector<std::string> Tokens(const std::string& line) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i >= line.size()) break;
      std::size_t end = i;
      if (line[i] == '[') {
        end = line.find(']', i);
        end = end == std::string::npos ? line.size() : end + 1;
      } else {
        while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
      }
      out.push_back(line.substr(i, end - i));
      i = end;
    }
    return out;
  }

  // Logical lines: comments removed, backslash-newline joined.
  static std::vector<std::pair<int, std::string>> Lines(const std::string& text) {
    std::vector<std::pair<int, std::string>> out;
    std::string current;
    int number = 0, start = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
      std::size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      std::string line = text.substr(pos, nl - pos);
      pos = nl + 1;
      ++number;
      if (current.empty()) start = number;
      if (!line.empty() && line.back() == '\\') {
        line.pop_back();
        current += line + ' ';
        continue;
      }
      current += line;
      const std::size_t hash = current.find('#');
      if (hash != std::string::npos) current.resize(hash);
      out.emplace_back(start, current);
      current.clear();
    }
    return out;
  }

  bool Flatten(const std::string& path, const std::vector<int>& scope, int depth) {
    if (depth > kMaxIncludeDepth) {
      error = path + ": includes nested deeper than " + std::to_string(kMaxIncludeDepth);
      return false;
    }
    std::string text;
    if (!Read(path, &text)) return false;
    for (const auto& [number, line] : Lines(text)) {
      std::vector<std::string> t = Tokens(line);
      if (t.empty()) continue;
      const std::string where = path + ":" + std::to_string(number);
      if (t[0] == "@include") {
        if (t.size() < 2) return Bad(where, "@include without a file");
        if (!Flatten(Resolve(t[1]), scope, depth + 1)) return false;
        continue;
      }
      Entry e;
      e.optional_module = t[0].starts_with('-');
      const std::string type = e.optional_module ? t[0].substr(1) : t[0];
      if (type != "auth") continue;
      if (t.size() < 3) return Bad(where, "expected: auth CONTROL MODULE [ARGS]");
      e.scope = scope;
      e.where = where;
      if (t[1] == "include") {
        if (!Flatten(Resolve(t[2]), scope, depth + 1)) return false;
        continue;
      }
      if (t[1] == "substack") {
        // The substack counts as one module of the enclosing stack.
        e.control = "substack";
        entries.push_back(e);
        std::vector<int> inner = scope;
        inner.push_back(next_scope++);
        if (!Flatten(Resolve(t[2]), inner, depth + 1)) return false;
        continue;
      }
      e.control = t[1];
      e.module = t[2];
      entries.push_back(std::move(e));
    }
    return true;
  }

  bool Bad(const std::string& where, const std::string& why) {
    error = where + ": " + why;
    return false;
  }
};

bool IsMamori(const Entry& e) {
  const std::size_t slash = e.module.rfind('/');
  return e.module.substr(slash == std::string::npos ? 0 : slash + 1) == kModule;
}

bool Encloses(const std::vector<int>& outer, const std::vector<int>& inner) {
  return outer.size() <= inner.size() && std::equal(outer.begin(), outer.end(), inner.begin());
}

// Whether jumping over `count` modules from entries[from] (within its scope) skips entries[target].
bool JumpSkips(const std::vector<Entry>& entries, std::size_t from, int count, std::size_t target) {
  int seen = 0;
  for (std::size_t j = from + 1; j < entries.size(); ++j) {
    if (!Encloses(entries[from].scope, entries[j].scope)) return j > target;
    if (entries[j].scope == entries[from].scope && seen++ == count) return j > target;
  }
  return true;  // jumps past the end of its stack
}

// Why entries[i] can keep entries[target] from running, or nullopt.
std::optional<std::string> Bypass(const std::vector<Entry>& entries, std::size_t i,
                                  std::size_t target) {
  const Entry& e = entries[i];
  if (!Encloses(e.scope, entries[target].scope)) return std::nullopt;  // ends only its substack
  const std::string line = "'" + e.control + " " + e.module + "' (" + e.where + ")";
  if (e.control == "sufficient") return "bypassed by " + line;
  if (!e.control.starts_with('[')) return std::nullopt;
  // [value=action ...]: "done" on success ends the stack; a jump may land past pam_mamori.
  std::map<std::string, std::string> actions;
  const std::string body = e.control.substr(1, e.control.size() - 2);
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t end = body.find_first_of(" \t", pos);
    if (end == std::string::npos) end = body.size();
    const std::string pair = body.substr(pos, end - pos);
    pos = end + 1;
    const std::size_t eq = pair.find('=');
    if (eq != std::string::npos) actions[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  const auto success = actions.count("success") ? actions.find("success") : actions.find("default");
  if (success != actions.end() && success->second == "done") return "bypassed by " + line;
  for (const auto& [value, action] : actions) {
    if (!action.empty() && action.size() <= 4 &&
        std::all_of(action.begin(), action.end(),
                    [](unsigned char c) { return c >= '0' && c <= '9'; }) &&
        JumpSkips(entries, i, std::stoi(action), target)) {
      return "jumped over by " + line;
    }
  }
  return std::nullopt;
}

// The verdict for one service: {result, text}.
Verdict Service(platform::SystemProbe& probe, const std::string& service) {
  Flattener f(probe);
  if (!f.Flatten(kPamDir + service, {}, 0)) return {kError, service + ": " + f.error};
  const auto& entries = f.entries;
  const auto it = std::find_if(entries.begin(), entries.end(), IsMamori);
  if (it == entries.end()) return {kFail, service + ": pam_mamori absent"};
  const std::size_t m = static_cast<std::size_t>(it - entries.begin());
  for (std::size_t i = 0; i < m; ++i) {
    if (auto why = Bypass(entries, i, m)) return {kFail, service + ": " + *why};
  }
  const Entry& e = *it;
  if (e.control != "required" && e.control != "requisite") {
    return {kFail, service + ": pam_mamori is '" + e.control + "', not required (" + e.where + ")"};
  }
  if (e.optional_module) {
    return {kFail, service + ": '-auth' skips pam_mamori when it is missing (" + e.where + ")"};
  }
  return {kPass, service + ": " + e.control};
}

}  // namespace

Verdict MfaPamStacks(const ComplianceInputs& in, platform::SystemProbe& probe) {
  const auto& scope = in.policy.mfa.services;
  const bool every = std::find(scope.begin(), scope.end(), "*") != scope.end();
  std::vector<std::string> services;
  if (every) {
    services.assign(std::begin(kLoginServices), std::end(kLoginServices));
  } else {
    services = scope;
  }
  std::vector<std::string> passed, failed, errors, absent;
  for (const std::string& service : services) {
    std::string unused;
    platform::Status s = probe.ReadFile(kPamDir + service, kMaxPamFileBytes, &unused);
    if (!s.ok() && s.err() == ENOENT) {
      absent.push_back(service);
      continue;
    }
    Verdict v = Service(probe, service);
    (v.result == kPass ? passed : v.result == kFail ? failed : errors).push_back(v.observed);
  }
  std::string tail;
  if (!absent.empty()) tail = "; not installed: " + JoinLimited(absent, 8);
  // A definite finding outranks a stack that could not be read; both are shown.
  std::vector<std::string> problems = failed;
  problems.insert(problems.end(), errors.begin(), errors.end());
  if (!failed.empty()) return {kFail, JoinLimited(problems, 3) + tail};
  if (!errors.empty()) return {kError, JoinLimited(errors, 3) + tail};
  if (passed.empty()) {
    return {kNotApplicable, "no PAM service of the MFA scope is installed" + tail};
  }
  return {kPass, JoinLimited(passed, 8) + tail};
}

}  // namespace mamori::agent::compliance
