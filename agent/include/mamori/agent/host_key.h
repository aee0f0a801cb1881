// The host key: 32 random bytes in a root-only 0600 file that encrypt the TOTP secrets at rest
// (AES-256-GCM). A copied credential file is useless without it, and a record moved to another
// user's name fails authentication because the user name is bound in as associated data.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "mamori/agent/secret.h"
#include "mamori/platform/secure_dir.h"

namespace mamori::agent {

struct SealedSecret {
  std::vector<unsigned char> nonce;  // 12 bytes, fresh for every sealing
  std::vector<unsigned char> ciphertext;
  std::vector<unsigned char> tag;  // 16 bytes
  friend bool operator==(const SealedSecret&, const SealedSecret&) = default;
};

class HostKey {
 public:
  static constexpr std::size_t kBytes = 32;
  static constexpr std::string_view kFileName = "host.key";

  explicit HostKey(SecretBytes key) : key_(std::move(key)) {}

  // Reads kFileName in `dir`, creating it with fresh random bytes when absent. A file of the wrong
  // size is an error, never replaced: replacing it would orphan every enrolled secret.
  static platform::Status LoadOrCreate(platform::SecureDir& dir, std::optional<HostKey>* out);

  std::optional<SealedSecret> Seal(const SecretBytes& plain, std::string_view aad) const;
  std::optional<SecretBytes> Open(const SealedSecret& sealed, std::string_view aad) const;

 private:
  SecretBytes key_;
};

}  // namespace mamori::agent
