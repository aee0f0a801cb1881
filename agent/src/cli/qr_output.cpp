#include "qr_output.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>

#include <memory>
#include <vector>

#include "mamori/platform/secure_dir.h"

namespace mamori::cli {
namespace {

constexpr int kQuiet = 2;  // modules of white border
constexpr int kScale = 8;  // PNG pixels per module

using QrPtr = std::unique_ptr<QRcode, decltype(&QRcode_free)>;

QrPtr Encode(const std::string& text) {
  return QrPtr(QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), QRcode_free);
}

bool Dark(const QRcode& qr, int x, int y) {
  if (x < 0 || y < 0 || x >= qr.width || y >= qr.width) return false;
  return (qr.data[y * qr.width + x] & 1) != 0;
}

void AppendPng(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), length);
}

// Only plain locals here: libpng reports errors by longjmp, which must not skip a destructor.
bool EncodePng(const QRcode& qr, int size, png_byte* row, std::string* out) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, out, AppendPng, nullptr);
  png_set_IHDR(png, info, size, size, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int py = 0; py < size; ++py) {
    for (int i = 0; i < (size + 7) / 8; ++i) row[i] = 0;
    for (int px = 0; px < size; ++px) {
      if (!Dark(qr, px / kScale - kQuiet, py / kScale - kQuiet)) {
        row[px / 8] = static_cast<png_byte>(row[px / 8] | (0x80 >> (px % 8)));
      }
    }
    png_write_row(png, row);
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

std::string QrForTerminal(const std::string& text) {
  QrPtr qr = Encode(text);
  if (!qr) return {};
  std::string out;
  const int lo = -kQuiet;
  const int hi = qr->width + kQuiet;
  // Dark modules are drawn as the terminal's background, so the code reads on dark terminals.
  for (int y = lo; y < hi; y += 2) {
    for (int x = lo; x < hi; ++x) {
      const bool top = Dark(*qr, x, y);
      const bool bottom = Dark(*qr, x, y + 1);
      out += top ? (bottom ? " " : "\u2584") : (bottom ? "\u2580" : "\u2588");
    }
    out += "\n";
  }
  return out;
}

platform::Status WriteQrPng(const std::string& text, const std::string& path) {
  QrPtr qr = Encode(text);
  if (!qr) return platform::Status::Error(-1, "the URI does not fit in a QR code");
  const int size = (qr->width + 2 * kQuiet) * kScale;
  std::string bytes;
  std::vector<png_byte> row((size + 7) / 8);
  if (!EncodePng(*qr, size, row.data(), &bytes)) {
    return platform::Status::Error(-1, path + ": PNG encoding failed");
  }

  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::unique_ptr<platform::SecureDir> d;
  platform::Status s = platform::SecureDir::Open(dir, 0700, &d);
  if (!s.ok()) return s;
  return d->CreateAtomic(name, bytes, 0600);
}

}  // namespace mamori::cli
