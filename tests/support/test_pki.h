// Keys and certificate signing requests made with OpenSSL in tests, as an enrolling terminal
// would make them.
#pragma once

#include <string>
#include <string_view>

namespace mamori::testing {

struct KeyAndCsr {
  std::string key_pem;
  std::string csr_pem;
};

enum class KeyKind { kP256, kEd25519, kRsa2048 };

// `subject_cn` goes into the CSR's subject; the collector must ignore it.
KeyAndCsr MakeCsr(KeyKind kind, std::string_view subject_cn = "requested-name");

// A self-signed certificate for the key, with the given subject: what an impostor without the
// collector's CA could make.
std::string SelfSignedCert(std::string_view key_pem, std::string_view cn, std::string_view ou);

// Fields of a PEM certificate, for assertions.
std::string SubjectField(std::string_view cert_pem, std::string_view field);
// Verifies `cert_pem` against `ca_pem` for the given purpose ("sslclient" or "sslserver").
bool VerifiesAgainst(std::string_view cert_pem, std::string_view ca_pem, std::string_view purpose);
// The subjectAltName extension as OpenSSL prints it, e.g. "DNS:localhost, IP Address:127.0.0.1".
std::string SubjectAltNames(std::string_view cert_pem);

}  // namespace mamori::testing
