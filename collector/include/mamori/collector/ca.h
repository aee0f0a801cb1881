// The collector's certificate authorities. The terminal CA signs the CSRs of enrolling terminals
// into client certificates whose subject is the terminal id, and the server certificate of the
// listeners. The admin CA signs only the client certificates of administrators and IT staff: the
// agent listener trusts the terminal CA alone and the admin listener the admin CA alone, so a
// certificate of one kind fails the TLS handshake on the other listener.
// Keys are EC P-256; each CA's key and certificate live in the store, created on first start.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mamori/collector/store.h"

namespace mamori::collector {

struct IssuedCertificate {
  std::string cert_pem;
  std::string cert_fingerprint;  // SHA-256 of the certificate DER, lowercase hex
  std::string key_fingerprint;   // SHA-256 of the SubjectPublicKeyInfo DER, lowercase hex
};

struct ServerCredentials {
  std::string key_pem;
  std::string cert_pem;  // followed by nothing: clients pin the CA certificate
};

class CertificateAuthority {
 public:
  static CertificateAuthority LoadOrCreate(Store& store, UnixTime now);
  static CertificateAuthority LoadOrCreateAdmin(Store& store, UnixTime now);

  CertificateAuthority(CertificateAuthority&&) noexcept;
  CertificateAuthority& operator=(CertificateAuthority&&) noexcept;
  ~CertificateAuthority();

  const std::string& cert_pem() const;

  // Checks the CSR's own signature and key type (P-256 or Ed25519), then issues a client
  // certificate for `terminal_id`. The CA chooses the subject; nothing in the CSR's subject is
  // copied. Returns an error message naming what was wrong with the CSR.
  std::variant<IssuedCertificate, std::string> SignTerminalCsr(std::string_view csr_pem,
                                                               const std::string& terminal_id,
                                                               UnixTime now, int days) const;

  // Admin CA only: checks the CSR as above and issues a client certificate for `name` whose
  // organizational unit carries `role` (AdminCertOu). Nothing of the CSR's subject is copied.
  std::variant<IssuedCertificate, std::string> SignAdminCsr(std::string_view csr_pem,
                                                            const std::string& name, Role role,
                                                            UnixTime now, int days) const;

  // A fresh key and a certificate for the listeners, valid for DNS names and IP addresses.
  ServerCredentials IssueServerCredentials(const std::vector<std::string>& names,
                                           UnixTime now) const;

 private:
  struct Impl;
  explicit CertificateAuthority(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The organizational unit of terminal certificates; the agent listener accepts no other client
// certificate.
inline constexpr std::string_view kTerminalCertOu = "mamori-terminal";
// The organizational unit of an admin client certificate: "mamori-role-admin" or
// "mamori-role-it-read".
std::string AdminCertOu(Role role);

}  // namespace mamori::collector
