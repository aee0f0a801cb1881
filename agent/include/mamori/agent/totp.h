// RFC 6238 TOTP through liboath: the OTP arithmetic is liboath's, the comparison is constant-time.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "mamori/agent/secret.h"

namespace mamori::agent {

enum class TotpAlgorithm { kSha1, kSha256, kSha512 };

std::string_view ToString(TotpAlgorithm a);  // "SHA1", "SHA256", "SHA512"
std::optional<TotpAlgorithm> ParseTotpAlgorithm(std::string_view text);

struct TotpParams {
  TotpAlgorithm algorithm = TotpAlgorithm::kSha1;
  unsigned digits = 6;   // 6, 7 or 8
  unsigned period = 30;  // seconds per time step
  friend bool operator==(const TotpParams&, const TotpParams&) = default;
};

bool ValidTotpParams(const TotpParams& p);

// The time step (counter) that `now` falls in.
std::uint64_t TimeStep(const TotpParams& p, std::time_t now);

// The code for time `now`; empty when liboath fails (bad parameters).
std::string GenerateTotp(const SecretBytes& secret, const TotpParams& p, std::time_t now);

// The time step whose code equals `code`, searching `window` steps either side of now's step;
// nullopt when none matches or `code` is not exactly p.digits decimal digits.
std::optional<std::uint64_t> MatchTotp(const SecretBytes& secret, const TotpParams& p,
                                       std::time_t now, unsigned window, std::string_view code);

// Base32 (RFC 4648) as authenticator apps expect it, through liboath; decoding accepts lower case
// and spaces. nullopt on invalid text.
std::string Base32Encode(const SecretBytes& secret);
std::optional<SecretBytes> Base32Decode(std::string_view text);

}  // namespace mamori::agent
