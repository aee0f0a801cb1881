// 6(3)①: the My Number segment talks to no other segment, evidenced by the routing tables (a
// route is a reachable network; firewall rules are not read). 6(6): known vulnerabilities are
// patched, judged by apt over its current lists.
#include <algorithm>
#include <ctime>

#include "checks.h"
#include "mamori/policy/text.h"

namespace mamori::agent::compliance {
namespace {

constexpr std::time_t kStaleListsSeconds = 7 * 24 * 3600;

policy::Cidr ToCidr(const platform::Route& r) {
  policy::Cidr c;
  c.v6 = r.v6;
  std::copy(std::begin(r.destination), std::end(r.destination), c.address);
  c.prefix = r.prefix;
  return c;
}

bool Contains(const policy::Cidr& net, const policy::Cidr& inner) {
  if (net.v6 != inner.v6 || inner.prefix < net.prefix) return false;
  for (int bit = 0; bit < net.prefix; ++bit) {
    const int mask = 0x80 >> (bit % 8);
    if ((net.address[bit / 8] & mask) != (inner.address[bit / 8] & mask)) return false;
  }
  return true;
}

// Routes that reach nothing beyond this host or its link: loopback, the host's own addresses,
// link-local, multicast, and reject routes (unreachable, blackhole).
bool ReachesOut(const platform::Route& r) {
  if (r.reject || r.local || r.device == "lo") return false;
  if (r.v6 && r.destination[0] == 0xfe && (r.destination[1] & 0xc0) == 0x80 && r.prefix >= 10) {
    return false;
  }
  if (r.v6 && r.destination[0] == 0xff && r.prefix >= 8) return false;
  return true;
}

std::string Describe(const platform::Route& r) {
  return policy::FormatCidr(ToCidr(r)) + (r.via_gateway ? " via " : " on ") + r.device;
}

std::string Day(std::time_t t) {
  return policy::FormatTimestamp(policy::Timestamp(std::chrono::seconds(t))).substr(0, 10);
}

}  // namespace

Verdict NetworkEgress(const ComplianceInputs& in, platform::SystemProbe& probe) {
  std::vector<platform::Route> routes;
  platform::Status s = probe.Routes(&routes);
  if (!s.ok()) return {kError, s.message()};
  std::vector<std::string> defaults, outside;
  std::size_t reaching = 0;
  for (const auto& r : routes) {
    if (!ReachesOut(r)) continue;
    ++reaching;
    if (r.prefix == 0) defaults.push_back(Describe(r));
    const auto& allowed = in.policy.network.allowed_egress;
    if (std::none_of(allowed.begin(), allowed.end(),
                     [&](const policy::Cidr& net) { return Contains(net, ToCidr(r)); })) {
      outside.push_back(Describe(r));
    }
  }
  if (in.policy.network.allowed_egress.empty()) {
    return {kNotApplicable,
            "policy names no allowed_egress; default route: " +
                (defaults.empty() ? std::string("absent") : JoinLimited(defaults, 2))};
  }
  if (!outside.empty()) return {kFail, "outside allowed_egress: " + JoinLimited(outside, 4)};
  return {kPass, std::to_string(reaching) + " routes, all within allowed_egress"};
}

Verdict SecurityUpdates(const ComplianceInputs& in, platform::SystemProbe& probe) {
  platform::SecurityUpdates updates;
  platform::Status s = probe.PendingSecurityUpdates(&updates);
  if (!s.ok()) return {kError, s.message()};
  if (!updates.source_configured) {
    return {kNotApplicable, "no security suite in apt's lists: nothing to compare against"};
  }
  const std::string lists = "lists of " + Day(updates.lists_time);
  if (!updates.packages.empty()) {
    return {kFail, std::to_string(updates.packages.size()) + " pending (" + lists +
                       "): " + JoinLimited(updates.packages, 4)};
  }
  const std::time_t now = in.now.time_since_epoch().count();
  if (now - updates.lists_time > kStaleListsSeconds) {
    return {kError, "none pending in " + lists + ", too old to tell (run apt-get update)"};
  }
  return {kPass, "none pending (" + lists + ")"};
}

}  // namespace mamori::agent::compliance
