// One user's TOTP credential as stored under the agent's state directory, and its file format
// (JSON, versioned; specified in agent/README.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mamori/agent/host_key.h"
#include "mamori/agent/recovery_codes.h"
#include "mamori/agent/totp.h"

namespace mamori::agent {

inline constexpr std::string_view kCredentialFormat = "mamori-mfa-credential";
inline constexpr std::uint64_t kCredentialVersion = 1;
inline constexpr std::size_t kMinSecretBytes = 20;  // 160 bits
inline constexpr std::size_t kMaxSecretBytes = 64;

struct CredentialRecord {
  std::string user;
  TotpParams totp;
  SealedSecret secret;
  std::int64_t enrolled_at = 0;   // Unix seconds
  std::uint64_t last_step = 0;    // the last accepted time step; 0 before the first login
  std::uint32_t failures = 0;     // consecutive failures since the last success or lockout
  std::int64_t locked_until = 0;  // Unix seconds; locked while now < locked_until
  RecoveryHashes recovery;
  friend bool operator==(const CredentialRecord&, const CredentialRecord&) = default;
};

// Names usable as a file name and as a login: [A-Za-z0-9_][A-Za-z0-9_.@-]*, at most 64 bytes.
bool ValidUserName(std::string_view user);

// The associated data that binds a sealed secret to its user.
std::string SecretBinding(std::string_view user);

std::string SerializeCredential(const CredentialRecord& record);

// Parses a record; on failure `error` names the field and what is wrong with it.
std::optional<CredentialRecord> ParseCredential(std::string_view json, std::string* error);

// A credential enrolled elsewhere (the collector), before it is sealed with this host's key:
// plaintext secret in Base32 plus the recovery code hashes. Format in agent/README.md.
struct CredentialImport {
  std::string user;
  TotpParams totp;
  SecretBytes secret;
  std::int64_t enrolled_at = 0;
  RecoveryHashes recovery;
};
inline constexpr std::string_view kImportFormat = "mamori-mfa-import";
std::optional<CredentialImport> ParseCredentialImport(std::string_view json, std::string* error);

}  // namespace mamori::agent
