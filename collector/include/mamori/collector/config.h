// The collector's configuration: a JSON file, then command-line flags over it.
//
//   {"database": "/var/lib/mamori-collector/collector.db",
//    "agent_address": "0.0.0.0", "agent_port": 8443, "admin_address": "127.0.0.1",
//    "admin_port": 8444, "server_names": ["collector.example.lg.jp"],
//    "agent_max_body_bytes": 1048576, "admin_max_body_bytes": 3145728, "max_header_bytes": 8192,
//    "handshake_timeout_seconds": 10, "read_timeout_seconds": 30, "io_threads": 2,
//    "long_poll_max_seconds": 60,
//    "certificate_days": 365, "report_interval_seconds": 300,
//    "mfa_key_file": "/var/lib/mamori-collector/mfa.key", "mfa_issuer": "Mamori"}
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mamori/collector/api.h"
#include "mamori/collector/server.h"

namespace mamori::collector {

struct CollectorConfig {
  std::string database = "collector.db";
  std::vector<std::string> server_names = {"localhost", "127.0.0.1"};
  ServerOptions server;
  ApiOptions api;
};

// Applies the fields of a JSON config text over `config`. Unknown fields and values out of range
// throw std::invalid_argument naming the field.
void ApplyConfigJson(std::string_view json_text, CollectorConfig& config);

}  // namespace mamori::collector
