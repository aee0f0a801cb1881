// The kernel's routing tables as /proc/net shows them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/platform/system_probe.h"

namespace mamori::platform {

inline constexpr std::size_t kMaxRouteTableBytes = 16 * 1024 * 1024;

// /proc/net/route: a header line, then "Iface Destination Gateway Flags RefCnt Use Metric Mask
// MTU Window IRTT" with addresses as the hex of the native 32-bit word. Appends to *out; an
// unparsable line is an error naming `path` and the line number.
Status ParseIpv4Routes(std::string_view text, const std::string& path, std::vector<Route>* out);
// /proc/net/ipv6_route: "dest prefix src src_prefix next_hop metric refcnt use flags device",
// addresses as 32 hex digits in network order.
Status ParseIpv6Routes(std::string_view text, const std::string& path, std::vector<Route>* out);

}  // namespace mamori::platform
