#include "mamori/collector/tokens.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>
#include <vector>

#include "mamori/policy/text.h"

namespace mamori::collector {
namespace {

constexpr std::size_t kIdBytes = 8;
constexpr std::size_t kSecretBytes = 32;

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string RandomHex(std::size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(buffer.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  return policy::HexEncode(buffer);
}

NewToken GenerateToken(std::string_view prefix) {
  NewToken token;
  token.id = RandomHex(kIdBytes);
  const std::string secret = RandomHex(kSecretBytes);
  token.text = std::string(prefix) + "_" + token.id + "." + secret;
  token.secret_hash = HashSecret(secret);
  return token;
}

std::optional<TokenParts> ParseToken(std::string_view text, std::string_view prefix) {
  if (text.size() != prefix.size() + 1 + 2 * kIdBytes + 1 + 2 * kSecretBytes) return std::nullopt;
  if (text.substr(0, prefix.size()) != prefix || text[prefix.size()] != '_') return std::nullopt;
  text.remove_prefix(prefix.size() + 1);
  const std::string_view id = text.substr(0, 2 * kIdBytes);
  if (text[2 * kIdBytes] != '.') return std::nullopt;
  const std::string_view secret = text.substr(2 * kIdBytes + 1);
  if (!IsLowerHex(id) || !IsLowerHex(secret)) return std::nullopt;
  return TokenParts{std::string(id), std::string(secret)};
}

std::string HashSecret(std::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

bool SecretMatches(std::string_view secret, std::string_view stored_hash) {
  const std::string presented = HashSecret(secret);
  return stored_hash.size() == presented.size() &&
         CRYPTO_memcmp(presented.data(), stored_hash.data(), presented.size()) == 0;
}

}  // namespace mamori::collector
