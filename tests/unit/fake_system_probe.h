// A SystemProbe whose every answer the test sets; files and links live in maps.
#pragma once

#include <cerrno>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mamori/platform/system_probe.h"

namespace mamori::testing {

class FakeSystemProbe : public platform::SystemProbe {
 public:
  bool bus_present = false;
  std::vector<platform::RootHubDefault> hubs;
  std::map<std::string, std::string> files;
  std::map<std::string, std::string> links;
  std::string self = "/usr/sbin/mamori-agent";
  bool systemd = false;
  std::optional<platform::ClockSync> clock;  // none: adjtimex fails
  std::vector<platform::Route> routes;
  std::optional<platform::SecurityUpdates> updates;  // none: apt fails

  platform::Status UsbRootHubDefaults(bool* present,
                                      std::vector<platform::RootHubDefault>* out) override {
    *present = bus_present;
    *out = hubs;
    return platform::Status::Ok();
  }
  platform::Status ReadFile(const std::string& path, std::size_t, std::string* out) override {
    auto it = files.find(path);
    if (it == files.end()) return platform::Status::Error(ENOENT, "open " + path + ": missing");
    *out = it->second;
    return platform::Status::Ok();
  }
  platform::Status ReadLink(const std::string& path, std::string* target) override {
    auto it = links.find(path);
    if (it == links.end()) return platform::Status::Error(ENOENT, "readlink " + path + ": missing");
    *target = it->second;
    return platform::Status::Ok();
  }
  platform::Status HashFile(const std::string& path, std::string*, std::string*) override {
    return platform::Status::Error(ENOENT, "open " + path + ": not in the fake");
  }
  platform::Status SelfExecutable(std::string* path) override {
    *path = self;
    return platform::Status::Ok();
  }
  bool SystemdBooted() override { return systemd; }
  platform::Status ClockStatus(platform::ClockSync* out) override {
    if (!clock) return platform::Status::Error(EPERM, "adjtimex: Operation not permitted");
    *out = *clock;
    return platform::Status::Ok();
  }
  platform::Status Routes(std::vector<platform::Route>* out) override {
    *out = routes;
    return platform::Status::Ok();
  }
  platform::Status PendingSecurityUpdates(platform::SecurityUpdates* out) override {
    if (!updates) return platform::Status::Error(-1, "/usr/bin/apt-get --simulate failed");
    *out = *updates;
    return platform::Status::Ok();
  }
};

}  // namespace mamori::testing
