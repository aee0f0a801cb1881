// The `devices` request on the agent's local socket, for `mamori devices`:
//   {"op":"devices"}  →  {"result":"devices","devices":[{"channel":"usb","device":"2-1",
//                          "vid":"46f4",…,"action":"block","rule":"default","mode":"enforce"},…]}
//                    or  {"result":"refused","error":"…"}
// Only root may ask: the list names the devices of every user of the terminal.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/agent/device_guard.h"
#include "mamori/platform/local_socket.h"

namespace mamori::agent {

// The request line, without the newline.
std::string DevicesRequest();
// Whether a request line is the devices request. Decided by exact comparison, not by parsing:
// the same socket carries MFA lines with one-time codes, which only the MFA parser may touch.
bool IsDevicesRequest(std::string_view line);

// The answer line for `peer`: the devices to root, a refusal to anyone else.
std::string AnswerDevices(const std::vector<DeviceGuard::PresentDevice>& devices,
                          const platform::PeerCredentials& peer);

// The devices of an answer line, each an object of string fields (channel, device, vid, pid,
// serial, manufacturer, product, descriptor_hash, action, rule, mode); on a refusal or a malformed
// answer, none and `error` says why.
std::optional<boost::json::array> ParseDevicesAnswer(std::string_view line, std::string* error);

}  // namespace mamori::agent
