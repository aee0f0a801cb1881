#include "mamorictl/table_output.h"

#include <algorithm>
#include <string_view>

namespace mamori::ctl {
namespace {

// Display columns of UTF-8 text: East Asian wide characters (CJK, kana, full-width forms) take
// two, so Japanese host names and labels line up.
std::size_t DisplayWidth(const std::string& text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    char32_t cp = c;
    std::size_t len = 1;
    if (c >= 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else if (c >= 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xc0) {
      len = 2;
      cp = c & 0x1f;
    }
    for (std::size_t k = 1; k < len && i + k < text.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    }
    const bool wide = (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
                      (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
                      (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
                      (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd);
    width += wide ? 2 : 1;
    i += len;
  }
  return width;
}

std::string CsvField(const std::string& value) {
  // A cell starting with these is a formula to Excel: a reported host name must not become one.
  // A lone "-" (no value) is plain text to Excel too.
  const bool formula =
      value.size() > 1 && std::string_view("=+-@\t\r").find(value[0]) != std::string_view::npos;
  std::string field = formula ? "'" : "";
  field += value;
  if (!formula && field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

void CsvRow(std::ostream& out, const std::vector<std::string>& row) {
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (i) out << ',';
    out << CsvField(row[i]);
  }
  out << "\r\n";
}

}  // namespace

void WriteTable(std::ostream& out, const Table& table) {
  std::vector<std::size_t> widths(table.headers.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(table.headers);
  for (const auto& row : table.rows) measure(row);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    out << line << "\n";
  };
  print(table.headers);
  for (const auto& row : table.rows) print(row);
}

void WriteCsv(std::ostream& out, const Table& table) {
  out << "\xEF\xBB\xBF";
  CsvRow(out, table.headers);
  for (const auto& row : table.rows) CsvRow(out, row);
}

}  // namespace mamori::ctl
