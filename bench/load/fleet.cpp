#include "fleet.h"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <random>
#include <thread>

namespace mamori::bench {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::redirect_error;
using asio::use_awaitable;
using Stream = beast::ssl_stream<beast::tcp_stream>;

Clock::duration Seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

asio::ip::tcp::endpoint Resolve(const std::string& url) {
  const std::string rest = url.substr(url.find("://") + 3);
  const auto colon = rest.rfind(':');
  const std::string host = rest.substr(0, colon);
  return {asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host),
          static_cast<unsigned short>(std::stoi(rest.substr(colon + 1)))};
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

}  // namespace

struct Fleet::State {
  State(const FleetOptions& o, std::vector<Terminal>& t)
      : o(o), terminals(t), endpoint(Resolve(o.agent_url)), tls(ssl::context::tls_client) {
    SSL_CTX* ctx = tls.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    // Idle connections keep no read and write buffers: a large fleet holds many of them.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    tls.add_certificate_authority(asio::buffer(o.ca_pem));
    tls.set_verify_mode(ssl::verify_peer);
    for (int i = 0; i < o.max_connecting; ++i) slots.try_send(beast::error_code{});
  }

  const FleetOptions& o;
  std::vector<Terminal>& terminals;
  asio::ip::tcp::endpoint endpoint;
  ssl::context tls;
  asio::io_context ioc;
  Clock::time_point start, end, finished;
  // Slots for connects in flight: a waiter takes one, a finished connect puts it back. Waiters
  // queue in the channel instead of polling, which a large fleet would turn into a busy loop.
  asio::experimental::concurrent_channel<void(beast::error_code)> slots{
      ioc, static_cast<std::size_t>(o.max_connecting)};
  std::atomic<unsigned> next_source{0};
  std::atomic<std::uint64_t> pushed_version{0};
  std::atomic<Clock::rep> push_started{0};
  mutable std::mutex mutex;
  FleetStats stats;

  void Error() {
    std::lock_guard lock(mutex);
    ++stats.errors;
    if (stats.first_failure == Clock::time_point{}) {
      stats.first_failure = Clock::now();
      stats.reports_before_failure = stats.latency_ms.size();
    }
  }

  // A connected, handshaken stream presenting the terminal's certificate, or null. `began` is
  // when its turn among the --max-connecting came: waiting for that is this program's own queue.
  asio::awaitable<std::unique_ptr<Stream>> Connect(Terminal& t, Clock::time_point& began,
                                                   bool reporter) {
    beast::error_code ec;
    co_await slots.async_receive(redirect_error(use_awaitable, ec));
    began = Clock::now();
    if (began >= end) {
      // The run is over: what is still queued here does not start (a bounded run, even when the
      // collector or this machine fell behind).
      slots.try_send(beast::error_code{});
      co_return nullptr;
    }
    auto stream = std::make_unique<Stream>(co_await asio::this_coro::executor, tls);
    const bool identified = UseIdentity(stream->native_handle(), t, reporter);
    auto& socket = beast::get_lowest_layer(*stream).socket();
    if (identified && o.source_addresses > 0) {
      // Each source address has its own ephemeral ports towards the collector's one port.
      socket.open(asio::ip::tcp::v4(), ec);
      const int yes = 1;
      if (!ec && setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &yes,
                            sizeof yes) != 0) {
        ec = beast::error_code(errno, boost::system::system_category());
      }
      const unsigned index = next_source++ % static_cast<unsigned>(o.source_addresses);
      if (!ec) socket.bind({asio::ip::address_v4(0x7f000002u + index), 0}, ec);
    }
    if (identified && !ec) {
      beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(10));
      co_await beast::get_lowest_layer(*stream).async_connect(endpoint,
                                                              redirect_error(use_awaitable, ec));
      if (!ec) {
        co_await stream->async_handshake(ssl::stream_base::client,
                                         redirect_error(use_awaitable, ec));
      }
    }
    slots.try_send(beast::error_code{});
    if (!identified || ec) stream.reset();
    co_return stream;
  }

  // Presents the terminal's certificate; `keep` caches what was parsed in the terminal (only its
  // reporter does that: its long-poll runs on another strand).
  static bool UseIdentity(SSL* ssl, Terminal& t, bool keep) {
    std::shared_ptr<X509> cert = t.cert;
    std::shared_ptr<EVP_PKEY> key = t.key;
    if (!cert || !key) {
      const Identity& identity = *t.identity;
      const auto* cert_data = reinterpret_cast<const unsigned char*>(identity.cert_der.data());
      const auto* key_data = reinterpret_cast<const unsigned char*>(identity.key_der.data());
      cert.reset(d2i_X509(nullptr, &cert_data, static_cast<long>(identity.cert_der.size())),
                 X509_free);
      key.reset(d2i_AutoPrivateKey(nullptr, &key_data, static_cast<long>(identity.key_der.size())),
                EVP_PKEY_free);
      if (!cert || !key) return false;
      if (keep) {
        t.cert = cert;
        t.key = key;
      }
    }
    return SSL_use_certificate(ssl, cert.get()) == 1 && SSL_use_PrivateKey(ssl, key.get()) == 1;
  }

  static asio::awaitable<void> Close(std::unique_ptr<Stream>& stream) {
    if (!stream) co_return;
    beast::error_code ec;
    beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(2));
    co_await stream->async_shutdown(redirect_error(use_awaitable, ec));
    stream.reset();
  }

  asio::awaitable<void> Reporter(Terminal& t) {
    std::minstd_rand random(static_cast<unsigned>(std::hash<std::string>{}(t.identity->id)));
    std::uniform_real_distribution<double> unit(0, 1);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto next = start + Seconds(o.interval * unit(random));
    std::unique_ptr<Stream> stream;
    beast::flat_buffer buffer;
    const int whole = static_cast<int>(o.events);
    int events = whole + (unit(random) < o.events - whole ? 1 : 0);
    bool resend = false;  // the last report was not acknowledged: the same one again
    while (next < end) {
      timer.expires_at(next);
      co_await timer.async_wait(use_awaitable);
      if (!resend) {
        next += Seconds(o.interval * (1 + o.jitter * (2 * unit(random) - 1)));
        events = whole + (unit(random) < o.events - whole ? 1 : 0);
      }
      auto sent = Clock::now();
      const bool reused = stream != nullptr;
      if (Clock::now() >= end) break;
      if (!stream) stream = co_await Connect(t, sent, true);
      if (!stream && Clock::now() >= end) break;
      if (!stream) {
        Error();
        resend = true;
        next = Clock::now() + Seconds(1 + unit(random));
        continue;
      }
      http::request<http::string_body> req{http::verb::post, "/v1/reports", 11};
      req.set(http::field::host, "localhost");
      req.set(http::field::content_type, "application/json");
      const std::uint64_t sequence = t.sequence + 1;
      req.body() = ReportBody(sequence, events, sequence % 10 == 0);
      req.keep_alive(o.keep_alive);
      req.prepare_payload();
      beast::error_code ec;
      beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(30));
      co_await http::async_write(*stream, req, redirect_error(use_awaitable, ec));
      http::response<http::string_body> res;
      if (!ec) co_await http::async_read(*stream, buffer, res, redirect_error(use_awaitable, ec));
      buffer.clear();
      buffer.shrink_to_fit();
      if (ec && reused) {
        // The collector closed the kept-alive connection in the meantime: a new one, at once.
        stream.reset();
        resend = true;
        next = Clock::now();
        std::lock_guard lock(mutex);
        ++stats.stale;
        continue;
      }
      if (!ec && res.result_int() == 503) {
        resend = true;
        next = Clock::now() + std::chrono::seconds(1);
        if (!o.keep_alive) co_await Close(stream);
        std::lock_guard lock(mutex);
        ++stats.busy;
        continue;
      }
      std::uint64_t ack = 0;
      bool duplicate = false;
      if (!ec && res.result_int() == 200) {
        const json::value answer = json::parse(res.body(), ec);
        if (!ec) {
          ack = answer.at("ack").to_number<std::uint64_t>();
          duplicate = answer.at("duplicate").as_bool();
        }
      }
      if (ec || res.result_int() != 200) {
        stream.reset();
        Error();
        resend = true;
        next = Clock::now() + Seconds(1 + unit(random));
        continue;
      }
      const auto now = Clock::now();
      if (!o.keep_alive) co_await Close(stream);
      resend = false;
      if (duplicate && ack > sequence) {
        // The collector holds later reports than this terminal remembers (an earlier run that
        // ended without saving its sequences): carry on after them.
        t.sequence = ack;
        t.first_sequence = 0;
        resend = true;
        next = Clock::now();
      } else {
        t.sequence = sequence;
        if (t.first_sequence == 0) t.first_sequence = sequence;
      }
      std::lock_guard lock(mutex);
      if (duplicate) ++stats.duplicates;
      if (resend) continue;
      stats.latency_ms.push_back(Ms(now - sent));
      if (stats.first_failure != Clock::time_point{} && sent > stats.first_failure &&
          t.caught_up == Clock::time_point{}) {
        t.caught_up = now;
      }
      if (o.interval == 0) next = now;
    }
    co_await Close(stream);
  }

  asio::awaitable<void> Poller(Terminal& t) {
    std::minstd_rand random(static_cast<unsigned>(std::hash<std::string>{}(t.identity->id) + 1));
    std::uniform_real_distribution<double> unit(0, 1);
    asio::steady_timer pause(co_await asio::this_coro::executor);
    pause.expires_after(Seconds(o.ramp * unit(random)));
    co_await pause.async_wait(use_awaitable);
    std::unique_ptr<Stream> stream;
    beast::flat_buffer buffer;
    std::uint64_t after = 0;
    bool first = true;
    while (Clock::now() < end) {
      Clock::time_point began;
      if (!stream) stream = co_await Connect(t, began, false);
      if (!stream && Clock::now() >= end) break;
      if (!stream) {
        Error();
        pause.expires_after(Seconds(1 + unit(random)));
        co_await pause.async_wait(use_awaitable);
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(end - Clock::now());
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
      buffer.clear();
      buffer.shrink_to_fit();
      if (ec || (res.result_int() != 200 && res.result_int() != 204)) {
        Error();
        stream.reset();
        pause.expires_after(Seconds(unit(random)));
        co_await pause.async_wait(use_awaitable);
        continue;
      }
      first = false;
      if (res.result_int() != 200) continue;
      const json::value bundle = json::parse(res.body());
      const json::value policy = json::parse(bundle.at("policy").as_string());
      after = policy.at("version").to_number<std::uint64_t>();
      const std::uint64_t pushed = pushed_version;
      if (pushed != 0 && after >= pushed && t.applied_ms < 0) {
        t.applied_ms = Ms(Clock::now() - Clock::time_point(Clock::duration(push_started)));
      }
    }
    co_await Close(stream);
  }
};

Fleet::Fleet(const FleetOptions& options, std::vector<Terminal>& terminals)
    : state_(std::make_unique<State>(options, terminals)) {}

Fleet::~Fleet() = default;

void Fleet::Run() {
  State& s = *state_;
  s.start = Clock::now();
  s.end = s.start + std::chrono::seconds(s.o.duration);
  // One strand per connection: the I/O threads share the terminals.
  for (std::size_t i = 0; i < s.terminals.size(); ++i) {
    asio::co_spawn(asio::make_strand(s.ioc), s.Reporter(s.terminals[i]), asio::detached);
    if (i < static_cast<std::size_t>(s.o.pollers)) {
      asio::co_spawn(asio::make_strand(s.ioc), s.Poller(s.terminals[i]), asio::detached);
    }
  }
  std::vector<std::thread> threads;
  for (int i = 1; i < s.o.threads; ++i) threads.emplace_back([&s] { s.ioc.run(); });
  s.ioc.run();
  for (auto& thread : threads) thread.join();
  s.finished = Clock::now();
}

void Fleet::Pushing(std::uint64_t version) {
  state_->push_started = Clock::now().time_since_epoch().count();
  state_->pushed_version = version;
}

FleetStats Fleet::stats() const {
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

double Fleet::seconds() const {
  return std::chrono::duration<double>(state_->finished - state_->start).count();
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

}  // namespace mamori::bench
