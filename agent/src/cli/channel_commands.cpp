#include "channel_commands.h"

#include <openssl/crypto.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <iterator>

#include "mamori/agent/enrollment.h"
#include "mamori/agent/event_journal.h"
#include "mamori/agent/policy_apply.h"
#include "mamori/agent/policy_state.h"
#include "mamori/platform/env.h"
#include "mamori/platform/secure_dir.h"
#include "mamori/policy/verify.h"

namespace mamori::cli {
namespace {

using platform::Status;

constexpr std::size_t kMaxTokenBytes = 4096;

int Fail(const std::string& message) {
  std::cerr << "mamori: " << message << "\n";
  return 1;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Status ReadToken(const std::string& file, std::string* out) {
  if (file == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (text.size() > kMaxTokenBytes) return Status::Error(-1, "token on standard input: too long");
    *out = Trim(std::move(text));
  } else {
    Status s = platform::Env::Default().ReadFile(file, kMaxTokenBytes, out);
    if (!s.ok()) return Status::Error(s.err(), "token file: " + s.message());
    *out = Trim(std::move(*out));
  }
  if (out->empty()) return Status::Error(-1, "token " + file + ": empty");
  return Status::Ok();
}

}  // namespace

int EnrollCommand(const EnrollArgs& args) {
  if (args.url.empty() || args.ca_file.empty() || args.token_file.empty()) {
    return Fail("enroll needs --url, --ca and --token-file (FILE or - for standard input)");
  }
  std::unique_ptr<platform::SecureDir> state;
  Status s = platform::SecureDir::Open(args.state_dir, 0700, &state);
  if (!s.ok()) return Fail("state directory: " + s.message());
  // Refuse before the token is spent.
  std::optional<agent::Enrollment> existing;
  s = agent::LoadEnrollment(*state, &existing);
  if (!s.ok() && !args.force) return Fail(s.message());
  if (existing && !args.force) {
    return Fail(args.state_dir + ": already enrolled as " + existing->terminal_id +
                " (use --force to enroll again)");
  }
  std::string ca_pem;
  s = platform::Env::Default().ReadFile(args.ca_file, 1 << 20, &ca_pem);
  if (!s.ok()) return Fail("CA file: " + s.message());
  std::string token;
  s = ReadToken(args.token_file, &token);
  if (!s.ok()) return Fail(s.message());
  agent::HostFacts facts;
  s = agent::ReadHostFacts(platform::Env::Default(), &facts);
  if (!s.ok()) return Fail("host facts: " + s.message());
  agent::Enrollment enrollment;
  s = agent::EnrollWithCollector(args.url, ca_pem, token, facts, &enrollment);
  OPENSSL_cleanse(token.data(), token.size());
  if (!s.ok()) return Fail(s.message());
  s = agent::SaveEnrollment(*state, enrollment, args.force);
  if (!s.ok()) return Fail(s.message());
  std::unique_ptr<agent::EventJournal> journal;
  s = agent::EventJournal::Open(*state, &journal);
  if (s.ok()) {
    s = journal->Record(agent::Event{std::time(nullptr),
                                     "agent.enrolled",
                                     {{"terminal_id", enrollment.terminal_id},
                                      {"group", enrollment.group},
                                      {"url", enrollment.url}}});
  }
  if (!s.ok()) return Fail("enrolled, but the journal: " + s.message());
  std::cout << "enrolled as " << enrollment.terminal_id << " (group " << enrollment.group << ") at "
            << enrollment.url << "\n";
  return 0;
}

int PolicyApplyCommand(const std::string& state_dir, const std::string& trust_file,
                       const std::string& bundle_file) {
  platform::Env& env = platform::Env::Default();
  policy::TrustSet trust;
  Status s = agent::LoadTrustFile(env, trust_file, &trust);
  if (!s.ok()) return Fail(s.message());
  std::unique_ptr<platform::SecureDir> state;
  s = platform::SecureDir::Open(state_dir, 0700, &state);
  if (!s.ok()) return Fail("state directory: " + s.message());
  std::optional<agent::Enrollment> enrollment;
  s = agent::LoadEnrollment(*state, &enrollment);
  if (!s.ok()) return Fail(s.message());
  std::vector<std::string> groups;
  if (enrollment && !enrollment->group.empty()) groups.push_back(enrollment->group);
  agent::PolicyState policy_state(env, state_dir, std::move(trust), groups);
  s = policy_state.Load();
  if (!s.ok()) std::cerr << "mamori: " << s.message() << "\n";
  std::string bundle;
  s = env.ReadFile(bundle_file, policy::kMaxBundleBytes, &bundle);
  if (!s.ok()) return Fail("bundle: " + s.message());
  std::unique_ptr<agent::EventJournal> journal;
  s = agent::EventJournal::Open(*state, &journal);
  if (!s.ok()) return Fail(s.message());
  const auto now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  const auto r = agent::ApplyBundle(policy_state, *journal, bundle, now);
  if (r.already_applied) {
    std::cout << "policy version " << *policy_state.version() << " is already applied\n";
    return 0;
  }
  if (!r.applied) {
    return Fail(bundle_file + ": rejected (" +
                (r.rejected ? std::string(policy::ToString(*r.rejected)) : "storage") +
                "): " + r.message);
  }
  std::cout << "policy version " << *policy_state.version() << " applied\n";
  return 0;
}

}  // namespace mamori::cli
