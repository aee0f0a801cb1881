// mamori-collector: enrollment, compliance reports, signed policy distribution and IT reports.
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "collector/log.h"
#include "mamori/collector/api.h"
#include "mamori/collector/ca.h"
#include "mamori/collector/config.h"
#include "mamori/collector/postgres_store.h"
#include "mamori/collector/server.h"
#include "mamori/collector/tokens.h"

namespace po = boost::program_options;
using namespace mamori::collector;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitConfig = 3;
constexpr int kExitRuntime = 1;
constexpr std::size_t kMaxConfigBytes = 1 << 20;
// How often a collector on PostgreSQL looks at the latest policy version even without a
// notification: the bound on a long-poll's delay if a notification is ever lost.
constexpr std::chrono::seconds kPolicyRecheck{10};

UnixTime Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > kMaxConfigBytes) throw std::invalid_argument("larger than 1 MiB");
  return text.str();
}

void PrintUsage(std::ostream& out, const po::options_description& options) {
  out << "usage: mamori-collector [COMMAND] [OPTIONS]\n\n"
         "commands:\n"
         "  serve              run the HTTPS listeners (default)\n"
         "  ca-cert            print the CA certificate terminals and clients must pin\n"
         "  create-api-token   create an API token (--role admin|it-read) and print it once;\n"
         "                     the way to obtain the first admin token\n\n"
      << options;
}

int Serve(const CollectorConfig& config, Store& store) {
  const CertificateAuthority ca = CertificateAuthority::LoadOrCreate(store, Now());
  const ServerCredentials credentials = ca.IssueServerCredentials(config.server_names, Now());
  Metrics metrics;
  const CertificateAuthority admin_ca = CertificateAuthority::LoadOrCreateAdmin(store, Now());
  Api api(store, ca, metrics, config.api, Now);
  api.UseAdminCa(admin_ca);
  Server server(api, metrics, config.server, credentials, ca.cert_pem(), admin_ca.cert_pem());
  server.Bind();
  // On a shared database a policy may be pushed through another collector.
  std::optional<PolicyWatch> watch;
  if (IsPostgresUri(config.database)) {
    watch.emplace(config.database, kPolicyRecheck, [&server] { server.WakePolicyWaiters(); });
  }
  Log("info", "collector started", {{"database", DescribeDatabase(config.database)}});
  server.Run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The database holds the CA key: nothing the collector creates is readable by others.
  umask(077);
  po::options_description options("options");
  std::vector<std::string> server_names;
  std::string config_path, database, role, label;
  int agent_port = -1, admin_port = -1, io_threads = 0;
  options.add_options()("help,h", "show this help")(
      "config", po::value(&config_path), "JSON configuration file (see collector/README.md)")(
      "database", po::value(&database), "SQLite file or postgresql:// URI (overrides the config)")(
      "agent-port", po::value(&agent_port), "agent listener port (0: any free port)")(
      "admin-port", po::value(&admin_port), "admin listener port (0: any free port)")(
      "server-name", po::value(&server_names), "name or IP in the server certificate (repeat)")(
      "io-threads", po::value(&io_threads),
      "threads serving TLS and HTTP (config io_threads; default: one per CPU core)")(
      "role", po::value(&role), "create-api-token: admin or it-read")(
      "label", po::value(&label), "create-api-token: who holds it");
  po::options_description all;
  std::string command = "serve";
  all.add(options).add_options()("command", po::value(&command));
  po::positional_options_description positional;
  positional.add("command", 1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "mamori-collector: " << e.what() << "\n";
    PrintUsage(std::cerr, options);
    return kExitUsage;
  }
  if (vm.count("help")) {
    PrintUsage(std::cout, options);
    return 0;
  }

  CollectorConfig config;
  try {
    if (!config_path.empty()) ApplyConfigJson(ReadConfigFile(config_path), config);
  } catch (const std::exception& e) {
    std::cerr << "mamori-collector: " << config_path << ": " << e.what() << "\n";
    return kExitConfig;
  }
  if (!database.empty()) config.database = database;
  if (agent_port >= 0) config.server.agent_port = static_cast<std::uint16_t>(agent_port);
  if (admin_port >= 0) config.server.admin_port = static_cast<std::uint16_t>(admin_port);
  if (!server_names.empty()) config.server_names = server_names;
  if (vm.count("io-threads")) {
    if (io_threads < 1 || io_threads > 256) {
      std::cerr << "mamori-collector: --io-threads must be 1..256\n";
      return kExitUsage;
    }
    config.server.io_threads = io_threads;
  }

  if (command == "create-api-token" && !ParseRole(role)) {
    std::cerr << "mamori-collector: create-api-token needs --role admin or --role it-read\n";
    return kExitUsage;
  }
  if (command != "serve" && command != "ca-cert" && command != "create-api-token") {
    std::cerr << "mamori-collector: unknown command '" << command << "'\n";
    PrintUsage(std::cerr, options);
    return kExitUsage;
  }
  try {
    auto store = OpenStore(config.database);
    if (command == "serve") return Serve(config, *store);
    if (command == "ca-cert") {
      std::cout << CertificateAuthority::LoadOrCreate(*store, Now()).cert_pem();
      return 0;
    }
    const NewToken token = GenerateToken(kApiTokenPrefix);
    store->CreateApiToken({token.id, *ParseRole(role), label, Now()}, token.secret_hash);
    Log("info", "token created", {{"by", "local"}, {"kind", "api"}, {"token_id", token.id}});
    std::cout << token.text << "\n";
    return 0;
  } catch (const std::exception& e) {
    Log("error", "collector failed", {{"error", e.what()}});
    return kExitRuntime;
  }
}
