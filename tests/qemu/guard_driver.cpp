// Runs the device guard alone, for the real-kernel tests: reads a policy document, starts the guard
// on the live sysfs and uevent socket and prints every decision and problem as one line on stdout.
//   mamori_guard_driver POLICY.json
// SIGHUP reads the policy file again and applies it (an invalid one is reported and ignored).
// With --list it prints the USB bus as the platform layer reads it, and exits.
//   mamori_guard_driver --list
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include "mamori/agent/device_guard.h"
#include "mamori/policy/document.h"

namespace {

class PrintingSink : public mamori::agent::DecisionSink {
 public:
  void Record(const mamori::agent::DecisionRecord& record) override {
    std::printf("decision %s\n", mamori::agent::FormatDecisionRecord(record).c_str());
    std::fflush(stdout);
  }
  void Problem(std::string_view message) override {
    std::printf("problem %.*s\n", static_cast<int>(message.size()), message.data());
    std::fflush(stdout);
  }
};

std::optional<mamori::policy::Policy> ReadPolicy(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    std::fprintf(stderr, "%s: cannot read\n", path);
    return std::nullopt;
  }
  mamori::policy::ParseResult parsed = mamori::policy::ParsePolicy(text.str());
  for (const auto& e : parsed.errors) std::fprintf(stderr, "%s: %s\n", path, e.ToString().c_str());
  return std::move(parsed.policy);
}

int List() {
  auto bus = mamori::platform::NewSysfsUsbBus();
  std::vector<std::string> names;
  if (auto s = bus->ListDevices(&names); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  for (const std::string& name : names) {
    mamori::platform::UsbDevice d;
    if (!bus->ReadDevice(name, &d).ok()) continue;
    std::printf("device %s vid=%04x pid=%04x serial=%s authorized=%d problems=%zu\n", name.c_str(),
                d.vid, d.pid, d.serial.c_str(), d.authorized ? 1 : 0, d.problems.size());
    for (const auto& i : d.parsed.interfaces) {
      std::printf("descriptor %s config=%u interface=%u class=%02x subclass=%02x protocol=%02x\n",
                  name.c_str(), i.configuration, i.number, i.cls, i.subclass, i.protocol);
    }
    std::vector<mamori::platform::UsbInterface> interfaces;
    if (!bus->ListInterfaces(name, &interfaces).ok()) continue;
    for (const auto& i : interfaces) {
      std::printf("interface %s class=%02x subclass=%02x protocol=%02x authorized=%d driver=%s\n",
                  i.name.c_str(), i.cls, i.subclass, i.protocol, i.authorized ? 1 : 0,
                  i.driver.c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--list") return List();
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s POLICY.json | --list\n", argv[0]);
    return 2;
  }
  std::optional<mamori::policy::Policy> policy = ReadPolicy(argv[1]);
  if (!policy) return 4;

  // SIGHUP arrives through a descriptor, so the guard is only ever entered from the loop below.
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  sigprocmask(SIG_BLOCK, &hup, nullptr);
  const int signals = ::signalfd(-1, &hup, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signals < 0) {
    std::perror("signalfd");
    return 1;
  }

  std::unique_ptr<mamori::platform::NetlinkUeventSource> events;
  if (auto s = mamori::platform::NetlinkUeventSource::Open(&events); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  auto bus = mamori::platform::NewSysfsUsbBus();
  auto blocks = mamori::platform::NewLinuxBlockDevices();
  auto thunderbolt = mamori::platform::NewSysfsThunderboltBus();
  PrintingSink sink;
  mamori::agent::DeviceGuard guard(*bus, *blocks, *thunderbolt, sink,
                                   [] { return std::chrono::system_clock::now(); });
  if (auto s = guard.Start(policy->usb, *events); !s.ok()) sink.Problem(s.message());
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    pollfd fds[] = {{events->fd(), POLLIN, 0}, {signals, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      std::perror("poll");
      return 1;
    }
    guard.Drain(*events);
    signalfd_siginfo info;
    if (::read(signals, &info, sizeof info) == sizeof info) {
      if (auto next = ReadPolicy(argv[1])) {
        guard.ApplyPolicy(next->usb);
        std::printf("applied %s\n", argv[1]);
        std::fflush(stdout);
      }
    }
  }
}
