// mamori-agent: the resident daemon. Serves MFA verification to pam_mamori.so over a local socket,
// runs the removable-media guard, and reports compliance and applies signed policy once enrolled.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <condition_variable>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>

#include "agent_checks.h"
#include "collector_channel.h"
#include "mamori/agent/credential_store.h"
#include "mamori/agent/device_service.h"
#include "mamori/agent/devices_protocol.h"
#include "mamori/agent/event_journal.h"
#include "mamori/agent/mfa_service.h"
#include "mamori/platform/accounts.h"
#include "mamori/platform/local_socket.h"
#include "mamori/platform/secure_dir.h"
#include "mamori/platform/service_manager.h"
#include "mamori/platform/system_probe.h"

namespace po = boost::program_options;
using mamori::platform::Status;

namespace {

constexpr char kSocketName[] = "agent.sock";

}  // namespace

int main(int argc, char** argv) {
  std::string trust_file, state_dir, runtime_dir, usb_sysfs_root;
  int threads = 8;
  bool developer_mode = false;
  po::options_description opts("mamori-agent options");
  opts.add_options()("help", "show this help")(
      "trust-file", po::value(&trust_file)->default_value("/etc/mamori/trust.json"),
      "the pinned root keys that policy bundles must be signed by")(
      "state-dir", po::value(&state_dir)->default_value("/var/lib/mamori"),
      "root-only state: credentials, host key, event journal")(
      "runtime-dir", po::value(&runtime_dir)->default_value("/run/mamori"),
      "directory of the MFA socket")("threads", po::value(&threads)->default_value(8),
                                     "connections served at once (1..64)")(
      "usb-sysfs-root", po::value(&usb_sysfs_root)->default_value("/sys"),
      "sysfs of the devices to guard")(
      "dev", po::bool_switch(&developer_mode),
      "developer mode: the device guard records decisions (audit) and blocks nothing");
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
  // Everyone may connect; the service decides by the caller's uid what it may ask. Under socket
  // activation (mamori-agent.socket) the socket is systemd's, so logins wait across restarts.
  auto service_manager = mamori::platform::NewSystemdServiceManager();
  const std::vector<int> passed = service_manager->TakeListenFds();
  std::unique_ptr<mamori::platform::LocalSocketServer> server;
  if (s.ok() && passed.size() > 1) {
    s = Status::Error(EINVAL, "expected one socket from the service manager, got " +
                                  std::to_string(passed.size()));
  } else if (s.ok() && passed.size() == 1) {
    s = mamori::platform::LocalSocketServer::Adopt(passed[0], &server);
  } else if (s.ok()) {
    s = mamori::platform::LocalSocketServer::Listen(runtime_dir, kSocketName, 0666, &server);
  }
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

  auto system_log = mamori::platform::NewJournaldSystemLog();
  auto device_platform = mamori::agent::LinuxDevicePlatform(usb_sysfs_root, *system_log);
  if (developer_mode) device_platform = mamori::agent::ObserveOnly(std::move(device_platform));
  mamori::agent::DeviceService device_service(std::move(device_platform), *journal, *system_log,
                                              developer_mode);
  const mamori::policy::Policy policy = channel->policy();
  device_service.ApplyPolicy(policy);
  device_service.Start();

  mamori::agent::MfaService service(*store, *journal, mamori::platform::Accounts::Default(),
                                    *system_log, policy.mfa, [] { return std::time(nullptr); });
  auto probe = mamori::platform::NewLinuxSystemProbe("", usb_sysfs_root);
  channel->SetChecks(mamori::agent::AgentChecks(*channel, *store, *probe, !developer_mode));
  channel->SetCredentialStore(*store);
  channel->OnPolicyApplied([&](const mamori::policy::Policy& p) {
    device_service.ApplyPolicy(p);
    service.SetPolicy(p.mfa);
  });
  channel->Start();
  std::thread serving([&] {
    server->Serve(
        [&](std::string_view line, const mamori::platform::PeerCredentials& peer) {
          if (mamori::agent::IsDevicesRequest(line)) {
            return device_service.AnswerDevicesRequest(peer);
          }
          return service.HandleLine(line, peer);
        },
        threads, std::chrono::seconds(5));
  });
  const std::string status =
      "guarding " + std::to_string(device_service.Snapshot().size()) + " devices, serving " +
      (passed.empty() ? runtime_dir + "/" + kSocketName : std::string("the socket from systemd")) +
      " (policy " +
      (channel->policy_version() ? "version " + std::to_string(policy.version)
                                 : std::string("built-in defaults")) +
      (channel->enrollment() ? ", terminal " + channel->enrollment()->terminal_id : "") + ")";
  std::cerr << "mamori-agent: " << status << "\n";
  service_manager->NotifyReady(status);

  // The watchdog is fed only while the device guard answers: a guard stuck holding its lock
  // gets the agent restarted.
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread watchdog;
  if (auto interval = service_manager->WatchdogInterval()) {
    watchdog = std::thread([&, period = *interval / 2] {
      std::unique_lock<std::mutex> lock(stop_mu);
      while (!stop_cv.wait_for(lock, period, [&] { return stopping; })) {
        device_service.Snapshot();
        service_manager->NotifyWatchdog();
      }
    });
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  {
    std::lock_guard<std::mutex> lock(stop_mu);
    stopping = true;
  }
  stop_cv.notify_all();
  if (watchdog.joinable()) watchdog.join();
  service_manager->NotifyStopping();
  server->Stop();
  serving.join();
  device_service.Stop();
  // Every journal entry and applied policy is durable when it is made, so the long-poll in flight
  // is not waited for.
  std::fflush(stderr);
  _exit(0);
}
