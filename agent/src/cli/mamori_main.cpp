// mamori: the terminal's local administration CLI (root).
//   mamori [--state-dir DIR] mfa enroll USER [--issuer NAME] [--png FILE]
//   mamori [--state-dir DIR] mfa status|reset|unlock USER
//   mamori [--state-dir DIR] mfa import FILE
//   mamori [--state-dir DIR] checks [--json] [--trust-file FILE] [--group G ...]
//          [--agent-binary PATH]
//   mamori [--runtime-dir DIR] devices [--json]     asks the running agent (root)
//   mamori [--state-dir DIR] enroll --url URL --ca CA.pem --token-file FILE|- [--force]
//   mamori [--state-dir DIR] [--trust-file FILE] policy apply BUNDLE
//   mamori [--state-dir DIR] report [--removal] [--timeout SECONDS]
#include <openssl/crypto.h>

#include <boost/program_options.hpp>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <string>

#include "channel_commands.h"
#include "checks_command.h"
#include "mamori/agent/credential_store.h"
#include "mamori/agent/devices_protocol.h"
#include "mamori/agent/event_journal.h"
#include "mamori/agent/mfa_admin.h"
#include "mamori/platform/local_socket.h"
#include "mamori/platform/secure_dir.h"
#include "qr_output.h"
#include "report_command.h"

namespace po = boost::program_options;
using mamori::platform::Status;

namespace {

constexpr int kEnrollAttempts = 3;

int Usage(const po::options_description& opts) {
  std::cerr
      << "usage: mamori [options] mfa enroll USER | status USER | reset USER | unlock USER |"
         " import FILE\n"
         "       mamori [options] enroll --url URL --ca CA.pem --token-file FILE|- [--force]\n"
         "       mamori [options] policy apply BUNDLE\n"
         "       mamori [options] checks [--json]\n"
         "       mamori [options] devices [--json]\n"
         "       mamori [options] report [--removal] [--timeout SECONDS]\n"
      << opts;
  return 2;
}

int Report(const Status& s) {
  if (s.ok()) return 0;
  std::cerr << "mamori: " << s.message() << "\n";
  return 1;
}

// Device strings come from the device: nothing it sends may move the terminal's cursor.
std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) out.push_back(c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c));
  return out.empty() ? "-" : out;
}

int Devices(const std::string& runtime_dir, bool as_json) {
  std::string reply;
  Status s = mamori::platform::LocalSocketRequest(runtime_dir + "/agent.sock",
                                                  mamori::agent::DevicesRequest(),
                                                  std::chrono::seconds(10), 16 << 20, &reply);
  if (!s.ok()) return Report(Status::Error(s.err(), s.message() + " (is mamori-agent running?)"));
  std::string error;
  auto devices = mamori::agent::ParseDevicesAnswer(reply, &error);
  if (!devices) return Report(Status::Error(-1, error));
  if (as_json) {
    std::cout << boost::json::serialize(boost::json::object{{"devices", *devices}}) << "\n";
    return 0;
  }
  auto field = [](const boost::json::value& d, std::string_view key) {
    const boost::json::value* v = d.get_object().if_contains(key);
    return Printable(v ? std::string_view(v->get_string()) : std::string_view());
  };
  std::cout << std::left;
  std::cout << std::setw(12) << "DEVICE" << std::setw(12) << "CHANNEL" << std::setw(11) << "ID"
            << std::setw(22) << "SERIAL" << std::setw(10) << "DECISION" << std::setw(20) << "RULE"
            << std::setw(9) << "MODE"
            << "PRODUCT\n";
  for (const auto& d : *devices) {
    const std::string id =
        d.get_object().contains("vid") ? field(d, "vid") + ":" + field(d, "pid") : std::string("-");
    std::cout << std::setw(12) << field(d, "device") << std::setw(12) << field(d, "channel")
              << std::setw(11) << id << std::setw(22) << field(d, "serial") << std::setw(10)
              << field(d, "action") << std::setw(20) << field(d, "rule") << std::setw(9)
              << field(d, "mode") << field(d, "product") << "\n";
  }
  return 0;
}

int Enroll(mamori::agent::MfaAdmin& admin, const std::string& user, const std::string& issuer,
           const std::string& png) {
  auto pending = mamori::agent::NewEnrollment(user);
  if (!pending) return Report(Status::Error(-1, "random bytes for the secret"));
  std::string uri = mamori::agent::OtpauthUri(*pending, issuer);
  std::cout << "Scan this code with the authenticator app, or enter the URI by hand:\n\n"
            << mamori::cli::QrForTerminal(uri) << "\n"
            << uri << "\n\n";
  if (!png.empty()) {
    Status s = mamori::cli::WriteQrPng(uri, png);
    if (!s.ok()) {
      OPENSSL_cleanse(uri.data(), uri.size());
      return Report(s);
    }
    std::cout << "QR code written to " << png << " (it holds the secret: delete it after use)\n";
  }
  OPENSSL_cleanse(uri.data(), uri.size());
  for (int attempt = 0; attempt < kEnrollAttempts; ++attempt) {
    std::cout << "Code shown by the app: " << std::flush;
    std::string code;
    if (!std::getline(std::cin, code)) break;
    std::vector<std::string> recovery;
    Status s = admin.Activate(*pending, code, std::time(nullptr), &recovery);
    if (s.ok()) {
      std::cout << "\nEnrolled " << user
                << ". Recovery codes (each works once; they are not shown again):\n";
      for (const auto& c : recovery) std::cout << "  " << c << "\n";
      return 0;
    }
    std::cerr << "mamori: " << s.message() << "\n";
    if (s.err() != EACCES) return 1;
  }
  std::cerr << "mamori: not enrolled\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string state_dir, runtime_dir, issuer, png, trust_file;
  bool as_json = false;
  mamori::cli::EnrollArgs enroll;
  std::vector<std::string> words;
  mamori::cli::ChecksOptions checks;
  mamori::cli::ReportOptions report;
  po::options_description opts("options");
  opts.add_options()("state-dir", po::value(&state_dir)->default_value("/var/lib/mamori"),
                     "the agent's state directory")(
      "runtime-dir", po::value(&runtime_dir)->default_value("/run/mamori"),
      "directory of the agent's socket (devices)")("json", po::bool_switch(&as_json),
                                                   "JSON output (checks, devices)")(
      "issuer", po::value(&issuer)->default_value("Mamori"), "issuer shown by the app (enroll)")(
      "png", po::value(&png), "also write the QR code to this new PNG file (enroll)")(
      "url", po::value(&enroll.url), "the collector's agent API, https://host:port (enroll)")(
      "ca", po::value(&enroll.ca_file), "the collector's CA certificate, PEM (enroll)")(
      "token-file", po::value(&enroll.token_file),
      "file holding the enrollment token, - for standard input (enroll)")(
      "force", po::bool_switch(&enroll.force), "enroll again, replacing the identity (enroll)")(
      "trust-file", po::value(&trust_file)->default_value("/etc/mamori/trust.json"),
      "the pinned root keys (policy apply, checks)")(
      "group", po::value(&checks.groups), "a group of this terminal, repeatable (checks)")(
      "agent-binary", po::value(&checks.agent_binary),
      "the agent executable to hash (checks; default: mamori-agent next to this program)")(
      "removal", po::bool_switch(&report.removal),
      "journal agent.removal before sending (report; run by the package's prerm)")(
      "timeout", po::value(&report.timeout_seconds)->default_value(10),
      "seconds the whole report may take (report)");
  po::options_description all;
  all.add(opts).add_options()("words", po::value(&words));
  po::positional_options_description pos;
  pos.add("words", -1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "mamori: " << e.what() << "\n";
    return Usage(opts);
  }
  if (words.size() == 1 && words[0] == "checks") {
    checks.state_dir = state_dir;
    checks.trust_file = trust_file;
    checks.json = as_json;
    return mamori::cli::RunChecksCommand(checks);
  }
  if (words.size() == 1 && words[0] == "devices") return Devices(runtime_dir, as_json);
  if (words.size() == 1 && words[0] == "enroll") {
    enroll.state_dir = state_dir;
    return mamori::cli::EnrollCommand(enroll);
  }
  if (words.size() == 1 && words[0] == "report") {
    report.state_dir = state_dir;
    report.trust_file = trust_file;
    return mamori::cli::ReportCommand(report);
  }
  if (words.size() == 3 && words[0] == "policy" && words[1] == "apply") {
    return mamori::cli::PolicyApplyCommand(state_dir, trust_file, words[2]);
  }
  if (words.size() != 3 || words[0] != "mfa") return Usage(opts);
  const std::string& command = words[1];
  const std::string& arg = words[2];

  std::unique_ptr<mamori::agent::CredentialStore> store;
  Status s = mamori::agent::CredentialStore::Open(state_dir, &store);
  std::unique_ptr<mamori::agent::EventJournal> journal;
  if (s.ok()) s = mamori::agent::EventJournal::Open(store->state_dir(), &journal);
  if (!s.ok()) return Report(s);
  mamori::agent::MfaAdmin admin(*store, *journal);
  const std::time_t now = std::time(nullptr);

  if (command == "enroll") return Enroll(admin, arg, issuer, png);
  if (command == "reset") return Report(admin.Reset(arg, now));
  if (command == "unlock") return Report(admin.Unlock(arg, now));
  if (command == "status") {
    bool enrolled = false;
    std::string summary;
    s = admin.Status(arg, now, &enrolled, &summary);
    if (!s.ok()) return Report(s);
    std::cout << summary;
    return enrolled ? 0 : 3;
  }
  if (command == "import") {
    const std::size_t slash = arg.rfind('/');
    std::unique_ptr<mamori::platform::SecureDir> dir;
    std::string text;
    s = mamori::platform::SecureDir::Open(slash == std::string::npos ? "." : arg.substr(0, slash),
                                          0700, &dir);
    if (s.ok())
      s = dir->Read(slash == std::string::npos ? arg : arg.substr(slash + 1), 65536, &text);
    if (!s.ok()) return Report(s);
    std::string error;
    auto credential = mamori::agent::ParseCredentialImport(text, &error);
    OPENSSL_cleanse(text.data(), text.size());
    if (!credential) return Report(Status::Error(-1, arg + ": " + error));
    return Report(admin.Import(*credential, now));
  }
  return Usage(opts);
}
