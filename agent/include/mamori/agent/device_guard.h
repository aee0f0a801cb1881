// The removable-media guard: default deny on every USB root hub, a policy decision for every device
// (allow, read-only, block, reject), and the other channels USB authorization does not cover (SD
// cards on MMC hosts, optical drives, Thunderbolt). Single-threaded: the caller owns the event loop
// and hands events in; every decision goes to a DecisionSink.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mamori/platform/block_devices.h"
#include "mamori/platform/env.h"
#include "mamori/platform/thunderbolt.h"
#include "mamori/platform/uevent.h"
#include "mamori/platform/usb_bus.h"
#include "mamori/policy/model.h"
#include "mamori/policy/usb_match.h"

namespace mamori::agent {

enum class MediaChannel { kUsb, kMmc, kOptical, kThunderbolt };
std::string_view ToString(MediaChannel channel);

struct DeviceIdentity {
  std::string name;  // USB port path ("2-1.4"), block device ("mmcblk0") or Thunderbolt ("0-1")
  std::uint16_t vid = 0;
  std::uint16_t pid = 0;
  std::string serial;
  std::string descriptor_hash;
  std::string manufacturer;
  std::string product;
};

// One decision, as appended to the event journal.
struct DecisionRecord {
  std::chrono::system_clock::time_point time;
  MediaChannel channel = MediaChannel::kUsb;
  DeviceIdentity device;
  policy::UsbAction action = policy::UsbAction::kBlock;
  std::string rule_id;  // the deciding rule, policy::kDefaultRuleId, or "channels.<name>"
  bool audit = false;   // audit mode: `action` is what would have happened; nothing was blocked
  // Why the device was not trusted as described, or how enforcement failed; empty otherwise.
  std::string detail;
  // From receipt of the uevent to the completed sysfs write of a block, or to the decision of any
  // other action (which is recorded before its write); none for devices found at start.
  std::optional<std::chrono::nanoseconds> latency;
};

// The record as named fields in a fixed order (time aside), for the event journal and structured
// logs: channel, device, [vid, pid, serial, manufacturer, product, descriptor_hash,] action, rule,
// mode, [latency_us,] [detail].
std::vector<std::pair<std::string, std::string>> DecisionFields(const DecisionRecord& record);

// One log line: "time=... channel=usb device="2-1" ... action=block rule="default" mode=enforce".
// Text that comes from the device or the policy is quoted and escaped, so it cannot forge fields.
std::string FormatDecisionRecord(const DecisionRecord& record);

class DecisionSink {
 public:
  virtual ~DecisionSink() = default;
  // Returns once the record is durable: the guard calls it before any write that lets a device in
  // or removes it, so keep it to what durability needs.
  virtual void Record(const DecisionRecord& record) = 0;
  // The guard has made the writes of the records so far: slower reporting of them (the system
  // log) belongs here, off the path from a uevent to its write.
  virtual void Settled() {}
  // Refused events and failed operations that are not a decision of their own.
  virtual void Problem(std::string_view message) = 0;
};

class DeviceGuard {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  using SteadyTime = std::chrono::steady_clock::time_point;

  DeviceGuard(platform::UsbBus& bus, platform::BlockDevices& blocks,
              platform::ThunderboltBus& thunderbolt, DecisionSink& sink, Clock clock);

  // Sets authorized_default=0 on every root hub first, then decides every present device and
  // medium, then replays the events `events` queued meanwhile. Open `events` before calling, so
  // nothing that happens during enumeration is lost. Fails when a root hub could not be set to
  // default deny; the devices are decided all the same.
  platform::Status Start(const policy::UsbPolicy& policy, platform::UeventSource& events);

  // Handles everything pending on the source; an overflow re-reads the whole device state.
  void Drain(platform::UeventSource& events);
  void HandleEvent(const platform::Uevent& event, SteadyTime received);

  // Re-evaluates every present device under the new policy.
  void ApplyPolicy(const policy::UsbPolicy& policy);

  struct PresentDevice {
    MediaChannel channel = MediaChannel::kUsb;
    DeviceIdentity identity;
    policy::Decision decision;
  };
  // USB devices and other media the guard has decided, by name.
  std::vector<PresentDevice> Devices() const;

 private:
  struct Known {
    PresentDevice present;
    std::string detail;
  };

  platform::Status DenyByDefault();
  void Rescan();
  void DecideUsb(const std::string& name, std::optional<SteadyTime> received);
  void EnforceUsb(const std::string& name, const policy::Decision& decision,
                  policy::UsbAction previous, std::string* detail);
  void ProtectUsbBlock(const platform::BlockDevice& block, std::optional<SteadyTime> received);
  void DecideMedium(const platform::BlockDevice& block, std::optional<SteadyTime> received);
  void DecideThunderbolt(std::optional<SteadyTime> received);
  void Emit(const Known& known, std::optional<SteadyTime> received);
  void Report(const platform::Status& status);

  platform::UsbBus& bus_;
  platform::BlockDevices& blocks_;
  platform::ThunderboltBus& thunderbolt_;
  DecisionSink& sink_;
  Clock clock_;
  policy::UsbPolicy policy_;
  std::map<std::string, Known> usb_;    // by port path
  std::map<std::string, Known> media_;  // mmc and optical disks, by block name
  std::map<std::string, Known> bolts_;  // Thunderbolt devices, by name
};

}  // namespace mamori::agent
