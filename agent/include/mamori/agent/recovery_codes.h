// One-time recovery codes: 8 random digits each, kept only as salted PBKDF2-HMAC-SHA256 hashes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mamori::agent {

inline constexpr std::size_t kRecoveryCodeCount = 10;
inline constexpr std::size_t kRecoveryCodeDigits = 8;
// About 30 ms a check on this class of machine: slows guessing from a stolen store, yet a
// recovery login stays well under the PAM module's timeout.
inline constexpr std::uint32_t kRecoveryIterations = 60000;

struct RecoveryHashes {
  std::string kdf = "PBKDF2-HMAC-SHA256";
  std::uint32_t iterations = kRecoveryIterations;
  std::vector<unsigned char> salt;                 // 16 bytes, one per user
  std::vector<std::vector<unsigned char>> hashes;  // 32 bytes each; empty once used
  std::size_t Remaining() const;
  friend bool operator==(const RecoveryHashes&, const RecoveryHashes&) = default;
};

// Fresh codes (shown once, as "1234-5678") and their hashes. nullopt when the RNG fails.
struct RecoverySet {
  std::vector<std::string> codes;
  RecoveryHashes hashes;
};
std::optional<RecoverySet> GenerateRecoveryCodes(std::uint32_t iterations = kRecoveryIterations);

// "12345678", "1234-5678" and "1234 5678" are the same code; nullopt when it is not 8 digits.
std::optional<std::string> NormalizeRecoveryCode(std::string_view input);

// The index of the unused code equal to `code`, compared in constant time against every entry;
// nullopt when none matches.
std::optional<std::size_t> MatchRecoveryCode(const RecoveryHashes& h, std::string_view code);

}  // namespace mamori::agent
