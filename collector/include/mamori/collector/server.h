// The HTTPS server (Boost.Beast over OpenSSL, TLS 1.3 only) with its two listeners: the agent
// listener verifies client certificates against the collector's CA (a certificate is optional only
// so that enrollment can reach it; every other agent endpoint requires one), the admin listener
// takes bearer tokens or client certificates verified against the admin CA alone. Sessions run on
// `io_threads` io_context threads, each session on a strand of its own; requests are handled by
// worker threads and reports committed in groups by one writer
// (collector/src/collector/request_workers.h), so no session waits for the database. Long-polls are
// answered on the I/O threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "mamori/collector/api.h"
#include "mamori/collector/ca.h"
#include "mamori/collector/metrics.h"

namespace mamori::collector {

struct ServerOptions {
  std::string agent_address = "127.0.0.1";
  std::uint16_t agent_port = 8443;
  std::string admin_address = "127.0.0.1";
  std::uint16_t admin_port = 8444;
  std::size_t agent_max_body_bytes = 1 << 20;
  // A signed bundle may be 2 MiB; its request needs a little more.
  std::size_t admin_max_body_bytes = 3 << 20;
  std::size_t max_header_bytes = 8 * 1024;
  int handshake_timeout_seconds = 10;
  int read_timeout_seconds = 30;
  // Threads running TLS and HTTP for every session: the handshakes are most of the CPU a fleet
  // costs, so by default one per core.
  int io_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};

class Server {
 public:
  Server(Api& api, Metrics& metrics, const ServerOptions& options,
         const ServerCredentials& credentials, const std::string& ca_pem,
         const std::string& admin_ca_pem = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds both listeners; throws naming the address on failure. Port 0 picks a free port.
  void Bind();
  std::uint16_t agent_port() const;
  std::uint16_t admin_port() const;
  // Serves until SIGINT or SIGTERM.
  void Run();
  // Makes every waiting policy long-poll look at the store again; callable from any thread (a
  // policy stored through another collector on the same database).
  void WakePolicyWaiters();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mamori::collector
