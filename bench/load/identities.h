// Enrolled identities of simulated terminals, kept between runs so that a run against the same
// collector state skips enrollment. One text file per collector, bound to that collector's CA:
//   mamori-load-identities 1 <SHA-256 of the CA certificate, hex>
//   <terminal id> <base64 DER private key> <base64 DER certificate>    (one line per terminal)
// Lines are appended as terminals enroll; a last line cut short by a crash is dropped on load.
// Beside it, "sequences" holds each terminal's highest acknowledged report sequence.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace mamori::bench {

struct Identity {
  std::string id;
  std::string key_der;   // the terminal's EC P-256 private key
  std::string cert_der;  // the certificate the collector issued for it
};

// A fresh EC P-256 key (DER) and a PEM CSR for it, as an enrolling agent makes them.
struct KeyAndCsr {
  std::string key_der;
  std::string csr_pem;
};
KeyAndCsr MakeKeyAndCsr();

// The DER form of a PEM certificate; throws naming `what` when it does not parse.
std::string CertificateDer(const std::string& pem, const std::string& what);

class IdentityStore {
 public:
  // Opens (creating) DIR/identities for the collector whose CA is `ca_pem`. Throws when the file
  // belongs to another CA or a complete line does not parse, naming the file and the line.
  IdentityStore(const std::string& dir, const std::string& ca_pem);
  ~IdentityStore();
  IdentityStore(const IdentityStore&) = delete;
  IdentityStore& operator=(const IdentityStore&) = delete;

  const std::vector<Identity>& loaded() const { return loaded_; }
  // Appends one newly enrolled terminal; safe from several threads.
  void Append(const Identity& identity);
  // Makes what was appended durable.
  void Sync();

  // Highest acknowledged sequence per terminal id from DIR/sequences (empty when absent).
  std::vector<std::pair<std::string, std::uint64_t>> LoadSequences() const;
  // Replaces DIR/sequences (written to a temporary file, synced, renamed).
  void SaveSequences(const std::vector<std::pair<std::string, std::uint64_t>>& sequences) const;

 private:
  std::string dir_, path_;
  std::vector<Identity> loaded_;
  std::mutex mutex_;
  int fd_ = -1;  // the identities file, open for appending
};

}  // namespace mamori::bench
