#include "mamori/agent/host_key.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <string>

namespace mamori::agent {
namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

}  // namespace

platform::Status HostKey::LoadOrCreate(platform::SecureDir& dir, std::optional<HostKey>* out) {
  const std::string name(kFileName);
  std::string data;
  platform::Status s = dir.Read(name, 4096, &data);
  if (!s.ok() && s.err() == ENOENT) {
    SecretBytes fresh(kBytes);
    if (RAND_bytes(fresh.data(), kBytes) != 1) {
      return platform::Status::Error(-1, "random bytes for " + dir.path() + "/" + name);
    }
    s = dir.CreateAtomic(
        name, std::string_view(reinterpret_cast<const char*>(fresh.data()), fresh.size()), 0600);
    // Another process may have created it first; its key is the one to use.
    if (!s.ok() && s.err() != EEXIST) return s;
    s = dir.Read(name, 4096, &data);
  }
  if (!s.ok()) return s;
  if (data.size() != kBytes) {
    OPENSSL_cleanse(data.data(), data.size());
    return platform::Status::Error(-1, dir.path() + "/" + name + ": expected " +
                                           std::to_string(kBytes) + " bytes, found " +
                                           std::to_string(data.size()));
  }
  out->emplace(SecretBytes(reinterpret_cast<const unsigned char*>(data.data()), data.size()));
  OPENSSL_cleanse(data.data(), data.size());
  return platform::Status::Ok();
}

std::optional<SealedSecret> HostKey::Seal(const SecretBytes& plain, std::string_view aad) const {
  SealedSecret sealed;
  sealed.nonce.resize(kNonceBytes);
  sealed.tag.resize(kTagBytes);
  sealed.ciphertext.resize(plain.size());
  if (RAND_bytes(sealed.nonce.data(), kNonceBytes) != 1) return std::nullopt;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), sealed.nonce.data()) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), sealed.ciphertext.data(), &len, plain.data(),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), sealed.ciphertext.data() + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, sealed.tag.data()) != 1) {
    return std::nullopt;
  }
  return sealed;
}

std::optional<SecretBytes> HostKey::Open(const SealedSecret& sealed, std::string_view aad) const {
  if (sealed.nonce.size() != kNonceBytes || sealed.tag.size() != kTagBytes) return std::nullopt;
  SecretBytes plain(sealed.ciphertext.size());
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  std::vector<unsigned char> tag = sealed.tag;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), sealed.nonce.data()) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plain.data(), &len, sealed.ciphertext.data(),
                        static_cast<int>(sealed.ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), plain.data() + len, &len) != 1) {
    return std::nullopt;
  }
  return plain;
}

}  // namespace mamori::agent
