// The only translation unit of the client that includes Beast and Asio.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <future>

#include "mamori/collector/client.h"

namespace mamori::collector {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr std::size_t kMaxResponseBytes = 64 << 20;

struct Endpoint {
  std::string host;
  std::string port;
  bool is_ip = false;
};

Endpoint ParseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (!std::string_view(url).starts_with(kScheme)) {
    throw ClientError("collector URL '" + url + "': must start with https://");
  }
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  if (rest.ends_with("/")) rest.remove_suffix(1);
  Endpoint e;
  std::string_view port;
  if (rest.starts_with("[")) {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) throw ClientError("collector URL '" + url + "': bad IPv6");
    e.host = std::string(rest.substr(1, close - 1));
    e.is_ip = true;
    rest.remove_prefix(close + 1);
    if (rest.starts_with(":"))
      port = rest.substr(1);
    else if (!rest.empty())
      throw ClientError("collector URL '" + url + "': unexpected path");
  } else {
    const std::size_t colon = rest.find(':');
    e.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
    boost::system::error_code ec;
    asio::ip::make_address(e.host, ec);
    e.is_ip = !ec;
  }
  unsigned value = 443;
  if (!port.empty()) {
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      throw ClientError("collector URL '" + url + "': bad port or unexpected path");
    }
  }
  if (e.host.empty()) throw ClientError("collector URL '" + url + "': no host");
  e.port = std::to_string(value);
  return e;
}

// Every step is asynchronous so that the stream's expiry bounds it: Beast's timeouts do not apply
// to blocking calls.
asio::awaitable<ClientResponse> Exchange(const ClientOptions& options, const Endpoint& endpoint,
                                         ssl::context& ctx, std::string_view method,
                                         std::string_view target, std::string_view body) {
  auto executor = co_await asio::this_coro::executor;
  beast::ssl_stream<beast::tcp_stream> stream(executor, ctx);
  SSL* ssl_handle = stream.native_handle();
  if (endpoint.is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), endpoint.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_handle, endpoint.host.c_str());
    SSL_set1_host(ssl_handle, endpoint.host.c_str());
  }
  const auto timeout = std::chrono::seconds(options.timeout_seconds);
  tcp::resolver resolver(executor);
  const auto results =
      co_await resolver.async_resolve(endpoint.host, endpoint.port, asio::use_awaitable);
  beast::get_lowest_layer(stream).expires_after(timeout);
  co_await beast::get_lowest_layer(stream).async_connect(results, asio::use_awaitable);
  co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);

  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, endpoint.host);
  req.set(http::field::user_agent, "mamori");
  req.set(http::field::connection, "close");
  if (!options.bearer_token.empty()) {
    req.set(http::field::authorization, "Bearer " + options.bearer_token);
  }
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = std::string(body);
  req.prepare_payload();
  co_await http::async_write(stream, req, asio::use_awaitable);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  auto& res = parser.get();
  ClientResponse out{static_cast<int>(res.result_int()), std::move(res.body()),
                     std::string(res[http::field::content_type]),
                     std::string(res[http::field::date]),
                     std::string(res[http::field::retry_after])};
  beast::error_code ignored;
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ignored));
  co_return out;
}

}  // namespace

ClientResponse HttpsRequest(const ClientOptions& options, std::string_view method,
                            std::string_view target, std::string_view body) {
  const Endpoint endpoint = ParseUrl(options.url);
  const std::string where = options.url + std::string(target);
  try {
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
    ctx.add_certificate_authority(asio::buffer(options.ca_pem));
    ctx.set_verify_mode(ssl::verify_peer);
    if (!options.cert_pem.empty()) {
      ctx.use_certificate_chain(asio::buffer(options.cert_pem));
      ctx.use_private_key(asio::buffer(options.key_pem), ssl::context::pem);
    }
    asio::io_context ioc;
    std::future<ClientResponse> result = asio::co_spawn(
        ioc, Exchange(options, endpoint, ctx, method, target, body), asio::use_future);
    ioc.run();
    return result.get();
  } catch (const boost::system::system_error& e) {
    throw ClientError(where + ": " + e.code().message());
  }
}

}  // namespace mamori::collector
