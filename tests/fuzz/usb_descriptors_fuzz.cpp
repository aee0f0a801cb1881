// libFuzzer target for ParseUsbDescriptors, the reader of a device's sysfs `descriptors` file, and
// DescriptorHash. Aborts when accepted descriptors disagree with their bytes (device fields,
// configuration count, an interface outside every configuration), when a strict prefix of accepted
// descriptors is accepted too (a truncated file must never pass), when more interfaces are kept
// than the bytes can hold, or when parsing or hashing the same bytes twice differs.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/platform/usb_descriptors.h"

namespace {
using namespace mamori::platform;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "usb_descriptors_fuzz: %s\n%.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

std::uint16_t Le16(std::span<const unsigned char> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8));
}

void CheckAccepted(const UsbDescriptors& d, std::span<const unsigned char> bytes,
                   std::string_view error_context) {
  if (bytes.size() < LIBUSB_DT_DEVICE_SIZE) Fail("a truncated device is accepted", error_context);
  const libusb_device_descriptor& dev = d.device;
  if (dev.bLength != bytes[0] || dev.bDescriptorType != LIBUSB_DT_DEVICE ||
      dev.idVendor != Le16(bytes, 8) || dev.idProduct != Le16(bytes, 10) ||
      dev.bDeviceClass != bytes[4] || dev.bNumConfigurations != bytes[17]) {
    Fail("the device descriptor disagrees with its bytes", error_context);
  }
  // The configurations as their headers chain them; the parser accepted, so the chain is exact.
  std::set<std::uint8_t> values;
  std::size_t configs = 0;
  for (std::size_t pos = LIBUSB_DT_DEVICE_SIZE; pos < bytes.size(); ++configs) {
    if (bytes.size() - pos < LIBUSB_DT_CONFIG_SIZE) Fail("configuration chain broken", "");
    values.insert(bytes[pos + 5]);
    const std::size_t total = Le16(bytes, pos + 2);
    if (total < LIBUSB_DT_CONFIG_SIZE || total > bytes.size() - pos) {
      Fail("an accepted configuration length is out of range", error_context);
    }
    pos += total;
  }
  if (configs != dev.bNumConfigurations) Fail("configuration count disagrees", error_context);
  for (const UsbInterfaceDescriptor& i : d.interfaces) {
    if (!values.contains(i.configuration)) {
      Fail("an interface names no configuration present", error_context);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const unsigned char> bytes(data, size);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const UsbDescriptors d = ParseUsbDescriptors(bytes);

  if (d.interfaces.size() > kMaxInterfaceDescriptors) Fail("interface limit exceeded", input);
  // Each kept interface is a 9-byte descriptor inside a configuration after the device descriptor.
  if (!d.interfaces.empty() && d.interfaces.size() * LIBUSB_DT_INTERFACE_SIZE +
                                       LIBUSB_DT_DEVICE_SIZE + LIBUSB_DT_CONFIG_SIZE >
                                   size) {
    Fail("more interfaces than the bytes can hold", input);
  }
  if (d.error.size() > 4096) Fail("an error message grows with the input", d.error);

  const UsbDescriptors again = ParseUsbDescriptors(std::vector<unsigned char>(data, data + size));
  if (again.error != d.error || again.interfaces != d.interfaces) {
    Fail("parsing the same bytes twice differs", input);
  }
  const std::string hash = DescriptorHash(bytes);
  if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
    Fail("the hash is not lowercase hex SHA-256", hash);
  }
  if (DescriptorHash(std::vector<unsigned char>(data, data + size)) != hash) {
    Fail("hashing the same bytes twice differs", input);
  }

  if (!d.ok()) return 0;
  CheckAccepted(d, bytes, input);
  for (const std::size_t cut : {size - 1, size / 2}) {
    if (ParseUsbDescriptors(bytes.first(cut)).ok()) Fail("a truncated file is accepted", input);
  }
  return 0;
}
