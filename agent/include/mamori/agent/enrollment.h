// The terminal's identity at the collector: the client certificate and key it received when it
// enrolled, the pinned CA and the collector's URL, kept as one file so that it is whole or absent.
#pragma once

#include <optional>
#include <string>

#include "mamori/platform/env.h"
#include "mamori/platform/secure_dir.h"

namespace mamori::agent {

struct Enrollment {
  std::string url;          // the agent API, https://host:port
  std::string ca_pem;       // the collector's CA, pinned at enrollment
  std::string cert_pem;     // this terminal's client certificate
  std::string key_pem;      // its private key (EC P-256)
  std::string terminal_id;  // the certificate's CN
  std::string group;
};

// What the collector records about the machine; read through the Env (files of /etc, /proc, /sys).
struct HostFacts {
  std::string machine_id;
  std::string hostname;
  std::string serial;  // DMI product serial, empty when unreadable (it is root-only)
  std::string os;      // PRETTY_NAME of os-release
};
platform::Status ReadHostFacts(platform::Env& env, HostFacts* out);

// <state_dir>/enrollment.json, mode 0600 (it holds the private key).
inline constexpr char kEnrollmentFile[] = "enrollment.json";

// Sets *out to nullopt when the terminal has not enrolled. A file that does not parse is an error
// naming the field.
platform::Status LoadEnrollment(platform::SecureDir& state_dir, std::optional<Enrollment>* out);

// Writes the enrollment atomically. Refuses (EEXIST) to replace one unless `replace`.
platform::Status SaveEnrollment(platform::SecureDir& state_dir, const Enrollment& enrollment,
                                bool replace);

// Generates a key and CSR, posts them with the token and the facts to `url`/v1/enroll (the server
// must present a certificate of `ca_pem`) and returns the new identity. Nothing is stored.
platform::Status EnrollWithCollector(const std::string& url, const std::string& ca_pem,
                                     const std::string& token, const HostFacts& facts,
                                     Enrollment* out);

}  // namespace mamori::agent
