#ifndef KERNELGATE_SRC_GATEWAY_ENDPOINT_HPP
#define KERNELGATE_SRC_GATEWAY_ENDPOINT_HPP

// What the REST client and the WebSocket transport share: the parsed base URL, the headers every
// request carries, the TLS context, and opening a (TLS) connection within a deadline with bounded
// retries. Private: Boost and OpenSSL types stay here.

#include "kernelgate/error.hpp"
#include "kernelgate/gateway/gateway_client.hpp"

#include <utility>  // before Asio: its awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kernelgate::detail {

/// A base URL split into its parts. `prefix` is "" or starts with '/' and has no trailing '/'.
struct base_url {
  bool tls = false;
  std::string host;  ///< without IPv6 brackets
  std::string port;
  std::string prefix;

  /// scheme://host:port/prefix, for messages.
  [[nodiscard]] std::string display() const;
  /// The Host header value.
  [[nodiscard]] std::string host_header() const;
};

/// Parses http(s):// and ws(s):// URLs. @throws error(errc::invalid_argument).
[[nodiscard]] base_url parse_base_url(std::string_view url);

/// Kernel ids are UUIDs; anything that could change the request path is refused.
/// @throws error(errc::invalid_argument).
void check_kernel_id(std::string_view id);

/// Everything needed to open a connection to the gateway and authenticate on it.
struct endpoint {
  base_url url;
  std::string authorization;  ///< "token <t>" or empty; never put in messages
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<boost::asio::ssl::context> tls;  ///< null for plain http
  bool verify_peer = true;
  std::chrono::milliseconds connect_timeout{};
  std::chrono::milliseconds request_timeout{};
  int connect_retries = 0;
  std::chrono::milliseconds retry_backoff{};
};

/// Validates options and builds the endpoint (reads KERNELGATE_GATEWAY_TOKEN when no token is given).
/// @throws error(errc::invalid_argument).
[[nodiscard]] endpoint make_endpoint(const gateway_options& options);

using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

/// Resolves and connects within the connect deadline, retrying refused or unreachable connections
/// up to `connect_retries` times with doubling pauses. Sets TCP_NODELAY.
/// @throws error(errc::connection_failed) or error(errc::timeout).
boost::asio::awaitable<void> connect(boost::beast::tcp_stream& stream, const endpoint& ep);

/// Prepares the TLS stream for this host (SNI, host-name or IP check) and runs the handshake
/// within the connect deadline. @throws error(errc::tls_error) saying why verification failed.
boost::asio::awaitable<void> tls_handshake(tls_stream& stream, const endpoint& ep);

/// Linux delays ACKs by up to 40 ms, and a server that sends small frames with Nagle's algorithm on
/// waits for them; TCP_QUICKACK is not sticky, so it is set again after every read.
void rearm_quickack(boost::beast::tcp_stream& stream) noexcept;
void set_nodelay(boost::beast::tcp_stream& stream) noexcept;

/// A whole HTTP response.
struct http_response {
  int status = 0;
  std::string reason;
  std::string body;
};

/// A request with the endpoint's Host, token and extra headers; `json_body` sets the content type.
[[nodiscard]] boost::beast::http::request<boost::beast::http::string_body> make_request(
    const endpoint& ep, boost::beast::http::verb method, std::string target, std::optional<std::string> json_body);

/// Opens a connection (see connect/tls_handshake), sends the request and reads the response within
/// the request deadline. Any status is returned; only transport failures throw (connection_failed,
/// timeout, tls_error, malformed_message for an oversized body).
boost::asio::awaitable<http_response> http_request(const endpoint& ep,
                                                   boost::beast::http::request<boost::beast::http::string_body> request);

/// The http_status error for a response that is not a success: `what` (method and URL), the status,
/// the server's message and a hint.
[[nodiscard]] error status_error(const std::string& what, const http_response& response);

/// The server's message from a jupyter-server error body ({"message": ..., "reason": ...}), or the
/// start of the body when it is not JSON.
[[nodiscard]] std::string server_message(std::string_view body);

/// What a status means for the user, as a hint appended to messages ("check the token", ...).
[[nodiscard]] std::string status_hint(int status);

}  // namespace kernelgate::detail

#endif
