#include "mamori/agent/device_guard.h"

#include <algorithm>
#include <cerrno>

#include "mamori/policy/text.h"

namespace mamori::agent {
namespace {

using policy::UsbAction;
using std::chrono::steady_clock;

policy::DeviceDescription Describe(const platform::UsbDevice& d) {
  policy::DeviceDescription out;
  out.vid = d.vid;
  out.pid = d.pid;
  out.serial = d.serial;
  out.descriptor_hash = d.descriptor_hash;
  out.port = d.name;
  out.connect_type = d.connect_type;
  for (const auto& i : d.parsed.interfaces) {
    out.interfaces.push_back({i.cls, i.subclass, i.protocol});
  }
  return out;
}

DeviceIdentity IdentityOf(const platform::UsbDevice& d) {
  return {d.name, d.vid, d.pid, d.serial, d.descriptor_hash, d.manufacturer, d.product};
}

bool SameIdentity(const DeviceIdentity& a, const DeviceIdentity& b) {
  return a.vid == b.vid && a.pid == b.pid && a.serial == b.serial &&
         a.descriptor_hash == b.descriptor_hash;
}

bool SameDecision(const policy::Decision& a, const policy::Decision& b) {
  return a.action == b.action && a.rule_id == b.rule_id && a.audit_only == b.audit_only;
}

void Append(std::string* detail, std::string_view more) {
  if (!detail->empty()) detail->append("; ");
  detail->append(more);
}

// Device strings come from the device: quote them so a serial cannot forge log fields.
std::string Quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

std::string Hex4(std::uint16_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  return {kHex[v >> 12], kHex[(v >> 8) & 0xf], kHex[(v >> 4) & 0xf], kHex[v & 0xf]};
}

}  // namespace

std::string_view ToString(MediaChannel channel) {
  switch (channel) {
    case MediaChannel::kUsb:
      return "usb";
    case MediaChannel::kMmc:
      return "mmc";
    case MediaChannel::kOptical:
      return "optical";
    case MediaChannel::kThunderbolt:
      break;
  }
  return "thunderbolt";
}

std::vector<std::pair<std::string, std::string>> DecisionFields(const DecisionRecord& r) {
  std::vector<std::pair<std::string, std::string>> f;
  f.emplace_back("channel", ToString(r.channel));
  f.emplace_back("device", r.device.name);
  if (r.channel == MediaChannel::kUsb) {
    f.emplace_back("vid", Hex4(r.device.vid));
    f.emplace_back("pid", Hex4(r.device.pid));
    f.emplace_back("serial", r.device.serial);
    f.emplace_back("manufacturer", r.device.manufacturer);
    f.emplace_back("product", r.device.product);
    f.emplace_back("descriptor_hash", r.device.descriptor_hash);
  }
  f.emplace_back("action", policy::ToString(r.action));
  f.emplace_back("rule", r.rule_id);
  f.emplace_back("mode", r.audit ? "audit" : "enforce");
  if (r.latency) {
    f.emplace_back(
        "latency_us",
        std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(*r.latency).count()));
  }
  if (!r.detail.empty()) f.emplace_back("detail", r.detail);
  return f;
}

std::string FormatDecisionRecord(const DecisionRecord& r) {
  // Fields whose values the guard itself produces from a fixed alphabet.
  static constexpr std::string_view kPlain[] = {"channel", "vid",  "pid",       "descriptor_hash",
                                                "action",  "mode", "latency_us"};
  std::string line =
      "time=" + policy::FormatTimestamp(std::chrono::floor<std::chrono::seconds>(r.time));
  for (const auto& [key, value] : DecisionFields(r)) {
    const bool plain = std::find(std::begin(kPlain), std::end(kPlain), key) != std::end(kPlain);
    line += " " + key + "=" + (plain ? value : Quote(value));
  }
  return line;
}

DeviceGuard::DeviceGuard(platform::UsbBus& bus, platform::BlockDevices& blocks,
                         platform::ThunderboltBus& thunderbolt, DecisionSink& sink, Clock clock)
    : bus_(bus),
      blocks_(blocks),
      thunderbolt_(thunderbolt),
      sink_(sink),
      clock_(std::move(clock)) {}

platform::Status DeviceGuard::Start(const policy::UsbPolicy& policy,
                                    platform::UeventSource& events) {
  policy_ = policy;
  // Before anything else: from here on, a new device stays unauthorized until decided.
  platform::Status deny = DenyByDefault();
  Rescan();
  Drain(events);
  return deny;
}

platform::Status DeviceGuard::DenyByDefault() {
  std::vector<std::string> hubs;
  platform::Status first = bus_.ListRootHubs(&hubs);
  Report(first);
  for (const std::string& hub : hubs) {
    platform::Status s = bus_.SetAuthorizedDefault(hub, 0);
    Report(s);
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

void DeviceGuard::Drain(platform::UeventSource& events) {
  for (;;) {
    platform::Uevent event;
    std::string error;
    switch (events.Next(&event, &error)) {
      case platform::UeventSource::Result::kEvent:
        HandleEvent(event, steady_clock::now());
        break;
      case platform::UeventSource::Result::kNone:
        return;
      case platform::UeventSource::Result::kOverflow:
        sink_.Problem("uevents were lost: re-reading every device");
        Rescan();
        break;
      case platform::UeventSource::Result::kRejected:
        sink_.Problem(error);
        break;
    }
  }
}

void DeviceGuard::HandleEvent(const platform::Uevent& event, SteadyTime received) {
  const std::string name(event.sysname());
  if (event.subsystem == "usb" && event.devtype == "usb_device") {
    if (event.action == "add" && platform::IsRootHubName(name)) {
      Report(bus_.SetAuthorizedDefault(name, 0));
    } else if (event.action == "add" && platform::IsUsbDeviceName(name)) {
      DecideUsb(name, received);
    } else if (event.action == "remove") {
      usb_.erase(name);
    }
  } else if (event.subsystem == "block") {
    if (event.action == "add") {
      const platform::BlockDevice block = platform::DescribeBlockDevice(event.devpath);
      if (block.channel == platform::BlockChannel::kUsb) {
        ProtectUsbBlock(block, received);
      } else if (block.channel != platform::BlockChannel::kOther) {
        DecideMedium(block, received);
      }
    } else if (event.action == "remove") {
      media_.erase(name);
    }
  } else if (event.subsystem == "thunderbolt" && event.action == "add") {
    DecideThunderbolt(received);
  }
  sink_.Settled();
}

void DeviceGuard::ApplyPolicy(const policy::UsbPolicy& policy) {
  policy_ = policy;
  Rescan();
}

std::vector<DeviceGuard::PresentDevice> DeviceGuard::Devices() const {
  std::vector<PresentDevice> out;
  for (const auto* table : {&usb_, &media_, &bolts_}) {
    for (const auto& [name, known] : *table) out.push_back(known.present);
  }
  return out;
}

void DeviceGuard::Rescan() {
  std::vector<std::string> names;
  Report(bus_.ListDevices(&names));
  std::erase_if(usb_, [&](const auto& entry) {
    return std::find(names.begin(), names.end(), entry.first) == names.end();
  });
  // Sorted, so a hub is decided before the devices behind it.
  for (const std::string& name : names) DecideUsb(name, std::nullopt);

  std::vector<platform::BlockDevice> all;
  Report(blocks_.List(&all));
  std::erase_if(media_, [&](const auto& entry) {
    return std::none_of(all.begin(), all.end(),
                        [&](const platform::BlockDevice& b) { return b.name == entry.first; });
  });
  for (const auto& block : all) {
    if (block.channel == platform::BlockChannel::kUsb) {
      ProtectUsbBlock(block, std::nullopt);
    } else if (block.channel != platform::BlockChannel::kOther) {
      DecideMedium(block, std::nullopt);
    }
  }
  DecideThunderbolt(std::nullopt);
  sink_.Settled();
}

void DeviceGuard::DecideUsb(const std::string& name, std::optional<SteadyTime> received) {
  platform::UsbDevice device;
  platform::Status s = bus_.ReadDevice(name, &device);
  if (!s.ok()) {
    usb_.erase(name);  // gone meanwhile; its remove event follows
    if (s.err() != ENOENT) Report(s);
    return;
  }
  Known known;
  known.present.identity = IdentityOf(device);
  policy::Decision& decision = known.present.decision;
  if (device.problems.empty()) {
    decision = policy::MatchDevice(policy_, Describe(device),
                                   std::chrono::floor<std::chrono::seconds>(clock_()));
  } else {
    // A device that cannot be described faithfully is not matched against allow rules.
    decision.action = UsbAction::kBlock;
    decision.rule_id = std::string(policy::kDefaultRuleId);
    decision.audit_only = policy_.mode == policy::EnforcementMode::kAudit;
    for (const auto& problem : device.problems) Append(&known.detail, problem);
  }

  const auto previous = usb_.find(name);
  const bool was_protected_read_only =
      previous != usb_.end() && !previous->second.present.decision.audit_only &&
      previous->second.present.decision.action == UsbAction::kReadOnly;
  const bool changed = previous == usb_.end() ||
                       !SameIdentity(previous->second.present.identity, known.present.identity) ||
                       !SameDecision(previous->second.present.decision, decision);

  // A decision that changes the device (lets it in, or removes it) is recorded before the write:
  // no device is let in or removed without its record, even if the agent dies right after the
  // write. Meanwhile the device stays unauthorized (default deny). A block is written first: it
  // only confirms what default deny already holds, and an agent that dies before its record
  // decides and records every present device again at its restart.
  const bool record_first = decision.audit_only || decision.action != UsbAction::kBlock;
  const bool record = changed || !known.detail.empty();
  if (record_first && record) Emit(known, received);
  if (decision.audit_only) {
    Report(bus_.SetAuthorized(name, true));  // audit blocks nothing
  } else {
    switch (decision.action) {
      case UsbAction::kAllow:
        s = bus_.SetAuthorized(name, true);
        break;
      case UsbAction::kReadOnly:
        // A device that was writable may already be open or mounted for writing: take it away
        // and back, so every block device is new and made read-only as it appears.
        if (device.authorized && !was_protected_read_only) s = bus_.SetAuthorized(name, false);
        if (s.ok()) s = bus_.SetAuthorized(name, true);
        break;
      case UsbAction::kBlock:
        s = bus_.SetAuthorized(name, false);
        break;
      case UsbAction::kReject:
        s = bus_.Remove(name);
        break;
    }
    if (!s.ok()) {
      Append(&known.detail, s.message());
      // Fail closed: whatever was decided, a device the guard cannot control is taken away.
      if (!bus_.SetAuthorized(name, false).ok()) Report(bus_.Remove(name));
      decision.action = UsbAction::kBlock;
      if (record_first) Emit(known, received);  // what happened instead of what was recorded
    }
  }
  if (!record_first && record) Emit(known, received);
  if (decision.action == UsbAction::kReject && !decision.audit_only) {
    usb_.erase(name);
  } else {
    usb_[name] = std::move(known);
  }
}

void DeviceGuard::ProtectUsbBlock(const platform::BlockDevice& block,
                                  std::optional<SteadyTime> received) {
  auto owner = usb_.find(block.usb_device);
  if (owner == usb_.end()) {
    // The disk's event overtook its device's: decide the device now.
    DecideUsb(block.usb_device, received);
    owner = usb_.find(block.usb_device);
    if (owner == usb_.end()) return;
  }
  const policy::Decision& decision = owner->second.present.decision;
  if (decision.audit_only || decision.action != UsbAction::kReadOnly) return;
  platform::Status s = blocks_.SetReadOnly(block.name);
  // A disk that vanished meanwhile (its device was just re-authorized) needs no protection.
  if (s.ok() || s.err() == ENOENT || s.err() == ENXIO || s.err() == ENODEV) return;
  Known& known = owner->second;
  known.detail = "read-only not enforceable on " + block.name + ": " + s.message();
  Report(bus_.SetAuthorized(block.usb_device, false));
  known.present.decision.action = UsbAction::kBlock;
  Emit(known, received);
}

void DeviceGuard::DecideMedium(const platform::BlockDevice& block,
                               std::optional<SteadyTime> received) {
  const bool mmc = block.channel == platform::BlockChannel::kMmc;
  Known known;
  known.present.channel = mmc ? MediaChannel::kMmc : MediaChannel::kOptical;
  known.present.identity.name = block.name;
  policy::Decision& decision = known.present.decision;
  decision.action = mmc ? policy_.channels.mmc : policy_.channels.optical;
  decision.rule_id = mmc ? "channels.mmc" : "channels.optical";
  decision.audit_only = policy_.mode == policy::EnforcementMode::kAudit;
  platform::Status s = platform::Status::Ok();
  if (!decision.audit_only && decision.action == UsbAction::kReadOnly) {
    s = blocks_.SetReadOnly(block.name);
  } else if (!decision.audit_only && decision.action != UsbAction::kAllow) {
    // Blocking takes the whole disk away; its partitions go with it. Reversing this takes a
    // re-insertion of the medium.
    if (!block.disk.empty()) return;
    s = blocks_.DetachDriver(block.name);
  }
  if (!s.ok()) {
    known.detail = s.message();
    // Fail closed: a medium that cannot be made read-only is taken away.
    if (decision.action == UsbAction::kReadOnly) {
      Report(blocks_.DetachDriver(block.disk.empty() ? block.name : block.disk));
    }
    decision.action = UsbAction::kBlock;
  }
  if (!block.disk.empty() && known.detail.empty()) return;  // the disk's record speaks for it
  const auto previous = media_.find(block.name);
  if (previous == media_.end() || !SameDecision(previous->second.present.decision, decision) ||
      !known.detail.empty()) {
    Emit(known, received);
  }
  media_[block.name] = std::move(known);
}

void DeviceGuard::DecideThunderbolt(std::optional<SteadyTime> received) {
  std::vector<platform::ThunderboltDevice> all;
  Report(thunderbolt_.List(&all));
  std::erase_if(bolts_, [&](const auto& entry) {
    return std::none_of(all.begin(), all.end(),
                        [&](const auto& d) { return d.name == entry.first; });
  });
  for (const auto& device : all) {
    Known known;
    known.present.channel = MediaChannel::kThunderbolt;
    known.present.identity.name = device.name;
    known.present.identity.serial = device.unique_id;
    known.present.identity.manufacturer = device.vendor_name;
    known.present.identity.product = device.device_name;
    policy::Decision& decision = known.present.decision;
    decision.action = policy_.channels.thunderbolt;
    decision.rule_id = "channels.thunderbolt";
    decision.audit_only = policy_.mode == policy::EnforcementMode::kAudit;
    const bool allow = decision.audit_only || decision.action == UsbAction::kAllow;
    if (allow && !device.authorized) {
      if (platform::Status s = thunderbolt_.Authorize(device.name); !s.ok())
        known.detail = s.message();
    } else if (!allow && device.authorized) {
      known.detail =
          "authorized before the guard decided; the kernel cannot revoke it until unplug";
    }
    const auto previous = bolts_.find(device.name);
    if (previous == bolts_.end() || !SameDecision(previous->second.present.decision, decision)) {
      Emit(known, received);
    }
    bolts_[device.name] = std::move(known);
  }
}

void DeviceGuard::Emit(const Known& known, std::optional<SteadyTime> received) {
  DecisionRecord record;
  record.time = clock_();
  record.channel = known.present.channel;
  record.device = known.present.identity;
  record.action = known.present.decision.action;
  record.rule_id = known.present.decision.rule_id;
  record.audit = known.present.decision.audit_only;
  record.detail = known.detail;
  if (received) record.latency = steady_clock::now() - *received;
  sink_.Record(record);
}

void DeviceGuard::Report(const platform::Status& status) {
  if (!status.ok()) sink_.Problem(status.message());
}

}  // namespace mamori::agent
