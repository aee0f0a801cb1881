// The mTLS client options of an enrolled terminal: its collector, the pinned CA and its own
// certificate and key. Shared by the reporter and the policy poller.
#pragma once

#include "mamori/agent/enrollment.h"
#include "mamori/collector/client.h"

namespace mamori::agent {

inline collector::ClientOptions EnrolledClientOptions(const Enrollment& enrollment,
                                                      int timeout_seconds) {
  collector::ClientOptions options;
  options.url = enrollment.url;
  options.ca_pem = enrollment.ca_pem;
  options.cert_pem = enrollment.cert_pem;
  options.key_pem = enrollment.key_pem;
  options.timeout_seconds = timeout_seconds;
  return options;
}

}  // namespace mamori::agent
