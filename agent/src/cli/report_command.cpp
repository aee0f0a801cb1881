#include "report_command.h"

#include <chrono>
#include <ctime>
#include <iostream>
#include <optional>

#include "mamori/agent/enrollment.h"
#include "mamori/agent/event_journal.h"
#include "mamori/agent/policy_apply.h"
#include "mamori/agent/policy_state.h"
#include "mamori/agent/reporter.h"
#include "mamori/platform/env.h"
#include "mamori/platform/secure_dir.h"

namespace mamori::cli {
namespace {

using platform::Status;

int Fail(const std::string& message) {
  std::cerr << "mamori: " << message << "\n";
  return 1;
}

// The audit login uid survives sudo: it names the person who logged in and removed the agent.
std::string LoginUid() {
  std::string text;
  if (!platform::Env::Default().ReadFile("/proc/self/loginuid", 32, &text).ok()) return "unknown";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text == "4294967295" ? "unset" : text;
}

// The applied policy's version for the report; none when the trust file or the stored policy
// cannot be read (the report still goes: its events matter more).
std::optional<std::uint64_t> AppliedPolicyVersion(const ReportOptions& options,
                                                  const agent::Enrollment& enrollment) {
  platform::Env& env = platform::Env::Default();
  policy::TrustSet trust;
  if (!agent::LoadTrustFile(env, options.trust_file, &trust).ok()) return std::nullopt;
  std::vector<std::string> groups;
  if (!enrollment.group.empty()) groups.push_back(enrollment.group);
  agent::PolicyState state(env, options.state_dir, std::move(trust), groups);
  if (!state.Load().ok()) return std::nullopt;
  return state.version();
}

}  // namespace

int ReportCommand(const ReportOptions& options) {
  if (options.timeout_seconds < 1 || options.timeout_seconds > 600) {
    return Fail("--timeout must be 1..600 seconds");
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_seconds);
  std::unique_ptr<platform::SecureDir> state;
  Status s = platform::SecureDir::Open(options.state_dir, 0700, &state);
  if (!s.ok()) return Fail("state directory: " + s.message());
  std::unique_ptr<agent::EventJournal> journal;
  s = agent::EventJournal::Open(*state, &journal);
  if (!s.ok()) return Fail(s.message());
  if (options.removal) {
    s = journal->Record(
        agent::Event{std::time(nullptr), "agent.removal", {{"login_uid", LoginUid()}}});
    if (!s.ok()) return Fail("journal: " + s.message());
  }
  std::optional<agent::Enrollment> enrollment;
  s = agent::LoadEnrollment(*state, &enrollment);
  if (!s.ok()) return Fail(s.message());
  if (!enrollment) return Fail(options.state_dir + ": not enrolled, so there is no collector");
  const std::optional<std::uint64_t> version = AppliedPolicyVersion(options, *enrollment);

  // The newest event (the removal) goes in the last report: send until none is left.
  bool more = true;
  while (more) {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 1) return Fail("timed out with events still pending (they stay journalled)");
    agent::Reporter::Options reporter_options;
    reporter_options.timeout_seconds = static_cast<int>(left.count());
    agent::Reporter reporter(
        *enrollment, *journal, agent::Reporter::Checks{}, [version] { return version; },
        [] { return std::chrono::seconds(0); }, reporter_options);
    s = reporter.SendOnce(&more);
    if (!s.ok()) return Fail("report: " + s.message() + " (the events stay journalled)");
  }
  std::cout << "report acknowledged by " << enrollment->url << "\n";
  return 0;
}

}  // namespace mamori::cli
