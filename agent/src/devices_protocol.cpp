#include "mamori/agent/devices_protocol.h"

namespace mamori::agent {
namespace json = boost::json;
namespace {

constexpr std::string_view kRequest = R"({"op":"devices"})";

}  // namespace

std::string DevicesRequest() { return std::string(kRequest); }

bool IsDevicesRequest(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line == kRequest;
}

std::string AnswerDevices(const std::vector<DeviceGuard::PresentDevice>& devices,
                          const platform::PeerCredentials& peer) {
  if (peer.uid != 0) {
    return json::serialize(
        json::object{{"result", "refused"}, {"error", "only root may list devices"}});
  }
  json::array list;
  for (const auto& d : devices) {
    DecisionRecord record;
    record.channel = d.channel;
    record.device = d.identity;
    record.action = d.decision.action;
    record.rule_id = d.decision.rule_id;
    record.audit = d.decision.audit_only;
    json::object o;
    for (const auto& [key, value] : DecisionFields(record)) o[key] = value;
    list.push_back(std::move(o));
  }
  return json::serialize(json::object{{"result", "devices"}, {"devices", std::move(list)}});
}

std::optional<json::array> ParseDevicesAnswer(std::string_view line, std::string* error) {
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* result = o ? o->if_contains("result") : nullptr;
  if (!result || !result->is_string()) {
    *error = "the agent's answer is not a devices answer";
    return std::nullopt;
  }
  if (result->get_string() != "devices") {
    const json::value* why = o->if_contains("error");
    *error = "the agent refused: " + std::string(why && why->is_string()
                                                     ? std::string_view(why->get_string())
                                                     : std::string_view(result->get_string()));
    return std::nullopt;
  }
  const json::value* devices = o->if_contains("devices");
  if (!devices || !devices->is_array()) {
    *error = "the agent's answer has no 'devices' array";
    return std::nullopt;
  }
  for (const json::value& d : devices->get_array()) {
    const json::object* fields = d.if_object();
    bool strings = fields != nullptr;
    if (fields) {
      for (const auto& kv : *fields) strings = strings && kv.value().is_string();
    }
    if (!strings) {
      *error = "the agent's answer has a device that is not an object of strings";
      return std::nullopt;
    }
  }
  return devices->get_array();
}

}  // namespace mamori::agent
