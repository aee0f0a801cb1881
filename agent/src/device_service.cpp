#include "mamori/agent/device_service.h"

#include <cctype>
#include <ctime>

#include "mamori/agent/devices_protocol.h"

namespace mamori::agent {
namespace {

using Priority = platform::SystemLog::Priority;

// No uevent socket: the guard still decides at start and on every policy change.
class NoEvents : public platform::UeventSource {
 public:
  Result Next(platform::Uevent*, std::string*) override { return Result::kNone; }
};

std::string JournalFieldName(std::string_view key) {
  std::string name = "MAMORI_";
  for (char c : key) name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

}  // namespace

void DecisionLog::Record(const DecisionRecord& record) {
  Event event;
  event.time = std::chrono::system_clock::to_time_t(record.time);
  event.type = "usb.decision";
  event.fields = DecisionFields(record);
  pending_.push_back({record, journal_.Record(event)});
}

void DecisionLog::Settled() {
  for (const Pending& p : pending_) {
    platform::SystemLog::Fields structured{{"MAMORI_EVENT", "usb.decision"}};
    for (auto& [key, value] : DecisionFields(p.record)) {
      structured.emplace_back(JournalFieldName(key), value);
    }
    const bool denied = p.record.action != policy::UsbAction::kAllow;
    log_.Send(denied ? Priority::kNotice : Priority::kInfo,
              "device decision: " + FormatDecisionRecord(p.record), structured);
    if (!p.journalled.ok()) {
      log_.Send(Priority::kError, "device decision not journalled: " + p.journalled.message(),
                {{"MAMORI_EVENT", "usb.journal_error"}});
    }
  }
  pending_.clear();
}

void DecisionLog::Problem(std::string_view message) {
  log_.Send(Priority::kWarning, "device guard: " + std::string(message),
            {{"MAMORI_EVENT", "usb.problem"}});
}

DeviceService::DeviceService(DevicePlatform platform, EventJournal& journal,
                             platform::SystemLog& log, bool audit_only)
    : platform_(std::move(platform)),
      journal_(journal),
      log_(log),
      audit_only_(audit_only),
      sink_(journal, log),
      guard_(std::make_unique<DeviceGuard>(*platform_.bus, *platform_.blocks,
                                           *platform_.thunderbolt, sink_,
                                           [] { return std::chrono::system_clock::now(); })) {}

DeviceService::~DeviceService() { Stop(); }

policy::UsbPolicy DeviceService::Effective(const policy::UsbPolicy& policy) const {
  policy::UsbPolicy usb = policy;
  if (audit_only_) usb.mode = policy::EnforcementMode::kAudit;
  return usb;
}

void DeviceService::Start() {
  if (!platform_.usb_bus) {
    log_.Send(Priority::kNotice,
              "device guard: this host has no USB bus; root hubs are set to default deny as "
              "they appear",
              {{"MAMORI_EVENT", "usb.no_bus"}});
  }
  if (audit_only_) {
    log_.Send(Priority::kWarning,
              "device guard: developer mode: decisions are recorded, no device is blocked",
              {{"MAMORI_EVENT", "usb.developer_mode"}});
  }
  {
    std::lock_guard<std::mutex> guard(mu_);
    NoEvents none;
    platform::UeventSource& events = platform_.events ? *platform_.events : none;
    started_ = true;
    platform::Status s = guard_->Start(Effective(policy_), events);
    if (!s.ok()) sink_.Problem("default deny not set on every root hub: " + s.message());
  }
  if (!platform_.events) return;
  if (platform::Status s = platform::StopSignal::Create(&stop_); !s.ok()) {
    sink_.Problem("no event thread (" + s.message() +
                  "): devices are decided on policy changes only");
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

void DeviceService::Run() {
  for (;;) {
    platform::StopSignal::Wait woken = platform::StopSignal::Wait::kStopped;
    if (platform::Status s = stop_->WaitReadable(platform_.events_fd, &woken); !s.ok()) {
      sink_.Problem("uevent wait failed, events are no longer handled: " + s.message());
      return;
    }
    if (woken == platform::StopSignal::Wait::kStopped) return;
    std::lock_guard<std::mutex> guard(mu_);
    guard_->Drain(*platform_.events);
  }
}

void DeviceService::ApplyPolicy(const policy::Policy& policy) {
  std::lock_guard<std::mutex> guard(mu_);
  if (started_) {
    guard_->ApplyPolicy(Effective(policy.usb));
  } else {
    policy_ = policy.usb;
  }
}

std::vector<DeviceGuard::PresentDevice> DeviceService::Snapshot() const {
  std::lock_guard<std::mutex> guard(mu_);
  return guard_->Devices();
}

std::string DeviceService::AnswerDevicesRequest(const platform::PeerCredentials& peer) {
  if (peer.uid != 0) {
    Event event;
    event.time = std::time(nullptr);
    event.type = "devices.caller_refused";
    event.fields = {{"caller_uid", std::to_string(peer.uid)},
                    {"caller_pid", std::to_string(peer.pid)}};
    platform::Status s = journal_.Record(event);
    log_.Send(Priority::kWarning,
              "device guard: refused the device list to uid " + std::to_string(peer.uid) +
                  " (pid " + std::to_string(peer.pid) + "): only root may list devices",
              {{"MAMORI_EVENT", "devices.caller_refused"},
               {"MAMORI_CALLER_UID", std::to_string(peer.uid)},
               {"MAMORI_CALLER_PID", std::to_string(peer.pid)}});
    if (!s.ok()) {
      log_.Send(Priority::kError, "refused device list not journalled: " + s.message(),
                {{"MAMORI_EVENT", "devices.journal_error"}});
    }
    return AnswerDevices({}, peer);
  }
  return AnswerDevices(Snapshot(), peer);
}

void DeviceService::Stop() {
  if (!thread_.joinable()) return;
  stop_->Fire();
  thread_.join();
}

}  // namespace mamori::agent
