// The simulated terminals of collector_load once enrolled: each reports on its own schedule (a new
// mutual-TLS connection per report, as the agent does, or one kept open with --keep-alive) and,
// the first --pollers of them hold a policy long-poll each. All of them share one client TLS
// context; connections come from several loopback source addresses so that a large fleet does not
// run out of ports.
#pragma once

#include <openssl/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "identities.h"

namespace mamori::bench {

using Clock = std::chrono::steady_clock;

struct FleetOptions {
  std::string agent_url;     // https://127.0.0.1:PORT
  std::string ca_pem;        // the collector's CA
  double interval = 1;       // seconds between reports of one terminal; 0: back to back
  double jitter = 0.1;       // each interval is drawn from interval * (1 ± jitter)
  int duration = 20;         // seconds of load
  double events = 1;         // mean events per report
  bool keep_alive = false;   // hold one connection per terminal between reports
  int pollers = 0;           // the first N terminals also hold a policy long-poll
  double ramp = 10;          // seconds over which the long-polls first connect
  int threads = 2;           // I/O threads
  int max_connecting = 64;   // TCP connects + TLS handshakes in flight at once
  int source_addresses = 8;  // connect from 127.0.0.2 .. 127.0.0.(1+N); 0: let the kernel pick
};

struct Terminal {
  const Identity* identity = nullptr;
  std::uint64_t sequence = 0;        // the highest acknowledged
  std::uint64_t first_sequence = 0;  // the first one acknowledged in this run; 0: none yet
  Clock::time_point caught_up;       // first acknowledgement of a report sent after a failure
  double applied_ms = -1;            // push → bundle received; < 0: not received
  // Parsed from the identity at the first report's connect and kept: decoding a key through
  // OpenSSL 3's decoders costs more than the rest of a handshake's client side.
  std::shared_ptr<X509> cert;
  std::shared_ptr<EVP_PKEY> key;
};

struct FleetStats {
  std::vector<double> latency_ms;   // per acknowledged report
  std::uint64_t errors = 0;         // failed connects, requests and long-polls
  std::uint64_t busy = 0;           // 503 answers (sent again after Retry-After)
  std::uint64_t duplicates = 0;     // reports the collector already had
  std::uint64_t stale = 0;          // kept-alive connections the collector had closed (resent)
  Clock::time_point first_failure;  // the first error of the run (the collector went away)
  std::size_t reports_before_failure = 0;  // latency_ms[0..this) came before it
};

class Fleet {
 public:
  Fleet(const FleetOptions& options, std::vector<Terminal>& terminals);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Runs the load for options.duration seconds on options.threads threads.
  void Run();
  // Called just before a policy of `version` is pushed: from now on each terminal that receives
  // it counts, whenever its long-poll (re)connects.
  void Pushing(std::uint64_t version);

  FleetStats stats() const;
  // From the start of the load until its last request finished (past --duration when the
  // collector falls behind).
  double seconds() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The p-th percentile (0..100) of `v`, reordering it; 0 when empty.
double Percentile(std::vector<double>& v, double p);

}  // namespace mamori::bench
