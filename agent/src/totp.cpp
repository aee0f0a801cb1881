#include "mamori/agent/totp.h"

#include <liboath/oath.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

namespace mamori::agent {
namespace {

void InitOath() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (oath_init() != OATH_OK) std::abort();
  });
}

int OathFlags(TotpAlgorithm a) {
  switch (a) {
    case TotpAlgorithm::kSha1:
      return 0;
    case TotpAlgorithm::kSha256:
      return OATH_TOTP_HMAC_SHA256;
    case TotpAlgorithm::kSha512:
      return OATH_TOTP_HMAC_SHA512;
  }
  return 0;
}

// liboath hands each candidate code to this function instead of comparing with strcmp, so the
// time taken does not depend on how many leading digits of a guess were right.
int ConstantTimeCompare(void* handle, const char* candidate) {
  const auto* code = static_cast<const std::string_view*>(handle);
  if (std::char_traits<char>::length(candidate) != code->size()) return 1;
  return CRYPTO_memcmp(candidate, code->data(), code->size()) == 0 ? 0 : 1;
}

}  // namespace

std::string_view ToString(TotpAlgorithm a) {
  switch (a) {
    case TotpAlgorithm::kSha1:
      return "SHA1";
    case TotpAlgorithm::kSha256:
      return "SHA256";
    case TotpAlgorithm::kSha512:
      return "SHA512";
  }
  return "?";
}

std::optional<TotpAlgorithm> ParseTotpAlgorithm(std::string_view text) {
  if (text == "SHA1") return TotpAlgorithm::kSha1;
  if (text == "SHA256") return TotpAlgorithm::kSha256;
  if (text == "SHA512") return TotpAlgorithm::kSha512;
  return std::nullopt;
}

bool ValidTotpParams(const TotpParams& p) {
  return p.digits >= 6 && p.digits <= 8 && p.period >= 1 && p.period <= 300;
}

std::uint64_t TimeStep(const TotpParams& p, std::time_t now) {
  return static_cast<std::uint64_t>(now) / p.period;
}

std::string GenerateTotp(const SecretBytes& secret, const TotpParams& p, std::time_t now) {
  InitOath();
  char out[16] = {};
  int rc = oath_totp_generate2(reinterpret_cast<const char*>(secret.data()), secret.size(), now,
                               p.period, OATH_TOTP_DEFAULT_START_TIME, p.digits,
                               OathFlags(p.algorithm), out);
  if (rc != OATH_OK) return {};
  return out;
}

std::optional<std::uint64_t> MatchTotp(const SecretBytes& secret, const TotpParams& p,
                                       std::time_t now, unsigned window, std::string_view code) {
  if (!ValidTotpParams(p) || code.size() != p.digits ||
      !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  InitOath();
  int position = 0;
  std::uint64_t counter = 0;
  int rc = oath_totp_validate4_callback(reinterpret_cast<const char*>(secret.data()), secret.size(),
                                        now, p.period, OATH_TOTP_DEFAULT_START_TIME, p.digits,
                                        window, &position, &counter, OathFlags(p.algorithm),
                                        ConstantTimeCompare, &code);
  if (rc < 0) return std::nullopt;
  return counter;
}

std::string Base32Encode(const SecretBytes& secret) {
  InitOath();
  char* out = nullptr;
  size_t len = 0;
  if (oath_base32_encode(reinterpret_cast<const char*>(secret.data()), secret.size(), &out, &len) !=
      OATH_OK) {
    return {};
  }
  std::string text(out, len);
  OPENSSL_cleanse(out, len);
  std::free(out);
  // Authenticator apps want the unpadded form.
  while (!text.empty() && text.back() == '=') text.pop_back();
  return text;
}

std::optional<SecretBytes> Base32Decode(std::string_view text) {
  InitOath();
  char* out = nullptr;
  size_t len = 0;
  if (oath_base32_decode(text.data(), text.size(), &out, &len) != OATH_OK) return std::nullopt;
  SecretBytes bytes(reinterpret_cast<const unsigned char*>(out), len);
  OPENSSL_cleanse(out, len);
  std::free(out);
  return bytes;
}

}  // namespace mamori::agent
