// The line protocol between pam_mamori.so and the agent: one JSON object per connection each way.
//   check:  {"op":"check","service":…,"user":…,"tty":…,"rhost":…}          → "prompt" or a final
//   answer verify: {"op":"verify","service":…,"user":…,"code":…,"tty":…,"rhost":…} → a final answer
// Answer: {"result":"success"|"auth_err"|"maxtries"|"user_unknown"|"ignore"|"prompt"}.
// Asking first lets the module skip the prompt for logins that need no second factor.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mamori::agent {

enum class MfaOp { kCheck, kVerify };

struct MfaRequest {
  MfaOp op = MfaOp::kVerify;
  std::string service;
  std::string user;
  std::string code;  // verify only; wiped by the destructor
  std::string tty;
  std::string rhost;
  MfaRequest() = default;
  MfaRequest(const MfaRequest&) = delete;
  MfaRequest& operator=(const MfaRequest&) = delete;
  MfaRequest(MfaRequest&&) = default;
  ~MfaRequest();
};

enum class MfaAnswer { kSuccess, kAuthError, kMaxTries, kUserUnknown, kIgnore, kPrompt };

inline constexpr std::size_t kMaxFieldBytes = 256;

std::string_view ToString(MfaAnswer a);

// Parses one request line; on failure `error` names the field (never echoing the code).
std::optional<MfaRequest> ParseMfaRequest(std::string_view line, std::string* error);
// The request line, without the newline. The caller wipes the returned string after sending it.
std::string SerializeMfaRequest(const MfaRequest& request);

std::string SerializeMfaAnswer(MfaAnswer answer);
std::optional<MfaAnswer> ParseMfaAnswer(std::string_view line);

}  // namespace mamori::agent
