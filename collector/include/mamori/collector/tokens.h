// Bearer secrets: enrollment tokens and API tokens. A token reads "<prefix>_<id>.<secret>"; the
// store keeps the id and SHA-256 of the secret only, and a presented secret is compared in
// constant time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mamori::collector {

inline constexpr std::string_view kEnrollmentTokenPrefix = "mme";
inline constexpr std::string_view kApiTokenPrefix = "mma";

struct TokenParts {
  std::string id;
  std::string secret;
};

struct NewToken {
  std::string id;
  std::string text;         // what the holder receives, shown once
  std::string secret_hash;  // what the store keeps
};

NewToken GenerateToken(std::string_view prefix);
std::optional<TokenParts> ParseToken(std::string_view text, std::string_view prefix);
std::string HashSecret(std::string_view secret);
bool SecretMatches(std::string_view secret, std::string_view stored_hash);

// Random bytes from OpenSSL's CSPRNG, as lowercase hex.
std::string RandomHex(std::size_t bytes);

}  // namespace mamori::collector
