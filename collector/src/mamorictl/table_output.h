// Tabular output of mamorictl's reports: an aligned text table, or CSV for Excel (UTF-8 with a
// byte-order mark, CRLF line ends, every field quoted when needed).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace mamori::ctl {

struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
};

void WriteTable(std::ostream& out, const Table& table);
void WriteCsv(std::ostream& out, const Table& table);

}  // namespace mamori::ctl
