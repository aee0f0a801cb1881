// The fleet totals (Store::FleetSummary, behind GET /v1/fleet/summary and mamorictl fleet
// --summary) over a large fleet: terminals are seeded with one SQL statement, each then reports
// once through group commit (Store::IngestReports), and the summary is timed.
//   fleet_summary_bench [--terminals N] [--database FILE|postgresql://...]
// Without --database a SQLite file in a fresh temp directory is used.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "mamori/collector/postgres_store.h"

namespace {

using namespace mamori::collector;

int g_terminals = 100000;
std::string g_database;
std::unique_ptr<Store> g_store;

mamori::collector::Report MakeReport(int i) {
  mamori::collector::Report r;
  r.sequence = 1;
  r.policy_version = 7 + static_cast<std::uint64_t>(i % 3);
  r.checks.push_back({"usb.authorized_default", i % 10 == 0 ? "fail" : "pass", "0"});
  r.checks.push_back({"ntp.sync", i % 97 == 0 ? "error" : "pass", "yes"});
  return r;
}

void Seed(Store& store, const std::string& database) {
  const auto started = std::chrono::steady_clock::now();
  // Enrollment one terminal at a time is not what is measured here: the rows come from one
  // statement, through the store's own database handle (a settings round trip first creates the
  // schema).
  store.Setting("bench");
  const std::string sql =
      "INSERT INTO terminals (id, grp, machine_id, cert_fingerprint, key_fingerprint, hostname, "
      "serial, os, enrolled_at) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
      "WHERE i < " +
      std::to_string(g_terminals) +
      ") SELECT 't-' || i, 'g', 'm-' || i, 'c-' || i, 'k-' || i, 'h-' || i, '', '', 1000 FROM n";
  const std::string command = IsPostgresUri(database)
                                  ? "psql -q '" + database + "' -c \"" + sql + "\""
                                  : "sqlite3 '" + database + "' \"" + sql + "\"";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("seeding failed: " + command);
  std::vector<IngestItem> batch;
  for (int i = 1; i <= g_terminals; ++i) {
    batch.push_back({"t-" + std::to_string(i), MakeReport(i)});
    if (batch.size() == 1000 || i == g_terminals) {
      for (const IngestResult& r : store.IngestReports(batch, 2000 + (i % 5000))) {
        if (!r.stored) throw std::runtime_error("report not stored: " + r.error);
      }
      batch.clear();
    }
  }
  std::cerr << "seeded " << g_terminals << " terminals with one report each in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << " s\n";
}

void BM_FleetSummary(benchmark::State& state) {
  std::uint64_t terminals = 0;
  for (auto _ : state) {
    const FleetTotals totals = g_store->FleetSummary(4000);
    terminals = totals.terminals;
    benchmark::DoNotOptimize(totals);
  }
  state.counters["terminals"] = static_cast<double>(terminals);
}
BENCHMARK(BM_FleetSummary)->Unit(benchmark::kMillisecond)->MinTime(2);

// The full per-terminal list, for comparison: what `mamorictl fleet` reads.
void BM_FleetList(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(g_store->Fleet());
}
BENCHMARK(BM_FleetList)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--terminals" && i + 1 < argc) {
      g_terminals = std::stoi(argv[++i]);
    } else if (arg == "--database" && i + 1 < argc) {
      g_database = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  std::filesystem::path dir;
  if (g_database.empty()) {
    char pattern[] = "/tmp/mamori-fleet-bench-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return 1;
    dir = pattern;
    g_database = (dir / "collector.db").string();
  }
  int code = 0;
  try {
    g_store = OpenStore(g_database);
    Seed(*g_store, g_database);
    int count = static_cast<int>(rest.size());
    benchmark::Initialize(&count, rest.data());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "fleet_summary_bench: " << e.what() << "\n";
    code = 1;
  }
  g_store.reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return code;
}
