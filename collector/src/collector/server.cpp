// The only translation unit of the collector that includes Beast and Asio: it compiles slowly, so
// request handling lives in api.cpp and admin_api.cpp.
#include "mamori/collector/server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "collector/log.h"
#include "collector/request_workers.h"
#include "mamori/policy/text.h"

namespace mamori::collector {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Stream = beast::ssl_stream<beast::tcp_stream>;
using asio::redirect_error;
using asio::use_awaitable;

constexpr std::chrono::seconds kWriteTimeout{30};
constexpr std::chrono::seconds kShutdownTimeout{2};
constexpr std::chrono::seconds kDrainTimeout{2};
constexpr std::size_t kMaxDrainBytes = 64 << 20;

std::string NameField(X509_NAME* name, int nid) {
  char buffer[256] = {};
  const int n = X509_NAME_get_text_by_NID(name, nid, buffer, sizeof buffer);
  return n < 0 ? std::string() : std::string(buffer, static_cast<std::size_t>(n));
}

// The identity of a peer whose certificate the handshake verified against the CA.
std::optional<PeerCertificate> PeerOf(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) return std::nullopt;
  PeerCertificate peer;
  peer.common_name = NameField(X509_get_subject_name(cert), NID_commonName);
  peer.organizational_unit = NameField(X509_get_subject_name(cert), NID_organizationalUnitName);
  peer.fingerprint = policy::HexEncode(std::span<const unsigned char>(digest, length));
  return peer;
}

void Configure(ssl::context& ctx, const ServerCredentials& credentials, const char* session_id) {
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
  ctx.use_certificate_chain(asio::buffer(credentials.cert_pem));
  ctx.use_private_key(asio::buffer(credentials.key_pem), ssl::context::pem);
  SSL_CTX_set_session_id_context(ctx.native_handle(),
                                 reinterpret_cast<const unsigned char*>(session_id),
                                 static_cast<unsigned int>(std::strlen(session_id)));
}

// RFC 9110 IMF-fixdate: agents measure their clock skew against it.
std::string HttpDate() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char out[40];
  std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return out;
}

tcp::endpoint Endpoint(const std::string& address, std::uint16_t port) {
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address, ec);
  if (ec) throw std::runtime_error("listen address '" + address + "' is not an IP address");
  return {ip, port};
}

// A policy long-poll waiting for a push. Its timer and flag belong to the session's strand: a wake
// from another thread is posted there, so it either finds the wait begun and cancels it, or sets
// `woken` before the session looks at it and waits at all.
struct PolicyWaiter {
  explicit PolicyWaiter(const asio::any_io_executor& strand)
      : timer(strand, asio::steady_timer::time_point::max()) {}
  asio::steady_timer timer;
  bool woken = false;
};

}  // namespace

struct Server::Impl {
  Impl(Api& a, Metrics& m, const ServerOptions& o)
      : api(a), metrics(m), options(o), ioc(std::max(1, o.io_threads)) {}

  Api& api;
  Metrics& metrics;
  ServerOptions options;
  // Every session runs on a strand of its own, so its handlers never run at once; the sessions
  // themselves run on `options.io_threads` threads.
  asio::io_context ioc;
  ssl::context agent_ctx{ssl::context::tls_server};
  ssl::context admin_ctx{ssl::context::tls_server};
  tcp::acceptor agent_acceptor{asio::make_strand(ioc)};
  tcp::acceptor admin_acceptor{asio::make_strand(ioc)};
  std::mutex waiters_mutex;
  std::set<std::shared_ptr<PolicyWaiter>> waiters;
  // Last, so it goes first: its threads post their answers into `ioc`.
  std::unique_ptr<RequestWorkers> workers;

  // A request on its way through the workers; its answer comes back on the session's strand.
  struct Pending {
    explicit Pending(const asio::any_io_executor& strand)
        : timer(strand, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    std::optional<HttpResponse> response;
  };

  void Open(tcp::acceptor& acceptor, const tcp::endpoint& endpoint, const char* name) {
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error(std::string(name) + " listener " + endpoint.address().to_string() +
                               ":" + std::to_string(endpoint.port()) + ": " + ec.message());
    }
    const auto bound = acceptor.local_endpoint();
    Log("info", "listening",
        {{"listener", name},
         {"address", bound.address().to_string()},
         {"port", static_cast<int>(bound.port())}});
  }

  // Callable from any thread.
  void WakePolicyWaiters() {
    std::lock_guard lock(waiters_mutex);
    for (const auto& waiter : waiters) {
      asio::post(waiter->timer.get_executor(), [waiter] {
        waiter->woken = true;
        waiter->timer.cancel();
      });
    }
  }

  asio::awaitable<HttpResponse> LongPoll(const HttpRequest& request, Stream& stream) {
    PolicyPoll poll = api.PollPolicy(request);
    if (poll.response) co_return *poll.response;
    const auto deadline = std::chrono::steady_clock::now() + poll.wait;
    beast::get_lowest_layer(stream).expires_never();
    metrics.AddLongPolls(1);
    auto waiter = std::make_shared<PolicyWaiter>(co_await asio::this_coro::executor);
    {
      std::lock_guard lock(waiters_mutex);
      waiters.insert(waiter);
    }
    // Registered before looking at the store again: a push stored from now on wakes this poll.
    poll = api.PollPolicy(request);
    while (!poll.response && std::chrono::steady_clock::now() < deadline) {
      if (!waiter->woken) {
        waiter->timer.expires_at(deadline);
        boost::system::error_code ec;
        co_await waiter->timer.async_wait(redirect_error(use_awaitable, ec));
      }
      waiter->woken = false;
      // Woken early by a push, or at the deadline: either way, look again (the terminal may also
      // have been revoked meanwhile).
      poll = api.PollPolicy(request);
    }
    {
      std::lock_guard lock(waiters_mutex);
      waiters.erase(waiter);
    }
    metrics.AddLongPolls(-1);
    co_return poll.response ? *poll.response : HttpResponse{204, "", "application/json"};
  }

  asio::awaitable<HttpResponse> Offload(bool agent, HttpRequest request) {
    auto pending = std::make_shared<Pending>(co_await asio::this_coro::executor);
    const bool queued =
        workers->Submit(agent, std::move(request), [pending](HttpResponse response) {
          asio::post(pending->timer.get_executor(),
                     [pending, response = std::move(response)]() mutable {
                       pending->response = std::move(response);
                       pending->timer.cancel();
                     });
        });
    if (!queued) co_return workers->Busy();
    while (!pending->response) {
      boost::system::error_code ec;
      co_await pending->timer.async_wait(redirect_error(use_awaitable, ec));
    }
    co_return std::move(*pending->response);
  }

  asio::awaitable<HttpResponse> Handle(bool agent, HttpRequest request, Stream& stream) {
    if (!agent || !Api::IsPolicyPoll(request))
      co_return co_await Offload(agent, std::move(request));
    try {
      co_return co_await LongPoll(request, stream);
    } catch (const std::exception& e) {
      Log("error", "request failed", {{"target", request.target}, {"error", e.what()}});
    }
    co_return ErrorResponse(500, "internal error; see the collector's log");
  }

  // Reads and discards what the client is still sending after a refused request, for a short
  // while: closing a socket with unread data resets the connection, and the client, still writing
  // its body, would never read the answer.
  asio::awaitable<void> Drain(Stream& stream) {
    beast::get_lowest_layer(stream).expires_after(kDrainTimeout);
    std::vector<char> sink(64 * 1024);
    std::size_t drained = 0;
    boost::system::error_code ec;
    while (!ec && drained < kMaxDrainBytes) {
      drained +=
          co_await stream.async_read_some(asio::buffer(sink), redirect_error(use_awaitable, ec));
    }
  }

  asio::awaitable<void> Session(tcp::socket socket, bool agent) {
    Stream stream(std::move(socket), agent ? agent_ctx : admin_ctx);
    const char* listener = agent ? "agent" : "admin";
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(
        std::chrono::seconds(options.handshake_timeout_seconds));
    co_await stream.async_handshake(ssl::stream_base::server, redirect_error(use_awaitable, ec));
    if (ec) {
      Log("info", "handshake failed", {{"listener", listener}, {"error", ec.message()}});
      co_return;
    }
    const std::optional<PeerCertificate> peer = PeerOf(stream.native_handle());
    const std::size_t body_limit =
        agent ? options.agent_max_body_bytes : options.admin_max_body_bytes;

    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(body_limit);
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      beast::get_lowest_layer(stream).expires_after(
          std::chrono::seconds(options.read_timeout_seconds));
      co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));

      HttpResponse response;
      bool close = true;
      if (ec == http::error::body_limit) {
        response =
            ErrorResponse(413, "request body larger than " + std::to_string(body_limit) + " bytes");
      } else if (ec == http::error::header_limit) {
        response = ErrorResponse(400, "request header larger than " +
                                          std::to_string(options.max_header_bytes) + " bytes");
      } else if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message) {
        response = ErrorResponse(400, "malformed HTTP request: " + ec.message());
      } else if (ec) {
        break;  // the peer went away or timed out: nobody to answer
      } else {
        auto& req = parser.get();
        HttpRequest request;
        request.method = std::string(req.method_string());
        request.target = std::string(req.target());
        request.authorization = std::string(req[http::field::authorization]);
        request.body = std::move(req.body());
        request.peer = peer;
        close = !req.keep_alive();
        response = co_await Handle(agent, std::move(request), stream);
      }
      metrics.CountResponse(listener, response.status);

      http::response<http::string_body> res{static_cast<http::status>(response.status), 11};
      res.set(http::field::server, "mamori-collector");
      res.set(http::field::date, HttpDate());
      if (!response.body.empty()) res.set(http::field::content_type, response.content_type);
      if (response.retry_after_seconds > 0) {
        res.set(http::field::retry_after, std::to_string(response.retry_after_seconds));
      }
      res.set(http::field::cache_control, "no-store");
      res.body() = std::move(response.body);
      res.keep_alive(!close);
      res.prepare_payload();
      beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
      co_await http::async_write(stream, res, redirect_error(use_awaitable, ec));
      if (ec) break;
      if (close) {
        if (!parser.is_done()) co_await Drain(stream);
        break;
      }
    }
    beast::get_lowest_layer(stream).expires_after(kShutdownTimeout);
    co_await stream.async_shutdown(redirect_error(use_awaitable, ec));
  }

  asio::awaitable<void> Accept(tcp::acceptor& acceptor, bool agent) {
    for (;;) {
      boost::system::error_code ec;
      // Each connection gets a strand of its own; the coroutine runs on it.
      tcp::socket socket =
          co_await acceptor.async_accept(asio::make_strand(ioc), redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) continue;
      auto strand = socket.get_executor();
      asio::co_spawn(strand, Session(std::move(socket), agent), asio::detached);
    }
  }
};

Server::Server(Api& api, Metrics& metrics, const ServerOptions& options,
               const ServerCredentials& credentials, const std::string& ca_pem,
               const std::string& admin_ca_pem)
    : impl_(std::make_unique<Impl>(api, metrics, options)) {
  Configure(impl_->agent_ctx, credentials, "mamori-agent");
  Configure(impl_->admin_ctx, credentials, "mamori-admin");
  // A certificate, when sent, must chain to the CA; enrollment is the one request without one.
  impl_->agent_ctx.add_certificate_authority(asio::buffer(ca_pem));
  impl_->agent_ctx.set_verify_mode(ssl::verify_peer);
  // Admin client certificates chain to the admin CA alone; without one, a bearer token is needed.
  if (!admin_ca_pem.empty()) {
    impl_->admin_ctx.add_certificate_authority(asio::buffer(admin_ca_pem));
    impl_->admin_ctx.set_verify_mode(ssl::verify_peer);
  }
  // Policies are stored on a worker thread; each waiter is woken on its own session's strand.
  api.OnPolicyStored([impl = impl_.get()] { impl->WakePolicyWaiters(); });
  impl_->workers = std::make_unique<RequestWorkers>(api, WorkerOptions{});
}

Server::~Server() = default;

void Server::Bind() {
  impl_->Open(impl_->agent_acceptor,
              Endpoint(impl_->options.agent_address, impl_->options.agent_port), "agent");
  impl_->Open(impl_->admin_acceptor,
              Endpoint(impl_->options.admin_address, impl_->options.admin_port), "admin");
}

std::uint16_t Server::agent_port() const { return impl_->agent_acceptor.local_endpoint().port(); }
std::uint16_t Server::admin_port() const { return impl_->admin_acceptor.local_endpoint().port(); }

void Server::WakePolicyWaiters() { impl_->WakePolicyWaiters(); }

void Server::Run() {
  Impl& impl = *impl_;
  asio::signal_set signals(impl.ioc, SIGINT, SIGTERM);
  signals.async_wait([&impl](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    Log("info", "stopping", {{"signal", signal}});
    // Every I/O thread returns; the acceptors close with the server, after the threads are gone.
    impl.ioc.stop();
  });
  asio::co_spawn(impl.agent_acceptor.get_executor(), impl.Accept(impl.agent_acceptor, true),
                 asio::detached);
  asio::co_spawn(impl.admin_acceptor.get_executor(), impl.Accept(impl.admin_acceptor, false),
                 asio::detached);
  std::vector<std::thread> threads;
  for (int i = 1; i < impl.options.io_threads; ++i)
    threads.emplace_back([&impl] { impl.ioc.run(); });
  impl.ioc.run();
  for (std::thread& t : threads) t.join();
}

}  // namespace mamori::collector
