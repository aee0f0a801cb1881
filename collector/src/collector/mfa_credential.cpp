#include "collector/mfa_credential.h"

#include <liboath/oath.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace mamori::collector {
namespace {

constexpr std::size_t kSecretBytes = 20;
constexpr std::size_t kSaltBytes = 16;

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("no random bytes");
  }
  return out;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string Encode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

}  // namespace

bool ValidMfaUser(std::string_view user) {
  if (user.empty() || user.size() > 64) return false;
  for (std::size_t i = 0; i < user.size(); ++i) {
    const char c = user[i];
    const bool word =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!word && (i == 0 || (c != '.' && c != '@' && c != '-'))) return false;
  }
  return true;
}

std::string NewTotpSecret() { return RandomBytes(kSecretBytes); }

std::string Base32(std::string_view bytes) {
  static std::once_flag once;
  std::call_once(once, [] {
    if (oath_init() != OATH_OK) throw std::runtime_error("liboath failed to initialize");
  });
  char* out = nullptr;
  size_t len = 0;
  if (oath_base32_encode(bytes.data(), bytes.size(), &out, &len) != OATH_OK) {
    throw std::runtime_error("Base32 encoding failed");
  }
  std::string text(out, len);
  OPENSSL_cleanse(out, len);
  std::free(out);
  while (!text.empty() && text.back() == '=') text.pop_back();
  return text;
}

std::string OtpauthUri(const MfaCredential& c, std::string_view secret, std::string_view issuer) {
  std::string b32 = Base32(secret);
  std::string uri = "otpauth://totp/" + Encode(issuer) + ":" + Encode(c.user) + "?secret=" + b32 +
                    "&issuer=" + Encode(issuer) + "&algorithm=" + c.algorithm +
                    "&digits=" + std::to_string(c.digits) + "&period=" + std::to_string(c.period);
  OPENSSL_cleanse(b32.data(), b32.size());
  return uri;
}

boost::json::object ImportFormat(const MfaCredential& c, std::string_view secret) {
  boost::json::object totp;
  totp["algorithm"] = c.algorithm;
  totp["digits"] = c.digits;
  totp["period"] = c.period;
  boost::json::object recovery;
  recovery["kdf"] = "PBKDF2-HMAC-SHA256";
  recovery["iterations"] = 60000;
  recovery["salt"] = Base64(RandomBytes(kSaltBytes));
  recovery["hashes"] = boost::json::array();
  boost::json::object o;
  o["format"] = "mamori-mfa-import";
  o["version"] = 1;
  o["user"] = c.user;
  o["totp"] = std::move(totp);
  std::string b32 = Base32(secret);
  o["secret_base32"] = b32;
  OPENSSL_cleanse(b32.data(), b32.size());
  o["enrolled_at"] = c.enrolled_at;
  o["recovery"] = std::move(recovery);
  return o;
}

}  // namespace mamori::collector
