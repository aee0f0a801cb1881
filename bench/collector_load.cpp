// collector_load: N simulated terminals against a running mamori-collector, talking to it as the
// agent does: each enrolls with its own EC P-256 key and CSR (or reuses the identity it enrolled in
// an earlier run, --identity-dir), then sends reports (increasing sequences, compliance checks,
// events) on its own jittered schedule and, with --poll or --pollers, holds a policy long-poll.
// Prints reports/s, latency percentiles, errors, the policy propagation over every polling terminal
// when
// --push-at is given, how long the fleet took to catch up after losing the collector, the
// collector's and its own RSS, and the load average. Loopback only; every run is bounded by
// --duration.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "load/fleet.h"
#include "load/identities.h"
#include "mamori/collector/client.h"
#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/signing.h"

namespace {

namespace json = boost::json;
namespace po = boost::program_options;
using mamori::bench::Clock;
using mamori::bench::Identity;
using mamori::bench::Percentile;
using mamori::bench::Terminal;
using mamori::collector::HttpsRequest;

struct Options {
  mamori::bench::FleetOptions fleet;
  std::string admin_url, ca_file, token;
  int terminals = 100;
  double push_at = -1;  // seconds into the run; < 0: no push
  std::string collector_pid_file;
  int enroll_threads = 32;
  std::string identity_dir;
  std::string acked_file;    // each terminal's first and last sequence acknowledged in this run
  std::string started_file;  // written when the load begins (enrollment done)
  bool poll_all = false;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string SignedBundle(std::uint64_t version) {
  const std::string text = R"({"schema":1,"version":)" + std::to_string(version) +
                           R"(,"issued_at":"2026-01-01T00:00:00Z",)"
                           R"("expires_at":"2036-01-01T00:00:00Z","targets":["*"]})";
  const auto parsed = mamori::policy::ParsePolicy(text);
  if (!parsed.ok()) throw std::runtime_error("bench policy does not parse");
  const auto key = mamori::policy::SigningKey::Generate();
  const mamori::policy::SigningKey* keys[] = {&key};
  return mamori::policy::SerializeBundle(
      mamori::policy::SignPolicy(mamori::policy::Canonicalize(*parsed.policy), keys));
}

// Enrolls `count` new terminals, `threads` at a time, each with a fresh key and connection.
std::vector<Identity> Enroll(const Options& o, int count, mamori::bench::IdentityStore* store) {
  const std::string& ca_pem = o.fleet.ca_pem;
  const auto created =
      HttpsRequest({o.admin_url, ca_pem, "", "", o.token, 30}, "POST", "/v1/admin/tokens",
                   R"({"kind":"enrollment","group":"load","uses":)" + std::to_string(count) + "}");
  if (created.status != 201) throw std::runtime_error("token: " + created.body);
  const std::string token(json::parse(created.body).at("token").as_string());
  // Facts must differ between runs too, or the collector takes a terminal for a cloned image.
  const std::string run = std::to_string(std::chrono::system_clock::now().time_since_epoch() /
                                         std::chrono::milliseconds(1));

  std::vector<Identity> enrolled(static_cast<std::size_t>(count));
  std::atomic<int> next{0}, failed{0}, done{0};
  std::string first_error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (int i = next++; i < count; i = next++) {
      try {
        auto made = mamori::bench::MakeKeyAndCsr();
        const std::string name = "load-" + run + "-" + std::to_string(i);
        json::object body{{"token", token},
                          {"csr", made.csr_pem},
                          {"facts",
                           {{"machine_id", name},
                            {"hostname", name},
                            {"serial", name},
                            {"os", "Debian GNU/Linux 12"}}}};
        const auto r = HttpsRequest({o.fleet.agent_url, ca_pem, "", "", "", 30}, "POST",
                                    "/v1/enroll", json::serialize(body));
        if (r.status != 201) throw std::runtime_error(std::to_string(r.status) + " " + r.body);
        const json::object answer = json::parse(r.body).as_object();
        Identity& identity = enrolled[static_cast<std::size_t>(i)];
        identity.id = std::string(answer.at("terminal_id").as_string());
        identity.key_der = std::move(made.key_der);
        identity.cert_der = mamori::bench::CertificateDer(
            std::string(answer.at("certificate").as_string()), "enrollment answer");
        if (store) store->Append(identity);
        if (const int n = ++done; n % 10000 == 0) std::cerr << "enrolled " << n << "\n";
      } catch (const std::exception& e) {
        std::lock_guard lock(error_mutex);
        if (failed++ == 0) first_error = e.what();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < o.enroll_threads; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (store) store->Sync();
  if (failed > 0) {
    throw std::runtime_error(std::to_string(failed.load()) +
                             " enrollments failed, the first: " + first_error);
  }
  return enrolled;
}

std::string ProcField(const std::string& pid, const std::string& field) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      line.erase(0, field.size() + 1);
      line.erase(0, line.find_first_not_of(" \t"));
      return line;
    }
  }
  return "?";
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = 0, five = 0, fifteen = 0;
  in >> one >> five >> fifteen;
  std::ostringstream s;
  s << one << " " << five << " " << fifteen;
  return s.str();
}

// Each connection is a descriptor: lift the soft limit to the hard one.
rlim_t RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

void ParseOptions(int argc, char** argv, Options& o) {
  auto& f = o.fleet;
  po::options_description desc("collector_load options");
  desc.add_options()("help,h", "show this help")("agent-url", po::value(&f.agent_url)->required(),
                                                 "https://127.0.0.1:PORT of the agent API")(
      "admin-url", po::value(&o.admin_url)->required(), "https://localhost:PORT of the admin API")(
      "ca", po::value(&o.ca_file)->required(), "the collector's CA certificate (PEM)")(
      "token", po::value(&o.token)->required(), "an admin API token")(
      "terminals", po::value(&o.terminals), "simulated terminals (default 100)")(
      "interval", po::value(&f.interval), "seconds between a terminal's reports; 0: back to back")(
      "jitter", po::value(&f.jitter), "each interval is interval * (1 ± jitter) (default 0.1)")(
      "duration", po::value(&f.duration), "seconds of load, at most 1800 (default 20)")(
      "events", po::value(&f.events), "mean events per report (default 1)")(
      "keep-alive", po::bool_switch(&f.keep_alive),
      "hold each terminal's connection between reports (the agent opens one per report)")(
      "poll", po::bool_switch(&o.poll_all), "each terminal also holds a policy long-poll")(
      "pollers", po::value(&f.pollers), "only the first N terminals hold a policy long-poll")(
      "push-at", po::value(&o.push_at),
      "push a policy this many seconds in; the time until it is applied counts over every "
      "polling terminal")("collector-pid-file", po::value(&o.collector_pid_file),
                          "file holding the collector's pid, read at the end for its RSS")(
      "enroll-threads", po::value(&o.enroll_threads), "parallel enrollments (default 32)")(
      "identity-dir", po::value(&o.identity_dir),
      "keep enrolled identities and sequences here and reuse them (one directory per collector "
      "state)")("threads", po::value(&f.threads), "I/O threads (default 2)")(
      "acked-file", po::value(&o.acked_file),
      "write 'terminal-id first-sequence last-sequence' acknowledged in this run here")(
      "started-file", po::value(&o.started_file), "written once enrollment is done")(
      "ramp", po::value(&f.ramp), "seconds over which the long-polls first connect (default 10)")(
      "max-connecting", po::value(&f.max_connecting),
      "connects and TLS handshakes in flight at once (default 64)")(
      "source-addresses", po::value(&f.source_addresses),
      "connect from 127.0.0.2 .. 127.0.0.(1+N), each with its own ephemeral ports (default 8; "
      "0: 127.0.0.1)");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  if (vm.count("help")) {
    std::cout << desc;
    std::exit(0);
  }
  po::notify(vm);
  if (f.duration < 1 || f.duration > 1800) throw po::error("--duration must be 1..1800 seconds");
  if (o.terminals < 1 || o.terminals > 1000000) throw po::error("--terminals must be 1..1000000");
  if (f.threads < 1 || f.threads > 64) throw po::error("--threads must be 1..64");
  if (f.jitter < 0 || f.jitter >= 1) throw po::error("--jitter must be in [0, 1)");
  if (f.source_addresses < 0 || f.source_addresses > 250) {
    throw po::error("--source-addresses must be 0..250");
  }
  if (o.enroll_threads < 1 || o.enroll_threads > 256) {
    throw po::error("--enroll-threads must be 1..256");
  }
  if (o.poll_all) f.pollers = o.terminals;
  if (f.pollers < 0 || f.pollers > o.terminals) throw po::error("--pollers must be 0..--terminals");
  if (o.push_at >= 0 && f.pollers == 0) throw po::error("--push-at needs --poll or --pollers");
}

int Main(Options& o) {
  const rlim_t descriptors = RaiseDescriptorLimit();
  const auto held = static_cast<rlim_t>(o.fleet.pollers + (o.fleet.keep_alive ? o.terminals : 0));
  if (descriptors < held + 1000) {
    std::cerr << "collector_load: warning: " << descriptors
              << " descriptors allowed (ulimit -Hn) for " << held << " connections held open\n";
  }
  o.fleet.ca_pem = ReadFile(o.ca_file);
  std::cout << "load average at start " << LoadAverage() << "\n";

  std::optional<mamori::bench::IdentityStore> store;
  std::vector<Identity> identities;
  if (!o.identity_dir.empty()) {
    store.emplace(o.identity_dir, o.fleet.ca_pem);
    identities = store->loaded();
  }
  const std::size_t wanted = static_cast<std::size_t>(o.terminals);
  const std::size_t reused = std::min(identities.size(), wanted);
  identities.resize(reused);
  if (reused < wanted) {
    const auto enroll_start = Clock::now();
    auto fresh = Enroll(o, static_cast<int>(wanted - reused), store ? &*store : nullptr);
    const double s = std::chrono::duration<double>(Clock::now() - enroll_start).count();
    std::cout << "enrolled " << fresh.size() << " terminals in " << s << " s ("
              << static_cast<double>(fresh.size()) / s << "/s, " << o.enroll_threads
              << " at a time), load average " << LoadAverage() << "\n";
    std::move(fresh.begin(), fresh.end(), std::back_inserter(identities));
  }
  if (reused > 0) std::cout << "reused " << reused << " enrolled identities\n";

  std::map<std::string, std::uint64_t> sequences;
  if (store) {
    for (const auto& [id, sequence] : store->LoadSequences()) sequences[id] = sequence;
  }
  std::vector<Terminal> terminals(wanted);
  for (std::size_t i = 0; i < wanted; ++i) {
    terminals[i].identity = &identities[i];
    terminals[i].sequence = sequences[identities[i].id];
  }

  mamori::bench::Fleet fleet(o.fleet, terminals);
  std::thread pusher;
  if (o.push_at >= 0) {
    pusher = std::thread([&] {
      const auto version = static_cast<std::uint64_t>(
          std::chrono::system_clock::now().time_since_epoch() / std::chrono::milliseconds(1));
      const std::string bundle = SignedBundle(version);
      std::this_thread::sleep_for(std::chrono::duration<double>(o.push_at));
      fleet.Pushing(version);
      const auto r = HttpsRequest({o.admin_url, o.fleet.ca_pem, "", "", o.token, 30}, "POST",
                                  "/v1/admin/policy", bundle);
      if (r.status != 201) std::cerr << "push refused: " << r.status << " " << r.body << "\n";
    });
  }
  if (!o.started_file.empty()) std::ofstream(o.started_file) << "started\n";
  const auto start = Clock::now();
  fleet.Run();
  if (pusher.joinable()) pusher.join();
  const std::string load_at_end = LoadAverage();

  mamori::bench::FleetStats s = fleet.stats();
  const double seconds = fleet.seconds();
  std::cout << "terminals " << o.terminals << ", interval " << o.fleet.interval << " s (±"
            << o.fleet.jitter * 100 << "%), duration " << seconds << " s, events/report "
            << o.fleet.events
            << (o.fleet.keep_alive ? ", connections kept alive" : ", a new connection per report")
            << ", " << o.fleet.pollers << " long-polling\n"
            << "reports " << s.latency_ms.size() << " ("
            << static_cast<double>(s.latency_ms.size()) / seconds << "/s), errors " << s.errors
            << ", busy (503) " << s.busy << ", duplicates " << s.duplicates
            << ", stale kept-alive connections " << s.stale << "\n"
            << "latency ms" << (o.fleet.keep_alive ? "" : " (connect + TLS handshake + request)")
            << ": p50 " << Percentile(s.latency_ms, 50) << ", p99 " << Percentile(s.latency_ms, 99)
            << ", p99.9 " << Percentile(s.latency_ms, 99.9) << ", max "
            << Percentile(s.latency_ms, 100) << "\n";
  if (s.first_failure != Clock::time_point{}) {
    std::vector<double> before(s.latency_ms.begin(),
                               s.latency_ms.begin() + static_cast<long>(s.reports_before_failure));
    std::cout << "first error " << std::chrono::duration<double>(s.first_failure - start).count()
              << " s into the load; before it: reports " << before.size() << " ("
              << static_cast<double>(before.size()) /
                     std::chrono::duration<double>(s.first_failure - start).count()
              << "/s), latency ms p50 " << Percentile(before, 50) << ", p99 "
              << Percentile(before, 99) << ", p99.9 " << Percentile(before, 99.9) << "\n";
  }
  if (o.push_at >= 0) {
    // Over every polling terminal: one that never received the policy counts as infinitely late.
    std::vector<double> applied;
    for (int i = 0; i < o.fleet.pollers; ++i) {
      const double ms = terminals[static_cast<std::size_t>(i)].applied_ms;
      applied.push_back(ms >= 0 ? ms : std::numeric_limits<double>::infinity());
    }
    const auto reached = std::count_if(applied.begin(), applied.end(), [](double ms) {
      return ms != std::numeric_limits<double>::infinity();
    });
    std::cout << "policy push applied on " << reached << " of " << o.fleet.pollers
              << " terminals (counted from the push request, over all of them): p50 "
              << Percentile(applied, 50) << " ms, p95 " << Percentile(applied, 95) << " ms, max "
              << Percentile(applied, 100) << " ms\n";
  }
  if (s.first_failure != Clock::time_point{}) {
    std::vector<double> catch_up_s;
    for (const Terminal& t : terminals) {
      catch_up_s.push_back(
          t.caught_up != Clock::time_point{}
              ? std::chrono::duration<double>(t.caught_up - s.first_failure).count()
              : std::numeric_limits<double>::infinity());
    }
    const auto caught = std::count_if(catch_up_s.begin(), catch_up_s.end(), [](double v) {
      return v != std::numeric_limits<double>::infinity();
    });
    std::cout << "after the first error (the collector lost), " << caught << " of "
              << terminals.size() << " terminals had a report sent afterwards acknowledged: p50 "
              << Percentile(catch_up_s, 50) << " s, p99 " << Percentile(catch_up_s, 99)
              << " s, all " << Percentile(catch_up_s, 100) << " s\n";
  }
  {
    // The IT view while the fleet reports: totals over every terminal, five times.
    std::vector<double> summary_ms;
    for (int i = 0; i < 5; ++i) {
      const auto asked = Clock::now();
      const auto r = HttpsRequest({o.admin_url, o.fleet.ca_pem, "", "", o.token, 30}, "GET",
                                  "/v1/fleet/summary", "");
      if (r.status != 200) throw std::runtime_error("fleet summary: " + r.body);
      summary_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - asked).count());
      if (i == 4) std::cout << "fleet summary " << r.body;
    }
    std::cout << "fleet summary request (new TLS connection each): median "
              << Percentile(summary_ms, 50) << " ms, max " << Percentile(summary_ms, 100)
              << " ms\n";
  }
  if (!o.acked_file.empty()) {
    std::ofstream out(o.acked_file);
    for (const Terminal& t : terminals) {
      if (t.first_sequence != 0) {
        out << t.identity->id << " " << t.first_sequence << " " << t.sequence << "\n";
      }
    }
    if (!out) throw std::runtime_error(o.acked_file + ": cannot write");
  }
  if (store) {
    for (const Terminal& t : terminals) sequences[t.identity->id] = t.sequence;
    store->SaveSequences({sequences.begin(), sequences.end()});
  }
  if (!o.collector_pid_file.empty()) {
    std::string pid;
    std::ifstream(o.collector_pid_file) >> pid;
    std::cout << "collector RSS " << ProcField(pid, "VmRSS") << ", peak " << ProcField(pid, "VmHWM")
              << "\n";
  }
  std::cout << "load generator RSS " << ProcField("self", "VmRSS") << ", peak "
            << ProcField("self", "VmHWM") << "; load average at end " << load_at_end << "\n";
  return s.errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    ParseOptions(argc, argv, o);
  } catch (const po::error& e) {
    std::cerr << "collector_load: " << e.what() << " (--help lists the options)\n";
    return 2;
  }
  try {
    return Main(o);
  } catch (const std::exception& e) {
    std::cerr << "collector_load: " << e.what() << "\n";
    return 1;
  }
}
