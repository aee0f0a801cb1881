#include <fcntl.h>
#include <systemd/sd-daemon.h>

#include <string>

#include "mamori/platform/service_manager.h"

namespace mamori::platform {
namespace {

class SystemdServiceManager : public ServiceManager {
 public:
  void NotifyReady(std::string_view status) override {
    Notify("READY=1\nSTATUS=" + std::string(status));
  }
  void NotifyStatus(std::string_view status) override { Notify("STATUS=" + std::string(status)); }
  void NotifyStopping() override { Notify("STOPPING=1"); }
  std::optional<std::chrono::microseconds> WatchdogInterval() override {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
    return std::chrono::microseconds(usec);
  }
  void NotifyWatchdog() override { Notify("WATCHDOG=1"); }
  std::vector<int> TakeListenFds() override {
    const int n = sd_listen_fds(1);
    std::vector<int> fds;
    for (int i = 0; i < n; ++i) {
      const int fd = SD_LISTEN_FDS_START + i;
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      fds.push_back(fd);
    }
    return fds;
  }

 private:
  // Without NOTIFY_SOCKET sd_notify does nothing: the agent runs the same under a shell.
  static void Notify(const std::string& state) { sd_notify(0, state.c_str()); }
};

}  // namespace

std::unique_ptr<ServiceManager> NewSystemdServiceManager() {
  return std::make_unique<SystemdServiceManager>();
}

}  // namespace mamori::platform
