// The collector's MFA key: AES-256-GCM over the TOTP secrets it stores. The key lives in a file of
// its own, never in the database that holds the sealed secrets, so a copy of the database (a
// backup, a replica) reveals no secret.
#pragma once

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mamori::collector {

// The key file is missing, unreadable, of the wrong size or mode: MFA administration stops.
class MfaKeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::size_t kMfaKeyBytes = 32;

class MfaKey {
 public:
  // Reads the key from `path`: a regular file of exactly 32 bytes, owned by the collector's user,
  // mode 0600 (no access for group or others), no link. When the file is absent and `create` is
  // set, writes 32 random bytes there first (O_EXCL, 0600, synced). Throws MfaKeyError naming
  // the file and what is wrong.
  static MfaKey Load(const std::string& path, bool create);
  explicit MfaKey(const std::array<unsigned char, kMfaKeyBytes>& key) : key_(key) {}
  MfaKey(const MfaKey&) = default;
  MfaKey& operator=(const MfaKey&) = default;
  ~MfaKey();

  // A fresh 96-bit nonce, then the ciphertext, then the 128-bit tag; `associated_data` (the user
  // name) is authenticated, so a sealed secret moved to another user's row does not open.
  std::string Seal(std::string_view plaintext, std::string_view associated_data) const;
  // nullopt when the text was altered, is truncated, or belongs to other associated data.
  std::optional<std::string> Open(std::string_view sealed, std::string_view associated_data) const;

 private:
  std::array<unsigned char, kMfaKeyBytes> key_;
};

}  // namespace mamori::collector
