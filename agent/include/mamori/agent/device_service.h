// The removable-media guard as a service of mamori-agent: one thread that listens to kernel
// uevents and hands them to the DeviceGuard, every decision appended to the event journal and sent
// to the system log with structured fields, policy applied from any thread, and a snapshot of the
// present devices for `mamori devices`.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mamori/agent/device_guard.h"
#include "mamori/agent/event_journal.h"
#include "mamori/platform/local_socket.h"
#include "mamori/platform/readiness.h"
#include "mamori/platform/system_log.h"
#include "mamori/policy/model.h"

namespace mamori::agent {

// What the service runs on. `events` may be null (no uevent socket): devices are then decided at
// start and on every policy change only.
struct DevicePlatform {
  std::unique_ptr<platform::UsbBus> bus;
  std::unique_ptr<platform::BlockDevices> blocks;
  std::unique_ptr<platform::ThunderboltBus> thunderbolt;
  std::unique_ptr<platform::UeventSource> events;
  int events_fd = -1;   // readable when `events` may have something pending
  bool usb_bus = true;  // false: the host has no USB bus (no usbcore); logged once at start
};

// The live system under `sysfs_root` and the kernel's uevent socket. A socket that cannot be
// opened is logged and leaves `events` null.
DevicePlatform LinuxDevicePlatform(const std::string& sysfs_root, platform::SystemLog& log);

// Developer mode: the same platform with every control write (authorization, removal,
// read-only, driver detach) left out, so the guard only observes and records.
DevicePlatform ObserveOnly(DevicePlatform platform);

// Appends every decision to the event journal as "usb.decision" (durable before Record returns)
// and, once the guard settled, sends it to the system log with structured fields (MAMORI_DEVICE,
// MAMORI_ACTION, MAMORI_RULE, ...); problems go to the system log as warnings.
class DecisionLog : public DecisionSink {
 public:
  DecisionLog(EventJournal& journal, platform::SystemLog& log) : journal_(journal), log_(log) {}
  void Record(const DecisionRecord& record) override;
  void Settled() override;
  void Problem(std::string_view message) override;

 private:
  struct Pending {
    DecisionRecord record;
    platform::Status journalled;
  };
  EventJournal& journal_;
  platform::SystemLog& log_;
  std::vector<Pending> pending_;  // recorded, not yet logged
};

class DeviceService {
 public:
  // `audit_only` forces every policy into audit mode (developer mode).
  DeviceService(DevicePlatform platform, EventJournal& journal, platform::SystemLog& log,
                bool audit_only);
  ~DeviceService();
  DeviceService(const DeviceService&) = delete;
  DeviceService& operator=(const DeviceService&) = delete;

  // Default deny on every root hub, every present device decided under the last policy applied
  // (none yet: the default policy, which blocks every storage device), the events that arrived
  // meanwhile replayed; then the event thread starts. Problems are logged, never fatal.
  void Start();
  // Before Start: the policy Start decides by. After: re-evaluates every present device under
  // `policy`. Safe from any thread.
  void ApplyPolicy(const policy::Policy& policy);
  // Present devices with their identity, decision and matched rule, by channel and name.
  std::vector<DeviceGuard::PresentDevice> Snapshot() const;
  // The answer line to a `devices` request (devices_protocol.h). A refused caller is journalled
  // as `devices.caller_refused` and logged, as a refused MFA caller is.
  std::string AnswerDevicesRequest(const platform::PeerCredentials& peer);
  // Ends the event thread; devices keep the state the guard gave them.
  void Stop();

 private:
  policy::UsbPolicy Effective(const policy::UsbPolicy& policy) const;
  void Run();

  DevicePlatform platform_;
  EventJournal& journal_;
  platform::SystemLog& log_;
  bool audit_only_;
  DecisionLog sink_;
  mutable std::mutex mu_;  // the guard: the event thread, ApplyPolicy and Snapshot
  std::unique_ptr<DeviceGuard> guard_;
  bool started_ = false;
  policy::UsbPolicy policy_;  // the policy Start decides by
  std::unique_ptr<platform::StopSignal> stop_;
  std::thread thread_;
};

}  // namespace mamori::agent
