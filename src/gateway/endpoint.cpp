#include "gateway/endpoint.hpp"

#include "kernelgate/error.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace kernelgate::detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

std::string millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// Responses are JSON models; anything near this size is not one.
constexpr std::uint64_t max_body_bytes = 64u << 20;

template <class Stream>
asio::awaitable<http_response> exchange(Stream& stream, beast::tcp_stream& tcp, const endpoint& ep,
                                      http::request<http::string_body>& request) {
  const std::string what = std::string(request.method_string()) + " " + ep.url.display() +
                           std::string(request.target().substr(ep.url.prefix.size()));
  boost::system::error_code ec;
  tcp.expires_after(ep.request_timeout);
  co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body_bytes);
  if (!ec) {
    rearm_quickack(tcp);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  }
  tcp.expires_never();
  if (ec == beast::error::timeout) {
    throw error(errc::timeout, what + ": no complete response within " + std::to_string(ep.request_timeout.count()) +
                                   " ms; the gateway is overloaded or stuck (request_timeout sets the deadline)");
  }
  if (ec == http::error::body_limit) {
    throw error(errc::malformed_message, what + ": the response body is larger than 64 MiB; this is not a gateway");
  }
  if (ec) {
    throw error(errc::connection_failed, what + ": the connection failed before a complete response: " + ec.message());
  }
  auto& response = parser.get();
  co_return http_response{static_cast<int>(response.result_int()), std::string(response.reason()),
                        std::move(response.body())};
}

}  // namespace

std::string base_url::display() const {
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" + port + prefix;
}

std::string base_url::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + port;
}

base_url parse_base_url(std::string_view url) {
  // Messages never echo a URL that could carry a secret (user info or a query string).
  if (url.find('@') != std::string_view::npos) {
    throw error(errc::invalid_argument,
                "the gateway URL contains user information ('@'); pass credentials as the token option instead");
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    throw error(errc::invalid_argument,
                "the gateway URL has a query string or fragment; give only scheme://host:port/prefix and pass the "
                "token as the token option or KERNELGATE_GATEWAY_TOKEN");
  }
  const std::string text(url);
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    throw error(errc::invalid_argument,
                "gateway URL '" + text + "' has no scheme; write it as http://host:port or https://host:port");
  }
  const std::string scheme = lower(url.substr(0, scheme_end));
  base_url out;
  if (scheme == "https" || scheme == "wss") {
    out.tls = true;
  } else if (scheme != "http" && scheme != "ws") {
    throw error(errc::invalid_argument,
                "gateway URL '" + text + "' has scheme '" + scheme + "'; only http, https, ws and wss are supported");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      throw error(errc::invalid_argument, "gateway URL '" + text + "' has an unterminated IPv6 address");
    }
    out.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw error(errc::invalid_argument, "gateway URL '" + text + "' is malformed after ']'");
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) throw error(errc::invalid_argument, "gateway URL '" + text + "' has no host");
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";
  } else {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      throw error(errc::invalid_argument,
                  "gateway URL '" + text + "' has port '" + std::string(port) + "'; a port is a number from 1 to 65535");
    }
    out.port = std::to_string(value);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.prefix = std::string(path);
  return out;
}

void check_kernel_id(std::string_view id) {
  const bool ok = !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_';
  });
  if (!ok) {
    throw error(errc::invalid_argument, "'" + std::string(id.substr(0, 128)) +
                                            "' is not a kernel id; gateway kernel ids are UUIDs such as "
                                            "0b6f2a62-6f0e-4d5b-a6a4-3e1f3b8c4a10");
  }
}

endpoint make_endpoint(const gateway_options& options) {
  endpoint ep;
  ep.url = parse_base_url(options.url);
  std::string token;
  if (options.token) {
    token = *options.token;
  } else if (const char* env = std::getenv("KERNELGATE_GATEWAY_TOKEN"); env != nullptr) {
    token = env;
  }
  if (has_line_break(token)) {
    throw error(errc::invalid_argument, "the gateway token contains a line break; check how it was read");
  }
  if (!token.empty()) ep.authorization = "token " + token;
  for (const auto& [name, value] : options.headers) {
    if (name.empty() || has_line_break(name) || has_line_break(value) || name.find(':') != std::string::npos) {
      throw error(errc::invalid_argument,
                  "extra header '" + name.substr(0, 64) + "' is not a valid HTTP header (empty name, ':' or a line break)");
    }
    if (lower(name) == "authorization" && !ep.authorization.empty()) {
      throw error(errc::invalid_argument,
                  "an extra Authorization header and a token were both given; pass one of them");
    }
    ep.headers.emplace_back(name, value);
  }
  if (options.connect_timeout <= 0ms || options.request_timeout <= 0ms) {
    throw error(errc::invalid_argument, "gateway connect and request timeouts must be positive");
  }
  if (options.connect_retries < 0 || options.connect_retries > 100 || options.retry_backoff < 0ms) {
    throw error(errc::invalid_argument, "gateway connect_retries must be 0..100 and retry_backoff not negative");
  }
  ep.connect_timeout = options.connect_timeout;
  ep.request_timeout = options.request_timeout;
  ep.connect_retries = options.connect_retries;
  ep.retry_backoff = options.retry_backoff;
  ep.verify_peer = options.tls == tls_verification::verify;
  if (ep.url.tls) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (ep.verify_peer) {
      ctx->set_verify_mode(asio::ssl::verify_peer);
      if (!options.ca_file.empty()) {
        ctx->load_verify_file(options.ca_file.string(), ec);
        if (ec) {
          throw error(errc::invalid_argument, "cannot use CA file '" + options.ca_file.string() + "': " + ec.message() +
                                                  "; it must be a readable PEM file of certificates");
        }
      } else {
        ctx->set_default_verify_paths(ec);
      }
    } else {
      ctx->set_verify_mode(asio::ssl::verify_none);
    }
    ep.tls = std::move(ctx);
  }
  return ep;
}

void set_nodelay(beast::tcp_stream& stream) noexcept {
  boost::system::error_code ec;
  stream.socket().set_option(asio::ip::tcp::no_delay(true), ec);
}

void rearm_quickack(beast::tcp_stream& stream) noexcept {
#ifdef TCP_QUICKACK
  const int one = 1;
  (void)::setsockopt(stream.socket().native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
  (void)stream;
#endif
}

asio::awaitable<void> connect(beast::tcp_stream& stream, const endpoint& ep) {
  auto executor = co_await asio::this_coro::executor;
  const std::string where = ep.url.display();
  auto pause = ep.retry_backoff;
  for (int attempt = 0;; ++attempt) {
    boost::system::error_code ec;
    asio::ip::tcp::resolver resolver(executor);
    asio::steady_timer resolve_deadline(executor);
    resolve_deadline.expires_after(ep.connect_timeout);
    resolve_deadline.async_wait([&resolver](boost::system::error_code wait_ec) {
      if (!wait_ec) resolver.cancel();
    });
    auto results = co_await resolver.async_resolve(ep.url.host, ep.url.port, asio::redirect_error(asio::use_awaitable, ec));
    resolve_deadline.cancel();
    if (ec == asio::error::operation_aborted) {
      throw error(errc::timeout, "could not resolve the gateway host of " + where + " within " + millis(ep.connect_timeout));
    }
    if (ec) {
      throw error(errc::connection_failed,
                  "could not resolve the gateway host of " + where + ": " + ec.message() + "; check the URL");
    }
    stream.expires_after(ep.connect_timeout);
    co_await stream.async_connect(results, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      stream.expires_never();
      set_nodelay(stream);
      co_return;
    }
    if (ec == beast::error::timeout) {
      throw error(errc::timeout, "could not connect to the gateway at " + where + " within " +
                                     millis(ep.connect_timeout) + "; is the host reachable?");
    }
    if (attempt >= ep.connect_retries) {
      throw error(errc::connection_failed, "could not connect to the gateway at " + where + " (" +
                                               std::to_string(attempt + 1) + " attempts): " + ec.message() +
                                               "; is the gateway running there?");
    }
    asio::steady_timer wait(executor);
    wait.expires_after(pause);
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    pause *= 2;
  }
}

asio::awaitable<void> tls_handshake(tls_stream& stream, const endpoint& ep) {
  SSL* ssl = stream.native_handle();
  const std::string& host = ep.url.host;
  if (is_ip_literal(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set1_host(ssl, host.c_str());
  }
  boost::system::error_code ec;
  beast::get_lowest_layer(stream).expires_after(ep.connect_timeout);
  co_await stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
  beast::get_lowest_layer(stream).expires_never();
  if (!ec) co_return;
  const std::string where = ep.url.display();
  if (ec == beast::error::timeout) {
    throw error(errc::timeout, "the TLS handshake with " + where + " did not finish within " + millis(ep.connect_timeout));
  }
  const long verify = SSL_get_verify_result(ssl);
  if (ep.verify_peer && verify != X509_V_OK) {
    throw error(errc::tls_error, "the certificate of " + where + " was not accepted: " +
                                     X509_verify_cert_error_string(verify) +
                                     "; give the CA that signed it as ca_file (--ca-file), or turn verification off "
                                     "explicitly (--insecure)");
  }
  throw error(errc::tls_error, "the TLS handshake with " + where + " failed: " + ec.message() +
                                   "; is the server speaking HTTPS on that port?");
}

std::string server_message(std::string_view body) {
  const auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object()) {
    for (const char* key : {"message", "reason"}) {
      if (auto it = parsed.find(key); it != parsed.end() && it->is_string() && !it->get<std::string>().empty()) {
        return it->get<std::string>();
      }
    }
  }
  std::string text(body.substr(0, 200));
  std::replace_if(text.begin(), text.end(), [](unsigned char c) { return c < 0x20; }, ' ');
  return text;
}

std::string status_hint(int status) {
  if (status == 401 || status == 403) {
    return "check the gateway token (the token option, --token or KERNELGATE_GATEWAY_TOKEN)";
  }
  if (status == 404) return "no such kernel or endpoint: the kernel may have been shut down or culled, or the URL prefix is wrong";
  if (status >= 500) return "the gateway failed; its log says why";
  return {};
}

asio::awaitable<http_response> http_request(const endpoint& ep, http::request<http::string_body> request) {
  auto executor = co_await asio::this_coro::executor;
  if (ep.tls) {
    tls_stream stream(executor, *ep.tls);
    co_await connect(beast::get_lowest_layer(stream), ep);
    co_await tls_handshake(stream, ep);
    co_return co_await exchange(stream, beast::get_lowest_layer(stream), ep, request);
  }
  beast::tcp_stream stream(executor);
  co_await connect(stream, ep);
  co_return co_await exchange(stream, stream, ep, request);
}


http::request<http::string_body> make_request(const endpoint& ep, http::verb method, std::string target,
                                              std::optional<std::string> json_body) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, ep.url.host_header());
  req.set(http::field::user_agent, "kernelgate");
  req.set(http::field::accept, "application/json");
  if (!ep.authorization.empty()) req.set(http::field::authorization, ep.authorization);
  for (const auto& [name, value] : ep.headers) req.set(name, value);
  req.keep_alive(false);
  if (json_body) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(*json_body);
  }
  req.prepare_payload();
  return req;
}

error status_error(const std::string& what, const http_response& r) {
  std::string message = what + ": " + std::to_string(r.status) + " " + r.reason;
  if (const auto said = server_message(r.body); !said.empty()) message += ": " + said;
  if (const auto hint = status_hint(r.status); !hint.empty()) message += " (" + hint + ")";
  return error(errc::http_status, r.status, message);
}

}  // namespace kernelgate::detail
