// `mamori enroll` and `mamori policy apply`: the terminal's side of the collector, from the CLI.
#pragma once

#include <string>

namespace mamori::cli {

struct EnrollArgs {
  std::string state_dir;
  std::string url;
  std::string ca_file;
  std::string token_file;  // "-" for standard input; never the token itself
  bool force = false;
};
int EnrollCommand(const EnrollArgs& args);

int PolicyApplyCommand(const std::string& state_dir, const std::string& trust_file,
                       const std::string& bundle_file);

}  // namespace mamori::cli
