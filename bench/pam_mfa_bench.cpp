// End-to-end PAM verification latency: pam_start + pam_authenticate + pam_end through pam_wrapper,
// for pam_mamori.so (with mamori-agent and its durable state) beside Debian's pam_oath.so under the
// same harness. Each login is a distinct user's first login in its time step, so every one is a
// real acceptance that must be persisted. Run through bench/run_pam_bench.sh, which sets up both.
//   pam_mfa_bench --setup DIR USERS   creates both credential stores
//   pam_mfa_bench [benchmark flags]   with MAMORI_BENCH_USERS=USERS and pam_wrapper preloaded
#include <benchmark/benchmark.h>
#include <security/pam_appl.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "mamori/agent/credential_store.h"
#include "mamori/platform/secure_dir.h"
#include "mamori/policy/text.h"

namespace {

using mamori::agent::GenerateRecoveryCodes;
using mamori::agent::SecretBytes;

const std::string kSecret = "12345678901234567890";
const mamori::agent::TotpParams kTotp{mamori::agent::TotpAlgorithm::kSha1, 6, 30};

SecretBytes Secret() {
  return SecretBytes(reinterpret_cast<const unsigned char*>(kSecret.data()), kSecret.size());
}

std::string UserName(int i) { return "u" + std::to_string(i); }

int Setup(const std::string& dir, int users) {
  std::unique_ptr<mamori::agent::CredentialStore> store;
  mamori::platform::Status s = mamori::agent::CredentialStore::Open(dir + "/state", &store);
  std::unique_ptr<mamori::platform::SecureDir> oath;
  if (s.ok()) s = mamori::platform::SecureDir::Open(dir + "/oath", 0700, &oath);
  const std::string hex = mamori::policy::HexEncode(std::span<const unsigned char>(
      reinterpret_cast<const unsigned char*>(kSecret.data()), kSecret.size()));
  // Logins here use TOTP codes only; one set of recovery hashes serves every user, since their
  // key derivation per user would make the setup take minutes.
  auto recovery = GenerateRecoveryCodes();
  if (!recovery) s = mamori::platform::Status::Error(-1, "recovery codes not generated");
  for (int i = 0; s.ok() && i < users; ++i) {
    mamori::agent::CredentialRecord r;
    r.user = UserName(i);
    r.totp = kTotp;
    r.secret = *store->host_key().Seal(Secret(), mamori::agent::SecretBinding(r.user));
    r.enrolled_at = std::time(nullptr);
    r.recovery = recovery->hashes;
    s = store->Save(r);
    if (s.ok())
      s = oath->WriteAtomic(r.user + ".oath", "HOTP/T30/6 " + r.user + " - " + hex + "\n", 0600);
  }
  if (!s.ok()) {
    std::fprintf(stderr, "setup: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}

int Conversation(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
  auto* out = static_cast<struct pam_response*>(calloc(static_cast<size_t>(n), sizeof **resp));
  for (int i = 0; i < n; ++i) {
    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
      out[i].resp = strdup(static_cast<const char*>(data));
    }
  }
  *resp = out;
  return PAM_SUCCESS;
}

// Users not logged in yet in this process; each benchmark takes its own range.
std::atomic<int> next_user{0};

void BM_PamLogin(benchmark::State& state, const char* service) {
  const char* users_env = getenv("MAMORI_BENCH_USERS");
  const int users = users_env ? atoi(users_env) : 0;
  std::vector<double> micros;
  for (auto _ : state) {
    const int index = next_user++;
    if (index >= users) {
      state.SkipWithError("MAMORI_BENCH_USERS is too small for the iterations run");
      break;
    }
    std::string code = mamori::agent::GenerateTotp(Secret(), kTotp, std::time(nullptr));
    const std::string user = UserName(index);
    struct pam_conv conv = {Conversation, code.data()};
    pam_handle_t* pamh = nullptr;
    const auto start = std::chrono::steady_clock::now();
    int rc = pam_start(service, user.c_str(), &conv, &pamh);
    if (rc == PAM_SUCCESS) rc = pam_authenticate(pamh, 0);
    pam_end(pamh, rc);
    const auto end = std::chrono::steady_clock::now();
    if (rc != PAM_SUCCESS) {
      state.SkipWithError(("login of " + user + " failed: " + pam_strerror(nullptr, rc)).c_str());
      break;
    }
    micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  if (micros.empty()) return;
  std::sort(micros.begin(), micros.end());
  auto pct = [&](double p) {
    return micros[std::min(micros.size() - 1, static_cast<std::size_t>(p * micros.size()))];
  };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.counters["max_us"] = micros.back();
  state.counters["logins_per_s"] =
      benchmark::Counter(static_cast<double>(micros.size()), benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--setup") return Setup(argv[2], atoi(argv[3]));
  const char* iterations_env = getenv("MAMORI_BENCH_ITERATIONS");
  const benchmark::IterationCount iterations = iterations_env ? atoi(iterations_env) : 1000;
  for (const char* service : {"mamori", "oath"}) {
    benchmark::RegisterBenchmark(("pam_login/pam_" + std::string(service)).c_str(), BM_PamLogin,
                                 service)
        ->Iterations(iterations)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
