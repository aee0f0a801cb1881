#include "mamori/agent/recovery_codes.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>

namespace mamori::agent {
namespace {

constexpr std::size_t kHashBytes = 32;
constexpr std::size_t kSaltBytes = 16;

std::optional<std::vector<unsigned char>> Hash(const RecoveryHashes& h, std::string_view code) {
  std::vector<unsigned char> out(kHashBytes);
  if (PKCS5_PBKDF2_HMAC(code.data(), static_cast<int>(code.size()), h.salt.data(),
                        static_cast<int>(h.salt.size()), static_cast<int>(h.iterations),
                        EVP_sha256(), static_cast<int>(out.size()), out.data()) != 1) {
    return std::nullopt;
  }
  return out;
}

// A uniformly random 8-digit string: 32-bit draws above the largest multiple of 10^8 are redrawn.
std::optional<std::string> RandomCode() {
  constexpr std::uint32_t kRange = 100000000;
  constexpr std::uint32_t kLimit = 0xFFFFFFFFu - (0xFFFFFFFFu % kRange);
  for (;;) {
    std::uint32_t v = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) return std::nullopt;
    if (v >= kLimit) continue;
    std::string s = std::to_string(v % kRange);
    return std::string(kRecoveryCodeDigits - s.size(), '0') + s;
  }
}

}  // namespace

std::size_t RecoveryHashes::Remaining() const {
  return static_cast<std::size_t>(
      std::count_if(hashes.begin(), hashes.end(), [](const auto& h) { return !h.empty(); }));
}

std::optional<RecoverySet> GenerateRecoveryCodes(std::uint32_t iterations) {
  RecoverySet set;
  set.hashes.iterations = iterations;
  set.hashes.salt.resize(kSaltBytes);
  if (RAND_bytes(set.hashes.salt.data(), kSaltBytes) != 1) return std::nullopt;
  while (set.codes.size() < kRecoveryCodeCount) {
    auto code = RandomCode();
    if (!code) return std::nullopt;
    // Ten distinct codes, so each one counts as one login.
    if (std::find(set.codes.begin(), set.codes.end(), *code) != set.codes.end()) continue;
    auto hash = Hash(set.hashes, *code);
    if (!hash) return std::nullopt;
    set.hashes.hashes.push_back(std::move(*hash));
    set.codes.push_back(*code);
  }
  for (auto& c : set.codes) c = c.substr(0, 4) + "-" + c.substr(4);
  return set;
}

std::optional<std::string> NormalizeRecoveryCode(std::string_view input) {
  std::string digits;
  for (char c : input) {
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (c != '-' && c != ' ') {
      return std::nullopt;
    }
  }
  if (digits.size() != kRecoveryCodeDigits) return std::nullopt;
  return digits;
}

std::optional<std::size_t> MatchRecoveryCode(const RecoveryHashes& h, std::string_view code) {
  if (h.salt.empty() || h.iterations == 0) return std::nullopt;
  auto hash = Hash(h, code);
  if (!hash) return std::nullopt;
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < h.hashes.size(); ++i) {
    if (h.hashes[i].size() != kHashBytes) continue;
    if (CRYPTO_memcmp(h.hashes[i].data(), hash->data(), kHashBytes) == 0) found = i;
  }
  return found;
}

}  // namespace mamori::agent
