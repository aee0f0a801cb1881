// A small synchronous HTTPS client for the collector's APIs (TLS 1.3, the collector's CA pinned,
// host name or IP checked against the server certificate). Used by mamorictl and by agents.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mamori::collector {

struct ClientOptions {
  std::string url;           // https://host:port
  std::string ca_pem;        // the only CA trusted for the server certificate
  std::string cert_pem;      // client certificate (agent API), optional
  std::string key_pem;       // its private key
  std::string bearer_token;  // admin API, optional
  int timeout_seconds = 30;
};

struct ClientResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string date;         // the server's Date header, empty when absent
  std::string retry_after;  // its Retry-After header, empty when absent
};

// Connection, TLS or protocol failures; the message names the URL.
class ClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One request on a new connection. `body` is sent as application/json when not empty.
ClientResponse HttpsRequest(const ClientOptions& options, std::string_view method,
                            std::string_view target, std::string_view body = {});

}  // namespace mamori::collector
