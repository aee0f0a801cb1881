// Ed25519 keys and signatures over policy bytes (OpenSSL EVP).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mamori::policy {

using RawPublicKey = std::array<unsigned char, 32>;

// The id of a key: the first 16 bytes of SHA-256 over the raw public key, in lowercase hex.
std::string KeyIdOf(const RawPublicKey& key);

class SigningKey {
 public:
  static SigningKey Generate();
  // PKCS#8 PEM, as written by ToPem. Returns nullopt on anything else.
  static std::optional<SigningKey> FromPem(std::string_view pem);

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  std::string ToPem() const;
  RawPublicKey public_key() const;
  std::string key_id() const { return KeyIdOf(public_key()); }
  // Signs the domain-separated message (see SignedMessage) over `payload`.
  std::vector<unsigned char> Sign(std::string_view payload) const;

 private:
  struct Impl;
  explicit SigningKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Public keys travel as base64 of the 32 raw bytes.
std::string EncodePublicKey(const RawPublicKey& key);
std::optional<RawPublicKey> DecodePublicKey(std::string_view base64);

bool VerifySignature(const RawPublicKey& key, std::string_view payload,
                     std::span<const unsigned char> signature);

// Signatures cover a context string plus the payload, so a policy signature can never be replayed
// as a signature over any other kind of Mamori message.
std::string SignedMessage(std::string_view payload);

}  // namespace mamori::policy
