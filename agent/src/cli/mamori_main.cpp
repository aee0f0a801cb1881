// mamori: the terminal's local administration CLI (root).
//   mamori [--state-dir DIR] mfa enroll USER [--issuer NAME] [--png FILE]
//   mamori [--state-dir DIR] mfa status|reset|unlock USER
//   mamori [--state-dir DIR] mfa import FILE
//   mamori [--state-dir DIR] enroll --url URL --ca CA.pem --token-file FILE|- [--force]
//   mamori [--state-dir DIR] [--trust-file FILE] policy apply BUNDLE
#include <openssl/crypto.h>

#include <boost/program_options.hpp>
#include <ctime>
#include <iostream>
#include <string>

#include "channel_commands.h"
#include "mamori/agent/credential_store.h"
#include "mamori/agent/event_journal.h"
#include "mamori/agent/mfa_admin.h"
#include "mamori/platform/secure_dir.h"
#include "qr_output.h"

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
      << opts;
  return 2;
}

int Report(const Status& s) {
  if (s.ok()) return 0;
  std::cerr << "mamori: " << s.message() << "\n";
  return 1;
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
  std::string state_dir, issuer, png, trust_file;
  mamori::cli::EnrollArgs enroll;
  std::vector<std::string> words;
  po::options_description opts("options");
  opts.add_options()("state-dir", po::value(&state_dir)->default_value("/var/lib/mamori"),
                     "the agent's state directory")(
      "issuer", po::value(&issuer)->default_value("Mamori"), "issuer shown by the app (enroll)")(
      "png", po::value(&png), "also write the QR code to this new PNG file (enroll)")(
      "url", po::value(&enroll.url), "the collector's agent API, https://host:port (enroll)")(
      "ca", po::value(&enroll.ca_file), "the collector's CA certificate, PEM (enroll)")(
      "token-file", po::value(&enroll.token_file),
      "file holding the enrollment token, - for standard input (enroll)")(
      "force", po::bool_switch(&enroll.force), "enroll again, replacing the identity (enroll)")(
      "trust-file", po::value(&trust_file)->default_value("/etc/mamori/trust.json"),
      "the pinned root keys (policy apply)");
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
  if (words.size() == 1 && words[0] == "enroll") {
    enroll.state_dir = state_dir;
    return mamori::cli::EnrollCommand(enroll);
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
