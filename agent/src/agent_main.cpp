// mamori-agent: serves MFA verification to pam_mamori.so over a local socket.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <ctime>
#include <iostream>
#include <thread>

#include "collector_channel.h"
#include "mamori/agent/credential_store.h"
#include "mamori/agent/event_journal.h"
#include "mamori/agent/mfa_service.h"
#include "mamori/platform/accounts.h"
#include "mamori/platform/local_socket.h"
#include "mamori/platform/secure_dir.h"

namespace po = boost::program_options;
using mamori::platform::Status;

namespace {

constexpr char kSocketName[] = "agent.sock";

}  // namespace

int main(int argc, char** argv) {
  std::string trust_file, state_dir, runtime_dir;
  int threads = 8;
  po::options_description opts("mamori-agent options");
  opts.add_options()("help", "show this help")(
      "trust-file", po::value(&trust_file)->default_value("/etc/mamori/trust.json"),
      "the pinned root keys that policy bundles must be signed by")(
      "state-dir", po::value(&state_dir)->default_value("/var/lib/mamori"),
      "root-only state: credentials, host key, event journal")(
      "runtime-dir", po::value(&runtime_dir)->default_value("/run/mamori"),
      "directory of the MFA socket")("threads", po::value(&threads)->default_value(8),
                                     "connections served at once (1..64)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    if (vm.count("help")) {
      std::cout << opts;
      return 0;
    }
    po::notify(vm);
    if (threads < 1 || threads > 64) throw po::error("--threads must be 1..64");
  } catch (const po::error& e) {
    std::cerr << "mamori-agent: " << e.what() << "\n" << opts;
    return 2;
  }

  std::unique_ptr<mamori::agent::CredentialStore> store;
  Status s = mamori::agent::CredentialStore::Open(state_dir, &store);
  std::unique_ptr<mamori::agent::EventJournal> journal;
  if (s.ok()) s = mamori::agent::EventJournal::Open(store->state_dir(), &journal);
  // Policy comes only from signed bundles; the collector channel runs once the terminal enrolled.
  std::unique_ptr<mamori::agent::CollectorChannel> channel;
  if (s.ok())
    s = mamori::agent::CollectorChannel::Open(store->state_dir(), trust_file, *journal, &channel);
  // Everyone may connect; the service decides by the caller's uid what it may ask.
  std::unique_ptr<mamori::platform::LocalSocketServer> server;
  if (s.ok())
    s = mamori::platform::LocalSocketServer::Listen(runtime_dir, kSocketName, 0666, &server);
  if (!s.ok()) {
    std::cerr << "mamori-agent: " << s.message() << "\n";
    return 1;
  }

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A file size limit must fail the write (and deny), not kill the agent.
  signal(SIGXFSZ, SIG_IGN);

  const mamori::policy::Policy policy = channel->policy();
  mamori::agent::MfaService service(*store, *journal, mamori::platform::Accounts::Default(),
                                    policy.mfa, [] { return std::time(nullptr); });
  channel->OnPolicyApplied([&](const mamori::policy::Policy& p) { service.SetPolicy(p.mfa); });
  channel->Start();
  std::thread serving([&] {
    server->Serve(
        [&](std::string_view line, const mamori::platform::PeerCredentials& peer) {
          return service.HandleLine(line, peer);
        },
        threads, std::chrono::seconds(5));
  });
  std::cerr << "mamori-agent: serving " << runtime_dir << "/" << kSocketName << " (policy "
            << (channel->policy_version() ? "version " + std::to_string(policy.version)
                                          : std::string("built-in defaults"))
            << (channel->enrollment() ? ", terminal " + channel->enrollment()->terminal_id : "")
            << ")\n";
  int sig = 0;
  sigwait(&stop_signals, &sig);
  server->Stop();
  serving.join();
  // Every journal entry and applied policy is durable when it is made, so the long-poll in flight
  // is not waited for.
  std::fflush(stderr);
  _exit(0);
}
