// mamorictl: the command-line tool of IT staff and administrators.
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "mamorictl/admin_commands.h"
#include "mamorictl/policy_commands.h"

namespace {

void PrintUsage(std::ostream& out) {
  out << "usage: mamorictl AREA COMMAND [OPTIONS]\n\n"
         "areas:\n"
         "  policy   offline signing keys and signed policy bundles\n\n"
         "mamorictl policy:\n";
  mamori::ctl::PrintPolicyUsage(out);
  out << "\nmamorictl against the collector:\n";
  mamori::ctl::admin::PrintAdminUsage(out);
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
    if (mamori::ctl::admin::IsAdminCommand(args)) {
      return mamori::ctl::admin::RunAdminCommand(args, std::cout, std::cerr, std::getenv);
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
