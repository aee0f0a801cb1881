// Parsing of the raw USB descriptors the kernel exposes in sysfs (`descriptors`): the device
// descriptor followed by every configuration with its subordinate descriptors. The kernel offers
// this file while a device is still unauthorized, so a device can be classified before any driver
// binds.
#pragma once

#include <libusb.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mamori::platform {

// USB allows at most 32 interfaces per configuration, each with alternate settings, in at most 8
// configurations (USB_MAXCONFIG); more than this is a lying device.
inline constexpr std::size_t kMaxInterfaceDescriptors = 256;
// The largest descriptors file a real device can produce: 8 configurations of 64 KiB.
inline constexpr std::size_t kMaxDescriptorBytes = LIBUSB_DT_DEVICE_SIZE + 8 * 65535;

struct UsbInterfaceDescriptor {
  std::uint8_t configuration = 0;  // bConfigurationValue of the configuration holding it
  std::uint8_t number = 0;         // bInterfaceNumber
  std::uint8_t alternate = 0;      // bAlternateSetting
  std::uint8_t cls = 0;
  std::uint8_t subclass = 0;
  std::uint8_t protocol = 0;
  friend bool operator==(const UsbInterfaceDescriptor&, const UsbInterfaceDescriptor&) = default;
};

struct UsbDescriptors {
  libusb_device_descriptor device{};
  // Every interface descriptor of every configuration and alternate setting: the kernel chooses the
  // configuration only after authorization and root can switch it later, so a decision must hold
  // for all of them.
  std::vector<UsbInterfaceDescriptor> interfaces;
  // Empty when the bytes are well formed; otherwise what is wrong and at which offset. Interfaces
  // found before the fault are kept, but a device with an error must not be trusted.
  std::string error;
  bool ok() const { return error.empty(); }
};

UsbDescriptors ParseUsbDescriptors(std::span<const unsigned char> bytes);

// Lowercase hex SHA-256 of the raw descriptors: a device identity that does not rely on a serial.
std::string DescriptorHash(std::span<const unsigned char> bytes);

}  // namespace mamori::platform
