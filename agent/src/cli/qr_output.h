// The otpauth URI as a QR code: drawn in the terminal, or as a PNG file for printing or a second
// screen. The QR encoding is libqrencode's; the PNG encoding is libpng's.
#pragma once

#include <string>

#include "mamori/platform/env.h"

namespace mamori::cli {

// Rows of Unicode half blocks, two modules per character cell, with the quiet zone; empty when the
// text cannot be encoded.
std::string QrForTerminal(const std::string& text);

// Writes the QR code as a PNG (mode 0600: it holds the secret) that must not exist yet, in a
// directory only the caller can write.
platform::Status WriteQrPng(const std::string& text, const std::string& path);

}  // namespace mamori::cli
