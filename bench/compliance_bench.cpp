// What compliance checks cost a report on this host, through the Linux probe: hashing the agent
// binary (SHA-256 and MD5) as a fresh probe does and as a probe that remembers the digest does, the
// whole catalogue once apt's answer and the digest are remembered (the running agent after its
// first run), and the one check an enrollment re-runs. Reports of events only (logins, USB
// decisions) run no check at all.
#include <benchmark/benchmark.h>

#include <chrono>

#include "mamori/agent/compliance.h"

namespace {

mamori::agent::ComplianceInputs Inputs() {
  mamori::agent::ComplianceInputs in;
  in.enrolled_users = std::vector<std::string>{"alice"};
  in.guard_enforcing = true;
  in.agent_binary = MAMORI_AGENT_BIN;  // the built agent, as the package installs it
  in.now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  return in;
}

void BM_HashTheAgentBinary(benchmark::State& state) {
  std::string sha256, md5;
  for (auto _ : state) {
    auto probe = mamori::platform::NewLinuxSystemProbe();
    benchmark::DoNotOptimize(probe->HashFile(MAMORI_AGENT_BIN, &sha256, &md5));
  }
}
BENCHMARK(BM_HashTheAgentBinary)->Unit(benchmark::kMillisecond);

void BM_HashTheAgentBinaryRemembered(benchmark::State& state) {
  std::string sha256, md5;
  auto probe = mamori::platform::NewLinuxSystemProbe();
  benchmark::DoNotOptimize(probe->HashFile(MAMORI_AGENT_BIN, &sha256, &md5));
  for (auto _ : state) benchmark::DoNotOptimize(probe->HashFile(MAMORI_AGENT_BIN, &sha256, &md5));
}
BENCHMARK(BM_HashTheAgentBinaryRemembered)->Unit(benchmark::kMicrosecond);

void BM_CatalogueWithTheDigestRemembered(benchmark::State& state) {
  const auto in = Inputs();
  auto probe = mamori::platform::NewLinuxSystemProbe();
  mamori::agent::RunComplianceChecks(in, *probe);
  for (auto _ : state) benchmark::DoNotOptimize(mamori::agent::RunComplianceChecks(in, *probe));
}
BENCHMARK(BM_CatalogueWithTheDigestRemembered)->Unit(benchmark::kMillisecond);

void BM_EnrolledUsersCheckOnly(benchmark::State& state) {
  const auto in = Inputs();
  auto probe = mamori::platform::NewLinuxSystemProbe();
  for (auto _ : state) {
    benchmark::DoNotOptimize(mamori::agent::RunComplianceChecks(in, *probe, {"mfa.enrolled"}));
  }
}
BENCHMARK(BM_EnrolledUsersCheckOnly)->Unit(benchmark::kMicrosecond);

}  // namespace
