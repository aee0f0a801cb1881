#include "mamori/policy/signing.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <stdexcept>

#include "mamori/policy/text.h"

namespace mamori::policy {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using Bio = std::unique_ptr<BIO, BioDeleter>;

constexpr std::string_view kContext{"mamori-policy-signature-v1\0", 27};

}  // namespace

struct SigningKey::Impl {
  Pkey key;
};

std::string SignedMessage(std::string_view payload) {
  std::string message(kContext);
  message.append(payload);
  return message;
}

std::string KeyIdOf(const RawPublicKey& key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(key.data(), key.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return HexEncode(std::span<const unsigned char>(digest, 16));
}

SigningKey::SigningKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

SigningKey SigningKey::Generate() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) throw std::runtime_error("Ed25519 key generation failed");
  return SigningKey(std::make_unique<Impl>(Impl{std::move(key)}));
}

std::optional<SigningKey> SigningKey::FromPem(std::string_view pem) {
  if (pem.size() > 64 * 1024) return std::nullopt;
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return std::nullopt;
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key || !EVP_PKEY_is_a(key.get(), "ED25519")) return std::nullopt;
  return SigningKey(std::make_unique<Impl>(Impl{std::move(key)}));
}

std::string SigningKey::ToPem() const {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    throw std::runtime_error("cannot encode the private key");
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<std::size_t>(length));
  OPENSSL_cleanse(data, static_cast<std::size_t>(length));
  return pem;
}

RawPublicKey SigningKey::public_key() const {
  RawPublicKey raw{};
  std::size_t length = raw.size();
  if (EVP_PKEY_get_raw_public_key(impl_->key.get(), raw.data(), &length) != 1 ||
      length != raw.size()) {
    throw std::runtime_error("cannot read the public key");
  }
  return raw;
}

std::vector<unsigned char> SigningKey::Sign(std::string_view payload) const {
  const std::string message = SignedMessage(payload);
  MdCtx ctx(EVP_MD_CTX_new());
  std::vector<unsigned char> signature(64);
  std::size_t length = signature.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), signature.data(), &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    throw std::runtime_error("Ed25519 signing failed");
  }
  signature.resize(length);
  return signature;
}

std::string EncodePublicKey(const RawPublicKey& key) { return Base64Encode(key); }

std::optional<RawPublicKey> DecodePublicKey(std::string_view base64) {
  auto bytes = Base64Decode(base64);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  RawPublicKey key;
  std::copy(bytes->begin(), bytes->end(), key.begin());
  // Refuse points OpenSSL cannot load, so a bad key is caught when the trust set is read.
  Pkey pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  if (!pkey) return std::nullopt;
  return key;
}

bool VerifySignature(const RawPublicKey& key, std::string_view payload,
                     std::span<const unsigned char> signature) {
  if (signature.size() != 64) return false;
  Pkey pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return false;
  }
  const std::string message = SignedMessage(payload);
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

}  // namespace mamori::policy
