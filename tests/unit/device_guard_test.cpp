#include "mamori/agent/device_guard.h"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <functional>

#include "fake_sysfs.h"
#include "mamori/policy/text.h"

namespace mamori::agent {
namespace {

using platform::Status;
using platform::Uevent;
using platform::UeventSource;
using policy::UsbAction;
using testing::FakeSysfs;
using testing::FakeUsbDevice;

// The sysfs bus with a log of every control write, in order.
class RecordingBus : public platform::UsbBus {
 public:
  explicit RecordingBus(const std::string& root) : real_(platform::NewSysfsUsbBus(root)) {}
  std::vector<std::string> writes;
  std::function<void()> after_list;       // plays the kernel while enumeration runs
  Status authorize_error = Status::Ok();  // what writing authorized=1 returns, when set

  Status ListRootHubs(std::vector<std::string>* n) override { return real_->ListRootHubs(n); }
  Status ListDevices(std::vector<std::string>* n) override {
    Status s = real_->ListDevices(n);
    if (after_list) std::exchange(after_list, nullptr)();
    return s;
  }
  Status ReadDevice(const std::string& n, platform::UsbDevice* d) override {
    return real_->ReadDevice(n, d);
  }
  Status ListInterfaces(const std::string& d, std::vector<platform::UsbInterface>* out) override {
    return real_->ListInterfaces(d, out);
  }
  Status SetAuthorizedDefault(const std::string& hub, int v) override {
    writes.push_back("authorized_default " + hub + " " + std::to_string(v));
    return real_->SetAuthorizedDefault(hub, v);
  }
  Status SetInterfaceAuthorizedDefault(const std::string& hub, bool v) override {
    return real_->SetInterfaceAuthorizedDefault(hub, v);
  }
  Status SetAuthorized(const std::string& d, bool v) override {
    writes.push_back("authorized " + d + " " + (v ? "1" : "0"));
    if (v && !authorize_error.ok()) return authorize_error;
    return real_->SetAuthorized(d, v);
  }
  Status SetInterfaceAuthorized(const std::string& i, bool v) override {
    return real_->SetInterfaceAuthorized(i, v);
  }
  Status Remove(const std::string& d) override {
    writes.push_back("remove " + d);
    return real_->Remove(d);
  }
  Status ProbeDrivers(const std::string& i) override { return real_->ProbeDrivers(i); }

 private:
  std::unique_ptr<platform::UsbBus> real_;
};

// sysfs topology, with the ioctls recorded instead of issued.
class FakeBlocks : public platform::BlockDevices {
 public:
  explicit FakeBlocks(const std::string& root) : real_(platform::NewLinuxBlockDevices(root, "")) {}
  std::vector<std::string> read_only;
  std::vector<std::string> detached;
  Status fail = Status::Ok();

  Status List(std::vector<platform::BlockDevice>* out) override { return real_->List(out); }
  Status SetReadOnly(const std::string& name) override {
    if (!fail.ok()) return fail;
    read_only.push_back(name);
    return Status::Ok();
  }
  Status IsReadOnly(const std::string&, bool*) override { return Status::Error(ENOSYS, "fake"); }
  Status DetachDriver(const std::string& disk) override {
    detached.push_back(disk);
    return real_->DetachDriver(disk);
  }

 private:
  std::unique_ptr<platform::BlockDevices> real_;
};

class QueuedEvents : public UeventSource {
 public:
  std::deque<std::pair<Result, Uevent>> queue;
  void Add(Uevent e) { queue.emplace_back(Result::kEvent, std::move(e)); }
  Result Next(Uevent* event, std::string* error) override {
    if (queue.empty()) return Result::kNone;
    auto [result, e] = std::move(queue.front());
    queue.pop_front();
    if (result == Result::kRejected) *error = "malformed uevent: test";
    *event = std::move(e);
    return result;
  }
};

class RecordingSink : public DecisionSink {
 public:
  explicit RecordingSink(const std::vector<std::string>& writes) : writes_(writes) {}
  std::vector<DecisionRecord> records;
  std::vector<std::size_t> writes_before;  // per record: how many control writes preceded it
  std::vector<std::size_t> settled_after;  // per Settled: how many control writes preceded it
  std::vector<std::string> problems;
  void Record(const DecisionRecord& r) override {
    records.push_back(r);
    writes_before.push_back(writes_.size());
  }
  void Settled() override { settled_after.push_back(writes_.size()); }
  void Problem(std::string_view m) override { problems.emplace_back(m); }

 private:
  const std::vector<std::string>& writes_;
};

Uevent Event(std::string action, std::string devpath, std::string subsystem, std::string devtype) {
  Uevent e;
  e.action = std::move(action);
  e.devpath = std::move(devpath);
  e.subsystem = std::move(subsystem);
  e.devtype = std::move(devtype);
  return e;
}

policy::AllowRule Rule(std::string id, std::string serial, policy::AllowMode mode) {
  policy::AllowRule rule;
  rule.id = std::move(id);
  rule.vid = 0x46f4;
  rule.serial = std::move(serial);
  rule.mode = mode;
  return rule;
}

FakeUsbDevice Stick(std::string serial, bool authorized = false) {
  FakeUsbDevice d;
  d.serial = std::move(serial);
  d.authorized = authorized;
  return d;
}

class DeviceGuardTest : public ::testing::Test {
 protected:
  DeviceGuardTest() {
    sysfs_.AddRootHub(1);
    sysfs_.AddRootHub(2);
  }

  Status Start() { return guard_.Start(policy_, events_); }
  std::string Authorized(const std::string& name) {
    return sysfs_.Read(sysfs_.DevicePath(name) + "/authorized");
  }
  // The kernel's event when a device appears below a root hub.
  Uevent Added(const std::string& name) {
    return Event("add", "/" + sysfs_.DevicePath(name), "usb", "usb_device");
  }
  std::vector<std::string> Summaries() const {
    std::vector<std::string> out;
    for (const auto& r : sink_.records) {
      out.push_back(r.device.name + " " + std::string(policy::ToString(r.action)) + " " +
                    r.rule_id + (r.audit ? " audit" : ""));
    }
    return out;
  }

  FakeSysfs sysfs_;
  RecordingBus bus_{sysfs_.root()};
  FakeBlocks blocks_{sysfs_.root()};
  std::unique_ptr<platform::ThunderboltBus> thunderbolt_ =
      platform::NewSysfsThunderboltBus(sysfs_.root());
  RecordingSink sink_{bus_.writes};
  QueuedEvents events_;
  std::chrono::system_clock::time_point now_{
      std::chrono::sys_days{std::chrono::November / 23 / 2026}};
  DeviceGuard guard_{bus_, blocks_, *thunderbolt_, sink_, [this] { return now_; }};
  policy::UsbPolicy policy_;
};

TEST_F(DeviceGuardTest, DeniesByDefaultOnEveryRootHubBeforeDecidingAnyDevice) {
  sysfs_.AddDevice("2-1", Stick("A", /*authorized=*/true));  // authorized by the kernel at boot
  ASSERT_TRUE(Start().ok());
  ASSERT_GE(bus_.writes.size(), 3u);
  EXPECT_EQ(bus_.writes[0], "authorized_default usb1 0");
  EXPECT_EQ(bus_.writes[1], "authorized_default usb2 0");
  EXPECT_EQ(bus_.writes[2], "authorized 2-1 0");
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("usb2") + "/authorized_default"), "0");
  EXPECT_EQ(Authorized("2-1"), "0");
  EXPECT_EQ(Summaries(), (std::vector<std::string>{"2-1 block default"}));
  EXPECT_FALSE(sink_.records[0].latency);
}

TEST_F(DeviceGuardTest, ReportsARootHubItCouldNotSetToDefaultDenyAndStillDecides) {
  std::filesystem::remove(sysfs_.root() + "/" + sysfs_.DevicePath("usb1") + "/authorized_default");
  sysfs_.AddDevice("2-1", Stick("A", true));
  Status s = Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("usb1/authorized_default"), std::string::npos) << s.message();
  EXPECT_EQ(Authorized("2-1"), "0");
}

TEST_F(DeviceGuardTest, AuthorizesAStickAllowListedBySerialAndNamesTheRule) {
  policy_.allow.push_back(Rule("ledger-12", "MAMORI-OK", policy::AllowMode::kAllow));
  sysfs_.AddDevice("2-1", Stick("MAMORI-OK"));
  sysfs_.AddDevice("2-2", Stick("OTHER"));
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Authorized("2-1"), "1");
  EXPECT_EQ(Authorized("2-2"), "0");
  EXPECT_EQ(Summaries(), (std::vector<std::string>{"2-1 allow ledger-12", "2-2 block default"}));
  EXPECT_EQ(sink_.records[0].device.serial, "MAMORI-OK");
  EXPECT_EQ(sink_.records[0].device.descriptor_hash.size(), 64u);
}

TEST_F(DeviceGuardTest, ReadOnlyAuthorizesThenForcesEachBlockDeviceReadOnlyAsItAppears) {
  policy_.allow.push_back(Rule("ro-1", "MAMORI-RO", policy::AllowMode::kReadOnly));
  ASSERT_TRUE(Start().ok());
  sysfs_.AddDevice("2-1", Stick("MAMORI-RO"));
  guard_.HandleEvent(Added("2-1"), std::chrono::steady_clock::now());
  EXPECT_EQ(Authorized("2-1"), "1");
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(sink_.records[0].action, UsbAction::kReadOnly);
  EXPECT_EQ(sink_.records[0].rule_id, "ro-1");
  EXPECT_TRUE(sink_.records[0].latency);
  // The kernel binds usb-storage; the disk and its partition show up.
  const std::string disk = sysfs_.AddUsbDisk("2-1", "sda", 1);
  guard_.HandleEvent(Event("add", disk, "block", "disk"), std::chrono::steady_clock::now());
  guard_.HandleEvent(Event("add", disk + "/sda1", "block", "partition"),
                     std::chrono::steady_clock::now());
  EXPECT_EQ(blocks_.read_only, (std::vector<std::string>{"sda", "sda1"}));
}

TEST_F(DeviceGuardTest, ABlockDeviceThatCannotBeMadeReadOnlyBlocksItsDevice) {
  policy_.allow.push_back(Rule("ro-1", "MAMORI-RO", policy::AllowMode::kReadOnly));
  sysfs_.AddDevice("2-1", Stick("MAMORI-RO"));
  ASSERT_TRUE(Start().ok());
  blocks_.fail = Status::Error(EIO, "BLKROSET /dev/sda: Input/output error (errno 5)");
  const std::string disk = sysfs_.AddUsbDisk("2-1", "sda", 0);
  guard_.HandleEvent(Event("add", disk, "block", "disk"), std::chrono::steady_clock::now());
  EXPECT_EQ(Authorized("2-1"), "0");
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[1].action, UsbAction::kBlock);
  EXPECT_EQ(sink_.records[1].rule_id, "ro-1");
  EXPECT_NE(sink_.records[1].detail.find("read-only not enforceable on sda"), std::string::npos);
}

TEST_F(DeviceGuardTest, RejectsAStickThatIsAlsoAKeyboard) {
  policy_.allow.push_back(Rule("ledger-12", "BADUSB", policy::AllowMode::kAllow));
  FakeUsbDevice badusb = Stick("BADUSB");
  badusb.interfaces = {{0x08, 0x06, 0x50}, {0x03, 0x01, 0x01}};
  sysfs_.AddDevice("2-1", badusb);
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("2-1") + "/remove"), "1");
  EXPECT_EQ(Summaries(), (std::vector<std::string>{"2-1 reject badusb-hid"}));
  EXPECT_TRUE(guard_.Devices().empty());
}

TEST_F(DeviceGuardTest, KeyboardsAndHubsFollowTheClassRules) {
  FakeUsbDevice keyboard;
  keyboard.interfaces = {{0x03, 0x01, 0x01}};
  FakeUsbDevice hub;
  hub.interfaces = {{0x09, 0x00, 0x00}};
  sysfs_.AddDevice("1-1", hub);
  sysfs_.AddDevice("1-1.2", keyboard);
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Authorized("1-1"), "1");
  EXPECT_EQ(Authorized("1-1.2"), "1");
  EXPECT_EQ(Summaries(), (std::vector<std::string>{"1-1 allow hub", "1-1.2 allow hid"}));
}

TEST_F(DeviceGuardTest, AuditModeRecordsWhatItWouldBlockAndBlocksNothing) {
  policy_.mode = policy::EnforcementMode::kAudit;
  FakeUsbDevice badusb = Stick("B");
  badusb.interfaces = {{0x08, 0x06, 0x50}, {0x03, 0x01, 0x01}};
  sysfs_.AddDevice("2-1", Stick("A"));
  sysfs_.AddDevice("2-2", badusb);
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Authorized("2-1"), "1");
  EXPECT_EQ(Authorized("2-2"), "1");
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("2-2") + "/remove"), "");
  EXPECT_EQ(Summaries(),
            (std::vector<std::string>{"2-1 block default audit", "2-2 reject badusb-hid audit"}));
}

TEST_F(DeviceGuardTest, ReplaysAnEventThatArrivedDuringEnumeration) {
  policy_.allow.push_back(Rule("late", "LATE", policy::AllowMode::kAllow));
  sysfs_.AddDevice("2-1", Stick("EARLY"));
  // The stick is plugged after the bus was listed: enumeration misses it, the socket keeps its
  // event.
  bus_.after_list = [&] {
    sysfs_.AddDevice("2-2", Stick("LATE"));
    events_.Add(Added("2-2"));
  };
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Authorized("2-2"), "1");
  EXPECT_EQ(Summaries(), (std::vector<std::string>{"2-1 block default", "2-2 allow late"}));
  EXPECT_TRUE(sink_.records[1].latency);
}

TEST_F(DeviceGuardTest, AQueuedAddForADeviceAlreadyDecidedRecordsNothingNew) {
  sysfs_.AddDevice("2-1", Stick("A"));
  events_.Add(Added("2-1"));
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Summaries(), (std::vector<std::string>{"2-1 block default"}));
  EXPECT_EQ(Authorized("2-1"), "0");
}

TEST_F(DeviceGuardTest, ANewPolicyReevaluatesEveryPresentDevice) {
  policy_.allow.push_back(Rule("ledger-1", "A", policy::AllowMode::kAllow));
  sysfs_.AddDevice("2-1", Stick("A"));
  sysfs_.AddDevice("2-2", Stick("B"));
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Authorized("2-1"), "1");

  // ledger-1 becomes read-only: the writable device goes away and comes back to be protected.
  policy::UsbPolicy next = policy_;
  next.allow[0].mode = policy::AllowMode::kReadOnly;
  bus_.writes.clear();
  guard_.ApplyPolicy(next);
  EXPECT_EQ(bus_.writes,
            (std::vector<std::string>{"authorized 2-1 0", "authorized 2-1 1", "authorized 2-2 0"}));
  // And then it is no longer listed at all.
  next.allow.clear();
  guard_.ApplyPolicy(next);
  EXPECT_EQ(Authorized("2-1"), "0");
  EXPECT_EQ(Summaries(), (std::vector<std::string>{"2-1 allow ledger-1", "2-2 block default",
                                                   "2-1 read-only ledger-1", "2-1 block default"}));
}

TEST_F(DeviceGuardTest, ADeviceWithLyingDescriptorsStaysBlockedWhateverTheRules) {
  policy_.default_action = UsbAction::kAllow;
  sysfs_.AddDevice("2-1", Stick("A"));
  auto bytes = testing::DeviceDescriptors(0x46f4, 1, {{0x08, 0x06, 0x50}});
  bytes[18 + 2] = 0xff;  // wTotalLength beyond the data
  sysfs_.WriteBytes(sysfs_.DevicePath("2-1") + "/descriptors", bytes);
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Authorized("2-1"), "0");
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(sink_.records[0].action, UsbAction::kBlock);
  EXPECT_NE(sink_.records[0].detail.find("exceeds"), std::string::npos) << sink_.records[0].detail;
}

TEST_F(DeviceGuardTest, ASysfsWriteErrorIsRecordedAndTheDeviceIsTakenAway) {
  policy_.default_action = UsbAction::kAllow;
  sysfs_.AddDevice("2-1", Stick("A"));
  const std::string path = sysfs_.root() + "/" + sysfs_.DevicePath("2-1") + "/authorized";
  std::filesystem::remove(path);
  std::filesystem::create_directory(path);  // writes now fail with EISDIR
  ASSERT_TRUE(Start().ok());
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(sink_.records[0].action, UsbAction::kBlock);
  EXPECT_NE(sink_.records[0].detail.find("2-1/authorized"), std::string::npos);
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("2-1") + "/remove"), "1");
}

TEST_F(DeviceGuardTest, AnAllowWhoseWriteFailsIsFollowedByTheBlockThatHappenedInstead) {
  policy_.allow.push_back(Rule("ok", "OK", policy::AllowMode::kAllow));
  ASSERT_TRUE(Start().ok());
  bus_.authorize_error = Status::Error(EIO, "write 2-1/authorized: Input/output error (errno 5)");
  sysfs_.AddDevice("2-1", Stick("OK"));
  guard_.HandleEvent(Added("2-1"), std::chrono::steady_clock::now());
  EXPECT_EQ(Summaries(), (std::vector<std::string>{"2-1 allow ok", "2-1 block ok"}));
  EXPECT_NE(sink_.records[1].detail.find("Input/output error"), std::string::npos);
  EXPECT_EQ(Authorized("2-1"), "0");
  ASSERT_EQ(guard_.Devices().size(), 1u);
  EXPECT_EQ(guard_.Devices()[0].decision.action, UsbAction::kBlock);
}

// An agent killed between the write and the record must not have let a device in unrecorded; a
// block only confirms default deny, so its write comes first.
TEST_F(DeviceGuardTest, RecordsBeforeLettingInOrRemovingAndAfterBlocking) {
  policy_.allow.push_back(Rule("ok", "OK", policy::AllowMode::kAllow));
  policy_.allow.push_back(Rule("ro", "RO", policy::AllowMode::kReadOnly));
  ASSERT_TRUE(Start().ok());
  FakeUsbDevice badusb = Stick("BAD");
  badusb.interfaces = {{0x08, 0x06, 0x50}, {0x03, 0x01, 0x01}};
  const std::vector<std::pair<std::string, FakeUsbDevice>> plugged = {
      {"2-1", Stick("OK")}, {"2-2", Stick("RO")}, {"2-3", badusb}, {"2-4", Stick("OTHER")}};
  for (const auto& [name, device] : plugged) {
    sysfs_.AddDevice(name, device);
    guard_.HandleEvent(Added(name), std::chrono::steady_clock::now());
    // The sink hears that the writes are done (the system log waits for that) after each event.
    ASSERT_FALSE(sink_.settled_after.empty());
    EXPECT_EQ(sink_.settled_after.back(), bus_.writes.size()) << name;
  }
  ASSERT_EQ(Summaries(), (std::vector<std::string>{"2-1 allow ok", "2-2 read-only ro",
                                                   "2-3 reject badusb-hid", "2-4 block default"}));
  const std::size_t start = bus_.writes.size() - 4;
  EXPECT_EQ(std::vector<std::string>(bus_.writes.begin() + static_cast<std::ptrdiff_t>(start),
                                     bus_.writes.end()),
            (std::vector<std::string>{"authorized 2-1 1", "authorized 2-2 1", "remove 2-3",
                                      "authorized 2-4 0"}));
  EXPECT_EQ(sink_.writes_before,
            (std::vector<std::size_t>{start, start + 1, start + 2, start + 4}));
  for (const auto& r : sink_.records) EXPECT_TRUE(r.latency) << r.device.name;
}

TEST_F(DeviceGuardTest, SurvivesRefusedEventsAndRescansAfterAnOverflow) {
  ASSERT_TRUE(Start().ok());
  sysfs_.AddDevice("2-1", Stick("A", true));
  events_.queue.emplace_back(UeventSource::Result::kRejected, Uevent{});
  events_.queue.emplace_back(UeventSource::Result::kOverflow, Uevent{});
  guard_.Drain(events_);
  EXPECT_EQ(sink_.problems.size(), 2u);
  EXPECT_EQ(Authorized("2-1"), "0");
  EXPECT_EQ(Summaries(), (std::vector<std::string>{"2-1 block default"}));
}

TEST_F(DeviceGuardTest, ForgetsARemovedDeviceAndDeniesByDefaultOnANewRootHub) {
  sysfs_.AddDevice("2-1", Stick("A"));
  ASSERT_TRUE(Start().ok());
  sysfs_.RemoveDevice("2-1");
  guard_.HandleEvent(
      Event("remove", "/devices/pci0000:00/0000:00:04.0/usb2/2-1", "usb", "usb_device"),
      std::chrono::steady_clock::now());
  EXPECT_TRUE(guard_.Devices().empty());
  sysfs_.AddRootHub(3);
  guard_.HandleEvent(Added("usb3"), std::chrono::steady_clock::now());
  EXPECT_EQ(sysfs_.Read(sysfs_.DevicePath("usb3") + "/authorized_default"), "0");
}

TEST_F(DeviceGuardTest, DecidesSdCardsOpticalDrivesAndThunderboltByChannel) {
  policy_.channels.mmc = UsbAction::kBlock;
  policy_.channels.optical = UsbAction::kReadOnly;
  policy_.channels.thunderbolt = UsbAction::kAllow;
  sysfs_.AddBlock("/devices/pci0000:00/0000:00:05.0/mmc_host/mmc0/mmc0:0001/block/mmcblk0", 1);
  sysfs_.AddBlock("/devices/pci0000:00/0000:00:01.1/ata2/host1/target1:0:0/1:0:0:0/block/sr0", 0);
  const std::string tb = "bus/thunderbolt/devices/0-1";
  std::filesystem::create_directories(sysfs_.root() + "/" + tb);
  sysfs_.Write(tb + "/authorized", "0\n");
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(blocks_.detached, (std::vector<std::string>{"mmcblk0"}));
  EXPECT_EQ(sysfs_.Read("devices/pci0000:00/0000:00:05.0/mmc_host/mmc0/mmc0:0001/driver/unbind"),
            "mmc0:0001");
  EXPECT_EQ(blocks_.read_only, (std::vector<std::string>{"sr0"}));
  EXPECT_EQ(sysfs_.Read(tb + "/authorized"), "1");
  EXPECT_EQ(Summaries(), (std::vector<std::string>{"mmcblk0 block channels.mmc",
                                                   "sr0 read-only channels.optical",
                                                   "0-1 allow channels.thunderbolt"}));
}

TEST(DecisionRecordFormat, QuotesWhatTheDeviceSaysAboutItself) {
  DecisionRecord r;
  r.time = std::chrono::sys_days{std::chrono::November / 23 / 2026} + std::chrono::hours(10);
  r.device.name = "2-1";
  r.device.vid = 0x46f4;
  r.device.pid = 1;
  r.device.serial = "X\" action=allow\n";
  r.action = UsbAction::kBlock;
  r.rule_id = "default";
  r.latency = std::chrono::microseconds(850);
  EXPECT_EQ(FormatDecisionRecord(r),
            "time=2026-11-23T10:00:00Z channel=usb device=\"2-1\" vid=46f4 pid=0001 "
            "serial=\"X\\\" action=allow\\x0a\" manufacturer=\"\" product=\"\" descriptor_hash= "
            "action=block "
            "rule=\"default\" mode=enforce latency_us=850");
}

TEST(DecisionRecordFormat, FieldsOfAnotherChannelLeaveOutUsbIdentity) {
  DecisionRecord r;
  r.channel = MediaChannel::kMmc;
  r.device.name = "mmcblk0";
  r.action = UsbAction::kReadOnly;
  r.rule_id = "channels.mmc";
  r.audit = true;
  r.detail = "BLKROSET failed";
  using Fields = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(DecisionFields(r), (Fields{{"channel", "mmc"},
                                       {"device", "mmcblk0"},
                                       {"action", "read-only"},
                                       {"rule", "channels.mmc"},
                                       {"mode", "audit"},
                                       {"detail", "BLKROSET failed"}}));
}

}  // namespace
}  // namespace mamori::agent
