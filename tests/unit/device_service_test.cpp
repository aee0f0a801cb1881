#include "mamori/agent/device_service.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fake_sysfs.h"
#include "temp_dir.h"

namespace mamori::agent {
namespace {

using platform::Uevent;
using platform::UeventSource;
using testing::FakeSysfs;
using testing::FakeUsbDevice;

// Events the test hands in from its own thread; the eventfd wakes the service's thread.
class PushedEvents : public UeventSource {
 public:
  PushedEvents() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~PushedEvents() override { ::close(fd_); }
  int fd() const { return fd_; }
  void Push(Result result, Uevent event) {
    std::lock_guard<std::mutex> guard(mu_);
    queue_.emplace_back(result, std::move(event));
    const std::uint64_t one = 1;
    ASSERT_EQ(::write(fd_, &one, sizeof one), 8);
  }
  Result Next(Uevent* event, std::string* error) override {
    std::lock_guard<std::mutex> guard(mu_);
    if (queue_.empty()) {
      std::uint64_t n;
      [[maybe_unused]] ssize_t r = ::read(fd_, &n, sizeof n);
      return Result::kNone;
    }
    auto [result, e] = std::move(queue_.front());
    queue_.pop_front();
    if (result == Result::kRejected) *error = "uevent: no NUL-terminated header";
    *event = std::move(e);
    return result;
  }

 private:
  int fd_;
  std::mutex mu_;
  std::deque<std::pair<Result, Uevent>> queue_;
};

// The system log as the test sees it: every message with its fields, waitable.
class RecordingLog : public platform::SystemLog {
 public:
  struct Entry {
    Priority priority;
    std::string message;
    Fields fields;
    std::string Field(const std::string& key) const {
      for (const auto& [k, v] : fields)
        if (k == key) return v;
      return "";
    }
  };
  void Send(Priority priority, std::string_view message, const Fields& fields) override {
    std::lock_guard<std::mutex> guard(mu_);
    entries_.push_back({priority, std::string(message), fields});
    cv_.notify_all();
  }
  std::vector<Entry> Entries() {
    std::lock_guard<std::mutex> guard(mu_);
    return entries_;
  }
  std::vector<Entry> WithEvent(const std::string& event) {
    std::vector<Entry> out;
    for (auto& e : Entries())
      if (e.Field("MAMORI_EVENT") == event) out.push_back(e);
    return out;
  }
  // Waits up to 10 s until `count` entries carry this MAMORI_EVENT.
  bool WaitFor(const std::string& event, std::size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      std::size_t n = 0;
      for (const auto& e : entries_) n += e.Field("MAMORI_EVENT") == event;
      return n >= count;
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> entries_;
};

FakeUsbDevice Stick(std::string serial, bool authorized = false) {
  FakeUsbDevice d;
  d.serial = std::move(serial);
  d.authorized = authorized;
  return d;
}

class DeviceServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sysfs_.AddRootHub(1);
    sysfs_.AddRootHub(2);
    ASSERT_TRUE(platform::SecureDir::Open(state_.path() + "/state", 0700, &dir_).ok());
    ASSERT_TRUE(EventJournal::Open(*dir_, &journal_).ok());
  }

  std::unique_ptr<DeviceService> Make(bool developer_mode = false, bool usb_bus = true) {
    DevicePlatform p;
    p.bus = platform::NewSysfsUsbBus(sysfs_.root());
    p.blocks = platform::NewLinuxBlockDevices(sysfs_.root(), "");
    p.thunderbolt = platform::NewSysfsThunderboltBus(sysfs_.root());
    auto events = std::make_unique<PushedEvents>();
    events_ = events.get();
    p.events_fd = events->fd();
    p.events = std::move(events);
    p.usb_bus = usb_bus;
    if (developer_mode) p = ObserveOnly(std::move(p));
    return std::make_unique<DeviceService>(std::move(p), *journal_, log_, developer_mode);
  }
  Uevent Added(const std::string& name) {
    Uevent e;
    e.action = "add";
    e.devpath = "/" + sysfs_.DevicePath(name);
    e.subsystem = "usb";
    e.devtype = "usb_device";
    return e;
  }
  std::string Authorized(const std::string& name) {
    return sysfs_.Read(sysfs_.DevicePath(name) + "/authorized");
  }
  // Every segment of the journal, oldest first.
  std::string Journal() {
    std::vector<std::string> segments;
    for (const auto& entry :
         std::filesystem::directory_iterator(state_.path() + "/state/journal")) {
      if (entry.path().extension() == ".jsonl") segments.push_back(entry.path().string());
    }
    std::sort(segments.begin(), segments.end());
    std::stringstream s;
    for (const auto& path : segments) s << std::ifstream(path).rdbuf();
    return s.str();
  }

  FakeSysfs sysfs_;
  testing::TempDir state_;
  std::unique_ptr<platform::SecureDir> dir_;
  std::unique_ptr<EventJournal> journal_;
  RecordingLog log_;
  PushedEvents* events_ = nullptr;
  policy::Policy policy_;
};

policy::AllowRule Allow(std::string id, std::string serial) {
  policy::AllowRule rule;
  rule.id = std::move(id);
  rule.vid = 0x46f4;
  rule.serial = std::move(serial);
  return rule;
}

TEST_F(DeviceServiceTest, StartDeniesByDefaultDecidesAndJournalsEveryDevice) {
  sysfs_.AddDevice("2-1", Stick("UNLISTED", /*authorized=*/true));
  auto service = Make();
  service->ApplyPolicy(policy_);
  service->Start();
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("usb1") + "/authorized_default"), "0");
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("usb2") + "/authorized_default"), "0");
  EXPECT_EQ(Authorized("2-1"), "0");
  const std::string journal = Journal();
  EXPECT_NE(journal.find(R"("type":"usb.decision")"), std::string::npos) << journal;
  EXPECT_NE(journal.find(R"("device":"2-1")"), std::string::npos) << journal;
  EXPECT_NE(journal.find(R"("rule":"default")"), std::string::npos) << journal;
  auto decisions = log_.WithEvent("usb.decision");
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].priority, platform::SystemLog::Priority::kNotice);
  EXPECT_EQ(decisions[0].Field("MAMORI_DEVICE"), "2-1");
  EXPECT_EQ(decisions[0].Field("MAMORI_SERIAL"), "UNLISTED");
  EXPECT_EQ(decisions[0].Field("MAMORI_ACTION"), "block");
  EXPECT_EQ(decisions[0].Field("MAMORI_RULE"), "default");
  EXPECT_EQ(decisions[0].Field("MAMORI_MODE"), "enforce");
  EXPECT_NE(decisions[0].message.find("action=block rule=\"default\""), std::string::npos);
}

// Like a refused MFA caller: journalled and logged, and given no device.
TEST_F(DeviceServiceTest, ARefusedDevicesRequestIsJournalledAndLogged) {
  sysfs_.AddDevice("2-1", Stick("UNLISTED", /*authorized=*/true));
  auto service = Make();
  service->Start();
  const std::string refused =
      service->AnswerDevicesRequest(platform::PeerCredentials{4321, 1000, 1000});
  EXPECT_EQ(refused.find("UNLISTED"), std::string::npos) << refused;
  EXPECT_NE(refused.find(R"("result":"refused")"), std::string::npos) << refused;
  const std::string journal = Journal();
  EXPECT_NE(
      journal.find(
          R"("type":"devices.caller_refused","data":{"caller_uid":"1000","caller_pid":"4321"})"),
      std::string::npos)
      << journal;
  auto logged = log_.WithEvent("devices.caller_refused");
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0].priority, platform::SystemLog::Priority::kWarning);
  EXPECT_EQ(logged[0].Field("MAMORI_CALLER_UID"), "1000");
  EXPECT_EQ(logged[0].Field("MAMORI_CALLER_PID"), "4321");

  // Root is answered, and nothing is journalled for it.
  const std::string answered = service->AnswerDevicesRequest(platform::PeerCredentials{1, 0, 0});
  EXPECT_NE(answered.find("UNLISTED"), std::string::npos) << answered;
  EXPECT_EQ(log_.WithEvent("devices.caller_refused").size(), 1u);
  EXPECT_EQ(Journal().find("caller_uid\":\"0"), std::string::npos);
}

TEST_F(DeviceServiceTest, TheEventThreadDecidesAHotPluggedDeviceWithItsLatency) {
  policy_.usb.allow.push_back(Allow("ledger-ok", "OK-1"));
  auto service = Make();
  service->ApplyPolicy(policy_);
  service->Start();
  sysfs_.AddDevice("2-1", Stick("OK-1"));
  events_->Push(UeventSource::Result::kEvent, Added("2-1"));
  ASSERT_TRUE(log_.WaitFor("usb.decision", 1));
  auto decision = log_.WithEvent("usb.decision").at(0);
  EXPECT_EQ(decision.Field("MAMORI_RULE"), "ledger-ok");
  EXPECT_EQ(decision.Field("MAMORI_ACTION"), "allow");
  EXPECT_FALSE(decision.Field("MAMORI_LATENCY_US").empty());
  EXPECT_EQ(Authorized("2-1"), "1");
  auto present = service->Snapshot();
  ASSERT_EQ(present.size(), 1u);
  EXPECT_EQ(present[0].identity.serial, "OK-1");
  EXPECT_EQ(present[0].decision.rule_id, "ledger-ok");
}

TEST_F(DeviceServiceTest, EventsThatArriveDuringEnumerationAreReplayed) {
  auto service = Make();
  // Queued before Start, as the kernel's socket holds them while the guard enumerates.
  sysfs_.AddDevice("2-2", Stick("LATE"));
  events_->Push(UeventSource::Result::kEvent, Added("2-2"));
  service->ApplyPolicy(policy_);
  service->Start();
  EXPECT_EQ(Authorized("2-2"), "0");
  EXPECT_EQ(service->Snapshot().size(), 1u);
}

TEST_F(DeviceServiceTest, MalformedEventsAreLoggedAndTheServiceKeepsDeciding) {
  auto service = Make();
  service->ApplyPolicy(policy_);
  service->Start();
  events_->Push(UeventSource::Result::kRejected, Uevent{});
  ASSERT_TRUE(log_.WaitFor("usb.problem", 1));
  EXPECT_NE(log_.WithEvent("usb.problem")[0].message.find("no NUL-terminated header"),
            std::string::npos);
  sysfs_.AddDevice("2-1", Stick("AFTER", true));
  events_->Push(UeventSource::Result::kEvent, Added("2-1"));
  ASSERT_TRUE(log_.WaitFor("usb.decision", 1));
  EXPECT_EQ(Authorized("2-1"), "0");
}

TEST_F(DeviceServiceTest, ApplyPolicyReevaluatesPresentDevicesWhileEventsFlow) {
  sysfs_.AddDevice("2-1", Stick("OK-1"));
  auto service = Make();
  service->ApplyPolicy(policy_);
  service->Start();
  EXPECT_EQ(Authorized("2-1"), "0");
  // Policy changes from another thread while the event thread handles events.
  sysfs_.AddDevice("2-2", Stick("OTHER"));
  for (int i = 0; i < 50; ++i) events_->Push(UeventSource::Result::kEvent, Added("2-2"));
  policy_.usb.allow.push_back(Allow("ledger-ok", "OK-1"));
  service->ApplyPolicy(policy_);
  EXPECT_EQ(Authorized("2-1"), "1");
  ASSERT_TRUE(log_.WaitFor("usb.decision", 3));
  service->Stop();
  for (const auto& d : service->Snapshot()) {
    EXPECT_EQ(d.decision.rule_id, d.identity.serial == "OK-1" ? "ledger-ok" : "default");
  }
  EXPECT_EQ(Authorized("2-2"), "0");
}

TEST_F(DeviceServiceTest, ASysfsWriteThatFailsLeavesTheDeviceBlockedAndTheServiceRunning) {
  policy_.usb.allow.push_back(Allow("ledger-ok", "OK-1"));
  auto service = Make();
  service->ApplyPolicy(policy_);
  service->Start();
  sysfs_.AddDevice("2-1", Stick("OK-1"));
  // Even root cannot write a directory: the authorization write fails.
  const std::string authorized = sysfs_.root() + "/" + sysfs_.DevicePath("2-1") + "/authorized";
  std::filesystem::remove(authorized);
  std::filesystem::create_directory(authorized);
  events_->Push(UeventSource::Result::kEvent, Added("2-1"));
  ASSERT_TRUE(log_.WaitFor("usb.decision", 1));
  auto decision = log_.WithEvent("usb.decision").at(0);
  EXPECT_EQ(decision.Field("MAMORI_ACTION"), "block");
  EXPECT_NE(decision.Field("MAMORI_DETAIL").find("/authorized"), std::string::npos)
      << decision.Field("MAMORI_DETAIL");
  // Taken away instead: the kernel's `remove` was written.
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("2-1") + "/remove"), "1");
  sysfs_.AddDevice("2-2", Stick("NEXT", true));
  events_->Push(UeventSource::Result::kEvent, Added("2-2"));
  ASSERT_TRUE(log_.WaitFor("usb.decision", 2));
  EXPECT_EQ(Authorized("2-2"), "0");
}

TEST_F(DeviceServiceTest, NoUsbBusIsLoggedOnceAndTheServiceRuns) {
  FakeSysfs empty;
  DevicePlatform p;
  p.bus = platform::NewSysfsUsbBus(empty.root() + "/absent");
  p.blocks = platform::NewLinuxBlockDevices(empty.root() + "/absent", "");
  p.thunderbolt = platform::NewSysfsThunderboltBus(empty.root() + "/absent");
  p.usb_bus = platform::UsbBusPresent(empty.root() + "/absent");
  EXPECT_FALSE(p.usb_bus);
  DeviceService service(std::move(p), *journal_, log_, false);
  service.Start();
  service.ApplyPolicy(policy_);
  service.ApplyPolicy(policy_);
  EXPECT_EQ(log_.WithEvent("usb.no_bus").size(), 1u);
  EXPECT_TRUE(log_.WithEvent("usb.problem").empty());
  EXPECT_TRUE(service.Snapshot().empty());
}

TEST_F(DeviceServiceTest, DeveloperModeRecordsAuditDecisionsAndWritesNothing) {
  sysfs_.AddDevice("2-1", Stick("UNLISTED", /*authorized=*/true));
  sysfs_.AddDevice("2-2", Stick("NEW", /*authorized=*/false));
  const std::string hub_default = sysfs_.Read(sysfs_.DevicePath("usb2") + "/authorized_default");
  const std::string first = Authorized("2-1"), second = Authorized("2-2");
  auto service = Make(/*developer_mode=*/true);
  service->ApplyPolicy(policy_);
  service->Start();
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("usb2") + "/authorized_default"), hub_default);
  EXPECT_EQ(Authorized("2-1"), first);
  EXPECT_EQ(Authorized("2-2"), second);
  auto decisions = log_.WithEvent("usb.decision");
  ASSERT_EQ(decisions.size(), 2u);
  for (const auto& d : decisions) {
    EXPECT_EQ(d.Field("MAMORI_ACTION"), "block");
    EXPECT_EQ(d.Field("MAMORI_MODE"), "audit");
  }
  EXPECT_EQ(log_.WithEvent("usb.developer_mode").size(), 1u);
}

}  // namespace
}  // namespace mamori::agent
