#include "mamori/platform/usb_descriptors.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace mamori::platform {
namespace {

std::uint16_t Le16(std::span<const unsigned char> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8));
}

std::string At(std::size_t offset) { return " at offset " + std::to_string(offset); }

// Walks one configuration's subordinate descriptors (interfaces, endpoints, class-specific ones).
void ParseConfiguration(std::span<const unsigned char> config, std::size_t base,
                        UsbDescriptors* out) {
  const std::uint8_t value = config[5];
  std::size_t pos = config[0];
  while (pos < config.size()) {
    if (config.size() - pos < 2) {
      out->error = "truncated descriptor header" + At(base + pos);
      return;
    }
    const std::uint8_t length = config[pos];
    const std::uint8_t type = config[pos + 1];
    if (length < 2) {
      out->error = "descriptor length " + std::to_string(length) + At(base + pos);
      return;
    }
    if (length > config.size() - pos) {
      out->error = "descriptor runs past its configuration" + At(base + pos);
      return;
    }
    if (type == LIBUSB_DT_CONFIG || type == LIBUSB_DT_DEVICE) {
      out->error = "unexpected descriptor type " + std::to_string(type) + At(base + pos);
      return;
    }
    if (type == LIBUSB_DT_INTERFACE) {
      if (length < LIBUSB_DT_INTERFACE_SIZE) {
        out->error = "short interface descriptor" + At(base + pos);
        return;
      }
      if (out->interfaces.size() == kMaxInterfaceDescriptors) {
        out->error = "more than " + std::to_string(kMaxInterfaceDescriptors) + " interfaces";
        return;
      }
      out->interfaces.push_back({.configuration = value,
                                 .number = config[pos + 2],
                                 .alternate = config[pos + 3],
                                 .cls = config[pos + 5],
                                 .subclass = config[pos + 6],
                                 .protocol = config[pos + 7]});
    }
    pos += length;
  }
}

}  // namespace

UsbDescriptors ParseUsbDescriptors(std::span<const unsigned char> bytes) {
  UsbDescriptors out;
  if (bytes.size() > kMaxDescriptorBytes) {
    out.error = "descriptors larger than " + std::to_string(kMaxDescriptorBytes) + " bytes";
    return out;
  }
  if (bytes.size() < LIBUSB_DT_DEVICE_SIZE) {
    out.error = "device descriptor truncated (" + std::to_string(bytes.size()) + " bytes)";
    return out;
  }
  if (bytes[0] != LIBUSB_DT_DEVICE_SIZE || bytes[1] != LIBUSB_DT_DEVICE) {
    out.error = "not a device descriptor" + At(0);
    return out;
  }
  libusb_device_descriptor& d = out.device;
  d.bLength = bytes[0];
  d.bDescriptorType = bytes[1];
  d.bcdUSB = Le16(bytes, 2);
  d.bDeviceClass = bytes[4];
  d.bDeviceSubClass = bytes[5];
  d.bDeviceProtocol = bytes[6];
  d.bMaxPacketSize0 = bytes[7];
  d.idVendor = Le16(bytes, 8);
  d.idProduct = Le16(bytes, 10);
  d.bcdDevice = Le16(bytes, 12);
  d.iManufacturer = bytes[14];
  d.iProduct = bytes[15];
  d.iSerialNumber = bytes[16];
  d.bNumConfigurations = bytes[17];

  std::size_t pos = LIBUSB_DT_DEVICE_SIZE;
  std::size_t configs = 0;
  while (pos < bytes.size()) {
    const std::size_t left = bytes.size() - pos;
    if (left < LIBUSB_DT_CONFIG_SIZE) {
      out.error = "configuration descriptor truncated" + At(pos);
      return out;
    }
    if (bytes[pos] < LIBUSB_DT_CONFIG_SIZE || bytes[pos + 1] != LIBUSB_DT_CONFIG) {
      out.error = "not a configuration descriptor" + At(pos);
      return out;
    }
    const std::size_t total = Le16(bytes, pos + 2);
    if (total < bytes[pos]) {
      out.error =
          "configuration total length " + std::to_string(total) + " below its header" + At(pos);
      return out;
    }
    if (total > left) {
      out.error = "configuration total length " + std::to_string(total) + " exceeds the " +
                  std::to_string(left) + " bytes present" + At(pos);
      return out;
    }
    ParseConfiguration(bytes.subspan(pos, total), pos, &out);
    if (!out.ok()) return out;
    pos += total;
    ++configs;
  }
  if (configs != d.bNumConfigurations) {
    out.error = "device descriptor announces " + std::to_string(d.bNumConfigurations) +
                " configurations, " + std::to_string(configs) + " present";
  }
  return out;
}

std::string DescriptorHash(std::span<const unsigned char> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // Fetched once: OpenSSL 3 otherwise looks the algorithm up in its provider store on every call.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (sha256 == nullptr ||
      EVP_Digest(bytes.data(), bytes.size(), digest, &length, sha256, nullptr) != 1) {
    throw std::runtime_error("SHA-256 unavailable in OpenSSL");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

}  // namespace mamori::platform
