#include "kernelgate/gateway/gateway_client.hpp"

#include "gateway/endpoint.hpp"
#include "kernelgate/error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <exception>
#include <optional>

namespace kernelgate {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

struct http_result {
  int status = 0;
  std::string reason;
  std::string body;
};

// Responses are JSON models; anything near this size is not one.
constexpr std::uint64_t max_body_bytes = 64u << 20;

template <class Stream>
asio::awaitable<http_result> exchange(Stream& stream, beast::tcp_stream& tcp, const detail::endpoint& ep,
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
    detail::rearm_quickack(tcp);
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
  co_return http_result{static_cast<int>(response.result_int()), std::string(response.reason()),
                        std::move(response.body())};
}

asio::awaitable<http_result> perform(const detail::endpoint* ep, http::request<http::string_body>* request) {
  auto executor = co_await asio::this_coro::executor;
  if (ep->tls) {
    detail::tls_stream stream(executor, *ep->tls);
    co_await detail::connect(beast::get_lowest_layer(stream), *ep);
    co_await detail::tls_handshake(stream, *ep);
    co_return co_await exchange(stream, beast::get_lowest_layer(stream), *ep, *request);
  }
  beast::tcp_stream stream(executor);
  co_await detail::connect(stream, *ep);
  co_return co_await exchange(stream, stream, *ep, *request);
}

}  // namespace

void from_json(const nlohmann::json& j, gateway_kernel& k) {
  k.id = j.at("id").get<std::string>();
  k.name = j.value("name", std::string());
  k.last_activity = j.value("last_activity", std::string());
  k.execution_state = j.value("execution_state", std::string());
  k.connections = j.value("connections", 0);
  k.model = j;
}

void from_json(const nlohmann::json& j, gateway_kernelspec& k) {
  k.name = j.at("name").get<std::string>();
  k.spec = j.value("spec", nlohmann::json::object());
  k.display_name = k.spec.value("display_name", k.name);
  k.language = k.spec.value("language", std::string());
}

void from_json(const nlohmann::json& j, gateway_kernelspecs& k) {
  k.default_name = j.value("default", std::string());
  k.specs.clear();
  for (const auto& [name, spec] : j.at("kernelspecs").items()) {
    (void)name;
    k.specs.push_back(spec.get<gateway_kernelspec>());
  }
  std::sort(k.specs.begin(), k.specs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
}

struct gateway_client::impl {
  gateway_options options;
  detail::endpoint ep;

  http_result request(http::verb method, const std::string& path, const std::optional<nlohmann::json>& body) const {
    http::request<http::string_body> req{method, ep.url.prefix + path, 11};
    req.set(http::field::host, ep.url.host_header());
    req.set(http::field::user_agent, "kernelgate");
    req.set(http::field::accept, "application/json");
    if (!ep.authorization.empty()) req.set(http::field::authorization, ep.authorization);
    for (const auto& [name, value] : ep.headers) req.set(name, value);
    req.keep_alive(false);
    if (body) {
      req.set(http::field::content_type, "application/json");
      req.body() = body->dump();
    }
    req.prepare_payload();

    asio::io_context io;
    std::optional<http_result> result;
    std::exception_ptr failure;
    asio::co_spawn(io, perform(&ep, &req), [&](std::exception_ptr e, http_result r) {
      if (e) {
        failure = e;
      } else {
        result = std::move(r);
      }
    });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*result);
  }

  // Sends a request and returns the body of a 2xx response; anything else becomes an http_status error.
  std::string call(http::verb method, const std::string& path, const std::optional<nlohmann::json>& body = {}) const {
    auto r = request(method, path, body);
    if (r.status >= 200 && r.status < 300) return std::move(r.body);
    std::string message = std::string(http::to_string(method)) + " " + ep.url.display() + path + ": " +
                          std::to_string(r.status) + " " + r.reason;
    if (const auto said = detail::server_message(r.body); !said.empty()) message += ": " + said;
    if (const auto hint = detail::status_hint(r.status); !hint.empty()) message += " (" + hint + ")";
    throw error(errc::http_status, r.status, message);
  }

  template <class T>
  T call_json(http::verb method, const std::string& path, const std::optional<nlohmann::json>& body = {}) const {
    const auto text = call(method, path, body);
    try {
      return nlohmann::json::parse(text).get<T>();
    } catch (const nlohmann::json::exception& e) {
      throw error(errc::malformed_message, std::string(http::to_string(method)) + " " + ep.url.display() + path +
                                               ": the response is not the expected JSON model (" + e.what() +
                                               "); is this a Jupyter server or kernel gateway?");
    }
  }
};

gateway_client::gateway_client(gateway_options options)
    : impl_(std::make_unique<impl>(impl{options, detail::make_endpoint(options)})) {}
gateway_client::gateway_client(gateway_client&&) noexcept = default;
gateway_client& gateway_client::operator=(gateway_client&&) noexcept = default;
gateway_client::~gateway_client() = default;

nlohmann::json gateway_client::api_info() const { return impl_->call_json<nlohmann::json>(http::verb::get, "/api"); }

gateway_kernelspecs gateway_client::kernelspecs() const {
  return impl_->call_json<gateway_kernelspecs>(http::verb::get, "/api/kernelspecs");
}

std::vector<gateway_kernel> gateway_client::list_kernels() const {
  return impl_->call_json<std::vector<gateway_kernel>>(http::verb::get, "/api/kernels");
}

gateway_kernel gateway_client::start_kernel(const gateway_start_options& options) const {
  nlohmann::json body = nlohmann::json::object();
  if (!options.name.empty()) body["name"] = options.name;
  if (!options.path.empty()) body["path"] = options.path;
  if (!options.env.empty()) body["env"] = options.env;
  return impl_->call_json<gateway_kernel>(http::verb::post, "/api/kernels", body);
}

gateway_kernel gateway_client::kernel(std::string_view id) const {
  detail::check_kernel_id(id);
  return impl_->call_json<gateway_kernel>(http::verb::get, "/api/kernels/" + std::string(id));
}

void gateway_client::delete_kernel(std::string_view id) const {
  detail::check_kernel_id(id);
  (void)impl_->call(http::verb::delete_, "/api/kernels/" + std::string(id));
}

void gateway_client::interrupt_kernel(std::string_view id) const {
  detail::check_kernel_id(id);
  (void)impl_->call(http::verb::post, "/api/kernels/" + std::string(id) + "/interrupt", nlohmann::json::object());
}

gateway_kernel gateway_client::restart_kernel(std::string_view id) const {
  detail::check_kernel_id(id);
  return impl_->call_json<gateway_kernel>(http::verb::post, "/api/kernels/" + std::string(id) + "/restart",
                                          nlohmann::json::object());
}

std::string gateway_client::url() const { return impl_->ep.url.display(); }

const gateway_options& gateway_client::options() const noexcept { return impl_->options; }

}  // namespace kernelgate
