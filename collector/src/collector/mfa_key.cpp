#include "mamori/collector/mfa_key.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "mamori/platform/env.h"

namespace mamori::collector {
namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

MfaKey MfaKey::Load(const std::string& path, bool create) {
  if (path.empty()) {
    throw MfaKeyError("mfa_key_file is not configured: MFA credentials need a key file");
  }
  platform::Env& env = platform::Env::Default();
  std::string data;
  platform::Status s = env.ReadPrivateFile(path, kMfaKeyBytes + 1, &data);
  if (!s.ok() && s.err() == ENOENT && create) {
    std::array<unsigned char, kMfaKeyBytes> fresh{};
    if (RAND_bytes(fresh.data(), static_cast<int>(fresh.size())) != 1) {
      throw MfaKeyError(path + ": no random bytes for a new MFA key");
    }
    s = env.CreateNewFile(path, std::string_view(reinterpret_cast<char*>(fresh.data()), 32), 0600);
    OPENSSL_cleanse(fresh.data(), fresh.size());
    // Another collector may have created it at the same moment: read whichever file won.
    if (s.ok() || s.err() == EEXIST) s = env.ReadPrivateFile(path, kMfaKeyBytes + 1, &data);
  }
  if (!s.ok()) throw MfaKeyError("MFA key file " + s.message());
  if (data.size() != kMfaKeyBytes) {
    const std::size_t size = data.size();
    OPENSSL_cleanse(data.data(), data.size());
    throw MfaKeyError("MFA key file " + path + ": must hold exactly 32 bytes, holds " +
                      std::to_string(size));
  }
  std::array<unsigned char, kMfaKeyBytes> key{};
  std::copy(data.begin(), data.end(), key.begin());
  OPENSSL_cleanse(data.data(), data.size());
  MfaKey out(key);
  OPENSSL_cleanse(key.data(), key.size());
  return out;
}

MfaKey::~MfaKey() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string MfaKey::Seal(std::string_view plaintext, std::string_view associated_data) const {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  auto* body = nonce + kNonceBytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (RAND_bytes(nonce, kNonceBytes) != 1 || !ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), body, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), body + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, body + plaintext.size()) !=
          1) {
    OPENSSL_cleanse(out.data(), out.size());
    throw MfaKeyError("AES-256-GCM encryption failed");
  }
  return out;
}

std::optional<std::string> MfaKey::Open(std::string_view sealed,
                                        std::string_view associated_data) const {
  if (sealed.size() < kNonceBytes + kTagBytes) return std::nullopt;
  const std::size_t body_size = sealed.size() - kNonceBytes - kTagBytes;
  const unsigned char* nonce = Bytes(sealed);
  const unsigned char* body = nonce + kNonceBytes;
  std::string out(body_size, '\0');
  unsigned char tag[kTagBytes];
  std::copy(body + body_size, body + body_size + kTagBytes, tag);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, body,
                        static_cast<int>(body_size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return std::nullopt;
  }
  return out;
}

}  // namespace mamori::collector
