#include "mamori/collector/config.h"

#include <stdexcept>

#include "collector/json_fields.h"

namespace mamori::collector {

void ApplyConfigJson(std::string_view json_text, CollectorConfig& config) {
  try {
    const boost::json::object root = ParseObject(json_text);
    const Fields f(
        root, "",
        {"database", "agent_address", "agent_port", "admin_address", "admin_port", "server_names",
         "agent_max_body_bytes", "admin_max_body_bytes", "max_header_bytes",
         "handshake_timeout_seconds", "read_timeout_seconds", "io_threads", "long_poll_max_seconds",
         "certificate_days", "report_interval_seconds", "mfa_key_file", "mfa_issuer"});
    auto str = [&f](std::string_view key, std::string& out) {
      if (auto v = f.OptStr(key, 4096)) out = *v;
    };
    auto num = [&f](std::string_view key, auto& out, std::uint64_t min, std::uint64_t max) {
      if (auto v = f.OptUint(key, min, max))
        out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
    };
    str("database", config.database);
    str("mfa_key_file", config.api.mfa_key_file);
    if (auto issuer = f.OptStr("mfa_issuer", 64)) {
      if (issuer->empty()) throw BadRequest("/mfa_issuer: must not be empty");
      config.api.mfa_issuer = *issuer;
    }
    str("agent_address", config.server.agent_address);
    str("admin_address", config.server.admin_address);
    num("agent_port", config.server.agent_port, 0, 65535);
    num("admin_port", config.server.admin_port, 0, 65535);
    if (const auto* names = f.OptArray("server_names", 64)) {
      config.server_names.clear();
      for (std::size_t i = 0; i < names->size(); ++i) {
        if (!(*names)[i].is_string() || (*names)[i].get_string().empty()) {
          throw BadRequest("/server_names/" + std::to_string(i) + ": expected a host name or IP");
        }
        config.server_names.emplace_back((*names)[i].get_string());
      }
      if (config.server_names.empty()) throw BadRequest("/server_names: at least one name");
    }
    num("agent_max_body_bytes", config.server.agent_max_body_bytes, 1024, 64u << 20);
    num("admin_max_body_bytes", config.server.admin_max_body_bytes, 1024, 64u << 20);
    num("max_header_bytes", config.server.max_header_bytes, 1024, 1u << 20);
    num("handshake_timeout_seconds", config.server.handshake_timeout_seconds, 1, 600);
    num("read_timeout_seconds", config.server.read_timeout_seconds, 1, 600);
    num("io_threads", config.server.io_threads, 1, 256);
    num("long_poll_max_seconds", config.api.long_poll_max_seconds, 0, 3600);
    num("certificate_days", config.api.certificate_days, 1, 3650);
    num("report_interval_seconds", config.api.default_report_interval_seconds, 30, 86400);
  } catch (const BadRequest& e) {
    throw std::invalid_argument(e.what());
  }
}

}  // namespace mamori::collector
