#include "mamorictl/policy_commands.h"

#include <openssl/crypto.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/platform/env.h"
#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/signing.h"
#include "mamori/policy/text.h"
#include "mamori/policy/trust.h"
#include "mamori/policy/verify.h"

namespace mamori::ctl {
namespace {

namespace json = boost::json;
namespace po = boost::program_options;
using platform::Env;
using platform::Status;

constexpr std::size_t kMaxKeyFileBytes = 16 * 1024;
constexpr std::size_t kMaxTrustFileBytes = 64 * 1024;

constexpr std::string_view kExitCodeHelp = R"(exit codes:
   0  success (verify: valid, or already applied)
   1  internal error
   2  usage error
   3  I/O error (cannot read or write a file, or the file to create exists)
   4  invalid policy, trust set, key file or bundle layout
  10  verify: malformed bundle
  11  verify: bad signature
  12  verify: no signature by a trusted key
  13  verify: fewer trusted signers than the threshold
  14  verify: rollback (version not above the last applied)
  15  verify: expired
  16  verify: not addressed to this terminal's groups
  17  verify: bundle too large
)";

// The one mapping from a verifier verdict to an exit code.
int ExitCodeFor(policy::VerifyError error) {
  switch (error) {
    case policy::VerifyError::kMalformed:
      return kExitMalformed;
    case policy::VerifyError::kBadSignature:
      return kExitBadSignature;
    case policy::VerifyError::kUnknownKey:
      return kExitUnknownKey;
    case policy::VerifyError::kBelowThreshold:
      return kExitBelowThreshold;
    case policy::VerifyError::kRollback:
      return kExitRollback;
    case policy::VerifyError::kExpired:
      return kExitExpired;
    case policy::VerifyError::kNotForTerminal:
      return kExitNotForTerminal;
    case policy::VerifyError::kTooLarge:
      return kExitTooLarge;
  }
  return kExitMalformed;  // a value outside the enum: refuse like a malformed bundle
}

// Ends the subcommand with `code` once its message has been printed.
struct Failure {
  int code;
};

[[noreturn]] void Fail(int code, std::string_view message) {
  std::cerr << message << "\n";
  throw Failure{code};
}

struct Command {
  std::string_view name;
  std::string_view synopsis;
  std::string_view summary;
  int (*run)(const Command&, const std::vector<std::string>&);
};

// Parses one subcommand's arguments. Returns false when --help was asked for and printed.
bool ParseArgs(const Command& cmd, const std::vector<std::string>& args,
               po::options_description options, const po::options_description& operands,
               const po::positional_options_description& positional, po::variables_map* vm) {
  options.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(options).add(operands);
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), *vm);
    if (vm->count("help")) {
      std::cout << "usage: mamorictl policy " << cmd.name << " " << cmd.synopsis << "\n"
                << cmd.summary << "\n\n"
                << options << "\n"
                << kExitCodeHelp;
      return false;
    }
    po::notify(*vm);
  } catch (const po::error& e) {
    Fail(kExitUsage, "mamorictl policy " + std::string(cmd.name) + ": " + e.what() +
                         "\nusage: mamorictl policy " + std::string(cmd.name) + " " +
                         std::string(cmd.synopsis) + " (see --help)");
  }
  return true;
}

std::string Operand(const Command& cmd, const po::variables_map& vm, const char* key,
                    std::string_view what) {
  if (!vm.count(key)) {
    Fail(kExitUsage, "mamorictl policy " + std::string(cmd.name) + ": missing " +
                         std::string(what) + "\nusage: mamorictl policy " + std::string(cmd.name) +
                         " " + std::string(cmd.synopsis));
  }
  return vm[key].as<std::string>();
}

std::string ReadOrFail(const std::string& path, std::size_t max_bytes) {
  std::string data;
  Status s = Env::Default().ReadFile(path, max_bytes, &data);
  if (!s.ok()) Fail(kExitIo, s.message());
  return data;
}

void CreateOrFail(const std::string& path, std::string_view data, mode_t mode) {
  Status s = Env::Default().CreateNewFile(path, data, mode);
  if (!s.ok()) Fail(kExitIo, s.message());
}

void PrintErrors(const std::string& path, const std::vector<policy::ValidationError>& errors) {
  for (const auto& e : errors) std::cerr << path << ": " << e.ToString() << "\n";
}

policy::Policy LoadPolicy(const std::string& path, std::string_view text) {
  policy::ParseResult r = policy::ParsePolicy(text);
  if (!r.ok()) {
    PrintErrors(path, r.errors);
    Fail(kExitInvalid, path + ": " + std::to_string(r.errors.size()) +
                           (r.errors.size() == 1 ? " error" : " errors"));
  }
  return std::move(*r.policy);
}

policy::Policy LoadPolicyFile(const std::string& path) {
  return LoadPolicy(path, ReadOrFail(path, policy::kMaxDocumentBytes));
}

policy::SigningKey LoadKey(const std::string& path) {
  std::string pem = ReadOrFail(path, kMaxKeyFileBytes);
  std::optional<policy::SigningKey> key = policy::SigningKey::FromPem(pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key) Fail(kExitInvalid, path + ": not an Ed25519 private key in PKCS#8 PEM form");
  return std::move(*key);
}

policy::TrustSet LoadTrust(const std::string& path) {
  policy::TrustSetResult r = policy::ParseTrustSet(ReadOrFail(path, kMaxTrustFileBytes));
  if (!r.trust) {
    PrintErrors(path, r.errors);
    Fail(kExitInvalid, path + ": not a valid trust set");
  }
  return std::move(*r.trust);
}

void WriteStdout(std::string_view data) {
  std::cout << data;
  if (!std::cout.flush()) Fail(kExitIo, "standard output: write failed");
}

policy::Timestamp Now() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

int Keygen(const Command& cmd, const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()  //
      ("out", po::value<std::string>()->value_name("KEYFILE")->required(),
       "create the private key here, mode 0600; an existing file is never overwritten")  //
      ("trust-out", po::value<std::string>()->value_name("TRUST.json"),
       "also create a trust set holding just this key with threshold 1, mode 0644");
  po::variables_map vm;
  if (!ParseArgs(cmd, args, options, {}, {}, &vm)) return kExitOk;
  const std::string out = vm["out"].as<std::string>();

  policy::SigningKey key = policy::SigningKey::Generate();
  std::string pem = key.ToPem();
  Status s = Env::Default().CreateNewFile(out, pem, 0600);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!s.ok()) Fail(kExitIo, s.message());
  if (vm.count("trust-out")) {
    policy::TrustSet trust;
    trust.keys.push_back(key.public_key());
    trust.threshold = 1;
    Status t = Env::Default().CreateNewFile(vm["trust-out"].as<std::string>(),
                                            policy::SerializeTrustSet(trust), 0644);
    if (!t.ok()) {
      // Both files or neither: a key without the trust set asked for is a half-done keygen.
      Status removed = Env::Default().RemoveFile(out);
      Fail(kExitIo, t.message() +
                        (removed.ok() ? "\n" + out + ": removed again" : "\n" + removed.message()));
    }
  }
  WriteStdout("key_id: " + key.key_id() +
              "\npublic_key: " + policy::EncodePublicKey(key.public_key()) + "\n");
  return kExitOk;
}

int Sign(const Command& cmd, const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()  //
      ("key", po::value<std::vector<std::string>>()->value_name("KEYFILE")->required(),
       "private key to sign with; repeat the option for several signers")  //
      ("out", po::value<std::string>()->value_name("BUNDLE"),
       "create the bundle here, mode 0644, never overwriting; default: standard output");
  po::options_description operands;
  operands.add_options()("policy", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("policy", 1);
  po::variables_map vm;
  if (!ParseArgs(cmd, args, options, operands, positional, &vm)) return kExitOk;
  const std::string policy_path = Operand(cmd, vm, "policy", "POLICY.json");

  std::vector<policy::SigningKey> keys;
  std::map<std::string, std::string> file_of_key;
  for (const std::string& path : vm["key"].as<std::vector<std::string>>()) {
    keys.push_back(LoadKey(path));
    auto [it, inserted] = file_of_key.emplace(keys.back().key_id(), path);
    if (!inserted) Fail(kExitUsage, path + ": the same key as " + it->second);
  }
  const policy::Policy policy = LoadPolicyFile(policy_path);
  if (policy.expires_at <= Now()) {
    std::cerr << policy_path << ": warning: expires_at "
              << policy::FormatTimestamp(policy.expires_at)
              << " has passed; terminals will refuse this bundle\n";
  }

  std::vector<const policy::SigningKey*> signers;
  for (const auto& key : keys) signers.push_back(&key);
  const policy::Bundle bundle = policy::SignPolicy(policy::Canonicalize(policy), signers);
  const std::string text = policy::SerializeBundle(bundle);
  if (vm.count("out")) {
    CreateOrFail(vm["out"].as<std::string>(), text, 0644);
  } else {
    WriteStdout(text);
  }
  std::cerr << "version: " << policy.version
            << "\nhash: " << policy::PolicyHash(bundle.policy_bytes) << "\n";
  for (const auto& s : bundle.signatures) std::cerr << "key_id: " << s.key_id << "\n";
  return kExitOk;
}

std::uint64_t ParseVersion(const Command& cmd, const std::string& text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    Fail(kExitUsage, "mamorictl policy " + std::string(cmd.name) +
                         ": --last-version: expected a non-negative integer, got '" + text + "'");
  }
  return v;
}

int Verify(const Command& cmd, const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()  //
      ("trust", po::value<std::string>()->value_name("TRUST.json")->required(),
       "the pinned keys and threshold to verify against")  //
      ("last-version", po::value<std::string>()->value_name("N"),
       "version the terminal applied last; the bundle must be newer")  //
      ("last-hash", po::value<std::string>()->value_name("H"),
       "hash of the policy applied last (needs --last-version)")  //
      ("group", po::value<std::vector<std::string>>()->value_name("G"),
       "a group of the terminal; repeat for several")  //
      ("now", po::value<std::string>()->value_name("RFC3339"),
       "judge expiry at this time, e.g. 2026-11-23T09:00:00Z; default: the system clock");
  po::options_description operands;
  operands.add_options()("bundle", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("bundle", 1);
  po::variables_map vm;
  if (!ParseArgs(cmd, args, options, operands, positional, &vm)) return kExitOk;
  const std::string bundle_path = Operand(cmd, vm, "bundle", "BUNDLE");
  const std::string usage_prefix = "mamorictl policy " + std::string(cmd.name) + ": ";

  policy::VerifyContext context;
  context.now = Now();
  if (vm.count("now")) {
    const std::string& text = vm["now"].as<std::string>();
    std::optional<policy::Timestamp> now = policy::ParseTimestamp(text);
    if (!now) {
      Fail(kExitUsage, usage_prefix +
                           "--now: expected RFC 3339 UTC like 2026-11-23T09:00:00Z, got '" + text +
                           "'");
    }
    context.now = *now;
  }
  if (vm.count("last-version")) {
    context.last_version = ParseVersion(cmd, vm["last-version"].as<std::string>());
  }
  if (vm.count("last-hash")) {
    if (!context.last_version) Fail(kExitUsage, usage_prefix + "--last-hash needs --last-version");
    context.last_hash = vm["last-hash"].as<std::string>();
    std::optional<std::vector<unsigned char>> raw = policy::HexDecode(context.last_hash);
    if (!raw || raw->size() != 32) {
      Fail(kExitUsage, usage_prefix + "--last-hash: expected a SHA-256 in hex, got '" +
                           context.last_hash + "'");
    }
  }
  if (vm.count("group")) context.groups = vm["group"].as<std::vector<std::string>>();
  const policy::TrustSet trust = LoadTrust(vm["trust"].as<std::string>());

  std::string text;
  Status s = Env::Default().ReadFile(bundle_path, policy::kMaxBundleBytes, &text);
  if (!s.ok() && s.err() == EFBIG) {
    Fail(ExitCodeFor(policy::VerifyError::kTooLarge),
         bundle_path + ": " + std::string(policy::ToString(policy::VerifyError::kTooLarge)) + ": " +
             s.message());
  }
  if (!s.ok()) Fail(kExitIo, s.message());

  policy::VerifyResult r = policy::VerifyBundle(text, trust, context);
  if (!r.ok()) {
    Fail(ExitCodeFor(r.error),
         bundle_path + ": " + std::string(policy::ToString(r.error)) + ": " + r.message);
  }
  const policy::Verified& v = *r.verified;
  std::string line = (v.already_applied ? "already applied: version " : "ok: version ") +
                     std::to_string(v.policy.version) + ", hash " + v.hash + ", signed by ";
  for (std::size_t i = 0; i < v.signed_by.size(); ++i) {
    line += (i == 0 ? "" : ", ") + v.signed_by[i];
  }
  WriteStdout(line + "\n");
  return kExitOk;
}

int Lint(const Command& cmd, const std::vector<std::string>& args) {
  po::options_description operands;
  operands.add_options()("policy", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("policy", 1);
  po::variables_map vm;
  if (!ParseArgs(cmd, args, po::options_description("options"), operands, positional, &vm)) {
    return kExitOk;
  }
  LoadPolicyFile(Operand(cmd, vm, "policy", "POLICY.json"));
  WriteStdout("ok\n");
  return kExitOk;
}

int Show(const Command& cmd, const std::vector<std::string>& args) {
  po::options_description operands;
  operands.add_options()("file", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!ParseArgs(cmd, args, po::options_description("options"), operands, positional, &vm)) {
    return kExitOk;
  }
  const std::string path = Operand(cmd, vm, "file", "FILE");
  const std::string text = ReadOrFail(path, policy::kMaxBundleBytes);

  boost::system::error_code ec;
  json::value root = json::parse(text, ec);
  const json::object* object = ec ? nullptr : root.if_object();
  if (object == nullptr || !object->contains("format")) {
    // Not a bundle: a plain policy document, whose parser reports any error with its path.
    WriteStdout(policy::PrettyPrint(LoadPolicy(path, text)));
    return kExitOk;
  }
  std::vector<policy::ValidationError> errors;
  const std::optional<policy::Bundle> bundle = policy::ParseBundle(text, errors);
  if (!bundle) {
    PrintErrors(path, errors);
    Fail(kExitInvalid, path + ": not a valid bundle");
  }
  const policy::Policy policy =
      LoadPolicy(path + " (policy inside the bundle)", bundle->policy_bytes);
  std::string header = "hash: " + policy::PolicyHash(bundle->policy_bytes) + "\n";
  for (const auto& sig : bundle->signatures) header += "signature: " + sig.key_id + "\n";
  std::cerr << path << ": signatures not checked; use `mamorictl policy verify`\n";
  WriteStdout(header + policy::PrettyPrint(policy));
  return kExitOk;
}

constexpr Command kCommands[] = {
    {"keygen", "--out KEYFILE [--trust-out TRUST.json]",
     "Generates an Ed25519 signing key and prints its key id and public key.", Keygen},
    {"sign", "--key KEYFILE [--key KEYFILE ...] [--out BUNDLE] POLICY.json",
     "Validates a policy and signs its canonical form into a bundle.", Sign},
    {"verify",
     "--trust TRUST.json [--last-version N [--last-hash H]] [--group G ...] [--now RFC3339] BUNDLE",
     "Verifies a bundle exactly as a terminal would before applying it.", Verify},
    {"lint", "POLICY.json", "Validates a policy and prints every error with its JSON path.", Lint},
    {"show", "FILE",
     "Prints a policy or a bundle's policy in canonical form, with a bundle's hash and signers.",
     Show},
};

}  // namespace

void PrintPolicyUsage(std::ostream& out) {
  out << "usage: mamorictl policy COMMAND [OPTIONS] (COMMAND --help for its options)\n\n"
         "commands:\n";
  for (const Command& cmd : kCommands) {
    out << "  " << cmd.name << " " << cmd.synopsis << "\n      " << cmd.summary << "\n";
  }
  out << "\n" << kExitCodeHelp;
}

int RunPolicyCommand(const std::vector<std::string>& args) {
  if (args.empty()) {
    PrintPolicyUsage(std::cerr);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintPolicyUsage(std::cout);
    return kExitOk;
  }
  for (const Command& cmd : kCommands) {
    if (args[0] != cmd.name) continue;
    try {
      return cmd.run(cmd, std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const Failure& f) {
      return f.code;
    }
  }
  std::cerr << "mamorictl policy: unknown command '" << args[0] << "'\n";
  PrintPolicyUsage(std::cerr);
  return kExitUsage;
}

}  // namespace mamori::ctl
