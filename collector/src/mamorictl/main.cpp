// mamorictl: the command-line tool of IT staff and administrators.
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "mamorictl/policy_commands.h"

namespace {

void PrintUsage(std::ostream& out) {
  out << "usage: mamorictl AREA COMMAND [OPTIONS]\n\n"
         "areas:\n"
         "  policy   offline signing keys and signed policy bundles\n\n"
         "mamorictl policy:\n";
  mamori::ctl::PrintPolicyUsage(out);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty()) {
      PrintUsage(std::cerr);
      return mamori::ctl::kExitUsage;
    }
    if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      PrintUsage(std::cout);
      return mamori::ctl::kExitOk;
    }
    if (args[0] == "policy") {
      return mamori::ctl::RunPolicyCommand(std::vector<std::string>(args.begin() + 1, args.end()));
    }
    std::cerr << "mamorictl: unknown area '" << args[0] << "'\n";
    PrintUsage(std::cerr);
    return mamori::ctl::kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "mamorictl: internal error: " << e.what() << "\n";
    return mamori::ctl::kExitInternal;
  }
}
