// The service manager's protocols (systemd's sd_notify and socket activation): readiness and
// status, the watchdog, and listening sockets handed over by the manager. Outside a service manager
// there is no notification socket and no passed socket, and every call does nothing.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace mamori::platform {

class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  // READY=1 with a STATUS= line: the service does what it is for.
  virtual void NotifyReady(std::string_view status) = 0;
  virtual void NotifyStatus(std::string_view status) = 0;
  virtual void NotifyStopping() = 0;
  // WATCHDOG_USEC when the manager expects pings from this process; ping at half of it.
  virtual std::optional<std::chrono::microseconds> WatchdogInterval() = 0;
  virtual void NotifyWatchdog() = 0;
  // The listening sockets passed to this process (LISTEN_FDS/LISTEN_PID), close-on-exec; the
  // variables are removed, so the sockets are taken once and children do not see them.
  virtual std::vector<int> TakeListenFds() = 0;
};

std::unique_ptr<ServiceManager> NewSystemdServiceManager();

}  // namespace mamori::platform
