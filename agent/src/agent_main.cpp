// mamori-agent: serves MFA verification to pam_mamori.so over a local socket and runs the
// removable-media guard.
#include <signal.h>
#include <stdio.h>

#include <boost/program_options.hpp>
#include <condition_variable>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>

#include "mamori/agent/credential_store.h"
#include "mamori/agent/device_service.h"
#include "mamori/agent/devices_protocol.h"
#include "mamori/agent/event_journal.h"
#include "mamori/agent/mfa_service.h"
#include "mamori/platform/accounts.h"
#include "mamori/platform/local_socket.h"
#include "mamori/platform/secure_dir.h"
#include "mamori/platform/service_manager.h"
#include "mamori/policy/document.h"

namespace po = boost::program_options;
using mamori::platform::Status;

namespace {

constexpr char kSocketName[] = "agent.sock";

// The policy file must sit in a directory only root can change, like everything root trusts.
bool LoadPolicy(const std::string& file, mamori::policy::Policy* out) {
  const std::size_t slash = file.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : file.substr(0, slash);
  const std::string name = slash == std::string::npos ? file : file.substr(slash + 1);
  std::unique_ptr<mamori::platform::SecureDir> d;
  std::string text;
  Status s = mamori::platform::SecureDir::Open(dir, 0755, &d);
  if (s.ok()) s = d->Read(name, mamori::policy::kMaxDocumentBytes, &text);
  if (!s.ok()) {
    std::cerr << "mamori-agent: policy: " << s.message() << "\n";
    return false;
  }
  mamori::policy::ParseResult parsed = mamori::policy::ParsePolicy(text);
  if (!parsed.ok()) {
    for (const auto& e : parsed.errors) std::cerr << file << ": " << e.ToString() << "\n";
    return false;
  }
  *out = std::move(*parsed.policy);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string policy_file, state_dir, runtime_dir, usb_sysfs_root;
  int threads = 8;
  bool developer_mode = false;
  po::options_description opts("mamori-agent options");
  opts.add_options()("help", "show this help")("policy-file", po::value(&policy_file)->required(),
                                               "policy document (JSON)")(
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

  mamori::policy::Policy policy;
  if (!LoadPolicy(policy_file, &policy)) return 1;
  std::unique_ptr<mamori::agent::CredentialStore> store;
  Status s = mamori::agent::CredentialStore::Open(state_dir, &store);
  std::unique_ptr<mamori::agent::EventJournal> journal;
  if (s.ok()) s = mamori::agent::EventJournal::Open(store->state_dir(), &journal);
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
  device_service.ApplyPolicy(policy);
  device_service.Start();

  mamori::agent::MfaService service(*store, *journal, mamori::platform::Accounts::Default(),
                                    policy.mfa, [] { return std::time(nullptr); });
  std::thread serving([&] {
    server->Serve(
        [&](std::string_view line, const mamori::platform::PeerCredentials& peer) {
          if (mamori::agent::IsDevicesRequest(line)) {
            return mamori::agent::AnswerDevices(device_service.Snapshot(), peer);
          }
          return service.HandleLine(line, peer);
        },
        threads, std::chrono::seconds(5));
  });
  const std::string status =
      "guarding " + std::to_string(device_service.Snapshot().size()) + " devices, serving " +
      (passed.empty() ? runtime_dir + "/" + kSocketName : std::string("the socket from systemd")) +
      " (policy version " + std::to_string(policy.version) + ")";
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
  return 0;
}
