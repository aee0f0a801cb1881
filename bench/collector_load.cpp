// collector_load: N simulated terminals against a running mamori-collector, talking to it as the
// agent does: each enrolls with its own key and CSR, then keeps one mutual-TLS connection for
// reports (increasing sequences, compliance checks, events) and, with --poll, a second one for the
// policy long-poll. Prints reports/s, latency percentiles, errors, the policy propagation time
// when --push-at is given, and the collector's RSS. Loopback only; every run is bounded by
// --duration.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "mamori/collector/client.h"
#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/signing.h"

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace po = boost::program_options;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;
using Stream = beast::ssl_stream<beast::tcp_stream>;
using mamori::collector::ClientOptions;
using mamori::collector::HttpsRequest;

struct Options {
  std::string agent_url, admin_url, ca_file, token;
  int terminals = 100;
  double interval = 1;  // seconds between reports of one terminal; 0: back to back
  int duration = 20;
  double events = 1;  // mean events per report
  bool poll = false;
  double push_at = -1;  // seconds into the run; < 0: no push
  int collector_pid = 0;
  int enroll_threads = 8;
  int threads = 2;           // I/O threads of the simulated terminals
  std::string acked_file;    // where to write each terminal's highest acknowledged sequence
  std::string started_file;  // written when the load begins (enrollment done)
  double ramp = 10;          // seconds over which the long-polls first connect
  int max_connecting = 64;   // TLS handshakes in flight at once
};

struct Terminal {
  std::string id;
  std::unique_ptr<ssl::context> tls;
  std::uint64_t sequence = 0;       // the last one acknowledged
  Clock::time_point failing_since;  // set while its reports fail (the collector is away)
};

struct Stats {
  std::mutex mutex;
  std::vector<double> latency_ms;
  std::uint64_t errors = 0;
  std::uint64_t busy = 0;              // 503 answers (retried after Retry-After)
  std::vector<double> propagation_ms;  // push answered → bundle received, per terminal
  // Per terminal that lost the collector: first failure → next acknowledged report.
  std::vector<double> catch_up_ms;
  std::uint64_t duplicates = 0;  // re-sent reports the collector already had
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// An EC P-256 key and a CSR for it, as an enrolling agent makes them.
std::pair<std::string, std::string> MakeKeyAndCsr() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(X509_REQ_new(), &X509_REQ_free);
  if (!key || !req || !X509_REQ_set_pubkey(req.get(), key.get()) ||
      !X509_REQ_sign(req.get(), key.get(), EVP_sha256())) {
    throw std::runtime_error("cannot make a key and CSR");
  }
  auto pem = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    write(bio.get());
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
  };
  return {pem([&](BIO* b) {
            PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
          }),
          pem([&](BIO* b) { PEM_write_bio_X509_REQ(b, req.get()); })};
}

std::pair<std::string, std::string> HostPort(const std::string& url) {
  const std::string rest = url.substr(url.find("://") + 3);
  const auto colon = rest.rfind(':');
  return {rest.substr(0, colon), rest.substr(colon + 1)};
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

std::vector<Terminal> EnrollAll(const Options& o, const std::string& ca_pem) {
  ClientOptions admin{o.admin_url, ca_pem, "", "", o.token, 30};
  const auto created = HttpsRequest(
      admin, "POST", "/v1/admin/tokens",
      R"({"kind":"enrollment","group":"load","uses":)" + std::to_string(o.terminals) + "}");
  if (created.status != 201) throw std::runtime_error("token: " + created.body);
  const std::string token(json::parse(created.body).at("token").as_string());

  std::vector<Terminal> terminals(static_cast<std::size_t>(o.terminals));
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  auto worker = [&] {
    for (int i = next++; i < o.terminals; i = next++) {
      auto [key_pem, csr_pem] = MakeKeyAndCsr();
      json::object body{{"token", token},
                        {"csr", csr_pem},
                        {"facts",
                         {{"machine_id", "load-" + std::to_string(i)},
                          {"hostname", "load-" + std::to_string(i)},
                          {"serial", "L" + std::to_string(i)},
                          {"os", "Debian GNU/Linux 12"}}}};
      const auto r = HttpsRequest({o.agent_url, ca_pem, "", "", "", 30}, "POST", "/v1/enroll",
                                  json::serialize(body));
      if (r.status != 201) {
        ++failed;
        continue;
      }
      const json::object answer = json::parse(r.body).as_object();
      Terminal& t = terminals[static_cast<std::size_t>(i)];
      t.id = std::string(answer.at("terminal_id").as_string());
      t.tls = std::make_unique<ssl::context>(ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(t.tls->native_handle(), TLS1_3_VERSION);
      t.tls->add_certificate_authority(asio::buffer(ca_pem));
      t.tls->set_verify_mode(ssl::verify_peer);
      const std::string cert(answer.at("certificate").as_string());
      t.tls->use_certificate_chain(asio::buffer(cert));
      t.tls->use_private_key(asio::buffer(key_pem), ssl::context::pem);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < o.enroll_threads; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (failed > 0) throw std::runtime_error(std::to_string(failed.load()) + " enrollments failed");
  return terminals;
}

std::string ReportBody(std::uint64_t sequence, int events, bool fail) {
  std::string body = R"({"sequence":)" + std::to_string(sequence) +
                     R"(,"checks":[{"id":"usb.authorized_default","result":")" +
                     (fail ? "fail" : "pass") +
                     R"(","observed":"0"},{"id":"ntp.sync","result":"pass","observed":"yes"}],)"
                     R"("events":[)";
  for (int i = 0; i < events; ++i) {
    if (i) body += ",";
    body += R"({"time":"2026-11-23T01:02:03Z","type":"usb.blocked","data":{"vid":"0781"}})";
  }
  return body + "]}";
}

class Load {
 public:
  Load(const Options& o, std::vector<Terminal>& terminals)
      : o_(o), terminals_(terminals), endpoint_(Resolve(o.agent_url)) {}

  void Run() {
    start_ = Clock::now();
    end_ = start_ + std::chrono::seconds(o_.duration);
    // One strand per connection: the I/O threads share the terminals.
    for (auto& t : terminals_) {
      asio::co_spawn(asio::make_strand(ioc_), Reporter(t), asio::detached);
      if (o_.poll) asio::co_spawn(asio::make_strand(ioc_), Poller(t), asio::detached);
    }
    std::vector<std::thread> threads;
    for (int i = 1; i < o_.threads; ++i) threads.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& thread : threads) thread.join();
  }

  // Called from the pushing thread just before it sends the bundle.
  void Pushing() { push_started_ = Clock::now().time_since_epoch().count(); }

  Stats stats;
  double seconds() const { return std::chrono::duration<double>(end_ - start_).count(); }

 private:
  static asio::ip::tcp::endpoint Resolve(const std::string& url) {
    const auto [host, port] = HostPort(url);
    return {asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host),
            static_cast<std::uint16_t>(std::stoi(port))};
  }

  asio::awaitable<bool> Connect(std::unique_ptr<Stream>& stream, Terminal& t) {
    // A bounded number of handshakes at once: real terminals do not all connect in one instant.
    asio::steady_timer pause(co_await asio::this_coro::executor);
    while (connecting_.fetch_add(1) >= o_.max_connecting) {
      --connecting_;
      pause.expires_after(std::chrono::milliseconds(5));
      co_await pause.async_wait(use_awaitable);
    }
    const bool connected = co_await Handshake(stream, t);
    --connecting_;
    co_return connected;
  }

  asio::awaitable<bool> Handshake(std::unique_ptr<Stream>& stream, Terminal& t) {
    stream = std::make_unique<Stream>(co_await asio::this_coro::executor, *t.tls);
    beast::error_code ec;
    beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(10));
    co_await beast::get_lowest_layer(*stream).async_connect(endpoint_,
                                                            redirect_error(use_awaitable, ec));
    if (!ec)
      co_await stream->async_handshake(ssl::stream_base::client, redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  asio::awaitable<void> Reporter(Terminal& t) {
    std::minstd_rand random(static_cast<unsigned>(std::hash<std::string>{}(t.id)));
    std::uniform_real_distribution<double> unit(0, 1);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto next = start_ + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(o_.interval * unit(random)));
    std::unique_ptr<Stream> stream;
    beast::flat_buffer buffer;
    while (next < end_) {
      timer.expires_at(next);
      co_await timer.async_wait(use_awaitable);
      next +=
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.interval));
      if (!stream && !co_await Connect(stream, t)) {
        if (t.failing_since == Clock::time_point{}) t.failing_since = Clock::now();
        {
          std::lock_guard lock(stats.mutex);
          ++stats.errors;
        }
        stream.reset();
        next = std::max(next, Clock::now() + std::chrono::seconds(1));
        continue;
      }
      const int whole = static_cast<int>(o_.events);
      const int events = whole + (unit(random) < o_.events - whole ? 1 : 0);
      http::request<http::string_body> req{http::verb::post, "/v1/reports", 11};
      req.set(http::field::host, "localhost");
      req.set(http::field::content_type, "application/json");
      const std::uint64_t sequence = ++t.sequence;
      req.body() = ReportBody(sequence, events, sequence % 10 == 0);
      req.keep_alive(true);
      req.prepare_payload();
      const auto sent = Clock::now();
      beast::error_code ec;
      beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(30));
      co_await http::async_write(*stream, req, redirect_error(use_awaitable, ec));
      http::response<http::string_body> res;
      if (!ec) co_await http::async_read(*stream, buffer, res, redirect_error(use_awaitable, ec));
      if (!ec && res.result_int() == 503) {
        // Backpressure: the same report again after Retry-After, on the same connection.
        --t.sequence;
        std::lock_guard lock(stats.mutex);
        ++stats.busy;
        next = Clock::now() + std::chrono::seconds(1);
        continue;
      }
      if (ec || res.result_int() != 200) {
        --t.sequence;  // sent again, as the agent's spool would
        if (t.failing_since == Clock::time_point{}) t.failing_since = Clock::now();
        stream.reset();
        buffer.clear();
        std::lock_guard lock(stats.mutex);
        ++stats.errors;
        continue;
      }
      const auto now = Clock::now();
      const bool duplicate = res.body().find(R"("duplicate":true)") != std::string::npos;
      std::lock_guard lock(stats.mutex);
      stats.latency_ms.push_back(std::chrono::duration<double, std::milli>(now - sent).count());
      if (duplicate) ++stats.duplicates;
      if (t.failing_since != Clock::time_point{}) {
        stats.catch_up_ms.push_back(
            std::chrono::duration<double, std::milli>(now - t.failing_since).count());
        t.failing_since = {};
      }
      if (o_.interval == 0) next = now;
    }
    if (stream) {
      beast::error_code ec;
      beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(2));
      co_await stream->async_shutdown(redirect_error(use_awaitable, ec));
    }
  }

  asio::awaitable<void> Poller(Terminal& t) {
    std::minstd_rand random(static_cast<unsigned>(std::hash<std::string>{}(t.id) + 1));
    asio::steady_timer start(
        co_await asio::this_coro::executor,
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
            o_.ramp * std::uniform_real_distribution<double>(0, 1)(random))));
    co_await start.async_wait(use_awaitable);
    std::unique_ptr<Stream> stream;
    beast::flat_buffer buffer;
    std::uint64_t after = 0;
    bool first = true;
    while (Clock::now() < end_) {
      if (!stream && !co_await Connect(stream, t)) {
        {
          std::lock_guard lock(stats.mutex);
          ++stats.errors;
        }
        stream.reset();
        asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::seconds(1));
        co_await pause.async_wait(use_awaitable);
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(end_ - Clock::now());
      const long wait = first ? 0 : std::max<long>(1, std::min<long>(30, left.count()));
      http::request<http::string_body> req{
          http::verb::get,
          "/v1/policy?after=" + std::to_string(after) + "&wait=" + std::to_string(wait), 11};
      req.set(http::field::host, "localhost");
      req.keep_alive(true);
      beast::error_code ec;
      beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(wait + 30));
      co_await http::async_write(*stream, req, redirect_error(use_awaitable, ec));
      http::response<http::string_body> res;
      if (!ec) co_await http::async_read(*stream, buffer, res, redirect_error(use_awaitable, ec));
      if (ec || (res.result_int() != 200 && res.result_int() != 204)) {
        {
          std::lock_guard lock(stats.mutex);
          ++stats.errors;
        }
        stream.reset();
        buffer.clear();
        continue;
      }
      if (res.result_int() == 200) {
        const json::value bundle = json::parse(res.body());
        const json::value policy = json::parse(bundle.at("policy").as_string());
        after = policy.at("version").to_number<std::uint64_t>();
        if (const Clock::rep pushed = push_started_; !first && pushed != 0) {
          const auto since = Clock::now() - Clock::time_point(Clock::duration(pushed));
          std::lock_guard lock(stats.mutex);
          stats.propagation_ms.push_back(std::chrono::duration<double, std::milli>(since).count());
        }
      }
      first = false;
    }
  }

  const Options& o_;
  std::vector<Terminal>& terminals_;
  asio::ip::tcp::endpoint endpoint_;
  asio::io_context ioc_;
  Clock::time_point start_, end_;
  std::atomic<Clock::rep> push_started_{0};
  std::atomic<int> connecting_{0};
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

// Each terminal holds one or two connections: lift the descriptor limit to what the kernel allows.
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  std::ifstream nr_open("/proc/sys/fs/nr_open");
  rlim_t most = limit.rlim_max;
  if (!(nr_open >> most) || geteuid() != 0) most = limit.rlim_max;
  limit.rlim_cur = limit.rlim_max = std::max(most, limit.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// CPU seconds (user + system) the process has used so far; < 0 when unknown.
double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt
  double utime = 0, stime = 0;
  fields >> utime >> stime;
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string ProcField(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
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

}  // namespace

int main(int argc, char** argv) {
  Options o;
  po::options_description desc("collector_load options");
  desc.add_options()("help,h", "show this help")("agent-url", po::value(&o.agent_url)->required(),
                                                 "https://127.0.0.1:PORT of the agent API")(
      "admin-url", po::value(&o.admin_url)->required(), "https://localhost:PORT of the admin API")(
      "ca", po::value(&o.ca_file)->required(), "the collector's CA certificate (PEM)")(
      "token", po::value(&o.token)->required(), "an admin API token")(
      "terminals", po::value(&o.terminals), "simulated terminals (default 100)")(
      "interval", po::value(&o.interval), "seconds between a terminal's reports; 0: back to back")(
      "duration", po::value(&o.duration), "seconds of load, at most 60 (default 20)")(
      "events", po::value(&o.events), "mean events per report (default 1)")(
      "poll", po::bool_switch(&o.poll), "each terminal also holds a policy long-poll")(
      "push-at", po::value(&o.push_at), "push a policy this many seconds in (needs --poll)")(
      "collector-pid", po::value(&o.collector_pid), "the collector's pid, for its RSS")(
      "enroll-threads", po::value(&o.enroll_threads), "parallel enrollments (default 8)")(
      "threads", po::value(&o.threads), "I/O threads of the simulated terminals (default 2)")(
      "acked-file", po::value(&o.acked_file),
      "write 'terminal-id highest-acknowledged-sequence' lines here at the end")(
      "started-file", po::value(&o.started_file), "written once enrollment is done")(
      "ramp", po::value(&o.ramp), "seconds over which the long-polls first connect (default 10)")(
      "max-connecting", po::value(&o.max_connecting),
      "TLS handshakes in flight at once, as a fleet spread over time (default 64)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc;
      return 0;
    }
    po::notify(vm);
    if (o.duration < 1 || o.duration > 60) throw po::error("--duration must be 1..60 seconds");
    if (o.terminals < 1) throw po::error("--terminals must be at least 1");
    if (o.threads < 1 || o.threads > 64) throw po::error("--threads must be 1..64");
  } catch (const po::error& e) {
    std::cerr << "collector_load: " << e.what() << "\n" << desc;
    return 2;
  }
  try {
    RaiseDescriptorLimit();
    const std::string ca_pem = ReadFile(o.ca_file);
    const auto enroll_start = Clock::now();
    std::vector<Terminal> terminals = EnrollAll(o, ca_pem);
    const double enroll_s = std::chrono::duration<double>(Clock::now() - enroll_start).count();
    std::cout << "enrolled " << terminals.size() << " terminals in " << enroll_s << " s ("
              << static_cast<double>(terminals.size()) / enroll_s << "/s)\n";

    Load load(o, terminals);
    std::thread pusher;
    if (o.push_at >= 0) {
      pusher = std::thread([&] {
        const std::string bundle = SignedBundle(static_cast<std::uint64_t>(
            std::chrono::system_clock::now().time_since_epoch().count()));
        std::this_thread::sleep_for(std::chrono::duration<double>(o.push_at));
        load.Pushing();
        const auto r = HttpsRequest({o.admin_url, ca_pem, "", "", o.token, 30}, "POST",
                                    "/v1/admin/policy", bundle);
        if (r.status != 201) std::cerr << "push refused: " << r.status << " " << r.body << "\n";
      });
    }
    if (!o.started_file.empty()) std::ofstream(o.started_file) << "started\n";
    const double cpu_before = o.collector_pid > 0 ? CpuSeconds(o.collector_pid) : -1;
    load.Run();
    const double cpu_used = o.collector_pid > 0 ? CpuSeconds(o.collector_pid) - cpu_before : -1;
    if (pusher.joinable()) pusher.join();

    Stats& s = load.stats;
    std::cout << "terminals " << o.terminals << ", interval " << o.interval << " s, duration "
              << load.seconds() << " s, events/report " << o.events
              << (o.poll ? ", long-polling" : "") << "\n"
              << "reports " << s.latency_ms.size() << " ("
              << static_cast<double>(s.latency_ms.size()) / load.seconds() << "/s), errors "
              << s.errors << ", busy (503) " << s.busy << ", duplicates " << s.duplicates << "\n"
              << "latency ms: p50 " << Percentile(s.latency_ms, 50) << ", p99 "
              << Percentile(s.latency_ms, 99) << ", p99.9 " << Percentile(s.latency_ms, 99.9)
              << ", max " << Percentile(s.latency_ms, 100) << "\n";
    if (o.push_at >= 0) {
      std::cout << "policy push reached " << s.propagation_ms.size() << " of " << o.terminals
                << " terminals (from the push request): p50 " << Percentile(s.propagation_ms, 50)
                << " ms, p95 " << Percentile(s.propagation_ms, 95) << " ms, max "
                << Percentile(s.propagation_ms, 100) << " ms\n";
    }
    if (!s.catch_up_ms.empty()) {
      std::cout << "caught up after losing the collector: " << s.catch_up_ms.size()
                << " terminals, p50 " << Percentile(s.catch_up_ms, 50) / 1000 << " s, max "
                << Percentile(s.catch_up_ms, 100) / 1000 << " s\n";
    }
    {
      // The IT view while the fleet reports: totals over every terminal, five times.
      std::vector<double> summary_ms;
      for (int i = 0; i < 5; ++i) {
        const auto asked = Clock::now();
        const auto r = HttpsRequest({o.admin_url, ca_pem, "", "", o.token, 30}, "GET",
                                    "/v1/fleet/summary", "");
        if (r.status != 200) throw std::runtime_error("fleet summary: " + r.body);
        summary_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - asked).count());
        if (i == 4) std::cout << "fleet summary " << r.body;
      }
      std::cout << "fleet summary request (new TLS connection each): median "
                << Percentile(summary_ms, 50) << " ms, max " << Percentile(summary_ms, 100)
                << " ms\n";
    }
    if (!o.acked_file.empty()) {
      std::ofstream out(o.acked_file);
      for (const Terminal& t : terminals) out << t.id << " " << t.sequence << "\n";
      if (!out) throw std::runtime_error(o.acked_file + ": cannot write");
    }
    if (cpu_used >= 0 && !s.latency_ms.empty()) {
      std::cout << "collector CPU " << cpu_used << " s during the load ("
                << cpu_used * 1e6 / static_cast<double>(s.latency_ms.size()) << " us per report)\n";
    }
    if (o.collector_pid > 0) {
      std::cout << "collector RSS " << ProcField(o.collector_pid, "VmRSS") << ", peak "
                << ProcField(o.collector_pid, "VmHWM") << "\n";
    }
    return s.errors == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "collector_load: " << e.what() << "\n";
    return 1;
  }
}
