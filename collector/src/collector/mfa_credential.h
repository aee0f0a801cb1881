// The pieces of a central MFA enrollment that are not storage: the new secret, its otpauth URI
// for the authenticator app, and the agent's import format (agent/README.md) it is delivered in.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "mamori/collector/store.h"

namespace mamori::collector {

// The agent's rule for user names: [A-Za-z0-9_][A-Za-z0-9_.@-]*, at most 64 bytes.
bool ValidMfaUser(std::string_view user);

// 160 random bits (RAND_bytes), as RFC 4226 recommends.
std::string NewTotpSecret();

// RFC 4648 Base32 through liboath, unpadded as authenticator apps expect it.
std::string Base32(std::string_view bytes);

// otpauth://totp/ISSUER:USER?secret=…&issuer=…&algorithm=…&digits=…&period=…
std::string OtpauthUri(const MfaCredential& c, std::string_view secret, std::string_view issuer);

// {"format":"mamori-mfa-import","version":1,…}: the credential with its secret in Base32 and no
// recovery codes (central enrollment issues none: an administrator resets or unlocks instead).
boost::json::object ImportFormat(const MfaCredential& c, std::string_view secret);

}  // namespace mamori::collector
